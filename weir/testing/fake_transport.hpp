// weir::testing::fake_transport — a scripted io::byte_stream for sans-I/O tests of protocol
// code: reads return the scripted chunks (any split of the bytes), injected errors (reset,
// end of stream mid-message) and hangs; writes are recorded, can be cut short and can fail.
//
//   weir::testing::fake_transport f;
//   f.chunk("GET / HT").chunk("TP/1.1\r\n\r\n").fail_read(std::errc::connection_reset);
//   f.max_write(3);                     // every write accepts at most 3 bytes
//   io::transport t(f);
//   ... run the parser over t ...
//   EXPECT_EQ(f.written(), "HTTP/1.1 200 OK\r\n...");
//
//   // every split of `input` into up to three pieces, and into single bytes:
//   weir::testing::for_each_split(input, [&](const std::vector<std::string_view>& pieces) {...});
//
// After the script, reads return 0 (end of stream). A read into a buffer smaller than the
// next chunk returns a prefix and keeps the rest for the next read. hang() makes the next
// read wait until the task is cancelled (deadline tests). Single-threaded; use on a shard.
#pragma once

#include <weir/core/error.hpp>
#include <weir/core/result.hpp>
#include <weir/core/task.hpp>
#include <weir/core/time.hpp>
#include <weir/io/byte_stream.hpp>

#include <algorithm>
#include <cstring>
#include <deque>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace weir::testing {

class fake_transport final : public io::byte_stream {
 public:
  // --- what reads return, in order ------------------------------------------------------
  fake_transport& chunk(std::string_view bytes) {
    if (!bytes.empty()) script_.push_back({step::data, std::string(bytes), {}});
    return *this;
  }
  fake_transport& chunks(const std::vector<std::string_view>& pieces) {
    for (auto p : pieces) chunk(p);
    return *this;
  }
  fake_transport& fail_read(std::error_code ec) {
    script_.push_back({step::error, {}, ec});
    return *this;
  }
  fake_transport& fail_read(std::errc e) { return fail_read(std::make_error_code(e)); }
  fake_transport& eof() {
    script_.push_back({step::end, {}, {}});
    return *this;
  }
  fake_transport& hang() {
    script_.push_back({step::hang, {}, {}});
    return *this;
  }

  // --- how writes behave --------------------------------------------------------------------
  fake_transport& max_write(std::size_t n) {
    max_write_ = n;
    return *this;
  }
  // Once `n` bytes in total have been written, writes fail with `ec` (the write that crosses
  // the limit writes up to it).
  fake_transport& fail_write_after(std::size_t n, std::error_code ec) {
    write_limit_ = n;
    write_error_ = ec;
    return *this;
  }

  const std::string& written() const noexcept { return written_; }
  bool write_shut_down() const noexcept { return shut_; }
  std::size_t read_calls() const noexcept { return reads_; }
  std::size_t write_calls() const noexcept { return writes_; }
  bool script_done() const noexcept { return script_.empty(); }

  // --- io::byte_stream -------------------------------------------------------------------------
  task<result<std::size_t>> read_some(std::span<std::byte> buf) override {
    ++reads_;
    if (script_.empty() || buf.empty()) co_return std::size_t{0};
    step& s = script_.front();
    switch (s.k) {
      case step::data: {
        const std::size_t n = std::min(buf.size(), s.bytes.size() - s.offset);
        std::memcpy(buf.data(), s.bytes.data() + s.offset, n);
        s.offset += n;
        if (s.offset == s.bytes.size()) script_.pop_front();
        co_return n;
      }
      case step::error: {
        const std::error_code ec = s.ec;
        script_.pop_front();
        co_return unexpected(ec);
      }
      case step::end: co_return std::size_t{0};
      case step::hang: {
        script_.pop_front();
        WEIR_CO_TRY(co_await sleep_for(std::chrono::hours(24 * 365)));
        co_return std::size_t{0};
      }
    }
    co_return std::size_t{0};
  }

  task<result<std::size_t>> write_some(std::span<const iovec> bufs) override {
    ++writes_;
    if (shut_) co_return unexpected(std::make_error_code(std::errc::broken_pipe));
    std::size_t budget = max_write_;
    if (write_limit_ != npos) {
      if (written_.size() >= write_limit_) co_return unexpected(write_error_);
      budget = std::min(budget, write_limit_ - written_.size());
    }
    std::size_t n = 0;
    for (const iovec& v : bufs) {
      const std::size_t k = std::min(budget - n, v.iov_len);
      written_.append(static_cast<const char*>(v.iov_base), k);
      n += k;
      if (n == budget) break;
    }
    co_return n;
  }

  task<result<void>> shutdown_write() override {
    shut_ = true;
    co_return result<void>{};
  }

  std::string peer_name() const override { return "fake"; }

 private:
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);
  struct step {
    enum kind { data, error, end, hang } k;
    std::string bytes;
    std::error_code ec;
    std::size_t offset = 0;
  };
  std::deque<step> script_;
  std::string written_;
  std::size_t max_write_ = npos;
  std::size_t write_limit_ = npos;
  std::error_code write_error_;
  bool shut_ = false;
  std::size_t reads_ = 0, writes_ = 0;
};

// Calls fn(pieces) for every split of `input` into two or three non-empty pieces, for the
// split into single bytes, and for the input whole: a parser that gives the same answer for
// all of them does not depend on where reads happen to cut its input.
template <class F>
void for_each_split(std::string_view input, F&& fn) {
  const std::size_t n = input.size();
  fn(std::vector<std::string_view>{input});
  for (std::size_t i = 1; i < n; ++i) {
    fn(std::vector<std::string_view>{input.substr(0, i), input.substr(i)});
    for (std::size_t j = i + 1; j < n; ++j)
      fn(std::vector<std::string_view>{input.substr(0, i), input.substr(i, j - i),
                                       input.substr(j)});
  }
  std::vector<std::string_view> bytes;
  for (std::size_t i = 0; i < n; ++i) bytes.push_back(input.substr(i, 1));
  if (n > 1) fn(bytes);
}

}  // namespace weir::testing
