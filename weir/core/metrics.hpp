// weir::metrics — counters, gauges and fixed-bucket histograms kept per shard and merged when
// read, and the one writer of the Prometheus text format (exposition format 0.0.4).
//
// A metric holds one block of cells per shard of the runtime that writes it, plus one block
// shared by every other thread. On a shard, recording touches only that shard's block, with a
// relaxed load and store: no locked instruction, no cache line shared with another shard (each
// block starts a line). A thread that is not a shard (the blocking pool, a test's thread) pays
// one atomic add in the shared block. Reading (value(), read()) sums the blocks, from any
// thread: each number is exact and a counter never goes back, but one scrape is not a single
// consistent cut across metrics.
//
//   metrics::counter served(rt.shard_count());
//   metrics::histogram latency(metrics::latency_seconds, rt.shard_count());
//   served.inc();                               // in a task: this shard's cell
//   latency.observe(weir::now() - t0);          // a bucket search and two increments
//
//   metrics::prometheus_writer w;               // at scrape time, on any thread
//   w.write({"app_served_total", "Requests served.", metrics::type::counter}, {}, served.value());
//   w.write({"app_latency_seconds", "Latency.", metrics::type::histogram}, {{"route", "/kv"}},
//           latency.read());
//   std::string text = w.take();                // HELP and TYPE once per family, families whole
//
// Histograms count integers: nanoseconds for durations (bounds given in seconds, scale 1e9,
// sums written as exact decimal seconds), or plain counts (scale 1). A value lands in the first
// bucket whose upper bound is >= it (Prometheus' `le`).
//
// Shards are told apart by their index: give a metric the shard count of the runtime whose
// shards write it (a larger index falls back to the shared block: correct, only slower). Shards
// of two runtimes writing one metric would share cells and could lose counts: a metric belongs
// to one runtime (the admin endpoint's own runtime only reads the target's).
//
// Thread safety: inc(), add(), sub(), observe(), value() and read() from any thread at any
// time. A prometheus_writer belongs to one thread. Lifetime: a metric outlives its writers and
// readers; moving one is not thread-safe (do it before any shard uses it).
#pragma once

#include <weir/core/detail/stat_counter.hpp>

#include <array>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace weir::metrics {

enum class type : std::uint8_t { counter, gauge, histogram };

namespace detail {

inline constexpr unsigned no_slot = ~0u;
// The index of the calling thread's shard: set by the runtime on each shard's thread; no_slot
// elsewhere.
extern thread_local constinit unsigned tl_slot;

// `shards` + 1 blocks of `width` cells, each block starting on its own cache line: block k is
// shard k's, the last one is shared by every other thread.
class cell_blocks {
 public:
  cell_blocks(unsigned shards, std::size_t width);
  cell_blocks(cell_blocks&& o) noexcept;
  cell_blocks& operator=(cell_blocks&& o) noexcept;
  ~cell_blocks();

  // Shard `s`'s block (s < shards()); other threads use add_shared().
  ::weir::detail::stat_counter* block(unsigned s) const noexcept { return cells_ + s * stride_; }
  unsigned shards() const noexcept { return shards_; }
  void add(std::size_t i, std::uint64_t n) noexcept {
    if (const unsigned s = tl_slot; s < shards_) [[likely]]
      block(s)[i].add(n);
    else
      add_shared(i, n);
  }
  // Cell `i` of the shared block, with an atomic add (out of line: off the shards' path).
  void add_shared(std::size_t i, std::uint64_t n) noexcept;
  // Cell `i` summed over every block.
  std::uint64_t sum(std::size_t i) const noexcept;
  std::size_t width() const noexcept { return width_; }

 private:
  ::weir::detail::stat_counter* cells_ = nullptr;
  std::size_t stride_ = 0, width_ = 0;  // cells per block: width rounded up to a cache line
  unsigned shards_ = 0;
};

}  // namespace detail

// A monotonic count, in `series` independent lanes (one per label value known up front:
// HTTP status classes, say). inc()/add() count on the caller's shard.
class counter {
 public:
  explicit counter(unsigned shards, std::size_t series = 1) : cells_(shards, series) {}
  void inc(std::size_t series = 0) noexcept { cells_.add(series, 1); }
  void add(std::uint64_t n, std::size_t series = 0) noexcept { cells_.add(series, n); }
  std::uint64_t value(std::size_t series = 0) const noexcept { return cells_.sum(series); }
  std::size_t series() const noexcept { return cells_.width(); }

 private:
  detail::cell_blocks cells_;
};

// A value that goes up and down: each shard adds its own changes, the value is their sum (one
// shard may add what another subtracts: an item queued on one shard and taken on another).
class gauge {
 public:
  explicit gauge(unsigned shards, std::size_t series = 1) : cells_(shards, series) {}
  void add(std::int64_t d, std::size_t series = 0) noexcept {
    cells_.add(series, static_cast<std::uint64_t>(d));  // two's complement: sums wrap back
  }
  void sub(std::int64_t d, std::size_t series = 0) noexcept { add(-d, series); }
  std::int64_t value(std::size_t series = 0) const noexcept {
    return static_cast<std::int64_t>(cells_.sum(series));
  }
  std::size_t series() const noexcept { return cells_.width(); }

 private:
  detail::cell_blocks cells_;
};

// The fixed buckets of a histogram: up to 16 ascending upper bounds (+Inf is implied), given in
// the unit they are written in, and `scale`, the observed units per written unit, a power of
// ten: 1 for plain counts, 1'000'000'000 for seconds observed as nanoseconds. Throws
// std::invalid_argument otherwise (at compile time for a constexpr table).
class bucket_bounds {
 public:
  static constexpr std::size_t max_size = 16;

  constexpr bucket_bounds() noexcept = default;
  constexpr bucket_bounds(std::initializer_list<double> upper, std::uint64_t scale = 1)
      : scale_(scale) {
    if (upper.size() > max_size)
      throw std::invalid_argument("weir::metrics::bucket_bounds: more than 16 bounds");
    for (std::uint64_t s = scale; s != 1; s /= 10, ++decimals_)
      if (s == 0 || s % 10 != 0)
        throw std::invalid_argument("weir::metrics::bucket_bounds: scale is not a power of ten");
    for (double u : upper) {
      const double v = u * static_cast<double>(scale);
      if (!(v >= 0 && v < 1.8e19) || (n_ > 0 && !(u > upper_[n_ - 1])))
        throw std::invalid_argument("weir::metrics::bucket_bounds: bounds must ascend, >= 0");
      upper_[n_] = u;
      limit_[n_] = static_cast<std::uint64_t>(v + 0.5);
      ++n_;
    }
  }

  constexpr std::size_t size() const noexcept { return n_; }
  constexpr double upper(std::size_t i) const noexcept {
    return upper_[i];
  }  // as written (le="...")
  constexpr std::uint64_t limit(std::size_t i) const noexcept {
    return limit_[i];
  }  // in observed units
  constexpr std::uint64_t scale() const noexcept { return scale_; }
  constexpr unsigned decimals() const noexcept { return decimals_; }  // log10(scale)
  // The bucket of an observed value: the first bound >= v, size() for +Inf. A scan, not a
  // binary search: the first buckets are the common ones, and with the sentinel after the
  // last bound (the largest value) each step is one compare.
  constexpr std::size_t index(std::uint64_t v) const noexcept {
    std::size_t i = 0;
    while (v > limit_[i]) ++i;
    return i;
  }

 private:
  static constexpr std::array<std::uint64_t, max_size + 1> unbounded() noexcept {
    std::array<std::uint64_t, max_size + 1> a{};
    for (auto& x : a) x = ~std::uint64_t{0};
    return a;
  }
  std::array<std::uint64_t, max_size + 1> limit_ = unbounded();  // then the sentinels
  std::array<double, max_size> upper_{};
  std::uint64_t scale_ = 1;
  unsigned n_ = 0;
  unsigned decimals_ = 0;
};

// Request latency, 100 µs to 10 s: the HTTP server's routes and taskd's stages.
inline constexpr bucket_bounds latency_seconds{{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0},
                                               1'000'000'000};

class histogram {
 public:
  // The merged state at one moment.
  struct snapshot {
    bucket_bounds bounds;
    std::array<std::uint64_t, bucket_bounds::max_size + 1> counts{};  // per bucket, +Inf last
    std::uint64_t sum = 0;                                            // in observed units
    std::uint64_t count() const noexcept;
  };

  histogram(const bucket_bounds& b, unsigned shards) : bounds_(b), cells_(shards, sum_cell + 1) {}

  void observe(std::uint64_t v) noexcept {
    const std::size_t i = bounds_.index(v);
    if (const unsigned s = detail::tl_slot; s < cells_.shards()) [[likely]] {
      ::weir::detail::stat_counter* c = cells_.block(s);
      c[i].add(1);
      c[sum_cell].add(v);
    } else {
      cells_.add_shared(i, 1);
      cells_.add_shared(sum_cell, v);
    }
  }
  // For histograms of seconds (scale 1e9); a negative duration counts as 0.
  void observe(std::chrono::nanoseconds d) noexcept {
    observe(d.count() > 0 ? static_cast<std::uint64_t>(d.count()) : std::uint64_t{0});
  }
  snapshot read() const noexcept;
  const bucket_bounds& bounds() const noexcept { return bounds_; }

 private:
  static constexpr std::size_t sum_cell = bucket_bounds::max_size + 1;
  bucket_bounds bounds_;
  detail::cell_blocks cells_;  // per block: a count per bucket, then the sum
};

// A metric family as Prometheus sees it. `help` empty: no HELP line.
struct family {
  std::string_view name;
  std::string_view help;
  metrics::type type = metrics::type::counter;
};

struct label {
  std::string_view name;   // a valid label name (not escaped)
  std::string_view value;  // any bytes; escaped on output (\\, \", \n)
};

// Collects samples and writes them as Prometheus text: each family's HELP and TYPE once, then
// all its samples together (in the order the family was first used), however the calls
// interleave — so several sources (the runtime, an HTTP server, a service) can share one
// writer without breaking a family in two.
class prometheus_writer {
 public:
  // Names family `f` with no sample (yet): its HELP and TYPE lines appear regardless.
  void declare(const family& f) { select(f); }
  // One sample: `name{labels} value`.
  template <std::integral T>
  void write(const family& f, std::initializer_list<label> labels, T v) {
    if constexpr (std::is_signed_v<T>)
      write_signed(f, labels, static_cast<std::int64_t>(v));
    else
      write_unsigned(f, labels, static_cast<std::uint64_t>(v));
  }
  // A sample that is not a whole number (an age in seconds), as %.9g.
  void write(const family& f, std::initializer_list<label> labels, double v);
  // A histogram: `name_bucket{labels,le="..."}` (cumulative, +Inf last), `name_sum`,
  // `name_count`.
  void write(const family& f, std::initializer_list<label> labels, const histogram::snapshot& h);

  // The text (families in order of first use); the writer is empty afterwards.
  std::string take();

 private:
  struct entry {
    std::string name, help;
    metrics::type type;
    std::string body;
  };
  std::string& select(const family& f);
  void write_unsigned(const family& f, std::initializer_list<label> labels, std::uint64_t v);
  void write_signed(const family& f, std::initializer_list<label> labels, std::int64_t v);
  std::vector<entry> families_;
  std::size_t last_ = 0;
};

}  // namespace weir::metrics
