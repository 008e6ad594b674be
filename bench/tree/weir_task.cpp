// weir::task<T> with static calls: every level is a coroutine awaiting its two children.
#include "tree.hpp"

#include <weir/core/task.hpp>

#include <array>
#include <coroutine>

namespace tree {

namespace {

template <unsigned V, unsigned D>
weir::task<std::uint64_t> node(std::uint64_t x) {
  if constexpr (D == depth - 1) {
    co_return leaf<V>(x);
  } else {
    std::uint64_t a = co_await node<V, D + 1>(x);
    std::uint64_t b = co_await node<V, D + 1>(x + 1);
    co_return mix<V, D>(a, b);
  }
}
template <unsigned V>
struct root {
  static std::uint64_t run(std::uint64_t x) { return weir::detail::run_inline(node<V, 0>(x)); }
};
constexpr auto table = make_table<root>(std::make_index_sequence<variants>{});

}  // namespace

const kind weir_task{"weir task<T>, static", table.data(), nullptr};

}  // namespace tree
