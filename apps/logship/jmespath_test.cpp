#include "jmespath.hpp"

#include <gtest/gtest.h>

#include <string>

namespace logship {
namespace {

constexpr std::string_view doc = R"({
  "level": "error", "code": 503, "ok": false, "empty": "", "tags": ["a", "b"],
  "service": {"name": "api", "zone": "eu-1"}, "a.b": 1,
  "items": [{"kind": "x", "name": "one", "n": 1}, {"kind": "y", "name": "two", "n": 2},
            {"kind": "x", "name": "three", "n": 3}]
})";

std::string eval(std::string_view expr, std::string_view json = doc) {
  auto q = jmespath::compile(expr);
  EXPECT_TRUE(q) << expr << ": " << (q ? "" : q.error().context());
  if (!q) return "(compile error)";
  auto r = q->evaluate(json);
  EXPECT_TRUE(r) << (r ? "" : r.error().message());
  return r ? r->json + (r->truthy ? " T" : " F") : "(not JSON)";
}

std::string compile_error(std::string_view expr) {
  auto q = jmespath::compile(expr);
  return q ? "(compiled)" : std::string(q.error().context());
}

TEST(Jmespath, PathsIndexesAndLiterals) {
  EXPECT_EQ(eval("level"), "\"error\" T");
  EXPECT_EQ(eval("service.name"), "\"api\" T");
  EXPECT_EQ(eval("service.nope"), "null F");
  EXPECT_EQ(eval("level.deeper"), "null F");
  EXPECT_EQ(eval("\"a.b\""), "1 T");
  EXPECT_EQ(eval("tags[0]"), "\"a\" T");
  EXPECT_EQ(eval("tags[-1]"), "\"b\" T");
  EXPECT_EQ(eval("tags[2]"), "null F");
  EXPECT_EQ(eval("items[1].name"), "\"two\" T");
  EXPECT_EQ(eval("service"), "{\"name\":\"api\",\"zone\":\"eu-1\"} T");
  EXPECT_EQ(eval("empty"), "\"\" F");
  EXPECT_EQ(eval("ok"), "false F");
  EXPECT_EQ(eval("'raw'"), "\"raw\" T");
  EXPECT_EQ(eval("`42`"), "42 T");
  EXPECT_EQ(eval("@.code"), "503 T");
}

TEST(Jmespath, FiltersProjectWhatFollows) {
  EXPECT_EQ(eval("items[?kind=='x'].name"), "[\"one\",\"three\"] T");
  EXPECT_EQ(eval("items[?kind=='z'].name"), "[] F");
  EXPECT_EQ(eval("items[?n > `1` && kind == 'x'].n"), "[3] T");
  EXPECT_EQ(eval("tags[?@ == 'b']"), "[\"b\"] T");
  EXPECT_EQ(eval("items[?kind=='y']"), "[{\"kind\":\"y\",\"name\":\"two\",\"n\":2}] T");
}

TEST(Jmespath, ComparisonsAndLogic) {
  EXPECT_EQ(eval("level == 'error'"), "true T");
  EXPECT_EQ(eval("level != 'error'"), "false F");
  EXPECT_EQ(eval("code >= `500`"), "true T");
  EXPECT_EQ(eval("code < `500`"), "false F");
  EXPECT_EQ(eval("level < `5`"), "null F");  // ordering needs numbers
  EXPECT_EQ(eval("level == 'error' && service.name == 'api'"), "true T");
  EXPECT_EQ(eval("missing || service.zone"), "\"eu-1\" T");
  EXPECT_EQ(eval("!ok"), "true T");
  EXPECT_EQ(eval("!(level == 'error') || code == `503`"), "true T");
  EXPECT_EQ(eval("tags == `null`"), "false F");
  EXPECT_EQ(eval("missing == `null`"), "true T");
}

TEST(Jmespath, WhatLogRulesDoNotNeedIsACompileErrorWithTheColumn) {
  EXPECT_EQ(compile_error("items[*].name"),
            "column 7: expected an index (wildcards, slices and flatten are not supported)");
  EXPECT_EQ(compile_error("items[0:2]"), "column 8: expected ']' after the index");
  EXPECT_EQ(compile_error("level | length(@)"), "column 7: pipes are not supported");
  EXPECT_EQ(compile_error("length(tags)"), "column 7: functions are not supported");
  EXPECT_EQ(compile_error("service.*"), "column 9: wildcards and multiselect are not supported");
  EXPECT_EQ(compile_error("{a: level}"), "column 1: multiselect hashes are not supported");
  EXPECT_EQ(compile_error("level == 'unterminated"), "column 23: unterminated '...'");
  EXPECT_EQ(compile_error("`{\"a\":1}`"),
            "column 1: expected a scalar JSON literal (a number, a string, true, false, null)");
  EXPECT_EQ(compile_error("level =="), "column 9: expected an expression");
  EXPECT_EQ(compile_error(""), "column 1: expected an expression");
  EXPECT_EQ(compile_error("a b"), "column 3: unexpected 'b'");
  // Nesting and length are bounded (the fuzzer found a stack overflow on 4,000 parentheses).
  EXPECT_EQ(compile_error(std::string(100, '(') + "a"), "column 65: nested deeper than 64");
  EXPECT_EQ(compile_error(std::string(100, '!') + "a"), "column 65: nested deeper than 64");
  EXPECT_EQ(eval(std::string(30, '(') + "level" + std::string(30, ')')), "\"error\" T");
  std::string chain = "level";
  while (chain.size() < 4000) chain += " || level";
  EXPECT_EQ(eval(chain), "\"error\" T");
  EXPECT_EQ(compile_error(chain + chain), "expression longer than 4096 characters (8002)");
}

TEST(Jmespath, ANonJsonMessageIsAnError) {
  auto q = jmespath::compile("level");
  ASSERT_TRUE(q);
  auto r = q->evaluate("not json {");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), weir::errc::invalid_input);
  EXPECT_EQ(r.error().context().substr(0, 10), "not JSON: ");
}

}  // namespace
}  // namespace logship
