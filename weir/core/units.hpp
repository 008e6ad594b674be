// Durations and byte sizes as people write them in flags and config files (taskd, logship).
//
//   weir::parse_duration("1.5s")   -> 1500ms        weir::parse_size("64KiB") -> 65536
//
// Plain functions of their arguments: safe from any thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace weir {

// "5s", "250ms", "1.5s", "2m", "1h", "100us", "10ns", or a sum such as "1m30s"; a bare "0" is
// zero. Rounds up to whole milliseconds (so "100us" is 1ms: never shorter than asked). Nothing
// if malformed or out of range.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view s);
// The same forms, to the nanosecond (a slow NIC's "50us" per frame).
std::optional<std::chrono::nanoseconds> parse_duration_ns(std::string_view s);

// "4096", "64KiB", "1MiB", "1GiB" (binary multiples only). Nothing if malformed or too large.
std::optional<std::size_t> parse_size(std::string_view s);

// Decimal digits only (no sign, no spaces); false when empty or on overflow.
bool parse_u64(std::string_view s, std::uint64_t& out);

}  // namespace weir
