// Uart16550 driven through its registers, checked against the PC16550D
// datasheet's register descriptions.
#include "runtime/devices/uart16550.h"

#include <gtest/gtest.h>

#include <string>

#include "runtime/io_bus.h"

namespace bt86 {
namespace {

class Uart16550Test : public ::testing::Test {
 protected:
  uint8_t Read(uint16_t reg) { return static_cast<uint8_t>(uart_.In(reg, 1)); }
  void Write(uint16_t reg, uint8_t value) { uart_.Out(reg, 1, value); }

  std::string output_;
  Uart16550 uart_{[this](uint8_t byte) { output_.push_back(static_cast<char>(byte)); }};
};

TEST_F(Uart16550Test, ResetState) {
  EXPECT_EQ(Read(Uart16550::kIer), 0x00);
  EXPECT_EQ(Read(Uart16550::kIir), 0x01);
  EXPECT_EQ(Read(Uart16550::kLcr), 0x00);
  EXPECT_EQ(Read(Uart16550::kMcr), 0x00);
  EXPECT_EQ(Read(Uart16550::kLsr), 0x60);
  EXPECT_EQ(Read(Uart16550::kMsr), 0xb0);
  EXPECT_EQ(Read(Uart16550::kRbr), 0x00);
}

TEST_F(Uart16550Test, ThrWritesGoToTheSink) {
  for (char c : std::string("hello\n")) Write(Uart16550::kThr, c);
  EXPECT_EQ(output_, "hello\n");
  // The transmitter is instantly empty again.
  EXPECT_EQ(Read(Uart16550::kLsr), Uart16550::kLsrThre | Uart16550::kLsrTemt);
}

TEST_F(Uart16550Test, DlabSelectsTheDivisorLatch) {
  Write(Uart16550::kIer, 0x05);
  Write(Uart16550::kLcr, Uart16550::kLcrDlab | 0x03);
  Write(Uart16550::kDll, 0x0c);  // 9600 baud.
  Write(Uart16550::kDlm, 0x00);
  EXPECT_EQ(output_, "");  // A DLL write is not a transmission.
  EXPECT_EQ(Read(Uart16550::kDll), 0x0c);
  EXPECT_EQ(Read(Uart16550::kDlm), 0x00);
  EXPECT_EQ(Read(Uart16550::kLcr), 0x83);

  Write(Uart16550::kLcr, 0x03);
  EXPECT_EQ(Read(Uart16550::kIer), 0x05);  // IER kept its value under the latch.
  Write(Uart16550::kThr, 'x');
  EXPECT_EQ(output_, "x");

  Write(Uart16550::kLcr, 0x83);
  Write(Uart16550::kDlm, 0xab);
  EXPECT_EQ(Read(Uart16550::kDlm), 0xab);
  EXPECT_EQ(Read(Uart16550::kDll), 0x0c);
}

TEST_F(Uart16550Test, RegistersRoundTripTheirImplementedBits) {
  Write(Uart16550::kIer, 0xff);
  EXPECT_EQ(Read(Uart16550::kIer), 0x0f);  // Bits 4-7 are always 0.
  Write(Uart16550::kMcr, 0xff);
  EXPECT_EQ(Read(Uart16550::kMcr), 0x1f);  // Bits 5-7 are always 0.
  Write(Uart16550::kMcr, 0x0b);
  EXPECT_EQ(Read(Uart16550::kMcr), 0x0b);
  for (int value : {0x00, 0x1b, 0x7f, 0xff}) {
    Write(Uart16550::kScr, value);
    EXPECT_EQ(Read(Uart16550::kScr), value);
    Write(Uart16550::kLcr, value);
    EXPECT_EQ(Read(Uart16550::kLcr), value);
  }
}

TEST_F(Uart16550Test, LsrAndMsrIgnoreWrites) {
  Write(Uart16550::kLsr, 0x00);
  Write(Uart16550::kMsr, 0x00);
  EXPECT_EQ(Read(Uart16550::kLsr), 0x60);
  EXPECT_EQ(Read(Uart16550::kMsr), 0xb0);
}

TEST_F(Uart16550Test, FcrEnablesFifosAsIirReports) {
  Write(Uart16550::kFcr, Uart16550::kFcrEnable | Uart16550::kFcrClearRx | Uart16550::kFcrClearTx);
  EXPECT_EQ(Read(Uart16550::kIir), 0xc1);
  Write(Uart16550::kFcr, 0xc7);  // 14-byte trigger, as Linux programs it.
  EXPECT_EQ(Read(Uart16550::kIir), 0xc1);
  Write(Uart16550::kFcr, 0x00);
  EXPECT_EQ(Read(Uart16550::kIir), 0x01);
  Write(Uart16550::kFcr, 0xc6);  // Without FCR0 nothing is enabled.
  EXPECT_EQ(Read(Uart16550::kIir), 0x01);
}

TEST_F(Uart16550Test, LoopbackWiresModemControlToModemStatus) {
  // Linux's 8250 probe: LOOP|OUT2|RTS must read back as DCD|CTS.
  Write(Uart16550::kMcr, Uart16550::kMcrLoop | 0x0a);
  EXPECT_EQ(Read(Uart16550::kMsr) & 0xf0, 0x90);

  Write(Uart16550::kMcr, Uart16550::kMcrLoop);
  Read(Uart16550::kMsr);  // Clear the deltas.
  Write(Uart16550::kMcr, Uart16550::kMcrLoop | Uart16550::kMcrDtr);
  EXPECT_EQ(Read(Uart16550::kMsr), Uart16550::kMsrDsr | Uart16550::kMsrDdsr);
  EXPECT_EQ(Read(Uart16550::kMsr), Uart16550::kMsrDsr);  // Reading cleared the delta.
  Write(Uart16550::kMcr, Uart16550::kMcrLoop | Uart16550::kMcrOut1);
  EXPECT_EQ(Read(Uart16550::kMsr), Uart16550::kMsrRi | Uart16550::kMsrDdsr);
  Write(Uart16550::kMcr, Uart16550::kMcrLoop);  // RI falls: trailing edge.
  EXPECT_EQ(Read(Uart16550::kMsr), Uart16550::kMsrTeri);
  Write(Uart16550::kMcr, Uart16550::kMcrLoop | 0x0f);
  EXPECT_EQ(Read(Uart16550::kMsr),
            0xf0 | Uart16550::kMsrDcts | Uart16550::kMsrDdsr | Uart16550::kMsrDdcd);

  Write(Uart16550::kMcr, 0x00);  // Leaving loopback reconnects the always-ready terminal.
  EXPECT_EQ(Read(Uart16550::kMsr) & 0xf0, 0xb0);
}

TEST_F(Uart16550Test, LoopbackReturnsTransmittedBytes) {
  Write(Uart16550::kMcr, Uart16550::kMcrLoop);
  Write(Uart16550::kThr, 'a');
  EXPECT_EQ(output_, "");
  EXPECT_EQ(Read(Uart16550::kLsr), 0x61);  // DR set.
  EXPECT_EQ(Read(Uart16550::kRbr), 'a');
  EXPECT_EQ(Read(Uart16550::kLsr), 0x60);

  // Without FIFOs a second byte overruns RBR and replaces it.
  Write(Uart16550::kThr, 'b');
  Write(Uart16550::kThr, 'c');
  EXPECT_EQ(Read(Uart16550::kLsr), 0x63);  // DR | OE.
  EXPECT_EQ(Read(Uart16550::kLsr), 0x61);  // OE clears when read.
  EXPECT_EQ(Read(Uart16550::kRbr), 'c');

  Write(Uart16550::kMcr, 0x00);
  Write(Uart16550::kThr, 'd');
  EXPECT_EQ(output_, "d");
}

TEST_F(Uart16550Test, LoopbackFifoHoldsSixteenBytes) {
  Write(Uart16550::kFcr, Uart16550::kFcrEnable);
  Write(Uart16550::kMcr, Uart16550::kMcrLoop);
  for (int i = 0; i < 17; ++i) Write(Uart16550::kThr, 'A' + i);
  EXPECT_EQ(Read(Uart16550::kLsr), 0x63);
  std::string received;
  while (Read(Uart16550::kLsr) & Uart16550::kLsrDr) received.push_back(Read(Uart16550::kRbr));
  EXPECT_EQ(received, "ABCDEFGHIJKLMNOP");  // The 17th byte was lost.

  Write(Uart16550::kThr, 'x');
  Write(Uart16550::kFcr, Uart16550::kFcrEnable | Uart16550::kFcrClearRx);
  EXPECT_EQ(Read(Uart16550::kLsr), 0x60);
}

TEST_F(Uart16550Test, WideAccessesTouchConsecutiveRegisters) {
  uart_.Out(Uart16550::kLcr, 2, 0x1b03);  // LCR=0x03, MCR=0x1b.
  EXPECT_EQ(Read(Uart16550::kLcr), 0x03);
  EXPECT_EQ(Read(Uart16550::kMcr), 0x1b);
  // LSR, then MSR in loopback: OUT2|DTR|RTS read back as DCD|DSR|CTS.
  EXPECT_EQ(uart_.In(Uart16550::kLsr, 2), 0xb060u);
  EXPECT_EQ(uart_.In(Uart16550::kScr, 2), 0xff00u);  // Past the last register: all ones.
}

TEST_F(Uart16550Test, OnTheBusAtCom1) {
  IoBus bus;
  bus.Register(Uart16550::kCom1Base, Uart16550::kPortCount, &uart_);
  bus.Out(0x3f8, 1, 'O');
  bus.Out(0x3f8, 1, 'K');
  EXPECT_EQ(output_, "OK");
  EXPECT_EQ(bus.In(0x3fd, 1), 0x60u);
  bus.Out(0x3ff, 1, 0x5a);
  EXPECT_EQ(bus.In(0x3ff, 1), 0x5au);
}

}  // namespace
}  // namespace bt86
