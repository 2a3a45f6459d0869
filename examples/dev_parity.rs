//! Development check: run the generator on ids from a JSON file and compare
//! with reference waveforms. Usage: dev_parity MODEL.onnx DIR
use candle_core::{DType, Device};
use candle_nn::VarBuilder;
use ishowtts::models::piper::{onnx::PiperWeights, ModelConfig, Scales, Synthesizer};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .init();
    let dev = Device::Cpu;
    let t0 = std::time::Instant::now();
    let w = PiperWeights::load(args[1].as_ref(), &dev)?;
    let cfg = ModelConfig::from_weights(&w).map_err(anyhow::Error::msg)?;
    println!("{cfg:?}");
    let vb = VarBuilder::from_tensors(w.tensors, DType::F32, &dev);
    let model = Synthesizer::new(&cfg, vb)?;
    println!("load {:?}", t0.elapsed());
    let dir = std::path::Path::new(&args[2]);
    let refs: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("ref.json"))?)?;
    let scales = Scales {
        noise_scale: 0.0,
        length_scale: 1.0,
        noise_w: 0.0,
    };
    let mut rng = rand::rng();
    for (i, r) in refs.as_array().unwrap().iter().enumerate() {
        let ids: Vec<i64> = r["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect();
        let bytes = std::fs::read(dir.join(format!("w{i}.f32")))?;
        let want: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        let t = std::time::Instant::now();
        let got = model.infer(&[&ids], &[0], scales, &mut rng)?.pop().unwrap();
        let el = t.elapsed();
        let n = got.len().min(want.len());
        let maxdiff = (0..n)
            .map(|k| (got[k] - want[k]).abs())
            .fold(0f32, f32::max);
        println!(
            "{i}: len got {} want {} maxdiff {maxdiff:e} time {:?} rtf {:.3}",
            got.len(),
            want.len(),
            el,
            el.as_secs_f64() / (got.len() as f64 / 22050.0)
        );
    }
    Ok(())
}
