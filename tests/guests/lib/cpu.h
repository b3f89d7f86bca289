/*
 * cpu.h: the protected-mode machinery of the guests that test the shadow
 * CPU: a GDT, an IDT whose 256 vectors all reach one C dispatcher, a TSS
 * with an I/O permission bitmap, ring changes, descriptor encoders and
 * wrappers of the system instructions (Intel SDM vol. 3: 3.4-3.5 segment
 * descriptors, 5.8 call gates, 6.10-6.14 IDT, gates and exception frames,
 * 7.2 TSS, 19.5 I/O permission bitmap).
 *
 * cpu_init() loads this GDT (selectors below), the IDT, TR and a null LDTR,
 * and masks both 8259s (the BIOS under QEMU leaves the timer unmasked).
 *
 *   index  selector  descriptor
 *   0      0x00      null
 *   1      0x08      ring-0 code, flat, 32-bit, execute/read
 *   2      0x10      ring-0 data, flat, read/write
 *   3      0x1b      ring-3 code, flat (SYSEXIT: SYSENTER_CS + 16)
 *   4      0x23      ring-3 data, flat (SYSEXIT: SYSENTER_CS + 24)
 *   5      0x28      the TSS (cpu_tss), 32-bit, with the I/O bitmap
 *   6      0x31      ring-1 code, flat
 *   7      0x39      ring-1 data, flat
 *   8..31  0x40..    free for the tests (kGdtFree)
 *
 * Every IDT vector is an interrupt gate (DPL 0) to a stub that pushes a
 * uniform frame (struct cpu_frame: the CPU's frame, a 0 where the CPU
 * pushes no error code, the vector, the segment registers and PUSHA) and
 * calls cpu_dispatch(). Exceptions #BP and #OF (3, 4) and kVecSyscall
 * (0x80) have DPL 3, as an OS sets them; kVecUserTrap (0x81) is a DPL-3
 * trap gate. INT 0x80 from CPL 1-3 with EAX = kCpuSysExit (the end of
 * cpu_run_at(), below) returns from cpu_run_at() with EBX and is not
 * recorded (unless a handler is set for 0x80). The dispatcher records any
 * other event in cpu_last and cpu_log, then, in this order:
 *   - calls the handler set by cpu_set_handler(vector), if any, and returns;
 *   - if cpu_resume_eip is non-zero, resumes there (clearing it and the
 *     saved TF and NT): CPU_TRY() sets it to the end of its instructions;
 *   - #DB: clears the saved TF, sets the saved RF, returns;
 *   - #BP, #OF and vectors 32-255 (traps, software interrupts): returns;
 *   - any other exception is unexpected: prints it and calls
 *     guest_exit(126) (process status 253).
 *
 * Ring changes: cpu_run_at(cpl, fn, arg, eflags) enters fn at CPL 1 or 3
 * by IRET (on cpu_user_stack) and returns fn's value when fn returns, which
 * goes through INT 0x80. Events from CPL > 0 switch to cpu_tss.esp0
 * (cpu_ring0_stack_top); a call gate to ring 1 switches to esp1.
 */
#ifndef BT86_CPU_H
#define BT86_CPU_H

#include "check.h"

/* Selectors of the GDT of cpu_init(). */
enum {
  kSelNull = 0x00,
  kSelKernelCode = 0x08,
  kSelKernelData = 0x10,
  kSelUserCode = 0x1b,
  kSelUserData = 0x23,
  kSelTss = 0x28,
  kSelRing1Code = 0x31,
  kSelRing1Data = 0x39,
  kGdtFree = 8,     /* first GDT index the tests may use */
  kGdtEntries = 32, /* GDT limit = 8 * kGdtEntries - 1 */
};

/* Exception vectors (SDM vol. 3, table 6-1). */
enum {
  kVecDe = 0,
  kVecDb = 1,
  kVecNmi = 2,
  kVecBp = 3,
  kVecOf = 4,
  kVecBr = 5,
  kVecUd = 6,
  kVecNm = 7,
  kVecDf = 8,
  kVecTs = 10,
  kVecNp = 11,
  kVecSs = 12,
  kVecGp = 13,
  kVecPf = 14,
  kVecMf = 16,
  kVecAc = 17,
  kVecMc = 18,
  kVecXm = 19,
  kVecSyscall = 0x80,  /* interrupt gate, DPL 3: cpu_run_at's way back */
  kVecUserTrap = 0x81, /* trap gate, DPL 3 */
};

/// EAX value of INT 0x80 that ends cpu_run_at() (EBX = its result).
#define kCpuSysExit 0x0e1717u

/* Descriptor attributes, in the layout of bits 8-23 of a descriptor's high
 * dword without the limit nibble: bits 0-7 the access byte (type, S, DPL,
 * P), bits 12-15 AVL, L, D/B, G (SDM vol. 3, figure 3-8). */
enum {
  kDescAccessed = 0x01,
  kDescData = 0x10,       /* S = 1: code or data */
  kDescDataRo = 0x10,     /* read-only data */
  kDescDataRw = 0x12,     /* read/write data */
  kDescDataRoDown = 0x14, /* read-only, expand-down */
  kDescDataRwDown = 0x16, /* read/write, expand-down */
  kDescCodeX = 0x18,      /* execute-only code */
  kDescCodeXr = 0x1a,     /* execute/read code */
  kDescCodeXc = 0x1c,     /* execute-only conforming code */
  kDescCodeXrc = 0x1e,    /* execute/read conforming code */
  kDescTss16 = 0x01,      /* system types (S = 0) */
  kDescLdt = 0x02,
  kDescTss16Busy = 0x03,
  kDescCallGate16 = 0x04,
  kDescTaskGate = 0x05,
  kDescIntGate16 = 0x06,
  kDescTrapGate16 = 0x07,
  kDescTss32 = 0x09,
  kDescTss32Busy = 0x0b,
  kDescCallGate32 = 0x0c,
  kDescIntGate32 = 0x0e,
  kDescTrapGate32 = 0x0f,
  kDescP = 0x80,
  kDescAvl = 0x1000,
  kDescDb = 0x4000, /* D/B: 32-bit code, 32-bit stack, expand-down to 4 GiB */
  kDescG = 0x8000,  /* limit in 4 KiB units */
};
#define kDescDpl(n) ((uint32_t)(n) << 5)

/// A flat (base 0, 4 GiB) 32-bit segment attribute set: kDescP | kDescDb | kDescG.
#define kDescFlat (kDescP | kDescDb | kDescG)

/// Encodes a code, data or system segment descriptor. limit is the 20-bit
/// field (in 4 KiB units when attr has kDescG).
static inline uint64_t cpu_seg_desc(uint32_t base, uint32_t limit, uint32_t attr) {
  uint32_t lo = (limit & 0xffff) | (base << 16);
  uint32_t hi = ((base >> 16) & 0xff) | ((attr & 0xff) << 8) | (limit & 0xf0000) |
                (((attr >> 12) & 0xf) << 20) | (base & 0xff000000);
  return ((uint64_t)hi << 32) | lo;
}

/// Encodes a gate: call/interrupt/trap gate to sel:offset, task gate (sel =
/// the TSS). attr = type | kDescDpl(n) | kDescP; params = the call gate's
/// parameter count (dwords, 0..31).
static inline uint64_t cpu_gate_desc(uint32_t sel, uint32_t offset, uint32_t attr,
                                     uint32_t params) {
  uint32_t lo = (offset & 0xffff) | (sel << 16);
  uint32_t hi = (offset & 0xffff0000) | ((attr & 0xff) << 8) | (params & 0x1f);
  return ((uint64_t)hi << 32) | lo;
}

/// The selector of GDT entry `index` with requested privilege level rpl.
static inline uint32_t cpu_gdt_sel(uint32_t index, uint32_t rpl) {
  return (index << 3) | rpl;
}
/// The selector of LDT entry `index` (TI = 1) with requested privilege rpl.
static inline uint32_t cpu_ldt_sel(uint32_t index, uint32_t rpl) {
  return (index << 3) | 4 | rpl;
}
/// The error code of an exception raised while reading IDT entry `vector`
/// (SDM vol. 3, 6.13: IDT = bit 1, EXT = bit 0).
static inline uint32_t cpu_idt_error(uint32_t vector, uint32_t ext) {
  return (vector << 3) | 2 | ext;
}

/// The 32-bit TSS (SDM vol. 3, figure 7-2), followed by a full I/O permission
/// bitmap (one bit per port, 1 = refused) and its 0xff terminator byte.
struct cpu_tss {
  uint16_t link, reserved0;
  uint32_t esp0;
  uint16_t ss0, reserved1;
  uint32_t esp1;
  uint16_t ss1, reserved2;
  uint32_t esp2;
  uint16_t ss2, reserved3;
  uint32_t cr3, eip, eflags, eax, ecx, edx, ebx, esp, ebp, esi, edi;
  uint16_t es, reserved4, cs, reserved5, ss, reserved6, ds, reserved7;
  uint16_t fs, reserved8, gs, reserved9, ldt, reserved10;
  uint16_t trap, iomap_base;
  uint8_t iomap[8192 + 1];
} __attribute__((packed));

/// Offset of the I/O bitmap in cpu_tss; the TSS limit that covers it all.
#define kCpuTssIomap 104u
#define kCpuTssLimit (kCpuTssIomap + 8192u) /* the terminator byte is the last */

/// A GDTR/IDTR image for LGDT/LIDT/SGDT/SIDT.
struct cpu_dtr {
  uint16_t limit;
  uint32_t base;
} __attribute__((packed));

/// What the stub saved, lowest address first: PUSHA, the data segment
/// registers, the vector, the error code (0 when the CPU pushes none), and
/// the CPU's frame; esp and ss are there only when the privilege changed
/// (the interrupted CPL, cs & 3, is not 0). Segment slots are 32 bits wide;
/// only their low 16 bits are defined.
struct cpu_frame {
  uint32_t edi, esi, ebp, esp_pusha, ebx, edx, ecx, eax;
  uint32_t gs, fs, es, ds;
  uint32_t vector, error;
  uint32_t eip, cs, eflags;
  uint32_t esp, ss;
};

/// One recorded event. cs, ss and the segment registers are 16-bit values.
struct cpu_event {
  uint32_t vector, error, eip, cs, eflags;
  uint32_t esp, ss; /* interrupted ESP/SS: from the frame after a privilege
                       change, else the ESP just above the CPU's frame */
  uint32_t frame;   /* linear address of the saved EIP */
  uint32_t ds, es, fs, gs;
  uint32_t handler_eflags; /* EFLAGS inside the handler (IF: gate type) */
  uint32_t eax, ecx, edx, ebx;
};

/// Events since cpu_trap_reset() and the last one.
extern volatile uint32_t cpu_trap_count;
extern volatile struct cpu_event cpu_last;
/// The first kCpuLogSize events since cpu_trap_reset().
#define kCpuLogSize 32
extern volatile struct cpu_event cpu_log[kCpuLogSize];
/// Where the next exception resumes when non-zero (cleared when used).
extern volatile uint32_t cpu_resume_eip;
/// Address of the first instruction of the last CPU_TRY() executed.
extern volatile uint32_t cpu_try_start;

extern struct cpu_tss cpu_tss;
extern uint64_t cpu_gdt[kGdtEntries];
extern uint64_t cpu_idt[256];
/// Top of the stack cpu_tss.esp0 points to (events from CPL 1-3).
extern uint8_t cpu_ring0_stack_top[];
/// Top of the stack cpu_tss.esp1 points to (call gates to ring 1).
extern uint8_t cpu_ring1_stack_top[];
/// Top of the stack cpu_run_at() starts fn on.
extern uint8_t cpu_user_stack_top[];

/// A per-vector handler: runs at CPL 0 after the event is recorded; may
/// change the frame (f->eip, f->eflags, ...), which IRET then loads.
typedef void (*cpu_handler)(struct cpu_frame* f);

/// Loads the GDT, IDT, TSS and a null LDT; masks the 8259s.
void cpu_init(void);
/// Address of the stub cpu_init() puts in IDT entry `vector`: it pushes a 0
/// unless the CPU pushes an error code for that vector (8, 10-14, 17, 21,
/// 29, 30).
uint32_t cpu_stub(uint32_t vector);
/// Address of a stub of `vector` that always pushes a 0: for INT n to a
/// vector whose exception has an error code (INT n pushes none).
uint32_t cpu_stub_noerr(uint32_t vector);
/// Restores IDT entry `vector` to its cpu_init() gate.
void cpu_idt_default(uint32_t vector);
/// Sets (or with 0 clears) the handler of `vector`.
void cpu_set_handler(uint32_t vector, cpu_handler h);
/// Forgets recorded events, clears cpu_resume_eip.
void cpu_trap_reset(void);
/// Applies cpu_resume_eip to f as the dispatcher does (for handlers).
void cpu_frame_resume(struct cpu_frame* f);
/// Rewrites the TSS descriptor (available, the given limit) and reloads TR.
void cpu_load_tss(uint32_t limit);
/// Marks ports [port, port + n) allowed (allow = 1) or refused in the bitmap.
void cpu_io_permit(uint32_t port, uint32_t n, int allow);

/// Runs fn(arg) at CPL cpl (1 or 3) with the given EFLAGS (bit 1 forced on),
/// DS = ES = FS = GS = SS = that ring's data selector, entered by IRET;
/// returns fn's result. Must be called at CPL 0 with the flat selectors.
uint32_t cpu_run_at(uint32_t cpl, uint32_t (*fn)(uint32_t), uint32_t arg, uint32_t eflags);
/// From a handler, at CPL 0: abandons the cpu_run_at() under way, which
/// returns value.
__attribute__((noreturn)) void cpu_user_return(uint32_t value);

/// Checks that exactly one event happened since cpu_trap_reset() and that it
/// had this vector and error code (0 for vectors without one); clears
/// cpu_resume_eip.
void cpu_check_trap(const char* what, uint32_t vector, uint32_t error);
/// Does cpu_check_trap() and also checks that the saved EIP is the first
/// instruction of the last CPU_TRY() (a fault raised by that instruction).
void cpu_check_fault(const char* what, uint32_t vector, uint32_t error);
/// Checks that no event happened since cpu_trap_reset(); clears cpu_resume_eip.
void cpu_check_no_trap(const char* what);
/// "a" + "b" in a static buffer (for check names); valid until the next call.
const char* cpu_cat(const char* a, const char* b);

/// Inline-asm fragment: runs `insns`; if one of them raises an exception,
/// the dispatcher resumes after them. Only for asm statements with operands
/// (it uses %=). Writes cpu_resume_eip through SS, so DS may be anything.
/* CPU_TRY for code that has just loaded SS with a segment whose base is
 * not 0: the resume address is registered through DS instead. */
#define CPU_TRY_DS(insns)                          \
  "movl $.Lcpu_try_end%=, %%ds:cpu_resume_eip\n\t" \
  "movl $.Lcpu_try_start%=, %%ds:cpu_try_start\n"  \
  ".Lcpu_try_start%=:\n\t" insns                   \
  "\n"                                             \
  ".Lcpu_try_end%=:\n\t"

#define CPU_TRY(insns)                             \
  "movl $.Lcpu_try_end%=, %%ss:cpu_resume_eip\n\t" \
  "movl $.Lcpu_try_start%=, %%ss:cpu_try_start\n"  \
  ".Lcpu_try_start%=:\n\t" insns                   \
  "\n"                                             \
  ".Lcpu_try_end%=:\n\t"

/* System instruction wrappers. */
static inline void cpu_lgdt(const struct cpu_dtr* d) {
  __asm__ volatile("lgdt %0" : : "m"(*d) : "memory");
}
static inline void cpu_lidt(const struct cpu_dtr* d) {
  __asm__ volatile("lidt %0" : : "m"(*d) : "memory");
}
static inline void cpu_sgdt(struct cpu_dtr* d) {
  __asm__ volatile("sgdt %0" : "=m"(*d) : : "memory");
}
static inline void cpu_sidt(struct cpu_dtr* d) {
  __asm__ volatile("sidt %0" : "=m"(*d) : : "memory");
}
static inline void cpu_lldt(uint32_t sel) {
  __asm__ volatile("lldt %w0" : : "r"(sel) : "memory");
}
static inline uint32_t cpu_sldt(void) {
  uint32_t v;
  __asm__ volatile("sldt %0" : "=r"(v));
  return v;
}
static inline void cpu_ltr(uint32_t sel) {
  __asm__ volatile("ltr %w0" : : "r"(sel) : "memory");
}
static inline uint32_t cpu_str(void) {
  uint32_t v;
  __asm__ volatile("str %0" : "=r"(v));
  return v;
}
static inline uint64_t cpu_rdmsr(uint32_t msr) {
  uint32_t lo, hi;
  __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
  return ((uint64_t)hi << 32) | lo;
}
static inline void cpu_wrmsr(uint32_t msr, uint64_t v) {
  __asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}
static inline uint32_t cpu_read_cr0(void) {
  uint32_t v;
  __asm__ volatile("movl %%cr0, %0" : "=r"(v));
  return v;
}
static inline void cpu_write_cr0(uint32_t v) {
  __asm__ volatile("movl %0, %%cr0" : : "r"(v) : "memory");
}
static inline uint32_t cpu_read_cr4(void) {
  uint32_t v;
  __asm__ volatile("movl %%cr4, %0" : "=r"(v));
  return v;
}
static inline void cpu_write_cr4(uint32_t v) {
  __asm__ volatile("movl %0, %%cr4" : : "r"(v) : "memory");
}
static inline uint32_t cpu_read_eflags(void) {
  uint32_t v;
  __asm__ volatile("pushfl\n\tpopl %0" : "=r"(v));
  return v;
}
static inline void cpu_write_eflags(uint32_t v) {
  __asm__ volatile("pushl %0\n\tpopfl" : : "r"(v) : "memory", "cc");
}
/// The segment registers (MOV r32, Sreg: the upper half is zero on P6 and later).
#define CPU_READ_SEG(name)                              \
  static inline uint32_t cpu_read_##name(void) {        \
    uint32_t v;                                         \
    __asm__ volatile("movl %%" #name ", %0" : "=r"(v)); \
    return v;                                           \
  }
CPU_READ_SEG(cs)
CPU_READ_SEG(ds)
CPU_READ_SEG(es)
CPU_READ_SEG(fs)
CPU_READ_SEG(gs)
CPU_READ_SEG(ss)
#undef CPU_READ_SEG
/// LAR: returns ZF; *out gets the access rights when ZF = 1.
static inline int cpu_lar(uint32_t sel, uint32_t* out) {
  uint8_t zf;
  uint32_t v = 0xdeadbeef;
  __asm__ volatile("larl %w2, %0\n\tsetz %1" : "+r"(v), "=q"(zf) : "r"(sel) : "cc");
  *out = v;
  return zf;
}
/// LSL: returns ZF; *out gets the byte-granular limit when ZF = 1.
static inline int cpu_lsl(uint32_t sel, uint32_t* out) {
  uint8_t zf;
  uint32_t v = 0xdeadbeef;
  __asm__ volatile("lsll %w2, %0\n\tsetz %1" : "+r"(v), "=q"(zf) : "r"(sel) : "cc");
  *out = v;
  return zf;
}
/// VERR: ZF = the segment is readable at the current CPL and the RPL.
static inline int cpu_verr(uint32_t sel) {
  uint8_t zf;
  __asm__ volatile("verr %w1\n\tsetz %0" : "=q"(zf) : "r"(sel) : "cc");
  return zf;
}
/// VERW: ZF = the segment is writable at the current CPL and the RPL.
static inline int cpu_verw(uint32_t sel) {
  uint8_t zf;
  __asm__ volatile("verw %w1\n\tsetz %0" : "=q"(zf) : "r"(sel) : "cc");
  return zf;
}

/* EFLAGS system bits (SDM vol. 1, 3.4.3). */
enum {
  kFlagIopl3 = 3u << 12,
  kFlagNt = 1u << 14,
  kFlagRf = 1u << 16,
  kFlagVm = 1u << 17,
  kFlagAc = 1u << 18,
  kFlagId = 1u << 21,
};
#define kFlagIopl(n) ((uint32_t)(n) << 12)

/* MSRs (SDM vol. 4). */
enum {
  kMsrSysenterCs = 0x174,
  kMsrSysenterEsp = 0x175,
  kMsrSysenterEip = 0x176,
};

#endif /* BT86_CPU_H */
