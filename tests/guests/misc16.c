/*
 * misc16: operand- and address-size prefixes and the instructions that do
 * not fit elsewhere, per the Intel SDM vol. 2 pages of each.
 *
 * Sections: 16-bit ALU (0x66) keeping bits 16-31, with flags; byte
 * registers AH..DH; XLAT; MOVZX/MOVSX in every width; CBW CWDE CWD CDQ;
 * XCHG CMPXCHG XADD CMPXCHG8B with and without LOCK; BSWAP; LEA with every
 * 32-bit ModRM/SIB form, 16-bit operand size and 16-bit addressing (0x67);
 * absolute loads and stores well above the image (4, 64 and 112 MiB, RAM is
 * 128 MiB) through moffs and disp32 forms; segment overrides CS DS ES FS GS
 * SS on flat segments (Multiboot makes them all base 0, limit 4 GiB);
 * multi-byte NOPs and PAUSE.
 */
#include "check.h"

static void TestAlu16(void) {
  check_section("misc16.alu16");
  uint32_t r, f;
  r = 0xabcdfffe;
  __asm__("addw $3, %w[r]\n\tpushfl\n\tpopl %[f]" : [r] "+r"(r), [f] "=r"(f) : : "cc");
  check_u32("addw wraps in 16 bits", r, 0xabcd0001);
  check_u32("addw flags: CF, AF", f & kFlagsArith, kFlagCf | kFlagAf);
  r = 0x12340001;
  __asm__("stc\n\tadcw $0x7ffe, %w[r]\n\tpushfl\n\tpopl %[f]" : [r] "+r"(r), [f] "=r"(f) : : "cc");
  check_u32("adcw", r, 0x12348000);
  check_u32("adcw flags: OF SF AF PF", f & kFlagsArith, kFlagOf | kFlagSf | kFlagAf | kFlagPf);
  r = 0x55550000;
  __asm__("subw $1, %w[r]\n\tpushfl\n\tpopl %[f]" : [r] "+r"(r), [f] "=r"(f) : : "cc");
  check_u32("subw borrows in 16 bits", r, 0x5555ffff);
  check_u32("subw flags", f & kFlagsArith, kFlagCf | kFlagPf | kFlagAf | kFlagSf);
  r = 0xffff8000;
  __asm__("negw %w[r]\n\tpushfl\n\tpopl %[f]" : [r] "+r"(r), [f] "=r"(f) : : "cc");
  check_u32("negw 0x8000", r, 0xffff8000);
  check_u32("negw flags", f & kFlagsArith, kFlagCf | kFlagOf | kFlagSf | kFlagPf);
  r = 0x0000ffff;
  __asm__("incw %w[r]\n\tpushfl\n\tpopl %[f]" : [r] "+r"(r), [f] "=r"(f) : : "cc");
  check_u32("incw 0xffff", r, 0);
  check_u32("incw flags", f & (kFlagZf | kFlagOf | kFlagSf), kFlagZf);
  r = 0x11110000;
  __asm__("decw %w[r]" : [r] "+r"(r) : : "cc");
  check_u32("decw 0", r, 0x1111ffff);
  r = 0x0f0ff0f0;
  __asm__("notw %w[r]" : [r] "+r"(r));
  check_u32("notw", r, 0x0f0f0f0f);
  r = 0x99991234;
  __asm__("rolw $8, %w[r]" : [r] "+r"(r) : : "cc");
  check_u32("rolw 8 swaps bytes", r, 0x99993412);
  r = 0x88880000;
  __asm__("imulw $-300, %w[s], %w[r]" : [r] "+r"(r) : [s] "r"(100) : "cc");
  check_u32("imulw imm16 3-op", r, 0x88888ad0);
  volatile uint32_t m = 0xaaaa7fff;
  __asm__("incw %[m]\n\tpushfl\n\tpopl %[f]" : [m] "+m"(m), [f] "=r"(f) : : "cc");
  check_u32("incw mem", m, 0xaaaa8000);
  check_u32("incw mem OF", f & kFlagOf, kFlagOf);
  __asm__("xorw $0xffff, %[m]\n\tandw $0x0ff0, %[m]\n\torw $0x1001, %[m]" : [m] "+m"(m) : : "cc");
  check_u32("xorw/andw/orw mem", m, 0xaaaa1ff1);
  __asm__("cmpw $0x1ff1, %[m]\n\tpushfl\n\tpopl %[f]" : [f] "=r"(f) : [m] "m"(m) : "cc");
  check_u32("cmpw mem imm16 equal", f & kFlagZf, kFlagZf);
  __asm__("testw $0x8000, %[m]\n\tpushfl\n\tpopl %[f]" : [f] "=r"(f) : [m] "m"(m) : "cc");
  check_u32("testw mem", f & kFlagZf, kFlagZf);
  r = 0xffff1234;
  __asm__("clc\n\tsbbw %w[r], %w[r]" : [r] "+r"(r) : : "cc");
  check_u32("sbbw r,r with CF=0", r, 0xffff0000);
  r = 0x00001234;
  __asm__("stc\n\tsbbw %w[r], %w[r]" : [r] "+r"(r) : : "cc");
  check_u32("sbbw r,r with CF=1", r, 0x0000ffff);
}

static void TestByteRegs(void) {
  check_section("misc16.byte_regs");
  uint32_t a = 0x11223344, b = 0x55667788;
  __asm__("xchgb %%ah, %%al" : "+a"(a));
  check_u32("xchg ah, al", a, 0x11224433);
  __asm__("movb %%bh, %%ah\n\tmovb $0x99, %%bh" : "+a"(a), "+b"(b));
  check_u32("mov ah, bh", a, 0x11227733);
  check_u32("mov bh, imm8", b, 0x55669988);
  uint32_t c = 0xffffffff, d = 0;
  __asm__("movb %%ch, %%dl\n\tmovb %%cl, %%dh\n\tincb %%dh" : "+c"(c), "+d"(d) : : "cc");
  check_u32("dl = ch, dh = cl + 1", d, 0x000000ff);
  a = 0x12345678;
  __asm__("movw $0xbeef, %%ax" : "+a"(a));
  check_u32("mov ax, imm16 keeps bits 16-31", a, 0x1234beef);
}

static void TestXlatMovx(void) {
  check_section("misc16.xlat_movzx_movsx");
  static uint8_t table[256];
  for (int i = 0; i < 256; i++) table[i] = (uint8_t)(255 - i);
  uint32_t a = 0xaabbcc05;
  __asm__("xlat" : "+a"(a) : "b"(table));
  check_u32("xlat al=5", a, 0xaabbccfa);
  a = 0x000000ff;
  __asm__("xlat" : "+a"(a) : "b"(table));
  check_u32("xlat al=0xff is unsigned", a, 0x00000000);
  uint32_t r;
  __asm__("movzbl %b1, %0" : "=r"(r) : "q"(0x1234ff80));
  check_u32("movzx r32, r8", r, 0x80);
  __asm__("movsbl %b1, %0" : "=r"(r) : "q"(0x1234ff80));
  check_u32("movsx r32, r8", r, 0xffffff80);
  __asm__("movzwl %w1, %0" : "=r"(r) : "r"(0x12348001));
  check_u32("movzx r32, r16", r, 0x8001);
  __asm__("movswl %w1, %0" : "=r"(r) : "r"(0x12348001));
  check_u32("movsx r32, r16", r, 0xffff8001);
  r = 0xdddd0000;
  __asm__("movsbw %b1, %w0" : "+r"(r) : "q"(0xfe));
  check_u32("movsx r16, r8", r, 0xddddfffe);
  r = 0xdddd0000;
  __asm__("movzbw %b1, %w0" : "+r"(r) : "q"(0xfe));
  check_u32("movzx r16, r8", r, 0xdddd00fe);
  a = 0x0000c300;
  __asm__("movsbl %%ah, %0" : "=r"(r) : "a"(a));
  check_u32("movsx r32, ah", r, 0xffffffc3);
  static const uint16_t kW = 0x9000;
  static const uint8_t kB = 0x7f;
  __asm__("movswl %1, %0" : "=r"(r) : "m"(kW));
  check_u32("movsx r32, m16", r, 0xffff9000);
  __asm__("movzbl %1, %0" : "=r"(r) : "m"(kB));
  check_u32("movzx r32, m8", r, 0x7f);

  a = 0x1234ff80;
  __asm__("cbtw" : "+a"(a));
  check_u32("cbw", a, 0x1234ff80);
  a = 0x12340080;
  __asm__("cbtw" : "+a"(a));
  check_u32("cbw negative byte", a, 0x1234ff80);
  a = 0x12348000;
  __asm__("cwtl" : "+a"(a));
  check_u32("cwde", a, 0xffff8000);
  uint32_t d = 0x55555555;
  a = 0x00008000;
  __asm__("cwtd" : "+a"(a), "+d"(d));
  check_u32("cwd", d, 0x5555ffff);
  a = 0x80000000;
  __asm__("cltd" : "+a"(a), "=d"(d));
  check_u32("cdq", d, 0xffffffff);
  a = 0x7fffffff;
  __asm__("cltd" : "+a"(a), "=d"(d));
  check_u32("cdq positive", d, 0);
}

static void TestAtomics(void) {
  check_section("misc16.xchg_cmpxchg_xadd");
  uint32_t a = 1, b = 2, f;
  __asm__("xchgl %0, %1" : "+r"(a), "+r"(b));
  check_u32("xchg reg reg", a * 10 + b, 21);
  volatile uint32_t m = 0x1111;
  a = 0x2222;
  __asm__("xchgl %0, %1" : "+r"(a), "+m"(m));
  check_u32("xchg reg mem: reg", a, 0x1111);
  check_u32("xchg reg mem: mem", m, 0x2222);
  a = 0xaaaa0001;
  b = 0xbbbb0002;
  __asm__("xchgw %w0, %w1" : "+r"(a), "+r"(b));
  check_u32("xchgw", a, 0xaaaa0002);
  check_u32("xchgw other", b, 0xbbbb0001);

  m = 100;
  a = 100;
  __asm__("lock cmpxchgl %[n], %[m]\n\tpushfl\n\tpopl %[f]"
          : [m] "+m"(m), "+a"(a), [f] "=r"(f)
          : [n] "r"(200)
          : "cc");
  check_u32("cmpxchg equal: mem = new", m, 200);
  check_u32("cmpxchg equal: ZF", f & kFlagZf, kFlagZf);
  a = 100;
  __asm__("lock cmpxchgl %[n], %[m]\n\tpushfl\n\tpopl %[f]"
          : [m] "+m"(m), "+a"(a), [f] "=r"(f)
          : [n] "r"(300)
          : "cc");
  check_u32("cmpxchg differ: mem kept", m, 200);
  check_u32("cmpxchg differ: eax = mem", a, 200);
  check_u32("cmpxchg differ: flags of 100 - 200", f & kFlagsArith,
            kFlagCf | kFlagPf | kFlagAf | kFlagSf);
  uint32_t r = 0x777700aa;
  a = 0x000000aa;
  __asm__("cmpxchgb %b[n], %b[r]" : [r] "+q"(r), "+a"(a) : [n] "q"(0x55) : "cc");
  check_u32("cmpxchg8", r, 0x77770055);
  r = 0x66661234;
  a = 0xffff1234;
  __asm__("cmpxchgw %w[n], %w[r]" : [r] "+r"(r), "+a"(a) : [n] "r"(0x4321) : "cc");
  check_u32("cmpxchg16", r, 0x66664321);

  m = 0x7ffffffe;
  a = 3;
  __asm__("lock xaddl %[a], %[m]\n\tpushfl\n\tpopl %[f]"
          : [m] "+m"(m), [a] "+r"(a), [f] "=r"(f)
          :
          : "cc");
  check_u32("xadd: mem = sum", m, 0x80000001);
  check_u32("xadd: reg = old mem", a, 0x7ffffffe);
  check_u32("xadd: flags of the add", f & kFlagsArith, kFlagOf | kFlagSf | kFlagAf);
  r = 0x10;
  a = 0x20;
  __asm__("xaddb %b[a], %b[r]" : [r] "+q"(r), [a] "+q"(a) : : "cc");
  check_u32("xadd8", r * 0x100 + a, 0x3010);
  m = 5;
  __asm__("lock incl %0\n\tlock addl $10, %0\n\tlock subl $1, %0\n\tlock orl $0x100, %0"
          : "+m"(m)
          :
          : "cc");
  check_u32("lock inc/add/sub/or", m, 0x10f);
  __asm__("lock btsl $31, %0\n\tpushfl\n\tpopl %1" : "+m"(m), "=r"(f) : : "cc");
  check_u32("lock bts", m, 0x8000010f);
  check_u32("lock bts CF", f & kFlagCf, 0);

  static volatile uint64_t q = 0x1122334455667788ull;
  uint32_t lo = 0x55667788, hi = 0x11223344;
  __asm__("lock cmpxchg8b %[q]\n\tpushfl\n\tpopl %[f]"
          : [q] "+m"(q), "+a"(lo), "+d"(hi), [f] "=r"(f)
          : "b"(0xddccbbaa), "c"(0x99887766)
          : "cc");
  check_u64("cmpxchg8b equal: mem = ecx:ebx", q, 0x99887766ddccbbaaull);
  check_u32("cmpxchg8b equal: ZF", f & kFlagZf, kFlagZf);
  lo = 0;
  hi = 0;
  __asm__("cmpxchg8b %[q]\n\tpushfl\n\tpopl %[f]"
          : [q] "+m"(q), "+a"(lo), "+d"(hi), [f] "=r"(f)
          : "b"(1), "c"(2)
          : "cc");
  check_u32("cmpxchg8b differ: eax", lo, 0xddccbbaa);
  check_u32("cmpxchg8b differ: edx", hi, 0x99887766);
  check_u32("cmpxchg8b differ: ZF", f & kFlagZf, 0);
  check_u64("cmpxchg8b differ: mem kept", q, 0x99887766ddccbbaaull);

  r = 0x12345678;
  __asm__("bswap %0" : "+r"(r));
  check_u32("bswap", r, 0x78563412);
  r = 0x000000ff;
  __asm__("bswap %0" : "+r"(r));
  check_u32("bswap low byte", r, 0xff000000);
}

static void TestLea(void) {
  check_section("misc16.lea");
  uint32_t r, sp;
  const uint32_t b = 0x1000, i = 0x20, bp = 0x3000;
  __asm__("leal 0x12345678, %0" : "=r"(r));
  check_u32("[disp32]", r, 0x12345678);
  __asm__("leal (%1), %0" : "=r"(r) : "r"(b));
  check_u32("[base]", r, 0x1000);
  __asm__("leal 8(%1), %0" : "=r"(r) : "r"(b));
  check_u32("[base+disp8]", r, 0x1008);
  __asm__("leal -8(%1), %0" : "=r"(r) : "r"(b));
  check_u32("[base-disp8]", r, 0x0ff8);
  __asm__("leal 0x12345(%1), %0" : "=r"(r) : "r"(b));
  check_u32("[base+disp32]", r, 0x13345);
  __asm__("leal (%1,%2), %0" : "=r"(r) : "r"(b), "r"(i));
  check_u32("[base+index]", r, 0x1020);
  __asm__("leal (%1,%2,2), %0" : "=r"(r) : "r"(b), "r"(i));
  check_u32("[base+index*2]", r, 0x1040);
  __asm__("leal 4(%1,%2,4), %0" : "=r"(r) : "r"(b), "r"(i));
  check_u32("[base+index*4+disp8]", r, 0x1084);
  __asm__("leal -0x100(%1,%2,8), %0" : "=r"(r) : "r"(b), "r"(i));
  check_u32("[base+index*8+disp32]", r, 0x1000);
  __asm__("leal 0x10(,%1,4), %0" : "=r"(r) : "r"(i));
  check_u32("[index*4+disp32] (no base)", r, 0x90);
  __asm__("leal (,%1,1), %0" : "=r"(r) : "r"(i));
  check_u32("[index*1+0] (no base)", r, 0x20);
  __asm__("movl %%esp, %1\n\tleal 4(%%esp), %0" : "=r"(r), "=&r"(sp));
  check_u32("[esp+disp8] (SIB base esp)", r - sp, 4);
  __asm__("movl %%esp, %1\n\tleal (%%esp,%2,2), %0" : "=r"(r), "=&r"(sp) : "r"(i));
  check_u32("[esp+index*2]", r - sp, 0x40);
  __asm__("movl %1, %%ebp\n\tleal (%%ebp), %0" : "=r"(r) : "r"(bp) : "ebp");
  check_u32("[ebp] (mod 01, disp8 0)", r, 0x3000);
  __asm__("movl %1, %%ebp\n\tleal (%%ebp,%2,2), %0" : "=r"(r) : "r"(bp), "r"(i) : "ebp");
  check_u32("[ebp+index*2]", r, 0x3040);
  __asm__("leal (%1,%2,8), %0" : "=r"(r) : "r"(0xfffffff0), "r"(4));
  check_u32("address wraps at 4 GiB", r, 0x10);
  r = 0xcccc0000;
  __asm__("leaw 0x1234(%1), %w0" : "+r"(r) : "r"(b));
  check_u32("lea r16 (0x66) keeps bits 16-31", r, 0xcccc2234);

  /* 16-bit addressing (0x67): EA = (sum) mod 64 KiB, zero-extended. */
  uint32_t bx = 0xabcdfff0, si = 0x00000020, di = 0x00000100, bp16 = 0x00008000;
  __asm__("leal 4(%%bx,%%si), %0" : "=r"(r) : "b"(bx), "S"(si));
  check_u32("addr16 [bx+si+disp8] wraps at 64 KiB", r, 0x0014);
  __asm__("leal (%%bx,%%di), %0" : "=r"(r) : "b"(bx), "D"(di));
  check_u32("addr16 [bx+di]", r, 0x00f0);
  __asm__("movl %1, %%ebp\n\tleal 0x1000(%%bp,%%si), %0" : "=r"(r) : "r"(bp16), "S"(si) : "ebp");
  check_u32("addr16 [bp+si+disp16]", r, 0x9020);
  __asm__("leal -2(%%si), %0" : "=r"(r) : "S"(si));
  check_u32("addr16 [si-2]", r, 0x001e);
  __asm__("leal 0x10(%%di), %0" : "=r"(r) : "D"(0xffff0ff0));
  check_u32("addr16 [di+disp8] ignores bits 16-31", r, 0x1000);
  __asm__("addr16 leal 0x4321, %0" : "=r"(r));
  check_u32("addr16 [disp16]", r, 0x4321);
  r = 0x99990000;
  __asm__("leaw (%%bx), %w0" : "+r"(r) : "b"(0x12345678));
  check_u32("addr16 [bx], 16-bit operand", r, 0x99995678);
}

/* Absolute addresses well above the image, inside the 128 MiB of RAM. */
#define ADDR_4M 0x00400000
#define ADDR_64M 0x04000000
#define ADDR_112M 0x07000000

static void TestAbsolute(void) {
  check_section("misc16.absolute_addresses");
  uint32_t r;
  __asm__ volatile(
      "movl $0x4d4d4d4d, %%eax\n\tmovl %%eax, 0x00400000\n\txorl %%eax, %%eax\n\tmovl 0x00400000, "
      "%%eax"
      : "=a"(r)
      :
      : "memory");
  check_u32("moffs store/load at 4 MiB", r, 0x4d4d4d4d);
  __asm__ volatile("movl $0x64646464, 0x04000000\n\taddl $1, 0x04000000\n\tmovl 0x04000000, %0"
                   : "=r"(r)
                   :
                   : "memory", "cc");
  check_u32("disp32 store, add, load at 64 MiB", r, 0x64646465);
  __asm__ volatile(
      "movb $0x70, 0x07000003\n\tmovw $0x1112, 0x07000000\n\tmovb $0x13, 0x07000002\n\tmovl "
      "0x07000000, %0"
      : "=r"(r)
      :
      : "memory");
  check_u32("byte/word stores, dword load at 112 MiB", r, 0x70131112);
  volatile uint32_t* p = (volatile uint32_t*)ADDR_112M;
  for (uint32_t k = 0; k < 1024; k++) p[k * 1024] = k * 3; /* every 4 KiB over 4 MiB */
  uint32_t bad = 0;
  for (uint32_t k = 0; k < 1024; k++) bad += p[k * 1024] != k * 3;
  check_u32("1024 pages from 112 MiB: mismatches", bad, 0);
  check_u32("4 MiB still intact", *(volatile uint32_t*)ADDR_4M, 0x4d4d4d4d);
  check_u32("64 MiB still intact", *(volatile uint32_t*)ADDR_64M, 0x64646465);
}

uint32_t misc_seg_word = 0x5e65e650;
static void TestSegOverrides(void) {
  check_section("misc16.segment_overrides");
  uint32_t r;
  __asm__ volatile("movl %%ds:misc_seg_word, %0" : "=r"(r));
  check_u32("ds:", r, 0x5e65e650);
  __asm__ volatile("movl %%es:misc_seg_word, %0" : "=r"(r));
  check_u32("es:", r, 0x5e65e650);
  __asm__ volatile("movl %%fs:misc_seg_word, %0" : "=r"(r));
  check_u32("fs:", r, 0x5e65e650);
  __asm__ volatile("movl %%gs:misc_seg_word, %0" : "=r"(r));
  check_u32("gs:", r, 0x5e65e650);
  __asm__ volatile("movl %%ss:misc_seg_word, %0" : "=r"(r));
  check_u32("ss:", r, 0x5e65e650);
  __asm__ volatile("movl %%cs:misc_seg_word, %0" : "=r"(r));
  check_u32("cs: read", r, 0x5e65e650);
  uint32_t* p = &misc_seg_word;
  __asm__ volatile("movl $0x600d600d, %%gs:(%0)" : : "r"(p) : "memory");
  check_u32("gs: store", misc_seg_word, 0x600d600d);
  __asm__ volatile("addl $1, %%fs:4(%0,%1,4)" : : "r"(p), "r"(-1) : "memory", "cc");
  check_u32("fs: read-modify-write with SIB", misc_seg_word, 0x600d600e);
  __asm__ volatile("movl %%gs:0x00400000, %0" : "=r"(r));
  check_u32("gs: absolute at 4 MiB", r, 0x4d4d4d4d);
}

static void TestNops(void) {
  check_section("misc16.nops");
  uint32_t a = 1, b = 2, c = 3, d = 4, f;
  __asm__ volatile(
      "pushl $0x8d7\n\tpopfl\n\t"
      "nop\n\t"
      "xchgw %%ax, %%ax\n\t"
      "nopl (%%eax)\n\t"
      "nopl 0x0(%%eax)\n\t"
      "nopl 0x0(%%eax,%%eax,1)\n\t"
      "nopw 0x0(%%eax,%%eax,1)\n\t"
      "nopl 0x00000000(%%eax)\n\t"
      "nopl 0x00000000(%%eax,%%eax,1)\n\t"
      "nopw 0x00000000(%%eax,%%eax,1)\n\t"
      "pause\n\t"
      ".byte 0x8d, 0xb4, 0x26, 0, 0, 0, 0\n\t" /* lea esi, [esi+eiz*1+0] */
      "pushfl\n\tpopl %4"
      : "+a"(a), "+b"(b), "+c"(c), "+d"(d), "=r"(f)
      :
      : "esi", "cc");
  check_u32("registers unchanged", a * 1000 + b * 100 + c * 10 + d, 1234);
  check_u32("flags unchanged", f & kFlagsArith, kFlagsArith);
}

void guest_main(uint32_t magic, uint32_t mbi) {
  (void)magic;
  (void)mbi;
  serial_puts(
      "misc16: 16-bit operands, xlat, movzx/movsx, atomics, lea, absolute and segment "
      "addressing\n");
  TestAlu16();
  TestByteRegs();
  TestXlatMovx();
  TestAtomics();
  TestLea();
  TestAbsolute();
  TestSegOverrides();
  TestNops();
  check_finish("misc16");
}
