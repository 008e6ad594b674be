#include "admin_client.hpp"

#include <gtest/gtest.h>

#include <string>

namespace weir::tool {
namespace {

std::string reply_error(std::string_view raw) {
  try {
    parse_http_reply(raw);
  } catch (const admin_error& e) {
    return e.what();
  }
  return "no error";
}

TEST(AdminClient, ContentLength) {
  const http_reply r = parse_http_reply(
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.reason, "OK");
  EXPECT_EQ(r.header("content-type"), "application/json");
  EXPECT_EQ(r.body, "{}");
  // Bytes past Content-Length are not the body.
  EXPECT_EQ(parse_http_reply("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}junk").body, "{}");
  EXPECT_EQ(reply_error("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}"),
            "body cut short: 2 of 10 bytes");
  EXPECT_EQ(reply_error("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n{}"),
            "bad Content-Length 'x'");
}

TEST(AdminClient, Chunked) {
  const http_reply r = parse_http_reply(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;ext=1\r\nhello\r\n1A\r\n, abcdefghijklmnopqrstuvwx\r\n0\r\nX-Trailer: y\r\n\r\n");
  EXPECT_EQ(r.body, "hello, abcdefghijklmnopqrstuvwx");
  EXPECT_EQ(reply_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel"),
            "chunked body cut short");
  EXPECT_EQ(reply_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"),
            "chunked body cut short");  // no last chunk
  EXPECT_EQ(reply_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
            "bad chunk size 'zz'");
}

TEST(AdminClient, FramedByTheEndOfTheConnection) {
  // Bare LF line ends, no framing headers, an empty reason: an HTTP/1.0 style server.
  const http_reply r = parse_http_reply("HTTP/1.0 401\nWWW-Authenticate: Bearer\n\nno token\n");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.reason, "");
  EXPECT_EQ(r.body, "no token\n");
}

TEST(AdminClient, SkipsInterimReplies) {
  const http_reply r = parse_http_reply(
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 503 Service Unavailable\r\nContent-Length: "
      "4\r\n\r\nbusy");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.reason, "Service Unavailable");
  EXPECT_EQ(r.body, "busy");
}

TEST(AdminClient, RejectsWhatIsNotHttp) {
  EXPECT_EQ(reply_error("SSH-2.0-OpenSSH_9.2\r\n"), "not HTTP: 'SSH-2.0-OpenSSH_9.2'");
  EXPECT_EQ(reply_error("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"), "head cut short");
  EXPECT_EQ(reply_error("HTTP/1.1 200 OK"), "no complete status line");
  EXPECT_EQ(reply_error("HTTP/1.1 20x OK\r\n\r\n"), "not HTTP: 'HTTP/1.1 20x OK'");
  EXPECT_EQ(reply_error("HTTP/1.1 200 OK\r\nno colon\r\n\r\n"), "bad header line 'no colon'");
}

TEST(AdminClient, QueryEscape) {
  EXPECT_EQ(query_escape("conn"), "conn");
  EXPECT_EQ(query_escape("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
  EXPECT_EQ(query_escape("1.5_~-"), "1.5_~-");
}

std::string address_error(std::string_view address) {
  try {
    admin_client c(address, "");
  } catch (const admin_error& e) {
    return e.what();
  }
  return "no error";
}

TEST(AdminClient, Addresses) {
  EXPECT_EQ(admin_client("127.0.0.1:9901", "").address(), "127.0.0.1:9901");
  EXPECT_EQ(admin_client("http://localhost:8080/", "").address(), "localhost:8080");
  EXPECT_EQ(admin_client("[::1]:9901", "").address(), "[::1]:9901");
  EXPECT_EQ(admin_client(":9901", "").address(), "127.0.0.1:9901");
  EXPECT_EQ(address_error("localhost"), "bad address 'localhost': want HOST:PORT");
  EXPECT_EQ(address_error("::1:9901"), "bad address '::1:9901': IPv6 addresses go in brackets");
  EXPECT_EQ(address_error("host:0"),
            "bad address 'host:0': the port must be a number from 1 to 65535");
  EXPECT_EQ(address_error("host:99999"),
            "bad address 'host:99999': the port must be a number from 1 to 65535");
  EXPECT_EQ(address_error("https://host:1"),
            "bad address 'https://host:1': the admin endpoint speaks plain HTTP, not https");
  try {
    admin_client c("127.0.0.1:1", "tok\r\nX-Evil: 1");
    ADD_FAILURE() << "a token with CRLF was accepted";
  } catch (const admin_error& e) {
    EXPECT_STREQ(e.what(), "the token contains control characters");
  }
}

}  // namespace
}  // namespace weir::tool
