// PUSHF/POPF at ring 0: the inline fast path (BMI2 pext/pdep over the
// context's scratch stack) and the emulator must produce the same EFLAGS
// images (SDM PUSHF/POPF: bit 1 set, VM and RF read as 0; at CPL 0 POPF
// writes IF, IOPL, TF, NT, AC, ID and the arithmetic flags and DF). Both
// positions of Config::fast_paths run the same programs.
#include <gtest/gtest.h>

#include <vector>

#include "bt86/machine.h"

namespace bt86 {
namespace {

struct FlagsCase {
  const char* name;
  std::vector<uint8_t> code;  ///< Ends with hlt (IF=0 there: a clean stop).
  uint32_t want_eax, want_ebx;
};

GuestRegisters RunCode(const std::vector<uint8_t>& code, bool fast_paths, RunResult* result) {
  Config config;
  config.memory_bytes = 4 << 20;
  config.timeout_seconds = 10;
  config.echo_serial = false;
  config.fast_paths = fast_paths;
  std::unique_ptr<Machine> m;
  EXPECT_TRUE(Machine::Create(config, &m).ok());
  EXPECT_TRUE(m->WriteMemory(0x100000, code.data(), code.size()).ok());
  GuestRegisters regs;
  regs.eip = 0x100000;
  regs.gpr[4] = 0x180000;
  m->set_registers(regs);
  *result = m->Run();
  return m->registers();
}

class FlagsFastPathTest : public ::testing::TestWithParam<bool> {};

TEST_P(FlagsFastPathTest, PushfImages) {
  const std::vector<FlagsCase> cases = {
      // xor eax,eax (ZF PF) ; stc ; std ; pushfd ; pop eax ; cli ; hlt
      {"cf_df_zf_pf", {0x31, 0xc0, 0xf9, 0xfd, 0x9c, 0x58, 0xfa, 0xf4}, 0x00000447, 0},
      // sti ; pushfd ; pop eax ; cli ; hlt  (IF is the virtual one)
      {"if", {0xfb, 0x9c, 0x58, 0xfa, 0xf4}, 0x00000202, 0},
      // push 0x00247ed7 ; popfd ; pushfd ; pop eax ; cli ; pushfd ; pop ebx ; hlt
      // (every POPF-writable bit but TF; IF then cleared by cli)
      {"roundtrip",
       {0x68, 0xd7, 0x7e, 0x24, 0x00, 0x9d, 0x9c, 0x58, 0xfa, 0x9c, 0x5b, 0xf4},
       0x00247ed7,
       0x00247cd7},
      // push 0x00010000 (RF) | 0x00020000 (VM) ; popfd ; pushfd ; pop eax ; hlt
      {"rf_vm_not_written", {0x68, 0x00, 0x00, 0x03, 0x00, 0x9d, 0x9c, 0x58, 0xf4}, 0x00000002, 0},
  };
  for (const auto& c : cases) {
    RunResult r;
    const GuestRegisters regs = RunCode(c.code, GetParam(), &r);
    ASSERT_EQ(r.kind, RunResult::Kind::kHalted) << c.name << ": " << r.report;
    EXPECT_EQ(regs.gpr[0], c.want_eax) << c.name;
    if (c.want_ebx) {
      EXPECT_EQ(regs.gpr[3], c.want_ebx) << c.name;
    }
  }
}

TEST_P(FlagsFastPathTest, PopfSettingTfStartsSingleStep) {
  // No IDT: the #DB raised after the instruction following POPF cannot be
  // delivered, so the guest triple-faults there, at the second nop.
  // pushfd ; or dword [esp], 0x100 ; popfd ; nop ; nop ; hlt
  const std::vector<uint8_t> code = {0x9c, 0x81, 0x0c, 0x24, 0x00, 0x01,
                                     0x00, 0x00, 0x9d, 0x90, 0x90, 0xf4};
  RunResult r;
  const GuestRegisters regs = RunCode(code, GetParam(), &r);
  EXPECT_EQ(r.kind, RunResult::Kind::kGuestFault);
  EXPECT_NE(r.report.find("#DB (vector 1)"), std::string::npos) << r.report;
  EXPECT_EQ(regs.eip, 0x10000au) << "the trap comes after the nop that follows POPF";
}

INSTANTIATE_TEST_SUITE_P(FastPaths, FlagsFastPathTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? std::string("Inline") : std::string("Emulated");
                         });

}  // namespace
}  // namespace bt86
