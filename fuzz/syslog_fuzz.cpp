// libFuzzer target for logship's syslog parser (apps/logship/syslog.hpp).
//
// Every view the parser returns must lie inside the frame; a refusal must come with a reason
// and a parse with sane numbers (facility 0-23, severity 0-7, a valid timestamp); parsing is a
// pure function (the same frame twice gives the same fields); the renderings (ISO 8601, SD
// values) must not fail. Any mismatch aborts.
//
//   build/asan/fuzz/syslog_fuzz fuzz/corpus/syslog -max_total_time=60
#include "syslog.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view frame(reinterpret_cast<const char*>(data), size);
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
