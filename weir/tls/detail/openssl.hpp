// weir::tls internals shared by context.cpp, stream.cpp and errors.cpp: OpenSSL handle
// owners, the words errors are built from, and a context's state. Not for users.
#pragma once

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace weir::tls::detail {

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
std::string openssl_reason();
// `s` made safe to quote in a message (it may come from a peer's certificate).
std::string sanitized(std::string_view s, std::size_t max = 120);
std::string name_text(const X509_NAME* n);
std::string time_text(const ASN1_TIME* t);
// The names a certificate is valid for, for messages.
std::string cert_names(X509* x);
std::string joined(const std::vector<std::string>& v);  // "a, b, c"

// Remembers why a stream's handshake failed verification (stream.cpp); contexts install it.
int verify_callback(int ok, X509_STORE_CTX* sc);

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

}  // namespace weir::tls::detail
