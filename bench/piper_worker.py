"""Benchmark worker for piper-tts (the reference peer): same protocol as
examples/bench_voice.rs. Usage: piper_worker.py VOICE.onnx TEXTS.json RUNS"""

import json
import statistics
import sys
import time


def peak_rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def main() -> None:
    voice_path, texts_path, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    texts = json.load(open(texts_path))
    from piper import PiperVoice, SynthesisConfig

    t = time.perf_counter()
    voice = PiperVoice.load(voice_path)
    load_s = time.perf_counter() - t
    # piper's own default config, except peak normalization (ishowtts
    # does not normalize; it costs piper next to nothing either way)
    cfg = SynthesisConfig(normalize_audio=False)
    for _ in voice.synthesize("Warm up.", syn_config=cfg):
        pass
    results = []
    for text in texts:
        totals, firsts, audio = [], [], 0.0
        for _ in range(runs):
            start = time.perf_counter()
            first = None
            samples = 0
            sr = 22050
            for chunk in voice.synthesize(text, syn_config=cfg):
                if first is None:
                    first = time.perf_counter() - start
                samples += len(chunk.audio_float_array)
                sr = chunk.sample_rate
            totals.append(time.perf_counter() - start)
            firsts.append(first or 0.0)
            audio = samples / sr
        results.append(
            {
                "text": text,
                "audio_s": audio,
                "total_s": statistics.median(totals),
                "first_audio_s": statistics.median(firsts),
            }
        )
    print(json.dumps({"engine": "piper-tts", "load_s": load_s, "results": results, "peak_rss_kib": peak_rss_kib()}))


if __name__ == "__main__":
    main()
