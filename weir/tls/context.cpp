// tls::context: loading certificates, keys and CAs (with errors naming the file and what is
// wrong with it) and the policy every SSL_CTX gets (tls.hpp lists it).
#include <weir/tls/tls.hpp>

#include <weir/core/file.hpp>
#include <weir/tls/detail/openssl.hpp>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cstring>

namespace weir::tls {

using namespace detail;

namespace {

// Reads a PEM file whole. `what` names its role in the messages: "server certificate".
result<std::string> read_pem_file(const std::string& what, const std::string& path) {
  auto r = weir::read_file(path, 1 << 20);
  if (r) return r;
  if (r.error() == weir::errc::limit_exceeded)
    return unexpected(weir::error(errc::bad_pem,
                                  what + " " + path + ": too large (over 1 MiB) to be a PEM file"));
  return unexpected(weir::error(errc::file_error, what + " " + std::string(r.error().context())));
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
  WEIR_TRY_ASSIGN(auto pem, read_pem_file(cert_what, cert_file));
  WEIR_TRY_ASSIGN(auto chain, parse_certs(cert_what, cert_file, pem));
  const std::string key_what = side + " private key";
  WEIR_TRY_ASSIGN(auto kpem, read_pem_file(key_what, key_file));
  WEIR_TRY_ASSIGN(auto key, parse_key(key_what, key_file, kpem));

  X509* leaf = chain.front().get();
  if (X509_check_private_key(leaf, key.get()) != 1) {
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
  for (std::size_t i = 1; i < chain.size(); ++i)
    if (SSL_CTX_add1_chain_cert(c, chain[i].get()) != 1)
      return unexpected(weir::error(errc::certificate_invalid,
                                    cert_what + " " + cert_file + ": chain certificate #" +
                                        std::to_string(i + 1) + " refused by OpenSSL (" +
                                        openssl_reason() + ")"));
  if (SSL_CTX_use_PrivateKey(c, key.get()) != 1)
    return unexpected(
        weir::error(errc::bad_pem,
                    key_what + " " + key_file + ": refused by OpenSSL (" + openssl_reason() + ")"));
  return {};
}

// Trusts the CAs of a PEM file; returns their names (for a server's certificate request).
result<STACK_OF(X509_NAME) *> use_cas(SSL_CTX* c, const std::string& what,
                                      const std::string& path) {
  WEIR_TRY_ASSIGN(auto pem, read_pem_file(what, path));
  WEIR_TRY_ASSIGN(auto certs, parse_certs(what, path, pem));
  X509_STORE* store = SSL_CTX_get_cert_store(c);
  STACK_OF(X509_NAME)* names = sk_X509_NAME_new_null();
  for (const x509_ptr& x : certs) {
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
  WEIR_TRY_ASSIGN(auto wire, alpn_wire(o.alpn, "server_options.alpn"));
  WEIR_TRY_ASSIGN(auto st, base_context(true, o.min_version));
  detail::context_state& s = *st;
  SSL_CTX* c = s.ctx;
  WEIR_TRY(use_identity(c, "server", o.cert_file, o.key_file));

  int mode = SSL_VERIFY_NONE;
  if (!o.client_ca_file.empty()) {
    WEIR_TRY_ASSIGN(auto names, use_cas(c, "client CA file", o.client_ca_file));
    SSL_CTX_set_client_CA_list(c, names);  // takes ownership
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
  s.alpn_wire = std::move(wire);
  if (!s.alpn.empty()) SSL_CTX_set_alpn_select_cb(c, select_alpn, &s);
  return context(std::move(st));
}

result<context> context::client(const client_options& o) {
  if (o.cert_file.empty() != o.key_file.empty())
    return unexpected(weir::error(
        errc::invalid_options,
        "tls::context::client: client_options.cert_file and key_file go together (the client "
        "certificate and its private key)"));
  WEIR_TRY_ASSIGN(auto wire, alpn_wire(o.alpn, "client_options.alpn"));
  WEIR_TRY_ASSIGN(auto st, base_context(false, o.min_version));
  detail::context_state& s = *st;
  SSL_CTX* c = s.ctx;

  if (o.ca_file.empty()) {
    if (SSL_CTX_set_default_verify_paths(c) != 1)
      return unexpected(weir::error(
          errc::file_error, "tls::context::client: cannot load the system's trust store (" +
                                openssl_reason() + "): name a CA file in client_options.ca_file"));
  } else {
    WEIR_TRY_ASSIGN(auto names, use_cas(c, "CA file", o.ca_file));
    sk_X509_NAME_pop_free(names, X509_NAME_free);
    s.ca_file = o.ca_file;
  }
  if (!o.cert_file.empty()) WEIR_TRY(use_identity(c, "client", o.cert_file, o.key_file));
  s.verify = o.verify;
  SSL_CTX_set_verify(c, o.verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, verify_callback);

  s.alpn = o.alpn;
  s.alpn_wire = std::move(wire);
  if (!s.alpn_wire.empty() &&
      SSL_CTX_set_alpn_protos(c, reinterpret_cast<const unsigned char*>(s.alpn_wire.data()),
                              static_cast<unsigned>(s.alpn_wire.size())) != 0)  // 0: success
    return unexpected(
        weir::error(errc::invalid_options,
                    "client_options.alpn: refused by OpenSSL (" + openssl_reason() + ")"));
  return context(std::move(st));
}

bool context::is_server() const noexcept { return st_ && st_->server; }

}  // namespace weir::tls
