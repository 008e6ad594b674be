// weir::http::client, the part without I/O: URLs, the request head, the pool's key.
#include <weir/http/detail/client.hpp>

#include <cctype>
#include <charconv>
#include <cstring>

namespace weir::http {

namespace {

bool has_token(std::string_view list, std::string_view token) noexcept {
  while (!list.empty()) {
    auto comma = list.find(',');
    auto elem = list.substr(0, comma);
    while (!elem.empty() && (elem.front() == ' ' || elem.front() == '\t')) elem.remove_prefix(1);
    while (!elem.empty() && (elem.back() == ' ' || elem.back() == '\t')) elem.remove_suffix(1);
    if (iequals(elem, token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

void append_number(std::string& out, std::uint64_t n) {
  char num[24];
  auto r = std::to_chars(num, num + sizeof num, n);
  out.append(num, r.ptr);
}

void append_hex(std::string& out, std::uint64_t n) {
  char num[24];
  auto r = std::to_chars(num, num + sizeof num, n, 16);
  out.append(num, r.ptr);
}

}  // namespace

namespace detail {

std::string_view strip_brackets(std::string_view host) noexcept {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    return host.substr(1, host.size() - 2);
  return host;
}

std::string host_field(const url_parts& u) {
  std::string out;
  if (u.host.find(':') != std::string::npos) {
    out += '[';
    out += u.host;
    out += ']';
  } else {
    out += u.host;
  }
  if (u.port != (u.tls ? 443 : 80)) {
    out += ':';
    append_number(out, u.port);
  }
  return out;
}

std::string pool_key(const url_parts& u, std::string_view server_name) {
  std::string k = u.tls ? "https " : "http ";
  k += u.host;
  k += ' ';
  append_number(k, u.port);
  if (u.tls) {
    k += ' ';
    k += server_name;
  }
  return k;
}

result<std::string> build_head(const client_request& req, const url_parts& to,
                               const std::string& user_agent, bool& close) {
  std::string_view name = to_string(req.verb);
  if (req.verb == method::other) {
    if (!is_token(req.method_name)) {
      return unexpected(std::errc::invalid_argument, "invalid method \"" + req.method_name + "\"");
    }
    name = req.method_name;
  }
  bool has_host = false, has_agent = false;
  for (const auto& [n, v] : req.headers) {
    if (!is_token(n) || !is_field_value(v)) {
      return unexpected(std::errc::invalid_argument, "invalid header field \"" + n + "\"");
    }
    if (iequals(n, "content-length") || iequals(n, "transfer-encoding")) {
      return unexpected(std::errc::invalid_argument,
                        "the request's framing is the client's: remove the " + n + " field");
    }
    if (iequals(n, "host"))
      has_host = true;
    else if (iequals(n, "user-agent"))
      has_agent = true;
    else if (iequals(n, "connection") && has_token(v, "close"))
      close = true;
  }
  std::string h;
  h.reserve(128 + to.target.size() + req.headers.size() * 32);
  h += name;
  h += ' ';
  h += to.target;
  h += " HTTP/1.1\r\n";
  if (!has_host) {
    h += "Host: ";
    h += host_field(to);
    h += "\r\n";
  }
  if (!has_agent && !user_agent.empty()) {
    h += "User-Agent: ";
    h += user_agent;
    h += "\r\n";
  }
  for (const auto& [n, v] : req.headers) {
    h += n;
    h += ": ";
    h += v;
    h += "\r\n";
  }
  if (req.chunked) {
    h += "Transfer-Encoding: chunked\r\n";
  } else if (!req.body.empty() || req.verb == method::post || req.verb == method::put ||
             req.verb == method::patch) {
    // RFC 9110 §8.6: a request whose method defines a body sends its length even when zero.
    h += "Content-Length: ";
    append_number(h, req.body.size());
    h += "\r\n";
  }
  h += "\r\n";
  if (req.chunked && !req.body.empty()) {  // the body goes as one chunk
    append_hex(h, req.body.size());
    h += "\r\n";
  }
  return h;
}

}  // namespace detail

std::string_view client_response::header(std::string_view name) const noexcept {
  for (const auto& [n, v] : headers)
    if (iequals(n, name)) return v;
  return {};
}

result<url_parts> parse_url(std::string_view url) {
  const auto bad = unexpected(std::make_error_code(std::errc::invalid_argument));
  url_parts u;
  auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return bad;
  std::string_view scheme = url.substr(0, scheme_end);
  if (iequals(scheme, "https"))
    u.tls = true;
  else if (!iequals(scheme, "http"))
    return bad;
  url.remove_prefix(scheme_end + 3);
  for (char c : url)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return bad;
  const auto auth_end = url.find_first_of("/?#");
  std::string_view auth = url.substr(0, auth_end);
  std::string_view rest = auth_end == std::string_view::npos ? "" : url.substr(auth_end);
  if (auth.find('@') != std::string_view::npos) return bad;  // no user info
  std::string_view host, port;
  if (auth.starts_with('[')) {
    auto close = auth.find(']');
    if (close == std::string_view::npos || close == 1) return bad;
    host = auth.substr(1, close - 1);
    auto after = auth.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad;
      port = after.substr(1);
      if (port.empty()) return bad;
    }
    if (host.find(':') == std::string_view::npos) return bad;  // brackets are for IPv6 only
  } else {
    auto colon = auth.find(':');
    host = auth.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = auth.substr(colon + 1);
      if (port.empty()) return bad;
    }
  }
  if (host.empty()) return bad;
  for (char c : host)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_' ||
          c == ':' || c == '%'))
      return bad;
  u.host = std::string(host);
  u.port = u.tls ? 443 : 80;
  if (!port.empty()) {
    unsigned v = 0;
    auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
    if (ec != std::errc() || p != port.data() + port.size() || v == 0 || v > 65535) return bad;
    u.port = static_cast<std::uint16_t>(v);
  }
  rest = rest.substr(0, rest.find('#'));
  if (rest.empty() || rest.front() == '?') u.target = "/";
  u.target += rest;
  return u;
}

}  // namespace weir::http
