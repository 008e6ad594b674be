// logship's disk spool: where records go when the memory budget is full, kept in order and
// replayed when Kafka takes them again, across restarts.
//
//   auto s = logship::spool::open({.dir = "/var/spool/logship", .max_bytes = 1 << 30});
//   s->append(batch);                      // false: the spool is full (the caller waits/drops)
//   s->sync_if_due();                      // the fsync policy
//   std::vector<record> out; s->read(out, 256);   // the oldest records not yet read
//   s->consumed();                         // what read() gave is delivered: forget it
//
// Layout: segment files DIR/NNNNNNNNNN.spool, appended in order; a new one starts past
// segment_bytes. A record is [magic][body length][CRC-32C of the body][body]; the body holds
// the topic, key, headers, payload and the quarantine flag. A segment is deleted once every
// record read from it is consumed(). At open, every segment is scanned: a record whose CRC
// or length does not check (a write cut by a crash) ends that segment there — the rest of the
// segment is counted as corrupt bytes and cut off — so replay never delivers garbage.
// fsync policy: always (fdatasync after each append), interval (at most once per interval,
// from sync_if_due), never (the page cache decides).
//
// Reads and writes are plain file I/O on the calling thread: appends go to the page cache;
// the fdatasync of `always` is what a caller may want to run off the shard (sync()).
// Thread safety: one thread (the pipeline's shard).
#pragma once

#include "sink.hpp"

#include <weir/core/result.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

namespace logship {

enum class fsync_policy : std::uint8_t { always, interval, never };

struct spool_options {
  std::string dir;
  std::uint64_t max_bytes = 1ull << 30;     // across every segment
  std::uint64_t segment_bytes = 16u << 20;  // a new segment past this
  fsync_policy fsync = fsync_policy::interval;
  std::chrono::milliseconds fsync_interval{1000};
};

class spool {
 public:
  // Creates the directory if needed and scans what an earlier run left.
  static weir::result<std::unique_ptr<spool>> open(spool_options o);
  ~spool();

  // Appends every record of `batch` (all or none); false when they would pass max_bytes.
  // An I/O error is returned (the records are not in the spool).
  weir::result<bool> append(const std::vector<record>& batch);
  // Up to `max` of the oldest records not yet read, appended to `out`; 0 when there are none.
  weir::result<std::size_t> read(std::vector<record>& out, std::size_t max);
  // Everything read() handed out so far is delivered: fully read segments are deleted.
  weir::result<void> consumed();
  // fdatasync of the active segment, as the policy asks after an append (always), or when the
  // interval passed (interval); sync() does it now.
  bool sync_due() const noexcept;
  weir::result<void> sync();
  // For a sync off this thread: a duplicate of the active segment's descriptor (the caller
  // fdatasyncs and closes it), the spool counted clean; -1 when there is nothing to sync.
  int sync_begin() noexcept;

  std::uint64_t records() const noexcept { return records_; }      // not yet read
  std::uint64_t bytes() const noexcept { return bytes_; }          // on disk
  std::uint64_t recovered() const noexcept { return recovered_; }  // found at open
  std::uint64_t corrupt_bytes() const noexcept { return corrupt_bytes_; }
  const spool_options& options() const noexcept { return o_; }

  struct segment;

 private:
  explicit spool(spool_options o);
  weir::result<void> scan();
  weir::result<void> start_segment();

  spool_options o_;
  std::deque<std::unique_ptr<segment>> segments_;  // oldest first; the last one is appended
  std::uint64_t next_id_ = 1;
  std::uint64_t records_ = 0, bytes_ = 0, recovered_ = 0, corrupt_bytes_ = 0;
  bool dirty_ = false;
  std::chrono::steady_clock::time_point last_sync_{};
};

// CRC-32C (Castagnoli), as the spool's records carry it.
std::uint32_t crc32c(std::string_view data, std::uint32_t crc = 0) noexcept;

}  // namespace logship
