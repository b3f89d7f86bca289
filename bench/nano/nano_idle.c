/*
 * nano_idle.c: a guest that prints one line and exits at once, like nano.elf
 * does at its end. bench/run_nano.sh times it under each runner to subtract
 * start-up and exit from the wall time when it checks that the guest's RDTSC
 * runs at the host's rate.
 */
#include "guest.h"

void guest_main(uint32_t magic, uint32_t mbi) {
  (void)magic;
  (void)mbi;
  serial_puts("nano idle\n");
  guest_exit(0);
}
