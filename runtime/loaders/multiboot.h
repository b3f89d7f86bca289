// Multiboot (version 0.6.96) kernel loader: ELF32 kernels and a.out-kludge
// images (header flag bit 16), boot modules, and the multiboot_info structure,
// which bt86 builds in low memory at kMultibootInfoAddress.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bt86/status.h"
#include "runtime/guest_memory.h"
#include "runtime/loaders/boot_state.h"

namespace bt86 {

/// EAX at the kernel's entry point: proof that a Multiboot loader booted it.
constexpr uint32_t kMultibootBootloaderMagic = 0x2BADB002;
/// Guest physical address of multiboot_info; the command line, module list,
/// memory map and strings follow it, all below kMultibootInfoLimit.
constexpr uint32_t kMultibootInfoAddress = 0x9000;
/// The boot information must end below the EBDA, where the memory map's
/// first reserved region starts.
constexpr uint32_t kMultibootInfoLimit = 0x9FC00;

/// A boot module: a file loaded into guest RAM and its string in the module list.
struct MultibootModule {
  std::string path;  ///< Host file to load.
  std::string args;  ///< The module's string, passed as is.
};

/// Loads the Multiboot kernel at `path` and `modules` into `mem`, builds
/// multiboot_info with `cmdline` passed exactly as given, and fills `out`
/// with the entry state. A malformed image is a kUsage error naming the file.
Status LoadMultiboot(GuestMemory& mem, const std::string& path, const std::string& cmdline,
                     const std::vector<MultibootModule>& modules, BootState* out);

}  // namespace bt86
