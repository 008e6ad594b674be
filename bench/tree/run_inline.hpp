#pragma once
#include <weir/core/task.hpp>

#include <coroutine>

namespace tree {
// Drives a task to completion on this thread without a runtime (its awaits never suspend),
// as the Rust peers poll their future once with a no-op waker.
template <class T>
T run_inline(const weir::task<T>& t) {
  auto h = t.handle();
  h.promise().continuation_ = std::noop_coroutine();
  h.resume();
  return h.promise().take();
}
}  // namespace tree
