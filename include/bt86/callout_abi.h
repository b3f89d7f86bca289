// The callout ABI: the only door between translated code and the runtime.
//
// Translated code runs with this register convention (DESIGN.md):
//
//   host reg   holds                      host reg  holds
//   --------   -----------------------    --------  -------------------------
//   eax..edi   guest eax..edi (upper 32   r8..r13   translator temporaries
//              bits always zero)          r14       window base (== gs base)
//   rsp        guest esp (never a host    r15       VcpuContext*
//              stack inside a block)      rflags    guest CF PF AF ZF SF OF DF
//   gs base    guest address window: guest memory is only ever gs:[32-bit EA]
//
// A vCPU area is one page-aligned mapping that r15 points to:
//
//   +0              VcpuContext (registers, exit record, FXSAVE images)
//   +kPollOffset    poll page: every block entry loads from it; the runtime
//                   makes it PROT_NONE to stop translated code at the next
//                   block boundary (timeouts, interrupts, stop requests)
//   +kLookupKeys    inline indirect-branch table: -(eip + (mode << 32)), 64 Ki slots
//   +kLookupTargets host entry address for each slot
//
// Exits leave through the common exit stub, which stores the guest state
// here and returns to the run loop; the exit record says why.
#pragma once

#include <cstddef>
#include <cstdint>

namespace bt86 {

/// Why translated code returned to the run loop.
enum class ExitReason : uint32_t {
  kNone = 0,
  kBranch = 1,    ///< Unchained direct branch: eip = target, exit_block/exit_slot name the site.
  kIndirect = 2,  ///< Inline lookup missed: eip = target.
  kCallout = 3,   ///< An instruction needs the runtime: exit_block = CalloutSite*.
  kSignal = 4,    ///< A host signal in translated code: fault_* describe it.
};

/// What a callout site asks the runtime to do.
enum class CalloutKind : uint8_t {
  kEmulate = 1,          ///< Emulate the instruction at the site in C++, then continue.
  kInvalidOpcode = 2,    ///< The bytes at eip do not decode: raise #UD.
  kUnsupported = 3,      ///< bt86 cannot run this instruction: stop and name it.
  kFetchFault = 4,       ///< Code at eip is not in guest memory.
  kInterruptWindow = 5,  ///< IF was just set with an interrupt pending: continue after it.
  kSegmentFault = 6,     ///< A segment limit or type check failed: #GP(0).
  kStackFault = 7,       ///< The same through SS: #SS(0).
  kDivideError = 8,      ///< An inline zero-divisor test fired: #DE.
};

/// One instruction that exits to the runtime. Lives in its block's metadata
/// and stays valid while the block does.
struct CalloutSite {
  uint32_t eip;       ///< Guest EIP of the instruction.
  uint8_t length;     ///< Instruction length in bytes (0 if undecodable).
  uint8_t bytes[15];  ///< Its bytes, for the emulator and for reports.
  CalloutKind kind;
  /// The translator's decoding of the instruction (a DecodedInsn owned by the
  /// block), so the emulator need not decode it again; may be null.
  const void* decoded;
};

/// Block-key mode bit: a 16-bit code segment (CS.D = 0). Control transfers
/// are emulated (IP wraps at 16 bits); IDENT instructions get their operand
/// size re-expressed for 64-bit mode.
constexpr uint32_t kModeCode16 = 1u << 2;
/// Block-key mode bit: es, ss, ds or cs is not a plain flat segment (base 0,
/// limit 4 GiB, expand-up, writable data): memory operands add the base and
/// are checked against the segment's limit and type.
constexpr uint32_t kModeSegmentBases = 1u << 3;

/// Block-key mode bits: fs / gs is not a plain writable 4 GiB segment, so
/// accesses through it are checked against its limit and type.
constexpr uint32_t kModeFsChecked = 1u << 4;
constexpr uint32_t kModeGsChecked = 1u << 5;

/// Block-key mode bit: translated for single-stepping (one instruction,
/// string instructions emulated so each iteration can trap).
constexpr uint32_t kModeStepping = 1u << 16;
/// Block-key mode bit: CR0.TS or CR0.EM is set, so x87/MMX/SSE instructions
/// must raise #NM/#UD: they become callouts instead of running natively.
constexpr uint32_t kModeFpuTrap = 1u << 17;

/// Guest register numbering (Intel SDM: eax=0 ... edi=7).
enum Gpr : int { kEax, kEcx, kEdx, kEbx, kEsp, kEbp, kEsi, kEdi };

/// Segment register numbering (Intel SDM: es=0 ... gs=5).
enum Seg : int { kEs, kCs, kSs, kDs, kFs, kGs };

/// Host RFLAGS bits that belong to the guest while translated code runs.
constexpr uint64_t kGuestHostFlagsMask = 0x0CD5;  // CF PF AF ZF SF DF OF

/// Per-vCPU state shared with translated code. Offsets are ABI: the emitter
/// addresses fields as [r15 + offsetof(...)].
struct alignas(64) VcpuContext {
  uint32_t gpr[8];  ///< Guest eax..edi, valid while the run loop holds the vCPU.
  uint32_t eip;     ///< Guest EIP at the last exit.
  ExitReason exit_reason;
  uint64_t rflags;       ///< Host RFLAGS image of the guest's arithmetic flags and DF.
  uint64_t host_rsp;     ///< Run loop stack pointer, restored by the exit stub.
  uint64_t window_base;  ///< Host address of guest linear address 0 (loaded into r14).
  uint64_t exit_block;   ///< Block* (kBranch) or CalloutSite* (kCallout).
  uint32_t exit_slot;    ///< Which exit of the block (kBranch).
  uint8_t virtual_if;    ///< Guest EFLAGS.IF: translated CLI/STI write it inline.
  uint8_t irq_pending;   ///< An external interrupt is pending (set by the runtime).
  uint8_t reserved0[2];
  uint64_t fault_rip;    ///< kSignal: host RIP of the faulting instruction.
  uint64_t fault_addr;   ///< kSignal: si_addr.
  int32_t fault_signo;   ///< kSignal: SIGSEGV, SIGFPE, ...
  int32_t fault_code;    ///< kSignal: si_code.
  uint32_t seg_base[6];  ///< Guest segment bases (hidden descriptor caches), by Seg.
  /// EIP just after the last STI or MOV/POP SS: an interrupt arriving
  /// there waits one more instruction (the interrupt shadow).
  uint32_t shadow_eip;
  /// Guest EFLAGS bits that are neither arithmetic, DF nor IF (TF, IOPL, NT,
  /// RF, AC, ID): read and written by the inline PUSHF/POPF of ring 0.
  uint32_t system_eflags;
  uint64_t scratch_rsp;  ///< Guest rsp while a fast path borrows the scratch stack.
  /// Valid offsets of each segment for the checks of non-flat blocks
  /// (SDM 5.3): reads need lo <= offset and end <= hi_read, writes
  /// end <= hi_write. Empty ranges (lo > hi) make every access fault.
  uint64_t seg_lo[6];
  uint64_t seg_hi_read[6];
  uint64_t seg_hi_write[6];
  uint32_t reserved1[1];
  alignas(64) uint8_t guest_fx[512];  ///< Guest x87/MMX/SSE state (FXSAVE64 image).
  uint32_t host_mxcsr;  ///< Run loop's MXCSR while the guest runs (callee-saved in the ABI).
  uint16_t host_fcw;    ///< Run loop's x87 control word, likewise.
};

/// Top of a small scratch stack inside the context page, which inline fast
/// paths borrow for pushfq/popfq (guest esp lives in rsp).
constexpr size_t kScratchStackTop = 8192 - 64;
constexpr size_t kPollOffset = 8192;
constexpr size_t kLookupSlots = 65536;  ///< Indexed by the low 16 bits of the target.
constexpr size_t kLookupKeysOffset = kPollOffset + 4096;
constexpr size_t kLookupTargetsOffset = kLookupKeysOffset + kLookupSlots * 8;
constexpr size_t kVcpuAreaBytes = kLookupTargetsOffset + kLookupSlots * 8;
/// An empty lookup slot's key: no 32-bit eip negates to it.
constexpr uint64_t kLookupEmptyKey = 1;

static_assert(sizeof(VcpuContext) + 256 <= kScratchStackTop, "context and scratch stack overlap");
static_assert(offsetof(VcpuContext, gpr) == 0);
static_assert(offsetof(VcpuContext, rflags) % 8 == 0);
static_assert(offsetof(VcpuContext, guest_fx) % 16 == 0);

}  // namespace bt86
