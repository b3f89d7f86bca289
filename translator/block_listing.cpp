// Block listing (block_listing.h). Host addresses are printed as offsets
// from the block start so listings are stable across runs.
#include "translator/block_listing.h"

#include <fmt/core.h>

#include <cstring>

namespace bt86 {
namespace {

const char* KindLabel(InsnKind kind) {
  switch (kind) {
    case InsnKind::kIdent:
      return "IDENT";
    case InsnKind::kCallout:
      return "CALLOUT";
    case InsnKind::kUnsupported:
      return "STOP";
    default:
      return "REWRITE";
  }
}

// The name of a fixed stub that a rel32 jump at `insn` reaches, or "".
std::string StubName(const uint8_t* insn, size_t len, const HostStubs& stubs) {
  if (len != 5 || insn[0] != 0xE9) return "";
  int32_t rel;
  std::memcpy(&rel, insn + 1, 4);
  const uint8_t* target = insn + 5 + rel;
  if (target == stubs.exit_branch) return "jmp <exit_branch>";
  if (target == stubs.exit_indirect) return "jmp <exit_indirect>";
  if (target == stubs.exit_callout) return "jmp <exit_callout>";
  return "";
}

std::string HostLines(const Block& block, const HostStubs& stubs, uint32_t from, uint32_t to,
                      const std::string& indent, bool first_inline) {
  std::string out;
  bool first = true;
  for (uint32_t off = from; off < to;) {
    size_t len = 0;
    std::string text = FormatHostInsn(block.code + off, to - off, uint64_t(off), &len);
    // The only 64-bit immediates are metadata pointers (exit slot, callout
    // site): print them symbolically so listings are reproducible.
    if (std::string stub = StubName(block.code + off, len, stubs); !stub.empty()) text = stub;
    const bool masked = text.rfind("mov r8, 0x", 0) == 0 && len == 10;
    if (masked) text = "mov r8, <exit record>";
    std::string hex;
    for (size_t i = 0; i < len; ++i) {
      hex += masked && i >= 2 ? std::string("..") : fmt::format("{:02x}", block.code[off + i]);
    }
    if (!(first && first_inline)) out += indent;
    out += fmt::format("+{:04x}  {:<30} {}\n", off, hex, text);
    first = false;
    off += uint32_t(len);
  }
  if (first && first_inline) out += "(no host code)\n";
  return out;
}

}  // namespace

std::string FormatBlockListing(const Block& block, const Decoder& decoder, const HostStubs& stubs,
                               GuestCodeReader& reader) {
  std::string out = fmt::format(
      "block {:08x}: {} guest instructions, {} guest bytes -> {} host bytes ({} in stubs)\n",
      block.key.eip, block.insns.size(), block.guest_bytes, block.code_size,
      block.code_size - block.body_size);
  // Guest columns: eip, bytes, text, kind; host code starts at column 74.
  constexpr size_t kGuestColumns = 74;
  const std::string indent(kGuestColumns, ' ');
  for (size_t i = 0; i < block.insns.size(); ++i) {
    const InsnRecord& r = block.insns[i];
    const uint32_t end =
        i + 1 < block.insns.size() ? block.insns[i + 1].host_offset : block.body_size;
    uint8_t bytes[16] = {};
    const size_t got = reader.ReadCode(r.eip, bytes, 15);
    std::string hex, text = "(undecodable)";
    for (size_t b = 0; b < std::min<size_t>(got, r.length); ++b) {
      hex += fmt::format("{:02x}", bytes[b]);
    }
    DecodedInsn d;
    if (r.length && got && decoder.Decode(bytes, sizeof(bytes) - 1, r.eip, &d))
      text = decoder.Format(d);
    out += fmt::format("{:08x}  {:<30} {:<24} {:<8}", r.eip, hex, text, KindLabel(r.kind));
    out += HostLines(block, stubs, r.host_offset, end, indent, true);
  }
  for (size_t i = 0; i < block.exits.size(); ++i) {
    const ExitSlot& e = block.exits[i];
    const uint32_t end =
        i + 1 < block.exits.size() ? block.exits[i + 1].stub_offset : block.code_size;
    out += fmt::format(
        "{:<{}}",
        fmt::format("exit {} -> {:08x}{}", i, e.target_eip, e.chained_to ? " (chained)" : ""),
        kGuestColumns);
    out += HostLines(block, stubs, e.stub_offset, end, indent, true);
  }
  return out;
}

}  // namespace bt86
