# Types of the native module (python/src): re-exported by ishowtts.
import os
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Literal, final, overload

import numpy as np
from numpy.typing import NDArray

__version__: str
__all__ = [
    "CacheStats",
    "Chunk",
    "ChunkTimings",
    "Engine",
    "Metrics",
    "Percentiles",
    "RequestSummary",
    "Stream",
    "VISEMES",
    "VoiceInfo",
    "_config_defaults",
    "__version__",
]

VISEMES: list[str]

_Path = str | os.PathLike[str]
_Samples = NDArray[np.float32] | NDArray[np.int16]

def _config_defaults() -> dict[str, Any]: ...
@final
class ChunkTimings:
    @property
    def queue_wait(self) -> float: ...
    @property
    def synthesis(self) -> float: ...
    @property
    def since_request(self) -> float: ...
    @property
    def from_cache(self) -> bool: ...

@final
class Chunk:
    @property
    def samples(self) -> _Samples: ...
    @property
    def sample_rate(self) -> int: ...
    @property
    def request_id(self) -> int: ...
    @property
    def sentence_index(self) -> int: ...
    @property
    def text(self) -> str: ...
    @property
    def text_span(self) -> tuple[int, int]: ...
    @property
    def char_span(self) -> tuple[int, int]: ...
    @property
    def sample_offset(self) -> int: ...
    @property
    def is_last(self) -> bool: ...
    @property
    def ends_sentence(self) -> bool: ...
    @property
    def words(self) -> list[tuple[str, float, float]]: ...
    @property
    def words_estimated(self) -> bool: ...
    @property
    def phonemes(self) -> list[tuple[str, float, float, int]]: ...
    @property
    def timings(self) -> ChunkTimings: ...
    @property
    def duration(self) -> float: ...
    def __len__(self) -> int: ...

@final
class Stream:
    @property
    def request_id(self) -> int: ...
    @property
    def status(self) -> str: ...
    def cancel(self) -> None: ...
    def push(self, text: str) -> None: ...
    def flush(self) -> None: ...
    def finish(self) -> None: ...
    def next_chunk(self, timeout: float | None = None) -> Chunk | None: ...
    def __iter__(self) -> Stream: ...
    def __next__(self) -> Chunk: ...
    def __aiter__(self) -> Stream: ...
    def __anext__(self) -> Awaitable[Chunk]: ...
    def __enter__(self) -> Stream: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...
    def __aenter__(self) -> Awaitable[Stream]: ...
    def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> Awaitable[None]: ...

@final
class VoiceInfo:
    @property
    def name(self) -> str: ...
    @property
    def version(self) -> int: ...
    @property
    def model(self) -> str: ...
    @property
    def language(self) -> str: ...
    @property
    def sample_rate(self) -> int | None: ...
    @property
    def num_speakers(self) -> int: ...
    @property
    def speaker(self) -> int | None: ...
    @property
    def cloned(self) -> bool: ...
    @property
    def is_default(self) -> bool: ...

@final
class RequestSummary:
    @property
    def request_id(self) -> int: ...
    @property
    def chunks(self) -> int: ...
    @property
    def samples(self) -> int: ...
    @property
    def sample_rate(self) -> int: ...
    @property
    def cancelled(self) -> bool: ...
    @property
    def time_to_first_audio(self) -> float | None: ...
    @property
    def total_time(self) -> float: ...
    @property
    def duration(self) -> float: ...

@final
class Percentiles:
    @property
    def count(self) -> int: ...
    @property
    def p50(self) -> float: ...
    @property
    def p90(self) -> float: ...
    @property
    def p99(self) -> float: ...
    @property
    def max(self) -> float: ...
    def to_dict(self) -> dict[str, float]: ...

@final
class CacheStats:
    @property
    def hits(self) -> int: ...
    @property
    def misses(self) -> int: ...
    @property
    def evictions(self) -> int: ...
    @property
    def entries(self) -> int: ...
    @property
    def bytes(self) -> int: ...
    def to_dict(self) -> dict[str, int]: ...

@final
class Metrics:
    @property
    def queue_depth(self) -> int: ...
    @property
    def pending_sentences(self) -> int: ...
    @property
    def requests(self) -> int: ...
    @property
    def completed(self) -> int: ...
    @property
    def failed(self) -> int: ...
    @property
    def cancelled(self) -> int: ...
    @property
    def rejected_busy(self) -> int: ...
    @property
    def time_to_first_audio(self) -> Percentiles: ...
    @property
    def sentence_synthesis(self) -> Percentiles: ...
    @property
    def queue_wait(self) -> Percentiles: ...
    @property
    def audio_seconds(self) -> float: ...
    @property
    def synthesis_seconds(self) -> float: ...
    @property
    def real_time_factor(self) -> float: ...
    @property
    def output_cache(self) -> CacheStats: ...
    @property
    def prompt_cache(self) -> CacheStats: ...
    @property
    def model_loads(self) -> int: ...
    @property
    def model_load_failures(self) -> int: ...
    @property
    def model_unloads(self) -> int: ...
    @property
    def models_loaded(self) -> int: ...
    @property
    def batch_steps(self) -> int: ...
    @property
    def batch_size(self) -> Percentiles: ...
    @property
    def batch_wait(self) -> Percentiles: ...
    @property
    def batch_retries(self) -> int: ...
    @property
    def sentences_at_budget(self) -> int: ...
    def to_dict(self) -> dict[str, Any]: ...
    def to_prometheus(self) -> str: ...

@final
class Engine:
    def __new__(
        cls,
        voice: _Path | None = None,
        *,
        device: str = "cpu",
        cache_entries: int = 1024,
        cache_bytes: int = 67108864,
        prompt_cache_entries: int = 16,
        idle_unload: float | None = None,
        queue_limit: int = 64,
        max_text_bytes: int = 16777216,
        normalize_text: bool = True,
        max_batch: int = 1,
        batch_window: float = 0.0,
        workers: int = 1,
    ) -> Engine: ...
    def add_voice(self, name: str, path: _Path, *, speaker: int | None = None) -> int: ...
    def add_f5_voice(
        self,
        name: str,
        ref_audio: _Path | bytes,
        ref_text: str,
        *,
        checkpoint: _Path | None = None,
        config: _Path | None = None,
        vocoder: _Path | None = None,
        variant: Literal["v1_base", "base"] = "v1_base",
    ) -> int: ...
    def add_qwen3_voice(
        self,
        name: str,
        checkpoint: _Path,
        *,
        speaker: str | None = None,
        ref_audio: _Path | bytes | None = None,
        language: str | None = None,
        instruct: str | None = None,
    ) -> int: ...
    def remove_voice(self, name: str) -> None: ...
    def set_default_voice(self, name: str) -> None: ...
    def voices(self) -> list[VoiceInfo]: ...
    @overload
    def synthesize(
        self,
        text: str,
        *,
        voice: str | None = None,
        sample_rate: int | None = None,
        format: Literal["f32", "float32"] = "f32",
        speed: float | None = None,
        noise_scale: float | None = None,
        noise_w: float | None = None,
        speaker: int | None = None,
        seed: int | None = None,
        nfe_step: int | None = None,
        cfg_strength: float | None = None,
        sway_sampling_coef: float | None = None,
        fix_duration: float | None = None,
        silence_ms: float | None = None,
        crossfade_ms: float | None = None,
        short_first_chunk: bool = False,
        first_chunk_max_chars: int | None = None,
        word_timings: bool = True,
        phoneme_timings: bool = False,
        use_cache: bool = True,
        language: str | None = None,
        instruct: str | None = None,
        temperature: float | None = None,
        top_k: int | None = None,
        top_p: float | None = None,
        repetition_penalty: float | None = None,
    ) -> NDArray[np.float32]: ...
    @overload
    def synthesize(
        self,
        text: str,
        *,
        voice: str | None = None,
        sample_rate: int | None = None,
        format: Literal["i16", "int16"],
        speed: float | None = None,
        noise_scale: float | None = None,
        noise_w: float | None = None,
        speaker: int | None = None,
        seed: int | None = None,
        nfe_step: int | None = None,
        cfg_strength: float | None = None,
        sway_sampling_coef: float | None = None,
        fix_duration: float | None = None,
        silence_ms: float | None = None,
        crossfade_ms: float | None = None,
        short_first_chunk: bool = False,
        first_chunk_max_chars: int | None = None,
        word_timings: bool = True,
        phoneme_timings: bool = False,
        use_cache: bool = True,
        language: str | None = None,
        instruct: str | None = None,
        temperature: float | None = None,
        top_k: int | None = None,
        top_p: float | None = None,
        repetition_penalty: float | None = None,
    ) -> NDArray[np.int16]: ...
    @overload
    def synthesize(
        self,
        text: str,
        *,
        voice: str | None = None,
        sample_rate: int | None = None,
        format: str = "f32",
        speed: float | None = None,
        noise_scale: float | None = None,
        noise_w: float | None = None,
        speaker: int | None = None,
        seed: int | None = None,
        nfe_step: int | None = None,
        cfg_strength: float | None = None,
        sway_sampling_coef: float | None = None,
        fix_duration: float | None = None,
        silence_ms: float | None = None,
        crossfade_ms: float | None = None,
        short_first_chunk: bool = False,
        first_chunk_max_chars: int | None = None,
        word_timings: bool = True,
        phoneme_timings: bool = False,
        use_cache: bool = True,
        language: str | None = None,
        instruct: str | None = None,
        temperature: float | None = None,
        top_k: int | None = None,
        top_p: float | None = None,
        repetition_penalty: float | None = None,
    ) -> _Samples: ...
    def synthesize_to_wav(
        self,
        text: str,
        path: _Path,
        *,
        voice: str | None = None,
        sample_rate: int | None = None,
        format: str = "i16",
        speed: float | None = None,
        noise_scale: float | None = None,
        noise_w: float | None = None,
        speaker: int | None = None,
        seed: int | None = None,
        nfe_step: int | None = None,
        cfg_strength: float | None = None,
        sway_sampling_coef: float | None = None,
        fix_duration: float | None = None,
        silence_ms: float | None = None,
        crossfade_ms: float | None = None,
        short_first_chunk: bool = False,
        first_chunk_max_chars: int | None = None,
        word_timings: bool = True,
        phoneme_timings: bool = False,
        use_cache: bool = True,
        language: str | None = None,
        instruct: str | None = None,
        temperature: float | None = None,
        top_k: int | None = None,
        top_p: float | None = None,
        repetition_penalty: float | None = None,
    ) -> RequestSummary: ...
    def synthesize_with(
        self,
        text: str,
        callback: Callable[[Chunk], object],
        *,
        voice: str | None = None,
        sample_rate: int | None = None,
        format: str = "f32",
        speed: float | None = None,
        noise_scale: float | None = None,
        noise_w: float | None = None,
        speaker: int | None = None,
        seed: int | None = None,
        nfe_step: int | None = None,
        cfg_strength: float | None = None,
        sway_sampling_coef: float | None = None,
        fix_duration: float | None = None,
        silence_ms: float | None = None,
        crossfade_ms: float | None = None,
        short_first_chunk: bool = False,
        first_chunk_max_chars: int | None = None,
        word_timings: bool = True,
        phoneme_timings: bool = False,
        use_cache: bool = True,
        language: str | None = None,
        instruct: str | None = None,
        temperature: float | None = None,
        top_k: int | None = None,
        top_p: float | None = None,
        repetition_penalty: float | None = None,
    ) -> RequestSummary: ...
    def stream(
        self,
        text: str,
        *,
        voice: str | None = None,
        sample_rate: int | None = None,
        format: str = "f32",
        speed: float | None = None,
        noise_scale: float | None = None,
        noise_w: float | None = None,
        speaker: int | None = None,
        seed: int | None = None,
        nfe_step: int | None = None,
        cfg_strength: float | None = None,
        sway_sampling_coef: float | None = None,
        fix_duration: float | None = None,
        silence_ms: float | None = None,
        crossfade_ms: float | None = None,
        short_first_chunk: bool = False,
        first_chunk_max_chars: int | None = None,
        word_timings: bool = True,
        phoneme_timings: bool = False,
        use_cache: bool = True,
        language: str | None = None,
        instruct: str | None = None,
        temperature: float | None = None,
        top_k: int | None = None,
        top_p: float | None = None,
        repetition_penalty: float | None = None,
    ) -> Stream: ...
    def open_stream(
        self,
        *,
        voice: str | None = None,
        sample_rate: int | None = None,
        format: str = "f32",
        speed: float | None = None,
        noise_scale: float | None = None,
        noise_w: float | None = None,
        speaker: int | None = None,
        seed: int | None = None,
        nfe_step: int | None = None,
        cfg_strength: float | None = None,
        sway_sampling_coef: float | None = None,
        fix_duration: float | None = None,
        silence_ms: float | None = None,
        crossfade_ms: float | None = None,
        short_first_chunk: bool = False,
        first_chunk_max_chars: int | None = None,
        word_timings: bool = True,
        phoneme_timings: bool = False,
        use_cache: bool = True,
        language: str | None = None,
        instruct: str | None = None,
        temperature: float | None = None,
        top_k: int | None = None,
        top_p: float | None = None,
        repetition_penalty: float | None = None,
    ) -> Stream: ...
    def metrics(self) -> Metrics: ...
    def close(self) -> None: ...
    @property
    def closed(self) -> bool: ...
    def __enter__(self) -> Engine: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...
