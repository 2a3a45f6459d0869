"""F5-TTS voice cloning from Python: a voice registered from a reference
recording (path or bytes), streamed sentence by sentence at 24 kHz, seeded,
with the flow-matching keywords; bad references, files and options raise
their own exceptions and the engine goes on.

The model is the tiny random-weight one of the Rust parity fixtures
(tests/fixtures/f5), so the audio is not speech, but every stage of the
real pipeline runs; ``nfe_step=4`` keeps each request fast.
"""

from __future__ import annotations

import math
import wave
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from conftest import ROOT

import ishowtts

F5 = ROOT / "tests" / "fixtures" / "f5"
CHECKPOINT = F5 / "tiny_v1" / "F5TTS_tiny"
CONFIG = F5 / "tiny_v1" / "config.json"
VOCODER = F5 / "vocos_tiny"
REFERENCES = ROOT / "tests" / "fixtures" / "f5_reference"
REF_FLAC = REFERENCES / "ref.flac"
REF_TEXT = "This is how my voice sounds."
RATE = 24_000

TEXT = "Hello there, this is the first sentence. 你好，这是第二句话。"
SHORT = "A short test sentence here."
# Fast and repeatable: few flow steps, a fixed seed, no output cache.
FAST: dict[str, Any] = {"voice": "clone", "nfe_step": 4, "seed": 1, "use_cache": False}


def add_tiny(
    engine: ishowtts.Engine, name: str, ref_audio: Any, ref_text: str = REF_TEXT, **kwargs: Any
) -> int:
    """Registers a voice of the tiny model; ``kwargs`` override its files."""
    files: dict[str, Any] = {"checkpoint": CHECKPOINT, "config": CONFIG, "vocoder": VOCODER}
    files.update(kwargs)
    return engine.add_f5_voice(name, ref_audio, ref_text, **files)


@pytest.fixture(scope="module")
def f5(voice: Path) -> Iterator[ishowtts.Engine]:
    """An engine with the Piper voice as default and the clone "clone"."""
    with ishowtts.Engine(voice) as e:
        add_tiny(e, "clone", REF_FLAC)
        yield e


def speaks(engine: ishowtts.Engine, voice: str = "clone") -> NDArray[np.float32]:
    """The cloned voice still synthesizes (after an error)."""
    audio = engine.synthesize(SHORT, **{**FAST, "voice": voice})
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert audio.size > RATE // 2
    assert np.isfinite(audio).all() and np.abs(audio).max() > 1e-4
    return audio


def test_voice_is_listed_as_cloned(voice: Path) -> None:
    with ishowtts.Engine(voice) as engine:
        assert add_tiny(engine, "clone", REF_FLAC) == 1
        assert add_tiny(engine, "clone", str(REF_FLAC)) == 2, "replaced: new version"
        [info] = [v for v in engine.voices() if v.name == "clone"]
        assert info.cloned and info.version == 2 and not info.is_default
        assert info.sample_rate == RATE
        assert info.model.startswith("f5:")
        assert info.language == "english", "from the transcript"
        add_tiny(engine, "zh", REF_FLAC, "这是我的声音。")
        assert [v.language for v in engine.voices() if v.name == "zh"] == ["chinese"]
        engine.set_default_voice("clone")
        audio = engine.synthesize(SHORT, nfe_step=4, use_cache=False)
        assert audio.size > RATE // 2
        engine.remove_voice("clone")
        with pytest.raises(ishowtts.VoiceNotFoundError):
            engine.synthesize(SHORT, voice="clone")


def test_cloned_voice_streams_one_chunk_per_sentence(voice: Path) -> None:
    with ishowtts.Engine(voice) as engine:
        add_tiny(engine, "clone", REF_FLAC)
        opts = {**FAST, "seed": 7}
        with engine.stream(TEXT, **opts) as stream:
            chunks = list(stream)
        assert stream.status == "finished"
        assert len(chunks) == 2, "one chunk per sentence"
        offset = 0
        for i, chunk in enumerate(chunks):
            assert chunk.sentence_index == i
            assert chunk.sample_rate == RATE
            assert chunk.sample_offset == offset
            offset += len(chunk)
            assert chunk.samples.dtype == np.float32
            assert chunk.samples.size > RATE // 2, "the length follows the text"
            assert np.isfinite(chunk.samples).all()
            assert np.abs(chunk.samples).max() > 1e-4, "not silent"
        assert [c.text for c in chunks] == [
            "Hello there, this is the first sentence.",
            "你好，这是第二句话。",
        ]
        assert TEXT[slice(*chunks[1].char_span)] == chunks[1].text
        assert chunks[1].is_last and not chunks[0].is_last

        # The same seed repeats exactly, another seed does not.
        joined = np.concatenate([c.samples for c in chunks])
        np.testing.assert_array_equal(engine.synthesize(TEXT, **opts), joined)
        other = engine.synthesize(TEXT, **{**opts, "seed": 8})
        assert other.size != joined.size or not np.array_equal(other, joined)

        # The reference was processed once, for all three requests.
        prompts = engine.metrics().prompt_cache
        assert prompts.misses == 1 and prompts.hits >= 1


def test_every_entry_point_takes_the_flow_keywords(f5: ishowtts.Engine, tmp_path: Path) -> None:
    opts: dict[str, Any] = {
        **FAST,
        "cfg_strength": 2.5,
        "sway_sampling_coef": -0.5,
        "fix_duration": 4.0,
    }
    audio = f5.synthesize(SHORT, **opts)

    got: list[ishowtts.Chunk] = []
    summary = f5.synthesize_with(SHORT, got.append, **opts)
    assert summary.chunks == 1 and summary.sample_rate == RATE and not summary.cancelled
    np.testing.assert_array_equal(got[0].samples, audio)

    pcm = f5.synthesize(SHORT, format="i16", **opts)
    path = tmp_path / "clone.wav"
    summary = f5.synthesize_to_wav(SHORT, path, **opts)
    assert summary.samples == pcm.size == audio.size
    with wave.open(str(path), "rb") as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (RATE, 1, 2)
        frames = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    np.testing.assert_array_equal(frames, pcm)

    resampled = f5.synthesize(SHORT, sample_rate=16000, **opts)
    assert abs(resampled.size - audio.size * 16000 / RATE) <= 2


def test_flow_keywords_change_the_output(f5: ishowtts.Engine) -> None:
    base = f5.synthesize(SHORT, **FAST)
    np.testing.assert_array_equal(f5.synthesize(SHORT, **FAST), base)
    # fix_duration is the total length, reference included: the sentence
    # gets what is left of 5 s, which is not what the text's estimate gave.
    long = f5.synthesize(SHORT, **FAST, fix_duration=5.0)
    assert long.size != base.size
    assert long.size < 5 * RATE
    changes: list[dict[str, Any]] = [
        {"nfe_step": 6},
        {"cfg_strength": 0.5},
        {"sway_sampling_coef": 0.5},
    ]
    for change in changes:
        other = f5.synthesize(SHORT, **{**FAST, **change})
        assert other.size == base.size, change
        assert not np.array_equal(other, base), change


BAD_OPTIONS: list[tuple[str, dict[str, Any]]] = [
    ("nfe_step 0", {"nfe_step": 0}),
    ("nfe_step 129", {"nfe_step": 129}),
    ("negative nfe_step", {"nfe_step": -1}),
    ("huge nfe_step", {"nfe_step": 2**40}),
    ("NaN cfg_strength", {"cfg_strength": math.nan}),
    ("negative cfg_strength", {"cfg_strength": -1.0}),
    ("infinite sway", {"sway_sampling_coef": math.inf}),
    ("sway above 1", {"sway_sampling_coef": 1.5}),
    ("zero fix_duration", {"fix_duration": 0.0}),
    ("negative fix_duration", {"fix_duration": -3.0}),
    ("fix_duration over 60", {"fix_duration": 61.0}),
    ("NaN fix_duration", {"fix_duration": math.nan}),
    ("NaN speed", {"speed": math.nan}),
    ("negative speed", {"speed": -2.0}),
]


@pytest.mark.parametrize("kwargs", [c[1] for c in BAD_OPTIONS], ids=[c[0] for c in BAD_OPTIONS])
def test_bad_options_are_refused(f5: ishowtts.Engine, kwargs: dict[str, Any]) -> None:
    [name] = kwargs
    calls: list[Callable[..., object]] = [f5.synthesize, f5.stream]
    for call in calls:
        with pytest.raises(ishowtts.InvalidParameterError) as info:
            call("Hello.", **{**FAST, **kwargs})
        assert type(info.value) is ishowtts.InvalidParameterError
        assert info.value.code == ishowtts.InvalidParameterError.code
        assert name in str(info.value)
    speaks(f5)


def test_flow_keywords_of_the_wrong_type(f5: ishowtts.Engine) -> None:
    wrong: list[dict[str, Any]] = [
        {"nfe_step": 4.0},
        {"nfe_step": "4"},
        {"cfg_strength": "strong"},
        {"fix_duration": [1.0]},
    ]
    for kwargs in wrong:
        with pytest.raises(TypeError):
            f5.synthesize("Hello.", **{**FAST, **kwargs})
    speaks(f5)


def test_piper_voices_ignore_the_flow_keywords(engine: ishowtts.Engine) -> None:
    text = "Piper has no flow steps."
    plain = engine.synthesize(text, seed=2, use_cache=False)
    flowed = engine.synthesize(
        text,
        seed=2,
        nfe_step=8,
        cfg_strength=1.0,
        sway_sampling_coef=0.0,
        fix_duration=9.0,
        use_cache=False,
    )
    np.testing.assert_array_equal(plain, flowed)


def test_path_and_bytes_forms(voice: Path) -> None:
    with ishowtts.Engine(voice) as engine:
        add_tiny(engine, "by_path", REF_FLAC)
        add_tiny(engine, "by_str", str(REF_FLAC))
        add_tiny(engine, "by_bytes", REF_FLAC.read_bytes())
        a = speaks(engine, "by_path")
        np.testing.assert_array_equal(speaks(engine, "by_str"), a)
        np.testing.assert_array_equal(speaks(engine, "by_bytes"), a)
        # The same recording is processed once, whichever way it came.
        assert engine.metrics().prompt_cache.misses == 1
        for ext in ["mp3", "ogg"]:
            add_tiny(engine, ext, (REFERENCES / f"ref.{ext}").read_bytes())
            add_tiny(engine, f"{ext} path", REFERENCES / f"ref.{ext}")
            b = speaks(engine, ext)
            np.testing.assert_array_equal(speaks(engine, f"{ext} path"), b)


BAD_REFERENCES: list[tuple[str, Any, str, type[ishowtts.TtsError]]] = [
    ("empty audio", b"", REF_TEXT, ishowtts.ReferenceAudioError),
    ("truncated file", REF_FLAC.read_bytes()[:30], REF_TEXT, ishowtts.ReferenceAudioError),
    ("not audio", b"RIFF" + bytes(200), REF_TEXT, ishowtts.ReferenceAudioError),
    ("empty transcript", REF_FLAC, "", ishowtts.InvalidTextError),
    ("emoji transcript", REF_FLAC, " 😀 ", ishowtts.InvalidTextError),
    ("missing audio file", REFERENCES / "missing.wav", REF_TEXT, ishowtts.FileError),
]


@pytest.mark.parametrize(
    "ref_audio, ref_text, exc", [c[1:] for c in BAD_REFERENCES], ids=[c[0] for c in BAD_REFERENCES]
)
def test_bad_references(
    f5: ishowtts.Engine, ref_audio: Any, ref_text: str, exc: type[ishowtts.TtsError]
) -> None:
    before = [(v.name, v.version) for v in f5.voices()]
    with pytest.raises(exc) as info:
        add_tiny(f5, "bad", ref_audio, ref_text)
    assert type(info.value) is exc and info.value.code == exc.code
    assert str(info.value)
    assert [(v.name, v.version) for v in f5.voices()] == before, "nothing registered"
    speaks(f5)


BAD_FILES: list[tuple[str, dict[str, Any], type[BaseException]]] = [
    ("missing checkpoint", {"checkpoint": F5 / "no" / "such" / "dir"}, ishowtts.VoiceNotFoundError),
    ("no vocoder there", {"vocoder": F5 / "tiny_v1"}, ishowtts.VoiceNotFoundError),
    ("unknown variant", {"variant": "v2"}, ishowtts.InvalidParameterError),
    ("bad name", {"name": ""}, ishowtts.InvalidParameterError),
    ("audio of the wrong type", {"ref_audio": 42}, TypeError),
]


@pytest.mark.parametrize("kwargs, exc", [c[1:] for c in BAD_FILES], ids=[c[0] for c in BAD_FILES])
def test_bad_files_and_arguments(
    f5: ishowtts.Engine, kwargs: dict[str, Any], exc: type[BaseException]
) -> None:
    name = kwargs.pop("name", "bad")
    ref_audio = kwargs.pop("ref_audio", REF_FLAC)
    with pytest.raises(exc) as info:
        add_tiny(f5, name, ref_audio, **kwargs)
    assert type(info.value) is exc
    assert "bad" not in [v.name for v in f5.voices()]
    speaks(f5)


def test_checkpoint_of_the_wrong_shape_fails_to_load(f5: ishowtts.Engine) -> None:
    # Registered (the files exist); loading finds tensors of other shapes.
    add_tiny(
        f5,
        "wrong",
        REF_FLAC,
        checkpoint=F5 / "tiny_base" / "F5TTS_tiny",
        config=F5 / "full_v1" / "config.json",
    )
    try:
        with pytest.raises(ishowtts.ModelFormatError) as info:
            f5.synthesize("Hello there.", **{**FAST, "voice": "wrong"})
        assert "transformer." in str(info.value), "names the tensor"
        speaks(f5)
    finally:
        f5.remove_voice("wrong")


def test_variant_base_is_accepted(f5: ishowtts.Engine) -> None:
    # The tiny F5TTS_Base checkpoint with its config.
    add_tiny(
        f5,
        "base",
        REF_FLAC,
        checkpoint=F5 / "tiny_base" / "F5TTS_tiny",
        config=F5 / "tiny_base" / "config.json",
        variant="base",
    )
    try:
        speaks(f5, "base")
    finally:
        f5.remove_voice("base")
