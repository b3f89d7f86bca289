// Differential testing: run one snippet natively (native32.h) and translated
// (translated32.h) from the same input and compare everything the guest can
// observe: the eight GPRs, CF PF AF ZF SF OF DF, the arena, and how the run
// ended. A native fault (SIGFPE for #DE, SIGSEGV, ...) must be matched by a
// translated kGuestFault at the same EIP with the same registers, flags and
// memory: bt86 promises precise state (DESIGN.md, "Precise state").
//
// Arena layout shared by the tests (offsets from kArenaBase):
//
//   0x00000  zeros
//   0x01000  code (kCodeOffset), then the tail
//   0x80000  data area (kDataOffset): a deterministic byte pattern
//   0xe0000  stack area, growing down from kStackTop (0xf0000)
//   0xf0000  zeros up to the end of the arena (0x100000)
//
// What the two runs do not share, so a snippet must not depend on it:
//   - XMM and MMX/x87 register contents at entry: the native runner leaves
//     the host's values (it resets only FCW, MXCSR and the x87 tags), bt86
//     starts from zeros. Load or clear a register before reading it.
//   - memory outside the arena: natively unmapped, translated guest RAM
//     (4 MiB from 0). An access there faults natively only.
//   - IF and the reserved EFLAGS bits, and the segment selectors.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "bt86/config.h"
#include "oracle/native32.h"
#include "oracle/translated32.h"

namespace bt86::oracle {

constexpr uint32_t kCodeOffset = 0x1000;
constexpr uint32_t kCodeAddress = kArenaBase + kCodeOffset;  ///< 0x00101000
constexpr uint32_t kDataOffset = 0x80000;
constexpr uint32_t kDataAddress = kArenaBase + kDataOffset;  ///< 0x00180000
constexpr uint32_t kDataBytes = 0x60000;
constexpr uint32_t kStackTop = kArenaBase + 0xf0000;  ///< 0x001f0000

/// The flags a comparison looks at: the guest's arithmetic flags and DF.
constexpr uint32_t kComparedFlags = kInputFlagsMask;

/// How the native run must end for the case to be meaningful.
enum class Expect {
  kCompletes,  ///< Both runs reach the tail.
  kFaults,     ///< Native faults; translated must stop at the same place.
  kEither,     ///< Whatever native does, translated must do too (random tests).
};

/// One snippet and its input.
struct DiffCase {
  std::vector<uint8_t> code;
  CpuState in = DefaultInput();
  /// kArenaBytes long; DefaultArena() if left empty.
  std::vector<uint8_t> arena;
  uint32_t code_offset = kCodeOffset;
  /// Flags left out of the comparison: only for instructions bt86 emulates
  /// in C++ whose flags the SDM leaves undefined (BCD).
  uint32_t ignore_flags = 0;
  Expect expect = Expect::kCompletes;

  /// eax..edi = distinct recognizable values, esp = kStackTop, ebx = ebp =
  /// esi = edi's values chosen to point into the data area, flags clear.
  static CpuState DefaultInput();
  /// Zeros with the data area filled with a fixed pseudo-random pattern.
  static std::vector<uint8_t> DefaultArena();
};

/// Both results, for assertions beyond the comparison.
struct DiffOutcome {
  NativeResult native;
  TranslatedResult translated;
  std::vector<uint8_t> native_arena;
  std::vector<uint8_t> translated_arena;
};

/// Runs `c` natively and under bt86 with `config`; success if the runs agree
/// (and end as c.expect says). The failure message names every differing
/// GPR, the differing flags by name, the first differing arena bytes and
/// both fault reports. `out`, if given, receives both results.
::testing::AssertionResult CompareRuns(const DiffCase& c, const Config& config,
                                       DiffOutcome* out = nullptr);

/// Shorthand: `code` from the default input and arena.
::testing::AssertionResult CompareRuns(const std::vector<uint8_t>& code, const Config& config);

/// Human-readable names of the flag bits set in `flags` ("CF ZF").
std::string FlagNames(uint32_t flags);

/// Hex bytes separated by spaces, as `bt86 explain --bytes` takes them.
std::string HexBytes(const std::vector<uint8_t>& code);

}  // namespace bt86::oracle
