// Translation speed: guest instructions translated per second, for a
// realistic block mix. The mix is the .text of the bench workload guest
// (build/bench/workload.elf, read at run time: hashing, sorting, a sieve, a
// switch-dispatched interpreter, recursion, as gcc -O2 -m32 compiles them),
// cut into blocks by a linear sweep, and a synthetic set of typical compiler
// sequences (prologue, loop, epilogue, call, string copy, switch, x87).
//
// Benchmarks, each one pass over all blocks of a mix per iteration:
//   BM_Decode      Zydis decoding alone (the floor under everything else)
//   BM_Scan        ScanBlock: decode and classify
//   BM_Translate   Translate: scan, emit with asmjit, commit to the cache
// Counters: guest_insns/s and blocks/s (rates), insns/block, host_bytes/insn.
// max_block:1 translates only the first instruction of each block of the mix.
// The workload path can be overridden with BT86_WORKLOAD_ELF.
#include <benchmark/benchmark.h>
#include <elf.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "bench/micro/bench_support.h"

namespace bt86::bench {
namespace {

/// A block mix: guest code and where each of its blocks starts.
struct BlockMix {
  std::string origin;  ///< Shown as the benchmark label.
  std::unique_ptr<MemoryCodeReader> reader;
  std::vector<uint32_t> block_starts;
  uint64_t guest_insns = 0;  ///< In one pass over all blocks (max 64 per block).
};

/// Bytes and load address of the .text section of an ELF32 file, or false.
bool ReadElf32Text(const std::string& path, uint32_t* address, std::vector<uint8_t>* text) {
  std::ifstream in(path, std::ios::binary);
  const std::vector<uint8_t> file((std::istreambuf_iterator<char>(in)),
                                  std::istreambuf_iterator<char>());
  if (file.size() < sizeof(Elf32_Ehdr)) return false;
  Elf32_Ehdr eh;
  std::memcpy(&eh, file.data(), sizeof(eh));
  if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS32 ||
      eh.e_machine != EM_386 || eh.e_shentsize != sizeof(Elf32_Shdr) ||
      uint64_t(eh.e_shoff) + uint64_t(eh.e_shnum) * sizeof(Elf32_Shdr) > file.size() ||
      eh.e_shstrndx >= eh.e_shnum) {
    return false;
  }
  auto section = [&](size_t i) {
    Elf32_Shdr sh;
    std::memcpy(&sh, file.data() + eh.e_shoff + i * sizeof(Elf32_Shdr), sizeof(sh));
    return sh;
  };
  const Elf32_Shdr names = section(eh.e_shstrndx);
  for (size_t i = 0; i < eh.e_shnum; ++i) {
    const Elf32_Shdr sh = section(i);
    if (sh.sh_name >= names.sh_size || uint64_t(sh.sh_offset) + sh.sh_size > file.size()) continue;
    const char* name = reinterpret_cast<const char*>(file.data() + names.sh_offset + sh.sh_name);
    if (std::string(name, strnlen(name, names.sh_size - sh.sh_name)) != ".text") continue;
    *address = sh.sh_addr;
    text->assign(file.begin() + sh.sh_offset, file.begin() + sh.sh_offset + sh.sh_size);
    return !text->empty();
  }
  return false;
}

/// Typical gcc -O2 -m32 sequences, each ending its block.
std::vector<uint8_t> SyntheticCode() {
  const std::vector<std::vector<uint8_t>> sequences = {
      // push ebp; mov ebp, esp; sub esp, 0x18; push ebx; mov eax, [ebp+8];
      // mov edx, [ebp+12]; add eax, edx; mov [ebp-4], eax; test eax, eax; je
      {0x55, 0x89, 0xE5, 0x83, 0xEC, 0x18, 0x53, 0x8B, 0x45, 0x08, 0x8B,
       0x55, 0x0C, 0x01, 0xD0, 0x89, 0x45, 0xFC, 0x85, 0xC0, 0x74, 0x05},
      // mov eax, [esi+ecx*4]; add ebx, eax; inc ecx; cmp ecx, edx; jl
      {0x8B, 0x04, 0x8E, 0x01, 0xC3, 0x41, 0x39, 0xD1, 0x7C, 0xF6},
      // pop ebx; mov esp, ebp; pop ebp; ret
      {0x5B, 0x89, 0xEC, 0x5D, 0xC3},
      // push 1; push [ebp+8]; call rel32
      {0x6A, 0x01, 0xFF, 0x75, 0x08, 0xE8, 0x00, 0x01, 0x00, 0x00},
      // cld; rep movsd; mov edi, [ebp+8]; ret
      {0xFC, 0xF3, 0xA5, 0x8B, 0x7D, 0x08, 0xC3},
      // jmp [eax*4+0x2000]
      {0xFF, 0x24, 0x85, 0x00, 0x20, 0x00, 0x00},
      // fld dword [ebp+8]; fmul dword [ebp+12]; fstp dword [ebp-4]; ret
      {0xD9, 0x45, 0x08, 0xD8, 0x4D, 0x0C, 0xD9, 0x5D, 0xFC, 0xC3},
      // movzx eax, byte [esi]; inc esi; test al, al; jne
      {0x0F, 0xB6, 0x06, 0x46, 0x84, 0xC0, 0x75, 0xF8},
      // mov eax, [ebp+8]; shl eax, 4; add eax, [ebp+12]; mov edx, [eax];
      // imul edx, ecx; xor edx, eax; ret
      {0x8B, 0x45, 0x08, 0xC1, 0xE0, 0x04, 0x03, 0x45, 0x0C, 0x8B, 0x10, 0x0F, 0xAF, 0xD1, 0x31,
       0xC2, 0xC3},
  };
  std::vector<uint8_t> code;
  for (int copy = 0; copy < 16; ++copy) {
    for (const auto& s : sequences) code.insert(code.end(), s.begin(), s.end());
  }
  return code;
}

/// Cuts the reader's code into blocks by a linear sweep, as a disassembler would.
void SweepBlocks(BlockMix* mix) {
  TranslationRig rig(1 << 20);
  for (uint32_t eip = mix->reader->base(); eip < mix->reader->end();) {
    const auto insns = rig.translator->ScanBlock(eip, *mix->reader, 64);
    mix->block_starts.push_back(eip);
    mix->guest_insns += insns.size();
    const ScannedInsn& last = insns.back();
    eip = last.d.eip + std::max<uint32_t>(last.d.insn.length, 1);
  }
}

const BlockMix& WorkloadMix() {
  static const BlockMix mix = [] {
    BlockMix m;
    const char* env = std::getenv("BT86_WORKLOAD_ELF");
    const std::string path = env ? env : BT86_WORKLOAD_ELF;
    uint32_t address = 0;
    std::vector<uint8_t> text;
    if (ReadElf32Text(path, &address, &text)) {
      m.origin = "workload.elf .text, " + std::to_string(text.size()) + " B";
    } else {
      std::fprintf(stderr, "bt86_micro_bench: %s has no readable .text; using the synthetic mix\n",
                   path.c_str());
      address = 0x100000;
      text = SyntheticCode();
      m.origin = "synthetic (workload.elf missing)";
    }
    m.reader = std::make_unique<MemoryCodeReader>(address, std::move(text));
    SweepBlocks(&m);
    return m;
  }();
  return mix;
}

const BlockMix& SyntheticMix() {
  static const BlockMix mix = [] {
    BlockMix m;
    m.origin = "synthetic sequences";
    m.reader = std::make_unique<MemoryCodeReader>(0x100000, SyntheticCode());
    SweepBlocks(&m);
    return m;
  }();
  return mix;
}

const BlockMix& Mix(bool workload) {
  return workload ? WorkloadMix() : SyntheticMix();
}

/// guest_insns/s for `insns_per_pass`; with `per_block`, also blocks/s and insns/block.
void SetRateCounters(benchmark::State& state, const BlockMix& mix, uint64_t insns_per_pass,
                     bool per_block = true) {
  const double passes = double(state.iterations());
  state.counters["guest_insns/s"] =
      benchmark::Counter(passes * double(insns_per_pass), benchmark::Counter::kIsRate);
  if (per_block) {
    state.counters["blocks/s"] =
        benchmark::Counter(passes * double(mix.block_starts.size()), benchmark::Counter::kIsRate);
    state.counters["insns/block"] = double(insns_per_pass) / double(mix.block_starts.size());
  }
  state.SetLabel(mix.origin);
}

void BM_Decode(benchmark::State& state, bool workload) {
  const BlockMix& mix = Mix(workload);
  const Decoder decoder;
  uint64_t insns = 0;
  for (auto _ : state) {
    insns = 0;
    for (uint32_t eip = mix.reader->base(); eip < mix.reader->end();) {
      uint8_t buf[ZYDIS_MAX_INSTRUCTION_LENGTH] = {};
      mix.reader->ReadCode(eip, buf, sizeof(buf));
      DecodedInsn d;
      const bool ok = decoder.Decode(buf, sizeof(buf), eip, &d);
      benchmark::DoNotOptimize(d);
      eip += ok ? d.length() : 1;
      ++insns;
    }
  }
  SetRateCounters(state, mix, insns, /*per_block=*/false);
}

void BM_Scan(benchmark::State& state, bool workload) {
  const BlockMix& mix = Mix(workload);
  const uint32_t max_insns = uint32_t(state.range(0));
  TranslationRig rig(1 << 20);
  uint64_t insns = 0;
  for (auto _ : state) {
    insns = 0;
    for (uint32_t eip : mix.block_starts) {
      const auto scanned = rig.translator->ScanBlock(eip, *mix.reader, max_insns);
      insns += scanned.size();
      benchmark::DoNotOptimize(scanned.data());
    }
  }
  SetRateCounters(state, mix, insns);
}

void BM_Translate(benchmark::State& state, bool workload) {
  const BlockMix& mix = Mix(workload);
  TranslatorOptions options;
  options.max_block_insns = uint32_t(state.range(0));
  TranslationRig rig(64 << 20, options);
  uint64_t insns = 0, host_bytes = 0;
  for (auto _ : state) {
    state.PauseTiming();
    rig.cache->Flush();  // every pass translates into an empty cache
    const uint64_t insns_before = rig.stats.guest_insns_translated;
    const uint64_t bytes_before = rig.stats.host_bytes_emitted;
    state.ResumeTiming();
    for (uint32_t eip : mix.block_starts) {
      benchmark::DoNotOptimize(
          rig.translator->Translate(TranslationRig::Key(eip), *mix.reader, false));
    }
    insns = rig.stats.guest_insns_translated - insns_before;
    host_bytes = rig.stats.host_bytes_emitted - bytes_before;
  }
  SetRateCounters(state, mix, insns);
  state.counters["host_bytes/insn"] = double(host_bytes) / double(insns);
}

BENCHMARK_CAPTURE(BM_Decode, workload, true);
BENCHMARK_CAPTURE(BM_Decode, synthetic, false);
BENCHMARK_CAPTURE(BM_Scan, workload, true)->ArgName("max_block")->Arg(64);
BENCHMARK_CAPTURE(BM_Scan, synthetic, false)->ArgName("max_block")->Arg(64);
BENCHMARK_CAPTURE(BM_Translate, workload, true)->ArgName("max_block")->Arg(64)->Arg(1);
BENCHMARK_CAPTURE(BM_Translate, synthetic, false)->ArgName("max_block")->Arg(64)->Arg(1);

}  // namespace
}  // namespace bt86::bench
