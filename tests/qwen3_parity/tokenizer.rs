//! Id parity of the Qwen3-TTS text tokenizer with the reference
//! (`qwen-tts` 0.1.1: `AutoProcessor.from_pretrained(dir,
//! fix_mistral_regex=True)`, transformers 4.57.3), on the small byte-level
//! BPE of `tests/fixtures/qwen3/tokenizer/` (written by
//! `scripts/qwen3_tokenizer_fixtures.py`, which also checked that the slow
//! and fast reference tokenizers agree on every sentence).
//!
//! Checked: the ids of every sentence with both split patterns, decoding
//! (with and without special tokens), the raw regex pieces of both patterns
//! (the regex engine itself: fancy-regex here, Oniguruma in the reference),
//! the added-token ids and special set, the prompt builders, the rule that
//! picks the pattern for a checkpoint directory, and the load errors.

use std::path::{Path, PathBuf};

use ishowtts::models::qwen3_tts::tokenizer::{
    assistant_prompt, instruct_prompt, reference_prompt, MISTRAL_FIX_PATTERN, QWEN2_PATTERN,
};
use ishowtts::models::qwen3_tts::{SplitRegex, TextTokenizer};
use serde_json::Value;

fn fixture_dir() -> PathBuf {
    crate::common::qwen3_fixtures().join("tokenizer")
}

fn expected() -> Value {
    let p = fixture_dir().join("expected.json");
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
}

fn u32s(v: &Value) -> Vec<u32> {
    crate::common::ids(v)
        .into_iter()
        .map(|x| x as u32)
        .collect()
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

fn sentences(e: &Value) -> &Vec<Value> {
    e["sentences"].as_array().unwrap()
}

#[test]
fn ids_match_reference_for_every_sentence() {
    let e = expected();
    let qwen2 = TextTokenizer::from_dir(fixture_dir()).unwrap();
    // a small vocabulary: the reference does not patch the pattern
    assert_eq!(qwen2.split_regex(), SplitRegex::Qwen2);
    let mistral =
        TextTokenizer::from_dir_with_split(fixture_dir(), SplitRegex::MistralFix).unwrap();
    assert_eq!(mistral.split_regex(), SplitRegex::MistralFix);

    let cases = sentences(&e);
    assert!(cases.len() >= 50, "only {} sentences", cases.len());
    let mut failures = Vec::new();
    let mut differ = 0;
    for c in cases {
        let text = c["text"].as_str().unwrap();
        let want = u32s(&c["qwen2"]);
        let want_m = u32s(&c["mistral_fix"]);
        differ += usize::from(want != want_m);
        let got = qwen2.encode(text).unwrap();
        if got != want {
            failures.push(format!("qwen2 {text:?}:\n  got  {got:?}\n  want {want:?}"));
        }
        let got_m = mistral.encode(text).unwrap();
        if got_m != want_m {
            failures.push(format!(
                "mistral_fix {text:?}:\n  got  {got_m:?}\n  want {want_m:?}"
            ));
        }
        let dec = qwen2.decode(&want, false).unwrap();
        if dec != c["decode"].as_str().unwrap() {
            failures.push(format!("decode {text:?}: got {dec:?}"));
        }
        let dec = qwen2.decode(&want, true).unwrap();
        if dec != c["decode_skip_special"].as_str().unwrap() {
            failures.push(format!("decode(skip_special) {text:?}: got {dec:?}"));
        }
    }
    eprintln!(
        "{} sentences, {} tokenized differently by the two patterns, {} failures",
        cases.len(),
        differ,
        failures.len()
    );
    // the fixture must exercise the pattern difference, or MistralFix is untested
    assert!(differ > 0);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The split + byte-level pre-tokenizer of `pattern`, run on raw text.
fn pieces(pattern: &str, text: &str) -> Vec<String> {
    use tokenizers::pre_tokenizers::byte_level::ByteLevel;
    use tokenizers::pre_tokenizers::sequence::Sequence;
    use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
    use tokenizers::{
        OffsetReferential, OffsetType, PreTokenizedString, PreTokenizer, SplitDelimiterBehavior,
    };
    let split = Split::new(
        SplitPattern::Regex(pattern.into()),
        SplitDelimiterBehavior::Isolated,
        false,
    )
    .unwrap();
    let pre = Sequence::new(vec![
        split.into(),
        ByteLevel::new(false, true, false).into(),
    ]);
    let mut s = PreTokenizedString::from(text);
    pre.pre_tokenize(&mut s).unwrap();
    s.get_splits(OffsetReferential::Original, OffsetType::Char)
        .into_iter()
        .map(|(p, _, _)| p.to_string())
        .collect()
}

#[test]
fn patterns_and_regex_pieces_match_reference() {
    let e = expected();
    assert_eq!(e["patterns"]["qwen2"], QWEN2_PATTERN);
    assert_eq!(e["patterns"]["mistral_fix"], MISTRAL_FIX_PATTERN);
    assert_eq!(SplitRegex::Qwen2.pattern(), QWEN2_PATTERN);
    assert_eq!(SplitRegex::MistralFix.pattern(), MISTRAL_FIX_PATTERN);
    let mut failures = Vec::new();
    let mut differ = 0;
    for c in sentences(&e) {
        let text = c["text"].as_str().unwrap();
        let want_q = strs(&c["pieces_qwen2"]);
        let want_m = strs(&c["pieces_mistral_fix"]);
        differ += usize::from(want_q != want_m);
        for (name, pattern, want) in [
            ("qwen2", QWEN2_PATTERN, want_q),
            ("mistral_fix", MISTRAL_FIX_PATTERN, want_m),
        ] {
            let got = pieces(pattern, text);
            if got != want {
                failures.push(format!("{name} {text:?}:\n  got  {got:?}\n  want {want:?}"));
            }
        }
    }
    eprintln!("{differ} sentences split differently by the two patterns");
    assert!(differ >= 5);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn added_tokens_and_special_set_match_reference() {
    let e = expected();
    let tok = TextTokenizer::from_dir(fixture_dir()).unwrap();
    let vocab = e["vocab_size"].as_u64().unwrap() as usize;
    let added = e["added_tokens"].as_object().unwrap();
    assert_eq!(tok.bpe_vocab_size(), vocab);
    assert_eq!(tok.vocab_size(), vocab + added.len());
    for (name, id) in added {
        assert_eq!(
            tok.token_id(name),
            Some(id.as_u64().unwrap() as u32),
            "{name}"
        );
    }
    // the TTS tokens keep the real checkpoint's offsets from <|endoftext|>
    // (151643): im_start +1, im_end +2, tts_pad +28, tts_bos +29, tts_eos +30
    let base = tok.token_id("<|endoftext|>").unwrap();
    for (name, off) in [
        ("<|im_start|>", 1),
        ("<|im_end|>", 2),
        ("<tts_pad>", 28),
        ("<tts_text_bos>", 29),
        ("<tts_text_eod>", 30),
    ] {
        assert_eq!(tok.token_id(name), Some(base + off), "{name}");
    }
    let special: Vec<String> = strs(&e["special_tokens"]);
    for name in added.keys() {
        assert_eq!(
            tok.is_special(name),
            special.contains(name),
            "special flag of {name}"
        );
    }
    assert_eq!(tok.token_id("<not a token>"), None);
}

#[test]
fn prompt_builders_match_qwen_tts() {
    let e = expected();
    let mut n = 0;
    for c in sentences(&e) {
        let Some(p) = c.get("prompt") else { continue };
        let arg = p["text"].as_str().unwrap();
        let built = match p["kind"].as_str().unwrap() {
            "assistant" => assistant_prompt(arg),
            "ref" => reference_prompt(arg),
            "instruct" => instruct_prompt(arg),
            k => panic!("unknown prompt kind {k}"),
        };
        assert_eq!(built, c["text"].as_str().unwrap());
        n += 1;
    }
    assert!(n >= 3);
}

#[test]
fn split_rule_matches_reference_loads() {
    let e = expected();
    let rules = e["split_rule"].as_array().unwrap();
    assert!(rules.len() >= 10);
    for r in rules {
        let n = r["vocab_size"].as_u64().unwrap() as usize;
        let config = (!r["config"].is_null()).then(|| r["config"].to_string());
        let want = match r["split"].as_str().unwrap() {
            "qwen2" => SplitRegex::Qwen2,
            "mistral_fix" => SplitRegex::MistralFix,
            s => panic!("unknown split {s}"),
        };
        let got =
            SplitRegex::for_checkpoint(n, config.as_deref(), Path::new("config.json")).unwrap();
        assert_eq!(got, want, "vocab {n}, config {config:?}");
    }
    // a released checkpoint directory (151 643 tokens, written by 4.57.3)
    let cfg = r#"{"model_type": "qwen3_tts", "transformers_version": "4.57.3"}"#;
    assert_eq!(
        SplitRegex::for_checkpoint(151_643, Some(cfg), Path::new("config.json")).unwrap(),
        SplitRegex::MistralFix
    );
    let err = SplitRegex::for_checkpoint(
        151_643,
        Some(r#"{"transformers_version": "not.a.version"}"#),
        Path::new("/ckpt/config.json"),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("/ckpt/config.json"), "{err}");
}

#[test]
fn long_whitespace_runs_round_trip() {
    // fancy-regex gives up silently past its backtrack limit; the text must
    // still come back whole (the unmatched rest stays one piece)
    let tok = TextTokenizer::from_dir(fixture_dir()).unwrap();
    for text in [
        format!("a{}b", " ".repeat(20_000)),
        format!("{}x", "\n \t".repeat(5_000)),
        "word ".repeat(5_000),
    ] {
        let ids = tok.encode(&text).unwrap();
        assert_eq!(tok.decode(&ids, false).unwrap(), text);
    }
}

/// A scratch copy of the fixture's three tokenizer files, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let d = std::env::temp_dir().join(format!("qwen3_tok_{name}_{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        for f in ["vocab.json", "merges.txt", "tokenizer_config.json"] {
            std::fs::copy(fixture_dir().join(f), d.join(f)).unwrap();
        }
        Scratch(d)
    }
    fn file(&self, f: &str) -> PathBuf {
        self.0.join(f)
    }
    fn read(&self, f: &str) -> String {
        std::fs::read_to_string(self.file(f)).unwrap()
    }
    fn write(&self, f: &str, text: &str) {
        std::fs::write(self.file(f), text).unwrap();
    }
    fn load_err(&self) -> String {
        TextTokenizer::from_dir(&self.0).unwrap_err().to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn missing_files_are_named() {
    for f in ["vocab.json", "merges.txt", "tokenizer_config.json"] {
        let s = Scratch::new(&format!("missing_{f}"));
        std::fs::remove_file(s.file(f)).unwrap();
        let err = s.load_err();
        assert!(err.contains(&*s.file(f).to_string_lossy()), "{f}: {err}");
    }
    // config.json is optional (no config: the pattern is never patched)
    let s = Scratch::new("no_config");
    let tok = TextTokenizer::from_dir(&s.0).unwrap();
    assert_eq!(tok.split_regex(), SplitRegex::Qwen2);
}

#[test]
fn malformed_files_are_reported() {
    let s = Scratch::new("bad_merges");
    let merges = s.read("merges.txt");
    let mut lines: Vec<&str> = merges.lines().collect();
    lines[3] = "a b c";
    s.write("merges.txt", &lines.join("\n"));
    let err = s.load_err();
    assert!(
        err.contains("merges.txt") && err.contains("line 4"),
        "{err}"
    );

    lines[3] = "Ġ zzzzqqq";
    s.write("merges.txt", &lines.join("\n"));
    let err = s.load_err();
    assert!(
        err.contains("merges.txt") && err.contains("zzzzqqq") && err.contains("vocab.json"),
        "{err}"
    );

    let s = Scratch::new("bad_vocab");
    s.write("vocab.json", "[1, 2, 3]");
    let err = s.load_err();
    assert!(err.contains("vocab.json"), "{err}");

    let s = Scratch::new("bad_config");
    s.write(
        "tokenizer_config.json",
        r#"{"tokenizer_class": "Qwen2Tokenizer"}"#,
    );
    let err = s.load_err();
    assert!(
        err.contains("tokenizer_config.json") && err.contains("added_tokens_decoder"),
        "{err}"
    );

    // added ids that skip one would shift every later id: refused
    let s = Scratch::new("gap_ids");
    let mut cfg: Value = serde_json::from_str(&s.read("tokenizer_config.json")).unwrap();
    let dec = cfg["added_tokens_decoder"].as_object_mut().unwrap();
    let (last_id, last) = dec
        .iter()
        .max_by_key(|(k, _)| k.parse::<u32>().unwrap())
        .map(|(k, v)| (k.clone(), v.clone()))
        .unwrap();
    dec.remove(&last_id);
    let skipped = last_id.parse::<u32>().unwrap() + 5;
    dec.insert(skipped.to_string(), last);
    s.write("tokenizer_config.json", &cfg.to_string());
    let err = s.load_err();
    assert!(
        err.contains("tokenizer_config.json") && err.contains(&skipped.to_string()),
        "{err}"
    );

    // the same errors from in-memory strings name the file too
    let err = TextTokenizer::from_strings("{}", "#version: 0.2\na b\n", "{}", SplitRegex::Qwen2)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("merges.txt") && err.contains("line 2"),
        "{err}"
    );
}

#[test]
fn from_strings_equals_from_dir() {
    let d = fixture_dir();
    let read = |f: &str| std::fs::read_to_string(d.join(f)).unwrap();
    let a = TextTokenizer::from_strings(
        &read("vocab.json"),
        &read("merges.txt"),
        &read("tokenizer_config.json"),
        SplitRegex::Qwen2,
    )
    .unwrap();
    let b = TextTokenizer::from_dir(&d).unwrap();
    let text = assistant_prompt("Hello 你好, iPhone! <tts_pad>");
    assert_eq!(a.encode(&text).unwrap(), b.encode(&text).unwrap());
}
