// weir::tls contexts: loading certificates, keys and CAs, and the words their errors carry.
#include <weir/tls/tls.hpp>

#include <weir/tls/test_certs.hpp>

#include <gtest/gtest.h>

#include <string>

namespace weir {
namespace {

using tls_test::file;
using tls_test::server_opts;

// --- loading errors (no sockets) ----------------------------------------------------------

std::string server_error(tls::server_options o) {
  auto c = tls::context::server(o);
  EXPECT_FALSE(c);
  return c ? std::string() : std::string(c.error().context());  // the specifics, without the kind
}

TEST(TlsContext, LoadsGoodFiles) {
  EXPECT_TRUE(tls::context::server(server_opts()));
  auto c = tls::context::client({.ca_file = file("ca.pem")});
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_FALSE(c->is_server());
  EXPECT_TRUE(tls::context::client({}));  // the system's trust store
}

TEST(TlsContext, MissingFilesAreNamed) {
  auto o = server_opts();
  o.cert_file = file("nope.pem");
  auto c = tls::context::server(o);
  ASSERT_FALSE(c);
  EXPECT_TRUE(c.error() == tls::errc::file_error);
  EXPECT_EQ(c.error().context(), "server certificate " + file("nope.pem") + ": no such file");

  o = server_opts();
  o.key_file = file("nope.key");
  EXPECT_EQ(server_error(o), "server private key " + file("nope.key") + ": no such file");

  o = server_opts();
  o.cert_file = file("adir");
  EXPECT_EQ(server_error(o), "server certificate " + file("adir") + ": is a directory, not a file");

  auto cc = tls::context::client({.ca_file = file("nope-ca.pem")});
  ASSERT_FALSE(cc);
  EXPECT_EQ(cc.error().context(), "CA file " + file("nope-ca.pem") + ": no such file");

  o = server_opts();
  o.client_ca_file = file("nope-ca.pem");
  EXPECT_EQ(server_error(o), "client CA file " + file("nope-ca.pem") + ": no such file");
}

TEST(TlsContext, KeyNotMatchingCertificate) {
  auto o = server_opts();
  o.key_file = file("wronghost.key");
  auto c = tls::context::server(o);
  ASSERT_FALSE(c);
  EXPECT_TRUE(c.error() == tls::errc::key_mismatch);
  EXPECT_NE(c.error().message().find("private key " + file("wronghost.key") +
                                     " does not match the certificate " + file("server.pem")),
            std::string::npos)
      << c.error().message();
}

TEST(TlsContext, NotPemFiles) {
  auto o = server_opts();
  o.cert_file = file("notpem.txt");
  auto c = tls::context::server(o);
  ASSERT_FALSE(c);
  EXPECT_TRUE(c.error() == tls::errc::bad_pem);
  EXPECT_EQ(c.error().context(), "server certificate " + file("notpem.txt") +
                                     ": not a PEM certificate (no -----BEGIN CERTIFICATE----- "
                                     "block)");

  o = server_opts();
  o.cert_file = file("server.der");
  EXPECT_NE(server_error(o).find("looks like DER"), std::string::npos);

  o = server_opts();  // swapped
  o.cert_file = file("server.key");
  o.key_file = file("server.pem");
  EXPECT_NE(
      server_error(o).find("holds a private key (are the certificate and key files swapped?)"),
      std::string::npos);

  o = server_opts();
  o.key_file = file("server.pem");
  EXPECT_NE(server_error(o).find("server private key " + file("server.pem") +
                                 ": not a PEM private key: it holds a certificate"),
            std::string::npos);

  o = server_opts();
  o.key_file = file("encrypted.key");
  EXPECT_NE(server_error(o).find("encrypted with a passphrase"), std::string::npos);

  auto cc = tls::context::client({.ca_file = file("notpem.txt")});
  ASSERT_FALSE(cc);
  EXPECT_TRUE(cc.error() == tls::errc::bad_pem);
  EXPECT_NE(cc.error().message().find("CA file " + file("notpem.txt") + ": not a PEM certificate"),
            std::string::npos);
}

TEST(TlsContext, InvalidOptions) {
  auto o = server_opts();
  o.require_client_cert = true;
  auto c = tls::context::server(o);
  ASSERT_FALSE(c);
  EXPECT_TRUE(c.error() == tls::errc::invalid_options);
  EXPECT_NE(c.error().message().find("client_ca_file"), std::string::npos);

  o = server_opts();
  o.alpn = {"h2", ""};
  EXPECT_NE(server_error(o).find("server_options.alpn"), std::string::npos);

  EXPECT_NE(server_error({}).find("cert_file and key_file are required"), std::string::npos);

  auto cc = tls::context::client({.cert_file = file("client.pem")});
  ASSERT_FALSE(cc);
  EXPECT_TRUE(cc.error() == tls::errc::invalid_options);
}

TEST(TlsErrors, KindsAndContexts) {
  const weir::error plain = tls::errc::truncated;
  EXPECT_STREQ(plain.category().name(), "weir.tls");
  EXPECT_TRUE(plain == tls::errc::truncated);
  EXPECT_FALSE(plain == tls::errc::protocol_error);
  EXPECT_NE(plain.message().find("close_notify"), std::string::npos);

  const weir::error detailed(tls::errc::hostname_mismatch, "expected x");
  EXPECT_TRUE(detailed == tls::errc::hostname_mismatch);
  EXPECT_EQ(detailed.message(), "expected x: host name mismatch");
  EXPECT_FALSE(detailed == errc::timed_out);
  EXPECT_FALSE(detailed == condition::cancellation);
}

}  // namespace
}  // namespace weir
