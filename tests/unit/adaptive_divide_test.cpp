// Adaptive translation of a divide that keeps faulting: the first #DE comes
// from a host SIGFPE; the block is then retranslated with an inline
// zero-divisor test, so later ones leave through a callout. Guest-visible
// behaviour must not change: every #DE is delivered with the DIV's EIP
// (SDM: #DE is a fault).
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "bt86/machine.h"
#include "tests/unit/bare_guest.h"

namespace bt86 {
namespace {

using testing::BareGuest;

TEST(AdaptiveDivideTest, RepeatedDivideErrorsTakeOneSignal) {
  BareGuest guest;
  // #DE handler: check the saved EIP is the div, skip it (2 bytes), count.
  //   cmp dword [esp], 0x100015 ; jne bad ; add dword [esp], 2 ; inc edi ; iret
  //   bad: cli ; hlt
  guest.handlers[0] = {0x81, 0x3c, 0x24, 0x15, 0x00, 0x10, 0x00, 0x75, 0x07,
                       0x83, 0x04, 0x24, 0x02, 0x47, 0xcf, 0xfa, 0xf4};
  // mov esi, 100 ; l: xor ecx, ecx ; div ecx ; dec esi ; jnz l ; cli ; hlt
  guest.body = {0xbe, 0x64, 0x00, 0x00, 0x00, 0x31, 0xc9, 0xf7, 0xf1, 0x4e, 0x75, 0xf9, 0xfa, 0xf4};
  ASSERT_EQ(BareGuest::kBody + 7, 0x100015u) << "the div's address, as the handler expects";
  auto m = guest.Build();
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
