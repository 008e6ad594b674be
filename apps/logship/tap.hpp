// logship's tap: GET /debug/tap?rule=NAME or ?topic=NAME on the admin endpoint streams the lines
// passing there, as they pass — for looking at live traffic without touching it.
//
//   logship::tap_hub taps;                                // outlives the pipeline and the admin
//   opts.routes.push_back({"/debug/tap", taps.handler()});
//   taps.offer(topic, payload, matched_rule_names);       // the pipeline, per record
//
// Bounded and dropped-if-slow, for the tap only: each tap holds at most 1,000 lines; a line
// that finds it full is dropped (counted, and said at the end of the stream), never delaying
// the pipeline. offer() costs one relaxed load while no tap is open. A stream ends after
// ?seconds=N (default 10, at most 300) or ?lines=N (default 1,000, at most 100,000), or when the
// client goes away. Output: one line per record, "topic=T rules=a,b PAYLOAD" (rules=- when none;
// topic=(dropped) for a rule's drop).
//
// Thread safety: offer() from the pipeline's shard, the handler on the admin thread.
#pragma once

#include <weir/debug/admin.hpp>

#include <atomic>
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>

namespace logship {

class tap_hub {
 public:
  bool active() const noexcept { return open_.load(std::memory_order_relaxed) > 0; }
  void offer(std::string_view topic, std::string_view payload,
             std::span<const std::string_view> rules);
  // The admin route's handler.
  std::function<weir::task<void>(weir::http::request&, weir::http::response&)> handler();

  struct tap {
    bool by_rule = false;
    std::string name;
    std::mutex mu;
    std::deque<std::string> lines;
    std::uint64_t dropped = 0;
  };

 private:
  std::shared_ptr<tap> open_tap(bool by_rule, std::string name);
  void close_tap(const std::shared_ptr<tap>& t);

  std::atomic<int> open_{0};
  std::mutex mu_;
  std::list<std::shared_ptr<tap>> taps_;
};

}  // namespace logship
