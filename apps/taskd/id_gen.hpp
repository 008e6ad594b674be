// taskd::id_generator — the story's request id generator, one per shard.
//
//   taskd::id_generator gen(shard_index);       // shard-local: no atomics
//   std::uint64_t id = gen.next();              // prefix | (counter & (2^48 - 1))
//
// The Go original shares one generator behind an atomic swap. Here every shard owns one whose
// 16-bit prefix is its shard index, so shards never touch a shared counter and the owner of an
// id is id >> 48 (the notifier uses it to find the id's bucket). The counter starts at the
// start-up time in milliseconds shifted left by 8 (as etcd's idutil does), so ids do not
// repeat across quick restarts; it wraps within its 48 bits.
#pragma once

#include <chrono>
#include <cstdint>

namespace taskd {

class id_generator {
 public:
  static constexpr std::uint64_t suffix_mask = (std::uint64_t{1} << 48) - 1;

  explicit id_generator(std::uint16_t prefix)
      : id_generator(prefix, static_cast<std::uint64_t>(
                                 std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count())
                                 << 8) {}
  id_generator(std::uint16_t prefix, std::uint64_t start) noexcept
      : prefix_(std::uint64_t{prefix} << 48), suffix_(start) {}

  std::uint64_t next() noexcept { return prefix_ | (suffix_++ & suffix_mask); }

  static unsigned prefix_of(std::uint64_t id) noexcept { return static_cast<unsigned>(id >> 48); }

 private:
  std::uint64_t prefix_;
  std::uint64_t suffix_;
};

}  // namespace taskd
