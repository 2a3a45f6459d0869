//! 16-bit PCM WAV output via `hound`.

use std::io::{Seek, Write};
use std::path::Path;

use super::format::{SampleFormat, Samples};
use crate::{Error, Result};

/// Float sample to 16-bit PCM the way piper does (`clip(x * 32767)`,
/// truncated toward zero), so outputs compare sample for sample.
pub fn f32_to_i16(x: f32) -> i16 {
    if x.is_nan() {
        return 0;
    }
    (x * 32767.0).clamp(-32767.0, 32767.0) as i16
}

fn spec(sample_rate: u32) -> hound::WavSpec {
    hound::WavSpec {
        channels: 1,
        sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    }
}

/// Writes mono samples to a 16-bit WAV file.
pub fn write_wav(path: &Path, samples: &[f32], sample_rate: u32) -> Result<()> {
    let mut w = WavStreamWriter::create(path, sample_rate)?;
    w.write(samples)?;
    w.finish()
}

/// Appends sentences to a WAV file as they are produced; the header is
/// fixed up by [`WavStreamWriter::finish`].
pub struct WavStreamWriter<W: Write + Seek> {
    inner: hound::WavWriter<W>,
}

impl WavStreamWriter<std::io::BufWriter<std::fs::File>> {
    /// Creates (truncates) `path`.
    pub fn create(path: &Path, sample_rate: u32) -> Result<Self> {
        let inner = hound::WavWriter::create(path, spec(sample_rate)).map_err(|e| match e {
            hound::Error::IoError(io) => Error::io(path, io),
            other => Error::Wav(other),
        })?;
        Ok(Self { inner })
    }
}

impl<W: Write + Seek> WavStreamWriter<W> {
    /// Wraps any seekable writer.
    pub fn new(writer: W, sample_rate: u32) -> Result<Self> {
        Ok(Self {
            inner: hound::WavWriter::new(writer, spec(sample_rate))?,
        })
    }

    /// Appends samples.
    pub fn write(&mut self, samples: &[f32]) -> Result<()> {
        let mut w = self.inner.get_i16_writer(samples.len() as u32);
        for &s in samples {
            w.write_sample(f32_to_i16(s));
        }
        w.flush()?;
        Ok(())
    }

    /// Writes the final header.
    pub fn finish(self) -> Result<()> {
        self.inner.finalize()?;
        Ok(())
    }
}

/// A 44-byte WAV header for a stream of unknown length (a pipe): the RIFF
/// and data sizes are `0xFFFFFFFF`, the convention ffmpeg, sox and most
/// players read as "until the end of the stream". Mono; 16-bit PCM
/// (format tag 1) or 32-bit IEEE float (format tag 3).
pub fn streaming_wav_header(sample_rate: u32, format: SampleFormat) -> Vec<u8> {
    let (tag, bits): (u16, u16) = match format {
        SampleFormat::I16 => (1, 16),
        SampleFormat::F32 => (3, 32),
    };
    let block_align = bits / 8;
    let mut h = Vec::with_capacity(44);
    h.extend_from_slice(b"RIFF");
    h.extend_from_slice(&u32::MAX.to_le_bytes());
    h.extend_from_slice(b"WAVEfmt ");
    h.extend_from_slice(&16u32.to_le_bytes());
    h.extend_from_slice(&tag.to_le_bytes());
    h.extend_from_slice(&1u16.to_le_bytes()); // channels
    h.extend_from_slice(&sample_rate.to_le_bytes());
    h.extend_from_slice(&(sample_rate * block_align as u32).to_le_bytes());
    h.extend_from_slice(&block_align.to_le_bytes());
    h.extend_from_slice(&bits.to_le_bytes());
    h.extend_from_slice(b"data");
    h.extend_from_slice(&u32::MAX.to_le_bytes());
    h
}

/// Little-endian bytes of `samples`, as they follow a WAV header.
pub fn samples_to_le_bytes(samples: &Samples) -> Vec<u8> {
    match samples {
        Samples::F32(v) => v.iter().flat_map(|s| s.to_le_bytes()).collect(),
        Samples::I16(v) => v.iter().flat_map(|s| s.to_le_bytes()).collect(),
    }
}

/// A WAV file written chunk by chunk in the delivered format (16-bit PCM or
/// 32-bit float); the header is completed by [`WavFileWriter::finish`].
pub struct WavFileWriter {
    inner: hound::WavWriter<std::io::BufWriter<std::fs::File>>,
    format: SampleFormat,
}

impl WavFileWriter {
    /// Creates (truncates) `path`.
    pub fn create(path: &Path, sample_rate: u32, format: SampleFormat) -> Result<Self> {
        let spec = match format {
            SampleFormat::I16 => spec(sample_rate),
            SampleFormat::F32 => hound::WavSpec {
                channels: 1,
                sample_rate,
                bits_per_sample: 32,
                sample_format: hound::SampleFormat::Float,
            },
        };
        let inner = hound::WavWriter::create(path, spec).map_err(|e| match e {
            hound::Error::IoError(io) => Error::io(path, io),
            other => Error::Wav(other),
        })?;
        Ok(Self { inner, format })
    }

    /// Appends samples (converted if given in the other format).
    pub fn write(&mut self, samples: &Samples) -> Result<()> {
        match (self.format, samples) {
            (SampleFormat::I16, Samples::I16(v)) => {
                for &s in v {
                    self.inner.write_sample(s)?;
                }
            }
            (SampleFormat::F32, Samples::F32(v)) => {
                for &s in v {
                    self.inner.write_sample(s)?;
                }
            }
            (format, other) => {
                let mut converted = Samples::from_f32(Vec::new(), format);
                converted.append(other);
                return self.write(&converted);
            }
        }
        Ok(())
    }

    /// Completes the header.
    pub fn finish(self) -> Result<()> {
        self.inner.finalize()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversion_matches_piper() {
        assert_eq!(f32_to_i16(1.5), 32767);
        assert_eq!(f32_to_i16(-1.0), -32767);
        assert_eq!(f32_to_i16(0.99999), 32766);
        assert_eq!(f32_to_i16(-0.00001), 0);
        assert_eq!(f32_to_i16(f32::NAN), 0);
    }

    #[test]
    fn roundtrip_through_a_file() {
        let dir = std::env::temp_dir().join(format!("ishowtts-wav-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.wav");
        let mut w = WavStreamWriter::create(&path, 22050).unwrap();
        w.write(&[0.0, 0.5]).unwrap();
        w.write(&[-0.5]).unwrap();
        w.finish().unwrap();
        let r = hound::WavReader::open(&path).unwrap();
        assert_eq!(r.spec().sample_rate, 22050);
        let s: Vec<i16> = r.into_samples::<i16>().map(|x| x.unwrap()).collect();
        assert_eq!(s, vec![0, 16383, -16383]);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn file_writer_in_both_formats() {
        let dir = std::env::temp_dir().join(format!("ishowtts-wavf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f.wav");
        let mut w = WavFileWriter::create(&path, 16000, SampleFormat::F32).unwrap();
        w.write(&Samples::F32(vec![0.25, -0.5])).unwrap();
        w.write(&Samples::I16(vec![32767])).unwrap();
        w.finish().unwrap();
        let r = hound::WavReader::open(&path).unwrap();
        assert_eq!(r.spec().sample_format, hound::SampleFormat::Float);
        let s: Vec<f32> = r.into_samples::<f32>().map(|x| x.unwrap()).collect();
        assert_eq!(s, vec![0.25, -0.5, 1.0]);
        let mut w = WavFileWriter::create(&path, 8000, SampleFormat::I16).unwrap();
        w.write(&Samples::I16(vec![1, -2])).unwrap();
        w.finish().unwrap();
        let r = hound::WavReader::open(&path).unwrap();
        assert_eq!(r.spec().bits_per_sample, 16);
        assert_eq!(r.len(), 2);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn streaming_header_fields() {
        for (format, tag, bits) in [(SampleFormat::I16, 1u16, 16u16), (SampleFormat::F32, 3, 32)] {
            let h = streaming_wav_header(24000, format);
            assert_eq!(h.len(), 44);
            assert_eq!(&h[0..4], b"RIFF");
            assert_eq!(&h[8..16], b"WAVEfmt ");
            assert_eq!(u16::from_le_bytes([h[20], h[21]]), tag);
            assert_eq!(u16::from_le_bytes([h[22], h[23]]), 1);
            assert_eq!(u32::from_le_bytes([h[24], h[25], h[26], h[27]]), 24000);
            assert_eq!(
                u32::from_le_bytes([h[28], h[29], h[30], h[31]]),
                24000 * bits as u32 / 8
            );
            assert_eq!(u16::from_le_bytes([h[34], h[35]]), bits);
            assert_eq!(&h[36..40], b"data");
            assert_eq!(&h[40..44], &[0xff; 4]);
        }
        let bytes = samples_to_le_bytes(&Samples::I16(vec![1, -1]));
        assert_eq!(bytes, vec![1, 0, 0xff, 0xff]);
    }
}
