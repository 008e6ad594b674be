// weir::net::address — an IPv4, IPv6 or Unix socket address, and name resolution.
//
//   auto a = net::address::parse("127.0.0.1:8080");   // result<address>; also "[::1]:80"
//   auto u = net::address::unix_path("/run/app.sock");
//   auto all = co_await net::resolve("example.com", 443);  // result<std::vector<address>>
//
// resolve() runs getaddrinfo on weir::blocking's pool (it blocks), so it never stalls the
// shard; its errors are getaddrinfo's (resolve_category(), "Name or service not known"):
// the caller names the host when it reports one.
#pragma once

#include <weir/core/result.hpp>
#include <weir/core/task.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <sys/socket.h>

namespace weir::net {

class address {
 public:
  address() noexcept = default;
  address(const sockaddr* sa, socklen_t len) noexcept;

  // "1.2.3.4:80", "[::1]:80", "localhost:80" (127.0.0.1); otherwise a numeric host only (see
  // resolve() for names). Errors: std::errc::invalid_argument, the context quoting the text.
  static result<address> parse(std::string_view host_port);
  // A numeric host and a port: ("127.0.0.1", 80), ("::1", 80).
  static result<address> from(std::string_view ip, std::uint16_t port);
  static address loopback_v4(std::uint16_t port) noexcept;
  static address loopback_v6(std::uint16_t port) noexcept;
  static address any_v4(std::uint16_t port) noexcept;
  // A Unix socket path (at most 107 bytes) or, starting with '@', an abstract name.
  static result<address> unix_path(std::string_view path);

  int family() const noexcept { return storage_.ss_family; }
  bool is_unix() const noexcept { return family() == AF_UNIX; }
  std::uint16_t port() const noexcept;  // 0 for Unix sockets
  // "127.0.0.1:80", "[::1]:80", "unix:/path", "unix:@abstract".
  std::string to_string() const;

  const sockaddr* data() const noexcept { return reinterpret_cast<const sockaddr*>(&storage_); }
  sockaddr* data() noexcept { return reinterpret_cast<sockaddr*>(&storage_); }
  socklen_t size() const noexcept { return len_; }
  void set_size(socklen_t n) noexcept { len_ = n; }
  static constexpr socklen_t capacity() noexcept { return sizeof(sockaddr_storage); }

  friend bool operator==(const address& a, const address& b) noexcept;

 private:
  sockaddr_storage storage_{};
  socklen_t len_ = 0;
};

// The error category of getaddrinfo's EAI_* codes.
const std::error_category& resolve_category() noexcept;

// Resolves `host` (a name or a numeric address) for TCP; IPv4 and IPv6 results in the order
// getaddrinfo gives them. Runs on weir::blocking's pool.
task<result<std::vector<address>>> resolve(std::string host, std::uint16_t port);

}  // namespace weir::net
