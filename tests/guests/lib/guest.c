/*
 * guest.c: COM1 output, a small printf, the exit paths and the C library
 * functions of the bt86 test guests (see guest.h).
 *
 * The UART is driven the way a polling kernel drives a 16550: wait for
 * LSR.THRE (bit 5), then write THR. No initialization: the guests do not
 * depend on the baud rate, and both bt86 and QEMU ignore it.
 *
 * Built with -fno-tree-loop-distribute-patterns so that gcc does not turn
 * the loops of memset/memcpy into calls to themselves.
 */
#include "guest.h"

enum {
  kUartThr = 0, /* transmit holding register (write, DLAB = 0) */
  kUartLsr = 5, /* line status register */
  kLsrThre = 0x20,
};

void serial_putc(char c) {
  while ((inb(GUEST_COM1 + kUartLsr) & kLsrThre) == 0) {
  }
  outb(GUEST_COM1 + kUartThr, (uint8_t)c);
}

void serial_puts(const char* s) {
  while (*s) serial_putc(*s++);
}

static const char kDigits[] = "0123456789abcdef";
static const char kDigitsUpper[] = "0123456789ABCDEF";

void serial_put_hex(uint32_t v) {
  serial_putc('0');
  serial_putc('x');
  for (int shift = 28; shift >= 0; shift -= 4) serial_putc(kDigits[(v >> shift) & 0xf]);
}

void serial_put_dec(uint32_t v) {
  char buf[12];
  int n = 0;
  do {
    buf[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (n) serial_putc(buf[--n]);
}

/* Divides *n by base (2..16) and returns the remainder, with 32-bit DIVs
 * only, so that printing a uint64_t needs no libgcc helper. */
static uint32_t DivMod64(uint64_t* n, uint32_t base) {
  uint32_t hi = (uint32_t)(*n >> 32), lo = (uint32_t)*n;
  uint32_t q_hi = hi / base, r = hi % base, q_lo;
  __asm__("divl %[d]" : "=a"(q_lo), "=d"(r) : "a"(lo), "d"(r), [d] "rm"(base));
  *n = ((uint64_t)q_hi << 32) | q_lo;
  return r;
}

/* Formats one integer conversion into out[]; returns its length. */
static int FormatInt(char* out, uint64_t v, int negative, uint32_t base, int upper) {
  const char* digits = upper ? kDigitsUpper : kDigits;
  char tmp[24];
  int n = 0;
  do {
    tmp[n++] = digits[DivMod64(&v, base)];
  } while (v);
  int len = 0;
  if (negative) out[len++] = '-';
  while (n) out[len++] = tmp[--n];
  return len;
}

static void PutPadded(const char* s, int len, int width, int left, char pad) {
  /* Zero padding goes between the sign and the digits. */
  if (!left && pad == '0' && len > 0 && s[0] == '-') {
    serial_putc('-');
    s++;
    len--;
    width--;
  }
  if (!left)
    for (int i = len; i < width; i++) serial_putc(pad);
  for (int i = 0; i < len; i++) serial_putc(s[i]);
  if (left)
    for (int i = len; i < width; i++) serial_putc(' ');
}

void serial_vprintf(const char* fmt, va_list ap) {
  for (; *fmt; fmt++) {
    if (*fmt != '%') {
      serial_putc(*fmt);
      continue;
    }
    fmt++;
    int left = 0;
    char pad = ' ';
    for (;; fmt++) {
      if (*fmt == '-')
        left = 1;
      else if (*fmt == '0')
        pad = '0';
      else
        break;
    }
    int width = 0;
    if (*fmt == '*') {
      width = va_arg(ap, int);
      fmt++;
    } else {
      while (*fmt >= '0' && *fmt <= '9') width = width * 10 + (*fmt++ - '0');
    }
    int longs = 0;
    while (*fmt == 'l') {
      longs++;
      fmt++;
    }
    char buf[32];
    int len;
    switch (*fmt) {
      case 's': {
        const char* s = va_arg(ap, const char*);
        if (!s) s = "(null)";
        PutPadded(s, (int)strlen(s), width, left, ' ');
        break;
      }
      case 'c':
        buf[0] = (char)va_arg(ap, int);
        PutPadded(buf, 1, width, left, ' ');
        break;
      case 'd':
      case 'i': {
        int64_t v = longs >= 2 ? va_arg(ap, int64_t) : va_arg(ap, int32_t);
        uint64_t mag = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
        len = FormatInt(buf, mag, v < 0, 10, 0);
        PutPadded(buf, len, width, left, pad);
        break;
      }
      case 'u':
      case 'x':
      case 'X': {
        uint64_t v = longs >= 2 ? va_arg(ap, uint64_t) : va_arg(ap, uint32_t);
        len = FormatInt(buf, v, 0, *fmt == 'u' ? 10 : 16, *fmt == 'X');
        PutPadded(buf, len, width, left, pad);
        break;
      }
      case 'p': {
        uint32_t v = (uint32_t)(uintptr_t)va_arg(ap, void*);
        buf[0] = '0';
        buf[1] = 'x';
        len = 2 + FormatInt(buf + 2, v, 0, 16, 0);
        PutPadded(buf, len, width, left, ' ');
        break;
      }
      case '%':
        serial_putc('%');
        break;
      case '\0':
        return;
      default: /* unknown conversion: print it verbatim */
        serial_putc('%');
        serial_putc(*fmt);
        break;
    }
  }
}

void serial_printf(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  serial_vprintf(fmt, ap);
  va_end(ap);
}

void guest_halt(void) {
  for (;;) __asm__ volatile("cli; hlt");
}

void guest_exit(uint32_t value) {
  outl(GUEST_EXIT_PORT, value);
  guest_halt();
}

void* memcpy(void* dst, const void* src, size_t n) {
  uint8_t* d = dst;
  const uint8_t* s = src;
  while (n--) *d++ = *s++;
  return dst;
}

void* memmove(void* dst, const void* src, size_t n) {
  uint8_t* d = dst;
  const uint8_t* s = src;
  if (d < s) {
    while (n--) *d++ = *s++;
  } else {
    while (n--) d[n] = s[n];
  }
  return dst;
}

void* memset(void* dst, int c, size_t n) {
  uint8_t* d = dst;
  while (n--) *d++ = (uint8_t)c;
  return dst;
}

int memcmp(const void* a, const void* b, size_t n) {
  const uint8_t* x = a;
  const uint8_t* y = b;
  for (size_t i = 0; i < n; i++)
    if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
  return 0;
}

size_t strlen(const char* s) {
  size_t n = 0;
  while (s[n]) n++;
  return n;
}

int strcmp(const char* a, const char* b) {
  while (*a && *a == *b) {
    a++;
    b++;
  }
  return (uint8_t)*a - (uint8_t)*b;
}
