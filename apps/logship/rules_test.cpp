#include "rules.hpp"

#include <gtest/gtest.h>

#include <string>

namespace logship {
namespace {

using namespace std::chrono_literals;

const auto now = std::chrono::system_clock::time_point(1714564800s);  // 2024-05-01T12:00:00Z

struct result {
  bool dropped = false;
  std::string topic, payload;
  std::vector<std::string> matched;  // names
};

result run(const std::vector<rule_spec>& specs, std::string_view line) {
  auto r = rules::compile(specs, "syslog");
  EXPECT_TRUE(r) << (r ? "" : r.error().message());
  syslog_message m;
  EXPECT_EQ(parse_syslog(line, m), nullptr);
  rules::outcome o;
  result out;
  if (!r) return out;
  r->apply(m, now, o);
  out = {o.dropped, o.topic, o.payload, {}};
  for (unsigned i : o.matched) out.matched.emplace_back(r->name(i));
  return out;
}

std::string compile_error(const std::vector<rule_spec>& specs) {
  auto r = rules::compile(specs, "syslog");
  return r ? "(compiled)" : std::string(r.error().context());
}

TEST(Rules, RegexGroupsRouteAndRewrite) {
  const std::vector<rule_spec> specs = {
      {"auth",
       "msg",
       R"(Accepted (?P<method>\w+) for (?P<user>\w+))",
       "",
       {{"replace", R"({"user":"{{user}}","method":"{{method}}","host":"{{hostname}}"})"},
        {"forward", "auth.{{method}}"}}},
      {"noise", "appname", "^cron$", "", {{"drop", ""}}},
  };
  auto o = run(specs, "<38>Feb  5 17:32:18 bastion sshd[1234]: Accepted publickey for alice");
  EXPECT_FALSE(o.dropped);
  EXPECT_EQ(o.topic, "auth.publickey");
  EXPECT_EQ(o.payload, R"({"user":"alice","method":"publickey","host":"bastion"})");
  EXPECT_EQ(o.matched, (std::vector<std::string>{"auth"}));

  o = run(specs, "<78>Feb  5 17:32:18 bastion cron[9]: (root) CMD (run-parts)");
  EXPECT_TRUE(o.dropped);
  EXPECT_EQ(o.matched, (std::vector<std::string>{"noise"}));

  o = run(specs, "<13>Feb  5 17:32:18 bastion app: nothing to see");  // no rule: the default
  EXPECT_EQ(o.topic, "syslog");
  EXPECT_EQ(o.payload, "nothing to see");
  EXPECT_TRUE(o.matched.empty());
}

TEST(Rules, JmespathMatchesJsonAndMergeDeepMerges) {
  const std::vector<rule_spec> specs = {
      {"tag",
       "msg",
       "",
       "service.name == 'api'",
       {{"merge", R"({"service":{"env":"prod"},"tags":["seen"],"at":"{{iso8601}}"})"}}},
      {"errors", "msg", "", "level == 'error'", {{"forward", "errors.{{appname}}"}}},
      {"", "msg", "", "level", {{"stop", ""}}},
  };
  auto o =
      run(specs, R"(<13>1 - h web - - - {"level":"error","service":{"name":"api"},"tags":["a"]})");
  EXPECT_EQ(o.topic, "errors.web");
  EXPECT_EQ(o.payload,
            R"({"level":"error","service":{"name":"api","env":"prod"},"tags":["a","seen"],)"
            R"("at":"2024-05-01T12:00:00Z"})");
  EXPECT_EQ(o.matched, (std::vector<std::string>{"tag", "errors"}));

  o = run(specs, R"(<13>1 - h web - - - {"level":"info"})");  // stop: the default topic
  EXPECT_EQ(o.topic, "syslog");
  EXPECT_EQ(o.matched, (std::vector<std::string>{"rule 3"}));

  o = run(specs, "<13>1 - h web - - - not json");  // a JMESPath rule does not match text
  EXPECT_EQ(o.topic, "syslog");
  EXPECT_TRUE(o.matched.empty());
}

TEST(Rules, ValueIsTheMatchOrTheResult) {
  auto o = run({{"v", "msg", "", "user.name", {{"forward", "users.{{value}}"}}}},
               R"(<13>1 - h a - - - {"user":{"name":"bob"}})");
  EXPECT_EQ(o.topic, "users.bob");
  o = run({{"v", "hostname", "^web-[0-9]+", "", {{"forward", "{{value}}.{{sd.o.ip}}"}}}},
          R"(<13>1 - web-12.eu a - - [o ip="192.0.2.1"] x)");
  EXPECT_EQ(o.topic, "web-12.192.0.2.1");
}

TEST(Rules, MistakesAreFoundAtLoadWithTheRuleAndTheAction) {
  EXPECT_EQ(compile_error({{"a", "msg", "(unclosed", "", {{"drop", ""}}}}),
            "rule 1 (a): regex: missing ): (unclosed");
  EXPECT_EQ(compile_error({{"", "msg", "", "items[*]", {{"drop", ""}}}}),
            "rule 1: jmespath: column 7: expected an index (wildcards, slices and flatten are "
            "not supported)");
  EXPECT_EQ(compile_error({{"a", "mesage", "x", "", {{"drop", ""}}}}),
            "rule 1 (a): field: unknown field \"mesage\"");
  EXPECT_EQ(compile_error({{"a", "msg", "x", "y", {{"drop", ""}}}}),
            "rule 1 (a): expected exactly one of regex and jmespath");
  EXPECT_EQ(compile_error({{"a", "msg", "x", "", {}}}), "rule 1 (a): expected at least one action");
  EXPECT_EQ(compile_error({{"a", "msg", "(?P<u>x)", "", {{"forward", "t.{{user}}"}}}}),
            "rule 1 (a): action 1 (forward): column 3: unknown variable \"user\"");
  EXPECT_EQ(compile_error({{"a", "msg", "x", "", {{"send", "t"}}}}),
            "rule 1 (a): action 1: unknown action \"send\" (expected forward, merge, replace, "
            "drop or stop)");
  EXPECT_EQ(compile_error({{"a", "msg", "x", "", {{"drop", "t"}}}}),
            "rule 1 (a): action 1 (drop): takes no argument");
  EXPECT_EQ(compile_error({{"a", "msg", "x", "", {{"forward", ""}}}}),
            "rule 1 (a): action 1 (forward): expected a template");
}

TEST(Rules, JsonMerge) {
  std::string out;
  EXPECT_TRUE(
      json_merge(R"({"a":{"b":1},"c":[1]})", R"({"a":{"d":"x\"y"},"c":[2],"e":null})", out));
  EXPECT_EQ(out, R"({"a":{"b":1,"d":"x\"y"},"c":[1,2],"e":null})");
  EXPECT_FALSE(json_merge("[1]", "{}", out));
  EXPECT_FALSE(json_merge("{}", "not json", out));
}

}  // namespace
}  // namespace logship
