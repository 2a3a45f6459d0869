//! The audio encodings served: WAV and raw PCM as they are, MP3 through
//! LAME (`mp3lame-encoder`), each fed chunk by chunk so the first bytes
//! leave with the first sentence.

use ishowtts::audio::format::{SampleFormat, Samples};
use ishowtts::audio::wav::{samples_to_le_bytes, streaming_wav_header};
use mp3lame_encoder::{Bitrate, Builder, FlushNoGap, MonoPcm, Quality};

use crate::error::ApiError;

/// What `response_format` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioFormat {
    /// RIFF WAV, 16-bit PCM.
    Wav,
    /// Raw 16-bit little-endian mono.
    Pcm,
    /// MPEG-1/2 layer III, mono, 64 kbit/s.
    Mp3,
}

/// The formats served, for error messages.
pub const SERVED_FORMATS: &str = "wav, pcm, mp3";

impl AudioFormat {
    /// `response_format` (absent: WAV).
    pub fn parse(s: Option<&str>) -> Result<Self, ApiError> {
        match s.unwrap_or("wav") {
            "wav" => Ok(Self::Wav),
            "pcm" => Ok(Self::Pcm),
            "mp3" => Ok(Self::Mp3),
            other => Err(ApiError::field(
                "unsupported_format",
                "response_format",
                format!("response_format {other:?} is not served; use one of: {SERVED_FORMATS}"),
            )),
        }
    }

    /// The body's `Content-Type`.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Wav => "audio/wav",
            Self::Pcm => "audio/pcm",
            Self::Mp3 => "audio/mpeg",
        }
    }
}

/// Turns a request's chunks into the bytes of its format.
pub enum Encoder {
    /// WAV (a header with unknown sizes first) or raw PCM.
    Pcm { wav_header: Option<Vec<u8>> },
    /// LAME, holding up to a frame of samples between chunks.
    Mp3(Box<mp3lame_encoder::Encoder>),
}

impl Encoder {
    /// An encoder for `rate` Hz mono audio. MP3 takes only the MPEG rates
    /// (8 to 48 kHz); another is a 400 naming them.
    pub fn new(format: AudioFormat, rate: u32) -> Result<Self, ApiError> {
        match format {
            AudioFormat::Wav => Ok(Self::Pcm {
                wav_header: Some(streaming_wav_header(rate, SampleFormat::I16)),
            }),
            AudioFormat::Pcm => Ok(Self::Pcm { wav_header: None }),
            AudioFormat::Mp3 => {
                const MPEG_RATES: [u32; 9] =
                    [8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000];
                if !MPEG_RATES.contains(&rate) {
                    return Err(ApiError::field(
                        "invalid_field",
                        "sample_rate",
                        format!("MP3 takes 8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100 or 48000 Hz, not {rate}"),
                    ));
                }
                let mp3 = Builder::new()
                    .ok_or_else(|| mp3_error("cannot create the MP3 encoder"))?
                    .with_num_channels(1)
                    .and_then(|b| b.with_sample_rate(rate))
                    .and_then(|b| b.with_brate(Bitrate::Kbps64))
                    .and_then(|b| b.with_quality(Quality::Good))
                    .and_then(|b| b.build())
                    .map_err(|e| mp3_error(&format!("MP3 encoder: {e}")))?;
                Ok(Self::Mp3(Box::new(mp3)))
            }
        }
    }

    /// The bytes of one chunk (the WAV header before the first).
    pub fn push(&mut self, samples: &Samples) -> Vec<u8> {
        match self {
            Self::Pcm { wav_header } => {
                let mut out = wav_header.take().unwrap_or_default();
                out.extend_from_slice(&samples_to_le_bytes(samples));
                out
            }
            Self::Mp3(mp3) => {
                let pcm = as_i16(samples);
                let mut out =
                    Vec::with_capacity(mp3lame_encoder::max_required_buffer_size(pcm.len()));
                if let Err(e) = mp3.encode_to_vec(MonoPcm(&pcm[..]), &mut out) {
                    tracing::warn!(error = %e, "MP3 encoding failed");
                }
                out
            }
        }
    }

    /// What the encoder still holds, at the end.
    pub fn finish(&mut self) -> Vec<u8> {
        match self {
            Self::Pcm { wav_header } => wav_header.take().unwrap_or_default(),
            Self::Mp3(mp3) => {
                let mut out = Vec::with_capacity(7200);
                if let Err(e) = mp3.flush_to_vec::<FlushNoGap>(&mut out) {
                    tracing::warn!(error = %e, "MP3 flush failed");
                }
                out
            }
        }
    }
}

fn mp3_error(message: &str) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        message,
    )
}

/// 16-bit samples (the service asks the engine for them; floats are
/// converted should a chunk carry any).
fn as_i16(samples: &Samples) -> std::borrow::Cow<'_, [i16]> {
    match samples {
        Samples::I16(v) => std::borrow::Cow::Borrowed(v),
        Samples::F32(v) => std::borrow::Cow::Owned(
            v.iter()
                .map(|&x| ishowtts::audio::wav::f32_to_i16(x))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mp3_frames_come_out_and_rates_are_checked() {
        let mut e = Encoder::new(AudioFormat::Mp3, 22050).unwrap();
        let tone: Vec<i16> = (0..22050)
            .map(|i| ((i as f32 * 0.05).sin() * 8000.0) as i16)
            .collect();
        let mut bytes = e.push(&Samples::I16(tone));
        bytes.extend(e.finish());
        // an MPEG audio frame sync word, and about 64 kbit/s for 1 s
        assert!(bytes
            .windows(2)
            .any(|w| w[0] == 0xFF && w[1] & 0xE0 == 0xE0));
        assert!(
            (6000..10000).contains(&bytes.len()),
            "{} bytes",
            bytes.len()
        );
        assert!(Encoder::new(AudioFormat::Mp3, 22000).is_err());
        assert_eq!(
            AudioFormat::parse(Some("opus")).unwrap_err().code,
            "unsupported_format"
        );
    }

    #[test]
    fn wav_header_goes_first_once() {
        let mut e = Encoder::new(AudioFormat::Wav, 16000).unwrap();
        let a = e.push(&Samples::I16(vec![1, 2]));
        let b = e.push(&Samples::I16(vec![3]));
        assert_eq!(a.len(), 44 + 4);
        assert_eq!(&a[..4], b"RIFF");
        assert_eq!(b, vec![3, 0]);
        assert!(e.finish().is_empty());
    }
}
