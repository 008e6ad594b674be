// weir::error — what went wrong: a code to compare with, and the words that say which thing.
//
// Expected failures travel as values inside `weir::result<T>` (see result.hpp). An error is a
// `std::error_code` (weir's own `errc`, a layer's codes such as `tls::errc`, or a system code
// such as ECONNRESET) plus an optional context: a short message naming the address, file:line,
// limit or peer it concerns. The context is built only on the error path and shared (by an
// atomic reference count) when the error is copied, so an error with no context is as cheap
// as the code alone and a success costs nothing.
//
//   return weir::unexpected(errc::limit_exceeded, "line 12 of taskd.toml: 70000 bytes over 65536");
//   auto r = co_await stream_socket::connect(addr);
//   if (!r && r.error() == std::errc::connection_refused) ...       // compare the code
//   if (!r && r.error() == weir::condition::cancellation) ...       // or a condition
//   log(r.error().message());   // "connect 127.0.0.1:9: Connection refused"
//   return unexpected(std::move(r).error().with_context("fetching /kv/x"));
//
// message() is Go's convention: "<context>: <what the code says>", outermost context first.
// Comparisons look at the code only. An error converts to `const std::error_code&` for APIs
// that take one (the context is then left behind).
//
// Thread safety: a value type; copies may live on different threads (the count is atomic).
#pragma once

#include <iosfwd>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

namespace weir {

enum class errc {
  cancelled = 1,   // the task's cancel token fired (cancel(), a parent, a when_any loser)
  timed_out,       // a deadline (with_deadline / with_timeout) fired
  closed,          // the other end of a channel / oneshot is gone
  lost_wakeup,     // the last handle able to resume a waiting task died without waking it
  full,            // try_send on a full channel
  empty,           // try_recv on an empty channel
  lagged,          // a broadcast receiver fell behind and missed messages
  shutdown,        // the runtime is shutting down
  eof,             // the stream ended (the peer closed it) where a message could start
  truncated,       // the stream ended in the middle of a message
  limit_exceeded,  // a configured limit (buffer, line length, message size) was exceeded
  invalid_input,   // malformed input: a config file, a flag, a URL, a reply (context says where)
};

const std::error_category& weir_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), weir_category()};
}

// Groups of codes that call for the same handling, compared as `err == condition::x`.
enum class condition {
  // The task was told to stop: errc::cancelled, errc::timed_out (a deadline is a
  // cancellation), errc::shutdown. Not a failure of the operation itself: never retry it,
  // never count it as the peer's fault.
  cancellation = 1,
};

const std::error_category& condition_category() noexcept;

inline std::error_condition make_error_condition(condition c) noexcept {
  return {static_cast<int>(c), condition_category()};
}

}  // namespace weir

template <>
struct std::is_error_code_enum<weir::errc> : std::true_type {};
template <>
struct std::is_error_condition_enum<weir::condition> : std::true_type {};

namespace weir {

namespace detail {
struct error_context;  // refcounted immutable text, error.cpp
void release(error_context* c) noexcept;
error_context* retain(error_context* c) noexcept;
std::string_view text(const error_context* c) noexcept;
}  // namespace detail

class error {
 public:
  error() noexcept = default;
  error(std::error_code ec) noexcept : ec_(ec) {}  // NOLINT: implicit, as the code alone
  template <class E>
  requires std::is_error_code_enum_v<E> error(E e)
  noexcept  // NOLINT: implicit
      : ec_(make_error_code(e)) {}
  error(std::errc e) noexcept : ec_(std::make_error_code(e)) {}  // NOLINT: implicit
  // With a context; an empty context is none.
  error(std::error_code ec, std::string_view context);
  error(std::errc e, std::string_view context) : error(std::make_error_code(e), context) {}
  template <class E>
  requires std::is_error_code_enum_v<E> error(E e, std::string_view context)
      : error(std::error_code(make_error_code(e)), context) {}

  error(const error& o) noexcept : ec_(o.ec_), ctx_(o.ctx_ ? detail::retain(o.ctx_) : nullptr) {}
  error(error&& o) noexcept : ec_(o.ec_), ctx_(std::exchange(o.ctx_, nullptr)) {}
  error& operator=(const error& o) noexcept {
    if (this != &o) {
      if (ctx_) detail::release(ctx_);
      ec_ = o.ec_;
      ctx_ = o.ctx_ ? detail::retain(o.ctx_) : nullptr;
    }
    return *this;
  }
  error& operator=(error&& o) noexcept {
    if (this != &o) {
      if (ctx_) detail::release(ctx_);
      ec_ = o.ec_;
      ctx_ = std::exchange(o.ctx_, nullptr);
    }
    return *this;
  }
  ~error() {
    if (ctx_) detail::release(ctx_);
  }

  const std::error_code& code() const noexcept { return ec_; }
  operator const std::error_code&() const noexcept { return ec_; }  // NOLINT: implicit
  int value() const noexcept { return ec_.value(); }
  const std::error_category& category() const noexcept { return ec_.category(); }
  explicit operator bool() const noexcept { return static_cast<bool>(ec_); }

  // The words naming the thing ("connect 127.0.0.1:9"); empty when there are none.
  std::string_view context() const noexcept {
    return ctx_ ? detail::text(ctx_) : std::string_view();
  }
  // "<context>: <code's message>", or the code's message alone.
  std::string message() const;
  // The same code with `outer` in front of the context ("outer: inner").
  error with_context(std::string_view outer) const&;
  error with_context(std::string_view outer) &&;

  friend bool operator==(const error& a, const error& b) noexcept { return a.ec_ == b.ec_; }
  friend bool operator==(const error& a, const std::error_code& b) noexcept { return a.ec_ == b; }
  friend bool operator==(const error& a, const std::error_condition& b) noexcept {
    return a.ec_ == b;
  }
  template <class E>
  requires std::is_error_code_enum_v<E>
  friend bool operator==(const error& a, E b) noexcept { return a.ec_ == make_error_code(b); }
  template <class E>
  requires std::is_error_condition_enum_v<E>
  friend bool operator==(const error& a, E b) noexcept { return a.ec_ == make_error_condition(b); }
  friend std::ostream& operator<<(std::ostream& os, const error& e);

 private:
  std::error_code ec_;
  detail::error_context* ctx_ = nullptr;
};

}  // namespace weir
