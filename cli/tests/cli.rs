//! The `ishowtts` CLI end to end: text in, a valid WAV out, clear errors.

#[path = "../../tests/common/mod.rs"]
mod common;

use std::io::Write;
use std::process::{Command, Stdio};

fn cli() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ishowtts"));
    c.env("ISHOWTTS_VOICE", common::voice_path());
    c
}

fn out_path(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ishowtts-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn say_writes_a_wav_with_one_progress_line_per_sentence() {
    let out = out_path("two.wav");
    let r = cli()
        .args(["say", "First sentence here. And a second one!", "-o"])
        .arg(&out)
        .args(["--seed", "1"])
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert_eq!(stderr.matches("[sentence").count(), 2, "{stderr}");
    let wav = hound::WavReader::open(&out).unwrap();
    let spec = wav.spec();
    assert_eq!(
        (spec.channels, spec.sample_rate, spec.bits_per_sample),
        (1, 22050, 16)
    );
    let samples: Vec<i16> = wav.into_samples().map(Result::unwrap).collect();
    assert!(samples.len() > 22050, "{} samples", samples.len());
    let peak = samples.iter().map(|s| s.unsigned_abs()).max().unwrap();
    assert!(peak > 3000, "audio is (nearly) silent: peak {peak}");
}

#[test]
fn say_reads_stdin() {
    let out = out_path("stdin.wav");
    let mut child = cli()
        .args(["say", "--quiet", "-o"])
        .arg(&out)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"Read from standard input.")
        .unwrap();
    let r = child.wait_with_output().unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(
        r.stderr.is_empty(),
        "--quiet printed {}",
        String::from_utf8_lossy(&r.stderr)
    );
    assert!(hound::WavReader::open(&out).unwrap().duration() > 10000);
}

#[test]
fn errors_are_reported_not_panicked() {
    let out = out_path("bad.wav");
    let cases: &[(&[&str], &str)] = &[
        (&["say", "   "], "empty"),
        (&["say", "Hi.", "--length-scale", "-1"], "length_scale"),
        (&["say", "Hi.", "--noise-scale", "NaN"], "noise_scale"),
        (&["say", "Hi.", "--speaker", "7"], "speaker id 7"),
        (
            &["say", "Hi.", "--voice", "/nonexistent.onnx"],
            "does not exist",
        ),
    ];
    // a build without the cuda feature says so
    let no_cuda: &[(&[&str], &str)] = if cfg!(feature = "cuda") {
        &[]
    } else {
        &[(&["say", "Hi.", "--device", "cuda"], "cuda")]
    };
    for (args, want) in cases.iter().chain(no_cuda) {
        let r = cli().args(*args).arg("-o").arg(&out).output().unwrap();
        let stderr = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
    // invalid UTF-8 on stdin
    let mut child = cli()
        .args(["say", "-o"])
        .arg(&out)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"caf\xe9 au lait")
        .unwrap();
    let r = child.wait_with_output().unwrap();
    assert_eq!(r.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&r.stderr).contains("UTF-8"));
}

#[test]
fn info_describes_a_qwen3_checkpoint() {
    let dir = out_path("qwen3-tiny");
    let fixtures = common::qwen3_fixtures();
    ishowtts::models::qwen3_tts::tiny::write_tiny_checkpoint(&fixtures, &dir).unwrap();
    let r = cli().arg("info").arg("--qwen3").arg(&dir).output().unwrap();
    let stdout = String::from_utf8_lossy(&r.stdout);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    for want in [
        "type: base",
        "talker: 2 layers, hidden 32",
        "16 codebooks of 64",
        "1920 samples per frame, 24000 Hz",
        "speakers: tiny_speaker",
        "languages: auto, chinese, english",
        "tokenizer: 2323 ids",
    ] {
        assert!(stdout.contains(want), "{want:?} not in:\n{stdout}");
    }

    std::fs::remove_file(dir.join("speech_tokenizer/config.json")).unwrap();
    let r = cli().arg("info").arg("--qwen3").arg(&dir).output().unwrap();
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(!r.status.success());
    assert!(
        stderr.contains("missing speech_tokenizer/config.json") && !stderr.contains("panicked"),
        "{stderr}"
    );
}

#[test]
fn say_speaks_with_qwen3_cloned_and_named_voices() {
    let dir = out_path("qwen3-say");
    let fixtures = common::qwen3_fixtures();
    ishowtts::models::qwen3_tts::tiny::write_tiny_checkpoint(&fixtures, &dir).unwrap();
    let clip = out_path("qwen3-ref.wav");
    std::fs::write(&clip, common::tone_wav(1.5, 16_000)).unwrap();

    // the tiny checkpoint is a Base one: it clones --ref-audio
    let out = out_path("qwen3-clone.wav");
    let r = cli()
        .args(["say", "--model", "qwen3", "--model-dir"])
        .arg(&dir)
        .arg("--ref-audio")
        .arg(&clip)
        .args(["--language", "english", "--seed", "3", "Hello there.", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(r.status.success(), "{stderr}");
    // several chunks within the one sentence, each reported
    assert!(stderr.contains("[sentence 1, part 2]"), "{stderr}");
    assert!(stderr.contains("(1 sentence(s)"), "{stderr}");
    let wav = hound::WavReader::open(&out).unwrap();
    assert_eq!(wav.spec().sample_rate, 24_000);
    assert!(
        wav.len() >= 4 * 1920 && wav.len().is_multiple_of(1920),
        "{}",
        wav.len()
    );

    // without the clip, and with a speaker a Base checkpoint does not
    // have: clear errors
    for (extra, want) in [
        (vec![], "reference audio"),
        (vec!["--speaker", "tiny_speaker"], "no built-in speakers"),
        (vec!["--language", "klingon"], "language"),
    ] {
        let mut c = cli();
        c.args(["say", "--model", "qwen3", "--model-dir"]).arg(&dir);
        if want != "reference audio" {
            c.arg("--ref-audio").arg(&clip);
        }
        let r = c
            .args(&extra)
            .args(["Hi.", "-o"])
            .arg(out_path("x.wav"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(1), "{extra:?}: {stderr}");
        assert!(
            stderr.contains(want) && !stderr.contains("panicked"),
            "{extra:?}: {stderr}"
        );
    }

    // made a CustomVoice checkpoint: --speaker names a built-in speaker
    let cfg_path = dir.join("config.json");
    let cfg = std::fs::read_to_string(&cfg_path).unwrap();
    std::fs::write(&cfg_path, cfg.replace("\"base\"", "\"custom_voice\"")).unwrap();
    let r = cli()
        .args(["say", "--model", "qwen3", "--model-dir"])
        .arg(&dir)
        .args(["--speaker", "Tiny_Speaker", "--quiet", "Hi.", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let r = cli()
        .args(["say", "--model", "qwen3", "--model-dir"])
        .arg(&dir)
        .args(["Hi.", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(stderr.contains("name one of tiny_speaker"), "{stderr}");
    let r = cli()
        .args(["say", "--model", "qwen3", "Hi.", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(
        !r.status.success() && stderr.contains("--model-dir"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
