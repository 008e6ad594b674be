#include "template.hpp"

namespace logship {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

bool valid_name(std::string_view n) {
  if (n.empty()) return false;
  for (char c : n)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '.' || c == '-' || c == '@'))
      return false;
  return true;
}

}  // namespace

weir::result<void> template_text::parse(std::string_view text) {
  std::size_t i = 0;
  std::string literal;
  std::size_t literal_column = 1;
  while (i < text.size()) {
    const std::size_t open = text.find("{{", i);
    if (open == std::string_view::npos) {
      literal.append(text.substr(i));
      break;
    }
    literal.append(text.substr(i, open - i));
    const std::size_t close = text.find("}}", open + 2);
    if (close == std::string_view::npos)
      return weir::unexpected(weir::errc::invalid_input,
                              "column " + std::to_string(open + 1) + ": \"{{\" without \"}}\"");
    const std::string_view name = trim(text.substr(open + 2, close - open - 2));
    if (!valid_name(name))
      return weir::unexpected(weir::errc::invalid_input,
                              "column " + std::to_string(open + 1) +
                                  ": expected a variable name "
                                  "(letters, digits, _ . - @) inside {{ }}, got \"" +
                                  std::string(text.substr(open, close + 2 - open)) + "\"");
    if (!literal.empty()) pieces_.push_back({std::move(literal), false, literal_column});
    literal.clear();
    pieces_.push_back({std::string(name), true, open + 1});
    i = close + 2;
    literal_column = i + 1;
  }
  if (!literal.empty()) pieces_.push_back({std::move(literal), false, literal_column});
  return {};
}

std::vector<std::string_view> template_text::variables() const {
  std::vector<std::string_view> out;
  for (const piece& p : pieces_)
    if (p.variable) out.emplace_back(p.text);
  return out;
}

std::string_view severity_name(int s) {
  static constexpr std::string_view names[] = {"emerg",   "alert",  "crit", "err",
                                               "warning", "notice", "info", "debug"};
  return s >= 0 && s < 8 ? names[s] : std::string_view();
}

std::string_view facility_name(int f) {
  static constexpr std::string_view names[] = {
      "kern",   "user",   "mail",     "daemon", "auth",   "syslog", "lpr",    "news",
      "uucp",   "cron",   "authpriv", "ftp",    "ntp",    "audit",  "alert",  "clock",
      "local0", "local1", "local2",   "local3", "local4", "local5", "local6", "local7"};
  return f >= 0 && f < 24 ? names[f] : std::string_view();
}

bool is_syslog_variable(std::string_view n) {
  static constexpr std::string_view plain[] = {
      "hostname", "appname",  "procid",        "msgid",         "msg",
      "severity", "facility", "severity_code", "facility_code", "timestamp"};
  for (std::string_view p : plain)
    if (n == p) return true;
  if (!n.starts_with("sd.")) return false;
  const std::string_view rest = n.substr(3);
  const std::size_t dot = rest.rfind('.');  // SD-IDs may hold dots ("origin" no, "x@1.2" yes)
  return dot != std::string_view::npos && dot > 0 && dot + 1 < rest.size();
}

bool syslog_variable(const syslog_message& m, std::string_view n, std::string& out) {
  auto put = [&](std::string_view v) {
    out += v;
    return !v.empty();
  };
  if (n == "hostname") return put(m.hostname);
  if (n == "appname") return put(m.appname);
  if (n == "procid") return put(m.procid);
  if (n == "msgid") return put(m.msgid);
  if (n == "msg") return put(m.msg);
  if (n == "severity") return put(severity_name(m.severity));
  if (n == "facility") return put(facility_name(m.facility));
  if (n == "severity_code") return put(std::to_string(m.severity));
  if (n == "facility_code") return put(std::to_string(m.facility));
  if (n == "timestamp") return put(m.timestamp.iso8601());
  if (n.starts_with("sd.")) {
    const std::string_view rest = n.substr(3);
    const std::size_t dot = rest.rfind('.');
    if (dot == std::string_view::npos) return false;
    bool found = false;
    const std::string v = m.param(rest.substr(0, dot), rest.substr(dot + 1), &found);
    out += v;
    return found;
  }
  return false;
}

}  // namespace logship
