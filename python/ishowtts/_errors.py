"""The exceptions of ishowtts: one class per error the caller can act on.

Every class carries the engine's stable error code as ``code`` (the same
numbers as the C API's ``TTS_ERR_*``). Classes for bad input also derive
from the builtin a Python caller would expect (``ValueError``,
``LookupError``, ``OSError``). :data:`BY_CODE` is the one table from code
to class; :func:`from_code` is what the native module raises through.
"""

from __future__ import annotations


class TtsError(Exception):
    """Base class of every ishowtts error; ``code`` is the engine's code."""

    code: int = 0

    def __init__(self, message: str) -> None:
        super().__init__(message)


class InvalidTextError(TtsError, ValueError):
    """The text cannot be encoded as UTF-8 (a lone surrogate)."""

    code = 2


class EmptyTextError(TtsError, ValueError):
    """The text is empty, whitespace or control characters only."""

    code = 3


class NothingToSpeakError(TtsError, ValueError):
    """The text has only punctuation, symbols or emoji."""

    code = 4


class TextTooLongError(TtsError, ValueError):
    """The text is longer than the engine's ``max_text_bytes``."""

    code = 5


class InvalidParameterError(TtsError, ValueError):
    """A keyword argument is NaN, out of range or not one of its choices."""

    code = 6


class VoiceNotFoundError(TtsError, LookupError):
    """No voice of that name, no default voice, or its model file is missing."""

    code = 7


class SpeakerOutOfRangeError(TtsError, ValueError):
    """The speaker id is not one the voice has."""

    code = 8


class FileError(TtsError, OSError):
    """A file could not be read or written (a WAV output path, a model)."""

    code = 9


class ModelError(TtsError):
    """The model failed while synthesizing."""

    code = 12


class ModelFormatError(ModelError):
    """A model or voice config file is corrupt or not a supported voice."""

    code = 10


class PhonemizerError(TtsError):
    """The phonemizer failed (its espeak-ng data missing or unusable)."""

    code = 11


class BusyError(TtsError):
    """The engine's queue is full: retry later or raise ``queue_limit``."""

    code = 13


class CancelledError(TtsError):
    """The request was cancelled before it finished."""

    code = 14


class CallbackError(TtsError):
    """A chunk callback raised; that exception is ``__cause__``."""

    code = 15


class EngineClosedError(TtsError):
    """The engine was closed."""

    code = 16


class UnsupportedError(TtsError):
    """Not supported by this build or model (e.g. CUDA in a CPU build)."""

    code = 17


class ReferenceAudioError(TtsError, ValueError):
    """A reference recording for voice cloning is unusable."""

    code = 18


class InternalError(TtsError):
    """A bug in ishowtts (please report it); the engine stays usable."""

    code = 99


#: Engine error code -> exception class. Code 1 (a NULL pointer or unknown
#: enum value, which only C can pass) is reported as a bad parameter.
BY_CODE: dict[int, type[TtsError]] = {
    1: InvalidParameterError,
    2: InvalidTextError,
    3: EmptyTextError,
    4: NothingToSpeakError,
    5: TextTooLongError,
    6: InvalidParameterError,
    7: VoiceNotFoundError,
    8: SpeakerOutOfRangeError,
    9: FileError,
    10: ModelFormatError,
    11: PhonemizerError,
    12: ModelError,
    13: BusyError,
    14: CancelledError,
    15: CallbackError,
    16: EngineClosedError,
    17: UnsupportedError,
    18: ReferenceAudioError,
    99: InternalError,
}


def from_code(code: int, message: str) -> TtsError:
    """The exception for an engine error ``code`` with ``message``."""
    exc = BY_CODE.get(code, TtsError)(message)
    exc.code = code
    return exc
