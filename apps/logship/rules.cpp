#include "rules.hpp"

#include <weir/http/json.hpp>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <re2/re2.h>
#include <simdjson.h>

#include <map>

namespace logship {

struct rules::compiled {
  std::string name;
  std::string field;
  std::unique_ptr<re2::RE2> regex;
  std::vector<std::string> groups;  // named groups, by index (empty: unnamed)
  std::optional<jmespath> query;
  struct action {
    enum kind_t { forward, merge, replace, drop, stop } kind;
    std::optional<template_text> text;
  };
  std::vector<action> actions;
};

namespace {

namespace dom = simdjson::dom;

void write_json(const dom::element& e, std::string& out) { out += simdjson::minify(e); }

// Writes the merge of `a` and `b` (b wins; objects merged, arrays extended).
void merge_into(const dom::element& a, const dom::element& b, std::string& out) {
  if (a.is_object() && b.is_object()) {
    const dom::object ao = a.get_object().value(), bo = b.get_object().value();
    out += '{';
    bool first = true;
    auto key = [&](std::string_view k) {
      if (!first) out += ',';
      first = false;
      weir::http::json_escape(out, k);
      out += ':';
    };
    for (auto [k, v] : ao) {
      key(k);
      dom::element bv;
      if (bo.at_key(k).get(bv) == simdjson::SUCCESS)
        merge_into(v, bv, out);
      else
        write_json(v, out);
    }
    for (auto [k, v] : bo) {
      dom::element av;
      if (ao.at_key(k).get(av) == simdjson::SUCCESS) continue;
      key(k);
      write_json(v, out);
    }
    out += '}';
  } else if (a.is_array() && b.is_array()) {
    out += '[';
    bool first = true;
    for (const dom::array& arr : {a.get_array().value(), b.get_array().value()})
      for (dom::element e : arr) {
        if (!first) out += ',';
        first = false;
        write_json(e, out);
      }
    out += ']';
  } else {
    write_json(b, out);
  }
}

}  // namespace

bool json_merge(std::string_view target, std::string_view patch, std::string& out) {
  thread_local dom::parser pa, pb;
  dom::element a, b;
  if (pa.parse(target.data(), target.size()).get(a) != simdjson::SUCCESS || !a.is_object())
    return false;
  if (pb.parse(patch.data(), patch.size()).get(b) != simdjson::SUCCESS || !b.is_object())
    return false;
  out.clear();
  merge_into(a, b, out);
  return true;
}

static weir::result<void> check_default_topic(const std::string& topic) {
  if (valid_topic(topic)) return {};
  return weir::unexpected(
      weir::errc::invalid_input,
      "default topic \"" + topic + "\": expected 1-249 characters of [A-Za-z0-9._-]");
}

weir::result<rules> rules::compile(const std::vector<rule_spec>& specs, std::string default_topic) {
  auto all = std::make_shared<std::vector<compiled>>();
  for (std::size_t k = 0; k < specs.size(); ++k) {
    const rule_spec& s = specs[k];
    const std::string where =
        "rule " + std::to_string(k + 1) + (s.name.empty() ? "" : " (" + s.name + ")") + ": ";
    auto fail = [&](std::string what) {
      return weir::unexpected(weir::errc::invalid_input, where + what);
    };
    compiled c;
    c.name = s.name.empty() ? "rule " + std::to_string(k + 1) : s.name;
    if (!is_syslog_variable(s.field)) return fail("field: unknown field \"" + s.field + "\"");
    c.field = s.field;
    if (s.regex.empty() == s.jmespath.empty())
      return fail("expected exactly one of regex and jmespath");
    std::map<std::string, bool, std::less<>> vars{{"value", true}, {"iso8601", true}};
    if (!s.regex.empty()) {
      re2::RE2::Options o;
      o.set_log_errors(false);
      c.regex = std::make_unique<re2::RE2>(s.regex, o);
      if (!c.regex->ok()) return fail("regex: " + c.regex->error());
      c.groups.resize(static_cast<std::size_t>(c.regex->NumberOfCapturingGroups()) + 1);
      for (const auto& [name, index] : c.regex->NamedCapturingGroups()) {
        c.groups[static_cast<std::size_t>(index)] = name;
        vars[name] = true;
      }
    } else {
      auto q = jmespath::compile(s.jmespath);
      if (!q) return fail("jmespath: " + std::string(q.error().context()));
      c.query = std::move(*q);
    }
    auto known = [&](std::string_view n) { return vars.count(n) > 0 || is_syslog_variable(n); };
    if (s.actions.empty()) return fail("expected at least one action");
    for (std::size_t a = 0; a < s.actions.size(); ++a) {
      const rule_spec::action& sa = s.actions[a];
      const std::string at = "action " + std::to_string(a + 1) + " (" + sa.kind + "): ";
      compiled::action ca;
      if (sa.kind == "forward")
        ca.kind = compiled::action::forward;
      else if (sa.kind == "merge")
        ca.kind = compiled::action::merge;
      else if (sa.kind == "replace")
        ca.kind = compiled::action::replace;
      else if (sa.kind == "drop")
        ca.kind = compiled::action::drop;
      else if (sa.kind == "stop")
        ca.kind = compiled::action::stop;
      else
        return fail("action " + std::to_string(a + 1) + ": unknown action \"" + sa.kind +
                    "\" (expected forward, merge, replace, drop or stop)");
      const bool takes_text = ca.kind == compiled::action::forward ||
                              ca.kind == compiled::action::merge ||
                              ca.kind == compiled::action::replace;
      if (takes_text) {
        if (sa.text.empty()) return fail(at + "expected a template");
        auto t = template_text::compile(sa.text, known);
        if (!t) return fail(at + std::string(t.error().context()));
        if (ca.kind == compiled::action::forward && t->literal() && !valid_topic(sa.text))
          return fail(at + "\"" + sa.text +
                      "\" is not a Kafka topic name (1-249 characters of [A-Za-z0-9._-])");
        ca.text = std::move(*t);
      } else if (!sa.text.empty()) {
        return fail(at + "takes no argument");
      }
      c.actions.push_back(std::move(ca));
    }
    all->push_back(std::move(c));
  }
  WEIR_TRY(check_default_topic(default_topic));
  rules r;
  r.rules_ = std::move(all);
  r.default_topic_ = std::move(default_topic);
  return r;
}

std::string_view rules::name(unsigned i) const {
  return i < rules_->size() ? std::string_view((*rules_)[i].name) : std::string_view();
}

bool valid_topic(std::string_view t) noexcept {
  if (t.empty() || t.size() > 249 || t == "." || t == "..") return false;
  for (char c : t)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
          c == '_' || c == '-'))
      return false;
  return true;
}

weir::result<rules> rules::with_default_topic(std::string topic) const {
  WEIR_TRY(check_default_topic(topic));
  rules r = *this;
  r.default_topic_ = std::move(topic);
  return r;
}

std::size_t rules::size() const noexcept { return rules_->size(); }

void rules::apply(const syslog_message& m, std::chrono::system_clock::time_point now, outcome& out,
                  observer* watch) const {
  out.dropped = false;  // reusing the strings' and the vector's storage
  out.rewritten = false;
  out.topic.clear();
  out.matched.clear();
  if (rules_->empty()) {  // pass-through: no payload to prepare
    out.payload.clear();
    out.topic = default_topic_;
    return;
  }
  out.payload.assign(m.msg);
  std::string field, value, rendered;
  std::vector<re2::StringPiece> caps;
  for (const compiled& c : *rules_) {
    if (watch) watch->entering(static_cast<unsigned>(&c - rules_->data()));
    field.clear();
    syslog_variable(m, c.field, field);
    if (c.field == "msg") field = out.payload;  // the payload as the actions before made it
    bool match = false;
    value.clear();
    if (c.regex) {
      caps.assign(c.groups.size(), re2::StringPiece());
      match = c.regex->Match(field, 0, field.size(), re2::RE2::UNANCHORED, caps.data(),
                             static_cast<int>(caps.size()));
      if (match) value.assign(caps[0].data(), caps[0].size());
    } else {
      auto r = c.query->evaluate(field);
      match = r && r->truthy;
      if (match) {
        value = r->json;
        if (value.size() >= 2 && value.front() == '"') {  // a string as is
          thread_local dom::parser p;
          std::string_view s;
          if (p.parse(value).get_string().get(s) == simdjson::SUCCESS) value = std::string(s);
        }
      }
    }
    if (!match) continue;
    out.matched.push_back(static_cast<unsigned>(&c - rules_->data()));
    auto lookup = [&](std::string_view n, std::string& o) {
      if (n == "value") return o += value, true;
      if (n == "iso8601") {
        o += fmt::format("{:%Y-%m-%dT%H:%M:%S}Z",
                         std::chrono::time_point_cast<std::chrono::seconds>(now));
        return true;
      }
      for (std::size_t g = 1; g < c.groups.size(); ++g)
        if (c.groups[g] == n) return o.append(caps[g].data(), caps[g].size()), true;
      return syslog_variable(m, n, o);
    };
    for (const compiled::action& a : c.actions) {
      switch (a.kind) {
        case compiled::action::forward: a.text->render(out.topic, lookup); return;
        case compiled::action::drop: out.dropped = true; return;
        case compiled::action::stop: out.topic = default_topic_; return;
        case compiled::action::replace:
          rendered.clear();
          a.text->render(rendered, lookup);
          out.payload = rendered;
          out.rewritten = true;
          break;
        case compiled::action::merge: {
          rendered.clear();
          a.text->render(rendered, lookup);
          std::string merged;
          if (json_merge(out.payload, rendered, merged)) {
            out.payload = std::move(merged);
            out.rewritten = true;
          }
          break;
        }
      }
    }
  }
  out.topic = default_topic_;
}

}  // namespace logship
