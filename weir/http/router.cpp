#include <weir/http/router.hpp>

#include <stdexcept>

namespace weir::http {

namespace {

// Splits "/a/b/c" into "a", "b", "c" (a trailing '/' gives a last empty segment).
template <class F>
bool for_each_segment(std::string_view path, F&& fn) {
  if (path.empty() || path[0] != '/') return false;
  path.remove_prefix(1);
  for (;;) {
    auto slash = path.find('/');
    if (!fn(path.substr(0, slash),
            slash == std::string_view::npos ? std::string_view{} : path.substr(slash + 1)))
      return false;
    if (slash == std::string_view::npos) return true;
    path.remove_prefix(slash + 1);
  }
}

int hex(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

router& router::add(method m, std::string_view text, handler h) {
  if (m == method::other) throw std::invalid_argument("router: method::other cannot be routed");
  if (!h) throw std::invalid_argument("router: empty handler for " + std::string(text));
  pattern* p = nullptr;
  for (auto& q : patterns_)
    if (q.text == text) p = &q;
  if (!p) {
    pattern np;
    np.text = std::string(text);
    bool ok = for_each_segment(text, [&](std::string_view s, std::string_view rest) {
      if (s == "*") {
        if (!rest.empty() || text.ends_with("/")) return false;  // '*' only last
        np.segs.push_back({segment::wildcard, "*"});
      } else if (s.size() >= 2 && s.front() == '{' && s.back() == '}') {
        np.segs.push_back({segment::param, std::string(s.substr(1, s.size() - 2))});
      } else {
        if (s.find_first_of("{}*") != std::string_view::npos) return false;
        np.segs.push_back({segment::literal, std::string(s)});
      }
      return true;
    });
    std::size_t params = 0;
    for (auto& s : np.segs) params += s.kind != segment::literal;
    np.literal = params == 0;
    if (!ok || params > max_path_params)
      throw std::invalid_argument("router: malformed pattern \"" + std::string(text) +
                                  "\" (expected /literal/{param}/..., '*' last)");
    patterns_.push_back(std::move(np));
    p = &patterns_.back();
  }
  auto idx = static_cast<std::size_t>(m);
  if (p->handlers[idx])
    throw std::invalid_argument("router: " + std::string(to_string(m)) + " " + p->text +
                                " registered twice");
  p->handlers[idx] = std::move(h);
  p->route_ids[idx] = names_.size();
  names_.push_back(std::string(to_string(m)) + " " + p->text);
  p->allow.clear();
  for (std::size_t i = 0; i < method_count; ++i) {
    if (!p->handlers[i]) continue;
    if (!p->allow.empty()) p->allow += ", ";
    p->allow += to_string(static_cast<method>(i));
    if (static_cast<method>(i) == method::get && !p->handlers[std::size_t(method::head)])
      p->allow += ", HEAD";
  }
  return *this;
}

bool router::matches(const pattern& p, std::string_view path,
                     std::array<path_param, max_path_params>& params, std::size_t& n) const {
  n = 0;
  std::size_t i = 0;
  bool done = false;
  bool ok = for_each_segment(path, [&](std::string_view s, std::string_view rest) {
    if (done) return true;
    if (i == p.segs.size()) return false;
    const segment& g = p.segs[i++];
    switch (g.kind) {
      case segment::literal: return s == g.text;
      case segment::param:
        if (s.empty()) return false;
        params[n++] = {g.text, s};
        return true;
      case segment::wildcard: {
        // the rest of the path from this segment on
        const char* begin = s.data();
        const char* end = rest.empty() ? s.data() + s.size() : rest.data() + rest.size();
        params[n++] = {g.text, std::string_view(begin, std::size_t(end - begin))};
        done = true;
        return true;
      }
    }
    return false;
  });
  if (!ok) return false;
  if (done) return true;
  if (i == p.segs.size()) return true;
  // "/files/" against "/files/*": the wildcard may match nothing only after a '/'
  return false;
}

router::match router::find(method m, std::string_view path,
                           std::array<path_param, max_path_params>& params) const {
  match best;
  const pattern* winner = nullptr;
  const pattern* any = nullptr;  // the most specific pattern matching the path at all
  auto more_specific = [](const pattern& a, const pattern& b) {
    for (std::size_t i = 0; i < a.segs.size() && i < b.segs.size(); ++i)
      if (a.segs[i].kind != b.segs[i].kind) return a.segs[i].kind > b.segs[i].kind;
    return a.segs.size() > b.segs.size();
  };
  auto idx = static_cast<std::size_t>(m);
  // Fast path: a literal pattern equal to the path, with a handler for the method, is the most
  // specific match there can be.
  if (idx < method_count) {
    for (const auto& p : patterns_) {
      if (!p.literal || p.text != path) continue;
      std::size_t use = idx;
      if (!p.handlers[use] && m == method::head) use = std::size_t(method::get);
      if (!p.handlers[use]) break;
      best.status = 200;
      best.fn = &p.handlers[use];
      best.route = p.route_ids[use];
      return best;
    }
  }
  std::array<path_param, max_path_params> tmp;
  for (const auto& p : patterns_) {
    std::size_t n = 0;
    if (!matches(p, path, tmp, n)) continue;
    if (!any || more_specific(p, *any)) any = &p;
    std::size_t use = idx < method_count ? idx : method_count;
    if (use < method_count && !p.handlers[use] && m == method::head) use = std::size_t(method::get);
    if (use == method_count || !p.handlers[use]) continue;
    if (winner && !more_specific(p, *winner)) continue;
    winner = &p;
    best.status = 200;
    best.fn = &p.handlers[use];
    best.route = p.route_ids[use];
    best.param_count = n;
    params = tmp;
  }
  if (winner || !any) return best;
  best.status = 405;
  best.allow = any->allow;
  return best;
}

bool percent_decode(std::string_view in, std::string& out) {
  out.clear();
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    if (i + 2 >= in.size()) return false;
    int hi = hex(in[i + 1]), lo = hex(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return true;
}

bool query_param(std::string_view query, std::string_view name, std::string_view& value) {
  while (!query.empty()) {
    auto amp = query.find('&');
    auto pair = query.substr(0, amp);
    auto eq = pair.find('=');
    if (pair.substr(0, eq) == name) {
      value = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
      return true;
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return false;
}

}  // namespace weir::http
