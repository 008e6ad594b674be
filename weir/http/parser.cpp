#include <weir/http/parser.hpp>

#include <array>
#include <cstring>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

namespace weir::http {

namespace {

// Character classes of RFC 9110 §5.6.2 (tchar) and §5.5 (field-vchar, obs-text).
constexpr std::array<bool, 256> make_tchar() {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
  return t;
}
constexpr std::array<bool, 256> make_field_char() {  // field-vchar, SP, HTAB
  std::array<bool, 256> t{};
  t['\t'] = true;
  for (int c = 0x20; c <= 0x7e; ++c) t[c] = true;
  for (int c = 0x80; c <= 0xff; ++c) t[c] = true;
  return t;
}
constexpr std::array<bool, 256> make_target_char() {  // visible ASCII: no SP, no CTL
  std::array<bool, 256> t{};
  for (int c = 0x21; c <= 0x7e; ++c) t[c] = true;
  return t;
}
constexpr auto tchar = make_tchar();
constexpr auto field_char = make_field_char();
constexpr auto target_char = make_target_char();

inline unsigned char uc(char c) noexcept { return static_cast<unsigned char>(c); }
inline bool ows(char c) noexcept { return c == ' ' || c == '\t'; }

inline char lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? char(c + 32) : c; }

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && ows(s.back())) s.remove_suffix(1);
  return s;
}

// The first '\n' in [p, end), or nullptr. Lines are short: an inline 16-byte scan beats a
// memchr call per line.
const char* find_lf(const char* p, const char* end) noexcept {
#ifdef __SSE2__
  const __m128i lf = _mm_set1_epi8('\n');
  for (; end - p >= 16; p += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    if (int m = _mm_movemask_epi8(_mm_cmpeq_epi8(v, lf))) return p + __builtin_ctz(unsigned(m));
  }
#endif
  for (; p < end; ++p)
    if (*p == '\n') return p;
  return nullptr;
}

#ifdef __SSE2__
// The bytes [p, end) (at most 16) in the high lanes of a vector, read as the 16 bytes that end
// at `end`, which must not start before `floor`; `lanes` gets a mask of the lanes that hold them.
// Field names and values sit at least 16 bytes into a head (after the request line), so this
// reads no byte outside the buffer and handles a short field in one step.
inline __m128i tail16(const char* p, const char* end, int& lanes) noexcept {
  const int n = int(end - p);
  lanes = n >= 16 ? 0xffff : ((1 << n) - 1) << (16 - n);
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(end - 16));
}
inline __m128i in_range(__m128i v, char lo, char hi) noexcept {  // unsigned lo <= v <= hi
  const __m128i d = _mm_sub_epi8(v, _mm_set1_epi8(lo));
  return _mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(char(hi - lo))), d);
}
inline int value_ok(__m128i v) noexcept {  // HTAB, SP..'~', obs-text
  const __m128i ge_sp = _mm_cmpeq_epi8(_mm_max_epu8(v, _mm_set1_epi8(0x20)), v);
  const __m128i ok = _mm_andnot_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f)),
                                      _mm_or_si128(ge_sp, _mm_cmpeq_epi8(v, _mm_set1_epi8('\t'))));
  return _mm_movemask_epi8(ok);
}
inline int common_token_chars(__m128i v) noexcept {  // [A-Za-z0-9-]: most names, fast
  const __m128i alpha = in_range(_mm_or_si128(v, _mm_set1_epi8(0x20)), 'a', 'z');
  const __m128i digit = in_range(v, '0', '9');
  const __m128i dash = _mm_cmpeq_epi8(v, _mm_set1_epi8('-'));
  return _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(alpha, digit), dash));
}
#endif

// Every byte is HTAB, SP..'~' or obs-text (RFC 9110 §5.5). `floor`: the start of the buffer.
bool valid_value(const char* p, const char* end, const char* floor) noexcept {
#ifdef __SSE2__
  for (; end - p >= 16; p += 16)
    if (value_ok(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))) != 0xffff) return false;
  if (p == end) return true;
  if (end - floor >= 16) {
    int lanes;
    const __m128i v = tail16(p, end, lanes);
    return (value_ok(v) & lanes) == lanes;
  }
#else
  (void)floor;
#endif
  for (; p < end; ++p)
    if (!field_char[uc(*p)]) return false;
  return true;
}

// A token: tchar+ (RFC 9110 §5.6.2).
bool valid_token(const char* p, const char* end, const char* floor) noexcept {
  if (p == end) return false;
#ifdef __SSE2__
  if (end - p <= 16 && end - floor >= 16) {
    int lanes;
    const __m128i v = tail16(p, end, lanes);
    if ((common_token_chars(v) & lanes) == lanes) return true;
  }
#else
  (void)floor;
#endif
  bool ok = true;
  for (; p < end; ++p) ok &= tchar[uc(*p)];  // no branch per byte
  return ok;
}

// One field line without its CRLF. Returns an error reason, or nullptr.
const char* parse_field(std::string_view line, header_field& out, const char* floor) noexcept {
  if (line.empty()) return "empty field line";
  if (ows(line[0])) return "obsolete line folding";
  const auto colon = line.find(':');
  if (colon == std::string_view::npos) return "field line without a colon";
  if (colon == 0) return "empty field name";
  out.name = line.substr(0, colon);
  if (!valid_token(line.data(), line.data() + colon, floor))
    return ows(line[colon - 1]) ? "whitespace before the colon" : "invalid field name";
  const std::size_t i = colon;
  std::string_view v = line.substr(i + 1);
  if (!valid_value(v.data(), v.data() + v.size(), floor))
    return "control character in a field value";
  out.value = trim(v);
  return nullptr;
}

// Calls fn(element) for each non-empty element of a comma-separated list (RFC 9110 §5.6.1).
template <class F>
void for_each_element(std::string_view v, F&& fn) {
  while (!v.empty()) {
    auto comma = v.find(',');
    auto elem = trim(v.substr(0, comma));
    if (!elem.empty()) fn(elem);
    if (comma == std::string_view::npos) break;
    v.remove_prefix(comma + 1);
  }
}

// 1*DIGIT, no sign, no whitespace, no overflow.
bool parse_decimal(std::string_view s, std::uint64_t& out) noexcept {
  if (s.empty() || s.size() > 19) return false;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + std::uint64_t(c - '0');
  }
  out = v;
  return true;
}

method parse_method(std::string_view m) noexcept {
  switch (m.size()) {
    case 3:
      if (m == "GET") return method::get;
      if (m == "PUT") return method::put;
      break;
    case 4:
      if (m == "POST") return method::post;
      if (m == "HEAD") return method::head;
      break;
    case 5:
      if (m == "PATCH") return method::patch;
      if (m == "TRACE") return method::trace;
      break;
    case 6:
      if (m == "DELETE") return method::delete_;
      break;
    case 7:
      if (m == "OPTIONS") return method::options;
      if (m == "CONNECT") return method::connect;
      break;
  }
  return method::other;
}

// "HTTP/1.1" -> 1, "HTTP/1.0" -> 0; -1 malformed; -2 well-formed but unsupported.
int parse_version(std::string_view v) noexcept {
  if (v.size() != 8 || v.substr(0, 5) != "HTTP/" || v[6] != '.') return -1;
  if (v[5] < '0' || v[5] > '9' || v[7] < '0' || v[7] > '9') return -1;
  if (v[5] != '1' || (v[7] != '0' && v[7] != '1')) return -2;
  return v[7] - '0';
}

// The framing fields common to requests and responses, gathered while reading the fields.
struct framing_fields {
  bool has_length = false, has_te = false, chunked_last = false, chunked_seen = false;
  bool other_coding = false, coding_after_chunked = false, close = false, keep_alive = false;
  std::uint64_t length = 0;
  const char* error = nullptr;

  // Returns false for a field that makes the message invalid (error set).
  bool add(const header_field& f) noexcept {
    switch (f.name.size()) {
      case 14:
        if (iequals(f.name, "content-length")) {
          std::uint64_t v;
          if (!parse_decimal(f.value, v)) return set("invalid Content-Length");
          if (has_length && v != length) return set("differing Content-Length values");
          has_length = true;
          length = v;
        }
        break;
      case 17:
        if (iequals(f.name, "transfer-encoding")) {
          has_te = true;
          for_each_element(f.value, [&](std::string_view c) {
            if (iequals(c, "chunked")) {
              if (chunked_seen) coding_after_chunked = true;  // chunked applied twice
              chunked_seen = chunked_last = true;
            } else {
              if (chunked_seen) coding_after_chunked = true;
              other_coding = true;
              chunked_last = false;
            }
          });
        }
        break;
      case 10:
        if (iequals(f.name, "connection")) {
          for_each_element(f.value, [&](std::string_view t) {
            if (iequals(t, "close"))
              close = true;
            else if (iequals(t, "keep-alive"))
              keep_alive = true;
          });
        }
        break;
    }
    return true;
  }
  bool set(const char* e) noexcept {
    error = e;
    return false;
  }
};

// The start line and the fields of a head whose lines the scanner found (`eol`: the offset of
// each line's CR). Returns an error reason, or nullptr.
template <class OnField>
const char* parse_fields(std::string_view buf, const detail::head_scanner& sc,
                         std::string_view& start_line, OnField&& on_field) {
  start_line = buf.substr(sc.first, sc.eol[0] - sc.first);
  for (std::size_t k = 1; k < sc.eol.size(); ++k) {
    const std::size_t b = sc.eol[k - 1] + 2;
    header_field f;
    if (const char* e = parse_field(buf.substr(b, sc.eol[k] - b), f, buf.data())) return e;
    if (const char* e = on_field(f)) return e;
  }
  return nullptr;
}

}  // namespace

bool is_token(std::string_view s) noexcept {
  return valid_token(s.data(), s.data() + s.size(), s.data());
}

bool is_field_value(std::string_view s) noexcept {
  return valid_value(s.data(), s.data() + s.size(), s.data());
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

std::string_view to_string(method m) noexcept {
  switch (m) {
    case method::get: return "GET";
    case method::head: return "HEAD";
    case method::post: return "POST";
    case method::put: return "PUT";
    case method::delete_: return "DELETE";
    case method::options: return "OPTIONS";
    case method::patch: return "PATCH";
    case method::connect: return "CONNECT";
    case method::trace: return "TRACE";
    case method::other: break;
  }
  return "OTHER";
}

std::string_view reason_phrase(int status) noexcept {
  switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
  }
  return "Unknown";
}

std::string_view message_head::header(std::string_view name) const noexcept {
  for (const auto& f : headers)
    if (iequals(f.name, name)) return f.value;
  return {};
}

bool message_head::has_header(std::string_view name) const noexcept {
  for (const auto& f : headers)
    if (iequals(f.name, name)) return true;
  return false;
}

// --- head scanner -----------------------------------------------------------------------------

parse_status detail::head_scanner::scan(std::string_view buf, const limits& lim, parse_error& err,
                                        std::size_t& end) {
  std::size_t pos = scanned;
  for (;;) {
    const char* nl = find_lf(buf.data() + pos, buf.data() + buf.size());
    if (!nl) {
      if (lines == 0 && buf.size() >= lim.request_line) {
        err = {status_for_line,
               status_for_line == 414 ? "request line too long" : "status line too long"};
        return parse_status::error;
      }
      if (buf.size() >= lim.header_bytes) {
        err = {431, "header section too large"};
        return parse_status::error;
      }
      return parse_status::more;
    }
    const std::size_t lf = static_cast<std::size_t>(nl - buf.data());
    const std::size_t next = lf + 1;
    if (lines == 0 && next > lim.request_line) {
      err = {status_for_line,
             status_for_line == 414 ? "request line too long" : "status line too long"};
      return parse_status::error;
    }
    if (next > lim.header_bytes) {
      err = {431, "header section too large"};
      return parse_status::error;
    }
    if (lf == pos || buf[lf - 1] != '\r') {
      err = {400, "bare LF line ending"};
      return parse_status::error;
    }
    const bool empty = lf - pos == 1;
    pos = next;
    scanned = pos;
    if (empty) {
      // RFC 9112 §2.2: ignore empty lines before the start line (a client's stray CRLF after
      // a body); the caller's parse skips them too.
      if (lines == 0) {
        first = pos;
        continue;
      }
      end = pos;
      return parse_status::done;
    }
    eol.push_back(static_cast<std::uint32_t>(lf - 1));
    if (++lines > lim.header_count + 1) {
      err = {431, "too many header fields"};
      return parse_status::error;
    }
  }
}

// --- requests ---------------------------------------------------------------------------------

request_parser::request_parser(limits lim) : lim_(lim) {
  fields_.reserve(lim.header_count < 64 ? lim.header_count : 64);
  scan_.eol.reserve(lim.header_count < 64 ? lim.header_count + 1 : 65);
}

void request_parser::reset() noexcept {
  scan_.reset();
  head_ = {};
  head_size_ = 0;
  err_ = {};
  fields_.clear();
}

parse_status request_parser::fail(int status, const char* reason) noexcept {
  err_ = {status, reason};
  return parse_status::error;
}

parse_status request_parser::parse(std::string_view buf) {
  if (err_.status) return parse_status::error;
  std::size_t end = 0;
  auto s = scan_.scan(buf, lim_, err_, end);
  if (s != parse_status::done) return s;
  head_size_ = end;
  return finish(buf.substr(0, end));
}

parse_status request_parser::finish(std::string_view head) {
  fields_.clear();
  head_ = {};
  framing_fields ff;
  unsigned hosts = 0;
  bool bad_expect = false;
  std::string_view line;
  const char* e = parse_fields(head, scan_, line, [&](const header_field& f) -> const char* {
    fields_.push_back(f);
    if (!ff.add(f)) return ff.error;
    if (f.name.size() == 4 && iequals(f.name, "host")) {
      ++hosts;
      head_.host = f.value;
    } else if (f.name.size() == 6 && iequals(f.name, "expect")) {
      if (iequals(f.value, "100-continue"))
        head_.expect_continue = true;
      else
        bad_expect = true;
    }
    return nullptr;
  });
  // The request line first: its errors are the more fundamental ones.
  std::size_t i = 0;
  while (i < line.size() && tchar[uc(line[i])]) ++i;
  if (i == 0 || i == line.size() || line[i] != ' ') return fail(400, "invalid method");
  head_.method_name = line.substr(0, i);
  head_.verb = parse_method(head_.method_name);
  std::size_t t = ++i;
  while (i < line.size() && target_char[uc(line[i])]) ++i;
  if (i == t || i == line.size() || line[i] != ' ') return fail(400, "invalid request target");
  head_.target = line.substr(t, i - t);
  int minor = parse_version(line.substr(i + 1));
  if (minor == -2) return fail(505, "unsupported HTTP version");
  if (minor < 0) return fail(400, "invalid HTTP version");
  head_.version_minor = static_cast<std::uint8_t>(minor);
  if (e) return fail(400, e);

  auto q = head_.target.find('?');
  head_.path = head_.target.substr(0, q);
  if (q != std::string_view::npos) head_.query = head_.target.substr(q + 1);
  if (minor == 1 && hosts == 0) return fail(400, "missing Host");
  if (hosts > 1) return fail(400, "more than one Host");
  if (ff.has_te) {
    if (minor == 0) return fail(400, "Transfer-Encoding in an HTTP/1.0 request");
    if (ff.has_length) return fail(400, "both Content-Length and Transfer-Encoding");
    if (!ff.chunked_last || ff.coding_after_chunked)
      return fail(400, "Transfer-Encoding does not end in chunked");
    if (ff.other_coding) return fail(501, "unsupported transfer coding");
    head_.body = framing::chunked;
  } else if (ff.has_length && ff.length > 0) {
    if (ff.length > lim_.body_bytes) return fail(413, "request body too large");
    head_.body = framing::length;
    head_.content_length = ff.length;
  }
  if (bad_expect) return fail(417, "unsupported expectation");
  head_.keep_alive = minor == 1 ? !ff.close : (ff.keep_alive && !ff.close);
  head_.headers = fields_;
  return parse_status::done;
}

// --- responses --------------------------------------------------------------------------------

response_parser::response_parser(limits lim) : lim_(lim) {
  scan_.status_for_line = 400;
  fields_.reserve(16);
  scan_.eol.reserve(17);
}

void response_parser::reset() noexcept {
  scan_.reset();
  head_ = {};
  head_size_ = 0;
  err_ = {};
  fields_.clear();
}

parse_status response_parser::fail(const char* reason) noexcept {
  err_ = {400, reason};
  return parse_status::error;
}

parse_status response_parser::parse(std::string_view buf, method request_method) {
  if (err_.status) return parse_status::error;
  std::size_t end = 0;
  auto s = scan_.scan(buf, lim_, err_, end);
  if (s != parse_status::done) return s;
  head_size_ = end;
  return finish(buf.substr(0, end), request_method);
}

parse_status response_parser::finish(std::string_view head, method request_method) {
  fields_.clear();
  head_ = {};
  framing_fields ff;
  std::string_view line;
  const char* e = parse_fields(head, scan_, line, [&](const header_field& f) -> const char* {
    fields_.push_back(f);
    return ff.add(f) ? nullptr : ff.error;
  });
  // HTTP/1.x SP 3DIGIT [SP reason-phrase]
  int minor = parse_version(line.substr(0, 8));
  if (minor < 0) return fail("invalid HTTP version in the status line");
  if (line.size() < 12 || line[8] != ' ') return fail("invalid status line");
  int status = 0;
  for (int k = 9; k < 12; ++k) {
    if (line[k] < '0' || line[k] > '9') return fail("invalid status code");
    status = status * 10 + (line[k] - '0');
  }
  if (status < 100) return fail("invalid status code");
  if (line.size() > 12) {
    if (line[12] != ' ') return fail("invalid status line");
    for (char c : line.substr(13))
      if (!field_char[uc(c)]) return fail("control character in the reason phrase");
    head_.reason = line.substr(13);
  }
  if (e) return fail(e);
  head_.status = status;
  head_.version_minor = static_cast<std::uint8_t>(minor);
  head_.keep_alive = minor == 1 ? !ff.close : (ff.keep_alive && !ff.close);
  // RFC 9112 §6.3, in order.
  if (request_method == method::head || status < 200 || status == 204 || status == 304 ||
      (request_method == method::connect && status < 300)) {
    head_.body = framing::none;
  } else if (ff.has_te) {
    if (ff.has_length) return fail("both Content-Length and Transfer-Encoding");
    if (ff.coding_after_chunked) return fail("Transfer-Encoding does not end in chunked");
    if (ff.chunked_last && !ff.other_coding) {
      head_.body = framing::chunked;
    } else {
      head_.body = framing::until_close;
      head_.keep_alive = false;
    }
  } else if (ff.has_length) {
    head_.body = ff.length ? framing::length : framing::none;
    head_.content_length = ff.length;
  } else {
    head_.body = framing::until_close;
    head_.keep_alive = false;
  }
  head_.headers = fields_;
  return parse_status::done;
}

// --- chunked ----------------------------------------------------------------------------------

chunked_decoder::step chunked_decoder::fail(int status, const char* reason) noexcept {
  err_ = {status, reason};
  state_ = state::failed;
  step s;
  s.kind = chunk_event::error;
  return s;
}

chunked_decoder::step chunked_decoder::decode(std::string_view in) {
  constexpr std::size_t max_size_line = 4096;  // size + extensions
  std::size_t pos = 0;
  for (;;) {
    switch (state_) {
      case state::size_line: {
        auto lf = in.find('\n', pos);
        if (lf == std::string_view::npos) {
          if (in.size() - pos > max_size_line) return fail(400, "chunk size line too long");
          return {chunk_event::more, pos, {}, {}};
        }
        if (lf == pos || in[lf - 1] != '\r') return fail(400, "bare LF after a chunk size");
        std::string_view line = in.substr(pos, lf - 1 - pos);
        std::uint64_t size = 0;
        std::size_t i = 0;
        for (; i < line.size(); ++i) {
          char c = line[i];
          unsigned d;
          if (c >= '0' && c <= '9')
            d = unsigned(c - '0');
          else if (c >= 'a' && c <= 'f')
            d = unsigned(c - 'a' + 10);
          else if (c >= 'A' && c <= 'F')
            d = unsigned(c - 'A' + 10);
          else
            break;
          if (size >> 60) return fail(400, "chunk size overflows");
          size = size << 4 | d;
        }
        if (i == 0) return fail(400, "invalid chunk size");
        // chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS value ] ): checked for stray bytes only.
        // Whitespace may follow the size only before a ";" (RFC 9112 §7.1.1): "5 \r\n" is an
        // error, as a peer that reads the size differently would frame the body differently.
        std::string_view ext = line.substr(i);
        while (!ext.empty() && ows(ext.front())) ext.remove_prefix(1);
        if (ext.empty() && i < line.size()) return fail(400, "whitespace after a chunk size");
        if (!ext.empty()) {
          if (ext.front() != ';') return fail(400, "invalid chunk size");
          for (char c : ext)
            if (!field_char[uc(c)]) return fail(400, "control character in a chunk extension");
        }
        pos = lf + 1;
        if (size == 0) {
          state_ = state::trailer;
          break;
        }
        if (size > lim_.body_bytes - total_) return fail(413, "request body too large");
        total_ += size;
        remaining_ = size;
        state_ = state::data;
        break;
      }
      case state::data: {
        std::size_t avail = in.size() - pos;
        if (avail == 0) return {chunk_event::more, pos, {}, {}};
        std::size_t n = avail < remaining_ ? avail : static_cast<std::size_t>(remaining_);
        remaining_ -= n;
        if (remaining_ == 0) state_ = state::data_crlf;
        return {chunk_event::data, pos + n, in.substr(pos, n), {}};
      }
      case state::data_crlf:
        if (in.size() - pos < 2) {
          if (in.size() - pos == 1 && in[pos] != '\r') return fail(400, "chunk data too long");
          return {chunk_event::more, pos, {}, {}};
        }
        if (in[pos] != '\r' || in[pos + 1] != '\n') return fail(400, "chunk data too long");
        pos += 2;
        state_ = state::size_line;
        break;
      case state::trailer: {
        auto lf = in.find('\n', pos);
        if (lf == std::string_view::npos) {
          if (trailer_bytes_ + (in.size() - pos) > lim_.header_bytes)
            return fail(431, "trailer section too large");
          return {chunk_event::more, pos, {}, {}};
        }
        // The size first, as a cut stream meets it before the line's end: the same error
        // however the bytes arrive (found by the differential fuzzer).
        if (trailer_bytes_ + (lf - pos) > lim_.header_bytes)
          return fail(431, "trailer section too large");
        if (lf == pos || in[lf - 1] != '\r') return fail(400, "bare LF in the trailer section");
        trailer_bytes_ += lf + 1 - pos;
        if (trailer_bytes_ > lim_.header_bytes) return fail(431, "trailer section too large");
        if (lf - pos == 1) {
          state_ = state::done;
          return {chunk_event::done, lf + 1, {}, {}};
        }
        header_field f;
        if (const char* e = parse_field(in.substr(pos, lf - 1 - pos), f, in.data()))
          return fail(400, e);
        if (++trailer_count_ > lim_.header_count) return fail(431, "too many trailer fields");
        return {chunk_event::trailer, lf + 1, {}, f};
      }
      case state::done: return {chunk_event::done, pos, {}, {}};
      case state::failed: return {chunk_event::error, pos, {}, {}};
    }
  }
}

}  // namespace weir::http
