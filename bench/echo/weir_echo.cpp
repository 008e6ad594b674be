// The weir side of the TCP echo benchmark: one shard, one task per connection, each echoing
// what it reads from a 4 KiB buffer. `weir_echo PORT`; the backend comes from WEIR_BACKEND
// (uring | epoll). Prints "ready" once listening; exits on SIGINT / SIGTERM.
#include <weir/core/runtime.hpp>
#include <weir/core/spawn.hpp>
#include <weir/net/socket.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include <pthread.h>

namespace {

weir::task<> serve(weir::net::stream_socket s) {
  std::byte buf[4096];
  for (;;) {
    auto n = co_await s.read(buf);
    if (!n || *n == 0) co_return;
    std::size_t off = 0;
    while (off < *n) {
      auto w = co_await s.write({buf + off, *n - off});
      if (!w) co_return;
      off += *w;
    }
  }
}

weir::task<int> listen_and_serve(std::uint16_t port) {
  auto l = weir::net::listener::bind(weir::net::address::any_v4(port));
  if (!l) {
    std::fprintf(stderr, "weir_echo: bind port %u: %s\n", port, l.error().message().c_str());
    co_return 1;
  }
  std::printf("ready\n");
  std::fflush(stdout);
  for (;;) {
    auto s = co_await l->accept();
    if (!s) {
      std::fprintf(stderr, "weir_echo: accept: %s\n", s.error().message().c_str());
      co_return 1;
    }
    weir::spawn_detached(serve(std::move(*s)), "echo");
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: weir_echo PORT   (WEIR_BACKEND=uring|epoll)\n");
    return 2;
  }
  const auto port = static_cast<std::uint16_t>(std::atoi(argv[1]));
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);  // inherited by the shard threads
  std::thread([stop] {
    int sig;
    sigwait(&stop, &sig);
    std::_Exit(0);
  }).detach();
  weir::runtime rt({.shards = 1});
  return rt.block_on(listen_and_serve(port));
}
