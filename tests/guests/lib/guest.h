/*
 * guest.h: the freestanding runtime of the bt86 test guests.
 *
 * A guest is a Multiboot v1 kernel (see multiboot_start.S) that implements
 *     void guest_main(uint32_t magic, uint32_t mbi);
 * It prints on COM1 (16550 UART at 0x3f8) and leaves through the test exit
 * port 0xf4 (QEMU isa-debug-exit: process status = (value << 1) | 1), or
 * with cli; hlt (bt86: status 0).
 *
 * Everything here is plain user-level code plus IN/OUT, CLI, HLT and RDTSC,
 * so it runs under bt86 before the guest-privileged parts of it exist.
 */
#ifndef BT86_GUEST_H
#define BT86_GUEST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define GUEST_MULTIBOOT_MAGIC 0x2BADB002u /* EAX at entry (Multiboot 3.2) */
#define GUEST_COM1 0x3f8
#define GUEST_EXIT_PORT 0xf4

/// Entry point every guest defines; called by _start with EAX and EBX.
void guest_main(uint32_t magic, uint32_t mbi);

/// Reads a byte from an I/O port.
static inline uint8_t inb(uint16_t port) {
  uint8_t v;
  __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}
/// Reads a word from an I/O port.
static inline uint16_t inw(uint16_t port) {
  uint16_t v;
  __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}
/// Reads a dword from an I/O port.
static inline uint32_t inl(uint16_t port) {
  uint32_t v;
  __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}
/// Writes a byte to an I/O port.
static inline void outb(uint16_t port, uint8_t v) {
  __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}
/// Writes a word to an I/O port.
static inline void outw(uint16_t port, uint16_t v) {
  __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}
/// Writes a dword to an I/O port.
static inline void outl(uint16_t port, uint32_t v) {
  __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

/// Reads the time-stamp counter (RDTSC): EDX:EAX.
static inline uint64_t rdtsc(void) {
  uint32_t lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return ((uint64_t)hi << 32) | lo;
}

/// Writes one character to COM1, after polling LSR bit 5 (THR empty).
void serial_putc(char c);
/// Writes a NUL-terminated string to COM1 ("\n" is sent as is, no CR).
void serial_puts(const char* s);
/// Writes v as "0x" and 8 lower-case hex digits, e.g. 0x0000beef.
void serial_put_hex(uint32_t v);
/// Writes v in decimal.
void serial_put_dec(uint32_t v);
/// A small printf to COM1. Conversions: %s %c %d %i %u %x %X %p %%, with the
/// flags '-' and '0', a field width (digits or '*'), and the length
/// modifiers l (ignored) and ll (64-bit: %lld %llu %llx). No floating point.
void serial_printf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
/// serial_printf with a va_list.
void serial_vprintf(const char* fmt, va_list ap);

/// Writes value to the exit port 0xf4 (32-bit OUT): QEMU and bt86 exit with
/// status (value << 1) | 1. Falls back to cli; hlt if the write returns.
__attribute__((noreturn)) void guest_exit(uint32_t value);
/// Stops the guest with cli; hlt (bt86: exit status 0; QEMU: hangs).
__attribute__((noreturn)) void guest_halt(void);

/// The C library functions gcc may emit calls to.
void* memcpy(void* dst, const void* src, size_t n);
void* memmove(void* dst, const void* src, size_t n);
void* memset(void* dst, int c, size_t n);
int memcmp(const void* a, const void* b, size_t n);
size_t strlen(const char* s);
int strcmp(const char* a, const char* b);

#endif /* BT86_GUEST_H */
