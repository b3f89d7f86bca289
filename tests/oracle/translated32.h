// The translated counterpart of the native oracle (native32.h): runs the same
// 32-bit snippet under bt86 and reports the same things (registers, EFLAGS,
// the arena), so that a test can compare the two runs field by field.
//
// Conventions mirror RunNative32:
//   - a fresh Machine (guest paging off: guest address = physical address,
//     RAM from 0, 4 MiB) gets the arena image at kArenaBase;
//   - the snippet sits at kArenaBase + code_offset and is followed by `hlt`
//     (F4), which stops the guest with kHalted since IF is 0;
//   - only CF PF AF ZF SF OF DF of `in.eflags` are applied (IF = 0);
//   - the arena is read back except the kTailBytes after the snippet, which
//     keep their input values exactly as the native runner leaves them, so
//     the two arenas compare byte for byte.
// Guest RAM is larger than the native arena: an access outside the arena but
// inside RAM succeeds here and faults natively. Tests compare only snippets
// that are valid natively.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bt86/config.h"
#include "bt86/machine.h"
#include "bt86/stats.h"
#include "oracle/native32.h"

namespace bt86::oracle {

/// Guest RAM of the translated runs (the arena and room around it); accesses
/// at or above it stop the guest with kGuestFault.
constexpr uint64_t kTranslatedRamBytes = 4ull << 20;
/// Wall-clock limit of one translated run, so a broken translation fails
/// its test instead of hanging it.
constexpr double kTranslatedTimeoutSeconds = 10;
/// Length of the translated tail (`hlt`).
constexpr uint32_t kTranslatedTailBytes = 1;

/// What a translated run ended with.
struct TranslatedResult {
  /// The guest ran to the tail: kHalted with eip just past the `hlt`.
  bool completed = false;
  RunResult::Kind kind = RunResult::Kind::kHalted;
  /// If not completed: the run result's kind and report (or why the Machine
  /// could not be built).
  std::string fault;
  uint32_t eip = 0;  ///< Guest EIP at the end (the faulting instruction for faults).
  CpuState state{};  ///< Registers and EFLAGS (IF, system bits as bt86 reports them).
  Stats stats;       ///< The Machine's counters after the run.
};


/// Runs `code` under bt86 with `config` (memory, timeout and serial echo are
/// overridden as described above), from kArenaBase + code_offset with `in`,
/// and copies the guest's arena back into `arena` (without the tail bytes).
/// Aborts with a message if the arguments do not fit, like RunNative32.
TranslatedResult RunTranslated32(std::vector<uint8_t>& arena, uint32_t code_offset,
                                 const std::vector<uint8_t>& code, const CpuState& in,
                                 const Config& config);

}  // namespace bt86::oracle
