// Option value parsing (src/options.h): sizes with binary units, 32-bit
// addresses, hex byte strings. Good inputs parse to the documented value; bad
// ones return a kUsage status whose message names the option and the text.
#include "src/options.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace bt86 {
namespace {

// ---- ParseSize: "4096", "64K", "128M", "1G"; a positive multiple of 4 KiB.

uint64_t SizeOrDie(const std::string& text) {
  uint64_t out = 0;
  const Status st = ParseSize(text, "--memory", &out);
  EXPECT_TRUE(st.ok()) << text << ": " << st.message();
  return out;
}

TEST(ParseSizeTest, AcceptsBytesAndBinaryUnits) {
  EXPECT_EQ(SizeOrDie("4096"), 4096u);
  EXPECT_EQ(SizeOrDie("8192"), 8192u);
  EXPECT_EQ(SizeOrDie("4K"), 4096u);
  EXPECT_EQ(SizeOrDie("64K"), 64u << 10);
  EXPECT_EQ(SizeOrDie("64k"), 64u << 10);
  EXPECT_EQ(SizeOrDie("128M"), 128u << 20);
  EXPECT_EQ(SizeOrDie("128m"), 128u << 20);
  EXPECT_EQ(SizeOrDie("1G"), 1ull << 30);
  EXPECT_EQ(SizeOrDie("4g"), 4ull << 30);
}

TEST(ParseSizeTest, RejectsMalformedOrUnalignedSizes) {
  for (const char* bad : {"", "0", "0K", "100", "4097", "1K", "2K", "K", "M", "12X", "4KB", "4 K",
                          " 4K", "-4K", "+4K", "0x1000", "4.5M", "128M ", "abc"}) {
    uint64_t out = 7;
    const Status st = ParseSize(bad, "--memory", &out);
    EXPECT_FALSE(st.ok()) << "'" << bad << "' was accepted as " << out;
    EXPECT_EQ(out, 7u) << "'" << bad << "' wrote the output";
    if (!st.ok()) {
      EXPECT_EQ(st.code(), ExitStatus::kUsage);
    }
  }
}

TEST(ParseSizeTest, RejectsSizesThatOverflow) {
  uint64_t out = 0;
  EXPECT_FALSE(ParseSize("99999999999999999999999", "--memory", &out).ok());
  EXPECT_FALSE(ParseSize("18014398509481984K", "--memory", &out).ok());  // 2^54 K wraps
  EXPECT_FALSE(ParseSize("17179869184G", "--memory", &out).ok());        // 2^34 G wraps
  EXPECT_FALSE(ParseSize("2048G", "--memory", &out).ok());               // above 1 TiB
}

TEST(ParseSizeTest, ErrorNamesTheOptionAndTheText) {
  uint64_t out = 0;
  const Status st = ParseSize("12X", "--code-cache", &out);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("--code-cache"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("12X"), std::string::npos) << st.message();
}

// ---- ParseAddress: decimal or 0x-prefixed hex, at most 0xffffffff.

uint32_t AddressOrDie(const std::string& text) {
  uint32_t out = 0;
  const Status st = ParseAddress(text, "--load-addr", &out);
  EXPECT_TRUE(st.ok()) << text << ": " << st.message();
  return out;
}

TEST(ParseAddressTest, AcceptsDecimalAndHex) {
  EXPECT_EQ(AddressOrDie("0"), 0u);
  EXPECT_EQ(AddressOrDie("4096"), 4096u);
  EXPECT_EQ(AddressOrDie("1048576"), 0x100000u);
  EXPECT_EQ(AddressOrDie("0x100000"), 0x100000u);
  EXPECT_EQ(AddressOrDie("0X100000"), 0x100000u);
  EXPECT_EQ(AddressOrDie("0xDeadBeef"), 0xDEADBEEFu);
  EXPECT_EQ(AddressOrDie("0xffffffff"), 0xFFFFFFFFu);
  EXPECT_EQ(AddressOrDie("4294967295"), 0xFFFFFFFFu);
}

TEST(ParseAddressTest, RejectsMalformedOrTooLargeAddresses) {
  for (const char* bad : {"", "0x", "x10", "abc", "12abc", "0x10g", "-1", "+1", " 1", "1 ",
                          "0x100000000", "4294967296", "99999999999999999999999", "1e6"}) {
    uint32_t out = 7;
    const Status st = ParseAddress(bad, "--load-addr", &out);
    EXPECT_FALSE(st.ok()) << "'" << bad << "' was accepted as " << out;
    EXPECT_EQ(out, 7u) << "'" << bad << "' wrote the output";
    if (!st.ok()) {
      EXPECT_EQ(st.code(), ExitStatus::kUsage);
      EXPECT_NE(st.message().find("--load-addr"), std::string::npos) << st.message();
    }
  }
}

// Regression: the header promises "decimal or 0x-prefixed hex", but
// strtoull(base 0) read "010" as octal 8 and rejected "08". A leading zero no
// longer switches to octal.
TEST(ParseAddressTest, LeadingZeroIsStillDecimal) {
  EXPECT_EQ(AddressOrDie("010"), 10u);
  EXPECT_EQ(AddressOrDie("08"), 8u);
  EXPECT_EQ(AddressOrDie("0100000"), 100000u);
}

// ---- ParseHexBytes: hex digit pairs, whitespace allowed anywhere.

std::vector<uint8_t> BytesOrDie(const std::string& text) {
  std::vector<uint8_t> out;
  const Status st = ParseHexBytes(text, &out);
  EXPECT_TRUE(st.ok()) << text << ": " << st.message();
  return out;
}

TEST(ParseHexBytesTest, AcceptsPairsWithOrWithoutSpaces) {
  const std::vector<uint8_t> expected = {0x55, 0x89, 0xE5};
  EXPECT_EQ(BytesOrDie("55 89 e5"), expected);
  EXPECT_EQ(BytesOrDie("5589e5"), expected);
  EXPECT_EQ(BytesOrDie("5589E5"), expected);
  EXPECT_EQ(BytesOrDie("  55\t89\ne5  "), expected);
  EXPECT_EQ(BytesOrDie("00"), std::vector<uint8_t>{0x00});
  EXPECT_EQ(BytesOrDie("ff"), std::vector<uint8_t>{0xFF});
}

TEST(ParseHexBytesTest, ReplacesThePreviousContents) {
  std::vector<uint8_t> out = {1, 2, 3, 4};
  ASSERT_TRUE(ParseHexBytes("c3", &out).ok());
  EXPECT_EQ(out, std::vector<uint8_t>{0xC3});
}

TEST(ParseHexBytesTest, RejectsOddDigitCountsAndNonHex) {
  for (const char* bad : {"", "   ", "5", "558", "zz", "0x55", "55,89", "55-89", "g0"}) {
    std::vector<uint8_t> out = {0xAA};
    const Status st = ParseHexBytes(bad, &out);
    EXPECT_FALSE(st.ok()) << "'" << bad << "' was accepted";
    EXPECT_EQ(out, std::vector<uint8_t>{0xAA}) << "'" << bad << "' wrote the output";
    if (!st.ok()) {
      EXPECT_EQ(st.code(), ExitStatus::kUsage);
      EXPECT_NE(st.message().find("--bytes"), std::string::npos) << st.message();
    }
  }
}

}  // namespace
}  // namespace bt86
