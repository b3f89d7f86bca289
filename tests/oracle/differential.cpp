// Native vs translated comparison (differential.h).
#include "differential.h"

#include <signal.h>

#include <cstdio>
#include <sstream>

namespace bt86::oracle {
namespace {

const char* const kGprNames[8] = {"eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"};

std::string Hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%08x", v);
  return buf;
}

std::string SignalName(int signo) {
  switch (signo) {
    case SIGSEGV:
      return "SIGSEGV";
    case SIGFPE:
      return "SIGFPE";
    case SIGILL:
      return "SIGILL";
    case SIGBUS:
      return "SIGBUS";
    case SIGTRAP:
      return "SIGTRAP";
  }
  return "signal " + std::to_string(signo);
}

// The words bt86's fault report must contain for a native signal: the same
// kind of exception, not just any stop at the right place.
bool ReportMatchesSignal(int signo, const std::string& report) {
  auto has = [&](const char* s) { return report.find(s) != std::string::npos; };
  switch (signo) {
    case SIGFPE:
      return has("#DE") || has("#MF") || has("#XM");
    case SIGSEGV:
      return has("#GP") || has("#PF") || has("#SS") || has("outside RAM");
    case SIGILL:
      return has("#UD");
    case SIGBUS:
      return has("#AC") || has("bus");
    default:
      return true;
  }
}

void DescribeState(std::ostringstream& os, const char* who, const CpuState& s) {
  os << "  " << who << ":";
  for (int i = 0; i < 8; ++i) os << " " << kGprNames[i] << "=" << Hex32(s.gpr[i]);
  os << " eflags=" << Hex32(s.eflags) << " [" << FlagNames(s.eflags & kComparedFlags) << "]\n";
}

// Appends up to `limit` runs of differing bytes, as "guest address: native vs translated".
int DescribeArenaDiff(std::ostringstream& os, const std::vector<uint8_t>& native,
                      const std::vector<uint8_t>& translated) {
  constexpr int kMaxRuns = 4;
  constexpr uint32_t kMaxShown = 16;
  int runs = 0;
  uint32_t differing = 0;
  for (uint32_t i = 0; i < kArenaBytes; ++i) {
    if (native[i] == translated[i]) continue;
    ++differing;
    if (runs >= kMaxRuns) continue;
    // One run: from i to the last differing byte with no 8-byte gap.
    uint32_t end = i;
    for (uint32_t j = i; j < kArenaBytes && j < end + 8; ++j) {
      if (native[j] != translated[j]) end = j;
    }
    const uint32_t shown_end = std::min(end + 1, i + kMaxShown);
    os << "  memory " << Hex32(kArenaBase + i) << ": native";
    for (uint32_t j = i; j < shown_end; ++j) {
      char b[4];
      std::snprintf(b, sizeof(b), " %02x", native[j]);
      os << b;
    }
    os << " | translated";
    for (uint32_t j = i; j < shown_end; ++j) {
      char b[4];
      std::snprintf(b, sizeof(b), " %02x", translated[j]);
      os << b;
    }
    os << (shown_end < end + 1 ? " ..." : "") << "\n";
    for (uint32_t j = i + 1; j <= end; ++j) differing += native[j] != translated[j];
    i = end;
    ++runs;
  }
  if (differing > 0) os << "  " << differing << " arena byte(s) differ\n";
  return int(differing);
}

}  // namespace

CpuState DiffCase::DefaultInput() {
  CpuState s{};
  s.gpr[kEax] = 0x8badf00d;
  s.gpr[kEcx] = 0x00000010;
  s.gpr[kEdx] = 0x7ea51ce5;
  s.gpr[kEbx] = kDataAddress + 0x100;
  s.gpr[kEsp] = kStackTop;
  s.gpr[kEbp] = kDataAddress + 0x800;
  s.gpr[kEsi] = kDataAddress + 0x2000;
  s.gpr[kEdi] = kDataAddress + 0x4000;
  s.eflags = 0;
  return s;
}

std::vector<uint8_t> DiffCase::DefaultArena() {
  static const std::vector<uint8_t> kArena = [] {
    std::vector<uint8_t> arena(kArenaBytes, 0);
    // A 32-bit xorshift: varied bytes, the same in every run.
    uint32_t x = 0x2545f491;
    for (uint32_t i = 0; i < kDataBytes; ++i) {
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
      arena[kDataOffset + i] = uint8_t(x >> 11);
    }
    return arena;
  }();
  return kArena;
}

std::string FlagNames(uint32_t flags) {
  static const struct {
    uint32_t bit;
    const char* name;
  } kNames[] = {{kFlagCf, "CF"}, {kFlagPf, "PF"}, {kFlagAf, "AF"}, {kFlagZf, "ZF"},
                {kFlagSf, "SF"}, {kFlagDf, "DF"}, {kFlagOf, "OF"}};
  std::string out;
  for (const auto& n : kNames) {
    if (!(flags & n.bit)) continue;
    if (!out.empty()) out += ' ';
    out += n.name;
  }
  return out.empty() ? "-" : out;
}

std::string HexBytes(const std::vector<uint8_t>& code) {
  std::string out;
  for (size_t i = 0; i < code.size(); ++i) {
    char b[4];
    std::snprintf(b, sizeof(b), "%s%02x", i ? " " : "", code[i]);
    out += b;
  }
  return out;
}

::testing::AssertionResult CompareRuns(const DiffCase& c, const Config& config, DiffOutcome* out) {
  DiffOutcome local;
  DiffOutcome& o = out ? *out : local;
  o.native_arena = c.arena.empty() ? DiffCase::DefaultArena() : c.arena;
  o.translated_arena = o.native_arena;
  o.native = RunNative32(o.native_arena, c.code_offset, c.code, c.in);
  o.translated = RunTranslated32(o.translated_arena, c.code_offset, c.code, c.in, config);
  const NativeResult& n = o.native;
  const TranslatedResult& t = o.translated;

  std::ostringstream os;
  bool ok = true;
  auto fail = [&](const std::string& line) {
    ok = false;
    os << "  " << line << "\n";
  };

  // How the runs ended.
  const uint32_t tail_eip = kArenaBase + c.code_offset + uint32_t(c.code.size());
  if (c.expect == Expect::kCompletes && !n.completed) {
    fail("the native run faulted (" + SignalName(n.signo) + " at eip=" + Hex32(n.fault_eip) +
         ") but the case expects it to complete: the test is wrong");
  }
  if (c.expect == Expect::kFaults && n.completed) {
    fail("the native run completed but the case expects a fault: the test is wrong");
  }
  if (n.completed && !t.completed) {
    fail("native completed, translated did not: " + t.fault);
  } else if (!n.completed) {
    if (t.completed) {
      fail("native faulted (" + SignalName(n.signo) + " at eip=" + Hex32(n.fault_eip) +
           "), translated completed at eip=" + Hex32(t.eip));
    } else if (t.kind != RunResult::Kind::kGuestFault) {
      fail("native faulted (" + SignalName(n.signo) +
           "), translated stopped otherwise: " + t.fault);
    } else {
      if (t.eip != n.fault_eip) {
        fail("fault eip: native " + Hex32(n.fault_eip) + " (" + SignalName(n.signo) +
             "), translated " + Hex32(t.eip));
      }
      if (!ReportMatchesSignal(n.signo, t.fault)) {
        fail("native " + SignalName(n.signo) +
             " but translated reports another exception: " + t.fault);
      }
    }
  }

  // Registers and flags: at the end, or at the fault (precise state).
  for (int i = 0; i < 8; ++i) {
    if (n.state.gpr[i] != t.state.gpr[i]) {
      fail(std::string(kGprNames[i]) + ": native " + Hex32(n.state.gpr[i]) + ", translated " +
           Hex32(t.state.gpr[i]) + " (input " + Hex32(c.in.gpr[i]) + ")");
    }
  }
  const uint32_t mask = kComparedFlags & ~c.ignore_flags;
  const uint32_t flag_diff = (n.state.eflags ^ t.state.eflags) & mask;
  if (flag_diff) {
    fail("flags differ: " + FlagNames(flag_diff) + " (native [" + FlagNames(n.state.eflags & mask) +
         "], translated [" + FlagNames(t.state.eflags & mask) + "])");
  }
  {
    std::ostringstream mem;
    if (DescribeArenaDiff(mem, o.native_arena, o.translated_arena) > 0) {
      ok = false;
      os << mem.str();
    }
  }

  if (ok) return ::testing::AssertionSuccess();
  std::ostringstream head;
  head << "native and translated runs differ\n"
       << "  code (" << c.code.size() << " bytes at " << Hex32(kArenaBase + c.code_offset)
       << ", tail at " << Hex32(tail_eip) << "): " << HexBytes(c.code) << "\n"
       << "  config: max_block_instructions=" << config.max_block_instructions
       << " chaining=" << config.chaining << " inline_lookup=" << config.inline_lookup << "\n";
  DescribeState(head, "input     ", c.in);
  DescribeState(head, "native    ", n.state);
  DescribeState(head, "translated", t.state);
  if (!n.completed)
    head << "  native: " << SignalName(n.signo) << " at eip=" << Hex32(n.fault_eip) << "\n";
  if (!t.completed) head << "  translated: " << t.fault << "\n";
  head << os.str();
  return ::testing::AssertionFailure() << head.str();
}

::testing::AssertionResult CompareRuns(const std::vector<uint8_t>& code, const Config& config) {
  DiffCase c;
  c.code = code;
  return CompareRuns(c, config);
}

}  // namespace bt86::oracle
