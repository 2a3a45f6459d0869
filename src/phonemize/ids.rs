//! Phonemes to model ids (piper's `phonemes_to_ids`).

use std::collections::HashMap;

/// A voice's `phoneme_id_map`: phoneme (a code point, or a merged cluster)
/// to one or more ids.
pub type PhonemeIdMap = HashMap<String, Vec<i64>>;

/// Beginning of sentence.
pub const BOS: &str = "^";
/// End of sentence.
pub const EOS: &str = "$";
/// Padding, placed after BOS and after every phoneme.
pub const PAD: &str = "_";

/// `^ _ p1 _ p2 _ … pn _ $`: ids for one sentence (piper's
/// `phonemes_to_ids`), and the distinct phonemes the map lacks, in order of
/// appearance. Those are skipped, as piper skips them; the caller logs
/// them. A map without `^`, `_` or `$` (piper would fail on it) lists them
/// as missing too.
pub fn phonemes_to_ids(phonemes: &[String], map: &PhonemeIdMap) -> (Vec<i64>, Vec<String>) {
    let mut missing: Vec<String> = [BOS, PAD, EOS]
        .into_iter()
        .filter(|s| !map.contains_key(*s))
        .map(String::from)
        .collect();
    let get = |p: &str| map.get(p).map(Vec::as_slice).unwrap_or(&[]);
    let pad = get(PAD);
    let mut ids = Vec::with_capacity(2 * phonemes.len() + 3);
    ids.extend_from_slice(get(BOS));
    ids.extend_from_slice(pad);
    let mut seen_missing = std::collections::HashSet::new();
    for p in phonemes {
        match map.get(p.as_str()) {
            Some(v) => {
                ids.extend_from_slice(v);
                ids.extend_from_slice(pad);
            }
            None => {
                if seen_missing.insert(p.as_str()) {
                    missing.push(p.clone());
                }
            }
        }
    }
    ids.extend_from_slice(get(EOS));
    (ids, missing)
}

/// Where each phoneme's ids are in the sequence [`phonemes_to_ids`] makes
/// of `phonemes`: its own ids and the pad after it (empty, at its place,
/// for a phoneme the map lacks). The ranges are in order and, with the
/// leading `^ _` and the final `$`, cover the whole sequence: a phoneme's
/// duration is the sum of its ids' durations.
pub fn phoneme_id_spans(phonemes: &[String], map: &PhonemeIdMap) -> Vec<std::ops::Range<usize>> {
    let len = |p: &str| map.get(p).map_or(0, Vec::len);
    let pad = len(PAD);
    let mut at = len(BOS) + pad;
    phonemes
        .iter()
        .map(|p| {
            let start = at;
            if map.contains_key(p.as_str()) {
                at += len(p) + pad;
            }
            start..at
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map() -> PhonemeIdMap {
        [
            ("_", 0),
            ("^", 1),
            ("$", 2),
            (" ", 3),
            ("h", 20),
            ("ə", 59),
            (",", 8),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), vec![v]))
        .collect()
    }

    fn ph(s: &str) -> Vec<String> {
        s.chars().map(|c| c.to_string()).collect()
    }

    #[test]
    fn layout_is_bos_pad_phoneme_pad_eos() {
        let (ids, missing) = phonemes_to_ids(&ph("hə,"), &map());
        assert_eq!(ids, vec![1, 0, 20, 0, 59, 0, 8, 0, 2]);
        assert!(missing.is_empty());
        assert_eq!(ids.len(), 2 * 3 + 3);
    }

    /// The id map of the joe voice, copied from its `.onnx.json`.
    fn joe_map() -> PhonemeIdMap {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/piper/en_US-joe-medium.onnx.json"
        );
        let cfg: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        serde_json::from_value(cfg["phoneme_id_map"].clone()).unwrap()
    }

    #[test]
    fn hello_world_with_the_joe_map() {
        // piper's phonemes for "Hello, world!" (tests/fixtures/piper)
        let (ids, missing) = phonemes_to_ids(&ph("həlˈoʊ, wˈɜːld!"), &joe_map());
        assert!(missing.is_empty());
        assert_eq!(ids.len(), 33);
        assert_eq!(&ids[..5], &[1, 0, 20, 0, 59]);
        assert_eq!(&ids[ids.len() - 3..], &[4, 0, 2]);
    }

    #[test]
    fn id_spans_cover_each_phoneme_and_its_pad() {
        let mut m = map();
        m.insert("aɪ".into(), vec![161, 162]);
        let phonemes: Vec<String> = ["h", "x", "aɪ", ","].map(String::from).to_vec();
        let (ids, _) = phonemes_to_ids(&phonemes, &m);
        assert_eq!(ids, vec![1, 0, 20, 0, 161, 162, 0, 8, 0, 2]);
        assert_eq!(
            phoneme_id_spans(&phonemes, &m),
            vec![2..4, 4..4, 4..7, 7..9]
        );
    }

    #[test]
    fn multi_id_phonemes_are_padded_once() {
        let mut m = map();
        m.insert("aɪ".into(), vec![161, 162]);
        let phonemes = vec!["aɪ".to_string(), "h".to_string()];
        let (ids, _) = phonemes_to_ids(&phonemes, &m);
        assert_eq!(ids, vec![1, 0, 161, 162, 0, 20, 0, 2]);
    }

    #[test]
    fn missing_symbols_are_skipped_and_reported_once() {
        let (ids, missing) = phonemes_to_ids(&ph("hxəx"), &map());
        assert_eq!(ids, vec![1, 0, 20, 0, 59, 0, 2]);
        assert_eq!(missing, vec!["x".to_string()]);
    }

    #[test]
    fn a_map_without_specials_reports_them() {
        let mut m = map();
        m.remove("_");
        let (ids, missing) = phonemes_to_ids(&ph("h"), &m);
        assert_eq!(ids, vec![1, 20, 2]);
        assert_eq!(missing, vec!["_".to_string()]);
    }
}
