// Runs a 32-bit snippet natively in compatibility mode (Intel SDM Vol. 3A,
// 5.8.3 far transfers between code segments, 6.14 64-bit mode exceptions;
// Linux's GDT: 0x23 = 32-bit user code, 0x33 = 64-bit user code, 0x2b = flat
// user data).
//
//   C++ RunNative32
//     -> bt86_oracle_enter (64-bit, .text)       save host regs, load EFLAGS+GPRs
//          ljmpl *entry_far                     far jump to 0x23:kArenaBase+code_offset
//     -> snippet (32-bit, arena)
//          tail: ljmp $0x33, $kLandingBase        EA imm32 imm16
//     -> landing stub (64-bit, kLandingBase)      save eax with movabs, jump on
//     -> bt86_oracle_landing64 (64-bit, .text)   save the other GPRs and EFLAGS
//     -> bt86_oracle_exit                        restore host state, return
//
//   A fault in the snippet enters OnSnippetSignal on the alternate stack; it
//   records the ucontext's registers and rewrites it to resume at
//   bt86_oracle_exit in 64-bit mode (CS 0x33) on the host stack.
//
// Only the arena and the landing stub live below 4 GiB, and the stub's page is
// read+execute, so a stray store from the snippet faults instead of silently
// corrupting the oracle's own state (which stays in .bss, out of 32-bit reach).
#include "native32.h"

#include <asm/prctl.h>
#include <signal.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

// State shared with the assembly below. extern "C" and hidden so the assembly
// can name them and address them RIP-relative from position-independent code.
#define BT86_ORACLE_SHARED extern "C" __attribute__((visibility("hidden")))

/// A far pointer m16:32, the operand of `ljmpl *mem` (Intel SDM: JMP ptr16:32).
struct __attribute__((packed)) FarPointer32 {
  uint32_t offset;
  uint16_t selector;
};

BT86_ORACLE_SHARED uint32_t bt86_oracle_in_gpr[8];
BT86_ORACLE_SHARED uint64_t bt86_oracle_in_eflags;
BT86_ORACLE_SHARED FarPointer32 bt86_oracle_entry_far;
BT86_ORACLE_SHARED uint32_t bt86_oracle_snippet_mxcsr;
BT86_ORACLE_SHARED uint32_t bt86_oracle_out_gpr[8];
BT86_ORACLE_SHARED uint64_t bt86_oracle_out_eflags;
BT86_ORACLE_SHARED uint64_t bt86_oracle_host_rsp;
BT86_ORACLE_SHARED uint32_t bt86_oracle_host_mxcsr;
BT86_ORACLE_SHARED uint16_t bt86_oracle_host_fcw;
BT86_ORACLE_SHARED uint16_t bt86_oracle_host_ds;
BT86_ORACLE_SHARED uint16_t bt86_oracle_host_es;
BT86_ORACLE_SHARED uint16_t bt86_oracle_host_ss;

uint32_t bt86_oracle_in_gpr[8];
uint64_t bt86_oracle_in_eflags;
FarPointer32 bt86_oracle_entry_far;
uint32_t bt86_oracle_snippet_mxcsr = 0x1f80;  // Reset value (SDM Vol. 1, 10.2.3.1).
uint32_t bt86_oracle_out_gpr[8];
uint64_t bt86_oracle_out_eflags;
uint64_t bt86_oracle_host_rsp;
uint32_t bt86_oracle_host_mxcsr;
uint16_t bt86_oracle_host_fcw;
uint16_t bt86_oracle_host_ds;
uint16_t bt86_oracle_host_es;
uint16_t bt86_oracle_host_ss;

/// Runs the snippet set up in the globals above; returns when it reached the
/// tail or faulted. Clobbers every caller-saved register, x87 and SSE state.
BT86_ORACLE_SHARED void bt86_oracle_enter();
/// Host exit path; the signal handler resumes here (64-bit, any RSP).
BT86_ORACLE_SHARED char bt86_oracle_exit[];
/// The 64-bit landing stub, assembled here and copied below 4 GiB.
BT86_ORACLE_SHARED const char bt86_oracle_landing_template[];
BT86_ORACLE_SHARED const char bt86_oracle_landing_template_end[];

// Register numbers in comments: the order of CpuState::gpr, 4 bytes each.
asm(R"(
  .pushsection .text
  .p2align 4
  .globl bt86_oracle_enter
  .hidden bt86_oracle_enter
  .type bt86_oracle_enter, @function
bt86_oracle_enter:
  # Callee-saved registers stay on the host stack; only RSP goes to memory.
  push %rbx
  push %rbp
  push %r12
  push %r13
  push %r14
  push %r15
  mov %rsp, bt86_oracle_host_rsp(%rip)
  stmxcsr bt86_oracle_host_mxcsr(%rip)
  fnstcw bt86_oracle_host_fcw(%rip)
  mov %ds, bt86_oracle_host_ds(%rip)
  mov %es, bt86_oracle_host_es(%rip)
  mov %ss, bt86_oracle_host_ss(%rip)

  # Compatibility mode uses the DS/ES/SS descriptors (64-bit mode ignores
  # them): make them all the flat 4 GiB user data segment.
  mov $0x2b, %eax
  mov %eax, %ds
  mov %eax, %es
  mov %eax, %ss

  # The snippet starts from the x87/SSE reset state.
  fninit
  ldmxcsr bt86_oracle_snippet_mxcsr(%rip)

  # EFLAGS first, while RSP is still the host stack; MOV leaves flags alone.
  pushq bt86_oracle_in_eflags(%rip)
  popfq
  mov bt86_oracle_in_gpr+0(%rip), %eax
  mov bt86_oracle_in_gpr+4(%rip), %ecx
  mov bt86_oracle_in_gpr+8(%rip), %edx
  mov bt86_oracle_in_gpr+12(%rip), %ebx
  mov bt86_oracle_in_gpr+20(%rip), %ebp
  mov bt86_oracle_in_gpr+24(%rip), %esi
  mov bt86_oracle_in_gpr+28(%rip), %edi
  mov bt86_oracle_in_gpr+16(%rip), %esp
  # JMP m16:32 needs no register: 0x23:kArenaBase+code_offset.
  ljmpl *bt86_oracle_entry_far(%rip)
  .size bt86_oracle_enter, .-bt86_oracle_enter

  # Reached from the landing stub, which saved eax and clobbered rax.
  .p2align 4
  .type bt86_oracle_landing64, @function
bt86_oracle_landing64:
  mov %ecx, bt86_oracle_out_gpr+4(%rip)
  mov %edx, bt86_oracle_out_gpr+8(%rip)
  mov %ebx, bt86_oracle_out_gpr+12(%rip)
  mov %esp, bt86_oracle_out_gpr+16(%rip)
  mov %ebp, bt86_oracle_out_gpr+20(%rip)
  mov %esi, bt86_oracle_out_gpr+24(%rip)
  mov %edi, bt86_oracle_out_gpr+28(%rip)
  # PUSHFQ on the host stack: the snippet's stack must not change.
  mov bt86_oracle_host_rsp(%rip), %rsp
  pushfq
  popq bt86_oracle_out_eflags(%rip)
  .size bt86_oracle_landing64, .-bt86_oracle_landing64

  .globl bt86_oracle_exit
  .hidden bt86_oracle_exit
  .type bt86_oracle_exit, @function
bt86_oracle_exit:
  mov bt86_oracle_host_rsp(%rip), %rsp
  # The C++ ABI wants DF clear, and AC set would make misaligned host
  # accesses fault. IF is not writable here and POPFQ ignores it.
  pushq $0x202
  popfq
  mov bt86_oracle_host_ds(%rip), %ds
  mov bt86_oracle_host_es(%rip), %es
  mov bt86_oracle_host_ss(%rip), %ss
  fninit
  fldcw bt86_oracle_host_fcw(%rip)
  ldmxcsr bt86_oracle_host_mxcsr(%rip)
  pop %r15
  pop %r14
  pop %r13
  pop %r12
  pop %rbp
  pop %rbx
  ret
  .size bt86_oracle_exit, .-bt86_oracle_exit
  .popsection

  # The landing stub, copied to kLandingBase at run time: the tail's far jump
  # can only name a 32-bit offset. It holds 64-bit absolute addresses, so it
  # lives in a data section that the dynamic linker relocates.
  .pushsection .data.rel.ro, "aw"
  .globl bt86_oracle_landing_template
  .hidden bt86_oracle_landing_template
  .globl bt86_oracle_landing_template_end
  .hidden bt86_oracle_landing_template_end
bt86_oracle_landing_template:
  movabs %eax, bt86_oracle_out_gpr        # A3 moffs64: no base register needed
  movabs $bt86_oracle_landing64, %rax
  jmp *%rax
bt86_oracle_landing_template_end:
  .popsection
)");

namespace bt86::oracle {
namespace {

constexpr uint16_t kUserCs32 = 0x23;  // Linux __USER32_CS
constexpr uint16_t kUserCs64 = 0x33;  // Linux __USER_CS
constexpr uintptr_t kLandingBase = 0x00300000;
constexpr size_t kLandingBytes = 0x1000;
constexpr size_t kAltStackBytes = 256 * 1024;
constexpr int kFaultSignals[] = {SIGSEGV, SIGFPE, SIGILL, SIGBUS, SIGTRAP};
constexpr int kNumFaultSignals = sizeof(kFaultSignals) / sizeof(kFaultSignals[0]);

// Written by the signal handler, read after bt86_oracle_enter returns.
volatile int g_fault_signo;
volatile uint64_t g_fault_rip;
struct sigaction g_previous_actions[kNumFaultSignals];

std::mutex g_run_mutex;

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "bt86 native oracle: %s\n", what);
  std::abort();
}

void* MapFixed(uintptr_t address, size_t bytes, int prot) {
  void* p = mmap(reinterpret_cast<void*>(address), bytes, prot,
                 MAP_FIXED_NOREPLACE | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  // Kernels before 4.17 ignore the flag and may return another address.
  if (p == MAP_FAILED || p != reinterpret_cast<void*>(address)) return nullptr;
  return p;
}

// Maps the arena and the landing stub once per process; they stay mapped.
// Returns the arena, which sits at kArenaBase.
uint8_t* MapLowMemoryOnce() {
  static uint8_t* const arena = [] {
    void* arena = MapFixed(kArenaBase, kArenaBytes, PROT_READ | PROT_WRITE | PROT_EXEC);
    if (!arena) Die("cannot map the arena at 0x00100000 (address taken?)");
    void* landing = MapFixed(kLandingBase, kLandingBytes, PROT_READ | PROT_WRITE);
    if (!landing) Die("cannot map the landing stub at 0x00300000 (address taken?)");
    std::memcpy(landing, bt86_oracle_landing_template,
                bt86_oracle_landing_template_end - bt86_oracle_landing_template);
    if (mprotect(landing, kLandingBytes, PROT_READ | PROT_EXEC) != 0) {
      Die("cannot make the landing stub executable");
    }
    return static_cast<uint8_t*>(arena);
  }();
  return arena;
}

// `ljmp $0x33, $kLandingBase`: EA imm32 imm16, valid in 32-bit mode only.
void WriteTail(uint8_t* at) {
  const uint32_t offset = kLandingBase;
  at[0] = 0xea;
  std::memcpy(at + 1, &offset, 4);
  std::memcpy(at + 5, &kUserCs64, 2);
}

// Runs on the alternate stack: the snippet's RSP is a 32-bit value that may
// point anywhere. Touches no TLS, since the snippet may have reloaded FS.
__attribute__((no_stack_protector)) void OnSnippetSignal(int signo, siginfo_t*, void* context) {
  greg_t* regs = static_cast<ucontext_t*>(context)->uc_mcontext.gregs;
  // REG_CSGSFS packs cs | gs << 16 | fs << 32 | ss << 48.
  const auto cs = static_cast<uint16_t>(regs[REG_CSGSFS] & 0xffff);
  if (cs != kUserCs32) {
    // A host bug, not the snippet: put the previous handler back and let the
    // instruction fault again into it.
    for (int i = 0; i < kNumFaultSignals; ++i) {
      if (kFaultSignals[i] == signo) sigaction(signo, &g_previous_actions[i], nullptr);
    }
    return;
  }
  g_fault_signo = signo;
  g_fault_rip = regs[REG_RIP];
  const int order[8] = {REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP, REG_RSI, REG_RDI};
  for (int i = 0; i < 8; ++i) bt86_oracle_out_gpr[i] = static_cast<uint32_t>(regs[order[i]]);
  bt86_oracle_out_eflags = regs[REG_EFL];
  // Resume in 64-bit mode at the common exit, on the host stack, flags clean.
  regs[REG_RIP] = reinterpret_cast<greg_t>(bt86_oracle_exit);
  regs[REG_CSGSFS] = (regs[REG_CSGSFS] & ~greg_t{0xffff}) | kUserCs64;
  regs[REG_RSP] = static_cast<greg_t>(bt86_oracle_host_rsp);
  regs[REG_EFL] = 0x202;
}

// For the length of one run: fault handlers on an alternate stack, and every
// other signal blocked, since a handler without SA_ONSTACK would build its
// frame on the snippet's stack, inside the arena. Restores all in the destructor.
class SignalScope {
 public:
  SignalScope() {
    static uint8_t* const alt_stack = new uint8_t[kAltStackBytes];
    stack_t alt{};
    alt.ss_sp = alt_stack;
    alt.ss_size = kAltStackBytes;
    if (sigaltstack(&alt, &previous_alt_) != 0) Die("sigaltstack failed");

    struct sigaction action {};
    action.sa_sigaction = OnSnippetSignal;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigfillset(&action.sa_mask);
    for (int i = 0; i < kNumFaultSignals; ++i) {
      if (sigaction(kFaultSignals[i], &action, &g_previous_actions[i]) != 0) {
        Die("sigaction failed");
      }
    }

    sigset_t block;
    sigfillset(&block);
    for (int signo : kFaultSignals) sigdelset(&block, signo);
    pthread_sigmask(SIG_BLOCK, &block, &previous_mask_);
  }

  ~SignalScope() {
    pthread_sigmask(SIG_SETMASK, &previous_mask_, nullptr);
    for (int i = 0; i < kNumFaultSignals; ++i) {
      sigaction(kFaultSignals[i], &g_previous_actions[i], nullptr);
    }
    sigaltstack(&previous_alt_, nullptr);
  }

  SignalScope(const SignalScope&) = delete;
  SignalScope& operator=(const SignalScope&) = delete;

 private:
  stack_t previous_alt_{};
  sigset_t previous_mask_{};
};

// FS holds the host's thread pointer. A snippet may load FS or GS, which in
// compatibility mode replaces the base with the descriptor's; put them back.
class HostTls {
 public:
  HostTls() {
    asm volatile("mov %%fs, %0" : "=r"(fs_));
    asm volatile("mov %%gs, %0" : "=r"(gs_));
    if (HasFsGsBase()) {
      asm volatile("rdfsbase %0" : "=r"(fs_base_));
      asm volatile("rdgsbase %0" : "=r"(gs_base_));
    } else {
      syscall(SYS_arch_prctl, ARCH_GET_FS, &fs_base_);
      syscall(SYS_arch_prctl, ARCH_GET_GS, &gs_base_);
    }
  }

  // Cheap when nothing changed: two selector reads.
  __attribute__((no_stack_protector)) void RestoreIfClobbered() const {
    uint16_t fs, gs;
    asm volatile("mov %%fs, %0" : "=r"(fs));
    asm volatile("mov %%gs, %0" : "=r"(gs));
    if (fs != fs_) {
      asm volatile("mov %0, %%fs" : : "r"(fs_));
      WriteBase(ARCH_SET_FS, fs_base_);
    }
    if (gs != gs_) {
      asm volatile("mov %0, %%gs" : : "r"(gs_));
      WriteBase(ARCH_SET_GS, gs_base_);
    }
  }

 private:
  static bool HasFsGsBase() {
    constexpr unsigned long kHwcap2FsGsBase = 1ul << 1;  // HWCAP2_FSGSBASE
    static const bool has = (getauxval(AT_HWCAP2) & kHwcap2FsGsBase) != 0;
    return has;
  }

  __attribute__((no_stack_protector)) static void WriteBase(int code, uint64_t base) {
    if (!HasFsGsBase()) {
      syscall(SYS_arch_prctl, code, base);
    } else if (code == ARCH_SET_FS) {
      asm volatile("wrfsbase %0" : : "r"(base));
    } else {
      asm volatile("wrgsbase %0" : : "r"(base));
    }
  }

  uint16_t fs_ = 0, gs_ = 0;
  uint64_t fs_base_ = 0, gs_base_ = 0;
};

}  // namespace

NativeResult RunNative32(std::vector<uint8_t>& arena, uint32_t code_offset,
                         const std::vector<uint8_t>& code, const CpuState& in) {
  if (arena.size() != kArenaBytes) Die("the arena must be kArenaBytes long");
  if (code_offset > kArenaBytes || kArenaBytes - code_offset < code.size() + kTailBytes) {
    Die("the snippet and its tail do not fit in the arena");
  }
  std::lock_guard<std::mutex> lock(g_run_mutex);
  uint8_t* const native = MapLowMemoryOnce();
  const uint32_t tail_offset = code_offset + static_cast<uint32_t>(code.size());
  std::memcpy(native, arena.data(), kArenaBytes);
  if (!code.empty()) std::memcpy(native + code_offset, code.data(), code.size());
  WriteTail(native + tail_offset);

  std::memcpy(bt86_oracle_in_gpr, in.gpr, sizeof(in.gpr));
  bt86_oracle_in_eflags = (in.eflags & kInputFlagsMask) | kFlagReserved1;
  bt86_oracle_entry_far = {kArenaBase + code_offset, kUserCs32};
  g_fault_signo = 0;
  g_fault_rip = 0;
  {
    SignalScope signals;
    HostTls tls;
    bt86_oracle_enter();
    tls.RestoreIfClobbered();
  }

  // Everything but the tail goes back: the output shows the snippet's effects.
  std::memcpy(arena.data(), native, tail_offset);
  std::memcpy(arena.data() + tail_offset + kTailBytes, native + tail_offset + kTailBytes,
              kArenaBytes - tail_offset - kTailBytes);

  NativeResult result;
  result.completed = g_fault_signo == 0;
  result.signo = g_fault_signo;
  result.fault_eip = static_cast<uint32_t>(g_fault_rip);
  std::memcpy(result.state.gpr, bt86_oracle_out_gpr, sizeof(result.state.gpr));
  // The CPU sets RF in the EFLAGS image of a fault; it is no state the snippet
  // could observe, so leave it out.
  result.state.eflags = static_cast<uint32_t>(bt86_oracle_out_eflags) & ~kFlagRf;
  return result;
}

}  // namespace bt86::oracle
