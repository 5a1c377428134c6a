// core/log.cpp: the default spdlog logger, writing to stderr so stdout stays clean for JSON output.
// Not here: file sinks for runs (the trainer adds its own).
#include "core/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

#include "core/error.h"

namespace zerorl::log {

void init(int rank, const std::string& level) {
  auto logger =
      spdlog::stderr_color_mt(fmt::format("zerorl_r{}_{}", rank, reinterpret_cast<uintptr_t>(&rank)));
  logger->set_pattern(fmt::format("[zerorl r{}] %^%l%$ %v", rank));
  spdlog::level::level_enum parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off") {
    ZRL_FAIL("unknown log level '{}': use trace, debug, info, warn, error or off", level);
  }
  // Other ranks: warnings and errors, unless debug (or trace) asks for every rank's lines.
  const bool all_ranks = parsed <= spdlog::level::debug;
  logger->set_level(rank == 0 || all_ranks ? parsed : std::max(parsed, spdlog::level::warn));
  spdlog::set_default_logger(logger);
}

}  // namespace zerorl::log
