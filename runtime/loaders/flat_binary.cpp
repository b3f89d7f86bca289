// Flat binary loader: one file, one load address, one entry point.
#include "runtime/loaders/flat_binary.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

namespace bt86 {
namespace {

template <typename... Args>
Status UsageError(fmt::format_string<Args...> format, Args&&... args) {
  return Status::Error(ExitStatus::kUsage, fmt::format(format, std::forward<Args>(args)...));
}

/// Reads a whole regular file, refusing one larger than `max_bytes`.
Status ReadFile(const std::string& path, uint64_t max_bytes, std::vector<uint8_t>* out) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return UsageError("cannot open flat binary '{}': {}", path, std::strerror(errno));
  struct stat st;
  Status status;
  if (fstat(fd, &st) != 0) {
    status = UsageError("cannot stat flat binary '{}': {}", path, std::strerror(errno));
  } else if (!S_ISREG(st.st_mode)) {
    status = UsageError("flat binary '{}' is not a regular file", path);
  } else if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    status = UsageError("flat binary '{}' ({} bytes) is larger than guest RAM ({} bytes)", path,
                        st.st_size, max_bytes);
  } else {
    out->resize(st.st_size);
    size_t done = 0;
    while (done < out->size()) {
      const ssize_t n = read(fd, out->data() + done, out->size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        status = UsageError("cannot read flat binary '{}': {}", path,
                            n < 0 ? std::strerror(errno) : "file shrank while reading");
        break;
      }
      done += n;
    }
  }
  close(fd);
  return status;
}

}  // namespace

Status LoadFlatBinary(GuestMemory& mem, const std::string& path, uint32_t load_addr, uint32_t entry,
                      BootState* out) {
  std::vector<uint8_t> image;
  BT86_RETURN_IF_ERROR(ReadFile(path, mem.ram_bytes(), &image));
  if (image.empty()) return UsageError("flat binary '{}' is empty", path);
  if (!mem.Contains(load_addr, image.size())) {
    return UsageError(
        "flat binary '{}' ({:#x} bytes) loaded at {:#x} would end at {:#x}, past the end of "
        "guest RAM ({:#x})",
        path, image.size(), load_addr, uint64_t{load_addr} + image.size(), mem.ram_bytes());
  }
  BT86_RETURN_IF_ERROR(mem.Write(load_addr, image.data(), image.size()));
  *out = BootState{};
  out->eip = entry;
  out->eflags = 0x2;
  return Status::Ok();
}

}  // namespace bt86
