#include <weir/tls/tls.hpp>

#include <weir/core/blocking.hpp>
#include <weir/core/runtime.hpp>
#include <weir/core/time.hpp>
#include <weir/core/when_all.hpp>
#include <weir/net/socket.hpp>
#include <weir/testing/script_dir.hpp>
#include <weir/tls/test_certs.hpp>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace weir {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

using tls_test::file;
using weir::testing::slurp;

// --- child processes (the openssl CLI as a peer) ------------------------------------------

// A child process with stdout and stderr in files. Its stdin is a file, or (when none is
// given) a pipe we hold open so that `openssl s_server` does not quit at the end of its
// input. Destroying it kills and reaps the child if it still runs: a test never leaves one
// behind and never hangs on one.
class child_process {
 public:
  child_process() = default;
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;
  ~child_process() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);  // immediate after SIGKILL; on the test's main thread
    }
    if (stdin_w_ >= 0) ::close(stdin_w_);
  }

  bool start(std::vector<std::string> argv, const std::string& stdin_file, const std::string& tag) {
    out_ = file(tag + ".out");
    err_ = file(tag + ".err");
    for (const auto& a : argv) command_ += a + " ";
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    int pipe_r = -1;
    if (stdin_file.empty()) {
      int p[2];
      if (::pipe2(p, O_CLOEXEC) < 0) return false;
      pipe_r = p[0];
      stdin_w_ = p[1];
      posix_spawn_file_actions_adddup2(&fa, pipe_r, 0);
    } else {
      posix_spawn_file_actions_addopen(&fa, 0, stdin_file.c_str(), O_RDONLY, 0);
    }
    posix_spawn_file_actions_addopen(&fa, 1, out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    const int rc = ::posix_spawnp(&pid_, args[0], &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (pipe_r >= 0) ::close(pipe_r);
    if (rc != 0) pid_ = -1;
    return rc == 0;
  }

  pid_t pid() const { return pid_; }
  void reaped() { pid_ = -1; }
  std::string out() const { return slurp(out_); }
  std::string diagnostics() const {
    return "command: " + command_ + "\n--- stdout:\n" + slurp(out_) + "--- stderr:\n" + slurp(err_);
  }
  const std::string& out_path() const { return out_; }

 private:
  pid_t pid_ = -1;
  int stdin_w_ = -1;
  std::string out_, err_, command_;
};

// Blocking (runs on weir::blocking's pool): waits up to `timeout_ms` for `pid` to exit, then
// kills it. The exit status, 128 + signal when killed by one, -1 when it had to be killed.
int wait_exit(pid_t pid, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    int st = 0;
    const pid_t r = ::waitpid(pid, &st, WNOHANG);
    if (r == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    if (r < 0) return -2;
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &st, 0);
      return -1;
    }
    std::this_thread::sleep_for(5ms);
  }
}

// Blocking: the port `openssl s_server -accept 0` listens on, from its "ACCEPT 0.0.0.0:PORT"
// line; 0 when it did not show up in time (or the server died).
int wait_accept_port(std::string out_path, pid_t pid, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    const std::string out = slurp(out_path);
    if (auto at = out.find("ACCEPT "); at != std::string::npos) {
      const auto colon = out.find(':', at);
      const auto eol = out.find('\n', at);
      if (colon != std::string::npos && eol != std::string::npos)
        return std::atoi(out.substr(colon + 1, eol - colon - 1).c_str());
    }
    if (::kill(pid, 0) < 0) return 0;
    std::this_thread::sleep_for(5ms);
  }
  return 0;
}

task<int> wait_child(child_process* c, int timeout_ms) {
  auto r = co_await blocking(wait_exit, c->pid(), timeout_ms);
  c->reaped();
  co_return r ? *r : -3;
}

// --- contexts -----------------------------------------------------------------------------

using tls_test::server_opts;

tls::context make_server(tls::server_options o) {
  auto c = tls::context::server(o);
  EXPECT_TRUE(c) << c.error().message();
  return c ? *c : tls::context();
}

tls::context make_client(tls::client_options o = {}) {
  if (o.ca_file.empty()) o.ca_file = file("ca.pem");
  auto c = tls::context::client(o);
  EXPECT_TRUE(c) << c.error().message();
  return c ? *c : tls::context();
}

// --- peers --------------------------------------------------------------------------------

struct report {
  weir::error handshake;  // of accept/connect (or of the TCP accept/connect before it)
  std::string alpn, version, cipher, subject, sni;
  std::string received;
  weir::error read_end;  // what ended reading; none: close_notify
  weir::error write_err;
};

void describe(report& r, const tls::stream& s) {
  r.alpn = s.alpn();
  r.version = s.tls_version();
  r.cipher = s.cipher();
  r.subject = s.peer_subject();
  r.sni = s.server_name();
}

task<result<void>> write_all(io::byte_stream& s, std::string data) {
  std::string_view rest = data;
  while (!rest.empty()) {
    iovec v{const_cast<char*>(rest.data()), rest.size()};
    WEIR_CO_TRY_ASSIGN(const std::size_t n, co_await s.write_some({&v, 1}));
    rest.remove_prefix(n);
  }
  co_return result<void>{};
}

// Reads until close_notify (returns no error) or an error (returns it).
task<weir::error> read_all(io::byte_stream* s, std::string* out) {
  std::vector<std::byte> buf(16384);
  for (;;) {
    auto n = co_await with_timeout(20s, s->read_some(buf));
    if (!n) co_return n.error();
    if (*n == 0) co_return weir::error();
    out->append(reinterpret_cast<const char*>(buf.data()), *n);
  }
}

task<weir::error> send_and_close(io::byte_stream* s, std::string data) {
  if (!data.empty())
    if (auto w = co_await write_all(*s, std::move(data)); !w) co_return w.error();
  auto r = co_await s->shutdown_write();
  co_return r.error();
}

enum class mode {
  echo,       // echo everything until close_notify, then close_notify back
  echo_line,  // echo the first line, close_notify, then read to the end (for s_client)
};

// After the handshake: serves `s` in mode `m`.
task<> serve_body(tls::stream* s, mode m, report* r) {
  describe(*r, *s);
  std::vector<std::byte> buf(16384);
  for (;;) {
    auto n = co_await with_timeout(20s, s->read_some(buf));
    if (!n) {
      r->read_end = n.error();
      break;
    }
    if (*n == 0) break;
    std::string chunk(reinterpret_cast<const char*>(buf.data()), *n);
    r->received += chunk;
    if (m == mode::echo_line && r->received.find('\n') == std::string::npos) continue;
    if (auto w = co_await write_all(*s, m == mode::echo_line ? r->received : chunk); !w) {
      r->write_err = w.error();
      break;
    }
    if (m == mode::echo_line) {
      (void)co_await s->shutdown_write();
      std::string rest;
      r->read_end = co_await read_all(s, &rest);
      co_return;
    }
  }
  if (auto c = co_await s->shutdown_write(); !c && !r->write_err) r->write_err = c.error();
}

// The server's side over `t` (borrowed).
task<report> serve_on(io::byte_stream* t, tls::context ctx, mode m) {
  report r;
  auto s = co_await with_timeout(20s, tls::stream::accept(std::move(ctx), *t));
  if (!s)
    r.handshake = s.error();
  else
    co_await serve_body(&*s, m, &r);
  co_return r;
}

// Accepts one connection and serves it; the stream owns the socket (the owning overload).
task<report> serve_one(net::listener* l, tls::context ctx, mode m) {
  report r;
  auto sock = co_await with_timeout(20s, l->accept());
  if (!sock) {
    r.handshake = sock.error();
    co_return r;
  }
  auto owned = std::make_unique<net::stream_socket>(std::move(*sock));
  auto s = co_await with_timeout(20s, tls::stream::accept(std::move(ctx), std::move(owned)));
  if (!s)
    r.handshake = s.error();
  else
    co_await serve_body(&*s, m, &r);
  co_return r;
}

// The client's side over `t` (borrowed): handshake, then send `data` and close_notify while
// reading everything back, concurrently (one reader and one writer task on one stream).
task<report> client_on(io::byte_stream* t, tls::context ctx, std::string host, std::string data,
                       bool send) {
  report r;
  auto s = co_await with_timeout(20s, tls::stream::connect(ctx, *t, host));
  if (!s) {
    r.handshake = s.error();
    co_return r;
  }
  describe(r, *s);
  if (send) {
    auto [w, e] =
        co_await when_all(send_and_close(&*s, std::move(data)), read_all(&*s, &r.received));
    r.write_err = w;
    r.read_end = e;
  } else {
    r.read_end = co_await read_all(&*s, &r.received);
  }
  co_return r;
}

task<report> client_one(net::address to, tls::context ctx, std::string host, std::string data,
                        bool send = true) {
  auto sock = co_await with_timeout(20s, net::stream_socket::connect(to));
  if (!sock) {
    report r;
    r.handshake = sock.error();
    co_return r;
  }
  co_return co_await client_on(&*sock, std::move(ctx), std::move(host), std::move(data), send);
}

struct pair_report {
  report server, client;
};

task<pair_report> run_pair(tls::context sctx, tls::context cctx, std::string host, std::string data,
                           bool send = true) {
  auto l = net::listener::bind(net::address::loopback_v4(0));
  if (!l) throw std::system_error(l.error());
  auto [s, c] = co_await when_all(
      serve_one(&*l, std::move(sctx), mode::echo),
      client_one(l->local_address(), std::move(cctx), std::move(host), std::move(data), send));
  co_return pair_report{std::move(s), std::move(c)};
}

std::string big_payload(std::size_t n) {
  std::string s(n, '\0');
  std::uint32_t x = 12345;
  for (auto& ch : s) {
    x = x * 1664525 + 1013904223;
    ch = static_cast<char>(x >> 24);
  }
  return s;
}

// A fake transport over another: reads and writes at most 1..7 bytes at a time, so every
// record crosses many partial reads and writes.
class chunky_stream final : public io::byte_stream {
 public:
  explicit chunky_stream(io::byte_stream& inner) : inner_(inner) {}
  task<result<std::size_t>> read_some(std::span<std::byte> buf) override {
    return inner_.read_some(buf.first(std::min(buf.size(), next())));
  }
  task<result<std::size_t>> write_some(std::span<const iovec> bufs) override {
    for (const iovec& v : bufs)
      if (v.iov_len > 0) {
        one_ = {v.iov_base, std::min(v.iov_len, next())};
        return inner_.write_some({&one_, 1});
      }
    return inner_.write_some(bufs);
  }
  task<result<void>> shutdown_write() override { return inner_.shutdown_write(); }

 private:
  std::size_t next() { return 1 + (n_++ % 7); }
  io::byte_stream& inner_;
  iovec one_{};
  std::size_t n_ = 0;
};

// --- the tests on sockets, on both backends -----------------------------------------------

class TlsNet : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    try {
      rt_ = std::make_unique<runtime>(
          runtime_options{.shards = 1, .pin_threads = false, .backend = GetParam()});
    } catch (const std::exception& e) {
      GTEST_SKIP() << "backend " << GetParam() << " unavailable: " << e.what();
    }
  }
  std::unique_ptr<runtime> rt_;
};

INSTANTIATE_TEST_SUITE_P(Backends, TlsNet, ::testing::Values("uring", "epoll"),
                         [](const auto& info) { return info.param; });

TEST_P(TlsNet, EchoOverTcpWithHalfClose) {
  auto r = rt_->block_on(
      run_pair(make_server(server_opts()), make_client(), "localhost", "hello over TLS\n"));
  ASSERT_FALSE(r.server.handshake) << r.server.handshake.message();
  ASSERT_FALSE(r.client.handshake) << r.client.handshake.message();
  EXPECT_EQ(r.server.received, "hello over TLS\n");
  EXPECT_EQ(r.client.received, "hello over TLS\n");
  EXPECT_FALSE(r.server.read_end) << r.server.read_end.message();  // close_notify
  EXPECT_FALSE(r.client.read_end) << r.client.read_end.message();
  EXPECT_FALSE(r.client.write_err) << r.client.write_err.message();
  EXPECT_EQ(r.client.version, "TLSv1.3");
  EXPECT_EQ(r.server.version, "TLSv1.3");
  EXPECT_FALSE(r.client.cipher.empty());
  EXPECT_EQ(r.client.subject, "CN=localhost");
  EXPECT_EQ(r.server.subject, "");  // no client certificate
  EXPECT_EQ(r.server.sni, "localhost");
  EXPECT_EQ(r.server.alpn, "");
}

TEST_P(TlsNet, LargeTransferWithConcurrentReaderAndWriter) {
  const std::string data = big_payload(3 * 1024 * 1024 + 17);
  auto r = rt_->block_on(run_pair(make_server(server_opts()), make_client(), "localhost", data));
  ASSERT_FALSE(r.client.handshake) << r.client.handshake.message();
  EXPECT_FALSE(r.client.read_end) << r.client.read_end.message();
  EXPECT_FALSE(r.client.write_err) << r.client.write_err.message();
  EXPECT_EQ(r.server.received.size(), data.size());
  EXPECT_TRUE(r.client.received == data)
      << "echo differs (" << r.client.received.size() << " bytes)";
}

TEST_P(TlsNet, ConnectByIpAddressMatchesIpSan) {
  auto r = rt_->block_on(run_pair(make_server(server_opts()), make_client(), "127.0.0.1", "x"));
  ASSERT_FALSE(r.client.handshake) << r.client.handshake.message();
  EXPECT_EQ(r.client.received, "x");
  EXPECT_EQ(r.server.sni, "");  // no SNI for an address
}

TEST_P(TlsNet, IntermediateChainFromCertFile) {
  tls::server_options o{.cert_file = file("chain.pem"), .key_file = file("chained.key")};
  auto r = rt_->block_on(run_pair(make_server(o), make_client(), "localhost", "chained"));
  ASSERT_FALSE(r.client.handshake) << r.client.handshake.message();
  EXPECT_EQ(r.client.received, "chained");
}

TEST_P(TlsNet, AlpnNegotiation) {
  auto o = server_opts();
  o.alpn = {"h2", "http/1.1"};
  {  // the server's preference wins among what the client offers
    auto r = rt_->block_on(
        run_pair(make_server(o), make_client({.alpn = {"http/1.1", "h2"}}), "localhost", "a"));
    ASSERT_FALSE(r.client.handshake) << r.client.handshake.message();
    EXPECT_EQ(r.client.alpn, "h2");
    EXPECT_EQ(r.server.alpn, "h2");
  }
  {
    auto r = rt_->block_on(
        run_pair(make_server(o), make_client({.alpn = {"http/1.1"}}), "localhost", "b"));
    ASSERT_FALSE(r.client.handshake) << r.client.handshake.message();
    EXPECT_EQ(r.client.alpn, "http/1.1");
    EXPECT_EQ(r.server.alpn, "http/1.1");
  }
  {  // a client offering nothing is served without ALPN
    auto r = rt_->block_on(run_pair(make_server(o), make_client(), "localhost", "c"));
    ASSERT_FALSE(r.client.handshake) << r.client.handshake.message();
    EXPECT_EQ(r.client.alpn, "");
  }
  {  // nothing in common: refused on both sides
    auto r = rt_->block_on(
        run_pair(make_server(o), make_client({.alpn = {"spdy/3"}}), "localhost", "d"));
    EXPECT_TRUE(r.server.handshake == tls::errc::no_application_protocol)
        << r.server.handshake.message();
    EXPECT_TRUE(r.client.handshake == tls::errc::no_application_protocol)
        << r.client.handshake.message();
    EXPECT_NE(r.server.handshake.message().find("h2, http/1.1"), std::string::npos)
        << r.server.handshake.message();
  }
}

TEST_P(TlsNet, MutualTlsAccepted) {
  auto o = server_opts();
  o.client_ca_file = file("ca.pem");
  o.require_client_cert = true;
  auto r = rt_->block_on(
      run_pair(make_server(o),
               make_client({.cert_file = file("client.pem"), .key_file = file("client.key")}),
               "localhost", "mtls"));
  ASSERT_FALSE(r.server.handshake) << r.server.handshake.message();
  ASSERT_FALSE(r.client.handshake) << r.client.handshake.message();
  EXPECT_EQ(r.server.subject, "CN=weir test client");
  EXPECT_EQ(r.client.received, "mtls");
}

TEST_P(TlsNet, MutualTlsRefusedWithoutClientCertificate) {
  auto o = server_opts();
  o.client_ca_file = file("ca.pem");
  o.require_client_cert = true;
  // TLS 1.3: the client's handshake completes before the server checks; the client learns
  // of the refusal from the server's alert, on its first read.
  auto r = rt_->block_on(run_pair(make_server(o), make_client(), "localhost", "", false));
  EXPECT_TRUE(r.server.handshake == tls::errc::certificate_required)
      << r.server.handshake.message();
  EXPECT_NE(r.server.handshake.message().find("require_client_cert"), std::string::npos);
  EXPECT_TRUE(r.client.handshake == tls::errc::certificate_required ||
              r.client.read_end == tls::errc::certificate_required)
      << r.client.handshake.message() << " / " << r.client.read_end.message();
}

TEST_P(TlsNet, MutualTlsRefusesUntrustedClientCertificate) {
  auto o = server_opts();
  o.client_ca_file = file("ca.pem");
  o.require_client_cert = true;
  auto r = rt_->block_on(run_pair(
      make_server(o),
      make_client({.cert_file = file("selfsigned.pem"), .key_file = file("selfsigned.key")}),
      "localhost", "", false));
  EXPECT_TRUE(r.server.handshake == tls::errc::untrusted_certificate)
      << r.server.handshake.message();
  EXPECT_NE(r.server.handshake.message().find("the client's certificate"), std::string::npos)
      << r.server.handshake.message();
  EXPECT_TRUE(r.client.handshake == tls::errc::certificate_rejected ||
              r.client.read_end == tls::errc::certificate_rejected)
      << r.client.handshake.message() << " / " << r.client.read_end.message();
}

struct bad_cert_case {
  const char* server_cert;
  const char* client_ca;
  tls::errc expected;
  std::vector<std::string> in_message;
};

TEST_P(TlsNet, BadServerCertificates) {
  const bad_cert_case cases[] = {
      {"expired", "ca.pem", tls::errc::certificate_expired, {"expired on", "2020", "CN=localhost"}},
      {"wronghost",
       "ca.pem",
       tls::errc::hostname_mismatch,
       {"\"localhost\"", "wrong.example", "www.wrong.example"}},
      {"selfsigned", "ca.pem", tls::errc::untrusted_certificate, {"self-signed", "ca_file"}},
      // the server's CA is not the one the client trusts
      {"server",
       "selfsigned.pem",
       tls::errc::untrusted_certificate,
       {"unknown CA", "CN=weir test CA"}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.server_cert);
    auto r = rt_->block_on(run_pair(make_server(server_opts(c.server_cert)),
                                    make_client({.ca_file = file(c.client_ca)}), "localhost",
                                    "never sent"));
    EXPECT_TRUE(r.client.handshake == c.expected) << r.client.handshake.message();
    for (const auto& part : c.in_message)
      EXPECT_NE(r.client.handshake.message().find(part), std::string::npos)
          << "\"" << part << "\" not in: " << r.client.handshake.message();
    // Our client tells the server why with an alert.
    EXPECT_TRUE(r.server.handshake == tls::errc::certificate_rejected)
        << r.server.handshake.message();
    EXPECT_EQ(r.server.received, "");
  }
}

TEST_P(TlsNet, VerificationCanBeTurnedOff) {
  auto r = rt_->block_on(run_pair(make_server(server_opts("selfsigned")),
                                  make_client({.verify = false}), "wrong.name", "trusting"));
  ASSERT_FALSE(r.client.handshake) << r.client.handshake.message();
  EXPECT_EQ(r.client.received, "trusting");
}

task<std::pair<weir::error, std::chrono::milliseconds>> connect_to_silent_server(tls::context ctx) {
  auto l = net::listener::bind(net::address::loopback_v4(0));
  if (!l) throw std::system_error(l.error());
  auto c = co_await net::stream_socket::connect(l->local_address());  // backlog: never served
  if (!c) throw std::system_error(c.error());
  auto peer = co_await l->accept();  // held open, silent
  const auto t0 = now();
  auto s = co_await with_timeout(300ms, tls::stream::connect(ctx, *c, "localhost"));
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(now() - t0);
  co_return std::pair{s.error(), took};
}

task<std::pair<weir::error, std::chrono::milliseconds>> accept_from_silent_client(
    tls::context ctx) {
  auto l = net::listener::bind(net::address::loopback_v4(0));
  if (!l) throw std::system_error(l.error());
  auto c = co_await net::stream_socket::connect(l->local_address());  // says nothing
  if (!c) throw std::system_error(c.error());
  auto a = co_await l->accept();
  if (!a) throw std::system_error(a.error());
  const auto t0 = now();
  auto s = co_await with_timeout(300ms, tls::stream::accept(ctx, *a));
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(now() - t0);
  co_return std::pair{s.error(), took};
}

TEST_P(TlsNet, HandshakeDeadlineAgainstSilentPeer) {
  auto [ec, took] = rt_->block_on(connect_to_silent_server(make_client()));
  EXPECT_EQ(ec, errc::timed_out) << ec.message();
  EXPECT_GE(took, 290ms);
  EXPECT_LT(took, 3s);
  auto [ec2, took2] = rt_->block_on(accept_from_silent_client(make_server(server_opts())));
  EXPECT_EQ(ec2, errc::timed_out) << ec2.message();
  EXPECT_LT(took2, 3s);
}

// The server sends, then closes TCP without close_notify.
task<report> serve_then_drop(net::listener* l, tls::context ctx) {
  report r;
  auto sock = co_await with_timeout(20s, l->accept());
  if (!sock) throw std::system_error(sock.error());
  {
    auto s = co_await with_timeout(20s, tls::stream::accept(ctx, *sock));
    if (!s) {
      r.handshake = s.error();
      co_return r;
    }
    if (auto w = co_await write_all(*s, "partial"); !w) r.write_err = w.error();
  }
  (void)sock->shutdown(SHUT_WR);  // FIN, no close_notify
  std::vector<std::byte> buf(64);
  (void)co_await with_timeout(20s, sock->read(buf));  // until the client goes
  co_return r;
}

task<pair_report> truncation(tls::context sctx, tls::context cctx) {
  auto l = net::listener::bind(net::address::loopback_v4(0));
  if (!l) throw std::system_error(l.error());
  auto [s, c] =
      co_await when_all(serve_then_drop(&*l, std::move(sctx)),
                        client_one(l->local_address(), std::move(cctx), "localhost", "", false));
  co_return pair_report{std::move(s), std::move(c)};
}

TEST_P(TlsNet, PeerClosingWithoutCloseNotifyIsTruncation) {
  auto r = rt_->block_on(truncation(make_server(server_opts()), make_client()));
  ASSERT_FALSE(r.client.handshake) << r.client.handshake.message();
  EXPECT_EQ(r.client.received, "partial");
  EXPECT_TRUE(r.client.read_end == tls::errc::truncated) << r.client.read_end.message();
  EXPECT_NE(r.client.read_end.message().find("close_notify"), std::string::npos);
}

task<weir::error> plain_http_client(net::address to) {
  auto c = co_await net::stream_socket::connect(to);
  if (!c) co_return c.error();
  std::string req = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
  (void)co_await c->write_all(std::as_bytes(std::span(req)));
  std::vector<std::byte> buf(4096);
  while (true) {  // until the server hangs up
    auto n = co_await with_timeout(20s, c->read(buf));
    if (!n || *n == 0) break;
  }
  co_return weir::error();
}

task<report> not_tls(tls::context sctx) {
  auto l = net::listener::bind(net::address::loopback_v4(0));
  if (!l) throw std::system_error(l.error());
  auto [s, c] = co_await when_all(serve_one(&*l, std::move(sctx), mode::echo),
                                  plain_http_client(l->local_address()));
  co_return s;
}

TEST_P(TlsNet, PlainHttpToTlsPort) {
  auto r = rt_->block_on(not_tls(make_server(server_opts())));
  EXPECT_TRUE(r.handshake == tls::errc::not_tls) << r.handshake.message();
  EXPECT_NE(r.handshake.message().find("plain HTTP"), std::string::npos);
}

// A read cancelled by its deadline loses nothing: the next read gets the data.
task<report> late_sender(net::listener* l, tls::context ctx) {
  report r;
  auto sock = co_await with_timeout(20s, l->accept());
  if (!sock) throw std::system_error(sock.error());
  auto s = co_await with_timeout(20s, tls::stream::accept(ctx, *sock));
  if (!s) {
    r.handshake = s.error();
    co_return r;
  }
  (void)co_await sleep_for(200ms);
  (void)co_await write_all(*s, "late");
  (void)co_await s->shutdown_write();
  std::string rest;
  r.read_end = co_await read_all(&*s, &rest);
  co_return r;
}

task<report> impatient_reader(net::address to, tls::context ctx) {
  report r;
  auto sock = co_await net::stream_socket::connect(to);
  if (!sock) throw std::system_error(sock.error());
  auto s = co_await with_timeout(20s, tls::stream::connect(ctx, *sock, "localhost"));
  if (!s) {
    r.handshake = s.error();
    co_return r;
  }
  std::vector<std::byte> buf(64);
  auto first = co_await with_timeout(30ms, s->read_some(buf));
  r.write_err = first.error();  // expected: timed_out
  r.read_end = co_await read_all(&*s, &r.received);
  (void)co_await s->shutdown_write();
  co_return r;
}

task<report> cancelled_read(tls::context sctx, tls::context cctx) {
  auto l = net::listener::bind(net::address::loopback_v4(0));
  if (!l) throw std::system_error(l.error());
  auto [s, c] = co_await when_all(late_sender(&*l, std::move(sctx)),
                                  impatient_reader(l->local_address(), std::move(cctx)));
  co_return c;
}

TEST_P(TlsNet, ReadDeadlineLosesNothing) {
  auto r = rt_->block_on(cancelled_read(make_server(server_opts()), make_client()));
  ASSERT_FALSE(r.handshake) << r.handshake.message();
  EXPECT_EQ(r.write_err, errc::timed_out) << r.write_err.message();
  EXPECT_EQ(r.received, "late");
  EXPECT_FALSE(r.read_end) << r.read_end.message();
}

// Over a Unix socket pair, through a transport that moves 1 to 7 bytes per call.
task<pair_report> over_chunky_pair(tls::context sctx, tls::context cctx, std::string data) {
  auto p = net::stream_socket::pair();
  if (!p) throw std::system_error(p.error());
  chunky_stream a(p->first), b(p->second);
  auto [s, c] =
      co_await when_all(serve_on(&a, std::move(sctx), mode::echo),
                        client_on(&b, std::move(cctx), "localhost", std::move(data), true));
  co_return pair_report{std::move(s), std::move(c)};
}

TEST_P(TlsNet, UnixPairThroughChunkyFakeTransport) {
  const std::string data = big_payload(70 * 1024);
  auto r = rt_->block_on(over_chunky_pair(make_server(server_opts()), make_client(), data));
  ASSERT_FALSE(r.server.handshake) << r.server.handshake.message();
  ASSERT_FALSE(r.client.handshake) << r.client.handshake.message();
  EXPECT_TRUE(r.client.received == data) << r.client.received.size();
  EXPECT_FALSE(r.client.read_end) << r.client.read_end.message();
}

TEST_P(TlsNet, WrongContextRoleIsAnError) {
  auto r = rt_->block_on(run_pair(make_client(), make_server(server_opts()), "localhost", "x"));
  EXPECT_TRUE(r.server.handshake == tls::errc::invalid_options) << r.server.handshake.message();
  EXPECT_TRUE(r.client.handshake == tls::errc::invalid_options) << r.client.handshake.message();
}

// --- interoperability with the openssl CLI ------------------------------------------------

struct cli_result {
  report ours;
  int exit_code = 0;
};

// Our server, `openssl s_client ARGS` as the client sending one line.
task<cli_result> serve_s_client(child_process* child, tls::context ctx,
                                std::vector<std::string> extra, std::string line) {
  auto l = net::listener::bind(net::address::loopback_v4(0));
  if (!l) throw std::system_error(l.error());
  std::ofstream(file("s_client.in")) << line;
  std::vector<std::string> argv = {"openssl",
                                   "s_client",
                                   "-connect",
                                   "127.0.0.1:" + std::to_string(l->local_address().port()),
                                   "-servername",
                                   "localhost",
                                   "-CAfile",
                                   file("ca.pem"),
                                   "-verify_return_error",
                                   "-verify_hostname",
                                   "localhost",
                                   "-quiet"};  // -quiet: also -ign_eof, reads until we close
  argv.insert(argv.end(), extra.begin(), extra.end());
  if (!child->start(argv, file("s_client.in"), "s_client"))
    throw std::runtime_error("cannot start openssl s_client");
  auto [ours, code] =
      co_await when_all(serve_one(&*l, std::move(ctx), mode::echo_line), wait_child(child, 20000));
  co_return cli_result{std::move(ours), code};
}

TEST_P(TlsNet, OurServerWithOpensslClientTls13) {
  child_process child;
  auto r = rt_->block_on(
      serve_s_client(&child, make_server(server_opts()), {}, "hello from s_client\n"));
  ASSERT_FALSE(r.ours.handshake) << r.ours.handshake.message() << "\n" << child.diagnostics();
  EXPECT_EQ(r.ours.version, "TLSv1.3");
  EXPECT_EQ(r.ours.sni, "localhost");
  EXPECT_EQ(r.ours.received, "hello from s_client\n");
  EXPECT_EQ(r.exit_code, 0) << child.diagnostics();
  EXPECT_EQ(child.out(), "hello from s_client\n") << child.diagnostics();
}

TEST_P(TlsNet, OurServerWithOpensslClientTls12) {
  child_process child;
  auto r = rt_->block_on(
      serve_s_client(&child, make_server(server_opts()), {"-tls1_2"}, "hello twelve\n"));
  ASSERT_FALSE(r.ours.handshake) << r.ours.handshake.message() << "\n" << child.diagnostics();
  EXPECT_EQ(r.ours.version, "TLSv1.2");
  // The policy: ECDHE with an AEAD cipher (the certificate is ECDSA).
  EXPECT_TRUE(r.ours.cipher == "ECDHE-ECDSA-AES128-GCM-SHA256" ||
              r.ours.cipher == "ECDHE-ECDSA-AES256-GCM-SHA384" ||
              r.ours.cipher == "ECDHE-ECDSA-CHACHA20-POLY1305")
      << r.ours.cipher;
  EXPECT_EQ(r.exit_code, 0) << child.diagnostics();
  EXPECT_EQ(child.out(), "hello twelve\n") << child.diagnostics();
}

TEST_P(TlsNet, OurServerRefusesCbcCipherFromOpensslClient) {
  child_process child;
  auto r =
      rt_->block_on(serve_s_client(&child, make_server(server_opts()),
                                   {"-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA256"}, "never\n"));
  EXPECT_TRUE(r.ours.handshake == tls::errc::no_shared_cipher) << r.ours.handshake.message() << "\n"
                                                               << child.diagnostics();
  EXPECT_NE(r.exit_code, 0);
}

TEST_P(TlsNet, OurServerRefusesTls11FromOpensslClient) {
  child_process child;
  auto r = rt_->block_on(serve_s_client(&child, make_server(server_opts()),
                                        {"-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"}, "never\n"));
  EXPECT_TRUE(r.ours.handshake == tls::errc::protocol_version) << r.ours.handshake.message() << "\n"
                                                               << child.diagnostics();
  EXPECT_NE(r.ours.handshake.message().find("TLS 1.2"), std::string::npos)
      << r.ours.handshake.message();
  EXPECT_NE(r.exit_code, 0);
}

TEST_P(TlsNet, OurServerWithOpensslClientCertificate) {
  auto o = server_opts();
  o.client_ca_file = file("ca.pem");
  o.require_client_cert = true;
  child_process child;
  auto r = rt_->block_on(serve_s_client(
      &child, make_server(o), {"-cert", file("client.pem"), "-key", file("client.key")}, "m\n"));
  ASSERT_FALSE(r.ours.handshake) << r.ours.handshake.message() << "\n" << child.diagnostics();
  EXPECT_EQ(r.ours.subject, "CN=weir test client");
  EXPECT_EQ(child.out(), "m\n") << child.diagnostics();
}

// Our client, `openssl s_server ARGS -rev` as the server (it answers each line reversed).
task<cli_result> connect_s_server(child_process* child, tls::context ctx,
                                  std::vector<std::string> extra, std::string line) {
  std::vector<std::string> argv = {
      "openssl", "s_server",         "-4",       "-accept", "0",   "-cert", file("server.pem"),
      "-key",    file("server.key"), "-naccept", "1",       "-rev"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  if (!child->start(argv, "", "s_server")) throw std::runtime_error("cannot start s_server");
  // A named awaiter: g++ 12 mis-destroys a prvalue awaiter holding a std::string (see
  // net::resolve).
  auto job = blocking(wait_accept_port, child->out_path(), child->pid(), 20000);
  auto port = co_await std::move(job);
  cli_result out;
  if (!port || *port <= 0) {
    out.ours.handshake = make_error_code(std::errc::connection_refused);
    co_return out;
  }
  auto [ours, code] =
      co_await when_all(client_one(net::address::loopback_v4(static_cast<std::uint16_t>(*port)),
                                   std::move(ctx), "localhost", std::move(line)),
                        wait_child(child, 20000));
  out.ours = std::move(ours);
  out.exit_code = code;
  co_return out;
}

TEST_P(TlsNet, OurClientWithOpensslServer) {
  child_process child;
  auto r = rt_->block_on(connect_s_server(&child, make_client({.alpn = {"h2", "http/1.1"}}),
                                          {"-alpn", "http/1.1"}, "hello s_server\n"));
  ASSERT_FALSE(r.ours.handshake) << r.ours.handshake.message() << "\n" << child.diagnostics();
  EXPECT_EQ(r.ours.version, "TLSv1.3");
  EXPECT_EQ(r.ours.alpn, "http/1.1");
  EXPECT_EQ(r.ours.subject, "CN=localhost");
  EXPECT_EQ(r.ours.received.substr(0, r.ours.received.find('\n') + 1), "revres_s olleh\n")
      << child.diagnostics();
  EXPECT_EQ(r.exit_code, 0) << child.diagnostics();
}

TEST_P(TlsNet, OurClientWithOpensslServerTls12) {
  child_process child;
  auto r = rt_->block_on(connect_s_server(&child, make_client(), {"-tls1_2"}, "twelve\n"));
  ASSERT_FALSE(r.ours.handshake) << r.ours.handshake.message() << "\n" << child.diagnostics();
  EXPECT_EQ(r.ours.version, "TLSv1.2");
  EXPECT_TRUE(r.ours.cipher == "ECDHE-ECDSA-AES128-GCM-SHA256" ||
              r.ours.cipher == "ECDHE-ECDSA-AES256-GCM-SHA384" ||
              r.ours.cipher == "ECDHE-ECDSA-CHACHA20-POLY1305")
      << r.ours.cipher;
  EXPECT_EQ(r.ours.received.substr(0, r.ours.received.find('\n') + 1), "evlewt\n")
      << child.diagnostics();
}

TEST_P(TlsNet, OurClientRefusesTls11OpensslServer) {
  child_process child;
  auto r = rt_->block_on(connect_s_server(&child, make_client(),
                                          {"-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"}, "x\n"));
  EXPECT_TRUE(r.ours.handshake == tls::errc::protocol_version) << r.ours.handshake.message() << "\n"
                                                               << child.diagnostics();
}

}  // namespace
}  // namespace weir
