"""ishowtts: embeddable neural text-to-speech, streamed sentence by sentence.

>>> import ishowtts
>>> engine = ishowtts.Engine()                   # the installed default voice
>>> audio = engine.synthesize("Hello there.")    # 1-D numpy float32 array
>>> for chunk in engine.stream("One. Two. Three."):
...     play(chunk.samples, chunk.sample_rate)   # each sentence when ready

The engine works with the GIL released, so one engine serves several
threads at once; ``async for`` over a stream keeps an event loop free.
Errors are subclasses of :class:`TtsError` carrying the engine's stable
error ``code``. See docs/python.md for the whole API.
"""

from ._errors import (
    BusyError,
    CallbackError,
    CancelledError,
    EmptyTextError,
    EngineClosedError,
    FileError,
    InternalError,
    InvalidParameterError,
    InvalidTextError,
    ModelError,
    ModelFormatError,
    NothingToSpeakError,
    PhonemizerError,
    ReferenceAudioError,
    SpeakerOutOfRangeError,
    TextTooLongError,
    TtsError,
    UnsupportedError,
    VoiceNotFoundError,
)
from ._paths import use_packaged_espeak_data as _use_packaged_espeak_data

_use_packaged_espeak_data()

from ._ishowtts import (  # noqa: E402  (after the data path is set)
    CacheStats,
    Chunk,
    ChunkTimings,
    Engine,
    Metrics,
    Percentiles,
    RequestSummary,
    Stream,
    VISEMES,
    VoiceInfo,
    __version__,
)

__all__ = [
    "BusyError",
    "CacheStats",
    "CallbackError",
    "CancelledError",
    "Chunk",
    "ChunkTimings",
    "EmptyTextError",
    "Engine",
    "EngineClosedError",
    "FileError",
    "InternalError",
    "InvalidParameterError",
    "InvalidTextError",
    "Metrics",
    "ModelError",
    "ModelFormatError",
    "NothingToSpeakError",
    "Percentiles",
    "PhonemizerError",
    "ReferenceAudioError",
    "RequestSummary",
    "SpeakerOutOfRangeError",
    "Stream",
    "TextTooLongError",
    "TtsError",
    "UnsupportedError",
    "VISEMES",
    "VoiceInfo",
    "VoiceNotFoundError",
    "__version__",
]
