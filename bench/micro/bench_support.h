// Shared set-up of the translator micro-benchmarks: guest code held in host
// memory behind the GuestCodeReader interface, and a code cache with its host
// stubs and a translator, built the way the run loop builds them.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include "translator/code_cache.h"
#include "translator/host_stubs.h"
#include "translator/memory_code_reader.h"
#include "translator/translator.h"

namespace bt86::bench {

using bt86::MemoryCodeReader;

/// A code cache with the real host stubs and a translator over it. Aborts
/// on set-up failure: a benchmark without its rig measures nothing.
struct TranslationRig {
  /// A cache of `cache_bytes` (stubs included) and a translator with `options`.
  explicit TranslationRig(size_t cache_bytes, TranslatorOptions options = {}) {
    Status st = CodeCache::Create(cache_bytes, &stats, &cache);
    if (st.ok()) st = EmitHostStubs(cache.get(), &stubs);
    if (!st.ok()) {
      std::fprintf(stderr, "bt86_micro_bench: %s\n", st.message().c_str());
      std::abort();
    }
    translator = std::make_unique<Translator>(cache.get(), stubs, options, &stats);
  }

  /// The key the run loop uses for flat 32-bit ring-0 code at `eip`.
  static BlockKey Key(uint32_t eip) { return {eip, eip / 4096, 0}; }

  Stats stats;  ///< Counters the cache and the translator update.
  std::unique_ptr<CodeCache> cache;
  HostStubs stubs;
  std::unique_ptr<Translator> translator;
};

}  // namespace bt86::bench
