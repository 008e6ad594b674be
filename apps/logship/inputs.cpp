#include "inputs.hpp"

#include <weir/core/log.hpp>
#include <weir/core/registry.hpp>
#include <weir/core/spawn.hpp>
#include <weir/net/socket.hpp>
#include <weir/sync/wait_group.hpp>
#include <weir/tls/tls.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <deque>

namespace logship {

using namespace std::chrono_literals;

namespace {

// How often a waiting read looks up to see whether logship is stopping. When it is, a read
// that finds nothing for this long means the peer has sent everything it had.
constexpr weir::clock::duration kSlice = 250ms;
constexpr weir::clock::duration kHandshakeTimeout = 10s;

std::string_view trim_datagram(std::string_view d) {
  while (!d.empty() && (d.back() == '\n' || d.back() == '\r' || d.back() == '\0'))
    d.remove_suffix(1);
  return d;
}

}  // namespace

const char* kind_name(input_spec::kind_t k) noexcept {
  switch (k) {
    case input_spec::kind_t::tcp: return "tcp";
    case input_spec::kind_t::tls: return "tls";
    case input_spec::kind_t::udp: return "udp";
    case input_spec::kind_t::unix_datagram: return "unix";
  }
  return "?";
}

struct stream_input {
  input_spec spec;
  input_counters* counters = nullptr;
  weir::net::listener listener;
  std::shared_ptr<weir::tls::context> tls;  // null for plain TCP
};

struct datagram_input {
  input_spec spec;
  input_counters* counters = nullptr;
  weir::net::udp_socket socket;
};

struct inputs::state {
  input_limits limits;
  pipeline* pipe = nullptr;
  std::deque<stream_input> streams;
  std::deque<datagram_input> datagrams;
  weir::wait_group connections;
  bool stopping = false;

  weir::task<void> accept_loop(stream_input& in);
  weir::task<void> connection(stream_input& in, weir::net::stream_socket sock);
  weir::task<void> read_stream(stream_input& in, weir::io::byte_stream& s);
  weir::task<void> datagram_loop(datagram_input& in);
};

inputs::inputs(std::unique_ptr<state> s) noexcept : s_(std::move(s)) {}
inputs::~inputs() = default;

static weir::result<weir::tls::context> make_tls(const input_spec& s) {
  return weir::tls::context::server({.cert_file = s.cert_file,
                                     .key_file = s.key_file,
                                     .client_ca_file = s.client_ca_file,
                                     .require_client_cert = s.require_client_cert});
}

weir::result<std::unique_ptr<inputs>> inputs::bind(const std::vector<input_spec>& specs,
                                                   input_limits limits, pipeline& p) {
  auto st = std::make_unique<state>();
  st->limits = limits;
  st->pipe = &p;
  for (const input_spec& s : specs) {
    const std::string what = std::string(kind_name(s.kind)) + " input " + s.address;
    auto fail = [&](const weir::error& e) {
      return weir::unexpected(e.code(), what + ": " + e.message());
    };
    if (s.kind == input_spec::kind_t::tcp || s.kind == input_spec::kind_t::tls) {
      auto at = weir::net::address::parse(s.address);
      if (!at) return fail(at.error());
      stream_input& in = st->streams.emplace_back();
      in.spec = s;
      if (s.kind == input_spec::kind_t::tls) {
        auto ctx = make_tls(s);
        if (!ctx) return fail(ctx.error());
        in.tls = std::make_shared<weir::tls::context>(std::move(*ctx));
      }
      auto l = weir::net::listener::bind(*at, {.reuse_port = false});
      if (!l) return fail(l.error());
      in.listener = std::move(*l);
      in.counters = &p.add_input(std::string(kind_name(s.kind)) + " " +
                                 in.listener.local_address().to_string());
    } else {
      weir::result<weir::net::address> at = s.kind == input_spec::kind_t::udp
                                                ? weir::net::address::parse(s.address)
                                                : weir::net::address::unix_path(s.address);
      if (!at) return fail(at.error());
      if (s.kind == input_spec::kind_t::unix_datagram) {
        struct stat sb {};  // a socket left by an earlier run is replaced, nothing else
        if (::lstat(s.address.c_str(), &sb) == 0 && S_ISSOCK(sb.st_mode))
          (void)::unlink(s.address.c_str());
      }
      auto sock = weir::net::udp_socket::bind(*at);
      if (!sock) return fail(sock.error());
      if (s.kind == input_spec::kind_t::unix_datagram)
        (void)::chmod(s.address.c_str(), 0666);  // /dev/log style: every local program logs
      datagram_input& in = st->datagrams.emplace_back();
      in.spec = s;
      in.socket = std::move(*sock);
      std::string name = std::string(kind_name(s.kind)) + " ";
      if (s.kind == input_spec::kind_t::udp) {
        auto local = in.socket.local_address();
        name += local ? local->to_string() : s.address;
      } else {
        name += s.address;
      }
      in.counters = &p.add_input(std::move(name));
    }
  }
  return std::unique_ptr<inputs>(new inputs(std::move(st)));
}

std::vector<std::string> inputs::names() const {
  std::vector<std::string> out;
  for (const auto& s : s_->streams) out.push_back(s.counters->name);
  for (const auto& d : s_->datagrams) out.push_back(d.counters->name);
  return out;
}

void inputs::stop() noexcept { s_->stopping = true; }

weir::result<void> inputs::reload_tls() {
  weir::result<void> first_error;
  for (stream_input& in : s_->streams) {
    if (!in.tls) continue;
    auto ctx = make_tls(in.spec);
    if (!ctx) {
      weir::log::error("TLS certificates not reloaded",
                       {{"input", in.counters->name}, {"error", ctx.error().message()}});
      if (first_error) first_error = weir::unexpected(ctx.error());
      continue;
    }
    in.tls = std::make_shared<weir::tls::context>(std::move(*ctx));
    weir::log::info("TLS certificates reloaded", {{"input", in.counters->name}});
  }
  return first_error;
}

weir::task<void> inputs::run() {
  std::vector<weir::join_handle<void>> loops;
  for (stream_input& in : s_->streams) loops.push_back(weir::spawn(s_->accept_loop(in), "accept"));
  for (datagram_input& in : s_->datagrams)
    loops.push_back(weir::spawn(s_->datagram_loop(in), "datagrams"));
  for (auto& l : loops) (void)co_await l;
  (void)co_await s_->connections.wait();
}

weir::task<void> inputs::state::accept_loop(stream_input& in) {
  weir::set_task_context(in.counters->name);
  while (!stopping) {
    auto s = co_await weir::with_timeout(kSlice, in.listener.accept());
    if (!s) {
      if (s.error() != weir::errc::timed_out)
        weir::log::warn("accept failed",
                        {{"input", in.counters->name}, {"error", s.error().message()}});
      continue;
    }
    in.counters->connections.fetch_add(1, std::memory_order_relaxed);
    if (in.counters->connections_open.load(std::memory_order_relaxed) >= limits.max_connections) {
      in.counters->connections_refused.fetch_add(1, std::memory_order_relaxed);
      continue;  // closed: the peer sees the connection end before it sent anything we read
    }
    connections.add();
    weir::spawn_detached(connection(in, std::move(*s)), "syslog connection");
  }
  in.listener.close();
}

weir::task<void> inputs::state::connection(stream_input& in, weir::net::stream_socket sock) {
  input_counters& c = *in.counters;
  c.connections_open.fetch_add(1, std::memory_order_relaxed);
  const std::string peer = sock.peer_name();
  weir::set_task_context(c.name + " " + peer);
  if (in.tls) {
    std::shared_ptr<weir::tls::context> ctx = in.tls;  // this connection keeps its certificates
    auto t = co_await weir::with_timeout(kHandshakeTimeout, weir::tls::stream::accept(*ctx, sock));
    if (!t) {
      c.tls_handshake_failures.fetch_add(1, std::memory_order_relaxed);
      weir::log::warn("TLS handshake failed",
                      {{"input", c.name}, {"peer", peer}, {"error", t.error().message()}});
    } else {
      co_await read_stream(in, *t);
    }
  } else {
    co_await read_stream(in, sock);
  }
  c.connections_open.fetch_sub(1, std::memory_order_relaxed);
  connections.done();
}

weir::task<void> inputs::state::read_stream(stream_input& in, weir::io::byte_stream& s) {
  input_counters& c = *in.counters;
  framer f(in.spec.framing, limits.max_message);
  // Room for a whole frame and its count prefix; the framer consumes longer ones as it goes.
  const std::size_t cap = std::max<std::size_t>(limits.max_message + 32, 64 * 1024);
  std::unique_ptr<char[]> buf(new char[cap]);
  std::size_t have = 0;
  weir::clock::time_point last_data = weir::now();
  std::vector<record> batch;
  batch.reserve(limits.batch_records);
  bool open = true;
  while (open) {
    auto n = co_await weir::with_timeout(
        kSlice, s.read_some(std::span<std::byte>(reinterpret_cast<std::byte*>(buf.get()) + have,
                                                 cap - have)));
    if (!n && n.error() == weir::errc::timed_out) {
      if (stopping || weir::now() - last_data >= limits.idle_timeout) break;
      continue;
    }
    std::string_view rest(buf.get(), have);
    if (!n || *n == 0) {  // the end of the stream (or a reset): what is left is a frame
      frame fr;
      f.finish(rest, fr);
      if (fr.present) pipe->take(fr.bytes, fr.truncated, c, batch);
      have = 0;
      open = false;
    } else {
      last_data = weir::now();
      have += *n;
      rest = std::string_view(buf.get(), have);
      std::size_t consumed = 0;
      for (;;) {
        frame fr;
        const std::size_t used = f.next(rest.substr(consumed), fr);
        if (!used) break;
        if (fr.error) {
          c.framing_errors.fetch_add(1, std::memory_order_relaxed);
          weir::log::warn("framing error: closing the connection",
                          {{"input", c.name}, {"peer", s.peer_name()}, {"error", fr.error}});
          open = false;
          break;
        }
        if (fr.present) pipe->take(fr.bytes, fr.truncated, c, batch);
        consumed += used;
        if (batch.size() >= limits.batch_records) {
          co_await pipe->ship(std::move(batch), when_full::wait);
          batch = {};
          batch.reserve(limits.batch_records);
        }
      }
      if (consumed) {
        std::memmove(buf.get(), buf.get() + consumed, have - consumed);
        have -= consumed;
      }
    }
    if (!batch.empty()) {
      co_await pipe->ship(std::move(batch), when_full::wait);
      batch = {};
      batch.reserve(limits.batch_records);
    }
  }
}

weir::task<void> inputs::state::datagram_loop(datagram_input& in) {
  input_counters& c = *in.counters;
  weir::set_task_context(c.name);
  constexpr std::size_t kBatch = 32;
  const std::size_t cap = limits.max_message + 1;  // one byte more: to see a longer one
  std::unique_ptr<std::byte[]> storage(new std::byte[cap * kBatch]);
  std::span<std::byte> bufs[kBatch];
  for (std::size_t i = 0; i < kBatch; ++i) bufs[i] = {storage.get() + i * cap, cap};
  weir::net::udp_socket::datagram got[kBatch];
  std::uint64_t kernel_drops = 0;
  for (;;) {
    auto n = co_await weir::with_timeout(kSlice, in.socket.recv_many(bufs, got));
    if (!n) {
      if (n.error() == weir::errc::timed_out) {
        if (stopping) break;
        continue;
      }
      weir::log::warn("receive failed", {{"input", c.name}, {"error", n.error().message()}});
      if (stopping) break;
      (void)co_await weir::sleep_for(10ms);
      continue;
    }
    std::vector<record> batch;
    for (std::size_t i = 0; i < *n; ++i) {
      const std::size_t size = std::min(got[i].size, limits.max_message);
      const bool truncated = got[i].truncated || got[i].size > limits.max_message;
      const std::string_view d =
          trim_datagram({reinterpret_cast<const char*>(bufs[i].data()), size});
      if (d.empty()) continue;
      pipe->take(d, truncated, c, batch);
    }
    if (in.socket.drops() != kernel_drops) {
      c.kernel_drops.fetch_add(in.socket.drops() - kernel_drops, std::memory_order_relaxed);
      kernel_drops = in.socket.drops();
    }
    co_await pipe->ship(std::move(batch), when_full::drop);
  }
  in.socket.close();
}

}  // namespace logship
