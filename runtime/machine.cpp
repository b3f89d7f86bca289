// Machine: wires guest memory, the I/O bus, devices and the vCPU together,
// and applies a loader's boot state (include/bt86/machine.h).
#include "bt86/machine.h"

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

#include "runtime/devices/debug_exit.h"
#include "runtime/devices/uart16550.h"
#include "runtime/guest_memory.h"
#include "runtime/io_bus.h"
#include "runtime/loaders/flat_binary.h"
#include "runtime/loaders/multiboot.h"
#include "runtime/vcpu.h"

namespace bt86 {

int RunResult::ProcessExitStatus() const {
  switch (kind) {
    case Kind::kExitPort:
      return int(((exit_value << 1) | 1) & 0xFF);
    case Kind::kHalted:
      return int(ExitStatus::kHalted);
    case Kind::kGuestFault:
      return int(ExitStatus::kGuestFault);
    case Kind::kUnsupported:
      return int(ExitStatus::kUnsupported);
    case Kind::kTimeout:
      return int(ExitStatus::kTimeout);
  }
  return int(ExitStatus::kInternal);
}

const char* RunResultKindName(RunResult::Kind kind) {
  switch (kind) {
    case RunResult::Kind::kExitPort:
      return "exit-port";
    case RunResult::Kind::kHalted:
      return "halted";
    case RunResult::Kind::kGuestFault:
      return "guest-fault";
    case RunResult::Kind::kUnsupported:
      return "unsupported";
    case RunResult::Kind::kTimeout:
      return "timeout";
  }
  return "?";
}

struct Machine::Impl {
  Config config;
  Stats stats;
  std::unique_ptr<GuestMemory> memory;
  IoBus io;
  std::function<void(uint8_t)> serial_sink;
  std::unique_ptr<Uart16550> com1;
  std::unique_ptr<DebugExit> debug_exit;
  std::unique_ptr<Vcpu> vcpu;

  void ApplyBootState(const BootState& boot) {
    VcpuContext& c = vcpu->ctx();
    for (int i = 0; i < 8; ++i) c.gpr[i] = boot.gpr[i];
    c.eip = boot.eip;
    vcpu->WriteEflags(boot.eflags);
  }
};

Machine::Machine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Machine::~Machine() = default;

Status Machine::Create(const Config& config, std::unique_ptr<Machine>* out) {
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  BT86_RETURN_IF_ERROR(GuestMemory::Create(config.memory_bytes, &impl->memory));
  Impl* raw = impl.get();
  impl->serial_sink = [](uint8_t byte) { std::fputc(byte, stdout); };
  impl->com1 = std::make_unique<Uart16550>([raw](uint8_t byte) {
    if (raw->config.echo_serial && raw->serial_sink) raw->serial_sink(byte);
  });
  impl->debug_exit = std::make_unique<DebugExit>();
  impl->io.Register(Uart16550::kCom1Base, Uart16550::kPortCount, impl->com1.get());
  impl->io.Register(DebugExit::kDefaultBase, DebugExit::kPortCount, impl->debug_exit.get());
  impl->vcpu = std::make_unique<Vcpu>(impl->memory.get(), &impl->io, impl->debug_exit.get(), config,
                                      &impl->stats);
  BT86_RETURN_IF_ERROR(impl->vcpu->Init());
  out->reset(new Machine(std::move(impl)));
  return Status::Ok();
}

Status Machine::LoadMultiboot(const std::string& path, const std::string& cmdline,
                              const std::vector<MultibootModuleSpec>& modules) {
  std::vector<MultibootModule> mods;
  for (const auto& m : modules) mods.push_back({m.path, m.args});
  // Like GRUB and QEMU, the command line starts with the kernel's name.
  const std::string full_cmdline = cmdline.empty() ? path : path + " " + cmdline;
  BootState boot;
  BT86_RETURN_IF_ERROR(bt86::LoadMultiboot(*impl_->memory, path, full_cmdline, mods, &boot));
  impl_->ApplyBootState(boot);
  return Status::Ok();
}

Status Machine::LoadFlat(const std::string& path, uint32_t load_addr, uint32_t entry) {
  BootState boot;
  BT86_RETURN_IF_ERROR(LoadFlatBinary(*impl_->memory, path, load_addr, entry, &boot));
  impl_->ApplyBootState(boot);
  return Status::Ok();
}

Status Machine::WriteMemory(uint32_t paddr, const void* data, size_t len) {
  if (!impl_->vcpu->WriteLinear(paddr, data, len)) {
    return Status::Error(ExitStatus::kUsage, "write outside guest RAM");
  }
  return Status::Ok();
}

Status Machine::ReadMemory(uint32_t paddr, void* data, size_t len) const {
  return impl_->memory->Read(paddr, data, len);
}

GuestRegisters Machine::registers() const {
  GuestRegisters r;
  const VcpuContext& c = impl_->vcpu->ctx();
  for (int i = 0; i < 8; ++i) r.gpr[i] = c.gpr[i];
  r.eip = c.eip;
  r.eflags = impl_->vcpu->ReadEflags();
  return r;
}

void Machine::set_registers(const GuestRegisters& regs) {
  VcpuContext& c = impl_->vcpu->ctx();
  for (int i = 0; i < 8; ++i) c.gpr[i] = regs.gpr[i];
  c.eip = regs.eip;
  impl_->vcpu->WriteEflags(regs.eflags);
}

void Machine::set_control_register(int cr, uint32_t value) {
  impl_->vcpu->SetControlRegister(cr, value);
}

void Machine::SetSerialOutput(std::function<void(uint8_t)> sink) {
  impl_->serial_sink = std::move(sink);
}

void Machine::RaiseInterrupt(uint8_t vector) {
  impl_->vcpu->RaiseInterrupt(vector);
}

std::string Machine::ExplainBlock(uint32_t eip) {
  return impl_->vcpu->ExplainBlock(eip);
}

const Stats& Machine::stats() const {
  return impl_->stats;
}

RunResult Machine::Run() {
  // The timeout runs on its own thread and stops the vCPU through the poll
  // page, so even a guest spinning in chained blocks is interrupted.
  std::mutex mutex;
  std::condition_variable done_cv;
  bool done = false;
  std::thread timer;
  if (impl_->config.timeout_seconds > 0) {
    timer = std::thread([&] {
      std::unique_lock<std::mutex> lock(mutex);
      const auto limit = std::chrono::duration<double>(impl_->config.timeout_seconds);
      if (!done_cv.wait_for(lock, limit, [&] { return done; })) impl_->vcpu->RequestStop();
    });
  }
  RunResult result = impl_->vcpu->Run();
  {
    std::lock_guard<std::mutex> lock(mutex);
    done = true;
  }
  done_cv.notify_all();
  if (timer.joinable()) timer.join();
  std::fflush(stdout);
  impl_->stats.io_unclaimed_reads = impl_->io.unclaimed_reads();
  impl_->stats.io_unclaimed_writes = impl_->io.unclaimed_writes();
  return result;
}

}  // namespace bt86
