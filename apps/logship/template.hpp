// logship's templates: "{{appname}}-{{severity}}", "logs.{{sd.origin.ip}}" — literal text and
// {{name}} references (spaces inside the braces allowed), compiled once at load, with every
// name checked against what the rule offers, and rendered per message without allocating
// beyond the output string.
//
//   auto t = logship::template_text::compile("syslog.{{appname}}", logship::is_syslog_variable);
//   if (!t) fail(file, line, t.error().context());    // "column 9: unknown variable \"appnme\""
//   std::string topic;
//   t->render(topic, [&](std::string_view name, std::string& out) {
//     return logship::syslog_variable(msg, name, out);  // false: no value (renders as "")
//   });
//
// Variables of every message (syslog_variable): hostname, appname, procid, msgid, msg,
// severity and facility (RFC 5424's keywords: "err", "local3"), severity_code and
// facility_code (the numbers), timestamp (ISO 8601, as received: no year for RFC 3164),
// sd.<SD-ID>.<PARAM-NAME> (unescaped). A rule adds its regex's named groups, `value` and
// `iso8601`; its compile() says which with its own `known` predicate.
// "{{" always opens a reference; there is no escape for it (no topic, key or header needs one).
//
// Thread safety: a compiled template is immutable; render from any thread.
#pragma once

#include "syslog.hpp"

#include <weir/core/result.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace logship {

class template_text {
 public:
  // `known(name)`: whether the rule has a variable of that name. Errors (errc::invalid_input)
  // name the column (1-based) and the problem.
  template <class Known>
  static weir::result<template_text> compile(std::string_view text, Known&& known) {
    template_text t;
    if (auto r = t.parse(text); !r) return weir::unexpected(std::move(r).error());
    for (const piece& p : t.pieces_)
      if (p.variable && !known(std::string_view(p.text)))
        return weir::unexpected(
            weir::errc::invalid_input,
            "column " + std::to_string(p.column) + ": unknown variable \"" + p.text + "\"");
    return t;
  }

  // Appends the rendering to `out`. `lookup(name, out)` appends a variable's value and returns
  // whether it had one (a missing value renders as nothing).
  template <class Lookup>
  void render(std::string& out, Lookup&& lookup) const {
    for (const piece& p : pieces_) {
      if (!p.variable)
        out += p.text;
      else
        (void)lookup(std::string_view(p.text), out);
    }
  }

  bool literal() const noexcept {
    return pieces_.size() <= 1 && (pieces_.empty() || !pieces_[0].variable);
  }
  std::vector<std::string_view> variables() const;

 private:
  struct piece {
    std::string text;  // literal text, or the variable's name
    bool variable = false;
    std::size_t column = 0;
  };
  weir::result<void> parse(std::string_view text);
  std::vector<piece> pieces_;
};

// Whether `name` is a variable every syslog message has (see above).
bool is_syslog_variable(std::string_view name);
// Appends the value of `name` for `m` to `out`; false when `m` has none (an absent SD param, an
// empty hostname) or `name` is not a syslog variable.
bool syslog_variable(const syslog_message& m, std::string_view name, std::string& out);

// RFC 5424's keywords: severity 3 is "err", facility 19 is "local3".
std::string_view severity_name(int severity);
std::string_view facility_name(int facility);

}  // namespace logship
