// taskd::store — the durable key-value state behind taskd's /kv routes: RocksDB (Debian's
// librocksdb) with etcd-style revisions.
//
//   auto s = taskd::store::open("taskd-data");           // weir::result<unique_ptr<store>>
//   std::vector<taskd::write_op> batch = {...};
//   weir::result<void> c = (*s)->commit(batch, /*sync=*/true);  // one WriteBatch, one fsync
//   weir::result<std::optional<taskd::kv_entry>> e = (*s)->get("a");
//
// Errors: std::errc::io_error (RocksDB's status and the directory or key in the context).
//
// Every call blocks (disk I/O): taskd calls them on weir::blocking's pool, never on a shard.
// commit() is the applier's alone (one writer, so revisions need no lock); get() and list()
// may run on any thread at the same time (RocksDB's reads are thread-safe) and see every
// commit that has returned.
//
// Revisions: one global counter, as etcd's. Each put, and each delete of a key that exists,
// takes the next revision; a delete of a missing key takes none (and reports existed=false).
// A batch's writes are applied in order, with the revision counter, in one atomic WriteBatch;
// with sync the write-ahead log is fsynced before commit() returns, so a crash after it
// returns loses nothing, and a crash before it leaves the batch wholly absent. open() recovers
// the log and the counter.
//
// Layout: 'k' + key -> 8-byte big-endian mod revision + value; "r" -> the current revision.
#pragma once

#include <weir/core/result.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace rocksdb {
class DB;
}

namespace taskd {

struct write_op {
  enum class kind : std::uint8_t { put, del } k = kind::put;
  std::string_view key, value;
  // Filled by commit():
  std::uint64_t revision = 0;  // the write's revision (a delete of a missing key: the current)
  bool existed = false;        // del: whether the key was there
};

struct kv_entry {
  std::string key, value;
  std::uint64_t mod_revision = 0;
};

struct kv_page {
  std::vector<kv_entry> kvs;
  bool more = false;  // more entries follow the last one
};

class store {
 public:
  // Opens (creating if needed) the database in `dir`. The error names the directory.
  static weir::result<std::unique_ptr<store>> open(const std::string& dir);
  ~store();
  store(const store&) = delete;
  store& operator=(const store&) = delete;

  // Applies `ops` in order as one atomic batch (fsynced when `sync`), filling their revision
  // and existed fields. On error nothing is applied and the revision counter is unchanged.
  weir::result<void> commit(std::span<write_op> ops, bool sync);
  // The entry of `key`, or nullopt when absent.
  weir::result<std::optional<kv_entry>> get(std::string_view key) const;
  // Up to `limit` entries whose keys start with `prefix`, in key order.
  weir::result<kv_page> list(std::string_view prefix, std::size_t limit) const;

  // The revision of the last committed write (any thread).
  std::uint64_t revision() const noexcept { return revision_.load(std::memory_order_acquire); }
  const std::string& dir() const noexcept { return dir_; }

 private:
  store(std::unique_ptr<rocksdb::DB> db, std::string dir, std::uint64_t revision);
  std::unique_ptr<rocksdb::DB> db_;
  std::string dir_;
  std::atomic<std::uint64_t> revision_;
};

}  // namespace taskd
