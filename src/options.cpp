// Option value parsing (options.h).
#include "src/options.h"

#include <fmt/core.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>

namespace bt86 {

Status ParseSize(const std::string& text, const char* option, uint64_t* out) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long value = std::strtoull(text.c_str(), &end, 10);
  uint64_t unit = 1;
  std::string suffix = end ? end : "";
  if (suffix == "K" || suffix == "k")
    unit = 1ull << 10;
  else if (suffix == "M" || suffix == "m")
    unit = 1ull << 20;
  else if (suffix == "G" || suffix == "g")
    unit = 1ull << 30;
  else if (!suffix.empty())
    unit = 0;
  if (text.empty() || !std::isdigit(static_cast<unsigned char>(text[0])) || errno || unit == 0 ||
      value == 0 || value > (1ull << 40) / unit || (value * unit) % 4096 != 0) {
    return Status::Error(ExitStatus::kUsage,
                         fmt::format("{}: '{}' is not a size (a positive multiple of 4K, "
                                     "e.g. 128M)",
                                     option, text));
  }
  *out = value * unit;
  return Status::Ok();
}

Status ParseAddress(const std::string& text, const char* option, uint32_t* out) {
  char* end = nullptr;
  errno = 0;
  // Hex only with 0x: a leading zero is not octal.
  const bool hex = text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X');
  const unsigned long long value = std::strtoull(text.c_str(), &end, hex ? 16 : 10);
  if (text.empty() || !std::isdigit(static_cast<unsigned char>(text[0])) || errno || *end ||
      value > 0xFFFFFFFFull) {
    return Status::Error(ExitStatus::kUsage,
                         fmt::format("{}: '{}' is not a 32-bit address", option, text));
  }
  *out = uint32_t(value);
  return Status::Ok();
}

Status ParseHexBytes(const std::string& text, std::vector<uint8_t>* out) {
  std::string digits;
  for (char c : text) {
    if (std::isspace(static_cast<unsigned char>(c))) continue;
    if (!std::isxdigit(static_cast<unsigned char>(c))) {
      return Status::Error(ExitStatus::kUsage, fmt::format("--bytes: '{}' is not hex", c));
    }
    digits += c;
  }
  if (digits.empty() || digits.size() % 2) {
    return Status::Error(ExitStatus::kUsage, "--bytes: need an even number of hex digits");
  }
  out->clear();
  for (size_t i = 0; i < digits.size(); i += 2) {
    out->push_back(uint8_t(std::strtoul(digits.substr(i, 2).c_str(), nullptr, 16)));
  }
  return Status::Ok();
}

}  // namespace bt86
