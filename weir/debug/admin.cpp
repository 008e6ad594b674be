#include <weir/core/completion.hpp>
#include <weir/core/render.hpp>
#include <weir/core/spawn.hpp>
#include <weir/debug/admin.hpp>
#include <weir/http/json.hpp>
#include <weir/http/server.hpp>

#include <charconv>
#include <future>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace weir::debug {

struct admin_server::state {
  runtime& target;
  admin_options opt;
  net::address bound;
  std::mutex mu;  // guards sources
  std::vector<std::function<void(metrics::prometheus_writer&)>> sources;
  completion_source<int> stop;  // fired by the destructor (any thread)
  std::thread thread;
};

namespace {

using namespace std::chrono_literals;

double ms(std::chrono::nanoseconds d) { return static_cast<double>(d.count()) / 1e6; }

std::int64_t unix_ms(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

bool authorized(const admin_server::state& s, http::request& req, http::response& res) {
  if (s.opt.token.empty()) return true;
  if (req.header("authorization") == "Bearer " + s.opt.token) return true;
  res.header("WWW-Authenticate", "Bearer");
  http::reply_error(res, 401, "missing or wrong bearer token");
  return false;
}

bool wants_json(http::request& req) { return req.query_param("format") == "json"; }

void write_tasks_json(const registry_snapshot& s, std::string& out) {
  http::json_writer w;
  w.begin_object()
      .key("pid")
      .value(s.pid)
      .key("time_ms")
      .value(unix_ms(s.taken))
      .key("backend")
      .value(s.backend)
      .key("lost_wakeups")
      .value(s.lost_wakeups)
      .key("stalls")
      .value(s.stalls)
      .key("shards")
      .begin_array();
  for (const auto& sh : s.shards) {
    w.begin_object()
        .key("id")
        .value(sh.id)
        .key("stuck")
        .value(sh.stuck)
        .key("running_task")
        .value(sh.running_task)
        .key("run_ms")
        .value(ms(sh.run_for))
        .key("tasks")
        .value(static_cast<std::uint64_t>(sh.tasks));
    for (const shard_counter_info& c : shard_counter_table)
      w.key(c.key).value(sh.counters.*c.value);  // runs, coop_yields, stalls, ...
    w.end_object();
  }
  w.end_array().key("tasks").begin_array();
  for (const auto& t : s.tasks) {
    w.begin_object()
        .key("id")
        .value(t.id)
        .key("shard")
        .value(t.shard)
        .key("parent")
        .value(t.parent)
        .key("name")
        .value(t.name)
        .key("state")
        .value(t.state)
        .key("spawn")
        .value(site_text(t.spawn_site))
        .key("await")
        .value(site_text(t.await_site))
        .key("function")
        .value(t.await_site.function_name() ? function_text(t.await_site.function_name()) : "")
        .key("wait")
        .value(t.wait)
        .key("wait_ms")
        .value(ms(t.waiting))
        .key("runs")
        .value(t.runs)
        .key("busy_ms")
        .value(ms(t.busy))
        .key("context")
        .value(t.context)
        .end_object();
  }
  w.end_array().end_object();
  out = w.take();
}

// The fields a stall report and a lost-wake-up report share, around their own.
void begin_report(http::json_writer& w, std::chrono::system_clock::time_point when, unsigned shard,
                  std::uint64_t task, const std::string& name) {
  w.begin_object().key("time_ms").value(unix_ms(when)).key("shard").value(shard);
  w.key("task").value(task).key("name").value(name);
}

void end_report(http::json_writer& w, const std::source_location& await_site,
                const std::string& context, const std::vector<stack_frame>& bt) {
  w.key("await").value(site_text(await_site)).key("context").value(context);
  w.key("backtrace").begin_array();
  for (const auto& f : bt) w.value(f.text());
  w.end_array().end_object();
}

http::router make_routes(admin_server::state& s) {
  http::router r;
  r.get("/debug/tasks", [&s](http::request& req, http::response& res) -> task<> {
    if (!authorized(s, req, res)) co_return;
    task_filter f;
    f.state = std::string(req.query_param("state"));
    if (!http::percent_decode(req.query_param("name"), f.name)) {
      http::reply_error(res, 400, "name: bad percent-encoding");
      co_return;
    }
    const std::string_view mw = req.query_param("min_wait_ms");
    if (!mw.empty()) {
      std::int64_t v = 0;
      auto [p, ec] = std::from_chars(mw.data(), mw.data() + mw.size(), v);
      if (ec != std::errc() || p != mw.data() + mw.size() || v < 0) {
        http::reply_error(res, 400, "min_wait_ms: expected a non-negative integer");
        co_return;
      }
      f.min_wait = std::chrono::milliseconds(v);
    }
    if (!f.state.empty() && f.state != "running" && f.state != "ready" && f.state != "waiting") {
      http::reply_error(res, 400, "state: expected running, ready or waiting");
      co_return;
    }
    const registry_snapshot snap = snapshot(s.target, f);
    if (wants_json(req)) {
      std::string body;
      write_tasks_json(snap, body);
      http::reply_json(res, 200, std::move(body));
    } else {
      res.content_type("text/plain; charset=utf-8");
      res.body(format_dump(snap));
    }
  });
  r.get("/debug/stalls", [&s](http::request& req, http::response& res) -> task<> {
    if (!authorized(s, req, res)) co_return;
    const auto v = stalls(s.target);
    if (!wants_json(req)) {
      res.content_type("text/plain; charset=utf-8");
      res.body(format_stalls(v));
      co_return;
    }
    http::json_writer w;
    w.begin_array();
    for (const auto& r : v) {
      begin_report(w, r.when, r.shard, r.task, r.name);
      w.key("ran_ms").value(ms(r.ran_for)).key("spawn").value(site_text(r.spawn_site));
      end_report(w, r.await_site, r.context, r.backtrace);
    }
    w.end_array();
    http::reply_json(res, 200, w.take());
  });
  r.get("/debug/lost", [&s](http::request& req, http::response& res) -> task<> {
    if (!authorized(s, req, res)) co_return;
    const auto v = lost_wakeups(s.target);
    if (!wants_json(req)) {
      res.content_type("text/plain; charset=utf-8");
      res.body(format_lost(v));
      co_return;
    }
    http::json_writer w;
    w.begin_array();
    for (const auto& r : v) {
      begin_report(w, r.when, r.shard, r.task, r.name);
      w.key("what").value(r.what).key("where").value(r.where);
      end_report(w, r.await_site, r.context, r.backtrace);
    }
    w.end_array();
    http::reply_json(res, 200, w.take());
  });
  r.get("/metrics", [&s](http::request& req, http::response& res) -> task<> {
    if (!authorized(s, req, res)) co_return;
    // One writer for every source: a family two sources share stays whole.
    metrics::prometheus_writer w;
    write_runtime_metrics(s.target, w);
    {
      std::lock_guard lk(s.mu);
      for (auto& src : s.sources) src(w);
    }
    res.content_type("text/plain; version=0.0.4; charset=utf-8");
    res.body(w.take());
  });
  r.get("/healthz", [&s](http::request& req, http::response& res) -> task<> {
    if (!authorized(s, req, res)) co_return;
    const registry_snapshot snap =
        snapshot(s.target, {.state = "running", .min_wait = {}, .name = {}});
    for (const auto& sh : snap.shards)
      if (sh.stuck) {
        res.status(503);
        res.body("shard " + std::to_string(sh.id) + " stuck for " +
                 std::to_string(sh.run_for.count() / 1'000'000) + " ms in task " +
                 std::to_string(sh.running_task) + "\n");
        co_return;
      }
    res.body("ok\n");
  });
  return r;
}

task<> serve(admin_server::state& s, std::promise<std::error_code>& ready) {
  http::server srv(make_routes(s),
                   {.idle_timeout = 30s, .max_connections = 64, .reuse_port = false});
  auto where = co_await srv.listen(s.opt.address);
  if (!where) {
    ready.set_value(where.error());
    co_return;
  }
  s.bound = *where;
  auto [src, done] = make_completion<int>("admin_server's destructor");
  s.stop = std::move(src);
  ready.set_value({});
  auto stopper = spawn(
      [](http::server& srv, completion<int> done) -> task<> {
        (void)co_await done;
        co_await srv.shutdown(std::chrono::milliseconds(500));
      }(srv, std::move(done)),
      "admin stop");
  co_await srv.run();
  (void)co_await stopper;
}

}  // namespace

admin_server::admin_server(runtime& target, admin_options o)
    : s_(new state{target, std::move(o), {}, {}, {}, {}, {}}) {
  std::promise<std::error_code> ready;
  auto started = ready.get_future();
  state& s = *s_;
  s.thread = std::thread([&s, &ready] {
    // Its own runtime: no stall watchdog, no dump signal (the target's runtime has them).
    runtime rt({.shards = 1,
                .pin_threads = false,
                .backend = "epoll",
                .stall_threshold = std::chrono::milliseconds(0),
                .dump_signal = 0});
    rt.block_on(serve(s, ready), "admin server");
  });
  if (std::error_code ec = started.get()) {
    s.thread.join();
    throw std::system_error(
        ec, "weir::debug::admin_server: cannot listen on " + s.opt.address.to_string());
  }
}

admin_server::~admin_server() {
  s_->stop.fire(1);
  s_->thread.join();
}

const net::address& admin_server::address() const noexcept { return s_->bound; }

void admin_server::add_metrics(std::function<void(metrics::prometheus_writer&)> source) {
  std::lock_guard lk(s_->mu);
  s_->sources.push_back(std::move(source));
}

}  // namespace weir::debug
