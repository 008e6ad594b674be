// logship's rules (hotdog's model, checked at load): each rule has a `field` (a syslog variable:
// "msg", "appname", "sd.origin.ip", ...), a matcher — an RE2 `regex` (linear time; its named
// groups become variables) or a `jmespath` expression on the field as JSON (truthy: a match;
// its result is `value`) — and actions run in order on a match:
//   forward TOPIC   send the payload to the topic (a template); stops
//   merge JSON      deep-merge the JSON template into the payload (a JSON object); arrays extend
//   replace TEXT    the payload becomes the template's rendering (for the actions after it)
//   drop            the message is dropped (counted by the caller); stops
//   stop            no further rules; the payload goes to the default topic
// A message no rule forwards or drops goes to the default topic (hotdog dropped it).
// Variables in templates: the syslog ones (template.hpp), the regex's named groups, `value`
// (the whole regex match, or the JMESPath result: a string as is, else its JSON) and `iso8601`
// (the time given to apply(), UTC). The payload starts as the message's `msg`.
//
//   auto r = logship::rules::compile(specs, "syslog");  // errors: "rule 2 (auth): regex: ..."
//   logship::rules::outcome o;
//   r->apply(message, now, o);                           // o.topic, o.payload, o.dropped
//
// Thread safety: compiled rules are immutable; apply from any thread.
#pragma once

#include "jmespath.hpp"
#include "syslog.hpp"
#include "template.hpp"

#include <weir/core/result.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace re2 {
class RE2;
}

namespace logship {

struct rule_spec {
  std::string name;
  std::string field = "msg";
  std::string regex;  // one of these two
  std::string jmespath;
  struct action {
    std::string kind;  // forward, merge, replace, drop, stop
    std::string text;  // forward: topic template; merge: JSON template; replace: template
  };
  std::vector<action> actions;
};

class rules {
 public:
  static weir::result<rules> compile(const std::vector<rule_spec>& specs,
                                     std::string default_topic);

  struct outcome {
    bool dropped = false;
    std::string topic;  // where it goes (unless dropped)
    std::string payload;
    std::vector<unsigned> matched;  // the rules that matched, in order (see name())
    bool rewritten = false;         // a replace or merge action changed the payload
  };
  // Told before each rule runs on a message (the pipeline names the running rule in its task's
  // context for long lines, so a stall report names the rule).
  struct observer {
    virtual void entering(unsigned rule) noexcept = 0;

   protected:
    ~observer() = default;
  };
  void apply(const syslog_message& m, std::chrono::system_clock::time_point now, outcome& out,
             observer* watch = nullptr) const;
  // Rule `i`'s name ("rule 3" when it has none).
  std::string_view name(unsigned i) const;
  std::size_t size() const noexcept;
  const std::string& default_topic() const noexcept { return default_topic_; }
  // The same rules with another default topic (checked as compile() checks it).
  weir::result<rules> with_default_topic(std::string topic) const;

  struct compiled;  // rules.cpp

 private:
  std::shared_ptr<const std::vector<compiled>> rules_;
  std::string default_topic_;
};

// Whether Kafka accepts `topic` as a topic name: 1-249 of [A-Za-z0-9._-], not "." or "..".
bool valid_topic(std::string_view topic) noexcept;

// Deep-merges the JSON object `patch` into the JSON object `target` (objects merged key by key,
// arrays extended, anything else replaced); false when either is not a JSON object.
bool json_merge(std::string_view target, std::string_view patch, std::string& out);

}  // namespace logship
