// Emission of one block's host code (phase: Emit...). One BlockEmitter per
// block; its methods are split by family over emit_*.cpp.
//
// Invariants every Emit* method keeps (precise state, DESIGN.md):
//   - the host instruction that can fault for a guest instruction comes
//     before any change to guest registers, so a fault leaves the guest state
//     exactly as it was at the start of that instruction;
//   - glue code never changes host flags (mov, lea, movzx, jrcxz only), since
//     host RFLAGS hold the guest's flags;
//   - temporaries: r8 effective address, r9 segment base / saved rcx,
//     r10 data and indirect target, r11 lookup slot.
#pragma once

#include <asmjit/x86.h>

#include <vector>

#include "translator/block.h"
#include "translator/host_stubs.h"
#include "translator/translator.h"

namespace bt86 {

class BlockEmitter {
 public:
  BlockEmitter(asmjit::x86::Assembler& a, Block* block, const HostStubs& stubs,
               const TranslatorOptions& options, uint64_t base)
      : a_(a), block_(block), stubs_(stubs), options_(options), base_(base) {}

  /// Emits the block-entry poll (faults when the runtime wants control back).
  void EmitEntryPoll();
  /// Emits one guest instruction. Returns false if it turned out unsupported
  /// (then a callout naming it was emitted instead).
  void EmitInsn(const ScannedInsn& s);
  /// Emits a direct exit to `target` (the block's fall-through end).
  void EmitFallthroughExit(uint32_t target);
  /// Emits the stubs of all direct exits. Call once, after the body.
  void EmitExitStubs();

 private:
  // emit_ident.cpp
  void EmitIdent(const DecodedInsn& d);
  void EmitIdentWithAddressInR8(const DecodedInsn& d, const ZydisDecodedOperand& m);
  void EmitFpuPointerScrub(const DecodedInsn& d);
  void EmitFxsaveReservedPreload(const DecodedInsn& d);
  void EmitLegacyPrefixes(const DecodedInsn& d);
  void EmitIncDecShort(const DecodedInsn& d);
  void EmitDivisorCheck(const DecodedInsn& d);
  // emit_memory.cpp
  bool IsSimpleAddress(const DecodedInsn& d, const ZydisDecodedOperand& m) const;
  /// r8d = the operand's linear address. In a non-flat block, an access of
  /// `check_size` bytes (0: none, for LEA) is first checked against the
  /// segment's limit and type, leaving through a #GP/#SS callout on failure.
  void EmitAddressToR8(const DecodedInsn& d, const ZydisDecodedOperand& m, int32_t extra_disp,
                       uint32_t check_size = 0, bool write = false);
  /// Checks the offset in r8 for an access of `size` bytes through `seg`.
  void EmitSegmentCheck(int seg, uint32_t size, bool write);
  asmjit::x86::Mem GuestMem(const DecodedInsn& d, const ZydisDecodedOperand& m, uint32_t size,
                            int32_t extra_disp = 0, bool write = false);
  /// gs:[esp + disp], SS-relative. Emits address code when SS has a base:
  /// call it right where the operand is used (it may clobber r8/r9).
  asmjit::x86::Mem StackMem(int32_t disp, uint32_t size, bool write = false);
  asmjit::x86::Mem StackRelative(const asmjit::x86::Gp& base, int32_t disp, uint32_t size,
                                 bool write = false);
  void EmitAddSegmentBaseToR8(int seg);
  /// True if accesses through `seg` need limit/type checks in this block.
  bool SegmentChecked(int seg) const {
    const uint32_t mode = block_->key.mode;
    return !flat() || seg == kCs || (seg == kFs && (mode & kModeFsChecked)) ||
           (seg == kGs && (mode & kModeGsChecked));
  }
  /// True unless the block was translated for non-flat segments.
  bool flat() const { return !(block_->key.mode & kModeSegmentBases); }
  // emit_stack.cpp
  void EmitPush(const DecodedInsn& d);
  void EmitPop(const DecodedInsn& d);
  void EmitPusha(const DecodedInsn& d);
  void EmitPopa(const DecodedInsn& d);
  void EmitLeave(const DecodedInsn& d);
  void EmitLoadOperand(const DecodedInsn& d, const ZydisDecodedOperand& op,
                       const asmjit::x86::Gp& dst);
  // emit_control.cpp
  void EmitCall(const DecodedInsn& d, InsnKind kind);
  void EmitRet(const DecodedInsn& d);
  void EmitJcc(const DecodedInsn& d);
  void EmitJcxzOrLoop(const DecodedInsn& d);
  void EmitDirectJump(uint32_t target);
  void EmitIndirectJumpR10();
  void EmitJmpAbsolute(const uint8_t* target);
  uint32_t BranchTarget(const DecodedInsn& d) const;
  // emit_misc.cpp
  void EmitString(const DecodedInsn& d);
  void EmitXlat(const DecodedInsn& d);
  void EmitSalc();
  void EmitCallout(const DecodedInsn& d, uint8_t length, CalloutKind kind);
  /// Leaves through a `kind` callout for `d` if the 32-bit `value` is zero
  /// (`if_zero`) or non-zero, without touching the flags; clobbers rcx_save.
  void EmitCalloutIf(const DecodedInsn& d, const asmjit::x86::Gp& value, bool if_zero,
                     const asmjit::x86::Gp& rcx_save, CalloutKind kind);
  void EmitInterruptWindowExitIfR10(const DecodedInsn& d);
  void EmitMaskR10(uint32_t mask);
  void EmitPushf();
  void EmitPopf(const DecodedInsn& d);

  asmjit::x86::Assembler& a_;
  Block* block_;
  const HostStubs& stubs_;
  const TranslatorOptions& options_;
  uint64_t base_;                         ///< Executable address of the block's first byte.
  bool toggle_operand_size_ = false;      ///< For the instruction being emitted (16-bit code).
  const DecodedInsn* current_ = nullptr;  ///< The instruction being emitted.
  size_t next_exit_ = 0;
  std::vector<asmjit::Label> exit_labels_;
};

/// Number of direct exits (patchable slots) a scanned block needs; the
/// exit slots are sized before emission so their addresses are stable.
size_t CountBlockExits(const std::vector<ScannedInsn>& insns, bool falls_through);

}  // namespace bt86
