// Guest RAM and the guest address window.
//
// RAM is a memfd. The VMM sees it through one linear mapping (ram()); the
// guest sees it through the window: a 4 GiB-aligned host reservation where
// guest linear address A lives at window() + A. With guest paging off the
// window maps RAM 1:1. The reservation has 4 GiB of PROT_NONE guard below and
// above the window, so any host address formed as window + 32-bit value
// (+ a wrapped access's tail, or a string instruction running off either end)
// stays inside bt86's own reservation: the guest can never name host memory.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "bt86/status.h"

namespace bt86 {

constexpr uint32_t kPageSize = 4096;

class GuestMemory {
 public:
  /// Creates RAM of `ram_bytes` (a multiple of 4 KiB) and maps it into a new window.
  static Status Create(uint64_t ram_bytes, std::unique_ptr<GuestMemory>* out);
  ~GuestMemory();
  GuestMemory(const GuestMemory&) = delete;
  GuestMemory& operator=(const GuestMemory&) = delete;

  uint64_t ram_bytes() const { return ram_bytes_; }
  /// The VMM's view of RAM: guest physical address p is ram()[p].
  uint8_t* ram() const { return ram_; }
  /// Host address of guest linear address 0 (4 GiB aligned).
  uint8_t* window() const { return window_; }

  /// True if [paddr, paddr + len) lies inside RAM.
  bool Contains(uint64_t paddr, uint64_t len) const {
    return paddr <= ram_bytes_ && len <= ram_bytes_ - paddr;
  }
  /// Copies into guest RAM; fails (no partial write) if the range leaves RAM.
  Status Write(uint64_t paddr, const void* data, uint64_t len);
  /// Copies out of guest RAM; fails if the range leaves RAM.
  Status Read(uint64_t paddr, void* data, uint64_t len) const;
  /// Sets guest RAM to `value`; fails (no partial write) if the range leaves RAM.
  Status Fill(uint64_t paddr, uint8_t value, uint64_t len);

  /// Makes a guest page read-only in the window because it holds translated code.
  /// The page must lie inside RAM; aborts if the host refuses (vm.max_map_count).
  void ProtectCodePage(uint32_t page_number);
  /// Makes a code page writable again (its blocks were invalidated). No-op if not protected.
  void UnprotectCodePage(uint32_t page_number);
  /// How a data breakpoint watches a page: writes fault, or every access.
  enum class PageWatch { kNone, kWrite, kAccess };
  /// Makes accesses to a RAM page fault so data breakpoints can be checked.
  void SetPageWatch(uint32_t page_number, PageWatch watch);
  PageWatch page_watch(uint32_t page_number) const {
    auto it = watches_.find(page_number);
    return it == watches_.end() ? PageWatch::kNone : it->second;
  }
  /// Lifts a page's watch until the next ApplyProtection (one instruction).
  void SuspendPageWatch(uint32_t page_number);
  /// Sets the page's protection from its code and watch state.
  void ApplyProtection(uint32_t page_number);

  /// True if the page is currently write-protected for translated code.
  bool IsCodePage(uint32_t page_number) const {
    return page_number < code_pages_.size() && code_pages_[page_number];
  }

 private:
  GuestMemory() = default;
  /// Creates the memfd and the VMM's linear mapping of it.
  Status CreateRam();
  /// Reserves guard + window + guard and maps RAM at the bottom of the window.
  Status CreateWindow();
  /// mprotects one window page and records whether it now holds code.
  void SetCodePage(uint32_t page_number, bool is_code);

  int memfd_ = -1;
  uint64_t ram_bytes_ = 0;
  uint8_t* ram_ = nullptr;
  uint8_t* reservation_ = nullptr;
  uint64_t reservation_bytes_ = 0;
  uint8_t* window_ = nullptr;
  void Mprotect(uint32_t page_number, int prot);

  std::vector<bool> code_pages_;
  std::map<uint32_t, PageWatch> watches_;  ///< Pages watched by data breakpoints.
};

}  // namespace bt86
