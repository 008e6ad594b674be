#include "etcd_store.hpp"

#include "base64.hpp"

#include <weir/core/log.hpp>
#include <weir/core/on_shard.hpp>
#include <weir/core/runtime.hpp>
#include <weir/core/time.hpp>
#include <weir/http/client.hpp>
#include <weir/http/json.hpp>

#include <simdjson.h>

#include <array>
#include <atomic>
#include <charconv>
#include <random>
#include <unordered_set>

namespace taskd {

namespace {

using namespace std::chrono_literals;
namespace http = weir::http;
using weir::clock;

constexpr auto kSkipFor = 1s;  // a member that failed is not asked again for this long

std::string ms_text(std::chrono::milliseconds d) { return std::to_string(d.count()) + "ms"; }

std::string b64(std::string_view s) {
  std::string out;
  base64(out, s);
  return out;
}

// etcd's JSON gateway writes int64 fields as strings ("revision":"42") and leaves out fields
// whose value is the default (0, false, empty).
std::uint64_t u64_field(simdjson::dom::element e, std::string_view name) {
  simdjson::dom::element f;
  if (e.at_key(name).get(f)) return 0;
  if (std::string_view s; !f.get(s)) {
    std::uint64_t v = 0;
    std::from_chars(s.data(), s.data() + s.size(), v);
    return v;
  }
  if (std::uint64_t v; !f.get(v)) return v;
  if (std::int64_t v; !f.get(v)) return v > 0 ? static_cast<std::uint64_t>(v) : 0;
  return 0;
}

bool bool_field(simdjson::dom::element e, std::string_view name) {
  bool v = false;
  return !e.at_key(name).get(v) && v;
}

std::string_view str_field(simdjson::dom::element e, std::string_view name) {
  std::string_view v;
  return e.at_key(name).get(v) ? std::string_view() : v;
}

// etcd's error answer {"error":"...","code":N,"message":"..."}, or the body's start.
std::string etcd_message(std::string_view body) {
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  if (!p.parse(body.data(), body.size()).get(doc)) {
    if (auto m = str_field(doc, "message"); !m.empty()) return std::string(m);
    if (auto m = str_field(doc, "error"); !m.empty()) return std::string(m);
  }
  return std::string(body.substr(0, 200));
}

struct member {
  std::string url;  // without a trailing slash
  clock::time_point skip_until{};
};

// What one shard keeps: its HTTP client (shard-local) and its view of the members' health.
struct shard_view {
  std::unique_ptr<http::client> client;
  std::vector<member> members;
  std::size_t current = 0;
};

class etcd_store final : public store {
 public:
  etcd_store(etcd_options o, std::string instance)
      : opt_(std::move(o)),
        kv_prefix_(opt_.prefix + "kv/"),
        guard_(opt_.prefix + "writers/" + instance) {}

  weir::task<weir::result<void>> commit(std::span<write_op> ops, bool sync) override;
  weir::task<weir::result<std::optional<kv_entry>>> get(std::string key) override;
  weir::task<weir::result<kv_page>> list(std::string prefix, std::size_t limit) override;
  std::string describe() const override {
    std::string s = "etcd ";
    for (std::size_t i = 0; i < opt_.endpoints.size(); ++i)
      s += (i ? "," : "") + opt_.endpoints[i];
    return s + " prefix " + opt_.prefix;
  }
  weir::task<> close() override;
  void write_prometheus(weir::metrics::prometheus_writer& w) const override;

 private:
  shard_view& view();
  // POSTs `body` to `path` on a member, moving to the next on a refusal, a timeout or a 5xx,
  // until `deadline`: the 200 answer's body; etcd's 4xx as io_error; taskd::unavailable.
  weir::task<weir::result<std::string>> call(std::string path, std::string body,
                                             clock::time_point deadline);
  // One Txn for `ops` (no key twice), guarded (etcd_store.hpp).
  weir::task<weir::result<void>> txn(std::span<write_op> ops, clock::time_point deadline);
  // Whether `key` existed at `revision` (etcd's history).
  weir::task<weir::result<bool>> existed_at(std::string_view key, std::uint64_t revision,
                                            clock::time_point deadline);
  void saw_revision(std::uint64_t r) noexcept {
    if (r > revision()) set_revision(r);
  }
  // Parses a range answer into `doc` (its storage is the parser's) and notes its revision.
  weir::result<std::uint64_t> parse_range(simdjson::dom::parser& p, const std::string& answer,
                                          simdjson::dom::element& doc) {
    if (p.parse(answer).get(doc))
      return weir::unexpected(std::errc::io_error, "etcd: malformed range answer");
    simdjson::dom::element h;
    const std::uint64_t rev = doc.at_key("header").get(h) ? 0 : u64_field(h, "revision");
    saw_revision(rev);
    return rev;
  }

  etcd_options opt_;
  std::string kv_prefix_, guard_;
  std::array<std::unique_ptr<shard_view>, 256> shards_;  // by shard; each touched by its own
  // The applier's (commit is called from one task at a time).
  std::uint64_t guard_revision_ = 0;  // the guard's mod_revision as this process last saw it
  std::uint64_t seq_ = 0;             // Txns sent
  bool closed_ = false;
  // Counters (any shard writes; the admin thread reads).
  struct {
    std::atomic<std::uint64_t> calls{0}, member_failures{0}, unavailable{0}, txns{0},
        applied_earlier{0}, resent{0};
  } n_;
};

void etcd_store::write_prometheus(weir::metrics::prometheus_writer& w) const {
  using weir::metrics::type;
  const auto v = [](const std::atomic<std::uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  w.write({"taskd_etcd_calls_total", "Calls to etcd's JSON gateway answered 200."}, {},
          v(n_.calls));
  w.write({"taskd_etcd_member_failures_total",
           "Calls to a member that refused, timed out or answered 5xx (the next was tried)."},
          {}, v(n_.member_failures));
  w.write({"taskd_etcd_unavailable_total",
           "Operations given up: no member answered within etcd_retry (answered 503)."},
          {}, v(n_.unavailable));
  w.write({"taskd_etcd_txns_total", "Guarded transactions applied (one or more per batch)."}, {},
          v(n_.txns));
  constexpr weir::metrics::family guard{
      "taskd_etcd_guard_total",
      "Transactions whose guard compare failed: applied by an earlier attempt whose answer was "
      "lost, or sent again after an older one applied late.",
      type::counter};
  w.write(guard, {{"outcome", "applied_earlier"}}, v(n_.applied_earlier));
  w.write(guard, {{"outcome", "resent"}}, v(n_.resent));
}

shard_view& etcd_store::view() {
  auto& v = shards_[weir::this_shard()];
  if (!v) {
    v = std::make_unique<shard_view>();
    http::client_options co;
    co.connect_timeout = opt_.timeout;
    co.request_timeout = opt_.timeout;
    co.user_agent = "taskd";
    co.tls = opt_.tls;
    v->client = std::make_unique<http::client>(std::move(co));
    for (const std::string& e : opt_.endpoints)
      v->members.push_back({e.ends_with('/') ? e.substr(0, e.size() - 1) : e, {}});
    // Shards start on different members: the reads spread over the cluster.
    v->current = weir::this_shard() % v->members.size();
  }
  return *v;
}

weir::task<weir::result<std::string>> etcd_store::call(std::string path, std::string body,
                                                       clock::time_point deadline) {
  shard_view& v = view();
  const std::size_t n = v.members.size();
  std::string last = "no member was tried";
  for (bool first = true;; first = false) {
    auto now = weir::now();
    if (!first && now >= deadline) break;
    // The current member unless it failed recently; else the next that did not; else the one
    // whose pause ends first, after that pause.
    std::size_t pick = v.current;
    for (std::size_t k = 0; k < n; ++k) {
      const std::size_t i = (v.current + k) % n;
      if (v.members[i].skip_until <= now) {
        pick = i;
        break;
      }
      if (v.members[i].skip_until < v.members[pick].skip_until) pick = i;
    }
    if (v.members[pick].skip_until > now) {
      const auto until = std::min(v.members[pick].skip_until, deadline);
      if (auto s = co_await weir::sleep_for(until - now); !s) co_return weir::unexpected(s.error());
      now = weir::now();
      if (now >= deadline) break;
    }
    member& m = v.members[pick];
    const auto budget = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    const auto per_call = std::max(std::min(opt_.timeout, budget), std::chrono::milliseconds(10));
    http::client_request q;
    q.verb = http::method::post;
    q.url = m.url + path;
    q.headers = {{"Content-Type", "application/json"}};
    q.body = body;
    q.timeout = per_call;
    auto r = co_await v.client->request(std::move(q));
    if (r && r->status == 200) {
      n_.calls.fetch_add(1, std::memory_order_relaxed);
      v.current = pick;
      co_return std::move(r->body);
    }
    if (r && r->status < 500)
      co_return weir::unexpected(std::errc::io_error,
                                 "etcd " + m.url + path + " answered " + std::to_string(r->status) +
                                     ": " + etcd_message(r->body));
    if (!r && r.error() == weir::condition::cancellation &&
        !(r.error() == weir::errc::timed_out && weir::now() - now >= per_call - 1ms))
      co_return weir::unexpected(r.error());  // our caller was cancelled, not the member slow
    last = m.url + ": " +
           (r ? "HTTP " + std::to_string(r->status) + " " + etcd_message(r->body)
              : r.error().message());
    weir::log::debug("etcd member failed", {{"member", m.url}, {"error", last}});
    n_.member_failures.fetch_add(1, std::memory_order_relaxed);
    m.skip_until = weir::now() + kSkipFor;
    v.current = (pick + 1) % n;
  }
  n_.unavailable.fetch_add(1, std::memory_order_relaxed);
  co_return weir::unexpected(unavailable, "etcd unavailable: no member answered within " +
                                              ms_text(opt_.retry) + " (last: " + last + ")");
}

weir::task<weir::result<void>> etcd_store::commit(std::span<write_op> ops, bool) {
  // etcd fsyncs its log before it acknowledges: every commit is durable (sync is implied).
  const auto deadline = weir::now() + opt_.retry;
  std::unordered_set<std::string_view> keys;
  for (std::size_t i = 0; i < ops.size();) {
    keys.clear();
    std::size_t j = i;
    // The guard is one more operation of the Txn.
    while (j < ops.size() && j - i + 1 < opt_.max_txn_ops && keys.insert(ops[j].key).second) ++j;
    WEIR_CO_TRY(co_await txn(ops.subspan(i, j - i), deadline));
    i = j;
  }
  co_return weir::result<void>{};
}

weir::task<weir::result<void>> etcd_store::txn(std::span<write_op> ops,
                                               clock::time_point deadline) {
  const std::string seq = std::to_string(++seq_);
  std::vector<std::string> full_keys;
  full_keys.reserve(ops.size());
  for (const write_op& op : ops) full_keys.push_back(kv_prefix_ + std::string(op.key));
  thread_local simdjson::dom::parser parser;  // one per shard; reuses its buffers
  for (int attempt = 0; attempt < 64; ++attempt) {
    http::json_writer w;
    w.begin_object().key("compare").begin_array();
    w.begin_object()
        .key("target")
        .value("MOD")
        .key("key")
        .value(b64(guard_))
        .key("mod_revision")
        .value(std::to_string(guard_revision_))
        .key("result")
        .value("EQUAL")
        .end_object();
    w.end_array().key("success").begin_array();
    for (std::size_t i = 0; i < ops.size(); ++i) {
      w.begin_object();
      if (ops[i].k == write_op::kind::put)
        w.key("request_put")
            .begin_object()
            .key("key")
            .value(b64(full_keys[i]))
            .key("value")
            .value(b64(ops[i].value))
            .end_object();
      else
        w.key("request_delete_range").begin_object().key("key").value(b64(full_keys[i])).end_object();
      w.end_object();
    }
    w.begin_object()
        .key("request_put")
        .begin_object()
        .key("key")
        .value(b64(guard_))
        .key("value")
        .value(b64(seq))
        .end_object()
        .end_object();
    w.end_array().key("failure").begin_array();
    w.begin_object().key("request_range").begin_object().key("key").value(b64(guard_)).end_object();
    w.end_object().end_array().end_object();
    auto answer = co_await call("/v3/kv/txn", w.take(), deadline);
    if (!answer) co_return weir::unexpected(std::move(answer).error());
    simdjson::dom::element doc;
    if (parser.parse(*answer).get(doc))
      co_return weir::unexpected(std::errc::io_error, "etcd: malformed Txn answer");
    simdjson::dom::element header;
    const std::uint64_t rev = doc.at_key("header").get(header) ? 0 : u64_field(header, "revision");
    simdjson::dom::array responses;
    const bool have_responses = !doc.at_key("responses").get(responses);
    if (bool_field(doc, "succeeded")) {
      n_.txns.fetch_add(1, std::memory_order_relaxed);
      guard_revision_ = rev;
      saw_revision(rev);
      std::size_t i = 0;
      if (have_responses)
        for (simdjson::dom::element r : responses) {
          if (i == ops.size()) break;
          simdjson::dom::element d;
          ops[i].revision = rev;
          ops[i].existed =
              ops[i].k == write_op::kind::put ||
              (!r.at_key("response_delete_range").get(d) && u64_field(d, "deleted") > 0);
          ++i;
        }
      if (i < ops.size())
        co_return weir::unexpected(std::errc::io_error,
                                   "etcd: a Txn answer with fewer responses than requests");
      co_return weir::result<void>{};
    }
    // The compare failed: read the guard the Else branch returned.
    std::string value;
    std::uint64_t mod = 0;
    if (have_responses)
      for (simdjson::dom::element r : responses) {
      simdjson::dom::element range;
      simdjson::dom::array kvs;
      if (r.at_key("response_range").get(range) || range.at_key("kvs").get(kvs)) continue;
      for (simdjson::dom::element kv : kvs) {
        mod = u64_field(kv, "mod_revision");
        if (!unbase64(str_field(kv, "value"), value)) value.clear();
      }
    }
    guard_revision_ = mod;
    if (value != seq) {
      // An earlier Txn, given up on, applied late (or the guard was removed): send this one
      // again against the guard as it is now.
      n_.resent.fetch_add(1, std::memory_order_relaxed);
      weir::log::info("etcd guard moved; sending the Txn again",
                      {{"guard_value", value}, {"seq", seq}, {"mod_revision", std::to_string(mod)}});
      continue;
    }
    // This Txn applied on an earlier attempt whose answer was lost: at revision `mod`.
    n_.applied_earlier.fetch_add(1, std::memory_order_relaxed);
    n_.txns.fetch_add(1, std::memory_order_relaxed);
    saw_revision(mod);
    for (std::size_t i = 0; i < ops.size(); ++i) {
      ops[i].revision = mod;
      ops[i].existed = true;
      if (ops[i].k == write_op::kind::del) {
        auto e = co_await existed_at(full_keys[i], mod - 1, deadline);
        if (!e)
          co_return weir::unexpected(
              std::errc::io_error, "etcd applied the batch at revision " + std::to_string(mod) +
                                       " but cannot tell whether a deleted key existed: " +
                                       e.error().message());
        ops[i].existed = *e;
      }
    }
    co_return weir::result<void>{};
  }
  co_return weir::unexpected(std::errc::io_error,
                             "etcd: the guard key " + guard_ + " keeps changing under taskd");
}

weir::task<weir::result<bool>> etcd_store::existed_at(std::string_view key, std::uint64_t revision,
                                                      clock::time_point deadline) {
  http::json_writer w;
  w.begin_object()
      .key("key")
      .value(b64(key))
      .key("revision")
      .value(std::to_string(revision))
      .key("count_only")
      .value(true)
      .end_object();
  auto answer = co_await call("/v3/kv/range", w.take(), deadline);
  if (!answer) co_return weir::unexpected(std::move(answer).error());
  thread_local simdjson::dom::parser parser;  // one per shard; reuses its buffers
  simdjson::dom::element doc;
  WEIR_CO_TRY(parse_range(parser, *answer, doc));
  co_return u64_field(doc, "count") > 0;
}

weir::task<weir::result<std::optional<kv_entry>>> etcd_store::get(std::string key) {
  http::json_writer w;
  w.begin_object().key("key").value(b64(kv_prefix_ + key)).end_object();
  auto answer = co_await call("/v3/kv/range", w.take(), weir::now() + opt_.retry);
  if (!answer) co_return weir::unexpected(std::move(answer).error());
  thread_local simdjson::dom::parser parser;  // one per shard; reuses its buffers
  simdjson::dom::element doc;
  WEIR_CO_TRY(parse_range(parser, *answer, doc));
  simdjson::dom::array kvs;
  if (doc.at_key("kvs").get(kvs)) co_return std::optional<kv_entry>();
  for (simdjson::dom::element kv : kvs) {
    kv_entry e;
    e.key = std::move(key);
    if (!unbase64(str_field(kv, "value"), e.value))
      co_return weir::unexpected(std::errc::io_error, "etcd: a value that is not base64");
    e.mod_revision = u64_field(kv, "mod_revision");
    co_return std::optional<kv_entry>(std::move(e));
  }
  co_return std::optional<kv_entry>();
}

weir::task<weir::result<kv_page>> etcd_store::list(std::string prefix, std::size_t limit) {
  const std::string from = kv_prefix_ + prefix;
  http::json_writer w;
  w.begin_object()
      .key("key")
      .value(b64(from))
      .key("range_end")
      .value(b64(prefix_range_end(from)))
      .key("limit")
      .value(std::to_string(limit))
      .end_object();
  auto answer = co_await call("/v3/kv/range", w.take(), weir::now() + opt_.retry);
  if (!answer) co_return weir::unexpected(std::move(answer).error());
  thread_local simdjson::dom::parser parser;  // one per shard; reuses its buffers
  simdjson::dom::element doc;
  kv_page page;
  WEIR_CO_TRY_ASSIGN(page.revision, parse_range(parser, *answer, doc));
  page.more = bool_field(doc, "more");
  simdjson::dom::array kvs;
  if (doc.at_key("kvs").get(kvs)) co_return page;
  std::string k;
  for (simdjson::dom::element kv : kvs) {
    kv_entry e;
    if (!unbase64(str_field(kv, "key"), k) || !k.starts_with(kv_prefix_) ||
        !unbase64(str_field(kv, "value"), e.value))
      co_return weir::unexpected(std::errc::io_error, "etcd: a malformed key or value");
    e.key = k.substr(kv_prefix_.size());
    e.mod_revision = u64_field(kv, "mod_revision");
    page.kvs.push_back(std::move(e));
  }
  co_return page;
}

weir::task<> etcd_store::close() {
  if (closed_) co_return;
  closed_ = true;
  if (seq_ > 0) {  // the guard exists: remove it (best effort, one budget)
    http::json_writer w;
    w.begin_object().key("key").value(b64(guard_)).end_object();
    auto r = co_await call("/v3/kv/deleterange", w.take(), weir::now() + opt_.timeout);
    if (!r)
      weir::log::warn("cannot remove taskd's guard key from etcd",
                      {{"key", guard_}, {"error", r.error().message()}});
  }
  for (unsigned k = 0; k < weir::shard_count() && k < shards_.size(); ++k)
    if (shards_[k]) co_await weir::on_shard(k, [](std::unique_ptr<shard_view>* v) { v->reset(); }, &shards_[k]);
}

}  // namespace

std::string prefix_range_end(std::string_view p) {
  std::string end(p);
  while (!end.empty()) {
    if (static_cast<unsigned char>(end.back()) != 0xFF) {
      end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');
}

weir::result<std::unique_ptr<store>> open_etcd_store(etcd_options o) {
  if (o.endpoints.empty())
    return weir::unexpected(std::errc::invalid_argument, "etcd: no endpoints given");
  for (const std::string& e : o.endpoints)
    if (auto u = http::parse_url(e); !u)
      return weir::unexpected(std::errc::invalid_argument,
                              "etcd endpoint " + e + ": " + u.error().message());
  if (o.prefix.empty())
    return weir::unexpected(std::errc::invalid_argument, "etcd: the key prefix is empty");
  std::random_device rd;
  const std::uint64_t id = (std::uint64_t{rd()} << 32) | rd();
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(id));
  return std::unique_ptr<store>(new etcd_store(std::move(o), hex));
}

}  // namespace taskd
