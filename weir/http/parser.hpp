// weir::http parsers — HTTP/1.1 message framing (RFC 9112), sans-I/O.
//
// Pure state machines over byte buffers: no sockets, no allocation per message, no copies.
// The server, the client and the fuzzer drive them; tests feed them every split of a corpus.
//
//   http::request_parser p;                       // limits: http::limits{}
//   switch (p.parse(buffered)) {                  // everything buffered since the message began
//     case http::parse_status::more: ...          // read more, call parse() again
//     case http::parse_status::done:              // p.head() views `buffered`; the head is
//       handle(p.head()); consume(p.head_size()); // p.head_size() bytes long
//     case http::parse_status::error: reply(p.error().status); close();
//   }
//
// Resumable at any byte boundary: parse() remembers how far it has checked the bytes it was
// given, so feeding a head one byte at a time costs O(n) overall, and the outcome does not
// depend on how the bytes were split. The caller passes the bytes from the start of the
// message each time (they may have moved in memory between calls); the views in head() point
// into the last buffer passed and are valid while it is.
//
// Strict where leniency lets two parsers disagree about framing (request smuggling, RFC 9112
// §6.3 and §11): a bare CR or LF, obs-fold, whitespace between a field name and its colon, a
// non-token method, control bytes in a field, Content-Length together with Transfer-Encoding,
// differing Content-Lengths, a Transfer-Encoding that does not end in a single "chunked", a
// missing or repeated Host on HTTP/1.1: each is an error with status 400 (501 for a transfer
// coding we do not implement, 505 for a version other than 1.0/1.1). Limits give 414 (request
// line), 431 (header section bytes, field count) and 413 (a declared body over the limit,
// refused before any of it is read).
//
// Thread safety: none; a parser belongs to one connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace weir::http {

struct limits {
  std::size_t request_line = 8 * 1024;   // request line (or status line), CRLF included: 414
  std::size_t header_bytes = 64 * 1024;  // whole header section: 431 (trailers too)
  std::size_t header_count = 100;        // fields in the header section: 431 (trailers too)
  std::uint64_t body_bytes = 1 << 20;    // request body (declared or decoded): 413
};

enum class method : std::uint8_t {
  get,
  head,
  post,
  put,
  delete_,
  options,
  patch,
  connect,
  trace,
  other
};
std::string_view to_string(method m) noexcept;

struct header_field {
  std::string_view name;   // as received (compare with iequals)
  std::string_view value;  // leading and trailing whitespace removed
};

// How the body of a message is delimited.
enum class framing : std::uint8_t {
  none,         // no body
  length,       // content_length bytes
  chunked,      // chunked transfer coding (chunked_decoder)
  until_close,  // responses only: the body runs to the end of the connection
};

struct message_head {
  std::uint8_t version_minor = 1;  // HTTP/1.<minor>: 0 or 1
  bool keep_alive = true;          // after this message (version default + Connection)
  framing body = framing::none;
  std::uint64_t content_length = 0;  // framing::length only
  std::span<const header_field> headers;

  // The first field named `name` (ASCII case-insensitive), or an empty view.
  std::string_view header(std::string_view name) const noexcept;
  bool has_header(std::string_view name) const noexcept;
};

struct request_head : message_head {
  method verb = method::other;
  std::string_view method_name;  // as received, e.g. "GET"
  std::string_view target;       // request-target as received: "/a/b?x=1"
  std::string_view path;         // target up to '?'
  std::string_view query;        // after '?', without it (empty when none)
  std::string_view host;
  bool expect_continue = false;  // "Expect: 100-continue"
};

struct response_head : message_head {
  int status = 0;
  std::string_view reason;
};

enum class parse_status : std::uint8_t { more, done, error };

struct parse_error {
  int status = 0;           // the HTTP status to answer with (400, 413, 414, 431, 501, 505)
  const char* reason = "";  // a short explanation, static storage
};

namespace detail {
// The line scanner shared by both parsers: finds the end of the head incrementally and checks
// that every line ends in CRLF and the limits hold.
struct head_scanner {
  std::size_t scanned = 0;         // bytes [0, scanned) are complete, checked lines
  std::size_t lines = 0;           // complete lines seen (start line included)
  std::size_t first = 0;           // where the start line begins (after ignored empty lines)
  std::vector<std::uint32_t> eol;  // offset of the CR ending each non-empty line
  int status_for_line = 414;       // 414 for requests; a response's status line gets 400
  parse_status scan(std::string_view buf, const limits& lim, parse_error& err, std::size_t& end);
  void reset() noexcept {
    scanned = lines = first = 0;
    eol.clear();
  }
};
}  // namespace detail

class request_parser {
 public:
  explicit request_parser(limits lim = {});

  // Parses the head of the request at the start of `buf`. `more`: the head is incomplete (no
  // error so far); `done`: head() is valid and spans head_size() bytes; `error`: error().
  parse_status parse(std::string_view buf);
  const request_head& head() const noexcept { return head_; }
  std::size_t head_size() const noexcept { return head_size_; }
  const parse_error& error() const noexcept { return err_; }
  // Ready for the next request of the connection.
  void reset() noexcept;

 private:
  parse_status fail(int status, const char* reason) noexcept;
  parse_status finish(std::string_view head);

  limits lim_;
  detail::head_scanner scan_;
  request_head head_;
  std::size_t head_size_ = 0;
  parse_error err_;
  std::vector<header_field> fields_;
};

class response_parser {
 public:
  explicit response_parser(limits lim = {});

  // As request_parser::parse. `request_method` decides whether the response has a body
  // (HEAD and a 2xx to CONNECT have none; neither have 1xx, 204 and 304).
  parse_status parse(std::string_view buf, method request_method);
  const response_head& head() const noexcept { return head_; }
  std::size_t head_size() const noexcept { return head_size_; }
  const parse_error& error() const noexcept { return err_; }
  void reset() noexcept;

 private:
  parse_status fail(const char* reason) noexcept;
  parse_status finish(std::string_view head, method request_method);

  limits lim_;
  detail::head_scanner scan_;
  response_head head_;
  std::size_t head_size_ = 0;
  parse_error err_;
  std::vector<header_field> fields_;
};

enum class chunk_event : std::uint8_t { more, data, trailer, done, error };

// The chunked transfer coding (RFC 9112 §7.1), decoded incrementally and without copies.
//
//   chunked_decoder d(lim);
//   for (;;) {
//     auto s = d.decode(buffered);        // bytes after what earlier calls consumed
//     consume(s.consumed);
//     if (s.kind == chunk_event::data) use(s.data);            // a view into `buffered`
//     else if (s.kind == chunk_event::trailer) keep(s.field);  // a trailer field
//     else if (s.kind == chunk_event::more) read_more();       // needs more bytes
//     else break;                                              // done or error
//   }
//
// Chunk extensions are checked and ignored. Chunk sizes are hexadecimal without sign, prefix
// or leading whitespace, at most 16 digits; the decoded total is held to limits::body_bytes
// (413); trailers to header_bytes and header_count (431) and to field syntax (400).
class chunked_decoder {
 public:
  explicit chunked_decoder(limits lim = {}) : lim_(lim) {}

  struct step {
    chunk_event kind = chunk_event::more;
    std::size_t consumed = 0;
    std::string_view data;  // kind == data
    header_field field;     // kind == trailer
  };
  step decode(std::string_view in);
  const parse_error& error() const noexcept { return err_; }
  std::uint64_t body_size() const noexcept { return total_; }
  bool finished() const noexcept { return state_ == state::done; }
  void reset() noexcept { *this = chunked_decoder(lim_); }

 private:
  enum class state : std::uint8_t { size_line, data, data_crlf, trailer, done, failed };
  step fail(int status, const char* reason) noexcept;

  limits lim_;
  state state_ = state::size_line;
  std::uint64_t remaining_ = 0;  // of the current chunk
  std::uint64_t total_ = 0;
  std::size_t trailer_bytes_ = 0, trailer_count_ = 0;
  parse_error err_;
};

// A token (RFC 9110 §5.6.2): a valid method or field name.
bool is_token(std::string_view s) noexcept;
// Valid as a field value: no control bytes but HTAB (so no CR, LF or NUL).
bool is_field_value(std::string_view s) noexcept;
// ASCII case-insensitive equality (field names, tokens).
bool iequals(std::string_view a, std::string_view b) noexcept;
// The standard reason phrase of a status code ("Not Found"), or "Unknown".
std::string_view reason_phrase(int status) noexcept;

}  // namespace weir::http
