// Choosing a shard's reactor backend (docs/architecture.md D3): io_uring when it works, epoll
// otherwise.
#include <weir/core/detail/reactor.hpp>

#include <cstdlib>
#include <stdexcept>
#include <system_error>

namespace weir {

std::function<std::unique_ptr<reactor>()> choose_backend(std::string forced, std::string& why) {
  if (forced.empty()) {
    if (const char* env = std::getenv("WEIR_BACKEND"); env && *env) {
      forced = env;
      why = "WEIR_BACKEND=" + forced;
    }
  } else {
    why = "runtime_options::backend=\"" + forced + "\"";
  }
  if (forced == "epoll") return make_epoll_reactor;
  if (forced == "uring" || forced == "io_uring") {
    make_uring_reactor();  // fails loudly here (std::system_error) rather than in a shard
    return make_uring_reactor;
  }
  if (!forced.empty())
    throw std::invalid_argument("unknown I/O backend \"" + forced +
                                "\" (WEIR_BACKEND / runtime_options::backend): expected "
                                "\"uring\", \"epoll\" or \"sim\"");
  try {
    make_uring_reactor();
    why = "io_uring_setup works";
    return make_uring_reactor;
  } catch (const std::system_error& e) {
    why = std::string("io_uring unavailable (") + e.what() + "), falling back";
    return make_epoll_reactor;
  }
}

}  // namespace weir
