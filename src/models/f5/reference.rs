//! Reference recording to the model's input: 24 kHz mono, loud enough,
//! without leading or trailing silence, at most about 12 s.
//!
//! Port of upstream's `preprocess_ref_audio_text` (pydub) and the start of
//! `infer_batch_process` (`f5_tts/infer/utils_infer.py`):
//!
//! 1. decode (WAV with `hound`; MP3, FLAC, Ogg Vorbis and WAV codecs
//!    `hound` does not read with `symphonia`); recordings over
//!    [`MAX_INPUT_SECONDS`] are refused;
//! 2. down-mix to mono (mean of the channels) and resample to 24 kHz;
//! 3. keep at most ~12 s, cutting at a silence where there is one: whole
//!    stretches between silences of 1 s (below -50 dBFS) are kept while the
//!    total stays under 12 s (once past 6 s), else the same with silences of
//!    0.1 s (below -40 dBFS), else a hard cut at 12 s;
//! 4. trim leading and trailing silence (10 ms steps below -42 dBFS) and
//!    append 50 ms of silence;
//! 5. if the RMS is under [`TARGET_RMS`], scale up to it; the generated
//!    audio must then be scaled back by [`ReferenceAudio::output_gain`].
//!
//! Upstream runs steps 3–4 at the file's own rate and channel count before
//! down-mixing and resampling; here they run on the 24 kHz mono signal, so
//! cut points can differ by a fraction of a millisecond, and levels of
//! stereo files are measured on the mix.

use std::io::Cursor;
use std::path::Path;

use crate::audio::resample::{StreamResampler, MODEL_RATES};
use crate::{Error, Result};

use super::chunking::{HOP_LENGTH, SAMPLE_RATE};

/// Longest recording accepted, in seconds (before clipping to ~12 s).
pub const MAX_INPUT_SECONDS: f64 = 30.0;

/// RMS a quieter reference is raised to (upstream `target_rms`).
pub const TARGET_RMS: f64 = 0.1;

/// Samples per millisecond at 24 kHz: pydub measures everything in ms.
const PER_MS: usize = SAMPLE_RATE as usize / 1000;

/// Upstream's clip target and the least it keeps before clipping at a
/// silence, in ms.
const CLIP_MS: usize = 12_000;
const CLIP_MIN_MS: usize = 6_000;

/// Edge-trim threshold and step (upstream `remove_silence_edges`).
const EDGE_DBFS: f64 = -42.0;
const EDGE_STEP_MS: usize = 10;

/// Silence appended after trimming, in ms.
const PAD_MS: usize = 50;

/// A decoded recording, before any processing.
#[derive(Debug, Clone)]
pub struct DecodedAudio {
    /// Samples in `[-1, 1]`, interleaved by channel.
    pub samples: Vec<f32>,
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Channel count (at least 1).
    pub channels: usize,
}

impl DecodedAudio {
    /// Length in seconds.
    pub fn seconds(&self) -> f64 {
        self.samples.len() as f64 / self.channels as f64 / f64::from(self.sample_rate)
    }
}

/// A reference recording ready for the mel spectrogram.
#[derive(Debug, Clone)]
pub struct ReferenceAudio {
    /// 24 kHz mono, trimmed, clipped to ~12 s, with 50 ms of silence at the
    /// end, raised to [`TARGET_RMS`] if it was quieter.
    pub samples: Vec<f32>,
    /// Factor to multiply the generated audio by, so that it comes out as
    /// loud as the reference was (`rms / TARGET_RMS` for a quiet
    /// reference, 1 otherwise; upstream scales each chunk so).
    pub output_gain: f32,
    /// Whether the silence step shortened the recording: clipped to ~12 s,
    /// or pauses over 2 s shortened (upstream keeps 1 s of silence on each
    /// side of every stretch of sound, even in a short recording).
    pub clipped: bool,
    /// Length of the recording as given, in seconds.
    pub source_seconds: f64,
}

fn bad(msg: impl Into<String>) -> Error {
    Error::ReferenceAudio(msg.into())
}

impl ReferenceAudio {
    /// Decodes and prepares a recording held in memory (WAV, MP3, FLAC or
    /// Ogg Vorbis).
    ///
    /// Errors with [`Error::ReferenceAudio`] for an empty, corrupt,
    /// truncated or unsupported file, a recording over
    /// [`MAX_INPUT_SECONDS`], or one that is silent.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        Self::from_decoded(&decode(bytes)?)
    }

    /// Reads and prepares a recording file ([`Error::Io`] when it cannot be
    /// read; see [`ReferenceAudio::from_bytes`]).
    pub fn from_file(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_bytes(&bytes).map_err(|e| match e {
            Error::ReferenceAudio(msg) => bad(format!("{}: {msg}", path.display())),
            e => e,
        })
    }

    /// Prepares samples already decoded (interleaved, in `[-1, 1]`).
    pub fn from_samples(samples: &[f32], sample_rate: u32, channels: usize) -> Result<Self> {
        Self::from_decoded(&DecodedAudio {
            samples: samples.to_vec(),
            sample_rate,
            channels,
        })
    }

    fn from_decoded(audio: &DecodedAudio) -> Result<Self> {
        check_decoded(audio)?;
        let source_seconds = audio.seconds();
        if source_seconds > MAX_INPUT_SECONDS {
            return Err(too_long(source_seconds));
        }
        let mono = downmix(&audio.samples, audio.channels);
        let mono = resample_to_24k(&mono, audio.sample_rate)?;
        let (mut samples, clipped) = clip_at_silence(&mono);
        let (start, end) = trim_silence(&samples);
        if start >= end {
            return Err(bad(format!(
                "reference audio is silent: nothing louder than {EDGE_DBFS} dBFS"
            )));
        }
        samples.truncate(end);
        samples.drain(..start);
        samples.resize(samples.len() + PAD_MS * PER_MS, 0.0);
        let rms = (samples.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>()
            / samples.len() as f64)
            .sqrt();
        let output_gain = if rms < TARGET_RMS {
            let gain = TARGET_RMS / rms;
            for x in &mut samples {
                *x = (f64::from(*x) * gain) as f32;
            }
            (rms / TARGET_RMS) as f32
        } else {
            1.0
        };
        Ok(Self {
            samples,
            output_gain,
            clipped,
            source_seconds,
        })
    }

    /// Reference length in frames as upstream counts it for the duration
    /// estimate (`samples // 256`, one less than the mel's frame count).
    pub fn frames(&self) -> usize {
        self.samples.len() / HOP_LENGTH
    }

    /// Length in seconds.
    pub fn seconds(&self) -> f64 {
        self.samples.len() as f64 / f64::from(SAMPLE_RATE)
    }
}

fn too_long(seconds: f64) -> Error {
    bad(format!(
        "reference audio is {seconds:.1} s, over the {MAX_INPUT_SECONDS} s limit: \
         use a clip of 5 to 12 s"
    ))
}

/// Loudest sample accepted in a reference (full scale is 1).
const MAX_PEAK: f32 = 64.0;

fn check_decoded(audio: &DecodedAudio) -> Result<()> {
    if audio.channels == 0 {
        return Err(bad("reference audio has no channels"));
    }
    if !MODEL_RATES.contains(&audio.sample_rate) {
        return Err(bad(format!(
            "reference audio sample rate {} Hz is not supported (8 to 96 kHz)",
            audio.sample_rate
        )));
    }
    if audio.samples.len() < audio.channels {
        return Err(bad("reference audio has no samples"));
    }
    if audio.samples.iter().any(|x| !x.is_finite()) {
        return Err(bad("reference audio has NaN or infinite samples"));
    }
    // Float WAV can hold anything; far past full scale it is not a
    // recording (and its loudness would scale the output by as much).
    let peak = audio.samples.iter().fold(0f32, |m, x| m.max(x.abs()));
    if peak > MAX_PEAK {
        return Err(bad(format!(
            "reference audio peaks at {peak:e}, far outside full scale [-1, 1]"
        )));
    }
    Ok(())
}

/// Decodes a recording: WAV (integer or float PCM) with `hound`, anything
/// else `symphonia` knows (MP3, FLAC, Ogg Vorbis, other WAV codecs).
pub fn decode(bytes: &[u8]) -> Result<DecodedAudio> {
    if bytes.is_empty() {
        return Err(bad("reference audio is empty (0 bytes)"));
    }
    let is_wav = bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WAVE";
    let audio = if is_wav {
        match decode_wav(bytes) {
            // Codecs hound does not read (A-law, µ-law, ...).
            Err(WavError::Unsupported) => decode_other(bytes, Some("wav"))?,
            Err(WavError::Bad(e)) => return Err(e),
            Ok(audio) => audio,
        }
    } else {
        decode_other(bytes, None)?
    };
    check_decoded(&audio)?;
    Ok(audio)
}

enum WavError {
    Unsupported,
    Bad(Error),
}

fn decode_wav(bytes: &[u8]) -> std::result::Result<DecodedAudio, WavError> {
    let corrupt = |e: hound::Error| match e {
        hound::Error::Unsupported => WavError::Unsupported,
        // hound reports a short read as `Other` with this text.
        hound::Error::IoError(e)
            if e.kind() == std::io::ErrorKind::UnexpectedEof
                || e.to_string().contains("enough bytes") =>
        {
            WavError::Bad(bad(
                "reference WAV is truncated: the file ends before its data does",
            ))
        }
        e => WavError::Bad(bad(format!("reference WAV is corrupt: {e}"))),
    };
    let reader = hound::WavReader::new(Cursor::new(bytes)).map_err(corrupt)?;
    let spec = reader.spec();
    let channels = usize::from(spec.channels);
    if channels == 0 || spec.sample_rate == 0 {
        return Err(WavError::Bad(bad(
            "reference WAV header has no channels or rate",
        )));
    }
    // Refuse long files from the header, before reading them.
    let seconds = f64::from(reader.duration()) / f64::from(spec.sample_rate);
    if seconds > MAX_INPUT_SECONDS {
        return Err(WavError::Bad(too_long(seconds)));
    }
    let samples: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => reader
            .into_samples::<f32>()
            .collect::<std::result::Result<_, _>>()
            .map_err(corrupt)?,
        hound::SampleFormat::Int => {
            if !(1..=32).contains(&spec.bits_per_sample) {
                return Err(WavError::Unsupported);
            }
            let scale = 1.0 / f64::from(1u32 << (spec.bits_per_sample - 1));
            reader
                .into_samples::<i32>()
                .map(|s| s.map(|v| (f64::from(v) * scale) as f32))
                .collect::<std::result::Result<_, _>>()
                .map_err(corrupt)?
        }
    };
    Ok(DecodedAudio {
        samples,
        sample_rate: spec.sample_rate,
        channels,
    })
}

/// Decoded audio beyond which counting stops: a file this long is refused
/// anyway, and decoding hours of audio to say so would be a waste.
const COUNT_LIMIT_SECONDS: f64 = 600.0;

fn decode_other(bytes: &[u8], extension: Option<&str>) -> Result<DecodedAudio> {
    use symphonia::core::codecs::audio::AudioDecoderOptions;
    use symphonia::core::errors::Error as SymError;
    use symphonia::core::formats::probe::Hint;
    use symphonia::core::formats::{FormatOptions, TrackType};
    use symphonia::core::io::MediaSourceStream;
    use symphonia::core::meta::MetadataOptions;

    let source = Cursor::new(bytes.to_vec());
    let stream = MediaSourceStream::new(Box::new(source), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = extension {
        hint.with_extension(ext);
    }
    let mut format = symphonia::default::get_probe()
        .probe(
            &hint,
            stream,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|e| match e {
            SymError::Unsupported(_) => {
                bad("reference audio format is not supported: use WAV, MP3, FLAC or Ogg Vorbis")
            }
            e => bad(format!("reference audio is corrupt: {e}")),
        })?;
    let track = format
        .default_track(TrackType::Audio)
        .ok_or_else(|| bad("reference file has no audio track"))?;
    let track_id = track.id;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .ok_or_else(|| bad("reference file's audio track has no codec parameters"))?
        .clone();
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(&params, &AudioDecoderOptions::default())
        .map_err(|e| bad(format!("reference audio codec is not supported: {e}")))?;

    let mut samples = Vec::new();
    let mut scratch: Vec<f32> = Vec::new();
    let mut rate = params.sample_rate.unwrap_or(0);
    let mut channels = params.channels.as_ref().map_or(0, |c| c.count());
    let mut frames: u64 = 0;
    let mut decode_errors = 0usize;
    let mut packets = 0usize;
    loop {
        let packet = match format.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            // A file cut short ends its last packet early: keep what came
            // before, as players do.
            Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(SymError::ResetRequired) => break,
            Err(e) => return Err(bad(format!("reference audio is corrupt: {e}"))),
        };
        if packet.track_id != track_id {
            continue;
        }
        packets += 1;
        let buf = match decoder.decode(&packet) {
            Ok(buf) => buf,
            // A damaged packet is skipped, as players do; all of them
            // damaged is reported below.
            Err(SymError::DecodeError(_)) | Err(SymError::IoError(_)) => {
                decode_errors += 1;
                continue;
            }
            Err(e) => return Err(bad(format!("reference audio cannot be decoded: {e}"))),
        };
        let spec = buf.spec();
        if rate == 0 {
            rate = spec.rate();
        }
        if channels == 0 {
            channels = spec.channels().count();
        }
        // A stream that changes layout midway (chained Ogg) would mix up
        // the interleaving.
        if spec.rate() != rate || spec.channels().count() != channels {
            return Err(bad(
                "reference audio changes sample rate or channel count midway",
            ));
        }
        frames += buf.frames() as u64;
        if rate > 0 && frames as f64 / f64::from(rate) > COUNT_LIMIT_SECONDS {
            return Err(too_long(frames as f64 / f64::from(rate)));
        }
        if rate > 0 && frames as f64 / f64::from(rate) > MAX_INPUT_SECONDS {
            // Over the limit: keep counting for the message, stop storing.
            continue;
        }
        buf.copy_to_vec_interleaved(&mut scratch);
        samples.extend_from_slice(&scratch);
    }
    if packets > 0 && decode_errors == packets {
        return Err(bad(
            "reference audio is corrupt: no packet could be decoded",
        ));
    }
    if rate == 0 || channels == 0 || (samples.is_empty() && frames == 0) {
        return Err(bad(
            "reference audio is corrupt or empty: no audio could be decoded",
        ));
    }
    let seconds = frames as f64 / f64::from(rate);
    if seconds > MAX_INPUT_SECONDS {
        return Err(too_long(seconds));
    }
    Ok(DecodedAudio {
        samples,
        sample_rate: rate,
        channels,
    })
}

/// Mean of the channels (upstream `torch.mean(audio, dim=0)`).
pub(crate) fn downmix(interleaved: &[f32], channels: usize) -> Vec<f32> {
    if channels == 1 {
        return interleaved.to_vec();
    }
    interleaved
        .chunks_exact(channels)
        .map(|frame| (frame.iter().map(|&x| f64::from(x)).sum::<f64>() / channels as f64) as f32)
        .collect()
}

pub(crate) fn resample_to_24k(mono: &[f32], rate: u32) -> Result<Vec<f32>> {
    if rate == SAMPLE_RATE {
        return Ok(mono.to_vec());
    }
    let mut resampler = StreamResampler::new(rate, SAMPLE_RATE)
        .map_err(|e| bad(format!("cannot resample the reference audio: {e}")))?;
    let mut out = resampler.process(mono);
    out.extend(resampler.finish());
    Ok(out)
}

/// Loudness measurements over a signal, in pydub's terms (milliseconds,
/// RMS relative to full scale).
struct Level {
    /// Running sum of squares: `sq[i]` = sum of `x[..i]²`.
    sq: Vec<f64>,
}

impl Level {
    fn new(x: &[f32]) -> Self {
        let mut sq = Vec::with_capacity(x.len() + 1);
        let mut acc = 0.0f64;
        sq.push(0.0);
        for &v in x {
            acc += f64::from(v) * f64::from(v);
            sq.push(acc);
        }
        Self { sq }
    }

    fn samples(&self) -> usize {
        self.sq.len() - 1
    }

    /// Length in whole ms (pydub's `len()`).
    fn len_ms(&self) -> usize {
        (self.samples() + PER_MS / 2) / PER_MS
    }

    /// Sample index of a time in ms, clamped to the signal.
    fn at(&self, ms: usize) -> usize {
        (ms * PER_MS).min(self.samples())
    }

    /// RMS of `[from_ms, to_ms)`, 0 for an empty span.
    fn rms(&self, from_ms: usize, to_ms: usize) -> f64 {
        let (a, b) = (self.at(from_ms), self.at(to_ms));
        if b <= a {
            return 0.0;
        }
        ((self.sq[b] - self.sq[a]).max(0.0) / (b - a) as f64).sqrt()
    }
}

fn db_to_amplitude(db: f64) -> f64 {
    10f64.powf(db / 20.0)
}

/// pydub `detect_silence`: spans (ms) where every window of `min_len` ms
/// stepped by `step` ms has an RMS at or below `thresh_db`.
fn detect_silence(
    level: &Level,
    min_len: usize,
    thresh_db: f64,
    step: usize,
) -> Vec<(usize, usize)> {
    let len = level.len_ms();
    if len < min_len {
        return Vec::new();
    }
    let thresh = db_to_amplitude(thresh_db);
    let last_start = len - min_len;
    let mut starts: Vec<usize> = (0..=last_start).step_by(step).collect();
    if !last_start.is_multiple_of(step) {
        starts.push(last_start);
    }
    let silent: Vec<usize> = starts
        .into_iter()
        .filter(|&i| level.rms(i, i + min_len) <= thresh)
        .collect();
    let Some((&first, rest)) = silent.split_first() else {
        return Vec::new();
    };
    let mut ranges = Vec::new();
    let (mut range_start, mut prev) = (first, first);
    for &i in rest {
        let continuous = i == prev + step;
        let has_gap = i > prev + min_len;
        if !continuous && has_gap {
            ranges.push((range_start, prev + min_len));
            range_start = i;
        }
        prev = i;
    }
    ranges.push((range_start, prev + min_len));
    ranges
}

/// pydub `detect_nonsilent`: the spans between the silences.
fn detect_nonsilent(
    level: &Level,
    min_len: usize,
    thresh_db: f64,
    step: usize,
) -> Vec<(usize, usize)> {
    let len = level.len_ms();
    let silent = detect_silence(level, min_len, thresh_db, step);
    if silent.is_empty() {
        return vec![(0, len)];
    }
    if silent[0] == (0, len) {
        return Vec::new();
    }
    let mut spans = Vec::new();
    let mut prev_end = 0;
    for &(start, end) in &silent {
        spans.push((prev_end, start));
        prev_end = end;
    }
    if silent.last().is_some_and(|&(_, end)| end != len) {
        spans.push((prev_end, len));
    }
    if spans.first() == Some(&(0, 0)) {
        spans.remove(0);
    }
    spans
}

/// pydub `split_on_silence`: the non-silent spans (ms) widened by `keep`
/// ms of their surrounding silence, overlaps split in the middle.
fn split_on_silence(
    level: &Level,
    min_len: usize,
    thresh_db: f64,
    keep: usize,
    step: usize,
) -> Vec<(usize, usize)> {
    let len = level.len_ms() as i64;
    let keep = keep as i64;
    let mut spans: Vec<(i64, i64)> = detect_nonsilent(level, min_len, thresh_db, step)
        .into_iter()
        .map(|(s, e)| (s as i64 - keep, e as i64 + keep))
        .collect();
    for i in 1..spans.len() {
        let (last_end, next_start) = (spans[i - 1].1, spans[i].0);
        if next_start < last_end {
            let mid = (last_end + next_start).div_euclid(2);
            spans[i - 1].1 = mid;
            spans[i].0 = mid;
        }
    }
    spans
        .into_iter()
        .map(|(s, e)| (s.max(0) as usize, e.min(len).max(0) as usize))
        .collect()
}

/// Upstream's accumulation: whole pieces while the total stays within
/// 12 s (it always takes pieces until it has 6 s). Returns the pieces as
/// sample ranges and the total length in samples.
fn gather(level: &Level, pieces: &[(usize, usize)]) -> (Vec<(usize, usize)>, usize) {
    let mut taken = Vec::new();
    let mut total = 0;
    for &(s, e) in pieces {
        let (a, b) = (level.at(s), level.at(e));
        let n = b.saturating_sub(a);
        if total > CLIP_MIN_MS * PER_MS && total + n > CLIP_MS * PER_MS {
            break;
        }
        taken.push((a, b));
        total += n;
    }
    (taken, total)
}

/// Keeps at most ~12 s, cut at silences where possible (upstream steps 1
/// to 3). Returns the audio and whether anything was cut.
fn clip_at_silence(x: &[f32]) -> (Vec<f32>, bool) {
    let level = Level::new(x);
    let limit = CLIP_MS * PER_MS;
    // 1. Long silences (1 s at -50 dBFS), keeping 1 s of silence around.
    let (mut pieces, mut total) = gather(&level, &split_on_silence(&level, 1000, -50.0, 1000, 10));
    // 2. Short silences (0.1 s at -40 dBFS) if that was still too long.
    if total > limit {
        (pieces, total) = gather(&level, &split_on_silence(&level, 100, -40.0, 1000, 10));
    }
    let mut out = Vec::with_capacity(total.min(limit));
    for (a, b) in pieces {
        out.extend_from_slice(&x[a..b]);
    }
    // 3. No usable silence: hard cut.
    out.truncate(limit);
    let clipped = out.len() != x.len();
    (out, clipped)
}

/// Leading and trailing silence, as the sample range to keep (upstream
/// `remove_silence_edges`: 10 ms steps while under -42 dBFS, from the
/// start, then from the end). Empty when everything is silent.
fn trim_silence(x: &[f32]) -> (usize, usize) {
    let level = Level::new(x);
    let n = x.len();
    let len = level.len_ms();
    let thresh = db_to_amplitude(EDGE_DBFS);
    // pydub compares dBFS with `<`; an all-zero step is -inf dBFS.
    let mut lead = 0;
    while lead < len && level.rms(lead, lead + EDGE_STEP_MS) < thresh {
        lead += EDGE_STEP_MS;
    }
    if lead >= len {
        return (n, n);
    }
    let start = level.at(lead);
    // From the end, in steps aligned to the end (pydub reverses the audio).
    let step = EDGE_STEP_MS * PER_MS;
    let mut end = n;
    while end > start {
        let from = end.saturating_sub(step).max(start);
        let rms = ((level.sq[end] - level.sq[from]).max(0.0) / (end - from) as f64).sqrt();
        if rms >= thresh {
            break;
        }
        end = from;
    }
    (start, end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(ms: usize, amp: f32) -> Vec<f32> {
        (0..ms * PER_MS)
            .map(|i| amp * (i as f32 * 2.0 * std::f32::consts::PI * 220.0 / 24_000.0).sin())
            .collect()
    }

    fn silence(ms: usize) -> Vec<f32> {
        vec![0.0; ms * PER_MS]
    }

    #[test]
    fn edges_are_trimmed_in_10_ms_steps() {
        let x = [silence(105), tone(500, 0.3), silence(200)].concat();
        let (a, b) = trim_silence(&x);
        assert_eq!(a, 100 * PER_MS);
        assert_eq!(b, x.len() - 200 * PER_MS);
        assert_eq!(trim_silence(&silence(300)).0, trim_silence(&silence(300)).1);
        assert_eq!(trim_silence(&[]), (0, 0));
    }

    #[test]
    fn long_audio_is_cut_at_a_long_silence() {
        // 5 s speech, 1.5 s silence, 5 s, 1.5 s, 5 s: the third piece would
        // pass 12 s, so two pieces (with their kept silence) remain.
        let x = [
            tone(5000, 0.3),
            silence(1500),
            tone(5000, 0.3),
            silence(1500),
            tone(5000, 0.3),
        ]
        .concat();
        let (y, clipped) = clip_at_silence(&x);
        assert!(clipped);
        let ms = y.len() / PER_MS;
        assert!((11_000..=12_000).contains(&ms), "{ms} ms");
        // Short audio is left alone.
        let short = [tone(3000, 0.3), silence(1500), tone(3000, 0.3)].concat();
        let (y, clipped) = clip_at_silence(&short);
        assert!(!clipped);
        assert_eq!(y.len(), short.len());
    }

    #[test]
    fn audio_without_silence_is_cut_hard() {
        let (y, clipped) = clip_at_silence(&tone(20_000, 0.3));
        assert!(clipped);
        assert_eq!(y.len(), CLIP_MS * PER_MS);
    }

    #[test]
    fn short_silences_are_used_when_long_ones_are_missing() {
        // 0.3 s gaps only: the second pass cuts there.
        let mut x = Vec::new();
        for _ in 0..8 {
            x.extend(tone(2000, 0.3));
            x.extend(silence(300));
        }
        let (y, clipped) = clip_at_silence(&x);
        assert!(clipped);
        let ms = y.len() / PER_MS;
        assert!((6_000..=12_000).contains(&ms), "{ms} ms");
        assert!(ms < 12_000, "cut at a silence, not hard");
    }

    #[test]
    fn quiet_references_are_raised_and_remembered() {
        let x = [silence(200), tone(2000, 0.05), silence(200)].concat();
        let r = ReferenceAudio::from_samples(&x, 24_000, 1).unwrap();
        let rms = (r.samples.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>()
            / r.samples.len() as f64)
            .sqrt();
        assert!((rms - TARGET_RMS).abs() < 1e-4, "{rms}");
        assert!(
            r.output_gain < 0.5 && r.output_gain > 0.3,
            "{}",
            r.output_gain
        );
        // Trimmed, plus 50 ms.
        assert_eq!(r.samples.len(), (2000 + 50) * PER_MS);
        let loud = ReferenceAudio::from_samples(&tone(2000, 0.5), 24_000, 1).unwrap();
        assert_eq!(loud.output_gain, 1.0);
        assert_eq!(loud.frames(), loud.samples.len() / 256);
    }

    #[test]
    fn silence_nan_and_bad_rates_are_errors() {
        for (x, rate, ch) in [
            (silence(1000), 24_000, 1),
            (vec![], 24_000, 1),
            (vec![f32::NAN; 100], 24_000, 1),
            (tone(100, 0.3), 4000, 1),
            (tone(100, 0.3), 192_000, 1),
            (tone(100, 0.3), 24_000, 0),
        ] {
            match ReferenceAudio::from_samples(&x, rate, ch) {
                Err(Error::ReferenceAudio(_)) => {}
                other => panic!("{rate} Hz x{ch}: {other:?}"),
            }
        }
    }
}
