// Image file reading (image_file.h).
#include "runtime/loaders/image_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace bt86 {
namespace {}  // namespace

Status ReadImageFile(const std::string& what, const std::string& path, uint64_t max_bytes,
                     std::vector<uint8_t>* out) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return UsageError("cannot open {} '{}': {}", what, path, std::strerror(errno));
  struct stat st;
  Status status;
  if (fstat(fd, &st) != 0) {
    status = UsageError("cannot stat {} '{}': {}", what, path, std::strerror(errno));
  } else if (!S_ISREG(st.st_mode)) {
    status = UsageError("{} '{}' is not a regular file", what, path);
  } else if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    status = UsageError("{} '{}' ({} bytes) is larger than guest RAM ({} bytes)", what, path,
                        st.st_size, max_bytes);
  } else {
    out->resize(st.st_size);
    size_t done = 0;
    while (done < out->size()) {
      const ssize_t n = read(fd, out->data() + done, out->size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        status = UsageError("cannot read {} '{}': {}", what, path,
                            n < 0 ? std::strerror(errno) : "file shrank while reading");
        break;
      }
      done += n;
    }
  }
  close(fd);
  return status;
}

}  // namespace bt86
