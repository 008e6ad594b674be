// Seed 002's bug, found in seconds: an HTTP service that authenticates each request through a
// C library completing by callback (auth_lib.c), bridged by weir::make_c_callback.
//
//   c_callback [--port P] [--admin-port A] [--shards N] [--forget N] [--policy fail|report]
//              [--handler-timeout-ms T]
//   GET /login?user=NAME  ->  200 "welcome NAME" | 403 "denied" | 502 naming the lost wake-up
//
// With --forget N the library drops about one busy request in N without calling back (the
// bug). Under weir's default policy (fail) the waiting handler resumes at once with
// errc::lost_wakeup and answers 502 -- no request hangs -- and the report names the handler's
// await site and the library function that dropped the request (also at /debug/lost on the
// admin port). Under --policy report the handler stays waiting, as it would on a runtime that
// cannot tell, until the handler timeout answers 503; `weir dump` lists those tasks with
// their peer address, the request, and how long they have waited.
#include "../common/service.hpp"
#include "auth_lib.h"

#include <weir/core/c_callback.hpp>

#include <cstdlib>
#include <cstring>
#include <string>

namespace {

auth_lib* g_auth = nullptr;

// The C callbacks: any worker thread of the library.
void on_auth_done(void* token, int status) { weir::c_callback_fire<int>(token, status); }
void on_auth_release(void* token) { weir::c_callback_release(token); }

// The async interface over the C library: one pooled frame, no thread of its own.
weir::task<weir::result<int>> authenticate(std::string user) {
  auto [token, done] = weir::make_c_callback<int>("auth library");
  auth_check(g_auth, user.c_str(), &on_auth_done, &on_auth_release, token);
  co_return co_await done;
}

weir::task<> login(weir::http::request& req, weir::http::response& res) {
  std::string user(req.query_param("user", "guest"));
  weir::result<int> status = co_await authenticate(user);
  res.content_type("text/plain");
  if (!status) {
    res.status(502);
    res.body("auth failed: " + status.error().message() +
             " (the auth library dropped the request without calling back)\n");
  } else if (*status == 0) {
    res.body("welcome " + user + "\n");
  } else {
    res.status(403);
    res.body(std::string_view("denied\n"));
  }
}

int usage() {
  std::fprintf(stderr,
               "usage: c_callback [--port P] [--admin-port A] [--shards N] [--forget N] "
               "[--policy fail|report] [--handler-timeout-ms T]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  unsigned port = 8080, admin_port = 9901, shards = 1, forget = 0, timeout_ms = 2000;
  weir::lost_wakeup_policy policy = weir::lost_wakeup_policy::fail;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) return usage();
    const char* v = argv[++i];
    if (a == "--port")
      port = static_cast<unsigned>(std::atoi(v));
    else if (a == "--admin-port")
      admin_port = static_cast<unsigned>(std::atoi(v));
    else if (a == "--shards")
      shards = static_cast<unsigned>(std::atoi(v));
    else if (a == "--forget")
      forget = static_cast<unsigned>(std::atoi(v));
    else if (a == "--handler-timeout-ms")
      timeout_ms = static_cast<unsigned>(std::atoi(v));
    else if (a == "--policy" && !std::strcmp(v, "fail"))
      policy = weir::lost_wakeup_policy::fail;
    else if (a == "--policy" && !std::strcmp(v, "report"))
      policy = weir::lost_wakeup_policy::report;
    else
      return usage();
  }
  g_auth = auth_open(4, 300, forget);
  if (!g_auth) {
    std::fprintf(stderr, "c_callback: cannot start the auth library's threads\n");
    return 1;
  }
  int rc;
  {
    weir::io::signal_set sigs({SIGINT, SIGTERM});
    weir::runtime rt({.shards = shards, .lost_wakeup = policy});
    weir::http::router r;
    r.get("/login", login);
    weir::http::server_options so;
    so.handler_timeout = std::chrono::milliseconds(timeout_ms);
    rc = rt.block_on(examples::serve_until_signal(
        sigs, rt, std::move(r), std::move(so),
        weir::net::address::loopback_v4(static_cast<std::uint16_t>(port)),
        weir::net::address::loopback_v4(static_cast<std::uint16_t>(admin_port))));
  }
  std::fprintf(stderr, "c_callback: the auth library forgot %lu request(s)\n",
               auth_forgotten(g_auth));
  auth_close(g_auth);
  return rc;
}
