#include "driver.hpp"

#include "ring_link.hpp"

#include <weir/core/log.hpp>
#include <weir/core/runtime.hpp>
#include <weir/core/spawn.hpp>
#include <weir/core/time.hpp>
#include <weir/core/when_any.hpp>
#include <weir/io/handle.hpp>
#include <weir/io/signal.hpp>

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

namespace netstack {

using weir::result;
using weir::task;
using weir::unexpected;
using namespace std::chrono_literals;

weir::result<int> open_tap(const std::string& name) {
  if (name.empty() || name.size() >= IFNAMSIZ)
    return unexpected(weir::errc::invalid_input, "TAP name must be 1..15 characters");
  const int fd = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return unexpected(weir::error(weir::io::last_error(), "open /dev/net/tun"));
  ifreq ifr{};
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  std::memcpy(ifr.ifr_name, name.data(), name.size());
  if (::ioctl(fd, TUNSETIFF, &ifr) != 0) {
    auto e = weir::io::last_error();
    ::close(fd);
    return unexpected(weir::error(e, "TUNSETIFF " + name));
  }
  return fd;
}

namespace {

int pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

struct driver {
  const driver_options& o;
  shm_region& region;
  shm_ring tx, rx;
  driver_stats& st;
  weir::io::handle tx_data, rx_space;  // waited on
  weir::io::handle tap;

  // A free RX slot, waiting (after a short spin) while the stack has not freed one; `label`
  // names the wait in dumps.
  task<result<std::byte*>> rx_slot(const char* label) {
    for (;;) {
      if (std::byte* slot = rx.try_reserve()) co_return slot;
      if (rx.spin_for_space(shm_ring::spins_before_sleep)) continue;
      st.rx_ring_full.fetch_add(1, std::memory_order_relaxed);
      if (!rx.begin_wait_space()) continue;
      auto r = co_await await_eventfd(rx_space, label);
      rx.end_wait_space();
      if (!r) co_return unexpected(r.error());
    }
  }

  // TX ring -> the NIC. With a delay, frame k leaves no earlier than k delays after the first
  // (timers are coarser than a delay of microseconds: the driver sleeps when it is ahead).
  task<result<void>> tx_pump() {
    auto due = std::chrono::steady_clock::now();
    bool idle = true;
    for (;;) {
      auto f = tx.try_peek();
      if (f.empty()) {
        if (tx.spin_for_data(shm_ring::spins_before_sleep)) continue;
        idle = true;
        if (!tx.begin_wait_data()) continue;
        auto r = co_await await_eventfd(tx_data, "tx ring empty (idle)");
        tx.end_wait_data();
        if (!r) co_return unexpected(r.error());
        continue;
      }
      if (o.delay.count()) {
        const auto now = std::chrono::steady_clock::now();
        if (idle) due = now;  // no credit for time without frames
        idle = false;
        due += o.delay;
        if (due > now) (void)co_await weir::sleep_for(due - now);
      }
      switch (o.mode) {
        case driver_mode::tap: {
          for (;;) {
            const ssize_t n = ::write(tap.fd(), f.data(), f.size());
            if (n >= 0) break;
            if (errno != EAGAIN) {  // the kernel refused this frame: counted, never silent
              st.tx_errors.fetch_add(1, std::memory_order_relaxed);
              break;
            }
            weir::io::op_awaiter writable(tap, weir::detail::io_op::kind::poll_out);
            writable.labelled("tap not writable");
            auto w = co_await writable;
            if (!w) co_return unexpected(w.error());
          }
          break;
        }
        case driver_mode::null: break;
        case driver_mode::loopback: {
          auto slot = co_await rx_slot("rx ring full");
          if (!slot) co_return unexpected(slot.error());
          std::memcpy(*slot, f.data(), f.size());
          if (rx.commit(static_cast<std::uint32_t>(f.size()))) signal_eventfd(region.fds().rx_data);
          st.rx_frames.fetch_add(1, std::memory_order_relaxed);
          st.rx_bytes.fetch_add(f.size(), std::memory_order_relaxed);
          break;
        }
      }
      st.tx_frames.fetch_add(1, std::memory_order_relaxed);
      st.tx_bytes.fetch_add(f.size(), std::memory_order_relaxed);
      if (tx.release()) signal_eventfd(region.fds().tx_space);
    }
  }

  // The TAP -> RX ring, reading only into a free slot.
  task<result<void>> rx_pump() {
    for (;;) {
      auto slot = co_await rx_slot("rx ring full: not reading the TAP");
      if (!slot) co_return unexpected(slot.error());
      weir::io::op_awaiter read(tap, weir::detail::io_op::kind::read);
      read.op().buf = *slot;
      read.op().len = slot_capacity;
      read.labelled("tap: no frame from the kernel");
      auto n = co_await read;
      if (!n) co_return unexpected(weir::error(n.error(), "read " + o.tap));
      if (rx.commit(static_cast<std::uint32_t>(*n))) signal_eventfd(region.fds().rx_data);
      st.rx_frames.fetch_add(1, std::memory_order_relaxed);
      st.rx_bytes.fetch_add(*n, std::memory_order_relaxed);
    }
  }

  // The kernel's count of frames it dropped because nobody read the TAP fast enough: the TAP's
  // TX drops in /proc/net/dev (procfs shows this process's network namespace; an in-memory
  // read, which never blocks).
  task<result<void>> watch_kernel_drops() {
    const int fd = ::open("/proc/net/dev", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      weir::log::warn("cannot read /proc/net/dev: the kernel's TAP drops are not reported",
                      {{"error", weir::io::last_error().message()}});
      co_return result<void>{};  // the driver goes on without
    }
    const std::string key = o.tap + ":";
    for (;;) {
      char text[16384];
      const ssize_t n = ::pread(fd, text, sizeof text - 1, 0);
      if (n > 0) {
        const std::string_view all(text, static_cast<std::size_t>(n));
        for (std::size_t at = 0; at < all.size();) {
          std::size_t end = all.find('\n', at);
          if (end == std::string_view::npos) end = all.size();
          std::string_view line = all.substr(at, end - at);
          at = end + 1;
          while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
          if (!line.starts_with(key)) continue;
          // rx: bytes packets errs drop fifo frame compressed multicast; tx: bytes packets errs
          // drop ...: the TX drops are the 12th number.
          std::string numbers(line.substr(key.size()));
          const char* p = numbers.c_str();
          unsigned long long v = 0;
          for (int i = 0; i < 12; ++i) {
            char* next = nullptr;
            v = std::strtoull(p, &next, 10);
            p = next;
          }
          st.tap_kernel_drops.store(v, std::memory_order_relaxed);
        }
      }
      auto slept = co_await weir::sleep_for(500ms);
      if (!slept) {
        ::close(fd);
        co_return unexpected(slept.error());
      }
    }
  }
};

task<int> serve(driver& d, weir::io::signal_set& stop, int parent_fd) {
  weir::io::handle parent(parent_fd, false);
  weir::io::op_awaiter parent_gone(parent, weir::detail::io_op::kind::poll_in);
  parent_gone.labelled("the stack process");
  auto pumps = [&]() -> task<result<void>> {
    if (d.o.mode != driver_mode::tap) co_return co_await d.tx_pump();
    auto r = co_await weir::when_any(d.tx_pump(), d.rx_pump(), d.watch_kernel_drops());
    result<void> out;
    std::visit([&](auto& x) { out = std::move(x); }, r);
    co_return out;
  };
  auto watch_parent = [&]() -> task<result<std::size_t>> { co_return co_await parent_gone; };
  d.st.ready.store(1, std::memory_order_release);
  auto r = co_await weir::when_any(pumps(), stop.wait(), watch_parent());
  switch (r.index()) {
    case 0:
      weir::log::error("driver stopped", {{"error", std::get<0>(r).error().message()}});
      co_return 1;
    case 1: co_return 0;
    default: weir::log::error("the stack process is gone: the driver exits", {}); co_return 1;
  }
}

}  // namespace

int run_driver(const driver_options& o) {
  if (o.cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(o.cpu, &set);
    if (::sched_setaffinity(0, sizeof set, &set) != 0)
      weir::log::warn("cannot pin the driver", {{"cpu", std::to_string(o.cpu)}});
  }
  weir::io::signal_set stop({SIGINT, SIGTERM});
  auto region = shm_region::attach(o.fds);
  if (!region) {
    weir::log::error("cannot attach the rings", {{"error", region.error().message()}});
    return 2;
  }
  const pid_t parent = ::getppid();
  const int parent_fd = pidfd_open(parent);
  if (parent == 1 || parent_fd < 0) {
    weir::log::error("no stack process to serve", {});
    return 2;
  }
  int tap_fd = -1;
  if (o.mode == driver_mode::tap) {
    auto t = open_tap(o.tap);
    if (!t) {
      weir::log::error("cannot open the TAP device", {{"error", t.error().message()}});
      return 2;
    }
    tap_fd = *t;
  }
  int rc;
  {
    weir::runtime_options ro;
    ro.shards = 1;
    weir::runtime rt(std::move(ro));
    driver d{o,
             *region,
             region->tx(),
             region->rx(),
             region->stats(),
             weir::io::handle(::dup(o.fds.tx_data), false),
             weir::io::handle(::dup(o.fds.rx_space), false),
             weir::io::handle(tap_fd, false)};
    rc = rt.block_on(serve(d, stop, parent_fd), "netstack driver");
  }
  const auto& st = region->stats();
  weir::log::info("driver stopped",
                  {{"tx_frames", std::to_string(st.tx_frames.load())},
                   {"rx_frames", std::to_string(st.rx_frames.load())},
                   {"tx_errors", std::to_string(st.tx_errors.load())},
                   {"tap_kernel_drops", std::to_string(st.tap_kernel_drops.load())}});
  return rc;
}

}  // namespace netstack
