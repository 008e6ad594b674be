// weir::http::client, one exchange: a request written and its response read on one connection.
#include <weir/http/detail/client.hpp>

#include <weir/core/error.hpp>

#include <algorithm>
#include <string>

#include <sys/uio.h>

namespace weir::http {

namespace {

using conn = detail::client_connection;

std::string_view as_sv(io::transport::bytes b) noexcept {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// A transport error that says the connection was gone (what a stale pooled connection gives).
bool is_connection_gone(std::error_code ec) noexcept {
  return ec == errc::eof || ec == std::errc::connection_reset || ec == std::errc::broken_pipe ||
         ec == std::errc::connection_aborted || ec == tls::errc::truncated;
}
// Writes all of `iov` (several writes when the stream takes a part); counts what went out in
// *sent, so the caller knows whether any of the request may have reached the server.
task<result<void>> send_all(io::byte_stream& s, std::span<iovec> iov, std::size_t* sent) {
  std::size_t i = 0;
  for (;;) {
    while (i < iov.size() && iov[i].iov_len == 0) ++i;
    if (i == iov.size()) co_return result<void>{};
    WEIR_CO_TRY_ASSIGN(auto w, co_await s.write_some(iov.subspan(i)));
    *sent += w;
    std::size_t k = w;
    while (i < iov.size() && k >= iov[i].iov_len) k -= iov[i++].iov_len;
    if (k > 0) {
      iov[i].iov_base = static_cast<char*>(iov[i].iov_base) + k;
      iov[i].iov_len -= k;
    }
  }
}
}  // namespace

task<result<void>> client::send_request(conn& c, const client_request& req, plan& pl, attempt& at) {
  const std::string_view head = pl.head;
  static constexpr std::string_view last_chunk = "0\r\n\r\n";
  static constexpr std::string_view end_and_last_chunk = "\r\n0\r\n\r\n";
  iovec iov[3];
  std::size_t n = 0;
  iov[n++] = {const_cast<char*>(head.data()), head.size()};
  if (!req.body.empty()) iov[n++] = {const_cast<char*>(req.body.data()), req.body.size()};
  if (req.chunked) {
    auto tail = req.body.empty() ? last_chunk : end_and_last_chunk;
    iov[n++] = {const_cast<char*>(tail.data()), tail.size()};
  }
  pl.phase = "sending the request";
  if (auto w = co_await send_all(c.stream(), {iov, n}, &at.sent); !w) {
    at.gone = w.error() != condition::cancellation;
    co_return unexpected(w.error().with_context("sending the request to " + c.peer));
  }
  co_return result<void>{};
}

task<result<client_response>> client::read_response(conn& c, const client_request& req, plan& pl,
                                                    attempt& at) {
  // --- the head (skipping interim 1xx responses) ------------------------------------------------
  io::transport& t = *c.io;
  response_parser p(opt_.limits);
  const auto malformed = [&](const parse_error& e, std::string_view what) {
    const bool limit =
        e.status == 413 || e.status == 431 || std::string_view(e.reason) == "status line too long";
    // The chunked decoder's 413 speaks of a request body: say what it means here.
    const std::string why = e.status == 413 ? "body over limits.body_bytes (" +
                                                  std::to_string(opt_.limits.body_bytes) + ")"
                                            : std::string(e.reason);
    return weir::error(
        limit ? make_error_code(errc::limit_exceeded)
              : std::make_error_code(std::errc::bad_message),
        std::string(limit ? "response over the limits from " : "malformed response from ") +
            c.peer + ": " + std::string(what) + why);
  };
  pl.phase = "waiting for the response";
  bool any_byte = false;
  client_response out;
  const response_head* h = nullptr;
  for (int interim = 0;; ++interim) {
    for (;;) {
      const auto b = t.buffered();
      const auto s = p.parse(as_sv(b), req.verb);
      if (s == parse_status::done) break;
      if (s == parse_status::error) co_return unexpected(malformed(p.error(), ""));
      auto f = co_await t.fill(b.size() + 1);
      if (!f) {
        at.gone = !any_byte && b.empty() && is_connection_gone(f.error());
        if (f.error() == condition::cancellation) co_return unexpected(f.error());
        if (f.error() == tls::errc::truncated) {  // closed without close_notify
          if (at.gone)
            co_return unexpected(
                weir::error(make_error_code(errc::eof),
                            "the server " + c.peer + " closed the connection without answering"));
          co_return unexpected(weir::error(make_error_code(errc::truncated),
                                           "connection closed in a response head from " + c.peer));
        }
        co_return unexpected(f.error().with_context("reading the response from " + c.peer));
      }
      if (f->size() <= b.size()) {  // the end of the stream
        if (!any_byte && b.empty()) {
          at.gone = true;
          co_return unexpected(
              weir::error(make_error_code(errc::eof),
                          "the server " + c.peer + " closed the connection without answering"));
        }
        co_return unexpected(weir::error(make_error_code(errc::truncated),
                                         "connection closed in a response head from " + c.peer));
      }
      any_byte = true;
    }
    any_byte = true;
    h = &p.head();
    if (h->status >= 200 || h->status == 101) break;
    if (interim == 32)
      co_return unexpected(
          weir::error(std::make_error_code(std::errc::bad_message),
                      "malformed response from " + c.peer + ": more than 32 interim responses"));
    t.consume(p.head_size());
    p.reset();
  }
  out.status = h->status;
  out.reason = std::string(h->reason);
  out.version_minor = h->version_minor;
  out.headers.reserve(h->headers.size());
  for (const auto& f : h->headers) out.headers.emplace_back(f.name, f.value);
  const framing body = h->status == 101 ? framing::none : h->body;
  const std::uint64_t length = h->content_length;
  const bool keep_alive = h->keep_alive && h->status != 101;
  t.consume(p.head_size());  // h is invalid from here

  pl.phase = "reading the response body";
  // --- the body -------------------------------------------------------------------------------
  const auto truncated = [&] {
    return weir::error(make_error_code(errc::truncated),
                       "connection closed in a response body from " + c.peer);
  };
  const auto read_error = [&](const weir::error& ec) {
    if (ec == condition::cancellation) return ec;
    if (ec == tls::errc::truncated) return truncated();
    return ec.with_context("reading the response from " + c.peer);
  };
  const std::uint64_t max_body = opt_.limits.body_bytes;
  if (body == framing::length) {
    if (length > max_body) {
      co_return unexpected(weir::error(make_error_code(errc::limit_exceeded),
                                       "response over the limits from " + c.peer + ": a body of " +
                                           std::to_string(length) + " bytes (limits.body_bytes " +
                                           std::to_string(max_body) + ")"));
    }
    // Reserved up to 4 MiB: a server announcing a large body must send it to make us hold it.
    out.body.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(length, 4 << 20)));
    std::uint64_t left = length;
    while (left > 0) {
      auto f = co_await t.fill(1);
      if (!f) co_return unexpected(read_error(f.error()));
      if (f->empty()) co_return unexpected(truncated());
      const auto k = static_cast<std::size_t>(std::min<std::uint64_t>(f->size(), left));
      out.body.append(as_sv(f->first(k)));
      t.consume(k);
      left -= k;
    }
  } else if (body == framing::chunked) {
    chunked_decoder d(opt_.limits);
    for (bool done = false; !done;) {
      const auto s = d.decode(as_sv(t.buffered()));
      switch (s.kind) {
        case chunk_event::data: out.body.append(s.data); break;
        case chunk_event::trailer: out.trailers.emplace_back(s.field.name, s.field.value); break;
        case chunk_event::done: done = true; break;
        case chunk_event::error: {
          t.consume(s.consumed);
          co_return unexpected(malformed(d.error(), "chunked body: "));
        }
        case chunk_event::more: {
          t.consume(s.consumed);
          const std::size_t have = t.buffered().size();
          auto f = co_await t.fill(have + 1);
          if (!f) co_return unexpected(read_error(f.error()));
          if (f->size() <= have) co_return unexpected(truncated());
          continue;
        }
      }
      t.consume(s.consumed);
    }
  } else if (body == framing::until_close) {
    for (;;) {
      auto f = co_await t.fill(1);
      if (!f) co_return unexpected(read_error(f.error()));
      if (f->empty()) break;  // the end of the body
      if (out.body.size() + f->size() > max_body)
        co_return unexpected(weir::error(make_error_code(errc::limit_exceeded),
                                         "response over the limits from " + c.peer +
                                             ": a body over limits.body_bytes (" +
                                             std::to_string(max_body) + ")"));
      out.body.append(as_sv(*f));
      t.consume(f->size());
    }
  }
  at.keep = keep_alive && body != framing::until_close && !pl.close;
  co_return out;
}

}  // namespace weir::http
