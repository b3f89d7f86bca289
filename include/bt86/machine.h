// The public API: build a virtual machine, load a guest, run it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bt86/config.h"
#include "bt86/stats.h"
#include "bt86/status.h"

namespace bt86 {

/// Why a run ended.
struct RunResult {
  enum class Kind {
    kExitPort,     ///< The guest wrote `exit_value` to port 0xf4.
    kHalted,       ///< HLT with interrupts disabled.
    kGuestFault,   ///< An exception bt86 cannot deliver yet.
    kUnsupported,  ///< An instruction bt86 does not run.
    kTimeout,      ///< --timeout expired.
  };
  Kind kind = Kind::kHalted;
  uint32_t exit_value = 0;
  std::string report;  ///< Human-readable account (faults, unsupported instructions).

  /// The process exit status documented in the README.
  int ProcessExitStatus() const;
};

/// A short lowercase name for a result kind ("exit-port", "halted", ...).
const char* RunResultKindName(RunResult::Kind kind);

/// Guest general registers, EIP and EFLAGS (arithmetic flags, DF and IF).
struct GuestRegisters {
  uint32_t gpr[8] = {};  ///< eax ecx edx ebx esp ebp esi edi
  uint32_t eip = 0;
  uint32_t eflags = 0x2;
};

struct MultibootModuleSpec {
  std::string path;
  std::string args;
};

class Machine {
 public:
  /// Creates guest RAM, the translation cache and the devices.
  static Status Create(const Config& config, std::unique_ptr<Machine>* out);
  ~Machine();

  /// Loads a Multiboot v1 kernel and sets the boot CPU state.
  Status LoadMultiboot(const std::string& path, const std::string& cmdline,
                       const std::vector<MultibootModuleSpec>& modules);
  /// Loads a flat binary at `load_addr` and starts at `entry`.
  Status LoadFlat(const std::string& path, uint32_t load_addr, uint32_t entry);
  /// Copies bytes into guest RAM at a physical address.
  Status WriteMemory(uint32_t paddr, const void* data, size_t len);
  /// Copies bytes out of guest RAM.
  Status ReadMemory(uint32_t paddr, void* data, size_t len) const;

  GuestRegisters registers() const;
  void set_registers(const GuestRegisters& regs);
  /// Sets CR0, CR2, CR3 or CR4 directly (initial state for tests and
  /// embedders; a guest's own MOV CRn is checked).
  void set_control_register(int cr, uint32_t value);

  /// Runs until the guest exits, halts, faults or times out.
  RunResult Run();
  const Stats& stats() const;
  /// Makes external interrupt `vector` pending (thread-safe; for tests and,
  /// later, the interrupt controllers).
  void RaiseInterrupt(uint8_t vector);
  /// Translates the block at guest `eip` and lists it beside its host code.
  std::string ExplainBlock(uint32_t eip);
  /// Where COM1 output goes (default: stdout).
  void SetSerialOutput(std::function<void(uint8_t)> sink);

  struct Impl;

 private:
  explicit Machine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace bt86
