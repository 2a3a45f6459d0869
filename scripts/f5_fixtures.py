"""Parity fixtures for the F5-TTS v1 (DiT + CFM) and Vocos candle port.

Run through `bash scripts/f5_fixtures.sh` (it makes the pinned virtualenv
.venv-f5ref). Rewrites tests/fixtures/f5/ deterministically from the
reference PyTorch packages (f5-tts, vocos) with synthetic weights; see
tests/fixtures/f5/README.md for every file and tensor.

    .venv-f5ref/bin/python scripts/f5_fixtures.py [--no-full] [--out DIR]

--no-full skips the full-size models (full_v1, vocos_full), leaving the
files already there untouched.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
from importlib.metadata import version as pkg_version
from pathlib import Path

import numpy as np
import torch

torch.set_num_threads(1)
torch.set_num_interop_threads(1)

import f5_tts.model.cfm as cfm_module  # noqa: E402
from f5_tts.infer.utils_infer import load_checkpoint  # noqa: E402
from f5_tts.model import CFM, DiT  # noqa: E402
from f5_tts.model.modules import GRN, MelSpec  # noqa: E402
from f5_tts.model.utils import convert_char_to_pinyin, get_tokenizer, list_str_to_idx  # noqa: E402
from importlib.resources import files  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402
from torch import nn  # noqa: E402
from vocos import Vocos  # noqa: E402
from vocos.modules import ConvNeXtBlock as VocosConvNeXtBlock  # noqa: E402

# the synthetic-weight generator shared with src/models/synthetic.rs
from synthetic_weights import self_test as synth_self_test, synth_values  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def weight_rule(module: nn.Module, pname: str, param: torch.Tensor) -> tuple[float, float]:
    """(scale, offset) for one parameter; recorded in the manifest."""
    if isinstance(module, GRN):  # F5 ConvNeXtV2 GRN gamma / beta [1, 1, d]
        return 0.1, 0.0
    if isinstance(module, VocosConvNeXtBlock) and pname == "gamma":  # layer scale
        return 0.1, 0.0
    if isinstance(module, nn.LayerNorm) and pname == "weight":
        return 0.1, 1.0
    if isinstance(module, nn.Embedding):
        return 1.0, 0.0
    if param.ndim == 1:
        assert pname == "bias", f"unclassified 1-D parameter {pname} in {type(module)}"
        return 0.1, 0.0
    fan_in = int(np.prod(param.shape[1:]))
    return 1.0 / math.sqrt(fan_in), 0.0


def apply_synthetic_weights(model: nn.Module, seed: int) -> dict:
    """Overwrite every parameter in place; return the manifest (state dict order)."""
    params = {}
    for mod_name, module in model.named_modules():
        for pname, p in module.named_parameters(recurse=False):
            full = f"{mod_name}.{pname}" if mod_name else pname
            params[full] = (module, pname, p)
    entries = []
    for key in model.state_dict(keep_vars=True).keys():
        if key not in params:
            continue  # buffer: keeps its upstream value
        module, pname, p = params[key]
        scale, offset = weight_rule(module, pname, p)
        vals = synth_values(key, list(p.shape), seed, scale, offset)
        with torch.no_grad():
            p.copy_(torch.from_numpy(vals))
        entries.append({"name": key, "shape": list(p.shape), "scale": scale, "offset": offset})
    assert len(entries) == len(params), "parameter missing from the state dict"
    return {"seed": seed, "tensors": entries}


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=1)
        f.write("\n")


def save_io(path: Path, tensors: dict, metadata: dict | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    out = {}
    for k, v in tensors.items():
        v = v.detach().cpu().clone().contiguous()
        assert v.dtype in (torch.float32, torch.int64), (k, v.dtype)
        assert torch.isfinite(v.float()).all(), f"{k} is not finite"
        out[k] = v
    save_file(out, str(path), metadata=metadata)


def gen(seed: int) -> torch.Generator:
    g = torch.Generator()
    g.manual_seed(seed)
    return g


VOCAB_PATH = Path(str(files("f5_tts").joinpath("infer/examples/vocab.txt")))

MEL_KWARGS = dict(
    n_fft=1024,
    hop_length=256,
    win_length=1024,
    n_mel_channels=100,
    target_sample_rate=24000,
    mel_spec_type="vocos",
)

F5_SEED = 0
VOCOS_SEED = 1

REF_FRAMES = 40
TOTAL_FRAMES = 64  # ref + ~24 generated
REF_TEXT = "Some call me nature. "
GEN_TEXT = "你好，世界！"

VOCOS_FRAMES = 20


def test_signal() -> torch.Tensor:
    """1.0 s at 24 kHz: chirp + harmonics + seeded noise, a 0.1 s digital silence."""
    sr = 24000
    n = sr
    t = np.arange(n, dtype=np.float64) / sr
    f0, f1 = 80.0, 9000.0
    k = math.log(f1 / f0)
    chirp = np.sin(2 * math.pi * f0 * (np.exp(k * t) - 1.0) / k)
    harm = sum(np.sin(2 * math.pi * 220.0 * h * t + 0.3 * h) / h for h in range(1, 6))
    noise = np.random.default_rng(1234).standard_normal(n)
    env = np.minimum(1.0, t / 0.02) * np.minimum(1.0, (1.0 - t) / 0.02 + 1e-3)
    x = env * (0.25 * chirp + 0.15 * harm + 0.01 * noise)
    x[12000:14400] = 0.0  # exact zeros: exercises the log clamp floor
    return torch.from_numpy(x.astype(np.float32))


# ---------------------------------------------------------------------------
# tokens
# ---------------------------------------------------------------------------

SENTENCES = [
    # Chinese
    "你好，世界！",
    "今天天气很好。",
    "我们一起去公园散步吧。",
    "他的头发很长，长得也很高。",
    "银行门口种了一行树，我们行走在树下。",
    "这件事很重要，请重新考虑。",
    "我吃了饭了，你了解了吗？",
    "他跑得很快，我得走了，得到了帮助。",
    "一个人，一样，一天，第一，一一道来。",
    "不要，不对，不是，不好，不客气。",
    "你好，老师好，我很好。",
    "女孩穿着绿色的裙子去上学。",
    "我去旅游，需要准备很多东西。",
    "绿女驴去吕鱼雨。",
    "小孩儿在公园里玩儿。",
    "这儿那儿哪儿都有花儿。",
    "长城是中国的象征，长大了就长高了。",
    "音乐让人快乐。",
    "他还了钱，还没走。",
    "数一数有多少个数。",
    "重庆的火锅很好吃，重复重要的事情。",
    "行不行？行！",
    "春眠不觉晓，处处闻啼鸟。",
    "床前明月光，疑是地上霜。",
    "一九四九年十月一日。",
    "一段很长很长的句子，用来测试分词器在处理较长文本时的表现，包括逗号、句号。",
    "嗯，哦，啊？",
    # English
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.",
    "I can't believe it's already 5 o'clock.",
    "Dr. Smith lives at 221B Baker Street.",
    "\"Quoted\" text and 'single quotes'.",
    "Curly \u201cdouble\u201d and \u2018single\u2019 quotes.",
    "Semicolons; colons: commas, periods.",
    "Wait... what?! Really?",
    "Numbers: 1, 22, 333, 4,444.5 and 3.14159.",
    "Email me at test@example.com (or not).",
    "100% sure \u2014 it costs $5.99 & more.",
    "Tabs\tand  double  spaces.",
    "UPPER lower MiXeD case.",
    "caf\u00e9 na\u00efve r\u00e9sum\u00e9 fa\u00e7ade.",
    "rock'n'roll, state-of-the-art, iPhone15Pro.",
    "  leading and trailing spaces  ",
    "Some call me nature, others call me mother nature.",
    # mixed
    "我喜欢用iPhone拍照。",
    "今天是2024年5月1日。",
    "他说：\u201cHello！\u201d然后走了。",
    "F5-TTS是一个很好的模型。",
    "请打开Wi-Fi，然后连接到网络。",
    "OK，我们开始吧。",
    "这个app的UI设计得很好看。",
    "价格是￥100，大约$14。",
    "我的电话是13800138000。",
    "Some call me nature. 你好，世界！",
    # full-width / CJK punctuation
    "你好；我很好：谢谢！",
    "\u201c你好\u201d，他说。\u2018嗯\u2019。",
    "什么？！真的吗……",
    "《红楼梦》是一本书。",
    "【注意】（括号）、顿号。",
    "第１２３号，ＡＢＣ。",
    "A;B；C",
    # emoji and other scripts
    "我爱你\u2764\ufe0f！",
    "Great job \U0001f44d\U0001f389",
    "今天好开心\U0001f60a。",
    "日本語のテキストも少し。",
    "한국어 문장.",
    # edge cases
    "第一行\n第二行",
    " ",
    "",
]


def make_tokens(vocab: dict) -> list:
    out = []
    for text in SENTENCES:
        tokens = convert_char_to_pinyin([text], polyphone=True)[0]
        ids = [vocab.get(c, 0) for c in tokens]
        if tokens:
            ids_up = list_str_to_idx([tokens], vocab)[0].tolist()
            assert ids_up == ids, (text, ids_up, ids)
        out.append({"text": text, "tokens": tokens, "ids": ids})
    return out


# ---------------------------------------------------------------------------
# F5 models
# ---------------------------------------------------------------------------

TINY_V1 = dict(
    dim=64, depth=2, heads=2, ff_mult=2, text_dim=32, conv_layers=1,
    text_mask_padding=True, pe_attn_head=None,
)
TINY_BASE = dict(
    dim=64, depth=2, heads=2, ff_mult=2, text_dim=32, conv_layers=1,
    text_mask_padding=False, pe_attn_head=1,
)
FULL_V1 = dict(
    dim=1024, depth=22, heads=16, ff_mult=2, text_dim=512, conv_layers=4,
    text_mask_padding=True, pe_attn_head=None,
)


def build_cfm(dit_kwargs: dict, vocab: dict) -> CFM:
    transformer = DiT(**dit_kwargs)
    model = CFM(transformer=transformer, mel_spec_kwargs=dict(MEL_KWARGS), vocab_char_map=vocab)
    return model.eval()


class Recorder:
    """Hooks that keep the output of a module the first time it runs."""

    def __init__(self):
        self.values = {}
        self.handles = []

    def add(self, module: nn.Module, key: str):
        def hook(_m, _inp, out):
            if key not in self.values:
                self.values[key] = out.detach().clone()

        self.handles.append(module.register_forward_hook(hook))

    def remove(self):
        for h in self.handles:
            h.remove()


def run_sample(model: CFM, cond, text_tokens, duration, steps, cfg, sway, seed):
    """CFM.sample with the initial noise and the time grid captured.

    torch.randn is wrapped (only while sample runs) so the exact y0 tensor
    that CFM.sample draws after torch.manual_seed(seed) is recorded; odeint is
    wrapped to record the time grid t (after EPSS/uniform and sway).
    """
    captured = {"noise": [], "t": []}
    real_randn = torch.randn
    real_odeint = cfm_module.odeint

    def randn_rec(*args, **kwargs):
        x = real_randn(*args, **kwargs)
        captured["noise"].append(x.detach().clone())
        return x

    def odeint_rec(fn, y0, t, **kw):
        captured["t"].append(t.detach().clone())
        return real_odeint(fn, y0, t, **kw)

    torch.randn = randn_rec
    cfm_module.odeint = odeint_rec
    try:
        out, traj = model.sample(
            cond=cond,
            text=[text_tokens],
            duration=duration,
            steps=steps,
            cfg_strength=cfg,
            sway_sampling_coef=sway,
            seed=seed,
        )
    finally:
        torch.randn = real_randn
        cfm_module.odeint = real_odeint
    assert len(captured["noise"]) == 1 and len(captured["t"]) == 1
    noise = captured["noise"][0].unsqueeze(0)  # [1, duration, 100]
    assert torch.equal(noise, traj[0]), "recorded noise is not the trajectory start"
    return out, traj, noise, captured["t"][0]


def f5_io(model: CFM, vocab: dict, ref_mel: torch.Tensor, seed_base: int) -> dict:
    """All io tensors of one F5 model. ref_mel: [1, REF_FRAMES, 100]."""
    dit = model.transformer
    dim = dit.dim
    tokens = convert_char_to_pinyin([REF_TEXT + GEN_TEXT], polyphone=True)[0]
    ids = list_str_to_idx([tokens], vocab)  # [1, nt] int64
    assert ids.dtype == torch.int64
    n = TOTAL_FRAMES
    io = {"text.ids": ids}

    with torch.no_grad():
        io["text_embed.out"] = dit.text_embed(ids, seq_len=n, drop_text=False)
        io["text_embed.out_drop"] = dit.text_embed(ids, seq_len=n, drop_text=True)

        x = torch.randn(1, n, 100, generator=gen(seed_base + 1))
        cond = torch.zeros(1, n, 100)
        cond[:, :REF_FRAMES] = ref_mel
        t = torch.tensor([0.37], dtype=torch.float32)
        io["dit.x"], io["dit.cond"], io["dit.t"] = x, cond, t

        rec = Recorder()
        rec.add(dit.time_embed, "time_embed.out")
        rec.add(dit.input_embed, "input_embed.out")
        rec.add(dit.transformer_blocks[0], "block0.out")
        out_cond = dit(x=x, cond=cond, text=ids, time=t, drop_audio_cond=False, drop_text=False)
        rec.remove()
        out_uncond = dit(x=x, cond=cond, text=ids, time=t, drop_audio_cond=True, drop_text=True)
        dit.clear_cache()
        io["dit.out_cond"], io["dit.out_uncond"] = out_cond, out_uncond
        for k, v in rec.values.items():
            io[k] = v
        assert io["time_embed.out"].shape == (1, dim)
        assert io["input_embed.out"].shape == (1, n, dim)
        assert io["block0.out"].shape == (1, n, dim)

    for prefix, steps, seed in (("sample", 4, 1000 + seed_base), ("sample7", 7, 2000 + seed_base)):
        cfg, sway = 2.0, -1.0
        out, traj, noise, tgrid = run_sample(model, ref_mel, tokens, n, steps, cfg, sway, seed)
        assert out.shape == (1, n, 100) and tgrid.shape == (steps + 1,)
        io[f"{prefix}.cond"] = ref_mel
        io[f"{prefix}.ids"] = ids
        io[f"{prefix}.duration"] = torch.tensor([n], dtype=torch.int64)
        io[f"{prefix}.noise"] = noise
        io[f"{prefix}.steps"] = torch.tensor([steps], dtype=torch.int64)
        io[f"{prefix}.cfg"] = torch.tensor([cfg], dtype=torch.float32)
        io[f"{prefix}.sway"] = torch.tensor([sway], dtype=torch.float32)
        io[f"{prefix}.seed"] = torch.tensor([seed], dtype=torch.int64)
        io[f"{prefix}.t"] = tgrid
        io[f"{prefix}.trajectory"] = traj  # [steps+1, 1, n, 100]
        io[f"{prefix}.out"] = out
    return io


def io_metadata() -> dict:
    # a single key: safetensors writes __metadata__ from a hash map, so with
    # several keys their order (and the file bytes) would change run to run
    return {"text": REF_TEXT + GEN_TEXT}


def dit_config(dit_kwargs: dict, vocab_size: int) -> dict:
    kw = dict(dit_kwargs)
    kw["text_num_embeds"] = vocab_size
    kw["mel_dim"] = 100
    return {"dit": kw, "mel": dict(MEL_KWARGS), "seed": F5_SEED}


def write_tiny_f5(out_dir: Path, flavour: str, dit_kwargs: dict, vocab: dict, vocab_size: int,
                  ref_mel: torch.Tensor, legacy_mel_keys: bool, seed_base: int) -> None:
    d = out_dir / flavour
    ckpt_dir = d / "F5TTS_tiny"
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    kwargs = dict(dit_kwargs, text_num_embeds=vocab_size, mel_dim=100)
    model = build_cfm(kwargs, vocab)
    manifest = apply_synthetic_weights(model, F5_SEED)
    write_json(d / "manifest.json", manifest)
    write_json(d / "config.json", dit_config(dit_kwargs, vocab_size))
    shutil.copyfile(VOCAB_PATH, ckpt_dir / "vocab.txt")

    # upstream checkpoint layout: EMA state dict (ema_pytorch.EMA(include_online_model=False))
    sd = {}
    sd["initted"] = torch.tensor(True)  # ema_pytorch buffer (bool scalar)
    sd["step"] = torch.tensor(1250000, dtype=torch.int64)  # ema_pytorch buffer (int64 scalar)
    for k, v in model.state_dict().items():
        sd["ema_model." + k] = v.detach().clone().contiguous()
    if legacy_mel_keys:
        # buffers of the pre-305e3ea MelSpec (torchaudio MelSpectrogram) that old
        # checkpoints still carry; load_checkpoint deletes them
        import torchaudio

        mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=24000, n_fft=1024, win_length=1024, hop_length=256, n_mels=100,
            power=1, center=True, normalized=False, norm=None,
        )
        sd["ema_model.mel_spec.mel_stft.mel_scale.fb"] = mel.mel_scale.fb.detach().clone().contiguous()
        sd["ema_model.mel_spec.mel_stft.spectrogram.window"] = mel.spectrogram.window.detach().clone().contiguous()
    ckpt_path = ckpt_dir / "model_1250000.safetensors"
    save_file(sd, str(ckpt_path))

    io = f5_io(model, vocab, ref_mel, seed_base)

    # self-check: the checkpoint loads through upstream load_checkpoint and reproduces
    fresh = build_cfm(kwargs, vocab)
    fresh = load_checkpoint(fresh, str(ckpt_path), "cpu", dtype=torch.float32, use_ema=True)
    with torch.no_grad():
        again = fresh.transformer(x=io["dit.x"], cond=io["dit.cond"], text=io["text.ids"], time=io["dit.t"])
    assert torch.equal(again, io["dit.out_cond"]), "checkpoint reload mismatch"
    save_io(d / "io.safetensors", io, io_metadata())
    print(f"  {flavour}: {sum(int(np.prod(e['shape'])) for e in manifest['tensors'])} params")


def write_full_f5(out_dir: Path, vocab: dict, vocab_size: int, ref_mel: torch.Tensor) -> None:
    d = out_dir / "full_v1"
    kwargs = dict(FULL_V1, text_num_embeds=vocab_size, mel_dim=100)
    model = build_cfm(kwargs, vocab)
    manifest = apply_synthetic_weights(model, F5_SEED)
    write_json(d / "manifest.json", manifest)
    write_json(d / "config.json", dit_config(FULL_V1, vocab_size))
    io = f5_io(model, vocab, ref_mel, 30)
    save_io(d / "io.safetensors", io, io_metadata())
    print(f"  full_v1: {sum(int(np.prod(e['shape'])) for e in manifest['tensors'])} params")


# ---------------------------------------------------------------------------
# Vocos
# ---------------------------------------------------------------------------

VOCOS_YAML = """feature_extractor:
  class_path: vocos.feature_extractors.MelSpectrogramFeatures
  init_args:
    sample_rate: 24000
    n_fft: 1024
    hop_length: 256
    n_mels: 100
    padding: center

backbone:
  class_path: vocos.models.VocosBackbone
  init_args:
    input_channels: 100
    dim: {dim}
    intermediate_dim: {inter}
    num_layers: {layers}

head:
  class_path: vocos.heads.ISTFTHead
  init_args:
    dim: {dim}
    n_fft: 1024
    hop_length: 256
    padding: center
"""


def write_vocos(out_dir: Path, name: str, dim: int, inter: int, layers: int, mel: torch.Tensor,
                save_weights: bool) -> None:
    d = out_dir / name
    d.mkdir(parents=True, exist_ok=True)
    cfg_path = d / "config.yaml"
    cfg_path.write_text(VOCOS_YAML.format(dim=dim, inter=inter, layers=layers), encoding="utf-8")
    voc = Vocos.from_hparams(str(cfg_path)).eval()
    manifest = apply_synthetic_weights(voc, VOCOS_SEED)
    write_json(d / "manifest.json", manifest)
    io = {"vocos.mel": mel}
    rec = Recorder()
    rec.add(voc.backbone.embed, "vocos.embed_out")
    rec.add(voc.backbone, "vocos.backbone_out")
    rec.add(voc.head.out, "vocos.head_linear_out")
    with torch.no_grad():
        audio = voc.decode(mel)
    rec.remove()
    io.update(rec.values)
    io["vocos.audio"] = audio
    assert io["vocos.backbone_out"].shape == (1, mel.shape[-1], dim)
    assert audio.shape == (1, (mel.shape[-1] - 1) * 256), audio.shape
    if save_weights:
        sd = {k: v.detach().clone().contiguous() for k, v in voc.state_dict().items()}
        bin_path = d / "pytorch_model.bin"
        torch.save(sd, str(bin_path))
        # self-check: loads like f5_tts.infer.utils_infer.load_vocoder(is_local=True)
        again = Vocos.from_hparams(str(cfg_path))
        again.load_state_dict(torch.load(str(bin_path), map_location="cpu", weights_only=True))
        again.eval()
        with torch.no_grad():
            assert torch.equal(again.decode(mel), audio), "vocos reload mismatch"
    save_io(d / "io.safetensors", io)
    print(f"  {name}: {sum(int(np.prod(e['shape'])) for e in manifest['tensors'])} params")


# ---------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(ROOT / "tests" / "fixtures" / "f5"))
    ap.add_argument("--no-full", action="store_true")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    synth_self_test()
    vocab, vocab_size = get_tokenizer(str(VOCAB_PATH), "custom")
    assert vocab[" "] == 0 and vocab_size == 2545, vocab_size

    print("tokens.json")
    write_json(out / "tokens.json", make_tokens(vocab))

    print("mel")
    audio = test_signal()
    mel_spec = MelSpec(**MEL_KWARGS)
    with torch.no_grad():
        mel = mel_spec(audio.unsqueeze(0))  # [1, 100, frames]
    from vocos.feature_extractors import MelSpectrogramFeatures

    with torch.no_grad():
        vfeat = MelSpectrogramFeatures(sample_rate=24000, n_fft=1024, hop_length=256, n_mels=100,
                                       padding="center")(audio.unsqueeze(0))
    assert mel.shape == (1, 100, 1 + audio.shape[0] // 256)
    assert not torch.equal(mel, vfeat)
    save_io(out / "mel" / "io.safetensors", {"mel.audio": audio, "mel.out": mel, "mel.vocos_features": vfeat})

    ref_mel = mel[:, :, :REF_FRAMES].permute(0, 2, 1).contiguous()  # [1, REF_FRAMES, 100]
    voc_mel = mel[:, :, :VOCOS_FRAMES].contiguous()  # [1, 100, F]

    print("F5 tiny")
    write_tiny_f5(out, "tiny_v1", TINY_V1, vocab, vocab_size, ref_mel, legacy_mel_keys=False, seed_base=10)
    write_tiny_f5(out, "tiny_base", TINY_BASE, vocab, vocab_size, ref_mel, legacy_mel_keys=True, seed_base=20)
    print("Vocos tiny")
    write_vocos(out, "vocos_tiny", 64, 128, 2, voc_mel, save_weights=True)
    if not args.no_full:
        print("Vocos full")
        write_vocos(out, "vocos_full", 512, 1536, 8, voc_mel, save_weights=False)
        print("F5 full (slow)")
        write_full_f5(out, vocab, vocab_size, ref_mel)

    versions = {p: pkg_version(p) for p in ("f5-tts", "vocos", "torch", "torchaudio", "numpy", "safetensors",
                                            "rjieba", "pypinyin", "x-transformers", "torchdiffeq")}
    write_json(out / "versions.json", versions)
    print("versions:", versions)


if __name__ == "__main__":
    sys.exit(main())
