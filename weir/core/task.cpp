#include <weir/core/task.hpp>

namespace weir::detail {

void rethrow(const std::exception_ptr& e) { std::rethrow_exception(e); }

}  // namespace weir::detail
