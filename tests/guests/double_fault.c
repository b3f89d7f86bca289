/*
 * double_fault: exceptions raised while the CPU delivers another event
 * (Intel SDM vol. 3, 6.15 "Interrupt 8 - Double Fault Exception (#DF)",
 * table 6-4 exception classes and table 6-5 conditions for a double fault;
 * 6.13 error codes: EXT = bit 0, IDT = bit 1).
 *
 * Benign: #DB, NMI, #BP, #OF, #BR, #UD, #NM, #MF, ...; contributory: #DE,
 * #TS, #NP, #SS, #GP. A contributory exception during the delivery of a
 * contributory one is a #DF with error code 0 (its saved CS:EIP are
 * undefined, so nothing checks them). After a benign one (or a software
 * interrupt) the second exception is delivered as usual; its error code has
 * EXT = 1 when the first event was an exception (external to the program),
 * EXT = 0 when it was INT n / INT3 / INTO.
 *
 * Sections:
 *   contributory_twice  #DF(0) from: #GP with IDT[13] not present (the #NP(0x6b)
 *               becomes #DF); #DE with IDT[0] not present; #NP with IDT[11]
 *               not present; #GP with an IDT limit that excludes vector 13;
 *               #GP whose gate points at a not-present code segment; #GP
 *               at CPL 3 with IDT[13] not present (the #DF handler is
 *               entered on the TSS.esp0 stack).
 *   handled_serially  no #DF: #UD with IDT[6] not present gives #NP(6*8+2+1), a
 *               single-step #DB with IDT[1] not present #NP(1*8+2+1) (QEMU
 *               leaves EXT clear: here only bits 15:1 are checked, EXT is
 *               checked in `sdm_only`), INT3
 *               with IDT[3] not present #NP(3*8+2) (EXT = 0), INT 0x41 with a
 *               not-present gate #NP(0x41*8+2).
 */
#include "cpu.h"

enum { kIdxCodeNp = kGdtFree }; /* 0x40 code, not present */

static uint64_t saved_gate;

static void GateNotPresent(uint32_t vector) {
  saved_gate = cpu_idt[vector];
  cpu_idt[vector] &= ~((uint64_t)kDescP << 40);
}
static void GateRestore(uint32_t vector) {
  cpu_idt[vector] = saved_gate;
}

static void CheckDf(const char* what) {
  cpu_check_trap(what, kVecDf, 0);
  check_u32(cpu_cat(what, ": #DF handler runs with IF = 0"), cpu_last.handler_eflags & kFlagIf, 0);
}

static uint32_t df_frame, df_count;

/* #DF from CPL 3: abandon the CPL-3 run from the handler (the saved CS:EIP
 * of a #DF are undefined). */
static void DfFromUser(struct cpu_frame* f) {
  df_frame = (uint32_t)(uintptr_t)&f->eip;
  df_count++;
  cpu_user_return(0xdf);
}

static uint32_t Ring3Gp(uint32_t arg) {
  (void)arg;
  __asm__ volatile("movw %w0, %%fs" : : "r"(kSelTss) : "memory");
  return 0;
}

static void TestDf(void) {
  check_section("df.contributory_twice");
  GateNotPresent(kVecGp);
  cpu_trap_reset();
  __asm__ volatile(CPU_TRY("movw %w0, %%fs") : : "r"(kSelTss) : "memory");
  GateRestore(kVecGp);
  CheckDf("#GP with IDT[13] not present");

  GateNotPresent(kVecDe);
  cpu_trap_reset();
  uint32_t a = 1, d = 0;
  __asm__ volatile(CPU_TRY("divl %2") : "+a"(a), "+d"(d) : "r"(0) : "cc", "memory");
  GateRestore(kVecDe);
  CheckDf("#DE with IDT[0] not present");

  cpu_gdt[kIdxCodeNp] = cpu_seg_desc(0, 0xfffff, kDescDb | kDescG | kDescCodeXr);
  GateNotPresent(kVecNp);
  cpu_trap_reset();
  __asm__ volatile(CPU_TRY("movw %w0, %%fs") : : "r"(kIdxCodeNp << 3) : "memory");
  GateRestore(kVecNp);
  CheckDf("#NP with IDT[11] not present");

  struct cpu_dtr small = {9 * 8 - 1, (uint32_t)(uintptr_t)cpu_idt};
  struct cpu_dtr full = {256 * 8 - 1, (uint32_t)(uintptr_t)cpu_idt};
  cpu_lidt(&small);
  cpu_trap_reset();
  __asm__ volatile(CPU_TRY("movw %w0, %%fs") : : "r"(kSelTss) : "memory");
  cpu_lidt(&full);
  CheckDf("#GP with the IDT limit at vector 8");

  saved_gate = cpu_idt[kVecGp];
  cpu_idt[kVecGp] = cpu_gate_desc(kIdxCodeNp << 3, cpu_stub(kVecGp), kDescP | kDescIntGate32, 0);
  cpu_trap_reset();
  __asm__ volatile(CPU_TRY("movw %w0, %%fs") : : "r"(kSelTss) : "memory");
  GateRestore(kVecGp);
  CheckDf("#GP whose gate targets a not-present code segment");

  /* From CPL 3: the #DF is delivered on the TSS.esp0 stack. */
  GateNotPresent(kVecGp);
  cpu_set_handler(kVecDf, DfFromUser);
  df_count = 0;
  cpu_trap_reset();
  uint32_t r = cpu_run_at(3, Ring3Gp, 0, 0);
  cpu_set_handler(kVecDf, 0);
  GateRestore(kVecGp);
  check_u32("#GP at CPL 3 with IDT[13] not present: #DF handler reached", df_count, 1);
  check_u32("#GP at CPL 3: the run was abandoned from the #DF handler", r, 0xdf);
  check_u32("#GP at CPL 3: one event", cpu_trap_count, 1);
  check_u32("#GP at CPL 3: vector 8", cpu_last.vector, kVecDf);
  check_u32("#GP at CPL 3: error code 0", cpu_last.error, 0);
  check_u32("#GP at CPL 3: #DF frame on the TSS.esp0 stack (SS:ESP pushed)", df_frame,
            (uint32_t)(uintptr_t)cpu_ring0_stack_top - 20);
}

/* One #NP for a not-present IDT[vector] reached while delivering an
 * exception: checks the vector and error code bits 15:1 (index, IDT = 1);
 * fault: the saved EIP is the first instruction of the CPU_TRY. */
static void CheckNpNoExt(const char* what, uint32_t vector, int fault) {
  check_u32(cpu_cat(what, ": one exception"), cpu_trap_count, 1);
  check_u32(cpu_cat(what, ": vector"), cpu_last.vector, kVecNp);
  check_u32(cpu_cat(what, ": error code bits 15:1"), cpu_last.error & ~1u,
            cpu_idt_error(vector, 0));
  if (fault) check_u32(cpu_cat(what, ": saved EIP (fault)"), cpu_last.eip, cpu_try_start);
  cpu_resume_eip = 0;
}

static void TestSerial(void) {
  check_section("df.handled_serially");
  GateNotPresent(kVecUd);
  cpu_trap_reset();
  __asm__ volatile(CPU_TRY("ud2") : : "r"(0) : "memory");
  GateRestore(kVecUd);
  /* The SDM sets EXT (bit 0) here; QEMU leaves it clear, so this guest
   * checks bits 15:1 and `sdm_only` checks EXT. */
  CheckNpNoExt("#UD with IDT[6] not present: #NP(6*8+2+EXT)", kVecUd, 1);

  GateNotPresent(kVecDb);
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
  GateRestore(kVecDb);
  CheckNpNoExt("single-step #DB with IDT[1] not present: #NP(1*8+2+EXT)", kVecDb, 0);

  GateNotPresent(kVecBp);
  cpu_trap_reset();
  __asm__ volatile(CPU_TRY("int3") : : "r"(0) : "memory");
  GateRestore(kVecBp);
  cpu_check_fault("int3 with IDT[3] not present: #NP(3*8+2), EXT = 0", kVecNp,
                  cpu_idt_error(kVecBp, 0));

  GateNotPresent(0x41);
  cpu_trap_reset();
  __asm__ volatile(CPU_TRY("int $0x41") : : "r"(0) : "memory");
  GateRestore(0x41);
  cpu_check_fault("int $0x41 with IDT[0x41] not present: #NP(0x41*8+2)", kVecNp,
                  cpu_idt_error(0x41, 0));

  /* INTO with OF = 1 and IDT[4] not present: a software interrupt, EXT = 0. */
  GateNotPresent(kVecOf);
  cpu_trap_reset();
  __asm__ volatile(
      "movl $0x7fffffff, %%eax\n\t"
      "addl $1, %%eax\n\t" CPU_TRY("into")
      :
      :
      : "eax", "cc", "memory");
  GateRestore(kVecOf);
  cpu_check_fault("into with IDT[4] not present: #NP(4*8+2), EXT = 0", kVecNp,
                  cpu_idt_error(kVecOf, 0));
}

void guest_main(uint32_t magic, uint32_t mbi) {
  (void)magic;
  (void)mbi;
  serial_puts("double_fault: exceptions during exception delivery\n");
  cpu_init();
  TestDf();
  TestSerial();
  check_finish("double_fault");
}
