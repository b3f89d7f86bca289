// 16550A UART registers, per the PC16550D datasheet's register table (Table II)
// and the MCR loopback wiring of section 8.6.
#include "runtime/devices/uart16550.h"

#include <utility>

namespace bt86 {
namespace {

constexpr uint8_t kIerWritable = 0x0f;  ///< IER bits 4-7 are always 0.
constexpr uint8_t kMcrWritable = 0x1f;  ///< MCR bits 5-7 are always 0.
/// FCR bits that stick: FIFO enable, DMA mode select, receiver trigger level.
constexpr uint8_t kFcrPersistent = 0xc9;
constexpr size_t kFifoBytes = 16;

}  // namespace

Uart16550::Uart16550(OutputSink sink) : sink_(std::move(sink)) {}

uint32_t Uart16550::In(uint16_t offset, int size) {
  // An ISA bus splits a wide access to this 8-bit device into byte cycles.
  uint32_t value = 0;
  for (int i = 0; i < size; ++i) {
    const uint16_t byte_offset = offset + i;
    const uint8_t byte = byte_offset < kPortCount ? ReadRegister(byte_offset) : 0xff;
    value |= uint32_t{byte} << (8 * i);
  }
  return value;
}

void Uart16550::Out(uint16_t offset, int size, uint32_t value) {
  for (int i = 0; i < size; ++i) {
    const uint16_t byte_offset = offset + i;
    if (byte_offset < kPortCount) {
      WriteRegister(byte_offset, static_cast<uint8_t>(value >> (8 * i)));
    }
  }
}

uint8_t Uart16550::ReadRegister(uint16_t offset) {
  switch (offset) {
    case kRbr: {
      if (dlab()) return dll_;
      if (rx_fifo_.empty()) return 0;
      const uint8_t byte = rx_fifo_.front();
      rx_fifo_.pop_front();
      return byte;
    }
    case kIer:
      return dlab() ? dlm_ : ier_;
    case kIir:
      return kIirNoInterrupt | (fifos_enabled() ? kIirFifosEnabled : 0);
    case kLcr:
      return lcr_;
    case kMcr:
      return mcr_;
    case kLsr: {
      const uint8_t lsr = kLsrThre | kLsrTemt | lsr_errors_ | (rx_fifo_.empty() ? 0 : kLsrDr);
      lsr_errors_ = 0;
      return lsr;
    }
    case kMsr: {
      const uint8_t msr = ModemInputs() | msr_deltas_;
      msr_deltas_ = 0;
      return msr;
    }
    case kScr:
      return scr_;
  }
  return 0xff;
}

void Uart16550::WriteRegister(uint16_t offset, uint8_t value) {
  switch (offset) {
    case kThr:
      if (dlab()) {
        dll_ = value;
      } else if (mcr_ & kMcrLoop) {
        Receive(value);  // Loopback: the serial output is fed back, not sent.
      } else if (sink_) {
        sink_(value);
      }
      return;
    case kIer:
      if (dlab()) {
        dlm_ = value;
      } else {
        ier_ = value & kIerWritable;
      }
      return;
    case kFcr: {
      // Changing FCR0 (FIFO enable) clears both FIFOs; with FCR0 clear the
      // other bits cannot be programmed.
      const uint8_t new_fcr = (value & kFcrEnable) ? value & kFcrPersistent : 0;
      if (((new_fcr ^ fcr_) & kFcrEnable) || (value & kFcrClearRx)) rx_fifo_.clear();
      fcr_ = new_fcr;
      return;
    }
    case kLcr:
      lcr_ = value;
      return;
    case kMcr: {
      const uint8_t inputs_before = ModemInputs();
      mcr_ = value & kMcrWritable;
      const uint8_t inputs_after = ModemInputs();
      const uint8_t changed = inputs_before ^ inputs_after;
      if (changed & kMsrCts) msr_deltas_ |= kMsrDcts;
      if (changed & kMsrDsr) msr_deltas_ |= kMsrDdsr;
      if ((inputs_before & kMsrRi) && !(inputs_after & kMsrRi)) msr_deltas_ |= kMsrTeri;
      if (changed & kMsrDcd) msr_deltas_ |= kMsrDdcd;
      return;
    }
    case kLsr:
    case kMsr:
      return;  // Writable only for factory test; ignored.
    case kScr:
      scr_ = value;
      return;
  }
}

void Uart16550::Receive(uint8_t byte) {
  const size_t capacity = fifos_enabled() ? kFifoBytes : 1;
  if (rx_fifo_.size() < capacity) {
    rx_fifo_.push_back(byte);
    return;
  }
  // Overrun. In FIFO mode the FIFO keeps its bytes and the new one is lost;
  // without FIFOs the new byte overwrites RBR.
  lsr_errors_ |= kLsrOe;
  if (!fifos_enabled()) rx_fifo_.back() = byte;
}

uint8_t Uart16550::ModemInputs() const {
  if (!(mcr_ & kMcrLoop)) return kMsrDcd | kMsrDsr | kMsrCts;  // A terminal that is always ready.
  uint8_t inputs = 0;
  if (mcr_ & kMcrRts) inputs |= kMsrCts;
  if (mcr_ & kMcrDtr) inputs |= kMsrDsr;
  if (mcr_ & kMcrOut1) inputs |= kMsrRi;
  if (mcr_ & kMcrOut2) inputs |= kMsrDcd;
  return inputs;
}

}  // namespace bt86
