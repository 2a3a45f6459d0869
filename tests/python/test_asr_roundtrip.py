"""Intelligibility: an ASR round trip, ishowtts versus piper-tts.

The same sentences are spoken by the `ishowtts` CLI and by piper-tts (the
reference implementation, onnxruntime) with the same voice and the same
scales, and both are transcribed by pocketsphinx. pocketsphinx is a weak
recognizer, so its absolute word error rate means little; the test compares
the two engines and fails when ishowtts is more than 3 points worse.

Run by scripts/test.sh (inside .venv-test). Needs target/release/ishowtts
and models/en_US-joe-medium.onnx, both made by scripts/setup.sh.
"""

from __future__ import annotations

import os
import re
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
CLI = Path(os.environ.get("ISHOWTTS_CLI", ROOT / "target" / "release" / "ishowtts"))
MODELS = Path(os.environ.get("ISHOWTTS_MODELS_DIR", ROOT / "models"))
VOICE = MODELS / "en_US-joe-medium.onnx"
MAX_EXTRA_WER_POINTS = 3.0

# Varied, plain-vocabulary sentences: statements, questions, exclamations,
# commas, numbers written as words.
SENTENCES = [
    "The weather is nice today and the sun is shining.",
    "Please open the door and close the window.",
    "Where did you put the keys to the car?",
    "I would like a cup of coffee with milk, please.",
    "We are going to the park after lunch!",
    "My brother has three dogs and two cats.",
    "Can you call me back later this evening?",
    "The children played in the garden until it was dark.",
    "She reads a new book every week.",
    "Turn left at the next street, then go straight ahead.",
    "The train leaves the station at seven in the morning.",
    "Thank you very much for your help yesterday.",
    "How much does this shirt cost?",
    "The meeting has been moved to next Tuesday.",
    "Do not forget to water the plants!",
    "He wants to learn how to play the piano.",
    "Our team won the game by two points.",
    "It is raining, so take an umbrella with you.",
    "What time does the movie start tonight?",
    "The doctor said I should drink more water.",
    "They bought a small house near the river.",
    "Could you please speak a little slower?",
    "The store closes at nine on weekdays.",
    "I have never seen such a beautiful sunset!",
    "My favorite color is blue, and hers is green.",
    "The bus was late again this morning.",
    "Let us meet in front of the library.",
    "Why is the sky so dark today?",
    "We need to buy bread, eggs, and cheese.",
    "The old man walked slowly down the road.",
]

# Both engines use the voice's default scales, noise included: that is what
# users hear. The noise makes each rendering differ (piper-tts cannot be
# seeded), so every sentence is rendered RUNS times by each engine and the
# word error rate is pooled over all renderings to keep the comparison
# stable (one rendering of 12 sentences varied by +-3 points run to run).
SCALES = {"noise_scale": 0.667, "length_scale": 1.0, "noise_w": 0.8}
RUNS = 2


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z' ]", " ", text.lower()).split()


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Band-limited resampling by FFT (both engines go through it alike)."""
    n_out = int(round(len(x) * sr_out / sr_in))
    spec = np.fft.rfft(x)
    keep = n_out // 2 + 1
    if keep <= len(spec):
        spec = spec[:keep]
    else:
        spec = np.concatenate([spec, np.zeros(keep - len(spec), dtype=spec.dtype)])
    return np.fft.irfft(spec, n_out) * (n_out / len(x))


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2
        sr = w.getframerate()
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return data.astype(np.float32) / 32768.0, sr


class Recognizer:
    def __init__(self) -> None:
        from pocketsphinx import Decoder

        self.decoder = Decoder(samprate=16000, loglevel="FATAL")

    def __call__(self, audio: np.ndarray, sr: int) -> str:
        pcm = np.clip(resample(audio, sr, 16000) * 32767, -32768, 32767).astype("<i2")
        self.decoder.start_utt()
        self.decoder.process_raw(pcm.tobytes(), full_utt=True)
        self.decoder.end_utt()
        hyp = self.decoder.hyp()
        return hyp.hypstr if hyp is not None else ""


def ishowtts_say(text: str, out: Path, seed: int) -> tuple[np.ndarray, int]:
    cmd = [str(CLI), "say", text, "-o", str(out), "--voice", str(VOICE), "--quiet", "--seed", str(seed)]
    cmd += ["--noise-scale", str(SCALES["noise_scale"]), "--length-scale", str(SCALES["length_scale"])]
    cmd += ["--noise-w", str(SCALES["noise_w"])]
    subprocess.run(cmd, check=True, timeout=120)
    return read_wav(out)


def piper_say(voice, text: str) -> tuple[np.ndarray, int]:
    from piper import SynthesisConfig

    cfg = SynthesisConfig(
        noise_scale=SCALES["noise_scale"],
        length_scale=SCALES["length_scale"],
        noise_w_scale=SCALES["noise_w"],
        normalize_audio=False,
    )
    chunks = list(voice.synthesize(text, syn_config=cfg))
    audio = np.concatenate([c.audio_float_array for c in chunks])
    # through 16-bit like the WAV ishowtts writes
    audio = np.trunc(np.clip(audio * 32767, -32767, 32767)) / 32768.0
    return audio.astype(np.float32), chunks[0].sample_rate


@pytest.fixture(scope="module")
def recognizer() -> Recognizer:
    return Recognizer()


def test_ishowtts_is_as_intelligible_as_piper(recognizer: Recognizer, tmp_path: Path) -> None:
    assert CLI.exists(), f"{CLI} missing: run scripts/setup.sh"
    assert VOICE.exists(), f"{VOICE} missing: run scripts/setup.sh"
    from piper import PiperVoice

    piper_voice = PiperVoice.load(str(VOICE))
    errors = {"ishowtts": 0, "piper": 0}
    n_words = 0
    report = []
    for run in range(RUNS):
        for i, text in enumerate(SENTENCES):
            ref = words(text)
            n_words += len(ref)
            ours = recognizer(*ishowtts_say(text, tmp_path / f"s{i}.wav", seed=1000 * run + i))
            theirs = recognizer(*piper_say(piper_voice, text))
            errors["ishowtts"] += edit_distance(ref, words(ours))
            errors["piper"] += edit_distance(ref, words(theirs))
            report.append(f"{text!r}\n  ishowtts: {ours!r}\n  piper:    {theirs!r}")
    wer = {k: 100.0 * v / n_words for k, v in errors.items()}
    summary = (
        f"WER over {len(SENTENCES)} sentences x {RUNS} renderings / {n_words} words: "
        f"ishowtts {wer['ishowtts']:.1f} %, piper-tts {wer['piper']:.1f} %"
    )
    print("\n".join(report))
    print(summary)
    assert wer["ishowtts"] <= wer["piper"] + MAX_EXTRA_WER_POINTS, summary
