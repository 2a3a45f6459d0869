//! The text tokenizer of Qwen3-TTS: the Qwen2 byte-level BPE, built from a
//! checkpoint's `vocab.json`, `merges.txt` and `tokenizer_config.json` with
//! the `tokenizers` crate, giving the ids of the reference (`qwen-tts` 0.1.1,
//! `AutoProcessor.from_pretrained(path, fix_mistral_regex=True)` ->
//! `Qwen2TokenizerFast` of transformers 4.57.3, converted from the slow
//! `Qwen2Tokenizer` because checkpoints ship no `tokenizer.json`).
//!
//! Pipeline, as transformers' `Qwen2Converter` builds it:
//! 1. added tokens (`<|im_start|>`, `<tts_pad>`, …, all `normalized: false`)
//!    are cut out of the raw text first and map to their own ids;
//! 2. NFC normalization of the rest;
//! 3. a regex split ([`SplitRegex`]) into words, numbers (one digit each),
//!    punctuation runs and whitespace runs;
//! 4. each piece's UTF-8 bytes mapped to the GPT-2 byte alphabet (no prefix
//!    space) and merged by BPE rank.
//!
//! **`fix_mistral_regex=True` matters.** In transformers 4.57.3 the flag
//! makes `_patch_mistral_regex` *replace* the Qwen2 split pattern of a fast
//! tokenizer by [`MISTRAL_FIX_PATTERN`] when the base vocabulary has over
//! 100 000 tokens and the checkpoint is a local directory whose `config.json`
//! has no `transformers_version`, or one in (4.57.2, 5.0.0), or a mistral
//! `model_type` (see [`SplitRegex::for_checkpoint`]). Loading a hub id
//! instead asks the hub for a `mistralai` base-model tag and keeps the Qwen2
//! pattern. The two patterns differ on mixed-case words (`iPhone` is one
//! piece for Qwen2, `i` + `Phone` after the patch), on contractions
//! followed by letters (`it'sa`) and on combining marks. [`TextTokenizer::from_dir`]
//! follows the reference's decision for the directory it is given;
//! [`TextTokenizer::from_dir_with_split`] forces either pattern.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde_json::Value;
use tokenizers::decoders::byte_level::ByteLevel;
use tokenizers::models::bpe::{Vocab, BPE};
use tokenizers::normalizers::unicode::NFC;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::{AddedToken, SplitDelimiterBehavior, Tokenizer};

use crate::{Error, Result};

/// The split pattern of the Qwen2 tokenizer (`PRETOKENIZE_REGEX` of the slow
/// `Qwen2Tokenizer` and of the fast converter): what the Qwen vocabulary was
/// built with.
pub const QWEN2_PATTERN: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// The pattern transformers 4.57.3 swaps in with `fix_mistral_regex=True`
/// (`_patch_mistral_regex`): case-aware word runs, combining marks inside
/// words, no contraction alternative.
pub const MISTRAL_FIX_PATTERN: &str = r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// `<|im_start|>`: opens a chat turn (`im_start_token_id` 151644).
pub const IM_START: &str = "<|im_start|>";
/// `<|im_end|>`: closes a chat turn (`im_end_token_id` 151645).
pub const IM_END: &str = "<|im_end|>";
/// `<|endoftext|>`: the pad token of the tokenizer (151643).
pub const END_OF_TEXT: &str = "<|endoftext|>";
/// `<tts_pad>`: text-side padding under codec frames (`tts_pad_token_id` 151671).
pub const TTS_PAD: &str = "<tts_pad>";
/// `<tts_text_bos>`: start of the spoken text (`tts_bos_token_id` 151672).
pub const TTS_BOS: &str = "<tts_text_bos>";
/// `<tts_text_eod>`: end of the spoken text (`tts_eos_token_id` 151673).
pub const TTS_EOS: &str = "<tts_text_eod>";

/// The prompt qwen-tts tokenizes for the text to speak
/// (`Qwen3TTSModel._build_assistant_text`).
pub fn assistant_prompt(text: &str) -> String {
    format!("{IM_START}assistant\n{text}{IM_END}\n{IM_START}assistant\n")
}

/// The prompt qwen-tts tokenizes for a voice-clone reference transcript
/// (`Qwen3TTSModel._build_ref_text`).
pub fn reference_prompt(text: &str) -> String {
    format!("{IM_START}assistant\n{text}{IM_END}\n")
}

/// The prompt qwen-tts tokenizes for a voice instruction
/// (`Qwen3TTSModel._build_instruct_text`).
pub fn instruct_prompt(instruct: &str) -> String {
    format!("{IM_START}user\n{instruct}{IM_END}\n")
}

/// Which split pattern the tokenizer uses (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplitRegex {
    /// [`QWEN2_PATTERN`]: the checkpoint's own pattern; what qwen-tts uses
    /// when loading by hub id, and for vocabularies of at most 100 000 tokens.
    Qwen2,
    /// [`MISTRAL_FIX_PATTERN`]: what qwen-tts 0.1.1 ends up with for a local
    /// directory of a released (151 643-token) checkpoint.
    MistralFix,
}

/// `_patch_mistral_regex` only looks at tokenizers with more base tokens.
const PATCH_MIN_VOCAB: usize = 100_000;
/// `model_type`s that `_patch_mistral_regex` treats as mistral even when
/// `transformers_version` <= 4.57.2.
const MISTRAL_MODEL_TYPES: [&str; 5] = ["mistral", "mistral3", "voxtral", "ministral", "pixtral"];

impl SplitRegex {
    /// The regular expression.
    pub fn pattern(self) -> &'static str {
        match self {
            SplitRegex::Qwen2 => QWEN2_PATTERN,
            SplitRegex::MistralFix => MISTRAL_FIX_PATTERN,
        }
    }

    /// The pattern transformers 4.57.3 leaves on the fast tokenizer when a
    /// LOCAL checkpoint directory is loaded with `fix_mistral_regex=True`
    /// (as qwen-tts 0.1.1 does): `bpe_vocab_size` is the number of entries
    /// of `vocab.json`, `config_json` the text of the directory's
    /// `config.json` (`None` when there is none; `config_path` only names it
    /// in errors).
    ///
    /// The rule, from `_patch_mistral_regex`: vocabularies of at most 100 000
    /// tokens and directories without `config.json` are left alone; so is a
    /// `transformers_version` >= 5.0.0, or <= 4.57.2 with a non-mistral
    /// `model_type`. Anything else (no version, a version in (4.57.2, 5.0.0),
    /// a mistral model type) is taken for a mistral tokenizer and patched.
    pub fn for_checkpoint(
        bpe_vocab_size: usize,
        config_json: Option<&str>,
        config_path: &Path,
    ) -> Result<SplitRegex> {
        if bpe_vocab_size <= PATCH_MIN_VOCAB {
            return Ok(SplitRegex::Qwen2);
        }
        let Some(text) = config_json else {
            return Ok(SplitRegex::Qwen2);
        };
        let bad = |reason: String| Error::ModelFile {
            path: config_path.to_path_buf(),
            reason,
        };
        let config: Value =
            serde_json::from_str(text).map_err(|e| bad(format!("not valid JSON: {e}")))?;
        let model_type = config.get("model_type").filter(|v| !v.is_null());
        match config.get("transformers_version") {
            // Python truthiness: null, a missing key and "" skip both checks
            None | Some(Value::Null) => {}
            Some(Value::String(v)) if v.is_empty() => {}
            Some(Value::String(v)) => {
                let at_most_4_57_2 = compare_version(v, [4, 57, 2])
                    .ok_or_else(|| bad(format!("transformers_version {v:?} is not a version")))?
                    .is_le();
                if at_most_4_57_2 {
                    let mistral = model_type
                        .and_then(Value::as_str)
                        .is_some_and(|t| MISTRAL_MODEL_TYPES.contains(&t));
                    if model_type.is_some() && !mistral {
                        return Ok(SplitRegex::Qwen2);
                    }
                } else if compare_version(v, [5, 0, 0]).is_some_and(|o| o.is_ge()) {
                    return Ok(SplitRegex::Qwen2);
                }
            }
            Some(other) => {
                return Err(bad(format!("transformers_version {other} is not a string")))
            }
        }
        Ok(SplitRegex::MistralFix)
    }
}

/// Compares a PEP 440 version with a final release `target`, as
/// `packaging.version` orders them: missing release parts are zeros, a dev
/// or pre-release sorts before its release, a post-release or a local label
/// after it. `None` when `v` is not a version.
fn compare_version(v: &str, target: [u64; 3]) -> Option<std::cmp::Ordering> {
    use std::cmp::Ordering;
    let v = v.trim().to_ascii_lowercase();
    let v = v.strip_prefix('v').unwrap_or(&v);
    // an epoch N! (N > 0) outranks every version without one
    let v = match v.split_once('!') {
        Some((epoch, rest)) => {
            if epoch.parse::<u64>().ok()? > 0 {
                return Some(Ordering::Greater);
            }
            rest
        }
        None => v,
    };
    let release_len = v
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(v.len());
    let (release, suffix) = v.split_at(release_len);
    // "4.57." ends the release at the dot: the dot belongs to the suffix
    let (release, suffix) = match release.strip_suffix('.') {
        Some(r) => (r, &v[r.len()..]),
        None => (release, suffix),
    };
    let mut parts = Vec::new();
    for p in release.split('.') {
        parts.push(p.parse::<u64>().ok()?);
    }
    let n = parts.len().max(3);
    parts.resize(n, 0);
    let mut want = target.to_vec();
    want.resize(n, 0);
    match parts.cmp(&want) {
        Ordering::Equal => {}
        o => return Some(o),
    }
    let s = suffix.trim_start_matches(['.', '-', '_']);
    let pre = [
        "dev", "a", "b", "c", "rc", "alpha", "beta", "pre", "preview",
    ];
    if suffix.is_empty() {
        Some(Ordering::Equal)
    } else if suffix.starts_with('+') || s.starts_with("post") || s.starts_with("rev") {
        Some(Ordering::Greater)
    } else if pre.iter().any(|p| s.starts_with(p)) {
        Some(Ordering::Less)
    } else if s.starts_with('r')
        || (suffix.starts_with('-') && s.starts_with(|c: char| c.is_ascii_digit()))
    {
        // "r1" spells a post-release; "-1" is an implicit one
        Some(Ordering::Greater)
    } else {
        None
    }
}

/// One entry of `added_tokens_decoder` in `tokenizer_config.json`.
#[derive(Debug, serde::Deserialize)]
struct AddedEntry {
    content: String,
    #[serde(default)]
    lstrip: bool,
    #[serde(default)]
    rstrip: bool,
    #[serde(default)]
    single_word: bool,
    #[serde(default = "yes")]
    normalized: bool,
    #[serde(default)]
    special: bool,
}

fn yes() -> bool {
    true
}

/// The Qwen2 byte-level BPE text tokenizer of a Qwen3-TTS checkpoint.
#[derive(Clone)]
pub struct TextTokenizer {
    inner: Tokenizer,
    split: SplitRegex,
    bpe_vocab_size: usize,
}

impl std::fmt::Debug for TextTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextTokenizer")
            .field("split", &self.split)
            .field("bpe_vocab_size", &self.bpe_vocab_size)
            .field("vocab_size", &self.vocab_size())
            .finish()
    }
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| Error::io(path, e))
}

impl TextTokenizer {
    /// Loads the tokenizer of the checkpoint directory `dir` (`vocab.json`,
    /// `merges.txt`, `tokenizer_config.json`; `config.json` if present),
    /// with the split pattern qwen-tts 0.1.1 would use for that directory
    /// ([`SplitRegex::for_checkpoint`]).
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self> {
        Self::load(dir.as_ref(), None)
    }

    /// Like [`from_dir`](Self::from_dir), with the split pattern forced
    /// (e.g. [`SplitRegex::Qwen2`] for what qwen-tts does with a hub id).
    pub fn from_dir_with_split(dir: impl AsRef<Path>, split: SplitRegex) -> Result<Self> {
        Self::load(dir.as_ref(), Some(split))
    }

    fn load(dir: &Path, split: Option<SplitRegex>) -> Result<Self> {
        let files = [
            dir.join("vocab.json"),
            dir.join("merges.txt"),
            dir.join("tokenizer_config.json"),
        ];
        let vocab = read(&files[0])?;
        let merges = read(&files[1])?;
        let config = read(&files[2])?;
        let split = match split {
            Some(s) => s,
            None => {
                let path = dir.join("config.json");
                let text = match std::fs::read_to_string(&path) {
                    Ok(t) => Some(t),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                    Err(e) => return Err(Error::io(&path, e)),
                };
                let n = parse_vocab(&vocab, &files[0])?.len();
                SplitRegex::for_checkpoint(n, text.as_deref(), &path)?
            }
        };
        Self::build(&vocab, &merges, &config, split, &files)
    }

    /// Builds the tokenizer from the contents of `vocab.json`, `merges.txt`
    /// and `tokenizer_config.json` (errors name those files).
    pub fn from_strings(
        vocab_json: &str,
        merges_txt: &str,
        tokenizer_config_json: &str,
        split: SplitRegex,
    ) -> Result<Self> {
        let files = ["vocab.json", "merges.txt", "tokenizer_config.json"].map(PathBuf::from);
        Self::build(vocab_json, merges_txt, tokenizer_config_json, split, &files)
    }

    fn build(
        vocab_json: &str,
        merges_txt: &str,
        config_json: &str,
        split: SplitRegex,
        files: &[PathBuf; 3],
    ) -> Result<Self> {
        let vocab = parse_vocab(vocab_json, &files[0])?;
        let bpe_vocab_size = vocab.len();
        let merges = parse_merges(merges_txt, &vocab, &files[1])?;
        let bpe = BPE::builder()
            .vocab_and_merges(vocab, merges)
            .build()
            .map_err(|e| Error::ModelFile {
                path: files[1].clone(),
                reason: e.to_string(),
            })?;

        let mut inner = Tokenizer::new(bpe);
        // set before adding tokens: the added vocabulary normalizes
        // `normalized: true` tokens with it
        inner
            .with_normalizer(Some(NFC))
            .map_err(|e| Error::Internal(format!("qwen3 tokenizer normalizer: {e}")))?;
        let splitter = Split::new(
            SplitPattern::Regex(split.pattern().to_string()),
            SplitDelimiterBehavior::Isolated,
            false,
        )
        .map_err(|e| Error::Internal(format!("qwen3 tokenizer split pattern: {e}")))?;
        // the bytes are mapped without a prefix space and without the GPT-2
        // regex: the split above already did the splitting
        inner.with_pre_tokenizer(Some(Sequence::new(vec![
            splitter.into(),
            ByteLevel::new(false, true, false).into(),
        ])));
        inner.with_decoder(Some(ByteLevel::new(false, true, false)));
        // (the reference's ByteLevel post-processor only trims offsets: no
        // effect on ids, left out)

        add_tokens(&mut inner, config_json, &files[2])?;
        Ok(TextTokenizer {
            inner,
            split,
            bpe_vocab_size,
        })
    }

    /// The token ids of `text`, as qwen-tts feeds them to the model
    /// (no BOS/EOS is added: Qwen2 has none).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let enc = self
            .inner
            .encode_fast(text, false)
            .map_err(|e| Error::Internal(format!("qwen3 tokenizer: {e}")))?;
        Ok(enc.get_ids().to_vec())
    }

    /// The text of `ids` (invalid UTF-8 from partial byte tokens becomes
    /// U+FFFD; unknown ids are dropped). `skip_special_tokens` leaves out the
    /// special added tokens (those flagged `special`, plus the eos/pad/…
    /// and `additional_special_tokens` of the config), as transformers does.
    pub fn decode(&self, ids: &[u32], skip_special_tokens: bool) -> Result<String> {
        self.inner
            .decode(ids, skip_special_tokens)
            .map_err(|e| Error::Internal(format!("qwen3 tokenizer decode: {e}")))
    }

    /// The id of a token: an added token by its text (`"<tts_pad>"`), or a
    /// BPE token in its byte-level spelling (`"Ġworld"`).
    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// Whether `token` is a special added token (skipped by
    /// [`decode`](Self::decode) with `skip_special_tokens`).
    pub fn is_special(&self, token: &str) -> bool {
        self.inner.get_added_vocabulary().is_special_token(token)
    }

    /// The split pattern in use.
    pub fn split_regex(&self) -> SplitRegex {
        self.split
    }

    /// Number of BPE tokens (`vocab.json` entries; 151 643 in the release).
    pub fn bpe_vocab_size(&self) -> usize {
        self.bpe_vocab_size
    }

    /// Number of ids including the added tokens.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }
}

fn parse_vocab(text: &str, path: &Path) -> Result<Vocab> {
    let map: std::collections::HashMap<String, u32> =
        serde_json::from_str(text).map_err(|e| Error::ModelFile {
            path: path.to_path_buf(),
            reason: format!("not a JSON object of token -> id: {e}"),
        })?;
    Ok(map.into_iter().collect())
}

/// Reads merges like the slow `Qwen2Tokenizer` (a `#version` first line and
/// blank lines skipped, tokens separated by whitespace) and keeps the first
/// occurrence of a repeated merge, as the fast converter does.
fn parse_merges(text: &str, vocab: &Vocab, path: &Path) -> Result<Vec<(String, String)>> {
    let bad = |line: usize, reason: String| Error::ModelFile {
        path: path.to_path_buf(),
        reason: format!("line {line}: {reason}"),
    };
    let mut seen = HashSet::new();
    let mut merges = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || (i == 0 && line.starts_with("#version:")) {
            continue;
        }
        let parts: Vec<&str> = line.split_whitespace().collect();
        let [a, b] = parts[..] else {
            return Err(bad(
                i + 1,
                format!("expected two tokens separated by a space, got {line:?}"),
            ));
        };
        for t in [a, b] {
            if !vocab.contains_key(t) {
                return Err(bad(i + 1, format!("token {t:?} is not in vocab.json")));
            }
        }
        let merged = format!("{a}{b}");
        if !vocab.contains_key(&merged) {
            return Err(bad(
                i + 1,
                format!("the merge of {a:?} and {b:?} ({merged:?}) is not in vocab.json"),
            ));
        }
        if seen.insert((a, b)) {
            merges.push((a.to_string(), b.to_string()));
        }
    }
    Ok(merges)
}

/// The text of a special-token entry of `tokenizer_config.json`: a string,
/// or an `AddedToken` object with `content`.
fn token_text(v: &Value) -> Option<&str> {
    match v {
        Value::String(s) => Some(s),
        Value::Object(o) => o.get("content").and_then(Value::as_str),
        _ => None,
    }
}

/// Adds the `added_tokens_decoder` entries in id order, marking special
/// the ones flagged so or named by a special-token key (what
/// `PreTrainedTokenizerFast.__init__` does), and checks that each got the
/// id the config gives it.
fn add_tokens(inner: &mut Tokenizer, config_json: &str, path: &Path) -> Result<()> {
    let bad = |reason: String| Error::ModelFile {
        path: path.to_path_buf(),
        reason,
    };
    let config: Value =
        serde_json::from_str(config_json).map_err(|e| bad(format!("not valid JSON: {e}")))?;
    let decoder = config
        .get("added_tokens_decoder")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            bad("no added_tokens_decoder: the chat and TTS tokens are defined there".into())
        })?;

    // the special-token attributes; Qwen2Tokenizer defaults unk/eos/pad to
    // <|endoftext|> when the key is absent (an explicit null means none)
    let mut special_names: Vec<String> = Vec::new();
    for key in [
        "bos_token",
        "eos_token",
        "unk_token",
        "sep_token",
        "pad_token",
        "cls_token",
        "mask_token",
    ] {
        match config.get(key) {
            Some(v) => special_names.extend(token_text(v).map(str::to_string)),
            None if matches!(key, "unk_token" | "eos_token" | "pad_token") => {
                special_names.push(END_OF_TEXT.to_string())
            }
            None => {}
        }
    }
    if let Some(list) = config
        .get("additional_special_tokens")
        .and_then(Value::as_array)
    {
        special_names.extend(list.iter().filter_map(token_text).map(str::to_string));
    }

    let mut entries = Vec::with_capacity(decoder.len());
    for (id, entry) in decoder {
        let id: u32 = id
            .parse()
            .map_err(|_| bad(format!("added_tokens_decoder key {id:?} is not an id")))?;
        let entry: AddedEntry = serde_json::from_value(entry.clone())
            .map_err(|e| bad(format!("added_tokens_decoder[{id}]: {e}")))?;
        entries.push((id, entry));
    }
    entries.sort_by_key(|(id, _)| *id);

    let mut added: Vec<(u32, String)> = Vec::new();
    for (id, e) in entries {
        let special = e.special || special_names.contains(&e.content);
        let token = AddedToken::from(e.content.clone(), special)
            .single_word(e.single_word)
            .lstrip(e.lstrip)
            .rstrip(e.rstrip)
            .normalized(e.normalized);
        inner
            .add_tokens([token])
            .map_err(|err| bad(format!("adding {:?}: {err}", e.content)))?;
        added.push((id, e.content));
    }
    // special tokens named in the config but not declared are appended
    for name in &special_names {
        if inner.token_to_id(name).is_none() {
            inner
                .add_tokens([AddedToken::from(name.clone(), true)])
                .map_err(|err| bad(format!("adding {name:?}: {err}")))?;
        }
    }
    // the backend numbers added tokens after the BPE vocabulary; a config
    // with gaps or clashes would silently shift every id after it
    for (id, content) in &added {
        let got = inner.token_to_id(content);
        if got != Some(*id) {
            return Err(bad(format!(
                "added token {content:?} has id {id} but would get {got:?}: added ids must \
                 follow vocab.json contiguously"
            )));
        }
    }
    if config
        .get("split_special_tokens")
        .and_then(Value::as_bool)
        .unwrap_or(false)
    {
        inner.set_encode_special_tokens(true);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering::*;

    #[test]
    fn pep440_ordering_against_releases() {
        let t = [4, 57, 2];
        for (v, want) in [
            ("4.57.2", Equal),
            ("4.57", Less),
            ("4.57.3", Greater),
            ("4.57.2.post1", Greater),
            ("4.57.2+local", Greater),
            ("4.57.2-1", Greater),
            ("4.57.2.dev0", Less),
            ("4.57.2rc1", Less),
            ("4.57.2a1", Less),
            ("v4.57.2", Equal),
            ("1!1.0", Greater),
            ("4.58.0.dev0", Greater),
        ] {
            assert_eq!(compare_version(v, t), Some(want), "{v}");
        }
        assert_eq!(compare_version("5.0.0.dev0", [5, 0, 0]), Some(Less));
        assert_eq!(compare_version("banana", t), None);
        assert_eq!(compare_version("4.57.2xyz", t), None);
    }

    #[test]
    fn prompts_match_qwen_tts() {
        assert_eq!(
            assistant_prompt("hi"),
            "<|im_start|>assistant\nhi<|im_end|>\n<|im_start|>assistant\n"
        );
        assert_eq!(
            reference_prompt("hi"),
            "<|im_start|>assistant\nhi<|im_end|>\n"
        );
        assert_eq!(instruct_prompt("hi"), "<|im_start|>user\nhi<|im_end|>\n");
    }
}
