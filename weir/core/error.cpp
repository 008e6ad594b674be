#include <weir/core/error.hpp>

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
    }
    return "unknown weir error " + std::to_string(ev);
  }
};

}  // namespace

const std::error_category& weir_category() noexcept {
  static const category c;
  return c;
}

}  // namespace weir

#include <weir/core/result.hpp>

namespace weir {
void throw_error(std::error_code ec) { throw std::system_error(ec); }
}  // namespace weir
