// DebugExit: QEMU isa-debug-exit semantics, directly and through the bus.
#include "runtime/devices/debug_exit.h"

#include <gtest/gtest.h>

#include <vector>

#include "runtime/io_bus.h"

namespace bt86 {
namespace {

TEST(DebugExitTest, NoRequestUntilWritten) {
  DebugExit device;
  EXPECT_FALSE(device.requested_value().has_value());
  device.In(0, 1);
  EXPECT_FALSE(device.requested_value().has_value());
}

TEST(DebugExitTest, ByteWriteRequestsItsValue) {
  DebugExit device;
  device.Out(0, 1, 0x10);
  ASSERT_TRUE(device.requested_value().has_value());
  EXPECT_EQ(*device.requested_value(), 0x10u);
  EXPECT_EQ(DebugExit::ProcessExitCode(*device.requested_value()), 0x21u);
}

TEST(DebugExitTest, ProcessExitCodeIsOdd) {
  EXPECT_EQ(DebugExit::ProcessExitCode(0), 1u);
  EXPECT_EQ(DebugExit::ProcessExitCode(1), 3u);
  EXPECT_EQ(DebugExit::ProcessExitCode(0x7f), 0xffu);
}

TEST(DebugExitTest, AnyWidthAtAnyOffset) {
  for (uint16_t offset = 0; offset < DebugExit::kPortCount; ++offset) {
    DebugExit word;
    word.Out(offset, 2, 0xbeef);
    EXPECT_EQ(word.requested_value(), 0xbeefu) << "offset " << offset;
    DebugExit dword;
    dword.Out(offset, 4, 0x12345678);
    EXPECT_EQ(dword.requested_value(), 0x12345678u) << "offset " << offset;
  }
}

TEST(DebugExitTest, ValueIsZeroExtendedFromTheAccessWidth) {
  DebugExit device;
  device.Out(1, 1, 0xffffff80);
  EXPECT_EQ(device.requested_value(), 0x80u);
}

TEST(DebugExitTest, FirstRequestWinsAndTheHookHearsItOnce) {
  std::vector<uint32_t> heard;
  DebugExit device([&](uint32_t value) { heard.push_back(value); });
  device.Out(0, 1, 3);
  device.Out(0, 1, 5);
  EXPECT_EQ(device.requested_value(), 3u);
  EXPECT_EQ(heard, std::vector<uint32_t>{3});
}

TEST(DebugExitTest, ReadsAreAllOnes) {
  DebugExit device;
  EXPECT_EQ(device.In(0, 1), 0xffu);
  EXPECT_EQ(device.In(2, 2), 0xffffu);
  EXPECT_EQ(device.In(0, 4), 0xffffffffu);
}

TEST(DebugExitTest, OnTheBusAtQemuDefaultPorts) {
  IoBus bus;
  DebugExit device;
  bus.Register(DebugExit::kDefaultBase, DebugExit::kPortCount, &device);
  bus.Out(0xf8, 1, 1);  // Just past the device.
  EXPECT_FALSE(device.requested_value().has_value());
  EXPECT_EQ(bus.In(0xf5, 1), 0xffu);
  bus.Out(0xf7, 1, 0x42);
  EXPECT_EQ(device.requested_value(), 0x42u);
}

}  // namespace
}  // namespace bt86
