// logship's settings: command-line flags and an optional TOML file (--config), later wins:
// defaults < the file < flags given. Inputs from flags are added to the file's.
//
//   auto out = logship::parse_command_line(argc, argv);
//   if (!out.cfg) { print(out.message); return out.exit_code; }   // --help, errors (code 2)
//
// The file (every key optional; an unknown key is an error naming its place):
//   default_topic = "syslog"          quarantine_topic = "syslog-unparsed"
//   payload = "raw"                   # raw | msg | json
//   key = "{{hostname}}"              # a template; none by default
//   admin = "127.0.0.1:9902"          admin_token_file = "token"
//   memory_budget = "32MiB"           max_message = "64KiB"
//   max_connections = 10000           idle_timeout = "10m"      drain_timeout = "10s"
//   [headers]                         # Kafka headers: name = template
//   host = "{{hostname}}"
//   [[inputs]]                        # type = tcp | tls | udp | unix
//   type = "tcp"
//   address = "127.0.0.1:5140"
//   framing = "detect"                # detect | octet_counting | newline (streams)
//   [[inputs]]
//   type = "tls"
//   address = "127.0.0.1:6514"
//   cert = "server.pem"               key = "server.key"
//   client_ca = "ca.pem"              client_cert = "optional"   # or "required"
//   [kafka]
//   brokers = "127.0.0.1:9092"        compression = "lz4"   linger_ms = 5   batch_size = "1MiB"
//   [kafka.properties]                # any librdkafka property, passed through
//   "socket.keepalive.enable" = "true"
//   [spool]                           # optional: where records wait when the budget is full
//   dir = "/var/spool/logship"        max_bytes = "1GiB"
//   fsync = "interval"                # always | interval | never
//   fsync_interval = "1s"
//   [[rules]] ...                     # rules_file.hpp
// Errors: "logship.toml:7:11: framing: expected detect, octet_counting or newline".
//
// Plain functions of their arguments: safe from any thread.
#pragma once

#include "inputs.hpp"
#include "kafka.hpp"
#include "pipeline.hpp"
#include "rules.hpp"
#include "spool.hpp"

#include <weir/core/result.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace logship {

struct config {
  std::vector<input_spec> inputs;
  input_limits limits;
  pipeline_options pipe;
  kafka_options kafka;
  spool_options spool;  // dir "": no spool
  std::string default_topic = "syslog";
  bool embedded_kafka = false;
  std::string admin = "127.0.0.1:9902";  // "off": none
  std::string admin_token_file;
  std::chrono::milliseconds drain_timeout{10000};
  std::string log_level = "info";
  std::string reactor = "auto";
  std::string config_file;
  // Modes that exit at once.
  bool check = false;             // --check: validate everything, print a summary, exit 0 or 2
  std::string test_file;          // --test FILE: replay wire bytes through parse -> rules, print
  std::string expect_file;        // --expect FILE: ... and compare with this file (exit 1 if not)
  std::optional<rules> compiled;  // the rules (the file's, or none: everything to the default)
};

struct parse_outcome {
  std::optional<config> cfg;
  int exit_code = 0;
  std::string message;  // help text or the error, ending in '\n'
};
parse_outcome parse_command_line(int argc, const char* const* argv);

// The TOML file alone (parse_command_line uses it; tests too).
weir::result<void> apply_toml(config& c, std::string_view text, std::string_view file);

}  // namespace logship
