// Host signal handling (host_signals.h).
#include "runtime/host_signals.h"

#include <fmt/core.h>
#include <signal.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace bt86 {
namespace {

struct ThreadVcpu {
  VcpuContext* ctx = nullptr;
  const CodeCache* cache = nullptr;
  const void* save_state = nullptr;
  void* altstack = nullptr;
};

// Initial-exec TLS in the executable: safe to read in a signal handler.
thread_local ThreadVcpu t_vcpu;

constexpr int kSignals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP};
constexpr size_t kAltStackBytes = 256 * 1024;

void WriteStderr(const char* s) {
  (void)!write(STDERR_FILENO, s, std::strlen(s));
}

void OnSignal(int signo, siginfo_t* info, void* uc_void) {
  auto* uc = static_cast<ucontext_t*>(uc_void);
  greg_t* regs = uc->uc_mcontext.gregs;
  const uintptr_t rip = uintptr_t(regs[REG_RIP]);
  ThreadVcpu& v = t_vcpu;
  if (v.ctx && v.cache->Contains(rip) &&
      rip >= uintptr_t(v.cache->stubs()) + CodeCache::kStubBytes &&
      uintptr_t(regs[REG_R15]) == uintptr_t(v.ctx)) {
    v.ctx->exit_reason = ExitReason::kSignal;
    v.ctx->fault_rip = rip;
    v.ctx->fault_addr = uintptr_t(info->si_addr);
    v.ctx->fault_signo = signo;
    v.ctx->fault_code = signo == SIGSEGV ? int32_t(regs[REG_ERR]) : info->si_code;
    regs[REG_RIP] = greg_t(uintptr_t(v.save_state));
    return;
  }
  // Not translated code: a bug in bt86 itself. Die with the default action.
  WriteStderr("bt86: internal error: host signal outside translated code\n");
  signal(signo, SIG_DFL);
}

}  // namespace

Status AttachSignalHandling(VcpuContext* ctx, const CodeCache* cache, const void* save_state) {
  static bool installed = false;
  if (!installed) {
    struct sigaction sa = {};
    sa.sa_sigaction = OnSignal;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    for (int s : kSignals) {
      if (sigaction(s, &sa, nullptr) != 0) {
        return Status::Error(ExitStatus::kInternal,
                             fmt::format("sigaction: {}", std::strerror(errno)));
      }
    }
    installed = true;
  }
  ThreadVcpu& v = t_vcpu;
  if (!v.altstack) {
    void* stack =
        mmap(nullptr, kAltStackBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (stack == MAP_FAILED) {
      return Status::Error(ExitStatus::kInternal,
                           fmt::format("sigaltstack mmap: {}", std::strerror(errno)));
    }
    stack_t ss = {};
    ss.ss_sp = stack;
    ss.ss_size = kAltStackBytes;
    if (sigaltstack(&ss, nullptr) != 0) {
      return Status::Error(ExitStatus::kInternal,
                           fmt::format("sigaltstack: {}", std::strerror(errno)));
    }
    v.altstack = stack;
  }
  v.ctx = ctx;
  v.cache = cache;
  v.save_state = save_state;
  return Status::Ok();
}

void DetachSignalHandling() {
  t_vcpu.ctx = nullptr;
  t_vcpu.cache = nullptr;
}

}  // namespace bt86
