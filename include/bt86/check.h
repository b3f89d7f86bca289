// Invariant checks that stay on in every build: a broken translator or
// runtime invariant is a bug, and continuing would run wrong guest code.
#pragma once

#include <cstdio>
#include <cstdlib>

/// Aborts with file, line, the failed condition and a printf-style context
/// (for the translator: the block key and guest EIP) if `cond` is false.
#define BT86_CHECK(cond, ...)                                                              \
  do {                                                                                     \
    if (!(cond)) [[unlikely]] {                                                            \
      std::fprintf(stderr, "bt86: internal error at %s:%d: check '%s' failed: ", __FILE__, \
                   __LINE__, #cond);                                                       \
      std::fprintf(stderr, __VA_ARGS__);                                                   \
      std::fputc('\n', stderr);                                                            \
      std::abort();                                                                        \
    }                                                                                      \
  } while (0)
