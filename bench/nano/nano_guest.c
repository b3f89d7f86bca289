/*
 * nano_guest.c: the nanobenchmarks' platform as a Multiboot guest, on the
 * protected-mode library of the test guests (tests/guests/lib/cpu.h: GDT,
 * IDT, TSS with esp0, cpu_run_at for CPL 3). Output goes to COM1; the run
 * ends with a write of 0 to the exit port 0xf4 (process status 1).
 *
 * The guest runs the harness at CPL 0, so IN, OUT, CLI, STI and POPF are
 * the real thing. For the duration of one benchmark it installs:
 *   syscall_int80     IDT 0x80: a DPL-3 trap gate to nano_int80_entry
 *                     (IRET), in place of cpu.c's 0x80 interrupt gate;
 *   syscall_sysenter  SYSENTER_CS = 0x08 (SYSEXIT lands on the library's
 *                     ring-3 selectors 0x1b/0x23), SYSENTER_EIP =
 *                     nano_sysenter_entry (SYSEXIT), SYSENTER_ESP = a
 *                     ring-0 stack (SDM vol. 3, 5.8.7);
 *   divzero_fault     IDT 0: an interrupt gate to nano_de_entry, which
 *                     skips the DIV and IRETs (SDM vol. 3, 6.15: #DE is a
 *                     fault).
 * The two syscall kernels run whole at CPL 3, RDTSC included, under
 * cpu_run_at(). They leave CPL 3 by INT 0x81 (the library's DPL-3 trap
 * gate, whose handler abandons the cpu_run_at() under way) rather than by
 * returning, since the library's way back is INT 0x80, which the int80
 * benchmark has taken over.
 */
#include "cpu.h"
#include "nano.h"

/* The CPL-0 ends of the kernels (kernels.S). */
extern const uint8_t nano_int80_entry[], nano_sysenter_entry[], nano_de_entry[];

enum {
  kMultibootInfoCmdline = 1u << 2, /* mbi flags: the cmdline field is valid */
};

/* The CPL-3 run under way: cpu_run_at() passes only one word. */
static nano_kernel ring3_kernel;
static uint64_t ring3_ticks;

static uint32_t Ring3Body(uint32_t n) {
  ring3_ticks = ring3_kernel(n);
  __asm__ volatile("int %0" : : "i"(kVecUserTrap));
  __builtin_unreachable();
}

static void Ring3Exit(struct cpu_frame* f) {
  (void)f;
  cpu_user_return(0);
}

void nano_printf(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  serial_vprintf(fmt, ap);
  va_end(ap);
}

uint64_t nano_ticks(void) {
  return rdtsc();
}

const char* nano_prepare(const struct nano_bench* b) {
  if (b->kernel == nano_in && inb(NANO_IN_PORT) != 0xff) return "NANO_IN_PORT does not read 0xff";
  if (b->kernel == nano_syscall_int80) {
    cpu_idt[kVecSyscall] = cpu_gate_desc(kSelKernelCode, (uint32_t)(uintptr_t)nano_int80_entry,
                                         kDescTrapGate32 | kDescDpl(3) | kDescP, 0);
  } else if (b->kernel == nano_syscall_sysenter) {
    cpu_wrmsr(kMsrSysenterCs, kSelKernelCode);
    cpu_wrmsr(kMsrSysenterEsp, (uint32_t)(uintptr_t)cpu_ring0_stack_top);
    cpu_wrmsr(kMsrSysenterEip, (uint32_t)(uintptr_t)nano_sysenter_entry);
  } else if (b->kernel == nano_divzero_fault) {
    cpu_idt[kVecDe] = cpu_gate_desc(kSelKernelCode, (uint32_t)(uintptr_t)nano_de_entry,
                                    kDescIntGate32 | kDescDpl(0) | kDescP, 0);
  }
  return 0;
}

uint64_t nano_run(const struct nano_bench* b, uint32_t n) {
  if (b->mode != kNanoRing3) return b->kernel(n);
  ring3_kernel = b->kernel;
  cpu_run_at(3, Ring3Body, n, 0);
  return ring3_ticks;
}

void nano_unprepare(const struct nano_bench* b) {
  if (b->kernel == nano_syscall_int80) cpu_idt_default(kVecSyscall);
  if (b->kernel == nano_syscall_sysenter) cpu_wrmsr(kMsrSysenterCs, 0); /* SYSENTER: #GP */
  if (b->kernel == nano_divzero_fault) cpu_idt_default(kVecDe);
}

void nano_finish(void) {
  guest_exit(0);
}

void guest_main(uint32_t magic, uint32_t mbi) {
  const char* cmdline = 0;
  if (magic == GUEST_MULTIBOOT_MAGIC && (*(const uint32_t*)(uintptr_t)mbi & kMultibootInfoCmdline))
    cmdline = (const char*)(uintptr_t)((const uint32_t*)(uintptr_t)mbi)[4];
  cpu_init();
  cpu_set_handler(kVecUserTrap, Ring3Exit);
  nano_main(cmdline);
}
