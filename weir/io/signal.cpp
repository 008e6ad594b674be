#include <weir/io/signal.hpp>

#include <fcntl.h>
#include <pthread.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cstring>
#include <system_error>

namespace weir::io {

signal_set::signal_set(std::initializer_list<int> signals) {
  sigemptyset(&set_);
  for (int s : signals) sigaddset(&set_, s);
  if (int e = pthread_sigmask(SIG_BLOCK, &set_, &old_); e != 0)
    throw std::system_error(e, std::system_category(), "signal_set: pthread_sigmask");
  int fd = ::signalfd(-1, &set_, SFD_NONBLOCK | SFD_CLOEXEC);
  if (fd < 0) throw std::system_error(last_error(), "signal_set: signalfd");
  fd_ = fd;
}

signal_set::~signal_set() {
  ::close(fd_);
  pthread_sigmask(SIG_SETMASK, &old_, nullptr);
}

task<result<int>> signal_set::wait() {
  signalfd_siginfo info;
  std::memset(&info, 0, sizeof info);
  int dup = ::fcntl(fd_, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) co_return unexpected(last_error());
  handle h(dup, false);  // closed on this shard when the wait ends
  op_awaiter a(h, detail::io_op::kind::read);
  a.op().buf = &info;
  a.op().len = sizeof info;
  WEIR_CO_TRY_ASSIGN(const std::size_t n, co_await std::move(a));
  if (n != sizeof info) co_return unexpected(std::make_error_code(std::errc::io_error));
  co_return static_cast<int>(info.ssi_signo);
}

}  // namespace weir::io
