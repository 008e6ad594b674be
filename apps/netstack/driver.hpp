// netstack's driver process: owns the "NIC" and moves Ethernet frames between it and the stack
// process through the shared-memory rings (shm_ring.hpp). The NIC is a TAP device (read and
// written through weir's reactor), or none: `null` takes every TX frame and drops it (counted),
// `loopback` turns each TX frame around into the RX ring (benchmarks).
//
// Backpressure: the driver takes a TX frame only when the NIC accepted the previous one (and,
// with a delay, after it); it reads the TAP only when the RX ring has a free slot, so a stack
// that falls behind leaves frames in the kernel's TAP queue, whose drops the kernel counts
// (exported as tap_kernel_drops). The driver exits when the stack process is gone (its pidfd).
#pragma once

#include "shm_ring.hpp"

#include <chrono>
#include <string>

namespace netstack {

enum class driver_mode { tap, null, loopback };

struct driver_options {
  driver_mode mode = driver_mode::tap;
  std::string tap;                    // the TAP device's name (created if missing)
  std::chrono::nanoseconds delay{0};  // per TX frame: a slow NIC
  shm_region::fds_t fds;              // inherited from the stack process
  int cpu = -1;                       // >= 0: pin the driver to this CPU
};

// The driver's main: returns the exit code.
int run_driver(const driver_options& o);

// Opens (creating if needed) the TAP device `name`: IFF_TAP | IFF_NO_PI, non-blocking.
weir::result<int> open_tap(const std::string& name);

}  // namespace netstack
