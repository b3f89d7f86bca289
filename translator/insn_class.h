// The one table that says how each guest instruction is translated.
//
//   kIdent      runs natively: bytes copied, memory operands made gs:[32-bit EA]
//   rewritten   kinds (kPush ... kSalc): same effect, other host instructions,
//               because the 64-bit encoding means something else
//   kCallout    exits to the runtime, which emulates it against the shadow CPU
//   kUnsupported / kInvalid stop the guest with a report / raise #UD
#pragma once

#include <cstdint>

#include "translator/decoder.h"

namespace bt86 {

enum class InsnKind : uint8_t {
  kIdent,
  kIncDecShort,  ///< 40-4F are REX prefixes in 64-bit mode.
  kPush,
  kPop,
  kPusha,
  kPopa,
  kLeave,
  kCallRel,
  kCallIndirect,
  kRet,
  kJmpRel,
  kJmpIndirect,
  kJcc,
  kJcxz,    ///< jecxz: re-emitted with 0x67 so it tests ecx.
  kLoop,    ///< loop/loope/loopne.
  kString,  ///< movs stos lods scas cmps: es:[edi] ignores overrides.
  kXlat,
  kSalc,
  kCli,
  kSti,
  kPushf,  ///< Ring 0 fast path: flags image built inline (BMI2 pext/pdep).
  kPopf,
  kCallout,      ///< Emulated by the runtime (I/O, HLT, CPUID, PUSHF, BCD, ...).
  kUnsupported,  ///< Stops the guest with a report naming the instruction.
};

/// How one instruction is translated.
struct InsnClass {
  InsnKind kind;
  bool ends_block;  ///< Control transfer or an exit after which the mode may change.
};

/// Classifies a decoded guest instruction. Pure: depends only on its bytes.
InsnClass ClassifyInsn(const DecodedInsn& d);

/// True for movs, stos, lods, scas and cmps (any width).
bool IsStringInstruction(ZydisMnemonic m);

/// True for x87, MMX and SSE instructions: the ones CR0.TS/EM make fault
/// (SDM Vol. 3A 2.5, Table 2-2).
bool UsesFpuState(const DecodedInsn& d);

/// Short lowercase name of a kind ("ident", "push", "callout", ...).
const char* InsnKindName(InsnKind kind);

}  // namespace bt86
