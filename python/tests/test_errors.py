"""Bad input: each case raises its own exception class, and the same engine
then synthesizes correctly."""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import assert_speaks

import ishowtts

BAD_REQUESTS: list[tuple[str, str, dict[str, Any], type[ishowtts.TtsError]]] = [
    ("empty", "", {}, ishowtts.EmptyTextError),
    ("whitespace", " \n\t  ", {}, ishowtts.EmptyTextError),
    ("control characters only", "\x00\x07\x1b\n", {}, ishowtts.EmptyTextError),
    ("lone surrogate", "Hello \ud800 there.", {}, ishowtts.InvalidTextError),
    ("emoji only", "😀🎉 👍", {}, ishowtts.NothingToSpeakError),
    ("punctuation only", "?!... --", {}, ishowtts.NothingToSpeakError),
    ("unknown voice", "Hi there.", {"voice": "nobody"}, ishowtts.VoiceNotFoundError),
    ("NaN speed", "Hi there.", {"speed": math.nan}, ishowtts.InvalidParameterError),
    ("negative speed", "Hi there.", {"speed": -1.0}, ishowtts.InvalidParameterError),
    ("infinite noise", "Hi there.", {"noise_scale": math.inf}, ishowtts.InvalidParameterError),
    ("negative noise_w", "Hi there.", {"noise_w": -0.5}, ishowtts.InvalidParameterError),
    ("unsupported rate", "Hi there.", {"sample_rate": 11025}, ishowtts.InvalidParameterError),
    ("zero rate", "Hi there.", {"sample_rate": 0}, ishowtts.InvalidParameterError),
    ("negative rate", "Hi there.", {"sample_rate": -16000}, ishowtts.InvalidParameterError),
    ("huge rate", "Hi there.", {"sample_rate": 2**40}, ishowtts.InvalidParameterError),
    ("unknown format", "Hi there.", {"format": "i24"}, ishowtts.InvalidParameterError),
    ("speaker out of range", "Hi there.", {"speaker": 1}, ishowtts.SpeakerOutOfRangeError),
    ("negative speaker", "Hi there.", {"speaker": -1}, ishowtts.SpeakerOutOfRangeError),
    ("huge speaker", "Hi there.", {"speaker": 2**70}, ishowtts.InvalidParameterError),
    ("negative seed", "Hi there.", {"seed": -1}, ishowtts.InvalidParameterError),
    ("silence too long", "Hi. There.", {"silence_ms": 5000}, ishowtts.InvalidParameterError),
    ("negative silence", "Hi. There.", {"silence_ms": -1}, ishowtts.InvalidParameterError),
    ("crossfade too long", "Hi. There.", {"crossfade_ms": 500}, ishowtts.InvalidParameterError),
    ("both gaps", "Hi. There.", {"silence_ms": 10, "crossfade_ms": 10}, ishowtts.InvalidParameterError),
]


@pytest.mark.parametrize(
    "text, kwargs, exc", [case[1:] for case in BAD_REQUESTS], ids=[case[0] for case in BAD_REQUESTS]
)
def test_bad_request(
    engine: ishowtts.Engine, text: str, kwargs: dict[str, Any], exc: type[ishowtts.TtsError]
) -> None:
    calls: list[Callable[..., object]] = [engine.synthesize, engine.stream]
    for call in calls:
        with pytest.raises(exc) as info:
            call(text, **kwargs)
        assert type(info.value) is exc
        assert info.value.code == exc.code
        assert str(info.value)
    assert_speaks(engine)


def test_exceptions_are_also_builtin_kinds() -> None:
    assert issubclass(ishowtts.InvalidTextError, ValueError)
    assert issubclass(ishowtts.InvalidParameterError, ValueError)
    assert issubclass(ishowtts.VoiceNotFoundError, LookupError)
    assert issubclass(ishowtts.FileError, OSError)
    assert issubclass(ishowtts.ModelFormatError, ishowtts.ModelError)
    codes = [cls.code for cls in vars(ishowtts).values() if isinstance(cls, type) and issubclass(cls, ishowtts.TtsError)]
    codes.remove(0)  # TtsError itself
    assert len(codes) == len(set(codes)), "one class per code"


def test_text_too_long(voice: Path) -> None:
    with ishowtts.Engine(voice, max_text_bytes=64) as engine:
        with pytest.raises(ishowtts.TextTooLongError) as info:
            engine.synthesize("A sentence. " * 10)
        assert "64" in str(info.value)
        # The limit counts UTF-8 bytes: 30 characters of 3 bytes are too many.
        with pytest.raises(ishowtts.TextTooLongError):
            engine.synthesize("好" * 30)
        assert_speaks(engine)


@pytest.mark.parametrize(
    "call",
    [
        lambda e: e.synthesize(42),
        lambda e: e.synthesize(b"bytes are not text"),
        lambda e: e.synthesize(None),
        lambda e: e.synthesize("Hi.", speed="fast"),
        lambda e: e.synthesize("Hi.", sample_rate=16000.0),
        lambda e: e.synthesize("Hi.", seed="1"),
        lambda e: e.synthesize("Hi.", voice=3),
        lambda e: e.synthesize("Hi.", use_cache="yes"),
        lambda e: e.synthesize("Hi.", unknown_keyword=1),
        lambda e: e.synthesize("Hi.", "positional options"),
        lambda e: e.stream(["Hi."]),
        lambda e: e.add_voice("x", 42),
    ],
)
def test_wrong_types(engine: ishowtts.Engine, call: Any) -> None:
    with pytest.raises(TypeError):
        call(engine)
    assert_speaks(engine)


def test_missing_model_file(engine: ishowtts.Engine, tmp_path: Path) -> None:
    with pytest.raises(ishowtts.VoiceNotFoundError) as info:
        engine.add_voice("missing", tmp_path / "missing.onnx")
    assert "missing.onnx" in str(info.value)
    with pytest.raises(ishowtts.VoiceNotFoundError):
        ishowtts.Engine(tmp_path / "missing.onnx")
    assert_speaks(engine)


def test_corrupt_model_file(engine: ishowtts.Engine, voice: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07not an onnx file at all" * 100)
    shutil.copy(voice.with_name(voice.name + ".json"), tmp_path / "bad.onnx.json")
    # Only the config is read when a voice is added; the weights load on use.
    assert engine.add_voice("bad", bad) >= 1
    for attempt in range(2):  # a failed load is retried, and fails alike
        with pytest.raises(ishowtts.ModelFormatError) as info:
            engine.synthesize("Hello there.", voice="bad")
        assert info.value.code == 10 and "bad.onnx" in str(info.value)
    stream = engine.stream("Hello there.", voice="bad")
    with pytest.raises(ishowtts.ModelFormatError):
        next(stream)
    assert stream.status == "failed"
    assert engine.metrics().model_load_failures >= 2
    engine.remove_voice("bad")
    assert_speaks(engine)


def test_corrupt_voice_config(engine: ishowtts.Engine, voice: Path, tmp_path: Path) -> None:
    model = tmp_path / "voice.onnx"
    model.symlink_to(voice)
    (tmp_path / "voice.onnx.json").write_text("{ not json")
    with pytest.raises(ishowtts.ModelFormatError):
        engine.add_voice("broken", model)
    (tmp_path / "voice.onnx.json").unlink()
    with pytest.raises(ishowtts.TtsError):
        engine.add_voice("broken", model)
    assert "broken" not in [v.name for v in engine.voices()]
    assert_speaks(engine)


def test_bad_engine_settings(voice: Path) -> None:
    bad: list[dict[str, Any]] = [
        {"device": "tpu"},
        {"device": "cuda:x"},
        {"queue_limit": 0},
        {"queue_limit": -1},
        {"cache_entries": -5},
        {"max_text_bytes": 0},
        {"idle_unload": 0.0},
        {"idle_unload": -1.0},
        {"idle_unload": math.nan},
        {"max_batch": 0},
        {"max_batch": 257},
        {"max_batch": -1},
        {"workers": 0},
        {"workers": 65},
        {"workers": -1},
        {"batch_window": -0.1},
        {"batch_window": math.inf},
        {"batch_window": 11.0},
    ]
    for kwargs in bad:
        with pytest.raises(ishowtts.InvalidParameterError):
            ishowtts.Engine(voice, **kwargs)


def test_cuda_in_a_cpu_build(voice: Path) -> None:
    with pytest.raises(ishowtts.UnsupportedError):
        ishowtts.Engine(voice, device="cuda:0")


def test_voice_names(engine: ishowtts.Engine, voice: Path) -> None:
    with pytest.raises(ishowtts.InvalidParameterError):
        engine.add_voice("", voice)
    with pytest.raises(ishowtts.InvalidParameterError):
        engine.add_voice("tab\there", voice)
    with pytest.raises(ishowtts.VoiceNotFoundError):
        engine.remove_voice("nobody")
    with pytest.raises(ishowtts.VoiceNotFoundError):
        engine.set_default_voice("nobody")
    assert_speaks(engine)


def test_closed_engine(voice: Path) -> None:
    engine = ishowtts.Engine(voice)
    stream = engine.stream("Hello. Goodbye.", use_cache=False)
    engine.close()
    assert engine.closed
    for call in (
        lambda: engine.synthesize("Hi."),
        lambda: engine.stream("Hi."),
        lambda: engine.voices(),
        lambda: engine.metrics(),
        lambda: engine.add_voice("x", voice),
    ):
        with pytest.raises(ishowtts.EngineClosedError):
            call()
    engine.close()  # twice is harmless
    # A stream started before the close ends: with its chunks, or closed.
    try:
        list(stream)
    except ishowtts.EngineClosedError:
        pass
    assert stream.status in ("finished", "failed", "cancelled")
