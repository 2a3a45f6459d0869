//! Finding espeak-ng's compiled data (`phontab`, `*_dict`, `voices/`, …).
//!
//! The data is compiled by the vendored espeak-ng build (the
//! `compile-espeak-intonations` feature of `espeak-rs-sys`) into that
//! crate's build directory; the set-up script copies it into the models
//! directory. A program run from a cargo target directory (tests,
//! `cargo run`) finds the build output itself, so no step is manual.

use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// Env var naming the espeak-ng data directory.
pub const ESPEAK_DATA_ENV: &str = "ISHOWTTS_ESPEAK_DATA";

fn is_data_dir(p: &Path) -> bool {
    p.join("phontab").is_file() && p.join("phondata").is_file()
}

/// The espeak-ng data directory, searched in this order: `explicit`,
/// `$ISHOWTTS_ESPEAK_DATA`, `espeak-ng-data` in each models directory
/// ([`crate::paths::models_dirs`]), then the vendored build's output in a
/// cargo target directory above the running executable.
pub fn find_espeak_data(explicit: Option<&Path>) -> Result<PathBuf> {
    let mut searched = Vec::new();
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(p) = explicit {
        candidates.push(p.to_owned());
    }
    if let Some(p) = std::env::var_os(ESPEAK_DATA_ENV) {
        candidates.push(PathBuf::from(p));
    }
    candidates.extend(
        crate::paths::models_dirs()
            .into_iter()
            .map(|d| d.join("espeak-ng-data")),
    );
    for c in candidates {
        if is_data_dir(&c) {
            return Ok(c);
        }
        searched.push(c.display().to_string());
    }
    if let Ok(exe) = std::env::current_exe() {
        // target/<profile>/{ishowtts, deps/test-binary, examples/x}
        for dir in exe.ancestors().skip(1).take(3) {
            let build = dir.join("build");
            if let Some(found) = newest_build_output(&build) {
                return Ok(found);
            }
            searched.push(format!(
                "{}/espeak-rs-sys-*/out/share/espeak-ng-data",
                build.display()
            ));
        }
    }
    Err(Error::Phonemizer(format!(
        "espeak-ng data not found (searched: {}); run scripts/setup.sh or set {ESPEAK_DATA_ENV} \
         to a directory containing phontab",
        searched.join(", ")
    )))
}

/// The most recently built `espeak-rs-sys-*/out/share/espeak-ng-data` under
/// a cargo `build/` directory.
fn newest_build_output(build: &Path) -> Option<PathBuf> {
    let entries = std::fs::read_dir(build).ok()?;
    entries
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("espeak-rs-sys-")
        })
        .map(|e| e.path().join("out/share/espeak-ng-data"))
        .filter(|p| is_data_dir(p))
        .max_by_key(|p| p.join("phontab").metadata().and_then(|m| m.modified()).ok())
}
