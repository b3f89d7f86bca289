// 16550A UART (National Semiconductor PC16550D datasheet): the PC's COM ports.
//
// Transmission is instantaneous: a byte written to THR goes straight to the
// output sink, so the transmitter always reads empty (LSR THRE|TEMT). There is
// no host input yet; the receiver only ever holds bytes sent in loopback mode
// (MCR LOOP), which also routes MCR's outputs to MSR's inputs as the datasheet
// wires them (drivers probe for a UART that way). Interrupts are not modelled:
// IIR always reports none pending, so guests must poll LSR.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>

#include "runtime/io_bus.h"

namespace bt86 {

class Uart16550 : public PortDevice {
 public:
  /// Receives each byte the guest transmits (outside loopback mode).
  using OutputSink = std::function<void(uint8_t)>;

  static constexpr uint16_t kCom1Base = 0x3f8;  ///< COM1's first port.
  static constexpr uint16_t kPortCount = 8;     ///< Ports the UART decodes.

  // Register offsets. DLL/DLM replace RBR-THR/IER while LCR.DLAB is set.
  static constexpr uint16_t kRbr = 0;  ///< Receiver Buffer (read, DLAB=0).
  static constexpr uint16_t kThr = 0;  ///< Transmitter Holding (write, DLAB=0).
  static constexpr uint16_t kDll = 0;  ///< Divisor Latch LSB (DLAB=1).
  static constexpr uint16_t kIer = 1;  ///< Interrupt Enable (DLAB=0).
  static constexpr uint16_t kDlm = 1;  ///< Divisor Latch MSB (DLAB=1).
  static constexpr uint16_t kIir = 2;  ///< Interrupt Identification (read).
  static constexpr uint16_t kFcr = 2;  ///< FIFO Control (write).
  static constexpr uint16_t kLcr = 3;  ///< Line Control.
  static constexpr uint16_t kMcr = 4;  ///< Modem Control.
  static constexpr uint16_t kLsr = 5;  ///< Line Status.
  static constexpr uint16_t kMsr = 6;  ///< Modem Status.
  static constexpr uint16_t kScr = 7;  ///< Scratch.

  static constexpr uint8_t kLcrDlab = 0x80;  ///< LCR: divisor latch access.

  static constexpr uint8_t kFcrEnable = 0x01;   ///< FCR: FIFO enable.
  static constexpr uint8_t kFcrClearRx = 0x02;  ///< FCR: clear receiver FIFO (self-clearing).
  static constexpr uint8_t kFcrClearTx = 0x04;  ///< FCR: clear transmitter FIFO (self-clearing).

  static constexpr uint8_t kIirNoInterrupt = 0x01;   ///< IIR: no interrupt pending.
  static constexpr uint8_t kIirFifosEnabled = 0xc0;  ///< IIR: both bits set in FIFO mode.

  static constexpr uint8_t kMcrDtr = 0x01;   ///< MCR: Data Terminal Ready.
  static constexpr uint8_t kMcrRts = 0x02;   ///< MCR: Request To Send.
  static constexpr uint8_t kMcrOut1 = 0x04;  ///< MCR: OUT1.
  static constexpr uint8_t kMcrOut2 = 0x08;  ///< MCR: OUT2 (gates the IRQ on a PC).
  static constexpr uint8_t kMcrLoop = 0x10;  ///< MCR: loopback.

  static constexpr uint8_t kLsrDr = 0x01;    ///< LSR: data ready.
  static constexpr uint8_t kLsrOe = 0x02;    ///< LSR: overrun error (cleared by reading LSR).
  static constexpr uint8_t kLsrThre = 0x20;  ///< LSR: transmitter holding register empty.
  static constexpr uint8_t kLsrTemt = 0x40;  ///< LSR: transmitter empty.

  static constexpr uint8_t kMsrDcts = 0x01;  ///< MSR: CTS changed.
  static constexpr uint8_t kMsrDdsr = 0x02;  ///< MSR: DSR changed.
  static constexpr uint8_t kMsrTeri = 0x04;  ///< MSR: RI trailing edge.
  static constexpr uint8_t kMsrDdcd = 0x08;  ///< MSR: DCD changed.
  static constexpr uint8_t kMsrCts = 0x10;   ///< MSR: Clear To Send.
  static constexpr uint8_t kMsrDsr = 0x20;   ///< MSR: Data Set Ready.
  static constexpr uint8_t kMsrRi = 0x40;    ///< MSR: Ring Indicator.
  static constexpr uint8_t kMsrDcd = 0x80;   ///< MSR: Data Carrier Detect.

  /// A UART in its reset state whose transmitted bytes go to `sink`.
  explicit Uart16550(OutputSink sink);

  /// Reads registers; a wider access reads consecutive registers, one byte each.
  uint32_t In(uint16_t offset, int size) override;
  /// Writes registers; a wider access writes consecutive registers, one byte each.
  void Out(uint16_t offset, int size, uint32_t value) override;

 private:
  /// Reads one register, with the datasheet's side effects (RBR pops, LSR/MSR clear).
  uint8_t ReadRegister(uint16_t offset);
  /// Writes one register.
  void WriteRegister(uint16_t offset, uint8_t value);
  /// Puts a byte in the receiver (loopback); sets LSR.OE if it has no room.
  void Receive(uint8_t byte);
  /// MSR bits 4-7: the modem inputs, wired to MCR's outputs in loopback.
  uint8_t ModemInputs() const;
  bool dlab() const { return (lcr_ & kLcrDlab) != 0; }
  bool fifos_enabled() const { return (fcr_ & kFcrEnable) != 0; }

  OutputSink sink_;
  std::deque<uint8_t> rx_fifo_;  ///< Received bytes; holds 16 in FIFO mode, else 1 (RBR).
  uint8_t dll_ = 0;
  uint8_t dlm_ = 0;
  uint8_t ier_ = 0;
  uint8_t fcr_ = 0;  ///< The FCR bits that persist: enable, DMA mode, trigger level.
  uint8_t lcr_ = 0;
  uint8_t mcr_ = 0;
  uint8_t lsr_errors_ = 0;  ///< LSR.OE until LSR is read.
  uint8_t msr_deltas_ = 0;  ///< MSR bits 0-3 until MSR is read.
  uint8_t scr_ = 0;
};

}  // namespace bt86
