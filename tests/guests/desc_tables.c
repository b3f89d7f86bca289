/*
 * desc_tables: the descriptor-table registers and the instructions that
 * read descriptors, at CPL 0 (their CPL-3 behaviour is in `rings`).
 *
 * Sections:
 *   gdtr_idtr  LGDT/LIDT then SGDT/SIDT give back base and limit; the
 *              16-bit forms LGDTW/LIDTW load only 24 bits of the base
 *              (SDM vol. 2, LGDT/LIDT: "GDTR(Base) <- SRC[16:39] AND
 *              00FFFFFFH"); the segment registers keep their hidden parts
 *              after LGDT moves the table.
 *   ldtr       LLDT/SLDT, loads through LDT selectors (TI = 1), LLDT of a
 *              non-LDT descriptor #GP(sel), of a not-present LDT #NP(sel),
 *              of a TI = 1 selector #GP(sel); with a null LDTR a TI = 1
 *              selector #GP(sel) (error code keeps TI: SDM vol. 3 6.13).
 *   tr         STR; LTR marks the TSS descriptor busy; LTR of a busy TSS,
 *              of a data segment, of a TI = 1 selector #GP(sel); of a
 *              not-present TSS #NP(sel) (SDM vol. 2, LTR). (LTR of a null
 *              selector, #GP(0), is checked by `sdm_only`: QEMU accepts it;
 *              so is the accessed bit set by CS loads, which QEMU skips.)
 *   msw        SMSW = CR0[15:0]; SMSW to memory stores 16 bits; LMSW sets
 *              TS, MP, EM but cannot clear PE, ignores bits 4-15; CLTS.
 *   lar_lsl    LAR/LSL on code, data, system segments and gates of every
 *              type (SDM vol. 2, LAR and LSL tables of valid types), present
 *              or not, with G = 0/1; the RPL/DPL rule and conforming code;
 *              null and out-of-limit selectors give ZF = 0 and keep the
 *              destination; 16-bit LAR.
 *   verr_verw  VERR/VERW per type, DPL/RPL and conforming code.
 */
#include "cpu.h"

/* LAR returns descriptor bits 23:8 masked by 00FxFF00H: bits 19:16 (the
 * limit's top nibble) are undefined (SDM vol. 2, LAR), so compare without. */
#define kLarMask 0x00f0ff00u

/* Test descriptors, GDT indexes from kGdtFree. */
enum {
  kIdxLdt = kGdtFree, /* 0x40: the LDT */
  kIdxTss2,           /* 0x48: a second TSS descriptor (same TSS) */
  kIdxLdtNp,          /* 0x50: LDT, not present */
  kIdxTssNp,          /* 0x58: TSS, not present */
  kIdxScratch,        /* 0x60: descriptor under test for LAR/LSL/VERx */
  kIdxData,           /* 0x68: flat read/write data, DPL 0 */
  kIdxLast = kGdtEntries - 1,
};

static uint64_t ldt[4] __attribute__((aligned(8)));
static uint32_t ldt_target[4] = {0x11111111, 0x22222222, 0x33333333, 0x44444444};

/* Loads sel into FS inside CPU_TRY; FS is put back to the flat selector. */
static void TryLoadFs(const char* what, uint32_t sel, uint32_t vector, uint32_t error) {
  cpu_trap_reset();
  __asm__ volatile(CPU_TRY("movw %w0, %%fs") : : "r"(sel) : "memory");
  if (vector == 0xffffffff)
    cpu_check_no_trap(what);
  else
    cpu_check_fault(what, vector, error);
  __asm__ volatile("movw %w0, %%fs" : : "r"(kSelKernelData));
}

static void TestGdtrIdtr(void) {
  check_section("desc.gdtr_idtr");
  struct cpu_dtr d;
  cpu_sgdt(&d);
  check_u32("sgdt base after cpu_init", d.base, (uint32_t)(uintptr_t)cpu_gdt);
  check_u32("sgdt limit after cpu_init", d.limit, kGdtEntries * 8 - 1);
  cpu_sidt(&d);
  check_u32("sidt base", d.base, (uint32_t)(uintptr_t)cpu_idt);
  check_u32("sidt limit", d.limit, 256 * 8 - 1);

  /* A copy of the GDT elsewhere with a smaller limit. */
  static uint64_t copy[16] __attribute__((aligned(8)));
  memcpy(copy, cpu_gdt, sizeof copy);
  struct cpu_dtr moved = {16 * 8 - 1, (uint32_t)(uintptr_t)copy};
  struct cpu_dtr orig = {kGdtEntries * 8 - 1, (uint32_t)(uintptr_t)cpu_gdt};
  cpu_lgdt(&moved);
  cpu_sgdt(&d);
  check_u32("lgdt/sgdt moved base", d.base, (uint32_t)(uintptr_t)copy);
  check_u32("lgdt/sgdt moved limit", d.limit, 16 * 8 - 1);
  /* The table moved; a selector load now reads the copy: make the copy's
   * data descriptor differ (base 0x1000) and load it into FS. */
  copy[kIdxData] = cpu_seg_desc(0x1000, 0xfffff, kDescFlat | kDescDataRw);
  uint32_t via_fs;
  static uint32_t probe = 0x600df00d;
  __asm__ volatile(
      "movw %w1, %%fs\n\t"
      "movl %%fs:(%2), %0\n\t"
      "movw %w3, %%fs"
      : "=&r"(via_fs)
      : "r"(cpu_gdt_sel(kIdxData, 0)), "r"((uint32_t)(uintptr_t)&probe - 0x1000),
        "r"(kSelKernelData)
      : "memory");
  check_u32("selector load reads the moved table (base 0x1000)", via_fs, 0x600df00d);
  cpu_lgdt(&orig);
  cpu_sgdt(&d);
  check_u32("gdt restored", d.base, (uint32_t)(uintptr_t)cpu_gdt);

  /* 16-bit LGDT/LIDT: base & 0x00ffffff. The image has 0xab in the high
   * byte; nothing may load a selector until the real GDTR is back. */
  static struct cpu_dtr img16;
  img16.limit = 0x77;
  img16.base = 0xab000000u | (uint32_t)(uintptr_t)cpu_gdt;
  static struct cpu_dtr got16;
  __asm__ volatile(
      "lgdtw %1\n\t"
      "sgdtl %0\n\t"
      "lgdtl %2"
      : "=m"(got16)
      : "m"(img16), "m"(orig)
      : "memory");
  check_u32("lgdtw: base bits 24-31 zeroed", got16.base, (uint32_t)(uintptr_t)cpu_gdt);
  check_u32("lgdtw: limit", got16.limit, 0x77);
  struct cpu_dtr idt_orig = {256 * 8 - 1, (uint32_t)(uintptr_t)cpu_idt};
  img16.base = 0xcd000000u | (uint32_t)(uintptr_t)cpu_idt;
  __asm__ volatile(
      "lidtw %1\n\t"
      "sidtl %0\n\t"
      "lidtl %2"
      : "=m"(got16)
      : "m"(img16), "m"(idt_orig)
      : "memory");
  check_u32("lidtw: base bits 24-31 zeroed", got16.base, (uint32_t)(uintptr_t)cpu_idt);
  check_u32("lidtw: limit", got16.limit, 0x77);
  /* SGDT stores 6 bytes: the byte after stays. */
  static uint8_t buf[8];
  memset(buf, 0xee, sizeof buf);
  __asm__ volatile("sgdtl %0" : "=m"(*(struct cpu_dtr*)buf) : : "memory");
  check_u32("sgdt stores 6 bytes (byte 6 untouched)", buf[6], 0xee);
  check_u32("sgdt limit bytes", buf[0] | (buf[1] << 8), kGdtEntries * 8 - 1);
}

static void TestLdtr(void) {
  check_section("desc.ldtr");
  check_u32("sldt after lldt 0", cpu_sldt(), 0);
  ldt[0] = cpu_seg_desc((uint32_t)(uintptr_t)ldt_target, 0xf,
                        kDescP | kDescDb | kDescDataRw | kDescDpl(3));
  ldt[1] = cpu_seg_desc((uint32_t)(uintptr_t)&ldt_target[2], 0x7,
                        kDescP | kDescDb | kDescDataRo | kDescDpl(0));
  ldt[2] = cpu_seg_desc(0, 0xfffff, kDescP | kDescDb | kDescDataRw); /* not used */
  ldt[3] = cpu_seg_desc(0, 0xfffff, kDescDb | kDescDataRw);          /* not present */
  cpu_gdt[kIdxLdt] = cpu_seg_desc((uint32_t)(uintptr_t)ldt, sizeof ldt - 1, kDescLdt | kDescP);
  cpu_gdt[kIdxLdtNp] = cpu_seg_desc((uint32_t)(uintptr_t)ldt, sizeof ldt - 1, kDescLdt);
  cpu_gdt[kIdxData] = cpu_seg_desc(0, 0xfffff, kDescFlat | kDescDataRw);

  cpu_trap_reset();
  cpu_lldt(cpu_gdt_sel(kIdxLdt, 0));
  cpu_check_no_trap("lldt 0x40");
  check_u32("sldt", cpu_sldt(), 0x40);
  uint32_t v0, v1;
  __asm__ volatile(
      "movw %w2, %%fs\n\t"
      "movl %%fs:0, %0\n\t"
      "movw %w3, %%fs\n\t"
      "movl %%fs:4, %1\n\t"
      "movw %w4, %%fs"
      : "=&r"(v0), "=&r"(v1)
      : "r"(cpu_ldt_sel(0, 3)), "r"(cpu_ldt_sel(1, 0)), "r"(kSelKernelData)
      : "memory");
  check_u32("fs = LDT[0] (sel 0x07): base = ldt_target", v0, 0x11111111);
  check_u32("fs = LDT[1] (sel 0x0c): base = &ldt_target[2]", v1, 0x44444444);
  /* The accessed bit of LDT[0] was set by the load (SDM vol. 3 3.4.5.1). */
  check_u32("load sets the accessed bit in the LDT", (uint32_t)(ldt[0] >> 40) & 1, 1);
  TryLoadFs("fs = LDT[3] not present", cpu_ldt_sel(3, 0), kVecNp, cpu_ldt_sel(3, 0));
  TryLoadFs("fs = LDT[4] beyond the LDT limit", cpu_ldt_sel(4, 0), kVecGp, cpu_ldt_sel(4, 0));
  TryLoadFs("fs = 0x17 (LDT[2] DPL 0, RPL 3): #GP(0x14)", cpu_ldt_sel(2, 3), kVecGp, 0x14);
  uint32_t ar;
  check_true("lar of an LDT selector: ZF = 1", cpu_lar(cpu_ldt_sel(0, 3), &ar));
  check_u32("lar of LDT[0]", ar & kLarMask, 0x0040f300);

  const struct {
    const char* what;
    uint32_t sel, vector, error;
  } bad[] = {
      {"lldt of a data segment: #GP(sel)", cpu_gdt_sel(kIdxData, 0), kVecGp, 0x68},
      {"lldt of the TSS: #GP(sel)", kSelTss, kVecGp, kSelTss},
      {"lldt of a not-present LDT: #NP(sel)", cpu_gdt_sel(kIdxLdtNp, 0), kVecNp, 0x50},
      {"lldt of a TI = 1 selector: #GP(sel)", 0x44, kVecGp, 0x44},
      {"lldt beyond the GDT limit: #GP(sel)", cpu_gdt_sel(kGdtEntries, 0), kVecGp, kGdtEntries * 8},
      {"lldt 0x43 (RPL 3 ignored): error code drops RPL", cpu_gdt_sel(kIdxData, 3), kVecGp, 0x68},
  };
  for (uint32_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    cpu_trap_reset();
    __asm__ volatile(CPU_TRY("lldt %w0") : : "r"(bad[i].sel) : "memory");
    cpu_check_fault(bad[i].what, bad[i].vector, bad[i].error);
    check_u32(cpu_cat(bad[i].what, ": LDTR unchanged"), cpu_sldt(), 0x40);
  }
  /* LLDT with RPL bits is fine: the RPL is ignored (SDM vol. 2, LLDT). */
  cpu_lldt(cpu_gdt_sel(kIdxLdt, 3));
  check_u32("lldt 0x43: sldt", cpu_sldt(), 0x43);

  cpu_trap_reset();
  cpu_lldt(0);
  cpu_check_no_trap("lldt 0 (null LDT)");
  check_u32("sldt after lldt 0", cpu_sldt(), 0);
  TryLoadFs("fs = 0x07 with a null LDTR: #GP(0x04)", cpu_ldt_sel(0, 3), kVecGp, 0x04);
  uint32_t ar2 = 0x5a5a5a5a;
  check_true("lar of an LDT selector with null LDTR: ZF = 0", !cpu_lar(cpu_ldt_sel(0, 0), &ar2));
  check_u32("lar failing keeps the destination", ar2, 0xdeadbeef);
  /* SLDT to memory stores 16 bits. */
  cpu_lldt(cpu_gdt_sel(kIdxLdt, 0));
  static uint16_t mem[2] = {0xaaaa, 0xaaaa};
  __asm__ volatile("sldt %0" : "=m"(mem[0]) : : "memory");
  check_u32("sldt m16", mem[0] | ((uint32_t)mem[1] << 16), 0xaaaa0040);
  cpu_lldt(0);
}

static void TestTr(void) {
  check_section("desc.tr");
  check_u32("str after cpu_init", cpu_str(), kSelTss);
  check_u32("TSS descriptor is busy after ltr", (uint32_t)(cpu_gdt[kSelTss >> 3] >> 40) & 0xf,
            kDescTss32Busy);
  cpu_gdt[kIdxTss2] =
      cpu_seg_desc((uint32_t)(uintptr_t)&cpu_tss, kCpuTssLimit, kDescTss32 | kDescP);
  cpu_gdt[kIdxTssNp] = cpu_seg_desc((uint32_t)(uintptr_t)&cpu_tss, kCpuTssLimit, kDescTss32);
  cpu_gdt[kIdxData] = cpu_seg_desc(0, 0xfffff, kDescFlat | kDescDataRw);

  cpu_trap_reset();
  cpu_ltr(cpu_gdt_sel(kIdxTss2, 0));
  cpu_check_no_trap("ltr 0x48");
  check_u32("str after ltr 0x48", cpu_str(), 0x48);
  check_u32("0x48 busy", (uint32_t)(cpu_gdt[kIdxTss2] >> 40) & 0xf, kDescTss32Busy);
  check_u32("0x28 stays busy (ltr does not clear the old one)",
            (uint32_t)(cpu_gdt[kSelTss >> 3] >> 40) & 0xf, kDescTss32Busy);
  const struct {
    const char* what;
    uint32_t sel, vector, error;
  } bad[] = {
      {"ltr of a busy TSS: #GP(sel)", 0x28, kVecGp, 0x28},
      {"ltr of a data segment: #GP(sel)", cpu_gdt_sel(kIdxData, 0), kVecGp, 0x68},
      {"ltr of an LDT descriptor: #GP(sel)", cpu_gdt_sel(kIdxLdt, 0), kVecGp, 0x40},
      {"ltr of a not-present TSS: #NP(sel)", cpu_gdt_sel(kIdxTssNp, 3), kVecNp, 0x58},
      {"ltr of a TI = 1 selector: #GP(sel)", 0x0c, kVecGp, 0x0c},
      {"ltr beyond the GDT limit: #GP(sel)", cpu_gdt_sel(kGdtEntries + 3, 0), kVecGp,
       (kGdtEntries + 3) * 8},
  };
  cpu_gdt[kIdxLdt] = cpu_seg_desc((uint32_t)(uintptr_t)ldt, sizeof ldt - 1, kDescLdt | kDescP);
  for (uint32_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    cpu_trap_reset();
    __asm__ volatile(CPU_TRY("ltr %w0") : : "r"(bad[i].sel) : "memory");
    cpu_check_fault(bad[i].what, bad[i].vector, bad[i].error);
    check_u32(cpu_cat(bad[i].what, ": TR unchanged"), cpu_str(), 0x48);
  }
  check_u32("not-present TSS stays available", (uint32_t)(cpu_gdt[kIdxTssNp] >> 40) & 0xf,
            kDescTss32);
  /* Back to 0x28 (cpu_load_tss rewrites it as available first). */
  cpu_load_tss(kCpuTssLimit);
  check_u32("str back to 0x28", cpu_str(), kSelTss);
  static uint16_t mem[2] = {0xbbbb, 0xbbbb};
  __asm__ volatile("str %0" : "=m"(mem[0]) : : "memory");
  check_u32("str m16", mem[0] | ((uint32_t)mem[1] << 16), 0xbbbb0028);
  uint32_t r = 0xffffffff;
  __asm__ volatile("strl %0" : "+r"(r));
  check_u32("str r32 zero-extends", r, 0x28);
}

static void TestMsw(void) {
  check_section("desc.msw");
  uint32_t cr0 = cpu_read_cr0();
  uint32_t msw = 0;
  __asm__ volatile("smsw %0" : "=r"(msw));
  check_u32("smsw r32 low 16 bits = cr0 low 16 bits", msw & 0xffff, cr0 & 0xffff);
  check_u32("PE is set", msw & 1, 1);
  static uint16_t mem[2] = {0xcccc, 0xcccc};
  __asm__ volatile("smsw %0" : "=m"(mem[0]) : : "memory");
  check_u32("smsw m16 stores 16 bits", mem[0] | ((uint32_t)mem[1] << 16),
            0xcccc0000 | (cr0 & 0xffff));

  /* LMSW with TS | MP: both set; PE stays. */
  uint32_t v = (cr0 & 0xfff0) | 0x8 | 0x2 | 0x1;
  __asm__ volatile("lmsw %w0" : : "r"(v) : "memory");
  check_u32("lmsw sets TS and MP", cpu_read_cr0() & 0xa, 0xa);
  __asm__ volatile("clts" : : : "memory");
  check_u32("clts clears TS", cpu_read_cr0() & 0x8, 0);
  check_u32("clts keeps MP", cpu_read_cr0() & 0x2, 0x2);
  /* LMSW cannot clear PE; bits 4-15 of the operand are ignored. */
  v = 0xfff0;
  __asm__ volatile("lmsw %w0" : : "r"(v) : "memory");
  uint32_t after = cpu_read_cr0();
  check_u32("lmsw 0xfff0: PE stays 1", after & 1, 1);
  check_u32("lmsw 0xfff0: MP, EM, TS cleared", after & 0xe, 0);
  check_u32("lmsw 0xfff0: cr0 bits 4-31 unchanged", after & ~0xfu, cr0 & ~0xfu);
  /* EM via a memory operand. */
  static uint16_t m16 = 0x0005;
  __asm__ volatile("lmsw %0" : : "m"(m16) : "memory");
  check_u32("lmsw m16 sets EM", cpu_read_cr0() & 0xf, 0x5);
  cpu_write_cr0(cr0);
  check_u32("cr0 restored", cpu_read_cr0(), cr0);
}

/* One LAR/LSL/VERR/VERW case on a descriptor placed at kIdxScratch. */
struct DescCase {
  const char* what;
  uint64_t desc;
  uint32_t rpl;
  int lar_ok;
  uint32_t lar;
  int lsl_ok;
  uint32_t lsl;
  int verr, verw;
};

static void RunDescCase(const struct DescCase* c) {
  cpu_gdt[kIdxScratch] = c->desc;
  uint32_t sel = cpu_gdt_sel(kIdxScratch, c->rpl);
  uint32_t lar, lsl;
  int lar_ok = cpu_lar(sel, &lar);
  int lsl_ok = cpu_lsl(sel, &lsl);
  check_u32(cpu_cat(c->what, ": lar ZF"), lar_ok, c->lar_ok);
  check_u32(cpu_cat(c->what, ": lar value"), c->lar_ok ? lar & kLarMask : lar,
            c->lar_ok ? c->lar : 0xdeadbeef);
  check_u32(cpu_cat(c->what, ": lsl ZF"), lsl_ok, c->lsl_ok);
  check_u32(cpu_cat(c->what, ": lsl value"), lsl, c->lsl_ok ? c->lsl : 0xdeadbeef);
  check_u32(cpu_cat(c->what, ": verr"), cpu_verr(sel), c->verr);
  check_u32(cpu_cat(c->what, ": verw"), cpu_verw(sel), c->verw);
}

static void TestLarLsl(void) {
  check_section("desc.lar_lsl_verr_verw");
  const uint32_t b = 0x12345678;
  const struct DescCase cases[] = {
      /* what, desc, rpl, lar ok, lar, lsl ok, lsl, verr, verw */
      {"data rw dpl0 G", cpu_seg_desc(b, 0xfffff, kDescFlat | kDescDataRw), 0, 1, 0x00c09200, 1,
       0xffffffff, 1, 1},
      {"data rw dpl0 G=1 limit 1", cpu_seg_desc(b, 1, kDescFlat | kDescDataRw), 0, 1, 0x00c09200, 1,
       0x1fff, 1, 1},
      {"data ro dpl3 byte-granular", cpu_seg_desc(b, 0x12345, kDescP | kDescDataRo | kDescDpl(3)),
       0, 1, 0x0000f000, 1, 0x12345, 1, 0},
      {"data rw accessed AVL", cpu_seg_desc(b, 0xabcde, kDescP | kDescAvl | kDescDataRw | 1), 0, 1,
       0x00109300, 1, 0xabcde, 1, 1},
      {"data rw not present", cpu_seg_desc(b, 0x100, kDescDataRw), 0, 1, 0x00001200, 1, 0x100, 1,
       1},
      {"data rw expand-down", cpu_seg_desc(b, 0xff, kDescP | kDescDb | kDescDataRwDown), 0, 1,
       0x00409600, 1, 0xff, 1, 1},
      {"data rw dpl0 rpl3", cpu_seg_desc(b, 0xfff, kDescP | kDescDataRw), 3, 0, 0, 0, 0, 0, 0},
      {"data rw dpl2 rpl2", cpu_seg_desc(b, 0xfff, kDescP | kDescDataRw | kDescDpl(2)), 2, 1,
       0x0000d200, 1, 0xfff, 1, 1},
      {"data rw dpl2 rpl3", cpu_seg_desc(b, 0xfff, kDescP | kDescDataRw | kDescDpl(2)), 3, 0, 0, 0,
       0, 0, 0},
      {"code x dpl0", cpu_seg_desc(b, 0xfffff, kDescFlat | kDescCodeX), 0, 1, 0x00c09800, 1,
       0xffffffff, 0, 0},
      {"code xr dpl0", cpu_seg_desc(b, 0xfffff, kDescFlat | kDescCodeXr), 0, 1, 0x00c09a00, 1,
       0xffffffff, 1, 0},
      {"code xr dpl0 rpl3", cpu_seg_desc(b, 0xfffff, kDescFlat | kDescCodeXr), 3, 0, 0, 0, 0, 0, 0},
      {"code xr conforming dpl0 rpl3", cpu_seg_desc(b, 0x3ff, kDescP | kDescDb | kDescCodeXrc), 3,
       1, 0x00409e00, 1, 0x3ff, 1, 0},
      {"code x conforming dpl0 rpl3", cpu_seg_desc(b, 0x3ff, kDescP | kDescDb | kDescCodeXc), 3, 1,
       0x00409c00, 1, 0x3ff, 0, 0},
      {"code 16-bit xr dpl3", cpu_seg_desc(b, 0xffff, kDescP | kDescCodeXr | kDescDpl(3)), 3, 1,
       0x0000fa00, 1, 0xffff, 1, 0},
      /* System descriptors: valid for LAR: 1 2 3 4 5 9 b c; for LSL: 1 2 3 9 b. */
      {"type 0 reserved", cpu_seg_desc(b, 0xfff, kDescP | 0x0), 0, 0, 0, 0, 0, 0, 0},
      {"type 1 16-bit TSS", cpu_seg_desc(b, 0x2b, kDescP | kDescTss16), 0, 1, 0x00008100, 1, 0x2b,
       0, 0},
      {"type 2 LDT", cpu_seg_desc(b, 0x37, kDescP | kDescLdt), 0, 1, 0x00008200, 1, 0x37, 0, 0},
      {"type 3 busy 16-bit TSS", cpu_seg_desc(b, 0x2b, kDescP | kDescTss16Busy), 0, 1, 0x00008300,
       1, 0x2b, 0, 0},
      {"type 4 16-bit call gate", cpu_gate_desc(0x08, 0x1234, kDescP | kDescCallGate16, 3), 0, 1,
       0x00008400, 0, 0, 0, 0},
      {"type 5 task gate", cpu_gate_desc(0x28, 0, kDescP | kDescTaskGate, 0), 0, 1, 0x00008500, 0,
       0, 0, 0},
      {"type 6 16-bit interrupt gate", cpu_gate_desc(0x08, 0x1234, kDescP | kDescIntGate16, 0), 0,
       0, 0, 0, 0, 0, 0},
      {"type 7 16-bit trap gate", cpu_gate_desc(0x08, 0x1234, kDescP | kDescTrapGate16, 0), 0, 0, 0,
       0, 0, 0, 0},
      {"type 8 reserved", cpu_seg_desc(b, 0xfff, kDescP | 0x8), 0, 0, 0, 0, 0, 0, 0},
      {"type 9 32-bit TSS G", cpu_seg_desc(b, 0x2, kDescP | kDescG | kDescTss32), 0, 1, 0x00808900,
       1, 0x2fff, 0, 0},
      {"type 10 reserved", cpu_seg_desc(b, 0xfff, kDescP | 0xa), 0, 0, 0, 0, 0, 0, 0},
      {"type 11 busy 32-bit TSS", cpu_seg_desc(b, 0x67, kDescP | kDescTss32Busy), 0, 1, 0x00008b00,
       1, 0x67, 0, 0},
      {"type 12 32-bit call gate dpl3",
       cpu_gate_desc(0x08, 0xabcd1234, kDescP | kDescCallGate32 | kDescDpl(3), 5), 3, 1, 0x00c0ec00,
       0, 0, 0, 0},
      {"type 13 reserved", cpu_seg_desc(b, 0xfff, kDescP | 0xd), 0, 0, 0, 0, 0, 0, 0},
      {"type 14 32-bit interrupt gate", cpu_gate_desc(0x08, 0x1234, kDescP | kDescIntGate32, 0), 0,
       0, 0, 0, 0, 0, 0},
      {"type 15 32-bit trap gate", cpu_gate_desc(0x08, 0x1234, kDescP | kDescTrapGate32, 0), 0, 0,
       0, 0, 0, 0, 0},
      {"LDT dpl0 rpl3", cpu_seg_desc(b, 0x37, kDescP | kDescLdt), 3, 0, 0, 0, 0, 0, 0},
      {"LDT not present", cpu_seg_desc(b, 0x37, kDescLdt), 0, 1, 0x00000200, 1, 0x37, 0, 0},
  };
  for (uint32_t i = 0; i < sizeof cases / sizeof cases[0]; i++) RunDescCase(&cases[i]);

  /* Null and out-of-limit selectors: ZF = 0, no fault. */
  uint32_t v;
  cpu_trap_reset();
  check_true("lar null: ZF = 0", !cpu_lar(0, &v));
  check_true("lar 0x0003 (null, RPL 3): ZF = 0", !cpu_lar(3, &v));
  check_true("lsl null: ZF = 0", !cpu_lsl(0, &v));
  check_true("verr null: ZF = 0", !cpu_verr(0));
  check_true("verw null: ZF = 0", !cpu_verw(0));
  check_true("lar beyond GDT limit: ZF = 0", !cpu_lar(kGdtEntries * 8, &v));
  check_true("lsl beyond GDT limit: ZF = 0", !cpu_lsl(kGdtEntries * 8 + 3, &v));
  check_true("verr beyond GDT limit: ZF = 0", !cpu_verr(kGdtEntries * 8));
  check_true("verw beyond GDT limit: ZF = 0", !cpu_verw(0xfff8));
  cpu_check_no_trap("null/out-of-limit selectors");

  /* 16-bit LAR: the low word only (access byte in bits 8-15). */
  cpu_gdt[kIdxScratch] = cpu_seg_desc(b, 0xfffff, kDescFlat | kDescCodeXr | kDescDpl(3));
  uint32_t r = 0xa5a5a5a5;
  __asm__ volatile("larw %w1, %w0" : "+r"(r) : "r"(cpu_gdt_sel(kIdxScratch, 0)) : "cc");
  check_u32("larw: access byte in bits 8-15, upper half kept", r, 0xa5a5fa00);
  r = 0xa5a5a5a5;
  __asm__ volatile("lslw %w1, %w0" : "+r"(r) : "r"(cpu_gdt_sel(kIdxScratch, 0)) : "cc");
  check_u32("lslw: low 16 bits of the limit, upper half kept", r, 0xa5a5ffff);
  /* LAR/LSL with a memory source. */
  /* 0x10 was loaded into DS..SS by cpu_init(): its accessed bit is set.
   * (So is that of 0x08, loaded into CS by a far jump, but QEMU does not set
   * the accessed bit on CS loads: `sdm_only` checks that.) */
  static uint16_t msel = kSelKernelData;
  __asm__ volatile("larl %1, %0" : "=r"(r) : "m"(msel) : "cc");
  check_u32("lar m16 of 0x10 (accessed by now)", r & kLarMask, 0x00c09300);
  /* Only ZF changes: CF, SF etc. stay. */
  uint32_t f_out;
  __asm__ volatile(
      "stc\n\t"
      "larl %w1, %0\n\t"
      "pushfl\n\tpopl %0"
      : "=&r"(f_out)
      : "r"(kSelKernelData)
      : "cc");
  check_u32("lar keeps CF", f_out & kFlagCf, kFlagCf);
  check_u32("lar sets ZF", f_out & kFlagZf, kFlagZf);
}

void guest_main(uint32_t magic, uint32_t mbi) {
  (void)magic;
  (void)mbi;
  serial_puts("desc_tables: lgdt/lidt/lldt/ltr, s*dt, smsw/lmsw, lar/lsl/verr/verw\n");
  cpu_init();
  TestGdtrIdtr();
  TestLdtr();
  TestTr();
  TestMsw();
  TestLarLsl();
  check_finish("desc_tables");
}
