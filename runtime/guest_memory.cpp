// Guest RAM (a memfd) and the 4 GiB guest address window inside a 12 GiB
// PROT_NONE reservation. Layout of the reservation, low to high:
//
//   reservation_                window_                 window_ + 4 GiB   + 8 GiB
//   | guard: 4 GiB PROT_NONE    | window: RAM at [0, ram_bytes),       | guard: 4 GiB  |
//   |                           | PROT_NONE above                      | PROT_NONE     |
//
// window_ is 4 GiB aligned so that window_ + a 32-bit address never carries
// into the high half. The guards absorb any access the guest can form from the
// window: a wrapped access's tail or a string instruction running off an end.
#include "runtime/guest_memory.h"

#include <fmt/format.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace bt86 {
namespace {

constexpr uint64_t kGiB = uint64_t{1} << 30;
constexpr uint64_t kWindowBytes = 4 * kGiB;
constexpr uint64_t kGuardBytes = 4 * kGiB;
constexpr uint64_t kLayoutBytes = kGuardBytes + kWindowBytes + kGuardBytes;
/// RAM must leave room below 4 GiB for MMIO (local APIC, IOAPIC, BIOS ROM).
constexpr uint64_t kMaxRamBytes = 3 * kGiB + kGiB / 2;

Status HostError(const char* what) {
  return Status::Error(ExitStatus::kInternal, fmt::format("{}: {}", what, std::strerror(errno)));
}

Status OutsideRam(uint64_t paddr, uint64_t len, uint64_t ram_bytes) {
  return Status::Error(ExitStatus::kUsage,
                       fmt::format("guest physical range [{:#x}, +{:#x}) lies outside RAM "
                                   "({:#x} bytes)",
                                   paddr, len, ram_bytes));
}

uint64_t AlignUp(uint64_t value, uint64_t alignment) {
  return (value + alignment - 1) / alignment * alignment;
}

}  // namespace

Status GuestMemory::Create(uint64_t ram_bytes, std::unique_ptr<GuestMemory>* out) {
  if (ram_bytes == 0 || ram_bytes % kPageSize != 0 || ram_bytes > kMaxRamBytes) {
    return Status::Error(ExitStatus::kUsage,
                         fmt::format("guest RAM size {:#x} bytes must be a nonzero multiple of "
                                     "4 KiB and at most 3.5 GiB",
                                     ram_bytes));
  }
  // Owned from here on, so the destructor releases whatever a failing step left.
  std::unique_ptr<GuestMemory> mem(new GuestMemory());
  mem->ram_bytes_ = ram_bytes;
  BT86_RETURN_IF_ERROR(mem->CreateRam());
  BT86_RETURN_IF_ERROR(mem->CreateWindow());
  *out = std::move(mem);
  return Status::Ok();
}

Status GuestMemory::CreateRam() {
  memfd_ = memfd_create("bt86-ram", MFD_CLOEXEC);
  if (memfd_ < 0) return HostError("memfd_create(bt86-ram)");
  if (ftruncate(memfd_, static_cast<off_t>(ram_bytes_)) != 0) {
    return HostError("ftruncate(bt86-ram)");
  }
  void* ram = mmap(nullptr, ram_bytes_, PROT_READ | PROT_WRITE, MAP_SHARED, memfd_, 0);
  if (ram == MAP_FAILED) return HostError("mmap(guest RAM)");
  ram_ = static_cast<uint8_t*>(ram);
  return Status::Ok();
}

Status GuestMemory::CreateWindow() {
  // Reserve one window more than the layout needs, then trim both ends so that
  // exactly [window - 4 GiB, window + 8 GiB) stays reserved.
  const uint64_t reserve_bytes = kLayoutBytes + kWindowBytes;
  void* base =
      mmap(nullptr, reserve_bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (base == MAP_FAILED) return HostError("mmap(guest address window reservation)");
  reservation_ = static_cast<uint8_t*>(base);
  reservation_bytes_ = reserve_bytes;

  const uint64_t base_address = reinterpret_cast<uintptr_t>(base);
  const uint64_t window_address = AlignUp(base_address + kGuardBytes, kWindowBytes);
  const uint64_t head_bytes = window_address - kGuardBytes - base_address;
  const uint64_t tail_bytes = reserve_bytes - head_bytes - kLayoutBytes;
  if (head_bytes != 0 && munmap(base, head_bytes) != 0) {
    return HostError("munmap(reservation head)");
  }
  reservation_ += head_bytes;
  reservation_bytes_ -= head_bytes;
  if (tail_bytes != 0 && munmap(reservation_ + kLayoutBytes, tail_bytes) != 0) {
    return HostError("munmap(reservation tail)");
  }
  reservation_bytes_ = kLayoutBytes;
  window_ = reservation_ + kGuardBytes;

  // Guest paging starts off: the window maps RAM 1:1.
  void* mapped =
      mmap(window_, ram_bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, memfd_, 0);
  if (mapped == MAP_FAILED) return HostError("mmap(guest RAM into the window)");
  return Status::Ok();
}

GuestMemory::~GuestMemory() {
  // Unmapping the reservation also removes every mapping placed inside it.
  if (reservation_ != nullptr) munmap(reservation_, reservation_bytes_);
  if (ram_ != nullptr) munmap(ram_, ram_bytes_);
  if (memfd_ >= 0) close(memfd_);
}

Status GuestMemory::Write(uint64_t paddr, const void* data, uint64_t len) {
  if (!Contains(paddr, len)) return OutsideRam(paddr, len, ram_bytes_);
  if (len != 0) std::memcpy(ram_ + paddr, data, len);
  return Status::Ok();
}

Status GuestMemory::Read(uint64_t paddr, void* data, uint64_t len) const {
  if (!Contains(paddr, len)) return OutsideRam(paddr, len, ram_bytes_);
  if (len != 0) std::memcpy(data, ram_ + paddr, len);
  return Status::Ok();
}

Status GuestMemory::Fill(uint64_t paddr, uint8_t value, uint64_t len) {
  if (!Contains(paddr, len)) return OutsideRam(paddr, len, ram_bytes_);
  if (len != 0) std::memset(ram_ + paddr, value, len);
  return Status::Ok();
}

void GuestMemory::ProtectCodePage(uint32_t page_number) {
  if (!IsCodePage(page_number)) SetCodePage(page_number, true);
}

void GuestMemory::UnprotectCodePage(uint32_t page_number) {
  if (IsCodePage(page_number)) SetCodePage(page_number, false);
}

void GuestMemory::SetCodePage(uint32_t page_number, bool is_code) {
  const uint64_t ram_pages = ram_bytes_ / kPageSize;
  // Above RAM the window is PROT_NONE reservation: making it readable would
  // show the guest anonymous zero pages instead of a fault.
  if (page_number >= ram_pages) {
    std::fprintf(stderr, "bt86: bug: code page %#x lies outside RAM (%#llx pages)\n", page_number,
                 static_cast<unsigned long long>(ram_pages));
    std::abort();
  }
  if (code_pages_.empty()) code_pages_.resize(ram_pages);
  code_pages_[page_number] = is_code;
  ApplyProtection(page_number);
}

void GuestMemory::SetPageWatch(uint32_t page_number, PageWatch watch) {
  if (page_number >= ram_bytes_ / kPageSize) return;  // nothing mapped there to watch
  if (watch == PageWatch::kNone) {
    watches_.erase(page_number);
  } else {
    watches_[page_number] = watch;
  }
  ApplyProtection(page_number);
}

void GuestMemory::SuspendPageWatch(uint32_t page_number) {
  if (page_number >= ram_bytes_ / kPageSize) return;
  Mprotect(page_number, IsCodePage(page_number) ? PROT_READ : PROT_READ | PROT_WRITE);
}

void GuestMemory::ApplyProtection(uint32_t page_number) {
  // The most restrictive of: a code page (read-only), a write watch
  // (read-only), an access watch (no access).
  int prot = PROT_READ | PROT_WRITE;
  if (IsCodePage(page_number)) prot = PROT_READ;
  auto it = watches_.find(page_number);
  if (it != watches_.end()) prot = it->second == PageWatch::kAccess ? PROT_NONE : PROT_READ;
  Mprotect(page_number, prot);
}

void GuestMemory::Mprotect(uint32_t page_number, int prot) {
  uint8_t* page = window_ + uint64_t{page_number} * kPageSize;
  if (mprotect(page, kPageSize, prot) != 0) {
    // Each protected page splits the window mapping; ENOMEM here usually
    // means vm.max_map_count was reached.
    std::fprintf(stderr, "bt86: mprotect(guest page %#x) failed: %s\n", page_number,
                 std::strerror(errno));
    std::abort();
  }
}

}  // namespace bt86
