// Parsing of option values: sizes ("128M"), addresses ("0x100000") and hex
// byte strings ("55 89e5"). Errors name the option.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bt86/status.h"

namespace bt86 {

/// "4096", "64K", "128M", "1G" (binary units). Must be a positive multiple of 4 KiB.
Status ParseSize(const std::string& text, const char* option, uint64_t* out);
/// Decimal or 0x-prefixed hex, at most 0xffffffff.
Status ParseAddress(const std::string& text, const char* option, uint32_t* out);
/// Hex digit pairs, spaces allowed: "55 89 e5" or "5589e5".
Status ParseHexBytes(const std::string& text, std::vector<uint8_t>* out);

}  // namespace bt86
