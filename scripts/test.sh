#!/usr/bin/env bash
# The whole test suite: set-up (idempotent), formatting and lint checks,
# the Rust tests (unit, parity against the piper/onnxruntime fixtures,
# engine scheduling, text front end, bad input), the C ABI from C and C++
# (also under valgrind), the Python module (wheel built, installed in a fresh
# virtualenv, stubs checked, pytest), the Ray Serve example, the ASR round trip against
# piper-tts, Piper's word timings against a forced alignment, and a short
# run of every fuzz target (the harnesses keep building and running).
# Everything runs in the release profile so each crate is built once.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh --with-test-deps

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --release --locked --all-targets -p ishowtts -p ishowtts-capi -p ishowtts-python -p ishowtts-cli -p ishowtts-server -- -D warnings
echo "== cargo test"
cargo test --release --locked -p ishowtts -p ishowtts-capi -p ishowtts-cli -p ishowtts-server
echo "== C ABI (C, C++, valgrind)"
./scripts/test_capi.sh
echo "== Python module (wheel, stubtest, mypy, pytest)"
./scripts/test_python.sh
echo "== Ray Serve example (two replicas on a loopback-only local Ray)"
./scripts/test_ray_serve.sh
echo "== Python end to end (ASR round trip; the service through the openai and wyoming clients and a headless browser)"
.venv-test/bin/python -m pytest -q tests/python
echo "== Word timings against a forced alignment (pocketsphinx)"
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps --locked |
  sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
./scripts/align_check.sh --bin "$TARGET_DIR/release/ishowtts"
echo "== Fuzz smoke (cargo fuzz, each target 20 s from its seeds)"
./scripts/fuzz.sh --smoke 20
