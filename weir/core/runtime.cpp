#include <weir/core/detail/cycle_clock.hpp>
#include <weir/core/detail/runtime_impl.hpp>
#include <weir/core/log.hpp>
#include <weir/core/metrics.hpp>
#include <weir/core/runtime.hpp>
#include <weir/core/time.hpp>

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <string>

namespace weir {
namespace detail {

// --- blocking pool ------------------------------------------------------------------------

void blocking_pool::submit(blocking_job* j) {
  if (sim_) return sim_->submit(j);  // the sim loop's thread: no lock needed
  std::unique_lock lk(mu_);
  queue_.push_back(j);
  if (idle_ == 0 && threads_.size() < max_threads_ && !stopping_) {
    threads_.emplace_back([this] { worker(); });
  } else {
    lk.unlock();
    cv_.notify_one();
  }
}

bool blocking_pool::try_cancel(blocking_job* j) noexcept {
  if (sim_) return sim_->try_cancel(j);
  std::lock_guard lk(mu_);
  if (!j->linked()) return false;
  j->unlink();
  return true;
}

void blocking_pool::worker() {
  std::unique_lock lk(mu_);
  for (;;) {
    while (queue_.empty() && !stopping_) {
      ++idle_;
      cv_.wait(lk);
      --idle_;
    }
    if (stopping_) return;
    auto* j = static_cast<blocking_job*>(queue_.pop_front());
    lk.unlock();
    j->run(j);  // last touch of j: waking its task
    lk.lock();
  }
}

void blocking_pool::stop() {
  if (sim_) sim_->drop_events();  // the jobs' tasks are destroyed by the runtime
  std::vector<std::thread> ts;
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
    queue_.clear();
    ts.swap(threads_);
  }
  cv_.notify_all();
  for (auto& t : ts) t.join();
}

unsigned blocking_pool::threads() const {
  std::lock_guard lk(mu_);
  return static_cast<unsigned>(threads_.size());
}

// --- runtime --------------------------------------------------------------------------------

namespace {

std::vector<int> allowed_cpus() {
  std::vector<int> cpus;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0)
    for (int c = 0; c < CPU_SETSIZE; ++c)
      if (CPU_ISSET(c, &set)) cpus.push_back(c);
  return cpus;
}

}  // namespace

runtime_impl::runtime_impl(runtime_options o) : opts_(std::move(o)), pool_(opts_.blocking_threads) {
  cycle_clock::init();  // the registry's clock, chosen before any shard thread reads it
  if (opts_.lost_wakeup == lost_wakeup_policy::env_or_fail) {
    const char* e = std::getenv("WEIR_LOST_WAKEUP");
    const std::string v = e ? e : "";
    opts_.lost_wakeup = v == "abort"    ? lost_wakeup_policy::abort
                        : v == "report" ? lost_wakeup_policy::report
                                        : lost_wakeup_policy::fail;
    if (!v.empty() && v != "abort" && v != "report" && v != "fail")
      throw std::invalid_argument("WEIR_LOST_WAKEUP=" + v + ": expected report, fail or abort");
  }
  const auto cpus = allowed_cpus();
  unsigned n = opts_.shards;
  if (n == 0) n = cpus.empty() ? 1 : static_cast<unsigned>(cpus.size());
  std::string backend = opts_.backend;
  if (backend.empty())
    if (const char* e = std::getenv("WEIR_BACKEND")) backend = e;
  if (backend == "sim" && !opts_.make_reactor) {
    // Every shard on one thread, on virtual time, in an order drawn from the seed (sim.hpp).
    sim_ = std::make_unique<sim_state>(choose_sim_seed(opts_.sim_seed));
    opts_.make_reactor = [sim = sim_.get()] { return make_sim_reactor(*sim); };
    opts_.manual_clock = true;
    opts_.coop_quota = std::chrono::hours(1);  // the budget counts awaits only: no wall clock
    opts_.spin_before_park = {};
    pool_.simulate(sim_.get());
    log::debug("I/O backend", {{"backend", "sim"},
                               {"seed", std::to_string(sim_->seed())},
                               {"shards", std::to_string(n)},
                               {"replay", "WEIR_SIM_SEED=" + std::to_string(sim_->seed())}});
  }
  if (!opts_.make_reactor) {
    std::string why;
    opts_.make_reactor = choose_backend(opts_.backend, why);
    static std::once_flag logged;
    std::call_once(logged, [&] {
      log::info("I/O backend", {{"backend", opts_.make_reactor()->name()}, {"why", why}});
    });
  }
  // Spinning only helps when every shard has a CPU of its own; otherwise it steals the time
  // slice of the very shard it waits for.
  // And with one shard there is no other shard to wait for.
  if (n > std::max<std::size_t>(cpus.size(), 1) || n == 1) opts_.spin_before_park = {};
  for (unsigned k = 0; k < n; ++k)
    shards_.push_back(std::make_unique<shard>(*this, k, opts_.make_reactor(), opts_.manual_clock,
                                              opts_.coop_ops, opts_.coop_quota,
                                              opts_.spin_before_park));
  for (unsigned from = 0; from < n; ++from)
    for (unsigned to = 0; to < n; ++to)
      boxes_.push_back(std::make_unique<mailbox>(from, to, opts_.mailbox_capacity));
  if (sim_) {
    for (auto& s : shards_) s->sim_attach(sim_.get(), sim_state::start);
    threads_.emplace_back([this] {
      pthread_setname_np(pthread_self(), "weir-sim");
      sim_loop();
    });
    debug_.start();
    return;
  }
  for (unsigned k = 0; k < n; ++k) {
    threads_.emplace_back([this, k, cpus] {
      if (opts_.pin_threads && !cpus.empty()) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpus[k % cpus.size()], &set);
        pthread_setaffinity_np(pthread_self(), sizeof set, &set);  // best effort
      }
      char name[16];
      std::snprintf(name, sizeof name, "weir-shard-%u", k);
      pthread_setname_np(pthread_self(), name);
      shards_[k]->run_loop();
    });
  }
  debug_.start();
}

void runtime_impl::sim_loop() {
  sim_state& sim = *sim_;
  std::vector<unsigned> ready;
  // A shard the loop leaves alone until then: a thread preempted or slowed down, the delay
  // between shards that real concurrency gives and a single thread does not.
  std::vector<shard::clock::time_point> stalled(size(), sim_state::start);
  const auto turn = [&](unsigned k, unsigned limit) {
    shard& s = *shards_[k];
    tl_shard = &s;
    metrics::detail::tl_slot = k;
    s.thread_id.store(static_cast<unsigned long>(pthread_self()), std::memory_order_release);
    s.run_batch(limit);
    metrics::detail::tl_slot = metrics::detail::no_slot;
    tl_shard = nullptr;
  };
  while (!stopping()) {
    ready.clear();
    for (unsigned k = 0; k < size(); ++k)
      if (stalled[k] <= sim.now() && shards_[k]->sim_ready()) ready.push_back(k);
    if (!ready.empty()) {
      const unsigned k = ready[sim.next() % ready.size()];
      if (size() > 1 && sim.next() % 32 == 0) {  // 100 us to 3 ms
        const auto d = std::chrono::microseconds(100 + static_cast<long long>(sim.next() % 2901));
        stalled[k] = sim.now() + d;
        sim.note("stall", k, static_cast<std::uint64_t>(d.count()));
        continue;
      }
      const unsigned limit = 1 + static_cast<unsigned>(sim.next() % 8);
      sim.note("turn", k, limit);
      turn(k, limit);
      continue;
    }
    if (sim.run_due_event()) continue;
    // Nothing can happen now: move time to the earliest deadline, if a caller waits.
    bool any = false;
    shard::clock::time_point next{};
    const auto candidate = [&](shard::clock::time_point at) {
      if (!any || at < next) next = at, any = true;
    };
    for (unsigned k = 0; k < size(); ++k) {
      // A stalled shard with work waits for the end of its stall; its timers too.
      if (stalled[k] > sim.now() && shards_[k]->sim_ready()) candidate(stalled[k]);
      if (shard::clock::time_point at; shards_[k]->next_deadline(at))
        candidate(std::max(at, stalled[k]));
    }
    if (shard::clock::time_point at; sim.next_event(at)) candidate(at);
    if (any && sim.callers.load(std::memory_order_acquire) > 0) {
      if (next < sim.now()) next = sim.now();
      if (next > sim.now())
        sim.note("time", static_cast<std::uint64_t>((next - sim.now()).count()));
      // (A timer's deadline may be a lower bound, for an upper wheel level: the shard's next
      // turn cascades it, and the loop moves on.)
      sim.set_now(next);
      for (auto& s : shards_) s->sim_set_now(next);
      continue;
    }
    // Quiescent: only work from outside (block_on) or the end can come. Parked shards poke
    // the loop when woken (shard::unpark -> the sim reactor's wake).
    bool sleep = true;
    for (auto& s : shards_) sleep = s->sim_park() && sleep;
    if (sleep) sim.idle(std::chrono::seconds(1));
    for (auto& s : shards_) s->sim_unpark();
  }
  for (auto& s : shards_) {
    tl_shard = s.get();
    s->io().quiesce();
  }
  tl_shard = nullptr;
}

runtime_impl::~runtime_impl() {
  // 1. stop every shard thread; 2. finish running blocking jobs; 3. destroy what is left.
  debug_.stop();
  stopping_.store(true, std::memory_order_seq_cst);
  if (sim_) sim_->poke();
  for (auto& s : shards_) s->unpark();
  for (auto& s : shards_) s->io().wake();
  for (auto& t : threads_) t.join();
  pool_.stop();
  for (auto& s : shards_) s->mark_dead();
  for (auto& s : shards_) s->destroy_all_tasks();
}

mailbox::mailbox(unsigned f, unsigned t, std::size_t capacity) : from(f), to(t) {
  std::size_t cap = 2;
  while (cap < capacity) cap <<= 1;
  capacity_ = cap;
  mask_ = cap - 1;
  slots_ = std::make_unique<remote_request*[]>(cap);
}

}  // namespace detail

namespace {
// Before anything of the runtime can log (the backend line is the first).
runtime_options installing_log_sink(runtime_options o) {
  if (o.log_sink) log::set_sink(o.log_sink);
  log::detail::runtime_started();
  return o;
}
}  // namespace

runtime::runtime(runtime_options opts)
    : impl_(std::make_unique<detail::runtime_impl>(installing_log_sink(std::move(opts)))) {}

runtime::~runtime() {
  impl_.reset();  // every shard has stopped: nothing queues log lines any more
  log::detail::runtime_stopped();
}

unsigned runtime::shard_count() const noexcept { return impl_->size(); }

const char* runtime::backend_name() const noexcept { return impl_->at(0).io().name(); }

std::uint64_t runtime::sim_seed() const noexcept { return impl_->sim() ? impl_->sim()->seed() : 0; }

std::uint64_t runtime::sim_trace_hash() const noexcept {
  return impl_->sim() ? impl_->sim()->trace_hash() : 0;
}

runtime::shard_stats runtime::stats(unsigned k) const noexcept {
  return impl_->at(k).stats().read();
}

namespace {
// The sim backend's state of the calling shard's runtime; null off a shard or on another backend.
detail::sim_state* shard_sim() noexcept {
  return detail::tl_shard ? detail::tl_shard->rt().sim() : nullptr;
}
}  // namespace

std::chrono::system_clock::time_point wall_now() noexcept {
  if (detail::sim_state* s = shard_sim()) return s->wall();
  return std::chrono::system_clock::now();
}

std::time_t wall_time() noexcept {
  if (detail::sim_state* s = shard_sim()) return std::chrono::system_clock::to_time_t(s->wall());
  return std::time(nullptr);
}

bool sim_jump_wall_clock(std::chrono::system_clock::duration d) noexcept {
  detail::sim_state* s = shard_sim();
  if (!s) return false;
  s->wall_offset += d;
  s->note("wall-jump", static_cast<std::uint64_t>(d.count()));
  return true;
}

void detail::block_on_finished() noexcept {
  if (sim_state* s = shard_sim()) s->callers.fetch_sub(1, std::memory_order_acq_rel);
}

void runtime::check_not_on_shard() {
  if (detail::tl_shard)
    throw std::logic_error("runtime::block_on called from a shard thread (it would deadlock)");
}

void runtime::inject_main(detail::root_base* root, const char* name, std::source_location site) {
  root->record.name = name;
  root->record.spawn_site = site;
  root->sched.env = root->env_;
  if (impl_->sim()) impl_->sim()->callers.fetch_add(1, std::memory_order_acq_rel);
  impl_->at(0).inject(root);
}

registry_snapshot runtime::snapshot(const task_filter& f) { return detail::snapshot(*impl_, f); }

unsigned this_shard() { return detail::require_shard("weir::this_shard").id(); }

unsigned shard_count() { return detail::require_shard("weir::shard_count").rt().size(); }

}  // namespace weir
