/*
 * check.c: the self-check bookkeeping of the bt86 test guests (check.h).
 */
#include "check.h"

static const char* section_name;
static uint32_t section_checks, section_failed, total_failed;

void check_section_end(void) {
  if (!section_name) return;
  if (section_failed)
    serial_printf("FAIL %s (%u of %u failed)\n", section_name, section_failed, section_checks);
  else
    serial_printf("PASS %s (%u checks)\n", section_name, section_checks);
  section_name = 0;
}

void check_section(const char* name) {
  check_section_end();
  section_name = name;
  section_checks = 0;
  section_failed = 0;
}

static void Record(int ok) {
  section_checks++;
  if (!ok) {
    section_failed++;
    total_failed++;
  }
}

void check_u32(const char* what, uint32_t got, uint32_t want) {
  Record(got == want);
  if (got != want)
    serial_printf("  FAIL %s: %s: got 0x%08x want 0x%08x\n", section_name, what, got, want);
}

void check_u64(const char* what, uint64_t got, uint64_t want) {
  Record(got == want);
  if (got != want)
    serial_printf("  FAIL %s: %s: got 0x%016llx want 0x%016llx\n", section_name, what, got, want);
}

void check_bytes(const char* what, const void* got, const void* want, uint32_t n) {
  const uint8_t* g = got;
  const uint8_t* w = want;
  uint32_t i = 0;
  while (i < n && g[i] == w[i]) i++;
  Record(i == n);
  if (i != n)
    serial_printf("  FAIL %s: %s: byte %u of %u: got 0x%02x want 0x%02x\n", section_name, what, i,
                  n, g[i], w[i]);
}

void check_true(const char* what, int cond) {
  Record(cond);
  if (!cond) serial_printf("  FAIL %s: %s\n", section_name, what);
}

uint32_t check_failures(void) {
  return total_failed;
}

void check_finish(const char* guest) {
  check_section_end();
  if (total_failed) {
    serial_printf("%s: FAIL (%u checks)\n", guest, total_failed);
    guest_exit(total_failed > 127 ? 127 : total_failed);
  }
  serial_printf("%s: PASS\n", guest);
  guest_exit(0);
}
