// The stack process's end of the shared-memory rings: a link_tx that copies each frame into
// the TX ring (waiting while it is full: the backpressure every layer above inherits), and
// the loop that hands the RX ring's frames to the stack. Waits are named in task dumps
// ("tx ring full, 256 slots"); nothing polls while idle.
#pragma once

#include "layers.hpp"
#include "shm_ring.hpp"

#include <weir/io/handle.hpp>
#include <weir/sync/notify.hpp>

namespace netstack {

// Reads the 8-byte counter of an eventfd through the shard's reactor: waits until the other
// process wrote it. `label` names the wait in dumps.
weir::task<weir::result<void>> await_eventfd(weir::io::handle& efd, const char* label);

class ring_link final : public link_tx {
 public:
  // The stack's view of `region` (TX: producer, RX: consumer); `tx` counts the link layer.
  ring_link(shm_region& region, tx_stats& tx);

  weir::task<weir::result<void>> send_frame(packet& p) override;
  // Feeds RX frames to `s` until cancelled (within the run's cooperative budget).
  weir::task<> receive_loop(stack& s);
  // Wakes the driver for what send_frame() published, once per burst: send_frame() publishes
  // each frame and arms this task, which runs when the sender suspends or yields (as a NIC
  // driver rings its doorbell after a batch). Until cancelled.
  weir::task<> doorbell();
  // Frames in the TX ring the driver has not taken yet.
  std::size_t tx_pending() const noexcept { return tx_.used(); }

 private:
  shm_ring tx_, rx_;
  tx_stats& st_;
  weir::io::handle tx_space_, rx_data_;   // what this side waits on (dups of the region's fds)
  int tx_data_signal_, rx_space_signal_;  // what it wakes the driver with
  bool space_waiter_ = false;             // one sender waits on the eventfd, the others here:
  weir::notify space_;
  bool doorbell_armed_ = false;  // frames published since the last look at the driver
  weir::notify doorbell_;
  void ring_doorbell() noexcept {
    doorbell_armed_ = false;
    if (tx_.consumer_asleep()) signal_eventfd(tx_data_signal_);
  }
  char full_label_[48], behind_label_[64];
};

}  // namespace netstack
