// "async fn in a trait": every level is a virtual function returning weir::task<T>; each
// call goes through the vtable of a node object that holds its child by pointer.
#include "tree.hpp"

#include <weir/core/task.hpp>

#include <array>
#include <coroutine>

namespace tree {

namespace {

struct node_iface {
  virtual weir::task<std::uint64_t> call(std::uint64_t x) = 0;

 protected:
  ~node_iface() = default;
};

template <unsigned V, unsigned D>
struct vnode final : node_iface {
  node_iface* child = nullptr;
  weir::task<std::uint64_t> call(std::uint64_t x) override {
    if constexpr (D == depth - 1) {
      co_return leaf<V>(x);
    } else {
      std::uint64_t a = co_await child->call(x);
      std::uint64_t b = co_await child->call(x + 1);
      co_return mix<V, D>(a, b);
    }
  }
};

template <unsigned V>
struct chain {
  vnode<V, 0> n0;
  vnode<V, 1> n1;
  vnode<V, 2> n2;
  vnode<V, 3> n3;
  vnode<V, 4> n4;
  chain() {
    n0.child = &n1;
    n1.child = &n2;
    n2.child = &n3;
    n3.child = &n4;
  }
};

template <unsigned V>
chain<V> chain_v;

// Only the root is known statically here (as an interface pointer); the rest is dispatched.
template <unsigned V>
node_iface* const root_ptr = &chain_v<V>.n0;

template <unsigned V>
struct root {
  static std::uint64_t run(std::uint64_t x) {
    return weir::detail::run_inline(root_ptr<V>->call(x));
  }
};
constexpr auto table = make_table<root>(std::make_index_sequence<variants>{});

}  // namespace

const kind weir_virtual{"weir task<T>, virtual", table.data(), nullptr};

}  // namespace tree
