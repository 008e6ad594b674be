// echo_load: the load client of the TCP echo benchmark (bench/echo/run.sh). Plain epoll, one
// thread, no weir and no Boost, so that it is the same client for every server.
//
//   echo_load --host 127.0.0.1 --port P --conns N --size S --seconds D --warmup W [--server-pid
//   PID]
//
// Opens N connections (TCP_NODELAY) and runs a closed loop on each: write one message of S bytes,
// read until the S bytes came back, record the round trip, write the next. Counting starts after
// W seconds and lasts D seconds; then it prints one line of JSON:
//   {"conns":N,"size":S,"msgs":..,"msgs_per_s":..,"p50_us":..,"p99_us":..,"p999_us":..,
//    "errors":.., ...}
// Extra fields: max_us, seconds (the measured window), msgs_total (warm-up included, for
// counters that cover the whole run), client_cpu (this process's CPU share of the window) and,
// with --server-pid, server_cpu_us and server_cpu_us_per_msg: the server's user+sys time over
// the window from /proc/PID/stat, read at the same instants the window opens and closes.
//
// Each message carries its sequence number in its first 8 bytes and every echoed byte is
// compared, so a server that returns stale or reordered data is counted as an error. A failed
// connection is counted in "errors" and closed; the others go on. The exit status is 1 when no
// connection is left (the JSON line is printed all the same).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <bit>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(clock_type::now().time_since_epoch())
      .count();
}

// Log-linear histogram of nanoseconds (HdrHistogram's bucketing): values below 2^sub_bits are
// exact; above, each power of two is split into 2^(sub_bits-1) equal buckets, so a recorded value
// is known to within 1/64 (1.6%). Fixed size, so recording never allocates.
class latency_histogram {
 public:
  void record(std::uint64_t v) {
    ++counts_[index_of(v)];
    ++count_;
    if (v > max_) max_ = v;
  }
  void reset() { *this = latency_histogram{}; }
  std::uint64_t count() const { return count_; }
  std::uint64_t max() const { return max_; }

  // The value at quantile q (0 < q <= 1): the middle of the bucket holding the ceil(q*count)-th
  // smallest value, never more than the largest value recorded.
  double quantile(double q) const {
    if (count_ == 0) return 0;
    auto rank = static_cast<std::uint64_t>(q * static_cast<double>(count_) + 0.999999);
    if (rank < 1) rank = 1;
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= rank) {
        auto [low, width] = bucket_of(i);
        double mid = static_cast<double>(low) + static_cast<double>(width - 1) / 2;
        return mid < static_cast<double>(max_) ? mid : static_cast<double>(max_);
      }
    }
    return static_cast<double>(max_);
  }

 private:
  static constexpr int sub_bits = 7;
  static constexpr std::size_t half = std::size_t{1} << (sub_bits - 1);
  static constexpr std::size_t buckets = (64 - sub_bits + 2) * half;

  static std::size_t index_of(std::uint64_t v) {
    int msb = 63 - std::countl_zero(v | 1);
    if (msb < sub_bits) return static_cast<std::size_t>(v);
    int e = msb - sub_bits + 1;
    return static_cast<std::size_t>(e) * half + static_cast<std::size_t>(v >> e);
  }
  static std::pair<std::uint64_t, std::uint64_t> bucket_of(std::size_t i) {
    if (i < 2 * half) return {i, 1};
    std::size_t e = i / half - 1;
    return {static_cast<std::uint64_t>(i - e * half) << e, std::uint64_t{1} << e};
  }

  std::array<std::uint64_t, buckets> counts_{};
  std::uint64_t count_ = 0;
  std::uint64_t max_ = 0;
};

struct options {
  std::string host = "127.0.0.1";
  std::string port;
  int conns = 50;
  std::size_t size = 64;
  double seconds = 5;
  double warmup = 1;
  int server_pid = 0;
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "echo_load: %s\nusage: echo_load --host H --port P --conns N --size S "
               "--seconds D --warmup W [--server-pid PID]\n",
               why);
  std::exit(2);
}

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; i += 2) {
    std::string key = argv[i];
    if (i + 1 >= argc) usage(("missing value for " + key).c_str());
    const char* v = argv[i + 1];
    if (key == "--host")
      o.host = v;
    else if (key == "--port")
      o.port = v;
    else if (key == "--conns")
      o.conns = std::atoi(v);
    else if (key == "--size")
      o.size = std::strtoull(v, nullptr, 10);
    else if (key == "--seconds")
      o.seconds = std::atof(v);
    else if (key == "--warmup")
      o.warmup = std::atof(v);
    else if (key == "--server-pid")
      o.server_pid = std::atoi(v);
    else
      usage(("unknown option " + key).c_str());
  }
  if (o.port.empty()) usage("--port is required");
  if (o.conns < 1 || o.size < 8 || o.seconds <= 0 || o.warmup < 0)
    usage("need --conns >= 1, --size >= 8, --seconds > 0, --warmup >= 0");
  return o;
}

// User+sys CPU time of a process (all its threads), in microseconds; nullopt once it is gone.
std::optional<double> process_cpu_us(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return std::nullopt;
  auto close_paren = stat.rfind(')');  // the command name may hold spaces and parentheses
  if (close_paren == std::string::npos) return std::nullopt;
  std::istringstream fields(stat.substr(close_paren + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {  // fields 14 and 15 of proc(5)
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) * 1e6 / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double own_cpu_us() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto us = [](const timeval& t) { return static_cast<double>(t.tv_sec) * 1e6 + t.tv_usec; };
  return us(ru.ru_utime) + us(ru.ru_stime);
}

struct connection {
  int fd = -1;
  int id = 0;
  std::uint64_t seq = 0;
  std::size_t sent = 0;      // bytes of the current message written so far
  std::size_t received = 0;  // bytes of its echo read so far
  std::int64_t started_ns = 0;
  bool waiting_writable = false;
  std::vector<char> message;
};

class load {
 public:
  explicit load(const options& o) : o_(o), scratch_(o.size) {}

  int run() {
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_ < 0) {
      std::perror("echo_load: epoll_create1");
      return 1;
    }
    connect_all();
    if (live_ == 0) return report(0, 0, std::nullopt);

    const auto start = now_ns();
    for (auto& c : conns_)
      if (c.fd >= 0) send_next(c, start);

    std::int64_t window_start = start, window_end = start;
    const auto warm_until = start + static_cast<std::int64_t>(o_.warmup * 1e9);
    std::int64_t stop_at = warm_until + static_cast<std::int64_t>(o_.seconds * 1e9);
    double client_cpu0 = 0;
    std::optional<double> server_cpu0;
    std::vector<epoll_event> events(conns_.size());

    for (;;) {
      auto now = now_ns();
      if (!measuring_ && now >= warm_until) {
        measuring_ = true;
        hist_.reset();
        msgs_ = 0;
        window_start = now;
        stop_at = now + static_cast<std::int64_t>(o_.seconds * 1e9);
        client_cpu0 = own_cpu_us();
        if (o_.server_pid) server_cpu0 = process_cpu_us(o_.server_pid);
      }
      if (measuring_ && now >= stop_at) {
        window_end = now;
        break;
      }
      if (live_ == 0) {
        window_end = now;
        break;
      }
      int n = epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), 20);
      if (n < 0) {
        if (errno == EINTR) continue;
        std::perror("echo_load: epoll_wait");
        return 1;
      }
      for (int i = 0; i < n; ++i) {
        auto& c = conns_[events[i].data.u32];
        if (c.fd < 0) continue;
        if (events[i].events & EPOLLOUT) on_writable(c);
        if (c.fd >= 0 && (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))) on_readable(c);
      }
    }

    double seconds = static_cast<double>(window_end - window_start) / 1e9;
    double client_cpu = measuring_ ? (own_cpu_us() - client_cpu0) / (seconds * 1e6) : 0;
    std::optional<double> server_cpu_us;
    if (server_cpu0)
      if (auto end = process_cpu_us(o_.server_pid)) server_cpu_us = *end - *server_cpu0;
    for (auto& c : conns_)
      if (c.fd >= 0) close(c.fd);
    return report(measuring_ ? seconds : 0, client_cpu, server_cpu_us);
  }

 private:
  void connect_all() {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* addrs = nullptr;
    if (int rc = getaddrinfo(o_.host.c_str(), o_.port.c_str(), &hints, &addrs); rc != 0) {
      std::fprintf(stderr, "echo_load: %s:%s: %s\n", o_.host.c_str(), o_.port.c_str(),
                   gai_strerror(rc));
      errors_ += o_.conns;
      return;
    }
    conns_.resize(o_.conns);
    for (int i = 0; i < o_.conns; ++i) {
      auto& c = conns_[i];
      c.id = i;
      c.message.resize(o_.size);
      for (std::size_t b = 0; b < o_.size; ++b)
        c.message[b] = static_cast<char>('a' + (i + b) % 26);
      // Blocking connect one by one: simple, and the server sees a steady stream of accepts.
      int fd = socket(addrs->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (fd < 0 || connect(fd, addrs->ai_addr, addrs->ai_addrlen) != 0) {
        fail(c, fd, "connect", errno);
        continue;
      }
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u32 = static_cast<std::uint32_t>(i);
      if (epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev) != 0) {
        fail(c, fd, "epoll_ctl", errno);
        continue;
      }
      c.fd = fd;
      ++live_;
    }
    freeaddrinfo(addrs);
  }

  void send_next(connection& c, std::int64_t now) {
    ++c.seq;
    std::memcpy(c.message.data(), &c.seq, sizeof c.seq);
    c.sent = 0;
    c.received = 0;
    c.started_ns = now;
    write_some(c);
  }

  void write_some(connection& c) {
    while (c.sent < o_.size) {
      ssize_t n = send(c.fd, c.message.data() + c.sent, o_.size - c.sent, MSG_NOSIGNAL);
      if (n > 0) {
        c.sent += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        watch_writable(c, true);
        return;
      }
      fail(c, c.fd, "send", errno);
      return;
    }
    if (c.waiting_writable) watch_writable(c, false);
  }

  void on_writable(connection& c) { write_some(c); }

  // Level-triggered: one read per readiness event. When the echo is still incomplete, epoll
  // reports the socket again as soon as more arrives, so looping to EAGAIN would only add a
  // failing syscall per message.
  void on_readable(connection& c) {
    ssize_t n = recv(c.fd, scratch_.data(), o_.size - c.received, 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
      fail(c, c.fd, "recv", errno);
      return;
    }
    if (n == 0) {
      fail(c, c.fd, "recv: connection closed by the server", 0);
      return;
    }
    if (c.received + static_cast<std::size_t>(n) > c.sent ||
        std::memcmp(scratch_.data(), c.message.data() + c.received, static_cast<std::size_t>(n))) {
      fail(c, c.fd, "echo differs from what was sent", 0);
      return;
    }
    c.received += static_cast<std::size_t>(n);
    if (c.received < o_.size) return;
    auto now = now_ns();
    if (measuring_) {
      hist_.record(static_cast<std::uint64_t>(now - c.started_ns));
      ++msgs_;
    }
    ++msgs_total_;
    send_next(c, now);
  }

  void watch_writable(connection& c, bool on) {
    epoll_event ev{};
    ev.events = on ? EPOLLIN | EPOLLOUT : EPOLLIN;
    ev.data.u32 = static_cast<std::uint32_t>(c.id);
    epoll_ctl(epoll_, EPOLL_CTL_MOD, c.fd, &ev);
    c.waiting_writable = on;
  }

  // err: the errno that explains the failure, 0 when there is none.
  void fail(connection& c, int fd, const char* what, int err) {
    if (errors_ < 5)
      std::fprintf(stderr, "echo_load: connection %d: %s%s%s\n", c.id, what, err ? ": " : "",
                   err ? std::strerror(err) : "");
    ++errors_;
    if (fd >= 0) close(fd);  // also removes it from the epoll set
    if (c.fd >= 0) --live_;
    c.fd = -1;
  }

  int report(double seconds, double client_cpu, std::optional<double> server_cpu_us) {
    auto us = [](double ns) { return ns / 1e3; };
    double rate = seconds > 0 ? static_cast<double>(msgs_) / seconds : 0;
    std::printf(
        "{\"conns\":%d,\"size\":%zu,\"msgs\":%llu,\"msgs_per_s\":%.1f,\"p50_us\":%.2f,"
        "\"p99_us\":%.2f,\"p999_us\":%.2f,\"max_us\":%.2f,\"errors\":%d,\"seconds\":%.3f,"
        "\"msgs_total\":%llu,\"client_cpu\":%.3f",
        o_.conns, o_.size, static_cast<unsigned long long>(msgs_), rate, us(hist_.quantile(0.5)),
        us(hist_.quantile(0.99)), us(hist_.quantile(0.999)), us(static_cast<double>(hist_.max())),
        errors_, seconds, static_cast<unsigned long long>(msgs_total_), client_cpu);
    if (server_cpu_us)
      std::printf(",\"server_cpu_us\":%.0f,\"server_cpu_us_per_msg\":%.4f", *server_cpu_us,
                  msgs_ ? *server_cpu_us / static_cast<double>(msgs_) : 0.0);
    std::printf("}\n");
    std::fflush(stdout);
    return live_ > 0 ? 0 : 1;
  }

  options o_;
  int epoll_ = -1;
  int live_ = 0;
  int errors_ = 0;
  bool measuring_ = false;
  std::uint64_t msgs_ = 0;
  std::uint64_t msgs_total_ = 0;
  std::vector<connection> conns_;
  std::vector<char> scratch_;
  latency_histogram hist_;
};

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  return load(parse(argc, argv)).run();
}
