// Setting the host thread's gs base: the guest window that every translated
// memory operand (gs:[32-bit EA]) goes through.
#pragma once

#include <cstdint>

#include "bt86/status.h"

namespace bt86 {

/// Points the calling thread's gs base at `base`: WRGSBASE where the kernel
/// enables FSGSBASE for user space, arch_prctl(ARCH_SET_GS) otherwise.
Status SetThreadGsBase(uint64_t base);

}  // namespace bt86
