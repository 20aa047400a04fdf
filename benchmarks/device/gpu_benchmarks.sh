#!/usr/bin/env bash
# Run ON a lent GPU machine, from the repository root, through the device tool:
#   bash benchmarks/device/fetch_wheels.sh                     # here, once: fills .whl/
#   run(command="bash benchmarks/device/gpu_benchmarks.sh", carry=[".whl"], timeout_s=480)
# It installs the carried wheels beside the image's own jax/flax/optax, checks that JAX sees
# the GPU, then runs the throughput and memory benchmarks within a time budget and copies their
# tables, figures and a log to $OUT. Each benchmark writes its file after every case, so a
# step cut short by its budget still returns the cases it finished.
#
# Knobs (environment): THROUGHPUT_ARGS, MEMORY_ARGS (the scripts' own options),
# THROUGHPUT_BUDGET_S, MEMORY_BUDGET_S (seconds each step may take), ALLOW_CPU=1 and
# SKIP_WHEELS=1 (a local smoke test of this script on a machine without a GPU).
set -uo pipefail
cd "$(dirname "$0")/../.."
out="${OUT:-/tmp/purejaxppo-device-out}"
mkdir -p "$out"
exec > >(tee "$out/gpu_benchmarks.log") 2>&1

suffix="${RESULTS_SUFFIX:-_gpu}"
collect() {
  for f in "throughput$suffix" "memory$suffix"; do
    cp -f "benchmarks/results/$f.md" "benchmarks/results/$f.png" "$out/" 2>/dev/null
  done
  ls -l "$out"
}
trap collect EXIT

if [ "${SKIP_WHEELS:-0}" != 1 ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || { echo "wheel install failed (run fetch_wheels.sh here first)"; exit 1; }
  export PYTHONPATH="/tmp/site:$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
else
  export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
fi
# The CPU scheduler flag is for jaxlib 0.10's CPU backend; leave the GPU image's XLA_FLAGS alone.
export PUREJAXPPO_KEEP_XLA_FLAGS=1 PYTHONUNBUFFERED=1 MPLBACKEND=Agg
# memory.py's parent process starts JAX too; without this it would reserve most of the GPU
# before its one-case children run.
export XLA_PYTHON_CLIENT_PREALLOCATE=false

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null
python3 - <<'PY' || exit 1
import os, sys
from importlib.metadata import version
import jax, gymnax, distrax  # noqa: F401  (fail here, not in the first benchmark)
import purejaxppo  # noqa: F401
names = ("jax", "jaxlib", "flax", "optax", "gymnax", "distrax", "tfp-nightly")
print(" | ".join(f"{n} {version(n)}" for n in names))
print("backend:", jax.default_backend(), jax.devices())
if jax.default_backend() != "gpu" and os.environ.get("ALLOW_CPU") != "1":
    sys.exit("JAX does not see a GPU here; not running the GPU benchmarks")
PY

step() {  # step NAME BUDGET_S COMMAND...: runs COMMAND under a time budget and reports it
  local name=$1 budget=$2 start=$SECONDS
  shift 2
  echo "== $name (budget ${budget} s): $*"
  timeout --signal=INT --kill-after=20 "$budget" "$@"
  echo "== $name: exit $? after $((SECONDS - start)) s"
}

# Many seeds are where a GPU pays off, so the seed counts go past the CPU tables' 64.
# shellcheck disable=SC2086
step throughput "${THROUGHPUT_BUDGET_S:-200}" python3 benchmarks/throughput.py \
  --name "throughput$suffix" ${THROUGHPUT_ARGS:---configs cartpole breakout_minatar --seeds 1 64 1024}
# shellcheck disable=SC2086
step memory "${MEMORY_BUDGET_S:-200}" python3 benchmarks/memory.py \
  --name "memory$suffix" ${MEMORY_ARGS:---quick --timeout 120}
