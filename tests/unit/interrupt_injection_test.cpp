// External interrupts injected through Machine::RaiseInterrupt (the door the
// interrupt controllers will use): delivered through the guest IDT at a
// block boundary when IF=1, waking HLT, interrupting chained loops, and
// held while IF=0. Expected values follow the SDM (6.12.1: an interrupt
// gate pushes EFLAGS, CS, EIP and clears IF; the saved EIP after HLT is
// the next instruction).
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "bt86/machine.h"
#include "tests/unit/bare_guest.h"

namespace bt86 {
namespace {

using testing::BareGuest;
constexpr uint32_t kCode = BareGuest::kCode;
constexpr uint8_t kVector = 0x20;

// A guest whose vector 0x20 is an interrupt gate to a handler that records
//   mov eax, [esp]    ; saved EIP
//   mov ebx, [esp+4]  ; saved CS
//   mov edx, [esp+8]  ; saved EFLAGS
//   pushfd ; pop esi  ; EFLAGS inside the handler
//   hlt               ; IF=0 here: a clean stop
// and runs `body` after its lgdt/lidt prologue.
std::unique_ptr<Machine> MachineWithHandler(const std::vector<uint8_t>& body, double timeout) {
  BareGuest guest;
  guest.handlers[kVector] = {0x8b, 0x04, 0x24, 0x8b, 0x5c, 0x24, 0x04,
                             0x8b, 0x54, 0x24, 0x08, 0x9c, 0x5e, 0xf4};
  guest.body = body;
  guest.timeout_seconds = timeout;
  return guest.Build();
}

void RaiseLater(Machine* m, int milliseconds) {
  std::this_thread::sleep_for(std::chrono::milliseconds(milliseconds));
  m->RaiseInterrupt(kVector);
}

TEST(InterruptInjectionTest, WakesHltAndSavesTheNextEip) {
  // (lgdt; lidt;) sti; hlt; jmp $-3 (back to hlt)
  const std::vector<uint8_t> code = {0xfb, 0xf4, 0xeb, 0xfd};
  auto m = MachineWithHandler(code, 10);
  std::thread injector(RaiseLater, m.get(), 50);
  const RunResult r = m->Run();
  injector.join();
  ASSERT_EQ(r.kind, RunResult::Kind::kHalted) << r.report;
  const GuestRegisters regs = m->registers();
  EXPECT_EQ(regs.gpr[0], kCode + 16) << "saved EIP: the instruction after HLT";
  EXPECT_EQ(regs.gpr[3], 0x08u) << "saved CS";
  EXPECT_NE(regs.gpr[2] & 0x200, 0u) << "saved EFLAGS.IF";
  EXPECT_EQ(regs.gpr[6] & 0x200, 0u) << "an interrupt gate clears IF";
  EXPECT_EQ(regs.gpr[4], 0x180000u - 12) << "frame: EIP, CS, EFLAGS";
  EXPECT_EQ(m->stats().exceptions_delivered, 1u);
}

TEST(InterruptInjectionTest, InterruptsAChainedLoop) {
  // (lgdt; lidt;) sti; l: inc ecx; jmp l  (one block chained to itself)
  const std::vector<uint8_t> code = {0xfb, 0x41, 0xeb, 0xfd};
  auto m = MachineWithHandler(code, 10);
  std::thread injector(RaiseLater, m.get(), 50);
  const RunResult r = m->Run();
  injector.join();
  ASSERT_EQ(r.kind, RunResult::Kind::kHalted) << r.report;
  const GuestRegisters regs = m->registers();
  EXPECT_GT(regs.gpr[1], 0u) << "the loop ran";
  EXPECT_TRUE(regs.gpr[0] == kCode + 15 || regs.gpr[0] == kCode + 16)
      << "saved EIP at an instruction of the loop: " << std::hex << regs.gpr[0];
  EXPECT_GE(m->stats().poll_stops, 1u) << "taken through the block-entry poll";
}

TEST(InterruptInjectionTest, StiShadowDelaysByOneInstruction) {
  // (lgdt; lidt;) sti; inc ecx; inc ecx; cli; hlt. The interrupt is pending
  // before STI: it is taken after the first inc (SDM STI: "interrupts are
  // recognized after the next instruction").
  const std::vector<uint8_t> code = {0xfb, 0x41, 0x41, 0xfa, 0xf4};
  auto m = MachineWithHandler(code, 10);
  m->RaiseInterrupt(kVector);
  const RunResult r = m->Run();
  ASSERT_EQ(r.kind, RunResult::Kind::kHalted) << r.report;
  const GuestRegisters regs = m->registers();
  EXPECT_EQ(regs.gpr[1], 1u) << "one inc ran before the interrupt";
  EXPECT_EQ(regs.gpr[0], kCode + 16) << "saved EIP: the second inc";
}

TEST(InterruptInjectionTest, HeldWhileInterruptsAreDisabled) {
  // (lgdt; lidt;) cli; jmp $  (IF=0: the interrupt stays pending until the timeout)
  const std::vector<uint8_t> code = {0xfa, 0xeb, 0xfe};
  auto m = MachineWithHandler(code, 0.3);
  std::thread injector(RaiseLater, m.get(), 20);
  const RunResult r = m->Run();
  injector.join();
  EXPECT_EQ(r.kind, RunResult::Kind::kTimeout) << r.report;
  EXPECT_EQ(m->stats().exceptions_delivered, 0u);
}

}  // namespace
}  // namespace bt86
