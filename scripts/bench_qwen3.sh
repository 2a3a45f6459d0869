#!/usr/bin/env bash
# Qwen3-TTS on the CPU against qwen-tts 0.1.1, in one command, both sides in
# the same run, ratios printed (ishowtts / qwen-tts; below 1 is better):
#   1. the talker side at the released 0.6B shape: time per frame (one
#      talker step + 15 code-predictor steps), prompt prefill, peak RSS
#      (examples/bench_qwen3.rs, scripts/bench_qwen3_reference.py);
#   2. the whole pipeline on a full-size random checkpoint in the upstream
#      layout (written once into $QWEN3_BENCH_DIR): first audio of a
#      3-sentence paragraph, RTF, peak RSS (examples/bench_qwen3_stream.rs,
#      scripts/bench_qwen3_stream_reference.py).
#
#     bash scripts/bench_qwen3.sh            # both
#     bash scripts/bench_qwen3.sh stream     # only the whole pipeline
#
# Needs the reference virtualenv .venv-qwenref (created by
# scripts/qwen3_fixtures.sh) and ~4 GB of disk for the checkpoint; takes
# about 15 minutes on 2 cores. Results go to docs/benchmarks.md by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv-qwenref/bin/python
if [ ! -x "$PY" ]; then
    echo "bench_qwen3: no $PY; run scripts/qwen3_fixtures.sh once to create it" >&2
    exit 1
fi
OUT=${QWEN3_BENCH_DIR:-${TMPDIR:-/tmp}/ishowtts-qwen3-bench}
mkdir -p "$OUT"
what=${1:-all}
cargo build --release --quiet --locked --example bench_qwen3 --example bench_qwen3_stream
ratios() {
    "$PY" - "$1" "$2" "${@:3}" <<'PYEOF'
import json, sys
ours, ref = (json.load(open(p)) for p in sys.argv[1:3])
for key in sys.argv[3:]:
    print(f"  {key}: ishowtts {ours[key]:.4g}, qwen-tts {ref[key]:.4g}, ratio {ours[key] / ref[key]:.2f}")
PYEOF
}
if [ "$what" = all ] || [ "$what" = talker ]; then
    echo "== talker side (released 0.6B shape)"
    "$PY" scripts/bench_qwen3_reference.py --frames 40 --runs 3 --json-out "$OUT/talker-ref.json" >/dev/null
    target/release/examples/bench_qwen3 --frames 40 --runs 3 --json-out "$OUT/talker-ours.json" >/dev/null
    ratios "$OUT/talker-ours.json" "$OUT/talker-ref.json" frame_s prefill_s peak_rss_mib
fi
if [ "$what" = all ] || [ "$what" = stream ]; then
    echo "== whole pipeline (full-size random checkpoint in $OUT/checkpoint)"
    "$PY" scripts/bench_qwen3_stream_reference.py --checkpoint "$OUT/checkpoint" --frames 25 --runs 2 \
        --json-out "$OUT/stream-ref.json" >/dev/null
    target/release/examples/bench_qwen3_stream "$OUT/checkpoint" --frames 25 --runs 2 \
        --json-out "$OUT/stream-ours.json" >/dev/null
    ratios "$OUT/stream-ours.json" "$OUT/stream-ref.json" first_audio_s rtf peak_rss_mib
fi
