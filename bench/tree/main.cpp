// bench_tree: seed 000's async tree for every C++ kind.
//   bench_tree                       Google Benchmark run (ns/tree, allocs/tree)
//   bench_tree run KIND ITERS        exactly ITERS trees, for callgrind; prints the checksum
//   bench_tree list                  the kinds
// KIND is the short name: sync_inline sync_noinline weir_task weir_virtual std_function naive
#include "../common/count_allocs.hpp"
#include "tree.hpp"

#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

namespace {

struct named {
  const char* key;
  const tree::kind* kind;
};
const named kinds[] = {
    {"sync_inline", &tree::sync_inline},   {"sync_noinline", &tree::sync_noinline},
    {"weir_task", &tree::weir_task},       {"weir_virtual", &tree::weir_virtual},
    {"std_function", &tree::std_function}, {"naive", &tree::naive_task},
};

[[gnu::noinline]] std::uint64_t run_trees(const tree::entry* table, std::uint64_t iters) {
  std::uint64_t sum = 0;
  for (std::uint64_t i = 0; i < iters; ++i) sum += table[i & (tree::variants - 1)](i);
  return sum;
}

void bm_tree(benchmark::State& st, const tree::kind* k) {
  std::uint64_t i = 0, sum = 0;
  for (int w = 0; w < 4096; ++w) sum += k->table[w & (tree::variants - 1)](w);  // warm pools
  const auto a0 = bench::heap_allocations.load();
  for (auto _ : st) {
    sum += k->table[i & (tree::variants - 1)](i);
    ++i;
  }
  benchmark::DoNotOptimize(sum);
  st.counters["allocs_per_tree"] = benchmark::Counter(
      static_cast<double>(bench::heap_allocations.load() - a0) / static_cast<double>(i));
}

// The same variant every time: what the code costs when it stays in cache and predicted.
void bm_tree_hot(benchmark::State& st, const tree::kind* k) {
  std::uint64_t i = 0, sum = 0;
  const tree::entry f = k->table[7];
  for (auto _ : st) sum += f(i++);
  benchmark::DoNotOptimize(sum);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "list") == 0) {
    for (auto& n : kinds) std::printf("%s\t%s\n", n.key, n.kind->name);
    return 0;
  }
  if (argc >= 4 && std::strcmp(argv[1], "run") == 0) {
    for (auto& n : kinds)
      if (std::strcmp(n.key, argv[2]) == 0) {
        const std::uint64_t iters = std::strtoull(argv[3], nullptr, 10);
        const auto a0 = bench::heap_allocations.load();
        std::uint64_t sum = run_trees(n.kind->table, iters);
        std::printf("%s %llu checksum %llu allocs %llu\n", n.key,
                    static_cast<unsigned long long>(iters), static_cast<unsigned long long>(sum),
                    static_cast<unsigned long long>(bench::heap_allocations.load() - a0));
        return 0;
      }
    std::fprintf(stderr, "bench_tree: unknown kind '%s' (try: bench_tree list)\n", argv[2]);
    return 2;
  }
  for (auto& n : kinds)
    benchmark::RegisterBenchmark((std::string("tree/") + n.key).c_str(), bm_tree, n.kind);
  for (auto& n : kinds)
    benchmark::RegisterBenchmark((std::string("hot/") + n.key).c_str(), bm_tree_hot, n.kind);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
