// The non-blocking system call behind each io_op kind, shared by the backends. Internal.
#pragma once

#include <weir/core/detail/reactor.hpp>

namespace weir::detail {

// Performs `op` once without blocking. Returns its result (>= 0, or -errno; -EAGAIN when it
// must wait for readiness). For connect, the first call starts the connection (-EINPROGRESS
// while it is being set up); later calls (`connect_pending`) read its outcome.
int perform(io_op& op, bool connect_pending) noexcept;

}  // namespace weir::detail
