// weir::io::byte_stream — what a transport, a TLS session or a protocol reads from and
// writes to: TCP and Unix sockets, TLS over either, weir::testing::fake_transport.
//
// An "async interface" in docs/architecture.md D1's sense: a virtual call returning task<T>, one
// indirect call and a pooled frame, no heap allocation once warm.
//
// Contract for implementations: read_some returns at least one byte, or 0 at the end of the
// stream; write_some writes a prefix of the gathered buffers (at least one byte unless all are
// empty) and returns its length; both may be cancelled through the task's token and then
// touch no buffer afterwards. Errors are std::error_code (system errors, weir::errc).
#pragma once

#include <weir/core/result.hpp>
#include <weir/core/task.hpp>

#include <cstddef>
#include <span>
#include <string>

#include <sys/uio.h>

namespace weir::io {

class handle;

class byte_stream {
 public:
  virtual ~byte_stream() = default;
  virtual task<result<std::size_t>> read_some(std::span<std::byte> buf) = 0;
  virtual task<result<std::size_t>> write_some(std::span<const iovec> bufs) = 0;
  // Half-close: no more writes (TCP FIN; TLS close_notify then FIN). Reading goes on.
  virtual task<result<void>> shutdown_write() = 0;
  // Who is at the other end, for logs and the task registry ("127.0.0.1:50412").
  virtual std::string peer_name() const { return {}; }
  // The fd when read_some / write_some are plain reads and writes on it (a TCP or Unix socket,
  // not TLS): lets io::transport await the reactor directly, without the virtual coroutine.
  virtual handle* plain_handle() noexcept { return nullptr; }
};

}  // namespace weir::io
