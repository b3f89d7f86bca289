// Classification of guest instructions (insn_class.h). The IDENT set is a
// whitelist: an instruction runs natively only if its 64-bit encoding means
// the same thing in user mode, which holds for ALU, x87, MMX and SSE..SSE3
// (their memory operands are rebuilt by the emitter). Everything else is
// rewritten, emulated or refused.
#include "translator/insn_class.h"

namespace bt86 {
namespace {

constexpr InsnClass Ident() {
  return {InsnKind::kIdent, false};
}
constexpr InsnClass Rewrite(InsnKind k) {
  return {k, false};
}
constexpr InsnClass Ends(InsnKind k) {
  return {k, true};
}

bool IsIdentIsaExtension(ZydisISAExt ext) {
  switch (ext) {
    case ZYDIS_ISA_EXT_X87:
    case ZYDIS_ISA_EXT_MMX:
    case ZYDIS_ISA_EXT_SSE:
    case ZYDIS_ISA_EXT_SSE2:
    case ZYDIS_ISA_EXT_SSE3:
      return true;
    default:
      return false;
  }
}

// Control transfers, pushes and pops ignore the operand-size prefix in
// 64-bit mode differently from 32-bit mode; bt86 does not run 16-bit-IP
// branches (they only make sense in 16-bit code segments).
bool HasOperandSizePrefix(const DecodedInsn& d) {
  return (d.insn.attributes & ZYDIS_ATTRIB_HAS_OPERANDSIZE) != 0;
}

InsnClass ClassifyBase(const DecodedInsn& d) {
  const uint8_t op = d.opcode_byte();
  // String instructions: es:[edi] cannot take the gs override. The
  // si/di/cx (0x67) forms are emulated.
  if (IsStringInstruction(d.insn.mnemonic)) {
    if (d.insn.address_width != 32) return Ends(InsnKind::kCallout);
    return Rewrite(InsnKind::kString);
  }
  switch (d.insn.mnemonic) {
    // Data movement and arithmetic: identical in 64-bit mode without REX.
    case ZYDIS_MNEMONIC_MOV: {
      for (int i = 0; i < d.insn.operand_count_visible; ++i) {
        if (d.ops[i].type != ZYDIS_OPERAND_TYPE_REGISTER) continue;
        ZydisRegisterClass c = ZydisRegisterGetClass(d.ops[i].reg.value);
        if (c == ZYDIS_REGCLASS_SEGMENT || c == ZYDIS_REGCLASS_CONTROL ||
            c == ZYDIS_REGCLASS_DEBUG) {
          return Ends(InsnKind::kCallout);
        }
      }
      return Ident();
    }
    case ZYDIS_MNEMONIC_INC:
    case ZYDIS_MNEMONIC_DEC:
      if (op >= 0x40 && op <= 0x4F) return Rewrite(InsnKind::kIncDecShort);
      return Ident();
    case ZYDIS_MNEMONIC_MOVZX:
    case ZYDIS_MNEMONIC_MOVSX:
    case ZYDIS_MNEMONIC_LEA:
    case ZYDIS_MNEMONIC_XCHG:
    case ZYDIS_MNEMONIC_CMPXCHG:
    case ZYDIS_MNEMONIC_CMPXCHG8B:
    case ZYDIS_MNEMONIC_XADD:
    case ZYDIS_MNEMONIC_BSWAP:
    case ZYDIS_MNEMONIC_ADD:
    case ZYDIS_MNEMONIC_ADC:
    case ZYDIS_MNEMONIC_SUB:
    case ZYDIS_MNEMONIC_SBB:
    case ZYDIS_MNEMONIC_AND:
    case ZYDIS_MNEMONIC_OR:
    case ZYDIS_MNEMONIC_XOR:
    case ZYDIS_MNEMONIC_CMP:
    case ZYDIS_MNEMONIC_TEST:
    case ZYDIS_MNEMONIC_NOT:
    case ZYDIS_MNEMONIC_NEG:
    case ZYDIS_MNEMONIC_MUL:
    case ZYDIS_MNEMONIC_IMUL:
    case ZYDIS_MNEMONIC_DIV:
    case ZYDIS_MNEMONIC_IDIV:
    case ZYDIS_MNEMONIC_SHL:
    case ZYDIS_MNEMONIC_SHR:
    case ZYDIS_MNEMONIC_SAR:
    case ZYDIS_MNEMONIC_ROL:
    case ZYDIS_MNEMONIC_ROR:
    case ZYDIS_MNEMONIC_RCL:
    case ZYDIS_MNEMONIC_RCR:
    case ZYDIS_MNEMONIC_SHLD:
    case ZYDIS_MNEMONIC_SHRD:
    case ZYDIS_MNEMONIC_BT:
    case ZYDIS_MNEMONIC_BTS:
    case ZYDIS_MNEMONIC_BTR:
    case ZYDIS_MNEMONIC_BTC:
    case ZYDIS_MNEMONIC_BSF:
    case ZYDIS_MNEMONIC_BSR:
    case ZYDIS_MNEMONIC_CBW:
    case ZYDIS_MNEMONIC_CWDE:
    case ZYDIS_MNEMONIC_CWD:
    case ZYDIS_MNEMONIC_CDQ:
    case ZYDIS_MNEMONIC_CLC:
    case ZYDIS_MNEMONIC_STC:
    case ZYDIS_MNEMONIC_CMC:
    case ZYDIS_MNEMONIC_CLD:
    case ZYDIS_MNEMONIC_STD:
    case ZYDIS_MNEMONIC_LAHF:
    case ZYDIS_MNEMONIC_SAHF:
    case ZYDIS_MNEMONIC_NOP:
    case ZYDIS_MNEMONIC_PAUSE:
    case ZYDIS_MNEMONIC_RDTSC:
    case ZYDIS_MNEMONIC_LFENCE:
    case ZYDIS_MNEMONIC_MFENCE:
    case ZYDIS_MNEMONIC_SFENCE:
    case ZYDIS_MNEMONIC_CLFLUSH:
    case ZYDIS_MNEMONIC_PREFETCHNTA:
    case ZYDIS_MNEMONIC_PREFETCHT0:
    case ZYDIS_MNEMONIC_PREFETCHT1:
    case ZYDIS_MNEMONIC_PREFETCHT2:
    case ZYDIS_MNEMONIC_PREFETCHW:
    case ZYDIS_MNEMONIC_MOVNTI:
    case ZYDIS_MNEMONIC_FXSAVE:
    case ZYDIS_MNEMONIC_FXRSTOR:
    case ZYDIS_MNEMONIC_LDMXCSR:
    case ZYDIS_MNEMONIC_STMXCSR:
    case ZYDIS_MNEMONIC_POPCNT:
    case ZYDIS_MNEMONIC_TZCNT:
    case ZYDIS_MNEMONIC_LZCNT:
    case ZYDIS_MNEMONIC_ENDBR32:  // a hint NOP without CET, in both modes
      return Ident();
    case ZYDIS_MNEMONIC_SETB:
    case ZYDIS_MNEMONIC_SETBE:
    case ZYDIS_MNEMONIC_SETL:
    case ZYDIS_MNEMONIC_SETLE:
    case ZYDIS_MNEMONIC_SETNB:
    case ZYDIS_MNEMONIC_SETNBE:
    case ZYDIS_MNEMONIC_SETNL:
    case ZYDIS_MNEMONIC_SETNLE:
    case ZYDIS_MNEMONIC_SETNO:
    case ZYDIS_MNEMONIC_SETNP:
    case ZYDIS_MNEMONIC_SETNS:
    case ZYDIS_MNEMONIC_SETNZ:
    case ZYDIS_MNEMONIC_SETO:
    case ZYDIS_MNEMONIC_SETP:
    case ZYDIS_MNEMONIC_SETS:
    case ZYDIS_MNEMONIC_SETZ:
    case ZYDIS_MNEMONIC_CMOVB:
    case ZYDIS_MNEMONIC_CMOVBE:
    case ZYDIS_MNEMONIC_CMOVL:
    case ZYDIS_MNEMONIC_CMOVLE:
    case ZYDIS_MNEMONIC_CMOVNB:
    case ZYDIS_MNEMONIC_CMOVNBE:
    case ZYDIS_MNEMONIC_CMOVNL:
    case ZYDIS_MNEMONIC_CMOVNLE:
    case ZYDIS_MNEMONIC_CMOVNO:
    case ZYDIS_MNEMONIC_CMOVNP:
    case ZYDIS_MNEMONIC_CMOVNS:
    case ZYDIS_MNEMONIC_CMOVNZ:
    case ZYDIS_MNEMONIC_CMOVO:
    case ZYDIS_MNEMONIC_CMOVP:
    case ZYDIS_MNEMONIC_CMOVS:
    case ZYDIS_MNEMONIC_CMOVZ:
      return Ident();

    // Stack: in 64-bit mode push/pop are 64 bits wide and use rsp.
    case ZYDIS_MNEMONIC_PUSH:
    case ZYDIS_MNEMONIC_POP: {
      const auto& o = d.ops[0];
      if (o.type == ZYDIS_OPERAND_TYPE_REGISTER &&
          ZydisRegisterGetClass(o.reg.value) == ZYDIS_REGCLASS_SEGMENT) {
        return Ends(InsnKind::kCallout);
      }
      return Rewrite(d.insn.mnemonic == ZYDIS_MNEMONIC_PUSH ? InsnKind::kPush : InsnKind::kPop);
    }
    case ZYDIS_MNEMONIC_PUSHA:
    case ZYDIS_MNEMONIC_PUSHAD:
      return Rewrite(InsnKind::kPusha);
    case ZYDIS_MNEMONIC_POPA:
    case ZYDIS_MNEMONIC_POPAD:
      return Rewrite(InsnKind::kPopa);
    case ZYDIS_MNEMONIC_LEAVE:
      return Rewrite(InsnKind::kLeave);

    // Control transfers.
    case ZYDIS_MNEMONIC_CALL:
      if (d.ops[0].type == ZYDIS_OPERAND_TYPE_POINTER || HasOperandSizePrefix(d) ||
          (d.ops[0].type == ZYDIS_OPERAND_TYPE_MEMORY && d.ops[0].size == 48)) {
        return Ends(InsnKind::kCallout);  // far call
      }
      return Ends(d.ops[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE ? InsnKind::kCallRel
                                                                : InsnKind::kCallIndirect);
    case ZYDIS_MNEMONIC_JMP:
      if (d.ops[0].type == ZYDIS_OPERAND_TYPE_POINTER || HasOperandSizePrefix(d) ||
          (d.ops[0].type == ZYDIS_OPERAND_TYPE_MEMORY && d.ops[0].size == 48)) {
        return Ends(InsnKind::kCallout);  // far jump
      }
      return Ends(d.ops[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE ? InsnKind::kJmpRel
                                                                : InsnKind::kJmpIndirect);
    case ZYDIS_MNEMONIC_RET:
      // Zydis names far returns "ret" too; CA/CB are RETF.
      if (op == 0xCA || op == 0xCB || HasOperandSizePrefix(d)) return Ends(InsnKind::kCallout);
      return Ends(InsnKind::kRet);
    case ZYDIS_MNEMONIC_JB:
    case ZYDIS_MNEMONIC_JBE:
    case ZYDIS_MNEMONIC_JL:
    case ZYDIS_MNEMONIC_JLE:
    case ZYDIS_MNEMONIC_JNB:
    case ZYDIS_MNEMONIC_JNBE:
    case ZYDIS_MNEMONIC_JNL:
    case ZYDIS_MNEMONIC_JNLE:
    case ZYDIS_MNEMONIC_JNO:
    case ZYDIS_MNEMONIC_JNP:
    case ZYDIS_MNEMONIC_JNS:
    case ZYDIS_MNEMONIC_JNZ:
    case ZYDIS_MNEMONIC_JO:
    case ZYDIS_MNEMONIC_JP:
    case ZYDIS_MNEMONIC_JS:
    case ZYDIS_MNEMONIC_JZ:
      if (HasOperandSizePrefix(d)) return Ends(InsnKind::kUnsupported);
      return Ends(InsnKind::kJcc);
    case ZYDIS_MNEMONIC_JECXZ:
      // With 0x66 the new EIP is truncated to 16 bits: emulated.
      if (HasOperandSizePrefix(d)) return Ends(InsnKind::kCallout);
      return Ends(InsnKind::kJcxz);
    case ZYDIS_MNEMONIC_JCXZ:  // cx form (0x67): emulated, it has no 64-bit encoding
      return Ends(InsnKind::kCallout);
    case ZYDIS_MNEMONIC_LOOP:
    case ZYDIS_MNEMONIC_LOOPE:
    case ZYDIS_MNEMONIC_LOOPNE:
      // cx-counted (0x67) or ip-truncating (0x66) forms are emulated.
      if (d.insn.address_width != 32 || HasOperandSizePrefix(d)) return Ends(InsnKind::kCallout);
      return Ends(InsnKind::kLoop);

    case ZYDIS_MNEMONIC_INSB:
    case ZYDIS_MNEMONIC_INSW:
    case ZYDIS_MNEMONIC_INSD:
    case ZYDIS_MNEMONIC_OUTSB:
    case ZYDIS_MNEMONIC_OUTSW:
    case ZYDIS_MNEMONIC_OUTSD:
      if (d.insn.address_width != 32) return Ends(InsnKind::kUnsupported);
      return Ends(InsnKind::kCallout);
    case ZYDIS_MNEMONIC_XLAT:
      if (d.insn.address_width != 32) return Ends(InsnKind::kCallout);  // [bx + al]
      return Rewrite(InsnKind::kXlat);
    case ZYDIS_MNEMONIC_SALC:
      return Rewrite(InsnKind::kSalc);

    // Virtual IF: written inline. STI ends the block so a pending interrupt
    // is seen after the next instruction (the STI shadow).
    case ZYDIS_MNEMONIC_CLI:
      return Rewrite(InsnKind::kCli);
    case ZYDIS_MNEMONIC_STI:
      return Ends(InsnKind::kSti);

    // Emulated by the runtime.
    case ZYDIS_MNEMONIC_IN:
    case ZYDIS_MNEMONIC_OUT:
    case ZYDIS_MNEMONIC_HLT:
    case ZYDIS_MNEMONIC_CPUID:
    case ZYDIS_MNEMONIC_PUSHF:
    case ZYDIS_MNEMONIC_PUSHFD:
    case ZYDIS_MNEMONIC_POPF:
    case ZYDIS_MNEMONIC_POPFD:
    case ZYDIS_MNEMONIC_ENTER:
    case ZYDIS_MNEMONIC_AAA:
    case ZYDIS_MNEMONIC_AAS:
    case ZYDIS_MNEMONIC_DAA:
    case ZYDIS_MNEMONIC_DAS:
    case ZYDIS_MNEMONIC_AAM:
    case ZYDIS_MNEMONIC_AAD:
    case ZYDIS_MNEMONIC_UD2:
    case ZYDIS_MNEMONIC_INT3:
    case ZYDIS_MNEMONIC_INT:
    case ZYDIS_MNEMONIC_INTO:
    case ZYDIS_MNEMONIC_INT1:
    case ZYDIS_MNEMONIC_IRETD:
    case ZYDIS_MNEMONIC_IRET:
    case ZYDIS_MNEMONIC_LGDT:
    case ZYDIS_MNEMONIC_LIDT:
    case ZYDIS_MNEMONIC_SGDT:
    case ZYDIS_MNEMONIC_SIDT:
    case ZYDIS_MNEMONIC_LLDT:
    case ZYDIS_MNEMONIC_SLDT:
    case ZYDIS_MNEMONIC_LTR:
    case ZYDIS_MNEMONIC_STR:
    case ZYDIS_MNEMONIC_LMSW:
    case ZYDIS_MNEMONIC_SMSW:
    case ZYDIS_MNEMONIC_CLTS:
    case ZYDIS_MNEMONIC_INVD:
    case ZYDIS_MNEMONIC_WBINVD:
    case ZYDIS_MNEMONIC_INVLPG:
    case ZYDIS_MNEMONIC_RDMSR:
    case ZYDIS_MNEMONIC_WRMSR:
    case ZYDIS_MNEMONIC_RDPMC:
    case ZYDIS_MNEMONIC_SYSENTER:
    case ZYDIS_MNEMONIC_SYSEXIT:
    case ZYDIS_MNEMONIC_LAR:
    case ZYDIS_MNEMONIC_LSL:
    case ZYDIS_MNEMONIC_VERR:
    case ZYDIS_MNEMONIC_VERW:
    case ZYDIS_MNEMONIC_LDS:
    case ZYDIS_MNEMONIC_LES:
    case ZYDIS_MNEMONIC_LFS:
    case ZYDIS_MNEMONIC_LGS:
    case ZYDIS_MNEMONIC_LSS:
    case ZYDIS_MNEMONIC_ARPL:
    case ZYDIS_MNEMONIC_BOUND:
      return Ends(InsnKind::kCallout);
    default:
      return Ends(InsnKind::kUnsupported);
  }
}

}  // namespace

InsnClass ClassifyInsn(const DecodedInsn& d) {
  if (d.insn.mnemonic != ZYDIS_MNEMONIC_NOP && IsIdentIsaExtension(d.insn.meta.isa_ext)) {
    return Ident();
  }
  return ClassifyBase(d);
}

bool UsesFpuState(const DecodedInsn& d) {
  // The IDENT extensions are exactly the FPU-state ones, plus the
  // state-management instructions Zydis files elsewhere.
  const ZydisMnemonic m = d.insn.mnemonic;
  return IsIdentIsaExtension(d.insn.meta.isa_ext) || m == ZYDIS_MNEMONIC_FXSAVE ||
         m == ZYDIS_MNEMONIC_FXRSTOR || m == ZYDIS_MNEMONIC_LDMXCSR || m == ZYDIS_MNEMONIC_STMXCSR;
}

bool IsStringInstruction(ZydisMnemonic m) {
  switch (m) {
    case ZYDIS_MNEMONIC_MOVSB:
    case ZYDIS_MNEMONIC_MOVSW:
    case ZYDIS_MNEMONIC_MOVSD:
    case ZYDIS_MNEMONIC_STOSB:
    case ZYDIS_MNEMONIC_STOSW:
    case ZYDIS_MNEMONIC_STOSD:
    case ZYDIS_MNEMONIC_LODSB:
    case ZYDIS_MNEMONIC_LODSW:
    case ZYDIS_MNEMONIC_LODSD:
    case ZYDIS_MNEMONIC_SCASB:
    case ZYDIS_MNEMONIC_SCASW:
    case ZYDIS_MNEMONIC_SCASD:
    case ZYDIS_MNEMONIC_CMPSB:
    case ZYDIS_MNEMONIC_CMPSW:
    case ZYDIS_MNEMONIC_CMPSD:
      return true;
    default:
      return false;
  }
}

const char* InsnKindName(InsnKind kind) {
  switch (kind) {
    case InsnKind::kIdent:
      return "ident";
    case InsnKind::kIncDecShort:
      return "incdec";
    case InsnKind::kPush:
      return "push";
    case InsnKind::kPop:
      return "pop";
    case InsnKind::kPusha:
      return "pusha";
    case InsnKind::kPopa:
      return "popa";
    case InsnKind::kLeave:
      return "leave";
    case InsnKind::kCallRel:
      return "call";
    case InsnKind::kCallIndirect:
      return "call-ind";
    case InsnKind::kRet:
      return "ret";
    case InsnKind::kJmpRel:
      return "jmp";
    case InsnKind::kJmpIndirect:
      return "jmp-ind";
    case InsnKind::kJcc:
      return "jcc";
    case InsnKind::kJcxz:
      return "jecxz";
    case InsnKind::kLoop:
      return "loop";
    case InsnKind::kString:
      return "string";
    case InsnKind::kXlat:
      return "xlat";
    case InsnKind::kSalc:
      return "salc";
    case InsnKind::kCli:
      return "cli";
    case InsnKind::kSti:
      return "sti";
    case InsnKind::kPushf:
      return "pushf";
    case InsnKind::kPopf:
      return "popf";
    case InsnKind::kCallout:
      return "callout";
    case InsnKind::kUnsupported:
      return "unsupported";
  }
  return "?";
}

}  // namespace bt86
