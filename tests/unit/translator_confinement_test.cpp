// The confinement property (DESIGN.md "Address-space windows"): translated
// code reaches guest memory only as gs:[32-bit effective address], its own
// vCPU context as [r15 + ...], and never uses the host stack, the kernel or
// I/O. Checked two ways:
//   - structurally: host code of real translations (every golden case, and
//     blocks of random guest bytes) is decoded with Zydis in 64-bit mode and
//     every instruction and memory operand is checked;
//   - textually: every reviewed listing in tests/golden/*.txt is scanned, so
//     a listing that breaks the rule cannot be committed as "expected".
// Rules: no push, pop, call, ret, syscall, sysenter, int, in/out (or their
// string forms), no gs/fs base writes, no RIP-relative operand; every memory
// operand is gs: with 32-bit addressing (or an absolute address below 2 GiB),
// or based on r15; string instructions run only while rsi/rdi are biased by
// the window base (r14, see emit_misc.cpp); r14 and r15 are never written,
// and rsp (64-bit) only to borrow the scratch stack inside the vCPU context
// for pushfq/popfq (the ring-0 PUSHF/POPF fast paths: push/pop only while
// borrowed); direct jumps stay in the block or go to the exit stubs;
// the only indirect jump is through the inline lookup table.
#include <Zydis/Zydis.h>
#include <fmt/core.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "src/options.h"
#include "translator/host_stubs.h"
#include "translator/memory_code_reader.h"
#include "translator/translator.h"

namespace bt86 {
namespace {

namespace fs = std::filesystem;

/// tests/golden, found from this file's path (CMake compiles it by absolute path).
fs::path GoldenDir() {
  return fs::path(__FILE__).parent_path().parent_path() / "golden";
}

bool IsForbiddenMnemonic(ZydisMnemonic m) {
  switch (m) {
    case ZYDIS_MNEMONIC_PUSH:
    case ZYDIS_MNEMONIC_PUSHF:
    case ZYDIS_MNEMONIC_PUSHFD:
    case ZYDIS_MNEMONIC_PUSHFQ:
    case ZYDIS_MNEMONIC_POP:
    case ZYDIS_MNEMONIC_POPF:
    case ZYDIS_MNEMONIC_POPFD:
    case ZYDIS_MNEMONIC_POPFQ:
    case ZYDIS_MNEMONIC_CALL:
    case ZYDIS_MNEMONIC_RET:
    case ZYDIS_MNEMONIC_IRET:
    case ZYDIS_MNEMONIC_IRETD:
    case ZYDIS_MNEMONIC_IRETQ:
    case ZYDIS_MNEMONIC_ENTER:
    case ZYDIS_MNEMONIC_LEAVE:
    case ZYDIS_MNEMONIC_SYSCALL:
    case ZYDIS_MNEMONIC_SYSRET:
    case ZYDIS_MNEMONIC_SYSENTER:
    case ZYDIS_MNEMONIC_SYSEXIT:
    case ZYDIS_MNEMONIC_INT:
    case ZYDIS_MNEMONIC_INT1:
    case ZYDIS_MNEMONIC_INT3:
    case ZYDIS_MNEMONIC_INTO:
    case ZYDIS_MNEMONIC_IN:
    case ZYDIS_MNEMONIC_OUT:
    case ZYDIS_MNEMONIC_INSB:
    case ZYDIS_MNEMONIC_INSW:
    case ZYDIS_MNEMONIC_INSD:
    case ZYDIS_MNEMONIC_OUTSB:
    case ZYDIS_MNEMONIC_OUTSW:
    case ZYDIS_MNEMONIC_OUTSD:
    case ZYDIS_MNEMONIC_WRFSBASE:
    case ZYDIS_MNEMONIC_WRGSBASE:
    case ZYDIS_MNEMONIC_SWAPGS:
    case ZYDIS_MNEMONIC_LFS:
    case ZYDIS_MNEMONIC_LGS:
    case ZYDIS_MNEMONIC_LSS:
    case ZYDIS_MNEMONIC_HLT:
    case ZYDIS_MNEMONIC_CLI:
    case ZYDIS_MNEMONIC_STI:
      return true;
    default:
      return false;
  }
}

/// movs, stos, lods, scas, cmps (not SSE movsd/cmpsd, which share names).
bool IsStringInstruction(const ZydisDecodedInstruction& ins) {
  return ins.meta.category == ZYDIS_CATEGORY_STRINGOP;
}

/// The 64-bit register that contains `reg` (eax -> rax, r8d -> r8, ...).
ZydisRegister Largest(ZydisRegister reg) {
  return ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, reg);
}

/// Checks the host code of `block` against the confinement rules; returns
/// one line per violation (empty if confined).
std::vector<std::string> ConfinementViolations(const Block& block, const uint8_t* stubs) {
  ZydisDecoder decoder;
  ZydisDecoderInit(&decoder, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  std::vector<std::string> out;
  bool rsi_biased = false, rdi_biased = false;
  // The ring-0 PUSHF/POPF fast paths borrow a scratch stack inside the vCPU
  // context: rsp may be saved, pointed at [r15 + kScratchStackTop] and
  // restored, and only in between may push/pop/pushfq/popfq run.
  bool rsp_borrowed = false;
  for (uint32_t off = 0; off < block.code_size;) {
    ZydisDecodedInstruction ins;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
    char text[128] = "(undecodable)";
    const uint8_t* at = block.code + off;
    if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&decoder, at, block.code_size - off, &ins, ops))) {
      out.push_back("+" + std::to_string(off) + ": undecodable host code");
      break;
    }
    ZydisDisassembledInstruction dis;
    if (ZYAN_SUCCESS(
            ZydisDisassembleIntel(ZYDIS_MACHINE_MODE_LONG_64, off, at, ins.length, &dis))) {
      std::snprintf(text, sizeof(text), "%s", dis.text);
    }
    auto violation = [&](const std::string& why) {
      std::ostringstream s;
      s << "block " << std::hex << block.key.eip << " +" << off << " `" << text << "`: " << why;
      out.push_back(s.str());
    };

    const bool stack_op =
        ins.mnemonic == ZYDIS_MNEMONIC_PUSH || ins.mnemonic == ZYDIS_MNEMONIC_POP ||
        ins.mnemonic == ZYDIS_MNEMONIC_PUSHFQ || ins.mnemonic == ZYDIS_MNEMONIC_POPFQ;
    const bool borrow =
        ins.mnemonic == ZYDIS_MNEMONIC_LEA && ops[0].reg.value == ZYDIS_REGISTER_RSP &&
        ops[1].mem.base == ZYDIS_REGISTER_R15 && ops[1].mem.index == ZYDIS_REGISTER_NONE &&
        ops[1].mem.disp.value == int64_t(kScratchStackTop);
    const bool give_back =
        ins.mnemonic == ZYDIS_MNEMONIC_MOV && ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER &&
        ops[0].reg.value == ZYDIS_REGISTER_RSP && ops[1].type == ZYDIS_OPERAND_TYPE_MEMORY &&
        ops[1].mem.base == ZYDIS_REGISTER_R15 && ops[1].mem.index == ZYDIS_REGISTER_NONE &&
        ops[1].mem.disp.value == int64_t(offsetof(VcpuContext, scratch_rsp));
    if (stack_op) {
      // Register or flags pushes only, onto the borrowed scratch stack.
      if (!rsp_borrowed) violation("stack instruction on the guest's rsp");
      for (int i = 0; i < ins.operand_count_visible; ++i) {
        if (ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY) violation("stack instruction with memory");
      }
    } else if (IsForbiddenMnemonic(ins.mnemonic)) {
      violation("forbidden host instruction");
    }
    if (stack_op) {
      // The implicit [rsp] operand is inside the context while borrowed.
    } else if (IsStringInstruction(ins)) {
      // The instruction is confined only while the registers it uses point
      // into the window (rsi/rdi biased by r14).
      for (int i = 0; i < ins.operand_count; ++i) {
        if (ops[i].type != ZYDIS_OPERAND_TYPE_MEMORY) continue;
        const ZydisRegister base = Largest(ops[i].mem.base);
        if ((base == ZYDIS_REGISTER_RSI && !rsi_biased) ||
            (base == ZYDIS_REGISTER_RDI && !rdi_biased)) {
          violation("string instruction with an unbiased rsi/rdi");
        }
      }
    } else {
      for (int i = 0; i < ins.operand_count; ++i) {
        const ZydisDecodedOperand& op = ops[i];
        if (op.type != ZYDIS_OPERAND_TYPE_MEMORY) continue;
        if (op.mem.base == ZYDIS_REGISTER_RIP || op.mem.base == ZYDIS_REGISTER_EIP) {
          violation("RIP-relative operand");
          continue;
        }
        if (op.mem.type != ZYDIS_MEMOP_TYPE_MEM) continue;  // lea: no access
        if (op.mem.base == ZYDIS_REGISTER_R15) continue;    // the vCPU context
        if (op.mem.segment != ZYDIS_REGISTER_GS) {
          violation("memory operand outside gs: and not [r15+...]");
          continue;
        }
        const bool absolute =
            op.mem.base == ZYDIS_REGISTER_NONE && op.mem.index == ZYDIS_REGISTER_NONE;
        const bool below_2g = op.mem.disp.value >= 0 && op.mem.disp.value < (int64_t(1) << 31);
        if (ins.address_width != 32 && !(absolute && below_2g)) {
          violation("gs: operand with a 64-bit address (no 0x67)");
        }
      }
    }
    // Written registers: r14 and r15 are fixed, rsp holds guest esp (only
    // its 32-bit or 16-bit forms may be written, keeping the upper half 0).
    for (int i = 0; i < ins.operand_count; ++i) {
      const ZydisDecodedOperand& op = ops[i];
      if (op.type != ZYDIS_OPERAND_TYPE_REGISTER || !(op.actions & ZYDIS_OPERAND_ACTION_MASK_WRITE))
        continue;
      const ZydisRegister full = Largest(op.reg.value);
      if (full == ZYDIS_REGISTER_R14 || full == ZYDIS_REGISTER_R15) violation("writes r14/r15");
      if (op.reg.value == ZYDIS_REGISTER_RSP && !borrow && !give_back && !stack_op) {
        violation("writes 64-bit rsp");
      }
      if (op.reg.value == ZYDIS_REGISTER_GS || op.reg.value == ZYDIS_REGISTER_FS) {
        violation("writes a segment register");
      }
    }
    // Biasing of rsi/rdi around string instructions.
    if (ins.mnemonic == ZYDIS_MNEMONIC_LEA && ops[1].mem.index == ZYDIS_REGISTER_R14 &&
        ops[1].mem.base == ops[0].reg.value) {
      if (ops[0].reg.value == ZYDIS_REGISTER_RSI) rsi_biased = true;
      if (ops[0].reg.value == ZYDIS_REGISTER_RDI) rdi_biased = true;
    } else if (ins.mnemonic == ZYDIS_MNEMONIC_MOV && ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER &&
               ops[1].type == ZYDIS_OPERAND_TYPE_REGISTER && ops[0].reg.value == ops[1].reg.value) {
      if (ops[0].reg.value == ZYDIS_REGISTER_ESI) rsi_biased = false;
      if (ops[0].reg.value == ZYDIS_REGISTER_EDI) rdi_biased = false;
    }
    // Control flow.
    if (ins.meta.category == ZYDIS_CATEGORY_UNCOND_BR ||
        ins.meta.category == ZYDIS_CATEGORY_COND_BR) {
      if (ops[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE && ops[0].imm.is_relative) {
        const uint8_t* target = at + ins.length + ops[0].imm.value.s;
        const bool in_block = target >= block.code && target < block.code + block.code_size;
        const bool in_stubs = target >= stubs && target < stubs + CodeCache::kStubBytes;
        if (!in_block && !in_stubs) violation("direct jump outside the block and the stubs");
      } else if (ops[0].type == ZYDIS_OPERAND_TYPE_MEMORY) {
        if (ops[0].mem.base != ZYDIS_REGISTER_R15 || ops[0].mem.index != ZYDIS_REGISTER_R11 ||
            ops[0].mem.disp.value != int64_t(kLookupTargetsOffset)) {
          violation("indirect jump not through the inline lookup table");
        }
      } else {
        violation("register-indirect jump");
      }
    }
    if (borrow) rsp_borrowed = true;
    if (give_back) rsp_borrowed = false;
    off += ins.length;
  }
  if (rsi_biased || rdi_biased) out.push_back("block ends with rsi/rdi still biased");
  if (rsp_borrowed) out.push_back("block ends with rsp on the scratch stack");
  return out;
}

/// A translator over a real code cache, for translating test inputs.
class ConfinementTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(CodeCache::Create(64 << 20, &stats_, &cache_).ok());
    ASSERT_TRUE(EmitHostStubs(cache_.get(), &stubs_).ok());
    translator_ = std::make_unique<Translator>(cache_.get(), stubs_, TranslatorOptions{}, &stats_);
  }

  /// Translates `bytes` placed at `eip` (a block per call, each under a new
  /// key) and returns the violations found in its host code.
  std::vector<std::string> TranslateAndCheck(uint32_t eip, const std::vector<uint8_t>& bytes) {
    MemoryCodeReader reader(eip, bytes);
    // Every key is new; its low mode bits also cycle through CPL 0-3, 16-bit
    // code and segment bases, so all of those translations are checked.
    const uint32_t mode = next_mode_++ & 0xF;
    Block* block = translator_->Translate({eip, eip / 4096, mode, next_mode_}, reader, false);
    auto violations = ConfinementViolations(*block, cache_->stubs());
    for (auto& v : violations) v += " (mode " + std::to_string(mode) + ")";
    return violations;
  }

  Stats stats_;
  std::unique_ptr<CodeCache> cache_;
  HostStubs stubs_;
  std::unique_ptr<Translator> translator_;
  uint32_t next_mode_ = 0;
};

struct GoldenCase {
  std::string name;
  std::vector<uint8_t> bytes;
};

/// The cases of tests/golden/CASES.
std::vector<GoldenCase> ReadGoldenCases() {
  std::vector<GoldenCase> cases;
  std::ifstream in(GoldenDir() / "CASES");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    GoldenCase c;
    if (!(fields >> c.name) || c.name[0] == '#') continue;
    std::string hex, rest;
    while (fields >> rest) hex += rest;
    if (!ParseHexBytes(hex, &c.bytes).ok()) {
      ADD_FAILURE() << "CASES: bad hex in line: " << line;
      continue;
    }
    cases.push_back(std::move(c));
  }
  return cases;
}

TEST_F(ConfinementTest, GoldenCasesTranslateToConfinedCode) {
  const auto cases = ReadGoldenCases();
  ASSERT_GE(cases.size(), 30u) << "tests/golden/CASES not found under " << GoldenDir();
  for (const auto& c : cases) {
    // As regen.sh does: the bytes end at a page boundary.
    const uint32_t eip = 0x101000 - uint32_t(c.bytes.size());
    for (const std::string& v : TranslateAndCheck(eip, c.bytes))
      ADD_FAILURE() << c.name << ": " << v;
  }
}

// Random guest bytes, biased towards prefixes and the 0F escape so that many
// encodings decode: whatever the translator emits must stay confined.
TEST_F(ConfinementTest, RandomGuestCodeTranslatesToConfinedCode) {
  static const uint8_t kPrefixes[] = {0x66, 0x67, 0xF0, 0xF2, 0xF3, 0x26,
                                      0x2E, 0x36, 0x3E, 0x64, 0x65};
  std::mt19937 rng(86);
  size_t failures = 0;
  for (int n = 0; n < 4000 && failures < 20; ++n) {
    std::vector<uint8_t> bytes;
    for (int i = 0; i < 48; ++i) {
      const uint32_t r = rng();
      if (r % 8 == 0) {
        bytes.push_back(kPrefixes[(r >> 8) % sizeof(kPrefixes)]);
      } else if (r % 8 == 1) {
        bytes.push_back(0x0F);
      } else {
        bytes.push_back(uint8_t(r >> 16));
      }
    }
    for (const std::string& v : TranslateAndCheck(0x400000, bytes)) {
      std::ostringstream hex;
      for (uint8_t b : bytes) hex << std::hex << (b < 16 ? "0" : "") << int(b);
      ADD_FAILURE() << v << "\n  guest bytes: " << hex.str();
      ++failures;
    }
  }
  EXPECT_GT(stats_.guest_insns_translated, 8000u);
}

/// Violations found in `host` taken as a block's whole code.
std::vector<std::string> ViolationsOf(std::vector<uint8_t> host) {
  static const uint8_t stubs[CodeCache::kStubBytes] = {};
  Block block;
  block.code = host.data();
  block.code_size = uint32_t(host.size());
  return ConfinementViolations(block, stubs);
}

// The structural checker itself: it must flag what it is there to flag.
TEST(ConfinementCheckerTest, FlagsEachForbiddenShape) {
  const std::vector<std::vector<uint8_t>> bad = {
      {0x50},                                      // push rax
      {0xC3},                                      // ret
      {0x0F, 0x05},                                // syscall
      {0xCD, 0x80},                                // int 0x80
      {0xE6, 0x80},                                // out 0x80, al
      {0xF3, 0x0F, 0xAE, 0xD8},                    // wrgsbase eax
      {0x8B, 0x03},                                // mov eax, [rbx]
      {0x65, 0x8B, 0x03},                          // mov eax, gs:[rbx]: 64-bit address
      {0x65, 0x8B, 0x05, 0, 0, 0, 0},              // mov eax, gs:[rip+0]
      {0x49, 0x89, 0xC7},                          // mov r15, rax
      {0x41, 0xBE, 0, 0, 0, 0},                    // mov r14d, 0
      {0x48, 0x89, 0xC4},                          // mov rsp, rax
      {0xFF, 0xE0},                                // jmp rax
      {0xA5},                                      // movsd with unbiased rsi/rdi
      {0xE9, 0x00, 0x10, 0x00, 0x00},              // jmp outside the block and stubs
      {0x4A, 0x8D, 0x34, 0x36, 0xA5, 0x89, 0xF6},  // movsd: rdi not biased
  };
  for (const auto& host : bad) {
    EXPECT_FALSE(ViolationsOf(host).empty()) << "host byte " << std::hex << int(host[0]);
  }
  const std::vector<uint8_t> good = {
      0x45, 0x8B, 0x8F, 0x00, 0x20, 0x00, 0x00,        // mov r9d, [r15+0x2000]
      0x65, 0x67, 0x8B, 0x03,                          // mov eax, gs:[ebx]
      0x65, 0x8B, 0x04, 0x25, 0x00, 0x10, 0,    0,     // mov eax, gs:[0x1000]
      0x4A, 0x8D, 0x34, 0x36,                          // lea rsi, [rsi+r14]
      0x4A, 0x8D, 0x3C, 0x37,                          // lea rdi, [rdi+r14]
      0xF3, 0xA5,                                      // rep movsd
      0x89, 0xF6, 0x89, 0xFF,                          // mov esi, esi; mov edi, edi
      0x67, 0x8D, 0x64, 0x24, 0x04,                    // lea esp, [esp+4]
      0xEB, 0x00,                                      // jmp to the next byte (in the block)
      0x43, 0xFF, 0xA4, 0xDF, 0x00, 0x30, 0x08, 0x00,  // jmp [r15+r11*8+0x83000]
  };
  EXPECT_EQ(ViolationsOf(good), std::vector<std::string>{});
}

// ---- The reviewed listings themselves.

/// One host line of a listing: "+0007  6567...  mov eax, gs:[...]".
const std::regex kHostLine(R"(\+[0-9a-f]{4}  \S+\s+(.*)$)");

std::vector<std::string> ListingViolations(const std::string& listing) {
  static const std::set<std::string> kForbidden = {
      "push",    "pop",   "pushf", "pushfq", "popf",  "popfq",    "call",     "ret",
      "iret",    "iretd", "iretq", "enter",  "leave", "syscall",  "sysret",   "sysenter",
      "sysexit", "int",   "int1",  "int3",   "into",  "in",       "out",      "insb",
      "insw",    "insd",  "outsb", "outsw",  "outsd", "wrgsbase", "wrfsbase", "swapgs",
      "hlt",     "cli",   "sti",   "lgs",    "lfs",   "lss"};
  static const std::set<std::string> kString = {"movsb", "movsw", "movsd", "stosb", "stosw",
                                                "stosd", "lodsb", "lodsw", "lodsd", "scasb",
                                                "scasw", "scasd", "cmpsb", "cmpsw", "cmpsd"};
  static const std::regex kMem(R"((\S*)\[([^\]]*)\])");
  static const std::regex kAbsolute(R"(0x[0-9A-Fa-f]+)");
  static const std::regex k64BitReg(R"(\b(r[a-ds][xip]|r[sd]i|r[bs]p|r(8|9|1[0-5]))\b)");
  std::vector<std::string> out;
  std::istringstream lines(listing);
  std::string line;
  bool rsi_biased = false, rdi_biased = false;
  bool rsp_borrowed = false;  // see ConfinementViolations
  const std::string borrow = fmt::format("lea rsp, [r15+0x{:X}]", kScratchStackTop);
  const std::string give_back =
      fmt::format("mov rsp, [r15+0x{:X}]", offsetof(VcpuContext, scratch_rsp));
  while (std::getline(lines, line)) {
    std::smatch m;
    if (!std::regex_search(line, m, kHostLine)) continue;
    const std::string text = m[1];
    std::istringstream words(text);
    std::string mnemonic;
    while (words >> mnemonic &&
           (mnemonic == "lock" || mnemonic == "rep" || mnemonic == "repe" || mnemonic == "repne")) {
    }
    auto violation = [&](const std::string& why) { out.push_back("`" + text + "`: " + why); };
    if (text == borrow) rsp_borrowed = true;
    if (text == give_back) rsp_borrowed = false;
    const bool stack_op =
        text == "pushfq" || text == "popfq" ||
        ((mnemonic == "push" || mnemonic == "pop") && text.find('[') == std::string::npos);
    if (stack_op) {
      if (!rsp_borrowed) violation("stack instruction on the guest's rsp");
      continue;
    }
    if (kForbidden.count(mnemonic)) violation("forbidden host instruction");
    if (text.find("rip") != std::string::npos) violation("RIP-relative operand");
    if (text == "lea rsi, [rsi+r14*1]") rsi_biased = true;
    if (text == "lea rdi, [rdi+r14*1]") rdi_biased = true;
    if (text == "mov esi, esi") rsi_biased = false;
    if (text == "mov edi, edi") rdi_biased = false;
    if (kString.count(mnemonic) && text.find('[') == std::string::npos) {
      const bool src = mnemonic.rfind("movs", 0) == 0 || mnemonic.rfind("lods", 0) == 0 ||
                       mnemonic.rfind("cmps", 0) == 0;
      const bool dst = mnemonic.rfind("lods", 0) != 0;
      if ((src && !rsi_biased) || (dst && !rdi_biased)) {
        violation("string instruction with an unbiased rsi/rdi");
      }
      continue;
    }
    if (mnemonic == "lea") continue;  // address arithmetic, no access
    for (auto it = std::sregex_iterator(text.begin(), text.end(), kMem);
         it != std::sregex_iterator(); ++it) {
      const std::string prefix = (*it)[1], address = (*it)[2];
      if (address.rfind("r15", 0) == 0) continue;
      if (prefix.size() < 3 || prefix.substr(prefix.size() - 3) != "gs:") {
        violation("memory operand without gs: (and not [r15+...])");
      } else if (std::regex_search(address, k64BitReg)) {
        violation("gs: operand with a 64-bit register");
      } else if (std::regex_match(address, kAbsolute) &&
                 std::stoull(address, nullptr, 16) > 0xFFFFFFFFull) {
        violation("gs: absolute address above 4 GiB");
      }
    }
  }
  return out;
}

TEST(GoldenListingConfinementTest, EveryListingIsConfined) {
  size_t listings = 0;
  for (const auto& entry : fs::directory_iterator(GoldenDir())) {
    if (entry.path().extension() != ".txt") continue;
    std::ifstream in(entry.path());
    std::stringstream text;
    text << in.rdbuf();
    if (text.str().rfind("block ", 0) != 0) continue;
    ++listings;
    for (const std::string& v : ListingViolations(text.str())) {
      ADD_FAILURE() << entry.path().filename().string() << ": " << v;
    }
  }
  EXPECT_GE(listings, 30u) << "no golden listings under " << GoldenDir();
}

// The scanner itself: it must flag what it is there to flag.
TEST(GoldenListingConfinementTest, ScannerFlagsEachForbiddenShape) {
  const char* kBad[] = {
      "+0000  50                       push rax",
      "+0000  c3                       ret",
      "+0000  0f05                     syscall",
      "+0000  cd80                     int 0x80",
      "+0000  e680                     out 0x80, al",
      "+0000  8b03                     mov eax, [rbx]",
      "+0000  678b03                   mov eax, [ebx]",
      "+0000  658b03                   mov eax, gs:[rbx]",
      "+0000  8b0500000000             mov eax, [rip+0x00]",
      "+0000  a5                       movsd",
      "+0000  658b042500000080         mov eax, gs:[0xFFFFFFFF80000000]",
  };
  for (const char* line : kBad) {
    EXPECT_FALSE(ListingViolations(line).empty()) << line;
  }
  const char* kGood =
      "+0000  458b8f00200000           mov r9d, [r15+0x2000]\n"
      "+0007  65678b442404             mov eax, gs:[esp+0x04]\n"
      "+000d  6567418b00               mov eax, gs:[r8d]\n"
      "+0012  8d448b08                 lea eax, [rbx+rcx*4+0x08]\n"
      "+0016  4a8d3436                 lea rsi, [rsi+r14*1]\n"
      "+001a  4a8d3c37                 lea rdi, [rdi+r14*1]\n"
      "+001e  f3a5                     rep movsd\n"
      "+0020  89f6                     mov esi, esi\n"
      "+0022  89ff                     mov edi, edi\n"
      "+0024  6567ff042500100080       inc gs:[0x0000000080001000]\n"
      "+0030  43ffa4df00300800         jmp [r15+r11*8+0x83000]\n";
  EXPECT_TRUE(ListingViolations(kGood).empty());
}

}  // namespace
}  // namespace bt86
