// weir::http::router — maps method + path to a handler coroutine.
//
//   http::router r;
//   r.get("/", hello);                                // exact path
//   r.put("/kv/{key}", put_key);                      // a parameter: req.param("key")
//   r.get("/static/*", files);                        // a wildcard: req.param("*"), may be empty
//   r.add(http::method::post, "/echo", echo);
//
// Patterns are '/'-separated segments: literals, `{name}` (one non-empty segment) and a final
// `*` (the rest of the path). When several patterns match, the most specific wins, segment by
// segment: a literal before a parameter before the wildcard. A path that matches some pattern
// but not for the request's method gives 405 with `Allow`; none gives 404. HEAD is served by
// the GET handler when no HEAD handler is registered (the server sends no body). Parameters
// are views into the request's path, not percent-decoded (see percent_decode).
//
// Handlers are coroutines `task<void>(request&, response&)`. No captures in coroutine lambdas:
// bind state with a plain lambda that calls a coroutine, e.g.
//   r.get("/n", [&svc](http::request& q, http::response& s) { return svc.count(q, s); });
//
// A router is built before the server starts and is read-only afterwards (shared by shards).
#pragma once

#include <weir/core/task.hpp>
#include <weir/http/parser.hpp>

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace weir::http {

class request;
class response;
using handler = std::function<task<void>(request&, response&)>;

struct path_param {
  std::string_view name, value;
};
inline constexpr std::size_t max_path_params = 8;

class router {
 public:
  static constexpr std::size_t method_count = 10;

  // Registers `h` for `m` on `pattern`; throws std::invalid_argument for a malformed pattern
  // or one registered twice for the same method.
  router& add(method m, std::string_view pattern, handler h);
  router& get(std::string_view p, handler h) { return add(method::get, p, std::move(h)); }
  router& post(std::string_view p, handler h) { return add(method::post, p, std::move(h)); }
  router& put(std::string_view p, handler h) { return add(method::put, p, std::move(h)); }
  router& del(std::string_view p, handler h) { return add(method::delete_, p, std::move(h)); }
  router& patch(std::string_view p, handler h) { return add(method::patch, p, std::move(h)); }

  struct match {
    int status = 404;  // 200 (handler set), 404 or 405
    const handler* fn = nullptr;
    std::size_t route = 0;   // index for per-route metrics (route_name); 0: unrouted
    std::string_view allow;  // 405: the value of Allow
    std::size_t param_count = 0;
  };
  // Finds the handler for `m` on `path`; fills params[0, param_count).
  match find(method m, std::string_view path,
             std::array<path_param, max_path_params>& params) const;

  // Routes are numbered from 1 in registration order of (method, pattern); 0 is "unrouted".
  std::size_t route_count() const noexcept { return names_.size(); }
  const std::string& route_name(std::size_t i) const noexcept {
    return names_[i];
  }  // "GET /kv/{key}"

 private:
  struct segment {
    enum kind_t : std::uint8_t { wildcard, param, literal } kind;  // ordered by specificity
    std::string text;                                              // literal text or param name
  };
  struct pattern {
    std::string text;
    std::vector<segment> segs;
    std::array<handler, method_count> handlers;
    std::array<std::size_t, method_count> route_ids{};
    std::string allow;
    bool literal = true;  // no parameter, no wildcard: matched by comparing the text
  };
  bool matches(const pattern& p, std::string_view path,
               std::array<path_param, max_path_params>& params, std::size_t& n) const;

  std::vector<pattern> patterns_;
  std::vector<std::string> names_{"unrouted"};
};

// Decodes %XX escapes (and nothing else: '+' stays '+'); false for a malformed escape.
bool percent_decode(std::string_view in, std::string& out);
// The value of `name` in a query string "a=1&b=2" (raw, not decoded); false when absent.
bool query_param(std::string_view query, std::string_view name, std::string_view& value);

}  // namespace weir::http
