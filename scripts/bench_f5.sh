#!/usr/bin/env bash
# F5-TTS inference: ishowtts (examples/bench_f5.rs) against the PyTorch
# reference (f5-tts 1.1.22 CFM.sample + vocos 0.1.0, through
# scripts/bench_f5_reference.py) on the same synthetic weights, reference mel,
# token ids and initial noise, in one run. Checks the two outputs agree and
# prints a table with the ratios ishowtts / PyTorch (below 1: ishowtts
# better). See docs/benchmarks.md.
#
#     bash scripts/bench_f5.sh                      # small shape, CPU, 5 s of audio
#     bash scripts/bench_f5.sh --full --device cuda --dtype f16 --seconds 10
#
# Options (the shape flags go to both sides):
#   --full                 the real v1 Base shape (1024/22/16/2/512/4) instead of
#                          the small one (256/4/4/2/128/2)
#   --dim N --depth N --heads N --ff-mult N --text-dim N --conv-layers N
#   --seconds S            new audio to generate (default 5)
#   --ref-seconds S        reference audio (default 3)
#   --nfe LIST             flow step counts (default 16,32)
#   --runs N               timed runs per figure, medians reported (default 3)
#   --warmup N             untimed runs first (default 1)
#   --device cpu|cuda      (default cpu)
#   --dtype f32|bf16|f16   the DiT's dtype on both sides; Vocos stays f32 (default f32)
#   --threads N            CPU threads of both sides (default: nproc)
#   --prepare-only         write the inputs (and pack the reference's pure-Python
#                          packages) and stop: for a machine without the
#                          reference environment, see below
#
# Environment:
#   BENCH_F5_BIN      a prebuilt bench_f5 binary (otherwise `cargo build
#                     --release --example bench_f5`, with `--features cuda` for
#                     --device cuda)
#   BENCH_F5_PYTHON   the Python of the reference (otherwise .venv-f5ref when
#                     present (and CUDA-capable for --device cuda), else the
#                     machine's python3 when it has torch, else .venv-f5ref is
#                     created by scripts/f5_fixtures.sh's install step)
#   BENCH_F5_WORK     work folder (default target/bench_f5): work/ holds the
#                     shared inputs, pydeps/ the packed packages, ours.* and
#                     ref.* the results
#
# A GPU machine without Rust, network or f5-tts (only torch): on a machine with
# .venv-f5ref, run `bash scripts/bench_f5.sh --full --seconds 10 --prepare-only`
# (same shape/seconds flags as the GPU run) and build the binary with
# `bash scripts/build_cuda.sh` (no GPU or system CUDA needed; writes
# target-cuda/release/examples/bench_f5); copy target/bench_f5/ (work/ +
# pydeps/, about 15 MB) and the binary, then on the GPU machine:
#   BENCH_F5_BIN=path/to/bench_f5 bash scripts/bench_f5.sh --full --seconds 10 --device cuda --dtype f16
# The CUDA 13 libraries the binary links are looked up there (see below).
# The inputs are reused (same flags), pydeps/ goes on PYTHONPATH and the
# machine's python3 with its own torch runs the reference; packages used only
# for text and audio features there (rjieba, pypinyin, librosa, torchaudio,
# scipy) are stubbed when missing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BASE="${BENCH_F5_WORK:-$ROOT/target/bench_f5}"
WORK="$BASE/work"
PYDEPS="$BASE/pydeps"
REF_SCRIPT="$ROOT/scripts/bench_f5_reference.py"

SHAPE=()
PREP=()
NFE=16,32
RUNS=3
WARMUP=1
DEVICE=cpu
DTYPE=f32
THREADS="$(nproc)"
PREPARE_ONLY=0
while [ $# -gt 0 ]; do
    case "$1" in
        --full) SHAPE+=(--full); shift ;;
        --dim|--depth|--heads|--ff-mult|--text-dim|--conv-layers) SHAPE+=("$1" "$2"); shift 2 ;;
        --seconds|--ref-seconds) PREP+=("$1" "$2"); shift 2 ;;
        --nfe) NFE="$2"; shift 2 ;;
        --runs) RUNS="$2"; shift 2 ;;
        --warmup) WARMUP="$2"; shift 2 ;;
        --device) DEVICE="$2"; shift 2 ;;
        --dtype) DTYPE="$2"; shift 2 ;;
        --threads) THREADS="$2"; shift 2 ;;
        --prepare-only) PREPARE_ONLY=1; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench_f5: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
case "$DEVICE" in cpu|cuda) ;; *) echo "bench_f5: --device cpu or cuda" >&2; exit 2 ;; esac

# --- the reference's Python ---------------------------------------------------
VENV_PY="$ROOT/.venv-f5ref/bin/python"
has_torch() {
    if [ "$DEVICE" = cuda ]; then
        "$1" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null
    else
        "$1" -c 'import torch' 2>/dev/null
    fi
}
if [ -n "${BENCH_F5_PYTHON:-}" ]; then
    PY="$BENCH_F5_PYTHON"
elif [ -x "$VENV_PY" ] && has_torch "$VENV_PY"; then
    PY="$VENV_PY"
elif command -v python3 >/dev/null && has_torch python3; then
    PY="$(command -v python3)"
    echo "bench_f5: no usable .venv-f5ref; the reference runs on $PY ($("$PY" -c 'import torch; print("torch", torch.__version__)'))" >&2
else
    # scripts/f5_fixtures.sh owns the pinned install; its tiny fixtures go to a
    # scratch folder (the committed ones are left alone)
    echo "bench_f5: creating .venv-f5ref with scripts/f5_fixtures.sh" >&2
    bash "$ROOT/scripts/f5_fixtures.sh" --no-full --out "$BASE/fixtures-scratch" >/dev/null
    rm -rf "$BASE/fixtures-scratch"
    PY="$VENV_PY"
fi
if [ -d "$PYDEPS" ]; then
    export PYTHONPATH="$PYDEPS${PYTHONPATH:+:$PYTHONPATH}"
fi

# --- shared inputs (reused when prepared with the same flags) -----------------
KEY="shape=${SHAPE[*]-} prep=${PREP[*]-} script=$(sha256sum "$REF_SCRIPT" | cut -c1-16)"
if [ -f "$WORK/prepare.key" ] && [ "$(cat "$WORK/prepare.key")" = "$KEY" ] && [ -f "$WORK/bench.json" ]; then
    echo "bench_f5: reusing the inputs in $WORK" >&2
else
    rm -rf "$WORK"
    if ! (cd "$ROOT" && "$PY" -W ignore "$REF_SCRIPT" prepare --work "$WORK" "${SHAPE[@]}" "${PREP[@]}"); then
        echo "bench_f5: preparing the inputs needs the full reference environment (.venv-f5ref);" \
             "prepare on such a machine with --prepare-only and copy $BASE here" >&2
        exit 1
    fi
    echo "$KEY" > "$WORK/prepare.key"
fi
if [ "$PREPARE_ONLY" = 1 ]; then
    (cd "$ROOT" && "$PY" "$REF_SCRIPT" pack "$PYDEPS")
    echo "bench_f5: inputs in $WORK, packages in $PYDEPS" >&2
    exit 0
fi

# --- ishowtts -----------------------------------------------------------------
if [ -n "${BENCH_F5_BIN:-}" ]; then
    BIN="$BENCH_F5_BIN"
else
    FEATURES=()
    [ "$DEVICE" = cuda ] && FEATURES=(--features cuda)
    (cd "$ROOT" && cargo build --release --locked "${FEATURES[@]}" --example bench_f5)
    BIN="$ROOT/target/release/examples/bench_f5"
fi
# A `--features cuda` binary links the CUDA 13 libraries (cudart, cublas,
# cublasLt, curand, nvrtc); where the loader does not find them, take them
# from the toolkit or from the reference Python's nvidia wheels (PyTorch's).
missing_libs() { ldd "$BIN" 2>/dev/null | awk '/not found/ { print $1 }'; }
if [ -n "$(missing_libs)" ]; then
    CANDIDATES=("${CUDA_HOME:-/usr/local/cuda}/lib64" /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib)
    while IFS= read -r d; do CANDIDATES+=("$d"); done < <("$PY" -c '
import glob, os
try:
    import nvidia
except ImportError:
    raise SystemExit
for p in nvidia.__path__:
    print("\n".join(sorted(glob.glob(os.path.join(p, "*", "lib")))))' 2>/dev/null || true)
    for lib in $(missing_libs); do
        missing_libs | grep -qxF "$lib" || continue # found in a folder added for another
        for d in "${CANDIDATES[@]}"; do
            if [ -e "$d/$lib" ]; then
                export LD_LIBRARY_PATH="$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
                break
            fi
        done
    done
    if [ -n "$(missing_libs)" ]; then
        echo "bench_f5: $BIN needs libraries not found here: $(missing_libs | tr '\n' ' ')" >&2
        exit 1
    fi
    echo "bench_f5: CUDA libraries from LD_LIBRARY_PATH=$LD_LIBRARY_PATH" >&2
fi
SECONDS_FLAG=()
for ((i = 0; i < ${#PREP[@]}; i += 2)); do
    [ "${PREP[i]}" = --seconds ] && SECONDS_FLAG=(--seconds "${PREP[i+1]}")
done

# On CUDA, the GPU memory in use is sampled with nvidia-smi while each side
# runs (device-wide, CUDA context included: the same measure for both
# sides, unlike the allocators' own counters); the peak over the idle level
# goes into that side's JSON as gpu_used_peak_mib.
GPU_SAMPLER=""
gpu_used() { nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -i "${CUDA_VISIBLE_DEVICES:-0}" | head -1; }
start_gpu_sampler() {
    [ "$DEVICE" = cuda ] && command -v nvidia-smi >/dev/null || return 0
    GPU_IDLE=$(gpu_used)
    nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -i "${CUDA_VISIBLE_DEVICES:-0}" \
        -lms 50 > "$BASE/gpu_mem.log" 2>/dev/null &
    GPU_SAMPLER=$!
}
stop_gpu_sampler() { # $1: the side's JSON
    [ -n "$GPU_SAMPLER" ] || return 0
    kill "$GPU_SAMPLER" 2>/dev/null; wait "$GPU_SAMPLER" 2>/dev/null || true
    GPU_SAMPLER=""
    "$PY" - "$1" "$GPU_IDLE" "$BASE/gpu_mem.log" <<'PY'
import json, sys
path, idle, log = sys.argv[1], float(sys.argv[2]), sys.argv[3]
used = [float(l) for l in open(log) if l.strip().replace(".", "").isdigit()]
d = json.load(open(path))
d["gpu_used_peak_mib"] = max(used) - idle if used else None
json.dump(d, open(path, "w"), indent=1)
PY
}

COMMON=(--work "$WORK" --nfe "$NFE" --runs "$RUNS" --warmup "$WARMUP" --device "$DEVICE" --dtype "$DTYPE")
echo "bench_f5: ishowtts ($BIN), $THREADS threads" >&2
start_gpu_sampler
(cd "$ROOT" && RAYON_NUM_THREADS="$THREADS" "$BIN" "${COMMON[@]}" "${SHAPE[@]}" "${SECONDS_FLAG[@]}" \
    --json-out "$BASE/ours.json" --out "$BASE/ours.safetensors" >/dev/null)
stop_gpu_sampler "$BASE/ours.json"
echo "bench_f5: PyTorch reference ($PY), $THREADS threads" >&2
start_gpu_sampler
(cd "$ROOT" && "$PY" -W ignore "$REF_SCRIPT" run "${COMMON[@]}" --threads "$THREADS" \
    --json-out "$BASE/ref.json" --out "$BASE/ref.safetensors" >/dev/null)
stop_gpu_sampler "$BASE/ref.json"

"$PY" "$REF_SCRIPT" compare "$BASE/ours.json" "$BASE/ref.json"
