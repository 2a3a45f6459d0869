"""Fixtures of the Python module's tests: the default voice and one engine
shared by the tests that do not need their own."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import ishowtts

ROOT = Path(__file__).resolve().parents[2]


def voice_path() -> Path:
    """The default voice: ``ISHOWTTS_VOICE``, else the checkout's models/
    (scripts/setup.sh installs it there)."""
    env = os.environ.get("ISHOWTTS_VOICE")
    return Path(env) if env else ROOT / "models" / "en_US-joe-medium.onnx"


@pytest.fixture(scope="session")
def voice() -> Path:
    path = voice_path()
    assert path.is_file(), f"{path} is missing: run scripts/setup.sh"
    return path


@pytest.fixture(scope="session")
def engine(voice: Path) -> Iterator[ishowtts.Engine]:
    with ishowtts.Engine(voice) as e:
        yield e


def assert_speaks(engine: ishowtts.Engine) -> None:
    """The engine still synthesizes correctly (after an error)."""
    audio = engine.synthesize("Still working.", use_cache=False)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert audio.size > 0.3 * 22050
    assert np.isfinite(audio).all() and np.abs(audio).max() > 0.01


LONG_TEXT = " ".join(
    f"This is sentence number {n} of a long paragraph that takes a while to speak."
    for n in ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
)
