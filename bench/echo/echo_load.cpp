// echo_load: the load client of the TCP echo benchmark (bench/echo/run.sh). One thread, no weir
// and no Boost, so that it is the same client for every server. Two engines:
//   --mode uring (default): io_uring (liburing, used directly). Each connection has one
//     multishot recv armed (provided buffers) and at most one send SQE in flight; every loop
//     turn handles all the CQEs that are ready, queues the next send of every connection whose
//     echo came back and submits them with a single io_uring_submit_and_wait call, which also
//     waits for the next completion. The ring is set up with
//     IORING_SETUP_SINGLE_ISSUER|IORING_SETUP_DEFER_TASKRUN when the kernel accepts them (6.1+);
//     the sockets and the ring fd are registered and successful sends post no CQE.
//   --mode epoll: level-triggered epoll with one send and one recv syscall per message.
// Neither makes the client much cheaper than the servers it measures: on loopback, a send also
// runs the receiving socket's TCP processing (softirq) in the sender's context, so each side
// pays one send, one peer receive path and one recv copy per round trip, 80-85% of the client's
// CPU in both engines (perf). io_uring only trims the syscall and readiness overhead: about 10%
// of the client's CPU per message at 64 B, nothing measurable at 4 KiB.
//
//   echo_load --host 127.0.0.1 --port P --conns N --size S --seconds D --warmup W
//             [--server-pid PID] [--mode uring|epoll] [--messages-per-conn K]
//
// Opens N connections (TCP_NODELAY) and runs a closed loop on each: send one message of S bytes,
// receive until the S bytes came back, record the round trip (from the moment the send is
// submitted to the moment the last echoed byte is seen), send the next. Exactly one message is in
// flight per connection. Counting starts after W seconds and lasts D seconds; then it prints one
// line of JSON:
//   {"conns":N,"size":S,"msgs":..,"msgs_per_s":..,"p50_us":..,"p99_us":..,"p999_us":..,
//    "errors":.., ...}
// Extra fields: max_us, seconds (the measured window), msgs_total (warm-up included, for
// counters that cover the whole run), client_cpu (this process's CPU share of the window),
// client_cpu_us_per_msg, client (the engine: "uring", "uring-defer" when DEFER_TASKRUN was
// accepted, or "epoll") and, with --server-pid, server_cpu_us and server_cpu_us_per_msg: the
// server's user+sys time over the window from /proc/PID/stat, read at the same instants the
// window opens and closes.
//
// With --messages-per-conn K, each connection stops after K round trips and the client exits
// once every connection is done (or failed): there is no warm-up, the window is the whole run,
// and --seconds, when given, is only a time limit (default none). This is the fixed-work mode of
// run.sh's callgrind pass.
//
// Each message carries its sequence number in its first 8 bytes and every echoed byte is
// compared, so a server that returns stale or reordered data is counted as an error. A failed
// connection is counted in "errors" and closed; the others go on. The exit status is 1 when no
// connection is left (the JSON line is printed all the same).
#include <arpa/inet.h>
#include <fcntl.h>
#include <liburing.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/mman.h>
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

enum class engine { uring, epoll };

struct options {
  std::string host = "127.0.0.1";
  std::string port;
  int conns = 50;
  std::size_t size = 64;
  double seconds = 5;
  bool seconds_given = false;
  double warmup = 1;
  int server_pid = 0;
  engine mode = engine::uring;
  std::uint64_t messages_per_conn = 0;  // 0: run for --seconds
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "echo_load: %s\nusage: echo_load --host H --port P --conns N --size S "
               "--seconds D --warmup W [--server-pid PID] [--mode uring|epoll] "
               "[--messages-per-conn K]\n",
               why);
  std::exit(2);
}

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; i += 2) {
    std::string key = argv[i];
    if (i + 1 >= argc) usage(("missing value for " + key).c_str());
    const char* v = argv[i + 1];
    if (key == "--host") {
      o.host = v;
    } else if (key == "--port") {
      o.port = v;
    } else if (key == "--conns") {
      o.conns = std::atoi(v);
    } else if (key == "--size") {
      o.size = std::strtoull(v, nullptr, 10);
    } else if (key == "--seconds") {
      o.seconds = std::atof(v);
      o.seconds_given = true;
    } else if (key == "--warmup") {
      o.warmup = std::atof(v);
    } else if (key == "--server-pid") {
      o.server_pid = std::atoi(v);
    } else if (key == "--messages-per-conn") {
      o.messages_per_conn = std::strtoull(v, nullptr, 10);
      if (o.messages_per_conn == 0) usage("--messages-per-conn must be >= 1");
    } else if (key == "--mode") {
      if (std::strcmp(v, "uring") == 0)
        o.mode = engine::uring;
      else if (std::strcmp(v, "epoll") == 0)
        o.mode = engine::epoll;
      else
        usage("--mode is uring or epoll");
    } else {
      usage(("unknown option " + key).c_str());
    }
  }
  if (o.port.empty()) usage("--port is required");
  if (o.conns < 1 || o.size < 8 || o.seconds <= 0 || o.warmup < 0)
    usage("need --conns >= 1, --size >= 8, --seconds > 0, --warmup >= 0");
  if (o.messages_per_conn) {
    o.warmup = 0;  // fixed work: the window is the whole run
    if (!o.seconds_given) o.seconds = 1e9;
  }
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

enum class recv_state { none, multishot, single };

struct connection {
  int fd = -1;
  int id = 0;
  std::uint64_t seq = 0;
  std::uint64_t done = 0;    // round trips completed
  std::size_t sent = 0;      // bytes of the current message written so far
  std::size_t received = 0;  // bytes of its echo read so far
  std::int64_t started_ns = 0;
  bool waiting_writable = false;       // epoll
  bool send_inflight = false;          // uring
  std::size_t send_len = 0;            // uring: bytes of the send in flight
  recv_state recv = recv_state::none;  // uring: the recv op armed, if any
  std::vector<char> message;
  std::vector<char> echo;  // uring: where single-shot recvs receive the echo
};

class load {
 public:
  explicit load(const options& o) : o_(o), scratch_(o.size) {}

  int run() {
    if (o_.mode == engine::epoll) {
      epoll_ = epoll_create1(EPOLL_CLOEXEC);
      if (epoll_ < 0) {
        std::perror("echo_load: epoll_create1");
        return 1;
      }
    }
    connect_all();
    if (live_ == 0) return report(0, 0, std::nullopt);
    if (o_.mode == engine::uring && !setup_ring()) return 1;

    const auto start = now_ns();
    for (auto& c : conns_)
      if (c.fd >= 0) start_message(c, start);

    std::int64_t window_start = start, window_end = start;
    const auto warm_until = start + static_cast<std::int64_t>(o_.warmup * 1e9);
    std::int64_t stop_at = warm_until + static_cast<std::int64_t>(o_.seconds * 1e9);
    double client_cpu0 = 0;
    std::optional<double> server_cpu0;
    std::vector<epoll_event> events(o_.mode == engine::epoll ? conns_.size() : 0);

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
      if ((measuring_ && now >= stop_at) || running_ == 0) {
        window_end = now;
        break;
      }
      bool ok = o_.mode == engine::uring ? uring_turn() : epoll_turn(events);
      if (!ok) return 1;
    }

    double seconds = static_cast<double>(window_end - window_start) / 1e9;
    double client_cpu_us = measuring_ ? own_cpu_us() - client_cpu0 : 0;
    std::optional<double> server_cpu_us;
    if (server_cpu0)
      if (auto end = process_cpu_us(o_.server_pid)) server_cpu_us = *end - *server_cpu0;
    if (ring_ready_) io_uring_queue_exit(&ring_);  // cancels what is still in flight
    for (auto& c : conns_)
      if (c.fd >= 0) close(c.fd);
    return report(measuring_ ? seconds : 0, client_cpu_us, server_cpu_us);
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
      if (o_.mode == engine::epoll) {
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u32 = static_cast<std::uint32_t>(i);
        if (epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev) != 0) {
          fail(c, fd, "epoll_ctl", errno);
          continue;
        }
      }
      // io_uring: blocking socket; io_uring tries each op without blocking and, when it would
      // block, waits on the socket's readiness itself.
      c.fd = fd;
      ++live_;
      ++running_;
    }
    freeaddrinfo(addrs);
  }

  void start_message(connection& c, std::int64_t now) {
    ++c.seq;
    std::memcpy(c.message.data(), &c.seq, sizeof c.seq);
    c.sent = 0;
    c.received = 0;
    c.started_ns = now;
    if (o_.mode == engine::epoll) {
      write_some(c);
    } else {
      queue_send(c);
      // The recv of the echo: a multishot recv stays armed from one message to the next.
      if (c.recv == recv_state::none) multishot_ ? queue_multishot(c) : queue_single(c);
    }
  }

  // A full echo came back at `now`: record it, then send the next message unless the connection
  // has done its --messages-per-conn.
  void complete(connection& c, std::int64_t now) {
    if (measuring_) {
      hist_.record(static_cast<std::uint64_t>(now - c.started_ns));
      ++msgs_;
    }
    ++msgs_total_;
    if (++c.done == o_.messages_per_conn) {
      --running_;
      return;
    }
    start_message(c, now);
  }

  // ---- epoll engine

  bool epoll_turn(std::vector<epoll_event>& events) {
    int n = epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), 20);
    if (n < 0) {
      if (errno == EINTR) return true;
      std::perror("echo_load: epoll_wait");
      return false;
    }
    for (int i = 0; i < n; ++i) {
      auto& c = conns_[events[i].data.u32];
      if (c.fd < 0) continue;
      if (events[i].events & EPOLLOUT) on_writable(c);
      if (c.fd >= 0 && (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))) on_readable(c);
    }
    return true;
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
    complete(c, now_ns());
  }

  void watch_writable(connection& c, bool on) {
    epoll_event ev{};
    ev.events = on ? EPOLLIN | EPOLLOUT : EPOLLIN;
    ev.data.u32 = static_cast<std::uint32_t>(c.id);
    epoll_ctl(epoll_, EPOLL_CTL_MOD, c.fd, &ev);
    c.waiting_writable = on;
  }

  // ---- io_uring engine
  //
  // user_data = connection index * 2 + (1 for a recv, 0 for a send). Each connection has one
  // multishot recv armed, which stays armed from message to message (re-armed when the kernel
  // ends it) and takes its buffers from a ring of provided buffers shared by all connections;
  // the buffers of a turn's CQEs go back to the ring at the end of the turn, once checked. A
  // message is one send SQE of all its bytes with MSG_WAITALL (io_uring retries short sends itself)
  // and IOSQE_CQE_SKIP_SUCCESS, so a send only produces a CQE when it fails. The message is
  // complete once all its bytes came back, which also proves that the send has finished reading the
  // message buffer, so it is then safe to rewrite it. So a round trip costs the client one SQE, one
  // CQE and its share of the io_uring_enter of the turn. Kernels without provided-buffer rings
  // (< 5.19) or CQE skipping (< 5.17) get one single-shot recv SQE per chunk of echo and a CQE per
  // send instead.

  static unsigned round_up_pow2(unsigned v) {
    unsigned p = 1;
    while (p < v) p <<= 1;
    return p;
  }

  bool setup_ring() {
    // At most one send and one recv per connection are queued at a time, so an SQ of 2N
    // entries never fills between two submits; at most a send CQE and a few recv CQEs per
    // connection are pending, and the CQ is 4N.
    const unsigned want = round_up_pow2(2 * static_cast<unsigned>(conns_.size()));
    const unsigned sq = want < 32768 ? want : 32768;
    const unsigned base = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL;
    const unsigned extra[] = {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
                              IORING_SETUP_COOP_TASKRUN, 0};
    int rc = -EINVAL;
    io_uring_params p{};
    for (unsigned flags : extra) {
      p = io_uring_params{};
      p.flags = base | flags;
      p.cq_entries = 2 * want < 65536 ? 2 * want : 65536;
      rc = io_uring_queue_init_params(sq, &ring_, &p);
      if (rc == 0) {
        defer_taskrun_ = flags & IORING_SETUP_DEFER_TASKRUN;
        break;
      }
      if (rc != -EINVAL) break;
    }
    if (rc != 0) {
      std::fprintf(stderr, "echo_load: io_uring_queue_init: %s\n", std::strerror(-rc));
      return false;
    }
    ring_ready_ = true;
    skip_send_cqe_ = p.features & IORING_FEAT_CQE_SKIP;
    // Registered files and ring fd save a file-table lookup per op and per io_uring_enter.
    std::vector<int> fds(conns_.size());
    for (std::size_t i = 0; i < conns_.size(); ++i) fds[i] = conns_[i].fd;  // -1: empty slot
    fixed_files_ =
        io_uring_register_files(&ring_, fds.data(), static_cast<unsigned>(fds.size())) == 0;
    io_uring_register_ring_fd(&ring_);  // best effort (5.18)
    setup_buffer_ring();
    for (auto& c : conns_)
      if (c.fd >= 0) c.echo.resize(o_.size);
    return true;
  }

  // The provided-buffer ring of the multishot recvs: 2N buffers (at least 64) of one message
  // each, given back at the end of every turn. A turn reaps a few CQEs per connection at most,
  // so the ring rarely runs dry; when it does, the connection's recv ends with ENOBUFS and it
  // reads the rest of that message with single-shot recvs into its own buffer (re-arming the
  // multishot recv at once would retry against the same empty ring), then arms a multishot recv
  // again for its next message.
  void setup_buffer_ring() {
    unsigned n = round_up_pow2(2 * static_cast<unsigned>(conns_.size()));
    if (n < 64) n = 64;
    if (n > 32768) n = 32768;
    const std::size_t bytes = n * sizeof(io_uring_buf);
    void* mem = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) return;
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<std::uintptr_t>(mem);
    reg.ring_entries = n;
    reg.bgid = 0;
    if (io_uring_register_buf_ring(&ring_, &reg, 0) != 0) {
      munmap(mem, bytes);
      return;
    }
    buf_ring_ = static_cast<io_uring_buf_ring*>(mem);
    buf_mask_ = io_uring_buf_ring_mask(n);
    pool_.resize(static_cast<std::size_t>(n) * o_.size);
    io_uring_buf_ring_init(buf_ring_);
    for (unsigned i = 0; i < n; ++i)
      io_uring_buf_ring_add(buf_ring_, pool_.data() + i * o_.size, static_cast<unsigned>(o_.size),
                            static_cast<unsigned short>(i), buf_mask_, static_cast<int>(i));
    io_uring_buf_ring_advance(buf_ring_, static_cast<int>(n));
    multishot_ = true;
  }

  io_uring_sqe* get_sqe() {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (!sqe) {  // cannot happen with the sizes above; submit what is queued and go on
      io_uring_submit(&ring_);
      sqe = io_uring_get_sqe(&ring_);
    }
    return sqe;
  }

  void prep_target(io_uring_sqe* sqe, connection& c, bool is_recv) {
    if (fixed_files_) {
      sqe->fd = c.id;
      sqe->flags |= IOSQE_FIXED_FILE;
    }
    io_uring_sqe_set_data64(sqe, static_cast<std::uint64_t>(c.id) * 2 + (is_recv ? 1 : 0));
  }

  void queue_send(connection& c) {
    io_uring_sqe* sqe = get_sqe();
    if (!sqe) return fail(c, c.fd, "io_uring_get_sqe", EBUSY);
    io_uring_prep_send(sqe, c.fd, c.message.data() + c.sent, o_.size - c.sent,
                       MSG_NOSIGNAL | MSG_WAITALL);
    prep_target(sqe, c, false);
    if (skip_send_cqe_) sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
    c.send_len = o_.size - c.sent;
    c.send_inflight = true;
  }

  // Arms the connection's multishot recv (provided buffers).
  void queue_multishot(connection& c) {
    io_uring_sqe* sqe = get_sqe();
    if (!sqe) return fail(c, c.fd, "io_uring_get_sqe", EBUSY);
    io_uring_prep_recv_multishot(sqe, c.fd, nullptr, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = 0;
    prep_target(sqe, c, true);
    c.recv = recv_state::multishot;
  }

  // One recv of the rest of the message into the connection's own buffer.
  void queue_single(connection& c) {
    io_uring_sqe* sqe = get_sqe();
    if (!sqe) return fail(c, c.fd, "io_uring_get_sqe", EBUSY);
    io_uring_prep_recv(sqe, c.fd, c.echo.data() + c.received, o_.size - c.received, 0);
    prep_target(sqe, c, true);
    c.recv = recv_state::single;
  }

  // One loop turn: submit everything queued since the last turn and wait (up to 20 ms, so the
  // window's end is noticed) for a completion, in one io_uring_enter; then handle every CQE that
  // is ready, which queues the next SQEs, and give the recv buffers back.
  bool uring_turn() {
    __kernel_timespec ts{.tv_sec = 0, .tv_nsec = 20'000'000};
    io_uring_cqe* cqe = nullptr;
    int rc = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
    if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
      std::fprintf(stderr, "echo_load: io_uring_submit_and_wait: %s\n", std::strerror(-rc));
      return false;
    }
    const auto now = now_ns();
    unsigned head, seen = 0;
    int returned = 0;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      ++seen;
      const char* data = nullptr;
      if (cqe->flags & IORING_CQE_F_BUFFER) {
        const auto bid = static_cast<unsigned short>(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
        data = pool_.data() + bid * o_.size;
        io_uring_buf_ring_add(buf_ring_, const_cast<char*>(data), static_cast<unsigned>(o_.size),
                              bid, buf_mask_, returned++);
      }
      on_cqe(cqe->user_data, cqe->res, cqe->flags, data, now);
    }
    io_uring_cq_advance(&ring_, seen);
    if (returned) io_uring_buf_ring_advance(buf_ring_, returned);
    return true;
  }

  // data: the provided buffer holding a multishot recv's bytes (still valid: it is only handed
  // back to the kernel at the next submit).
  void on_cqe(std::uint64_t user_data, int res, unsigned flags, const char* data,
              std::int64_t now) {
    auto& c = conns_[user_data / 2];
    if (c.fd < 0) return;  // failed: what was still in flight is ignored
    if (user_data % 2 == 0) {
      c.send_inflight = false;
      if (res < 0) return fail(c, c.fd, "send", -res);
      if (static_cast<std::size_t>(res) != c.send_len)  // MSG_WAITALL: short only on error
        return fail(c, c.fd, "short send", 0);
      c.sent = o_.size;
    } else if (c.recv == recv_state::multishot) {
      if (!(flags & IORING_CQE_F_MORE)) c.recv = recv_state::none;  // its last CQE
      if (res == -ENOBUFS) return queue_single(c);  // the ring ran dry: read the rest alone
      if (res < 0) return fail(c, c.fd, "recv", -res);
      if (res == 0) return fail(c, c.fd, "recv: connection closed by the server", 0);
      if (!data) return fail(c, c.fd, "recv completed without a buffer", 0);
      if (!take_echo(c, data, static_cast<std::size_t>(res))) return;
      // Ended for another reason with the echo incomplete: arm it again.
      if (c.recv == recv_state::none && c.received < o_.size) queue_multishot(c);
    } else {
      c.recv = recv_state::none;
      if (res < 0) return fail(c, c.fd, "recv", -res);
      if (res == 0) return fail(c, c.fd, "recv: connection closed by the server", 0);
      if (!take_echo(c, c.echo.data() + c.received, static_cast<std::size_t>(res))) return;
      if (c.received < o_.size) queue_single(c);
    }
    // Every byte back proves the send has read the whole message (with CQE skipping, a send's
    // CQE never comes when it succeeds); without skipping, also wait for the send's CQE, which
    // may be reaped after the echo's.
    if (c.received == o_.size && !(c.send_inflight && !skip_send_cqe_)) complete(c, now);
  }

  // Checks n echoed bytes at data against the message; false (and the connection failed) when
  // they differ or run past its end.
  bool take_echo(connection& c, const char* data, std::size_t n) {
    if (c.received + n > o_.size || std::memcmp(data, c.message.data() + c.received, n) != 0) {
      fail(c, c.fd, "echo differs from what was sent", 0);
      return false;
    }
    c.received += n;
    return true;
  }

  // ---- both

  // err: the errno that explains the failure, 0 when there is none.
  void fail(connection& c, int fd, const char* what, int err) {
    if (errors_ < 5)
      std::fprintf(stderr, "echo_load: connection %d: %s%s%s\n", c.id, what, err ? ": " : "",
                   err ? std::strerror(err) : "");
    ++errors_;
    if (fd >= 0) {
      // shutdown first: an io_uring op still in flight holds a reference to the socket, which
      // close alone would not end.
      if (ring_ready_) {
        shutdown(fd, SHUT_RDWR);
        int none = -1;
        if (fixed_files_) io_uring_register_files_update(&ring_, c.id, &none, 1);
      }
      close(fd);  // also removes it from the epoll set
    }
    if (c.fd >= 0) {
      --live_;
      if (o_.messages_per_conn == 0 || c.done < o_.messages_per_conn) --running_;
    }
    c.fd = -1;
  }

  int report(double seconds, double client_cpu_us, std::optional<double> server_cpu_us) {
    auto us = [](double ns) { return ns / 1e3; };
    double rate = seconds > 0 ? static_cast<double>(msgs_) / seconds : 0;
    double client_share = seconds > 0 ? client_cpu_us / (seconds * 1e6) : 0;
    const char* client = o_.mode == engine::epoll ? "epoll"
                         : defer_taskrun_         ? "uring-defer"
                                                  : "uring";
    std::printf(
        "{\"conns\":%d,\"size\":%zu,\"msgs\":%llu,\"msgs_per_s\":%.1f,\"p50_us\":%.2f,"
        "\"p99_us\":%.2f,\"p999_us\":%.2f,\"max_us\":%.2f,\"errors\":%d,\"seconds\":%.3f,"
        "\"msgs_total\":%llu,\"client_cpu\":%.3f,\"client_cpu_us_per_msg\":%.4f,"
        "\"client\":\"%s\"",
        o_.conns, o_.size, static_cast<unsigned long long>(msgs_), rate, us(hist_.quantile(0.5)),
        us(hist_.quantile(0.99)), us(hist_.quantile(0.999)), us(static_cast<double>(hist_.max())),
        errors_, seconds, static_cast<unsigned long long>(msgs_total_), client_share,
        msgs_ ? client_cpu_us / static_cast<double>(msgs_) : 0.0, client);
    if (server_cpu_us)
      std::printf(",\"server_cpu_us\":%.0f,\"server_cpu_us_per_msg\":%.4f", *server_cpu_us,
                  msgs_ ? *server_cpu_us / static_cast<double>(msgs_) : 0.0);
    std::printf("}\n");
    std::fflush(stdout);
    return live_ > 0 ? 0 : 1;
  }

  options o_;
  int epoll_ = -1;
  io_uring ring_{};
  bool ring_ready_ = false;
  bool defer_taskrun_ = false;
  bool fixed_files_ = false;
  bool skip_send_cqe_ = false;
  bool multishot_ = false;
  io_uring_buf_ring* buf_ring_ = nullptr;
  int buf_mask_ = 0;
  std::vector<char> pool_;  // the provided buffers
  int live_ = 0;            // connections not failed
  int running_ = 0;         // connections not failed and not done with --messages-per-conn
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
