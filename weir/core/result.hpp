// weir::result<T> — a value or a std::error_code, with std::expected's interface.
//
// DESIGN.md D9: I/O and protocol operations report expected failures as values; exceptions
// are for broken invariants. Our own type because clang with Debian's libstdc++ 12 has no
// std::expected. Names and semantics follow std::expected<T, std::error_code>:
//
//   weir::result<int> parse(std::string_view s) {
//     if (s.empty()) return weir::unexpected(weir::errc::closed);
//     return 42;
//   }
//   auto r = parse(x);
//   if (!r) log(r.error().message());
//   int v = r.value();      // throws std::system_error(r.error()) when there is no value
//
// result<void> holds only the error. Thread safety: as for any value type.
#pragma once

#include <weir/core/error.hpp>

#include <concepts>
#include <memory>
#include <system_error>
#include <type_traits>
#include <utility>

namespace weir {

// The error side of a result, as std::unexpected.
class unexpected {
 public:
  explicit unexpected(std::error_code ec) noexcept : ec_(ec) {}
  explicit unexpected(errc e) noexcept : ec_(make_error_code(e)) {}
  const std::error_code& error() const noexcept { return ec_; }

 private:
  std::error_code ec_;
};

[[noreturn]] void throw_error(std::error_code ec);

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
  result(unexpected u) noexcept : has_(false) { new (&error_) std::error_code(u.error()); }

  result(const result& o) requires std::copy_constructible<T> : has_(o.has_) {
    if (has_)
      new (&value_) T(o.value_);
    else
      new (&error_) std::error_code(o.error_);
  }
  result(result&& o) noexcept(std::is_nothrow_move_constructible_v<T>) : has_(o.has_) {
    if (has_)
      new (&value_) T(std::move(o.value_));
    else
      new (&error_) std::error_code(o.error_);
  }
  result& operator=(const result& o) requires std::copy_constructible<T> {
    if (this != &o) {
      destroy();
      has_ = o.has_;
      if (has_)
        new (&value_) T(o.value_);
      else
        new (&error_) std::error_code(o.error_);
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
        new (&error_) std::error_code(o.error_);
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

  // The error; only meaningful when !has_value(). Returns a default (success) code otherwise.
  std::error_code error() const noexcept { return has_ ? std::error_code() : error_; }

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
    if (has_) value_.~T();
  }

  union {
    T value_;
    std::error_code error_;
  };
  bool has_;
};

template <>
class [[nodiscard]] result<void> {
 public:
  using value_type = void;
  result() noexcept = default;
  result(unexpected u) noexcept : error_(u.error()) {}

  bool has_value() const noexcept { return !error_; }
  explicit operator bool() const noexcept { return !error_; }
  void value() const {
    if (error_) throw_error(error_);
  }
  void operator*() const noexcept {}
  std::error_code error() const noexcept { return error_; }

 private:
  std::error_code error_;
};

}  // namespace weir
