// weir::read_file — a small file read whole, at startup or on a reload (a config file, a PEM
// certificate): blocking, so from a shard only through weir::blocking().
//
//   auto text = weir::read_file("taskd.toml", 1 << 20);
//   if (!text) log(text.error().message());  // "taskd.toml: no such file: No such file or ..."
//
// Errors carry the system's code (std::errc::no_such_file_or_directory, permission_denied,
// is_a_directory, ...) or errc::limit_exceeded for a file over `max_bytes`, and a context that
// names the file and says what is wrong in words ("<path>: no such file"), ready for a message
// that adds the file's role in front ("server certificate <path>: no such file").
//
// Thread safety: any thread.
#pragma once

#include <weir/core/result.hpp>

#include <cstddef>
#include <string>

namespace weir {

result<std::string> read_file(const std::string& path, std::size_t max_bytes);

}  // namespace weir
