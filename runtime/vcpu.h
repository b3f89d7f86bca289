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
#include <memory>
#include <mutex>
#include <string>

#include "bt86/callout_abi.h"
#include "bt86/config.h"
#include "bt86/machine.h"
#include "bt86/stats.h"
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

  /// GuestCodeReader: guest linear = physical while paging is off.
  size_t ReadCode(uint32_t eip, uint8_t* out, size_t len) override;

  /// Reads guest linear memory for the emulator. False if outside RAM.
  bool ReadLinear(uint32_t addr, void* out, size_t len);
  /// Writes guest linear memory for the emulator, keeping translated code
  /// coherent. False if outside RAM.
  bool WriteLinear(uint32_t addr, const void* in, size_t len);

  /// Full guest EFLAGS: arithmetic flags from host RFLAGS, IF and the rest virtual.
  uint32_t ReadEflags() const;
  /// Sets guest EFLAGS (CPL 0 rules: IF and IOPL writable).
  void WriteEflags(uint32_t value);

  /// Translates the block at `eip` (as the run loop would) and lists it.
  std::string ExplainBlock(uint32_t eip);

 private:
  enum class Next { kContinue, kStop };

  Block* FindOrTranslate(uint32_t eip);
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
  uint32_t system_eflags_ = 0;  ///< Guest EFLAGS bits that are neither arithmetic nor IF.
  /// Control registers (CR0 as the Multiboot loader leaves it: PE | ET).
  uint32_t cr_[5] = {0x11, 0, 0, 0, 0};
  std::unique_ptr<CodeCache> cache_;
  HostStubs stubs_;
  std::unique_ptr<Translator> translator_;
  RunResult result_;

  std::atomic<bool> stop_requested_{false};
  std::mutex wake_mutex_;
  std::condition_variable wake_;
};

}  // namespace bt86
