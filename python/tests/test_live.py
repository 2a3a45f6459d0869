"""Live requests from Python: `engine.open_stream()` takes its text in
pieces (`push`, `flush`, `finish`) while the audio is read with `for` or
`async for`; the audio equals a one-shot request of the whole text, and bad
pushes raise their own exceptions."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

import ishowtts

TEXT = "The first sentence comes in pieces. Then a second one, café included. The end."


def pieces(text: str, n: int) -> list[str]:
    return [text[i : i + n] for i in range(0, len(text), n)]


def test_pushed_text_gives_the_one_shot_audio(engine: ishowtts.Engine) -> None:
    whole = engine.synthesize(TEXT, seed=4, use_cache=False)
    with engine.open_stream(seed=4) as s:
        for p in pieces(TEXT, 3):
            s.push(p)
        s.flush()  # speaks what is held (here, as finish would)
        s.finish()
        chunks = list(s)
    assert chunks[-1].is_last and s.status == "finished"
    assert np.array_equal(np.concatenate([c.samples for c in chunks]), whole)
    spoken = [c.text for c in chunks if c.ends_sentence and c.text]
    # "The end." is short: joined to the sentence before, as in one shot
    assert spoken == [
        "The first sentence comes in pieces.",
        "Then a second one, café included. The end.",
    ]
    assert chunks[1].char_span == (36, len(TEXT))


def test_push_on_one_thread_read_in_async_for(engine: ishowtts.Engine) -> None:
    s = engine.open_stream(seed=1)

    def producer() -> None:
        for p in pieces(TEXT, 7):
            s.push(p)
        s.finish()

    t = threading.Thread(target=producer)
    t.start()

    async def read() -> list[ishowtts.Chunk]:
        return [c async for c in s]

    chunks = asyncio.run(read())
    t.join()
    assert chunks and chunks[-1].is_last


def test_bad_pushes_raise(engine: ishowtts.Engine) -> None:
    s = engine.open_stream()
    s.flush()  # empty: a no-op
    s.push("One sentence. ")
    s.finish()
    with pytest.raises(ishowtts.InvalidParameterError):
        s.push("late")
    with pytest.raises(ishowtts.InvalidParameterError):
        s.finish()
    assert list(s)[-1].is_last
    s = engine.open_stream()
    s.push("Cancelled before it ends. More.")
    s.cancel()
    with pytest.raises(ishowtts.CancelledError):
        s.push("x")
    list(s)
    assert s.status == "cancelled"
    with pytest.raises(TypeError):
        engine.stream("A plain stream.").push("x")
    with pytest.raises(ishowtts.VoiceNotFoundError):
        engine.open_stream(voice="nobody")
    assert engine.synthesize("Still fine.").size > 0
