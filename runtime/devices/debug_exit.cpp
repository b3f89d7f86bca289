// QEMU isa-debug-exit semantics (hw/misc/debugexit.c): the written value,
// zero-extended from the access width, becomes the exit request. QEMU exits
// inside the write, so only the first request of a run counts.
#include "runtime/devices/debug_exit.h"

#include <utility>

namespace bt86 {
namespace {

uint32_t AccessMask(int size) {
  return size >= 4 ? 0xffffffff : (uint32_t{1} << (8 * size)) - 1;
}

}  // namespace

DebugExit::DebugExit(ExitHook hook) : hook_(std::move(hook)) {}

uint32_t DebugExit::In(uint16_t offset, int size) {
  return AccessMask(size);
}

void DebugExit::Out(uint16_t offset, int size, uint32_t value) {
  if (requested_value_) return;
  requested_value_ = value & AccessMask(size);
  if (hook_) hook_(*requested_value_);
}

}  // namespace bt86
