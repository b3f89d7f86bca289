// GuestMemory: size checks, the window's alignment and guards, the two views
// of RAM aliasing each other, bounds-checked copies, code-page protection,
// and release of every host resource.
#include "runtime/guest_memory.h"

#include <dirent.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

namespace bt86 {
namespace {

constexpr uint64_t kGiB = uint64_t{1} << 30;
constexpr uint64_t kRamBytes = 1 << 20;

std::unique_ptr<GuestMemory> CreateOrDie(uint64_t ram_bytes) {
  std::unique_ptr<GuestMemory> mem;
  Status status = GuestMemory::Create(ram_bytes, &mem);
  EXPECT_TRUE(status.ok()) << status.message();
  return mem;
}

/// Lines of /proc/self/maps that map the RAM memfd.
int CountRamMappings() {
  std::ifstream maps("/proc/self/maps");
  int count = 0;
  for (std::string line; std::getline(maps, line);) {
    if (line.find("/memfd:bt86-ram") != std::string::npos) ++count;
  }
  return count;
}

/// True if host mappings of this process cover [begin, end) without a gap,
/// so no other mmap can land there.
bool FullyMapped(uintptr_t begin, uintptr_t end) {
  std::vector<std::pair<uintptr_t, uintptr_t>> ranges;
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);) {
    const size_t dash = line.find('-');
    const uintptr_t start = std::stoull(line.substr(0, dash), nullptr, 16);
    const uintptr_t stop = std::stoull(line.substr(dash + 1), nullptr, 16);
    ranges.emplace_back(start, stop);
  }
  std::sort(ranges.begin(), ranges.end());
  uintptr_t covered = begin;
  for (const auto& [start, stop] : ranges) {
    if (start <= covered && stop > covered) covered = stop;
  }
  return covered >= end;
}

int CountOpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  int count = 0;
  while (readdir(dir) != nullptr) ++count;
  closedir(dir);
  return count;
}

/// Touches a host address; a death test's child dies here if it is not mapped.
void Touch(volatile uint8_t* p) {
  *p = *p;
}

TEST(GuestMemoryTest, RejectsBadSizes) {
  for (uint64_t bytes : {uint64_t{0}, uint64_t{4095}, uint64_t{4097}, uint64_t{1 << 20} + 1,
                         3 * kGiB + kGiB / 2 + 4096, 4 * kGiB}) {
    std::unique_ptr<GuestMemory> mem;
    Status status = GuestMemory::Create(bytes, &mem);
    EXPECT_FALSE(status.ok()) << bytes;
    EXPECT_EQ(status.code(), ExitStatus::kUsage) << bytes;
    EXPECT_NE(status.message().find("multiple of 4 KiB"), std::string::npos) << status.message();
    EXPECT_EQ(mem, nullptr);
  }
}

TEST(GuestMemoryTest, AcceptsOnePageAndTheMaximum) {
  EXPECT_NE(CreateOrDie(kPageSize), nullptr);
  std::unique_ptr<GuestMemory> big = CreateOrDie(3 * kGiB + kGiB / 2);
  ASSERT_NE(big, nullptr);
  // The top page of RAM is reachable through both views.
  big->ram()[big->ram_bytes() - 1] = 0x5a;
  EXPECT_EQ(big->window()[big->ram_bytes() - 1], 0x5a);
}

TEST(GuestMemoryTest, WindowIsFourGiBAligned) {
  std::unique_ptr<GuestMemory> mem = CreateOrDie(kRamBytes);
  ASSERT_NE(mem, nullptr);
  EXPECT_EQ(mem->ram_bytes(), kRamBytes);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(mem->window()) % (4 * kGiB), 0u);
  EXPECT_NE(mem->ram(), mem->window());
}

TEST(GuestMemoryTest, RamAndWindowAlias) {
  std::unique_ptr<GuestMemory> mem = CreateOrDie(kRamBytes);
  ASSERT_NE(mem, nullptr);
  mem->ram()[0x1234] = 0xab;
  EXPECT_EQ(mem->window()[0x1234], 0xab);
  mem->window()[kRamBytes - 1] = 0xcd;
  EXPECT_EQ(mem->ram()[kRamBytes - 1], 0xcd);
}

TEST(GuestMemoryTest, ReservationCoversTheWindowAndBothGuards) {
  std::unique_ptr<GuestMemory> mem = CreateOrDie(kRamBytes);
  ASSERT_NE(mem, nullptr);
  const uintptr_t window = reinterpret_cast<uintptr_t>(mem->window());
  EXPECT_TRUE(FullyMapped(window - 4 * kGiB, window + 8 * kGiB));
}

TEST(GuestMemoryDeathTest, GuardsSurroundTheWindow) {
  std::unique_ptr<GuestMemory> mem = CreateOrDie(kRamBytes);
  ASSERT_NE(mem, nullptr);
  uint8_t* window = mem->window();
  const auto segv = ::testing::KilledBySignal(SIGSEGV);
  EXPECT_EXIT(Touch(window + kRamBytes), segv, "");     // Above RAM, inside the window.
  EXPECT_EXIT(Touch(window + 4 * kGiB - 1), segv, "");  // The window's last byte.
  EXPECT_EXIT(Touch(window + 4 * kGiB), segv, "");      // Upper guard.
  EXPECT_EXIT(Touch(window + 8 * kGiB - 1), segv, "");  // Upper guard's last byte.
  EXPECT_EXIT(Touch(window - 1), segv, "");             // Lower guard.
  EXPECT_EXIT(Touch(window - 4 * kGiB), segv, "");      // Lower guard's first byte.
}

TEST(GuestMemoryTest, WriteAndReadAreBoundsChecked) {
  std::unique_ptr<GuestMemory> mem = CreateOrDie(kRamBytes);
  ASSERT_NE(mem, nullptr);
  const char text[] = "bt86";
  ASSERT_TRUE(mem->Write(0x100, text, sizeof(text)).ok());
  char back[sizeof(text)] = {};
  ASSERT_TRUE(mem->Read(0x100, back, sizeof(back)).ok());
  EXPECT_STREQ(back, "bt86");
  EXPECT_STREQ(reinterpret_cast<const char*>(mem->window() + 0x100), "bt86");

  EXPECT_TRUE(mem->Write(kRamBytes - 4, text, 4).ok());
  EXPECT_TRUE(mem->Write(kRamBytes, text, 0).ok());

  mem->ram()[kRamBytes - 3] = 0x77;
  Status status = mem->Write(kRamBytes - 3, text, 4);
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(status.code(), ExitStatus::kUsage);
  EXPECT_EQ(mem->ram()[kRamBytes - 3], 0x77);  // No partial write.
  EXPECT_FALSE(mem->Read(kRamBytes - 3, back, 4).ok());
  EXPECT_FALSE(mem->Write(uint64_t{1} << 63, text, 4).ok());
  EXPECT_FALSE(mem->Read(4, back, UINT64_MAX).ok());
}

TEST(GuestMemoryTest, ContainsHandlesEdgesAndOverflow) {
  std::unique_ptr<GuestMemory> mem = CreateOrDie(kRamBytes);
  ASSERT_NE(mem, nullptr);
  EXPECT_TRUE(mem->Contains(0, kRamBytes));
  EXPECT_TRUE(mem->Contains(kRamBytes, 0));
  EXPECT_FALSE(mem->Contains(0, kRamBytes + 1));
  EXPECT_FALSE(mem->Contains(kRamBytes + 1, 0));
  EXPECT_FALSE(mem->Contains(1, UINT64_MAX));
}

TEST(GuestMemoryTest, FillSetsBytes) {
  std::unique_ptr<GuestMemory> mem = CreateOrDie(kRamBytes);
  ASSERT_NE(mem, nullptr);
  ASSERT_TRUE(mem->Fill(0x10, 0xee, 0x20).ok());
  EXPECT_EQ(mem->ram()[0x0f], 0);
  EXPECT_EQ(mem->ram()[0x10], 0xee);
  EXPECT_EQ(mem->ram()[0x2f], 0xee);
  EXPECT_EQ(mem->ram()[0x30], 0);
  EXPECT_FALSE(mem->Fill(kRamBytes - 1, 0xee, 2).ok());
  EXPECT_EQ(mem->ram()[kRamBytes - 1], 0);
}

TEST(GuestMemoryDeathTest, CodePagesAreReadOnlyInTheWindowOnly) {
  std::unique_ptr<GuestMemory> mem = CreateOrDie(kRamBytes);
  ASSERT_NE(mem, nullptr);
  uint8_t* page3 = mem->window() + 3 * kPageSize;
  EXPECT_FALSE(mem->IsCodePage(3));
  mem->ProtectCodePage(3);
  EXPECT_TRUE(mem->IsCodePage(3));
  EXPECT_FALSE(mem->IsCodePage(2));
  EXPECT_FALSE(mem->IsCodePage(4));

  const auto segv = ::testing::KilledBySignal(SIGSEGV);
  EXPECT_EXIT(Touch(page3), segv, "");
  EXPECT_EXIT(Touch(page3 + kPageSize - 1), segv, "");
  Touch(page3 - 1);  // The neighbours stay writable.
  Touch(page3 + kPageSize);
  mem->ram()[3 * kPageSize + 5] = 0x42;  // The VMM's view stays writable ...
  EXPECT_EQ(page3[5], 0x42);             // ... and the window still reads it.

  mem->ProtectCodePage(3);  // Idempotent.
  mem->UnprotectCodePage(3);
  EXPECT_FALSE(mem->IsCodePage(3));
  page3[0] = 9;
  EXPECT_EQ(mem->ram()[3 * kPageSize], 9);
  mem->UnprotectCodePage(7);  // Never protected: a no-op.
  EXPECT_FALSE(mem->IsCodePage(7));
  EXPECT_FALSE(mem->IsCodePage(0xfffff));
}

TEST(GuestMemoryDeathTest, CodePageOutsideRamIsABug) {
  std::unique_ptr<GuestMemory> mem = CreateOrDie(kRamBytes);
  ASSERT_NE(mem, nullptr);
  EXPECT_DEATH(mem->ProtectCodePage(kRamBytes / kPageSize), "outside RAM");
}

TEST(GuestMemoryTest, DestructorReleasesEverything) {
  const int fds_before = CountOpenFds();
  const int mappings_before = CountRamMappings();
  {
    std::unique_ptr<GuestMemory> mem = CreateOrDie(kRamBytes);
    ASSERT_NE(mem, nullptr);
    mem->ProtectCodePage(1);  // Splits the window mapping in three.
    EXPECT_EQ(CountOpenFds(), fds_before + 1);
    EXPECT_EQ(CountRamMappings(), mappings_before + 4);
  }
  EXPECT_EQ(CountOpenFds(), fds_before);
  EXPECT_EQ(CountRamMappings(), mappings_before);
}

}  // namespace
}  // namespace bt86
