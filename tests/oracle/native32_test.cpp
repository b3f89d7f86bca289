// Tests the native oracle against the Intel SDM, not against its own output:
// each expected value comes from the instruction's description in Vol. 2
// (flags, memory, faults) or from compatibility-mode rules in Vol. 3A.
// Bytes were assembled with `nasm -f bin` (bits 32).
#include "oracle/native32.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <cstring>
#include <vector>

namespace bt86::oracle {
namespace {

constexpr uint32_t kArithFlags = kFlagCf | kFlagPf | kFlagAf | kFlagZf | kFlagSf | kFlagOf;

class Native32Test : public ::testing::Test {
 protected:
  static constexpr uint32_t kCodeOffset = 0x1000;
  static constexpr uint32_t kCodeAddress = kArenaBase + kCodeOffset;
  static constexpr uint32_t kStackTop = kArenaBase + 0xf0000;
  static constexpr uint32_t kData = kArenaBase + 0x80000;  // 0x00180000

  NativeResult Run(const std::vector<uint8_t>& code) {
    return RunNative32(arena_, kCodeOffset, code, in_);
  }
  uint32_t Read32(uint32_t address) const {
    uint32_t value;
    std::memcpy(&value, &arena_[address - kArenaBase], 4);
    return value;
  }
  void Write32(uint32_t address, uint32_t value) {
    std::memcpy(&arena_[address - kArenaBase], &value, 4);
  }

  std::vector<uint8_t> arena_ = std::vector<uint8_t>(kArenaBytes, 0);
  CpuState in_{{0, 0, 0, 0, kStackTop, 0, 0, 0}, 0};
};

TEST_F(Native32Test, AddWrappingToZeroSetsCarryZeroAuxParity) {
  in_.gpr[kEax] = 0xffffffff;
  in_.gpr[kEbx] = 1;
  NativeResult r = Run({0x01, 0xd8});  // add eax, ebx
  ASSERT_TRUE(r.completed);
  EXPECT_EQ(r.state.gpr[kEax], 0u);
  // Unsigned carry out, no signed overflow (-1 + 1), carry out of bit 3,
  // result byte 0x00 has an even number of ones.
  EXPECT_EQ(r.state.eflags & kArithFlags, kFlagCf | kFlagZf | kFlagAf | kFlagPf);
}

TEST_F(Native32Test, AddSignedOverflowSetsOverflowAndSign) {
  in_.gpr[kEax] = 0x7fffffff;
  in_.gpr[kEbx] = 1;
  NativeResult r = Run({0x01, 0xd8});  // add eax, ebx
  ASSERT_TRUE(r.completed);
  EXPECT_EQ(r.state.gpr[kEax], 0x80000000u);
  EXPECT_EQ(r.state.eflags & kArithFlags, kFlagOf | kFlagSf | kFlagAf | kFlagPf);
}

// 0x40 is INC EAX only outside 64-bit mode; in 64-bit mode it is a REX prefix.
// INC leaves CF alone (SDM Vol. 2A, INC).
TEST_F(Native32Test, IncEaxRunsInCompatibilityModeAndKeepsCarry) {
  in_.gpr[kEax] = 41;
  in_.eflags = kFlagCf;
  NativeResult r = Run({0x40});  // inc eax
  ASSERT_TRUE(r.completed);
  EXPECT_EQ(r.state.gpr[kEax], 42u);
  EXPECT_EQ(r.state.eflags & kArithFlags, kFlagCf);  // 42 = 0b101010: odd parity
}

// With the operand-size prefix only AX changes; the upper half stays.
TEST_F(Native32Test, OperandSizePrefixIncrementsAxOnly) {
  in_.gpr[kEax] = 0x1234ffff;
  NativeResult r = Run({0x66, 0x40});  // inc ax
  ASSERT_TRUE(r.completed);
  EXPECT_EQ(r.state.gpr[kEax], 0x12340000u);
  EXPECT_EQ(r.state.eflags & kArithFlags, kFlagZf | kFlagAf | kFlagPf);
}

TEST_F(Native32Test, StoreToAbsoluteAddressChangesArena) {
  in_.gpr[kEax] = 0xdeadbeef;
  std::vector<uint8_t> before = arena_;
  NativeResult r = Run({0xa3, 0x00, 0x00, 0x18, 0x00});  // mov [0x00180000], eax
  ASSERT_TRUE(r.completed);
  EXPECT_EQ(Read32(kData), 0xdeadbeefu);
  // Nothing else changed but the four bytes and the code itself.
  for (uint32_t i : {0u, 4u}) Write32(kData + i, 0);
  std::memset(&arena_[kCodeOffset], 0, 5);
  EXPECT_EQ(arena_, before);
}

TEST_F(Native32Test, LoadFromAbsoluteAddressReadsArena) {
  Write32(kData + 0x10, 0x11223344);
  NativeResult r = Run({0xa1, 0x10, 0x00, 0x18, 0x00});  // mov eax, [0x00180010]
  ASSERT_TRUE(r.completed);
  EXPECT_EQ(r.state.gpr[kEax], 0x11223344u);
}

TEST_F(Native32Test, PushDecrementsEspByFourAndStores) {
  in_.gpr[kEax] = 0xcafef00d;
  NativeResult r = Run({0x50});  // push eax
  ASSERT_TRUE(r.completed);
  EXPECT_EQ(r.state.gpr[kEsp], kStackTop - 4);
  EXPECT_EQ(Read32(kStackTop - 4), 0xcafef00du);
}

TEST_F(Native32Test, PushThenPopRestoresEsp) {
  in_.gpr[kEax] = 0x01020304;
  NativeResult r = Run({0x50, 0x5b});  // push eax; pop ebx
  ASSERT_TRUE(r.completed);
  EXPECT_EQ(r.state.gpr[kEsp], kStackTop);
  EXPECT_EQ(r.state.gpr[kEbx], 0x01020304u);
}

// #DE is a fault: EIP names the DIV, and no register has changed (SDM Vol. 3A, 6.15).
TEST_F(Native32Test, DivideByZeroRaisesSigfpeAtTheDiv) {
  in_ = {{100, 0, 7, 3, kStackTop, 5, 6, 8}, kFlagCf | kFlagZf};
  NativeResult r = Run({0x90, 0xf7, 0xf1});  // nop; div ecx
  EXPECT_FALSE(r.completed);
  EXPECT_EQ(r.signo, SIGFPE);
  EXPECT_EQ(r.fault_eip, kCodeAddress + 1);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(r.state.gpr[i], in_.gpr[i]) << "gpr " << i;
  // Flags as before the DIV; user mode always runs with IF set. (The CPU sets
  // RF in a fault's EFLAGS image; the oracle reports the architectural flags.)
  EXPECT_EQ(r.state.eflags, kFlagCf | kFlagZf | kFlagReserved1 | kFlagIf);
}

// With DF set, MOVSB steps ESI and EDI down by one (SDM Vol. 2B, MOVS).
TEST_F(Native32Test, StdMovsbCopiesBackwards) {
  arena_[kData - kArenaBase + 0x100] = 'A';
  arena_[kData - kArenaBase + 0x101] = 'B';
  in_.gpr[kEsi] = kData + 0x101;
  in_.gpr[kEdi] = kData + 0x201;
  NativeResult r = Run({0xfd, 0xa4, 0xa4});  // std; movsb; movsb
  ASSERT_TRUE(r.completed);
  EXPECT_EQ(r.state.gpr[kEsi], kData + 0xff);
  EXPECT_EQ(r.state.gpr[kEdi], kData + 0x1ff);
  EXPECT_EQ(arena_[kData - kArenaBase + 0x200], 'A');
  EXPECT_EQ(arena_[kData - kArenaBase + 0x201], 'B');
  EXPECT_NE(r.state.eflags & kFlagDf, 0u);
}

TEST_F(Native32Test, Ud2RaisesSigillAtTheUd2) {
  NativeResult r = Run({0x90, 0x90, 0x0f, 0x0b});  // nop; nop; ud2
  EXPECT_FALSE(r.completed);
  EXPECT_EQ(r.signo, SIGILL);
  EXPECT_EQ(r.fault_eip, kCodeAddress + 2);
}

// #BP is a trap: the saved EIP is the instruction after INT3.
TEST_F(Native32Test, Int3RaisesSigtrapAfterTheInstruction) {
  NativeResult r = Run({0x90, 0xcc});  // nop; int3
  EXPECT_FALSE(r.completed);
  EXPECT_EQ(r.signo, SIGTRAP);
  EXPECT_EQ(r.fault_eip, kCodeAddress + 2);
}

TEST_F(Native32Test, UnmappedLoadRaisesSigsegvWithRegistersUnchanged) {
  in_.gpr[kEax] = 0x5555aaaa;
  NativeResult r = Run({0xa1, 0x00, 0x00, 0x00, 0x00});  // mov eax, [0]
  EXPECT_FALSE(r.completed);
  EXPECT_EQ(r.signo, SIGSEGV);
  EXPECT_EQ(r.fault_eip, kCodeAddress);
  EXPECT_EQ(r.state.gpr[kEax], 0x5555aaaau);
}

// Linux sets CR0.AM, so EFLAGS.AC at CPL 3 makes a misaligned access #AC.
TEST_F(Native32Test, AlignmentCheckRaisesSigbus) {
  NativeResult r = Run({
      0x9c,                                      // pushfd
      0x81, 0x0c, 0x24, 0x00, 0x00, 0x04, 0x00,  // or dword [esp], 0x40000
      0x9d,                                      // popfd
      0x8b, 0x44, 0x24, 0x01,                    // mov eax, [esp+1]
  });
  EXPECT_FALSE(r.completed);
  EXPECT_EQ(r.signo, SIGBUS);
  EXPECT_EQ(r.fault_eip, kCodeAddress + 9);
  EXPECT_NE(r.state.eflags & kFlagAc, 0u);
}

// Only CF PF AF ZF SF OF DF are taken from the input; TF and AC never.
TEST_F(Native32Test, InputFlagsAreMasked) {
  in_.eflags = 0xffffffff;
  NativeResult r = Run({0x9c, 0x58});  // pushfd; pop eax
  ASSERT_TRUE(r.completed);
  const uint32_t seen = r.state.gpr[kEax];
  EXPECT_EQ(seen & kInputFlagsMask, kInputFlagsMask);
  EXPECT_NE(seen & kFlagReserved1, 0u);
  EXPECT_EQ(seen & (kFlagTf | kFlagAc), 0u);
  EXPECT_EQ(r.state.eflags, seen);  // PUSHFD and the oracle agree.
}

TEST_F(Native32Test, EmptySnippetKeepsEveryRegister) {
  in_ = {{0x11111111, 0x22222222, 0x33333333, 0x44444444, kStackTop, 0x66666666, 0x77777777,
          0x88888888},
         kFlagCf | kFlagZf | kFlagDf};
  std::vector<uint8_t> before = arena_;
  NativeResult r = Run({});
  ASSERT_TRUE(r.completed);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(r.state.gpr[i], in_.gpr[i]) << "gpr " << i;
  EXPECT_EQ(r.state.eflags & (kArithFlags | kFlagDf | kFlagReserved1),
            kFlagCf | kFlagZf | kFlagDf | kFlagReserved1);
  EXPECT_EQ(arena_, before);  // The tail leaves no trace.
}

TEST_F(Native32Test, DataSegmentIsFlatUserData) {
  NativeResult r = Run({0x8c, 0xd8});  // mov eax, ds
  ASSERT_TRUE(r.completed);
  EXPECT_EQ(r.state.gpr[kEax] & 0xffff, 0x2bu);
}

// Loading FS replaces the host's thread pointer; the oracle must put it back.
TEST_F(Native32Test, SnippetLoadingFsLeavesHostTlsIntact) {
  static thread_local int tls_value = 1234;
  in_.gpr[kEax] = 0x2b;
  NativeResult r = Run({0x8e, 0xe0});  // mov fs, ax
  ASSERT_TRUE(r.completed);
  EXPECT_EQ(tls_value, 1234);
}

TEST_F(Native32Test, FaultThenCleanRunCompletes) {
  EXPECT_FALSE(Run({0x0f, 0x0b}).completed);  // ud2
  in_.gpr[kEax] = 1;
  NativeResult r = Run({0x40});  // inc eax
  ASSERT_TRUE(r.completed);
  EXPECT_EQ(r.signo, 0);
  EXPECT_EQ(r.state.gpr[kEax], 2u);
}

void MarkerHandler(int) {}

TEST_F(Native32Test, RestoresPreviousSignalHandlersAndAltStack) {
  struct sigaction mine {
  }, saved{}, after{};
  mine.sa_handler = MarkerHandler;
  sigemptyset(&mine.sa_mask);
  ASSERT_EQ(sigaction(SIGSEGV, &mine, &saved), 0);
  stack_t alt_before{}, alt_after{};
  ASSERT_EQ(sigaltstack(nullptr, &alt_before), 0);

  NativeResult r = Run({0xa1, 0x00, 0x00, 0x00, 0x00});  // mov eax, [0]

  ASSERT_EQ(sigaltstack(nullptr, &alt_after), 0);
  sigaction(SIGSEGV, &saved, &after);
  EXPECT_EQ(r.signo, SIGSEGV);
  EXPECT_EQ(after.sa_handler, &MarkerHandler);
  EXPECT_EQ(alt_after.ss_sp, alt_before.ss_sp);
  EXPECT_EQ(alt_after.ss_flags, alt_before.ss_flags);
}

}  // namespace
}  // namespace bt86::oracle
