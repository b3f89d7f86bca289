/*
 * strings: the string instructions MOVS STOS LODS SCAS CMPS at byte, word
 * and dword size, with REP/REPE/REPNE, forward (CLD) and backward (STD),
 * per the Intel SDM vol. 2 pages of each and of REP/REPE/REPNE.
 *
 * Checked: the data moved, the final ESI/EDI/ECX, the flags SCAS and CMPS
 * leave (from the last comparison made), overlapping copies (a forward
 * REP MOVSB onto src+1 replicates the first byte: the instruction is
 * element by element, not memmove), REP with ECX = 0 (no access, no flag
 * change), a source segment override (FS, flat), and 64 KiB fills and copies.
 */
#include "check.h"

static uint8_t src[256], dst[256];
static uint32_t big_a[16384], big_b[16384]; /* 64 KiB each */

struct Regs {
  uint32_t esi, edi, ecx, flags;
};

static void Fill(uint8_t* p, uint32_t n, uint8_t seed) {
  for (uint32_t i = 0; i < n; i++) p[i] = (uint8_t)(seed + i * 7);
}

/* Runs one string instruction (with prefix) with DF = df and the given
 * starting EFLAGS, returns the registers and flags after. */
#define STRING_OP(insn, df, r, eax_io)                                               \
  __asm__ volatile("pushl %[fi]\n\tpopfl\n\t" insn "\n\tpushfl\n\tpopl %[fo]\n\tcld" \
                   : "+S"((r).esi), "+D"((r).edi), "+c"((r).ecx),                    \
                     "+a"(eax_io), [fo] "=&r"((r).flags)                             \
                   : [fi] "r"(0x2u | ((df) ? kFlagDf : 0) | (r).flags)               \
                   : "memory", "cc")

static struct Regs R(const void* s, const void* d, uint32_t c) {
  struct Regs r = {(uint32_t)(uintptr_t)s, (uint32_t)(uintptr_t)d, c, 0};
  return r;
}
#define U(p) ((uint32_t)(uintptr_t)(p))

static void
TestMovs(void) {
  check_section("strings.movs");
  uint32_t eax = 0;
  struct Regs r;
  Fill(src, 256, 1);
  memset(dst, 0, 256);
  r = R(src, dst, 13);
  STRING_OP("rep movsb", 0, r, eax);
  check_bytes("rep movsb data", dst, src, 13);
  check_u32("rep movsb guard", dst[13], 0);
  check_u32("rep movsb esi", r.esi, U(src + 13));
  check_u32("rep movsb edi", r.edi, U(dst + 13));
  check_u32("rep movsb ecx", r.ecx, 0);

  memset(dst, 0, 256);
  r = R(src, dst, 7);
  STRING_OP("rep movsw", 0, r, eax);
  check_bytes("rep movsw odd count data", dst, src, 14);
  check_u32("rep movsw guard", dst[14], 0);
  check_u32("rep movsw esi", r.esi, U(src + 14));
  check_u32("rep movsw edi", r.edi, U(dst + 14));

  memset(dst, 0, 256);
  r = R(src, dst, 20);
  STRING_OP("rep movsl", 0, r, eax);
  check_bytes("rep movsd data", dst, src, 80);
  check_u32("rep movsd edi", r.edi, U(dst + 80));

  /* Backward: ESI/EDI start at the last element and decrease. */
  memset(dst, 0, 256);
  r = R(src + 36, dst + 36, 10);
  STRING_OP("rep movsl", 1, r, eax);
  check_bytes("std rep movsd data", dst, src, 40);
  check_u32("std rep movsd esi", r.esi, U(src) - 4);
  check_u32("std rep movsd edi", r.edi, U(dst) - 4);
  memset(dst, 0, 256);
  r = R(src + 9, dst + 9, 10);
  STRING_OP("rep movsb", 1, r, eax);
  check_bytes("std rep movsb data", dst, src, 10);
  check_u32("std rep movsb edi", r.edi, U(dst) - 1);

  /* Single MOVS without REP, each size, and a FS: source override. */
  memset(dst, 0, 256);
  r = R(src, dst, 99);
  STRING_OP("movsb\n\tmovsw\n\tmovsl", 0, r, eax);
  check_bytes("movsb+movsw+movsd", dst, src, 7);
  check_u32("movs without rep leaves ecx", r.ecx, 99);
  check_u32("movs without rep esi", r.esi, U(src + 7));
  memset(dst, 0, 256);
  r = R(src + 100, dst, 0);
  STRING_OP("movsl %%fs:(%%esi), %%es:(%%edi)", 0, r, eax);
  check_bytes("movsd fs: source", dst, src + 100, 4);

  /* ECX = 0: REP does nothing. */
  memset(dst, 0x5a, 256);
  r = R(src, dst, 0);
  STRING_OP("rep movsb", 0, r, eax);
  check_u32("rep movsb ecx=0 esi", r.esi, U(src));
  check_u32("rep movsb ecx=0 edi", r.edi, U(dst));
  check_u32("rep movsb ecx=0 data", dst[0], 0x5a);
}

static void TestOverlap(void) {
  check_section("strings.overlap");
  uint32_t eax = 0;
  struct Regs r;
  uint8_t want[64];
  /* Forward onto src+1: byte by byte, so the first byte spreads. */
  Fill(dst, 64, 0x40);
  r = R(dst, dst + 1, 32);
  STRING_OP("rep movsb", 0, r, eax);
  memset(want, 0x40, 33);
  for (int i = 33; i < 64; i++) want[i] = (uint8_t)(0x40 + i * 7);
  check_bytes("rep movsb to src+1 replicates", dst, want, 64);
  /* Forward dwords onto src+4: the first dword spreads. */
  Fill(dst, 64, 0x10);
  r = R(dst, dst + 4, 8);
  STRING_OP("rep movsl", 0, r, eax);
  for (int i = 0; i < 36; i++) want[i] = (uint8_t)(0x10 + (i % 4) * 7);
  for (int i = 36; i < 64; i++) want[i] = (uint8_t)(0x10 + i * 7);
  check_bytes("rep movsd to src+4 replicates", dst, want, 64);
  /* Forward onto src-3: a correct shift down. */
  Fill(dst, 64, 0x20);
  r = R(dst + 3, dst, 40);
  STRING_OP("rep movsb", 0, r, eax);
  for (int i = 0; i < 40; i++) want[i] = (uint8_t)(0x20 + (i + 3) * 7);
  for (int i = 40; i < 64; i++) want[i] = (uint8_t)(0x20 + i * 7);
  check_bytes("rep movsb to src-3 shifts down", dst, want, 64);
  /* Backward onto src+3: the memmove direction, a correct shift up. */
  Fill(dst, 64, 0x30);
  r = R(dst + 39, dst + 42, 40);
  STRING_OP("rep movsb", 1, r, eax);
  for (int i = 0; i < 3; i++) want[i] = (uint8_t)(0x30 + i * 7);
  for (int i = 3; i < 43; i++) want[i] = (uint8_t)(0x30 + (i - 3) * 7);
  for (int i = 43; i < 64; i++) want[i] = (uint8_t)(0x30 + i * 7);
  check_bytes("std rep movsb to src+3 shifts up", dst, want, 64);
  /* Backward onto src-1 with STD: byte by byte, the last byte spreads down. */
  Fill(dst, 64, 0x50);
  r = R(dst + 20, dst + 19, 20);
  STRING_OP("rep movsb", 1, r, eax);
  for (int i = 0; i < 64; i++) want[i] = (uint8_t)(0x50 + i * 7);
  for (int i = 0; i < 20; i++) want[i] = (uint8_t)(0x50 + 20 * 7);
  check_bytes("std rep movsb to src-1 replicates", dst, want, 64);
}

static void TestStosLods(void) {
  check_section("strings.stos_lods");
  struct Regs r;
  uint32_t eax;
  uint8_t want[64];
  memset(dst, 0, 256);
  eax = 0x11223344;
  r = R(0, dst, 5);
  STRING_OP("rep stosb", 0, r, eax);
  memset(want, 0x44, 5);
  want[5] = 0;
  check_bytes("rep stosb", dst, want, 6);
  check_u32("rep stosb edi", r.edi, U(dst + 5));
  r = R(0, dst, 3);
  STRING_OP("rep stosw", 0, r, eax);
  check_bytes("rep stosw", dst, "\x44\x33\x44\x33\x44\x33\x00\x00", 8);
  r = R(0, dst + 8, 2);
  STRING_OP("rep stosl", 0, r, eax);
  check_bytes("rep stosd", dst + 8, "\x44\x33\x22\x11\x44\x33\x22\x11\x00", 9);
  r = R(0, dst + 20, 3);
  eax = 0xabababab;
  STRING_OP("rep stosl", 1, r, eax);
  check_u32("std rep stosd edi", r.edi, U(dst + 8));
  check_bytes("std rep stosd", dst + 12, "\xab\xab\xab\xab\xab\xab\xab\xab\xab\xab\xab\xab", 12);
  check_u32("std rep stosd lower guard", dst[11], 0x11);

  Fill(src, 256, 3);
  eax = 0xffffffff;
  r = R(src, 0, 0);
  STRING_OP("lodsb", 0, r, eax);
  check_u32("lodsb keeps eax bits 8-31", eax, 0xffffff00 | src[0]);
  check_u32("lodsb esi", r.esi, U(src + 1));
  STRING_OP("lodsw", 0, r, eax);
  check_u32("lodsw", eax, 0xffff0000 | src[1] | src[2] << 8);
  STRING_OP("lodsl", 0, r, eax);
  check_u32("lodsd", eax, src[3] | src[4] << 8 | src[5] << 16 | (uint32_t)src[6] << 24);
  check_u32("lodsd esi", r.esi, U(src + 7));
  STRING_OP("lodsw", 1, r, eax);
  check_u32("std lodsw esi", r.esi, U(src + 5));
  r = R(src, 0, 10);
  STRING_OP("rep lodsb", 0, r, eax);
  check_u32("rep lodsb keeps the last", eax & 0xff, src[9]);
  check_u32("rep lodsb esi", r.esi, U(src + 10));
  check_u32("rep lodsb ecx", r.ecx, 0);
}

static void TestScas(void) {
  check_section("strings.scas");
  struct Regs r;
  uint32_t eax;
  static const char kText[] = "find the x in here";
  /* REPNE SCASB: strlen-style search; stops after the match. */
  eax = 'x';
  r = R(0, kText, 100);
  STRING_OP("repne scasb", 0, r, eax);
  check_u32("repne scasb edi past match", r.edi, U(kText + 10));
  check_u32("repne scasb ecx", r.ecx, 100 - 10);
  check_u32("repne scasb ZF", r.flags & kFlagZf, kFlagZf);
  eax = 'q';
  r = R(0, kText, sizeof kText);
  STRING_OP("repne scasb", 0, r, eax);
  check_u32("repne scasb not found ecx", r.ecx, 0);
  check_u32("repne scasb not found ZF", r.flags & kFlagZf, 0);
  check_u32("repne scasb not found edi", r.edi, U(kText + sizeof kText));
  /* REPE SCASD: skip equal dwords. */
  static const uint32_t kDwords[6] = {7, 7, 7, 7, 9, 7};
  eax = 7;
  r = R(0, kDwords, 6);
  STRING_OP("repe scasl", 0, r, eax);
  check_u32("repe scasd edi", r.edi, U(&kDwords[5]));
  check_u32("repe scasd ecx", r.ecx, 1);
  /* 7 - 9 = -2: CF SF AF set, ZF clear, PF of 0xfe odd. */
  check_u32("repe scasd flags", r.flags & kFlagsArith, kFlagCf | kFlagSf | kFlagAf);
  /* Backward SCASW. */
  static const uint16_t kWords[5] = {1, 2, 3, 4, 5};
  eax = 2;
  r = R(0, &kWords[4], 5);
  STRING_OP("repne scasw", 1, r, eax);
  check_u32("std repne scasw edi", r.edi, U(&kWords[0]));
  check_u32("std repne scasw ecx", r.ecx, 1);
  /* ECX = 0: no comparison, flags unchanged. */
  r = R(0, kText, 0);
  r.flags = kFlagsArith;
  eax = 0;
  STRING_OP("repne scasb", 0, r, eax);
  check_u32("repne scasb ecx=0 flags kept", r.flags & kFlagsArith, kFlagsArith);
  check_u32("repne scasb ecx=0 edi", r.edi, U(kText));
}

static void TestCmps(void) {
  check_section("strings.cmps");
  struct Regs r;
  uint32_t eax = 0;
  Fill(src, 256, 9);
  memcpy(dst, src, 256);
  r = R(src, dst, 200);
  STRING_OP("repe cmpsb", 0, r, eax);
  check_u32("repe cmpsb equal ecx", r.ecx, 0);
  check_u32("repe cmpsb equal ZF", r.flags & kFlagZf, kFlagZf);
  check_u32("repe cmpsb equal esi", r.esi, U(src + 200));
  /* Mismatch at 37: [esi] = 0x10, [edi] = 0x20; flags of 0x10 - 0x20. */
  src[37] = 0x10;
  dst[37] = 0x20;
  r = R(src, dst, 200);
  STRING_OP("repe cmpsb", 0, r, eax);
  check_u32("repe cmpsb mismatch ecx", r.ecx, 200 - 38);
  check_u32("repe cmpsb mismatch esi", r.esi, U(src + 38));
  check_u32("repe cmpsb mismatch edi", r.edi, U(dst + 38));
  check_u32("repe cmpsb mismatch flags (src - dst)", r.flags & kFlagsArith,
            kFlagCf | kFlagPf | kFlagSf);
  /* REPNE CMPSW: find the first equal word. */
  static const uint16_t kA[6] = {1, 2, 3, 4, 5, 6}, kB[6] = {9, 9, 9, 4, 9, 9};
  r = R(kA, kB, 6);
  STRING_OP("repne cmpsw", 0, r, eax);
  check_u32("repne cmpsw ecx", r.ecx, 2);
  check_u32("repne cmpsw esi", r.esi, U(&kA[4]));
  check_u32("repne cmpsw ZF", r.flags & kFlagZf, kFlagZf);
  /* Backward CMPSD. */
  static const uint32_t kC[4] = {1, 2, 3, 4}, kD[4] = {0, 2, 3, 4};
  r = R(&kC[3], &kD[3], 4);
  STRING_OP("repe cmpsl", 1, r, eax);
  check_u32("std repe cmpsd ecx", r.ecx, 0);
  check_u32("std repe cmpsd esi", r.esi, U(kC) - 4);
  check_u32("std repe cmpsd flags (1 - 0)", r.flags & kFlagsArith, 0);
  /* ECX = 0: flags unchanged. */
  r = R(src, dst, 0);
  r.flags = kFlagCf | kFlagZf;
  STRING_OP("repe cmpsb", 0, r, eax);
  check_u32("repe cmpsb ecx=0 flags kept", r.flags & kFlagsArith, kFlagCf | kFlagZf);
  /* Single CMPSB without REP. */
  r = R("ab", "ac", 5);
  STRING_OP("cmpsb\n\tcmpsb", 0, r, eax);
  check_u32("cmpsb x2 ecx untouched", r.ecx, 5);
  check_u32("cmpsb x2 flags ('b' - 'c')", r.flags & kFlagsArith,
            kFlagCf | kFlagPf | kFlagAf | kFlagSf);
}

static void TestBig(void) {
  check_section("strings.64k");
  struct Regs r;
  uint32_t eax = 0x9e3779b9;
  r = R(0, big_a, 16384);
  STRING_OP("rep stosl", 0, r, eax);
  check_u32("64 KiB rep stosd edi", r.edi, U(big_a + 16384));
  for (uint32_t i = 0; i < 16384; i++) big_a[i] += i;
  r = R(big_a, big_b, 65536);
  STRING_OP("rep movsb", 0, r, eax);
  uint32_t sum = 0, bad = 0;
  for (uint32_t i = 0; i < 16384; i++) {
    sum = sum * 31 + big_b[i];
    if (big_b[i] != 0x9e3779b9 + i) bad++;
  }
  check_u32("64 KiB rep movsb mismatches", bad, 0);
  /* sum of (0x9e3779b9 + i) * 31^(16383 - i) mod 2^32, worked out offline
   * and confirmed by the element check above. */
  check_u32("64 KiB checksum", sum, 0x5b242000);
  r = R(big_b, big_a, 16384);
  STRING_OP("repe cmpsl", 0, r, eax);
  check_u32("64 KiB repe cmpsd equal", r.ecx, 0);
}

void guest_main(uint32_t magic, uint32_t mbi) {
  (void)magic;
  (void)mbi;
  serial_puts("strings: movs stos lods scas cmps, rep/repe/repne, cld/std\n");
  TestMovs();
  TestOverlap();
  TestStosLods();
  TestScas();
  TestCmps();
  TestBig();
  check_finish("strings");
}
