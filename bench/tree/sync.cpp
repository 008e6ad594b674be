#include "tree.hpp"

#include <array>

namespace tree {
namespace {

template <unsigned V, unsigned D>
inline std::uint64_t node(std::uint64_t x) {
  if constexpr (D == depth - 1)
    return leaf<V>(x);
  else
    return mix<V, D>(node<V, D + 1>(x), node<V, D + 1>(x + 1));
}
template <unsigned V>
struct inline_root {
  static std::uint64_t run(std::uint64_t x) { return node<V, 0>(x); }
};

template <unsigned V, unsigned D>
[[gnu::noinline]] std::uint64_t node_ni(std::uint64_t x) {
  if constexpr (D == depth - 1)
    return leaf<V>(x);
  else
    return mix<V, D>(node_ni<V, D + 1>(x), node_ni<V, D + 1>(x + 1));
}
template <unsigned V>
struct noinline_root {
  static std::uint64_t run(std::uint64_t x) { return node_ni<V, 0>(x); }
};

constexpr auto inline_table = make_table<inline_root>(std::make_index_sequence<variants>{});
constexpr auto noinline_table = make_table<noinline_root>(std::make_index_sequence<variants>{});

}  // namespace

const kind sync_inline{"sync, inlined", inline_table.data(), nullptr};
const kind sync_noinline{"sync, noinline", noinline_table.data(), nullptr};

}  // namespace tree
