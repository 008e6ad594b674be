// The runtime's shared state: shards, mailboxes, the blocking pool. Internal.
#pragma once

#include <weir/core/detail/blocking_pool.hpp>
#include <weir/core/detail/debug_state.hpp>
#include <weir/core/detail/mailbox.hpp>
#include <weir/core/detail/shard.hpp>
#include <weir/core/detail/sim.hpp>
#include <weir/core/runtime.hpp>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

namespace weir::detail {

class runtime_impl {
 public:
  explicit runtime_impl(runtime_options o);
  ~runtime_impl();

  unsigned size() const noexcept { return static_cast<unsigned>(shards_.size()); }
  shard& at(unsigned k) noexcept { return *shards_[k]; }
  mailbox& box(unsigned from, unsigned to) noexcept { return *boxes_[from * size() + to]; }
  blocking_pool& pool() noexcept { return pool_; }
  bool stopping() const noexcept { return stopping_.load(std::memory_order_relaxed); }
  const runtime_options& options() const noexcept { return opts_; }
  debug_state& debug() noexcept { return debug_; }
  sim_state* sim() noexcept { return sim_.get(); }  // the sim backend's state, or null

 private:
  void start_threads();
  void sim_loop();  // the sim backend: every shard on this one thread (sim.hpp)

  runtime_options opts_;
  std::unique_ptr<sim_state> sim_;
  std::vector<std::unique_ptr<shard>> shards_;
  std::vector<std::unique_ptr<mailbox>> boxes_;
  blocking_pool pool_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stopping_{false};
  debug_state debug_{*this};  // last member: its watchdog reads the shards
};

}  // namespace weir::detail
