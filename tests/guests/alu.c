/*
 * alu: integer arithmetic and its flags, checked against values worked out
 * from the Intel SDM vol. 2 pseudo-code (instruction pages) and vol. 1 3.4.3
 * (EFLAGS). Every check masks the flags the SDM leaves undefined for that
 * instruction (AF after logic ops, everything but CF/OF after MUL, ...).
 *
 * Sections: add/adc/sub/sbb/cmp at 8, 16 and 32 bits; inc/dec/neg/not;
 * logic; operand forms (immediate, memory source and destination); mul and
 * imul in all forms; div and idiv including 64/32 division and libgcc's
 * 64-bit C division; shifts and rotates with CF/OF; shld/shrd; bt/bts/btr/
 * btc on registers and bit strings in memory, bsf/bsr; setcc and cmovcc
 * for every condition; flag instructions (stc clc cmc std cld lahf sahf,
 * pushf/popf and the fixed EFLAGS bits).
 */
#include "check.h"

enum Op { kOpAdd, kOpAdc, kOpSub, kOpSbb, kOpCmp, kOpAnd, kOpOr, kOpXor, kOpTest };

/* Loads EFLAGS with fin, runs "insn src, dst", returns EFLAGS in fout. */
#define RUN2(insn, cons, dst, src, fin, fout)                                            \
  __asm__ volatile("pushl %[fi]\n\tpopfl\n\t" insn " %[s], %[d]\n\tpushfl\n\tpopl %[fo]" \
                   : [d] "+" cons(dst), [fo] "=&r"(fout)                                 \
                   : [s] cons(src), [fi] "r"(fin)                                        \
                   : "cc")

#define EXEC_BODY(sfx, cons)                \
  uint32_t f = 0;                           \
  switch (op) {                             \
    case kOpAdd:                            \
      RUN2("add" sfx, cons, a, b, fin, f);  \
      break;                                \
    case kOpAdc:                            \
      RUN2("adc" sfx, cons, a, b, fin, f);  \
      break;                                \
    case kOpSub:                            \
      RUN2("sub" sfx, cons, a, b, fin, f);  \
      break;                                \
    case kOpSbb:                            \
      RUN2("sbb" sfx, cons, a, b, fin, f);  \
      break;                                \
    case kOpCmp:                            \
      RUN2("cmp" sfx, cons, a, b, fin, f);  \
      break;                                \
    case kOpAnd:                            \
      RUN2("and" sfx, cons, a, b, fin, f);  \
      break;                                \
    case kOpOr:                             \
      RUN2("or" sfx, cons, a, b, fin, f);   \
      break;                                \
    case kOpXor:                            \
      RUN2("xor" sfx, cons, a, b, fin, f);  \
      break;                                \
    case kOpTest:                           \
      RUN2("test" sfx, cons, a, b, fin, f); \
      break;                                \
  }                                         \
  *flags = f;                               \
  return a;

static __attribute__((noinline)) uint32_t Exec32(enum Op op, uint32_t a, uint32_t b, uint32_t fin,
                                                 uint32_t* flags) {
  EXEC_BODY("l", "r")
}
static __attribute__((noinline)) uint16_t Exec16(enum Op op, uint16_t a, uint16_t b, uint32_t fin,
                                                 uint32_t* flags) {
  EXEC_BODY("w", "r")
}
static __attribute__((noinline)) uint8_t Exec8(enum Op op, uint8_t a, uint8_t b, uint32_t fin,
                                               uint32_t* flags) {
  EXEC_BODY("b", "q")
}

struct AluCase {
  enum Op op;
  uint32_t a, b, cf_in, result, flags;
};

/* Flags worked out per SDM ADD/ADC/SUB/SBB/CMP: CF = carry/borrow out of
 * the top bit, AF = carry/borrow out of bit 3, OF = signed overflow, PF =
 * even parity of the low byte. */
static const struct AluCase kAddSub32[] = {
    {kOpAdd, 0x7fffffff, 0x00000001, 0, 0x80000000, 0x894},
    {kOpAdd, 0xffffffff, 0x00000001, 0, 0x00000000, 0x055},
    {kOpAdd, 0x00000001, 0x00000002, 0, 0x00000003, 0x004},
    {kOpAdd, 0x80000000, 0x80000000, 0, 0x00000000, 0x845},
    {kOpAdd, 0x0000000f, 0x00000001, 0, 0x00000010, 0x010},
    {kOpAdc, 0xffffffff, 0x00000000, 1, 0x00000000, 0x055},
    {kOpAdc, 0x00000001, 0x00000001, 1, 0x00000003, 0x004},
    {kOpAdc, 0x7fffffff, 0x00000000, 1, 0x80000000, 0x894},
    {kOpAdc, 0x12345678, 0x9abcdef0, 0, 0xacf13568, 0x080},
    {kOpSub, 0x00000000, 0x00000001, 0, 0xffffffff, 0x095},
    {kOpSub, 0x80000000, 0x00000001, 0, 0x7fffffff, 0x814},
    {kOpSub, 0x00000005, 0x00000005, 0, 0x00000000, 0x044},
    {kOpSub, 0x7fffffff, 0xffffffff, 0, 0x80000000, 0x885},
    {kOpSub, 0x00000010, 0x00000001, 0, 0x0000000f, 0x014},
    {kOpSbb, 0x00000000, 0x00000000, 1, 0xffffffff, 0x095},
    {kOpSbb, 0x0000000a, 0x00000003, 1, 0x00000006, 0x004},
    {kOpSbb, 0x80000000, 0x7fffffff, 1, 0x00000000, 0x854},
    {kOpSbb, 0xffffffff, 0xffffffff, 1, 0xffffffff, 0x095},
    {kOpCmp, 0x00000003, 0x00000005, 0, 0x00000003, 0x091},
    {kOpCmp, 0x00000005, 0x00000003, 0, 0x00000005, 0x000},
    {kOpCmp, 0x80000000, 0x7fffffff, 0, 0x80000000, 0x810},
    {kOpCmp, 0xdeadbeef, 0xdeadbeef, 1, 0xdeadbeef, 0x044},
};
static const struct AluCase kAddSub16[] = {
    {kOpAdd, 0x7fff, 0x0001, 0, 0x8000, 0x894}, {kOpAdd, 0xffff, 0x0001, 0, 0x0000, 0x055},
    {kOpAdc, 0xfffe, 0x0001, 1, 0x0000, 0x055}, {kOpSub, 0x0000, 0x0001, 0, 0xffff, 0x095},
    {kOpSub, 0x8000, 0x0001, 0, 0x7fff, 0x814}, {kOpSbb, 0x1234, 0x1234, 1, 0xffff, 0x095},
    {kOpCmp, 0x8000, 0x0001, 0, 0x8000, 0x814},
};
static const struct AluCase kAddSub8[] = {
    {kOpAdd, 0x80, 0x80, 0, 0x00, 0x845}, {kOpAdd, 0x7f, 0x01, 0, 0x80, 0x890},
    {kOpAdd, 0x0f, 0x01, 0, 0x10, 0x010}, {kOpAdc, 0xff, 0x00, 1, 0x00, 0x055},
    {kOpSub, 0x00, 0x01, 0, 0xff, 0x095}, {kOpSub, 0x80, 0x01, 0, 0x7f, 0x810},
    {kOpSbb, 0x10, 0x0f, 1, 0x00, 0x054}, {kOpCmp, 0x7f, 0x80, 0, 0x7f, 0x885},
};
/* AND/OR/XOR/TEST: CF = OF = 0, SF ZF PF from the result, AF undefined. */
static const struct AluCase kLogic32[] = {
    {kOpAnd, 0xf0f0f0f0, 0x0ff00ff0, 1, 0x00f000f0, 0x004},
    {kOpAnd, 0x80000000, 0xffffffff, 1, 0x80000000, 0x084},
    {kOpOr, 0x80000000, 0x00000001, 1, 0x80000001, 0x080},
    {kOpOr, 0x00000000, 0x00000000, 0, 0x00000000, 0x044},
    {kOpXor, 0x12345678, 0x12345678, 1, 0x00000000, 0x044},
    {kOpXor, 0xffff0000, 0x0000ff07, 0, 0xffffff07, 0x080},
    {kOpTest, 0x00000100, 0x000000ff, 1, 0x00000100, 0x044},
    {kOpTest, 0x80000003, 0x80000001, 0, 0x80000003, 0x080},
};

static char label[64];

/* Builds "<op> a,b" into label for the failure messages. */
static const char* Label(const char* kind, uint32_t i) {
  static const char kHex[] = "0123456789abcdef";
  int n = 0;
  while (*kind && n < 50) label[n++] = *kind++;
  label[n++] = '#';
  if (i >= 10) label[n++] = kHex[i / 10];
  label[n++] = kHex[i % 10];
  label[n] = 0;
  return label;
}

static void RunTable(const char* name, const struct AluCase* t, uint32_t n, int width,
                     uint32_t mask) {
  for (uint32_t i = 0; i < n; i++) {
    uint32_t f = 0, r = 0, fin = 0x2 | (t[i].cf_in ? kFlagCf : 0);
    if (width == 32) r = Exec32(t[i].op, t[i].a, t[i].b, fin, &f);
    if (width == 16) r = Exec16(t[i].op, (uint16_t)t[i].a, (uint16_t)t[i].b, fin, &f);
    if (width == 8) r = Exec8(t[i].op, (uint8_t)t[i].a, (uint8_t)t[i].b, fin, &f);
    check_u32(Label(name, i), r, t[i].result);
    check_u32(Label(name, i), f & mask, t[i].flags);
  }
}

/* One-operand instructions on a 32-bit register, with flags in and out. */
#define RUN1(insn, dst, fin, fout)                                                 \
  __asm__ volatile("pushl %[fi]\n\tpopfl\n\t" insn " %[d]\n\tpushfl\n\tpopl %[fo]" \
                   : [d] "+r"(dst), [fo] "=&r"(fout)                               \
                   : [fi] "r"(fin)                                                 \
                   : "cc")

static void TestIncDecNegNot(void) {
  check_section("alu.inc_dec_neg_not");
  uint32_t v, f;
  /* INC/DEC leave CF alone. */
  v = 0xffffffff;
  RUN1("incl", v, 0x2 | kFlagCf, f);
  check_u32("inc 0xffffffff", v, 0);
  check_u32("inc 0xffffffff flags", f & kFlagsArith, 0x055);
  v = 0x80000000;
  RUN1("decl", v, 0x2, f);
  check_u32("dec 0x80000000", v, 0x7fffffff);
  check_u32("dec 0x80000000 flags", f & kFlagsArith, 0x814);
  v = 0x7fffffff;
  RUN1("incl", v, 0x2, f);
  check_u32("inc 0x7fffffff flags", f & kFlagsArith, 0x894);
  /* NEG: CF = (source != 0). */
  v = 0;
  RUN1("negl", v, 0x2 | kFlagCf, f);
  check_u32("neg 0", v, 0);
  check_u32("neg 0 flags", f & kFlagsArith, 0x044);
  v = 1;
  RUN1("negl", v, 0x2, f);
  check_u32("neg 1", v, 0xffffffff);
  check_u32("neg 1 flags", f & kFlagsArith, 0x095);
  v = 0x80000000;
  RUN1("negl", v, 0x2, f);
  check_u32("neg 0x80000000", v, 0x80000000);
  check_u32("neg 0x80000000 flags", f & kFlagsArith, 0x885);
  /* NOT changes no flag. */
  v = 0x0f0f0f0f;
  RUN1("notl", v, 0x2 | kFlagsArith, f);
  check_u32("not", v, 0xf0f0f0f0);
  check_u32("not flags", f & kFlagsArith, kFlagsArith);
  uint8_t b = 0x7f;
  __asm__ volatile("pushl $2\n\tpopfl\n\tincb %[b]\n\tpushfl\n\tpopl %[f]"
                   : [b] "+q"(b), [f] "=r"(f)
                   :
                   : "cc");
  check_u32("incb 0x7f", b, 0x80);
  check_u32("incb 0x7f flags", f & kFlagsArith, 0x890);
}

/* Immediate, memory-source and memory-destination forms. */
static void TestForms(void) {
  check_section("alu.forms");
  volatile uint32_t mem = 0x7ffffff0;
  uint32_t r, f;
  __asm__ volatile("addl $0x10, %[m]\n\tpushfl\n\tpopl %[f]" : [m] "+m"(mem), [f] "=r"(f) : : "cc");
  check_u32("add imm8->mem", mem, 0x80000000);
  check_u32("add imm8->mem flags", f & kFlagsArith, 0x884);
  r = 5;
  __asm__ volatile("subl %[m], %[r]\n\tpushfl\n\tpopl %[f]"
                   : [r] "+r"(r), [f] "=r"(f)
                   : [m] "m"(mem)
                   : "cc");
  check_u32("sub mem->reg", r, 0x80000005);
  check_u32("sub mem->reg flags", f & kFlagsArith, 0x885);
  r = 0x12345678;
  __asm__ volatile("andl $0xffffff00, %[r]" : [r] "+r"(r) : : "cc");
  check_u32("and imm32", r, 0x12345600);
  r = 0x100;
  __asm__ volatile("stc\n\tadcl $-1, %[r]" : [r] "+r"(r) : : "cc");
  check_u32("adc imm8 sign-extended", r, 0x100);
  mem = 0xffff00ff;
  __asm__ volatile("xorw $0x0ff0, %[m]" : [m] "+m"(mem) : : "cc");
  check_u32("xor imm16->mem16", mem, 0xffff0f0f);
  __asm__ volatile("orb $0x80, %[m]" : [m] "+m"(mem) : : "cc");
  check_u32("or imm8->mem8", mem, 0xffff0f8f);
  __asm__ volatile("cmpl $0xffff0f8f, %[m]\n\tpushfl\n\tpopl %[f]"
                   : [f] "=r"(f)
                   : [m] "m"(mem)
                   : "cc");
  check_u32("cmp imm32 mem flags", f & kFlagsArith, 0x044);
  r = 3;
  __asm__ volatile("addl %[r], %[m]" : [m] "+m"(mem) : [r] "r"(r) : "cc");
  check_u32("add reg->mem", mem, 0xffff0f92);
  r = 0x80;
  __asm__ volatile("addb $0x80, %b[r]\n\tpushfl\n\tpopl %[f]" : [r] "+q"(r), [f] "=r"(f) : : "cc");
  check_u32("add imm8->reg8 keeps bits 8-31", r, 0);
  check_u32("add imm8->reg8 flags", f & kFlagsArith, 0x845);
  r = 0x1234ff;
  __asm__ volatile("addb $1, %h[r]" : [r] "+Q"(r) : : "cc");
  check_u32("add imm8->ah-style high byte", r, 0x1235ff);
}

static void TestMul(void) {
  check_section("alu.mul_imul");
  uint32_t lo, hi, f;
  const uint32_t kMask = kFlagCf | kFlagOf; /* the only flags MUL/IMUL define */
  __asm__("mull %[b]\n\tpushfl\n\tpopl %[f]"
          : "=a"(lo), "=d"(hi), [f] "=r"(f)
          : "a"(0xffffffffu), [b] "r"(0xffffffffu)
          : "cc");
  check_u32("mul32 lo", lo, 0x00000001);
  check_u32("mul32 hi", hi, 0xfffffffe);
  check_u32("mul32 CF/OF", f & kMask, kFlagCf | kFlagOf);
  __asm__("mull %[b]\n\tpushfl\n\tpopl %[f]"
          : "=a"(lo), "=d"(hi), [f] "=r"(f)
          : "a"(2), [b] "r"(3)
          : "cc");
  check_u32("mul32 small", lo, 6);
  check_u32("mul32 small hi", hi, 0);
  check_u32("mul32 small CF/OF", f & kMask, 0);
  volatile uint32_t m = 0x100;
  uint32_t ax = 0x1234, dx = 0xdead0000;
  __asm__("mulw %[b]\n\tpushfl\n\tpopl %[f]" : "+a"(ax), "+d"(dx), [f] "=r"(f) : [b] "m"(m) : "cc");
  check_u32("mul16 ax", ax, 0x3400);
  check_u32("mul16 dx", dx, 0xdead0012);
  check_u32("mul16 CF/OF", f & kMask, kFlagCf | kFlagOf);
  ax = 0xffff0080;
  __asm__("movb $2, %%cl\n\tmulb %%cl\n\tpushfl\n\tpopl %[f]"
          : "+a"(ax), [f] "=r"(f)
          :
          : "ecx", "cc");
  check_u32("mul8", ax, 0xffff0100);
  check_u32("mul8 CF/OF", f & kMask, kFlagCf | kFlagOf);

  __asm__("imull %[b]\n\tpushfl\n\tpopl %[f]"
          : "=a"(lo), "=d"(hi), [f] "=r"(f)
          : "a"(-2), [b] "r"(3)
          : "cc");
  check_u32("imul32 1-op lo", lo, 0xfffffffa);
  check_u32("imul32 1-op hi", hi, 0xffffffff);
  check_u32("imul32 1-op CF/OF", f & kMask, 0);
  __asm__("imull %[b]\n\tpushfl\n\tpopl %[f]"
          : "=a"(lo), "=d"(hi), [f] "=r"(f)
          : "a"(0x40000000), [b] "r"(4)
          : "cc");
  check_u32("imul32 1-op overflow lo", lo, 0);
  check_u32("imul32 1-op overflow hi", hi, 1);
  check_u32("imul32 1-op overflow CF/OF", f & kMask, kFlagCf | kFlagOf);
  lo = 0x10000;
  __asm__("imull %[b], %[a]\n\tpushfl\n\tpopl %[f]"
          : [a] "+r"(lo), [f] "=r"(f)
          : [b] "r"(0x10000)
          : "cc");
  check_u32("imul32 2-op truncated", lo, 0);
  check_u32("imul32 2-op CF/OF", f & kMask, kFlagCf | kFlagOf);
  lo = 7;
  __asm__("imull $-3, %[a], %[d]\n\tpushfl\n\tpopl %[f]"
          : [d] "=r"(hi), [f] "=r"(f)
          : [a] "r"(lo)
          : "cc");
  check_u32("imul32 3-op imm8", hi, 0xffffffeb);
  check_u32("imul32 3-op imm8 CF/OF", f & kMask, 0);
  m = 100000;
  __asm__("imull $100000, %[m], %[d]\n\tpushfl\n\tpopl %[f]"
          : [d] "=r"(hi), [f] "=r"(f)
          : [m] "m"(m)
          : "cc");
  check_u32("imul32 3-op imm32 mem", hi, 0x540be400);
  check_u32("imul32 3-op imm32 CF/OF", f & kMask, kFlagCf | kFlagOf);
  ax = 0xabcd0100;
  __asm__("imulw %w[b], %w[a]\n\tpushfl\n\tpopl %[f]"
          : [a] "+r"(ax), [f] "=r"(f)
          : [b] "r"(0x100)
          : "cc");
  check_u32("imul16 2-op", ax, 0xabcd0000);
  check_u32("imul16 2-op CF/OF", f & kMask, kFlagCf | kFlagOf);
  ax = 0x80; /* al = -128 */
  __asm__("movb $-1, %%cl\n\timulb %%cl\n\tpushfl\n\tpopl %[f]"
          : "+a"(ax), [f] "=r"(f)
          :
          : "ecx", "cc");
  check_u32("imul8 -128*-1", ax, 0x0080);
  check_u32("imul8 CF/OF", f & kMask, kFlagCf | kFlagOf);
  ax = 0xfd; /* al = -3 */
  __asm__("movb $5, %%cl\n\timulb %%cl\n\tpushfl\n\tpopl %[f]"
          : "+a"(ax), [f] "=r"(f)
          :
          : "ecx", "cc");
  check_u32("imul8 -3*5", ax, 0xfff1);
  check_u32("imul8 -3*5 CF/OF", f & kMask, 0);
}

static void TestDiv(void) {
  check_section("alu.div_idiv");
  uint32_t q, r;
  __asm__("divl %[b]" : "=a"(q), "=d"(r) : "a"(0), "d"(1), [b] "r"(2) : "cc");
  check_u32("div 2^32/2", q, 0x80000000);
  check_u32("div 2^32/2 rem", r, 0);
  __asm__("divl %[b]"
          : "=a"(q), "=d"(r)
          : "a"(0x9abcdef0), "d"(0x12345678), [b] "r"(0x87654321)
          : "cc");
  check_u32("div 0x123456789abcdef0/0x87654321", q, 0x226b9022);
  check_u32("div 0x123456789abcdef0%0x87654321", r, 0x38bc648e);
  volatile uint32_t m = 0x10;
  __asm__("divl %[m]" : "=a"(q), "=d"(r) : "a"(0x12345678), "d"(4), [m] "m"(m) : "cc");
  check_u32("div mem", q, 0x41234567);
  check_u32("div mem rem", r, 8);
  __asm__("cltd\n\tidivl %[b]" : "=a"(q), "=&d"(r) : "a"(-7), [b] "r"(2) : "cc");
  check_u32("idiv -7/2", q, (uint32_t)-3);
  check_u32("idiv -7%2", r, (uint32_t)-1);
  __asm__("cltd\n\tidivl %[b]" : "=a"(q), "=&d"(r) : "a"(7), [b] "r"(-2) : "cc");
  check_u32("idiv 7/-2", q, (uint32_t)-3);
  check_u32("idiv 7%-2", r, 1);
  __asm__("cltd\n\tidivl %[b]" : "=a"(q), "=&d"(r) : "a"(-1000000007), [b] "r"(1000) : "cc");
  check_u32("idiv -1000000007/1000", q, (uint32_t)-1000000);
  check_u32("idiv -1000000007%1000", r, (uint32_t)-7);
  uint32_t ax = 0xffff0100, dx;
  __asm__("movb $0x10, %%cl\n\tdivb %%cl" : "+a"(ax) : : "ecx", "cc");
  check_u32("div8 0x100/0x10", ax, 0xffff0010);
  ax = 0xfff9; /* ax = -7 */
  __asm__("movb $2, %%cl\n\tidivb %%cl" : "+a"(ax) : : "ecx", "cc");
  check_u32("idiv8 -7/2 (ah=rem al=quot)", ax, 0xfffd);
  ax = 0x55550000;
  dx = 0xaaaa0001;
  __asm__("movw $0x10, %%cx\n\tdivw %%cx" : "+a"(ax), "+d"(dx) : : "ecx", "cc");
  check_u32("div16 0x10000/0x10", ax, 0x55551000);
  check_u32("div16 rem keeps dx high", dx, 0xaaaa0000);
  ax = 0xfffe; /* dx:ax = -2 after cwd */
  __asm__("cwtd\n\tmovw $-2, %%cx\n\tidivw %%cx" : "+a"(ax), "=&d"(dx) : : "ecx", "cc");
  check_u32("idiv16 -2/-2", ax & 0xffff, 1);
  check_u32("idiv16 rem", dx & 0xffff, 0);

  /* 64-bit division in C: libgcc's __udivdi3/__umoddi3/__divdi3/__moddi3. */
  volatile uint64_t a = 0xfedcba9876543210ull, b = 0x12345;
  check_u64("u64 div", a / b, 0xe0004fa01c4dull);
  check_u64("u64 mod", a % b, 0x10a4full);
  b = 0x100000001ull;
  check_u64("u64 div by 33-bit", a / b, 0xfedcba97ull);
  check_u64("u64 mod by 33-bit", a % b, 0x77777779ull);
  volatile int64_t s = -0x123456789abcdefll, t = 1000;
  check_u64("s64 div", (uint64_t)(s / t), 0xffffb56f41a7821aull);
  check_u64("s64 mod", (uint64_t)(s % t), 0xfffffffffffffc81ull);
  s = (int64_t)0x8000000000000000ull;
  t = 3;
  check_u64("s64 min/3", (uint64_t)(s / t), 0xd555555555555556ull);
  check_u64("s64 min%3", (uint64_t)(s % t), 0xfffffffffffffffeull);
}

/* Shift/rotate with the count in CL; width 8/16/32 selected by suffix. */
enum ShOp { kShl, kShr, kSar, kRol, kRor, kRcl, kRcr };
struct ShiftCase {
  enum ShOp op;
  int width;
  uint32_t value, count, fin, result, flags, mask;
};

#define SHIFT(insn, cons, v, c, fin, fout)                                               \
  __asm__ volatile("pushl %[fi]\n\tpopfl\n\t" insn " %%cl, %[d]\n\tpushfl\n\tpopl %[fo]" \
                   : [d] "+" cons(v), [fo] "=&r"(fout)                                   \
                   : "c"(c), [fi] "r"(fin)                                               \
                   : "cc")
#define SHIFT_SWITCH(sfx, cons, v)          \
  switch (op) {                             \
    case kShl:                              \
      SHIFT("shl" sfx, cons, v, c, fin, f); \
      break;                                \
    case kShr:                              \
      SHIFT("shr" sfx, cons, v, c, fin, f); \
      break;                                \
    case kSar:                              \
      SHIFT("sar" sfx, cons, v, c, fin, f); \
      break;                                \
    case kRol:                              \
      SHIFT("rol" sfx, cons, v, c, fin, f); \
      break;                                \
    case kRor:                              \
      SHIFT("ror" sfx, cons, v, c, fin, f); \
      break;                                \
    case kRcl:                              \
      SHIFT("rcl" sfx, cons, v, c, fin, f); \
      break;                                \
    case kRcr:                              \
      SHIFT("rcr" sfx, cons, v, c, fin, f); \
      break;                                \
  }

static __attribute__((noinline)) uint32_t Shift(enum ShOp op, int width, uint32_t v, uint32_t c,
                                                uint32_t fin, uint32_t* flags) {
  uint32_t f = 0;
  if (width == 32) {
    SHIFT_SWITCH("l", "r", v)
  } else if (width == 16) {
    uint16_t w = (uint16_t)v;
    SHIFT_SWITCH("w", "r", w)
    v = w;
  } else {
    uint8_t b = (uint8_t)v;
    SHIFT_SWITCH("b", "q", b)
    v = b;
  }
  *flags = f;
  return v;
}

enum {
  kShMask1 = kFlagCf | kFlagPf | kFlagZf | kFlagSf | kFlagOf, /* count 1: AF undefined */
  kShMaskN = kFlagCf | kFlagPf | kFlagZf | kFlagSf,           /* count > 1: OF too */
  kRotIn = kFlagSf | kFlagZf | kFlagAf | kFlagPf,             /* rotates keep these */
};

/* Worked out from the SDM SAL/SAR/SHL/SHR and RCL/RCR/ROL/ROR pages. */
static const struct ShiftCase kShifts[] = {
    {kShl, 32, 0x80000001, 1, 0x2, 0x00000002, 0x801, kShMask1},
    {kShl, 32, 0x12345678, 4, 0x2, 0x23456780, 0x001, kShMaskN},
    {kShr, 32, 0x80000001, 1, 0x2, 0x40000000, 0x805, kShMask1},
    {kShr, 32, 0x00000001, 1, 0x2, 0x00000000, 0x045, kShMask1},
    {kSar, 32, 0x80000001, 1, 0x2, 0xc0000000, 0x085, kShMask1},
    {kSar, 32, 0x80000000, 31, 0x2, 0xffffffff, 0x084, kShMaskN},
    {kShl, 32, 0x40000000, 33, 0x2, 0x80000000, 0x884, kShMask1}, /* count & 31 = 1 */
    {kShl, 32, 0x12345678, 32, 0x8d7, 0x12345678, 0x8d5, 0x8d5},  /* count 0: no flag change */
    {kShr, 8, 0x81, 1, 0x2, 0x40, 0x801, kShMask1},
    {kShl, 16, 0x4000, 1, 0x2, 0x8000, 0x884, kShMask1},
    {kSar, 16, 0x8000, 15, 0x2, 0xffff, 0x084, kShMaskN},
    {kRol, 32, 0x80000001, 1, 0x2 | kRotIn, 0x00000003, 0x8d5, 0x8d5},
    {kRor, 32, 0x00000001, 1, 0x2 | kRotIn, 0x80000000, 0x8d5, 0x8d5},
    {kRol, 32, 0x12345678, 8, 0x2 | kRotIn, 0x34567812, 0x0d4, 0x0d5},
    {kRor, 32, 0x12345678, 4, 0x2 | kRotIn, 0x81234567, 0x0d5, 0x0d5},
    {kRol, 32, 0x12345678, 36, 0x2 | kRotIn, 0x23456781, 0x0d5, 0x0d5},
    {kRcl, 32, 0x80000000, 1, 0x3 | kRotIn, 0x00000001, 0x8d5, 0x8d5},
    {kRcr, 32, 0x00000001, 1, 0x2 | kRotIn, 0x00000000, 0x0d5, 0x8d5},
    {kRcl, 8, 0x81, 3, 0x3 | kRotIn, 0x0e, 0x0d4, 0x0d5},
    {kRcr, 16, 0x8001, 2, 0x2 | kRotIn, 0xa000, 0x0d4, 0x0d5},
    {kRol, 16, 0x8001, 4, 0x2 | kRotIn, 0x0018, 0x0d4, 0x0d5},
    {kRol, 8, 0x81, 0, 0x8d7, 0x81, 0x8d5, 0x8d5},
};

static void TestShifts(void) {
  check_section("alu.shift_rotate");
  for (uint32_t i = 0; i < sizeof kShifts / sizeof kShifts[0]; i++) {
    const struct ShiftCase* t = &kShifts[i];
    uint32_t f;
    uint32_t r = Shift(t->op, t->width, t->value, t->count, t->fin, &f);
    check_u32(Label("shift", i), r, t->result);
    check_u32(Label("shift flags", i), f & t->mask, t->flags);
  }
  /* Immediate-count and by-one encodings (C1 /4 ib, D1 /4, D0 /5). */
  uint32_t v = 0x00000081, f;
  __asm__("shll $8, %[v]" : [v] "+r"(v) : : "cc");
  check_u32("shl imm", v, 0x8100);
  __asm__("sarl $1, %[v]\n\tpushfl\n\tpopl %[f]" : [v] "+r"(v), [f] "=r"(f) : : "cc");
  check_u32("sar 1", v, 0x4080);
  check_u32("sar 1 CF", f & kFlagCf, 0);
  uint8_t b = 0x01;
  __asm__("shrb $1, %[b]\n\tpushfl\n\tpopl %[f]" : [b] "+q"(b), [f] "=r"(f) : : "cc");
  check_u32("shrb 1", b, 0);
  check_u32("shrb 1 flags", f & kShMask1, 0x045);
  volatile uint32_t m = 0xf0000001;
  __asm__("rorl $4, %[m]" : [m] "+m"(m) : : "cc");
  check_u32("ror imm mem", m, 0x1f000000);
}

static void TestShld(void) {
  check_section("alu.shld_shrd");
  uint32_t a, f;
  a = 0x12345678;
  __asm__("shldl $4, %[b], %[a]\n\tpushfl\n\tpopl %[f]"
          : [a] "+r"(a), [f] "=r"(f)
          : [b] "r"(0x9abcdef0)
          : "cc");
  check_u32("shld 4", a, 0x23456789);
  check_u32("shld 4 flags", f & kShMaskN, 0x001);
  a = 0x12345678;
  __asm__("shrdl $4, %[b], %[a]\n\tpushfl\n\tpopl %[f]"
          : [a] "+r"(a), [f] "=r"(f)
          : [b] "r"(0x9abcdef0)
          : "cc");
  check_u32("shrd 4", a, 0x01234567);
  check_u32("shrd 4 flags", f & kShMaskN, 0x001);
  a = 0x40000000;
  __asm__("shldl $1, %[b], %[a]\n\tpushfl\n\tpopl %[f]"
          : [a] "+r"(a), [f] "=r"(f)
          : [b] "r"(0x80000000)
          : "cc");
  check_u32("shld 1", a, 0x80000001);
  check_u32("shld 1 flags", f & kShMask1, 0x880);
  a = 0x12345678;
  __asm__("shrdl %%cl, %[b], %[a]\n\tpushfl\n\tpopl %[f]"
          : [a] "+r"(a), [f] "=r"(f)
          : [b] "r"(0x9abcdef0), "c"(8)
          : "cc");
  check_u32("shrd cl=8", a, 0xf0123456);
  check_u32("shrd cl=8 flags", f & kShMaskN, 0x084);
  a = 0x1234;
  __asm__("shldw $8, %w[b], %w[a]\n\tpushfl\n\tpopl %[f]"
          : [a] "+r"(a), [f] "=r"(f)
          : [b] "r"(0xabcd)
          : "cc");
  check_u32("shld16 8", a, 0x34ab);
  check_u32("shld16 8 flags", f & kShMaskN, 0x000);
  volatile uint32_t m = 0x000000ff;
  __asm__("shldl %%cl, %[b], %[m]" : [m] "+m"(m) : [b] "r"(0xf0000000), "c"(4) : "cc");
  check_u32("shld cl mem", m, 0x00000fff);
}

static void TestBits(void) {
  check_section("alu.bit_ops");
  uint32_t v, f;
  v = 0x10;
  __asm__("btl $4, %[v]\n\tpushfl\n\tpopl %[f]" : [f] "=r"(f) : [v] "r"(v) : "cc");
  check_u32("bt imm set", f & kFlagCf, kFlagCf);
  __asm__("btl %[i], %[v]\n\tpushfl\n\tpopl %[f]" : [f] "=r"(f) : [v] "r"(v), [i] "r"(36) : "cc");
  check_u32("bt reg index mod 32", f & kFlagCf, kFlagCf);
  __asm__("btl $3, %[v]\n\tpushfl\n\tpopl %[f]" : [f] "=r"(f) : [v] "r"(v) : "cc");
  check_u32("bt imm clear", f & kFlagCf, 0);
  v = 0;
  __asm__("btsl $31, %[v]\n\tpushfl\n\tpopl %[f]" : [v] "+r"(v), [f] "=r"(f) : : "cc");
  check_u32("bts", v, 0x80000000);
  check_u32("bts CF", f & kFlagCf, 0);
  v = 0xffffffff;
  __asm__("btrl %[i], %[v]\n\tpushfl\n\tpopl %[f]" : [v] "+r"(v), [f] "=r"(f) : [i] "r"(0) : "cc");
  check_u32("btr", v, 0xfffffffe);
  check_u32("btr CF", f & kFlagCf, kFlagCf);
  v = 0x0f;
  __asm__("btcl $3, %[v]\n\tpushfl\n\tpopl %[f]" : [v] "+r"(v), [f] "=r"(f) : : "cc");
  check_u32("btc", v, 0x07);
  check_u32("btc CF", f & kFlagCf, kFlagCf);

  /* A register bit offset addresses a bit string: dword (offset >> 5)
   * relative to the operand, negative offsets included. */
  static struct { uint32_t before, arr[4], after; } s;
  __asm__("btsl %[i], %[m]\n\tpushfl\n\tpopl %[f]"
          : [m] "+m"(s.arr[0]), [f] "=r"(f)
          : [i] "r"(70)
          : "cc", "memory");
  check_u32("bts bitstring 70", s.arr[2], 0x40);
  check_u32("bts bitstring 70 CF", f & kFlagCf, 0);
  __asm__("btl %[i], %[m]\n\tpushfl\n\tpopl %[f]"
          : [f] "=r"(f)
          : [m] "m"(s.arr[0]), [i] "r"(70)
          : "cc", "memory");
  check_u32("bt bitstring 70 CF", f & kFlagCf, kFlagCf);
  __asm__("btcl %[i], %[m]" : [m] "+m"(s.arr[0]) : [i] "r"(-1) : "cc", "memory");
  check_u32("btc bitstring -1 hits the dword before", s.before, 0x80000000);
  __asm__("btsl %[i], %[m]" : [m] "+m"(s.arr[0]) : [i] "r"(128) : "cc", "memory");
  check_u32("bts bitstring 128 hits the dword after", s.after, 1);
  s.arr[0] = 0x80; /* bit 7 */
  s.arr[1] = 0;    /* bit 39 of the string */
  __asm__("btl $39, %[m]\n\tpushfl\n\tpopl %[f]"
          : [f] "=r"(f)
          : [m] "m"(s.arr[0])
          : "cc", "memory");
  check_u32("bt mem imm (mod 32, no bit string)", f & kFlagCf, kFlagCf);
  uint16_t w = 0x0100;
  __asm__("btsw $1, %[w]" : [w] "+r"(w) : : "cc");
  check_u32("bts16", w, 0x0102);

  uint32_t r;
  __asm__("bsfl %[v], %[r]\n\tpushfl\n\tpopl %[f]"
          : [r] "=r"(r), [f] "=r"(f)
          : [v] "r"(0x00010000)
          : "cc");
  check_u32("bsf", r, 16);
  check_u32("bsf ZF", f & kFlagZf, 0);
  __asm__("bsrl %[v], %[r]" : [r] "=r"(r) : [v] "r"(0x00010001) : "cc");
  check_u32("bsr", r, 16);
  __asm__("bsfl %[v], %[r]" : [r] "=r"(r) : [v] "r"(0x80000000) : "cc");
  check_u32("bsf top bit", r, 31);
  __asm__("bsrl %[v], %[r]" : [r] "=r"(r) : [v] "r"(1) : "cc");
  check_u32("bsr bit 0", r, 0);
  __asm__("bsfl %[v], %[r]\n\tpushfl\n\tpopl %[f]" : [r] "=r"(r), [f] "=r"(f) : [v] "r"(0) : "cc");
  check_u32("bsf 0 sets ZF", f & kFlagZf, kFlagZf);
  r = 0xffff0000;
  __asm__("bsrw %w[v], %w[r]" : [r] "+r"(r) : [v] "r"(0x0100) : "cc");
  check_u32("bsr16", r, 0xffff0008);
}

/* The 16 condition codes in opcode order: O NO B AE E NE BE A S NS P NP L GE LE G. */
static __attribute__((noinline)) uint32_t SetccMask(uint32_t fin) {
  uint8_t r[16];
  __asm__ volatile(
      "pushl %[f]\n\tpopfl\n\t"
      "seto 0(%[p])\n\tsetno 1(%[p])\n\tsetb 2(%[p])\n\tsetae 3(%[p])\n\t"
      "sete 4(%[p])\n\tsetne 5(%[p])\n\tsetbe 6(%[p])\n\tseta 7(%[p])\n\t"
      "sets 8(%[p])\n\tsetns 9(%[p])\n\tsetp 10(%[p])\n\tsetnp 11(%[p])\n\t"
      "setl 12(%[p])\n\tsetge 13(%[p])\n\tsetle 14(%[p])\n\tsetg 15(%[p])"
      :
      : [f] "r"(fin), [p] "r"(r)
      : "memory", "cc");
  uint32_t m = 0;
  for (int i = 0; i < 16; i++) m |= (uint32_t)(r[i] & 1) << i;
  return m;
}

#define CMOV(cc, i) "movl $-1, %%eax\n\tcmov" cc " %[one], %%eax\n\tmovl %%eax, " #i "*4(%[p])\n\t"
static __attribute__((noinline)) uint32_t CmovMask(uint32_t fin) {
  uint32_t r[16];
  __asm__ volatile("pushl %[f]\n\tpopfl\n\t" CMOV("o", 0) CMOV("no", 1) CMOV("b", 2) CMOV("ae", 3)
                       CMOV("e", 4) CMOV("ne", 5) CMOV("be", 6) CMOV("a", 7) CMOV("s", 8)
                           CMOV("ns", 9) CMOV("p", 10) CMOV("np", 11) CMOV("l", 12) CMOV("ge", 13)
                               CMOV("le", 14) CMOV("g", 15)
                   :
                   : [f] "r"(fin), [p] "r"(r), [one] "m"(*(const uint32_t*)"\1\0\0\0")
                   : "eax", "memory", "cc");
  uint32_t m = 0;
  for (int i = 0; i < 16; i++) m |= (r[i] == 1 ? 1u : 0u) << i;
  return m;
}

/* EFLAGS in -> which of the 16 conditions hold (SDM vol. 1 table B-1). */
static const struct {
  uint32_t flags, mask;
} kConditions[] = {
    {0x000, 0xaaaa}, {0x001, 0xaa66}, {0x040, 0x6a5a}, {0x080, 0x59aa},
    {0x800, 0x5aa9}, {0x004, 0xa6aa}, {0x880, 0xa9a9}, {0x041, 0x6a56},
    {0x0c0, 0x595a}, {0x8c5, 0x6555}, {0x840, 0x5a59},
};

static void TestSetccCmov(void) {
  check_section("alu.setcc_cmovcc");
  for (uint32_t i = 0; i < sizeof kConditions / sizeof kConditions[0]; i++) {
    check_u32(Label("setcc", i), SetccMask(0x2 | kConditions[i].flags), kConditions[i].mask);
    check_u32(Label("cmovcc", i), CmovMask(0x2 | kConditions[i].flags), kConditions[i].mask);
  }
  /* From a real comparison: 1 - 2 is below and less, not equal. */
  uint32_t lt, ult, eq;
  __asm__("cmpl %[b], %[a]\n\tsetl %b[lt]\n\tsetb %b[ult]\n\tsete %b[eq]"
          : [lt] "=q"(lt), [ult] "=q"(ult), [eq] "=q"(eq)
          : [a] "r"(1), [b] "r"(2)
          : "cc");
  check_u32("cmp 1,2 setl", lt & 0xff, 1);
  check_u32("cmp 1,2 setb", ult & 0xff, 1);
  check_u32("cmp 1,2 sete", eq & 0xff, 0);
  uint32_t r = 0x11111111;
  __asm__("cmpl %[b], %[a]\n\tcmovgw %w[src], %w[r]"
          : [r] "+r"(r)
          : [a] "r"(-1), [b] "r"(-2), [src] "r"(0x2222)
          : "cc");
  check_u32("cmovg16", r, 0x11112222);
}

static uint32_t ReadFlags(void) {
  uint32_t f;
  __asm__ volatile("pushfl\n\tpopl %0" : "=r"(f));
  return f;
}

static void TestFlags(void) {
  check_section("alu.flag_insns");
  uint32_t f;
  /* Each instruction and the PUSHF that observes it share one asm statement:
   * the compiler may put flag-changing code between two statements. */
  __asm__ volatile("stc\n\tpushfl\n\tpopl %0" : "=r"(f) : : "cc");
  check_u32("stc", f & kFlagCf, kFlagCf);
  __asm__ volatile("stc\n\tcmc\n\tpushfl\n\tpopl %0" : "=r"(f) : : "cc");
  check_u32("cmc 1->0", f & kFlagCf, 0);
  __asm__ volatile("clc\n\tcmc\n\tpushfl\n\tpopl %0" : "=r"(f) : : "cc");
  check_u32("cmc 0->1", f & kFlagCf, kFlagCf);
  __asm__ volatile("stc\n\tclc\n\tpushfl\n\tpopl %0" : "=r"(f) : : "cc");
  check_u32("clc", f & kFlagCf, 0);
  __asm__ volatile("std\n\tpushfl\n\tpopl %0\n\tcld" : "=r"(f));
  check_u32("std", f & kFlagDf, kFlagDf);
  check_u32("cld", ReadFlags() & kFlagDf, 0);
  uint32_t ax = 0xd500;
  __asm__("sahf\n\tmovb $0, %%ah\n\tlahf" : "+a"(ax) : : "cc");
  check_u32("sahf 0xd5 / lahf", ax, 0xd700);
  ax = 0x0000;
  __asm__("sahf\n\tpushfl\n\tpopl %[f]\n\tlahf" : "+a"(ax), [f] "=r"(f) : : "cc");
  check_u32("sahf 0 / lahf", ax, 0x0200);
  check_u32("sahf 0 flags", f & kFlagsArith, 0);
  /* POPF sets every arithmetic flag; bit 1 reads 1, bits 3, 5, 15 read 0. */
  __asm__ volatile("pushl $0x8d7\n\tpopfl\n\tpushfl\n\tpopl %0" : "=r"(f) : : "cc");
  check_u32("popf arith flags", f & kFlagsArith, kFlagsArith);
  __asm__ volatile("pushl $0x802a\n\tpopfl\n\tpushfl\n\tpopl %0" : "=r"(f) : : "cc");
  check_u32("fixed EFLAGS bits", f & 0x802a, 0x0002);
  __asm__ volatile("pushl $0x402\n\tpopfl\n\tpushfl\n\tpopl %0\n\tcld" : "=r"(f) : : "cc");
  check_u32("popf DF", f & kFlagDf, kFlagDf);
  /* Flags survive a taken branch and a call. */
  __asm__ volatile("stc\n\tjmp 1f\n\t1: call 2f\n\tjmp 3f\n\t2: ret\n\t3: pushfl\n\tpopl %0"
                   : "=r"(f)
                   :
                   : "cc");
  check_u32("CF across jmp/call/ret", f & kFlagCf, kFlagCf);
}

void guest_main(uint32_t magic, uint32_t mbi) {
  (void)magic;
  (void)mbi;
  serial_puts("alu: integer arithmetic and flags\n");
  check_section("alu.add_sub_cmp32");
  RunTable("addsub32", kAddSub32, sizeof kAddSub32 / sizeof kAddSub32[0], 32, kFlagsArith);
  check_section("alu.add_sub_cmp16");
  RunTable("addsub16", kAddSub16, sizeof kAddSub16 / sizeof kAddSub16[0], 16, kFlagsArith);
  check_section("alu.add_sub_cmp8");
  RunTable("addsub8", kAddSub8, sizeof kAddSub8 / sizeof kAddSub8[0], 8, kFlagsArith);
  check_section("alu.logic");
  RunTable("logic32", kLogic32, sizeof kLogic32 / sizeof kLogic32[0], 32, kFlagsArith & ~kFlagAf);
  TestIncDecNegNot();
  TestForms();
  TestMul();
  TestDiv();
  TestShifts();
  TestShld();
  TestBits();
  TestSetccCmov();
  TestFlags();
  check_finish("alu");
}
