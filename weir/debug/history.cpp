#include <weir/debug/history.hpp>
#include <weir/http/json.hpp>

#include <charconv>
#include <limits>

namespace weir::debug {

namespace {

constexpr double none = std::numeric_limits<double>::quiet_NaN();

// "name{labels}" and its value from a sample line; false for anything else. Label values may
// hold spaces, braces and escaped quotes.
bool parse_sample(std::string_view line, std::string_view& key, double& value) {
  std::size_t i = 0;
  while (i < line.size() && line[i] != '{' && line[i] != ' ' && line[i] != '\t') ++i;
  if (i == 0) return false;
  if (i < line.size() && line[i] == '{') {
    bool quoted = false;
    for (++i; i < line.size(); ++i) {
      if (quoted && line[i] == '\\') {
        ++i;
      } else if (line[i] == '"') {
        quoted = !quoted;
      } else if (!quoted && line[i] == '}') {
        break;
      }
    }
    if (i >= line.size()) return false;
    ++i;
  }
  key = line.substr(0, i);
  std::string_view rest = line.substr(i);
  while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
  const std::size_t end = rest.find_first_of(" \t");  // a timestamp may follow
  rest = rest.substr(0, end);
  if (rest == "+Inf") return value = std::numeric_limits<double>::infinity(), true;
  if (rest == "-Inf") return value = -std::numeric_limits<double>::infinity(), true;
  if (rest == "NaN") return value = none, true;
  auto [p, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), value);
  return ec == std::errc() && p == rest.data() + rest.size() && !rest.empty();
}

}  // namespace

metric_history::metric_history(std::size_t samples, std::size_t max_series)
    : cap_(samples ? samples : 1), max_series_(max_series), times_(cap_, 0) {}

void metric_history::add(std::int64_t t_ms, std::string_view text) {
  const std::size_t at = head_;
  times_[at] = t_ms;
  for (auto& [key, ring] : series_) ring[at] = none;  // absent unless this scrape has it
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.starts_with("# TYPE ")) {
      std::string_view rest = line.substr(7);
      const std::size_t sp = rest.find(' ');
      if (sp != std::string_view::npos && types_.size() < max_series_)
        types_.insert_or_assign(std::string(rest.substr(0, sp)), std::string(rest.substr(sp + 1)));
      continue;
    }
    if (line.empty() || line.front() == '#') continue;
    std::string_view key;
    double v = 0;
    if (!parse_sample(line, key, v)) continue;
    auto it = series_.find(key);
    if (it == series_.end()) {
      if (series_.size() >= max_series_) {
        ++dropped_;
        continue;
      }
      it = series_.emplace(std::string(key), std::vector<double>(cap_, none)).first;
    }
    it->second[at] = v;
  }
  head_ = (head_ + 1) % cap_;
  if (n_ < cap_) ++n_;
}

std::string metric_history::json() const {
  http::json_writer w;
  w.begin_object().key("t").begin_array();
  for (std::size_t k = 0; k < n_; ++k) w.value(times_[slot(k)]);
  w.end_array().key("types").begin_object();
  for (const auto& [name, type] : types_) w.key(name).value(type);
  w.end_object().key("dropped_series").value(dropped_).key("series").begin_object();
  for (const auto& [key, ring] : series_) {
    w.key(key).begin_array();
    for (std::size_t k = 0; k < n_; ++k) w.value(ring[slot(k)]);  // NaN (absent): null
    w.end_array();
  }
  w.end_object().end_object();
  return w.take();
}

}  // namespace weir::debug
