// Zydis wrapper for 32-bit guest code and 64-bit host listings.
#include "translator/decoder.h"

#include <cstring>

namespace bt86 {

const ZydisDecodedOperand* DecodedInsn::MemoryOperand() const {
  for (int i = 0; i < insn.operand_count; ++i) {
    if (ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY && ops[i].mem.type == ZYDIS_MEMOP_TYPE_MEM) {
      return &ops[i];
    }
  }
  return nullptr;
}

bool DecodedInsn::UsesHighByteRegister() const {
  for (int i = 0; i < insn.operand_count; ++i) {
    if (ops[i].type != ZYDIS_OPERAND_TYPE_REGISTER) continue;
    ZydisRegister r = ops[i].reg.value;
    if (r == ZYDIS_REGISTER_AH || r == ZYDIS_REGISTER_CH || r == ZYDIS_REGISTER_DH ||
        r == ZYDIS_REGISTER_BH) {
      return true;
    }
  }
  return false;
}

Decoder::Decoder(bool code16) {
  // The stack width only matters for push/pop sizes Zydis reports; bt86
  // rewrites those from operand_width, and stacks are 32-bit (SS.B = 1).
  ZydisDecoderInit(&decoder_, code16 ? ZYDIS_MACHINE_MODE_LEGACY_16 : ZYDIS_MACHINE_MODE_LEGACY_32,
                   ZYDIS_STACK_WIDTH_32);
  ZydisFormatterInit(&formatter_, ZYDIS_FORMATTER_STYLE_INTEL);
}

bool Decoder::Decode(const uint8_t* code, size_t len, uint32_t eip, DecodedInsn* out) const {
  out->eip = eip;
  if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&decoder_, code, len, &out->insn, out->ops))) {
    return false;
  }
  std::memcpy(out->bytes, code, out->insn.length);
  return true;
}

std::string Decoder::Format(const DecodedInsn& d) const {
  char buf[128];
  if (!ZYAN_SUCCESS(ZydisFormatterFormatInstruction(&formatter_, &d.insn, d.ops,
                                                    d.insn.operand_count_visible, buf, sizeof(buf),
                                                    d.eip, nullptr))) {
    return "(unformattable)";
  }
  return buf;
}

std::string FormatHostInsn(const uint8_t* code, size_t len, uint64_t address, size_t* length) {
  ZydisDisassembledInstruction ins;
  if (!ZYAN_SUCCESS(ZydisDisassembleIntel(ZYDIS_MACHINE_MODE_LONG_64, address, code, len, &ins))) {
    *length = 1;
    return "(bad)";
  }
  *length = ins.info.length;
  return ins.text;
}

}  // namespace bt86
