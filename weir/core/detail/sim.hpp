// The simulation backend (docs/architecture.md D11): every shard of a runtime on one OS thread,
// interleaved in an order drawn from a seed, on virtual time. Internal; users pick it with
// runtime_options::backend = "sim" or WEIR_BACKEND=sim, and the seed with
// runtime_options::sim_seed or WEIR_SIM_SEED.
//
// The loop (runtime_impl::sim_loop): while some shard has work now (queued tasks, incoming
// wakes, mailbox requests, timers due), pick one of them with the seed and let it run a batch
// of 1 to 8 tasks — or, one time in 32 with several shards, stall it for 0.1 to 3 ms of
// virtual time (a preempted thread: the delays between shards real concurrency has); when
// none has, run the event due first (a blocking job completing, a network delivery), or else
// move virtual time to the earliest deadline (a timer of any shard, an event); when
// nothing is pending at all, wait for work from outside (block_on). Time moves only while a
// block_on caller waits: once its task is done, tasks it left behind (a 24 h sleep) stay where
// they are, as they would on a real clock, until the runtime stops. A run is a function of
// its seed and of what block_on hands it: every choice comes from one generator, every clock
// read is virtual, and the state the loop idles in is quiescent.
//
// blocking() jobs run on the loop's thread at a simulated completion time, 0 to 2 ms after
// submission (drawn from the seed), in time order.
//
// Trace: each scheduling decision (a shard's turn, each task run with its id, a time jump, a
// blocking job) feeds a 64-bit FNV-1a hash (runtime::sim_trace_hash: two runs of a seed give
// the same hash); WEIR_SIM_TRACE=1 also prints each event on stderr.
//
// Sockets are simulated (weir/net/sim_network.hpp); I/O on real file descriptors is refused
// under sim (-EOPNOTSUPP from the reactor, logged once): it would make a run depend on the
// outside world.
#pragma once

#include <weir/core/detail/blocking_pool.hpp>
#include <weir/core/detail/reactor.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <vector>

namespace weir::detail {

// The simulated network as the sim reactor sees it (weir/net/sim_network.cpp installs it on
// first use): operations on descriptors it made (fd_state::sim) go to it.
struct sim_io {
  virtual ~sim_io() = default;
  virtual bool start(io_op& op) noexcept = 0;  // as reactor::start
  virtual void cancel(io_op& op, bool call_done) noexcept = 0;
  virtual void closing(fd_state& fs) noexcept = 0;  // its descriptor is being closed
  virtual void quiesce() noexcept = 0;              // the runtime stops: drop every operation
};

class sim_state {
 public:
  using clock = std::chrono::steady_clock;
  // Virtual time starts here in every run (not at the wall clock's now: traces must not
  // depend on when a run happens).
  static constexpr clock::time_point start{std::chrono::hours(24)};

  explicit sim_state(std::uint64_t seed);

  std::uint64_t seed() const noexcept { return seed_; }
  std::uint64_t next() noexcept { return rng_(); }
  clock::time_point now() const noexcept { return now_; }
  void set_now(clock::time_point t) noexcept { now_ = t; }
  // The wall clock: 2026-01-01T00:00:00Z at `start`, plus virtual time and the jumps.
  std::chrono::system_clock::time_point wall() const noexcept {
    return std::chrono::system_clock::time_point(std::chrono::seconds(1767225600)) +
           std::chrono::duration_cast<std::chrono::system_clock::duration>(now_ - start) +
           wall_offset;
  }
  std::chrono::system_clock::duration wall_offset{};

  // The trace: kind is a short word ("turn", "run", "time", "job").
  void note(const char* kind, std::uint64_t a, std::uint64_t b = 0) noexcept;
  std::uint64_t trace_hash() const noexcept { return hash_.load(std::memory_order_acquire); }

  // Timed events of the simulated world (a segment arriving, a connection established, a
  // blocking job completing): run on the loop's thread at `at`, in time order, then submission
  // order. `job`: the blocking job the event runs, so that try_cancel can find it.
  void at(clock::time_point at, std::function<void()> fn, blocking_job* job = nullptr);
  bool next_event(clock::time_point& at) const noexcept;
  bool run_due_event();
  void drop_events() noexcept { events_.clear(); }

  // weir::blocking under sim (blocking_pool forwards here): the job runs as an event 0-2 ms
  // after submission; cancelling removes it while it has not run.
  void submit(blocking_job* j);
  bool try_cancel(blocking_job* j) noexcept;

  // block_on calls whose task has not finished (virtual time moves only while one waits).
  std::atomic<int> callers{0};

  // The simulated network, once weir::net made it.
  std::unique_ptr<sim_io> io;

  // Waking the loop from other threads (block_on's injection, the runtime stopping).
  void poke() noexcept;
  // Sleeps until poke() or `limit`.
  void idle(std::chrono::milliseconds limit);

 private:
  const std::uint64_t seed_;
  std::mt19937_64 rng_;
  clock::time_point now_ = start;
  std::atomic<std::uint64_t> hash_;
  bool print_ = false;
  struct event {
    clock::time_point at;
    std::uint64_t order;
    std::function<void()> fn;
    blocking_job* job;
  };
  std::vector<event>::iterator first_event() noexcept;
  std::vector<event> events_;
  std::uint64_t event_seq_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  bool poked_ = false;
};

// The seed a runtime uses: `configured`, else WEIR_SIM_SEED, else a random one.
std::uint64_t choose_sim_seed(std::uint64_t configured);

std::unique_ptr<reactor> make_sim_reactor(sim_state& sim);

}  // namespace weir::detail
