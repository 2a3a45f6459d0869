"""F5-TTS benchmark, PyTorch side: the reference (f5-tts CFM.sample + Vocos)
on the same synthetic weights and inputs as `examples/bench_f5.rs`.

Driven by `scripts/bench_f5.sh` (see docs/benchmarks.md); four subcommands:

    prepare --work DIR [--full | --dim .. --depth .. --heads .. --ff-mult ..
            --text-dim .. --conv-layers ..] [--seconds 5] [--ref-seconds 3]
        Writes the shared inputs into DIR: config.json (the DiT shape),
        manifest.json (synthetic weights, same contract as
        src/models/synthetic.rs), inputs.safetensors (reference mel of a
        test signal, token ids of reference + new text, the initial noise),
        bench.json (frame counts, guidance settings) and vocos/ (the
        full-size Vocos config and manifest from tests/fixtures/f5/vocos_full).
        Needs the full reference environment (.venv-f5ref: f5-tts, vocos,
        torchaudio, rjieba, pypinyin).

    run --work DIR --json-out FILE --out FILE [--device cpu|cuda]
        [--dtype f32|bf16|f16] [--nfe 16,32] [--runs 3] [--warmup 1] [--threads N]
        Times CFM.sample at each NFE and the Vocos decode; writes the timings
        as JSON (the same format as the Rust side) and the mels / audio as
        safetensors. Needs only torch, numpy and the pure-Python packages of
        the reference (f5_tts, vocos, x_transformers, torchdiffeq, einops,
        einx, loguru, torch_einops_utils, frozendict, packaging): packages
        used only for text or audio features (rjieba, pypinyin, librosa,
        torchaudio, scipy) are replaced by stubs when missing, since the
        inputs come precomputed.

    compare --work DIR OURS.json REF.json
        Checks the two outputs agree (max relative error, printed) and prints
        the table with the ratios ours / reference.

    pack DIR
        Copies the pure-Python packages above from this interpreter's
        site-packages into DIR, with scripts/synthetic_weights.py (the
        weight generator `run` imports), for a machine (no network) whose
        Python has torch but not f5-tts: put DIR on its PYTHONPATH.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import math
import os
import platform
import shutil
import struct
import sys
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VOCOS_FIXTURE = ROOT / "tests" / "fixtures" / "f5" / "vocos_full"
SYNTHETIC_WEIGHTS = ROOT / "scripts" / "synthetic_weights.py"

SMALL = dict(dim=256, depth=4, heads=4, ff_mult=2, text_dim=128, conv_layers=2)
FULL = dict(dim=1024, depth=22, heads=16, ff_mult=2, text_dim=512, conv_layers=4)
SHAPE_KEYS = ("dim", "depth", "heads", "ff_mult", "text_dim", "conv_layers")

CFG_STRENGTH = 2.0
SWAY = -1.0
NOISE_SEED = 4242
HOP = 256
SAMPLE_RATE = 24000

REF_TEXT = "Some call me nature, others call me mother nature. "
GEN_SENTENCES = [
    "The quick brown fox jumps over the lazy dog near the river bank. ",
    "今天天气很好，我们一起去公园散步吧。",
    "Please call Stella and ask her to bring these things from the store. ",
    "他说这件事很重要，请重新考虑一下。",
]
CHARS_PER_SECOND = 14  # roughly the speaking rate F5's duration estimate assumes

PURE_PACKAGES = [
    "f5_tts", "vocos", "x_transformers", "torchdiffeq", "einops", "einx",
    "loguru", "torch_einops_utils", "frozendict", "packaging",
]
OPTIONAL_MODULES = [
    "rjieba", "pypinyin", "librosa", "librosa.filters", "torchaudio", "torchaudio.functional",
    "torchaudio.functional.functional", "torchaudio.transforms", "scipy", "scipy.integrate",
    "scipy.signal",
]


# ---------------------------------------------------------------------------
# safetensors without the safetensors package (f32 / i64 only)
# ---------------------------------------------------------------------------

_ST_DTYPES = {"F32": ("<f4", 4), "I64": ("<i8", 8)}


def st_save(path: Path, arrays: dict) -> None:
    import numpy as np

    header, blobs, offset = {}, [], 0
    for name, a in arrays.items():
        a = np.ascontiguousarray(a)
        if a.dtype == np.float32:
            dt = "F32"
        elif a.dtype == np.int64:
            dt = "I64"
        else:
            raise TypeError(f"{name}: dtype {a.dtype}")
        raw = a.astype(_ST_DTYPES[dt][0], copy=False).tobytes()
        header[name] = {"dtype": dt, "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def st_load(path: Path) -> dict:
    import numpy as np

    data = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        np_dt, _size = _ST_DTYPES[info["dtype"]]
        a, b = info["data_offsets"]
        out[name] = np.frombuffer(data[base + a:base + b], dtype=np_dt).reshape(info["shape"]).copy()
    return out


def fill_from_manifest(model, manifest: dict) -> int:
    """Sets every parameter of `model` from the manifest; returns the count."""
    import torch
    from synthetic_weights import synth_values

    params = dict(model.named_parameters())
    names = {t["name"] for t in manifest["tensors"]}
    missing = sorted(set(params) - names)
    extra = sorted(names - set(params))
    if missing or extra:
        raise SystemExit(f"manifest does not fit the model: missing {missing[:5]}, extra {extra[:5]}")
    total = 0
    with torch.no_grad():
        for t in manifest["tensors"]:
            p = params[t["name"]]
            if list(p.shape) != list(t["shape"]):
                raise SystemExit(f"{t['name']}: manifest shape {t['shape']}, model {list(p.shape)}")
            vals = synth_values(t["name"], t["shape"], manifest["seed"], t["scale"], t["offset"])
            p.copy_(torch.from_numpy(vals))
            total += vals.size
    return total


# ---------------------------------------------------------------------------
# imports that work on a machine with torch and the pure-Python packages only
# ---------------------------------------------------------------------------


class _Stub(types.ModuleType):
    """Stands in for a package used only outside the timed path."""

    def __getattr__(self, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        name = self.__name__

        def unavailable(*_a, **_k):
            raise RuntimeError(f"{name}.{attr} is a stub ({name} is not installed)")

        return unavailable


def stub_missing_modules() -> list:
    stubbed = []
    for name in OPTIONAL_MODULES:
        if name in sys.modules:
            continue
        parent, _, leaf = name.rpartition(".")
        if parent in stubbed:
            ok = False
        else:
            try:
                importlib.import_module(name)
                ok = True
            except Exception:  # ImportError, or a binary built for another torch
                ok = False
        if not ok:
            mod = _Stub(name)
            mod.__path__ = []
            sys.modules[name] = mod
            if parent:
                setattr(sys.modules[parent], leaf, mod)
            stubbed.append(name)
    return stubbed


def skip_package_init(name: str) -> None:
    """Registers package `name` without running its __init__.py (which for
    f5_tts.model pulls in the trainer, for vocos the pretrained loader with
    encodec and huggingface_hub), so that submodules import on their own."""
    if name in sys.modules:
        return
    parent, _, leaf = name.rpartition(".")
    if parent:
        skip_package_init(parent)
        base = [str(Path(p) / leaf) for p in sys.modules[parent].__path__]
        locations = [p for p in base if Path(p).is_dir()]
    else:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.submodule_search_locations is None:
            raise SystemExit(
                f"the reference package {name!r} is not importable by {sys.executable}: "
                "use .venv-f5ref (bash scripts/f5_fixtures.sh) or put a folder made by "
                "`bench_f5_reference.py pack DIR` on PYTHONPATH"
            )
        locations = list(spec.submodule_search_locations)
    mod = types.ModuleType(name)
    mod.__path__ = locations
    mod.__package__ = name
    sys.modules[name] = mod
    if parent:
        setattr(sys.modules[parent], leaf, mod)


def import_reference():
    stubbed = stub_missing_modules()
    for pkg in ("f5_tts", "f5_tts.model", "vocos", "x_transformers"):
        skip_package_init(pkg)
    from f5_tts.model.backbones.dit import DiT
    from f5_tts.model.cfm import CFM
    from vocos.heads import ISTFTHead
    from vocos.models import VocosBackbone

    return CFM, DiT, VocosBackbone, ISTFTHead, stubbed


# ---------------------------------------------------------------------------
# prepare
# ---------------------------------------------------------------------------


def ref_signal(seconds: float):
    """A voice-like test signal: a slow chirp with harmonics and a little
    seeded noise, fade in/out (not speech: the weights are synthetic)."""
    import numpy as np

    n = int(round(seconds * SAMPLE_RATE))
    t = np.arange(n, dtype=np.float64) / SAMPLE_RATE
    f0 = 140.0 + 40.0 * np.sin(2 * math.pi * 0.7 * t)
    phase = 2 * math.pi * np.cumsum(f0) / SAMPLE_RATE
    x = sum(np.sin(h * phase + 0.3 * h) / h for h in range(1, 8))
    x = x * (0.6 + 0.4 * np.sin(2 * math.pi * 3.0 * t) ** 2)
    x = x + 0.02 * np.random.default_rng(1234).standard_normal(n)
    env = np.minimum(1.0, t / 0.05) * np.minimum(1.0, (t[-1] - t) / 0.05 + 1e-3)
    return (0.2 * env * x).astype(np.float32)


def gen_text(seconds: float) -> str:
    want = int(seconds * CHARS_PER_SECOND)
    out, i = "", 0
    while len(out) < want:
        out += GEN_SENTENCES[i % len(GEN_SENTENCES)]
        i += 1
    return out


def shape_from_args(args) -> dict:
    shape = dict(FULL if args.full else SMALL)
    for k in SHAPE_KEYS:
        v = getattr(args, k)
        if v is not None:
            shape[k] = v
    return shape


def cmd_prepare(args) -> None:
    import numpy as np

    sys.path.insert(0, str(ROOT / "scripts"))
    import f5_fixtures as fx  # the fixture generator's weight rule and settings
    import synthetic_weights
    import torch
    from f5_tts.model.modules import MelSpec
    from f5_tts.model.utils import convert_char_to_pinyin, get_tokenizer, list_str_to_idx

    synthetic_weights.self_test()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    shape = shape_from_args(args)
    vocab, vocab_size = get_tokenizer(str(fx.VOCAB_PATH), "custom")
    dit_kwargs = dict(shape, text_mask_padding=True, pe_attn_head=None)

    # the manifest: the fixture script's rule on the model's parameters,
    # built on the meta device (shapes only, nothing allocated)
    with torch.device("meta"):
        model = fx.build_cfm(dict(dit_kwargs, text_num_embeds=vocab_size, mel_dim=100), vocab)
    params = {}
    for mod_name, module in model.named_modules():
        for pname, p in module.named_parameters(recurse=False):
            params[f"{mod_name}.{pname}" if mod_name else pname] = (module, pname, p)
    entries = []
    for key in model.state_dict(keep_vars=True).keys():
        if key in params:
            module, pname, p = params[key]
            scale, offset = fx.weight_rule(module, pname, p)
            entries.append({"name": key, "shape": list(p.shape), "scale": scale, "offset": offset})
    assert len(entries) == len(params)
    manifest = {"seed": fx.F5_SEED, "tensors": entries}
    fx.write_json(work / "manifest.json", manifest)
    fx.write_json(work / "config.json", fx.dit_config(dit_kwargs, vocab_size))

    # inputs: reference mel, token ids, initial noise
    audio = torch.from_numpy(ref_signal(args.ref_seconds))
    with torch.no_grad():
        mel = MelSpec(**fx.MEL_KWARGS)(audio.unsqueeze(0))  # [1, 100, F]
    ref_mel = mel.permute(0, 2, 1).contiguous()
    ref_frames = ref_mel.shape[1]
    text = REF_TEXT + gen_text(args.seconds)
    tokens = convert_char_to_pinyin([text], polyphone=True)[0]
    ids = list_str_to_idx([tokens], vocab)  # [1, nt] int64
    gen_frames = int(round(args.seconds * SAMPLE_RATE / HOP))
    frames = ref_frames + gen_frames
    if frames <= max(ids.shape[1], ref_frames) + 1:
        raise SystemExit(f"{frames} frames is too short for {ids.shape[1]} tokens")
    g = torch.Generator()
    g.manual_seed(NOISE_SEED)
    noise = torch.randn(1, frames, 100, generator=g)
    st_save(work / "inputs.safetensors", {
        "ref_mel": ref_mel.numpy().astype(np.float32),
        "ids": ids.numpy().astype(np.int64),
        "noise": noise.numpy().astype(np.float32),
    })

    # Vocos: the full-size fixture (512 / 1536 / 8)
    vdir = work / "vocos"
    vdir.mkdir(exist_ok=True)
    for f in ("config.yaml", "manifest.json"):
        shutil.copyfile(VOCOS_FIXTURE / f, vdir / f)
    import yaml

    hp = yaml.safe_load((VOCOS_FIXTURE / "config.yaml").read_text())
    fx.write_json(vdir / "args.json", {
        "backbone": hp["backbone"]["init_args"], "head": hp["head"]["init_args"],
    })

    meta = {
        "shape": shape,
        "vocab_size": vocab_size,
        "ref_seconds": args.ref_seconds,
        "seconds": args.seconds,
        "ref_frames": ref_frames,
        "gen_frames": gen_frames,
        "frames": frames,
        "tokens": int(ids.shape[1]),
        "text": text,
        "cfg_strength": CFG_STRENGTH,
        "sway_sampling_coef": SWAY,
        "use_epss": True,
        "params": sum(int(np.prod(e["shape"])) for e in entries),
    }
    fx.write_json(work / "bench.json", meta)
    print(f"prepared {work}: shape {shape}, {meta['params'] / 1e6:.1f} M params, "
          f"{ref_frames} reference + {gen_frames} new frames, {meta['tokens']} tokens")


# ---------------------------------------------------------------------------
# run
# ---------------------------------------------------------------------------


def peak_rss_mib() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def stats(times: list) -> dict:
    s = sorted(times)
    return {"median_s": s[len(s) // 2], "min_s": s[0], "times_s": times}


def cmd_run(args) -> None:
    import numpy as np
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    CFM, DiT, VocosBackbone, ISTFTHead, stubbed = import_reference()
    if stubbed:
        print(f"stubbed (not installed, not used): {', '.join(stubbed)}", file=sys.stderr)
    work = Path(args.work)
    meta = json.loads((work / "bench.json").read_text())
    cfg = json.loads((work / "config.json").read_text())
    manifest = json.loads((work / "manifest.json").read_text())
    device = torch.device(args.device)
    dtype = {"f32": torch.float32, "bf16": torch.bfloat16, "f16": torch.float16}[args.dtype]
    cuda = device.type == "cuda"

    def sync():
        if cuda:
            torch.cuda.synchronize(device)

    # the model as upstream's load_model + load_checkpoint leave it: CFM on the
    # device, converted to the inference dtype as a whole
    model = CFM(transformer=DiT(**cfg["dit"]), mel_spec_kwargs=cfg["mel"], vocab_char_map=None)
    n_params = fill_from_manifest(model, manifest)
    model = model.to(device=device, dtype=dtype).eval()

    vargs = json.loads((work / "vocos" / "args.json").read_text())

    class VocosDecoder(torch.nn.Module):
        # vocos.pretrained.Vocos.decode: head(backbone(mel)); parameter names
        # as in its state dict (the feature extractor has none)
        def __init__(self):
            super().__init__()
            self.backbone = VocosBackbone(**vargs["backbone"])
            self.head = ISTFTHead(**vargs["head"])

        def decode(self, mel):
            return self.head(self.backbone(mel))

    vocos = VocosDecoder()
    fill_from_manifest(vocos, json.loads((work / "vocos" / "manifest.json").read_text()))
    vocos = vocos.to(device).eval()  # f32, as upstream keeps the vocoder

    inputs = st_load(work / "inputs.safetensors")
    ref_mel = torch.from_numpy(inputs["ref_mel"]).to(device)
    ids = torch.from_numpy(inputs["ids"]).to(device)
    frames, ref_frames = meta["frames"], meta["ref_frames"]
    noise = torch.from_numpy(inputs["noise"][0]).to(device=device, dtype=dtype)

    # CFM.sample draws y0 = torch.randn(duration, 100, ...): hand it the
    # shared noise instead
    real_randn = torch.randn

    def fixed_randn(*size, **kw):
        if len(size) == 2 and int(size[0]) == frames and int(size[1]) == noise.shape[1]:
            return noise.to(device=kw.get("device", device), dtype=kw.get("dtype", dtype)).clone()
        return real_randn(*size, **kw)

    def sample(nfe):
        torch.randn = fixed_randn
        try:
            out, _traj = model.sample(
                cond=ref_mel, text=ids, duration=frames, steps=nfe,
                cfg_strength=meta["cfg_strength"], sway_sampling_coef=meta["sway_sampling_coef"],
                use_epss=meta["use_epss"],
            )
        finally:
            torch.randn = real_randn
        return out.to(torch.float32)

    def decode(mel):
        gen = mel[:, ref_frames:, :].permute(0, 2, 1)
        return vocos.decode(gen).cpu()

    nfes = [int(x) for x in args.nfe.split(",")]
    results, mels = {}, {}
    with torch.inference_mode():
        for _ in range(args.warmup):
            decode(sample(min(nfes)))
        sync()
        for nfe in nfes:
            times = []
            for _ in range(args.runs):
                t0 = time.perf_counter()
                mel = sample(nfe)
                sync()
                times.append(time.perf_counter() - t0)
            results[str(nfe)] = stats(times)
            mels[nfe] = mel
        last = mels[max(nfes)]
        vt = []
        for _ in range(args.runs):
            sync()
            t0 = time.perf_counter()
            audio = decode(last)
            vt.append(time.perf_counter() - t0)

    outputs = {f"mel_nfe{n}": m.cpu().numpy().astype(np.float32) for n, m in mels.items()}
    outputs["audio"] = audio.reshape(-1).numpy().astype(np.float32)
    st_save(Path(args.out), outputs)

    dev_name = "cpu"
    gpu_peak = None
    if cuda:
        dev_name = f"cuda ({torch.cuda.get_device_name(device)})"
        gpu_peak = torch.cuda.max_memory_allocated(device) / 2**20
    report = summary(
        impl="pytorch",
        version=f"torch {torch.__version__}, f5-tts {_version('f5-tts')}, vocos {_version('vocos')}",
        device=dev_name, dtype=args.dtype, threads=torch.get_num_threads(), meta=meta,
        params=n_params, runs=args.runs, sample=results, vocos=stats(vt), audio_samples=int(audio.numel()),
        peak_rss_mib=peak_rss_mib(), gpu_peak_mib=gpu_peak,
    )
    Path(args.json_out).write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report))


def _version(dist: str) -> str:
    try:
        from importlib.metadata import version

        return version(dist)
    except Exception:
        return "?"


def summary(*, impl, version, device, dtype, threads, meta, params, runs, sample, vocos, audio_samples,
            peak_rss_mib, gpu_peak_mib) -> dict:
    """The JSON both sides print (examples/bench_f5.rs writes the same keys)."""
    nfes = sorted(int(k) for k in sample)
    audio_s = meta["gen_frames"] * HOP / SAMPLE_RATE
    if len(nfes) > 1:
        a, b = nfes[0], nfes[-1]
        step = (sample[str(b)]["median_s"] - sample[str(a)]["median_s"]) / (b - a)
    else:
        step = sample[str(nfes[0])]["median_s"] / nfes[0]
    return {
        "impl": impl,
        "version": version,
        "device": device,
        "dtype": dtype,
        "threads": threads,
        "shape": meta["shape"],
        "params": params,
        "ref_frames": meta["ref_frames"],
        "gen_frames": meta["gen_frames"],
        "frames": meta["frames"],
        "tokens": meta["tokens"],
        "audio_s": audio_s,
        "audio_samples": audio_samples,
        "runs": runs,
        "sample": sample,
        "step_s": step,
        "vocos": vocos,
        "rtf": {str(n): (sample[str(n)]["median_s"] + vocos["median_s"]) / audio_s for n in nfes},
        "peak_rss_mib": peak_rss_mib,
        "gpu_peak_mib": gpu_peak_mib,
    }


# ---------------------------------------------------------------------------
# compare
# ---------------------------------------------------------------------------


def rel_err(got, want) -> float:
    import numpy as np

    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        return float("inf")
    return float(np.max(np.abs(got - want)) / max(np.max(np.abs(want)), 1e-6))


def cmd_compare(args) -> None:
    ours = json.loads(Path(args.ours).read_text())
    ref = json.loads(Path(args.ref).read_text())
    o_t = st_load(Path(args.ours).with_suffix(".safetensors"))
    r_t = st_load(Path(args.ref).with_suffix(".safetensors"))
    tol = 1e-3 if ours["dtype"] == "f32" and ref["dtype"] == "f32" else 1e-1

    print("agreement (max |ours - reference| / max |reference|):")
    worst = 0.0
    for name in sorted(r_t):
        e = rel_err(o_t[name], r_t[name])
        if name.startswith("mel"):
            worst = max(worst, e)
        print(f"  {name:<12} {list(r_t[name].shape)}  rel err {e:.2e}")

    nfes = sorted(int(k) for k in ref["sample"])
    rows = [("time per flow step (ms)", ours["step_s"] * 1e3, ref["step_s"] * 1e3, "{:.1f}")]
    for n in nfes:
        rows.append((f"sample, NFE {n} (s)", ours["sample"][str(n)]["median_s"],
                     ref["sample"][str(n)]["median_s"], "{:.3f}"))
    rows.append(("Vocos decode (ms)", ours["vocos"]["median_s"] * 1e3, ref["vocos"]["median_s"] * 1e3, "{:.1f}"))
    for n in nfes:
        rows.append((f"RTF, NFE {n} (sample + Vocos)", ours["rtf"][str(n)], ref["rtf"][str(n)], "{:.3f}"))
    rows.append(("peak RSS (MiB)", ours["peak_rss_mib"], ref["peak_rss_mib"], "{:.0f}"))
    if ours.get("gpu_peak_mib") is not None or ref.get("gpu_peak_mib") is not None:
        rows.append(("peak GPU memory, torch allocator (MiB)", ours.get("gpu_peak_mib"), ref.get("gpu_peak_mib"), "{:.0f}"))
    if ours.get("gpu_used_peak_mib") is not None or ref.get("gpu_used_peak_mib") is not None:
        rows.append(("GPU memory in use over idle, peak (nvidia-smi, MiB)", ours.get("gpu_used_peak_mib"),
                     ref.get("gpu_used_peak_mib"), "{:.0f}"))

    s = ref["shape"]
    print()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; device {ref['device']}; dtype {ref['dtype']}; "
          f"threads: ishowtts {ours['threads']}, PyTorch {ref['threads']}")
    print(f"shape: dim {s['dim']} depth {s['depth']} heads {s['heads']} ff_mult {s['ff_mult']} "
          f"text_dim {s['text_dim']} conv_layers {s['conv_layers']} ({ref['params'] / 1e6:.1f} M params); "
          f"{ref['ref_frames']} reference + {ref['gen_frames']} new frames ({ref['audio_s']:.2f} s of new audio), "
          f"{ref['tokens']} tokens; medians of {ref['runs']} runs")
    print(f"reference: {ref['version']}")
    print()
    print("| metric | ishowtts | PyTorch | ratio ishowtts/PyTorch |")
    print("|---|---|---|---|")
    for label, a, b, fmt in rows:
        fa = "n/a" if a is None else fmt.format(a)
        fb = "n/a" if b is None else fmt.format(b)
        ratio = "n/a" if a is None or b is None or b == 0 else f"{a / b:.2f}"
        print(f"| {label} | {fa} | {fb} | {ratio} |")
    if worst > tol:
        print(f"\nDISAGREE: mel relative error {worst:.2e} > {tol:g}", file=sys.stderr)
        sys.exit(1)


# ---------------------------------------------------------------------------
# pack
# ---------------------------------------------------------------------------


def cmd_pack(args) -> None:
    dest = Path(args.dir)
    dest.mkdir(parents=True, exist_ok=True)
    for name in PURE_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.submodule_search_locations is None:
            raise SystemExit(f"{name} is not installed for {sys.executable}")
        src = Path(list(spec.submodule_search_locations)[0])
        if src.resolve() == (dest / name).resolve():
            continue  # found the copy itself (DIR is on PYTHONPATH): already packed
        binaries = [p for p in src.rglob("*") if p.suffix in (".so", ".pyd")]
        if binaries:
            raise SystemExit(f"{name} is not pure Python ({binaries[0]})")
        shutil.rmtree(dest / name, ignore_errors=True)
        shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    # `run` imports it; with the copy, DIR alone serves a bench script kept apart from scripts/.
    shutil.copy2(SYNTHETIC_WEIGHTS, dest / SYNTHETIC_WEIGHTS.name)
    size = sum(p.stat().st_size for p in dest.rglob("*") if p.is_file())
    print(f"packed {', '.join(PURE_PACKAGES)} and {SYNTHETIC_WEIGHTS.name} into {dest} ({size / 2**20:.1f} MiB)")


# ---------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("prepare")
    p.add_argument("--work", required=True)
    p.add_argument("--full", action="store_true", help="the real v1 Base shape (1024/22/16/2/512/4)")
    p.add_argument("--dim", type=int)
    p.add_argument("--depth", type=int)
    p.add_argument("--heads", type=int)
    p.add_argument("--ff-mult", type=int)
    p.add_argument("--text-dim", type=int)
    p.add_argument("--conv-layers", type=int)
    p.add_argument("--seconds", type=float, default=5.0, help="new audio to generate")
    p.add_argument("--ref-seconds", type=float, default=3.0, help="reference audio")

    p = sub.add_parser("run")
    p.add_argument("--work", required=True)
    p.add_argument("--json-out", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", choices=["f32", "bf16", "f16"], default="f32")
    p.add_argument("--nfe", default="16,32")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")

    p = sub.add_parser("compare")
    p.add_argument("--work")
    p.add_argument("ours")
    p.add_argument("ref")

    p = sub.add_parser("pack")
    p.add_argument("dir")

    args = ap.parse_args()
    {"prepare": cmd_prepare, "run": cmd_run, "compare": cmd_compare, "pack": cmd_pack}[args.cmd](args)


if __name__ == "__main__":
    main()
