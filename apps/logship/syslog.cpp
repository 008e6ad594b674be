#include "syslog.hpp"

#include <fmt/format.h>

#include <cctype>
#include <iterator>

namespace logship {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_print_ascii(char c) { return c >= 33 && c <= 126; }  // RFC 5424's PRINTUSASCII

// A cursor over the frame.
struct reader {
  std::string_view s;
  std::size_t i = 0;
  std::size_t sd_used = 0;  // elements of m.sd filled for this frame (the rest is storage)

  bool done() const { return i >= s.size(); }
  char peek() const { return i < s.size() ? s[i] : '\0'; }
  bool eat(char c) {
    if (peek() != c || done()) return false;
    ++i;
    return true;
  }
  // Exactly `n` digits as a number, or -1.
  int digits(int n) {
    if (i + static_cast<std::size_t>(n) > s.size()) return -1;
    int v = 0;
    for (int k = 0; k < n; ++k) {
      const char c = s[i + static_cast<std::size_t>(k)];
      if (!is_digit(c)) return -1;
      v = v * 10 + (c - '0');
    }
    i += static_cast<std::size_t>(n);
    return v;
  }
  // A run of printable US-ASCII up to the next space (RFC 5424 header fields).
  std::string_view word() {
    const std::size_t b = i;
    while (i < s.size() && is_print_ascii(s[i])) ++i;
    return s.substr(b, i - b);
  }
};

// "<PRI>": 1-3 digits, no leading zero but "0", at most 191. False: broken.
bool parse_pri(reader& r, syslog_message& m) {
  if (!r.eat('<')) return false;
  const std::size_t b = r.i;
  int v = 0;
  while (r.i < r.s.size() && is_digit(r.s[r.i]) && r.i - b < 3) v = v * 10 + (r.s[r.i++] - '0');
  const std::size_t n = r.i - b;
  if (n == 0 || (n > 1 && r.s[b] == '0') || v > 191 || !r.eat('>')) return false;
  m.facility = v / 8;
  m.severity = v % 8;
  return true;
}

bool valid_date(int y, int mo, int d, int h, int mi, int s) {
  static constexpr int days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return y >= 0 && mo >= 1 && mo <= 12 && d >= 1 && d <= days[mo - 1] && h >= 0 && h <= 23 &&
         mi >= 0 && mi <= 59 && s >= 0 && s <= 60;  // 60: a leap second
}

// hh:mm:ss[.frac] then, when `zone` allows, Z or ±hh:mm. `max_frac`: RFC 5424 allows 6 digits.
bool parse_time_of_day(reader& r, syslog_time& t, int max_frac, bool zone_required) {
  t.hour = r.digits(2);
  if (t.hour < 0 || !r.eat(':')) return false;
  t.minute = r.digits(2);
  if (t.minute < 0 || !r.eat(':')) return false;
  t.second = r.digits(2);
  if (t.second < 0) return false;
  if (r.eat('.')) {
    int n = 0;
    std::uint32_t ns = 0;
    while (is_digit(r.peek()) && !r.done()) {
      if (++n > max_frac) return false;
      ns = ns * 10 + static_cast<std::uint32_t>(r.s[r.i++] - '0');
    }
    if (n == 0) return false;
    for (int k = n; k < 9; ++k) ns *= 10;
    t.nanos = ns;
  }
  if (r.eat('Z')) {
    t.has_offset = true;
  } else if (r.peek() == '+' || r.peek() == '-') {
    const int sign = r.s[r.i++] == '-' ? -1 : 1;
    const int h = r.digits(2);
    if (h < 0 || h > 23 || !r.eat(':')) return false;
    const int m = r.digits(2);
    if (m < 0 || m > 59) return false;
    t.has_offset = true;
    t.offset_minutes = sign * (h * 60 + m);
  } else if (zone_required) {
    return false;
  }
  return true;
}

// FULL-DATE "T" FULL-TIME (RFC 3339 as RFC 5424 restricts it).
bool parse_iso(reader& r, syslog_time& t, int max_frac, bool zone_required) {
  t.year = r.digits(4);
  if (t.year < 0 || !r.eat('-')) return false;
  t.month = r.digits(2);
  if (t.month < 0 || !r.eat('-')) return false;
  t.day = r.digits(2);
  if (t.day < 0 || !r.eat('T')) return false;
  if (!parse_time_of_day(r, t, max_frac, zone_required)) return false;
  if (!valid_date(t.year, t.month, t.day, t.hour, t.minute, t.second)) return false;
  t.present = t.has_year = true;
  return true;
}

// A header field: NILVALUE or 1..max printable characters, then one space.
bool header_field(reader& r, std::string_view& out, std::size_t max) {
  const std::string_view w = r.word();
  if (w.empty() || w.size() > max || !r.eat(' ')) return false;
  out = w == "-" ? std::string_view() : w;
  return true;
}

// SD-NAME: 1-32 printable characters but '=', ' ', ']' and '"'.
std::string_view sd_name(reader& r) {
  const std::size_t b = r.i;
  while (r.i < r.s.size() && r.i - b < 32) {
    const char c = r.s[r.i];
    if (!is_print_ascii(c) || c == '=' || c == ']' || c == '"') break;
    ++r.i;
  }
  return r.s.substr(b, r.i - b);
}

const char* parse_structured_data(reader& r, syslog_message& m) {
  if (r.eat('-')) return nullptr;
  if (r.peek() != '[') return "rfc5424: expected STRUCTURED-DATA ('-' or '[')";
  while (r.eat('[')) {
    // Reuse the element (and its params' storage) an earlier frame left: no allocation per line.
    if (r.sd_used == m.sd.size()) m.sd.emplace_back();
    sd_element& e = m.sd[r.sd_used++];
    e.params.clear();
    e.id = sd_name(r);
    if (e.id.empty()) return "rfc5424: bad SD-ID";
    while (r.eat(' ')) {
      sd_param p;
      p.name = sd_name(r);
      if (p.name.empty() || !r.eat('=') || !r.eat('"')) return "rfc5424: bad SD-PARAM";
      const std::size_t b = r.i;
      for (;;) {
        if (r.done()) return "rfc5424: unterminated PARAM-VALUE";
        const char c = r.s[r.i];
        if (c == '\\' && r.i + 1 < r.s.size()) {
          r.i += 2;
        } else if (c == '"') {
          break;
        } else if (c == ']') {
          return "rfc5424: unescaped ']' in PARAM-VALUE";
        } else {
          ++r.i;
        }
      }
      p.raw = r.s.substr(b, r.i - b);
      ++r.i;  // the closing quote
      e.params.push_back(p);
    }
    if (!r.eat(']')) return "rfc5424: expected ']' or ' ' in SD-ELEMENT";
  }
  return nullptr;
}

void take_msg(std::string_view rest, syslog_message& m) {
  if (rest.starts_with("\xEF\xBB\xBF")) {
    m.bom = true;
    rest.remove_prefix(3);
  }
  m.msg = rest;
}

const char* parse_5424(reader& r, syslog_message& m) {
  m.format = syslog_format::rfc5424;
  int v = 0, n = 0;
  while (is_digit(r.peek()) && !r.done() && n < 3) v = v * 10 + (r.s[r.i++] - '0'), ++n;
  if (v == 0 || !r.eat(' ')) return "rfc5424: bad VERSION";
  m.version = v;
  if (r.eat('-')) {
    if (!r.eat(' ')) return "rfc5424: bad TIMESTAMP";
  } else if (!parse_iso(r, m.timestamp, 6, true) || !r.eat(' ')) {
    return "rfc5424: bad TIMESTAMP";
  }
  if (!header_field(r, m.hostname, 255)) return "rfc5424: bad HOSTNAME";
  if (!header_field(r, m.appname, 48)) return "rfc5424: bad APP-NAME";
  if (!header_field(r, m.procid, 128)) return "rfc5424: bad PROCID";
  const std::string_view msgid = r.word();
  if (msgid.empty() || msgid.size() > 32 || !r.eat(' ')) return "rfc5424: bad MSGID";
  m.msgid = msgid == "-" ? std::string_view() : msgid;
  if (const char* why = parse_structured_data(r, m)) return why;
  if (r.done()) return nullptr;
  if (!r.eat(' ')) return "rfc5424: expected ' ' before MSG";
  take_msg(r.s.substr(r.i), m);
  return nullptr;
}

constexpr std::string_view months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// "Mmm dd hh:mm:ss " or "Mmm  d hh:mm:ss " (RFC 3164), or an ISO 8601 stamp and a space.
bool parse_3164_time(reader& r, syslog_time& t) {
  reader save = r;
  syslog_time got;
  if (parse_iso(r, got, 9, false) && r.eat(' ')) {
    t = got;
    return true;
  }
  r = save;
  got = {};
  const std::string_view mon = r.s.substr(r.i, 3);
  int mo = 0;
  for (int k = 0; k < 12; ++k)
    if (mon == months[k]) mo = k + 1;
  if (mo == 0) return false;
  r.i += 3;
  if (!r.eat(' ')) return (r = save, false);
  int day = -1;
  if (r.eat(' ')) {
    day = r.digits(1);
  } else {
    day = r.digits(2);
  }
  if (day < 1 || !r.eat(' ') || !parse_time_of_day(r, got, 0, false) || got.has_offset ||
      !r.eat(' ') || !valid_date(2000, mo, day, got.hour, got.minute, got.second))
    return (r = save, false);
  got.month = mo;
  got.day = day;
  got.present = true;
  t = got;
  return true;
}

// TAG[pid]: — name characters (letters, digits, "._-/"), up to 48, an optional [pid] and a
// colon followed by a space or the end. False: this word is not a tag.
bool parse_tag(std::string_view w, std::string_view& tag, std::string_view& pid,
               std::size_t& used) {
  std::size_t i = 0;
  while (i < w.size() && i < 48) {
    const char c = w[i];
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' ||
          c == '/'))
      break;
    ++i;
  }
  if (i == 0) return false;
  tag = w.substr(0, i);
  pid = {};
  if (i < w.size() && w[i] == '[') {
    const std::size_t close = w.find(']', i);
    if (close == std::string_view::npos || close == i + 1 || close - i > 129) return false;
    pid = w.substr(i + 1, close - i - 1);
    i = close + 1;
  }
  if (i >= w.size() || w[i] != ':') return false;
  ++i;
  if (i < w.size() && w[i] != ' ') return false;
  used = i < w.size() ? i + 1 : i;
  return true;
}

const char* parse_3164(reader& r, syslog_message& m) {
  m.format = syslog_format::rfc3164;
  const bool has_time = parse_3164_time(r, m.timestamp);
  std::string_view rest = r.s.substr(r.i);
  std::string_view tag, pid;
  std::size_t used = 0;
  // With a timestamp, a hostname may follow: a word that is not itself a tag, followed by a
  // space and more (rsyslog's heuristic). Without one, the line is a tag and a message at most.
  if (has_time && !parse_tag(rest, tag, pid, used)) {
    const std::size_t sp = rest.find(' ');
    const std::string_view w = rest.substr(0, sp);
    bool host = sp != std::string_view::npos && !w.empty() && w.front() != '[' && w.size() <= 255;
    for (char c : w) host = host && is_print_ascii(c);
    if (host) {
      m.hostname = w;
      rest.remove_prefix(sp + 1);
    }
  }
  if (parse_tag(rest, tag, pid, used)) {
    m.appname = tag;
    m.procid = pid;
    rest.remove_prefix(used);
  }
  take_msg(rest, m);
  return nullptr;
}

}  // namespace

std::string syslog_time::iso8601() const {
  if (!present) return {};
  std::string out = has_year ? fmt::format("{:04}", year) : std::string("-");
  fmt::format_to(std::back_inserter(out), "-{:02}-{:02}T{:02}:{:02}:{:02}", month, day, hour,
                 minute, second);
  if (nanos) {
    std::string frac = fmt::format("{:09}", nanos);
    while (frac.back() == '0') frac.pop_back();
    out += "." + frac;
  }
  if (has_offset) {
    if (offset_minutes == 0) {
      out += 'Z';
    } else {
      const int a = offset_minutes < 0 ? -offset_minutes : offset_minutes;
      fmt::format_to(std::back_inserter(out), "{}{:02}:{:02}", offset_minutes < 0 ? '-' : '+',
                     a / 60, a % 60);
    }
  }
  return out;
}

std::string sd_param::value() const {
  std::string out;
  out.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\\' && i + 1 < raw.size() &&
        (raw[i + 1] == '"' || raw[i + 1] == '\\' || raw[i + 1] == ']'))
      ++i;
    out += raw[i];
  }
  return out;
}

std::string syslog_message::param(std::string_view id, std::string_view name, bool* found) const {
  for (const sd_element& e : sd) {
    if (e.id != id) continue;
    for (const sd_param& p : e.params)
      if (p.name == name) {
        if (found) *found = true;
        return p.value();
      }
  }
  if (found) *found = false;
  return {};
}

namespace {

const char* parse_frame(std::string_view frame, reader& r, syslog_message& m) {
  if (frame.empty()) return "empty line";
  if (r.peek() != '<') {
    m.pri_missing = true;
    m.format = syslog_format::bare;
    take_msg(frame, m);
    return nullptr;
  }
  if (!parse_pri(r, m)) return "bad PRI";
  if (is_digit(r.peek()) && !r.done()) {
    // A VERSION: RFC 5424, unless what follows is an RFC 3164 timestamp-less message that
    // happens to start with a digit and no space after it ("<13>2024-05-01T..." is 3164 ISO).
    reader probe = r;
    int n = 0;
    while (is_digit(probe.peek()) && !probe.done() && n < 4) ++probe.i, ++n;
    if (n <= 3 && probe.peek() == ' ') return parse_5424(r, m);
  }
  return parse_3164(r, m);
}

}  // namespace

const char* parse_syslog(std::string_view frame, syslog_message& m) {
  std::vector<sd_element> storage = std::move(m.sd);  // kept across frames: see above
  m = syslog_message();
  m.sd = std::move(storage);
  reader r{frame};
  const char* why = parse_frame(frame, r, m);
  m.sd.resize(r.sd_used);
  return why;
}

}  // namespace logship
