"""Qwen3-TTS whole-pipeline benchmark, PyTorch side (`qwen-tts` 0.1.1), and
the full-size random checkpoint both sides load.

The counterpart of `examples/bench_qwen3_stream.rs`. Builds the released
0.6B shape (the talker config of `examples/bench_qwen3.rs`; the 12 Hz
decoder at `Qwen3TTSTokenizerV2DecoderConfig`'s defaults, which are the
released ones, with `codebook_dim` 512) with random weights, and with
`--checkpoint DIR` first writes them in the upstream layout (config.json,
model.safetensors, speech_tokenizer/, and the fixtures' tokenizer, whose
special-token ids the config points at) unless DIR holds one already, so
the Rust side loads the very same weights (the build is seeded, so later
runs rebuild them rather than load a second copy).

Then speaks a 3-sentence paragraph as a sentence-splitting server would
with upstream's API: per sentence, `generate` (x-vector voice, English,
upstream's sampling; at most `--frames` frames each; upstream's generate
cannot mask end of speech, which random weights rarely pick, so the real
frame counts are reported) and the
decoder on its codes. Upstream has no streaming: a sentence's audio exists
once its generate and decode are done, so the first audio comes after the
first sentence's. Reports time to first audio, RTF, peak RSS; medians of
`--runs` after a warm-up. Runs in the virtualenv of scripts/qwen3_fixtures.sh:

    .venv-qwenref/bin/python scripts/bench_qwen3_stream_reference.py \
        --checkpoint /tmp/qwen3-bench --frames 25 --runs 2
    cargo run --release --example bench_qwen3_stream -- /tmp/qwen3-bench --frames 25 --runs 2

The checkpoint takes ~3.5 GB on disk.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_qwen3_reference import ROOT, import_reference, released_config  # noqa: E402

SENTENCES = [
    "The weather today is bright and warm across the whole valley.",
    "Farmers are out early to bring the harvest in before the rain.",
    "By evening the streets fill with music and the smell of bread.",
]
TOKENS = {
    "im_start_token_id": "<|im_start|>",
    "im_end_token_id": "<|im_end|>",
    "tts_pad_token_id": "<tts_pad>",
    "tts_bos_token_id": "<tts_text_bos>",
    "tts_eos_token_id": "<tts_text_eod>",
}
TOKENIZER_FILES = ["vocab.json", "merges.txt", "tokenizer_config.json"]


def added_token(tok_cfg: dict, content: str) -> int:
    for k, v in tok_cfg["added_tokens_decoder"].items():
        if v["content"] == content:
            return int(k)
    raise KeyError(content)


def build(tok_dir: Path):
    Qwen3TTSConfig, Qwen3TTSForConditionalGeneration = import_reference()
    from qwen_tts.core.tokenizer_12hz.configuration_qwen3_tts_tokenizer_v2 import (
        Qwen3TTSTokenizerV2DecoderConfig,
    )
    from qwen_tts.core.tokenizer_12hz.modeling_qwen3_tts_tokenizer_v2 import (
        Qwen3TTSTokenizerV2Decoder,
    )

    raw = released_config()
    tok_cfg = json.loads((tok_dir / "tokenizer_config.json").read_text())
    for key, token in TOKENS.items():
        raw[key] = added_token(tok_cfg, token)
    raw["tts_model_type"] = "base"
    top = {k: v for k, v in raw.items() if k not in ("talker_config", "speaker_encoder_config")}
    cfg = Qwen3TTSConfig(talker_config=raw["talker_config"],
                         speaker_encoder_config=raw["speaker_encoder_config"], **top)
    torch.manual_seed(0)
    model = Qwen3TTSForConditionalGeneration(cfg).eval()
    dcfg = Qwen3TTSTokenizerV2DecoderConfig(codebook_dim=512, head_dim=64)
    dcfg._attn_implementation = "eager"
    decoder = Qwen3TTSTokenizerV2Decoder(dcfg).eval()
    with torch.no_grad():
        # the initialization leaves codebooks at 0 and usage at 0 (0 / 0)
        for name, p in decoder.named_buffers():
            if name.endswith("cluster_usage"):
                p.fill_(1.0)
            elif name.endswith("embedding_sum"):
                p.normal_()
    return cfg, model, dcfg, decoder


def write_checkpoint(out: Path, tok_dir: Path, cfg, model, dcfg, decoder) -> None:
    from safetensors.torch import save_file

    (out / "speech_tokenizer").mkdir(parents=True, exist_ok=True)
    config = cfg.to_dict()
    (out / "config.json").write_text(json.dumps(config, indent=1))
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(out / "model.safetensors"))
    dstate = {f"decoder.{k}": v.contiguous() for k, v in decoder.state_dict().items()}
    save_file(dstate, str(out / "speech_tokenizer" / "model.safetensors"))
    speech = {"model_type": "qwen3_tts_tokenizer_12hz", "output_sample_rate": 24000,
              "decoder_config": dcfg.to_dict()}
    (out / "speech_tokenizer" / "config.json").write_text(json.dumps(speech, indent=1))
    for f in TOKENIZER_FILES:
        shutil.copy(tok_dir / f, out / f)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", type=Path, help="write the random checkpoint here (once)")
    ap.add_argument("--frames", type=int, default=25, help="frames per sentence")
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--json-out")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    tok_dir = ROOT / "tests" / "fixtures" / "qwen3" / "tokenizer"
    t0 = time.perf_counter()
    cfg, model, dcfg, decoder = build(tok_dir)
    print(f"built the 0.6B model and the 12 Hz decoder in {time.perf_counter() - t0:.1f} s")
    if args.checkpoint and not (args.checkpoint / "speech_tokenizer" / "model.safetensors").is_file():
        t0 = time.perf_counter()
        write_checkpoint(args.checkpoint, tok_dir, cfg, model, dcfg, decoder)
        print(f"wrote {args.checkpoint} in {time.perf_counter() - t0:.1f} s")
    elif args.checkpoint:
        # the build is seeded: the same weights as written (checked on a few
        # tensors, without loading a second copy, which would double the
        # peak memory measured here)
        from safetensors import safe_open

        state = model.state_dict()
        with safe_open(str(args.checkpoint / "model.safetensors"), "pt") as f:
            for key in sorted(f.keys())[:: max(1, len(state) // 8)]:
                if not torch.equal(f.get_tensor(key), state[key]):
                    sys.exit(f"{args.checkpoint} holds other weights ({key}): remove it")
        print(f"{args.checkpoint} holds these weights")

    from transformers import Qwen2Tokenizer

    tokenizer = Qwen2Tokenizer.from_pretrained(str(tok_dir))
    ids = [
        torch.tensor([tokenizer.encode(f"<|im_start|>assistant\n{s}<|im_end|>\n"
                                       "<|im_start|>assistant\n")])
        for s in SENTENCES
    ]
    spk = torch.ones(cfg.talker_config.hidden_size)

    def speak(input_id: torch.Tensor) -> tuple[torch.Tensor, int]:
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
                # N new tokens make N - 1 frames (see bench_qwen3_reference.py)
                max_new_tokens=args.frames + 1,
            )
            c = codes[0]
            wav = decoder(c.t().unsqueeze(0))
        return wav, c.shape[0]

    ttfas, rtfs, frames = [], [], 0
    for run in range(args.runs + 1):
        t0 = time.perf_counter()
        first, samples, frames = None, 0, 0
        for input_id in ids:
            wav, n = speak(input_id)
            samples += wav.shape[-1]
            frames += n
            if first is None:
                first = time.perf_counter() - t0
        total = time.perf_counter() - t0
        audio = samples / 24000
        print(f"run {run}: first audio {first:.2f} s, {audio:.2f} s of audio in {total:.2f} s "
              f"(RTF {total / audio:.2f}), {frames} frames{' (warm-up)' if run == 0 else ''}")
        if run > 0:
            ttfas.append(first)
            rtfs.append(total / audio)
    med = lambda v: sorted(v)[len(v) // 2]  # noqa: E731
    summary = {
        "impl": "pytorch",
        "version": f"torch {torch.__version__}, qwen-tts 0.1.1",
        "threads": torch.get_num_threads(),
        "sentences": len(SENTENCES),
        "frames": frames,
        "runs": args.runs,
        "first_audio_s": med(ttfas),
        "rtf": med(rtfs),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    print(json.dumps(summary))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(summary))


if __name__ == "__main__":
    main()
