// Hierarchical timing wheel (docs/architecture.md D4): 6 levels of 64 slots, 1 ms ticks, about 2.2
// years of range (later deadlines wait in an overflow list until time reaches their range).
// Insert and cancel are O(1): an entry is an intrusive list node that knows its slot.
// Finding the next expiry is O(levels) with one 64-bit occupancy mask per level.
//
// The layout and the expiry walk follow the classic design of Varghese & Lauck, "Hashed and
// Hierarchical Timing Wheels" (SOSP '87), in the form Tokio's timer uses: an entry sits at
// the level of the highest 6-bit group in which its deadline differs from the wheel's
// current tick; when that slot's time comes, its entries fire or cascade to a lower level.
//
// Not thread-safe: one wheel per shard.
#pragma once

#include <weir/core/detail/ilist.hpp>

#include <array>
#include <cstdint>
#include <optional>

namespace weir::detail {

struct timer_entry : ilist_node {
  std::uint64_t tick = 0;  // fire when the wheel reaches this tick
  void (*fire)(timer_entry*) = nullptr;
  std::uint8_t level = 0, slot = 0;  // where it is filed (when linked and not expired)
};

class timer_wheel {
 public:
  static constexpr unsigned levels = 6;
  static constexpr unsigned slots = 64;

  // Files `e` to fire at `e->tick`; a tick at or before the current one fires on the next poll.
  void insert(timer_entry* e) noexcept;
  // Removes `e` if it is filed. O(1).
  void cancel(timer_entry* e) noexcept;

  // Advances to `now` and returns one entry that is due (unlinked), or nullptr when none is.
  timer_entry* poll(std::uint64_t now) noexcept;

  // The earliest tick at which poll() may return something (a lower bound for entries on
  // upper levels, which cascade first), or nullopt when empty.
  std::optional<std::uint64_t> next_expiration() const noexcept;

  std::uint64_t elapsed() const noexcept { return elapsed_; }
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }

 private:
  struct expiration {
    unsigned level, slot;
    std::uint64_t deadline;
  };
  std::optional<expiration> next_expiration_detail() const noexcept;
  void file(timer_entry* e) noexcept;

  static constexpr std::uint8_t expired_level = 0xff;   // entry is in expired_
  static constexpr std::uint8_t overflow_level = 0xfe;  // entry is in overflow_

  std::array<std::array<ilist, slots>, levels> wheel_;
  ilist overflow_;
  std::array<std::uint64_t, levels> occupied_{};
  ilist expired_;
  std::uint64_t elapsed_ = 0;
  std::size_t size_ = 0;
};

}  // namespace weir::detail
