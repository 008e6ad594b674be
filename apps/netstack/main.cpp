// netstack — seed 000's layered network stack in its own process, behind a driver process that
// owns the NIC, with backpressure from the driver's ring up to the application.
//
//   netstack --tap ns0 --addr 192.0.2.2/24          # answers ARP and ping, UDP echo on port 7
//   netstack --tap ns0 --addr 192.0.2.2/24 --flood 192.0.2.1:9000 --count 100000 --size 1400
//   netstack --driver null --addr 192.0.2.2/24 --flood 192.0.2.2:9 --count 1000000  # benchmarks
//
// Starts the driver (this binary, `netstack driver ...`) as a child process with the rings'
// shared memory and eventfds; prints "listening on ADDR mac MAC tap NAME echo PORT admin
// ADDR|off driver PID" on stdout once both run. The driver dying ends the stack (exit 1), and
// the other way round. SIGTERM / SIGINT: stop both, exit 0. --flood: send, wait until the
// driver took every frame, print a summary line, exit 0.
#include "driver.hpp"
#include "layers.hpp"
#include "ring_link.hpp"

#include <weir/core/log.hpp>
#include <weir/core/runtime.hpp>
#include <weir/core/spawn.hpp>
#include <weir/core/time.hpp>
#include <weir/core/units.hpp>
#include <weir/core/when_all.hpp>
#include <weir/core/when_any.hpp>
#include <weir/debug/admin.hpp>
#include <weir/io/handle.hpp>
#include <weir/io/signal.hpp>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <optional>

namespace {

using namespace std::chrono_literals;
using weir::result;
using weir::task;

struct options {
  std::string tap = "netstack0";
  std::string driver = "tap";  // tap | null | loopback
  std::string addr = "192.0.2.2/24";
  std::string gateway;
  std::string mac;  // default: 02:00 + the address
  std::uint32_t ring_slots = 256;
  std::string driver_delay = "0";
  std::uint16_t echo_port = 7;
  std::string admin = "off";
  std::string admin_token_file;
  std::string flood;  // HOST:PORT
  std::uint64_t count = 100000;
  std::size_t size = 64;
  unsigned flows = 1;
  int driver_cpu = -1;  // pin the driver to this CPU (benchmarks)
};

struct flood_result {
  std::uint64_t sent = 0, failed = 0;
  std::string error;
};

// One flow of the flood: `n` datagrams from its own port, payload = flow (4 bytes), sequence
// number (8 bytes, big-endian), then a pattern; sent back to back, each send_to waiting while
// the layers below are full.
task<> flood_flow(netstack::udp_layer& udp, netstack::endpoint to, unsigned flow, std::uint64_t n,
                  std::size_t size, flood_result& out) {
  auto sock = netstack::udp_socket::bind(udp, 0);
  if (!sock) {
    out.error = sock.error().message();
    co_return;
  }
  weir::set_task_context(fmt::format("flood flow {} -> {}", flow, to.to_string()));
  auto p = std::make_unique<netstack::packet>();
  std::byte* b = p->payload();
  for (std::size_t i = 12; i < size; ++i) b[i] = static_cast<std::byte>(i * 7 + flow);
  for (std::uint64_t seq = 0; seq < n; ++seq) {
    for (int i = 0; i < 4; ++i) b[i] = static_cast<std::byte>(flow >> (24 - 8 * i));
    for (int i = 0; i < 8; ++i) b[4 + i] = static_cast<std::byte>(seq >> (56 - 8 * i));
    p->set_payload(size);
    auto r = co_await (*sock)->send_to(*p, to);
    if (!r) {
      ++out.failed;
      if (out.error.empty()) out.error = r.error().message();
      if (r.error() == weir::condition::cancellation) co_return;
      continue;
    }
    ++out.sent;
  }
}

// The UDP echo: every datagram back to its sender.
task<> echo(netstack::udp_socket& s) {
  weir::set_task_context(fmt::format("udp echo port {}", s.port()));
  std::array<std::byte, netstack::max_udp_payload> buf;
  for (;;) {
    auto d = co_await s.recv_from(buf, std::chrono::hours(24 * 365));
    if (!d) {
      if (d.error() == weir::errc::timed_out) continue;
      co_return;
    }
    auto r = co_await s.send_to(std::span<const std::byte>(buf.data(), d->size), d->from);
    if (!r && r.error() == weir::condition::cancellation) co_return;
  }
}

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

void write_driver_metrics(const netstack::driver_stats& d, std::uint32_t slots,
                          std::size_t tx_pending, weir::metrics::prometheus_writer& w) {
  using weir::metrics::family;
  static const family frames{"netstack_driver_frames_total", "Frames the driver moved"};
  static const family bytes{"netstack_driver_bytes_total", "Bytes the driver moved"};
  static const family events{"netstack_driver_events_total",
                             "tx_errors: frames the NIC refused; rx_ring_full: times the driver "
                             "stopped reading the NIC; tap_kernel_drops: the kernel's count of "
                             "frames dropped at the TAP queue"};
  static const family ring{"netstack_ring_slots", "Slots per ring", weir::metrics::type::gauge};
  static const family pending{"netstack_tx_ring_used", "Frames in the TX ring",
                              weir::metrics::type::gauge};
  w.write(frames, {{"dir", "tx"}}, d.tx_frames.load(std::memory_order_relaxed));
  w.write(frames, {{"dir", "rx"}}, d.rx_frames.load(std::memory_order_relaxed));
  w.write(bytes, {{"dir", "tx"}}, d.tx_bytes.load(std::memory_order_relaxed));
  w.write(bytes, {{"dir", "rx"}}, d.rx_bytes.load(std::memory_order_relaxed));
  w.write(events, {{"event", "tx_errors"}}, d.tx_errors.load(std::memory_order_relaxed));
  w.write(events, {{"event", "rx_ring_full"}}, d.rx_ring_full.load(std::memory_order_relaxed));
  w.write(events, {{"event", "tap_kernel_drops"}},
          d.tap_kernel_drops.load(std::memory_order_relaxed));
  w.write(ring, {}, slots);
  w.write(pending, {}, tx_pending);
}

struct running {
  const options& o;
  netstack::shm_region& region;
  pid_t driver_pid;
  int driver_pidfd;
  netstack::stack_options so;
};

int pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

// Resolves once the driver process has exited, with its status in words.
task<std::string> driver_exit(running& run) {
  weir::io::handle h(::dup(run.driver_pidfd), false);  // (main closes the original)
  weir::io::op_awaiter gone(h, weir::detail::io_op::kind::poll_in);
  gone.labelled("the driver process");
  auto r = co_await gone;
  if (!r) co_return std::string();
  int st = 0;
  if (::waitpid(run.driver_pid, &st, 0) != run.driver_pid) co_return std::string("gone");
  run.driver_pid = -1;
  if (WIFSIGNALED(st)) co_return fmt::format("killed by signal {}", WTERMSIG(st));
  co_return fmt::format("exited with status {}", WEXITSTATUS(st));
}

// The flood: `flows` senders, then waits until the driver took every frame; prints a summary.
task<int> run_flood(const options& o, netstack::stack& st, netstack::ring_link& link,
                    netstack::endpoint to) {
  std::vector<flood_result> results(o.flows);
  std::vector<task<>> flows;
  const std::uint64_t per = o.count / o.flows;
  const double cpu0 = cpu_seconds();
  const auto t0 = std::chrono::steady_clock::now();
  for (unsigned f = 0; f < o.flows; ++f) {
    const std::uint64_t n = f + 1 == o.flows ? o.count - per * (o.flows - 1) : per;
    flows.push_back(flood_flow(st.udp, to, f, n, o.size, results[f]));
  }
  (void)co_await weir::when_all(std::move(flows));
  for (int i = 0; i < 10000 && link.tx_pending() > 0; ++i) (void)co_await weir::sleep_for(1ms);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double cpu = cpu_seconds() - cpu0;
  std::uint64_t sent = 0, failed = 0;
  std::string error;
  for (const auto& r : results) {
    sent += r.sent;
    failed += r.failed;
    if (error.empty()) error = r.error;
  }
  std::printf(
      "flood: sent %llu datagrams of %zu bytes to %s in %.3f s: %.0f pps, %.3f Gbit/s payload, "
      "%.1f ns cpu/packet (stack process), send_to waited %llu, failed %llu%s%s\n",
      static_cast<unsigned long long>(sent), o.size, to.to_string().c_str(), secs,
      static_cast<double>(sent) / secs, static_cast<double>(sent) * o.size * 8 / secs / 1e9,
      sent ? cpu * 1e9 / static_cast<double>(sent) : 0.0,
      static_cast<unsigned long long>(st.c.socket.waited), static_cast<unsigned long long>(failed),
      error.empty() ? "" : ": ", error.c_str());
  std::fflush(stdout);
  co_return failed == 0 && link.tx_pending() == 0 ? 0 : 1;
}

task<int> serve(running& run, weir::runtime& rt, weir::io::signal_set& stop,
                std::optional<weir::debug::admin_options> admin_opts) {
  const options& o = run.o;
  netstack::counters counts;
  netstack::ring_link link(run.region, counts.link);
  netstack::stack st(link, run.so, counts);
  // The driver first: until it has the NIC, frames would go nowhere.
  for (int i = 0; i < 10000 && !run.region.stats().ready.load(std::memory_order_acquire); ++i) {
    int status = 0;
    if (::waitpid(run.driver_pid, &status, WNOHANG) == run.driver_pid) {
      run.driver_pid = -1;
      weir::log::error("the driver did not start", {{"status", std::to_string(status)}});
      co_return 1;
    }
    (void)co_await weir::sleep_for(1ms);
  }
  if (!run.region.stats().ready.load(std::memory_order_acquire)) {
    weir::log::error("the driver did not get ready within 10 s", {});
    co_return 1;
  }
  auto background = weir::spawn(st.run(), "arp + icmp");
  auto receiving = weir::spawn(link.receive_loop(st), "rx ring -> stack");
  auto doorbell = weir::spawn(link.doorbell(), "tx ring doorbell");
  std::unique_ptr<netstack::udp_socket> echo_sock;
  std::optional<weir::join_handle<void>> echoing;
  if (o.echo_port) {
    auto s = netstack::udp_socket::bind(st.udp, o.echo_port);
    if (!s) {
      weir::log::error("cannot bind the echo port", {{"error", s.error().message()}});
      co_return 2;
    }
    echo_sock = std::move(*s);
    echoing.emplace(weir::spawn(echo(*echo_sock), "udp echo"));
  }
  auto started = weir::debug::start_admin(rt, std::move(admin_opts));
  if (!started) {
    weir::log::error("cannot start the admin endpoint", {{"error", started.error().message()}});
    co_return 1;
  }
  std::unique_ptr<weir::debug::admin_server> admin = std::move(*started);
  if (admin) {
    admin->add_metrics([&](weir::metrics::prometheus_writer& w) {
      counts.write(w);
      write_driver_metrics(run.region.stats(), run.region.slots(), link.tx_pending(), w);
    });
  }
  const std::string admin_text = admin ? admin->address().to_string() : "off";
  std::printf("listening on %s mac %s tap %s echo %u admin %s driver %d\n",
              run.so.addr.addr.to_string().c_str(), run.so.self_mac.to_string().c_str(),
              o.driver == "tap" ? o.tap.c_str() : o.driver.c_str(), unsigned{o.echo_port},
              admin_text.c_str(), static_cast<int>(run.driver_pid));
  std::fflush(stdout);
  weir::log::info("up", {{"addr", o.addr},
                         {"mac", run.so.self_mac.to_string()},
                         {"driver", o.driver},
                         {"tap", o.tap},
                         {"ring_slots", std::to_string(o.ring_slots)},
                         {"admin", admin_text}});

  auto work = [&]() -> task<int> {
    if (o.flood.empty()) {
      auto sig = co_await stop.wait();
      co_return sig ? 0 : 1;
    }
    const auto colon = o.flood.rfind(':');
    const auto host = netstack::ipv4::parse(o.flood.substr(0, colon));
    if (colon == std::string::npos || !host) {
      weir::log::error("--flood wants IPV4:PORT", {{"got", o.flood}});
      co_return 2;
    }
    const netstack::endpoint to{*host,
                                static_cast<std::uint16_t>(std::atoi(o.flood.c_str() + colon + 1))};
    co_return co_await run_flood(o, st, link, to);
  };
  auto r = co_await weir::when_any(work(), driver_exit(run));
  int rc;
  if (r.index() == 0) {
    rc = std::get<0>(r);
  } else {
    weir::log::error("the driver process is gone: the stack exits", {{"driver", std::get<1>(r)}});
    rc = 1;
  }
  if (echoing) {
    echoing->cancel();
    (void)co_await *echoing;
  }
  receiving.cancel();
  background.cancel();
  doorbell.cancel();
  (void)co_await doorbell;
  (void)co_await receiving;
  (void)co_await background;
  co_return rc;
}

// Starts the driver: this binary, `netstack driver`, with the region's fds as 3..7.
pid_t start_driver(const options& o, const netstack::shm_region& region) {
  const auto& f = region.fds();
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  const int from[] = {f.memfd, f.tx_data, f.tx_space, f.rx_data, f.rx_space};
  int tmp[5];
  for (int i = 0; i < 5; ++i) tmp[i] = ::fcntl(from[i], F_DUPFD_CLOEXEC, 10);
  for (int i = 0; i < 5; ++i) ::dup2(tmp[i], 3 + i);  // dup2: the copies survive exec
  std::vector<std::string> args = {
      "netstack", "driver",  "--mode",       o.driver, "--tap",
      o.tap,      "--delay", o.driver_delay, "--cpu",  std::to_string(o.driver_cpu)};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  ::execv("/proc/self/exe", argv.data());
  std::perror("netstack: exec of the driver");
  ::_exit(127);
}

int driver_command(int argc, char** argv) {
  CLI::App app{"netstack driver: the NIC side (started by netstack itself)"};
  std::string mode = "tap", delay = "0";
  netstack::driver_options d;
  app.add_option("--mode", mode)->check(CLI::IsMember({"tap", "null", "loopback"}));
  app.add_option("--tap", d.tap);
  app.add_option("--delay", delay);
  app.add_option("--cpu", d.cpu);
  try {
    app.parse(argc - 1, argv + 1);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  d.mode = mode == "tap"    ? netstack::driver_mode::tap
           : mode == "null" ? netstack::driver_mode::null
                            : netstack::driver_mode::loopback;
  auto dl = weir::parse_duration_ns(delay);
  if (!dl) {
    std::fprintf(stderr, "netstack driver: --delay %s: expected a duration\n", delay.c_str());
    return 2;
  }
  d.delay = *dl;
  d.fds = {3, 4, 5, 6, 7};
  return netstack::run_driver(d);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string_view(argv[1]) == "driver") return driver_command(argc, argv);
  options o;
  CLI::App app{
      "netstack: a user-space IPv4 stack in its own process, behind a driver process "
      "that owns the NIC (a TAP device)"};
  app.add_option("--tap", o.tap,
                 "TAP device (created if missing; configure the kernel's side "
                 "with ip addr/link)")
      ->capture_default_str();
  app.add_option("--driver", o.driver,
                 "tap: the TAP device; null: drop every frame (counted); "
                 "loopback: turn frames around (benchmarks)")
      ->check(CLI::IsMember({"tap", "null", "loopback"}))
      ->capture_default_str();
  app.add_option("--addr", o.addr, "the stack's address and prefix")->capture_default_str();
  app.add_option("--gateway", o.gateway, "next hop for addresses off the local network");
  app.add_option("--mac", o.mac, "the stack's MAC (default 02:00 + the address)");
  app.add_option("--ring-slots", o.ring_slots, "slots per ring (power of two)")
      ->capture_default_str();
  app.add_option("--driver-delay", o.driver_delay,
                 "the driver waits this long per TX frame: a slow NIC (e.g. 50us)")
      ->capture_default_str();
  app.add_option("--echo-port", o.echo_port, "UDP echo port (0: none)")->capture_default_str();
  app.add_option("--admin", o.admin, "admin endpoint HOST:PORT (off: none)")->capture_default_str();
  app.add_option("--admin-token-file", o.admin_token_file, "bearer token for the admin endpoint");
  app.add_option("--flood", o.flood,
                 "send --count datagrams of --size bytes to IPV4:PORT, then "
                 "exit");
  app.add_option("--count", o.count, "datagrams to flood")->capture_default_str();
  app.add_option("--size", o.size, "payload bytes per datagram (12..1472)")
      ->check(CLI::Range(12, 1472))
      ->capture_default_str();
  app.add_option("--flows", o.flows, "flood senders, each from its own port")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  app.add_option("--driver-cpu", o.driver_cpu, "pin the driver process to this CPU");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  auto net = netstack::ipv4_net::parse(o.addr);
  if (!net || net->prefix > 30 || net->addr.v == 0) {
    std::fprintf(stderr, "netstack: --addr %s: expected IPV4/PREFIX (prefix <= 30)\n",
                 o.addr.c_str());
    return 2;
  }
  netstack::stack_options so;
  so.addr = *net;
  so.self_mac = {{0x02, 0x00, static_cast<std::uint8_t>(net->addr.v >> 24),
                  static_cast<std::uint8_t>(net->addr.v >> 16),
                  static_cast<std::uint8_t>(net->addr.v >> 8),
                  static_cast<std::uint8_t>(net->addr.v)}};
  if (!o.mac.empty()) {
    auto m = netstack::mac::parse(o.mac);
    if (!m || m->is_multicast()) {
      std::fprintf(stderr, "netstack: --mac %s: expected a unicast MAC like 02:00:00:00:00:02\n",
                   o.mac.c_str());
      return 2;
    }
    so.self_mac = *m;
  }
  if (!o.gateway.empty()) {
    auto g = netstack::ipv4::parse(o.gateway);
    if (!g || !net->contains(*g)) {
      std::fprintf(stderr, "netstack: --gateway %s: expected an address on %s\n", o.gateway.c_str(),
                   o.addr.c_str());
      return 2;
    }
    so.gateway = *g;
  }
  if (!weir::parse_duration_ns(o.driver_delay)) {  // (checked here; the driver applies it)
    std::fprintf(stderr, "netstack: --driver-delay %s: expected a duration (50us, 1ms)\n",
                 o.driver_delay.c_str());
    return 2;
  }
  auto admin = weir::debug::admin_options_from(o.admin, o.admin_token_file);
  if (!admin) {
    std::fprintf(stderr, "netstack: %s\n", admin.error().message().c_str());
    return 2;
  }
  auto region = netstack::shm_region::create(o.ring_slots);
  if (!region) {
    std::fprintf(stderr, "netstack: --ring-slots %u: %s\n", o.ring_slots,
                 region.error().message().c_str());
    return 2;
  }
  weir::io::signal_set stop({SIGINT, SIGTERM});  // before any thread (and the driver) exists
  const pid_t pid = start_driver(o, *region);
  if (pid < 0) {
    std::perror("netstack: fork");
    return 1;
  }
  running run{o, *region, pid, pidfd_open(pid), so};
  if (run.driver_pidfd < 0) {
    std::perror("netstack: pidfd_open");
    ::kill(pid, SIGKILL);
    return 1;
  }
  int rc;
  {
    weir::runtime_options ro;
    ro.shards = 1;
    weir::runtime rt(std::move(ro));
    rc = rt.block_on(serve(run, rt, stop, std::move(*admin)), "netstack");
  }
  if (run.driver_pid > 0) {  // still running: stop it
    ::kill(run.driver_pid, SIGTERM);
    int st = 0;
    ::waitpid(run.driver_pid, &st, 0);
  }
  ::close(run.driver_pidfd);
  return rc;
}
