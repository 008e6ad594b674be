// Debug check for shard-local primitives: remembers the first shard that used the object and
// asserts every later use comes from it. Uses from non-shard threads (setup before
// block_on, inspection after the runtime is gone) are not checked. Free in release builds.
#pragma once

#include <weir/core/detail/shard.hpp>
#include <weir/core/log.hpp>

#include <cassert>
#include <cstdio>

namespace weir::detail {

class shard_affinity {
 public:
  void check([[maybe_unused]] const char* what) noexcept {
#ifndef NDEBUG
    if (shard* sh = tl_shard) {
      if (!shard_) shard_ = sh;
      if (shard_ != sh) {
        log::error("a shard-local primitive was used from two shards",
                   {{"what", what},
                    {"first", std::to_string(shard_->id())},
                    {"now", std::to_string(sh->id())}});
        log::flush();
        assert(false && "shard-local primitive used from two shards");
      }
    }
#endif
  }

 private:
#ifndef NDEBUG
  shard* shard_ = nullptr;
#endif
};

}  // namespace weir::detail
