"""Qwen3-TTS talker-side benchmark, PyTorch side (`qwen-tts` 0.1.1).

The counterpart of `examples/bench_qwen3.rs`: the released 0.6B shape
(the same config, read from that file), random weights (PyTorch's own
initialization: speed does not depend on the values), the same prompt length
and the same number of frames, through `Qwen3TTSForConditionalGeneration.
generate` with upstream's sampling defaults.

Per frame = (time of `generate` making F frames - time of one making one
frame) / (F - 1), which leaves out the prompt prefill as the Rust side does;
the prefill is the one-frame time less a frame. Runs in the virtualenv of
`scripts/qwen3_fixtures.sh`:

    .venv-qwenref/bin/python scripts/bench_qwen3_reference.py --frames 40 --runs 3

(`scripts/bench_qwen3.sh talker` runs both sides and prints the ratios.) A run whose
talker picks end of speech early (random weights: rare) is reported with its
real frame count.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import re
import resource
import sys
import time
import types
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent

# Audio and tokenizer packages qwen-tts imports at module level but the timed
# path never calls: stubbed when missing (a GPU machine with torch and
# transformers but not qwen-tts's other requirements).
OPTIONAL_MODULES = ["librosa", "librosa.filters", "soundfile", "sox", "onnxruntime", "einops"]


class _Stub(types.ModuleType):
    def __getattr__(self, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)

        def unavailable(*_a, **_k):
            raise RuntimeError(f"{self.__name__}.{attr} is a stub (not installed)")

        return unavailable


def import_reference():
    stubbed = []
    for name in OPTIONAL_MODULES:
        parent = name.rpartition(".")[0]
        try:
            if parent in stubbed:
                raise ImportError(name)
            importlib.import_module(name)
        except Exception:
            mod = _Stub(name)
            mod.__path__ = []
            sys.modules[name] = mod
            if parent:
                setattr(sys.modules[parent], name.rpartition(".")[2], mod)
            stubbed.append(name)
    if stubbed:
        print("stubbed (not installed, not used):", ", ".join(stubbed))
    # qwen_tts/__init__ loads the inference wrappers (gradio, audio I/O);
    # only the model package is needed
    for pkg in ("qwen_tts",):
        if pkg not in sys.modules:
            spec = importlib.util.find_spec(pkg)
            mod = importlib.util.module_from_spec(spec)
            sys.modules[pkg] = mod
    from qwen_tts.core.models import Qwen3TTSConfig, Qwen3TTSForConditionalGeneration

    return Qwen3TTSConfig, Qwen3TTSForConditionalGeneration


def released_config() -> dict:
    """RELEASED_0_6B from examples/bench_qwen3.rs (one source of the shape)."""
    src = (ROOT / "examples/bench_qwen3.rs").read_text()
    m = re.search(r'RELEASED_0_6B: &str = r#"(.*?)"#;', src, re.S)
    return json.loads(m.group(1))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=40)
    ap.add_argument("--text-tokens", type=int, default=24)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="f32", choices=["f32", "bf16", "f16"])
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--json-out")
    args = ap.parse_args()
    Qwen3TTSConfig, Qwen3TTSForConditionalGeneration = import_reference()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    dtype = {"f32": torch.float32, "bf16": torch.bfloat16, "f16": torch.float16}[args.dtype]

    raw = released_config()
    top = {k: v for k, v in raw.items() if k not in ("talker_config", "speaker_encoder_config")}
    cfg = Qwen3TTSConfig(talker_config=raw["talker_config"],
                         speaker_encoder_config=raw["speaker_encoder_config"], **top)
    t0 = time.perf_counter()
    model = Qwen3TTSForConditionalGeneration(cfg).eval().to(args.device, dtype)
    print(f"built the 0.6B model in {time.perf_counter() - t0:.1f} s")

    assistant, newline = 77091, 198
    ids = [cfg.im_start_token_id, assistant, newline]
    ids += [1000 + 37 * i for i in range(args.text_tokens)]
    ids += [cfg.im_end_token_id, newline, cfg.im_start_token_id, assistant, newline]
    input_id = torch.tensor([ids], device=args.device)
    spk = torch.ones(1024, device=args.device, dtype=dtype)

    def generate(max_new_tokens: int) -> tuple[float, int]:
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        t = time.perf_counter()
        with torch.no_grad():
            codes, _ = model.generate(
                input_ids=[input_id],
                voice_clone_prompt={
                    "ref_spk_embedding": [spk],
                    "x_vector_only_mode": [True],
                    "icl_mode": [False],
                    "ref_code": None,
                },
                languages=["english"],
                max_new_tokens=max_new_tokens,
            )
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        return time.perf_counter() - t, codes[0].shape[0]

    prefills, frames = [], []
    made = args.frames
    for run in range(args.runs + 1):
        # max_new_tokens N makes N - 1 frames (the last first code is never
        # expanded); N = 1 makes none, which generate() cannot return
        t_one, _ = generate(2)
        t_all, made = generate(args.frames + 1)
        if run > 0:
            frame = (t_all - t_one) / max(made - 1, 1)
            frames.append(frame)
            prefills.append(t_one - frame)
    prefill = sorted(prefills)[len(prefills) // 2]
    frame = sorted(frames)[len(frames) // 2]
    print(f"prompt prefill: {prefill * 1e3:.1f} ms")
    print(f"per frame (talker + 15 predictor steps): {frame * 1e3:.1f} ms, "
          f"talker-side RTF {frame * 12.5:.3f} ({made} frames in the last run)")
    summary = {
        "impl": "pytorch",
        "version": f"torch {torch.__version__}, qwen-tts 0.1.1",
        "device": args.device,
        "dtype": args.dtype,
        "threads": torch.get_num_threads(),
        "frames": made,
        "text_tokens": args.text_tokens,
        "runs": args.runs,
        "prefill_s": prefill,
        "frame_s": frame,
        "talker_rtf": frame * 12.5,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    print(json.dumps(summary))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(summary))


if __name__ == "__main__":
    main()
