// Debug registers and single-step (Intel SDM Vol. 3B chapter 17): which
// conditions make the run loop execute one instruction at a time,
// instruction breakpoints (DR0-DR3 with R/W = 00), and data breakpoints
// through page watches (R/W = 01 write, 11 read/write). The #DB traps
// themselves are raised by the run loop (vcpu.cpp).
#include <algorithm>
#include <map>

#include "runtime/vcpu.h"

namespace bt86 {
namespace {

constexpr uint32_t kEflagsTf = 1u << 8;
constexpr uint32_t kEflagsRf = 1u << 16;

}  // namespace

bool Vcpu::DebugStepping() const {
  if (ReadEflags() & kEflagsTf) return true;
  // Any enabled breakpoint (L0-3/G0-3) whose R/W field is 00 (execute).
  const uint32_t dr7 = cpu_.dr[7];
  for (int i = 0; i < 4; ++i) {
    if ((dr7 >> (2 * i)) & 3 && ((dr7 >> (16 + 4 * i)) & 3) == 0) return true;
  }
  return false;
}

uint32_t Vcpu::DataBreakpointHits(const InsnRecord& insn, uint32_t addr, bool write) {
  // The access is [addr, addr + size) with the size of the instruction's
  // memory operand (si_addr is the first byte on the watched page).
  uint8_t bytes[16] = {};
  ReadLinear(cpu_.seg[kCs].base + insn.eip, bytes, 15);
  DecodedInsn d;
  uint32_t size = 4;
  if (translator_->decoder().Decode(bytes, 15, insn.eip, &d)) {
    if (const ZydisDecodedOperand* m = d.MemoryOperand()) size = std::max<uint32_t>(m->size / 8, 1);
  }
  const uint32_t dr7 = cpu_.dr[7];
  uint32_t hits = 0;
  for (int i = 0; i < 4; ++i) {
    if (!((dr7 >> (2 * i)) & 3)) continue;
    const uint32_t rw = (dr7 >> (16 + 4 * i)) & 3;
    if (rw != 1 && rw != 3) continue;  // data breakpoints only (write, read/write)
    if (rw == 1 && !write) continue;
    const uint32_t len = DataBreakpointLength(i);
    const uint32_t start = cpu_.dr[i] & ~(len - 1);
    if (addr < start + len && start < addr + size) hits |= 1u << i;
  }
  return hits;
}

uint32_t Vcpu::DataBreakpointLength(int i) const {
  // DR7 LENn: 00 = 1 byte, 01 = 2, 11 = 4, 10 = 8 (SDM 17.2.4).
  static const uint32_t kLength[] = {1, 2, 8, 4};
  return kLength[(cpu_.dr[7] >> (18 + 4 * i)) & 3];
}

void Vcpu::UpdateDataBreakpoints() {
  std::map<uint32_t, GuestMemory::PageWatch> wanted;
  const uint32_t dr7 = cpu_.dr[7];
  for (int i = 0; i < 4; ++i) {
    if (!((dr7 >> (2 * i)) & 3)) continue;
    const uint32_t rw = (dr7 >> (16 + 4 * i)) & 3;
    if (rw != 1 && rw != 3) continue;
    const uint32_t len = DataBreakpointLength(i);
    const uint32_t start = cpu_.dr[i] & ~(len - 1);
    const auto kind = rw == 3 ? GuestMemory::PageWatch::kAccess : GuestMemory::PageWatch::kWrite;
    for (uint32_t page : {start / kPageSize, (start + len - 1) / kPageSize}) {
      auto& w = wanted[page];
      if (w != GuestMemory::PageWatch::kAccess) w = kind;
    }
  }
  for (const auto& [page, kind] : watched_pages_) {
    if (!wanted.count(page)) memory_->SetPageWatch(page, GuestMemory::PageWatch::kNone);
  }
  for (const auto& [page, kind] : wanted) memory_->SetPageWatch(page, kind);
  watched_pages_ = std::move(wanted);
}

bool Vcpu::InstructionBreakpointHit() {
  if (ReadEflags() & kEflagsRf) return false;  // RF suppresses one instruction's breakpoints
  const uint32_t dr7 = cpu_.dr[7];
  const uint32_t linear = cpu_.seg[kCs].base + ctx_->eip;
  uint32_t hits = 0;
  for (int i = 0; i < 4; ++i) {
    if ((dr7 >> (2 * i)) & 3 && ((dr7 >> (16 + 4 * i)) & 3) == 0 && cpu_.dr[i] == linear) {
      hits |= 1u << i;
    }
  }
  if (hits) cpu_.dr[6] = (cpu_.dr[6] & ~0xFu) | hits;
  return hits != 0;
}

}  // namespace bt86
