// tls::stream: one TLS session over a byte_stream, through two memory BIOs.
#include <weir/tls/tls.hpp>

#include <weir/tls/detail/openssl.hpp>

#include <weir/sync/mutex.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <new>

namespace weir::tls {

using namespace detail;

// --- stream -------------------------------------------------------------------------------
//
// OpenSSL reads ciphertext from `rbio` and writes it to `wbio`, two memory BIOs; the stream
// moves bytes between them and the transport. Reading: SSL_read until it wants more input,
// then one transport read into `in`, fed to rbio whole (a memory BIO takes everything, and
// since we read only when OpenSSL has consumed all it could, rbio holds at most one partial
// record plus one read: bounded). Writing: SSL_write puts records into wbio; a flush copies
// them, a chunk at a time, into `out` and writes `out` to the transport. Only the holder of
// `write_mu` flushes, so records leave in order and at most one transport write is in flight;
// `out` keeps a chunk's unsent rest across a failed or cancelled write.
//
// Reading can produce records too (a TLS 1.3 KeyUpdate answer, alerts). A reader never waits
// for the lock: when a writer holds it, that writer's flush (which drains wbio until it is
// empty, with no suspension between its last check and its unlock) takes them along.

namespace {
constexpr std::size_t kRecord = 16 * 1024;      // the largest TLS plaintext record
constexpr std::size_t kMaxWrite = 4 * kRecord;  // plaintext encrypted by one write_some
constexpr std::size_t kInBuf = 17 * 1024;       // a full record and its overhead
constexpr std::size_t kOutBuf = 17 * 1024;

std::error_code bad_fd() noexcept { return std::make_error_code(std::errc::bad_file_descriptor); }
}  // namespace

struct stream::session {
  std::shared_ptr<const detail::context_state> ctx;
  std::unique_ptr<io::byte_stream> owned;
  io::byte_stream* t = nullptr;
  SSL* ssl = nullptr;
  BIO* rbio = nullptr;  // owned by ssl
  BIO* wbio = nullptr;  // owned by ssl
  bool server = false;
  std::string host;  // the name (or address) the server's certificate must match

  std::unique_ptr<std::byte[]> in = std::make_unique_for_overwrite<std::byte[]>(kInBuf);
  std::unique_ptr<std::byte[]> out = std::make_unique_for_overwrite<std::byte[]>(kOutBuf);
  std::unique_ptr<std::byte[]> stage;  // coalesces small gathered pieces into one record
  std::size_t out_begin = 0, out_end = 0;
  weir::mutex write_mu;

  bool fatal = false;  // OpenSSL reported a fatal error: no SSL_shutdown
  bool write_broken = false;
  bool shutdown_sent = false;
  weir::error read_error;  // sticky: what every later read returns

  // The first certificate verification failure (verify_callback).
  int verify_error = 0;
  int verify_depth = 0;
  x509_ptr verify_cert;

  session() = default;
  session(const session&) = delete;
  session& operator=(const session&) = delete;
  ~session() {
    if (ssl) SSL_free(ssl);
  }

  const char* peer() const noexcept { return server ? "client" : "server"; }

  task<result<void>> handshake();
  task<result<void>> flush();
  task<result<void>> flush_if_idle();
  result<std::size_t> encrypt(std::span<const iovec> bufs);
  weir::error failure(int ssl_error, bool in_handshake);
  weir::error verify_failure();
};

int detail::verify_callback(int ok, X509_STORE_CTX* sc) {
  if (ok) return ok;
  auto* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(sc, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* s = ssl ? static_cast<stream::session*>(SSL_get_app_data(ssl)) : nullptr;
  if (s && s->verify_error == 0) {
    s->verify_error = X509_STORE_CTX_get_error(sc);
    s->verify_depth = X509_STORE_CTX_get_error_depth(sc);
    if (X509* x = X509_STORE_CTX_get_current_cert(sc)) {
      X509_up_ref(x);
      s->verify_cert.reset(x);
    }
  }
  return ok;  // OpenSSL's verdict stands; this only remembers why
}

task<result<void>> stream::session::flush() {
  for (;;) {
    if (out_begin == out_end) {
      const int n = BIO_read(wbio, out.get(), static_cast<int>(kOutBuf));
      if (n <= 0) co_return result<void>{};
      out_begin = 0;
      out_end = static_cast<std::size_t>(n);
    }
    const iovec iov{out.get() + out_begin, out_end - out_begin};
    WEIR_CO_TRY_ASSIGN(auto w, co_await t->write_some({&iov, 1}));
    if (w == 0) co_return unexpected(std::make_error_code(std::errc::broken_pipe));
    out_begin += w;
  }
}

task<result<void>> stream::session::flush_if_idle() {
  if (write_broken || (out_begin == out_end && BIO_ctrl_pending(wbio) == 0))
    co_return result<void>{};
  auto guard = write_mu.try_lock();
  if (!guard) co_return result<void>{};  // the holder's flush sends these records too
  auto r = co_await flush();
  if (!r) write_broken = true;
  co_return r;
}

task<result<void>> stream::session::handshake() {
  for (;;) {
    ERR_clear_error();
    const int r = SSL_do_handshake(ssl);
    if (r == 1) co_return co_await flush();  // our last flight (and a server's tickets)
    const int e = SSL_get_error(ssl, r);
    if (e != SSL_ERROR_WANT_READ) {
      weir::error err = failure(e, true);
      (void)co_await flush();  // the alert, so the peer learns why (best effort)
      co_return unexpected(std::move(err));
    }
    if (auto f = co_await flush(); !f) co_return f;
    WEIR_CO_TRY_ASSIGN(auto n, co_await t->read_some({in.get(), kInBuf}));
    if (n == 0)
      co_return unexpected(weir::error(
          errc::closed_during_handshake,
          server ? "TLS handshake failed: the client closed the connection before finishing it"
                 : "TLS handshake failed: the server closed the connection before finishing it "
                   "(is it a TLS port?)"));
    BIO_write(rbio, in.get(), static_cast<int>(n));
  }
}

weir::error stream::session::failure(int ssl_error, bool in_handshake) {
  fatal = true;
  const unsigned long e = ERR_peek_error();
  const std::string reason = e && ERR_reason_error_string(e) ? ERR_reason_error_string(e) : "";
  const int code = e ? ERR_GET_REASON(e) : 0;
  ERR_clear_error();
  const std::string peer_s = peer();
  if (ssl_error != SSL_ERROR_SSL || e == 0)
    return make_error_code(in_handshake ? errc::handshake_failed : errc::protocol_error);

  switch (code) {
    case SSL_R_CERTIFICATE_VERIFY_FAILED: return verify_failure();
    case SSL_R_UNSUPPORTED_PROTOCOL:
    case SSL_R_VERSION_TOO_LOW:
    case SSL_R_NO_PROTOCOLS_AVAILABLE:
    case SSL_R_WRONG_SSL_VERSION:
      return weir::error(errc::protocol_version,
                         "TLS handshake failed: no TLS version in common with the " + peer_s +
                             ", which offers only versions older than " + ctx->min_version_name +
                             " (the oldest this side allows; " + reason + ")");
    case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
    case SSL_R_TLSV1_ALERT_INAPPROPRIATE_FALLBACK:
      return weir::error(errc::protocol_version, "TLS handshake failed: the " + peer_s +
                                                     " refused our TLS versions (" + reason +
                                                     "): it supports none of " +
                                                     ctx->min_version_name + " and newer");
    case SSL_R_NO_SHARED_CIPHER:
    case SSL_R_NO_CIPHERS_AVAILABLE:
      return weir::error(
          errc::no_shared_cipher,
          "TLS handshake failed: no cipher suite in common with the " + peer_s +
              " (weir allows the TLS 1.3 suites, and for TLS 1.2 only ECDHE with AES-GCM or "
              "ChaCha20-Poly1305)");
    case SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE:
      return weir::error(
          errc::handshake_failed,
          "TLS handshake failed: the " + peer_s +
              " aborted it (alert handshake failure): usually no cipher suite or signature "
              "algorithm in common");
    case SSL_R_NO_APPLICATION_PROTOCOL:
    case SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL:
      return weir::error(
          errc::no_application_protocol,
          server ? "TLS handshake failed: the client offers no application protocol (ALPN) this "
                   "server accepts (" +
                       joined(ctx->alpn) + ")"
                 : "TLS handshake failed: the server accepts none of the application protocols "
                   "(ALPN) we offer (" +
                       joined(ctx->alpn) + ")");
    case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
      return weir::error(errc::certificate_required,
                         "TLS handshake failed: the client sent no certificate, and this "
                         "server requires one (server_options.require_client_cert)");
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
      return weir::error(errc::certificate_required,
                         "the server requires a client certificate, and we sent none: set "
                         "client_options.cert_file and key_file");
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
    case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
    case SSL_R_TLSV1_ALERT_ACCESS_DENIED:
      return weir::error(
          errc::certificate_rejected,
          server
              ? "TLS handshake failed: the client rejected this server's certificate (" + reason +
                    "): check that clients trust its CA, and that it is valid and "
                    "names the host they connect to"
              : "the server rejected our client certificate (" + reason +
                    "): check that the server trusts its CA (server_options.client_ca_file) "
                    "and that it is valid");
    case SSL_R_HTTP_REQUEST:
    case SSL_R_HTTPS_PROXY_REQUEST:
      return weir::error(errc::not_tls,
                         "TLS handshake failed: the client sent a plain HTTP request to this "
                         "TLS port (use https://)");
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_PACKET_LENGTH_TOO_LONG:
    case SSL_R_UNKNOWN_PROTOCOL:
      if (in_handshake)
        return weir::error(errc::not_tls, "TLS handshake failed: the " + peer_s +
                                              " does not speak TLS (what it sent is not a "
                                              "TLS record: " +
                                              reason + ")");
      break;
    default: break;
  }
  if (in_handshake)
    return weir::error(errc::handshake_failed,
                       "TLS handshake with the " + peer_s + " failed: " + reason);
  return weir::error(errc::protocol_error, "TLS protocol error: " + reason);
}

weir::error stream::session::verify_failure() {
  const long v = verify_error ? verify_error : SSL_get_verify_result(ssl);
  X509* cert = verify_cert.get();
  if (!cert)
    if (STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl); chain && sk_X509_num(chain) > 0)
      cert = sk_X509_value(chain, 0);
  const std::string whose = server ? "the client's certificate" : "the server's certificate";
  const std::string subject = cert ? sanitized(name_text(X509_get_subject_name(cert))) : "";
  const std::string issuer = cert ? sanitized(name_text(X509_get_issuer_name(cert))) : "";
  // The certificate that failed: the peer's own, or a CA certificate of its chain.
  const std::string what = verify_depth == 0
                               ? whose + (subject.empty() ? "" : " (" + subject + ")")
                               : "the CA certificate \"" + subject + "\" of " + whose + "'s chain";
  const std::string trust_hint =
      server ? "add the CA that signs client certificates to server_options.client_ca_file"
      : ctx->ca_file.empty()
          ? "add its CA to the system's trust store, or name a CA file in client_options.ca_file"
          : "add its CA to client_options.ca_file (" + ctx->ca_file + ")";
  switch (v) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return weir::error(errc::certificate_expired,
                         "TLS handshake failed: " + what + " expired on " +
                             time_text(cert ? X509_get0_notAfter(cert) : nullptr) +
                             ": renew it (or check this machine's clock)");
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return weir::error(errc::certificate_not_yet_valid,
                         "TLS handshake failed: " + what + " is not valid before " +
                             time_text(cert ? X509_get0_notBefore(cert) : nullptr) +
                             ": check the clocks of both machines");
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
      return weir::error(errc::untrusted_certificate,
                         "TLS handshake failed: " + what +
                             " is self-signed, and not trusted: have it signed by a trusted "
                             "CA, or " +
                             trust_hint);
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
      return weir::error(errc::untrusted_certificate, "TLS handshake failed: " + whose +
                                                          " chains to the root \"" + subject +
                                                          "\", an unknown CA: " + trust_hint);
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_CERT_UNTRUSTED:
      return weir::error(errc::untrusted_certificate, "TLS handshake failed: " + what +
                                                          " is signed by an unknown CA (\"" +
                                                          issuer + "\"): " + trust_hint);
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return weir::error(errc::hostname_mismatch,
                         "TLS handshake failed: " + whose + " is not valid for the " +
                             (v == X509_V_ERR_IP_ADDRESS_MISMATCH ? "address" : "host name") +
                             " \"" + sanitized(host) + "\" (it is for " +
                             (cert ? cert_names(cert) : "other names") +
                             "): connect with a name it holds, or fix the certificate");
    case X509_V_ERR_INVALID_PURPOSE:
      return weir::error(errc::certificate_invalid,
                         "TLS handshake failed: " + what + " is not meant for TLS " +
                             (server ? "client" : "server") +
                             " authentication (see its extended key usage)");
    case X509_V_ERR_CERT_REVOKED:
      return weir::error(errc::certificate_invalid,
                         "TLS handshake failed: " + what + " has been revoked");
    default:
      return weir::error(errc::certificate_invalid,
                         "TLS handshake failed: " + what +
                             " failed verification: " + X509_verify_cert_error_string(v));
  }
}

result<std::size_t> stream::session::encrypt(std::span<const iovec> bufs) {
  std::size_t total = 0, staged = 0;
  auto seal = [this](const void* p, std::size_t n) -> weir::error {
    ERR_clear_error();
    std::size_t written = 0;
    const int r = SSL_write_ex(ssl, p, n, &written);
    if (r == 1) return {};
    return failure(SSL_get_error(ssl, r), false);
  };
  for (const iovec& v : bufs) {
    const auto* p = static_cast<const std::byte*>(v.iov_base);
    std::size_t len = v.iov_len;
    while (len > 0 && total + staged < kMaxWrite) {
      const std::size_t room = kMaxWrite - total - staged;
      if (staged == 0 && len >= kRecord) {  // a big piece: straight from the caller's buffer
        const std::size_t n = std::min(len, room);
        if (auto ec = seal(p, n)) return unexpected(ec);
        total += n;
        p += n;
        len -= n;
        continue;
      }
      if (!stage) stage = std::make_unique_for_overwrite<std::byte[]>(kRecord);
      const std::size_t n = std::min({len, kRecord - staged, room});
      std::memcpy(stage.get() + staged, p, n);
      staged += n;
      p += n;
      len -= n;
      if (staged == kRecord) {
        if (auto ec = seal(stage.get(), staged)) return unexpected(ec);
        total += staged;
        staged = 0;
      }
    }
  }
  if (staged > 0) {
    if (auto ec = seal(stage.get(), staged)) return unexpected(ec);
    total += staged;
  }
  return total;
}

stream::stream() noexcept = default;
stream::stream(std::unique_ptr<session> s) noexcept : s_(std::move(s)) {}
stream::stream(stream&&) noexcept = default;
stream& stream::operator=(stream&&) noexcept = default;
stream::~stream() = default;

task<result<stream>> stream::accept(context ctx, io::byte_stream& transport) {
  return start(std::move(ctx), &transport, nullptr, true, {});
}
task<result<stream>> stream::accept(context ctx, std::unique_ptr<io::byte_stream> transport) {
  return start(std::move(ctx), nullptr, std::move(transport), true, {});
}
task<result<stream>> stream::connect(context ctx, io::byte_stream& transport,
                                     std::string server_name) {
  return start(std::move(ctx), &transport, nullptr, false, std::move(server_name));
}
task<result<stream>> stream::connect(context ctx, std::unique_ptr<io::byte_stream> transport,
                                     std::string server_name) {
  return start(std::move(ctx), nullptr, std::move(transport), false, std::move(server_name));
}

task<result<stream>> stream::start(context ctx, io::byte_stream* borrowed,
                                   std::unique_ptr<io::byte_stream> owned, bool server,
                                   std::string server_name) {
  const char* fn = server ? "tls::stream::accept" : "tls::stream::connect";
  if (!ctx || ctx.is_server() != server)
    co_return unexpected(weir::error(
        errc::invalid_options, std::string(fn) + " needs a " + (server ? "server" : "client") +
                                   " context (tls::context::" + (server ? "server" : "client") +
                                   ")"));
  if (!borrowed && !owned)
    co_return unexpected(weir::error(errc::invalid_options, std::string(fn) + ": no transport"));
  auto s = std::make_unique<session>();
  s->ctx = ctx.state();
  s->owned = std::move(owned);
  s->t = borrowed ? borrowed : s->owned.get();
  s->server = server;
  ERR_clear_error();
  s->ssl = SSL_new(s->ctx->ctx);
  s->rbio = BIO_new(BIO_s_mem());
  s->wbio = BIO_new(BIO_s_mem());
  if (!s->ssl || !s->rbio || !s->wbio) {
    BIO_free(s->rbio);
    BIO_free(s->wbio);
    throw std::bad_alloc();
  }
  BIO_set_mem_eof_return(s->rbio, -1);  // empty: "retry" (wait for the transport), not EOF
  SSL_set_bio(s->ssl, s->rbio, s->wbio);
  SSL_set_app_data(s->ssl, s.get());
  if (server) {
    SSL_set_accept_state(s->ssl);
  } else {
    SSL_set_connect_state(s->ssl);
    s->host = server_name;
    unsigned char ip[16];
    const bool is_ip = ::inet_pton(AF_INET, server_name.c_str(), ip) == 1 ||
                       ::inet_pton(AF_INET6, server_name.c_str(), ip) == 1;
    if (server_name.empty()) {
      if (s->ctx->verify)
        co_return unexpected(weir::error(
            errc::invalid_options,
            "tls::stream::connect: no server name to check the certificate against: pass the "
            "host name (or set client_options.verify = false)"));
    } else if (is_ip) {  // no SNI for addresses (RFC 6066 section 3); match an IP SAN
      if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s->ssl), server_name.c_str()) != 1)
        co_return unexpected(weir::error(
            errc::invalid_options, "tls::stream::connect: bad address \"" + sanitized(server_name) +
                                       "\": " + openssl_reason()));
    } else {
      SSL_set_hostflags(s->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      if (SSL_set_tlsext_host_name(s->ssl, server_name.c_str()) != 1 ||
          SSL_set1_host(s->ssl, server_name.c_str()) != 1)
        co_return unexpected(weir::error(errc::invalid_options,
                                         "tls::stream::connect: \"" + sanitized(server_name) +
                                             "\" is not a usable host name: " + openssl_reason()));
    }
  }
  WEIR_CO_TRY(co_await s->handshake());
  co_return stream(std::move(s));
}

task<result<std::size_t>> stream::read_some(std::span<std::byte> buf) {
  if (!s_) co_return unexpected(bad_fd());
  session& s = *s_;
  if (buf.empty()) co_return std::size_t{0};
  if (s.read_error) co_return unexpected(s.read_error);
  for (;;) {
    ERR_clear_error();
    std::size_t n = 0;
    const int r = SSL_read_ex(s.ssl, buf.data(), buf.size(), &n);
    if (r == 1) co_return n;
    const int e = SSL_get_error(s.ssl, r);
    if (e == SSL_ERROR_ZERO_RETURN) co_return std::size_t{0};  // close_notify
    if (e != SSL_ERROR_WANT_READ) {
      s.read_error = s.failure(e, false);
      (void)co_await s.flush_if_idle();  // the alert
      co_return unexpected(s.read_error);
    }
    // Records the read produced go out before we wait for the peer (it may wait for them).
    if (auto f = co_await s.flush_if_idle(); !f && f.error() == condition::cancellation)
      co_return unexpected(f.error());
    auto m = co_await s.t->read_some({s.in.get(), kInBuf});
    if (!m) co_return unexpected(m.error());  // nothing consumed: the next read goes on
    if (*m == 0) {
      s.read_error = weir::error(errc::truncated,
                                 std::string("the ") + s.peer() +
                                     " closed the connection without a TLS close_notify: what was "
                                     "read may be truncated");
      co_return unexpected(s.read_error);
    }
    BIO_write(s.rbio, s.in.get(), static_cast<int>(*m));
  }
}

task<result<std::size_t>> stream::write_some(std::span<const iovec> bufs) {
  if (!s_) co_return unexpected(bad_fd());
  session& s = *s_;
  std::size_t want = 0;
  for (const iovec& v : bufs) want += v.iov_len;
  if (want == 0) co_return std::size_t{0};
  auto guard = co_await s.write_mu.lock();
  if (!guard) co_return unexpected(guard.error());  // nothing done
  if (s.write_broken) co_return unexpected(make_error_code(errc::write_interrupted));
  if (s.shutdown_sent) co_return unexpected(std::make_error_code(std::errc::broken_pipe));
  auto n = s.encrypt(bufs);
  if (!n) {
    s.write_broken = true;
    co_return unexpected(n.error());
  }
  if (auto f = co_await s.flush(); !f) {
    s.write_broken = true;
    co_return unexpected(f.error());
  }
  co_return *n;
}

task<result<void>> stream::shutdown_write() {
  if (!s_) co_return unexpected(bad_fd());
  session& s = *s_;
  WEIR_CO_TRY_ASSIGN(auto guard, co_await s.write_mu.lock());
  if (s.shutdown_sent) co_return result<void>{};
  s.shutdown_sent = true;
  weir::error err;
  if (s.write_broken) {
    err = make_error_code(errc::write_interrupted);
  } else if (!s.fatal) {
    ERR_clear_error();
    if (SSL_shutdown(s.ssl) < 0) {
      err = s.failure(SSL_get_error(s.ssl, -1), false);
    } else if (auto f = co_await s.flush(); !f) {
      s.write_broken = true;
      err = f.error();
    }
  }
  auto r = co_await s.t->shutdown_write();
  if (err) co_return unexpected(err);
  co_return r;
}

std::string stream::peer_name() const { return s_ && s_->t ? s_->t->peer_name() : std::string(); }

std::string_view stream::alpn() const noexcept {
  if (!s_) return {};
  const unsigned char* p = nullptr;
  unsigned len = 0;
  SSL_get0_alpn_selected(s_->ssl, &p, &len);
  return p ? std::string_view(reinterpret_cast<const char*>(p), len) : std::string_view();
}

std::string_view stream::tls_version() const noexcept {
  return s_ ? std::string_view(SSL_get_version(s_->ssl)) : std::string_view();
}

std::string_view stream::cipher() const noexcept {
  if (!s_) return {};
  const SSL_CIPHER* c = SSL_get_current_cipher(s_->ssl);
  return c ? std::string_view(SSL_CIPHER_get_name(c)) : std::string_view();
}

std::string stream::peer_subject() const {
  if (!s_) return {};
  const X509* x = SSL_get0_peer_certificate(s_->ssl);
  return x ? name_text(X509_get_subject_name(x)) : std::string();
}

std::string_view stream::server_name() const noexcept {
  if (!s_) return {};
  const char* n = SSL_get_servername(s_->ssl, TLSEXT_NAMETYPE_host_name);
  return n ? std::string_view(n) : std::string_view();
}

bool stream::is_server() const noexcept { return s_ && s_->server; }

io::byte_stream* stream::transport() const noexcept { return s_ ? s_->t : nullptr; }

}  // namespace weir::tls
