// Sockets on both backends: every test runs once with io_uring and once with epoll.
#include <weir/net/socket.hpp>

#include <weir/core/blocking.hpp>
#include <weir/core/runtime.hpp>
#include <weir/core/spawn.hpp>
#include <weir/core/time.hpp>
#include <weir/core/when_all.hpp>
#include <weir/core/when_any.hpp>
#include <weir/testing/bytes.hpp>
#include <weir/testing/co_assert.hpp>
#include <weir/testing/tasks.hpp>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

namespace weir::net {
namespace {

using namespace std::chrono_literals;
using weir::testing::bytes;

std::string to_string(std::span<const std::byte> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// Reads until `n` bytes arrived or the stream ended.
task<std::string> read_n(stream_socket& s, std::size_t n) {
  std::string out;
  std::byte buf[4096];
  while (out.size() < n) {
    auto r = co_await s.read({buf, std::min(sizeof buf, n - out.size())});
    if (!r || *r == 0) break;
    out.append(reinterpret_cast<const char*>(buf), *r);
  }
  co_return out;
}

class Sockets : public ::testing::TestWithParam<std::string> {
 protected:
  runtime_options opts() const { return {.shards = 1, .backend = GetParam()}; }
};

TEST_P(Sockets, BackendIsTheOneAskedFor) {
  runtime rt(opts());
  EXPECT_STREQ(rt.backend_name(), GetParam() == "uring" ? "io_uring" : "epoll");
}

task<> echo_once(listener& l) {
  auto s = co_await l.accept();
  EXPECT_TRUE(s.has_value());
  if (!s) co_return;
  std::byte buf[1024];
  for (;;) {
    auto n = co_await s->read(buf);
    if (!n || *n == 0) co_return;
    auto w = co_await s->write_all({buf, *n});
    EXPECT_TRUE(w.has_value());
  }
}

task<std::string> round_trip(address at, std::string msg) {
  auto l = listener::bind(at);
  EXPECT_TRUE(l.has_value()) << l.error().message();
  auto server = spawn(echo_once(*l), "echo");
  auto c = co_await stream_socket::connect(l->local_address());
  EXPECT_TRUE(c.has_value()) << c.error().message();
  EXPECT_TRUE((co_await c->write_all(bytes(msg))).has_value());
  std::string back = co_await read_n(*c, msg.size());
  c->close();
  (void)co_await server;
  co_return back;
}

TEST_P(Sockets, EchoOverTcpV4V6AndUnix) {
  runtime rt(opts());
  EXPECT_EQ(rt.block_on(round_trip(address::loopback_v4(0), "hello v4")), "hello v4");
  EXPECT_EQ(rt.block_on(round_trip(address::loopback_v6(0), "hello v6")), "hello v6");
  const std::string path = "/tmp/weir-test-" + std::to_string(::getpid()) + "-" + GetParam();
  EXPECT_EQ(rt.block_on(round_trip(*address::unix_path(path), "hello unix")), "hello unix");
  ::unlink(path.c_str());
  EXPECT_EQ(rt.block_on(round_trip(*address::unix_path("@weir-" + std::to_string(::getpid())),
                                   "hello abstract")),
            "hello abstract");
}

TEST_P(Sockets, AddressesAndResolve) {
  runtime rt(opts());
  rt.block_on([]() -> task<> {
    auto l = listener::bind(address::loopback_v4(0));
    CO_ASSERT_TRUE(l);
    EXPECT_NE(l->local_address().port(), 0);
    auto server = spawn([](listener& l) -> task<address> {
      auto s = co_await l.accept();
      co_return s ? *s->peer_address() : address{};
    }(*l));
    auto c = co_await stream_socket::connect("localhost", l->local_address().port());
    CO_ASSERT_TRUE(c) << c.error().message();
    auto peer_seen = co_await server;
    EXPECT_EQ(peer_seen->to_string(), c->local_address()->to_string());
    EXPECT_TRUE(c->set_keepalive(true, 30s, 5s, 3));
    EXPECT_TRUE(c->set_nodelay(true));
    auto bad = co_await resolve("no-such-host.invalid", 80);
    CO_ASSERT_FALSE(bad);
    EXPECT_EQ(&bad.error().category(), &resolve_category());
  }());
  EXPECT_EQ(address::parse("[::1]:8080")->to_string(), "[::1]:8080");
  EXPECT_EQ(address::parse("10.1.2.3:65535")->port(), 65535);
  EXPECT_FALSE(address::parse("10.1.2.3:65536"));
  EXPECT_FALSE(address::parse("host:80"));
  EXPECT_FALSE(address::parse("::1:80"));
}

// Large transfers: the kernel cuts reads and writes; every byte arrives once, in order.
TEST_P(Sockets, PartialReadsAndWrites) {
  runtime rt(opts());
  rt.block_on([]() -> task<> {
    auto l = listener::bind(address::loopback_v4(0));
    std::string big(8 << 20, '\0');
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7 + i / 4096);
    auto reader = spawn([](listener& l, std::size_t n) -> task<std::pair<std::string, int>> {
      auto s = co_await l.accept();
      std::string got;
      int reads = 0;
      std::byte buf[1000];  // odd size: reads never line up with writes
      while (got.size() < n) {
        auto r = co_await s->read(buf);
        if (!r || *r == 0) break;
        ++reads;
        got.append(reinterpret_cast<const char*>(buf), *r);
      }
      co_return std::pair{got, reads};
    }(*l, big.size()));
    auto c = co_await stream_socket::connect(l->local_address());
    std::size_t writes = 0, off = 0;
    while (off < big.size()) {
      auto w = co_await c->write(bytes(std::string_view(big).substr(off)));
      CO_ASSERT_TRUE(w);
      off += *w;
      ++writes;
    }
    auto [got, reads] = *co_await reader;
    EXPECT_EQ(got.size(), big.size());
    EXPECT_TRUE(got == big);
    EXPECT_GT(reads, 1000);
    EXPECT_GE(writes, 1u);
  }());
}

TEST_P(Sockets, HalfClose) {
  runtime rt(opts());
  rt.block_on([]() -> task<> {
    auto l = listener::bind(address::loopback_v4(0));
    auto server = spawn([](listener& l) -> task<> {
      auto s = co_await l.accept();
      std::string all = co_await read_n(*s, 1 << 20);  // until the client's FIN
      EXPECT_EQ(all, "request");
      EXPECT_TRUE((co_await s->write_all(bytes("reply after FIN"))).has_value());
    }(*l));
    auto c = co_await stream_socket::connect(l->local_address());
    EXPECT_TRUE((co_await c->write_all(bytes("request"))).has_value());
    EXPECT_TRUE(c->shutdown(SHUT_WR));
    EXPECT_EQ(co_await read_n(*c, 100), "reply after FIN");
    (void)co_await server;
  }());
}

// Data and the FIN arrive (and epoll reports them) before the reader looks: a short read
// takes the data, and the next read must still see the end of the stream (the FIN's edge
// was already consumed).
TEST_P(Sockets, ShortReadThenEndOfStream) {
  runtime rt(opts());
  rt.block_on([]() -> task<> {
    auto p = stream_socket::pair();
    auto& [a, b] = *p;
    std::byte buf[64];
    auto first = co_await with_timeout(20ms, a.read(buf));  // registers `a` with the reactor
    EXPECT_EQ(first.error(), errc::timed_out);
    EXPECT_TRUE((co_await b.write_all(bytes("abc"))).has_value());
    b.close();
    (void)co_await sleep_for(20ms);  // the shard polls the reactor meanwhile and sees IN|RDHUP
    auto r1 = co_await with_timeout(1s, a.read(buf));
    CO_ASSERT_TRUE(r1);
    EXPECT_EQ(*r1, 3u);
    auto r2 = co_await with_timeout(1s, a.read(buf));
    CO_ASSERT_TRUE(r2) << r2.error().message();
    EXPECT_EQ(*r2, 0u);
  }());
}

TEST_P(Sockets, PeerResetMidWrite) {
  runtime rt(opts());
  rt.block_on([]() -> task<> {
    auto l = listener::bind(address::loopback_v4(0));
    auto server = spawn([](listener& l) -> task<> {
      auto s = co_await l.accept();
      std::byte buf[100];
      (void)co_await s->read(buf);
      linger lg{1, 0};  // close with RST
      ::setsockopt(s->handle().fd(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
      s->close();
    }(*l));
    auto c = co_await stream_socket::connect(l->local_address());
    std::string chunk(64 * 1024, 'x');
    std::error_code failure;
    for (int i = 0; i < 10000 && !failure; ++i) {
      auto w = co_await c->write(bytes(chunk));
      if (!w) failure = w.error();
    }
    (void)co_await server;
    EXPECT_TRUE(failure == std::errc::connection_reset || failure == std::errc::broken_pipe)
        << failure.message();
  }());
}

TEST_P(Sockets, ConnectRefused) {
  runtime rt(opts());
  rt.block_on([]() -> task<> {
    address a;
    {
      auto l = listener::bind(address::loopback_v4(0));  // a port nobody listens on afterwards
      a = l->local_address();
    }
    auto c = co_await stream_socket::connect(a);
    CO_ASSERT_FALSE(c);
    EXPECT_EQ(c.error(), std::errc::connection_refused) << c.error().message();
  }());
}

// A listener with a full backlog that never accepts: further SYNs are dropped, so connecting
// hangs until its deadline.
TEST_P(Sockets, ConnectTimeoutAndCancel) {
  runtime rt(opts());
  rt.block_on([]() -> task<> {
    auto l = listener::bind(address::loopback_v4(0), {.backlog = 0});
    std::vector<stream_socket> queued;
    std::error_code last;
    for (int i = 0; i < 8 && !last; ++i) {
      auto c = co_await with_timeout(200ms, stream_socket::connect(l->local_address()));
      if (c)
        queued.push_back(std::move(*c));
      else
        last = c.error();
    }
    EXPECT_EQ(last, errc::timed_out) << last.message();
    // And cancelled by when_any (the loser's connect is cancelled and awaited).
    auto r = co_await when_any(stream_socket::connect(l->local_address()), sleep_for(50ms));
    EXPECT_EQ(r.index(), 1u);
  }());
}

TEST_P(Sockets, AcceptTimeout) {
  runtime rt(opts());
  rt.block_on([]() -> task<> {
    auto l = listener::bind(address::loopback_v4(0));
    auto s = co_await with_timeout(30ms, l->accept());
    CO_ASSERT_FALSE(s);
    EXPECT_EQ(s.error(), errc::timed_out);
    // The listener still works afterwards.
    auto server = spawn(echo_once(*l));
    auto c = co_await stream_socket::connect(l->local_address());
    EXPECT_TRUE((co_await c->write_all(bytes("ok"))).has_value());
    EXPECT_EQ(co_await read_n(*c, 2), "ok");
    c->close();
    (void)co_await server;
  }());
}

// Every operation kind can be cancelled; a cancelled read takes no data from the socket and
// its buffer (freed right after) is never written: ASan would see the reactor touch it.
TEST_P(Sockets, CancelEveryOperationKind) {
  runtime rt(opts());
  rt.block_on([]() -> task<> {
    auto p = stream_socket::pair();
    CO_ASSERT_TRUE(p);
    auto& [a, b] = *p;
    {
      auto buf = std::make_unique<std::byte[]>(64);
      auto r = co_await with_timeout(20ms, a.read({buf.get(), 64}));
      CO_ASSERT_FALSE(r);
      EXPECT_EQ(r.error(), errc::timed_out);
    }
    EXPECT_TRUE((co_await b.write_all(bytes("after"))).has_value());
    EXPECT_EQ(co_await read_n(a, 5), "after");  // the cancelled read took nothing

    auto rd = co_await with_timeout(20ms, a.readable());
    EXPECT_EQ(rd.error(), errc::timed_out);

    // Writes: fill the socket buffer until a write blocks, then cancel it.
    std::string chunk(256 * 1024, 'w');
    std::error_code werr;
    for (int i = 0; i < 1000 && !werr; ++i) {
      auto w = co_await with_timeout(20ms, b.write(bytes(chunk)));
      if (!w) werr = w.error();
    }
    EXPECT_EQ(werr, errc::timed_out);

    std::byte iobuf[8];
    iovec iov[2] = {{iobuf, 4}, {iobuf + 4, 4}};
    auto wv = co_await with_timeout(20ms, b.writev(iov));
    EXPECT_EQ(wv.error(), errc::timed_out);

    // Explicit cancellation through a task's token.
    auto h = spawn([](stream_socket& s) -> task<result<std::size_t>> {
      std::byte buf[16];
      co_return co_await s.write(std::span<const std::byte>(buf, 16));
    }(b));
    co_await testing::settle();
    h.cancel();
    auto hr = co_await h;
    CO_ASSERT_TRUE(hr);
    EXPECT_EQ(hr->error(), errc::cancelled);

    auto u = udp_socket::bind(address::loopback_v4(0));
    std::byte ubuf[16];
    auto ur = co_await with_timeout(20ms, u->recv_from(ubuf));
    EXPECT_EQ(ur.error(), errc::timed_out);
  }());
}

// Closing a socket while another task waits on it: the waiter gets ECANCELED, the fd is
// closed only after the operation is out of the kernel's hands.
TEST_P(Sockets, CloseWhileAnotherTaskWaits) {
  runtime rt(opts());
  rt.block_on([]() -> task<> {
    auto p = stream_socket::pair();
    auto& [a, b] = *p;
    auto reader = spawn([](stream_socket& s) -> task<result<std::size_t>> {
      std::byte buf[16];
      co_return co_await s.read(buf);
    }(a));
    co_await testing::settle();
    a.close();
    auto r = co_await reader;
    CO_ASSERT_TRUE(r);
    CO_ASSERT_FALSE(*r);
    EXPECT_EQ(r->error(), std::errc::operation_canceled);
    (void)b;
  }());
}

TEST_P(Sockets, Udp) {
  runtime rt(opts());
  rt.block_on([]() -> task<> {
    auto a = udp_socket::bind(address::loopback_v4(0));
    auto b = udp_socket::bind(address::loopback_v4(0));
    CO_ASSERT_TRUE(a && b);
    auto to = *b->local_address();
    EXPECT_EQ(*co_await a->send_to(bytes("datagram one"), to), 12u);
    std::byte buf[64];
    auto d = co_await b->recv_from(buf);
    CO_ASSERT_TRUE(d);
    EXPECT_EQ(d->size, 12u);
    EXPECT_FALSE(d->truncated);
    EXPECT_EQ(d->from, *a->local_address());
    EXPECT_EQ(to_string({buf, d->size}), "datagram one");
    // Truncation is reported, not hidden.
    (void)co_await a->send_to(bytes("0123456789"), to);
    auto t = co_await b->recv_from(std::span<std::byte>(buf, 4));
    EXPECT_TRUE(t->truncated);
    EXPECT_EQ(t->size, 10u);
    // Connected send/recv.
    EXPECT_TRUE(a->connect(to));
    EXPECT_TRUE(b->connect(*a->local_address()));
    EXPECT_EQ(*co_await a->send(bytes("ping")), 4u);
    EXPECT_EQ(*co_await b->recv(buf), 4u);
  }());
}

TEST_P(Sockets, UdpBatches) {
  runtime rt(opts());
  rt.block_on([]() -> task<> {
    auto a = udp_socket::bind(address::loopback_v4(0));
    auto b = udp_socket::bind(address::loopback_v4(0));
    std::vector<std::string> payloads;
    for (int i = 0; i < 50; ++i) payloads.push_back("datagram " + std::to_string(i));
    std::vector<std::span<const std::byte>> out;
    for (auto& p : payloads) out.push_back(bytes(p));
    auto receiver = spawn([](udp_socket& b, std::size_t want) -> task<std::vector<std::string>> {
      std::vector<std::string> got;
      std::vector<std::array<std::byte, 64>> storage(8);
      std::vector<std::span<std::byte>> bufs(storage.begin(), storage.end());
      std::vector<udp_socket::datagram> meta(8);
      int calls = 0;
      while (got.size() < want) {
        auto n = co_await with_timeout(2s, b.recv_many(bufs, meta));
        if (!n) break;
        ++calls;
        for (std::size_t i = 0; i < *n; ++i)
          got.push_back(to_string({bufs[i].data(), meta[i].size}));
      }
      EXPECT_LT(calls, 50);  // batched: several datagrams per call
      co_return got;
    }(*b, payloads.size()));
    co_await testing::settle();
    auto sent = co_await a->send_many(out, *b->local_address());
    CO_ASSERT_TRUE(sent);
    EXPECT_EQ(*sent, payloads.size());
    auto got = co_await receiver;
    EXPECT_EQ(*got, payloads);
  }());
}

// Out of file descriptors: accept backs off and reports instead of failing or spinning, and
// picks the connection up once descriptors are free again.
TEST_P(Sockets, AcceptUnderEmfile) {
  runtime rt(opts());
  rlimit old{};
  ::getrlimit(RLIMIT_NOFILE, &old);
  rt.block_on([&]() -> task<> {
    auto l = listener::bind(address::loopback_v4(0));
    auto c = co_await stream_socket::connect(l->local_address());  // waits in the backlog
    CO_ASSERT_TRUE(c);
    // Use up every descriptor below a lowered limit.
    rlimit low = old;
    low.rlim_cur = 256;
    CO_ASSERT_TRUE(::setrlimit(RLIMIT_NOFILE, &low) == 0);
    std::vector<int> hog;
    for (int fd; (fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;) hog.push_back(fd);
    auto acc = spawn(l->accept());
    const auto runs_before = weir::detail::tl_shard->stats().runs.get();
    (void)co_await sleep_for(60ms);
    const auto runs = weir::detail::tl_shard->stats().runs.get() - runs_before;
    EXPECT_GT(l->stats().fd_exhausted, 1u);
    EXPECT_LT(runs, 200u) << "the accept loop spins";
    EXPECT_FALSE(acc.finished());
    for (int fd : hog) ::close(fd);
    ::setrlimit(RLIMIT_NOFILE, &old);
    auto s = co_await with_timeout(2s, std::move(acc));
    CO_ASSERT_TRUE(s);
    CO_ASSERT_TRUE(*s);
    EXPECT_TRUE(s->value().is_open());
  }());
  ::setrlimit(RLIMIT_NOFILE, &old);
}

long rss_kib() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return 0;
}

// 10,000 connections to one shard, from a client process of their own (each process stays
// under the container's RLIMIT_NOFILE); each connection does one round trip, then idles in a
// read. Reports what an idle connection costs the server process.
int run_clients(const std::string& backend, std::uint16_t port, int n, int go_fd) {
  runtime rt({.shards = 1, .backend = backend});
  return rt.block_on([](std::uint16_t port, int n, int go_fd) -> task<int> {
    std::vector<stream_socket> clients;
    clients.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
      auto c = co_await stream_socket::connect(address::loopback_v4(port));
      if (!c) {
        std::fprintf(stderr, "client %d: %s\n", i, c.error().message().c_str());
        co_return 2;
      }
      clients.push_back(std::move(*c));
    }
    int echoed = 0;
    for (auto& c : clients)
      if (co_await c.write_all(bytes("x"))) echoed += (co_await read_n(c, 1)) == "x";
    if (echoed != n) co_return 3;
    char go;  // the server has measured: close everything
    (void)co_await blocking([go_fd, &go] { return ::read(go_fd, &go, 1); });
    co_return 0;
  }(port, n, go_fd));
}

TEST_P(Sockets, TenThousandConnectionsOnOneShard) {
  const int n = std::getenv("WEIR_TEST_CONNS") ? std::atoi(std::getenv("WEIR_TEST_CONNS")) : 10000;
  rlimit old{};
  ::getrlimit(RLIMIT_NOFILE, &old);
  rlimit want = old;
  want.rlim_cur = std::max<rlim_t>(old.rlim_cur, std::min<rlim_t>(old.rlim_max, n + 1024));
  ::setrlimit(RLIMIT_NOFILE, &want);
  if (want.rlim_cur < static_cast<rlim_t>(n + 256)) GTEST_SKIP() << "RLIMIT_NOFILE too low";
  auto l0 = listener::bind(address::loopback_v4(0), {.backlog = 4096});
  ASSERT_TRUE(l0);
  const std::uint16_t port = l0->local_address().port();
  int go[2];
  ASSERT_EQ(::pipe2(go, O_CLOEXEC), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(go[1]);
    ::_exit(run_clients(GetParam(), port, n, go[0]));
  }
  ::close(go[0]);
  runtime rt(opts());
  const long before = rss_kib();
  int served = 0;
  rt.block_on([](listener l, int n, int* served) -> task<> {
    for (int i = 0; i < n; ++i) {
      auto s = co_await with_timeout(30s, l.accept());
      CO_ASSERT_TRUE(s) << i << ": " << s.error().message();
      spawn_detached([](stream_socket s, int* served) -> task<> {
        std::byte buf[64];
        for (;;) {
          auto r = co_await s.read(buf);
          if (!r || *r == 0) co_return;
          ++*served;
          if (!co_await s.write_all({buf, *r})) co_return;
        }
      }(std::move(*s), served));
    }
    for (int i = 0; i < 3000 && *served < n; ++i) (void)co_await sleep_for(10ms);
  }(std::move(*l0), n, &served));
  const long after = rss_kib();
  EXPECT_EQ(served, n);
  std::printf(
      "[ info ] %s: %d idle connections on one shard: server RSS +%ld KiB, %.0f bytes per "
      "idle connection (task frame, socket, 64-byte buffer; kernel memory excluded)\n",
      GetParam().c_str(), n, after - before, static_cast<double>(after - before) * 1024.0 / n);
  ::close(go[1]);  // the clients close their connections and exit
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  ::setrlimit(RLIMIT_NOFILE, &old);
}

INSTANTIATE_TEST_SUITE_P(Backends, Sockets, ::testing::Values("uring", "epoll"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace weir::net
