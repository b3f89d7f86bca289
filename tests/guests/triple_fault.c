/*
 * triple_fault: a guest that shuts the machine down on purpose (Intel SDM
 * vol. 3, 6.15 interrupt 8: "If another contributory or page fault
 * exception occurs while attempting to call the double-fault handler, the
 * processor enters shutdown mode").
 *
 * With an IDT whose limit is 0, a divide error cannot be delivered: reading
 * IDT[0] raises #GP(0*8+2+1) during the delivery of #DE, two contributory
 * exceptions, so #DF; reading IDT[8] for the #DF fails too: shutdown. A PC turns shutdown into a
 * reset; QEMU with -no-reboot exits with status 0 instead. What bt86 does is its own documented
 * exit status (the expected file says `# bt86: pending` until the lead sets it).
 *
 * The guest prints one line first; anything printed after it is a failure.
 */
#include "cpu.h"

void guest_main(uint32_t magic, uint32_t mbi) {
  (void)magic;
  (void)mbi;
  cpu_init();
  serial_puts(
      "triple_fault: IDT limit 0, then a divide by zero: #DE, #GP delivering it = #DF, shutdown\n");
  static const struct cpu_dtr empty = {0, 0};
  cpu_lidt(&empty);
  uint32_t a = 1, d = 0;
  __asm__ volatile("divl %2" : "+a"(a), "+d"(d) : "r"(0) : "cc", "memory");
  serial_puts("triple_fault: FAIL (still running after the divide)\n");
  guest_exit(0x7f);
}
