// trainer/checkpoint_saver.h: checkpoints that do not stall training: the contents are copied into host
// memory (pinned when the model lives on CUDA) while the step loop waits, then serialized, sealed, renamed
// and pruned on a background thread, at most one write in flight. Not here: folder mechanics (checkpoint.h),
// the thread (async_writer.h), what the trainer puts into state.json (step.cpp).
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "core/json_io.h"
#include "model/decoder.h"
#include "tokenizer/tokenizer.h"
#include "trainer/async_writer.h"

namespace zerorl::trainer {

// What one checkpoint holds. save() reads all of it before it returns and nothing after.
struct CheckpointContents {
  model::CausalLM model{nullptr};  // root of the folder, Hugging Face layout (the fp32 masters in bf16 runs)
  model::CausalLM reference{nullptr};  // trainer_state/reference/ when set (the KL reference model)
  // trainer_state/optimizer.pt when set; every parameter it steps must be one of model's parameters.
  torch::optim::AdamW* optimizer = nullptr;
  const tokenizer::Tokenizer* tokenizer = nullptr;  // its files at the root, when set
  std::string generation_config_from;               // a folder with generation_config.json, or ""
  Json state = Json::object();                      // trainer_state/state.json
  // ZeRO-1: a folder of every rank's optimizer shard (trainer/zero_state.h), moved into trainer_state/zero/
  // by the background write before the seal; "" when none.
  std::string zero_shards;
  std::string config_yaml;  // trainer_state/config.yaml, when non-empty
};

class CheckpointSaver {
 public:
  // Checkpoints go to <output_dir>/checkpoints/step_<N> (checkpoint.h), pruned to the newest keep_last.
  // write_delay_ms > 0 holds each background write that long after its files are written and before the seal
  // (a test hook: a kill -9 in that window must leave the previous checkpoint the newest intact one).
  CheckpointSaver(std::string output_dir, int64_t keep_last, int64_t write_delay_ms = 0);
  ~CheckpointSaver();  // waits for the write in flight (its error is logged, not thrown)

  // The blocking part: waits for the previous write (throwing its error), copies `c` into host memory and
  // starts the write of step_<step>. Returns the seconds the caller was blocked.
  double save(int64_t step, const CheckpointContents& c);
  // Allocates the host copies that save() fills for `c` (model, reference, and AdamW's moments at the shapes
  // of the parameters it steps, which exist before its first step), pinned when the model is on CUDA, as a
  // job of the writer thread: returns at once, and the next save() waits for it. Pinning is what made a first
  // save block (Qwen2.5-0.5B shapes on an H100: 6.6 s, against 0.11 s for the saves after it). Reads only
  // shapes and dtypes. A failed allocation is logged and leaves save() to allocate as it would have. The
  // pinning (cudaHostAlloc) runs while the main thread may capture the rollout's CUDA graphs; it leaves
  // them standing (tests/rollout/engine_gpu_test.cpp, CapturesHoldWhileAnotherThreadPinsHostMemory).
  void reserve(const CheckpointContents& c);
  // Waits for the write in flight, if any; throws its error.
  void finish();
  bool writing() const { return writer_.busy(); }
  // Seconds by part: "blocking_s" with "wait_previous_s", "copy_s", "tokenizer_s" of the last save(), and its
  // "allocated_bytes" (host memory the copy had to allocate: 0 once reserved or reused); after finish(),
  // also "background_s" with "model_s", "optimizer_s", "state_s", "crc_s", "fsync_s", "rename_s", "prune_s"
  // and "bytes" of the last write, or with "reserved_bytes" when the last job was a reserve().
  Json timing() const;

 private:
  struct Host;  // the host copies, kept (and reused) across saves
  std::string output_dir_;
  int64_t keep_last_, write_delay_ms_;
  std::unique_ptr<Host> host_;
  Json save_timing_ = Json::object(),
       write_timing_ = Json::object();  // write_timing_: the writer's, read after join
  AsyncWriter writer_;                  // last member: destroyed (joined) first, while host_ is still alive
};

// The write delay of the test hook, from the environment variable ZERORL_TEST_CHECKPOINT_DELAY_MS (0 when
// unset); a value that is not a non-negative integer is an error naming it.
int64_t checkpoint_delay_from_env();

}  // namespace zerorl::trainer
