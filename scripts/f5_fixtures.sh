#!/usr/bin/env bash
# Regenerate the F5-TTS / Vocos parity fixtures in tests/fixtures/f5/.
#
# Usage (from anywhere):
#
#     bash scripts/f5_fixtures.sh            # install (once) + regenerate everything
#     bash scripts/f5_fixtures.sh --no-full  # skip the full-size models (faster)
#
# What it does:
#   1. creates (or reuses) the virtualenv .venv-f5ref at the repository root
#      (ignored by git through /.venv*);
#   2. installs the pinned reference packages into it, skipping the step when
#      they are already installed at exactly these versions:
#          f5-tts==1.1.22  vocos==0.1.0  torch==2.11.0  torchaudio==2.11.0
#      (plus the transitive packages in EXTRA_PINS below: jieba/pinyin,
#      x-transformers rotary, torchdiffeq, numpy, safetensors);
#      torch/torchaudio come from the PyTorch CPU index when it is reachable,
#      otherwise from plain PyPI (same numerics on CPU; the PyPI wheels only
#      add CUDA libraries that are never loaded here);
#   3. runs scripts/f5_fixtures.py, which rewrites tests/fixtures/f5/.
#
# The output is deterministic: running this twice gives byte-identical files
# (check with `sha256sum $(find tests/fixtures/f5 -type f | sort)`).
# First install downloads ~3-7 GB and takes a few minutes; the generation
# itself takes a few minutes on 2 CPU cores (the full-size DiT dominates).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv-f5ref"
PY="$VENV/bin/python"

F5_VERSION=1.1.22
VOCOS_VERSION=0.1.0
TORCH_VERSION=2.11.0
TORCHAUDIO_VERSION=2.11.0
# transitive packages whose behaviour the fixtures depend on (tokenizer, rotary,
# ODE solver, RNG-free numerics, file format), pinned to the versions the
# committed fixtures were made with
EXTRA_PINS=(
    "rjieba==0.2.2" "pypinyin==0.55.0" "x-transformers==2.31.10" "torchdiffeq==0.2.5"
    "numpy==2.4.6" "safetensors==0.8.0" "ema-pytorch==0.8.3"
)

if [ ! -x "$PY" ]; then
    python3 -m venv "$VENV"
fi

installed() {
    # prints "ok" when all pins are installed at exactly these versions
    "$PY" - "$@" <<'EOF'
import sys
from importlib.metadata import version, PackageNotFoundError
pins = dict(a.split("==") for a in sys.argv[1:])
try:
    ok = all(version(k) == v for k, v in pins.items())
except PackageNotFoundError:
    ok = False
print("ok" if ok else "missing")
EOF
}

PINS=("f5-tts==$F5_VERSION" "vocos==$VOCOS_VERSION" "torch==$TORCH_VERSION" "torchaudio==$TORCHAUDIO_VERSION" "${EXTRA_PINS[@]}")
if [ "$(installed "${PINS[@]}")" != "ok" ]; then
    "$PY" -m pip install --quiet --upgrade pip
    CPU_INDEX=https://download.pytorch.org/whl/cpu
    if curl -s -o /dev/null --max-time 10 "$CPU_INDEX/torch/"; then
        "$PY" -m pip install --index-url "$CPU_INDEX" "torch==$TORCH_VERSION" "torchaudio==$TORCHAUDIO_VERSION"
    else
        echo "f5_fixtures: PyTorch CPU index unreachable, using PyPI wheels" >&2
        "$PY" -m pip install "torch==$TORCH_VERSION" "torchaudio==$TORCHAUDIO_VERSION"
    fi
    # torch pinned again so the resolver cannot move it
    "$PY" -m pip install "${PINS[@]}"
    if [ "$(installed "${PINS[@]}")" != "ok" ]; then
        echo "f5_fixtures: pinned packages did not install" >&2
        exit 1
    fi
fi

export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 PYTHONHASHSEED=0
cd "$ROOT"
exec "$PY" scripts/f5_fixtures.py "$@"
