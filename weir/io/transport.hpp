// weir::io::transport — a buffered reader/writer over any byte_stream, so protocol code never
// touches a socket (rotor's transport, seed 001).
//
//   io::transport t(sock, {.read_buffer = 64 * 1024});
//   auto line = co_await t.read_until("\r\n", 8192);  // result<span>: the line with "\r\n"
//   auto body = co_await t.read_exact(len);            // result<span>: exactly len bytes
//   auto all  = co_await t.fill(128 * 1024);           // ready when >= 128 KiB are buffered
//   t.consume(n);                                      // after fill/peek: drop n bytes
//   co_await t.write(bytes);                           // buffered; waits only past high water
//   co_await t.flush();
//
// Reading: bytes are copied once, from the stream into one buffer of `read_buffer` bytes, which
// grows (doubling) up to `read_buffer_max` only when a call needs more room (a long header
// section): idle connections stay small. Every result is a view into it, valid until the next
// read call on this transport (read_*, fill, consume). read_some/read_exact/read_until consume what
// they return; fill() and buffered() only look. Limits are explicit: asking for more than the
// buffer holds, or a delimiter not found within `max` bytes, is errc::limit_exceeded, never
// growth. The end of the stream is an empty span for read_some and fill(0), errc::eof for a
// read that found no byte at all, errc::truncated for one that found some.
//
// Writing: write() appends to a buffer of `write_buffer` bytes; when the data does not fit, it
// writes what is buffered plus the new data with one gathering write (no copy) and returns
// once the remainder fits (backpressure: a slow peer makes write() wait, memory stays
// bounded). write_gather() sends several buffers the same way. flush() writes everything.
//
// Not thread-safe; one reader and one writer task may use the two directions concurrently.
#pragma once

#include <weir/core/result.hpp>
#include <weir/core/task.hpp>
#include <weir/io/byte_stream.hpp>

#include <cstddef>
#include <memory>
#include <span>
#include <string_view>

namespace weir::io {

struct transport_options {
  std::size_t read_buffer = 16 * 1024;   // initial capacity of the read buffer
  std::size_t read_buffer_max = 0;       // the most a single read result can span (0: read_buffer)
  std::size_t write_buffer = 16 * 1024;  // buffered before write() writes (high-water mark)
};

class transport {
 public:
  using bytes = std::span<const std::byte>;

  explicit transport(byte_stream& s, transport_options o = {});
  transport(const transport&) = delete;
  transport& operator=(const transport&) = delete;

  byte_stream& stream() noexcept { return *s_; }

  // --- reading ---------------------------------------------------------------------------
  // What is buffered (reads from the stream only when nothing is); consumed. Empty: end of stream.
  task<result<bytes>> read_some();
  // Exactly n bytes (n <= read_buffer_max); consumed.
  task<result<bytes>> read_exact(std::size_t n);
  // Up to and including the first `delim`, found within `max` bytes (max <= read_buffer_max);
  // consumed.
  task<result<bytes>> read_until(std::string_view delim, std::size_t max);
  // Ready when at least n bytes are buffered (n <= read_buffer_max), or at the end of the stream
  // (then fewer: check the size). Returns all that is buffered; consumes nothing.
  task<result<bytes>> fill(std::size_t n);
  // Buffered bytes, without reading.
  bytes buffered() const noexcept { return {buf_.get() + begin_, end_ - begin_}; }
  void consume(std::size_t n) noexcept;
  bool eof() const noexcept { return eof_; }

  // --- writing ---------------------------------------------------------------------------
  task<result<void>> write(bytes data);
  task<result<void>> write(std::string_view s) {
    return write(bytes(reinterpret_cast<const std::byte*>(s.data()), s.size()));
  }
  task<result<void>> write_gather(std::span<const bytes> parts);
  // Appends `data` if it fits in the write buffer (no write, no suspension); false otherwise.
  bool try_write(bytes data) noexcept;
  bool try_write(std::string_view s) noexcept {
    return try_write(bytes(reinterpret_cast<const std::byte*>(s.data()), s.size()));
  }
  task<result<void>> flush();
  // Flushes, then half-closes the stream.
  task<result<void>> shutdown_write();
  std::size_t write_buffered() const noexcept { return wlen_; }
  // Current capacity of the read buffer.
  std::size_t read_capacity() const noexcept { return cap_; }

 private:
  task<result<void>> read_more();  // appends at least one byte, or sets eof_
  task<result<void>> write_iov(iovec* iov, std::size_t n);
  void compact() noexcept;
  bool make_room() noexcept;    // space after end_ for a read; false at the size limit
  bool grow(std::size_t need);  // capacity >= need (<= read_buffer_max); false past it

  byte_stream* s_;
  transport_options opt_;
  std::unique_ptr<std::byte[]> buf_;
  std::size_t cap_;
  std::size_t begin_ = 0, end_ = 0;
  bool eof_ = false;
  std::unique_ptr<std::byte[]> wbuf_;
  std::size_t wlen_ = 0;
};

}  // namespace weir::io
