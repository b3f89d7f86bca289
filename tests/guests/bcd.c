/*
 * bcd: the decimal-adjust instructions DAA DAS AAA AAS AAM AAD, with every
 * expected value worked out by hand from the Intel SDM vol. 2 pseudo-code of
 * each instruction. Only the flags the SDM defines are compared: DAA/DAS
 * define CF AF SF ZF PF (OF undefined), AAA/AAS define AF CF (the others
 * undefined), AAM/AAD define SF ZF PF (OF AF CF undefined). AAA/AAS cases
 * keep AL + 6 below 0x100: P6 and later add 0x106 to AX and so carry from AL
 * into AH, the 8086 did not, and the SDM pseudo-code has changed over time.
 * AAM and AAD are also run with a base other than 10 (D4 ib / D5 ib).
 */
#include "check.h"

enum {
  kDaaMask = kFlagCf | kFlagAf | kFlagSf | kFlagZf | kFlagPf,
  kAaaMask = kFlagCf | kFlagAf,
  kAamMask = kFlagSf | kFlagZf | kFlagPf,
};

struct Case {
  uint32_t ax, operand, fin, ax_out, flags_out;
};

/* The adjust runs right after the arithmetic that produced AL and its flags. */
#define ADJUST(pre, ax, operand, fin, fout)                                  \
  __asm__ volatile("pushl %[fi]\n\tpopfl\n\t" pre "\n\tpushfl\n\tpopl %[fo]" \
                   : "+a"(ax), [fo] "=&r"(fout)                              \
                   : [op] "q"((uint8_t)(operand)), [fi] "r"(fin)             \
                   : "cc")

static void RunCases(const char* name, int kind, const struct Case* t, uint32_t n, uint32_t mask) {
  for (uint32_t i = 0; i < n; i++) {
    uint32_t ax = t[i].ax, f = 0;
    switch (kind) {
      case 0:
        ADJUST("addb %[op], %%al\n\tdaa", ax, t[i].operand, t[i].fin, f);
        break;
      case 1:
        ADJUST("subb %[op], %%al\n\tdas", ax, t[i].operand, t[i].fin, f);
        break;
      case 2:
        ADJUST("addb %[op], %%al\n\taaa", ax, t[i].operand, t[i].fin, f);
        break;
      case 3:
        ADJUST("subb %[op], %%al\n\taas", ax, t[i].operand, t[i].fin, f);
        break;
      case 4:
        ADJUST("aam", ax, 0, t[i].fin, f);
        break;
      case 5:
        ADJUST(".byte 0xd4, 0x10", ax, 0, t[i].fin, f);
        break; /* aam 16 */
      case 6:
        ADJUST(".byte 0xd4, 0x07", ax, 0, t[i].fin, f);
        break; /* aam 7 */
      case 7:
        ADJUST("aad", ax, 0, t[i].fin, f);
        break;
      case 8:
        ADJUST(".byte 0xd5, 0x10", ax, 0, t[i].fin, f);
        break; /* aad 16 */
      case 9:
        ADJUST(".byte 0xd5, 0x02", ax, 0, t[i].fin, f);
        break; /* aad 2 */
    }
    check_u32(name, ax & 0xffff, t[i].ax_out);
    check_u32(name, f & mask, t[i].flags_out);
  }
}
#define RUN(name, kind, table, mask) \
  RunCases(name, kind, table, sizeof table / sizeof table[0], mask)

/* DAA after ADD. */
static const struct Case kDaa[] = {
    {0x0079, 0x35, 0x2, 0x0014, 0x15}, /* 79+35 = 114: AL+6, AL+60 */
    {0x0038, 0x45, 0x2, 0x0083, 0x90}, /* 38+45 = 83: AL+6 only */
    {0x0099, 0x01, 0x2, 0x0000, 0x55}, /* 99+01 = 100: ZF, CF */
    {0x0009, 0x08, 0x2, 0x0017, 0x14}, /* 09+08 = 17: AF from the add */
    {0x0050, 0x50, 0x2, 0x0000, 0x45}, /* 50+50 = 100: AL+60 only, AF clear */
    {0x0099, 0x99, 0x2, 0x0098, 0x91}, /* 99+99 = 198: CF from the add */
    {0x0012, 0x34, 0x2, 0x0046, 0x00}, /* no adjustment */
};
/* DAS after SUB. */
static const struct Case kDas[] = {
    {0x0035, 0x47, 0x2, 0x0088, 0x95}, /* 35-47 = -12 -> 88, borrow */
    {0x0050, 0x01, 0x2, 0x0049, 0x10}, /* 50-01 = 49 */
    {0x0012, 0x12, 0x2, 0x0000, 0x44}, /* zero */
    {0x0000, 0x01, 0x2, 0x0099, 0x95}, /* 00-01 -> 99, borrow */
    {0x0086, 0x23, 0x2, 0x0063, 0x04}, /* no adjustment */
};
/* AAA after ADD (unpacked BCD in AH:AL). */
static const struct Case kAaa[] = {
    {0x0008, 0x06, 0x2, 0x0104, 0x11}, /* 8+6 = 14 */
    {0x0205, 0x03, 0x2, 0x0208, 0x00}, /* 25+3 = 28 */
    {0x0009, 0x09, 0x2, 0x0108, 0x11}, /* 9+9 = 18, AF from the add */
    {0x0735, 0x04, 0x2, 0x0709, 0x00}, /* ASCII '5'+4: AL AND 0FH */
};
/* AAS after SUB. */
static const struct Case kAas[] = {
    {0x0302, 0x05, 0x2, 0x0207, 0x11}, /* 32-5 = 27 */
    {0x0108, 0x03, 0x2, 0x0105, 0x00}, /* 18-3 = 15 */
    {0x0039, 0x32, 0x2, 0x0007, 0x00}, /* ASCII '9'-'2' */
};
static const struct Case kAam10[] = {
    {0x003f, 0, 0x2, 0x0603, 0x04}, /* 63 */
    {0x0099, 0, 0x2, 0x0f03, 0x04}, /* 153 */
    {0x1200, 0, 0x2, 0x0000, 0x44}, /* 0, AH overwritten */
};
static const struct Case kAam16[] = {
    {0x00ab, 0, 0x2, 0x0a0b, 0x00},
    {0x0050, 0, 0x2, 0x0500, 0x44},
};
static const struct Case kAam7[] = {
    {0x0064, 0, 0x2, 0x0e02, 0x00}, /* 100 = 14*7 + 2 */
};
static const struct Case kAad10[] = {
    {0x0703, 0, 0x2, 0x0049, 0x00}, /* 73 */
    {0x0fff, 0, 0x2, 0x0095, 0x84}, /* 255 + 150 = 405 -> 0x95 */
    {0x0000, 0, 0x2, 0x0000, 0x44},
};
static const struct Case kAad16[] = {
    {0x0a0b, 0, 0x2, 0x00ab, 0x80},
};
static const struct Case kAad2[] = {
    {0x0101, 0, 0x2, 0x0003, 0x04},
};

uint32_t bcd_a = 0x12345678, bcd_b = 0x87654329, bcd_r;

/* Multi-byte packed BCD with ADC+DAA and SBB+DAS, the carry chained
 * through four bytes (MOV does not touch the flags). */
static void TestMultiByte(void) {
  check_section("bcd.multibyte");
  uint32_t f;
  __asm__ volatile(
      "clc\n\t"
      "movb bcd_a, %%al\n\tadcb bcd_b, %%al\n\tdaa\n\tmovb %%al, bcd_r\n\t"
      "movb bcd_a+1, %%al\n\tadcb bcd_b+1, %%al\n\tdaa\n\tmovb %%al, bcd_r+1\n\t"
      "movb bcd_a+2, %%al\n\tadcb bcd_b+2, %%al\n\tdaa\n\tmovb %%al, bcd_r+2\n\t"
      "movb bcd_a+3, %%al\n\tadcb bcd_b+3, %%al\n\tdaa\n\tmovb %%al, bcd_r+3\n\t"
      "pushfl\n\tpopl %0"
      : "=r"(f)
      :
      : "eax", "memory", "cc");
  check_u32("12345678 + 87654329 = (1)00000007", bcd_r, 0x00000007);
  check_u32("carry out", f & kFlagCf, kFlagCf);
  bcd_a = 0x10000000;
  bcd_b = 0x00000001;
  __asm__ volatile(
      "clc\n\t"
      "movb bcd_a, %%al\n\tsbbb bcd_b, %%al\n\tdas\n\tmovb %%al, bcd_r\n\t"
      "movb bcd_a+1, %%al\n\tsbbb bcd_b+1, %%al\n\tdas\n\tmovb %%al, bcd_r+1\n\t"
      "movb bcd_a+2, %%al\n\tsbbb bcd_b+2, %%al\n\tdas\n\tmovb %%al, bcd_r+2\n\t"
      "movb bcd_a+3, %%al\n\tsbbb bcd_b+3, %%al\n\tdas\n\tmovb %%al, bcd_r+3\n\t"
      "pushfl\n\tpopl %0"
      : "=r"(f)
      :
      : "eax", "memory", "cc");
  check_u32("10000000 - 00000001 = 09999999", bcd_r, 0x09999999);
  check_u32("no borrow out", f & kFlagCf, 0);
}

void guest_main(uint32_t magic, uint32_t mbi) {
  (void)magic;
  (void)mbi;
  serial_puts("bcd: daa das aaa aas aam aad\n");
  check_section("bcd.daa");
  RUN("daa", 0, kDaa, kDaaMask);
  check_section("bcd.das");
  RUN("das", 1, kDas, kDaaMask);
  check_section("bcd.aaa");
  RUN("aaa", 2, kAaa, kAaaMask);
  check_section("bcd.aas");
  RUN("aas", 3, kAas, kAaaMask);
  check_section("bcd.aam");
  RUN("aam 10", 4, kAam10, kAamMask);
  RUN("aam 16", 5, kAam16, kAamMask);
  RUN("aam 7", 6, kAam7, kAamMask);
  check_section("bcd.aad");
  RUN("aad 10", 7, kAad10, kAamMask);
  RUN("aad 16", 8, kAad16, kAamMask);
  RUN("aad 2", 9, kAad2, kAamMask);
  TestMultiByte();
  check_finish("bcd");
}
