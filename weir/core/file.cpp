#include <weir/core/file.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace weir {

namespace {

// errno in the words a user needs: what to check, not the libc text alone.
std::string errno_words(int e) {
  switch (e) {
    case ENOENT: return "no such file";
    case EACCES: return "permission denied (not readable by this process)";
    case EISDIR: return "is a directory, not a file";
    case ENOTDIR: return "a component of the path is not a directory";
    default: return std::strerror(e);
  }
}

error file_error(const std::string& path, int e) {
  return error(std::error_code(e, std::generic_category()), path + ": " + errno_words(e));
}

}  // namespace

result<std::string> read_file(const std::string& path, std::size_t max_bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return unexpected(file_error(path, errno));
  struct stat st {};
  std::string data;
  int err = 0;
  bool too_large = false;
  if (::fstat(fd, &st) < 0) {
    err = errno;
  } else if (S_ISDIR(st.st_mode)) {
    err = EISDIR;
  } else {
    char buf[16384];
    for (;;) {
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) err = errno;
      if (n <= 0) break;
      if (data.size() + static_cast<std::size_t>(n) > max_bytes) {  // a pipe can grow too
        too_large = true;
        break;
      }
      data.append(buf, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  if (err) return unexpected(file_error(path, err));
  if (too_large)
    return unexpected(errc::limit_exceeded,
                      path + ": too large (over " + std::to_string(max_bytes) + " bytes)");
  return data;
}

}  // namespace weir
