// Text as the bytes a socket writes (tests).
//
//   co_await sock.write_all(weir::testing::bytes("hello"));
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

namespace weir::testing {

inline std::span<const std::byte> bytes(std::string_view s) noexcept {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

}  // namespace weir::testing
