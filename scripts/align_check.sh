#!/usr/bin/env bash
# Piper word timings against an independent forced alignment (pocketsphinx).
#
# Usage (from anywhere):
#
#     bash scripts/align_check.sh [--bin target/release/ishowtts] [--out-dir out/align]
#                                 [--min-percent 90] [--voice PATH] [--keep-wav]
#
# 1. creates (once) the virtualenv .venv-align at the repository root (ignored
#    by git through /.venv*) with the pinned packages below; when they are
#    already there at these versions the step is a single Python start-up;
# 2. runs scripts/align_check.py with all the arguments given here (see its
#    docstring for what it measures and how to read the figure).
#
# Needs the `ishowtts` CLI with `say --timings` (cargo build --release) and a
# Piper voice (scripts/setup.sh installs the default one into models/).
# Exits with the Python script's status: 0 when the agreement figure reaches
# --min-percent, 1 when it does not, 2 when the check itself could not run.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv-align"
PY="$VENV/bin/python"
PIPS=("pocketsphinx==5.1.1" "numpy==2.4.6")

ready() {
    [ -x "$PY" ] && "$PY" - "${PIPS[@]}" <<'EOF' 2>/dev/null
import sys
from importlib.metadata import version
sys.exit(any(version(p.split("==")[0]) != p.split("==")[1] for p in sys.argv[1:]))
EOF
}

if ! ready; then
    echo "[align] installing ${PIPS[*]} into $VENV" >&2
    [ -x "$PY" ] || "${PYTHON:-python3}" -m venv "$VENV"
    "$PY" -m pip install --quiet --disable-pip-version-check "${PIPS[@]}"
    ready || { echo "error: $VENV does not have ${PIPS[*]} after installing" >&2; exit 2; }
fi

cd "$ROOT"
exec "$PY" "$ROOT/scripts/align_check.py" "$@"
