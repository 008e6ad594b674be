// weir::testing::sim_sweep — a test body run over many seeds of the sim backend
// (docs/architecture.md D11; weir/core/detail/sim.hpp).
//
//   weir::testing::sim_sweep(200, [](std::uint64_t seed) {
//     weir::runtime rt(weir::testing::sim_options(seed, 4));   // 4 shards, one thread
//     rt.block_on(scenario());                                  // EXPECT_... inside
//   });
//
// Seeds are 1..count. WEIR_SIM_SEED=n runs that seed alone (the replay a failure prints);
// WEIR_SIM_SEEDS=N runs N seeds instead of `count` (a longer sweep, scripts/sim-sweep.sh).
// The sweep stops at the first seed whose body recorded a gtest failure and prints
//   sim: seed 17 failed; replay it with WEIR_SIM_SEED=17
#pragma once

#include <weir/core/runtime.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace weir::testing {

inline runtime_options sim_options(std::uint64_t seed, unsigned shards) {
  runtime_options o;
  o.shards = shards;
  o.backend = "sim";
  o.sim_seed = seed;
  return o;
}

template <class F>
void sim_sweep(std::uint64_t count, F body) {
  std::uint64_t first = 1;
  if (const char* one = std::getenv("WEIR_SIM_SEED"); one && *one) {
    first = std::strtoull(one, nullptr, 10);
    count = 1;
  } else if (const char* n = std::getenv("WEIR_SIM_SEEDS"); n && *n) {
    count = std::strtoull(n, nullptr, 10);
  }
  for (std::uint64_t seed = first; seed < first + count; ++seed) {
    body(seed);
    if (::testing::Test::HasFailure()) {
      std::fprintf(stderr, "sim: seed %llu failed; replay it with WEIR_SIM_SEED=%llu\n",
                   static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed));
      return;
    }
  }
}

}  // namespace weir::testing
