/*
 * nano_linux.c: the nanobenchmarks' platform as a static 32-bit Linux
 * process, the native column of bench/run_nano.sh.
 *
 * A process runs at CPL 3 with IOPL 0, so the benchmarks that need CPL 0
 * or a gate of their own (the syscalls, IN, OUT, CLI/STI) print n/a.
 * PUSHF/POPF run (POPF at CPL 3 leaves IF alone: no fault). divzero_fault
 * becomes a Linux signal round trip: #DE -> kernel -> SIGFPE handler (which
 * skips the DIV in the saved context) -> sigreturn; that is an OS's signal
 * path, not comparable with a guest's bare #DE handler.
 *
 *   nano-native [skip=NAME,...]   runs the suite
 *   nano-native --tsc-hz          prints the TSC frequency (measured against
 *                                 CLOCK_MONOTONIC over 200 ms) and exits
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ucontext.h>

#include "nano.h"

void nano_printf(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  fflush(stdout);
}

uint64_t nano_ticks(void) {
  uint32_t lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return ((uint64_t)hi << 32) | lo;
}

/* SIGFPE from the kernel's `divl %ebx`: resume after it. */
static void OnSigfpe(int sig, siginfo_t* info, void* context) {
  (void)sig;
  (void)info;
  ((ucontext_t*)context)->uc_mcontext.gregs[REG_EIP] += NANO_DIV_INSN_LEN;
}

const char* nano_prepare(const struct nano_bench* b) {
  switch (b->mode) {
    case kNanoPlain:
      return 0;
    case kNanoPrivileged:
      return "privileged (CPL 0 or IOPL 3) in a Linux process";
    case kNanoRing3:
      return "needs its own CPL-0 gate, which a Linux process cannot install";
    case kNanoDivFault: {
      struct sigaction sa;
      memset(&sa, 0, sizeof sa);
      sa.sa_sigaction = OnSigfpe;
      sa.sa_flags = SA_SIGINFO;
      sigemptyset(&sa.sa_mask);
      return sigaction(SIGFPE, &sa, NULL) == 0 ? 0 : "sigaction(SIGFPE) failed";
    }
  }
  return "unknown mode";
}

uint64_t nano_run(const struct nano_bench* b, uint32_t n) {
  return b->kernel(n);
}

void nano_unprepare(const struct nano_bench* b) {
  if (b->mode == kNanoDivFault) signal(SIGFPE, SIG_DFL);
}

void nano_finish(void) {
  fflush(stdout);
  exit(0);
}

static uint64_t MonotonicNs(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void PrintTscHz(void) {
  uint64_t t0 = MonotonicNs(), c0 = nano_ticks();
  struct timespec pause = {0, 200000000};
  nanosleep(&pause, NULL);
  uint64_t t1 = MonotonicNs(), c1 = nano_ticks();
  printf("%llu\n", (unsigned long long)((c1 - c0) * 1000000000ull / (t1 - t0)));
}

int main(int argc, char** argv) {
  if (argc == 2 && strcmp(argv[1], "--tsc-hz") == 0) {
    PrintTscHz();
    return 0;
  }
  if (argc > 2 || (argc == 2 && strncmp(argv[1], "skip=", 5) != 0)) {
    fprintf(stderr, "usage: %s [skip=NAME,...] | --tsc-hz\n", argv[0]);
    return 2;
  }
  nano_main(argc == 2 ? argv[1] : NULL);
}
