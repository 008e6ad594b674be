// Tests for taskd's configuration: flags, the TOML file, their precedence and every error text.
#include "config.hpp"

#include <weir/testing/temp_dir.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <vector>

namespace taskd {
namespace {

using namespace std::chrono_literals;

parse_outcome parse(std::initializer_list<std::string> args) {
  std::vector<const char*> argv{"taskd"};
  for (const auto& a : args) argv.push_back(a.c_str());
  return parse_command_line(static_cast<int>(argv.size()), argv.data());
}

// Parses flags that must succeed.
config parse_ok(std::initializer_list<std::string> args) {
  auto out = parse(args);
  EXPECT_TRUE(out.cfg.has_value()) << out.message;
  EXPECT_EQ(out.exit_code, 0);
  EXPECT_EQ(out.message, "");
  return out.cfg.value_or(config{});
}

// The error of flags that must fail.
std::string parse_error(std::initializer_list<std::string> args) {
  auto out = parse(args);
  EXPECT_FALSE(out.cfg.has_value());
  EXPECT_EQ(out.exit_code, 2);
  return out.message;
}

// The error line, or "" when the text is accepted.
std::string toml_error(std::string_view text) {
  config c;
  auto r = apply_toml(c, text, "taskd.toml");
  if (r) return {};
  EXPECT_EQ(r.error(), weir::errc::invalid_input);
  return std::string(r.error().context());
}

std::string error_of(const weir::result<void>& r) {
  return r ? std::string() : std::string(r.error().context());
}

std::chrono::milliseconds duration(std::string_view s) {
  auto d = parse_duration(s);
  EXPECT_TRUE(d) << s;
  return d.value_or(std::chrono::milliseconds(-1));
}

std::size_t size(std::string_view s) {
  auto n = parse_size(s);
  EXPECT_TRUE(n) << s;
  return n.value_or(0);
}

class config_file_test : public ::testing::Test {
 protected:
  std::string write(const std::string& name, std::string_view text) {
    const auto path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }

  weir::testing::temp_dir tmp_{"taskd-config"};
  std::filesystem::path dir_{tmp_.path()};
};

// ---- defaults and flags ----

TEST(config, defaults) {
  const config c = parse_ok({});
  EXPECT_EQ(c, config{});
  EXPECT_EQ(c.listen, "127.0.0.1:2379");
  EXPECT_EQ(c.admin, "127.0.0.1:9901");
  EXPECT_EQ(c.shards, 0u);
  EXPECT_EQ(c.data_dir, "taskd-data");
  EXPECT_EQ(c.request_timeout, 5s);
  EXPECT_EQ(c.queue_wait, 1s);
  EXPECT_EQ(c.drain_timeout, 5s);
  EXPECT_EQ(c.queue_capacity, 1024u);
  EXPECT_EQ(c.max_batch, 1024u);
  EXPECT_EQ(c.max_key_bytes, 1024u);
  EXPECT_EQ(c.max_value_bytes, 1u << 20);
  EXPECT_EQ(c.max_body_bytes, 1u << 20);
  EXPECT_EQ(c.reactor, "auto");
  EXPECT_EQ(c.log_level, "info");
  EXPECT_FALSE(c.access_log);
  EXPECT_EQ(c.test_apply_delay, 0ms);
  EXPECT_EQ(c.config_file, "");
}

TEST(config, every_flag) {
  const config c = parse_ok({"--listen",
                             "0.0.0.0:8080",
                             "--admin",
                             "[::1]:9000",
                             "--shards",
                             "8",
                             "--data-dir",
                             "/var/lib/taskd",
                             "--request-timeout",
                             "2s",
                             "--queue-wait",
                             "250ms",
                             "--drain-timeout",
                             "1m",
                             "--queue-capacity",
                             "4096",
                             "--max-batch",
                             "1",
                             "--max-key-bytes",
                             "512",
                             "--max-value-bytes",
                             "64KiB",
                             "--max-body-bytes",
                             "2MiB",
                             "--reactor",
                             "epoll",
                             "--log-level",
                             "debug",
                             "--access-log",
                             "--test-apply-delay",
                             "100us"});
  EXPECT_EQ(c.listen, "0.0.0.0:8080");
  EXPECT_EQ(c.admin, "[::1]:9000");
  EXPECT_EQ(c.shards, 8u);
  EXPECT_EQ(c.data_dir, "/var/lib/taskd");
  EXPECT_EQ(c.request_timeout, 2s);
  EXPECT_EQ(c.queue_wait, 250ms);
  EXPECT_EQ(c.drain_timeout, 60s);
  EXPECT_EQ(c.queue_capacity, 4096u);
  EXPECT_EQ(c.max_batch, 1u);
  EXPECT_EQ(c.max_key_bytes, 512u);
  EXPECT_EQ(c.max_value_bytes, 65536u);
  EXPECT_EQ(c.max_body_bytes, 2u << 20);
  EXPECT_EQ(c.reactor, "epoll");
  EXPECT_EQ(c.log_level, "debug");
  EXPECT_TRUE(c.access_log);
  EXPECT_EQ(c.test_apply_delay, 1ms);
  EXPECT_EQ(c.config_file, "");
}

TEST(config, flags_with_equals_and_last_wins) {
  const config c = parse_ok({"--shards=3", "--listen=localhost:0", "--shards", "5"});
  EXPECT_EQ(c.shards, 5u);
  EXPECT_EQ(c.listen, "localhost:0");
}

TEST(config, admin_token_file) {
  EXPECT_EQ(parse_ok({}).admin_token_file, "");
  EXPECT_EQ(parse_ok({"--admin-token-file", "/etc/taskd/admin.token"}).admin_token_file,
            "/etc/taskd/admin.token");
  EXPECT_EQ(parse_ok({"--admin-token-file", ""}).admin_token_file, "");
}

TEST(config, admin_off) {
  EXPECT_EQ(parse_ok({"--admin", "off"}).admin, "off");
  EXPECT_EQ(parse_ok({"--admin", ""}).admin, "off");
  EXPECT_EQ(parse_ok({"--admin=off"}).admin, "off");
}

TEST(config, access_log_flag_forms) {
  EXPECT_TRUE(parse_ok({"--access-log"}).access_log);
  EXPECT_FALSE(parse_ok({"--no-access-log"}).access_log);
  EXPECT_FALSE(parse_ok({"--access-log", "--no-access-log"}).access_log);
  EXPECT_TRUE(parse_ok({"--no-access-log", "--access-log"}).access_log);
}

TEST(config, every_choice) {
  for (const char* r : {"auto", "uring", "epoll"}) EXPECT_EQ(parse_ok({"--reactor", r}).reactor, r);
  for (const char* l : {"debug", "info", "warn", "error"}) {
    EXPECT_EQ(parse_ok({"--log-level", l}).log_level, l);
  }
}

TEST(config, help) {
  auto out = parse({"--help"});
  EXPECT_FALSE(out.cfg);
  EXPECT_EQ(out.exit_code, 0);
  for (const char* flag :
       {"--config",          "--listen",           "--admin",           "--admin-token-file",
        "--shards",          "--data-dir",         "--request-timeout", "--queue-wait",
        "--drain-timeout",   "--queue-capacity",   "--max-batch",       "--max-key-bytes",
        "--max-value-bytes", "--max-body-bytes",   "--reactor",         "--log-level",
        "--access-log",      "--test-apply-delay", "--print-config",    "--version"}) {
    EXPECT_NE(out.message.find(flag), std::string::npos) << flag;
  }
  EXPECT_NE(out.message.find("TESTING ONLY"), std::string::npos);
  EXPECT_EQ(out.message.back(), '\n');
  EXPECT_EQ(parse({"-h"}).message, out.message);
}

TEST(config, version) {
  auto out = parse({"--version"});
  EXPECT_FALSE(out.cfg);
  EXPECT_EQ(out.exit_code, 0);
  EXPECT_EQ(out.message, "taskd 0.1.0\n");
  // --version is answered before any value is checked
  EXPECT_EQ(parse({"--shards", "999", "--version"}).message, "taskd 0.1.0\n");
}

TEST(config, print_config) {
  auto out = parse({"--shards", "7", "--queue-wait", "1.5s", "--print-config"});
  EXPECT_FALSE(out.cfg);
  EXPECT_EQ(out.exit_code, 0);
  config want;
  want.shards = 7;
  want.queue_wait = 1500ms;
  EXPECT_EQ(out.message, to_toml(want));
  EXPECT_NE(out.message.find("\nshards = 7\n"), std::string::npos);
  EXPECT_NE(out.message.find("\nqueue_wait = \"1500ms\"\n"), std::string::npos);
  // the effective config is checked first
  EXPECT_EQ(parse_error({"--shards", "999", "--print-config"}),
            "--shards: expected an integer in [0, 256], got \"999\"\n");
}

TEST(config, to_toml_default_text) {
  EXPECT_EQ(to_toml(config{}),
            "# taskd: effective configuration (defaults < --config file < flags)\n"
            "listen = \"127.0.0.1:2379\"\n"
            "admin = \"127.0.0.1:9901\"\n"
            "admin_token_file = \"\"\n"
            "shards = 0\n"
            "store = \"lmdb\"\n"
            "data_dir = \"taskd-data\"\n"
            "lmdb_map_size = \"1024MiB\"\n"
            "etcd_endpoints = \"\"\n"
            "etcd_prefix = \"/taskd/\"\n"
            "etcd_cacert = \"\"\n"
            "etcd_cert = \"\"\n"
            "etcd_key = \"\"\n"
            "etcd_timeout = \"1s\"\n"
            "etcd_retry = \"2s\"\n"
            "etcd_max_txn_ops = 128\n"
            "tls_cert = \"\"\n"
            "tls_key = \"\"\n"
            "client_ca = \"\"\n"
            "admin_tls = false\n"
            "request_timeout = \"5s\"\n"
            "queue_wait = \"1s\"\n"
            "drain_timeout = \"5s\"\n"
            "queue_capacity = 1024\n"
            "max_batch = 1024\n"
            "max_key_bytes = \"1KiB\"\n"
            "max_value_bytes = \"1MiB\"\n"
            "max_body_bytes = \"1MiB\"\n"
            "reactor = \"auto\"\n"
            "log_level = \"info\"\n"
            "access_log = false\n"
            "test_apply_delay = \"0s\"\n");
}

// ---- flag errors ----

TEST(config, flag_range_errors) {
  EXPECT_EQ(parse_error({"--queue-capacity", "0"}),
            "--queue-capacity: expected an integer in [1, 1048576], got \"0\"\n");
  EXPECT_EQ(parse_error({"--queue-capacity", "1048577"}),
            "--queue-capacity: expected an integer in [1, 1048576], got \"1048577\"\n");
  EXPECT_EQ(parse_error({"--shards", "257"}),
            "--shards: expected an integer in [0, 256], got \"257\"\n");
  EXPECT_EQ(parse_error({"--shards", "-1"}),
            "--shards: expected an integer in [0, 256], got \"-1\"\n");
  EXPECT_EQ(parse_error({"--shards", "four"}),
            "--shards: expected an integer in [0, 256], got \"four\"\n");
  EXPECT_EQ(parse_error({"--max-batch", "0"}),
            "--max-batch: expected an integer in [1, 1048576], got \"0\"\n");
  EXPECT_EQ(parse_error({"--max-key-bytes", "65KiB"}),
            "--max-key-bytes: expected a size in bytes in [1, 64KiB] such as 4096 or \"64KiB\", "
            "got \"65KiB\"\n");
  EXPECT_EQ(parse_error({"--max-value-bytes", "65MiB"}),
            "--max-value-bytes: expected a size in bytes in [1, 64MiB] such as 4096 or "
            "\"64KiB\", got \"65MiB\"\n");
  EXPECT_EQ(parse_error({"--max-body-bytes", "1MB"}),
            "--max-body-bytes: expected a size in bytes in [1, 64MiB] such as 4096 or "
            "\"64KiB\", got \"1MB\"\n");
  EXPECT_EQ(parse_error({"--request-timeout", "fast"}),
            "--request-timeout: expected a duration such as \"5s\" or \"250ms\", got \"fast\"\n");
  EXPECT_EQ(parse_error({"--request-timeout", "0s"}),
            "--request-timeout: expected a duration in [1ms, 1h], got \"0s\"\n");
  EXPECT_EQ(parse_error({"--drain-timeout", "61m"}),
            "--drain-timeout: expected a duration in [0s, 1h], got \"61m\"\n");
  EXPECT_EQ(parse_error({"--test-apply-delay", "2m"}),
            "--test-apply-delay: expected a duration in [0s, 1m], got \"2m\"\n");
  EXPECT_EQ(parse_error({"--reactor", "kqueue"}),
            "--reactor: expected one of auto, uring, epoll, got \"kqueue\"\n");
  EXPECT_EQ(parse_error({"--log-level", "INFO"}),
            "--log-level: expected one of debug, info, warn, error, got \"INFO\"\n");
  EXPECT_EQ(parse_error({"--data-dir", ""}), "--data-dir: expected a non-empty string, got \"\"\n");
  EXPECT_EQ(parse_error({"--listen", "example.com:80"}),
            "--listen: expected host:port (an IPv4 address, [IPv6] or localhost; port 0-65535), "
            "got \"example.com:80\"\n");
  EXPECT_EQ(parse_error({"--admin", "::1:80"}),
            "--admin: expected host:port (an IPv4 address, [IPv6] or localhost; port 0-65535) or "
            "\"off\", got \"::1:80\"\n");
}

TEST(config, cli11_errors) {
  EXPECT_EQ(parse_error({"--frobnicate"}),
            "The following argument was not expected: --frobnicate\n"
            "Run with --help for more information.\n");
  EXPECT_EQ(parse_error({"stray"}),
            "The following argument was not expected: stray\n"
            "Run with --help for more information.\n");
  const std::string missing = parse_error({"--listen"});
  EXPECT_TRUE(missing.starts_with("--listen: ")) << missing;
}

TEST(config, addresses) {
  for (const char* good :
       {"127.0.0.1:2379", "0.0.0.0:0", "255.255.255.255:65535", "localhost:80", "[::1]:2379",
        "[::]:0", "[fe80::1:2:3:4]:1", "[1:2:3:4:5:6:7:8]:9", "[::ffff:10.0.0.1]:80", "[1::]:1",
        "[2001:db8::8:800:200c:417a]:443", "10.0.0.1:02379"}) {
    EXPECT_EQ(parse_ok({"--listen", good}).listen, good);
  }
  for (const char* bad : {"",
                          "127.0.0.1",
                          "127.0.0.1:",
                          ":2379",
                          "127.0.0.1:65536",
                          "127.0.0.1:-1",
                          "127.0.0.1:100000",
                          "256.0.0.1:1",
                          "1.2.3:1",
                          "1.2.3.4.5:1",
                          "01.2.3.4:1",
                          "1..2.3:1",
                          "::1:2379",
                          "[::1]",
                          "[::1]2379",
                          "[::1:2379",
                          "[1:2:3:4:5:6:7:8:9]:1",
                          "[1:2:3]:1",
                          "[1::2::3]:1",
                          "[:1]:1",
                          "[1:]:1",
                          "[12345::]:1",
                          "[::1%eth0]:1",
                          "[fe80::g]:1",
                          "[1.2.3.4]:1",
                          "host:80",
                          "localhost:http",
                          "off",
                          " 1.2.3.4:1"}) {
    EXPECT_EQ(parse(std::initializer_list<std::string>{"--listen", bad}).exit_code, 2) << bad;
  }
}

// ---- durations and sizes ----

TEST(config, durations) {
  EXPECT_EQ(duration("5s"), 5s);
  EXPECT_EQ(duration("250ms"), 250ms);
  EXPECT_EQ(duration("1.5s"), 1500ms);
  EXPECT_EQ(duration("2m"), 120s);
  EXPECT_EQ(duration("1h"), 3600s);
  EXPECT_EQ(duration("0.25h"), 900s);
  EXPECT_EQ(duration("100us"), 1ms);  // rounded up: never shorter than asked
  EXPECT_EQ(duration("1\xC2\xB5s"), 1ms);
  EXPECT_EQ(duration("1ns"), 1ms);
  EXPECT_EQ(duration("1000us"), 1ms);
  EXPECT_EQ(duration("1001us"), 2ms);
  EXPECT_EQ(duration("1.5ms"), 2ms);
  EXPECT_EQ(duration("0.001s"), 1ms);
  EXPECT_EQ(duration("1.0000000001s"), 1001ms);  // below a nanosecond still rounds up
  EXPECT_EQ(duration("1.000000000s"), 1000ms);
  EXPECT_EQ(duration("1m30s"), 90s);
  EXPECT_EQ(duration("1h2m3s4ms"), 3723004ms);
  EXPECT_EQ(duration("0"), 0ms);
  EXPECT_EQ(duration("0s"), 0ms);
  EXPECT_EQ(duration("0.0ms"), 0ms);
  EXPECT_EQ(duration("007s"), 7s);
  for (const char* bad :
       {"", "5", "fast", "s", "5 s", " 5s", "5s ", "-5s", "+5s", ".5s", "5.s", "5sec", "5S",
        "1.5.5s", "5d", "1e3ms", "99999999999999999999ns", "18446744073709551615h", "6000000h"}) {
    EXPECT_FALSE(parse_duration(bad)) << bad;
  }
}

TEST(config, sizes) {
  EXPECT_EQ(size("0"), 0u);
  EXPECT_EQ(size("4096"), 4096u);
  EXPECT_EQ(size("64KiB"), 65536u);
  EXPECT_EQ(size("1MiB"), 1u << 20);
  EXPECT_EQ(size("64MiB"), 64u << 20);
  EXPECT_EQ(size("1GiB"), 1u << 30);
  for (const char* bad : {"", "KiB", "64kib", "64KB", "64K", "64 KiB", "-1", "1.5MiB", "0x10",
                          "99999999999999999999", "17179869184GiB"}) {
    EXPECT_FALSE(parse_size(bad)) << bad;
  }
}

// ---- the TOML file ----

TEST(config, toml_values) {
  config c;
  const std::string err = error_of(apply_toml(c, R"(# taskd.toml
listen = "[::]:2379"
admin = "off"
shards = 4
data_dir = "/srv/taskd"
request_timeout = "10s"
queue_wait = 50                # integer milliseconds
drain_timeout = "1.5s"
queue_capacity = 100
max_batch = 16
max_key_bytes = 256
max_value_bytes = "64KiB"
max_body_bytes = 4096
reactor = "uring"
log_level = "warn"
access_log = true
test_apply_delay = "20ms"
)",
                                              "taskd.toml"));
  ASSERT_EQ(err, "");
  EXPECT_EQ(c.listen, "[::]:2379");
  EXPECT_EQ(c.admin, "off");
  EXPECT_EQ(c.shards, 4u);
  EXPECT_EQ(c.data_dir, "/srv/taskd");
  EXPECT_EQ(c.request_timeout, 10s);
  EXPECT_EQ(c.queue_wait, 50ms);
  EXPECT_EQ(c.drain_timeout, 1500ms);
  EXPECT_EQ(c.queue_capacity, 100u);
  EXPECT_EQ(c.max_batch, 16u);
  EXPECT_EQ(c.max_key_bytes, 256u);
  EXPECT_EQ(c.max_value_bytes, 65536u);
  EXPECT_EQ(c.max_body_bytes, 4096u);
  EXPECT_EQ(c.reactor, "uring");
  EXPECT_EQ(c.log_level, "warn");
  EXPECT_TRUE(c.access_log);
  EXPECT_EQ(c.test_apply_delay, 20ms);
}

TEST(config, toml_empty_and_partial) {
  config c;
  EXPECT_EQ(error_of(apply_toml(c, "", "taskd.toml")), "");
  EXPECT_EQ(c, config{});
  EXPECT_EQ(error_of(apply_toml(c, "shards = 2\n", "taskd.toml")), "");
  config want;
  want.shards = 2;
  EXPECT_EQ(c, want);
  // a second file applies on top of the first
  EXPECT_EQ(error_of(apply_toml(c, "max_batch = 8\n", "more.toml")), "");
  want.max_batch = 8;
  EXPECT_EQ(c, want);
}

TEST(config, toml_errors_name_file_line_column) {
  EXPECT_EQ(toml_error("listen = \"127.0.0.1:2379\"\n\nrequest_timeout = \"fast\"\n"),
            "taskd.toml:3:19: request_timeout: expected a duration such as \"5s\" or \"250ms\", "
            "got \"fast\"");
  EXPECT_EQ(toml_error("listen = \"127.0.0.1:2379\"\n\n\n\n\n\nlistne = \"0.0.0.0:1\"\n"),
            "taskd.toml:7:1: unknown key \"listne\" (known: listen, admin, admin_token_file, "
            "shards, store, data_dir, lmdb_map_size, etcd_endpoints, etcd_prefix, etcd_cacert, "
            "etcd_cert, etcd_key, etcd_timeout, etcd_retry, etcd_max_txn_ops, tls_cert, tls_key, "
            "client_ca, "
            "admin_tls, "
            "request_timeout, queue_wait, drain_timeout, queue_capacity, max_batch, "
            "max_key_bytes, max_value_bytes, max_body_bytes, reactor, log_level, access_log, "
            "test_apply_delay)");
  const std::string syntax = toml_error("shards = 1\nshards = 2\n");
  EXPECT_TRUE(syntax.starts_with("taskd.toml:2:10: syntax error: ")) << syntax;
  EXPECT_GT(syntax.size(), std::string_view("taskd.toml:2:10: syntax error: ").size());
  EXPECT_EQ(syntax.find('\n'), std::string::npos);
  EXPECT_TRUE(toml_error("listen = \n").starts_with("taskd.toml:1:10: syntax error: "));
  EXPECT_TRUE(toml_error("x = \"unterminated\n").starts_with("taskd.toml:1:")) << "syntax";
}

TEST(config, toml_value_errors) {
  EXPECT_EQ(toml_error("queue_capacity = 0"),
            "taskd.toml:1:18: queue_capacity: expected an integer in [1, 1048576], got 0");
  EXPECT_EQ(toml_error("shards = -1"),
            "taskd.toml:1:10: shards: expected an integer in [0, 256], got -1");
  EXPECT_EQ(toml_error("  shards = \"4\""),
            "taskd.toml:1:12: shards: expected an integer in [0, 256], got \"4\"");
  EXPECT_EQ(toml_error("shards = 2.0"),
            "taskd.toml:1:10: shards: expected an integer in [0, 256], got 2.0");
  EXPECT_EQ(toml_error("max_key_bytes = \"65KiB\""),
            "taskd.toml:1:17: max_key_bytes: expected a size in bytes in [1, 64KiB] such as 4096 "
            "or \"64KiB\", got \"65KiB\"");
  EXPECT_EQ(toml_error("max_value_bytes = 67108865"),
            "taskd.toml:1:19: max_value_bytes: expected a size in bytes in [1, 64MiB] such as "
            "4096 or \"64KiB\", got 67108865");
  EXPECT_EQ(toml_error("request_timeout = 0"),
            "taskd.toml:1:19: request_timeout: expected a duration in [1ms, 1h] such as \"5s\", "
            "\"250ms\" or an integer number of milliseconds, got 0");
  EXPECT_EQ(toml_error("request_timeout = \"2h\""),
            "taskd.toml:1:19: request_timeout: expected a duration in [1ms, 1h], got \"2h\"");
  EXPECT_EQ(toml_error("queue_wait = 1.5"),
            "taskd.toml:1:14: queue_wait: expected a duration in [0s, 1h] such as \"5s\", "
            "\"250ms\" or an integer number of milliseconds, got 1.5");
  EXPECT_EQ(toml_error("access_log = \"yes\""),
            "taskd.toml:1:14: access_log: expected true or false, got \"yes\"");
  EXPECT_EQ(toml_error("access_log = 1"),
            "taskd.toml:1:14: access_log: expected true or false, got 1");
  EXPECT_EQ(toml_error("listen = 2379"),
            "taskd.toml:1:10: listen: expected host:port (an IPv4 address, [IPv6] or localhost; "
            "port 0-65535), got 2379");
  EXPECT_EQ(toml_error("listen = [\"a\"]"),
            "taskd.toml:1:10: listen: expected host:port (an IPv4 address, [IPv6] or localhost; "
            "port 0-65535), got an array");
  EXPECT_EQ(toml_error("listen = { host = \"a\" }"),
            "taskd.toml:1:10: listen: expected host:port (an IPv4 address, [IPv6] or localhost; "
            "port 0-65535), got a table");
  EXPECT_EQ(toml_error("data_dir = \"\""),
            "taskd.toml:1:12: data_dir: expected a non-empty string, got \"\"");
  EXPECT_EQ(toml_error("data_dir = true"),
            "taskd.toml:1:12: data_dir: expected a non-empty string, got true");
  EXPECT_EQ(toml_error("reactor = \"io_uring\""),
            "taskd.toml:1:11: reactor: expected one of auto, uring, epoll, got \"io_uring\"");
}

TEST(config, toml_errors_quote_what_they_got) {
  // a multi-line string stays on one line in the error
  EXPECT_EQ(toml_error("log_level = \"\"\"\nwarn\ning\"\"\""),
            "taskd.toml:1:13: log_level: expected one of debug, info, warn, error, got "
            "\"warn\\ning\"");
  EXPECT_EQ(toml_error("log_level = 'a\"b\\c'"),
            "taskd.toml:1:13: log_level: expected one of debug, info, warn, error, got "
            "\"a\\\"b\\\\c\"");
}

TEST(config, toml_tables_are_errors) {
  const std::string known =
      " (known: listen, admin, admin_token_file, shards, store, data_dir, lmdb_map_size, "
      "etcd_endpoints, etcd_prefix, etcd_cacert, etcd_cert, etcd_key, etcd_timeout, etcd_retry, "
      "etcd_max_txn_ops, tls_cert, tls_key, client_ca, admin_tls, request_timeout, queue_wait, "
      "drain_timeout, "
      "queue_capacity, max_batch, max_key_bytes, max_value_bytes, max_body_bytes, reactor, "
      "log_level, access_log, test_apply_delay)";
  EXPECT_EQ(toml_error("shards = 1\n[server]\nlisten = \"127.0.0.1:1\"\n"),
            "taskd.toml:2:2: unexpected table \"server\": settings are top-level keys" + known);
  EXPECT_EQ(toml_error("server.listen = \"127.0.0.1:1\"\n"),
            "taskd.toml:1:1: unexpected table \"server\": settings are top-level keys" + known);
  EXPECT_EQ(toml_error("limits = { shards = 1 }\n"),
            "taskd.toml:1:1: unexpected table \"limits\": settings are top-level keys" + known);
  EXPECT_EQ(toml_error("[[servers]]\nlisten = \"127.0.0.1:1\"\n"),
            "taskd.toml:1:3: unknown key \"servers\"" + known);
  // a table named like a setting is a wrong type for it
  EXPECT_EQ(toml_error("[listen]\nhost = \"a\"\n"),
            "taskd.toml:1:1: listen: expected host:port (an IPv4 address, [IPv6] or localhost; "
            "port 0-65535), got a table");
}

TEST(config, toml_reports_the_first_error_in_the_file) {
  // toml++ iterates keys in sorted order; the error must still be the first in the file
  EXPECT_EQ(toml_error("zzz = 1\naaa = 2\n").substr(0, 30), "taskd.toml:1:1: unknown key \"z");
  EXPECT_EQ(toml_error("shards = 999\nadmin = \"x\"\n").substr(0, 25), "taskd.toml:1:10: shards: ");
}

TEST(config, toml_error_leaves_config_unchanged) {
  config c;
  c.shards = 3;
  const config before = c;
  EXPECT_NE(error_of(apply_toml(c, "shards = 5\nmax_batch = 0\n", "taskd.toml")), "");
  EXPECT_EQ(c, before);
  EXPECT_NE(error_of(apply_toml(c, "shards = 5\n[x", "taskd.toml")), "");
  EXPECT_EQ(c, before);
}

TEST_F(config_file_test, file_values) {
  const auto path = write("taskd.toml",
                          "listen = \"localhost:3000\"\nshards = 2\naccess_log = true\n"
                          "max_body_bytes = \"2MiB\"\nrequest_timeout = 1500\n");
  const config c = parse_ok({"--config", path});
  config want;
  want.listen = "localhost:3000";
  want.shards = 2;
  want.access_log = true;
  want.max_body_bytes = 2u << 20;
  want.request_timeout = 1500ms;
  want.config_file = path;
  EXPECT_EQ(c, want);
}

TEST_F(config_file_test, flags_win_over_the_file) {
  const auto path = write("taskd.toml",
                          "listen = \"localhost:3000\"\nshards = 2\naccess_log = true\n"
                          "queue_wait = \"2s\"\nlog_level = \"error\"\n");
  for (const auto& c : {parse_ok({"--config", path, "--shards", "6", "--no-access-log"}),
                        parse_ok({"--shards", "6", "--no-access-log", "--config", path})}) {
    EXPECT_EQ(c.shards, 6u);                // flag over file
    EXPECT_FALSE(c.access_log);             // flag over file
    EXPECT_EQ(c.listen, "localhost:3000");  // file over default
    EXPECT_EQ(c.queue_wait, 2s);            // file over default
    EXPECT_EQ(c.log_level, "error");        // file over default
    EXPECT_EQ(c.drain_timeout, 5s);         // default
    EXPECT_EQ(c.config_file, path);
  }
  // a flag equal to the default still wins over the file
  EXPECT_EQ(parse_ok({"--config", path, "--shards", "0"}).shards, 0u);
  EXPECT_EQ(parse_ok({"--config", path, "--log-level", "info"}).log_level, "info");
}

TEST_F(config_file_test, file_errors) {
  const auto missing = (dir_ / "nope.toml").string();
  EXPECT_EQ(parse_error({"--config", missing}), missing + ": no such file\n");
  EXPECT_EQ(parse_error({"--config", dir_.string()}),
            dir_.string() + ": is a directory, not a file\n");
  const auto bad = write("bad.toml", "shards = 1\n\nrequest_timeout = \"fast\"\n");
  EXPECT_EQ(parse_error({"--config", bad}),
            bad +
                ":3:19: request_timeout: expected a duration such as \"5s\" or \"250ms\", got "
                "\"fast\"\n");
  const auto syntax = write("syntax.toml", "shards = 1\nshards = 2\n");
  EXPECT_TRUE(parse_error({"--config", syntax}).starts_with(syntax + ":2:10: syntax error: "));
  // a flag does not excuse a bad value in the file
  EXPECT_EQ(parse(std::initializer_list<std::string>{"--config", bad, "--request-timeout", "1s"})
                .exit_code,
            2);
}

TEST_F(config_file_test, print_config_reads_back) {
  const auto path = write("taskd.toml", "shards = 3\ndata_dir = \"d\"\n");
  auto out = parse({"--config", path, "--max-batch", "7", "--print-config"});
  ASSERT_EQ(out.exit_code, 0) << out.message;
  config back;
  ASSERT_EQ(error_of(apply_toml(back, out.message, "printed.toml")), "");
  EXPECT_EQ(back.shards, 3u);
  EXPECT_EQ(back.data_dir, "d");
  EXPECT_EQ(back.max_batch, 7u);
  back.config_file = path;
  EXPECT_EQ(back, parse_ok({"--config", path, "--max-batch", "7"}));
  EXPECT_NE(out.message.find("# config file: \"" + path + "\"\n"), std::string::npos);
}

// ---- --print-config round trip ----

TEST(config, to_toml_round_trips) {
  config odd;
  odd.listen = "[2001:db8::1]:0";
  odd.admin = "off";
  odd.shards = 256;
  odd.data_dir = "dir with \"quotes\", \\backslash\\, tab\t, caf\xC3\xA9";
  odd.request_timeout = 1ms;
  odd.queue_wait = 0ms;
  odd.drain_timeout = 3'599'999ms;  // not a whole second
  odd.queue_capacity = 1;
  odd.max_batch = 1'048'576;
  odd.max_key_bytes = 1000;        // not a multiple of 1 KiB
  odd.max_value_bytes = 64 << 20;  // the largest
  odd.max_body_bytes = 3 << 10;
  odd.reactor = "epoll";
  odd.log_level = "error";
  odd.access_log = true;
  odd.test_apply_delay = 59'999ms;
  odd.config_file = "some.toml";
  for (const config& c : {config{}, odd}) {
    const std::string text = to_toml(c);
    config back;
    ASSERT_EQ(error_of(apply_toml(back, text, "printed.toml")), "") << text;
    back.config_file = c.config_file;  // not a setting: only a comment
    EXPECT_EQ(back, c) << text;
    EXPECT_EQ(to_toml(back), text);
  }
}

TEST(config, to_toml_lines) {
  config c;
  c.request_timeout = 90s;
  c.queue_wait = 1500ms;
  c.drain_timeout = 2h;
  c.max_key_bytes = 1000;
  const std::string text = to_toml(c);
  EXPECT_NE(text.find("\nrequest_timeout = \"90s\"\n"), std::string::npos);
  EXPECT_NE(text.find("\nqueue_wait = \"1500ms\"\n"), std::string::npos);
  EXPECT_NE(text.find("\ndrain_timeout = \"2h\"\n"), std::string::npos);
  EXPECT_NE(text.find("\nmax_key_bytes = 1000\n"), std::string::npos);
  // one comment line, then one "key = value" line per setting
  int lines = 0;
  for (char ch : text) lines += ch == '\n';
  EXPECT_EQ(lines, 1 + 31);
}

// Settings that need each other are refused together, naming what to add.
TEST(config, combinations) {
  EXPECT_EQ(parse_error({"--store", "etcd"}),
            "--store etcd needs --etcd-endpoints (the members' client URLs)\n");
  EXPECT_EQ(parse_error({"--tls-cert", "c.pem"}), "--tls-cert needs --tls-key\n");
  EXPECT_EQ(parse_error({"--tls-key", "k.pem"}), "--tls-key needs --tls-cert\n");
  EXPECT_EQ(parse_error({"--client-ca", "ca.pem"}), "--client-ca needs --tls-cert\n");
  EXPECT_EQ(parse_error({"--admin-tls"}), "--admin-tls needs --tls-cert and --tls-key\n");
  EXPECT_EQ(parse_error({"--etcd-cert", "c.pem"}), "--etcd-cert needs --etcd-key\n");
  EXPECT_EQ(parse_error({"--store", "etcd", "--etcd-endpoints", "http://a:1", "--etcd-retry",
                         "3s"}),
            "--etcd-retry: at most half of --request-timeout (a write queued behind a batch "
            "that fails must still get its 503 before its request times out)\n");
  EXPECT_EQ(parse_error({"--store", "sqlite"}),
            "--store: expected one of lmdb, rocksdb, etcd, got \"sqlite\"\n");
  EXPECT_EQ(parse_error({"--etcd-endpoints", "127.0.0.1:2379"}),
            "--etcd-endpoints: expected comma-separated http:// or https:// URLs (host:port), "
            "got \"127.0.0.1:2379\"\n");
  EXPECT_EQ(parse_error({"--etcd-endpoints", "http://a:1,"}),
            "--etcd-endpoints: expected comma-separated http:// or https:// URLs (host:port), "
            "got \"http://a:1,\"\n");
  const config ok =
      parse_ok({"--store", "etcd", "--etcd-endpoints", "http://127.0.0.1:1,https://[::1]:2",
                "--tls-cert", "c.pem", "--tls-key", "k.pem", "--admin-tls"});
  EXPECT_EQ(ok.etcd_endpoints, "http://127.0.0.1:1,https://[::1]:2");
  EXPECT_TRUE(ok.admin_tls);
}

}  // namespace
}  // namespace taskd
