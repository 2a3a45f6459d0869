#!/usr/bin/env bash
# Load test (a benchmark, not a test): 32 concurrent clients for 60 s
# against `ishowtts serve` with the default Piper voice (once per worker
# count, 1 and 2 by default), then the same run against piper-tts's own
# HTTP server (`python -m piper.http_server`, Flask) with the same voice
# file, on the same machine, loopback only. Prints the results and the
# ratios to piper-tts; docs/benchmarks.md keeps them.
#
#   bash scripts/bench_serve.sh [--clients 32] [--seconds 60] [--workers "1 2"]
#
# Needs target/release/ishowtts and models/ (scripts/setup.sh); makes its
# own virtualenv .venv-bench-serve (piper-tts, flask, httpx).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CLIENTS=32
SECONDS_RUN=60
WORKERS="1 2"
while [ $# -gt 0 ]; do
  case $1 in
    --clients) CLIENTS=$2; shift 2 ;;
    --seconds) SECONDS_RUN=$2; shift 2 ;;
    --workers) WORKERS=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
VENV=$ROOT/.venv-bench-serve
PKGS=(piper-tts==1.8.0 flask==3.1.3 httpx==0.28.1)
if [ "$(cat "$VENV/.pkgs" 2>/dev/null)" != "${PKGS[*]}" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PKGS[@]}"
  echo "${PKGS[*]}" > "$VENV/.pkgs"
fi
VOICE=$ROOT/models/en_US-joe-medium.onnx
OUT=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$OUT"' EXIT
free_port() { "$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { # url
  for _ in $(seq 1 300); do
    curl -fs -o /dev/null "$1" && return 0
    sleep 0.2
  done
  echo "error: $1 did not come up" >&2; exit 1
}

# 1. ishowtts serve (a queue as deep as the clients: none is refused)
for w in $WORKERS; do
  port=$(free_port)
  ISHOWTTS_LOG=warn ISHOWTTS_VOICE=$VOICE ./target/release/ishowtts serve --port "$port" \
    --voices-dir "$OUT/voices" --queue-limit "$CLIENTS" --workers "$w" >/dev/null &
  pid=$!
  wait_http "http://127.0.0.1:$port/readyz"
  "$VENV/bin/python" bench/load_serve.py --target ishowtts --label "ishowtts-w$w" \
    --url "http://127.0.0.1:$port" --clients "$CLIENTS" --seconds "$SECONDS_RUN" \
    --json "$OUT/results.jsonl"
  kill -TERM $pid; wait $pid || true
done

# 2. piper-tts's HTTP server, same voice
port=$(free_port)
"$VENV/bin/python" -m piper.http_server --host 127.0.0.1 --port "$port" -m "$VOICE" >/dev/null 2>&1 &
pid=$!
wait_http "http://127.0.0.1:$port/voices"
"$VENV/bin/python" bench/load_serve.py --target piper --url "http://127.0.0.1:$port" \
  --clients "$CLIENTS" --seconds "$SECONDS_RUN" --json "$OUT/results.jsonl"
kill -TERM $pid; wait $pid || true

"$VENV/bin/python" - "$OUT/results.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
*ours, peer = rows
head = "".join(f"{o['target']:>14}{'ratio':>7}" for o in ours)
print(f"\n{'':16}{head}{'piper-tts':>12}")
for k in ["requests_per_s", "ttfb_p50_ms", "ttfb_p95_ms", "ttfb_p99_ms", "total_p50_ms", "errors", "rejected_429"]:
    b = peer[k]
    cells = ""
    for o in ours:
        a = o[k]
        r = f"{a / b:.2f}" if isinstance(a, (int, float)) and b else "-"
        cells += f"{a:>14}{r:>7}"
    print(f"{k:16}{cells}{b:>12}")
PY
