/*
 * branches: control flow, the part of a binary translator that is most
 * often wrong: block ends, chaining, indirect lookups and return handling.
 *
 * Sections: Jcc for all 16 conditions under 11 flag patterns, in the short
 * (rel8) and near (rel32) encodings; JECXZ/JCXZ; LOOP/LOOPE/LOOPNE (also
 * with a 0x67 prefix, which counts in CX); indirect JMP through a jump table,
 * a register and memory; indirect CALL through a function-pointer table, a
 * register and memory; RET imm16 (stdcall); recursion (fib, ackermann);
 * unusual returns (call/pop to read EIP, push/ret as a jump, a callee that
 * moves its return address, longjmp out of deep recursion); two paths
 * through the same bytes that decode differently depending on the entry
 * point.
 */
#include "check.h"

/* Condition codes in opcode order: O NO B AE E NE BE A S NS P NP L GE LE G.
 * LEA adds the bit without touching the flags the next Jcc tests. */
#define JS(cc, bit) "j" cc " 1f\n\tjmp 2f\n1:\tleal " #bit "(%[m]), %[m]\n2:\n\t"
#define JN(cc, bit) \
  "j" cc " 1f\n\tjmp 2f\n\t.fill 130, 1, 0x90\n1:\tleal " #bit "(%[m]), %[m]\n2:\n\t"
#define ALL_CC(J)                                                                              \
  J("o", 0x1)                                                                                  \
  J("no", 0x2) J("b", 0x4) J("ae", 0x8) J("e", 0x10) J("ne", 0x20) J("be", 0x40) J("a", 0x80)  \
      J("s", 0x100) J("ns", 0x200) J("p", 0x400) J("np", 0x800) J("l", 0x1000) J("ge", 0x2000) \
          J("le", 0x4000) J("g", 0x8000)

static __attribute__((noinline)) uint32_t JccShortMask(uint32_t fin) {
  uint32_t m = 0;
  __asm__ volatile("pushl %[f]\n\tpopfl\n\t" ALL_CC(JS) : [m] "+r"(m) : [f] "r"(fin) : "cc");
  return m;
}
static __attribute__((noinline)) uint32_t JccNearMask(uint32_t fin) {
  uint32_t m = 0;
  __asm__ volatile("pushl %[f]\n\tpopfl\n\t" ALL_CC(JN) : [m] "+r"(m) : [f] "r"(fin) : "cc");
  return m;
}

/* EFLAGS in -> which conditions hold (SDM vol. 1 table B-1). */
static const struct {
  uint32_t flags, mask;
} kConditions[] = {
    {0x000, 0xaaaa}, {0x001, 0xaa66}, {0x040, 0x6a5a}, {0x080, 0x59aa},
    {0x800, 0x5aa9}, {0x004, 0xa6aa}, {0x880, 0xa9a9}, {0x041, 0x6a56},
    {0x0c0, 0x595a}, {0x8c5, 0x6555}, {0x840, 0x5a59},
};

static void TestJcc(void) {
  check_section("branches.jcc");
  for (uint32_t i = 0; i < sizeof kConditions / sizeof kConditions[0]; i++) {
    check_u32("jcc rel8", JccShortMask(0x2 | kConditions[i].flags), kConditions[i].mask);
    check_u32("jcc rel32", JccNearMask(0x2 | kConditions[i].flags), kConditions[i].mask);
  }
  /* A counted loop closed by a backward Jcc. */
  uint32_t n = 0, i = 0;
  __asm__("1:\n\taddl %[i], %[n]\n\tincl %[i]\n\tcmpl $100, %[i]\n\tjb 1b"
          : [n] "+r"(n), [i] "+r"(i)
          :
          : "cc");
  check_u32("backward jb loop sum 0..99", n, 4950);
}

static void TestJecxzLoop(void) {
  check_section("branches.jecxz_loop");
  uint32_t r, c;
  __asm__("movl $0, %[r]\n\tjecxz 1f\n\tmovl $1, %[r]\n1:" : [r] "=&r"(r) : "c"(0));
  check_u32("jecxz taken", r, 0);
  __asm__("movl $0, %[r]\n\tjecxz 1f\n\tmovl $1, %[r]\n1:" : [r] "=&r"(r) : "c"(1));
  check_u32("jecxz not taken", r, 1);
  __asm__("movl $0, %[r]\n\tjcxz 1f\n\tmovl $1, %[r]\n1:" : [r] "=&r"(r) : "c"(0x10000));
  check_u32("jcxz (0x67) tests cx only", r, 0);
  c = 10;
  r = 0;
  __asm__("1:\n\tincl %[r]\n\tloop 1b" : [r] "+r"(r), "+c"(c) : : "cc");
  check_u32("loop count", r, 10);
  check_u32("loop ecx", c, 0);
  uint32_t f;
  c = 3;
  __asm__("stc\n1:\n\tloop 1b\n\tpushfl\n\tpopl %[f]" : [f] "=r"(f), "+c"(c) : : "cc");
  check_u32("loop keeps CF", f & kFlagCf, kFlagCf);
  static const uint8_t kSevens[10] = {7, 7, 7, 3, 7, 7, 7, 7, 7, 7};
  const uint8_t* p = kSevens;
  c = 10;
  __asm__("1:\n\tleal 1(%[p]), %[p]\n\tcmpb $7, -1(%[p])\n\tloope 1b"
          : [p] "+r"(p), "+c"(c)
          :
          : "cc");
  check_u32("loope stops on ZF=0: ecx", c, 6);
  check_u32("loope stops on ZF=0: index", (uint32_t)(p - kSevens), 4);
  static const uint8_t kZero[10] = {5, 6, 0, 8, 0, 1, 2, 3, 4, 5};
  p = kZero;
  c = 10;
  __asm__("1:\n\tleal 1(%[p]), %[p]\n\tcmpb $0, -1(%[p])\n\tloopne 1b"
          : [p] "+r"(p), "+c"(c)
          :
          : "cc");
  check_u32("loopne stops on ZF=1: ecx", c, 7);
  p = kSevens;
  c = 3;
  __asm__("1:\n\tleal 1(%[p]), %[p]\n\tcmpb $7, -1(%[p])\n\tloope 1b"
          : [p] "+r"(p), "+c"(c)
          :
          : "cc");
  check_u32("loope stops on ecx=0", c, 0);
  c = 0x10002;
  r = 0;
  __asm__("1:\n\tincl %[r]\n\t.byte 0x67\n\tloop 1b" : [r] "+r"(r), "+c"(c) : : "cc");
  check_u32("addr16 loop counts in cx: iterations", r, 2);
  check_u32("addr16 loop counts in cx: ecx", c, 0x10000);
}

/* Jump table in assembly: case i returns 100 + i * i. */
uint32_t AsmSwitch(uint32_t i);
__asm__(
    ".text\n"
    ".globl AsmSwitch\n"
    "AsmSwitch:\n"
    "  movl 4(%esp), %eax\n"
    "  cmpl $5, %eax\n"
    "  ja 9f\n"
    "  jmp *branches_table(,%eax,4)\n"
    "0: movl $100, %eax\n  ret\n"
    "1: movl $101, %eax\n  ret\n"
    "2: movl $104, %eax\n  ret\n"
    "3: movl $109, %eax\n  ret\n"
    "4: movl $116, %eax\n  ret\n"
    "5: movl $125, %eax\n  ret\n"
    "9: movl $-1, %eax\n  ret\n"
    ".section .rodata\n"
    ".p2align 2\n"
    "branches_table: .long 0b, 1b, 2b, 3b, 4b, 5b\n"
    ".text\n");

/* A C switch whose cases compute different things, dense enough for gcc to
 * emit a jump table (jmp *table(,reg,4)). */
static __attribute__((noinline)) uint32_t CSwitch(uint32_t i, uint32_t x) {
  switch (i) {
    case 0:
      return x * 3;
    case 1:
      return x + 7;
    case 2:
      return x ^ 0x55;
    case 3:
      return x << 2;
    case 4:
      return x - 100;
    case 5:
      return ~x;
    case 6:
      return x >> 1;
    case 7:
      return x * x;
    case 8:
      return x | 0x1000;
    case 9:
      return x & 0xf0;
    default:
      return 1;
  }
}

static void TestIndirectJmp(void) {
  check_section("branches.indirect_jmp");
  for (volatile uint32_t i = 0; i < 7; i++) {
    uint32_t want = i <= 5 ? 100 + i * i : 0xffffffff;
    check_u32("asm jump table", AsmSwitch(i), want);
  }
  /* x = 0x123: 0x369 + 0x12a + 0x176 + 0x48c + 0xbf + 0xfffffedc + 0x91 +
   * 0x14ac9 + 0x1123 + 0x20 + 1 = 0x166ce (mod 2^32), per round. */
  uint32_t sum = 0;
  for (volatile uint32_t round = 0; round < 50; round++)
    for (volatile uint32_t i = 0; i < 11; i++) sum += CSwitch((i + round) % 11, 0x123);
  check_u32("C switch jump table, 550 dispatches", sum, 50 * 0x166ceu);
  uint32_t r;
  __asm__("movl $1f, %%eax\n\txorl %[r], %[r]\n\tjmp *%%eax\n\tmovl $1, %[r]\n1:"
          : [r] "=r"(r)
          :
          : "eax");
  check_u32("jmp *reg", r, 0);
  static void* target;
  __asm__("movl $1f, %[t]\n\txorl %[r], %[r]\n\tjmp *%[t]\n\tmovl $1, %[r]\n1:"
          : [r] "=r"(r), [t] "=m"(target));
  check_u32("jmp *mem", r, 0);
}

typedef uint32_t (*BinOp)(uint32_t, uint32_t);
static __attribute__((noinline)) uint32_t OpAdd(uint32_t a, uint32_t b) {
  return a + b;
}
static __attribute__((noinline)) uint32_t OpSub(uint32_t a, uint32_t b) {
  return a - b;
}
static __attribute__((noinline)) uint32_t OpXor(uint32_t a, uint32_t b) {
  return a ^ b;
}
static __attribute__((noinline)) uint32_t OpMul(uint32_t a, uint32_t b) {
  return a * b;
}
static BinOp const kOps[4] = {OpAdd, OpSub, OpXor, OpMul};

static void TestIndirectCall(void) {
  check_section("branches.indirect_call");
  uint32_t acc = 1;
  for (volatile uint32_t i = 0; i < 400; i++) acc = kOps[i % 4](acc, i + 3);
  /* The same recurrence with direct calls. */
  uint32_t want = 1;
  for (uint32_t i = 0; i < 400; i++) {
    switch (i % 4) {
      case 0:
        want = want + (i + 3);
        break;
      case 1:
        want = want - (i + 3);
        break;
      case 2:
        want = want ^ (i + 3);
        break;
      default:
        want = want * (i + 3);
        break;
    }
  }
  check_u32("400 calls through a function-pointer table", acc, want);
  /* 9 rounds in closed form: ((1+3)-4)^5 = 5, *6 = 30, +7 = 37, -8 = 29, ^9 = 20, *10 = 200. */
  acc = 1;
  for (volatile uint32_t i = 0; i < 8; i++) acc = kOps[i % 4](acc, i + 3);
  check_u32("8 table calls by hand", acc, 200);
  uint32_t r;
  __asm__ volatile("pushl $5\n\tpushl $7\n\tcall *%[f]\n\taddl $8, %%esp"
                   : "=a"(r)
                   : [f] "r"(OpSub)
                   : "ecx", "edx", "memory", "cc");
  check_u32("call *reg", r, 2);
  static BinOp fp = OpMul;
  __asm__ volatile("pushl $5\n\tpushl $7\n\tcall *%[f]\n\taddl $8, %%esp"
                   : "=a"(r)
                   : [f] "m"(fp)
                   : "ecx", "edx", "memory", "cc");
  check_u32("call *mem", r, 35);
  __asm__ volatile("pushl $5\n\tpushl $7\n\tcall *(%[t],%[i],4)\n\taddl $8, %%esp"
                   : "=a"(r)
                   : [t] "r"(kOps), [i] "r"(2)
                   : "ecx", "edx", "memory", "cc");
  check_u32("call *[table+i*4]", r, 2);
}

/* stdcall: the callee pops its arguments with RET imm16. */
static __attribute__((noinline, stdcall)) uint32_t Stdcall3(uint32_t a, uint32_t b, uint32_t c) {
  return a * 100 + b * 10 + c;
}
uint32_t AsmRet12(uint32_t a, uint32_t b, uint32_t c);
__asm__(
    ".text\n"
    ".globl AsmRet12\n"
    "AsmRet12:\n"
    "  movl 4(%esp), %eax\n"
    "  subl 8(%esp), %eax\n"
    "  subl 12(%esp), %eax\n"
    "  ret $12\n");

static void TestRetImm(void) {
  check_section("branches.ret_imm16");
  volatile uint32_t a = 1, b = 2, c = 3;
  check_u32("stdcall result", Stdcall3(a, b, c), 123);
  uint32_t r, delta;
  __asm__ volatile(
      "movl %%esp, %[d]\n\tpushl $1\n\tpushl $2\n\tpushl $50\n\tcall AsmRet12\n\tsubl %%esp, %[d]"
      : "=a"(r), [d] "=&r"(delta)
      :
      : "ecx", "edx", "memory", "cc");
  check_u32("ret $12 result", r, 47);
  check_u32("ret $12 pops the arguments", delta, 0);
}

static __attribute__((noinline)) uint32_t Fib(uint32_t n) {
  return n < 2 ? n : Fib(n - 1) + Fib(n - 2);
}
static __attribute__((noinline)) uint32_t Ack(uint32_t m, uint32_t n) {
  if (m == 0) return n + 1;
  if (n == 0) return Ack(m - 1, 1);
  return Ack(m - 1, Ack(m, n - 1));
}
/* The volatile result keeps gcc from turning the recursion into a loop. */
static __attribute__((noinline)) uint32_t Depth(uint32_t n) {
  if (n == 0) return 0;
  volatile uint32_t r = Depth(n - 1);
  return r + 1;
}

static void TestRecursion(void) {
  check_section("branches.recursion");
  check_u32("fib(22)", Fib(22), 17711);
  check_u32("ackermann(2,3)", Ack(2, 3), 9);
  check_u32("ackermann(3,4)", Ack(3, 4), 125);
  check_u32("depth 200", Depth(200), 200);
}

/* setjmp/longjmp: leaving many frames at once breaks any return-address
 * prediction that assumes calls and returns pair up. */
typedef uint32_t JmpBuf[6]; /* ebx esi edi ebp esp eip */
uint32_t GuestSetjmp(JmpBuf buf) __attribute__((returns_twice));
void GuestLongjmp(JmpBuf buf, uint32_t value); /* does not return */
__asm__(
    ".text\n"
    ".globl GuestSetjmp\n"
    "GuestSetjmp:\n"
    "  movl 4(%esp), %eax\n"
    "  movl %ebx, 0(%eax)\n"
    "  movl %esi, 4(%eax)\n"
    "  movl %edi, 8(%eax)\n"
    "  movl %ebp, 12(%eax)\n"
    "  leal 4(%esp), %ecx\n"
    "  movl %ecx, 16(%eax)\n"
    "  movl (%esp), %ecx\n"
    "  movl %ecx, 20(%eax)\n"
    "  xorl %eax, %eax\n"
    "  ret\n"
    ".globl GuestLongjmp\n"
    "GuestLongjmp:\n"
    "  movl 4(%esp), %edx\n"
    "  movl 8(%esp), %eax\n"
    "  movl 0(%edx), %ebx\n"
    "  movl 4(%edx), %esi\n"
    "  movl 8(%edx), %edi\n"
    "  movl 12(%edx), %ebp\n"
    "  movl 16(%edx), %esp\n"
    "  jmp *20(%edx)\n");

static JmpBuf jb;
static __attribute__((noinline)) uint32_t DiveAndJump(uint32_t n) {
  if (n == 0) {
    GuestLongjmp(jb, 77);
    return 0;
  }
  volatile uint32_t pad = n;
  return 1 + DiveAndJump(pad - 1);
}

/* skip2 moves its return address over the 2-byte jmp that follows the call. */
uint32_t AsmReturnTricks(void);
__asm__(
    ".text\n"
    ".globl AsmReturnTricks\n"
    "AsmReturnTricks:\n"
    "  xorl %eax, %eax\n"
    /* call/pop reads EIP */
    "  call 1f\n"
    "1: popl %ecx\n"
    "  cmpl $1b, %ecx\n"
    "  jne 8f\n"
    "  orl $1, %eax\n"
    /* push/ret jumps */
    "  pushl $2f\n"
    "  ret\n"
    "  jmp 8f\n"
    "2: orl $2, %eax\n"
    /* callee moves its return address */
    "  call branches_skip2\n"
    "  jmp 8f\n"
    "  orl $4, %eax\n"
    /* a return to a different caller than the one that called */
    "  pushl $3f\n"
    "  jmp branches_plain_ret\n"
    "  jmp 8f\n"
    "3: orl $8, %eax\n"
    "  ret\n"
    "8: orl $0x100, %eax\n"
    "  ret\n"
    "branches_skip2:\n"
    "  addl $2, (%esp)\n"
    "  ret\n"
    "branches_plain_ret:\n"
    "  ret\n");

/* Two entry points into the same five bytes B8 40 40 EB 02:
 *   from A:   mov eax, 0x02eb4040            then "jmp 1f"  (A path)
 *   from A+1: inc eax; inc eax; jmp +2       skips to "jmp 2f" (B path) */
uint32_t AsmOverlap(uint32_t entry_b);
__asm__(
    ".text\n"
    ".globl AsmOverlap\n"
    "AsmOverlap:\n"
    "  xorl %eax, %eax\n"
    "  movl $branches_overlap_a, %ecx\n"
    "  addl 4(%esp), %ecx\n"
    "  jmp *%ecx\n"
    "branches_overlap_a:\n"
    "  .byte 0xb8, 0x40, 0x40, 0xeb, 0x02\n"
    "  jmp 1f\n"
    "  jmp 2f\n"
    "1: orl $0x10000000, %eax\n"
    "  ret\n"
    "2: orl $0x20000000, %eax\n"
    "  ret\n");

static void TestUnusual(void) {
  check_section("branches.unusual_returns");
  check_u32("call/pop, push/ret, moved return, foreign ret", AsmReturnTricks(), 0xf);
  volatile uint32_t reached = 0;
  uint32_t v = GuestSetjmp(jb);
  if (v == 0) {
    reached = DiveAndJump(200);
  }
  check_u32("longjmp out of 200 frames", v, 77);
  check_u32("longjmp: the dive never returned", reached, 0);
  check_u32("calls and returns after longjmp", Fib(15), 610);
  check_section("branches.overlapping_code");
  for (int round = 0; round < 3; round++) {
    check_u32("entry A: mov eax, imm32", AsmOverlap(0), 0x12eb4040);
    check_u32("entry A+1: inc, inc, jmp", AsmOverlap(1), 0x20000002);
  }
}

void guest_main(uint32_t magic, uint32_t mbi) {
  (void)magic;
  (void)mbi;
  serial_puts("branches: jcc, loop, indirect jmp/call, ret imm, recursion, odd returns\n");
  TestJcc();
  TestJecxzLoop();
  TestIndirectJmp();
  TestIndirectCall();
  TestRetImm();
  TestRecursion();
  TestUnusual();
  check_finish("branches");
}
