//! Sample formats the engine delivers: f32 in `[-1, 1]` or 16-bit PCM.

use super::wav::f32_to_i16;

/// Sample format of delivered audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SampleFormat {
    /// 32-bit float, nominally in `[-1, 1]`.
    #[default]
    F32,
    /// 16-bit signed PCM (converted as piper does, see [`f32_to_i16`]).
    I16,
}

/// Mono samples in one of the [`SampleFormat`]s.
#[derive(Debug, Clone, PartialEq)]
pub enum Samples {
    /// Float samples.
    F32(Vec<f32>),
    /// 16-bit samples.
    I16(Vec<i16>),
}

impl Samples {
    /// No samples, in `format`.
    pub fn empty(format: SampleFormat) -> Samples {
        match format {
            SampleFormat::F32 => Samples::F32(Vec::new()),
            SampleFormat::I16 => Samples::I16(Vec::new()),
        }
    }

    /// Converts float samples into `format` (16-bit via [`f32_to_i16`]).
    pub fn from_f32(samples: Vec<f32>, format: SampleFormat) -> Samples {
        match format {
            SampleFormat::F32 => Samples::F32(samples),
            SampleFormat::I16 => Samples::I16(samples.into_iter().map(f32_to_i16).collect()),
        }
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        match self {
            Samples::F32(v) => v.len(),
            Samples::I16(v) => v.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The format.
    pub fn format(&self) -> SampleFormat {
        match self {
            Samples::F32(_) => SampleFormat::F32,
            Samples::I16(_) => SampleFormat::I16,
        }
    }

    /// Bytes the samples occupy.
    pub fn byte_len(&self) -> usize {
        match self {
            Samples::F32(v) => v.len() * 4,
            Samples::I16(v) => v.len() * 2,
        }
    }

    /// As floats; 16-bit samples are divided by 32767, the inverse of
    /// [`f32_to_i16`]'s scale, so converting back gives the same 16-bit
    /// samples (-32768, which `f32_to_i16` never produces, comes back as
    /// -32767).
    pub fn to_f32(&self) -> Vec<f32> {
        match self {
            Samples::F32(v) => v.clone(),
            Samples::I16(v) => v.iter().map(|&s| s as f32 / 32767.0).collect(),
        }
    }

    /// Appends `other`, converting it to this format if it differs (so
    /// this cannot fail; conversions as in [`Samples::from_f32`] and
    /// [`Samples::to_f32`]).
    pub fn append(&mut self, other: &Samples) {
        match (self, other) {
            (Samples::F32(a), Samples::F32(b)) => a.extend_from_slice(b),
            (Samples::I16(a), Samples::I16(b)) => a.extend_from_slice(b),
            (Samples::F32(a), b @ Samples::I16(_)) => a.extend(b.to_f32()),
            (Samples::I16(a), Samples::F32(b)) => a.extend(b.iter().map(|&x| f32_to_i16(x))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_and_sizes() {
        let s = Samples::from_f32(vec![0.0, 0.5, -1.0], SampleFormat::I16);
        assert_eq!(s, Samples::I16(vec![0, 16383, -32767]));
        assert_eq!(
            (s.len(), s.byte_len(), s.format()),
            (3, 6, SampleFormat::I16)
        );
        let back = s.to_f32();
        assert!((back[1] - 0.5).abs() < 1e-4 && back[2] == -1.0);
        let mut f = Samples::F32(vec![0.25]);
        f.append(&s);
        assert_eq!(f.len(), 4);
        assert_eq!(f.byte_len(), 16);
        let mut i = Samples::I16(vec![]);
        i.append(&Samples::F32(vec![1.0]));
        assert_eq!(i, Samples::I16(vec![32767]));
        assert!(Samples::F32(vec![]).is_empty());
        assert_eq!(Samples::empty(SampleFormat::I16), Samples::I16(vec![]));
        assert_eq!(
            Samples::empty(SampleFormat::F32).format(),
            SampleFormat::F32
        );
    }

    #[test]
    fn i16_to_f32_and_back_is_lossless() {
        let all: Vec<i16> = (-32767..=32767).collect();
        let back = Samples::from_f32(Samples::I16(all.clone()).to_f32(), SampleFormat::I16);
        assert_eq!(back, Samples::I16(all));
        let min = Samples::I16(vec![i16::MIN]).to_f32();
        assert_eq!(
            Samples::from_f32(min, SampleFormat::I16),
            Samples::I16(vec![-32767])
        );
    }
}
