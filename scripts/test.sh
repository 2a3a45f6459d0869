#!/usr/bin/env bash
# The whole test suite: set-up (idempotent), formatting and lint checks,
# the Rust tests (unit, parity against the piper/onnxruntime fixtures,
# bad input), and the ASR round trip against piper-tts.
# Everything runs in the release profile so each crate is built once.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh --with-test-deps

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --release --locked --all-targets -- -D warnings
echo "== cargo test"
cargo test --release --locked
echo "== ASR round trip (pytest)"
.venv-test/bin/python -m pytest -q tests/python
