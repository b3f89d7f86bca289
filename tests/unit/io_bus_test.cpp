// IoBus: routing by port range, offsets seen by devices, access-size masking,
// and what unclaimed ports do (read all-ones, drop writes, count both).
#include "runtime/io_bus.h"

#include <gtest/gtest.h>

#include <vector>

namespace bt86 {
namespace {

/// Records every access and answers reads with a fixed value.
class RecordingDevice : public PortDevice {
 public:
  struct Access {
    bool is_write;
    uint16_t offset;
    int size;
    uint32_t value;
    bool operator==(const Access&) const = default;
  };

  explicit RecordingDevice(uint32_t read_value) : read_value_(read_value) {}
  uint32_t In(uint16_t offset, int size) override {
    accesses.push_back({false, offset, size, 0});
    return read_value_;
  }
  void Out(uint16_t offset, int size, uint32_t value) override {
    accesses.push_back({true, offset, size, value});
  }

  std::vector<Access> accesses;

 private:
  uint32_t read_value_;
};

TEST(IoBusTest, UnclaimedReadsAreAllOnesOfTheAccessSize) {
  IoBus bus;
  EXPECT_EQ(bus.In(0x80, 1), 0xffu);
  EXPECT_EQ(bus.In(0x80, 2), 0xffffu);
  EXPECT_EQ(bus.In(0x80, 4), 0xffffffffu);
  EXPECT_EQ(bus.unclaimed_reads(), 3u);
  EXPECT_EQ(bus.unclaimed_writes(), 0u);
}

TEST(IoBusTest, UnclaimedWritesAreDroppedAndCounted) {
  IoBus bus;
  RecordingDevice device(0);
  bus.Register(0x60, 1, &device);
  bus.Out(0x61, 1, 0xaa);
  bus.Out(0x5f, 4, 0xaa);
  EXPECT_TRUE(device.accesses.empty());
  EXPECT_EQ(bus.unclaimed_writes(), 2u);
}

TEST(IoBusTest, DevicesSeeOffsetsIntoTheirRange) {
  IoBus bus;
  RecordingDevice uart(0x12);
  RecordingDevice exit_port(0x34);
  bus.Register(0x3f8, 8, &uart);
  bus.Register(0xf4, 4, &exit_port);

  EXPECT_EQ(bus.In(0x3fd, 1), 0x12u);
  bus.Out(0x3f8, 1, 'A');
  bus.Out(0xf6, 2, 0x1234);
  EXPECT_EQ(bus.In(0xf4, 4), 0x34u);

  using Access = RecordingDevice::Access;
  EXPECT_EQ(uart.accesses, (std::vector<Access>{{false, 5, 1, 0}, {true, 0, 1, 'A'}}));
  EXPECT_EQ(exit_port.accesses, (std::vector<Access>{{true, 2, 2, 0x1234}, {false, 0, 4, 0}}));
  EXPECT_EQ(bus.unclaimed_reads(), 0u);
  EXPECT_EQ(bus.unclaimed_writes(), 0u);
}

TEST(IoBusTest, ValuesAreTruncatedToTheAccessSize) {
  IoBus bus;
  RecordingDevice device(0xdeadbeef);
  bus.Register(0x70, 2, &device);
  EXPECT_EQ(bus.In(0x70, 1), 0xefu);
  EXPECT_EQ(bus.In(0x70, 2), 0xbeefu);
  EXPECT_EQ(bus.In(0x70, 4), 0xdeadbeefu);
  bus.Out(0x71, 1, 0x1ff);
  bus.Out(0x71, 2, 0x12345678);
  EXPECT_EQ(device.accesses[3].value, 0xffu);
  EXPECT_EQ(device.accesses[4].value, 0x5678u);
}

TEST(IoBusTest, AdjacentRangesAndTheTopPort) {
  IoBus bus;
  RecordingDevice low(1), high(2), top(3);
  bus.Register(0x20, 2, &low);
  bus.Register(0x22, 2, &high);
  bus.Register(0xfffe, 2, &top);
  EXPECT_EQ(bus.In(0x21, 1), 1u);
  EXPECT_EQ(bus.In(0x22, 1), 2u);
  EXPECT_EQ(bus.In(0xffff, 1), 3u);
  EXPECT_EQ(top.accesses.back().offset, 1);
  EXPECT_EQ(bus.In(0x24, 1), 0xffu);
}

TEST(IoBusDeathTest, OverlappingRangesAreABug) {
  IoBus bus;
  RecordingDevice a(0), b(0);
  bus.Register(0x3f8, 8, &a);
  EXPECT_DEATH(bus.Register(0x3ff, 1, &b), "overlaps");
  EXPECT_DEATH(bus.Register(0x3f0, 9, &b), "overlaps");
  EXPECT_DEATH(bus.Register(0x3f0, 0x20, &b), "overlaps");
}

TEST(IoBusDeathTest, MalformedRangesAreABug) {
  IoBus bus;
  RecordingDevice a(0);
  EXPECT_DEATH(bus.Register(0x10, 0, &a), "empty range");
  EXPECT_DEATH(bus.Register(0xffff, 2, &a), "past port 0xffff");
  EXPECT_DEATH(bus.Register(0x10, 1, nullptr), "no device");
}

}  // namespace
}  // namespace bt86
