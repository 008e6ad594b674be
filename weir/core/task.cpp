#include <weir/core/task.hpp>

namespace weir::detail {

void rethrow(const std::exception_ptr& e) { std::rethrow_exception(e); }

void destroy_exception(std::exception_ptr& e) noexcept { e.~exception_ptr(); }

// Depth: a coroutine started inline runs one level above its awaiter; one resumed by the
// scheduler runs near the bottom of the stack, below its recorded depth. So depth_ never
// underestimates the real nesting, and bounding it bounds the stack. Past the bound the child
// starts from the run queue, at depth 0.
bool start_child(promise_base& child, std::coroutine_handle<> h, std::coroutine_handle<> caller,
                 task_env* env, unsigned depth, schedulable& node, bool& done) noexcept {
  child.continuation_ = caller;
  child.env_ = env;
  if (depth >= max_inline_nesting && start_deferred(node, h, env)) [[unlikely]]
    return true;  // child.depth_ stays 0
  child.depth_ = depth + 1;
  child.done_flag_ = &done;
  h.resume();
  if (done) return false;      // finished without suspending (its frame is gone): carry on
  child.done_flag_ = nullptr;  // it suspended: its completion resumes `caller`
  return true;
}

}  // namespace weir::detail
