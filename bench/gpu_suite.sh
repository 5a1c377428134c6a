#!/usr/bin/env bash
# bench/gpu_suite.sh: the performance issue's (#18) measurements in one run on one CUDA machine, beside the
# baselines, so the README's target table can be checked (and refreshed) with one command:
#   rollout 0.5B at 256 rows and 1.5B at 128 (new tok/s, decode step, engine vs teacher-forced log-probs);
#   the cost of rollout.batch_invariant at 64 and 128 rows; the update at 0.5B and 1.5B (tok/s, MFU) beside
#   bench/baselines/hf_baseline.py train; the GRPO step beside bench/baselines/hf_grpo_step.py, and with
#   spread lengths padded and packed (algo.pack_sequences); HF generate()
#   at the rollouts' rows (hf_baseline.py gen); the
#   checkpoint save (0.5B, 1.5B); the CUDA kernel tests.
# Each part writes its JSON into OUT_DIR and prints one summary line; a part that fails says so and the rest
# still run. On an H100: 400 s after the build without HF generate() (2026-12-07); with it, more than the
# 540 s a device call had left (2026-12-07, later): under a time limit, set ZERORL_GPU_SUITE_GENERATE=0 and
# run bench/baselines/hf_baseline.py gen on its own.
# Usage: bench/gpu_suite.sh [OUT_DIR]   (default /tmp/zerorl_gpu_suite)
#   ZERORL_GPU_SUITE_BUILD=0 skips scripts/gpu_build.sh (build-gpu/ already has the targets);
#   ZERORL_GPU_SUITE_BASELINES=0 skips the PyTorch baselines (they need transformers);
#   ZERORL_GPU_SUITE_GENERATE=0 skips HF generate() beside the rollouts (the slowest baseline);
#   ZERORL_GPU_SUITE_BUILD_DIR picks another build folder than build-gpu.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
out=${1:-/tmp/zerorl_gpu_suite}
mkdir -p "$out"
B=${ZERORL_GPU_SUITE_BUILD_DIR:-build-gpu}
start=$(date +%s)
elapsed() { echo $(($(date +%s) - start)); }

if [ "${ZERORL_GPU_SUITE_BUILD:-1}" != 0 ]; then
  scripts/gpu_build.sh rollout_bench bench_train_step bench_grpo_step bench_checkpoint test_kernels \
    >"$out/build.log" 2>&1 || { echo "build failed: $out/build.log"; exit 1; }
  echo "build done in $(elapsed) s"
fi
lib=${ZERORL_SYSROOT:-/tmp/zerorl-sysroot}/usr/lib/x86_64-linux-gnu
[ -d "$lib" ] && export LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# summary FILE EXPR: one line from a bench's JSON (python3 is on every machine this runs on).
summary() {
  python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1" 2>/dev/null ||
    echo "no result: see ${1%.json}.err"
}
rollout() {  # size rows batch_invariant
  local f="$out/rollout_$1_$2_bi$3.json"
  "$B"/bench/rollout/rollout_bench --model-size "$1" --batch "$2" --batch-invariant "$3" --compare-eager 0 \
    --profile-new 0 >"$f" 2>"${f%.json}.err"
  echo "rollout $1 x $2, batch_invariant $3: $(summary "$f" "round(d['gen_tok_per_s']), 'new tok/s, decode step', \
round(d['phases']['decode_ms_per_step'], 3), 'ms, log-prob max diff', d['logprob_consistency']['max_abs_diff']")"
}
rollout 0.5b 256 1
rollout 1.5b 128 1
for rows in 64 128; do
  rollout 0.5b "$rows" 1
  rollout 0.5b "$rows" 0
done
rollout 1.5b 64 1
rollout 1.5b 64 0

# 16 x 1024 tokens in micro-batches of 16 (the whole batch in one forward and backward, as the eager
# baseline runs it) and of 8 (half the activation memory; 1.5B at 16 needs about 70 GB).
for run in "0.5b 16" "0.5b 8" "1.5b 16" "1.5b 8"; do
  read -r size micro <<<"$run"
  f="$out/train_${size}_micro$micro.json"
  "$B"/bench/train_step/bench_train_step --model-size "$size" --micro-batch "$micro" >"$f" 2>"${f%.json}.err"
  echo "update $size, micro-batch $micro: $(summary "$f" "round(d['train_tok_per_s']), 'tok/s, MFU', round(100 * d['mfu_6N'], 1), '%'")"
done
f="$out/grpo.json"
"$B"/bench/grpo_step/bench_grpo_step >"$f" 2>"${f%.json}.err"
echo "GRPO step: $(summary "$f" "{k: round(v, 3) for k, v in d['seconds'].items() if k in ('rollout', 'update', 'total')}")"
for pack in false true; do  # prompts of 32-256 tokens, answers cut to 32-512 as EOS would end them
  f="$out/grpo_spread_pack_$pack.json"
  "$B"/bench/grpo_step/bench_grpo_step --prompt-len-min 32 --new-min 32 --pack-sequences "$pack" >"$f" \
    2>"${f%.json}.err"
  echo "GRPO step, spread lengths, pack_sequences $pack: $(summary "$f" "{k: round(v, 3) for k, v in \
d['seconds'].items() if k in ('old_logprobs', 'update', 'total', 'update_tokens_padded')}, 'old log-probs', \
d['old_logprobs_resolved']")"
done
for size in 0.5b 1.5b; do
  f="$out/checkpoint_$size.json"
  "$B"/bench/checkpoint/bench_checkpoint --model-size "$size" --device cuda --out "$out/checkpoint_$size" \
    >"$f" 2>"${f%.json}.err"
  echo "checkpoint $size: $(summary "$f" "'first save blocks', round(d['first_blocking_s'], 3), 's (host copies reserved in', round(d['reserve']['reserve_s'], 1), 's before it), later saves', round(d['blocking_s'], 3), 's, writes', round(d['background_s'], 1), 's behind'")"
  rm -rf "$out/checkpoint_$size"
done

# The kernel tests before the baselines, whose HF generate() may outlast a time-limited call.
"$B"/tests/kernels/test_kernels --gtest_filter='*Gpu*' >"$out/test_kernels.log" 2>&1
echo "kernel tests: $(grep -E '^\[  (PASSED|FAILED)' "$out/test_kernels.log" | head -3 | tr '\n' ' ')"

if [ "${ZERORL_GPU_SUITE_BASELINES:-1}" != 0 ]; then
  python3 bench/baselines/hf_baseline.py train --out "$out" >"$out/hf_train.log" 2>&1 ||
    echo "hf_baseline.py train ended with an error: $out/hf_train.log (on an 80 GB card the 1.5B run without checkpointing runs out of memory)"
  grep '^TRAIN' "$out/hf_train.log"
  python3 bench/baselines/hf_grpo_step.py --out "$out" >"$out/hf_grpo.log" 2>&1 ||
    echo "hf_grpo_step.py failed: $out/hf_grpo.log"
  grep '^GRPO' "$out/hf_grpo.log"
  if [ "${ZERORL_GPU_SUITE_GENERATE:-1}" != 0 ]; then  # HF generate() at the rollout rows: minutes
    mkdir -p "$out/hf_gen"
    python3 bench/baselines/hf_baseline.py gen --out "$out/hf_gen" >"$out/hf_gen.log" 2>&1 ||
      echo "hf_baseline.py gen failed: $out/hf_gen.log"
    grep '^GEN' "$out/hf_gen.log"
  fi
fi

echo "done in $(elapsed) s; JSON and logs in $out"
