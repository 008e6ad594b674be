// What a primitive does with the tasks still queued on it when it is destroyed: they can never
// be woken, so each is a lost wake-up (reported; by the runtime's policy completed with
// errc::lost_wakeup, or left waiting). Internal; each awaiter befriends fail_lost_waiters.
#pragma once

#include <weir/core/completion.hpp>
#include <weir/core/detail/ilist.hpp>
#include <weir/core/error.hpp>

namespace weir::detail {

template <class Awaiter>
void fail_lost_waiters(ilist& queue, const char* what) noexcept {
  while (ilist_node* n = queue.front()) {
    auto* a = static_cast<Awaiter*>(n);
    if (report_lost_waiter(a->w_, what))
      Awaiter::on_cancel(a, make_error_code(errc::lost_wakeup));  // unlinks and wakes
    else
      n->unlink();
  }
}

}  // namespace weir::detail
