#!/usr/bin/env bash
# The regression benchmark: one command. Builds the `bench_regress` example,
# runs the benchmark set (Piper on the default voice, F5-TTS and Qwen3-TTS on
# their tiny synthetic checkpoints, all on the CPU: real-time factor, time to
# first audio, peak RSS; several processes per model, several runs each),
# writes a JSON record into bench/history/ and compares it with the newest
# committed record of the same machine (bench/regress.py says how noise
# sets the allowance). Exits 1 when a figure is worse than the noise allows.
#
#   bench/run.sh                          # record and compare
#   bench/run.sh --inject-slowdown 0.2    # a 20 % slower run: must exit 1
#   bench/run.sh --models piper --rounds 2 --runs 5
#   bench/run.sh --baseline bench/history/FILE.json
#
# Commit the record it writes when it is the new baseline (after a change
# that makes things faster, or on a new machine). Needs scripts/setup.sh
# (the default voice) and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --quiet --example bench_regress
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps --locked |
  sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
exec python3 bench/regress.py --binary "$TARGET_DIR/release/examples/bench_regress" "$@"
