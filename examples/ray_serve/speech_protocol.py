"""The OpenAI-compatible speech protocol of `ishowtts serve`, in Python.

Everything here is independent of Ray: checking a `POST /v1/audio/speech`
body, choosing the voice, the JSON errors (`{"error": {message, type,
code, param}}`) with the same codes and statuses as the Rust server
(server/src: speech.rs, voices.rs, error.rs), and the bytes of the answers
(a streaming WAV header, PCM16, server-sent events). speech_app.py puts it
behind Ray Serve.
"""

from __future__ import annotations

import base64
import json
import math
import struct
from dataclasses import dataclass, field
from typing import Any, Optional

#: Model names OpenAI clients send: any of them means "the voice decides".
#: A request may also name a model family (`piper`, `f5`, `qwen3`), which
#: its voice must then belong to.
OPENAI_MODELS = ("tts-1", "tts-1-hd", "gpt-4o-mini-tts", "ishowtts")
#: OpenAI's voice names: the default voice answers to them (unless a
#: registered voice has the name).
OPENAI_VOICES = (
    "alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer", "verse",
)
#: What this service encodes. The Rust server also encodes MP3; the wheel
#: has no MP3 encoder, so here it is refused like opus, aac and flac.
SERVED_FORMATS = ("wav", "pcm")
CONTENT_TYPES = {"wav": "audio/wav", "pcm": "audio/pcm"}
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


def field_error(code: str, param: str, message: str) -> ApiError:
    """A 400 about one request field."""
    return ApiError(400, code, message, param=param)


def quoted(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


U32 = (0, 2**32 - 1)
U64 = (0, 2**64 - 1)
I64 = (-(2**63), 2**63 - 1)

#: The body's fields besides `input`: (JSON type, integer bounds, the
#: engine keyword it becomes, or None when the endpoint itself uses it).
#: The types and bounds are those of the Rust server's request struct; the
#: values' ranges are the engine's (it answers `invalid_parameter`).
FIELDS: dict[str, tuple[type, Optional[tuple[int, int]], Optional[str]]] = {
    "model": (str, None, None),
    "voice": (str, None, None),
    "response_format": (str, None, None),
    "stream_format": (str, None, None),
    "stream": (bool, None, None),
    "speed": (float, None, "speed"),
    "instructions": (str, None, "instruct"),
    "sample_rate": (int, U32, "sample_rate"),
    "language": (str, None, "language"),
    "seed": (int, U64, "seed"),
    "speaker": (int, I64, "speaker"),
    "noise_scale": (float, None, "noise_scale"),
    "noise_w": (float, None, "noise_w"),
    "nfe_step": (int, U32, "nfe_step"),
    "cfg_strength": (float, None, "cfg_strength"),
    "sway_sampling_coef": (float, None, "sway_sampling_coef"),
    "temperature": (float, None, "temperature"),
    "top_k": (int, U32, "top_k"),
    "top_p": (float, None, "top_p"),
}


@dataclass
class SpeechRequest:
    """A checked `POST /v1/audio/speech` body."""

    input: str
    model: Optional[str] = None
    voice: Optional[str] = None
    response_format: str = "wav"
    sse: bool = False
    #: `"stream": false`: one body with exact WAV sizes, sent when all is
    #: made (for clients that cannot read a streamed WAV header).
    buffered: bool = False
    #: Keywords for `Engine.stream`, only those the request gave.
    engine_options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(
        cls,
        raw: bytes,
        content_type: Optional[str],
        max_input_chars: int = DEFAULT_MAX_INPUT_CHARS,
    ) -> SpeechRequest:
        """Checks a request body in the Rust server's order (the body, the
        fields' types, then input, formats and speed); raises ApiError.
        Fields we do not know are ignored: clients send their own."""
        body = json_body(raw, content_type)
        values = {name: _typed(body, name, kind, bounds) for name, (kind, bounds, _) in FIELDS.items()}
        text = _typed(body, "input", str, None)
        if text is None:
            raise field_error("invalid_field", "input", "input is required: the text to speak")
        if not text.strip():
            raise field_error("empty_input", "input", "input is empty: give the text to speak")
        if len(text) > max_input_chars:
            raise field_error(
                "input_too_long",
                "input",
                f"input has {len(text)} characters; the limit is {max_input_chars}",
            )
        response_format = values["response_format"] or "wav"
        if response_format not in SERVED_FORMATS:
            raise field_error(
                "unsupported_format",
                "response_format",
                f"response_format {quoted(response_format)} is not served; "
                f"use one of: {', '.join(SERVED_FORMATS)}",
            )
        stream_format = values["stream_format"] or "audio"
        if stream_format not in ("audio", "sse"):
            raise field_error(
                "invalid_field",
                "stream_format",
                f'stream_format {quoted(stream_format)}: use "audio" or "sse"',
            )
        speed = values["speed"]
        low, high = SPEED_RANGE
        if speed is not None and not low <= speed <= high:
            raise field_error(
                "invalid_field", "speed", f"speed must be between {low} and {high}, not {speed}"
            )
        return cls(
            input=text,
            model=values["model"],
            voice=values["voice"],
            response_format=response_format,
            sse=stream_format == "sse",
            buffered=values["stream"] is False,
            engine_options={
                keyword: values[name]
                for name, (_, _, keyword) in FIELDS.items()
                if keyword is not None and values[name] is not None
            },
        )


def json_body(raw: bytes, content_type: Optional[str]) -> dict[str, Any]:
    """The body as a JSON object: 415 `invalid_content_type` unless it is
    declared as JSON, 400 `invalid_json` unless it is an object."""
    mime = (content_type or "").split(";")[0].strip().lower()
    if not (mime == "application/json" or (mime.startswith("application/") and mime.endswith("+json"))):
        raise ApiError(
            415,
            "invalid_content_type",
            "send the body as JSON with Content-Type: application/json",
        )

    def no_constant(name: str) -> Any:
        # json accepts NaN and Infinity, which are not JSON.
        raise ValueError(f"{name} is not JSON")

    try:
        body = json.loads(raw, parse_constant=no_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "invalid_json", f"the body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "the body is not valid JSON: not an object")
    return body


_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}


def _typed(
    body: dict[str, Any], name: str, kind: type, bounds: Optional[tuple[int, int]]
) -> Any:
    """`body[name]` if it is of JSON type `kind` (an integer is a number; a
    bool is only a bool) and within `bounds`; None when absent or null."""
    value = body.get(name)
    if value is None:
        return None
    is_bool = isinstance(value, bool)
    if kind is bool:
        ok = is_bool
    elif kind is float:
        ok = isinstance(value, (int, float)) and not is_bool and math.isfinite(value)
        value = float(value) if ok else value
    else:
        ok = isinstance(value, kind) and not is_bool
    if not ok:
        raise field_error("invalid_field", name, f"{name} must be {_TYPE_NAMES[kind]}")
    if bounds is not None and not bounds[0] <= value <= bounds[1]:
        raise field_error("invalid_field", name, f"{name} is out of range: {value}")
    return value


def model_family(model: str) -> str:
    """A voice's model family (`piper`) from the engine's model key
    (`piper:/path/to/voice.onnx`)."""
    return model.split(":", 1)[0]


def served_models(voice_models: list[str]) -> list[str]:
    """Every model id a request may name: OpenAI's, then the families."""
    return [*OPENAI_MODELS, *sorted({model_family(m) for m in voice_models})]


def resolve_voice(model: Optional[str], voice: Optional[str], voices: list[Any]) -> str:
    """The registered voice a request speaks with, given the engine's
    `VoiceInfo`s: `voice` (absent, empty, "default" or an OpenAI name: the
    default voice), checked against `model` when that names a family."""
    default = next((v for v in voices if v.is_default), None)
    if voice in (None, "", "default"):
        chosen = default
    else:
        chosen = next((v for v in voices if v.name == voice), None)
        if chosen is None and voice in OPENAI_VOICES:
            chosen = default
    if chosen is None:
        raise ApiError(
            404,
            "voice_not_found",
            f"no voice {quoted(voice or 'default')}; known voices: "
            f"{', '.join(v.name for v in voices)}",
            param="voice",
        )
    families = {model_family(v.model) for v in voices}
    if model in (None, "") or model in OPENAI_MODELS:
        pass
    elif model in families:
        family = model_family(chosen.model)
        if family != model:
            raise field_error(
                "model_voice_mismatch",
                "model",
                f"voice {quoted(chosen.name)} is a {family} voice, not {model}",
            )
    else:
        raise ApiError(
            404,
            "model_not_found",
            f"no model {quoted(model)}; known models: "
            f"{', '.join(served_models([v.model for v in voices]))}",
            param="model",
        )
    return str(chosen.name)


def voice_json(v: Any) -> dict[str, Any]:
    """A `GET /v1/voices` entry for an engine `VoiceInfo`."""
    return {
        "id": v.name,
        "name": v.name,
        "object": "voice",
        "model": model_family(v.model),
        "language": v.language,
        "sample_rate": v.sample_rate,
        "speakers": v.num_speakers,
        "cloned": v.cloned,
        "default": v.is_default,
        # Voices come from the deployment's arguments; none are uploaded.
        "removable": False,
    }


UNKNOWN_SIZE = 0xFFFFFFFF


def wav_header(sample_rate: int, data_bytes: int = UNKNOWN_SIZE) -> bytes:
    """A 16-bit mono PCM WAV header. Streamed, the sizes are 0xFFFFFFFF
    (unknown): the length is not known until the last sentence is made,
    and players read such a file to its end."""
    riff = UNKNOWN_SIZE if data_bytes == UNKNOWN_SIZE else min(data_bytes + 36, UNKNOWN_SIZE)
    return (
        b"RIFF"
        + struct.pack("<I", riff)
        + b"WAVE"
        + b"fmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, sample_rate, sample_rate * 2, 2, 16)
        + b"data"
        + struct.pack("<I", min(data_bytes, UNKNOWN_SIZE))
    )


def pcm16(samples: Any) -> bytes:
    """A chunk's int16 samples as little-endian bytes."""
    return bytes(samples.astype("<i2", copy=False).tobytes())


def sse_event(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


def sse_delta(audio: bytes) -> bytes:
    """One piece of the encoded audio (WAV's first piece has its header)."""
    return sse_event({"type": "speech.audio.delta", "audio": base64.b64encode(audio).decode()})


def sse_done() -> bytes:
    # OpenAI's usage counts tokens; a TTS engine has none to count.
    return sse_event(
        {
            "type": "speech.audio.done",
            "usage": {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0},
        }
    )


def sse_error(err: ApiError) -> bytes:
    """A failure after the stream began, when no status can be sent any
    more: an `error` event instead of `speech.audio.done`."""
    return sse_event({"type": "error", **err.body()})
