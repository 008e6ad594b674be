// taskd's RocksDB engine (--store rocksdb): Debian's librocksdb, linked static into the module
// taskd-rocksdb.so, which taskd loads only for this store (store.hpp).
#include "store.hpp"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <atomic>
#include <unordered_map>

namespace taskd {

namespace {

using layout::db_key;
using layout::get_u64;
using layout::put_u64;
using layout::revision_key;

rocksdb::Slice slice(std::string_view s) { return {s.data(), s.size()}; }

weir::unexpected io_error(std::string what, const rocksdb::Status& st) {
  return weir::unexpected(std::errc::io_error, what + ": " + st.ToString());
}

class rocksdb_engine final : public local_engine {
 public:
  rocksdb_engine(std::unique_ptr<rocksdb::DB> db, std::string dir, std::uint64_t revision)
      : db_(std::move(db)), dir_(std::move(dir)), revision_(revision) {}
  ~rocksdb_engine() override {
    if (db_) (void)db_->Close();
  }
  weir::result<void> commit(std::span<write_op> ops, bool sync) override;
  weir::result<std::optional<kv_entry>> get(std::string_view key) const override;
  weir::result<kv_page> list(std::string_view prefix, std::size_t limit) const override;
  std::uint64_t revision() const noexcept override {
    return revision_.load(std::memory_order_acquire);
  }
  std::string describe() const override { return "rocksdb " + dir_; }

 private:
  std::unique_ptr<rocksdb::DB> db_;
  std::string dir_;
  std::atomic<std::uint64_t> revision_;
};

weir::result<std::unique_ptr<local_engine>> open_rocksdb(const std::string& dir) {
  rocksdb::Options o;
  o.create_if_missing = true;
  o.max_background_jobs = 2;
  o.write_buffer_size = 16 << 20;  // memtable arena blocks of 2 MiB instead of 8: less idle RSS
  o.keep_log_file_num = 4;
  o.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status st = rocksdb::DB::Open(o, dir, &raw);
  if (!st.ok()) return io_error("cannot open the data directory " + dir, st);
  std::unique_ptr<rocksdb::DB> db(raw);
  std::string rev;
  std::uint64_t revision = 0;
  st = db->Get(rocksdb::ReadOptions(), slice(revision_key), &rev);
  if (st.ok() && rev.size() == 8)
    revision = get_u64(rev);
  else if (st.ok())
    return weir::unexpected(std::errc::io_error,
                            "cannot read the revision in " + dir + ": malformed record");
  else if (!st.IsNotFound())
    return io_error("cannot read the revision in " + dir, st);
  return std::unique_ptr<local_engine>(new rocksdb_engine(std::move(db), dir, revision));
}

weir::result<void> rocksdb_engine::commit(std::span<write_op> ops, bool sync) {
  rocksdb::WriteBatch batch;
  // Existence of keys deleted in this batch, as of the writes before them in it.
  std::unordered_map<std::string_view, bool> seen;
  const std::uint64_t before = revision();
  std::uint64_t rev = before;
  std::string k, v;
  for (write_op& op : ops) {
    k = db_key(op.key);
    if (op.k == write_op::kind::put) {
      op.revision = ++rev;
      op.existed = true;
      v.clear();
      put_u64(v, op.revision);
      v += op.value;
      batch.Put(k, v);
      seen[op.key] = true;
      continue;
    }
    auto it = seen.find(op.key);
    bool exists;
    if (it != seen.end()) {
      exists = it->second;
    } else {
      std::string old;
      rocksdb::Status st = db_->Get(rocksdb::ReadOptions(), k, &old);
      if (!st.ok() && !st.IsNotFound()) return io_error("cannot read " + std::string(op.key), st);
      exists = st.ok();
    }
    op.existed = exists;
    op.revision = exists ? ++rev : rev;
    if (exists) batch.Delete(k);
    seen[op.key] = false;
  }
  if (rev == before) return {};  // only deletes of missing keys: nothing to write
  v.clear();
  put_u64(v, rev);
  batch.Put(slice(revision_key), v);
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  rocksdb::Status st = db_->Write(wo, &batch);
  if (!st.ok()) {
    for (write_op& op : ops) op.revision = 0;
    return io_error("write failed", st);
  }
  revision_.store(rev, std::memory_order_release);
  return {};
}

weir::result<std::optional<kv_entry>> rocksdb_engine::get(std::string_view key) const {
  std::string v;
  rocksdb::Status st = db_->Get(rocksdb::ReadOptions(), db_key(key), &v);
  if (!st.ok() && !st.IsNotFound()) return io_error("read failed", st);
  if (!st.ok() || v.size() < 8) return std::optional<kv_entry>();
  return std::optional<kv_entry>(kv_entry{std::string(key), v.substr(8), get_u64(v)});
}

weir::result<kv_page> rocksdb_engine::list(std::string_view prefix, std::size_t limit) const {
  kv_page page;
  std::vector<kv_entry>& out = page.kvs;
  const std::string start = db_key(prefix);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(start); it->Valid(); it->Next()) {
    const rocksdb::Slice k = it->key();
    if (!k.starts_with(start)) break;
    if (out.size() == limit) {
      page.more = true;
      break;
    }
    const rocksdb::Slice v = it->value();
    if (v.size() < 8) continue;
    out.push_back(kv_entry{std::string(k.data() + 1, k.size() - 1),
                           std::string(v.data() + 8, v.size() - 8),
                           get_u64(std::string_view(v.data(), 8))});
  }
  if (!it->status().ok()) return io_error("read failed", it->status());
  return page;
}

}  // namespace
}  // namespace taskd

// The module's one entry point (store.hpp's open_rocksdb_fn).
extern "C" __attribute__((visibility("default"))) void taskd_open_rocksdb(
    const std::string& dir, weir::result<std::unique_ptr<taskd::local_engine>>& out) {
  out = taskd::open_rocksdb(dir);
}
