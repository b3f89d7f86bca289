// The shadow CPU: the privileged state a deprivileged guest kernel believes
// it owns (Intel SDM Vol. 3A, chapters 2-3 and 6): control registers,
// descriptor-table registers, segment registers with their hidden descriptor
// caches, CPL, the system bits of EFLAGS, debug registers and MSRs.
//
// Translated code sees only what callout_abi.h exports (segment bases, the
// virtual IF); everything else is read and written by the C++ emulator.
#pragma once

#include <cstdint>

namespace bt86 {

/// A segment register's hidden part (SDM 3.4.3), as loaded from a descriptor.
struct SegmentCache {
  uint16_t selector = 0;
  uint32_t base = 0;
  uint32_t limit = 0xFFFFFFFF;  ///< Effective byte limit (granularity applied).
  uint16_t attributes = 0;      ///< Descriptor bits 40..55: type, S, DPL, P, AVL, L, D/B, G.
  bool usable = true;           ///< False after a null selector load (data segments).

  uint8_t type() const { return attributes & 0xF; }
  bool system() const { return !(attributes & 0x10); }
  uint8_t dpl() const { return (attributes >> 5) & 3; }
  bool present() const { return attributes & 0x80; }
  bool big() const { return attributes & 0x4000; }  ///< D/B: 32-bit code or stack.
  bool is_code() const { return !system() && (type() & 0x8); }
  bool conforming() const { return is_code() && (type() & 0x4); }
  bool readable() const { return is_code() ? (type() & 0x2) : true; }
  bool writable() const { return !is_code() && (type() & 0x2); }
  bool expand_down() const { return !is_code() && (type() & 0x4); }
};

/// GDTR or IDTR.
struct TableRegister {
  uint32_t base = 0;
  uint16_t limit = 0xFFFF;  ///< Power-on value (SDM 9.1.1).
};

/// An 8-byte descriptor as read from a GDT, LDT or IDT.
struct Descriptor {
  uint32_t low = 0;
  uint32_t high = 0;

  uint32_t base() const { return (low >> 16) | ((high & 0xFF) << 16) | (high & 0xFF000000); }
  uint32_t limit() const {
    const uint32_t raw = (low & 0xFFFF) | (high & 0xF0000);
    return (high & 0x800000) ? (raw << 12) | 0xFFF : raw;
  }
  uint16_t attributes() const { return uint16_t((high >> 8) & 0xF0FF); }
  bool present() const { return high & 0x8000; }
  uint8_t dpl() const { return (high >> 13) & 3; }
  uint8_t type() const { return (high >> 8) & 0xF; }
  bool system() const { return !(high & 0x1000); }
  /// Gate fields (call, interrupt, trap gates).
  uint16_t gate_selector() const { return uint16_t(low >> 16); }
  uint32_t gate_offset() const { return (low & 0xFFFF) | (high & 0xFFFF0000); }
  uint8_t gate_param_count() const { return high & 0x1F; }

  SegmentCache ToCache(uint16_t selector) const {
    return {selector, base(), limit(), attributes(), true};
  }
};

/// System descriptor types (SDM Table 3-2, 32-bit mode).
enum DescriptorType : uint8_t {
  kTss16Available = 1,
  kLdt = 2,
  kTss16Busy = 3,
  kCallGate16 = 4,
  kTaskGate = 5,
  kInterruptGate16 = 6,
  kTrapGate16 = 7,
  kTss32Available = 9,
  kTss32Busy = 11,
  kCallGate32 = 12,
  kInterruptGate32 = 14,
  kTrapGate32 = 15,
};

/// MSR numbers the shadow CPU implements (SDM Vol. 4).
enum Msr : uint32_t {
  kMsrTsc = 0x10,
  kMsrApicBase = 0x1B,
  kMsrMiscEnable = 0x1A0,
  kMsrSysenterCs = 0x174,
  kMsrSysenterEsp = 0x175,
  kMsrSysenterEip = 0x176,
  kMsrPat = 0x277,
};

struct ShadowCpu {
  uint32_t cr[5] = {0x11, 0, 0, 0, 0};  ///< CR0 as the Multiboot loader leaves it: PE | ET.
  TableRegister gdtr;
  TableRegister idtr;
  SegmentCache seg[6];  ///< By Seg (es cs ss ds fs gs).
  SegmentCache ldtr;
  SegmentCache tr;
  uint8_t cpl = 0;
  uint32_t dr[8] = {0, 0, 0, 0, 0xFFFF0FF0, 0x400, 0xFFFF0FF0, 0x400};
  uint32_t sysenter_cs = 0;
  uint32_t sysenter_esp = 0;
  uint32_t sysenter_eip = 0;
  uint64_t apic_base = 0xFEE00900;  ///< BSP, enabled, default base.
  uint64_t pat = 0x0007040600070406ull;
  uint64_t misc_enable = 1;  ///< Fast strings.
  uint64_t mtrr[64] = {};    ///< MTRRs and other storage-only MSRs, by slot.
};

}  // namespace bt86
