#include <weir/io/transport.hpp>

#include <weir/core/error.hpp>
#include <weir/io/handle.hpp>

#include <algorithm>
#include <cstring>
#include <string_view>

namespace weir::io {

namespace {
transport_options normalized(transport_options o) {
  if (o.read_buffer_max < o.read_buffer) o.read_buffer_max = o.read_buffer;
  return o;
}
}  // namespace

transport::transport(byte_stream& s, transport_options o)
    : s_(&s),
      opt_(normalized(o)),
      buf_(std::make_unique_for_overwrite<std::byte[]>(o.read_buffer)),
      cap_(o.read_buffer),
      wbuf_(std::make_unique_for_overwrite<std::byte[]>(o.write_buffer)) {}

void transport::consume(std::size_t n) noexcept {
  begin_ += std::min(n, end_ - begin_);
  if (begin_ == end_) begin_ = end_ = 0;
}

void transport::compact() noexcept {
  std::memmove(buf_.get(), buf_.get() + begin_, end_ - begin_);
  end_ -= begin_;
  begin_ = 0;
}

bool transport::grow(std::size_t need) {
  if (need <= cap_) return true;
  if (need > opt_.read_buffer_max) return false;
  std::size_t cap = cap_;
  while (cap < need) cap = std::min(cap * 2, opt_.read_buffer_max);
  auto nb = std::make_unique_for_overwrite<std::byte[]>(cap);
  std::memcpy(nb.get(), buf_.get() + begin_, end_ - begin_);
  end_ -= begin_;
  begin_ = 0;
  buf_ = std::move(nb);
  cap_ = cap;
  return true;
}

bool transport::make_room() noexcept {
  if (begin_ == end_) {
    begin_ = end_ = 0;
  } else if (end_ == cap_) {
    if (begin_ > 0)
      compact();
    else if (!grow(cap_ + 1))
      return false;
  }
  return true;
}

task<result<void>> transport::read_more() {
  if (!make_room()) co_return unexpected(make_error_code(errc::limit_exceeded));
  WEIR_CO_TRY_ASSIGN(auto n, co_await s_->read_some({buf_.get() + end_, cap_ - end_}));
  if (n == 0) eof_ = true;
  end_ += n;
  co_return result<void>{};
}

task<result<transport::bytes>> transport::read_some() {
  if (begin_ == end_ && !eof_) {
    WEIR_CO_TRY(co_await read_more());
  }
  bytes out = buffered();
  begin_ = end_;  // consumed; the bytes stay in place until the next read
  co_return out;
}

task<result<transport::bytes>> transport::fill(std::size_t n) {
  if (n > opt_.read_buffer_max) co_return unexpected(make_error_code(errc::limit_exceeded));
  while (end_ - begin_ < n && !eof_) {
    if (begin_ + n > cap_) {  // make room for n from here
      if (n > cap_)
        grow(n);
      else
        compact();
    }
    // read_more(), inline, and on a plain socket straight to the reactor: two coroutine
    // frames less per read
    if (!make_room()) co_return unexpected(make_error_code(errc::limit_exceeded));
    result<std::size_t> r;
    if (handle* h = s_->plain_handle()) {
      op_awaiter a(*h, detail::io_op::kind::read);
      a.op().buf = buf_.get() + end_;
      a.op().len = cap_ - end_;
      r = co_await std::move(a);
    } else {
      r = co_await s_->read_some({buf_.get() + end_, cap_ - end_});
    }
    if (!r) co_return unexpected(r.error());
    if (*r == 0) eof_ = true;
    end_ += *r;
  }
  co_return buffered();
}

task<result<transport::bytes>> transport::read_exact(std::size_t n) {
  WEIR_CO_TRY_ASSIGN(auto r, co_await fill(n));
  if (r.size() < n) co_return unexpected(make_error_code(r.empty() ? errc::eof : errc::truncated));
  bytes out = r.first(n);
  begin_ += n;
  co_return out;
}

task<result<transport::bytes>> transport::read_until(std::string_view delim, std::size_t max) {
  if (max > opt_.read_buffer_max || delim.empty() || delim.size() > max)
    co_return unexpected(make_error_code(errc::limit_exceeded));
  std::size_t scanned = 0;  // bytes of buffered() known to hold no delimiter start
  for (;;) {
    const bytes b = buffered();
    const std::string_view sv(reinterpret_cast<const char*>(b.data()), std::min(b.size(), max));
    const auto pos = sv.find(delim, scanned);
    if (pos != std::string_view::npos) {
      bytes out = b.first(pos + delim.size());
      begin_ += out.size();
      co_return out;
    }
    if (sv.size() >= max) co_return unexpected(make_error_code(errc::limit_exceeded));
    scanned = sv.size() >= delim.size() ? sv.size() - delim.size() + 1 : 0;
    if (eof_) co_return unexpected(make_error_code(b.empty() ? errc::eof : errc::truncated));
    WEIR_CO_TRY(co_await read_more());  // may move the bytes to the front; `scanned` is relative
  }
}

task<result<void>> transport::write_iov(iovec* iov, std::size_t n) {
  while (n > 0) {
    WEIR_CO_TRY_ASSIGN(auto w, co_await s_->write_some({iov, n}));
    std::size_t k = w;
    while (n > 0 && k >= iov->iov_len) {
      k -= iov->iov_len;
      ++iov;
      --n;
    }
    if (n > 0) {
      iov->iov_base = static_cast<char*>(iov->iov_base) + k;
      iov->iov_len -= k;
    }
  }
  co_return result<void>{};
}

bool transport::try_write(bytes data) noexcept {
  if (data.empty()) return true;  // memcpy's pointers must not be null, even for 0 bytes
  if (wlen_ + data.size() > opt_.write_buffer) return false;
  std::memcpy(wbuf_.get() + wlen_, data.data(), data.size());
  wlen_ += data.size();
  return true;
}

task<result<void>> transport::write(bytes data) {
  if (wlen_ + data.size() <= opt_.write_buffer) {
    std::memcpy(wbuf_.get() + wlen_, data.data(), data.size());
    wlen_ += data.size();
    co_return result<void>{};
  }
  iovec iov[2] = {{wbuf_.get(), wlen_}, {const_cast<std::byte*>(data.data()), data.size()}};
  const bool has_buffered = wlen_ > 0;
  wlen_ = 0;
  co_return co_await write_iov(has_buffered ? iov : iov + 1, has_buffered ? 2 : 1);
}

task<result<void>> transport::write_gather(std::span<const bytes> parts) {
  std::size_t total = 0;
  for (const bytes& p : parts) total += p.size();
  if (wlen_ + total <= opt_.write_buffer) {
    for (const bytes& p : parts) (void)try_write(p);  // fits: checked above
    co_return result<void>{};
  }
  constexpr std::size_t kChunk = 32;
  iovec iov[kChunk];
  std::size_t n = 0;
  if (wlen_ > 0) iov[n++] = {wbuf_.get(), wlen_};
  wlen_ = 0;
  for (const bytes& p : parts) {
    if (p.empty()) continue;
    iov[n++] = {const_cast<std::byte*>(p.data()), p.size()};
    if (n == kChunk) {
      if (auto r = co_await write_iov(iov, n); !r) co_return r;
      n = 0;
    }
  }
  co_return co_await write_iov(iov, n);
}

task<result<void>> transport::flush() {
  std::size_t off = 0;
  while (off < wlen_) {  // write_iov() for one buffer, inline (and direct on a plain socket)
    result<std::size_t> w;
    if (handle* h = s_->plain_handle()) {
      op_awaiter a(*h, detail::io_op::kind::write);
      a.op().buf = wbuf_.get() + off;
      a.op().len = wlen_ - off;
      w = co_await std::move(a);
    } else {
      iovec iov{wbuf_.get() + off, wlen_ - off};
      w = co_await s_->write_some({&iov, 1});
    }
    if (!w) {
      wlen_ = 0;
      co_return unexpected(w.error());
    }
    off += *w;
  }
  wlen_ = 0;
  co_return result<void>{};
}

task<result<void>> transport::shutdown_write() {
  if (auto r = co_await flush(); !r) co_return r;
  co_return co_await s_->shutdown_write();
}

}  // namespace weir::io
