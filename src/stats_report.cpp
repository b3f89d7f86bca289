// --stats output (stats_report.h).
#include "src/stats_report.h"

#include <fmt/core.h>

#include <nlohmann/json.hpp>

namespace bt86 {
namespace {

nlohmann::ordered_json ToJson(const Stats& s, const RunResult& r) {
  nlohmann::ordered_json j;
  j["result"] = RunResultKindName(r.kind);
  j["exit_status"] = r.ProcessExitStatus();
  j["translation"] = {
      {"blocks", s.blocks_translated},      {"guest_instructions", s.guest_insns_translated},
      {"host_bytes", s.host_bytes_emitted}, {"nanoseconds", s.translate_nanoseconds},
      {"chains_patched", s.chains_patched}, {"blocks_invalidated", s.blocks_invalidated},
      {"cache_flushes", s.cache_flushes}};
  j["lookups"] = {{"hits", s.lookup_hits},
                  {"misses", s.lookup_misses},
                  {"inline_fills", s.inline_lookup_fills}};
  j["exits"] = {{"branch", s.exits_branch},
                {"indirect", s.exits_indirect},
                {"callout", s.exits_callout},
                {"signal", s.exits_signal}};
  j["events"] = {{"smc_writes", s.smc_writes},
                 {"poll_stops", s.poll_stops},
                 {"exceptions_delivered", s.exceptions_delivered},
                 {"adaptive_retranslations", s.adaptive_retranslations}};
  nlohmann::ordered_json callouts = nlohmann::ordered_json::object();
  for (const auto& [name, count] : s.callouts) {
    if (count) callouts[name] = count;
  }
  j["callouts"] = callouts;
  j["io"] = {{"unclaimed_reads", s.io_unclaimed_reads},
             {"unclaimed_writes", s.io_unclaimed_writes}};
  return j;
}

}  // namespace

std::string FormatStatsText(const Stats& s, const RunResult& r) {
  std::string out = "bt86 stats\n";
  auto line = [&](const char* name, uint64_t v) {
    out += fmt::format("  {:<28}{:>14}\n", name, v);
  };
  out += fmt::format("  {:<28}{:>14}\n", "result", RunResultKindName(r.kind));
  line("blocks translated", s.blocks_translated);
  line("guest insns translated", s.guest_insns_translated);
  line("host bytes emitted", s.host_bytes_emitted);
  const double secs = s.translate_nanoseconds / 1e9;
  out += fmt::format("  {:<28}{:>14.0f}\n", "translated insns/second",
                     secs > 0 ? s.guest_insns_translated / secs : 0.0);
  line("chains patched", s.chains_patched);
  line("blocks invalidated", s.blocks_invalidated);
  line("cache flushes", s.cache_flushes);
  line("lookup hits", s.lookup_hits);
  line("lookup misses", s.lookup_misses);
  line("inline lookup fills", s.inline_lookup_fills);
  line("exits: branch", s.exits_branch);
  line("exits: indirect miss", s.exits_indirect);
  line("exits: callout", s.exits_callout);
  line("exits: signal", s.exits_signal);
  line("self-modifying writes", s.smc_writes);
  line("poll stops", s.poll_stops);
  line("exceptions delivered", s.exceptions_delivered);
  line("adaptive retranslations", s.adaptive_retranslations);
  for (const auto& [name, count] : s.callouts) {
    if (count) line(fmt::format("callout: {}", name).c_str(), count);
  }
  line("io: unclaimed reads", s.io_unclaimed_reads);
  line("io: unclaimed writes", s.io_unclaimed_writes);
  return out;
}

std::string FormatStatsJson(const Stats& s, const RunResult& r) {
  return ToJson(s, r).dump(2) + "\n";
}

}  // namespace bt86
