/*
 * rings: privilege levels. Entering CPL 3 (and CPL 1) by IRET, coming back
 * by INT with the TSS stack switch, the 17 sensitive-but-unprivileged
 * instructions at CPL 3 (they do not trap: what a deprivileged guest kernel
 * would see), and the privileged ones raising #GP(0) at CPL > 0 (Intel SDM
 * vol. 3, 5.9 privileged instructions, 6.12.1 stack switching on interrupts,
 * 2.8 system instruction summary; vol. 2 IRET, INT n, POPF).
 *
 * Sections:
 *   iret_int    CPL 0 -> 3 by IRET: CS, SS, DS..GS, EFLAGS, ESP; INT 0x80
 *               from CPL 3: the handler's frame sits at TSS.esp0 - 20 (SS,
 *               ESP, EFLAGS, CS, EIP), the saved SS:ESP and CS:EIP are the
 *               CPL-3 ones, IF is 0 in the handler; from CPL 1 the same with
 *               SS 0x39; from CPL 0 no stack switch (3 dwords). IRET to CPL
 *               3 nulls DS/FS holding DPL-0 selectors, keeps ES/GS.
 *   sensitive   at CPL 3 (no trap): SGDT, SIDT, SLDT, STR, SMSW return the
 *               real values; PUSHF shows IF and IOPL; POPF with IOPL 0
 *               silently keeps IF and IOPL and changes the arithmetic flags
 *               and DF; LAR/LSL/VERR/VERW apply the CPL-3 privilege checks;
 *               PUSH/POP and MOV of segment registers; far CALL/JMP/RET to
 *               a DPL-3 code segment; INT n through DPL-3 gates works,
 *               through a DPL-0 gate #GP(vector*8+2); INT3 through a DPL-0
 *               gate #GP(0x1a); CPUID and RDTSC work.
 *   privileged  at CPL 3 each raises #GP(0) at the instruction, CS = 0x1b,
 *               nothing changed: CLI, STI, HLT, IN, OUT, INSB, OUTSB (IOPL
 *               0, no bitmap permission), MOV from/to CR0, CR3, CR4, MOV
 *               from/to DR7, LGDT, LIDT, LLDT, LTR, LMSW, CLTS, INVD,
 *               WBINVD, INVLPG, RDMSR, WRMSR, RDPMC (CR4.PCE = 0), RDTSC
 *               with CR4.TSD = 1, SYSEXIT.
 *   iopl        CPL 3 with IOPL 3: CLI, STI, IN, OUT work, POPF changes IF
 *               but not IOPL, HLT still #GP(0); CPL 1 with IOPL 1: CLI and
 *               IN work, LGDT and MOV CR0 #GP(0), SGDT works.
 *   iret_checks IRET at CPL 0 to a CPL-3 frame with a bad SS (RPL != 3)
 *               #GP(ss), null SS #GP(0), null CS #GP(0); IRET at CPL 3 to
 *               a CPL-0 frame #GP(cs).
 */
#include "cpu.h"

enum {
  kIdxLdt = kGdtFree, /* 0x40 an LDT (for SLDT) */
  kIdxCode3,          /* 0x48 flat XR DPL 3 (far transfers at CPL 3) */
  kIdxConf0,          /* 0x50 conforming XR DPL 0 */
};
#define SEL(idx) ((idx) << 3)

static uint64_t ldt[2] __attribute__((aligned(8)));

/* One recorded CPU_TRY at CPL > 0. */
struct Try {
  const char* what;
  uint32_t count, vector, error, eip, cs, start;
};
static struct Try tries[48];
static uint32_t num_tries;

static void Rec(const char* what) {
  struct Try* t = &tries[num_tries < 48 ? num_tries++ : 47];
  t->what = what;
  t->count = cpu_trap_count;
  t->vector = cpu_last.vector;
  t->error = cpu_last.error;
  t->eip = cpu_last.eip;
  t->cs = cpu_last.cs;
  t->start = cpu_try_start;
  cpu_resume_eip = 0;
}

/* Checks every recorded try: a #GP(error) fault at the instruction from cs. */
static void VerifyTries(uint32_t vector, uint32_t error, uint32_t cs) {
  for (uint32_t i = 0; i < num_tries; i++) {
    const struct Try* t = &tries[i];
    check_u32(cpu_cat(t->what, ": one exception"), t->count, 1);
    check_u32(cpu_cat(t->what, ": vector"), t->vector, vector);
    check_u32(cpu_cat(t->what, ": error code"), t->error, error);
    check_u32(cpu_cat(t->what, ": saved EIP = the instruction"), t->eip, t->start);
    check_u32(cpu_cat(t->what, ": saved CS"), t->cs, cs);
  }
  num_tries = 0;
}

/* ---- iret_int ---- */

static struct {
  uint32_t cs, ss, ds, es, fs, gs, eflags, esp;
  uint32_t esp_before_int, esp_after_int, eip_after_int;
  uint32_t ds_after, es_after, fs_after, gs_after;
} r3;

uint32_t rings_esp_before, rings_eip_after;

static uint32_t Ring3State(uint32_t arg) {
  (void)arg;
  r3.cs = cpu_read_cs();
  r3.ss = cpu_read_ss();
  r3.ds = cpu_read_ds();
  r3.es = cpu_read_es();
  r3.fs = cpu_read_fs();
  r3.gs = cpu_read_gs();
  r3.eflags = cpu_read_eflags();
  __asm__ volatile("movl %%esp, %0" : "=r"(r3.esp));
  cpu_trap_reset();
  __asm__ volatile(
      "movl %%esp, rings_esp_before\n\t"
      "movl $1f, rings_eip_after\n\t"
      "int $0x80\n"
      "1:\n\t"
      "movl %%esp, %0"
      : "=r"(r3.esp_after_int)
      : "a"(0x1234)
      : "memory");
  return 0x33;
}

/* INT 0x82 handler: puts DPL-0 selectors into the saved DS and FS. */
static void LoadKernelSelectors(struct cpu_frame* f) {
  f->ds = kSelKernelData;
  f->fs = kSelKernelData;
}

static uint32_t Ring3Nulling(uint32_t arg) {
  (void)arg;
  __asm__ volatile(
      "int $0x82\n\t"
      "movl %%ds, %%eax\n\tmovl %%eax, %%ss:%c0\n\t"
      "movl %%es, %%eax\n\tmovl %%eax, %%ss:%c1\n\t"
      "movl %%fs, %%eax\n\tmovl %%eax, %%ss:%c2\n\t"
      "movl %%gs, %%eax\n\tmovl %%eax, %%ss:%c3\n\t"
      "movl $0x23, %%eax\n\t"
      "movl %%eax, %%ds\n\t"
      "movl %%eax, %%fs"
      :
      : "i"(&r3.ds_after), "i"(&r3.es_after), "i"(&r3.fs_after), "i"(&r3.gs_after)
      : "eax", "memory");
  return 0;
}

static void TestIretInt(void) {
  check_section("rings.iret_int");
  uint32_t esp0 = (uint32_t)(uintptr_t)cpu_ring0_stack_top;
  uint32_t r = cpu_run_at(3, Ring3State, 0, kFlagIf);
  check_u32("cpu_run_at returns fn's value", r, 0x33);
  check_u32("CPL 3: cs", r3.cs, kSelUserCode);
  check_u32("CPL 3: ss", r3.ss, kSelUserData);
  check_u32("CPL 3: ds", r3.ds, kSelUserData);
  check_u32("CPL 3: es", r3.es, kSelUserData);
  check_u32("CPL 3: fs", r3.fs, kSelUserData);
  check_u32("CPL 3: gs", r3.gs, kSelUserData);
  check_u32("CPL 3: EFLAGS from the IRET image (IF = 1, IOPL 0)",
            r3.eflags & (kFlagIf | kFlagIopl3 | kFlagTf | kFlagNt), kFlagIf);
  check_u32("CPL 3: on the user stack",
            r3.esp < (uint32_t)(uintptr_t)cpu_user_stack_top &&
                r3.esp > (uint32_t)(uintptr_t)cpu_user_stack_top - 4096,
            1);
  check_u32("int 0x80 from CPL 3: one event", cpu_trap_count, 1);
  check_u32("int 0x80: vector", cpu_last.vector, kVecSyscall);
  check_u32("int 0x80: frame at TSS.esp0 - 20", cpu_last.frame, esp0 - 20);
  check_u32("int 0x80: saved SS", cpu_last.ss, kSelUserData);
  check_u32("int 0x80: saved ESP = ESP at the INT", cpu_last.esp, rings_esp_before);
  check_u32("int 0x80: saved CS", cpu_last.cs, kSelUserCode);
  check_u32("int 0x80: saved EIP after the INT", cpu_last.eip, rings_eip_after);
  check_u32("int 0x80: saved EFLAGS.IF", cpu_last.eflags & kFlagIf, kFlagIf);
  check_u32("int 0x80: IF = 0 in the handler", cpu_last.handler_eflags & kFlagIf, 0);
  check_u32("int 0x80: DS at entry still the CPL-3 one", cpu_last.ds, kSelUserData);
  check_u32("int 0x80: IRET back restores ESP", r3.esp_after_int, rings_esp_before);

  /* From CPL 1. */
  cpu_run_at(1, Ring3State, 0, 0);
  check_u32("CPL 1: cs", r3.cs, kSelRing1Code);
  check_u32("CPL 1: ss", r3.ss, kSelRing1Data);
  check_u32("int 0x80 from CPL 1: frame at TSS.esp0 - 20", cpu_last.frame, esp0 - 20);
  check_u32("int 0x80 from CPL 1: saved SS", cpu_last.ss, kSelRing1Data);
  check_u32("int 0x80 from CPL 1: saved CS", cpu_last.cs, kSelRing1Code);
  check_u32("int 0x80 from CPL 1: saved ESP", cpu_last.esp, rings_esp_before);

  /* From CPL 0: no stack switch, EFLAGS/CS/EIP only. */
  uint32_t esp_at;
  cpu_trap_reset();
  __asm__ volatile(
      "movl %%esp, %0\n\t"
      "int $0x80"
      : "=&r"(esp_at)
      : "a"(0x1234)
      : "memory");
  check_u32("int 0x80 from CPL 0: one event", cpu_trap_count, 1);
  check_u32("int 0x80 from CPL 0: frame = ESP - 12", cpu_last.frame, esp_at - 12);
  check_u32("int 0x80 from CPL 0: cs", cpu_last.cs, kSelKernelCode);

  /* IRET to CPL 3 nulls DS and FS (DPL 0), keeps ES and GS (DPL 3). */
  cpu_idt[0x82] =
      cpu_gate_desc(kSelKernelCode, cpu_stub(0x82), kDescP | kDescIntGate32 | kDescDpl(3), 0);
  cpu_set_handler(0x82, LoadKernelSelectors);
  r3.ds_after = r3.es_after = r3.fs_after = r3.gs_after = 0xffff;
  cpu_run_at(3, Ring3Nulling, 0, 0);
  cpu_set_handler(0x82, 0);
  cpu_idt_default(0x82);
  check_u32("iret to CPL 3: DS = 0x10 (DPL 0) nulled", r3.ds_after, 0);
  check_u32("iret to CPL 3: FS = 0x10 nulled", r3.fs_after, 0);
  check_u32("iret to CPL 3: ES = 0x23 kept", r3.es_after, kSelUserData);
  check_u32("iret to CPL 3: GS = 0x23 kept", r3.gs_after, kSelUserData);
}

/* ---- sensitive ---- */

static struct {
  struct cpu_dtr gdtr, idtr;
  uint32_t ldtr, tr, msw;
  uint32_t pushf_if, pushf_iopl3;
  uint32_t popf_before, popf_after;
  uint32_t lar_ok[6], lar_val[6], lsl_ok[3], lsl_val[3], verr[4], verw[4];
  uint32_t push_cs, push_ss, push_bytes, pop_ds;
  uint32_t mov_ds, far_cs, far_ret_cs, jmp_cs;
  uint32_t cpuid_max, tsc_ok;
  uint32_t int_count, int_vector;
} s3;

uint32_t rings_far_cs; /* written by RingsFarTarget */
extern uint8_t RingsFarTarget[];
__asm__(
    ".text\n"
    ".globl RingsFarTarget\n"
    "RingsFarTarget:\n"
    "  movl %cs, %eax\n"
    "  movl %eax, rings_far_cs\n"
    "  lret\n");

static uint32_t Ring3Sensitive(uint32_t arg) {
  (void)arg;
  cpu_sgdt(&s3.gdtr);
  cpu_sidt(&s3.idtr);
  s3.ldtr = cpu_sldt();
  s3.tr = cpu_str();
  __asm__ volatile("smsw %0" : "=r"(s3.msw));
  s3.pushf_if = cpu_read_eflags();
  /* POPF with IOPL 0 at CPL 3: tries to clear IF, set IOPL 3, set CF, DF. */
  s3.popf_before = cpu_read_eflags();
  __asm__ volatile(
      "pushl %1\n\t"
      "popfl\n\t"
      "pushfl\n\t"
      "popl %0\n\t"
      "cld"
      : "=r"(s3.popf_after)
      : "r"((s3.popf_before & ~(uint32_t)kFlagIf) | kFlagIopl3 | kFlagCf | kFlagDf)
      : "cc", "memory");
  const uint32_t lar_sel[6] = {kSelKernelData, kSelUserData, kSelKernelCode,
                               SEL(kIdxConf0), kSelTss,      SEL(kIdxLdt) | 3};
  for (uint32_t i = 0; i < 6; i++) s3.lar_ok[i] = cpu_lar(lar_sel[i], &s3.lar_val[i]);
  const uint32_t lsl_sel[3] = {kSelKernelData, kSelUserData, kSelUserCode};
  for (uint32_t i = 0; i < 3; i++) s3.lsl_ok[i] = cpu_lsl(lsl_sel[i], &s3.lsl_val[i]);
  const uint32_t ver_sel[4] = {kSelUserCode, kSelKernelCode, kSelUserData, kSelKernelData};
  for (uint32_t i = 0; i < 4; i++) {
    s3.verr[i] = cpu_verr(ver_sel[i]);
    s3.verw[i] = cpu_verw(ver_sel[i]);
  }
  __asm__ volatile(
      "movl %%esp, %%edx\n\t"
      "pushl %%cs\n\t"
      "pushl %%ss\n\t"
      "movl %%edx, %2\n\t"
      "subl %%esp, %2\n\t"
      "popl %1\n\t"
      "popl %0\n\t"
      "pushl $0x23\n\t"
      "popl %%ds\n\t"
      : "=r"(s3.push_cs), "=r"(s3.push_ss), "=r"(s3.push_bytes)
      :
      : "edx", "memory");
  s3.pop_ds = cpu_read_ds();
  __asm__ volatile("movl %1, %%ds\n\tmovl %%ds, %0" : "=r"(s3.mov_ds) : "r"(0x23));
  __asm__ volatile("lcall %0, $RingsFarTarget" : : "i"(SEL(kIdxCode3) | 3) : "eax", "memory");
  s3.far_cs = rings_far_cs;
  s3.far_ret_cs = cpu_read_cs();
  __asm__ volatile(
      "ljmp %1, $1f\n"
      "1:\n\t"
      "movl %%cs, %0\n\t"
      "ljmp $0x1b, $2f\n"
      "2:"
      : "=r"(s3.jmp_cs)
      : "i"(SEL(kIdxCode3) | 3));
  uint32_t r[4];
  __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(0), "c"(0));
  s3.cpuid_max = r[0];
  s3.tsc_ok = rdtsc() != 0;

  /* INT through gates: DPL 3 (0x80, 0x81, int3, into) work; DPL 0 does not. */
  cpu_trap_reset();
  __asm__ volatile("int $0x80\n\tint $0x81\n\tint3" : : "a"(0) : "memory");
  s3.int_count = cpu_trap_count;
  s3.int_vector = cpu_log[2].vector;
  cpu_trap_reset();
  __asm__ volatile(CPU_TRY("int $0x40") : : "r"(0) : "memory");
  Rec("CPL 3: int $0x40 through a DPL-0 gate: #GP(0x40*8+2)");
  return 0;
}

static uint32_t Ring3Int3Dpl0(uint32_t arg) {
  (void)arg;
  cpu_trap_reset();
  __asm__ volatile(CPU_TRY("int3") : : "r"(0) : "memory");
  Rec("CPL 3: int3 through a DPL-0 gate: #GP(3*8+2)");
  return 0;
}

static void TestSensitive(void) {
  check_section("rings.sensitive");
  ldt[0] = cpu_seg_desc(0, 0xfffff, kDescFlat | kDescDataRw | kDescDpl(3));
  cpu_gdt[kIdxLdt] =
      cpu_seg_desc((uint32_t)(uintptr_t)ldt, sizeof ldt - 1, kDescP | kDescLdt | kDescDpl(3));
  cpu_lldt(SEL(kIdxLdt));
  cpu_trap_reset();
  num_tries = 0;
  cpu_run_at(3, Ring3Sensitive, 0, kFlagIf);
  cpu_lldt(0);
  check_u32("sgdt at CPL 3: base", s3.gdtr.base, (uint32_t)(uintptr_t)cpu_gdt);
  check_u32("sgdt at CPL 3: limit", s3.gdtr.limit, kGdtEntries * 8 - 1);
  check_u32("sidt at CPL 3: base", s3.idtr.base, (uint32_t)(uintptr_t)cpu_idt);
  check_u32("sidt at CPL 3: limit", s3.idtr.limit, 256 * 8 - 1);
  check_u32("sldt at CPL 3", s3.ldtr, SEL(kIdxLdt));
  check_u32("str at CPL 3", s3.tr, kSelTss);
  check_u32("smsw at CPL 3 = cr0[15:0]", s3.msw & 0xffff, cpu_read_cr0() & 0xffff);
  check_u32("pushf at CPL 3 shows IF = 1, IOPL 0", s3.pushf_if & (kFlagIf | kFlagIopl3), kFlagIf);
  check_u32("popf at CPL 3, IOPL 0: IF kept (no fault)", s3.popf_after & kFlagIf, kFlagIf);
  check_u32("popf at CPL 3: IOPL kept", s3.popf_after & kFlagIopl3, 0);
  check_u32("popf at CPL 3: CF and DF loaded", s3.popf_after & (kFlagCf | kFlagDf),
            kFlagCf | kFlagDf);
  const uint32_t lar_ok[6] = {0, 1, 0, 1, 0, 1};
  const uint32_t lar_val[6] = {0, 0x00c0f300, 0, 0x00c09e00, 0, 0x0000e200};
  const char* lar_what[6] = {"lar 0x10 (DPL 0) at CPL 3", "lar 0x23 at CPL 3",
                             "lar 0x08 (DPL 0) at CPL 3", "lar conforming DPL 0 at CPL 3",
                             "lar TSS (DPL 0) at CPL 3",  "lar LDT (DPL 3) at CPL 3"};
  for (uint32_t i = 0; i < 6; i++) {
    check_u32(cpu_cat(lar_what[i], ": ZF"), s3.lar_ok[i], lar_ok[i]);
    if (lar_ok[i])
      check_u32(cpu_cat(lar_what[i], ": value"), s3.lar_val[i] & 0x00f0ff00, lar_val[i]);
  }
  check_u32("lsl 0x10 at CPL 3: ZF = 0", s3.lsl_ok[0], 0);
  check_u32("lsl 0x23 at CPL 3: ZF = 1", s3.lsl_ok[1], 1);
  check_u32("lsl 0x23 at CPL 3: 4 GiB - 1", s3.lsl_val[1], 0xffffffff);
  check_u32("lsl 0x1b at CPL 3: ZF = 1", s3.lsl_ok[2], 1);
  const uint32_t verr[4] = {1, 0, 1, 0}, verw[4] = {0, 0, 1, 0};
  const char* ver_what[4] = {"0x1b", "0x08", "0x23", "0x10"};
  for (uint32_t i = 0; i < 4; i++) {
    check_u32(cpu_cat("verr at CPL 3: ", ver_what[i]), s3.verr[i], verr[i]);
    check_u32(cpu_cat("verw at CPL 3: ", ver_what[i]), s3.verw[i], verw[i]);
  }
  check_u32("push cs at CPL 3", s3.push_cs & 0xffff, kSelUserCode);
  check_u32("push ss at CPL 3", s3.push_ss & 0xffff, kSelUserData);
  check_u32("push cs, push ss: 8 bytes", s3.push_bytes, 8);
  check_u32("pop ds at CPL 3", s3.pop_ds, kSelUserData);
  check_u32("mov ds at CPL 3", s3.mov_ds, kSelUserData);
  check_u32("lcall to a DPL-3 code segment: cs", s3.far_cs, SEL(kIdxCode3) | 3);
  check_u32("lret back: cs", s3.far_ret_cs, kSelUserCode);
  check_u32("ljmp to a DPL-3 code segment: cs", s3.jmp_cs, SEL(kIdxCode3) | 3);
  check_true("cpuid at CPL 3", s3.cpuid_max >= 1);
  check_u32("rdtsc at CPL 3 (CR4.TSD = 0)", s3.tsc_ok, 1);
  check_u32("int 0x80, int 0x81, int3 at CPL 3: 3 events", s3.int_count, 3);
  check_u32("int3 at CPL 3 through the DPL-3 gate: #BP", s3.int_vector, kVecBp);
  VerifyTries(kVecGp, 0x40 * 8 + 2, kSelUserCode);
  cpu_idt[kVecBp] =
      cpu_gate_desc(kSelKernelCode, cpu_stub(kVecBp), kDescP | kDescIntGate32 | kDescDpl(0), 0);
  cpu_run_at(3, Ring3Int3Dpl0, 0, 0);
  cpu_idt_default(kVecBp);
  VerifyTries(kVecGp, 3 * 8 + 2, kSelUserCode);
}

/* ---- privileged ---- */

static struct cpu_dtr dtr_scratch;
static uint8_t io_buf[4];
static uint32_t priv_if_after_cli, priv_if_after_sti;

/* CPU_TRY of one instruction at CPL > 0, recorded under its name. */
/* The variable part is "inputs : clobbers". */
#define PRIV(name, insn, ...)                        \
  do {                                               \
    cpu_trap_reset();                                \
    __asm__ volatile(CPU_TRY(insn) : : __VA_ARGS__); \
    Rec(name);                                       \
  } while (0)

static uint32_t Ring3Privileged(uint32_t cpl) {
  (void)cpl;
  uint32_t cr0 = 0x11;
  PRIV("cli", "cli", "r"(0) : "memory");
  priv_if_after_cli = cpu_read_eflags() & kFlagIf;
  PRIV("sti", "sti", "r"(0) : "memory");
  PRIV("hlt", "hlt", "r"(0) : "memory");
  PRIV("in al, 0xef", "inb $0xef, %%al", "r"(0) : "eax", "memory");
  PRIV("out 0xef, al", "outb %%al, $0xef", "a"(0) : "memory");
  PRIV("in eax, dx", "inl %%dx, %%eax", "d"(0x2f0) : "eax", "memory");
  PRIV("out dx, ax", "outw %%ax, %%dx", "a"(0), "d"(0x2f0) : "memory");
  PRIV("insb", "insb", "d"(0x2f0), "D"(io_buf) : "memory");
  PRIV("outsb", "outsb", "d"(0x2f0), "S"(io_buf) : "memory");
  PRIV("mov eax, cr0", "movl %%cr0, %%eax", "r"(0) : "eax", "memory");
  PRIV("mov cr0, eax", "movl %%eax, %%cr0", "a"(cr0) : "memory");
  PRIV("mov eax, cr3", "movl %%cr3, %%eax", "r"(0) : "eax", "memory");
  PRIV("mov cr3, eax", "movl %%eax, %%cr3", "a"(0) : "memory");
  PRIV("mov eax, cr4", "movl %%cr4, %%eax", "r"(0) : "eax", "memory");
  PRIV("mov cr4, eax", "movl %%eax, %%cr4", "a"(0) : "memory");
  PRIV("mov eax, cr2", "movl %%cr2, %%eax", "r"(0) : "eax", "memory");
  PRIV("mov eax, dr7", "movl %%dr7, %%eax", "r"(0) : "eax", "memory");
  PRIV("mov dr7, eax", "movl %%eax, %%dr7", "a"(0) : "memory");
  PRIV("mov eax, dr0", "movl %%dr0, %%eax", "r"(0) : "eax", "memory");
  PRIV("lgdt", "lgdt %0", "m"(dtr_scratch) : "memory");
  PRIV("lidt", "lidt %0", "m"(dtr_scratch) : "memory");
  PRIV("lldt", "lldt %w0", "r"(0) : "memory");
  PRIV("ltr", "ltr %w0", "r"(kSelTss) : "memory");
  PRIV("lmsw", "lmsw %w0", "r"(0x11) : "memory");
  PRIV("clts", "clts", "r"(0) : "memory");
  PRIV("invd", "invd", "r"(0) : "memory");
  PRIV("wbinvd", "wbinvd", "r"(0) : "memory");
  PRIV("invlpg", "invlpg %0", "m"(io_buf[0]) : "memory");
  PRIV("rdmsr", "rdmsr", "c"(kMsrSysenterCs) : "eax", "edx", "memory");
  PRIV("wrmsr", "wrmsr", "c"(kMsrSysenterCs), "a"(0), "d"(0) : "memory");
  PRIV("rdpmc (CR4.PCE = 0)", "rdpmc", "c"(0) : "eax", "edx", "memory");
  PRIV("sysexit", "sysexit", "c"(0), "d"(0) : "memory");
  priv_if_after_sti = cpu_read_eflags() & kFlagIf;
  return 0;
}

static uint32_t Ring3Rdtsc(uint32_t arg) {
  (void)arg;
  PRIV("rdtsc with CR4.TSD = 1", "rdtsc", "r"(0) : "eax", "edx", "memory");
  return 0;
}

static void TestPrivileged(void) {
  check_section("rings.privileged");
  num_tries = 0;
  cpu_run_at(3, Ring3Privileged, 3, kFlagIf);
  check_u32("cli at CPL 3 left IF = 1", priv_if_after_cli, kFlagIf);
  check_u32("IF still 1 at the end", priv_if_after_sti, kFlagIf);
  uint32_t cr4 = cpu_read_cr4();
  cpu_write_cr4(cr4 | 0x4); /* TSD */
  cpu_run_at(3, Ring3Rdtsc, 0, 0);
  cpu_write_cr4(cr4);
  VerifyTries(kVecGp, 0, kSelUserCode);
  check_u32("cr0 unchanged", cpu_read_cr0() & 0xf, 0x1);
}

/* ---- iopl ---- */

static struct { uint32_t if_after_cli, if_after_sti, in_val, popf_if, popf_iopl; } io3;

static uint32_t Ring3Iopl3(uint32_t arg) {
  (void)arg;
  cpu_trap_reset();
  __asm__ volatile("cli" : : : "memory");
  io3.if_after_cli = cpu_read_eflags() & kFlagIf;
  __asm__ volatile("sti" : : : "memory");
  io3.if_after_sti = cpu_read_eflags() & kFlagIf;
  io3.in_val = inb(0x2f0);
  outb(0x2f0, 0);
  /* POPF: IF = 0 loads, IOPL = 0 does not. */
  uint32_t f;
  __asm__ volatile(
      "pushl %1\n\t"
      "popfl\n\t"
      "pushfl\n\t"
      "popl %0"
      : "=r"(f)
      : "r"(0x2u)
      : "cc", "memory");
  io3.popf_if = f & kFlagIf;
  io3.popf_iopl = f & kFlagIopl3;
  uint32_t count = cpu_trap_count;
  PRIV("hlt at CPL 3 with IOPL 3", "hlt", "r"(0) : "memory");
  return count;
}

static struct { uint32_t if_after_cli, in_val, gdt_base, cs; } io1;

static uint32_t Ring1Iopl1(uint32_t arg) {
  (void)arg;
  cpu_trap_reset();
  io1.cs = cpu_read_cs();
  __asm__ volatile("cli" : : : "memory");
  io1.if_after_cli = cpu_read_eflags() & kFlagIf;
  io1.in_val = inb(0x2f0);
  struct cpu_dtr d;
  cpu_sgdt(&d);
  io1.gdt_base = d.base;
  uint32_t count = cpu_trap_count;
  PRIV("lgdt at CPL 1", "lgdt %0", "m"(dtr_scratch) : "memory");
  PRIV("mov eax, cr0 at CPL 1", "movl %%cr0, %%eax", "r"(0) : "eax", "memory");
  PRIV("hlt at CPL 1", "hlt", "r"(0) : "memory");
  return count;
}

static void TestIopl(void) {
  check_section("rings.iopl");
  num_tries = 0;
  uint32_t n = cpu_run_at(3, Ring3Iopl3, 0, kFlagIf | kFlagIopl3);
  check_u32("IOPL 3: no exception before hlt", n, 0);
  check_u32("IOPL 3: cli clears IF", io3.if_after_cli, 0);
  check_u32("IOPL 3: sti sets IF", io3.if_after_sti, kFlagIf);
  check_u32("IOPL 3: in from an unclaimed port", io3.in_val, 0xff);
  check_u32("IOPL 3: popf loads IF = 0", io3.popf_if, 0);
  check_u32("IOPL 3 at CPL 3: popf keeps IOPL", io3.popf_iopl, kFlagIopl3);
  VerifyTries(kVecGp, 0, kSelUserCode);
  n = cpu_run_at(1, Ring1Iopl1, 0, kFlagIf | kFlagIopl(1));
  check_u32("CPL 1, IOPL 1: cs", io1.cs, kSelRing1Code);
  check_u32("CPL 1, IOPL 1: no exception before lgdt", n, 0);
  check_u32("CPL 1, IOPL 1: cli works", io1.if_after_cli, 0);
  check_u32("CPL 1, IOPL 1: in works", io1.in_val, 0xff);
  check_u32("CPL 1: sgdt", io1.gdt_base, (uint32_t)(uintptr_t)cpu_gdt);
  VerifyTries(kVecGp, 0, kSelRing1Code);
}

/* ---- iret_checks ---- */

/* IRET at CPL 0 with the frame cs:eip, eflags, esp, ss inside CPU_TRY.
 * The frame's EIP is the end of the CPU_TRY, so a successful IRET lands
 * there too (at the frame's CPL: only used with frames that fault). */
static void TryIret(uint32_t cs, uint32_t ss) {
  __asm__ volatile(
      "movl %%esp, %%edx\n\t"
      "pushl %1\n\t"
      "pushl $cpu_user_stack_top - 64\n\t"
      "pushl $2\n\t"
      "pushl %0\n\t"
      "pushl $1f\n\t" CPU_TRY("iret") "1:\n\t"
      "movl %%edx, %%esp"
      :
      : "r"(cs), "r"(ss)
      : "edx", "memory");
}

static uint32_t Ring3IretToRing0(uint32_t arg) {
  (void)arg;
  cpu_trap_reset();
  __asm__ volatile(
      "movl %%esp, %%edx\n\t"
      "pushl $2\n\t"
      "pushl $0x08\n\t"
      "pushl $1f\n\t" CPU_TRY("iret") "1:\n\t"
      "movl %%edx, %%esp"
      :
      :
      : "edx", "memory");
  Rec("iret at CPL 3 to a CPL-0 frame: #GP(0x08)");
  return 0;
}

static void TestIretChecks(void) {
  check_section("rings.iret_checks");
  const struct {
    const char* what;
    uint32_t cs, ss, error;
  } bad[] = {
      {"iret to CPL 3 with SS RPL 0 (0x20): #GP(ss)", kSelUserCode, 0x20, 0x20},
      {"iret to CPL 3 with SS = 0x10 (DPL 0): #GP(ss)", kSelUserCode, kSelKernelData | 3, 0x10},
      {"iret to CPL 3 with a null SS: #GP(0)", kSelUserCode, 0x3, 0},
      {"iret with a null CS: #GP(0)", 0x3, kSelUserData, 0},
      {"iret to CPL 3 with CS = a data segment: #GP(cs)", kSelUserData, kSelUserData, 0x20},
  };
  for (uint32_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    cpu_trap_reset();
    TryIret(bad[i].cs, bad[i].ss);
    cpu_check_fault(bad[i].what, kVecGp, bad[i].error);
    check_u32(cpu_cat(bad[i].what, ": CPL stays 0"), cpu_read_cs(), kSelKernelCode);
  }
  num_tries = 0;
  cpu_run_at(3, Ring3IretToRing0, 0, 0);
  VerifyTries(kVecGp, kSelKernelCode, kSelUserCode);
}

void guest_main(uint32_t magic, uint32_t mbi) {
  (void)magic;
  (void)mbi;
  serial_puts("rings: CPL 0/1/3, TSS stack switch, sensitive and privileged instructions\n");
  cpu_init();
  cpu_gdt[kIdxCode3] = cpu_seg_desc(0, 0xfffff, kDescFlat | kDescCodeXr | kDescDpl(3));
  cpu_gdt[kIdxConf0] = cpu_seg_desc(0, 0xfffff, kDescFlat | kDescCodeXrc);
  TestIretInt();
  TestSensitive();
  TestPrivileged();
  TestIopl();
  TestIretChecks();
  check_finish("rings");
}
