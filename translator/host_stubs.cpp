// Host stubs (host_stubs.h). The register convention is the one in
// callout_abi.h. Enter saves the run loop's callee-saved registers on its
// stack, records rsp in the context and loads the guest; save_state undoes
// it. Neither touches the guest flags between popfq/pushfq and the guest code.
#include "translator/host_stubs.h"

#include <asmjit/x86.h>
#include <fmt/core.h>

#include <cstddef>

namespace bt86 {
namespace {

using namespace asmjit;

x86::Mem Ctx(size_t offset, uint32_t size) {
  return x86::ptr(x86::r15, int32_t(offset), size);
}
x86::Mem CtxGpr(int gpr) {
  return Ctx(offsetof(VcpuContext, gpr) + 4 * gpr, 4);
}

constexpr int kGuestGprs[] = {kEax, kEcx, kEdx, kEbx, kEbp, kEsi, kEdi};

}  // namespace

Status EmitHostStubs(CodeCache* cache, HostStubs* out) {
  CodeHolder code;
  code.init(Environment::host(), uint64_t(uintptr_t(cache->stubs())));
  x86::Assembler a(&code);
  a.addDiagnosticOptions(DiagnosticOptions::kValidateAssembler);
  Label enter = a.newLabel(), save = a.newLabel(), exit_branch = a.newLabel(),
        exit_indirect = a.newLabel(), exit_callout = a.newLabel();

  // enter(rdi = ctx, rsi = entry)
  a.bind(enter);
  a.push(x86::rbx);
  a.push(x86::rbp);
  a.push(x86::r12);
  a.push(x86::r13);
  a.push(x86::r14);
  a.push(x86::r15);
  a.mov(x86::r15, x86::rdi);
  a.mov(Ctx(offsetof(VcpuContext, host_rsp), 8), x86::rsp);
  // The SysV ABI makes every vector register caller-saved and wants the x87
  // stack empty at calls: of the run loop's FP state only the MXCSR and x87
  // control words must survive (they are callee-saved).
  a.stmxcsr(Ctx(offsetof(VcpuContext, host_mxcsr), 4));
  a.fnstcw(Ctx(offsetof(VcpuContext, host_fcw), 2));
  a.fxrstor64(Ctx(offsetof(VcpuContext, guest_fx), 512));
  a.mov(x86::r14, Ctx(offsetof(VcpuContext, window_base), 8));
  a.mov(x86::r11, x86::rsi);
  a.push(Ctx(offsetof(VcpuContext, rflags), 8));
  a.popfq();
  for (int g : kGuestGprs) a.mov(x86::gpd(g), CtxGpr(g));
  a.mov(x86::esp, CtxGpr(kEsp));
  a.jmp(x86::r11);

  // Exits: record why, then fall into save_state.
  a.align(AlignMode::kCode, 16);
  a.bind(exit_branch);
  a.mov(Ctx(offsetof(VcpuContext, exit_block), 8), x86::r8);
  a.mov(Ctx(offsetof(VcpuContext, exit_reason), 4), uint32_t(ExitReason::kBranch));
  a.jmp(save);
  a.align(AlignMode::kCode, 16);
  a.bind(exit_indirect);
  a.mov(Ctx(offsetof(VcpuContext, eip), 4), x86::r10d);
  a.mov(Ctx(offsetof(VcpuContext, exit_reason), 4), uint32_t(ExitReason::kIndirect));
  a.jmp(save);
  a.align(AlignMode::kCode, 16);
  a.bind(exit_callout);
  a.mov(Ctx(offsetof(VcpuContext, exit_block), 8), x86::r8);
  a.mov(Ctx(offsetof(VcpuContext, exit_reason), 4), uint32_t(ExitReason::kCallout));

  // save_state: guest registers and flags to the context, back to the run loop.
  a.bind(save);
  a.mov(CtxGpr(kEsp), x86::esp);
  a.mov(x86::rsp, Ctx(offsetof(VcpuContext, host_rsp), 8));
  a.pushfq();
  a.pop(Ctx(offsetof(VcpuContext, rflags), 8));
  // The run loop gets clean flags: DF=0 as the C++ ABI requires, and AC=0
  // (the guest's alignment checking must not reach C++ code).
  a.push(0x202);
  a.popfq();
  for (int g : kGuestGprs) a.mov(CtxGpr(g), x86::gpd(g));
  a.fxsave64(Ctx(offsetof(VcpuContext, guest_fx), 512));
  a.fninit();  // empty x87 stack, as the ABI requires at the return
  a.ldmxcsr(Ctx(offsetof(VcpuContext, host_mxcsr), 4));
  a.fldcw(Ctx(offsetof(VcpuContext, host_fcw), 2));
  a.pop(x86::r15);
  a.pop(x86::r14);
  a.pop(x86::r13);
  a.pop(x86::r12);
  a.pop(x86::rbp);
  a.pop(x86::rbx);
  a.ret();

  Error err = code.flatten();
  if (!err) err = code.resolveUnresolvedLinks();
  if (!err) err = code.relocateToBase(uint64_t(uintptr_t(cache->stubs())));
  if (err) {
    return Status::Error(ExitStatus::kInternal,
                         fmt::format("emitting host stubs: {}", DebugUtils::errorAsString(err)));
  }
  CodeBuffer& buf = code.textSection()->buffer();
  if (buf.size() > CodeCache::kStubBytes) {
    return Status::Error(ExitStatus::kInternal, "host stubs exceed their reserved space");
  }
  cache->WriteStubs(buf.data(), buf.size());
  const uint8_t* base = cache->stubs();
  out->enter = reinterpret_cast<EnterGuestFn>(const_cast<uint8_t*>(base + code.labelOffset(enter)));
  out->exit_branch = base + code.labelOffset(exit_branch);
  out->exit_indirect = base + code.labelOffset(exit_indirect);
  out->exit_callout = base + code.labelOffset(exit_callout);
  out->save_state = base + code.labelOffset(save);
  return Status::Ok();
}

}  // namespace bt86
