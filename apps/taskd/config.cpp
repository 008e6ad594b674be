// taskd's configuration: one table of settings drives the flags, the TOML keys, the checks and
// the --print-config dump, so the four cannot drift apart.
#include "config.hpp"

#include <weir/core/file.hpp>
#include <weir/net/address.hpp>

#include <toml++/toml.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <span>
#include <sstream>
#include <type_traits>
#include <variant>
#include <vector>

namespace taskd {
namespace {

using std::chrono::milliseconds;
using u64 = std::uint64_t;

constexpr std::string_view version_text = "taskd 0.1.0";
constexpr u64 kib = 1024, mib = kib * 1024;

// ---- values ----

bool is_digit(char ch) { return ch >= '0' && ch <= '9'; }

using weir::parse_u64;

std::string format_size(u64 n) {
  if (n != 0 && n % mib == 0) return std::to_string(n / mib) + "MiB";
  if (n != 0 && n % kib == 0) return std::to_string(n / kib) + "KiB";
  return std::to_string(n);
}

std::string format_duration(milliseconds d) {
  const auto ms = d.count();
  if (ms == 0) return "0s";
  if (ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

// A TOML basic string (also how errors quote what they got): one line, whatever the text.
std::string quote(std::string_view s) {
  std::string out = "\"";
  for (unsigned char ch : s) {
    switch (ch) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (ch < 0x20 || ch == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", ch);
          out += buf;
        } else {
          out += static_cast<char>(ch);
        }
    }
  }
  return out + "\"";
}

// ---- the settings ----

enum class kind {
  address,
  admin_address,
  text,
  file,
  urls,
  choice,
  count,
  size,
  duration,
  boolean
};

constexpr std::array reactor_choices{std::string_view{"auto"}, std::string_view{"uring"},
                                     std::string_view{"epoll"}};
constexpr std::array store_choices{std::string_view{"lmdb"}, std::string_view{"rocksdb"},
                                   std::string_view{"etcd"}};
constexpr std::array log_level_choices{std::string_view{"debug"}, std::string_view{"info"},
                                       std::string_view{"warn"}, std::string_view{"error"}};

using member = std::variant<std::string config::*, unsigned config::*, std::size_t config::*,
                            milliseconds config::*, bool config::*>;

struct setting {
  std::string_view key;  // the TOML key; the flag is the same with '-' for '_'
  kind what;
  member field;
  u64 lo = 0, hi = 0;  // count and size: the value; duration: milliseconds
  std::string_view group;
  std::string_view help;
  std::span<const std::string_view> choices = {};
};

// In the order of `config`, which is also the order of --help and --print-config.
const std::array settings{
    setting{"listen", kind::address, &config::listen, 0, 0, "Network",
            "address for the HTTP API: host:port, [v6]:port; port 0 picks one"},
    setting{"admin", kind::admin_address, &config::admin, 0, 0, "Network",
            "address for the admin endpoint, or \"off\""},
    setting{"admin_token_file", kind::file, &config::admin_token_file, 0, 0, "Network",
            "file whose first line is the bearer token the admin endpoint requires (its browser "
            "view: /ui#token=...); \"\": none"},
    setting{"shards", kind::count, &config::shards, 0, 256, "Runtime",
            "number of shards (threads); 0: one per CPU"},
    setting{"store", kind::choice, &config::store, 0, 0, "Storage",
            "where the key-value state lives: lmdb or rocksdb (in data_dir), or etcd (a cluster)",
            store_choices},
    setting{"data_dir", kind::text, &config::data_dir, 0, 0, "Storage",
            "directory of the lmdb or rocksdb store"},
    setting{"lmdb_map_size", kind::size, &config::lmdb_map_size, mib, u64{1} << 40, "Storage",
            "lmdb: the largest the database may grow (address space, not memory)"},
    setting{"etcd_endpoints", kind::urls, &config::etcd_endpoints, 0, 0, "etcd",
            "etcd: the members' client URLs, comma-separated (http:// or https://)"},
    setting{"etcd_prefix", kind::text, &config::etcd_prefix, 0, 0, "etcd",
            "etcd: the prefix of every key taskd writes"},
    setting{"etcd_cacert", kind::file, &config::etcd_cacert, 0, 0, "etcd",
            "etcd over https: CAs to trust (PEM); \"\": the system's"},
    setting{"etcd_cert", kind::file, &config::etcd_cert, 0, 0, "etcd",
            "etcd over https: client certificate (PEM)"},
    setting{"etcd_key", kind::file, &config::etcd_key, 0, 0, "etcd",
            "etcd over https: the client certificate's key (PEM)"},
    setting{"etcd_timeout", kind::duration, &config::etcd_timeout, 10, 600'000, "etcd",
            "etcd: longest wait for one member to answer one call"},
    setting{"etcd_retry", kind::duration, &config::etcd_retry, 0, 3'600'000, "etcd",
            "etcd: how long an operation keeps trying members before answering 503"},
    setting{"etcd_max_txn_ops", kind::count, &config::etcd_max_txn_ops, 2, 1'048'576, "etcd",
            "etcd: the cluster's --max-txn-ops; a batch is cut into Txns this large"},
    setting{"tls_cert", kind::file, &config::tls_cert, 0, 0, "TLS",
            "certificate chain (PEM) of the API listener: it then speaks HTTPS only"},
    setting{"tls_key", kind::file, &config::tls_key, 0, 0, "TLS", "its private key (PEM)"},
    setting{"client_ca", kind::file, &config::client_ca, 0, 0, "TLS",
            "require client certificates signed by these CAs (PEM)"},
    setting{"admin_tls", kind::boolean, &config::admin_tls, 0, 0, "TLS",
            "the admin endpoint speaks HTTPS with the same certificate"},
    setting{"request_timeout", kind::duration, &config::request_timeout, 1, 3'600'000, "Limits",
            "longest time a request may take"},
    setting{"queue_wait", kind::duration, &config::queue_wait, 0, 3'600'000, "Limits",
            "longest wait for room in the task queue before answering 503"},
    setting{"drain_timeout", kind::duration, &config::drain_timeout, 0, 3'600'000, "Limits",
            "how long shutdown waits for requests in flight"},
    setting{"queue_capacity", kind::count, &config::queue_capacity, 1, 1'048'576, "Limits",
            "tasks the queue holds"},
    setting{"max_batch", kind::count, &config::max_batch, 1, 1'048'576, "Storage",
            "writes per group commit; 1: one fsync per write"},
    setting{"max_key_bytes", kind::size, &config::max_key_bytes, 1, 64 * kib, "Limits",
            "largest key"},
    setting{"max_value_bytes", kind::size, &config::max_value_bytes, 1, 64 * mib, "Limits",
            "largest value"},
    setting{"max_body_bytes", kind::size, &config::max_body_bytes, 1, 64 * mib, "Limits",
            "largest /echo body"},
    setting{"reactor", kind::choice, &config::reactor, 0, 0, "Runtime",
            "I/O backend: auto, uring or epoll", reactor_choices},
    setting{"log_level", kind::choice, &config::log_level, 0, 0, "Logging",
            "debug, info, warn or error", log_level_choices},
    setting{"access_log", kind::boolean, &config::access_log, 0, 0, "Logging",
            "log one line per request"},
    setting{"test_apply_delay", kind::duration, &config::test_apply_delay, 0, 60'000, "Testing",
            "TESTING ONLY: the applier sleeps this long per batch"},
};

const setting* find_setting(std::string_view key) {
  for (const auto& s : settings) {
    if (s.key == key) return &s;
  }
  return nullptr;
}

std::string flag_name(const setting& s) {
  std::string f = "--" + std::string(s.key);
  std::replace(f.begin(), f.end(), '_', '-');
  return f;
}

std::string known_keys() {
  std::string out;
  for (const auto& s : settings) {
    if (!out.empty()) out += ", ";
    out += s.key;
  }
  return out;
}

// What a setting accepts, for "expected ..., got ..." errors.
std::string expected(const setting& s) {
  switch (s.what) {
    case kind::address: return "host:port (an IPv4 address, [IPv6] or localhost; port 0-65535)";
    case kind::admin_address:
      return "host:port (an IPv4 address, [IPv6] or localhost; port 0-65535) or \"off\"";
    case kind::text: return "a non-empty string";
    case kind::file: return "a file path, or \"\" for none";
    case kind::urls: return "comma-separated http:// or https:// URLs (host:port)";
    case kind::choice: {
      std::string out = "one of ";
      for (std::size_t i = 0; i < s.choices.size(); ++i) {
        out += (i == 0 ? "" : ", ") + std::string(s.choices[i]);
      }
      return out;
    }
    case kind::count:
      return "an integer in [" + std::to_string(s.lo) + ", " + std::to_string(s.hi) + "]";
    case kind::size:
      return "a size in bytes in [" + format_size(s.lo) + ", " + format_size(s.hi) +
             "] such as 4096 or \"64KiB\"";
    case kind::duration:
      return "a duration in [" + format_duration(milliseconds(s.lo)) + ", " +
             format_duration(milliseconds(s.hi)) + "]";
    case kind::boolean: return "true or false";
  }
  return {};
}

// A checked value, before it is stored into its member.
using value = std::variant<std::string, u64, milliseconds, bool>;

// Checks `text` (a flag's argument, or a TOML string) for `s`. The error's context is what
// follows the "place: key: " prefix.
weir::result<value> check_text(const setting& s, std::string_view text) {
  const auto fail = [&](std::string what) {
    return weir::unexpected(weir::errc::invalid_input, "expected " + what + ", got " + quote(text));
  };
  switch (s.what) {
    case kind::address:
    case kind::admin_address:
      if (s.what == kind::admin_address && (text.empty() || text == "off")) {
        return value(std::string("off"));
      }
      if (!weir::net::address::parse(text)) return fail(expected(s));
      return value(std::string(text));
    case kind::text:
      if (text.empty()) return fail(expected(s));
      return value(std::string(text));
    case kind::file: return value(std::string(text));  // read (and checked) when used
    case kind::urls: {
      std::string_view rest = text;
      while (!rest.empty()) {
        const std::size_t comma = rest.find(',');
        const std::string_view u = rest.substr(0, comma);
        const std::size_t scheme = u.starts_with("http://") ? 7 : u.starts_with("https://") ? 8 : 0;
        if (scheme == 0 || u.size() == scheme || u.find_first_of(" \t") != u.npos)
          return fail(expected(s));
        rest = comma == rest.npos ? std::string_view() : rest.substr(comma + 1);
        if (comma != std::string_view::npos && rest.empty()) return fail(expected(s));
      }
      return value(std::string(text));
    }
    case kind::choice:
      if (std::find(s.choices.begin(), s.choices.end(), text) == s.choices.end()) {
        return fail(expected(s));
      }
      return value(std::string(text));
    case kind::count: {
      u64 n = 0;
      if (!parse_u64(text, n) || n < s.lo || n > s.hi) return fail(expected(s));
      return value(n);
    }
    case kind::size: {
      const auto n = parse_size(text);
      if (!n || *n < s.lo || *n > s.hi) return fail(expected(s));
      return value(u64{*n});
    }
    case kind::duration: {
      const auto d = parse_duration(text);
      if (!d) return fail("a duration such as \"5s\" or \"250ms\"");
      if (d->count() < static_cast<std::int64_t>(s.lo) ||
          d->count() > static_cast<std::int64_t>(s.hi)) {
        return fail(expected(s));
      }
      return value(*d);
    }
    case kind::boolean:
      if (text == "true" || text == "false") {
        return value(text == "true");
      }
      return fail(expected(s));
  }
  return fail(expected(s));
}

// How a TOML value shows in "got ...": strings as above, scalars in TOML syntax.
std::string describe(const toml::node& n) {
  if (n.is_table()) return "a table";
  if (n.is_array()) return "an array";
  if (const auto* str = n.as_string()) return quote(str->get());
  std::ostringstream os;  // numbers, booleans, dates and times
  n.visit([&os](const auto& v) { os << v; });
  return os.str();
}

weir::result<value> check_node(const setting& s, const toml::node& n) {
  if (const auto* str = n.as_string()) {
    // A count is a TOML integer, never a string; a size or a duration may be either.
    if (s.what != kind::boolean && s.what != kind::count) return check_text(s, str->get());
  } else if (const auto* i = n.as_integer()) {
    const std::int64_t v = i->get();
    const bool numeric = s.what == kind::count || s.what == kind::size || s.what == kind::duration;
    if (numeric && v >= 0 && static_cast<u64>(v) >= s.lo && static_cast<u64>(v) <= s.hi) {
      if (s.what == kind::duration) return value(milliseconds(v));
      return value(static_cast<u64>(v));
    }
  } else if (const auto* b = n.as_boolean()) {
    if (s.what == kind::boolean) {
      return value(b->get());
    }
  }
  std::string what = expected(s);
  if (s.what == kind::duration) {
    what += " such as \"5s\", \"250ms\" or an integer number of milliseconds";
  }
  return weir::unexpected(weir::errc::invalid_input, "expected " + what + ", got " + describe(n));
}

void store(config& c, const setting& s, value v) {
  std::visit(
      [&c, &v](auto config::*m) {
        using t = std::remove_reference_t<decltype(c.*m)>;
        if constexpr (std::is_same_v<t, std::string>) {
          c.*m = std::get<std::string>(std::move(v));
        } else if constexpr (std::is_same_v<t, milliseconds> || std::is_same_v<t, bool>) {
          c.*m = std::get<t>(v);
        } else {
          c.*m = static_cast<t>(std::get<u64>(v));
        }
      },
      s.field);
}

std::string place(std::string_view file, const toml::source_position& p) {
  return std::string(file) + ":" + std::to_string(p.line) + ":" + std::to_string(p.column) + ": ";
}

// A setting's value in TOML syntax.
std::string value_text(const config& c, const setting& s) {
  std::string v;
  std::visit(
      [&](auto config::*m) {
        const auto& x = c.*m;
        using t = std::remove_cvref_t<decltype(x)>;
        if constexpr (std::is_same_v<t, std::string>) {
          v = quote(x);
        } else if constexpr (std::is_same_v<t, bool>) {
          v = x ? "true" : "false";
        } else if constexpr (std::is_same_v<t, milliseconds>) {
          v = quote(format_duration(x));
        } else {
          const std::string n = s.what == kind::size ? format_size(x) : std::to_string(x);
          v = is_digit(n.back()) ? n : quote(n);  // "64KiB" is a TOML string, 4096 an integer
        }
      },
      s.field);
  return v;
}

std::string type_name(const setting& s) {
  switch (s.what) {
    case kind::address:
    case kind::admin_address: return "HOST:PORT";
    case kind::text: return "DIR";
    case kind::file: return "FILE";
    case kind::urls: return "URL,...";
    case kind::choice: return "NAME";
    case kind::count: return "N";
    case kind::size: return "SIZE";
    case kind::duration: return "DURATION";
    case kind::boolean: return "";
  }
  return {};
}

}  // namespace

weir::result<void> apply_toml(config& c, std::string_view toml_text, std::string_view file_name) {
  const auto fail = [](std::string what) {
    return weir::unexpected(weir::errc::invalid_input, what);
  };
  toml::table doc;
  try {
    doc = toml::parse(toml_text, file_name);
  } catch (const toml::parse_error& e) {
    return fail(place(file_name, e.source().begin) +
                "syntax error: " + std::string(e.description()));
  }
  // A toml::table iterates in key order; check in the order of the file, so that the error
  // reported is the first one there.
  std::vector<std::pair<const toml::key*, const toml::node*>> entries;
  for (const auto& [k, v] : doc) entries.emplace_back(&k, &v);
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
    const auto& pa = a.first->source().begin;
    const auto& pb = b.first->source().begin;
    return pa.line != pb.line ? pa.line < pb.line : pa.column < pb.column;
  });
  config next = c;
  for (const auto& [k, v] : entries) {
    const setting* s = find_setting(k->str());
    if (s == nullptr) {
      // Tables are refused whatever their name: every setting is a top-level key.
      return fail(place(file_name, k->source().begin) +
                  (v->is_table()
                       ? "unexpected table " + quote(k->str()) + ": settings are top-level keys"
                       : "unknown key " + quote(k->str())) +
                  " (known: " + known_keys() + ")");
    }
    auto parsed = check_node(*s, *v);
    if (!parsed) {
      return fail(place(file_name, v->source().begin) + std::string(s->key) + ": " +
                  std::string(parsed.error().context()));
    }
    store(next, *s, std::move(*parsed));
  }
  c = std::move(next);
  return {};
}

std::string check_combination(const config& c) {
  if (c.store == "etcd" && c.etcd_endpoints.empty())
    return "--store etcd needs --etcd-endpoints (the members' client URLs)";
  if (c.store == "etcd" && 2 * c.etcd_retry > c.request_timeout)
    return "--etcd-retry: at most half of --request-timeout (a write queued behind a batch that "
           "fails must still get its 503 before its request times out)";
  if (c.tls_cert.empty() != c.tls_key.empty())
    return c.tls_cert.empty() ? "--tls-key needs --tls-cert" : "--tls-cert needs --tls-key";
  if (!c.client_ca.empty() && c.tls_cert.empty()) return "--client-ca needs --tls-cert";
  if (c.admin_tls && c.tls_cert.empty()) return "--admin-tls needs --tls-cert and --tls-key";
  if (c.etcd_cert.empty() != c.etcd_key.empty())
    return c.etcd_cert.empty() ? "--etcd-key needs --etcd-cert" : "--etcd-cert needs --etcd-key";
  return {};
}

std::string to_toml(const config& c) {
  std::string out = "# taskd: effective configuration (defaults < --config file < flags)\n";
  if (!c.config_file.empty()) out += "# config file: " + quote(c.config_file) + "\n";
  for (const auto& s : settings) out += std::string(s.key) + " = " + value_text(c, s) + "\n";
  return out;
}

parse_outcome parse_command_line(int argc, const char* const* argv) {
  const config defaults;
  CLI::App app{"taskd: an HTTP task-scheduler service.", "taskd"};
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.set_version_flag("--version", std::string(version_text));
  app.footer(
      "Settings come from the defaults, then the --config file (TOML, the same names with '_'\n"
      "for '-'), then the flags given. Durations: 5s, 250ms, 1.5s, 2m, 100us. Sizes: 4096, "
      "64KiB, 1MiB.");

  std::string config_path;
  auto* config_opt = app.add_option("--config", config_path, "read settings from this TOML file")
                         ->type_name("FILE");
  // One string per setting: CLI11 only collects, so that every check (and its error text) is
  // the same whichever source a value comes from.
  std::array<std::string, settings.size()> texts;
  std::array<CLI::Option*, settings.size()> opts{};
  std::array<bool, settings.size()> flags{};
  for (std::size_t i = 0; i < settings.size(); ++i) {
    const setting& s = settings[i];
    const std::string help = std::string(s.help) + " (default " + value_text(defaults, s) + ")";
    if (s.what == kind::boolean) {
      opts[i] = app.add_flag(flag_name(s) + ",!--no-" + flag_name(s).substr(2), flags[i], help);
    } else {
      opts[i] = app.add_option(flag_name(s), texts[i], help)->type_name(type_name(s));
    }
    opts[i]->group(std::string(s.group));
  }
  bool print_config = false;
  app.add_flag("--print-config", print_config, "print the effective configuration as TOML, exit");

  // Built in one step: g++ 12 -O2 warns (-Wfree-nonheap-object, a false positive) when a
  // vector constructed from the range then grows by push_back.
  static const char* const no_args[] = {"taskd"};
  const std::vector<const char*> args =
      argc > 0 ? std::vector<const char*>(argv, argv + argc)
               : std::vector<const char*>(std::begin(no_args), std::end(no_args));
  try {
    app.parse(static_cast<int>(args.size()), args.data());
  } catch (const CLI::CallForHelp&) {
    return {std::nullopt, 0, app.help()};
  } catch (const CLI::CallForAllHelp&) {
    return {std::nullopt, 0, app.help("", CLI::AppFormatMode::All)};
  } catch (const CLI::CallForVersion& e) {
    return {std::nullopt, 0, std::string(e.what()) + "\n"};
  } catch (const CLI::ParseError& e) {
    return {std::nullopt, 2, std::string(e.what()) + "\nRun with --help for more information.\n"};
  }

  config c;
  if (config_opt->count() > 0) {
    // The context alone: it names the file and line, and says what was expected.
    auto text = weir::read_file(config_path, 16 << 20);
    if (!text) return {std::nullopt, 2, std::string(text.error().context()) + "\n"};
    if (auto r = apply_toml(c, *text, config_path); !r)
      return {std::nullopt, 2, std::string(r.error().context()) + "\n"};
    c.config_file = config_path;
  }
  for (std::size_t i = 0; i < settings.size(); ++i) {
    if (opts[i]->count() == 0) continue;
    value parsed;
    if (settings[i].what == kind::boolean) {
      parsed = flags[i];
    } else if (auto r = check_text(settings[i], texts[i]); !r) {
      return {std::nullopt, 2,
              flag_name(settings[i]) + ": " + std::string(r.error().context()) + "\n"};
    } else {
      parsed = std::move(*r);
    }
    store(c, settings[i], std::move(parsed));
  }
  if (std::string why = check_combination(c); !why.empty()) return {std::nullopt, 2, why + "\n"};
  if (print_config) return {std::nullopt, 0, to_toml(c)};
  return {std::move(c), 0, {}};
}

}  // namespace taskd
