#include <weir/core/c_callback.hpp>
#include <weir/core/completion.hpp>
#include <weir/core/detail/runtime_impl.hpp>
#include <weir/core/log.hpp>

#include <fmt/format.h>

#include <cstdio>
#include <memory>
#include <mutex>

namespace weir {
namespace {
std::atomic<std::uint64_t> g_second_fires{0};
}

void detail::count_second_fire() noexcept {
  g_second_fires.fetch_add(1, std::memory_order_relaxed);
}

completion_stats_t completion_stats() noexcept {
  return {g_second_fires.load(std::memory_order_relaxed)};
}

bool detail::report_lost_completion(const completion_origin& o, waiter* w,
                                    const char* label) noexcept {
  if (!o.home) return true;  // made outside a runtime: no policy, the waiter gets the error
  runtime_impl& rt = o.home->rt();
  const task_record* rec = w && w->sched.env ? w->sched.env->record : nullptr;
  std::string what = "the source of a completion";
  if (label) what += std::string(" from ") + label;
  what += " was destroyed without firing";
  try {
    rt.debug().report_lost(rec, o.task, o.task_name, what.c_str());
  } catch (...) {
    // out of memory while reporting: the policy still applies
  }
  return rt.options().lost_wakeup != lost_wakeup_policy::report;
}

bool detail::report_lost_waiter(waiter& w, const char* what) noexcept {
  shard* sh = w.sched.owner;
  if (!sh || sh->dead()) return false;  // runtime shutdown: frames go in any order
  const task_record* rec = w.sched.env ? w.sched.env->record : nullptr;
  try {
    sh->rt().debug().report_lost(rec, 0, nullptr, what);
  } catch (...) {
  }
  return sh->rt().options().lost_wakeup != lost_wakeup_policy::report;
}

// --- the C-callback token table --------------------------------------------------------------
//
// A token is (slot index + 1) << 32 | generation. A slot's word is generation << 2 | armed (2)
// | fired (1): fire sets `fired` on an armed slot of the token's generation; release clears
// `armed` and bumps the generation, so any later use of the token finds a mismatch.

namespace detail {
namespace {

struct slot {
  std::atomic<std::uint64_t> word{0};
  std::atomic<std::uint32_t> next_free{0};  // on the free list: the next slot's index + 1
  // Written before arming (release); a stale claimer may read them while the slot is reused,
  // hence atomics, but only the winner of `word` uses what it read.
  std::atomic<void*> state{nullptr};
  std::atomic<void (*)(void*) noexcept> drop{nullptr};
};

constexpr std::uint64_t fired_bit = 1, armed_bit = 2;
constexpr std::size_t chunk_size = 1024, max_chunks = 4096;  // 4M tokens alive at once

// Free slots form a lock-free stack (a register on a shard and a release on a library's thread
// happen for every token: librdkafka's delivery reports made a mutex here a hot spot). The head
// is (tag << 32 | index + 1); the tag, bumped by every push and pop, keeps a stale pop from
// succeeding (ABA). Growth, rare, takes the mutex.
struct table {
  std::atomic<slot*> chunks[max_chunks] = {};
  std::atomic<std::uint64_t> free_head{0};
  std::mutex mu;  // growth
  std::uint32_t used = 0;

  slot* at(std::uint32_t idx) noexcept {
    slot* c = chunks[idx / chunk_size].load(std::memory_order_acquire);
    return c ? &c[idx % chunk_size] : nullptr;
  }
  bool pop(std::uint32_t& idx) noexcept {
    std::uint64_t h = free_head.load(std::memory_order_acquire);
    while (h & 0xffffffffu) {
      const auto i = static_cast<std::uint32_t>(h & 0xffffffffu) - 1;
      // A slot once on the free list has its chunk: index it without at()'s null check.
      slot* chunk = chunks[i / chunk_size].load(std::memory_order_acquire);
      const std::uint32_t next = chunk[i % chunk_size].next_free.load(std::memory_order_relaxed);
      const std::uint64_t nh = ((h >> 32) + 1) << 32 | next;
      if (free_head.compare_exchange_weak(h, nh, std::memory_order_acq_rel,
                                          std::memory_order_acquire)) {
        idx = i;
        return true;
      }
    }
    return false;
  }
  void push(std::uint32_t idx) noexcept {
    slot* s = &chunks[idx / chunk_size].load(std::memory_order_acquire)[idx % chunk_size];
    std::uint64_t h = free_head.load(std::memory_order_relaxed);
    std::uint64_t nh;
    do {
      s->next_free.store(static_cast<std::uint32_t>(h & 0xffffffffu), std::memory_order_relaxed);
      nh = ((h >> 32) + 1) << 32 | (std::uint64_t{idx} + 1);
    } while (!free_head.compare_exchange_weak(h, nh, std::memory_order_release,
                                              std::memory_order_relaxed));
  }
};

table& tokens() {
  static table* t = new table;  // never destroyed: tokens may be used during exit
  return *t;
}

void misuse(const char* what, void* token) noexcept {
  count_second_fire();
  static std::mutex mu;
  static log_limiter limit;
  std::lock_guard lk(mu);
  std::uint64_t held = 0;
  if (limit.allow(std::chrono::steady_clock::now().time_since_epoch().count(), held))
    log::warn(
        "C callback token misused; ignored",
        {{"token", fmt::format("{}", token)}, {"what", what}, {"held_back", std::to_string(held)}});
}

bool decode(void* token, std::uint32_t& idx, std::uint32_t& gen) noexcept {
  const auto v = reinterpret_cast<std::uintptr_t>(token);
  if ((v >> 32) == 0) return false;
  idx = static_cast<std::uint32_t>((v >> 32) - 1);
  gen = static_cast<std::uint32_t>(v);
  return idx < chunk_size * max_chunks;
}

}  // namespace

void* c_callback_register(void* state, void (*drop)(void*) noexcept) noexcept {
  table& t = tokens();
  std::uint32_t idx;
  if (!t.pop(idx)) {
    std::lock_guard lk(t.mu);
    idx = t.used++;
    auto& c = t.chunks[idx / chunk_size];
    if (!c.load(std::memory_order_relaxed))
      c.store(new slot[chunk_size], std::memory_order_release);
  }
  slot* s = t.at(idx);
  s->state.store(state, std::memory_order_relaxed);
  s->drop.store(drop, std::memory_order_relaxed);
  const std::uint64_t gen = (s->word.load(std::memory_order_relaxed) >> 2) & 0xffffffffu;
  s->word.store(gen << 2 | armed_bit, std::memory_order_release);
  return reinterpret_cast<void*>((std::uintptr_t{idx} + 1) << 32 | gen);
}

void* c_callback_claim(void* token) noexcept {
  std::uint32_t idx, gen;
  slot* s = decode(token, idx, gen) ? tokens().at(idx) : nullptr;
  if (!s) {
    misuse("fired with an invalid token", token);
    return nullptr;
  }
  std::uint64_t w = s->word.load(std::memory_order_acquire);
  for (;;) {
    if (((w >> 2) & 0xffffffffu) != gen || !(w & armed_bit)) {
      misuse("fired after it was released", token);
      return nullptr;
    }
    if (w & fired_bit) {
      misuse("fired a second time", token);
      return nullptr;
    }
    void* state = s->state.load(std::memory_order_relaxed);
    if (s->word.compare_exchange_weak(w, w | fired_bit, std::memory_order_acq_rel)) return state;
  }
}

}  // namespace detail

void c_callback_release(void* token) noexcept {
  using namespace detail;
  std::uint32_t idx, gen;
  slot* s = decode(token, idx, gen) ? tokens().at(idx) : nullptr;
  if (!s) {
    misuse("released with an invalid token", token);
    return;
  }
  std::uint64_t w = s->word.load(std::memory_order_acquire);
  void* state;
  void (*drop)(void*) noexcept;
  for (;;) {
    if (((w >> 2) & 0xffffffffu) != gen || !(w & armed_bit)) {
      misuse("released twice", token);
      return;
    }
    state = s->state.load(std::memory_order_relaxed);
    drop = s->drop.load(std::memory_order_relaxed);
    const std::uint64_t next = (((w >> 2) + 1) & 0xffffffffu) << 2;  // disarmed, next generation
    if (s->word.compare_exchange_weak(w, next, std::memory_order_acq_rel)) break;
  }
  const bool fired = w & fired_bit;
  tokens().push(idx);
  if (!fired) drop(state);  // the source dies unfired: the lost-wake-up path
}

}  // namespace weir
