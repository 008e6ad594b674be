// weir::tls — TLS 1.2 and 1.3 over any io::byte_stream, with OpenSSL 3.
//
//   auto ctx = tls::context::server({.cert_file = "cert.pem", .key_file = "key.pem",
//                                    .alpn = {"h2", "http/1.1"}});            // result<context>
//   auto sock = co_await listener.accept();                                   // a byte_stream
//   auto s = co_await with_timeout(5s, tls::stream::accept(*ctx, *sock));     // result<stream>
//   auto n = co_await s->read_some(buf);                                      // plaintext
//
//   auto cctx = tls::context::client({.ca_file = "ca.pem"});  // empty ca_file: system store
//   auto conn = co_await net::stream_socket::connect(addr);
//   auto c = co_await with_timeout(5s, tls::stream::connect(*cctx, *conn, "example.com"));
//
// context: an SSL_CTX (certificates, trust, policy), built once and shared by every session,
// on every shard (it is immutable once built; copies share it). A stream keeps what it needs
// of its context alive, so a context may be destroyed while its streams live.
//
// stream: one TLS session over a transport, itself an io::byte_stream (so io::transport and
// the protocols run over it unchanged). OpenSSL never touches the transport: it reads and
// writes two memory BIOs, and the stream moves the bytes between them and the transport with
// the transport's own read_some/write_some. So TLS works on every reactor backend, over TCP,
// Unix sockets, and fake transports alike.
//   Ownership: accept/connect with a `byte_stream&` borrow the transport (it must outlive the
//   stream: keep both in the connection's frame); with a `std::unique_ptr<byte_stream>` the
//   stream owns it. Destroying a stream sends nothing: call shutdown_write() for a clean close.
//
// Policy (both roles; context.cpp says why):
//   - versions: TLS 1.2 minimum (options may raise it to 1.3), TLS 1.3 preferred.
//   - TLS 1.3 suites: TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256
//   - TLS 1.2 ciphers, forward secrecy and AEAD only (ECDHE with AES-GCM or ChaCha20-Poly1305):
//       ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:
//       ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:
//       ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305
//     The client's order decides (no server preference: every suite listed is strong, and a
//     client without AES hardware rightly prefers ChaCha20).
//   - key exchange groups: X25519, P-256, P-384. OpenSSL security level 2 (RSA/DH keys of at
//     least 2048 bits, ECC of at least 224, no SHA-1 signatures).
//   - no compression (CRIME), no renegotiation of any kind, no TLS 1.3 0-RTT data.
//   - clients verify the server's certificate and host name by default, and send SNI.
//
// Errors (tls::category()): each failure has a kind, a tls::errc, to compare with:
//   if (r.error() == tls::errc::hostname_mismatch) ...
// and a context a person can act on (weir::error), naming the file, the expected host name,
// the option to change: r.error().message() reads "TLS handshake failed: the server's
// certificate is not valid for the host name \"localhost\" (it is for wrong.example): host
// name mismatch" (the context, then the kind). Transport errors (ECONNRESET) and cancellation
// (weir::condition::cancellation) come back unchanged.
//
// Thread safety: a context may be used from any thread. A stream belongs to the shard that
// made it; one reader task and one writer task may use it concurrently (as any byte_stream).
#pragma once

#include <weir/core/result.hpp>
#include <weir/core/task.hpp>
#include <weir/io/byte_stream.hpp>

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace weir::tls {

// --- errors -------------------------------------------------------------------------------

enum class errc {
  // Loading a context.
  file_error = 1,   // a file could not be read (missing, not readable, a directory)
  bad_pem,          // not a PEM certificate/key, a corrupt one, an encrypted key
  key_mismatch,     // the private key does not belong to the certificate
  invalid_options,  // options that are malformed or contradict each other
  // The handshake.
  handshake_failed,         // any other handshake failure (OpenSSL's reason in the message)
  closed_during_handshake,  // the peer closed the connection before the handshake finished
  protocol_version,         // no TLS version in common (the peer is older than TLS 1.2)
  no_shared_cipher,         // no cipher suite in common
  no_application_protocol,  // ALPN: both sides offer protocols, none in common
  not_tls,                  // the peer does not speak TLS (plain HTTP, say)
  // Verifying the peer's certificate (or the peer refusing ours).
  certificate_expired,
  certificate_not_yet_valid,
  untrusted_certificate,  // self-signed, or signed by a CA not in the trust store
  hostname_mismatch,      // valid, but for another host name (or IP address)
  certificate_invalid,    // any other verification failure
  certificate_required,   // the peer sent no certificate where one is required
  certificate_rejected,   // the peer refused our certificate
  // After the handshake.
  truncated,          // the peer closed the connection without a close_notify
  protocol_error,     // a corrupt or unexpected record, a fatal alert from the peer
  write_interrupted,  // an earlier write was cancelled or failed midway: no more writes
};

const std::error_category& category() noexcept;

// An error of kind `e` (its message: the kind in words); the context goes in weir::error.
inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), category()};
}

// --- context ------------------------------------------------------------------------------

enum class version { tls1_2, tls1_3 };

struct server_options {
  std::string cert_file;  // PEM: the server's certificate, then its intermediates (a chain)
  std::string key_file;   // PEM: its private key, unencrypted
  // Client certificates (mTLS): the CAs that sign them (PEM, one or more). Empty: none asked.
  std::string client_ca_file;
  bool require_client_cert = false;  // refuse clients without one (needs client_ca_file)
  // ALPN protocols accepted, in the server's order of preference ("h2", "http/1.1"). A client
  // offering protocols, none of them here, is refused (no_application_protocol); a client
  // offering none is served without ALPN. Empty: ALPN is ignored.
  std::vector<std::string> alpn;
  version min_version = version::tls1_2;
};

struct client_options {
  std::string ca_file;    // PEM: the CAs trusted to sign servers; empty: the system's store
  bool verify = true;     // verify the server's certificate and host name (tests may turn off)
  std::string cert_file;  // client certificate (mTLS), PEM, with its chain; optional
  std::string key_file;   // its private key, required with cert_file
  std::vector<std::string> alpn;  // protocols offered, in order of preference
  version min_version = version::tls1_2;
};

namespace detail {
struct context_state;
}

class context {
 public:
  context() noexcept = default;  // empty: accept/connect with it fail with invalid_options
  // Errors name the file and what is wrong with it: file_error, bad_pem, key_mismatch,
  // invalid_options. These read files (blocking): call them at start-up, or from a task
  // through weir::blocking.
  static result<context> server(const server_options& o);
  static result<context> client(const client_options& o);

  bool is_server() const noexcept;
  explicit operator bool() const noexcept { return st_ != nullptr; }
  const std::shared_ptr<const detail::context_state>& state() const noexcept { return st_; }

 private:
  explicit context(std::shared_ptr<const detail::context_state> st) noexcept : st_(std::move(st)) {}
  std::shared_ptr<const detail::context_state> st_;
};

// --- stream -------------------------------------------------------------------------------

class stream final : public io::byte_stream {
 public:
  stream() noexcept;  // empty: every operation fails with EBADF
  stream(stream&&) noexcept;
  stream& operator=(stream&&) noexcept;
  ~stream() override;

  // The server's side of a handshake over `transport`; the client's, verifying that the
  // server's certificate is valid for `server_name` (a DNS name, also sent as SNI, or an IP
  // address, then not sent) unless the context says verify = false.
  //
  // Resume on the calling shard. Cancellable (with_timeout: a deadline for the whole
  // handshake): cancellation ends it with the reason (errc::cancelled, errc::timed_out) and
  // leaves the transport in an unspecified state (close it). Destroyed while suspended: the
  // session is freed, nothing is sent. Errors: the handshake kinds of tls::errc, or the
  // transport's. Call from a task on a shard.
  static task<result<stream>> accept(context ctx, io::byte_stream& transport);
  static task<result<stream>> accept(context ctx, std::unique_ptr<io::byte_stream> transport);
  static task<result<stream>> connect(context ctx, io::byte_stream& transport,
                                      std::string server_name);
  static task<result<stream>> connect(context ctx, std::unique_ptr<io::byte_stream> transport,
                                      std::string server_name);

  // io::byte_stream. All resume on the calling shard and are cancellable.
  //
  // read_some: decrypted bytes (at least one), or 0 once the peer sent close_notify. A peer
  //   that closes the connection without close_notify gives errc::truncated (what was read
  //   may be incomplete). Cancel-safe: cancelled, it loses nothing and the next read goes on.
  //   (Reading may have records to send, a TLS 1.3 KeyUpdate answer or an alert; it sends them
  //   when no writer is busy. Cancelled in the middle of that rare write, the stream can no
  //   longer be written, as for write_some.)
  // write_some: encrypts a prefix of `bufs` (up to 64 KiB), writes it to the transport, and
  //   returns its length once all of it went out. Cancelled (or failing) while it waits for
  //   another writer, it did nothing; cancelled while its records were being written, some of
  //   them may have left: the stream can then no longer be written (errc::write_interrupted;
  //   the session's record sequence cannot be resumed from the middle of a write).
  // shutdown_write: sends close_notify and half-closes the transport; reading goes on (the
  //   peer may still answer: TLS 1.3 half-close, and what OpenSSL allows for TLS 1.2).
  task<result<std::size_t>> read_some(std::span<std::byte> buf) override;
  task<result<std::size_t>> write_some(std::span<const iovec> bufs) override;
  task<result<void>> shutdown_write() override;
  std::string peer_name() const override;

  // What the handshake settled. Empty strings when nothing was negotiated.
  std::string_view alpn() const noexcept;         // "h2"
  std::string_view tls_version() const noexcept;  // "TLSv1.3"
  std::string_view cipher() const noexcept;       // "TLS_AES_256_GCM_SHA384"
  std::string peer_subject() const;               // RFC 2253: "CN=localhost,O=Example"
  std::string_view server_name() const noexcept;  // the SNI name the client sent
  bool is_server() const noexcept;

  io::byte_stream* transport() const noexcept;

  struct session;

 private:
  explicit stream(std::unique_ptr<session> s) noexcept;
  static task<result<stream>> start(context ctx, io::byte_stream* borrowed,
                                    std::unique_ptr<io::byte_stream> owned, bool server,
                                    std::string server_name);

  std::unique_ptr<session> s_;
};

}  // namespace weir::tls

template <>
struct std::is_error_code_enum<weir::tls::errc> : std::true_type {};
