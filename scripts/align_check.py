"""Piper word timings against an independent forced alignment.

What it measures
----------------
`ishowtts say --timings FILE` writes, next to the WAV, the start and end of
every spoken word; for a Piper voice they come from the model's duration
predictor (the very durations the audio was generated with), so they are
meant to be exact. This script checks them against something that never saw
them: pocketsphinx (CMU, from PyPI, with its bundled US-English acoustic
model and dictionary) force-aligns the known text to the same audio, and the
two word sequences are compared edge by edge.

For each of the fixed sentences below (short and long, commas, questions,
numbers written as words, names, two items of two sentences) it

1. runs `ISHOWTTS say TEXT -o X.wav --timings X.json --quiet --seed N`
   (the voice's own scales, one fixed seed per sentence);
2. resamples the WAV to 16 kHz mono (FFT, band-limited), adds 0.3 s of
   silence at each end (see PAD_MS) and runs pocketsphinx's alignment search
   (`Decoder.set_align_text`) with the sentence's words, reading back the
   word segments (10 ms frames; a word's end is the end of its last frame);
3. drops the aligner's silence and filler tokens (`<sil>`, `<s>`, `</s>`,
   `[NOISE]`, ...), normalizes both sides' words (lower case, letters and
   apostrophes) and pairs them in order with difflib, so that a word the two
   sides split differently is left out instead of shifting every later one;
   an entry of the timing file that holds several words (espeak-ng speaks
   "in the", "has been" as one) is compared with the span of those words;
4. counts a paired word as agreeing when |start difference| <= 80 ms AND
   |end difference| <= 80 ms.

How to run
----------
    bash scripts/align_check.sh                    # venv (once), then this script
    bash scripts/align_check.sh --bin /path/to/ishowtts --out-dir out/align

Options: --bin (default target/release/ishowtts), --voice (passed on as
`--voice`; default: the CLI's own default voice), --out-dir (default
out/align/), --min-percent (default 90), --pad-ms (default 300), --seed
(default 0: sentence i is spoken with seed SEED+i), --keep-wav (keep the
WAV and timing files of every sentence in OUT_DIR/work/).

How to read the figure
----------------------
It prints one line per sentence (words in the timing file, words paired,
words agreeing, the largest edge error) and then

    agree: A / N words (P %) within 80 ms at both edges

with the median and 90th percentile of the absolute edge errors (starts and
ends pooled, and each alone) and the mean signed error of each edge (timing
file minus aligner; a steady bias shows there, e.g. a negative end bias means
the timing file ends words earlier than the aligner does). The summary, with
every word's pair of edges, goes to OUT_DIR/summary.json. The exit status is 0
when P >= --min-percent, 1 when it is below, 2 when the check could not run
(the CLI failed, no timing file, a word outside the aligner's dictionary, the
aligner found no path).

The reference is not the truth: pocketsphinx places boundaries on a 10 ms
grid, and in alignment mode it may give a short pause to a neighbouring word
instead of a `<sil>` of its own (a pause shorter than its silence model's
minimum duration, about 30 ms, cannot be silence), so its edges move by a few
frames around commas and at the very start and end. Where it finds no pause
between two words they are contiguous (one's end is the next one's start), so
time that the timing file leaves between two words while the audio is not
silent shows up as an error of one of the two edges. The tolerance is fixed
at 80 ms on purpose; do not widen it to make the figure pass.
"""

from __future__ import annotations

import argparse
import difflib
import json
import math
import re
import statistics
import subprocess
import sys
import tempfile
import wave
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path

import numpy as np

TOLERANCE_S = 0.080
ALIGN_RATE = 16000
# Silence added before and after the audio for the aligner only (its times are
# shifted back). Without it the aligner cannot fit a silence in front of the
# first word when Piper's lead-in is shorter than its silence model's three
# frames, so the first word is pinned to 0.0 s, and it stretches the last
# word over a short tail (80 ms late on one of the sentences below). With it,
# the result hardly depends on the amount: between 0.1, 0.3 and 0.5 s, 13 of
# the 590 word edges of the sentences below moved, by 20 ms at most.
PAD_MS = 300.0

# Each item is spoken as one `say` call. Numbers are written as words and
# every word is in pocketsphinx's bundled dictionary (checked before running).
SENTENCES = [
    "Hello.",
    "Good morning, Maria.",
    "Where did you put the keys to the car?",
    "The weather is nice today and the sun is shining.",
    "Please open the door, and close the window behind you.",
    "Peter Johnson moved from London to Chicago last year.",
    "My brother has three dogs and two cats.",
    "Can you call me back later this evening?",
    "The train leaves the station at seven thirty in the morning.",
    "She paid twenty five dollars for a book about old ships.",
    "Is it true that Sarah speaks four languages?",
    "We need to buy bread, eggs, milk, and cheese before Tuesday.",
    "The meeting has been moved to next Monday at nine.",
    "Thank you very much for your help yesterday.",
    "In nineteen ninety nine, the company had about one hundred and fifty workers.",
    "Why is the sky so dark today?",
    "Turn left at the next street, then go straight ahead for two miles.",
    "Elizabeth and James flew to Paris on a Friday night.",
    "It is raining, so take an umbrella with you.",
    "How much does this small red shirt cost?",
    "The old man walked slowly down the long and quiet road.",
    "Doctor Thomas said that I should drink more water every day.",
    "Seventeen students passed the test, and three of them got perfect scores.",
    "Could you please speak a little slower?",
    "When the music started, everyone in the room began to dance.",
    "Our team won the game by two points after a very long night.",
    "Although the road was wet and the wind was strong, "
    "we reached the small village before dark and found a warm place to sleep.",
    "I have never seen such a beautiful sunset!",
    "Let us meet in front of the library. Bring your notes with you.",
    "The bus was late again. Nobody was surprised.",
]

FILLER = re.compile(r"^(<.*>|\[.*\]|\+\+.*\+\+)$")


def norm(word: str) -> str:
    """Lower case, letters and apostrophes only; alternate-pronunciation
    markers of the aligner (`the(2)`) removed."""
    word = re.sub(r"\(\d+\)$", "", word.lower())
    return re.sub(r"[^a-z']", "", word).strip("'")


def text_words(text: str) -> list[str]:
    return [w for w in (norm(t) for t in re.split(r"[\s\-]+", text)) if w]


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2:
            raise ValueError(f"{path}: only 16-bit PCM WAV is supported")
        sr, ch = w.getframerate(), w.getnchannels()
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)
    if ch > 1:
        data = data.reshape(-1, ch).mean(axis=1)
    return data, sr


def resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Band-limited resampling by FFT (no phase shift, so no time offset)."""
    if sr_in == sr_out:
        return x
    n_out = int(round(len(x) * sr_out / sr_in))
    spec = np.fft.rfft(x)
    keep = n_out // 2 + 1
    if keep <= len(spec):
        spec = spec[:keep]
    else:
        spec = np.concatenate([spec, np.zeros(keep - len(spec), dtype=spec.dtype)])
    return np.fft.irfft(spec, n_out) * (n_out / len(x))


@dataclass
class Seg:
    word: str
    start: float
    end: float


class Aligner:
    def __init__(self) -> None:
        from pocketsphinx import Decoder

        # lm=None: no language model is needed, alignment builds its own search
        self.decoder = Decoder(samprate=ALIGN_RATE, lm=None, loglevel="ERROR")
        self.frate = int(self.decoder.config["frate"])

    def missing(self, words: list[str]) -> list[str]:
        return [w for w in words if self.decoder.lookup_word(w) is None]

    def align(self, wav: Path, words: list[str], pad_s: float = 0.0) -> list[Seg]:
        """Word segments of `wav` (times in the file's own clock), the audio
        padded with `pad_s` of digital silence at each end first."""
        x, sr = read_wav(wav)
        y = resample(x, sr, ALIGN_RATE)
        pad = np.zeros(int(round(pad_s * ALIGN_RATE)))
        pad_s = len(pad) / ALIGN_RATE
        y = np.concatenate([pad, y, pad])
        pcm = np.clip(np.round(y), -32768, 32767).astype("<i2")
        self.decoder.set_align_text(" ".join(words))
        self.decoder.start_utt()
        self.decoder.process_raw(pcm.tobytes(), full_utt=True)
        self.decoder.end_utt()
        segs = [
            Seg(s.word, s.start_frame / self.frate - pad_s, (s.end_frame + 1) / self.frate - pad_s)
            for s in self.decoder.seg()
        ]
        if not any(not FILLER.match(s.word) for s in segs):
            raise RuntimeError(f"{wav}: the aligner found no path through the audio")
        return segs


@dataclass
class Pair:
    word: str
    start: float  # timing file
    end: float
    ref_start: float  # aligner
    ref_end: float
    sentence: int | None
    estimated: bool | None

    @property
    def d_start(self) -> float:
        return self.start - self.ref_start

    @property
    def d_end(self) -> float:
        return self.end - self.ref_end

    @property
    def agrees(self) -> bool:
        # a hair of slack for float rounding of values printed in ms
        return abs(self.d_start) <= TOLERANCE_S + 1e-9 and abs(self.d_end) <= TOLERANCE_S + 1e-9


def pair_words(timed: list[dict], segs: list[Seg]) -> tuple[list[Pair], int, int]:
    """Pairs the timing file's words with the aligner's, in order; returns the
    pairs and the counts of unpaired words on each side.

    An entry of the timing file may hold several words: espeak-ng speaks some
    runs of short words as one ("in the", "has been"), and the engine keeps
    them as one timed word. Such an entry is paired with the span of the
    aligner's words it covers (first one's start, last one's end), and only
    when every one of them is matched, in a row."""
    ref = [s for s in segs if not FILLER.match(s.word)]
    a: list[str] = []  # the timing file's words, split
    owner: list[int] = []  # which entry each one comes from
    for i, w in enumerate(timed):
        for t in text_words(str(w["word"])):
            a.append(t)
            owner.append(i)
    b = [norm(s.word) for s in ref]
    to_ref: dict[int, int] = {}
    sm = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for blk in sm.get_matching_blocks():
        for k in range(blk.size):
            to_ref[blk.a + k] = blk.b + k
    pairs: list[Pair] = []
    used_ref = 0
    for i, w in enumerate(timed):
        toks = [k for k, o in enumerate(owner) if o == i]
        js = [to_ref.get(k) for k in toks]
        if not toks or None in js or js != list(range(js[0], js[0] + len(js))):
            continue
        used_ref += len(js)
        pairs.append(
            Pair(
                word=w["word"],
                start=float(w["start"]),
                end=float(w["end"]),
                ref_start=ref[js[0]].start,
                ref_end=ref[js[-1]].end,
                sentence=w.get("sentence"),
                estimated=w.get("estimated"),
            )
        )
    return pairs, len(timed) - len(pairs), len(b) - used_ref


def percentile(xs: list[float], q: float) -> float:
    if not xs:
        return math.nan
    s = sorted(xs)
    k = (len(s) - 1) * q
    lo, hi = math.floor(k), math.ceil(k)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def ms(x: float) -> str:
    return "   -" if math.isnan(x) else f"{1000 * x:4.0f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--bin", default="target/release/ishowtts", help="the ishowtts CLI")
    ap.add_argument("--voice", help="Piper voice (.onnx), passed on to `say --voice`")
    ap.add_argument("--out-dir", default="out/align", help="where summary.json goes")
    ap.add_argument("--min-percent", type=float, default=90.0)
    ap.add_argument(
        "--pad-ms",
        type=float,
        default=PAD_MS,
        help=f"digital silence added at each end before aligning (default {PAD_MS:g})",
    )
    ap.add_argument("--seed", type=int, default=0, help="sentence i is spoken with seed SEED+i")
    ap.add_argument("--keep-wav", action="store_true", help="keep the WAV and timing files")
    args = ap.parse_args()

    cli = Path(args.bin)
    if not cli.exists():
        print(f"error: {cli} not found (cargo build --release, or pass --bin)", file=sys.stderr)
        return 2
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if args.keep_wav:
        work = out_dir / "work"
        work.mkdir(exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="align-check.")
        work = Path(tmp.name)

    aligner = Aligner()
    missing = sorted({w for t in SENTENCES for w in aligner.missing(text_words(t))})
    if missing:
        print(f"error: not in the aligner's dictionary: {' '.join(missing)}", file=sys.stderr)
        return 2

    all_pairs: list[Pair] = []
    rows = []
    print(f"{'#':>2} {'words':>5} {'paired':>6} {'agree':>5} {'max ms':>6}  text")
    for i, text in enumerate(SENTENCES):
        wav, tim = work / f"s{i:02d}.wav", work / f"s{i:02d}.json"
        cmd = [str(cli), "say", text, "-o", str(wav), "--timings", str(tim), "--quiet"]
        cmd += ["--seed", str(args.seed + i)]
        if args.voice:
            cmd += ["--voice", args.voice]
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        if run.returncode != 0 or not tim.exists():
            print(f"error: `{' '.join(cmd)}` failed ({run.returncode}):\n{run.stderr}", file=sys.stderr)
            return 2
        timing = json.loads(tim.read_text())
        timed = timing.get("words") or []
        try:
            segs = aligner.align(wav, text_words(text), args.pad_ms / 1000)
        except RuntimeError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        pairs, unpaired_timed, unpaired_ref = pair_words(timed, segs)
        all_pairs += pairs
        agree = sum(p.agrees for p in pairs)
        worst = max((max(abs(p.d_start), abs(p.d_end)) for p in pairs), default=math.nan)
        short = text if len(text) <= 60 else text[:57] + "..."
        print(f"{i:2d} {len(timed):5d} {len(pairs):6d} {agree:5d} {ms(worst):>6}  {short}")
        rows.append(
            {
                "index": i,
                "text": text,
                "sample_rate": timing.get("sample_rate"),
                "words_timed": len(timed),
                "words_paired": len(pairs),
                "words_agreeing": agree,
                "unpaired_timed": unpaired_timed,
                "unpaired_aligner": unpaired_ref,
                "aligner": [asdict(s) for s in segs],
                "pairs": [
                    {
                        **asdict(p),
                        "d_start_ms": round(1000 * p.d_start, 1),
                        "d_end_ms": round(1000 * p.d_end, 1),
                        "agrees": p.agrees,
                    }
                    for p in pairs
                ],
            }
        )

    n = len(all_pairs)
    agree = sum(p.agrees for p in all_pairs)
    pct = 100.0 * agree / n if n else 0.0
    starts = [abs(p.d_start) for p in all_pairs]
    ends = [abs(p.d_end) for p in all_pairs]
    edges = starts + ends
    timed_total = sum(r["words_timed"] for r in rows)
    estimated = sum(1 for p in all_pairs if p.estimated)
    stats = {
        "edges": {"median_ms": 1000 * percentile(edges, 0.5), "p90_ms": 1000 * percentile(edges, 0.9)},
        "start": {"median_ms": 1000 * percentile(starts, 0.5), "p90_ms": 1000 * percentile(starts, 0.9)},
        "end": {"median_ms": 1000 * percentile(ends, 0.5), "p90_ms": 1000 * percentile(ends, 0.9)},
        "mean_signed_start_ms": 1000 * statistics.fmean(p.d_start for p in all_pairs) if n else math.nan,
        "mean_signed_end_ms": 1000 * statistics.fmean(p.d_end for p in all_pairs) if n else math.nan,
    }
    print()
    print(
        f"sentences: {len(SENTENCES)} items; words in timing files: {timed_total}, "
        f"paired with the aligner: {n} ({estimated} marked estimated)"
    )
    for k in ("edges", "start", "end"):
        print(f"|error| {k:>5}: median {stats[k]['median_ms']:.0f} ms, p90 {stats[k]['p90_ms']:.0f} ms")
    print(
        f"mean signed error (timing file - aligner): start {stats['mean_signed_start_ms']:+.0f} ms, "
        f"end {stats['mean_signed_end_ms']:+.0f} ms"
    )
    print(f"aligner: pocketsphinx {version('pocketsphinx')}, audio padded with {args.pad_ms:g} ms of silence")
    print(f"agree: {agree} / {n} words ({pct:.1f} %) within {1000 * TOLERANCE_S:.0f} ms at both edges")

    summary = {
        "tolerance_ms": 1000 * TOLERANCE_S,
        "min_percent": args.min_percent,
        "words_compared": n,
        "words_agreeing": agree,
        "percent": pct,
        "words_timed": timed_total,
        "words_estimated": estimated,
        **stats,
        "pocketsphinx": version("pocketsphinx"),
        "cli": str(cli),
        "voice": args.voice,
        "pad_ms": args.pad_ms,
        "seed": args.seed,
        "sentences": rows,
    }
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(f"summary: {out_dir / 'summary.json'}")
    if n == 0:
        print("error: no word could be compared", file=sys.stderr)
        return 2
    if pct < args.min_percent:
        print(f"FAIL: {pct:.1f} % < {args.min_percent:g} %", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
