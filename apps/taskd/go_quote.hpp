// taskd::go_quote — a string quoted exactly as Go's strconv.Quote (fmt's %q) quotes it.
//
//   std::string out;
//   taskd::go_quote(out, "a\"b\n\xff");     // appends "a\"b\n\xff" as Go prints it: "a\"b\n\xff"
//
// The story's applier answers `fmt.Sprintf("SUCCESS create %q", message)`, and clients of the
// original read that text, so taskd reproduces it byte for byte: `"` and `\` escaped; \a \b \f
// \n \r \t \v; other control characters and DEL as \xXX; bytes that are not valid UTF-8 as
// \xXX (one each, lowercase hex); runes Go does not count as printable (strconv.IsPrint:
// Unicode 13 letters, marks, numbers, punctuation, symbols and the ASCII space) as \uXXXX or
// \UXXXXXXXX; every other rune kept as is. print_ranges.inc is generated from Go's own
// strconv.IsPrint (tools/gen_print_ranges.go).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace taskd {

// Appends the quoted form of `s` (quotes included) to `out`.
void go_quote(std::string& out, std::string_view s);
// Whether Go's strconv.IsPrint(r) holds.
bool go_is_print(char32_t r) noexcept;

// JSON text as Go's encoding/json reads its \u escapes of UTF-16 surrogates: a high surrogate
// followed by a \u low one is a pair; any other surrogate escape decodes to U+FFFD. Returns
// `json` itself when it has none to change, else the text (in `scratch`) with each lone one
// written \ufffd — which a strict parser (simdjson refuses lone surrogates) then reads as Go does.
std::string_view go_json_surrogates(std::string_view json, std::string& scratch);

}  // namespace taskd
