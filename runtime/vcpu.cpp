// The run loop (vcpu.h).
#include "runtime/vcpu.h"

#include <fmt/core.h>
#include <sys/mman.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>

#include "runtime/devices/debug_exit.h"
#include "runtime/host_gs_base.h"
#include "runtime/host_signals.h"
#include "translator/block_listing.h"

namespace bt86 {

namespace {

constexpr uint32_t kArithmeticFlags = 0x0CD5;  // CF PF AF ZF SF DF OF
constexpr uint32_t kEflagsTf = 1u << 8;
constexpr uint32_t kEflagsIf = 1u << 9;
constexpr uint32_t kEflagsRf = 1u << 16;

// FNINIT / power-on x87 and SSE state in FXSAVE layout: FCW 0x037F, all
// registers empty (abridged tag 0), MXCSR 0x1F80.
void ResetFxState(uint8_t* fx) {
  std::memset(fx, 0, 512);
  const uint16_t fcw = 0x037F;
  const uint32_t mxcsr = 0x1F80, mxcsr_mask = 0xFFFF;
  std::memcpy(fx + 0, &fcw, 2);
  std::memcpy(fx + 24, &mxcsr, 4);
  std::memcpy(fx + 28, &mxcsr_mask, 4);
}

}  // namespace

Vcpu::Vcpu(GuestMemory* memory, IoBus* io, DebugExit* debug_exit, const Config& config,
           Stats* stats)
    : memory_(memory), io_(io), debug_exit_(debug_exit), config_(config), stats_(stats) {}

Vcpu::~Vcpu() {
  DetachSignalHandling();
  if (area_) munmap(area_, kVcpuAreaBytes);
}

Status Vcpu::Init() {
  void* area =
      mmap(nullptr, kVcpuAreaBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (area == MAP_FAILED) {
    return Status::Error(ExitStatus::kInternal,
                         fmt::format("vCPU area mmap: {}", std::strerror(errno)));
  }
  area_ = static_cast<uint8_t*>(area);
  ctx_ = new (area_) VcpuContext();
  ctx_->window_base = uint64_t(uintptr_t(memory_->window()));
  ctx_->rflags = 0x2;
  ctx_->shadow_eip = ~0u;
  // The segment state a Multiboot loader leaves: flat 32-bit code at 0x08,
  // flat data at 0x10 (QEMU's loader uses these selectors); no LDT or TSS.
  SetSegment(kCs, SegmentCache{0x08, 0, 0xFFFFFFFF, 0xC09B, true});
  for (int s : {kEs, kSs, kDs, kFs, kGs}) {
    SetSegment(s, SegmentCache{0x10, 0, 0xFFFFFFFF, 0xC093, true});
  }
  cpu_.ldtr = SegmentCache{0, 0, 0xFFFF, 0x82, false};
  cpu_.tr = SegmentCache{0, 0, 0xFFFF, 0x8B, false};
  ResetFxState(ctx_->guest_fx);

  BT86_RETURN_IF_ERROR(CodeCache::Create(config_.code_cache_bytes, stats_, &cache_));
  BT86_RETURN_IF_ERROR(EmitHostStubs(cache_.get(), &stubs_));
  cache_->SetLookupTable(reinterpret_cast<uint64_t*>(area_ + kLookupKeysOffset),
                         reinterpret_cast<uint64_t*>(area_ + kLookupTargetsOffset));
  cache_->ClearLookup();
  TranslatorOptions options;
  options.max_block_insns = config_.max_block_instructions;
  options.inline_lookup = config_.inline_lookup;
  // The flag-free masking in the fast paths uses BMI2 (pext/pdep/shrx).
  options.fast_paths = config_.fast_paths && __builtin_cpu_supports("bmi2");
  translator_ = std::make_unique<Translator>(cache_.get(), stubs_, options, stats_);
  return Status::Ok();
}

uint32_t Vcpu::ReadEflags() const {
  return (uint32_t(ctx_->rflags) & kArithmeticFlags) | (ctx_->virtual_if ? kEflagsIf : 0) |
         ctx_->system_eflags | 0x2;
}

void Vcpu::WriteEflags(uint32_t value) {
  ctx_->rflags = (ctx_->rflags & ~uint64_t(kArithmeticFlags)) | (value & kArithmeticFlags);
  ctx_->virtual_if = (value & kEflagsIf) ? 1 : 0;
  // AC, ID, NT and IOPL are kept virtual; VM, RF, VIF, VIP stay clear in
  // protected mode without V86 (issue: shadow CPU).
  ctx_->system_eflags = value & (kEflagsTf | 0x3000 | 0x4000 | kEflagsRf | 0x40000 | 0x200000);
}

size_t Vcpu::ReadCode(uint32_t eip, uint8_t* out, size_t len) {
  const uint32_t linear = cpu_.seg[kCs].base + eip;
  if (!memory_->Contains(linear, 1)) return 0;
  const size_t avail = std::min<uint64_t>(len, memory_->ram_bytes() - linear);
  std::memcpy(out, memory_->ram() + linear, avail);
  return avail;
}

bool Vcpu::IsFaultingDivide(uint32_t eip) {
  return faulting_divides_.count(cpu_.seg[kCs].base + eip) != 0;
}

BlockKey Vcpu::KeyFor(uint32_t eip, uint32_t mode) const {
  const uint32_t cs_base = cpu_.seg[kCs].base;
  return BlockKey{eip, (cs_base + eip) / kPageSize, mode, cs_base};
}

bool Vcpu::ReadLinear(uint32_t addr, void* out, size_t len) {
  if (!memory_->Contains(addr, len)) return false;
  std::memcpy(out, memory_->ram() + addr, len);
  return true;
}

bool Vcpu::WriteLinear(uint32_t addr, const void* in, size_t len) {
  if (!memory_->Contains(addr, len)) return false;
  for (uint32_t page = addr / kPageSize; page <= (addr + len - 1) / kPageSize; ++page) {
    if (memory_->IsCodePage(page)) {
      cache_->InvalidatePage(page);
      memory_->UnprotectCodePage(page);
      stats_->smc_writes++;
    }
  }
  std::memcpy(memory_->ram() + addr, in, len);
  return true;
}

void Vcpu::ProtectCode(const Block* block) {
  for (uint32_t page = block->first_page; page <= block->last_page; ++page) {
    if (!memory_->IsCodePage(page) && memory_->Contains(uint64_t(page) * kPageSize, kPageSize)) {
      memory_->ProtectCodePage(page);
    }
  }
}

Block* Vcpu::FindOrTranslate(uint32_t eip) {
  const BlockKey key = KeyFor(eip, TranslationMode());
  if (Block* b = cache_->Find(key)) {
    stats_->lookup_hits++;
    return b;
  }
  stats_->lookup_misses++;
  Block* b = translator_->Translate(key, *this, false);
  ProtectCode(b);
  return b;
}

void Vcpu::ArmPoll() {
  mprotect(area_ + kPollOffset, kPageSize, PROT_NONE);
}
void Vcpu::DisarmPoll() {
  mprotect(area_ + kPollOffset, kPageSize, PROT_READ);
}

void Vcpu::RequestStop() {
  stop_requested_.store(true);
  ArmPoll();
  std::lock_guard<std::mutex> lock(wake_mutex_);
  wake_.notify_all();
}

void Vcpu::RaiseInterrupt(uint8_t vector) {
  std::lock_guard<std::mutex> lock(wake_mutex_);
  pending_irqs_[vector / 64] |= 1ull << (vector % 64);
  irq_pending_.store(true);
  ctx_->irq_pending = 1;
  ArmPoll();
  wake_.notify_all();
}

int Vcpu::TakePendingInterrupt() {
  std::lock_guard<std::mutex> lock(wake_mutex_);
  for (int word = 3; word >= 0; --word) {
    if (pending_irqs_[word]) {
      const int bit = 63 - __builtin_clzll(pending_irqs_[word]);
      pending_irqs_[word] &= ~(1ull << bit);
      const bool more = pending_irqs_[0] | pending_irqs_[1] | pending_irqs_[2] | pending_irqs_[3];
      irq_pending_.store(more);
      ctx_->irq_pending = more;
      return word * 64 + bit;
    }
  }
  irq_pending_.store(false);
  ctx_->irq_pending = 0;
  return -1;
}

Vcpu::Next Vcpu::HandleStopRequest() {
  return StopWith(RunResult::Kind::kTimeout, fmt::format("timeout after {} s at eip={:08x}",
                                                         config_.timeout_seconds, ctx_->eip));
}

Vcpu::Next Vcpu::StopWith(RunResult::Kind kind, std::string report) {
  result_.kind = kind;
  result_.report = std::move(report);
  return Next::kStop;
}

RunResult Vcpu::Run() {
  Status st = AttachSignalHandling(ctx_, cache_.get(), stubs_.save_state);
  if (st.ok()) st = SetThreadGsBase(ctx_->window_base);
  if (!st.ok()) return {RunResult::Kind::kGuestFault, 0, "internal error: " + st.message()};
  result_ = RunResult();
  stop_requested_.store(false);
  mprotect(area_ + kPollOffset, kPageSize, PROT_READ);
  Block* next = nullptr;
  for (;;) {
    if (stop_requested_.load()) {
      HandleStopRequest();
      break;
    }
    if (irq_pending_.load()) {
      // External interrupts are taken at block boundaries with IF=1, one
      // instruction late after STI or MOV SS (SDM 6.8.3).
      DisarmPoll();
      if (ctx_->virtual_if && !step_once_) {
        if (ctx_->eip == ctx_->shadow_eip) {
          step_once_ = true;
          ctx_->shadow_eip = ~0u;
        } else if (const int vector = TakePendingInterrupt(); vector >= 0) {
          Event e{uint8_t(vector)};
          e.external = true;
          if (Raise(e) == Next::kStop) break;
          next = nullptr;
        }
      }
    }
    if (next == nullptr) {
      next = FindOrTranslate(ctx_->eip);
    }
    // Single-step (EFLAGS.TF) and instruction breakpoints (DR7) run one
    // instruction at a time from transient blocks (SDM Vol. 3B 17.3).
    const bool stepping = DebugStepping() || step_once_;
    step_once_ = false;
    const bool tf_at_start = ReadEflags() & kEflagsTf;
    const uint64_t deliveries_before = stats_->exceptions_delivered;
    if (stepping) {
      if (InstructionBreakpointHit()) {
        if (Raise(Exception(1)) == Next::kStop) break;
        next = nullptr;
        continue;
      }
      next =
          translator_->Translate(KeyFor(ctx_->eip, TranslationMode() | kModeStepping), *this, true);
    }
    Block* running = next;
    next = nullptr;
    const uint64_t generation = cache_->generation();
    // Alignment checks run on the host's own AC flag (Linux sets CR0.AM):
    // enabled exactly when the guest would check (CPL 3, CR0.AM, EFLAGS.AC).
    const bool alignment_check =
        cpu_.cpl == 3 && (cpu_.cr[0] & (1u << 18)) && (ctx_->system_eflags & (1u << 18));
    ctx_->rflags = (ctx_->rflags & ~uint64_t(1u << 18)) | (alignment_check ? 1u << 18 : 0);
    ctx_->exit_reason = ExitReason::kNone;
    stubs_.enter(ctx_, running->code);
    Next n = Next::kContinue;
    switch (ctx_->exit_reason) {
      case ExitReason::kBranch:
        stats_->exits_branch++;
        n = HandleBranchExit(&next);
        break;
      case ExitReason::kIndirect:
        stats_->exits_indirect++;
        next = FindOrTranslate(ctx_->eip);
        if (config_.inline_lookup) cache_->FillLookup(next);
        break;
      case ExitReason::kCallout:
        stats_->exits_callout++;
        n = HandleCalloutExit(*reinterpret_cast<const CalloutSite*>(ctx_->exit_block));
        break;
      case ExitReason::kSignal:
        stats_->exits_signal++;
        n = HandleSignalExit(&next);
        break;
      default:
        n = StopWith(RunResult::Kind::kGuestFault, "internal error: exit without a reason");
        break;
    }
    if (cache_->generation() == generation && running->transient) cache_->Invalidate(running);
    if (n == Next::kStop) break;
    if (running == watch_block_ && watch_page_ >= 0) {
      // The instruction that touched a watched page ran: watch it again and
      // report the data breakpoints it hit.
      memory_->ApplyProtection(uint32_t(watch_page_));
      watch_page_ = -1;
      watch_block_ = nullptr;
      const bool completed =
          (ctx_->exit_reason == ExitReason::kBranch || ctx_->exit_reason == ExitReason::kIndirect ||
           ctx_->exit_reason == ExitReason::kCallout) &&
          stats_->exceptions_delivered == deliveries_before;
      const uint32_t hits = watch_hits_;
      watch_hits_ = 0;
      if (completed && hits) {
        cpu_.dr[6] = (cpu_.dr[6] & ~0xFu) | hits;
        if (Raise(Exception(1)) == Next::kStop) break;
        next = nullptr;
      }
    }
    if (!stepping) {
      ss_shadow_ = false;  // it covers only the next instruction
      instruction_restarted_ = false;
      // RF clears once an instruction completes, except after the IRET that
      // loaded it (only visible to instruction breakpoints).
      if ((ctx_->system_eflags & kEflagsRf) && !iret_loaded_rf_) {
        WriteEflags(ReadEflags() & ~kEflagsRf);
      }
      iret_loaded_rf_ = false;
    } else {
      next = nullptr;
      // The instruction completed if it left through a branch or a callout
      // that delivered nothing (a fault or INT n clears TF on delivery).
      const bool completed =
          (ctx_->exit_reason == ExitReason::kBranch || ctx_->exit_reason == ExitReason::kIndirect ||
           ctx_->exit_reason == ExitReason::kCallout) &&
          stats_->exceptions_delivered == deliveries_before && !instruction_restarted_;
      instruction_restarted_ = false;
      if (completed) {
        // RF clears after every instruction except the IRET that loaded it.
        if (!iret_loaded_rf_) WriteEflags(ReadEflags() & ~kEflagsRf);
        iret_loaded_rf_ = false;
        // MOV SS / POP SS inhibit the trap for one instruction (SDM 6.8.3).
        const bool shadow = ss_shadow_;
        ss_shadow_ = false;
        if (tf_at_start && !shadow) {
          cpu_.dr[6] |= 1u << 14;  // BS: single step
          if (Raise(Exception(1)) == Next::kStop) break;
        }
      }
    }
  }
  DetachSignalHandling();
  for (size_t m = 0; m < callout_counts_.size(); ++m) {
    if (callout_counts_[m] == 0) continue;
    stats_->callouts[ZydisMnemonicGetString(ZydisMnemonic(m))] += callout_counts_[m];
    callout_counts_[m] = 0;
  }
  return result_;
}

Vcpu::Next Vcpu::HandleBranchExit(Block** next_block) {
  ExitSlot* slot = reinterpret_cast<ExitSlot*>(ctx_->exit_block);
  Block* owner = slot->owner;
  ctx_->eip = slot->target_eip;
  const uint64_t generation = cache_->generation();
  Block* target = FindOrTranslate(ctx_->eip);
  if (config_.chaining && cache_->generation() == generation && owner->valid && !owner->transient &&
      target->valid && slot->chained_to == nullptr) {
    cache_->Chain(slot, target);
  }
  *next_block = target;
  return Next::kContinue;
}

Vcpu::Next Vcpu::HandleCalloutExit(const CalloutSite& site) {
  ctx_->eip = site.eip;
  switch (site.kind) {
    case CalloutKind::kEmulate:
      return Emulate(site);
    case CalloutKind::kInvalidOpcode:
      return Raise(Exception(6));
    case CalloutKind::kDivideError:
      return Raise(Exception(0));
    case CalloutKind::kSegmentFault:
      return Raise(ExceptionWithCode(13, 0));
    case CalloutKind::kStackFault:
      return Raise(ExceptionWithCode(12, 0));
    case CalloutKind::kInterruptWindow:
      ctx_->eip = site.eip + site.length;  // the loop top delivers the interrupt
      return Next::kContinue;
    case CalloutKind::kFetchFault:
      return StopWith(RunResult::Kind::kGuestFault,
                      fmt::format("guest fault: instruction fetch outside guest RAM at "
                                  "eip={:08x} (RAM is {} bytes)\n{}",
                                  site.eip, memory_->ram_bytes(), DumpRegisters()));
    case CalloutKind::kUnsupported:
    default:
      return StopWith(
          RunResult::Kind::kUnsupported,
          fmt::format("unsupported instruction at eip={:08x}: {}\n{}", site.eip,
                      DescribeInsn(site.eip, site.bytes, site.length), DumpRegisters()));
  }
}

Vcpu::Next Vcpu::HandleSignalExit(Block** next_block) {
  Block* block = cache_->FindByHostAddress(ctx_->fault_rip);
  const InsnRecord* insn =
      block ? block->InsnAt(uint32_t(ctx_->fault_rip - uintptr_t(block->code))) : nullptr;
  if (insn == nullptr || ctx_->fault_rip >= uintptr_t(block->code) + block->body_size) {
    return StopWith(RunResult::Kind::kGuestFault,
                    fmt::format("internal error: host signal {} at {:#x} outside any block body",
                                ctx_->fault_signo, ctx_->fault_rip));
  }
  ctx_->eip = insn->eip;  // precise: the guest state is the one before this instruction
  const uintptr_t addr = uintptr_t(ctx_->fault_addr);
  const uintptr_t poll = uintptr_t(area_ + kPollOffset);
  if (ctx_->fault_signo == SIGSEGV && addr >= poll && addr < poll + kPageSize) {
    stats_->poll_stops++;
    instruction_restarted_ = true;
    return Next::kContinue;  // the loop top sees the stop request
  }
  const uintptr_t window = uintptr_t(memory_->window());
  uint8_t bytes[16] = {};
  ReadLinear(cpu_.seg[kCs].base + insn->eip, bytes, std::min<size_t>(insn->length, 15));
  const std::string where =
      fmt::format("at eip={:08x}: {}", insn->eip, DescribeInsn(insn->eip, bytes, insn->length));
  if (ctx_->fault_signo == SIGSEGV && addr >= window && addr - window < (1ull << 32)) {
    const uint32_t guest_addr = uint32_t(addr - window);
    const uint32_t page = guest_addr / kPageSize;
    const bool write = (ctx_->fault_code & 2) != 0;
    if (memory_->page_watch(page) != GuestMemory::PageWatch::kNone) {
      // A page watched by a data breakpoint: run the instruction once with
      // the watch lifted, then check the breakpoints (a trap, SDM 17.3.1.2).
      watch_hits_ |= DataBreakpointHits(*insn, guest_addr, write);
      if (write && memory_->IsCodePage(page)) {
        stats_->smc_writes++;
        cache_->InvalidatePage(page);
        memory_->UnprotectCodePage(page);
      }
      if (watch_page_ >= 0 && uint32_t(watch_page_) != page) memory_->ApplyProtection(watch_page_);
      memory_->SuspendPageWatch(page);
      watch_page_ = int64_t(page);
      *next_block = translator_->Translate(KeyFor(insn->eip, TranslationMode()), *this, true);
      watch_block_ = *next_block;
      return Next::kContinue;
    }
    if (write && memory_->IsCodePage(page)) {
      // Self-modifying code: drop the page's translations, let the write
      // through, and run the writing instruction once from a transient block
      // (translating it normally would protect the page again).
      stats_->smc_writes++;
      instruction_restarted_ = true;
      cache_->InvalidatePage(page);
      memory_->UnprotectCodePage(page);
      *next_block = translator_->Translate(KeyFor(insn->eip, TranslationMode()), *this, true);
      return Next::kContinue;
    }
    return StopWith(RunResult::Kind::kGuestFault,
                    fmt::format("guest fault: {} of guest address {:08x} outside RAM ({} bytes) "
                                "{}\n{}",
                                write ? "write" : "read", guest_addr, memory_->ram_bytes(), where,
                                DumpRegisters()));
  }
  switch (ctx_->fault_signo) {
    case SIGFPE: {
      if (ctx_->fault_code == FPE_INTDIV || ctx_->fault_code == FPE_INTOVF) {
        // Remember the instruction and retranslate its block with an inline
        // zero-divisor test (adaptive translation); deliver this #DE now.
        const uint32_t linear = cpu_.seg[kCs].base + insn->eip;
        if (faulting_divides_.insert(linear).second && !block->transient) {
          cache_->Invalidate(block);
          stats_->adaptive_retranslations++;
        }
        return Raise(Exception(0));  // #DE
      }
      // An unmasked x87 exception is #MF; an SSE one is #XM, or #UD when
      // CR4.OSXMMEXCPT is clear (SDM 13.4).
      DecodedInsn d;
      uint8_t padded[16] = {};
      std::memcpy(padded, bytes, sizeof(bytes));
      const bool sse = translator_->decoder().Decode(padded, 15, insn->eip, &d) &&
                       d.insn.meta.isa_ext != ZYDIS_ISA_EXT_X87;
      if (!sse) return Raise(Exception(16));
      return Raise(Exception((cpu_.cr[4] & (1u << 10)) ? 19 : 6));
    }
    case SIGBUS:
      // Alignment checking (the host's AC is set for the guest only at CPL 3
      // with CR0.AM and EFLAGS.AC): #AC(0), a fault (SDM 6.15).
      if (ctx_->fault_code == BUS_ADRALN) return Raise(ExceptionWithCode(17, 0));
      return Raise(ExceptionWithCode(13, 0));
    case SIGSEGV:
      // A #GP natively (misaligned SSE operand, ...): the guest's #GP(0).
      return Raise(ExceptionWithCode(13, 0));
    default:
      return StopWith(RunResult::Kind::kGuestFault,
                      fmt::format("guest fault: host signal {} {}\n{}", ctx_->fault_signo, where,
                                  DumpRegisters()));
  }
}

std::string Vcpu::ExplainBlock(uint32_t eip) {
  return FormatBlockListing(*FindOrTranslate(eip), translator_->decoder(), stubs_, *this);
}

std::string Vcpu::DescribeInsn(uint32_t eip, const uint8_t* bytes, size_t len) {
  // Decode from a 15-byte padded copy (see Emulate: Zydis 4.0 asserts on
  // some buffers that end exactly at the instruction's end), then show only
  // the instruction's own bytes.
  uint8_t padded[ZYDIS_MAX_INSTRUCTION_LENGTH] = {};
  std::memcpy(padded, bytes, std::min<size_t>(len, sizeof(padded)));
  DecodedInsn d;
  const bool decoded = len > 0 && translator_->decoder().Decode(padded, sizeof(padded), eip, &d) &&
                       d.insn.length <= len;
  const size_t shown = decoded ? d.insn.length : len;
  std::string hex;
  for (size_t i = 0; i < shown; ++i) hex += fmt::format("{}{:02x}", i ? " " : "", bytes[i]);
  if (!decoded) return fmt::format("(undecodable) [{}]", hex);
  return fmt::format("{} [{}]", translator_->decoder().Format(d), hex);
}

std::string Vcpu::DumpRegisters() const {
  const uint32_t* g = ctx_->gpr;
  return fmt::format(
      "  eax={:08x} ecx={:08x} edx={:08x} ebx={:08x}\n"
      "  esp={:08x} ebp={:08x} esi={:08x} edi={:08x}\n"
      "  eip={:08x} eflags={:08x}",
      g[kEax], g[kEcx], g[kEdx], g[kEbx], g[kEsp], g[kEbp], g[kEsi], g[kEdi], ctx_->eip,
      ReadEflags());
}

}  // namespace bt86
