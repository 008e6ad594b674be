// Standard base64 with padding (RFC 4648 §4), as etcd's JSON gateway writes keys and values
// and as taskd lists values. OpenSSL's codec.
#pragma once

#include <string>
#include <string_view>

namespace taskd {

// Appends the encoding of `in` to `out`.
void base64(std::string& out, std::string_view in);
// The bytes `in` encodes; false (and `out` unspecified) when it is not padded base64.
bool unbase64(std::string_view in, std::string& out);

}  // namespace taskd
