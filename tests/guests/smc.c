/*
 * smc: self-modifying code. A translator must notice every write to guest
 * code it has translated and never run a stale translation (Intel SDM vol. 3
 * 11.6 "Self-Modifying Code": on P6 and later a write to an instruction
 * takes effect for the very next fetch, even of an instruction already
 * prefetched, with no serializing instruction needed).
 *
 * Sections, from the common to the hard:
 *   patch_imm      rewrite a MOV's imm32 between calls, 100 times, each
 *                  version called several times (so it is hot and chained)
 *   patch_loop     rewrite an ADD's imm32 inside a loop body between calls
 *   patch_branch   retarget a JMP rel32 and flip a JZ into a JNZ
 *   store_kinds    patch with a byte store, a word store and REP MOVSB
 *   fresh_buffer   generate functions into a buffer and call them; rewrite
 *                  the buffer with code of other lengths and boundaries,
 *                  including code that calls back into C; a NOP sled whose
 *                  middle is rewritten; data writes next to live code
 *   same_block     an instruction that rewrites the next instruction, or
 *                  one a few instructions later, in the same basic block
 * Paging is off, so .text is writable (see lib/linker.ld).
 */
#include "check.h"

uint32_t SmcImm(void);
extern uint8_t smc_imm_site[];
uint32_t SmcLoopAdd(void);
extern uint8_t smc_loop_add_site[];
uint32_t SmcBranch(void);
extern uint8_t smc_branch_rel[], smc_target_a[], smc_target_b[];
uint32_t SmcCond(uint32_t x);
extern uint8_t smc_cond_op[];
uint32_t SmcNextInsn(uint32_t byte);
uint32_t SmcLaterInsn(uint32_t value);
uint32_t SmcSameBlockLoop(void);
extern uint32_t smc_text_counter;

__asm__(
    ".text\n"
    ".p2align 4\n"
    /* mov eax, imm32; ret */
    ".globl SmcImm\n"
    "SmcImm:\n"
    "  .byte 0xb8\n"
    ".globl smc_imm_site\n"
    "smc_imm_site:\n"
    "  .long 0\n"
    "  ret\n"

    /* eax = 10 * imm32, the add inside a LOOP */
    ".globl SmcLoopAdd\n"
    "SmcLoopAdd:\n"
    "  xorl %eax, %eax\n"
    "  movl $10, %ecx\n"
    "1:\n"
    "  .byte 0x05\n" /* add eax, imm32 */
    ".globl smc_loop_add_site\n"
    "smc_loop_add_site:\n"
    "  .long 1\n"
    "  loop 1b\n"
    "  ret\n"

    /* jmp rel32 to smc_target_a, patched to smc_target_b */
    ".globl SmcBranch\n"
    "SmcBranch:\n"
    "  .byte 0xe9\n"
    ".globl smc_branch_rel\n"
    "smc_branch_rel:\n"
    "  .long smc_target_a - (smc_branch_rel + 4)\n"
    ".globl smc_target_a\n"
    "smc_target_a:\n"
    "  movl $0xaaaa, %eax\n"
    "  ret\n"
    ".globl smc_target_b\n"
    "smc_target_b:\n"
    "  movl $0xbbbb, %eax\n"
    "  ret\n"

    /* jz/jnz: with JZ, x == 0 -> 2, x != 0 -> 1 */
    ".globl SmcCond\n"
    "SmcCond:\n"
    "  movl 4(%esp), %ecx\n"
    "  testl %ecx, %ecx\n"
    ".globl smc_cond_op\n"
    "smc_cond_op:\n"
    "  .byte 0x74, 0x06\n"
    "  movl $1, %eax\n"
    "  ret\n"
    "  movl $2, %eax\n"
    "  ret\n"

    /* Writes the low byte of the next instruction's imm32, then runs it. */
    ".globl SmcNextInsn\n"
    "SmcNextInsn:\n"
    "  movl 4(%esp), %edx\n"
    "  movb %dl, smc_next_site\n"
    "  .byte 0xb8\n"
    "smc_next_site:\n"
    "  .long 0x33333333\n"
    "  ret\n"

    /* Writes an imm32 three instructions ahead: eax = value + 2. */
    ".globl SmcLaterInsn\n"
    "SmcLaterInsn:\n"
    "  movl 4(%esp), %edx\n"
    "  movl %edx, smc_later_site\n"
    "  movl $1, %ecx\n"
    "  addl %ecx, %ecx\n"
    "  .byte 0xb8\n"
    "smc_later_site:\n"
    "  .long 0\n"
    "  addl %ecx, %eax\n"
    "  ret\n"

    /* A loop whose body rewrites its own add immediate on every pass:
     * pass i adds i (the imm is written before the add runs), 1..20 -> 210. */
    ".globl SmcSameBlockLoop\n"
    "SmcSameBlockLoop:\n"
    "  xorl %eax, %eax\n"
    "  movl $1, %ecx\n"
    "1:\n"
    "  movl %ecx, smc_loop_self_site\n"
    "  .byte 0x05\n"
    "smc_loop_self_site:\n"
    "  .long 0\n"
    "  incl %ecx\n"
    "  cmpl $20, %ecx\n"
    "  jbe 1b\n"
    "  ret\n"

    /* Data in the middle of code pages. */
    ".p2align 2\n"
    ".globl smc_text_counter\n"
    "smc_text_counter:\n"
    "  .long 0\n");

static void Write32(void* p, uint32_t v) {
  *(volatile uint32_t*)p = v;
}

static void TestPatchImm(void) {
  check_section("smc.patch_imm");
  uint32_t bad = 0;
  for (uint32_t i = 0; i < 100; i++) {
    uint32_t v = i * 0x01010101u + 7;
    Write32(smc_imm_site, v);
    for (int k = 0; k < 3; k++)
      if (SmcImm() != v) bad++;
  }
  check_u32("100 patches x 3 calls, stale results", bad, 0);
  Write32(smc_imm_site, 0xfeedface);
  check_u32("last patch", SmcImm(), 0xfeedface);
}

static void TestPatchLoop(void) {
  check_section("smc.patch_loop");
  check_u32("original", SmcLoopAdd(), 10);
  uint32_t bad = 0;
  for (uint32_t round = 1; round <= 20; round++) {
    Write32(smc_loop_add_site, round * 3);
    for (int k = 0; k < 50; k++)
      if (SmcLoopAdd() != round * 30) bad++;
  }
  check_u32("20 patches x 50 calls, stale results", bad, 0);
}

static void TestPatchBranch(void) {
  check_section("smc.patch_branch");
  const uint32_t rel_a = (uint32_t)(smc_target_a - (smc_branch_rel + 4));
  const uint32_t rel_b = (uint32_t)(smc_target_b - (smc_branch_rel + 4));
  uint32_t bad = 0;
  for (int round = 0; round < 10; round++) {
    Write32(smc_branch_rel, (round & 1) ? rel_b : rel_a);
    for (int k = 0; k < 20; k++)
      if (SmcBranch() != ((round & 1) ? 0xbbbbu : 0xaaaau)) bad++;
  }
  check_u32("retargeted jmp rel32, stale results", bad, 0);
  check_u32("jz, x=0", SmcCond(0), 2);
  check_u32("jz, x=5", SmcCond(5), 1);
  *(volatile uint8_t*)smc_cond_op = 0x75; /* jnz */
  check_u32("jnz, x=0", SmcCond(0), 1);
  check_u32("jnz, x=5", SmcCond(5), 2);
  *(volatile uint8_t*)smc_cond_op = 0x74;
  check_u32("jz again, x=0", SmcCond(0), 2);
}

static void TestStoreKinds(void) {
  check_section("smc.store_kinds");
  Write32(smc_imm_site, 0x11223344);
  check_u32("before", SmcImm(), 0x11223344);
  *(volatile uint8_t*)(smc_imm_site + 3) = 0x99;
  check_u32("byte store", SmcImm(), 0x99223344);
  *(volatile uint16_t*)(smc_imm_site + 1) = 0xabcd;
  check_u32("unaligned word store", SmcImm(), 0x99abcd44);
  static const uint8_t kNew[4] = {0x78, 0x56, 0x34, 0x12};
  uint32_t n = 4;
  const void* s = kNew;
  void* d = smc_imm_site;
  __asm__ volatile("rep movsb" : "+S"(s), "+D"(d), "+c"(n) : : "memory");
  check_u32("rep movsb", SmcImm(), 0x12345678);
  __asm__ volatile("movl $0x0badf00d, smc_imm_site" ::: "memory");
  check_u32("mov imm32 to absolute address", SmcImm(), 0x0badf00d);
}

/* Code generated at run time. */
static uint8_t code_buf[512] __attribute__((aligned(16)));
typedef uint32_t (*Fn)(uint32_t);

static uint32_t Emit(uint32_t at, const uint8_t* bytes, uint32_t n) {
  for (uint32_t i = 0; i < n; i++) ((volatile uint8_t*)code_buf)[at + i] = bytes[i];
  return at + n;
}
static uint32_t Emit32(uint32_t at, uint32_t v) {
  uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
  return Emit(at, b, 4);
}

/* f(x) = imm + x:  mov eax, imm32; add eax, [esp+4]; ret */
static void GenAdd(uint32_t imm) {
  uint32_t at = Emit(0, (const uint8_t*)"\xb8", 1);
  at = Emit32(at, imm);
  Emit(at, (const uint8_t*)"\x03\x44\x24\x04\xc3", 5);
}
/* f(x) = x - imm:  mov eax, [esp+4]; sub eax, imm32; ret */
static void GenSub(uint32_t imm) {
  uint32_t at = Emit(0, (const uint8_t*)"\x8b\x44\x24\x04\x2d", 5);
  at = Emit32(at, imm);
  Emit(at, (const uint8_t*)"\xc3", 1);
}
/* f(x) = x * x:  mov eax, [esp+4]; imul eax, eax; ret */
static void GenSquare(void) {
  Emit(0, (const uint8_t*)"\x8b\x44\x24\x04\x0f\xaf\xc0\xc3", 8);
}

static __attribute__((noinline)) uint32_t Callback(uint32_t x) {
  return x * 7;
}
/* f(x) = Callback(x) + 1:
 *   push dword [esp+4]; mov eax, Callback; call eax; add esp, 4; inc eax; ret */
static void GenCallback(void) {
  uint32_t at = Emit(0, (const uint8_t*)"\xff\x74\x24\x04\xb8", 5);
  at = Emit32(at, (uint32_t)(uintptr_t)Callback);
  Emit(at, (const uint8_t*)"\xff\xd0\x83\xc4\x04\x40\xc3", 7);
}

static void TestFreshBuffer(void) {
  check_section("smc.fresh_buffer");
  Fn f = (Fn)(void*)code_buf;
  uint32_t bad = 0;
  for (uint32_t round = 0; round < 8; round++) {
    uint32_t imm = round * 1000 + 5;
    switch (round % 4) {
      case 0:
        GenAdd(imm);
        for (uint32_t x = 0; x < 5; x++) bad += f(x) != imm + x;
        break;
      case 1:
        GenSub(imm);
        for (uint32_t x = 0; x < 5; x++) bad += f(x) != x - imm;
        break;
      case 2:
        GenSquare();
        for (uint32_t x = 0; x < 5; x++) bad += f(x + round) != (x + round) * (x + round);
        break;
      case 3:
        GenCallback();
        for (uint32_t x = 0; x < 5; x++) bad += f(x + round) != (x + round) * 7 + 1;
        break;
    }
  }
  check_u32("8 generations x 5 calls, wrong results", bad, 0);
  GenAdd(40);
  check_u32("add 40", f(2), 42);
  GenSquare();
  check_u32("square", f(12), 144);
  GenCallback();
  check_u32("call back into C", f(6), 43);

  /* NOP sled: 200 NOPs then mov eax, 1; ret. Then a new exit in the middle. */
  for (uint32_t i = 0; i < 200; i++) ((volatile uint8_t*)code_buf)[i] = 0x90;
  uint32_t at = Emit(200, (const uint8_t*)"\xb8", 1);
  at = Emit32(at, 1);
  Emit(at, (const uint8_t*)"\xc3", 1);
  check_u32("nop sled", f(0), 1);
  at = Emit(100, (const uint8_t*)"\xb8", 1);
  at = Emit32(at, 2);
  Emit(at, (const uint8_t*)"\xc3", 1);
  check_u32("nop sled cut in the middle", f(0), 2);
  for (uint32_t i = 100; i < 106; i++) ((volatile uint8_t*)code_buf)[i] = 0x90;
  check_u32("nop sled restored", f(0), 1);

  /* Data writes next to live code: no code changes, results stay right. */
  GenAdd(1000);
  uint32_t sum = 0;
  for (uint32_t i = 0; i < 100; i++) {
    ((volatile uint8_t*)code_buf)[400 + (i % 64)] = (uint8_t)i;
    smc_text_counter++;
    sum += f(i);
  }
  check_u32("calls between writes to the code's page", sum, 100 * 1000 + 4950);
  check_u32("counter in .text", smc_text_counter, 100);
}

static void TestSameBlock(void) {
  check_section("smc.same_block");
  uint32_t bad = 0;
  for (uint32_t b = 0x40; b < 0x50; b++) bad += SmcNextInsn(b) != (0x33333300u | b);
  check_u32("rewrite the next instruction (16 times)", bad, 0);
  bad = 0;
  for (uint32_t v = 100; v < 116; v++) bad += SmcLaterInsn(v) != v + 2;
  check_u32("rewrite an instruction 3 ahead (16 times)", bad, 0);
  check_u32("loop rewriting its own add", SmcSameBlockLoop(), 210);
  check_u32("loop rewriting its own add, again", SmcSameBlockLoop(), 210);
}

void guest_main(uint32_t magic, uint32_t mbi) {
  (void)magic;
  (void)mbi;
  serial_puts("smc: self-modifying and generated code\n");
  TestPatchImm();
  TestPatchLoop();
  TestPatchBranch();
  TestStoreKinds();
  TestFreshBuffer();
  TestSameBlock();
  check_finish("smc");
}
