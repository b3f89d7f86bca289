// String instructions, xlat, salc, the virtual IF and callouts.
//
// String instructions: in 64-bit mode es:[rdi] ignores segment overrides, so
// gs cannot confine them. Instead rsi/rdi are biased by the window base (r14)
// for the duration of the native instruction. The window is 4 GiB aligned,
// so the low 32 bits of a biased register are the guest's register: after
// the instruction (and in a fault mid-way through a rep) `mov esi, esi`
// recovers it. Running off either end of the window lands in bt86's 4 GiB
// guard reservation, never in host memory.
#include <cstring>

#include "translator/block_emitter.h"

namespace bt86 {

using namespace asmjit;

namespace {

bool UsesSource(ZydisMnemonic m) {
  switch (m) {
    case ZYDIS_MNEMONIC_MOVSB:
    case ZYDIS_MNEMONIC_MOVSW:
    case ZYDIS_MNEMONIC_MOVSD:
    case ZYDIS_MNEMONIC_LODSB:
    case ZYDIS_MNEMONIC_LODSW:
    case ZYDIS_MNEMONIC_LODSD:
    case ZYDIS_MNEMONIC_CMPSB:
    case ZYDIS_MNEMONIC_CMPSW:
    case ZYDIS_MNEMONIC_CMPSD:
      return true;
    default:
      return false;
  }
}

bool UsesDestination(ZydisMnemonic m) {
  switch (m) {
    case ZYDIS_MNEMONIC_LODSB:
    case ZYDIS_MNEMONIC_LODSW:
    case ZYDIS_MNEMONIC_LODSD:
      return false;
    default:
      return true;
  }
}

}  // namespace

void BlockEmitter::EmitString(const DecodedInsn& d) {
  const bool src = UsesSource(d.insn.mnemonic);
  const bool dst = UsesDestination(d.insn.mnemonic);
  if (src) a_.lea(x86::rsi, x86::ptr(x86::rsi, x86::r14));
  if (dst) a_.lea(x86::rdi, x86::ptr(x86::rdi, x86::r14));
  if (d.insn.attributes & ZYDIS_ATTRIB_HAS_OPERANDSIZE) a_.db(0x66);
  if (d.insn.attributes & ZYDIS_ATTRIB_HAS_REPNE) {
    a_.db(0xF2);
  } else if (d.insn.attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE)) {
    a_.db(0xF3);
  }
  a_.db(d.opcode_byte());
  if (src) a_.mov(x86::esi, x86::esi);
  if (dst) a_.mov(x86::edi, x86::edi);
}

void BlockEmitter::EmitXlat(const DecodedInsn& d) {
  // al = [ebx + al] in the instruction's data segment.
  a_.movzx(x86::r8d, x86::al);
  a_.lea(x86::r8d, x86::ptr(x86::ebx, x86::r8d));
  for (int i = 0; i < d.insn.operand_count; ++i) {
    const auto& m = d.ops[i];
    if (m.type != ZYDIS_OPERAND_TYPE_MEMORY) continue;
    if (SegmentChecked(ZydisRegisterGetId(m.mem.segment))) {
      EmitSegmentCheck(ZydisRegisterGetId(m.mem.segment), 1, false);
    }
    if (m.mem.segment == ZYDIS_REGISTER_FS || m.mem.segment == ZYDIS_REGISTER_GS || !flat()) {
      EmitAddSegmentBaseToR8(ZydisRegisterGetId(m.mem.segment));
    }
  }
  x86::Mem mem = x86::ptr(x86::r8d, 0, 1);
  mem.setSegment(x86::gs);
  a_.mov(x86::al, mem);
}

void BlockEmitter::EmitSalc() {
  // al = CF ? 0xff : 0, without touching the flags.
  a_.mov(x86::r8d, 0);
  a_.mov(x86::r10d, 0xFF);
  a_.cmovc(x86::r8d, x86::r10d);
  a_.mov(x86::al, x86::r8b);
}

void BlockEmitter::EmitCallout(const DecodedInsn& d, uint8_t length, CalloutKind kind) {
  CalloutSite& site = block_->callouts.emplace_back();
  if (length > 0) site.decoded = &block_->callout_insns.emplace_back(d);
  site.eip = d.eip;
  site.length = length;
  std::memcpy(site.bytes, d.bytes, sizeof(site.bytes));
  site.kind = kind;
  a_.mov(x86::r8, uint64_t(uintptr_t(&site)));
  EmitJmpAbsolute(stubs_.exit_callout);
}

namespace {

constexpr uint32_t kArithmeticFlags = 0xCD5;     // CF PF AF ZF SF DF OF
constexpr uint32_t kPopfSystemFlags = 0x247100;  // TF IOPL NT AC ID (not RF, VM)

x86::Mem CtxField(size_t offset, uint32_t size) {
  return x86::ptr(x86::r15, int32_t(offset), size);
}

}  // namespace

void BlockEmitter::EmitCalloutIf(const DecodedInsn& d, const x86::Gp& value, bool if_zero,
                                 const x86::Gp& rcx_save, CalloutKind kind) {
  // The host flags are the guest's, so the test is jrcxz on a borrowed rcx.
  Label jrcxz_taken = a_.newLabel(), done = a_.newLabel();
  a_.mov(rcx_save, x86::rcx);
  a_.mov(x86::ecx, value);
  a_.jecxz(x86::rcx, jrcxz_taken);
  a_.mov(x86::rcx, rcx_save);
  if (if_zero) {
    a_.jmp(done);
    a_.bind(jrcxz_taken);
    a_.mov(x86::rcx, rcx_save);
    EmitCallout(d, d.length(), kind);
  } else {
    EmitCallout(d, d.length(), kind);
    a_.bind(jrcxz_taken);
    a_.mov(x86::rcx, rcx_save);
  }
  a_.bind(done);
}

void BlockEmitter::EmitInterruptWindowExitIfR10(const DecodedInsn& d) {
  EmitCalloutIf(d, x86::r10d, false, x86::r9, CalloutKind::kInterruptWindow);
}

void BlockEmitter::EmitMaskR10(uint32_t mask) {
  // r10 &= mask without touching the flags: pext then pdep (BMI2).
  a_.mov(x86::r9d, mask);
  a_.pext(x86::r10d, x86::r10d, x86::r9d);
  a_.pdep(x86::r10d, x86::r10d, x86::r9d);
}

void BlockEmitter::EmitPushf() {
  // image = (host flags & arithmetic|DF) | 2 | IF << 9 | system bits. The
  // host flags are read with pushfq on the context's scratch stack.
  a_.mov(CtxField(offsetof(VcpuContext, scratch_rsp), 8), x86::rsp);
  a_.lea(x86::rsp, x86::ptr(x86::r15, int32_t(kScratchStackTop)));
  a_.pushfq();
  a_.pop(x86::r10);
  a_.mov(x86::rsp, CtxField(offsetof(VcpuContext, scratch_rsp), 8));
  EmitMaskR10(kArithmeticFlags);
  a_.mov(x86::r11d, x86::r10d);
  a_.mov(x86::r10d, CtxField(offsetof(VcpuContext, system_eflags), 4));
  EmitMaskR10(kPopfSystemFlags);  // RF and VM read as 0 in the image
  a_.lea(x86::r11d, x86::ptr(x86::r11, x86::r10, 0, 2));
  a_.movzx(x86::r10d, CtxField(offsetof(VcpuContext, virtual_if), 1));
  for (int i = 0; i < 3; ++i) a_.lea(x86::r10d, x86::ptr(0, x86::r10, 3));  // IF << 9
  a_.lea(x86::r10d, x86::ptr(x86::r11, x86::r10));
  // r10 survives the stack operand's address code (segment checks use
  // r11-r13, the base r9).
  a_.mov(StackMem(-4, 4, true), x86::r10d);
  a_.lea(x86::esp, x86::ptr(x86::esp, -4));
}

void BlockEmitter::EmitPopf(const DecodedInsn& d) {
  // Ring 0: IF, IOPL and the system bits are all writable (SDM POPF).
  a_.mov(x86::r11d, StackMem(0, 4));  // the only access that can fault
  a_.lea(x86::esp, x86::ptr(x86::esp, 4));
  a_.mov(x86::r10d, x86::r11d);
  EmitMaskR10(1u << 9);
  a_.mov(x86::r9d, 9);
  a_.shrx(x86::r10d, x86::r10d, x86::r9d);  // IF as 0/1 (BMI2: no flags)
  a_.mov(CtxField(offsetof(VcpuContext, virtual_if), 1), x86::r10b);
  a_.mov(x86::r10d, x86::r11d);
  EmitMaskR10(kPopfSystemFlags);
  a_.mov(CtxField(offsetof(VcpuContext, system_eflags), 4), x86::r10d);
  // The arithmetic flags and DF go to the host flags (IF stays set there).
  a_.mov(x86::r10d, x86::r11d);
  EmitMaskR10(kArithmeticFlags);
  a_.lea(x86::r10d, x86::ptr(x86::r10, 0x202));
  a_.mov(CtxField(offsetof(VcpuContext, scratch_rsp), 8), x86::rsp);
  a_.lea(x86::rsp, x86::ptr(x86::r15, int32_t(kScratchStackTop)));
  a_.push(x86::r10);
  a_.popfq();
  a_.mov(x86::rsp, CtxField(offsetof(VcpuContext, scratch_rsp), 8));
  // Leave when TF was set (single-step starts) or an interrupt is pending
  // (IF may have just been set): the run loop decides.
  a_.mov(x86::r10d, x86::r11d);
  EmitMaskR10(1u << 8);
  a_.movzx(x86::r9d, CtxField(offsetof(VcpuContext, irq_pending), 1));
  a_.lea(x86::r10d, x86::ptr(x86::r10, x86::r9));
  EmitInterruptWindowExitIfR10(d);
}

void BlockEmitter::EmitEntryPoll() {
  for (size_t i = 0; i < block_->exits.size(); ++i) exit_labels_.push_back(a_.newLabel());
  a_.mov(x86::r9d, x86::dword_ptr(x86::r15, int32_t(kPollOffset)));
}

void BlockEmitter::EmitExitStubs() {
  for (size_t i = 0; i < exit_labels_.size(); ++i) {
    a_.bind(exit_labels_[i]);
    block_->exits[i].stub_offset = uint32_t(a_.offset());
    a_.mov(x86::r8, uint64_t(uintptr_t(&block_->exits[i])));
    EmitJmpAbsolute(stubs_.exit_branch);
  }
}

void BlockEmitter::EmitInsn(const ScannedInsn& s) {
  const DecodedInsn& d = s.d;
  current_ = &d;
  toggle_operand_size_ = s.toggle_operand_size;
  switch (s.cls.kind) {
    case InsnKind::kIdent:
      if (s.check_divisor) EmitDivisorCheck(d);
      if (d.insn.mnemonic == ZYDIS_MNEMONIC_FXSAVE) EmitFxsaveReservedPreload(d);
      EmitIdent(d);
      if (d.insn.mnemonic == ZYDIS_MNEMONIC_FXSAVE || d.insn.mnemonic == ZYDIS_MNEMONIC_FNSAVE ||
          d.insn.mnemonic == ZYDIS_MNEMONIC_FNSTENV) {
        EmitFpuPointerScrub(d);
      }
      break;
    case InsnKind::kIncDecShort:
      EmitIncDecShort(d);
      break;
    case InsnKind::kPush:
      EmitPush(d);
      break;
    case InsnKind::kPop:
      EmitPop(d);
      break;
    case InsnKind::kPusha:
      EmitPusha(d);
      break;
    case InsnKind::kPopa:
      EmitPopa(d);
      break;
    case InsnKind::kLeave:
      EmitLeave(d);
      break;
    case InsnKind::kCallRel:
    case InsnKind::kCallIndirect:
      EmitCall(d, s.cls.kind);
      break;
    case InsnKind::kRet:
      EmitRet(d);
      break;
    case InsnKind::kJmpRel:
      EmitDirectJump(BranchTarget(d));
      break;
    case InsnKind::kJmpIndirect:
      EmitLoadOperand(d, d.ops[0], x86::r10d);
      EmitIndirectJumpR10();
      break;
    case InsnKind::kJcc:
      EmitJcc(d);
      break;
    case InsnKind::kJcxz:
    case InsnKind::kLoop:
      EmitJcxzOrLoop(d);
      break;
    case InsnKind::kString:
      EmitString(d);
      break;
    case InsnKind::kXlat:
      EmitXlat(d);
      break;
    case InsnKind::kSalc:
      EmitSalc();
      break;
    case InsnKind::kCli:
      a_.mov(x86::byte_ptr(x86::r15, int32_t(offsetof(VcpuContext, virtual_if))), 0);
      break;
    case InsnKind::kSti:
      a_.mov(x86::byte_ptr(x86::r15, int32_t(offsetof(VcpuContext, virtual_if))), 1);
      a_.mov(x86::dword_ptr(x86::r15, int32_t(offsetof(VcpuContext, shadow_eip))), d.next_eip());
      a_.movzx(x86::r10d, x86::byte_ptr(x86::r15, int32_t(offsetof(VcpuContext, irq_pending))));
      EmitInterruptWindowExitIfR10(d);
      EmitDirectJump(d.next_eip());
      break;
    case InsnKind::kPushf:
      EmitPushf();
      break;
    case InsnKind::kPopf:
      EmitPopf(d);
      break;
    case InsnKind::kCallout:
      EmitCallout(d, d.length(), CalloutKind::kEmulate);
      break;
    case InsnKind::kUnsupported:
      EmitCallout(d, d.length(),
                  s.failure == CalloutKind::kEmulate ? CalloutKind::kUnsupported : s.failure);
      break;
  }
}

}  // namespace bt86
