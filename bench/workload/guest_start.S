/* Multiboot v1 entry for the bench workload guest (Multiboot 0.6.96, 3.1).
 *
 * The loader enters in 32-bit protected mode, paging off, flat CS/DS, IF=0,
 * EAX = 0x2badb002, EBX = info pointer; none of that is needed here. We clear
 * .bss (loaders need not), switch to our own 64 KiB stack, clear EFLAGS.DF,
 * call bench_main and stop with cli; hlt if it ever returns.
 */
#define MB_MAGIC 0x1badb002
#define MB_FLAGS 0x3 /* page-align modules, want memory info */

        .section .multiboot, "a"
        .balign 4
        .long MB_MAGIC
        .long MB_FLAGS
        .long -(MB_MAGIC + MB_FLAGS)

        .section .bss
        .balign 16
stack_bottom:
        .skip 65536
stack_top:

        .section .text
        .globl _start
        .type _start, @function
_start:
        cld
        movl $stack_top, %esp
        movl $__bss_start, %edi
        movl $__bss_end, %ecx
        subl %edi, %ecx
        xorl %eax, %eax
        rep stosb
        call bench_main
1:      cli
        hlt
        jmp 1b
        .size _start, . - _start

        .section .note.GNU-stack, "", @progbits
