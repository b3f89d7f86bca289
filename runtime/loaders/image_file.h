// Reading a guest image from the host file system, with the checks every
// loader needs (exists, regular file, fits in guest RAM) and errors that
// name the file and what it was meant to be.
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "bt86/status.h"

namespace bt86 {

/// A kUsage error (bad image or option) with a formatted message.
template <typename... Args>
Status UsageError(fmt::format_string<Args...> format, Args&&... args) {
  return Status::Error(ExitStatus::kUsage, fmt::format(format, std::forward<Args>(args)...));
}

/// Reads a whole regular file of at most `max_bytes` bytes; `what` names it
/// in errors ("multiboot kernel", "flat binary"). Errors are kUsage.
Status ReadImageFile(const std::string& what, const std::string& path, uint64_t max_bytes,
                     std::vector<uint8_t>* out);

}  // namespace bt86
