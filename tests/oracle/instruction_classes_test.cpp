// Differential tests, one per instruction class: each snippet runs natively
// (32-bit compatibility mode) and translated by bt86 from the same input, and
// registers, flags, memory and faults must agree (differential.h). Every test
// runs with 1 and 64 guest instructions per block, chaining on and off; the
// branch tests also with the inline indirect-branch lookup on and off.
//
// Input (differential.h): eax=8badf00d ecx=00000010 edx=7ea51ce5
// ebx=00180100 esp=001f0000 ebp=00180800 esi=00182000 edi=00184000, the data
// area at 00180000 filled with a fixed pattern. Run() runs each case twice, with
// the given arithmetic flags and with all six inverted, so glue code that
// clobbers the guest's flags shows even where the snippet sets none.
//
// fs:/gs: overrides are not tested here: natively FS and GS hold null
// selectors (an access faults), and bt86 has no API yet to give the guest a
// segment base, so there is no oracle for them.
//
// Bytes were assembled with nasm (bits 32, org 0x101000) by asm_bytes.py;
// the assembly is in the comments.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "oracle/differential.h"

namespace bt86::oracle {
namespace {

constexpr uint32_t kArithFlags = kFlagCf | kFlagPf | kFlagAf | kFlagZf | kFlagSf | kFlagOf;

/// The translator knobs a test runs under.
struct OracleConfig {
  uint32_t max_block_instructions;
  bool chaining;
  bool inline_lookup;
};

void PrintTo(const OracleConfig& c, std::ostream* os) {
  *os << "{block " << c.max_block_instructions << ", chaining " << c.chaining << ", inline_lookup "
      << c.inline_lookup << "}";
}

std::string ConfigName(const ::testing::TestParamInfo<OracleConfig>& info) {
  const OracleConfig& c = info.param;
  return "Block" + std::to_string(c.max_block_instructions) +
         (c.chaining ? "_Chained" : "_Unchained") +
         (c.inline_lookup ? "_InlineLookup" : "_NoInlineLookup");
}

template <typename T>
void Put(std::vector<uint8_t>& arena, uint32_t address, T value) {
  std::memcpy(&arena.at(address - kArenaBase), &value, sizeof(value));
}

void PutBytes(std::vector<uint8_t>& arena, uint32_t address, const std::vector<uint8_t>& bytes) {
  std::memcpy(&arena.at(address - kArenaBase), bytes.data(), bytes.size());
}

template <typename T>
T Get(const std::vector<uint8_t>& arena, uint32_t address) {
  T value;
  std::memcpy(&value, &arena.at(address - kArenaBase), sizeof(value));
  return value;
}

/// A snippet that must fault natively, and stop translated at the same place.
struct FaultCase {
  const char* name;
  std::vector<uint8_t> code;
  uint32_t fault_offset;  ///< Offset of the faulting instruction in `code`.
  int signo;              ///< The native signal.
};

class InstructionClassTest : public ::testing::TestWithParam<OracleConfig> {
 protected:
  Config config() const {
    Config c;
    c.max_block_instructions = GetParam().max_block_instructions;
    c.chaining = GetParam().chaining;
    c.inline_lookup = GetParam().inline_lookup;
    return c;
  }

  static DiffCase Case(std::vector<uint8_t> code) {
    DiffCase c;
    c.code = std::move(code);
    c.arena = DiffCase::DefaultArena();
    return c;
  }

  /// One comparison with exactly the case's input.
  ::testing::AssertionResult RunOnce(const DiffCase& c, DiffOutcome* out = nullptr) const {
    return CompareRuns(c, config(), out);
  }

  /// Two comparisons: the case's flags, then its arithmetic flags inverted.
  ::testing::AssertionResult Run(DiffCase c) const {
    const uint32_t flags = c.in.eflags;
    for (uint32_t f : {flags, flags ^ kArithFlags}) {
      c.in.eflags = f;
      ::testing::AssertionResult r = CompareRuns(c, config());
      if (!r) return r;
    }
    return ::testing::AssertionSuccess();
  }
  ::testing::AssertionResult Run(std::vector<uint8_t> code) const {
    return Run(Case(std::move(code)));
  }

  /// Native must fault as `f` says; translated must stop at the same
  /// instruction with the same registers, flags and memory.
  void ExpectPreciseFault(const FaultCase& f) const { ExpectPreciseFault(f, Case(f.code)); }
  /// The same with a prepared case (arena, registers) for `f.code`.
  void ExpectPreciseFault(const FaultCase& f, DiffCase c) const {
    c.expect = Expect::kFaults;
    DiffOutcome out;
    EXPECT_TRUE(RunOnce(c, &out)) << f.name;
    EXPECT_EQ(out.native.signo, f.signo) << f.name;
    EXPECT_EQ(out.native.fault_eip, kCodeAddress + f.fault_offset) << f.name;
    EXPECT_EQ(out.translated.eip, kCodeAddress + f.fault_offset) << f.name;
  }

  /// Expects the runs of `code` (default input, both flag inputs) to agree.
  void ExpectSame(std::vector<uint8_t> code) const { EXPECT_TRUE(Run(std::move(code))); }

  /// Runs `code` once per register set (eax, ecx, edx; the pointers stay).
  void RunWithAluInputs(const std::vector<uint8_t>& code) const {
    static const uint32_t kInputs[][3] = {
        {0x00000000, 0x00000000, 0x00000000}, {0x00000001, 0xffffffff, 0x80000000},
        {0x7fffffff, 0x00000001, 0x7fffffff}, {0x80000000, 0x80000000, 0x00000001},
        {0x8badf00d, 0x00000010, 0x7ea51ce5}, {0x0000ff80, 0x00007f7f, 0xffff8000},
    };
    for (const auto& in : kInputs) {
      DiffCase c = Case(code);
      c.in.gpr[kEax] = in[0];
      c.in.gpr[kEcx] = in[1];
      c.in.gpr[kEdx] = in[2];
      EXPECT_TRUE(Run(c)) << "eax=" << std::hex << in[0] << " ecx=" << in[1] << " edx=" << in[2];
    }
  }
};

/// Control transfers: also run with the inline lookup off.
class BranchClassTest : public InstructionClassTest {};

INSTANTIATE_TEST_SUITE_P(Configs, InstructionClassTest,
                         ::testing::Values(OracleConfig{1, false, true},
                                           OracleConfig{1, true, true},
                                           OracleConfig{64, false, true},
                                           OracleConfig{64, true, true}),
                         ConfigName);

INSTANTIATE_TEST_SUITE_P(
    Configs, BranchClassTest,
    ::testing::Values(OracleConfig{1, false, true}, OracleConfig{1, true, true},
                      OracleConfig{64, false, true}, OracleConfig{64, true, true},
                      OracleConfig{1, false, false}, OracleConfig{1, true, false},
                      OracleConfig{64, false, false}, OracleConfig{64, true, false}),
    ConfigName);

// ---------------------------------------------------------------------------
// ALU, register and immediate operands (IDENT, bytes copied).

TEST_P(InstructionClassTest, AluRegisterAndImmediate32) {
  RunWithAluInputs({
      0x01, 0xc8,                          // add eax, ecx
      0x89, 0x07,                          // mov [edi], eax
      0x11, 0xc2,                          // adc edx, eax
      0x89, 0x57, 0x04,                    // mov [edi+4], edx
      0x29, 0xd1,                          // sub ecx, edx
      0x19, 0xc8,                          // sbb eax, ecx
      0x89, 0x47, 0x08,                    // mov [edi+8], eax
      0x81, 0xe2, 0x0f, 0xff, 0xf0, 0x0f,  // and edx, 0x0ff0ff0f
      0x09, 0xc1,                          // or ecx, eax
      0x35, 0x5a, 0x5a, 0x5a, 0x5a,        // xor eax, 0x5a5a5a5a
      0x39, 0xc8,                          // cmp eax, ecx
      0x0f, 0x92, 0x47, 0x0c,              // setb [edi+12]
      0x0f, 0x9c, 0x47, 0x0d,              // setl [edi+13]
      0x0f, 0x90, 0x47, 0x0e,              // seto [edi+14]
      0x85, 0xca,                          // test edx, ecx
      0x0f, 0x94, 0x47, 0x0f,              // setz [edi+15]
      0x0f, 0x98, 0x47, 0x10,              // sets [edi+16]
      0x0f, 0x9a, 0x47, 0x11,              // setp [edi+17]
      0x05, 0xff, 0xff, 0xff, 0x7f,        // add eax, 0x7fffffff
      0x0f, 0x90, 0x47, 0x12,              // seto [edi+18]
      0x81, 0xd1, 0x78, 0x56, 0x34, 0x12,  // adc ecx, 0x12345678
      0x83, 0xda, 0xfd,                    // sbb edx, -3
      0x81, 0xf9, 0x00, 0x00, 0x00, 0x80,  // cmp ecx, 0x80000000
      0x0f, 0x93, 0x47, 0x13,              // setae [edi+19]
      0xf7, 0xd8,                          // neg eax
      0xf7, 0xd1,                          // not ecx
      0x83, 0xea, 0x01,                    // sub edx, 1
      0x89, 0x57, 0x14,                    // mov [edi+20], edx
      0x83, 0xc3, 0x00,                    // add ebx, 0
      0x89, 0x4f, 0x18,                    // mov [edi+24], ecx
  });
}

TEST_P(InstructionClassTest, AluRegisterAndImmediate16) {
  RunWithAluInputs({
      0x66, 0x01, 0xc8,              // add ax, cx
      0x66, 0x89, 0x07,              // mov [edi], ax
      0x66, 0x11, 0xc2,              // adc dx, ax
      0x66, 0x81, 0xe9, 0x34, 0x12,  // sub cx, 0x1234
      0x66, 0x19, 0xc8,              // sbb ax, cx
      0x66, 0x81, 0xe2, 0xf0, 0x0f,  // and dx, 0x0ff0
      0x66, 0x09, 0xc1,              // or cx, ax
      0x66, 0x35, 0x5a, 0x5a,        // xor ax, 0x5a5a
      0x66, 0x39, 0xc8,              // cmp ax, cx
      0x0f, 0x92, 0x47, 0x02,        // setb [edi+2]
      0x0f, 0x9f, 0x47, 0x03,        // setg [edi+3]
      0x66, 0xf7, 0xc2, 0x01, 0x80,  // test dx, 0x8001
      0x0f, 0x95, 0x47, 0x04,        // setnz [edi+4]
      0x66, 0x83, 0xc2, 0xff,        // add dx, -1
      0x0f, 0x90, 0x47, 0x05,        // seto [edi+5]
      0x66, 0xf7, 0xd8,              // neg ax
      0x66, 0xf7, 0xd1,              // not cx
      0x66, 0x69, 0xc1, 0x34, 0x12,  // imul ax, cx, 0x1234
      0x66, 0x0f, 0xaf, 0xd1,        // imul dx, cx
      0x66, 0x89, 0x47, 0x06,        // mov [edi+6], ax
      0x66, 0xc1, 0xe1, 0x03,        // shl cx, 3
      0x66, 0xd3, 0xfa,              // sar dx, cl
      0x66, 0xd1, 0xc0,              // rol ax, 1
      0x66, 0xd1, 0xd9,              // rcr cx, 1
      0x66, 0x0f, 0xa4, 0xd0, 0x07,  // shld ax, dx, 7
      0x66, 0x0f, 0xad, 0xca,        // shrd dx, cx, cl
      0x66, 0x0f, 0xba, 0xe0, 0x03,  // bt ax, 3
      0x0f, 0x92, 0x47, 0x08,        // setc [edi+8]
      0x66, 0x0f, 0xba, 0xe9, 0x0f,  // bts cx, 15
      0x66, 0x0f, 0xb3, 0xc2,        // btr dx, ax
      0x0f, 0xb7, 0xc0,              // movzx eax, ax
      0x0f, 0xbf, 0xc9,              // movsx ecx, cx
      0x66, 0x92,                    // xchg ax, dx
      0x66, 0x99,                    // cwd
      0x66, 0x98,                    // cbw
      0x66, 0xb8, 0x34, 0x12,        // mov ax, 0x1234
  });
}

TEST_P(InstructionClassTest, AluLowAndHighByteRegisters) {
  RunWithAluInputs({
      0x00, 0xc8,              // add al, cl
      0x00, 0xec,              // add ah, ch
      0x10, 0xc6,              // adc dh, al
      0x10, 0xe2,              // adc dl, ah
      0x28, 0xf5,              // sub ch, dh
      0x80, 0xd9, 0x80,        // sbb cl, 0x80
      0x80, 0xe4, 0xf0,        // and ah, 0xf0
      0x08, 0xce,              // or dh, cl
      0x30, 0xe0,              // xor al, ah
      0x38, 0xf5,              // cmp ch, dh
      0x0f, 0x92, 0x07,        // setb [edi]
      0x0f, 0x9e, 0x47, 0x01,  // setle [edi+1]
      0xf6, 0xc4, 0x81,        // test ah, 0x81
      0x0f, 0x95, 0x47, 0x02,  // setnz [edi+2]
      0xf6, 0xde,              // neg dh
      0xf6, 0xd5,              // not ch
      0xfe, 0xc4,              // inc ah
      0xfe, 0xc9,              // dec cl
      0x89, 0x47, 0x04,        // mov [edi+4], eax
      0x89, 0x4f, 0x08,        // mov [edi+8], ecx
      0x89, 0x57, 0x0c,        // mov [edi+12], edx
      0xd0, 0xe4,              // shl ah, 1
      0xd2, 0xee,              // shr dh, cl
      0xc0, 0xc5, 0x03,        // rol ch, 3
      0xd0, 0xd0,              // rcl al, 1
      0x86, 0xe2,              // xchg ah, dl
      0x86, 0xce,              // xchg cl, dh
      0x0f, 0xb6, 0xc4,        // movzx eax, ah
      0x0f, 0xbe, 0xce,        // movsx ecx, dh
      0x0f, 0xb6, 0xd5,        // movzx edx, ch
      0xf6, 0xe2,              // mul dl
      0xf6, 0xed,              // imul ch
      0xb0, 0x7f,              // mov al, 0x7f
      0xb4, 0x80,              // mov ah, 0x80
  });
}

TEST_P(InstructionClassTest, MultiplyDivideShiftRotate) {
  RunWithAluInputs({
      0x89, 0x07,                          // mov [edi], eax
      0xf7, 0xe1,                          // mul ecx
      0x89, 0x47, 0x04,                    // mov [edi+4], eax
      0x89, 0x57, 0x08,                    // mov [edi+8], edx
      0xf7, 0xea,                          // imul edx
      0x0f, 0x90, 0x47, 0x0c,              // seto [edi+12]
      0x0f, 0xaf, 0xc1,                    // imul eax, ecx
      0x69, 0xca, 0x45, 0x23, 0x01, 0x00,  // imul ecx, edx, 0x12345
      0x6b, 0xd0, 0xfd,                    // imul edx, eax, -3
      0x89, 0x4f, 0x10,                    // mov [edi+16], ecx
      0x83, 0xc9, 0x01,                    // or ecx, 1
      0x31, 0xd2,                          // xor edx, edx
      0xf7, 0xf1,                          // div ecx
      0x89, 0x57, 0x14,                    // mov [edi+20], edx
      0x99,                                // cdq
      0xf7, 0xf9,                          // idiv ecx
      0xc1, 0xe0, 0x03,                    // shl eax, 3
      0xd3, 0xea,                          // shr edx, cl
      0xd1, 0xf9,                          // sar ecx, 1
      0xc1, 0xe2, 0x1f,                    // sal edx, 31
      0xd3, 0xc0,                          // rol eax, cl
      0xc1, 0xca, 0x04,                    // ror edx, 4
      0xd1, 0xd0,                          // rcl eax, 1
      0xc1, 0xd9, 0x02,                    // rcr ecx, 2
      0x0f, 0xa4, 0xd0, 0x05,              // shld eax, edx, 5
      0x0f, 0xad, 0xca,                    // shrd edx, ecx, cl
      0x0f, 0x92, 0x47, 0x18,              // setc [edi+24]
      0xd3, 0xe0,                          // shl eax, cl
      0x89, 0x47, 0x1c,                    // mov [edi+28], eax
  });
}

TEST_P(InstructionClassTest, BitFlagAndConversionOperations) {
  RunWithAluInputs({
      0x0f, 0xba, 0xe0, 0x03,  // bt eax, 3
      0x0f, 0x92, 0x07,        // setc [edi]
      0x0f, 0xab, 0xd1,        // bts ecx, edx
      0x0f, 0xba, 0xf2, 0x1f,  // btr edx, 31
      0x0f, 0xbb, 0xc8,        // btc eax, ecx
      0x0f, 0xba, 0xe1, 0x1f,  // bt ecx, 31
      0x0f, 0x92, 0x47, 0x01,  // setc [edi+1]
      0x83, 0xc8, 0x01,        // or eax, 1
      0x0f, 0xbc, 0xc8,        // bsf ecx, eax
      0x0f, 0xbd, 0xd0,        // bsr edx, eax
      0xf3, 0x0f, 0xb8, 0xc2,  // popcnt eax, edx
      0x89, 0x4f, 0x04,        // mov [edi+4], ecx
      0x66, 0x98,              // cbw
      0x98,                    // cwde
      0x99,                    // cdq
      0xf8,                    // clc
      0xf5,                    // cmc
      0x0f, 0x92, 0x47, 0x08,  // setc [edi+8]
      0xf9,                    // stc
      0x0f, 0x92, 0x47, 0x09,  // setc [edi+9]
      0x9f,                    // lahf
      0x88, 0x67, 0x0a,        // mov [edi+10], ah
      0xb4, 0xd5,              // mov ah, 0xd5
      0x9e,                    // sahf
      0x0f, 0x9a, 0x47, 0x0b,  // setp [edi+11]
      0xfd,                    // std
      0xfc,                    // cld
      0x0f, 0xc9,              // bswap ecx
      0x0f, 0xca,              // bswap edx
      0x92,                    // xchg eax, edx
      0x87, 0xce,              // xchg ecx, esi
      0x87, 0xf1,              // xchg esi, ecx
      0x90,                    // nop
  });
}

TEST_P(InstructionClassTest, SetccAndCmovccAllConditions) {
  RunWithAluInputs({
      0x39, 0xc8,                    // cmp eax, ecx
      0x0f, 0x90, 0x07,              // seto [edi]
      0x0f, 0x91, 0x47, 0x01,        // setno [edi+1]
      0x0f, 0x92, 0x47, 0x02,        // setb [edi+2]
      0x0f, 0x93, 0x47, 0x03,        // setae [edi+3]
      0x0f, 0x94, 0x47, 0x04,        // setz [edi+4]
      0x0f, 0x95, 0x47, 0x05,        // setnz [edi+5]
      0x0f, 0x96, 0x47, 0x06,        // setbe [edi+6]
      0x0f, 0x97, 0x47, 0x07,        // seta [edi+7]
      0x0f, 0x98, 0x47, 0x08,        // sets [edi+8]
      0x0f, 0x99, 0x47, 0x09,        // setns [edi+9]
      0x0f, 0x9a, 0x47, 0x0a,        // setp [edi+10]
      0x0f, 0x9b, 0x47, 0x0b,        // setnp [edi+11]
      0x0f, 0x9c, 0x47, 0x0c,        // setl [edi+12]
      0x0f, 0x9d, 0x47, 0x0d,        // setge [edi+13]
      0x0f, 0x9e, 0x47, 0x0e,        // setle [edi+14]
      0x0f, 0x9f, 0x47, 0x0f,        // setg [edi+15]
      0xbe, 0x11, 0x11, 0x11, 0x11,  // mov esi, 0x11111111
      0x0f, 0x40, 0xf2,              // cmovo esi, edx
      0x0f, 0x41, 0xea,              // cmovno ebp, edx
      0x0f, 0x42, 0x33,              // cmovb esi, [ebx]
      0x0f, 0x43, 0x6b, 0x04,        // cmovae ebp, [ebx+4]
      0x0f, 0x44, 0xf2,              // cmovz esi, edx
      0x0f, 0x45, 0xea,              // cmovnz ebp, edx
      0x0f, 0x46, 0xf2,              // cmovbe esi, edx
      0x0f, 0x47, 0xea,              // cmova ebp, edx
      0x0f, 0x48, 0x73, 0x08,        // cmovs esi, [ebx+8]
      0x0f, 0x49, 0x6b, 0x0c,        // cmovns ebp, [ebx+12]
      0x0f, 0x4a, 0xf2,              // cmovp esi, edx
      0x0f, 0x4b, 0xea,              // cmovnp ebp, edx
      0x0f, 0x4c, 0xf2,              // cmovl esi, edx
      0x0f, 0x4d, 0xea,              // cmovge ebp, edx
      0x66, 0x0f, 0x4e, 0xf2,        // cmovle si, dx
      0x66, 0x0f, 0x4f, 0xea,        // cmovg bp, dx
  });
}

// ---------------------------------------------------------------------------
// ALU with memory operands: gs:[32-bit EA] in every addressing form.

TEST_P(InstructionClassTest, AluMemoryOperandsAllWidths) {
  RunWithAluInputs({
      0x01, 0x03,                                // add [ebx], eax
      0x03, 0x43, 0x08,                          // add eax, [ebx+8]
      0x66, 0x11, 0x4b, 0x0c,                    // adc [ebx+12], cx
      0x1a, 0x53, 0x0e,                          // sbb dl, [ebx+14]
      0x81, 0x6b, 0x10, 0x78, 0x56, 0x34, 0x12,  // sub dword [ebx+16], 0x12345678
      0x66, 0x81, 0x63, 0x14, 0x01, 0x80,        // and word [ebx+20], 0x8001
      0x80, 0x4b, 0x16, 0x80,                    // or byte [ebx+22], 0x80
      0x83, 0x73, 0x18, 0xfe,                    // xor dword [ebx+24], -2
      0x81, 0x7b, 0x1c, 0xff, 0xff, 0xff, 0x7f,  // cmp dword [ebx+28], 0x7fffffff
      0x0f, 0x9c, 0x07,                          // setl [edi]
      0xf7, 0x43, 0x20, 0xff, 0x00, 0xff, 0x00,  // test dword [ebx+32], 0x00ff00ff
      0x0f, 0x94, 0x47, 0x01,                    // setz [edi+1]
      0x84, 0x4b, 0x24,                          // test [ebx+36], cl
      0x82, 0x43, 0x28, 0x7f,                    // db 0x82, 0x43, 0x28, 0x7f
      0x80, 0x43, 0x29, 0x7f,                    // add byte [ebx+41], 0x7f
      0xff, 0x43, 0x2c,                          // inc dword [ebx+44]
      0x66, 0xff, 0x4b, 0x30,                    // dec word [ebx+48]
      0xf6, 0x5b, 0x32,                          // neg byte [ebx+50]
      0xf7, 0x53, 0x34,                          // not dword [ebx+52]
      0xf7, 0x63, 0x38,                          // mul dword [ebx+56]
      0x0f, 0xaf, 0x4b, 0x3c,                    // imul ecx, [ebx+60]
      0x69, 0x53, 0x40, 0x34, 0x12, 0x00, 0x00,  // imul edx, [ebx+64], 0x1234
      0x66, 0xf7, 0x6b, 0x44,                    // imul word [ebx+68]
      0xd3, 0x63, 0x48,                          // shl dword [ebx+72], cl
      0x66, 0xc1, 0x6b, 0x4c, 0x03,              // shr word [ebx+76], 3
      0xd0, 0x7b, 0x4e,                          // sar byte [ebx+78], 1
      0xc1, 0x43, 0x50, 0x07,                    // rol dword [ebx+80], 7
      0xd2, 0x5b, 0x54,                          // rcr byte [ebx+84], cl
      0x0f, 0xa4, 0x53, 0x58, 0x09,              // shld [ebx+88], edx, 9
      0x0f, 0xad, 0x4b, 0x5c,                    // shrd [ebx+92], ecx, cl
      0x0f, 0xba, 0x63, 0x60, 0x11,              // bt dword [ebx+96], 17
      0x0f, 0x92, 0x47, 0x02,                    // setc [edi+2]
      0x0f, 0xba, 0x6b, 0x64, 0x03,              // bts dword [ebx+100], 3
      0x0f, 0xba, 0x73, 0x68, 0x1e,              // btr dword [ebx+104], 30
      0x66, 0x0f, 0xba, 0x7b, 0x6c, 0x05,        // btc word [ebx+108], 5
      0x0f, 0xb6, 0x43, 0x6e,                    // movzx eax, byte [ebx+110]
      0x0f, 0xbf, 0x4b, 0x70,                    // movsx ecx, word [ebx+112]
      0x0f, 0xb7, 0x53, 0x72,                    // movzx edx, word [ebx+114]
      0x0f, 0xbe, 0x43, 0x73,                    // movsx eax, byte [ebx+115]
      0x0f, 0x9f, 0x43, 0x74,                    // setg [ebx+116]
      0x0f, 0xbc, 0x4b, 0x78,                    // bsf ecx, [ebx+120]
      0x89, 0x53, 0x7c,                          // mov [ebx+124], edx
      0x66, 0x8b, 0x83, 0x80, 0x00, 0x00, 0x00,  // mov ax, [ebx+128]
      0x88, 0x83, 0x82, 0x00, 0x00, 0x00,        // mov [ebx+130], al
      0xc7, 0x83, 0x84, 0x00, 0x00, 0x00, 0xbe, 0xba, 0xfe,
      0xca,                                                  // mov dword [ebx+132], 0xcafebabe
      0x66, 0xc7, 0x83, 0x88, 0x00, 0x00, 0x00, 0xef, 0xbe,  // mov word [ebx+136], 0xbeef
      0xc6, 0x83, 0x8a, 0x00, 0x00, 0x00, 0xef,              // mov byte [ebx+138], 0xef
  });
}

// AH..BH cannot be encoded next to a REX prefix: their memory forms must
// stay REX-free (gs:[32-bit EA] needs none).
TEST_P(InstructionClassTest, HighByteRegistersWithMemoryOperands) {
  RunWithAluInputs({
      0x02, 0x23,                                // add ah, [ebx]
      0x12, 0x6b, 0x01,                          // adc ch, [ebx+1]
      0x28, 0x73, 0x02,                          // sub [ebx+2], dh
      0x18, 0x63, 0x03,                          // sbb [ebx+3], ah
      0x22, 0xac, 0x6e, 0x00, 0xf0, 0xcf, 0xff,  // and ch, [esi+ebp*2-0x301000]
      0x08, 0x75, 0xfc,                          // or [ebp-4], dh
      0x32, 0x25, 0x00, 0x02, 0x18, 0x00,        // xor ah, [0x180200]
      0x38, 0x6b, 0x04,                          // cmp [ebx+4], ch
      0x0f, 0x92, 0x07,                          // setb [edi]
      0x84, 0x73, 0x05,                          // test [ebx+5], dh
      0x0f, 0x94, 0x47, 0x01,                    // setz [edi+1]
      0x88, 0x63, 0x06,                          // mov [ebx+6], ah
      0x88, 0x6c, 0x24, 0xf8,                    // mov [esp-8], ch
      0x8a, 0x74, 0x24, 0xf8,                    // mov dh, [esp-8]
      0x8a, 0xac, 0x77, 0x07, 0xc0, 0xcf, 0xff,  // mov ch, [edi+esi*2-0x304000+7]
      0x88, 0x35, 0x10, 0x02, 0x18, 0x00,        // mov [0x180210], dh
      0x8a, 0x25, 0x11, 0x02, 0x18, 0x00,        // mov ah, [0x180211]
      0x86, 0x6b, 0x08,                          // xchg [ebx+8], ch
      0x0f, 0xb6, 0x43, 0x09,                    // movzx eax, byte [ebx+9]
      0x8a, 0x63, 0x0a,                          // mov ah, [ebx+10]
      0x89, 0x47, 0x04,                          // mov [edi+4], eax
      0x89, 0x4f, 0x08,                          // mov [edi+8], ecx
      0x89, 0x57, 0x0c,                          // mov [edi+12], edx
  });
}

// disp32-only operands: ModRM mod=00 rm=101 is RIP-relative in 64-bit mode
// and must be re-encoded; A0-A3 (moffs) keep their form.
TEST_P(InstructionClassTest, AbsoluteAddressOperands) {
  RunWithAluInputs({
      0xa1, 0x10, 0x00, 0x18, 0x00,        // mov eax, [0x180010]
      0xa3, 0x20, 0x00, 0x18, 0x00,        // mov [0x180020], eax
      0xa0, 0x30, 0x00, 0x18, 0x00,        // mov al, [0x180030]
      0xa2, 0x31, 0x00, 0x18, 0x00,        // mov [0x180031], al
      0x66, 0xa1, 0x32, 0x00, 0x18, 0x00,  // mov ax, [0x180032]
      0x66, 0xa3, 0x34, 0x00, 0x18, 0x00,  // mov [0x180034], ax
      0x01, 0x0d, 0x40, 0x00, 0x18, 0x00,  // add [0x180040], ecx
      0x81, 0x05, 0x44, 0x00, 0x18, 0x00, 0x44,
      0x33, 0x22, 0x11,                          // add dword [0x180044], 0x11223344
      0x80, 0x2d, 0x48, 0x00, 0x18, 0x00, 0x55,  // sub byte [0x180048], 0x55
      0x8b, 0x0d, 0x50, 0x00, 0x18, 0x00,        // mov ecx, [0x180050]
      0xff, 0x05, 0x60, 0x00, 0x18, 0x00,        // inc dword [0x180060]
      0xc1, 0x25, 0x64, 0x00, 0x18, 0x00, 0x04,  // shl dword [0x180064], 4
      0x6b, 0x15, 0x68, 0x00, 0x18, 0x00, 0x64,  // imul edx, [0x180068], 100
      0x81, 0x3d, 0x6c, 0x00, 0x18, 0x00, 0x00,
      0x10, 0x00, 0x00,                          // cmp dword [0x18006c], 0x1000
      0x0f, 0x92, 0x05, 0x70, 0x00, 0x18, 0x00,  // setb [0x180070]
      0x0f, 0xb6, 0x15, 0x71, 0x00, 0x18, 0x00,  // movzx edx, byte [0x180071]
      0xff, 0x35, 0x74, 0x00, 0x18, 0x00,        // push dword [0x180074]
      0x8f, 0x05, 0x78, 0x00, 0x18, 0x00,        // pop dword [0x180078]
      0x8d, 0x0d, 0x80, 0x00, 0x18, 0x00,        // lea ecx, [0x180080]
      0x89, 0x11,                                // mov [ecx], edx
  });
}

// An EA above 0x80000000 (disp32 sign bit set) faults natively; it lies
// beyond bt86's guest RAM, so translated the guest must stop at the same
// instruction with the same state. The earlier instructions run.
TEST_P(InstructionClassTest, AbsoluteAddressAbove2GiBFaults) {
  const std::vector<std::vector<uint8_t>> codes = {
      {
          0x83, 0xc0, 0x01,              // add eax, 1
          0xa1, 0x00, 0x10, 0x00, 0x80,  // mov eax, [0x80001000]
      },
      {
          0x83, 0xc0, 0x01,                    // add eax, 1
          0x89, 0x0d, 0x00, 0x00, 0x00, 0x90,  // mov [0x90000000], ecx
      },
      {
          0x83, 0xc0, 0x01,                          // add eax, 1
          0x83, 0x05, 0xf0, 0xff, 0xff, 0xff, 0x05,  // add dword [0xfffffff0], 5
      },
      {
          0x83, 0xc0, 0x01,                    // add eax, 1
          0x8b, 0x0d, 0x00, 0x00, 0x00, 0x80,  // mov ecx, [0x80000000]
      },
      {
          0x50,                                // push eax
          0xff, 0x35, 0x00, 0x10, 0x00, 0x80,  // push dword [0x80001000]
      },
      {
          0x50,                                // push eax
          0x8f, 0x05, 0x00, 0x00, 0x00, 0x90,  // pop dword [0x90000000]
      },
      {
          0x40,                                // inc eax
          0xff, 0x15, 0x00, 0x10, 0x00, 0x80,  // call [0x80001000]
      },
      {
          0x40,                                // inc eax
          0xff, 0x25, 0x00, 0x00, 0x00, 0xc0,  // jmp [0xc0000000]
      },
  };
  for (const auto& code : codes) {
    DiffCase c = Case(code);
    c.expect = Expect::kFaults;
    EXPECT_TRUE(Run(c));
  }
}

// 32-bit effective addresses wrap at 4 GiB, natively and in the window.
TEST_P(InstructionClassTest, EffectiveAddressWrapsAt4GiB) {
  DiffCase c = Case({
      0x8b, 0x83, 0x10, 0x00, 0x18, 0x70,        // mov eax, [ebx+0x70180010]
      0x01, 0x84, 0x93, 0x20, 0x00, 0x18, 0x70,  // add [ebx+edx*4+0x70180020], eax
      0x8b, 0x14, 0xcd, 0x00, 0x00, 0xf8, 0xff,  // mov edx, [ecx*8+0xfff80000]
      0x8d, 0xb3, 0x00, 0x00, 0x18, 0x70,        // lea esi, [ebx+0x70180000]
      0xff, 0xb3, 0x30, 0x00, 0x18, 0x70,        // push dword [ebx+0x70180030]
      0x8f, 0x83, 0x34, 0x00, 0x18, 0x70,        // pop dword [ebx+0x70180034]
      0x89, 0x14, 0x0e,                          // mov [esi+ecx], edx
  });
  c.in.gpr[kEbx] = 0x90000000;  // ebx + 0x70180000 = 0x1_00180000
  c.in.gpr[kEcx] = 0x00040000;  // ecx*8 + 0xfff80000 = 0x1_00180000
  c.in.gpr[kEdx] = 0x10;
  EXPECT_TRUE(Run(c));
}

TEST_P(InstructionClassTest, SibAddressingForms) {
  DiffCase c = Case({
      0x8b, 0x14, 0x0b,                          // mov edx, [ebx+ecx]
      0x03, 0x14, 0x4b,                          // add edx, [ebx+ecx*2]
      0x03, 0x14, 0x8b,                          // add edx, [ebx+ecx*4]
      0x03, 0x14, 0xcb,                          // add edx, [ebx+ecx*8]
      0x89, 0x54, 0x0b, 0x40,                    // mov [ebx+ecx*1+0x40], edx
      0x89, 0x54, 0x4b, 0xf0,                    // mov [ebx+ecx*2-0x10], edx
      0x29, 0x94, 0x3e, 0x00, 0xc0, 0xe7, 0xff,  // sub [esi+edi*1-0x184000], edx
      0x89, 0x14, 0x03,                          // mov [eax*1+ebx], edx
      0x8b, 0x94, 0x83, 0x00, 0x01, 0x00, 0x00,  // mov edx, [ebx+eax*4+0x100]
      0x89, 0x54, 0x8d, 0x00,                    // mov [ebp+ecx*4], edx
      0x89, 0x94, 0x4d, 0x00, 0x04, 0x00, 0x00,  // mov [ebp+ecx*2+0x400], edx
      0x8b, 0x54, 0x0d, 0x00,                    // mov edx, [ebp+ecx]
      0x88, 0x54, 0xc5, 0x00,                    // mov [ebp+eax*8], dl
      0x89, 0x94, 0x8c, 0x00, 0xff, 0xff, 0xff,  // mov [esp+ecx*4-0x100], edx
      0x8b, 0x94, 0x8c, 0x00, 0xff, 0xff, 0xff,  // mov edx, [esp+ecx*4-0x100]
      0x89, 0x94, 0x77, 0x00, 0xc0, 0xcf, 0xff,  // mov [edi+esi*2-0x304000], edx
      0x03, 0x94, 0x77, 0x08, 0xc0, 0xcf, 0xff,  // add edx, [edi+esi*2-0x304000+8]
      0x89, 0x14, 0x04,                          // mov [esp+eax], edx
      0x03, 0x84, 0xce, 0x40, 0x23, 0x01, 0x00,  // add eax, [esi+ecx*8+0x12340]
  });
  c.in.gpr[kEax] = 0x20;
  EXPECT_TRUE(Run(c));
}

TEST_P(InstructionClassTest, EspBasedOperands) {
  DiffCase c = Case({
      0x83, 0xec, 0x20,                                // sub esp, 0x20
      0x89, 0x04, 0x24,                                // mov [esp], eax
      0x89, 0x4c, 0x24, 0x04,                          // mov [esp+4], ecx
      0xc7, 0x44, 0x24, 0x08, 0x78, 0x56, 0x34, 0x12,  // mov dword [esp+8], 0x12345678
      0x83, 0x44, 0x24, 0x08, 0x03,                    // add dword [esp+8], 3
      0x03, 0x44, 0x24, 0x04,                          // add eax, [esp+4]
      0x8b, 0x14, 0x24,                                // mov edx, [esp]
      0x8d, 0x4c, 0x24, 0x10,                          // lea ecx, [esp+0x10]
      0x89, 0x11,                                      // mov [ecx], edx
      0x87, 0x44, 0x24, 0x0c,                          // xchg [esp+12], eax
      0xc6, 0x44, 0x24, 0x10, 0x80,                    // mov byte [esp+0x10], 0x80
      0xc1, 0x64, 0x24, 0x10, 0x02,                    // shl dword [esp+0x10], 2
      0x8b, 0x84, 0x24, 0x00, 0x10, 0x00, 0x00,        // mov eax, [esp+0x1000]
      0x89, 0x84, 0x24, 0x04, 0x10, 0x00, 0x00,        // mov [esp+0x1004], eax
      0xff, 0x74, 0x24, 0x04,                          // push dword [esp+4]
      0x8f, 0x44, 0x24, 0x08,                          // pop dword [esp+8]
      0x8b, 0x44, 0x24, 0xfc,                          // mov eax, [esp-4]
      0x83, 0xc4, 0x20,                                // add esp, 0x20
  });
  c.in.gpr[kEsp] = kStackTop - 0x2000;  // so that [esp+0x1000] is stack too
  EXPECT_TRUE(Run(c));
}

TEST_P(InstructionClassTest, EbpBasedOperands) {
  ExpectSame({
      0x8b, 0x45, 0x00,                          // mov eax, [ebp]
      0x89, 0x4d, 0x00,                          // mov [ebp], ecx
      0x03, 0x45, 0x10,                          // add eax, [ebp+0x10]
      0x89, 0x45, 0xf8,                          // mov [ebp-8], eax
      0x83, 0x85, 0x00, 0x10, 0x00, 0x00, 0x05,  // add dword [ebp+0x1000], 5
      0x8b, 0x54, 0x0d, 0x00,                    // mov edx, [ebp+ecx]
      0x89, 0x54, 0x4d, 0x04,                    // mov [ebp+ecx*2+4], edx
      0xfe, 0x45, 0xff,                          // inc byte [ebp-1]
      0x8b, 0x4d, 0x7f,                          // mov ecx, [ebp+0x7f]
      0x89, 0x4d, 0x80,                          // mov [ebp-0x80], ecx
  });
}

// Index without base: SIB base=101 with mod=00 means disp32, no base.
TEST_P(InstructionClassTest, IndexOnlyOperands) {
  ExpectSame({
      0x8b, 0x04, 0x8d, 0x00, 0x00, 0x18, 0x00,        // mov eax, [ecx*4+0x180000]
      0x8b, 0x14, 0xcd, 0x04, 0x00, 0x18, 0x00,        // mov edx, [ecx*8+0x180004]
      0x01, 0x04, 0x0d, 0x08, 0x00, 0x18, 0x00,        // add [nosplit ecx*1+0x180008], eax
      0x01, 0x14, 0x4d, 0x0c, 0x00, 0x18, 0x00,        // add [nosplit ecx*2+0x18000c], edx
      0xc6, 0x04, 0x8d, 0x00, 0x01, 0x18, 0x00, 0x5a,  // mov byte [ecx*4+0x180100], 0x5a
      0x8b, 0x0c, 0x8d, 0x00, 0x00, 0x18, 0x00,        // mov ecx, [ecx*4+0x180000]
  });
}
// ---------------------------------------------------------------------------
// LEA: every addressing form, the address itself is the result (no access).

TEST_P(InstructionClassTest, LeaAllAddressingForms) {
  RunWithAluInputs({
      0x8d, 0x30,                                // lea esi, [eax]
      0x8d, 0x3c, 0x08,                          // lea edi, [eax+ecx]
      0x8d, 0x6c, 0x48, 0x10,                    // lea ebp, [eax+ecx*2+0x10]
      0x8d, 0x1c, 0x8d, 0x00, 0x00, 0x00, 0x00,  // lea ebx, [ecx*4]
      0x8d, 0x34, 0xcd, 0x78, 0x56, 0x34, 0x12,  // lea esi, [ecx*8+0x12345678]
      0x8d, 0x3c, 0x15, 0xfb, 0xff, 0xff, 0xff,  // lea edi, [nosplit edx*1-5]
      0x8d, 0x2d, 0x21, 0x43, 0x65, 0x87,        // lea ebp, [0x87654321]
      0x8d, 0x1c, 0x24,                          // lea ebx, [esp]
      0x8d, 0x74, 0x24, 0x7f,                    // lea esi, [esp+0x7f]
      0x8d, 0xbc, 0x8c, 0x00, 0xff, 0xff, 0xff,  // lea edi, [esp+ecx*4-0x100]
      0x8d, 0x6d, 0x00,                          // lea ebp, [ebp]
      0x8d, 0x9c, 0xd5, 0x00, 0x10, 0x00, 0x00,  // lea ebx, [ebp+edx*8+0x1000]
      0x8d, 0x70, 0xf0,                          // lea esi, [eax+0xfffffff0]
      // ****************** warning: byte data exceeds bounds [-w+number-overflow]
      0x8d, 0x3c, 0x92,                                // lea edi, [edx+edx*4]
      0x66, 0x8d, 0x04, 0x11,                          // lea ax, [ecx+edx]
      0x66, 0x8d, 0x8c, 0x00, 0x00, 0x80, 0x00, 0x00,  // lea cx, [eax*2+0x8000]
      0x8d, 0x14, 0x02,                                // lea edx, [edx+eax]
  });
}

// 16-bit addressing (0x67): [bx|bp + si|di + disp], wrapped to 16 bits.
TEST_P(InstructionClassTest, LeaSixteenBitAddressing) {
  const std::vector<uint8_t> code = {
      0x67, 0x8d, 0x00,              // a16 lea eax, [bx+si]
      0x67, 0x8d, 0x49, 0x10,        // a16 lea ecx, [bx+di+0x10]
      0x67, 0x8d, 0x52, 0xf0,        // a16 lea edx, [bp+si-0x10]
      0x67, 0x8d, 0xb3, 0x34, 0x12,  // a16 lea esi, [bp+di+0x1234]
      0x67, 0x8d, 0x3c,              // a16 lea edi, [si]
      0x67, 0x8d, 0x45, 0x7f,        // a16 lea eax, [di+0x7f]
      0x67, 0x8d, 0x0e, 0x34, 0x12,  // a16 lea ecx, [0x1234]
      0x67, 0x8d, 0x17,              // a16 lea edx, [bx]
      0x67, 0x8d, 0x6e, 0x00,        // a16 lea ebp, [bp+0]
      0x67, 0x8d, 0x58, 0xf0,        // a16 lea ebx, [bx+si+0xfff0]
      // ****************** warning: byte data exceeds bounds [-w+number-overflow]
      0x66, 0x67, 0x8d, 0x81, 0x00, 0x80,  // o16 a16 lea ax, [bx+di+0x8000]
      0x66, 0x67, 0x8d, 0x32,              // o16 a16 lea si, [bp+si]
  };
  for (uint32_t bx : {0x00000000u, 0x1234fff0u, 0x8badf00du}) {
    DiffCase c = Case(code);
    c.in.gpr[kEbx] = bx;
    c.in.gpr[kEbp] = bx ^ 0x0000ffffu;
    c.in.gpr[kEsi] = 0xabcd0123u;
    c.in.gpr[kEdi] = 0x0000fffeu;
    EXPECT_TRUE(Run(c)) << "ebx=" << std::hex << bx;
  }
}

// ---------------------------------------------------------------------------
// 16-bit operand size (0x66) ALU and moves.

TEST_P(InstructionClassTest, OperandSize16Alu) {
  RunWithAluInputs({
      0x66, 0xb8, 0x34, 0x12,              // mov ax, 0x1234
      0x66, 0x01, 0xd8,                    // add ax, bx
      0x66, 0x81, 0x03, 0x00, 0x80,        // add word [ebx], 0x8000
      0x66, 0x13, 0x4b, 0x02,              // adc cx, [ebx+2]
      0x66, 0x29, 0x53, 0x04,              // sub [ebx+4], dx
      0x66, 0x69, 0xc1, 0x34, 0x12,        // imul ax, cx, 0x1234
      0x66, 0xd3, 0x63, 0x06,              // shl word [ebx+6], cl
      0x0f, 0xb7, 0x53, 0x08,              // movzx edx, word [ebx+8]
      0x0f, 0xbf, 0x4b, 0x0a,              // movsx ecx, word [ebx+10]
      0x66, 0x91,                          // xchg ax, cx
      0x66, 0x87, 0x53, 0x0c,              // xchg [ebx+12], dx
      0x66, 0x99,                          // cwd
      0x66, 0x98,                          // cbw
      0x66, 0x89, 0x43, 0x0e,              // mov [ebx+14], ax
      0x66, 0xc7, 0x43, 0x10, 0xdc, 0xfe,  // mov word [ebx+16], 0xfedc
      0x66, 0x81, 0x7b, 0x12, 0xff, 0x7f,  // cmp word [ebx+18], 0x7fff
      0x0f, 0x9f, 0x07,                    // setg [edi]
      0x66, 0xa9, 0x00, 0x80,              // test ax, 0x8000
      0x0f, 0x94, 0x47, 0x01,              // setz [edi+1]
      0x66, 0xf7, 0x5b, 0x14,              // neg word [ebx+20]
      0x89, 0x47, 0x04,                    // mov [edi+4], eax
      0x89, 0x4f, 0x08,                    // mov [edi+8], ecx
      0x89, 0x57, 0x0c,                    // mov [edi+12], edx
  });
}

// ---------------------------------------------------------------------------
// Short INC/DEC (40-4F are REX prefixes in 64-bit mode): rewritten.

TEST_P(InstructionClassTest, IncDecShortForms) {
  const std::vector<uint8_t> code = {
      0x40,                                      // inc eax
      0x41,                                      // inc ecx
      0x42,                                      // inc edx
      0x43,                                      // inc ebx
      0x44,                                      // inc esp
      0x45,                                      // inc ebp
      0x46,                                      // inc esi
      0x47,                                      // inc edi
      0x0f, 0x90, 0x05, 0x00, 0x00, 0x18, 0x00,  // seto [0x180000]
      0x48,                                      // dec eax
      0x49,                                      // dec ecx
      0x4a,                                      // dec edx
      0x4b,                                      // dec ebx
      0x4c,                                      // dec esp
      0x4d,                                      // dec ebp
      0x4e,                                      // dec esi
      0x4f,                                      // dec edi
      0x0f, 0x94, 0x05, 0x01, 0x00, 0x18, 0x00,  // setz [0x180001]
      0x66, 0x40,                                // inc ax
      0x66, 0x41,                                // inc cx
      0x66, 0x42,                                // inc dx
      0x66, 0x4b,                                // dec bx
      0x66, 0x4c,                                // dec sp
      0x66, 0x4d,                                // dec bp
      0x66, 0x46,                                // inc si
      0x66, 0x4f,                                // dec di
      0x0f, 0x94, 0x05, 0x02, 0x00, 0x18, 0x00,  // setz [0x180002]
      0x0f, 0x98, 0x05, 0x03, 0x00, 0x18, 0x00,  // sets [0x180003]
      0x44,                                      // inc esp
      0x44,                                      // inc esp
      0x48,                                      // dec eax
  };
  for (uint32_t v :
       {0x00000000u, 0x7fffffffu, 0xffffffffu, 0x0000ffffu, 0x00007fffu, 0x80000000u}) {
    DiffCase c = Case(code);
    for (int r : {kEax, kEcx, kEdx, kEbx, kEbp, kEsi, kEdi}) c.in.gpr[r] = v + uint32_t(r);
    EXPECT_TRUE(Run(c)) << "value " << std::hex << v;
  }
}

// ---------------------------------------------------------------------------
// Stack: push/pop become gs:[esp] accesses and `lea esp`.

TEST_P(InstructionClassTest, PushPopRegistersImmediatesMemory) {
  ExpectSame({
      0x50,                                      // push eax
      0x51,                                      // push ecx
      0x52,                                      // push edx
      0x53,                                      // push ebx
      0x54,                                      // push esp
      0x55,                                      // push ebp
      0x56,                                      // push esi
      0x57,                                      // push edi
      0x68, 0x78, 0x56, 0x34, 0x12,              // push 0x12345678
      0x6a, 0xfb,                                // push -5
      0x6a, 0x7f,                                // push 0x7f
      0xff, 0x33,                                // push dword [ebx]
      0xff, 0x74, 0x8b, 0x08,                    // push dword [ebx+ecx*4+8]
      0xff, 0x34, 0x24,                          // push dword [esp]
      0xff, 0x74, 0x24, 0x08,                    // push dword [esp+8]
      0xff, 0x35, 0x40, 0x00, 0x18, 0x00,        // push dword [0x180040]
      0x58,                                      // pop eax
      0x59,                                      // pop ecx
      0x5a,                                      // pop edx
      0x8f, 0x43, 0x20,                          // pop dword [ebx+0x20]
      0x8f, 0x05, 0x50, 0x00, 0x18, 0x00,        // pop dword [0x180050]
      0x8f, 0x04, 0x24,                          // pop dword [esp]
      0x8f, 0x44, 0x24, 0x04,                    // pop dword [esp+4]
      0x8f, 0x84, 0x1c, 0x04, 0xff, 0xe7, 0xff,  // pop dword [esp+ebx-0x1800fc]
      0x5e,                                      // pop esi
      0x5f,                                      // pop edi
      0x5d,                                      // pop ebp
      0x5a,                                      // pop edx
      0x89, 0x63, 0x60,                          // mov [ebx+0x60], esp
  });
}

// push esp stores the value before the push; pop esp loads esp from the
// stack (SDM POP); pop [esp+x] computes the address after the increment.
TEST_P(InstructionClassTest, PushPopEspItself) {
  ExpectSame({
      0x54,                          // push esp
      0x58,                          // pop eax
      0x54,                          // push esp
      0x54,                          // push esp
      0x8f, 0x04, 0x24,              // pop dword [esp]
      0x59,                          // pop ecx
      0x68, 0x00, 0x00, 0x1e, 0x00,  // push 0x001e0000
      0x5c,                          // pop esp
      0xff, 0x74, 0x24, 0x04,        // push dword [esp+4]
      0x52,                          // push edx
      0x8f, 0x44, 0x24, 0x04,        // pop dword [esp+4]
      0x53,                          // push ebx
      0x8f, 0x04, 0x24,              // pop dword [esp]
      0x89, 0x23,                    // mov [ebx], esp
      0x8d, 0x54, 0x24, 0x08,        // lea edx, [esp+8]
      0x52,                          // push edx
      0x5c,                          // pop esp
  });
}

TEST_P(InstructionClassTest, PushPop16Bit) {
  ExpectSame({
      0x66, 0x50,                    // push ax
      0x66, 0x51,                    // push cx
      0x66, 0x54,                    // push sp
      0x66, 0x68, 0x34, 0x12,        // push word 0x1234
      0x66, 0x6a, 0xfe,              // push word -2
      0x66, 0xff, 0x33,              // push word [ebx]
      0x66, 0xff, 0x74, 0x24, 0x02,  // push word [esp+2]
      0x66, 0x5a,                    // pop dx
      0x66, 0x8f, 0x43, 0x04,        // pop word [ebx+4]
      0x66, 0x8f, 0x44, 0x24, 0x02,  // pop word [esp+2]
      0x66, 0x8f, 0x04, 0x24,        // pop word [esp]
      0x66, 0x5e,                    // pop si
      0x66, 0x5f,                    // pop di
      0x66, 0x5d,                    // pop bp
      0x66, 0x50,                    // push ax
      0x68, 0xe0, 0xff, 0x1e, 0x00,  // push dword 0x001effe0
      0x66, 0x5c,                    // pop sp
      0x66, 0x58,                    // pop ax
      0x89, 0x63, 0x08,              // mov [ebx+8], esp
  });
}

TEST_P(InstructionClassTest, PushaPopa32And16) {
  ExpectSame({
      0x60,                                            // pushad
      0xc7, 0x44, 0x24, 0x0c, 0x11, 0x11, 0x11, 0x11,  // mov dword [esp+12], 0x11111111
      0x83, 0x04, 0x24, 0x01,                          // add dword [esp], 1
      0x83, 0x44, 0x24, 0x1c, 0x07,                    // add dword [esp+28], 7
      0xf7, 0x54, 0x24, 0x10,                          // not dword [esp+16]
      0x61,                                            // popad
      0x89, 0x27,                                      // mov [edi], esp
      0x66, 0x60,                                      // pushaw
      0x66, 0xc7, 0x44, 0x24, 0x06, 0x22, 0x22,        // mov word [esp+6], 0x2222
      0x66, 0x83, 0x04, 0x24, 0x03,                    // add word [esp], 3
      0x66, 0x83, 0x44, 0x24, 0x0e, 0x05,              // add word [esp+14], 5
      0x66, 0x61,                                      // popaw
      0x89, 0x67, 0x04,                                // mov [edi+4], esp
      0x60,                                            // pushad
      0x66, 0x60,                                      // pushaw
      0x66, 0x61,                                      // popaw
      0x61,                                            // popad
  });
}

TEST_P(InstructionClassTest, EnterLeave) {
  DiffCase c = Case({
      0xc8, 0x10, 0x00, 0x00,                    // enter 0x10, 0
      0x89, 0x45, 0xfc,                          // mov [ebp-4], eax
      0x89, 0x0c, 0x24,                          // mov [esp], ecx
      0xc9,                                      // leave
      0x55,                                      // push ebp
      0x89, 0xe5,                                // mov ebp, esp
      0xc8, 0x08, 0x00, 0x01,                    // enter 8, 1
      0x89, 0x55, 0xf8,                          // mov [ebp-8], edx
      0xc9,                                      // leave
      0x5d,                                      // pop ebp
      0xbd, 0x00, 0x80, 0x1e, 0x00,              // mov ebp, 0x1e8000
      0xc7, 0x45, 0xfc, 0x11, 0x11, 0x11, 0x11,  // mov dword [ebp-4], 0x11111111
      0xc7, 0x45, 0xf8, 0x22, 0x22, 0x22, 0x22,  // mov dword [ebp-8], 0x22222222
      0xc7, 0x45, 0xf4, 0x33, 0x33, 0x33, 0x33,  // mov dword [ebp-12], 0x33333333
      0xc8, 0x04, 0x00, 0x04,                    // enter 4, 4
      0x89, 0x2f,                                // mov [edi], ebp
      0x89, 0x67, 0x04,                          // mov [edi+4], esp
      0xc9,                                      // leave
      0x66, 0xc9,                                // o16 leave
  });
  c.in.gpr[kEsp] = 0x1e9000;
  EXPECT_TRUE(Run(c));
}

TEST_P(InstructionClassTest, Enter16Bit) {
  DiffCase c = Case({
      0x66, 0xc8, 0x06, 0x00, 0x00,  // o16 enter 6, 0
      0x89, 0x2f,                    // mov [edi], ebp
      0x89, 0x67, 0x04,              // mov [edi+4], esp
      0x66, 0xc9,                    // o16 leave
      0x66, 0xc8, 0x02, 0x00, 0x02,  // o16 enter 2, 2
      0x89, 0x6f, 0x08,              // mov [edi+8], ebp
      0x89, 0x67, 0x0c,              // mov [edi+12], esp
  });
  c.in.gpr[kEsp] = 0x1e9000;
  c.in.gpr[kEbp] = 0x1e8010;
  EXPECT_TRUE(Run(c));
}
// ---------------------------------------------------------------------------
// String instructions: esi/edi are biased by the window base around the
// native instruction (es:[edi] cannot take a gs override).

struct StringOp {
  const char* name;
  uint8_t opcode;
  uint8_t operand_size_prefix;  // 0 or 0x66
};

// movs stos lods scas cmps, byte/word/dword (SDM Vol. 2, opcodes A4-AF).
const StringOp kStringOps[] = {
    {"movsb", 0xa4, 0},    {"movsw", 0xa5, 0x66}, {"movsd", 0xa5, 0},    {"stosb", 0xaa, 0},
    {"stosw", 0xab, 0x66}, {"stosd", 0xab, 0},    {"lodsb", 0xac, 0},    {"lodsw", 0xad, 0x66},
    {"lodsd", 0xad, 0},    {"scasb", 0xae, 0},    {"scasw", 0xaf, 0x66}, {"scasd", 0xaf, 0},
    {"cmpsb", 0xa6, 0},    {"cmpsw", 0xa7, 0x66}, {"cmpsd", 0xa7, 0},
};

// Every op, without prefix and with rep/repe (F3) and repne (F2), DF 0 and 1,
// ecx 0, 1 and 9; the destination starts with a copy of part of the source
// so that repe/repne and scas stop early for some inputs. Each snippet is
// `cmp eax, edx` (flags the string op must keep or replace), the op, and
// `mov [0x180000], eax` (lods results).
TEST_P(InstructionClassTest, StringInstructionsAllForms) {
  for (const StringOp& op : kStringOps) {
    for (uint8_t rep : {uint8_t(0), uint8_t(0xf3), uint8_t(0xf2)}) {
      for (bool df : {false, true}) {
        for (uint32_t count : {0u, 1u, 9u}) {
          std::vector<uint8_t> code = {0x39, 0xd0};  // cmp eax, edx
          if (op.operand_size_prefix) code.push_back(op.operand_size_prefix);
          if (rep) code.push_back(rep);
          code.push_back(op.opcode);
          for (uint8_t b : {0xa3, 0x00, 0x00, 0x18, 0x00})
            code.push_back(b);  // mov [0x180000], eax
          DiffCase c = Case(code);
          const uint32_t src = kDataAddress + 0x2000, dst = kDataAddress + 0x4000;
          // Equal for 6 bytes (so repe cmps runs a while), then different.
          for (uint32_t i = 0; i < 0x40; ++i) {
            c.arena[dst - kArenaBase + i] = c.arena[src - kArenaBase + i] ^ (i >= 6 ? 0x10 : 0);
          }
          // Below the start too, for DF=1.
          for (uint32_t i = 1; i < 0x40; ++i) {
            c.arena[dst - kArenaBase - i] = c.arena[src - kArenaBase - i] ^ (i >= 5 ? 0x01 : 0);
          }
          c.in.gpr[kEsi] = src;
          c.in.gpr[kEdi] = dst;
          c.in.gpr[kEcx] = count;
          // scas compares with eax: equal to the destination's 5th element.
          std::memcpy(&c.in.gpr[kEax], &c.arena[dst - kArenaBase + 4], 4);
          c.in.gpr[kEdx] = c.in.gpr[kEax] - 1;
          c.in.eflags = df ? kFlagDf : 0;
          EXPECT_TRUE(Run(c)) << (rep == 0xf3   ? "rep "
                                  : rep == 0xf2 ? "repne "
                                                : "")
                              << op.name << " df=" << df << " ecx=" << count;
        }
      }
    }
  }
}

// Source segment overrides other than fs/gs name the same flat segment.
TEST_P(InstructionClassTest, StringInstructionsWithSegmentOverrides) {
  DiffCase c = Case({
      0x2e, 0xac,              // cs lodsb
      0x36, 0xa5,              // ss movsd
      0x26, 0xad,              // es lodsd
      0xf3, 0x3e, 0x66, 0xa5,  // ds rep movsw
      0xf3, 0x36, 0xa6,        // ss rep cmpsb
      0x26, 0xaf,              // es scasd
  });
  c.in.gpr[kEcx] = 5;
  EXPECT_TRUE(Run(c));
  c.in.eflags = kFlagDf;
  EXPECT_TRUE(Run(c));
}

// A rep run longer than a page, and a string loop across several blocks.
TEST_P(InstructionClassTest, StringInstructionsLongAndLooped) {
  DiffCase c = Case({
      0xb9, 0x00, 0x18, 0x00, 0x00,  // mov ecx, 0x1800
      0xf3, 0xa5,                    // rep movsd
      0xb9, 0x00, 0x30, 0x00, 0x00,  // mov ecx, 0x3000
      0xb0, 0x5a,                    // mov al, 0x5a
      0xf3, 0xaa,                    // rep stosb
      0xbe, 0x00, 0x20, 0x18, 0x00,  // mov esi, 0x182000
      0xb9, 0x28, 0x00, 0x00, 0x00,  // mov ecx, 40
      // again:
      0x66, 0xad,        // lodsw
      0x66, 0x01, 0x07,  // add [edi], ax
      0x83, 0xc7, 0x02,  // add edi, 2
      0x49,              // dec ecx
      0x75, 0xf5,        // jnz again
  });
  EXPECT_TRUE(Run(c));
}

TEST_P(InstructionClassTest, Xlat) {
  for (uint32_t al : {0x00u, 0x01u, 0x7fu, 0x80u, 0xffu}) {
    DiffCase c = Case({
        0xd7,        // xlatb
        0x88, 0x07,  // mov [edi], al
        0xb0, 0x10,  // mov al, 0x10
        0xd7,        // xlatb
        0x88, 0xc4,  // mov ah, al
        0x36, 0xd7,  // ss xlatb
        0x3e, 0xd7,  // ds xlatb
    });
    c.in.gpr[kEax] = 0x12345600 | al;
    EXPECT_TRUE(Run(c)) << "al=" << al;
  }
}

// salc (D6, undocumented): al = CF ? 0xff : 0, flags unchanged.
TEST_P(InstructionClassTest, Salc) {
  ExpectSame({
      0xd6,              // salc
      0x88, 0x07,        // mov [edi], al
      0xf9,              // stc
      0xd6,              // salc
      0x88, 0x47, 0x01,  // mov [edi+1], al
      0xf8,              // clc
      0xd6,              // salc
  });
}

// ---------------------------------------------------------------------------
// Atomics and exchanges.

TEST_P(InstructionClassTest, ExchangeAndCompareExchange) {
  RunWithAluInputs({
      0x91,                                // xchg eax, ecx
      0x87, 0x13,                          // xchg [ebx], edx
      0x86, 0x4b, 0x04,                    // xchg [ebx+4], cl
      0x66, 0x87, 0x53, 0x06,              // xchg dx, [ebx+6]
      0x0f, 0xc1, 0xc8,                    // xadd eax, ecx
      0x0f, 0xc1, 0x53, 0x08,              // xadd [ebx+8], edx
      0xf0, 0x0f, 0xc1, 0x43, 0x0c,        // lock xadd [ebx+12], eax
      0x0f, 0xc0, 0x4b, 0x10,              // xadd [ebx+16], cl
      0x8b, 0x43, 0x14,                    // mov eax, [ebx+20]
      0x0f, 0xb1, 0x4b, 0x14,              // cmpxchg [ebx+20], ecx
      0x0f, 0x94, 0x07,                    // setz [edi]
      0x0f, 0xb1, 0x53, 0x18,              // cmpxchg [ebx+24], edx
      0x0f, 0x94, 0x47, 0x01,              // setz [edi+1]
      0xf0, 0x0f, 0xb1, 0x4b, 0x1c,        // lock cmpxchg [ebx+28], ecx
      0x0f, 0xb0, 0xd1,                    // cmpxchg cl, dl
      0x66, 0x0f, 0xb1, 0xc8,              // cmpxchg ax, cx
      0xf0, 0x01, 0x43, 0x20,              // lock add [ebx+32], eax
      0xf0, 0xff, 0x43, 0x24,              // lock inc dword [ebx+36]
      0xf0, 0x0f, 0xba, 0x6b, 0x28, 0x03,  // lock bts dword [ebx+40], 3
      0x0f, 0xc8,                          // bswap eax
      0x0f, 0xc9,                          // bswap ecx
  });
}

TEST_P(InstructionClassTest, CompareExchange8Bytes) {
  const std::vector<uint8_t> code = {
      0x0f, 0xc7, 0x0e,              // cmpxchg8b [esi]
      0x0f, 0x94, 0x07,              // setz [edi]
      0x89, 0x47, 0x04,              // mov [edi+4], eax
      0x89, 0x57, 0x08,              // mov [edi+8], edx
      0xf0, 0x0f, 0xc7, 0x4e, 0x08,  // lock cmpxchg8b [esi+8]
      0x0f, 0x94, 0x47, 0x0c,        // setz [edi+12]
  };
  for (bool equal : {false, true}) {
    DiffCase c = Case(code);
    c.in.gpr[kEbx] = 0x11112222;
    c.in.gpr[kEcx] = 0x33334444;
    if (equal) {
      std::memcpy(&c.in.gpr[kEax], &c.arena[c.in.gpr[kEsi] - kArenaBase], 4);
      std::memcpy(&c.in.gpr[kEdx], &c.arena[c.in.gpr[kEsi] - kArenaBase + 4], 4);
    }
    EXPECT_TRUE(Run(c)) << "equal=" << equal;
  }
}
// ---------------------------------------------------------------------------
// BCD arithmetic: invalid in 64-bit mode, emulated in C++ by bt86, valid
// natively in compatibility mode. Flags the SDM leaves undefined are masked:
// AAA/AAS: OF SF ZF PF; DAA/DAS: OF; AAM/AAD: OF AF CF.

constexpr uint32_t kAaaUndefined = kFlagOf | kFlagSf | kFlagZf | kFlagPf;
constexpr uint32_t kDaaUndefined = kFlagOf;
constexpr uint32_t kAamUndefined = kFlagOf | kFlagAf | kFlagCf;

// LAHF images (SF ZF 0 AF 0 PF 1 CF) of the defined flags.
constexpr uint8_t kAaaDefinedAh = 0x11;  // AF CF
constexpr uint8_t kDaaDefinedAh = 0xd5;  // SF ZF AF PF CF
constexpr uint8_t kAamDefinedAh = 0xc4;  // SF ZF PF

// One sweep: for ecx = 0 .. 0x7ff, AL = cl, AH = ch, AF = bit 8 and CF =
// bit 9 of ecx; the instruction's AX and its defined flags go to
// [edi + ecx*4]. The instruction is at offset kSweepInsnOffset, the
// LAHF mask byte at kSweepMaskOffset (patched per instruction).
const std::vector<uint8_t> kBcdSweep = {
    0x31, 0xc9,  // xor ecx, ecx
    // next:
    0x89, 0xca,                          // mov edx, ecx
    0xc1, 0xea, 0x04,                    // shr edx, 4
    0x83, 0xe2, 0x10,                    // and edx, 0x10
    0x89, 0xc8,                          // mov eax, ecx
    0xc1, 0xe8, 0x09,                    // shr eax, 9
    0x83, 0xe0, 0x01,                    // and eax, 1
    0x09, 0xd0,                          // or eax, edx
    0x88, 0xc4,                          // mov ah, al
    0x9e,                                // sahf
    0x88, 0xc8,                          // mov al, cl
    0x88, 0xec,                          // mov ah, ch
    0x27,                                // daa
    0x66, 0x89, 0x04, 0x8f,              // mov [edi+ecx*4], ax
    0x9f,                                // lahf
    0x80, 0xe4, 0xd5,                    // and ah, 0xd5
    0x88, 0x64, 0x8f, 0x02,              // mov [edi+ecx*4+2], ah
    0x41,                                // inc ecx
    0x81, 0xf9, 0x00, 0x08, 0x00, 0x00,  // cmp ecx, 0x800
    0x72, 0xd1,                          // jb next
};
constexpr size_t kSweepInsnOffset = 27;
constexpr size_t kSweepMaskOffset = 35;

std::vector<uint8_t> BcdSweep(uint8_t opcode, uint8_t defined_ah) {
  std::vector<uint8_t> code = kBcdSweep;
  code.at(kSweepInsnOffset) = opcode;
  code.at(kSweepMaskOffset) = defined_ah;
  return code;
}

TEST_P(InstructionClassTest, BcdAdjustSweeps) {
  ASSERT_EQ(kBcdSweep.at(kSweepInsnOffset), 0x27);  // daa
  ASSERT_EQ(kBcdSweep.at(kSweepMaskOffset), 0xd5);  // and ah, 0xd5
  const struct {
    const char* name;
    uint8_t opcode;
    uint8_t defined_ah;
  } kInsns[] = {{"daa", 0x27, kDaaDefinedAh},
                {"das", 0x2f, kDaaDefinedAh},
                {"aaa", 0x37, kAaaDefinedAh},
                {"aas", 0x3f, kAaaDefinedAh}};
  for (const auto& insn : kInsns) {
    EXPECT_TRUE(RunOnce(Case(BcdSweep(insn.opcode, insn.defined_ah)))) << insn.name;
  }
}

// AAM/AAD with their immediate base: AX = every value with AH < 0x40.
TEST_P(InstructionClassTest, BcdAsciiAdjustMultiplyDivideSweeps) {
  for (uint8_t base : {10, 16, 7, 1, 255}) {
    for (uint8_t opcode : {0xd4, 0xd5}) {  // aam, aad
      DiffCase c = Case({
          0x31, 0xc9,  // xor ecx, ecx
          // next:
          0x89, 0xc8,                          // mov eax, ecx
          0xd4, 0x0a,                          // aam 10
          0x66, 0x89, 0x04, 0x8f,              // mov [edi+ecx*4], ax
          0x9f,                                // lahf
          0x80, 0xe4, 0xc4,                    // and ah, 0xc4
          0x88, 0x64, 0x8f, 0x02,              // mov [edi+ecx*4+2], ah
          0x41,                                // inc ecx
          0x81, 0xf9, 0x00, 0x40, 0x00, 0x00,  // cmp ecx, 0x4000
          0x72, 0xe7,                          // jb next
      });
      ASSERT_EQ(c.code.at(4), 0xd4);
      c.code.at(4) = opcode;
      c.code.at(5) = base;
      EXPECT_TRUE(RunOnce(c)) << (opcode == 0xd4 ? "aam " : "aad ") << int(base);
    }
  }
}

// The BCD instruction last, so its own flags are the result (masked).
TEST_P(InstructionClassTest, BcdFinalFlags) {
  const struct {
    const char* name;
    std::vector<uint8_t> code;
    uint32_t undefined;
  } kInsns[] = {
      {"daa", {0x27}, kDaaUndefined},       {"das", {0x2f}, kDaaUndefined},
      {"aaa", {0x37}, kAaaUndefined},       {"aas", {0x3f}, kAaaUndefined},
      {"aam", {0xd4, 0x0a}, kAamUndefined}, {"aad", {0xd5, 0x0a}, kAamUndefined},
  };
  for (const auto& insn : kInsns) {
    for (uint32_t ax :
         {0x0000u, 0x0009u, 0x000au, 0x0099u, 0x009au, 0x00f9u, 0x00ffu, 0x1234u, 0xff7fu}) {
      for (uint32_t flags : {0u, kFlagCf, kFlagAf, kFlagCf | kFlagAf | kFlagOf | kFlagSf}) {
        DiffCase c = Case(insn.code);
        c.in.gpr[kEax] = 0xabcd0000 | ax;
        c.in.eflags = flags;
        c.ignore_flags = insn.undefined;
        EXPECT_TRUE(RunOnce(c)) << insn.name << " ax=" << std::hex << ax << " flags=" << flags;
      }
    }
  }
}

// aam 0 divides by zero: #DE at the aam, registers as before it.
TEST_P(InstructionClassTest, BcdAamZeroFaults) {
  DiffCase c = Case({
      0x83, 0xc0, 0x03,  // add eax, 3
      0x50,              // push eax
      0xd4, 0x00,        // aam 0
  });
  c.expect = Expect::kFaults;
  DiffOutcome out;
  EXPECT_TRUE(RunOnce(c, &out));
  EXPECT_EQ(out.native.signo, SIGFPE);
  EXPECT_EQ(out.native.fault_eip, kCodeAddress + 4);
}

// ---------------------------------------------------------------------------
// x87, MMX, SSE and SSE2 (IDENT): results stored to memory.

TEST_P(InstructionClassTest, X87ArithmeticToMemory) {
  DiffCase c = Case({
      0xdd, 0x03,              // fld qword [ebx]
      0xdd, 0x43, 0x08,        // fld qword [ebx+8]
      0xde, 0xc1,              // faddp st1
      0xdd, 0x17,              // fst qword [edi]
      0xdb, 0x43, 0x10,        // fild dword [ebx+16]
      0xdc, 0x0b,              // fmul qword [ebx]
      0xd9, 0x57, 0x08,        // fst dword [edi+8]
      0xd9, 0xfa,              // fsqrt
      0xdb, 0x7f, 0x10,        // fstp tword [edi+16]
      0xd9, 0xe8,              // fld1
      0xd9, 0xeb,              // fldpi
      0xde, 0xf9,              // fdivp st1
      0xdb, 0x5f, 0x20,        // fistp dword [edi+32]
      0xdd, 0x43, 0x08,        // fld qword [ebx+8]
      0xd9, 0xe1,              // fabs
      0xd9, 0xe0,              // fchs
      0xdc, 0x13,              // fcom qword [ebx]
      0xdf, 0xe0,              // fnstsw ax
      0x66, 0x89, 0x47, 0x28,  // mov [edi+40], ax
      0xdd, 0x03,              // fld qword [ebx]
      0xdf, 0xf1,              // fcomip st1
      0x0f, 0x92, 0x47, 0x2a,  // setb [edi+42]
      0x0f, 0x94, 0x47, 0x2b,  // setz [edi+43]
      0xdd, 0x5f, 0x30,        // fstp qword [edi+48]
      0xd9, 0x7f, 0x38,        // fnstcw [edi+56]
      0xd9, 0x6b, 0x18,        // fldcw [ebx+24]
      0xdd, 0x43, 0x08,        // fld qword [ebx+8]
      0xdb, 0x5f, 0x3c,        // fistp dword [edi+60]
      0xdf, 0x6b, 0x20,        // fild qword [ebx+32]
      0xd9, 0xfe,              // fsin
      0xdd, 0x5f, 0x40,        // fstp qword [edi+64]
      0xdb, 0x6f, 0x10,        // fld tword [edi+16]
      0xd9, 0xf8,              // fprem
      0xdd, 0x5f, 0x48,        // fstp qword [edi+72]
      0xd9, 0x43, 0x28,        // fld dword [ebx+40]
      0xd9, 0xc9,              // fxch
      0xd8, 0x6b, 0x2c,        // fsubr dword [ebx+44]
      0xdd, 0x5f, 0x50,        // fstp qword [edi+80]
      0xdd, 0x5f, 0x58,        // fstp qword [edi+88]
      0xdd, 0x5f, 0x60,        // fstp qword [edi+96]
  });
  const uint32_t ebx = c.in.gpr[kEbx];
  Put<double>(c.arena, ebx, 1.5);
  Put<double>(c.arena, ebx + 8, -2.25);
  Put<int32_t>(c.arena, ebx + 16, 7);
  Put<uint16_t>(c.arena, ebx + 24, 0x0f7f);  // round toward zero
  Put<int64_t>(c.arena, ebx + 32, -123456789012345);
  Put<float>(c.arena, ebx + 40, 3.25f);
  Put<float>(c.arena, ebx + 44, 100.0f);
  EXPECT_TRUE(Run(c));
}

TEST_P(InstructionClassTest, SseSse2MmxArithmeticToMemory) {
  DiffCase c = Case({
      0x0f, 0x10, 0x03,                                // movups xmm0, [ebx]
      0x0f, 0x10, 0x4b, 0x10,                          // movups xmm1, [ebx+16]
      0x0f, 0x58, 0xc1,                                // addps xmm0, xmm1
      0x0f, 0x59, 0x43, 0x20,                          // mulps xmm0, [ebx+32]
      0x0f, 0x11, 0x07,                                // movups [edi], xmm0
      0xf2, 0x0f, 0x10, 0x53, 0x30,                    // movsd xmm2, [ebx+48]
      0xf2, 0x0f, 0x51, 0xd2,                          // sqrtsd xmm2, xmm2
      0xf2, 0x0f, 0x11, 0x57, 0x10,                    // movsd [edi+16], xmm2
      0xf2, 0x0f, 0x2a, 0xd8,                          // cvtsi2sd xmm3, eax
      0xf2, 0x0f, 0x5e, 0x5b, 0x38,                    // divsd xmm3, [ebx+56]
      0xf2, 0x0f, 0x2c, 0xcb,                          // cvttsd2si ecx, xmm3
      0x89, 0x4f, 0x18,                                // mov [edi+24], ecx
      0x66, 0x0f, 0x28, 0x63, 0x40,                    // movapd xmm4, [ebx+64]
      0x66, 0x0f, 0xef, 0xed,                          // pxor xmm5, xmm5
      0x66, 0x0f, 0xfe, 0x6b, 0x50,                    // paddd xmm5, [ebx+80]
      0x66, 0x0f, 0x70, 0xf5, 0x1b,                    // pshufd xmm6, xmm5, 0x1b
      0xf3, 0x0f, 0x7f, 0x77, 0x20,                    // movdqu [edi+32], xmm6
      0x66, 0x0f, 0x7e, 0xf2,                          // movd edx, xmm6
      0x66, 0x0f, 0xd6, 0x6f, 0x30,                    // movq [edi+48], xmm5
      0x66, 0x0f, 0x2f, 0xd3,                          // comisd xmm2, xmm3
      0x0f, 0x92, 0x47, 0x38,                          // setb [edi+56]
      0x0f, 0x94, 0x47, 0x39,                          // setz [edi+57]
      0x0f, 0x2e, 0x43, 0x60,                          // ucomiss xmm0, [ebx+96]
      0x0f, 0x9a, 0x47, 0x3a,                          // setp [edi+58]
      0x0f, 0x50, 0xc0,                                // movmskps eax, xmm0
      0x66, 0x0f, 0xd7, 0xce,                          // pmovmskb ecx, xmm6
      0x0f, 0x5a, 0x3b,                                // cvtps2pd xmm7, [ebx]
      0x66, 0x0f, 0x11, 0x7f, 0x40,                    // movupd [edi+64], xmm7
      0x66, 0x0f, 0x5f, 0xfc,                          // maxpd xmm7, xmm4
      0x66, 0x0f, 0x54, 0x7b, 0x70,                    // andpd xmm7, [ebx+112]
      0x66, 0x0f, 0x29, 0x7f, 0x50,                    // movapd [edi+80], xmm7
      0x66, 0x0f, 0x60, 0xab, 0x80, 0x00, 0x00, 0x00,  // punpcklbw xmm5, [ebx+128]
      0x66, 0x0f, 0xf5, 0xee,                          // pmaddwd xmm5, xmm6
      0x66, 0x0f, 0x7f, 0x6f, 0x60,                    // movdqa [edi+96], xmm5
      0x0f, 0xae, 0x5f, 0x70,                          // stmxcsr [edi+112]
      0x0f, 0x6f, 0x03,                                // movq mm0, [ebx]
      0x0f, 0xfc, 0x43, 0x08,                          // paddb mm0, [ebx+8]
      0x0f, 0xd5, 0x43, 0x10,                          // pmullw mm0, [ebx+16]
      0x0f, 0x7f, 0x47, 0x78,                          // movq [edi+120], mm0
      0x0f, 0x7e, 0x87, 0x80, 0x00, 0x00, 0x00,        // movd [edi+128], mm0
      0x0f, 0x77,                                      // emms
      0xf3, 0x0f, 0x10, 0x43, 0x04,                    // movss xmm0, [ebx+4]
      0xf3, 0x0f, 0x5a, 0xc0,                          // cvtss2sd xmm0, xmm0
      0xf2, 0x0f, 0x11, 0x87, 0x88, 0x00, 0x00, 0x00,  // movsd [edi+136], xmm0
  });
  const uint32_t ebx = c.in.gpr[kEbx];
  const float floats[] = {1.5f,  -2.0f, 3.25f, 1e30f, 0.5f,  0.25f,
                          -8.0f, 7.0f,  2.0f,  3.0f,  -1.0f, 0.0f};
  for (int i = 0; i < 12; ++i) Put<float>(c.arena, ebx + 4 * i, floats[i]);
  Put<double>(c.arena, ebx + 48, 2.0);
  Put<double>(c.arena, ebx + 56, -3.5);
  Put<double>(c.arena, ebx + 64, 10.0);
  Put<double>(c.arena, ebx + 72, -10.0);
  EXPECT_TRUE(Run(c));
}

// Guest x87/SSE state lives across block exits (FXSAVE images in the context).
TEST_P(InstructionClassTest, FloatingPointStateAcrossBlocks) {
  ExpectSame({
      0xd9, 0xe8,                    // fld1
      0xd9, 0xee,                    // fldz
      0x66, 0x0f, 0xef, 0xc0,        // pxor xmm0, xmm0
      0xb9, 0x0a, 0x00, 0x00, 0x00,  // mov ecx, 10
      // top:
      0xd8, 0xc1,                    // fadd st0, st1
      0xf2, 0x0f, 0x2a, 0xc9,        // cvtsi2sd xmm1, ecx
      0xf2, 0x0f, 0x58, 0xc1,        // addsd xmm0, xmm1
      0x49,                          // dec ecx
      0x75, 0xf3,                    // jnz top
      0xdd, 0x1f,                    // fstp qword [edi]
      0xdd, 0x5f, 0x08,              // fstp qword [edi+8]
      0xf2, 0x0f, 0x11, 0x47, 0x10,  // movsd [edi+16], xmm0
  });
}
// ---------------------------------------------------------------------------
// Control transfers: direct exits (chained or not), indirect branches and
// returns (inline lookup or not).

// Each jcc jumps over a store that records "not taken"; every combination of
// CF PF ZF SF OF decides all sixteen conditions.
TEST_P(BranchClassTest, JccAllConditionsShortAndNear) {
  const std::vector<uint8_t> short_form = {
      0x70, 0x03,              // jo s0
      0xc6, 0x07, 0x01,        // mov byte [edi], 1
      0x71, 0x04,              // s0: jno s1
      0xc6, 0x47, 0x01, 0x01,  // mov byte [edi+1], 1
      0x72, 0x04,              // s1: jb s2
      0xc6, 0x47, 0x02, 0x01,  // mov byte [edi+2], 1
      0x73, 0x04,              // s2: jae s3
      0xc6, 0x47, 0x03, 0x01,  // mov byte [edi+3], 1
      0x74, 0x04,              // s3: jz s4
      0xc6, 0x47, 0x04, 0x01,  // mov byte [edi+4], 1
      0x75, 0x04,              // s4: jnz s5
      0xc6, 0x47, 0x05, 0x01,  // mov byte [edi+5], 1
      0x76, 0x04,              // s5: jbe s6
      0xc6, 0x47, 0x06, 0x01,  // mov byte [edi+6], 1
      0x77, 0x04,              // s6: ja s7
      0xc6, 0x47, 0x07, 0x01,  // mov byte [edi+7], 1
      0x78, 0x04,              // s7: js s8
      0xc6, 0x47, 0x08, 0x01,  // mov byte [edi+8], 1
      0x79, 0x04,              // s8: jns s9
      0xc6, 0x47, 0x09, 0x01,  // mov byte [edi+9], 1
      0x7a, 0x04,              // s9: jp s10
      0xc6, 0x47, 0x0a, 0x01,  // mov byte [edi+10], 1
      0x7b, 0x04,              // s10: jnp s11
      0xc6, 0x47, 0x0b, 0x01,  // mov byte [edi+11], 1
      0x7c, 0x04,              // s11: jl s12
      0xc6, 0x47, 0x0c, 0x01,  // mov byte [edi+12], 1
      0x7d, 0x04,              // s12: jge s13
      0xc6, 0x47, 0x0d, 0x01,  // mov byte [edi+13], 1
      0x7e, 0x04,              // s13: jle s14
      0xc6, 0x47, 0x0e, 0x01,  // mov byte [edi+14], 1
      0x7f, 0x04,              // s14: jg s15
      0xc6, 0x47, 0x0f, 0x01,  // mov byte [edi+15], 1
                               // s15:
  };
  const std::vector<uint8_t> near_form = {
      0x0f, 0x80, 0x03, 0x00, 0x00, 0x00,  // jo near n0
      0xc6, 0x07, 0x01,                    // mov byte [edi], 1
      0x0f, 0x81, 0x04, 0x00, 0x00, 0x00,  // n0: jno near n1
      0xc6, 0x47, 0x01, 0x01,              // mov byte [edi+1], 1
      0x0f, 0x82, 0x04, 0x00, 0x00, 0x00,  // n1: jb near n2
      0xc6, 0x47, 0x02, 0x01,              // mov byte [edi+2], 1
      0x0f, 0x83, 0x04, 0x00, 0x00, 0x00,  // n2: jae near n3
      0xc6, 0x47, 0x03, 0x01,              // mov byte [edi+3], 1
      0x0f, 0x84, 0x04, 0x00, 0x00, 0x00,  // n3: jz near n4
      0xc6, 0x47, 0x04, 0x01,              // mov byte [edi+4], 1
      0x0f, 0x85, 0x04, 0x00, 0x00, 0x00,  // n4: jnz near n5
      0xc6, 0x47, 0x05, 0x01,              // mov byte [edi+5], 1
      0x0f, 0x86, 0x04, 0x00, 0x00, 0x00,  // n5: jbe near n6
      0xc6, 0x47, 0x06, 0x01,              // mov byte [edi+6], 1
      0x0f, 0x87, 0x04, 0x00, 0x00, 0x00,  // n6: ja near n7
      0xc6, 0x47, 0x07, 0x01,              // mov byte [edi+7], 1
      0x0f, 0x88, 0x04, 0x00, 0x00, 0x00,  // n7: js near n8
      0xc6, 0x47, 0x08, 0x01,              // mov byte [edi+8], 1
      0x0f, 0x89, 0x04, 0x00, 0x00, 0x00,  // n8: jns near n9
      0xc6, 0x47, 0x09, 0x01,              // mov byte [edi+9], 1
      0x0f, 0x8a, 0x04, 0x00, 0x00, 0x00,  // n9: jp near n10
      0xc6, 0x47, 0x0a, 0x01,              // mov byte [edi+10], 1
      0x0f, 0x8b, 0x04, 0x00, 0x00, 0x00,  // n10: jnp near n11
      0xc6, 0x47, 0x0b, 0x01,              // mov byte [edi+11], 1
      0x0f, 0x8c, 0x04, 0x00, 0x00, 0x00,  // n11: jl near n12
      0xc6, 0x47, 0x0c, 0x01,              // mov byte [edi+12], 1
      0x0f, 0x8d, 0x04, 0x00, 0x00, 0x00,  // n12: jge near n13
      0xc6, 0x47, 0x0d, 0x01,              // mov byte [edi+13], 1
      0x0f, 0x8e, 0x04, 0x00, 0x00, 0x00,  // n13: jle near n14
      0xc6, 0x47, 0x0e, 0x01,              // mov byte [edi+14], 1
      0x0f, 0x8f, 0x04, 0x00, 0x00, 0x00,  // n14: jg near n15
      0xc6, 0x47, 0x0f, 0x01,              // mov byte [edi+15], 1
                                           // n15:
  };
  const uint32_t kDecisive[] = {kFlagCf, kFlagPf, kFlagZf, kFlagSf, kFlagOf};
  for (const auto* code : {&short_form, &near_form}) {
    for (uint32_t combo = 0; combo < 32; ++combo) {
      DiffCase c = Case(*code);
      for (int bit = 0; bit < 5; ++bit) {
        if (combo & (1u << bit)) c.in.eflags |= kDecisive[bit];
      }
      EXPECT_TRUE(RunOnce(c)) << (code == &short_form ? "short" : "near") << " flags ["
                              << FlagNames(c.in.eflags) << "]";
    }
  }
}

TEST_P(BranchClassTest, BackwardAndForwardJccLoops) {
  ExpectSame({
      0xb9, 0x14, 0x00, 0x00, 0x00,  // mov ecx, 20
      // top:
      0x01, 0xc8,                    // add eax, ecx
      0x49,                          // dec ecx
      0x75, 0xfb,                    // jnz top
      0x89, 0x07,                    // mov [edi], eax
      0xb9, 0x05, 0x00, 0x00, 0x00,  // mov ecx, 5
      // top2:
      0x83, 0xea, 0x03,  // sub edx, 3
      0x83, 0xf9, 0x02,  // cmp ecx, 2
      0x77, 0x03,        // ja skip
      0x83, 0xc2, 0x64,  // add edx, 100
      // skip:
      0x49,                                // dec ecx
      0x0f, 0x8f, 0xee, 0xff, 0xff, 0xff,  // jg near top2
      0x89, 0x57, 0x04,                    // mov [edi+4], edx
      0xeb, 0x04,                          // jmp over
      0xc6, 0x47, 0x08, 0x01,              // mov byte [edi+8], 1
      // over:
      0xe9, 0x04, 0x00, 0x00, 0x00,  // jmp near over2
      0xc6, 0x47, 0x09, 0x01,        // mov byte [edi+9], 1
                                     // over2:
  });
}

// jecxz tests all of ecx (cx = 0 alone does not jump).
TEST_P(BranchClassTest, Jecxz) {
  const std::vector<uint8_t> code = {
      0x39, 0xd0,              // cmp eax, edx
      0xe3, 0x03,              // jecxz z1
      0xc6, 0x07, 0x01,        // mov byte [edi], 1
      0xe3, 0x06,              // z1: jecxz z2
      0xc6, 0x47, 0x01, 0x01,  // mov byte [edi+1], 1
      0xeb, 0x04,              // jmp z3
      0xc6, 0x47, 0x02, 0x01,  // z2: mov byte [edi+2], 1
                               // z3:
  };
  for (uint32_t ecx : {0u, 1u, 0x10000u, 0xffffffffu}) {
    DiffCase c = Case(code);
    c.in.gpr[kEcx] = ecx;
    EXPECT_TRUE(Run(c)) << "ecx=" << std::hex << ecx;
  }
}

TEST_P(BranchClassTest, LoopLoopeLoopne) {
  DiffCase c = Case({
      0xb9, 0x07, 0x00, 0x00, 0x00,  // mov ecx, 7
      0x83, 0xc0, 0x03,              // l1: add eax, 3
      0xe2, 0xfb,                    // loop l1
      0x89, 0x07,                    // mov [edi], eax
      0xb9, 0x14, 0x00, 0x00, 0x00,  // mov ecx, 20
      0xac,                          // l2: lodsb
      0x3c, 0x00,                    // cmp al, 0
      0xe1, 0xfb,                    // loope l2
      0x89, 0x4f, 0x04,              // mov [edi+4], ecx
      0x89, 0x77, 0x08,              // mov [edi+8], esi
      0xb9, 0x14, 0x00, 0x00, 0x00,  // mov ecx, 20
      0xac,                          // l3: lodsb
      0x3c, 0x5a,                    // cmp al, 0x5a
      0xe0, 0xfb,                    // loopne l3
      0x89, 0x4f, 0x0c,              // mov [edi+12], ecx
      0x89, 0x77, 0x10,              // mov [edi+16], esi
      0xb9, 0x01, 0x00, 0x00, 0x00,  // mov ecx, 1
      0x42,                          // l4: inc edx
      0xe2, 0xfd,                    // loop l4
      0x39, 0xc2,                    // cmp edx, eax
      0xb9, 0x03, 0x00, 0x00, 0x00,  // mov ecx, 3
      0xe1, 0xfe,                    // l5: loope l5
      0x89, 0x4f, 0x14,              // mov [edi+20], ecx
  });
  // Five zero bytes for loope, then a 0x5a seven bytes further for loopne.
  for (uint32_t i = 0; i < 5; ++i) Put<uint8_t>(c.arena, c.in.gpr[kEsi] + i, 0);
  Put<uint8_t>(c.arena, c.in.gpr[kEsi] + 5, 0x33);
  for (uint32_t i = 6; i < 13; ++i) Put<uint8_t>(c.arena, c.in.gpr[kEsi] + i, 0x20);
  Put<uint8_t>(c.arena, c.in.gpr[kEsi] + 13, 0x5a);
  EXPECT_TRUE(Run(c));
}

TEST_P(BranchClassTest, CallRelRetAndRetImm16) {
  ExpectSame({
      0xe8, 0x37, 0x00, 0x00, 0x00,  // call f1
      0x89, 0x07,                    // mov [edi], eax
      0x6a, 0x02,                    // push 2
      0x6a, 0x01,                    // push 1
      0xe8, 0x30, 0x00, 0x00, 0x00,  // call f2
      0x89, 0x47, 0x04,              // mov [edi+4], eax
      0xe8, 0x00, 0x00, 0x00, 0x00,  // call getpc
      // getpc:
      0x5a,                          // pop edx
      0x89, 0x57, 0x08,              // mov [edi+8], edx
      0xb8, 0x06, 0x00, 0x00, 0x00,  // mov eax, 6
      0xe8, 0x25, 0x00, 0x00, 0x00,  // call fact
      0x89, 0x47, 0x0c,              // mov [edi+12], eax
      0xb9, 0x03, 0x00, 0x00, 0x00,  // mov ecx, 3
      // again:
      0xe8, 0x09, 0x00, 0x00, 0x00,  // call f1
      0x49,                          // dec ecx
      0x75, 0xf8,                    // jnz again
      0x68, 0x5c, 0x10, 0x10, 0x00,  // push done
      0xc3,                          // ret
      0x83, 0xc0, 0x01,              // f1: add eax, 1
      0xc3,                          // ret
      0x8b, 0x44, 0x24, 0x04,        // f2: mov eax, [esp+4]
      0x03, 0x44, 0x24, 0x08,        // add eax, [esp+8]
      0xc2, 0x08, 0x00,              // ret 8
      0x83, 0xf8, 0x01,              // fact: cmp eax, 1
      0x76, 0x0b,                    // jbe fact_base
      0x50,                          // push eax
      0x48,                          // dec eax
      0xe8, 0xf4, 0xff, 0xff, 0xff,  // call fact
      0x59,                          // pop ecx
      0x0f, 0xaf, 0xc1,              // imul eax, ecx
      0xc3,                          // fact_base: ret
      // done:
      0x89, 0x67, 0x10,  // mov [edi+16], esp
  });
}

TEST_P(BranchClassTest, IndirectCallsAndJumps) {
  ExpectSame({
      0xbd, 0x03, 0x00, 0x00, 0x00,  // mov ebp, 3
      // round:
      0xb8, 0x64, 0x10, 0x10, 0x00,                                // mov eax, t1
      0xff, 0xd0,                                                  // call eax
      0xc7, 0x03, 0x68, 0x10, 0x10, 0x00,                          // mov dword [ebx], t2
      0xff, 0x13,                                                  // call [ebx]
      0xc7, 0x43, 0x08, 0x6c, 0x10, 0x10, 0x00,                    // mov dword [ebx+8], t3
      0xb9, 0x02, 0x00, 0x00, 0x00,                                // mov ecx, 2
      0xff, 0x14, 0x8b,                                            // call [ebx+ecx*4]
      0xc7, 0x05, 0x00, 0x03, 0x18, 0x00, 0x64, 0x10, 0x10, 0x00,  // mov dword [0x180300], t1
      0xff, 0x15, 0x00, 0x03, 0x18, 0x00,                          // call [0x180300]
      0x68, 0x68, 0x10, 0x10, 0x00,                                // push t2
      0xff, 0x14, 0x24,                                            // call [esp]
      0x83, 0xc4, 0x04,                                            // add esp, 4
      0xba, 0x45, 0x10, 0x10, 0x00,                                // mov edx, j1
      0xff, 0xe2,                                                  // jmp edx
      0xc7, 0x43, 0x0c, 0x4f, 0x10, 0x10, 0x00,                    // j1: mov dword [ebx+12], j2
      0xff, 0x63, 0x0c,                                            // jmp [ebx+12]
      0xc7, 0x05, 0x04, 0x03, 0x18, 0x00, 0x5f, 0x10, 0x10, 0x00,  // j2: mov dword [0x180304], j3
      0xff, 0x25, 0x04, 0x03, 0x18, 0x00,                          // jmp [0x180304]
      0x4d,                                                        // j3: dec ebp
      0x75, 0xa3,                                                  // jnz round
      0xeb, 0x0b,                                                  // jmp end
      0x83, 0xc6, 0x01,                                            // t1: add esi, 1
      0xc3,                                                        // ret
      0x83, 0xc7, 0x02,                                            // t2: add edi, 2
      0xc3,                                                        // ret
      0x01, 0xfe,                                                  // t3: add esi, edi
      0xc3,                                                        // ret
                                                                   // end:
  });
}

TEST_P(BranchClassTest, JumpTable) {
  ExpectSame({
      0x31, 0xc9,  // xor ecx, ecx
      0x31, 0xc0,  // xor eax, eax
      // jt_loop:
      0x89, 0xca,                                // mov edx, ecx
      0x83, 0xe2, 0x03,                          // and edx, 3
      0xff, 0x24, 0x95, 0x2c, 0x10, 0x10, 0x00,  // jmp [table+edx*4]
      0x83, 0xc0, 0x01,                          // case0: add eax, 1
      0xeb, 0x0f,                                // jmp next
      0x83, 0xc0, 0x0a,                          // case1: add eax, 10
      0xeb, 0x0a,                                // jmp next
      0x83, 0xc0, 0x64,                          // case2: add eax, 100
      0xeb, 0x05,                                // jmp next
      0x05, 0xe8, 0x03, 0x00, 0x00,              // case3: add eax, 1000
      0x41,                                      // next: inc ecx
      0x83, 0xf9, 0x0b,                          // cmp ecx, 11
      0x72, 0xda,                                // jb jt_loop
      0xeb, 0x10,                                // jmp end
      0x10, 0x10, 0x10, 0x00, 0x15, 0x10, 0x10, 0x00, 0x1a, 0x10, 0x10, 0x00, 0x1f, 0x10, 0x10,
      0x00,  // table: dd case0, case1, case2, case3
             // end:
  });
}

// A callee whose address shares its low 16 bits with the return address:
// both index the same inline lookup slot, which must never send a branch
// to the other's block.
TEST_P(BranchClassTest, InlineLookupSlotCollision) {
  DiffCase c = Case({
      0xb9, 0x04, 0x00, 0x00, 0x00,  // mov ecx, 4
      // again:
      0xff, 0x13,  // call [ebx]
      // ret_here:
      0x49,        // dec ecx
      0x75, 0xfb,  // jnz again
  });
  const uint32_t ret_here = kCodeAddress + 7;  // after mov ecx (5) and call [ebx] (2)
  const uint32_t callee = ret_here + 0x10000;
  Put<uint32_t>(c.arena, c.in.gpr[kEbx], callee);
  PutBytes(c.arena, callee, {0x01, 0xc8, 0xc3});  // add eax, ecx; ret
  EXPECT_TRUE(Run(c));
}

// ---------------------------------------------------------------------------
// Faults: the guest must stop at the faulting instruction with the state
// from before it (precise state), at any block length.

TEST_P(InstructionClassTest, DivideErrorIsPrecise) {
  const FaultCase kCases[] = {
      {"div ecx, ecx=0",
       {
           0xb9, 0x00, 0x00, 0x00, 0x00,  // mov ecx, 0
           0xb8, 0x05, 0x00, 0x00, 0x00,  // mov eax, 5
           0x83, 0xc2, 0x03,              // add edx, 3
           0x50,                          // push eax
           0xf7, 0xf1,                    // div ecx
           0xb8, 0x00, 0x00, 0x00, 0x00,  // mov eax, 0
       },
       14,
       SIGFPE},
      {"idiv overflow",
       {
           0xb9, 0xff, 0xff, 0xff, 0xff,  // mov ecx, -1
           0x43,                          // inc ebx
           0xb8, 0x00, 0x00, 0x00, 0x80,  // mov eax, 0x80000000
           0x99,                          // cdq
           0xf7, 0xf9,                    // idiv ecx
       },
       12,
       SIGFPE},
      {"div byte [ebx]=0",
       {
           0xc6, 0x03, 0x00,  // mov byte [ebx], 0
           0x8d, 0x76, 0x04,  // lea esi, [esi+4]
           0xf6, 0x33,        // div byte [ebx]
       },
       6,
       SIGFPE},
      {"div cl quotient overflow",
       {
           0x66, 0xb8, 0xff, 0xff,  // mov ax, 0xffff
           0xb1, 0x01,              // mov cl, 1
           0xf6, 0xf1,              // div cl
       },
       6,
       SIGFPE},
      {"div word [ebx+2]=0",
       {
           0x66, 0xc7, 0x43, 0x02, 0x00, 0x00,  // mov word [ebx+2], 0
           0x51,                                // push ecx
           0x66, 0xf7, 0x73, 0x02,              // div word [ebx+2]
       },
       7,
       SIGFPE},
  };
  for (const FaultCase& f : kCases) ExpectPreciseFault(f);
}

// Accesses beyond guest RAM (4 MiB) fault natively too (nothing is mapped
// there in the test process): the guest stops at the access.
TEST_P(InstructionClassTest, MemoryFaultBeyondRamIsPrecise) {
  const FaultCase kCases[] = {
      {"load",
       {
           0x83, 0xc0, 0x01,                    // add eax, 1
           0x50,                                // push eax
           0x8b, 0x0d, 0x00, 0x00, 0x00, 0x10,  // mov ecx, [0x10000000]
       },
       4,
       SIGSEGV},
      {"store through a base register",
       {
           0x40,                                // inc eax
           0x89, 0x83, 0x00, 0x00, 0xe8, 0x0f,  // mov [ebx+0x0fe80000], eax
       },
       1,
       SIGSEGV},
      {"read-modify-write",
       {
           0x4a,                                      // dec edx
           0x01, 0x94, 0x8e, 0x00, 0x00, 0x00, 0x20,  // add [esi+ecx*4+0x20000000], edx
       },
       1,
       SIGSEGV},
      {"x87 load",
       {
           0xd9, 0xe8,                          // fld1
           0xdd, 0x05, 0x00, 0x00, 0x00, 0x10,  // fld qword [0x10000000]
       },
       2,
       SIGSEGV},
      {"sse store",
       {
           0x0f, 0x57, 0xc0,                          // xorps xmm0, xmm0
           0x0f, 0x11, 0x87, 0x00, 0x00, 0x00, 0x30,  // movups [edi+0x30000000], xmm0
       },
       3,
       SIGSEGV},
      {"push with esp beyond RAM",
       {
           0xbc, 0x00, 0x00, 0x00, 0x10,  // mov esp, 0x10000000
           0x50,                          // push eax
       },
       5,
       SIGSEGV},
      {"pop with esp beyond RAM",
       {
           0xbc, 0x00, 0x00, 0x00, 0x10,  // mov esp, 0x10000000
           0x58,                          // pop eax
       },
       5,
       SIGSEGV},
      {"call with esp beyond RAM",
       {
           0xbc, 0x00, 0x00, 0x00, 0x10,  // mov esp, 0x10000000
           0xe8, 0x00, 0x00, 0x00, 0x00,  // call target
                                          // target:
       },
       5,
       SIGSEGV},
      {"ret with esp beyond RAM",
       {
           0xbc, 0x00, 0x00, 0x00, 0x10,  // mov esp, 0x10000000
           0xc3,                          // ret
       },
       5,
       SIGSEGV},
      {"pushad with esp beyond RAM",
       {
           0xbc, 0x10, 0x00, 0x00, 0x10,  // mov esp, 0x10000010
           0x60,                          // pushad
       },
       5,
       SIGSEGV},
      {"popad with esp beyond RAM",
       {
           0xbc, 0x10, 0x00, 0x00, 0x10,  // mov esp, 0x10000010
           0x61,                          // popad
       },
       5,
       SIGSEGV},
      {"leave with ebp beyond RAM",
       {
           0xbd, 0x00, 0x00, 0x00, 0x10,  // mov ebp, 0x10000000
           0xc9,                          // leave
       },
       5,
       SIGSEGV},
      {"rep stosd beyond RAM",
       {
           0xbf, 0x00, 0x00, 0x00, 0x10,  // mov edi, 0x10000000
           0xf3, 0xab,                    // rep stosd
       },
       5,
       SIGSEGV},
      {"movsb source beyond RAM",
       {
           0xbe, 0x00, 0x00, 0x00, 0x10,  // mov esi, 0x10000000
           0xa4,                          // movsb
       },
       5,
       SIGSEGV},
      {"indirect call through memory beyond RAM",
       {
           0x40,                                // inc eax
           0xff, 0x15, 0x00, 0x00, 0x00, 0x10,  // call [0x10000000]
       },
       1,
       SIGSEGV},
      {"xlat beyond RAM",
       {
           0xbb, 0x00, 0x00, 0x00, 0x10,  // mov ebx, 0x10000000
           0xd7,                          // xlatb
       },
       5,
       SIGSEGV},
  };
  for (const FaultCase& f : kCases) ExpectPreciseFault(f);
}

// Unmasked floating-point exceptions: x87 ones are delivered at the next
// waiting x87 instruction (#MF), SSE ones at the instruction (#XM); both
// must stop the guest there with the state from before it.
TEST_P(InstructionClassTest, FloatingPointExceptionsArePrecise) {
  const FaultCase kCases[] = {
      {"x87 divide by zero, delivered at fwait",
       {
           0xd9, 0x2b,  // fldcw [ebx]
           0xd9, 0xe8,  // fld1
           0xd9, 0xee,  // fldz
           0xde, 0xf9,  // fdivp st1
           0x40,        // inc eax
           0x9b,        // fwait
       },
       9,
       SIGFPE},
      {"x87 invalid operation, delivered at the next fld",
       {
           0xd9, 0x2b,  // fldcw [ebx]
           0xd9, 0xee,  // fldz
           0xd9, 0xee,  // fldz
           0xde, 0xf9,  // fdivp st1
           0x51,        // push ecx
           0xd9, 0xe8,  // fld1
       },
       9,
       SIGFPE},
      {"SSE divide by zero",
       {
           0x0f, 0xae, 0x53, 0x04,        // ldmxcsr [ebx+4]
           0x0f, 0x57, 0xc9,              // xorps xmm1, xmm1
           0xf3, 0x0f, 0x10, 0x43, 0x08,  // movss xmm0, [ebx+8]
           0x83, 0xc0, 0x01,              // add eax, 1
           0xf3, 0x0f, 0x5e, 0xc1,        // divss xmm0, xmm1
       },
       15,
       SIGFPE},
  };
  for (const FaultCase& f : kCases) {
    DiffCase c = Case(f.code);
    Put<uint16_t>(c.arena, c.in.gpr[kEbx], 0x037f & ~0x05);       // FCW: IM, ZM unmasked
    Put<uint32_t>(c.arena, c.in.gpr[kEbx] + 4, 0x1f80 & ~0x200);  // MXCSR: ZM unmasked
    Put<float>(c.arena, c.in.gpr[kEbx] + 8, 1.0f);
    ExpectPreciseFault(f, c);
  }
}

// ud2 and an undefined encoding (FF /7) raise #UD at the instruction.
TEST_P(InstructionClassTest, InvalidOpcodeIsPrecise) {
  ExpectPreciseFault({"ud2",
                      {
                          0x01, 0xc8,  // add eax, ecx
                          0x50,        // push eax
                          0x0f, 0x0b,  // ud2
                      },
                      3,
                      SIGILL});
  ExpectPreciseFault({"ff /7",
                      {
                          0x01, 0xc8,  // add eax, ecx
                          0x50,        // push eax
                          0xff, 0xff,  // db 0xff, 0xff
                      },
                      3,
                      SIGILL});
}

// A store into the block being run: x86 executes the new bytes.
TEST_P(InstructionClassTest, SelfModifyingCode) {
  ExpectSame({
      0xc6, 0x05, 0x08, 0x10, 0x10, 0x00, 0x22,  // mov byte [patch+1], 0x22
      // patch:
      0xb8, 0x11, 0x00, 0x00, 0x00,  // mov eax, 0x11
      0xb9, 0x03, 0x00, 0x00, 0x00,  // mov ecx, 3
      // again:
      0x80, 0x05, 0x1a, 0x10, 0x10, 0x00, 0x01,  // add byte [patch2+2], 1
      // patch2:
      0x83, 0xc2, 0x00,  // add edx, 0
      0x49,              // dec ecx
      0x75, 0xf3,        // jnz again
  });
}
// ---------------------------------------------------------------------------
// Forms of the classes above that compilers and old code emit.

// jcxz and loop with 0x67 count in cx (emulated); the branch targets stay
// 32-bit. The upper half of ecx must neither count nor change.
TEST_P(BranchClassTest, CountedBranchesWithCx) {
  const std::vector<uint8_t> code = {
      0x67, 0xe3, 0x03,  // jcxz z1
      0xc6, 0x07, 0x01,  // mov byte [edi], 1
      // z1:
      0xba, 0x03, 0x00, 0x00, 0x00,  // mov edx, 3
      0x01, 0xd0,                    // l1: add eax, edx
      0x67, 0xe2, 0xfb,              // a16 loop l1
      0x89, 0x4f, 0x04,              // mov [edi+4], ecx
      0x89, 0x47, 0x08,              // mov [edi+8], eax
      0xb9, 0x05, 0x00, 0xcd, 0xab,  // mov ecx, 0xabcd0005
      0x39, 0xc0,                    // l2: cmp eax, eax
      0x67, 0xe1, 0xfb,              // a16 loope l2
      0x89, 0x4f, 0x0c,              // mov [edi+12], ecx
      0xb9, 0x06, 0x00, 0x34, 0x12,  // mov ecx, 0x12340006
      0x39, 0xc8,                    // l3: cmp eax, ecx
      0x67, 0xe0, 0xfb,              // a16 loopne l3
      0x89, 0x4f, 0x10,              // mov [edi+16], ecx
      0xb9, 0x01, 0x00, 0x00, 0x00,  // mov ecx, 1
      0x66, 0xe2, 0x00,              // o16 loop l4
      0x89, 0x4f, 0x14,              // l4: mov [edi+20], ecx
  };
  for (uint32_t ecx : {0x00000000u, 0x00010000u, 0xffff0003u, 0x00000001u}) {
    DiffCase c = Case(code);
    c.in.gpr[kEcx] = ecx;
    EXPECT_TRUE(Run(c)) << "ecx=" << std::hex << ecx;
  }
}

// Branch hints (2E/3E on jcc) and `rep ret` (AMD-tuned gcc output).
TEST_P(BranchClassTest, BranchHintsAndRepRet) {
  ExpectSame({
      0x39, 0xc8,                                // cmp eax, ecx
      0x3e, 0x74, 0x03,                          // ds jz h1
      0xc6, 0x07, 0x01,                          // mov byte [edi], 1
      0x2e, 0x0f, 0x85, 0x04, 0x00, 0x00, 0x00,  // h1: cs jnz near h2
      0xc6, 0x47, 0x01, 0x01,                    // mov byte [edi+1], 1
      0xe8, 0x05, 0x00, 0x00, 0x00,              // h2: call f
      0x89, 0x47, 0x04,                          // mov [edi+4], eax
      0xeb, 0x05,                                // jmp done
      0x83, 0xc0, 0x07,                          // f: add eax, 7
      0xf3, 0xc3,                                // rep ret
                                                 // done:
  });
}

// PUSHF/POPF are emulated (IF is virtual): the arithmetic flags and DF go
// through them exactly. IF and the reserved bits differ by design, so the
// pushed images are masked (natively) before they reach memory.
TEST_P(InstructionClassTest, PushfPopfArithmeticFlags) {
  ExpectSame({
      0x9c,                                      // pushfd
      0x81, 0x24, 0x24, 0xd5, 0x0c, 0x00, 0x00,  // and dword [esp], 0xcd5
      0x58,                                      // pop eax
      0x68, 0xd7, 0x08, 0x00, 0x00,              // push 0x8d7
      0x9d,                                      // popfd
      0x0f, 0x90, 0x07,                          // seto [edi]
      0x0f, 0x92, 0x47, 0x01,                    // setc [edi+1]
      0x9c,                                      // pushfd
      0x81, 0x24, 0x24, 0xd5, 0x0c, 0x00, 0x00,  // and dword [esp], 0xcd5
      0x59,                                      // pop ecx
      0x68, 0x00, 0x04, 0x00, 0x00,              // push 0x400
      0x9d,                                      // popfd
      0x9c,                                      // pushfd
      0x81, 0x24, 0x24, 0xd5, 0x0c, 0x00, 0x00,  // and dword [esp], 0xcd5
      0x5a,                                      // pop edx
      0xfc,                                      // cld
      0x66, 0x9c,                                // o16 pushf
      0x66, 0x81, 0x24, 0x24, 0xd5, 0x0c,        // and word [esp], 0xcd5
      0x66, 0x9d,                                // o16 popf
      0x9c,                                      // pushfd
      0x81, 0x24, 0x24, 0xd5, 0x0c, 0x00, 0x00,  // and dword [esp], 0xcd5
      0x5e,                                      // pop esi
      0x68, 0xd7, 0x0c, 0x00, 0x00,              // push 0x0cd7
      0x9d,                                      // popfd
  });
}

// bt/bts/btr/btc with a register bit offset reach [EA + offset/8] (the
// offset is signed, 16 bits wide in the 0x66 form); that sum wraps at 4 GiB
// like any 32-bit address.
TEST_P(InstructionClassTest, BitTestRegisterOffsetIntoMemory) {
  const std::vector<uint8_t> code = {
      0x0f, 0xa3, 0x03,                                // bt [ebx], eax
      0x0f, 0x92, 0x05, 0x00, 0x00, 0x18, 0x00,        // setc [0x180000]
      0x0f, 0xab, 0x03,                                // bts [ebx], eax
      0x0f, 0xb3, 0x0b,                                // btr [ebx], ecx
      0x0f, 0xbb, 0x13,                                // btc dword [ebx], edx
      0x66, 0x0f, 0xa3, 0x15, 0x00, 0x01, 0x18, 0x00,  // bt word [0x180100], dx
      0x0f, 0x92, 0x05, 0x01, 0x00, 0x18, 0x00,        // setc [0x180001]
  };
  // ebx + 0x0fffffff (eax = 0x7fffffff bits) = 0x1_00180100 -> 0x00180100.
  DiffCase wrapping = Case(code);
  wrapping.in.gpr[kEbx] = 0xf0180101;
  wrapping.in.gpr[kEax] = 0x7fffffff;
  wrapping.in.gpr[kEcx] = 0x7ffffff0;
  wrapping.in.gpr[kEdx] = 0x7fffff01;
  EXPECT_TRUE(Run(wrapping));
  // A plain positive and a negative offset.
  DiffCase plain = Case(code);
  plain.in.gpr[kEbx] = 0x100;
  plain.in.gpr[kEax] = 0x00c00000;  // +0x180000 bytes
  plain.in.gpr[kEcx] = 0x00c00011;
  plain.in.gpr[kEdx] = 0x00c0001f;
  EXPECT_TRUE(Run(plain));
  DiffCase negative = Case(code);
  negative.in.gpr[kEbx] = 0x181000;
  negative.in.gpr[kEax] = uint32_t(-0x100);  // -0x20 bytes
  negative.in.gpr[kEcx] = uint32_t(-1);
  negative.in.gpr[kEdx] = uint32_t(-0x7fff);
  EXPECT_TRUE(Run(negative));
}

// Code that crosses a page boundary (0x00102000): instructions straddle it,
// blocks end at it, a loop branches back across it and a store changes an
// instruction on the second page.
TEST_P(InstructionClassTest, CodeAcrossPageBoundary) {
  DiffCase c = Case({
      0xb9, 0x05, 0x00, 0x00, 0x00,  // mov ecx, 5
      // top:
      0x05, 0x11, 0x11, 0x11, 0x11,              // add eax, 0x11111111
      0x69, 0xd0, 0x01, 0x01, 0x01, 0x01,        // imul edx, eax, 0x01010101
      0xc7, 0x04, 0x8b, 0x78, 0x56, 0x34, 0x12,  // mov dword [ebx+ecx*4], 0x12345678
      0x52,                                      // push edx
      0x5e,                                      // pop esi
      0x49,                                      // dec ecx
      0x75, 0xe9,                                // jnz top
      0xc6, 0x05, 0x1e, 0x20, 0x10, 0x00, 0x7f,  // mov byte [patch+2], 0x7f
      // patch:
      0x83, 0xc0, 0x01,              // add eax, 1
      0xe8, 0x02, 0x00, 0x00, 0x00,  // call f
      0xeb, 0x04,                    // jmp done
      0x8d, 0x3c, 0x06,              // f: lea edi, [esi+eax]
      0xc3,                          // ret
                                     // done:
  });
  c.code_offset = 0x1ff9;  // the third instruction straddles 0x102000
  EXPECT_TRUE(Run(c));
}
// ---------------------------------------------------------------------------
// Translated only, against values computed by hand: no native oracle.

// 16-bit addressing in IDENT memory operands (0x67): the 64 KiB it reaches
// are not mapped in the test process, so the native run would fault.
TEST_P(InstructionClassTest, SixteenBitAddressingMemoryOperandsTranslatedOnly) {
  std::vector<uint8_t> arena = DiffCase::DefaultArena();
  CpuState in = DiffCase::DefaultInput();
  in.gpr[kEbx] = 0xabcd1000;
  in.gpr[kEsi] = 0x12340234;
  in.gpr[kEdi] = 0x55550224;
  in.gpr[kEbp] = 0x9999ffff;
  const std::vector<uint8_t> code = {
      0xc7, 0x05, 0x34, 0x12, 0x00, 0x00, 0xef, 0xbe, 0xad, 0xde,  // mov dword [0x1234], 0xdeadbeef
      0xc7, 0x05, 0x34, 0x02, 0x00, 0x00, 0xfe, 0xca, 0xad, 0x0b,  // mov dword [0x0234], 0x0badcafe
      0x67, 0x8b, 0x00,                                            // a16 mov eax, [bx+si]
      0x67, 0x8b, 0x49, 0x10,                                      // a16 mov ecx, [bx+di+0x10]
      0x67, 0x01, 0x42, 0x01,                                      // a16 add [bp+si+1], eax
      0x67, 0x8b, 0x52, 0x01,                                      // a16 mov edx, [bp+si+1]
  };
  const TranslatedResult r = RunTranslated32(arena, kCodeOffset, code, in, config());
  ASSERT_TRUE(r.completed) << r.fault;
  EXPECT_EQ(r.state.gpr[kEax], 0xdeadbeefu);                // [bx+si] = 0x1234
  EXPECT_EQ(r.state.gpr[kEcx], 0xdeadbeefu);                // [bx+di+0x10] = 0x1234
  EXPECT_EQ(r.state.gpr[kEdx], 0x0badcafeu + 0xdeadbeefu);  // [bp+si+1] wraps to 0x0234
}

// A rep string instruction that faults part-way stops with the iterations
// done so far: ecx, edi and EIP (at the rep instruction) say how far it got.
// Natively the arena's end is not RAM's end, so no oracle.
TEST_P(InstructionClassTest, RepStringFaultPartWayTranslatedOnly) {
  std::vector<uint8_t> arena = DiffCase::DefaultArena();
  CpuState in = DiffCase::DefaultInput();
  in.gpr[kEdi] = uint32_t(kTranslatedRamBytes) - 16;
  in.gpr[kEcx] = 10;
  const std::vector<uint8_t> code = {
      0x40,        // inc eax
      0xf3, 0xab,  // rep stosd
  };
  const TranslatedResult r = RunTranslated32(arena, kCodeOffset, code, in, config());
  ASSERT_FALSE(r.completed);
  EXPECT_EQ(r.kind, RunResult::Kind::kGuestFault) << r.fault;
  EXPECT_EQ(r.eip, kCodeAddress + 1) << r.fault;
  EXPECT_EQ(r.state.gpr[kEcx], 6u);
  EXPECT_EQ(r.state.gpr[kEdi], uint32_t(kTranslatedRamBytes));
  EXPECT_EQ(r.state.gpr[kEax], in.gpr[kEax] + 1);
}

// A translation cache barely larger than its minimum (64 KiB) fills up
// while the guest runs a long loop with calls and branches: flushes happen
// between blocks, with chained exits and inline lookup entries in place.
TEST_P(BranchClassTest, CodeCacheFlushesWhileRunning) {
  // mov ebp, 3; top: { add eax, imm32 | call f | test al, 1; jz +1; inc ecx }*;
  // dec ebp; jnz near top; jmp done; f: inc edx; ret; done:
  std::vector<uint8_t> code = {0xbd, 0x03, 0x00, 0x00, 0x00};  // mov ebp, 3
  const size_t top = code.size();
  std::vector<size_t> call_sites;
  for (uint32_t i = 0; i < 6000; ++i) {
    if (i % 8 == 7) {
      call_sites.push_back(code.size());
      code.insert(code.end(), {0xe8, 0, 0, 0, 0});  // call f
    } else if (i % 16 == 3) {
      code.insert(code.end(), {0xa8, 0x01, 0x74, 0x01, 0x41});  // test al, 1; jz +1; inc ecx
    } else {
      code.insert(code.end(), {0x05, uint8_t(i), uint8_t(i >> 8), 0x01, 0x00});  // add eax, imm32
    }
  }
  code.push_back(0x4d);  // dec ebp
  const int32_t back = int32_t(top) - int32_t(code.size() + 6);
  code.insert(code.end(), {0x0f, 0x85, uint8_t(back), uint8_t(back >> 8), uint8_t(back >> 16),
                           uint8_t(back >> 24)});  // jnz near top
  code.insert(code.end(), {0xeb, 0x02});           // jmp done
  const size_t f = code.size();
  code.insert(code.end(), {0x42, 0xc3});  // f: inc edx; ret
  for (size_t site : call_sites) {
    const int32_t rel = int32_t(f) - int32_t(site + 5);
    std::memcpy(&code[site + 1], &rel, 4);
  }
  DiffCase c = Case(code);
  Config small = config();
  small.code_cache_bytes = 68 * 1024;  // 4 KiB of stubs + the 64 KiB minimum
  DiffOutcome out;
  EXPECT_TRUE(CompareRuns(c, small, &out));
  if (GetParam().max_block_instructions == 1) {
    EXPECT_GT(out.translated.stats.cache_flushes, 0u) << "the test no longer fills the cache";
  }
}

// String instructions with 16-bit addressing (0x67: si, di, cx) are
// emulated; the 64 KiB they reach is not mapped natively.
TEST_P(InstructionClassTest, SixteenBitAddressStringsTranslatedOnly) {
  std::vector<uint8_t> arena = DiffCase::DefaultArena();
  CpuState in = DiffCase::DefaultInput();
  in.gpr[kEsi] = 0x1234fffe;  // si wraps from 0xffff to 0
  in.gpr[kEdi] = 0x56780100;
  in.gpr[kEcx] = 0xabcd0004;
  const std::vector<uint8_t> code = {
      0xc7, 0x05, 0xfe, 0xff, 0x00, 0x00, 0x11, 0x22, 0x33, 0x44,  // mov dword [0xfffe], 0x44332211
      0xc7, 0x05, 0x00, 0x00, 0x00, 0x00, 0x55, 0x66, 0x77, 0x88,  // mov dword [0x0000], 0x88776655
      0xf3, 0x67, 0xa4,                                            // a16 rep movsb
      0xa1, 0x00, 0x01, 0x00, 0x00,                                // mov eax, [0x0100]
      0xba, 0x00, 0x00, 0xff, 0x00,                                // mov edx, 0x00ff0000
      0x66, 0xba, 0x05, 0x00,                                      // mov dx, 0x0005
      0x87, 0xca,                                                  // xchg ecx, edx
      0xba, 0x00, 0x01, 0xbc, 0x9a,                                // mov edx, 0x9abc0100
      0x87, 0xfa,                                                  // xchg edi, edx
      0xb0, 0x55,                                                  // mov al, 0x55
      0xf2, 0x67, 0xae,                                            // a16 repne scasb
  };
  const TranslatedResult r = RunTranslated32(arena, kCodeOffset, code, in, config());
  ASSERT_TRUE(r.completed) << r.fault;
  // movsb: 4 bytes from si=0xfffe (wrapping to 0) to di=0x0100: 11 22 55 66.
  EXPECT_EQ(r.state.gpr[kEsi], 0x12340002u);
  EXPECT_EQ(r.state.gpr[kEdx], 0x56780104u);  // edi after the movsb
  // repne scasb for 0x55 from 0x0100 with cx=5: found at 0x0102 after 3.
  EXPECT_EQ(r.state.gpr[kEax], 0x66552255u);
  EXPECT_EQ(r.state.gpr[kEcx], 0x00ff0002u);
  EXPECT_EQ(r.state.gpr[kEdi], 0x9abc0103u);
  EXPECT_TRUE(r.state.eflags & kFlagZf);
}

// ---------------------------------------------------------------------------
// Regressions: one test per translator bug found by these tests.

// fxsave [edi] (0F AE 07) after pxor xmm0..7. In 32-bit mode FXSAVE leaves
// bytes 288..415 of its 512-byte area alone (reserved); the copy bt86 runs
// in 64-bit mode (no REX.W) stores XMM8-XMM15 there, registers the guest
// cannot name, so 128 bytes of guest memory are overwritten.
TEST_P(InstructionClassTest, Regression_FxsaveLeavesReservedXmm8To15AreaAlone) {
  DiffCase c = Case({
      0x66, 0x0f, 0xef, 0xc0,  // pxor xmm0, xmm0
      0x66, 0x0f, 0xef, 0xc9,  // pxor xmm1, xmm1
      0x66, 0x0f, 0xef, 0xd2,  // pxor xmm2, xmm2
      0x66, 0x0f, 0xef, 0xdb,  // pxor xmm3, xmm3
      0x66, 0x0f, 0xef, 0xe4,  // pxor xmm4, xmm4
      0x66, 0x0f, 0xef, 0xed,  // pxor xmm5, xmm5
      0x66, 0x0f, 0xef, 0xf6,  // pxor xmm6, xmm6
      0x66, 0x0f, 0xef, 0xff,  // pxor xmm7, xmm7
      0x0f, 0xae, 0x07,        // fxsave [edi]
  });
  DiffOutcome out;
  EXPECT_TRUE(RunOnce(c, &out));
  const uint8_t* area = &out.translated_arena[c.in.gpr[kEdi] - kArenaBase];
  EXPECT_TRUE(std::equal(area + 288, area + 416, &c.arena[c.in.gpr[kEdi] - kArenaBase + 288]))
      << "fxsave changed bytes 288..415 of its area";
}

// fld qword [ebx]; fnstenv [edi] (DD 03 D9 37). The x87 environment names
// the last x87 instruction (FIP) and its operand (FDP). Natively (this AMD
// host, compatibility mode) FNSTENV stores the guest's EIP and EA. Under bt86
// the last x87 instruction really executed is translated host code, so the
// native values would be host addresses; bt86 zeroes both instead (the
// guest must never see host addresses), as CPUs that deprecate FIP/FDP do.
// This documents that deliberate difference: tracking the guest's FIP/FDP on
// every x87 instruction is not worth its cost for the guests bt86 targets.
TEST_P(InstructionClassTest, FnstenvStoresNoHostPointers) {
  DiffCase c = Case({
      0xdd, 0x03,  // fld qword [ebx]
      0xd9, 0x37,  // fnstenv [edi]
  });
  DiffOutcome out;
  RunOnce(c, &out);
  ASSERT_TRUE(out.native.completed);
  ASSERT_TRUE(out.translated.completed) << out.translated.fault;
  const uint32_t env = c.in.gpr[kEdi];
  ASSERT_EQ(Get<uint32_t>(out.native_arena, env + 12), kCodeAddress);    // FIP
  ASSERT_EQ(Get<uint32_t>(out.native_arena, env + 20), c.in.gpr[kEbx]);  // FDP
  EXPECT_EQ(Get<uint32_t>(out.translated_arena, env + 12), 0u) << "FIP";
  EXPECT_EQ(Get<uint16_t>(out.translated_arena, env + 16), 0u) << "FCS";
  EXPECT_EQ(Get<uint32_t>(out.translated_arena, env + 20), 0u) << "FDP";
  EXPECT_EQ(Get<uint16_t>(out.translated_arena, env + 24), 0u) << "FDS";
  // The control, status and tag words are the guest's.
  EXPECT_EQ(Get<uint16_t>(out.translated_arena, env + 0), Get<uint16_t>(out.native_arena, env + 0));
  EXPECT_EQ(Get<uint16_t>(out.translated_arena, env + 4), Get<uint16_t>(out.native_arena, env + 4));
  EXPECT_EQ(Get<uint16_t>(out.translated_arena, env + 8), Get<uint16_t>(out.native_arena, env + 8));
}

}  // namespace
}  // namespace bt86::oracle
