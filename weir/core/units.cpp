#include <weir/core/units.hpp>

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <limits>
#include <utility>

namespace weir {

namespace {

using u64 = std::uint64_t;
constexpr u64 kib = 1024, mib = kib * 1024, gib = mib * 1024;

bool is_digit(char ch) { return ch >= '0' && ch <= '9'; }

}  // namespace

bool parse_u64(std::string_view s, std::uint64_t& out) {
  if (s.empty()) return false;
  u64 v = 0;
  for (char ch : s) {
    if (!is_digit(ch)) return false;
    const u64 d = static_cast<u64>(ch - '0');
    if (v > (std::numeric_limits<u64>::max() - d) / 10) return false;
    v = v * 10 + d;
  }
  out = v;
  return true;
}

namespace {

// The exact total in nanoseconds; `inexact` when digits below a nanosecond were given.
std::optional<std::uint64_t> parse_nanoseconds(std::string_view s, bool& inexact) {
  struct unit {
    std::string_view name;
    u64 ns;
  };
  static constexpr unit units[] = {
      {"ns", 1},         {"us", 1'000},        {"\xC2\xB5s", 1'000},  // µs
      {"ms", 1'000'000}, {"s", 1'000'000'000}, {"m", 60'000'000'000}, {"h", 3'600'000'000'000}};
  constexpr u64 max = std::numeric_limits<u64>::max();
  constexpr u64 billion = 1'000'000'000;
  if (s == "0") return 0;
  if (s.empty()) return std::nullopt;
  u64 total = 0;
  std::size_t i = 0;
  while (i < s.size()) {
    const std::size_t int_begin = i;
    while (i < s.size() && is_digit(s[i])) ++i;
    u64 whole = 0;
    if (!parse_u64(s.substr(int_begin, i - int_begin), whole)) return std::nullopt;
    u64 frac = 0;  // the fraction in units of 1e-9
    int frac_digits = 0;
    if (i < s.size() && s[i] == '.') {
      const std::size_t frac_begin = ++i;
      for (; i < s.size() && is_digit(s[i]); ++i) {
        if (frac_digits < 9) {
          frac = frac * 10 + static_cast<u64>(s[i] - '0');
          ++frac_digits;
        } else if (s[i] != '0') {
          inexact = true;
        }
      }
      if (i == frac_begin) return std::nullopt;
    }
    for (; frac_digits < 9; ++frac_digits) frac *= 10;
    const std::size_t unit_begin = i;
    while (i < s.size() && !is_digit(s[i]) && s[i] != '.') ++i;
    const auto name = s.substr(unit_begin, i - unit_begin);
    const auto* u = std::find_if(std::begin(units), std::end(units),
                                 [name](const unit& x) { return x.name == name; });
    if (u == std::end(units)) return std::nullopt;
    if (whole > max / u->ns) return std::nullopt;
    // frac * ns / 1e9 without overflow: frac < 1e9, ns / 1e9 <= 3600, ns % 1e9 < 1e9.
    const u64 q = u->ns / billion, r = u->ns % billion;
    const u64 part = whole * u->ns + frac * q + frac * r / billion;
    if (frac * r % billion != 0) inexact = true;
    if (part < whole * u->ns || total > max - part) return std::nullopt;
    total += part;
  }
  return total;
}

}  // namespace

std::optional<std::chrono::milliseconds> parse_duration(std::string_view s) {
  bool inexact = false;  // so that the rounding up is a true ceiling
  const auto total = parse_nanoseconds(s, inexact);
  if (!total) return std::nullopt;
  const u64 ms = *total / 1'000'000 + ((*total % 1'000'000 != 0 || inexact) ? 1 : 0);
  return std::chrono::milliseconds(static_cast<std::chrono::milliseconds::rep>(ms));
}

std::optional<std::chrono::nanoseconds> parse_duration_ns(std::string_view s) {
  bool inexact = false;
  const auto total = parse_nanoseconds(s, inexact);
  if (!total || *total > static_cast<u64>(std::numeric_limits<std::int64_t>::max()))
    return std::nullopt;
  return std::chrono::nanoseconds(static_cast<std::int64_t>(*total + (inexact ? 1 : 0)));
}

std::optional<std::size_t> parse_size(std::string_view s) {
  u64 mult = 1;
  for (const auto& [suffix, m] :
       {std::pair{std::string_view{"KiB"}, kib}, std::pair{std::string_view{"MiB"}, mib},
        std::pair{std::string_view{"GiB"}, gib}}) {
    if (s.ends_with(suffix)) {
      s.remove_suffix(suffix.size());
      mult = m;
      break;
    }
  }
  u64 n = 0;
  if (!parse_u64(s, n) || n > std::numeric_limits<std::size_t>::max() / mult) return std::nullopt;
  return static_cast<std::size_t>(n * mult);
}

}  // namespace weir
