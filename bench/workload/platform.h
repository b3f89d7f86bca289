/* The four calls the bench workload needs from whatever it runs on.
 *
 * workload.c is freestanding C (no libc, no floating point) and reaches the
 * outside world only through this header, so one object file links both into
 * a native 32-bit Linux program (platform_linux.c) and into a Multiboot v1
 * guest (platform_guest.c + guest_start.S + guest.ld).
 */
#ifndef BT86_BENCH_WORKLOAD_PLATFORM_H
#define BT86_BENCH_WORKLOAD_PLATFORM_H

#include <stdint.h>

/// Writes a NUL-terminated string to the output (stdout or COM1) as is.
void bench_print(const char* s);

/// Writes v in decimal.
void bench_print_u64(uint64_t v);

/// Returns the time-stamp counter (RDTSC); the unit all kernels are timed in.
uint64_t bench_ticks(void);

/// Ends the run successfully: exit(0) natively; in a guest, a write of 0 to
/// the isa-debug-exit port 0xf4 (exit status 1) and, if that returns, cli; hlt.
void bench_finish(void);

/// The workload's entry point, called by main() or by guest_start.S.
void bench_main(void);

#endif
