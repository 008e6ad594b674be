// weir::result<T> — a value or a weir::error, with std::expected's interface.
//
// docs/architecture.md D9: I/O and protocol operations report expected failures as values;
// exceptions are for broken invariants. Our own type because clang with Debian's libstdc++ 12
// has no std::expected. Names and semantics follow std::expected<T, weir::error>; the error is
// a code plus optional words naming the thing (error.hpp):
//
//   weir::result<int> parse(std::string_view s) {
//     if (s.empty()) return weir::unexpected(weir::errc::invalid_input, "empty count");
//     return 42;
//   }
//   auto r = parse(x);
//   if (!r) log(r.error().message());   // "empty count: invalid input"
//   int v = r.value();      // throws std::system_error(code, context) when there is no value
//
// Propagation, as absl's ASSIGN_OR_RETURN (a statement, not an expression: g++ 12 cannot
// compile co_return inside a statement expression):
//
//   WEIR_TRY(check(x));                       // return the error, if any
//   WEIR_TRY_ASSIGN(auto v, parse(x));        // v = the value, or return the error
//   WEIR_CO_TRY(co_await s.write_all(b));     // the same in a coroutine (co_return)
//   WEIR_CO_TRY_ASSIGN(auto conn, co_await connect(addr));
//
// result<void> holds only the error. Thread safety: as for any value type.
#pragma once

#include <weir/core/error.hpp>

#include <concepts>
#include <memory>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

namespace weir {

// The error side of a result, as std::unexpected.
class unexpected {
 public:
  explicit unexpected(weir::error e) noexcept : e_(std::move(e)) {}
  template <class E>
  requires(std::is_error_code_enum_v<E> ||
           std::same_as<E, std::errc>) explicit unexpected(E e) noexcept
      : e_(e) {}
  // With the words naming the thing ("connect 127.0.0.1:9", "taskd.toml:3:19").
  template <class E>
  requires(std::is_error_code_enum_v<E> || std::same_as<E, std::error_code> ||
           std::same_as<E, std::errc>) unexpected(E e, std::string_view context)
      : e_(e, context) {}
  const weir::error& error() const& noexcept { return e_; }
  weir::error&& error() && noexcept { return std::move(e_); }

 private:
  weir::error e_;
};

[[noreturn]] void throw_error(const error& e);

namespace detail {
inline const error no_error{};
}

template <class T>
class [[nodiscard]] result {
  static_assert(!std::is_reference_v<T>, "result<T&> is not supported");

 public:
  using value_type = T;

  result() requires std::default_initializable<T> : has_(true) { new (&value_) T(); }
  template <class U = T>
  requires(std::constructible_from<T, U&&> && !std::same_as<std::remove_cvref_t<U>, result> &&
           !std::same_as<std::remove_cvref_t<U>, unexpected> &&
           !std::same_as<std::remove_cvref_t<U>, std::in_place_t>) result(U&& v)
      : has_(true) {  // NOLINT: implicit like std::expected
    new (&value_) T(std::forward<U>(v));
  }
  template <class... A>
  explicit result(std::in_place_t, A&&... a) : has_(true) {
    new (&value_) T(std::forward<A>(a)...);
  }
  result(unexpected u) noexcept : has_(false) { new (&error_) weir::error(std::move(u).error()); }

  result(const result& o) requires std::copy_constructible<T> : has_(o.has_) {
    if (has_)
      new (&value_) T(o.value_);
    else
      new (&error_) weir::error(o.error_);
  }
  result(result&& o) noexcept(std::is_nothrow_move_constructible_v<T>) : has_(o.has_) {
    if (has_)
      new (&value_) T(std::move(o.value_));
    else
      new (&error_) weir::error(std::move(o.error_));
  }
  result& operator=(const result& o) requires std::copy_constructible<T> {
    if (this != &o) {
      destroy();
      has_ = o.has_;
      if (has_)
        new (&value_) T(o.value_);
      else
        new (&error_) weir::error(o.error_);
    }
    return *this;
  }
  result& operator=(result&& o) noexcept(std::is_nothrow_move_constructible_v<T>) {
    if (this != &o) {
      destroy();
      has_ = o.has_;
      if (has_)
        new (&value_) T(std::move(o.value_));
      else
        new (&error_) weir::error(std::move(o.error_));
    }
    return *this;
  }
  ~result() { destroy(); }

  bool has_value() const noexcept { return has_; }
  explicit operator bool() const noexcept { return has_; }

  T& value() & {
    if (!has_) throw_error(error_);
    return value_;
  }
  const T& value() const& {
    if (!has_) throw_error(error_);
    return value_;
  }
  T&& value() && {
    if (!has_) throw_error(error_);
    return std::move(value_);
  }
  T& operator*() & noexcept { return value_; }
  const T& operator*() const& noexcept { return value_; }
  T&& operator*() && noexcept { return std::move(value_); }
  T* operator->() noexcept { return std::addressof(value_); }
  const T* operator->() const noexcept { return std::addressof(value_); }

  // The error; only meaningful when !has_value(). Returns an empty (success) error otherwise.
  const weir::error& error() const& noexcept { return has_ ? detail::no_error : error_; }
  weir::error error() && noexcept { return has_ ? weir::error() : std::move(error_); }

  template <class U>
  T value_or(U&& fallback) const& {
    return has_ ? value_ : static_cast<T>(std::forward<U>(fallback));
  }
  template <class U>
  T value_or(U&& fallback) && {
    return has_ ? std::move(value_) : static_cast<T>(std::forward<U>(fallback));
  }

 private:
  void destroy() noexcept {
    if (has_)
      value_.~T();
    else
      error_.~error();
  }

  union {
    T value_;
    weir::error error_;
  };
  bool has_;
};

template <>
class [[nodiscard]] result<void> {
 public:
  using value_type = void;
  result() noexcept = default;
  result(unexpected u) noexcept : error_(std::move(u).error()) {}

  bool has_value() const noexcept { return !error_; }
  explicit operator bool() const noexcept { return !error_; }
  void value() const {
    if (error_) throw_error(error_);
  }
  void operator*() const noexcept {}
  const weir::error& error() const& noexcept { return error_; }
  weir::error error() && noexcept { return std::move(error_); }

 private:
  weir::error error_;
};

}  // namespace weir

#define WEIR_TRY_CONCAT_(a, b) a##b
#define WEIR_TRY_NAME_(line) WEIR_TRY_CONCAT_(weir_try_, line)

// Evaluates a result; returns (co_returns) its error when it holds one. One statement (safe
// under a brace-less if).
#define WEIR_TRY(...)                                                            \
  do {                                                                           \
    auto&& weir_try_r_ = (__VA_ARGS__);                                          \
    if (!weir_try_r_) return ::weir::unexpected(std::move(weir_try_r_).error()); \
  } while (0)
#define WEIR_CO_TRY(...)                                                            \
  do {                                                                              \
    auto&& weir_try_r_ = (__VA_ARGS__);                                             \
    if (!weir_try_r_) co_return ::weir::unexpected(std::move(weir_try_r_).error()); \
  } while (0)

// `lhs = the value`, or returns (co_returns) the error. lhs may declare: `auto v`, `auto [a, b]`.
#define WEIR_TRY_ASSIGN(lhs, ...)                                           \
  auto WEIR_TRY_NAME_(__LINE__) = (__VA_ARGS__);                            \
  if (!WEIR_TRY_NAME_(__LINE__))                                            \
    return ::weir::unexpected(std::move(WEIR_TRY_NAME_(__LINE__)).error()); \
  lhs = std::move(*WEIR_TRY_NAME_(__LINE__))
#define WEIR_CO_TRY_ASSIGN(lhs, ...)                                           \
  auto WEIR_TRY_NAME_(__LINE__) = (__VA_ARGS__);                               \
  if (!WEIR_TRY_NAME_(__LINE__))                                               \
    co_return ::weir::unexpected(std::move(WEIR_TRY_NAME_(__LINE__)).error()); \
  lhs = std::move(*WEIR_TRY_NAME_(__LINE__))
