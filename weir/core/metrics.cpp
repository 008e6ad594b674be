#include <weir/core/metrics.hpp>

#include <charconv>
#include <cstdio>
#include <memory>
#include <new>
#include <utility>

namespace weir::metrics {

namespace detail {

thread_local constinit unsigned tl_slot = no_slot;

namespace {

using ::weir::detail::stat_counter;
constexpr std::size_t line_cells = 64 / sizeof(stat_counter);
constexpr std::align_val_t line_align{64};

}  // namespace

cell_blocks::cell_blocks(unsigned shards, std::size_t width)
    : stride_((width + line_cells - 1) / line_cells * line_cells), width_(width), shards_(shards) {
  if (width == 0) throw std::invalid_argument("weir::metrics: a metric needs at least one series");
  const std::size_t n = stride_ * (std::size_t{shards} + 1);
  cells_ = static_cast<stat_counter*>(::operator new(n * sizeof(stat_counter), line_align));
  std::uninitialized_value_construct_n(cells_, n);
}

cell_blocks::cell_blocks(cell_blocks&& o) noexcept
    : cells_(std::exchange(o.cells_, nullptr)),
      stride_(o.stride_),
      width_(o.width_),
      shards_(o.shards_) {}

cell_blocks& cell_blocks::operator=(cell_blocks&& o) noexcept {
  std::swap(cells_, o.cells_);  // `o` frees ours
  std::swap(stride_, o.stride_);
  std::swap(width_, o.width_);
  std::swap(shards_, o.shards_);
  return *this;
}

cell_blocks::~cell_blocks() {
  if (!cells_) return;
  std::destroy_n(cells_, stride_ * (std::size_t{shards_} + 1));
  ::operator delete(cells_, line_align);
}

void cell_blocks::add_shared(std::size_t i, std::uint64_t n) noexcept {
  cells_[std::size_t{shards_} * stride_ + i].add_shared(n);
}

std::uint64_t cell_blocks::sum(std::size_t i) const noexcept {
  std::uint64_t v = 0;
  for (std::size_t b = 0; b <= shards_; ++b) v += cells_[b * stride_ + i].get();
  return v;
}

}  // namespace detail

std::uint64_t histogram::snapshot::count() const noexcept {
  std::uint64_t n = 0;
  for (std::size_t i = 0; i <= bounds.size(); ++i) n += counts[i];
  return n;
}

histogram::snapshot histogram::read() const noexcept {
  snapshot s;
  s.bounds = bounds_;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) s.counts[i] = cells_.sum(i);
  s.sum = cells_.sum(sum_cell);
  return s;
}

// --- the Prometheus text format -------------------------------------------------------------

namespace {

const char* type_name(type t) {
  switch (t) {
    case type::counter: return "counter";
    case type::gauge: return "gauge";
    case type::histogram: return "histogram";
  }
  return "untyped";
}

// HELP text escapes backslash and newline; label values also the double quote.
void append_escaped(std::string& out, std::string_view v, bool label_value) {
  for (const char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else if (c == '"' && label_value)
      out += "\\\"";
    else
      out += c;
  }
}

void append_labels(std::string& out, std::initializer_list<label> labels,
                   std::string_view le = {}) {
  if (labels.size() == 0 && le.empty()) return;
  out += '{';
  const char* sep = "";
  for (const label& l : labels) {
    out += sep;
    out.append(l.name);
    out += "=\"";
    append_escaped(out, l.value, true);
    out += '"';
    sep = ",";
  }
  if (!le.empty()) {
    out += sep;
    out += "le=\"";
    out.append(le);
    out += '"';
  }
  out += '}';
}

template <class T>
void append_int(std::string& out, T v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// `v` / `scale` in decimal, exactly (`decimals` = log10(scale) digits after the point).
void append_fixed(std::string& out, std::uint64_t v, std::uint64_t scale, unsigned decimals) {
  append_int(out, v / scale);
  if (decimals == 0) return;
  char frac[24];
  const auto r = std::to_chars(frac, frac + sizeof frac, v % scale);
  const auto digits = static_cast<unsigned>(r.ptr - frac);
  out += '.';
  out.append(decimals - digits, '0');
  out.append(frac, r.ptr);
}

// A bucket bound as printf's %g writes it ("0.0001", "2.5", "4096"), whatever the locale.
std::string_view bound_text(double v, char (&buf)[32]) {
  const auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general, 6);
  return {buf, static_cast<std::size_t>(r.ptr - buf)};
}

void append_sample(std::string& out, std::string_view name, std::string_view suffix,
                   std::initializer_list<label> labels, std::string_view le = {}) {
  out.append(name);
  out.append(suffix);
  append_labels(out, labels, le);
  out += ' ';
}

}  // namespace

std::string& prometheus_writer::select(const family& f) {
  if (last_ < families_.size() && families_[last_].name == f.name) return families_[last_].body;
  for (std::size_t i = 0; i < families_.size(); ++i)
    if (families_[i].name == f.name) {
      last_ = i;
      return families_[i].body;
    }
  families_.push_back({std::string(f.name), std::string(f.help), f.type, {}});
  last_ = families_.size() - 1;
  return families_.back().body;
}

void prometheus_writer::write_unsigned(const family& f, std::initializer_list<label> labels,
                                       std::uint64_t v) {
  std::string& out = select(f);
  append_sample(out, f.name, {}, labels);
  append_int(out, v);
  out += '\n';
}

void prometheus_writer::write_signed(const family& f, std::initializer_list<label> labels,
                                     std::int64_t v) {
  std::string& out = select(f);
  append_sample(out, f.name, {}, labels);
  append_int(out, v);
  out += '\n';
}

void prometheus_writer::write(const family& f, std::initializer_list<label> labels, double v) {
  std::string& out = select(f);
  append_sample(out, f.name, {}, labels);
  char buf[32];
  const int n = std::snprintf(buf, sizeof buf, "%.9g", v);
  out.append(buf, static_cast<std::size_t>(n));
  out += '\n';
}

void prometheus_writer::write(const family& f, std::initializer_list<label> labels,
                              const histogram::snapshot& h) {
  std::string& out = select(f);
  std::uint64_t cumulative = 0;
  char buf[32];
  for (std::size_t i = 0; i <= h.bounds.size(); ++i) {
    cumulative += h.counts[i];
    append_sample(out, f.name, "_bucket", labels,
                  i < h.bounds.size() ? bound_text(h.bounds.upper(i), buf) : "+Inf");
    append_int(out, cumulative);
    out += '\n';
  }
  append_sample(out, f.name, "_sum", labels);
  append_fixed(out, h.sum, h.bounds.scale(), h.bounds.decimals());
  out += '\n';
  append_sample(out, f.name, "_count", labels);
  append_int(out, cumulative);
  out += '\n';
}

std::string prometheus_writer::take() {
  std::string out;
  for (const entry& e : families_) {
    if (!e.help.empty()) {
      out += "# HELP ";
      out += e.name;
      out += ' ';
      append_escaped(out, e.help, false);
      out += '\n';
    }
    out += "# TYPE ";
    out += e.name;
    out += ' ';
    out += type_name(e.type);
    out += '\n';
    out += e.body;
  }
  families_.clear();
  last_ = 0;
  return out;
}

}  // namespace weir::metrics
