//! Reading a Piper `.onnx` export: the protobuf, and the mapping of every
//! initializer back to the PyTorch module parameter it came from.
//!
//! Only the parts of `onnx.proto3` that a weight loader needs are declared
//! (prost skips unknown fields), with the upstream field numbers.
//!
//! The exporter (torch 2.0, opset 15) renamed some parameters; they are
//! recovered from the graph node that consumes them (`/flow/flows.6/enc/
//! in_layers.0/Conv`, input slot 1 = weight, 2 = bias; `Gather` slot 0 =
//! embedding table):
//! - `sid` [n_vocab, hidden] is `enc_p.emb.weight` (an unused input name was
//!   given to the first parameter of every single-speaker export);
//! - `onnx::Conv_NNNN` are the flow's WaveNet convs with weight norm folded;
//! - `/dp/flows.0/Exp_output_0` is `exp(-dp.flows.0.logs)`, a parameter that
//!   was constant-folded.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};

use crate::{Error, Result};

/// `onnx.ModelProto` (subset).
#[derive(Clone, PartialEq, prost::Message)]
pub struct ModelProto {
    /// IR version of the file format.
    #[prost(int64, tag = "1")]
    pub ir_version: i64,
    /// Tool that wrote the file (`pytorch`).
    #[prost(string, tag = "2")]
    pub producer_name: String,
    /// Version of that tool.
    #[prost(string, tag = "3")]
    pub producer_version: String,
    /// The graph.
    #[prost(message, optional, tag = "7")]
    pub graph: Option<GraphProto>,
}

/// `onnx.GraphProto` (subset).
#[derive(Clone, PartialEq, prost::Message)]
pub struct GraphProto {
    /// Nodes in topological order.
    #[prost(message, repeated, tag = "1")]
    pub node: Vec<NodeProto>,
    /// Graph name.
    #[prost(string, tag = "2")]
    pub name: String,
    /// Constant tensors: the weights.
    #[prost(message, repeated, tag = "5")]
    pub initializer: Vec<TensorProto>,
    /// Graph inputs.
    #[prost(message, repeated, tag = "11")]
    pub input: Vec<ValueInfoProto>,
    /// Graph outputs.
    #[prost(message, repeated, tag = "12")]
    pub output: Vec<ValueInfoProto>,
}

/// `onnx.ValueInfoProto` (name only).
#[derive(Clone, PartialEq, prost::Message)]
pub struct ValueInfoProto {
    /// Value name.
    #[prost(string, tag = "1")]
    pub name: String,
}

/// `onnx.NodeProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct NodeProto {
    /// Input value names.
    #[prost(string, repeated, tag = "1")]
    pub input: Vec<String>,
    /// Output value names.
    #[prost(string, repeated, tag = "2")]
    pub output: Vec<String>,
    /// Node name; the exporter writes the module path (`/dec/ups.0/ConvTranspose`).
    #[prost(string, tag = "3")]
    pub name: String,
    /// Operator (`Conv`, `Gather`, …).
    #[prost(string, tag = "4")]
    pub op_type: String,
    /// Attributes (`dilations`, `pads`, …).
    #[prost(message, repeated, tag = "5")]
    pub attribute: Vec<AttributeProto>,
}

/// `onnx.AttributeProto` (the scalar and list forms).
#[derive(Clone, PartialEq, prost::Message)]
pub struct AttributeProto {
    /// Attribute name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Float value.
    #[prost(float, tag = "2")]
    pub f: f32,
    /// Integer value.
    #[prost(int64, tag = "3")]
    pub i: i64,
    /// Integer list value.
    #[prost(int64, repeated, tag = "8")]
    pub ints: Vec<i64>,
}

/// `onnx.TensorProto` (dense, in-file data).
#[derive(Clone, PartialEq, prost::Message)]
pub struct TensorProto {
    /// Shape.
    #[prost(int64, repeated, tag = "1")]
    pub dims: Vec<i64>,
    /// Element type (`TensorProto.DataType`).
    #[prost(int32, tag = "2")]
    pub data_type: i32,
    /// Typed float storage (used when `raw_data` is empty).
    #[prost(float, repeated, tag = "4")]
    pub float_data: Vec<f32>,
    /// Typed int64 storage.
    #[prost(int64, repeated, tag = "7")]
    pub int64_data: Vec<i64>,
    /// Tensor name.
    #[prost(string, tag = "8")]
    pub name: String,
    /// Little-endian packed data.
    #[prost(bytes = "bytes", tag = "9")]
    pub raw_data: bytes::Bytes,
    /// Typed double storage.
    #[prost(double, repeated, tag = "10")]
    pub double_data: Vec<f64>,
    /// 1 when the data lives in an external file.
    #[prost(int32, tag = "14")]
    pub data_location: i32,
}

const DT_FLOAT: i32 = 1;
const DT_INT64: i32 = 7;
const DT_FLOAT16: i32 = 10;
const DT_DOUBLE: i32 = 11;

/// Attributes of one `Conv` / `ConvTranspose` node, keyed by module path.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConvAttrs {
    /// `dilations` (first spatial axis).
    pub dilation: Option<usize>,
    /// `strides` (first spatial axis).
    pub stride: Option<usize>,
    /// Left padding (`pads[0]`).
    pub padding: Option<usize>,
    /// `group`.
    pub groups: Option<usize>,
}

/// Every parameter of a Piper export under its PyTorch name, plus the
/// convolution attributes found in the graph.
#[derive(Debug)]
pub struct PiperWeights {
    /// Parameters by upstream name (`dec.ups.0.weight`, …), f32.
    pub tensors: HashMap<String, Tensor>,
    /// Convolution attributes by module path (`dec.resblocks.0.convs.1`).
    pub conv_attrs: HashMap<String, ConvAttrs>,
    /// Names of the graph inputs (`input`, `input_lengths`, `scales`, `sid`).
    pub graph_inputs: Vec<String>,
}

impl PiperWeights {
    /// Reads and maps the weights of the `.onnx` file at `path`.
    pub fn load(path: &Path, device: &Device) -> Result<Self> {
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        // SAFETY: the map is read-only and dropped before this function
        // returns; a concurrent truncation of the file by another process
        // could fault, the same risk every mmap-based model loader accepts.
        let mmap = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
        // decoding from a `Bytes` over the map keeps every `raw_data` a
        // zero-copy slice of the file: the weights are copied once, into tensors
        Self::decode(bytes::Bytes::from_owner(mmap), device).map_err(|e| match e {
            LoadError::Format(reason) => Error::OnnxFormat {
                path: path.to_owned(),
                reason,
            },
            LoadError::NotPiper(reason) => Error::NotPiperVoice {
                path: path.to_owned(),
                reason,
            },
            LoadError::Model(e) => Error::Model(e),
        })
    }

    /// Maps the weights of an ONNX file already in memory.
    pub fn from_bytes(bytes: &[u8], device: &Device) -> Result<Self, LoadError> {
        Self::decode(bytes::Bytes::copy_from_slice(bytes), device)
    }

    fn decode(bytes: bytes::Bytes, device: &Device) -> Result<Self, LoadError> {
        use prost::Message;
        if bytes.is_empty() {
            return Err(LoadError::Format("the file is empty".into()));
        }
        let model = ModelProto::decode(bytes).map_err(|e| {
            LoadError::Format(format!(
                "protobuf decoding failed ({e}); the file is corrupt or truncated"
            ))
        })?;
        let graph = model.graph.ok_or_else(|| {
            LoadError::Format("no graph in the file; the file is corrupt or truncated".into())
        })?;
        map_graph(graph, device)
    }
}

/// Why a byte buffer could not be mapped to Piper weights.
#[derive(Debug)]
pub enum LoadError {
    /// Not a decodable ONNX protobuf.
    Format(String),
    /// Valid ONNX, but not a Piper VITS export.
    NotPiper(String),
    /// Tensor creation failed.
    Model(candle_core::Error),
}

impl From<candle_core::Error> for LoadError {
    fn from(e: candle_core::Error) -> Self {
        LoadError::Model(e)
    }
}

/// Top-level modules of a VITS generator; a name under one of these is
/// already the PyTorch parameter name.
const MODULE_ROOTS: [&str; 5] = ["enc_p.", "dp.", "flow.", "dec.", "emb_g."];

/// Module path from an exporter node name: `/flow/flows.6/enc/in_layers.0/Conv`
/// -> `flow.flows.6.enc.in_layers.0`.
fn module_path(node_name: &str) -> Option<String> {
    let parts: Vec<&str> = node_name.trim_start_matches('/').split('/').collect();
    if parts.len() < 2 {
        return None;
    }
    Some(parts[..parts.len() - 1].join("."))
}

fn map_graph(graph: GraphProto, device: &Device) -> Result<PiperWeights, LoadError> {
    // consumer (node, input slot) of every value, first one wins
    let mut consumer: HashMap<&str, (&NodeProto, usize)> = HashMap::new();
    let mut conv_attrs = HashMap::new();
    for node in &graph.node {
        for (slot, input) in node.input.iter().enumerate() {
            consumer.entry(input.as_str()).or_insert((node, slot));
        }
        if node.op_type == "Conv" || node.op_type == "ConvTranspose" {
            if let Some(path) = module_path(&node.name) {
                conv_attrs.insert(path, conv_attributes(node));
            }
        }
    }

    let mut tensors = HashMap::new();
    let mut weight_norm_g = HashMap::new();
    let mut weight_norm_v = HashMap::new();
    for init in &graph.initializer {
        let name = init.name.as_str();
        let target = if MODULE_ROOTS.iter().any(|r| name.starts_with(r)) {
            Some(name.to_string())
        } else if let Some((node, slot)) = consumer.get(name) {
            renamed_parameter(name, node, *slot)
        } else {
            None
        };
        let Some(target) = target else {
            continue; // a folded constant of the graph, not a parameter
        };
        if target == "dp.flows.0.logs" {
            // stored as exp(-logs)
            let t = tensor_from_proto(init, device)?;
            let logs = t.to_dtype(DType::F64)?.log()?.neg()?.to_dtype(DType::F32)?;
            tensors.insert(target, logs);
            continue;
        }
        let t = tensor_from_proto(init, device)?;
        if let Some(base) = target.strip_suffix(".weight_g") {
            weight_norm_g.insert(base.to_string(), t);
        } else if let Some(base) = target.strip_suffix(".weight_v") {
            weight_norm_v.insert(base.to_string(), t);
        } else {
            tensors.insert(target, t);
        }
    }
    // exports that kept weight norm unfolded: weight = g * v / ||v||
    for (base, v) in weight_norm_v {
        let g = weight_norm_g.remove(&base).ok_or_else(|| {
            LoadError::NotPiper(format!("{base}.weight_v has no matching weight_g"))
        })?;
        let norm = v.sqr()?.sum_keepdim(1)?.sum_keepdim(2)?.sqrt()?;
        let w = v.broadcast_mul(&g.broadcast_div(&norm)?)?;
        tensors.insert(format!("{base}.weight"), w);
    }

    let graph_inputs: Vec<String> = graph.input.iter().map(|i| i.name.clone()).collect();
    let missing: Vec<&str> = [
        "enc_p.emb.weight",
        "enc_p.proj.weight",
        "dec.conv_pre.weight",
    ]
    .into_iter()
    .filter(|n| !tensors.contains_key(*n))
    .collect();
    if !missing.is_empty() || !graph_inputs.iter().any(|i| i == "input") {
        let mut what = Vec::new();
        if !graph_inputs.iter().any(|i| i == "input") {
            what.push("graph input `input`".to_string());
        }
        what.extend(missing.iter().map(|m| format!("parameter `{m}`")));
        return Err(LoadError::NotPiper(format!("missing {}", what.join(", "))));
    }
    Ok(PiperWeights {
        tensors,
        conv_attrs,
        graph_inputs,
    })
}

/// The PyTorch name of an initializer the exporter renamed, from its consumer.
fn renamed_parameter(name: &str, node: &NodeProto, slot: usize) -> Option<String> {
    if name == "/dp/flows.0/Exp_output_0"
        || (node.name == "/dp/flows.0/Mul" && name.ends_with("Exp_output_0"))
    {
        return Some("dp.flows.0.logs".into());
    }
    let path = module_path(&node.name)?;
    if !MODULE_ROOTS
        .iter()
        .any(|r| format!("{path}.").starts_with(r))
    {
        return None;
    }
    match (node.op_type.as_str(), slot) {
        ("Conv" | "ConvTranspose", 1) => Some(format!("{path}.weight")),
        ("Conv" | "ConvTranspose", 2) => Some(format!("{path}.bias")),
        ("Gather", 0) => Some(format!("{path}.weight")),
        _ => None,
    }
}

fn conv_attributes(node: &NodeProto) -> ConvAttrs {
    let mut a = ConvAttrs::default();
    for attr in &node.attribute {
        let first = attr.ints.first().map(|&v| v.max(0) as usize);
        match attr.name.as_str() {
            "dilations" => a.dilation = first,
            "strides" => a.stride = first,
            "pads" => a.padding = first,
            "group" => a.groups = Some(attr.i.max(1) as usize),
            _ => {}
        }
    }
    a
}

/// Converts an initializer to an f32 tensor.
fn tensor_from_proto(t: &TensorProto, device: &Device) -> Result<Tensor, LoadError> {
    let name = &t.name;
    if t.data_location == 1 {
        return Err(LoadError::NotPiper(format!(
            "tensor `{name}` stores its data in an external file, which Piper voices never do"
        )));
    }
    let dims: Vec<usize> = t
        .dims
        .iter()
        .map(|&d| usize::try_from(d))
        .collect::<Result<_, _>>()
        .map_err(|_| LoadError::Format(format!("tensor `{name}` has a negative dimension")))?;
    // Checked: the dimensions come from the file, and a product that wraps
    // around could match a short buffer (found by fuzzing).
    let numel = dims
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .filter(|&n| n <= isize::MAX as usize / 8)
        .ok_or_else(|| {
            LoadError::Format(format!(
                "tensor `{name}` has shape {dims:?}, more elements than memory can hold; \
                 the file is corrupt"
            ))
        })?;
    let raw = &t.raw_data;
    let data: Vec<f32> = match t.data_type {
        DT_FLOAT if !raw.is_empty() => {
            check_len(name, raw.len(), numel * 4)?;
            raw.chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        }
        DT_FLOAT => t.float_data.clone(),
        DT_FLOAT16 if !raw.is_empty() => {
            check_len(name, raw.len(), numel * 2)?;
            raw.chunks_exact(2)
                .map(|c| half_to_f32(u16::from_le_bytes([c[0], c[1]])))
                .collect()
        }
        DT_DOUBLE if !raw.is_empty() => {
            check_len(name, raw.len(), numel * 8)?;
            raw.chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")) as f32)
                .collect()
        }
        DT_DOUBLE => t.double_data.iter().map(|&v| v as f32).collect(),
        DT_INT64 if !raw.is_empty() => {
            check_len(name, raw.len(), numel * 8)?;
            raw.chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")) as f32)
                .collect()
        }
        DT_INT64 => t.int64_data.iter().map(|&v| v as f32).collect(),
        other => {
            return Err(LoadError::NotPiper(format!(
                "tensor `{name}` has unsupported element type {other}"
            )))
        }
    };
    check_len(name, data.len(), numel)?;
    Ok(Tensor::from_vec(data, dims, device)?)
}

fn check_len(name: &str, got: usize, want: usize) -> Result<(), LoadError> {
    if got != want {
        return Err(LoadError::Format(format!(
            "tensor `{name}` holds {got} values/bytes where its shape needs {want}; the file is truncated or corrupt"
        )));
    }
    Ok(())
}

/// IEEE half to f32 (exact).
fn half_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) as u32) << 31;
    let exp = ((h >> 10) & 0x1f) as u32;
    let frac = (h & 0x3ff) as u32;
    let bits = match (exp, frac) {
        (0, 0) => sign,
        (0, _) => {
            // subnormal: renormalize
            let mut e = 127 - 15 + 1;
            let mut f = frac;
            while f & 0x400 == 0 {
                f <<= 1;
                e -= 1;
            }
            sign | (e << 23) | ((f & 0x3ff) << 13)
        }
        (0x1f, _) => sign | 0x7f80_0000 | (frac << 13),
        _ => sign | ((exp + 127 - 15) << 23) | (frac << 13),
    };
    f32::from_bits(bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Dimensions whose product wraps around to the buffer's length are
    /// corrupt, not a tensor (found by fuzzing: the check compared the
    /// wrapped count).
    #[test]
    fn dimensions_whose_product_overflows_are_refused() {
        let t = TensorProto {
            dims: vec![1 << 32, 1 << 32, 4],
            data_type: DT_FLOAT,
            name: "enc_p.emb.weight".into(),
            ..Default::default()
        };
        match tensor_from_proto(&t, &Device::Cpu) {
            Err(LoadError::Format(m)) => assert!(m.contains("more elements"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn module_paths_follow_node_names() {
        assert_eq!(
            module_path("/flow/flows.6/enc/in_layers.0/Conv").as_deref(),
            Some("flow.flows.6.enc.in_layers.0")
        );
        assert_eq!(
            module_path("/enc_p/emb/Gather").as_deref(),
            Some("enc_p.emb")
        );
        assert_eq!(module_path("Conv_3"), None);
    }

    #[test]
    fn half_floats_convert_exactly() {
        assert_eq!(half_to_f32(0x3c00), 1.0);
        assert_eq!(half_to_f32(0xc000), -2.0);
        assert_eq!(half_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(half_to_f32(0x7bff), 65504.0);
    }

    #[test]
    fn garbage_is_a_format_error() {
        let err =
            PiperWeights::from_bytes(b"\xff\xff\xff\xff not protobuf", &Device::Cpu).unwrap_err();
        assert!(matches!(err, LoadError::Format(_)), "{err:?}");
        let err = PiperWeights::from_bytes(b"", &Device::Cpu).unwrap_err();
        assert!(matches!(err, LoadError::Format(_)), "{err:?}");
    }
}
