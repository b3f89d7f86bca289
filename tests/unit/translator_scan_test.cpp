// Translator::ScanBlock (translator/translator.h): where a guest basic block
// ends. A block ends after a control transfer or a callout, at the end of its
// first guest page (an instruction that straddles the boundary is the last
// one), at the length limit, and before an instruction that cannot be
// decoded or fetched; such an instruction, scanned alone, becomes a single
// kUnsupported item that reports #UD (kInvalidOpcode) or the fetch
// (kFetchFault) when reached. Guest code comes from a fake GuestCodeReader.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "translator/memory_code_reader.h"
#include "translator/translator.h"

namespace bt86 {
namespace {

/// A Translator used only for scanning: ScanBlock never touches the cache.
class ScanTest : public ::testing::Test {
 protected:
  std::vector<ScannedInsn> Scan(uint32_t base, std::vector<uint8_t> bytes, uint32_t eip,
                                uint32_t max_insns = 64) {
    MemoryCodeReader reader(base, std::move(bytes));
    return translator_.ScanBlock(eip, reader, max_insns);
  }

  /// EIPs of the scanned instructions, in order.
  static std::vector<uint32_t> Eips(const std::vector<ScannedInsn>& insns) {
    std::vector<uint32_t> out;
    for (const auto& s : insns) out.push_back(s.d.eip);
    return out;
  }

  Stats stats_;
  Translator translator_{nullptr, HostStubs{}, TranslatorOptions{}, &stats_};
};

// add eax, ebx (2 bytes): innocuous filler that never ends a block.
constexpr uint8_t kAdd0 = 0x01, kAdd1 = 0xD8;

TEST_F(ScanTest, EndsAtReturn) {
  const auto insns = Scan(0x1000, {kAdd0, kAdd1, 0x29, 0xC8, 0xC3, 0x90}, 0x1000);
  ASSERT_EQ(insns.size(), 3u);
  EXPECT_EQ(Eips(insns), (std::vector<uint32_t>{0x1000, 0x1002, 0x1004}));
  EXPECT_EQ(insns[0].cls.kind, InsnKind::kIdent);
  EXPECT_EQ(insns[2].cls.kind, InsnKind::kRet);
  EXPECT_TRUE(insns[2].cls.ends_block);
}

TEST_F(ScanTest, EndsAtConditionalBranch) {
  const auto insns = Scan(0x1000, {kAdd0, kAdd1, 0x74, 0x02, kAdd0, kAdd1}, 0x1000);
  ASSERT_EQ(insns.size(), 2u);
  EXPECT_EQ(insns[1].cls.kind, InsnKind::kJcc);
}

TEST_F(ScanTest, EndsAtDirectJumpAndCall) {
  EXPECT_EQ(Scan(0x1000, {0xEB, 0x00, kAdd0, kAdd1}, 0x1000).size(), 1u);
  EXPECT_EQ(Scan(0x1000, {0xE8, 0, 0, 0, 0, kAdd0, kAdd1}, 0x1000).size(), 1u);
}

TEST_F(ScanTest, EndsAtCallout) {
  const auto insns = Scan(0x1000, {kAdd0, kAdd1, 0xF4, kAdd0, kAdd1}, 0x1000);
  ASSERT_EQ(insns.size(), 2u);
  EXPECT_EQ(insns[1].cls.kind, InsnKind::kCallout);
}

TEST_F(ScanTest, StiEndsTheBlockButCliDoesNot) {
  EXPECT_EQ(Scan(0x1000, {0xFB, kAdd0, kAdd1, 0xC3}, 0x1000).size(), 1u);
  EXPECT_EQ(Scan(0x1000, {0xFA, kAdd0, kAdd1, 0xC3}, 0x1000).size(), 3u);
}

TEST_F(ScanTest, EndsAtPageBoundary) {
  // Two adds fill 0x1ffc..0x1fff exactly; the add at 0x2000 is on the next page.
  const auto insns = Scan(0x1ffc, {kAdd0, kAdd1, kAdd0, kAdd1, kAdd0, kAdd1, 0xC3}, 0x1ffc);
  EXPECT_EQ(Eips(insns), (std::vector<uint32_t>{0x1ffc, 0x1ffe}));
  EXPECT_FALSE(insns.back().cls.ends_block);  // the block falls through to 0x2000
}

TEST_F(ScanTest, InstructionStraddlingThePageIsTheLastOne) {
  // mov eax, imm32 at 0x1fff covers 0x1fff..0x2003.
  const auto insns =
      Scan(0x1ffd, {kAdd0, kAdd1, 0xB8, 0x78, 0x56, 0x34, 0x12, kAdd0, kAdd1, 0xC3}, 0x1ffd);
  ASSERT_EQ(Eips(insns), (std::vector<uint32_t>{0x1ffd, 0x1fff}));
  EXPECT_EQ(insns[1].d.length(), 5);
  EXPECT_EQ(insns[1].d.next_eip(), 0x2004u);
}

TEST_F(ScanTest, BlockStartingOnTheLastByteOfAPage) {
  const auto insns = Scan(0x1fff, {0x90, 0x90, 0xC3}, 0x1fff);
  EXPECT_EQ(Eips(insns), (std::vector<uint32_t>{0x1fff}));
}

TEST_F(ScanTest, MaxLengthOne) {
  const auto insns = Scan(0x1000, {kAdd0, kAdd1, kAdd0, kAdd1, 0xC3}, 0x1000, 1);
  ASSERT_EQ(insns.size(), 1u);
  EXPECT_FALSE(insns[0].cls.ends_block);
}

TEST_F(ScanTest, MaxLengthN) {
  std::vector<uint8_t> code;
  for (int i = 0; i < 10; ++i) code.insert(code.end(), {kAdd0, kAdd1});
  code.push_back(0xC3);
  EXPECT_EQ(Scan(0x1000, code, 0x1000, 4).size(), 4u);
  EXPECT_EQ(Scan(0x1000, code, 0x1000, 10).size(), 10u);
  // With room to spare, the return ends the block as the 11th instruction.
  EXPECT_EQ(Scan(0x1000, code, 0x1000, 11).size(), 11u);
  EXPECT_EQ(Scan(0x1000, code, 0x1000, 64).size(), 11u);
}

TEST_F(ScanTest, EndsBeforeAnUndecodableInstruction) {
  // 0F 04 is a blank cell of the two-byte opcode map.
  const auto insns = Scan(0x1000, {kAdd0, kAdd1, 0x0F, 0x04, kAdd0, kAdd1}, 0x1000);
  ASSERT_EQ(insns.size(), 1u);
  EXPECT_EQ(insns[0].cls.kind, InsnKind::kIdent);
  EXPECT_EQ(insns[0].failure, CalloutKind::kEmulate);
}

TEST_F(ScanTest, UndecodableInstructionAloneRaisesInvalidOpcode) {
  const auto insns = Scan(0x1000, {kAdd0, kAdd1, 0x0F, 0x04, kAdd0, kAdd1}, 0x1002);
  ASSERT_EQ(insns.size(), 1u);
  EXPECT_EQ(insns[0].d.eip, 0x1002u);
  EXPECT_EQ(insns[0].cls.kind, InsnKind::kUnsupported);
  EXPECT_TRUE(insns[0].cls.ends_block);
  EXPECT_EQ(insns[0].failure, CalloutKind::kInvalidOpcode);
  EXPECT_EQ(insns[0].d.bytes[0], 0x0F);
  EXPECT_EQ(insns[0].d.bytes[1], 0x04);
}

TEST_F(ScanTest, EndsBeforeAnInstructionThatRunsPastTheReadableBytes) {
  // mov eax, imm32 needs 5 bytes; only 3 are fetchable.
  const auto insns = Scan(0x1000, {kAdd0, kAdd1, 0xB8, 0x78, 0x56}, 0x1000);
  ASSERT_EQ(insns.size(), 1u);
  EXPECT_EQ(insns[0].cls.kind, InsnKind::kIdent);
}

TEST_F(ScanTest, TruncatedInstructionAloneIsAFetchFault) {
  const auto insns = Scan(0x1000, {kAdd0, kAdd1, 0xB8, 0x78, 0x56}, 0x1002);
  ASSERT_EQ(insns.size(), 1u);
  EXPECT_EQ(insns[0].d.eip, 0x1002u);
  EXPECT_EQ(insns[0].cls.kind, InsnKind::kUnsupported);
  EXPECT_TRUE(insns[0].cls.ends_block);
  EXPECT_EQ(insns[0].failure, CalloutKind::kFetchFault);
}

TEST_F(ScanTest, UnreadableEipIsAFetchFault) {
  const auto insns = Scan(0x1000, {kAdd0, kAdd1}, 0x5000);
  ASSERT_EQ(insns.size(), 1u);
  EXPECT_EQ(insns[0].d.eip, 0x5000u);
  EXPECT_EQ(insns[0].cls.kind, InsnKind::kUnsupported);
  EXPECT_EQ(insns[0].failure, CalloutKind::kFetchFault);
}

TEST_F(ScanTest, RunningOffTheEndOfReadableCodeEndsTheBlock) {
  const auto insns = Scan(0x1000, {kAdd0, kAdd1, kAdd0, kAdd1}, 0x1000);
  EXPECT_EQ(Eips(insns), (std::vector<uint32_t>{0x1000, 0x1002}));
  EXPECT_FALSE(insns.back().cls.ends_block);
}

// Encodings the emitter has no sequence for are refused at scan time
// (Refine in translator.cpp).
TEST_F(ScanTest, RefusesHighByteRegisterWithSegmentBaseAddress) {
  // mov ah, fs:[eax]: the [r8] rewrite needs REX, which has no AH.
  const auto refused = Scan(0x1000, {0x64, 0x8A, 0x20, 0xC3}, 0x1000);
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused[0].cls.kind, InsnKind::kUnsupported);
  EXPECT_TRUE(refused[0].cls.ends_block);
  // mov eax, fs:[eax] is fine.
  const auto ok = Scan(0x1000, {0x64, 0x8B, 0x00, 0xC3}, 0x1000);
  ASSERT_EQ(ok.size(), 2u);
  EXPECT_EQ(ok[0].cls.kind, InsnKind::kIdent);
}

// A segment base on the source of a string instruction would break the
// biased-rsi scheme (emit_misc.cpp): the runtime emulates those instead.
TEST_F(ScanTest, StringInstructionWithFsOverrideBecomesACallout) {
  const auto insns = Scan(0x1000, {0x64, 0xA5, 0xC3}, 0x1000);
  ASSERT_EQ(insns.size(), 1u);
  EXPECT_EQ(insns[0].cls.kind, InsnKind::kCallout);
  EXPECT_TRUE(insns[0].cls.ends_block);
  // Other segment overrides are flat: the instruction stays a rewrite.
  const auto flat = Scan(0x1000, {0x2E, 0xA5, 0xC3}, 0x1000);
  ASSERT_EQ(flat.size(), 2u);
  EXPECT_EQ(flat[0].cls.kind, InsnKind::kString);
}

}  // namespace
}  // namespace bt86
