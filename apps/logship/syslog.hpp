// logship's syslog parser: one frame (a line, without its newline) into its fields. Sans-I/O:
// the fields are views into the frame; the structured data's vectors are reused from frame to
// frame (pass the same syslog_message), so a warm parser allocates nothing.
//
//   logship::syslog_message m;
//   if (const char* why = logship::parse_syslog(frame, m))  // nullptr: parsed
//     quarantine(frame, why);                                // "bad PRI", ...
//   else route(m.hostname, m.severity, m.msg, m.param("origin", "ip"));
//
// What it accepts, tried in this order:
// - RFC 5424 (a PRI then a VERSION digit): strictly, as the RFC writes it: TIMESTAMP (fractions
//   up to 6 digits, Z or ±hh:mm, or NILVALUE "-"), HOSTNAME, APP-NAME, PROCID, MSGID within their
//   lengths and in printable US-ASCII, STRUCTURED-DATA ("-" or one or more [id name="value" ...]
//   elements, values with \" \\ \] escaped), then MSG after one space, a UTF-8 BOM dropped.
//   A frame that starts like RFC 5424 and breaks its grammar is not guessed at: it is refused
//   with the reason.
// - RFC 3164 as real senders write it (after a PRI): a timestamp "Mmm dd hh:mm:ss" (no year;
//   the day may be space-padded) or ISO 8601 (rsyslog's high-precision format), or none; a
//   hostname, or none (the next word is then the tag); a TAG of up to 48 name characters with
//   an optional [pid] and a colon, or none (a message starting with '[' is a message); MSG.
// - A line without PRI: the whole line is the message, facility user (1), severity notice (5),
//   as RFC 3164 4.3.3 asks of a relay; `pri_missing` says so.
// Refused: an empty frame, a broken PRI (not 0-191, not 1-3 digits, no '>'), a broken RFC 5424
// header or structured data. The reasons are static strings, fit to be a metric's label.
//
// Thread safety: a pure function.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace logship {

enum class syslog_format : std::uint8_t { rfc5424, rfc3164, bare };

// A timestamp as written: fields are 0 where the format has none (an RFC 3164 year, a zone).
struct syslog_time {
  bool present = false;
  bool has_year = false;    // RFC 3164's "Mmm dd hh:mm:ss" has none
  bool has_offset = false;  // "Z" or ±hh:mm
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  std::uint32_t nanos = 0;  // the fraction, scaled to nanoseconds
  int offset_minutes = 0;   // east of UTC

  // ISO 8601 / RFC 3339: "2024-05-01T12:00:00.123456+02:00"; without a year, "--05-01T..."
  // as ISO 8601 writes a missing year; without a zone, no suffix. "" when absent.
  std::string iso8601() const;
};

struct sd_param {
  std::string_view name;
  std::string_view raw;       // as written, escapes included
  std::string value() const;  // \" \\ \] unescaped (a backslash before anything else stays)
};

struct sd_element {
  std::string_view id;
  std::vector<sd_param> params;
};

struct syslog_message {
  syslog_format format = syslog_format::bare;
  bool pri_missing = false;
  int facility = 1, severity = 5;  // RFC 5424 6.2.1 numbers
  int version = 0;                 // RFC 5424 only
  syslog_time timestamp;
  // Empty where the frame has none (RFC 5424's NILVALUE "-" included).
  std::string_view hostname, appname, procid, msgid;
  std::vector<sd_element> sd;
  std::string_view msg;
  bool bom = false;  // the MSG began with a UTF-8 BOM (dropped from `msg`)

  // The value of [id ... name="..."], unescaped; nullopt-like "" with found = false.
  std::string param(std::string_view id, std::string_view name, bool* found = nullptr) const;
};

// Parses `frame` into `out` (its views point into `frame`). Returns nullptr, or why the frame
// is not syslog (a static string).
const char* parse_syslog(std::string_view frame, syslog_message& out);

}  // namespace logship
