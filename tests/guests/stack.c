/*
 * stack: the stack instructions and their corner cases, per the Intel SDM
 * vol. 2 pages of PUSH, POP, PUSHA, POPA, ENTER and LEAVE. bt86 keeps guest
 * ESP in host RSP, so every instruction that reads or writes ESP as data is
 * worth a check.
 *
 * Sections: push/pop of register, memory and immediates (imm8 is
 * sign-extended); PUSHA image layout and POPA skipping the ESP slot, also
 * with 16-bit operands; PUSH ESP (pushes the old value), POP ESP (loads the
 * popped value), POP [ESP+4] (the address uses ESP after the increment),
 * PUSH [ESP+4] (the address uses ESP before the decrement); ENTER with
 * nesting levels 0, 1 and 2 and LEAVE; 16-bit PUSH/POP (0x66): immediates,
 * registers (upper half kept), memory, PUSHFW/POPFW.
 *
 * The tests are assembly functions that record what they see in `out`;
 * C compares. Values that depend on where the stack is are recorded as
 * differences from the ESP at the start.
 */
#include "check.h"

void StackPushPop(uint32_t* out);
void StackPusha(uint32_t* out);
void StackEspOperand(uint32_t* out);
void StackEnterLeave(uint32_t* out);
void StackPush16(uint32_t* out);

uint32_t stack_mem_src = 0xcafef00d;
uint32_t stack_mem_dst;
uint16_t stack_mem16_src = 0x2222;
uint32_t stack_mem16_dst;
uint32_t stack_fake_frame[4] = {0x11111111, 0xdeadbeef, 0x33333333, 0x44444444};

__asm__(
    ".text\n"
    /* out[0] = bytes pushed by push imm8, imm32, mem; out[1..3] = popped
     * values; out[4] = what pop mem stored; out[5] = push reg/pop reg. */
    ".globl StackPushPop\n"
    "StackPushPop:\n"
    "  pushl %ebx\n"
    "  pushl %esi\n"
    "  movl 12(%esp), %ecx\n"
    "  movl %esp, %esi\n"
    "  pushl $-1\n"
    "  pushl $0x12345678\n"
    "  pushl stack_mem_src\n"
    "  movl %esi, %eax\n"
    "  subl %esp, %eax\n"
    "  movl %eax, 0(%ecx)\n"
    "  popl stack_mem_dst\n"
    "  popl %eax\n"
    "  movl %eax, 4(%ecx)\n"
    "  popl %eax\n"
    "  movl %eax, 8(%ecx)\n"
    "  movl stack_mem_dst, %eax\n"
    "  movl %eax, 12(%ecx)\n"
    "  movl %esi, %eax\n"
    "  subl %esp, %eax\n"
    "  movl %eax, 16(%ecx)\n"
    "  movl $0xabcdef01, %ebx\n"
    "  pushl %ebx\n"
    "  popl %edx\n"
    "  movl %edx, 20(%ecx)\n"
    "  popl %esi\n"
    "  popl %ebx\n"
    "  ret\n"

    /* out[0..7] = the PUSHA image from the lowest address, out[8] = ESP
     * before PUSHA, out[9..16] = eax ecx edx ebx esp ebp esi edi after a
     * POPA of an image whose ESP slot was overwritten and EAX slot changed,
     * out[17..24] = the PUSHAW image (16-bit words, one per dword), out[25] =
     * bytes pushed by PUSHAW, out[26] = EAX after POPAW (upper half kept). */
    ".globl StackPusha\n"
    "StackPusha:\n"
    "  pushl %ebp\n"
    "  pushl %ebx\n"
    "  pushl %esi\n"
    "  pushl %edi\n"
    "  movl 20(%esp), %edi\n"
    "  movl %edi, stack_out\n"
    "  movl $0xa0, %eax\n"
    "  movl $0xc0, %ecx\n"
    "  movl $0xd0, %edx\n"
    "  movl $0xb0, %ebx\n"
    "  movl $0xbe, %ebp\n"
    "  movl $0x51, %esi\n"
    "  movl $0xd1, %edi\n"
    "  movl %esp, stack_esp_before\n"
    "  pushal\n"
    "  movl stack_out, %edi\n"
    "  movl 0(%esp), %eax\n  movl %eax, 0(%edi)\n"
    "  movl 4(%esp), %eax\n  movl %eax, 4(%edi)\n"
    "  movl 8(%esp), %eax\n  movl %eax, 8(%edi)\n"
    "  movl 12(%esp), %eax\n  movl %eax, 12(%edi)\n"
    "  movl 16(%esp), %eax\n  movl %eax, 16(%edi)\n"
    "  movl 20(%esp), %eax\n  movl %eax, 20(%edi)\n"
    "  movl 24(%esp), %eax\n  movl %eax, 24(%edi)\n"
    "  movl 28(%esp), %eax\n  movl %eax, 28(%edi)\n"
    "  movl stack_esp_before, %eax\n  movl %eax, 32(%edi)\n"
    "  movl $0x12345678, 12(%esp)\n"
    "  movl $0xa1, 28(%esp)\n"
    "  popal\n"
    "  movl %edi, stack_tmp\n"
    "  movl stack_out, %edi\n"
    "  movl %eax, 36(%edi)\n"
    "  movl %ecx, 40(%edi)\n"
    "  movl %edx, 44(%edi)\n"
    "  movl %ebx, 48(%edi)\n"
    "  movl %esp, 52(%edi)\n"
    "  movl %ebp, 56(%edi)\n"
    "  movl %esi, 60(%edi)\n"
    "  movl stack_tmp, %eax\n"
    "  movl %eax, 64(%edi)\n"
    /* PUSHAW: AX CX DX BX SP BP SI DI as words. */
    "  movl $0xffff1001, %eax\n"
    "  movl $0xffff1002, %ecx\n"
    "  movl $0xffff1003, %edx\n"
    "  movl $0xffff1004, %ebx\n"
    "  movl $0xffff1006, %ebp\n"
    "  movl $0xffff1007, %esi\n"
    "  movl $0xffff1008, %edi\n"
    "  movl %esp, stack_esp_before\n"
    "  pushaw\n"
    "  movl stack_out, %edi\n"
    "  movl stack_esp_before, %ebx\n"
    "  subl %esp, %ebx\n"
    "  movl %ebx, 100(%edi)\n"
    "  movzwl 0(%esp), %eax\n  movl %eax, 68(%edi)\n"
    "  movzwl 2(%esp), %eax\n  movl %eax, 72(%edi)\n"
    "  movzwl 4(%esp), %eax\n  movl %eax, 76(%edi)\n"
    "  movzwl 6(%esp), %eax\n  subw stack_esp_before, %ax\n  movl %eax, 80(%edi)\n"
    "  movzwl 8(%esp), %eax\n  movl %eax, 84(%edi)\n"
    "  movzwl 10(%esp), %eax\n  movl %eax, 88(%edi)\n"
    "  movzwl 12(%esp), %eax\n  movl %eax, 92(%edi)\n"
    "  movzwl 14(%esp), %eax\n  movl %eax, 96(%edi)\n"
    "  movw $0x2001, 14(%esp)\n"
    "  movl $0x5555aaaa, %eax\n"
    "  popaw\n"
    "  movl stack_out, %edi\n"
    "  movl %eax, 104(%edi)\n"
    "  popl %edi\n"
    "  popl %esi\n"
    "  popl %ebx\n"
    "  popl %ebp\n"
    "  ret\n"

    /* out[0] = (ESP before PUSH ESP) - (value pushed); out[1] = ESP before
     * minus ESP after POP ESP of (ESP - 64); out[2..3] = the two dwords left
     * after POP [ESP+4]; out[4] = PUSH [ESP+4] result; out[5] = PUSH [ESP]. */
    ".globl StackEspOperand\n"
    "StackEspOperand:\n"
    "  pushl %ebx\n"
    "  movl 8(%esp), %ecx\n"
    "  movl %esp, %eax\n"
    "  pushl %esp\n"
    "  popl %edx\n"
    "  subl %edx, %eax\n"
    "  movl %eax, 0(%ecx)\n"
    "  movl %esp, %ebx\n"
    "  leal -64(%esp), %eax\n"
    "  pushl %eax\n"
    "  popl %esp\n"
    "  movl %esp, %edx\n"
    "  movl %ebx, %esp\n"
    "  subl %edx, %ebx\n"
    "  movl %ebx, 4(%ecx)\n"
    "  pushl $0xaaaa\n"
    "  pushl $0xbbbb\n"
    "  pushl $0xcccc\n"
    "  popl 4(%esp)\n"
    "  popl %eax\n"
    "  movl %eax, 8(%ecx)\n"
    "  popl %eax\n"
    "  movl %eax, 12(%ecx)\n"
    "  pushl $1\n"
    "  pushl $2\n"
    "  pushl 4(%esp)\n"
    "  popl %eax\n"
    "  movl %eax, 16(%ecx)\n"
    "  pushl (%esp)\n"
    "  popl %eax\n"
    "  movl %eax, 20(%ecx)\n"
    "  addl $8, %esp\n"
    "  popl %ebx\n"
    "  ret\n"

    /* ENTER/LEAVE; S is ESP at the ENTER. out[0] = S - EBP, out[1] = S - ESP,
     * out[2] = [S-4], out[3] = EBP after LEAVE, out[4] = S - ESP after LEAVE,
     * for level 0; out[5..7] level 1: S - EBP, S - ESP, S - [S-8];
     * out[8..14] level 2: S - EBP, S - ESP, [S-8], S - [S-12], [S-4] - F,
     * EBP - F and S - ESP after LEAVE, where EBP = F on entry. */
    ".globl StackEnterLeave\n"
    "StackEnterLeave:\n"
    "  pushl %ebp\n"
    "  pushl %ebx\n"
    "  pushl %esi\n"
    "  movl 16(%esp), %ecx\n"
    "  movl %esp, %esi\n"
    "  movl $0xb0b0b0b0, %ebp\n"
    "  enter $16, $0\n"
    "  movl %esi, %eax\n  subl %ebp, %eax\n  movl %eax, 0(%ecx)\n"
    "  movl %esi, %eax\n  subl %esp, %eax\n  movl %eax, 4(%ecx)\n"
    "  movl -4(%esi), %eax\n  movl %eax, 8(%ecx)\n"
    "  leave\n"
    "  movl %ebp, 12(%ecx)\n"
    "  movl %esi, %eax\n  subl %esp, %eax\n  movl %eax, 16(%ecx)\n"
    "  movl $0xb1b1b1b1, %ebp\n"
    "  enter $8, $1\n"
    "  movl %esi, %eax\n  subl %ebp, %eax\n  movl %eax, 20(%ecx)\n"
    "  movl %esi, %eax\n  subl %esp, %eax\n  movl %eax, 24(%ecx)\n"
    "  movl %esi, %eax\n  subl -8(%esi), %eax\n  movl %eax, 28(%ecx)\n"
    "  leave\n"
    "  movl $stack_fake_frame + 8, %ebp\n"
    "  enter $12, $2\n"
    "  movl %esi, %eax\n  subl %ebp, %eax\n  movl %eax, 32(%ecx)\n"
    "  movl %esi, %eax\n  subl %esp, %eax\n  movl %eax, 36(%ecx)\n"
    "  movl -8(%esi), %eax\n  movl %eax, 40(%ecx)\n"
    "  movl %esi, %eax\n  subl -12(%esi), %eax\n  movl %eax, 44(%ecx)\n"
    "  movl -4(%esi), %eax\n  subl $stack_fake_frame + 8, %eax\n  movl %eax, 48(%ecx)\n"
    "  leave\n"
    "  movl %ebp, %eax\n  subl $stack_fake_frame + 8, %eax\n  movl %eax, 52(%ecx)\n"
    "  movl %esi, %eax\n  subl %esp, %eax\n  movl %eax, 56(%ecx)\n"
    "  popl %esi\n"
    "  popl %ebx\n"
    "  popl %ebp\n"
    "  ret\n"

    /* 16-bit pushes and pops. out[0] = bytes pushed by two PUSHW imm,
     * out[1] = the dword they form, out[2] = PUSHW reg + PUSHW mem as a
     * dword, out[3] = EDX after two POPW DX, out[4] = the dword two POPW mem
     * wrote, out[5] = PUSHFW word (arithmetic flags and DF), out[6] = bytes
     * PUSHFW pushed, out[7] = EFLAGS after POPFW of 0x0001 (CF), out[8] = ESP
     * change over the whole function body (0). */
    ".globl StackPush16\n"
    "StackPush16:\n"
    "  pushl %ebx\n"
    "  pushl %esi\n"
    "  movl 12(%esp), %ecx\n"
    "  movl %esp, %esi\n"
    "  pushw $0x1234\n"
    "  pushw $-2\n"
    "  movl %esi, %eax\n  subl %esp, %eax\n  movl %eax, 0(%ecx)\n"
    "  popl %eax\n"
    "  movl %eax, 4(%ecx)\n"
    "  movl $0xabcd1111, %ebx\n"
    "  pushw %bx\n"
    "  pushw stack_mem16_src\n"
    "  popl %eax\n"
    "  movl %eax, 8(%ecx)\n"
    "  pushl $0x55667788\n"
    "  movl $0xffffffff, %edx\n"
    "  popw %dx\n"
    "  popw %dx\n"
    "  movl %edx, 12(%ecx)\n"
    "  pushl $0x99aabbcc\n"
    "  popw stack_mem16_dst\n"
    "  popw stack_mem16_dst + 2\n"
    "  movl stack_mem16_dst, %eax\n"
    "  movl %eax, 16(%ecx)\n"
    "  pushl $0x8d7\n"
    "  popfl\n"
    "  movl %esp, %ebx\n"
    "  pushfw\n"
    "  subl %esp, %ebx\n"
    "  movl %ebx, 24(%ecx)\n"
    "  movzwl (%esp), %eax\n"
    "  addl $2, %esp\n"
    "  andl $0x0cd5, %eax\n"
    "  movl %eax, 20(%ecx)\n"
    "  pushw $0x0001\n"
    "  popfw\n"
    "  pushfl\n"
    "  popl %eax\n"
    "  andl $0x0cd5, %eax\n"
    "  movl %eax, 28(%ecx)\n"
    "  movl %esi, %eax\n  subl %esp, %eax\n  movl %eax, 32(%ecx)\n"
    "  popl %esi\n"
    "  popl %ebx\n"
    "  ret\n"

    ".data\n"
    "stack_out: .long 0\n"
    "stack_tmp: .long 0\n"
    "stack_esp_before: .long 0\n"
    ".text\n");

void guest_main(uint32_t magic, uint32_t mbi) {
  (void)magic;
  (void)mbi;
  uint32_t out[32];
  serial_puts("stack: push/pop, pusha/popa, enter/leave, ESP as an operand\n");

  check_section("stack.push_pop");
  memset(out, 0, sizeof out);
  StackPushPop(out);
  check_u32("push imm8+imm32+mem bytes", out[0], 12);
  check_u32("pop mem got pushed mem", out[3], 0xcafef00d);
  check_u32("push imm32", out[1], 0x12345678);
  check_u32("push imm8 sign-extended", out[2], 0xffffffff);
  check_u32("balanced", out[4], 0);
  check_u32("push reg/pop reg", out[5], 0xabcdef01);

  check_section("stack.pusha_popa");
  memset(out, 0, sizeof out);
  StackPusha(out);
  static const uint32_t kImage[8] = {0xd1, 0x51, 0xbe, 0, 0xb0, 0xd0, 0xc0, 0xa0};
  for (int i = 0; i < 8; i++) {
    if (i == 3)
      check_u32("pusha ESP slot = ESP before", out[3], out[8]);
    else
      check_u32("pusha image", out[i], kImage[i]);
  }
  check_u32("popa eax from changed slot", out[9], 0xa1);
  check_u32("popa ecx", out[10], 0xc0);
  check_u32("popa edx", out[11], 0xd0);
  check_u32("popa ebx", out[12], 0xb0);
  check_u32("popa skips the ESP slot", out[13], out[8]);
  check_u32("popa ebp", out[14], 0xbe);
  check_u32("popa esi", out[15], 0x51);
  check_u32("popa edi", out[16], 0xd1);
  /* DI SI BP SP BX DX CX AX; the SP slot is recorded minus the old SP. */
  static const uint32_t kImage16[8] = {0x1008, 0x1007, 0x1006, 0, 0x1004, 0x1003, 0x1002, 0x1001};
  for (int i = 0; i < 8; i++) check_u32("pushaw image", out[17 + i], kImage16[i]);
  check_u32("pushaw bytes", out[25], 16);
  check_u32("popaw ax keeps the upper half", out[26], 0x55552001);

  check_section("stack.esp_operand");
  memset(out, 0, sizeof out);
  StackEspOperand(out);
  check_u32("push esp pushes the old esp", out[0], 0);
  check_u32("pop esp loads the popped value", out[1], 64);
  check_u32("pop [esp+4]: address after increment", out[2], 0xbbbb);
  check_u32("pop [esp+4]: value", out[3], 0xcccc);
  check_u32("push [esp+4]: address before decrement", out[4], 1);
  check_u32("push [esp] duplicates the top", out[5], 2);

  check_section("stack.enter_leave");
  memset(out, 0, sizeof out);
  StackEnterLeave(out);
  check_u32("enter 16,0 ebp", out[0], 4);
  check_u32("enter 16,0 esp", out[1], 20);
  check_u32("enter 16,0 saved ebp", out[2], 0xb0b0b0b0);
  check_u32("leave ebp", out[3], 0xb0b0b0b0);
  check_u32("leave esp", out[4], 0);
  check_u32("enter 8,1 ebp", out[5], 4);
  check_u32("enter 8,1 esp", out[6], 16);
  check_u32("enter 8,1 frame pointer pushed", out[7], 4);
  check_u32("enter 12,2 ebp", out[8], 4);
  check_u32("enter 12,2 esp", out[9], 24);
  check_u32("enter 12,2 copies [ebp-4]", out[10], 0xdeadbeef);
  check_u32("enter 12,2 frame pointer pushed", out[11], 4);
  check_u32("enter 12,2 saved ebp", out[12], 0);
  check_u32("leave after enter 12,2 ebp", out[13], 0);
  check_u32("leave after enter 12,2 esp", out[14], 0);

  check_section("stack.push16");
  memset(out, 0, sizeof out);
  StackPush16(out);
  check_u32("two pushw imm bytes", out[0], 4);
  check_u32("pushw imm16, pushw imm8 sign-extended", out[1], 0x1234fffe);
  check_u32("pushw reg, pushw mem", out[2], 0x11112222);
  check_u32("popw reg keeps the upper half", out[3], 0xffff5566);
  check_u32("popw mem", out[4], 0x99aabbcc);
  check_u32("pushfw word", out[5], 0x08d5);
  check_u32("pushfw bytes", out[6], 2);
  check_u32("popfw", out[7], kFlagCf);
  check_u32("balanced", out[8], 0);

  check_finish("stack");
}
