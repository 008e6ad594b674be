// asio_echo: the Boost.Asio peer of the TCP echo benchmark (bench/echo/run.sh).
//
//   asio_echo PORT      listens on 0.0.0.0:PORT, prints "ready" once listening,
//                       echoes every byte back, exits 0 on SIGINT or SIGTERM.
//
// Written as a competent Asio user writes a fast echo server: C++20 coroutines (co_spawn,
// awaitable), one io_context run by one thread (one core, like a weir shard) with the
// concurrency hint that says so, the executor type spelled concretely instead of the
// type-erased any_io_executor, errors through redirect_error rather than exceptions, a 4 KiB
// buffer inside each connection's coroutine frame (the load client keeps at most one message of
// at most 4 KiB in flight per connection), TCP_NODELAY and SO_REUSEADDR.
#include <array>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

using executor = asio::io_context::executor_type;
using socket_type = asio::basic_stream_socket<tcp, executor>;
using acceptor_type = asio::basic_socket_acceptor<tcp, executor>;
template <typename T = void>
using awaitable = asio::awaitable<T, executor>;
constexpr asio::use_awaitable_t<executor> use_awaitable;

awaitable<> echo(socket_type socket) {
  std::array<char, 4096> data;
  error_code ec;
  for (;;) {
    std::size_t n = co_await socket.async_read_some(asio::buffer(data),
                                                    asio::redirect_error(use_awaitable, ec));
    if (ec) co_return;  // eof or reset: the client is done with this connection
    co_await asio::async_write(socket, asio::buffer(data.data(), n),
                               asio::redirect_error(use_awaitable, ec));
    if (ec) co_return;
  }
}

awaitable<> serve(acceptor_type acceptor) {
  for (;;) {
    error_code ec;
    socket_type socket = co_await acceptor.async_accept(asio::redirect_error(use_awaitable, ec));
    if (ec == asio::error::operation_aborted) co_return;
    if (ec) continue;  // e.g. EMFILE or a connection reset before it was accepted
    socket.set_option(tcp::no_delay(true), ec);
    asio::co_spawn(acceptor.get_executor(), echo(std::move(socket)), asio::detached);
  }
}

}  // namespace

int main(int argc, char** argv) {
  unsigned short port = 0;
  if (argc != 2 ||
      std::from_chars(argv[1], argv[1] + std::strlen(argv[1]), port).ec != std::errc{}) {
    std::fprintf(stderr, "usage: asio_echo PORT\n");
    return 2;
  }
  asio::io_context ctx(1);  // run by this thread only
  acceptor_type acceptor(ctx.get_executor());
  try {
    tcp::endpoint endpoint(tcp::v4(), port);
    acceptor.open(endpoint.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    acceptor.bind(endpoint);
    acceptor.listen(asio::socket_base::max_listen_connections);
  } catch (const boost::system::system_error& e) {
    std::fprintf(stderr, "asio_echo: port %u: %s\n", port, e.what());
    return 1;
  }
  asio::signal_set signals(ctx, SIGINT, SIGTERM);
  signals.async_wait([&ctx](const error_code&, int) { ctx.stop(); });
  asio::co_spawn(ctx, serve(std::move(acceptor)), asio::detached);
  std::puts("ready");
  std::fflush(stdout);
  ctx.run();
  return 0;
}
