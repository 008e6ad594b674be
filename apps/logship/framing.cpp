#include "framing.hpp"

#include <algorithm>

namespace logship {

namespace {

// "MSG-LEN SP": 1-9 then up to 9 more digits, then a space. Returns the count and sets
// `header` to the bytes it took; 0 with header 0: not a count; 0 with header > 0 impossible.
// need_more: the bytes so far could still be a count.
std::uint64_t parse_count(std::string_view b, std::size_t& header, bool& need_more) {
  header = 0;
  need_more = false;
  if (b.empty()) return need_more = true, 0;
  if (b[0] < '1' || b[0] > '9') return 0;
  std::uint64_t n = 0;
  std::size_t i = 0;
  while (i < b.size() && b[i] >= '0' && b[i] <= '9') {
    if (i == 10) return 0;  // over 10 digits: not a count we take
    n = n * 10 + static_cast<std::uint64_t>(b[i] - '0');
    ++i;
  }
  if (i == b.size()) return need_more = true, 0;
  if (b[i] != ' ') return 0;
  header = i + 1;
  return n;
}

}  // namespace

std::size_t framer::next(std::string_view buf, frame& out) noexcept {
  out = frame();
  if (buf.empty()) return 0;
  if (skip_) {  // the rest of an octet-counted frame cut at max_
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(skip_, buf.size()));
    skip_ -= n;
    return n;
  }
  if (skip_line_) {  // the rest of a line cut at max_
    const std::size_t lf = buf.find('\n');
    if (lf == std::string_view::npos) return buf.size();
    skip_line_ = false;
    return lf + 1;
  }
  if (mode_ != framing::newline) {
    std::size_t header = 0;
    bool need_more = false;
    const std::uint64_t count = parse_count(buf, header, need_more);
    if (need_more && (mode_ == framing::octet_counting || buf.size() < 11)) return 0;
    if (header) {
      const std::size_t body = buf.size() - header;
      if (count <= max_) {
        if (body < count) return 0;
        out.present = true;
        out.bytes = buf.substr(header, static_cast<std::size_t>(count));
        return header + static_cast<std::size_t>(count);
      }
      if (body < max_) return 0;
      out.present = out.truncated = true;
      out.bytes = buf.substr(header, max_);
      skip_ = count - max_;
      return header + max_;
    }
    if (mode_ == framing::octet_counting) {
      out.error = "octet counting: expected MSG-LEN SP";
      return buf.size();
    }
  }
  const std::size_t lf = buf.find('\n');
  if (lf == std::string_view::npos || lf > max_) {
    if (buf.size() <= max_) return 0;
    out.present = out.truncated = true;
    out.bytes = buf.substr(0, max_);
    skip_line_ = true;
    return max_;
  }
  std::string_view line = buf.substr(0, lf);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  out.present = !line.empty();  // a blank line (CRLF CRLF, a trailing LF) holds no message
  out.bytes = line;
  return lf + 1;
}

void framer::finish(std::string_view buf, frame& out) noexcept {
  out = frame();
  if (skip_ || skip_line_) {  // the end of a frame already delivered truncated
    skip_ = 0;
    skip_line_ = false;
    return;
  }
  if (buf.empty()) return;
  if (mode_ != framing::newline) {
    std::size_t header = 0;
    bool need_more = false;
    const std::uint64_t count = parse_count(buf, header, need_more);
    if (header) {  // cut short: what came of it
      out.present = out.truncated = true;
      out.bytes = buf.substr(header, std::min<std::size_t>(buf.size() - header, max_));
      (void)count;
      return;
    }
    if (mode_ == framing::octet_counting) {
      out.error = "octet counting: the stream ended inside MSG-LEN";
      return;
    }
  }
  std::string_view line = buf.substr(0, std::min(buf.size(), max_));
  out.truncated = buf.size() > max_;
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  out.present = !line.empty();
  out.bytes = line;
}

}  // namespace logship
