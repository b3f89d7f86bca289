// Block lookup costs in the translation cache, with N translated blocks
// (N = 64, 1024, 16384), one operation per iteration, keys in random order:
//   BM_CacheFindHit / BM_CacheFindMiss   CodeCache::Find, the run loop's
//                                        lookup on every unchained exit
//   BM_CacheFindByHostAddress           the signal handler's host RIP -> block
//   BM_InlineTableFill                  FillLookup after an indirect miss
//   BM_InlineTableClear                 ClearLookup (all 64 Ki slots)
//   BM_InlineTableProbe                 a C++ model of what translated code
//                                       does on an indirect branch, to set
//                                       beside Find
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

#include "bench/micro/bench_support.h"

namespace bt86::bench {
namespace {

constexpr uint32_t kCodeBase = 0x100000;
/// Guest bytes between block starts: 16384 blocks span 64 KiB, so each has
/// its own slot in the inline table (indexed by the low 16 bits of the EIP).
constexpr uint32_t kBlockStride = 4;

/// N one-instruction blocks (`ret`) at kCodeBase + i * kBlockStride, and the
/// lookup table the run loop would attach.
class LookupFixture {
 public:
  explicit LookupFixture(size_t blocks)
      : rig_(64 << 20),
        reader_(kCodeBase, std::vector<uint8_t>(blocks * kBlockStride, 0xC3)),
        keys_(kLookupSlots),
        targets_(kLookupSlots) {
    rig_.cache->SetLookupTable(keys_.data(), targets_.data());
    rig_.cache->ClearLookup();
    for (size_t i = 0; i < blocks; ++i) {
      const uint32_t eip = kCodeBase + uint32_t(i) * kBlockStride;
      blocks_.push_back(rig_.translator->Translate(TranslationRig::Key(eip), reader_, false));
    }
    std::shuffle(blocks_.begin(), blocks_.end(), std::mt19937(86));
  }

  CodeCache& cache() { return *rig_.cache; }
  /// The blocks in a fixed random order.
  const std::vector<Block*>& blocks() const { return blocks_; }
  const uint64_t* keys() const { return keys_.data(); }
  const uint64_t* targets() const { return targets_.data(); }

 private:
  TranslationRig rig_;
  MemoryCodeReader reader_;
  std::vector<uint64_t> keys_;
  std::vector<uint64_t> targets_;
  std::vector<Block*> blocks_;
};

void BM_CacheFindHit(benchmark::State& state) {
  LookupFixture f(size_t(state.range(0)));
  std::vector<BlockKey> keys;
  for (Block* b : f.blocks()) keys.push_back(b->key);
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(f.cache().Find(keys[i]));
    if (++i == keys.size()) i = 0;
  }
  state.SetItemsProcessed(int64_t(state.iterations()));
}

void BM_CacheFindMiss(benchmark::State& state) {
  LookupFixture f(size_t(state.range(0)));
  std::vector<BlockKey> keys;
  for (Block* b : f.blocks()) keys.push_back({b->key.eip + 1, b->key.phys_page, 0});
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(f.cache().Find(keys[i]));
    if (++i == keys.size()) i = 0;
  }
  state.SetItemsProcessed(int64_t(state.iterations()));
}

void BM_CacheFindByHostAddress(benchmark::State& state) {
  LookupFixture f(size_t(state.range(0)));
  std::vector<uintptr_t> rips;
  for (Block* b : f.blocks()) rips.push_back(uintptr_t(b->code) + b->code_size / 2);
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(f.cache().FindByHostAddress(rips[i]));
    if (++i == rips.size()) i = 0;
  }
  state.SetItemsProcessed(int64_t(state.iterations()));
}

void BM_InlineTableFill(benchmark::State& state) {
  LookupFixture f(size_t(state.range(0)));
  size_t i = 0;
  for (auto _ : state) {
    f.cache().FillLookup(f.blocks()[i]);
    if (++i == f.blocks().size()) i = 0;
  }
  benchmark::DoNotOptimize(f.keys()[0]);
  state.SetItemsProcessed(int64_t(state.iterations()));
}

void BM_InlineTableClear(benchmark::State& state) {
  LookupFixture f(64);
  for (auto _ : state) {
    f.cache().ClearLookup();
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(kLookupSlots * 8));
}

void BM_InlineTableProbe(benchmark::State& state) {
  LookupFixture f(size_t(state.range(0)));
  std::vector<uint32_t> eips;
  for (Block* b : f.blocks()) {
    f.cache().FillLookup(b);
    eips.push_back(b->key.eip);
  }
  const uint64_t* keys = f.keys();
  const uint64_t* targets = f.targets();
  size_t i = 0, hits = 0;
  for (auto _ : state) {
    // Translated code: slot = eip & 0xffff; hit iff keys[slot] + eip == 0.
    const uint32_t eip = eips[i];
    const size_t slot = eip & (kLookupSlots - 1);
    const bool hit = keys[slot] + uint64_t(eip) == 0;
    benchmark::DoNotOptimize(hit ? targets[slot] : 0);
    hits += hit;
    if (++i == eips.size()) i = 0;
  }
  state.counters["hit_ratio"] = double(hits) / double(state.iterations());
  state.SetItemsProcessed(int64_t(state.iterations()));
}

BENCHMARK(BM_CacheFindHit)->ArgName("blocks")->Arg(64)->Arg(1024)->Arg(16384);
BENCHMARK(BM_CacheFindMiss)->ArgName("blocks")->Arg(64)->Arg(1024)->Arg(16384);
BENCHMARK(BM_CacheFindByHostAddress)->ArgName("blocks")->Arg(64)->Arg(1024)->Arg(16384);
BENCHMARK(BM_InlineTableFill)->ArgName("blocks")->Arg(64)->Arg(1024)->Arg(16384);
BENCHMARK(BM_InlineTableClear);
BENCHMARK(BM_InlineTableProbe)->ArgName("blocks")->Arg(64)->Arg(1024)->Arg(16384);

}  // namespace
}  // namespace bt86::bench
