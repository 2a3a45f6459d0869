"""Parity fixtures for the Qwen3-TTS-12Hz candle port (talker + 12 Hz decoder).

Run through `bash scripts/qwen3_fixtures.sh` (it makes the pinned virtualenv
.venv-qwenref). Rewrites tests/fixtures/qwen3/ deterministically from the
reference PyTorch package qwen-tts 0.1.1, using TINY instances of the real
architecture with synthetic weights (real checkpoints are not needed):

    tests/fixtures/qwen3/decoder/{config.json,model.safetensors,io.safetensors}
        Qwen3TTSTokenizerV2Decoder (the codes -> 24 kHz waveform part of the
        12 Hz speech tokenizer): split RVQ 1+15, causal convs, sliding-window
        transformer, 2x ConvNeXt upsample, 4 SnakeBeta decoder blocks.
    tests/fixtures/qwen3/talker/{config.json,model.safetensors,io.safetensors}
        Qwen3TTSForConditionalGeneration, tts_model_type "base": talker,
        code predictor, speaker encoder (ECAPA-TDNN), plus a greedy
        `generate` run in x-vector voice-clone mode.
    tests/fixtures/qwen3/versions.json, tests/fixtures/qwen3/README.md

    .venv-qwenref/bin/python scripts/qwen3_fixtures.py [--out DIR]

Weights: every parameter is overwritten with scripts/synthetic_weights.py
(`synth_values(name, shape, seed, scale, offset)`, the generator shared with
src/models/synthetic.rs); the per-tensor (scale, offset) comes from
`weight_rule` below and is stored in each model.safetensors' metadata
("manifest"). model.safetensors holds the upstream tensor names, so a Rust
test can load it directly.

Determinism: one torch thread, eager attention, deterministic algorithms,
greedy decoding; safetensors metadata has a single key. Two runs give
byte-identical files.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from importlib.metadata import version as pkg_version
from pathlib import Path

import numpy as np
import torch

torch.set_num_threads(1)
torch.set_num_interop_threads(1)
torch.use_deterministic_algorithms(True)
torch.manual_seed(0)

from safetensors.torch import save_file  # noqa: E402
from torch import nn  # noqa: E402

from qwen_tts.core.models import Qwen3TTSConfig, Qwen3TTSForConditionalGeneration  # noqa: E402
from qwen_tts.core.models import modeling_qwen3_tts as M  # noqa: E402
from qwen_tts.core.tokenizer_12hz import modeling_qwen3_tts_tokenizer_v2 as T  # noqa: E402
from qwen_tts.core.tokenizer_12hz.configuration_qwen3_tts_tokenizer_v2 import (  # noqa: E402
    Qwen3TTSTokenizerV2DecoderConfig,
)

# the synthetic-weight generator shared with src/models/synthetic.rs
from synthetic_weights import self_test as synth_self_test, synth_values  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

# seeds of the random weights (`--seed S`: the decoder S, the talker S + 1;
# the committed fixtures are S = 30)
DECODER_SEED = 30
TALKER_SEED = 31

# ---------------------------------------------------------------------------
# tiny configurations (real structure, small sizes)
# ---------------------------------------------------------------------------

CODEBOOK = 64  # decoder codebook_size == code predictor vocab == talker code range
NUM_Q = 16  # 1 semantic + 15 acoustic quantizers == num_code_groups

DECODER_CONFIG = dict(
    codebook_size=CODEBOOK,
    codebook_dim=16,  # RVQ works in codebook_dim/2 = 8, 1x1 conv back to 16
    hidden_size=32,
    latent_dim=24,
    max_position_embeddings=8000,
    rope_theta=10000,
    num_attention_heads=4,
    num_key_value_heads=4,
    head_dim=8,
    attention_bias=False,
    sliding_window=4,
    intermediate_size=48,
    hidden_act="silu",
    layer_scale_initial_scale=0.01,
    rms_norm_eps=1e-5,
    num_hidden_layers=2,
    num_quantizers=NUM_Q,
    upsample_rates=[8, 5, 4, 3],  # real rates: 4*480 = 1920 samples / frame
    upsampling_ratios=[2, 2],
    decoder_dim=32,  # divisible by 2**4: block widths 16, 8, 4, 2
    attention_dropout=0.0,
)
DECODER_FRAMES = 20
# chunked_decode with small chunks (upstream uses 300 / 25) so the fixture
# covers the chunk + left-context logic
CHUNK_SIZE = 8
LEFT_CONTEXT = 3

C_PAD, C_BOS, C_EOS = CODEBOOK + 100, CODEBOOK + 101, CODEBOOK + 102
C_THINK, C_NOTHINK, C_THINK_BOS, C_THINK_EOS = CODEBOOK + 106, CODEBOOK + 107, CODEBOOK + 108, CODEBOOK + 109
C_LANG = {"english": CODEBOOK + 2, "chinese": CODEBOOK + 7}

TEXT_VOCAB = 64
IM_START, IM_END, TTS_PAD, TTS_BOS, TTS_EOS = 58, 59, 61, 62, 63
ASSISTANT, NEWLINE = 40, 41

TALKER_CONFIG = dict(
    vocab_size=CODEBOOK + 1024,  # codes + the hard-coded 1024-id control band
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    head_dim=16,  # heads*head_dim = 64 != hidden 32, as in the real model (16*128 vs 1024)
    hidden_act="silu",
    max_position_embeddings=32768,
    rms_norm_eps=1e-6,
    rope_theta=1000000,
    rope_scaling={"rope_type": "default", "mrope_section": [4, 2, 2], "interleaved": True},
    attention_bias=False,
    num_code_groups=NUM_Q,
    text_hidden_size=48,
    text_vocab_size=TEXT_VOCAB,
    codec_eos_token_id=C_EOS,
    codec_think_id=C_THINK,
    codec_nothink_id=C_NOTHINK,
    codec_think_bos_id=C_THINK_BOS,
    codec_think_eos_id=C_THINK_EOS,
    codec_pad_id=C_PAD,
    codec_bos_id=C_BOS,
    spk_id={"tiny_speaker": CODEBOOK + 200},
    spk_is_dialect={"tiny_speaker": False},
    codec_language_id=dict(C_LANG),
    code_predictor_config=dict(
        vocab_size=CODEBOOK,
        hidden_size=24,  # != talker hidden: exercises small_to_mtp_projection
        intermediate_size=48,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        hidden_act="silu",
        max_position_embeddings=32768,
        rms_norm_eps=1e-6,
        rope_theta=1000000,
        attention_bias=False,
        num_code_groups=NUM_Q,
    ),
)
SPEAKER_CONFIG = dict(
    mel_dim=128,
    enc_dim=32,  # == talker hidden
    enc_channels=[32, 32, 32, 32, 96],  # last = 3 * 32 (MFA concatenates blocks 1..3)
    enc_kernel_sizes=[5, 3, 3, 3, 1],
    enc_dilations=[1, 2, 3, 4, 1],
    enc_attention_channels=16,
    enc_res2net_scale=8,
    enc_se_channels=16,
    sample_rate=24000,
)
TOP_CONFIG = dict(
    tokenizer_type="qwen3_tts_tokenizer_12hz",
    tts_model_size="tiny",
    tts_model_type="base",
    im_start_token_id=IM_START,
    im_end_token_id=IM_END,
    tts_pad_token_id=TTS_PAD,
    tts_bos_token_id=TTS_BOS,
    tts_eos_token_id=TTS_EOS,
)

# text track: <|im_start|>assistant\n TEXT <|im_end|>\n<|im_start|>assistant\n
TEXT_TOKENS = [5, 17, 33, 2, 48, 11, 26, 9]
GEN_FRAMES = 6  # max_new_tokens of the greedy generate runs (-> 5 frames, see README)
REF_TOKENS = [12, 19, 3]  # ICL reference text
REF_FRAMES = 4  # ICL reference codes

# ---------------------------------------------------------------------------
# synthetic weights
# ---------------------------------------------------------------------------


def fan_in_scale(fan_in: int) -> float:
    # uniform [-a, a] with a = sqrt(3 / fan_in): unit gain (std 1/sqrt(fan_in))
    return math.sqrt(3.0 / fan_in)


# extra gains on some decoder convs so the SnakeBeta stack stays O(1) and the
# waveform mostly stays inside the final clamp to [-1, 1]
RESIDUAL_CONV_GAIN = 0.25  # conv1 / conv2 of each residual unit
FINAL_CONV_GAIN = 0.1
FINAL_CONV_NAME = "decoder.6.conv.weight"  # decoder: [conv, 4 blocks, SnakeBeta, conv]  # last conv (-> 1 channel)


def weight_rule(module: nn.Module, pname: str, p: torch.Tensor, name: str = "") -> tuple[float, float]:
    """(scale, offset) of one parameter: value = offset + scale * u, u in [-1, 1)."""
    if isinstance(module, T.SnakeBeta):  # log alpha / log beta
        return 0.2, 0.0
    if isinstance(module, T.EuclideanCodebook):
        if pname == "cluster_usage":  # divisor, kept in [1, 2)
            return 0.5, 1.5
        return 1.0, 0.0  # embedding_sum
    if isinstance(module, T.Qwen3TTSTokenizerV2DecoderLayerScale):
        return 0.1, 0.3
    if isinstance(module, T.Qwen3TTSTokenizerV2ConvNeXtBlock) and pname == "gamma":
        return 0.1, 0.3
    if isinstance(module, (M.Qwen3TTSRMSNorm, T.Qwen3TTSTokenizerV2DecoderRMSNorm)):
        return 0.2, 1.0
    if isinstance(module, nn.LayerNorm):
        return (0.2, 1.0) if pname == "weight" else (0.1, 0.0)
    if isinstance(module, nn.Embedding):
        return 1.0, 0.0
    if pname == "bias":
        return 0.1, 0.0
    assert pname == "weight" and p.ndim >= 2, f"unclassified parameter {pname} in {type(module)}"
    if isinstance(module, nn.ConvTranspose1d):
        # weight [in, out/groups, k]: each output sample sees in * k / stride taps
        fan_in = p.shape[0] * p.shape[2] // module.stride[0]
        return fan_in_scale(fan_in), 0.0
    gain = 1.0
    if ".block." in name and (".conv1." in name or ".conv2." in name):
        gain = RESIDUAL_CONV_GAIN
    if name == FINAL_CONV_NAME:
        gain = FINAL_CONV_GAIN
    return gain * fan_in_scale(int(np.prod(p.shape[1:]))), 0.0


def apply_synthetic_weights(model: nn.Module, seed: int) -> list:
    params = {}
    for mod_name, module in model.named_modules():
        for pname, p in module.named_parameters(recurse=False):
            full = f"{mod_name}.{pname}" if mod_name else pname
            params[full] = (module, pname, p)
    entries = []
    for key in model.state_dict(keep_vars=True).keys():
        if key not in params:
            continue
        module, pname, p = params[key]
        scale, offset = weight_rule(module, pname, p, key)
        vals = synth_values(key, list(p.shape), seed, scale, offset)
        with torch.no_grad():
            p.copy_(torch.from_numpy(vals))
        entries.append([key, scale, offset])
    assert len(entries) == len(params), "parameter missing from the state dict"
    return entries


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=1, sort_keys=True)
        f.write("\n")


def save_tensors(path: Path, tensors: dict, metadata: dict | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    out = {}
    for k, v in tensors.items():
        v = v.detach().cpu().clone().contiguous()
        assert v.dtype in (torch.float32, torch.int64), (k, v.dtype)
        assert torch.isfinite(v.float()).all(), f"{k} is not finite"
        out[k] = v
    save_file(out, str(path), metadata=metadata)


def save_weights(path: Path, model: nn.Module, manifest: list, seed: int) -> None:
    sd = {k: v for k, v in model.state_dict().items()}
    # a single metadata key (safetensors writes __metadata__ from a hash map)
    meta = {"manifest": json.dumps({"seed": seed, "generator": "scripts/synthetic_weights.py",
                                    "tensors": manifest}, separators=(",", ":"))}
    save_tensors(path, sd, meta)


def config_dict(cfg) -> dict:
    d = cfg.to_dict()
    return d


class Recorder:
    """Forward hooks that keep the output of a module the first time it runs."""

    def __init__(self):
        self.values = {}
        self.handles = []

    def add(self, module: nn.Module, key: str):
        def hook(_m, _inp, out):
            if key not in self.values:
                if hasattr(out, "last_hidden_state"):
                    out = out.last_hidden_state
                if isinstance(out, tuple):  # decoder layers return (hidden_states, ...)
                    out = out[0]
                self.values[key] = out.detach().clone()

        self.handles.append(module.register_forward_hook(hook))

    def remove(self):
        for h in self.handles:
            h.remove()


def stats(name: str, t: torch.Tensor) -> None:
    t = t.float()
    print(f"  {name:40s} {str(list(t.shape)):18s} std {t.std().item():.4g} max|x| {t.abs().max().item():.4g}")


# ---------------------------------------------------------------------------
# decoder
# ---------------------------------------------------------------------------


def fixed_codes(frames: int, seed: int) -> torch.Tensor:
    g = torch.Generator()
    g.manual_seed(seed)
    return torch.randint(0, CODEBOOK, (1, NUM_Q, frames), generator=g, dtype=torch.int64)


def build_decoder() -> T.Qwen3TTSTokenizerV2Decoder:
    cfg = Qwen3TTSTokenizerV2DecoderConfig(**DECODER_CONFIG)
    cfg._attn_implementation = "eager"
    model = T.Qwen3TTSTokenizerV2Decoder(cfg).eval()
    model.config._attn_implementation = "eager"
    return model


def decoder_fixtures(out: Path) -> dict:
    d = out / "decoder"
    model = build_decoder()
    manifest = apply_synthetic_weights(model, DECODER_SEED)
    codes = fixed_codes(DECODER_FRAMES, 1234)
    io = {"codes": codes}
    with torch.no_grad():
        rec = Recorder()
        rec.add(model.pre_conv, "pre_conv")
        rec.add(model.pre_transformer.input_proj, "pre_transformer.input_proj")
        for i, layer in enumerate(model.pre_transformer.layers):
            rec.add(layer, f"pre_transformer.layers.{i}")
        rec.add(model.pre_transformer, "pre_transformer")
        for i, stage in enumerate(model.upsample):
            rec.add(stage[0], f"upsample.{i}.0")
            rec.add(stage[1], f"upsample.{i}")
        # decoder.0 (conv k7) and the 4 SnakeBeta/ConvTranspose blocks; the tail
        # (SnakeBeta, conv k7 -> 1, clamp) is checked through `audio`
        for i, block in enumerate(model.decoder[:-2]):
            rec.add(block, f"decoder.{i}")
        io["quantizer.rvq_first"] = model.quantizer.rvq_first.decode(codes[:, :1])
        io["quantizer.rvq_rest"] = model.quantizer.rvq_rest.decode(codes[:, 1:])
        io["quantizer"] = model.quantizer.decode(codes)
        audio = model(codes)
        rec.remove()
        for k, v in rec.values.items():
            io[k] = v
        io["audio"] = audio
        io["chunked_audio"] = model.chunked_decode(codes, chunk_size=CHUNK_SIZE, left_context_size=LEFT_CONTEXT)
        # sanity: the layer hooks on pre_transformer.layers return tensors [B, T, hidden]
    assert io["audio"].shape == (1, 1, DECODER_FRAMES * 1920), io["audio"].shape
    assert io["chunked_audio"].shape == io["audio"].shape
    print("decoder:")
    for k, v in io.items():
        if v.dtype == torch.float32:
            stats(k, v)
    frac = (io["audio"].abs() >= 1.0).float().mean().item()
    print(f"  audio clamped fraction {frac:.4f}")
    write_json(d / "config.json", config_dict(model.config))
    save_weights(d / "model.safetensors", model, manifest, DECODER_SEED)
    save_tensors(d / "io.safetensors", io, {"note": f"chunked_audio: chunk_size={CHUNK_SIZE} left_context_size={LEFT_CONTEXT}"})
    return io


# ---------------------------------------------------------------------------
# talker
# ---------------------------------------------------------------------------


def test_signal(n: int) -> torch.Tensor:
    """n samples at 24 kHz: two harmonics + chirp + seeded noise, |x| < 1."""
    sr = 24000
    t = np.arange(n, dtype=np.float64) / sr
    x = 0.3 * np.sin(2 * math.pi * 180.0 * t) + 0.15 * np.sin(2 * math.pi * 1130.0 * t + 0.4)
    x += 0.1 * np.sin(2 * math.pi * (200.0 * t + 4000.0 * t * t))
    x += 0.01 * np.random.default_rng(99).standard_normal(n)
    return torch.from_numpy(x.astype(np.float32))


def build_talker() -> Qwen3TTSForConditionalGeneration:
    cfg = Qwen3TTSConfig(
        talker_config=json.loads(json.dumps(TALKER_CONFIG)),
        speaker_encoder_config=dict(SPEAKER_CONFIG),
        **TOP_CONFIG,
    )
    for c in (cfg, cfg.talker_config, cfg.talker_config.code_predictor_config):
        c._attn_implementation = "eager"
    model = Qwen3TTSForConditionalGeneration(cfg).eval()
    for m in model.modules():
        if hasattr(m, "config") and hasattr(m.config, "_attn_implementation"):
            m.config._attn_implementation = "eager"
    return model


def run_generate(model, input_id, spk, icl, ref_id, ref_code, non_streaming_mode) -> dict:
    """Qwen3TTSForConditionalGeneration.generate, greedy, with the talker.generate inputs captured."""
    talker = model.talker
    captured = {}
    real_generate = talker.generate

    def generate_rec(**kw):
        for k in ("inputs_embeds", "attention_mask", "trailing_text_hidden", "tts_pad_embed"):
            captured[k] = kw[k].detach().clone()
        return real_generate(**kw)

    talker.generate = generate_rec
    try:
        codes_list, hidden_list = model.generate(
            input_ids=[input_id],
            ref_ids=[ref_id] if icl else None,
            voice_clone_prompt={
                "ref_spk_embedding": [spk],
                "x_vector_only_mode": [not icl],
                "icl_mode": [icl],
                "ref_code": [ref_code] if icl else None,
            },
            languages=["english"],
            non_streaming_mode=non_streaming_mode,
            max_new_tokens=GEN_FRAMES,
            do_sample=False,
            subtalker_dosample=False,
            top_k=50, top_p=1.0, temperature=0.9,
            subtalker_top_k=50, subtalker_top_p=1.0, subtalker_temperature=0.9,
            repetition_penalty=1.05,
        )
    finally:
        del talker.generate
    return {
        "prefill_embeds": captured["inputs_embeds"],
        "attention_mask": captured["attention_mask"],
        "trailing_text_hidden": captured["trailing_text_hidden"],
        "tts_pad_embed": captured["tts_pad_embed"],
        "codes": codes_list[0],  # [frames, 16]
        "talker_hidden": hidden_list[0],  # [frames, hidden]
    }


def talker_fixtures(out: Path) -> dict:
    d = out / "talker"
    model = build_talker()
    manifest = apply_synthetic_weights(model, TALKER_SEED)
    talker = model.talker
    cp = talker.code_predictor
    H = TALKER_CONFIG["hidden_size"]
    io = {}
    g = torch.Generator()
    g.manual_seed(4321)
    with torch.no_grad():
        # 1. text embedding + projection
        text_ids = torch.tensor([[IM_START, ASSISTANT, NEWLINE] + TEXT_TOKENS + [TTS_BOS, TTS_EOS, TTS_PAD]],
                                dtype=torch.int64)
        io["text_projection.ids"] = text_ids
        io["text_projection.embedding"] = talker.get_text_embeddings()(text_ids)
        io["text_projection.out"] = talker.text_projection(io["text_projection.embedding"])

        # 2. mel (extract_speaker_embedding's front end) + speaker encoder
        wav = test_signal(12000)
        mel = M.mel_spectrogram(wav.unsqueeze(0), n_fft=1024, num_mels=128, sampling_rate=24000,
                                hop_size=256, win_size=1024, fmin=0, fmax=12000).transpose(1, 2)
        io["mel.wav"] = wav
        io["mel.out"] = mel  # [1, frames, 128]
        spk_full = model.extract_speaker_embedding(wav.numpy(), 24000)
        assert torch.equal(spk_full, model.speaker_encoder(mel)[0])
        rec = Recorder()
        for i, b in enumerate(model.speaker_encoder.blocks):
            rec.add(b, f"speaker_encoder.blocks.{i}")
        rec.add(model.speaker_encoder.mfa, "speaker_encoder.mfa")
        rec.add(model.speaker_encoder.asp, "speaker_encoder.asp")
        io["speaker_encoder.out"] = model.speaker_encoder(mel)  # [1, enc_dim], input mel.out
        rec.remove()
        for k, v in rec.values.items():
            io[k] = v

        # 3. one talker forward on fixed inputs_embeds (prefill, positions 0..L-1)
        L = 9
        x = torch.randn(1, L, H, generator=g)
        io["talker.inputs_embeds"] = x
        rec = Recorder()
        for i, layer in enumerate(talker.model.layers):
            rec.add(layer, f"talker.layers.{i}")
        o = talker.model(inputs_embeds=x, use_cache=False)
        rec.remove()
        for k, v in rec.values.items():
            io[k] = v[0] if isinstance(v, tuple) else v
        io["talker.last_hidden"] = o.last_hidden_state  # after final norm
        io["talker.logits"] = talker.codec_head(o.last_hidden_state)
        # the same through the top-level forward (position ids from get_rope_index)
        ot = talker(inputs_embeds=x, attention_mask=torch.ones(1, L, dtype=torch.int64), use_cache=False)
        assert torch.allclose(ot.logits, io["talker.logits"], atol=1e-6, rtol=0)

        # 4. one code-predictor prefill: [talker hidden, codec_embedding(c0)] -> lm_head[0]
        c0 = torch.tensor([[7]], dtype=torch.int64)
        cp_in = torch.cat([o.last_hidden_state[:, -1:], talker.get_input_embeddings()(c0)], dim=1)
        io["code_predictor.c0"] = c0
        io["code_predictor.inputs_embeds"] = cp_in  # [1, 2, talker hidden]
        io["code_predictor.projected"] = cp.small_to_mtp_projection(cp_in)
        co = cp(inputs_embeds=cp_in, use_cache=False)
        io["code_predictor.logits"] = co.logits  # [1, 2, vocab], lm_head[0]
        cpo = cp.model(inputs_embeds=io["code_predictor.projected"], use_cache=False)
        io["code_predictor.last_hidden"] = cpo.last_hidden_state
        # every head on the same hidden states (head j predicts code j+1)
        io["code_predictor.all_heads"] = torch.stack(
            [cp.lm_head[j](cpo.last_hidden_state) for j in range(NUM_Q - 1)], dim=1)  # [1, 15, 2, vocab]

        # 5. greedy generate runs (do_sample False for talker and predictor)
        input_id = torch.tensor([[IM_START, ASSISTANT, NEWLINE] + TEXT_TOKENS +
                                 [IM_END, NEWLINE, IM_START, ASSISTANT, NEWLINE]], dtype=torch.int64)
        ref_id = torch.tensor([[IM_START, ASSISTANT, NEWLINE] + REF_TOKENS + [IM_END, NEWLINE]], dtype=torch.int64)
        ref_code = fixed_codes(REF_FRAMES, 777)[0].T.contiguous()  # [frames, 16]
        runs = [
            # x-vector voice clone, streaming text (the qwen-tts default for clone)
            ("generate", dict(icl=False, non_streaming_mode=False)),
            # x-vector, non-streaming text (all text in the prefill)
            ("generate_ns", dict(icl=False, non_streaming_mode=True)),
            # ICL voice clone: reference text + reference codes in the prefill
            ("generate_icl", dict(icl=True, non_streaming_mode=False)),
        ]
        for prefix, opt in runs:
            res = run_generate(model, input_id, spk_full, opt["icl"], ref_id, ref_code, opt["non_streaming_mode"])
            io[f"{prefix}.input_ids"] = input_id
            if opt["icl"]:
                io[f"{prefix}.ref_ids"] = ref_id
                io[f"{prefix}.ref_code"] = ref_code
            io[f"{prefix}.speaker_embedding"] = spk_full
            for k, v in res.items():
                io[f"{prefix}.{k}"] = v
    print("talker:")
    for k, v in io.items():
        if v.dtype == torch.float32:
            stats(k, v)
    for prefix, _ in runs:
        print(f"  {prefix}.codes\n", io[f"{prefix}.codes"])
    write_json(d / "config.json", config_dict(model.config))
    save_weights(d / "model.safetensors", model, manifest, TALKER_SEED)
    save_tensors(d / "io.safetensors", io, {"text_tokens": json.dumps(TEXT_TOKENS)})
    return io


# ---------------------------------------------------------------------------


def write_versions(out: Path) -> None:
    pkgs = ["qwen-tts", "torch", "torchaudio", "transformers", "accelerate", "librosa", "numpy",
            "scipy", "safetensors", "einops"]
    vers = {p: pkg_version(p) for p in pkgs}
    vers["python"] = "{}.{}.{}".format(*sys.version_info[:3])
    write_json(out / "versions.json", vers)


def main() -> None:
    global DECODER_SEED, TALKER_SEED
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(ROOT / "tests" / "fixtures" / "qwen3"))
    ap.add_argument("--seed", type=int, default=DECODER_SEED,
                    help="seed of the random weights (decoder S, talker S + 1)")
    args = ap.parse_args()
    DECODER_SEED, TALKER_SEED = args.seed, args.seed + 1
    out = Path(args.out)
    synth_self_test()
    decoder_fixtures(out)
    talker_fixtures(out)
    write_versions(out)


if __name__ == "__main__":
    main()
