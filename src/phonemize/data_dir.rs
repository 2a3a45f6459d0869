//! Finding espeak-ng's compiled data (`phontab`, `phondata`, `*_dict`,
//! `voices/`, `lang/`, …).
//!
//! The data is compiled by the vendored espeak-ng build (the
//! `compile-espeak-intonations` feature of `espeak-rs-sys`) into that
//! crate's build directory, `target/<profile>/build/espeak-rs-sys-*/out/
//! share/espeak-ng-data`; the set-up script copies it into the models
//! directory. A program run from a cargo target directory (tests,
//! examples, `cargo run`) finds the build output itself, so no step is
//! manual.

use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// Env var naming the espeak-ng data directory.
pub const ESPEAK_DATA_ENV: &str = "ISHOWTTS_ESPEAK_DATA";

/// Whether `p` holds compiled espeak-ng data. `phontab` and `phondata` are
/// what every voice needs (the dictionaries are per language).
fn is_data_dir(p: &Path) -> bool {
    p.join("phontab").is_file() && p.join("phondata").is_file()
}

/// `p` itself, or its `espeak-ng-data` child, when that holds the data
/// (espeak-ng accepts either form, and users give either).
fn data_dir_at(p: &Path) -> Option<PathBuf> {
    let child = p.join("espeak-ng-data");
    if is_data_dir(&child) {
        Some(child)
    } else if is_data_dir(p) {
        Some(p.to_owned())
    } else {
        None
    }
}

/// The espeak-ng data directory (the one holding `phontab`), searched in
/// this order:
///
/// 1. `explicit`, when given: an error if it holds no data, since the
///    caller asked for exactly that directory;
/// 2. `$ISHOWTTS_ESPEAK_DATA`, likewise an error if set to a directory
///    without data;
/// 3. `espeak-ng-data` in each models directory
///    ([`crate::paths::models_dirs`]: `$ISHOWTTS_MODELS_DIR`, `./models`,
///    `models/` beside the executable or its ancestors, the user's data
///    directory);
/// 4. the vendored build's output in the cargo target directory the
///    running executable lives in (`target/<profile>/build/
///    espeak-rs-sys-*/out/share/espeak-ng-data`, the newest one if there
///    are several).
///
/// A directory given in 1–2 may also be the parent of `espeak-ng-data`.
pub fn find_espeak_data(explicit: Option<&Path>) -> Result<PathBuf> {
    const FIX: &str = "run scripts/setup.sh (it copies the data into models/espeak-ng-data) \
                       or set ISHOWTTS_ESPEAK_DATA to a directory containing phontab";
    if let Some(p) = explicit {
        return data_dir_at(p).ok_or_else(|| {
            Error::Phonemizer(format!(
                "{} is not an espeak-ng data directory (no phontab/phondata in it or in its \
                 espeak-ng-data/)",
                p.display()
            ))
        });
    }
    if let Some(p) = std::env::var_os(ESPEAK_DATA_ENV) {
        let p = PathBuf::from(p);
        return data_dir_at(&p).ok_or_else(|| {
            Error::Phonemizer(format!(
                "{ESPEAK_DATA_ENV}={} is not an espeak-ng data directory (no phontab/phondata \
                 in it or in its espeak-ng-data/); {FIX}",
                p.display()
            ))
        });
    }

    let mut searched = Vec::new();
    for dir in crate::paths::models_dirs() {
        let c = dir.join("espeak-ng-data");
        if is_data_dir(&c) {
            return Ok(c);
        }
        searched.push(c.display().to_string());
    }
    if let Ok(exe) = std::env::current_exe() {
        // target/<profile>/{ishowtts, deps/<test>, examples/<example>}:
        // every ancestor's `build/` is looked at, which also covers
        // target/<triple>/<profile>/ layouts.
        for dir in exe.ancestors().skip(1) {
            let build = dir.join("build");
            if let Some(found) = newest_build_output(&build) {
                return Ok(found);
            }
            if build.is_dir() {
                searched.push(format!(
                    "{}/espeak-rs-sys-*/out/share/espeak-ng-data",
                    build.display()
                ));
            }
        }
    }
    Err(Error::Phonemizer(format!(
        "espeak-ng data not found (searched: {}); {FIX}",
        searched.join(", ")
    )))
}

/// The most recently built `espeak-rs-sys-*/out/share/espeak-ng-data` under
/// a cargo `build/` directory (several exist after feature or profile
/// changes; the newest matches the library linked into this binary in
/// every practical case, and all hold the same data for one crate version).
fn newest_build_output(build: &Path) -> Option<PathBuf> {
    std::fs::read_dir(build)
        .ok()?
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_dir_without_data_is_an_error_naming_it() {
        let dir = std::env::temp_dir();
        let err = find_espeak_data(Some(&dir)).unwrap_err().to_string();
        assert!(err.contains(&dir.display().to_string()), "{err}");
    }

    #[test]
    fn explicit_dir_may_be_the_data_or_its_parent() {
        // the build output found from the test binary's location
        let data = find_espeak_data(None).unwrap();
        assert!(data.join("phontab").is_file());
        assert_eq!(find_espeak_data(Some(&data)).unwrap(), data);
        assert_eq!(
            find_espeak_data(Some(data.parent().unwrap())).unwrap(),
            data
        );
    }
}
