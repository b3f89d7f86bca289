// Random instruction streams, native vs translated (differential.h).
//
// A generator strings together instructions from a table of templates: ALU
// ops, shifts, multiplies and guarded divides, setcc/cmovcc, movzx/movsx,
// lea, xchg/xadd/cmpxchg, push/pop, inc/dec (40-4F), string ops with small
// counts, xlat, salc, BCD (followed by a CMP that defines every flag again,
// since bt86 computes their undefined flags in C++), a little x87 and SSE,
// and control flow: forward jcc/jmp/jecxz over other instructions, counted
// loops, direct and indirect calls to local functions, indirect jumps (through
// a register, memory or ret), enter/leave and pusha/popa pairs.
//
// Invariants that keep every stream valid natively:
//   ebx  points into the data area and is never written (memory operands are
//        [ebx + disp], [ebx + index*scale + disp], [disp32], [index*scale +
//        disp32], [esp + disp]; an index register is first bounded with
//        `movzx r32, r8`, which leaves the flags alone);
//   esp  only moves by pushes and pops; the stack has room either way;
//   division has a nonzero divisor and a quotient in range.
//
// Each sequence runs under one configuration (the test parameter) with the
// inline lookup alternating. BT86_RANDOM_SEQUENCES sets the number of
// sequences per configuration (default 2000, of kInsnsPerSequence
// instructions each), BT86_RANDOM_SEED the seed (default fixed; "time" picks
// one). A failing sequence is shrunk to fewer instruction groups that still
// fail and printed with its listing and the seed that reproduces it.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "oracle/differential.h"
#include "translator/decoder.h"

namespace bt86::oracle {
namespace {

constexpr int kInsnsPerSequence = 50;
constexpr int kDefaultSequences = 2000;
constexpr uint64_t kDefaultSeed = 0xb786'2024'0001ull;
constexpr int kMaxReportedFailures = 3;

/// ebx during every sequence: the middle of a 64 KiB window of the data area.
constexpr uint32_t kDataPointer = kDataAddress + 0x8000;
constexpr uint32_t kInitialEsp = kStackTop - 0x800;

// Register numbers (SDM order) and the masks the generator works with.
constexpr uint8_t kRegEax = 0, kRegEcx = 1, kRegEdx = 2, kRegEbx = 3, kRegEsp = 4, kRegEbp = 5,
                  kRegEsi = 6, kRegEdi = 7;
constexpr uint32_t Bit(uint8_t r) {
  return 1u << r;
}
/// Registers random instructions may write: all but ebx and esp.
constexpr uint32_t kWritableRegs =
    Bit(kRegEax) | Bit(kRegEcx) | Bit(kRegEdx) | Bit(kRegEsi) | Bit(kRegEdi) | Bit(kRegEbp);

/// splitmix64: small, fast, good enough to pick templates.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  uint32_t Below(uint32_t n) { return uint32_t(Next() % n); }
  bool OneIn(uint32_t n) { return Below(n) == 0; }
  template <typename T, size_t N>
  T Pick(const T (&items)[N]) {
    return items[Below(N)];
  }
  /// A value with a bias towards the edges that flags care about.
  uint32_t Value() {
    static const uint32_t kEdges[] = {0,          1,          2,          0x7f,       0x80,
                                      0xff,       0x7fff,     0x8000,     0xffff,     0x7fffffff,
                                      0x80000000, 0xffffffff, 0xfffffffe, 0x00010000, 0x12345678};
    switch (Below(4)) {
      case 0:
        return Pick(kEdges);
      case 1:
        return Below(256);
      default:
        return uint32_t(Next());
    }
  }

 private:
  uint64_t state_;
};

/// One unit of a sequence: instructions that only make sense together
/// (an index bound and its access, a string op and its setup, a jcc and
/// what it skips). Shrinking removes whole groups.
struct Group {
  std::vector<uint8_t> bytes;
  int insns = 0;
  bool pinned = false;  ///< Kept when shrinking (the prologue).
};

/// What the templates of a nested body may do.
struct Limits {
  uint32_t writable = kWritableRegs;
  bool stack = true;    ///< push/pop and friends.
  bool control = true;  ///< Nested control flow (loops, calls, frames).
  /// [esp + disp] operands: not in a called body, where [esp] is the return
  /// address.
  bool esp_memory = true;
};

/// A ModRM r/m operand: a register or one of the memory forms above.
struct Rm {
  bool is_reg = false;
  uint8_t reg = 0;
  std::vector<uint8_t> encoding;  ///< ModRM (reg field 0), SIB, displacement.
};

class Generator {
 public:
  explicit Generator(uint64_t seed) : rng_(seed) {}

  std::vector<Group> Sequence(int insns) {
    std::vector<Group> groups = {Prologue()};
    int count = groups[0].insns;
    while (count < insns) {
      Group g = RandomGroup(Limits{});
      count += g.insns;
      groups.push_back(std::move(g));
    }
    return groups;
  }

  /// movdqu xmm0..7, [ebx + 16*i]: the native runner leaves the host's
  /// XMM contents in place (and bt86 starts them at zero), so a sequence
  /// loads its own. The x87 state starts at FNINIT in both.
  static Group Prologue() {
    Group g;
    g.pinned = true;
    for (uint8_t i = 0; i < 8; ++i) {
      EmitBytes(g, {0xf3, 0x0f, 0x6f, uint8_t(0x43 | i << 3), uint8_t(16 * i)});
    }
    return g;
  }

  CpuState RandomInput() {
    CpuState s = DiffCase::DefaultInput();
    for (int r = 0; r < 8; ++r) s.gpr[r] = rng_.Value();
    s.gpr[kEbx] = kDataPointer;
    s.gpr[kEsp] = kInitialEsp;
    const uint32_t flags[] = {kFlagCf, kFlagPf, kFlagAf, kFlagZf, kFlagSf, kFlagOf};
    s.eflags = 0;
    for (uint32_t f : flags) {
      if (rng_.OneIn(2)) s.eflags |= f;
    }
    if (rng_.OneIn(4)) s.eflags |= kFlagDf;
    return s;
  }

 private:
  // --- operands -----------------------------------------------------------

  uint8_t WritableReg(const Limits& l) {
    for (;;) {
      const uint8_t r = uint8_t(rng_.Below(8));
      if (l.writable & Bit(r)) return r;
    }
  }
  uint8_t AnyReg() { return uint8_t(rng_.Below(8)); }
  /// 8-bit register numbers: al cl dl bl ah ch dh bh = 0..7; bl/bh are ebx.
  uint8_t WritableReg8(const Limits& l) {
    for (;;) {
      const uint8_t r = uint8_t(rng_.Below(8));
      if (l.writable & Bit(r & 3)) return r;
    }
  }
  bool HasWritable8(const Limits& l) const {
    return (l.writable & (Bit(kRegEax) | Bit(kRegEcx) | Bit(kRegEdx))) != 0;
  }

  static void Put32(std::vector<uint8_t>& out, uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(uint8_t(v >> (8 * i)));
  }
  static void Put16(std::vector<uint8_t>& out, uint32_t v) {
    out.push_back(uint8_t(v));
    out.push_back(uint8_t(v >> 8));
  }

  /// A memory operand inside the data window or the stack. An index form
  /// appends its `movzx index, index8` to `g` first (if the index register
  /// may be written; otherwise it picks another form).
  Rm Memory(Group& g, const Limits& l) {
    Rm m;
    auto& e = m.encoding;
    const int32_t disp = int32_t(rng_.Below(0x10000)) - 0x8000;
    const int8_t disp8 = int8_t(rng_.Below(256));
    uint32_t form = rng_.Below(9);
    const uint8_t index = uint8_t(rng_.Below(3));  // eax ecx edx: have low bytes
    if ((form == 5 || form == 6 || form == 7) && !(l.writable & Bit(index))) form = 2;
    if (form == 4 && !l.esp_memory) form = 2;
    switch (form) {
      case 0:  // [ebx]
        e.push_back(0x03);
        break;
      case 1:  // [ebx + disp8]
        e = {0x43, uint8_t(disp8)};
        break;
      case 3:  // [disp32]
        e.push_back(0x05);
        Put32(e, kDataPointer + uint32_t(disp));
        break;
      case 4:  // [esp], [esp + disp8] or [esp + disp32]
        if (rng_.OneIn(3)) {
          e = {0x04, 0x24};
        } else if (rng_.OneIn(2)) {
          e = {0x44, 0x24, uint8_t(disp8)};
        } else {
          e = {0x84, 0x24};
          Put32(e, uint32_t(int32_t(rng_.Below(0x1000)) - 0x800));
        }
        break;
      case 5:    // [ebx + index*scale + disp8]
      case 6:    // [ebx + index*scale]
      case 7: {  // [index*scale + disp32]
        // movzx index, index8: bounds the index to 0..255, flags untouched.
        g.bytes.insert(g.bytes.end(), {0x0f, 0xb6, uint8_t(0xc0 | index << 3 | index)});
        g.insns++;
        const uint8_t scale = uint8_t(rng_.Below(4));
        if (form == 5) {
          e = {0x44, uint8_t(scale << 6 | index << 3 | kRegEbx), uint8_t(disp8)};
        } else if (form == 6) {
          e = {0x04, uint8_t(scale << 6 | index << 3 | kRegEbx)};
        } else {
          e = {0x04, uint8_t(scale << 6 | index << 3 | 5)};
          Put32(e, kDataPointer + uint32_t(disp));
        }
        break;
      }
      default:  // [ebx + disp32] (forms 2 and 8: the common case weighs double)
        e.push_back(0x83);
        Put32(e, uint32_t(disp));
        break;
    }
    return m;
  }

  Rm Register(uint8_t reg) {
    Rm m;
    m.is_reg = true;
    m.reg = reg;
    m.encoding = {uint8_t(0xc0 | reg)};
    return m;
  }

  /// An r/m operand that the instruction writes (register or memory).
  Rm WritableRm(Group& g, const Limits& l, int width) {
    if (rng_.OneIn(2)) return Memory(g, l);
    if (width == 8) {
      if (!HasWritable8(l)) return Memory(g, l);
      return Register(WritableReg8(l));
    }
    return Register(WritableReg(l));
  }
  /// An r/m operand that the instruction only reads.
  Rm ReadRm(Group& g, const Limits& l) {
    if (rng_.OneIn(2)) return Memory(g, l);
    return Register(AnyReg());
  }

  /// Appends prefix/opcode bytes, then ModRM with `reg_field`, then `imm`.
  static void Emit(Group& g, std::initializer_list<uint8_t> opcode, uint8_t reg_field, const Rm& rm,
                   const std::vector<uint8_t>& imm = {}) {
    g.bytes.insert(g.bytes.end(), opcode);
    std::vector<uint8_t> enc = rm.encoding;
    enc[0] |= uint8_t((reg_field & 7) << 3);
    g.bytes.insert(g.bytes.end(), enc.begin(), enc.end());
    g.bytes.insert(g.bytes.end(), imm.begin(), imm.end());
    g.insns++;
  }
  static void EmitBytes(Group& g, std::initializer_list<uint8_t> bytes) {
    g.bytes.insert(g.bytes.end(), bytes);
    g.insns++;
  }

  std::vector<uint8_t> Imm(int width) {
    std::vector<uint8_t> v;
    const uint32_t x = rng_.Value();
    if (width == 8) {
      v.push_back(uint8_t(x));
    } else if (width == 16) {
      Put16(v, x);
    } else {
      Put32(v, x);
    }
    return v;
  }

  int RandomWidth() {
    static const int kWidths[] = {8, 16, 32, 32};
    return rng_.Pick(kWidths);
  }
  /// 0x66 for 16-bit operands.
  static void OperandSize(Group& g, int width) {
    if (width == 16) g.bytes.push_back(0x66);
  }

  // --- templates ----------------------------------------------------------

  // add or adc sbb and sub xor cmp (and test) in every operand form.
  void Alu(Group& g, const Limits& l) {
    const uint8_t op = uint8_t(rng_.Below(8));  // /op: add or adc sbb and sub xor cmp
    int width = RandomWidth();
    const bool cmp = op == 7;
    const uint8_t w = width == 8 ? 0 : 1;
    switch (rng_.Below(5)) {
      case 0: {  // r/m, reg
        Rm rm = cmp ? ReadRm(g, l) : WritableRm(g, l, width);
        OperandSize(g, width);
        Emit(g, {uint8_t(op << 3 | w)}, AnyReg(), rm);
        break;
      }
      case 1: {  // reg, r/m
        if (width == 8 && !HasWritable8(l) && !cmp) return;
        Rm rm = ReadRm(g, l);
        OperandSize(g, width);
        const uint8_t reg = cmp ? AnyReg() : width == 8 ? WritableReg8(l) : WritableReg(l);
        Emit(g, {uint8_t(op << 3 | 2 | w)}, reg, rm);
        break;
      }
      case 2: {  // r/m, imm (80/81, and the 82 alias)
        Rm rm = cmp ? ReadRm(g, l) : WritableRm(g, l, width);
        OperandSize(g, width);
        const uint8_t opcode = width == 8 ? (rng_.OneIn(4) ? 0x82 : 0x80) : 0x81;
        Emit(g, {opcode}, op, rm, Imm(width));
        break;
      }
      case 3: {  // r/m, imm8 sign-extended (83)
        if (width == 8) width = 32;
        Rm rm = cmp ? ReadRm(g, l) : WritableRm(g, l, width);
        OperandSize(g, width);
        Emit(g, {0x83}, op, rm, Imm(8));
        break;
      }
      default: {  // test r/m, reg / test r/m, imm
        Rm rm = ReadRm(g, l);
        OperandSize(g, width);
        if (rng_.OneIn(2)) {
          Emit(g, {uint8_t(0x84 | w)}, AnyReg(), rm);
        } else {
          Emit(g, {uint8_t(0xf6 | w)}, 0, rm, Imm(width));
        }
        break;
      }
    }
  }

  // not neg mul imul on r/m; inc dec (FE/FF).
  void Unary(Group& g, const Limits& l) {
    const int width = RandomWidth();
    const uint8_t w = width == 8 ? 0 : 1;
    const uint8_t kinds[] = {2, 3, 4, 5, 0, 1};  // not neg mul imul | inc dec
    const uint8_t k = rng_.Pick(kinds);
    if ((k == 4 || k == 5) &&
        (l.writable & (Bit(kRegEax) | Bit(kRegEdx))) != (Bit(kRegEax) | Bit(kRegEdx))) {
      return;
    }
    Rm rm = (k == 4 || k == 5) ? ReadRm(g, l) : WritableRm(g, l, width);
    OperandSize(g, width);
    if (k <= 1) {
      Emit(g, {uint8_t(0xfe | w)}, k, rm);
    } else {
      Emit(g, {uint8_t(0xf6 | w)}, k, rm);
    }
  }

  // rol ror rcl rcr shl shr sal sar by 1, cl, imm8; shld/shrd.
  void Shift(Group& g, const Limits& l) {
    const int width = RandomWidth();
    const uint8_t w = width == 8 ? 0 : 1;
    const uint8_t op = uint8_t(rng_.Below(8));
    Rm rm = WritableRm(g, l, width);
    OperandSize(g, width);
    switch (rng_.Below(4)) {
      case 0:
        Emit(g, {uint8_t(0xd0 | w)}, op, rm);
        break;
      case 1:
        Emit(g, {uint8_t(0xd2 | w)}, op, rm);
        break;
      case 2:
        Emit(g, {uint8_t(0xc0 | w)}, op, rm, {uint8_t(rng_.Below(40))});
        break;
      default:
        if (width == 8) {
          Emit(g, {uint8_t(0xc0 | w)}, op, rm, {uint8_t(rng_.Below(9))});
        } else if (rng_.OneIn(2)) {
          Emit(g, {0x0f, uint8_t(rng_.OneIn(2) ? 0xa4 : 0xac)}, AnyReg(), rm,
               {uint8_t(rng_.Below(32))});
        } else {
          Emit(g, {0x0f, uint8_t(rng_.OneIn(2) ? 0xa5 : 0xad)}, AnyReg(), rm);
        }
        break;
    }
  }

  // imul r, r/m [, imm]; bt/bts/btr/btc; bsf/bsr; movzx/movsx; setcc; cmovcc.
  void TwoOperand(Group& g, const Limits& l) {
    const bool w16 = rng_.OneIn(4);
    const int width = w16 ? 16 : 32;
    const uint8_t reg = WritableReg(l);
    switch (rng_.Below(9)) {
      case 0: {
        Rm rm = ReadRm(g, l);
        OperandSize(g, width);
        Emit(g, {0x0f, 0xaf}, reg, rm);
        break;
      }
      case 1: {
        Rm rm = ReadRm(g, l);
        OperandSize(g, width);
        if (rng_.OneIn(2)) {
          Emit(g, {0x6b}, reg, rm, Imm(8));
        } else {
          Emit(g, {0x69}, reg, rm, Imm(width));
        }
        break;
      }
      case 2: {                                         // bt* r/m, imm8 (memory) or r, r
        const uint8_t op = uint8_t(4 + rng_.Below(4));  // bt bts btr btc
        Rm rm = op == 4 ? ReadRm(g, l) : WritableRm(g, l, width);
        OperandSize(g, width);
        if (rm.is_reg && rng_.OneIn(2)) {
          static const uint8_t kRegForms[] = {0xa3, 0xab, 0xb3, 0xbb};
          Emit(g, {0x0f, kRegForms[op - 4]}, AnyReg(), rm);
        } else {
          Emit(g, {0x0f, 0xba}, op, rm, {uint8_t(rng_.Below(64))});
        }
        break;
      }
      case 3: {  // bsf/bsr
        Rm rm = ReadRm(g, l);
        OperandSize(g, width);
        Emit(g, {0x0f, uint8_t(rng_.OneIn(2) ? 0xbc : 0xbd)}, reg, rm);
        break;
      }
      case 4: {  // movzx/movsx from 8 or 16 bits
        Rm rm = ReadRm(g, l);
        OperandSize(g, width);
        static const uint8_t kOps[] = {0xb6, 0xb7, 0xbe, 0xbf};
        Emit(g, {0x0f, rng_.Pick(kOps)}, reg, rm);
        break;
      }
      case 5: {  // setcc r/m8
        Rm rm = WritableRm(g, l, 8);
        Emit(g, {0x0f, uint8_t(0x90 | rng_.Below(16))}, 0, rm);
        break;
      }
      case 6: {  // cmovcc
        Rm rm = ReadRm(g, l);
        OperandSize(g, width);
        Emit(g, {0x0f, uint8_t(0x40 | rng_.Below(16))}, reg, rm);
        break;
      }
      case 7: {  // lea: any base, index, scale (no access)
        Rm m;
        const uint8_t base = AnyReg(), index = AnyReg();
        if (index == kRegEsp || rng_.OneIn(3)) {
          m.encoding = {0x80};
          m.encoding[0] |= base == kRegEsp ? 4 : base;
          if (base == kRegEsp) m.encoding.push_back(0x24);
        } else {
          m.encoding = {0x84, uint8_t(rng_.Below(4) << 6 | index << 3 | base)};
        }
        Put32(m.encoding, rng_.Value());
        OperandSize(g, width);
        Emit(g, {0x8d}, reg, m);
        break;
      }
      default: {  // mov in every direction
        const int wd = RandomWidth();
        const uint8_t w = wd == 8 ? 0 : 1;
        switch (rng_.Below(4)) {
          case 0: {
            Rm rm = WritableRm(g, l, wd);
            OperandSize(g, wd);
            Emit(g, {uint8_t(0x88 | w)}, AnyReg(), rm);
            break;
          }
          case 1: {
            if (wd == 8 && !HasWritable8(l)) return;
            Rm rm = ReadRm(g, l);
            OperandSize(g, wd);
            Emit(g, {uint8_t(0x8a | w)}, wd == 8 ? WritableReg8(l) : WritableReg(l), rm);
            break;
          }
          case 2: {
            Rm rm = WritableRm(g, l, wd);
            OperandSize(g, wd);
            Emit(g, {uint8_t(0xc6 | w)}, 0, rm, Imm(wd));
            break;
          }
          default: {  // mov r32, imm32 / moffs forms
            if (rng_.OneIn(2)) {
              EmitBytes(g, {uint8_t(0xb8 | reg)});
              Put32(g.bytes, rng_.Value());
            } else if (l.writable & Bit(kRegEax)) {
              static const uint8_t kMoffs[] = {0xa0, 0xa1, 0xa2, 0xa3};
              EmitBytes(g, {rng_.Pick(kMoffs)});
              Put32(g.bytes, kDataPointer + rng_.Below(0x8000));
            }
            break;
          }
        }
        break;
      }
    }
  }

  // xchg, xadd, cmpxchg (with and without lock), bswap.
  void Exchange(Group& g, const Limits& l) {
    const int width = RandomWidth();
    const uint8_t w = width == 8 ? 0 : 1;
    if (width == 8 && !HasWritable8(l)) return;
    const uint8_t reg = width == 8 ? WritableReg8(l) : WritableReg(l);
    const bool lock = rng_.OneIn(3);
    switch (rng_.Below(4)) {
      case 0: {
        Rm rm = WritableRm(g, l, width);
        OperandSize(g, width);
        Emit(g, {uint8_t(0x86 | w)}, reg, rm);
        break;
      }
      case 1: {
        Rm rm = lock ? Memory(g, l) : WritableRm(g, l, width);
        OperandSize(g, width);
        if (lock) g.bytes.push_back(0xf0);
        Emit(g, {0x0f, uint8_t(0xc0 | w)}, reg, rm);
        break;
      }
      case 2: {
        if (!(l.writable & Bit(kRegEax))) return;
        Rm rm = lock ? Memory(g, l) : WritableRm(g, l, width);
        OperandSize(g, width);
        if (lock) g.bytes.push_back(0xf0);
        Emit(g, {0x0f, uint8_t(0xb0 | w)}, AnyReg(), rm);
        break;
      }
      default:
        EmitBytes(g, {0x0f, uint8_t(0xc8 | WritableReg(l))});
        break;
    }
  }

  // 40-4F, with and without 0x66.
  void IncDecShort(Group& g, const Limits& l) {
    if (rng_.OneIn(3)) g.bytes.push_back(0x66);
    EmitBytes(g, {uint8_t((rng_.OneIn(2) ? 0x40 : 0x48) | WritableReg(l))});
  }

  // Flag and conversion one-byters.
  void FlagOps(Group& g, const Limits& l) {
    // clc stc cmc cld std lahf sahf cwde cdq salc xlat
    static const uint8_t kOps[] = {0xf8, 0xf9, 0xf5, 0xfc, 0xfd, 0x9f,
                                   0x9e, 0x98, 0x99, 0xd6, 0xd7};
    const uint8_t op = rng_.Pick(kOps);
    const bool eax_ok = l.writable & Bit(kRegEax);
    const bool edx_ok = l.writable & Bit(kRegEdx);
    if ((op == 0x9f || op == 0x98 || op == 0xd6 || op == 0xd7) && !eax_ok) return;
    if (op == 0x99 && !edx_ok) return;
    if ((op == 0x98 || op == 0x99) && rng_.OneIn(2)) g.bytes.push_back(0x66);
    EmitBytes(g, {op});
  }

  // Guarded division: divisor nonzero, quotient in range.
  void Divide(Group& g, const Limits& l) {
    const uint32_t needed = Bit(kRegEax) | Bit(kRegEdx) | Bit(kRegEcx);
    if ((l.writable & needed) != needed) return;
    switch (rng_.Below(3)) {
      case 0:  // or ecx, 1; xor edx, edx; div ecx
        EmitBytes(g, {0x83, 0xc9, 0x01});
        EmitBytes(g, {0x31, 0xd2});
        EmitBytes(g, {0xf7, 0xf1});
        break;
      case 1:  // and ecx, 0x7fff; or ecx, 2; cdq; idiv ecx
        EmitBytes(g, {0x81, 0xe1, 0xff, 0x7f, 0x00, 0x00});
        EmitBytes(g, {0x83, 0xc9, 0x02});
        EmitBytes(g, {0x99});
        EmitBytes(g, {0xf7, 0xf9});
        break;
      default:  // and eax, 0x7fff; or cl, 0x80; div cl
        EmitBytes(g, {0x25, 0xff, 0x7f, 0x00, 0x00});
        EmitBytes(g, {0x80, 0xc9, 0x80});
        EmitBytes(g, {0xf6, 0xf1});
        break;
    }
  }

  // push reg/imm/mem (32 or 16 bits), pop reg/mem, push esp/pop esp pairs.
  void Stack(Group& g, const Limits& l) {
    const bool w16 = rng_.OneIn(5);
    switch (rng_.Below(7)) {
      case 0:
        if (w16) g.bytes.push_back(0x66);
        EmitBytes(g, {uint8_t(0x50 | AnyReg())});
        break;
      case 1:
        if (w16) g.bytes.push_back(0x66);
        if (rng_.OneIn(2)) {
          EmitBytes(g, {0x6a, uint8_t(rng_.Value())});
        } else {
          EmitBytes(g, {0x68});
          if (w16) {
            Put16(g.bytes, rng_.Value());
          } else {
            Put32(g.bytes, rng_.Value());
          }
        }
        break;
      case 2: {
        Rm rm = Memory(g, l);
        if (w16) g.bytes.push_back(0x66);
        Emit(g, {0xff}, 6, rm);
        break;
      }
      case 3:
      case 4:
        if (w16) g.bytes.push_back(0x66);
        EmitBytes(g, {uint8_t(0x58 | WritableReg(l))});
        break;
      case 5: {
        Rm rm = Memory(g, l);
        if (w16) g.bytes.push_back(0x66);
        Emit(g, {0x8f}, 0, rm);
        break;
      }
      default:
        EmitBytes(g, {0x54});  // push esp
        if (rng_.OneIn(2)) {
          EmitBytes(g, {0x5c});  // pop esp
        }
        break;
    }
  }

  // movs stos lods scas cmps with esi/edi in the window and ecx 0..8.
  void String(Group& g, const Limits& l) {
    const uint32_t needed = Bit(kRegEsi) | Bit(kRegEdi) | Bit(kRegEcx) | Bit(kRegEax);
    if ((l.writable & needed) != needed) return;
    // lea esi, [ebx + disp32]; lea edi, [ebx + disp32]; mov ecx, n
    EmitBytes(g, {0x8d, 0xb3});
    Put32(g.bytes, uint32_t(int32_t(rng_.Below(0x4000)) - 0x2000));
    EmitBytes(g, {0x8d, 0xbb});
    Put32(g.bytes, uint32_t(int32_t(rng_.Below(0x4000)) - 0x2000));
    EmitBytes(g, {0xb9});
    Put32(g.bytes, rng_.Below(9));
    static const uint8_t kOps[] = {0xa4, 0xa5, 0xa6, 0xa7, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf};
    const uint8_t op = rng_.Pick(kOps);
    if ((op & 1) && rng_.OneIn(3)) g.bytes.push_back(0x66);
    static const uint8_t kReps[] = {0, 0xf3, 0xf3, 0xf2};
    if (const uint8_t rep = rng_.Pick(kReps)) g.bytes.push_back(rep);
    EmitBytes(g, {op});
  }

  // BCD, then CMP: its undefined flags never reach another instruction.
  void Bcd(Group& g, const Limits& l) {
    if (!(l.writable & Bit(kRegEax))) return;
    static const uint8_t kOps[] = {0x27, 0x2f, 0x37, 0x3f, 0xd4, 0xd5};
    const uint8_t op = rng_.Pick(kOps);
    if (op == 0xd4 || op == 0xd5) {
      EmitBytes(g, {op, uint8_t(1 + rng_.Below(255))});  // aam 0 would fault
    } else {
      EmitBytes(g, {op});
      // CF is defined for daa das aaa aas: keep it in a register.
      if (HasWritable8(l) && rng_.OneIn(2)) {
        Emit(g, {0x0f, 0x92}, 0, Register(WritableReg8(l)));  // setc r8
      }
    }
    Emit(g, {0x39}, AnyReg(), Register(AnyReg()));  // cmp r32, r32
  }

  // A little x87 and SSE, through memory and registers.
  void FloatingPoint(Group& g, const Limits& l) {
    switch (rng_.Below(8)) {
      case 0: {  // fild dword [m]
        Rm m = Memory(g, l);
        Emit(g, {0xdb}, 0, m);
        break;
      }
      case 1: {  // fld qword [m]
        Rm m = Memory(g, l);
        Emit(g, {0xdd}, 0, m);
        break;
      }
      case 2: {  // fadd dword [m] / fmul dword [m]
        Rm m = Memory(g, l);
        Emit(g, {0xd8}, uint8_t(rng_.OneIn(2) ? 0 : 1), m);
        break;
      }
      case 3: {  // fistp dword [m] / fstp qword [m]
        Rm m = Memory(g, l);
        if (rng_.OneIn(2)) {
          Emit(g, {0xdb}, 3, m);
        } else {
          Emit(g, {0xdd}, 3, m);
        }
        break;
      }
      case 4: {  // movdqu xmm, [m] / movdqu [m], xmm
        Rm m = Memory(g, l);
        Emit(g, {0xf3, 0x0f, uint8_t(rng_.OneIn(2) ? 0x6f : 0x7f)}, uint8_t(rng_.Below(8)), m);
        break;
      }
      case 5: {  // paddd / pxor / pmullw / addps xmm, xmm
        static const std::vector<uint8_t> kOps[] = {
            {0x66, 0x0f, 0xfe}, {0x66, 0x0f, 0xef}, {0x66, 0x0f, 0xd5}, {0x0f, 0x58}};
        const auto& op = kOps[rng_.Below(4)];
        g.bytes.insert(g.bytes.end(), op.begin(), op.end());
        EmitBytes(g, {uint8_t(0xc0 | rng_.Below(8) << 3 | rng_.Below(8))});
        break;
      }
      case 6: {  // movd r32, xmm / movd xmm, r/m32
        if (rng_.OneIn(2)) {
          EmitBytes(g, {0x66, 0x0f, 0x7e, uint8_t(0xc0 | rng_.Below(8) << 3 | WritableReg(l))});
        } else {
          Rm rm = ReadRm(g, l);
          Emit(g, {0x66, 0x0f, 0x6e}, uint8_t(rng_.Below(8)), rm);
        }
        break;
      }
      default:  // comisd xmm, xmm: sets ZF PF CF
        EmitBytes(g, {0x66, 0x0f, 0x2f, uint8_t(0xc0 | rng_.Below(8) << 3 | rng_.Below(8))});
        break;
    }
  }

  /// Groups for a nested body, appended to `g`, about `insns` instructions.
  void Body(Group& g, const Limits& l, int insns) {
    int count = 0;
    while (count < insns) {
      Group inner = RandomGroup(l);
      count += inner.insns;
      g.bytes.insert(g.bytes.end(), inner.bytes.begin(), inner.bytes.end());
      g.insns += inner.insns;
    }
  }

  // jcc/jmp/jecxz forward over a few instructions (rel8 or rel32), and a
  // jmp over bytes that are never run.
  void ForwardBranch(Group& g, const Limits& l) {
    Limits inner = l;
    inner.control = false;
    Group skipped;
    Body(skipped, inner, 1 + int(rng_.Below(4)));
    const uint32_t len = uint32_t(skipped.bytes.size());
    const uint32_t kind = rng_.Below(5);
    if (kind == 0 && len < 128) {  // jecxz
      EmitBytes(g, {0xe3, uint8_t(len)});
    } else if (kind == 1) {  // jmp over junk
      Group junk;
      for (uint32_t i = 0, n = 1 + rng_.Below(12); i < n; ++i) {
        junk.bytes.push_back(uint8_t(rng_.Next()));
      }
      skipped = junk;
      EmitBytes(g, {0xeb, uint8_t(junk.bytes.size())});
    } else if (len < 128 && rng_.OneIn(2)) {
      EmitBytes(g, {uint8_t(0x70 | rng_.Below(16)), uint8_t(len)});
    } else {
      EmitBytes(g, {0x0f, uint8_t(0x80 | rng_.Below(16))});
      Put32(g.bytes, len);
    }
    g.bytes.insert(g.bytes.end(), skipped.bytes.begin(), skipped.bytes.end());
    g.insns += skipped.insns;
  }

  // mov ecx, n; top: body (no ecx writes); loop/loope/loopne top (or dec
  // ecx; jnz top).
  void Loop(Group& g, const Limits& l) {
    if (!(l.writable & Bit(kRegEcx))) return;
    Limits inner = l;
    inner.writable &= ~Bit(kRegEcx);
    inner.control = false;
    // The body first: its length decides the rel8 back to its start.
    Group body;
    do {
      body = Group();
      Body(body, inner, 1 + int(rng_.Below(4)));
    } while (body.bytes.size() > 120);
    EmitBytes(g, {0xb9});
    Put32(g.bytes, 1 + rng_.Below(4));
    g.bytes.insert(g.bytes.end(), body.bytes.begin(), body.bytes.end());
    g.insns += body.insns;
    const uint32_t kind = rng_.Below(4);
    if (kind == 3) {  // dec ecx; jnz top
      EmitBytes(g, {0x49});
      EmitBytes(g, {0x75, uint8_t(-int32_t(body.bytes.size()) - 3)});
    } else {  // loop, loope, loopne top
      EmitBytes(g, {uint8_t(0xe2 - kind), uint8_t(-int32_t(body.bytes.size()) - 2)});
    }
  }

  // [push imm;] call f; jmp over; f: body; ret [4]; over:
  void Call(Group& g, const Limits& l) {
    Limits inner = l;
    inner.stack = false;
    inner.control = false;
    inner.esp_memory = false;
    const bool arg = rng_.OneIn(3);
    if (arg) {
      EmitBytes(g, {0x68});
      Put32(g.bytes, rng_.Value());
    }
    Group body;
    Body(body, inner, 1 + int(rng_.Below(5)));
    if (arg) {
      EmitBytes(body, {0xc2, 0x04, 0x00});
    } else {
      EmitBytes(body, {0xc3});
    }
    EmitBytes(g, {0xe8, 0x05, 0x00, 0x00, 0x00});  // call f (after the jmp)
    EmitBytes(g, {0xe9});
    Put32(g.bytes, uint32_t(body.bytes.size()));
    g.bytes.insert(g.bytes.end(), body.bytes.begin(), body.bytes.end());
    g.insns += body.insns;
  }

  // Indirect transfers to local code, position-independent so that
  // shrinking can move them: call $+5; pop r; lea r, [r + (target - pop)];
  // then call r / call [ebx+d] (to `f: body; ret` behind a jmp), or
  // jmp r / jmp [ebx+d] / push r; ret (over a few junk bytes).
  void IndirectBranch(Group& g, const Limits& l) {
    const uint8_t r = WritableReg(l);
    const int32_t slot = int32_t(rng_.Below(0x8000)) - 0x4000;
    std::vector<uint8_t> transfer;
    std::vector<uint8_t> tail;  // what follows the transfer, up to the target
    int transfer_insns = 1, tail_insns = 0;
    const bool call = rng_.OneIn(2);
    const uint32_t how = rng_.Below(3);
    auto store_slot = [&] {  // mov [ebx + slot], r
      transfer = {0x89, uint8_t(0x83 | r << 3)};
      Put32(transfer, uint32_t(slot));
      transfer_insns = 2;
    };
    if (call) {
      if (how == 0) {
        transfer = {0xff, uint8_t(0xd0 | r)};  // call r
      } else {
        store_slot();
        transfer.insert(transfer.end(), {0xff, 0x93});  // call [ebx + slot]
        Put32(transfer, uint32_t(slot));
      }
      Limits inner = l;
      inner.stack = false;
      inner.control = false;
      inner.esp_memory = false;
      Group body;
      Body(body, inner, 1 + int(rng_.Below(4)));
      EmitBytes(body, {0xc3});
      tail = {0xe9};  // jmp over the function
      Put32(tail, uint32_t(body.bytes.size()));
      tail_insns = 1;
      // The target is the function: after the jmp. Append the body after
      // the offsets are fixed below.
      const uint32_t disp = uint32_t(1 + 6 + transfer.size() + tail.size());
      EmitPrelude(g, r, disp);
      g.bytes.insert(g.bytes.end(), transfer.begin(), transfer.end());
      g.bytes.insert(g.bytes.end(), tail.begin(), tail.end());
      g.bytes.insert(g.bytes.end(), body.bytes.begin(), body.bytes.end());
      g.insns += transfer_insns + tail_insns + body.insns;
      return;
    }
    if (how == 0) {
      transfer = {0xff, uint8_t(0xe0 | r)};  // jmp r
    } else if (how == 1) {
      store_slot();
      transfer.insert(transfer.end(), {0xff, 0xa3});  // jmp [ebx + slot]
      Put32(transfer, uint32_t(slot));
    } else {
      transfer = {uint8_t(0x50 | r), 0xc3};  // push r; ret
      transfer_insns = 2;
    }
    for (uint32_t i = 0, n = rng_.Below(6); i < n; ++i) tail.push_back(uint8_t(rng_.Next()));
    EmitPrelude(g, r, uint32_t(1 + 6 + transfer.size() + tail.size()));
    g.bytes.insert(g.bytes.end(), transfer.begin(), transfer.end());
    g.bytes.insert(g.bytes.end(), tail.begin(), tail.end());
    g.insns += transfer_insns;
  }

  // call $+5; pop r; lea r, [r + disp32]: r = address of the pop + disp.
  static void EmitPrelude(Group& g, uint8_t r, uint32_t disp) {
    EmitBytes(g, {0xe8, 0x00, 0x00, 0x00, 0x00});
    EmitBytes(g, {uint8_t(0x58 | r)});
    EmitBytes(g, {0x8d, uint8_t(0x80 | r << 3 | r)});
    Put32(g.bytes, disp);
  }

  // cmpxchg8b [m] (edx:eax vs the qword; ecx:ebx is the new value).
  void CompareExchange8(Group& g, const Limits& l) {
    if ((l.writable & (Bit(kRegEax) | Bit(kRegEdx))) != (Bit(kRegEax) | Bit(kRegEdx))) return;
    Rm m = Memory(g, l);
    if (rng_.OneIn(2)) g.bytes.push_back(0xf0);
    Emit(g, {0x0f, 0xc7}, 1, m);
  }

  // enter n, 0/1 ... leave (ebp is the frame: not written inside), and
  // pushad ... popad.
  void Frame(Group& g, const Limits& l) {
    Limits inner = l;
    inner.control = false;
    if (rng_.OneIn(2) && (l.writable & Bit(kRegEbp))) {
      inner.writable &= ~Bit(kRegEbp);
      EmitBytes(g, {0xc8, uint8_t(rng_.Below(64)), 0x00, uint8_t(rng_.Below(2))});
      Body(g, inner, 1 + int(rng_.Below(4)));
      EmitBytes(g, {0xc9});
    } else {
      // popad reloads ebx from the stack: no [esp + disp] writes in between.
      inner.stack = false;
      inner.esp_memory = false;
      const bool w16 = rng_.OneIn(3);
      if (w16) g.bytes.push_back(0x66);
      EmitBytes(g, {0x60});
      Body(g, inner, 1 + int(rng_.Below(4)));
      if (w16) g.bytes.push_back(0x66);
      EmitBytes(g, {0x61});
    }
  }

  Group RandomGroup(const Limits& l) {
    Group g;
    while (g.insns == 0) {
      const uint32_t pick = rng_.Below(100);
      if (pick < 22) {
        Alu(g, l);
      } else if (pick < 30) {
        Unary(g, l);
      } else if (pick < 38) {
        Shift(g, l);
      } else if (pick < 54) {
        TwoOperand(g, l);
      } else if (pick < 59) {
        Exchange(g, l);
      } else if (pick < 63) {
        IncDecShort(g, l);
      } else if (pick < 67) {
        FlagOps(g, l);
      } else if (pick < 69) {
        Divide(g, l);
      } else if (pick < 76) {
        if (l.stack) Stack(g, l);
      } else if (pick < 80) {
        String(g, l);
      } else if (pick < 82) {
        Bcd(g, l);
      } else if (pick < 86) {
        FloatingPoint(g, l);
      } else if (pick < 93) {
        if (l.control) ForwardBranch(g, l);
      } else if (pick < 96) {
        if (l.control) Loop(g, l);
      } else if (pick < 97) {
        if (l.control && l.stack) Call(g, l);
      } else if (pick < 98) {
        if (l.control && l.stack && l.esp_memory) IndirectBranch(g, l);
      } else if (pick < 99) {
        CompareExchange8(g, l);
      } else {
        if (l.control && l.stack) Frame(g, l);
      }
    }
    return g;
  }

  Rng rng_;
};

std::vector<uint8_t> Concat(const std::vector<Group>& groups) {
  std::vector<uint8_t> code;
  for (const Group& g : groups) code.insert(code.end(), g.bytes.begin(), g.bytes.end());
  return code;
}

/// The guest code as `bt86 explain` would list it (linear disassembly; bytes
/// that a jmp skips may decode oddly).
std::string Listing(const std::vector<uint8_t>& code) {
  static const Decoder decoder;
  std::ostringstream os;
  size_t at = 0;
  while (at < code.size()) {
    uint8_t buf[ZYDIS_MAX_INSTRUCTION_LENGTH] = {};
    std::memcpy(buf, code.data() + at, std::min(sizeof(buf), code.size() - at));
    DecodedInsn d;
    const uint32_t eip = kCodeAddress + uint32_t(at);
    char addr[16];
    std::snprintf(addr, sizeof(addr), "%08x  ", eip);
    if (!decoder.Decode(buf, sizeof(buf), eip, &d) || at + d.length() > code.size()) {
      char b[8];
      std::snprintf(b, sizeof(b), "%02x", code[at]);
      os << "    " << addr << b << "  (bad)\n";
      at += 1;
      continue;
    }
    std::vector<uint8_t> bytes(code.begin() + at, code.begin() + at + d.length());
    std::string hex = HexBytes(bytes);
    hex.resize(std::max<size_t>(hex.size(), 30), ' ');
    os << "    " << addr << hex << "  " << decoder.Format(d) << "\n";
    at += d.length();
  }
  return os.str();
}

uint64_t SeedFromEnvironment() {
  const char* s = std::getenv("BT86_RANDOM_SEED");
  if (s == nullptr || *s == '\0') return kDefaultSeed;
  if (std::string(s) == "time") {
    return uint64_t(std::chrono::steady_clock::now().time_since_epoch().count());
  }
  return std::strtoull(s, nullptr, 0);
}

int SequencesFromEnvironment() {
  const char* s = std::getenv("BT86_RANDOM_SEQUENCES");
  if (s == nullptr || *s == '\0') return kDefaultSequences;
  return std::max(1, std::atoi(s));
}

struct RandomConfig {
  uint32_t max_block_instructions;
  bool chaining;
};

void PrintTo(const RandomConfig& c, std::ostream* os) {
  *os << "{block " << c.max_block_instructions << ", chaining " << c.chaining << "}";
}

std::string RandomConfigName(const ::testing::TestParamInfo<RandomConfig>& info) {
  return "Block" + std::to_string(info.param.max_block_instructions) +
         (info.param.chaining ? "_Chained" : "_Unchained");
}

class RandomDifferentialTest : public ::testing::TestWithParam<RandomConfig> {
 protected:
  Config ConfigFor(int sequence) const {
    Config c;
    c.max_block_instructions = GetParam().max_block_instructions;
    c.chaining = GetParam().chaining;
    c.inline_lookup = sequence % 2 == 0;
    return c;
  }

  static DiffCase CaseFor(const std::vector<Group>& groups, const CpuState& in) {
    DiffCase c;
    c.code = Concat(groups);
    c.in = in;
    c.arena = DiffCase::DefaultArena();
    c.expect = Expect::kCompletes;
    return c;
  }

  /// Greedily drops groups while the comparison still fails.
  static std::vector<Group> Shrink(std::vector<Group> groups, const CpuState& in,
                                   const Config& config) {
    bool progress = true;
    for (int pass = 0; progress && pass < 4; ++pass) {
      progress = false;
      for (size_t i = 0; i < groups.size() && groups.size() > 1;) {
        if (groups[i].pinned) {
          ++i;
          continue;
        }
        std::vector<Group> fewer = groups;
        fewer.erase(fewer.begin() + long(i));
        if (!CompareRuns(CaseFor(fewer, in), config)) {
          groups = std::move(fewer);
          progress = true;
        } else {
          ++i;
        }
      }
    }
    return groups;
  }
};

TEST_P(RandomDifferentialTest, InstructionStreams) {
  const uint64_t seed = SeedFromEnvironment();
  const int sequences = SequencesFromEnvironment();
  const uint64_t param_salt =
      uint64_t(GetParam().max_block_instructions) << 40 ^ uint64_t(GetParam().chaining) << 56;
  int failures = 0;
  long total_insns = 0;
  for (int s = 0; s < sequences; ++s) {
    Generator gen(seed ^ param_salt ^ (uint64_t(s) * 0x9e3779b97f4a7c15ull));
    const CpuState in = gen.RandomInput();
    const std::vector<Group> groups = gen.Sequence(kInsnsPerSequence);
    for (const Group& g : groups) total_insns += g.insns;
    const Config config = ConfigFor(s);
    ::testing::AssertionResult r = CompareRuns(CaseFor(groups, in), config);
    if (r) continue;
    if (++failures > kMaxReportedFailures) continue;
    const std::vector<Group> small = Shrink(groups, in, config);
    const DiffCase c = CaseFor(small, in);
    ADD_FAILURE() << "random sequence " << s << " differs (reproduce with BT86_RANDOM_SEED=" << seed
                  << ")\n"
                  << "shrunk from " << groups.size() << " to " << small.size()
                  << " instruction groups:\n"
                  << Listing(c.code) << "bytes: " << HexBytes(c.code) << "\n"
                  << CompareRuns(c, config).message() << "\nfull sequence:\n"
                  << Listing(Concat(groups));
  }
  EXPECT_EQ(failures, 0) << "of " << sequences << " sequences (seed " << seed << ")";
  RecordProperty("guest_instructions", std::to_string(total_insns));
  std::printf("[ random   ] %d sequences, %ld instructions, seed %llu\n", sequences, total_insns,
              static_cast<unsigned long long>(seed));
}

INSTANTIATE_TEST_SUITE_P(Configs, RandomDifferentialTest,
                         ::testing::Values(RandomConfig{1, false}, RandomConfig{1, true},
                                           RandomConfig{64, false}, RandomConfig{64, true}),
                         RandomConfigName);

}  // namespace
}  // namespace bt86::oracle
