// weir::debug::metric_history — the last minutes of every metric the admin endpoint serves,
// for the plots of its browser view (/ui). Internal to weir::debug; sans-I/O.
//
// The admin server scrapes its own /metrics text once a second into it; /debug/history hands
// the whole window to the page as JSON:
//   {"t": [unix ms, ...],                       oldest first
//    "types": {"weir_task_runs_total": "counter", ...},
//    "series": {"weir_task_runs_total{shard=\"0\"}": [12, 40, null, ...], ...}}
// A series absent from a scrape (not yet created, or gone) has null there. Counters and
// histogram buckets are kept raw: the page turns them into rates and quantiles per interval.
//
// Bounded: `samples` scrapes per series and at most `max_series` series; a scrape's series
// beyond that are counted (dropped_series()) and not kept.
//
// Thread safety: none; the admin server uses it from its one shard.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace weir::debug {

class metric_history {
 public:
  explicit metric_history(std::size_t samples = 300, std::size_t max_series = 2000);

  // Adds one scrape taken at `t_ms` (unix ms): Prometheus text exposition format 0.0.4.
  // Lines that are not samples (comments other than # TYPE, blank, malformed) are skipped.
  void add(std::int64_t t_ms, std::string_view prometheus_text);

  std::string json() const;
  std::size_t samples() const noexcept { return n_; }
  std::size_t series_count() const noexcept { return series_.size(); }
  std::uint64_t dropped_series() const noexcept { return dropped_; }

 private:
  // Index of the k-th oldest sample in the rings.
  std::size_t slot(std::size_t k) const noexcept { return (head_ + cap_ - n_ + k) % cap_; }

  std::size_t cap_, max_series_;
  std::size_t head_ = 0;  // where the next sample goes
  std::size_t n_ = 0;     // samples held (<= cap_)
  std::vector<std::int64_t> times_;
  std::map<std::string, std::vector<double>, std::less<>> series_;  // rings of cap_, NaN: none
  std::map<std::string, std::string, std::less<>> types_;
  std::uint64_t dropped_ = 0;
};

}  // namespace weir::debug
