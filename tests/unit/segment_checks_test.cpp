// Segment limit and type checks in translated code (SDM Vol. 3A 5.3: an
// access whose last byte lies beyond the limit, through a null selector,
// or a write to a read-only segment raises #GP(0); through SS, #SS(0)).
// QEMU does not check data segments, so the expected values come from the
// SDM; tests/guests/sdm_only.c holds a fuller guest-level version.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "bt86/machine.h"
#include "tests/unit/bare_guest.h"

namespace bt86 {
namespace {

using testing::BareGuest;
constexpr uint32_t kBody = BareGuest::kBody;

struct Outcome {
  RunResult result;
  GuestRegisters regs;
};

// Runs `body` with two more GDT entries: 0x18 data with limit 0xff, 0x20
// read-only flat data; #SS and #GP go to a handler that records the saved
// EIP in esi and the error code in edi, then halts (IF=0: a clean stop).
Outcome RunBody(const std::vector<uint8_t>& body) {
  BareGuest guest;
  guest.gdt.push_back(0x00409200000000FFull);
  guest.gdt.push_back(0x00CF90000000FFFFull);
  // mov esi, [esp+4] ; mov edi, [esp] ; hlt
  const std::vector<uint8_t> handler = {0x8b, 0x74, 0x24, 0x04, 0x8b, 0x3c, 0x24, 0xf4};
  guest.handlers[12] = handler;
  guest.handlers[13] = handler;
  guest.body = body;
  auto m = guest.Build();
  Outcome out;
  out.result = m->Run();
  out.regs = m->registers();
  return out;
}

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

TEST(SegmentChecksTest, WriteThroughCsFaults) {
  // mov cs:[0x1000], eax ; hlt  (code segments are never writable)
  const std::vector<uint8_t> body = {0x2e, 0xa3, 0x00, 0x10, 0x00, 0x00, 0xf4};
  const Outcome o = RunBody(body);
  ASSERT_EQ(o.result.kind, RunResult::Kind::kHalted) << o.result.report;
  EXPECT_EQ(o.regs.gpr[6], kBody) << "saved EIP: the store";
  EXPECT_EQ(o.regs.gpr[7], 0u) << "#GP(0)";
}

TEST(SegmentChecksTest, EmulatedStringStoreThroughNullEsFaults) {
  // xor eax, eax ; mov es, ax ; mov edi, 0x1000 ; stosb ; hlt
  // (a null ES makes the block non-flat, so stosb runs in the emulator)
  const std::vector<uint8_t> body = {0x31, 0xc0, 0x8e, 0xc0, 0xbf, 0x00,
                                     0x10, 0x00, 0x00, 0xaa, 0xf4};
  const Outcome o = RunBody(body);
  ASSERT_EQ(o.result.kind, RunResult::Kind::kHalted) << o.result.report;
  EXPECT_EQ(o.regs.gpr[6], kBody + 9) << "saved EIP: the stosb";
  EXPECT_EQ(o.regs.gpr[7], 0u) << "#GP(0)";
}

}  // namespace
}  // namespace bt86
