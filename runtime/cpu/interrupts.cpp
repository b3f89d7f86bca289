// Exception and interrupt delivery through the guest IDT, and IRET (Intel
// SDM Vol. 3A chapter 6, "Interrupt and Exception Handling": 6.12 gates and
// the TSS stack switch, 6.13 error codes, 6.15 #DF and shutdown; Vol. 2A
// IRET). Delivery runs in C++ against the shadow CPU: it reads the gate,
// checks it, builds the whole frame and writes it in one piece, so a fault
// during delivery leaves the guest state untouched and can become #DF.
#include <fmt/core.h>

#include <cstring>

#include "runtime/vcpu.h"

namespace bt86 {
namespace {

constexpr uint8_t kVecDf = 8, kVecTs = 10, kVecNp = 11, kVecSs = 12, kVecGp = 13;
constexpr uint32_t kTf = 1u << 8, kIf = 1u << 9, kIopl = 3u << 12, kNt = 1u << 14, kRf = 1u << 16,
                   kVm = 1u << 17;

bool Contributory(uint8_t v) {
  return v == 0 || (v >= 10 && v <= 13);
}

// SDM Table 6-5: which second exception turns into a double fault.
bool IsDoubleFault(uint8_t first, uint8_t second) {
  if (first == 14) return second == 14 || Contributory(second);
  return Contributory(first) && Contributory(second);
}

const char* VectorName(uint8_t v) {
  static const char* kNames[] = {"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD",
                                 "#NM", "#DF", "CSO", "#TS", "#NP", "#SS", "#GP",
                                 "#PF", "15",  "#MF", "#AC", "#MC", "#XM"};
  return v < 20 ? kNames[v] : "INT";
}

}  // namespace

Vcpu::Next Vcpu::Raise(Event e) {
  // The common case delivers at once; the account of a nested fault is only
  // built when one happens (it costs a decode and some formatting).
  Fault nested = TryDeliver(e);
  if (!nested) return Next::kContinue;
  const uint32_t fault_eip = e.software ? e.insn_eip : ctx_->eip;
  uint8_t bytes[15] = {};
  ReadLinear(cpu_.seg[kCs].base + fault_eip, bytes, sizeof(bytes));
  const std::string where =
      fmt::format("eip={:08x} ({})", fault_eip, DescribeInsn(fault_eip, bytes, 15));
  std::string history =
      fmt::format("{} (vector {}{})", VectorName(e.vector), e.vector,
                  e.has_error_code ? fmt::format(", error {:#x}", e.error_code) : "");
  for (int nesting = 0;; ++nesting) {
    const Event next = *nested;  // TryDeliver already set EXT in its error codes
    // A fault delivering INT n / INT3 / INTO is a fault of that instruction.
    if (e.software) ctx_->eip = e.insn_eip;
    history += fmt::format(", then {} (vector {}, error {:#x}) delivering it",
                           VectorName(next.vector), next.vector, next.error_code);
    if (e.vector == kVecDf || nesting > 3) {
      return StopWith(
          RunResult::Kind::kGuestFault,
          fmt::format("triple fault (shutdown) at {}: {}\n{}", where, history, DumpRegisters()));
    }
    if (IsDoubleFault(e.vector, next.vector)) {
      history += ", so #DF";
      e = ExceptionWithCode(kVecDf, 0);
    } else {
      e = next;  // benign: handled serially (SDM 6.15)
    }
    nested = TryDeliver(e);
    if (!nested) return Next::kContinue;
  }
}

Vcpu::Fault Vcpu::TryDeliver(const Event& e) {
  const uint32_t ext = e.external || !e.software ? 1 : 0;
  const uint32_t idt_error = e.vector * 8u + 2 + ext;  // IDT bit set
  if (e.vector * 8u + 7 > cpu_.idtr.limit) return ExceptionWithCode(kVecGp, idt_error);
  uint32_t words[2];
  if (!ReadLinear(cpu_.idtr.base + e.vector * 8u, words, 8)) {
    return ExceptionWithCode(kVecGp, idt_error);
  }
  const Descriptor gate{words[0], words[1]};
  const uint8_t type = gate.type();
  const bool trap = type == kTrapGate32 || type == kTrapGate16;
  const bool gate32 = type == kInterruptGate32 || type == kTrapGate32;
  if (!gate.system() || !(gate32 || type == kInterruptGate16 || type == kTrapGate16)) {
    // Task gates (hardware task switches) are not supported: a clear report
    // rather than a wrong switch.
    return ExceptionWithCode(kVecGp, idt_error);
  }
  if (e.software && gate.dpl() < cpu_.cpl) return ExceptionWithCode(kVecGp, idt_error);
  if (!gate.present()) return ExceptionWithCode(kVecNp, idt_error);

  const uint16_t selector = gate.gate_selector();
  if ((selector & 0xFFFC) == 0) return ExceptionWithCode(kVecGp, ext);
  Descriptor code;
  if (Fault f = ReadDescriptor(selector, &code, ext)) return f;
  SegmentCache cs = code.ToCache(selector);
  if (!cs.is_code() || code.dpl() > cpu_.cpl) {
    return ExceptionWithCode(kVecGp, (selector & 0xFFFC) | ext);
  }
  if (!code.present()) return ExceptionWithCode(kVecNp, (selector & 0xFFFC) | ext);
  const uint8_t new_cpl = cs.conforming() ? cpu_.cpl : code.dpl();
  cs.selector = uint16_t((selector & 0xFFFC) | new_cpl);

  // The frame, lowest address first: [error] eip cs eflags [esp ss].
  const int width = gate32 ? 4 : 2;
  uint32_t frame[6];
  int n = 0;
  if (e.has_error_code) frame[n++] = e.error_code;
  frame[n++] = ctx_->eip;
  frame[n++] = cpu_.seg[kCs].selector;
  frame[n++] = ReadEflags();
  SegmentCache ss = cpu_.seg[kSs];
  uint32_t esp = ctx_->gpr[kEsp];
  if (new_cpl < cpu_.cpl) {
    // Inner privilege: the new stack comes from the TSS (SDM 6.12.1).
    const bool tss32 = cpu_.tr.type() == kTss32Available || cpu_.tr.type() == kTss32Busy;
    const uint32_t esp_at = tss32 ? 4 + 8u * new_cpl : 2 + 4u * new_cpl;
    const uint32_t ss_at = tss32 ? 8 + 8u * new_cpl : 4 + 4u * new_cpl;
    const uint32_t tr_error = (cpu_.tr.selector & 0xFFFC) | ext;
    if (!cpu_.tr.usable || ss_at + 1 > cpu_.tr.limit) return ExceptionWithCode(kVecTs, tr_error);
    uint32_t new_esp = 0;
    uint16_t new_ss = 0;
    if (!ReadLinear(cpu_.tr.base + esp_at, &new_esp, tss32 ? 4 : 2) ||
        !ReadLinear(cpu_.tr.base + ss_at, &new_ss, 2)) {
      return ExceptionWithCode(kVecTs, tr_error);
    }
    const uint32_t ss_error = (new_ss & 0xFFFC) | ext;
    if ((new_ss & 0xFFFC) == 0) return ExceptionWithCode(kVecTs, ext);
    if ((new_ss & 3) != new_cpl) return ExceptionWithCode(kVecTs, ss_error);
    Descriptor stack;
    if (ReadDescriptor(new_ss, &stack, ext)) return ExceptionWithCode(kVecTs, ss_error);
    SegmentCache new_ss_cache = stack.ToCache(new_ss);
    if (stack.dpl() != new_cpl || stack.system() || !new_ss_cache.writable()) {
      return ExceptionWithCode(kVecTs, ss_error);
    }
    if (!stack.present()) return ExceptionWithCode(kVecSs, ss_error);
    frame[n++] = ctx_->gpr[kEsp];
    frame[n++] = cpu_.seg[kSs].selector;
    ss = new_ss_cache;
    esp = new_esp;
  }
  uint8_t bytes[24];
  for (int i = 0; i < n; ++i) std::memcpy(bytes + i * width, &frame[i], width);
  const uint32_t frame_bytes = uint32_t(n * width);
  const uint32_t new_esp = ss.big() ? esp - frame_bytes : ((esp - frame_bytes) & 0xFFFF);
  if (!WriteLinear(ss.base + new_esp, bytes, frame_bytes)) {
    return ExceptionWithCode(kVecSs, ext);
  }

  // Commit: nothing above changed guest state.
  if (ss.selector != cpu_.seg[kSs].selector || new_cpl != cpu_.cpl) SetSegment(kSs, ss);
  ctx_->gpr[kEsp] = ss.big() ? new_esp : (ctx_->gpr[kEsp] & 0xFFFF0000u) | new_esp;
  SetSegment(kCs, cs);
  cpu_.cpl = new_cpl;
  ctx_->eip = gate32 ? gate.gate_offset() : (gate.gate_offset() & 0xFFFF);
  uint32_t eflags = ReadEflags() & ~(kTf | kNt | kRf | kVm);
  if (!trap) eflags &= ~kIf;
  WriteEflags(eflags);
  stats_->exceptions_delivered++;
  return std::nullopt;
}

Vcpu::Next Vcpu::EmulateIret(const DecodedInsn& d, const CalloutSite& site) {
  const int size = d.insn.operand_width / 8;
  const uint32_t eflags_now = ReadEflags();
  if (eflags_now & kNt) {
    // Task return (SDM IRET, TASK-RETURN): the back link must name a busy
    // TSS in the GDT, else #TS(link). A real task switch is not supported.
    uint16_t link = 0;
    ReadLinear(cpu_.tr.base, &link, 2);
    Descriptor tss;
    if ((link & 4) || ReadDescriptor(link, &tss) || !tss.system() ||
        (tss.type() != kTss32Busy && tss.type() != kTss16Busy)) {
      return Raise(ExceptionWithCode(kVecTs, link & 0xFFFC));
    }
    return StopWith(RunResult::Kind::kUnsupported,
                    fmt::format("unsupported: IRET with EFLAGS.NT (task switch back to TSS "
                                "{:#06x}) at eip={:08x}\n{}",
                                link, site.eip, DumpRegisters()));
  }
  const SegmentCache& ss_now = cpu_.seg[kSs];
  const uint32_t sp = ctx_->gpr[kEsp];
  auto pop_at = [&](int slot, uint32_t* out) {
    uint32_t v = 0;
    const uint32_t offset = ss_now.big() ? sp + slot * size : ((sp + slot * size) & 0xFFFF);
    if (!ReadLinear(ss_now.base + offset, &v, size)) return false;
    *out = v;
    return true;
  };
  uint32_t new_eip, new_cs, new_eflags;
  if (!pop_at(0, &new_eip) || !pop_at(1, &new_cs) || !pop_at(2, &new_eflags)) {
    return Raise(ExceptionWithCode(kVecSs, 0));
  }
  new_cs &= 0xFFFF;
  if (size == 2) new_eflags = (eflags_now & 0xFFFF0000u) | (new_eflags & 0xFFFF);
  if ((new_eflags & kVm) && cpu_.cpl == 0) {
    return StopWith(RunResult::Kind::kUnsupported,
                    fmt::format("unsupported: IRET to virtual-8086 mode at eip={:08x}\n{}",
                                site.eip, DumpRegisters()));
  }
  SegmentCache cs;
  if (Fault f = CheckReturnCodeSegment(uint16_t(new_cs), &cs)) return Raise(*f);
  const uint8_t rpl = new_cs & 3;

  // EFLAGS: IOPL only at CPL 0, IF only when CPL <= IOPL (the CPL before
  // the return); VM is never set here.
  uint32_t keep = kVm;
  if (cpu_.cpl > 0) keep |= kIopl;
  if (cpu_.cpl > ((eflags_now & kIopl) >> 12)) keep |= kIf;
  const uint32_t eflags = (new_eflags & ~keep) | (eflags_now & keep);

  if (rpl > cpu_.cpl) {
    // Return to an outer level: pop esp and ss too (SDM IRET, RETURN-TO-OUTER-PRIVILEGE-LEVEL).
    uint32_t new_esp, new_ss;
    if (!pop_at(3, &new_esp) || !pop_at(4, &new_ss)) return Raise(ExceptionWithCode(kVecSs, 0));
    SegmentCache ss;
    if (Fault f = CheckReturnStackSegment(uint16_t(new_ss & 0xFFFF), rpl, &ss)) return Raise(*f);
    SetSegment(kCs, cs);
    SetSegment(kSs, ss);
    cpu_.cpl = rpl;
    ctx_->gpr[kEsp] = size == 4 ? new_esp : (ctx_->gpr[kEsp] & 0xFFFF0000u) | (new_esp & 0xFFFF);
    NullInaccessibleDataSegments(rpl);
  } else {
    SetSegment(kCs, cs);
    const uint32_t popped = sp + 3 * size;
    ctx_->gpr[kEsp] = ss_now.big() ? popped : (sp & 0xFFFF0000u) | (popped & 0xFFFF);
  }
  ctx_->eip = size == 4 ? new_eip : (new_eip & 0xFFFF);
  WriteEflags(eflags);
  iret_loaded_rf_ = eflags & (1u << 16);
  return Next::kContinue;
}

}  // namespace bt86
