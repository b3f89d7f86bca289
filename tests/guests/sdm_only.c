/*
 * sdm_only: the checks where QEMU's emulator (7.2, the system oracle of the
 * other guests) departs from the Intel SDM. The SDM wins; this guest is
 * not run under QEMU (`# qemu: skip` in its expected file, which was
 * written from the SDM, not generated). Under QEMU it prints the FAIL
 * lines that document each departure (and hangs in control_regs).
 *
 * Each section names the topic guest the checks belong to.
 *
 *   accessed_cs     (desc_tables) far JMP and far CALL to a code descriptor
 *                   with A = 0 set it (SDM vol. 3, 3.4.5.1: the processor
 *                   sets A whenever it loads a selector into a segment
 *                   register). QEMU sets A for data segments only.
 *   ltr_null        (desc_tables) LTR of a null selector: #GP(0), TR kept
 *                   (SDM vol. 2, LTR). QEMU loads a null TR.
 *   data_access     (segments) accesses through a loaded data selector are
 *                   checked (SDM vol. 3, 5.3 limit checking, 5.4 type
 *                   checking; vol. 2 MOV: #GP(0) for a null segment, a
 *                   non-writable segment, an offset beyond the limit; #SS(0)
 *                   for the stack segment): limit (byte and 4 KiB
 *                   granular, an access straddling the limit), expand-down
 *                   (B = 1 and B = 0: offsets up to the limit, and above
 *                   0xffff with B = 0), null DS/ES/FS, writes to read-only
 *                   data, CS-override reads of execute-only code and writes
 *                   to code, stack accesses beyond an expand-down SS limit
 *                   (#SS(0), at CPL 3 so that the handler has its own
 *                   stack). QEMU checks none of these on data accesses.
 *   far_transfers   (far_transfers) far CALL with an offset beyond the limit
 *                   #GP(0) (QEMU: #GP(sel)); JMP through a call gate to a
 *                   not-present segment #NP(sel) (QEMU: #GP(sel)); a call
 *                   gate to an inner ring whose SS (from the TSS) is not
 *                   present #SS(SS sel) (QEMU: #TS); a call gate from CPL 3
 *                   to conforming DPL-0 code keeps CPL 3 (SDM vol. 2 CALL:
 *                   "CS(RPL) <- CPL"; QEMU sets CPL to the target's DPL, 0).
 *   exceptions      (exceptions, double_fault, interrupt_window) INT1
 *                   (0xf1): #DB trap, not subject to the gate DPL (QEMU 7.2:
 *                   #UD); #AC(0) at CPL 3 with CR0.AM and EFLAGS.AC (QEMU:
 *                   never); #XM for an unmasked SSE exception with
 *                   CR4.OSXMMEXCPT, #UD without (QEMU 7.2: neither); EXT = 1
 *                   in the error code of an #NP raised while delivering an
 *                   exception (QEMU: EXT = 0); TF over STI traps right after
 *                   STI (QEMU: no trap).
 *   sysenter        (sysenter) SYSENTER with SYSENTER_CS = 3 (bits 15:2
 *                   zero): #GP(0) (QEMU tests the whole MSR against 0).
 *   control_regs    (exceptions) MOV CR0 with NW = 1, CD = 0 and with PG =
 *                   1, PE = 0, MOV CR4 with reserved bit 31: #GP(0), the
 *                   register unchanged (SDM vol. 2, MOV to control
 *                   registers). QEMU accepts the first, turns paging on for
 *                   the second, and loops forever on the third.
 */
#include "cpu.h"

enum {
  kIdxFreshCode = kGdtFree, /* 0x40 flat XR DPL 0, accessed bit clear */
  kIdxFreshCode2,           /* 0x48 same, for the far call */
  kIdxLimit,                /* 0x50 RW, base probe, byte limit 0xff */
  kIdxLimitG,               /* 0x58 RW, base probe, 4 KiB limit 0 */
  kIdxDown,                 /* 0x60 RW expand-down B = 1, limit 0xfff */
  kIdxDown16,               /* 0x68 RW expand-down B = 0, limit 0x7fff */
  kIdxRo,                   /* 0x70 RO flat */
  kIdxCodeX,                /* 0x78 execute-only flat */
  kIdxStack3,               /* 0x80 RW expand-down B = 1, DPL 3, limit 0xfff */
  kIdxSmallCode,            /* 0x88 XR DPL 0, limit 0xfff */
  kIdxCodeNp,               /* 0x90 XR, not present */
  kIdxGateNpTarget,         /* 0x98 call gate -> 0x90 */
  kIdxGateRing1,            /* 0xa0 call gate DPL 3 -> 0x31 */
  kIdxRing1DataNp,          /* 0xa8 RW DPL 1, not present */
  kIdxConf0,                /* 0xb0 conforming XR DPL 0 */
  kIdxGateConf,             /* 0xb8 call gate DPL 3 -> 0xb0 */
};
#define SEL(idx) ((idx) << 3)

static uint8_t probe[0x2000] __attribute__((aligned(4096)));

extern uint8_t SdmTarget[], SdmConfTarget[], sdm_gate_target[];
uint32_t sdm_cs, sdm_ss, sdm_esp;

__asm__(
    ".text\n"
    ".globl SdmTarget, SdmConfTarget, sdm_gate_target\n"
    "SdmTarget:\n"
    "sdm_gate_target:\n"
    "  movl %cs, %eax\n"
    "  movl %eax, sdm_cs\n"
    "  lret\n"
    "SdmConfTarget:\n"
    "  movl %cs, %eax\n"
    "  movl %eax, sdm_cs\n"
    "  movl %ss, %eax\n"
    "  movl %eax, sdm_ss\n"
    "  movl %esp, sdm_esp\n"
    "  lret\n");

static uint32_t Accessed(uint32_t idx) {
  return (uint32_t)(cpu_gdt[idx] >> 40) & 1;
}

static void TestAccessedCs(void) {
  check_section("sdm.accessed_cs");
  check_u32("fresh code descriptor: A = 0", Accessed(kIdxFreshCode), 0);
  __asm__ volatile(
      "ljmp $0x40, $1f\n"
      "1:\n\t"
      "ljmp $0x08, $2f\n"
      "2:" ::
          : "memory");
  check_u32("far jmp sets A", Accessed(kIdxFreshCode), 1);
  check_u32("fresh code descriptor 2: A = 0", Accessed(kIdxFreshCode2), 0);
  __asm__ volatile("lcall $0x48, $SdmTarget" : : : "eax", "memory");
  check_u32("far call sets A", Accessed(kIdxFreshCode2), 1);
}

static void TestLtrNull(void) {
  check_section("sdm.ltr_null");
  cpu_trap_reset();
  __asm__ volatile(CPU_TRY("ltr %w0") : : "r"(0) : "memory");
  cpu_check_fault("ltr 0", kVecGp, 0);
  check_u32("ltr 0: TR unchanged", cpu_str(), kSelTss);
  cpu_trap_reset();
  __asm__ volatile(CPU_TRY("ltr %w0") : : "r"(3) : "memory");
  cpu_check_fault("ltr 3 (null with RPL 3)", kVecGp, 0);
  check_u32("ltr 3: TR unchanged", cpu_str(), kSelTss);
  cpu_load_tss(kCpuTssLimit); /* (QEMU has a null TR now and would abort later) */
}

/* Reads a dword at fs:off inside CPU_TRY with FS = sel; FS back to 0x10. */
static uint32_t ReadFs(uint32_t sel, uint32_t off) {
  uint32_t v = 0xeeeeeeee;
  __asm__ volatile("movw %w1, %%fs\n\t" CPU_TRY("movl %%fs:(%2), %0") "movw %w3, %%fs"
                   : "+r"(v)
                   : "r"(sel), "r"(off), "r"(kSelKernelData)
                   : "memory");
  return v;
}
static void ReadFsByte(uint32_t sel, uint32_t off) {
  __asm__ volatile("movw %w0, %%fs\n\t" CPU_TRY("movb %%fs:(%1), %%al") "movw %w2, %%fs"
                   :
                   : "r"(sel), "r"(off), "r"(kSelKernelData)
                   : "eax", "memory");
}
static void ReadFsWord(uint32_t sel, uint32_t off) {
  __asm__ volatile("movw %w0, %%fs\n\t" CPU_TRY("movw %%fs:(%1), %%ax") "movw %w2, %%fs"
                   :
                   : "r"(sel), "r"(off), "r"(kSelKernelData)
                   : "eax", "memory");
}
static void WriteFs(uint32_t sel, uint32_t off, uint32_t v) {
  __asm__ volatile("movw %w0, %%fs\n\t" CPU_TRY("movl %2, %%fs:(%1)") "movw %w3, %%fs"
                   :
                   : "r"(sel), "r"(off), "r"(v), "r"(kSelKernelData)
                   : "memory");
}

static struct { uint32_t count, vector, error, eip, start, ss; } stack_r[2];

/* At CPL 3: SS = the expand-down DPL-3 segment, ESP just above its limit;
 * a PUSH that would write below the limit, then an EBP-based read below it. */
static uint32_t Ring3Stack(uint32_t arg) {
  (void)arg;
  for (uint32_t i = 0; i < 2; i++) {
    cpu_trap_reset();
    if (i == 0)
      __asm__ volatile(
          "movl %%esp, %%edx\n\t"
          "movl %0, %%ss\n\t"
          "movl $0x1002, %%esp\n\t" CPU_TRY_DS("pushl $0") "movl $0x23, %%eax\n\t"
          "movl %%eax, %%ss\n\t"
          "movl %%edx, %%esp"
          :
          : "r"(SEL(kIdxStack3) | 3)
          : "eax", "edx", "memory");
    else
      __asm__ volatile(
          "pushl %%ebp\n\t"
          "movl %%esp, %%edx\n\t"
          "movl %0, %%ss\n\t"
          "movl $0x1800, %%ebp\n\t" CPU_TRY_DS("movl -0x900(%%ebp), %%eax") "movl $0x23, %%eax\n\t"
          "movl %%eax, %%ss\n\t"
          "movl %%edx, %%esp\n\t"
          "popl %%ebp"
          :
          : "r"(SEL(kIdxStack3) | 3)
          : "eax", "edx", "memory");
    stack_r[i].count = cpu_trap_count;
    stack_r[i].vector = cpu_last.vector;
    stack_r[i].error = cpu_last.error;
    stack_r[i].eip = cpu_last.eip;
    stack_r[i].start = cpu_try_start;
    stack_r[i].ss = cpu_last.ss;
    cpu_resume_eip = 0;
  }
  return 0;
}

static void TestDataAccess(void) {
  check_section("sdm.data_access");
  uint32_t base = (uint32_t)(uintptr_t)probe;
  memset(probe, 0x5a, sizeof probe);
  cpu_gdt[kIdxLimit] = cpu_seg_desc(base, 0xff, kDescP | kDescDb | kDescDataRw);
  cpu_gdt[kIdxLimitG] = cpu_seg_desc(base, 0, kDescP | kDescDb | kDescG | kDescDataRw);
  cpu_gdt[kIdxDown] = cpu_seg_desc(base - 0x1000, 0xfff, kDescP | kDescDb | kDescDataRwDown);
  cpu_gdt[kIdxDown16] = cpu_seg_desc(base - 0x8000, 0x7fff, kDescP | kDescDataRwDown);
  cpu_gdt[kIdxRo] = cpu_seg_desc(0, 0xfffff, kDescFlat | kDescDataRo);
  cpu_gdt[kIdxCodeX] = cpu_seg_desc(0, 0xfffff, kDescFlat | kDescCodeX);
  cpu_gdt[kIdxStack3] = cpu_seg_desc(base, 0xfff, kDescP | kDescDb | kDescDataRwDown | kDescDpl(3));

  /* Byte-granular limit 0xff: offsets 0..0xff. */
  cpu_trap_reset();
  check_u32("limit 0xff: dword at 0xfc", ReadFs(SEL(kIdxLimit), 0xfc), 0x5a5a5a5a);
  cpu_check_no_trap("limit 0xff: dword at 0xfc (last valid)");
  cpu_trap_reset();
  ReadFs(SEL(kIdxLimit), 0xfd);
  cpu_check_fault("limit 0xff: dword at 0xfd straddles the limit: #GP(0)", kVecGp, 0);
  cpu_trap_reset();
  ReadFsByte(SEL(kIdxLimit), 0x100);
  cpu_check_fault("limit 0xff: byte at 0x100: #GP(0)", kVecGp, 0);
  cpu_trap_reset();
  WriteFs(SEL(kIdxLimit), 0x100, 0x11111111);
  cpu_check_fault("limit 0xff: write at 0x100: #GP(0)", kVecGp, 0);
  check_u32("limit 0xff: memory at 0x100 unchanged", probe[0x100], 0x5a);
  /* 4 KiB-granular limit 0: offsets 0..0xfff. */
  cpu_trap_reset();
  ReadFs(SEL(kIdxLimitG), 0xffc);
  cpu_check_no_trap("G = 1, limit 0: dword at 0xffc");
  cpu_trap_reset();
  ReadFsByte(SEL(kIdxLimitG), 0x1000);
  cpu_check_fault("G = 1, limit 0: byte at 0x1000: #GP(0)", kVecGp, 0);
  /* Expand-down, B = 1, limit 0xfff: offsets 0x1000..0xffffffff. */
  cpu_trap_reset();
  ReadFs(SEL(kIdxDown), 0x1000);
  cpu_check_no_trap("expand-down B = 1: dword at 0x1000");
  cpu_trap_reset();
  ReadFsByte(SEL(kIdxDown), 0xfff);
  cpu_check_fault("expand-down B = 1: byte at 0xfff (= limit): #GP(0)", kVecGp, 0);
  cpu_trap_reset();
  ReadFs(SEL(kIdxDown), 0xffe);
  cpu_check_fault("expand-down B = 1: dword at 0xffe: #GP(0)", kVecGp, 0);
  cpu_trap_reset();
  ReadFsByte(SEL(kIdxDown), 0);
  cpu_check_fault("expand-down B = 1: byte at 0: #GP(0)", kVecGp, 0);
  /* Expand-down, B = 0, limit 0x7fff: offsets 0x8000..0xffff. */
  cpu_trap_reset();
  ReadFsWord(SEL(kIdxDown16), 0x8000);
  cpu_check_no_trap("expand-down B = 0: word at 0x8000");
  cpu_trap_reset();
  ReadFsByte(SEL(kIdxDown16), 0x7fff);
  cpu_check_fault("expand-down B = 0: byte at 0x7fff: #GP(0)", kVecGp, 0);
  cpu_trap_reset();
  ReadFsWord(SEL(kIdxDown16), 0xffff);
  cpu_check_fault("expand-down B = 0: word at 0xffff (upper bound 0xffff): #GP(0)", kVecGp, 0);
  cpu_trap_reset();
  ReadFsByte(SEL(kIdxDown16), 0x10000);
  cpu_check_fault("expand-down B = 0: byte at 0x10000: #GP(0)", kVecGp, 0);

  /* Null selectors load, but an access through them faults. */
  cpu_trap_reset();
  ReadFs(0, base);
  cpu_check_fault("null FS: read #GP(0)", kVecGp, 0);
  cpu_trap_reset();
  __asm__ volatile(
      "pushl %%ds\n\t"
      "pushl $0\n\t"
      "popl %%ds\n\t" CPU_TRY("movl (%0), %%eax") "popl %%ds"
      :
      : "r"(base)
      : "eax", "memory");
  cpu_check_fault("null DS: read #GP(0)", kVecGp, 0);
  uint32_t edi = base;
  cpu_trap_reset();
  __asm__ volatile(
      "pushl %%es\n\t"
      "pushl $0\n\t"
      "popl %%es\n\t" CPU_TRY("stosb") "popl %%es"
      : "+D"(edi)
      : "a"(0)
      : "memory");
  cpu_check_fault("null ES: stosb #GP(0)", kVecGp, 0);
  check_u32("null ES: stosb did not advance EDI", edi, base);
  check_u32("null ES: memory unchanged", probe[0], 0x5a);

  /* Types: no writes to read-only data or to code, no reads of
   * execute-only code. */
  cpu_trap_reset();
  WriteFs(SEL(kIdxRo), base, 0x22222222);
  cpu_check_fault("write through a read-only data segment: #GP(0)", kVecGp, 0);
  check_u32("read-only: memory unchanged", probe[0], 0x5a);
  cpu_trap_reset();
  __asm__ volatile(CPU_TRY("movl $0x33333333, %%cs:(%0)") : : "r"(base) : "memory");
  cpu_check_fault("write through CS (execute/read code): #GP(0)", kVecGp, 0);
  check_u32("cs write: memory unchanged", probe[0], 0x5a);
  cpu_trap_reset();
  __asm__ volatile(
      "ljmp $0x78, $1f\n"
      "1:\n\t" CPU_TRY("movl %%cs:(%0), %%eax") "ljmp $0x08, $2f\n"
      "2:"
      :
      : "r"(base)
      : "eax", "memory");
  cpu_check_fault("read through CS of execute-only code: #GP(0)", kVecGp, 0);

  /* Stack segment limit: #SS(0), at CPL 3. */
  cpu_run_at(3, Ring3Stack, 0, 0);
  const char* what[2] = {"push below an expand-down SS limit", "[ebp - 0x900] below the limit"};
  for (uint32_t i = 0; i < 2; i++) {
    check_u32(cpu_cat(what[i], ": one exception"), stack_r[i].count, 1);
    check_u32(cpu_cat(what[i], ": #SS"), stack_r[i].vector, kVecSs);
    check_u32(cpu_cat(what[i], ": error code 0"), stack_r[i].error, 0);
    check_u32(cpu_cat(what[i], ": saved EIP"), stack_r[i].eip, stack_r[i].start);
    check_u32(cpu_cat(what[i], ": saved SS"), stack_r[i].ss, SEL(kIdxStack3) | 3);
  }
}

/* ---- far_transfers ---- */

static uint32_t r3_count, r3_vector, r3_error;

static uint32_t Ring3Ss1NotPresent(uint32_t arg) {
  (void)arg;
  cpu_trap_reset();
  __asm__ volatile(CPU_TRY("lcall $0xa3, $0") : : "r"(0) : "eax", "memory");
  r3_count = cpu_trap_count;
  r3_vector = cpu_last.vector;
  r3_error = cpu_last.error;
  cpu_resume_eip = 0;
  return 0;
}

uint32_t sdm_conf_esp;
static uint32_t Ring3ConfGate(uint32_t arg) {
  (void)arg;
  __asm__ volatile("movl %%esp, sdm_conf_esp\n\tlcall $0xbb, $0" : : : "eax", "memory");
  return cpu_read_cs();
}

static void TestFarTransfers(void) {
  check_section("sdm.far_transfers");
  uint32_t gate = kDescP | kDescCallGate32;
  cpu_gdt[kIdxSmallCode] = cpu_seg_desc(0, 0xfff, kDescP | kDescDb | kDescCodeXr);
  cpu_gdt[kIdxCodeNp] = cpu_seg_desc(0, 0xfffff, kDescDb | kDescG | kDescCodeXr);
  cpu_gdt[kIdxGateNpTarget] =
      cpu_gate_desc(SEL(kIdxCodeNp), (uint32_t)(uintptr_t)sdm_gate_target, gate, 0);
  cpu_gdt[kIdxGateRing1] =
      cpu_gate_desc(kSelRing1Code, (uint32_t)(uintptr_t)sdm_gate_target, gate | kDescDpl(3), 0);
  cpu_gdt[kIdxRing1DataNp] = cpu_seg_desc(0, 0xfffff, kDescDb | kDescG | kDescDataRw | kDescDpl(1));
  cpu_gdt[kIdxConf0] = cpu_seg_desc(0, 0xfffff, kDescFlat | kDescCodeXrc);
  cpu_gdt[kIdxGateConf] =
      cpu_gate_desc(SEL(kIdxConf0), (uint32_t)(uintptr_t)SdmConfTarget, gate | kDescDpl(3), 0);

  uint32_t delta;
  cpu_trap_reset();
  __asm__ volatile(
      "movl %%esp, %%edx\n\t" CPU_TRY("lcall $0x88, $SdmTarget") "movl %%esp, %0\n\t"
      "subl %%edx, %0"
      : "=&r"(delta)
      :
      : "eax", "edx", "memory");
  cpu_check_fault("far call beyond the limit: #GP(0)", kVecGp, 0);
  check_u32("far call beyond the limit: nothing pushed", delta, 0);

  cpu_trap_reset();
  __asm__ volatile(CPU_TRY("ljmp $0x98, $0") : : "r"(0) : "memory");
  cpu_check_fault("jmp through a gate to a not-present segment: #NP(target)", kVecNp, 0x90);

  cpu_tss.ss1 = SEL(kIdxRing1DataNp) | 1;
  cpu_run_at(3, Ring3Ss1NotPresent, 0, 0);
  cpu_tss.ss1 = kSelRing1Data;
  check_u32("call gate to ring 1, SS1 not present: one exception", r3_count, 1);
  check_u32("call gate to ring 1, SS1 not present: #SS", r3_vector, kVecSs);
  check_u32("call gate to ring 1, SS1 not present: error code = SS1", r3_error, 0xa8);

  sdm_cs = sdm_ss = sdm_esp = 0;
  cpu_trap_reset();
  uint32_t cs_after = cpu_run_at(3, Ring3ConfGate, 0, 0);
  cpu_check_no_trap("CPL 3 through a gate to conforming DPL 0");
  check_u32("gate to conforming code: CS = 0xb3 (CPL stays 3)", sdm_cs, SEL(kIdxConf0) | 3);
  check_u32("gate to conforming code: SS unchanged", sdm_ss, kSelUserData);
  check_u32("gate to conforming code: no stack switch", sdm_esp, sdm_conf_esp - 8);
  check_u32("gate to conforming code: back at CPL 3", cs_after, kSelUserCode);
}

/* ---- exceptions ---- */

static uint32_t ac_count, ac_vector, ac_error, ac_eip, ac_start, ac_aligned_count;

static uint32_t Ring3Ac(uint32_t arg) {
  (void)arg;
  static uint32_t buf[2];
  cpu_trap_reset();
  __asm__ volatile("movl 4(%0), %%eax" : : "r"(buf) : "eax", "memory");
  ac_aligned_count = cpu_trap_count;
  cpu_trap_reset();
  __asm__ volatile(CPU_TRY("movl 1(%0), %%eax") : : "r"(buf) : "eax", "memory");
  ac_count = cpu_trap_count;
  ac_vector = cpu_last.vector;
  ac_error = cpu_last.error;
  ac_eip = cpu_last.eip;
  ac_start = cpu_try_start;
  cpu_resume_eip = 0;
  return 0;
}

static uint32_t int1_count, int1_vector, int1_eip;
uint32_t int1_after_label_addr; /* global: the asm names it */
static uint32_t Ring3Int1(uint32_t arg) {
  (void)arg;
  cpu_trap_reset();
  __asm__ volatile(
      "movl $1f, int1_after_label_addr\n\t"
      "movl $1f, cpu_resume_eip\n\t"
      ".byte 0xf1\n"
      "1:"
      :
      :
      : "memory");
  int1_count = cpu_trap_count;
  int1_vector = cpu_last.vector;
  int1_eip = cpu_last.eip;
  return 0;
}

extern uint8_t SdmStepSti[], sdm_sti_at[], sdm_sti_after[], sdm_sti_d[];
__asm__(
    ".text\n"
    ".globl SdmStepSti, sdm_sti_at, sdm_sti_after, sdm_sti_d\n"
    "SdmStepSti:\n"
    "  pushfl\n"
    "  orl $0x100, (%esp)\n"
    "  popfl\n"
    "  nop\n"
    "sdm_sti_at:\n"
    "  sti\n"
    "sdm_sti_after:\n"
    "  cli\n"
    "sdm_sti_d:\n"
    "  nop\n"
    "  ret\n");

static void StopAtStiD(struct cpu_frame* f) {
  if (f->eip == (uint32_t)(uintptr_t)sdm_sti_d || cpu_trap_count >= kCpuLogSize)
    f->eflags &= ~(uint32_t)kFlagTf;
}

static void TestExceptions(void) {
  check_section("sdm.exceptions");
  /* INT1 at CPL 0 and, through a DPL-0 gate, at CPL 3. */
  cpu_trap_reset();
  uint32_t after;
  __asm__ volatile(
      "movl $1f, %0\n\t"
      "movl $1f, cpu_resume_eip\n\t" /* (lets a wrong #UD resume too) */
      ".byte 0xf1\n"
      "1:"
      : "=r"(after)
      :
      : "memory");
  cpu_check_trap("int1 (0xf1) at CPL 0: #DB", kVecDb, 0);
  check_u32("int1: trap, saved EIP after it", cpu_last.eip, after);
  cpu_run_at(3, Ring3Int1, 0, 0);
  check_u32("int1 at CPL 3, IDT[1] DPL 0: one exception", int1_count, 1);
  check_u32("int1 at CPL 3: #DB (no DPL check)", int1_vector, kVecDb);
  check_u32("int1 at CPL 3: saved EIP after it", int1_eip, int1_after_label_addr);

  /* #AC: CPL 3, CR0.AM = 1, EFLAGS.AC = 1. */
  uint32_t cr0 = cpu_read_cr0();
  cpu_write_cr0(cr0 | (1u << 18));
  cpu_run_at(3, Ring3Ac, 0, kFlagAc);
  cpu_write_cr0(cr0);
  check_u32("#AC: aligned access does not fault", ac_aligned_count, 0);
  check_u32("#AC: misaligned dword at CPL 3: one exception", ac_count, 1);
  check_u32("#AC: vector 17", ac_vector, kVecAc);
  check_u32("#AC: error code 0", ac_error, 0);
  check_u32("#AC: fault, saved EIP = the access", ac_eip, ac_start);
  cpu_write_cr0(cr0 | (1u << 18));
  cpu_run_at(3, Ring3Ac, 0, 0);
  cpu_write_cr0(cr0);
  check_u32("#AC: none with EFLAGS.AC = 0", ac_count, 0);

  /* #XM. */
  uint32_t cr4 = cpu_read_cr4();
  cpu_write_cr4(cr4 | 0x200 | 0x400);
  static uint32_t mxcsr = 0x1d80, mxcsr_default = 0x1f80;
  static float one = 1.0f, zero = 0.0f;
  __asm__ volatile(
      "ldmxcsr %0\n\t"
      "movss %1, %%xmm0\n\t"
      "movss %2, %%xmm1"
      :
      : "m"(mxcsr), "m"(one), "m"(zero)
      : "memory");
  cpu_trap_reset();
  __asm__ volatile(CPU_TRY("divss %%xmm1, %%xmm0") : : "r"(0) : "memory");
  cpu_check_fault("divss by 0 unmasked, CR4.OSXMMEXCPT: #XM", kVecXm, 0);
  cpu_write_cr4((cr4 | 0x200) & ~0x400u);
  cpu_trap_reset();
  __asm__ volatile(CPU_TRY("divss %%xmm1, %%xmm0") : : "r"(0) : "memory");
  cpu_check_fault("divss by 0 unmasked, no CR4.OSXMMEXCPT: #UD", kVecUd, 0);
  __asm__ volatile("ldmxcsr %0" : : "m"(mxcsr_default));
  cpu_write_cr4(cr4);

  /* EXT = 1 for an #NP raised while delivering an exception. */
  uint64_t saved = cpu_idt[kVecUd];
  cpu_idt[kVecUd] &= ~((uint64_t)kDescP << 40);
  cpu_trap_reset();
  __asm__ volatile(CPU_TRY("ud2") : : "r"(0) : "memory");
  cpu_idt[kVecUd] = saved;
  cpu_check_fault("#UD with IDT[6] not present: #NP(6*8+2+1)", kVecNp, cpu_idt_error(kVecUd, 1));
  saved = cpu_idt[kVecDb];
  cpu_idt[kVecDb] &= ~((uint64_t)kDescP << 40);
  cpu_trap_reset();
  __asm__ volatile(
      "movl $1f, %%ss:cpu_resume_eip\n\t"
      "pushfl\n\t"
      "orl $0x100, (%%esp)\n\t"
      "popfl\n\t"
      "nop\n"
      "1:\n\t"
      "pushfl\n\t"
      "andl $~0x100, (%%esp)\n\t"
      "popfl"
      :
      :
      : "memory", "cc");
  cpu_idt[kVecDb] = saved;
  cpu_check_trap("single-step #DB with IDT[1] not present: #NP(1*8+2+1)", kVecNp,
                 cpu_idt_error(kVecDb, 1));

  /* TF over STI: the trap right after STI. */
  cpu_set_handler(kVecDb, StopAtStiD);
  cpu_trap_reset();
  ((void (*)(void))SdmStepSti)();
  cpu_set_handler(kVecDb, 0);
  const uint8_t* want[3] = {sdm_sti_at, sdm_sti_after, sdm_sti_d};
  check_u32("TF over sti: 3 traps", cpu_trap_count, 3);
  for (uint32_t i = 0; i < 3 && i < cpu_trap_count; i++)
    check_u32("TF over sti: saved EIP", cpu_log[i].eip, (uint32_t)(uintptr_t)want[i]);
}

/* ---- sysenter ---- */

static uint32_t sys_count, sys_vector, sys_error;
static uint32_t Ring3Sysenter(uint32_t arg) {
  (void)arg;
  cpu_trap_reset();
  __asm__ volatile(CPU_TRY("sysenter") : : "c"(0), "d"(0) : "memory");
  sys_count = cpu_trap_count;
  sys_vector = cpu_last.vector;
  sys_error = cpu_last.error;
  cpu_resume_eip = 0;
  return 0;
}

static void TestSysenter(void) {
  check_section("sdm.sysenter");
  cpu_wrmsr(kMsrSysenterCs, 3);
  cpu_wrmsr(kMsrSysenterEsp, (uint32_t)(uintptr_t)cpu_ring0_stack_top);
  cpu_wrmsr(kMsrSysenterEip, (uint32_t)(uintptr_t)SdmTarget);
  cpu_run_at(3, Ring3Sysenter, 0, 0);
  cpu_wrmsr(kMsrSysenterCs, 0);
  check_u32("sysenter with SYSENTER_CS = 3: one exception", sys_count, 1);
  check_u32("sysenter with SYSENTER_CS = 3: #GP", sys_vector, kVecGp);
  check_u32("sysenter with SYSENTER_CS = 3: error code 0", sys_error, 0);
}

/* ---- control_regs ---- */

static void TestControlRegs(void) {
  check_section("sdm.control_regs");
  uint32_t cr0 = cpu_read_cr0(), cr4 = cpu_read_cr4();
  cpu_trap_reset();
  __asm__ volatile(CPU_TRY("movl %0, %%cr0")
                   :
                   : "r"((cr0 | 0x20000000u) & ~0x40000000u)
                   : "memory");
  cpu_check_fault("mov cr0 with NW = 1, CD = 0: #GP(0)", kVecGp, 0);
  check_u32("cr0 unchanged", cpu_read_cr0(), cr0);
  cpu_trap_reset();
  __asm__ volatile(CPU_TRY("movl %0, %%cr0") : : "r"((cr0 | 0x80000000u) & ~1u) : "memory");
  cpu_check_fault("mov cr0 with PG = 1, PE = 0: #GP(0)", kVecGp, 0);
  check_u32("cr0 unchanged", cpu_read_cr0(), cr0);
  cpu_trap_reset();
  __asm__ volatile(CPU_TRY("movl %0, %%cr4") : : "r"(cr4 | 0x80000000u) : "memory");
  cpu_check_fault("mov cr4 with reserved bit 31: #GP(0)", kVecGp, 0);
  check_u32("cr4 unchanged", cpu_read_cr4(), cr4);
}

void guest_main(uint32_t magic, uint32_t mbi) {
  (void)magic;
  (void)mbi;
  serial_puts("sdm_only: checks where QEMU departs from the Intel SDM\n");
  cpu_init();
  cpu_gdt[kIdxFreshCode] = cpu_seg_desc(0, 0xfffff, kDescFlat | kDescCodeXr);
  cpu_gdt[kIdxFreshCode2] = cpu_seg_desc(0, 0xfffff, kDescFlat | kDescCodeXr);
  TestAccessedCs();
  TestLtrNull();
  TestDataAccess();
  TestFarTransfers();
  TestExceptions();
  TestSysenter();
  TestControlRegs();
  check_finish("sdm_only");
}
