#include "template.hpp"

#include <gtest/gtest.h>

#include <string>

namespace logship {
namespace {

std::string render(std::string_view text, const syslog_message& m) {
  auto t = template_text::compile(text, is_syslog_variable);
  EXPECT_TRUE(t) << text << ": " << (t ? "" : t.error().message());
  std::string out;
  if (t)
    t->render(out, [&](std::string_view n, std::string& o) { return syslog_variable(m, n, o); });
  return out;
}

std::string compile_error(std::string_view text) {
  auto t = template_text::compile(text, is_syslog_variable);
  return t ? "(compiled)" : std::string(t.error().context());
}

syslog_message parsed(std::string_view line) {
  syslog_message m;
  EXPECT_EQ(parse_syslog(line, m), nullptr) << line;
  return m;
}

TEST(Template, RendersSyslogFieldsByName) {
  static const std::string line =
      "<187>1 2024-05-01T12:00:00.5Z web-1 nginx 9 ACCESS [origin ip=\"192.0.2.7\"]"
      "[meta@1.2.3 sequence=\"4\"] GET / 200";
  const syslog_message m = parsed(line);
  EXPECT_EQ(render("logs.{{appname}}.{{severity}}", m), "logs.nginx.err");
  EXPECT_EQ(render("{{ facility }}/{{facility_code}}/{{severity_code}}", m), "local7/23/3");
  EXPECT_EQ(render("{{hostname}} {{procid}} {{msgid}}: {{msg}}", m), "web-1 9 ACCESS: GET / 200");
  EXPECT_EQ(render("{{timestamp}}", m), "2024-05-01T12:00:00.5Z");
  EXPECT_EQ(render("{{sd.origin.ip}} #{{sd.meta@1.2.3.sequence}}", m), "192.0.2.7 #4");
  EXPECT_EQ(render("[{{sd.origin.port}}]", m), "[]");  // absent: nothing
  EXPECT_EQ(render("no variables", m), "no variables");
  EXPECT_EQ(render("", m), "");
}

TEST(Template, ErrorsNameTheColumn) {
  EXPECT_EQ(compile_error("logs.{{appnme}}"), "column 6: unknown variable \"appnme\"");
  EXPECT_EQ(compile_error("a {{hostname"), "column 3: \"{{\" without \"}}\"");
  EXPECT_EQ(compile_error("{{}}"),
            "column 1: expected a variable name (letters, digits, _ . - @) inside {{ }}, got "
            "\"{{}}\"");
  EXPECT_EQ(compile_error("x{{host name}}"),
            "column 2: expected a variable name (letters, digits, _ . - @) inside {{ }}, got "
            "\"{{host name}}\"");
  EXPECT_EQ(compile_error("{{sd.origin}}"), "column 1: unknown variable \"sd.origin\"");
}

TEST(Template, ARuleAddsItsOwnVariables) {
  auto known = [](std::string_view n) { return n == "user" || is_syslog_variable(n); };
  auto t = template_text::compile("auth.{{user}}@{{hostname}}", known);
  ASSERT_TRUE(t);
  EXPECT_FALSE(t->literal());
  EXPECT_EQ(t->variables(), (std::vector<std::string_view>{"user", "hostname"}));
  std::string out;
  t->render(out, [](std::string_view n, std::string& o) {
    o += n == "user" ? "alice" : "h1";
    return true;
  });
  EXPECT_EQ(out, "auth.alice@h1");
  EXPECT_TRUE(template_text::compile("syslog", known)->literal());
  EXPECT_EQ(severity_name(7), "debug");
  EXPECT_EQ(severity_name(8), "");
  EXPECT_EQ(facility_name(4), "auth");
}

}  // namespace
}  // namespace logship
