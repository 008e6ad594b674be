// weir::errc — the error codes weir's own operations report.
//
// Expected failures travel as `std::error_code` inside `weir::result<T>` (see result.hpp);
// `errc` values compare equal to error codes of `weir_category()`. System errors
// (ECONNRESET, ...) keep `std::system_category()`.
//
//   result<int> r = co_await ch.recv();
//   if (!r && r.error() == weir::errc::closed) { ... }
#pragma once

#include <system_error>

namespace weir {

enum class errc {
  cancelled = 1,  // the task's cancel token fired (cancel(), a parent, a when_any loser)
  timed_out,      // a deadline (with_deadline / with_timeout) fired
  closed,         // the other end of a channel / oneshot is gone
  lost_wakeup,    // the last handle able to resume a waiting task died without waking it
  full,           // try_send on a full channel
  empty,          // try_recv on an empty channel
  lagged,         // a broadcast receiver fell behind and missed messages
  shutdown,       // the runtime is shutting down
  eof,            // the stream ended (the peer closed it) where a message could start
  truncated,      // the stream ended in the middle of a message
  limit_exceeded, // a configured limit (buffer, line length, message size) was exceeded
};

const std::error_category& weir_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), weir_category()};
}

}  // namespace weir

template <>
struct std::is_error_code_enum<weir::errc> : std::true_type {};
