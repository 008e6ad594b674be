#include "go_quote.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <utility>

using namespace std::string_view_literals;

namespace {

std::string quote(std::string_view s) {
  std::string out;
  taskd::go_quote(out, s);
  return out;
}

// Inputs and what Go 1.19's fmt.Sprintf("%q", s) printed for them (generated with go, then
// pasted): escapes, control characters, invalid UTF-8 of every kind (truncated sequences,
// overlong forms, surrogates, beyond U+10FFFF, stray continuation bytes), printable and
// non-printable Unicode in each plane.
TEST(GoQuote, MatchesGoByteForByte) {
  const std::pair<std::string_view, std::string_view> cases[] = {
      {""sv, R"q("")q"},
      {"hello world"sv, R"q("hello world")q"},
      {"say \x22"
       "hi\x22"
       ""sv,
       R"q("say \"hi\"")q"},
      {"back\x5c"
       "slash"sv,
       R"q("back\\slash")q"},
      {"line\x0a"
       "break\x09"
       "tab\x0d"
       ""sv,
       R"q("line\nbreak\ttab\r")q"},
      {"\x07"
       "\x08"
       "\x0c"
       "\x0b"
       ""sv,
       R"q("\a\b\f\v")q"},
      {"\x00"
       "\x01"
       "\x1f"
       "\x7f"
       ""sv,
       R"q("\x00\x01\x1f\x7f")q"},
      {"\xff"
       ""sv,
       R"q("\xff")q"},
      {"a\xc3"
       ""sv,
       R"q("a\xc3")q"},
      {"\xc3"
       "("sv,
       R"q("\xc3(")q"},
      {"\xe2"
       "\x82"
       ""sv,
       R"q("\xe2\x82")q"},
      {"\xed"
       "\xa0"
       "\x80"
       ""sv,
       R"q("\xed\xa0\x80")q"},
      {"\xf4"
       "\x90"
       "\x80"
       "\x80"
       ""sv,
       R"q("\xf4\x90\x80\x80")q"},
      {"\xc0"
       "\xaf"
       ""sv,
       R"q("\xc0\xaf")q"},
      {"\xe6"
       "\x97"
       "\xa5"
       "\xe6"
       "\x9c"
       "\xac"
       "\xe8"
       "\xaa"
       "\x9e"
       ""sv,
       R"q("日本語")q"},
      {"\xc3"
       "\xa9"
       "moji \xf0"
       "\x9f"
       "\x98"
       "\x80"
       ""sv,
       R"q("émoji 😀")q"},
      {"\xc2"
       "\xa0"
       "nbsp"sv,
       R"q("\u00a0nbsp")q"},
      {"\xe2"
       "\x80"
       "\x8b"
       " zero width"sv,
       R"q("\u200b zero width")q"},
      {"\xe2"
       "\x80"
       "\xa8"
       ""sv,
       R"q("\u2028")q"},
      {"\xef"
       "\xbb"
       "\xbf"
       "bom"sv,
       R"q("\ufeffbom")q"},
      {"\xef"
       "\xbf"
       "\xbd"
       ""sv,
       R"q("�")q"},
      {"\xf3"
       "\xa0"
       "\x80"
       "\x81"
       ""sv,
       R"q("\U000e0001")q"},
      {"\xf4"
       "\x8f"
       "\xbf"
       "\xbf"
       ""sv,
       R"q("\U0010ffff")q"},
      {"\xcc"
       "\x81"
       " combining"sv,
       R"q("́ combining")q"},
      {"\xc2"
       "\x85"
       ""sv,
       R"q("\u0085")q"},
      {"tab\x09"
       "and 'single'"sv,
       R"q("tab\tand 'single'")q"},
      {"%q %s"sv, R"q("%q %s")q"},
      {"\x80"
       "\x80"
       ""sv,
       R"q("\x80\x80")q"},
      {"ok\xe2"
       "\x82"
       "\xac"
       "ok"sv,
       R"q("ok€ok")q"},
  };
  for (const auto& [in, want] : cases)
    EXPECT_EQ(quote(in), want) << "input of " << in.size() << " bytes";
}

TEST(GoQuote, AppendsToWhatIsThere) {
  std::string out = "SUCCESS create ";
  taskd::go_quote(out, "x");
  EXPECT_EQ(out, R"(SUCCESS create "x")");
}

TEST(GoQuote, PrintableTableEdges) {
  EXPECT_TRUE(taskd::go_is_print(U' '));
  EXPECT_FALSE(taskd::go_is_print(U'\x7f'));
  EXPECT_FALSE(taskd::go_is_print(0xA0));  // no-break space: a space, not ASCII
  EXPECT_TRUE(taskd::go_is_print(0xA1));
  EXPECT_FALSE(taskd::go_is_print(0xAD));    // soft hyphen (Cf)
  EXPECT_TRUE(taskd::go_is_print(0x4E2D));   // 中
  EXPECT_FALSE(taskd::go_is_print(0xE000));  // private use
  EXPECT_TRUE(taskd::go_is_print(0x1F600));
  EXPECT_FALSE(taskd::go_is_print(0x10FFFF));
}

TEST(GoJsonSurrogates, LoneOnesBecomeReplacementCharactersPairsStay) {
  std::string scratch;
  auto fix = [&](std::string_view in) {
    return std::string(taskd::go_json_surrogates(in, scratch));
  };
  EXPECT_EQ(fix(R"({"m":"plain \u00e9"})"), R"({"m":"plain \u00e9"})");
  EXPECT_EQ(fix(R"({"m":"\ud800"})"), R"({"m":"\ufffd"})");
  EXPECT_EQ(fix(R"({"m":"\uDFFF x"})"), R"({"m":"\ufffd x"})");
  EXPECT_EQ(fix(R"({"m":"\ud83d\ude00"})"), R"({"m":"\ud83d\ude00"})");  // a pair
  EXPECT_EQ(fix(R"({"m":"\ud800\ud800\udc00"})"), R"({"m":"\ufffd\ud800\udc00"})");
  EXPECT_EQ(fix(R"({"m":"\udc00\ud800"})"), R"({"m":"\ufffd\ufffd"})");
  EXPECT_EQ(fix(R"({"m":"\\ud800"})"), R"({"m":"\\ud800"})");  // an escaped backslash
  EXPECT_EQ(fix(R"({"m":"\ud8"})"), R"({"m":"\ud8"})");        // not an escape: the parser says so
}

}  // namespace
