#include "rules_file.hpp"

#include <gtest/gtest.h>

#include <string>

namespace logship {
namespace {

std::string error_of(std::string_view text) {
  auto r = load_rules(text, "logship.toml");
  return r ? "(loaded)" : std::string(r.error().context());
}

TEST(RulesFile, LoadsRulesThatRoute) {
  auto r = load_rules(R"(default_topic = "logs"

[[rules]]
name = "auth"
regex = 'Accepted (?P<method>\w+) for (?P<user>\w+)'
actions = [
  { replace = '{"user":"{{user}}"}' },
  { forward = "auth.{{method}}" },
]

[[rules]]
field = "appname"
regex = "^cron$"
actions = [{ drop = true }]
)",
                      "logship.toml");
  ASSERT_TRUE(r) << r.error().message();
  syslog_message m;
  ASSERT_EQ(parse_syslog("<38>Feb  5 17:32:18 h sshd[1]: Accepted password for bob", m), nullptr);
  rules::outcome o;
  r->apply(m, {}, o);
  EXPECT_EQ(o.topic, "auth.password");
  EXPECT_EQ(o.payload, R"({"user":"bob"})");
  ASSERT_EQ(parse_syslog("<78>Feb  5 17:32:18 h cron[1]: x", m), nullptr);
  r->apply(m, {}, o);
  EXPECT_TRUE(o.dropped);
  ASSERT_EQ(parse_syslog("<13>Feb  5 17:32:18 h app: y", m), nullptr);
  r->apply(m, {}, o);
  EXPECT_EQ(o.topic, "logs");
  EXPECT_EQ(r->name(1), "rule 2");
}

TEST(RulesFile, MistakesNameFileLineAndColumn) {
  EXPECT_EQ(error_of("default_topic = \n").substr(0, 33), "logship.toml:1:17: syntax error: ");
  EXPECT_EQ(error_of("topic = \"x\"\n"),
            "logship.toml:1:9: unknown key \"topic\" (known: default_topic, rules)");
  EXPECT_EQ(error_of("default_topic = 3\n"), "logship.toml:1:17: default_topic: expected a string");
  EXPECT_EQ(error_of("[[rules]]\nregex = \"x\"\nactoins = []\n"),
            "logship.toml:3:11: unknown key \"actoins\" in a rule (known: name, field, regex, "
            "jmespath, actions)");
  EXPECT_EQ(error_of("[[rules]]\nregex = \"x\"\nactions = [{ drop = false }]\n"),
            "logship.toml:3:21: drop: expected true");
  EXPECT_EQ(error_of("[[rules]]\nregex = \"x\"\nactions = [{ forward = 1 }]\n"),
            "logship.toml:3:24: forward: expected a string");
  EXPECT_EQ(error_of("[[rules]]\nregex = \"x\"\nactions = [{ forward = \"a\", drop = true }]\n"),
            "logship.toml:3:12: actions: expected a table with one key: { forward = \"topic\" }, "
            "{ merge = '{...}' }, { replace = \"...\" }, { drop = true }, { stop = true }");
  // what rules::compile finds points at the rule's table
  const std::string bad = error_of(
      "[[rules]]\nregex = \"x\"\nactions = [{ drop = true }]\n\n"
      "[[rules]]\nname = \"b\"\nregex = \"(x\"\nactions = [{ drop = true }]\n");
  EXPECT_EQ(bad.substr(0, 30), "logship.toml:5:1: rule 2 (b): ") << bad;
  EXPECT_NE(bad.find("regex: missing )"), std::string::npos) << bad;
}

}  // namespace
}  // namespace logship
