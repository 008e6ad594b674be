// tls::category(): the kinds of TLS failure in words. The specifics (which file, which host
// name, what the peer sent) travel as the weir::error's context, built where they are known.
#include <weir/tls/tls.hpp>

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

}  // namespace weir::tls
