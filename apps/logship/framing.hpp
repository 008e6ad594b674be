// logship's syslog framing over a byte stream (TCP, TLS): RFC 6587's octet counting
// ("47 <34>1 2003-10-11T22:14:15.003Z ...") and its non-transparent framing (a frame ends at LF;
// a CR before it is dropped; a blank line is no frame). Sans-I/O: the caller owns the buffer;
// frames are views into it.
//
//   logship::framer f(logship::framing::detect, 64 * 1024);
//   for (;;) {
//     logship::frame fr;
//     const std::size_t used = f.next(buffered, fr);   // 0: needs more bytes
//     if (!used) break;
//     if (fr.error) { count(fr.error); close(); }      // strict mode, a broken count
//     else if (fr.present) deliver(fr.bytes, fr.truncated);
//     buffered.remove_prefix(used);                    // (after using fr.bytes)
//   }
//   at EOF: f.finish(buffered, fr) hands over what is left.
//
// Modes, per listener: `detect` decides per frame (a first byte 1-9 followed by digits and a
// space is a count, as rsyslog decides: so a PRI-less line "42 apples" is read as a count there;
// anything else is a line), `octet_counting` and `newline` accept only theirs
// (octet_counting refuses a frame that does not start with a count: fr.error says why, and the
// connection should be closed, since the stream cannot be resynchronized).
// Limits: a frame longer than `max_message` is cut there and flagged `truncated` (never dropped
// silently); the rest of it is skipped, whatever the next() calls it spans.
//
// Thread safety: one framer per connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace logship {

enum class framing : std::uint8_t { detect, octet_counting, newline };

struct frame {
  bool present = false;  // a frame is in `bytes` (false: bytes were consumed, no frame yet)
  bool truncated = false;
  std::string_view bytes;
  const char* error = nullptr;  // strict octet counting: not a count; the stream is unusable
};

class framer {
 public:
  explicit framer(framing mode, std::size_t max_message = 64 * 1024) noexcept
      : mode_(mode), max_(max_message ? max_message : 1) {}

  // Looks at the unconsumed bytes `buf`. Returns how many to consume (0: nothing to do until
  // more bytes arrive), with `out` telling whether they held a frame.
  std::size_t next(std::string_view buf, frame& out) noexcept;
  // At the end of the stream: the last frame, if bytes are left (a line without its LF is a
  // frame; an octet-counted frame cut short is delivered `truncated`). Consumes all of `buf`.
  void finish(std::string_view buf, frame& out) noexcept;

 private:
  framing mode_;
  std::size_t max_;
  // Skipping the rest of a frame cut at max_: `skip_` bytes of an octet-counted one, or up to
  // the next LF (skip_line_).
  std::uint64_t skip_ = 0;
  bool skip_line_ = false;
};

}  // namespace logship
