#include <weir/http/json.hpp>

#include <charconv>
#include <cmath>
#include <stdexcept>

namespace weir::http {

void json_escape(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += char(c);
      ++i;
    } else if (c < 0x20) {
      switch (c) {
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        default:
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 15];
      }
      ++i;
    } else if (c < 0x80) {
      out += char(c);
      ++i;
    } else {
      // A well-formed UTF-8 sequence is copied; anything else becomes U+FFFD.
      std::size_t n = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
      bool ok = n > 0 && i + n <= s.size();
      for (std::size_t k = 1; ok && k < n; ++k)
        ok = (static_cast<unsigned char>(s[i + k]) & 0xc0) == 0x80;
      if (ok && n == 3) {
        const auto c1 = static_cast<unsigned char>(s[i + 1]);
        ok = !(c == 0xe0 && c1 < 0xa0) && !(c == 0xed && c1 >= 0xa0);  // overlong, surrogates
      }
      if (ok && n == 4) {
        const auto c1 = static_cast<unsigned char>(s[i + 1]);
        ok = !(c == 0xf0 && c1 < 0x90) && !(c == 0xf4 && c1 >= 0x90);
      }
      if (ok) {
        out.append(s.substr(i, n));
        i += n;
      } else {
        out += "\xef\xbf\xbd";
        ++i;
      }
    }
  }
  out += '"';
}

void json_writer::before_value() {
  if (stack_.empty()) {
    if (!out_.empty()) throw std::logic_error("json_writer: a second top-level value");
    return;
  }
  char& top = stack_.back();
  if (top == 'o') throw std::logic_error("json_writer: a value where a key is expected");
  if (top == 'v') {
    top = 'o';
    return;
  }
  if (!first_) out_ += ',';
  first_ = false;
}

json_writer& json_writer::begin_object() {
  before_value();
  out_ += '{';
  stack_.push_back('o');
  first_ = true;
  return *this;
}

json_writer& json_writer::end_object() {
  if (stack_.empty() || stack_.back() != 'o')
    throw std::logic_error("json_writer: unbalanced end_object");
  stack_.pop_back();
  out_ += '}';
  first_ = false;
  return *this;
}

json_writer& json_writer::begin_array() {
  before_value();
  out_ += '[';
  stack_.push_back('a');
  first_ = true;
  return *this;
}

json_writer& json_writer::end_array() {
  if (stack_.empty() || stack_.back() != 'a')
    throw std::logic_error("json_writer: unbalanced end_array");
  stack_.pop_back();
  out_ += ']';
  first_ = false;
  return *this;
}

json_writer& json_writer::key(std::string_view k) {
  if (stack_.empty() || stack_.back() != 'o')
    throw std::logic_error("json_writer: a key outside an object");
  if (!first_) out_ += ',';
  first_ = false;
  json_escape(out_, k);
  out_ += ':';
  stack_.back() = 'v';
  return *this;
}

json_writer& json_writer::value(std::string_view s) {
  before_value();
  json_escape(out_, s);
  return *this;
}

json_writer& json_writer::value(std::int64_t v) {
  before_value();
  char b[24];
  out_.append(b, std::to_chars(b, b + sizeof b, v).ptr);
  return *this;
}

json_writer& json_writer::value(std::uint64_t v) {
  before_value();
  char b[24];
  out_.append(b, std::to_chars(b, b + sizeof b, v).ptr);
  return *this;
}

json_writer& json_writer::value(double v) {
  before_value();
  if (!std::isfinite(v)) {
    out_ += "null";  // JSON has no NaN or infinity
    return *this;
  }
  char b[32];
  out_.append(b, std::to_chars(b, b + sizeof b, v).ptr);
  return *this;
}

json_writer& json_writer::value(bool v) {
  before_value();
  out_ += v ? "true" : "false";
  return *this;
}

json_writer& json_writer::null() {
  before_value();
  out_ += "null";
  return *this;
}

std::string json_writer::take() {
  if (!stack_.empty()) throw std::logic_error("json_writer: an object or array is still open");
  first_ = true;
  return std::move(out_);
}

void reply_json(response& res, int status, std::string body) {
  res.status(status);
  res.content_type("application/json");
  res.body(std::move(body));
}

void reply_error(response& res, int status, std::string_view message) {
  json_writer w;
  w.begin_object().key("error").value(message).end_object();
  reply_json(res, status, w.take());
}

}  // namespace weir::http
