// The README's example, compiled and run by the build so that it stays true.
#include <weir/core/runtime.hpp>
#include <weir/core/spawn.hpp>
#include <weir/core/time.hpp>
#include <weir/sync/channel.hpp>

weir::task<> produce(weir::sender<int> tx) {
  for (int i = 0; i < 1000; ++i)
    if (!co_await tx.send(i)) co_return;          // waits while the channel is full
}

weir::task<long> consume() {
  auto [tx, rx] = weir::channel<int>(64);
  weir::spawn_detached(produce(std::move(tx)), "producer");
  long sum = 0;
  while (auto v = co_await weir::with_timeout(std::chrono::seconds(1), rx.recv()))
    sum += *v;                                    // ends on errc::closed (or timed_out)
  co_return sum;
}

int main() {
  weir::runtime rt;                               // one shard per CPU
  return rt.block_on(consume()) == 499500 ? 0 : 1;
}
