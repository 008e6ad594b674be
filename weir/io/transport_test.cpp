// io::transport over weir::testing::fake_transport: a small parser gives the same answer for
// every split of its input; limits, end of stream, injected errors, short writes and
// backpressure.
#include <weir/io/transport.hpp>

#include <weir/core/runtime.hpp>
#include <weir/core/time.hpp>
#include <weir/testing/co_assert.hpp>
#include <weir/testing/fake_transport.hpp>

#include <gtest/gtest.h>

#include <charconv>
#include <string>
#include <vector>

namespace weir::io {
namespace {

using namespace std::chrono_literals;
using testing::fake_transport;

std::string str(std::span<const std::byte> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// A line protocol with binary bodies: "PING\r\n" or "SET <key> <n>\r\n<n bytes>\r\n".
// Returns one entry per command ("PING", "SET key=value"), then "ERR <reason>" if it failed.
task<std::vector<std::string>> parse_commands(transport& t) {
  std::vector<std::string> out;
  for (;;) {
    auto line = co_await t.read_until("\r\n", 24);
    if (!line) {
      if (line.error() != errc::eof) out.push_back("ERR " + line.error().message());
      co_return out;
    }
    std::string l = str(*line);
    l.resize(l.size() - 2);
    if (l == "PING") {
      out.push_back("PING");
      continue;
    }
    const auto sp1 = l.find(' '), sp2 = l.rfind(' ');
    if (l.rfind("SET ", 0) != 0 || sp1 == sp2) {
      out.push_back("ERR bad command");
      co_return out;
    }
    std::size_t n = 0;
    std::from_chars(l.data() + sp2 + 1, l.data() + l.size(), n);
    std::string key = l.substr(sp1 + 1, sp2 - sp1 - 1);
    auto body = co_await t.read_exact(n + 2);
    if (!body) {
      out.push_back("ERR " + body.error().message());
      co_return out;
    }
    out.push_back("SET " + key + "=" + str(body->first(n)));
  }
}

task<std::vector<std::string>> parse_pieces(std::vector<std::string_view> pieces,
                                            std::size_t buffer) {
  fake_transport f;
  f.chunks(pieces);
  transport t(f, {.read_buffer = buffer});
  co_return co_await parse_commands(t);
}

TEST(Transport, EverySplitParsesTheSame) {
  using namespace std::string_literals;
  const std::string input =
      "PING\r\nSET a 5\r\nhello\r\nSET key 12\r\nbin\r\n\0\xff\r\nxyz\r\nPING\r\n"s;
  const std::vector<std::string> expected = {"PING", "SET a=hello", "SET key=bin\r\n\0\xff\r\nxyz"s,
                                             "PING"};
  std::vector<std::vector<std::string_view>> splits;
  testing::for_each_split(input,
                          [&](const std::vector<std::string_view>& p) { splits.push_back(p); });
  EXPECT_GT(splits.size(), 1000u);
  runtime rt({.shards = 1});
  std::size_t checked = 0;
  rt.block_on([&]() -> task<> {
    for (const auto& p : splits) {
      // A buffer just big enough for the largest line, and a roomy one.
      for (std::size_t buffer : {std::size_t{24}, std::size_t{4096}}) {
        auto got = co_await parse_pieces(p, buffer);
        EXPECT_EQ(got, expected) << "split into " << p.size() << " pieces, first " << p[0].size()
                                 << " bytes, buffer " << buffer;
        ++checked;
      }
    }
  }());
  EXPECT_EQ(checked, 2 * splits.size());
}

TEST(Transport, EndOfStreamMidMessageIsTruncated) {
  runtime rt({.shards = 1});
  rt.block_on([]() -> task<> {
    // (named vectors: g++ 12 cannot put an initializer_list temporary in a coroutine frame)
    std::vector<std::string_view> pa(1, "SET a 5\r\nhel"), pb(1, "PI"), pc(1, "PING\r\n");
    auto a = co_await parse_pieces(pa, 64);
    EXPECT_EQ(a.back(), "ERR " + make_error_code(errc::truncated).message());
    auto b = co_await parse_pieces(pb, 64);
    EXPECT_EQ(b.back(), "ERR " + make_error_code(errc::truncated).message());
    auto c = co_await parse_pieces(pc, 64);
    EXPECT_EQ(c, std::vector<std::string>{"PING"});  // clean end: no error
  }());
}

TEST(Transport, LimitsAreErrorsNotGrowth) {
  runtime rt({.shards = 1});
  rt.block_on([]() -> task<> {
    fake_transport f;
    f.chunk(std::string(100, 'x') + "\r\n");
    transport t(f, {.read_buffer = 64});
    auto line = co_await t.read_until("\r\n", 64);
    CO_ASSERT_FALSE(line);
    EXPECT_EQ(line.error(), errc::limit_exceeded);
    auto big = co_await t.read_exact(65);
    EXPECT_EQ(big.error(), errc::limit_exceeded);
    auto f2 = co_await t.fill(1000);
    EXPECT_EQ(f2.error(), errc::limit_exceeded);
    // A delimiter found beyond `max` is over the limit too.
    fake_transport g;
    g.chunk("abcdefghij\r\n");
    transport u(g, {.read_buffer = 64});
    EXPECT_EQ((co_await u.read_until("\r\n", 8)).error(), errc::limit_exceeded);
  }());
}

TEST(Transport, FillWaitsForEnoughBytesWithoutCopyingTwice) {
  runtime rt({.shards = 1});
  rt.block_on([]() -> task<> {
    fake_transport f;
    for (int i = 0; i < 100; ++i) f.chunk(std::string(1000, static_cast<char>('a' + i % 26)));
    transport t(f, {.read_buffer = 128 * 1024});
    auto r = co_await t.fill(64 * 1024);
    CO_ASSERT_TRUE(r);
    EXPECT_GE(r->size(), 64u * 1024);
    EXPECT_EQ(f.read_calls(), 66u);  // one read per chunk, straight into the buffer
    t.consume(r->size());
    auto rest = co_await t.fill(100'000 - r->size());
    EXPECT_EQ(rest->size(), 100'000 - r->size());
    t.consume(rest->size());
    auto end = co_await t.fill(1);
    EXPECT_TRUE(end->empty());  // end of stream: fewer than asked
    EXPECT_TRUE(t.eof());
  }());
}

TEST(Transport, InjectedErrorsReachTheReader) {
  runtime rt({.shards = 1});
  rt.block_on([]() -> task<> {
    fake_transport f;
    f.chunk("SET a 5\r\nhe").fail_read(std::errc::connection_reset);
    transport t(f);
    auto got = co_await parse_commands(t);
    EXPECT_EQ(got.back(), "ERR " + std::make_error_code(std::errc::connection_reset).message());
  }());
}

TEST(Transport, ReadDeadlineOnAHangingStream) {
  runtime rt({.shards = 1});
  rt.block_on([]() -> task<> {
    fake_transport f;
    f.chunk("PI").hang();
    transport t(f);
    auto r = co_await with_timeout(20ms, t.read_until("\r\n", 64));
    CO_ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), errc::timed_out);
  }());
}

TEST(Transport, ShortWritesAreCompleted) {
  runtime rt({.shards = 1});
  rt.block_on([]() -> task<> {
    fake_transport f;
    f.max_write(3);
    transport t(f, {.write_buffer = 8});
    EXPECT_TRUE((co_await t.write("hello")).has_value());
    EXPECT_EQ(f.write_calls(), 0u);  // buffered
    EXPECT_TRUE((co_await t.write(" world, longer than the buffer")).has_value());
    EXPECT_EQ(t.write_buffered(), 0u);
    const std::string_view parts[] = {"a", "bc", "def"};
    std::vector<std::span<const std::byte>> spans;
    for (auto p : parts) spans.push_back(std::as_bytes(std::span(p.data(), p.size())));
    EXPECT_TRUE((co_await t.write_gather(spans)).has_value());
    EXPECT_TRUE((co_await t.shutdown_write()).has_value());
    EXPECT_EQ(f.written(), "hello world, longer than the bufferabcdef");
    EXPECT_TRUE(f.write_shut_down());
  }());
}

// Backpressure: a writer never buffers more than write_buffer bytes; beyond it, write() waits
// for the stream, and a failing stream fails the write.
TEST(Transport, WriteBufferIsBoundedAndErrorsSurface) {
  runtime rt({.shards = 1});
  rt.block_on([]() -> task<> {
    fake_transport f;
    f.fail_write_after(10, std::make_error_code(std::errc::broken_pipe));
    transport t(f, {.write_buffer = 4});
    EXPECT_TRUE((co_await t.write("abc")).has_value());
    EXPECT_LE(t.write_buffered(), 4u);
    auto r = co_await t.write("this does not fit");
    CO_ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), std::errc::broken_pipe);
    EXPECT_EQ(f.written(), "abcthis do");
  }());
}

}  // namespace
}  // namespace weir::io
