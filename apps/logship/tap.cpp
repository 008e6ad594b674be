#include "tap.hpp"

#include <weir/core/time.hpp>
#include <weir/http/json.hpp>
#include <weir/http/router.hpp>
#include <weir/http/server.hpp>

#include <algorithm>
#include <charconv>

namespace logship {

namespace {

constexpr std::size_t kCapacity = 1000;

long long number(std::string_view s, long long fallback, long long max) {
  long long v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size() || v < 1) return fallback;
  return std::min(v, max);
}

}  // namespace

std::shared_ptr<tap_hub::tap> tap_hub::open_tap(bool by_rule, std::string name) {
  auto t = std::make_shared<tap>();
  t->by_rule = by_rule;
  t->name = std::move(name);
  std::lock_guard lk(mu_);
  taps_.push_back(t);
  open_.fetch_add(1, std::memory_order_relaxed);
  return t;
}

void tap_hub::close_tap(const std::shared_ptr<tap>& t) {
  std::lock_guard lk(mu_);
  taps_.remove(t);
  open_.fetch_sub(1, std::memory_order_relaxed);
}

void tap_hub::offer(std::string_view topic, std::string_view payload,
                    std::span<const std::string_view> rules) {
  if (!active()) return;
  std::lock_guard lk(mu_);
  std::string line;
  for (const auto& t : taps_) {
    const bool match = t->by_rule ? std::find(rules.begin(), rules.end(), t->name) != rules.end()
                                  : topic == t->name;
    if (!match) continue;
    if (line.empty()) {
      line = "topic=" + std::string(topic) + " rules=";
      if (rules.empty()) line += '-';
      for (std::size_t i = 0; i < rules.size(); ++i) (line += i ? "," : "") += rules[i];
      (line += ' ') += payload;
      line += '\n';
    }
    std::lock_guard tl(t->mu);
    if (t->lines.size() < kCapacity)
      t->lines.push_back(line);
    else
      ++t->dropped;
  }
}

std::function<weir::task<void>(weir::http::request&, weir::http::response&)> tap_hub::handler() {
  return [this](weir::http::request& req, weir::http::response& res) -> weir::task<void> {
    std::string name;
    const bool by_rule = !req.query_param("rule").empty();
    if (!weir::http::percent_decode(req.query_param(by_rule ? "rule" : "topic"), name) ||
        name.empty()) {
      weir::http::reply_error(res, 400, "give ?rule=NAME or ?topic=NAME");
      co_return;
    }
    const auto seconds = number(req.query_param("seconds"), 10, 300);
    long long left = number(req.query_param("lines"), 1000, 100000);
    res.content_type("text/plain; charset=utf-8");
    res.header("Cache-Control", "no-cache");
    std::shared_ptr<tap> t = open_tap(by_rule, name);
    const weir::clock::time_point until = weir::now() + std::chrono::seconds(seconds);
    bool open = static_cast<bool>(co_await res.write(""));  // the head, at once
    while (open && left > 0 && weir::now() < until) {
      std::string chunk;
      {
        std::lock_guard lk(t->mu);
        while (!t->lines.empty() && left > 0) {
          chunk += t->lines.front();
          t->lines.pop_front();
          --left;
        }
      }
      if (chunk.empty()) {
        if (!co_await weir::sleep_for(std::chrono::milliseconds(100))) break;
        continue;
      }
      open = static_cast<bool>(co_await res.write(chunk));
    }
    close_tap(t);
    std::uint64_t dropped;
    {
      std::lock_guard lk(t->mu);
      dropped = t->dropped;
    }
    if (open && dropped)
      (void)co_await res.write("# " + std::to_string(dropped) +
                               " lines not shown: the tap was slower than the traffic\n");
  };
}

}  // namespace logship
