// weir::http::client internals, shared by its three sources: client.cpp (the pool, the retry
// loop, pipelining), client_head.cpp (URLs and the request head; no I/O) and
// client_exchange.cpp (one request and its response on one connection). Not for users.
#pragma once

#include <weir/core/time.hpp>
#include <weir/http/client.hpp>
#include <weir/io/transport.hpp>
#include <weir/net/socket.hpp>
#include <weir/sync/notify.hpp>
#include <weir/tls/tls.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace weir::http {

namespace detail {

// One connection: the socket, the TLS session over it (https), and the read side. Heap-held so
// the TLS session's and the transport's pointers to the socket stay valid while it is pooled.
struct client_connection {
  net::stream_socket sock;
  std::optional<tls::stream> tls;   // borrows `sock`
  std::optional<io::transport> io;  // reads from tls or sock; writes go to the stream directly
  clock::time_point idle_since{};
  std::string peer;  // for error messages

  // Pipelining: requests take tickets in the order they join; ticket k writes when
  // write_turn == k and reads its response when read_turn == k.
  std::uint64_t next_ticket = 0, write_turn = 0, read_turn = 0;
  std::size_t in_flight = 0;
  bool broken = false;  // takes no more requests; those without a response yet fail
  weir::notify turn;    // notify_all when a turn advances or the connection breaks

  io::byte_stream& stream() noexcept {
    return tls ? static_cast<io::byte_stream&>(*tls) : static_cast<io::byte_stream&>(sock);
  }
};

// The Host field's value: the host (an IPv6 literal in brackets), and the port unless it is
// the scheme's default (RFC 9110 §7.2).
std::string host_field(const url_parts& u);
// Connections are pooled per scheme, host, port (and TLS server name).
std::string pool_key(const url_parts& u, std::string_view server_name);
std::string_view strip_brackets(std::string_view host) noexcept;
// The request head: request line, Host, User-Agent, the caller's fields, the framing (and a
// chunked body's size line). `close`: the request says "Connection: close". Errors:
// std::errc::invalid_argument naming the method or field.
result<std::string> build_head(const client_request& req, const url_parts& to,
                               const std::string& user_agent, bool& close);

}  // namespace detail

struct client::plan {
  url_parts to;
  std::string head;         // request line and fields (and a chunked body's size line)
  std::string server_name;  // https: verified and sent as SNI
  std::string key;          // of the pool
  bool close = false;       // the request says "Connection: close"
  const char* phase = "";   // what the exchange is doing, for the timeout's message
};

struct client::attempt {
  std::size_t sent = 0;  // request bytes the stream took
  bool gone = false;     // the connection was found closed before any response byte
  bool keep = false;     // the response allows another request on its connection
};

}  // namespace weir::http
