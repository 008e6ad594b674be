// The FIFO counting semaphore under weir::semaphore and weir::mutex (a mutex is a semaphore of
// one permit, as Tokio's Mutex is its batch_semaphore with one). Internal.
//
// Requests are served strictly in arrival order: the request at the head blocks those behind
// it until enough permits are free, and nothing is taken at once while anyone waits (no
// barging). Permits released are handed to the waiters they let through before anyone else
// can take them, so a woken waiter owns its permits even before it runs.
#pragma once

#include <weir/sync/detail/wait_queue.hpp>

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace weir::detail {

// A waiting request: the node plus how many permits it wants.
struct permit_node : wait_node {
  explicit permit_node(std::size_t n) noexcept : wanted(n) {}
  permit_node(permit_node&&) noexcept = default;
  std::size_t wanted;
};

class permit_queue {
 public:
  explicit permit_queue(std::size_t permits) noexcept : permits_(permits) {}

  // A counting queue (weir::semaphore), whose waiters are permit_nodes.
  //
  // Takes `n` permits if they are free and nobody waits.
  bool try_take(std::size_t n) noexcept {
    if (!q_.empty() || permits_ < n) return false;
    permits_ -= n;
    return true;
  }
  // Adds `n` permits and grants waiters, in order, while the head one fits.
  void release(std::size_t n) noexcept {
    permits_ += n;
    grant_waiters();
  }
  void grant_waiters() noexcept {
    while (wait_node* f = q_.front()) {
      const std::size_t n = static_cast<permit_node*>(f)->wanted;
      if (n > permits_) break;  // FIFO: the head blocks everything behind it
      permits_ -= n;
      q_.wake_front(wait_state::granted);
    }
  }

  // A queue of one permit whose every request is for it (weir::mutex), whose waiters are plain
  // wait_nodes and which uses only these two. Free permits imply an empty queue, so the fast
  // path tests the count alone; a release hands the permit straight to the first waiter.
  bool try_take_one() noexcept {
    assert((permits_ == 0 || q_.empty()) && "weir::detail::permit_queue: barging past a waiter");
    if (permits_ == 0) return false;
    permits_ = 0;
    return true;
  }
  void release_one() noexcept {
    assert(permits_ == 0 && "weir::detail::permit_queue: one permit released twice");
    if (!q_.wake_front(wait_state::granted)) permits_ = 1;
  }

  std::size_t available() const noexcept { return permits_; }
  wait_queue& queue() noexcept { return q_; }
  const wait_queue& queue() const noexcept { return q_; }

 private:
  wait_queue q_;  // waiters in arrival order
  std::size_t permits_;
};

// The queued_awaiter policy of a primitive built on a permit_queue. `Owner` (weir::mutex,
// weir::semaphore) befriends it and provides:
//   permit_queue permits_;
//   using handle_type = ...;                               the RAII handle (guard, permit)
//   static constexpr const char* name;  static constexpr wait_kind kind;
//   static constexpr bool exclusive;                       every request is for one permit
//   handle_type make_handle(std::size_t n) noexcept;       owns n permits just taken
//   void give_back(std::size_t n) noexcept;                returns n permits (unlock, release)
template <class Owner>
struct permit_policy {
  using owner_type = Owner;
  // An exclusive owner's requests are all for one permit: they need not say so.
  using node_type = std::conditional_t<Owner::exclusive, wait_node, permit_node>;
  using value_type = typename Owner::handle_type;
  static constexpr wait_kind kind = Owner::kind;

  static wait_queue& queue(Owner& o) noexcept { return o.permits_.queue(); }
  static std::size_t wanted(const node_type& n) noexcept {
    if constexpr (Owner::exclusive)
      return 1;
    else
      return n.wanted;
  }
  static wait_state try_now(Owner& o, node_type& n) noexcept {
    o.permits_.queue().check_shard(Owner::name);
    bool taken;
    if constexpr (Owner::exclusive)
      taken = o.permits_.try_take_one();
    else
      taken = o.permits_.try_take(n.wanted);
    return taken ? wait_state::granted : wait_state::idle;
  }
  static std::int64_t wait_arg(const Owner&, const node_type& n) noexcept {
    return Owner::exclusive ? 0 : static_cast<std::int64_t>(wanted(n));
  }
  static void give_back(Owner& o, node_type& n) noexcept { o.give_back(wanted(n)); }
  static void left_queue(Owner& o) noexcept {
    // A cancelled head may have been blocking smaller requests (never so with one permit each).
    if constexpr (!Owner::exclusive) o.permits_.grant_waiters();
  }
  static value_type deliver(Owner& o, node_type& n) noexcept { return o.make_handle(wanted(n)); }
};

}  // namespace weir::detail
