/* Native 32-bit Linux platform for the bench workload: stdout and RDTSC.
 *
 * `workload-native --tsc-hz` prints the host TSC frequency (measured against
 * CLOCK_MONOTONIC over 200 ms) instead of running the workload;
 * bench/run_workload.sh uses it to turn ticks into seconds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "platform.h"

void bench_print(const char* s) {
  fputs(s, stdout);
}

void bench_print_u64(uint64_t v) {
  printf("%llu", (unsigned long long)v);
}

uint64_t bench_ticks(void) {
  uint32_t lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return ((uint64_t)hi << 32) | lo;
}

void bench_finish(void) {
  fflush(stdout);
  exit(0);
}

static uint64_t MonotonicNs(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void PrintTscHz(void) {
  uint64_t t0 = MonotonicNs(), c0 = bench_ticks();
  struct timespec pause = {0, 200000000};
  nanosleep(&pause, NULL);
  uint64_t t1 = MonotonicNs(), c1 = bench_ticks();
  printf("%llu\n", (unsigned long long)((c1 - c0) * 1000000000ull / (t1 - t0)));
}

int main(int argc, char** argv) {
  if (argc > 1 && strcmp(argv[1], "--tsc-hz") == 0) {
    PrintTscHz();
    return 0;
  }
  if (argc > 1) {
    fprintf(stderr, "usage: %s [--tsc-hz]\n", argv[0]);
    return 2;
  }
  bench_main();
  bench_finish();
  return 0;
}
