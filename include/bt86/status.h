// Status values for host-side failures (bad image, mmap failure, bad option).
// Guest faults are never Status values: they are delivered by the run loop.
#pragma once

#include <string>
#include <utility>

namespace bt86 {

/// Process exit statuses bt86 documents (README "Exit status"). Odd values
/// are reserved for the guest's exit port: (value << 1) | 1.
enum class ExitStatus : int {
  kHalted = 0,       ///< HLT with interrupts disabled: a clean stop.
  kUsage = 2,        ///< Bad option, missing or malformed image.
  kGuestFault = 4,   ///< The guest took an exception bt86 cannot deliver.
  kUnsupported = 6,  ///< The guest ran an instruction bt86 does not support.
  kTimeout = 8,      ///< --timeout expired.
  kInternal = 10,    ///< A host resource failed (mmap, signals, code cache).
};

/// A host-side error with context, or success. Cheap to return by value.
class Status {
 public:
  Status() = default;
  static Status Ok() { return Status(); }
  static Status Error(ExitStatus code, std::string message) {
    Status s;
    s.ok_ = false;
    s.code_ = code;
    s.message_ = std::move(message);
    return s;
  }
  bool ok() const { return ok_; }
  ExitStatus code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  bool ok_ = true;
  ExitStatus code_ = ExitStatus::kHalted;
  std::string message_;
};

/// Propagates a failed Status to the caller.
#define BT86_RETURN_IF_ERROR(expr)       \
  do {                                   \
    ::bt86::Status bt86_st_ = (expr);    \
    if (!bt86_st_.ok()) return bt86_st_; \
  } while (0)

}  // namespace bt86
