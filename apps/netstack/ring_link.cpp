#include "ring_link.hpp"

#include <weir/core/time.hpp>

#include <unistd.h>

#include <cstdio>

namespace netstack {

using weir::result;
using weir::task;
using weir::unexpected;

task<result<void>> await_eventfd(weir::io::handle& efd, const char* label) {
  std::uint64_t value = 0;
  weir::io::op_awaiter read(efd, weir::detail::io_op::kind::read);
  read.op().buf = &value;
  read.op().len = sizeof value;
  read.labelled(label);
  auto r = co_await read;
  if (!r) co_return unexpected(r.error());
  co_return result<void>{};
}

ring_link::ring_link(shm_region& region, tx_stats& tx)
    : tx_(region.tx()),
      rx_(region.rx()),
      st_(tx),
      tx_space_(::dup(region.fds().tx_space), false),
      rx_data_(::dup(region.fds().rx_data), false),
      tx_data_signal_(region.fds().tx_data),
      rx_space_signal_(region.fds().rx_space) {
  std::snprintf(full_label_, sizeof full_label_, "tx ring full, %u slots", tx_.slots());
  std::snprintf(behind_label_, sizeof behind_label_,
                "tx ring full, %u slots (behind another sender)", tx_.slots());
  space_.set_label(behind_label_);
  doorbell_.set_label("tx ring: nothing new to announce");
}

task<result<void>> ring_link::send_frame(packet& p) {
  counting k(st_, p);
  for (;;) {
    if (std::byte* slot = tx_.try_reserve()) {
      std::memcpy(slot, p.data(), p.len);
      tx_.publish(p.len);
      if (!doorbell_armed_) {
        doorbell_armed_ = true;
        doorbell_.notify_one();
      }
      k.done(true);
      // A slot taken at once is an I/O that completed at once: it spends the run's cooperative
      // budget, so a sender the ring never stops still lets the shard's other tasks run.
      if (!weir::detail::tl_shard->coop_proceed()) co_await weir::yield_now{};
      co_return result<void>{};
    }
    p.waited = true;
    if (doorbell_armed_) ring_doorbell();  // the driver must be awake to make room
    if (space_waiter_) {
      auto woken = co_await space_.notified();
      if (!woken) {
        k.done(false);
        co_return unexpected(woken.error());
      }
      continue;
    }
    if (tx_.spin_for_space(shm_ring::spins_before_sleep)) continue;
    if (!tx_.begin_wait_space()) continue;
    space_waiter_ = true;
    auto r = co_await await_eventfd(tx_space_, full_label_);
    space_waiter_ = false;
    tx_.end_wait_space();
    space_.notify_all();
    if (!r) {
      k.done(false);
      co_return unexpected(r.error());
    }
  }
}

task<> ring_link::doorbell() {
  for (;;) {
    auto armed = co_await doorbell_.notified();
    if (!armed) co_return;
    if (doorbell_armed_) ring_doorbell();
  }
}

task<> ring_link::receive_loop(stack& s) {
  unsigned unreported = 0;  // slots freed since the last look at the driver (one fence per 32)
  auto report = [&] {
    unreported = 0;
    if (rx_.producer_asleep()) signal_eventfd(rx_space_signal_);
  };
  for (;;) {
    auto f = rx_.try_peek();
    if (!f.empty()) {
      s.receive(f);
      rx_.release_only();
      if (++unreported == 32) report();
      if (!weir::detail::tl_shard->coop_proceed()) {  // (as above)
        if (unreported) report();
        co_await weir::yield_now{};
      }
      continue;
    }
    if (unreported) report();
    if (rx_.spin_for_data(shm_ring::spins_before_sleep)) continue;
    if (!rx_.begin_wait_data()) continue;
    auto r = co_await await_eventfd(rx_data_, "rx ring empty (idle)");
    rx_.end_wait_data();
    if (!r) co_return;
  }
}

}  // namespace netstack
