"""The `wyoming` package's own client (what Home Assistant uses) against
`ishowtts serve --wyoming tcp://127.0.0.1:PORT`: `describe` parses as its
`Info`, `synthesize` and streaming synthesis give 16-bit mono audio at the
voice's rate, and an unknown voice is an `Error` after which the same
connection still speaks. The fixture stops the service with SIGTERM and
checks that it exits 0 within 20 s."""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from pathlib import Path
from typing import Iterator

import pytest
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeStopped,
    SynthesizeVoice,
)

from serve_fixture import serve

TIMEOUT = 60.0
RATE = 22050


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    port = free_port()
    with serve(tmp_path_factory.mktemp("wyoming"), "--wyoming", f"tcp://127.0.0.1:{port}"):
        # The Wyoming port is bound before the HTTP line is printed; wait
        # for it anyway (bounded).
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the Wyoming port never opened"
                time.sleep(0.1)
        yield port


def client(port: int) -> AsyncTcpClient:
    return AsyncTcpClient("127.0.0.1", port, connect_timeout=10, read_timeout=TIMEOUT)


async def read(c: AsyncTcpClient) -> Event:
    event = await c.read_event()
    assert event is not None, "the server closed the connection"
    return event


async def read_audio(c: AsyncTcpClient, start: Event | None = None) -> bytes:
    """One audio-start … audio-stop (the start already read, or not): the
    PCM, checked for its format."""
    start = start or await read(c)
    assert AudioStart.is_type(start.type), start
    fmt = AudioStart.from_event(start)
    assert (fmt.rate, fmt.width, fmt.channels) == (RATE, 2, 1)
    pcm = b""
    while True:
        event = await read(c)
        if AudioStop.is_type(event.type):
            return pcm
        assert AudioChunk.is_type(event.type), event
        chunk = AudioChunk.from_event(event)
        assert (chunk.rate, chunk.width, chunk.channels) == (RATE, 2, 1)
        pcm += chunk.audio


def seconds(pcm: bytes) -> float:
    return len(pcm) / 2 / RATE


def rms(pcm: bytes) -> float:
    n = len(pcm) // 2
    samples = struct.unpack(f"<{n}h", pcm[: n * 2])
    return (sum(s * s for s in samples) / max(n, 1)) ** 0.5


def run(coro) -> object:
    return asyncio.run(asyncio.wait_for(coro, timeout=3 * TIMEOUT))


def test_describe(port: int) -> None:
    async def go() -> Info:
        async with client(port) as c:
            await c.write_event(Describe().event())
            event = await read(c)
            assert Info.is_type(event.type)
            return Info.from_event(event)

    info = run(go())
    assert len(info.tts) == 1
    program = info.tts[0]
    assert program.name == "ishowtts"
    assert program.installed and program.supports_synthesize_streaming
    assert program.version and program.attribution.url
    default = program.voices[0]
    assert default.name == "default"
    assert default.installed
    assert default.languages == ["en_US"]
    assert default.attribution.name


def test_synthesize(port: int) -> None:
    async def go() -> bytes:
        async with client(port) as c:
            await c.write_event(
                Synthesize(
                    text="Hello from the wyoming client. Home Assistant speaks like this.",
                    voice=SynthesizeVoice(name="default"),
                ).event()
            )
            return await read_audio(c)

    pcm = run(go())
    assert seconds(pcm) > 1.5
    assert rms(pcm) > 300, "speech, not silence"


def test_streaming_synthesis(port: int) -> None:
    pieces = [
        "The first sentence is here, ",
        "and it is long enough. The sec",
        "ond sentence follows it, just as long! Is this the th",
        "ird one? And here is the fourth and last.",
    ]

    async def go() -> list[bytes]:
        async with client(port) as c:
            await c.write_event(SynthesizeStart(voice=SynthesizeVoice(name="default")).event())
            for piece in pieces:
                await c.write_event(SynthesizeChunk(text=piece).event())
            # What a client sends for servers that do not stream: ignored
            # inside a stream.
            await c.write_event(Synthesize(text="".join(pieces)).event())
            await c.write_event(SynthesizeStop().event())
            sentences = []
            while True:
                event = await read(c)
                if SynthesizeStopped.is_type(event.type):
                    return sentences
                sentences.append(await read_audio(c, event))

    sentences = run(go())
    assert len(sentences) >= 4, [seconds(p) for p in sentences]
    assert all(seconds(p) > 0.5 for p in sentences), [seconds(p) for p in sentences]
    assert rms(b"".join(sentences)) > 300


def test_unknown_voice_then_a_good_request(port: int) -> None:
    async def go() -> tuple[Error, bytes]:
        async with client(port) as c:
            await c.write_event(
                Synthesize(text="Nobody.", voice=SynthesizeVoice(name="no-such-voice")).event()
            )
            event = await read(c)
            assert Error.is_type(event.type), event
            error = Error.from_event(event)
            await c.write_event(Synthesize(text="The same connection still speaks.").event())
            return error, await read_audio(c)

    error, pcm = run(go())
    assert error.code == "voice_not_found"
    assert "no-such-voice" in error.text
    assert seconds(pcm) > 0.8
