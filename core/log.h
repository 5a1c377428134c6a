// core/log.h: rank-aware logging on spdlog. Rank 0 logs at the chosen level; other ranks warn and above,
// or every line at debug and trace.
// Not here: metrics (core/metrics.h) and the progress bar (core/progress.h).
#pragma once

#include <spdlog/spdlog.h>

#include <string>

namespace zerorl::log {

// Configures the default logger: "[zerorl r<rank>] level message" on stderr.
// level: "trace", "debug", "info", "warn", "error", "off". Safe to call more than once.
void init(int rank = 0, const std::string& level = "info");

}  // namespace zerorl::log

#define ZRL_INFO(...) ::spdlog::info(__VA_ARGS__)
#define ZRL_WARN(...) ::spdlog::warn(__VA_ARGS__)
#define ZRL_ERROR(...) ::spdlog::error(__VA_ARGS__)
#define ZRL_DEBUG(...) ::spdlog::debug(__VA_ARGS__)
