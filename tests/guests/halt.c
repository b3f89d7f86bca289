/*
 * halt: prints one line, then stops with cli; hlt. bt86 treats HLT with
 * interrupts disabled as the end of the guest and exits with status 0.
 * QEMU has no such rule: it sits halted forever, so the QEMU run of this
 * guest is stopped by the driver once the output is complete.
 */
#include "guest.h"

void guest_main(uint32_t magic, uint32_t mbi) {
  (void)magic;
  (void)mbi;
  serial_puts("halt: interrupts off, executing hlt\n");
  guest_halt();
}
