//! Phoneme ids equal piper-tts's for every fixture text
//! (tests/fixtures/piper/phoneme_ids.json, made by gen_piper.py).

mod common;

use ishowtts::models::piper::VoiceConfig;
use ishowtts::phonemize::{phonemes_to_ids, EspeakPhonemizer};

/// Inputs allowed to differ (at most 2), each with the espeak-ng version
/// difference it is traced to: piper-tts 1.8 bundles espeak-ng at commit
/// 724808c (2026-04), we vendor the 1.52 release. None differ today: the one
/// systematic difference (the "linking j" shown as ʲ) is reproduced in
/// `src/phonemize/espeak.rs`.
const ALLOWED: &[(&str, &str)] = &[];

#[test]
fn ids_match_piper() {
    let cfg = VoiceConfig::load(&common::fixture("en_US-joe-medium.onnx.json")).unwrap();
    let phonemizer = EspeakPhonemizer::new(None).unwrap();
    let cases = common::read_json("phoneme_ids.json");
    let cases = cases.as_array().unwrap();
    assert!(cases.len() >= 30);
    let mut differing = Vec::new();
    for case in cases {
        let text = case["text"].as_str().unwrap();
        let want: Vec<Vec<i64>> = case["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(common::ids)
            .collect();
        let got: Vec<Vec<i64>> = phonemizer
            .phonemize("en-us", text)
            .unwrap()
            .iter()
            .map(|s| phonemes_to_ids(s, &cfg.phoneme_id_map).0)
            .collect();
        if got != want {
            let ours: Vec<String> = phonemizer
                .phonemize("en-us", text)
                .unwrap()
                .iter()
                .map(|s| s.concat())
                .collect();
            differing.push(format!(
                "{text:?}\n  piper: {:?}\n  ours:  {ours:?}",
                case["phonemes"]
            ));
        }
    }
    let unexpected: Vec<&String> = differing
        .iter()
        .filter(|d| {
            !ALLOWED
                .iter()
                .any(|(t, _)| d.starts_with(&format!("{t:?}")))
        })
        .collect();
    assert!(
        differing.len() <= 2,
        "{} inputs differ:\n{}",
        differing.len(),
        differing.join("\n")
    );
    assert!(
        unexpected.is_empty(),
        "unexpected differences:\n{unexpected:#?}"
    );
    eprintln!(
        "{} of {} inputs identical",
        cases.len() - differing.len(),
        cases.len()
    );
}

#[test]
fn hello_world_layout() {
    let cfg = VoiceConfig::load(&common::fixture("en_US-joe-medium.onnx.json")).unwrap();
    let p = EspeakPhonemizer::new(None).unwrap();
    let s = p.phonemize("en-us", "Hello, world!").unwrap();
    assert_eq!(s.len(), 1);
    let (ids, missing) = phonemes_to_ids(&s[0], &cfg.phoneme_id_map);
    assert!(missing.is_empty());
    assert_eq!(ids.len(), 33);
    assert_eq!(&ids[..5], &[1, 0, 20, 0, 59]);
    assert_eq!(*ids.last().unwrap(), 2);
}

#[test]
fn sentences_and_edge_cases() {
    let p = EspeakPhonemizer::new(None).unwrap();
    assert!(p.phonemize("en-us", "").unwrap().is_empty());
    assert!(p.phonemize("en-us", "   \n\t ").unwrap().is_empty());
    assert_eq!(p.phonemize("en-us", "One. Two! Three?").unwrap().len(), 3);
    // an interior NUL does not cut the text short
    assert_eq!(p.phonemize("en-us", "One.\0Two.").unwrap().len(), 2);
    let err = p.phonemize("no-such-voice", "Hello").unwrap_err();
    assert!(err.to_string().contains("no-such-voice"), "{err}");
    // the phonemizer still works after the error
    assert_eq!(p.phonemize("en-us", "Hello.").unwrap().len(), 1);
}

#[test]
fn a_megabyte_of_text_phonemizes_in_bounded_time() {
    let p = EspeakPhonemizer::new(None).unwrap();
    let block = "The quick brown fox jumps over the lazy dog, again and again. ";
    let text = block.repeat(1_000_000 / block.len() + 1);
    assert!(text.len() >= 1_000_000);
    let start = std::time::Instant::now();
    let sentences = p.phonemize("en-us", &text).unwrap();
    assert_eq!(sentences.len(), text.len() / block.len());
    assert!(start.elapsed().as_secs() < 60, "took {:?}", start.elapsed());
}
