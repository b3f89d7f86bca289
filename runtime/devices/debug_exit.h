// The test exit port, compatible with QEMU's isa-debug-exit (iobase 0xf4,
// iosize 4): a guest write of value v asks bt86 to exit with status
// (v << 1) | 1, so a guest's exit status is always odd and never collides with
// bt86's own statuses (bt86/status.h). The device only records the request;
// the run loop polls requested_value() after every OUT and stops the guest.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>

#include "runtime/io_bus.h"

namespace bt86 {

class DebugExit : public PortDevice {
 public:
  /// Told the value of the first exit request, as it happens.
  using ExitHook = std::function<void(uint32_t value)>;

  static constexpr uint16_t kDefaultBase = 0xf4;  ///< QEMU's default iobase.
  static constexpr uint16_t kPortCount = 4;       ///< QEMU's default iosize.

  /// A device with no request yet; `hook` (optional) hears the first request.
  explicit DebugExit(ExitHook hook = nullptr);

  /// The process exit status QEMU gives for a write of `value`; exit() keeps its low 8 bits.
  static uint32_t ProcessExitCode(uint32_t value) { return (value << 1) | 1; }

  /// Reads all-ones: the port has no readable state.
  uint32_t In(uint16_t offset, int size) override;
  /// Any write, of any width at any offset, requests an exit with that value.
  void Out(uint16_t offset, int size, uint32_t value) override;

  /// The value of the first write, once the guest has written one.
  std::optional<uint32_t> requested_value() const { return requested_value_; }

 private:
  ExitHook hook_;
  std::optional<uint32_t> requested_value_;
};

}  // namespace bt86
