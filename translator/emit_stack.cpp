// Stack instructions. In 64-bit mode push/pop/pusha/popa/leave are 64 bits
// wide (or invalid), so each becomes explicit gs:[esp] accesses and an
// `lea esp` that leaves the flags alone. Every access that can fault comes
// before esp (or any register) changes.
#include "translator/block_emitter.h"

namespace bt86 {

using namespace asmjit;

namespace {

x86::Gp Sized(int id, uint32_t bytes) {
  if (bytes == 2) return x86::gpw(id);
  return x86::gpd(id);
}

x86::Gp HostReg(ZydisRegister r) {
  const int id = ZydisRegisterGetId(r);
  switch (ZydisRegisterGetClass(r)) {
    case ZYDIS_REGCLASS_GPR8:
      if (id < 4) return x86::gpb_lo(id);
      return x86::gpb_hi(id - 4);
    case ZYDIS_REGCLASS_GPR16:
      return x86::gpw(id);
    default:
      return x86::gpd(id);
  }
}

}  // namespace

void BlockEmitter::EmitLoadOperand(const DecodedInsn& d, const ZydisDecodedOperand& op,
                                   const x86::Gp& dst) {
  if (op.type == ZYDIS_OPERAND_TYPE_REGISTER) {
    a_.mov(dst, HostReg(op.reg.value));
  } else {
    a_.mov(dst, GuestMem(d, op, dst.size()));
  }
}

void BlockEmitter::EmitPush(const DecodedInsn& d) {
  const uint32_t size = d.insn.operand_width / 8;
  const ZydisDecodedOperand& src = d.ops[0];
  switch (src.type) {
    case ZYDIS_OPERAND_TYPE_REGISTER:
      a_.mov(StackMem(-int32_t(size), size, true), HostReg(src.reg.value));
      break;
    case ZYDIS_OPERAND_TYPE_IMMEDIATE:
      a_.mov(StackMem(-int32_t(size), size, true),
             size == 2 ? uint32_t(uint16_t(src.imm.value.u)) : uint32_t(src.imm.value.u));
      break;
    default:
      EmitLoadOperand(d, src, Sized(10, size));
      a_.mov(StackMem(-int32_t(size), size, true), Sized(10, size));
      break;
  }
  a_.lea(x86::esp, x86::ptr(x86::esp, -int32_t(size)));
}

void BlockEmitter::EmitPop(const DecodedInsn& d) {
  const uint32_t size = d.insn.operand_width / 8;
  const ZydisDecodedOperand& dst = d.ops[0];
  if (dst.type == ZYDIS_OPERAND_TYPE_REGISTER) {
    const int id = ZydisRegisterGetId(dst.reg.value);
    if (id == kEsp && size == 4) {
      a_.mov(x86::esp, StackMem(0, 4));  // pop esp: esp = the value read
      return;
    }
    if (id == kEsp) {
      a_.mov(x86::r10w, StackMem(0, 2));
      a_.lea(x86::esp, x86::ptr(x86::esp, 2));
      a_.mov(x86::sp, x86::r10w);
      return;
    }
    a_.mov(Sized(id, size), StackMem(0, size));
    a_.lea(x86::esp, x86::ptr(x86::esp, int32_t(size)));
    return;
  }
  // pop m: the address is computed with esp already incremented (SDM POP).
  const bool esp_based = dst.mem.base == ZYDIS_REGISTER_ESP;
  a_.mov(Sized(10, size), StackMem(0, size));
  a_.mov(GuestMem(d, dst, size, esp_based ? int32_t(size) : 0, true), Sized(10, size));
  a_.lea(x86::esp, x86::ptr(x86::esp, int32_t(size)));
}

void BlockEmitter::EmitPusha(const DecodedInsn& d) {
  // Pushes eax ecx edx ebx (original) esp ebp esi edi. The lowest slot is
  // written first so a fault on the lower page happens before any store.
  const uint32_t size = d.insn.operand_width / 8;
  a_.mov(StackMem(-8 * int32_t(size), size, true), Sized(kEdi, size));
  for (int reg = kEax; reg < kEdi; ++reg) {
    a_.mov(StackMem(-(reg + 1) * int32_t(size), size, true), Sized(reg, size));
  }
  a_.lea(x86::esp, x86::ptr(x86::esp, -8 * int32_t(size)));
}

void BlockEmitter::EmitPopa(const DecodedInsn& d) {
  // Loads edi esi ebp (skip) ebx edx ecx eax from esp upwards. The top slot
  // is read first into r10 and the bottom one next, so both pages are known
  // readable before the first register changes.
  const uint32_t size = d.insn.operand_width / 8;
  a_.mov(Sized(10, size), StackMem(7 * int32_t(size), size));
  for (int reg = kEdi; reg > kEax; --reg) {
    if (reg == kEsp) continue;
    a_.mov(Sized(reg, size), StackMem((kEdi - reg) * int32_t(size), size));
  }
  a_.mov(Sized(kEax, size), Sized(10, size));
  a_.lea(x86::esp, x86::ptr(x86::esp, 8 * int32_t(size)));
}

void BlockEmitter::EmitLeave(const DecodedInsn& d) {
  // esp = ebp; ebp = pop.
  const uint32_t size = d.insn.operand_width / 8;
  a_.mov(Sized(10, size), StackRelative(x86::ebp, 0, size));
  a_.lea(x86::esp, x86::ptr(x86::ebp, int32_t(size)));
  a_.mov(Sized(kEbp, size), Sized(10, size));
}

}  // namespace bt86
