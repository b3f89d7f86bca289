// Adaptive translation of a divide that keeps faulting: the first #DE comes
// from a host SIGFPE; the block is then retranslated with an inline
// zero-divisor test, so later ones leave through a callout. Guest-visible
// behaviour must not change: every #DE is delivered with the DIV's EIP
// (SDM: #DE is a fault).
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "bt86/machine.h"

namespace bt86 {
namespace {

constexpr uint32_t kCode = 0x100000;
constexpr uint32_t kHandler = 0x100400;
constexpr uint32_t kGdt = 0x101000;
constexpr uint32_t kIdt = 0x102000;
constexpr uint32_t kTables = 0x103000;

TEST(AdaptiveDivideTest, RepeatedDivideErrorsTakeOneSignal) {
  Config config;
  config.memory_bytes = 4 << 20;
  config.timeout_seconds = 10;
  config.echo_serial = false;
  std::unique_ptr<Machine> m;
  ASSERT_TRUE(Machine::Create(config, &m).ok());
  const uint64_t gdt[3] = {0, 0x00CF9A000000FFFFull, 0x00CF92000000FFFFull};
  uint8_t gate[8] = {uint8_t(kHandler),       uint8_t(kHandler >> 8), 0x08, 0, 0, 0x8e,
                     uint8_t(kHandler >> 16), uint8_t(kHandler >> 24)};
  uint8_t tables[16] = {};
  const uint16_t gdt_limit = sizeof(gdt) - 1, idt_limit = 7;
  std::memcpy(tables, &gdt_limit, 2);
  std::memcpy(tables + 2, &kGdt, 4);
  std::memcpy(tables + 8, &idt_limit, 2);
  std::memcpy(tables + 10, &kIdt, 4);
  // #DE handler: check the saved EIP is the div, skip it (2 bytes), count.
  //   cmp dword [esp], 0x100015 ; jne bad ; add dword [esp], 2 ; inc edi ; iret
  //   bad: cli ; hlt
  const std::vector<uint8_t> handler = {0x81, 0x3c, 0x24, 0x15, 0x00, 0x10, 0x00, 0x75, 0x07,
                                        0x83, 0x04, 0x24, 0x02, 0x47, 0xcf, 0xfa, 0xf4};
  // lgdt ; lidt ; mov esi, 100 ; l: xor ecx, ecx ; div ecx ; dec esi ; jnz l ; cli ; hlt
  const std::vector<uint8_t> code = {0x0f, 0x01, 0x15, 0x00, 0x30, 0x10, 0x00, 0x0f, 0x01, 0x1d,
                                     0x08, 0x30, 0x10, 0x00, 0xbe, 0x64, 0x00, 0x00, 0x00, 0x31,
                                     0xc9, 0xf7, 0xf1, 0x4e, 0x75, 0xf9, 0xfa, 0xf4};
  ASSERT_EQ(code[0x15], 0xf7) << "the div sits at 0x100015";
  ASSERT_TRUE(m->WriteMemory(kGdt, gdt, sizeof(gdt)).ok());
  ASSERT_TRUE(m->WriteMemory(kIdt, gate, sizeof(gate)).ok());
  ASSERT_TRUE(m->WriteMemory(kTables, tables, sizeof(tables)).ok());
  ASSERT_TRUE(m->WriteMemory(kHandler, handler.data(), handler.size()).ok());
  ASSERT_TRUE(m->WriteMemory(kCode, code.data(), code.size()).ok());
  GuestRegisters regs;
  regs.eip = kCode;
  regs.gpr[4] = 0x180000;
  m->set_registers(regs);
  const RunResult r = m->Run();
  ASSERT_EQ(r.kind, RunResult::Kind::kHalted) << r.report;
  const GuestRegisters out = m->registers();
  EXPECT_EQ(out.gpr[7], 100u) << "every #DE delivered, each with the DIV's EIP";
  EXPECT_EQ(out.gpr[6], 0u) << "the loop ran to its end";
  EXPECT_EQ(m->stats().exceptions_delivered, 100u);
  EXPECT_EQ(m->stats().exits_signal, 1u) << "only the first #DE was a host SIGFPE";
  EXPECT_EQ(m->stats().adaptive_retranslations, 1u);
}

}  // namespace
}  // namespace bt86
