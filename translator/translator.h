// The translator: scans guest code into a basic block, classifies each
// instruction and emits host code into the translation cache.
//
//   ScanBlock     decode (Zydis) until a control transfer, a callout that may
//                 change mode, a page boundary or the length limit
//   EmitBlock     one host sequence per guest instruction (block_emitter.h),
//                 then one stub per direct exit
#pragma once

#include <asmjit/core.h>

#include <cstdint>
#include <vector>

#include "bt86/stats.h"
#include "translator/block.h"
#include "translator/code_cache.h"
#include "translator/decoder.h"
#include "translator/host_stubs.h"

namespace bt86 {

/// Where the translator reads guest code from (the runtime's view of memory).
class GuestCodeReader {
 public:
  virtual ~GuestCodeReader() = default;
  /// Copies up to `len` bytes of guest code at `eip` (an offset in the
  /// current code segment) into `out`; returns how many bytes are
  /// fetchable (0 if `eip` itself is not).
  virtual size_t ReadCode(uint32_t eip, uint8_t* out, size_t len) = 0;
  /// Adaptive translation: true if the DIV/IDIV at `eip` has raised #DE
  /// before, so its translation should test for a zero divisor inline
  /// instead of taking a host SIGFPE each time.
  virtual bool IsFaultingDivide(uint32_t eip) { return false; }
};

struct TranslatorOptions {
  uint32_t max_block_insns = 64;
  bool inline_lookup = true;
  bool fast_paths = true;  ///< Inline PUSHF/POPF at ring 0 (needs BMI2 on the host).
};

/// One scanned guest instruction.
struct ScannedInsn {
  DecodedInsn d;
  InsnClass cls;
  CalloutKind failure = CalloutKind::kEmulate;  ///< kInvalidOpcode/kFetchFault if undecodable.
  /// 16-bit code: the host encoding needs the operand-size prefix toggled
  /// (its default operand size is 32 bits, the guest's 16).
  bool toggle_operand_size = false;
  /// A DIV/IDIV known to divide by zero: emitted with an inline zero test.
  bool check_divisor = false;
};

class Translator {
 public:
  Translator(CodeCache* cache, const HostStubs& stubs, const TranslatorOptions& options,
             Stats* stats);

  /// Translates the block that starts at key.eip. Flushes the cache when it
  /// is full. A transient block runs once (max length 1) and is never cached.
  Block* Translate(const BlockKey& key, GuestCodeReader& reader, bool transient);

  /// Scans without emitting (for `bt86 explain` and tests).
  /// `mode` is the block key's mode (CPL in bits 0-1); `cs_base` places the
  /// code at linear cs_base + eip (for the page-boundary rule).
  std::vector<ScannedInsn> ScanBlock(uint32_t eip, GuestCodeReader& reader, uint32_t max_insns,
                                     uint32_t mode = 0, uint32_t cs_base = 0) const;

  const Decoder& decoder() const { return decoder_; }

 private:
  Block* EmitBlock(const BlockKey& key, const std::vector<ScannedInsn>& insns, bool transient);

  CodeCache* cache_;
  HostStubs stubs_;
  TranslatorOptions options_;
  Stats* stats_;
  Decoder decoder_;
  Decoder decoder16_{true};  ///< For 16-bit code segments (mode bit kModeCode16).
  asmjit::CodeHolder code_;  ///< Reused block to block: a soft reset keeps its memory.
};

}  // namespace bt86
