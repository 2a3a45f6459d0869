"""The asyncio half of :class:`ishowtts.Stream` (``async for``, ``async with``).

Waiting for a chunk blocks (with the GIL released), so it runs in the
running event loop's default executor and the loop stays free meanwhile.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._ishowtts import Chunk, Stream


async def next_chunk(stream: Stream) -> Chunk:
    """The stream's next chunk; ``StopAsyncIteration`` at its end.

    A task cancelled while it waits cancels the request too, which ends the
    executor's wait at once.
    """
    loop = asyncio.get_running_loop()
    try:
        chunk = await loop.run_in_executor(None, stream.next_chunk)
    except asyncio.CancelledError:
        stream.cancel()
        raise
    if chunk is None:
        raise StopAsyncIteration
    return chunk


async def aenter(stream: Stream) -> Stream:
    """``async with engine.stream(...) as s``: the stream itself."""
    return stream


async def aexit(stream: Stream) -> None:
    """Leaving ``async with``: cancels the request unless it has ended."""
    stream.__exit__(None, None, None)
