#include <weir/http/json.hpp>

#include <gtest/gtest.h>

namespace weir::http {
namespace {

TEST(HttpJson, WriterBuildsNestedValues) {
  json_writer w;
  w.begin_object()
      .key("s")
      .value("a\"b\\c\n\x01")
      .key("n")
      .value(-42)
      .key("u")
      .value(std::uint64_t(18446744073709551615ull))
      .key("d")
      .value(0.5)
      .key("t")
      .value(true)
      .key("z")
      .null()
      .key("a")
      .begin_array()
      .value(1)
      .value("x")
      .begin_object()
      .end_object()
      .end_array()
      .end_object();
  EXPECT_EQ(
      w.take(),
      R"({"s":"a\"b\\c\n\u0001","n":-42,"u":18446744073709551615,"d":0.5,"t":true,"z":null,"a":[1,"x",{}]})");
}

TEST(HttpJson, WriterRefusesMisuse) {
  json_writer w;
  w.begin_object();
  EXPECT_THROW(w.value(1), std::logic_error);
  EXPECT_THROW(w.take(), std::logic_error);
  json_writer a;
  EXPECT_THROW(a.key("k"), std::logic_error);
  EXPECT_THROW(a.end_array(), std::logic_error);
}

TEST(HttpJson, EscapeKeepsUtf8AndReplacesInvalidBytes) {
  std::string out;
  json_escape(out, "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80");
  EXPECT_EQ(out, "\"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80\"");
  out.clear();
  json_escape(out,
              "a\xff"
              "b\xc3"
              "\xed\xa0\x80");  // stray byte, truncated pair, surrogate
  EXPECT_EQ(out,
            "\"a\xef\xbf\xbd"
            "b\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
}

}  // namespace
}  // namespace weir::http
