// The guest register state a loader hands to the run loop. Only what differs
// between boot protocols lives here; every loader so far expects the same
// machine state besides (Multiboot 0.6.96 section 3.2): protected mode with
// paging off (CR0.PE=1, PG=0), CS a flat 32-bit execute/read segment and
// DS/ES/FS/GS/SS flat 32-bit read/write segments, A20 enabled. The run loop
// sets those up.
#pragma once

#include <cstdint>

namespace bt86 {

struct BootState {
  /// Indices into gpr[], in the SDM's register-number order.
  static constexpr int kEax = 0, kEcx = 1, kEdx = 2, kEbx = 3;
  static constexpr int kEsp = 4, kEbp = 5, kEsi = 6, kEdi = 7;

  uint32_t eip = 0;       ///< First guest instruction (guest physical = linear).
  uint32_t gpr[8] = {};   ///< eax ecx edx ebx esp ebp esi edi.
  uint32_t eflags = 0x2;  ///< Bit 1 is always set; IF=0.
};

}  // namespace bt86
