/*
 * interrupt_window: when interrupts and single-step traps are recognized
 * (Intel SDM vol. 3, 6.8.3 "Masking exceptions and interrupts when
 * switching stacks": MOV SS and POP SS inhibit interrupts, debug exceptions
 * and single-step traps until the end of the next instruction; vol. 2 STI:
 * with IF = 0, interrupts are recognized only after the instruction that
 * follows STI; 18.3.1.4 single-step: not after the instruction that sets
 * TF) and how POPF and IRET treat IF and IOPL (vol. 2, POPF and IRET:
 * IOPL changes only at CPL 0, IF only when CPL <= IOPL, silently otherwise).
 *
 * Sections:
 *   step_shadow  TF over MOV SS and POP SS: no trap after them, the next
 *                trap comes after the following instruction; an IRET that
 *                sets TF traps after the first instruction at its target.
 *                (TF over STI, which QEMU gets wrong, is in `sdm_only`.)
 *   irq_shadow   a real pending interrupt (8254 channel 0 one-shot on IRQ 0,
 *                8259 remapped to vector 0x20, the IRR polled until the
 *                request is there, IF = 0): STI; INC; INC takes it after the
 *                first INC (saved EIP, EAX = 1); POPF that sets IF takes it
 *                at once (no shadow); IRET that sets IF too; STI; HLT wakes
 *                from HLT with the saved EIP after HLT.
 *   popf_iret    IF/IOPL/VM/RF/VIF/VIP through POPF and IRET at CPL 0, 1 and
 *                3 with various IOPLs.
 */
#include "cpu.h"

/* ---- step_shadow ---- */

extern uint8_t IwStepMovSs[], iw_movss_b[], iw_movss_d[];
extern uint8_t IwStepPopSs[], iw_popss_b[], iw_popss_d[];
extern uint8_t IwIretTf[], iw_iret_target[], iw_iret_t2[];
static uint32_t step_stop;

__asm__(
    ".text\n"
    ".globl IwStepMovSs, iw_movss_b, iw_movss_d\n"
    "IwStepMovSs:\n"
    "  movl %ss, %eax\n"
    "  pushfl\n"
    "  orl $0x100, (%esp)\n"
    "  popfl\n"
    "  nop\n"
    "iw_movss_b:\n"
    "  movl %eax, %ss\n"
    "  nop\n"
    "iw_movss_d:\n"
    "  nop\n"
    "  ret\n"

    ".globl IwStepPopSs, iw_popss_b, iw_popss_d\n"
    "IwStepPopSs:\n"
    "  pushl %ss\n"
    "  pushfl\n"
    "  orl $0x100, (%esp)\n"
    "  popfl\n"
    "  nop\n"
    "iw_popss_b:\n"
    "  popl %ss\n"
    "  nop\n"
    "iw_popss_d:\n"
    "  nop\n"
    "  ret\n"

    /* IRET to iw_iret_target with TF = 1 in the image. */
    ".globl IwIretTf, iw_iret_target, iw_iret_t2\n"
    "IwIretTf:\n"
    "  pushfl\n"
    "  popl %eax\n"
    "  orl $0x100, %eax\n"
    "  pushl %eax\n"
    "  pushl %cs\n"
    "  pushl $iw_iret_target\n"
    "  iret\n"
    "iw_iret_target:\n"
    "  nop\n"
    "iw_iret_t2:\n"
    "  nop\n"
    "  ret\n");

static void StepHandler(struct cpu_frame* f) {
  if (f->eip == step_stop || cpu_trap_count >= kCpuLogSize) f->eflags &= ~(uint32_t)kFlagTf;
}

static void CheckSteps(const char* what, const uint8_t* const* want, uint32_t n) {
  check_u32(cpu_cat(what, ": number of traps"), cpu_trap_count, n);
  for (uint32_t i = 0; i < n && i < cpu_trap_count; i++) {
    check_u32(cpu_cat(what, ": #DB"), cpu_log[i].vector, kVecDb);
    check_u32(cpu_cat(what, ": saved EIP"), cpu_log[i].eip, (uint32_t)(uintptr_t)want[i]);
  }
}

static void TestStepShadow(void) {
  check_section("iw.step_shadow");
  cpu_set_handler(kVecDb, StepHandler);
  step_stop = (uint32_t)(uintptr_t)iw_movss_d;
  cpu_trap_reset();
  ((void (*)(void))IwStepMovSs)();
  const uint8_t* movss[] = {iw_movss_b, iw_movss_d};
  CheckSteps("TF over mov ss: traps after nop, then after mov ss + nop", movss, 2);

  step_stop = (uint32_t)(uintptr_t)iw_popss_d;
  cpu_trap_reset();
  ((void (*)(void))IwStepPopSs)();
  const uint8_t* popss[] = {iw_popss_b, iw_popss_d};
  CheckSteps("TF over pop ss", popss, 2);

  /* TF over STI: STI holds off maskable interrupts only, so the trap comes
   * right after STI (SDM vol. 3 6.8.3 names only MOV SS/POP SS; vol. 2 STI:
   * it does not prohibit exceptions). QEMU 7.2 drops that trap: checked in
   * `sdm_only`. */

  step_stop = (uint32_t)(uintptr_t)iw_iret_t2;
  cpu_trap_reset();
  ((void (*)(void))IwIretTf)();
  const uint8_t* iret[] = {iw_iret_t2};
  CheckSteps("iret setting TF: first trap after the target's first instruction", iret, 1);
  cpu_set_handler(kVecDb, 0);
  check_u32("TF off", cpu_read_eflags() & kFlagTf, 0);
}

/* ---- irq_shadow ---- */

enum {
  kPic1Cmd = 0x20,
  kPic1Data = 0x21,
  kPic2Cmd = 0xa0,
  kPic2Data = 0xa1,
  kPitCh0 = 0x40,
  kPitCmd = 0x43,
  kVecIrq0 = 0x20,
};

static void PicInit(void) {
  outb(kPic1Cmd, 0x11); /* ICW1: edge, cascade, ICW4 */
  outb(kPic2Cmd, 0x11);
  outb(kPic1Data, kVecIrq0); /* ICW2: vector base */
  outb(kPic2Data, kVecIrq0 + 8);
  outb(kPic1Data, 0x04); /* ICW3: slave on IRQ 2 */
  outb(kPic2Data, 0x02);
  outb(kPic1Data, 0x01); /* ICW4: 8086 mode */
  outb(kPic2Data, 0x01);
  outb(kPic1Data, 0xfe); /* OCW1: only IRQ 0 */
  outb(kPic2Data, 0xff);
}

static uint32_t PicIrr(void) {
  outb(kPic1Cmd, 0x0a); /* OCW3: read IRR */
  return inb(kPic1Cmd);
}

static uint32_t irq_count;

static void Irq0Handler(struct cpu_frame* f) {
  (void)f;
  irq_count++;
  outb(kPic1Cmd, 0x20); /* non-specific EOI */
}

/* Starts a one-shot (8254 mode 0) on channel 0 and waits, with IF = 0,
 * until the 8259 has the request in its IRR. Returns 1 when it did. */
static int MakeIrqPending(void) {
  outb(kPitCmd, 0x30); /* channel 0, lobyte/hibyte, mode 0 */
  outb(kPitCh0, 0x40);
  outb(kPitCh0, 0x00);
  for (uint32_t i = 0; i < 10000000; i++)
    if (PicIrr() & 1) return 1;
  return 0;
}

uint32_t iw_after_hlt;

static void TestIrqShadow(void) {
  check_section("iw.irq_shadow");
  PicInit();
  cpu_set_handler(kVecIrq0, Irq0Handler);

  check_true("IRQ 0 pending (IRR bit 0) with IF = 0", MakeIrqPending());
  irq_count = 0;
  cpu_trap_reset();
  uint32_t eax = 0, second_inc;
  __asm__ volatile(
      "movl $1f, %1\n\t"
      "sti\n\t"
      "incl %0\n"
      "1:\n\t"
      "incl %0\n\t"
      "cli"
      : "+a"(eax), "=&r"(second_inc)
      :
      : "memory", "cc");
  check_u32("sti; inc; inc: one interrupt", irq_count, 1);
  check_u32("sti; inc; inc: vector 0x20", cpu_last.vector, kVecIrq0);
  check_u32("sti; inc; inc: taken after the first inc (saved EIP)", cpu_last.eip, second_inc);
  check_u32("sti; inc; inc: EAX = 1 at the interrupt", cpu_last.eax, 1);
  check_u32("sti; inc; inc: no error code", cpu_last.error, 0);
  check_u32("sti; inc; inc: both incs ran", eax, 2);

  check_true("IRQ 0 pending again", MakeIrqPending());
  irq_count = 0;
  eax = 0;
  uint32_t after_popf;
  __asm__ volatile(
      "movl $1f, %1\n\t"
      "pushl $0x202\n\t"
      "popfl\n"
      "1:\n\t"
      "incl %0\n\t"
      "cli"
      : "+a"(eax), "=&r"(after_popf)
      :
      : "memory", "cc");
  check_u32("popf setting IF: one interrupt", irq_count, 1);
  check_u32("popf setting IF: taken right after popf (no shadow)", cpu_last.eip, after_popf);
  check_u32("popf setting IF: EAX = 0 at the interrupt", cpu_last.eax, 0);

  check_true("IRQ 0 pending again", MakeIrqPending());
  irq_count = 0;
  uint32_t iret_target;
  __asm__ volatile(
      "movl $1f, %0\n\t"
      "pushl $0x202\n\t"
      "pushl %%cs\n\t"
      "pushl $1f\n\t"
      "iret\n"
      "1:\n\t"
      "nop\n\t"
      "cli"
      : "=&r"(iret_target)
      :
      : "memory", "cc");
  check_u32("iret setting IF: one interrupt", irq_count, 1);
  check_u32("iret setting IF: taken at the iret's target", cpu_last.eip, iret_target);

  check_true("IRQ 0 pending again", MakeIrqPending());
  irq_count = 0;
  __asm__ volatile(
      "sti\n\t"
      "hlt\n"
      ".globl iw_after_hlt_label\n"
      "iw_after_hlt_label:\n\t"
      "cli"
      :
      :
      : "memory");
  extern uint8_t iw_after_hlt_label[];
  check_u32("sti; hlt: one interrupt", irq_count, 1);
  check_u32("sti; hlt: the interrupt wakes hlt, saved EIP after it", cpu_last.eip,
            (uint32_t)(uintptr_t)iw_after_hlt_label);

  outb(kPic1Data, 0xff); /* mask IRQ 0 again */
  cpu_set_handler(kVecIrq0, 0);
  check_u32("IF = 0 at the end", cpu_read_eflags() & kFlagIf, 0);
}

/* ---- popf_iret ---- */

/* POPF of `image`, returns EFLAGS after; EFLAGS are put back by the caller
 * when needed (the run ends in INT 0x80). */
static uint32_t PopfGet(uint32_t image) {
  uint32_t f;
  __asm__ volatile(
      "pushl %1\n\t"
      "popfl\n\t"
      "pushfl\n\t"
      "popl %0"
      : "=r"(f)
      : "r"(image)
      : "cc", "memory");
  return f;
}

/* IRET to the same privilege level with `image` as EFLAGS; returns EFLAGS
 * after. */
static uint32_t IretGet(uint32_t image) {
  uint32_t f;
  __asm__ volatile(
      "pushl %1\n\t"
      "pushl %%cs\n\t"
      "pushl $1f\n\t"
      "iret\n"
      "1:\n\t"
      "pushfl\n\t"
      "popl %0"
      : "=r"(f)
      : "r"(image)
      : "cc", "memory");
  return f;
}

/* What a CPL-1/3 run saw: IF after POPF, IRET and POPFW of its EFLAGS with
 * IF flipped, and IOPL after POPF and IRET with IOPL flipped. */
static struct { uint32_t start_if, popf_if, iret_if, popfw_if, popf_iopl, iret_iopl; } pf[8];

static uint32_t FlagsRun(uint32_t slot) {
  uint32_t start = cpu_read_eflags();
  uint32_t flip_if = start ^ kFlagIf, flip_iopl = start ^ kFlagIopl3;
  pf[slot].start_if = start & kFlagIf;
  pf[slot].popf_if = PopfGet(flip_if) & kFlagIf;
  PopfGet(start);
  pf[slot].iret_if = IretGet(flip_if) & kFlagIf;
  PopfGet(start);
  uint32_t f;
  __asm__ volatile(
      "pushw %w1\n\t"
      "popfw\n\t"
      "pushfl\n\t"
      "popl %0"
      : "=r"(f)
      : "r"(flip_if)
      : "cc", "memory");
  pf[slot].popfw_if = f & kFlagIf;
  PopfGet(start);
  pf[slot].popf_iopl = PopfGet(flip_iopl) & kFlagIopl3;
  PopfGet(start);
  pf[slot].iret_iopl = IretGet(flip_iopl) & kFlagIopl3;
  PopfGet(start);
  return 0;
}

static void TestPopfIret(void) {
  check_section("iw.popf_iret");
  /* CPL 0: everything loads (IF = 1 with the 8259 masked is harmless). */
  uint32_t saved = cpu_read_eflags();
  uint32_t f = PopfGet(saved | kFlagIf | kFlagIopl3);
  check_u32("CPL 0: popf sets IF", f & kFlagIf, kFlagIf);
  check_u32("CPL 0: popf sets IOPL 3", f & kFlagIopl3, kFlagIopl3);
  f = PopfGet(saved & ~(uint32_t)(kFlagIf | kFlagIopl3));
  check_u32("CPL 0: popf clears IF and IOPL", f & (kFlagIf | kFlagIopl3), 0);
  f = PopfGet(saved | kFlagRf | kFlagVm | (1u << 19) | (1u << 20));
  check_u32("CPL 0: popf cannot set RF, VM, VIF, VIP",
            f & (kFlagRf | kFlagVm | (1u << 19) | (1u << 20)), 0);
  f = IretGet(saved | kFlagIf | kFlagIopl(2));
  check_u32("CPL 0: iret loads IF and IOPL", f & (kFlagIf | kFlagIopl3), kFlagIf | kFlagIopl(2));
  cpu_write_eflags(saved);

  const struct {
    const char* what;
    uint32_t cpl, iopl, if_changes;
  } runs[4] = {
      {"CPL 3, IOPL 0", 3, 0, 0},
      {"CPL 3, IOPL 3", 3, 3, 1},
      {"CPL 1, IOPL 1", 1, 1, 1},
      {"CPL 1, IOPL 0", 1, 0, 0},
  };
  for (uint32_t i = 0; i < 8; i++) {
    uint32_t r = i / 2, start_if = (i & 1) ? kFlagIf : 0;
    cpu_trap_reset();
    cpu_run_at(runs[r].cpl, FlagsRun, i, start_if | kFlagIopl(runs[r].iopl));
    const char* w = cpu_cat(runs[r].what, start_if ? ", IF = 1" : ", IF = 0");
    static char name[64];
    uint32_t k = 0;
    while (w[k] && k < sizeof name - 1) {
      name[k] = w[k];
      k++;
    }
    name[k] = 0;
    uint32_t want_if = runs[r].if_changes ? (start_if ^ kFlagIf) : start_if;
    check_u32(cpu_cat(name, ": no exception"), cpu_trap_count, 0);
    check_u32(cpu_cat(name, ": started with that IF"), pf[i].start_if, start_if);
    check_u32(cpu_cat(name, ": popf flipping IF"), pf[i].popf_if, want_if);
    check_u32(cpu_cat(name, ": iret flipping IF"), pf[i].iret_if, want_if);
    check_u32(cpu_cat(name, ": popfw flipping IF"), pf[i].popfw_if, want_if);
    check_u32(cpu_cat(name, ": popf cannot change IOPL"), pf[i].popf_iopl, kFlagIopl(runs[r].iopl));
    check_u32(cpu_cat(name, ": iret cannot change IOPL"), pf[i].iret_iopl, kFlagIopl(runs[r].iopl));
  }
}

void guest_main(uint32_t magic, uint32_t mbi) {
  (void)magic;
  (void)mbi;
  serial_puts("interrupt_window: STI and MOV SS shadows, POPF/IRET and IF/IOPL\n");
  cpu_init();
  TestStepShadow();
  TestIrqShadow();
  TestPopfIret();
  check_finish("interrupt_window");
}
