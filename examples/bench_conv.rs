//! Micro-benchmark of the convolution shapes of a Piper medium voice on a
//! 3 s utterance (260 frames, 256 samples per frame): candle's op versus
//! the CPU kernels of `ishowtts::nn`, median of several runs.
//!
//! `cargo run --release --no-default-features --example bench_conv [runs]`
//!
//! `ISHOWTTS_CPU_CONV=portable|avx2|avx512` benchmarks another kernel.

use std::time::Instant;

use candle_core::{DType, Device, Module, Result, Tensor};
use ishowtts::nn::cpu_conv::Backend;
use ishowtts::nn::{Conv1d, Conv1dConfig, ConvTranspose1d, ConvTranspose1dConfig};

/// Median wall time of `f` in ms, after one warm-up call.
fn median_ms(runs: usize, f: impl Fn() -> Result<Tensor>) -> Result<f64> {
    f()?;
    let mut v = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        f()?;
        v.push(t.elapsed().as_secs_f64() * 1e3);
    }
    v.sort_by(f64::total_cmp);
    Ok(v[runs / 2])
}

struct Row {
    label: String,
    gflop: f64,
    candle: f64,
    ours: f64,
}

impl Row {
    fn print(&self) {
        println!(
            "| {} | {:.1} | {:.2} | {:.2} | {:.1}x | {:.0} |",
            self.label,
            self.gflop * 1e3,
            self.candle,
            self.ours,
            self.candle / self.ours,
            self.gflop / self.ours * 1e3
        );
    }
}

fn main() -> Result<()> {
    let runs = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(9);
    let dev = Device::Cpu;
    println!(
        "kernels: {:?}, {} threads, median of {runs} runs\n",
        Backend::current(),
        rayon::current_num_threads()
    );
    println!("| shape | MFLOP | candle ms | ishowtts ms | speedup | GFLOP/s |");
    println!("|---|---|---|---|---|---|");
    let frames = 260;
    // (label, c_in, c_out, k, t, dilation, groups); "same" padding
    let mut convs = vec![
        (
            "conv_pre 192->256 k7".to_string(),
            192,
            256,
            7,
            frames,
            1,
            1,
        ),
        ("flow WN 192->384 k5".into(), 192, 384, 5, frames, 1, 1),
        ("flow 1x1 192->384".into(), 192, 384, 1, frames, 1, 1),
        ("text FFN 192->768 k3, T=120".into(), 192, 768, 3, 120, 1, 1),
        ("text FFN 768->192 k3, T=120".into(), 768, 192, 3, 120, 1, 1),
        (
            "dp depthwise 192 k3 d9, T=120".into(),
            192,
            192,
            3,
            120,
            9,
            192,
        ),
    ];
    // ResBlock2 after each upsampling: kernels 3/5/7 with dilations
    // (1, 2), (2, 6), (3, 12)
    for (c, t) in [(128, frames * 8), (64, frames * 64), (32, frames * 256)] {
        for (k, ds) in [(3, [1, 2]), (5, [2, 6]), (7, [3, 12])] {
            for d in ds {
                convs.push((format!("resblock {c}ch k{k} d{d}, T={t}"), c, c, k, t, d, 1));
            }
        }
    }
    convs.push(("conv_post 32->1 k7".into(), 32, 1, 7, frames * 256, 1, 1));

    let mut total = (0.0, 0.0, 0.0);
    for (label, ci, co, k, t, d, groups) in convs {
        let x = Tensor::randn(0f32, 1., (1, ci, t), &dev)?;
        let w = Tensor::randn(0f32, 0.1, (co, ci / groups, k), &dev)?;
        let cfg = Conv1dConfig {
            padding: d * (k - 1) / 2,
            stride: 1,
            dilation: d,
            groups,
            cudnn_fwd_algo: None,
        };
        let conv = Conv1d::from_tensors(w, Some(Tensor::zeros(co, DType::F32, &dev)?), cfg);
        let row = Row {
            gflop: 2.0 * (ci / groups * co * k * t) as f64 * 1e-9,
            candle: median_ms(runs, || conv.forward_candle(&x))?,
            ours: median_ms(runs, || conv.forward(&x))?,
            label,
        };
        if row.label.starts_with("resblock") || row.label.starts_with("conv_") {
            total = (
                total.0 + row.gflop,
                total.1 + row.candle,
                total.2 + row.ours,
            );
        }
        row.print();
    }
    // (label, c_in, c_out, k, t, stride); padding (k - stride) / 2
    let ups = [
        ("ups.0 256->128 k16 s8, T=260", 256, 128, 16, frames, 8),
        ("ups.1 128->64 k16 s8, T=2080", 128, 64, 16, frames * 8, 8),
        ("ups.2 64->32 k8 s4, T=16640", 64, 32, 8, frames * 64, 4),
    ];
    for (label, ci, co, k, t, s) in ups {
        let x = Tensor::randn(0f32, 1., (1, ci, t), &dev)?;
        let w = Tensor::randn(0f32, 0.1, (ci, co, k), &dev)?;
        let cfg = ConvTranspose1dConfig {
            padding: (k - s) / 2,
            output_padding: 0,
            stride: s,
            dilation: 1,
            groups: 1,
        };
        let conv =
            ConvTranspose1d::from_tensors(w, Some(Tensor::zeros(co, DType::F32, &dev)?), cfg);
        let row = Row {
            label: label.into(),
            gflop: 2.0 * (ci * co * k * t) as f64 * 1e-9,
            candle: median_ms(runs, || conv.forward_candle(&x))?,
            ours: median_ms(runs, || conv.forward(&x))?,
        };
        total = (
            total.0 + row.gflop,
            total.1 + row.candle,
            total.2 + row.ours,
        );
        row.print();
    }
    Row {
        label: "**decoder convs, total**".into(),
        gflop: total.0,
        candle: total.1,
        ours: total.2,
    }
    .print();
    Ok(())
}
