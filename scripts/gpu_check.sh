#!/usr/bin/env bash
# The GPU path, checked in one carried command on a GPU machine.
#
#   bash scripts/gpu_check.sh prepare   # here (no GPU needed): builds and packs
#   bash scripts/gpu_check.sh run       # there, from the repository root
#   bash scripts/gpu_check.sh run bench profile   # only these steps (of parity,
#                                                 # bench, profile, throughput, qwen3)
#
# `prepare` builds the `cuda` examples (scripts/build_cuda.sh: gpu_parity,
# bench_f5, bench_throughput), prepares the full-size F5 benchmark inputs and
# the reference's pure-Python packages (scripts/bench_f5.sh --prepare-only,
# which needs .venv-f5ref), and puts everything the GPU machine needs into
# gpu-check/ (ignored by git, about 30 MB): the xz-packed binaries,
# espeak-ng's libsonic (the binaries link it), and the benchmark folder.
#
# `run` needs the NVIDIA driver, the CUDA 13 libraries (PyTorch 2.11+cu130's
# nvidia wheels do) and that python3 with torch for the reference; no Rust,
# no network. With the device tool, from the repository root:
#
#   run(command="bash scripts/gpu_check.sh run", carry=["gpu-check"], timeout_s=540)
#
# It runs, each step bounded in time and its output kept under $OUT (or
# gpu-check/out when OUT is unset):
#   1. nvidia-smi, then gpu_parity: F5 (tiny and real v1 Base shape, batched
#      flow steps against each flow alone) and Vocos on CUDA in f32 and bf16
#      against the CPU in f32 (tolerances in examples/gpu_parity.rs), with
#      the fused attention kernel (the default on CUDA), then again with the
#      tensor ops instead (ISHOWTTS_CUDA_ATTENTION=tensor), which the later
#      steps then use if the kernel failed;
#   2. the F5 benchmark at the real v1 Base shape with synthetic weights,
#      10 s of new audio, NFE 16 and 32, f16, against PyTorch (f5-tts 1.1.22)
#      on the same GPU in the same run: RTF, time per flow step, GPU memory;
#      then where one flow step's time goes, in bf16 (bench_f5 --profile);
#   3. the throughput benchmark: most concurrent real-time F5 streams at
#      NFE 16 through the engine, batching off (max_batch 1) and on (64), and
#      the time to first audio at that load (GPU_CHECK_THROUGHPUT_ARGS adds
#      flags);
#   4. qwen3: the Qwen3-TTS talker side at the released 0.6B shape (made-up
#      weights), time per frame and prefill in bf16 and f32, and the qwen-tts
#      reference in bf16 when the machine's Python has transformers.
# Exits non-zero when a step failed; the others still run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PACK="$ROOT/gpu-check"
EXAMPLES=(gpu_parity bench_f5 bench_throughput bench_qwen3)
F5_FLAGS=(--full --seconds 10)
say() { printf '\033[1m[gpu_check]\033[0m %s\n' "$*" >&2; }

prepare() {
    bash scripts/build_cuda.sh
    bash scripts/bench_f5.sh "${F5_FLAGS[@]}" --prepare-only
    rm -rf "$PACK"
    mkdir -p "$PACK/bin" "$PACK/lib"
    for ex in "${EXAMPLES[@]}"; do
        cp target-cuda/dist/"$ex".xz "$PACK/bin/"
    done
    cp -L "$(ldconfig -p | awk '/libsonic.so.0 / { print $NF; exit }')" "$PACK/lib/libsonic.so.0"
    cp -r target/bench_f5 "$PACK/bench_f5"
    # qwen-tts itself (pure Python) for the Qwen3 reference, when the GPU
    # machine's Python has transformers
    mkdir -p "$PACK/qwen3/pydeps"
    cp -r "$(.venv-qwenref/bin/python -c 'import os, importlib.util as u; print(os.path.dirname(u.find_spec("qwen_tts").origin))')" \
        "$PACK/qwen3/pydeps/"
    find "$PACK/qwen3/pydeps" -name __pycache__ -prune -exec rm -rf {} +
    rm -f "$PACK"/bench_f5/{ours,ref}.* "$PACK"/bench_f5/gpu_mem.log
    git rev-parse --short HEAD > "$PACK/commit"
    say "packed $(du -sh "$PACK" | cut -f1) into $PACK (commit $(cat "$PACK/commit"))"
}

run() {
    [ -d "$PACK/bin" ] || { echo "gpu_check: no $PACK; run 'prepare' first and carry it" >&2; exit 2; }
    local out="${OUT:-$PACK/out}" work=/tmp/gpu-check failed=()
    mkdir -p "$out" "$work/bin"
    exec > >(tee "$out/gpu_check.log") 2>&1
    say "commit $(cat "$PACK/commit" 2>/dev/null || echo '?'), $(date -u +%FT%TZ)"
    for ex in "${EXAMPLES[@]}"; do
        xz -dc "$PACK/bin/$ex.xz" > "$work/bin/$ex"
        chmod +x "$work/bin/$ex"
    done
    # CUDA 13 libraries: the toolkit's, else PyTorch's nvidia wheels
    local libs
    libs=$(python3 -c 'import glob, os, nvidia
print(":".join(sorted(glob.glob(os.path.join(nvidia.__path__[0], "*", "lib")))))' 2>/dev/null || true)
    export LD_LIBRARY_PATH="$PACK/lib:/usr/local/cuda/lib64${libs:+:$libs}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    if ldd "$work/bin/gpu_parity" | grep 'not found'; then
        echo "gpu_check: libraries missing (above)" >&2
        exit 1
    fi
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv || true
    python3 -c 'import torch; print("torch", torch.__version__, torch.cuda.get_device_name(0))' || true

    step() { # name, seconds, command...
        local name=$1 limit=$2
        shift 2
        say "== $name (at most ${limit} s)"
        local t0=$SECONDS
        if timeout "$limit" "$@"; then
            say "$name: ok in $((SECONDS - t0)) s"
        else
            say "$name: FAILED (exit $?) after $((SECONDS - t0)) s"
            failed+=("$name")
            return 1
        fi
    }

    wanted() { [ -z "$STEPS" ] || [[ " $STEPS " == *" $1 "* ]]; }

    if wanted parity; then
        # the fused attention kernel (the default): should it fail, the steps
        # after this one fall back to the tensor ops
        if ! step parity 150 "$work/bin/gpu_parity" --device cuda --dtype f32,bf16; then
            export ISHOWTTS_CUDA_ATTENTION=tensor
            say "the steps below use the tensor ops for attention"
        fi
        step parity-tensor-attention 150 env ISHOWTTS_CUDA_ATTENTION=tensor \
            "$work/bin/gpu_parity" --device cuda --dtype f32,bf16 || true
    fi

    # f16 on both sides: upstream's GPU dtype (its sampler builds the time
    # grid in the model's dtype, which bf16 cannot keep strictly increasing)
    if wanted bench; then
        step bench_f5 200 env BENCH_F5_BIN="$work/bin/bench_f5" BENCH_F5_WORK="$PACK/bench_f5" \
            BENCH_F5_PYTHON=python3 bash scripts/bench_f5.sh "${F5_FLAGS[@]}" --device cuda \
            --dtype f16 --nfe 16,32 --runs 3 --warmup 1 || true
        cp "$PACK"/bench_f5/ours.json "$out/bench_f5_ours.json" 2>/dev/null || true
        cp "$PACK"/bench_f5/ref.json "$out/bench_f5_ref.json" 2>/dev/null || true
    fi

    # where a flow step's time goes, in the engine's GPU dtype
    wanted profile && step profile 90 "$work/bin/bench_f5" --work "$PACK/bench_f5/work" \
        "${F5_FLAGS[@]}" --device cuda --dtype bf16 --nfe 16 --runs 1 --warmup 0 --profile 10 \
        --json-out "$work/profile.json" || true

    # batching off, then on (up to 64 streams a step)
    wanted throughput && for batch in 1 64; do
        # shellcheck disable=SC2086  # a list of flags
        step "throughput-batch$batch" 120 "$work/bin/bench_throughput" --model f5 --device cuda \
            --nfe 16 --sentences 2 --trial-seconds 20 --search-seconds 80 --max-batch "$batch" \
            --scratch "$work/scratch" \
            --json-out "$out/throughput_f5_cuda_batch$batch.json" ${GPU_CHECK_THROUGHPUT_ARGS:-} || true
    done

    # Qwen3-TTS talker side at the released 0.6B shape (made-up weights):
    # per frame and prefill, bf16 and f32; the PyTorch reference when this
    # machine's Python has transformers (qwen-tts itself is carried)
    if wanted qwen3; then
        for dtype in bf16 f32; do
            step "qwen3-$dtype" 120 "$work/bin/bench_qwen3" --device cuda --dtype "$dtype" \
                --frames 40 --runs 3 --json-out "$out/qwen3_ours_$dtype.json" || true
        done
        if python3 -c 'import transformers' 2>/dev/null; then
            step qwen3-reference-bf16 200 env PYTHONPATH="$PACK/qwen3/pydeps" python3 \
                scripts/bench_qwen3_reference.py --device cuda --dtype bf16 --frames 40 --runs 3 \
                --json-out "$out/qwen3_ref_bf16.json" || true
        else
            say "qwen3 reference: no transformers on this machine, skipped"
        fi
    fi

    if ((${#failed[@]})); then
        say "failed: ${failed[*]}"
        exit 1
    fi
    say "all steps passed"
}

case "${1:-}" in
    prepare) prepare ;;
    run) shift; STEPS="$*"; run ;;
    -h|--help|"") sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; [ -n "${1:-}" ] ;;
    *) echo "usage: $0 prepare|run" >&2; exit 2 ;;
esac
