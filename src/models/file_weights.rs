//! Weights read from a safetensors file one tensor at a time, straight into
//! the tensor's own buffer.
//!
//! candle's memory-mapped loader copies each tensor out of the mapping, and
//! the mapped pages it touched stay resident until the whole file is
//! unmapped: loading a 3.6 GB checkpoint peaked at twice that. Read here,
//! the peak is the model itself.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use candle_core::{DType, Device, Shape, Tensor, WithDType};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::{Init, VarBuilder};

use crate::{Error, Result};

/// Where one tensor is in the file.
#[derive(Debug, Clone)]
struct Entry {
    dtype: DType,
    shape: Vec<usize>,
    /// Byte range in the file.
    start: u64,
    len: usize,
}

/// A safetensors file's index, and the file to read tensors from.
#[derive(Debug)]
pub struct FileWeights {
    path: PathBuf,
    file: Mutex<File>,
    entries: HashMap<String, Entry>,
}

/// Longest header accepted (safetensors' own limit).
const MAX_HEADER: u64 = 100_000_000;

impl FileWeights {
    /// Reads the header of `path`; a file that is not safetensors is an
    /// error naming it.
    pub fn open(path: &Path) -> Result<Self> {
        let bad = |reason: String| Error::ModelFile {
            path: path.to_path_buf(),
            reason,
        };
        let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
        let size = file.metadata().map_err(|e| Error::io(path, e))?.len();
        let mut n = [0u8; 8];
        file.read_exact(&mut n)
            .map_err(|_| bad("not a safetensors file (shorter than its header)".into()))?;
        let n = u64::from_le_bytes(n);
        if n > MAX_HEADER || 8 + n > size {
            return Err(bad(format!(
                "not a safetensors file (a {n}-byte header in {size} bytes)"
            )));
        }
        let mut header = vec![0u8; n as usize];
        file.read_exact(&mut header)
            .map_err(|e| Error::io(path, e))?;
        let header: HashMap<String, serde_json::Value> = serde_json::from_slice(&header)
            .map_err(|e| bad(format!("the safetensors header is not JSON: {e}")))?;
        let data = 8 + n;
        let mut entries = HashMap::new();
        for (name, v) in header {
            if name == "__metadata__" {
                continue;
            }
            let dtype = match v["dtype"].as_str() {
                Some("F32") => DType::F32,
                Some("F16") => DType::F16,
                Some("BF16") => DType::BF16,
                Some("F64") => DType::F64,
                Some("U8") => DType::U8,
                Some("U32") => DType::U32,
                Some("I64") => DType::I64,
                other => return Err(bad(format!("tensor {name}: unsupported dtype {other:?}"))),
            };
            let shape: Option<Vec<usize>> = v["shape"]
                .as_array()
                .and_then(|a| a.iter().map(|d| d.as_u64().map(|d| d as usize)).collect());
            let offsets: Option<Vec<u64>> = v["data_offsets"]
                .as_array()
                .and_then(|a| a.iter().map(serde_json::Value::as_u64).collect());
            let (Some(shape), Some([begin, end])) = (shape, offsets.as_deref()) else {
                return Err(bad(format!("tensor {name}: no shape or data offsets")));
            };
            let len = end.saturating_sub(*begin);
            // Checked: shape and offsets come from the file, and arithmetic
            // that wraps around could pass the comparison below.
            let want = shape
                .iter()
                .try_fold(dtype.size_in_bytes(), |n, &d| n.checked_mul(d))
                .and_then(|n| u64::try_from(n).ok());
            if end < begin || want != Some(len) || data.checked_add(*end).is_none_or(|e| e > size) {
                return Err(bad(format!(
                    "tensor {name}: {len} bytes at {begin}..{end} for shape {shape:?} {dtype:?} \
                     in a {size}-byte file"
                )));
            }
            entries.insert(
                name,
                Entry {
                    dtype,
                    shape,
                    start: data + begin,
                    len: len as usize, // equal to `want`, a usize
                },
            );
        }
        Ok(Self {
            path: path.to_path_buf(),
            file: Mutex::new(file),
            entries,
        })
    }

    /// The names of the tensors in the file, in no particular order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// A `VarBuilder` reading these weights, converted to `dtype` on
    /// `device`.
    pub fn into_var_builder(self, dtype: DType, device: &Device) -> VarBuilder<'static> {
        VarBuilder::from_backend(Box::new(self), dtype, device.clone())
    }

    /// Tensor `name` as stored, on the CPU.
    fn read(&self, name: &str) -> candle_core::Result<Tensor> {
        let e = self.entries.get(name).ok_or_else(|| {
            candle_core::Error::CannotFindTensor {
                path: name.to_string(),
            }
            .bt()
        })?;
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        file.seek(SeekFrom::Start(e.start))?;
        match e.dtype {
            DType::F32 => read_vec::<f32>(&mut file, e),
            DType::F16 => read_vec::<half::f16>(&mut file, e),
            DType::BF16 => read_vec::<half::bf16>(&mut file, e),
            DType::F64 => read_vec::<f64>(&mut file, e),
            DType::U8 => read_vec::<u8>(&mut file, e),
            DType::U32 => read_vec::<u32>(&mut file, e),
            DType::I64 => read_vec::<i64>(&mut file, e),
            other => candle_core::bail!("{}: unsupported dtype {other:?}", self.path.display()),
        }
    }
}

/// Reads `e`'s bytes straight into a `Vec<T>` that becomes the tensor.
fn read_vec<T: WithDType>(file: &mut File, e: &Entry) -> candle_core::Result<Tensor> {
    let n = e.len / std::mem::size_of::<T>();
    let mut v: Vec<T> = vec![T::zero(); n];
    // SAFETY: `v` holds `n` plain numbers (no padding, every bit pattern
    // valid), `e.len` bytes in all; the file's bytes are little-endian as
    // the host's.
    let bytes = unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr().cast::<u8>(), e.len) };
    file.read_exact(bytes)?;
    Tensor::from_vec(v, e.shape.as_slice(), &Device::Cpu)
}

impl SimpleBackend for FileWeights {
    fn get(
        &self,
        s: Shape,
        name: &str,
        _: Init,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        let t = self.get_unchecked(name, dtype, dev)?;
        if t.shape() != &s {
            return Err(candle_core::Error::UnexpectedShape {
                msg: format!("shape mismatch for {name}"),
                expected: s,
                got: t.shape().clone(),
            }
            .bt());
        }
        Ok(t)
    }

    fn get_unchecked(&self, name: &str, dtype: DType, dev: &Device) -> candle_core::Result<Tensor> {
        self.read(name)?.to_dtype(dtype)?.to_device(dev)
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.entries.contains_key(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A shape whose size in bytes wraps around to the offsets' length is
    /// refused, not read as an empty tensor of absurd shape.
    #[test]
    fn shapes_whose_size_overflows_are_refused() {
        let dir = std::env::temp_dir().join(format!("file-weights-ovf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("w.safetensors");
        let header =
            br#"{"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,0]}}"#;
        let mut file = (header.len() as u64).to_le_bytes().to_vec();
        file.extend_from_slice(header);
        std::fs::write(&path, &file).unwrap();
        let e = FileWeights::open(&path).unwrap_err().to_string();
        assert!(e.contains("tensor a"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn reads_what_candle_writes() {
        let dir = std::env::temp_dir().join(format!("file-weights-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("w.safetensors");
        let a = Tensor::arange(0f32, 12., &Device::Cpu)
            .unwrap()
            .reshape((3, 4))
            .unwrap();
        let b = Tensor::new(&[1u32, 2, 3], &Device::Cpu).unwrap();
        let c = a.to_dtype(DType::BF16).unwrap();
        let tensors: HashMap<String, Tensor> = [("a", &a), ("b", &b), ("c", &c)]
            .into_iter()
            .map(|(k, t)| (k.to_string(), t.clone()))
            .collect();
        candle_core::safetensors::save(&tensors, &path).unwrap();

        let vb = FileWeights::open(&path)
            .unwrap()
            .into_var_builder(DType::F32, &Device::Cpu);
        let got = vb.get((3, 4), "a").unwrap();
        assert_eq!(got.to_vec2::<f32>().unwrap(), a.to_vec2::<f32>().unwrap());
        let got = vb.get_unchecked_dtype("b", DType::U32).unwrap();
        assert_eq!(got.to_vec1::<u32>().unwrap(), vec![1, 2, 3]);
        // stored bf16, asked for f32
        let got = vb.get((3, 4), "c").unwrap();
        assert_eq!(got.dtype(), DType::F32);
        assert_eq!(got.to_vec2::<f32>().unwrap(), a.to_vec2::<f32>().unwrap());
        assert!(vb.contains_tensor("a") && !vb.contains_tensor("d"));
        let e = vb.get((4, 3), "a").unwrap_err().to_string();
        assert!(e.contains("shape mismatch for a"), "{e}");
        assert!(vb.get(3, "d").is_err());

        std::fs::write(
            dir.join("bad.safetensors"),
            b"\xff\xff\xff\xff\xff\xff\xff\x7f",
        )
        .unwrap();
        let e = FileWeights::open(&dir.join("bad.safetensors")).unwrap_err();
        assert!(e.to_string().contains("not a safetensors file"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
