#include <weir/core/log.hpp>

#include <weir/core/detail/shard.hpp>
#include <weir/core/time.hpp>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <ctime>
#include <deque>
#include <mutex>
#include <thread>

namespace weir::log {

namespace {

constexpr std::string_view names[] = {"debug", "info", "warn", "error"};

std::atomic<level> g_level{level::info};

bool plain(std::string_view v) noexcept {
  if (v.empty()) return false;
  for (const char c : v)
    if (static_cast<unsigned char>(c) <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7F)
      return false;
  return true;
}

void append_value(std::string& out, std::string_view v) {
  if (plain(v)) {
    out += v;
    return;
  }
  out += '"';
  for (const char c : v) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F)
          fmt::format_to(std::back_inserter(out), "\\x{:02x}", static_cast<unsigned char>(c));
        else
          out += c;  // UTF-8 passes through
    }
  }
  out += '"';
}

void write_all(std::string_view s) noexcept {
  while (!s.empty()) {
    const ssize_t n = ::write(STDERR_FILENO, s.data(), s.size());
    if (n <= 0) return;  // stderr closed or broken: nothing better to do
    s.remove_prefix(static_cast<std::size_t>(n));
  }
}

// The default sink. A shard thread never writes stderr itself: it queues the line for a writer
// thread, and when the queue is full it drops the line and counts it (the count is logged when
// there is room). Other threads (main, the watchdog, the blocking pool) write directly, so a
// program's last message is out before it exits. The writer thread runs only while a runtime
// exists (runtime_users): a process with no runtime has no thread of weir's, so it may fork.
class stderr_writer final : public sink {
 public:
  void write(const record& r) noexcept override {
    std::string line;
    append_logfmt(line, r, true);
    line += '\n';
    if (!r.block.empty()) {
      line += r.block;
      if (line.back() != '\n') line += '\n';
    }
    if (weir::detail::current_shard() == nullptr) {
      write_all(line);
      return;
    }
    std::lock_guard lock(m_);
    if (!running_ || q_.size() >= kMaxQueued) {
      ++dropped_;
      return;
    }
    q_.push_back(std::move(line));
    ++queued_;
    work_.notify_one();
  }

  void flush() noexcept override {
    std::unique_lock lock(m_);
    const std::uint64_t target = queued_;
    written_cv_.wait_for(lock, kWaitLimit, [&] { return written_ >= target; });
  }

  // A runtime starts (+1) or has stopped its shards (-1): the writer thread starts with the
  // first and, with the last, writes what is queued and ends.
  void runtime_users(int delta) {
    std::thread done;
    {
      std::lock_guard lock(m_);
      users_ += delta;
      if (users_ > 0 && !running_) {
        running_ = true;
        stop_ = false;
        thread_ = std::thread([this] { run(); });
      } else if (users_ == 0 && running_) {
        running_ = false;
        stop_ = true;
        work_.notify_one();
        done = std::move(thread_);
      }
    }
    if (done.joinable()) done.join();
  }

 private:
  static constexpr std::size_t kMaxQueued = 4096;
  static constexpr std::chrono::seconds kWaitLimit{2};  // stderr stuck: give up waiting

  void run() {
    std::unique_lock lock(m_);
    for (;;) {
      work_.wait(lock, [this] { return !q_.empty() || stop_ || dropped_ > 0; });
      if (q_.empty() && dropped_ == 0) return;  // stopped, all written
      std::string line;
      if (!q_.empty()) {
        line = std::move(q_.front());
        q_.pop_front();
      }
      const std::uint64_t dropped = std::exchange(dropped_, 0);
      lock.unlock();
      if (dropped > 0) {
        std::string note;
        const field f[] = {{"lines", std::to_string(dropped)}};
        append_logfmt(note,
                      {std::chrono::system_clock::now(), level::warn,
                       "log lines dropped: stderr was not keeping up", f},
                      true);
        note += '\n';
        write_all(note);
      }
      write_all(line);
      lock.lock();
      if (!line.empty()) ++written_;
      written_cv_.notify_all();
    }
  }

  std::mutex m_;
  std::condition_variable work_, written_cv_;
  std::deque<std::string> q_;
  std::uint64_t queued_ = 0, written_ = 0, dropped_ = 0;
  int users_ = 0;
  bool running_ = false, stop_ = false;
  std::thread thread_;
};

stderr_writer& default_writer() {
  static auto* w = new stderr_writer;  // never destroyed: threads may log during exit
  return *w;
}

struct state {
  std::mutex m;
  std::shared_ptr<sink> current;
};

state& global() {
  static auto* s = new state;  // never destroyed: threads may log during exit
  return *s;
}

std::shared_ptr<sink> current() {
  state& s = global();
  std::lock_guard lock(s.m);
  if (!s.current) s.current = stderr_sink();
  return s.current;
}

}  // namespace

std::shared_ptr<sink> stderr_sink() {
  // Shares the never-destroyed writer without owning it.
  static auto* s = new std::shared_ptr<sink>(std::shared_ptr<sink>(), &default_writer());
  return *s;
}

namespace detail {
void runtime_started() { default_writer().runtime_users(+1); }
void runtime_stopped() { default_writer().runtime_users(-1); }
}  // namespace detail

void set_sink(std::shared_ptr<sink> s) {
  state& g = global();
  std::lock_guard lock(g.m);
  g.current = s ? std::move(s) : stderr_sink();
}

void set_level(level l) noexcept { g_level.store(l, std::memory_order_relaxed); }
bool enabled(level l) noexcept { return l >= g_level.load(std::memory_order_relaxed); }

std::optional<level> parse_level(std::string_view s) noexcept {
  for (int i = 0; i < 4; ++i)
    if (s == names[i]) return static_cast<level>(i);
  return std::nullopt;
}

void append_logfmt(std::string& out, const record& r, bool with_time) {
  if (with_time) {
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(r.time.time_since_epoch()).count();
    const std::time_t secs = static_cast<std::time_t>(ms / 1000);
    fmt::format_to(std::back_inserter(out), "ts={:%Y-%m-%dT%H:%M:%S}.{:03}Z ", fmt::gmtime(secs),
                   ms % 1000);
  }
  out += "level=";
  out += names[static_cast<int>(r.level)];
  out += " msg=";
  append_value(out, r.msg);
  for (const auto& [k, v] : r.fields) {
    out += ' ';
    out += k;
    out += '=';
    append_value(out, v);
  }
}

std::string format(level l, std::string_view msg, std::initializer_list<field> fields) {
  std::string out;
  append_logfmt(out, {{}, l, msg, {fields.begin(), fields.size()}}, false);
  return out;
}

void write(level l, std::string_view msg, std::span<const field> fields) {
  current()->write({wall_now(), l, msg, fields});
}

void write_block(level l, std::string_view msg, std::initializer_list<field> fields,
                 std::string_view block) {
  current()->write(
      {wall_now(), l, msg, std::span<const field>(fields.begin(), fields.size()), block});
}

void write(level l, std::string_view msg, std::initializer_list<field> fields) {
  write(l, msg, std::span<const field>(fields.begin(), fields.size()));
}

void flush() noexcept {
  std::shared_ptr<sink> s;
  {
    state& g = global();
    std::lock_guard lock(g.m);
    s = g.current;
  }
  if (s) s->flush();
}

}  // namespace weir::log
