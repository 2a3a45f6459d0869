//! Runs a harness on a target's committed inputs, for the test suites.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

/// The seeds (`fuzz/seeds/<target>/`) and past findings
/// (`tests/fixtures/fuzz/<target>/`) of `target`, each through `harness`;
/// fails naming every input that fails.
pub fn run_inputs(target: &str, harness: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // the capi crate's manifest is one folder down
    let root = if root.join("fuzz").is_dir() {
        root
    } else {
        root.parent().unwrap()
    };
    let mut inputs: Vec<PathBuf> = Vec::new();
    for dir in [
        root.join("fuzz/seeds").join(target),
        root.join("tests/fixtures/fuzz").join(target),
    ] {
        if let Ok(entries) = std::fs::read_dir(&dir) {
            inputs.extend(entries.map(|e| e.unwrap().path()));
        }
    }
    inputs.sort();
    assert!(!inputs.is_empty(), "no seeds for fuzz target {target}");
    let failed: Vec<String> = inputs
        .iter()
        .filter(|path| {
            let bytes = std::fs::read(path).unwrap();
            catch_unwind(AssertUnwindSafe(|| harness(&bytes))).is_err()
        })
        .map(|p| p.display().to_string())
        .collect();
    assert!(failed.is_empty(), "{target}: failing inputs {failed:#?}");
}
