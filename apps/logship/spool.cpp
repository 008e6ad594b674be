#include "spool.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

namespace logship {

namespace {

constexpr std::uint32_t kMagic = 0x5053474cu;  // "LGSP"
constexpr std::size_t kHeader = 12;            // magic, body length, CRC
constexpr std::uint32_t kMaxBody = 64u << 20;

std::array<std::uint32_t, 256> make_crc_table() {
  std::array<std::uint32_t, 256> t{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
    t[i] = c;
  }
  return t;
}

weir::error io_error(const std::string& what) {
  return weir::error(std::error_code(errno, std::system_category()), what);
}

void put32(std::string& out, std::uint32_t v) { out.append(reinterpret_cast<const char*>(&v), 4); }
void put16(std::string& out, std::uint16_t v) { out.append(reinterpret_cast<const char*>(&v), 2); }

// Reads little-endian fields out of a body, failing softly when it is too short.
struct cursor {
  std::string_view s;
  bool ok = true;
  template <class T>
  T get() {
    T v{};
    if (s.size() < sizeof v) {
      ok = false;
      return v;
    }
    std::memcpy(&v, s.data(), sizeof v);
    s.remove_prefix(sizeof v);
    return v;
  }
  std::string bytes(std::size_t n) {
    if (s.size() < n) {
      ok = false;
      return {};
    }
    std::string out(s.substr(0, n));
    s.remove_prefix(n);
    return out;
  }
};

void encode(const record& r, std::string& out) {
  std::string body;
  body += static_cast<char>(r.quarantined ? 1 : 0);
  put16(body, static_cast<std::uint16_t>(r.topic.size()));
  body += r.topic;
  put32(body, static_cast<std::uint32_t>(r.key.size()));
  body += r.key;
  put16(body, static_cast<std::uint16_t>(r.headers.size()));
  for (const auto& [k, v] : r.headers) {
    put16(body, static_cast<std::uint16_t>(k.size()));
    body += k;
    put32(body, static_cast<std::uint32_t>(v.size()));
    body += v;
  }
  put32(body, static_cast<std::uint32_t>(r.payload.size()));
  body += r.payload;
  put32(out, kMagic);
  put32(out, static_cast<std::uint32_t>(body.size()));
  put32(out, crc32c(body));
  out += body;
}

bool decode(std::string_view body, record& r) {
  cursor c{body};
  r.quarantined = c.get<std::uint8_t>() != 0;
  r.topic = c.bytes(c.get<std::uint16_t>());
  r.key = c.bytes(c.get<std::uint32_t>());
  const auto headers = c.get<std::uint16_t>();
  for (std::uint16_t i = 0; c.ok && i < headers; ++i) {
    std::string k = c.bytes(c.get<std::uint16_t>());
    std::string v = c.bytes(c.get<std::uint32_t>());
    r.headers.emplace_back(std::move(k), std::move(v));
  }
  r.payload = c.bytes(c.get<std::uint32_t>());
  return c.ok && c.s.empty();
}

// The record at `off` of `fd`: its body, and the bytes it takes; 0 when it does not check.
std::size_t read_record(int fd, std::uint64_t off, std::uint64_t end, std::string& body) {
  if (end - off < kHeader) return 0;
  std::uint32_t h[3];
  if (::pread(fd, h, kHeader, static_cast<off_t>(off)) != static_cast<ssize_t>(kHeader)) return 0;
  if (h[0] != kMagic || h[1] > kMaxBody || end - off - kHeader < h[1]) return 0;
  body.resize(h[1]);
  if (::pread(fd, body.data(), h[1], static_cast<off_t>(off + kHeader)) !=
      static_cast<ssize_t>(h[1]))
    return 0;
  if (crc32c(body) != h[2]) return 0;
  return kHeader + h[1];
}

}  // namespace

std::uint32_t crc32c(std::string_view data, std::uint32_t crc) noexcept {
  static const std::array<std::uint32_t, 256> table = make_crc_table();
  crc = ~crc;
  for (unsigned char b : data) crc = table[(crc ^ b) & 0xff] ^ (crc >> 8);
  return ~crc;
}

struct spool::segment {
  std::uint64_t id = 0;
  std::string path;
  int fd = -1;
  std::uint64_t size = 0;         // valid bytes
  std::uint64_t read_offset = 0;  // what read() has handed out
  std::uint64_t unread = 0;       // records past read_offset
  ~segment() {
    if (fd >= 0) ::close(fd);
  }
};

spool::spool(spool_options o) : o_(std::move(o)) {}

spool::~spool() {
  if (dirty_) (void)sync();
}

weir::result<std::unique_ptr<spool>> spool::open(spool_options o) {
  if (o.dir.empty()) return weir::unexpected(weir::errc::invalid_input, "spool: no directory");
  if (::mkdir(o.dir.c_str(), 0750) != 0 && errno != EEXIST)
    return weir::unexpected(io_error("spool directory " + o.dir));
  std::unique_ptr<spool> s(new spool(std::move(o)));
  WEIR_TRY(s->scan());
  return s;
}

weir::result<void> spool::scan() {
  DIR* d = ::opendir(o_.dir.c_str());
  if (!d) return weir::unexpected(io_error("spool directory " + o_.dir));
  std::vector<std::uint64_t> ids;
  while (dirent* e = ::readdir(d)) {
    std::string_view n = e->d_name;
    if (n.size() == 16 && n.ends_with(".spool") &&
        std::all_of(n.begin(), n.begin() + 10, [](char c) { return c >= '0' && c <= '9'; }))
      ids.push_back(std::stoull(std::string(n.substr(0, 10))));
  }
  ::closedir(d);
  std::sort(ids.begin(), ids.end());
  std::string body;
  for (std::uint64_t id : ids) {
    auto seg = std::make_unique<segment>();
    seg->id = id;
    char name[32];
    std::snprintf(name, sizeof name, "/%010llu.spool", static_cast<unsigned long long>(id));
    seg->path = o_.dir + name;
    seg->fd = ::open(seg->path.c_str(), O_RDWR | O_CLOEXEC);
    if (seg->fd < 0) return weir::unexpected(io_error("spool segment " + seg->path));
    struct stat st {};
    ::fstat(seg->fd, &st);
    const auto end = static_cast<std::uint64_t>(st.st_size);
    std::uint64_t off = 0;
    while (std::size_t n = read_record(seg->fd, off, end, body)) {
      off += n;
      ++seg->unread;
    }
    if (off < end) {  // a write cut by a crash, or damage: cut it off, counted
      corrupt_bytes_ += end - off;
      if (::ftruncate(seg->fd, static_cast<off_t>(off)) != 0)
        return weir::unexpected(io_error("spool segment " + seg->path));
    }
    seg->size = off;
    next_id_ = std::max(next_id_, id + 1);
    if (seg->unread == 0) {  // nothing left in it
      ::unlink(seg->path.c_str());
      continue;
    }
    records_ += seg->unread;
    recovered_ += seg->unread;
    bytes_ += seg->size;
    segments_.push_back(std::move(seg));
  }
  return {};
}

weir::result<void> spool::start_segment() {
  auto seg = std::make_unique<segment>();
  seg->id = next_id_++;
  char name[32];
  std::snprintf(name, sizeof name, "/%010llu.spool", static_cast<unsigned long long>(seg->id));
  seg->path = o_.dir + name;
  seg->fd = ::open(seg->path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
  if (seg->fd < 0) return weir::unexpected(io_error("spool segment " + seg->path));
  segments_.push_back(std::move(seg));
  return {};
}

weir::result<bool> spool::append(const std::vector<record>& batch) {
  std::string buf;
  for (const record& r : batch) encode(r, buf);
  if (bytes_ + buf.size() > o_.max_bytes) return false;
  if (segments_.empty() || segments_.back()->size >= o_.segment_bytes) WEIR_TRY(start_segment());
  segment& s = *segments_.back();
  std::size_t done = 0;
  while (done < buf.size()) {
    const ssize_t n =
        ::pwrite(s.fd, buf.data() + done, buf.size() - done, static_cast<off_t>(s.size + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const weir::error e = io_error("spool segment " + s.path);
      (void)::ftruncate(s.fd, static_cast<off_t>(s.size));  // all or none
      return weir::unexpected(e);
    }
    done += static_cast<std::size_t>(n);
  }
  s.size += buf.size();
  s.unread += batch.size();
  records_ += batch.size();
  bytes_ += buf.size();
  dirty_ = true;
  return true;
}

weir::result<std::size_t> spool::read(std::vector<record>& out, std::size_t max) {
  std::size_t got = 0;
  std::string body;
  for (auto& seg : segments_) {
    while (got < max && seg->unread > 0) {
      const std::size_t n = read_record(seg->fd, seg->read_offset, seg->size, body);
      if (!n)
        return weir::unexpected(weir::errc::invalid_input,
                                "spool segment " + seg->path + ": a record does not check");
      record& r = out.emplace_back();
      if (!decode(body, r))
        return weir::unexpected(weir::errc::invalid_input,
                                "spool segment " + seg->path + ": a record does not decode");
      seg->read_offset += n;
      --seg->unread;
      --records_;
      ++got;
    }
    if (got == max) break;
  }
  return got;
}

weir::result<void> spool::consumed() {
  while (!segments_.empty() && segments_.front()->unread == 0 &&
         segments_.front()->read_offset == segments_.front()->size) {
    segment& s = *segments_.front();
    bytes_ -= s.size;
    if (::unlink(s.path.c_str()) != 0 && errno != ENOENT)
      return weir::unexpected(io_error("spool segment " + s.path));
    segments_.pop_front();
  }
  return {};
}

bool spool::sync_due() const noexcept {
  if (!dirty_) return false;
  switch (o_.fsync) {
    case fsync_policy::always: return true;
    case fsync_policy::interval:
      return std::chrono::steady_clock::now() - last_sync_ >= o_.fsync_interval;
    case fsync_policy::never: return false;
  }
  return false;
}

int spool::sync_begin() noexcept {
  dirty_ = false;
  last_sync_ = std::chrono::steady_clock::now();
  if (segments_.empty()) return -1;
  return ::fcntl(segments_.back()->fd, F_DUPFD_CLOEXEC, 0);
}

weir::result<void> spool::sync() {
  dirty_ = false;
  last_sync_ = std::chrono::steady_clock::now();
  if (segments_.empty()) return {};
  if (::fdatasync(segments_.back()->fd) != 0)
    return weir::unexpected(io_error("spool segment " + segments_.back()->path));
  return {};
}

}  // namespace logship
