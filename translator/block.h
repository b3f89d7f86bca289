// A translated basic block and its metadata: the key it is cached under, the
// side table that maps host code back to guest instruction boundaries
// (precise state), its exits (patch sites for chaining) and its callout sites.
#pragma once

#include <cstdint>
#include <deque>
#include <vector>

#include "bt86/callout_abi.h"
#include "translator/decoder.h"
#include "translator/insn_class.h"

namespace bt86 {

/// Everything that changes how guest code is translated.
struct BlockKey {
  uint32_t eip;          ///< Guest linear EIP of the first instruction.
  uint32_t phys_page;    ///< Guest physical page of that EIP.
  uint32_t mode;         ///< Mode bits (CPL, code size, flat segments); 0 = flat 32-bit ring 0.
  uint32_t cs_base = 0;  ///< Code segment base: the code is at linear cs_base + eip.
  bool operator==(const BlockKey&) const = default;
  uint32_t linear() const { return cs_base + eip; }
};

struct BlockKeyHash {
  size_t operator()(const BlockKey& k) const {
    uint64_t h = (uint64_t(k.eip) << 32) ^ (uint64_t(k.phys_page) * 0x9E3779B97F4A7C15ull) ^
                 k.mode ^ (uint64_t(k.cs_base) << 7);
    return size_t(h ^ (h >> 29));
  }
};

struct Block;

/// One direct exit: a patchable rel32 that jumps to its stub or, once
/// chained, straight to the target block's entry.
struct ExitSlot {
  Block* owner = nullptr;
  uint32_t target_eip = 0;
  uint32_t patch_offset = 0;  ///< Offset of the rel32 within the block's code.
  uint32_t stub_offset = 0;   ///< Offset of the unchained stub.
  Block* chained_to = nullptr;
};

/// One guest instruction's place in the block: where its host code starts.
struct InsnRecord {
  uint32_t eip;
  uint32_t host_offset;
  uint8_t length;
  InsnKind kind;
};

struct Block {
  BlockKey key{};
  uint8_t* code = nullptr;  ///< Executable entry (RX view).
  uint32_t code_size = 0;
  uint32_t body_size = 0;    ///< Host bytes before the exit stubs.
  uint32_t guest_bytes = 0;  ///< Guest bytes covered.
  uint32_t first_page = 0;   ///< Guest pages covered (an instruction may straddle two).
  uint32_t last_page = 0;
  bool valid = true;
  bool transient = false;  ///< Run once and never cached (after a self-modifying write).
  std::vector<InsnRecord> insns;
  std::vector<ExitSlot> exits;            ///< Sized before emission: addresses are stable.
  std::deque<CalloutSite> callouts;       ///< Appended during emission; addresses stay stable.
  std::deque<DecodedInsn> callout_insns;  ///< Decoded callout instructions, by site.
  std::vector<ExitSlot*> incoming;        ///< Chained exits of other blocks that jump here.

  /// The guest instruction whose host code contains `host_offset`.
  const InsnRecord* InsnAt(uint32_t host_offset) const {
    const InsnRecord* found = nullptr;
    for (const auto& r : insns) {
      if (r.host_offset > host_offset) break;
      found = &r;
    }
    return found;
  }
};

}  // namespace bt86
