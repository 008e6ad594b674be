#include "shm_ring.hpp"

#include <weir/core/error.hpp>

#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <new>
#include <string>

namespace netstack {
namespace {

constexpr std::uint64_t magic = 0x6e657473'7461636bULL;  // "netstack"

struct region_header {
  std::uint64_t magic = 0;
  std::uint32_t slots = 0;
  alignas(64) driver_stats stats;
  alignas(64) ring_control tx;
  alignas(64) ring_control rx;
};

constexpr std::size_t page = 4096;
constexpr std::size_t header_size = (sizeof(region_header) + page - 1) / page * page;

std::size_t region_size(std::uint32_t slots) {
  return header_size + 2 * std::size_t{slots} * slot_stride;
}

weir::error sys_error(const char* what) {
  return weir::error(std::error_code(errno, std::system_category()), what);
}

}  // namespace

void signal_eventfd(int fd) noexcept {
  const std::uint64_t one = 1;
  (void)!::write(fd, &one, sizeof one);  // EAGAIN only at 2^64 - 2 pending: a wake-up anyway
}

weir::result<shm_region> shm_region::create(std::uint32_t slots) {
  if (slots < 2 || (slots & (slots - 1)) != 0 || slots > (1u << 16))
    return weir::unexpected(
        weir::error(weir::errc::invalid_input, "ring slots must be a power of two in 2..65536"));
  shm_region r;
  r.fds_.memfd = ::memfd_create("netstack-rings", MFD_CLOEXEC);
  if (r.fds_.memfd < 0) return weir::unexpected(sys_error("memfd_create"));
  r.size_ = region_size(slots);
  if (::ftruncate(r.fds_.memfd, static_cast<off_t>(r.size_)) != 0)
    return weir::unexpected(sys_error("ftruncate of the ring memory"));
  for (int* fd : {&r.fds_.tx_data, &r.fds_.tx_space, &r.fds_.rx_data, &r.fds_.rx_space}) {
    *fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (*fd < 0) return weir::unexpected(sys_error("eventfd"));
  }
  r.map_ = ::mmap(nullptr, r.size_, PROT_READ | PROT_WRITE, MAP_SHARED, r.fds_.memfd, 0);
  if (r.map_ == MAP_FAILED) {
    r.map_ = nullptr;
    return weir::unexpected(sys_error("mmap of the ring memory"));
  }
  auto* h = new (r.map_) region_header;
  h->slots = slots;
  h->tx.slots = slots;
  h->rx.slots = slots;
  h->magic = magic;
  return r;
}

weir::result<shm_region> shm_region::attach(fds_t fds) {
  shm_region r;
  r.fds_ = fds;
  struct stat st {};
  if (::fstat(fds.memfd, &st) != 0) return weir::unexpected(sys_error("fstat of the ring memory"));
  r.size_ = static_cast<std::size_t>(st.st_size);
  if (r.size_ < header_size)
    return weir::unexpected(weir::error(weir::errc::invalid_input, "ring memory too small"));
  r.map_ = ::mmap(nullptr, r.size_, PROT_READ | PROT_WRITE, MAP_SHARED, fds.memfd, 0);
  if (r.map_ == MAP_FAILED) {
    r.map_ = nullptr;
    return weir::unexpected(sys_error("mmap of the ring memory"));
  }
  const auto* h = static_cast<const region_header*>(r.map_);
  if (h->magic != magic || h->tx.slots != h->slots || h->rx.slots != h->slots ||
      region_size(h->slots) != r.size_)
    return weir::unexpected(
        weir::error(weir::errc::invalid_input, "ring memory: not netstack's layout"));
  return r;
}

shm_region::shm_region(shm_region&& o) noexcept : fds_(o.fds_), map_(o.map_), size_(o.size_) {
  o.map_ = nullptr;
  o.fds_ = {};
}

shm_region::~shm_region() {
  if (map_) ::munmap(map_, size_);
  for (int fd : {fds_.memfd, fds_.tx_data, fds_.tx_space, fds_.rx_data, fds_.rx_space})
    if (fd >= 0) ::close(fd);
}

shm_ring shm_region::tx() const noexcept {
  auto* h = static_cast<region_header*>(map_);
  return {&h->tx, static_cast<std::byte*>(map_) + header_size};
}

shm_ring shm_region::rx() const noexcept {
  auto* h = static_cast<region_header*>(map_);
  return {&h->rx,
          static_cast<std::byte*>(map_) + header_size + std::size_t{h->slots} * slot_stride};
}

driver_stats& shm_region::stats() const noexcept {
  return static_cast<region_header*>(map_)->stats;
}
std::uint32_t shm_region::slots() const noexcept {
  return static_cast<region_header*>(map_)->slots;
}

}  // namespace netstack
