/* Bare-metal platform for the bench workload: polled 16550 on COM1, RDTSC,
 * and an exit through the isa-debug-exit port.
 *
 * Deliberately tiny and independent of tests/guests/lib so the benchmark
 * guest does not change when the test runtime does. Output is polled on LSR
 * bit 5 (THRE); the UART is left as firmware/the VMM set it up.
 */
#include "platform.h"

enum {
  kCom1 = 0x3f8,
  kCom1Lsr = kCom1 + 5,
  kLsrThre = 0x20,
  kDebugExitPort = 0xf4,
};

static inline void Outb(uint16_t port, uint8_t v) {
  __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t Inb(uint16_t port) {
  uint8_t v;
  __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}

static void SerialPutc(char c) {
  /* Bounded so a UART model that never sets THRE cannot hang the run. */
  for (int i = 0; i < 100000 && !(Inb(kCom1Lsr) & kLsrThre); ++i) {
  }
  Outb(kCom1, (uint8_t)c);
}

void bench_print(const char* s) {
  for (; *s; ++s) SerialPutc(*s);
}

void bench_print_u64(uint64_t v) {
  /* Repeated subtraction of powers of ten: no 64-bit division (libgcc). */
  static const uint64_t kPow10[] = {10000000000000000000ull,
                                    1000000000000000000ull,
                                    100000000000000000ull,
                                    10000000000000000ull,
                                    1000000000000000ull,
                                    100000000000000ull,
                                    10000000000000ull,
                                    1000000000000ull,
                                    100000000000ull,
                                    10000000000ull,
                                    1000000000ull,
                                    100000000ull,
                                    10000000ull,
                                    1000000ull,
                                    100000ull,
                                    10000ull,
                                    1000ull,
                                    100ull,
                                    10ull,
                                    1ull};
  char buf[24];
  int n = 0;
  for (unsigned i = 0; i < sizeof kPow10 / sizeof kPow10[0]; ++i) {
    char d = '0';
    while (v >= kPow10[i]) {
      v -= kPow10[i];
      ++d;
    }
    if (d != '0' || n > 0 || i + 1 == sizeof kPow10 / sizeof kPow10[0]) buf[n++] = d;
  }
  buf[n] = 0;
  bench_print(buf);
}

uint64_t bench_ticks(void) {
  uint32_t lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return ((uint64_t)hi << 32) | lo;
}

void bench_finish(void) {
  Outb(kDebugExitPort, 0); /* QEMU/bt86: exit status (0 << 1) | 1 = 1 */
  for (;;) __asm__ volatile("cli; hlt");
}

/* GCC may emit calls to these even in freestanding code. String instructions
 * rather than loops, which GCC could turn back into calls to themselves. */
void* memset(void* d, int c, __SIZE_TYPE__ n) {
  void* p = d;
  __asm__ volatile("rep stosb" : "+D"(p), "+c"(n) : "a"(c) : "memory");
  return d;
}

void* memcpy(void* d, const void* s, __SIZE_TYPE__ n) {
  void* p = d;
  __asm__ volatile("rep movsb" : "+D"(p), "+S"(s), "+c"(n) : : "memory");
  return d;
}
