#include <weir/tls/tls.hpp>

#include <weir/sync/mutex.hpp>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>

namespace weir::tls {

// --- OpenSSL helpers ----------------------------------------------------------------------

namespace {

struct x509_free {
  void operator()(X509* x) const noexcept { X509_free(x); }
};
struct pkey_free {
  void operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }
};
struct bio_free {
  void operator()(BIO* b) const noexcept { BIO_free(b); }
};
using x509_ptr = std::unique_ptr<X509, x509_free>;
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;
using bio_ptr = std::unique_ptr<BIO, bio_free>;

// OpenSSL's reason for the oldest error in this thread's queue ("ee key too small"); clears it.
std::string openssl_reason() {
  const unsigned long e = ERR_peek_error();
  const char* r = e ? ERR_reason_error_string(e) : nullptr;
  ERR_clear_error();
  return r ? r : "unknown reason";
}

// Peer-supplied text (certificate names) inside our messages: printable ASCII, bounded.
std::string sanitized(std::string_view s, std::size_t max = 120) {
  std::string out;
  for (char c : s.substr(0, max)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (s.size() > max) out += "...";
  return out;
}

std::string bio_text(BIO* b) {
  char* p = nullptr;
  const long n = BIO_get_mem_data(b, &p);
  return n > 0 ? std::string(p, static_cast<std::size_t>(n)) : std::string();
}

std::string name_text(const X509_NAME* n) {
  if (!n) return {};
  bio_ptr b(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(b.get(), n, 0, XN_FLAG_RFC2253);
  return bio_text(b.get());
}

std::string time_text(const ASN1_TIME* t) {
  if (!t) return "an unknown date";
  bio_ptr b(BIO_new(BIO_s_mem()));
  ASN1_TIME_print(b.get(), t);
  return bio_text(b.get());
}

// The names a certificate is valid for: its DNS and IP subjectAltNames, else its subject.
std::string cert_names(X509* x) {
  std::string out;
  int shown = 0, total = 0;
  if (auto* names = static_cast<GENERAL_NAMES*>(
          X509_get_ext_d2i(x, NID_subject_alt_name, nullptr, nullptr))) {
    for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
      const GENERAL_NAME* g = sk_GENERAL_NAME_value(names, i);
      std::string n;
      if (g->type == GEN_DNS) {
        const ASN1_IA5STRING* s = g->d.dNSName;
        n.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                 static_cast<std::size_t>(ASN1_STRING_length(s)));
      } else if (g->type == GEN_IPADD) {
        const ASN1_OCTET_STRING* s = g->d.iPAddress;
        char buf[INET6_ADDRSTRLEN] = {};
        const int len = ASN1_STRING_length(s);
        if (len == 4 || len == 16)
          ::inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(s), buf, sizeof buf);
        n = buf;
      } else {
        continue;
      }
      ++total;
      if (shown < 4) {
        out += (shown++ ? ", " : "") + sanitized(n, 80);
      }
    }
    GENERAL_NAMES_free(names);
  }
  if (total > shown) out += " and " + std::to_string(total - shown) + " more";
  if (out.empty()) out = sanitized(name_text(X509_get_subject_name(x)));
  return out;
}

std::string errno_words(int e) {
  switch (e) {
    case ENOENT: return "no such file";
    case EACCES: return "permission denied (not readable by this process)";
    case EISDIR: return "is a directory, not a file";
    case ENOTDIR: return "a component of the path is not a directory";
    default: return std::strerror(e);
  }
}

// Reads a small file whole. `what` names its role in the messages: "server certificate".
result<std::string> read_file(const std::string& what, const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return unexpected(weir::error(errc::file_error, what + " " + path + ": " + errno_words(errno)));
  struct stat st {};
  std::string data;
  int err = 0;
  if (::fstat(fd, &st) < 0) {
    err = errno;
  } else if (S_ISDIR(st.st_mode)) {
    err = EISDIR;
  } else if (st.st_size > (1 << 20)) {
    ::close(fd);
    return unexpected(weir::error(errc::bad_pem,
                                  what + " " + path + ": too large (over 1 MiB) to be a PEM file"));
  } else {
    char buf[8192];
    for (;;) {
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) err = errno;
      if (n <= 0) break;
      data.append(buf, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  if (err)
    return unexpected(weir::error(errc::file_error, what + " " + path + ": " + errno_words(err)));
  return data;
}

bool contains(std::string_view hay, std::string_view needle) {
  return hay.find(needle) != std::string_view::npos;
}

// Why `pem` is not the certificate (or key) it should be, in words.
weir::error pem_error(const std::string& what, const std::string& path, const std::string& pem,
                      bool want_key) {
  ERR_clear_error();
  const bool has_cert = contains(pem, "-----BEGIN CERTIFICATE-----") ||
                        contains(pem, "-----BEGIN TRUSTED CERTIFICATE-----");
  const bool has_key = contains(pem, "PRIVATE KEY-----");
  const bool der = !pem.empty() && static_cast<unsigned char>(pem[0]) == 0x30;
  std::string why;
  if (pem.empty()) {
    why = "the file is empty";
  } else if (!want_key) {
    if (has_cert)
      why = "its certificate block is corrupt";
    else if (has_key)
      why =
          "not a PEM certificate: it holds a private key (are the certificate and key files "
          "swapped?)";
    else if (der)
      why = "not a PEM certificate: it looks like DER (convert it: openssl x509 -inform der -in " +
            path + " -out cert.pem)";
    else
      why = "not a PEM certificate (no -----BEGIN CERTIFICATE----- block)";
  } else {
    if (contains(pem, "ENCRYPTED"))
      why =
          "the key is encrypted with a passphrase, and weir needs it unencrypted (openssl pkey "
          "-in " +
          path + " -out key.pem)";
    else if (has_key)
      why = "its private key block is corrupt";
    else if (has_cert)
      why =
          "not a PEM private key: it holds a certificate (are the certificate and key files "
          "swapped?)";
    else if (der)
      why = "not a PEM private key: it looks like DER (convert it: openssl pkey -inform der -in " +
            path + " -out key.pem)";
    else
      why = "not a PEM private key (no -----BEGIN PRIVATE KEY----- block)";
  }
  return weir::error(errc::bad_pem, what + " " + path + ": " + why);
}

// Every certificate of a PEM file, in order; at least one.
result<std::vector<x509_ptr>> parse_certs(const std::string& what, const std::string& path,
                                          const std::string& pem) {
  ERR_clear_error();
  bio_ptr b(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  std::vector<x509_ptr> out;
  for (;;) {
    x509_ptr x(out.empty() ? PEM_read_bio_X509_AUX(b.get(), nullptr, nullptr, nullptr)
                           : PEM_read_bio_X509(b.get(), nullptr, nullptr, nullptr));
    if (!x) break;
    out.push_back(std::move(x));
  }
  const unsigned long e = ERR_peek_last_error();
  const bool clean_end =
      e == 0 || (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE);
  ERR_clear_error();
  if (out.empty()) return unexpected(pem_error(what, path, pem, false));
  if (!clean_end)
    return unexpected(weir::error(errc::bad_pem, what + " " + path + ": certificate #" +
                                                     std::to_string(out.size() + 1) +
                                                     " in the file is corrupt"));
  return out;
}

result<pkey_ptr> parse_key(const std::string& what, const std::string& path,
                           const std::string& pem) {
  ERR_clear_error();
  bio_ptr b(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  // A password callback that gives none: never prompt on the terminal for an encrypted key.
  pem_password_cb* no_password = [](char*, int, int, void*) { return -1; };
  pkey_ptr k(PEM_read_bio_PrivateKey(b.get(), nullptr, no_password, nullptr));
  if (!k) return unexpected(pem_error(what, path, pem, true));
  ERR_clear_error();
  return k;
}

// The cipher policy (see tls.hpp). TLS 1.2: only ECDHE (forward secrecy) with AEAD ciphers,
// Mozilla's "intermediate" list without its DHE suites (slow, and often weak parameters).
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
constexpr const char* kTls13Suites =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
constexpr const char* kGroups = "X25519:P-256:P-384";

int verify_callback(int ok, X509_STORE_CTX* sc);

}  // namespace

// --- context ------------------------------------------------------------------------------

namespace detail {

struct context_state {
  SSL_CTX* ctx = nullptr;
  bool server = false;
  bool verify = false;
  std::string ca_file;  // empty: the system's store (client), none (server)
  std::vector<std::string> alpn;
  std::string alpn_wire;  // length-prefixed, as on the wire
  std::string min_version_name;

  context_state() = default;
  context_state(const context_state&) = delete;
  context_state& operator=(const context_state&) = delete;
  ~context_state() { SSL_CTX_free(ctx); }
};

}  // namespace detail

namespace {

result<std::string> alpn_wire(const std::vector<std::string>& protos, const char* option) {
  std::string wire;
  for (const std::string& p : protos) {
    if (p.empty() || p.size() > 255)
      return unexpected(
          weir::error(errc::invalid_options, std::string(option) + ": \"" + sanitized(p) +
                                                 "\" is not a protocol name (1 to 255 bytes)"));
    wire += static_cast<char>(p.size());
    wire += p;
  }
  return wire;
}

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

// Server side of ALPN (RFC 7301 section 3.2): our first preference the client offers too.
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned inlen, void* arg) {
  const auto* st = static_cast<const detail::context_state*>(arg);
  const auto* ours = reinterpret_cast<const unsigned char*>(st->alpn_wire.data());
  for (std::size_t i = 0; i < st->alpn_wire.size(); i += 1 + ours[i]) {
    for (unsigned j = 0; j < inlen && j + 1 + in[j] <= inlen; j += 1 + in[j]) {
      if (in[j] == ours[i] && std::memcmp(in + j + 1, ours + i + 1, ours[i]) == 0) {
        *out = in + j + 1;
        *outlen = in[j];
        return SSL_TLSEXT_ERR_OK;
      }
    }
  }
  return SSL_TLSEXT_ERR_ALERT_FATAL;  // no_application_protocol
}

result<std::shared_ptr<detail::context_state>> base_context(bool server, version min) {
  auto st = std::make_shared<detail::context_state>();
  st->server = server;
  st->min_version_name = min == version::tls1_3 ? "TLS 1.3" : "TLS 1.2";
  ERR_clear_error();
  st->ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
  if (!st->ctx)
    return unexpected(weir::error(errc::invalid_options,
                                  "TLS: cannot create an OpenSSL context: " + openssl_reason()));
  SSL_CTX* c = st->ctx;
  const bool ok =
      SSL_CTX_set_min_proto_version(c, min == version::tls1_3 ? TLS1_3_VERSION : TLS1_2_VERSION) &&
      SSL_CTX_set_max_proto_version(c, 0) &&  // the newest this OpenSSL knows
      SSL_CTX_set_cipher_list(c, kTls12Ciphers) && SSL_CTX_set_ciphersuites(c, kTls13Suites) &&
      SSL_CTX_set1_groups_list(c, kGroups);
  if (!ok)
    return unexpected(weir::error(
        errc::invalid_options, "TLS: OpenSSL refuses weir's cipher policy: " + openssl_reason()));
  SSL_CTX_set_security_level(c, 2);
  // No compression (CRIME); no renegotiation either way (TLS 1.2 and older: it is how a
  // handful of attacks and DoS worked, and nothing we speak needs it).
  SSL_CTX_set_options(c, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_clear_options(c, SSL_OP_ALLOW_CLIENT_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // Idle sessions give their record buffers back (most connections of a server are idle).
  SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
  return st;
}

// The certificate chain and key of this side: "server" or "client" names them in messages.
result<void> use_identity(SSL_CTX* c, const std::string& side, const std::string& cert_file,
                          const std::string& key_file) {
  const std::string cert_what = side + " certificate";
  auto pem = read_file(cert_what, cert_file);
  if (!pem) return unexpected(pem.error());
  auto chain = parse_certs(cert_what, cert_file, *pem);
  if (!chain) return unexpected(chain.error());
  const std::string key_what = side + " private key";
  auto kpem = read_file(key_what, key_file);
  if (!kpem) return unexpected(kpem.error());
  auto key = parse_key(key_what, key_file, *kpem);
  if (!key) return unexpected(key.error());

  X509* leaf = chain->front().get();
  if (X509_check_private_key(leaf, key->get()) != 1) {
    ERR_clear_error();
    return unexpected(weir::error(
        errc::key_mismatch, "private key " + key_file + " does not match the certificate " +
                                cert_file + " (" + side + "_options.key_file must be the key of " +
                                side + "_options.cert_file)"));
  }
  if (SSL_CTX_use_certificate(c, leaf) != 1)
    return unexpected(weir::error(
        errc::certificate_invalid,
        cert_what + " " + cert_file + ": refused by OpenSSL at security level 2 (" +
            openssl_reason() +
            "): RSA keys need 2048 bits or more, EC keys 224, and no SHA-1 signatures"));
  for (std::size_t i = 1; i < chain->size(); ++i)
    if (SSL_CTX_add1_chain_cert(c, (*chain)[i].get()) != 1)
      return unexpected(weir::error(errc::certificate_invalid,
                                    cert_what + " " + cert_file + ": chain certificate #" +
                                        std::to_string(i + 1) + " refused by OpenSSL (" +
                                        openssl_reason() + ")"));
  if (SSL_CTX_use_PrivateKey(c, key->get()) != 1)
    return unexpected(
        weir::error(errc::bad_pem,
                    key_what + " " + key_file + ": refused by OpenSSL (" + openssl_reason() + ")"));
  return {};
}

// Trusts the CAs of a PEM file; returns their names (for a server's certificate request).
result<STACK_OF(X509_NAME) *> use_cas(SSL_CTX* c, const std::string& what,
                                      const std::string& path) {
  auto pem = read_file(what, path);
  if (!pem) return unexpected(pem.error());
  auto certs = parse_certs(what, path, *pem);
  if (!certs) return unexpected(certs.error());
  X509_STORE* store = SSL_CTX_get_cert_store(c);
  STACK_OF(X509_NAME)* names = sk_X509_NAME_new_null();
  for (const x509_ptr& x : *certs) {
    if (X509_STORE_add_cert(store, x.get()) != 1) ERR_clear_error();  // a duplicate: fine
    if (X509_NAME* n = X509_NAME_dup(X509_get_subject_name(x.get()))) sk_X509_NAME_push(names, n);
  }
  return names;
}

}  // namespace

result<context> context::server(const server_options& o) {
  if (o.cert_file.empty() || o.key_file.empty())
    return unexpected(weir::error(
        errc::invalid_options,
        "tls::context::server: server_options.cert_file and key_file are required (the server's "
        "certificate chain and its private key, PEM)"));
  if (o.require_client_cert && o.client_ca_file.empty())
    return unexpected(weir::error(
        errc::invalid_options,
        "tls::context::server: server_options.require_client_cert needs client_ca_file (the CA "
        "that signs the client certificates)"));
  auto wire = alpn_wire(o.alpn, "server_options.alpn");
  if (!wire) return unexpected(wire.error());
  auto st = base_context(true, o.min_version);
  if (!st) return unexpected(st.error());
  detail::context_state& s = **st;
  SSL_CTX* c = s.ctx;
  if (auto r = use_identity(c, "server", o.cert_file, o.key_file); !r) return unexpected(r.error());

  int mode = SSL_VERIFY_NONE;
  if (!o.client_ca_file.empty()) {
    auto names = use_cas(c, "client CA file", o.client_ca_file);
    if (!names) return unexpected(names.error());
    SSL_CTX_set_client_CA_list(c, *names);  // takes ownership
    s.ca_file = o.client_ca_file;
    s.verify = true;
    mode = SSL_VERIFY_PEER | (o.require_client_cert ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0);
  }
  SSL_CTX_set_verify(c, mode, verify_callback);
  // Sessions resumed from the cache keep the client's verified identity; OpenSSL refuses to
  // resume without an id context when it verifies clients.
  static const unsigned char kSessionContext[] = "weir.tls";
  SSL_CTX_set_session_id_context(c, kSessionContext, sizeof kSessionContext - 1);

  s.alpn = o.alpn;
  s.alpn_wire = std::move(*wire);
  if (!s.alpn.empty()) SSL_CTX_set_alpn_select_cb(c, select_alpn, &s);
  return context(std::move(*st));
}

result<context> context::client(const client_options& o) {
  if (o.cert_file.empty() != o.key_file.empty())
    return unexpected(weir::error(
        errc::invalid_options,
        "tls::context::client: client_options.cert_file and key_file go together (the client "
        "certificate and its private key)"));
  auto wire = alpn_wire(o.alpn, "client_options.alpn");
  if (!wire) return unexpected(wire.error());
  auto st = base_context(false, o.min_version);
  if (!st) return unexpected(st.error());
  detail::context_state& s = **st;
  SSL_CTX* c = s.ctx;

  if (o.ca_file.empty()) {
    if (SSL_CTX_set_default_verify_paths(c) != 1)
      return unexpected(weir::error(
          errc::file_error, "tls::context::client: cannot load the system's trust store (" +
                                openssl_reason() + "): name a CA file in client_options.ca_file"));
  } else {
    auto names = use_cas(c, "CA file", o.ca_file);
    if (!names) return unexpected(names.error());
    sk_X509_NAME_pop_free(*names, X509_NAME_free);
    s.ca_file = o.ca_file;
  }
  if (!o.cert_file.empty())
    if (auto r = use_identity(c, "client", o.cert_file, o.key_file); !r)
      return unexpected(r.error());
  s.verify = o.verify;
  SSL_CTX_set_verify(c, o.verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, verify_callback);

  s.alpn = o.alpn;
  s.alpn_wire = std::move(*wire);
  if (!s.alpn_wire.empty() &&
      SSL_CTX_set_alpn_protos(c, reinterpret_cast<const unsigned char*>(s.alpn_wire.data()),
                              static_cast<unsigned>(s.alpn_wire.size())) != 0)  // 0: success
    return unexpected(
        weir::error(errc::invalid_options,
                    "client_options.alpn: refused by OpenSSL (" + openssl_reason() + ")"));
  return context(std::move(*st));
}

bool context::is_server() const noexcept { return st_ && st_->server; }

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

namespace {

int verify_callback(int ok, X509_STORE_CTX* sc) {
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

}  // namespace

task<result<void>> stream::session::flush() {
  for (;;) {
    if (out_begin == out_end) {
      const int n = BIO_read(wbio, out.get(), static_cast<int>(kOutBuf));
      if (n <= 0) co_return result<void>{};
      out_begin = 0;
      out_end = static_cast<std::size_t>(n);
    }
    const iovec iov{out.get() + out_begin, out_end - out_begin};
    auto w = co_await t->write_some({&iov, 1});
    if (!w) co_return unexpected(w.error());
    if (*w == 0) co_return unexpected(std::make_error_code(std::errc::broken_pipe));
    out_begin += *w;
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
    auto n = co_await t->read_some({in.get(), kInBuf});
    if (!n) co_return unexpected(n.error());
    if (*n == 0)
      co_return unexpected(weir::error(
          errc::closed_during_handshake,
          server ? "TLS handshake failed: the client closed the connection before finishing it"
                 : "TLS handshake failed: the server closed the connection before finishing it "
                   "(is it a TLS port?)"));
    BIO_write(rbio, in.get(), static_cast<int>(*n));
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
  if (auto r = co_await s->handshake(); !r) co_return unexpected(r.error());
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
  auto guard = co_await s.write_mu.lock();
  if (!guard) co_return unexpected(guard.error());
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
