// Control transfers. Direct branches leave through exit slots: a rel32 jump
// to the slot's stub, patched later to jump straight to the target block
// (chaining). Indirect branches and returns go through the inline lookup
// table in the vCPU area, written without touching the flags:
//
//   movzx r11d, r10w                  ; slot = target & 0xffff
//   (mode != 0: r10 += mode << 32)
//   mov   r9, rcx                     ; rcx is needed by jrcxz
//   mov   rcx, [r15 + keys + r11*8]   ; keys hold -(eip + (mode << 32))
//   lea   rcx, [rcx + r10]            ; zero iff the slot holds this eip and mode
//   jrcxz hit
//   mov   rcx, r9
//   jmp   exit_indirect               ; miss: the run loop fills the slot
// hit:
//   mov   rcx, r9
//   jmp   [r15 + targets + r11*8]
#include "bt86/check.h"
#include "translator/block_emitter.h"

namespace bt86 {

using namespace asmjit;

uint32_t BlockEmitter::BranchTarget(const DecodedInsn& d) const {
  return uint32_t(d.next_eip() + uint32_t(d.ops[0].imm.value.s));
}

void BlockEmitter::EmitJmpAbsolute(const uint8_t* target) {
  const uint64_t here = base_ + a_.offset();
  a_.db(0xE9);
  a_.dd(uint32_t(int32_t(int64_t(uintptr_t(target)) - int64_t(here + 5))));
}

void BlockEmitter::EmitDirectJump(uint32_t target) {
  BT86_CHECK(next_exit_ < block_->exits.size(), "exit count, block %08x", block_->key.eip);
  ExitSlot& slot = block_->exits[next_exit_];
  slot.owner = block_;
  slot.target_eip = target;
  const size_t start = a_.offset();
  a_.jmp(exit_labels_[next_exit_]);
  BT86_CHECK(a_.offset() - start == 5, "unpatchable jmp, block %08x", block_->key.eip);
  slot.patch_offset = uint32_t(a_.offset() - 4);
  next_exit_++;
}

void BlockEmitter::EmitFallthroughExit(uint32_t target) {
  EmitDirectJump(target);
}

void BlockEmitter::EmitIndirectJumpR10() {
  if (!options_.inline_lookup) {
    EmitJmpAbsolute(stubs_.exit_indirect);
    return;
  }
  Label hit = a_.newLabel();
  a_.movzx(x86::r11d, x86::r10w);
  if (block_->key.mode != 0) {
    // Keys carry the mode above the eip, so blocks translated for another
    // CPL or code size never match (CodeCache::FillLookup).
    a_.mov(x86::r9, uint64_t(block_->key.mode) << 32);
    a_.lea(x86::r10, x86::ptr(x86::r10, x86::r9));
  }
  a_.mov(x86::r9, x86::rcx);
  a_.mov(x86::rcx, x86::ptr(x86::r15, x86::r11, 3, int32_t(kLookupKeysOffset), 8));
  a_.lea(x86::rcx, x86::ptr(x86::rcx, x86::r10));
  a_.jecxz(x86::rcx, hit);  // jrcxz
  a_.mov(x86::rcx, x86::r9);
  EmitJmpAbsolute(stubs_.exit_indirect);
  a_.bind(hit);
  a_.mov(x86::rcx, x86::r9);
  a_.jmp(x86::ptr(x86::r15, x86::r11, 3, int32_t(kLookupTargetsOffset), 8));
}

void BlockEmitter::EmitCall(const DecodedInsn& d, InsnKind kind) {
  if (kind == InsnKind::kCallRel) {
    a_.mov(StackMem(-4, 4, true), d.next_eip());
    a_.lea(x86::esp, x86::ptr(x86::esp, -4));
    EmitDirectJump(BranchTarget(d));
    return;
  }
  EmitLoadOperand(d, d.ops[0], x86::r10d);  // may fault: before the push
  a_.mov(StackMem(-4, 4, true), d.next_eip());
  a_.lea(x86::esp, x86::ptr(x86::esp, -4));
  EmitIndirectJumpR10();
}

void BlockEmitter::EmitRet(const DecodedInsn& d) {
  const int32_t release = d.insn.operand_count_visible > 0 ? int32_t(d.ops[0].imm.value.u) : 0;
  a_.mov(x86::r10d, StackMem(0, 4));
  a_.lea(x86::esp, x86::ptr(x86::esp, 4 + release));
  EmitIndirectJumpR10();
}

void BlockEmitter::EmitJcc(const DecodedInsn& d) {
  // tttn condition: low nibble of 7x (rel8) or of the byte after 0F (rel32).
  const uint8_t op = d.opcode_byte();
  const uint8_t tttn = (op == 0x0F ? d.bytes[d.insn.raw.prefix_count + 1] : op) & 0x0F;
  BT86_CHECK(next_exit_ + 1 < block_->exits.size(), "exit count, block %08x", block_->key.eip);
  ExitSlot& taken = block_->exits[next_exit_];
  taken.owner = block_;
  taken.target_eip = BranchTarget(d);
  const size_t start = a_.offset();
  a_.j(static_cast<x86::CondCode>(tttn), exit_labels_[next_exit_]);
  BT86_CHECK(a_.offset() - start == 6, "unpatchable jcc, block %08x", block_->key.eip);
  taken.patch_offset = uint32_t(a_.offset() - 4);
  next_exit_++;
  EmitDirectJump(d.next_eip());
}

void BlockEmitter::EmitJcxzOrLoop(const DecodedInsn& d) {
  // The rel8 forms with 0x67 test/decrement ecx in 64-bit mode and leave
  // the flags alone; they jump to a local rel32 exit.
  Label taken = a_.newLabel();
  switch (d.insn.mnemonic) {
    case ZYDIS_MNEMONIC_JECXZ:
      a_.jecxz(x86::ecx, taken);
      break;
    case ZYDIS_MNEMONIC_LOOP:
      a_.loop(x86::ecx, taken);
      break;
    case ZYDIS_MNEMONIC_LOOPE:
      a_.loope(x86::ecx, taken);
      break;
    default:
      a_.loopne(x86::ecx, taken);
      break;
  }
  const uint32_t target = BranchTarget(d);
  EmitDirectJump(d.next_eip());
  a_.bind(taken);
  EmitDirectJump(target);
}

}  // namespace bt86
