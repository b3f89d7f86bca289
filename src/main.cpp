// bt86 command line: parse options, build a Machine, run or explain, report.
// Exit statuses are documented in README.md ("Exit status").
#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bt86/machine.h"
#include "src/options.h"
#include "src/stats_report.h"

namespace {

using bt86::ExitStatus;

int Fail(const bt86::Status& st) {
  std::fprintf(stderr, "bt86: %s\n", st.message().c_str());
  return int(st.code());
}

struct Common {
  std::string memory = "128M";
  uint32_t max_block = 64;
  bool no_chain = false;
  bool no_inline_lookup = false;
  bool no_fast_paths = false;
  std::string code_cache = "32M";
};

void AddCommonOptions(CLI::App* cmd, Common* c) {
  cmd->add_option("--memory", c->memory, "Guest RAM size (e.g. 128M, 1G)")->capture_default_str();
  cmd->add_option("--max-block-len", c->max_block, "Longest block, in guest instructions (>= 1)")
      ->check(CLI::Range(1u, 4096u))
      ->capture_default_str();
  cmd->add_flag("--no-chain", c->no_chain, "Do not chain direct branches between blocks");
  cmd->add_flag("--no-inline-lookup", c->no_inline_lookup,
                "Indirect branches always exit to the run loop");
  cmd->add_flag("--no-fast-paths", c->no_fast_paths,
                "PUSHF/POPF always exit to the emulator (no inline ring-0 sequences)");
  cmd->add_option("--code-cache", c->code_cache, "Translation cache size (flushed when full)")
      ->capture_default_str();
}

bt86::Status BuildConfig(const Common& c, bt86::Config* config) {
  BT86_RETURN_IF_ERROR(bt86::ParseSize(c.memory, "--memory", &config->memory_bytes));
  BT86_RETURN_IF_ERROR(bt86::ParseSize(c.code_cache, "--code-cache", &config->code_cache_bytes));
  config->max_block_instructions = c.max_block;
  config->chaining = !c.no_chain;
  config->inline_lookup = !c.no_inline_lookup;
  config->fast_paths = !c.no_fast_paths;
  return bt86::Status::Ok();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bt86: a binary-translation virtual machine monitor for 32-bit x86 guests"};
  app.require_subcommand(1);

  Common run_common;
  std::string image, stats_mode, load_addr_text, entry_text, cmdline;
  std::vector<std::string> modules;
  double timeout = 0;
  CLI::App* run = app.add_subcommand("run", "Run a Multiboot kernel or a flat binary");
  run->add_option("image", image, "Multiboot v1 ELF32 kernel, or a flat binary with --load-addr")
      ->required();
  AddCommonOptions(run, &run_common);
  run->add_option("--module", modules, "Multiboot module FILE[,ARGS] (repeatable)");
  run->add_option("--cmdline", cmdline, "Multiboot command line");
  run->add_option("--load-addr", load_addr_text, "Load IMAGE as a flat binary at this address");
  run->add_option("--entry", entry_text, "Entry point of a flat binary (default: --load-addr)");
  run->add_option("--timeout", timeout, "Stop after SECONDS (exit status 8)")
      ->check(CLI::NonNegativeNumber);
  auto* stats_opt = run->add_flag("--stats{text}", stats_mode,
                                  "Print counters to stderr after the run (--stats=json for JSON)");
  stats_opt->expected(0, 1);

  Common explain_common;
  std::string explain_image, address_text, bytes_text;
  CLI::App* explain = app.add_subcommand(
      "explain", "List a translated block: each guest instruction beside its host code");
  explain->add_option("image", explain_image, "Multiboot kernel (omit with --bytes)");
  explain->add_option("address", address_text, "Guest address of the block");
  explain->add_option("--bytes", bytes_text, "Translate these hex bytes instead of an image");
  AddCommonOptions(explain, &explain_common);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : int(ExitStatus::kUsage);
  }

  if (*run) {
    bt86::Config config;
    bt86::Status st = BuildConfig(run_common, &config);
    if (!st.ok()) return Fail(st);
    config.timeout_seconds = timeout;
    std::unique_ptr<bt86::Machine> machine;
    st = bt86::Machine::Create(config, &machine);
    if (!st.ok()) return Fail(st);
    if (!load_addr_text.empty()) {
      uint32_t load_addr = 0, entry = 0;
      st = bt86::ParseAddress(load_addr_text, "--load-addr", &load_addr);
      if (st.ok()) {
        entry = load_addr;
        if (!entry_text.empty()) st = bt86::ParseAddress(entry_text, "--entry", &entry);
      }
      if (st.ok()) st = machine->LoadFlat(image, load_addr, entry);
    } else {
      std::vector<bt86::MultibootModuleSpec> specs;
      for (const auto& m : modules) {
        const auto comma = m.find(',');
        specs.push_back(
            {m.substr(0, comma), comma == std::string::npos ? std::string() : m.substr(comma + 1)});
      }
      st = machine->LoadMultiboot(image, cmdline, specs);
    }
    if (!st.ok()) return Fail(st);
    const bt86::RunResult result = machine->Run();
    if (!result.report.empty()) std::fprintf(stderr, "bt86: %s\n", result.report.c_str());
    if (stats_opt->count() > 0) {
      const std::string text = stats_mode == "json"
                                   ? bt86::FormatStatsJson(machine->stats(), result)
                                   : bt86::FormatStatsText(machine->stats(), result);
      std::fputs(text.c_str(), stderr);
    }
    return result.ProcessExitStatus();
  }

  // explain
  bt86::Config config;
  bt86::Status st = BuildConfig(explain_common, &config);
  if (!st.ok()) return Fail(st);
  std::unique_ptr<bt86::Machine> machine;
  st = bt86::Machine::Create(config, &machine);
  if (!st.ok()) return Fail(st);
  uint32_t address = 0x100000;
  if (!bytes_text.empty()) {
    // `explain --bytes HEX [ADDRESS]`: the first positional is the address.
    const std::string& where = !explain_image.empty() ? explain_image : address_text;
    if (!where.empty()) st = bt86::ParseAddress(where, "address", &address);
    std::vector<uint8_t> bytes;
    if (st.ok()) st = bt86::ParseHexBytes(bytes_text, &bytes);
    if (st.ok()) st = machine->WriteMemory(address, bytes.data(), bytes.size());
  } else {
    if (explain_image.empty() || address_text.empty()) {
      return Fail(
          bt86::Status::Error(ExitStatus::kUsage, "explain needs IMAGE ADDRESS or --bytes HEX"));
    }
    st = bt86::ParseAddress(address_text, "address", &address);
    if (st.ok()) st = machine->LoadMultiboot(explain_image, "", {});
  }
  if (!st.ok()) return Fail(st);
  std::fputs(machine->ExplainBlock(address).c_str(), stdout);
  return 0;
}
