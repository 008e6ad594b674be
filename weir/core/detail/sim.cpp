#include <weir/core/detail/sim.hpp>

#include <weir/core/log.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace weir::detail {

sim_state::sim_state(std::uint64_t seed) : seed_(seed), rng_(seed), hash_(14695981039346656037ull) {
  const char* t = std::getenv("WEIR_SIM_TRACE");
  print_ = t && *t && std::strcmp(t, "0") != 0;
}

void sim_state::note(const char* kind, std::uint64_t a, std::uint64_t b) noexcept {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(now_ - start).count();
  std::uint64_t h = hash_.load(std::memory_order_relaxed);
  const auto mix = [&h](std::uint64_t v) {
    for (int i = 0; i < 8; ++i) {
      h ^= (v >> (8 * i)) & 0xFF;
      h *= 1099511628211ull;
    }
  };
  for (const char* p = kind; *p; ++p) mix(static_cast<unsigned char>(*p));
  mix(a);
  mix(b);
  mix(static_cast<std::uint64_t>(us));
  hash_.store(h, std::memory_order_release);
  if (print_)
    std::fprintf(stderr, "sim seed=%llu t=%lldus %s %llu %llu\n",
                 static_cast<unsigned long long>(seed_), static_cast<long long>(us), kind,
                 static_cast<unsigned long long>(a), static_cast<unsigned long long>(b));
}

void sim_state::submit(blocking_job* j) {
  // 0..2 ms, in 100 µs steps: jobs overlap, finish out of submission order, and move time.
  const auto delay = std::chrono::microseconds(100 * static_cast<long long>(next() % 21));
  note("job-submit", event_seq_, static_cast<std::uint64_t>(delay.count()));
  at(now_ + delay, [j] { j->run(j); }, j);  // wakes its task (the loop runs no task itself)
}

bool sim_state::try_cancel(blocking_job* j) noexcept {
  auto it = std::find_if(events_.begin(), events_.end(), [j](const event& e) { return e.job == j; });
  if (it == events_.end()) return false;
  note("job-cancel", it->order);
  events_.erase(it);
  return true;
}

void sim_state::at(clock::time_point at, std::function<void()> fn, blocking_job* job) {
  events_.push_back({std::max(at, now_), event_seq_++, std::move(fn), job});
}

std::vector<sim_state::event>::iterator sim_state::first_event() noexcept {
  return std::min_element(events_.begin(), events_.end(), [](const event& x, const event& y) {
    return x.at != y.at ? x.at < y.at : x.order < y.order;
  });
}

bool sim_state::next_event(clock::time_point& at) const noexcept {
  if (events_.empty()) return false;
  at = const_cast<sim_state*>(this)->first_event()->at;
  return true;
}

bool sim_state::run_due_event() {
  if (events_.empty()) return false;
  auto it = first_event();
  if (it->at > now_) return false;
  std::function<void()> fn = std::move(it->fn);
  note("event", it->order);
  events_.erase(it);
  fn();
  return true;
}

void sim_state::poke() noexcept {
  {
    std::lock_guard lk(mu_);
    poked_ = true;
  }
  cv_.notify_one();
}

void sim_state::idle(std::chrono::milliseconds limit) {
  std::unique_lock lk(mu_);
  cv_.wait_for(lk, limit, [this] { return poked_; });
  poked_ = false;
}

std::uint64_t choose_sim_seed(std::uint64_t configured) {
  if (configured) return configured;
  if (const char* e = std::getenv("WEIR_SIM_SEED"); e && *e) {
    char* end = nullptr;
    const unsigned long long v = std::strtoull(e, &end, 10);
    if (end && *end == '\0') return v;
    throw std::invalid_argument(std::string("WEIR_SIM_SEED=") + e + ": expected a decimal number");
  }
  std::random_device rd;
  return (std::uint64_t{rd()} << 32) | rd();
}

namespace {

// A shard's reactor under sim: nothing to wait for (the loop moves time), wakes go to the
// loop, and I/O on real descriptors is refused.
class sim_reactor final : public reactor {
 public:
  explicit sim_reactor(sim_state& s) : sim_(s) {}
  void wait(std::chrono::nanoseconds) override {}
  void wake() noexcept override { sim_.poke(); }
  const char* name() const noexcept override { return "sim"; }
  bool start(detail::io_op& op) noexcept override {
    if (op.fs->sim && sim_.io) return sim_.io->start(op);
    static std::once_flag once;
    std::call_once(once, [] {
      log::warn("the sim backend refuses I/O on real file descriptors (EOPNOTSUPP): a "
                "simulated run must not depend on the outside world");
    });
    op.res = -EOPNOTSUPP;
    return true;
  }
  void cancel(detail::io_op& op) noexcept override {
    if (op.fs->sim && sim_.io) sim_.io->cancel(op, true);
  }
  void cancel_now(detail::io_op& op) noexcept override {
    if (op.fs->sim && sim_.io) sim_.io->cancel(op, false);
  }
  void forget(detail::fd_state&) noexcept override {}
  void closing(detail::fd_state& fs) noexcept override {
    if (fs.sim && sim_.io) sim_.io->closing(fs);
  }
  void quiesce() noexcept override {
    if (sim_.io) sim_.io->quiesce();
  }

 private:
  sim_state& sim_;
};

}  // namespace

std::unique_ptr<reactor> make_sim_reactor(sim_state& sim) {
  return std::make_unique<sim_reactor>(sim);
}

}  // namespace weir::detail
