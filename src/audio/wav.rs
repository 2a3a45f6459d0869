//! WAV output via `hound`: files in 16-bit PCM or 32-bit float, and the
//! header for streaming WAV down a pipe.

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
/// and data sizes are `0xFFFFFFFF`, the largest a WAV can state, the
/// usual convention for "until the end of the stream" that streaming
/// readers such as ffmpeg and sox accept. Strict readers may refuse it:
/// hound rejects a data size that is not a whole number of samples (the
/// tests check the header byte by byte, and with hound once the sizes are
/// filled in). Mono; 16-bit PCM (format tag 1), or
/// 32-bit IEEE float as plain format tag 3 with the 16-byte `fmt ` chunk
/// and no `fact` chunk rather than `WAVE_FORMAT_EXTENSIBLE`: ffmpeg, sox,
/// libsndfile and hound all read that, it keeps both headers 44 bytes, and
/// a reader that knows only PCM (Python's `wave`) rejects float either way.
///
/// Follow it with [`samples_to_le_bytes`] of each chunk.
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
/// (hound writes float as `WAVE_FORMAT_EXTENSIBLE` with a float subtype,
/// which every reader that takes float WAV accepts.)
pub struct WavFileWriter {
    inner: hound::WavWriter<std::io::BufWriter<std::fs::File>>,
    format: SampleFormat,
    path: std::path::PathBuf,
}

/// hound's I/O failures as [`Error::Io`] on `path`, the rest as
/// [`Error::Wav`].
fn file_error(path: &Path, e: hound::Error) -> Error {
    match e {
        hound::Error::IoError(io) => Error::io(path, io),
        other => Error::Wav(other),
    }
}

impl WavFileWriter {
    /// Creates (truncates) `path`.
    pub fn create(path: &Path, sample_rate: u32, format: SampleFormat) -> Result<Self> {
        let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
        Self::from_file(file, path, sample_rate, format)
    }

    /// Writes into `file`, already created at `path` (named in errors): a
    /// caller can open the file before the sample rate is known.
    pub fn from_file(
        file: std::fs::File,
        path: &Path,
        sample_rate: u32,
        format: SampleFormat,
    ) -> Result<Self> {
        let spec = match format {
            SampleFormat::I16 => spec(sample_rate),
            SampleFormat::F32 => hound::WavSpec {
                channels: 1,
                sample_rate,
                bits_per_sample: 32,
                sample_format: hound::SampleFormat::Float,
            },
        };
        let inner = hound::WavWriter::new(std::io::BufWriter::new(file), spec)
            .map_err(|e| file_error(path, e))?;
        Ok(Self {
            inner,
            format,
            path: path.to_path_buf(),
        })
    }

    /// The format samples are stored in.
    pub fn format(&self) -> SampleFormat {
        self.format
    }

    /// Appends samples (converted if given in the other format).
    pub fn write(&mut self, samples: &Samples) -> Result<()> {
        if samples.format() != self.format {
            let mut converted = Samples::empty(self.format);
            converted.append(samples);
            return self.write(&converted);
        }
        let written = match samples {
            Samples::I16(v) => v.iter().try_for_each(|&s| self.inner.write_sample(s)),
            Samples::F32(v) => v.iter().try_for_each(|&s| self.inner.write_sample(s)),
        };
        written.map_err(|e| file_error(&self.path, e))
    }

    /// Completes the header.
    pub fn finish(self) -> Result<()> {
        let path = self.path;
        self.inner.finalize().map_err(|e| file_error(&path, e))
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
    fn file_writer_roundtrips_both_formats() {
        let dir = std::env::temp_dir().join(format!("ishowtts-wavf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f.wav");
        let x: Vec<f32> = (0..1000).map(|i| ((i as f32) * 0.01).sin() * 0.9).collect();
        for (format, rate) in [(SampleFormat::F32, 48000), (SampleFormat::I16, 8000)] {
            let mut w = WavFileWriter::create(&path, rate, format).unwrap();
            assert_eq!(w.format(), format);
            let mut want = Samples::empty(format);
            for chunk in [&x[..300], &x[300..300], &x[300..]] {
                let c = Samples::from_f32(chunk.to_vec(), format);
                w.write(&c).unwrap();
                want.append(&c);
            }
            // A chunk in the other format is converted, not rejected.
            let other = match format {
                SampleFormat::F32 => Samples::I16(vec![32767, -16384]),
                SampleFormat::I16 => Samples::F32(vec![1.0, -0.5]),
            };
            w.write(&other).unwrap();
            want.append(&other);
            w.finish().unwrap();
            let r = hound::WavReader::open(&path).unwrap();
            let spec = r.spec();
            assert_eq!((spec.channels, spec.sample_rate), (1, rate));
            assert_eq!(r.len(), 1002);
            let got = match format {
                SampleFormat::F32 => {
                    assert_eq!(
                        (spec.sample_format, spec.bits_per_sample),
                        (hound::SampleFormat::Float, 32)
                    );
                    Samples::F32(r.into_samples().map(|x| x.unwrap()).collect())
                }
                SampleFormat::I16 => {
                    assert_eq!(
                        (spec.sample_format, spec.bits_per_sample),
                        (hound::SampleFormat::Int, 16)
                    );
                    Samples::I16(r.into_samples().map(|x| x.unwrap()).collect())
                }
            };
            assert_eq!(got, want, "{format:?}");
        }
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
            assert_eq!(&h[4..8], &[0xff; 4]);
            assert_eq!(u32::from_le_bytes([h[16], h[17], h[18], h[19]]), 16);
            assert_eq!(u16::from_le_bytes([h[32], h[33]]), bits / 8);
        }
        let bytes = samples_to_le_bytes(&Samples::I16(vec![1, -1]));
        assert_eq!(bytes, vec![1, 0, 0xff, 0xff]);
        let bytes = samples_to_le_bytes(&Samples::F32(vec![1.0]));
        assert_eq!(bytes, 1.0f32.to_le_bytes());
    }

    /// hound reads the streamed header and the samples after it once the
    /// two sizes are filled in (it refuses `0xFFFFFFFF`, an odd number of
    /// data bytes), which checks every other field.
    #[test]
    fn streaming_header_parses_with_hound() {
        let chunks = [vec![0.25f32, -0.5], vec![], vec![0.75]];
        for format in [SampleFormat::I16, SampleFormat::F32] {
            let mut bytes = streaming_wav_header(22050, format);
            let mut sent = Samples::empty(format);
            for c in &chunks {
                let chunk = Samples::from_f32(c.clone(), format);
                bytes.extend(samples_to_le_bytes(&chunk));
                sent.append(&chunk);
            }
            let data = (bytes.len() - 44) as u32;
            bytes[4..8].copy_from_slice(&(data + 36).to_le_bytes());
            bytes[40..44].copy_from_slice(&data.to_le_bytes());
            let r = hound::WavReader::new(std::io::Cursor::new(bytes)).unwrap();
            let spec = r.spec();
            assert_eq!((spec.channels, spec.sample_rate), (1, 22050));
            let got = match format {
                SampleFormat::I16 => {
                    assert_eq!(spec.sample_format, hound::SampleFormat::Int);
                    assert_eq!(spec.bits_per_sample, 16);
                    Samples::I16(r.into_samples().map(|x| x.unwrap()).collect())
                }
                SampleFormat::F32 => {
                    assert_eq!(spec.sample_format, hound::SampleFormat::Float);
                    assert_eq!(spec.bits_per_sample, 32);
                    Samples::F32(r.into_samples().map(|x| x.unwrap()).collect())
                }
            };
            assert_eq!(got, sent);
        }
    }

    #[test]
    fn file_errors_name_the_path() {
        let path = Path::new("/nonexistent-dir/ishowtts/out.wav");
        for format in [SampleFormat::I16, SampleFormat::F32] {
            match WavFileWriter::create(path, 16000, format) {
                Err(Error::Io { path: p, .. }) => assert_eq!(p, path),
                Err(e) => panic!("{e}"),
                Ok(_) => panic!("created {}", path.display()),
            }
        }
    }
}
