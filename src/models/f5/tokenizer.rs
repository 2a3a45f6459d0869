//! Text to F5-TTS token ids: characters, Chinese as tone-numbered pinyin.
//!
//! Port of upstream `convert_char_to_pinyin` + `list_str_to_idx`
//! (`f5_tts/model/utils.py`):
//!
//! - `;` becomes `,` and curly quotes straight ones (upstream's only
//!   normalization: the full-width `；` stays as it is);
//! - the text is cut into words by jieba ([`super::pinyin::segment`]);
//! - an ASCII word is spelled one character per token, with a `" "` token
//!   before a word of two or more characters unless the previous token is
//!   one of `` :'" ``;
//! - a word of 3-byte characters (Chinese, CJK punctuation, full-width
//!   forms) gets word-level pinyin ([`super::pinyin::word_pinyin`]), with a
//!   `" "` token before every character in U+3100..=U+9FFF;
//! - any other word goes character by character: Latin-1 characters as they
//!   are, Chinese ones as single-character pinyin after a `" "`, the rest
//!   (emoji, 4-byte CJK) as they are;
//! - tokens map to their line in `vocab.txt`; an unknown token is 0, which
//!   is also the space.
//!
//! It also holds the text-side rules of the inference script: the
//! reference transcript's fix-up and the checks on user text.

use std::collections::HashMap;
use std::path::Path;

use super::checkpoint::Vocab;
use super::pinyin;
use crate::{Error, Result};

/// Id of the space, which is also what unknown tokens become.
pub const UNKNOWN_ID: i64 = 0;

/// Maps F5-TTS tokens to ids.
#[derive(Debug, Clone)]
pub struct Tokenizer {
    ids: HashMap<String, i64>,
    /// Distinct tokens: upstream's `vocab_size`, the text embedding's
    /// `text_num_embeds`.
    vocab_size: usize,
}

impl Tokenizer {
    /// Reads a `vocab.txt` (one token per line, line `i` = id `i`).
    pub fn from_vocab_file(path: &Path) -> Result<Self> {
        let vocab = Vocab::from_file(path)?;
        Self::build(vocab.tokens()).map_err(|reason| Error::VoiceConfig {
            path: path.to_path_buf(),
            reason,
        })
    }

    /// From a vocabulary already read (see [`Vocab`]).
    pub fn from_vocab(vocab: &Vocab) -> Result<Self> {
        Self::from_tokens(vocab.tokens())
    }

    /// From the tokens in id order. The first must be `" "`: id 0 is both
    /// the space and the unknown token, and the model was trained so
    /// ([`Error::InvalidArgument`] otherwise).
    pub fn from_tokens<S: AsRef<str>>(tokens: &[S]) -> Result<Self> {
        Self::build(tokens)
            .map_err(|reason| Error::InvalidArgument(format!("F5-TTS vocabulary: {reason}")))
    }

    fn build<S: AsRef<str>>(tokens: &[S]) -> std::result::Result<Self, String> {
        match tokens.first().map(AsRef::as_ref) {
            Some(" ") => {}
            Some(other) => {
                return Err(format!(
                    "line 0 is {other:?}, not the space that F5-TTS uses for id 0"
                ))
            }
            None => return Err("the vocabulary is empty".into()),
        }
        let mut ids = HashMap::with_capacity(tokens.len());
        for (i, token) in tokens.iter().enumerate() {
            // A repeated token keeps its last line, as upstream's dict does.
            ids.insert(token.as_ref().to_string(), i as i64);
        }
        let vocab_size = ids.len();
        pinyin::warm_up();
        Ok(Self { ids, vocab_size })
    }

    /// Number of distinct tokens (the model's `text_num_embeds`).
    pub fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    /// Id of one token, [`UNKNOWN_ID`] when the vocabulary lacks it.
    pub fn id(&self, token: &str) -> i64 {
        self.ids.get(token).copied().unwrap_or(UNKNOWN_ID)
    }

    /// Ids of `text` (upstream: `list_str_to_idx(convert_char_to_pinyin([text]))`,
    /// without padding and without the +1 the text embedding adds). For
    /// inference `text` is the reference transcript followed by the text to
    /// speak, as prepared by [`ref_text_for_model`].
    pub fn encode(&self, text: &str) -> Vec<i64> {
        text_to_tokens(text).iter().map(|t| self.id(t)).collect()
    }
}

/// Upstream's `custom_trans`: the only normalization before segmentation.
fn normalize(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            ';' => ',',
            '\u{201C}' | '\u{201D}' => '"',
            '\u{2018}' | '\u{2019}' => '\'',
            c => c,
        })
        .collect()
}

/// Upstream's `is_chinese`: the characters that get a `" "` token before
/// their pinyin.
fn is_chinese(c: char) -> bool {
    ('\u{3100}'..='\u{9FFF}').contains(&c)
}

/// The tokens of `text` (upstream `convert_char_to_pinyin([text])[0]`).
pub fn text_to_tokens(text: &str) -> Vec<String> {
    let text = normalize(text);
    let mut tokens: Vec<String> = Vec::with_capacity(text.len() * 2);
    for word in pinyin::segment(&text) {
        let chars = word.chars().count();
        if word.len() == chars {
            // ASCII. Upstream tests `tokens[-1] not in " :'\""`, a substring
            // test on the last token; kept as such.
            let after_separator = tokens.last().is_some_and(|t| " :'\"".contains(t.as_str()));
            if !tokens.is_empty() && chars > 1 && !after_separator {
                tokens.push(" ".into());
            }
            tokens.extend(word.chars().map(String::from));
        } else if word.len() == 3 * chars {
            let syllables = pinyin::word_pinyin(word);
            if syllables.len() == chars {
                for (c, syllable) in word.chars().zip(syllables) {
                    if is_chinese(c) {
                        tokens.push(" ".into());
                    }
                    tokens.push(syllable);
                }
            } else {
                // Fewer items than characters: a run of several characters
                // without pinyin inside one word. Upstream indexes past the
                // end and fails; character by character is the sane reading.
                push_char_by_char(word, &mut tokens);
            }
        } else {
            push_char_by_char(word, &mut tokens);
        }
    }
    tokens
}

/// Upstream's branch for words mixing byte lengths.
fn push_char_by_char(word: &str, tokens: &mut Vec<String>) {
    for c in word.chars() {
        if (c as u32) < 256 {
            tokens.push(c.into());
        } else if is_chinese(c) {
            tokens.push(" ".into());
            tokens.extend(pinyin::word_pinyin(c.encode_utf8(&mut [0; 4])));
        } else {
            tokens.push(c.into());
        }
    }
}

/// Whether `text` has anything a voice can say: a letter, digit or
/// ideograph (emoji, punctuation and symbols are not).
fn has_speakable(text: &str) -> bool {
    text.chars().any(char::is_alphanumeric)
}

/// Checks the text to speak: [`Error::EmptyText`] when it is empty or only
/// whitespace, [`Error::NothingToSpeak`] when it holds no letter, digit or
/// ideograph (only emoji, punctuation or symbols).
pub fn check_gen_text(text: &str) -> Result<()> {
    if text.trim().is_empty() {
        return Err(Error::EmptyText);
    }
    if !has_speakable(text) {
        return Err(Error::NothingToSpeak);
    }
    Ok(())
}

/// The reference transcript as upstream's `preprocess_ref_audio_text`
/// leaves it: unless it already ends with `". "` or `"。"`, a final `"."`
/// gets a `" "` and anything else gets `". "`, so that the new text starts
/// a sentence. This is the text the chunk size is computed from
/// ([`super::chunking::max_chunk_bytes`]).
///
/// Errors with [`Error::InvalidText`] when the transcript is empty or has
/// no words: F5-TTS needs the words spoken in the reference recording
/// (upstream would transcribe it with Whisper; no recognizer is bundled).
pub fn prepare_ref_text(transcript: &str) -> Result<String> {
    if transcript.trim().is_empty() {
        return Err(Error::InvalidText(
            "the reference transcript is empty: F5-TTS needs the words spoken in the \
             reference audio"
                .into(),
        ));
    }
    if !has_speakable(transcript) {
        return Err(Error::InvalidText(format!(
            "the reference transcript {transcript:?} has no words, only punctuation, \
             symbols or emoji"
        )));
    }
    let mut text = transcript.to_string();
    if !text.ends_with(". ") && !text.ends_with('。') {
        text.push_str(if text.ends_with('.') { " " } else { ". " });
    }
    Ok(text)
}

/// The reference transcript as the model sees it (upstream
/// `infer_batch_process`): one more `" "` when its last character is a
/// single byte, so a prepared English transcript ends in `".  "`. Takes the
/// output of [`prepare_ref_text`]; the text to tokenize is this followed by
/// the chunk to speak, and [`super::chunking::estimate_duration`] counts
/// its bytes.
pub fn ref_text_for_model(prepared: &str) -> String {
    let mut text = prepared.to_string();
    if text.chars().next_back().is_some_and(|c| c.is_ascii()) {
        text.push(' ');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(text: &str) -> Vec<String> {
        text_to_tokens(text)
    }

    fn strs(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn chinese_gets_a_space_before_each_syllable() {
        assert_eq!(toks("你好"), strs(&[" ", "ni2", " ", "hao3"]));
        assert_eq!(
            toks("我很好，谢谢。"),
            strs(&[" ", "wo3", " ", "hen3", " ", "hao3", "，", " ", "xie4", " ", "xie4", "。"])
        );
    }

    #[test]
    fn ascii_words_are_spelled_with_spaces_between_words() {
        assert_eq!(
            toks("Hi, 你好!"),
            strs(&["H", "i", ",", " ", " ", "ni2", " ", "hao3", "!"])
        );
        // A multi-character ASCII word right after Chinese gets a space.
        assert_eq!(
            toks("用iPhone"),
            strs(&[" ", "yong4", " ", "i", "P", "h", "o", "n", "e"])
        );
    }

    #[test]
    fn normalization_is_upstreams() {
        assert_eq!(toks("a;b"), strs(&["a", ",", "b"]));
        assert_eq!(toks("“a”"), strs(&["\"", "a", "\""]));
        assert_eq!(toks("‘a’"), strs(&["'", "a", "'"]));
        // The full-width semicolon is kept.
        assert_eq!(toks("；"), strs(&["；"]));
    }

    #[test]
    fn other_scripts_pass_through() {
        assert_eq!(toks("😊"), strs(&["😊"]));
        assert_eq!(toks("é"), strs(&["é"]));
        assert!(toks("").is_empty());
    }

    #[test]
    fn ids_use_the_vocabulary_and_zero_for_unknown() {
        let t = Tokenizer::from_tokens(&[" ", "a", "ni2", "hao3", "a"]).unwrap();
        assert_eq!(t.vocab_size(), 4);
        // The repeated "a" keeps its last line.
        assert_eq!(t.encode("a你好b"), vec![4, 0, 2, 0, 3, 0]);
        assert!(Tokenizer::from_tokens(&["a", " "]).is_err());
        assert!(Tokenizer::from_tokens::<&str>(&[]).is_err());
    }

    #[test]
    fn reference_transcript_fix_up() {
        assert_eq!(prepare_ref_text("Hello").unwrap(), "Hello. ");
        assert_eq!(prepare_ref_text("Hello.").unwrap(), "Hello. ");
        assert_eq!(prepare_ref_text("Hello. ").unwrap(), "Hello. ");
        assert_eq!(prepare_ref_text("你好。").unwrap(), "你好。");
        assert_eq!(prepare_ref_text("你好").unwrap(), "你好. ");
        assert_eq!(ref_text_for_model("Hello. "), "Hello.  ");
        assert_eq!(ref_text_for_model("你好。"), "你好。");
        assert!(matches!(prepare_ref_text(""), Err(Error::InvalidText(_))));
        assert!(matches!(
            prepare_ref_text(" \n"),
            Err(Error::InvalidText(_))
        ));
        assert!(matches!(prepare_ref_text("?!"), Err(Error::InvalidText(_))));
    }

    #[test]
    fn gen_text_checks() {
        assert!(matches!(check_gen_text(""), Err(Error::EmptyText)));
        assert!(matches!(check_gen_text("  \t"), Err(Error::EmptyText)));
        assert!(matches!(
            check_gen_text("👍🎉!"),
            Err(Error::NothingToSpeak)
        ));
        assert!(matches!(check_gen_text("……？"), Err(Error::NothingToSpeak)));
        assert!(check_gen_text("你好").is_ok());
        assert!(check_gen_text("5").is_ok());
    }
}
