//! Micro-benchmark of the convolution shapes of a Piper medium voice (a 3 s
//! utterance, 260 frames): candle's op versus the CPU kernels of
//! `ishowtts::nn`. `cargo run --release --example bench_conv`
use std::time::Instant;

use candle_core::{Device, Module, Tensor};
use ishowtts::nn::{Conv1d, Conv1dConfig, ConvTranspose1d, ConvTranspose1dConfig};

fn time(f: impl Fn() -> Tensor) -> f64 {
    f();
    let mut v: Vec<f64> = (0..5)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[2]
}

fn main() -> candle_core::Result<()> {
    let dev = Device::Cpu;
    println!("| shape | candle ms | ishowtts ms | speedup |");
    println!("|---|---|---|---|");
    // (label, c_in, c_out, k, t, dilation)
    let convs = [
        ("conv_pre 192->256 k7, T=260", 192, 256, 7, 260, 1),
        ("flow WN 192->384 k5, T=260", 192, 384, 5, 260, 1),
        ("flow 1x1 192->384, T=260", 192, 384, 1, 260, 1),
        ("resblock 128ch k3 d2, T=2080", 128, 128, 3, 2080, 2),
        ("resblock 64ch k5 d6, T=16640", 64, 64, 5, 16640, 6),
        ("resblock 32ch k7 d3, T=66560", 32, 32, 7, 66560, 3),
        ("resblock 32ch k7 d12, T=66560", 32, 32, 7, 66560, 12),
        ("conv_post 32->1 k7, T=66560", 32, 1, 7, 66560, 1),
    ];
    for (label, ci, co, k, t, d) in convs {
        let x = Tensor::randn(0f32, 1., (1, ci, t), &dev)?;
        let w = Tensor::randn(0f32, 0.1, (co, ci, k), &dev)?;
        let cfg = Conv1dConfig {
            padding: d * (k - 1) / 2,
            stride: 1,
            dilation: d,
            groups: 1,
            cudnn_fwd_algo: None,
        };
        let conv = Conv1d::from_tensors(
            w,
            Some(Tensor::zeros(co, candle_core::DType::F32, &dev)?),
            cfg,
        );
        let a = time(|| conv.forward_candle(&x).unwrap());
        let b = time(|| conv.forward(&x).unwrap());
        println!("| {label} | {a:.2} | {b:.2} | {:.1}x |", a / b);
    }
    let ups = [
        ("ups.0 256->128 k16 s8, T=260", 256, 128, 16, 260, 8),
        ("ups.1 128->64 k16 s8, T=2080", 128, 64, 16, 2080, 8),
        ("ups.2 64->32 k8 s4, T=16640", 64, 32, 8, 16640, 4),
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
        let conv = ConvTranspose1d::from_tensors(
            w,
            Some(Tensor::zeros(co, candle_core::DType::F32, &dev)?),
            cfg,
        );
        let a = time(|| conv.forward_candle(&x).unwrap());
        let b = time(|| conv.forward(&x).unwrap());
        println!("| {label} | {a:.2} | {b:.2} | {:.1}x |", a / b);
    }
    Ok(())
}
