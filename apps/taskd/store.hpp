// taskd::store — the key-value state behind taskd's /kv routes, with etcd-style revisions.
// Three implementations: lmdb_store and rocksdb_store (one machine, in a data directory) and
// etcd_store (a cluster; etcd_store.hpp).
//
//   auto s = taskd::open_local_store("lmdb", "taskd-data", {});  // result<unique_ptr<store>>
//   std::vector<taskd::write_op> batch = {...};
//   weir::result<void> c = co_await s->commit(batch, /*sync=*/true);  // one atomic batch
//   auto e = co_await s->get("a");                    // result<optional<kv_entry>>
//
// The async interface runs on a shard: the local stores hop to weir::blocking's pool for the
// disk (their *_now functions are the blocking calls, for tests and tools); etcd's is HTTP.
// commit() is the applier's alone (one writer); get() and list() may run on any shard at any
// time and see every commit that has returned.
//
// Revisions: local stores keep one global counter, as etcd does: each put, and each delete of
// a key that exists, takes the next revision; a delete of a missing key takes none (reports
// existed=false and the current revision). A batch is applied in order, atomically; with sync
// it is durable (fsynced) before commit() returns, so a crash after it returns loses nothing,
// and a crash before it leaves the batch wholly absent. etcd gives a whole transaction one
// revision (etcd_store.hpp).
//
// Errors: std::errc::io_error (the engine's words, with the directory or key), and for etcd
// taskd::unavailable (no member could serve it in time: the caller answers 503, Retry-After).
#pragma once

#include <weir/core/metrics.hpp>
#include <weir/core/result.hpp>
#include <weir/core/task.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace taskd {

// The store cannot serve now; retrying later may succeed (etcd without quorum).
inline constexpr std::errc unavailable = std::errc::resource_unavailable_try_again;

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
  bool more = false;           // more entries follow the last one
  std::uint64_t revision = 0;  // the store's revision the listing saw (at least)
};

class store {
 public:
  virtual ~store() = default;
  // Applies `ops` in order as one atomic batch (durable before it returns when `sync`),
  // filling their revision and existed fields. On error nothing is applied (local stores) or
  // the outcome is reported as the error says (etcd: see etcd_store.hpp).
  virtual weir::task<weir::result<void>> commit(std::span<write_op> ops, bool sync) = 0;
  // The entry of `key`, or nullopt when absent.
  virtual weir::task<weir::result<std::optional<kv_entry>>> get(std::string key) = 0;
  // Up to `limit` entries whose keys start with `prefix`, in key order.
  virtual weir::task<weir::result<kv_page>> list(std::string prefix, std::size_t limit) = 0;
  // The revision of the last write this process saw committed (any thread).
  std::uint64_t revision() const noexcept { return revision_.load(std::memory_order_acquire); }
  // "lmdb taskd-data", "etcd http://127.0.0.1:2379,...": for logs.
  virtual std::string describe() const = 0;
  // Before the runtime stops (etcd: its connections, on their shards). Idempotent.
  virtual weir::task<> close() { co_return; }
  // The engine's own Prometheus families (etcd: calls, failovers, guard outcomes). Any thread.
  virtual void write_prometheus(weir::metrics::prometheus_writer&) const {}

 protected:
  void set_revision(std::uint64_t r) noexcept { revision_.store(r, std::memory_order_release); }

 private:
  std::atomic<std::uint64_t> revision_{0};
};

// What a local engine implements: blocking calls, free of the runtime (the RocksDB engine is a
// module loaded only when used, store_rocksdb.cpp). commit() is one writer's; get() and list()
// may run on any thread at the same time.
class local_engine {
 public:
  virtual ~local_engine() = default;
  virtual weir::result<void> commit(std::span<write_op> ops, bool sync) = 0;
  virtual weir::result<std::optional<kv_entry>> get(std::string_view key) const = 0;
  virtual weir::result<kv_page> list(std::string_view prefix, std::size_t limit) const = 0;
  virtual std::uint64_t revision() const noexcept = 0;  // the last committed (any thread)
  virtual std::string describe() const = 0;
};

// A store in a directory of this machine: an engine's blocking calls (the *_now functions, for
// tests and tools) and the async interface over them on weir::blocking's pool.
class local_store final : public store {
 public:
  // `module`: the dlopen handle the engine's code lives in (closed after it), or null.
  local_store(std::unique_ptr<local_engine> e, void* module) noexcept;
  ~local_store() override;

  weir::result<void> commit_now(std::span<write_op> ops, bool sync);
  weir::result<std::optional<kv_entry>> get_now(std::string_view key) const {
    return engine_->get(key);
  }
  weir::result<kv_page> list_now(std::string_view prefix, std::size_t limit) const;

  weir::task<weir::result<void>> commit(std::span<write_op> ops, bool sync) override;
  weir::task<weir::result<std::optional<kv_entry>>> get(std::string key) override;
  weir::task<weir::result<kv_page>> list(std::string prefix, std::size_t limit) override;
  std::string describe() const override { return engine_->describe(); }

 private:
  std::unique_ptr<local_engine> engine_;
  void* module_;
};

struct local_store_options {
  std::size_t lmdb_map_size = std::size_t(1) << 30;
};

// Opens (creating if needed) the store `engine` ("lmdb" or "rocksdb") in `dir`. The error names
// the directory; a directory that holds the other engine's files is refused with a sentence
// naming the --store to use. RocksDB's code is the module taskd-rocksdb.so beside the running
// executable, loaded here (its static initializers and pages cost ~4 MB of RSS, which taskd on
// LMDB does not pay).
weir::result<std::unique_ptr<local_store>> open_local_store(std::string_view engine,
                                                            const std::string& dir,
                                                            const local_store_options& o);

// The engines (store_lmdb.cpp; store_rocksdb.cpp, the module, exports the second as
// "taskd_open_rocksdb" with C linkage).
weir::result<std::unique_ptr<local_engine>> open_lmdb_engine(const std::string& dir,
                                                             std::size_t map_size);
using open_rocksdb_fn = void(const std::string& dir,
                             weir::result<std::unique_ptr<local_engine>>& out);

// The layout both local engines share: 'k' + key -> 8-byte big-endian mod revision + value;
// "r" -> the current revision.
namespace layout {
inline constexpr char key_prefix = 'k';
inline constexpr std::string_view revision_key = "r";
inline void put_u64(std::string& out, std::uint64_t v) {
  for (int i = 7; i >= 0; --i) out += static_cast<char>((v >> (8 * i)) & 0xFF);
}
inline std::uint64_t get_u64(std::string_view in) {  // the first 8 bytes
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i)
    v = (v << 8) | static_cast<unsigned char>(in[static_cast<std::size_t>(i)]);
  return v;
}
inline std::string db_key(std::string_view key) {
  std::string k;
  k.reserve(key.size() + 1);
  k += key_prefix;
  k += key;
  return k;
}
}  // namespace layout

}  // namespace taskd
