// apps/cmd_rollout_worker.cpp: `zerorl rollout-worker`: builds the run's model, tokenizer and engine from the
// config, registers with the trainer's coordinator and serves it, reconnecting after a lost trainer when
// asked
// (--reconnect-s). Not here: the loop (rollout/worker.h), the frames and sockets (dist/).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include "apps/commands.h"
#include "core/error.h"
#include "core/log.h"
#include "dist/control_client.h"
#include "dist/control_server.h"
#include "dist/mpmd.h"
#include "model/device.h"
#include "rollout/worker.h"
#include "trainer/components.h"
#include "trainer/engine_setup.h"

namespace zerorl::apps {
namespace {

// Pause between connection attempts while the trainer is away (a restarted trainer needs seconds to load).
constexpr double kRetryPauseS = 0.5;

// A registered connection, trying for up to `patience_s` seconds (0 = once: the first failure throws); a
// refused connection is also retried inside ControlClient for `connect_wait_s` (an MPMD launch starts the
// workers beside the trainer, before it listens). nullptr when every attempt failed; `last_error` says why.
std::unique_ptr<dist::ControlClient> register_with(const std::string& trainer, const std::string& token,
                                                   const std::string& worker_id, const std::string& cuda_ipc,
                                                   uint32_t max_body, double patience_s,
                                                   double connect_wait_s, std::string& last_error) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(patience_s);
  while (true) {
    try {
      return std::make_unique<dist::ControlClient>(trainer, token, worker_id, max_body, connect_wait_s,
                                                   cuda_ipc);
    } catch (const Error& e) {
      if (patience_s <= 0) throw;
      last_error = e.what();
    }
    if (std::chrono::steady_clock::now() >= deadline) return nullptr;
    std::this_thread::sleep_for(std::chrono::duration<double>(kRetryPauseS));
  }
}

}  // namespace

int run_rollout_worker(const Config& cfg, const std::string& trainer_address, double reconnect_s,
                       const std::string& cuda_ipc) {
  // Beside data-parallel ranks in one MPMD mpirun: in MPI until a clean end (dist/mpmd.h).
  dist::MpmdMembership mpi(dist::discover(nullptr, /*mpmd_apps=*/true));
  ZRL_CHECK(
      !cfg.rollout.auth_token_file.empty(),
      "zerorl rollout-worker needs rollout.auth_token_file (the file holding the trainer's shared secret)");
  ZRL_CHECK(reconnect_s >= 0, "--reconnect-s: {} is negative (0 = exit when the trainer is lost)",
            reconnect_s);
  const torch::Device device = model::resolve_device(cfg.run.device);
  const std::string ipc_host = cuda_ipc == "off" ? "" : rollout::cuda_ipc_host(device);
  ZRL_CHECK(cuda_ipc != "on" || !ipc_host.empty(),
            "--cuda-ipc needs this worker's model on a CUDA device (run.device or --device is {}) and a "
            "CUDA build",
            device.str());
  const tokenizer::Tokenizer tok = trainer::build_tokenizer(cfg);
  ZRL_CHECK(tok.eos_id().has_value(), "the tokenizer has no eos_token (tokenizer_config.json)");
  model::CausalLM lm = trainer::build_model(cfg, tok, device);
  rollout::Engine engine(lm, trainer::engine_options(cfg, tok, device));
  const auto bucket_bytes = static_cast<int64_t>(cfg.rollout.weight_bucket_mb * 1048576.0);
  const uint32_t max_body = dist::wire::max_body_for_bucket(static_cast<uint64_t>(bucket_bytes));
  const std::string token = dist::load_auth_token(cfg.rollout.auth_token_file);
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  const std::string worker_id = std::string(host) + ":" + std::to_string(getpid());
  rollout::StopRules stop;
  stop.eos_ids = {*tok.eos_id()};
  stop.stop = cfg.rollout.stop;
  int64_t groups = 0, updates = 0, calls = 0;
  for (int connection = 0;; ++connection) {
    std::string error;
    auto client = register_with(trainer_address, token, worker_id, ipc_host, max_body,
                                connection == 0 ? 0 : reconnect_s,
                                connection == 0 ? cfg.rollout.worker_wait_s : 0, error);
    if (!client) {
      std::fprintf(stderr, "zerorl rollout-worker: error: no trainer at %s within --reconnect-s %g s (%s)\n",
                   trainer_address.c_str(), reconnect_s, error.c_str());
      return 1;
    }
    std::fprintf(stderr, "zerorl rollout-worker %s: registered with %s as worker %llu\n", worker_id.c_str(),
                 trainer_address.c_str(), static_cast<unsigned long long>(client->welcome().worker_index));
    // A fresh channel per connection: a restarted trainer sends its current version first, whatever this
    // worker applied before.
    auto weights = rollout::make_frame_weight_channel(bucket_bytes);
    const rollout::WorkerStats stats = rollout::run_worker(*client, engine, *weights, stop);
    client.reset();
    groups += stats.groups, updates += stats.weight_updates, calls += stats.engine_calls;
    if (stats.end == rollout::WorkerEnd::kLost && reconnect_s > 0) {
      std::fprintf(stderr,
                   "zerorl rollout-worker: lost the trainer (%s); reconnecting to %s for up to %g s "
                   "(--reconnect-s)\n",
                   stats.end_reason.c_str(), trainer_address.c_str(), reconnect_s);
      continue;
    }
    const bool clean = stats.end == rollout::WorkerEnd::kBye;
    const char* hint =
        stats.end == rollout::WorkerEnd::kLost
            ? "; lost the trainer: it died or the network failed (pass --reconnect-s N to wait "
              "for a restarted trainer)"
            : "";
    std::fprintf(stderr,
                 "zerorl rollout-worker: %s after %lld groups in %lld engine calls and %lld weight updates "
                 "(%s)%s\n",
                 clean ? "done" : "error", static_cast<long long>(groups), static_cast<long long>(calls),
                 static_cast<long long>(updates), stats.end_reason.c_str(), hint);
    if (clean) mpi.leave();
    return clean ? 0 : 1;
  }
}

}  // namespace zerorl::apps
