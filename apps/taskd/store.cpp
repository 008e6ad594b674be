// The parts of taskd::store the engines share: the record layout, the async interface of the
// local stores over weir::blocking, and choosing an engine for a directory.
#include "store.hpp"

#include <weir/core/blocking.hpp>

#include <dlfcn.h>
#include <sys/stat.h>

#include <filesystem>

namespace taskd {

local_store::local_store(std::unique_ptr<local_engine> e, void* module) noexcept
    : engine_(std::move(e)), module_(module) {
  set_revision(engine_->revision());
}

local_store::~local_store() {
  engine_.reset();  // its code may live in the module
  if (module_) dlclose(module_);
}

weir::result<void> local_store::commit_now(std::span<write_op> ops, bool sync) {
  auto r = engine_->commit(ops, sync);
  set_revision(engine_->revision());
  return r;
}

weir::result<kv_page> local_store::list_now(std::string_view prefix, std::size_t limit) const {
  const std::uint64_t rev = revision();  // before the scan: it sees at least this
  auto page = engine_->list(prefix, limit);
  if (page) page->revision = rev;
  return page;
}

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
      [](local_store* s, std::string* p, std::size_t n) { return s->list_now(*p, n); },
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
    WEIR_TRY_ASSIGN(auto e, open_lmdb_engine(dir, o.lmdb_map_size));
    return std::make_unique<local_store>(std::move(e), nullptr);
  }
  if (engine == "rocksdb") {
    if (has_lmdb && !has_rocksdb)
      return weir::unexpected(std::errc::invalid_argument,
                              "the data directory " + dir +
                                  " holds an LMDB store: run with --store lmdb");
    std::error_code ec;
    const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    const std::string path = (exe.parent_path() / "taskd-rocksdb.so").string();
    void* module = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!module)
      return weir::unexpected(std::errc::invalid_argument,
                              std::string("--store rocksdb: cannot load the RocksDB module (") +
                                  dlerror() + ")");
    auto* open = reinterpret_cast<open_rocksdb_fn*>(dlsym(module, "taskd_open_rocksdb"));
    if (!open) {
      dlclose(module);
      return weir::unexpected(std::errc::invalid_argument,
                              path + " is not taskd's RocksDB module (no taskd_open_rocksdb)");
    }
    weir::result<std::unique_ptr<local_engine>> e = weir::unexpected(std::errc::io_error);
    open(dir, e);
    if (!e) {
      dlclose(module);
      return weir::unexpected(std::move(e).error());
    }
    return std::make_unique<local_store>(std::move(*e), module);
  }
  return weir::unexpected(std::errc::invalid_argument,
                          "unknown local store \"" + std::string(engine) + "\"");
}

}  // namespace taskd
