// The string, counted-branch and xlat forms the translator cannot run
// natively: 16-bit address size (si/di/cx/bx), a segment base on the
// source operand, and port I/O strings (ins/outs). Semantics follow the
// Intel SDM Vol. 2 pages of MOVS, STOS, LODS, SCAS, CMPS, INS, OUTS, JCXZ,
// LOOP and XLAT. The translator's native path handles the common 32-bit
// flat forms; these run rarely, so clarity wins over speed.
#include <fmt/core.h>

#include "runtime/devices/debug_exit.h"
#include "runtime/vcpu.h"

namespace bt86 {
namespace {

constexpr uint64_t kCf = 1u << 0, kPf = 1u << 2, kAf = 1u << 4, kZf = 1u << 6, kSf = 1u << 7,
                   kDf = 1u << 10, kOf = 1u << 11;

enum class StringOp { kMovs, kStos, kLods, kScas, kCmps, kIns, kOuts };

bool Classify(ZydisMnemonic m, StringOp* op) {
  switch (m) {
    case ZYDIS_MNEMONIC_MOVSB:
    case ZYDIS_MNEMONIC_MOVSW:
    case ZYDIS_MNEMONIC_MOVSD:
      *op = StringOp::kMovs;
      return true;
    case ZYDIS_MNEMONIC_STOSB:
    case ZYDIS_MNEMONIC_STOSW:
    case ZYDIS_MNEMONIC_STOSD:
      *op = StringOp::kStos;
      return true;
    case ZYDIS_MNEMONIC_LODSB:
    case ZYDIS_MNEMONIC_LODSW:
    case ZYDIS_MNEMONIC_LODSD:
      *op = StringOp::kLods;
      return true;
    case ZYDIS_MNEMONIC_SCASB:
    case ZYDIS_MNEMONIC_SCASW:
    case ZYDIS_MNEMONIC_SCASD:
      *op = StringOp::kScas;
      return true;
    case ZYDIS_MNEMONIC_CMPSB:
    case ZYDIS_MNEMONIC_CMPSW:
    case ZYDIS_MNEMONIC_CMPSD:
      *op = StringOp::kCmps;
      return true;
    case ZYDIS_MNEMONIC_INSB:
    case ZYDIS_MNEMONIC_INSW:
    case ZYDIS_MNEMONIC_INSD:
      *op = StringOp::kIns;
      return true;
    case ZYDIS_MNEMONIC_OUTSB:
    case ZYDIS_MNEMONIC_OUTSW:
    case ZYDIS_MNEMONIC_OUTSD:
      *op = StringOp::kOuts;
      return true;
    default:
      return false;
  }
}

// The arithmetic flags of CMP a, b at `bits` width (SDM "Flags Affected").
void SetCompareFlags(VcpuContext& c, uint32_t a, uint32_t b, int bits) {
  const uint32_t mask = bits == 32 ? 0xFFFFFFFFu : (1u << bits) - 1;
  const uint32_t sign = 1u << (bits - 1);
  a &= mask;
  b &= mask;
  const uint32_t r = (a - b) & mask;
  uint64_t f = c.rflags & ~(kCf | kPf | kAf | kZf | kSf | kOf);
  if (a < b) f |= kCf;
  if ((__builtin_popcount(r & 0xFF) & 1) == 0) f |= kPf;
  if ((a ^ b ^ r) & 0x10) f |= kAf;
  if (r == 0) f |= kZf;
  if (r & sign) f |= kSf;
  if ((a ^ b) & (a ^ r) & sign) f |= kOf;
  c.rflags = f;
}

// An index register (si, di, cx) at the instruction's address size.
struct IndexRegister {
  uint32_t* reg;
  uint32_t mask;  ///< 0xffff for 16-bit address size.
  uint32_t get() const { return *reg & mask; }
  void set(uint32_t v) { *reg = (*reg & ~mask) | (v & mask); }
};

}  // namespace

Vcpu::Next Vcpu::StopOnMemoryFault(uint32_t addr, const CalloutSite& site) {
  return StopWith(
      RunResult::Kind::kGuestFault,
      fmt::format("guest fault: access to guest address {:08x} outside RAM by {}\n{}", addr,
                  DescribeInsn(site.eip, site.bytes, site.length), DumpRegisters()));
}

Vcpu::Next Vcpu::EmulateString(const DecodedInsn& d, const CalloutSite& site) {
  StringOp op;
  if (!Classify(d.insn.mnemonic, &op)) return Next::kStop;
  VcpuContext& c = *ctx_;
  const uint32_t amask = d.insn.address_width == 16 ? 0xFFFF : 0xFFFFFFFF;
  IndexRegister si{&c.gpr[kEsi], amask}, di{&c.gpr[kEdi], amask}, cx{&c.gpr[kEcx], amask};
  const int size = d.insn.operand_width / 8;
  const int32_t step = (c.rflags & kDf) ? -size : size;
  const bool rep = d.insn.attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE);
  const bool repne = d.insn.attributes & ZYDIS_ATTRIB_HAS_REPNE;
  // The source's segment may be overridden; the destination is always es.
  int source_seg = kDs;
  for (int i = 0; i < d.insn.operand_count; ++i) {
    const auto& o = d.ops[i];
    if (o.type != ZYDIS_OPERAND_TYPE_MEMORY) continue;
    if (o.mem.base == ZYDIS_REGISTER_ESI || o.mem.base == ZYDIS_REGISTER_SI) {
      source_seg = ZydisRegisterGetId(o.mem.segment);
    }
  }
  const uint32_t source_base = c.seg_base[source_seg];
  const uint32_t dest_base = c.seg_base[kEs];
  const uint16_t port = uint16_t(c.gpr[kEdx]);

  while (!(rep || repne) || cx.get() != 0) {
    const uint32_t src = source_base + si.get();
    const uint32_t dst = dest_base + di.get();
    // Segment checks first: a fault leaves this iteration undone.
    const bool reads_src = op == StringOp::kMovs || op == StringOp::kLods ||
                           op == StringOp::kCmps || op == StringOp::kOuts;
    const bool uses_dst = op != StringOp::kLods && op != StringOp::kOuts;
    const bool writes_dst = op == StringOp::kMovs || op == StringOp::kStos || op == StringOp::kIns;
    if (reads_src) {
      if (Fault f = CheckSegmentAccess(source_seg, si.get(), size, false)) return Raise(*f);
    }
    if (uses_dst) {
      if (Fault f = CheckSegmentAccess(kEs, di.get(), size, writes_dst)) return Raise(*f);
    }
    uint32_t a = 0, b = 0;
    switch (op) {
      case StringOp::kMovs:
        if (!ReadLinear(src, &a, size)) return StopOnMemoryFault(src, site);
        if (!WriteLinear(dst, &a, size)) return StopOnMemoryFault(dst, site);
        si.set(si.get() + step);
        di.set(di.get() + step);
        break;
      case StringOp::kStos:
        a = c.gpr[kEax];
        if (!WriteLinear(dst, &a, size)) return StopOnMemoryFault(dst, site);
        di.set(di.get() + step);
        break;
      case StringOp::kLods:
        if (!ReadLinear(src, &a, size)) return StopOnMemoryFault(src, site);
        if (size == 4) c.gpr[kEax] = a;
        if (size == 2) c.gpr[kEax] = (c.gpr[kEax] & ~0xFFFFu) | (a & 0xFFFF);
        if (size == 1) c.gpr[kEax] = (c.gpr[kEax] & ~0xFFu) | (a & 0xFF);
        si.set(si.get() + step);
        break;
      case StringOp::kScas:
        if (!ReadLinear(dst, &b, size)) return StopOnMemoryFault(dst, site);
        SetCompareFlags(c, c.gpr[kEax], b, size * 8);
        di.set(di.get() + step);
        break;
      case StringOp::kCmps:
        if (!ReadLinear(src, &a, size)) return StopOnMemoryFault(src, site);
        if (!ReadLinear(dst, &b, size)) return StopOnMemoryFault(dst, site);
        SetCompareFlags(c, a, b, size * 8);
        si.set(si.get() + step);
        di.set(di.get() + step);
        break;
      case StringOp::kIns:
        a = io_->In(port, size);
        if (!WriteLinear(dst, &a, size)) return StopOnMemoryFault(dst, site);
        di.set(di.get() + step);
        break;
      case StringOp::kOuts:
        if (!ReadLinear(src, &a, size)) return StopOnMemoryFault(src, site);
        io_->Out(port, size, a);
        si.set(si.get() + step);
        break;
    }
    if (!(rep || repne)) break;
    cx.set(cx.get() - 1);
    // Only scas and cmps look at ZF (rep = repe there).
    if (op == StringOp::kScas || op == StringOp::kCmps) {
      const bool zf = c.rflags & kZf;
      if ((rep && !zf) || (repne && zf)) break;
    }
    if (op == StringOp::kOuts && debug_exit_->requested_value()) break;
    // Under single-step each iteration traps (SDM 17.3.1.4): stop after one
    // and leave EIP at the instruction while iterations remain.
    if ((ReadEflags() & (1u << 8)) && cx.get() != 0) return Next::kContinue;
  }
  c.eip = site.eip + site.length;
  if (auto v = debug_exit_->requested_value()) {
    result_.exit_value = *v;
    return StopWith(RunResult::Kind::kExitPort, "");
  }
  return Next::kContinue;
}

Vcpu::Next Vcpu::EmulateCountedBranch(const DecodedInsn& d, const CalloutSite& site) {
  VcpuContext& c = *ctx_;
  const uint32_t amask = d.insn.address_width == 16 ? 0xFFFF : 0xFFFFFFFF;
  IndexRegister cx{&c.gpr[kEcx], amask};
  const uint32_t next = site.eip + site.length;
  uint32_t target = next + uint32_t(d.ops[0].imm.value.s);
  if (d.insn.operand_width == 16) target &= 0xFFFF;  // 0x66: IP-sized target
  const bool zf = c.rflags & kZf;
  bool taken = false;
  switch (d.insn.mnemonic) {
    case ZYDIS_MNEMONIC_JCXZ:
    case ZYDIS_MNEMONIC_JECXZ:
      taken = cx.get() == 0;
      break;
    case ZYDIS_MNEMONIC_LOOP:
      cx.set(cx.get() - 1);
      taken = cx.get() != 0;
      break;
    case ZYDIS_MNEMONIC_LOOPE:
      cx.set(cx.get() - 1);
      taken = cx.get() != 0 && zf;
      break;
    default:  // loopne
      cx.set(cx.get() - 1);
      taken = cx.get() != 0 && !zf;
      break;
  }
  c.eip = taken ? target : next;
  return Next::kContinue;
}

Vcpu::Next Vcpu::EmulateXlat(const DecodedInsn& d, const CalloutSite& site) {
  VcpuContext& c = *ctx_;
  const uint32_t amask = d.insn.address_width == 16 ? 0xFFFF : 0xFFFFFFFF;
  int seg = kDs;
  for (int i = 0; i < d.insn.operand_count; ++i) {
    if (d.ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY) seg = ZydisRegisterGetId(d.ops[i].mem.segment);
  }
  const uint32_t addr = c.seg_base[seg] + ((c.gpr[kEbx] + (c.gpr[kEax] & 0xFF)) & amask);
  uint8_t v = 0;
  if (!ReadLinear(addr, &v, 1)) return StopOnMemoryFault(addr, site);
  c.gpr[kEax] = (c.gpr[kEax] & ~0xFFu) | v;
  c.eip = site.eip + site.length;
  return Next::kContinue;
}

}  // namespace bt86
