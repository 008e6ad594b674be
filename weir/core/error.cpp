#include <weir/core/error.hpp>

#include <weir/core/result.hpp>

#include <atomic>
#include <cstring>
#include <new>
#include <ostream>
#include <string>

namespace weir {
namespace {

class category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "weir"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::cancelled: return "operation cancelled";
      case errc::timed_out: return "deadline exceeded";
      case errc::closed: return "the other end is closed";
      case errc::lost_wakeup:
        return "lost wake-up: the last handle that could resume the task died";
      case errc::full: return "queue full";
      case errc::empty: return "queue empty";
      case errc::lagged: return "receiver lagged behind and missed messages";
      case errc::shutdown: return "runtime shutting down";
      case errc::eof: return "end of stream";
      case errc::truncated: return "end of stream in the middle of a message";
      case errc::limit_exceeded: return "limit exceeded";
      case errc::invalid_input: return "invalid input";
    }
    return "unknown weir error " + std::to_string(ev);
  }
};

class conditions final : public std::error_category {
 public:
  const char* name() const noexcept override { return "weir condition"; }
  std::string message(int ev) const override {
    switch (static_cast<condition>(ev)) {
      case condition::cancellation: return "cancelled, timed out or shutting down";
    }
    return "unknown weir condition " + std::to_string(ev);
  }
  bool equivalent(const std::error_code& ec, int cond) const noexcept override {
    switch (static_cast<condition>(cond)) {
      case condition::cancellation:
        return ec == errc::cancelled || ec == errc::timed_out || ec == errc::shutdown;
    }
    return false;
  }
};

}  // namespace

const std::error_category& weir_category() noexcept {
  static const category c;
  return c;
}

const std::error_category& condition_category() noexcept {
  static const conditions c;
  return c;
}

namespace detail {

// One allocation: the count, the length, then the text.
struct error_context {
  std::atomic<unsigned> refs;
  std::size_t size;
  char* data() noexcept { return reinterpret_cast<char*>(this + 1); }
  const char* data() const noexcept { return reinterpret_cast<const char*>(this + 1); }

  static error_context* make(std::string_view a, std::string_view sep, std::string_view b) {
    const std::size_t n = a.size() + sep.size() + b.size();
    void* mem = ::operator new(sizeof(error_context) + n);
    auto* c = new (mem) error_context{{1}, n};
    char* p = c->data();
    for (std::string_view part : {a, sep, b}) {
      if (part.empty()) continue;  // an empty view may have no data (memcpy from null is UB)
      std::memcpy(p, part.data(), part.size());
      p += part.size();
    }
    return c;
  }
};

void release(error_context* c) noexcept {
  if (c->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    c->~error_context();
    ::operator delete(c);
  }
}

error_context* retain(error_context* c) noexcept {
  c->refs.fetch_add(1, std::memory_order_relaxed);
  return c;
}

std::string_view text(const error_context* c) noexcept { return {c->data(), c->size}; }

}  // namespace detail

error::error(std::error_code ec, std::string_view context) : ec_(ec) {
  if (!context.empty()) ctx_ = detail::error_context::make(context, {}, {});
}

std::string error::message() const {
  std::string m = ec_.message();
  if (!ctx_) return m;
  std::string_view c = context();
  std::string out;
  out.reserve(c.size() + 2 + m.size());
  out.append(c).append(": ").append(m);
  return out;
}

error error::with_context(std::string_view outer) const& {
  error e(*this);
  return std::move(e).with_context(outer);
}

error error::with_context(std::string_view outer) && {
  if (outer.empty()) return std::move(*this);
  error e(ec_);
  e.ctx_ = ctx_ ? detail::error_context::make(outer, ": ", context())
                : detail::error_context::make(outer, {}, {});
  return e;
}

std::ostream& operator<<(std::ostream& os, const error& e) { return os << e.message(); }

void throw_error(const error& e) {
  if (e.context().empty()) throw std::system_error(e.code());
  throw std::system_error(e.code(), std::string(e.context()));
}

}  // namespace weir
