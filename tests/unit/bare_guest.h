// A tiny protected-mode guest assembled in memory, for tests that need
// descriptor tables: a flat GDT (0x08 ring-0 code, 0x10 ring-0 data, then
// any extra descriptors), an IDT whose listed vectors are 32-bit interrupt
// gates to the given handlers, and code that starts with `lgdt; lidt`
// (kPrologueBytes) followed by the test's own bytes. The Multiboot state
// names selectors 0x08/0x10 but leaves GDTR undefined, so tests that load
// segments or take exceptions build their own tables, as a kernel would.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <memory>
#include <vector>

#include "bt86/machine.h"

namespace bt86::testing {

struct BareGuest {
  static constexpr uint32_t kCode = 0x100000;
  static constexpr uint32_t kPrologueBytes = 14;  ///< lgdt [kTables]; lidt [kTables + 8]
  static constexpr uint32_t kBody = kCode + kPrologueBytes;
  static constexpr uint32_t kGdt = 0x101000;
  static constexpr uint32_t kIdt = 0x102000;
  static constexpr uint32_t kTables = 0x103000;    ///< GDTR image at +0, IDTR at +8.
  static constexpr uint32_t kHandlers = 0x104000;  ///< Handler n at kHandlers + 0x100 * n.
  static constexpr uint32_t kStackTop = 0x180000;

  std::vector<uint64_t> gdt = {0, 0x00CF9A000000FFFFull, 0x00CF92000000FFFFull};
  std::map<uint8_t, std::vector<uint8_t>> handlers;  ///< By vector.
  std::vector<uint8_t> body;
  double timeout_seconds = 10;

  /// Creates the machine, writes tables, handlers and code, sets EIP/ESP.
  std::unique_ptr<Machine> Build() const {
    Config config;
    config.memory_bytes = 4 << 20;
    config.timeout_seconds = timeout_seconds;
    config.echo_serial = false;
    std::unique_ptr<Machine> m;
    EXPECT_TRUE(Machine::Create(config, &m).ok());
    std::vector<uint8_t> idt(256 * 8, 0);
    int index = 0;
    for (const auto& [vector, code] : handlers) {
      const uint32_t at = kHandlers + 0x100 * index++;
      EXPECT_TRUE(m->WriteMemory(at, code.data(), code.size()).ok());
      const uint8_t gate[8] = {uint8_t(at),       uint8_t(at >> 8), 0x08, 0, 0, 0x8e,
                               uint8_t(at >> 16), uint8_t(at >> 24)};
      std::memcpy(&idt[vector * 8], gate, 8);
    }
    uint8_t tables[16] = {};
    const uint16_t gdt_limit = uint16_t(gdt.size() * 8 - 1), idt_limit = uint16_t(idt.size() - 1);
    std::memcpy(tables, &gdt_limit, 2);
    std::memcpy(tables + 2, &kGdt, 4);
    std::memcpy(tables + 8, &idt_limit, 2);
    std::memcpy(tables + 10, &kIdt, 4);
    EXPECT_TRUE(m->WriteMemory(kGdt, gdt.data(), gdt.size() * 8).ok());
    EXPECT_TRUE(m->WriteMemory(kIdt, idt.data(), idt.size()).ok());
    EXPECT_TRUE(m->WriteMemory(kTables, tables, sizeof(tables)).ok());
    std::vector<uint8_t> code = {0x0f, 0x01, 0x15, 0x00, 0x30, 0x10, 0x00,   // lgdt [0x103000]
                                 0x0f, 0x01, 0x1d, 0x08, 0x30, 0x10, 0x00};  // lidt [0x103008]
    code.insert(code.end(), body.begin(), body.end());
    EXPECT_TRUE(m->WriteMemory(kCode, code.data(), code.size()).ok());
    GuestRegisters regs;
    regs.eip = kCode;
    regs.gpr[4] = kStackTop;
    m->set_registers(regs);
    return m;
  }
};

}  // namespace bt86::testing
