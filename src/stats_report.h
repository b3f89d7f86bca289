// --stats output: a table for people, JSON for scripts.
#pragma once

#include <string>

#include "bt86/machine.h"
#include "bt86/stats.h"

namespace bt86 {

/// The counters as aligned text lines.
std::string FormatStatsText(const Stats& stats, const RunResult& result);
/// The counters as one JSON object.
std::string FormatStatsJson(const Stats& stats, const RunResult& result);

}  // namespace bt86
