// apps/cmd_rollout_worker.cpp: `zerorl rollout-worker`: builds the run's model, tokenizer and engine from the
// config, registers with the trainer's coordinator and serves it. Not here: the loop (rollout/worker.h).
#include <unistd.h>

#include <cstdio>
#include <string>

#include "apps/commands.h"
#include "core/error.h"
#include "core/log.h"
#include "dist/control_client.h"
#include "dist/control_server.h"
#include "model/device.h"
#include "rollout/worker.h"
#include "trainer/components.h"
#include "trainer/engine_setup.h"

namespace zerorl::apps {

int run_rollout_worker(const Config& cfg, const std::string& trainer_address) {
  ZRL_CHECK(
      !cfg.rollout.auth_token_file.empty(),
      "zerorl rollout-worker needs rollout.auth_token_file (the file holding the trainer's shared secret)");
  const torch::Device device = model::resolve_device(cfg.run.device);
  const tokenizer::Tokenizer tok = trainer::build_tokenizer(cfg);
  ZRL_CHECK(tok.eos_id().has_value(), "the tokenizer has no eos_token (tokenizer_config.json)");
  model::CausalLM lm = trainer::build_model(cfg, tok, device);
  rollout::Engine engine(lm, trainer::engine_options(cfg, tok, device));
  const auto bucket_bytes = static_cast<int64_t>(cfg.rollout.weight_bucket_mb * 1048576.0);
  auto weights = rollout::make_frame_weight_channel(bucket_bytes);
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  const std::string worker_id = std::string(host) + ":" + std::to_string(getpid());
  dist::ControlClient client(trainer_address, dist::load_auth_token(cfg.rollout.auth_token_file), worker_id,
                             dist::wire::max_body_for_bucket(static_cast<uint64_t>(bucket_bytes)),
                             cfg.rollout.worker_wait_s);
  std::fprintf(stderr, "zerorl rollout-worker %s: registered with %s as worker %llu\n", worker_id.c_str(),
               trainer_address.c_str(), static_cast<unsigned long long>(client.welcome().worker_index));
  rollout::StopRules stop;
  stop.eos_ids = {*tok.eos_id()};
  stop.stop = cfg.rollout.stop;
  const rollout::WorkerStats stats = rollout::run_worker(client, engine, *weights, stop);
  const bool clean =
      stats.end_reason.rfind("bye", 0) == 0 || stats.end_reason == "the trainer closed the connection";
  std::fprintf(stderr, "zerorl rollout-worker: %s after %lld groups and %lld weight updates (%s)\n",
               clean ? "done" : "error", static_cast<long long>(stats.groups),
               static_cast<long long>(stats.weight_updates), stats.end_reason.c_str());
  return clean ? 0 : 1;
}

}  // namespace zerorl::apps
