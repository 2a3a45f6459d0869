"""Qwen3-TTS from Python: a voice cloned on the tiny random-weight Base
checkpoint (upstream file layout, written by scripts/test_python.sh into
``TTS_TEST_QWEN3_DIR``), streamed in several chunks per sentence with
``ends_sentence`` on the last of each; the autoregressive keywords, bad
voices and settings raising their own exceptions, and the engine going on.
The audio is not speech (random weights), but every stage runs.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import ROOT

import ishowtts

REF_FLAC = ROOT / "tests" / "fixtures" / "f5_reference" / "ref.flac"
TEXT = "Hello there. Good day to you."
FAST: dict[str, Any] = {"voice": "q", "seed": 3, "use_cache": False}
SAMPLES_PER_FRAME = 1920


@pytest.fixture(scope="module")
def checkpoint() -> Path:
    env = os.environ.get("TTS_TEST_QWEN3_DIR")
    assert env, "TTS_TEST_QWEN3_DIR is not set: run scripts/test_python.sh"
    path = Path(env)
    assert (path / "config.json").is_file(), f"no tiny checkpoint at {path}"
    return path


@pytest.fixture(scope="module")
def qwen3(voice: Path, checkpoint: Path) -> Iterator[ishowtts.Engine]:
    """An engine with the Piper voice as default and the clone "q"."""
    with ishowtts.Engine(voice) as e:
        e.add_qwen3_voice("q", checkpoint, ref_audio=REF_FLAC, language="english")
        yield e


def test_chunks_stream_within_sentences(qwen3: ishowtts.Engine) -> None:
    chunks = list(qwen3.stream(TEXT, **FAST))
    assert len(chunks) > 2
    offset, sentence = 0, 0
    for i, c in enumerate(chunks):
        assert c.sample_rate == 24_000 and c.sample_offset == offset
        assert c.sentence_index == sentence and c.is_last == (i == len(chunks) - 1)
        offset += len(c)
        if c.ends_sentence:
            sentence += 1
    assert sentence == 2 and chunks[-1].ends_sentence
    first = chunks[0]
    assert not first.ends_sentence and len(first) == 4 * SAMPLES_PER_FRAME
    assert first.text == "Hello there."
    # the pieces are the whole request's audio, and a seed repeats it
    joined = np.concatenate([c.samples for c in chunks])
    whole = qwen3.synthesize(TEXT, **FAST)
    assert np.array_equal(joined, whole)
    m = qwen3.metrics()
    assert m.sentences_at_budget >= 0 and "sentences_at_budget" in m.to_dict()


def test_keywords_and_bad_settings(qwen3: ishowtts.Engine) -> None:
    audio = qwen3.synthesize(
        "Hi.",
        **FAST,
        language="chinese",
        instruct="Speak slowly.",
        temperature=0.7,
        top_k=20,
        top_p=0.9,
        repetition_penalty=1.1,
    )
    assert audio.size >= 4 * SAMPLES_PER_FRAME and np.isfinite(audio).all()
    bad: list[dict[str, Any]] = [
        {"language": "klingon"},
        {"temperature": 0.0},
        {"top_k": 0},
        {"top_k": -1},
        {"top_p": 1.5},
        {"repetition_penalty": 0.5},
        {"instruct": "x" * 1001},
    ]
    for kw in bad:
        with pytest.raises(ishowtts.InvalidParameterError):
            qwen3.synthesize("Hi.", **FAST, **kw)
    assert qwen3.synthesize("Still fine.", **FAST).size > 0


def test_stopping_inside_a_sentence(qwen3: ishowtts.Engine) -> None:
    seen: list[ishowtts.Chunk] = []

    def first_only(chunk: ishowtts.Chunk) -> bool:
        seen.append(chunk)
        return False

    summary = qwen3.synthesize_with(TEXT, first_only, **FAST)
    assert summary.cancelled and len(seen) == 1 and not seen[0].ends_sentence


def test_bad_voices(qwen3: ishowtts.Engine, checkpoint: Path, tmp_path: Path) -> None:
    with pytest.raises(ishowtts.ReferenceAudioError):
        qwen3.add_qwen3_voice("x", checkpoint)
    with pytest.raises(ishowtts.ReferenceAudioError):
        qwen3.add_qwen3_voice("x", checkpoint, ref_audio=b"not audio at all")
    with pytest.raises(ishowtts.InvalidParameterError):
        qwen3.add_qwen3_voice("x", checkpoint, ref_audio=REF_FLAC, language="klingon")
    with pytest.raises(ishowtts.VoiceNotFoundError):
        qwen3.add_qwen3_voice("x", tmp_path / "missing")
    # a CustomVoice checkpoint: a built-in speaker by name
    custom = tmp_path / "custom"
    shutil.copytree(checkpoint, custom)
    cfg = json.loads((custom / "config.json").read_text())
    cfg["tts_model_type"] = "custom_voice"
    (custom / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ishowtts.InvalidParameterError, match="tiny_speaker"):
        qwen3.add_qwen3_voice("x", custom)
    qwen3.add_qwen3_voice("named", custom, speaker="Tiny_Speaker")
    assert qwen3.synthesize("Hi.", voice="named", seed=1).size > 0
    qwen3.remove_voice("named")
    assert "x" not in [v.name for v in qwen3.voices()]
