//! The vendored espeak-ng build (espeak-rs-sys) finds the system libsonic
//! (libsonic-dev) and compiles against it, but does not link it.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var_os("CARGO_FEATURE_ESPEAK").is_some() {
        println!("cargo:rustc-link-lib=sonic");
    }
}
