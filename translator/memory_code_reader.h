// Guest code held in a byte buffer: a GuestCodeReader for tools, tests and
// benchmarks that translate bytes without a whole virtual machine.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "translator/translator.h"

namespace bt86 {

/// Guest code at one linear range; nothing outside it is fetchable.
class MemoryCodeReader : public GuestCodeReader {
 public:
  /// Guest code `bytes` at linear address `base`.
  MemoryCodeReader(uint32_t base, std::vector<uint8_t> bytes)
      : base_(base), bytes_(std::move(bytes)) {}
  /// Copies what is fetchable at `eip` (GuestCodeReader).
  size_t ReadCode(uint32_t eip, uint8_t* out, size_t len) override {
    if (eip < base_ || eip - base_ >= bytes_.size()) return 0;
    const size_t avail = std::min(len, bytes_.size() - (eip - base_));
    std::memcpy(out, bytes_.data() + (eip - base_), avail);
    return avail;
  }
  /// Linear address of the first byte.
  uint32_t base() const { return base_; }
  /// Linear address one past the last byte.
  uint32_t end() const { return base_ + uint32_t(bytes_.size()); }

 private:
  uint32_t base_;
  std::vector<uint8_t> bytes_;
};

}  // namespace bt86
