#include "notifier.hpp"

#include <string>

namespace taskd {

const std::error_category& notifier_category() noexcept {
  static const struct : std::error_category {
    const char* name() const noexcept override { return "taskd.notifier"; }
    std::string message(int c) const override {
      switch (static_cast<notifier_errc>(c)) {
        case notifier_errc::duplicate_id: return "duplicate request id";
        case notifier_errc::unknown_id: return "unknown request id";
      }
      return "unknown notifier error";
    }
  } category;
  return category;
}

}  // namespace taskd
