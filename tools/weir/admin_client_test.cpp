#include "admin_client.hpp"

#include <gtest/gtest.h>

#include <string>

namespace weir::tool {
namespace {

// The words of the error parse_http_reply() gives for `raw`, or "no error".
std::string reply_error(std::string_view raw) {
  auto r = parse_http_reply(raw);
  if (r) return "no error";
  EXPECT_EQ(r.error(), errc::invalid_input) << r.error().message();
  return std::string(r.error().context());
}

TEST(AdminClient, ContentLength) {
  const auto r = parse_http_reply(
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->reason, "OK");
  EXPECT_EQ(r->header("content-type"), "application/json");
  EXPECT_EQ(r->body, "{}");
  // Bytes past Content-Length are not the body.
  EXPECT_EQ(parse_http_reply("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}junk")->body, "{}");
  EXPECT_EQ(reply_error("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}"),
            "body cut short: 2 of 10 bytes");
  EXPECT_EQ(reply_error("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n{}"),
            "invalid Content-Length");
  // Strict framing, as weir's server and client read it (RFC 9112 §6.3).
  EXPECT_EQ(reply_error("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}x"),
            "differing Content-Length values");
  EXPECT_EQ(reply_error("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n"
                        "\r\n0\r\n\r\n"),
            "both Content-Length and Transfer-Encoding");
}

TEST(AdminClient, Chunked) {
  const auto r = parse_http_reply(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;ext=1\r\nhello\r\n1A\r\n, abcdefghijklmnopqrstuvwx\r\n0\r\nX-Trailer: y\r\n\r\n");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->body, "hello, abcdefghijklmnopqrstuvwx");
  EXPECT_EQ(reply_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel"),
            "chunked body cut short");
  EXPECT_EQ(reply_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"),
            "chunked body cut short");  // no last chunk
  EXPECT_EQ(reply_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
            "chunked body: invalid chunk size");
  EXPECT_EQ(reply_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello!\r\n"),
            "chunked body: chunk data too long");
  EXPECT_EQ(
      reply_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n"),
      "chunked body: bare LF after a chunk size");
  EXPECT_EQ(
      reply_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nno colon\r\n\r\n"),
      "chunked body: field line without a colon");
}

TEST(AdminClient, FramedByTheEndOfTheConnection) {
  // No framing headers, an empty reason: an HTTP/1.0 style server.
  const auto r = parse_http_reply("HTTP/1.0 401\r\nWWW-Authenticate: Bearer\r\n\r\nno token\n");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(r->reason, "");
  EXPECT_EQ(r->header("www-authenticate"), "Bearer");
  EXPECT_EQ(r->body, "no token\n");
  // A coding other than chunked last: the end of the connection frames it (RFC 9112 §6.3).
  EXPECT_EQ(parse_http_reply("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzz")->body, "zz");
}

TEST(AdminClient, NoBodyFor204And304) {
  const auto r = parse_http_reply("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 204);
  EXPECT_EQ(r->body, "");
}

TEST(AdminClient, SkipsInterimReplies) {
  const auto r = parse_http_reply(
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
      "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->reason, "Service Unavailable");
  EXPECT_EQ(r->body, "busy");
  std::string endless;
  for (int i = 0; i < 40; ++i) endless += "HTTP/1.1 100 Continue\r\n\r\n";
  EXPECT_EQ(reply_error(endless + "HTTP/1.1 200 OK\r\n\r\n"), "more than 32 interim replies");
}

TEST(AdminClient, RejectsWhatIsNotHttp) {
  EXPECT_EQ(reply_error("SSH-2.0-OpenSSH_9.2\r\n"), "not HTTP: 'SSH-2.0-OpenSSH_9.2'");
  EXPECT_EQ(reply_error("-ERR unknown command\r\n\r\n"), "not HTTP: '-ERR unknown command'");
  EXPECT_EQ(reply_error("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"), "head cut short");
  EXPECT_EQ(reply_error("HTTP/1.1 200 OK"), "no complete status line");
  EXPECT_EQ(reply_error("HTTP/1.1 20x OK\r\n\r\n"), "invalid status code: 'HTTP/1.1 20x OK'");
  EXPECT_EQ(reply_error("HTTP/2.0 200 OK\r\n\r\n"),
            "invalid HTTP version in the status line: 'HTTP/2.0 200 OK'");
  EXPECT_EQ(reply_error("HTTP/1.1 200 OK\r\nno colon\r\n\r\n"), "field line without a colon");
}

TEST(AdminClient, StrictAsTheServersParser) {
  // What a lenient parser would accept and another might read differently: refused.
  EXPECT_EQ(reply_error("HTTP/1.0 401\nWWW-Authenticate: Bearer\n\nno token\n"),
            "bare LF line ending");
  EXPECT_EQ(reply_error("HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\nContent-Length: 0\r\n\r\n"),
            "obsolete line folding");
  EXPECT_EQ(reply_error("HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\n{}"),
            "whitespace before the colon");
  static constexpr char nul_in_field[] = "HTTP/1.1 200 OK\r\nX-A: a\0b\r\n\r\n";
  EXPECT_EQ(reply_error(std::string_view(nul_in_field, sizeof nul_in_field - 1)),
            "control character in a field value");
}

TEST(AdminClient, ErrorText) {
  // weir's own codes: the words alone; system codes: the words, then what the system says.
  EXPECT_EQ(error_text(weir::error(errc::invalid_input, "bad address 'x': want HOST:PORT")),
            "bad address 'x': want HOST:PORT");
  EXPECT_EQ(
      error_text(weir::error(std::errc::connection_refused, "cannot connect to h:1")),
      "cannot connect to h:1: " + std::make_error_code(std::errc::connection_refused).message());
  EXPECT_EQ(error_text(weir::error(errc::timed_out)), weir::error(errc::timed_out).message());
}

TEST(AdminClient, QueryEscape) {
  EXPECT_EQ(query_escape("conn"), "conn");
  EXPECT_EQ(query_escape("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
  EXPECT_EQ(query_escape("1.5_~-"), "1.5_~-");
}

std::string address_error(std::string_view address, std::string token = "") {
  auto c = admin_client::make(address, std::move(token));
  if (c) return "no error";
  EXPECT_EQ(c.error(), errc::invalid_input) << c.error().message();
  return std::string(c.error().context());
}

std::string address_of(std::string_view address) {
  auto c = admin_client::make(address, "");
  return c ? c->address() : "error: " + c.error().message();
}

TEST(AdminClient, Addresses) {
  EXPECT_EQ(address_of("127.0.0.1:9901"), "127.0.0.1:9901");
  EXPECT_EQ(address_of("http://localhost:8080/"), "localhost:8080");
  EXPECT_EQ(address_of("[::1]:9901"), "[::1]:9901");
  EXPECT_EQ(address_of(":9901"), "127.0.0.1:9901");
  EXPECT_EQ(address_error("localhost"), "bad address 'localhost': want HOST:PORT");
  EXPECT_EQ(address_error("::1:9901"), "bad address '::1:9901': IPv6 addresses go in brackets");
  EXPECT_EQ(address_error("host:0"),
            "bad address 'host:0': the port must be a number from 1 to 65535");
  EXPECT_EQ(address_error("host:99999"),
            "bad address 'host:99999': the port must be a number from 1 to 65535");
  EXPECT_EQ(address_error("https://host:1"),
            "bad address 'https://host:1': the admin endpoint speaks plain HTTP, not https");
  EXPECT_EQ(address_error("127.0.0.1:1", "tok\r\nX-Evil: 1"),
            "the token contains control characters");
}

TEST(AdminClient, ConnectionRefusedNamesTheAddress) {
  // Port 1 on loopback: nothing listens there on a test machine.
  auto c = admin_client::make("127.0.0.1:1", "");
  ASSERT_TRUE(c);
  auto r = c->fetch("/debug/tasks?format=json");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), std::errc::connection_refused) << r.error().message();
  EXPECT_EQ(error_text(r.error()), "cannot connect to 127.0.0.1:1: Connection refused");
}

}  // namespace
}  // namespace weir::tool
