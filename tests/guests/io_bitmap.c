/*
 * io_bitmap: IN/OUT/INS/OUTS permission at CPL > IOPL through the TSS I/O
 * permission bit map (Intel SDM vol. 1, 19.5 "Protected-mode I/O": 19.5.1
 * IOPL, 19.5.2 the bit map: one bit per port, every port of a multi-byte
 * access is tested, the processor reads two bytes of the map for every
 * access so the map needs a trailing 0xff byte within the TSS limit, ports
 * beyond the map (or a map base beyond the limit) are refused). A refused
 * access raises #GP(0) at the instruction and does nothing.
 *
 * Sections:
 *   cpl0       CPL 0 ignores the bit map (every bit set).
 *   widths     CPL 3, IOPL 0: bytes, words and dwords, IMM8 and DX forms,
 *              accesses that straddle an allowed and a refused port, that
 *              cross a byte of the map, port 0xffff (byte allowed, word
 *              refused by the 0xff terminator), INSB/OUTSB and REP INSB to
 *              the 16550 scratch register, data written at CPL 3 seen at
 *              CPL 0.
 *   limit      a TSS limit that ends the map: a port is allowed only when
 *              both bytes the processor reads are within the limit; a map
 *              base beyond the limit refuses everything.
 *   iopl       CPL 3 with IOPL 3 skips the map; IOPL 2 < CPL 3 uses it;
 *              CPL 1 with IOPL 1 skips it, with IOPL 0 uses it.
 */
#include "cpu.h"

enum { kIn, kOut };
struct IoOp {
  const char* what;
  uint32_t dir, size, port, refused;
};
struct IoResult {
  uint32_t count, vector, error, eip, start, value;
};
static struct IoResult results[32];
static const struct IoOp* ops;
static uint32_t num_ops;
static uint8_t string_buf[8] = {0x11, 0x22, 0x33, 0x44};

#define kScratch (GUEST_COM1 + 7) /* 16550 SCR: keeps what is written */
#define kFree 0x2f0               /* no device: reads all ones */

/* One IN or OUT inside CPU_TRY; returns what IN read (0 for OUT). */
static uint32_t DoIo(uint32_t dir, uint32_t size, uint32_t port) {
  uint32_t v = 0x5a5a5a5a;
  if (dir == kIn) {
    switch (size) {
      case 1:
        __asm__ volatile(CPU_TRY("inb %%dx, %%al") : "+a"(v) : "d"(port) : "memory");
        break;
      case 2:
        __asm__ volatile(CPU_TRY("inw %%dx, %%ax") : "+a"(v) : "d"(port) : "memory");
        break;
      case 4:
        __asm__ volatile(CPU_TRY("inl %%dx, %%eax") : "+a"(v) : "d"(port) : "memory");
        break;
      case 0xef: /* IN AL, imm8 */
        __asm__ volatile(CPU_TRY("inb $0xef, %%al") : "+a"(v) : : "memory");
        break;
      case 0xee:
        __asm__ volatile(CPU_TRY("inb $0xee, %%al") : "+a"(v) : : "memory");
        break;
    }
    return v;
  }
  switch (size) {
    case 1:
      __asm__ volatile(CPU_TRY("outb %%al, %%dx") : : "a"(v), "d"(port) : "memory");
      break;
    case 2:
      __asm__ volatile(CPU_TRY("outw %%ax, %%dx") : : "a"(v), "d"(port) : "memory");
      break;
    case 4:
      __asm__ volatile(CPU_TRY("outl %%eax, %%dx") : : "a"(v), "d"(port) : "memory");
      break;
  }
  return 0;
}

/* Runs ops[] at the current CPL, recording each. */
static uint32_t RunOps(uint32_t arg) {
  (void)arg;
  for (uint32_t i = 0; i < num_ops; i++) {
    cpu_trap_reset();
    results[i].value = DoIo(ops[i].dir, ops[i].size, ops[i].port);
    results[i].count = cpu_trap_count;
    results[i].vector = cpu_last.vector;
    results[i].error = cpu_last.error;
    results[i].eip = cpu_last.eip;
    results[i].start = cpu_try_start;
    cpu_resume_eip = 0;
  }
  return 0;
}

static void CheckOps(const char* prefix) {
  static char name[112];
  for (uint32_t i = 0; i < num_ops; i++) {
    const char* w = cpu_cat(prefix, ops[i].what);
    uint32_t k = 0;
    while (w[k] && k < sizeof name - 1) {
      name[k] = w[k];
      k++;
    }
    name[k] = 0;
    if (ops[i].refused) {
      check_u32(cpu_cat(name, ": #GP"), results[i].count == 1 ? results[i].vector : 0xff, kVecGp);
      check_u32(cpu_cat(name, ": error code 0"), results[i].error, 0);
      check_u32(cpu_cat(name, ": saved EIP = the instruction"), results[i].eip, results[i].start);
      if (ops[i].dir == kIn)
        check_u32(cpu_cat(name, ": EAX unchanged"), results[i].value, 0x5a5a5a5a);
    } else {
      check_u32(cpu_cat(name, ": allowed"), results[i].count, 0);
    }
  }
}

static void Run(uint32_t cpl, uint32_t iopl, const struct IoOp* o, uint32_t n, const char* prefix) {
  ops = o;
  num_ops = n;
  cpu_run_at(cpl, RunOps, 0, kFlagIopl(iopl));
  CheckOps(prefix);
}

static void TestCpl0(void) {
  check_section("io.cpl0");
  static const struct IoOp o[] = {
      {"inb 0x2f0", kIn, 1, kFree, 0},
      {"inl 0x2f0", kIn, 4, kFree, 0},
      {"outb 0x2f0", kOut, 1, kFree, 0},
      {"in al, 0xef", kIn, 0xef, 0, 0},
  };
  ops = o;
  num_ops = sizeof o / sizeof o[0];
  RunOps(0);
  CheckOps("CPL 0, bit map all refused: ");
  check_u32("inb 0x2f0 reads 0xff", results[0].value, 0x5a5a5aff);
}

static const struct IoOp kWidthOps[] = {
    {"inb 0x2f0", kIn, 1, 0x2f0, 0},
    {"outb 0x2f0", kOut, 1, 0x2f0, 0},
    {"inw 0x2f0", kIn, 2, 0x2f0, 0},
    {"outw 0x2f2", kOut, 2, 0x2f2, 0},
    {"inl 0x2f0", kIn, 4, 0x2f0, 0},
    {"outl 0x2f0", kOut, 4, 0x2f0, 0},
    {"inl 0x2f1 (0x2f4 refused)", kIn, 4, 0x2f1, 1},
    {"inw 0x2f3 (0x2f4 refused)", kIn, 2, 0x2f3, 1},
    {"outb 0x2f4", kOut, 1, 0x2f4, 1},
    {"inb 0x2ef (0x2f0 allowed)", kIn, 1, 0x2ef, 1},
    {"inw 0x2ef (0x2ef refused, 0x2f0 allowed)", kIn, 2, 0x2ef, 1},
    {"inw 0x2f7 (0x2f7, 0x2f8 allowed: crosses a map byte)", kIn, 2, 0x2f7, 0},
    {"inl 0x2f6 (0x2f6 refused)", kIn, 4, 0x2f6, 1},
    {"in al, 0xef (allowed)", kIn, 0xef, 0, 0},
    {"in al, 0xee (refused)", kIn, 0xee, 0, 1},
    {"inb 0xffff (allowed)", kIn, 1, 0xffff, 0},
    {"inw 0xffff (0xff terminator byte)", kIn, 2, 0xffff, 1},
    {"outb 0x3ff (16550 scratch)", kOut, 1, kScratch, 0},
    {"inb 0x3fe (refused)", kIn, 1, kScratch - 1, 1},
};

static uint32_t string_esi, string_edi, string_read;

static uint32_t Ring3Strings(uint32_t arg) {
  (void)arg;
  cpu_trap_reset();
  const uint8_t* s = string_buf;
  uint8_t* d = string_buf + 4;
  __asm__ volatile("outsb" : "+S"(s) : "d"(kScratch) : "memory");
  __asm__ volatile("insb" : "+D"(d) : "d"(kScratch) : "memory");
  uint32_t n = 2;
  __asm__ volatile("rep insb" : "+D"(d), "+c"(n) : "d"(kScratch) : "memory");
  string_esi = (uint32_t)(uintptr_t)s;
  string_edi = (uint32_t)(uintptr_t)d;
  uint32_t count = cpu_trap_count;
  /* A refused OUTSB: ESI unchanged. */
  s = string_buf;
  __asm__ volatile(CPU_TRY("outsb") : "+S"(s) : "d"(kFree + 0x10) : "memory");
  string_read = (uint32_t)(uintptr_t)s;
  return count;
}

static void TestWidths(void) {
  check_section("io.widths");
  cpu_io_permit(0x2f0, 4, 1);
  cpu_io_permit(0x2f7, 2, 1);
  cpu_io_permit(0xef, 1, 1);
  cpu_io_permit(0xffff, 1, 1);
  cpu_io_permit(kScratch, 1, 1);
  Run(3, 0, kWidthOps, sizeof kWidthOps / sizeof kWidthOps[0], "CPL 3, IOPL 0: ");
  check_u32("inb 0x2f0 at CPL 3 reads 0xff (AL only)", results[0].value, 0x5a5a5aff);
  check_u32("inl 0x2f0 at CPL 3 reads all ones", results[4].value, 0xffffffff);
  check_u32("outb 0x3ff at CPL 3 reached the UART", inb(kScratch), 0x5a);
  /* Refusing 0x2f8 refuses the straddling word. */
  cpu_io_permit(0x2f8, 1, 0);
  static const struct IoOp straddle[] = {
      {"inw 0x2f7 (0x2f8 refused)", kIn, 2, 0x2f7, 1},
      {"inb 0x2f7", kIn, 1, 0x2f7, 0},
  };
  Run(3, 0, straddle, 2, "CPL 3, IOPL 0: ");

  uint32_t n = cpu_run_at(3, Ring3Strings, 0, 0);
  check_u32("outsb/insb/rep insb to an allowed port: no exception", n, 0);
  check_u32("outsb: esi + 1", string_esi, (uint32_t)(uintptr_t)string_buf + 1);
  check_u32("insb + rep insb x2: edi + 3", string_edi, (uint32_t)(uintptr_t)string_buf + 7);
  check_bytes("insb read back what outsb wrote", string_buf + 4, "\x11\x11\x11", 3);
  check_u32("refused outsb: #GP(0)", cpu_last.vector == kVecGp && cpu_last.error == 0, 1);
  check_u32("refused outsb: esi unchanged", string_read, (uint32_t)(uintptr_t)string_buf);
}

static void TestLimit(void) {
  check_section("io.limit");
  cpu_io_permit(0x2f0, 16, 1); /* map bytes 0x5e and 0x5f */
  cpu_io_permit(0x2e8, 1, 1);  /* map byte 0x5d */
  /* Limit = map base + 0x5f: byte 0x5e and the byte after it are in. */
  cpu_load_tss(kCpuTssIomap + 0x5f);
  static const struct IoOp a[] = {
      {"inb 0x2f0 (reads map bytes 0x5e-0x5f)", kIn, 1, 0x2f0, 0},
      {"inb 0x2f7", kIn, 1, 0x2f7, 0},
      {"inb 0x2f8 (map byte 0x60 beyond the limit)", kIn, 1, 0x2f8, 1},
      {"inb 0x300", kIn, 1, 0x300, 1},
  };
  Run(3, 0, a, 4, "limit = base + 0x5f: ");
  /* Limit = map base + 0x5e: the second byte read for port 0x2f0 is out. */
  cpu_load_tss(kCpuTssIomap + 0x5e);
  static const struct IoOp b[] = {
      {"inb 0x2f0 (map byte 0x5f beyond the limit)", kIn, 1, 0x2f0, 1},
      {"inb 0x2e8 (reads map bytes 0x5d-0x5e)", kIn, 1, 0x2e8, 0},
  };
  Run(3, 0, b, 2, "limit = base + 0x5e: ");
  /* Map base beyond the limit: no map, everything refused. */
  cpu_load_tss(kCpuTssLimit);
  cpu_tss.iomap_base = 0x4000;
  static const struct IoOp c[] = {
      {"inb 0x2f0", kIn, 1, 0x2f0, 1},
      {"outb 0x3ff", kOut, 1, kScratch, 1},
  };
  Run(3, 0, c, 2, "map base beyond the limit: ");
  cpu_tss.iomap_base = kCpuTssIomap;
  check_u32("TR still 0x28", cpu_str(), kSelTss);
}

static void TestIopl(void) {
  check_section("io.iopl");
  memset(cpu_tss.iomap, 0xff, sizeof cpu_tss.iomap);
  cpu_io_permit(0x2f0, 1, 1);
  static const struct IoOp all[] = {
      {"inb 0x2f0", kIn, 1, 0x2f0, 0},
      {"inb 0x2f1", kIn, 1, 0x2f1, 0},
      {"outl 0x2f4", kOut, 4, 0x2f4, 0},
  };
  Run(3, 3, all, 3, "CPL 3, IOPL 3 (map not used): ");
  static const struct IoOp map[] = {
      {"inb 0x2f0", kIn, 1, 0x2f0, 0},
      {"inb 0x2f1", kIn, 1, 0x2f1, 1},
  };
  Run(3, 2, map, 2, "CPL 3, IOPL 2 (map used): ");
  Run(1, 1, all, 3, "CPL 1, IOPL 1 (map not used): ");
  Run(1, 0, map, 2, "CPL 1, IOPL 0 (map used): ");
}

void guest_main(uint32_t magic, uint32_t mbi) {
  (void)magic;
  (void)mbi;
  serial_puts("io_bitmap: IN/OUT at CPL > IOPL and the TSS I/O permission bit map\n");
  cpu_init();
  TestCpl0();
  TestWidths();
  TestLimit();
  TestIopl();
  check_finish("io_bitmap");
}
