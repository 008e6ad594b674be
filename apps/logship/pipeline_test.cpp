// The pipeline over a memory sink: what a frame becomes, the accounting invariant in every
// outcome (delivered, quarantined, dropped by a rule, over the budget, undelivered at exit), and
// the memory budget's backpressure.
#include "pipeline.hpp"

#include "rules_file.hpp"

#include <weir/core/runtime.hpp>
#include <weir/core/spawn.hpp>
#include <weir/testing/co_assert.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace logship {
namespace {

using namespace std::chrono_literals;

rules load(std::string_view toml) {
  auto r = load_rules(toml, "test.toml");
  EXPECT_TRUE(r) << (r ? "" : r.error().message());
  return std::move(*r);
}

struct harness {
  memory_sink sink;
  std::unique_ptr<pipeline> p;
  input_counters* in = nullptr;
  explicit harness(pipeline_options o = {}, std::string_view rules_toml = "") {
    auto made = pipeline::create(std::move(o), load(rules_toml), sink);
    EXPECT_TRUE(made) << (made ? "" : made.error().message());
    p = std::move(*made);
    in = &p->add_input("test");
  }
  // Takes the frames as one batch and ships it (not a coroutine: the frames are read now).
  // Variadic, not a braced list: g++ 12 cannot put an initializer_list in a coroutine frame.
  template <class... Frames>
  weir::task<> feed_as(when_full full, Frames... frames) {
    std::vector<record> batch;
    for (std::string_view f : {std::string_view(frames)...}) p->take(f, false, *in, batch);
    return p->ship(std::move(batch), full);
  }
  template <class... Frames>
  weir::task<> feed(Frames... frames) {
    return feed_as(when_full::wait, frames...);
  }
};

TEST(Pipeline, DeliversRawLinesAndKeepsTheInvariant) {
  weir::runtime rt({.shards = 1});
  harness h;
  rt.block_on([&]() -> weir::task<> {
    co_await h.feed("<13>1 2024-05-01T12:00:00Z host app 7 - - hello",
                    "<13>May  1 12:00:00 h t: x");
    CO_ASSERT_TRUE(co_await h.p->drain(5s));
  }());
  ASSERT_EQ(h.sink.delivered.size(), 2u);
  EXPECT_EQ(h.sink.delivered[0].topic, "syslog");
  EXPECT_EQ(h.sink.delivered[0].payload, "<13>1 2024-05-01T12:00:00Z host app 7 - - hello");
  EXPECT_TRUE(h.sink.delivered[0].headers.empty());
  const auto t = h.p->counts();
  EXPECT_EQ(t.received, 2u);
  EXPECT_EQ(t.delivered, 2u);
  EXPECT_EQ(t.in_flight, 0u);
  EXPECT_EQ(h.p->check_invariant(), "");
  EXPECT_EQ(h.in->received.load(), 2u);
}

TEST(Pipeline, QuarantinesWhatIsNotSyslogWithTheReason) {
  weir::runtime rt({.shards = 1});
  harness h;
  rt.block_on([&]() -> weir::task<> {
    co_await h.feed("<999>1 - - - - - - x", "<13>1 - h a - - - fine");
    (void)co_await h.p->drain(5s);
  }());
  ASSERT_EQ(h.sink.delivered.size(), 2u);
  const record& q = h.sink.delivered[0];
  EXPECT_EQ(q.topic, "syslog-unparsed");
  EXPECT_EQ(q.payload, "<999>1 - - - - - - x");
  ASSERT_GE(q.headers.size(), 2u);
  EXPECT_EQ(q.headers[0].first, "logship-reason");
  EXPECT_FALSE(q.headers[0].second.empty());
  EXPECT_EQ(q.headers[1], (std::pair<std::string, std::string>("logship-input", "test")));
  const auto t = h.p->counts();
  EXPECT_EQ(t.quarantined, 1u);
  EXPECT_EQ(t.delivered, 1u);
  EXPECT_EQ(h.p->check_invariant(), "");
  weir::metrics::prometheus_writer w;
  h.p->write_prometheus(w);
  const std::string text = w.take();
  EXPECT_NE(
      text.find("logship_quarantined_by_reason_total{reason=\"" + q.headers[0].second + "\"} 1"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("logship_accounting_difference 0\n"), std::string::npos) << text;
}

TEST(Pipeline, RulesRouteRewriteAndDropAndEachIsCounted) {
  weir::runtime rt({.shards = 1});
  harness h({.payload = payload_mode::raw}, R"(
[[rules]]
name = "errors"
field = "msg"
jmespath = "level == 'error'"
actions = [ { merge = '{"seen_by":"logship"}' }, { forward = "errors.{{appname}}" } ]
[[rules]]
name = "noise"
regex = '^debug'
actions = [ { drop = true } ]
)");
  rt.block_on([&]() -> weir::task<> {
    co_await h.feed(R"(<11>1 - h web - - - {"level":"error","n":1})",
                    "<15>1 - h web - - - debug chatter", "<13>1 - h web - - - plain");
    (void)co_await h.p->drain(5s);
  }());
  ASSERT_EQ(h.sink.delivered.size(), 2u);
  EXPECT_EQ(h.sink.delivered[0].topic, "errors.web");
  EXPECT_EQ(h.sink.delivered[0].payload, R"({"level":"error","n":1,"seen_by":"logship"})");
  EXPECT_EQ(h.sink.delivered[1].topic, "syslog");  // unmatched: the raw line, default topic
  EXPECT_EQ(h.sink.delivered[1].payload, "<13>1 - h web - - - plain");
  const auto t = h.p->counts();
  EXPECT_EQ(t.received, 3u);
  EXPECT_EQ(t.dropped, 1u);
  EXPECT_EQ(h.p->check_invariant(), "");
  weir::metrics::prometheus_writer w;
  h.p->write_prometheus(w);
  const std::string text = w.take();
  EXPECT_NE(text.find("logship_rule_matches_total{rule=\"errors\"} 1"), std::string::npos);
  EXPECT_NE(text.find("logship_rule_matches_total{rule=\"noise\"} 1"), std::string::npos);
  EXPECT_NE(text.find("logship_dropped_total{reason=\"rule\"} 1"), std::string::npos);
  EXPECT_NE(text.find("logship_topic_delivered_total{topic=\"errors.web\"} 1"), std::string::npos);
}

TEST(Pipeline, PayloadModesKeyAndHeaders) {
  weir::runtime rt({.shards = 1});
  harness h({.payload = payload_mode::json,
             .key = "{{hostname}}",
             .headers = {{"app", "{{appname}}"}, {"sev", "{{severity}}"}}});
  rt.block_on([&]() -> weir::task<> {
    co_await h.feed(R"(<11>1 2024-05-01T12:00:00.5+02:00 h1 web 42 ID7 [ex@1 a="x\"y"] hi "you")");
    (void)co_await h.p->drain(5s);
  }());
  ASSERT_EQ(h.sink.delivered.size(), 1u);
  const record& r = h.sink.delivered[0];
  EXPECT_EQ(r.key, "h1");
  EXPECT_EQ(r.headers,
            (std::vector<std::pair<std::string, std::string>>{{"app", "web"}, {"sev", "err"}}));
  EXPECT_EQ(r.payload,
            R"({"facility":"user","severity":"err","timestamp":"2024-05-01T12:00:00.5+02:00",)"
            R"("hostname":"h1","appname":"web","procid":"42","msgid":"ID7",)"
            R"("sd":{"ex@1":{"a":"x\"y"}},"msg":"hi \"you\""})");
}

TEST(Pipeline, ARenderedTopicKafkaWouldRefuseIsQuarantined) {
  weir::runtime rt({.shards = 1});
  harness h({}, R"(
[[rules]]
regex = '.'
actions = [ { forward = "logs.{{hostname}}" } ]
)");
  rt.block_on([&]() -> weir::task<> {
    co_await h.feed("<13>1 - bad/host app - - - x");
    (void)co_await h.p->drain(5s);
  }());
  ASSERT_EQ(h.sink.delivered.size(), 1u);
  EXPECT_EQ(h.sink.delivered[0].topic, "syslog-unparsed");
  EXPECT_EQ(h.sink.delivered[0].headers[0].second, "invalid topic");
  EXPECT_EQ(h.sink.delivered[0].headers.back().second, "logs.bad/host");
  EXPECT_EQ(h.p->check_invariant(), "");
}

TEST(Pipeline, RetriesUntilTheSinkRecovers) {
  weir::runtime rt({.shards = 1});
  harness h;
  h.sink.fail_next = 5;  // an outage of five attempts
  rt.block_on([&]() -> weir::task<> {
    co_await h.feed("<13>1 - h a - - - one", "<13>1 - h a - - - two");
    CO_ASSERT_TRUE(co_await h.p->drain(5s));
  }());
  EXPECT_EQ(h.sink.retries, 5);
  EXPECT_EQ(h.sink.delivered.size(), 2u);
  EXPECT_EQ(h.p->counts().delivered, 2u);
}

// With the budget full, a stream input waits (and reads nothing meanwhile); a datagram input
// drops, counted. The budget comes back as records are delivered.
TEST(Pipeline, MemoryBudgetWaitsForStreamsAndDropsDatagrams) {
  weir::runtime rt({.shards = 1});
  harness h({.memory_budget = 64 * 1024});
  h.sink.fail_next = 1'000'000;  // the broker is down
  h.sink.retry_delay = 1ms;
  const std::string big = "<13>1 - h a - - - " + std::string(40 * 1024, 'x');
  bool second_shipped = false;
  rt.block_on([&]() -> weir::task<> {
    co_await h.feed(big);  // 40 KiB of the 64 in flight
    // Parameters, not captures: the closure is gone once spawn() returns.
    auto waiting = weir::spawn(
        [](harness& h, std::string line, bool& shipped) -> weir::task<> {
          co_await h.feed(line);
          shipped = true;
        }(h, big, second_shipped),
        "stream");
    (void)co_await weir::sleep_for(20ms);
    CO_ASSERT_FALSE(second_shipped) << "a stream input must wait for room";
    co_await h.feed_as(when_full::drop, big);  // a datagram: dropped
    EXPECT_EQ(h.p->counts().dropped, 1u);
    EXPECT_EQ(h.p->check_invariant(), "");
    h.sink.fail_next = 0;  // the broker is back
    (void)co_await waiting;
    CO_ASSERT_TRUE(second_shipped);
    CO_ASSERT_TRUE(co_await h.p->drain(5s));
  }());
  EXPECT_EQ(h.sink.delivered.size(), 2u);
  EXPECT_EQ(h.p->budget_available(), 64u * 1024);
  EXPECT_EQ(h.p->check_invariant(), "");
}

TEST(Pipeline, DrainDeadlineCountsWhatIsUndelivered) {
  weir::runtime rt({.shards = 1});
  harness h;
  h.sink.fail_next = 1'000'000;
  rt.block_on([&]() -> weir::task<> {
    co_await h.feed("<13>1 - h a - - - one", "<13>1 - h a - - - two");
    CO_ASSERT_FALSE(co_await h.p->drain(30ms));
  }());
  const auto t = h.p->counts();
  EXPECT_EQ(t.received, 2u);
  EXPECT_EQ(t.dropped, 2u);
  EXPECT_EQ(t.in_flight, 0u);
  EXPECT_EQ(h.p->check_invariant(), "");
}

// rsyslog's omfwd puts the line's LF inside an octet-counted frame; it is not part of the line.
TEST(Pipeline, ATrailingLfInsideAFrameIsDropped) {
  weir::runtime rt({.shards = 1});
  harness h;
  rt.block_on([&]() -> weir::task<> {
    co_await h.feed("<13>1 - h a - - - with lf\n", "<13>1 - h a - - - with crlf\r\n");
    (void)co_await h.p->drain(5s);
  }());
  ASSERT_EQ(h.sink.delivered.size(), 2u);
  EXPECT_EQ(h.sink.delivered[0].payload, "<13>1 - h a - - - with lf");
  EXPECT_EQ(h.sink.delivered[1].payload, "<13>1 - h a - - - with crlf");
}

TEST(Pipeline, TruncatedFramesAreDeliveredFlagged) {
  weir::runtime rt({.shards = 1});
  harness h;
  rt.block_on([&]() -> weir::task<> {
    std::vector<record> batch;
    h.p->take("<13>1 - h a - - - cut her", true, *h.in, batch);
    co_await h.p->ship(std::move(batch), when_full::wait);
    (void)co_await h.p->drain(5s);
  }());
  ASSERT_EQ(h.sink.delivered.size(), 1u);
  EXPECT_EQ(h.sink.delivered[0].headers.back(),
            (std::pair<std::string, std::string>("logship-truncated", "true")));
  EXPECT_EQ(h.in->truncated.load(), 1u);
}

TEST(Pipeline, BadTemplatesAndTopicsAreRefusedAtCreation) {
  memory_sink s;
  auto bad_key = pipeline::create({.key = "{{hostnme}}"}, load(""), s);
  ASSERT_FALSE(bad_key);
  EXPECT_NE(bad_key.error().message().find("key template"), std::string::npos);
  auto bad_header = pipeline::create({.headers = {{"h", "{{"}}}, load(""), s);
  ASSERT_FALSE(bad_header);
  EXPECT_NE(bad_header.error().message().find("header \"h\""), std::string::npos);
  auto bad_q = pipeline::create({.quarantine_topic = "no spaces"}, load(""), s);
  ASSERT_FALSE(bad_q);
}

}  // namespace
}  // namespace logship
