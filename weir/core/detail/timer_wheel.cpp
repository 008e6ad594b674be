#include <weir/core/detail/timer_wheel.hpp>

#include <algorithm>
#include <bit>

namespace weir::detail {
namespace {

constexpr unsigned bits_per_level = 6;
constexpr std::uint64_t slot_mask = timer_wheel::slots - 1;
constexpr std::uint64_t max_ticks = std::uint64_t{1} << (bits_per_level * timer_wheel::levels);

constexpr std::uint64_t slot_range(unsigned level) {
  return std::uint64_t{1} << (bits_per_level * level);
}
constexpr std::uint64_t level_range(unsigned level) {
  return std::uint64_t{1} << (bits_per_level * (level + 1));
}

// The level whose slot span contains the highest bit in which `when` differs from `elapsed`.
unsigned level_for(std::uint64_t elapsed, std::uint64_t when) {
  std::uint64_t masked = (elapsed ^ when) | slot_mask;
  if (masked >= max_ticks) masked = max_ticks - 1;
  const unsigned significant = 63 - static_cast<unsigned>(std::countl_zero(masked));
  return significant / bits_per_level;
}

}  // namespace

void timer_wheel::file(timer_entry* e) noexcept {
  // A deadline beyond the current top-level range waits in overflow_ until time enters the
  // range that contains it (so no slot ever lies "behind" the current one).
  if (e->tick > (elapsed_ | (max_ticks - 1))) {
    e->level = overflow_level;
    overflow_.push_back(e);
    return;
  }
  const std::uint64_t when = e->tick;
  const unsigned level = level_for(elapsed_, when);
  const unsigned slot = static_cast<unsigned>((when >> (bits_per_level * level)) & slot_mask);
  e->level = static_cast<std::uint8_t>(level);
  e->slot = static_cast<std::uint8_t>(slot);
  wheel_[level][slot].push_back(e);
  occupied_[level] |= std::uint64_t{1} << slot;
}

void timer_wheel::insert(timer_entry* e) noexcept {
  ++size_;
  if (e->tick <= elapsed_) {
    e->level = expired_level;
    expired_.push_back(e);
    return;
  }
  file(e);
}

void timer_wheel::cancel(timer_entry* e) noexcept {
  if (!e->linked()) return;
  e->unlink();
  --size_;
  if (e->level == expired_level || e->level == overflow_level) return;
  if (wheel_[e->level][e->slot].empty()) occupied_[e->level] &= ~(std::uint64_t{1} << e->slot);
}

std::optional<timer_wheel::expiration> timer_wheel::next_expiration_detail() const noexcept {
  for (unsigned level = 0; level < levels; ++level) {
    const std::uint64_t occ = occupied_[level];
    if (!occ) continue;
    const unsigned now_slot = static_cast<unsigned>((elapsed_ / slot_range(level)) & slot_mask);
    const unsigned zeros =
        static_cast<unsigned>(std::countr_zero(std::rotr(occ, static_cast<int>(now_slot))));
    const unsigned slot = (zeros + now_slot) % slots;
    const std::uint64_t level_start = elapsed_ & ~(level_range(level) - 1);
    std::uint64_t deadline = level_start + slot * slot_range(level);
    return expiration{level, slot, deadline};
  }
  if (!overflow_.empty()) return expiration{overflow_level, 0, (elapsed_ | (max_ticks - 1)) + 1};
  return std::nullopt;
}

std::optional<std::uint64_t> timer_wheel::next_expiration() const noexcept {
  if (!expired_.empty()) return elapsed_;
  if (auto e = next_expiration_detail()) return e->deadline;
  return std::nullopt;
}

timer_entry* timer_wheel::poll(std::uint64_t now) noexcept {
  for (;;) {
    if (auto* n = expired_.pop_front()) {
      --size_;
      return static_cast<timer_entry*>(n);
    }
    auto exp = next_expiration_detail();
    if (!exp || exp->deadline > now) {
      if (now > elapsed_) elapsed_ = now;
      return nullptr;
    }
    // Take the whole slot, then advance: due entries fire, the rest cascade lower.
    ilist taken;
    if (exp->level == overflow_level) {
      taken.splice_back(overflow_);
    } else {
      taken.splice_back(wheel_[exp->level][exp->slot]);
      occupied_[exp->level] &= ~(std::uint64_t{1} << exp->slot);
    }
    elapsed_ = exp->deadline;
    while (auto* n = taken.pop_front()) {
      auto* e = static_cast<timer_entry*>(n);
      if (e->tick <= elapsed_) {
        e->level = expired_level;
        expired_.push_back(e);
      } else {
        file(e);
      }
    }
  }
}

}  // namespace weir::detail
