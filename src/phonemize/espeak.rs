//! espeak-ng as a phonemizer, reproducing piper-tts's bridge around
//! `espeak_TextToPhonemesWithTerminator`.
//!
//! espeak-ng 1.52 (vendored by `espeak-rs-sys`) does not export that
//! function, but has its building block, the internal
//! `TranslateClauseWithTerminator`; the static library lets us call it
//! together with the other internals `espeak_TextToPhonemes` uses.
//!
//! Two deliberate differences from piper's C code, neither visible in the
//! phonemes of valid text: the text is decoded as UTF-8 with its remaining
//! length given (piper's `espeakCHARS_AUTO` `strlen`s the rest of the text
//! for every clause, and falls back to Latin-1 for the rest of a clause
//! after a U+FFFD), and interior NULs are read as spaces.
//!
//! espeak-ng keeps all its state in globals and is not thread-safe: every
//! call goes through one process-wide lock.

use std::ffi::{c_char, c_int, CStr, CString};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use espeak_rs_sys as sys;
use unicode_normalization::UnicodeNormalization;

use super::data_dir::find_espeak_data;
use crate::{Error, Result};

// espeak-ng internals that `espeak_TextToPhonemes` uses but the public
// headers do not declare (translate.h, dictionary.h). The text decoder
// functions come with the bindings (encoding.h).
extern "C" {
    /// The decoder `espeak_TextToPhonemes` reads the text through
    /// (readclause.c); created on first use.
    static mut p_decoder: *mut sys::espeak_ng_TEXT_DECODER;
    /// The current voice's translator (set by `espeak_SetVoiceByName`).
    static mut translator: *mut std::ffi::c_void;
    fn TranslateClauseWithTerminator(
        tr: *mut std::ffi::c_void,
        tone_out: *mut c_int,
        voice_change: *mut *mut c_char,
        terminator_out: *mut c_int,
    );
    fn GetTranslatedPhonemeString(phoneme_mode: c_int) -> *const c_char;
    /// The current clause as phonemes (synthesize.h), `n_phoneme_list`
    /// entries, read for each word's place in the text.
    static phoneme_list: [PhonemeListEntry; N_PHONEME_LIST + 1];
    static n_phoneme_list: c_int;
    /// Characters read so far (readclause.c) and where the current clause
    /// began (translate.c): a word's `sourceix` counts from the latter.
    static mut count_characters: c_int;
    static clause_start_char: c_int;
}

/// `N_PHONEME_LIST` of synthesize.h.
const N_PHONEME_LIST: usize = 1000;

/// espeak-ng's `PHONEME_LIST` (synthesize.h, 1.52), as far as it is read
/// here. Its layout is checked at run time against the end marker espeak
/// writes after every clause (see [`phoneme_list_layout_ok`]).
#[repr(C)]
#[derive(Clone, Copy)]
struct PhonemeListEntry {
    synthflags: u16,
    phcode: u8,
    stresslevel: u8,
    /// At a word's start: bits 0-10 its first character's place in the
    /// clause (1-based), bits 11-15 its length in characters (at most 31).
    sourceix: u16,
    wordstress: u8,
    tone_ph: u8,
    ph: *const std::ffi::c_void,
    length: u32,
    env: u8,
    kind: u8,
    prepause: u8,
    amp: u8,
    /// `PHLIST_*` flags.
    newword: u8,
    pitch1: u8,
    pitch2: u8,
    std_length: u8,
    phontab_addr: u32,
    sound_param: c_int,
}

const PHLIST_START_OF_WORD: u8 = 1;
const PHLIST_START_OF_SENTENCE: u8 = 4;
const PHLIST_START_OF_CLAUSE: u8 = 8;

// Clause flags (translate.h), as piper's bridge decodes them.
const CLAUSE_INTONATION_FULL_STOP: c_int = 0x0000_0000;
const CLAUSE_INTONATION_COMMA: c_int = 0x0000_1000;
const CLAUSE_INTONATION_QUESTION: c_int = 0x0000_2000;
const CLAUSE_INTONATION_EXCLAMATION: c_int = 0x0000_3000;
const CLAUSE_TYPE_CLAUSE: c_int = 0x0004_0000;
const CLAUSE_TYPE_SENTENCE: c_int = 0x0008_0000;
const CLAUSE_PERIOD: c_int = 40 | CLAUSE_INTONATION_FULL_STOP | CLAUSE_TYPE_SENTENCE;
const CLAUSE_COMMA: c_int = 20 | CLAUSE_INTONATION_COMMA | CLAUSE_TYPE_CLAUSE;
const CLAUSE_QUESTION: c_int = 40 | CLAUSE_INTONATION_QUESTION | CLAUSE_TYPE_SENTENCE;
const CLAUSE_EXCLAMATION: c_int = 45 | CLAUSE_INTONATION_EXCLAMATION | CLAUSE_TYPE_SENTENCE;
const CLAUSE_COLON: c_int = 30 | CLAUSE_INTONATION_FULL_STOP | CLAUSE_TYPE_CLAUSE;
const CLAUSE_SEMICOLON: c_int = 30 | CLAUSE_INTONATION_COMMA | CLAUSE_TYPE_CLAUSE;

/// Size of espeak-ng's `path_home` buffer (speech.h `N_PATH_HOME` on
/// Linux): a longer data path would be silently truncated.
const N_PATH_HOME: usize = 230;

/// Global espeak-ng state: initialized once per process.
struct EspeakState {
    /// The data directory espeak-ng was initialized with.
    data_dir: Option<PathBuf>,
    /// The voice currently selected, so it is switched only on change.
    voice: Option<String>,
}

static ESPEAK: Mutex<EspeakState> = Mutex::new(EspeakState {
    data_dir: None,
    voice: None,
});

/// Text to IPA phonemes with espeak-ng, grouped by sentence as piper-tts
/// groups them.
///
/// Cheap to clone: espeak-ng itself is one process-wide instance behind a
/// lock, so calls from several threads are serialized.
#[derive(Debug, Clone)]
pub struct EspeakPhonemizer {
    data_dir: PathBuf,
}

impl EspeakPhonemizer {
    /// Initializes espeak-ng (once per process) with the data at
    /// `data_dir`, or the one [`find_espeak_data`] finds for `None`.
    ///
    /// espeak-ng is process-global: once initialized, later phonemizers
    /// share the first one's data whatever `data_dir` they name. As a side
    /// effect espeak-ng sets the process's `LC_CTYPE` locale to `C.UTF-8`.
    pub fn new(data_dir: Option<&Path>) -> Result<Self> {
        let mut state = lock();
        if let Some(dir) = &state.data_dir {
            return Ok(Self {
                data_dir: dir.clone(),
            });
        }
        let dir = find_espeak_data(data_dir)?;
        let path = dir.to_str().ok_or_else(|| {
            Error::Phonemizer(format!(
                "espeak-ng data path {} is not valid UTF-8",
                dir.display()
            ))
        })?;
        if path.len() >= N_PATH_HOME - "/espeak-ng-data".len() {
            return Err(Error::Phonemizer(format!(
                "espeak-ng data path {path} is too long for espeak-ng ({} bytes at most); \
                 move the data or link it from a shorter path",
                N_PATH_HOME - "/espeak-ng-data".len() - 1
            )));
        }
        let c_dir = CString::new(path)
            .map_err(|_| Error::Phonemizer("espeak-ng data path contains a NUL byte".into()))?;
        // The steps of `espeak_Initialize` (espeak_api.c), which reports
        // failure only by printing it: here the status is kept.
        // SAFETY: under the global lock; espeak copies the path.
        unsafe {
            sys::espeak_ng_InitializePath(c_dir.as_ptr());
            let mut context: sys::espeak_ng_ERROR_CONTEXT = std::ptr::null_mut();
            let status = sys::espeak_ng_Initialize(&mut context);
            sys::espeak_ng_ClearErrorContext(&mut context);
            if status != sys::espeak_ng_STATUS_ENS_OK {
                return Err(Error::Phonemizer(format!(
                    "espeak-ng failed to load its data from {}: {}",
                    dir.display(),
                    status_message(status)
                )));
            }
            // piper initializes with AUDIO_OUTPUT_SYNCHRONOUS; no audio is
            // ever produced here.
            sys::espeak_ng_InitializeOutput(
                sys::espeak_ng_OUTPUT_MODE_ENOUTPUT_MODE_SYNCHRONOUS,
                0,
                std::ptr::null(),
            );
        }
        state.data_dir = Some(dir.clone());
        Ok(Self { data_dir: dir })
    }

    /// The espeak-ng data directory in use.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Phonemes of `text` in espeak `voice` (e.g. `en-us`), exactly as
    /// piper-tts's `PiperVoice.phonemize` computes them for an espeak voice:
    /// one list per sentence (as espeak-ng's clause flags delimit them),
    /// each phoneme one Unicode code point after NFD, language-switch flags
    /// such as `(fr)` removed, clause terminators kept (`, : ;` followed by
    /// a space), and `[[ raw phonemes ]]` blocks passed through as they are.
    /// Text with no speakable content gives no sentences.
    pub fn phonemize(&self, voice: &str, text: &str) -> Result<Vec<Vec<String>>> {
        self.phonemize_with_clusters(voice, text, &[])
    }

    /// [`phonemize`](Self::phonemize), also merging the voice's
    /// `vowel_clusters` (e.g. `["a", "ɪ"]` → `"aɪ"`) within each sentence
    /// espeak-ng produced, as piper does; an empty `clusters` merges
    /// nothing.
    pub fn phonemize_with_clusters(
        &self,
        voice: &str,
        text: &str,
        clusters: &[Vec<String>],
    ) -> Result<Vec<Vec<String>>> {
        Ok(self
            .phonemize_words(voice, text, clusters)?
            .into_iter()
            .map(|s| s.phonemes)
            .collect())
    }

    /// [`phonemize_with_clusters`](Self::phonemize_with_clusters), with
    /// the words each sentence's phonemes speak: which phonemes, and which
    /// bytes of `text` they read, as espeak-ng's own word boundaries give
    /// them. The phonemes are the same.
    pub fn phonemize_words(
        &self,
        voice: &str,
        text: &str,
        clusters: &[Vec<String>],
    ) -> Result<Vec<PhonemizedSentence>> {
        // piper's `PiperVoice.phonemize` (voice.py), espeak branch; its
        // Arabic diacritization (tashkeel) is not reproduced.
        let parts = split_raw_blocks(text);
        let mut sentences: Vec<PhonemizedSentence> = Vec::new();
        let mut prev_raw = false;
        for (i, part) in parts.iter().enumerate() {
            if part.starts_with("[[") {
                prev_raw = true;
                if sentences.is_empty() {
                    sentences.push(PhonemizedSentence::default());
                }
                let sentence = &mut sentences.last_mut().expect("one was pushed").phonemes;
                if i > 0 && parts[i - 1].ends_with(' ') {
                    sentence.push(" ".into());
                }
                // `part[2:-2].strip()`, one phoneme per code point, no NFD
                let chars: Vec<char> = part.chars().collect();
                let inner: String = if chars.len() >= 4 {
                    chars[2..chars.len() - 2].iter().collect()
                } else {
                    String::new()
                };
                sentence.extend(inner.trim_matches(py_isspace).chars().map(String::from));
                if i + 1 < parts.len() && parts[i + 1].starts_with(' ') {
                    sentence.push(" ".into());
                }
                continue;
            }
            // `split_raw_blocks` returns slices of `text`
            let offset = part.as_ptr() as usize - text.as_ptr() as usize;
            let mut part_sentences = self
                .espeak_sentences(voice, part, offset, clusters)?
                .into_iter();
            if prev_raw {
                // text right after a raw block continues its sentence
                if let Some(first) = part_sentences.next() {
                    sentences
                        .last_mut()
                        .expect("a raw block made one")
                        .append(first);
                }
            }
            sentences.extend(part_sentences);
            prev_raw = false;
        }
        // espeak-ng ends the text with an empty clause after the last
        // terminator; piper drops the empty sentence it makes
        if sentences.last().is_some_and(|s| s.phonemes.is_empty()) {
            sentences.pop();
        }
        Ok(sentences)
    }

    /// piper's `EspeakPhonemizer.phonemize` (phonemize_espeak.py): espeak-ng
    /// over plain text, sentences as its clause flags delimit them, empty
    /// ones included. Word text ranges are shifted by `offset` (where
    /// `text` starts in the caller's text).
    fn espeak_sentences(
        &self,
        voice: &str,
        text: &str,
        offset: usize,
        clusters: &[Vec<String>],
    ) -> Result<Vec<PhonemizedSentence>> {
        // An interior NUL would end the C string early: read it as a space,
        // as a C caller's text would simply end there.
        let spaced = space_out_emoji(text).replace('\0', " ");
        let clauses = {
            let mut state = lock();
            set_voice(&mut state, voice, &self.data_dir)?;
            let c_text = CString::new(spaced.as_str()).expect("NULs were replaced");
            // SAFETY: the lock is held.
            unsafe { clauses(&c_text)? }
        };
        // Each sentence's phonemes, and its words: their phonemes and the
        // char where each starts.
        type Words = Vec<(Range<usize>, usize)>;
        let mut raw: Vec<(Vec<String>, Words)> = Vec::new();
        let mut sentence: Vec<String> = Vec::new();
        let mut words: Words = Vec::new();
        for clause in clauses {
            let phonemes = strip_language_flags(&clause.phonemes);
            let segments: Vec<&str> = phonemes.split(' ').collect();
            let starts = clause.words.filter(|w| w.len() == segments.len());
            let last = segments.len() - 1;
            for (k, seg) in segments.iter().enumerate() {
                if k > 0 {
                    sentence.push(" ".into());
                }
                let first = sentence.len();
                sentence.extend(seg.nfd().map(String::from));
                if k == last {
                    // the terminator is heard with the clause's last word
                    sentence.extend(clause.terminator.nfd().map(String::from));
                }
                match starts.as_ref().and_then(|w| w[k]) {
                    Some(at) => words.push((first..sentence.len(), at)),
                    // a word espeak-ng gave no place of its own belongs to
                    // the one before it
                    None => {
                        if let Some(w) = words.last_mut() {
                            w.0.end = sentence.len();
                        }
                    }
                }
            }
            if matches!(clause.terminator, "," | ":" | ";") {
                sentence.push(" ".into());
            }
            if clause.ends_sentence {
                raw.push((std::mem::take(&mut sentence), std::mem::take(&mut words)));
            }
        }
        if !sentence.is_empty() {
            // text without a final sentence terminator
            raw.push((sentence, words));
        }

        let chars: Vec<char> = spaced.chars().collect();
        let bytes_of = spaced_char_bytes(text, &spaced);
        let all_starts: Vec<usize> = raw
            .iter()
            .flat_map(|(_, w)| w.iter().map(|w| w.1))
            .collect();
        let mut next_start = all_starts.into_iter().skip(1);
        let mut sentences = Vec::with_capacity(raw.len());
        for (phonemes, words) in raw {
            let mut out: Vec<PhonemeWord> = Vec::with_capacity(words.len());
            let mut prev: Option<(usize, usize)> = None; // the last word's chars
            for (ph, at) in words {
                let limit = next_start.next().unwrap_or(chars.len());
                if let (Some((a, b)), Some(w)) = (prev, out.last_mut()) {
                    // espeak-ng places each word it reads a token as ("23"
                    // → "twenty three", "1990") at one of its chars: one
                    // word of text
                    if at <= a || (at <= b && within_word(&chars, at)) {
                        w.phonemes.end = ph.end;
                        let end = limit.max(b);
                        w.text = trimmed_word(&chars, &bytes_of, offset, a, end);
                        prev = Some((a, end));
                        continue;
                    }
                }
                // up to the next word: a word espeak-ng read together with
                // this one ("on the" → "ɔnðə") is heard with it
                let end = limit.max(at);
                let text = trimmed_word(&chars, &bytes_of, offset, at, end);
                if text.is_empty() {
                    // placed on a space ("😀" → "grinning face"): part of
                    // the word before
                    if let Some(w) = out.last_mut() {
                        w.phonemes.end = ph.end;
                    }
                    continue;
                }
                out.push(PhonemeWord { phonemes: ph, text });
                prev = Some((at, end));
            }
            sentences.push(PhonemizedSentence::merged(phonemes, out, clusters));
        }
        Ok(sentences)
    }
}

/// One sentence as espeak-ng phonemized it, with its words.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PhonemizedSentence {
    /// The phonemes, as [`EspeakPhonemizer::phonemize_with_clusters`] gives
    /// them (words separated by `" "`).
    pub phonemes: Vec<String>,
    /// The words, in order. Phonemes outside every word: the spaces between
    /// words, and those of `[[ raw ]]` blocks.
    pub words: Vec<PhonemeWord>,
}

/// A word of a [`PhonemizedSentence`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhonemeWord {
    /// Its phonemes (indices into the sentence's), a clause's terminator
    /// included with its last word.
    pub phonemes: Range<usize>,
    /// The bytes of the phonemized text the word reads.
    pub text: Range<usize>,
}

impl PhonemizedSentence {
    /// A sentence from its unmerged phonemes and words, with the vowel
    /// clusters merged (clusters stay within words: none holds a space).
    fn merged(phonemes: Vec<String>, words: Vec<PhonemeWord>, clusters: &[Vec<String>]) -> Self {
        let (phonemes, map) = merge_clusters_mapped(phonemes, clusters);
        let words = words
            .into_iter()
            .filter(|w| w.phonemes.start < w.phonemes.end && w.phonemes.end <= map.len())
            .map(|w| PhonemeWord {
                phonemes: map[w.phonemes.start]..map[w.phonemes.end - 1] + 1,
                text: w.text,
            })
            .collect();
        Self { phonemes, words }
    }

    /// Appends `other` (text that continues this sentence).
    fn append(&mut self, other: PhonemizedSentence) {
        let shift = self.phonemes.len();
        self.phonemes.extend(other.phonemes);
        self.words
            .extend(other.words.into_iter().map(|w| PhonemeWord {
                phonemes: w.phonemes.start + shift..w.phonemes.end + shift,
                text: w.text,
            }));
    }
}

/// Whether char `at` continues a run of letters or digits (a word read in
/// several parts) rather than starting one after punctuation.
fn within_word(chars: &[char], at: usize) -> bool {
    at > 0 && at < chars.len() && chars[at - 1].is_alphanumeric() && chars[at].is_alphanumeric()
}

/// The bytes (shifted by `offset`) of chars `a..b`, without spaces at
/// either end, nor punctuation when letters or digits remain ("Hello, "
/// → "Hello"; a lone emoji stays).
fn trimmed_word(
    chars: &[char],
    bytes_of: &[usize],
    offset: usize,
    a: usize,
    b: usize,
) -> Range<usize> {
    let b = b.min(chars.len());
    let a = a.min(b);
    let (mut lo, mut hi) = (a, b);
    while lo < hi && chars[lo].is_whitespace() {
        lo += 1;
    }
    while hi > lo && chars[hi - 1].is_whitespace() {
        hi -= 1;
    }
    if chars[lo..hi].iter().any(|c| c.is_alphanumeric()) {
        while !chars[lo].is_alphanumeric() {
            lo += 1;
        }
        while !chars[hi - 1].is_alphanumeric() {
            hi -= 1;
        }
    }
    offset + bytes_of[lo]..offset + bytes_of[hi]
}

/// For each char of `spaced` (`text` with spaces inserted between emoji
/// and NULs read as spaces), the byte offset in `text` where it is, plus
/// one entry for the end: an inserted space maps to the byte it precedes.
fn spaced_char_bytes(text: &str, spaced: &str) -> Vec<usize> {
    let mut out = Vec::with_capacity(spaced.len() + 1);
    let mut orig = text.char_indices().peekable();
    for c in spaced.chars() {
        match orig.peek() {
            Some(&(i, o)) if o == c || (o == '\0' && c == ' ') => {
                out.push(i);
                orig.next();
            }
            Some(&(i, _)) => out.push(i),
            None => out.push(text.len()),
        }
    }
    out.push(text.len());
    out
}

/// Splits `text` around `[[ … ]]` blocks (on one line) the way piper's
/// `re.split(r"(\[\[.*?\]\])", text)` does: text, block, text, …, text.
fn split_raw_blocks(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut last = 0;
    let mut from = 0;
    while let Some(offset) = text[from..].find("[[") {
        let start = from + offset;
        let inner = start + 2;
        match text[inner..].find("]]") {
            // `.*?` matches no newline: the shortest block must not span one
            Some(len) if !text[inner..inner + len].contains('\n') => {
                let end = inner + len + 2;
                parts.push(&text[last..start]);
                parts.push(&text[start..end]);
                last = end;
                from = end;
            }
            _ => from = start + 1,
        }
    }
    parts.push(&text[last..]);
    parts
}

/// Characters the espeak-ng piper bundles reads as word characters and
/// 1.52 does not (`IsAlpha` in common.c, espeak-ng commits 22ba0feb and
/// dc9fa36e, 2026-03): emoji and pictographic symbols.
fn is_emoji(c: char) -> bool {
    matches!(c as u32, 0x2600..=0x27bf | 0x1f000..=0x1fbff)
}

/// Regional indicators: two make a flag (🇺🇸).
fn is_regional_indicator(c: char) -> bool {
    matches!(c as u32, 0x1f1e0..=0x1f1ff)
}

/// Puts a space between each emoji and any non-space character it
/// touches, keeping flags (pairs of regional indicators) whole.
///
/// The espeak-ng piper bundles reads every emoji as a word and so looks
/// each up in its emoji dictionary (`😀😃` → "grinning face grinning face
/// with big eyes", `❤️` → "red heart"); 1.52 reads touching emoji as one
/// group of symbols, keeping only the first word of each name
/// ("grinning grinning", "red"). Spaced apart, 1.52 gives the newer
/// reading. Where the newer reader does worse (it spells an emoji's
/// neighbouring letters, `job😂` → "J O B …", and reads emoji missing from
/// the dictionary and runs of flags as hex code points), the two still
/// differ.
fn space_out_emoji(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(is_emoji) {
        return text.into();
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut prev: Option<char> = None;
    // position within a run of regional indicators
    let mut indicators = 0usize;
    for c in text.chars() {
        indicators = if is_regional_indicator(c) {
            indicators + 1
        } else {
            0
        };
        if let Some(p) = prev {
            let second_of_flag = indicators.is_multiple_of(2) && is_regional_indicator(p);
            if (is_emoji(p) || is_emoji(c))
                && !p.is_whitespace()
                && !c.is_whitespace()
                && !second_of_flag
            {
                out.push(' ');
            }
        }
        out.push(c);
        prev = Some(c);
    }
    out.into()
}

/// Python's `str.isspace`, which `strip()` uses: Unicode whitespace plus
/// the information separators U+001C–U+001F.
fn py_isspace(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Merges runs of phonemes that form one of `clusters` into one phoneme,
/// longest cluster first, left to right (piper's
/// `_merge_known_vowel_clusters`). Clusters of fewer than two phonemes
/// never match, as in piper.
pub fn merge_vowel_clusters(phonemes: Vec<String>, clusters: &[Vec<String>]) -> Vec<String> {
    merge_clusters_mapped(phonemes, clusters).0
}

/// [`merge_vowel_clusters`], also returning where each input phoneme
/// went: `map[i]` is the index in the output of input phoneme `i`.
fn merge_clusters_mapped(
    phonemes: Vec<String>,
    clusters: &[Vec<String>],
) -> (Vec<String>, Vec<usize>) {
    let max_len = clusters.iter().map(Vec::len).max().unwrap_or(0);
    if max_len < 2 {
        let map = (0..phonemes.len()).collect();
        return (phonemes, map);
    }
    let mut out = Vec::with_capacity(phonemes.len());
    let mut map = Vec::with_capacity(phonemes.len());
    let mut i = 0;
    while i < phonemes.len() {
        let rest = &phonemes[i..];
        let n = (2..=max_len.min(rest.len()))
            .rev()
            .find(|&n| clusters.iter().any(|c| c.as_slice() == &rest[..n]))
            .unwrap_or(1);
        map.extend(std::iter::repeat_n(out.len(), n));
        out.push(rest[..n].concat());
        i += n;
    }
    (out, map)
}

fn lock() -> std::sync::MutexGuard<'static, EspeakState> {
    // A panic while the lock was held happened in Rust code between espeak
    // calls (espeak does not unwind), so its globals are still consistent.
    ESPEAK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Selects `voice` unless it is already the current one.
fn set_voice(state: &mut EspeakState, voice: &str, data_dir: &Path) -> Result<()> {
    if state.voice.as_deref() == Some(voice) {
        return Ok(());
    }
    let c_voice = CString::new(voice)
        .map_err(|_| Error::Phonemizer(format!("voice name {voice:?} contains a NUL byte")))?;
    // SAFETY: under the global lock; espeak copies the name.
    let rc = unsafe { sys::espeak_SetVoiceByName(c_voice.as_ptr()) };
    if rc != sys::espeak_ERROR_EE_OK {
        // espeak may have half-switched: force a switch next time
        state.voice = None;
        return Err(Error::Phonemizer(format!(
            "espeak-ng has no voice {voice:?} (looked in {}/voices and lang)",
            data_dir.display()
        )));
    }
    state.voice = Some(voice.to_string());
    Ok(())
}

/// The text of an espeak-ng status code.
fn status_message(status: sys::espeak_ng_STATUS) -> String {
    let mut buf = [0 as c_char; 512];
    // SAFETY: espeak writes at most `buf.len()` bytes, NUL-terminated.
    unsafe {
        sys::espeak_ng_GetStatusCodeMessage(status, buf.as_mut_ptr(), buf.len());
        CStr::from_ptr(buf.as_ptr()).to_string_lossy().into_owned()
    }
}

/// One clause as espeak-ng translated it.
struct Clause {
    /// IPA, words separated by spaces.
    phonemes: String,
    /// `.`, `?`, `!`, `,`, `:`, `;` or empty.
    terminator: &'static str,
    /// The clause ends a sentence.
    ends_sentence: bool,
    /// For each space-separated word of `phonemes`, the char of the text
    /// where it starts (0-based, in the whole text), when espeak-ng marked
    /// one; `None` when its phoneme list could not be read.
    words: Option<Vec<Option<usize>>>,
}

/// Runs espeak-ng clause by clause over `text`: the loop of piper's bridge
/// around `espeak_TextToPhonemesWithTerminator`, whose body (speech.c of
/// espeak-ng after 1.52) is reproduced inline.
///
/// # Safety
/// The caller holds the global lock.
unsafe fn clauses(text: &CStr) -> Result<Vec<Clause>> {
    let bytes = text.to_bytes_with_nul();
    let start = bytes.as_ptr();
    let mut out = Vec::new();
    if p_decoder.is_null() {
        p_decoder = sys::create_text_decoder();
        if p_decoder.is_null() {
            return Err(Error::Phonemizer("espeak-ng: out of memory".into()));
        }
    }
    let mut ptr: *const u8 = start;
    // Counted from the text's start, so that clause starts are places in
    // it (espeak's own `InitText2` resets it the same way).
    count_characters = 0;
    // `text_decoder_get_buffer` returns NULL once the whole text is read.
    while !ptr.is_null() {
        // espeakCHARS_UTF8 would `strlen` the rest of the text for every
        // clause (quadratic in the text length); passing the remaining
        // length (with the NUL, as `strlen(s) + 1`) decodes the same bytes.
        // piper asks for espeakCHARS_AUTO, which reads valid UTF-8 (all a
        // Rust string can hold) the same way.
        let offset = ptr.offset_from(start) as usize;
        let remaining = c_int::try_from(bytes.len() - offset).map_err(|_| {
            Error::Phonemizer("text is too long for espeak-ng (2 GiB at most)".into())
        })?;
        let status = sys::text_decoder_decode_string(
            p_decoder,
            ptr.cast(),
            remaining,
            sys::espeak_ng_ENCODING_ESPEAKNG_ENCODING_UTF_8,
        );
        if status != sys::espeak_ng_STATUS_ENS_OK {
            return Err(Error::Phonemizer(format!(
                "espeak-ng could not decode the text: {}",
                status_message(status)
            )));
        }
        let mut terminator: c_int = 0;
        TranslateClauseWithTerminator(
            translator,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            &mut terminator,
        );
        // a pointer into `text` (the decoder reads it in place), or NULL
        ptr = sys::text_decoder_get_buffer(p_decoder).cast();
        let words = clause_words();
        // both renderings are copied before the next clause overwrites
        // espeak's static buffer
        let ipa = phoneme_string(sys::espeakPHONEMES_IPA as c_int);
        let mnemonics = phoneme_string(0);
        let phonemes = with_linking_yod(&ipa, &mnemonics).unwrap_or_else(|| strip_separators(&ipa));
        let t = terminator & 0x000F_FFFF;
        let terminator = match t {
            CLAUSE_PERIOD => ".",
            CLAUSE_QUESTION => "?",
            CLAUSE_EXCLAMATION => "!",
            CLAUSE_COMMA => ",",
            CLAUSE_COLON => ":",
            CLAUSE_SEMICOLON => ";",
            _ => "",
        };
        out.push(Clause {
            phonemes,
            terminator,
            ends_sentence: t & CLAUSE_TYPE_SENTENCE == CLAUSE_TYPE_SENTENCE,
            words,
        });
    }
    Ok(out)
}

/// Where each word of the clause just translated is in the text: one entry
/// per word of its phoneme string (words start where
/// `GetTranslatedPhonemeString` puts a space, and at the start), each the
/// char of the first word start espeak-ng marked in it. `None` when the
/// phoneme list does not look as expected (another espeak-ng build).
///
/// # Safety
/// Call under the lock, right after a clause was translated.
unsafe fn clause_words() -> Option<Vec<Option<usize>>> {
    let list = (&raw const phoneme_list).cast::<PhonemeListEntry>();
    // After every clause espeak marks the entry past the list's end
    // (translate.c): a wrong layout would not read that marker.
    let end = list.add(N_PHONEME_LIST).read();
    let n = usize::try_from(n_phoneme_list).ok()?;
    if end.sourceix != 1 || !end.ph.is_null() || n > N_PHONEME_LIST {
        return None;
    }
    let clause_start = usize::try_from(clause_start_char).unwrap_or(0);
    let mut words = vec![None];
    for ix in 1..n.saturating_sub(2) {
        let e = list.add(ix).read();
        if e.newword & PHLIST_START_OF_WORD == 0 {
            continue;
        }
        if e.newword & (PHLIST_START_OF_SENTENCE | PHLIST_START_OF_CLAUSE) == 0 {
            words.push(None);
        }
        // Bits 0-10: the place in the clause, counted when the character
        // after it was read, so the text's first char is at 2 (1-based
        // after its look-ahead) and a later clause's at 1 (its first char
        // was read ahead by the clause before); bits 11-15 (a length) are
        // not reliable ("Don't" has 3, a word after a dash 0), unused.
        let at = clause_start + usize::from(e.sourceix & 0x7ff);
        let word = words.last_mut().expect("one per word");
        if word.is_none() && e.sourceix & 0x7ff != 0 && at >= 2 {
            *word = Some(at - 2);
        }
    }
    Some(words)
}

/// Separator between phonemes asked of espeak, so that the IPA and the
/// mnemonic renderings of one clause can be aligned phoneme by phoneme.
const SEP: char = '\u{1}';

/// The current clause's phonemes, `SEP`-separated, in IPA or mnemonic form.
///
/// # Safety
/// Call under the lock, right after a clause was translated.
unsafe fn phoneme_string(mode: c_int) -> String {
    let p = GetTranslatedPhonemeString(mode | ((SEP as c_int) << 8));
    if p.is_null() {
        String::new()
    } else {
        CStr::from_ptr(p).to_string_lossy().into_owned()
    }
}

fn strip_separators(s: &str) -> String {
    s.chars().filter(|&c| c != SEP).collect()
}

/// Shows espeak's "linking j" phoneme (`;`, between an i-vowel and a
/// following vowel: "the end" → `ðɪʲ ˈɛnd`) as `ʲ`, as the espeak-ng that
/// piper-tts 1.8 bundles does (a development snapshot after 1.52, whose
/// IPA writer no longer sees the previous phoneme and so no longer hides
/// it). Matching it keeps phoneme ids identical to piper's. `None` when the
/// two renderings do not align, in which case the plain IPA is used.
fn with_linking_yod(ipa: &str, mnemonics: &str) -> Option<String> {
    let ipa_words: Vec<&str> = ipa.split(' ').collect();
    let mn_words: Vec<&str> = mnemonics.split(' ').collect();
    if ipa_words.len() != mn_words.len() {
        return None;
    }
    let mut out = String::with_capacity(ipa.len() + 8);
    for (w, (ipa_w, mn_w)) in ipa_words.iter().zip(&mn_words).enumerate() {
        if w > 0 {
            out.push(' ');
        }
        let ipa_items: Vec<&str> = ipa_w.split(SEP).collect();
        let mn_items: Vec<&str> = mn_w.split(SEP).collect();
        if !mn_w.contains(';') {
            out.extend(ipa_items);
            continue;
        }
        if ipa_items.len() != mn_items.len() {
            return None;
        }
        for (i, m) in ipa_items.iter().zip(&mn_items) {
            if i.is_empty() && *m == ";" {
                out.push('ʲ');
            } else {
                out.push_str(i);
            }
        }
    }
    Some(out)
}

/// Removes espeak's language-switch flags such as `(fr)` (piper's
/// `re.sub(r"\([^)]+\)", "", …)`).
fn strip_language_flags(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(open) = rest.find('(') {
        match rest[open + 1..].find(')') {
            Some(len) if len > 0 => {
                out.push_str(&rest[..open]);
                rest = &rest[open + 1 + len + 1..];
            }
            _ => {
                out.push_str(&rest[..=open]);
                rest = &rest[open + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linking_yod_is_shown_where_espeak_hid_it() {
        let s = SEP;
        // the empty IPA item aligned with `;` becomes ʲ
        let ipa = format!("m{s}ˌiː{s}"); // "me" with the hidden linking j
        let mn = format!("m{s},i:{s};");
        assert_eq!(
            with_linking_yod(&format!("{ipa} æ{s}t"), &format!("{mn} a{s}t")).unwrap(),
            "mˌiːʲ æt"
        );
        // no `;`: separators just vanish
        assert_eq!(
            with_linking_yod(&format!("h{s}ə"), &format!("h{s}@")).unwrap(),
            "hə"
        );
        // misaligned renderings are refused
        assert!(with_linking_yod("a b", "a").is_none());
    }

    fn ph(s: &str) -> Vec<String> {
        s.chars().map(String::from).collect()
    }

    #[test]
    fn vowel_clusters_merge_longest_first() {
        let clusters = vec![ph("aɪ"), ph("aɪə"), ph("oʊ"), ph("x")];
        let merged = merge_vowel_clusters(ph("haɪəaɪxoʊ"), &clusters);
        assert_eq!(merged, ["h", "aɪə", "aɪ", "x", "oʊ"]);
        // nothing to merge with: unchanged
        assert_eq!(merge_vowel_clusters(ph("aɪ"), &[]), ph("aɪ"));
        assert_eq!(merge_vowel_clusters(ph("aɪ"), &[ph("a")]), ph("aɪ"));
        // a cluster longer than what is left does not match
        assert_eq!(merge_vowel_clusters(ph("a"), &clusters), ph("a"));
    }

    #[test]
    fn raw_blocks_split_like_pipers_regex() {
        assert_eq!(split_raw_blocks("a [[b]] c"), ["a ", "[[b]]", " c"]);
        assert_eq!(split_raw_blocks("[[b]]"), ["", "[[b]]", ""]);
        assert_eq!(split_raw_blocks("[[[b]]]"), ["", "[[[b]]", "]"]);
        assert_eq!(split_raw_blocks("[[a\n]] [[b]]"), ["[[a\n]] ", "[[b]]", ""]);
        assert_eq!(split_raw_blocks("no blocks [[ here"), ["no blocks [[ here"]);
    }

    #[test]
    fn touching_emoji_are_spaced_apart_flags_kept_whole() {
        assert_eq!(space_out_emoji("plain text"), "plain text");
        assert_eq!(space_out_emoji("ok😂😂!"), "ok 😂 😂 !");
        assert_eq!(space_out_emoji("❤\u{fe0f} 👍🏽"), "❤ \u{fe0f} 👍 🏽");
        assert_eq!(space_out_emoji("🇺🇸🇬🇧🇯"), "🇺🇸 🇬🇧 🇯");
        assert_eq!(space_out_emoji("a 😀 b"), "a 😀 b");
    }

    #[test]
    fn language_flags_are_removed() {
        assert_eq!(
            strip_language_flags("həlˈoʊ (fr)bɔ̃ʒˈuʁ(en) wˈɜːld"),
            "həlˈoʊ bɔ̃ʒˈuʁ wˈɜːld"
        );
        assert_eq!(strip_language_flags("a () b ( c"), "a () b ( c");
    }
}
