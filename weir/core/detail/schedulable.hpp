// The unit of scheduling: a suspended coroutine waiting to be resumed on its shard.
// A schedulable lives inside an awaiter (in the waiting coroutine's frame) or inside a
// spawned task's root frame, so making a task runnable never allocates. It is in at most one
// run queue at a time; `next` is atomic because remote shards push it onto the owner's
// lock-free wake stack.
#pragma once

#include <atomic>
#include <coroutine>

namespace weir::detail {

class shard;
struct task_env;

struct schedulable {
  std::atomic<schedulable*> next{nullptr};
  std::coroutine_handle<> handle;
  shard* owner = nullptr;   // the shard that must resume it
  task_env* env = nullptr;  // the task it belongs to (for the registry and budgets)
};

// Makes `s` runnable on its owner shard: a local push on the owner's thread, a lock-free
// push plus an unpark otherwise. Safe from any thread.
void wake(schedulable* s) noexcept;

}  // namespace weir::detail
