// libFuzzer target for logship's syslog framing and parser (apps/logship/framing.hpp,
// syslog.hpp).
//
// Framing, differential: the input (after two bytes choosing the mode and the size limit) is
// framed whole and cut into pieces at points drawn from the input itself; both must give the
// same frames, each within the limit. Parser: every frame, and the input itself, is parsed.
// Rules: the input is also compiled as a template and as a JMESPath expression, and what
// compiles is rendered / evaluated (on the input's own JSON when it is JSON).
// Every view the parser returns must lie inside the frame; a refusal must come with a reason
// and a parse with sane numbers (facility 0-23, severity 0-7, a valid timestamp); parsing is a
// pure function (the same frame twice gives the same fields); the renderings (ISO 8601, SD
// values) must not fail. Any mismatch aborts.
//
//   build/asan/fuzz/syslog_fuzz fuzz/corpus/syslog -max_total_time=60
#include "framing.hpp"
#include "jmespath.hpp"
#include "syslog.hpp"
#include "template.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "syslog_fuzz: %s\n", what);
    std::abort();
  }
}

void inside(std::string_view v, std::string_view frame) {
  if (v.empty()) return;
  check(v.data() >= frame.data() && v.data() + v.size() <= frame.data() + frame.size(),
        "view outside the frame");
}

int parse_one(std::string_view frame) {
  logship::syslog_message m;
  const char* why = logship::parse_syslog(frame, m);
  logship::syslog_message again;
  check(logship::parse_syslog(frame, again) == why, "not a pure function");
  if (why) {
    check(*why != '\0', "a refusal without a reason");
    return 0;
  }
  check(m.facility >= 0 && m.facility <= 23 && m.severity >= 0 && m.severity <= 7, "PRI range");
  for (std::string_view v : {m.hostname, m.appname, m.procid, m.msgid, m.msg}) inside(v, frame);
  check(m.msg == again.msg && m.hostname == again.hostname && m.sd.size() == again.sd.size(),
        "two parses differ");
  const logship::syslog_time& t = m.timestamp;
  if (t.present) {
    check(t.month >= 1 && t.month <= 12 && t.day >= 1 && t.day <= 31 && t.hour <= 23 &&
              t.minute <= 59 && t.second <= 60 && t.nanos < 1'000'000'000u,
          "timestamp range");
    check(!t.iso8601().empty(), "empty ISO 8601 rendering");
  }
  for (const auto& e : m.sd) {
    inside(e.id, frame);
    for (const auto& p : e.params) {
      inside(p.name, frame);
      inside(p.raw, frame);
      check(p.value().size() <= p.raw.size(), "unescaping grew a value");
    }
  }
  return 0;
}

// The frames of `stream` fed in the given pieces ("T:" truncated, "E:" an error).
std::vector<std::string> frames(logship::framing mode, std::size_t max, std::string_view stream,
                                const std::vector<std::size_t>& cuts) {
  logship::framer f(mode, max);
  std::vector<std::string> got;
  std::string buf;
  std::size_t at = 0;
  auto take = [&](const logship::frame& fr) {
    if (fr.error) got.push_back(std::string("E:") + fr.error);
    if (fr.present) {
      check(fr.bytes.size() <= max, "a frame over the limit");
      got.push_back((fr.truncated ? "T:" : "") + std::string(fr.bytes));
    }
  };
  for (std::size_t k = 0; k <= cuts.size(); ++k) {
    const std::size_t end = k < cuts.size() ? cuts[k] : stream.size();
    buf.append(stream.substr(at, end - at));
    at = end;
    for (;;) {
      logship::frame fr;
      const std::size_t used = f.next(buf, fr);
      if (!used) break;
      check(used <= buf.size(), "consumed more than it had");
      take(fr);
      buf.erase(0, used);
      if (fr.error) return got;
    }
  }
  logship::frame fr;
  f.finish(buf, fr);
  take(fr);
  return got;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size >= 2) {
    const auto mode = static_cast<logship::framing>(data[0] % 3);
    const std::size_t max = 1 + data[1] % 64;
    const std::string_view stream(reinterpret_cast<const char*>(data) + 2, size - 2);
    std::vector<std::size_t> cuts;
    for (std::size_t i = 0; i < stream.size() && cuts.size() < 8; i += 1 + (data[i % size] % 7))
      cuts.push_back(i);
    const auto whole = frames(mode, max, stream, {});
    check(frames(mode, max, stream, cuts) == whole, "framing depends on how the bytes arrive");
    for (const std::string& f : whole) parse_one(f);
  }
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto t = logship::template_text::compile(text, logship::is_syslog_variable)) {
    logship::syslog_message m;
    (void)logship::parse_syslog(text, m);
    std::string out;
    t->render(
        out, [&](std::string_view n, std::string& o) { return logship::syslog_variable(m, n, o); });
  }
  if (auto q = logship::jmespath::compile(text)) {
    (void)q->evaluate(R"({"a":{"b":[1,"x",{"c":true}]},"items":[{"k":"x"},{"k":"y"}]})");
    (void)q->evaluate(text);
  }
  return parse_one(text);
}
