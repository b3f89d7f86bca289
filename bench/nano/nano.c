/*
 * nano.c: the harness of the nanobenchmarks (see nano.h), the same C in the
 * guest and in the native program.
 *
 * Each benchmark is calibrated first: n grows until one run of the kernel
 * takes at least a quarter of kRoundTicks, then is scaled so that a round
 * takes about kRoundTicks (20-30 ms at the 2-3 GHz TSC of today's hosts),
 * and corrected after one run of that size (the calibration runs also warm
 * the translation cache up). Then kRounds
 * rounds of n iterations; the fastest one counts, as interrupts, host
 * preemption or a translation-cache refill only ever add time. Output, one
 * line per benchmark as soon as it is measured (so a run that dies half way
 * still tells what it got):
 *
 *     nano NAME ticks_per_op X.XX iterations N
 *     nano NAME n/a WHY                 (the platform cannot run it)
 *     nano NAME skipped                 (left out by skip=)
 *     nano elapsed_ticks T              (first to last RDTSC of nano_main)
 *     nano done
 *
 * ticks_per_op is raw: an iteration's cost including its `dec; jnz`.
 * Subtracting empty_loop is left to bench/run_nano.sh, in its own column.
 *
 * Freestanding apart from nano.h; the 64-bit divisions come from libgcc in
 * the guest.
 */
#include "nano.h"

enum {
  kRoundTicks = 60000000, /* one round: 23 ms at 2.6 GHz */
  kRounds = 5,
  kFirstN = 16,
  kMaxN = 1u << 30,
  kMaxGrowth = 16, /* per calibration step */
};

/* Adams & Agesen's order: the traps to the kernel first, then the
 * sensitive instructions, then the ones any CPL may run. */
static const struct nano_bench kSuite[] = {
    {"syscall_int80", nano_syscall_int80, kNanoRing3},
    {"syscall_sysenter", nano_syscall_sysenter, kNanoRing3},
    {"in", nano_in, kNanoPrivileged},
    {"out", nano_out, kNanoPrivileged},
    {"cli_sti", nano_cli_sti, kNanoPrivileged},
    {"pushf_popf", nano_pushf_popf, kNanoPlain},
    {"call_ret", nano_call_ret, kNanoPlain},
    {"divzero_fault", nano_divzero_fault, kNanoDivFault},
    {"empty_loop", nano_empty_loop, kNanoPlain},
    {"alu", nano_alu, kNanoPlain},
};

/* Whether [begin, end) spells name. */
static int SameName(const char* begin, const char* end, const char* name) {
  while (begin < end && *name && *begin == *name) begin++, name++;
  return begin == end && !*name;
}

/* Whether a word `skip=NAME,NAME...` of args (words separated by spaces)
 * lists name. */
static int Skipped(const char* args, const char* name) {
  static const char kKey[] = "skip=";
  for (const char* word = args; word && *word;) {
    const char* end = word;
    while (*end && *end != ' ') end++;
    const char* item = word;
    const char* key = kKey;
    while (item < end && *key && *item == *key) item++, key++;
    while (!*key && item < end) { /* item: the start of one NAME */
      const char* item_end = item;
      while (item_end < end && *item_end != ',') item_end++;
      if (SameName(item, item_end, name)) return 1;
      item = item_end + 1;
    }
    word = *end ? end + 1 : end;
  }
  return 0;
}

/* n scaled so that a run that took t ticks takes kRoundTicks, in [1, kMaxN]. */
static uint32_t ScaleToRound(uint32_t n, uint64_t t) {
  uint64_t scaled = (uint64_t)n * kRoundTicks / (t ? t : 1);
  return scaled < 1 ? 1 : scaled > kMaxN ? kMaxN : (uint32_t)scaled;
}

/* The iteration count for about kRoundTicks per round of b: n grows until
 * a run takes a quarter of a round, then one full-size run corrects the
 * estimate (clock boost and warm caches make long runs cheaper per op). */
static uint32_t Calibrate(const struct nano_bench* b) {
  uint32_t n = kFirstN;
  for (;;) {
    uint64_t t = nano_run(b, n);
    if (t >= kRoundTicks / 4 || n >= kMaxN) return ScaleToRound(n, t);
    uint64_t growth = t ? kRoundTicks / 4 / t + 1 : kMaxGrowth;
    if (growth > kMaxGrowth) growth = kMaxGrowth;
    n = (uint64_t)n * growth > kMaxN ? kMaxN : n * (uint32_t)growth;
  }
}

static void Measure(const struct nano_bench* b) {
  uint32_t n = Calibrate(b);
  n = ScaleToRound(n, nano_run(b, n));
  uint64_t best = ~0ull;
  for (int round = 0; round < kRounds; round++) {
    uint64_t t = nano_run(b, n);
    if (t < best) best = t;
  }
  uint64_t hundredths = (best * 100 + n / 2) / n;
  nano_printf("nano %s ticks_per_op %llu.%02llu iterations %u\n", b->name,
              (unsigned long long)(hundredths / 100), (unsigned long long)(hundredths % 100), n);
}

void nano_main(const char* args) {
  uint64_t start = nano_ticks();
  for (unsigned i = 0; i < sizeof kSuite / sizeof kSuite[0]; i++) {
    const struct nano_bench* b = &kSuite[i];
    if (Skipped(args, b->name)) {
      nano_printf("nano %s skipped\n", b->name);
      continue;
    }
    const char* why = nano_prepare(b);
    if (why) {
      nano_printf("nano %s n/a %s\n", b->name, why);
      continue;
    }
    Measure(b);
    nano_unprepare(b);
  }
  nano_printf("nano elapsed_ticks %llu\n", (unsigned long long)(nano_ticks() - start));
  nano_printf("nano done\n");
  nano_finish();
}
