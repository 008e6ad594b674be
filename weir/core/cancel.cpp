#include <weir/core/cancel.hpp>

namespace weir {

cancel_state::cancel_state(cancel_state* parent) noexcept { attach(parent); }

void cancel_state::attach(cancel_state* parent) noexcept {
  if (!parent) return;
  if (parent->cancelled()) {
    cancelled_ = true;
    reason_ = parent->reason();
    return;
  }
  parent_link_.ctx = this;
  parent_link_.fn = [](void* self, std::error_code reason) {
    static_cast<cancel_state*>(self)->cancel(reason);
  };
  parent->subscribe(parent_link_);
}

cancel_state::~cancel_state() {
  parent_link_.unlink();
  callbacks_.clear();
}

void cancel_state::cancel(std::error_code reason) noexcept {
  if (cancelled_) return;
  cancelled_ = true;
  reason_ = reason;
  // Pop one at a time: a callback may unsubscribe others (or destroy their owners).
  while (auto* n = callbacks_.pop_front()) {
    auto* cb = static_cast<detail::cancel_callback*>(n);
    cb->fn(cb->ctx, reason);
  }
}

}  // namespace weir
