"""ishowtts versus piper-tts on the same voice, texts and scales, in one run.

    .venv-test/bin/python bench/piper_bench.py [--runs 3]

Prints RTF (synthesis time / audio time) over 5 sentences, time to first
audio for a 3-sentence paragraph, and each process's peak RSS, with the
ratios ishowtts / piper-tts (below 1 means ishowtts is better). Each engine
runs in its own process (so peak RSS is its own), loads the voice once,
warms up, then speaks each text RUNS times; medians are reported.
Needs scripts/setup.sh --with-test-deps (the .venv-test has piper-tts).
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VOICE = Path(os.environ.get("ISHOWTTS_MODELS_DIR", ROOT / "models")) / "en_US-joe-medium.onnx"

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Please call Stella and ask her to bring these things with her from the store.",
    "Six spoons of fresh snow peas, five thick slabs of blue cheese, and maybe a snack for her brother Bob.",
    "We also need a small plastic snake and a big toy frog for the kids.",
    "She can scoop these things into three red bags, and we will go meet her Wednesday at the train station.",
]
PARAGRAPH = (
    "Welcome to the stream, everyone. Today we are going to try something new. "
    "Let me know in the chat what you think about it."
)


def run(cmd: list[str]) -> dict:
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def summarize(r: dict) -> dict:
    sent = r["results"][: len(SENTENCES)]
    para = r["results"][len(SENTENCES)]
    synth = sum(x["total_s"] for x in sent)
    audio = sum(x["audio_s"] for x in sent)
    return {
        "rtf": synth / audio,
        "audio_s": audio,
        "ttfa_s": para["first_audio_s"],
        "para_total_s": para["total_s"],
        "rss_mib": r["peak_rss_kib"] / 1024,
        "load_s": r["load_s"],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--bin", default=str(ROOT / "target/release/examples/bench_voice"))
    args = ap.parse_args()
    if not Path(args.bin).exists():
        subprocess.run(["cargo", "build", "--release", "--example", "bench_voice"], check=True, cwd=ROOT)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(SENTENCES + [PARAGRAPH], f)
        texts = f.name
    ours = summarize(run([args.bin, str(VOICE), texts, str(args.runs)]))
    theirs = summarize(run([sys.executable, str(ROOT / "bench/piper_worker.py"), str(VOICE), texts, str(args.runs)]))
    os.unlink(texts)

    rows = [
        ("RTF (5 sentences)", "rtf", "{:.4f}"),
        ("time to first audio, 3-sentence paragraph (s)", "ttfa_s", "{:.3f}"),
        ("paragraph total (s)", "para_total_s", "{:.3f}"),
        ("peak RSS (MiB)", "rss_mib", "{:.0f}"),
        ("voice load (s)", "load_s", "{:.3f}"),
    ]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; voice {VOICE.name}; medians of {args.runs} runs")
    print(f"audio: ishowtts {ours['audio_s']:.2f} s, piper-tts {theirs['audio_s']:.2f} s (5 sentences, default scales)")
    print("| metric | ishowtts | piper-tts | ratio ishowtts/piper |")
    print("|---|---|---|---|")
    for label, key, fmt in rows:
        print(f"| {label} | {fmt.format(ours[key])} | {fmt.format(theirs[key])} | {ours[key] / theirs[key]:.2f} |")


if __name__ == "__main__":
    main()
