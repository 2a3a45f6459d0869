"""The OpenAI-compatible speech protocol of `ishowtts serve`, in Python.

Everything here is independent of Ray: parsing and checking a
`POST /v1/audio/speech` body, the JSON errors (`{"error": {message, type,
code, param}}`) with the same codes and statuses as the Rust server
(server/src/error.rs), and the byte formats of the answers (a streaming WAV
header, PCM16, server-sent events). speech_app.py puts it behind Ray Serve.
"""

from __future__ import annotations

import base64
import json
import math
import struct
from dataclasses import dataclass, field
from typing import Any, Optional

#: Model names a request may give besides the voices' own model names
#: ("piper", ...): ours, and OpenAI's so that clients configured for OpenAI
#: work unchanged.
MODEL_ALIASES = ("ishowtts", "tts-1", "tts-1-hd")
#: OpenAI's voice names: they speak with the default voice.
OPENAI_VOICES = ("alloy", "echo", "fable", "onyx", "nova", "shimmer")
#: Formats we encode; OpenAI's compressed ones are refused by name.
SERVED_FORMATS = ("wav", "pcm")
STREAM_FORMATS = ("audio", "sse")
DEFAULT_MAX_INPUT_CHARS = 4096
SPEED_RANGE = (0.25, 4.0)

# The engine's stable error codes (TTS_ERR_*) by number: their snake_case
# names (ErrorCode::name in the Rust crate) and the HTTP status the Rust
# server answers with. Codes not listed are the caller's fault: 400.
ENGINE_CODE_NAMES = {
    1: "invalid_argument",
    2: "invalid_text",
    3: "empty_text",
    4: "nothing_to_speak",
    5: "text_too_long",
    6: "invalid_parameter",
    7: "voice_not_found",
    8: "speaker_out_of_range",
    9: "io",
    10: "model_format",
    11: "phonemizer",
    12: "model",
    13: "busy",
    14: "cancelled",
    15: "callback_failed",
    16: "engine_closed",
    17: "unsupported",
    18: "reference_audio",
    99: "internal",
}
ENGINE_CODE_STATUS = {
    7: 404,
    13: 429,
    14: 499,
    16: 503,
    17: 501,
    9: 500,
    10: 500,
    11: 500,
    12: 500,
    15: 500,
    99: 500,
}
BUSY = 13
#: Seconds a client should wait after `queue_full` (the Rust server's hint).
RETRY_AFTER_S = 1


class ApiError(Exception):
    """An error answer: HTTP status, stable `code`, a message for people, the
    request field at fault (if one is) and a retry hint (429, 503)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        param: Optional[str] = None,
        retry_after: Optional[int] = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.param = param
        self.retry_after = retry_after

    @property
    def type(self) -> str:
        """OpenAI's error `type` for the status."""
        if self.status == 401:
            return "authentication_error"
        if self.status == 404:
            return "not_found_error"
        if self.status == 429:
            return "rate_limit_error"
        if 400 <= self.status < 500:
            return "invalid_request_error"
        return "server_error"

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "code": self.code,
                "param": self.param,
            }
        }

    def headers(self) -> dict[str, str]:
        return {} if self.retry_after is None else {"Retry-After": str(self.retry_after)}

    @classmethod
    def from_engine(cls, exc: BaseException) -> ApiError:
        """The answer for an exception from the engine: an `ishowtts.TtsError`
        carries the engine's code in `.code`; anything else is our bug."""
        code = getattr(exc, "code", None)
        if not isinstance(code, int) or code not in ENGINE_CODE_NAMES:
            return cls(500, "internal", f"internal error: {exc}")
        if code == BUSY:
            return cls(429, "queue_full", str(exc), retry_after=RETRY_AFTER_S)
        return cls(ENGINE_CODE_STATUS.get(code, 400), ENGINE_CODE_NAMES[code], str(exc))


def invalid_field(param: str, message: str) -> ApiError:
    return ApiError(400, "invalid_field", message, param=param)


@dataclass
class SpeechRequest:
    """A checked `POST /v1/audio/speech` body."""

    input: str
    model: str = "ishowtts"
    voice: str = "default"
    response_format: str = "wav"
    speed: float = 1.0
    stream_format: str = "audio"
    #: Our own fields, given to the engine only when the request has them.
    engine_options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, raw: bytes, max_input_chars: int = DEFAULT_MAX_INPUT_CHARS) -> SpeechRequest:
        """Checks a request body; raises ApiError (400) on the first problem.
        Fields we do not know are ignored, as OpenAI adds some over time."""
        body = _json_object(raw)
        text = _get(body, "input", str)
        if text is None:
            raise invalid_field("input", "'input' is required: the text to speak")
        if not text.strip():
            raise ApiError(400, "empty_input", "'input' has nothing to speak", param="input")
        if len(text) > max_input_chars:
            raise ApiError(
                400,
                "input_too_long",
                f"'input' has {len(text)} characters; at most {max_input_chars} are accepted",
                param="input",
            )
        req = cls(input=text)
        req.model = _get(body, "model", str, req.model)
        req.voice = _voice_name(body)
        req.response_format = _get(body, "response_format", str, req.response_format)
        if req.response_format not in SERVED_FORMATS:
            raise ApiError(
                400,
                "unsupported_format",
                f"response_format '{req.response_format}' is not served; "
                f"served formats: {', '.join(SERVED_FORMATS)}",
                param="response_format",
            )
        req.speed = _get(body, "speed", float, req.speed)
        low, high = SPEED_RANGE
        if not low <= req.speed <= high:
            raise invalid_field("speed", f"'speed' must be from {low} to {high}, not {req.speed}")
        req.stream_format = _get(body, "stream_format", str, req.stream_format)
        if req.stream_format not in STREAM_FORMATS:
            raise invalid_field(
                "stream_format",
                f"'stream_format' must be one of {', '.join(STREAM_FORMATS)}, "
                f"not '{req.stream_format}'",
            )
        # Our own fields: their types here, their ranges in the engine (which
        # answers with invalid_parameter). The integer bounds only keep a value
        # within what the engine's integer types hold.
        for name, kind, bound in (
            ("sample_rate", int, 2**32 - 1),
            ("seed", int, 2**64 - 1),
            ("nfe_step", int, 2**32 - 1),
            ("language", str, None),
            ("cfg_strength", float, None),
            ("sway_sampling_coef", float, None),
        ):
            value = _get(body, name, kind)
            if value is None:
                continue
            if bound is not None and not 0 <= value <= bound:
                raise invalid_field(name, f"'{name}' is out of range: {value}")
            req.engine_options[name] = value
        return req

    def engine_kwargs(self) -> dict[str, Any]:
        """Keywords for `Engine.stream` besides the text and the voice."""
        return {"speed": self.speed, "format": "i16", **self.engine_options}


def _json_object(raw: bytes) -> dict[str, Any]:
    def no_constant(name: str) -> Any:
        # json accepts NaN and Infinity, which are not JSON.
        raise ValueError(f"{name} is not JSON")

    try:
        body = json.loads(raw, parse_constant=no_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "invalid_json", f"the body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "the body must be a JSON object")
    return body


_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number"}


def _get(body: dict[str, Any], name: str, kind: type, default: Any = None) -> Any:
    """`body[name]` if it has the type `kind` (an int is a number; a bool is
    neither); `default` when absent or null."""
    value = body.get(name)
    if value is None:
        return default
    ok = isinstance(value, kind) and not isinstance(value, bool)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        ok, value = True, float(value)
    if not ok or (kind is float and not math.isfinite(value)):
        raise invalid_field(name, f"'{name}' must be {_TYPE_NAMES[kind]}")
    return value


def _voice_name(body: dict[str, Any]) -> str:
    # Newer OpenAI clients may send a custom voice as {"id": "..."}.
    voice = body.get("voice")
    if isinstance(voice, dict) and isinstance(voice.get("id"), str):
        return str(voice["id"])
    return str(_get(body, "voice", str, "default"))


def check_model(model: str, voice_models: list[str]) -> None:
    """404 `model_not_found` unless `model` is served."""
    served = served_models(voice_models)
    if model not in served:
        raise ApiError(
            404,
            "model_not_found",
            f"model '{model}' is not served; models: {', '.join(served)}",
            param="model",
        )


def served_models(voice_models: list[str]) -> list[str]:
    """Our aliases, then each voice model's name once."""
    extra = sorted({m for m in voice_models if m not in MODEL_ALIASES})
    return [*MODEL_ALIASES, *extra]


def engine_voice(name: str, known: list[str]) -> Optional[str]:
    """The engine's voice name for a request's `voice` (None: the engine's
    default voice); 404 `voice_not_found` for a name it does not know."""
    if name == "default" or name in OPENAI_VOICES:
        return None
    if name in known:
        return name
    raise ApiError(
        404,
        "voice_not_found",
        f"voice '{name}' not found; voices: {', '.join(sorted(set(known) | {'default'}))} "
        f"(OpenAI's {', '.join(OPENAI_VOICES)} speak with the default voice)",
        param="voice",
    )


def wav_stream_header(sample_rate: int) -> bytes:
    """A 16-bit mono PCM WAV header whose RIFF and data sizes are 0xFFFFFFFF
    (unknown): the length is not known until the last sentence is made, and
    players read such a file to its end."""
    unknown = 0xFFFFFFFF
    return (
        b"RIFF"
        + struct.pack("<I", unknown)
        + b"WAVE"
        + b"fmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, sample_rate, sample_rate * 2, 2, 16)
        + b"data"
        + struct.pack("<I", unknown)
    )


def pcm16(samples: Any) -> bytes:
    """A chunk's int16 samples as little-endian bytes."""
    return bytes(samples.astype("<i2", copy=False).tobytes())


def sse_event(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


def sse_delta(pcm: bytes) -> bytes:
    return sse_event({"type": "speech.audio.delta", "audio": base64.b64encode(pcm).decode()})


def sse_done(input_chars: int, samples: int, sample_rate: int) -> bytes:
    seconds = samples / sample_rate if sample_rate else 0.0
    return sse_event(
        {
            "type": "speech.audio.done",
            "usage": {
                "input_characters": input_chars,
                "output_samples": samples,
                "audio_seconds": round(seconds, 3),
            },
        }
    )


def sse_error(err: ApiError) -> bytes:
    """An error after the stream began, when a status can no longer be sent."""
    return sse_event({"type": "error", **err.body()})
