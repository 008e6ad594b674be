#include <weir/core/task.hpp>

namespace weir::detail {

void rethrow(const std::exception_ptr& e) { std::rethrow_exception(e); }

void destroy_exception(std::exception_ptr& e) noexcept { e.~exception_ptr(); }

thread_local constinit unsigned tl_inline_nesting = 0;

bool start_child(promise_base& child, std::coroutine_handle<> h, std::coroutine_handle<> caller,
                 task_env* env, schedulable& node, bool& done) noexcept {
  child.continuation_ = caller;
  child.env_ = env;
  // Past the nesting bound, start through the run queue so the stack stays bounded.
  if (tl_inline_nesting >= max_inline_nesting && start_deferred(node, h, env)) [[unlikely]]
    return true;
  ++tl_inline_nesting;
  child.done_flag_ = &done;
  h.resume();
  --tl_inline_nesting;
  if (done) return false;       // finished without suspending (its frame is gone): carry on
  child.done_flag_ = nullptr;   // it suspended: its completion resumes `caller`
  return true;
}

}  // namespace weir::detail
