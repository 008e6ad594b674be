// The watchdog thread, stall backtraces, SIGQUIT dumps, lost-wake-up reports and the
// symbolizer (docs/architecture.md D5, D7).
#include <weir/core/detail/cycle_clock.hpp>
#include <weir/core/detail/debug_state.hpp>
#include <weir/core/detail/runtime_impl.hpp>
#include <weir/core/log.hpp>
#include <weir/core/render.hpp>

#include <cxxabi.h>
#include <elfutils/libdwfl.h>
#include <execinfo.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>

namespace weir {
std::string stack_frame::text() const {
  std::string out = function.empty() ? "?" : function;
  if (out.size() > 160) out = out.substr(0, 157) + "...";
  if (!file.empty()) out += " at " + file + ":" + std::to_string(line);
  return out;
}
}  // namespace weir

namespace weir::detail {

namespace {

std::int64_t steady_ns() { return std::chrono::steady_clock::now().time_since_epoch().count(); }

// --- signals ---------------------------------------------------------------------------------

// The dump signal's handler bumps a generation and pokes an eventfd that is never closed;
// every runtime's watchdog compares the generation on its next wake-up.
std::atomic<unsigned> g_dump_gen{0};
std::atomic<int> g_dump_fd{-1};
std::once_flag g_signals_once;

void on_dump_signal(int) {
  const int saved = errno;
  g_dump_gen.fetch_add(1, std::memory_order_relaxed);
  const int fd = g_dump_fd.load(std::memory_order_relaxed);
  if (fd >= 0) {
    const std::uint64_t one = 1;
    [[maybe_unused]] ssize_t r = ::write(fd, &one, sizeof one);
  }
  errno = saved;
}

// Runs on the stuck shard's thread: stores its backtrace if the run the watchdog asked about
// is still in progress. backtrace() is preloaded at start (its first call may allocate).
void on_stall_signal(int) {
  const int saved = errno;
  if (shard* s = current_shard()) {
    run_monitor& m = s->monitor();
    const std::uint64_t run = m.seq.load(std::memory_order_relaxed);
    if ((run & 1) && m.want.load(std::memory_order_acquire) == run)
      m.frames_n.store(backtrace(m.frames, static_cast<int>(std::size(m.frames))),
                       std::memory_order_release);
    else
      m.frames_n.store(-1, std::memory_order_release);
  }
  errno = saved;
}

void install_signals(int dump_signal, int stall_signal) {
  std::call_once(g_signals_once, [&] {
    void* warm[4];
    backtrace(warm, 4);  // loads the unwinder outside any signal handler
    struct sigaction sa {};
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sa.sa_handler = &on_stall_signal;
    sigaction(stall_signal, &sa, nullptr);
    if (dump_signal > 0) {
      g_dump_fd.store(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
      sa.sa_handler = &on_dump_signal;
      sigaction(dump_signal, &sa, nullptr);
    }
  });
}

int stall_signal_of(const runtime_options& o) {
  return o.stall_signal ? o.stall_signal : SIGRTMIN + 4;
}

// --- symbolizer ------------------------------------------------------------------------------

std::mutex g_sym_mu;
Dwfl* g_dwfl = nullptr;
std::map<std::uintptr_t, stack_frame> g_sym_cache;

Dwfl* dwfl_for_self() {
  static const Dwfl_Callbacks callbacks = {
      .find_elf = dwfl_linux_proc_find_elf,
      .find_debuginfo = dwfl_standard_find_debuginfo,
      .section_address = nullptr,
      .debuginfo_path = nullptr,
  };
  if (g_dwfl) return g_dwfl;
  g_dwfl = dwfl_begin(&callbacks);
  if (!g_dwfl) return nullptr;
  dwfl_report_begin(g_dwfl);
  if (dwfl_linux_proc_report(g_dwfl, getpid()) != 0 ||
      dwfl_report_end(g_dwfl, nullptr, nullptr) != 0) {
    dwfl_end(g_dwfl);
    g_dwfl = nullptr;
  }
  return g_dwfl;
}

stack_frame symbolize_one(Dwfl* d, std::uintptr_t pc) {
  stack_frame f;
  Dwfl_Module* m = d ? dwfl_addrmodule(d, pc) : nullptr;
  if (!m) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "0x%zx", static_cast<std::size_t>(pc));
    f.function = buf;
    return f;
  }
  if (const char* name = dwfl_module_addrname(m, pc)) {
    int status = -1;
    char* dem = abi::__cxa_demangle(name, nullptr, nullptr, &status);
    f.function = status == 0 && dem ? dem : name;
    std::free(dem);
  }
  if (Dwfl_Line* line = dwfl_module_getsrc(m, pc)) {
    int ln = 0;
    if (const char* file = dwfl_lineinfo(line, nullptr, &ln, nullptr, nullptr, nullptr)) {
      f.file = file;
      f.line = static_cast<unsigned>(ln);
#ifdef WEIR_SOURCE_DIR
      if (f.file.starts_with(WEIR_SOURCE_DIR)) f.file.erase(0, sizeof(WEIR_SOURCE_DIR) - 1);
#endif
    }
  }
  if (f.function.empty() && f.file.empty()) {
    Dwarf_Addr base = 0;
    const char* mod =
        dwfl_module_info(m, nullptr, &base, nullptr, nullptr, nullptr, nullptr, nullptr);
    char buf[64];
    std::snprintf(buf, sizeof buf, "+0x%zx", static_cast<std::size_t>(pc - base));
    f.function = std::string(mod ? mod : "?") + buf;
  }
  return f;
}

// Frames inside weir's own machinery (the reporting path, primitives' internals, the run
// loop), the standard library and libc are not where a user looks first. (The file of a
// frame is that of its innermost inlined code; the function is the real one.)
bool is_runtime_frame(const stack_frame& f) {
  const std::string_view fn = f.function;
  const std::string_view head = fn.substr(0, fn.find('('));  // "void ns::f<int>" of "...(args)"
  static constexpr std::string_view internal[] = {"weir::detail::", "weir::completion_source",
                                                  "weir::c_callback", "weir::runtime", "std::"};
  for (std::string_view p : internal) {
    const auto at = head.find(p);
    if (at == 0 || (at != std::string_view::npos && head[at - 1] == ' ')) return true;
  }
  if (fn.substr(0, 2) == "__" || fn.rfind("start_thread", 0) == 0 || fn.rfind("clone", 0) == 0)
    return true;
  if (f.file.rfind("../", 0) == 0 || f.file.rfind("./", 0) == 0) return true;  // glibc
  return f.file.empty() &&
         (fn.find(".so") != std::string_view::npos || fn.rfind("0x", 0) == 0 || fn.empty());
}

}  // namespace

std::vector<stack_frame> symbolize(void* const* frames, int n, int skip) {
  std::vector<stack_frame> out;
  std::lock_guard lk(g_sym_mu);
  Dwfl* d = dwfl_for_self();
  for (int i = skip; i < n; ++i) {
    // A return address points after the call: look up the call itself.
    auto pc = reinterpret_cast<std::uintptr_t>(frames[i]);
    if (i > 0 && pc) --pc;
    auto it = g_sym_cache.find(pc);
    if (it == g_sym_cache.end()) it = g_sym_cache.emplace(pc, symbolize_one(d, pc)).first;
    out.push_back(it->second);
  }
  return out;
}

std::string first_user_frame(const std::vector<stack_frame>& bt) {
  for (const auto& f : bt)
    if (!is_runtime_frame(f)) return f.text();
  return bt.empty() ? std::string("?") : bt.front().text();
}

bool log_limiter::allow(std::int64_t now_ns, std::uint64_t& held) noexcept {
  if (any_ && now_ns - last_ns_ < 1'000'000'000) {
    ++held_;
    return false;
  }
  any_ = true;
  last_ns_ = now_ns;
  held = held_;
  held_ = 0;
  return true;
}

// --- debug_state -------------------------------------------------------------------------------

debug_state::debug_state(runtime_impl& rt) : rt_(rt) {}

debug_state::~debug_state() { stop(); }

void debug_state::start() {
  const auto& o = rt_.options();
  install_signals(o.dump_signal, stall_signal_of(o));
  stalled_run_.assign(rt_.size(), 0);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  thread_ = std::thread([this] { watchdog(); });
}

void debug_state::stop() {
  if (!thread_.joinable()) return;
  stop_.store(true);
  const std::uint64_t one = 1;
  [[maybe_unused]] ssize_t r = ::write(wake_fd_, &one, sizeof one);
  thread_.join();
  ::close(wake_fd_);
  wake_fd_ = -1;
  flush_pending();
  std::uint64_t held = stall_log_.held() + lost_log_.held();
  if (held)
    log::warn("stall and lost wake-up reports held back by the rate limit",
              {{"reports", std::to_string(held)}});
}

void debug_state::watchdog() {
  pthread_setname_np(pthread_self(), "weir-watchdog");
  const auto threshold = rt_.options().stall_threshold;
  // Check often enough to catch a stall within a quarter of the threshold.
  const int tick_ms = threshold.count() > 0
                          ? static_cast<int>(std::clamp<std::int64_t>(threshold.count() / 4, 1, 50))
                          : 50;
  dump_gen_ = g_dump_gen.load();
  while (!stop_.load()) {
    pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {g_dump_fd.load(), POLLIN, 0}};
    ::poll(fds, fds[1].fd >= 0 ? 2 : 1, tick_ms);
    std::uint64_t v;
    if (fds[0].revents & POLLIN) [[maybe_unused]]
      ssize_t r = ::read(wake_fd_, &v, sizeof v);
    if (fds[1].fd >= 0 && (fds[1].revents & POLLIN)) [[maybe_unused]]
      ssize_t r = ::read(fds[1].fd, &v, sizeof v);
    if (stop_.load()) break;
    sample_runs(cycle_clock::now());
    const unsigned gen = g_dump_gen.load();
    if (gen != dump_gen_ && rt_.options().dump_signal != 0) {
      dump_gen_ = gen;
      log::write_block(log::level::info, "task dump", {{"pid", std::to_string(::getpid())}},
                       format_dump(detail::snapshot(rt_)));
    }
    flush_pending();
  }
}

void debug_state::sample_runs(std::int64_t now) {
  const auto threshold_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(rt_.options().stall_threshold).count();
  const double ns_per_tick = cycle_clock::ns_per_tick();
  [[maybe_unused]] const std::int64_t interval = last_sample_ ? now - last_sample_ : 0;
  last_sample_ = now;
  for (unsigned k = 0; k < rt_.size(); ++k) {
    shard& sh = rt_.at(k);
    run_monitor& m = sh.monitor();
    const std::uint64_t run = m.seq.load(std::memory_order_acquire);
    if (!(run & 1)) continue;  // between runs
#if WEIR_REGISTRY
    // Busy time by sampling: the interval since the last look goes to the task found running
    // (over many samples, each task's share of them is its share of the time).
    sh.registry_mu().lock();
    if (m.seq.load(std::memory_order_relaxed) == run)
      if (task_record* t = sh.current_task())
        t->busy.store(t->busy.load(std::memory_order_relaxed) + interval,
                      std::memory_order_relaxed);
    sh.registry_mu().unlock();
#endif
    if (run != m.seen_seq.load(std::memory_order_relaxed)) {  // a run not seen before
      m.seen_at.store(now, std::memory_order_relaxed);
      m.seen_seq.store(run, std::memory_order_release);
      continue;
    }
    const std::int64_t started = m.seen_at.load(std::memory_order_relaxed);
    if (threshold_ns <= 0 || run == stalled_run_[k]) continue;  // or reported already
    if (cycle_clock::to_ns(now - started, ns_per_tick).count() <= threshold_ns) continue;
    stalled_run_[k] = run;
    stall_count_.fetch_add(1);
    ++sh.stats_mut().stalls;  // the watchdog is the counter's only writer

    // The shard's backtrace, taken on its own thread while it is stuck.
    m.frames_n.store(0, std::memory_order_relaxed);
    m.want.store(run, std::memory_order_release);
    int n = 0;
    if (const unsigned long tid = sh.thread_id.load(std::memory_order_acquire)) {
      if (pthread_kill(static_cast<pthread_t>(tid), stall_signal_of(rt_.options())) == 0) {
        for (int i = 0; i < 100 && (n = m.frames_n.load(std::memory_order_acquire)) == 0; ++i)
          ::usleep(500);
      }
    }
    stall_report r;
    r.when = std::chrono::system_clock::now();
    r.shard = k;
    r.ran_for = cycle_clock::to_ns(cycle_clock::now() - started, ns_per_tick);
    sh.registry_mu().lock();
    if (m.seq.load(std::memory_order_relaxed) == run)
      if (const task_record* t = sh.current_task()) {
        r.task = t->id;
        r.name = t->name ? t->name : "";
        r.spawn_site = t->spawn_site;
#if WEIR_REGISTRY
        r.await_site = t->await_site.load(std::memory_order_relaxed);
        r.context = context_text(*t);
#endif
      }
    sh.registry_mu().unlock();
    // Skip the handler's own frame and the signal trampoline.
    if (n > 2) r.backtrace = symbolize(m.frames, n, 2);

    std::lock_guard flk(flush_mu_);
    std::uint64_t held = 0;
    const bool log_it = stall_log_.allow(steady_ns(), held);
    std::string ran, threshold, spawned, awaited, in, held_text, shard_id, task_id;
    if (log_it) {  // the words, before the report moves into the list
      shard_id = std::to_string(k);
      task_id = std::to_string(r.task);
      ran = std::to_string(r.ran_for.count() / 1'000'000);
      threshold = std::to_string(threshold_ns / 1'000'000);
      spawned = site_text(r.spawn_site);
      awaited = site_text(r.await_site);
      in = r.backtrace.empty() ? "" : first_user_frame(r.backtrace);
      held_text = std::to_string(held);
    }
    const std::string name = r.name;
    {
      std::lock_guard lk(mu_);  // stored first: /debug/stalls has it before the log line is out
      stalls_.push_back(std::move(r));
      if (stalls_.size() > 64) stalls_.pop_front();
    }
    if (log_it)
      log::warn("stall: a task runs without yielding", {{"shard", shard_id},
                                                        {"task", task_id},
                                                        {"name", name},
                                                        {"ran_ms", ran},
                                                        {"threshold_ms", threshold},
                                                        {"spawned_at", spawned},
                                                        {"last_await", awaited},
                                                        {"in", in},
                                                        {"held_back", held_text}});
  }
}

void debug_state::report_lost(const task_record* waiting, std::uint64_t task_id,
                              const char* task_name, const char* what) {
  lost_count_.fetch_add(1);
  pending_lost p;
  p.n = backtrace(p.frames, static_cast<int>(std::size(p.frames)));
  lost_wakeup_report& r = p.report;
  r.when = std::chrono::system_clock::now();
  r.what = what;
  r.task = task_id;
  r.name = task_name ? task_name : "";
  if (waiting) {
    r.task = waiting->id;
    r.name = waiting->name ? waiting->name : "";
    r.shard = waiting->shard;
#if WEIR_REGISTRY
    r.await_site = waiting->await_site.load(std::memory_order_relaxed);
    shard& sh = rt_.at(waiting->shard);
    sh.registry_mu().lock();
    r.context = context_text(*waiting);
    sh.registry_mu().unlock();
#endif
  }
  if (rt_.options().lost_wakeup == lost_wakeup_policy::abort) {
    r.backtrace = symbolize(p.frames, p.n, 1);
    r.where = first_user_frame(r.backtrace);
    std::string bt;
    for (const auto& f : r.backtrace) bt += "    " + f.text() + "\n";
    log_lost(r, bt);
    log::flush();
    std::abort();
  }
  {
    std::lock_guard lk(mu_);
    pending_.push_back(std::move(p));
  }
  if (wake_fd_ >= 0) {
    const std::uint64_t one = 1;
    [[maybe_unused]] ssize_t w = ::write(wake_fd_, &one, sizeof one);
  }
}

void debug_state::log_lost(const lost_wakeup_report& r, std::string_view backtrace) {
  const char* policy = rt_.options().lost_wakeup == lost_wakeup_policy::fail
                           ? "the task resumes with errc::lost_wakeup"
                       : rt_.options().lost_wakeup == lost_wakeup_policy::report
                           ? "the task stays waiting (policy report)"
                           : "aborting";
  const std::string task = r.task ? std::to_string(r.task) : std::string("none yet");
  log::write_block(log::level::error, "lost wake-up: a waiting task can never be woken",
                   {{"task", task},
                    {"name", r.name},
                    {"waiting_at", r.task ? site_text(r.await_site) : std::string()},
                    {"what", r.what},
                    {"in", r.where},
                    {"context", r.context},
                    {"then", policy}},
                   backtrace);
}

void debug_state::flush_pending() {
  std::lock_guard flk(flush_mu_);
  std::vector<pending_lost> batch;
  {
    std::lock_guard lk(mu_);
    batch.swap(pending_);
  }
  for (auto& p : batch) {
    p.report.backtrace = symbolize(p.frames, p.n, 1);
    p.report.where = first_user_frame(p.report.backtrace);
    std::uint64_t held = 0;
    if (lost_log_.allow(steady_ns(), held)) {
      log_lost(p.report, {});
      if (held)
        log::warn("more lost wake-ups in the last second: see /debug/lost",
                  {{"reports", std::to_string(held)}});
    }
    std::lock_guard lk(mu_);
    lost_.push_back(std::move(p.report));
    if (lost_.size() > 64) lost_.pop_front();
  }
}

std::vector<stall_report> debug_state::stalls() {
  std::lock_guard lk(mu_);
  return {stalls_.begin(), stalls_.end()};
}

std::vector<lost_wakeup_report> debug_state::lost() {
  flush_pending();
  std::lock_guard lk(mu_);
  return {lost_.begin(), lost_.end()};
}

}  // namespace weir::detail
