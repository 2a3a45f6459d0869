"""ishowtts behind Ray Serve: the OpenAI-compatible speech API of
`ishowtts serve`, from the Python wheel, on N replicas that Ray Serve adds
and removes with the number of requests waiting.

    cd examples/ray_serve
    serve run --working-dir . speech_app:build_app max_replicas=4
    serve run --working-dir . serve_config.yaml          # the same, from a file

Each replica holds one `ishowtts.Engine`; Ray Serve's proxy spreads requests
over the replicas and its autoscaler sizes the deployment from the requests
each replica has running or queued. See README.md beside this file.
"""

# No `from __future__ import annotations`: FastAPI reads the routes'
# annotations (`request: Request`) at run time, from this module.
import asyncio
import logging
import math
import os
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Optional

import ishowtts
from fastapi import FastAPI, Request
from pydantic import BaseModel, ConfigDict
from ray import serve
from ray.serve import Application
from ray.serve.config import AutoscalingConfig, BackpressureConfig
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

from speech_protocol import (
    CONTENT_TYPES,
    ApiError,
    SpeechRequest,
    pcm16,
    resolve_voice,
    served_models,
    sse_delta,
    sse_done,
    sse_error,
    voice_json,
    wav_header,
)

logger = logging.getLogger("ray.serve")

REPLICA_HEADER = "x-ishowtts-replica"

api = FastAPI(title="ishowtts", docs_url=None, redoc_url=None, openapi_url=None)


@api.exception_handler(StarletteHTTPException)
async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
    """Routing errors in our JSON shape, not FastAPI's `{"detail": ...}`."""
    if exc.status_code == 404:
        err = ApiError(
            404, "not_found", "no such endpoint; see /v1/audio/speech, /v1/models, /v1/voices"
        )
    else:
        err = ApiError(exc.status_code, "http_error", str(exc.detail))
    return JSONResponse(err.body(), status_code=err.status, headers=exc.headers)


@serve.deployment
@serve.ingress(api)
class SpeechServer:
    """One replica: one engine, its HTTP routes, and the threads that wait
    for the engine's chunks."""

    def __init__(
        self,
        voice: Optional[str],
        voices: dict[str, str],
        max_input_chars: int,
        queue_limit: Optional[int],
        max_ongoing_requests: int,
        threads: int,
    ) -> None:
        # The engine's kernels run on a thread pool as wide as the machine
        # unless told otherwise; replicas sharing a node would then fight
        # over every core. Each gets the CPUs Ray reserved for it, unless
        # the runtime environment already says. (Read when the engine first
        # computes, so before the engine is made.)
        os.environ.setdefault("RAYON_NUM_THREADS", str(threads))
        self._voice = voice
        self._voices = voices
        self._max_input_chars = max_input_chars
        self._queue_limit = queue_limit
        self._engine: Optional[ishowtts.Engine] = None
        self._ready = False
        self._lock = threading.Lock()
        # Reading a chunk blocks a thread (the engine releases the GIL), so
        # each running stream needs one: a pool sized to the requests Ray
        # Serve lets in at once, never starved by the loop's other work.
        self._pool = ThreadPoolExecutor(max_ongoing_requests, thread_name_prefix="ishowtts-read")
        self._replica = serve.get_replica_context().replica_id.unique_id
        # Load the voice now so the first request does not pay for it; a
        # failure is reported by /readyz and retried on first use.
        try:
            self._ensure_ready()
        except Exception as exc:  # noqa: BLE001 (any failure: retried later)
            logger.warning("ishowtts replica %s not ready: %s", self._replica, exc)

    # --- the engine, made on first use ---------------------------------------

    def _get_engine(self) -> ishowtts.Engine:
        with self._lock:
            if self._engine is None:
                kwargs: dict[str, Any] = {}
                if self._queue_limit is not None:
                    kwargs["queue_limit"] = self._queue_limit
                engine = ishowtts.Engine(self._voice, **kwargs)
                for name, path in self._voices.items():
                    engine.add_voice(name, path)
                self._engine = engine
            return self._engine

    def _ensure_ready(self) -> ishowtts.Engine:
        """The engine, with the default voice's weights loaded (they load on
        first use, so one short sentence proves they can)."""
        engine = self._get_engine()
        if not self._ready:
            engine.synthesize("Ready.")
            self._ready = True
        return engine

    async def _next_chunk(self, stream: ishowtts.Stream) -> Optional[ishowtts.Chunk]:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, stream.next_chunk)
        except asyncio.CancelledError:
            # The client left: stop the engine's work, which also ends the
            # thread's wait.
            stream.cancel()
            raise

    # --- responses -------------------------------------------------------------

    def _headers(self, extra: Optional[dict[str, str]] = None) -> dict[str, str]:
        return {REPLICA_HEADER: self._replica, **(extra or {})}

    def _error(self, err: ApiError) -> JSONResponse:
        return JSONResponse(err.body(), status_code=err.status, headers=self._headers(err.headers()))

    # --- routes ------------------------------------------------------------------

    @api.get("/healthz")
    async def healthz(self) -> Response:
        return PlainTextResponse("ok", headers=self._headers())

    @api.get("/readyz")
    async def readyz(self) -> Response:
        try:
            engine = await asyncio.to_thread(self._ensure_ready)
        except Exception as exc:  # noqa: BLE001 (reported, not raised)
            err = ApiError.from_engine(exc)
            body = {"status": "not_ready", "code": err.code, "reason": str(exc)}
            return JSONResponse(body, status_code=503, headers=self._headers())
        m = engine.metrics()
        body = {"status": "ready", "models_loaded": m.models_loaded, "queue_depth": m.queue_depth}
        return JSONResponse(body, headers=self._headers())

    @api.get("/v1/models")
    async def models(self) -> Response:
        try:
            engine = await asyncio.to_thread(self._get_engine)
        except Exception as exc:  # noqa: BLE001
            return self._error(ApiError.from_engine(exc))
        data = [
            {"id": name, "object": "model", "created": 0, "owned_by": "ishowtts"}
            for name in served_models([v.model for v in engine.voices()])
        ]
        return JSONResponse({"object": "list", "data": data}, headers=self._headers())

    @api.get("/v1/voices")
    async def voices(self) -> Response:
        try:
            engine = await asyncio.to_thread(self._get_engine)
        except Exception as exc:  # noqa: BLE001
            return self._error(ApiError.from_engine(exc))
        voices = [voice_json(v) for v in engine.voices()]
        return JSONResponse({"object": "list", "voices": voices}, headers=self._headers())

    @api.post("/v1/audio/speech")
    async def speech(self, request: Request) -> Response:
        stream: Optional[ishowtts.Stream] = None
        try:
            req = SpeechRequest.parse(
                await request.body(), request.headers.get("content-type"), self._max_input_chars
            )
            engine = await asyncio.to_thread(self._get_engine)
            voice = resolve_voice(req.model, req.voice, engine.voices())
            stream = engine.stream(req.input, voice=voice, format="i16", **req.engine_options)
            # The status line waits for the first sentence, so errors the
            # engine finds in the request (a bad sample_rate, a voice that
            # does not load) are still answered with their status and code.
            first = await self._next_chunk(stream)
            if first is None:
                raise ApiError(500, "internal", "the request ended without audio")
            rate = first.sample_rate
            headers = self._headers({"Cache-Control": "no-cache", "x-sample-rate": str(rate)})
            if req.buffered:
                body = await self._whole(stream, first, req.response_format)
                return Response(body, media_type=CONTENT_TYPES[req.response_format], headers=headers)
        except ApiError as err:
            return self._error(self._cancelled(stream, err))
        except ishowtts.TtsError as exc:
            return self._error(self._cancelled(stream, ApiError.from_engine(exc)))

        audio = self._audio(stream, first, req.response_format)
        if req.sse:
            return StreamingResponse(self._sse(audio), media_type="text/event-stream", headers=headers)
        return StreamingResponse(audio, media_type=CONTENT_TYPES[req.response_format], headers=headers)

    @staticmethod
    def _cancelled(stream: Optional[ishowtts.Stream], err: ApiError) -> ApiError:
        if stream is not None:
            stream.cancel()
        return err

    async def _audio(
        self, stream: ishowtts.Stream, first: ishowtts.Chunk, response_format: str
    ) -> AsyncIterator[bytes]:
        """The encoded audio as it is made: the WAV header (for wav) with the
        first chunk, then each chunk's PCM16. An engine failure past the
        first chunk can only end the body early: a plain audio body is cut
        short, which the client sees as a broken transfer."""
        try:
            head = wav_header(first.sample_rate) if response_format == "wav" else b""
            yield head + pcm16(first.samples)
            while (chunk := await self._next_chunk(stream)) is not None:
                yield pcm16(chunk.samples)
        except ishowtts.TtsError as exc:
            logger.warning("speech request failed after its first audio: %s", exc)
            raise
        finally:
            stream.cancel()

    async def _sse(self, audio: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """Server-sent events: one `speech.audio.delta` per piece of the
        encoded audio, then `speech.audio.done`, or an `error` event when
        the engine fails midway."""
        try:
            async for piece in audio:
                yield sse_delta(piece)
        except ishowtts.TtsError as exc:
            yield sse_error(ApiError.from_engine(exc))
            return
        yield sse_done()

    async def _whole(
        self, stream: ishowtts.Stream, first: ishowtts.Chunk, response_format: str
    ) -> bytes:
        """All the audio in one body (`"stream": false`), a WAV with its
        exact sizes."""
        pcm = bytearray()
        try:
            chunk: Optional[ishowtts.Chunk] = first
            while chunk is not None:
                pcm += pcm16(chunk.samples)
                chunk = await self._next_chunk(stream)
        finally:
            stream.cancel()
        head = wav_header(first.sample_rate, len(pcm)) if response_format == "wav" else b""
        return head + bytes(pcm)


class AppArgs(BaseModel):
    """What `serve run speech_app:build_app key=value ...` or a config file's
    `args:` may set. Replica counts and queue limits are Ray Serve's
    deployment options; the rest reaches each replica's engine."""

    model_config = ConfigDict(extra="forbid")

    #: The default voice's .onnx file (None: the installed default voice).
    voice: Optional[str] = None
    #: More Piper voices, name -> .onnx file, requested by name.
    voices: dict[str, str] = {}
    #: A fixed number of replicas; None: autoscale between min and max.
    num_replicas: Optional[int] = None
    min_replicas: int = 1
    max_replicas: int = 4
    #: Requests running or queued per replica that the autoscaler aims at.
    target_ongoing_requests: float = 2.0
    #: Requests one replica takes at once; more wait in Serve's queue.
    max_ongoing_requests: int = 8
    #: Requests waiting in Serve's queue before it answers 429 (-1: no bound).
    max_queued_requests: int = 64
    upscale_delay_s: float = 10.0
    downscale_delay_s: float = 300.0
    #: CPUs Ray reserves per replica, and the threads its engine computes on
    #: (RAYON_NUM_THREADS, rounded up).
    num_cpus: float = 1.0
    max_input_chars: int = 4096
    #: The engine's own bound on requests queued or running (None: its
    #: default, 64, above max_ongoing_requests so Serve's queue is the one
    #: that fills).
    queue_limit: Optional[int] = None


def build_app(args: dict[str, Any]) -> Application:
    """The application, for `serve run`, a config file or `serve.run`."""
    a = AppArgs.model_validate(args)
    if a.num_replicas is not None:
        scaling: dict[str, Any] = {"num_replicas": a.num_replicas}
    else:
        scaling = {
            "autoscaling_config": AutoscalingConfig(
                min_replicas=a.min_replicas,
                max_replicas=a.max_replicas,
                target_ongoing_requests=a.target_ongoing_requests,
                upscale_delay_s=a.upscale_delay_s,
                downscale_delay_s=a.downscale_delay_s,
            )
        }
    deployment = SpeechServer.options(
        max_ongoing_requests=a.max_ongoing_requests,
        max_queued_requests=a.max_queued_requests,
        # Serve's own refusal when its queue is full: 429 and Retry-After,
        # like the engine's queue_full (its body is Serve's plain text).
        backpressure_config=BackpressureConfig(status_code=429, retry_after_s=1),
        ray_actor_options={"num_cpus": a.num_cpus},
        **scaling,
    )
    return deployment.bind(
        a.voice,
        a.voices,
        a.max_input_chars,
        a.queue_limit,
        a.max_ongoing_requests,
        max(1, math.ceil(a.num_cpus)),
    )
