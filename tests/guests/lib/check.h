/*
 * check.h: self-checks of the bt86 test guests.
 *
 * A guest groups its checks in sections. A failing check prints one line
 * with what it computed and what the manual says; a section prints
 *     PASS <section> (<n> checks)      or      FAIL <section> (<k> of <n> failed)
 * and check_finish() prints the verdict and exits through port 0xf4 with 0
 * (status 1) when every check passed, else with the number of failed checks
 * (at most 127, so the status stays distinct from the success one).
 */
#ifndef BT86_CHECK_H
#define BT86_CHECK_H

#include "guest.h"

/// Starts a section; ends the previous one if it is still open.
void check_section(const char* name);
/// Ends the current section and prints its PASS/FAIL line.
void check_section_end(void);
/// Records one check of a 32-bit value.
void check_u32(const char* what, uint32_t got, uint32_t want);
/// Records one check of a 64-bit value.
void check_u64(const char* what, uint64_t got, uint64_t want);
/// Records one check of n bytes.
void check_bytes(const char* what, const void* got, const void* want, uint32_t n);
/// Records a check that cond holds.
void check_true(const char* what, int cond);
/// Number of failed checks so far.
uint32_t check_failures(void);
/// Ends the section, prints "<guest>: PASS" or "<guest>: FAIL (<k> checks)"
/// and exits with 0 or min(k, 127).
__attribute__((noreturn)) void check_finish(const char* guest);

/// EFLAGS bits (Intel SDM vol. 1, 3.4.3).
enum {
  kFlagCf = 1u << 0,
  kFlagPf = 1u << 2,
  kFlagAf = 1u << 4,
  kFlagZf = 1u << 6,
  kFlagSf = 1u << 7,
  kFlagTf = 1u << 8,
  kFlagIf = 1u << 9,
  kFlagDf = 1u << 10,
  kFlagOf = 1u << 11,
  kFlagsArith = kFlagCf | kFlagPf | kFlagAf | kFlagZf | kFlagSf | kFlagOf,
};

#endif /* BT86_CHECK_H */
