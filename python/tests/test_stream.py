"""Streams: sync and async iteration, cancel, context managers, chunk fields."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import LONG_TEXT, assert_speaks

import ishowtts


def test_chunks_come_in_order_with_contiguous_offsets(engine: ishowtts.Engine) -> None:
    text = "First sentence here. Second sentence there. And a third one!"
    stream = engine.stream(text, seed=2, use_cache=False)
    assert stream.status == "running" and stream.request_id > 0
    chunks = list(stream)
    assert stream.status == "finished"
    assert [c.sentence_index for c in chunks] == [0, 1, 2]
    assert [c.is_last for c in chunks] == [False, False, True]
    assert {c.request_id for c in chunks} == {stream.request_id}
    offset = 0
    for c in chunks:
        assert c.sample_offset == offset
        assert c.samples.dtype == np.float32 and c.samples.ndim == 1
        assert len(c) == c.samples.size and c.sample_rate == 22050
        assert c.duration == pytest.approx(c.samples.size / 22050)
        assert c.text == text[c.char_span[0] : c.char_span[1]]
        assert c.text_span == c.char_span  # ASCII: bytes are characters
        t = c.timings
        assert t.synthesis > 0 and t.since_request > 0 and t.queue_wait >= 0
        assert not t.from_cache
        offset += c.samples.size
    assert [c.text for c in chunks] == ["First sentence here.", "Second sentence there.", "And a third one!"]
    # Streaming and whole-request synthesis give the same audio.
    whole = engine.synthesize(text, seed=2, use_cache=False)
    np.testing.assert_array_equal(np.concatenate([c.samples for c in chunks]), whole)
    # An ended stream stays ended.
    assert next(stream, None) is None and stream.next_chunk() is None


def test_char_spans_index_the_python_string(engine: ishowtts.Engine) -> None:
    text = "Café au lait, s'il vous plaît. Très bien, merci."
    chunks = list(engine.stream(text))
    assert len(chunks) == 2
    second = chunks[1]
    assert text[second.char_span[0] : second.char_span[1]] == "Très bien, merci."
    assert second.text == "Très bien, merci."
    encoded = text.encode()
    assert encoded[second.text_span[0] : second.text_span[1]].decode() == "Très bien, merci."
    assert second.text_span[0] == second.char_span[0] + 2  # é and î take two bytes


def test_int16_chunks(engine: ishowtts.Engine) -> None:
    chunks = list(engine.stream("Sixteen bits. At eight kilohertz.", format="i16", sample_rate=8000))
    assert all(c.samples.dtype == np.int16 and c.sample_rate == 8000 for c in chunks)


def test_async_for_keeps_the_event_loop_free(engine: ishowtts.Engine) -> None:
    async def main() -> tuple[list[int], int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.005)

        task = asyncio.create_task(ticker())
        indices = [
            c.sentence_index
            async for c in engine.stream(
                "The first sentence, in async. The second one follows it. And then a third one.",
                use_cache=False,
            )
        ]
        task.cancel()
        return indices, ticks

    indices, ticks = asyncio.run(main())
    assert indices == [0, 1, 2]
    assert ticks > 5, "the event loop ran while the chunks were made"


def test_async_with_and_task_cancel(engine: ishowtts.Engine) -> None:
    async def main() -> ishowtts.Stream:
        async with engine.stream(LONG_TEXT, use_cache=False) as stream:
            async for chunk in stream:
                assert chunk.sentence_index == 0
                break
        return stream

    stream = asyncio.run(main())
    list(stream)  # reads what is left: the cancelled end
    assert stream.status == "cancelled"

    async def cancelled_task() -> ishowtts.Stream:
        stream = engine.stream(LONG_TEXT * 2, use_cache=False)

        async def read_all() -> None:
            async for _ in stream:
                pass

        task = asyncio.create_task(read_all())
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return stream

    start = time.monotonic()
    stream = asyncio.run(cancelled_task())
    # asyncio.run waited for the executor's read: the cancel ended it early.
    assert time.monotonic() - start < 5
    list(stream)
    assert stream.status == "cancelled"
    assert_speaks(engine)


def test_cancel_from_another_thread(engine: ishowtts.Engine) -> None:
    stream = engine.stream(LONG_TEXT, use_cache=False)
    first = next(stream)
    threading.Thread(target=stream.cancel).start()
    rest = list(stream)
    assert first.sentence_index == 0
    assert len(rest) < 9
    assert stream.status == "cancelled"
    assert_speaks(engine)


def test_with_block_cancels_an_unfinished_stream(engine: ishowtts.Engine) -> None:
    cancelled = engine.metrics().cancelled
    with engine.stream(LONG_TEXT, use_cache=False) as stream:
        next(stream)
    assert stream.status == "running"  # as of the last read
    list(stream)
    assert stream.status == "cancelled"
    assert engine.metrics().cancelled == cancelled + 1

    # A finished stream is left as it is.
    with engine.stream("Short.") as short:
        list(short)
    assert short.status == "finished"


def test_next_chunk_timeout(engine: ishowtts.Engine) -> None:
    stream = engine.stream(LONG_TEXT, use_cache=False)
    with pytest.raises(TimeoutError):
        stream.next_chunk(timeout=0)
    chunk = stream.next_chunk(timeout=30)
    assert chunk is not None and chunk.sentence_index == 0
    with pytest.raises(ishowtts.InvalidParameterError):
        stream.next_chunk(timeout=-1)
    stream.cancel()


def test_busy_when_the_queue_is_full(voice: Path) -> None:
    with ishowtts.Engine(voice, queue_limit=1) as engine:
        running = engine.stream(LONG_TEXT, use_cache=False)
        with pytest.raises(ishowtts.BusyError) as info:
            engine.synthesize("Me too.")
        assert info.value.code == 13
        assert engine.metrics().rejected_busy == 1
        running.cancel()
        list(running)
        deadline = time.monotonic() + 10
        while engine.metrics().queue_depth and time.monotonic() < deadline:
            time.sleep(0.01)
        assert_speaks(engine)
