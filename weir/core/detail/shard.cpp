#include <weir/core/detail/cycle_clock.hpp>
#include <weir/core/detail/runtime_impl.hpp>
#include <weir/core/detail/shard.hpp>
#include <weir/core/detail/sim.hpp>
#include <weir/core/metrics.hpp>

#include <pthread.h>

#include <stdexcept>
#include <string>

namespace weir::detail {

thread_local constinit shard* tl_shard = nullptr;

void wake(schedulable* s) noexcept {
  shard* cur = tl_shard;
  if (s->owner == cur)
    cur->schedule(s);
  else
    s->owner->schedule_remote(s);
}

bool start_deferred(schedulable& s, std::coroutine_handle<> h, task_env* env) noexcept {
  shard* sh = tl_shard;
  if (!sh) return false;  // outside a runtime (a benchmark driving a task by hand)
  s.handle = h;
  s.owner = sh;
  s.env = env;
  sh->schedule(&s);
  return true;
}

shard& require_shard(const char* what) {
  if (!tl_shard) throw std::logic_error(std::string(what) + " called outside a weir runtime");
  return *tl_shard;
}

shard::shard(runtime_impl& rt, unsigned id, std::unique_ptr<reactor> r, bool manual_clock,
             unsigned coop_ops, std::chrono::nanoseconds coop_quota, std::chrono::nanoseconds spin)
    : rt_(rt),
      id_(id),
      reactor_(std::move(r)),
      epoch_(clock::now()),
      manual_now_(epoch_),
      manual_(manual_clock),
      coop_budget_(coop_ops ? coop_ops : 1),
      coop_quota_ns_(coop_quota.count()),
      spin_(spin) {
  reactor_->count_into(stats_);
}

shard::~shard() = default;

void shard::schedule_remote(schedulable* s) noexcept {
  if (dead_) return;
  mark_ready(s);  // before the push: once queued, the task may run and end at any moment
  schedulable* head = remote_head_.load(std::memory_order_relaxed);
  do {
    s->next.store(head, std::memory_order_relaxed);
  } while (!remote_head_.compare_exchange_weak(head, s, std::memory_order_seq_cst,
                                               std::memory_order_relaxed));
  unpark();
}

void shard::drain_remote() noexcept {
  if (!remote_head_.load(std::memory_order_relaxed)) return;
  schedulable* s = remote_head_.exchange(nullptr, std::memory_order_acquire);
  // The stack holds the newest first: reverse to keep wake order.
  schedulable* fifo = nullptr;
  while (s) {
    schedulable* next = s->next.load(std::memory_order_relaxed);
    s->next.store(fifo, std::memory_order_relaxed);
    fifo = s;
    s = next;
  }
  while (fifo) {
    schedulable* next = fifo->next.load(std::memory_order_relaxed);
    ++stats_.remote_wakes;
    schedule(fifo);
    fifo = next;
  }
}

void shard::adopt(root_base* r) noexcept {
  r->sched.owner = this;
  r->record.shard = id_;
  registry_mu_.lock();
  roots_.push_back(&r->link);
  registry_mu_.unlock();
  ++stats_.spawned;
  schedule(&r->sched);
}

namespace {

#if WEIR_REGISTRY
[[gnu::noinline, gnu::cold]] void destroy_context(task_context* c) noexcept { delete c; }
#endif

// A root never adopted: a block_on root still in the injected list at shutdown.
[[gnu::noinline]] void forget_unadopted(root_base& r) noexcept {
  r.link.unlink();
#if WEIR_REGISTRY
  delete r.record.context;
#endif
}

}  // namespace

void shard::forget_root(root_base& r) noexcept {
  registry_mu_.lock();
  if (current_task_.load(std::memory_order_relaxed) == &r.record)
    current_task_.store(nullptr, std::memory_order_relaxed);
  r.link.unlink();
  registry_mu_.unlock();
#if WEIR_REGISTRY
  // Out of the registry: no dump can reach the context any more. (Out of line and tail-called:
  // the common task never had one, and its end stays as cheap as without the registry.)
  if (task_context* c = r.record.context) [[unlikely]]
    destroy_context(c);
#endif
}

root_base::~root_base() {
  if (sched.owner)
    sched.owner->forget_root(*this);
  else
    forget_unadopted(*this);
}

void shard::launch(root_base& r, std::coroutine_handle<> h, const char* name,
                   std::source_location site) noexcept {
  r.sched.handle = h;
  r.sched.env = r.env_;
  r.record.id = next_task_id();
  r.record.name = name;
  r.record.spawn_site = site;
  if (const task_record* parent = current_task()) r.record.parent_id = parent->id;
  adopt(&r);
}

void shard::inject(root_base* r) {
  {
    std::lock_guard lk(injected_mu_);
    injected_.push_back(&r->link);
  }
  has_injected_.store(true, std::memory_order_seq_cst);
  unpark();
}

void shard::drain_injected() {
  if (!has_injected_.load(std::memory_order_relaxed)) return;
  ilist taken;
  {
    std::lock_guard lk(injected_mu_);
    has_injected_.store(false, std::memory_order_relaxed);
    taken.splice_back(injected_);
  }
  while (auto* n = taken.pop_front()) {
    root_base& r = root_of(n);
    r.record.id = next_task_id();
    adopt(&r);
  }
}

void shard::drain_mailboxes() noexcept {
  const unsigned n = rt_.size();
  for (unsigned from = 0; from < n; ++from) {
    if (from == id_) continue;
    mailbox& box = rt_.box(from, id_);
    bool popped = false;
    while (remote_request* r = box.try_pop()) {
      popped = true;
      ++stats_.mailbox_requests;
      r->run(r);
    }
    if (popped && box.producer_waiting.load(std::memory_order_seq_cst) &&
        box.producer_waiting.exchange(false))
      rt_.at(from).signal_room();
  }
}

void shard::wake_mailbox_waiters() noexcept {
  const unsigned n = rt_.size();
  for (unsigned to = 0; to < n; ++to) {
    if (to == id_) continue;
    mailbox& box = rt_.box(id_, to);
    // Every waiter retries its push when it runs; those that find the ring full again wait
    // again, in their original order.
    while (ilist_node* node = box.waiters.pop_front())
      schedule(&static_cast<mailbox_waiter*>(node)->sched);
  }
}

bool shard::coop_exhausted() noexcept {
  ++stats_.coop_yields;
  budget_spent_ = true;
  coop_ops_ = coop_budget_;  // stays exhausted until the next run
  return false;
}

bool shard::coop_check_time(unsigned n) noexcept {
  const std::int64_t t = clock::now().time_since_epoch().count();
  if (n == 8) {
    coop_t0_ = t;
    return true;
  }
  if (t - coop_t0_ > coop_quota_ns_) return coop_exhausted();
  return true;
}

void shard::add_timer(timer_entry* e, clock::time_point deadline) noexcept {
  const auto d = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - epoch_).count();
  e->tick = d <= 0 ? 0 : static_cast<std::uint64_t>((d + 999'999) / 1'000'000);
  wheel_.insert(e);
}

void shard::fire_timers() noexcept {
  if (wheel_.empty()) return;
  const auto d = std::chrono::duration_cast<std::chrono::nanoseconds>(now() - epoch_).count();
  const std::uint64_t t = d <= 0 ? 0 : static_cast<std::uint64_t>(d / 1'000'000);
  while (timer_entry* e = wheel_.poll(t)) {
    ++stats_.timers_fired;
    e->fire(e);
  }
}

bool shard::has_incoming() const noexcept {
  if (remote_head_.load(std::memory_order_seq_cst)) return true;
  if (has_injected_.load(std::memory_order_seq_cst)) return true;
  if (room_signal_.load(std::memory_order_seq_cst)) return true;
  const unsigned n = rt_.size();
  for (unsigned from = 0; from < n; ++from)
    if (from != id_ && !rt_.box(from, id_).empty()) return true;
  return rt_.stopping();
}

bool shard::spin_for_incoming(std::chrono::nanoseconds limit) const noexcept {
  const auto until = clock::now() + limit;
  do {
    for (int i = 0; i < 32; ++i) {
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    }
    if (has_incoming()) return true;
  } while (clock::now() < until);
  return false;
}

void shard::park() {
  std::chrono::nanoseconds timeout{-1};
  if (auto tick = wheel_.next_expiration()) {
    const auto at = epoch_ + std::chrono::milliseconds(*tick);
    if (manual_) {
      if (external_pending_ == 0) {  // every task is idle: jump to the next deadline
        if (at > manual_now_) manual_now_ = at;
        return;
      }
    } else {
      timeout = std::max(std::chrono::nanoseconds(0),
                         std::chrono::duration_cast<std::chrono::nanoseconds>(at - clock::now()));
    }
  }
  if (spin_.count() > 0 && !manual_ && timeout.count() != 0) {
    // Submit queued I/O and take completions first: io_uring requests made during the last
    // runs must not wait for the spin, and ready I/O makes it moot.
    reactor_->wait(std::chrono::nanoseconds(0));
    if (run_head_) return;
    if (spin_for_incoming(timeout.count() > 0 ? std::min(spin_, timeout) : spin_)) return;
  }
  parked_.store(true, std::memory_order_seq_cst);
  if (has_incoming()) {
    parked_.store(false, std::memory_order_relaxed);
    return;
  }
  ++stats_.parks;
  reactor_->wait(timeout);
  parked_.store(false, std::memory_order_relaxed);
}

void shard::run_batch(unsigned limit) {
  if (sim_)
    run_batch_impl<true>(limit);
  else
    run_batch_impl<false>(limit);
}

template <bool Traced>
void shard::run_batch_impl(unsigned limit) {
  drain_injected();
  drain_remote();
  drain_mailboxes();
  if (room_signal_.load(std::memory_order_relaxed) && room_signal_.exchange(false))
    wake_mailbox_waiters();
  fire_timers();
  // Run a batch, then give timers, I/O and other shards a turn (as Tokio's event_interval).
  unsigned batch = 0;
#if WEIR_REGISTRY
  // One clock reading per batch, not per run (a reading costs ~10 ns, as much as a run of a
  // small task): tasks that suspend in this batch wait since its start. Busy time is sampled
  // by the watchdog (debug_state::sample_runs), stalls timed by it.
  const std::int64_t batch_start = cycle_clock::now();
#endif
  while (schedulable* s = pop()) {
    task_record* rec = s->env ? s->env->record : nullptr;
    current_task_.store(rec, std::memory_order_relaxed);
    coop_ops_ = 0;
    ++stats_.runs;
    if constexpr (Traced) sim_->note("run", id_, rec ? rec->id : 0);
#if WEIR_REGISTRY
    const std::uint64_t seq = monitor_.seq.load(std::memory_order_relaxed);
    monitor_.seq.store(seq + 1, std::memory_order_release);  // odd: running
    // Waiting once this run ends, unless a wake (mark_ready) makes it ready meanwhile; the
    // awaiter that suspends it says on what (note_wait) and where (sited_awaiter).
    if (rec) rec->state.store(task_state::waiting, std::memory_order_relaxed);
    s->handle.resume();
    monitor_.seq.store(seq + 2, std::memory_order_release);
    // The run's account goes to a task that is still there (null: it ended in the run).
    if ((rec = current_task_.load(std::memory_order_relaxed))) {
      rec->runs.store(rec->runs.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      rec->since.store(batch_start, std::memory_order_relaxed);
    }
#else
    s->handle.resume();
#endif
    // After a run that spent its budget (a busy task: its next run is queued already), or
    // every `limit` runs, let I/O, timers and other shards in: a busy task must not delay the
    // completions of the others for `limit` of its quotas.
    if (++batch == limit || budget_spent_) {
      budget_spent_ = false;
      reactor_->wait(std::chrono::nanoseconds(0));
      break;
    }
  }
  current_task_.store(nullptr, std::memory_order_relaxed);
}

void shard::run_loop() {
  tl_shard = this;
  metrics::detail::tl_slot = id_;  // this thread writes block `id_` of every metric
  thread_id.store(static_cast<unsigned long>(pthread_self()), std::memory_order_release);
  while (!rt_.stopping()) {
    run_batch_impl<false>(61);
    if (!run_head_) park();
  }
  reactor_->quiesce();  // no I/O in flight: the tasks waiting on it can now be destroyed
  metrics::detail::tl_slot = metrics::detail::no_slot;
  tl_shard = nullptr;
}

bool shard::sim_ready() const noexcept {
  if (run_head_ || remote_head_.load(std::memory_order_relaxed) ||
      has_injected_.load(std::memory_order_relaxed) ||
      room_signal_.load(std::memory_order_relaxed))
    return true;
  const unsigned n = rt_.size();
  for (unsigned from = 0; from < n; ++from)
    if (from != id_ && !rt_.box(from, id_).empty()) return true;
  clock::time_point at;
  return next_deadline(at) && at <= manual_now_;
}

bool shard::next_deadline(clock::time_point& at) const noexcept {
  auto tick = wheel_.next_expiration();
  if (!tick) return false;
  at = epoch_ + std::chrono::milliseconds(*tick);
  return true;
}

void shard::destroy_all_tasks() {
  shard* prev = tl_shard;
  tl_shard = this;
  run_head_ = run_tail_ = nullptr;
  remote_head_.store(nullptr);
  {
    std::lock_guard lk(injected_mu_);
    roots_.splice_back(injected_);
  }
  // Newest first: a task's children are spawned after it, and state a parent shares with its
  // children (a mutex, a channel in its frame) must outlive the children's destructors.
  for (;;) {
    registry_mu_.lock();
    ilist_node* n = roots_.pop_back();
    registry_mu_.unlock();
    if (!n) break;
    root_of(n).sched.handle.destroy();
  }
  tl_shard = prev;
}

}  // namespace weir::detail
