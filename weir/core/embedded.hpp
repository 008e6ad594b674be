// weir::embedded_file — files compiled into a binary at build time (cmake/weir.cmake's
// weir_embed), such as the admin endpoint's browser view: nothing to install, works offline.
//
//   namespace weir::debug::ui { extern const weir::embedded_file embedded_files[];
//                               extern const std::size_t embedded_file_count; }
//   const weir::embedded_file* f = weir::find_embedded(ui::embedded_files,
//                                                      ui::embedded_file_count, "app.js");
#pragma once

#include <cstddef>
#include <string_view>

namespace weir {

struct embedded_file {
  std::string_view name;   // the path given to weir_embed, relative to its DIR
  std::string_view bytes;  // static storage
};

inline const embedded_file* find_embedded(const embedded_file* files, std::size_t n,
                                          std::string_view name) noexcept {
  for (std::size_t i = 0; i < n; ++i)
    if (files[i].name == name) return &files[i];
  return nullptr;
}

}  // namespace weir
