// core/error.h: zerorl's exception type and the ZRL_CHECK / ZRL_FAIL macros (file, line, message).
// Not here: per-sample failures (bad answers, crashing programs) — those are values, never exceptions.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace zerorl {

// Thrown on bugs and bad input. what() names the offending value and, where possible, a fix.
class Error : public std::runtime_error {
 public:
  Error(const std::string& message, const char* file, int line)
      : std::runtime_error(message), file_(file), line_(line) {}
  const char* file() const { return file_; }
  int line() const { return line_; }

 private:
  const char* file_;
  int line_;
};

[[noreturn]] void throw_error(const char* file, int line, const std::string& message);

}  // namespace zerorl

// ZRL_FAIL("unknown key '{}' in {}", key, path): throws zerorl::Error with a formatted message.
#define ZRL_FAIL(...) ::zerorl::throw_error(__FILE__, __LINE__, ::fmt::format(__VA_ARGS__))

// ZRL_CHECK(cond, "message {}", arg): throws zerorl::Error when cond is false.
#define ZRL_CHECK(cond, ...)                                                        \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      ::zerorl::throw_error(__FILE__, __LINE__,                                     \
                            ::fmt::format(__VA_ARGS__) + " [check failed: " #cond "]"); \
    }                                                                               \
  } while (0)
