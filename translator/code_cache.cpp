// Translation cache (code_cache.h).
#include "translator/code_cache.h"

#include <fmt/core.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "bt86/check.h"

namespace bt86 {

Status CodeCache::Create(size_t bytes, Stats* stats, std::unique_ptr<CodeCache>* out) {
  bytes = (bytes + 4095) & ~size_t(4095);
  if (bytes < kStubBytes + 64 * 1024 || bytes > (1ull << 30)) {
    return Status::Error(ExitStatus::kUsage,
                         fmt::format("code cache size {} out of range (64 KiB .. 1 GiB)", bytes));
  }
  std::unique_ptr<CodeCache> cache(new CodeCache());
  cache->stats_ = stats;
  cache->size_ = bytes;
  cache->memfd_ = memfd_create("bt86-code", MFD_CLOEXEC);
  if (cache->memfd_ < 0 || ftruncate(cache->memfd_, bytes) != 0) {
    return Status::Error(ExitStatus::kInternal,
                         fmt::format("code cache memfd: {}", std::strerror(errno)));
  }
  void* rx = mmap(nullptr, bytes, PROT_READ | PROT_EXEC, MAP_SHARED, cache->memfd_, 0);
  void* rw = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, cache->memfd_, 0);
  if (rx == MAP_FAILED || rw == MAP_FAILED) {
    return Status::Error(ExitStatus::kInternal,
                         fmt::format("code cache mmap: {}", std::strerror(errno)));
  }
  cache->rx_ = static_cast<uint8_t*>(rx);
  cache->rw_ = static_cast<uint8_t*>(rw);
  cache->used_ = kStubBytes;
  *out = std::move(cache);
  return Status::Ok();
}

CodeCache::~CodeCache() {
  if (rx_) munmap(rx_, size_);
  if (rw_) munmap(rw_, size_);
  if (memfd_ >= 0) close(memfd_);
}

void CodeCache::WriteStubs(const uint8_t* bytes, size_t size) {
  BT86_CHECK(size <= kStubBytes, "stubs of %zu bytes", size);
  std::memcpy(rw_, bytes, size);
}

uint8_t* CodeCache::CommitCode(const uint8_t* bytes, size_t size) {
  BT86_CHECK(size <= free_bytes(), "commit of %zu bytes overflows the cache", size);
  uint8_t* at = rx_ + used_;
  std::memcpy(rw_ + used_, bytes, size);
  used_ = (used_ + size + 15) & ~size_t(15);
  if (used_ > size_) used_ = size_;
  stats_->host_bytes_emitted += size;
  return at;
}

Block* CodeCache::NewBlock() {
  blocks_.push_back(std::make_unique<Block>());
  return blocks_.back().get();
}

void CodeCache::Insert(Block* block) {
  map_[block->key] = block;
  for (uint32_t p = block->first_page; p <= block->last_page; ++p) pages_[p].push_back(block);
}

Block* CodeCache::FindByHostAddress(uintptr_t rip) const {
  auto it = std::upper_bound(
      blocks_.begin(), blocks_.end(), rip,
      [](uintptr_t r, const std::unique_ptr<Block>& b) { return r < uintptr_t(b->code); });
  if (it == blocks_.begin()) return nullptr;
  Block* b = std::prev(it)->get();
  if (b->code == nullptr || rip >= uintptr_t(b->code) + b->code_size) return nullptr;
  return b;
}

void CodeCache::PatchRel32(Block* owner, uint32_t patch_offset, const uint8_t* destination) {
  uint8_t* site = owner->code + patch_offset;
  int64_t rel = int64_t(uintptr_t(destination)) - int64_t(uintptr_t(site) + 4);
  BT86_CHECK(rel == int32_t(rel), "chain out of rel32 range, block %08x", owner->key.eip);
  int32_t rel32 = int32_t(rel);
  std::memcpy(rw_ + (site - rx_), &rel32, 4);
}

void CodeCache::Chain(ExitSlot* slot, Block* target) {
  BT86_CHECK(slot->owner->valid && target->valid && !target->transient, "chaining %08x -> %08x",
             slot->owner->key.eip, target->key.eip);
  PatchRel32(slot->owner, slot->patch_offset, target->code);
  slot->chained_to = target;
  target->incoming.push_back(slot);
  stats_->chains_patched++;
}

void CodeCache::Invalidate(Block* block) {
  if (!block->valid) return;
  block->valid = false;
  stats_->blocks_invalidated++;
  for (ExitSlot* slot : block->incoming) {
    if (slot->owner->valid && slot->chained_to == block) {
      PatchRel32(slot->owner, slot->patch_offset, slot->owner->code + slot->stub_offset);
      slot->chained_to = nullptr;
    }
  }
  block->incoming.clear();
  if (block->transient) return;
  auto it = map_.find(block->key);
  if (it != map_.end() && it->second == block) map_.erase(it);
  for (uint32_t p = block->first_page; p <= block->last_page; ++p) {
    auto& list = pages_[p];
    list.erase(std::remove(list.begin(), list.end(), block), list.end());
    if (list.empty()) pages_.erase(p);
  }
  if (lookup_keys_) {
    size_t slot = block->key.eip & (kLookupSlots - 1);
    if (lookup_targets_[slot] == uintptr_t(block->code)) lookup_keys_[slot] = kLookupEmptyKey;
  }
}

size_t CodeCache::InvalidatePage(uint32_t page) {
  auto it = pages_.find(page);
  if (it == pages_.end()) return 0;
  std::vector<Block*> victims = it->second;
  for (Block* b : victims) Invalidate(b);
  return victims.size();
}

void CodeCache::Flush() {
  map_.clear();
  pages_.clear();
  blocks_.clear();
  used_ = kStubBytes;
  generation_++;
  stats_->cache_flushes++;
  ClearLookup();
}

void CodeCache::FillLookup(Block* block) {
  if (!lookup_keys_) return;
  size_t slot = block->key.eip & (kLookupSlots - 1);
  lookup_keys_[slot] = uint64_t(0) - (uint64_t(block->key.eip) + (uint64_t(block->key.mode) << 32));
  lookup_targets_[slot] = uintptr_t(block->code);
  stats_->inline_lookup_fills++;
}

void CodeCache::ClearLookup() {
  if (!lookup_keys_) return;
  std::fill(lookup_keys_, lookup_keys_ + kLookupSlots, kLookupEmptyKey);
}

}  // namespace bt86
