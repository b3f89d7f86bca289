// Host signal handling for translated code (SIGSEGV, SIGBUS, SIGFPE,
// SIGILL, SIGTRAP). Guest ESP lives in host RSP, so every handler runs on
// a sigaltstack. A signal raised inside the translation cache is recorded
// in the vCPU's exit record and the thread resumes at the save_state stub,
// which returns to the run loop; anything else is a bt86 bug and crashes
// with the default action.
#pragma once

#include "bt86/callout_abi.h"
#include "bt86/status.h"
#include "translator/code_cache.h"

namespace bt86 {

/// Installs the handlers (once per process) and an alternate stack for the
/// calling thread, and makes this thread's translated code report to `ctx`.
Status AttachSignalHandling(VcpuContext* ctx, const CodeCache* cache, const void* save_state);
/// Forgets the calling thread's vCPU.
void DetachSignalHandling();

}  // namespace bt86
