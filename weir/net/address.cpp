#include <weir/net/address.hpp>

#include <weir/core/blocking.hpp>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <errno.h>
#include <cstring>

namespace weir::net {

address::address(const sockaddr* sa, socklen_t len) noexcept {
  len_ = len > capacity() ? capacity() : len;
  std::memcpy(&storage_, sa, len_);
}

result<address> address::from(std::string_view ip, std::uint16_t port) {
  std::string s(ip);
  address a;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&a.storage_);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.storage_);
  if (::inet_pton(AF_INET, s.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    a.len_ = sizeof(sockaddr_in);
    return a;
  }
  a = address{};
  if (::inet_pton(AF_INET6, s.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    a.len_ = sizeof(sockaddr_in6);
    return a;
  }
  return unexpected(std::make_error_code(std::errc::invalid_argument));
}

result<address> address::parse(std::string_view hp) {
  const auto bad = [hp](const char* why) {
    return unexpected(std::errc::invalid_argument,
                      "address \"" + std::string(hp.substr(0, 80)) + "\": " + why);
  };
  std::string_view host, port;
  if (!hp.empty() && hp.front() == '[') {
    const auto close = hp.find(']');
    if (close == std::string_view::npos || close + 1 >= hp.size() || hp[close + 1] != ':')
      return bad("expected [IPv6]:port");
    host = hp.substr(1, close - 1);
    port = hp.substr(close + 2);
    if (host.find(':') == std::string_view::npos) return bad("brackets are for IPv6 only");
  } else {
    const auto colon = hp.rfind(':');
    if (colon == std::string_view::npos) return bad("expected host:port");
    if (hp.find(':') != colon) return bad("an IPv6 address goes in brackets: [::1]:80");
    host = hp.substr(0, colon);
    port = hp.substr(colon + 1);
  }
  unsigned p = 0;
  if (port.empty() || port.size() > 5) return bad("expected a port from 0 to 65535");
  for (char c : port) {
    if (c < '0' || c > '9') return bad("expected a port from 0 to 65535");
    p = p * 10 + static_cast<unsigned>(c - '0');
  }
  if (p > 65535) return bad("expected a port from 0 to 65535");
  if (host == "localhost") host = "127.0.0.1";
  auto a = from(host, static_cast<std::uint16_t>(p));
  if (!a) return bad("expected a numeric IPv4 or IPv6 host, or localhost");
  return a;
}

address address::loopback_v4(std::uint16_t port) noexcept { return *from("127.0.0.1", port); }
address address::loopback_v6(std::uint16_t port) noexcept { return *from("::1", port); }
address address::any_v4(std::uint16_t port) noexcept { return *from("0.0.0.0", port); }

result<address> address::unix_path(std::string_view path) {
  address a;
  auto* un = reinterpret_cast<sockaddr_un*>(&a.storage_);
  if (path.empty() || path.size() >= sizeof un->sun_path)
    return unexpected(std::make_error_code(std::errc::filename_too_long));
  un->sun_family = AF_UNIX;
  std::memcpy(un->sun_path, path.data(), path.size());
  if (path.front() == '@') un->sun_path[0] = '\0';  // abstract namespace
  a.len_ = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() +
                                  (path.front() == '@' ? 0 : 1));
  return a;
}

std::uint16_t address::port() const noexcept {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
  if (family() == AF_INET6)
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
  return 0;
}

std::string address::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  switch (family()) {
    case AF_INET:
      ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr, buf,
                  sizeof buf);
      return std::string(buf) + ":" + std::to_string(port());
    case AF_INET6:
      ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr, buf,
                  sizeof buf);
      return "[" + std::string(buf) + "]:" + std::to_string(port());
    case AF_UNIX: {
      const auto* un = reinterpret_cast<const sockaddr_un*>(&storage_);
      const std::size_t n =
          len_ > offsetof(sockaddr_un, sun_path) ? len_ - offsetof(sockaddr_un, sun_path) : 0;
      if (n == 0) return "unix:(unnamed)";
      if (un->sun_path[0] == '\0') return "unix:@" + std::string(un->sun_path + 1, n - 1);
      return "unix:" + std::string(un->sun_path, strnlen(un->sun_path, n));
    }
    default: return "(no address)";
  }
}

bool operator==(const address& a, const address& b) noexcept {
  return a.len_ == b.len_ && std::memcmp(&a.storage_, &b.storage_, a.len_) == 0;
}

namespace {
class gai_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "getaddrinfo"; }
  std::string message(int ev) const override { return ::gai_strerror(ev); }
};
}  // namespace

const std::error_category& resolve_category() noexcept {
  static const gai_category c;
  return c;
}

namespace {
result<std::vector<address>> resolve_now(const std::string& host, std::uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG;
  addrinfo* res = nullptr;
  const std::string service = std::to_string(port);
  const int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &res);
  if (rc == EAI_SYSTEM) return unexpected(std::error_code(errno, std::system_category()));
  if (rc != 0) return unexpected(std::error_code(rc, resolve_category()));
  std::vector<address> out;
  for (addrinfo* p = res; p; p = p->ai_next) out.emplace_back(p->ai_addr, p->ai_addrlen);
  ::freeaddrinfo(res);
  return out;
}
}  // namespace

task<result<std::vector<address>>> resolve(std::string host, std::uint16_t port) {
  // A named awaiter: g++ 12 mis-destroys a prvalue awaiter holding a std::string here.
  auto job = blocking(&resolve_now, std::move(host), port);
  WEIR_CO_TRY_ASSIGN(auto r, co_await std::move(job));
  co_return std::move(r);
}

}  // namespace weir::net
