/*
 * hello: the smallest guest. Prints a greeting and a few serial_printf
 * conversions, checks the Multiboot magic, and exits through port 0xf4 with
 * 0x31 (process status 0x63 = 99), without CPUID, flags or string tricks:
 * the first guest a new translator should run.
 */
#include "guest.h"

void guest_main(uint32_t magic, uint32_t mbi) {
  (void)mbi;
  serial_puts("Hello from a bt86 test guest!\n");
  serial_puts("multiboot magic: ");
  serial_put_hex(magic);
  serial_puts(magic == GUEST_MULTIBOOT_MAGIC ? " (ok)\n" : " (WRONG)\n");
  serial_puts("decimal: ");
  serial_put_dec(4294967295u);
  serial_putc('\n');
  serial_printf("printf: [%s] [%c] [%d] [%u] [%x] [%X] [%08x] [%5d] [%-5d] [%05d] [%llu] [%%]\n",
                "str", 'c', -42, 3000000000u, 0xbeefu, 0xbeefu, 0x1234u, 42, 42, -42,
                18446744073709551615ull);
  serial_puts("goodbye: exit 0x31\n");
  guest_exit(magic == GUEST_MULTIBOOT_MAGIC ? 0x31 : 0x32);
}
