/*
 * kernels.S: the timed loops of the nanobenchmarks (see nano.h), and the
 * CPL-0 ends of the ones that trap. Assembled unchanged into the native
 * program and into the guest, so both run the very same bytes.
 *
 * Every kernel is `uint64_t kernel(uint32_t n)` (cdecl; EBX, ESI, EDI and
 * EBP preserved) and has this shape:
 *
 *     rdtsc -> start (on the stack)
 *     counter = n, setup
 *  1: operation
 *     dec counter; jnz 1b          <- nano_empty_loop times only this
 *     rdtsc - start -> EDX:EAX
 *
 * The counter is ECX except in nano_syscall_sysenter, where SYSEXIT takes
 * the return ESP in ECX. n must be at least 1.
 *
 * The trap ends, used only by the guest (nano_guest.c installs them):
 *   nano_int80_entry     IDT 0x80, DPL-3 trap gate: IRET.
 *   nano_sysenter_entry  SYSENTER_EIP: SYSEXIT (ECX = ESP, EDX = EIP as
 *                        the caller set them).
 *   nano_de_entry        IDT 0 (#DE, a fault: the saved EIP is the DIV's),
 *                        interrupt gate: skip the DIV, IRET.
 */
#include "nano.h"

/* KERNEL_BEGIN name [counter]: the prologue, up to `counter = n`. */
.macro KERNEL_BEGIN name, counter=%ecx
    .text
    .globl \name
    .type \name, @function
    .p2align 4
\name:
    pushl %ebp
    pushl %ebx
    pushl %esi
    pushl %edi
    rdtsc
    pushl %edx
    pushl %eax
    movl 28(%esp), \counter         /* n: 4 saved + 2 TSC words + return */
.endm

/* KERNEL_LOOP counter: the loop's back edge to label 1. */
.macro KERNEL_LOOP counter=%ecx
    decl \counter
    jnz 1b
.endm

/* KERNEL_END name: the elapsed ticks and the epilogue. */
.macro KERNEL_END name
    rdtsc
    subl (%esp), %eax
    sbbl 4(%esp), %edx
    addl $8, %esp
    popl %edi
    popl %esi
    popl %ebx
    popl %ebp
    ret
    .size \name, . - \name
.endm

KERNEL_BEGIN nano_empty_loop
    .p2align 4
1:  KERNEL_LOOP
KERNEL_END nano_empty_loop

/* Four ALU operations, each consuming the last one's result (and flags
 * written by all four): the translated code's straight-line cost. */
KERNEL_BEGIN nano_alu
    movl $0x9e3779b9, %eax
    movl $0x7f4a7c15, %edx
    .p2align 4
1:  addl %edx, %eax
    xorl %ecx, %eax
    roll $5, %eax
    subl $0x01234567, %eax
    KERNEL_LOOP
KERNEL_END nano_alu

KERNEL_BEGIN nano_call_ret
    .p2align 4
1:  call nano_ret
    KERNEL_LOOP
KERNEL_END nano_call_ret

    .p2align 4
nano_ret:
    ret

KERNEL_BEGIN nano_pushf_popf
    .p2align 4
1:  pushfl
    popfl
    KERNEL_LOOP
KERNEL_END nano_pushf_popf

KERNEL_BEGIN nano_cli_sti
    .p2align 4
1:  cli
    sti
    KERNEL_LOOP
KERNEL_END nano_cli_sti

KERNEL_BEGIN nano_in
    movl $NANO_IN_PORT, %edx
    .p2align 4
1:  inb %dx, %al
    KERNEL_LOOP
KERNEL_END nano_in

KERNEL_BEGIN nano_out
    movl $NANO_OUT_PORT, %edx
    xorl %eax, %eax
    .p2align 4
1:  outb %al, %dx
    KERNEL_LOOP
KERNEL_END nano_out

/* DIV by EBX = 0 faults before it writes anything, so EAX and EDX need no
 * setup; the #DE handler resumes NANO_DIV_INSN_LEN bytes further. */
KERNEL_BEGIN nano_divzero_fault
    xorl %ebx, %ebx
    .p2align 4
1:  divl %ebx
2:  KERNEL_LOOP
    .if (2b - 1b) != NANO_DIV_INSN_LEN
    .error "divl %ebx is not NANO_DIV_INSN_LEN bytes long"
    .endif
KERNEL_END nano_divzero_fault

KERNEL_BEGIN nano_syscall_int80
    .p2align 4
1:  int $0x80
    KERNEL_LOOP
KERNEL_END nano_syscall_int80

/* The SYSENTER convention of Linux's vDSO: the caller passes its ESP in ECX
 * and where to come back in EDX, which SYSEXIT loads. */
KERNEL_BEGIN nano_syscall_sysenter, %esi
    .p2align 4
1:  movl %esp, %ecx
    movl $2f, %edx
    sysenter
2:  KERNEL_LOOP %esi
KERNEL_END nano_syscall_sysenter

/* ---- The CPL-0 ends (guest only) ---------------------------------------- */

    .text
    .globl nano_int80_entry
    .type nano_int80_entry, @function
    .p2align 4
nano_int80_entry:
    iretl
    .size nano_int80_entry, . - nano_int80_entry

    .globl nano_sysenter_entry
    .type nano_sysenter_entry, @function
    .p2align 4
nano_sysenter_entry:
    sysexit
    .size nano_sysenter_entry, . - nano_sysenter_entry

    .globl nano_de_entry
    .type nano_de_entry, @function
    .p2align 4
nano_de_entry:
    addl $NANO_DIV_INSN_LEN, (%esp)
    iretl
    .size nano_de_entry, . - nano_de_entry

    .section .note.GNU-stack, "", @progbits
