// Machine configuration: everything a user (or a benchmark) can turn.
// Every optimization has a switch here so both positions can be tested.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace bt86 {

/// Options of one virtual machine.
struct Config {
  uint64_t memory_bytes = 128ull << 20;     ///< Guest RAM size.
  uint32_t max_block_instructions = 64;     ///< Longest basic block; 1 must work.
  bool chaining = true;                     ///< Patch direct branches block to block.
  bool inline_lookup = true;                ///< Indirect branches via the inline table.
  bool fast_paths = true;                   ///< Inline PUSHF/POPF at ring 0 (if the host has BMI2).
  uint64_t code_cache_bytes = 32ull << 20;  ///< Translation cache size; flushed when full.
  double timeout_seconds = 0;               ///< 0 = no timeout.
  bool echo_serial = true;                  ///< COM1 output to stdout.
};

}  // namespace bt86
