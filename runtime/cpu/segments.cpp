// Segment registers: descriptor fetch from the GDT/LDT and selector loads
// with the checks and error codes of the Intel SDM (Vol. 2B MOV/POP to a
// segment register; Vol. 3A 5.5-5.8 privilege checks).
#include "runtime/vcpu.h"

namespace bt86 {
namespace {

constexpr uint8_t kVecGp = 13, kVecNp = 11, kVecSs = 12;

}  // namespace

Vcpu::Fault Vcpu::ReadDescriptor(uint16_t selector, Descriptor* out, uint32_t ext) {
  const bool local = selector & 4;
  const uint32_t index_bytes = selector & 0xFFF8;
  uint32_t base, limit;
  if (local) {
    if (!cpu_.ldtr.usable || (cpu_.ldtr.selector & 0xFFFC) == 0) {
      return ExceptionWithCode(kVecGp, (selector & 0xFFFC) | ext);
    }
    base = cpu_.ldtr.base;
    limit = cpu_.ldtr.limit;
  } else {
    base = cpu_.gdtr.base;
    limit = cpu_.gdtr.limit;
  }
  if (index_bytes + 7 > limit) return ExceptionWithCode(kVecGp, (selector & 0xFFFC) | ext);
  uint32_t words[2];
  if (!ReadLinear(base + index_bytes, words, 8)) {
    return ExceptionWithCode(kVecGp, (selector & 0xFFFC) | ext);
  }
  out->low = words[0];
  out->high = words[1];
  return std::nullopt;
}

void Vcpu::WriteDescriptorHigh(uint16_t selector, uint32_t high) {
  const uint32_t base = (selector & 4) ? cpu_.ldtr.base : cpu_.gdtr.base;
  WriteLinear(base + (selector & 0xFFF8) + 4, &high, 4);
}

void Vcpu::SetSegment(int seg, const SegmentCache& cache) {
  // Inline-lookup keys hold eip and mode, not the code segment base: a new
  // base must not find blocks of the old one.
  if (seg == kCs && cache.base != cpu_.seg[kCs].base && cache_) cache_->ClearLookup();
  cpu_.seg[seg] = cache;
  ctx_->seg_base[seg] = cache.base;
  // The offsets a non-flat block may use through this segment (SDM 5.3):
  // [lo, hi], with hi = -1 (as a signed 64-bit value) for "none at all".
  constexpr uint64_t kNone = ~0ull;
  uint64_t lo = 0, hi = cache.limit;
  if (cache.expand_down()) {
    lo = uint64_t(cache.limit) + 1;
    hi = cache.big() ? 0xFFFFFFFFull : 0xFFFFull;
  }
  if (!cache.usable) hi = kNone;
  ctx_->seg_lo[seg] = lo;
  ctx_->seg_hi_read[seg] = cache.readable() ? hi : kNone;
  ctx_->seg_hi_write[seg] = cache.writable() ? hi : kNone;
}

Vcpu::Fault Vcpu::CheckReturnCodeSegment(uint16_t selector, SegmentCache* out) {
  // SDM IRET / RET far: the code segment returned to.
  const uint32_t error = selector & 0xFFFC;
  if (error == 0) return ExceptionWithCode(kVecGp, 0);
  Descriptor code;
  if (Fault f = ReadDescriptor(selector, &code)) return f;
  const SegmentCache cs = code.ToCache(selector);
  const uint8_t rpl = selector & 3;
  if (!cs.is_code() || rpl < cpu_.cpl || (cs.conforming() && code.dpl() > rpl) ||
      (!cs.conforming() && code.dpl() != rpl)) {
    return ExceptionWithCode(kVecGp, error);
  }
  if (!code.present()) return ExceptionWithCode(kVecNp, error);
  *out = cs;
  return std::nullopt;
}

Vcpu::Fault Vcpu::CheckReturnStackSegment(uint16_t selector, uint8_t rpl, SegmentCache* out) {
  // SDM IRET / RET far to an outer level: the stack segment returned to.
  const uint32_t error = selector & 0xFFFC;
  if (error == 0) return ExceptionWithCode(kVecGp, 0);
  if ((selector & 3) != rpl) return ExceptionWithCode(kVecGp, error);
  Descriptor stack;
  if (Fault f = ReadDescriptor(selector, &stack)) return f;
  const SegmentCache ss = stack.ToCache(selector);
  if (stack.system() || !ss.writable() || stack.dpl() != rpl) {
    return ExceptionWithCode(kVecGp, error);
  }
  if (!stack.present()) return ExceptionWithCode(kVecSs, error);
  *out = ss;
  return std::nullopt;
}

Vcpu::Fault Vcpu::CheckSegmentAccess(int seg, uint32_t offset, uint32_t size, bool write) {
  // The same ranges translated code checks (SetSegment): SDM 5.3.
  const int64_t lo = int64_t(ctx_->seg_lo[seg]);
  const int64_t hi = int64_t(write ? ctx_->seg_hi_write[seg] : ctx_->seg_hi_read[seg]);
  const int64_t end = int64_t(offset) + size - 1;
  if (int64_t(offset) < lo || end > hi) return ExceptionWithCode(seg == kSs ? kVecSs : kVecGp, 0);
  return std::nullopt;
}

void Vcpu::NullInaccessibleDataSegments(uint8_t new_cpl) {
  for (int s : {kEs, kFs, kGs, kDs}) {
    const SegmentCache& c = cpu_.seg[s];
    if (c.usable && (!c.is_code() || !c.conforming()) && c.dpl() < new_cpl) {
      SetSegment(s, SegmentCache{0, 0, 0, 0, false});
    }
  }
}

Vcpu::Fault Vcpu::LoadSegment(int seg, uint16_t selector) {
  const uint32_t sel_error = selector & 0xFFFC;
  const uint8_t rpl = selector & 3;
  if (sel_error == 0) {
    // A null selector: allowed for data segments (any use faults later),
    // never for SS outside 64-bit mode.
    if (seg == kSs) return ExceptionWithCode(kVecGp, 0);
    SegmentCache null_cache;
    null_cache.selector = selector;
    null_cache.usable = false;
    null_cache.attributes = 0;
    SetSegment(seg, null_cache);
    return std::nullopt;
  }
  Descriptor desc;
  if (Fault f = ReadDescriptor(selector, &desc)) return f;
  SegmentCache cache = desc.ToCache(selector);
  if (seg == kSs) {
    if (rpl != cpu_.cpl || desc.dpl() != cpu_.cpl || !cache.writable() || desc.system()) {
      return ExceptionWithCode(kVecGp, sel_error);
    }
    if (!desc.present()) return ExceptionWithCode(kVecSs, sel_error);
  } else {
    if (desc.system() || !cache.readable()) return ExceptionWithCode(kVecGp, sel_error);
    if (!cache.conforming() && (rpl > desc.dpl() || cpu_.cpl > desc.dpl())) {
      return ExceptionWithCode(kVecGp, sel_error);
    }
    if (!desc.present()) return ExceptionWithCode(kVecNp, sel_error);
  }
  // The processor sets the accessed bit in the descriptor (SDM 3.4.5.1).
  if (!(desc.high & 0x100)) {
    desc.high |= 0x100;
    WriteDescriptorHigh(selector, desc.high);
    cache.attributes |= 1;
  }
  SetSegment(seg, cache);
  return std::nullopt;
}

uint32_t Vcpu::TranslationMode() const {
  // The block-key mode bits (callout_abi.h): CPL in bits 0-1, then what
  // changes the translation of the same bytes.
  uint32_t mode = cpu_.cpl;
  if (!cpu_.seg[kCs].big()) mode |= kModeCode16;
  // Flat means what the translator assumes without checks: base 0, limit
  // 4 GiB, expand-up, and writable data in es/ss/ds.
  for (int s : {kEs, kCs, kSs, kDs}) {
    const SegmentCache& c = cpu_.seg[s];
    if (c.base != 0 || c.limit != 0xFFFFFFFF) mode |= kModeSegmentBases;
    if (s != kCs && (!c.usable || c.expand_down() || !c.writable())) mode |= kModeSegmentBases;
  }
  for (int s : {kFs, kGs}) {
    const SegmentCache& c = cpu_.seg[s];
    if (!c.usable || c.limit != 0xFFFFFFFF || c.expand_down() || !c.writable()) {
      mode |= s == kFs ? kModeFsChecked : kModeGsChecked;
    }
  }
  if (cpu_.cr[0] & 0xC) mode |= kModeFpuTrap;  // CR0.TS | CR0.EM
  return mode;
}

}  // namespace bt86
