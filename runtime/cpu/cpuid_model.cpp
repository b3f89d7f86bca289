// CPUID model (cpuid_model.h). Bit positions: Intel SDM Vol. 2A, CPUID,
// Table 3-10 (ECX) and Table 3-11 (EDX) for leaf 1.
#include "runtime/cpu/cpuid_model.h"

#include <cstring>

namespace bt86 {
namespace {

constexpr uint32_t kMaxBasicLeaf = 1;
constexpr uint32_t kMaxExtendedLeaf = 0x80000004;

// Leaf 1 EDX.
constexpr uint32_t kFpu = 1u << 0, kTsc = 1u << 4, kCx8 = 1u << 8, kCmov = 1u << 15,
                   kClfsh = 1u << 19, kMmx = 1u << 23, kFxsr = 1u << 24, kSse = 1u << 25,
                   kSse2 = 1u << 26;
// Leaf 1 ECX.
constexpr uint32_t kSse3 = 1u << 0;

// Family 6, model 15, stepping 11 (a Core 2: the era of CPUs without VT-x
// in common use, and a model every 32-bit kernel knows).
constexpr uint32_t kSignature = (6u << 8) | (15u << 4) | 11u;

uint32_t Chars(const char* s) {
  uint32_t v;
  std::memcpy(&v, s, 4);
  return v;
}

}  // namespace

CpuidResult GuestCpuid(uint32_t leaf, uint32_t subleaf) {
  static const char kBrand[49] = "bt86 virtual CPU (binary translation)           ";
  switch (leaf) {
    case 0:
      return {kMaxBasicLeaf, Chars("Genu"), Chars("ntel"), Chars("ineI")};
    case 1:
      // EBX: CLFLUSH line size 8 x 8 = 64 bytes (bits 15:8), APIC ID 0.
      return {kSignature, 8u << 8, kSse3,
              kFpu | kTsc | kCx8 | kCmov | kClfsh | kMmx | kFxsr | kSse | kSse2};
    case 0x80000000:
      return {kMaxExtendedLeaf, 0, 0, 0};
    case 0x80000002:
    case 0x80000003:
    case 0x80000004: {
      const char* p = kBrand + 16 * (leaf - 0x80000002);
      return {Chars(p), Chars(p + 4), Chars(p + 8), Chars(p + 12)};
    }
    default:
      return {0, 0, 0, 0};
  }
}

}  // namespace bt86
