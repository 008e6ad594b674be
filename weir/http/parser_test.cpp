#include <weir/http/parser.hpp>

#include <weir/testing/fake_transport.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace weir::http {
namespace {

using weir::testing::for_each_split;

// Canonical text of a parsed request: what a test compares across splits.
std::string describe(const request_head& h) {
  std::string s = std::string(h.method_name) + " " + std::string(h.target) + " 1." +
                  std::to_string(h.version_minor) + (h.keep_alive ? " ka" : " close");
  s += " host=" + std::string(h.host);
  if (h.expect_continue) s += " expect";
  for (const auto& f : h.headers)
    s += " [" + std::string(f.name) + ":" + std::string(f.value) + "]";
  return s;
}

// Feeds `pieces` one at a time, as a connection receives them, and parses every request
// (head, then body by its framing). Returns one line per request, "ERR <status>" on an error.
std::vector<std::string> parse_stream(const std::vector<std::string_view>& pieces,
                                      limits lim = {}) {
  std::vector<std::string> out;
  std::string buf;
  std::size_t next = 0;
  request_parser p(lim);
  chunked_decoder d(lim);
  enum { head, length_body, chunked_body } state = head;
  std::uint64_t left = 0;
  std::string body, cur;
  for (;;) {
    bool progress = false;
    if (state == head && !buf.empty()) {
      auto s = p.parse(buf);
      if (s == parse_status::error) {
        out.push_back("ERR " + std::to_string(p.error().status));
        return out;
      }
      if (s == parse_status::done) {
        cur = describe(p.head());
        auto framing = p.head().body;
        left = p.head().content_length;
        buf.erase(0, p.head_size());
        p.reset();
        body.clear();
        if (framing == framing::length)
          state = length_body;
        else if (framing == framing::chunked)
          state = chunked_body, d.reset();
        else
          out.push_back(cur + " body=");
        progress = true;
      }
    } else if (state == length_body) {
      std::size_t n = std::min<std::uint64_t>(left, buf.size());
      body.append(buf, 0, n);
      buf.erase(0, n);
      left -= n;
      if (left == 0) {
        out.push_back(cur + " body=" + body);
        state = head;
        progress = true;
      } else if (n) {
        progress = true;
      }
    } else if (state == chunked_body) {
      auto s = d.decode(buf);
      std::string data(s.data),
          field = std::string(s.field.name) + "=" + std::string(s.field.value);
      buf.erase(0, s.consumed);  // s's views are into buf: copied above
      switch (s.kind) {
        case chunk_event::data:
          body.append(data);
          progress = true;
          break;
        case chunk_event::trailer:
          body += "|" + field;
          progress = true;
          break;
        case chunk_event::done:
          out.push_back(cur + " body=" + body);
          state = head;
          progress = true;
          break;
        case chunk_event::error:
          out.push_back("ERR " + std::to_string(d.error().status));
          return out;
        case chunk_event::more: break;
      }
    }
    if (progress) continue;
    if (next == pieces.size()) {
      if (!buf.empty() || state != head) out.push_back("INCOMPLETE");
      return out;
    }
    buf.append(pieces[next++]);
  }
}

std::vector<std::string> parse_whole(std::string_view in, limits lim = {}) {
  return parse_stream({in}, lim);
}

void expect_same_for_every_split(std::string_view in, const std::vector<std::string>& want) {
  std::size_t splits = 0;
  for_each_split(in, [&](const std::vector<std::string_view>& pieces) {
    ++splits;
    auto got = parse_stream(pieces);
    if (got != want) {
      std::string where;
      for (auto p : pieces) where += "<" + std::string(p) + ">";
      ADD_FAILURE() << "split " << where << " gave " << ::testing::PrintToString(got);
    }
  });
  EXPECT_GT(splits, in.size());
}

TEST(HttpParser, SimpleGet) {
  auto r = parse_whole("GET /a/b?x=1&y=2 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0], "GET /a/b?x=1&y=2 1.1 ka host=example.com [Host:example.com] [Accept:*/*] body=");
  request_parser p;
  ASSERT_EQ(p.parse("GET /a/b?x=1 HTTP/1.1\r\nHost: h\r\n\r\n"), parse_status::done);
  EXPECT_EQ(p.head().path, "/a/b");
  EXPECT_EQ(p.head().query, "x=1");
  EXPECT_EQ(p.head().verb, method::get);
  EXPECT_EQ(p.head().header("HOST"), "h");
  EXPECT_EQ(p.head_size(), 34u);
}

// A pipelined corpus of valid requests, parsed the same way for every split of its bytes.
TEST(HttpParser, CorpusEverySplit) {
  const std::string corpus =
      "GET / HTTP/1.1\r\nHost: a\r\n\r\n"
      "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
      "PUT /kv/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3;ext=1\r\nabc\r\n0\r\nX-Sum: 9\r\n\r\n"
      "HEAD /h HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
      "GET /t HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n";
  const std::vector<std::string> want = {
      "GET / 1.1 ka host=a [Host:a] body=",
      "POST /echo 1.1 ka host=a [Host:a] [Content-Length:5] body=hello",
      "PUT /kv/x 1.1 ka host=a [Host:a] [Transfer-Encoding:chunked] body=abc|X-Sum=9",
      "HEAD /h 1.0 ka host= [Connection:keep-alive] body=",
      "GET /t 1.1 close host=a expect [Host:a] [Expect:100-continue] [Connection:close] body=",
  };
  EXPECT_EQ(parse_whole(corpus), want);
  expect_same_for_every_split(corpus, want);
}

TEST(HttpParser, ErrorsAreTheSameForEverySplit) {
  const std::string in = "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost : a\r\n\r\n";
  expect_same_for_every_split(in, {"GET / 1.1 ka host=a [Host:a] body=", "ERR 400"});
}

TEST(HttpParser, VersionsAndConnection) {
  EXPECT_EQ(parse_whole("GET / HTTP/1.0\r\n\r\n")[0], "GET / 1.0 close host= body=");
  EXPECT_EQ(parse_whole("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Close\r\n\r\n")[0],
            "GET / 1.1 close host=a [Host:a] [Connection:keep-alive, Close] body=");
  EXPECT_EQ(parse_whole("GET / HTTP/2.0\r\nHost: a\r\n\r\n")[0], "ERR 505");
  EXPECT_EQ(parse_whole("GET / HTTP/1.2\r\nHost: a\r\n\r\n")[0], "ERR 505");
  EXPECT_EQ(parse_whole("GET / HTTP/1\r\nHost: a\r\n\r\n")[0], "ERR 400");
  EXPECT_EQ(parse_whole("GET / http/1.1\r\nHost: a\r\n\r\n")[0], "ERR 400");
  // Empty lines before the request line are ignored (RFC 9112 §2.2).
  EXPECT_EQ(parse_whole("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n")[0],
            "GET / 1.1 ka host=a [Host:a] body=");
}

// Request smuggling and other framing ambiguities: 400 (or 501), never a guess.
TEST(HttpParser, SmugglingCasesAreRejected) {
  struct {
    const char* name;
    const char* in;
    const char* want;
  } cases[] = {
      {"CL and TE",
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
       "ERR 400"},
      {"TE and CL",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
       "ERR 400"},
      {"differing CL",
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", "ERR 400"},
      {"CL list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 4\r\n\r\n", "ERR 400"},
      {"CL sign", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\n", "ERR 400"},
      {"CL hex", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x3\r\n\r\n", "ERR 400"},
      {"CL overflow",
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n", "ERR 400"},
      {"TE not chunked last",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", "ERR 400"},
      {"TE chunked twice",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
       "chunked\r\n\r\n",
       "ERR 400"},
      {"TE unknown", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
       "ERR 501"},
      {"TE only gzip", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", "ERR 400"},
      {"TE xchunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n",
       "ERR 400"},
      {"TE in 1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", "ERR 400"},
      {"space before colon", "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n",
       "ERR 400"},
      {"obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n  2\r\n\r\n", "ERR 400"},
      {"bare LF", "GET / HTTP/1.1\nHost: a\n\n", "ERR 400"},
      {"bare LF in field", "GET / HTTP/1.1\r\nHost: a\nX: 1\r\n\r\n", "ERR 400"},
      {"bare CR in field", "GET / HTTP/1.1\r\nHost: a\rX: 1\r\n\r\n", "ERR 400"},
      {"control in field",
       "GET / HTTP/1.1\r\nHost: a\r\nX: a\x01"
       "b\r\n\r\n",
       "ERR 400"},
      {"non-token method", "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", "ERR 400"},
      {"two spaces", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", "ERR 400"},
      {"space in target", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", "ERR 400"},
      {"missing host", "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", "ERR 400"},
      {"two hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "ERR 400"},
      {"empty field name", "GET / HTTP/1.1\r\nHost: a\r\n: x\r\n\r\n", "ERR 400"},
      {"no colon", "GET / HTTP/1.1\r\nHost: a\r\nX\r\n\r\n", "ERR 400"},
      {"unknown expectation", "GET / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n", "ERR 417"},
  };
  for (const auto& c : cases) EXPECT_EQ(parse_whole(c.in)[0], c.want) << c.name;
  // The NUL case, with its real length (a C string would stop at the NUL).
  const std::string nul("GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n", 36);
  EXPECT_EQ(parse_whole(nul)[0], "ERR 400");
  // Same Content-Length twice is one length.
  EXPECT_EQ(
      parse_whole(
          "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok")[0],
      "POST / 1.1 ka host=a [Host:a] [Content-Length:2] [Content-Length:2] body=ok");
}

TEST(HttpParser, ChunkedBodies) {
  auto ok = [](std::string body) {
    auto r = parse_whole("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + body);
    auto& s = r.at(0);
    auto at = s.find(" body=");
    if (at != std::string::npos) s = s.substr(at + 1);
    return r;
  };
  EXPECT_EQ(ok("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")[0], "body=hello world");
  EXPECT_EQ(ok("A\r\n0123456789\r\n0\r\n\r\n")[0], "body=0123456789");
  EXPECT_EQ(ok("00000005 ; name=\"v\"\r\nhello\r\n0\r\n\r\n")[0], "body=hello");
  EXPECT_EQ(ok("0\r\nA: 1\r\nB: 2\r\n\r\n")[0], "body=|A=1|B=2");
  EXPECT_EQ(ok("-5\r\nhello\r\n0\r\n\r\n")[0], "ERR 400");
  EXPECT_EQ(ok("0x5\r\nhello\r\n0\r\n\r\n")[0], "ERR 400");
  EXPECT_EQ(ok(" 5\r\nhello\r\n0\r\n\r\n")[0], "ERR 400");
  // Whitespace after the size only before a ';' (RFC 9112 §7.1.1).
  EXPECT_EQ(ok("5 \r\nhello\r\n0\r\n\r\n")[0], "ERR 400");
  EXPECT_EQ(ok("5\t\r\nhello\r\n0\r\n\r\n")[0], "ERR 400");
  EXPECT_EQ(ok("5\r\nhello\r\n0 \r\n\r\n")[0], "ERR 400");
  EXPECT_EQ(ok("5 ;x\r\nhello\r\n0\r\n\r\n")[0], "body=hello");
  EXPECT_EQ(ok("5\nhello\r\n0\r\n\r\n")[0], "ERR 400");
  EXPECT_EQ(ok("5\r\nhelloXX0\r\n\r\n")[0], "ERR 400");
  EXPECT_EQ(ok("fffffffffffffffff\r\n")[0], "ERR 400");
  EXPECT_EQ(ok("5\r\nhello\r\n0\r\nA : 1\r\n\r\n")[0], "ERR 400");
  EXPECT_EQ(ok("5;a\x01\r\nhello\r\n0\r\n\r\n")[0], "ERR 400");
  // The decoded total is held to the body limit.
  limits lim;
  lim.body_bytes = 8;
  EXPECT_EQ(parse_stream({"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                          "5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n"},
                         lim)[0],
            "ERR 413");
}

TEST(HttpParser, Limits) {
  limits lim;
  lim.request_line = 64;
  lim.header_bytes = 256;
  lim.header_count = 4;
  lim.body_bytes = 10;
  const std::string long_target(100, 'a');
  EXPECT_EQ(parse_stream({"GET /" + long_target + " HTTP/1.1\r\nHost: a\r\n\r\n"}, lim)[0],
            "ERR 414");
  // Detected before the line ends: no waiting for a CRLF that never comes.
  EXPECT_EQ(parse_stream({"GET /" + long_target}, lim)[0], "ERR 414");
  std::string many = "GET / HTTP/1.1\r\nHost: a\r\n";
  for (int i = 0; i < 5; ++i) many += "X" + std::to_string(i) + ": v\r\n";
  EXPECT_EQ(parse_stream({many + "\r\n"}, lim)[0], "ERR 431");
  std::string big = "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(300, 'v') + "\r\n\r\n";
  EXPECT_EQ(parse_stream({big}, lim)[0], "ERR 431");
  EXPECT_EQ(parse_stream({big.substr(0, 200), big.substr(200, 60)}, lim)[0], "ERR 431");
  // A declared body over the limit is refused from the head alone.
  EXPECT_EQ(parse_stream({"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n"}, lim)[0],
            "ERR 413");
  EXPECT_EQ(
      parse_stream({"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789"}, lim)[0]
          .substr(0, 4),
      "POST");
  // The defaults a public server would use.
  limits d;
  EXPECT_EQ(d.request_line, 8u * 1024);
  EXPECT_EQ(d.header_bytes, 64u * 1024);
  EXPECT_EQ(d.header_count, 100u);
  EXPECT_EQ(d.body_bytes, 1u << 20);
}

TEST(HttpParser, ResumesWithoutRescanning) {
  // Feeding a head byte by byte parses it once it is complete, with the same result.
  const std::string in = "GET /x HTTP/1.1\r\nHost: a\r\nA: b\r\n\r\n";
  request_parser p;
  for (std::size_t i = 1; i < in.size(); ++i)
    ASSERT_EQ(p.parse(in.substr(0, i)), parse_status::more);
  ASSERT_EQ(p.parse(in), parse_status::done);
  EXPECT_EQ(p.head().header("a"), "b");
}

TEST(HttpParser, Responses) {
  response_parser p;
  ASSERT_EQ(p.parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", method::get),
            parse_status::done);
  EXPECT_EQ(p.head().status, 200);
  EXPECT_EQ(p.head().reason, "OK");
  EXPECT_EQ(p.head().body, framing::length);
  EXPECT_EQ(p.head().content_length, 5u);
  p.reset();
  ASSERT_EQ(p.parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", method::head),
            parse_status::done);
  EXPECT_EQ(p.head().body, framing::none);
  p.reset();
  ASSERT_EQ(p.parse("HTTP/1.1 204 No Content\r\n\r\n", method::get), parse_status::done);
  EXPECT_EQ(p.head().body, framing::none);
  p.reset();
  ASSERT_EQ(p.parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", method::get),
            parse_status::done);
  EXPECT_EQ(p.head().body, framing::chunked);
  p.reset();
  ASSERT_EQ(p.parse("HTTP/1.0 200 OK\r\n\r\n", method::get), parse_status::done);
  EXPECT_EQ(p.head().body, framing::until_close);
  EXPECT_FALSE(p.head().keep_alive);
  p.reset();
  ASSERT_EQ(p.parse("HTTP/1.1 100 Continue\r\n\r\n", method::post), parse_status::done);
  EXPECT_EQ(p.head().status, 100);
  p.reset();
  ASSERT_EQ(p.parse("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", method::get), parse_status::done);
  p.reset();
  EXPECT_EQ(p.parse("HTTP/1.1 2x0 OK\r\n\r\n", method::get), parse_status::error);
  p.reset();
  EXPECT_EQ(p.parse("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
                    method::get),
            parse_status::error);
}

TEST(HttpParser, ReasonPhrasesAndMethods) {
  EXPECT_EQ(reason_phrase(404), "Not Found");
  EXPECT_EQ(reason_phrase(431), "Request Header Fields Too Large");
  EXPECT_EQ(reason_phrase(799), "Unknown");
  EXPECT_EQ(to_string(method::delete_), "DELETE");
  request_parser p;
  ASSERT_EQ(p.parse("PURGE / HTTP/1.1\r\nHost: a\r\n\r\n"), parse_status::done);
  EXPECT_EQ(p.head().verb, method::other);
  EXPECT_EQ(p.head().method_name, "PURGE");
}

}  // namespace
}  // namespace weir::http
