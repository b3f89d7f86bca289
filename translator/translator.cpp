// Block scanning and emission (translator.h).
#include "translator/translator.h"

#include <asmjit/x86.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "bt86/check.h"
#include "translator/block_emitter.h"

namespace bt86 {

using namespace asmjit;

namespace {

bool HasHiddenMemoryOperand(const DecodedInsn& d) {
  for (int i = 0; i < d.insn.operand_count; ++i) {
    if (d.ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY &&
        d.ops[i].visibility != ZYDIS_OPERAND_VISIBILITY_EXPLICIT) {
      return true;
    }
  }
  return false;
}

bool UsesFsGs(const DecodedInsn& d) {
  for (int i = 0; i < d.insn.operand_count; ++i) {
    if (d.ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY &&
        (d.ops[i].mem.segment == ZYDIS_REGISTER_FS || d.ops[i].mem.segment == ZYDIS_REGISTER_GS)) {
      return true;
    }
  }
  return false;
}

// Encodings the emitter has no sequence for are refused here, at scan time,
// so that the guest stops with a report instead of running something wrong.
InsnClass Refine(const DecodedInsn& d, InsnClass cls, uint32_t mode, bool fast_paths) {
  const InsnClass refused{InsnKind::kUnsupported, true};
  const ZydisDecodedOperand* mem = d.MemoryOperand();
  const bool flat = !(mode & kModeSegmentBases);
  const bool complex_address =
      mem &&
      (d.insn.address_width != 32 || mem->mem.segment == ZYDIS_REGISTER_FS ||
       mem->mem.segment == ZYDIS_REGISTER_GS || mem->mem.segment == ZYDIS_REGISTER_CS || !flat);
  const uint32_t cpl = mode & 3;
  if (mode & kModeCode16) {
    switch (cls.kind) {
      case InsnKind::kCallRel:
      case InsnKind::kCallIndirect:
      case InsnKind::kRet:
      case InsnKind::kJmpRel:
      case InsnKind::kJmpIndirect:
      case InsnKind::kJcc:
      case InsnKind::kJcxz:
      case InsnKind::kLoop:
      case InsnKind::kString:
        return {InsnKind::kCallout, true};  // IP-sized targets: the emulator
      case InsnKind::kUnsupported:
        // Near jcc/call with a 16-bit operand size is normal here.
        if (d.insn.meta.category == ZYDIS_CATEGORY_COND_BR) return {InsnKind::kCallout, true};
        return cls;
      case InsnKind::kIdent:
        if (d.insn.meta.isa_ext == ZYDIS_ISA_EXT_X87 &&
            (d.insn.mnemonic == ZYDIS_MNEMONIC_FNSAVE ||
             d.insn.mnemonic == ZYDIS_MNEMONIC_FNSTENV ||
             d.insn.mnemonic == ZYDIS_MNEMONIC_FRSTOR ||
             d.insn.mnemonic == ZYDIS_MNEMONIC_FLDENV)) {
          return {InsnKind::kUnsupported, true};  // 16-bit environment layouts
        }
        break;
      default:
        break;
    }
  }
  // PUSHF/POPF: inline at ring 0 with a 32-bit operand, when the fast paths
  // are on (they need BMI2); elsewhere IOPL rules and TF need the emulator.
  if (cls.kind == InsnKind::kCallout && fast_paths && cpl == 0 && !(mode & kModeStepping) &&
      d.insn.operand_width == 32) {
    if (d.insn.mnemonic == ZYDIS_MNEMONIC_PUSHFD) return {InsnKind::kPushf, false};
    if (d.insn.mnemonic == ZYDIS_MNEMONIC_POPFD) return {InsnKind::kPopf, false};
  }
  switch (cls.kind) {
    case InsnKind::kCli:
    case InsnKind::kSti:
      // Only ring 0 may always write IF; elsewhere IOPL decides (emulated).
      if (cpl != 0) return {InsnKind::kCallout, true};
      return cls;
    case InsnKind::kIdent:
      if ((mode & kModeFpuTrap) && UsesFpuState(d)) return {InsnKind::kCallout, true};
      // CR4.TSD can forbid RDTSC outside ring 0: the emulator decides there.
      if (d.insn.mnemonic == ZYDIS_MNEMONIC_RDTSC && cpl != 0) return {InsnKind::kCallout, true};
      // The 16-bit FPU environment layouts are not scrubbed of host pointers.
      if ((d.insn.mnemonic == ZYDIS_MNEMONIC_FNSAVE || d.insn.mnemonic == ZYDIS_MNEMONIC_FNSTENV) &&
          d.insn.operand_width == 16) {
        return refused;
      }
      // The [r8] rewrite needs REX, which turns AH..BH into SPL..DIL, and
      // cannot express hidden operands (maskmovq's [edi]).
      if (complex_address && (d.UsesHighByteRegister() || HasHiddenMemoryOperand(d))) {
        return refused;
      }
      return cls;
    case InsnKind::kString:
      if (mode & kModeStepping) return {InsnKind::kCallout, true};  // trap per iteration
      if (!flat) return {InsnKind::kCallout, true};                 // es:/ds: bases: emulated
      // A segment base on the source would break the biased-rsi scheme's
      // precise state: the emulator runs those.
      if (UsesFsGs(d)) return {InsnKind::kCallout, true};
      return cls;
    case InsnKind::kPush:
    case InsnKind::kPop:
    case InsnKind::kPusha:
    case InsnKind::kPopa:
    case InsnKind::kLeave:
      if (d.insn.operand_width != 16 && d.insn.operand_width != 32) return refused;
      if (d.insn.stack_width != 32) return refused;
      return cls;
    default:
      return cls;
  }
}

}  // namespace

size_t CountBlockExits(const std::vector<ScannedInsn>& insns, bool falls_through) {
  size_t exits = falls_through ? 1 : 0;
  for (const auto& s : insns) {
    switch (s.cls.kind) {
      case InsnKind::kCallRel:
      case InsnKind::kJmpRel:
      case InsnKind::kSti:  // falls through (or leaves through a callout)
        exits += 1;
        break;
      case InsnKind::kJcc:
      case InsnKind::kJcxz:
      case InsnKind::kLoop:
        exits += 2;
        break;
      default:
        break;
    }
  }
  return exits;
}

Translator::Translator(CodeCache* cache, const HostStubs& stubs, const TranslatorOptions& options,
                       Stats* stats)
    : cache_(cache), stubs_(stubs), options_(options), stats_(stats) {
  if (options_.max_block_insns == 0) options_.max_block_insns = 1;
}

std::vector<ScannedInsn> Translator::ScanBlock(uint32_t eip, GuestCodeReader& reader,
                                               uint32_t max_insns, uint32_t mode,
                                               uint32_t cs_base) const {
  std::vector<ScannedInsn> out;
  const uint32_t page = (cs_base + eip) / 4096;
  while (out.size() < max_insns) {
    // Always decode from a zero-padded 15-byte buffer: Zydis 4.0 asserts on
    // some buffers that end exactly where the instruction does. An
    // instruction that needs bytes past the fetchable ones is a fetch fault.
    uint8_t buf[ZYDIS_MAX_INSTRUCTION_LENGTH] = {};
    const size_t got = reader.ReadCode(eip, buf, sizeof(buf));
    ScannedInsn s;
    const Decoder& decoder = (mode & kModeCode16) ? decoder16_ : decoder_;
    const bool decoded = got > 0 && decoder.Decode(buf, sizeof(buf), eip, &s.d);
    if (!decoded || s.d.insn.length > got) {
      // An undecodable instruction ends the block before it; alone, it
      // becomes a block that raises #UD (or reports the fetch) when reached.
      if (!out.empty()) break;
      s.d.eip = eip;
      s.d.insn = {};
      std::memcpy(s.d.bytes, buf, sizeof(buf));
      s.cls = {InsnKind::kUnsupported, true};
      s.failure = decoded || got == 0 ? CalloutKind::kFetchFault : CalloutKind::kInvalidOpcode;
      out.push_back(s);
      break;
    }
    s.cls = Refine(s.d, ClassifyInsn(s.d), mode, options_.fast_paths);
    if (s.cls.kind == InsnKind::kIdent &&
        (s.d.insn.mnemonic == ZYDIS_MNEMONIC_DIV || s.d.insn.mnemonic == ZYDIS_MNEMONIC_IDIV) &&
        !s.d.UsesHighByteRegister() && reader.IsFaultingDivide(eip)) {
      s.check_divisor = true;
    }
    if (mode & kModeCode16) {
      // Operand-size sensitive instructions decode to another width in a
      // 32-bit segment: those need 0x66 added (or their 0x66 dropped).
      DecodedInsn d32;
      if (!decoder_.Decode(buf, sizeof(buf), eip, &d32)) {
        if (s.cls.kind == InsnKind::kIdent || s.cls.kind == InsnKind::kIncDecShort) {
          s.cls = {InsnKind::kUnsupported, true};
        }
      } else {
        // Only general-purpose instructions: elsewhere 0x66 selects another
        // instruction (SSE, MPX) rather than a width, and NOPs have none.
        s.toggle_operand_size = d32.insn.operand_width != s.d.insn.operand_width &&
                                s.d.insn.meta.isa_ext == ZYDIS_ISA_EXT_BASE &&
                                s.d.insn.mnemonic != ZYDIS_MNEMONIC_NOP;
      }
    }
    out.push_back(s);
    if (s.cls.ends_block) break;
    eip = s.d.next_eip();
    if ((cs_base + eip) / 4096 != page) break;
  }
  return out;
}

Block* Translator::Translate(const BlockKey& key, GuestCodeReader& reader, bool transient) {
  const auto start = std::chrono::steady_clock::now();
  const auto insns = ScanBlock(key.eip, reader, transient ? 1 : options_.max_block_insns, key.mode);
  Block* block = EmitBlock(key, insns, transient);
  if (block == nullptr) {
    cache_->Flush();
    block = EmitBlock(key, insns, transient);
    if (block == nullptr) {
      std::fprintf(stderr, "bt86: internal error: block at %08x does not fit an empty cache\n",
                   key.eip);
      std::abort();
    }
  }
  stats_->blocks_translated++;
  stats_->guest_insns_translated += insns.size();
  stats_->translate_nanoseconds += uint64_t(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start)
          .count());
  return block;
}

Block* Translator::EmitBlock(const BlockKey& key, const std::vector<ScannedInsn>& insns,
                             bool transient) {
  const bool falls_through = !insns.back().cls.ends_block;
  const size_t exits = CountBlockExits(insns, falls_through);

  Block* block = cache_->NewBlock();
  block->key = key;
  block->transient = transient;
  block->exits.resize(exits);
  // Callout sites are appended as they are emitted (block->callouts is a
  // deque, so the addresses baked into the code stay valid).

  const uint64_t base = uint64_t(uintptr_t(cache_->cursor()));
  CodeHolder& code = code_;
  code.reset(ResetPolicy::kSoft);
  code.init(Environment::host(), base);
  x86::Assembler a(&code);
#ifndef NDEBUG
  a.addDiagnosticOptions(DiagnosticOptions::kValidateAssembler);
#endif
  BlockEmitter emitter(a, block, stubs_, options_, base);

  emitter.EmitEntryPoll();
  uint32_t guest_end = key.eip;
  for (size_t i = 0; i < insns.size(); ++i) {
    const ScannedInsn& s = insns[i];
    block->insns.push_back(
        {s.d.eip, i == 0 ? 0u : uint32_t(a.offset()), s.d.insn.length, s.cls.kind});
    emitter.EmitInsn(s);
    guest_end = s.d.eip + std::max<uint32_t>(s.d.insn.length, 1);
  }
  if (falls_through) emitter.EmitFallthroughExit(guest_end);
  block->body_size = uint32_t(a.offset());
  emitter.EmitExitStubs();

  Error err = code.flatten();
  if (!err) err = code.resolveUnresolvedLinks();
  if (!err) err = code.relocateToBase(base);
  if (err) {
    std::fprintf(stderr, "bt86: internal error: emitting block at %08x: %s\n", key.eip,
                 DebugUtils::errorAsString(err));
    std::abort();
  }
  CodeBuffer& buf = code.textSection()->buffer();
  if (buf.size() > cache_->free_bytes()) return nullptr;
  block->code = cache_->CommitCode(buf.data(), buf.size());
  BT86_CHECK(uint64_t(uintptr_t(block->code)) == base, "block %08x placed away from its base",
             key.eip);
  block->code_size = uint32_t(buf.size());
  block->guest_bytes = guest_end - key.eip;
  block->first_page = key.linear() / 4096;
  block->last_page = (key.cs_base + guest_end - 1) / 4096;
  if (!transient) cache_->Insert(block);
  return block;
}

}  // namespace bt86
