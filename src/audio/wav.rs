//! 16-bit PCM WAV output via `hound`.

use std::io::{Seek, Write};
use std::path::Path;

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
}
