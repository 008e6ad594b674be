// Seed 000's async tree, in C++: a binary tree of calls 5 levels deep (31 calls, 16 leaves)
// whose leaves complete at once, in 512 variants (template instances with different
// constants, so neither the compiler nor the branch predictor can merge them).
// The definition matches bench/rust exactly:
//   leaf_v(x)      = x * (2v + 3) + v
//   node_v_d(x)    = (child(x) + child(x + 1)) ^ (5v + d)          (all u64, wrapping)
// Each kind lives in its own translation unit and exposes a table of 512 entry points.
#pragma once

#include <array>
#include <cstdint>
#include <utility>

namespace tree {

inline constexpr unsigned variants = 512;
inline constexpr unsigned depth = 5;  // levels 0..4, 4 = leaf

using entry = std::uint64_t (*)(std::uint64_t);

struct kind {
  const char* name;
  const entry* table;  // [variants]
  void (*setup)();     // may be null
};

template <unsigned V>
constexpr std::uint64_t leaf(std::uint64_t x) {
  return x * (2 * V + 3) + V;
}
template <unsigned V, unsigned D>
constexpr std::uint64_t mix(std::uint64_t a, std::uint64_t b) {
  return (a + b) ^ (5 * V + D);
}

template <template <unsigned> class Root, std::size_t... I>
constexpr auto make_table(std::index_sequence<I...>) {
  return std::array<entry, sizeof...(I)>{&Root<static_cast<unsigned>(I)>::run...};
}

// Defined in the kind's translation unit.
extern const kind sync_inline, sync_noinline, weir_task, weir_virtual, std_function, naive_task;

}  // namespace tree
