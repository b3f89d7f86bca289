// Segment limit and type checks in translated code (SDM Vol. 3A 5.3: an
// access whose last byte lies beyond the limit, through a null selector,
// or a write to a read-only segment raises #GP(0); through SS, #SS(0)).
// QEMU does not check data segments, so the expected values come from the
// SDM; tests/guests/sdm_only.c holds a fuller guest-level version.
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
constexpr uint32_t kTables = 0x103000;  // gdtr at +0, idtr at +8

// A #GP/#SS handler that records the vector's error code in edi, the saved
// EIP in esi, and halts (interrupt gate: IF=0, so HLT stops the run).
//   mov esi, [esp+4] ; mov edi, [esp] ; hlt
const std::vector<uint8_t> kHandlerCode = {0x8b, 0x74, 0x24, 0x04, 0x8b, 0x3c, 0x24, 0xf4};

struct Outcome {
  RunResult result;
  GuestRegisters regs;
};

// Runs `code` (after lgdt/lidt) with GDT entries: 0x08 flat code, 0x10 flat
// data, 0x18 data limit 0xff, 0x20 read-only flat data.
Outcome RunBody(const std::vector<uint8_t>& body) {
  Config config;
  config.memory_bytes = 4 << 20;
  config.timeout_seconds = 10;
  config.echo_serial = false;
  std::unique_ptr<Machine> m;
  EXPECT_TRUE(Machine::Create(config, &m).ok());
  const uint64_t gdt[5] = {0, 0x00CF9A000000FFFFull, 0x00CF92000000FFFFull, 0x00409200000000FFull,
                           0x00CF90000000FFFFull};
  EXPECT_TRUE(m->WriteMemory(kGdt, gdt, sizeof(gdt)).ok());
  uint8_t gates[14 * 8] = {};
  for (int v : {12, 13}) {
    uint8_t* g = gates + v * 8;
    g[0] = uint8_t(kHandler);
    g[1] = uint8_t(kHandler >> 8);
    g[2] = 0x08;
    g[5] = 0x8e;
    g[6] = uint8_t(kHandler >> 16);
    g[7] = uint8_t(kHandler >> 24);
  }
  EXPECT_TRUE(m->WriteMemory(kIdt, gates, sizeof(gates)).ok());
  uint8_t tables[16] = {};
  const uint16_t gdt_limit = sizeof(gdt) - 1, idt_limit = sizeof(gates) - 1;
  std::memcpy(tables, &gdt_limit, 2);
  std::memcpy(tables + 2, &kGdt, 4);
  std::memcpy(tables + 8, &idt_limit, 2);
  std::memcpy(tables + 10, &kIdt, 4);
  EXPECT_TRUE(m->WriteMemory(kTables, tables, sizeof(tables)).ok());
  EXPECT_TRUE(m->WriteMemory(kHandler, kHandlerCode.data(), kHandlerCode.size()).ok());
  // lgdt [kTables] ; lidt [kTables+8]
  std::vector<uint8_t> code = {0x0f, 0x01, 0x15, 0x00, 0x30, 0x10, 0x00,
                               0x0f, 0x01, 0x1d, 0x08, 0x30, 0x10, 0x00};
  code.insert(code.end(), body.begin(), body.end());
  EXPECT_TRUE(m->WriteMemory(kCode, code.data(), code.size()).ok());
  GuestRegisters regs;
  regs.eip = kCode;
  regs.gpr[4] = 0x180000;
  m->set_registers(regs);
  Outcome out;
  out.result = m->Run();
  out.regs = m->registers();
  return out;
}

constexpr uint32_t kBody = kCode + 14;

TEST(SegmentChecksTest, FsLimitAllowsTheLastDwordAndFaultsPastIt) {
  // mov ax, 0x18 ; mov fs, ax ; mov eax, fs:[0xfc] ; mov eax, fs:[0xfd] ; hlt
  const std::vector<uint8_t> body = {0x66, 0xb8, 0x18, 0x00, 0x8e, 0xe0, 0x64, 0xa1, 0xfc, 0x00,
                                     0x00, 0x00, 0x64, 0xa1, 0xfd, 0x00, 0x00, 0x00, 0xf4};
  const Outcome o = RunBody(body);
  ASSERT_EQ(o.result.kind, RunResult::Kind::kHalted) << o.result.report;
  EXPECT_EQ(o.regs.gpr[6], kBody + 12) << "saved EIP: the dword read at 0xfd";
  EXPECT_EQ(o.regs.gpr[7], 0u) << "#GP(0)";
}

TEST(SegmentChecksTest, WriteToReadOnlyDataSegmentFaults) {
  // mov ax, 0x20 ; mov ds, ax ; mov [0x1000], eax ; hlt
  const std::vector<uint8_t> body = {0x66, 0xb8, 0x20, 0x00, 0x8e, 0xd8,
                                     0xa3, 0x00, 0x10, 0x00, 0x00, 0xf4};
  const Outcome o = RunBody(body);
  ASSERT_EQ(o.result.kind, RunResult::Kind::kHalted) << o.result.report;
  EXPECT_EQ(o.regs.gpr[6], kBody + 6) << "saved EIP: the store";
  EXPECT_EQ(o.regs.gpr[7], 0u) << "#GP(0)";
}

TEST(SegmentChecksTest, NullDataSegmentFaultsOnUse) {
  // xor eax, eax ; mov es, ax ; mov ebx, es:[0x1000] ; hlt
  const std::vector<uint8_t> body = {0x31, 0xc0, 0x8e, 0xc0, 0x26, 0x8b,
                                     0x1d, 0x00, 0x10, 0x00, 0x00, 0xf4};
  const Outcome o = RunBody(body);
  ASSERT_EQ(o.result.kind, RunResult::Kind::kHalted) << o.result.report;
  EXPECT_EQ(o.regs.gpr[6], kBody + 4) << "saved EIP: the load through ES";
}

}  // namespace
}  // namespace bt86
