#include "go_quote.hpp"

#include <algorithm>
#include <iterator>

namespace taskd {

namespace {

struct rune_range {
  char32_t lo, hi;
};
constexpr rune_range print_ranges[] = {
#include "print_ranges.inc"
};

constexpr char hex_digits[] = "0123456789abcdef";

// Go's utf8.DecodeRuneInString: the rune at the start of `s` and its width, or width 0 for a
// byte that does not start a valid encoding (Go's RuneError of width 1).
int decode_rune(std::string_view s, char32_t& r) noexcept {
  const auto b = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char c = b(0);
  if (c < 0x80) {
    r = c;
    return 1;
  }
  int n;
  unsigned char lo = 0x80, hi = 0xBF;  // the valid range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
    r = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    r = c & 0x0F;
    if (c == 0xE0) lo = 0xA0;  // overlong
    if (c == 0xED) hi = 0x9F;  // surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    r = c & 0x07;
    if (c == 0xF0) lo = 0x90;  // overlong
    if (c == 0xF4) hi = 0x8F;  // beyond U+10FFFF
  } else {
    return 0;
  }
  if (s.size() < static_cast<std::size_t>(n)) return 0;
  for (int i = 1; i < n; ++i) {
    const unsigned char x = b(static_cast<std::size_t>(i));
    if (x < (i == 1 ? lo : 0x80) || x > (i == 1 ? hi : 0xBF)) return 0;
    r = (r << 6) | (x & 0x3F);
  }
  return n;
}

void append_hex(std::string& out, char kind, std::uint32_t v, int digits) {
  out += '\\';
  out += kind;
  for (int i = digits - 1; i >= 0; --i) out += hex_digits[(v >> (4 * i)) & 0xF];
}

}  // namespace

bool go_is_print(char32_t r) noexcept {
  if (r < 0x80) return r >= 0x20 && r < 0x7F;
  const auto* end = std::end(print_ranges);
  const auto* it = std::upper_bound(std::begin(print_ranges), end, r,
                                    [](char32_t v, const rune_range& g) { return v < g.lo; });
  return it != std::begin(print_ranges) && r <= std::prev(it)->hi;
}

void go_quote(std::string& out, std::string_view s) {
  out.reserve(out.size() + s.size() + 2);
  out += '"';
  while (!s.empty()) {
    char32_t r = 0;
    const int width = decode_rune(s, r);
    if (width == 0) {  // not valid UTF-8: the byte in hex
      append_hex(out, 'x', static_cast<unsigned char>(s[0]), 2);
      s.remove_prefix(1);
      continue;
    }
    const std::string_view bytes = s.substr(0, static_cast<std::size_t>(width));
    s.remove_prefix(static_cast<std::size_t>(width));
    if (r == '"' || r == '\\') {
      out += '\\';
      out += static_cast<char>(r);
    } else if (go_is_print(r)) {
      out += bytes;
    } else {
      switch (r) {
        case '\a': out += "\\a"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\v': out += "\\v"; break;
        default:
          if (r < 0x20 || r == 0x7F)
            append_hex(out, 'x', r, 2);
          else if (r < 0x10000)
            append_hex(out, 'u', r, 4);
          else
            append_hex(out, 'U', r, 8);
      }
    }
  }
  out += '"';
}

namespace {

// The code unit of a `\uXXXX` escape at json[i] (the backslash), or -1.
int escaped_unit(std::string_view json, std::size_t i) noexcept {
  if (i + 6 > json.size() || json[i] != '\\' || json[i + 1] != 'u') return -1;
  int v = 0;
  for (std::size_t k = i + 2; k < i + 6; ++k) {
    const char c = json[k];
    const int d = c >= '0' && c <= '9'   ? c - '0'
                  : c >= 'a' && c <= 'f' ? c - 'a' + 10
                  : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                         : -1;
    if (d < 0) return -1;
    v = v << 4 | d;
  }
  return v;
}

}  // namespace

std::string_view go_json_surrogates(std::string_view json, std::string& scratch) {
  if (json.find("\\u") == std::string_view::npos) return json;
  bool changed = false;
  std::size_t copied = 0;  // json[copied..] is not in scratch yet
  for (std::size_t i = 0; i < json.size(); ++i) {
    if (json[i] != '\\') continue;
    const int u = escaped_unit(json, i);
    if (u < 0) {  // another escape (\\ \" \n ...): skip its second character
      ++i;
      continue;
    }
    const bool high = u >= 0xd800 && u <= 0xdbff, low = u >= 0xdc00 && u <= 0xdfff;
    if (high) {
      const int next = escaped_unit(json, i + 6);
      if (next >= 0xdc00 && next <= 0xdfff) {  // a pair: both stay
        i += 11;
        continue;
      }
    }
    if (high || low) {
      if (!changed) scratch.clear();
      changed = true;
      scratch.append(json.substr(copied, i - copied));
      scratch.append("\\ufffd");
      copied = i + 6;
    }
    i += 5;
  }
  if (!changed) return json;
  scratch.append(json.substr(copied));
  return scratch;
}

}  // namespace taskd
