#!/usr/bin/env bash
# bench/rollout_workers/one_step_off.sh: what rollout.mode=workers costs or gains against colocated on one
# machine, where the trainer and one rollout worker share the device (one GPU, or the CPU's cores). Three runs
# of the same config and seed: colocated; workers with max_staleness 0 (synchronous: the same numbers as
# colocated, plus the weight sync); workers with max_staleness 1 and tis (one-step-off: step s+1's groups are
# generated while step s updates). Prints one JSON object: each run's median step seconds (steps 2..N, so
# the first step's warm-up is left out), its median phases, the workers' metrics, and the ratios to colocated.
# Runs' logs and metrics stay under OUT_DIR. Processes are this script's children; it ends them on exit.
#
# Usage: bench/rollout_workers/one_step_off.sh ZERORL CONFIG OUT_DIR [key=value ...]
#   e.g. (CPU) bench/rollout_workers/one_step_off.sh build/zerorl configs/tiny_test.yaml /tmp/oso trainer.steps=6
#   the GPU command, with a random-weight Qwen2.5-0.5B folder, is in bench/rollout_workers/README.md.
set -euo pipefail
[ $# -ge 3 ] || { sed -n 2,13p "$0" >&2; exit 2; }
zerorl=$1 config=$2 out=$3
shift 3
sets=()
for kv in "$@"; do sets+=(--set "$kv"); done
mkdir -p "$out"
children=()
cleanup() { for p in "${children[@]}"; do kill -9 "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

address_of() {  # address_of LOG PID: the coordinator's host:port from the trainer's log (127.0.0.1:0)
  local log=$1 pid=$2 line
  for _ in $(seq 1200); do
    line=$(grep -o 'rollout coordinator: listening on [^ ]*' "$log" 2>/dev/null | head -1 || true)
    [ -n "$line" ] && { echo "${line##* }"; return 0; }
    kill -0 "$pid" 2>/dev/null || break  # the trainer ended before it listened
    sleep 0.1
  done
  echo "one_step_off.sh: no coordinator address in $log" >&2
  return 1
}

run() {  # run NAME [key=value ...]: one training run (NAME colocated, or workers with the given keys)
  local name=$1 dir="$out/$1"
  shift
  local extra=()
  for kv in "$@"; do extra+=(--set "$kv"); done
  rm -rf "$dir"
  mkdir -p "$dir"
  if [ "$name" = colocated ]; then
    "$zerorl" train --config "$config" "${sets[@]}" --set "run.output_dir=$dir/run" "${extra[@]}" >"$dir/trainer.log" 2>&1 ||
      { echo "one_step_off.sh: the colocated run failed; see $dir/trainer.log" >&2; return 1; }
    return
  fi
  echo "one_step_off.sh: a secret for this benchmark only" >"$dir/token"
  local remote=(--set "rollout.auth_token_file=$dir/token")
  "$zerorl" train --config "$config" "${sets[@]}" "${remote[@]}" --set "run.output_dir=$dir/run" \
    --set rollout.mode=workers --set rollout.workers=1 --set rollout.listen=127.0.0.1:0 "${extra[@]}" \
    >"$dir/trainer.log" 2>&1 &
  local trainer=$!
  children+=("$trainer")
  local address
  address=$(address_of "$dir/trainer.log" "$trainer")
  "$zerorl" rollout-worker --config "$config" "${sets[@]}" "${remote[@]}" --trainer "$address" \
    >"$dir/worker.log" 2>&1 &
  local worker=$!
  children+=("$worker")
  wait "$trainer" || { echo "one_step_off.sh: the $name trainer failed; see $dir/trainer.log" >&2; return 1; }
  wait "$worker" || { echo "one_step_off.sh: the $name worker failed; see $dir/worker.log" >&2; return 1; }
}

started=$(date -u +%FT%TZ)
run colocated
run workers_sync rollout.max_staleness=0
run workers_one_step_off rollout.max_staleness=1 algo.off_policy_correction=tis

/usr/bin/env python3 - "$out" "$started" "$zerorl" "$config" "$@" <<'EOF'
import json, statistics, sys
out, started, zerorl, config, sets = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
def rows(name):
    with open(f"{out}/{name}/run/metrics.jsonl") as f:
        return [json.loads(line) for line in f if line.strip()]
def median(rs, key):
    vals = [r[key] for r in rs if isinstance(r.get(key), (int, float))]
    return statistics.median(vals) if vals else None
keep = ("reward_mean", "rollout_logprob_diff", "rollout/staleness", "rollout/worker_utilization",
        "rollout/requeued_groups", "off_policy/is_weight_mean", "off_policy/is_ratio_max",
        "off_policy/is_clip_frac")
result = {"bench": "rollout_workers/one_step_off", "started": started,
          "command": " ".join(["bench/rollout_workers/one_step_off.sh", zerorl, config, out] + sets),
          "note": "median over steps 2..N of each run; the trainer and one worker share the machine's device"}
for name in ("colocated", "workers_sync", "workers_one_step_off"):
    rs = rows(name)
    timed = rs[1:] if len(rs) > 1 else rs
    phases = sorted({k for r in timed for k in r if k.startswith("time/")})
    result[name] = {"steps": len(rs), "step_s": median(timed, "time/total"),
                    "phases_s": {k[5:]: median(timed, k) for k in phases},
                    "last_step": {k: rs[-1][k] for k in keep if k in rs[-1]}}
base = result["colocated"]["step_s"]
for name in ("workers_sync", "workers_one_step_off"):
    s = result[name]["step_s"]
    result[name]["speedup_vs_colocated"] = base / s if base and s else None
print(json.dumps(result, indent=1))
EOF
