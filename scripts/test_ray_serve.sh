#!/usr/bin/env bash
# The Ray Serve example (examples/ray_serve/): installs the Python wheel and
# pinned Ray Serve, FastAPI, httpx, openai and pytest into .venv-ray (kept
# between runs; pip runs only when a pin is missing), then runs its pytest
# suite, which starts a local Ray cluster on 127.0.0.1, deploys the speech
# app with two replicas and talks to it over HTTP.
#
#   scripts/test_ray_serve.sh [--wheel PATH] [pytest args...]
#
# The wheel defaults to the newest target/wheels/ishowtts-*.whl under
# $CARGO_TARGET_DIR (else ./target), which scripts/test_python.sh builds;
# this script builds nothing. The tests need the default voice:
# $ISHOWTTS_VOICE, else models/en_US-joe-medium.onnx (scripts/setup.sh).
#
# Environment: PYTHON (default python3, CPython 3.10 or later) makes the venv.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PYTHON:-python3}
PY=$(command -v "$PY") || { echo "error: ${PYTHON:-python3} not found" >&2; exit 1; }
VENV=$ROOT/.venv-ray
PINS=(
  "ray[serve]==2.60.0"
  fastapi==0.165.0
  starlette==1.10.0
  uvicorn==0.55.0
  httpx==0.29.0
  openai==3.63.0
  pytest==9.2.0
  numpy==2.4.6
)
# The suite stops itself after about 170 s; this is the backstop (SIGINT,
# so that pytest still shuts Ray down).
TIMEOUT_S=240
say() { printf '\033[1m[ray-serve]\033[0m %s\n' "$*" >&2; }
started=$SECONDS

wheel=
if [ "${1:-}" = "--wheel" ]; then
  wheel=${2:?--wheel needs a path}
  shift 2
fi
if [ -z "$wheel" ]; then
  wheels=${CARGO_TARGET_DIR:-$ROOT/target}/wheels
  wheel=$(ls -t "$wheels"/ishowtts-*.whl 2>/dev/null | head -1 || true)
  [ -n "$wheel" ] || { echo "error: no ishowtts wheel in $wheels: run scripts/test_python.sh or pass --wheel" >&2; exit 1; }
fi
[ -f "$wheel" ] || { echo "error: $wheel not found" >&2; exit 1; }

if [ -z "${ISHOWTTS_VOICE:-}" ]; then
  export ISHOWTTS_VOICE=$ROOT/models/en_US-joe-medium.onnx
fi
[ -f "$ISHOWTTS_VOICE" ] || { echo "error: $ISHOWTTS_VOICE is missing: run scripts/setup.sh or set ISHOWTTS_VOICE" >&2; exit 1; }

# 1. the virtualenv and the pinned packages --------------------------------------
pins_present() {
  "$VENV/bin/python" - "${PINS[@]}" <<'EOF' 2>/dev/null
import sys
from importlib.metadata import PackageNotFoundError, version

for pin in sys.argv[1:]:
    name, want = pin.split("==")
    try:
        if version(name.split("[")[0]) != want:
            sys.exit(1)
    except PackageNotFoundError:
        sys.exit(1)
EOF
}
[ -x "$VENV/bin/python" ] || { say "creating $VENV"; "$PY" -m venv "$VENV"; }
if ! pins_present; then
  say "installing ${PINS[*]}"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PINS[@]}"
fi

# 2. the wheel: reinstalled each run, as a rebuilt wheel keeps its version -----
say "installing $(basename "$wheel")"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
  --force-reinstall --no-deps "$wheel"

# 3. the suite ---------------------------------------------------------------------
say "pytest examples/ray_serve"
timeout -s INT -k 30 "$TIMEOUT_S" "$VENV/bin/python" -m pytest -q -p no:cacheprovider \
  examples/ray_serve/test_ray_serve.py "$@"
say "done in $((SECONDS - started)) s"
