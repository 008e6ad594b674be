// bench/netstack: the kernel's side of the TAP and veth runs.
//   netstack_udp_blast send IPV4 PORT COUNT SIZE   sendmmsg in batches of 32, back to back
//   netstack_udp_blast recv IPV4 PORT COUNT        until COUNT arrived or 2 s of silence
// Payloads as netstack's flood (flow, sequence number); recv prints one line:
//   "received N of COUNT in T s: P pps, G Gbit/s payload, out of order O"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace {

sockaddr_in addr(const char* ip, int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  if (inet_pton(AF_INET, ip, &a.sin_addr) != 1) {
    std::fprintf(stderr, "bad address %s\n", ip);
    std::exit(2);
  }
  return a;
}

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int send_mode(const char* ip, int port, std::uint64_t count, std::size_t size) {
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  const sockaddr_in to = addr(ip, port);
  constexpr int batch = 32;
  std::vector<std::vector<unsigned char>> bufs(batch, std::vector<unsigned char>(size, 'k'));
  mmsghdr msgs[batch];
  iovec iov[batch];
  const double t0 = now();
  std::uint64_t sent = 0;
  while (sent < count) {
    const int n = static_cast<int>(std::min<std::uint64_t>(batch, count - sent));
    for (int i = 0; i < n; ++i) {
      const std::uint64_t seq = sent + static_cast<std::uint64_t>(i);
      std::memset(bufs[i].data(), 0, 4);
      for (int b = 0; b < 8; ++b) bufs[i][4 + b] = static_cast<unsigned char>(seq >> (56 - 8 * b));
      iov[i] = {bufs[i].data(), size};
      msgs[i] = {};
      msgs[i].msg_hdr.msg_name = const_cast<sockaddr_in*>(&to);
      msgs[i].msg_hdr.msg_namelen = sizeof to;
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    const int k = sendmmsg(fd, msgs, static_cast<unsigned>(n), 0);
    if (k < 0) {
      std::perror("sendmmsg");
      return 1;
    }
    sent += static_cast<std::uint64_t>(k);
  }
  const double t = now() - t0;
  std::printf("sent %llu datagrams of %zu bytes in %.3f s: %.0f pps\n",
              static_cast<unsigned long long>(sent), size, t, static_cast<double>(sent) / t);
  return 0;
}

int recv_mode(const char* ip, int port, std::uint64_t count) {
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  int rcvbuf = 64 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf);
  const sockaddr_in me = addr(ip, port);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&me), sizeof me) != 0) {
    std::perror("bind");
    return 1;
  }
  timeval tv{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::printf("ready\n");
  std::fflush(stdout);
  constexpr int batch = 64;
  static unsigned char bufs[batch][2048];
  mmsghdr msgs[batch];
  iovec iov[batch];
  std::map<std::uint32_t, std::uint64_t> next;
  std::uint64_t got = 0, out_of_order = 0, bytes = 0;
  double first = 0, last = 0;
  while (got < count) {
    for (int i = 0; i < batch; ++i) {
      iov[i] = {bufs[i], sizeof bufs[i]};
      msgs[i] = {};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    const int n = recvmmsg(fd, msgs, batch, MSG_WAITFORONE, nullptr);
    if (n <= 0) break;  // 2 s of silence
    last = now();
    if (got == 0) first = last;
    for (int i = 0; i < n; ++i) {
      std::uint32_t flow = 0;
      std::uint64_t seq = 0;
      for (int b = 0; b < 4; ++b) flow = flow << 8 | bufs[i][b];
      for (int b = 0; b < 8; ++b) seq = seq << 8 | bufs[i][4 + b];
      auto it = next.find(flow);
      if (it != next.end() && seq != it->second) ++out_of_order;
      next[flow] = seq + 1;
      bytes += msgs[i].msg_len;
    }
    got += static_cast<std::uint64_t>(n);
  }
  const double t = last > first ? last - first : 1e-9;
  std::printf("received %llu of %llu in %.3f s: %.0f pps, %.3f Gbit/s payload, out of order %llu\n",
              static_cast<unsigned long long>(got), static_cast<unsigned long long>(count), t,
              static_cast<double>(got) / t, static_cast<double>(bytes) * 8 / t / 1e9,
              static_cast<unsigned long long>(out_of_order));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 6 && std::string(argv[1]) == "send")
    return send_mode(argv[2], std::atoi(argv[3]), std::strtoull(argv[4], nullptr, 10),
                     std::strtoull(argv[5], nullptr, 10));
  if (argc >= 5 && std::string(argv[1]) == "recv")
    return recv_mode(argv[2], std::atoi(argv[3]), std::strtoull(argv[4], nullptr, 10));
  std::fprintf(stderr, "usage: %s send IPV4 PORT COUNT SIZE | recv IPV4 PORT COUNT\n", argv[0]);
  return 2;
}
