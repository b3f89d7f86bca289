/*
 * fpu_sse: x87, MMX, SSE/SSE2 (and two SSE3 instructions), results compared
 * as bit patterns against values worked out from IEEE 754 and the Intel SDM:
 * only operations whose result IEEE or the SDM fixes exactly are used (no
 * transcendentals, no RCPPS/RSQRTPS approximations). Built with -msse2.
 *
 * Order matters. The x87 and MMX sections need nothing from the kernel
 * (Multiboot leaves CR0.EM = 0). SSE instructions raise #UD unless
 * CR4.OSFXSR = 1 (SDM vol. 3 2.5, 13.1), which no loader sets, so the guest
 * sets CR4.OSFXSR and CR4.OSXMMEXCPT with MOV to CR4 exactly like a kernel
 * does before the SSE sections: the one privileged instruction here.
 *
 * Sections: x87 arithmetic, constants, integer conversions under all four
 * rounding modes, FPREM/FPREM1/FRNDINT/FSCALE/FXTRACT, precision control,
 * compares (FCOMI, FUCOMI, FCOM+FSTSW, FTST, FXAM), status-word exception
 * flags and TOP; MMX with EMMS; then SSE enable; FXSAVE/FXRSTOR round trip
 * (fields checked in the image, and the image saved again after a restore
 * must be identical); SSE2 integer; SSE2 double and SSE single with MXCSR
 * rounding and exception flags; SSE3 HADDPD/MOVDDUP.
 */
#include "check.h"

#define X87_CLOBBERS "st", "st(1)", "st(2)", "st(3)", "st(4)", "st(5)", "st(6)", "st(7)"

static uint64_t Bits(const double* d) {
  uint64_t v;
  memcpy(&v, d, 8);
  return v;
}

static const double kOneAndHalf = 1.5, kTwoQuarter = 2.25, kTen = 10.0, kFour = 4.0, kThree = 3.0,
                    kTwo = 2.0, kOne = 1.0, kTenthD = 0.1, kFifthD = 0.2, kBig = 1e308,
                    kMinusOne = -1.0, kZero = 0.0, kTenHalf = 10.5, kTwentyFour = 24.0;

static void TestX87Arith(void) {
  check_section("x87.arith");
  double r;
  __asm__ volatile("fninit" ::: X87_CLOBBERS);
  __asm__ volatile("fldl %1\n\tfaddl %2\n\tfstpl %0"
                   : "=m"(r)
                   : "m"(kOneAndHalf), "m"(kTwoQuarter)
                   : X87_CLOBBERS);
  check_u64("1.5 + 2.25", Bits(&r), 0x400e000000000000ull);
  __asm__ volatile("fldl %1\n\tfsubl %2\n\tfstpl %0"
                   : "=m"(r)
                   : "m"(kOneAndHalf), "m"(kTwoQuarter)
                   : X87_CLOBBERS);
  check_u64("1.5 - 2.25", Bits(&r), 0xbfe8000000000000ull);
  __asm__ volatile("fldl %1\n\tfmull %2\n\tfstpl %0"
                   : "=m"(r)
                   : "m"(kOneAndHalf), "m"(kTwoQuarter)
                   : X87_CLOBBERS);
  check_u64("1.5 * 2.25", Bits(&r), 0x400b000000000000ull);
  __asm__ volatile("fldl %1\n\tfdivl %2\n\tfstpl %0"
                   : "=m"(r)
                   : "m"(kTen), "m"(kFour)
                   : X87_CLOBBERS);
  check_u64("10 / 4", Bits(&r), 0x4004000000000000ull);
  __asm__ volatile("fld1\n\tfdivl %1\n\tfstpl %0" : "=m"(r) : "m"(kThree) : X87_CLOBBERS);
  check_u64("1 / 3 (extended, then rounded to double)", Bits(&r), 0x3fd5555555555555ull);
  __asm__ volatile("fldl %1\n\tfdivrl %2\n\tfstpl %0"
                   : "=m"(r)
                   : "m"(kThree), "m"(kTwo)
                   : X87_CLOBBERS);
  check_u64("fdivr: 2 / 3", Bits(&r), 0x3fe5555555555555ull);
  __asm__ volatile("fldl %1\n\tfsqrt\n\tfstpl %0" : "=m"(r) : "m"(kTwo) : X87_CLOBBERS);
  check_u64("sqrt(2)", Bits(&r), 0x3ff6a09e667f3bcdull);
  __asm__ volatile("fldl %1\n\tfaddl %2\n\tfstpl %0"
                   : "=m"(r)
                   : "m"(kTenthD), "m"(kFifthD)
                   : X87_CLOBBERS);
  check_u64("0.1 + 0.2", Bits(&r), 0x3fd3333333333334ull);
  __asm__ volatile("fldl %1\n\tfmull %2\n\tfstpl %0"
                   : "=m"(r)
                   : "m"(kBig), "m"(kTen)
                   : X87_CLOBBERS);
  check_u64("1e308 * 10 stored as double: +inf", Bits(&r), 0x7ff0000000000000ull);
  __asm__ volatile("fldl %1\n\tfchs\n\tfstpl %0" : "=m"(r) : "m"(kOneAndHalf) : X87_CLOBBERS);
  check_u64("fchs", Bits(&r), 0xbff8000000000000ull);
  __asm__ volatile("fldl %1\n\tfchs\n\tfabs\n\tfstpl %0"
                   : "=m"(r)
                   : "m"(kOneAndHalf)
                   : X87_CLOBBERS);
  check_u64("fabs", Bits(&r), 0x3ff8000000000000ull);
  /* Register forms and the stack: (1.5 + 2.25) * (10 - 4) = 22.5 */
  __asm__ volatile(
      "fldl %1\n\tfldl %2\n\tfaddp\n\t"
      "fldl %3\n\tfldl %4\n\t.byte 0xde, 0xe1\n\t" /* Intel FSUBRP st(1), st(0): gas spells it fsubp
                                                    */
      "fmulp\n\tfstpl %0"
      : "=m"(r)
      : "m"(kOneAndHalf), "m"(kTwoQuarter), "m"(kFour), "m"(kTen)
      : X87_CLOBBERS);
  check_u64("(1.5 + 2.25) * (10 - 4) via faddp, fsubrp, fmulp", Bits(&r), 0x4036800000000000ull);
  __asm__ volatile("fldl %1\n\tfldl %2\n\tfxch\n\tfstpl %0\n\tfstp %%st(0)"
                   : "=m"(r)
                   : "m"(kOne), "m"(kTwo)
                   : X87_CLOBBERS);
  check_u64("fxch", Bits(&r), 0x3ff0000000000000ull);
}

static void TestX87Constants(void) {
  check_section("x87.constants");
  double r;
  __asm__ volatile("fld1\n\tfstpl %0" : "=m"(r) : : X87_CLOBBERS);
  check_u64("fld1", Bits(&r), 0x3ff0000000000000ull);
  __asm__ volatile("fldz\n\tfstpl %0" : "=m"(r) : : X87_CLOBBERS);
  check_u64("fldz", Bits(&r), 0);
  __asm__ volatile("fldpi\n\tfstpl %0" : "=m"(r) : : X87_CLOBBERS);
  check_u64("fldpi", Bits(&r), 0x400921fb54442d18ull);
  __asm__ volatile("fldl2e\n\tfstpl %0" : "=m"(r) : : X87_CLOBBERS);
  check_u64("fldl2e", Bits(&r), 0x3ff71547652b82feull);
  __asm__ volatile("fldln2\n\tfstpl %0" : "=m"(r) : : X87_CLOBBERS);
  check_u64("fldln2", Bits(&r), 0x3fe62e42fefa39efull);
  __asm__ volatile("fldlg2\n\tfstpl %0" : "=m"(r) : : X87_CLOBBERS);
  check_u64("fldlg2", Bits(&r), 0x3fd34413509f79ffull);
  __asm__ volatile("fldl2t\n\tfstpl %0" : "=m"(r) : : X87_CLOBBERS);
  check_u64("fldl2t", Bits(&r), 0x400a934f0979a371ull);
  uint8_t t[10];
  __asm__ volatile("fldpi\n\tfstpt %0" : "=m"(t) : : X87_CLOBBERS);
  check_bytes("fldpi as 80 bits", t, "\x35\xc2\x68\x21\xa2\xda\x0f\xc9\x00\x40", 10);
}

static const double kRound[] = {2.5, 3.5, -2.5, 2.7, -2.7, -2.1, 2.1};

/* FISTP under control word cw for each kRound value. */
static void FistAll(uint16_t cw, int32_t* out) {
  uint16_t saved;
  for (int i = 0; i < 7; i++)
    __asm__ volatile("fnstcw %1\n\tfldcw %2\n\tfldl %3\n\tfistpl %0\n\tfldcw %1"
                     : "=m"(out[i]), "=m"(saved)
                     : "m"(cw), "m"(kRound[i])
                     : X87_CLOBBERS);
}

static void TestX87Integer(void) {
  check_section("x87.integer_rounding");
  int32_t r[7];
  static const int32_t kNearest[7] = {2, 4, -2, 3, -3, -2, 2};
  static const int32_t kDown[7] = {2, 3, -3, 2, -3, -3, 2};
  static const int32_t kUp[7] = {3, 4, -2, 3, -2, -2, 3};
  static const int32_t kTrunc[7] = {2, 3, -2, 2, -2, -2, 2};
  FistAll(0x037f, r);
  for (int i = 0; i < 7; i++)
    check_u32("fistp round to nearest even", (uint32_t)r[i], (uint32_t)kNearest[i]);
  FistAll(0x077f, r);
  for (int i = 0; i < 7; i++) check_u32("fistp round down", (uint32_t)r[i], (uint32_t)kDown[i]);
  FistAll(0x0b7f, r);
  for (int i = 0; i < 7; i++) check_u32("fistp round up", (uint32_t)r[i], (uint32_t)kUp[i]);
  FistAll(0x0f7f, r);
  for (int i = 0; i < 7; i++) check_u32("fistp truncate", (uint32_t)r[i], (uint32_t)kTrunc[i]);
  static const int32_t kMinus7 = -7;
  static const int64_t kBigInt = 0x0123456789abcdefll;
  int64_t q;
  double d;
  __asm__ volatile("fildl %1\n\tfstpl %0" : "=m"(d) : "m"(kMinus7) : X87_CLOBBERS);
  check_u64("fild m32 -7", Bits(&d), 0xc01c000000000000ull);
  __asm__ volatile("fildll %1\n\tfistpll %0" : "=m"(q) : "m"(kBigInt) : X87_CLOBBERS);
  check_u64("fild/fistp m64 round trip", (uint64_t)q, 0x0123456789abcdefull);
  int16_t w;
  __asm__ volatile("fldl %1\n\tfistps %0" : "=m"(w) : "m"(kBig) : X87_CLOBBERS);
  check_u32("fistp m16 overflow: integer indefinite", (uint16_t)w, 0x8000);
}

static void TestX87Misc(void) {
  check_section("x87.fprem_frndint_fscale_fxtract");
  double r, s;
  __asm__ volatile("fldl %2\n\tfldl %1\n\tfprem\n\tfstpl %0\n\tfstp %%st(0)"
                   : "=m"(r)
                   : "m"(kTenHalf), "m"(kThree)
                   : X87_CLOBBERS);
  check_u64("fprem 10.5, 3 = 1.5", Bits(&r), 0x3ff8000000000000ull);
  __asm__ volatile("fldl %2\n\tfldl %1\n\tfprem1\n\tfstpl %0\n\tfstp %%st(0)"
                   : "=m"(r)
                   : "m"(kTenHalf), "m"(kThree)
                   : X87_CLOBBERS);
  check_u64("fprem1 10.5, 3 = -1.5", Bits(&r), 0xbff8000000000000ull);
  __asm__ volatile("fldl %1\n\tfrndint\n\tfstpl %0" : "=m"(r) : "m"(kRound[0]) : X87_CLOBBERS);
  check_u64("frndint 2.5 = 2", Bits(&r), 0x4000000000000000ull);
  __asm__ volatile("fldl %1\n\tfrndint\n\tfstpl %0" : "=m"(r) : "m"(kRound[1]) : X87_CLOBBERS);
  check_u64("frndint 3.5 = 4", Bits(&r), 0x4010000000000000ull);
  __asm__ volatile("fldl %2\n\tfldl %1\n\tfscale\n\tfstpl %0\n\tfstp %%st(0)"
                   : "=m"(r)
                   : "m"(kOneAndHalf), "m"(kFour)
                   : X87_CLOBBERS);
  check_u64("fscale 1.5 * 2^4 = 24", Bits(&r), 0x4038000000000000ull);
  __asm__ volatile("fldl %2\n\tfxtract\n\tfstpl %0\n\tfstpl %1"
                   : "=m"(r), "=m"(s)
                   : "m"(kTwentyFour)
                   : X87_CLOBBERS);
  check_u64("fxtract 24: significand 1.5", Bits(&r), 0x3ff8000000000000ull);
  check_u64("fxtract 24: exponent 4", Bits(&s), 0x4010000000000000ull);

  check_section("x87.precision_control");
  uint8_t t[10];
  static const uint16_t kCwDouble = 0x027f, kCwDefault = 0x037f;
  __asm__ volatile("fldcw %1\n\tfld1\n\tfdivl %2\n\tfstpt %0\n\tfldcw %3"
                   : "=m"(t)
                   : "m"(kCwDouble), "m"(kThree), "m"(kCwDefault)
                   : X87_CLOBBERS);
  check_bytes("1/3 at 53-bit precision, as 80 bits", t, "\x00\xa8\xaa\xaa\xaa\xaa\xaa\xaa\xfd\x3f",
              10);
  __asm__ volatile("fld1\n\tfdivl %1\n\tfstpt %0" : "=m"(t) : "m"(kThree) : X87_CLOBBERS);
  check_bytes("1/3 at 64-bit precision, as 80 bits", t, "\xab\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xfd\x3f",
              10);
}

/* FCOMI/FUCOMI compare ST0 = a with ST1 = b. */
static uint32_t Fcomi(const double* a, const double* b, int unordered) {
  uint32_t f;
  if (unordered)
    __asm__ volatile(
        "fldl %2\n\tfldl %1\n\tfucomip %%st(1), %%st\n\tfstp %%st(0)\n\tpushfl\n\tpopl %0"
        : "=r"(f)
        : "m"(*a), "m"(*b)
        : X87_CLOBBERS, "cc");
  else
    __asm__ volatile(
        "fldl %2\n\tfldl %1\n\tfcomip %%st(1), %%st\n\tfstp %%st(0)\n\tpushfl\n\tpopl %0"
        : "=r"(f)
        : "m"(*a), "m"(*b)
        : X87_CLOBBERS, "cc");
  return f & (kFlagZf | kFlagPf | kFlagCf);
}

/* FCOM ST0 = a with m64 b; returns C3 C2 C0 from FSTSW AX. */
static uint32_t Fcom(const double* a, const double* b) {
  uint16_t sw;
  __asm__ volatile("fldl %1\n\tfcompl %2\n\tfnstsw %%ax"
                   : "=a"(sw)
                   : "m"(*a), "m"(*b)
                   : X87_CLOBBERS);
  return sw & 0x4500;
}

static void TestX87Compare(void) {
  check_section("x87.compare");
  static const uint64_t kQnan = 0x7ff8000000000000ull;
  double nan;
  memcpy(&nan, &kQnan, 8);
  check_u32("fcomi 1 < 2: CF", Fcomi(&kOne, &kTwo, 0), kFlagCf);
  check_u32("fcomi 2 > 1: none", Fcomi(&kTwo, &kOne, 0), 0);
  check_u32("fcomi 2 = 2: ZF", Fcomi(&kTwo, &kTwo, 0), kFlagZf);
  check_u32("fucomi NaN: ZF PF CF", Fcomi(&nan, &kOne, 1), kFlagZf | kFlagPf | kFlagCf);
  check_u32("fcom 1 < 2: C0", Fcom(&kOne, &kTwo), 0x0100);
  check_u32("fcom 2 > 1: none", Fcom(&kTwo, &kOne), 0);
  check_u32("fcom 2 = 2: C3", Fcom(&kTwo, &kTwo), 0x4000);
  __asm__ volatile("fnclex" ::: X87_CLOBBERS);
  check_u32("fcom NaN: C3 C2 C0", Fcom(&nan, &kOne), 0x4500);
  __asm__ volatile("fnclex" ::: X87_CLOBBERS);
  uint16_t sw;
  __asm__ volatile("fldl %1\n\tftst\n\tfnstsw %%ax\n\tfstp %%st(0)"
                   : "=a"(sw)
                   : "m"(kMinusOne)
                   : X87_CLOBBERS);
  check_u32("ftst -1: C0", sw & 0x4500, 0x0100);
  /* FXAM classes: C3 C2 C0 (0x4500) plus C1 (0x0200) = sign. */
  static const uint64_t kMinusZero = 0x8000000000000000ull, kInf = 0x7ff0000000000000ull;
  __asm__ volatile("fldl %1\n\tfxam\n\tfnstsw %%ax\n\tfstp %%st(0)"
                   : "=a"(sw)
                   : "m"(kMinusZero)
                   : X87_CLOBBERS);
  check_u32("fxam -0: zero, negative", sw & 0x4700, 0x4200);
  __asm__ volatile("fldl %1\n\tfxam\n\tfnstsw %%ax\n\tfstp %%st(0)"
                   : "=a"(sw)
                   : "m"(kInf)
                   : X87_CLOBBERS);
  check_u32("fxam +inf: infinity", sw & 0x4700, 0x0500);
  __asm__ volatile("fldl %1\n\tfxam\n\tfnstsw %%ax\n\tfstp %%st(0)"
                   : "=a"(sw)
                   : "m"(kQnan)
                   : X87_CLOBBERS);
  check_u32("fxam NaN", sw & 0x4700, 0x0100);
  __asm__ volatile("fldl %1\n\tfxam\n\tfnstsw %%ax\n\tfstp %%st(0)"
                   : "=a"(sw)
                   : "m"(kTwo)
                   : X87_CLOBBERS);
  check_u32("fxam 2: normal", sw & 0x4700, 0x0400);
  __asm__ volatile("fld1\n\tfstp %%st(0)\n\tfxam\n\tfnstsw %%ax" : "=a"(sw) : : X87_CLOBBERS);
  check_u32("fxam empty register", sw & 0x4500, 0x4100);
}

static void TestX87Status(void) {
  check_section("x87.status_word");
  uint16_t sw, cw;
  __asm__ volatile("fninit\n\tfnstcw %0\n\tfnstsw %1" : "=m"(cw), "=m"(sw) : : X87_CLOBBERS);
  check_u32("control word after fninit", cw, 0x037f);
  check_u32("status word after fninit", sw, 0);
  __asm__ volatile("fld1\n\tfld1\n\tfld1\n\tfnstsw %0\n\tfninit" : "=m"(sw) : : X87_CLOBBERS);
  check_u32("TOP after three pushes", (sw >> 11) & 7, 5);
  double r;
  __asm__ volatile("fld1\n\tfdivl %2\n\tfstpl %0\n\tfnstsw %1\n\tfnclex"
                   : "=m"(r), "=m"(sw)
                   : "m"(kZero)
                   : X87_CLOBBERS);
  check_u64("1/0 masked: +inf", Bits(&r), 0x7ff0000000000000ull);
  check_u32("1/0 sets ZE", sw & 0x3f, 0x04);
  __asm__ volatile("fldl %2\n\tfsqrt\n\tfstpl %0\n\tfnstsw %1\n\tfnclex"
                   : "=m"(r), "=m"(sw)
                   : "m"(kMinusOne)
                   : X87_CLOBBERS);
  check_u64("sqrt(-1) masked: real indefinite", Bits(&r), 0xfff8000000000000ull);
  check_u32("sqrt(-1) sets IE", sw & 0x3f, 0x01);
  __asm__ volatile("fld1\n\tfdivl %2\n\tfstpl %0\n\tfnstsw %1\n\tfnclex"
                   : "=m"(r), "=m"(sw)
                   : "m"(kThree)
                   : X87_CLOBBERS);
  check_u32("1/3 sets PE", sw & 0x3f, 0x20);
  __asm__ volatile("fnstsw %0" : "=m"(sw) : : X87_CLOBBERS);
  check_u32("fnclex clears", sw & 0x3f, 0);
}

static void TestMmx(void) {
  check_section("mmx");
  static const uint16_t kA[4] = {1, 2, 3, 0xffff}, kB[4] = {1, 1, 1, 1};
  static const uint8_t kC[8] = {0xf0, 0x10, 0x80, 0x7f, 0, 1, 2, 3},
                       kD[8] = {0x20, 0x20, 0x80, 0x01, 0, 0, 0, 0};
  uint64_t r;
  __asm__ volatile("movq %1, %%mm0\n\tpaddw %2, %%mm0\n\tmovq %%mm0, %0\n\temms"
                   : "=m"(r)
                   : "m"(kA), "m"(kB)
                   : "mm0");
  check_u64("paddw wraps", r, 0x0000000400030002ull);
  __asm__ volatile("movq %1, %%mm1\n\tpaddusb %2, %%mm1\n\tmovq %%mm1, %0\n\temms"
                   : "=m"(r)
                   : "m"(kC), "m"(kD)
                   : "mm1");
  check_u64("paddusb saturates", r, 0x0302010080ff30ffull);
  __asm__ volatile(
      "movq %1, %%mm2\n\tpmullw %%mm2, %%mm2\n\tpsrlq $16, %%mm2\n\tmovq %%mm2, %0\n\temms"
      : "=m"(r)
      : "m"(kA)
      : "mm2");
  check_u64("pmullw, psrlq", r, 0x0000000100090004ull);
  uint32_t d;
  __asm__ volatile(
      "movl $0x89abcdef, %%eax\n\tmovd %%eax, %%mm3\n\tpsllq $4, %%mm3\n\tpsrlq $8, %%mm3\n\tmovd "
      "%%mm3, %0\n\temms"
      : "=r"(d)
      :
      : "eax", "mm3");
  check_u32("movd, psllq, psrlq", d, 0x089abcde);
  double x;
  uint16_t tw[14];
  __asm__ volatile("fnstenv %0\n\tfldcw %0" : "=m"(tw) : : X87_CLOBBERS);
  check_u32("x87 tag word empty after emms", tw[4], 0xffff);
  __asm__ volatile("fld1\n\tfaddl %1\n\tfstpl %0" : "=m"(x) : "m"(kOne) : X87_CLOBBERS);
  check_u64("x87 works after emms", Bits(&x), 0x4000000000000000ull);
}

/* MOV to CR4: OSFXSR (bit 9) and OSXMMEXCPT (bit 10). */
static void EnableSse(void) {
  uint32_t cr4;
  __asm__ volatile("movl %%cr4, %0" : "=r"(cr4));
  cr4 |= (1u << 9) | (1u << 10);
  __asm__ volatile("movl %0, %%cr4" : : "r"(cr4) : "memory");
}

static uint8_t fx1[512] __attribute__((aligned(16)));
static uint8_t fx2[512] __attribute__((aligned(16)));
static const uint8_t kXmmPattern[16] __attribute__((aligned(16))) = {
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
static const double kTwelve = 12.0;

static void TestFxsave(void) {
  check_section("fxsave_fxrstor");
  static const uint32_t kMxcsrDown = 0x3f80, kMxcsrDefault = 0x1f80;
  memset(fx1, 0, sizeof fx1);
  memset(fx2, 0, sizeof fx2);
  __asm__ volatile(
      "fninit\n\tfld1\n\tfldpi\n\tfldl %[twelve]\n\t"
      "movdqa %[pat], %%xmm0\n\tpcmpeqb %%xmm1, %%xmm1\n\tpxor %%xmm7, %%xmm7\n\t"
      "ldmxcsr %[down]\n\t"
      "fxsave %[fx1]\n\t"
      "fninit\n\tpxor %%xmm0, %%xmm0\n\tpxor %%xmm1, %%xmm1\n\tpcmpeqb %%xmm7, %%xmm7\n\tldmxcsr "
      "%[def]\n\t"
      "fxrstor %[fx1]\n\t"
      "fxsave %[fx2]"
      : [fx1] "+m"(fx1), [fx2] "=m"(fx2)
      : [twelve] "m"(kTwelve), [pat] "m"(kXmmPattern), [down] "m"(kMxcsrDown),
        [def] "m"(kMxcsrDefault)
      : "xmm0", "xmm1", "xmm7", X87_CLOBBERS);
  uint16_t fcw, fsw;
  uint32_t mxcsr;
  memcpy(&fcw, fx1 + 0, 2);
  memcpy(&fsw, fx1 + 2, 2);
  memcpy(&mxcsr, fx1 + 24, 4);
  check_u32("image FCW", fcw, 0x037f);
  check_u32("image FSW TOP", (fsw >> 11) & 7, 5);
  check_u32("image abridged FTW (regs 5-7 valid)", fx1[4], 0xe0);
  check_u32("image MXCSR", mxcsr, 0x3f80);
  check_bytes("image ST0 = 12.0", fx1 + 32, "\x00\x00\x00\x00\x00\x00\x00\xc0\x02\x40", 10);
  check_bytes("image ST1 = pi", fx1 + 48, "\x35\xc2\x68\x21\xa2\xda\x0f\xc9\x00\x40", 10);
  check_bytes("image ST2 = 1.0", fx1 + 64, "\x00\x00\x00\x00\x00\x00\x00\x80\xff\x3f", 10);
  check_bytes("image XMM0", fx1 + 160, kXmmPattern, 16);
  check_bytes("image XMM1 all ones", fx1 + 176,
              "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 16);
  check_bytes("image XMM7 zero", fx1 + 272, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16);
  /* Bytes 0..287: the x87/MMX/SSE state a 32-bit CPU defines. */
  check_bytes("fxsave after fxrstor: same image", fx2, fx1, 288);
  uint32_t m;
  double st0;
  __asm__ volatile("stmxcsr %0\n\tfstpl %1\n\tfninit\n\tldmxcsr %2"
                   : "=m"(m), "=m"(st0)
                   : "m"(kMxcsrDefault)
                   : X87_CLOBBERS);
  check_u32("MXCSR restored", m, 0x3f80);
  check_u64("ST0 restored", Bits(&st0), 0x4028000000000000ull);
}

static const uint32_t kA32[4]
    __attribute__((aligned(16))) = {0x00000001, 0x7fffffff, 0xffffffff, 0x80000000};
static const uint32_t kB32[4]
    __attribute__((aligned(16))) = {0x00000002, 0x00000001, 0x00000001, 0x80000000};
static uint8_t xr[16] __attribute__((aligned(16)));

#define SSE_BIN(insn)                                                              \
  __asm__ volatile("movdqa %1, %%xmm0\n\t" insn " %2, %%xmm0\n\tmovdqa %%xmm0, %0" \
                   : "=m"(xr)                                                      \
                   : "m"(kA32), "m"(kB32)                                          \
                   : "xmm0")
#define SSE_UN(insn)                                                    \
  __asm__ volatile("movdqa %1, %%xmm0\n\t" insn "\n\tmovdqa %%xmm0, %0" \
                   : "=m"(xr)                                           \
                   : "m"(kA32)                                          \
                   : "xmm0")

static void TestSse2Int(void) {
  check_section("sse2.integer");
  SSE_BIN("paddd");
  check_bytes("paddd", xr, "\x03\x00\x00\x00\x00\x00\x00\x80\x00\x00\x00\x00\x00\x00\x00\x00", 16);
  SSE_BIN("psubq");
  check_bytes("psubq", xr, "\xff\xff\xff\xff\xfd\xff\xff\x7f\xfe\xff\xff\xff\x00\x00\x00\x00", 16);
  SSE_BIN("pmuludq");
  check_bytes("pmuludq", xr, "\x02\x00\x00\x00\x00\x00\x00\x00\xff\xff\xff\xff\x00\x00\x00\x00",
              16);
  SSE_BIN("pminub");
  check_bytes("pminub", xr, "\x01\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x80", 16);
  SSE_BIN("pmaxsw");
  check_bytes("pmaxsw", xr, "\x02\x00\x00\x00\x01\x00\xff\x7f\x01\x00\x00\x00\x00\x00\x00\x80", 16);
  SSE_BIN("punpcklbw");
  check_bytes("punpcklbw", xr, "\x01\x02\x00\x00\x00\x00\x00\x00\xff\x01\xff\x00\xff\x00\x7f\x00",
              16);
  SSE_BIN("pandn");
  check_bytes("pandn", xr, "\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 16);
  SSE_UN("pshufd $0x1b, %%xmm0, %%xmm0");
  check_bytes("pshufd reverse", xr,
              "\x00\x00\x00\x80\xff\xff\xff\xff\xff\xff\xff\x7f\x01\x00\x00\x00", 16);
  SSE_UN("psrad $4, %%xmm0");
  check_bytes("psrad 4", xr, "\x00\x00\x00\x00\xff\xff\xff\x07\xff\xff\xff\xff\x00\x00\x00\xf8",
              16);
  SSE_UN("psllq $8, %%xmm0");
  check_bytes("psllq 8", xr, "\x00\x01\x00\x00\x00\xff\xff\xff\x00\xff\xff\xff\xff\x00\x00\x00",
              16);
  SSE_UN("pslldq $3, %%xmm0");
  check_bytes("pslldq 3", xr, "\x00\x00\x00\x01\x00\x00\x00\xff\xff\xff\x7f\xff\xff\xff\xff\x00",
              16);
  SSE_UN("psrldq $5, %%xmm0");
  check_bytes("psrldq 5", xr, "\xff\xff\x7f\xff\xff\xff\xff\x00\x00\x00\x80\x00\x00\x00\x00\x00",
              16);
  uint32_t mask;
  __asm__ volatile("movdqa %1, %%xmm0\n\tpcmpeqb %2, %%xmm0\n\tpmovmskb %%xmm0, %0"
                   : "=r"(mask)
                   : "m"(kA32), "m"(kB32)
                   : "xmm0");
  check_u32("pcmpeqb + pmovmskb", mask, 0xf00e);
  static const uint16_t kW[8] __attribute__((aligned(16))) = {0x0001, 0x007f, 0x0080, 0xff80,
                                                              0xff7f, 0x7fff, 0x8000, 0xfffe};
  __asm__ volatile("movdqa %1, %%xmm0\n\tpacksswb %%xmm0, %%xmm0\n\tmovdqa %%xmm0, %0"
                   : "=m"(xr)
                   : "m"(kW)
                   : "xmm0");
  check_bytes("packsswb saturates", xr,
              "\x01\x7f\x7f\x80\x80\x7f\x80\xfe\x01\x7f\x7f\x80\x80\x7f\x80\xfe", 16);
  static const int16_t kMa[8] __attribute__((aligned(16))) = {1, 2, 3, 4, -1, -2, 0x7fff, 0x7fff};
  static const int16_t kMb[8] __attribute__((aligned(16))) = {5, 6, 7, 8, 9, 10, 0x7fff, 0x7fff};
  __asm__ volatile("movdqa %1, %%xmm0\n\tpmaddwd %2, %%xmm0\n\tmovdqa %%xmm0, %0"
                   : "=m"(xr)
                   : "m"(kMa), "m"(kMb)
                   : "xmm0");
  check_bytes("pmaddwd", xr, "\x11\x00\x00\x00\x35\x00\x00\x00\xe3\xff\xff\xff\x02\x00\xfe\x7f",
              16);
  static const uint8_t kSeq[16]
      __attribute__((aligned(16))) = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
  static const uint8_t kFives[16]
      __attribute__((aligned(16))) = {5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5};
  __asm__ volatile("movdqa %1, %%xmm0\n\tpsadbw %2, %%xmm0\n\tmovdqa %%xmm0, %0"
                   : "=m"(xr)
                   : "m"(kSeq), "m"(kFives)
                   : "xmm0");
  check_bytes("psadbw", xr, "\x12\x00\x00\x00\x00\x00\x00\x00\x34\x00\x00\x00\x00\x00\x00\x00", 16);
  __asm__ volatile("movdqa %1, %%xmm0\n\tpavgb %2, %%xmm0\n\tmovdqa %%xmm0, %0"
                   : "=m"(xr)
                   : "m"(kSeq), "m"(kFives)
                   : "xmm0");
  check_bytes("pavgb rounds up", xr,
              "\x03\x03\x04\x04\x05\x05\x06\x06\x07\x07\x08\x08\x09\x09\x0a\x0a", 16);
  uint32_t w;
  __asm__ volatile(
      "movdqa %1, %%xmm0\n\tmovl $0xbeef, %%eax\n\tpinsrw $3, %%eax, %%xmm0\n\tpextrw $3, %%xmm0, "
      "%0"
      : "=r"(w)
      : "m"(kA32)
      : "eax", "xmm0");
  check_u32("pinsrw/pextrw", w, 0xbeef);
  __asm__ volatile("movd %1, %%xmm3\n\tpaddd %%xmm3, %%xmm3\n\tmovd %%xmm3, %0"
                   : "=r"(w)
                   : "r"(0x40000001)
                   : "xmm3");
  check_u32("movd r32 <-> xmm", w, 0x80000002);
  uint64_t q;
  __asm__ volatile("movq %1, %%xmm4\n\tpsrlq $4, %%xmm4\n\tmovq %%xmm4, %0"
                   : "=m"(q)
                   : "m"(kA32)
                   : "xmm4");
  check_u64("movq m64 <-> xmm", q, 0x07fffffff0000000ull);
}

static const double kPd1[2] __attribute__((aligned(16))) = {1.5, -2.0};
static const double kPd2[2] __attribute__((aligned(16))) = {2.25, 0.75};
static double dr[2] __attribute__((aligned(16)));

#define PD_BIN(insn)                                                               \
  __asm__ volatile("movapd %1, %%xmm0\n\t" insn " %2, %%xmm0\n\tmovapd %%xmm0, %0" \
                   : "=m"(dr)                                                      \
                   : "m"(kPd1), "m"(kPd2)                                          \
                   : "xmm0")

static uint32_t Comisd(const double* a, const double* b, int unordered) {
  uint32_t f;
  if (unordered)
    __asm__ volatile("movsd %1, %%xmm0\n\tucomisd %2, %%xmm0\n\tpushfl\n\tpopl %0"
                     : "=r"(f)
                     : "m"(*a), "m"(*b)
                     : "xmm0", "cc");
  else
    __asm__ volatile("movsd %1, %%xmm0\n\tcomisd %2, %%xmm0\n\tpushfl\n\tpopl %0"
                     : "=r"(f)
                     : "m"(*a), "m"(*b)
                     : "xmm0", "cc");
  return f & kFlagsArith;
}

static int32_t Cvtsd2si(const double* d, uint32_t mxcsr) {
  int32_t r;
  uint32_t saved;
  __asm__ volatile("stmxcsr %1\n\tldmxcsr %2\n\tcvtsd2si %3, %0\n\tldmxcsr %1"
                   : "=r"(r), "=m"(saved)
                   : "m"(mxcsr), "m"(*d));
  return r;
}

static void TestSse2Double(void) {
  check_section("sse2.double");
  PD_BIN("addpd");
  check_u64("addpd lo", Bits(&dr[0]), 0x400e000000000000ull);
  check_u64("addpd hi", Bits(&dr[1]), 0xbff4000000000000ull);
  PD_BIN("mulpd");
  check_u64("mulpd lo", Bits(&dr[0]), 0x400b000000000000ull);
  check_u64("mulpd hi", Bits(&dr[1]), 0xbff8000000000000ull);
  PD_BIN("minpd");
  check_u64("minpd lo", Bits(&dr[0]), 0x3ff8000000000000ull);
  check_u64("minpd hi", Bits(&dr[1]), 0xc000000000000000ull);
  PD_BIN("maxpd");
  check_u64("maxpd hi", Bits(&dr[1]), 0x3fe8000000000000ull);
  PD_BIN("unpcklpd");
  check_u64("unpcklpd hi", Bits(&dr[1]), 0x4002000000000000ull);
  PD_BIN("shufpd $1,");
  check_u64("shufpd lo", Bits(&dr[0]), 0xc000000000000000ull);
  check_u64("shufpd hi", Bits(&dr[1]), 0x4002000000000000ull);
  static const double kDiv[2] __attribute__((aligned(16))) = {1.0, 2.0},
                              kBy[2] __attribute__((aligned(16))) = {3.0, 3.0};
  __asm__ volatile("movapd %1, %%xmm1\n\tdivpd %2, %%xmm1\n\tmovapd %%xmm1, %0"
                   : "=m"(dr)
                   : "m"(kDiv), "m"(kBy)
                   : "xmm1");
  check_u64("divpd 1/3", Bits(&dr[0]), 0x3fd5555555555555ull);
  check_u64("divpd 2/3", Bits(&dr[1]), 0x3fe5555555555555ull);
  static const double kSq[2] __attribute__((aligned(16))) = {2.0, 3.0};
  __asm__ volatile("sqrtpd %1, %%xmm2\n\tmovapd %%xmm2, %0" : "=m"(dr) : "m"(kSq) : "xmm2");
  check_u64("sqrtpd 2", Bits(&dr[0]), 0x3ff6a09e667f3bcdull);
  check_u64("sqrtpd 3", Bits(&dr[1]), 0x3ffbb67ae8584caaull);
  static const uint64_t kAbsMask[2]
      __attribute__((aligned(16))) = {0x7fffffffffffffffull, 0x7fffffffffffffffull};
  __asm__ volatile("movapd %1, %%xmm0\n\tandpd %2, %%xmm0\n\tmovapd %%xmm0, %0"
                   : "=m"(dr)
                   : "m"(kPd1), "m"(kAbsMask)
                   : "xmm0");
  check_u64("andpd abs", Bits(&dr[1]), 0x4000000000000000ull);
  double d;
  __asm__ volatile("cvtsi2sd %1, %%xmm0\n\tmovsd %%xmm0, %0" : "=m"(d) : "r"(-7) : "xmm0");
  check_u64("cvtsi2sd -7", Bits(&d), 0xc01c000000000000ull);
  int32_t i;
  __asm__ volatile("cvttsd2si %1, %0" : "=r"(i) : "m"(kRound[3]));
  check_u32("cvttsd2si 2.7", (uint32_t)i, 2);
  __asm__ volatile("cvttsd2si %1, %0" : "=r"(i) : "m"(kRound[4]));
  check_u32("cvttsd2si -2.7", (uint32_t)i, (uint32_t)-2);
  check_u32("cvtsd2si 2.5 nearest", (uint32_t)Cvtsd2si(&kRound[0], 0x1f80), 2);
  check_u32("cvtsd2si 3.5 nearest", (uint32_t)Cvtsd2si(&kRound[1], 0x1f80), 4);
  check_u32("cvtsd2si -2.1 down", (uint32_t)Cvtsd2si(&kRound[5], 0x3f80), (uint32_t)-3);
  check_u32("cvtsd2si 2.1 up", (uint32_t)Cvtsd2si(&kRound[6], 0x5f80), 3);
  check_u32("cvtsd2si -2.7 toward zero", (uint32_t)Cvtsd2si(&kRound[4], 0x7f80), (uint32_t)-2);
  check_u32("cvtsd2si 1e308: integer indefinite", (uint32_t)Cvtsd2si(&kBig, 0x1f80), 0x80000000);
  static const double kThird = 1.0 / 3.0;
  uint32_t s;
  __asm__ volatile(
      "cvtsd2ss %2, %%xmm0\n\tmovd %%xmm0, %0\n\tcvtss2sd %%xmm0, %%xmm0\n\tmovsd %%xmm0, %1"
      : "=r"(s), "=m"(d)
      : "m"(kThird)
      : "xmm0");
  check_u32("cvtsd2ss 1/3", s, 0x3eaaaaab);
  check_u64("cvtss2sd back", Bits(&d), 0x3fd5555560000000ull);

  static const uint64_t kQnan = 0x7ff8000000000000ull;
  double nan;
  memcpy(&nan, &kQnan, 8);
  check_u32("comisd 1 < 2", Comisd(&kOne, &kTwo, 0), kFlagCf);
  check_u32("comisd 2 > 1", Comisd(&kTwo, &kOne, 0), 0);
  check_u32("comisd 2 = 2", Comisd(&kTwo, &kTwo, 0), kFlagZf);
  check_u32("ucomisd NaN", Comisd(&nan, &kOne, 1), kFlagZf | kFlagPf | kFlagCf);

  check_section("sse.mxcsr_and_single");
  uint32_t m, m_after;
  static const uint32_t kDefault = 0x1f80;
  __asm__ volatile(
      "ldmxcsr %2\n\tmovsd %3, %%xmm0\n\tdivsd %4, %%xmm0\n\tmovsd %%xmm0, %0\n\tstmxcsr "
      "%1\n\tldmxcsr %2"
      : "=m"(d), "=m"(m)
      : "m"(kDefault), "m"(kOne), "m"(kZero)
      : "xmm0");
  check_u64("divsd 1/0 masked: +inf", Bits(&d), 0x7ff0000000000000ull);
  check_u32("divsd 1/0 sets MXCSR.ZE", m, 0x1f84);
  __asm__ volatile("stmxcsr %0" : "=m"(m_after));
  check_u32("MXCSR default", m_after, 0x1f80);
  static const float kPs1[4] __attribute__((aligned(16))) = {1.0f, 2.0f, 3.0f, 4.0f};
  static const float kPs2[4] __attribute__((aligned(16))) = {0.5f, 0.5f, 0.5f, 0.5f};
  static float fr[4] __attribute__((aligned(16)));
  __asm__ volatile("movaps %1, %%xmm5\n\taddps %2, %%xmm5\n\tmovaps %%xmm5, %0"
                   : "=m"(fr)
                   : "m"(kPs1), "m"(kPs2)
                   : "xmm5");
  uint32_t fb[4];
  memcpy(fb, fr, 16);
  check_u32("addps 0", fb[0], 0x3fc00000);
  check_u32("addps 3", fb[3], 0x40900000);
  __asm__ volatile("sqrtss %1, %%xmm6\n\tmovd %%xmm6, %0" : "=r"(s) : "m"(kPs1[1]) : "xmm6");
  check_u32("sqrtss 2", s, 0x3fb504f3);
}

static void TestSse3(void) {
  check_section("sse3");
  uint32_t a, b, c, dd;
  __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(dd) : "a"(1), "c"(0));
  check_true("cpuid: SSE3", c & 1);
  if (!(c & 1)) return;
  static const double kH[2] __attribute__((aligned(16))) = {1.5, 2.25};
  __asm__ volatile("movapd %1, %%xmm0\n\thaddpd %%xmm0, %%xmm0\n\tmovapd %%xmm0, %0"
                   : "=m"(dr)
                   : "m"(kH)
                   : "xmm0");
  check_u64("haddpd", Bits(&dr[0]), 0x400e000000000000ull);
  __asm__ volatile("movddup %1, %%xmm0\n\tmovapd %%xmm0, %0" : "=m"(dr) : "m"(kH[1]) : "xmm0");
  check_u64("movddup", Bits(&dr[1]), 0x4002000000000000ull);
}

void guest_main(uint32_t magic, uint32_t mbi) {
  (void)magic;
  (void)mbi;
  serial_puts("fpu_sse: x87, mmx, fxsave/fxrstor, sse2, sse3\n");
  TestX87Arith();
  TestX87Constants();
  TestX87Integer();
  TestX87Misc();
  TestX87Compare();
  TestX87Status();
  TestMmx();
  check_section_end();
  serial_puts("enabling SSE: CR4.OSFXSR | CR4.OSXMMEXCPT\n");
  EnableSse();
  TestFxsave();
  TestSse2Int();
  TestSse2Double();
  TestSse3();
  check_finish("fpu_sse");
}
