/*
 * segments: loading segment registers and addressing through segments
 * (Intel SDM vol. 2: MOV, POP, PUSH, LDS/LES/LFS/LGS/LSS; vol. 3: 3.4
 * segment selectors and descriptors, 5.5-5.7 privilege checks on data and
 * stack segment loads, 6.13 error codes).
 *
 * Sections:
 *   mov_data    MOV to DS/ES/FS/GS at CPL 0: null selectors (any RPL) load;
 *               #GP(sel) for an index beyond the GDT limit, a system
 *               descriptor, execute-only code, DPL < RPL on data and
 *               non-conforming code, a TI = 1 selector with a null LDTR;
 *               #NP(sel) for a not-present segment, checked after the
 *               privilege checks; conforming readable code loads with any
 *               RPL. Error codes drop the RPL (selector & 0xfffc). A
 *               failed load leaves the register unchanged.
 *   mov_ss      MOV SS: #GP(0) for null; #GP(sel) when RPL != CPL, DPL !=
 *               CPL, not writable data; #SS(sel) when not present.
 *   mov_forms   MOV r32, Sreg zero-extends (P6 and later); MOV m16, Sreg
 *               stores 2 bytes; MOV to CS and to/from Sreg encodings 6
 *               and 7 are #UD.
 *   pop_push    POP DS/ES/FS/GS/SS: ESP += 4 on success; on a fault ESP is
 *               unchanged (saved ESP points at the selector). PUSH Sreg: 4
 *               bytes (low word = selector; the upper word is not
 *               specified), PUSHW/POPW: 2 bytes.
 *   far_ptrs    LDS/LES/LFS/LGS/LSS (32- and 16-bit offsets): both parts
 *               load; a bad selector faults with neither changed.
 *   accessed    a data segment load sets the descriptor's accessed bit.
 *   bases       addressing through segments with non-zero bases: FS base
 *               0x1000 (read and write), base 0x123, GS base 0xfff00000
 *               (the linear address wraps at 4 GiB), ES base with
 *               REP STOSB, SS base (PUSH and EBP-based addressing), CS base
 *               0x1000 (EIP, CALL's return address and the saved EIP of a
 *               fault are offsets, not linear addresses), expand-down data
 *               segments with B = 1 and B = 0 (accesses above the limit;
 *               the accesses below it fault only in `sdm_only`, since QEMU
 *               ignores data segment limits).
 *   code16      a 16-bit code segment entered by a 32-bit far call: 16-bit
 *               ALU keeping bits 16-31, a 0x66-prefixed MOV, a near
 *               CALL/RET that pushes 2 bytes on the 32-bit stack (stack
 *               width from SS.B), MOV r16, CS, return with RETF 0x66; entry
 *               by a 32-bit far RET and exit by a 0x66 far JMP; #UD inside
 *               saves the 16-bit offset.
 *   ring3       MOV/POP DS and SS at CPL 3: DPL < CPL data and
 *               non-conforming code #GP(sel), conforming code of DPL 0
 *               loads, SS must have RPL = DPL = 3.
 */
#include "cpu.h"

enum {
  kIdxDataDpl0 = kGdtFree, /* 0x40 flat RW DPL 0 */
  kIdxDataDpl3,            /* 0x48 flat RW DPL 3 */
  kIdxDataRo,              /* 0x50 flat RO DPL 0 */
  kIdxCodeX,               /* 0x58 execute-only DPL 0 */
  kIdxCodeXr,              /* 0x60 execute/read DPL 0 */
  kIdxNp,                  /* 0x68 RW DPL 0, not present */
  kIdxBase1000,            /* 0x70 RW, base 0x1000 */
  kIdxDown,                /* 0x78 RW expand-down, B = 1, limit 0xfff */
  kIdxCode16,              /* 0x80 16-bit code, base seg_code16_start */
  kIdxDataDpl1,            /* 0x88 flat RW DPL 1 */
  kIdxConf3,               /* 0x90 conforming XR DPL 3 */
  kIdxWrap,                /* 0x98 RW base 0xfff00000 */
  kIdxNpDpl3,              /* 0xa0 RW DPL 3, not present */
  kIdxCodeBase,            /* 0xa8 32-bit code XR, base 0x1000 */
  kIdxFresh,               /* 0xb0 RW, accessed bit clear */
  kIdxDown16,              /* 0xb8 RW expand-down, B = 0, limit 0x7fff */
  kIdxConf0,               /* 0xc0 conforming XR DPL 0 */
  kIdxBase123,             /* 0xc8 RW base 0x123 */
};
#define SEL(idx) ((idx) << 3)

#define kOk 0xffffffffu /* "no exception" in the case tables */

struct SegCase {
  const char* what;
  uint32_t sel, vector, error;
};
struct SegResult {
  uint32_t count, vector, error, after;
};

extern uint8_t seg_code16_start[], seg16_sub[], seg16_ud[], seg16_after_ud[], seg16_jmp_entry[];
extern uint8_t seg_cs_in[], seg_cs_ret[], seg_cs_ud[], seg_cs_after_ud[];
void SegCode16Call(uint32_t out[6]);
void SegCode16Ud(void);
uint32_t SegCode16Jmp(void);
void SegCsBase(uint32_t out[4]);

__asm__(
    ".text\n"
    /* The 16-bit code segment (GDT 0x80, base = seg_code16_start). */
    ".p2align 4\n"
    ".globl seg_code16_start, seg16_sub, seg16_ud, seg16_after_ud, seg16_jmp_entry\n"
    "seg_code16_start:\n"
    ".code16\n"
    "  movw $0x1234, %ax\n"
    "  addw %bx, %ax\n"
    "  movl $0xdeadbeef, %ecx\n"
    "  movl %esp, %esi\n"
    "  call seg16_sub\n"
    "  movw %cs, %di\n"
    "  lretl\n"
    "seg16_sub:\n"
    "  movl %esp, %edx\n"
    "  ret\n"
    "seg16_ud:\n"
    "  ud2\n"
    "seg16_after_ud:\n"
    "  lretl\n"
    "seg16_jmp_entry:\n"
    "  movw $0x4321, %ax\n"
    "  ljmpl $0x08, $seg16_back32\n"
    ".code32\n"

    /* void SegCode16Call(out): far call into the 16-bit segment.
     * out: eax, ecx, esi (ESP at entry), edx (ESP in the near callee),
     * edi (CS read there), ESP before the call. */
    ".globl SegCode16Call\n"
    "SegCode16Call:\n"
    "  pushl %ebx\n"
    "  pushl %esi\n"
    "  pushl %edi\n"
    "  pushl %ebp\n"
    "  movl 20(%esp), %ebp\n"
    "  movl $0xffff0000, %eax\n"
    "  movl $0x1111, %ebx\n"
    "  movl $0xffffffff, %edi\n"
    "  movl %esp, 20(%ebp)\n"
    "  lcall $0x80, $0\n"
    "  movl %eax, 0(%ebp)\n"
    "  movl %ecx, 4(%ebp)\n"
    "  movl %esi, 8(%ebp)\n"
    "  movl %edx, 12(%ebp)\n"
    "  movl %edi, 16(%ebp)\n"
    "  popl %ebp\n"
    "  popl %edi\n"
    "  popl %esi\n"
    "  popl %ebx\n"
    "  ret\n"

    /* void SegCode16Ud(void): far call to seg16_ud (#UD, resumed at the
     * offset of seg16_after_ud). */
    ".globl SegCode16Ud\n"
    "SegCode16Ud:\n"
    "  movl $seg16_after_ud - seg_code16_start, cpu_resume_eip\n"
    "  lcall $0x80, $seg16_ud - seg_code16_start\n"
    "  ret\n"

    /* uint32_t SegCode16Jmp(void): enters the 16-bit segment by a 32-bit far
     * return, comes back by a 0x66 far jump; returns EAX. */
    ".globl SegCode16Jmp\n"
    "SegCode16Jmp:\n"
    "  movl $0xabcd0000, %eax\n"
    "  pushl $0x80\n"
    "  pushl $seg16_jmp_entry - seg_code16_start\n"
    "  lretl\n"
    "seg16_back32:\n"
    "  ret\n"

    /* void SegCsBase(out): runs in the code segment 0xa8 (base 0x1000).
     * out: EIP seen by call/pop, CS, ESP delta of the call (4). */
    ".globl SegCsBase, seg_cs_in, seg_cs_ret, seg_cs_ud, seg_cs_after_ud\n"
    "SegCsBase:\n"
    "  movl 4(%esp), %ecx\n"
    "  ljmp $0xa8, $seg_cs_in - 0x1000\n"
    "seg_cs_in:\n"
    "  call 1f\n"
    "seg_cs_ret:\n"
    "1:\n"
    "  popl %eax\n"
    "  movl %eax, 0(%ecx)\n"
    "  movl %cs, %eax\n"
    "  movl %eax, 4(%ecx)\n"
    "  movl $2f - 0x1000, %eax\n"
    "  jmp *%eax\n"
    "  ud2\n"
    "2:\n"
    "  movl $1, 8(%ecx)\n"
    "  movl $seg_cs_after_ud - 0x1000, cpu_resume_eip\n"
    "seg_cs_ud:\n"
    "  ud2\n"
    "seg_cs_after_ud:\n"
    "  ljmp $0x08, $3f\n"
    "3:\n"
    "  ret\n");

static void SetupGdt(void) {
  cpu_gdt[kIdxDataDpl0] = cpu_seg_desc(0, 0xfffff, kDescFlat | kDescDataRw);
  cpu_gdt[kIdxDataDpl3] = cpu_seg_desc(0, 0xfffff, kDescFlat | kDescDataRw | kDescDpl(3));
  cpu_gdt[kIdxDataRo] = cpu_seg_desc(0, 0xfffff, kDescFlat | kDescDataRo);
  cpu_gdt[kIdxCodeX] = cpu_seg_desc(0, 0xfffff, kDescFlat | kDescCodeX);
  cpu_gdt[kIdxCodeXr] = cpu_seg_desc(0, 0xfffff, kDescFlat | kDescCodeXr);
  cpu_gdt[kIdxNp] = cpu_seg_desc(0, 0xfffff, kDescDb | kDescG | kDescDataRw);
  cpu_gdt[kIdxBase1000] = cpu_seg_desc(0x1000, 0xfffff, kDescFlat | kDescDataRw);
  cpu_gdt[kIdxCode16] =
      cpu_seg_desc((uint32_t)(uintptr_t)seg_code16_start, 0xffff, kDescP | kDescCodeXr);
  cpu_gdt[kIdxDataDpl1] = cpu_seg_desc(0, 0xfffff, kDescFlat | kDescDataRw | kDescDpl(1));
  cpu_gdt[kIdxConf3] = cpu_seg_desc(0, 0xfffff, kDescFlat | kDescCodeXrc | kDescDpl(3));
  cpu_gdt[kIdxWrap] = cpu_seg_desc(0xfff00000, 0xfffff, kDescFlat | kDescDataRw);
  cpu_gdt[kIdxNpDpl3] = cpu_seg_desc(0, 0xfffff, kDescDb | kDescG | kDescDataRw | kDescDpl(3));
  cpu_gdt[kIdxCodeBase] = cpu_seg_desc(0x1000, 0xfffff, kDescFlat | kDescCodeXr);
  cpu_gdt[kIdxFresh] = cpu_seg_desc(0, 0xfffff, kDescFlat | kDescDataRw);
  cpu_gdt[kIdxConf0] = cpu_seg_desc(0, 0xfffff, kDescFlat | kDescCodeXrc);
  cpu_gdt[kIdxBase123] = cpu_seg_desc(0x123, 0xfffff, kDescFlat | kDescDataRw);
}

/* TryMov_<reg>(sel): MOV sel to reg inside CPU_TRY; returns the register's
 * value right after (then puts the old value back). */
#define DEFINE_TRY_MOV(reg)                                                                     \
  static uint32_t TryMov_##reg(uint32_t sel) {                                                  \
    uint32_t after, saved;                                                                      \
    __asm__ volatile("movl %%" #reg ", %1\n\t" CPU_TRY("movw %w2, %%" #reg) "movl %%" #reg      \
                                                                            ", %0\n\t"          \
                                                                            "movw %w1, %%" #reg \
                     : "=&r"(after), "=&r"(saved)                                               \
                     : "r"(sel)                                                                 \
                     : "memory");                                                               \
    return after;                                                                               \
  }
DEFINE_TRY_MOV(ds)
DEFINE_TRY_MOV(es)
DEFINE_TRY_MOV(fs)
DEFINE_TRY_MOV(gs)
DEFINE_TRY_MOV(ss)

/* TryPop_<reg>(sel, out): POP reg of sel inside CPU_TRY. out[0] = the
 * register after, out[1] = ESP after - ESP before the PUSH of sel (0: the
 * POP completed, -4: it did not), out[2] = ESP right before the POP. */
#define DEFINE_TRY_POP(reg)                                                           \
  static void TryPop_##reg(uint32_t sel, uint32_t out[3]) {                           \
    uint32_t after, delta, before;                                                    \
    __asm__ volatile("movl %%" #reg ", %%eax\n\t"                                   \
                     "pushl %%eax\n\t"                                              \
                     "movl %%esp, %%edx\n\t"                                        \
                     "pushl %3\n\t" CPU_TRY("popl %%" #reg) "movl %%esp, %%ecx\n\t" \
                     "movl %%edx, %%esp\n\t"                                        \
                     "movl %%" #reg ", %0\n\t"                                      \
                     "popl %%eax\n\t"                                               \
                     "movl %%eax, %%" #reg "\n\t"                                   \
                     "subl %%edx, %%ecx"                                            \
                     : "=&S"(after), "=&c"(delta), "=&d"(before)                    \
                     : "D"(sel)                                                     \
                     : "eax", "memory"); \
    out[0] = after;                                                                   \
    out[1] = delta;                                                                   \
    out[2] = before - 4;                                                              \
  }
DEFINE_TRY_POP(ds)
DEFINE_TRY_POP(es)
DEFINE_TRY_POP(fs)
DEFINE_TRY_POP(gs)
DEFINE_TRY_POP(ss)

typedef uint32_t (*TryMovFn)(uint32_t);

static void RunCases(const struct SegCase* c, uint32_t n, TryMovFn fn, struct SegResult* r) {
  for (uint32_t i = 0; i < n; i++) {
    cpu_trap_reset();
    r[i].after = fn(c[i].sel);
    r[i].count = cpu_trap_count;
    r[i].vector = cpu_last.vector;
    r[i].error = cpu_last.error;
    cpu_resume_eip = 0;
  }
}

/* Checks the results of RunCases; `before` is the register's value before
 * each case (a fault must leave it). */
static void VerifyCases(const char* reg, const struct SegCase* c, uint32_t n,
                        const struct SegResult* r, uint32_t before) {
  static char name[96];
  for (uint32_t i = 0; i < n; i++) {
    const char* w = cpu_cat(reg, c[i].what);
    uint32_t k = 0;
    while (w[k] && k < sizeof name - 1) {
      name[k] = w[k];
      k++;
    }
    name[k] = 0;
    if (c[i].vector == kOk) {
      check_u32(cpu_cat(name, ": no exception"), r[i].count, 0);
      check_u32(cpu_cat(name, ": register loaded"), r[i].after, c[i].sel);
    } else {
      check_u32(cpu_cat(name, ": one exception"), r[i].count, 1);
      check_u32(cpu_cat(name, ": vector"), r[i].vector, c[i].vector);
      check_u32(cpu_cat(name, ": error code"), r[i].error, c[i].error);
      check_u32(cpu_cat(name, ": register unchanged"), r[i].after, before);
    }
  }
}

static const struct SegCase kDataCases[] = {
    {" null 0x0000", 0x0000, kOk, 0},
    {" null 0x0003", 0x0003, kOk, 0},
    {" flat data DPL 0", 0x40, kOk, 0},
    {" data DPL 3, RPL 3", 0x4b, kOk, 0},
    {" data DPL 1, RPL 1", 0x89, kOk, 0},
    {" data DPL 0, RPL 3: #GP(sel)", 0x43, kVecGp, 0x40},
    {" data DPL 1, RPL 2: #GP(sel)", 0x8a, kVecGp, 0x88},
    {" read-only data", 0x50, kOk, 0},
    {" execute-only code: #GP(sel)", 0x58, kVecGp, 0x58},
    {" execute/read code", 0x60, kOk, 0},
    {" execute/read code DPL 0, RPL 3: #GP(sel)", 0x63, kVecGp, 0x60},
    {" conforming code DPL 3", 0x90, kOk, 0},
    {" conforming code DPL 0, RPL 3", 0xc3, kOk, 0},
    {" not present: #NP(sel)", 0x68, kVecNp, 0x68},
    {" not present, RPL 3 > DPL 0: #GP(sel) first", 0x6b, kVecGp, 0x68},
    {" not present DPL 3, RPL 3: #NP(sel)", 0xa3, kVecNp, 0xa0},
    {" TSS: #GP(sel)", 0x28, kVecGp, 0x28},
    {" beyond the GDT limit: #GP(sel)", 0x100, kVecGp, 0x100},
    {" 0xfffb: #GP(0xfff8)", 0xfffb, kVecGp, 0xfff8},
    {" TI = 1 with a null LDTR: #GP(sel)", 0x0f, kVecGp, 0x0c},
};
#define kNumDataCases (sizeof kDataCases / sizeof kDataCases[0])

static const struct SegCase kSsCases[] = {
    {" null 0x0000: #GP(0)", 0x0000, kVecGp, 0},
    {" null 0x0003: #GP(0)", 0x0003, kVecGp, 0},
    {" flat data DPL 0", 0x40, kOk, 0},
    {" RPL 3 != CPL: #GP(sel)", 0x43, kVecGp, 0x40},
    {" DPL 3 != CPL (RPL 0): #GP(sel)", 0x48, kVecGp, 0x48},
    {" DPL 3, RPL 3 at CPL 0: #GP(sel)", 0x4b, kVecGp, 0x48},
    {" DPL 1: #GP(sel)", 0x88, kVecGp, 0x88},
    {" read-only data: #GP(sel)", 0x50, kVecGp, 0x50},
    {" execute/read code: #GP(sel)", 0x60, kVecGp, 0x60},
    {" not present: #SS(sel)", 0x68, kVecSs, 0x68},
    {" not present DPL 3: #GP(sel) first", 0xa0, kVecGp, 0xa0},
    {" TSS: #GP(sel)", 0x28, kVecGp, 0x28},
    {" beyond the GDT limit: #GP(sel)", 0x100, kVecGp, 0x100},
};
#define kNumSsCases (sizeof kSsCases / sizeof kSsCases[0])

static void TestMovData(void) {
  check_section("segments.mov_data");
  static struct SegResult r[kNumDataCases];
  const struct {
    const char* name;
    TryMovFn fn;
  } regs[] = {{"mov ds,", TryMov_ds},
              {"mov es,", TryMov_es},
              {"mov fs,", TryMov_fs},
              {"mov gs,", TryMov_gs}};
  for (uint32_t i = 0; i < 4; i++) {
    RunCases(kDataCases, kNumDataCases, regs[i].fn, r);
    VerifyCases(regs[i].name, kDataCases, kNumDataCases, r, kSelKernelData);
  }
  /* The 32-bit form (no 0x66) loads the same 16 bits. */
  uint32_t v;
  __asm__ volatile(
      "movl $0xffff0040, %%eax\n\t"
      "movl %%eax, %%fs\n\t"
      "movl %%fs, %0\n\t"
      "movl $0x10, %%eax\n\t"
      "movl %%eax, %%fs"
      : "=r"(v)
      :
      : "eax", "memory");
  check_u32("mov fs, eax (0xffff0040) loads 0x40", v, 0x40);
}

static void TestMovSs(void) {
  check_section("segments.mov_ss");
  static struct SegResult r[kNumSsCases];
  RunCases(kSsCases, kNumSsCases, TryMov_ss, r);
  VerifyCases("mov ss,", kSsCases, kNumSsCases, r, kSelKernelData);
}

static void TestMovForms(void) {
  check_section("segments.mov_forms");
  uint32_t v = 0xffffffff;
  __asm__ volatile("movl %%ds, %0" : "+r"(v));
  check_u32("mov r32, ds zero-extends", v, kSelKernelData);
  v = 0xffffffff;
  __asm__ volatile("movl %%cs, %0" : "+r"(v));
  check_u32("mov r32, cs", v, kSelKernelCode);
  static uint16_t mem[2] = {0x5555, 0x5555};
  __asm__ volatile("movw %%ss, %0" : "=m"(mem[0]) : : "memory");
  check_u32("mov m16, ss stores 2 bytes", mem[0] | ((uint32_t)mem[1] << 16), 0x55550010);
  /* An operand-size prefix does not change a store of a segment register. */
  mem[0] = mem[1] = 0x6666;
  __asm__ volatile(".byte 0x66\n\tmovw %%fs, %0" : "=m"(mem[0]) : : "memory");
  check_u32("0x66 mov m16, fs stores 2 bytes", mem[0] | ((uint32_t)mem[1] << 16), 0x66660010);

  cpu_trap_reset();
  __asm__ volatile(CPU_TRY(".byte 0x8e, 0xc8 /* mov cs, ax */") : : "a"(0x08) : "memory");
  cpu_check_fault("mov cs, ax: #UD", kVecUd, 0);
  cpu_trap_reset();
  __asm__ volatile(CPU_TRY(".byte 0x8e, 0xf0 /* mov sreg6, ax */") : : "a"(0x10) : "memory");
  cpu_check_fault("mov to Sreg 6: #UD", kVecUd, 0);
  cpu_trap_reset();
  __asm__ volatile(CPU_TRY(".byte 0x8c, 0xf8 /* mov ax, sreg7 */") : : : "eax", "memory");
  cpu_check_fault("mov from Sreg 7: #UD", kVecUd, 0);
}

static void TestPopPush(void) {
  check_section("segments.pop_push");
  const struct {
    const char* name;
    void (*fn)(uint32_t, uint32_t*);
    uint32_t bad, vector, error;
  } regs[] = {
      {"pop ds", TryPop_ds, 0x58, kVecGp, 0x58}, {"pop es", TryPop_es, 0x68, kVecNp, 0x68},
      {"pop fs", TryPop_fs, 0x43, kVecGp, 0x40}, {"pop gs", TryPop_gs, 0x28, kVecGp, 0x28},
      {"pop ss", TryPop_ss, 0x68, kVecSs, 0x68},
  };
  for (uint32_t i = 0; i < 5; i++) {
    uint32_t out[3];
    cpu_trap_reset();
    regs[i].fn(0x40, out);
    cpu_check_no_trap(cpu_cat(regs[i].name, " 0x40"));
    check_u32(cpu_cat(regs[i].name, " 0x40: loaded"), out[0], 0x40);
    check_u32(cpu_cat(regs[i].name, " 0x40: ESP + 4"), out[1], 0);
    cpu_trap_reset();
    regs[i].fn(regs[i].bad, out);
    cpu_check_fault(cpu_cat(regs[i].name, " bad"), regs[i].vector, regs[i].error);
    check_u32(cpu_cat(regs[i].name, " bad: register unchanged"), out[0], kSelKernelData);
    check_u32(cpu_cat(regs[i].name, " bad: ESP unchanged"), out[1], (uint32_t)-4);
    check_u32(cpu_cat(regs[i].name, " bad: saved ESP points at the selector"), cpu_last.esp,
              out[2]);
  }
  /* PUSH: 32-bit pushes 4 bytes, low word = selector; 16-bit pushes 2. */
  /* The image, lowest address first: gs fs es ds ss cs. */
  static uint32_t img[6];
  uint32_t bytes, d16, v16, above;
  __asm__ volatile(
      "movl %%esp, %%edx\n\t"
      "pushl %%cs\n\tpushl %%ss\n\tpushl %%ds\n\tpushl %%es\n\tpushl %%fs\n\tpushl %%gs\n\t"
      "movl %%edx, %%eax\n\tsubl %%esp, %%eax\n\t"
      "popl 0(%1)\n\tpopl 4(%1)\n\tpopl 8(%1)\n\tpopl 12(%1)\n\tpopl 16(%1)\n\tpopl 20(%1)\n\t"
      "movl %%edx, %%esp"
      : "=&a"(bytes)
      : "r"(img)
      : "edx", "memory");
  check_u32("6 x push Sreg: 24 bytes", bytes, 24);
  check_u32("push cs", img[5] & 0xffff, kSelKernelCode);
  check_u32("push ss", img[4] & 0xffff, kSelKernelData);
  check_u32("push ds", img[3] & 0xffff, kSelKernelData);
  check_u32("push gs", img[0] & 0xffff, kSelKernelData);
  __asm__ volatile(
      "movl %%esp, %%edx\n\t"
      "pushl $0x77777777\n\t"
      "pushw %%fs\n\t"
      "movl %%edx, %%ecx\n\tsubl %%esp, %%ecx\n\t"
      "movzwl (%%esp), %1\n\t"
      "movzwl 2(%%esp), %2\n\t"
      "movl %%edx, %%esp"
      : "=&c"(d16), "=&r"(v16), "=&r"(above)
      :
      : "edx", "memory");
  check_u32("pushw fs: 6 bytes with the pushl before", d16, 6);
  check_u32("pushw fs: the word", v16, kSelKernelData);
  check_u32("pushw fs: the word above untouched", above, 0x7777);
  uint32_t popw_delta, fs_after;
  __asm__ volatile(
      "movl %%esp, %%edx\n\t"
      "pushw $0x40\n\t"
      "popw %%fs\n\t"
      "movl %%esp, %0\n\tsubl %%edx, %0\n\t"
      "movl %%fs, %1\n\t"
      "movl $0x10, %%edx\n\tmovl %%edx, %%fs"
      : "=&r"(popw_delta), "=&r"(fs_after)
      :
      : "edx", "memory");
  check_u32("pushw imm/popw fs: ESP back", popw_delta, 0);
  check_u32("popw fs loaded", fs_after, 0x40);
}

/* A far pointer in memory: offset then selector (global: the asm names it). */
struct __attribute__((packed)) {
  uint32_t offset;
  uint16_t sel;
} fp32;
static struct __attribute__((packed)) {
  uint16_t offset;
  uint16_t sel;
} fp16;

#define DEFINE_TRY_LOAD_FAR(insn, reg)                                                     \
  static uint32_t TryLoadFar_##insn(uint32_t* seg_after) {                                 \
    uint32_t r = 0xaaaaaaaa, seg, saved;                                                   \
    __asm__ volatile("movl %%" #reg ", %2\n\t" CPU_TRY(#insn " %3, %0") "movl %%" #reg     \
                                                                        ", %1\n\t"         \
                                                                        "movl %2, %%" #reg \
                     : "+r"(r), "=&r"(seg), "=&r"(saved)                                   \
                     : "m"(fp32)                                                           \
                     : "memory");                                                          \
    *seg_after = seg;                                                                      \
    return r;                                                                              \
  }
DEFINE_TRY_LOAD_FAR(ldsl, ds)
DEFINE_TRY_LOAD_FAR(lesl, es)
DEFINE_TRY_LOAD_FAR(lfsl, fs)
DEFINE_TRY_LOAD_FAR(lgsl, gs)

static void TestFarPointers(void) {
  check_section("segments.far_ptrs");
  const struct {
    const char* name;
    uint32_t (*fn)(uint32_t*);
  } insns[] = {{"lds", TryLoadFar_ldsl},
               {"les", TryLoadFar_lesl},
               {"lfs", TryLoadFar_lfsl},
               {"lgs", TryLoadFar_lgsl}};
  for (uint32_t i = 0; i < 4; i++) {
    uint32_t seg, r;
    fp32.offset = 0x12345678;
    fp32.sel = 0x48 | 3;
    cpu_trap_reset();
    r = insns[i].fn(&seg);
    cpu_check_no_trap(cpu_cat(insns[i].name, " 0x4b:0x12345678"));
    check_u32(cpu_cat(insns[i].name, ": offset"), r, 0x12345678);
    check_u32(cpu_cat(insns[i].name, ": selector"), seg, 0x4b);
    fp32.sel = 0x68;
    cpu_trap_reset();
    r = insns[i].fn(&seg);
    cpu_check_fault(cpu_cat(insns[i].name, " not present: #NP(sel)"), kVecNp, 0x68);
    check_u32(cpu_cat(insns[i].name, " not present: register unchanged"), r, 0xaaaaaaaa);
    check_u32(cpu_cat(insns[i].name, " not present: Sreg unchanged"), seg, kSelKernelData);
    fp32.sel = 0;
    cpu_trap_reset();
    r = insns[i].fn(&seg);
    cpu_check_no_trap(cpu_cat(insns[i].name, " null selector"));
    check_u32(cpu_cat(insns[i].name, " null: selector"), seg, 0);
  }
  /* 16-bit offset: only the low word of the register. */
  fp16.offset = 0xbeef;
  fp16.sel = 0x40;
  uint32_t r = 0x11110000, seg;
  __asm__ volatile(
      "lfsw %2, %w0\n\t"
      "movl %%fs, %1\n\t"
      "movl $0x10, %%edx\n\tmovl %%edx, %%fs"
      : "+r"(r), "=&r"(seg)
      : "m"(fp16)
      : "edx", "memory");
  check_u32("lfsw: low word loaded, high word kept", r, 0x1111beef);
  check_u32("lfsw: selector", seg, 0x40);
  /* LSS switches SS:ESP in one instruction. */
  uint32_t ss_after, esp_after, esp_before;
  __asm__ volatile(
      "movl %%esp, %2\n\t"
      "movl %%esp, fp32\n\t"
      "movw $0x40, fp32 + 4\n\t"
      "lssl fp32, %%esp\n\t"
      "movl %%ss, %0\n\t"
      "movl %%esp, %1\n\t"
      "movl $0x10, %%edx\n\tmovl %%edx, %%ss"
      : "=&r"(ss_after), "=&r"(esp_after), "=&r"(esp_before)
      :
      : "edx", "memory");
  check_u32("lss: ss", ss_after, 0x40);
  check_u32("lss: esp", esp_after, esp_before);
  fp32.offset = 0x1234;
  fp32.sel = 0;
  cpu_trap_reset();
  uint32_t esp_kept = 0;
  __asm__ volatile(
      "movl %%esp, %%edx\n\t" CPU_TRY("lssl fp32, %%esp") "movl %%esp, %0\n\t"
      "movl %%edx, %%esp"
      : "=&r"(esp_kept)
      :
      : "edx", "memory");
  cpu_check_fault("lss null: #GP(0)", kVecGp, 0);
  check_u32("lss null: ss unchanged", cpu_read_ss(), kSelKernelData);
  check_true("lss null: esp unchanged", esp_kept != 0x1234);
  fp32.sel = 0x50;
  cpu_trap_reset();
  __asm__ volatile("movl %%esp, %%edx\n\t" CPU_TRY("lssl fp32, %%esp") "movl %%edx, %%esp"
                   :
                   :
                   : "edx", "memory");
  cpu_check_fault("lss read-only: #GP(sel)", kVecGp, 0x50);
}

static void TestAccessed(void) {
  check_section("segments.accessed");
  check_u32("fresh descriptor: accessed bit clear", (uint32_t)(cpu_gdt[kIdxFresh] >> 40) & 1, 0);
  TryMov_gs(SEL(kIdxFresh));
  check_u32("mov gs sets the accessed bit", (uint32_t)(cpu_gdt[kIdxFresh] >> 40) & 1, 1);
  check_u32("type otherwise unchanged", (uint32_t)(cpu_gdt[kIdxFresh] >> 40) & 0xfe,
            kDescP | kDescDataRw);
}

static uint32_t probe_words[4] = {0x0badcafe, 0x600df00d, 0x12345678, 0x9abcdef0};
static uint8_t fill_buf[16];

static void TestBases(void) {
  check_section("segments.bases");
  uint32_t probe = (uint32_t)(uintptr_t)probe_words;
  uint32_t v, w;
  __asm__ volatile(
      "movw %w2, %%fs\n\t"
      "movl %%fs:(%3), %0\n\t"
      "movl $0x55aa55aa, %%fs:4(%3)\n\t"
      "movw %w4, %%fs\n\t"
      "movl 4(%5), %1"
      : "=&r"(v), "=&r"(w)
      : "r"(SEL(kIdxBase1000)), "r"(probe - 0x1000), "r"(kSelKernelData), "r"(probe)
      : "memory");
  check_u32("fs base 0x1000: read fs:[p - 0x1000] = [p]", v, 0x0badcafe);
  check_u32("fs base 0x1000: write fs:[p - 0x1000 + 4] = [p + 4]", w, 0x55aa55aa);
  __asm__ volatile(
      "movw %w1, %%gs\n\t"
      "movl %%gs:(%2), %0\n\t"
      "movw %w3, %%gs"
      : "=&r"(v)
      : "r"(SEL(kIdxBase123)), "r"(probe + 8 - 0x123), "r"(kSelKernelData)
      : "memory");
  check_u32("gs base 0x123", v, 0x12345678);
  __asm__ volatile(
      "movw %w1, %%gs\n\t"
      "movl %%gs:(%2), %0\n\t"
      "movw %w3, %%gs"
      : "=&r"(v)
      : "r"(SEL(kIdxWrap)), "r"(probe + 12 + 0x100000), "r"(kSelKernelData)
      : "memory");
  check_u32("gs base 0xfff00000: linear address wraps at 4 GiB", v, 0x9abcdef0);
  uint16_t w16;
  __asm__ volatile(
      "movw %w1, %%gs\n\t"
      "movw %%gs:(%2), %0\n\t"
      "movw %w3, %%gs"
      : "=&r"(w16)
      : "r"(SEL(kIdxWrap)), "r"(probe + 14 + 0x100000), "r"(kSelKernelData)
      : "memory");
  check_u32("gs base 0xfff00000: word access", w16, 0x9abc);

  /* REP STOSB writes ES:EDI: ES base 0x1000. */
  memset(fill_buf, 0, sizeof fill_buf);
  uint32_t edi = (uint32_t)(uintptr_t)fill_buf + 2 - 0x1000, ecx = 5;
  __asm__ volatile(
      "pushl %%es\n\t"
      "movw %w3, %%es\n\t"
      "rep stosb\n\t"
      "popl %%es"
      : "+D"(edi), "+c"(ecx)
      : "a"(0xab), "r"(SEL(kIdxBase1000))
      : "memory");
  check_bytes("es base 0x1000: rep stosb", fill_buf, "\x00\x00\xab\xab\xab\xab\xab\x00\x00", 9);
  check_u32("rep stosb: edi is an offset", edi, (uint32_t)(uintptr_t)fill_buf + 7 - 0x1000);

  /* SS base 0x1000: PUSH and EBP-relative addressing use SS. */
  uint32_t pushed, via_ebp;
  __asm__ volatile(
      "pushl %%ebp\n\t"
      "movl %%esp, %%ebx\n\t"
      "subl $0x1000, %%esp\n\t"
      "movl $0x70, %%eax\n\t"
      "movl %%eax, %%ss\n\t"
      "pushl $0x5a5a1234\n\t"
      "movl %%esp, %%ebp\n\t"
      "movl 0(%%ebp), %%ecx\n\t"
      "movl $0x10, %%eax\n\t"
      "movl %%eax, %%ss\n\t"
      "movl %%ebx, %%esp\n\t"
      "popl %%ebp\n\t"
      "movl -8(%%esp), %0\n\t"
      "movl %%ecx, %1"
      : "=&r"(pushed), "=&r"(via_ebp)
      :
      : "eax", "ebx", "ecx", "memory");
  check_u32("ss base 0x1000: push lands at linear esp - 4", pushed, 0x5a5a1234);
  check_u32("ss base 0x1000: [ebp] reads through ss", via_ebp, 0x5a5a1234);

  /* CS base 0x1000. */
  uint32_t out[4] = {0, 0, 0, 0};
  cpu_trap_reset();
  SegCsBase(out);
  check_u32("cs base 0x1000: call pushes the offset", out[0],
            (uint32_t)(uintptr_t)seg_cs_ret - 0x1000);
  check_u32("cs base 0x1000: cs", out[1], SEL(kIdxCodeBase));
  check_u32("cs base 0x1000: jmp *reg goes to an offset", out[2], 1);
  cpu_check_trap("cs base 0x1000: ud2", kVecUd, 0);
  check_u32("cs base 0x1000: saved EIP is an offset", cpu_last.eip,
            (uint32_t)(uintptr_t)seg_cs_ud - 0x1000);
  check_u32("cs base 0x1000: saved CS", cpu_last.cs, SEL(kIdxCodeBase));

  /* Expand-down, B = 1, limit 0xfff: offsets 0x1000..0xffffffff. */
  uint32_t buf = (uint32_t)(uintptr_t)probe_words;
  cpu_gdt[kIdxDown] = cpu_seg_desc(buf - 0x2000, 0xfff, kDescP | kDescDb | kDescDataRwDown);
  cpu_trap_reset();
  __asm__ volatile(
      "movw %w1, %%fs\n\t"
      "movl %%fs:0x2000, %0\n\t"
      "movw %w2, %%fs"
      : "=&r"(v)
      : "r"(SEL(kIdxDown)), "r"(kSelKernelData)
      : "memory");
  check_u32("expand-down B=1: fs:0x2000 = base + 0x2000", v, 0x0badcafe);
  __asm__ volatile(
      "movw %w1, %%fs\n\t"
      "movl %%fs:0x1000, %0\n\t"
      "movw %w2, %%fs"
      : "=&r"(v)
      : "r"(SEL(kIdxDown)), "r"(kSelKernelData)
      : "memory");
  cpu_check_no_trap("expand-down accesses above the limit");
  uint32_t lim;
  check_true("lsl of expand-down: ZF", cpu_lsl(SEL(kIdxDown), &lim));
  check_u32("lsl of expand-down: the limit field", lim, 0xfff);
  /* Expand-down, B = 0, limit 0x7fff: offsets 0x8000..0xffff. */
  cpu_gdt[kIdxDown16] = cpu_seg_desc(buf - 0x8000, 0x7fff, kDescP | kDescDataRwDown);
  cpu_trap_reset();
  __asm__ volatile(
      "movw %w1, %%gs\n\t"
      "movl %%gs:0x8004, %0\n\t"
      "movw %w2, %%gs"
      : "=&r"(v)
      : "r"(SEL(kIdxDown16)), "r"(kSelKernelData)
      : "memory");
  check_u32("expand-down B=0: gs:0x8004 = base + 0x8004", v, probe_words[1]);
  cpu_check_no_trap("expand-down B=0 access above the limit");
}

static void TestCode16(void) {
  check_section("segments.code16");
  uint32_t out[6];
  cpu_trap_reset();
  SegCode16Call(out);
  cpu_check_no_trap("16-bit code");
  check_u32("16-bit add: ax = 0x1234 + 0x1111, eax bits 16-31 kept", out[0], 0xffff2345);
  check_u32("0x66 mov ecx, imm32 in 16-bit code", out[1], 0xdeadbeef);
  check_u32("ESP at entry = ESP before the 32-bit far call - 8", out[2], out[5] - 8);
  check_u32("16-bit near call pushes 2 bytes (on the 32-bit stack: ESP)", out[2] - out[3], 2);
  check_u32("mov di, cs in 16-bit code (edi bits 16-31 kept)", out[4], 0xffff0080);

  cpu_trap_reset();
  SegCode16Ud();
  cpu_check_trap("ud2 in 16-bit code", kVecUd, 0);
  check_u32("saved EIP = offset in the 16-bit segment", cpu_last.eip,
            (uint32_t)(seg16_ud - seg_code16_start));
  check_u32("saved CS = 0x80", cpu_last.cs, SEL(kIdxCode16));

  cpu_trap_reset();
  uint32_t eax = SegCode16Jmp();
  cpu_check_no_trap("retf into 16-bit code, 0x66 jmp far out");
  check_u32("16-bit code ran: ax = 0x4321", eax, 0xabcd4321);
  check_u32("cs back to 0x08", cpu_read_cs(), kSelKernelCode);
}

/* CPL 3 cases (run by cpu_run_at; the results are checked at CPL 0). */
static const struct SegCase kDataCases3[] = {
    {" null", 0x0000, kOk, 0},
    {" user data 0x23", 0x23, kOk, 0},
    {" data DPL 3, RPL 3", 0x4b, kOk, 0},
    {" data DPL 3, RPL 0", 0x48, kOk, 0},
    {" data DPL 0, RPL 3: #GP(sel)", 0x43, kVecGp, 0x40},
    {" data DPL 0, RPL 0: #GP(sel)", 0x10, kVecGp, 0x10},
    {" data DPL 1: #GP(sel)", 0x89, kVecGp, 0x88},
    {" execute/read code DPL 0: #GP(sel)", 0x63, kVecGp, 0x60},
    {" user code 0x1b (readable, DPL 3)", 0x1b, kOk, 0},
    {" conforming code DPL 0", 0xc3, kOk, 0},
    {" not present DPL 0: #GP(sel) first", 0x6b, kVecGp, 0x68},
    {" not present DPL 3: #NP(sel)", 0xa3, kVecNp, 0xa0},
};
#define kNumDataCases3 (sizeof kDataCases3 / sizeof kDataCases3[0])
static const struct SegCase kSsCases3[] = {
    {" null: #GP(0)", 0x0003, kVecGp, 0},
    {" user data 0x23", 0x23, kOk, 0},
    {" data DPL 3, RPL 3", 0x4b, kOk, 0},
    {" data DPL 3, RPL 0: #GP(sel)", 0x48, kVecGp, 0x48},
    {" kernel data 0x10: #GP(sel)", 0x10, kVecGp, 0x10},
    {" conforming code: #GP(sel)", 0x93, kVecGp, 0x90},
    {" not present DPL 3: #SS(sel)", 0xa3, kVecSs, 0xa0},
};
#define kNumSsCases3 (sizeof kSsCases3 / sizeof kSsCases3[0])
static struct SegResult ds_results3[kNumDataCases3], ss_results3[kNumSsCases3];
static uint32_t pop_out3[3], pop_count3, pop_vector3, pop_error3, cpl3_cs;

static uint32_t Ring3Loads(uint32_t arg) {
  (void)arg;
  cpl3_cs = cpu_read_cs();
  RunCases(kDataCases3, kNumDataCases3, TryMov_ds, ds_results3);
  RunCases(kSsCases3, kNumSsCases3, TryMov_ss, ss_results3);
  cpu_trap_reset();
  TryPop_ds(0x10, pop_out3);
  pop_count3 = cpu_trap_count;
  pop_vector3 = cpu_last.vector;
  pop_error3 = cpu_last.error;
  return 0x600d;
}

static void TestRing3(void) {
  check_section("segments.ring3");
  uint32_t r = cpu_run_at(3, Ring3Loads, 0, 0);
  check_u32("ran at CPL 3", cpl3_cs, kSelUserCode);
  check_u32("returned", r, 0x600d);
  VerifyCases("cpl 3: mov ds,", kDataCases3, kNumDataCases3, ds_results3, kSelUserData);
  VerifyCases("cpl 3: mov ss,", kSsCases3, kNumSsCases3, ss_results3, kSelUserData);
  check_u32("cpl 3: pop ds 0x10: one exception", pop_count3, 1);
  check_u32("cpl 3: pop ds 0x10: #GP", pop_vector3, kVecGp);
  check_u32("cpl 3: pop ds 0x10: error code", pop_error3, 0x10);
  check_u32("cpl 3: pop ds 0x10: ESP unchanged", pop_out3[1], (uint32_t)-4);
  check_u32("cpl 3: pop ds 0x10: ds unchanged", pop_out3[0], kSelUserData);
}

void guest_main(uint32_t magic, uint32_t mbi) {
  (void)magic;
  (void)mbi;
  serial_puts("segments: segment loads, checks and error codes, bases, 16-bit code\n");
  cpu_init();
  SetupGdt();
  TestMovData();
  TestMovSs();
  TestMovForms();
  TestPopPush();
  TestFarPointers();
  TestAccessed();
  TestBases();
  TestCode16();
  TestRing3();
  check_finish("segments");
}
