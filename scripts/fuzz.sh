#!/usr/bin/env bash
# Coverage-guided fuzzing of ishowtts with cargo-fuzz (libFuzzer + ASan),
# see docs/fuzzing.md.
#
#   scripts/fuzz.sh --smoke [SECS] [TARGET...]   each target SECS (default 20) s:
#                                                the harnesses build and run (CI)
#   scripts/fuzz.sh --run SECS [TARGET...]       each target SECS s, one after
#                                                the other, logs in fuzz/logs/
#   scripts/fuzz.sh --list                       the targets
#
# Starts from the committed seeds (fuzz/seeds/<target>) and keeps what it
# finds in fuzz/corpus/<target> (not committed). A crash stops the script
# with the input in fuzz/artifacts/<target>/: minimize it with
# `cargo +nightly fuzz tmin -O <target> <file>`, fix the bug, and commit the
# minimized input to tests/fixtures/fuzz/<target>/ (the normal test suite
# replays it).
#
# Needs a nightly toolchain (rustup's); without one, the stable toolchain
# with RUSTC_BOOTSTRAP=1 accepts the same flags. cargo-fuzz is installed
# (pinned) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_FUZZ_VERSION=0.13.2
MODE=${1:---smoke}
shift || true
SECS=20
case $MODE in
  --smoke) [[ ${1:-} =~ ^[0-9]+$ ]] && { SECS=$1; shift; } ;;
  --run) [[ ${1:-} =~ ^[0-9]+$ ]] || { echo "usage: $0 --run SECS [TARGET...]" >&2; exit 2; }
         SECS=$1; shift ;;
  --list) ;;
  *) echo "usage: $0 --smoke [SECS] | --run SECS | --list [TARGET...]" >&2; exit 2 ;;
esac
say() { printf '\033[1m[fuzz]\033[0m %s\n' "$*" >&2; }

FUZZ=${CARGO_HOME:-$HOME/.cargo}/bin/cargo-fuzz
if [ "$("$FUZZ" --version 2>/dev/null || true)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
  say "installing cargo-fuzz $CARGO_FUZZ_VERSION"
  cargo install --locked --quiet cargo-fuzz --version "=$CARGO_FUZZ_VERSION"
fi
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  CARGO=(cargo +nightly)
else
  say "no nightly toolchain: using stable with RUSTC_BOOTSTRAP=1"
  export RUSTC_BOOTSTRAP=1
  CARGO=(cargo)
fi

cd fuzz
ALL=$("${CARGO[@]}" fuzz list)
if [ "$MODE" = --list ]; then echo "$ALL"; exit 0; fi
TARGETS=("$@")
((${#TARGETS[@]})) || mapfile -t TARGETS <<<"$ALL"

# -O: the release profile of fuzz/Cargo.toml as written (our crates with
# overflow checks and debug assertions, dependencies as they ship), not
# debug assertions forced on every crate.
say "building ${#TARGETS[@]} targets"
"${CARGO[@]}" fuzz build -O
mkdir -p logs
# Inputs of the C ABI target make engines with up to 64 worker threads,
# and ASan's shadow memory counts toward RSS: 4 GiB is the leash.
FLAGS=(-max_total_time="$SECS" -rss_limit_mb=4096 -timeout=30 -print_final_stats=1)
# A long run goes on past a finding (each in its own forked child) so that
# one run reports them all.
[ "$MODE" = --run ] && FLAGS+=(-fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1)
failed=()
marker=$(mktemp)
trap 'rm -f "$marker"' EXIT
for t in "${TARGETS[@]}"; do
  mkdir -p "corpus/$t"
  touch "$marker"
  say "$t: $SECS s"
  "${CARGO[@]}" fuzz run -O "$t" "corpus/$t" "seeds/$t" -- "${FLAGS[@]}" >"logs/$t.log" 2>&1 || true
  found=$(find "artifacts/$t" -type f -newer "$marker" 2>/dev/null | wc -l)
  # the last status line: executions, coverage, corpus
  grep -E '^#[0-9]+' "logs/$t.log" | tail -n 1 >&2 || true
  if ((found)); then
    tail -n 40 "logs/$t.log" >&2
    say "$t: $found failing input(s) in fuzz/artifacts/$t/ (log: fuzz/logs/$t.log)"
    failed+=("$t")
  fi
done
if ((${#failed[@]})); then
  say "findings in: ${failed[*]}"
  exit 1
fi
say "all ${#TARGETS[@]} targets ran $SECS s each without a finding"
