// The parts of taskd::store the engines share: the record layout, the async interface of the
// local stores over weir::blocking, and choosing an engine for a directory.
#include "store.hpp"

#include <weir/core/blocking.hpp>

#include <sys/stat.h>

namespace taskd {

namespace layout {

void put_u64(std::string& out, std::uint64_t v) {
  for (int i = 7; i >= 0; --i) out += static_cast<char>((v >> (8 * i)) & 0xFF);
}

std::uint64_t get_u64(std::string_view in) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i)
    v = (v << 8) | static_cast<unsigned char>(in[static_cast<std::size_t>(i)]);
  return v;
}

std::string db_key(std::string_view key) {
  std::string k;
  k.reserve(key.size() + 1);
  k += key_prefix;
  k += key;
  return k;
}

}  // namespace layout

weir::task<weir::result<void>> local_store::commit(std::span<write_op> ops, bool sync) {
  auto job = weir::blocking(
      [](local_store* s, std::span<write_op> o, bool y) { return s->commit_now(o, y); }, this, ops,
      sync);
  auto done = co_await std::move(job);
  if (!done) co_return weir::unexpected(std::move(done).error());
  co_return std::move(*done);
}

weir::task<weir::result<std::optional<kv_entry>>> local_store::get(std::string key) {
  auto job = weir::blocking([](local_store* s, std::string* k) { return s->get_now(*k); }, this,
                            &key);
  auto done = co_await std::move(job);
  if (!done) co_return weir::unexpected(std::move(done).error());
  co_return std::move(*done);
}

weir::task<weir::result<kv_page>> local_store::list(std::string prefix, std::size_t limit) {
  auto job = weir::blocking(
      [](local_store* s, std::string* p, std::size_t n) -> weir::result<kv_page> {
        const std::uint64_t rev = s->revision();  // before the scan: it sees at least this
        auto page = s->list_now(*p, n);
        if (page) page->revision = rev;
        return page;
      },
      this, &prefix, limit);
  auto done = co_await std::move(job);
  if (!done) co_return weir::unexpected(std::move(done).error());
  co_return std::move(*done);
}

namespace {
bool exists(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0;
}
}  // namespace

weir::result<std::unique_ptr<local_store>> open_local_store(std::string_view engine,
                                                            const std::string& dir,
                                                            const local_store_options& o) {
  // Each engine's own marker file: RocksDB's CURRENT, LMDB's data.mdb.
  const bool has_rocksdb = exists(dir + "/CURRENT"), has_lmdb = exists(dir + "/data.mdb");
  if (engine == "lmdb") {
    if (has_rocksdb && !has_lmdb)
      return weir::unexpected(std::errc::invalid_argument,
                              "the data directory " + dir +
                                  " holds a RocksDB store: run with --store rocksdb");
    return open_lmdb_store(dir, o.lmdb_map_size);
  }
  if (engine == "rocksdb") {
    if (has_lmdb && !has_rocksdb)
      return weir::unexpected(std::errc::invalid_argument,
                              "the data directory " + dir +
                                  " holds an LMDB store: run with --store lmdb");
    return open_rocksdb_store(dir);
  }
  return weir::unexpected(std::errc::invalid_argument,
                          "unknown local store \"" + std::string(engine) + "\"");
}

}  // namespace taskd
