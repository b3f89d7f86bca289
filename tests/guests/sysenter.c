/*
 * sysenter: SYSENTER/SYSEXIT and the SYSENTER MSRs (Intel SDM vol. 2,
 * SYSENTER and SYSEXIT operation sections; vol. 3, 5.8.7 "Performing fast
 * calls to system procedures"; vol. 4, MSRs 174H-176H).
 *
 * SYSENTER: CS = SYSENTER_CS & 0xfffc, SS = CS + 8, flat descriptors
 * loaded without reading the GDT, CPL 0, ESP = SYSENTER_ESP, EIP =
 * SYSENTER_EIP, EFLAGS.IF, VM and RF cleared; nothing is saved.
 * SYSEXIT (CPL 0 only): CS = (SYSENTER_CS + 16) | 3, SS = (SYSENTER_CS +
 * 24) | 3, flat, CPL 3, ESP = ECX, EIP = EDX; EFLAGS unchanged.
 * #GP(0): SYSENTER with SYSENTER_CS[15:2] = 0; SYSEXIT with it 0 or at
 * CPL > 0 (the latter is in `rings`).
 *
 * Sections:
 *   msrs        WRMSR/RDMSR round trips of 174H-176H.
 *   round_trip  CPL 3 -> SYSENTER -> CPL 0 entry (CS, SS, ESP, EFLAGS.IF,
 *               ECX/EDX and DS as the caller left them) -> SYSEXIT -> CPL
 *               3 at EDX with ESP = ECX, IF still 0 (SYSEXIT does not load
 *               EFLAGS); SYSENTER_CS with RPL bits (masked off).
 *   no_gdt      SYSENTER_CS = 0x50, whose GDT entries (and those of 0x60,
 *               0x68) are empty: SYSENTER and SYSEXIT still work and the
 *               selectors read back as 0x50/0x58 and 0x63/0x6b.
 *   faults      SYSENTER with SYSENTER_CS = 0: #GP(0) at the instruction
 *               from CPL 3; SYSEXIT at CPL 0 with SYSENTER_CS = 0: #GP(0).
 *               (SYSENTER_CS = 3 must fault too; QEMU compares the whole
 *               MSR with 0: that check is in `sdm_only`.)
 */
#include "cpu.h"

/* What the CPL-0 entry saw (one slot per entry). */
struct Entry {
  uint32_t cs, ss, esp, eflags, ecx, edx, ds;
};
struct Entry sys_entry[4];
uint32_t sys_count;
/* What CPL 3 saw after SYSEXIT. */
uint32_t sys_user_cs, sys_user_ss, sys_user_esp, sys_user_esp_before, sys_user_eflags;
uint32_t sys_user_cs2, sys_user_ss2;
/* Second entry: put SYSENTER_CS back to this value before SYSEXIT. */
uint32_t sys_restore_cs;
extern uint8_t SysEntry[], sys_stack_top[];

__asm__(
    ".pushsection .bss\n"
    ".p2align 4\n"
    "  .skip 4096\n"
    ".globl sys_stack_top\n"
    "sys_stack_top:\n"
    ".popsection\n"
    ".text\n"
    /* The SYSENTER_EIP target: records into sys_entry[sys_count++] through
     * DS (the caller's flat CPL-3 data selector), optionally rewrites
     * SYSENTER_CS, and SYSEXITs with the caller's ECX/EDX. */
    ".globl SysEntry\n"
    "SysEntry:\n"
    "  pushl %ebx\n"
    "  movl sys_count, %ebx\n"
    "  imull $28, %ebx\n"
    "  addl $sys_entry, %ebx\n"
    "  movl %cs, %eax\n  movl %eax, 0(%ebx)\n"
    "  movl %ss, %eax\n  movl %eax, 4(%ebx)\n"
    "  leal 4(%esp), %eax\n  movl %eax, 8(%ebx)\n"
    "  pushfl\n  popl %eax\n  movl %eax, 12(%ebx)\n"
    "  movl %ecx, 16(%ebx)\n"
    "  movl %edx, 20(%ebx)\n"
    "  movl %ds, %eax\n  movl %eax, 24(%ebx)\n"
    "  incl sys_count\n"
    "  popl %ebx\n"
    "  movl sys_restore_cs, %eax\n"
    "  testl %eax, %eax\n"
    "  jz 1f\n"
    "  pushl %ecx\n"
    "  pushl %edx\n"
    "  movl $0x174, %ecx\n"
    "  xorl %edx, %edx\n"
    "  wrmsr\n"
    "  popl %edx\n"
    "  popl %ecx\n"
    "1:\n"
    "  sysexit\n");

static void SetMsrs(uint32_t cs) {
  cpu_wrmsr(kMsrSysenterCs, cs);
  cpu_wrmsr(kMsrSysenterEsp, (uint32_t)(uintptr_t)sys_stack_top);
  cpu_wrmsr(kMsrSysenterEip, (uint32_t)(uintptr_t)SysEntry);
}

static void TestMsrs(void) {
  check_section("sysenter.msrs");
  cpu_wrmsr(kMsrSysenterCs, 0x1234);
  cpu_wrmsr(kMsrSysenterEsp, 0x89abcdef);
  cpu_wrmsr(kMsrSysenterEip, 0x13579bdf);
  check_u32("SYSENTER_CS round trip", (uint32_t)cpu_rdmsr(kMsrSysenterCs) & 0xffff, 0x1234);
  check_u32("SYSENTER_ESP round trip", (uint32_t)cpu_rdmsr(kMsrSysenterEsp), 0x89abcdef);
  check_u32("SYSENTER_EIP round trip", (uint32_t)cpu_rdmsr(kMsrSysenterEip), 0x13579bdf);
  SetMsrs(kSelKernelCode);
  check_u32("SYSENTER_CS = 0x08", (uint32_t)cpu_rdmsr(kMsrSysenterCs) & 0xffff, 0x08);
}

/* At CPL 3: SYSENTER with ECX = ESP and EDX = the return address. */
static uint32_t Ring3Sysenter(uint32_t arg) {
  (void)arg;
  __asm__ volatile(
      "movl %%esp, sys_user_esp_before\n\t"
      "movl %%esp, %%ecx\n\t"
      "movl $1f, %%edx\n\t"
      "sysenter\n"
      "1:\n\t"
      "movl %%cs, %%eax\n\tmovl %%eax, sys_user_cs\n\t"
      "movl %%ss, %%eax\n\tmovl %%eax, sys_user_ss\n\t"
      "movl %%esp, sys_user_esp\n\t"
      "pushfl\n\tpopl sys_user_eflags"
      :
      :
      : "eax", "ecx", "edx", "memory");
  return 0;
}

static void TestRoundTrip(void) {
  check_section("sysenter.round_trip");
  const uint32_t cs_values[2] = {kSelKernelCode, kSelKernelCode | 3};
  const char* what[2] = {"SYSENTER_CS 0x08", "SYSENTER_CS 0x0b (RPL masked)"};
  for (uint32_t i = 0; i < 2; i++) {
    SetMsrs(cs_values[i]);
    sys_count = 0;
    sys_restore_cs = 0;
    memset(sys_entry, 0, sizeof sys_entry);
    cpu_trap_reset();
    cpu_run_at(3, Ring3Sysenter, 0, kFlagIf);
    check_u32(cpu_cat(what[i], ": no exception"), cpu_trap_count, 0);
    check_u32(cpu_cat(what[i], ": entered once"), sys_count, 1);
    const struct Entry* e = &sys_entry[0];
    check_u32(cpu_cat(what[i], ": entry CS"), e->cs, kSelKernelCode);
    check_u32(cpu_cat(what[i], ": entry SS = CS + 8"), e->ss, kSelKernelData);
    check_u32(cpu_cat(what[i], ": entry ESP = SYSENTER_ESP"), e->esp,
              (uint32_t)(uintptr_t)sys_stack_top);
    check_u32(cpu_cat(what[i], ": entry IF = 0"), e->eflags & kFlagIf, 0);
    check_u32(cpu_cat(what[i], ": entry ECX = caller ESP"), e->ecx, sys_user_esp_before);
    check_u32(cpu_cat(what[i], ": entry DS untouched"), e->ds, kSelUserData);
    check_u32(cpu_cat(what[i], ": back at CS 0x1b"), sys_user_cs, kSelUserCode);
    check_u32(cpu_cat(what[i], ": back with SS 0x23"), sys_user_ss, kSelUserData);
    check_u32(cpu_cat(what[i], ": ESP = ECX"), sys_user_esp, sys_user_esp_before);
    check_u32(cpu_cat(what[i], ": IF stays 0 (SYSEXIT keeps EFLAGS)"), sys_user_eflags & kFlagIf,
              0);
  }
}

/* Two round trips: the first with SYSENTER_CS = 0x50 (empty GDT entries),
 * the second puts 0x08 back before its SYSEXIT. */
static uint32_t Ring3NoGdt(uint32_t arg) {
  (void)arg;
  __asm__ volatile(
      "movl %%esp, %%ecx\n\t"
      "movl $1f, %%edx\n\t"
      "sysenter\n"
      "1:\n\t"
      "movl %%cs, %%eax\n\tmovl %%eax, sys_user_cs2\n\t"
      "movl %%ss, %%eax\n\tmovl %%eax, sys_user_ss2\n\t"
      "movl $0x08, sys_restore_cs\n\t"
      "movl %%esp, %%ecx\n\t"
      "movl $2f, %%edx\n\t"
      "sysenter\n"
      "2:\n\t"
      "movl %%cs, %%eax\n\tmovl %%eax, sys_user_cs\n\t"
      "movl %%ss, %%eax\n\tmovl %%eax, sys_user_ss"
      :
      :
      : "eax", "ecx", "edx", "memory");
  return 0;
}

static void TestNoGdt(void) {
  check_section("sysenter.no_gdt");
  check_u32("GDT entry 10 (0x50) is empty", (uint32_t)(cpu_gdt[10] >> 32), 0);
  SetMsrs(0x50);
  sys_count = 0;
  sys_restore_cs = 0;
  cpu_trap_reset();
  cpu_run_at(3, Ring3NoGdt, 0, 0);
  check_u32("no exception", cpu_trap_count, 0);
  check_u32("entered twice", sys_count, 2);
  check_u32("entry CS = 0x50", sys_entry[0].cs, 0x50);
  check_u32("entry SS = 0x58", sys_entry[0].ss, 0x58);
  check_u32("after SYSEXIT: CS = 0x63", sys_user_cs2, 0x63);
  check_u32("after SYSEXIT: SS = 0x6b", sys_user_ss2, 0x6b);
  check_u32("second entry CS = 0x50", sys_entry[1].cs, 0x50);
  check_u32("after the second SYSEXIT: CS = 0x1b", sys_user_cs, kSelUserCode);
  check_u32("after the second SYSEXIT: SS = 0x23", sys_user_ss, kSelUserData);
  check_u32("SYSENTER_CS is 0x08 again", (uint32_t)cpu_rdmsr(kMsrSysenterCs) & 0xffff, 0x08);
}

static uint32_t fault_count, fault_vector, fault_error, fault_eip, fault_start, fault_cs;

static uint32_t Ring3SysenterNull(uint32_t arg) {
  (void)arg;
  cpu_trap_reset();
  __asm__ volatile(CPU_TRY("sysenter") : : "c"(0), "d"(0) : "memory");
  fault_count = cpu_trap_count;
  fault_vector = cpu_last.vector;
  fault_error = cpu_last.error;
  fault_eip = cpu_last.eip;
  fault_cs = cpu_last.cs;
  fault_start = cpu_try_start;
  cpu_resume_eip = 0;
  return 0;
}

static void TestFaults(void) {
  check_section("sysenter.faults");
  cpu_wrmsr(kMsrSysenterCs, 0);
  cpu_run_at(3, Ring3SysenterNull, 0, 0);
  check_u32("sysenter with SYSENTER_CS = 0: one exception", fault_count, 1);
  check_u32("sysenter with SYSENTER_CS = 0: #GP", fault_vector, kVecGp);
  check_u32("sysenter with SYSENTER_CS = 0: error code 0", fault_error, 0);
  check_u32("sysenter with SYSENTER_CS = 0: saved EIP = sysenter", fault_eip, fault_start);
  check_u32("sysenter with SYSENTER_CS = 0: saved CS", fault_cs, kSelUserCode);
  /* SYSENTER_CS = 3 (bits 15:2 zero, RPL bits set) must raise #GP(0) too;
   * QEMU tests the whole MSR against 0 and enters with CS = 0: checked in
   * `sdm_only`. */
  cpu_wrmsr(kMsrSysenterCs, 0);
  cpu_trap_reset();
  __asm__ volatile(CPU_TRY("sysexit") : : "c"(0), "d"(0) : "memory");
  cpu_check_fault("sysexit at CPL 0 with SYSENTER_CS = 0", kVecGp, 0);
  check_u32("still CPL 0", cpu_read_cs(), kSelKernelCode);
  SetMsrs(kSelKernelCode);
}

void guest_main(uint32_t magic, uint32_t mbi) {
  (void)magic;
  (void)mbi;
  serial_puts("sysenter: SYSENTER/SYSEXIT and the SYSENTER MSRs\n");
  cpu_init();
  TestMsrs();
  TestRoundTrip();
  TestNoGdt();
  TestFaults();
  check_finish("sysenter");
}
