"""The Ray Serve application end to end: a local Ray cluster on the loopback,
the app deployed with two replicas, and requests through plain HTTP and the
official `openai` client. Run by scripts/test_ray_serve.sh.

Everything is bounded in time: each HTTP call has a timeout, and an alarm
fails the whole module (Ray is shut down all the same) past TEST_BUDGET_S.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import struct
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import openai
import pytest
import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
TEST_BUDGET_S = 170
HTTP_TIMEOUT = httpx.Timeout(60.0, connect=5.0)
# Everything stays on the loopback. Ray reports usage to a remote service
# unless told not to. And on Linux it replaces a node address of 127.0.0.1
# by the machine's reachable one and binds its servers there or on all
# interfaces; its single-machine mode (the default on macOS and Windows)
# keeps the node, and so its servers, on 127.0.0.1. Set before ray is
# imported, which reads them.
os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"

# Two sentences of ordinary English: at least a second and a half of speech.
TWO_SENTENCES = "The quick brown fox jumps over the lazy dog. Then it runs far away into the woods."
RATE = 22050  # en_US-joe-medium's sample rate

# Ray's own modules warn about their use of pydantic; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

REPLICA_HEADER = "x-ishowtts-replica"
#: Every replica id seen in that header.
REPLICAS_SEEN: set[str] = set()


def voice_path() -> Path:
    """The default voice: ISHOWTTS_VOICE, else the checkout's models/ (as
    python/tests/conftest.py finds it)."""
    env = os.environ.get("ISHOWTTS_VOICE")
    return Path(env) if env else ROOT / "models" / "en_US-joe-medium.onnx"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module", autouse=True)
def time_budget() -> Iterator[None]:
    """Fails whatever runs past the budget; the fixtures' teardown still runs."""

    def expired(signum: int, frame: Any) -> None:
        raise TimeoutError(f"the Ray Serve test ran past {TEST_BUDGET_S} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(TEST_BUDGET_S)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="module")
def base_url(time_budget: None) -> Iterator[str]:
    voice = voice_path()
    assert voice.is_file(), f"{voice} is missing: run scripts/setup.sh or set ISHOWTTS_VOICE"
    import ray
    from ray import serve

    from speech_app import build_app

    started = time.monotonic()
    try:
        ray.init(
            address="local",
            num_cpus=2,
            include_dashboard=False,
            _node_ip_address="127.0.0.1",
            object_store_memory=100 * 2**20,
            logging_level="WARNING",
            # The replicas import speech_app and speech_protocol from here.
            runtime_env={"working_dir": str(HERE), "excludes": ["__pycache__"]},
        )
        port = free_port()
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        app = build_app(
            {
                "voice": str(voice),
                "voices": {"joe": str(voice)},
                # Autoscaling held at two replicas: both start, none is added.
                "min_replicas": 2,
                "max_replicas": 2,
                "max_ongoing_requests": 4,
                "max_input_chars": 400,
            }
        )
        serve.run(app, name="ishowtts", route_prefix="/", blocking=False)
        url = f"http://127.0.0.1:{port}"
        wait_ready(url)
        print(f"Ray Serve up with two replicas in {time.monotonic() - started:.1f} s")
        yield url
    finally:
        try:
            serve.shutdown()
        finally:
            ray.shutdown()


def wait_ready(url: str, budget_s: float = 90.0) -> None:
    deadline = time.monotonic() + budget_s
    last: object = None
    while time.monotonic() < deadline:
        try:
            r = httpx.get(f"{url}/readyz", timeout=5.0)
            if r.status_code == 200:
                return
            last = f"{r.status_code} {r.text}"
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.5)
    raise TimeoutError(f"the app was not ready within {budget_s} s: {last}")


def speech(url: str, **body: Any) -> httpx.Response:
    r = httpx.post(f"{url}/v1/audio/speech", json=body, timeout=HTTP_TIMEOUT)
    if REPLICA_HEADER in r.headers:
        REPLICAS_SEEN.add(r.headers[REPLICA_HEADER])
    return r


def parse_wav(data: bytes) -> tuple[int, np.ndarray]:
    """(sample rate, int16 samples) of a 16-bit mono PCM WAV, whose sizes may
    be the streaming placeholder 0xFFFFFFFF."""
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE", data[:16]
    pos, rate = 12, None
    while pos + 8 <= len(data):
        tag, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        body = pos + 8
        if tag == b"fmt ":
            fmt, channels, rate, byte_rate, align, bits = struct.unpack(
                "<HHIIHH", data[body : body + 16]
            )
            assert (fmt, channels, align, bits) == (1, 1, 2, 16)
            assert byte_rate == rate * 2
        elif tag == b"data":
            assert rate is not None, "data before fmt"
            payload = data[body:] if size == 0xFFFFFFFF else data[body : body + size]
            assert len(payload) % 2 == 0
            return rate, np.frombuffer(payload, dtype="<i2")
        pos = body + size
    raise AssertionError("no data chunk")


def assert_speech(samples: np.ndarray, rate: int, min_s: float) -> None:
    seconds = samples.size / rate
    assert min_s <= seconds < 30, f"{seconds:.2f} s of audio"
    assert np.abs(samples.astype(np.int32)).max() > 1000, "silent audio"


def openai_client(url: str) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=f"{url}/v1", api_key="unused", timeout=60.0, max_retries=0
    )


def test_service_routes(base_url: str) -> None:
    r = httpx.get(f"{base_url}/healthz", timeout=HTTP_TIMEOUT)
    assert (r.status_code, r.text) == (200, "ok")
    r = httpx.get(f"{base_url}/readyz", timeout=HTTP_TIMEOUT)
    assert r.status_code == 200 and r.json()["status"] == "ready", r.text

    models = httpx.get(f"{base_url}/v1/models", timeout=HTTP_TIMEOUT).json()
    assert models["object"] == "list"
    ids = [m["id"] for m in models["data"]]
    assert ids == ["tts-1", "tts-1-hd", "gpt-4o-mini-tts", "ishowtts", "piper"]
    assert all(m["object"] == "model" and m["owned_by"] == "ishowtts" for m in models["data"])

    voices = httpx.get(f"{base_url}/v1/voices", timeout=HTTP_TIMEOUT).json()["voices"]
    by_name = {v["id"]: v for v in voices}
    assert set(by_name) == {"default", "joe"}
    default = by_name["default"]
    assert default["default"] and not by_name["joe"]["default"]
    assert (default["model"], default["sample_rate"], default["speakers"]) == ("piper", RATE, 1)
    # A model family names the voice's model.
    r = speech(base_url, model="piper", voice="joe", input="Hi there.")
    assert r.status_code == 200, r.text
    assert r.headers["x-sample-rate"] == str(RATE)

    r = httpx.get(f"{base_url}/v1/nothing", timeout=HTTP_TIMEOUT)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", r.text


def test_wav(base_url: str) -> None:
    r = speech(base_url, model="tts-1", voice="alloy", input=TWO_SENTENCES)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "audio/wav"
    rate, samples = parse_wav(r.content)
    assert rate == RATE
    assert_speech(samples, rate, min_s=1.5)


def test_whole_wav_has_exact_sizes(base_url: str) -> None:
    r = speech(base_url, input=TWO_SENTENCES, stream=False)
    assert r.status_code == 200, r.text
    riff, data = struct.unpack("<I", r.content[4:8])[0], struct.unpack("<I", r.content[40:44])[0]
    assert (riff, data) == (len(r.content) - 8, len(r.content) - 44)
    rate, samples = parse_wav(r.content)
    assert_speech(samples, rate, min_s=1.5)


def test_wav_and_pcm_carry_the_same_audio(base_url: str) -> None:
    body = {"model": "ishowtts", "input": "Seeds make it repeatable.", "seed": 7,
            "sample_rate": 16000, "speed": 1.25}
    wav = speech(base_url, **body, response_format="wav")
    pcm = speech(base_url, **body, response_format="pcm")
    assert wav.status_code == pcm.status_code == 200, (wav.text, pcm.text)
    assert pcm.headers["content-type"] == "audio/pcm"
    rate, samples = parse_wav(wav.content)
    assert rate == 16000
    assert samples.tobytes() == pcm.content


def test_pcm_streams_through_openai_client(base_url: str) -> None:
    text = " ".join(f"This is sentence number {n} of the streamed answer." for n in range(1, 7))
    client = openai_client(base_url)
    started = time.monotonic()
    pieces: list[tuple[float, bytes]] = []
    with client.audio.speech.with_streaming_response.create(
        model="tts-1", voice="nova", input=text, response_format="pcm"
    ) as response:
        assert response.http_response.status_code == 200
        REPLICAS_SEEN.add(response.headers[REPLICA_HEADER])
        for piece in response.iter_bytes():
            pieces.append((time.monotonic() - started, piece))
    audio = b"".join(p for _, p in pieces)
    assert len(audio) % 2 == 0
    assert_speech(np.frombuffer(audio, dtype="<i2"), RATE, min_s=6.0)
    # The first sentence left before the last was made.
    first_at, last_at = pieces[0][0], pieces[-1][0]
    assert len(pieces) >= 2 and first_at < 0.8 * last_at, [t for t, _ in pieces]


def test_sse_through_openai_client(base_url: str) -> None:
    client = openai_client(base_url)
    with client.audio.speech.with_streaming_response.create(
        model="ishowtts",
        voice="default",
        input=TWO_SENTENCES,
        response_format="pcm",
        stream_format="sse",
    ) as response:
        assert response.http_response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        REPLICAS_SEEN.add(response.headers[REPLICA_HEADER])
        events = [json.loads(line[len("data: "):]) for line in response.iter_lines()
                  if line.startswith("data: ")]
    deltas = [e for e in events if e["type"] == "speech.audio.delta"]
    assert len(deltas) >= 2, [e["type"] for e in events]  # one per sentence at least
    assert events[-1]["type"] == "speech.audio.done" and events[:-1] == deltas
    assert set(events[-1]["usage"]) == {"input_tokens", "output_tokens", "total_tokens"}
    audio = b"".join(base64.b64decode(e["audio"]) for e in deltas)
    assert_speech(np.frombuffer(audio, dtype="<i2"), RATE, min_s=1.5)


@pytest.mark.parametrize(
    ("body", "status", "code", "param", "mentions"),
    [
        ({"model": "tts-1", "input": "  ", "voice": "alloy"}, 400, "empty_input", "input", ""),
        ({"model": "tts-1", "voice": "alloy"}, 400, "invalid_field", "input", ""),
        ({"input": "x" * 401}, 400, "input_too_long", "input", "limit is 400"),
        ({"input": "Hi.", "voice": "nobody"}, 404, "voice_not_found", "voice", "default, joe"),
        ({"input": "Hi.", "voice": 7}, 400, "invalid_field", "voice", ""),
        ({"input": "Hi.", "model": "gpt-9"}, 404, "model_not_found", "model", "tts-1"),
        ({"input": "Hi.", "response_format": "mp3"}, 400, "unsupported_format",
         "response_format", "wav, pcm"),
        ({"input": "Hi.", "speed": "fast"}, 400, "invalid_field", "speed", ""),
        ({"input": "Hi.", "speed": 5}, 400, "invalid_field", "speed", ""),
        ({"input": "Hi.", "stream_format": "ws"}, 400, "invalid_field", "stream_format", ""),
        ({"input": "Hi.", "sample_rate": 12345}, 400, "invalid_parameter", None, ""),
        ({"input": "!!!"}, 400, "nothing_to_speak", None, ""),
    ],
)
def test_bad_requests(
    base_url: str, body: dict[str, Any], status: int, code: str, param: str | None, mentions: str
) -> None:
    r = speech(base_url, **body, unknown_field="ignored")
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert (err["code"], err["param"]) == (code, param)
    assert err["type"] == ("not_found_error" if status == 404 else "invalid_request_error")
    assert mentions in err["message"]


def test_malformed_json(base_url: str) -> None:
    def post(raw: bytes, content_type: str = "application/json") -> httpx.Response:
        return httpx.post(
            f"{base_url}/v1/audio/speech",
            content=raw,
            headers={"content-type": content_type},
            timeout=HTTP_TIMEOUT,
        )

    for raw in (b'{"input": "Hi."', b"[1, 2]", b'{"input": NaN}'):
        r = post(raw)
        assert r.status_code == 400, (raw, r.text)
        assert r.json()["error"]["code"] == "invalid_json"
    r = post(b'{"input": "Hi."}', "text/plain")
    assert r.status_code == 415 and r.json()["error"]["code"] == "invalid_content_type"


def test_both_replicas_serve(base_url: str) -> None:
    """Concurrent requests spread over the two replicas (Serve's router picks
    the less busy of two replicas); a few rounds at most."""

    def one(i: int) -> httpx.Response:
        return speech(base_url, input=f"Request number {i}.", response_format="pcm")

    with ThreadPoolExecutor(4) as pool:
        for round_ in range(4):
            if len(REPLICAS_SEEN) >= 2:
                break
            responses = list(pool.map(one, range(4 * round_, 4 * round_ + 4)))
            assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    assert len(REPLICAS_SEEN) == 2, REPLICAS_SEEN


def test_request_fields_map_to_engine_keywords() -> None:
    """Without Ray: what a body becomes, and the type checks the server
    makes before the engine sees a value."""
    from speech_protocol import ApiError, SpeechRequest

    def parse(**body: Any) -> SpeechRequest:
        return SpeechRequest.parse(json.dumps(body).encode(), "application/json; charset=utf-8")

    req = parse(input="Hi.", instructions="Calm.", seed=3, speed=2, stream=False, top_p=0.5)
    assert req.buffered and not req.sse and req.response_format == "wav"
    assert req.engine_options == {"instruct": "Calm.", "seed": 3, "speed": 2.0, "top_p": 0.5}
    for bad in ({"seed": -1}, {"speed": True}, {"stream": 0}, {"top_k": 1.5}, {"nfe_step": 2**32}):
        with pytest.raises(ApiError) as err:
            parse(input="Hi.", **bad)
        assert (err.value.code, err.value.param) == ("invalid_field", next(iter(bad)))


def test_config_file_is_a_valid_serve_config() -> None:
    from ray.serve.schema import ServeDeploySchema

    config = yaml.safe_load((HERE / "serve_config.yaml").read_text())
    ServeDeploySchema.model_validate(config)
    from speech_app import AppArgs

    for app in config["applications"]:
        AppArgs.model_validate(app.get("args", {}))
