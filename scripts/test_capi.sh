#!/usr/bin/env bash
# The C ABI from C and C++: builds libtts and checks the header
# (scripts/build_capi.sh), compiles the C test, the C example and the C++
# wrapper test through pkg-config with warnings as errors, runs them, then
# runs the C test again under valgrind (a reduced set: TTS_TEST_QUICK=1)
# where memory errors and definite leaks fail the run.
#
# Run from anywhere on a machine where scripts/setup.sh has run (cc, c++,
# pkg-config, valgrind, the default voice in models/).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
./scripts/build_capi.sh

TARGET_DIR=$(cargo metadata --format-version 1 --no-deps --locked |
  sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
LIBDIR=$TARGET_DIR/release
export PKG_CONFIG_PATH=$LIBDIR${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
# Beside libtts.so, so that without models/espeak-ng-data the programs
# still find the espeak-ng data of this build (see phonemize/data_dir.rs).
OUT=$LIBDIR/capi-tests
mkdir -p "$OUT"
read -r -a CFLAGS <<<"$(pkg-config --cflags tts)"
read -r -a LIBS <<<"$(pkg-config --libs tts)"
WARN=(-Wall -Wextra -Wpedantic -Werror)

# The tiny random-weight Qwen3-TTS checkpoint (upstream file layout) the
# C test speaks with.
QWEN3_DIR=$OUT/qwen3-tiny
cargo run --release --quiet --locked --example qwen3_tiny_checkpoint -- "$QWEN3_DIR" >/dev/null
export TTS_TEST_QWEN3_DIR=$QWEN3_DIR

echo "== C test (pkg-config $(pkg-config --modversion tts))"
cc -std=c11 "${WARN[@]}" -O1 -g "${CFLAGS[@]}" tests/c/test_tts.c -o "$OUT/test_tts" \
  "${LIBS[@]}" -lpthread -lm
"$OUT/test_tts"

echo "== C example"
cc -std=c11 "${WARN[@]}" -O1 "${CFLAGS[@]}" examples/c/speak.c -o "$OUT/speak" "${LIBS[@]}"
"$OUT/speak" "Hello from C. This is the second sentence." "$OUT/speak.wav" 16000 \
  2>"$OUT/speak.log"
cat "$OUT/speak.log"
grep -q '^sentence 2: .*(last)$' "$OUT/speak.log"
test "$(stat -c %s "$OUT/speak.wav")" -gt 20000
"$OUT/speak" "Piped." - >"$OUT/piped.wav" 2>/dev/null
test "$(head -c 4 "$OUT/piped.wav")" = RIFF

echo "== C++ wrapper"
c++ -std=c++17 "${WARN[@]}" -O1 -g "${CFLAGS[@]}" tests/c/test_cpp.cpp -o "$OUT/test_cpp" \
  "${LIBS[@]}" -lpthread
"$OUT/test_cpp"

echo "== C test under valgrind (quick set)"
# One rayon thread: valgrind runs one thread at a time, and idle pool
# threads spinning for work only slow it down. candle's convolution: the
# AVX2 kernels are emulated several times slower (one sentence took over
# 6 minutes with them, about 4 with candle's).
TTS_TEST_QUICK=1 RAYON_NUM_THREADS=1 ISHOWTTS_CPU_CONV=candle valgrind --quiet --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite \
  --error-exitcode=1 --suppressions=tests/c/valgrind.supp "$OUT/test_tts"

echo "== C ABI: all passed in $((SECONDS - start)) s"
