#include "rules_file.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <string>

namespace logship {

namespace {

std::string place(std::string_view file, const toml::source_position& p) {
  return std::string(file) + ":" + std::to_string(p.line) + ":" + std::to_string(p.column) + ": ";
}

weir::unexpected fail(std::string_view file, const toml::node& at, std::string what) {
  return weir::unexpected(weir::errc::invalid_input, place(file, at.source().begin) + what);
}

// A string value of `t[key]`, or an error naming where it is and what was expected.
weir::result<std::string> text(std::string_view file, const toml::table& t, std::string_view key,
                               std::string fallback) {
  const toml::node* n = t.get(key);
  if (!n) return fallback;
  if (!n->is_string()) return fail(file, *n, std::string(key) + ": expected a string");
  return std::string(n->as_string()->get());
}

}  // namespace

weir::result<rules> load_rules(std::string_view toml_text, std::string_view file,
                               std::span<const std::string_view> also_known) {
  toml::table doc;
  try {
    doc = toml::parse(toml_text, file);
  } catch (const toml::parse_error& e) {
    return weir::unexpected(
        weir::errc::invalid_input,
        place(file, e.source().begin) + "syntax error: " + std::string(e.description()));
  }
  for (const auto& [k, v] : doc)
    if (k != "default_topic" && k != "rules" &&
        std::find(also_known.begin(), also_known.end(), k.str()) == also_known.end())
      return fail(file, v,
                  "unknown key \"" + std::string(k.str()) + "\" (known: default_topic, rules)");
  WEIR_TRY_ASSIGN(std::string default_topic, text(file, doc, "default_topic", "syslog"));
  std::vector<rule_spec> specs;
  std::vector<const toml::node*> where;
  if (const toml::node* r = doc.get("rules")) {
    const toml::array* arr = r->as_array();
    if (!arr) return fail(file, *r, "rules: expected an array of tables ([[rules]])");
    for (const toml::node& item : *arr) {
      const toml::table* t = item.as_table();
      if (!t) return fail(file, item, "rules: expected a table");
      for (const auto& [k, v] : *t)
        if (k != "name" && k != "field" && k != "regex" && k != "jmespath" && k != "actions")
          return fail(file, v,
                      "unknown key \"" + std::string(k.str()) +
                          "\" in a rule (known: name, field, regex, jmespath, actions)");
      rule_spec s;
      WEIR_TRY_ASSIGN(s.name, text(file, *t, "name", ""));
      WEIR_TRY_ASSIGN(s.field, text(file, *t, "field", "msg"));
      WEIR_TRY_ASSIGN(s.regex, text(file, *t, "regex", ""));
      WEIR_TRY_ASSIGN(s.jmespath, text(file, *t, "jmespath", ""));
      if (const toml::node* a = t->get("actions")) {
        const toml::array* acts = a->as_array();
        if (!acts) return fail(file, *a, "actions: expected an array of { action = ... } tables");
        for (const toml::node& an : *acts) {
          const toml::table* at = an.as_table();
          if (!at || at->size() != 1)
            return fail(file, an,
                        "actions: expected a table with one key: { forward = \"topic\" }, "
                        "{ merge = '{...}' }, { replace = \"...\" }, { drop = true }, "
                        "{ stop = true }");
          for (const auto& [ak, av] : *at) {  // its one key
            rule_spec::action act{std::string(ak.str()), ""};
            if (act.kind == "drop" || act.kind == "stop") {
              if (!av.is_boolean() || !av.as_boolean()->get())
                return fail(file, av, act.kind + ": expected true");
            } else if (const toml::value<std::string>* sv = av.as_string()) {
              act.text = sv->get();
            } else {
              return fail(file, av, act.kind + ": expected a string");
            }
            s.actions.push_back(std::move(act));
          }
        }
      }
      specs.push_back(std::move(s));
      where.push_back(&item);
    }
  }
  auto compiled = rules::compile(specs, default_topic);
  if (compiled) return compiled;
  // "rule N ...": point at the Nth [[rules]] table.
  const std::string why(compiled.error().context());
  std::size_t n = 0;
  if (why.starts_with("rule ")) n = std::strtoul(why.c_str() + 5, nullptr, 10);
  if (n >= 1 && n <= where.size()) return fail(file, *where[n - 1], why);
  return weir::unexpected(weir::errc::invalid_input, std::string(file) + ": " + why);
}

}  // namespace logship
