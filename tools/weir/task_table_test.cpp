#include "task_table.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace weir::tool {
namespace {

// The contract's example, grown: every state, a stuck shard, a task id past 2^32, a long
// context, fields missing, an unknown field.
constexpr std::string_view sample = R"json({
  "pid": 4242, "time_ms": 1763700000000, "backend": "io_uring", "version": "0.1.0",
  "shards": [
    {"id": 0, "stuck": false, "running_task": 0, "run_ms": 0.0, "tasks": 4,
     "runs": 123456, "coop_yields": 3, "stalls": 0},
    {"id": 1, "stuck": true, "running_task": 17, "run_ms": 1234.5, "tasks": 2,
     "runs": 99, "coop_yields": 0, "stalls": 1}
  ],
  "lost_wakeups": 2, "stalls": 1,
  "tasks": [
    {"id": 281474976710657, "shard": 0, "parent": 0, "name": "http connection",
     "state": "waiting", "spawn": "apps/x/main.cpp:42", "await": "weir/http/connection.cpp:310",
     "wait": "read fd 12 (127.0.0.1:50412)", "wait_ms": 2103.4, "runs": 17, "busy_ms": 0.42,
     "context": "127.0.0.1:50412 GET /kv/a"},
    {"id": 2, "shard": 0, "name": "accept loop", "state": "waiting",
     "await": "weir/net/tcp.cpp:88", "wait": "accept fd 7", "wait_ms": 60000, "runs": 3,
     "busy_ms": 1.5, "context": ""},
    {"id": 17, "shard": 1, "name": "compaction", "state": "running", "runs": 5000,
     "busy_ms": 1234.5, "context": "segment 42"},
    {"id": 5, "shard": 0, "name": "flusher", "state": "ready", "runs": 250, "busy_ms": 80,
     "wait_ms": 0.2},
    {"id": 9, "shard": 1, "name": "http connection", "state": "waiting",
     "wait": "read fd 15 (127.0.0.1:50999)", "wait_ms": 15.25, "runs": 2000000, "busy_ms": 9.5,
     "context": "127.0.0.1:50999 POST /kv/a-very-long-key-name-that-goes-on-and-on-and-on"},
    {"id": 3, "shard": 0, "name": "timer wheel", "state": "waiting", "wait": "sleep 500 ms",
     "wait_ms": 15.25, "runs": 12, "busy_ms": 0.01, "extra": {"nested": [1, 2, 3]}}
  ]
})json";

task_snapshot parse_sample() {
  auto snap = parse_task_snapshot(sample);
  EXPECT_TRUE(snap.has_value()) << snap.error().message();
  return snap ? *snap : task_snapshot{};
}

std::vector<std::uint64_t> ids(const std::vector<const task_info*>& tasks) {
  std::vector<std::uint64_t> out;
  for (const task_info* t : tasks) out.push_back(t->id);
  return out;
}

TEST(TaskTable, ParsesTheContract) {
  const task_snapshot snap = parse_sample();
  EXPECT_EQ(snap.pid, 4242);
  EXPECT_EQ(snap.time_ms, 1763700000000);
  EXPECT_EQ(snap.backend, "io_uring");
  EXPECT_EQ(snap.lost_wakeups, 2u);
  EXPECT_EQ(snap.stalls, 1u);
  ASSERT_EQ(snap.shards.size(), 2u);
  EXPECT_FALSE(snap.shards[0].stuck);
  EXPECT_EQ(snap.shards[0].runs, 123456u);
  EXPECT_TRUE(snap.shards[1].stuck);
  EXPECT_EQ(snap.shards[1].running_task, 17u);
  EXPECT_DOUBLE_EQ(snap.shards[1].run_ms, 1234.5);

  ASSERT_EQ(snap.tasks.size(), 6u);
  const task_info& t = snap.tasks[0];
  EXPECT_EQ(t.id, 281474976710657u);  // past 2^32
  EXPECT_EQ(t.name, "http connection");
  EXPECT_EQ(t.state, task_state::waiting);
  EXPECT_EQ(t.state_name, "waiting");
  EXPECT_EQ(t.spawn, "apps/x/main.cpp:42");
  EXPECT_EQ(t.await_site, "weir/http/connection.cpp:310");
  EXPECT_EQ(t.wait, "read fd 12 (127.0.0.1:50412)");
  EXPECT_DOUBLE_EQ(t.wait_ms, 2103.4);
  EXPECT_EQ(t.runs, 17u);
  EXPECT_DOUBLE_EQ(t.busy_ms, 0.42);
  EXPECT_EQ(t.context, "127.0.0.1:50412 GET /kv/a");

  EXPECT_DOUBLE_EQ(snap.tasks[1].wait_ms, 60000);  // an integer where a double is expected
  EXPECT_EQ(snap.tasks[2].state, task_state::running);
  EXPECT_EQ(snap.tasks[2].await_site, "");  // missing
  EXPECT_EQ(snap.tasks[2].wait_ms, 0);
  EXPECT_EQ(snap.tasks[3].state, task_state::ready);
  EXPECT_EQ(snap.tasks[3].parent, 0u);
}

TEST(TaskTable, MissingAndMistypedFieldsReadAsEmpty) {
  auto snap = parse_task_snapshot(
      R"({"tasks": [{}, {"id": 7, "name": 12, "state": "parked", "wait_ms": "long",
                     "runs": -3, "busy_ms": true}, 5, "x"], "shards": {}})");
  ASSERT_TRUE(snap) << snap.error().message();
  EXPECT_EQ(snap->pid, 0);
  EXPECT_EQ(snap->backend, "");
  EXPECT_TRUE(snap->shards.empty());
  ASSERT_EQ(snap->tasks.size(), 2u);  // the number and the string are skipped
  EXPECT_EQ(snap->tasks[0].id, 0u);
  EXPECT_EQ(snap->tasks[0].state, task_state::other);
  const task_info& t = snap->tasks[1];
  EXPECT_EQ(t.id, 7u);
  EXPECT_EQ(t.name, "");
  EXPECT_EQ(t.state, task_state::other);
  EXPECT_EQ(t.state_name, "parked");
  EXPECT_EQ(t.wait_ms, 0);
  EXPECT_EQ(t.runs, 0u);
  EXPECT_EQ(t.busy_ms, 0);
}

TEST(TaskTable, RejectsWhatIsNotAnObject) {
  auto r = parse_task_snapshot("{\"tasks\": [");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::invalid_input);
  EXPECT_EQ(r.error().context().substr(0, 10), "bad JSON: ") << r.error().message();
  r = parse_task_snapshot("[1, 2]");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().context(), "bad JSON: not an object");
  EXPECT_FALSE(parse_task_snapshot(""));
  EXPECT_FALSE(parse_task_snapshot("<html>502 Bad Gateway</html>"));
}

TEST(TaskTable, DefaultOrderIsLongestWaitingFirst) {
  const task_snapshot snap = parse_sample();
  // Waiting by wait desc (3 and 9 tie at 15.25 ms: by id), then running, then ready.
  EXPECT_EQ(ids(select_tasks(snap, {})),
            (std::vector<std::uint64_t>{2, 281474976710657, 3, 9, 17, 5}));
  view_options rev;
  rev.reverse = true;
  EXPECT_EQ(ids(select_tasks(snap, rev)),
            (std::vector<std::uint64_t>{5, 17, 9, 3, 281474976710657, 2}));
}

TEST(TaskTable, EverySortKey) {
  const task_snapshot snap = parse_sample();
  view_options v;
  v.sort = sort_key::busy;
  EXPECT_EQ(ids(select_tasks(snap, v)),
            (std::vector<std::uint64_t>{17, 5, 9, 2, 281474976710657, 3}));
  v.sort = sort_key::runs;
  EXPECT_EQ(ids(select_tasks(snap, v)),
            (std::vector<std::uint64_t>{9, 17, 5, 281474976710657, 3, 2}));
  v.sort = sort_key::id;
  EXPECT_EQ(ids(select_tasks(snap, v)),
            (std::vector<std::uint64_t>{2, 3, 5, 9, 17, 281474976710657}));
  v.reverse = true;
  EXPECT_EQ(ids(select_tasks(snap, v)),
            (std::vector<std::uint64_t>{281474976710657, 17, 9, 5, 3, 2}));
  v.reverse = false;
  v.sort = sort_key::name;  // equal names ("http connection") by id
  EXPECT_EQ(ids(select_tasks(snap, v)),
            (std::vector<std::uint64_t>{2, 17, 5, 9, 281474976710657, 3}));
}

TEST(TaskTable, SortKeysCycle) {
  sort_key k = sort_key::wait;
  std::string seen;
  for (int i = 0; i < 5; ++i) {
    seen += std::string(sort_key_name(k)) + " ";
    k = next_sort_key(k);
  }
  EXPECT_EQ(seen, "wait busy runs id name ");
  EXPECT_EQ(k, sort_key::wait);
}

TEST(TaskTable, Filters) {
  const task_snapshot snap = parse_sample();
  view_options v;
  v.waiting_only = true;
  EXPECT_EQ(ids(select_tasks(snap, v)), (std::vector<std::uint64_t>{2, 281474976710657, 3, 9}));
  v.waiting_only = false;
  v.name_filter = "conn";
  EXPECT_EQ(ids(select_tasks(snap, v)), (std::vector<std::uint64_t>{281474976710657, 9}));
  v.name_filter = "Conn";  // case-sensitive, as the service's name= filter
  EXPECT_TRUE(select_tasks(snap, v).empty());
  v.name_filter = "er";
  v.waiting_only = true;
  EXPECT_EQ(ids(select_tasks(snap, v)), (std::vector<std::uint64_t>{3}));
}

TEST(TaskTable, DisplayWidthAndFit) {
  EXPECT_EQ(display_width("abc"), 3u);
  EXPECT_EQ(display_width("weir top — x"), 12u);  // the em dash is one column
  EXPECT_EQ(display_width(""), 0u);

  EXPECT_EQ(fit("hello", 5), "hello");
  EXPECT_EQ(fit("hello!", 5), "hell…");
  EXPECT_EQ(fit("hello", 0), "");
  EXPECT_EQ(fit("日本語", 4), "日…");  // never half a wide character
  EXPECT_EQ(display_width(fit("日本語", 4)), 3u);
  // Nothing the service sends reaches the terminal as a control: ESC, C1, bidi override, bad
  // UTF-8 (a lone continuation byte, an overlong '/') all become '?'.
  EXPECT_EQ(fit("a\x1b[2Jb\n", 20), "a?[2Jb?");
  EXPECT_EQ(fit("x\xc2\x9b"
                "1m",
                20),
            "x?1m");
  EXPECT_EQ(fit("\u202eevil", 20), "?evil");
  EXPECT_EQ(fit("\x80\xc0\xaf", 20), "???");
  EXPECT_EQ(fit("caf\xc3", 20), "caf?");  // cut-off sequence at the end

  EXPECT_EQ(fit_tail("weir/http/connection.cpp:310", 40), "weir/http/connection.cpp:310");
  EXPECT_EQ(fit_tail("weir/http/connection.cpp:310", 20), "…/connection.cpp:310");
  EXPECT_EQ(display_width(fit_tail("weir/http/connection.cpp:310", 20)), 20u);
}

TEST(TaskTable, WidthsFromUnicodeTables) {
  // East Asian wide and fullwidth: two columns (CJK ideographs, kana, Hangul, fullwidth Latin,
  // the ideographic space, a CJK Extension B ideograph).
  EXPECT_EQ(display_width("日本"), 4u);
  EXPECT_EQ(display_width("カタカナ"), 8u);
  EXPECT_EQ(display_width("한국어"), 6u);
  EXPECT_EQ(display_width("ＡＢ"), 4u);
  EXPECT_EQ(display_width("\u3000"), 2u);
  EXPECT_EQ(display_width("\U00020000"), 2u);
  // Combining marks take none, whichever block they come from (the old table knew a few).
  EXPECT_EQ(display_width("e\u0301"), 1u);
  EXPECT_EQ(display_width("a\u0300\u0301\u0302"), 1u);
  EXPECT_EQ(display_width("\u0915\u094d\u0937"), 2u);  // Devanagari: virama is zero width
  EXPECT_EQ(display_width("\u05e9\u05c1"), 1u);        // Hebrew point
  EXPECT_EQ(display_width("zero\u200bwidth"), 9u);     // ZERO WIDTH SPACE
  // Emoji: two columns, outside the blocks the old table had (U+1FAE0) too.
  EXPECT_EQ(display_width("😀"), 2u);
  EXPECT_EQ(display_width("\U0001FAE0"), 2u);
  EXPECT_EQ(display_width("🦀x"), 3u);
  // Emoji presentation (U+FE0F) makes a one-column symbol two.
  EXPECT_EQ(display_width("\u2764"), 1u);
  EXPECT_EQ(display_width("\u2764\ufe0f"), 2u);
  // A flag is two regional indicators, one column each: two, as every terminal draws it.
  EXPECT_EQ(display_width("🇫🇷"), 2u);
  // Sequences some terminals draw in two columns and others in one per part are counted wide.
  EXPECT_EQ(display_width("👍🏽"), 4u);
  EXPECT_EQ(display_width("👨\u200d👩\u200d👧"), 6u);
}

TEST(TaskTable, FitNeverSplitsAGraphemeCluster) {
  // A letter keeps its accent: both go, or neither.
  EXPECT_EQ(fit("e\u0301e\u0301e\u0301", 2), "e\u0301…");
  EXPECT_EQ(fit_tail("e\u0301e\u0301e\u0301", 2), "…e\u0301");
  // A flag is not cut into its two regional indicators, nor a ZWJ sequence at a joiner.
  EXPECT_EQ(fit("🇫🇷🇩🇪", 3), "🇫🇷…");
  EXPECT_EQ(fit("🇫🇷🇩🇪🇮🇹", 5), "🇫🇷🇩🇪…");
  const std::string family = "👨\u200d👩\u200d👧";
  EXPECT_EQ(fit("ab" + family, 7), "ab…");
  EXPECT_EQ(fit("ab" + family, 8), "ab" + family);
  EXPECT_EQ(fit_tail(family + "ab", 4), "…ab");
  EXPECT_EQ(fit("x👍🏽y", 4), "x…");
  // A Hangul syllable spelt in conjoining jamo is one cluster.
  EXPECT_EQ(fit("\u1100\u1161\u11a8\u1100\u1161\u11a8", 5).substr(0, 9), "\u1100\u1161\u11a8");
  // A control inside a cluster still becomes '?', and what follows starts a new one.
  EXPECT_EQ(fit("e\u202e\u0301x", 20), "e?\u0301x");
  for (const char* text :
       {"日本語のテキスト", "e\u0301e\u0301e\u0301e\u0301", "🇫🇷🇩🇪🇮🇹🇪🇸", "a👨\u200d👩\u200d👧b"}) {
    for (std::size_t w = 0; w < 12; ++w) {
      EXPECT_LE(display_width(fit(text, w)), w) << text << " in " << w;
      EXPECT_LE(display_width(fit_tail(text, w)), w) << text << " in " << w;
    }
  }
}

TEST(TaskTable, Formats) {
  EXPECT_EQ(format_duration(0), "0");
  EXPECT_EQ(format_duration(-1), "0");
  EXPECT_EQ(format_duration(0.42), "0.42 ms");
  EXPECT_EQ(format_duration(7.54), "7.5 ms");
  EXPECT_EQ(format_duration(310.2), "310 ms");
  EXPECT_EQ(format_duration(999.7), "1.0 s");
  EXPECT_EQ(format_duration(2103.4), "2.1 s");
  EXPECT_EQ(format_duration(60000), "1m00s");
  EXPECT_EQ(format_duration(245000), "4m05s");
  EXPECT_EQ(format_duration(3.0 * 3600e3 + 12 * 60e3), "3h12m");
  EXPECT_EQ(format_duration(500 * 3600e3), "500h");
  for (double ms : {0.001, 9.99, 999.4, 59'949.0, 3'599'999.0, 359'999'999.0})
    EXPECT_LE(format_duration(ms).size(), 7u) << ms;

  EXPECT_EQ(format_count(0), "0");
  EXPECT_EQ(format_count(999999), "999999");
  EXPECT_EQ(format_count(1234567), "1.23M");
  EXPECT_EQ(format_count(45'600'000'000), "45.6G");
  EXPECT_EQ(format_count(999'999'999), "1.00G");
  EXPECT_LE(format_count(UINT64_MAX).size(), 6u);
}

std::vector<screen_line> render(const task_snapshot& snap, std::size_t width, std::size_t height,
                                view_options view = {}) {
  frame_state f;
  f.snapshot = &snap;
  f.address = "127.0.0.1:9901";
  f.view = view;
  f.message = "updated 12:00:01";
  f.width = width;
  f.height = height;
  return render_frame(f);
}

TEST(TaskTable, FrameFits80x24) {
  const task_snapshot snap = parse_sample();
  const auto lines = render(snap, 80, 24);
  ASSERT_EQ(lines.size(), 24u);
  for (const screen_line& l : lines) EXPECT_LE(display_width(l.text), 80u) << l.text;

  // The title drops "weir top —" and the pid to keep the counts.
  EXPECT_EQ(lines[0].text,
            "127.0.0.1:9901  io_uring  tasks 6 (run 1, ready 1, wait 4)  lost 2  stalls 1");
  EXPECT_EQ(lines[1].text, "shard 0: 4 tasks  shard 1: 2 tasks, STUCK 1.2 s in task 17");
  EXPECT_EQ(lines[1].style, line_style::alert);
  EXPECT_EQ(lines[2].text, "q quit  s sort  r reverse  f filter  w waiting-only  p pause");
  EXPECT_EQ(lines[3].style, line_style::heading);
  EXPECT_EQ(lines[3].text.find("ID"), 13u);  // right-aligned over 15-digit ids
  EXPECT_NE(lines[3].text.find("NAME / WAITS ON / CONTEXT"), std::string::npos);
  EXPECT_EQ(lines[3].text.find("AWAIT"), std::string::npos);  // too narrow for the column

  EXPECT_EQ(lines[4].text,
            "              2   0 waiting   1m00s      3  1.5 ms  accept loop / accept fd 7");
  EXPECT_EQ(lines[5].text,
            "281474976710657   0 waiting   2.1 s     17 0.42 ms  http connection / read fd 1…");
  // The running task has no wait: "-"; the long context is cut at the right edge.
  EXPECT_EQ(lines[8].text.substr(0, 36), "             17   1 running       - ");
  EXPECT_EQ(display_width(lines[7].text), 80u);
  EXPECT_EQ(lines[7].text.substr(lines[7].text.size() - 3), "…");
  for (std::size_t i = 10; i < 23; ++i) EXPECT_EQ(lines[i].text, "");
  EXPECT_EQ(lines[23].text, "updated 12:00:01  sort wait desc  6 of 6 shown");
}

TEST(TaskTable, WideFrameShowsTheAwaitSite) {
  const task_snapshot snap = parse_sample();
  const auto lines = render(snap, 120, 30);
  ASSERT_EQ(lines.size(), 30u);
  for (const screen_line& l : lines) EXPECT_LE(display_width(l.text), 120u) << l.text;
  EXPECT_NE(lines[3].text.find("AWAIT AT"), std::string::npos);
  // The await site in its column, the free text after it.
  EXPECT_EQ(lines[5].text.substr(52, 30), "weir/http/connection.cpp:310  ");
  EXPECT_EQ(lines[5].text.substr(88, 28), "http connection / read fd 12");
  EXPECT_NE(lines[0].text.find("weir top — 127.0.0.1:9901  pid 4242  io_uring"), std::string::npos);
}

TEST(TaskTable, ShortFrameKeepsTheStatusLine) {
  const task_snapshot snap = parse_sample();
  auto lines = render(snap, 80, 8);  // room for 3 rows
  ASSERT_EQ(lines.size(), 8u);
  EXPECT_EQ(lines[7].text, "updated 12:00:01  sort wait desc  3 of 6 shown");
  lines = render(snap, 80, 2);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[0].text.find("tasks 6"), std::string::npos);
  EXPECT_EQ(lines[1].text.substr(0, 7), "updated");
  EXPECT_TRUE(render(snap, 80, 0).empty());
  for (const screen_line& l : render(snap, 10, 24)) EXPECT_LE(display_width(l.text), 10u);
}

TEST(TaskTable, StatusLineShowsTheView) {
  const task_snapshot snap = parse_sample();
  view_options v;
  v.sort = sort_key::id;
  v.reverse = true;
  v.waiting_only = true;
  v.name_filter = "conn";
  frame_state f;
  f.snapshot = &snap;
  f.view = v;
  f.paused = true;
  f.message = "connection lost: cannot connect to 127.0.0.1:9901: Connection refused, retrying";
  f.message_is_error = true;
  f.width = 200;
  f.height = 24;
  auto lines = render_frame(f);
  EXPECT_EQ(lines.back().text,
            "connection lost: cannot connect to 127.0.0.1:9901: Connection refused, retrying  "
            "PAUSED  sort id desc  filter \"conn\"  waiting only  2 of 2 shown");
  EXPECT_EQ(lines.back().style, line_style::alert);
  EXPECT_EQ(lines[2].text.substr(lines[2].text.size() - 8), "p resume");
  EXPECT_EQ(ids(select_tasks(snap, v)), (std::vector<std::uint64_t>{281474976710657, 9}));

  f.width = 80;  // the error comes first, so it is what survives
  lines = render_frame(f);
  EXPECT_EQ(display_width(lines.back().text), 80u);
  EXPECT_EQ(lines.back().text.substr(0, 50), "connection lost: cannot connect to 127.0.0.1:9901:");
}

TEST(TaskTable, FilterPromptLeavesRoomForTheCursor) {
  const task_snapshot snap = parse_sample();
  frame_state f;
  f.snapshot = &snap;
  f.width = 30;
  f.height = 10;
  f.prompt = "conn";
  EXPECT_EQ(render_frame(f).back().text, "filter name: conn");
  const std::string long_text(40, 'x');
  f.prompt = long_text;
  const std::string line = render_frame(f).back().text;
  EXPECT_EQ(display_width(line), 29u);
  EXPECT_EQ(line, "filter name: …" + std::string(15, 'x'));
}

TEST(TaskTable, FrameBeforeTheFirstReply) {
  frame_state f;
  f.address = "127.0.0.1:9901";
  f.message = "connection lost: cannot connect to 127.0.0.1:9901: Connection refused, retrying";
  f.message_is_error = true;
  const auto lines = render_frame(f);
  ASSERT_EQ(lines.size(), 24u);
  EXPECT_EQ(lines[0].text, "weir top — 127.0.0.1:9901  waiting for the first reply");
  EXPECT_EQ(lines[1].text, "");
  for (const screen_line& l : lines) EXPECT_LE(display_width(l.text), 80u);
}

}  // namespace
}  // namespace weir::tool
