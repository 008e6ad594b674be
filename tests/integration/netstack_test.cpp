// netstack end to end, against the real Linux kernel on the other side of a TAP device. The
// test process first moves into a network namespace of its own (unshare(CLONE_NEWNET)), where
// it makes the TAP and gives the kernel's side 192.0.2.1/24 (documentation addresses): nothing
// can leave it. The stack is 192.0.2.2. Real clients: the kernel's ping (iputils), kernel UDP
// sockets, ip neigh.
#include "support.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <thread>

namespace {

using namespace integration;

const char* const tap_name = "nst0";

// Enters a new network namespace once; the reason when that is impossible (not root).
const std::string& namespace_problem() {
  static const std::string problem = [] {
    if (::unshare(CLONE_NEWNET) != 0)
      return std::string("unshare(CLONE_NEWNET) failed (") + std::strerror(errno) +
             "): these tests need root (CAP_SYS_ADMIN) to make their own network namespace";
    if (::access("/dev/net/tun", R_OK | W_OK) != 0)
      return std::string("/dev/net/tun is not usable: no TAP devices on this machine");
    if (std::system("ip link set lo up") != 0) return std::string("ip link set lo up failed");
    return std::string();
  }();
  return problem;
}

// A fresh TAP device with the kernel's side configured.
void fresh_tap() {
  std::system((std::string("ip link del ") + tap_name + " 2>/dev/null").c_str());
  const std::string cmd = std::string("ip tuntap add dev ") + tap_name +
                          " mode tap && ip addr add "
                          "192.0.2.1/24 dev " +
                          tap_name + " && ip link set " + tap_name + " up";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

// netstack as a process (support.hpp's service), its stderr kept in a file.
class netstack_process {
 public:
  explicit netstack_process(std::vector<std::string> args)
      : err_path_("/tmp/netstack_test_" + std::to_string(::getpid()) + "_" + std::to_string(++n_)),
        svc_(with_binary(std::move(args)), err_path_),
        first_line(svc_.first_line) {}
  ~netstack_process() {
    if (svc_.pid() > 0) svc_.stop(SIGKILL);
    ::unlink(err_path_.c_str());
  }
  std::string line(std::chrono::milliseconds timeout) { return svc_.line(timeout); }
  int wait(std::chrono::milliseconds timeout) { return svc_.wait(timeout); }
  pid_t pid() const { return svc_.pid(); }
  std::string errors() const {
    std::ifstream f(err_path_);
    return std::string(std::istreambuf_iterator<char>(f), {});
  }
  // From the first line: "... admin 127.0.0.1:P driver PID".
  std::uint16_t admin_port() const {
    std::smatch m;
    return std::regex_search(first_line, m, std::regex(R"(admin 127\.0\.0\.1:(\d+))"))
               ? static_cast<std::uint16_t>(std::stoi(m[1]))
               : 0;
  }
  pid_t driver_pid() const {
    std::smatch m;
    return std::regex_search(first_line, m, std::regex(R"(driver (\d+))")) ? std::stoi(m[1]) : -1;
  }

 private:
  static std::vector<std::string> with_binary(std::vector<std::string> args) {
    args.insert(args.begin(), WEIR_NETSTACK);
    return args;
  }
  static inline int n_ = 0;
  std::string err_path_;
  service svc_;

 public:
  std::string first_line;
};

std::vector<std::string> stack_args(std::vector<std::string> more = {}) {
  std::vector<std::string> a = {"--tap",        tap_name,  "--addr",
                                "192.0.2.2/24", "--admin", "127.0.0.1:0"};
  a.insert(a.end(), more.begin(), more.end());
  return a;
}

long long metric_value(std::uint16_t admin, const std::string& series) {
  return metric(get(admin, "/metrics").body, series);
}

// A kernel UDP socket bound to 192.0.2.1:port.
int kernel_udp(std::uint16_t port, int rcvbuf = 0) {
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (rcvbuf) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, "192.0.2.1", &a.sin_addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  timeval tv{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

sockaddr_in stack_addr(std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, "192.0.2.2", &a.sin_addr);
  return a;
}

#define NEED_NAMESPACE()                                                   \
  do {                                                                     \
    if (!namespace_problem().empty()) GTEST_SKIP() << namespace_problem(); \
    fresh_tap();                                                           \
  } while (0)

TEST(Netstack, KernelPingGetsMatchingRepliesAndArpResolvesIt) {
  NEED_NAMESPACE();
  netstack_process ns(stack_args());
  ASSERT_NE(ns.first_line.find("listening on 192.0.2.2 mac 02:00:c0:00:02:02"), std::string::npos)
      << ns.first_line << ns.errors();
  // ping checks every reply's payload against the pattern it sent ("wrong data byte" if not).
  const std::string out = shell("ping -c 5 -i 0.2 -W 2 -s 300 -p 5aa5c3 192.0.2.2 2>&1");
  EXPECT_NE(out.find("5 received"), std::string::npos) << out;
  EXPECT_EQ(out.find("wrong data"), std::string::npos) << out;
  EXPECT_EQ(out.find("DUP"), std::string::npos) << out;
  const std::string neigh = shell(std::string("ip neigh show 192.0.2.2 dev ") + tap_name);
  EXPECT_NE(neigh.find("lladdr 02:00:c0:00:02:02"), std::string::npos) << neigh;
  EXPECT_EQ(metric_value(ns.admin_port(), "netstack_icmp_echo_replies_total"), 5);
  EXPECT_GE(metric_value(ns.admin_port(), "netstack_arp_total{event=\"reply_sent\"}"), 1);
  EXPECT_EQ(ns.wait(0ms), -1);  // still serving
  kill(ns.pid(), SIGTERM);
  EXPECT_EQ(ns.wait(10s), 0) << ns.errors();
}

TEST(Netstack, KernelUdpSocketTalksToTheEcho) {
  NEED_NAMESPACE();
  netstack_process ns(stack_args());
  const int fd = kernel_udp(5555);
  ASSERT_GE(fd, 0);
  const sockaddr_in to = stack_addr(7);
  for (std::size_t size : {1u, 100u, 1000u, 1472u}) {
    std::string msg(size, '\0');
    for (std::size_t i = 0; i < size; ++i) msg[i] = static_cast<char>('a' + (i * 7 + size) % 26);
    ASSERT_EQ(
        sendto(fd, msg.data(), msg.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to),
        static_cast<ssize_t>(size));
    char buf[2048];
    sockaddr_in from{};
    socklen_t fl = sizeof from;
    const ssize_t n = recvfrom(fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &fl);
    ASSERT_EQ(n, static_cast<ssize_t>(size)) << "no echo of " << size << " bytes\n" << ns.errors();
    EXPECT_EQ(std::string(buf, static_cast<std::size_t>(n)), msg);
    EXPECT_EQ(ntohs(from.sin_port), 7);
  }
  close(fd);
  EXPECT_EQ(metric_value(ns.admin_port(), "netstack_tx_errors_total{layer=\"socket\"}"), 0);
}

// A kernel receiver of the flood: per flow, the next sequence number expected.
struct flood_receiver {
  int fd;
  std::map<std::uint32_t, std::uint64_t> next;
  std::uint64_t total = 0, out_of_order = 0;
  void run(std::uint64_t want) {
    char buf[2048];
    while (total < want) {
      const ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n < 12) break;  // the 2 s timeout: nothing more is coming
      std::uint32_t flow = 0;
      std::uint64_t seq = 0;
      for (int i = 0; i < 4; ++i) flow = flow << 8 | static_cast<unsigned char>(buf[i]);
      for (int i = 0; i < 8; ++i) seq = seq << 8 | static_cast<unsigned char>(buf[4 + i]);
      if (seq != next[flow]) ++out_of_order;
      next[flow] = seq + 1;
      ++total;
    }
  }
};

TEST(Netstack, FloodThroughASlowDriverDeliversEveryDatagramInOrderWhileSendToWaits) {
  NEED_NAMESPACE();
  constexpr std::uint64_t count = 20000;
  flood_receiver rx{kernel_udp(9000, 16 << 20)};
  ASSERT_GE(rx.fd, 0);
  std::thread receiving([&] { rx.run(count); });
  // 50 us per frame: about a second of backpressure. The stack has never heard of 192.0.2.1:
  // it must ask with ARP first.
  netstack_process ns(stack_args({"--flood", "192.0.2.1:9000", "--count", std::to_string(count),
                                  "--size", "200", "--flows", "4", "--driver-delay", "50us"}));
  bool seen_waiting = false;
  std::string dump;
  for (int i = 0; i < 100 && !seen_waiting; ++i) {
    dump = get(ns.admin_port(), "/debug/tasks").body;
    seen_waiting = dump.find("tx ring full, 256 slots") != std::string::npos &&
                   dump.find("flood flow") != std::string::npos;
    if (!seen_waiting) std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(seen_waiting) << dump;
  const std::string metrics = get(ns.admin_port(), "/metrics").body;
  EXPECT_GE(metric(metrics, "netstack_arp_total{event=\"request_sent\"}"), 1) << metrics;
  EXPECT_EQ(metric(metrics, "netstack_arp_total{event=\"resolved\"}"), 1) << metrics;
  const std::string summary = ns.line(60s);
  EXPECT_EQ(ns.wait(30s), 0) << summary << ns.errors();
  receiving.join();
  close(rx.fd);
  EXPECT_NE(summary.find("sent 20000 datagrams"), std::string::npos) << summary;
  EXPECT_NE(summary.find("failed 0"), std::string::npos) << summary;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(summary, m, std::regex(R"(send_to waited (\d+))"))) << summary;
  EXPECT_GT(std::stoll(m[1]), 0) << summary;
  EXPECT_EQ(rx.total, count) << "lost " << count - rx.total;
  EXPECT_EQ(rx.out_of_order, 0u);
  EXPECT_EQ(rx.next.size(), 4u);
  for (auto [flow, next] : rx.next) EXPECT_EQ(next, count / 4) << "flow " << flow;
}

TEST(Netstack, APausedDriverHoldsTheSendersAndLosesNothing) {
  NEED_NAMESPACE();
  constexpr std::uint64_t count = 5000;
  flood_receiver rx{kernel_udp(9001, 16 << 20)};
  ASSERT_GE(rx.fd, 0);
  // A slowish NIC (200 us a frame: a second for the flood), paused once frames flow (ARP done).
  netstack_process ns(stack_args({"--flood", "192.0.2.1:9001", "--count", std::to_string(count),
                                  "--size", "1000", "--flows", "2", "--driver-delay", "200us"}));
  ASSERT_GT(ns.driver_pid(), 0) << ns.first_line;
  std::string dump, metrics;
  for (int i = 0; i < 500; ++i) {
    metrics = get(ns.admin_port(), "/metrics").body;
    if (metric(metrics, "netstack_tx_sent_total{layer=\"socket\"}") > 0) break;
    std::this_thread::sleep_for(5ms);
  }
  kill(ns.driver_pid(), SIGSTOP);  // the NIC stops: the TX ring fills, every layer waits
  bool held = false;
  for (int i = 0; i < 200 && !held; ++i) {
    std::this_thread::sleep_for(10ms);
    metrics = get(ns.admin_port(), "/metrics").body;
    held = metric(metrics, "netstack_tx_ring_used") == 256 &&
           metric(metrics, "netstack_tx_in_progress{layer=\"socket\"}") == 2;
  }
  EXPECT_TRUE(held) << metrics;
  dump = get(ns.admin_port(), "/debug/tasks").body;
  EXPECT_NE(dump.find("tx ring full, 256 slots"), std::string::npos) << dump;
  EXPECT_NE(dump.find("behind another sender"), std::string::npos) << dump;
  std::thread receiving([&] { rx.run(count); });
  kill(ns.driver_pid(), SIGCONT);
  const std::string summary = ns.line(60s);
  EXPECT_EQ(ns.wait(30s), 0) << summary << ns.errors();
  receiving.join();
  close(rx.fd);
  EXPECT_EQ(rx.total, count) << summary;
  EXPECT_EQ(rx.out_of_order, 0u);
}

TEST(Netstack, AStalledStackFillsTheRxRingAndTheKernelCountsItsDrops) {
  NEED_NAMESPACE();
  netstack_process ns(stack_args());
  const int fd = kernel_udp(5556);
  ASSERT_GE(fd, 0);
  // Resolve the stack's MAC while it still runs.
  EXPECT_NE(shell("ping -c 1 -W 2 192.0.2.2 2>&1").find("1 received"), std::string::npos);
  kill(ns.pid(), SIGSTOP);  // the stack falls behind (completely)
  const sockaddr_in to = stack_addr(7);
  // Each kernel socket may have only so much in flight (its send buffer): many sockets, until
  // each is refused, overflow the TAP's queue (1000 frames) behind the full RX ring.
  std::vector<int> senders;
  for (int s = 0; s < 24; ++s) {
    const int f = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    for (int i = 0; i < 2000; ++i)
      if (sendto(f, "x", 1, 0, reinterpret_cast<const sockaddr*>(&to), sizeof to) < 0) break;
    senders.push_back(f);
  }
  std::this_thread::sleep_for(1500ms);  // the driver samples the kernel's counter twice a second
  kill(ns.pid(), SIGCONT);
  for (int f : senders) close(f);
  const std::string metrics = get(ns.admin_port(), "/metrics").body;
  EXPECT_GE(metric(metrics, "netstack_driver_events_total{event=\"rx_ring_full\"}"), 1) << metrics;
  EXPECT_GE(metric(metrics, "netstack_driver_events_total{event=\"tap_kernel_drops\"}"), 1)
      << metrics;
  // It recovers: an echo comes back again (once the TAP's queue has room for the question).
  char buf[64];
  bool echoed = false;
  for (int attempt = 0; attempt < 50 && !echoed; ++attempt) {
    ASSERT_EQ(sendto(fd, "again", 5, 0, reinterpret_cast<const sockaddr*>(&to), sizeof to), 5);
    for (;;) {
      const ssize_t n = recv(fd, buf, sizeof buf, 0);  // (2 s timeout)
      if (n <= 0) break;
      if (std::string_view(buf, static_cast<std::size_t>(n)) == "again") {
        echoed = true;
        break;
      }
    }
  }
  EXPECT_TRUE(echoed) << get(ns.admin_port(), "/debug/tasks").body << ns.errors();
  close(fd);
}

TEST(Netstack, EachProcessEndsWhenTheOtherDies) {
  NEED_NAMESPACE();
  {
    netstack_process ns(stack_args());
    ASSERT_GT(ns.driver_pid(), 0) << ns.first_line << ns.errors();
    kill(ns.driver_pid(), SIGKILL);
    EXPECT_EQ(ns.wait(10s), 1);
    EXPECT_NE(ns.errors().find("the driver process is gone"), std::string::npos) << ns.errors();
    EXPECT_NE(ns.errors().find("killed by signal 9"), std::string::npos) << ns.errors();
  }
  fresh_tap();
  {
    netstack_process ns(stack_args());
    const pid_t driver = ns.driver_pid();
    ASSERT_GT(driver, 0);
    kill(ns.pid(), SIGKILL);
    EXPECT_EQ(ns.wait(10s), 128 + SIGKILL);
    // The orphaned driver notices (its pidfd of the stack) and exits: gone, or a zombie of init.
    bool gone = false;
    for (int i = 0; i < 500 && !gone; ++i) {
      std::ifstream stat("/proc/" + std::to_string(driver) + "/stat");
      std::string text((std::istreambuf_iterator<char>(stat)), {});
      gone = text.empty() || text.find(") Z ") != std::string::npos;
      if (!gone) std::this_thread::sleep_for(20ms);
    }
    EXPECT_TRUE(gone) << "the driver " << driver << " outlived the stack";
  }
}

TEST(Netstack, BadFlagsAreNamed) {
  for (auto [flag, value, words] : {std::tuple{"--addr", "192.0.2.300/24", "expected IPV4/PREFIX"},
                                    std::tuple{"--ring-slots", "100", "power of two"},
                                    std::tuple{"--driver-delay", "fast", "expected a duration"},
                                    std::tuple{"--mac", "ff:ff:ff:ff:ff:ff", "unicast MAC"}}) {
    const std::string out = shell(std::string(WEIR_NETSTACK) + " --driver null " + flag + " " +
                                  value + " 2>&1; echo status=$?");
    EXPECT_NE(out.find(words), std::string::npos) << flag << ": " << out;
    EXPECT_NE(out.find("status=2"), std::string::npos) << flag << ": " << out;
  }
}

}  // namespace
