"""Whole-request calls: synthesize, synthesize_to_wav, synthesize_with."""

from __future__ import annotations

import _thread
import signal
import struct
import threading
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from conftest import LONG_TEXT, assert_speaks

import ishowtts


def test_synthesize_returns_float32_at_the_voice_rate(engine: ishowtts.Engine) -> None:
    audio = engine.synthesize("Hello from Python. How are you today?", seed=1)
    assert isinstance(audio, np.ndarray)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert audio.flags.c_contiguous and audio.flags.writeable
    # Two short sentences at 22050 Hz: between one and six seconds.
    assert 22050 < audio.size < 6 * 22050
    assert 0.05 < float(np.abs(audio).max()) <= 1.0
    [info] = [v for v in engine.voices() if v.name == "default"]
    assert info.sample_rate == 22050


def test_int16_at_16_khz(engine: ishowtts.Engine) -> None:
    text = "Sixteen kilohertz, sixteen bits."
    f32 = engine.synthesize(text, seed=3, use_cache=False)
    pcm = engine.synthesize(text, seed=3, format="i16", sample_rate=16000, use_cache=False)
    assert pcm.dtype == np.int16 and pcm.ndim == 1
    # The same audio resampled: the length scales with the rate.
    assert abs(pcm.size - f32.size * 16000 / 22050) <= 2
    assert int(np.abs(pcm.astype(np.int32)).max()) > 1000


def test_same_seed_same_audio(engine: ishowtts.Engine) -> None:
    text = "Same seed, same audio."
    a = engine.synthesize(text, seed=5, use_cache=False)
    b = engine.synthesize(text, seed=5, use_cache=False)
    c = engine.synthesize(text, seed=6, use_cache=False)
    np.testing.assert_array_equal(a, b)
    assert a.size != c.size or not np.array_equal(a, c)


def test_speed_and_gaps_change_the_length(engine: ishowtts.Engine) -> None:
    text = "One sentence here. Another one there."
    base = engine.synthesize(text, seed=1, use_cache=False).size
    fast = engine.synthesize(text, seed=1, speed=2.0, use_cache=False).size
    assert fast < 0.75 * base
    silence = engine.synthesize(text, seed=1, silence_ms=500, use_cache=False).size
    assert abs(silence - base - 0.5 * 22050) < 0.01 * 22050
    faded = engine.synthesize(text, seed=1, crossfade_ms=50, use_cache=False).size
    assert faded < base


def test_control_characters_and_nul_are_spoken_around(engine: ishowtts.Engine) -> None:
    audio = engine.synthesize("Hello\x00 there.\x07 Bye\x1b now.", use_cache=False)
    assert audio.size > 22050 // 2


def test_cache_hit(engine: ishowtts.Engine) -> None:
    text = "A greeting worth caching."
    before = engine.metrics().output_cache.hits
    first = engine.synthesize(text)
    again = list(engine.stream(text))
    assert all(c.timings.from_cache for c in again)
    np.testing.assert_array_equal(first, np.concatenate([c.samples for c in again]))
    assert engine.metrics().output_cache.hits == before + 1
    # Not read from the cache when asked not to.
    assert not any(c.timings.from_cache for c in engine.stream(text, use_cache=False))


def test_wav_file_is_readable(engine: ishowtts.Engine, tmp_path: Path) -> None:
    path = tmp_path / "out.wav"
    summary = engine.synthesize_to_wav("Written to a file. Sentence by sentence.", path, sample_rate=16000)
    with wave.open(str(path)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 16000)
        frames = w.getnframes()
        pcm = np.frombuffer(w.readframes(frames), dtype="<i2")
    assert frames == summary.samples > 16000 and summary.sample_rate == 16000
    assert summary.chunks == 2 and not summary.cancelled
    assert int(np.abs(pcm.astype(np.int32)).max()) > 1000

    # 32-bit float WAV, which the wave module does not read: IEEE float
    # (format 3), either directly or as the sub-format of an extensible
    # header (0xFFFE, whose GUID starts with the format code).
    fpath = tmp_path / "float.wav"
    engine.synthesize_to_wav("Float samples.", str(fpath), format="f32")
    header = fpath.read_bytes()[:72]
    fmt_tag, channels, rate = struct.unpack("<HHI", header[20:28])
    bits = struct.unpack("<H", header[34:36])[0]
    assert header[:4] == b"RIFF" and (channels, rate, bits) == (1, 22050, 32)
    if fmt_tag == 0xFFFE:
        fmt_tag = struct.unpack("<H", header[44:46])[0]
    assert fmt_tag == 3


def test_wav_to_an_unwritable_path(engine: ishowtts.Engine, tmp_path: Path) -> None:
    with pytest.raises(ishowtts.FileError) as info:
        engine.synthesize_to_wav("Nowhere to go.", tmp_path / "no" / "such" / "dir.wav")
    assert isinstance(info.value, OSError) and info.value.code == 9
    assert_speaks(engine)


def test_callback_sees_each_sentence_and_can_stop(engine: ishowtts.Engine) -> None:
    seen: list[int] = []
    summary = engine.synthesize_with(
        "First one. Second one. Third one.", lambda c: seen.append(c.sentence_index), use_cache=False
    )
    assert seen == [0, 1, 2]
    assert summary.chunks == 3 and not summary.cancelled
    assert summary.time_to_first_audio is not None
    assert 0 < summary.time_to_first_audio <= summary.total_time

    seen.clear()

    def stop_after_first(chunk: ishowtts.Chunk) -> bool:
        seen.append(chunk.sentence_index)
        return False

    summary = engine.synthesize_with("Stop after this. Never this one. Nor this.", stop_after_first)
    assert seen == [0] and summary.cancelled and summary.chunks == 1
    assert_speaks(engine)


def test_raising_callback_cancels_and_raises_callback_error(engine: ishowtts.Engine) -> None:
    def boom(chunk: ishowtts.Chunk) -> None:
        raise KeyError("host bug")

    cancelled = engine.metrics().cancelled
    with pytest.raises(ishowtts.CallbackError) as info:
        engine.synthesize_with(LONG_TEXT, boom, use_cache=False)
    assert info.value.code == 15
    assert isinstance(info.value.__cause__, KeyError)
    assert "KeyError" in str(info.value) and "host bug" in str(info.value)
    deadline = time.monotonic() + 10
    while engine.metrics().cancelled == cancelled and time.monotonic() < deadline:
        time.sleep(0.01)
    assert engine.metrics().cancelled == cancelled + 1
    assert_speaks(engine)


def test_request_keywords_are_checked_like_declared_ones(engine: ishowtts.Engine) -> None:
    # The request keywords are taken as **options (one list for all entry
    # points): a misspelt or mistyped one still fails as Python's would.
    def synthesize(kw: dict[str, Any]) -> object:
        return engine.synthesize("Hi.", **kw)

    def to_wav(kw: dict[str, Any]) -> object:
        return engine.synthesize_to_wav("Hi.", "/nonexistent/x.wav", **kw)

    def with_callback(kw: dict[str, Any]) -> object:
        return engine.synthesize_with("Hi.", lambda c: None, **kw)

    def stream(kw: dict[str, Any]) -> object:
        return engine.stream("Hi.", **kw)

    def open_stream(kw: dict[str, Any]) -> object:
        return engine.open_stream(**kw)

    for call in [synthesize, to_wav, with_callback, stream, open_stream]:
        with pytest.raises(TypeError, match="unexpected keyword argument 'sped'"):
            call({"sped": 1.0})
        with pytest.raises(TypeError, match="argument 'speed'"):
            call({"speed": "fast"})
        with pytest.raises(TypeError, match="argument 'use_cache'"):
            call({"use_cache": 1})
    a = engine.synthesize("Hi.", seed=3, speed=1.2, format="i16", use_cache=False)
    same: dict[str, Any] = {"seed": 3, "speed": 1.2, "format": "i16", "use_cache": False}
    b = engine.synthesize("Hi.", **same)
    assert a.dtype.name == "int16"
    np.testing.assert_array_equal(a, b)
    assert_speaks(engine)


def test_callback_must_be_callable(engine: ishowtts.Engine) -> None:
    with pytest.raises(TypeError):
        engine.synthesize_with("Hi there.", 42)  # type: ignore[arg-type]


def test_ctrl_c_interrupts_a_long_request(engine: ishowtts.Engine) -> None:
    # A process started in the background by a non-interactive shell (as CI
    # runners do) inherits SIGINT ignored, and then interrupt_main() does
    # nothing: install Python's own handler for the test.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(0.3, _thread.interrupt_main)
    start = time.monotonic()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            engine.synthesize(LONG_TEXT * 3, use_cache=False)
    finally:
        signal.signal(signal.SIGINT, previous)
    # Interrupted within a wait slice, long before the text was spoken.
    assert time.monotonic() - start < 2.0
    timer.join()
    assert_speaks(engine)


def test_the_gil_is_released_while_synthesizing(engine: ishowtts.Engine) -> None:
    ticks = 0
    stop = threading.Event()

    def count() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            time.sleep(0.001)

    counter = threading.Thread(target=count)
    counter.start()
    try:
        start = time.monotonic()
        engine.synthesize(". ".join(LONG_TEXT.split(". ")[:3]) + ".", use_cache=False)
        elapsed = time.monotonic() - start
    finally:
        stop.set()
        counter.join()
    # The counter ran all along: about one tick per millisecond when free.
    assert elapsed > 0.2 and ticks > 0.3 * elapsed * 1000


def test_threads_synthesize_at_once(engine: ishowtts.Engine) -> None:
    texts = [f"Thread {w} is speaking now." for w in ["one", "two", "three", "four"]]
    expected = [engine.synthesize(t, seed=9, use_cache=False) for t in texts]
    results: dict[int, NDArray[np.float32]] = {}
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            results[i] = engine.synthesize(texts[i], seed=9, use_cache=False)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(texts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for i, audio in enumerate(expected):
        np.testing.assert_array_equal(results[i], audio)
