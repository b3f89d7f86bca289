// The C++ emulator behind callouts: instructions that must not run natively
// (port I/O, HLT, CPUID, PUSHF/POPF with the virtual IF, ENTER, BCD
// arithmetic, which is invalid in 64-bit mode). Semantics follow the Intel
// SDM Vol. 2 pseudo-code of each instruction. The guest state is in the
// context: registers as saved by the exit stub, flags as a host RFLAGS image.
#include <fmt/core.h>

#include <csignal>
#include <cstring>

#include "runtime/cpu/cpuid_model.h"
#include "runtime/devices/debug_exit.h"
#include "runtime/vcpu.h"

namespace bt86 {
namespace {

constexpr uint64_t kCf = 1u << 0, kPf = 1u << 2, kAf = 1u << 4, kZf = 1u << 6, kSf = 1u << 7;

uint32_t ReadReg(const VcpuContext& c, ZydisRegister r) {
  const int id = ZydisRegisterGetId(r);
  switch (ZydisRegisterGetClass(r)) {
    case ZYDIS_REGCLASS_GPR8:
      return id < 4 ? c.gpr[id] & 0xFF : (c.gpr[id - 4] >> 8) & 0xFF;
    case ZYDIS_REGCLASS_GPR16:
      return c.gpr[id] & 0xFFFF;
    default:
      return c.gpr[id];
  }
}

void WriteReg(VcpuContext& c, ZydisRegister r, uint32_t v) {
  const int id = ZydisRegisterGetId(r);
  switch (ZydisRegisterGetClass(r)) {
    case ZYDIS_REGCLASS_GPR8:
      if (id < 4) {
        c.gpr[id] = (c.gpr[id] & ~0xFFu) | (v & 0xFF);
      } else {
        c.gpr[id - 4] = (c.gpr[id - 4] & ~0xFF00u) | ((v & 0xFF) << 8);
      }
      break;
    case ZYDIS_REGCLASS_GPR16:
      c.gpr[id] = (c.gpr[id] & ~0xFFFFu) | (v & 0xFFFF);
      break;
    default:
      c.gpr[id] = v;
      break;
  }
}

void SetFlag(VcpuContext& c, uint64_t flag, bool on) {
  c.rflags = on ? (c.rflags | flag) : (c.rflags & ~flag);
}

// SF, ZF and PF of an 8-bit result.
void SetResultFlags8(VcpuContext& c, uint8_t v) {
  SetFlag(c, kSf, v & 0x80);
  SetFlag(c, kZf, v == 0);
  SetFlag(c, kPf, (__builtin_popcount(v) & 1) == 0);
}

uint8_t Al(const VcpuContext& c) {
  return c.gpr[kEax] & 0xFF;
}
uint8_t Ah(const VcpuContext& c) {
  return (c.gpr[kEax] >> 8) & 0xFF;
}
void SetAx(VcpuContext& c, uint16_t ax) {
  c.gpr[kEax] = (c.gpr[kEax] & ~0xFFFFu) | ax;
}

}  // namespace

Vcpu::Next Vcpu::Emulate(const CalloutSite& site) {
  // The translator's decoding, when it kept one; else decode from the whole
  // 15-byte copy (Zydis 4.0 asserts on some buffers that end exactly at the
  // instruction's end, seen with 9C).
  DecodedInsn decoded_here;
  const DecodedInsn* dp = static_cast<const DecodedInsn*>(site.decoded);
  if (dp == nullptr) {
    if (!translator_->decoder().Decode(site.bytes, sizeof(site.bytes), site.eip, &decoded_here)) {
      return StopWith(RunResult::Kind::kGuestFault, "internal error: callout site does not decode");
    }
    dp = &decoded_here;
  }
  const DecodedInsn& d = *dp;
  VcpuContext& c = *ctx_;
  const ZydisMnemonic m = d.insn.mnemonic;
  callout_counts_[m]++;
  const uint32_t next_eip = site.eip + site.length;
  auto memory_fault = [&](uint32_t addr) { return StopOnMemoryFault(addr, site); };
  auto exit_if_requested = [&]() -> Next {
    if (auto v = debug_exit_->requested_value()) {
      result_.exit_value = *v;
      return StopWith(RunResult::Kind::kExitPort, "");
    }
    return Next::kContinue;
  };

  // CR0.TS/EM (SDM Vol. 3A Table 2-2): such blocks are translated with
  // every x87/MMX/SSE instruction as a callout, decided here.
  if ((cpu_.cr[0] & 0xC) && UsesFpuState(d)) {
    const bool mp = cpu_.cr[0] & 2, em = cpu_.cr[0] & 4, ts = cpu_.cr[0] & 8;
    if (m == ZYDIS_MNEMONIC_FWAIT) {
      if (mp && ts) return Raise(Exception(7));
      c.eip = next_eip;  // no unmasked x87 exception can be pending here
      return Next::kContinue;
    }
    const bool x87 = d.insn.meta.isa_ext == ZYDIS_ISA_EXT_X87 || m == ZYDIS_MNEMONIC_FXSAVE ||
                     m == ZYDIS_MNEMONIC_FXRSTOR;
    if (!x87 && em) return Raise(Exception(6));  // MMX/SSE with EM: #UD
    return Raise(Exception(7));                  // #NM
  }
  bool system_handled = false;
  const Next system_next = EmulateSystem(d, site, &system_handled);
  if (system_handled) return system_next;
  const bool ring0 = cpu_.cpl == 0;
  auto gp0 = [&]() { return Raise(ExceptionWithCode(13, 0)); };

  if (IsStringInstruction(m)) return EmulateString(d, site);
  switch (m) {
    case ZYDIS_MNEMONIC_IN: {
      const int size = d.ops[0].size / 8;
      const uint16_t port = d.ops[1].type == ZYDIS_OPERAND_TYPE_IMMEDIATE
                                ? uint16_t(d.ops[1].imm.value.u)
                                : uint16_t(c.gpr[kEdx]);
      if (!IoAllowed(port, size)) return gp0();
      WriteReg(c, d.ops[0].reg.value, io_->In(port, size));
      c.eip = next_eip;
      return Next::kContinue;
    }
    case ZYDIS_MNEMONIC_OUT: {
      const int size = d.ops[1].size / 8;
      const uint16_t port = d.ops[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE
                                ? uint16_t(d.ops[0].imm.value.u)
                                : uint16_t(c.gpr[kEdx]);
      if (!IoAllowed(port, size)) return gp0();
      io_->Out(port, size, ReadReg(c, d.ops[1].reg.value));
      c.eip = next_eip;
      return exit_if_requested();
    }
    case ZYDIS_MNEMONIC_INSB:
    case ZYDIS_MNEMONIC_INSW:
    case ZYDIS_MNEMONIC_INSD:
    case ZYDIS_MNEMONIC_OUTSB:
    case ZYDIS_MNEMONIC_OUTSW:
    case ZYDIS_MNEMONIC_OUTSD:
      if (!IoAllowed(uint16_t(c.gpr[kEdx]), d.insn.operand_width / 8)) return gp0();
      return EmulateString(d, site);
    case ZYDIS_MNEMONIC_JCXZ:
    case ZYDIS_MNEMONIC_JECXZ:
    case ZYDIS_MNEMONIC_LOOP:
    case ZYDIS_MNEMONIC_LOOPE:
    case ZYDIS_MNEMONIC_LOOPNE:
      return EmulateCountedBranch(d, site);
    case ZYDIS_MNEMONIC_XLAT:
      return EmulateXlat(d, site);
    case ZYDIS_MNEMONIC_MOV:
      if (ZydisRegisterGetClass(d.ops[0].reg.value) == ZYDIS_REGCLASS_CONTROL ||
          ZydisRegisterGetClass(d.ops[1].reg.value) == ZYDIS_REGCLASS_CONTROL) {
        if (!ring0) return gp0();
        return EmulateMovCr(d, site);
      }
      if (ZydisRegisterGetClass(d.ops[0].reg.value) == ZYDIS_REGCLASS_DEBUG ||
          ZydisRegisterGetClass(d.ops[1].reg.value) == ZYDIS_REGCLASS_DEBUG) {
        // MOV to/from DR0-DR7 (SDM Vol. 3B 17.2). The registers are stored;
        // breakpoints are not armed yet. DR4/DR5 alias DR6/DR7 unless
        // CR4.DE, when they are #UD.
        if (!ring0) return gp0();
        const bool to_dr = ZydisRegisterGetClass(d.ops[0].reg.value) == ZYDIS_REGCLASS_DEBUG;
        int dr = ZydisRegisterGetId(to_dr ? d.ops[0].reg.value : d.ops[1].reg.value);
        if (dr == 4 || dr == 5) {
          if (cpu_.cr[4] & 8) return Raise(Exception(6));
          dr += 2;
        }
        if (to_dr) {
          uint32_t v = ReadReg(c, d.ops[1].reg.value);
          if (dr == 6) v = (v & 0x0000E00F) | 0xFFFF0FF0;  // reserved bits read as 1
          if (dr == 7) v = (v & 0xFFFF2BFF) | 0x400;
          cpu_.dr[dr] = v;
          if (dr != 6) UpdateDataBreakpoints();
        } else {
          WriteReg(c, d.ops[0].reg.value, cpu_.dr[dr]);
        }
        c.eip = next_eip;
        return Next::kContinue;
      }
      break;
    case ZYDIS_MNEMONIC_HLT:
      if (!ring0) return gp0();
      c.eip = next_eip;
      return Halt();
    case ZYDIS_MNEMONIC_RDTSC: {
      // Reached outside ring 0 only: CR4.TSD makes it privileged there.
      if (cpu_.cr[4] & 4) return gp0();
      const uint64_t tsc = __builtin_ia32_rdtsc();
      c.gpr[kEax] = uint32_t(tsc);
      c.gpr[kEdx] = uint32_t(tsc >> 32);
      c.eip = next_eip;
      return Next::kContinue;
    }
    case ZYDIS_MNEMONIC_CPUID: {
      const CpuidResult r = GuestCpuid(c.gpr[kEax], c.gpr[kEcx]);
      c.gpr[kEax] = r.eax;
      c.gpr[kEbx] = r.ebx;
      c.gpr[kEcx] = r.ecx;
      c.gpr[kEdx] = r.edx;
      c.eip = next_eip;
      return Next::kContinue;
    }
    case ZYDIS_MNEMONIC_PUSHF:
    case ZYDIS_MNEMONIC_PUSHFD: {
      const uint32_t size = d.insn.operand_width / 8;
      const uint32_t image = ReadEflags() & ~0x30000u;  // VM and RF read as 0 in the image
      const uint32_t sp = c.gpr[kEsp] - size;
      if (!WriteLinear(sp, &image, size)) return memory_fault(sp);
      c.gpr[kEsp] = sp;
      c.eip = next_eip;
      return Next::kContinue;
    }
    case ZYDIS_MNEMONIC_POPF:
    case ZYDIS_MNEMONIC_POPFD: {
      const uint32_t size = d.insn.operand_width / 8;
      uint32_t v = 0;
      if (!ReadLinear(c.gpr[kEsp], &v, size)) return memory_fault(c.gpr[kEsp]);
      const uint32_t old = ReadEflags();
      if (size == 2) v = (old & 0xFFFF0000u) | (v & 0xFFFF);
      // SDM POPF: IOPL changes only at CPL 0, IF only when CPL <= IOPL;
      // otherwise they keep their value silently. VM and RF stay clear.
      uint32_t keep = 0;
      if (!ring0) keep |= 0x3000u;
      if (cpu_.cpl > ((old >> 12) & 3)) keep |= 0x200u;
      WriteEflags((v & ~keep) | (old & keep));
      c.gpr[kEsp] += size;
      c.eip = next_eip;
      return Next::kContinue;
    }
    case ZYDIS_MNEMONIC_ENTER: {
      // SDM ENTER with a 32-bit stack: push ebp, copy `level - 1` frame
      // pointers, push the new frame pointer, reserve `alloc` bytes.
      const uint32_t size = d.insn.operand_width / 8;
      const uint32_t alloc = uint32_t(d.ops[0].imm.value.u) & 0xFFFF;
      const uint32_t level = uint32_t(d.ops[1].imm.value.u) % 32;
      uint32_t sp = c.gpr[kEsp] - size;
      uint32_t bp = c.gpr[kEbp];
      if (!WriteLinear(sp, &bp, size)) return memory_fault(sp);
      const uint32_t frame = sp;
      for (uint32_t i = 1; i < level; ++i) {
        bp -= size;
        uint32_t v = 0;
        if (!ReadLinear(bp, &v, size)) return memory_fault(bp);
        sp -= size;
        if (!WriteLinear(sp, &v, size)) return memory_fault(sp);
      }
      if (level > 0) {
        sp -= size;
        if (!WriteLinear(sp, &frame, size)) return memory_fault(sp);
      }
      if (size == 2) {
        c.gpr[kEbp] = (c.gpr[kEbp] & ~0xFFFFu) | (frame & 0xFFFF);
      } else {
        c.gpr[kEbp] = frame;
      }
      c.gpr[kEsp] = sp - alloc;
      c.eip = next_eip;
      return Next::kContinue;
    }
    case ZYDIS_MNEMONIC_AAA:
    case ZYDIS_MNEMONIC_AAS: {
      const uint16_t ax = c.gpr[kEax] & 0xFFFF;
      if ((Al(c) & 0x0F) > 9 || (c.rflags & kAf)) {
        const uint16_t adjusted =
            m == ZYDIS_MNEMONIC_AAA ? uint16_t(ax + 0x106) : uint16_t(ax - 6 - 0x100);
        SetAx(c, adjusted & 0xFF0F);
        SetFlag(c, kAf, true);
        SetFlag(c, kCf, true);
      } else {
        SetAx(c, ax & 0xFF0F);
        SetFlag(c, kAf, false);
        SetFlag(c, kCf, false);
      }
      c.eip = next_eip;
      return Next::kContinue;
    }
    case ZYDIS_MNEMONIC_DAA:
    case ZYDIS_MNEMONIC_DAS: {
      const bool add = m == ZYDIS_MNEMONIC_DAA;
      const uint8_t old_al = Al(c);
      const bool old_cf = c.rflags & kCf;
      uint8_t al = old_al;
      bool cf = false;
      if ((al & 0x0F) > 9 || (c.rflags & kAf)) {
        cf = old_cf || (add ? al > 0xF9 : al < 6);
        al = add ? uint8_t(al + 6) : uint8_t(al - 6);
        SetFlag(c, kAf, true);
      } else {
        SetFlag(c, kAf, false);
      }
      if (old_al > 0x99 || old_cf) {
        al = add ? uint8_t(al + 0x60) : uint8_t(al - 0x60);
        cf = true;
      } else if (add) {
        cf = false;
      }
      SetFlag(c, kCf, cf);
      c.gpr[kEax] = (c.gpr[kEax] & ~0xFFu) | al;
      SetResultFlags8(c, al);
      c.eip = next_eip;
      return Next::kContinue;
    }
    case ZYDIS_MNEMONIC_AAM: {
      const uint8_t base = uint8_t(d.ops[0].imm.value.u);
      if (base == 0) return Raise(Exception(0));
      const uint8_t al = Al(c);
      SetAx(c, uint16_t(((al / base) << 8) | (al % base)));
      SetResultFlags8(c, al % base);
      c.eip = next_eip;
      return Next::kContinue;
    }
    case ZYDIS_MNEMONIC_AAD: {
      const uint8_t base = uint8_t(d.ops[0].imm.value.u);
      const uint8_t al = uint8_t(Al(c) + Ah(c) * base);
      SetAx(c, al);
      SetResultFlags8(c, al);
      c.eip = next_eip;
      return Next::kContinue;
    }
    case ZYDIS_MNEMONIC_UD0:
    case ZYDIS_MNEMONIC_UD1:
    case ZYDIS_MNEMONIC_UD2:
      return Raise(Exception(6));
    default:
      break;
  }
  callout_counts_[m]--;
  return StopWith(
      RunResult::Kind::kUnsupported,
      fmt::format("unsupported instruction at eip={:08x}: {} (system "
                  "instructions arrive with the shadow CPU)\n{}",
                  site.eip, DescribeInsn(site.eip, site.bytes, site.length), DumpRegisters()));
}

Vcpu::Next Vcpu::EmulateMovCr(const DecodedInsn& d, const CalloutSite& site) {
  // MOV to/from CR0, CR2, CR3, CR4 (SDM Vol. 2B "MOV—Move to/from Control
  // Registers"). Paging is not virtualized yet: setting CR0.PG stops the
  // guest with a report rather than running it unpaged.
  VcpuContext& c = *ctx_;
  const bool to_cr = ZydisRegisterGetClass(d.ops[0].reg.value) == ZYDIS_REGCLASS_CONTROL;
  const ZydisRegister cr_reg = to_cr ? d.ops[0].reg.value : d.ops[1].reg.value;
  const int cr = ZydisRegisterGetId(cr_reg);
  const int gpr = ZydisRegisterGetId(to_cr ? d.ops[1].reg.value : d.ops[0].reg.value);
  if (cr == 1 || cr > 4) {
    return StopWith(
        RunResult::Kind::kGuestFault,
        fmt::format("guest fault #UD (vector 6) at eip={:08x}: {} (no CR{})\n{}", site.eip,
                    DescribeInsn(site.eip, site.bytes, site.length), cr, DumpRegisters()));
  }
  if (!to_cr) {
    c.gpr[gpr] = cpu_.cr[cr];
  } else {
    const uint32_t value = c.gpr[gpr];
    // SDM MOV CRn #GP(0): PG without PE, NW without CD, reserved CR4 bits
    // (those of features the CPUID model does not offer beyond bits 0-10).
    constexpr uint32_t kPe = 1, kNw = 1u << 29, kCd = 1u << 30, kPg = 1u << 31;
    if (cr == 0 && (((value & kPg) && !(value & kPe)) || ((value & kNw) && !(value & kCd)))) {
      return Raise(ExceptionWithCode(13, 0));
    }
    if (cr == 4 && (value & ~0x7FFu)) return Raise(ExceptionWithCode(13, 0));
    if (cr == 0 && (value & 0x80000000u)) {
      return StopWith(
          RunResult::Kind::kUnsupported,
          fmt::format("unsupported: paging (CR0.PG) at eip={:08x}: {} "
                      "(guest paging arrives with memory virtualization)\n{}",
                      site.eip, DescribeInsn(site.eip, site.bytes, site.length), DumpRegisters()));
    }
    cpu_.cr[cr] = cr == 0 ? (value | 0x10) : value;  // CR0.ET is hardwired to 1
  }
  c.eip = site.eip + site.length;
  return Next::kContinue;
}

Vcpu::Next Vcpu::Halt() {
  if (!ctx_->virtual_if) {
    return StopWith(RunResult::Kind::kHalted, "");
  }
  // Interrupts enabled: sleep until an interrupt or a stop request (no
  // spinning); the run loop then delivers it with the saved EIP after HLT.
  std::unique_lock<std::mutex> lock(wake_mutex_);
  wake_.wait(lock, [&] { return stop_requested_.load() || irq_pending_.load(); });
  return Next::kContinue;
}

}  // namespace bt86
