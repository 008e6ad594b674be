// The test certificates of weir::tls's tests (made by the openssl CLI once per test binary, in a
// temporary directory) and the options that use them. Tests only.
#pragma once

#include <weir/tls/tls.hpp>

#include <weir/testing/script_dir.hpp>

#include <gtest/gtest.h>

#include <string>

namespace weir::tls_test {

// --- certificates, made by the openssl CLI once per run -----------------------------------

inline constexpr const char* kMakeCerts = R"(set -e
EC="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
openssl req -x509 $EC -keyout ca.key -out ca.pem -subj "/CN=weir test CA" -days 30 \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
# leaf NAME SUBJECT SAN EKU [ISSUER]: a certificate signed by ca (or ISSUER)
leaf() {
  iss=${5:-ca}
  openssl req -x509 -CA $iss.pem -CAkey $iss.key $EC -keyout $1.key -out $1.pem -subj "$2" \
    -days 30 -addext "subjectAltName=$3" -addext basicConstraints=CA:FALSE \
    -addext "extendedKeyUsage=$4"
}
leaf server "/CN=localhost" "DNS:localhost,IP:127.0.0.1" serverAuth
leaf wronghost "/CN=wrong.example" "DNS:wrong.example,DNS:www.wrong.example" serverAuth
leaf client "/CN=weir test client" "DNS:client.example" clientAuth
openssl req -x509 $EC -keyout selfsigned.key -out selfsigned.pem -subj "/CN=localhost" \
  -days 30 -addext "subjectAltName=DNS:localhost,IP:127.0.0.1"
# an intermediate CA, a server certificate it signs, and the chain file a server presents
openssl req -x509 -CA ca.pem -CAkey ca.key $EC -keyout inter.key -out inter.pem \
  -subj "/CN=weir test intermediate" -days 30 -addext basicConstraints=critical,CA:TRUE \
  -addext keyUsage=critical,keyCertSign,cRLSign
leaf chained "/CN=localhost" "DNS:localhost" serverAuth inter
cat chained.pem inter.pem > chain.pem
# an expired certificate for localhost, signed by ca: only `openssl ca` takes explicit dates
mkdir -p cadb && : > cadb/index.txt && echo 01 > cadb/serial
cat > ca.cnf <<CNF
[ca]
default_ca = test
[test]
dir = cadb
database = cadb/index.txt
serial = cadb/serial
new_certs_dir = cadb
default_md = sha256
policy = anything
copy_extensions = copy
unique_subject = no
[anything]
commonName = supplied
CNF
openssl req -new $EC -keyout expired.key -out expired.csr -subj "/CN=localhost" \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1"
openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -in expired.csr -out expired.pem \
  -startdate 20200101000000Z -enddate 20200201000000Z -notext
# broken files for the loading errors
openssl pkey -in server.key -aes256 -passout pass:secret -out encrypted.key
openssl x509 -in server.pem -outform der -out server.der
echo "hello, I am not a certificate" > notpem.txt
mkdir -p adir
)";

inline std::string file(const std::string& name) { return weir::testing::script_file(name); }

[[maybe_unused]] inline auto* const g_env =
    ::testing::AddGlobalTestEnvironment(new weir::testing::script_dir("weir-tls", kMakeCerts));

inline tls::server_options server_opts(const std::string& cert = "server") {
  return {.cert_file = file(cert + ".pem"), .key_file = file(cert + ".key")};
}

}  // namespace weir::tls_test
