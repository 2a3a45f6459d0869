//! F5-TTS front end against upstream: tokens and ids of
//! tests/fixtures/f5/tokens.json (upstream `convert_char_to_pinyin` +
//! `list_str_to_idx`, see its README) and of
//! tests/fixtures/f5_pinyin_corpus.json (scripts/gen_f5_pinyin_corpus.py);
//! reference audio in every supported format and every kind of bad file;
//! chunking and durations on real text.

use std::io::Cursor;
use std::path::PathBuf;

use ishowtts::models::f5::chunking::{
    chunk_text, cross_fade, cross_fade_samples, estimate_duration, max_chunk_bytes, plan_chunks,
    CROSS_FADE_SECONDS,
};
use ishowtts::models::f5::pinyin::segment;
use ishowtts::models::f5::reference::{decode, ReferenceAudio};
use ishowtts::models::f5::tokenizer::{
    check_gen_text, prepare_ref_text, ref_text_for_model, text_to_tokens, Tokenizer,
};
use ishowtts::Error;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn vocab_path() -> PathBuf {
    root().join("f5/tiny_v1/F5TTS_tiny/vocab.txt")
}

fn load_cases(path: &str) -> Vec<(String, Vec<String>, Option<Vec<i64>>)> {
    let text = std::fs::read_to_string(root().join(path)).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json.as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let strings = |v: &serde_json::Value| -> Vec<String> {
                v.as_array()
                    .unwrap()
                    .iter()
                    .map(|t| t.as_str().unwrap().to_string())
                    .collect()
            };
            let ids = c.get("ids").map(|v| {
                v.as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i.as_i64().unwrap())
                    .collect()
            });
            (
                c["text"].as_str().unwrap().to_string(),
                strings(&c["tokens"]),
                ids,
            )
        })
        .collect()
}

/// Where two token lists first differ, with context, for the report.
fn describe_mismatch(text: &str, want: &[String], got: &[String]) -> String {
    let at = want
        .iter()
        .zip(got)
        .position(|(a, b)| a != b)
        .unwrap_or(want.len().min(got.len()));
    let window = |v: &[String]| {
        let (a, b) = (at.saturating_sub(4), (at + 6).min(v.len()));
        format!("{:?}", &v[a..b])
    };
    format!(
        "{text:?}\n    first difference at token {at} (lengths {} / {})\n    upstream: {}\n    ours:     {}\n    jieba:    {:?}",
        want.len(),
        got.len(),
        window(want),
        window(got),
        segment(text),
    )
}

/// Compares the tokens of every case; prints every mismatch with where it
/// is; returns the matching share.
fn match_rate(path: &str) -> (usize, usize) {
    let cases = load_cases(path);
    let mut same = 0;
    for (text, want, _) in &cases {
        let got = text_to_tokens(text);
        if &got == want {
            same += 1;
        } else {
            println!("MISMATCH {}", describe_mismatch(text, want, &got));
        }
    }
    println!("{path}: {same} / {} sentences identical", cases.len());
    (same, cases.len())
}

#[test]
fn tokens_match_upstream_fixture() {
    let (same, total) = match_rate("f5/tokens.json");
    assert!(total >= 60, "{total} cases");
    assert!(
        same * 100 >= total * 95,
        "only {same} of {total} sentences match upstream"
    );
}

#[test]
fn tokens_match_upstream_on_the_corpus() {
    let (same, total) = match_rate("f5_pinyin_corpus.json");
    assert!(total >= 150, "{total} cases");
    // The phrase table reproduces pypinyin on every jieba dictionary word,
    // so any mismatch is a regression.
    assert_eq!(
        same, total,
        "only {same} of {total} sentences match upstream"
    );
}

#[test]
fn ids_match_upstream_where_tokens_do() {
    let tokenizer = Tokenizer::from_vocab_file(&vocab_path()).unwrap();
    assert_eq!(tokenizer.vocab_size(), 2545);
    assert_eq!(tokenizer.id(" "), 0);
    for (text, want_tokens, ids) in load_cases("f5/tokens.json") {
        let ids = ids.expect("tokens.json has ids");
        // Ids straight from upstream's tokens check the vocabulary alone.
        let from_tokens: Vec<i64> = want_tokens.iter().map(|t| tokenizer.id(t)).collect();
        assert_eq!(from_tokens, ids, "{text:?}");
        if text_to_tokens(&text) == want_tokens {
            assert_eq!(tokenizer.encode(&text), ids, "{text:?}");
        }
    }
}

#[test]
fn bad_vocabularies_are_refused() {
    let dir = std::env::temp_dir().join(format!("f5_vocab_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let wrong = dir.join("vocab.txt");
    std::fs::write(&wrong, "a\n \n").unwrap();
    assert!(matches!(
        Tokenizer::from_vocab_file(&wrong),
        Err(Error::VoiceConfig { .. })
    ));
    std::fs::write(&wrong, "").unwrap();
    assert!(Tokenizer::from_vocab_file(&wrong).is_err());
    assert!(matches!(
        Tokenizer::from_vocab_file(&dir.join("missing.txt")),
        Err(Error::Io { .. })
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn text_checks() {
    assert!(matches!(check_gen_text(""), Err(Error::EmptyText)));
    assert!(matches!(check_gen_text(" \n\t"), Err(Error::EmptyText)));
    assert!(matches!(
        check_gen_text("😊👍!?"),
        Err(Error::NothingToSpeak)
    ));
    assert!(matches!(
        check_gen_text("。，！"),
        Err(Error::NothingToSpeak)
    ));
    assert!(check_gen_text("OK").is_ok());
    assert!(matches!(prepare_ref_text(""), Err(Error::InvalidText(_))));
    assert!(matches!(
        prepare_ref_text("   "),
        Err(Error::InvalidText(_))
    ));
    assert!(matches!(prepare_ref_text("🎉"), Err(Error::InvalidText(_))));
    let prepared = prepare_ref_text("Some call me nature").unwrap();
    assert_eq!(prepared, "Some call me nature. ");
    assert_eq!(ref_text_for_model(&prepared), "Some call me nature.  ");
}

// ---------------------------------------------------------------------------
// Reference audio

const SR: u32 = 24_000;

/// A speech-like test signal: a tone with a slow envelope, `amp` peak.
fn voice(seconds: f64, rate: u32, amp: f32) -> Vec<f32> {
    let n = (seconds * f64::from(rate)) as usize;
    (0..n)
        .map(|i| {
            let t = i as f32 / rate as f32;
            amp * (2.0 * std::f32::consts::PI * 180.0 * t).sin()
                * (0.6 + 0.4 * (2.0 * std::f32::consts::PI * 3.0 * t).sin())
        })
        .collect()
}

/// A WAV file in memory: 16-bit PCM, or 32-bit float.
fn wav(samples: &[f32], rate: u32, channels: u16, float: bool) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: if float { 32 } else { 16 },
        sample_format: if float {
            hound::SampleFormat::Float
        } else {
            hound::SampleFormat::Int
        },
    };
    let mut buf = Cursor::new(Vec::new());
    {
        let mut w = hound::WavWriter::new(&mut buf, spec).unwrap();
        for &s in samples {
            if float {
                w.write_sample(s).unwrap();
            } else {
                w.write_sample((s * 32767.0).round() as i16).unwrap();
            }
        }
        w.finalize().unwrap();
    }
    buf.into_inner()
}

fn interleave(channels: &[Vec<f32>]) -> Vec<f32> {
    let n = channels[0].len();
    (0..n)
        .flat_map(|i| channels.iter().map(move |c| c[i]))
        .collect()
}

fn silence(seconds: f64, rate: u32) -> Vec<f32> {
    vec![0.0; (seconds * f64::from(rate)) as usize]
}

fn rms(x: &[f32]) -> f64 {
    (x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
}

fn expect_reference_error(bytes: &[u8], what: &str, needle: &str) {
    match ReferenceAudio::from_bytes(bytes) {
        Err(Error::ReferenceAudio(msg)) => {
            println!("{what}: {msg}");
            assert!(msg.contains(needle), "{what}: {msg:?} lacks {needle:?}");
        }
        Err(other) => panic!("{what}: wrong error {other:?}"),
        Ok(r) => panic!("{what}: accepted ({} samples)", r.samples.len()),
    }
}

#[test]
fn stereo_96k_is_mixed_down_and_resampled() {
    let rate = 96_000;
    let left = [
        silence(0.3, rate),
        voice(2.0, rate, 0.4),
        silence(0.3, rate),
    ]
    .concat();
    let right: Vec<f32> = left.iter().map(|v| v * 0.5).collect();
    let bytes = wav(&interleave(&[left, right]), rate, 2, false);
    let decoded = decode(&bytes).unwrap();
    assert_eq!((decoded.sample_rate, decoded.channels), (rate, 2));
    let r = ReferenceAudio::from_bytes(&bytes).unwrap();
    // Edges trimmed (10 ms steps), 50 ms of silence added.
    let seconds = r.seconds();
    assert!((2.0..2.1).contains(&seconds), "{seconds} s");
    assert!(!r.clipped || seconds < 2.7);
    // Mix at 0.75 x 0.4 peak: RMS ~0.17, left as it is.
    assert_eq!(r.output_gain, 1.0);
    assert!(rms(&r.samples) > 0.1);
    // The tone survives resampling (same zero-crossing rate ~ 180 Hz).
    let mid = &r.samples[SR as usize / 2..SR as usize * 3 / 2];
    let crossings = mid
        .windows(2)
        .filter(|w| (w[0] < 0.0) != (w[1] < 0.0))
        .count();
    assert!(
        (340..=380).contains(&crossings),
        "{crossings} zero crossings in 1 s"
    );
    assert_eq!(r.frames(), r.samples.len() / 256);
}

#[test]
fn quiet_reference_is_raised_with_the_factor_kept() {
    let x = [
        silence(0.2, 16_000),
        voice(3.0, 16_000, 0.03),
        silence(0.2, 16_000),
    ]
    .concat();
    let r = ReferenceAudio::from_bytes(&wav(&x, 16_000, 1, true)).unwrap();
    assert!((rms(&r.samples) - 0.1).abs() < 1e-3, "{}", rms(&r.samples));
    assert!(
        r.output_gain > 0.1 && r.output_gain < 0.3,
        "{}",
        r.output_gain
    );
}

#[test]
fn long_reference_is_clipped_at_a_silence() {
    // Three 5 s phrases separated by 1.5 s pauses: 18 s in all.
    let x = [
        voice(5.0, SR, 0.4),
        silence(1.5, SR),
        voice(5.0, SR, 0.4),
        silence(1.5, SR),
        voice(5.0, SR, 0.4),
    ]
    .concat();
    let r = ReferenceAudio::from_bytes(&wav(&x, SR, 1, false)).unwrap();
    assert!(r.clipped);
    // Two phrases and the pause: cut in the silence, then trimmed.
    let s = r.seconds();
    assert!((11.4..11.7).contains(&s), "{s} s");
}

#[test]
fn compressed_formats_decode() {
    for (file, rate, channels) in [
        ("ref.flac", 22_050, 1),
        ("ref.mp3", 44_100, 2),
        ("ref.ogg", 48_000, 1),
    ] {
        let bytes = std::fs::read(root().join("f5_reference").join(file)).unwrap();
        let d = decode(&bytes).unwrap();
        assert_eq!((d.sample_rate, d.channels), (rate, channels), "{file}");
        // 1.6 s (MP3 adds encoder delay and padding).
        assert!(
            (1.55..1.75).contains(&d.seconds()),
            "{file}: {} s",
            d.seconds()
        );
        let r = ReferenceAudio::from_bytes(&bytes).unwrap();
        // 1.2 s of tone after trimming, plus 50 ms.
        assert!(
            (1.2..1.3).contains(&r.seconds()),
            "{file}: {} s",
            r.seconds()
        );
        let path = root().join("f5_reference").join(file);
        assert_eq!(ReferenceAudio::from_file(&path).unwrap().samples, r.samples);
    }
}

#[test]
fn wav_sample_formats_decode() {
    let x = voice(1.0, 22_050, 0.5);
    let int16 = decode(&wav(&x, 22_050, 1, false)).unwrap();
    let float = decode(&wav(&x, 22_050, 1, true)).unwrap();
    assert_eq!(float.samples, x);
    let err = int16
        .samples
        .iter()
        .zip(&x)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(err < 1e-4, "{err}");
    // 24-bit and 8-bit integer PCM.
    for bits in [24u16, 8] {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 22_050,
            bits_per_sample: bits,
            sample_format: hound::SampleFormat::Int,
        };
        let mut buf = Cursor::new(Vec::new());
        {
            let mut w = hound::WavWriter::new(&mut buf, spec).unwrap();
            let full = ((1i32 << (bits - 1)) - 1) as f32;
            for &s in &x {
                let v = (s * full).round() as i32;
                if bits == 8 {
                    w.write_sample(v as i8).unwrap();
                } else {
                    w.write_sample(v).unwrap();
                }
            }
            w.finalize().unwrap();
        }
        let d = decode(&buf.into_inner()).unwrap();
        let err = d
            .samples
            .iter()
            .zip(&x)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(err < 2.0 / (1 << (bits - 1)) as f32, "{bits} bits: {err}");
    }
}

#[test]
fn bad_reference_audio_gives_specific_errors() {
    expect_reference_error(&[], "empty file", "empty");
    expect_reference_error(&wav(&[], SR, 1, false), "header-only WAV", "no samples");
    let silent = wav(&silence(3.0, SR), SR, 1, false);
    expect_reference_error(&silent, "silent file", "silent");
    // Background hiss far below speech level is silence too.
    let hiss: Vec<f32> = (0..SR as usize * 2)
        .map(|i| if i % 2 == 0 { 0.001 } else { -0.001 })
        .collect();
    expect_reference_error(&wav(&hiss, SR, 1, false), "hiss", "silent");
    let good = wav(&voice(2.0, SR, 0.4), SR, 1, false);
    expect_reference_error(&good[..good.len() / 2], "truncated WAV", "truncated");
    expect_reference_error(&good[..30], "WAV cut inside its header", "WAV");
    let long = wav(&voice(31.0, 8_000, 0.4), 8_000, 1, false);
    expect_reference_error(&long, "31 s WAV", "31.0 s, over the 30 s limit");
    expect_reference_error(
        b"hello, I am not audio at all",
        "text file",
        "not supported: use WAV, MP3, FLAC or Ogg Vorbis",
    );
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    match ReferenceAudio::from_bytes(&garbage) {
        Err(Error::ReferenceAudio(msg)) => println!("garbage: {msg}"),
        other => panic!("garbage: {other:?}"),
    }
    // A FLAC with its second half missing still decodes what is there
    // (players do the same); the first half has the tone.
    let flac = std::fs::read(root().join("f5_reference/ref.flac")).unwrap();
    match ReferenceAudio::from_bytes(&flac[..flac.len() / 2]) {
        Ok(r) => assert!(r.seconds() > 0.3, "{}", r.seconds()),
        Err(Error::ReferenceAudio(msg)) => println!("half FLAC: {msg}"),
        Err(other) => panic!("half FLAC: {other:?}"),
    }
    // A FLAC whose audio frames are garbage.
    let mut broken = flac.clone();
    for b in broken.iter_mut().skip(200) {
        *b = b.wrapping_mul(31).wrapping_add(7);
    }
    expect_reference_error(&broken, "corrupt FLAC", "corrupt");
    // Unsupported rates and a missing file.
    expect_reference_error(
        &wav(&voice(1.0, 4_000, 0.4), 4_000, 1, false),
        "4 kHz",
        "8 to 96 kHz",
    );
    assert!(matches!(
        ReferenceAudio::from_file(&root().join("f5_reference/missing.wav")),
        Err(Error::Io { .. })
    ));
}

// ---------------------------------------------------------------------------
// Chunking and duration

#[test]
fn duration_estimate_is_upstreams() {
    // 10 s reference (937 frames) with "Some call me nature, others call me
    // mother nature.  " (52 bytes), as in the upstream examples.
    let ref_text = ref_text_for_model(
        &prepare_ref_text("Some call me nature, others call me mother nature.").unwrap(),
    );
    assert_eq!(ref_text.len(), 52);
    let gen = "I don't really care what you call me.";
    let frames = estimate_duration(937, &ref_text, gen, 1.0);
    assert_eq!(frames, 937 + (937.0f64 / 52.0 * gen.len() as f64) as usize);
    // Short text: speed 0.3.
    assert_eq!(
        estimate_duration(937, &ref_text, "Hi!", 1.0),
        937 + (937.0f64 / 52.0 * 3.0 / 0.3) as usize
    );
    // Chinese counts bytes: 你好世界 is 12 bytes.
    assert_eq!(
        estimate_duration(500, "你好。", "你好世界", 1.0),
        500 + (500.0f64 / 9.0 * 12.0) as usize
    );
}

#[test]
fn long_text_is_chunked_by_the_reference_pace() {
    let prepared = prepare_ref_text("这是一段参考音频的文字内容。").unwrap();
    // 42 bytes in 5 s: 8.4 bytes/s, 17 s left: 142 bytes.
    assert_eq!(max_chunk_bytes(&prepared, 5.0, 1.0), 142);
    let text = "今天的天气非常好，阳光明媚。我们决定去公园散步，顺便看看湖边的风景。\
                公园里有很多人在锻炼身体，有的跑步，有的打太极拳。孩子们在草地上放风筝，笑声不断。";
    let chunks = chunk_text(text, 142);
    assert!(chunks.len() >= 2, "{chunks:?}");
    assert_eq!(chunks.concat(), text);
    for c in &chunks {
        assert!(c.len() <= 142, "{} bytes: {c}", c.len());
    }
    let plan = plan_chunks(&prepared, 5 * 24_000, text, 1.0);
    assert_eq!(plan.len(), chunks.len());
    for (p, c) in plan.iter().zip(&chunks) {
        assert_eq!(&p.gen_text, c);
        assert_eq!(p.full_text, format!("{prepared}{c}"));
        assert!(p.frames > 5 * 24_000 / 256);
    }
    // English sentences are joined with a space after their punctuation.
    let en = chunk_text("One. Two! Three? Four.", 10);
    assert_eq!(en, ["One. Two!", "Three?", "Four."]);
}

#[test]
fn chunks_cross_fade_as_upstream() {
    let n = cross_fade_samples(CROSS_FADE_SECONDS);
    assert_eq!(n, 3600);
    let a = vec![0.5f32; 10_000];
    let b = vec![-0.5f32; 8_000];
    let out = cross_fade(&[a, b], n);
    assert_eq!(out.len(), 18_000 - n);
    assert_eq!(out[10_000 - n], 0.5);
    assert_eq!(out[9_999], -0.5);
    assert!(out[10_000 - n / 2].abs() < 1e-3);
}

/// Cost of the front end, release builds only:
/// `cargo test --release --test f5_frontend -- --ignored --nocapture`.
#[test]
#[ignore]
fn cost_of_the_front_end() {
    let t = std::time::Instant::now();
    let _ = text_to_tokens("你好");
    println!("first call (jieba + phrase table load): {:?}", t.elapsed());
    let text = "今天的天气非常好，阳光明媚。我们决定去公园散步，顺便看看湖边的风景。Hello world, this is a test.";
    let t = std::time::Instant::now();
    for _ in 0..100 {
        let _ = text_to_tokens(text);
    }
    println!("per sentence: {:?}", t.elapsed() / 100);
    let x = voice(30.0, 96_000, 0.3);
    let t = std::time::Instant::now();
    let r = ReferenceAudio::from_samples(&interleave(&[x.clone(), x]), 96_000, 2).unwrap();
    println!(
        "30 s 96 kHz stereo reference: {:?} -> {} s",
        t.elapsed(),
        r.seconds()
    );
}
