//! The C ABI fuzz harness (`fuzz/src/capi.rs`) on its committed seeds and
//! past findings (see `tests/fuzz_regressions.rs` at the repository root).

#[allow(dead_code)]
#[path = "../../fuzz/src/input.rs"]
mod input;

#[path = "../../fuzz/src/capi.rs"]
mod capi;

#[path = "../../fuzz/src/regressions.rs"]
mod regressions;

#[test]
fn capi_params() {
    regressions::run_inputs("capi_params", capi::capi_params);
}
