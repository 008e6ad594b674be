// tls::category(): the kinds of TLS failure in words; and the words the specifics are built
// from (which host name, what the peer sent), which travel as a weir::error's context.
#include <weir/tls/tls.hpp>

#include <weir/tls/detail/openssl.hpp>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>

#include <string>

namespace weir::tls {
namespace {

const char* kind_message(errc e) noexcept {
  switch (e) {
    case errc::file_error: return "cannot read a TLS file";
    case errc::bad_pem: return "not a valid PEM certificate or private key";
    case errc::key_mismatch: return "the private key does not match the certificate";
    case errc::invalid_options: return "invalid TLS options";
    case errc::handshake_failed: return "TLS handshake failed";
    case errc::closed_during_handshake:
      return "the peer closed the connection during the TLS handshake";
    case errc::protocol_version: return "no TLS version in common";
    case errc::no_shared_cipher: return "no TLS cipher suite in common";
    case errc::no_application_protocol: return "no application protocol (ALPN) in common";
    case errc::not_tls: return "the peer does not speak TLS";
    case errc::certificate_expired: return "certificate expired";
    case errc::certificate_not_yet_valid: return "certificate not valid yet";
    case errc::untrusted_certificate: return "certificate self-signed or signed by an unknown CA";
    case errc::hostname_mismatch: return "host name mismatch";
    case errc::certificate_invalid: return "certificate failed verification";
    case errc::certificate_required: return "certificate required";
    case errc::certificate_rejected: return "the peer rejected our certificate";
    case errc::truncated: return "closed without a TLS close_notify: data may be truncated";
    case errc::protocol_error: return "TLS protocol error";
    case errc::write_interrupted:
      return "an earlier write was interrupted midway: the TLS stream can no longer be written";
  }
  return "TLS error";
}

class tls_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "weir.tls"; }
  std::string message(int ev) const override { return kind_message(static_cast<errc>(ev)); }
};

}  // namespace

const std::error_category& category() noexcept {
  static const tls_category c;
  return c;
}

namespace detail {

// OpenSSL's reason for the oldest error in this thread's queue ("ee key too small"); clears it.
std::string openssl_reason() {
  const unsigned long e = ERR_peek_error();
  const char* r = e ? ERR_reason_error_string(e) : nullptr;
  ERR_clear_error();
  return r ? r : "unknown reason";
}

// Peer-supplied text (certificate names) inside our messages: printable ASCII, bounded.
std::string sanitized(std::string_view s, std::size_t max) {
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

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

}  // namespace detail
}  // namespace weir::tls
