// Counters a user of bt86 reads with --stats (text or JSON). Exact counts,
// never sampled: people benchmarking translation caches rely on them.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>

namespace bt86 {

struct Stats {
  // Translation.
  uint64_t blocks_translated = 0;
  uint64_t guest_insns_translated = 0;
  uint64_t host_bytes_emitted = 0;
  uint64_t translate_nanoseconds = 0;
  uint64_t chains_patched = 0;
  uint64_t blocks_invalidated = 0;
  uint64_t cache_flushes = 0;
  // Dispatch.
  uint64_t lookup_hits = 0;          ///< Run-loop block lookups that found a block.
  uint64_t lookup_misses = 0;        ///< ... that had to translate.
  uint64_t inline_lookup_fills = 0;  ///< Indirect-branch table entries written.
  // Exits by reason, and callouts by instruction.
  uint64_t exits_branch = 0;
  uint64_t exits_indirect = 0;
  uint64_t exits_callout = 0;
  uint64_t exits_signal = 0;
  uint64_t smc_writes = 0;  ///< Guest writes that hit a page holding translated code.
  uint64_t poll_stops = 0;  ///< Block-entry polls that stopped translated code.
  uint64_t adaptive_retranslations =
      0;                              ///< Blocks retranslated because an instruction kept faulting.
  uint64_t exceptions_delivered = 0;  ///< Exceptions and interrupts delivered through the IDT.
  std::map<std::string, uint64_t> callouts;  ///< By mnemonic.
  // Devices.
  uint64_t io_unclaimed_reads = 0;
  uint64_t io_unclaimed_writes = 0;
};

}  // namespace bt86
