// The textbook C++20 lazy task: symmetric transfer, result in the promise, frames from the
// default operator new. What one writes from cppreference in an afternoon.
#include "tree.hpp"

#include <array>
#include <coroutine>
#include <exception>
#include <utility>

namespace tree {
namespace {

template <class T>
class naive {
 public:
  struct promise_type {
    T value{};
    std::coroutine_handle<> cont;
    naive get_return_object() {
      return naive(std::coroutine_handle<promise_type>::from_promise(*this));
    }
    std::suspend_always initial_suspend() noexcept { return {}; }
    struct fin {
      bool await_ready() noexcept { return false; }
      std::coroutine_handle<> await_suspend(std::coroutine_handle<promise_type> h) noexcept {
        return h.promise().cont;
      }
      void await_resume() noexcept {}
    };
    fin final_suspend() noexcept { return {}; }
    void return_value(T v) { value = v; }
    void unhandled_exception() { std::terminate(); }
  };
  explicit naive(std::coroutine_handle<promise_type> h) : h_(h) {}
  naive(naive&& o) noexcept : h_(std::exchange(o.h_, {})) {}
  ~naive() {
    if (h_) h_.destroy();
  }
  bool await_ready() noexcept { return false; }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> c) noexcept {
    h_.promise().cont = c;
    return h_;
  }
  T await_resume() { return h_.promise().value; }
  T run() {
    h_.promise().cont = std::noop_coroutine();
    h_.resume();
    return h_.promise().value;
  }

 private:
  std::coroutine_handle<promise_type> h_;
};

template <unsigned V, unsigned D>
naive<std::uint64_t> node(std::uint64_t x) {
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
  static std::uint64_t run(std::uint64_t x) { return node<V, 0>(x).run(); }
};
constexpr auto table = make_table<root>(std::make_index_sequence<variants>{});

}  // namespace

const kind naive_task{"textbook task, operator new", table.data(), nullptr};

}  // namespace tree
