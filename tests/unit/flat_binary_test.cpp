// LoadFlatBinary: bytes land at the load address, the boot state is clean,
// and every bad input is a usage error that leaves RAM alone.
#include "runtime/loaders/flat_binary.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace bt86 {
namespace {

constexpr uint64_t kRamBytes = 1 << 20;

class FlatBinaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "bt86_flat_XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    Status status = GuestMemory::Create(kRamBytes, &mem_);
    ASSERT_TRUE(status.ok()) << status.message();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string WriteFile(const std::string& name, const std::vector<uint8_t>& bytes) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    return path;
  }

  void ExpectUsageError(const Status& status, const std::string& needle) {
    EXPECT_FALSE(status.ok());
    EXPECT_EQ(status.code(), ExitStatus::kUsage);
    EXPECT_NE(status.message().find(needle), std::string::npos) << status.message();
  }

  std::string dir_;
  std::unique_ptr<GuestMemory> mem_;
};

TEST_F(FlatBinaryTest, LoadsAtTheAddressAndSetsTheBootState) {
  const std::vector<uint8_t> code = {0xfa, 0xf4, 0xeb, 0xfd};  // cli; hlt; jmp $-1
  const std::string path = WriteFile("code.bin", code);
  BootState state;
  state.gpr[BootState::kEax] = 0xdead;
  Status status = LoadFlatBinary(*mem_, path, 0x7c00, 0x7c01, &state);
  ASSERT_TRUE(status.ok()) << status.message();

  std::vector<uint8_t> loaded(code.size());
  ASSERT_TRUE(mem_->Read(0x7c00, loaded.data(), loaded.size()).ok());
  EXPECT_EQ(loaded, code);
  EXPECT_EQ(mem_->ram()[0x7bff], 0);
  EXPECT_EQ(mem_->ram()[0x7c04], 0);
  EXPECT_EQ(state.eip, 0x7c01u);
  EXPECT_EQ(state.eflags, 0x2u);
  for (uint32_t gpr : state.gpr) EXPECT_EQ(gpr, 0u);
}

TEST_F(FlatBinaryTest, MayEndExactlyAtTheEndOfRam) {
  const std::string path = WriteFile("tail.bin", std::vector<uint8_t>(16, 0x90));
  BootState state;
  ASSERT_TRUE(LoadFlatBinary(*mem_, path, kRamBytes - 16, 0, &state).ok());
  EXPECT_EQ(mem_->ram()[kRamBytes - 1], 0x90);
}

TEST_F(FlatBinaryTest, MissingFile) {
  BootState state;
  ExpectUsageError(LoadFlatBinary(*mem_, dir_ + "/absent.bin", 0, 0, &state), "cannot open");
}

TEST_F(FlatBinaryTest, Directory) {
  BootState state;
  ExpectUsageError(LoadFlatBinary(*mem_, dir_, 0, 0, &state), "not a regular file");
}

TEST_F(FlatBinaryTest, EmptyFile) {
  BootState state;
  ExpectUsageError(LoadFlatBinary(*mem_, WriteFile("empty.bin", {}), 0, 0, &state), "is empty");
}

TEST_F(FlatBinaryTest, OutsideRamLeavesRamAlone) {
  const std::string path = WriteFile("code.bin", std::vector<uint8_t>(16, 0x90));
  BootState state;
  ExpectUsageError(LoadFlatBinary(*mem_, path, kRamBytes - 15, 0, &state), "past the end");
  EXPECT_EQ(mem_->ram()[kRamBytes - 15], 0);
  ExpectUsageError(LoadFlatBinary(*mem_, path, 0xfffffff8, 0, &state), "past the end");
}

TEST_F(FlatBinaryTest, LargerThanRam) {
  const std::string path = WriteFile("huge.bin", std::vector<uint8_t>(kRamBytes + 1));
  BootState state;
  ExpectUsageError(LoadFlatBinary(*mem_, path, 0, 0, &state), "larger than guest RAM");
}

}  // namespace
}  // namespace bt86
