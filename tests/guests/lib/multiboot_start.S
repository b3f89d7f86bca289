/*
 * Entry point of every bt86 test guest: the Multiboot v1 header and _start.
 *
 * The loader (bt86's Multiboot loader, or QEMU's -kernel) enters _start in
 * 32-bit protected mode with flat segments, paging off and interrupts off,
 * EAX = 0x2BADB002 and EBX = the physical address of the multiboot_info
 * structure (Multiboot Specification 0.6.96, section 3.2 "Machine state").
 * _start sets up a 16 KiB stack in .bss and calls
 *     void guest_main(uint32_t magic, uint32_t mbi);
 * If guest_main returns, the guest stops with cli; hlt (bt86: exit status 0).
 *
 * The stub clears nothing: the loader zeroes .bss (the ELF segments' memsz
 * beyond filesz), and guests test that it did.
 */

#define MULTIBOOT_MAGIC 0x1BADB002
/* bit 0: align modules on 4 KiB; bit 1: provide mem_lower/mem_upper. No bit
 * 16: the loader takes the load addresses from the ELF program headers. */
#define MULTIBOOT_FLAGS 0x00000003

    .section .multiboot, "a"
    .p2align 2
multiboot_header:
    .long MULTIBOOT_MAGIC
    .long MULTIBOOT_FLAGS
    .long -(MULTIBOOT_MAGIC + MULTIBOOT_FLAGS)

    .section .bss
    .p2align 4
stack_bottom:
    .skip 16384
stack_top:

    .section .text
    .globl _start
    .type _start, @function
_start:
    movl $stack_top, %esp
    /* i386 SysV ABI: the stack is 16-byte aligned at every call. */
    subl $8, %esp
    pushl %ebx          /* mbi */
    pushl %eax          /* magic */
    call guest_main
    cli
1:  hlt
    jmp 1b
    .size _start, . - _start

    .section .note.GNU-stack, "", @progbits
