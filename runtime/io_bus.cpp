// The port I/O bus. A PC has a handful of port devices, so a linear search over
// the claimed ranges is as fast as any index and keeps Register() trivial.
#include "runtime/io_bus.h"

#include <cstdio>
#include <cstdlib>

namespace bt86 {
namespace {

/// Aborts in every build: a broken bus invariant is a bug in the machine setup.
void Check(bool condition, const char* what, uint16_t base, uint16_t count) {
  if (condition) return;
  std::fprintf(stderr, "bt86: bug: IoBus::Register(base=%#x, count=%#x): %s\n", base, count, what);
  std::abort();
}

/// The low `size` bytes set: what a port access of that width can carry.
uint32_t AccessMask(int size) {
  switch (size) {
    case 1:
      return 0xff;
    case 2:
      return 0xffff;
    case 4:
      return 0xffffffff;
  }
  std::fprintf(stderr, "bt86: bug: port access of %d bytes\n", size);
  std::abort();
}

}  // namespace

void IoBus::Register(uint16_t base, uint16_t count, PortDevice* device) {
  Check(device != nullptr, "no device", base, count);
  Check(count != 0, "empty range", base, count);
  const uint32_t end = uint32_t{base} + count;
  Check(end <= 0x10000, "range runs past port 0xffff", base, count);
  for (const Range& range : ranges_) {
    const bool disjoint = end <= range.base || uint32_t{range.base} + range.count <= base;
    Check(disjoint, "range overlaps a registered device", base, count);
  }
  ranges_.push_back(Range{base, count, device});
}

const IoBus::Range* IoBus::Find(uint16_t port) const {
  for (const Range& range : ranges_) {
    if (port >= range.base && port - range.base < range.count) return &range;
  }
  return nullptr;
}

uint32_t IoBus::In(uint16_t port, int size) {
  const uint32_t mask = AccessMask(size);
  const Range* range = Find(port);
  if (range == nullptr) {
    ++unclaimed_reads_;
    return mask;
  }
  return range->device->In(static_cast<uint16_t>(port - range->base), size) & mask;
}

void IoBus::Out(uint16_t port, int size, uint32_t value) {
  const uint32_t mask = AccessMask(size);
  const Range* range = Find(port);
  if (range == nullptr) {
    ++unclaimed_writes_;
    return;
  }
  range->device->Out(static_cast<uint16_t>(port - range->base), size, value & mask);
}

}  // namespace bt86
