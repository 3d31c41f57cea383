#!/usr/bin/env bash
# One GPU session for the CUDA engine (issue 13): about 7 minutes of a 15-minute device budget, so that
# a rerun fits. Run from the repository root on a machine with CuPy and a GPU, benchmarks/.cache carried
# (the data under benchmarks/.cache/data, CuPy's compiled kernels kept in benchmarks/.cache/cupy):
#
#     OUT=$OUT bash benchmarks/device_run.sh           # on the device machine; $OUT comes back
#     XP=numpy CORPUS=ptb BUDGET=120 bash benchmarks/device_run.sh      # the plumbing, on a CPU
#
# Parts, most important first, each under its own cap (timeout -k) inside BUDGET seconds, each one's
# output written to $OUT/all.log as it runs (tee) and its last lines to $OUT/summary.txt:
#   smoke        every kernel compiled by RawModule, walk.cu against walk.reference on the GPU (one
#                stream, interleaved streams over disjoint rows, Word2Vec through the engine), under
#                CUDA_LAUNCH_BLOCKING=1; also written at once to $OUT/smoke.log. If it fails, only the
#                test suite runs after it.
#   profile_cbow enwiki, CBOW, 1 epoch: decompress / count / encode / train, the training alone with the
#                chunks on the device, CuPy's peak memory, analogy and WordSim-353, for the default
#                streams (4,096), 1,024 and 16,384 ($OUT/profile_cbow.json)
#   profile_sg   the same for skip-gram, default streams ($OUT/profile_sg.json)
#   e2e_cbow1    end to end as the peers' comparison times it, CBOW 1 epoch ($OUT/e2e_cbow1.json)
#   e2e_cbow5    the same over 5 epochs ($OUT/e2e_cbow5.json)
#   tests        the test suite with GPU=1 NSW2V_FAST_GPU=1
#   targets      the issue's targets against what the parts measured (in summary.txt)
# Seven files come back: summary.txt, all.log, smoke.log and four JSON files.
set -u -o pipefail
OUT=${OUT:-benchmarks/results/gpu}
BUDGET=${BUDGET:-420}
XP=${XP:-cupy}
CORPUS=${CORPUS:-enwiki}
mkdir -p "$OUT"
SUMMARY=$OUT/summary.txt
LOG=$OUT/all.log
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export NSW2V_DATA=${NSW2V_DATA:-$PWD/benchmarks/.cache/data}
export CUPY_CACHE_DIR=${CUPY_CACHE_DIR:-$PWD/benchmarks/.cache/cupy}
[ "$XP" = cupy ] && export GPU=1 NSW2V_FAST_GPU=1
PY=${PY:-python3}

RESERVE=20   # seconds of the budget kept for the last part, the targets

part() {  # part NAME CAP COMMAND...: runs for min(CAP, budget left) s; returns the command's exit status
    local name=$1 cap=$2; shift 2
    local left=$((BUDGET - SECONDS))
    [ "$name" = targets ] || left=$((left - RESERVE))
    if [ "$left" -lt 20 ]; then
        echo "== $name: skipped, $left s of the budget left" | tee -a "$SUMMARY" "$LOG"
        return 99
    fi
    [ "$cap" -gt "$left" ] && cap=$left
    local t0=$SECONDS tail rc
    tail=$(mktemp)
    echo "== $name (cap $cap s): $*" >> "$LOG"
    if [ "$name" = smoke ]; then
        timeout -k 10 "$cap" "$@" 2>&1 | tee -a "$LOG" "$OUT/smoke.log" > "$tail"
    else
        timeout -k 10 "$cap" "$@" 2>&1 | tee -a "$LOG" > "$tail"
    fi
    rc=$?
    { echo "== $name: exit $rc in $((SECONDS - t0)) s (cap $cap)"; tail -n "${TAIL:-14}" "$tail"; } >> "$SUMMARY"
    echo "== $name: exit $rc in $((SECONDS - t0)) s (cap $cap)" | tee -a "$LOG"
    rm -f "$tail"
    return $rc
}

{ date -u; git rev-parse --short HEAD 2>/dev/null
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
  $PY -c "import numpy, sys; print('python', sys.version.split()[0], 'numpy', numpy.__version__)"
  $PY -c "import cupy; print('cupy', cupy.__version__, 'CUDA', cupy.cuda.runtime.runtimeGetVersion())" 2>/dev/null \
      || echo "no cupy"
  echo "$(nproc) cores; XP=$XP CORPUS=$CORPUS BUDGET=$BUDGET"; } | tee -a "$SUMMARY" "$LOG"

PROFILE="$PY benchmarks/profile_train.py --corpus $CORPUS --xp $XP --evaluate"
PEERS="$PY benchmarks/compare_peers.py --corpus $CORPUS --xp $XP --only nsw2v"
if [ "$XP" = cupy ]; then
    part smoke 60 env CUDA_LAUNCH_BLOCKING=1 $PY -m pytest -x -q -p no:cacheprovider tests/test_cuda_walk.py -k cupy
    smoke=$?
else
    smoke=0                                  # no GPU: the plumbing only (the CPU engines)
fi
if [ "$smoke" -eq 0 ]; then
    part profile_cbow 90 $PROFILE --streams default,1024,16384 --json "$OUT/profile_cbow.json"
    part profile_sg 50 $PROFILE --sg 1 --json "$OUT/profile_sg.json"
    part e2e_cbow1 40 $PEERS --json "$OUT/e2e_cbow1.json"
    part e2e_cbow5 50 $PEERS --epochs 5 --json "$OUT/e2e_cbow5.json"
fi
part tests 130 $PY -m pytest -q -p no:cacheprovider tests

# The issue's targets against the figures above; gensim's quality is its CPU figure (2 workers,
# benchmarks/published/cpu-peers-*-workers2.json): gensim is not installed on the device machine.
TAIL=40 part targets 15 $PY - "$OUT" <<'EOF'
import json, os, sys
out = sys.argv[1]
def rows(name):
    path = os.path.join(out, name)
    return json.load(open(path))["rows"] if os.path.exists(path) else []
def gensim(name):
    return next(r for r in json.load(open(f"benchmarks/published/{name}"))["rows"] if r["peer"] == "gensim")
checks = []
def check(what, value, target, ok):
    checks.append(f"{'PASS' if ok else 'MISS'}  {what}: {value} (target {target})")
cbow = rows("profile_cbow.json")
for row in cbow:
    s = row.get("streams", "?")
    check(f"CBOW training alone, {s} streams", f"{row['train_alone_words_per_s'] / 1e6:.1f}M words/s", ">= 50M",
          row["train_alone_words_per_s"] >= 50e6)
    g = gensim("cpu-peers-cbow1-workers2.json")
    check(f"CBOW 1 epoch analogy, {s} streams", f"{row['analogy_acc']:.1%} (gensim {g['analogy_acc']:.1%})",
          "within 1 point", row["analogy_acc"] >= g["analogy_acc"] - 0.01)
    check(f"CBOW 1 epoch WordSim, {s} streams", f"{row['wordsim_rho']:.3f} (gensim {g['wordsim_rho']:.3f})",
          "within 0.02", row["wordsim_rho"] >= g["wordsim_rho"] - 0.02)
    print(f"CBOW {s} streams: decompress {row.get('decompress_seconds', float('nan')):.2f} s, count "
          f"{row.get('count_seconds', float('nan')):.2f} s, encode {row.get('encode_seconds', float('nan')):.2f} s, "
          f"train {row['train_seconds']:.2f} s; pool peak {row.get('pool_peak_read_mib', 0):.0f} MiB reading, "
          f"{row.get('pool_peak_train_mib', 0):.0f} MiB training")
for row in rows("profile_sg.json"):
    g = gensim("cpu-peers-sg1-workers2.json")
    check("skip-gram training alone", f"{row['train_alone_words_per_s'] / 1e6:.1f}M words/s", ">= 20M",
          row["train_alone_words_per_s"] >= 20e6)
    check("skip-gram 1 epoch analogy / WordSim", f"{row['analogy_acc']:.1%} / {row['wordsim_rho']:.3f} "
          f"(gensim {g['analogy_acc']:.1%} / {g['wordsim_rho']:.3f})", "within 1 point / 0.02",
          row["analogy_acc"] >= g["analogy_acc"] - 0.01 and row["wordsim_rho"] >= g["wordsim_rho"] - 0.02)
for row in rows("e2e_cbow5.json"):
    g = gensim("cpu-peers-cbow5-workers2.json")
    check("CBOW end to end, 5 epochs", f"{row['words_per_s'] / 1e6:.1f}M words/s ({row['wall_seconds']:.2f} s)",
          ">= 30M", row["words_per_s"] >= 30e6)
    check("CBOW 5 epochs analogy / WordSim", f"{row['analogy_acc']:.1%} / {row['wordsim_rho']:.3f} "
          f"(gensim {g['analogy_acc']:.1%} / {g['wordsim_rho']:.3f})", "within 1 point / 0.02",
          row["analogy_acc"] >= g["analogy_acc"] - 0.01 and row["wordsim_rho"] >= g["wordsim_rho"] - 0.02)
for row in rows("e2e_cbow1.json"):
    print(f"CBOW end to end, 1 epoch: {row['wall_seconds']:.2f} s, {row['words_per_s'] / 1e6:.1f}M words/s")
print("\n".join(checks) if checks else "no figures to check")
EOF
echo "total $SECONDS s" | tee -a "$SUMMARY" "$LOG"
