#!/usr/bin/env bash
# Builds the `cuda` feature (the ishowtts CLI and the examples a GPU machine
# runs: bench_f5, gpu_parity, bench_throughput) on a
# machine with no GPU and no system CUDA, for copying to a GPU machine.
# nvcc, the headers and the link-time libraries come from NVIDIA's PyPI wheels
# in .venv-cuda; the output goes to target-cuda/ (the default target/ is left
# alone). Idempotent: a second run only checks and lets cargo say it is fresh.
#
#   bash scripts/build_cuda.sh              # -> target-cuda/release/{examples/*,ishowtts}
#                                           #    + target-cuda/dist/<example>.xz (to carry)
#   eval "$(bash scripts/build_cuda.sh --env)"  # only the toolkit; exports for
#                                               # your own cargo command (clippy, ...)
#
# CUDA version. The wheels are those of cuda-toolkit 13.0.2, the set PyTorch
# 2.11 (cu130) depends on. The binary is linked against the CUDA libraries
# (candle turns on cudarc's `dynamic-linking`; candle-kernels links cudart),
# so the loader needs libcuda.so.1 (the driver), libcudart.so.13,
# libcublas.so.13 (with its libcublasLt.so.13) and libcurand.so.10: a GPU
# machine with that PyTorch has them in its nvidia wheels. candle's kernels
# are embedded as PTX and JIT-compiled by the driver, which accepts only PTX
# ISA versions it knows: nvcc 13.0 writes ISA 9.0, loadable by drivers >= 580
# (CUDA 13.0); a newer nvcc would need a newer driver. nvidia-cuda-nvcc
# leaves its nvidia-nvvm (cicc, which writes the PTX) unpinned, hence the pin
# below. Override with CUDA_TOOLKIT_VERSION / CUDA_NVVM_VERSION (the latter
# equal to that toolkit's nvcc version).
#
# libcuda.so (the driver) has no wheel: a stub with the driver API's symbols
# (taken from cudarc's bindings) is generated for linking; each of its
# functions returns CUDA_ERROR_STUB_LIBRARY. At run time the real driver's
# libcuda.so.1 must be found instead. To run the binary here (CPU only; asking
# for CUDA then fails with that error), put the stub on the library path:
#   LD_LIBRARY_PATH=.venv-cuda/cuda/lib64:.venv-cuda/cuda/lib64/stubs target-cuda/release/examples/bench_f5 --help
#
# Environment: CUDA_COMPUTE_CAP (default 90, H100/H200: nothing to detect it
# from here; candle-kernels' builder turns 90 into sm_90a, code for compute
# capability 9.0 only), CARGO_TARGET_DIR (default target-cuda), CUDA_VENV
# (default .venv-cuda).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

CUDA_TOOLKIT_VERSION=${CUDA_TOOLKIT_VERSION:-13.0.2}
CUDA_NVVM_VERSION=${CUDA_NVVM_VERSION:-13.0.88}
VENV=${CUDA_VENV:-$ROOT/.venv-cuda}
ENV_ONLY=0
case "${1:-}" in
    --env) ENV_ONLY=1 ;;
    "") ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: $0 [--env]" >&2; exit 2 ;;
esac
say() { printf '\033[1m[cuda]\033[0m %s\n' "$*" >&2; }

# 1. The wheels (re-installed only when the pins change).
SPEC="cuda-toolkit[nvcc,crt,cccl,cudart,nvrtc,cublas,curand]==$CUDA_TOOLKIT_VERSION nvidia-nvvm==$CUDA_NVVM_VERSION"
if [ "$(cat "$VENV/.ishowtts-spec" 2>/dev/null || true)" != "$SPEC" ]; then
    say "installing the CUDA $CUDA_TOOLKIT_VERSION wheels into $VENV (about 1.3 GB)"
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
    # shellcheck disable=SC2086  # SPEC is a list of requirements
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check $SPEC
    echo "$SPEC" > "$VENV/.ishowtts-spec"
fi
WHEEL_ROOT="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/nvidia/cu${CUDA_TOOLKIT_VERSION%%.*}"
[ -x "$WHEEL_ROOT/bin/nvcc" ] || { echo "build_cuda: no nvcc in $WHEEL_ROOT" >&2; exit 1; }

# 2. One CUDA root that cudarc's and candle-kernels' build scripts accept:
# bin/nvcc, include/, nvvm/, and lib64/ with the unversioned names the linker
# wants (the wheels ship only libX.so.N) plus lib64/stubs/libcuda.so.
CUDA_ROOT="$VENV/cuda"
mkdir -p "$CUDA_ROOT/lib64/stubs"
for d in bin include nvvm; do ln -sfn "$WHEEL_ROOT/$d" "$CUDA_ROOT/$d"; done
for lib in "$WHEEL_ROOT"/lib/lib*.so.*; do
    name=$(basename "$lib")
    ln -sfn "$lib" "$CUDA_ROOT/lib64/$name"
    ln -sfn "$lib" "$CUDA_ROOT/lib64/${name%%.so.*}.so"
done
STUB="$CUDA_ROOT/lib64/stubs/libcuda.so"
if [ ! -f "$STUB" ]; then
    CUDARC_VERSION=$(awk '/^name = "cudarc"/ { getline; gsub(/[^0-9.]/, ""); print }' Cargo.lock)
    cargo fetch --locked -q
    BINDINGS=$(ls "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/"cudarc-$CUDARC_VERSION"/src/driver/sys/mod.rs | head -1)
    say "generating the libcuda stub from cudarc $CUDARC_VERSION's bindings"
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    # 34 = CUDA_ERROR_STUB_LIBRARY, what NVIDIA's own stub answers.
    grep -o 'pub unsafe fn cu[A-Za-z0-9_]*' "$BINDINGS" | sed 's/.* //' | sort -u \
        | sed 's/.*/int &(void) { return 34; }/' > "$tmp/stub.c"
    cc -shared -fPIC -O1 -Wl,-soname,libcuda.so.1 -o "$tmp/libcuda.so" "$tmp/stub.c"
    mv "$tmp/libcuda.so" "$STUB"
fi
# The loader looks for the soname; only for running here without a driver.
ln -sfn libcuda.so "$CUDA_ROOT/lib64/stubs/libcuda.so.1"

export CUDA_HOME="$CUDA_ROOT" CUDA_PATH="$CUDA_ROOT" CUDA_ROOT
export PATH="$CUDA_ROOT/bin:$PATH"
export CUDA_COMPUTE_CAP=${CUDA_COMPUTE_CAP:-90}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target-cuda}
if ((ENV_ONLY)); then
    for v in CUDA_HOME CUDA_PATH CUDA_ROOT PATH CUDA_COMPUTE_CAP CARGO_TARGET_DIR; do
        printf 'export %s=%q\n' "$v" "${!v}"
    done
    exit 0
fi

# 3. The build.
say "nvcc $("$CUDA_ROOT/bin/nvcc" --version | sed -n 's/.*release \([0-9.]*\).*/\1/p'), sm_$CUDA_COMPUTE_CAP, into $CARGO_TARGET_DIR"
EXAMPLES=(bench_f5 gpu_parity bench_throughput bench_qwen3)
cargo build --release --locked -p ishowtts --features cuda "${EXAMPLES[@]/#/--example=}"
cargo build --release --locked -p ishowtts-cli --features cuda --bin ishowtts
for bin in "$CARGO_TARGET_DIR/release/examples/bench_f5" "$CARGO_TARGET_DIR/release/ishowtts"; do
    say "$bin ($(du -h "$bin" | cut -f1)); needs at run time:"
    # what the loader must find on the GPU machine (libcuda.so.1: the driver)
    readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/  \1/p' >&2
done

# 4. The examples to carry: about 140 MB each as built (DWARF line tables,
# candle's PTX, the GGUF kernels' SASS), 57 MB without the DWARF (the
# symbols stay, for backtraces), about 7 MB xz-compressed.
DIST="$CARGO_TARGET_DIR/dist"
mkdir -p "$DIST"
for ex in "${EXAMPLES[@]}"; do
    BIN="$CARGO_TARGET_DIR/release/examples/$ex"
    if [ ! -f "$DIST/$ex.xz" ] || [ "$BIN" -nt "$DIST/$ex.xz" ]; then
        objcopy --strip-debug "$BIN" "$DIST/$ex"
        xz -T0 -6 -f "$DIST/$ex"
    fi
    say "to carry: $DIST/$ex.xz ($(du -h "$DIST/$ex.xz" | cut -f1)); there: xz -dk $ex.xz"
done
