//! Harnesses of the text front end: the sentence splitter (whole text and
//! text in pieces), the normalizers and the phoneme-id mapper. Each checks
//! the promises its function's docs make, not only that it returns.

use ishowtts::phonemize::{merge_vowel_clusters, phoneme_id_spans, phonemes_to_ids, PhonemeIdMap};
use ishowtts::text::{normalize, split_sentences, IncrementalSplitter, Language, SplitOptions};

use crate::input::Input;

/// Splitter options from four bytes, small limits included (1-char
/// sentences, no merging) since those are where edge cases live.
fn split_options(inp: &mut Input) -> SplitOptions {
    SplitOptions {
        max_chars: 1 + usize::from(inp.u16() % 400),
        min_chars: usize::from(inp.byte() % 24),
        short_first: inp.bool(),
        first_max_chars: 1 + usize::from(inp.byte() % 120),
    }
}

/// Spans are non-empty, in order, apart, on character boundaries, inside
/// the text, and none is longer than `max_chars` characters.
fn check_spans<'a>(
    text: &str,
    spans: impl IntoIterator<Item = &'a std::ops::Range<usize>>,
    opts: &SplitOptions,
) {
    let mut last_end = 0;
    for s in spans {
        assert!(s.start < s.end, "empty span {s:?}");
        assert!(
            s.start >= last_end,
            "span {s:?} overlaps or precedes {last_end}"
        );
        assert!(
            s.end <= text.len(),
            "span {s:?} past the text's {} bytes",
            text.len()
        );
        assert!(
            text.is_char_boundary(s.start) && text.is_char_boundary(s.end),
            "span {s:?} cuts a character"
        );
        let chars = text[s.clone()].chars().count();
        assert!(
            chars <= opts.max_chars.max(1),
            "span {s:?} has {chars} chars, over max_chars {}",
            opts.max_chars
        );
        last_end = s.end;
    }
}

/// `split_sentences` on any text and options.
pub fn split(data: &[u8]) {
    let mut inp = Input::new(data);
    let opts = split_options(&mut inp);
    let text = inp.rest_str();
    let spans = split_sentences(&text, &opts);
    check_spans(&text, &spans, &opts);
}

/// The incremental splitter fed the input's bytes in pieces whose sizes
/// the input chooses (cuts inside UTF-8 characters included), with flushes
/// between some pieces. Without flushes and with valid UTF-8 its sentences
/// must be exactly those of `split_sentences` on the whole text.
pub fn split_stream(data: &[u8]) {
    let mut inp = Input::new(data);
    let opts = split_options(&mut inp);
    // up to 16 cuts: a piece length each, the top bit asking for a flush
    let n_cuts = usize::from(inp.byte() % 17);
    let cuts: Vec<u8> = inp.bytes(n_cuts).to_vec();
    let bytes = inp.rest();

    let mut splitter = IncrementalSplitter::new(opts.clone());
    let mut out = Vec::new();
    let mut taken = Vec::new(); // the bytes the splitter accepted
    let mut flushed = false;
    let mut rejected = false;
    let mut at = 0;
    for c in cuts {
        let n = usize::from(c & 0x3f).min(bytes.len() - at);
        let piece = &bytes[at..at + n];
        at += n;
        match splitter.push_bytes(piece) {
            Ok(s) => {
                out.extend(s);
                taken.extend_from_slice(piece);
            }
            // refused whole (not UTF-8): nothing of it is taken
            Err(_) => rejected = true,
        }
        if c & 0x80 != 0 {
            out.extend(splitter.flush());
            flushed = true;
        }
    }
    match splitter.push_bytes(&bytes[at..]) {
        Ok(s) => {
            out.extend(s);
            taken.extend_from_slice(&bytes[at..]);
        }
        Err(_) => rejected = true,
    }
    let finished = splitter.finish();
    let complete = finished.is_ok();
    if let Ok(s) = finished {
        out.extend(s);
    }
    // After finish nothing more is taken.
    assert!(
        splitter.push("more.").is_err(),
        "push after finish accepted"
    );

    // What was accepted, as text (a character cut at the very end is
    // dropped by finish, which then reports it).
    let text = match std::str::from_utf8(&taken) {
        Ok(t) => t.to_owned(),
        Err(e) => {
            assert!(!complete, "finish accepted a cut character");
            std::str::from_utf8(&taken[..e.valid_up_to()])
                .unwrap()
                .to_owned()
        }
    };
    for s in &out {
        assert_eq!(
            text.get(s.span.clone()),
            Some(s.text.as_str()),
            "sentence text is not its span of the whole"
        );
    }
    check_spans(&text, out.iter().map(|s| &s.span), &opts);
    // The documented exception: a sentence longer than 8 x max_chars bytes
    // with no end in sight is cut as it arrives (pushes stay linear), and
    // its later cuts may differ from a one-shot split.
    let giant = split_sentences(
        &text,
        &SplitOptions {
            max_chars: usize::MAX,
            min_chars: 0,
            short_first: false,
            first_max_chars: 1,
        },
    )
    .iter()
    .any(|s| s.len() > 8 * opts.max_chars);
    if !flushed && !rejected && complete && !giant {
        let whole: Vec<_> = split_sentences(&text, &opts);
        let streamed: Vec<_> = out.iter().map(|s| s.span.clone()).collect();
        assert_eq!(
            streamed, whole,
            "pieces split differently from the whole text"
        );
    }
}

/// The normalizers: any text, each language. The output is bounded by a
/// fixed multiple of the input (a number or symbol is a few words; no
/// input may make it explode).
pub fn normalize_text(data: &[u8]) {
    let mut inp = Input::new(data);
    let lang = match inp.byte() % 3 {
        0 => Language::English,
        1 => Language::Chinese,
        _ => Language::Other,
    };
    let text = inp.rest_str();
    let out = normalize(&text, lang);
    assert!(
        out.len() <= 64 * text.len() + 64,
        "{} bytes of text normalized to {} bytes",
        text.len(),
        out.len()
    );
}

/// Phonemes the harness draws from: piper's specials, IPA with stress and
/// length marks, punctuation, and two-code-point clusters.
const PHONEMES: [&str; 16] = [
    "^", "_", "$", " ", "a", "ɪ", "aɪ", "ə", "ˈ", "ː", ",", ".", "?", "t", "ʃ", "tʃ",
];

/// `phonemes_to_ids` and `phoneme_id_spans` on any id map (specials
/// missing, several ids per phoneme, no ids) and any phonemes, after
/// merging any vowel clusters: the spans must lay out the ids exactly.
pub fn phoneme_ids(data: &[u8]) {
    let mut inp = Input::new(data);
    let mut map = PhonemeIdMap::new();
    for _ in 0..inp.byte() % 20 {
        let key = PHONEMES[usize::from(inp.byte() % 16)].to_string();
        let ids = (0..inp.byte() % 4).map(|_| i64::from(inp.byte())).collect();
        map.insert(key, ids);
    }
    let clusters: Vec<Vec<String>> = (0..inp.byte() % 4)
        .map(|_| {
            (0..inp.byte() % 4)
                .map(|_| PHONEMES[usize::from(inp.byte() % 16)].to_string())
                .collect()
        })
        .collect();
    // Mostly known phonemes; 0xf0.. are any character (unknown ones).
    let phonemes: Vec<String> = inp
        .rest()
        .iter()
        .map(|&b| match b {
            0xf0.. => char::from(b).to_string(),
            _ => PHONEMES[usize::from(b % 16)].to_string(),
        })
        .collect();
    let merged = merge_vowel_clusters(phonemes.clone(), &clusters);
    assert_eq!(
        merged.concat(),
        phonemes.concat(),
        "merging changed the phonemes"
    );
    assert!(merged.len() <= phonemes.len());

    let (ids, missing) = phonemes_to_ids(&merged, &map);
    let spans = phoneme_id_spans(&merged, &map);
    assert_eq!(spans.len(), merged.len());
    let len = |p: &str| map.get(p).map_or(0, Vec::len);
    let mut at = len("^") + len("_");
    for (p, s) in merged.iter().zip(&spans) {
        assert_eq!(
            s.start, at,
            "span of {p:?} does not start where the last ended"
        );
        match map.get(p.as_str()) {
            Some(v) => {
                assert_eq!(&ids[s.start..s.start + v.len()], v.as_slice());
                assert_eq!(s.len(), v.len() + len("_"));
            }
            None => {
                assert!(s.is_empty());
                assert!(missing.contains(p), "unknown {p:?} not reported missing");
            }
        }
        at = s.end;
    }
    assert_eq!(at + len("$"), ids.len(), "spans and eos do not end the ids");
}
