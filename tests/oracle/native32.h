// The native oracle: runs an unprivileged 32-bit x86 code snippet on the host
// CPU itself, in 32-bit compatibility mode, and reports the final register
// state, EFLAGS and memory. Translated runs are compared against it.
//
// How it works (details in native32.cpp):
//   1. A 1 MiB arena is mapped once at the fixed address kArenaBase (RWX); the
//      caller's arena image is copied in, the snippet is placed at
//      kArenaBase + code_offset and followed by a 7-byte tail
//      `ljmp $0x33, $landing` that returns to 64-bit mode.
//   2. A 64-bit trampoline saves the host's callee-saved registers and RSP,
//      loads EFLAGS and the eight 32-bit GPRs and far-jumps to 0x23:entry,
//      Linux's flat 32-bit user code segment (0x33 is the 64-bit one).
//   3. The tail lands in a stub below 4 GiB (a far pointer has a 32-bit
//      offset), which saves the registers and EFLAGS and returns to C++.
//   4. A fault in the snippet (SIGSEGV/SIGFPE/SIGILL/SIGBUS/SIGTRAP) is caught
//      on an alternate signal stack; the handler records the state from the
//      ucontext and resumes at the same 64-bit exit path.
//   5. The arena is copied back, except the tail's 7 bytes, which keep their
//      input values, so the output shows only what the snippet did.
//
// The snippet starts with the x87/SSE reset state (FCW 0x37F, MXCSR 0x1F80).
// DS, ES and SS hold the flat user data selector 0x2b (the host runs with null
// DS/ES, which would fault in compatibility mode); FS and GS keep the host's
// null selectors, so fs:/gs: accesses fault, and if the snippet loads them the
// host's FS/GS bases are put back afterwards. Other signals are blocked during
// a run. Runs are serialized by a mutex; the snippet must not loop forever
// (there is no timeout) and must not make system calls.
#pragma once

#include <cstdint>
#include <vector>

namespace bt86::oracle {

/// Native (and guest) linear address of the arena: code, data and stack.
constexpr uint32_t kArenaBase = 0x00100000;
/// Size of the arena: 1 MiB.
constexpr uint32_t kArenaBytes = 0x00100000;
/// Length of the tail appended after the snippet (`ljmp $0x33, $landing`).
constexpr uint32_t kTailBytes = 7;

/// EFLAGS bits (Intel SDM Vol. 1, 3.4.3).
constexpr uint32_t kFlagCf = 1u << 0;
constexpr uint32_t kFlagReserved1 = 1u << 1;  ///< Always 1.
constexpr uint32_t kFlagPf = 1u << 2;
constexpr uint32_t kFlagAf = 1u << 4;
constexpr uint32_t kFlagZf = 1u << 6;
constexpr uint32_t kFlagSf = 1u << 7;
constexpr uint32_t kFlagTf = 1u << 8;
constexpr uint32_t kFlagIf = 1u << 9;
constexpr uint32_t kFlagDf = 1u << 10;
constexpr uint32_t kFlagOf = 1u << 11;
constexpr uint32_t kFlagRf = 1u << 16;
constexpr uint32_t kFlagAc = 1u << 18;
/// The flags RunNative32 takes from CpuState::eflags on input.
constexpr uint32_t kInputFlagsMask =
    kFlagCf | kFlagPf | kFlagAf | kFlagZf | kFlagSf | kFlagOf | kFlagDf;

/// Indices into CpuState::gpr, in the SDM's register-number order.
enum Gpr : int { kEax, kEcx, kEdx, kEbx, kEsp, kEbp, kEsi, kEdi };

/// The 32-bit register state the oracle takes in and reports.
struct CpuState {
  uint32_t gpr[8];  ///< eax ecx edx ebx esp ebp esi edi (SDM order).
  /// On input only kInputFlagsMask is applied (bit 1 set, TF/AC never);
  /// on output the real EFLAGS as user mode sees it (IF set, RF cleared).
  uint32_t eflags;
};

/// What a native run ended with.
struct NativeResult {
  bool completed = false;  ///< The snippet ran to its end (into the tail).
  /// If not completed: SIGSEGV, SIGFPE, SIGILL, SIGBUS or SIGTRAP.
  int signo = 0;
  /// EIP the CPU reported with the exception: the faulting instruction for
  /// faults (#DE, #UD, #GP, #PF, #AC), the next instruction for traps (int3).
  uint32_t fault_eip = 0;
  CpuState state{};  ///< Registers at the end, or at the fault.
};

/// Places `code` at kArenaBase + code_offset inside a copy of `arena`
/// (kArenaBytes long), appends a tail that returns to 64-bit mode, runs it
/// natively from that address with `in` (esp in `in` must point inside the
/// arena), and copies the arena back into `arena` (without the tail).
/// Aborts with a message if the arena cannot be mapped or the arguments do
/// not fit; a fault in the snippet is a result, never an abort.
NativeResult RunNative32(std::vector<uint8_t>& arena, uint32_t code_offset,
                         const std::vector<uint8_t>& code, const CpuState& in);

}  // namespace bt86::oracle
