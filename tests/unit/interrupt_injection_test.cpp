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

namespace bt86 {
namespace {

constexpr uint32_t kCode = 0x100000;
constexpr uint32_t kHandler = 0x100100;
constexpr uint32_t kIdt = 0x101000;
constexpr uint32_t kIdtr = 0x102000;
constexpr uint32_t kGdtr = 0x102010;
constexpr uint32_t kGdt = 0x103000;
constexpr uint8_t kVector = 0x20;

// Builds an IDT whose vector 0x20 is a 32-bit interrupt gate to kHandler
// (selector 0x08, the Multiboot flat code segment), and the handler:
//   mov eax, [esp]    ; saved EIP
//   mov ebx, [esp+4]  ; saved CS
//   mov edx, [esp+8]  ; saved EFLAGS
//   pushfd ; pop esi  ; EFLAGS inside the handler
//   hlt               ; IF=0 here: a clean stop
std::unique_ptr<Machine> MachineWithHandler(const std::vector<uint8_t>& code, double timeout) {
  Config config;
  config.memory_bytes = 4 << 20;
  config.timeout_seconds = timeout;
  config.echo_serial = false;
  std::unique_ptr<Machine> m;
  EXPECT_TRUE(Machine::Create(config, &m).ok());
  const uint8_t handler[] = {0x8b, 0x04, 0x24, 0x8b, 0x5c, 0x24, 0x04,
                             0x8b, 0x54, 0x24, 0x08, 0x9c, 0x5e, 0xf4};
  uint8_t gate[8] = {uint8_t(kHandler),       uint8_t(kHandler >> 8), 0x08, 0x00, 0x00, 0x8e,
                     uint8_t(kHandler >> 16), uint8_t(kHandler >> 24)};
  const uint16_t limit = 0x100 * 8 - 1;
  uint8_t idtr[6];
  std::memcpy(idtr, &limit, 2);
  std::memcpy(idtr + 2, &kIdt, 4);
  EXPECT_TRUE(m->WriteMemory(kHandler, handler, sizeof(handler)).ok());
  EXPECT_TRUE(m->WriteMemory(kIdt + kVector * 8, gate, sizeof(gate)).ok());
  EXPECT_TRUE(m->WriteMemory(kIdtr, idtr, sizeof(idtr)).ok());
  // GDT: null, flat ring-0 code at 0x08, flat ring-0 data at 0x10 (the
  // selectors the Multiboot state names; the loader leaves GDTR undefined).
  const uint64_t gdt[3] = {0, 0x00CF9A000000FFFFull, 0x00CF92000000FFFFull};
  const uint16_t gdt_limit = sizeof(gdt) - 1;
  uint8_t gdtr[6];
  std::memcpy(gdtr, &gdt_limit, 2);
  std::memcpy(gdtr + 2, &kGdt, 4);
  EXPECT_TRUE(m->WriteMemory(kGdt, gdt, sizeof(gdt)).ok());
  EXPECT_TRUE(m->WriteMemory(kGdtr, gdtr, sizeof(gdtr)).ok());
  EXPECT_TRUE(m->WriteMemory(kCode, code.data(), code.size()).ok());
  GuestRegisters regs;
  regs.eip = kCode;
  regs.gpr[4] = 0x180000;  // esp
  m->set_registers(regs);
  return m;
}

// lgdt [kGdtr]; lidt [kIdtr]
const std::vector<uint8_t> kLidt = {0x0f, 0x01, 0x15, 0x10, 0x20, 0x10, 0x00,
                                    0x0f, 0x01, 0x1d, 0x00, 0x20, 0x10, 0x00};

std::vector<uint8_t> Concat(std::vector<uint8_t> a, const std::vector<uint8_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

void RaiseLater(Machine* m, int milliseconds) {
  std::this_thread::sleep_for(std::chrono::milliseconds(milliseconds));
  m->RaiseInterrupt(kVector);
}

TEST(InterruptInjectionTest, WakesHltAndSavesTheNextEip) {
  // lgdt; lidt; sti; hlt; jmp $-3 (back to hlt)
  const auto code = Concat(kLidt, {0xfb, 0xf4, 0xeb, 0xfd});
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
  // lgdt; lidt; sti; l: inc ecx; jmp l  (one block chained to itself)
  const auto code = Concat(kLidt, {0xfb, 0x41, 0xeb, 0xfd});
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
  // lgdt; lidt; sti; inc ecx; inc ecx; cli; hlt. The interrupt is pending
  // before STI: it is taken after the first inc (SDM STI: "interrupts are
  // recognized after the next instruction").
  const auto code = Concat(kLidt, {0xfb, 0x41, 0x41, 0xfa, 0xf4});
  auto m = MachineWithHandler(code, 10);
  m->RaiseInterrupt(kVector);
  const RunResult r = m->Run();
  ASSERT_EQ(r.kind, RunResult::Kind::kHalted) << r.report;
  const GuestRegisters regs = m->registers();
  EXPECT_EQ(regs.gpr[1], 1u) << "one inc ran before the interrupt";
  EXPECT_EQ(regs.gpr[0], kCode + 16) << "saved EIP: the second inc";
}

TEST(InterruptInjectionTest, HeldWhileInterruptsAreDisabled) {
  // lgdt; lidt; cli; jmp $  (IF=0: the interrupt stays pending until the timeout)
  const auto code = Concat(kLidt, {0xfa, 0xeb, 0xfe});
  auto m = MachineWithHandler(code, 0.3);
  std::thread injector(RaiseLater, m.get(), 20);
  const RunResult r = m->Run();
  injector.join();
  EXPECT_EQ(r.kind, RunResult::Kind::kTimeout) << r.report;
  EXPECT_EQ(m->stats().exceptions_delivered, 0u);
}

}  // namespace
}  // namespace bt86
