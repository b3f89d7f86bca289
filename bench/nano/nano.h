/*
 * nano.h: the nanobenchmark suite of bt86, after Adams & Agesen, "A
 * Comparison of Software and Hardware Techniques for x86 Virtualization"
 * (ASPLOS 2006, section 6.1): one operation per benchmark, repeated in a
 * tight loop and timed with RDTSC, the same code natively and as a guest.
 *
 * Three parts share this header:
 *   kernels.S     the timed loops, one per benchmark, identical bytes in
 *                 both builds;
 *   nano.c        the harness: calibration, rounds, the output lines;
 *   a platform    nano_guest.c (a Multiboot guest on the tests/guests
 *                 library: IDT gates, SYSENTER MSRs, ring 3) or
 *                 nano_linux.c (a static 32-bit Linux process).
 *
 * The kernels also include it (assembler only sees the constants).
 */
#ifndef BT86_BENCH_NANO_H
#define BT86_BENCH_NANO_H

/* An I/O port nothing decodes on a PC, under bt86 or QEMU -M pc: IN reads
 * 0xff. (0x2f8-0x2ff would be COM2; 0x2f0-0x2f7 is free.) */
#define NANO_IN_PORT 0x2f0
/* The POST-code port: writes are dropped (QEMU: its ioport80 device; bt86:
 * unclaimed). Operating systems use it as an I/O delay. */
#define NANO_OUT_PORT 0x80
/* Length of the kernels' `divl %ebx` (F7 F3): what a #DE handler adds to
 * the saved EIP to resume after it. kernels.S checks it. */
#define NANO_DIV_INSN_LEN 2

#ifndef __ASSEMBLER__

#include <stdint.h>

/// A timed loop: runs its operation n (>= 1) times and returns the TSC ticks
/// elapsed, read by RDTSC before and after the loop.
typedef uint64_t (*nano_kernel)(uint32_t n);

/* The kernels (kernels.S). Each iteration is the operation plus the loop's
 * `dec; jnz`, which is what nano_empty_loop measures alone. */
/// dec ecx; jnz
uint64_t nano_empty_loop(uint32_t n);
/// add, xor, rol, sub: one dependent chain
uint64_t nano_alu(uint32_t n);
/// call to a bare ret
uint64_t nano_call_ret(uint32_t n);
/// pushf; popf
uint64_t nano_pushf_popf(uint32_t n);
/// cli; sti (CPL 0)
uint64_t nano_cli_sti(uint32_t n);
/// inb from NANO_IN_PORT (CPL 0)
uint64_t nano_in(uint32_t n);
/// outb to NANO_OUT_PORT (CPL 0)
uint64_t nano_out(uint32_t n);
/// divl by 0: #DE, the handler skips it
uint64_t nano_divzero_fault(uint32_t n);
/// int 0x80 from CPL 3; the gate just IRETs
uint64_t nano_syscall_int80(uint32_t n);
/// sysenter from CPL 3; the entry just SYSEXITs
uint64_t nano_syscall_sysenter(uint32_t n);

/// Where a benchmark must run, which decides what a platform does with it.
enum nano_mode {
  kNanoPlain,      /* any CPL: runs as is everywhere */
  kNanoPrivileged, /* CPL 0 (IOPL for IN/OUT/CLI/STI): n/a natively */
  kNanoRing3,      /* entered at CPL 3, traps to CPL 0: n/a natively */
  kNanoDivFault,   /* needs a #DE handler (natively: a SIGFPE handler) */
};

/// One benchmark of the suite.
struct nano_bench {
  const char* name; /* as printed: nano NAME ... */
  nano_kernel kernel;
  enum nano_mode mode;
};

/* ---- The platform: nano_guest.c or nano_linux.c ---- */

/// printf to the output (COM1 or stdout); each line goes out when complete.
void nano_printf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
/// Returns the time-stamp counter (RDTSC).
uint64_t nano_ticks(void);
/// Makes `b` ready to run (gates, MSRs, signal handler). Returns 0, or why
/// `b` cannot run here (printed as `nano NAME n/a WHY`).
const char* nano_prepare(const struct nano_bench* b);
/// Runs b->kernel(n) where b->mode says (e.g. at CPL 3); returns its ticks.
uint64_t nano_run(const struct nano_bench* b, uint32_t n);
/// Undoes nano_prepare(b).
void nano_unprepare(const struct nano_bench* b);
/// Ends the run successfully (exit status 0 natively; port 0xf4 <- 0 in a guest).
__attribute__((noreturn)) void nano_finish(void);

/// The suite: prints one line per benchmark, then `nano done`, and calls
/// nano_finish(). args is the command line (Multiboot or argv[1], may be 0):
/// a word `skip=NAME,NAME...` leaves those benchmarks out (`nano NAME
/// skipped`), for run_nano.sh to get past one that its runner cannot run.
__attribute__((noreturn)) void nano_main(const char* args);

#endif /* __ASSEMBLER__ */
#endif /* BT86_BENCH_NANO_H */
