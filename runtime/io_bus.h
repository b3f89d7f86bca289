// The port I/O bus: devices claim port ranges; unclaimed ports read all-ones
// and ignore writes (both counted), as on a PC with nothing decoding them.
#pragma once

#include <cstdint>
#include <vector>

namespace bt86 {

/// A device on the port I/O bus. It sees only an offset into its range.
class PortDevice {
 public:
  virtual ~PortDevice() = default;
  /// Reads `size` bytes (1, 2 or 4) at `offset` from the device's base.
  virtual uint32_t In(uint16_t offset, int size) = 0;
  /// Writes `size` bytes (1, 2 or 4) at `offset` from the device's base.
  virtual void Out(uint16_t offset, int size, uint32_t value) = 0;
};

class IoBus {
 public:
  /// Claims ports [base, base + count) for `device` (not owned).
  void Register(uint16_t base, uint16_t count, PortDevice* device);
  /// A guest IN: the device's value, or all-ones for an unclaimed port.
  uint32_t In(uint16_t port, int size);
  /// A guest OUT: delivered to the device, or dropped for an unclaimed port.
  void Out(uint16_t port, int size, uint32_t value);

  uint64_t unclaimed_reads() const { return unclaimed_reads_; }
  uint64_t unclaimed_writes() const { return unclaimed_writes_; }

 private:
  struct Range {
    uint16_t base;
    uint16_t count;
    PortDevice* device;
  };
  const Range* Find(uint16_t port) const;

  std::vector<Range> ranges_;
  uint64_t unclaimed_reads_ = 0;
  uint64_t unclaimed_writes_ = 0;
};

}  // namespace bt86
