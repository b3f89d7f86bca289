// Thread gs base (host_gs_base.h).
#include "runtime/host_gs_base.h"

#include <asm/prctl.h>
#include <fmt/core.h>
#include <immintrin.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#ifndef HWCAP2_FSGSBASE
#define HWCAP2_FSGSBASE (1 << 1)
#endif

namespace bt86 {

Status SetThreadGsBase(uint64_t base) {
  if (getauxval(AT_HWCAP2) & HWCAP2_FSGSBASE) {
    _writegsbase_u64(base);
    return Status::Ok();
  }
  if (syscall(SYS_arch_prctl, ARCH_SET_GS, base) != 0) {
    return Status::Error(ExitStatus::kInternal,
                         fmt::format("arch_prctl(ARCH_SET_GS): {}", std::strerror(errno)));
  }
  return Status::Ok();
}

}  // namespace bt86
