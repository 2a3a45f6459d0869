//! Requests: `tts_request_params`, the chunk view handed to C, the
//! callback (push) calls and WAV output.

use std::ffi::{c_char, c_int, c_void, CString};
use std::path::Path;
use std::time::Duration;

use ishowtts::audio::format::{SampleFormat, Samples};
use ishowtts::audio::join::SentenceGap;
use ishowtts::audio::wav::streaming_wav_header;
use ishowtts::engine::{Chunk, Flow, RequestOptions, SynthesisOptions};
use ishowtts::Error;

use crate::engine::{engine_ref, TtsEngine};
use crate::error::{c_text_arg, guard, guard_value, invalid, opt_str_arg, read_sized, str_arg};
use crate::error::{released_sizes, text_arg, TTS_OK, TTS_STOPPED};

/// 32-bit float samples in [-1, 1] (`const float *`).
pub const TTS_FORMAT_F32: i32 = 0;
/// 16-bit signed samples (`const int16_t *`).
pub const TTS_FORMAT_I16: i32 = 1;

/// Sentences back to back.
pub const TTS_GAP_NONE: i32 = 0;
/// `gap_ms` of silence between sentences (at most 2000).
pub const TTS_GAP_SILENCE: i32 = 1;
/// `gap_ms` of cross-fade between sentences (at most 100).
pub const TTS_GAP_CROSSFADE: i32 = 2;

// Visemes (`tts_phoneme.viseme`): the 15 of the Oculus lip-sync set.
/// Viseme: silence, mouth at rest.
pub const TTS_VISEME_SIL: i32 = 0;
/// Viseme: p, b, m.
pub const TTS_VISEME_PP: i32 = 1;
/// Viseme: f, v.
pub const TTS_VISEME_FF: i32 = 2;
/// Viseme: th.
pub const TTS_VISEME_TH: i32 = 3;
/// Viseme: t, d.
pub const TTS_VISEME_DD: i32 = 4;
/// Viseme: k, g, ng, h.
pub const TTS_VISEME_KK: i32 = 5;
/// Viseme: ch, j, sh.
pub const TTS_VISEME_CH: i32 = 6;
/// Viseme: s, z.
pub const TTS_VISEME_SS: i32 = 7;
/// Viseme: n, l.
pub const TTS_VISEME_NN: i32 = 8;
/// Viseme: r.
pub const TTS_VISEME_RR: i32 = 9;
/// Viseme: open vowels (a).
pub const TTS_VISEME_AA: i32 = 10;
/// Viseme: mid vowels (e).
pub const TTS_VISEME_E: i32 = 11;
/// Viseme: close front vowels (i).
pub const TTS_VISEME_IH: i32 = 12;
/// Viseme: rounded mid vowels (o).
pub const TTS_VISEME_OH: i32 = 13;
/// Viseme: rounded close vowels (u), w.
pub const TTS_VISEME_OU: i32 = 14;

/// Size of the header `tts_wav_header` writes.
pub const TTS_WAV_HEADER_SIZE: usize = 44;

/// Per-request settings. Start from `tts_request_default_params()` (which
/// sets `struct_size`). Nothing here uses 0 for "default": float options
/// are NaN for the voice's default, the speaker and the seed have `has_*`
/// flags, and `sample_rate` 0 is the model's own rate (0 Hz is no rate).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct TtsRequestParams {
    /// `sizeof(tts_request_params)` as the caller was compiled with.
    pub struct_size: usize,
    /// Registered voice name; NULL: the engine's default voice.
    pub voice: *const c_char,
    /// Speaking rate relative to the voice's pace, in [0.1, 10]; NaN: the
    /// voice's default.
    pub speed: f32,
    /// Piper: noise on the prior, in [0, 10]; NaN: the voice's default.
    pub noise_scale: f32,
    /// Piper: noise on the durations, in [0, 10]; NaN: the voice's default.
    pub noise_w: f32,
    /// Nonzero: speak with `speaker` instead of the voice's speaker.
    pub has_speaker: i32,
    /// Speaker id of a multi-speaker voice (used when `has_speaker`).
    pub speaker: i64,
    /// Nonzero: seed the noise with `seed` (same seed, same audio);
    /// zero: a fresh seed per request.
    pub has_seed: i32,
    /// The noise seed (used when `has_seed`).
    pub seed: u64,
    /// Output rate: 8000, 16000, 22050, 24000, 44100 or 48000 (resampled
    /// inside); 0: the model's own rate.
    pub sample_rate: u32,
    /// `TTS_FORMAT_F32` or `TTS_FORMAT_I16`.
    pub format: i32,
    /// `TTS_GAP_NONE`, `TTS_GAP_SILENCE` or `TTS_GAP_CROSSFADE`.
    pub gap: i32,
    /// Length of the gap in milliseconds.
    pub gap_ms: u32,
    /// Nonzero: cut the first sentence short (at a clause) to hear audio
    /// sooner.
    pub short_first_chunk: i32,
    /// Nonzero: answer from, and store into, the output cache.
    pub use_cache: i32,
    /// Flow matching (F5-TTS voices): flow steps in [1, 128]; 0: the
    /// default (32).
    pub nfe_step: u32,
    /// Flow matching: classifier-free guidance strength in [0, 10]; NaN:
    /// the default (2).
    pub cfg_strength: f32,
    /// Flow matching: sway sampling coefficient in [-1, 1]; NaN: the
    /// default (-1).
    pub sway_sampling_coef: f32,
    /// Flow matching: seconds per sentence, reference included, in
    /// (0, 60]; NaN: estimated from the text.
    pub fix_duration: f32,
    /// Language of the text for models that take one (Qwen3-TTS:
    /// "english", "chinese", … or "auto"); NULL: the voice's.
    pub language: *const c_char,
    /// Style instruction for models that take one (Qwen3-TTS), at most
    /// 1000 bytes; NULL: the voice's.
    pub instruct: *const c_char,
    /// Autoregressive models (Qwen3-TTS): sampling temperature in (0, 10];
    /// NaN: the model's default (0.9).
    pub temperature: f32,
    /// Autoregressive models: sample among the `top_k` likeliest codes, in
    /// [1, 100000]; 0: the model's default (50).
    pub top_k: u32,
    /// Autoregressive models: nucleus sampling mass in (0, 1]; NaN: the
    /// model's default (1.0).
    pub top_p: f32,
    /// Autoregressive models: penalty on repeated codes in [1, 10]; NaN:
    /// the model's default (1.05).
    pub repetition_penalty: f32,
    /// Nonzero: cut a first sentence longer than this many chars at a
    /// clause (as `short_first_chunk` does, at this length); 0: the
    /// engine's length (60) when `short_first_chunk` is set.
    pub first_chunk_max_chars: u32,
    /// Nonzero (the default): chunks that end a sentence carry its words
    /// with their times (`tts_chunk.words`).
    pub word_timings: i32,
    /// Nonzero: chunks that end a sentence also carry its phonemes with
    /// visemes (`tts_chunk.phonemes`; Piper voices). Default 0.
    pub phoneme_timings: i32,
}

/// `struct_size` of every released `tts_request_params` layout: up to
/// `use_cache`, then the flow-matching settings, the autoregressive ones,
/// the timing ones.
const REQUEST_PARAMS_SIZES: &[usize] =
    released_sizes!(TtsRequestParams: nfe_step, language, first_chunk_max_chars);

/// One chunk of audio (a sentence, or a piece of one for models that
/// stream within sentences) and where it belongs. The library
/// owns it: in a callback it is valid during the call; from
/// `tts_stream_next` until the next call on that stream or its free.
#[repr(C)]
pub struct TtsChunk {
    /// Request id, unique per engine.
    pub request_id: u64,
    /// 0-based sentence index within the request.
    pub sentence_index: u64,
    /// Byte offset of the sentence's first byte in the request text.
    pub text_start: usize,
    /// Byte offset just past the sentence's last byte.
    pub text_end: usize,
    /// Index of the chunk's first sample in the request's whole output.
    pub sample_offset: u64,
    /// Rate of `samples` in Hz.
    pub sample_rate: u32,
    /// `TTS_FORMAT_F32` (`samples` is `const float *`) or `TTS_FORMAT_I16`
    /// (`const int16_t *`).
    pub format: i32,
    /// The samples (mono), valid as long as the chunk is.
    pub samples: *const c_void,
    /// Number of samples (may be 0 on the last chunk).
    pub sample_count: usize,
    /// Nonzero on the request's last chunk.
    pub is_last: i32,
    /// Nonzero when replayed from the output cache.
    pub from_cache: i32,
    /// Seconds the sentence waited for the model.
    pub queue_wait_s: f64,
    /// Seconds of model time for the chunk (its sentence, or the steps
    /// since the sentence's previous piece).
    pub synthesis_s: f64,
    /// Seconds from the request's start to this chunk.
    pub since_request_s: f64,
    /// Nonzero on the last chunk of its sentence: always for models that
    /// deliver whole sentences; for one that streams within sentences
    /// (Qwen3-TTS), the chunks of a sentence share `sentence_index` and
    /// the text span, and only the last has this set.
    pub ends_sentence: i32,
    /// Number of entries in `words`.
    pub word_count: usize,
    /// The words of the sentence this chunk ends (NULL when none: other
    /// chunks, or word timings off), valid as long as the chunk is. Their
    /// times may reach past this chunk's samples (a cross-fade or the
    /// resampler holds a few ms back; a model that streams within
    /// sentences gives the words with the sentence's last piece).
    pub words: *const TtsWord,
    /// Number of entries in `phonemes`.
    pub phoneme_count: usize,
    /// The sentence's phonemes with visemes, likewise (with
    /// `phoneme_timings`, for Piper voices).
    pub phonemes: *const TtsPhoneme,
}

/// A word and when it is heard: samples of the chunk's `sample_rate`,
/// counted from the request's first sample (as `sample_offset` is).
#[repr(C)]
pub struct TtsWord {
    /// The word as spoken (after normalization), NUL-terminated UTF-8.
    pub word: *const c_char,
    /// First sample where it is heard.
    pub start: u64,
    /// One past its last sample.
    pub end: u64,
    /// Nonzero when estimated from the text (models without durations)
    /// rather than measured.
    pub estimated: i32,
}

/// A phoneme, when it is heard and the mouth shape that goes with it.
#[repr(C)]
pub struct TtsPhoneme {
    /// The phoneme in IPA with its stress and length marks, NUL-terminated
    /// UTF-8.
    pub phoneme: *const c_char,
    /// First sample (as in `tts_word`).
    pub start: u64,
    /// One past its last sample.
    pub end: u64,
    /// Viseme id 0-14 of the Oculus set (`TTS_VISEME_SIL` … `TTS_VISEME_OU`).
    pub viseme: i32,
}

/// A chunk's C view with the storage its pointers point into: keep it
/// alive (it may be moved) while the view is in use.
pub(crate) struct ChunkView {
    /// The view handed to the caller.
    pub chunk: TtsChunk,
    _words: Vec<TtsWord>,
    _phonemes: Vec<TtsPhoneme>,
    _strings: Vec<CString>,
}

/// Called once per chunk, in order, on the thread that called
/// `tts_synthesize`; return 0 to continue, nonzero to stop (the request is
/// cancelled and the call returns `TTS_STOPPED`). The callback may call
/// other `tts_*` functions, on this engine too (not `tts_engine_free`).
pub type TtsChunkCallback =
    Option<unsafe extern "C" fn(chunk: *const TtsChunk, user_data: *mut c_void) -> c_int>;

fn defaults() -> TtsRequestParams {
    TtsRequestParams {
        struct_size: std::mem::size_of::<TtsRequestParams>(),
        voice: std::ptr::null(),
        speed: f32::NAN,
        noise_scale: f32::NAN,
        noise_w: f32::NAN,
        has_speaker: 0,
        speaker: 0,
        has_seed: 0,
        seed: 0,
        sample_rate: 0,
        format: TTS_FORMAT_F32,
        gap: TTS_GAP_NONE,
        gap_ms: 0,
        short_first_chunk: 0,
        first_chunk_max_chars: 0,
        word_timings: 1,
        phoneme_timings: 0,
        use_cache: 1,
        nfe_step: 0,
        cfg_strength: f32::NAN,
        sway_sampling_coef: f32::NAN,
        fix_duration: f32::NAN,
        language: std::ptr::null(),
        instruct: std::ptr::null(),
        temperature: f32::NAN,
        top_k: 0,
        top_p: f32::NAN,
        repetition_penalty: f32::NAN,
    }
}

/// Default request settings: the default voice at its own pace and rate,
/// f32 samples, no gap, output cache on.
#[no_mangle]
pub extern "C" fn tts_request_default_params() -> TtsRequestParams {
    // A failure (never expected) gives a struct every call refuses.
    let refused = TtsRequestParams {
        struct_size: 0,
        ..defaults()
    };
    guard_value(refused, defaults)
}

pub(crate) fn sample_format(f: i32) -> Result<SampleFormat, Error> {
    match f {
        TTS_FORMAT_F32 => Ok(SampleFormat::F32),
        TTS_FORMAT_I16 => Ok(SampleFormat::I16),
        f => Err(invalid(format!(
            "format is {f}: use TTS_FORMAT_F32 or TTS_FORMAT_I16"
        ))),
    }
}

/// Request options from the caller's params (NULL: the defaults).
///
/// # Safety
/// `p` is NULL or the caller's struct; its `voice` is NULL or a C string
/// that outlives the options' construction.
pub(crate) unsafe fn request_options(p: *const TtsRequestParams) -> Result<RequestOptions, Error> {
    if p.is_null() {
        return Ok(RequestOptions::default());
    }
    // SAFETY: non-NULL, the caller's struct (tts.h).
    let p = unsafe { read_sized(p, defaults(), REQUEST_PARAMS_SIZES, "params") }?;
    let unset_nan = |v: f32| (!v.is_nan()).then_some(v);
    let ms = Duration::from_millis(u64::from(p.gap_ms));
    let gap = match p.gap {
        TTS_GAP_NONE => SentenceGap::None,
        TTS_GAP_SILENCE => SentenceGap::Silence(ms),
        TTS_GAP_CROSSFADE => SentenceGap::Crossfade(ms),
        g => {
            return Err(invalid(format!(
                "gap is {g}: use TTS_GAP_NONE, TTS_GAP_SILENCE or TTS_GAP_CROSSFADE"
            )))
        }
    };
    Ok(RequestOptions {
        // SAFETY: voice is NULL or a C string (tts.h).
        voice: unsafe { opt_str_arg(p.voice, "params.voice") }?.map(str::to_owned),
        synthesis: SynthesisOptions {
            speed: unset_nan(p.speed),
            noise_scale: unset_nan(p.noise_scale),
            noise_w: unset_nan(p.noise_w),
            speaker: (p.has_speaker != 0).then_some(p.speaker),
            seed: (p.has_seed != 0).then_some(p.seed),
            nfe_step: (p.nfe_step != 0).then_some(p.nfe_step),
            cfg_strength: unset_nan(p.cfg_strength),
            sway_sampling_coef: unset_nan(p.sway_sampling_coef),
            fix_duration: unset_nan(p.fix_duration),
            // SAFETY: NULL or C strings (tts.h).
            language: unsafe { opt_str_arg(p.language, "params.language") }?.map(str::to_owned),
            // SAFETY: as above.
            instruct: unsafe { opt_str_arg(p.instruct, "params.instruct") }?.map(str::to_owned),
            temperature: unset_nan(p.temperature),
            top_k: (p.top_k != 0).then_some(p.top_k),
            top_p: unset_nan(p.top_p),
            repetition_penalty: unset_nan(p.repetition_penalty),
        },
        sample_rate: (p.sample_rate != 0).then_some(p.sample_rate),
        format: sample_format(p.format)?,
        gap,
        short_first_chunk: p.short_first_chunk != 0,
        first_chunk_max_chars: (p.first_chunk_max_chars != 0)
            .then_some(p.first_chunk_max_chars as usize),
        word_timings: p.word_timings != 0,
        phoneme_timings: p.phoneme_timings != 0,
        use_cache: p.use_cache != 0,
    })
}

/// The C view of `c`; it borrows `c`'s samples.
pub(crate) fn c_chunk(c: &Chunk) -> ChunkView {
    let (samples, format) = match &c.samples {
        Samples::F32(v) => (v.as_ptr().cast::<c_void>(), TTS_FORMAT_F32),
        Samples::I16(v) => (v.as_ptr().cast::<c_void>(), TTS_FORMAT_I16),
    };
    // An interior NUL cannot come from the text (control characters are
    // removed before synthesis); cut there if it ever did.
    let c_string = |s: &str| {
        CString::new(s).unwrap_or_else(|e| {
            let end = e.nul_position();
            CString::new(&s[..end]).expect("no NUL before the first")
        })
    };
    let mut strings = Vec::with_capacity(c.words.len() + c.phonemes.len());
    let words: Vec<TtsWord> = c
        .words
        .iter()
        .map(|w| {
            let text = c_string(&w.word);
            let word = text.as_ptr();
            strings.push(text);
            TtsWord {
                word,
                start: w.start,
                end: w.end,
                estimated: i32::from(w.estimated),
            }
        })
        .collect();
    let phonemes: Vec<TtsPhoneme> = c
        .phonemes
        .iter()
        .map(|p| {
            let text = c_string(&p.phoneme);
            let phoneme = text.as_ptr();
            strings.push(text);
            TtsPhoneme {
                phoneme,
                start: p.start,
                end: p.end,
                viseme: i32::from(p.viseme.id()),
            }
        })
        .collect();
    let chunk = TtsChunk {
        request_id: c.request_id,
        sentence_index: c.sentence_index as u64,
        text_start: c.text_span.start,
        text_end: c.text_span.end,
        sample_offset: c.sample_offset,
        sample_rate: c.sample_rate,
        format,
        samples,
        sample_count: c.samples.len(),
        is_last: i32::from(c.is_last),
        from_cache: i32::from(c.timings.from_cache),
        queue_wait_s: c.timings.queue_wait.as_secs_f64(),
        synthesis_s: c.timings.synthesis.as_secs_f64(),
        since_request_s: c.timings.since_request.as_secs_f64(),
        ends_sentence: i32::from(c.ends_sentence),
        word_count: words.len(),
        words: ptr_or_null(&words),
        phoneme_count: phonemes.len(),
        phonemes: ptr_or_null(&phonemes),
    };
    ChunkView {
        chunk,
        _words: words,
        _phonemes: phonemes,
        _strings: strings,
    }
}

/// The array's start, or NULL when it is empty.
fn ptr_or_null<T>(v: &[T]) -> *const T {
    if v.is_empty() {
        std::ptr::null()
    } else {
        v.as_ptr()
    }
}

/// Speaks `text`, calling `callback` for each sentence as soon as it is
/// ready. `text` is NUL-terminated UTF-8; `params` may be NULL (defaults).
/// Returns `TTS_OK` when every chunk was delivered, `TTS_STOPPED` when
/// the callback stopped the request, or the error that ended it (chunks
/// delivered before it stay delivered).
#[no_mangle]
pub unsafe extern "C" fn tts_synthesize(
    engine: *const TtsEngine,
    text: *const c_char,
    params: *const TtsRequestParams,
    callback: TtsChunkCallback,
    user_data: *mut c_void,
) -> c_int {
    guard(|| {
        // SAFETY: text is NULL or a C string (tts.h).
        let text = unsafe { c_text_arg(text) }?;
        // SAFETY: arguments as tts.h states.
        unsafe { synthesize(engine, text, params, callback, user_data) }
    })
}

/// `tts_synthesize` with the text as `len` bytes, not NUL-terminated (for
/// text from sockets or string views). A NUL byte in the text is
/// `TTS_ERR_INVALID_TEXT`.
#[no_mangle]
pub unsafe extern "C" fn tts_synthesize_n(
    engine: *const TtsEngine,
    text: *const c_char,
    len: usize,
    params: *const TtsRequestParams,
    callback: TtsChunkCallback,
    user_data: *mut c_void,
) -> c_int {
    guard(|| {
        // SAFETY: text is NULL or `len` readable bytes (tts.h).
        let text = unsafe { text_arg(text, len) }?;
        // SAFETY: arguments as tts.h states.
        unsafe { synthesize(engine, text, params, callback, user_data) }
    })
}

/// # Safety
/// Arguments as `tts_synthesize` states.
unsafe fn synthesize(
    engine: *const TtsEngine,
    text: &str,
    params: *const TtsRequestParams,
    callback: TtsChunkCallback,
    user_data: *mut c_void,
) -> Result<c_int, Error> {
    // SAFETY: by this function's contract.
    let e = unsafe { engine_ref(engine) }?;
    // SAFETY: as above.
    let options = unsafe { request_options(params) }?;
    let callback = callback.ok_or_else(|| invalid("callback is NULL"))?;
    let summary = e.synthesize_with(text, &options, |chunk| {
        let c = c_chunk(chunk);
        // SAFETY: the caller's callback with the caller's user data; `c`
        // and the samples it points at live until the call returns.
        match unsafe { callback(&c.chunk, user_data) } {
            0 => Flow::Continue,
            _ => Flow::Stop,
        }
    })?;
    Ok(if summary.cancelled {
        TTS_STOPPED
    } else {
        TTS_OK
    })
}

/// Speaks `text` into the WAV file at `path` (16-bit PCM for
/// `TTS_FORMAT_I16`, 32-bit float for `TTS_FORMAT_F32`), writing each
/// sentence as it is ready. `params` may be NULL.
#[no_mangle]
pub unsafe extern "C" fn tts_synthesize_to_wav(
    engine: *const TtsEngine,
    text: *const c_char,
    params: *const TtsRequestParams,
    path: *const c_char,
) -> c_int {
    guard(|| {
        // SAFETY: arguments as tts.h states.
        let e = unsafe { engine_ref(engine) }?;
        // SAFETY: as above.
        let text = unsafe { c_text_arg(text) }?;
        // SAFETY: as above.
        let path = unsafe { str_arg(path, "path") }?;
        // SAFETY: as above.
        let options = unsafe { request_options(params) }?;
        e.synthesize_to_wav(text, &options, Path::new(path))?;
        Ok(TTS_OK)
    })
}

/// Writes the `TTS_WAV_HEADER_SIZE` (44) byte header of a mono WAV stream
/// of unknown length (for pipes and sockets) to `out`: write it, then the
/// chunks' samples as they come.
#[no_mangle]
pub unsafe extern "C" fn tts_wav_header(sample_rate: u32, format: i32, out: *mut u8) -> c_int {
    guard(|| {
        if out.is_null() {
            return Err(invalid("out is NULL"));
        }
        if !(1..=768_000).contains(&sample_rate) {
            return Err(Error::InvalidParameter {
                name: "sample_rate",
                value: sample_rate.to_string(),
                reason: "must be in [1, 768000]",
            });
        }
        let header = streaming_wav_header(sample_rate, sample_format(format)?);
        if header.len() != TTS_WAV_HEADER_SIZE {
            return Err(Error::Internal(format!(
                "WAV header is {} bytes, not {TTS_WAV_HEADER_SIZE}",
                header.len()
            )));
        }
        // SAFETY: out is non-NULL and has TTS_WAV_HEADER_SIZE writable
        // bytes (tts.h); the header is a separate allocation.
        unsafe { std::ptr::copy_nonoverlapping(header.as_ptr(), out, header.len()) };
        Ok(TTS_OK)
    })
}
