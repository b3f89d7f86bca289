// Emulation of the system and sensitive instructions (Intel SDM Vol. 2
// pages of each; Vol. 3A 5.x for the privilege checks): descriptor-table
// registers, segment loads, far transfers, software interrupts, MSRs,
// SYSENTER/SYSEXIT, and the privilege rules for CLI/STI and port I/O at
// CPL > 0. Every instruction checks before it changes anything, so a fault
// leaves the guest state as it was (the saved EIP is the instruction's).
#include <fmt/core.h>

#include "runtime/vcpu.h"

namespace bt86 {
namespace {

constexpr uint8_t kVecBr = 5, kVecUd = 6, kVecNp = 11, kVecGp = 13;
constexpr uint64_t kZfFlag = 1u << 6, kOfFlag = 1u << 11;
constexpr uint32_t kIf = 1u << 9, kVm = 1u << 17, kRf = 1u << 16;

bool IsSegmentRegister(const ZydisDecodedOperand& o) {
  return o.type == ZYDIS_OPERAND_TYPE_REGISTER &&
         ZydisRegisterGetClass(o.reg.value) == ZYDIS_REGCLASS_SEGMENT;
}

}  // namespace

uint32_t Vcpu::ReadGpr(ZydisRegister r) const {
  const int id = ZydisRegisterGetId(r);
  switch (ZydisRegisterGetClass(r)) {
    case ZYDIS_REGCLASS_GPR8:
      return id < 4 ? ctx_->gpr[id] & 0xFF : (ctx_->gpr[id - 4] >> 8) & 0xFF;
    case ZYDIS_REGCLASS_GPR16:
      return ctx_->gpr[id] & 0xFFFF;
    default:
      return ctx_->gpr[id];
  }
}

void Vcpu::WriteGpr(ZydisRegister r, uint32_t v) {
  const int id = ZydisRegisterGetId(r);
  uint32_t& g = ctx_->gpr[ZydisRegisterGetClass(r) == ZYDIS_REGCLASS_GPR8 && id >= 4 ? id - 4 : id];
  switch (ZydisRegisterGetClass(r)) {
    case ZYDIS_REGCLASS_GPR8:
      g = id < 4 ? (g & ~0xFFu) | (v & 0xFF) : (g & ~0xFF00u) | ((v & 0xFF) << 8);
      break;
    case ZYDIS_REGCLASS_GPR16:
      g = (g & ~0xFFFFu) | (v & 0xFFFF);
      break;
    default:
      g = v;
      break;
  }
}

bool Vcpu::ComputeLinearAddress(const DecodedInsn& d, const ZydisDecodedOperand& m, uint32_t* out) {
  uint32_t ea = uint32_t(m.mem.disp.value);
  if (m.mem.base != ZYDIS_REGISTER_NONE) ea += ReadGpr(m.mem.base);
  if (m.mem.index != ZYDIS_REGISTER_NONE) ea += ReadGpr(m.mem.index) * m.mem.scale;
  if (d.insn.address_width == 16) ea &= 0xFFFF;
  const int seg = ZydisRegisterGetId(m.mem.segment);
  *out = cpu_.seg[seg].base + ea;
  return true;
}

bool Vcpu::PushValue(uint32_t value, int size) {
  const uint32_t sp = ctx_->gpr[kEsp] - size;
  if (!WriteLinear(cpu_.seg[kSs].base + sp, &value, size)) return false;
  ctx_->gpr[kEsp] = sp;
  return true;
}

bool Vcpu::IoAllowed(uint16_t port, int size) {
  // SDM 19.5: at CPL <= IOPL any port; otherwise every bit of the access in
  // the TSS I/O permission bitmap must be clear.
  const uint32_t iopl = (ReadEflags() >> 12) & 3;
  if (cpu_.cpl <= iopl) return true;
  const bool tss32 = cpu_.tr.type() == kTss32Available || cpu_.tr.type() == kTss32Busy;
  if (!cpu_.tr.usable || !tss32 || cpu_.tr.limit < 103) return false;
  uint16_t map_base = 0;
  if (!ReadLinear(cpu_.tr.base + 102, &map_base, 2)) return false;
  const uint32_t byte = map_base + port / 8u;
  if (byte + 1 > cpu_.tr.limit) return false;
  uint16_t bits = 0;
  if (!ReadLinear(cpu_.tr.base + byte, &bits, 2)) return false;
  const uint16_t mask = uint16_t(((1u << size) - 1) << (port % 8));
  return (bits & mask) == 0;
}

Vcpu::Next Vcpu::EmulateSystem(const DecodedInsn& d, const CalloutSite& site, bool* handled) {
  *handled = true;
  // Jcc reaches the emulator only in 16-bit code segments.
  if (d.insn.meta.category == ZYDIS_CATEGORY_COND_BR && d.insn.mnemonic != ZYDIS_MNEMONIC_JCXZ &&
      d.insn.mnemonic != ZYDIS_MNEMONIC_JECXZ && d.insn.mnemonic != ZYDIS_MNEMONIC_LOOP &&
      d.insn.mnemonic != ZYDIS_MNEMONIC_LOOPE && d.insn.mnemonic != ZYDIS_MNEMONIC_LOOPNE) {
    return EmulateNearTransfer(d, site);
  }
  VcpuContext& c = *ctx_;
  const uint32_t next_eip = site.eip + site.length;
  const ZydisMnemonic m = d.insn.mnemonic;
  const bool ring0 = cpu_.cpl == 0;
  auto done = [&]() {
    c.eip = next_eip;
    return Next::kContinue;
  };
  auto gp0 = [&]() { return Raise(ExceptionWithCode(kVecGp, 0)); };
  auto mem_linear = [&](int op) {
    uint32_t lin = 0;
    ComputeLinearAddress(d, d.ops[op], &lin);
    return lin;
  };

  switch (m) {
    case ZYDIS_MNEMONIC_LGDT:
    case ZYDIS_MNEMONIC_LIDT: {
      if (!ring0) return gp0();
      const uint32_t at = mem_linear(0);
      uint16_t limit = 0;
      uint32_t base = 0;
      if (!ReadLinear(at, &limit, 2) || !ReadLinear(at + 2, &base, 4)) {
        return StopOnMemoryFault(at, site);
      }
      if (d.insn.operand_width == 16) base &= 0xFFFFFF;
      (m == ZYDIS_MNEMONIC_LGDT ? cpu_.gdtr : cpu_.idtr) = {base, limit};
      return done();
    }
    case ZYDIS_MNEMONIC_SGDT:
    case ZYDIS_MNEMONIC_SIDT: {
      const TableRegister& t = m == ZYDIS_MNEMONIC_SGDT ? cpu_.gdtr : cpu_.idtr;
      const uint32_t at = mem_linear(0);
      if (!WriteLinear(at, &t.limit, 2) || !WriteLinear(at + 2, &t.base, 4)) {
        return StopOnMemoryFault(at, site);
      }
      return done();
    }
    case ZYDIS_MNEMONIC_SLDT:
    case ZYDIS_MNEMONIC_STR:
    case ZYDIS_MNEMONIC_SMSW: {
      uint32_t value = m == ZYDIS_MNEMONIC_SLDT  ? cpu_.ldtr.selector
                       : m == ZYDIS_MNEMONIC_STR ? cpu_.tr.selector
                                                 : cpu_.cr[0];
      if (d.ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER) {
        if (m != ZYDIS_MNEMONIC_SMSW) value &= 0xFFFF;  // upper half zeroed (P6 and later)
        WriteGpr(d.ops[0].reg.value, value);
      } else {
        const uint32_t at = mem_linear(0);
        if (!WriteLinear(at, &value, 2)) return StopOnMemoryFault(at, site);
      }
      return done();
    }
    case ZYDIS_MNEMONIC_LLDT:
    case ZYDIS_MNEMONIC_LTR: {
      if (!ring0) return gp0();
      uint16_t selector = 0;
      if (d.ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER) {
        selector = uint16_t(ReadGpr(d.ops[0].reg.value));
      } else if (!ReadLinear(mem_linear(0), &selector, 2)) {
        return StopOnMemoryFault(mem_linear(0), site);
      }
      const uint32_t sel_error = selector & 0xFFFC;
      if (sel_error == 0) {
        if (m == ZYDIS_MNEMONIC_LTR) return gp0();
        cpu_.ldtr = SegmentCache{selector, 0, 0, 0, false};
        return done();
      }
      if (selector & 4) return Raise(ExceptionWithCode(kVecGp, sel_error));  // must be in the GDT
      Descriptor desc;
      if (Fault f = ReadDescriptor(selector, &desc)) return Raise(*f);
      const bool ok_type = m == ZYDIS_MNEMONIC_LLDT
                               ? desc.type() == kLdt
                               : desc.type() == kTss32Available || desc.type() == kTss16Available;
      if (!desc.system() || !ok_type) return Raise(ExceptionWithCode(kVecGp, sel_error));
      if (!desc.present()) return Raise(ExceptionWithCode(kVecNp, sel_error));
      if (m == ZYDIS_MNEMONIC_LLDT) {
        cpu_.ldtr = desc.ToCache(selector);
      } else {
        desc.high |= 0x200;  // mark the TSS busy in the GDT
        WriteDescriptorHigh(selector, desc.high);
        cpu_.tr = desc.ToCache(selector);
      }
      return done();
    }
    case ZYDIS_MNEMONIC_LMSW: {
      if (!ring0) return gp0();
      uint16_t v = 0;
      if (d.ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER) {
        v = uint16_t(ReadGpr(d.ops[0].reg.value));
      } else if (!ReadLinear(mem_linear(0), &v, 2)) {
        return StopOnMemoryFault(mem_linear(0), site);
      }
      // Loads PE MP EM TS; PE can be set but not cleared.
      cpu_.cr[0] = (cpu_.cr[0] & ~0xEu) | (v & 0xF) | (cpu_.cr[0] & 1);
      return done();
    }
    case ZYDIS_MNEMONIC_CLTS:
      if (!ring0) return gp0();
      cpu_.cr[0] &= ~8u;
      return done();
    case ZYDIS_MNEMONIC_INVD:
    case ZYDIS_MNEMONIC_WBINVD:
    case ZYDIS_MNEMONIC_INVLPG:
      // Caches are coherent and there is no guest TLB yet (paging is off).
      if (!ring0) return gp0();
      return done();
    case ZYDIS_MNEMONIC_RDPMC:
      return gp0();  // no performance counters are modelled
    case ZYDIS_MNEMONIC_RDMSR:
    case ZYDIS_MNEMONIC_WRMSR: {
      if (!ring0) return gp0();
      const uint32_t index = c.gpr[kEcx];
      const uint64_t value = (uint64_t(c.gpr[kEdx]) << 32) | c.gpr[kEax];
      uint64_t* slot = nullptr;
      uint64_t sysenter = 0;
      switch (index) {
        case kMsrSysenterCs:
          sysenter = cpu_.sysenter_cs;
          break;
        case kMsrSysenterEsp:
          sysenter = cpu_.sysenter_esp;
          break;
        case kMsrSysenterEip:
          sysenter = cpu_.sysenter_eip;
          break;
        case kMsrApicBase:
          slot = &cpu_.apic_base;
          break;
        case kMsrPat:
          slot = &cpu_.pat;
          break;
        case kMsrMiscEnable:
          slot = &cpu_.misc_enable;
          break;
        case kMsrTsc: {
          if (m == ZYDIS_MNEMONIC_RDMSR) {
            const uint64_t tsc = __builtin_ia32_rdtsc();
            c.gpr[kEax] = uint32_t(tsc);
            c.gpr[kEdx] = uint32_t(tsc >> 32);
          }
          return done();  // writes are ignored: the guest TSC is the host's
        }
        default:
          // MTRRs (0x200-0x26F, 0x2FF, 0xFE) are storage only.
          if (index >= 0x200 && index < 0x240)
            slot = &cpu_.mtrr[index - 0x200];
          else if (index == 0xFE || index == 0x2FF)
            slot = &cpu_.mtrr[0x3E + (index == 0x2FF)];
          else
            return gp0();
      }
      const bool is_sysenter = index >= kMsrSysenterCs && index <= kMsrSysenterEip;
      if (m == ZYDIS_MNEMONIC_RDMSR) {
        const uint64_t v = is_sysenter ? sysenter : *slot;
        c.gpr[kEax] = uint32_t(v);
        c.gpr[kEdx] = uint32_t(v >> 32);
      } else if (is_sysenter) {
        (index == kMsrSysenterCs    ? cpu_.sysenter_cs
         : index == kMsrSysenterEsp ? cpu_.sysenter_esp
                                    : cpu_.sysenter_eip) = uint32_t(value);
      } else if (index != 0xFE) {  // MTRRcap is read-only
        *slot = value;
      }
      return done();
    }
    case ZYDIS_MNEMONIC_SYSENTER: {
      if ((cpu_.sysenter_cs & 0xFFFC) == 0) return gp0();
      const uint16_t cs = cpu_.sysenter_cs & 0xFFFC;
      SetSegment(kCs, SegmentCache{cs, 0, 0xFFFFFFFF, 0xC09B, true});
      SetSegment(kSs, SegmentCache{uint16_t(cs + 8), 0, 0xFFFFFFFF, 0xC093, true});
      cpu_.cpl = 0;
      WriteEflags(ReadEflags() & ~(kVm | kIf | kRf));
      c.gpr[kEsp] = cpu_.sysenter_esp;
      c.eip = cpu_.sysenter_eip;
      return Next::kContinue;
    }
    case ZYDIS_MNEMONIC_SYSEXIT: {
      if ((cpu_.sysenter_cs & 0xFFFC) == 0 || !ring0) return gp0();
      const uint16_t cs = uint16_t((cpu_.sysenter_cs + 16) | 3);
      SetSegment(kCs, SegmentCache{cs, 0, 0xFFFFFFFF, 0xC0FB, true});
      SetSegment(kSs,
                 SegmentCache{uint16_t((cpu_.sysenter_cs + 24) | 3), 0, 0xFFFFFFFF, 0xC0F3, true});
      cpu_.cpl = 3;
      c.gpr[kEsp] = c.gpr[kEcx];
      c.eip = c.gpr[kEdx];
      return Next::kContinue;
    }
    case ZYDIS_MNEMONIC_INT:
    case ZYDIS_MNEMONIC_INT3:
    case ZYDIS_MNEMONIC_INTO:
    case ZYDIS_MNEMONIC_INT1: {
      if (m == ZYDIS_MNEMONIC_INTO && !(c.rflags & kOfFlag)) return done();
      const uint8_t vector = m == ZYDIS_MNEMONIC_INT    ? uint8_t(d.ops[0].imm.value.u)
                             : m == ZYDIS_MNEMONIC_INT3 ? 3
                             : m == ZYDIS_MNEMONIC_INTO ? 4
                                                        : 1;
      c.eip = next_eip;  // traps: the saved EIP is the next instruction
      Event e{vector};
      e.software = m != ZYDIS_MNEMONIC_INT1;
      e.insn_eip = site.eip;
      return Raise(e);
    }
    case ZYDIS_MNEMONIC_IRET:
    case ZYDIS_MNEMONIC_IRETD:
      return EmulateIret(d, site);
    case ZYDIS_MNEMONIC_JMP:
    case ZYDIS_MNEMONIC_CALL:
    case ZYDIS_MNEMONIC_RET:
      // Far forms, and near forms of 16-bit code segments.
      return IsFarTransfer(d) ? EmulateFarTransfer(d, site) : EmulateNearTransfer(d, site);
    case ZYDIS_MNEMONIC_BOUND: {
      const int size = d.insn.operand_width / 8;
      const uint32_t at = mem_linear(1);
      int32_t lower = 0, upper = 0;
      if (!ReadLinear(at, &lower, size) || !ReadLinear(at + size, &upper, size)) {
        return StopOnMemoryFault(at, site);
      }
      int32_t index = int32_t(ReadGpr(d.ops[0].reg.value));
      if (size == 2) {
        lower = int16_t(lower);
        upper = int16_t(upper);
        index = int16_t(index);
      }
      if (index < lower || index > upper) return Raise(Exception(kVecBr));
      return done();
    }
    case ZYDIS_MNEMONIC_ARPL: {
      uint16_t dest = 0;
      uint32_t at = 0;
      if (d.ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER) {
        dest = uint16_t(ReadGpr(d.ops[0].reg.value));
      } else {
        at = mem_linear(0);
        if (!ReadLinear(at, &dest, 2)) return StopOnMemoryFault(at, site);
      }
      const uint16_t src = uint16_t(ReadGpr(d.ops[1].reg.value));
      if ((dest & 3) < (src & 3)) {
        dest = uint16_t((dest & ~3) | (src & 3));
        c.rflags |= kZfFlag;
        if (d.ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER) {
          WriteGpr(d.ops[0].reg.value, dest);
        } else if (!WriteLinear(at, &dest, 2)) {
          return StopOnMemoryFault(at, site);
        }
      } else {
        c.rflags &= ~kZfFlag;
      }
      return done();
    }
    case ZYDIS_MNEMONIC_LAR:
    case ZYDIS_MNEMONIC_LSL:
    case ZYDIS_MNEMONIC_VERR:
    case ZYDIS_MNEMONIC_VERW: {
      const ZydisDecodedOperand& src =
          m == ZYDIS_MNEMONIC_LAR || m == ZYDIS_MNEMONIC_LSL ? d.ops[1] : d.ops[0];
      uint16_t selector = 0;
      if (src.type == ZYDIS_OPERAND_TYPE_REGISTER) {
        selector = uint16_t(ReadGpr(src.reg.value));
      } else if (!ReadLinear(mem_linear(&src - d.ops), &selector, 2)) {
        return StopOnMemoryFault(mem_linear(&src - d.ops), site);
      }
      Descriptor desc;
      bool ok = (selector & 0xFFFC) != 0 && !ReadDescriptor(selector, &desc);
      const SegmentCache cache = desc.ToCache(selector);
      if (ok) {
        const uint8_t rpl = selector & 3;
        // Privilege: conforming code is exempt; everything else needs
        // DPL >= CPL and DPL >= RPL.
        const bool privileged_ok =
            cache.conforming() || (desc.dpl() >= cpu_.cpl && desc.dpl() >= rpl);
        if (desc.system()) {
          // LAR accepts TSSs, LDTs and gates; LSL only TSSs and LDTs.
          const uint8_t t = desc.type();
          const bool lar_types =
              t == 1 || t == 2 || t == 3 || t == 4 || t == 5 || t == 9 || t == 11 || t == 12;
          const bool lsl_types = t == 1 || t == 2 || t == 3 || t == 9 || t == 11;
          ok = privileged_ok &&
               ((m == ZYDIS_MNEMONIC_LAR && lar_types) || (m == ZYDIS_MNEMONIC_LSL && lsl_types));
        } else if (m == ZYDIS_MNEMONIC_VERR) {
          ok = privileged_ok && cache.readable();
        } else if (m == ZYDIS_MNEMONIC_VERW) {
          ok = privileged_ok && cache.writable();
        } else {
          ok = privileged_ok;
        }
        if (m == ZYDIS_MNEMONIC_VERR || m == ZYDIS_MNEMONIC_VERW) {
          ok = ok && !desc.system();
        }
      }
      if (ok && m == ZYDIS_MNEMONIC_LAR) {
        const uint32_t mask = d.insn.operand_width == 16 ? 0xFF00u : 0x00F0FF00u;
        WriteGpr(d.ops[0].reg.value, desc.high & mask);
      } else if (ok && m == ZYDIS_MNEMONIC_LSL) {
        WriteGpr(d.ops[0].reg.value, desc.limit());
      }
      c.rflags = ok ? (c.rflags | kZfFlag) : (c.rflags & ~kZfFlag);
      return done();
    }
    case ZYDIS_MNEMONIC_MOV: {
      if (IsSegmentRegister(d.ops[0])) {
        const int seg = ZydisRegisterGetId(d.ops[0].reg.value);
        if (seg == kCs) return Raise(Exception(kVecUd));
        uint16_t selector = 0;
        if (d.ops[1].type == ZYDIS_OPERAND_TYPE_REGISTER) {
          selector = uint16_t(ReadGpr(d.ops[1].reg.value));
        } else if (!ReadLinear(mem_linear(1), &selector, 2)) {
          return StopOnMemoryFault(mem_linear(1), site);
        }
        if (Fault f = LoadSegment(seg, selector)) return Raise(*f);
        if (seg == kSs) {
          ss_shadow_ = true;
          c.shadow_eip = next_eip;
        }
        return done();
      }
      if (IsSegmentRegister(d.ops[1])) {
        const uint16_t selector = cpu_.seg[ZydisRegisterGetId(d.ops[1].reg.value)].selector;
        if (d.ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER) {
          WriteGpr(d.ops[0].reg.value, selector);  // zero-extended to 32 bits
        } else if (!WriteLinear(mem_linear(0), &selector, 2)) {
          return StopOnMemoryFault(mem_linear(0), site);
        }
        return done();
      }
      *handled = false;
      return Next::kContinue;
    }
    case ZYDIS_MNEMONIC_PUSH: {
      const int size = d.insn.operand_width / 8;
      const uint32_t selector = cpu_.seg[ZydisRegisterGetId(d.ops[0].reg.value)].selector;
      if (!PushValue(selector, size)) return StopOnMemoryFault(c.gpr[kEsp] - size, site);
      return done();
    }
    case ZYDIS_MNEMONIC_POP: {
      const int size = d.insn.operand_width / 8;
      const int seg = ZydisRegisterGetId(d.ops[0].reg.value);
      uint32_t selector = 0;
      const uint32_t at = cpu_.seg[kSs].base + c.gpr[kEsp];
      if (!ReadLinear(at, &selector, size)) return StopOnMemoryFault(at, site);
      if (Fault f = LoadSegment(seg, uint16_t(selector))) return Raise(*f);
      c.gpr[kEsp] += size;
      if (seg == kSs) {
        ss_shadow_ = true;
        c.shadow_eip = next_eip;
      }
      return done();
    }
    case ZYDIS_MNEMONIC_LDS:
    case ZYDIS_MNEMONIC_LES:
    case ZYDIS_MNEMONIC_LFS:
    case ZYDIS_MNEMONIC_LGS:
    case ZYDIS_MNEMONIC_LSS: {
      const int size = d.insn.operand_width / 8;
      const uint32_t at = mem_linear(1);
      uint32_t offset = 0;
      uint16_t selector = 0;
      if (!ReadLinear(at, &offset, size) || !ReadLinear(at + size, &selector, 2)) {
        return StopOnMemoryFault(at, site);
      }
      const int seg = m == ZYDIS_MNEMONIC_LDS   ? kDs
                      : m == ZYDIS_MNEMONIC_LES ? kEs
                      : m == ZYDIS_MNEMONIC_LFS ? kFs
                      : m == ZYDIS_MNEMONIC_LGS ? kGs
                                                : kSs;
      if (Fault f = LoadSegment(seg, selector)) return Raise(*f);
      WriteGpr(d.ops[0].reg.value, offset);
      return done();
    }
    case ZYDIS_MNEMONIC_CLI:
    case ZYDIS_MNEMONIC_STI: {
      // Reached only at CPL > 0 (ring 0 writes the virtual IF inline).
      if (cpu_.cpl > ((ReadEflags() >> 12) & 3)) return gp0();
      if (m == ZYDIS_MNEMONIC_STI && !c.virtual_if) c.shadow_eip = next_eip;
      c.virtual_if = m == ZYDIS_MNEMONIC_STI;
      return done();
    }
    default:
      *handled = false;
      return Next::kContinue;
  }
}

}  // namespace bt86
