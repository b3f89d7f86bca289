// ClassifyInsn (translator/insn_class.h): one table of guest encodings, each
// with the InsnKind and ends_block it must get. The expectations come from the
// Intel SDM Vol. 2 opcode map (Appendix A) and the DESIGN.md list of sensitive
// and privileged instructions, not from running the classifier:
//   - ALU, x87, MMX, SSE..SSE3 mean the same in 64-bit mode: kIdent;
//   - 40-4F are REX prefixes in 64-bit mode: kIncDecShort;
//   - stack and control-flow instructions are 64 bits wide in 64-bit mode:
//     rewritten, and every control transfer ends the block;
//   - the 17 sensitive but unprivileged instructions and all privileged ones
//     leave through a callout, which always ends the block.
// Encodings the decoder must reject are checked at the end.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "translator/decoder.h"
#include "translator/insn_class.h"

namespace bt86 {

// Lets GoogleTest print kinds by name in failure messages.
void PrintTo(InsnKind kind, std::ostream* os) {
  *os << InsnKindName(kind);
}

namespace {

constexpr uint32_t kEip = 0x1000;

/// One row of the table: guest bytes and the class the SDM implies.
struct ClassifyCase {
  const char* name;  ///< Test name suffix (letters, digits, underscores).
  std::vector<uint8_t> bytes;
  InsnKind kind;
  bool ends_block;
};

std::ostream& operator<<(std::ostream& os, const ClassifyCase& c) {
  os << c.name << " [";
  for (size_t i = 0; i < c.bytes.size(); ++i) {
    static const char kHex[] = "0123456789abcdef";
    os << (i ? " " : "") << kHex[c.bytes[i] >> 4] << kHex[c.bytes[i] & 15];
  }
  return os << "]";
}

/// Decodes `bytes` from a zero-padded 15-byte buffer, as ScanBlock does.
bool DecodePadded(const std::vector<uint8_t>& bytes, DecodedInsn* out) {
  static const Decoder decoder;
  uint8_t buf[ZYDIS_MAX_INSTRUCTION_LENGTH] = {};
  std::copy(bytes.begin(), bytes.end(), buf);
  return decoder.Decode(buf, sizeof(buf), kEip, out);
}

constexpr InsnKind kIdent = InsnKind::kIdent;
constexpr InsnKind kCallout = InsnKind::kCallout;
constexpr bool kEnds = true;
constexpr bool kFallsOn = false;

const ClassifyCase kCases[] = {
    // ---- IDENT: integer ALU and data movement (SDM Vol. 2, one-byte map).
    {"add_eax_ebx", {0x01, 0xD8}, kIdent, kFallsOn},
    {"add_m32_imm8", {0x83, 0x00, 0x05}, kIdent, kFallsOn},
    {"add_al_imm8_alias_82", {0x82, 0xC0, 0x01}, kIdent, kFallsOn},
    {"sub_eax_ebx_disp8", {0x2B, 0x43, 0x04}, kIdent, kFallsOn},
    {"imul_eax_ecx", {0x0F, 0xAF, 0xC1}, kIdent, kFallsOn},
    {"div_ecx", {0xF7, 0xF1}, kIdent, kFallsOn},
    {"mov_eax_esp_disp8", {0x8B, 0x44, 0x24, 0x04}, kIdent, kFallsOn},
    {"mov_ah_ebx_disp8", {0x8A, 0x63, 0x01}, kIdent, kFallsOn},
    {"mov_eax_moffs32", {0xA1, 0x34, 0x12, 0x00, 0x00}, kIdent, kFallsOn},
    {"mov_ax_bx_opsize", {0x66, 0x89, 0xD8}, kIdent, kFallsOn},
    {"movzx_eax_al", {0x0F, 0xB6, 0xC0}, kIdent, kFallsOn},
    {"lea_eax_esp_disp8", {0x8D, 0x44, 0x24, 0x04}, kIdent, kFallsOn},
    {"xchg_m32_ecx", {0x87, 0x0B}, kIdent, kFallsOn},
    {"lock_cmpxchg_m32_ecx", {0xF0, 0x0F, 0xB1, 0x0B}, kIdent, kFallsOn},
    {"sete_al", {0x0F, 0x94, 0xC0}, kIdent, kFallsOn},
    {"cmove_eax_ecx", {0x0F, 0x44, 0xC1}, kIdent, kFallsOn},
    {"inc_eax_modrm_form", {0xFF, 0xC0}, kIdent, kFallsOn},
    {"inc_m8", {0xFE, 0x00}, kIdent, kFallsOn},
    {"cld", {0xFC}, kIdent, kFallsOn},
    {"nop", {0x90}, kIdent, kFallsOn},
    {"nop_m32", {0x0F, 0x1F, 0x00}, kIdent, kFallsOn},
    {"endbr32", {0xF3, 0x0F, 0x1E, 0xFB}, kIdent, kFallsOn},
    // ---- IDENT: x87, MMX, SSE, SSE2, SSE3.
    {"fld1", {0xD9, 0xE8}, kIdent, kFallsOn},
    {"fld_m32_disp32", {0xD9, 0x05, 0x00, 0x20, 0x00, 0x00}, kIdent, kFallsOn},
    {"fstp_m64", {0xDD, 0x18}, kIdent, kFallsOn},
    {"faddp_st1", {0xDE, 0xC1}, kIdent, kFallsOn},
    {"fnstsw_ax", {0xDF, 0xE0}, kIdent, kFallsOn},
    {"paddb_mm0_mm1", {0x0F, 0xFC, 0xC1}, kIdent, kFallsOn},
    {"movaps_xmm0_xmm1", {0x0F, 0x28, 0xC1}, kIdent, kFallsOn},
    {"addps_xmm0_m128", {0x0F, 0x58, 0x00}, kIdent, kFallsOn},
    {"paddd_xmm0_xmm1", {0x66, 0x0F, 0xFE, 0xC1}, kIdent, kFallsOn},
    {"movsd_sse2_xmm0_m64", {0xF2, 0x0F, 0x10, 0x00}, kIdent, kFallsOn},
    {"haddps_xmm0_xmm1", {0xF2, 0x0F, 0x7C, 0xC1}, kIdent, kFallsOn},

    // ---- 40-4F: inc/dec r32 (REX in 64-bit mode).
    {"inc_eax_40", {0x40}, InsnKind::kIncDecShort, kFallsOn},
    {"inc_ecx_41", {0x41}, InsnKind::kIncDecShort, kFallsOn},
    {"inc_edi_47", {0x47}, InsnKind::kIncDecShort, kFallsOn},
    {"dec_eax_48", {0x48}, InsnKind::kIncDecShort, kFallsOn},
    {"dec_edx_4a", {0x4A}, InsnKind::kIncDecShort, kFallsOn},
    {"dec_edi_4f", {0x4F}, InsnKind::kIncDecShort, kFallsOn},
    {"inc_cx_66_41", {0x66, 0x41}, InsnKind::kIncDecShort, kFallsOn},

    // ---- Stack.
    {"push_eax", {0x50}, InsnKind::kPush, kFallsOn},
    {"push_edi", {0x57}, InsnKind::kPush, kFallsOn},
    {"push_ax", {0x66, 0x50}, InsnKind::kPush, kFallsOn},
    {"push_imm8", {0x6A, 0x7F}, InsnKind::kPush, kFallsOn},
    {"push_imm32", {0x68, 0x78, 0x56, 0x34, 0x12}, InsnKind::kPush, kFallsOn},
    {"push_m32", {0xFF, 0x30}, InsnKind::kPush, kFallsOn},
    {"pop_eax", {0x58}, InsnKind::kPop, kFallsOn},
    {"pop_edi", {0x5F}, InsnKind::kPop, kFallsOn},
    {"pop_m32", {0x8F, 0x00}, InsnKind::kPop, kFallsOn},
    {"pushad", {0x60}, InsnKind::kPusha, kFallsOn},
    {"popad", {0x61}, InsnKind::kPopa, kFallsOn},
    {"leave", {0xC9}, InsnKind::kLeave, kFallsOn},
    {"enter", {0xC8, 0x10, 0x00, 0x00}, kCallout, kEnds},
    // Segment pushes and pops are sensitive (they expose or load selectors).
    {"push_es", {0x06}, kCallout, kEnds},
    {"pop_es", {0x07}, kCallout, kEnds},
    {"push_cs", {0x0E}, kCallout, kEnds},
    {"push_ss", {0x16}, kCallout, kEnds},
    {"pop_ss", {0x17}, kCallout, kEnds},
    {"push_ds", {0x1E}, kCallout, kEnds},
    {"pop_ds", {0x1F}, kCallout, kEnds},
    {"push_fs", {0x0F, 0xA0}, kCallout, kEnds},
    {"pop_fs", {0x0F, 0xA1}, kCallout, kEnds},
    {"push_gs", {0x0F, 0xA8}, kCallout, kEnds},
    {"pop_gs", {0x0F, 0xA9}, kCallout, kEnds},
    {"pushfd", {0x9C}, kCallout, kEnds},
    {"popfd", {0x9D}, kCallout, kEnds},

    // ---- Calls, returns, jumps.
    {"call_rel32", {0xE8, 0x10, 0x00, 0x00, 0x00}, InsnKind::kCallRel, kEnds},
    {"call_eax", {0xFF, 0xD0}, InsnKind::kCallIndirect, kEnds},
    {"call_m32", {0xFF, 0x10}, InsnKind::kCallIndirect, kEnds},
    {"call_m32_disp32", {0xFF, 0x15, 0x00, 0x20, 0x00, 0x00}, InsnKind::kCallIndirect, kEnds},
    {"call_far_ptr16_32_9a", {0x9A, 0x00, 0x10, 0x00, 0x00, 0x08, 0x00}, kCallout, kEnds},
    {"call_far_m16_32_ff3", {0xFF, 0x18}, kCallout, kEnds},
    {"ret", {0xC3}, InsnKind::kRet, kEnds},
    {"ret_imm16", {0xC2, 0x08, 0x00}, InsnKind::kRet, kEnds},
    {"retf_cb", {0xCB}, kCallout, kEnds},
    {"retf_imm16_ca", {0xCA, 0x08, 0x00}, kCallout, kEnds},
    {"jmp_rel8", {0xEB, 0xFE}, InsnKind::kJmpRel, kEnds},
    {"jmp_rel32", {0xE9, 0x00, 0x01, 0x00, 0x00}, InsnKind::kJmpRel, kEnds},
    {"jmp_eax", {0xFF, 0xE0}, InsnKind::kJmpIndirect, kEnds},
    {"jmp_m32", {0xFF, 0x20}, InsnKind::kJmpIndirect, kEnds},
    {"jmp_far_ptr16_32_ea", {0xEA, 0x00, 0x10, 0x00, 0x00, 0x08, 0x00}, kCallout, kEnds},
    {"jmp_far_m16_32_ff5", {0xFF, 0x28}, kCallout, kEnds},
    {"jo_rel8", {0x70, 0x00}, InsnKind::kJcc, kEnds},
    {"jz_rel8", {0x74, 0xFE}, InsnKind::kJcc, kEnds},
    {"jg_rel8", {0x7F, 0x10}, InsnKind::kJcc, kEnds},
    {"jz_rel32", {0x0F, 0x84, 0x00, 0x01, 0x00, 0x00}, InsnKind::kJcc, kEnds},
    {"jg_rel32", {0x0F, 0x8F, 0x00, 0x01, 0x00, 0x00}, InsnKind::kJcc, kEnds},
    {"jecxz", {0xE3, 0x10}, InsnKind::kJcxz, kEnds},
    // 67 E3 is jcxz: it tests cx. No 64-bit encoding does, so the runtime
    // emulates it; the same holds for loop with 67 (counts in cx).
    {"jcxz_67_e3", {0x67, 0xE3, 0x10}, kCallout, kEnds},
    {"loop", {0xE2, 0xFE}, InsnKind::kLoop, kEnds},
    {"loope", {0xE1, 0xFE}, InsnKind::kLoop, kEnds},
    {"loopne", {0xE0, 0xFE}, InsnKind::kLoop, kEnds},
    {"loop_cx_67_e2", {0x67, 0xE2, 0xFE}, kCallout, kEnds},
    {"loop_ip16_66_e2", {0x66, 0xE2, 0xFE}, kCallout, kEnds},

    // ---- String instructions: es:[edi] cannot be confined by gs.
    {"movsb", {0xA4}, InsnKind::kString, kFallsOn},
    {"movsd", {0xA5}, InsnKind::kString, kFallsOn},
    {"movsw", {0x66, 0xA5}, InsnKind::kString, kFallsOn},
    {"rep_movsd", {0xF3, 0xA5}, InsnKind::kString, kFallsOn},
    {"stosb", {0xAA}, InsnKind::kString, kFallsOn},
    {"rep_stosd", {0xF3, 0xAB}, InsnKind::kString, kFallsOn},
    {"lodsb", {0xAC}, InsnKind::kString, kFallsOn},
    {"lodsd", {0xAD}, InsnKind::kString, kFallsOn},
    {"scasb", {0xAE}, InsnKind::kString, kFallsOn},
    {"repne_scasb", {0xF2, 0xAE}, InsnKind::kString, kFallsOn},
    {"cmpsb", {0xA6}, InsnKind::kString, kFallsOn},
    {"repe_cmpsd", {0xF3, 0xA7}, InsnKind::kString, kFallsOn},
    // With 67 they walk si/di and count in cx: emulated.
    {"movsb_addr16", {0x67, 0xA4}, kCallout, kEnds},
    {"rep_stosd_addr16", {0xF3, 0x67, 0xAB}, kCallout, kEnds},
    {"insb", {0x6C}, kCallout, kEnds},
    {"insd", {0x6D}, kCallout, kEnds},
    {"rep_insd", {0xF3, 0x6D}, kCallout, kEnds},
    {"outsb", {0x6E}, kCallout, kEnds},
    {"outsd", {0x6F}, kCallout, kEnds},
    {"xlat", {0xD7}, InsnKind::kXlat, kFallsOn},
    {"xlat_addr16", {0x67, 0xD7}, kCallout, kEnds},  // al = [bx + al]
    {"salc", {0xD6}, InsnKind::kSalc, kFallsOn},

    // ---- Virtual IF. STI ends the block so that a pending interrupt is
    // taken after the one-instruction STI shadow.
    {"cli", {0xFA}, InsnKind::kCli, kFallsOn},
    {"sti", {0xFB}, InsnKind::kSti, kEnds},

    // ---- Port I/O, HLT, CPUID, BCD, software interrupts.
    {"in_al_imm8", {0xE4, 0x60}, kCallout, kEnds},
    {"in_eax_imm8", {0xE5, 0x60}, kCallout, kEnds},
    {"in_al_dx", {0xEC}, kCallout, kEnds},
    {"in_eax_dx", {0xED}, kCallout, kEnds},
    {"out_imm8_al", {0xE6, 0x80}, kCallout, kEnds},
    {"out_dx_al", {0xEE}, kCallout, kEnds},
    {"out_dx_eax", {0xEF}, kCallout, kEnds},
    {"hlt", {0xF4}, kCallout, kEnds},
    {"cpuid", {0x0F, 0xA2}, kCallout, kEnds},
    {"daa", {0x27}, kCallout, kEnds},
    {"das", {0x2F}, kCallout, kEnds},
    {"aaa", {0x37}, kCallout, kEnds},
    {"aas", {0x3F}, kCallout, kEnds},
    {"aam", {0xD4, 0x0A}, kCallout, kEnds},
    {"aad", {0xD5, 0x0A}, kCallout, kEnds},
    {"int3", {0xCC}, kCallout, kEnds},
    {"int_imm8", {0xCD, 0x80}, kCallout, kEnds},
    {"into", {0xCE}, kCallout, kEnds},
    {"int1", {0xF1}, kCallout, kEnds},
    {"iretd", {0xCF}, kCallout, kEnds},
    {"ud2", {0x0F, 0x0B}, kCallout, kEnds},
    {"bound", {0x62, 0x00}, kCallout, kEnds},
    {"arpl", {0x63, 0xC8}, kCallout, kEnds},

    // ---- System instructions (SDM Vol. 2, 0F 00 and 0F 01 groups).
    {"sldt_m16", {0x0F, 0x00, 0x00}, kCallout, kEnds},
    {"str_eax", {0x0F, 0x00, 0xC8}, kCallout, kEnds},
    {"lldt_m16", {0x0F, 0x00, 0x10}, kCallout, kEnds},
    {"ltr_ax", {0x0F, 0x00, 0xD8}, kCallout, kEnds},
    {"verr_ax", {0x0F, 0x00, 0xE0}, kCallout, kEnds},
    {"verw_ax", {0x0F, 0x00, 0xE8}, kCallout, kEnds},
    {"sgdt_m", {0x0F, 0x01, 0x00}, kCallout, kEnds},
    {"sidt_m", {0x0F, 0x01, 0x08}, kCallout, kEnds},
    {"lgdt_m", {0x0F, 0x01, 0x10}, kCallout, kEnds},
    {"lidt_m", {0x0F, 0x01, 0x18}, kCallout, kEnds},
    {"smsw_eax", {0x0F, 0x01, 0xE0}, kCallout, kEnds},
    {"lmsw_ax", {0x0F, 0x01, 0xF0}, kCallout, kEnds},
    {"invlpg_m", {0x0F, 0x01, 0x38}, kCallout, kEnds},
    {"lar", {0x0F, 0x02, 0xC1}, kCallout, kEnds},
    {"lsl", {0x0F, 0x03, 0xC1}, kCallout, kEnds},
    {"clts", {0x0F, 0x06}, kCallout, kEnds},
    {"invd", {0x0F, 0x08}, kCallout, kEnds},
    {"wbinvd", {0x0F, 0x09}, kCallout, kEnds},
    {"wrmsr", {0x0F, 0x30}, kCallout, kEnds},
    {"rdmsr", {0x0F, 0x32}, kCallout, kEnds},
    {"rdpmc", {0x0F, 0x33}, kCallout, kEnds},
    {"sysenter", {0x0F, 0x34}, kCallout, kEnds},
    {"sysexit", {0x0F, 0x35}, kCallout, kEnds},
    {"mov_eax_cr0", {0x0F, 0x20, 0xC0}, kCallout, kEnds},
    {"mov_cr0_eax", {0x0F, 0x22, 0xC0}, kCallout, kEnds},
    {"mov_cr3_eax", {0x0F, 0x22, 0xD8}, kCallout, kEnds},
    {"mov_eax_dr0", {0x0F, 0x21, 0xC0}, kCallout, kEnds},
    {"mov_dr7_eax", {0x0F, 0x23, 0xF8}, kCallout, kEnds},
    {"mov_ds_ax", {0x8E, 0xD8}, kCallout, kEnds},
    {"mov_ss_ax", {0x8E, 0xD0}, kCallout, kEnds},
    {"mov_eax_ds", {0x8C, 0xD8}, kCallout, kEnds},
    {"mov_m16_ds", {0x8C, 0x18}, kCallout, kEnds},
    {"lds", {0xC5, 0x00}, kCallout, kEnds},
    {"les", {0xC4, 0x00}, kCallout, kEnds},
    {"lss", {0x0F, 0xB2, 0x00}, kCallout, kEnds},
    {"lfs", {0x0F, 0xB4, 0x00}, kCallout, kEnds},
    {"lgs", {0x0F, 0xB5, 0x00}, kCallout, kEnds},
};

class ClassifyTest : public ::testing::TestWithParam<ClassifyCase> {};

TEST_P(ClassifyTest, KindAndBlockEnd) {
  const ClassifyCase& c = GetParam();
  DecodedInsn d;
  ASSERT_TRUE(DecodePadded(c.bytes, &d)) << c << " does not decode";
  ASSERT_EQ(d.length(), c.bytes.size()) << c << " decodes to a different length";
  const InsnClass cls = ClassifyInsn(d);
  EXPECT_EQ(cls.kind, c.kind) << c;
  EXPECT_EQ(cls.ends_block, c.ends_block) << c;
}

INSTANTIATE_TEST_SUITE_P(SdmOpcodeMap, ClassifyTest, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<ClassifyCase>& info) {
                           return std::string(info.param.name);
                         });

// Every callout leaves the block, whatever the instruction: code after the
// exit would never run.
TEST(ClassifyInvariantTest, EveryCalloutAndEveryRefusalEndsTheBlock) {
  for (const ClassifyCase& c : kCases) {
    DecodedInsn d;
    if (!DecodePadded(c.bytes, &d)) continue;
    const InsnClass cls = ClassifyInsn(d);
    if (cls.kind == InsnKind::kCallout || cls.kind == InsnKind::kUnsupported) {
      EXPECT_TRUE(cls.ends_block) << c;
    }
  }
}

// Classification depends only on the bytes: the EIP they sit at does not matter.
TEST(ClassifyInvariantTest, IndependentOfEip) {
  const Decoder decoder;
  for (const ClassifyCase& c : kCases) {
    uint8_t buf[ZYDIS_MAX_INSTRUCTION_LENGTH] = {};
    std::copy(c.bytes.begin(), c.bytes.end(), buf);
    DecodedInsn low, high;
    ASSERT_TRUE(decoder.Decode(buf, sizeof(buf), 0x1000, &low)) << c;
    ASSERT_TRUE(decoder.Decode(buf, sizeof(buf), 0xFFFFF000, &high)) << c;
    EXPECT_EQ(ClassifyInsn(low).kind, ClassifyInsn(high).kind) << c;
    EXPECT_EQ(ClassifyInsn(low).ends_block, ClassifyInsn(high).ends_block) << c;
  }
}

// Regression: 66 E3 rel8 is jecxz with a 16-bit operand size, and the SDM
// truncates the new EIP to 16 bits (at 0x101000, `66 e3 10` goes to 0x1013).
// The classifier sent it to the kJcxz rewrite, which exited to 0x101013; it
// is now emulated like loop with 66.
TEST(ClassifyRegressionTest, JecxzWithOperandSizePrefixIsEmulated) {
  DecodedInsn d;
  ASSERT_TRUE(DecodePadded({0x66, 0xE3, 0x10}, &d));
  EXPECT_EQ(ClassifyInsn(d).kind, InsnKind::kCallout);
  EXPECT_TRUE(ClassifyInsn(d).ends_block);
}

// Reserved encodings (blank cells of the SDM opcode map, or group members the
// map leaves undefined) never reach ClassifyInsn: the decoder refuses them and
// ScanBlock turns them into a #UD item (translator_scan_test.cpp).
TEST(ClassifyInvalidTest, DecoderRefusesUndefinedOpcodes) {
  const std::vector<std::vector<uint8_t>> invalid = {
      {0x0F, 0x04},  // 0F 04: blank in the two-byte map
      {0x0F, 0x0A},  // 0F 0A: blank in the two-byte map
      {0xFE, 0x38},  // Group 4 (FE) defines only /0 INC and /1 DEC
      {0xFF, 0xFF},  // Group 5 (FF) /7 is reserved
      {0xFF, 0xD8},  // FF /3 (far call) needs a memory operand m16:32
  };
  for (const auto& bytes : invalid) {
    DecodedInsn d;
    EXPECT_FALSE(DecodePadded(bytes, &d))
        << ClassifyCase{"invalid", bytes, InsnKind::kUnsupported, true};
  }
}

TEST(InsnKindNameTest, NamesAreDistinctAndLowercase) {
  std::vector<std::string> names;
  for (int k = int(InsnKind::kIdent); k <= int(InsnKind::kUnsupported); ++k) {
    const std::string name = InsnKindName(InsnKind(k));
    EXPECT_NE(name, "?");
    for (char ch : name) EXPECT_TRUE(ch == '-' || (ch >= 'a' && ch <= 'z')) << name;
    names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(std::adjacent_find(names.begin(), names.end()), names.end());
}

}  // namespace
}  // namespace bt86
