#include <weir/core/detail/cycle_clock.hpp>
#include <weir/core/detail/runtime_impl.hpp>
#include <weir/core/registry.hpp>
#include <weir/core/render.hpp>

#include <fmt/format.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace weir {

using detail::task_record;
using detail::wait_kind;

namespace {

std::int64_t steady_ns() { return std::chrono::steady_clock::now().time_since_epoch().count(); }

// "127.0.0.1:50412", "[::1]:80", "unix:/path"; empty when the socket has no such end.
std::string sock_name(int fd, bool peer) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  auto* sa = reinterpret_cast<sockaddr*>(&ss);
  if ((peer ? getpeername(fd, sa, &len) : getsockname(fd, sa, &len)) != 0) return {};
  char ip[INET6_ADDRSTRLEN] = "";
  std::string out;
  if (ss.ss_family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(sa);
    inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
    fmt::format_to(std::back_inserter(out), "{}:{}", ip, ntohs(in->sin_port));
  } else if (ss.ss_family == AF_INET6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(sa);
    inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
    fmt::format_to(std::back_inserter(out), "[{}]:{}", ip, ntohs(in6->sin6_port));
  } else if (ss.ss_family == AF_UNIX) {
    auto* un = reinterpret_cast<sockaddr_un*>(sa);
    if (len > offsetof(sockaddr_un, sun_path) && un->sun_path[0])
      out = std::string("unix:") + un->sun_path;
  }
  return out;
}

std::string describe_fd(const char* op, std::int64_t fd, bool peer) {
  std::string out;
  fmt::format_to(std::back_inserter(out), "{} fd {}", op, fd);
  std::string addr = sock_name(static_cast<int>(fd), peer);
  if (addr.empty() && peer) addr = sock_name(static_cast<int>(fd), false);
  if (!addr.empty()) out += " (" + addr + ")";
  return out;
}

// What a waiting task waits on, in words.
std::string describe_wait(wait_kind k, std::int64_t arg, const char* label, std::int64_t now) {
  std::string out;
  // A labelled wait on a descriptor: the label says what for ("tx ring full, 256 slots").
  if (label && *label && k >= wait_kind::read && k <= wait_kind::readiness) {
    out = label;
    return out + ": " + describe_wait(k, arg, nullptr, now);
  }
  switch (k) {
    case wait_kind::none: return "suspended";
    case wait_kind::sleep:
      fmt::format_to(std::back_inserter(out), "sleep until {:+.3f} s",
                     static_cast<double>(arg - now) / 1e9);
      return out;
    case wait_kind::read: return describe_fd("read", arg, true);
    case wait_kind::write: return describe_fd("write", arg, true);
    case wait_kind::accept: return describe_fd("accept", arg, false);
    case wait_kind::connect: return describe_fd("connect", arg, true);
    case wait_kind::readiness: return describe_fd("readiness of", arg, true);
    case wait_kind::channel_send:
      fmt::format_to(std::back_inserter(out), "channel send: full, capacity {}", arg);
      return out;
    case wait_kind::channel_recv:
      fmt::format_to(std::back_inserter(out), "channel receive: empty, capacity {}", arg);
      return out;
    case wait_kind::mutex: return "mutex lock";
    case wait_kind::semaphore:
      fmt::format_to(std::back_inserter(out), "semaphore acquire: {} permit(s)", arg);
      return out;
    case wait_kind::notify: return label && *label ? std::string(label) : std::string("notify");
    case wait_kind::wait_group:
      fmt::format_to(std::back_inserter(out), "wait_group: {} outstanding", arg);
      return out;
    case wait_kind::broadcast: return "broadcast receive";
    case wait_kind::oneshot:
      return label && *label ? std::string("oneshot from ") + label : std::string("oneshot");
    case wait_kind::join:
      fmt::format_to(std::back_inserter(out), "join task {}", static_cast<std::uint64_t>(arg));
      return out;
    case wait_kind::task_group: return "task_group: children running";
    case wait_kind::shard_call:
      fmt::format_to(std::back_inserter(out), "on_shard({}) reply", arg);
      return out;
    case wait_kind::mailbox_full:
      fmt::format_to(std::back_inserter(out), "mailbox to shard {}: full", arg);
      return out;
    case wait_kind::blocking:
      return label && *label ? std::string("blocking pool: ") + label
                             : std::string("blocking pool job");
    case wait_kind::signal: return "signal";
    case wait_kind::yield: return "yield";
  }
  return "suspended";
}

[[maybe_unused]] const char* state_name(detail::task_state s) {
  switch (s) {
    case detail::task_state::running: return "running";
    case detail::task_state::waiting: return "waiting";
    case detail::task_state::ready: break;
  }
  return "ready";
}

bool matches(const task_snapshot& t, const task_filter& f) {
  if (!f.state.empty() && f.state != t.state) return false;
  if (f.min_wait.count() > 0 && (std::string_view(t.state) != "waiting" || t.waiting < f.min_wait))
    return false;
  if (!f.name.empty() && t.name.find(f.name) == std::string::npos &&
      t.context.find(f.name) == std::string::npos)
    return false;
  return true;
}

}  // namespace

#if WEIR_REGISTRY
namespace {

// A task's first context: made outside the lock (only the shard's thread writes the pointer;
// dumps read it under the lock).
[[gnu::noinline]] detail::task_context* make_context(detail::shard& sh, task_record& rec) {
  auto* c = new detail::task_context();
  sh.registry_mu().lock();
  rec.context = c;
  sh.registry_mu().unlock();
  return c;
}

// The context of the task whose run is in progress on this thread, or null outside a task.
// `sh` is set to the task's shard.
inline detail::task_context* current_context(detail::shard*& sh) {
  sh = detail::current_shard();
  task_record* rec = sh ? sh->current_task() : nullptr;
  if (!rec) return nullptr;
  return rec->context ? rec->context : make_context(*sh, *rec);
}

}  // namespace
#endif

void set_task_context(std::string_view text) {
#if WEIR_REGISTRY
  detail::shard* sh = nullptr;
  detail::task_context* c = current_context(sh);
  if (!c) return;
  if (text.size() > 200) text = text.substr(0, 200);
  sh->registry_mu().lock();
  c->text.assign(text);
  c->what = {};
  c->detail_size = 0;
  sh->registry_mu().unlock();
#else
  (void)text;
#endif
}

void set_task_context_detail(std::string_view what, std::string_view text) {
#if WEIR_REGISTRY
  detail::shard* sh = nullptr;
  detail::task_context* c = current_context(sh);
  if (!c) return;
  const std::size_t n = std::min(text.size(), detail::task_context::detail_max);
  sh->registry_mu().lock();
  c->what = what;
  c->detail_size = n;
  if (n) std::memcpy(c->detail, text.data(), n);
  sh->registry_mu().unlock();
#else
  (void)what, (void)text;
#endif
}

registry_snapshot detail::snapshot(runtime_impl& rt, const task_filter& f) {
  registry_snapshot s;
  s.pid = static_cast<int>(getpid());
  s.backend = rt.at(0).io().name();
  s.taken = std::chrono::system_clock::now();
  s.lost_wakeups = rt.debug().lost_count();
  s.stalls = rt.debug().stall_count();
  const std::int64_t now = steady_ns();  // deadlines are steady_clock's
  // The registry's times are cycle_clock readings.
  [[maybe_unused]] const std::int64_t ticks = detail::cycle_clock::now();
  [[maybe_unused]] const double ns_per_tick = detail::cycle_clock::ns_per_tick();
  const auto threshold = rt.options().stall_threshold;
  for (unsigned k = 0; k < rt.size(); ++k) {
    detail::shard& sh = rt.at(k);
    shard_snapshot ss;
    ss.id = k;
    ss.counters = sh.stats().read();
    // Copied under the lock, worded after it (describing a socket is a system call).
    struct raw {
      std::size_t index;
      wait_kind kind;
      std::int64_t arg;
      const char* label;
    };
    std::vector<raw> raws;
    [[maybe_unused]] bool running = false;
    sh.registry_mu().lock();
#if WEIR_REGISTRY
    // A run in progress (odd), timed from when the watchdog first saw it (0: not yet).
    const detail::run_monitor& m = sh.monitor();
    const std::uint64_t run = m.seq.load(std::memory_order_acquire);
    if ((running = run & 1)) {
      if (m.seen_seq.load(std::memory_order_acquire) == run)
        ss.run_for = detail::cycle_clock::to_ns(ticks - m.seen_at.load(std::memory_order_relaxed),
                                                ns_per_tick);
      if (task_record* r = sh.current_task()) ss.running_task = r->id;
      ss.stuck = threshold.count() > 0 && ss.run_for > threshold;
    }
#endif
    sh.roots().for_each([&](detail::ilist_node* n) {
      const task_record& r = detail::root_of(n).record;
      ++ss.tasks;
      task_snapshot t;
      t.id = r.id;
      t.parent = r.parent_id;
      t.shard = k;
      t.name = r.name ? r.name : "";
      t.spawn_site = r.spawn_site;
#if WEIR_REGISTRY
      t.state = state_name(r.state.load(std::memory_order_relaxed));
      if (running && r.id == ss.running_task) {
        t.state = "running";
        t.waiting = ss.run_for;
      }
      if (std::string_view(t.state) == "waiting") {
        // (0: its first run is just starting, and the snapshot missed that it runs.)
        const std::int64_t since = r.since.load(std::memory_order_relaxed);
        if (since) t.waiting = detail::cycle_clock::to_ns(ticks - since, ns_per_tick);
        raws.push_back({s.tasks.size(), r.wait.load(std::memory_order_relaxed),
                        r.wait_arg.load(std::memory_order_relaxed),
                        r.wait_label.load(std::memory_order_relaxed)});
      }
      t.await_site = r.await_site.load(std::memory_order_relaxed);
      t.runs = r.runs.load(std::memory_order_relaxed);
      t.busy = detail::cycle_clock::to_ns(r.busy.load(std::memory_order_relaxed), ns_per_tick);
      t.context = detail::context_text(r);
#endif
      s.tasks.push_back(std::move(t));
    });
    sh.registry_mu().unlock();
    for (const raw& w : raws) s.tasks[w.index].wait = describe_wait(w.kind, w.arg, w.label, now);
    s.shards.push_back(ss);
  }
  std::erase_if(s.tasks, [&](const task_snapshot& t) { return !matches(t, f); });
  std::stable_sort(s.tasks.begin(), s.tasks.end(), [](const auto& a, const auto& b) {
    const bool wa = std::string_view(a.state) == "waiting",
               wb = std::string_view(b.state) == "waiting";
    if (wa != wb) return wa;
    return a.waiting > b.waiting;
  });
  return s;
}

registry_snapshot snapshot(const task_filter& f) {
  return detail::snapshot(detail::require_shard("weir::snapshot").rt(), f);
}

registry_snapshot snapshot(runtime& rt, const task_filter& f) {
  return detail::snapshot(detail::runtime_access::impl(rt), f);
}
std::vector<stall_report> stalls(runtime& rt) {
  return detail::runtime_access::impl(rt).debug().stalls();
}
std::vector<lost_wakeup_report> lost_wakeups(runtime& rt) {
  return detail::runtime_access::impl(rt).debug().lost();
}

void write_runtime_metrics(runtime& rt, metrics::prometheus_writer& w) {
  using metrics::type;
  const registry_snapshot s = snapshot(rt);
  std::vector<std::string> ids;  // label values
  for (const auto& sh : s.shards) ids.push_back(std::to_string(sh.id));

  constexpr metrics::family tasks{"weir_tasks", "Live tasks by state.", type::gauge};
  constexpr const char* states[3] = {"running", "ready", "waiting"};
  for (std::size_t k = 0; k < s.shards.size(); ++k) {
    std::size_t n[3] = {0, 0, 0};
    for (const auto& t : s.tasks) {
      if (t.shard != s.shards[k].id) continue;
      const std::string_view st = t.state;
      n[st == "running" ? 0 : st == "ready" ? 1 : 2]++;
    }
    for (int i = 0; i < 3; ++i) w.write(tasks, {{"shard", ids[k]}, {"state", states[i]}}, n[i]);
  }
  for (const shard_counter_info& c : shard_counter_table)
    for (std::size_t k = 0; k < s.shards.size(); ++k)
      w.write(c.family, {{"shard", ids[k]}}, s.shards[k].counters.*c.value);
  w.write(
      {"weir_lost_wakeups_total", "Waiting tasks whose last wake-up handle died.", type::counter},
      {}, s.lost_wakeups);
  constexpr metrics::family stuck{"weir_shard_stuck",
                                  "1 while the shard's current run exceeds the stall threshold.",
                                  type::gauge};
  for (std::size_t k = 0; k < s.shards.size(); ++k)
    w.write(stuck, {{"shard", ids[k]}}, s.shards[k].stuck ? 1 : 0);
}

}  // namespace weir
