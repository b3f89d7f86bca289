// The translation cache: executable memory, the block map, chaining and
// invalidation.
//
// Memory is one memfd mapped twice: an RX view that runs and an RW view the
// translator writes, so no page is ever writable and executable at once.
//
//   +0            fixed stubs (enter, exits): emitted once, never flushed
//   +kStubBytes   blocks, bump-allocated in address order; flushed whole
//                 when full (the size limit is an option)
//
// Blocks are kept in allocation order, which is host address order, so the
// block that contains a faulting host RIP is found by binary search.
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "bt86/stats.h"
#include "bt86/status.h"
#include "translator/block.h"

namespace bt86 {

class CodeCache {
 public:
  static constexpr size_t kStubBytes = 4096;

  /// Creates a cache of `bytes` (stubs included).
  static Status Create(size_t bytes, Stats* stats, std::unique_ptr<CodeCache>* out);
  ~CodeCache();
  CodeCache(const CodeCache&) = delete;
  CodeCache& operator=(const CodeCache&) = delete;

  /// Executable address where the next block will be placed.
  uint8_t* cursor() const { return rx_ + used_; }
  /// Bytes still free for blocks.
  size_t free_bytes() const { return size_ - used_; }
  /// Copies emitted code to the cursor and advances it. `bytes` must fit.
  uint8_t* CommitCode(const uint8_t* bytes, size_t size);
  /// Writes the fixed stubs at the start of the cache.
  void WriteStubs(const uint8_t* bytes, size_t size);
  uint8_t* stubs() const { return rx_; }

  /// A new empty block owned by the cache (freed on Flush).
  Block* NewBlock();
  /// Makes a translated block findable (not for transient blocks).
  void Insert(Block* block);
  /// The valid block for `key`, or nullptr.
  Block* Find(const BlockKey& key) const {
    auto it = map_.find(key);
    return it == map_.end() ? nullptr : it->second;
  }
  /// The block whose code contains host address `rip`, or nullptr.
  Block* FindByHostAddress(uintptr_t rip) const;
  /// True if `rip` lies in the cache's executable view.
  bool Contains(uintptr_t rip) const {
    return rip >= uintptr_t(rx_) && rip < uintptr_t(rx_) + size_;
  }

  /// Patches `slot` to jump straight to `target`'s entry.
  void Chain(ExitSlot* slot, Block* target);
  /// Removes a block: unchains every exit that jumps to it, forgets it.
  void Invalidate(Block* block);
  /// Invalidates every block that covers guest page `page`. Returns how many.
  size_t InvalidatePage(uint32_t page);
  /// True if some valid block covers guest page `page`.
  bool PageHasCode(uint32_t page) const {
    auto it = pages_.find(page);
    return it != pages_.end() && !it->second.empty();
  }
  /// Drops every block. Block pointers held by callers become invalid;
  /// generation() changes so they can tell.
  void Flush();
  uint64_t generation() const { return generation_; }

  /// The inline indirect-branch table (kLookupSlots keys, then targets) to
  /// keep coherent with invalidation.
  void SetLookupTable(uint64_t* keys, uint64_t* targets) {
    lookup_keys_ = keys;
    lookup_targets_ = targets;
  }
  /// Enters `block` in the inline table for its guest EIP.
  void FillLookup(Block* block);
  /// Empties the inline table (mode changes, flushes).
  void ClearLookup();

 private:
  CodeCache() = default;
  void PatchRel32(Block* owner, uint32_t patch_offset, const uint8_t* destination);

  int memfd_ = -1;
  size_t size_ = 0;
  size_t used_ = 0;
  uint8_t* rx_ = nullptr;
  uint8_t* rw_ = nullptr;
  Stats* stats_ = nullptr;
  uint64_t generation_ = 0;
  std::vector<std::unique_ptr<Block>> blocks_;  ///< In host address order.
  std::unordered_map<BlockKey, Block*, BlockKeyHash> map_;
  std::unordered_map<uint32_t, std::vector<Block*>> pages_;
  uint64_t* lookup_keys_ = nullptr;
  uint64_t* lookup_targets_ = nullptr;
};

}  // namespace bt86
