// CodeCache (translator/code_cache.h) with real emitted blocks: a Translator
// with the real host stubs translates guest code from a fake reader, and the
// tests check the block map, the host-address search, chaining (the patched
// rel32 bytes themselves), invalidation by block and by guest page, flushing,
// the inline indirect-branch table and the Stats counters. No translated code
// is run here.
#include "translator/code_cache.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "translator/host_stubs.h"
#include "translator/translator.h"

namespace bt86 {
namespace {

constexpr uint32_t kPage = 4096;

/// 128 KiB of guest code at linear 0, filled with `ret` (C3) so that every
/// address not given other bytes starts a one-instruction block.
class GuestImage : public GuestCodeReader {
 public:
  GuestImage() : bytes_(0x20000, 0xC3) {}
  void Place(uint32_t eip, std::vector<uint8_t> code) {
    std::copy(code.begin(), code.end(), bytes_.begin() + eip);
  }
  size_t ReadCode(uint32_t eip, uint8_t* out, size_t len) override {
    if (eip >= bytes_.size()) return 0;
    const size_t avail = std::min(len, bytes_.size() - eip);
    std::memcpy(out, bytes_.data() + eip, avail);
    return avail;
  }

 private:
  std::vector<uint8_t> bytes_;
};

/// The rel32 stored at `site`.
int32_t ReadRel32(const uint8_t* site) {
  int32_t rel;
  std::memcpy(&rel, site, 4);
  return rel;
}

/// Where the jump whose rel32 is `patch_offset` bytes into `block` goes.
const uint8_t* JumpDestination(const Block* block, uint32_t patch_offset) {
  const uint8_t* site = block->code + patch_offset;
  return site + 4 + ReadRel32(site);
}

class CodeCacheTest : public ::testing::Test {
 protected:
  void SetUp() override { MakeCache(1 << 20); }

  void MakeCache(size_t bytes) {
    translator_.reset();
    cache_.reset();
    stats_ = Stats();
    const Status st = CodeCache::Create(bytes, &stats_, &cache_);
    ASSERT_TRUE(st.ok()) << st.message();
    ASSERT_TRUE(EmitHostStubs(cache_.get(), &stubs_).ok());
    translator_ = std::make_unique<Translator>(cache_.get(), stubs_, TranslatorOptions{}, &stats_);
  }

  static BlockKey Key(uint32_t eip) { return {eip, eip / kPage, 0}; }
  Block* Translate(uint32_t eip) { return translator_->Translate(Key(eip), image_, false); }

  Stats stats_;
  std::unique_ptr<CodeCache> cache_;
  HostStubs stubs_;
  std::unique_ptr<Translator> translator_;
  GuestImage image_;
};

TEST(CodeCacheCreateTest, RejectsSizesOutOfRange) {
  Stats stats;
  std::unique_ptr<CodeCache> cache;
  EXPECT_FALSE(CodeCache::Create(4096, &stats, &cache).ok());
  EXPECT_FALSE(CodeCache::Create(CodeCache::kStubBytes + 60 * 1024, &stats, &cache).ok());
  EXPECT_FALSE(CodeCache::Create((size_t(1) << 30) + 4096, &stats, &cache).ok());
  EXPECT_EQ(cache, nullptr);
  EXPECT_TRUE(CodeCache::Create(CodeCache::kStubBytes + 64 * 1024, &stats, &cache).ok());
  ASSERT_NE(cache, nullptr);
  EXPECT_EQ(cache->free_bytes(), size_t(64 * 1024));
}

TEST_F(CodeCacheTest, StubsLieAtTheStartOfTheCache) {
  const uint8_t* base = cache_->stubs();
  for (const uint8_t* stub : {stubs_.exit_branch, stubs_.exit_indirect, stubs_.exit_callout,
                              stubs_.save_state, reinterpret_cast<const uint8_t*>(stubs_.enter)}) {
    EXPECT_GE(stub, base);
    EXPECT_LT(stub, base + CodeCache::kStubBytes);
  }
  EXPECT_EQ(cache_->cursor(), base + CodeCache::kStubBytes);
}

TEST_F(CodeCacheTest, TranslateInsertsAndFindReturnsTheBlock) {
  Block* b = Translate(0x1000);
  ASSERT_NE(b, nullptr);
  EXPECT_TRUE(b->valid);
  EXPECT_EQ(b->key, Key(0x1000));
  EXPECT_EQ(cache_->Find(Key(0x1000)), b);
  // Another EIP, another physical page or another mode is another block.
  EXPECT_EQ(cache_->Find(Key(0x1001)), nullptr);
  EXPECT_EQ(cache_->Find(BlockKey{0x1000, 7, 0}), nullptr);
  EXPECT_EQ(cache_->Find(BlockKey{0x1000, 1, 3}), nullptr);
  EXPECT_TRUE(cache_->PageHasCode(1));
  EXPECT_FALSE(cache_->PageHasCode(0));
}

TEST_F(CodeCacheTest, InsertMakesAHandBuiltBlockFindable) {
  Block* b = cache_->NewBlock();
  b->key = {0x5000, 0x5, 0};
  b->first_page = b->last_page = 5;
  cache_->Insert(b);
  EXPECT_EQ(cache_->Find(b->key), b);
  EXPECT_TRUE(cache_->PageHasCode(5));
}

TEST_F(CodeCacheTest, TransientBlocksAreNeverFindable) {
  Block* b = translator_->Translate(Key(0x1000), image_, true);
  ASSERT_NE(b, nullptr);
  EXPECT_TRUE(b->transient);
  EXPECT_EQ(cache_->Find(Key(0x1000)), nullptr);
  EXPECT_FALSE(cache_->PageHasCode(1));
}

TEST_F(CodeCacheTest, StatsCountTranslatedBlocksInstructionsAndBytes) {
  image_.Place(0x1000, {0x01, 0xD8, 0x29, 0xC8, 0xC3});  // add; sub; ret
  Block* a = Translate(0x1000);
  Block* b = Translate(0x2000);
  EXPECT_EQ(stats_.blocks_translated, 2u);
  EXPECT_EQ(stats_.guest_insns_translated, 4u);
  EXPECT_EQ(stats_.host_bytes_emitted, uint64_t(a->code_size) + b->code_size);
  EXPECT_EQ(a->insns.size(), 3u);
  EXPECT_EQ(a->guest_bytes, 5u);
  EXPECT_EQ(stats_.chains_patched, 0u);
  EXPECT_EQ(stats_.blocks_invalidated, 0u);
  EXPECT_EQ(stats_.cache_flushes, 0u);
}

TEST_F(CodeCacheTest, BlocksArePlacedInAddressOrderAndAligned) {
  Block* a = Translate(0x1000);
  Block* b = Translate(0x2000);
  EXPECT_EQ(a->code, cache_->stubs() + CodeCache::kStubBytes);
  EXPECT_GE(b->code, a->code + a->code_size);
  EXPECT_EQ(uintptr_t(b->code) % 16, 0u);
  EXPECT_TRUE(cache_->Contains(uintptr_t(a->code)));
  EXPECT_FALSE(cache_->Contains(uintptr_t(cache_->stubs()) - 1));
}

TEST_F(CodeCacheTest, FindByHostAddress) {
  Block* a = Translate(0x1000);
  Block* b = Translate(0x2000);
  const uintptr_t a_start = uintptr_t(a->code), a_end = a_start + a->code_size;
  const uintptr_t b_start = uintptr_t(b->code), b_end = b_start + b->code_size;
  // Inside: first byte, a middle byte, last byte.
  EXPECT_EQ(cache_->FindByHostAddress(a_start), a);
  EXPECT_EQ(cache_->FindByHostAddress(a_start + a->code_size / 2), a);
  EXPECT_EQ(cache_->FindByHostAddress(a_end - 1), a);
  EXPECT_EQ(cache_->FindByHostAddress(b_start), b);
  EXPECT_EQ(cache_->FindByHostAddress(b_end - 1), b);
  // One past the end is never the block itself.
  EXPECT_NE(cache_->FindByHostAddress(a_end), a);
  EXPECT_EQ(cache_->FindByHostAddress(b_end), nullptr);
  // Between blocks: the alignment padding after a belongs to nobody.
  ASSERT_LT(a_end, b_start) << "precondition: a's size is not a multiple of 16";
  EXPECT_EQ(cache_->FindByHostAddress(b_start - 1), nullptr);
  // The stubs and addresses outside the cache are not blocks.
  EXPECT_EQ(cache_->FindByHostAddress(uintptr_t(stubs_.exit_branch)), nullptr);
  EXPECT_EQ(cache_->FindByHostAddress(0), nullptr);
}

TEST_F(CodeCacheTest, UnchainedExitJumpsToItsStub) {
  image_.Place(0x1000, {0xEB, 0x0E});  // jmp 0x1010
  Block* a = Translate(0x1000);
  ASSERT_EQ(a->exits.size(), 1u);
  const ExitSlot& slot = a->exits[0];
  EXPECT_EQ(slot.owner, a);
  EXPECT_EQ(slot.target_eip, 0x1010u);
  EXPECT_EQ(slot.chained_to, nullptr);
  EXPECT_EQ(a->code[slot.patch_offset - 1], 0xE9);  // jmp rel32
  EXPECT_EQ(JumpDestination(a, slot.patch_offset), a->code + slot.stub_offset);
  EXPECT_GE(slot.stub_offset, a->body_size);
  EXPECT_LT(slot.stub_offset, a->code_size);
}

TEST_F(CodeCacheTest, ChainPatchesTheRel32ToTheTarget) {
  image_.Place(0x1000, {0xEB, 0x0E});  // jmp 0x1010
  Block* a = Translate(0x1000);
  Block* b = Translate(0x1010);
  ExitSlot* slot = &a->exits[0];
  cache_->Chain(slot, b);
  EXPECT_EQ(JumpDestination(a, slot->patch_offset), b->code);
  EXPECT_EQ(a->code[slot->patch_offset - 1], 0xE9);  // only the rel32 changed
  EXPECT_EQ(slot->chained_to, b);
  ASSERT_EQ(b->incoming.size(), 1u);
  EXPECT_EQ(b->incoming[0], slot);
  EXPECT_EQ(stats_.chains_patched, 1u);
}

TEST_F(CodeCacheTest, ChainPatchesBothExitsOfAConditionalBranch) {
  image_.Place(0x1000, {0x74, 0x0E});  // jz 0x1010; falls through to 0x1002
  Block* a = Translate(0x1000);
  ASSERT_EQ(a->exits.size(), 2u);
  EXPECT_EQ(a->exits[0].target_eip, 0x1010u);
  EXPECT_EQ(a->exits[1].target_eip, 0x1002u);
  EXPECT_EQ(a->code[a->exits[0].patch_offset - 2], 0x0F);  // 0F 84 rel32
  EXPECT_EQ(a->code[a->exits[0].patch_offset - 1], 0x84);
  Block* taken = Translate(0x1010);
  Block* not_taken = Translate(0x1002);
  cache_->Chain(&a->exits[0], taken);
  cache_->Chain(&a->exits[1], not_taken);
  EXPECT_EQ(JumpDestination(a, a->exits[0].patch_offset), taken->code);
  EXPECT_EQ(JumpDestination(a, a->exits[1].patch_offset), not_taken->code);
  EXPECT_EQ(stats_.chains_patched, 2u);
}

TEST_F(CodeCacheTest, InvalidateUnchainsIncomingExits) {
  image_.Place(0x1000, {0xEB, 0x0E});                    // jmp 0x1010
  image_.Place(0x1200, {0xE9, 0x0B, 0xFE, 0xFF, 0xFF});  // jmp 0x1010 (rel32)
  Block* a = Translate(0x1000);
  Block* c = Translate(0x1200);
  Block* b = Translate(0x1010);
  ASSERT_EQ(c->exits[0].target_eip, 0x1010u);
  cache_->Chain(&a->exits[0], b);
  cache_->Chain(&c->exits[0], b);
  ASSERT_EQ(b->incoming.size(), 2u);

  cache_->Invalidate(b);
  EXPECT_FALSE(b->valid);
  EXPECT_EQ(cache_->Find(Key(0x1010)), nullptr);
  EXPECT_TRUE(b->incoming.empty());
  for (Block* owner : {a, c}) {
    const ExitSlot& slot = owner->exits[0];
    EXPECT_EQ(slot.chained_to, nullptr);
    EXPECT_EQ(JumpDestination(owner, slot.patch_offset), owner->code + slot.stub_offset);
  }
  EXPECT_TRUE(a->valid);
  EXPECT_EQ(cache_->Find(Key(0x1000)), a);
  EXPECT_EQ(stats_.blocks_invalidated, 1u);
  // Invalidating twice changes nothing.
  cache_->Invalidate(b);
  EXPECT_EQ(stats_.blocks_invalidated, 1u);
}

TEST_F(CodeCacheTest, RetranslatedTargetCanBeChainedAgain) {
  image_.Place(0x1000, {0xEB, 0x0E});  // jmp 0x1010
  Block* a = Translate(0x1000);
  Block* b = Translate(0x1010);
  cache_->Chain(&a->exits[0], b);
  cache_->Invalidate(b);
  Block* b2 = Translate(0x1010);
  ASSERT_NE(b2, b);
  EXPECT_EQ(cache_->Find(Key(0x1010)), b2);
  cache_->Chain(&a->exits[0], b2);
  EXPECT_EQ(JumpDestination(a, a->exits[0].patch_offset), b2->code);
}

TEST_F(CodeCacheTest, InvalidatePageHitsExactlyTheBlocksCoveringIt) {
  // page 1: a block at 0x1000, and one at 0x1ffe whose mov eax, imm32
  // straddles into page 2; page 2: a block at 0x2800; page 3: one at 0x3000.
  image_.Place(0x1ffe, {0xB8, 0x78, 0x56, 0x34, 0x12});
  Block* p1 = Translate(0x1000);
  Block* straddler = Translate(0x1ffe);
  Block* p2 = Translate(0x2800);
  Block* p3 = Translate(0x3000);
  ASSERT_EQ(straddler->first_page, 1u);
  ASSERT_EQ(straddler->last_page, 2u);
  ASSERT_EQ(straddler->insns.size(), 1u);  // the page boundary ended it
  EXPECT_TRUE(cache_->PageHasCode(1));
  EXPECT_TRUE(cache_->PageHasCode(2));
  EXPECT_TRUE(cache_->PageHasCode(3));

  EXPECT_EQ(cache_->InvalidatePage(2), 2u);
  EXPECT_FALSE(straddler->valid);
  EXPECT_FALSE(p2->valid);
  EXPECT_TRUE(p1->valid);
  EXPECT_TRUE(p3->valid);
  EXPECT_EQ(cache_->Find(Key(0x1ffe)), nullptr);
  EXPECT_EQ(cache_->Find(Key(0x2800)), nullptr);
  EXPECT_EQ(cache_->Find(Key(0x1000)), p1);
  EXPECT_EQ(cache_->Find(Key(0x3000)), p3);
  EXPECT_FALSE(cache_->PageHasCode(2));
  EXPECT_TRUE(cache_->PageHasCode(1));
  EXPECT_EQ(stats_.blocks_invalidated, 2u);

  EXPECT_EQ(cache_->InvalidatePage(2), 0u);
  EXPECT_EQ(cache_->InvalidatePage(9), 0u);
  EXPECT_EQ(cache_->InvalidatePage(1), 1u);  // the straddler is gone from page 1 too
  EXPECT_FALSE(cache_->PageHasCode(1));
  EXPECT_EQ(stats_.blocks_invalidated, 3u);
}

TEST_F(CodeCacheTest, FlushEmptiesTheCacheAndBumpsTheGeneration) {
  Block* a = Translate(0x1000);
  uint8_t* const first_code = a->code;
  const uintptr_t old_code = uintptr_t(a->code);
  Translate(0x2000);
  const uint64_t generation = cache_->generation();
  const size_t free_before = cache_->free_bytes();

  cache_->Flush();
  EXPECT_EQ(cache_->generation(), generation + 1);
  EXPECT_EQ(stats_.cache_flushes, 1u);
  EXPECT_EQ(cache_->Find(Key(0x1000)), nullptr);
  EXPECT_EQ(cache_->Find(Key(0x2000)), nullptr);
  EXPECT_FALSE(cache_->PageHasCode(1));
  EXPECT_FALSE(cache_->PageHasCode(2));
  EXPECT_EQ(cache_->FindByHostAddress(old_code), nullptr);
  EXPECT_EQ(cache_->cursor(), cache_->stubs() + CodeCache::kStubBytes);
  EXPECT_GT(cache_->free_bytes(), free_before);
  // The space is reused from the start.
  EXPECT_EQ(Translate(0x3000)->code, first_code);
}

class LookupTableTest : public CodeCacheTest {
 protected:
  void SetUp() override {
    CodeCacheTest::SetUp();
    cache_->SetLookupTable(keys_.data(), targets_.data());
    cache_->ClearLookup();
  }
  static size_t Slot(uint32_t eip) { return eip & (kLookupSlots - 1); }
  /// What translated code computes: zero iff the slot holds `eip`.
  uint64_t Probe(uint32_t eip) const { return keys_[Slot(eip)] + uint64_t(eip); }

  std::vector<uint64_t> keys_ = std::vector<uint64_t>(kLookupSlots, 0);
  std::vector<uint64_t> targets_ = std::vector<uint64_t>(kLookupSlots, 0);
};

TEST_F(LookupTableTest, ClearMakesEverySlotMiss) {
  EXPECT_TRUE(
      std::all_of(keys_.begin(), keys_.end(), [](uint64_t k) { return k == kLookupEmptyKey; }));
  for (uint32_t eip : {0u, 1u, 0x1000u, 0xFFFFFFFFu}) EXPECT_NE(Probe(eip), 0u) << eip;
}

TEST_F(LookupTableTest, FillEntersTheBlockForItsEip) {
  Block* a = Translate(0x1234);
  cache_->FillLookup(a);
  EXPECT_EQ(keys_[Slot(0x1234)], uint64_t(0) - 0x1234);
  EXPECT_EQ(targets_[Slot(0x1234)], uint64_t(uintptr_t(a->code)));
  EXPECT_EQ(Probe(0x1234), 0u);
  EXPECT_NE(Probe(0x11234), 0u);  // same slot, other eip: a miss
  EXPECT_EQ(stats_.inline_lookup_fills, 1u);
}

TEST_F(LookupTableTest, InvalidateClearsTheBlocksSlot) {
  Block* a = Translate(0x1234);
  cache_->FillLookup(a);
  cache_->Invalidate(a);
  EXPECT_EQ(keys_[Slot(0x1234)], kLookupEmptyKey);
  EXPECT_NE(Probe(0x1234), 0u);
}

TEST_F(LookupTableTest, InvalidateLeavesASlotTakenOverByAnotherBlock) {
  Block* a = Translate(0x1234);
  Block* b = Translate(0x11234);  // same slot
  cache_->FillLookup(a);
  cache_->FillLookup(b);
  EXPECT_EQ(Probe(0x11234), 0u);
  cache_->Invalidate(a);
  EXPECT_EQ(Probe(0x11234), 0u);
  EXPECT_EQ(targets_[Slot(0x1234)], uint64_t(uintptr_t(b->code)));
}

TEST_F(LookupTableTest, InvalidatePageClearsTheSlotsOfItsBlocks) {
  Block* a = Translate(0x1234);
  Block* b = Translate(0x2234);
  cache_->FillLookup(a);
  cache_->FillLookup(b);
  cache_->InvalidatePage(1);
  EXPECT_NE(Probe(0x1234), 0u);
  EXPECT_EQ(Probe(0x2234), 0u);
}

TEST_F(LookupTableTest, FlushClearsTheTable) {
  Block* a = Translate(0x1234);
  cache_->FillLookup(a);
  cache_->Flush();
  EXPECT_TRUE(
      std::all_of(keys_.begin(), keys_.end(), [](uint64_t k) { return k == kLookupEmptyKey; }));
}

TEST_F(CodeCacheTest, LookupWithoutATableIsANoOp) {
  Block* a = Translate(0x1234);
  cache_->FillLookup(a);
  cache_->ClearLookup();
  cache_->Invalidate(a);
  EXPECT_EQ(stats_.inline_lookup_fills, 0u);
}

TEST_F(CodeCacheTest, FullCacheFlushesOnTranslate) {
  MakeCache(CodeCache::kStubBytes + 64 * 1024);  // the smallest cache
  // Blocks of 64 adds (128 guest bytes) take well over 128 host bytes each,
  // so fewer than 512 of them fill 64 KiB.
  constexpr uint32_t kFirst = 0x1000, kStride = 128, kLimit = 0x1F000;
  std::vector<uint8_t> adds;
  for (uint32_t i = kFirst; i < kLimit; i += 2) adds.insert(adds.end(), {0x01, 0xD8});
  image_.Place(kFirst, adds);

  Translate(kFirst);
  const uint64_t generation = cache_->generation();
  uint32_t eip = kFirst;
  Block* last = nullptr;
  while (stats_.cache_flushes == 0) {
    eip += kStride;
    ASSERT_LT(eip, kLimit) << "the cache never filled";
    last = Translate(eip);
  }
  EXPECT_EQ(cache_->generation(), generation + 1);
  EXPECT_EQ(stats_.blocks_translated, (eip - kFirst) / kStride + 1);
  // The block that did not fit went into the emptied cache, first in line.
  EXPECT_TRUE(last->valid);
  EXPECT_EQ(last->code, cache_->stubs() + CodeCache::kStubBytes);
  EXPECT_EQ(cache_->Find(Key(eip)), last);
  EXPECT_EQ(cache_->Find(Key(kFirst)), nullptr);
  EXPECT_EQ(cache_->Find(Key(eip - kStride)), nullptr);
  EXPECT_EQ(cache_->FindByHostAddress(uintptr_t(last->code)), last);
}

}  // namespace
}  // namespace bt86
