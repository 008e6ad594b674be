#include "framing.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace logship {
namespace {

// What a connection delivers: "T:" marks a truncated frame, "E:" an error.
std::vector<std::string> run(framing mode, std::size_t max,
                             const std::vector<std::string>& chunks) {
  framer f(mode, max);
  std::string buf;
  std::vector<std::string> got;
  auto take = [&](const frame& fr) {
    if (fr.error) got.push_back(std::string("E:") + fr.error);
    if (fr.present) got.push_back((fr.truncated ? "T:" : "") + std::string(fr.bytes));
  };
  for (const std::string& c : chunks) {
    buf += c;
    for (;;) {
      frame fr;
      const std::size_t used = f.next(buf, fr);
      if (!used) break;
      take(fr);
      buf.erase(0, used);
      if (fr.error) return got;
    }
  }
  frame fr;
  f.finish(buf, fr);
  take(fr);
  return got;
}

// The same stream cut at every point, and byte by byte, gives the same frames.
void every_split(framing mode, std::size_t max, const std::string& stream,
                 const std::vector<std::string>& want) {
  EXPECT_EQ(run(mode, max, {stream}), want);
  for (std::size_t cut = 1; cut < stream.size(); ++cut)
    EXPECT_EQ(run(mode, max, {stream.substr(0, cut), stream.substr(cut)}), want) << "cut " << cut;
  std::vector<std::string> bytes;
  for (char c : stream) bytes.emplace_back(1, c);
  EXPECT_EQ(run(mode, max, bytes), want);
}

TEST(Framing, NewlineFramesWithCrlfAndBlankLines) {
  every_split(framing::newline, 100, "<13>a\n<13>b\r\n\r\n<13>c", {"<13>a", "<13>b", "<13>c"});
  every_split(framing::newline, 100, "12 not a count\n", {"12 not a count"});
}

TEST(Framing, OctetCountingPerRfc6587) {
  const std::string a = "<34>1 - h a p m - one";  // 21 bytes
  const std::string b = "<34>1 - h a p m - two\nwith a newline inside";
  const std::string stream =
      std::to_string(a.size()) + " " + a + std::to_string(b.size()) + " " + b;
  every_split(framing::octet_counting, 1000, stream, {a, b});
  every_split(framing::detect, 1000, stream, {a, b});
}

TEST(Framing, DetectDecidesPerFrame) {
  every_split(framing::detect, 1000, "5 <13>x<13>line one\n3 abc<13>two\n",
              {"<13>x", "<13>line one", "abc", "<13>two"});
  every_split(framing::detect, 1000, "2024-05-01 no pri\n", {"2024-05-01 no pri"});
}

TEST(Framing, LongFramesAreCutAndFlaggedNeverDropped) {
  every_split(framing::newline, 5, "0123456789\nabc\n", {"T:01234", "abc"});
  every_split(framing::octet_counting, 5,
              "10 0123456789"
              "3 abc",
              {"T:01234", "abc"});
  every_split(framing::newline, 5, "0123456789", {"T:01234"});  // no LF before the end
}

TEST(Framing, TheEndOfTheStream) {
  // a count whose frame never completes: what came is delivered, truncated
  every_split(framing::octet_counting, 100, "10 01234", {"T:01234"});
  EXPECT_EQ(run(framing::octet_counting, 100, {"12"}),
            std::vector<std::string>{"E:octet counting: the stream ended inside MSG-LEN"});
}

TEST(Framing, StrictOctetCountingRefusesALine) {
  EXPECT_EQ(run(framing::octet_counting, 100, {"<13>a line\n"}),
            std::vector<std::string>{"E:octet counting: expected MSG-LEN SP"});
  EXPECT_EQ(run(framing::octet_counting, 100, {"0 x"}),
            std::vector<std::string>{"E:octet counting: expected MSG-LEN SP"});
}

}  // namespace
}  // namespace logship
