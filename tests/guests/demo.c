/*
 * demo: what `make demo` shows someone seeing bt86 for the first time. A
 * 32-bit kernel booted through Multiboot runs four small workloads, each
 * printing its result, whether the result is right, and the TSC ticks
 * (RDTSC) it took; then it halts (cli; hlt: bt86 exits with status 0).
 *
 *   1. sieve of Eratosthenes      tight loops over a 1 MB array
 *   2. bytecode interpreter       a switch-dispatched stack VM (indirect
 *                                 jumps on every VM instruction)
 *   3. strings                    memcpy/memcmp/strlen over 4 KiB blocks
 *   4. checksum                   table-driven CRC-32 of 1 MiB
 *
 * The expected values were worked out independently (a Python model of the
 * same computations). The tick counts differ from run to run: the expected
 * file masks them.
 */
#include "guest.h"

static uint32_t failures;

/* Ends a result line: "... : ok, 1234 ticks". */
static void Verdict(uint32_t ok, uint64_t ticks) {
  if (!ok) failures++;
  serial_printf(": %s, %llu ticks\n", ok ? "ok" : "WRONG", ticks);
}

/* 1. Sieve */
enum { kSieveN = 1000000 };
static uint8_t composite[kSieveN];

static uint32_t Sieve(void) {
  for (uint32_t i = 2; i * i < kSieveN; i++)
    if (!composite[i])
      for (uint32_t j = i * i; j < kSieveN; j += i) composite[j] = 1;
  uint32_t count = 0;
  for (uint32_t i = 2; i < kSieveN; i++) count += !composite[i];
  return count;
}

/* 2. A stack VM. */
enum Op {
  kPush,
  kLoad,
  kStore,
  kAdd,
  kMul,
  kLt,
  kEq,
  kAnd,
  kShr1,
  kInc,
  kIncVar,
  kJz,
  kJnz,
  kJmp,
  kHalt
};
struct Insn {
  uint8_t op;
  uint32_t arg;
};
enum { kVarTotal = 0, kVarN = 1, kVarX = 2, kCollatzLimit = 3000 };

/* total = sum over n in 1..3000 of the Collatz steps from n down to 1. */
static const struct Insn kCollatz[] = {
    /*  0 */ {kPush, 0},
    {kStore, kVarTotal},
    {kPush, 1},
    {kStore, kVarN},
    /*  4 loop_n */ {kLoad, kVarN},
    {kPush, kCollatzLimit + 1},
    {kLt, 0},
    {kJz, 30},
    /*  8 */ {kLoad, kVarN},
    {kStore, kVarX},
    /* 10 loop_x */ {kLoad, kVarX},
    {kPush, 1},
    {kEq, 0},
    {kJnz, 28},
    /* 14 */ {kLoad, kVarX},
    {kPush, 1},
    {kAnd, 0},
    {kJz, 23},
    /* 18 odd */ {kLoad, kVarX},
    {kPush, 3},
    {kMul, 0},
    {kInc, 0},
    {kJmp, 25},
    /* 23 even */ {kLoad, kVarX},
    {kShr1, 0},
    /* 25 store */ {kStore, kVarX},
    {kIncVar, kVarTotal},
    {kJmp, 10},
    /* 28 next_n */ {kIncVar, kVarN},
    {kJmp, 4},
    /* 30 end */ {kLoad, kVarTotal},
    {kHalt, 0},
};

static uint32_t RunVm(const struct Insn* code, uint32_t* steps_out) {
  uint32_t stack[64], vars[4] = {0, 0, 0, 0};
  uint32_t sp = 0, pc = 0, steps = 0, a, b;
  for (;;) {
    const struct Insn* in = &code[pc++];
    steps++;
    switch (in->op) {
      case kPush:
        stack[sp++] = in->arg;
        break;
      case kLoad:
        stack[sp++] = vars[in->arg];
        break;
      case kStore:
        vars[in->arg] = stack[--sp];
        break;
      case kAdd:
        b = stack[--sp];
        a = stack[--sp];
        stack[sp++] = a + b;
        break;
      case kMul:
        b = stack[--sp];
        a = stack[--sp];
        stack[sp++] = a * b;
        break;
      case kLt:
        b = stack[--sp];
        a = stack[--sp];
        stack[sp++] = a < b;
        break;
      case kEq:
        b = stack[--sp];
        a = stack[--sp];
        stack[sp++] = a == b;
        break;
      case kAnd:
        b = stack[--sp];
        a = stack[--sp];
        stack[sp++] = a & b;
        break;
      case kShr1:
        stack[sp - 1] >>= 1;
        break;
      case kInc:
        stack[sp - 1] += 1;
        break;
      case kIncVar:
        vars[in->arg]++;
        break;
      case kJz:
        if (stack[--sp] == 0) pc = in->arg;
        break;
      case kJnz:
        if (stack[--sp] != 0) pc = in->arg;
        break;
      case kJmp:
        pc = in->arg;
        break;
      case kHalt:
        *steps_out = steps;
        return stack[sp - 1];
    }
  }
}

/* 3. Strings */
static char text[4096], copy[4096];

static uint32_t Lcg(uint32_t* x) {
  *x = *x * 1103515245u + 12345u;
  return *x >> 16;
}

/* 4. CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320) */
static uint8_t data[1 << 20];
static uint32_t crc_table[256];

static uint32_t Crc32(const uint8_t* p, uint32_t n) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
    crc_table[i] = c;
  }
  uint32_t crc = 0xffffffffu;
  for (uint32_t i = 0; i < n; i++) crc = crc_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return crc ^ 0xffffffffu;
}

void guest_main(uint32_t magic, uint32_t mbi) {
  (void)mbi;
  serial_puts("==================================================================\n");
  serial_puts(" bt86 demo guest: a bare 32-bit x86 kernel, loaded via Multiboot.\n");
  serial_puts(" It runs four small workloads, prints on COM1 (the 16550 UART at\n");
  serial_puts(" port 0x3f8) and stops with cli; hlt.\n");
  serial_puts("==================================================================\n");
  serial_printf("multiboot magic 0x%08x %s\n", magic,
                magic == GUEST_MULTIBOOT_MAGIC ? "[ok]" : "[WRONG]");
  uint64_t start = rdtsc();

  uint64_t t0 = rdtsc();
  uint32_t primes = Sieve();
  uint64_t t1 = rdtsc();
  serial_puts("[1/4] sieve of Eratosthenes over a 1 MB array\n");
  serial_printf("      %u primes below %u", primes, (uint32_t)kSieveN);
  Verdict(primes == 78498, t1 - t0);

  uint32_t steps = 0;
  t0 = rdtsc();
  uint32_t total = RunVm(kCollatz, &steps);
  t1 = rdtsc();
  serial_puts("[2/4] bytecode interpreter: Collatz sequences of 1..3000 on a stack VM\n");
  serial_printf("      %u steps in total, %u VM instructions", total, steps);
  Verdict(total == 215063 && steps == 3045471, t1 - t0);

  uint32_t seed = 2024;
  for (uint32_t i = 0; i < sizeof text - 1; i++) text[i] = (char)('a' + Lcg(&seed) % 26);
  text[sizeof text - 1] = 0;
  uint32_t equal = 0, differ = 0, lengths_ok = 1;
  t0 = rdtsc();
  for (uint32_t i = 0; i < 1000; i++) {
    memcpy(copy, text, sizeof text);
    if (i % 100 == 99) copy[(i * 37) % (sizeof text - 1)] ^= 0x20; /* plant a difference */
    lengths_ok &= strlen(copy) == sizeof text - 1;
    if (memcmp(copy, text, sizeof text) == 0)
      equal++;
    else
      differ++;
  }
  t1 = rdtsc();
  serial_puts("[3/4] strings: copy, measure and compare a 4 KiB text 1000 times\n");
  serial_printf("      %u equal, %u with a planted difference", equal, differ);
  Verdict(equal == 990 && differ == 10 && lengths_ok, t1 - t0);

  uint32_t x = 12345;
  for (uint32_t i = 0; i < sizeof data; i++) data[i] = (uint8_t)Lcg(&x);
  t0 = rdtsc();
  uint32_t crc = Crc32(data, sizeof data);
  t1 = rdtsc();
  serial_puts("[4/4] checksum: table-driven CRC-32 of 1 MiB\n");
  serial_printf("      crc32 = 0x%08x", crc);
  Verdict(crc == 0x1da381b3, t1 - t0);

  serial_printf("all four workloads: %s (%llu ticks in total)\n",
                failures ? "SOME WRONG" : "correct", rdtsc() - start);
  serial_puts("demo: done\n");
  guest_halt();
}
