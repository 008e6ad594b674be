#include <weir/core/reactor.hpp>

#include <cerrno>
#include <cstdint>
#include <system_error>

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

namespace weir {
namespace {

class epoll_reactor final : public reactor {
 public:
  epoll_reactor() {
    epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epfd_ < 0) throw std::system_error(errno, std::system_category(), "epoll_create1");
    evfd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (evfd_ < 0) {
      int e = errno;
      ::close(epfd_);
      throw std::system_error(e, std::system_category(), "eventfd");
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = nullptr;
    if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, evfd_, &ev) < 0) {
      int e = errno;
      ::close(evfd_);
      ::close(epfd_);
      throw std::system_error(e, std::system_category(), "epoll_ctl(eventfd)");
    }
  }
  ~epoll_reactor() override {
    ::close(evfd_);
    ::close(epfd_);
  }

  void wait(std::chrono::nanoseconds timeout) override {
    epoll_event events[64];
    int n;
    if (timeout.count() < 0) {
      n = ::epoll_pwait2(epfd_, events, 64, nullptr, nullptr);
    } else {
      timespec ts{static_cast<time_t>(timeout.count() / 1'000'000'000),
                  static_cast<long>(timeout.count() % 1'000'000'000)};
      n = ::epoll_pwait2(epfd_, events, 64, &ts, nullptr);
      if (n < 0 && errno == ENOSYS) {  // kernels before 5.11: millisecond resolution, rounded up
        auto ms = (timeout.count() + 999'999) / 1'000'000;
        n = ::epoll_wait(epfd_, events, 64, static_cast<int>(ms > 1'000'000 ? 1'000'000 : ms));
      }
    }
    if (timeout.count() < 0 && n < 0 && errno == ENOSYS) n = ::epoll_wait(epfd_, events, 64, -1);
    for (int i = 0; i < n; ++i) {
      if (events[i].data.ptr == nullptr) {
        std::uint64_t v;
        while (::read(evfd_, &v, sizeof v) > 0) {
        }
      }
    }
  }

  void wake() noexcept override {
    std::uint64_t one = 1;
    ssize_t r = ::write(evfd_, &one, sizeof one);
    (void)r;  // EAGAIN means the counter is already non-zero: a wake is pending anyway
  }

  const char* name() const noexcept override { return "epoll"; }

 private:
  int epfd_ = -1;
  int evfd_ = -1;
};

}  // namespace

std::unique_ptr<reactor> make_epoll_reactor() { return std::make_unique<epoll_reactor>(); }

}  // namespace weir
