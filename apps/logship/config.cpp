#include "config.hpp"

#include "rules_file.hpp"

#include <weir/core/file.hpp>
#include <weir/core/units.hpp>

#include <toml++/toml.h>
#include <CLI/CLI.hpp>

#include <array>

namespace logship {

namespace {

constexpr std::array<std::string_view, 14> kTopKeys = {"default_topic",   "quarantine_topic",
                                                       "payload",         "key",
                                                       "admin",           "admin_token_file",
                                                       "memory_budget",   "max_message",
                                                       "max_connections", "idle_timeout",
                                                       "drain_timeout",   "headers",
                                                       "inputs",          "kafka"};

std::string place(std::string_view file, const toml::node& n) {
  const auto& p = n.source().begin;
  return std::string(file) + ":" + std::to_string(p.line) + ":" + std::to_string(p.column) + ": ";
}

// Reads typed values out of a TOML table, each error naming the place and what was expected.
struct reader {
  std::string_view file;

  weir::unexpected fail(const toml::node& at, const std::string& what) const {
    return weir::unexpected(weir::errc::invalid_input, place(file, at) + what);
  }
  weir::result<void> text(const toml::table& t, std::string_view key, std::string& out) const {
    const toml::node* n = t.get(key);
    if (!n) return {};
    if (!n->is_string()) return fail(*n, std::string(key) + ": expected a string");
    out = n->as_string()->get();
    return {};
  }
  weir::result<void> size(const toml::table& t, std::string_view key, std::size_t& out,
                          std::size_t lo, std::size_t hi) const {
    const toml::node* n = t.get(key);
    if (!n) return {};
    std::optional<std::size_t> v;
    if (const auto* i = n->as_integer(); i && i->get() >= 0)
      v = static_cast<std::size_t>(i->get());
    else if (const auto* s = n->as_string())
      v = weir::parse_size(s->get());
    if (!v || *v < lo || *v > hi)
      return fail(*n, std::string(key) + ": expected a size in [" + std::to_string(lo) + ", " +
                          std::to_string(hi) + "] such as 65536 or \"64KiB\"");
    out = *v;
    return {};
  }
  weir::result<void> duration(const toml::table& t, std::string_view key,
                              std::chrono::milliseconds& out) const {
    const toml::node* n = t.get(key);
    if (!n) return {};
    std::optional<std::chrono::milliseconds> v;
    if (const auto* i = n->as_integer(); i && i->get() >= 0)
      v = std::chrono::milliseconds(i->get());
    else if (const auto* s = n->as_string())
      v = weir::parse_duration(s->get());
    if (!v) return fail(*n, std::string(key) + ": expected a duration such as \"10s\" or 250");
    out = *v;
    return {};
  }
  weir::result<void> known(const toml::table& t, std::span<const std::string_view> keys,
                           std::string_view where) const {
    for (const auto& [k, v] : t)
      if (std::find(keys.begin(), keys.end(), k.str()) == keys.end()) {
        std::string list;
        for (auto key : keys) list += (list.empty() ? "" : ", ") + std::string(key);
        return fail(v, "unknown key \"" + std::string(k.str()) + "\"" + std::string(where) +
                           " (known: " + list + ")");
      }
    return {};
  }
};

std::optional<framing> parse_framing(std::string_view s) {
  if (s == "detect") return framing::detect;
  if (s == "octet_counting" || s == "octet-counting") return framing::octet_counting;
  if (s == "newline") return framing::newline;
  return std::nullopt;
}

std::optional<fsync_policy> parse_fsync(std::string_view s) {
  if (s == "always") return fsync_policy::always;
  if (s == "interval") return fsync_policy::interval;
  if (s == "never") return fsync_policy::never;
  return std::nullopt;
}

std::optional<payload_mode> parse_payload(std::string_view s) {
  if (s == "raw") return payload_mode::raw;
  if (s == "msg") return payload_mode::msg;
  if (s == "json") return payload_mode::json;
  return std::nullopt;
}

weir::result<void> read_input(const reader& rd, const toml::table& t, input_spec& in) {
  static constexpr std::array<std::string_view, 8> keys = {
      "type", "address", "framing", "cert", "key", "client_ca", "client_cert", "path"};
  WEIR_TRY(rd.known(t, keys, " in an input"));
  std::string type = "tcp", fr = "detect", client_cert = "none";
  WEIR_TRY(rd.text(t, "type", type));
  if (type == "tcp")
    in.kind = input_spec::kind_t::tcp;
  else if (type == "tls")
    in.kind = input_spec::kind_t::tls;
  else if (type == "udp")
    in.kind = input_spec::kind_t::udp;
  else if (type == "unix")
    in.kind = input_spec::kind_t::unix_datagram;
  else
    return rd.fail(*t.get("type"), "type: expected tcp, tls, udp or unix");
  WEIR_TRY(rd.text(t, "address", in.address));
  WEIR_TRY(rd.text(t, "path", in.address));
  if (in.address.empty())
    return rd.fail(t, in.kind == input_spec::kind_t::unix_datagram
                          ? "an input of type unix needs path = \"/run/logship.sock\""
                          : "an input needs address = \"HOST:PORT\"");
  WEIR_TRY(rd.text(t, "framing", fr));
  if (auto f = parse_framing(fr))
    in.framing = *f;
  else
    return rd.fail(*t.get("framing"), "framing: expected detect, octet_counting or newline");
  WEIR_TRY(rd.text(t, "cert", in.cert_file));
  WEIR_TRY(rd.text(t, "key", in.key_file));
  WEIR_TRY(rd.text(t, "client_ca", in.client_ca_file));
  WEIR_TRY(rd.text(t, "client_cert", client_cert));
  if (client_cert != "none" && client_cert != "optional" && client_cert != "required")
    return rd.fail(*t.get("client_cert"), "client_cert: expected none, optional or required");
  in.require_client_cert = client_cert == "required";
  const bool tls = in.kind == input_spec::kind_t::tls;
  if (tls && (in.cert_file.empty() || in.key_file.empty()))
    return rd.fail(t, "a tls input needs cert = \"FILE\" and key = \"FILE\"");
  if (!tls && (!in.cert_file.empty() || !in.key_file.empty() || !in.client_ca_file.empty()))
    return rd.fail(t, "cert, key and client_ca belong to tls inputs");
  if (client_cert != "none" && in.client_ca_file.empty())
    return rd.fail(*t.get("client_cert"), "client_cert: needs client_ca = \"FILE\"");
  return {};
}

// Checks what only the whole config can tell.
std::optional<std::string> check_whole(const config& c) {
  if (!c.expect_file.empty() && c.test_file.empty()) return "--expect needs --test FILE";
  if (!c.check && c.test_file.empty() && c.inputs.empty())
    return "no inputs: give --tcp ADDR, --udp ADDR, --tls ADDR, --unix PATH or [[inputs]]";
  if (!c.check && c.test_file.empty() && !c.embedded_kafka && c.kafka.brokers.empty())
    return "no Kafka: give --brokers HOST:PORT, [kafka] brokers, or --embedded-kafka";
  return std::nullopt;
}

}  // namespace

weir::result<void> apply_toml(config& c, std::string_view text, std::string_view file) {
  toml::table doc;
  try {
    doc = toml::parse(text, file);
  } catch (const toml::parse_error& e) {
    const auto& p = e.source().begin;
    return weir::unexpected(weir::errc::invalid_input,
                            std::string(file) + ":" + std::to_string(p.line) + ":" +
                                std::to_string(p.column) +
                                ": syntax error: " + std::string(e.description()));
  }
  const reader rd{file};
  std::array<std::string_view, kTopKeys.size() + 1> top{};
  std::copy(kTopKeys.begin(), kTopKeys.end(), top.begin());
  top.back() = "rules";
  WEIR_TRY(rd.known(doc, top, ""));
  config n = c;  // c is left as it was on error
  WEIR_TRY(rd.text(doc, "default_topic", n.default_topic));
  WEIR_TRY(rd.text(doc, "quarantine_topic", n.pipe.quarantine_topic));
  std::string payload;
  WEIR_TRY(rd.text(doc, "payload", payload));
  if (!payload.empty()) {
    if (auto p = parse_payload(payload))
      n.pipe.payload = *p;
    else
      return rd.fail(*doc.get("payload"), "payload: expected raw, msg or json");
  }
  WEIR_TRY(rd.text(doc, "key", n.pipe.key));
  WEIR_TRY(rd.text(doc, "admin", n.admin));
  WEIR_TRY(rd.text(doc, "admin_token_file", n.admin_token_file));
  WEIR_TRY(rd.size(doc, "memory_budget", n.pipe.memory_budget, 64 * 1024, std::size_t{1} << 40));
  WEIR_TRY(rd.size(doc, "max_message", n.limits.max_message, 480, 16 << 20));
  WEIR_TRY(rd.size(doc, "max_connections", n.limits.max_connections, 1, 1 << 20));
  std::chrono::milliseconds idle =
      std::chrono::duration_cast<std::chrono::milliseconds>(n.limits.idle_timeout);
  WEIR_TRY(rd.duration(doc, "idle_timeout", idle));
  n.limits.idle_timeout = idle;
  WEIR_TRY(rd.duration(doc, "drain_timeout", n.drain_timeout));
  if (const toml::node* h = doc.get("headers")) {
    const toml::table* t = h->as_table();
    if (!t) return rd.fail(*h, "headers: expected a table of name = \"template\"");
    for (const auto& [k, v] : *t) {
      if (!v.is_string()) return rd.fail(v, std::string(k.str()) + ": expected a template");
      n.pipe.headers.emplace_back(std::string(k.str()), v.as_string()->get());
    }
  }
  if (const toml::node* i = doc.get("inputs")) {
    const toml::array* arr = i->as_array();
    if (!arr) return rd.fail(*i, "inputs: expected an array of tables ([[inputs]])");
    for (const toml::node& item : *arr) {
      const toml::table* t = item.as_table();
      if (!t) return rd.fail(item, "inputs: expected a table");
      input_spec in;
      WEIR_TRY(read_input(rd, *t, in));
      n.inputs.push_back(std::move(in));
    }
  }
  if (const toml::node* k = doc.get("kafka")) {
    const toml::table* t = k->as_table();
    if (!t) return rd.fail(*k, "kafka: expected a table ([kafka])");
    static constexpr std::array<std::string_view, 5> keys = {"brokers", "compression", "linger_ms",
                                                             "batch_size", "properties"};
    WEIR_TRY(rd.known(*t, keys, " in [kafka]"));
    WEIR_TRY(rd.text(*t, "brokers", n.kafka.brokers));
    WEIR_TRY(rd.text(*t, "compression", n.kafka.compression));
    std::size_t linger = static_cast<std::size_t>(n.kafka.linger_ms),
                batch = static_cast<std::size_t>(n.kafka.batch_bytes);
    WEIR_TRY(rd.size(*t, "linger_ms", linger, 0, 900000));
    WEIR_TRY(rd.size(*t, "batch_size", batch, 1, 2147483647));
    n.kafka.linger_ms = static_cast<int>(linger);
    n.kafka.batch_bytes = static_cast<int>(batch);
    if (const toml::node* p = t->get("properties")) {
      const toml::table* pt = p->as_table();
      if (!pt) return rd.fail(*p, "properties: expected a table of \"librdkafka.key\" = \"value\"");
      for (const auto& [pk, pv] : *pt) {
        if (!pv.is_string())
          return rd.fail(pv, std::string(pk.str()) + ": expected a string value");
        n.kafka.properties.emplace_back(std::string(pk.str()), pv.as_string()->get());
      }
    }
  }
  if (const toml::node* sp = doc.get("spool")) {
    const toml::table* t = sp->as_table();
    if (!t) return rd.fail(*sp, "spool: expected a table ([spool])");
    static constexpr std::array<std::string_view, 4> keys = {"dir", "max_bytes", "fsync",
                                                             "fsync_interval"};
    WEIR_TRY(rd.known(*t, keys, " in [spool]"));
    WEIR_TRY(rd.text(*t, "dir", n.spool.dir));
    std::size_t max = static_cast<std::size_t>(n.spool.max_bytes);
    WEIR_TRY(rd.size(*t, "max_bytes", max, 1 << 20, std::size_t{1} << 50));
    n.spool.max_bytes = max;
    std::string fs;
    WEIR_TRY(rd.text(*t, "fsync", fs));
    if (!fs.empty()) {
      auto f = parse_fsync(fs);
      if (!f) return rd.fail(*t->get("fsync"), "fsync: expected always, interval or never");
      n.spool.fsync = *f;
    }
    WEIR_TRY(rd.duration(*t, "fsync_interval", n.spool.fsync_interval));
    if (n.spool.dir.empty()) return rd.fail(*sp, "[spool] needs dir = \"DIR\"");
  }
  auto r = load_rules(text, file, top);
  if (!r) return weir::unexpected(std::move(r).error());
  n.compiled = std::move(*r);
  c = std::move(n);
  return {};
}

parse_outcome parse_command_line(int argc, const char* const* argv) {
  CLI::App app{"logship: syslog (TCP, TLS, UDP, Unix) to Kafka, with rules, losing nothing.",
               "logship"};
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.footer(
      "Flags override the --config file; inputs from flags are added to the file's.\n"
      "Prints \"listening on ... admin ...\" on stdout once it serves; logs go to stderr.");
  config c;
  std::string config_path, framing_text, payload_text, budget, max_message, idle, drain;
  std::string spool_dir, spool_max, spool_fsync;
  std::vector<std::string> tcp, udp, tls, unix_paths, props;
  std::string cert, key, client_ca, topic, quarantine, key_template, brokers, compression;
  bool require_client_cert = false;
  int linger = -1;
  std::size_t max_connections = 0;
  app.add_option("--config", config_path, "TOML file: inputs, rules, Kafka, limits");
  app.add_option("--tcp", tcp, "a TCP syslog listener (HOST:PORT)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("--udp", udp, "a UDP syslog socket (HOST:PORT)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("--tls", tls, "a TLS syslog listener (HOST:PORT; needs --cert, --key)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("--unix", unix_paths, "a Unix datagram socket (/dev/log style)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("--framing", framing_text, "stream framing: detect, octet_counting, newline");
  app.add_option("--cert", cert, "TLS: the server certificate (PEM chain)");
  app.add_option("--key", key, "TLS: its private key");
  app.add_option("--client-ca", client_ca, "TLS: CAs of client certificates (optional ones)");
  app.add_flag("--require-client-cert", require_client_cert, "TLS: refuse clients without one");
  app.add_option("--brokers", brokers, "Kafka bootstrap servers (HOST:PORT,...)");
  app.add_flag("--embedded-kafka", c.embedded_kafka,
               "start librdkafka's mock cluster (3 brokers) in-process and use it");
  app.add_option("--topic", topic, "default topic (lines no rule forwards or drops)");
  app.add_option("--quarantine-topic", quarantine, "topic for lines that are not syslog");
  app.add_option("--payload", payload_text, "what is produced: raw (the line), msg, json");
  app.add_option("--message-key", key_template, "Kafka message key template ({{hostname}})");
  app.add_option("--compression", compression, "none, gzip, snappy, lz4, zstd");
  app.add_option("--linger-ms", linger, "librdkafka linger.ms");
  app.add_option("--kafka-property", props, "any librdkafka property, KEY=VALUE")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("--memory-budget", budget, "bytes across every queue (\"32MiB\")");
  app.add_option("--max-message", max_message, "longer frames are truncated (\"64KiB\")");
  app.add_option("--max-connections", max_connections, "per stream input");
  app.add_option("--idle-timeout", idle, "close a connection silent this long (\"10m\")");
  app.add_option("--drain-timeout", drain, "SIGTERM: longest wait for delivery (\"10s\")");
  app.add_option("--spool", spool_dir, "disk spool directory: records wait there, not in memory");
  app.add_option("--spool-max-bytes", spool_max, "the spool's bound (\"1GiB\")");
  app.add_option("--spool-fsync", spool_fsync, "always, interval (1 s), never");
  app.add_option("--admin", c.admin, "admin endpoint HOST:PORT, or off");
  app.add_option("--admin-token-file", c.admin_token_file, "its bearer token (first line)");
  app.add_option("--log-level", c.log_level, "debug, info, warn, error");
  app.add_option("--reactor", c.reactor, "auto, uring, epoll");
  app.add_flag("--check", c.check, "validate the configuration and exit");
  app.add_option("--test", c.test_file,
                 "replay wire bytes (framing included) through parse and rules; print each");
  app.add_option("--expect", c.expect_file, "with --test: compare with this file, exit 1 if not");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    return {std::nullopt, 0, app.help()};
  } catch (const CLI::ParseError& e) {
    return {std::nullopt, 2, std::string(e.what()) + "\n"};
  }
  auto bad = [](const std::string& what) { return parse_outcome{std::nullopt, 2, what + "\n"}; };
  if (!config_path.empty()) {
    auto text = weir::read_file(config_path, 16 << 20);
    if (!text) return bad(text.error().message());
    if (auto r = apply_toml(c, *text, config_path); !r) return bad(r.error().message());
    c.config_file = config_path;
  }
  if (!topic.empty()) c.default_topic = topic;
  if (!quarantine.empty()) c.pipe.quarantine_topic = quarantine;
  if (!payload_text.empty()) {
    auto p = parse_payload(payload_text);
    if (!p) return bad("--payload: expected raw, msg or json, got \"" + payload_text + "\"");
    c.pipe.payload = *p;
  }
  if (!key_template.empty()) c.pipe.key = key_template;
  if (!brokers.empty()) c.kafka.brokers = brokers;
  if (!compression.empty()) c.kafka.compression = compression;
  if (linger >= 0) c.kafka.linger_ms = linger;
  for (const std::string& p : props) {
    const std::size_t eq = p.find('=');
    if (eq == std::string::npos || eq == 0)
      return bad("--kafka-property: expected KEY=VALUE, got \"" + p + "\"");
    c.kafka.properties.emplace_back(p.substr(0, eq), p.substr(eq + 1));
  }
  if (!budget.empty()) {
    auto v = weir::parse_size(budget);
    if (!v || *v < 64 * 1024) return bad("--memory-budget: expected a size of at least 64KiB");
    c.pipe.memory_budget = *v;
  }
  if (!max_message.empty()) {
    auto v = weir::parse_size(max_message);
    if (!v || *v < 480 || *v > (16u << 20))
      return bad("--max-message: expected a size in [480, 16MiB]");
    c.limits.max_message = *v;
  }
  if (max_connections) c.limits.max_connections = max_connections;
  if (!idle.empty()) {
    auto v = weir::parse_duration(idle);
    if (!v || v->count() == 0) return bad("--idle-timeout: expected a duration such as \"10m\"");
    c.limits.idle_timeout = *v;
  }
  if (!drain.empty()) {
    auto v = weir::parse_duration(drain);
    if (!v) return bad("--drain-timeout: expected a duration such as \"10s\"");
    c.drain_timeout = *v;
  }
  if (!spool_dir.empty()) c.spool.dir = spool_dir;
  if (!spool_max.empty()) {
    auto v = weir::parse_size(spool_max);
    if (!v || *v < (1u << 20)) return bad("--spool-max-bytes: expected a size of at least 1MiB");
    c.spool.max_bytes = *v;
  }
  if (!spool_fsync.empty()) {
    auto f = parse_fsync(spool_fsync);
    if (!f) return bad("--spool-fsync: expected always, interval or never");
    c.spool.fsync = *f;
  }
  framing fr = framing::detect;
  if (!framing_text.empty()) {
    auto f = parse_framing(framing_text);
    if (!f) return bad("--framing: expected detect, octet_counting or newline");
    fr = *f;
  }
  for (const auto& a : tcp)
    c.inputs.push_back({.kind = input_spec::kind_t::tcp, .address = a, .framing = fr});
  for (const auto& a : udp) c.inputs.push_back({.kind = input_spec::kind_t::udp, .address = a});
  for (const auto& a : unix_paths)
    c.inputs.push_back({.kind = input_spec::kind_t::unix_datagram, .address = a});
  for (const auto& a : tls) {
    if (cert.empty() || key.empty()) return bad("--tls: needs --cert FILE and --key FILE");
    c.inputs.push_back({.kind = input_spec::kind_t::tls,
                        .address = a,
                        .framing = fr,
                        .cert_file = cert,
                        .key_file = key,
                        .client_ca_file = client_ca,
                        .require_client_cert = require_client_cert});
  }
  if (require_client_cert && client_ca.empty())
    return bad("--require-client-cert: needs --client-ca FILE");
  if (!c.compiled) {  // no file: no rules, everything to the default topic
    auto r = rules::compile({}, c.default_topic);
    if (!r) return bad("--topic: " + std::string(r.error().context()));
    c.compiled = std::move(*r);
  } else if (!topic.empty()) {  // the file's rules with this default topic
    auto r = c.compiled->with_default_topic(c.default_topic);
    if (!r) return bad("--topic: " + std::string(r.error().context()));
    c.compiled = std::move(*r);
  }
  if (auto why = check_whole(c)) return bad(*why);
  return {std::move(c), 0, {}};
}

}  // namespace logship
