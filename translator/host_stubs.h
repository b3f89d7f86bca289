// The fixed host stubs at the start of the code cache: entering translated
// code from the run loop and the exits back to it. Blocks jump to the exit
// stubs; the signal handler resumes at save_state.
#pragma once

#include <cstdint>

#include "bt86/callout_abi.h"
#include "bt86/status.h"
#include "translator/code_cache.h"

namespace bt86 {

/// Runs translated code at `entry` with the guest state in `ctx` until an exit.
using EnterGuestFn = void (*)(VcpuContext* ctx, const void* entry);

/// Addresses of the stubs in the cache.
struct HostStubs {
  EnterGuestFn enter = nullptr;
  const uint8_t* exit_branch = nullptr;    ///< r8 = ExitSlot*.
  const uint8_t* exit_indirect = nullptr;  ///< r10d = guest target EIP.
  const uint8_t* exit_callout = nullptr;   ///< r8 = CalloutSite*.
  const uint8_t* save_state = nullptr;     ///< exit_reason already stored.
};

/// Emits the stubs into `cache` (once, at creation).
Status EmitHostStubs(CodeCache* cache, HostStubs* out);

}  // namespace bt86
