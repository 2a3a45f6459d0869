"""The official `openai` Python client against `ishowtts serve`, unchanged
but for `base_url`: whole WAV, streamed PCM whose first bytes arrive before
the last sentence is made, SSE events, the models list, and errors raised
as the client's own exception types with our codes."""

from __future__ import annotations

import base64
import json
import struct
import time
from pathlib import Path
from typing import Iterator

import openai
import pytest

from serve_fixture import serve


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[openai.OpenAI]:
    with serve(tmp_path_factory.mktemp("serve")) as url:
        yield openai.OpenAI(base_url=url + "/v1", api_key="unused", timeout=120, max_retries=0)


def pcm_rms(pcm: bytes) -> float:
    n = len(pcm) // 2
    samples = struct.unpack(f"<{n}h", pcm[: n * 2])
    return (sum(s * s for s in samples) / max(n, 1)) ** 0.5


def test_whole_wav(client: openai.OpenAI, tmp_path: Path) -> None:
    response = client.audio.speech.create(
        model="tts-1", voice="alloy", input="Hello from the OpenAI client. It works.",
        response_format="wav",
    )
    out = tmp_path / "speech.wav"
    response.write_to_file(out)
    wav = out.read_bytes()
    assert wav[:4] == b"RIFF" and wav[8:12] == b"WAVE"
    rate, bits = struct.unpack("<I", wav[24:28])[0], struct.unpack("<H", wav[34:36])[0]
    assert (rate, bits) == (22050, 16)
    pcm = wav[44:]
    assert len(pcm) / 2 / rate > 1.5, "speech of a second or more"
    assert pcm_rms(pcm) > 300


def test_mp3(client: openai.OpenAI) -> None:
    audio = client.audio.speech.create(
        model="tts-1", voice="alloy", input="Compressed speech, for a browser.", response_format="mp3",
    ).content
    assert audio[0] == 0xFF and audio[1] & 0xE0 == 0xE0, "an MPEG frame first"
    assert len(audio) > 8000


def test_streamed_pcm_starts_early(client: openai.OpenAI) -> None:
    text = "Short first. " + "Then a long sentence that keeps the model busy for a good while longer. " * 5
    start = time.monotonic()
    first_at = None
    total = 0
    with client.audio.speech.with_streaming_response.create(
        model="tts-1", voice="nova", input=text, response_format="pcm", speed=1.1,
    ) as response:
        assert response.headers["content-type"] == "audio/pcm"
        for piece in response.iter_bytes(4096):
            if first_at is None and piece:
                first_at = time.monotonic() - start
            total += len(piece)
    done_at = time.monotonic() - start
    assert first_at is not None and total > 22050 * 2 * 5
    assert first_at * 2 < done_at, f"first bytes after {first_at:.2f} s of {done_at:.2f} s"


def test_sse_events(client: openai.OpenAI) -> None:
    events = []
    with client.audio.speech.with_streaming_response.create(
        model="tts-1", voice="echo", input="Events, one by one. Then the end.",
        response_format="pcm", stream_format="sse",
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line[len("data: "):]))
    assert events[-1]["type"] == "speech.audio.done"
    deltas = [e for e in events[:-1] if e["type"] == "speech.audio.delta"]
    assert len(deltas) == len(events) - 1 >= 2
    audio = b"".join(base64.b64decode(e["audio"]) for e in deltas)
    assert len(audio) > 22050 * 2 and pcm_rms(audio) > 300


def test_models_list(client: openai.OpenAI) -> None:
    ids = [m.id for m in client.models.list()]
    assert "tts-1" in ids and "piper" in ids


def test_errors_are_client_exceptions(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as e:
        client.audio.speech.create(model="tts-1", voice="nobody", input="Hi.")
    assert e.value.code == "voice_not_found" and "default" in e.value.message
    with pytest.raises(openai.BadRequestError) as e2:
        client.audio.speech.create(model="tts-1", voice="alloy", input="Hi.", response_format="opus")
    assert e2.value.code == "unsupported_format" and "mp3" in e2.value.message
    with pytest.raises(openai.BadRequestError) as e3:
        client.audio.speech.create(model="tts-1", voice="alloy", input="")
    assert e3.value.code == "empty_input"
    with pytest.raises(openai.NotFoundError) as e4:
        client.audio.speech.create(model="gpt-9-tts", voice="alloy", input="Hi.")
    assert e4.value.code == "model_not_found"
