// logship — seed 003's syslog-to-Kafka forwarder, losing nothing. See config.hpp for the
// flags and the TOML file, pipeline.hpp for the accounting, inputs.hpp and kafka.hpp for the
// two ends.
//
//   logship --tcp 127.0.0.1:5140 --brokers 127.0.0.1:9092 --topic syslog
//   logship --config logship.toml
//   logship --embedded-kafka --tcp 127.0.0.1:5140     # librdkafka's mock cluster, in-process
//   logship --config logship.toml --test lines.txt [--expect golden.txt]
//
// Prints "listening on INPUT, ... admin ADDR|off kafka BOOTSTRAP" on stdout once it serves;
// logs (logfmt) on stderr. SIGTERM / SIGINT: stop accepting, read what peers already sent,
// deliver everything, exit 0; at the drain deadline (or a second signal) what is left goes to
// the spool (--spool: exit 0, replayed by the next run), or is counted
// dropped{reason="shutdown"} (exit 1). SIGHUP: read the TLS certificates again.
#include "config.hpp"
#include "framing.hpp"
#include "inputs.hpp"
#include "kafka.hpp"
#include "pipeline.hpp"
#include "tap.hpp"
#include "template.hpp"

#include <weir/core/file.hpp>
#include <weir/core/log.hpp>
#include <weir/core/runtime.hpp>
#include <weir/core/spawn.hpp>
#include <weir/debug/admin.hpp>
#include <weir/io/signal.hpp>
#include <weir/net/socket.hpp>

#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <optional>

namespace {

using namespace std::chrono_literals;

// Bytes as a reader can see them: printable ASCII as is, the rest \xNN (a frame may hold
// anything).
std::string visible(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '\\')
      out += "\\\\";
    else if (c >= 0x20 && c < 0x7f)
      out += static_cast<char>(c);
    else
      out += fmt::format("\\x{:02x}", c);
  }
  return out;
}

// --test: each frame of `wire`, what the parser and the rules make of it.
std::string explain_all(const logship::pipeline& p, std::string_view wire,
                        std::size_t max_message) {
  std::string out;
  logship::framer f(logship::framing::detect, max_message);
  std::size_t n = 0;
  auto one = [&](std::string_view frame, bool truncated) {
    logship::pipeline::trace t;
    p.explain(frame, truncated, t);
    out += fmt::format("line {}: {}\n", ++n, visible(frame));
    if (t.refused) {
      out += fmt::format("  not syslog: {}\n", t.refused);
    } else {
      static constexpr const char* formats[] = {"rfc5424", "rfc3164", "bare"};
      out += fmt::format("  parsed {}:", formats[static_cast<int>(t.message.format)]);
      for (const char* v :
           {"facility", "severity", "timestamp", "hostname", "appname", "procid", "msgid"}) {
        std::string val;
        if (logship::syslog_variable(t.message, v, val))
          out += fmt::format(" {}={}", v, visible(val));
      }
      for (const auto& e : t.message.sd)
        for (const auto& prm : e.params)
          out += fmt::format(" sd.{}.{}={}", e.id, prm.name, visible(prm.value()));
      out += fmt::format("\n  msg: {}\n", visible(t.message.msg));
      out += "  rules:";
      if (t.matched.empty()) out += " none";
      for (unsigned i : t.matched) out += fmt::format(" {}", p.rule_set().name(i));
      out += '\n';
    }
    if (t.dropped) {
      out += "  dropped by a rule\n";
      return;
    }
    out += fmt::format("  -> topic {}", t.rec.topic);
    if (!t.rec.key.empty()) out += fmt::format(" key {}", visible(t.rec.key));
    for (const auto& [k, v] : t.rec.headers) out += fmt::format(" header {}={}", k, visible(v));
    out += fmt::format("\n  payload: {}\n", visible(t.rec.payload));
  };
  std::size_t at = 0;
  for (;;) {
    logship::frame fr;
    const std::size_t used = f.next(wire.substr(at), fr);
    if (!used) break;
    if (fr.present) one(fr.bytes, fr.truncated);
    at += used;
  }
  logship::frame fr;
  f.finish(wire.substr(at), fr);
  if (fr.present) one(fr.bytes, fr.truncated);
  return out;
}

int run_test(const logship::config& c) {
  auto wire = weir::read_file(c.test_file, 256 << 20);
  if (!wire) {
    std::fprintf(stderr, "%s\n", wire.error().message().c_str());
    return 2;
  }
  logship::memory_sink none;
  auto p = logship::pipeline::create(c.pipe, *c.compiled, none);
  if (!p) {
    std::fprintf(stderr, "%s\n", p.error().message().c_str());
    return 2;
  }
  const std::string got = explain_all(**p, *wire, c.limits.max_message);
  if (c.expect_file.empty()) {
    std::fputs(got.c_str(), stdout);
    return 0;
  }
  auto want = weir::read_file(c.expect_file, 256 << 20);
  if (!want) {
    std::fprintf(stderr, "%s\n", want.error().message().c_str());
    return 2;
  }
  if (*want == got) {
    std::printf("%s: as expected\n", c.test_file.c_str());
    return 0;
  }
  // The first line that differs, with both versions.
  std::size_t line = 1, i = 0;
  while (i < got.size() && i < want->size() && got[i] == (*want)[i]) line += got[i++] == '\n';
  auto line_at = [&](const std::string& s) {
    std::size_t b = s.rfind('\n', i == 0 ? 0 : i - 1);
    b = (b == std::string::npos || i == 0) ? 0 : b + 1;
    return s.substr(b, s.find('\n', b) - b);
  };
  std::fprintf(stderr, "%s:%zu: differs\n  expected: %s\n  got:      %s\n", c.expect_file.c_str(),
               line, line_at(*want).c_str(), line_at(got).c_str());
  return 1;
}

weir::task<> reload_on_sighup(weir::io::signal_set& hup, logship::inputs* in) {
  for (;;) {  // (not `while (co_await ...)`: g++ 12 miscompiles a co_await in a condition)
    auto sig = co_await hup.wait();
    if (!sig) co_return;
    (void)in->reload_tls();
  }
}

// The drain deadline: past it, delivery stops and what is left is counted undelivered.
weir::task<> stop_delivery_after(weir::clock::duration d, logship::sink& sink) {
  auto slept = co_await weir::sleep_for(d);
  if (!slept) co_return;  // cancelled: everything was delivered in time
  weir::log::warn("drain deadline passed: stopping delivery", {});
  sink.stop();
}

weir::task<> on_signals(weir::io::signal_set& stop, weir::io::signal_set& hup, logship::sink& sink,
                        logship::inputs& in, weir::clock::duration drain_timeout) {
  auto reloading = weir::spawn(reload_on_sighup(hup, &in), "SIGHUP");
  auto sig = co_await stop.wait();
  reloading.cancel();
  if (!sig) co_return;
  weir::log::info("stopping: reading what peers sent, delivering everything",
                  {{"signal", *sig == SIGINT ? "SIGINT" : "SIGTERM"}});
  in.stop();
  auto deadline = weir::spawn(stop_delivery_after(drain_timeout, sink), "drain deadline");
  auto second = co_await stop.wait();
  deadline.cancel();
  if (second) {
    weir::log::warn("second signal: stopping delivery now", {});
    sink.stop();
  }
}

weir::task<int> serve(const logship::config& c, weir::runtime& rt, weir::io::signal_set& stop,
                      weir::io::signal_set& hup, logship::sink& sink, const std::string& bootstrap,
                      std::optional<weir::debug::admin_options> admin_opts, logship::spool* disk) {
  logship::tap_hub taps;  // /debug/tap; outlives the admin endpoint below
  logship::pipeline_options po = c.pipe;
  po.spool = disk;
  po.tap = &taps;
  auto p = logship::pipeline::create(po, *c.compiled, sink);
  if (!p) {
    weir::log::error("bad configuration", {{"error", p.error().message()}});
    co_return 2;
  }
  logship::pipeline& pipe = **p;
  auto in = logship::inputs::bind(c.inputs, c.limits, pipe);
  if (!in) {
    weir::log::error("cannot listen", {{"error", in.error().message()}});
    co_return 1;
  }
  if (admin_opts) admin_opts->routes.push_back({"/debug/tap", taps.handler()});
  auto started = weir::debug::start_admin(rt, std::move(admin_opts));
  if (!started) {
    weir::log::error("cannot start the admin endpoint", {{"error", started.error().message()}});
    co_return 1;
  }
  std::unique_ptr<weir::debug::admin_server> admin = std::move(*started);
  if (admin) {
    admin->add_metrics([&pipe](weir::metrics::prometheus_writer& w) { pipe.write_prometheus(w); });
  }
  std::string names;
  const std::vector<std::string> input_names = (*in)->names();  // g++ 12: no temporary range
  for (const std::string& n : input_names) names += (names.empty() ? "" : ", ") + n;
  const std::string admin_text = admin ? admin->address().to_string() : "off";
  std::printf("listening on %s admin %s kafka %s\n", names.c_str(), admin_text.c_str(),
              bootstrap.c_str());
  std::fflush(stdout);
  weir::log::info("listening", {{"inputs", names},
                                {"admin", admin_text},
                                {"kafka", bootstrap},
                                {"rules", std::to_string(c.compiled->size())},
                                {"default_topic", c.compiled->default_topic()},
                                {"memory_budget", std::to_string(c.pipe.memory_budget)},
                                {"reactor", rt.backend_name()}});

  auto signals = weir::spawn(on_signals(stop, hup, sink, **in, c.drain_timeout), "signals");
  auto replaying = weir::spawn(pipe.replay(), "spool replay");
  co_await (*in)->run();  // returns once stopped and every connection has closed
  pipe.stop_replay();     // what the spool holds stays there for the next run
  (void)co_await replaying;
  // (the drain deadline, counted from the signal, is on_signals' business; this one bounds
  // what is left once the sink was stopped)
  const bool all = co_await pipe.drain(c.drain_timeout);
  signals.cancel();
  (void)co_await signals;
  const auto t = pipe.counts();
  const std::uint64_t undelivered = pipe.dropped(logship::drop_reason::shutdown);
  const std::string broken = pipe.check_invariant();
  const bool clean = all && undelivered == 0 && broken.empty();
  weir::log::write(clean ? weir::log::level::info : weir::log::level::error, "stopped",
                   {{"received", std::to_string(t.received)},
                    {"delivered", std::to_string(t.delivered)},
                    {"quarantined", std::to_string(t.quarantined)},
                    {"dropped", std::to_string(t.dropped)},
                    {"spooled", std::to_string(t.spooled)},
                    {"undelivered", std::to_string(undelivered)},
                    {"invariant", broken.empty() ? "holds" : broken}});
  co_return clean ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  logship::parse_outcome parsed = logship::parse_command_line(argc, argv);
  if (!parsed.cfg) {
    std::fputs(parsed.message.c_str(), parsed.exit_code == 0 ? stdout : stderr);
    return parsed.exit_code;
  }
  const logship::config& c = *parsed.cfg;
  weir::log::set_level(weir::log::parse_level(c.log_level).value_or(weir::log::level::info));
  if (!c.test_file.empty()) return run_test(c);
  if (c.check) {
    logship::memory_sink none;
    auto p = logship::pipeline::create(c.pipe, *c.compiled, none);
    if (!p) {
      std::fprintf(stderr, "%s: %s\n", c.config_file.empty() ? "flags" : c.config_file.c_str(),
                   p.error().message().c_str());
      return 2;
    }
    std::printf("%s: ok: %zu inputs, %zu rules, default topic %s, quarantine topic %s\n",
                c.config_file.empty() ? "flags" : c.config_file.c_str(), c.inputs.size(),
                c.compiled->size(), c.compiled->default_topic().c_str(),
                c.pipe.quarantine_topic.c_str());
    return 0;
  }
  auto admin = weir::debug::admin_options_from(c.admin, c.admin_token_file);
  if (!admin) {
    weir::log::error("bad admin settings", {{"error", admin.error().message()}});
    return 2;
  }
  weir::net::raise_fd_limit();
  weir::io::signal_set stop({SIGINT, SIGTERM});  // before any thread: all inherit the mask
  weir::io::signal_set hup({SIGHUP});
  std::unique_ptr<logship::mock_cluster> mock;
  logship::kafka_options ko = c.kafka;
  if (c.embedded_kafka) {
    auto m = logship::mock_cluster::start(3);
    if (!m) {
      weir::log::error("cannot start the embedded Kafka", {{"error", m.error().message()}});
      return 1;
    }
    mock = std::move(*m);
    ko.brokers = mock->bootstrap();
    weir::log::info("embedded kafka (librdkafka's mock cluster)", {{"bootstrap", ko.brokers}});
  }
  std::unique_ptr<logship::spool> disk;
  if (!c.spool.dir.empty()) {
    auto opened = logship::spool::open(c.spool);
    if (!opened) {
      weir::log::error("cannot open the spool", {{"error", opened.error().message()}});
      return 1;
    }
    disk = std::move(*opened);
    weir::log::info("spool", {{"dir", c.spool.dir},
                              {"records", std::to_string(disk->records())},
                              {"bytes", std::to_string(disk->bytes())},
                              {"corrupt_bytes_cut", std::to_string(disk->corrupt_bytes())}});
  }
  if (const char* f = std::getenv("LOGSHIP_TEST_FATAL_AFTER"))  // tests only (kafka.hpp)
    ko.test_fatal_after = std::strtoull(f, nullptr, 10);
  // librdkafka's queue holds at least what the budget lets in, so the budget is what binds.
  ko.queue_bytes = std::max(ko.queue_bytes, c.pipe.memory_budget * 2);
  auto sink = logship::kafka_sink::create(ko);
  if (!sink) {
    weir::log::error("cannot start the Kafka producer", {{"error", sink.error().message()}});
    return 2;
  }
  int rc;
  {
    weir::runtime_options ro;
    ro.shards = 1;  // the forwarder's work is per line and light: librdkafka's threads do the rest
    ro.backend = c.reactor == "auto" ? "" : c.reactor;
    weir::runtime rt(std::move(ro));
    rc = rt.block_on(serve(c, rt, stop, hup, **sink, ko.brokers, std::move(*admin), disk.get()),
                     "logship");
  }
  sink->reset();  // flushes nothing more: every record is delivered, spooled or counted
  if (disk) (void)disk->sync();
  return rc;
}
