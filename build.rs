//! - The vendored espeak-ng build (espeak-rs-sys) finds the system libsonic
//!   (libsonic-dev) and compiles against it, but does not link it.
//! - With the `cuda` feature, our CUDA kernels (`src/nn/cuda/*.cu`) are
//!   compiled to PTX by nvcc (`$CUDA_HOME/bin/nvcc`, else the one on the
//!   PATH; `scripts/build_cuda.sh` provides both) for compute capability
//!   `$CUDA_COMPUTE_CAP` (default 90) and embedded; the driver JIT-compiles
//!   the PTX at first use.
use std::path::PathBuf;
use std::process::Command;

/// The kernels under `src/nn/cuda/`, each to `$OUT_DIR/<name>.ptx`.
const KERNELS: &[&str] = &["attention"];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var_os("CARGO_FEATURE_ESPEAK").is_some() {
        println!("cargo:rustc-link-lib=sonic");
    }
    if std::env::var_os("CARGO_FEATURE_CUDA").is_some() {
        compile_kernels();
    }
}

fn compile_kernels() {
    println!("cargo:rerun-if-env-changed=CUDA_COMPUTE_CAP");
    println!("cargo:rerun-if-env-changed=CUDA_HOME");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let nvcc = std::env::var_os("CUDA_HOME")
        .map(|h| PathBuf::from(h).join("bin/nvcc"))
        .filter(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("nvcc"));
    let cap = std::env::var("CUDA_COMPUTE_CAP").unwrap_or_else(|_| "90".into());
    for name in KERNELS {
        let src = format!("src/nn/cuda/{name}.cu");
        println!("cargo:rerun-if-changed={src}");
        let status = Command::new(&nvcc)
            .args(["--ptx", "-O3", "-std=c++17"])
            .arg(format!("-arch=compute_{cap}"))
            .arg("-o")
            .arg(out.join(format!("{name}.ptx")))
            .arg(&src)
            .status()
            .unwrap_or_else(|e| panic!("cannot run {} for {src}: {e}", nvcc.display()));
        assert!(status.success(), "nvcc failed on {src}");
    }
}
