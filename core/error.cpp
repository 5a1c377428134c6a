// core/error.cpp: out-of-line throw so the macros stay small at every call site.
// Not here: logging of errors (apps/ prints them once at the top level).
#include "core/error.h"

#include <cstdlib>

namespace zerorl {

void throw_error(const char* file, int line, const std::string& message) {
  // ZERORL_DEBUG_ERRORS=1 appends the source location, useful when a message alone is not enough.
  const char* debug = std::getenv("ZERORL_DEBUG_ERRORS");
  if (debug != nullptr && std::string(debug) == "1") {
    throw Error(message + fmt::format(" (at {}:{})", file, line), file, line);
  }
  throw Error(message, file, line);
}

}  // namespace zerorl
