// taskd on etcd (issue 18): a real 3-member etcd cluster (Debian's etcd-server) started by the
// test on loopback ports, each member with its own data directory, and real taskd processes
// on it (--store etcd).
//   - a write through one taskd is read (linearizable) and listed through another; a delete
//     through the second is seen by the first; kill -9 of one taskd: the other serves all;
//   - kill -9 of a follower, then of the leader, under a write load through two taskd: every
//     answer is 200, or 503 with Retry-After; every acknowledged write is present afterwards;
//   - two members down (no quorum): writes and reads answer 503 + Retry-After, not a hang or a
//     500, and are served again once a member is back.
// Without an etcd binary the tests skip saying so; an etcd that does not start is a failure.
#include "support.hpp"

#include <weir/core/runtime.hpp>
#include <weir/core/spawn.hpp>
#include <weir/core/time.hpp>
#include <weir/http/client.hpp>
#include <weir/sync/wait_group.hpp>
#include <weir/testing/co_assert.hpp>
#include <weir/testing/temp_dir.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <fcntl.h>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>

namespace {

using namespace integration;
namespace http = weir::http;

constexpr const char* kEtcd = "/usr/bin/etcd";

// A free loopback TCP port (bound with port 0, then released; etcd binds it next).
std::uint16_t free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  socklen_t len = sizeof sa;
  getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  close(fd);
  return ntohs(sa.sin_port);
}

// A POST of JSON to 127.0.0.1:port with curl: the body ("" when it fails).
std::string post(std::uint16_t port, const std::string& path, const std::string& json) {
  return shell("curl -s --max-time 3 -X POST -d '" + json + "' http://127.0.0.1:" +
               std::to_string(port) + path + " 2>/dev/null");
}

// Starts `args` (argv[0] the program) with stdout and stderr appended to `log`.
pid_t spawn_logged(std::vector<std::string> args, const std::string& log) {
  const pid_t pid = fork();
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

// The cluster: three members on loopback, fast elections (heartbeat 50 ms, election 500 ms).
class etcd_cluster {
 public:
  struct member {
    std::string name;
    std::uint16_t client = 0, peer = 0;
    pid_t pid = -1;
  };

  explicit etcd_cluster(const std::string& dir) : dir_(dir) {
    for (int i = 0; i < 3; ++i) {
      member m;
      m.name = "m" + std::to_string(i + 1);
      m.client = free_port();
      m.peer = free_port();
      members.push_back(m);
    }
    for (std::size_t i = 0; i < members.size(); ++i) {
      if (!initial_.empty()) initial_ += ",";
      initial_ += members[i].name + "=http://127.0.0.1:" + std::to_string(members[i].peer);
    }
    for (std::size_t i = 0; i < members.size(); ++i) start(i, "new");
  }
  ~etcd_cluster() {
    for (std::size_t i = 0; i < members.size(); ++i) kill9(i);
  }

  void start(std::size_t i, const char* state) {
    member& m = members[i];
    const std::string c = "http://127.0.0.1:" + std::to_string(m.client);
    const std::string p = "http://127.0.0.1:" + std::to_string(m.peer);
    std::vector<std::string> args = {kEtcd,
                                     "--name=" + m.name,
                                     "--data-dir=" + dir_ + "/" + m.name,
                                     "--listen-client-urls=" + c,
                                     "--advertise-client-urls=" + c,
                                     "--listen-peer-urls=" + p,
                                     "--initial-advertise-peer-urls=" + p,
                                     "--initial-cluster=" + initial_,
                                     std::string("--initial-cluster-state=") + state,
                                     "--initial-cluster-token=taskd-test-" +
                                         std::to_string(getpid()),
                                     "--heartbeat-interval=50",
                                     "--election-timeout=500",
                                     "--logger=zap",
                                     "--log-level=error"};
    m.pid = spawn_logged(std::move(args), dir_ + "/" + m.name + ".log");
  }
  void kill9(std::size_t i) {
    if (members[i].pid <= 0) return;
    kill(members[i].pid, SIGKILL);
    waitpid(members[i].pid, nullptr, 0);
    members[i].pid = -1;
  }
  void restart(std::size_t i) { start(i, "existing"); }

  bool healthy(std::size_t i) const {
    return shell("curl -s --max-time 1 http://127.0.0.1:" + std::to_string(members[i].client) +
                 "/health 2>/dev/null")
               .find("\"health\":\"true\"") != std::string::npos;
  }
  // Every running member healthy (a leader elected, quorum) within `limit`.
  bool wait_healthy(std::chrono::seconds limit) const {
    for (auto end = steady::now() + limit; steady::now() < end; usleep(100'000)) {
      bool all = true;
      for (std::size_t i = 0; i < members.size(); ++i)
        if (members[i].pid > 0 && !healthy(i)) all = false;
      if (all) return true;
    }
    return false;
  }
  // The index of the leader, or -1.
  int leader() const {
    for (std::size_t i = 0; i < members.size(); ++i) {
      if (members[i].pid <= 0) continue;
      const std::string s = post(members[i].client, "/v3/maintenance/status", "{}");
      std::smatch lm, mm;
      static const std::regex leader_re(R"re("leader":"(\d+)")re"),
          member_re(R"re("member_id":"(\d+)")re");
      if (std::regex_search(s, lm, leader_re) && std::regex_search(s, mm, member_re) &&
          lm[1] == mm[1])
        return static_cast<int>(i);
    }
    return -1;
  }
  std::string endpoints() const {
    std::string e;
    for (const member& m : members)
      e += (e.empty() ? "" : ",") + std::string("http://127.0.0.1:") + std::to_string(m.client);
    return e;
  }
  std::string logs() const {
    std::string out;
    for (const member& m : members) out += shell("tail -n 5 " + dir_ + "/" + m.name + ".log");
    return out;
  }

  std::vector<member> members;

 private:
  std::string dir_;
  std::string initial_;
};

std::unique_ptr<service> start_taskd(const etcd_cluster& c, std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {WEIR_TASKD,        "--listen",          "127.0.0.1:0",
                                   "--admin",         "127.0.0.1:0",       "--store",
                                   "etcd",            "--etcd-endpoints",  c.endpoints(),
                                   "--etcd-timeout",  "500ms",             "--etcd-retry",
                                   "2s",              "--log-level",       "warn",
                                   "--shards",        "2"};
  args.insert(args.end(), extra.begin(), extra.end());
  return std::make_unique<service>(args);
}

std::string url(const service& s, const std::string& path) {
  return "http://127.0.0.1:" + std::to_string(s.port) + path;
}

template <class F>
void with_client(F body) {
  weir::runtime rt({.shards = 1});
  rt.block_on(body());
}

// Skips (saying why) when etcd is not installed; fails when it is but the cluster does not
// come up.
#define START_CLUSTER(name, dir)                                                       \
  if (access(kEtcd, X_OK) != 0)                                                        \
    GTEST_SKIP() << kEtcd << " not found: install Debian's etcd-server (scripts/setup.sh)"; \
  etcd_cluster name(dir);                                                              \
  ASSERT_TRUE(name.wait_healthy(std::chrono::seconds(30)))                             \
      << "the etcd cluster did not become healthy within 30 s:\n"                      \
      << name.logs()

TEST(TaskdEtcd, WritesThroughOneInstanceAreReadThroughAnother) {
  weir::testing::temp_dir dir;
  START_CLUSTER(cluster, dir.path());
  auto a = start_taskd(cluster);
  auto b = start_taskd(cluster, {"--shards", "1"});
  std::map<std::string, std::string> acked;
  with_client([&]() -> weir::task<> {
    http::client c;
    std::uint64_t last_revision = 0;
    for (int i = 0; i < 100; ++i) {
      const std::string key = "job%2F" + std::to_string(i);
      http::client_request put;
      put.verb = http::method::put;
      put.url = url(i % 2 ? *a : *b, "/kv/" + key);
      put.body = "payload " + std::to_string(i) + std::string(static_cast<std::size_t>(i), 'x');
      const std::string value = put.body;
      auto w = co_await c.request(std::move(put));
      CO_ASSERT_TRUE(w && w->status == 200) << (w ? w->body : w.error().message());
      const std::uint64_t rev = std::stoull(std::string(w->header("X-Taskd-Revision")));
      EXPECT_GT(rev, last_revision);  // etcd's revisions, increasing
      last_revision = rev;
      // Read at once through the other instance: linearizable.
      auto r = co_await c.get(url(i % 2 ? *b : *a, "/kv/" + key));
      CO_ASSERT_TRUE(r);
      EXPECT_EQ(r->status, 200);
      EXPECT_EQ(r->body, value);
      EXPECT_EQ(r->header("X-Taskd-Revision"), std::to_string(rev));
      acked["job/" + std::to_string(i)] = value;
    }
    // A listing through b sees every write, in key order, values in base64.
    auto l = co_await c.get(url(*b, "/kv?prefix=job/&limit=1000"));
    CO_ASSERT_TRUE(l && l->status == 200);
    EXPECT_NE(l->body.find("\"count\":100,\"more\":false"), std::string::npos) << l->body;
    EXPECT_LT(l->body.find("\"key\":\"job/10\""), l->body.find("\"key\":\"job/2\""));
    auto lim = co_await c.get(url(*a, "/kv?prefix=job/&limit=7"));
    CO_ASSERT_TRUE(lim && lim->status == 200);
    EXPECT_NE(lim->body.find("\"count\":7,\"more\":true"), std::string::npos) << lim->body;
    // A delete through b is seen through a; deleting again reports deleted 0.
    http::client_request del;
    del.verb = http::method::delete_;
    del.url = url(*b, "/kv/job%2F5");
    auto d = co_await c.request(del);
    CO_ASSERT_TRUE(d && d->status == 200);
    EXPECT_NE(d->body.find("\"deleted\":1"), std::string::npos) << d->body;
    auto d2 = co_await c.request(del);
    CO_ASSERT_TRUE(d2 && d2->status == 200);
    EXPECT_NE(d2->body.find("\"deleted\":0"), std::string::npos) << d2->body;
    auto gone = co_await c.get(url(*a, "/kv/job%2F5"));
    CO_ASSERT_TRUE(gone);
    EXPECT_EQ(gone->status, 404);
    acked.erase("job/5");
    // 600 writes at once through one instance: batches larger than etcd's --max-txn-ops (128)
    // are cut into several Txns, every write answered 200.
    weir::wait_group wg;
    int ok = 0;
    for (int i = 0; i < 600; ++i) {
      wg.add(1);
      weir::spawn_detached(
          [](http::client& c, std::string u, int& ok, weir::wait_group& wg) -> weir::task<> {
            http::client_request put;
            put.verb = http::method::put;
            put.url = std::move(u);
            put.body = "burst";
            auto r = co_await c.request(std::move(put));
            if (r && r->status == 200)
              ++ok;
            else
              ADD_FAILURE() << (r ? r->body : r.error().message());
            wg.done();
          }(c, url(*a, "/kv/burst" + std::to_string(i)), ok, wg),
          "burst");
    }
    (void)co_await wg.wait();
    EXPECT_EQ(ok, 600);
  });
  const std::string m = get(a->admin, "/metrics").body;
  std::printf("600 concurrent writes: %lld etcd Txns in all\n", metric(m, "taskd_etcd_txns_total"));
  EXPECT_LT(metric(m, "taskd_etcd_txns_total"), 400);  // batched
  // The keys live under the prefix in etcd itself.
  const std::string raw = shell("ETCDCTL_API=3 etcdctl --endpoints " + cluster.endpoints() +
                                " get /taskd/kv/job/7 --print-value-only 2>&1");
  EXPECT_EQ(raw, acked["job/7"] + "\n");
  // kill -9 of one instance: the other serves everything.
  EXPECT_EQ(a->stop(SIGKILL), 128 + SIGKILL);
  with_client([&]() -> weir::task<> {
    http::client c;
    std::size_t found = 0;
    for (const auto& [k, v] : acked) {
      auto r = co_await c.get(url(*b, "/kv/" + k.substr(0, 3) + "%2F" + k.substr(4)));
      if (r && r->status == 200 && r->body == v) ++found;
    }
    EXPECT_EQ(found, acked.size());
  });
  EXPECT_EQ(b->stop(SIGTERM), 0);
}

// Writers through two taskd instances while members are killed; every answer must be 200 or
// 503 with Retry-After, and every 200 a write present afterwards.
struct load_result {
  std::mutex mu;
  std::map<std::string, std::string> acked;
  std::map<int, int> statuses;  // status (-1: transport error) -> count
  int bad_503 = 0;              // 503 without Retry-After
};

void write_load(const std::vector<service*>& targets, std::atomic<bool>& stop, load_result& out,
                const std::string& tag) {
  with_client([&]() -> weir::task<> {
    http::client c({.request_timeout = std::chrono::seconds(10)});
    weir::wait_group wg;
    for (int w = 0; w < 8; ++w) {
      wg.add(1);
      weir::spawn_detached(
          [](http::client& c, const std::vector<service*>& targets, std::atomic<bool>& stop,
             load_result& out, std::string tag, int w, weir::wait_group& wg) -> weir::task<> {
            for (int i = 0; !stop.load() && i < 100'000; ++i) {
              const std::string key = tag + "-" + std::to_string(w) + "-" + std::to_string(i);
              http::client_request req;
              req.verb = http::method::put;
              req.url = url(*targets[static_cast<std::size_t>(w) % targets.size()], "/kv/" + key);
              req.body = "v" + key;
              auto r = co_await c.request(std::move(req));
              const int st = r ? r->status : -1;
              {
                std::lock_guard lock(out.mu);
                ++out.statuses[st];
                if (st == 200) out.acked[key] = "v" + key;
                if (st == 503 && r->header("Retry-After").empty()) ++out.bad_503;
              }
              if (st != 200) (void)co_await weir::sleep_for(std::chrono::milliseconds(50));
            }
            wg.done();
          }(c, targets, stop, out, tag, w, wg),
          "writer");
    }
    (void)co_await wg.wait();
  });
}

std::string describe(const std::map<int, int>& statuses) {
  std::string s;
  for (const auto& [k, v] : statuses) s += std::to_string(k) + ":" + std::to_string(v) + " ";
  return s;
}

TEST(TaskdEtcd, KillingAFollowerAndTheLeaderUnderLoadLosesNoAcknowledgedWrite) {
  weir::testing::temp_dir dir;
  START_CLUSTER(cluster, dir.path());
  auto a = start_taskd(cluster);
  auto b = start_taskd(cluster, {"--shards", "1"});
  load_result out;
  std::atomic<bool> stop{false};
  std::thread load([&] { write_load({a.get(), b.get()}, stop, out, "k"); });
  std::this_thread::sleep_for(1s);
  int leader = cluster.leader();
  ASSERT_GE(leader, 0);
  const std::size_t follower = static_cast<std::size_t>((leader + 1) % 3);
  cluster.kill9(follower);
  std::this_thread::sleep_for(1500ms);
  cluster.restart(follower);
  ASSERT_TRUE(cluster.wait_healthy(30s)) << cluster.logs();
  leader = cluster.leader();
  ASSERT_GE(leader, 0);
  std::size_t before_leader_kill;
  {
    std::lock_guard lock(out.mu);
    before_leader_kill = out.acked.size();
  }
  cluster.kill9(static_cast<std::size_t>(leader));
  std::this_thread::sleep_for(2500ms);
  cluster.restart(static_cast<std::size_t>(leader));
  ASSERT_TRUE(cluster.wait_healthy(30s)) << cluster.logs();
  std::this_thread::sleep_for(1s);
  stop = true;
  load.join();
  std::printf("statuses under member kills: %s; acknowledged %zu (%zu before the leader died)\n",
              describe(out.statuses).c_str(), out.acked.size(), before_leader_kill);
  for (const service* s : {a.get(), b.get()}) {
    const std::string m = get(s->admin, "/metrics").body;
    std::printf("taskd %d: etcd calls %lld, member failures %lld, txns %lld, guard: applied "
                "earlier %lld, resent %lld\n",
                s->pid(), metric(m, "taskd_etcd_calls_total"),
                metric(m, "taskd_etcd_member_failures_total"), metric(m, "taskd_etcd_txns_total"),
                metric(m, "taskd_etcd_guard_total{outcome=\"applied_earlier\"}"),
                metric(m, "taskd_etcd_guard_total{outcome=\"resent\"}"));
    EXPECT_GT(metric(m, "taskd_etcd_txns_total"), 0);
  }
  EXPECT_GT(out.acked.size(), before_leader_kill) << "no write succeeded after the leader died";
  EXPECT_EQ(out.bad_503, 0);
  for (const auto& [st, n] : out.statuses)
    EXPECT_TRUE(st == 200 || st == 503) << n << " answers with status " << st;
  // Every acknowledged write, read through a taskd that did not take it and through etcdctl.
  with_client([&]() -> weir::task<> {
    http::client c;
    std::size_t found = 0;
    for (const auto& [k, v] : out.acked) {
      auto r = co_await c.get(url(*b, "/kv/" + k));
      if (r && r->status == 200 && r->body == v)
        ++found;
      else
        ADD_FAILURE() << "acknowledged write " << k << " lost";
    }
    EXPECT_EQ(found, out.acked.size());
  });
  // etcdctl counts the keys too (at least the acknowledged: a write answered 503 may have
  // applied).
  const std::string count = shell("ETCDCTL_API=3 etcdctl --endpoints " + cluster.endpoints() +
                                  " get /taskd/kv/k- --prefix --keys-only | grep -c '^/taskd/'");
  EXPECT_GE(std::atol(count.c_str()), static_cast<long>(out.acked.size())) << count;
  EXPECT_EQ(a->stop(SIGTERM), 0);
  EXPECT_EQ(b->stop(SIGTERM), 0);
}

TEST(TaskdEtcd, WithoutQuorumRequestsGet503WithRetryAfterThenRecover) {
  weir::testing::temp_dir dir;
  START_CLUSTER(cluster, dir.path());
  auto a = start_taskd(cluster);
  const std::string v = "before";
  EXPECT_EQ(shell("curl -s -X PUT --data-binary before " + url(*a, "/kv/q")).rfind(
                R"({"key":"q","revision":)", 0),
            0u);
  EXPECT_EQ(shell("ETCDCTL_API=3 etcdctl --endpoints " + cluster.endpoints() +
                  " get /taskd/kv/q --print-value-only"),
            "before\n");
  cluster.kill9(1);
  cluster.kill9(2);
  // No quorum: a write and a read each answer 503 with Retry-After within the retry budget.
  for (const char* cmd : {"-X PUT --data-binary lost", "-X GET"}) {
    const auto t0 = steady::now();
    const std::string head = shell("curl -s -i --max-time 15 " + std::string(cmd) + " " +
                                   url(*a, "/kv/q") + " | tr -d '\\r'");
    const auto took = steady::now() - t0;
    EXPECT_EQ(head.rfind("HTTP/1.1 503", 0), 0u) << head;
    EXPECT_NE(head.find("\nRetry-After: 1\n"), std::string::npos) << head;
    EXPECT_NE(head.find("etcd unavailable"), std::string::npos) << head;
    EXPECT_LT(took, 10s);
  }
  cluster.restart(1);
  ASSERT_TRUE(cluster.wait_healthy(30s)) << cluster.logs();
  // Served again. The write answered 503 may have applied once quorum came back (its outcome
  // was unknown, and etcd may still commit what the survivor had logged): either value.
  std::string got;
  for (int i = 0; i < 50; ++i, usleep(100'000)) {
    got = shell("curl -s --max-time 5 " + url(*a, "/kv/q"));
    if (got == v || got == "lost") break;
  }
  EXPECT_TRUE(got == v || got == "lost") << got;
  EXPECT_NE(shell("curl -s -X PUT --data-binary after " + url(*a, "/kv/q")).find("\"revision\""),
            std::string::npos);
  const std::string m = get(a->admin, "/metrics").body;
  EXPECT_GE(metric(m, "taskd_etcd_unavailable_total"), 2);  // the write and the read
  EXPECT_GT(metric(m, "taskd_etcd_member_failures_total"), 0);
  EXPECT_EQ(shell("curl -s " + url(*a, "/kv/q")), "after");
  EXPECT_EQ(a->stop(SIGTERM), 0);
}

// etcd over TLS with client certificates required: taskd reaches it with --etcd-cacert,
// --etcd-cert and --etcd-key; without a client certificate every call fails (503).
TEST(TaskdEtcd, OverTlsWithClientCertificates) {
  if (access(kEtcd, X_OK) != 0)
    GTEST_SKIP() << kEtcd << " not found: install Debian's etcd-server (scripts/setup.sh)";
  weir::testing::temp_dir dir;
  const std::string d = dir.path();
  const std::string make =
      "cd " + d +
      " && EC='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'"
      " && openssl req -x509 $EC -keyout ca.key -out ca.pem -subj '/CN=etcd test CA' -days 2"
      "    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign"
      " && openssl req -x509 -CA ca.pem -CAkey ca.key $EC -keyout server.key -out server.pem"
      "    -subj /CN=localhost -days 2 -addext subjectAltName=DNS:localhost,IP:127.0.0.1"
      "    -addext extendedKeyUsage=serverAuth,clientAuth"
      " && openssl req -x509 -CA ca.pem -CAkey ca.key $EC -keyout client.key -out client.pem"
      "    -subj /CN=taskd -days 2 -addext extendedKeyUsage=clientAuth && echo made";
  ASSERT_EQ(shell("(" + make + ") 2>/dev/null | tail -n 1"), "made\n");
  const std::uint16_t client = free_port(), peer = free_port();
  const std::string c = "https://127.0.0.1:" + std::to_string(client);
  const std::string p = "http://127.0.0.1:" + std::to_string(peer);
  std::vector<std::string> args = {kEtcd,
                                   "--name=t1",
                                   "--data-dir=" + d + "/t1",
                                   "--listen-client-urls=" + c,
                                   "--advertise-client-urls=" + c,
                                   "--listen-peer-urls=" + p,
                                   "--initial-advertise-peer-urls=" + p,
                                   "--initial-cluster=t1=" + p,
                                   "--cert-file=" + d + "/server.pem",
                                   "--key-file=" + d + "/server.key",
                                   "--trusted-ca-file=" + d + "/ca.pem",
                                   "--client-cert-auth",
                                   "--logger=zap",
                                   "--log-level=error"};
  const pid_t etcd = spawn_logged(std::move(args), d + "/t1.log");
  struct reaper {
    pid_t pid;
    ~reaper() {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  } reap{etcd};
  const std::string tls = " --cacert " + d + "/ca.pem --cert " + d + "/client.pem --key " + d +
                          "/client.key ";
  bool up = false;
  for (int i = 0; i < 150 && !up; ++i, usleep(100'000))
    up = shell("curl -s --max-time 1" + tls + c + "/health").find("\"health\":\"true\"") !=
         std::string::npos;
  ASSERT_TRUE(up) << shell("tail -n 5 " + d + "/t1.log");
  auto a = std::make_unique<service>(std::vector<std::string>{
      WEIR_TASKD, "--listen", "127.0.0.1:0", "--admin", "off", "--store", "etcd",
      "--etcd-endpoints", "https://localhost:" + std::to_string(client), "--etcd-cacert",
      d + "/ca.pem", "--etcd-cert", d + "/client.pem", "--etcd-key", d + "/client.key",
      "--log-level", "warn", "--shards", "1"});
  EXPECT_NE(shell("curl -s -X PUT --data-binary secure " + url(*a, "/kv/s")).find("\"revision\""),
            std::string::npos);
  EXPECT_EQ(shell("curl -s " + url(*a, "/kv/s")), "secure");
  EXPECT_EQ(shell("curl -s --max-time 5" + tls + c +
                  "/v3/kv/range -X POST -d '{\"key\":\"L3Rhc2tkL2t2L3M=\"}' | grep -o "
                  "'\"value\":\"[^\"]*\"'"),
            "\"value\":\"c2VjdXJl\"\n");  // /taskd/kv/s = "secure", as etcd holds it
  EXPECT_EQ(a->stop(SIGTERM), 0);
  // Without the client certificate: etcd refuses the handshake, taskd answers 503.
  auto b = std::make_unique<service>(std::vector<std::string>{
      WEIR_TASKD, "--listen", "127.0.0.1:0", "--admin", "off", "--store", "etcd",
      "--etcd-endpoints", "https://localhost:" + std::to_string(client), "--etcd-cacert",
      d + "/ca.pem", "--log-level", "error", "--shards", "1"});
  const std::string refused = shell("curl -s -i " + url(*b, "/kv/s") + " | tr -d '\\r'");
  EXPECT_EQ(refused.rfind("HTTP/1.1 503", 0), 0u) << refused;
  EXPECT_NE(refused.find("rejected our client certificate"), std::string::npos) << refused;
  EXPECT_EQ(b->stop(SIGTERM), 0);
}

}  // namespace
