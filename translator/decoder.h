// Decoding of 32-bit guest code with Zydis: one DecodedInsn per guest
// instruction, carrying the bytes, the Zydis view and the guest EIP.
#pragma once

#include <Zydis/Zydis.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace bt86 {

/// One decoded guest instruction.
struct DecodedInsn {
  uint32_t eip = 0;
  uint8_t bytes[ZYDIS_MAX_INSTRUCTION_LENGTH] = {};
  ZydisDecodedInstruction insn;
  ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];

  uint8_t length() const { return insn.length; }
  uint32_t next_eip() const { return eip + insn.length; }
  /// The first opcode byte after all legacy prefixes.
  uint8_t opcode_byte() const { return bytes[insn.raw.prefix_count]; }
  /// The explicit or hidden memory operand (not LEA's address), or nullptr.
  const ZydisDecodedOperand* MemoryOperand() const;
  /// True if any operand is an 8-bit high register (AH, CH, DH, BH).
  bool UsesHighByteRegister() const;
};

/// Decodes protected-mode code of a 32-bit (default) or 16-bit code
/// segment. Cheap to construct; not thread-safe.
class Decoder {
 public:
  explicit Decoder(bool code16 = false);
  /// Decodes one instruction from `len` bytes at `code`. False if invalid.
  bool Decode(const uint8_t* code, size_t len, uint32_t eip, DecodedInsn* out) const;
  /// Intel-syntax text of a decoded instruction.
  std::string Format(const DecodedInsn& d) const;

 private:
  ZydisDecoder decoder_;
  ZydisFormatter formatter_;
};

/// Intel-syntax text of host (64-bit) code at `code`, one instruction.
std::string FormatHostInsn(const uint8_t* code, size_t len, uint64_t address, size_t* length);

}  // namespace bt86
