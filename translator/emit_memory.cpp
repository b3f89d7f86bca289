// Guest memory operands for rewritten instructions: gs:[32-bit EA], with
// asmjit adding the 0x67 prefix so the address wraps at 4 GiB as the guest's
// does. Addresses asmjit cannot express directly (16-bit addressing, fs:/gs:
// overrides that need the guest segment base added) are computed into r8d.
#include <cstddef>

#include "translator/block_emitter.h"

namespace bt86 {

using namespace asmjit;

namespace {

x86::Gp Gpd(ZydisRegister r) {
  return x86::gpd(ZydisRegisterGetId(r));
}

// fs/gs carry bases in flat blocks; cs: data accesses are rare and always
// checked (code is never writable, and execute-only code is not readable).
bool NeedsSegmentBase(ZydisRegister seg) {
  return seg == ZYDIS_REGISTER_FS || seg == ZYDIS_REGISTER_GS || seg == ZYDIS_REGISTER_CS;
}

}  // namespace

bool BlockEmitter::IsSimpleAddress(const DecodedInsn& d, const ZydisDecodedOperand& m) const {
  return d.insn.address_width == 32 && flat() && !NeedsSegmentBase(m.mem.segment);
}

void BlockEmitter::EmitAddSegmentBaseToR8(int seg) {
  a_.mov(x86::r9d, x86::dword_ptr(x86::r15, int32_t(offsetof(VcpuContext, seg_base) + 4 * seg)));
  a_.lea(x86::r8d, x86::ptr(x86::r8, x86::r9));
}

x86::Mem BlockEmitter::StackRelative(const x86::Gp& base, int32_t disp, uint32_t size, bool write) {
  if (flat()) {
    x86::Mem mem = x86::ptr(base, disp, size);
    mem.setSegment(x86::gs);
    return mem;
  }
  // Non-flat: check against SS and address it through r8 (SS-relative).
  a_.lea(x86::r8d, x86::ptr(base, disp));
  EmitSegmentCheck(kSs, size, write);
  EmitAddSegmentBaseToR8(kSs);
  x86::Mem mem = x86::ptr(x86::r8d, 0, size);
  mem.setSegment(x86::gs);
  return mem;
}

x86::Mem BlockEmitter::StackMem(int32_t disp, uint32_t size, bool write) {
  return StackRelative(x86::esp, disp, size, write);
}

void BlockEmitter::EmitSegmentCheck(int seg, uint32_t size, bool write) {
  // Flag-free (the host flags are the guest's): with r8 = offset,
  //   r12 = offset - lo, r13 = hi - (offset + size - 1), both 64-bit;
  // a negative one (sign bit, via shrx) means outside the segment.
  if (size == 0) return;
  const int32_t lo_at = int32_t(offsetof(VcpuContext, seg_lo) + 8 * seg);
  const int32_t hi_at = int32_t(
      (write ? offsetof(VcpuContext, seg_hi_write) : offsetof(VcpuContext, seg_hi_read)) + 8 * seg);
  a_.mov(x86::r12, x86::qword_ptr(x86::r15, lo_at));
  a_.not_(x86::r12);
  a_.lea(x86::r12, x86::ptr(x86::r8, x86::r12, 0, 1));
  a_.mov(x86::r13, x86::qword_ptr(x86::r15, hi_at));
  a_.lea(x86::r11, x86::ptr(x86::r8, int32_t(size - 1)));
  a_.not_(x86::r11);
  a_.lea(x86::r13, x86::ptr(x86::r13, x86::r11, 0, 1));
  a_.mov(x86::r11d, 63);
  a_.shrx(x86::r12, x86::r12, x86::r11);
  a_.shrx(x86::r13, x86::r13, x86::r11);
  a_.lea(x86::r12d, x86::ptr(x86::r12, x86::r13));  // 0 inside, 1 or 2 outside
  EmitCalloutIf(*current_, x86::r12d, false, x86::r11,
                seg == kSs ? CalloutKind::kStackFault : CalloutKind::kSegmentFault);
}

void BlockEmitter::EmitAddressToR8(const DecodedInsn& d, const ZydisDecodedOperand& m,
                                   int32_t extra_disp, uint32_t check_size, bool write) {
  int32_t disp = int32_t(m.mem.disp.value) + extra_disp;
  if (d.insn.address_width == 32) {
    bool has_base = m.mem.base != ZYDIS_REGISTER_NONE;
    bool has_index = m.mem.index != ZYDIS_REGISTER_NONE;
    uint32_t shift = m.mem.scale == 8 ? 3 : m.mem.scale == 4 ? 2 : m.mem.scale == 2 ? 1 : 0;
    if (has_base && has_index) {
      a_.lea(x86::r8d, x86::ptr(Gpd(m.mem.base), Gpd(m.mem.index), shift, disp));
    } else if (has_base) {
      a_.lea(x86::r8d, x86::ptr(Gpd(m.mem.base), disp));
    } else if (has_index) {
      a_.lea(x86::r8d, x86::ptr(uint64_t(uint32_t(disp)), Gpd(m.mem.index), shift));
    } else {
      a_.mov(x86::r8d, uint32_t(disp));
    }
  } else {
    // 16-bit addressing: [bx|bp + si|di + disp16], wrapped to 16 bits.
    if (m.mem.base != ZYDIS_REGISTER_NONE) {
      a_.movzx(x86::r8d, x86::gpw(ZydisRegisterGetId(m.mem.base)));
    } else {
      a_.mov(x86::r8d, 0);
    }
    if (m.mem.index != ZYDIS_REGISTER_NONE) {
      a_.movzx(x86::r9d, x86::gpw(ZydisRegisterGetId(m.mem.index)));
      a_.lea(x86::r8d, x86::ptr(x86::r8, x86::r9, 0, disp));
    } else {
      a_.lea(x86::r8d, x86::ptr(x86::r8, disp));
    }
    a_.movzx(x86::r8d, x86::r8w);
  }
  if (!flat()) {
    const int seg = ZydisRegisterGetId(m.mem.segment);
    EmitSegmentCheck(seg, check_size, write);
    EmitAddSegmentBaseToR8(seg);
  } else if (NeedsSegmentBase(m.mem.segment)) {
    const int seg = ZydisRegisterGetId(m.mem.segment);
    if (SegmentChecked(seg)) EmitSegmentCheck(seg, check_size, write);
    EmitAddSegmentBaseToR8(seg);
  }
}

x86::Mem BlockEmitter::GuestMem(const DecodedInsn& d, const ZydisDecodedOperand& m, uint32_t size,
                                int32_t extra_disp, bool write) {
  x86::Mem mem;
  if (!IsSimpleAddress(d, m)) {
    EmitAddressToR8(d, m, extra_disp, size, write);
    mem = x86::ptr(x86::r8d, 0, size);
  } else {
    int32_t disp = int32_t(m.mem.disp.value) + extra_disp;
    bool has_base = m.mem.base != ZYDIS_REGISTER_NONE;
    bool has_index = m.mem.index != ZYDIS_REGISTER_NONE;
    uint32_t shift = m.mem.scale == 8 ? 3 : m.mem.scale == 4 ? 2 : m.mem.scale == 2 ? 1 : 0;
    if (has_base && has_index) {
      mem = x86::ptr(Gpd(m.mem.base), Gpd(m.mem.index), shift, disp, size);
    } else if (has_base) {
      mem = x86::ptr(Gpd(m.mem.base), disp, size);
    } else if (has_index) {
      mem = x86::ptr(uint64_t(uint32_t(disp)), Gpd(m.mem.index), shift, size);
    } else {
      mem = x86::ptr(uint64_t(uint32_t(disp)), size);
    }
  }
  mem.setSegment(x86::gs);
  return mem;
}

}  // namespace bt86
