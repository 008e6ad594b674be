// taskd::config — taskd's settings, from command-line flags and an optional TOML file.
//
//   auto out = taskd::parse_command_line(argc, argv);
//   if (!out.cfg) {                                     // --help, --version, --print-config, error
//     std::fputs(out.message.c_str(), out.exit_code == 0 ? stdout : stderr);
//     return out.exit_code;
//   }
//   run(*out.cfg);
//
// Sources, later wins: the defaults below < the file named by `--config FILE` < flags given
// explicitly. Every setting has a flag (`--data-dir`) and a TOML key (`data_dir`); the file
// holds top-level keys only, and an unknown key or any table is an error, so a typo never
// passes silently. Durations are written "5s", "250ms", "1.5s", "2m", "100us" (or, in TOML, an
// integer number of milliseconds); byte sizes are integers or "64KiB", "1MiB". Ranges are
// checked whichever source a value came from.
//
// Errors are one line that names the place and what was expected:
//   taskd.toml:3:19: request_timeout: expected a duration such as "5s" or "250ms", got "fast"
//   --queue-capacity: expected an integer in [1, 1048576], got "0"
//
// Depends on std, CLI11 and toml++ only (no weir library), so it builds and tests alone.
// Plain functions of their arguments: safe to call from any thread.
#pragma once

#include <weir/core/result.hpp>
#include <weir/core/units.hpp>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace taskd {

struct config {
  std::string listen = "127.0.0.1:2379";  // host:port; IPv6 as [::1]:2379; port 0: pick one
  std::string admin = "127.0.0.1:9901";   // "off" disables the admin listener ("" becomes "off")
  std::string admin_token_file;           // its bearer token's file; "": no token
  unsigned shards = 0;                    // 0: one per CPU; max 256
  std::string store = "lmdb";             // lmdb | rocksdb | etcd
  std::string data_dir = "taskd-data";
  std::size_t lmdb_map_size = std::size_t(1) << 30;  // lmdb: the most the database may grow to
  std::string etcd_endpoints;  // etcd: "http://127.0.0.1:2379,https://..." (client URLs)
  std::string etcd_prefix = "/taskd/";  // etcd: every key of taskd lives under it
  std::string etcd_cacert, etcd_cert, etcd_key;  // etcd over https: trust, client certificate
  std::chrono::milliseconds etcd_timeout{1000};  // etcd: one call to one member
  std::chrono::milliseconds etcd_retry{2000};    // etcd: an operation's tries over members
  std::size_t etcd_max_txn_ops = 128;  // etcd: its --max-txn-ops (a Txn's operations, the guard's too)
  std::string tls_cert, tls_key;  // the API listener's certificate (chain) and key: HTTPS
  std::string client_ca;          // require client certificates signed by these CAs
  bool admin_tls = false;         // the admin endpoint speaks HTTPS too (same certificate)
  std::chrono::milliseconds request_timeout{5000};  // 1ms .. 1h
  std::chrono::milliseconds queue_wait{1000};  // longest wait for room in the task queue (then 503)
  std::chrono::milliseconds drain_timeout{5000};  // 0 .. 1h
  std::size_t queue_capacity = 1024;              // 1 .. 1'048'576
  std::size_t max_batch = 1024;           // writes per group commit; 1 = one fsync per write
  std::size_t max_key_bytes = 1024;       // 1 .. 64 KiB
  std::size_t max_value_bytes = 1 << 20;  // 1 .. 64 MiB
  std::size_t max_body_bytes = 1 << 20;   // /echo bodies; 1 .. 64 MiB
  std::string reactor = "auto";           // auto | uring | epoll
  std::string log_level = "info";         // debug | info | warn | error
  bool access_log = false;
  std::chrono::milliseconds test_apply_delay{0};  // testing only: the applier sleeps this per batch
  std::string config_file;                        // the --config path, if any

  bool operator==(const config&) const = default;
};

// Settings that only make sense together ("--tls-key without --tls-cert", "--store etcd needs
// --etcd-endpoints"): an empty string when `c` is consistent, else one line saying what to add.
std::string check_combination(const config& c);

// Outcome of parsing: either a config, or "exit now with this code after printing this text"
// (--help, --version, --print-config: code 0, text for stdout; errors: code 2, text for
// stderr). A non-empty message ends with '\n' and is meant to be printed as it is.
struct parse_outcome {
  std::optional<config> cfg;
  int exit_code = 0;
  std::string message;  // help text, version, the effective config, or the error
};
parse_outcome parse_command_line(int argc, const char* const* argv);

// The TOML part alone (used by parse_command_line; public for tests). Fills `c` from the text.
// An error is errc::invalid_input whose context is one line that starts with
// "file_name:line:column: ". On error `c` is left unchanged. When several keys are wrong, the
// first in the file is reported.
weir::result<void> apply_toml(config& c, std::string_view toml_text, std::string_view file_name);

// Durations and sizes: weir/core/units.hpp.
using weir::parse_duration;
using weir::parse_size;

// The effective config as TOML, one "key = value" line per setting after a comment line;
// apply_toml reads it back to the same config (all but config_file).
std::string to_toml(const config& c);

}  // namespace taskd
