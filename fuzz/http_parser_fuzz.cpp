// libFuzzer target for weir::http's parsers (request, response, chunked).
//
// Differential: the input is parsed as a stream of pipelined requests twice, once whole and once
// cut into pieces at points drawn from the input itself; both must give the same requests and
// the same error (the parsers are resumable at any byte boundary). Also checks that every view a
// parser returns lies inside the buffer it was given, and feeds the bytes to the response
// parser. Any mismatch aborts.
//
//   build/asan/fuzz/http_parser_fuzz fuzz/corpus/http_parser -max_total_time=60
#include <weir/http/parser.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace weir::http;

void check_inside(std::string_view v, std::string_view buf) {
  if (v.empty()) return;
  if (v.data() < buf.data() || v.data() + v.size() > buf.data() + buf.size()) {
    std::fprintf(stderr, "view outside its buffer\n");
    std::abort();
  }
}

std::string describe(const request_head& h, std::string_view buf) {
  check_inside(h.target, buf);
  check_inside(h.method_name, buf);
  std::string s(h.method_name);
  s += ' ';
  s += h.target;
  s += h.keep_alive ? " ka" : " close";
  for (const auto& f : h.headers) {
    check_inside(f.name, buf);
    check_inside(f.value, buf);
    s += '[';
    s += f.name;
    s += ':';
    s += f.value;
    s += ']';
  }
  return s;
}

std::vector<std::string> parse_stream(const std::vector<std::string_view>& pieces) {
  limits lim;
  lim.request_line = 256;
  lim.header_bytes = 1024;
  lim.header_count = 16;
  lim.body_bytes = 4096;
  std::vector<std::string> out;
  std::string buf, body;
  std::size_t next = 0;
  request_parser p(lim);
  chunked_decoder d(lim);
  enum { head, length_body, chunked_body } state = head;
  std::uint64_t left = 0;
  for (;;) {
    bool progress = false;
    if (state == head && !buf.empty()) {
      auto s = p.parse(buf);
      if (s == parse_status::error) {
        out.push_back("ERR " + std::to_string(p.error().status));
        return out;
      }
      if (s == parse_status::done) {
        if (p.head_size() > buf.size()) std::abort();
        out.push_back(describe(p.head(), buf));
        left = p.head().content_length;
        auto f = p.head().body;
        buf.erase(0, p.head_size());
        p.reset();
        if (f == framing::length) state = length_body;
        if (f == framing::chunked) state = chunked_body, d.reset();
        progress = true;
      }
    } else if (state == length_body) {
      std::size_t n = left < buf.size() ? std::size_t(left) : buf.size();
      out.back().append(buf, 0, n);
      buf.erase(0, n);
      left -= n;
      if (left == 0) state = head;
      progress = n > 0 || left == 0;
    } else if (state == chunked_body) {
      auto s = d.decode(buf);
      if (s.consumed > buf.size()) std::abort();
      check_inside(s.data, buf);
      std::string data(s.data);
      buf.erase(0, s.consumed);
      switch (s.kind) {
        case chunk_event::data:
          out.back() += data;
          progress = true;
          break;
        case chunk_event::trailer:
          out.back() += "|t";
          progress = true;
          break;
        case chunk_event::done:
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
    if (next == pieces.size()) return out;
    buf.append(pieces[next++]);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  // The first two bytes choose the cuts; the rest is the stream.
  const unsigned seed = data[0] | unsigned(data[1]) << 8;
  const std::string_view in(reinterpret_cast<const char*>(data) + 2, size - 2);
  std::vector<std::string_view> whole{in}, cut;
  std::size_t pos = 0;
  unsigned x = seed | 1;
  while (pos < in.size()) {
    x = x * 1103515245u + 12345u;
    std::size_t n = 1 + (x >> 16) % 17;
    if (n > in.size() - pos) n = in.size() - pos;
    cut.push_back(in.substr(pos, n));
    pos += n;
  }
  if (parse_stream(whole) != parse_stream(cut)) {
    std::fprintf(stderr, "whole and cut parses differ\n");
    std::abort();
  }
  response_parser rp;
  if (rp.parse(in, (seed & 1) ? method::head : method::get) == parse_status::done) {
    if (rp.head_size() > in.size()) std::abort();
    check_inside(rp.head().reason, in);
  }
  return 0;
}
