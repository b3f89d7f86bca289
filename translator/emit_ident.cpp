// IDENT instructions: the guest's own bytes, re-emitted with three fixes
// that make the 64-bit encoding mean what the 32-bit one meant:
//   - guest segment prefixes and 0x67 are dropped; a memory operand gets
//     65 67 (gs:, 32-bit address) so it can only reach the guest window;
//   - ModRM mod=00 rm=101 (disp32) is RIP-relative in 64-bit mode: it is
//     rewritten to the SIB form 04 25 disp32 (no base, no index);
//   - 0x82 (an alias of 0x80) is invalid in 64-bit mode: it becomes 0x80.
// Addresses that need more (fs:/gs: bases, 16-bit addressing) are computed
// into r8d and the operand becomes [r8] with a REX.B prefix.
#include <algorithm>

#include "bt86/check.h"
#include "translator/block_emitter.h"

namespace bt86 {

using namespace asmjit;

namespace {

bool IsSegmentPrefix(uint8_t b) {
  return b == 0x26 || b == 0x2E || b == 0x36 || b == 0x3E || b == 0x64 || b == 0x65;
}

bool HasModrm(const DecodedInsn& d) {
  return (d.insn.attributes & ZYDIS_ATTRIB_HAS_MODRM) != 0;
}

}  // namespace

void BlockEmitter::EmitLegacyPrefixes(const DecodedInsn& d) {
  // 16-bit code: an operand-size sensitive instruction keeps its width by
  // toggling 0x66 (the host's default operand size is 32 bits).
  bool had_operand_size = false;
  for (int i = 0; i < d.insn.raw.prefix_count; ++i) {
    uint8_t b = d.bytes[i];
    if (IsSegmentPrefix(b) || b == 0x67) continue;
    if (toggle_operand_size_ && b == 0x66 &&
        d.insn.raw.prefixes[i].type == ZYDIS_PREFIX_TYPE_EFFECTIVE) {
      had_operand_size = true;
      continue;
    }
    a_.db(b);
  }
  if (toggle_operand_size_ && !had_operand_size) a_.db(0x66);
}

void BlockEmitter::EmitIdent(const DecodedInsn& d) {
  const ZydisDecodedOperand* mem = d.MemoryOperand();
  const bool is_lea = d.insn.mnemonic == ZYDIS_MNEMONIC_LEA;
  if (is_lea && d.insn.address_width == 16) {
    // 16-bit addressing has no 64-bit encoding: compute, then move.
    EmitAddressToR8(d, d.ops[1], 0);
    if (d.ops[0].size == 16) {
      a_.mov(x86::gpw(ZydisRegisterGetId(d.ops[0].reg.value)), x86::r8w);
    } else {
      a_.mov(x86::gpd(ZydisRegisterGetId(d.ops[0].reg.value)), x86::r8d);
    }
    return;
  }
  if (mem && !IsSimpleAddress(d, *mem)) {
    EmitIdentWithAddressInR8(d, *mem);
    return;
  }
  EmitLegacyPrefixes(d);
  if (mem) {
    a_.db(0x65);
    a_.db(0x67);
  }
  const uint8_t opcode_start = d.insn.raw.prefix_count;
  const uint8_t modrm_at = HasModrm(d) ? d.insn.raw.modrm.offset : d.insn.length;
  for (uint8_t i = opcode_start; i < modrm_at; ++i) {
    uint8_t b = d.bytes[i];
    if (i == opcode_start && b == 0x82) b = 0x80;
    a_.db(b);
  }
  if (modrm_at == d.insn.length) return;
  const uint8_t modrm = d.bytes[modrm_at];
  if ((modrm & 0xC7) == 0x05) {
    a_.db((modrm & 0xF8) | 0x04);  // rm=100: SIB follows
    a_.db(0x25);                   // SIB: no index, no base (mod=00): disp32
    a_.embed(d.bytes + modrm_at + 1, d.insn.length - modrm_at - 1);
  } else {
    a_.embed(d.bytes + modrm_at, d.insn.length - modrm_at);
  }
}

void BlockEmitter::EmitFxsaveReservedPreload(const DecodedInsn& d) {
  // In 32-bit mode FXSAVE leaves bytes 288..415 of its area alone; the
  // 64-bit form bt86 runs stores XMM8..XMM15 there, registers the guest
  // cannot name. Loading them from those bytes first makes the store write
  // back what was there. The loads also fault first, before anything changes.
  const ZydisDecodedOperand* m = d.MemoryOperand();
  if (!IsSimpleAddress(d, *m)) EmitAddressToR8(d, *m, 0, 512, true);
  for (int i = 0; i < 8; ++i) {
    x86::Mem slot;
    if (IsSimpleAddress(d, *m)) {
      slot = GuestMem(d, *m, 16, 288 + 16 * i);
    } else {
      slot = x86::ptr(x86::r8d, 288 + 16 * i, 16);
      slot.setSegment(x86::gs);
    }
    a_.movdqu(x86::xmm(8 + i), slot);
  }
}

void BlockEmitter::EmitFpuPointerScrub(const DecodedInsn& d) {
  // FXSAVE, FNSAVE and FNSTENV store the x87 last-instruction and last-data
  // pointers, which natively are host addresses of translated code (Intel
  // hosts; AMD stores them only with an exception pending). The guest must
  // never see host addresses: zero them, as AMD CPUs and CPUs with
  // FDP_EXCPTN_ONLY do. The opcode (FOP) is not an address and stays.
  const ZydisDecodedOperand* m = d.MemoryOperand();
  const bool in_r8 = !IsSimpleAddress(d, *m);
  auto field = [&](int32_t offset, uint32_t size) {
    if (!in_r8) return GuestMem(d, *m, size, offset, true);
    x86::Mem mem = x86::ptr(x86::r8d, offset, size);
    mem.setSegment(x86::gs);
    return mem;
  };
  if (d.insn.mnemonic == ZYDIS_MNEMONIC_FXSAVE) {
    a_.mov(field(8, 8), 0);   // FIP, FCS
    a_.mov(field(16, 8), 0);  // FDP, FDS
  } else {                    // FNSAVE / FNSTENV, 32-bit protected-mode environment
    a_.mov(field(12, 4), 0);  // FIP
    a_.mov(field(16, 2), 0);  // FCS (FOP above it stays)
    a_.mov(field(20, 4), 0);  // FDP
    a_.mov(field(24, 2), 0);  // FDS
  }
}

void BlockEmitter::EmitIdentWithAddressInR8(const DecodedInsn& d, const ZydisDecodedOperand& m) {
  // ScanBlock refuses these: REX turns AH..BH into SPL..DIL.
  BT86_CHECK(!d.UsesHighByteRegister(), "high-byte register with [r8] at eip %08x", d.eip);
  const bool write = m.actions & ZYDIS_OPERAND_ACTION_MASK_WRITE;
  EmitAddressToR8(d, m, 0, std::max<uint32_t>(m.size / 8, 1), write);
  EmitLegacyPrefixes(d);
  a_.db(0x65);
  a_.db(0x67);
  a_.db(0x41);  // REX.B: ModRM rm=000 names r8
  const uint8_t opcode_start = d.insn.raw.prefix_count;
  const uint8_t op = d.bytes[opcode_start];
  if (!HasModrm(d)) {
    // moffs forms A0-A3 become 8A/8B/88/89 with [r8].
    static const uint8_t kModrmForm[] = {0x8A, 0x8B, 0x88, 0x89};
    BT86_CHECK(op >= 0xA0 && op <= 0xA3, "no ModRM and not moffs at eip %08x", d.eip);
    a_.db(kModrmForm[op - 0xA0]);
    a_.db(0x00);
    return;
  }
  const uint8_t modrm_at = d.insn.raw.modrm.offset;
  for (uint8_t i = opcode_start; i < modrm_at; ++i) {
    a_.db(i == opcode_start && d.bytes[i] == 0x82 ? 0x80 : d.bytes[i]);
  }
  a_.db(d.bytes[modrm_at] & 0x38);  // mod=00, reg kept, rm=000
  // Immediates follow the displacement; they are the instruction's tail.
  uint8_t tail = d.insn.length;
  for (int i = 0; i < 2; ++i) {
    if (d.insn.raw.imm[i].size && d.insn.raw.imm[i].offset < tail) tail = d.insn.raw.imm[i].offset;
  }
  a_.embed(d.bytes + tail, d.insn.length - tail);
}

void BlockEmitter::EmitDivisorCheck(const DecodedInsn& d) {
  // Adaptive translation (VMware's: retranslate what keeps faulting): a DIV
  // that raised #DE tests its divisor first, flag-free, and leaves through a
  // #DE callout instead of a host SIGFPE (about 6,000 ticks each). A zero
  // divisor is the only #DE caught here; quotient overflow still traps.
  const ZydisDecodedOperand& divisor = d.ops[0];
  const uint32_t size = divisor.size / 8;
  if (divisor.type == ZYDIS_OPERAND_TYPE_REGISTER) {
    const int id = ZydisRegisterGetId(divisor.reg.value);
    if (size == 1) {
      a_.movzx(x86::r9d, x86::gpb_lo(id));
    } else if (size == 2) {
      a_.movzx(x86::r9d, x86::gpw(id));
    } else {
      a_.mov(x86::r9d, x86::gpd(id));
    }
  } else if (size == 1) {
    a_.movzx(x86::r9d, GuestMem(d, divisor, 1));
  } else if (size == 2) {
    a_.movzx(x86::r9d, GuestMem(d, divisor, 2));
  } else {
    a_.mov(x86::r9d, GuestMem(d, divisor, 4));
  }
  EmitCalloutIf(d, x86::r9d, true, x86::r11, CalloutKind::kDivideError);
}

void BlockEmitter::EmitIncDecShort(const DecodedInsn& d) {
  EmitLegacyPrefixes(d);  // keeps 0x66 for the 16-bit forms
  const uint8_t op = d.opcode_byte();
  a_.db(0xFF);
  a_.db((op < 0x48 ? 0xC0 : 0xC8) | (op & 7));
}

}  // namespace bt86
