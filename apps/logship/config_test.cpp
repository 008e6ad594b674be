#include "config.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace logship {
namespace {

std::string error_of(std::string_view toml) {
  config c;
  auto r = apply_toml(c, toml, "logship.toml");
  return r ? "(ok)" : r.error().message();
}

parse_outcome parse(std::vector<const char*> args) {
  args.insert(args.begin(), "logship");
  return parse_command_line(static_cast<int>(args.size()), args.data());
}

TEST(Config, ReadsEverySection) {
  config c;
  auto r = apply_toml(c, R"(
default_topic = "logs"
quarantine_topic = "bad-lines"
payload = "json"
key = "{{hostname}}"
memory_budget = "1MiB"
max_message = 8192
idle_timeout = "30s"
drain_timeout = 2500
admin = "off"
[headers]
app = "{{appname}}"
[[inputs]]
type = "tcp"
address = "127.0.0.1:5140"
framing = "octet_counting"
[[inputs]]
type = "unix"
path = "/tmp/logship.sock"
[kafka]
brokers = "127.0.0.1:9092"
compression = "zstd"
linger_ms = 20
[kafka.properties]
"socket.keepalive.enable" = "true"
[[rules]]
name = "r"
regex = "x"
actions = [ { drop = true } ]
)",
                      "logship.toml");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(c.compiled->default_topic(), "logs");
  EXPECT_EQ(c.compiled->size(), 1u);
  EXPECT_EQ(c.pipe.quarantine_topic, "bad-lines");
  EXPECT_EQ(c.pipe.payload, payload_mode::json);
  EXPECT_EQ(c.pipe.key, "{{hostname}}");
  EXPECT_EQ(c.pipe.memory_budget, 1u << 20);
  EXPECT_EQ(c.limits.max_message, 8192u);
  EXPECT_EQ(c.limits.idle_timeout, std::chrono::seconds(30));
  EXPECT_EQ(c.drain_timeout, std::chrono::milliseconds(2500));
  EXPECT_EQ(c.admin, "off");
  ASSERT_EQ(c.pipe.headers.size(), 1u);
  ASSERT_EQ(c.inputs.size(), 2u);
  EXPECT_EQ(c.inputs[0].framing, framing::octet_counting);
  EXPECT_EQ(c.inputs[1].kind, input_spec::kind_t::unix_datagram);
  EXPECT_EQ(c.inputs[1].address, "/tmp/logship.sock");
  EXPECT_EQ(c.kafka.brokers, "127.0.0.1:9092");
  EXPECT_EQ(c.kafka.compression, "zstd");
  EXPECT_EQ(c.kafka.linger_ms, 20);
  ASSERT_EQ(c.kafka.properties.size(), 1u);
  EXPECT_EQ(c.kafka.properties[0].first, "socket.keepalive.enable");
}

TEST(Config, EveryMistakeNamesItsPlace) {
  EXPECT_EQ(error_of("payload = \"xml\"\n"),
            "logship.toml:1:11: payload: expected raw, msg or json: invalid input");
  EXPECT_EQ(error_of("\n\nmax_mesage = 5\n").substr(0, 36),
            "logship.toml:3:14: unknown key \"max_");
  EXPECT_EQ(
      error_of("[[inputs]]\ntype = \"tcp\"\naddress = \"a:1\"\nframing = \"lines\"\n"),
      "logship.toml:4:11: framing: expected detect, octet_counting or newline: invalid input");
  EXPECT_EQ(error_of("[[inputs]]\ntype = \"tls\"\naddress = \"a:1\"\n").substr(0, 60),
            "logship.toml:1:1: a tls input needs cert = \"FILE\" and key = ");
  EXPECT_EQ(error_of("memory_budget = \"lots\"\n").substr(0, 50),
            "logship.toml:1:17: memory_budget: expected a size ");
  EXPECT_EQ(error_of("[kafka]\nbroker = \"x\"\n").substr(0, 38),
            "logship.toml:2:10: unknown key \"broker");
  EXPECT_EQ(error_of("x = = 1\n").substr(0, 32), "logship.toml:1:5: syntax error: ");
  // The rules' own errors keep their place too.
  EXPECT_EQ(error_of("[[rules]]\nregex = \"(\"\nactions = [ { drop = true } ]\n").substr(0, 28),
            "logship.toml:1:1: rule 1: re");
}

TEST(Config, FlagsForTheSimplestForwarder) {
  auto out = parse({"--tcp", "127.0.0.1:5140", "--udp", "127.0.0.1:5141", "--brokers",
                    "127.0.0.1:9092", "--topic", "syslog2", "--memory-budget", "8MiB",
                    "--kafka-property", "client.id=me", "--framing", "newline"});
  ASSERT_TRUE(out.cfg) << out.message;
  const config& c = *out.cfg;
  ASSERT_EQ(c.inputs.size(), 2u);
  EXPECT_EQ(c.inputs[0].framing, framing::newline);
  EXPECT_EQ(c.inputs[1].kind, input_spec::kind_t::udp);
  EXPECT_EQ(c.compiled->default_topic(), "syslog2");
  EXPECT_EQ(c.pipe.memory_budget, 8u << 20);
  ASSERT_EQ(c.kafka.properties.size(), 1u);
  EXPECT_EQ(c.kafka.properties[0].second, "me");
}

TEST(Config, FlagErrorsExitTwo) {
  EXPECT_EQ(parse({"--tcp", "127.0.0.1:1"}).message,
            "no Kafka: give --brokers HOST:PORT, [kafka] brokers, or --embedded-kafka\n");
  EXPECT_EQ(parse({"--embedded-kafka"}).exit_code, 2);
  EXPECT_EQ(parse({"--tls", "127.0.0.1:1", "--embedded-kafka"}).message,
            "--tls: needs --cert FILE and --key FILE\n");
  EXPECT_EQ(parse({"--tcp", "a:1", "--embedded-kafka", "--topic", "a b"}).exit_code, 2);
  EXPECT_EQ(parse({"--expect", "x"}).message, "--expect needs --test FILE\n");
  EXPECT_EQ(parse({"--config", "/nonexistent/logship.toml"}).exit_code, 2);
}

}  // namespace
}  // namespace logship
