// core/verifier_config.h: the YAML schema of user verifiers: `verifiers.plugins.<name>`,
// `verifiers.external.<name>`, `verifiers.remote.<name>`. Not here: loading plugins or running
// processes (verifiers/external/), the built-in verifiers' settings (core/run_config.h).
#pragma once

#include <map>
#include <string>

#include "core/config.h"

namespace zerorl {

// Macro arguments cannot hold a comma, so the map types get names.
using PluginOptions = std::map<std::string, std::string>;

// A C++ plugin: a shared library exporting zerorl_verifier_plugin() (include/zerorl/verifier_plugin.h).
#define ZRL_PLUGIN_FIELDS(F)                                                                              \
  F(config::StringList, data_sources, {},                                                                 \
    "Dataset data_source values routed to this verifier (besides its own name).", config::check::any())   \
  F(std::string, path, "",                                                                                \
    "Shared library (.so) to dlopen; a relative path is relative to the working directory.",              \
    config::check::any())                                                                                 \
  F(std::string, symbol, "zerorl_verifier_plugin", "Exported entry function returning the plugin table.", \
    config::check::any())                                                                                 \
  F(PluginOptions, options, {},                                                                           \
    "Given to the plugin's create() as a JSON object; values that read as JSON (numbers, true, "          \
    "[..], {..}) keep that type, others are strings.",                                                    \
    config::check::any())
ZRL_CONFIG_STRUCT(PluginSection, ZRL_PLUGIN_FIELDS);

// Persistent worker processes speaking JSON lines on stdin/stdout (docs/verifiers.md).
#define ZRL_EXTERNAL_FIELDS(F)                                                                          \
  F(config::StringList, data_sources, {},                                                               \
    "Dataset data_source values routed to this verifier (besides its own name).", config::check::any()) \
  F(config::StringList, command, {}, "argv of one worker, e.g. [python3, my_verifier.py].",             \
    config::check::any())                                                                               \
  F(int64_t, workers, 4, "Worker processes; each handles one request at a time.",                       \
    config::check::at_least(1))                                                                         \
  F(double, timeout_s, 10.0, "Deadline per request; a late worker is killed and replaced.",             \
    config::check::positive())                                                                          \
  F(int64_t, max_restarts, 100, "Worker replacements allowed over the verifier's life (all workers).",  \
    config::check::at_least(0))
ZRL_CONFIG_STRUCT(ExternalSection, ZRL_EXTERNAL_FIELDS);

// A reward service reached by HTTP POST of a JSON batch (docs/verifiers.md).
#define ZRL_REMOTE_FIELDS(F)                                                                            \
  F(config::StringList, data_sources, {},                                                               \
    "Dataset data_source values routed to this verifier (besides its own name).", config::check::any()) \
  F(std::string, url, "", "http://host:port/path receiving POSTed batches (plain http).",               \
    config::check::any())                                                                               \
  F(double, timeout_s, 30.0, "Deadline per HTTP request.", config::check::positive())                   \
  F(int64_t, max_in_flight, 4, "Concurrent HTTP requests at most.", config::check::at_least(1))         \
  F(int64_t, batch_size, 64, "Samples per POST.", config::check::at_least(1))                           \
  F(int64_t, retries, 3, "Retries of a failed request (connection error, 5xx, timeout, bad JSON).",     \
    config::check::at_least(0))                                                                         \
  F(double, backoff_s, 0.5, "First retry waits this long; each later retry twice as long.",             \
    config::check::non_negative())
ZRL_CONFIG_STRUCT(RemoteSection, ZRL_REMOTE_FIELDS);

using PluginMap = std::map<std::string, PluginSection>;
using ExternalMap = std::map<std::string, ExternalSection>;
using RemoteMap = std::map<std::string, RemoteSection>;

#define ZRL_VERIFIERS_FIELDS(F)                                                                            \
  F(PluginMap, plugins, {}, "C++ plugins by verifier name: path, symbol, options.", config::check::any())  \
  F(ExternalMap, external, {},                                                                             \
    "Worker processes by verifier name: command, workers, timeout_s, max_restarts.", config::check::any()) \
  F(RemoteMap, remote, {},                                                                                 \
    "HTTP reward services by verifier name: url, timeout_s, max_in_flight, batch_size, retries.",          \
    config::check::any())
ZRL_CONFIG_STRUCT(VerifiersSection, ZRL_VERIFIERS_FIELDS);

}  // namespace zerorl
