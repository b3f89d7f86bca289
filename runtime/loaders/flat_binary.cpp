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

#include "runtime/loaders/image_file.h"

namespace bt86 {
namespace {}  // namespace

Status LoadFlatBinary(GuestMemory& mem, const std::string& path, uint32_t load_addr, uint32_t entry,
                      BootState* out) {
  std::vector<uint8_t> image;
  BT86_RETURN_IF_ERROR(ReadImageFile("flat binary", path, mem.ram_bytes(), &image));
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
