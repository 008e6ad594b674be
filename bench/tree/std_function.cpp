// The seed FAQ's C++ answer: callbacks passed all the way down. Each level takes a
// continuation as std::function and captures it by value in the continuation it passes to
// its child — as an asynchronous callback API must, since callbacks outlive the caller's
// stack frame.
#include "tree.hpp"

#include <array>
#include <functional>

namespace tree {
namespace {

using cont = std::function<void(std::uint64_t)>;

template <unsigned V, unsigned D>
void node(std::uint64_t x, cont k) {
  if constexpr (D == depth - 1) {
    k(leaf<V>(x));
  } else {
    node<V, D + 1>(x, [x, k](std::uint64_t a) {
      node<V, D + 1>(x + 1, [a, k](std::uint64_t b) { k(mix<V, D>(a, b)); });
    });
  }
}
template <unsigned V>
struct root {
  static std::uint64_t run(std::uint64_t x) {
    std::uint64_t out = 0;
    node<V, 0>(x, [&out](std::uint64_t v) { out = v; });
    return out;
  }
};
constexpr auto table = make_table<root>(std::make_index_sequence<variants>{});

}  // namespace

const kind std_function{"std::function callbacks", table.data(), nullptr};

}  // namespace tree
