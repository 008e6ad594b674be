// The disk spool: records survive a reopen in order, a write cut by a crash is cut off and
// counted, the bound holds, and the pipeline spools when its budget is full and replays in
// order once the sink takes records again.
#include "spool.hpp"

#include "pipeline.hpp"
#include "rules_file.hpp"

#include <weir/core/runtime.hpp>
#include <weir/core/spawn.hpp>
#include <weir/testing/co_assert.hpp>
#include <weir/testing/temp_dir.hpp>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

namespace logship {
namespace {

using namespace std::chrono_literals;

record make(int i) {
  record r;
  r.topic = "t";
  r.key = "k" + std::to_string(i);
  r.headers = {{"h", std::to_string(i)}};
  r.payload = "line " + std::to_string(i);
  return r;
}

std::vector<record> range(int from, int to) {
  std::vector<record> out;
  for (int i = from; i < to; ++i) out.push_back(make(i));
  return out;
}

TEST(Spool, Crc32cKnownValue) {
  EXPECT_EQ(crc32c("123456789"), 0xe3069283u);  // the standard check value
}

TEST(Spool, RecordsSurviveAReopenInOrder) {
  weir::testing::temp_dir dir;
  {
    auto s = spool::open({.dir = dir.path(), .segment_bytes = 200});  // several segments
    ASSERT_TRUE(s);
    ASSERT_TRUE((*s)->append(range(0, 5)).value());
    ASSERT_TRUE((*s)->append(range(5, 10)).value());
    EXPECT_EQ((*s)->records(), 10u);
    ASSERT_TRUE((*s)->sync());
  }
  auto s = spool::open({.dir = dir.path(), .segment_bytes = 200});
  ASSERT_TRUE(s);
  EXPECT_EQ((*s)->recovered(), 10u);
  std::vector<record> got;
  ASSERT_EQ((*s)->read(got, 100).value(), 10u);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(got[i].payload, "line " + std::to_string(i));
    EXPECT_EQ(got[i].key, "k" + std::to_string(i));
    EXPECT_EQ(got[i].headers.at(0).second, std::to_string(i));
  }
  ASSERT_TRUE((*s)->consumed());
  EXPECT_EQ((*s)->bytes(), 0u);
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

TEST(Spool, AWriteCutByACrashIsCutOffAndCounted) {
  weir::testing::temp_dir dir;
  std::string seg;
  {
    auto s = spool::open({.dir = dir.path()});
    ASSERT_TRUE((*s)->append(range(0, 3)).value());
  }
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) seg = e.path();
  const auto full = std::filesystem::file_size(seg);
  std::filesystem::resize_file(seg, full - 3);  // the last record torn
  auto s = spool::open({.dir = dir.path()});
  ASSERT_TRUE(s);
  EXPECT_EQ((*s)->records(), 2u);
  EXPECT_GT((*s)->corrupt_bytes(), 0u);
  // A flipped byte in a body fails its CRC: that record and what follows are cut.
  {
    const int fd = ::open(seg.c_str(), O_RDWR);
    const char x = 'X';
    ASSERT_EQ(::pwrite(fd, &x, 1, 20), 1);
    ::close(fd);
  }
  auto again = spool::open({.dir = dir.path()});
  ASSERT_TRUE(again);
  EXPECT_EQ((*again)->records(), 0u);
}

TEST(Spool, TheBoundHolds) {
  weir::testing::temp_dir dir;
  auto s = spool::open({.dir = dir.path(), .max_bytes = 300});
  ASSERT_TRUE(s);
  int appended = 0;
  while ((*s)->append(range(appended, appended + 1)).value()) ++appended;
  EXPECT_GT(appended, 0);
  EXPECT_LE((*s)->bytes(), 300u);
}

// The budget is full and the sink down: records go to the spool; once the sink is back, the
// replay delivers them in the order received, and the spool ends empty.
TEST(Spool, ThePipelineSpoolsWhenFullAndReplaysInOrder) {
  weir::testing::temp_dir dir;
  auto sp = spool::open({.dir = dir.path()});
  ASSERT_TRUE(sp);
  memory_sink sink;
  sink.fail_next = 1'000'000;
  auto made = pipeline::create({.memory_budget = 64 * 1024, .spool = sp->get()},
                               *load_rules("", "x"), sink);
  ASSERT_TRUE(made);
  pipeline& p = **made;
  input_counters& in = p.add_input("test");
  weir::runtime rt({.shards = 1});
  int first_spooled = -1;
  rt.block_on(
      [](pipeline& p, input_counters& in, memory_sink& sink, int& first_spooled) -> weir::task<> {
        auto replaying = weir::spawn(p.replay(), "replay");
        const std::string pad(1000, 'x');
        for (int i = 0; i < 200; ++i) {  // 200 KiB: far over the budget
          std::vector<record> batch;
          p.take("<13>1 - h a - - - n=" + std::to_string(i) + " " + pad, false, in, batch);
          co_await p.ship(std::move(batch), when_full::drop);  // a datagram: spooled, not dropped
          if (first_spooled < 0 && p.counts().spooled > 0) first_spooled = i;
        }
        EXPECT_EQ(p.counts().dropped, 0u);
        EXPECT_GT(p.counts().spooled, 100u);
        EXPECT_EQ(p.check_invariant(), "");
        sink.fail_next = 0;  // Kafka is back
        for (int i = 0; i < 500 && p.counts().delivered < 200; ++i)
          (void)co_await weir::sleep_for(10ms);
        p.stop_replay();
        (void)co_await replaying;
        EXPECT_TRUE(co_await p.drain(5s));
      }(p, in, sink, first_spooled));
  ASSERT_EQ(sink.delivered.size(), 200u);
  ASSERT_GT(first_spooled, 0);
  // Every line once; those that went through the spool in the order received.
  std::vector<int> seen(200, 0);
  int last_spooled = first_spooled - 1;
  for (const record& r : sink.delivered) {
    const int n = std::stoi(r.payload.substr(r.payload.find("n=") + 2));
    ++seen[static_cast<std::size_t>(n)];
    if (n >= first_spooled) {
      EXPECT_EQ(n, last_spooled + 1);
      last_spooled = n;
    }
  }
  EXPECT_EQ(std::count(seen.begin(), seen.end(), 1), 200);
  EXPECT_EQ(p.counts().spooled, 0u);
  EXPECT_EQ(p.check_invariant(), "");
  EXPECT_EQ((*sp)->bytes(), 0u);
}

}  // namespace
}  // namespace logship
