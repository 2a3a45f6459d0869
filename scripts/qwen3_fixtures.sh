#!/usr/bin/env bash
# Regenerate the Qwen3-TTS-12Hz parity fixtures in tests/fixtures/qwen3/.
#
# Usage (from anywhere):
#
#     bash scripts/qwen3_fixtures.sh            # everything
#     bash scripts/qwen3_fixtures.sh tokenizer  # only tests/fixtures/qwen3/tokenizer/
#     bash scripts/qwen3_fixtures.sh --seed 7 --out /tmp/qwen3-seed7
#         # another set (other random weights) elsewhere; check it with
#         # ISHOWTTS_QWEN3_FIXTURES=/tmp/qwen3-seed7 cargo test --release --test qwen3_parity
#
# What it does:
#   1. creates (or reuses) the virtualenv .venv-qwenref at the repository root
#      (ignored by git through /.venv*);
#   2. installs the pinned reference packages into it, skipping the step when
#      they are already installed at exactly these versions:
#          qwen-tts==0.1.1  transformers==4.57.3  accelerate==1.12.0
#          torch==2.11.0    torchaudio==2.11.0
#      (transformers and accelerate are the exact pins of qwen-tts 0.1.1; its
#      other requirements -- librosa, soundfile, sox, onnxruntime, einops,
#      gradio -- are unpinned upstream; the ones the fixtures depend on are
#      pinned in EXTRA_PINS below to the versions the committed fixtures were
#      made with); torch/torchaudio come from the PyTorch CPU index when it is
#      reachable, otherwise from plain PyPI (same numerics on CPU; the PyPI
#      wheels only add CUDA libraries that are never loaded here);
#   3. runs scripts/qwen3_fixtures.py, which rewrites tests/fixtures/qwen3/
#      from TINY random-weight instances of the real architecture (no
#      checkpoint is downloaded), then scripts/qwen3_tokenizer_fixtures.py,
#      which trains a small byte-level BPE in the checkpoint's tokenizer
#      layout and writes the reference ids to tests/fixtures/qwen3/tokenizer/.
#
# The output is deterministic: running this twice gives byte-identical files
# (check with `sha256sum $(find tests/fixtures/qwen3 -type f | sort)`).
# The first install downloads ~3-4 GB; the generation itself takes seconds.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv-qwenref"
PY="$VENV/bin/python"

QWEN_TTS_VERSION=0.1.1
TRANSFORMERS_VERSION=4.57.3
ACCELERATE_VERSION=1.12.0
TORCH_VERSION=2.11.0
TORCHAUDIO_VERSION=2.11.0
# transitive packages whose behaviour the fixtures depend on (mel filterbank,
# numerics, file format), pinned to the versions the committed fixtures were
# made with
EXTRA_PINS=(
    "librosa==0.11.0" "numpy==2.4.6" "scipy==1.17.1" "safetensors==0.8.0" "einops==0.8.2"
    # the tokenizer fixtures: BPE training + fast tokenizer, slow tokenizer's regex
    "tokenizers==0.22.2" "regex==2026.11.19"
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

PINS=(
    "qwen-tts==$QWEN_TTS_VERSION" "transformers==$TRANSFORMERS_VERSION" "accelerate==$ACCELERATE_VERSION"
    "torch==$TORCH_VERSION" "torchaudio==$TORCHAUDIO_VERSION" "${EXTRA_PINS[@]}"
)
if [ "$(installed "${PINS[@]}")" != "ok" ]; then
    "$PY" -m pip install --quiet --upgrade pip
    CPU_INDEX=https://download.pytorch.org/whl/cpu
    if curl -s -o /dev/null --max-time 10 "$CPU_INDEX/torch/"; then
        "$PY" -m pip install --index-url "$CPU_INDEX" "torch==$TORCH_VERSION" "torchaudio==$TORCHAUDIO_VERSION"
    else
        echo "qwen3_fixtures: PyTorch CPU index unreachable, using PyPI wheels" >&2
        "$PY" -m pip install "torch==$TORCH_VERSION" "torchaudio==$TORCHAUDIO_VERSION"
    fi
    # torch pinned again so the resolver cannot move it
    "$PY" -m pip install "${PINS[@]}"
    if [ "$(installed "${PINS[@]}")" != "ok" ]; then
        echo "qwen3_fixtures: pinned packages did not install" >&2
        exit 1
    fi
fi

export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 PYTHONHASHSEED=0 TOKENIZERS_PARALLELISM=false
cd "$ROOT"
if [ "${1:-}" = tokenizer ]; then
    shift
    exec "$PY" scripts/qwen3_tokenizer_fixtures.py "$@"
fi
"$PY" scripts/qwen3_fixtures.py "$@"
exec "$PY" scripts/qwen3_tokenizer_fixtures.py "$@"
