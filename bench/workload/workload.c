/* CPU-bound benchmark workload, identical native and as a bt86/QEMU guest.
 *
 * Seven kernels, each a classic stress for a binary translator: byte-wise
 * hashing (FNV-1a, table CRC-32), a quicksort of 1M words, a sieve of
 * Eratosthenes to 20M, a bytecode interpreter whose dispatch is a switch
 * compiled to a jump table (indirect branches), and call-heavy recursion
 * (fib, Ackermann). Each kernel is timed with RDTSC and prints
 *
 *     kernel <name> ticks <tsc-ticks> checksum 0x<hex32> <ok|MISMATCH|FAIL>
 *
 * followed by `total ticks <sum>` and `result PASS|FAIL`. A checksum is
 * compared with the value recorded from a native run (kExpected) and, where
 * one exists, the kernel is also checked against a known answer (CRC-32 of
 * "123456789", pi(20M), fib(n), A(3,7)). bench/run_workload.sh parses this.
 *
 * Freestanding C: no libc, no floating point, no 64-bit division; only
 * platform.h. Sizes come from volatile globals so the compiler cannot fold
 * or hoist a kernel. Memory is static (.bss, about 28 MiB).
 */
#include <stdint.h>

#include "platform.h"

#define NOINLINE __attribute__((noinline))

enum {
  kHashBytes = 4u << 20,
  kSortWords = 1u << 20,
  kSieveLimit = 20000000u,
  kVmMemWords = 256u,
};

/* Work sizes, tuned for roughly 0.1-0.3 s per kernel natively. */
static volatile uint32_t g_fnv_passes = 40;
static volatile uint32_t g_crc_passes = 24;
static volatile uint32_t g_sort_words = kSortWords;
static volatile uint32_t g_sort_rounds = 2;
static volatile uint32_t g_sieve_limit = kSieveLimit;
static volatile uint32_t g_sieve_rounds = 2;
static volatile uint32_t g_vm_iterations = 8000000; /* x 15..17 dispatches */
static volatile uint32_t g_fib_n = 32;
static volatile uint32_t g_fib_reps = 30;
static volatile uint32_t g_ack_m = 3;
static volatile uint32_t g_ack_n = 7; /* A(3,7) nests ~1000 calls: fits 64 KiB */
static volatile uint32_t g_ack_reps = 220;

static uint8_t g_hash_buf[kHashBytes];
static uint32_t g_sort_buf[kSortWords];
static uint8_t g_sieve[kSieveLimit + 1];
static uint32_t g_crc_table[256];

/* ---- Output ------------------------------------------------------------ */

static void PrintHex32(uint32_t v) {
  char buf[11] = "0x";
  for (int i = 0; i < 8; ++i) buf[2 + i] = "0123456789abcdef"[(v >> (28 - 4 * i)) & 0xf];
  buf[10] = 0;
  bench_print(buf);
}

static int g_failed;

/* Prints one kernel line. known_ok is 0 when a known-answer check failed. */
static void Report(const char* name, uint64_t ticks, uint32_t checksum, uint32_t expected,
                   int known_ok) {
  bench_print("kernel ");
  bench_print(name);
  bench_print(" ticks ");
  bench_print_u64(ticks);
  bench_print(" checksum ");
  PrintHex32(checksum);
  if (!known_ok) {
    bench_print(" FAIL\n");
    g_failed = 1;
  } else if (checksum != expected) {
    bench_print(" MISMATCH expected ");
    PrintHex32(expected);
    bench_print("\n");
    g_failed = 1;
  } else {
    bench_print(" ok\n");
  }
}

/* ---- Helpers ----------------------------------------------------------- */

static uint32_t Lcg(uint32_t* state) {
  *state = *state * 1664525u + 1013904223u;
  return *state;
}

static uint32_t Mix(uint32_t h, uint32_t v) {
  h ^= v;
  h *= 0x9e3779b1u;
  return h ^ (h >> 15);
}

/* ---- (a) hashing ------------------------------------------------------- */

static void FillHashBuffer(void) {
  uint32_t s = 0x12345678u;
  for (uint32_t i = 0; i < kHashBytes; ++i) g_hash_buf[i] = (uint8_t)(Lcg(&s) >> 24);
}

NOINLINE static uint32_t Fnv1a(uint32_t h, const uint8_t* p, uint32_t n) {
  for (uint32_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 16777619u;
  }
  return h;
}

static uint32_t KernelFnv1a(void) {
  uint32_t h = 2166136261u;
  uint32_t passes = g_fnv_passes;
  for (uint32_t i = 0; i < passes; ++i) h = Fnv1a(h, g_hash_buf, kHashBytes);
  return h;
}

static void BuildCrcTable(void) {
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
    g_crc_table[i] = c;
  }
}

/* Reflected CRC-32 (IEEE 802.3) update; start with ~0, finish with ~. */
NOINLINE static uint32_t Crc32Update(uint32_t crc, const uint8_t* p, uint32_t n) {
  for (uint32_t i = 0; i < n; ++i) crc = g_crc_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return crc;
}

static int CrcKnownAnswerOk(void) {
  static const uint8_t kCheck[] = "123456789";
  return ~Crc32Update(~0u, kCheck, 9) == 0xcbf43926u;
}

static uint32_t KernelCrc32(void) {
  uint32_t crc = ~0u;
  uint32_t passes = g_crc_passes;
  for (uint32_t i = 0; i < passes; ++i) crc = Crc32Update(crc, g_hash_buf, kHashBytes);
  return ~crc;
}

/* ---- (b) sorting ------------------------------------------------------- */

static void FillSortBuffer(uint32_t n, uint32_t seed) {
  uint32_t s = seed;
  for (uint32_t i = 0; i < n; ++i) g_sort_buf[i] = Lcg(&s) ^ (s >> 7);
}

static void InsertionSort(uint32_t* a, int32_t n) {
  for (int32_t i = 1; i < n; ++i) {
    uint32_t v = a[i];
    int32_t j = i - 1;
    while (j >= 0 && a[j] > v) {
      a[j + 1] = a[j];
      --j;
    }
    a[j + 1] = v;
  }
}

/* Median-of-three Hoare quicksort; recurses on the smaller side only. */
NOINLINE static void QuickSort(uint32_t* a, int32_t n) {
  while (n > 16) {
    int32_t mid = n / 2;
    uint32_t x = a[0], y = a[mid], z = a[n - 1];
    uint32_t pivot = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
    int32_t i = -1, j = n;
    for (;;) {
      do ++i;
      while (a[i] < pivot);
      do --j;
      while (a[j] > pivot);
      if (i >= j) break;
      uint32_t t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    int32_t left = j + 1; /* a[0..j] <= pivot <= a[j+1..n) */
    if (left < n - left) {
      QuickSort(a, left);
      a += left;
      n -= left;
    } else {
      QuickSort(a + left, n - left);
      n = left;
    }
  }
  InsertionSort(a, n);
}

static uint32_t SortChecksum(uint32_t n, int* sorted_ok) {
  uint32_t h = 0;
  *sorted_ok = 1;
  for (uint32_t i = 0; i < n; ++i) {
    if (i > 0 && g_sort_buf[i - 1] > g_sort_buf[i]) *sorted_ok = 0;
    h = Mix(h, g_sort_buf[i]);
  }
  return h;
}

/* ---- (c) sieve --------------------------------------------------------- */

/* Marks composites in g_sieve[0..limit]; returns pi(limit), *sum = their sum. */
NOINLINE static uint32_t Sieve(uint32_t limit, uint32_t* sum) {
  uint8_t* s = g_sieve;
  for (uint32_t i = 0; i <= limit; ++i) s[i] = 0;
  for (uint32_t i = 2; i * i <= limit; ++i) {
    if (s[i]) continue;
    for (uint32_t j = i * i; j <= limit; j += i) s[j] = 1;
  }
  uint32_t count = 0, total = 0;
  for (uint32_t i = 2; i <= limit; ++i) {
    if (!s[i]) {
      ++count;
      total += i;
    }
  }
  *sum = total;
  return count;
}

/* ---- (d) bytecode interpreter ----------------------------------------- */

enum VmOp {
  kOpLoadImm, /* r[a] = imm */
  kOpAdd,     /* r[a] = r[b] + r[c] */
  kOpXor,     /* r[a] = r[b] ^ r[c] */
  kOpAndImm,  /* r[a] = r[b] & imm */
  kOpShlImm,  /* r[a] = r[b] << imm */
  kOpShrImm,  /* r[a] = r[b] >> imm */
  kOpMul,     /* r[a] = r[b] * r[c] */
  kOpLoad,    /* r[a] = mem[r[b]] */
  kOpStore,   /* mem[r[b]] = r[a] */
  kOpAddImm,  /* r[a] = r[b] + imm */
  kOpJumpNz,  /* if (r[a]) pc = imm */
  kOpJumpZ,   /* if (!r[a]) pc = imm */
  kOpJump,    /* pc = imm */
  kOpHalt,
};

typedef struct {
  uint8_t op, a, b, c;
  int32_t imm;
} VmInsn;

/* r0 loop count, r1 xorshift32 state, r2/r3/r4 temps, r5 accumulator. */
static const VmInsn kVmProgram[] = {
    /* 0 */ {kOpLoadImm, 1, 0, 0, (int32_t)2463534242u},
    /* 1 */ {kOpLoadImm, 5, 0, 0, 0},
    /* loop: xorshift32 */
    /* 2 */ {kOpShlImm, 2, 1, 0, 13},
    /* 3 */ {kOpXor, 1, 1, 2, 0},
    /* 4 */ {kOpShrImm, 2, 1, 0, 17},
    /* 5 */ {kOpXor, 1, 1, 2, 0},
    /* 6 */ {kOpShlImm, 2, 1, 0, 5},
    /* 7 */ {kOpXor, 1, 1, 2, 0},
    /* mem[r1 & 255] += r1 */
    /* 8 */ {kOpAndImm, 3, 1, 0, kVmMemWords - 1},
    /* 9 */ {kOpLoad, 4, 3, 0, 0},
    /* 10 */ {kOpAdd, 4, 4, 1, 0},
    /* 11 */ {kOpStore, 4, 3, 0, 0},
    /* if (r1 & 0x100) r5 = r5 * r4 + 1 else r5 += r4 (data-dependent branch) */
    /* 12 */ {kOpAndImm, 2, 1, 0, 0x100},
    /* 13 */ {kOpJumpZ, 2, 0, 0, 17},
    /* 14 */ {kOpMul, 5, 5, 4, 0},
    /* 15 */ {kOpAddImm, 5, 5, 0, 1},
    /* 16 */ {kOpJump, 0, 0, 0, 18},
    /* 17 */ {kOpAdd, 5, 5, 4, 0},
    /* 18 */ {kOpAddImm, 0, 0, 0, -1},
    /* 19 */ {kOpJumpNz, 0, 0, 0, 2},
    /* 20 */ {kOpHalt, 0, 0, 0, 0},
};

NOINLINE static uint32_t RunVm(const VmInsn* code, uint32_t iterations, uint32_t* mem,
                               uint32_t* dispatches) {
  uint32_t r[8] = {iterations, 0, 0, 0, 0, 0, 0, 0};
  uint32_t pc = 0, count = 0;
  for (;;) {
    const VmInsn* in = &code[pc++];
    ++count;
    switch ((enum VmOp)in->op) {
      case kOpLoadImm:
        r[in->a] = (uint32_t)in->imm;
        break;
      case kOpAdd:
        r[in->a] = r[in->b] + r[in->c];
        break;
      case kOpXor:
        r[in->a] = r[in->b] ^ r[in->c];
        break;
      case kOpAndImm:
        r[in->a] = r[in->b] & (uint32_t)in->imm;
        break;
      case kOpShlImm:
        r[in->a] = r[in->b] << in->imm;
        break;
      case kOpShrImm:
        r[in->a] = r[in->b] >> in->imm;
        break;
      case kOpMul:
        r[in->a] = r[in->b] * r[in->c];
        break;
      case kOpLoad:
        r[in->a] = mem[r[in->b]];
        break;
      case kOpStore:
        mem[r[in->b]] = r[in->a];
        break;
      case kOpAddImm:
        r[in->a] = r[in->b] + (uint32_t)in->imm;
        break;
      case kOpJumpNz:
        if (r[in->a]) pc = (uint32_t)in->imm;
        break;
      case kOpJumpZ:
        if (!r[in->a]) pc = (uint32_t)in->imm;
        break;
      case kOpJump:
        pc = (uint32_t)in->imm;
        break;
      case kOpHalt:
        *dispatches = count;
        return r[5];
      default:
        __builtin_unreachable();
    }
  }
}

static uint32_t KernelVm(uint32_t* dispatches) {
  static uint32_t mem[kVmMemWords];
  uint32_t acc = RunVm(kVmProgram, g_vm_iterations, mem, dispatches);
  uint32_t h = Mix(acc, *dispatches);
  for (uint32_t i = 0; i < kVmMemWords; ++i) h = Mix(h, mem[i]);
  return h;
}

/* ---- (e) recursion ----------------------------------------------------- */

NOINLINE static uint32_t Fib(uint32_t n) {
  return n < 2 ? n : Fib(n - 1) + Fib(n - 2);
}

NOINLINE static uint32_t Ack(uint32_t m, uint32_t n) {
  if (m == 0) return n + 1;
  if (n == 0) return Ack(m - 1, 1);
  return Ack(m - 1, Ack(m, n - 1));
}

/* ---- Driver ------------------------------------------------------------ */

/* Checksums of a native run; a translator must reproduce them exactly. */
static const uint32_t kExpected[] = {
    0x38ef18c5u, /* fnv1a */
    0x61ee5072u, /* crc32 */
    0x46b59e7au, /* qsort */
    0x8625195fu, /* sieve */
    0xda1ddedeu, /* interp */
    0xd8ef47efu, /* fib */
    0x29815d2cu, /* ackermann */
};

void bench_main(void) {
  uint64_t total = 0, t0, t;
  uint32_t sum;
  int ok;

  bench_print("bt86-workload 1\n");

  FillHashBuffer();
  t0 = bench_ticks();
  sum = KernelFnv1a();
  t = bench_ticks() - t0;
  total += t;
  Report("fnv1a", t, sum, kExpected[0], 1);

  BuildCrcTable();
  ok = CrcKnownAnswerOk();
  t0 = bench_ticks();
  sum = KernelCrc32();
  t = bench_ticks() - t0;
  total += t;
  Report("crc32", t, sum, kExpected[1], ok);

  {
    uint32_t rounds = g_sort_rounds, n = g_sort_words;
    uint64_t ticks = 0;
    sum = 0;
    ok = 1;
    for (uint32_t r = 0; r < rounds; ++r) {
      int sorted_ok;
      FillSortBuffer(n, 0xc0ffee01u + r);
      t0 = bench_ticks();
      QuickSort(g_sort_buf, (int32_t)n);
      ticks += bench_ticks() - t0;
      sum = Mix(sum, SortChecksum(n, &sorted_ok));
      ok &= sorted_ok;
    }
    total += ticks;
    Report("qsort", ticks, sum, kExpected[2], ok);
  }

  {
    uint32_t limit = g_sieve_limit, rounds = g_sieve_rounds, prime_sum = 0, count = 0;
    sum = 0;
    t0 = bench_ticks();
    for (uint32_t r = 0; r < rounds; ++r) {
      count = Sieve(limit, &prime_sum);
      sum = Mix(Mix(sum, count), prime_sum);
    }
    t = bench_ticks() - t0;
    total += t;
    ok = limit != 20000000u || count == 1270607u; /* pi(2e7) */
    Report("sieve", t, sum, kExpected[3], ok);
  }

  {
    uint32_t dispatches = 0;
    t0 = bench_ticks();
    sum = KernelVm(&dispatches);
    t = bench_ticks() - t0;
    total += t;
    /* 15 or 17 dispatches per iteration, 3 outside the loop. */
    uint32_t n = g_vm_iterations;
    ok = dispatches >= 15 * n + 3 && dispatches <= 17 * n + 3;
    Report("interp", t, sum, kExpected[4], ok);
  }

  {
    uint32_t n = g_fib_n, reps = g_fib_reps, f = 0, last = 0;
    t0 = bench_ticks();
    for (uint32_t i = 0; i < reps; ++i) {
      last = Fib(g_fib_n);
      f = Mix(f, last);
    }
    t = bench_ticks() - t0;
    total += t;
    Report("fib", t, f, kExpected[5], n != 32 || last == 2178309u);
  }

  {
    uint32_t reps = g_ack_reps, a = 0, last = 0;
    t0 = bench_ticks();
    for (uint32_t i = 0; i < reps; ++i) {
      last = Ack(g_ack_m, g_ack_n);
      a = Mix(a, last);
    }
    t = bench_ticks() - t0;
    total += t;
    Report("ackermann", t, a, kExpected[6], g_ack_m != 3 || g_ack_n != 7 || last == 1021u);
  }

  bench_print("total ticks ");
  bench_print_u64(total);
  bench_print(g_failed ? "\nresult FAIL\n" : "\nresult PASS\n");
  bench_finish();
}
