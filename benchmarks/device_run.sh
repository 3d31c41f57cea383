#!/usr/bin/env bash
# One prepared GPU session (run from the repo root on a machine with CuPy and a GPU):
# the test suite with GPU=1, training quality and speed by batch size on enwiki, and the
# sampler/step benchmarks. Results go to $OUT (default benchmarks/results/gpu): summary.txt,
# all.log (every part's output) and one JSON file per measuring part: eight files in all,
# what the device tool brings back. Each part has its own time limit inside an overall
# budget of BUDGET seconds.
set -u
OUT=${OUT:-benchmarks/results/gpu}
BUDGET=${BUDGET:-420}
XP=${XP:-cupy}
CORPUS=${CORPUS:-enwiki}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export NSW2V_DATA=${NSW2V_DATA:-$PWD/benchmarks/.cache/data}
[ "$XP" = cupy ] && export GPU=1
part() {  # part NAME CAP COMMAND...: run with min(CAP, time left); its output goes to $OUT/all.log
    local name=$1 cap=$2; shift 2
    local left=$((BUDGET - SECONDS))
    [ "$left" -lt 15 ] && { echo "== $name: skipped, budget spent" | tee -a "$OUT/summary.txt"; return; }
    [ "$cap" -gt "$left" ] && cap=$left
    local t0=$SECONDS log
    log=$(mktemp)
    timeout "$cap" "$@" > "$log" 2>&1
    local rc=$?
    echo "== $name: exit $rc in $((SECONDS - t0)) s (limit $cap)" | tee -a "$OUT/summary.txt"
    { echo "== $name"; cat "$log"; } >> "$OUT/all.log"
    tail -n 12 "$log" | tee -a "$OUT/summary.txt"
    rm -f "$log"
}
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
  python3 -c "import numpy, sys; print('python', sys.version.split()[0], 'numpy', numpy.__version__)"
  python3 -c "import cupy; print('cupy', cupy.__version__)" 2>/dev/null || echo "no cupy"; nproc; } \
  | tee -a "$OUT/summary.txt"
# In order of what matters most, so a short budget drops the least important parts.
part tests 150 python3 -m pytest -q -p no:cacheprovider tests
# The paths behind NSW2V_FAST_GPU=1 (device reader, fused CBOW kernel, sorted-run scatter), checked and timed
part tests_fast 90 env NSW2V_FAST_GPU=1 python3 -m pytest -q -p no:cacheprovider tests/test_kernels.py \
    tests/test_ingest.py tests/test_backend.py tests/test_steps.py tests/test_word2vec.py
# the issue-5 target: end to end CBOW on the paths behind NSW2V_FAST_GPU=1
part e2e_fast 45 env NSW2V_FAST_GPU=1 python3 benchmarks/compare_peers.py --corpus "$CORPUS" --xp "$XP" --only nsw2v \
    --json "$OUT/e2e_fast.json"
# the array code, the corpus read by 8 host processes (nsw2v.parallel_read)
part e2e_cbow 45 python3 benchmarks/compare_peers.py --corpus "$CORPUS" --xp "$XP" --only nsw2v --workers 8 \
    --json "$OUT/e2e_cbow.json"
# the end-to-end benchmark of the suite (never yet run on a GPU)
part bench_train 40 env NSW2V_TRAIN_ROUNDS=2 python3 -m pytest -q -p no:cacheprovider benchmarks/bench_train.py \
    --benchmark-only --benchmark-json "$OUT/bench_train.json"
part profile_fast 60 env NSW2V_FAST_GPU=1 python3 benchmarks/profile_train.py --corpus "$CORPUS" --xp "$XP" --chunks 2
# the same run as e2e_fast on a plain-text copy: what gzip costs
part e2e_fast_plain 45 env NSW2V_FAST_GPU=1 python3 benchmarks/compare_peers.py --corpus "$CORPUS" --xp "$XP" \
    --only nsw2v --decompressed
part cbow_batched 80 python3 benchmarks/quality.py --corpus "$CORPUS" --xp "$XP" --paths batched \
    --batch-sizes 4096,16384,65536 --json "$OUT/cbow_batched.json"
part bench 60 python3 -m pytest -q -p no:cacheprovider benchmarks/bench_sampler.py benchmarks/bench_step.py \
    --benchmark-only --benchmark-min-rounds=3 --benchmark-max-time=0.5 --benchmark-json "$OUT/bench.json"
part sg_batched 45 python3 benchmarks/quality.py --corpus "$CORPUS" --xp "$XP" --sg 1 --paths batched \
    --batch-sizes 16384 --json "$OUT/sg_batched.json"
part cbow_5epochs 60 python3 benchmarks/quality.py --corpus "$CORPUS" --xp "$XP" --paths batched \
    --batch-sizes 16384 --epochs 5
part cbow_exclusion 35 python3 benchmarks/quality.py --corpus "$CORPUS" --xp "$XP" --paths exclusion \
    --batch-sizes 16384
echo "total $SECONDS s" | tee -a "$OUT/summary.txt"
