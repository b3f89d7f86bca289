/*
 * cpuid_io: the sensitive instructions a deprivileged guest kernel executes
 * all the time: CPUID, RDTSC, IN/OUT, CLI/STI and PUSHF/POPF of IF, and
 * the EFLAGS.AC/ID toggles by which software detects a 486 and CPUID.
 *
 * Nothing printed depends on the host CPU: the vendor string and family are
 * checked for properties (printable, family >= 6), not printed, and the
 * feature bits checked are the ones the other guests rely on.
 *
 * I/O: an unclaimed port reads all ones at every width (0x2f0: no device
 * there on a PC); the 16550 scratch register (COM1 + 7) keeps what is
 * written; LSR.THRE is set when the transmitter is idle.
 *
 * Interrupts: the guest starts with IF = 0 (Multiboot). Before STI the
 * guest masks every line at both 8259s (OCW1 = 0xff on ports 0x21, 0xa1):
 * under QEMU the BIOS left the timer unmasked and this guest has no IDT.
 *
 * The last section uses the string forms OUTSB (to COM1, visible in the
 * output) and INSB.
 */
#include "check.h"

static void Cpuid(uint32_t leaf, uint32_t r[4]) {
  __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(0));
}

static uint32_t ReadFlags(void) {
  uint32_t f;
  __asm__ volatile("pushfl\n\tpopl %0" : "=r"(f));
  return f;
}

/* Tries to flip one EFLAGS bit with POPF; returns whether it flipped, and
 * puts EFLAGS back. */
static int FlagToggles(uint32_t bit) {
  uint32_t before, after;
  __asm__ volatile(
      "pushfl\n\tpopl %[b]\n\t"
      "movl %[b], %[a]\n\txorl %[bit], %[a]\n\t"
      "pushl %[a]\n\tpopfl\n\t"
      "pushfl\n\tpopl %[a]\n\t"
      "pushl %[b]\n\tpopfl"
      : [b] "=&r"(before), [a] "=&r"(after)
      : [bit] "ri"(bit)
      : "cc");
  return ((before ^ after) & bit) != 0;
}

static void TestCpuid(void) {
  check_section("cpuid.leaves");
  uint32_t r[4];
  Cpuid(0, r);
  check_true("leaf 0: max leaf >= 1", r[0] >= 1);
  char vendor[13];
  memcpy(vendor, &r[1], 4);
  memcpy(vendor + 4, &r[3], 4);
  memcpy(vendor + 8, &r[2], 4);
  vendor[12] = 0;
  int printable = 1;
  for (int i = 0; i < 12; i++) printable &= vendor[i] >= 0x20 && vendor[i] <= 0x7e;
  check_true("leaf 0: vendor is 12 printable characters", printable);
  Cpuid(1, r);
  uint32_t family = (r[0] >> 8) & 0xf;
  if (family == 0xf) family += (r[0] >> 20) & 0xff;
  check_true("leaf 1: family >= 6", family >= 6);
  check_u32("leaf 1: FPU", r[3] & (1u << 0), 1u << 0);
  check_u32("leaf 1: TSC", r[3] & (1u << 4), 1u << 4);
  check_u32("leaf 1: CX8", r[3] & (1u << 8), 1u << 8);
  check_u32("leaf 1: CMOV", r[3] & (1u << 15), 1u << 15);
  check_u32("leaf 1: FXSR", r[3] & (1u << 24), 1u << 24);
  check_u32("leaf 1: SSE", r[3] & (1u << 25), 1u << 25);
  check_u32("leaf 1: SSE2", r[3] & (1u << 26), 1u << 26);
  uint32_t again[4];
  Cpuid(1, again);
  check_u32("leaf 1 twice: same signature", again[0], r[0]);

  check_section("cpuid.eflags_detection");
  check_true("EFLAGS.ID toggles (CPUID present)", FlagToggles(1u << 21));
  check_true("EFLAGS.AC toggles (486 or later)", FlagToggles(1u << 18));
  check_u32("EFLAGS.ID/AC put back", ReadFlags() & ((1u << 21) | (1u << 18)), 0);
}

static void TestRdtsc(void) {
  check_section("cpuid.rdtsc");
  uint64_t t0 = rdtsc();
  volatile uint32_t sink = 0;
  for (uint32_t i = 0; i < 10000; i++) sink += i;
  uint64_t t1 = rdtsc();
  uint64_t t2 = rdtsc();
  check_true("rdtsc advances over a loop", t1 > t0);
  check_true("rdtsc does not go back", t2 >= t1);
  check_true("rdtsc uses EDX (not stuck at 0)", t0 != 0);
}

static void TestIo(void) {
  check_section("io.ports");
  check_u32("inb unclaimed port 0x2f0", inb(0x2f0), 0xff);
  check_u32("inw unclaimed port 0x2f0", inw(0x2f0), 0xffff);
  check_u32("inl unclaimed port 0x2f0", inl(0x2f0), 0xffffffff);
  outb(0x2f0, 0x12); /* ignored */
  outl(0x2f0, 0x12345678);
  check_u32("unclaimed port after writes", inb(0x2f0), 0xff);
  uint32_t dx_port, v;
  __asm__ volatile("movw $0x2f0, %%dx\n\tinb %%dx, %%al\n\tmovzbl %%al, %%eax"
                   : "=a"(v), "=d"(dx_port));
  check_u32("in al, dx", v, 0xff);
  __asm__ volatile("movl $0x11223300, %%eax\n\tinb $0xef, %%al" : "=a"(v));
  check_u32("in al, imm8 keeps eax bits 8-31", v, 0x112233ff);
  outb(GUEST_COM1 + 7, 0x5a);
  check_u32("16550 SCR keeps 0x5a", inb(GUEST_COM1 + 7), 0x5a);
  outb(GUEST_COM1 + 7, 0xa5);
  check_u32("16550 SCR keeps 0xa5", inb(GUEST_COM1 + 7), 0xa5);
  check_u32("16550 LSR.THRE when idle", inb(GUEST_COM1 + 5) & 0x20, 0x20);
}

static void TestInterruptFlag(void) {
  check_section("io.interrupt_flag");
  check_u32("IF is 0 at entry", ReadFlags() & kFlagIf, 0);
  outb(0x21, 0xff); /* 8259 OCW1: mask IRQ 0-7 */
  outb(0xa1, 0xff); /* and IRQ 8-15 */
  uint32_t f_sti, f_cli, f_popf_on, f_popf_off, f_restored;
  __asm__ volatile("sti\n\tpushfl\n\tpopl %0\n\tcli" : "=r"(f_sti) : : "memory");
  check_u32("sti sets IF", f_sti & kFlagIf, kFlagIf);
  __asm__ volatile("sti\n\tnop\n\tcli\n\tpushfl\n\tpopl %0" : "=r"(f_cli) : : "memory");
  check_u32("cli clears IF", f_cli & kFlagIf, 0);
  __asm__ volatile("pushl $0x202\n\tpopfl\n\tpushfl\n\tpopl %0\n\tcli"
                   : "=r"(f_popf_on)
                   :
                   : "memory", "cc");
  check_u32("popf sets IF", f_popf_on & kFlagIf, kFlagIf);
  __asm__ volatile("sti\n\tpushl $0x002\n\tpopfl\n\tpushfl\n\tpopl %0"
                   : "=r"(f_popf_off)
                   :
                   : "memory", "cc");
  check_u32("popf clears IF", f_popf_off & kFlagIf, 0);
  /* irqsave/irqrestore: save, disable, restore the saved IF = 1. */
  __asm__ volatile("sti\n\tpushfl\n\tcli\n\tpopfl\n\tpushfl\n\tpopl %0\n\tcli"
                   : "=r"(f_restored)
                   :
                   : "memory", "cc");
  check_u32("pushf/cli/popf restores IF", f_restored & kFlagIf, kFlagIf);
  check_u32("IF is 0 at the end", ReadFlags() & kFlagIf, 0);
}

static void TestStringIo(void) {
  check_section("io.string");
  static const char kLine[] = "rep outsb to COM1 THR: this line\n";
  const char* s = kLine;
  uint32_t n = sizeof kLine - 1;
  __asm__ volatile("rep outsb" : "+S"(s), "+c"(n) : "d"(GUEST_COM1) : "memory");
  check_u32("rep outsb esi", (uint32_t)(uintptr_t)s,
            (uint32_t)(uintptr_t)(kLine + sizeof kLine - 1));
  check_u32("rep outsb ecx", n, 0);
  static uint8_t buf[8];
  uint8_t* d = buf;
  n = 4;
  __asm__ volatile("rep insb" : "+D"(d), "+c"(n) : "d"(0x2f0) : "memory");
  check_bytes("rep insb from an unclaimed port", buf, "\xff\xff\xff\xff\x00", 5);
  check_u32("rep insb edi", (uint32_t)(uintptr_t)d, (uint32_t)(uintptr_t)(buf + 4));
}

void guest_main(uint32_t magic, uint32_t mbi) {
  (void)magic;
  (void)mbi;
  serial_puts("cpuid_io: cpuid, rdtsc, in/out, cli/sti, pushf/popf\n");
  TestCpuid();
  TestRdtsc();
  TestIo();
  TestInterruptFlag();
  TestStringIo();
  check_finish("cpuid_io");
}
