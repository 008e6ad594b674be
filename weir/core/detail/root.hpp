// The frame of a spawned task's outer coroutine (spawn, block_on): what its shard owns until
// it finishes. Internal; what runtime.hpp needs of the shard without the shard itself.
#pragma once

#include <weir/core/cancel.hpp>
#include <weir/core/detail/ilist.hpp>
#include <weir/core/detail/schedulable.hpp>
#include <weir/core/task.hpp>

namespace weir::detail {

// The frame of a spawned task's outer coroutine: owned by its shard until it finishes.
struct root_base;
struct root_link : ilist_node {
  root_base* self = nullptr;
};

struct root_base : promise_base {
  root_link link;  // in shard::roots_
  schedulable sched;
  task_env env_storage;
  cancel_state cancel;
  task_record record;
  root_base() noexcept {
    env_ = &env_storage;
    env_storage.cancel = &cancel;
    env_storage.record = &record;
    link.self = this;
  }
  ~root_base();  // leaves the shard's registry (detail/shard.cpp)
};

}  // namespace weir::detail
