// taskd's LMDB store (--store lmdb, the default): Debian's liblmdb, ~100 KB of code, one
// memory-mapped B+tree file (data.mdb) in the data directory.
//
// A commit is one write transaction; mdb_txn_commit writes the pages and fsyncs before it
// returns (the group commit). Readers take read-only snapshots (MDB_NOTLS: a snapshot is not
// tied to a thread, as weir::blocking's pool needs) and never wait for the writer.
//
// LMDB keys are at most 511 bytes. A key of up to kShortKey bytes is its own record; longer
// keys (max_key_bytes allows up to 64 KiB) share a bucket record per 500-byte head,
// 'k' + head + 0xFF, holding their entries sorted by key. 0xFF never occurs in UTF-8 (the
// service accepts only UTF-8 keys), so a bucket sorts after every shorter key with its head
// and before any key with a greater head: listings stay in key order.
#include "store.hpp"

#include <lmdb.h>

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>

namespace taskd {

namespace {

using layout::db_key;
using layout::get_u64;
using layout::put_u64;
using layout::revision_key;

constexpr std::size_t kShortKey = 500;
constexpr char kBucketMark = '\xff';

weir::unexpected lmdb_error(const std::string& what, int rc) {
  std::string why = mdb_strerror(rc);
  if (rc == MDB_MAP_FULL) why += " (raise --lmdb-map-size)";
  return weir::unexpected(std::errc::io_error, what + ": " + why);
}

MDB_val val(std::string_view s) { return {s.size(), const_cast<char*>(s.data())}; }
std::string_view view(const MDB_val& v) { return {static_cast<const char*>(v.mv_data), v.mv_size}; }

bool long_key(std::string_view key) { return key.size() > kShortKey; }
std::string bucket_key(std::string_view key) {
  std::string k = db_key(key.substr(0, kShortKey));
  k += kBucketMark;
  return k;
}

// A bucket's entries: u32 key length, key, u64 mod revision, u32 value length, value; by key.
void put_u32(std::string& out, std::size_t v) {
  for (int i = 3; i >= 0; --i) out += static_cast<char>((v >> (8 * i)) & 0xFF);
}
std::uint32_t get_u32(std::string_view in) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i)
    v = (v << 8) | static_cast<unsigned char>(in[static_cast<std::size_t>(i)]);
  return v;
}
std::vector<kv_entry> decode_bucket(std::string_view b) {
  std::vector<kv_entry> out;
  while (b.size() >= 16) {
    kv_entry e;
    const std::uint32_t kl = get_u32(b);
    if (b.size() < 4u + kl + 12u) break;
    e.key.assign(b.substr(4, kl));
    e.mod_revision = get_u64(b.substr(4 + kl));
    const std::uint32_t vl = get_u32(b.substr(12 + kl));
    if (b.size() < 16u + kl + vl) break;
    e.value.assign(b.substr(16 + kl, vl));
    b.remove_prefix(16u + kl + vl);
    out.push_back(std::move(e));
  }
  return out;
}
std::string encode_bucket(const std::vector<kv_entry>& es) {
  std::string out;
  for (const kv_entry& e : es) {
    put_u32(out, e.key.size());
    out += e.key;
    put_u64(out, e.mod_revision);
    put_u32(out, e.value.size());
    out += e.value;
  }
  return out;
}

// A transaction that aborts unless committed.
struct txn {
  MDB_txn* t = nullptr;
  ~txn() {
    if (t) mdb_txn_abort(t);
  }
};

class lmdb_engine final : public local_engine {
 public:
  lmdb_engine(MDB_env* env, MDB_dbi dbi, std::string dir, std::uint64_t revision)
      : env_(env), dbi_(dbi), dir_(std::move(dir)), revision_(revision) {}
  ~lmdb_engine() override { mdb_env_close(env_); }

  weir::result<void> commit(std::span<write_op> ops, bool sync) override;
  weir::result<std::optional<kv_entry>> get(std::string_view key) const override;
  weir::result<kv_page> list(std::string_view prefix, std::size_t limit) const override;
  std::uint64_t revision() const noexcept override {
    return revision_.load(std::memory_order_acquire);
  }
  std::string describe() const override { return "lmdb " + dir_; }

 private:
  // The value of `k` in `t`: ENOENT as nullopt.
  weir::result<std::optional<std::string_view>> read(MDB_txn* t, std::string_view k) const {
    MDB_val key = val(k), data{};
    const int rc = mdb_get(t, dbi_, &key, &data);
    if (rc == MDB_NOTFOUND) return std::optional<std::string_view>();
    if (rc != 0) return lmdb_error("cannot read " + dir_, rc);
    return std::optional<std::string_view>(view(data));
  }
  weir::result<void> write(MDB_txn* t, std::string_view k, std::string_view v) {
    MDB_val key = val(k), data = val(v);
    if (const int rc = mdb_put(t, dbi_, &key, &data, 0); rc != 0)
      return lmdb_error("cannot write to " + dir_, rc);
    return {};
  }
  weir::result<void> erase(MDB_txn* t, std::string_view k) {
    MDB_val key = val(k);
    if (const int rc = mdb_del(t, dbi_, &key, nullptr); rc != 0 && rc != MDB_NOTFOUND)
      return lmdb_error("cannot write to " + dir_, rc);
    return {};
  }
  // Applies one op in `t` (which sees the batch's earlier writes).
  weir::result<void> apply(MDB_txn* t, write_op& op, std::uint64_t& rev);

  MDB_env* env_;
  MDB_dbi dbi_;
  std::string dir_;
  std::atomic<std::uint64_t> revision_;
};

weir::result<void> lmdb_engine::apply(MDB_txn* t, write_op& op, std::uint64_t& rev) {
  const bool put = op.k == write_op::kind::put;
  if (!long_key(op.key)) {
    const std::string k = db_key(op.key);
    if (put) {
      op.revision = ++rev;
      op.existed = true;
      std::string v;
      v.reserve(8 + op.value.size());
      put_u64(v, op.revision);
      v += op.value;
      return write(t, k, v);
    }
    WEIR_TRY_ASSIGN(auto old, read(t, k));
    op.existed = old.has_value();
    op.revision = op.existed ? ++rev : rev;
    return op.existed ? erase(t, k) : weir::result<void>{};
  }
  const std::string bk = bucket_key(op.key);
  WEIR_TRY_ASSIGN(auto raw, read(t, bk));
  std::vector<kv_entry> es = raw ? decode_bucket(*raw) : std::vector<kv_entry>();
  auto it = std::lower_bound(es.begin(), es.end(), op.key,
                             [](const kv_entry& e, std::string_view k) { return e.key < k; });
  const bool found = it != es.end() && it->key == op.key;
  if (put) {
    op.revision = ++rev;
    op.existed = true;
    if (!found) it = es.insert(it, kv_entry{std::string(op.key), {}, 0});
    it->value.assign(op.value);
    it->mod_revision = op.revision;
  } else {
    op.existed = found;
    op.revision = found ? ++rev : rev;
    if (!found) return {};
    es.erase(it);
    if (es.empty()) return erase(t, bk);
  }
  return write(t, bk, encode_bucket(es));
}

weir::result<void> lmdb_engine::commit(std::span<write_op> ops, bool sync) {
  const std::uint64_t before = revision();
  std::uint64_t rev = before;
  txn t;
  if (int rc = mdb_txn_begin(env_, nullptr, 0, &t.t); rc != 0)
    return lmdb_error("cannot begin a write in " + dir_, rc);
  for (write_op& op : ops) {
    if (auto r = apply(t.t, op, rev); !r) {
      for (write_op& o : ops) o.revision = 0;
      return r;
    }
  }
  if (rev == before) return {};  // only deletes of missing keys: nothing to write
  std::string v;
  put_u64(v, rev);
  WEIR_TRY(write(t.t, revision_key, v));
  // MDB_NOSYNC for this commit only: the environment's flags apply to the next commit.
  if (!sync) mdb_env_set_flags(env_, MDB_NOSYNC, 1);
  const int rc = mdb_txn_commit(t.t);
  t.t = nullptr;
  if (!sync) mdb_env_set_flags(env_, MDB_NOSYNC, 0);
  if (rc != 0) {
    for (write_op& op : ops) op.revision = 0;
    return lmdb_error("cannot commit to " + dir_, rc);
  }
  revision_.store(rev, std::memory_order_release);
  return {};
}

weir::result<std::optional<kv_entry>> lmdb_engine::get(std::string_view key) const {
  txn t;
  if (int rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &t.t); rc != 0)
    return lmdb_error("cannot read " + dir_, rc);
  if (!long_key(key)) {
    WEIR_TRY_ASSIGN(auto v, read(t.t, db_key(key)));
    if (!v || v->size() < 8) return std::optional<kv_entry>();
    return std::optional<kv_entry>(
        kv_entry{std::string(key), std::string(v->substr(8)), get_u64(*v)});
  }
  WEIR_TRY_ASSIGN(auto raw, read(t.t, bucket_key(key)));
  if (raw)
    for (kv_entry& e : decode_bucket(*raw))
      if (e.key == key) return std::optional<kv_entry>(std::move(e));
  return std::optional<kv_entry>();
}

weir::result<kv_page> lmdb_engine::list(std::string_view prefix, std::size_t limit) const {
  kv_page page;
  txn t;
  if (int rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &t.t); rc != 0)
    return lmdb_error("cannot read " + dir_, rc);
  MDB_cursor* c = nullptr;
  if (int rc = mdb_cursor_open(t.t, dbi_, &c); rc != 0) return lmdb_error("cannot read " + dir_, rc);
  // Records whose LMDB key starts with `start` (a prefix longer than a short key: only its
  // bucket can hold matches).
  const std::string start =
      prefix.size() > kShortKey ? bucket_key(prefix) : db_key(prefix);
  MDB_val k = val(start), v{};
  int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
  const auto add = [&](kv_entry e) {
    if (page.kvs.size() == limit) {
      page.more = true;
      return false;
    }
    page.kvs.push_back(std::move(e));
    return true;
  };
  for (; rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
    const std::string_view key = view(k), value = view(v);
    if (!key.starts_with(start)) break;
    if (key.back() == kBucketMark && key.size() == kShortKey + 2) {
      bool go = true;
      for (kv_entry& e : decode_bucket(value))
        if (e.key.starts_with(prefix) && !(go = add(std::move(e)))) break;
      if (!go) break;
      continue;
    }
    if (value.size() < 8) continue;
    if (!add(kv_entry{std::string(key.substr(1)), std::string(value.substr(8)), get_u64(value)}))
      break;
  }
  mdb_cursor_close(c);
  if (rc != 0 && rc != MDB_NOTFOUND) return lmdb_error("cannot read " + dir_, rc);
  return page;
}

}  // namespace

weir::result<std::unique_ptr<local_engine>> open_lmdb_engine(const std::string& dir,
                                                             std::size_t map_size) {
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
    return weir::unexpected(std::error_code(errno, std::generic_category()),
                            "cannot create the data directory " + dir);
  MDB_env* env = nullptr;
  if (int rc = mdb_env_create(&env); rc != 0) return lmdb_error("cannot open " + dir, rc);
  int rc = mdb_env_set_mapsize(env, map_size);
  if (rc == 0) rc = mdb_env_set_maxreaders(env, 256);
  // MDB_NOTLS: read snapshots move between the blocking pool's threads. MDB_NORDAHEAD: the
  // pages a lookup touches, not their neighbours (random access; keeps RSS to what is used).
  if (rc == 0) rc = mdb_env_open(env, dir.c_str(), MDB_NOTLS | MDB_NORDAHEAD, 0644);
  if (rc != 0) {
    mdb_env_close(env);
    return lmdb_error("cannot open the data directory " + dir, rc);
  }
  // Reader slots a killed process left behind would keep old pages from being reused.
  int stale = 0;
  (void)mdb_reader_check(env, &stale);
  MDB_txn* t = nullptr;
  MDB_dbi dbi = 0;
  rc = mdb_txn_begin(env, nullptr, 0, &t);
  if (rc == 0) rc = mdb_dbi_open(t, nullptr, 0, &dbi);
  std::uint64_t revision = 0;
  if (rc == 0) {
    MDB_val k = val(revision_key), v{};
    const int g = mdb_get(t, dbi, &k, &v);
    if (g == 0 && v.mv_size == 8) {
      revision = get_u64(view(v));
    } else if (g == 0) {
      mdb_txn_abort(t);
      mdb_env_close(env);
      return weir::unexpected(std::errc::io_error,
                              "cannot read the revision in " + dir + ": malformed record");
    } else if (g != MDB_NOTFOUND) {
      rc = g;
    }
  }
  if (rc == 0) rc = mdb_txn_commit(t);
  else if (t)
    mdb_txn_abort(t);
  if (rc != 0) {
    mdb_env_close(env);
    return lmdb_error("cannot open the data directory " + dir, rc);
  }
  return std::unique_ptr<local_engine>(new lmdb_engine(env, dbi, dir, revision));
}

}  // namespace taskd
