"""Compressed reference-audio seeds of the fuzz target `reference_audio`:
a short tone as MP3, FLAC, Ogg Vorbis and A-law WAV (a codec hound does not
read, so symphonia's WAV path runs), written to fuzz/seeds/reference_audio/.
The WAV seeds come from `cargo run --release --example fuzz_seeds`.

    python3 -m venv /tmp/seeds && /tmp/seeds/bin/pip install soundfile numpy
    /tmp/seeds/bin/python scripts/fuzz_audio_seeds.py

soundfile bundles libsndfile (1.2.2 made the committed seeds); the seeds
are kept small (under 4 KB) so that the fuzzer mutates them quickly.
"""

from pathlib import Path

import numpy as np
import soundfile as sf

OUT = Path(__file__).resolve().parent.parent / "fuzz" / "seeds" / "reference_audio"


def tone(seconds: float, rate: int, channels: int) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    x = 0.4 * np.sin(2 * np.pi * 440 * t).astype(np.float32)
    return np.stack([x] * channels, axis=1) if channels > 1 else x


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    seeds = [
        ("mp3", tone(0.15, 16000, 1), 16000, "MP3", "MPEG_LAYER_III"),
        ("flac", tone(0.1, 8000, 2), 8000, "FLAC", "PCM_16"),
        ("ogg", tone(0.2, 8000, 1), 8000, "OGG", "VORBIS"),
        ("alaw-wav", tone(0.1, 8000, 1), 8000, "WAV", "ALAW"),
    ]
    for name, x, rate, fmt, subtype in seeds:
        path = OUT / f"seed-{name}"
        sf.write(path, x, rate, format=fmt, subtype=subtype)
        print(f"{path.name}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
