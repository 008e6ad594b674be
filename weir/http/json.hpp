// weir::http JSON helpers for replies: a small writer and the two reply shapes.
//
//   http::json_writer w;
//   w.begin_object().key("kind").value(kind).key("n").value(42).end_object();
//   http::reply_json(res, 200, w.take());
//   http::reply_error(res, 400, "no kind");   // {"error":"no kind"}
//
// Reading a body: simdjson directly (services want its DOM parser, which validates the whole
// document, UTF-8 included, and bounds nesting: see apps/taskd/service.cpp).
//
// json_writer appends to a std::string: commas and quoting are its job; strings are escaped
// (RFC 8259: quotation mark, backslash, control characters; invalid UTF-8 bytes become U+FFFD).
// Misuse (a value where a key is expected, unbalanced ends) throws std::logic_error.
#pragma once

#include <weir/http/server.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace weir::http {

class json_writer {
 public:
  json_writer& begin_object();
  json_writer& end_object();
  json_writer& begin_array();
  json_writer& end_array();
  json_writer& key(std::string_view k);
  json_writer& value(std::string_view s);
  json_writer& value(const char* s) { return value(std::string_view(s)); }
  json_writer& value(std::int64_t v);
  json_writer& value(std::uint64_t v);
  json_writer& value(int v) { return value(static_cast<std::int64_t>(v)); }
  json_writer& value(unsigned v) { return value(static_cast<std::uint64_t>(v)); }
  json_writer& value(double v);
  json_writer& value(bool v);
  json_writer& null();

  const std::string& str() const noexcept { return out_; }
  // The text; throws std::logic_error if an object or array is still open.
  std::string take();

 private:
  void before_value();
  std::string out_;
  // One entry per open container: 'o' object awaiting a key, 'v' object awaiting the value of a
  // key, 'a' array; `first_` tells whether a comma is due.
  std::vector<char> stack_;
  bool first_ = true;
};

// Appends `s` as a JSON string literal (quotes included) to `out`.
void json_escape(std::string& out, std::string_view s);

// Sets status, Content-Type: application/json and the body.
void reply_json(response& res, int status, std::string body);
// {"error": message} with `status`.
void reply_error(response& res, int status, std::string_view message);

}  // namespace weir::http
