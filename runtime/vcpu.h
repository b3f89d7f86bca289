// One virtual CPU: the run loop where translated code, the shadow CPU and
// the devices meet (DESIGN.md "Layers"). It owns the vCPU area that r15
// points to, the translation cache and the translator.
//
// The loop: find or translate the block at eip, enter it, and on return act
// on the exit record: chain a direct branch, fill the inline lookup table,
// emulate a callout, or turn a host signal into a guest event.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "bt86/callout_abi.h"
#include "bt86/config.h"
#include "bt86/machine.h"
#include "bt86/stats.h"
#include "runtime/cpu/shadow_cpu.h"
#include "runtime/guest_memory.h"
#include "runtime/io_bus.h"
#include "translator/code_cache.h"
#include "translator/host_stubs.h"
#include "translator/translator.h"

namespace bt86 {

class DebugExit;

class Vcpu : public GuestCodeReader {
 public:
  Vcpu(GuestMemory* memory, IoBus* io, DebugExit* debug_exit, const Config& config, Stats* stats);
  ~Vcpu() override;

  /// Maps the vCPU area, creates the cache, stubs and signal handlers.
  Status Init();
  VcpuContext& ctx() { return *ctx_; }
  const VcpuContext& ctx() const { return *ctx_; }

  /// Runs until the guest stops (exit port, halt, fault, timeout).
  RunResult Run();
  /// Asks the run loop to stop at the next block boundary. Thread-safe.
  void RequestStop();
  /// Makes external interrupt `vector` pending; it is delivered through the
  /// IDT at the next block boundary where IF=1 (and wakes HLT). Thread-safe.
  void RaiseInterrupt(uint8_t vector);

  /// GuestCodeReader: guest linear = physical while paging is off.
  size_t ReadCode(uint32_t eip, uint8_t* out, size_t len) override;
  /// GuestCodeReader: DIV/IDIV instructions (by linear address) that raised #DE.
  bool IsFaultingDivide(uint32_t eip) override;

  /// Reads guest linear memory for the emulator. False if outside RAM.
  bool ReadLinear(uint32_t addr, void* out, size_t len);
  /// Writes guest linear memory for the emulator, keeping translated code
  /// coherent. False if outside RAM.
  bool WriteLinear(uint32_t addr, const void* in, size_t len);

  /// Full guest EFLAGS: arithmetic flags from host RFLAGS, IF and the rest virtual.
  uint32_t ReadEflags() const;
  /// Sets a control register without the MOV CRn checks (initial state).
  void SetControlRegister(int cr, uint32_t value) {
    if (cr >= 0 && cr <= 4 && cr != 1) cpu_.cr[cr] = value;
  }
  /// Sets guest EFLAGS (CPL 0 rules: IF and IOPL writable).
  void WriteEflags(uint32_t value);

  /// Translates the block at `eip` (as the run loop would) and lists it.
  std::string ExplainBlock(uint32_t eip);

 private:
  enum class Next { kContinue, kStop };

  /// A guest exception or interrupt to deliver through the IDT (SDM 6.4).
  struct Event {
    uint8_t vector = 0;
    bool has_error_code = false;
    uint32_t error_code = 0;
    bool software = false;  ///< INT n, INT3, INTO: the gate's DPL is checked against CPL.
    bool external = false;  ///< A hardware interrupt (EXT=1 in nested error codes).
    /// For software interrupts: the INT instruction's own EIP, which becomes
    /// the saved EIP if delivering it faults (the fault is the instruction's).
    uint32_t insn_eip = 0;
  };
  /// An exception raised by emulation or delivery, not yet delivered.
  using Fault = std::optional<Event>;
  static Event Exception(uint8_t vector) { return Event{vector}; }
  static Event ExceptionWithCode(uint8_t vector, uint32_t code) {
    return Event{vector, true, code};
  }

  // cpu/interrupts.cpp
  /// Delivers `e` with the saved EIP taken from ctx.eip (the faulting
  /// instruction for faults, the next one for traps and INT n). Handles
  /// nested faults (#DF) and stops the guest on a triple fault.
  Next Raise(Event e);
  Fault TryDeliver(const Event& e);
  Next EmulateIret(const DecodedInsn& d, const CalloutSite& site);
  // cpu/control_transfers.cpp
  static bool IsFarTransfer(const DecodedInsn& d);
  Next EmulateFarTransfer(const DecodedInsn& d, const CalloutSite& site);
  Next EmulateNearTransfer(const DecodedInsn& d, const CalloutSite& site);
  // cpu/segments.cpp
  Fault ReadDescriptor(uint16_t selector, Descriptor* out, uint32_t ext = 0);
  void WriteDescriptorHigh(uint16_t selector, uint32_t high);
  Fault LoadSegment(int seg, uint16_t selector);
  void SetSegment(int seg, const SegmentCache& cache);
  /// On a return to an outer level: es/fs/gs/ds that the new CPL may not
  /// use become null (SDM IRET and RET far).
  void NullInaccessibleDataSegments(uint8_t new_cpl);
  /// Limit and type check of an access through `seg` (#GP(0), or #SS(0)).
  Fault CheckSegmentAccess(int seg, uint32_t offset, uint32_t size, bool write);
  /// The checks of IRET and RET far on the code and (outer) stack segments.
  Fault CheckReturnCodeSegment(uint16_t selector, SegmentCache* out);
  Fault CheckReturnStackSegment(uint16_t selector, uint8_t rpl, SegmentCache* out);
  /// The mode bits of the block key for the current CPU state.
  uint32_t TranslationMode() const;
  /// True while single-stepping or with an instruction breakpoint armed.
  bool DebugStepping() const;
  /// Checks DR0-DR3 execute breakpoints at the current EIP; sets DR6.Bn.
  bool InstructionBreakpointHit();
  /// DR0-DR3 data breakpoints that an access at `addr` by `insn` hits.
  uint32_t DataBreakpointHits(const InsnRecord& insn, uint32_t addr, bool write);
  uint32_t DataBreakpointLength(int i) const;
  /// Re-arms the page watches after DR0-DR3 or DR7 changed.
  void UpdateDataBreakpoints();
  // cpu/system_insns.cpp
  Next EmulateSystem(const DecodedInsn& d, const CalloutSite& site, bool* handled);
  bool ComputeLinearAddress(const DecodedInsn& d, const ZydisDecodedOperand& m, uint32_t* out);
  uint32_t ReadGpr(ZydisRegister r) const;
  void WriteGpr(ZydisRegister r, uint32_t v);
  bool PushValue(uint32_t value, int size);
  bool IoAllowed(uint16_t port, int size);

  Block* FindOrTranslate(uint32_t eip);
  /// The block key for `eip` in the current code segment.
  BlockKey KeyFor(uint32_t eip, uint32_t mode) const;
  void ProtectCode(const Block* block);
  Next HandleBranchExit(Block** next_block);
  Next HandleCalloutExit(const CalloutSite& site);
  Next HandleSignalExit(Block** next_block);
  Next HandleStopRequest();
  Next Emulate(const CalloutSite& site);
  Next EmulateString(const DecodedInsn& d, const CalloutSite& site);
  Next EmulateCountedBranch(const DecodedInsn& d, const CalloutSite& site);
  Next EmulateXlat(const DecodedInsn& d, const CalloutSite& site);
  Next EmulateMovCr(const DecodedInsn& d, const CalloutSite& site);
  Next StopOnMemoryFault(uint32_t addr, const CalloutSite& site);
  Next Halt();
  Next StopWith(RunResult::Kind kind, std::string report);
  std::string DescribeInsn(uint32_t eip, const uint8_t* bytes, size_t len);
  std::string DumpRegisters() const;

  GuestMemory* memory_;
  IoBus* io_;
  DebugExit* debug_exit_;
  Config config_;
  Stats* stats_;
  uint8_t* area_ = nullptr;  ///< kVcpuAreaBytes, page aligned; starts with the context.
  VcpuContext* ctx_ = nullptr;
  ShadowCpu cpu_;
  bool instruction_restarted_ = false;  ///< The last exit re-runs its instruction.
  std::map<uint32_t, GuestMemory::PageWatch> watched_pages_;  ///< For data breakpoints.
  int64_t watch_page_ = -1;       ///< A watched page lifted for one instruction.
  Block* watch_block_ = nullptr;  ///< The transient block running that instruction.
  uint32_t watch_hits_ = 0;       ///< DR6.B0-B3 for it.
  std::unordered_set<uint32_t> faulting_divides_;  ///< Linear EIPs of DIVs that raised #DE.
  bool iret_loaded_rf_ = false;  ///< The last instruction was an IRET that set RF.
  bool ss_shadow_ = false;       ///< The last instruction loaded SS (MOV/POP SS shadow).
  std::unique_ptr<CodeCache> cache_;
  HostStubs stubs_;
  std::unique_ptr<Translator> translator_;
  RunResult result_;

  /// The highest pending external interrupt, or -1 (under wake_mutex_).
  int TakePendingInterrupt();
  void ArmPoll();
  void DisarmPoll();

  std::atomic<bool> stop_requested_{false};
  std::atomic<bool> irq_pending_{false};
  uint64_t pending_irqs_[4] = {};  ///< Bitmap of pending vectors, under wake_mutex_.
  bool step_once_ = false;         ///< Run one instruction before delivering (shadows).
  /// Callouts by mnemonic, folded into Stats::callouts when a run ends (a
  /// string-keyed map is too slow to bump on every callout).
  std::vector<uint64_t> callout_counts_ = std::vector<uint64_t>(ZYDIS_MNEMONIC_MAX_VALUE + 1);
  std::mutex wake_mutex_;
  std::condition_variable wake_;
};

}  // namespace bt86
