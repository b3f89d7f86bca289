// The CPUID model bt86 presents: GenuineIntel, family 6, advertising only
// features bt86 translates correctly (x87, TSC, CX8, CMOV, CLFSH, MMX,
// FXSR, SSE, SSE2, SSE3). Paging extensions, APIC, SYSENTER and MSRs are
// added as the shadow CPU grows them. Leaves above the maximum return zeros.
#pragma once

#include <cstdint>

namespace bt86 {

struct CpuidResult {
  uint32_t eax, ebx, ecx, edx;
};

/// The guest-visible result of CPUID for `leaf` / `subleaf`.
CpuidResult GuestCpuid(uint32_t leaf, uint32_t subleaf);

}  // namespace bt86
