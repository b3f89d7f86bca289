// Runs a 32-bit snippet translated by bt86 (translated32.h).
#include "translated32.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>

namespace bt86::oracle {
namespace {

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "bt86 translated oracle: %s\n", what);
  std::abort();
}

TranslatedResult Failed(std::string why) {
  TranslatedResult r;
  r.kind = RunResult::Kind::kGuestFault;
  r.fault = std::move(why);
  return r;
}

}  // namespace

TranslatedResult RunTranslated32(std::vector<uint8_t>& arena, uint32_t code_offset,
                                 const std::vector<uint8_t>& code, const CpuState& in,
                                 const Config& config) {
  if (arena.size() != kArenaBytes) Die("the arena must be kArenaBytes long");
  // The same bound as the native runner: its tail is the longer one.
  if (code_offset > kArenaBytes || kArenaBytes - code_offset < code.size() + kTailBytes) {
    Die("the snippet and its tail do not fit in the arena");
  }
  Config c = config;
  c.memory_bytes = kTranslatedRamBytes;  // fixed, so "beyond RAM" means the same in every test
  c.timeout_seconds = kTranslatedTimeoutSeconds;
  c.echo_serial = false;

  std::unique_ptr<Machine> machine;
  Status st = Machine::Create(c, &machine);
  if (!st.ok()) return Failed("Machine::Create failed: " + st.message());

  const uint32_t entry = kArenaBase + code_offset;
  const uint32_t tail = entry + static_cast<uint32_t>(code.size());
  const uint8_t hlt = 0xf4;
  st = machine->WriteMemory(kArenaBase, arena.data(), kArenaBytes);
  if (st.ok() && !code.empty()) st = machine->WriteMemory(entry, code.data(), code.size());
  if (st.ok()) st = machine->WriteMemory(tail, &hlt, 1);
  if (!st.ok()) return Failed("WriteMemory failed: " + st.message());

  GuestRegisters regs;
  std::copy(std::begin(in.gpr), std::end(in.gpr), std::begin(regs.gpr));
  regs.eip = entry;
  regs.eflags = (in.eflags & kInputFlagsMask) | kFlagReserved1;  // IF = 0: hlt stops
  machine->set_registers(regs);
  // The native side runs under Linux, which sets CR4.OSFXSR and
  // CR4.OSXMMEXCPT: give the guest the same, so unmasked SSE exceptions
  // are #XM on both sides (without OSXMMEXCPT the SDM makes them #UD).
  machine->set_control_register(4, (1u << 9) | (1u << 10));

  const RunResult run = machine->Run();
  const GuestRegisters out = machine->registers();

  TranslatedResult result;
  result.kind = run.kind;
  result.eip = out.eip;
  std::copy(std::begin(out.gpr), std::end(out.gpr), std::begin(result.state.gpr));
  result.state.eflags = out.eflags;
  result.stats = machine->stats();
  result.completed = run.kind == RunResult::Kind::kHalted && out.eip == tail + kTranslatedTailBytes;
  if (!result.completed) {
    char eip_hex[16];
    std::snprintf(eip_hex, sizeof(eip_hex), "%08x", out.eip);
    result.fault = std::string(RunResultKindName(run.kind)) + " at eip=" + eip_hex +
                   (run.report.empty() ? "" : ": " + run.report);
  }

  // Everything but the native tail's bytes: they keep their input values.
  std::vector<uint8_t> guest(kArenaBytes);
  st = machine->ReadMemory(kArenaBase, guest.data(), kArenaBytes);
  if (!st.ok()) return Failed("ReadMemory failed: " + st.message());
  const uint32_t tail_offset = tail - kArenaBase;
  std::copy(guest.begin(), guest.begin() + tail_offset, arena.begin());
  std::copy(guest.begin() + tail_offset + kTailBytes, guest.end(),
            arena.begin() + tail_offset + kTailBytes);
  return result;
}

}  // namespace bt86::oracle
