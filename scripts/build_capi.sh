#!/usr/bin/env bash
# Builds the C ABI: libtts.so / libtts.a (release), checks that the
# committed include/tts.h is what cbindgen (pinned below) generates from
# capi/src (fails when stale: run with --update to rewrite it, then commit
# it), and writes tts.pc for pkg-config beside the library.
#
#   scripts/build_capi.sh [--update]
#   export PKG_CONFIG_PATH=<target dir>/release    # printed at the end
#   cc app.c $(pkg-config --cflags --libs tts)
#
# The target dir is $CARGO_TARGET_DIR, or cargo's own default.
set -euo pipefail
cd "$(dirname "$0")/.."

CBINDGEN_VERSION=0.29.4
UPDATE=0
case "${1:-}" in
  --update) UPDATE=1 ;;
  "") ;;
  *) echo "usage: $0 [--update]" >&2; exit 2 ;;
esac
say() { printf '\033[1m[capi]\033[0m %s\n' "$*" >&2; }

# 1. cbindgen, at exactly the pinned version (installed once, into ~/.cargo/bin).
CBINDGEN=${CARGO_HOME:-$HOME/.cargo}/bin/cbindgen
if [ "$("$CBINDGEN" --version 2>/dev/null || true)" != "cbindgen $CBINDGEN_VERSION" ]; then
  say "installing cbindgen $CBINDGEN_VERSION"
  cargo install --locked --quiet cbindgen --version "=$CBINDGEN_VERSION"
fi

# 2. The header: regenerate into a temporary file and compare.
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
"$CBINDGEN" --quiet --config cbindgen.toml --crate ishowtts-capi --output "$tmp" capi
if ((UPDATE)); then
  if ! cmp -s "$tmp" include/tts.h; then
    cp "$tmp" include/tts.h
    say "include/tts.h rewritten: commit it"
  fi
elif ! diff -u include/tts.h "$tmp" >&2; then
  echo "error: include/tts.h is stale (the diff above is what capi/src generates);" \
       "run scripts/build_capi.sh --update and commit include/tts.h" >&2
  exit 1
fi

# 3. The library.
say "building libtts (release)"
cargo build --release --locked -p ishowtts-capi
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps --locked |
  sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
LIBDIR=$TARGET_DIR/release
for f in libtts.so libtts.a; do
  test -f "$LIBDIR/$f" || { echo "error: $LIBDIR/$f was not built" >&2; exit 1; }
done

# 4. pkg-config file for this build (uninstalled: paths point into the
# checkout and the target dir; the rpath lets programs run in place).
version=$(cargo metadata --format-version 1 --no-deps --locked |
  grep -o '"name":"ishowtts-capi","version":"[^"]*"' | sed 's/.*"version":"\(.*\)"/\1/')
sed -e "s|@PREFIX@|$PWD|g" -e "s|@LIBDIR@|$LIBDIR|g" -e "s|@INCLUDEDIR@|$PWD/include|g" \
    -e "s|@VERSION@|$version|g" capi/tts.pc.in > "$LIBDIR/tts.pc"
say "built $LIBDIR/libtts.so and libtts.a, header include/tts.h is current"
say "pkg-config: export PKG_CONFIG_PATH=$LIBDIR"
