// Flat binary loader: the file's bytes are copied to one guest physical
// address and execution starts at a given entry point. For tests and raw
// images that need no boot protocol.
#pragma once

#include <cstdint>
#include <string>

#include "bt86/status.h"
#include "runtime/guest_memory.h"
#include "runtime/loaders/boot_state.h"

namespace bt86 {

/// Copies the file at `path` to guest physical `load_addr` and sets EIP to
/// `entry`, EFLAGS to 0x2 and every GPR to 0. Fails if the file is missing or
/// empty, or does not fit in RAM at `load_addr`.
Status LoadFlatBinary(GuestMemory& mem, const std::string& path, uint32_t load_addr, uint32_t entry,
                      BootState* out);

}  // namespace bt86
