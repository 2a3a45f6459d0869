//! Keyword arguments to the engine's option structs.
//!
//! Python ints arrive as `i128` so that a value out of a field's range (a
//! negative seed, a sample rate of 2**40) is an `InvalidParameterError`
//! naming the keyword, not pyo3's bare `OverflowError`; a value of the
//! wrong type is still a `TypeError` from pyo3.

use std::time::Duration;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use ishowtts::audio::format::SampleFormat;
use ishowtts::audio::join::SentenceGap;
use ishowtts::engine::{DeviceSpec, RequestOptions, SynthesisOptions};

use crate::errors::invalid_parameter;

/// The request keywords shared by `synthesize`, `synthesize_to_wav`,
/// `synthesize_with`, `stream` and `open_stream`, taken as `**options`
/// once here (the stub, `_ishowtts.pyi`, spells them out for users and
/// type checkers).
pub struct RequestArgs {
    pub voice: Option<String>,
    pub sample_rate: Option<i128>,
    pub format: String,
    pub speed: Option<f64>,
    pub noise_scale: Option<f64>,
    pub noise_w: Option<f64>,
    pub speaker: Option<i128>,
    pub seed: Option<i128>,
    pub nfe_step: Option<i128>,
    pub cfg_strength: Option<f64>,
    pub sway_sampling_coef: Option<f64>,
    pub fix_duration: Option<f64>,
    pub silence_ms: Option<f64>,
    pub crossfade_ms: Option<f64>,
    pub short_first_chunk: bool,
    pub first_chunk_max_chars: Option<i128>,
    pub word_timings: bool,
    pub phoneme_timings: bool,
    pub use_cache: bool,
    pub language: Option<String>,
    pub instruct: Option<String>,
    pub temperature: Option<f64>,
    pub top_k: Option<i128>,
    pub top_p: Option<f64>,
    pub repetition_penalty: Option<f64>,
}

impl RequestArgs {
    /// The keywords of a call to `method` over their defaults (`format`
    /// differs: `"i16"` for WAV files, else `"f32"`). An unknown keyword is
    /// a `TypeError`, as for any Python function.
    pub fn from_kwargs(
        method: &str,
        format: &str,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let mut a = RequestArgs {
            voice: None,
            sample_rate: None,
            format: format.to_owned(),
            speed: None,
            noise_scale: None,
            noise_w: None,
            speaker: None,
            seed: None,
            nfe_step: None,
            cfg_strength: None,
            sway_sampling_coef: None,
            fix_duration: None,
            silence_ms: None,
            crossfade_ms: None,
            short_first_chunk: false,
            first_chunk_max_chars: None,
            word_timings: true,
            phoneme_timings: false,
            use_cache: true,
            language: None,
            instruct: None,
            temperature: None,
            top_k: None,
            top_p: None,
            repetition_penalty: None,
        };
        let Some(kwargs) = kwargs else {
            return Ok(a);
        };
        for (key, value) in kwargs.iter() {
            let key: String = key.extract()?;
            let v = Keyword(&key, &value);
            match key.as_str() {
                "voice" => a.voice = v.get()?,
                "sample_rate" => a.sample_rate = v.get()?,
                "format" => a.format = v.get()?,
                "speed" => a.speed = v.get()?,
                "noise_scale" => a.noise_scale = v.get()?,
                "noise_w" => a.noise_w = v.get()?,
                "speaker" => a.speaker = v.get()?,
                "seed" => a.seed = v.get()?,
                "nfe_step" => a.nfe_step = v.get()?,
                "cfg_strength" => a.cfg_strength = v.get()?,
                "sway_sampling_coef" => a.sway_sampling_coef = v.get()?,
                "fix_duration" => a.fix_duration = v.get()?,
                "silence_ms" => a.silence_ms = v.get()?,
                "crossfade_ms" => a.crossfade_ms = v.get()?,
                "short_first_chunk" => a.short_first_chunk = v.get()?,
                "first_chunk_max_chars" => a.first_chunk_max_chars = v.get()?,
                "word_timings" => a.word_timings = v.get()?,
                "phoneme_timings" => a.phoneme_timings = v.get()?,
                "use_cache" => a.use_cache = v.get()?,
                "language" => a.language = v.get()?,
                "instruct" => a.instruct = v.get()?,
                "temperature" => a.temperature = v.get()?,
                "top_k" => a.top_k = v.get()?,
                "top_p" => a.top_p = v.get()?,
                "repetition_penalty" => a.repetition_penalty = v.get()?,
                _ => {
                    return Err(PyTypeError::new_err(format!(
                        "{method}() got an unexpected keyword argument '{key}'"
                    )))
                }
            }
        }
        Ok(a)
    }

    /// The engine's options; ranges the engine checks itself (speed, noise,
    /// flow-matching settings, supported rates, gap lengths, speaker ids of
    /// the voice) are left to it so that every binding reports them alike.
    pub fn into_options(self) -> PyResult<RequestOptions> {
        let format = sample_format(&self.format)?;
        let sample_rate = self
            .sample_rate
            .map(|r| {
                u32::try_from(r).map_err(|_| {
                    invalid_parameter(
                        "sample_rate",
                        r,
                        "must be one of 8000, 16000, 22050, 24000, 44100, 48000",
                    )
                })
            })
            .transpose()?;
        let speaker = self
            .speaker
            .map(|s| {
                i64::try_from(s).map_err(|_| {
                    invalid_parameter("speaker", s, "must be a speaker id of the voice")
                })
            })
            .transpose()?;
        let seed = self
            .seed
            .map(|s| {
                u64::try_from(s).map_err(|_| invalid_parameter("seed", s, "must be in [0, 2**64)"))
            })
            .transpose()?;
        let nfe_step = self
            .nfe_step
            .map(|n| {
                u32::try_from(n)
                    .map_err(|_| invalid_parameter("nfe_step", n, "must be in [1, 128]"))
            })
            .transpose()?;
        let top_k = self
            .top_k
            .map(|k| {
                u32::try_from(k)
                    .map_err(|_| invalid_parameter("top_k", k, "must be in [1, 100000]"))
            })
            .transpose()?;
        let gap = match (self.silence_ms, self.crossfade_ms) {
            (Some(_), Some(_)) => {
                return Err(invalid_parameter(
                    "silence_ms",
                    "given with crossfade_ms",
                    "give silence_ms or crossfade_ms, not both",
                ))
            }
            (Some(ms), None) => SentenceGap::Silence(millis("silence_ms", ms)?),
            (None, Some(ms)) => SentenceGap::Crossfade(millis("crossfade_ms", ms)?),
            (None, None) => SentenceGap::None,
        };
        let first_chunk_max_chars = self
            .first_chunk_max_chars
            .map(|n| {
                usize::try_from(n).ok().filter(|&n| n >= 1).ok_or_else(|| {
                    invalid_parameter("first_chunk_max_chars", n, "must be at least 1")
                })
            })
            .transpose()?;
        Ok(RequestOptions {
            voice: self.voice,
            synthesis: SynthesisOptions {
                // Narrowed as f32: a value too large for it becomes
                // infinite, which the engine rejects by name.
                speed: self.speed.map(|v| v as f32),
                noise_scale: self.noise_scale.map(|v| v as f32),
                noise_w: self.noise_w.map(|v| v as f32),
                speaker,
                seed,
                nfe_step,
                cfg_strength: self.cfg_strength.map(|v| v as f32),
                sway_sampling_coef: self.sway_sampling_coef.map(|v| v as f32),
                fix_duration: self.fix_duration.map(|v| v as f32),
                language: self.language,
                instruct: self.instruct,
                temperature: self.temperature.map(|v| v as f32),
                top_k,
                top_p: self.top_p.map(|v| v as f32),
                repetition_penalty: self.repetition_penalty.map(|v| v as f32),
            },
            sample_rate,
            format,
            gap,
            short_first_chunk: self.short_first_chunk,
            first_chunk_max_chars,
            word_timings: self.word_timings,
            phoneme_timings: self.phoneme_timings,
            use_cache: self.use_cache,
        })
    }
}

/// One keyword argument, converted as pyo3 converts declared ones (a wrong
/// type is a `TypeError` naming the argument).
struct Keyword<'a, 'py>(&'a str, &'a Bound<'py, PyAny>);

impl<'py> Keyword<'_, 'py> {
    fn get<T: for<'a> FromPyObject<'a, 'py, Error = PyErr>>(&self) -> PyResult<T> {
        self.1.extract::<T>().map_err(|e| {
            let py = self.1.py();
            PyTypeError::new_err(format!("argument '{}': {}", self.0, e.value(py)))
        })
    }
}

fn sample_format(name: &str) -> PyResult<SampleFormat> {
    match name {
        "f32" | "float32" => Ok(SampleFormat::F32),
        "i16" | "int16" => Ok(SampleFormat::I16),
        other => Err(invalid_parameter(
            "format",
            format!("{other:?}"),
            "must be \"f32\" or \"i16\"",
        )),
    }
}

/// Milliseconds as a duration: finite and not negative (the engine checks
/// the upper bound).
fn millis(name: &'static str, ms: f64) -> PyResult<Duration> {
    if !(ms.is_finite() && ms >= 0.0) {
        return Err(invalid_parameter(
            name,
            ms,
            "must be a finite, non-negative number of milliseconds",
        ));
    }
    Ok(Duration::from_secs_f64(ms / 1000.0))
}

/// `"cpu"`, `"cuda"` (device 0) or `"cuda:N"`.
pub fn device(name: &str) -> PyResult<DeviceSpec> {
    let bad = || {
        invalid_parameter(
            "device",
            format!("{name:?}"),
            "must be \"cpu\" or \"cuda:N\"",
        )
    };
    match name {
        "cpu" => Ok(DeviceSpec::Cpu),
        "cuda" => Ok(DeviceSpec::Cuda(0)),
        _ => match name.strip_prefix("cuda:") {
            Some(n) => n.parse().map(DeviceSpec::Cuda).map_err(|_| bad()),
            None => Err(bad()),
        },
    }
}

/// A count or size that must fit `usize` (the engine checks what more it
/// needs, e.g. `queue_limit >= 1`).
pub fn size(name: &'static str, v: i128) -> PyResult<usize> {
    usize::try_from(v).map_err(|_| invalid_parameter(name, v, "must be a non-negative integer"))
}

/// Seconds as an optional duration: `None` stays `None`.
pub fn seconds(name: &'static str, s: Option<f64>) -> PyResult<Option<Duration>> {
    s.map(|s| {
        if s.is_finite() && s > 0.0 {
            Duration::try_from_secs_f64(s).map_err(|_| invalid_parameter(name, s, "is too large"))
        } else {
            Err(invalid_parameter(
                name,
                s,
                "must be a positive number of seconds, or None",
            ))
        }
    })
    .transpose()
}

/// A duration in seconds that may be zero (finite, `>= 0`).
pub fn non_negative_seconds(name: &'static str, s: f64) -> PyResult<Duration> {
    if s.is_finite() && s >= 0.0 {
        Duration::try_from_secs_f64(s).map_err(|_| invalid_parameter(name, s, "is too large"))
    } else {
        Err(invalid_parameter(
            name,
            s,
            "must be a non-negative number of seconds",
        ))
    }
}

/// A wait in seconds: `None` waits as long as it takes, 0 does not wait.
pub fn timeout(s: Option<f64>) -> PyResult<Option<Duration>> {
    s.map(|s| {
        if s.is_finite() && s >= 0.0 {
            Duration::try_from_secs_f64(s)
                .map_err(|_| invalid_parameter("timeout", s, "is too large"))
        } else {
            Err(invalid_parameter(
                "timeout",
                s,
                "must be a non-negative number of seconds, or None",
            ))
        }
    })
    .transpose()
}
