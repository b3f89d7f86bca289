// Control transfers emulated in C++: far JMP, CALL and RET including call
// gates (Intel SDM Vol. 2A JMP, CALL and Vol. 2B RET "far" pseudo-code;
// Vol. 3A 5.8 call gates), and the near forms when the code segment is
// 16-bit (the new IP wraps at 16 bits, which translated code does not
// model). Hardware task switches (task gates, TSS selectors) stop the guest
// with a clear report.
#include <fmt/core.h>

#include <cstring>

#include "runtime/vcpu.h"

namespace bt86 {
namespace {

constexpr uint8_t kVecNp = 11, kVecSs = 12, kVecGp = 13;

}  // namespace

namespace {

// Jcc's condition from its tttn field (SDM Vol. 2 Appendix B.1.4.7).
bool ConditionHolds(uint8_t tttn, uint64_t rflags) {
  const bool cf = rflags & 1, pf = rflags & 4, zf = rflags & 0x40, sf = rflags & 0x80,
             of = rflags & 0x800;
  bool r = false;
  switch (tttn >> 1) {
    case 0:
      r = of;
      break;
    case 1:
      r = cf;
      break;
    case 2:
      r = zf;
      break;
    case 3:
      r = cf || zf;
      break;
    case 4:
      r = sf;
      break;
    case 5:
      r = pf;
      break;
    case 6:
      r = sf != of;
      break;
    default:
      r = zf || sf != of;
      break;
  }
  return (tttn & 1) ? !r : r;
}

}  // namespace

bool Vcpu::IsFarTransfer(const DecodedInsn& d) {
  if (d.insn.mnemonic == ZYDIS_MNEMONIC_RET) {
    const uint8_t op = d.opcode_byte();
    return op == 0xCA || op == 0xCB;
  }
  const ZydisDecodedOperand& o = d.ops[0];
  return o.type == ZYDIS_OPERAND_TYPE_POINTER ||
         (o.type == ZYDIS_OPERAND_TYPE_MEMORY && (o.size == 32 + 16 || o.size == 16 + 16) &&
          (d.insn.raw.modrm.reg == 3 || d.insn.raw.modrm.reg == 5));
}

Vcpu::Next Vcpu::EmulateNearTransfer(const DecodedInsn& d, const CalloutSite& site) {
  VcpuContext& c = *ctx_;
  const int size = d.insn.operand_width / 8;
  const uint32_t mask = size == 2 ? 0xFFFFu : 0xFFFFFFFFu;
  const uint32_t next_eip = site.eip + site.length;
  const ZydisMnemonic m = d.insn.mnemonic;
  const uint32_t stack_base = cpu_.seg[kSs].base;
  if (m == ZYDIS_MNEMONIC_RET) {
    uint32_t target = 0;
    if (!ReadLinear(stack_base + c.gpr[kEsp], &target, size)) {
      return Raise(ExceptionWithCode(kVecSs, 0));
    }
    const uint32_t release = d.insn.operand_count_visible > 0 ? uint32_t(d.ops[0].imm.value.u) : 0;
    c.gpr[kEsp] += size + release;
    c.eip = target & mask;
    return Next::kContinue;
  }
  uint32_t target = next_eip;
  const ZydisDecodedOperand& o = d.ops[0];
  if (o.type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
    const bool taken =
        d.insn.meta.category != ZYDIS_CATEGORY_COND_BR ||
        ConditionHolds(d.opcode_byte() == 0x0F ? d.bytes[d.insn.raw.prefix_count + 1] & 0xF
                                               : d.opcode_byte() & 0xF,
                       c.rflags);
    if (taken) target = next_eip + uint32_t(o.imm.value.s);
  } else if (o.type == ZYDIS_OPERAND_TYPE_REGISTER) {
    target = ReadGpr(o.reg.value);
  } else {
    uint32_t at = 0;
    ComputeLinearAddress(d, o, &at);
    if (!ReadLinear(at, &target, size)) return StopOnMemoryFault(at, site);
  }
  target &= mask;
  if (m == ZYDIS_MNEMONIC_CALL && !PushValue(next_eip, size)) {
    return Raise(ExceptionWithCode(kVecSs, 0));
  }
  c.eip = target;
  return Next::kContinue;
}

Vcpu::Next Vcpu::EmulateFarTransfer(const DecodedInsn& d, const CalloutSite& site) {
  VcpuContext& c = *ctx_;
  const int size = d.insn.operand_width / 8;
  const uint32_t next_eip = site.eip + site.length;
  const ZydisMnemonic m = d.insn.mnemonic;
  const SegmentCache& ss_now = cpu_.seg[kSs];
  auto stack_at = [&](uint32_t esp) { return ss_now.base + (ss_now.big() ? esp : esp & 0xFFFF); };

  if (m == ZYDIS_MNEMONIC_RET) {
    // RETF [imm16]
    const uint32_t release = d.insn.operand_count_visible > 0 ? uint32_t(d.ops[0].imm.value.u) : 0;
    const uint32_t sp = c.gpr[kEsp];
    uint32_t new_eip = 0, new_cs = 0;
    if (!ReadLinear(stack_at(sp), &new_eip, size) ||
        !ReadLinear(stack_at(sp + size), &new_cs, size)) {
      return Raise(ExceptionWithCode(kVecSs, 0));
    }
    SegmentCache cs;
    if (Fault f = CheckReturnCodeSegment(uint16_t(new_cs & 0xFFFF), &cs)) return Raise(*f);
    const uint8_t rpl = new_cs & 3;
    if (size == 2) new_eip &= 0xFFFF;
    if (new_eip > cs.limit) return Raise(ExceptionWithCode(kVecGp, 0));
    if (rpl == cpu_.cpl) {
      SetSegment(kCs, cs);
      c.gpr[kEsp] = sp + 2 * size + release;
      c.eip = new_eip;
      return Next::kContinue;
    }
    // Return to an outer level: the caller's SS:ESP follow the parameters.
    uint32_t new_esp = 0, new_ss = 0;
    const uint32_t outer = sp + 2 * size + release;
    if (!ReadLinear(stack_at(outer), &new_esp, size) ||
        !ReadLinear(stack_at(outer + size), &new_ss, size)) {
      return Raise(ExceptionWithCode(kVecSs, 0));
    }
    SegmentCache ss;
    if (Fault f = CheckReturnStackSegment(uint16_t(new_ss & 0xFFFF), rpl, &ss)) return Raise(*f);
    SetSegment(kCs, cs);
    SetSegment(kSs, ss);
    cpu_.cpl = rpl;
    c.gpr[kEsp] = new_esp + release;
    c.eip = new_eip;
    NullInaccessibleDataSegments(rpl);
    return Next::kContinue;
  }

  // JMP/CALL ptr16:32 or m16:32.
  uint32_t offset = 0;
  uint16_t selector = 0;
  if (d.ops[0].type == ZYDIS_OPERAND_TYPE_POINTER) {
    offset = uint32_t(d.ops[0].ptr.offset);
    selector = d.ops[0].ptr.segment;
  } else {
    uint32_t at = 0;
    ComputeLinearAddress(d, d.ops[0], &at);
    if (!ReadLinear(at, &offset, size) || !ReadLinear(at + size, &selector, 2)) {
      return StopOnMemoryFault(at, site);
    }
  }
  if (size == 2) offset &= 0xFFFF;
  const bool call = m == ZYDIS_MNEMONIC_CALL;
  const uint32_t sel_error = selector & 0xFFFC;
  if (sel_error == 0) return Raise(ExceptionWithCode(kVecGp, 0));
  Descriptor desc;
  if (Fault f = ReadDescriptor(selector, &desc)) return Raise(*f);
  const uint8_t rpl = selector & 3;

  uint16_t target_sel = selector;
  Descriptor target = desc;
  uint8_t params = 0;
  bool through_gate = false;
  bool gate32 = true;
  if (desc.system()) {
    const uint8_t t = desc.type();
    if (t == kTaskGate || t == kTss16Available || t == kTss32Available) {
      return StopWith(
          RunResult::Kind::kUnsupported,
          fmt::format("unsupported: hardware task switch by far {} at eip={:08x}: "
                      "{}\n{}",
                      call ? "call" : "jmp", site.eip,
                      DescribeInsn(site.eip, site.bytes, site.length), DumpRegisters()));
    }
    if (t != kCallGate32 && t != kCallGate16) return Raise(ExceptionWithCode(kVecGp, sel_error));
    if (desc.dpl() < cpu_.cpl || desc.dpl() < rpl) {
      return Raise(ExceptionWithCode(kVecGp, sel_error));
    }
    if (!desc.present()) return Raise(ExceptionWithCode(kVecNp, sel_error));
    through_gate = true;
    gate32 = t == kCallGate32;
    target_sel = desc.gate_selector();
    offset = gate32 ? desc.gate_offset() : (desc.gate_offset() & 0xFFFF);
    params = desc.gate_param_count();
    if ((target_sel & 0xFFFC) == 0) return Raise(ExceptionWithCode(kVecGp, 0));
    if (Fault f = ReadDescriptor(target_sel, &target)) return Raise(*f);
  }
  SegmentCache cs = target.ToCache(target_sel);
  const uint32_t target_error = target_sel & 0xFFFC;
  if (!cs.is_code()) return Raise(ExceptionWithCode(kVecGp, target_error));
  // Privilege (SDM 5.8.2 and 5.8.6): conforming code needs DPL <= CPL;
  // non-conforming code needs DPL == CPL directly, DPL <= CPL through a
  // call gate (and == CPL for a jump through one), RPL <= CPL directly.
  bool allowed;
  if (cs.conforming()) {
    allowed = target.dpl() <= cpu_.cpl;
  } else if (through_gate) {
    allowed = call ? target.dpl() <= cpu_.cpl : target.dpl() == cpu_.cpl;
  } else {
    allowed = target.dpl() == cpu_.cpl && rpl <= cpu_.cpl;
  }
  if (!allowed) return Raise(ExceptionWithCode(kVecGp, target_error));
  if (!target.present()) return Raise(ExceptionWithCode(kVecNp, target_error));
  if (offset > cs.limit) return Raise(ExceptionWithCode(kVecGp, 0));
  // Loading CS sets the accessed bit of its descriptor (SDM 3.4.5.1).
  if (!(target.high & 0x100)) {
    target.high |= 0x100;
    WriteDescriptorHigh(target_sel, target.high);
    cs.attributes |= 1;
  }

  const uint8_t new_cpl = cs.conforming() ? cpu_.cpl : target.dpl();
  cs.selector = uint16_t(target_error | new_cpl);
  const int push = through_gate ? (gate32 ? 4 : 2) : size;

  if (!call) {
    SetSegment(kCs, cs);
    c.eip = offset;
    return Next::kContinue;
  }
  if (new_cpl == cpu_.cpl) {
    const uint32_t sp = c.gpr[kEsp];
    uint8_t frame[8];
    const uint32_t old_cs = cpu_.seg[kCs].selector;
    std::memcpy(frame, &next_eip, push);
    std::memcpy(frame + push, &old_cs, push);
    if (!WriteLinear(stack_at(sp - 2 * push), frame, 2 * push)) {
      return Raise(ExceptionWithCode(kVecSs, 0));
    }
    SetSegment(kCs, cs);
    c.gpr[kEsp] = sp - 2 * push;
    c.eip = offset;
    return Next::kContinue;
  }

  // Call gate to an inner level: the new stack from the TSS receives the
  // caller's SS:ESP, `params` parameters copied from the caller's stack, CS
  // and EIP (SDM 5.8.5).
  const bool tss32 = cpu_.tr.type() == kTss32Available || cpu_.tr.type() == kTss32Busy;
  const uint32_t esp_at = tss32 ? 4 + 8u * new_cpl : 2 + 4u * new_cpl;
  const uint32_t ss_at = tss32 ? 8 + 8u * new_cpl : 4 + 4u * new_cpl;
  const uint32_t tr_error = cpu_.tr.selector & 0xFFFC;
  uint32_t new_esp = 0;
  uint16_t new_ss = 0;
  if (!cpu_.tr.usable || ss_at + 1 > cpu_.tr.limit ||
      !ReadLinear(cpu_.tr.base + esp_at, &new_esp, tss32 ? 4 : 2) ||
      !ReadLinear(cpu_.tr.base + ss_at, &new_ss, 2)) {
    return Raise(ExceptionWithCode(10, tr_error));
  }
  Descriptor stack;
  const uint32_t ss_error = new_ss & 0xFFFC;
  if (ss_error == 0 || (new_ss & 3) != new_cpl || ReadDescriptor(new_ss, &stack)) {
    return Raise(ExceptionWithCode(10, ss_error));
  }
  SegmentCache ss = stack.ToCache(new_ss);
  if (stack.system() || !ss.writable() || stack.dpl() != new_cpl) {
    return Raise(ExceptionWithCode(10, ss_error));
  }
  if (!stack.present()) return Raise(ExceptionWithCode(kVecSs, ss_error));
  // Frame, lowest address first: eip cs params... esp ss.
  uint8_t frame[4 * (4 + 31)];
  int n = 0;
  auto put = [&](uint32_t v) {
    std::memcpy(frame + n * push, &v, push);
    ++n;
  };
  put(next_eip);
  put(cpu_.seg[kCs].selector);
  for (int i = 0; i < params; ++i) {
    uint32_t v = 0;
    if (!ReadLinear(stack_at(c.gpr[kEsp] + i * push), &v, push)) {
      return Raise(ExceptionWithCode(kVecSs, 0));
    }
    put(v);
  }
  put(c.gpr[kEsp]);
  put(cpu_.seg[kSs].selector);
  const uint32_t frame_bytes = uint32_t(n * push);
  const uint32_t top = new_esp - frame_bytes;
  if (!WriteLinear(ss.base + top, frame, frame_bytes)) return Raise(ExceptionWithCode(kVecSs, 0));
  SetSegment(kSs, ss);
  SetSegment(kCs, cs);
  cpu_.cpl = new_cpl;
  c.gpr[kEsp] = top;
  c.eip = offset;
  return Next::kContinue;
}

}  // namespace bt86
