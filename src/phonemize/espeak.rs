//! espeak-ng as a phonemizer, reproducing piper's
//! `espeak_TextToPhonemesWithTerminator` loop.
//!
//! espeak-ng 1.52 (vendored by `espeak-rs-sys`) does not export that
//! function, but has its building block, the internal
//! `TranslateClauseWithTerminator`; the static library lets us call it
//! together with the other internals `espeak_TextToPhonemes` uses.
//!
//! espeak-ng keeps all its state in globals and is not thread-safe: every
//! call goes through one process-wide lock.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use unicode_normalization::UnicodeNormalization;

use super::data_dir::find_espeak_data;
use crate::{Error, Result};

// espeak-ng internals (translate.h, readclause.c, dictionary.h, encoding.h).
extern "C" {
    static mut p_decoder: *mut c_void;
    static mut translator: *mut c_void;
    fn create_text_decoder() -> *mut c_void;
    fn text_decoder_decode_string_multibyte(
        decoder: *mut c_void,
        input: *const c_void,
        encoding: c_int,
        flags: c_int,
    ) -> c_int;
    fn text_decoder_get_buffer(decoder: *mut c_void) -> *const c_void;
    fn TranslateClauseWithTerminator(
        tr: *mut c_void,
        tone_out: *mut c_int,
        voice_change: *mut *mut c_char,
        terminator_out: *mut c_int,
    );
    fn GetTranslatedPhonemeString(phoneme_mode: c_int) -> *const c_char;
}

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

const ESPEAK_INITIALIZE_DONT_EXIT: c_int = 0x8000;
const EE_OK: c_int = 0;

/// Global espeak-ng state: initialized once per process.
struct EspeakState {
    data_dir: Option<PathBuf>,
    voice: Option<String>,
}

static ESPEAK: Mutex<EspeakState> = Mutex::new(EspeakState {
    data_dir: None,
    voice: None,
});

/// Text to IPA phonemes with espeak-ng.
#[derive(Debug, Clone)]
pub struct EspeakPhonemizer {
    data_dir: PathBuf,
}

impl EspeakPhonemizer {
    /// Initializes espeak-ng (once per process) with the data at
    /// `data_dir`, or the one [`find_espeak_data`] finds. espeak-ng is
    /// process-global: later phonemizers share the first one's data.
    pub fn new(data_dir: Option<&Path>) -> Result<Self> {
        let mut state = lock();
        if let Some(dir) = &state.data_dir {
            return Ok(Self {
                data_dir: dir.clone(),
            });
        }
        let dir = find_espeak_data(data_dir)?;
        let c_dir = CString::new(dir.to_string_lossy().as_bytes())
            .map_err(|_| Error::Phonemizer("espeak-ng data path contains a NUL byte".into()))?;
        // SAFETY: under the global lock; the path outlives the call, which
        // copies it.
        let rate = unsafe {
            espeak_rs_sys::espeak_Initialize(
                espeak_rs_sys::espeak_AUDIO_OUTPUT_AUDIO_OUTPUT_SYNCHRONOUS,
                0,
                c_dir.as_ptr(),
                ESPEAK_INITIALIZE_DONT_EXIT,
            )
        };
        if rate <= 0 {
            return Err(Error::Phonemizer(format!(
                "espeak-ng failed to initialize with data at {}",
                dir.display()
            )));
        }
        state.data_dir = Some(dir.clone());
        Ok(Self { data_dir: dir })
    }

    /// The espeak-ng data directory in use.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Phonemes of `text` in espeak `voice` (e.g. `en-us`): one list per
    /// sentence, each phoneme one Unicode code point after NFD (as piper),
    /// clause terminators kept (`, : ;` followed by a space).
    pub fn phonemize(&self, voice: &str, text: &str) -> Result<Vec<Vec<String>>> {
        let mut state = lock();
        if state.voice.as_deref() != Some(voice) {
            let c_voice = CString::new(voice)
                .map_err(|_| Error::Phonemizer("voice name contains a NUL byte".into()))?;
            // SAFETY: under the global lock; espeak copies the name.
            let rc = unsafe { espeak_rs_sys::espeak_SetVoiceByName(c_voice.as_ptr()) };
            if rc != EE_OK {
                state.voice = None;
                return Err(Error::Phonemizer(format!(
                    "espeak-ng has no voice {voice:?} (data at {})",
                    self.data_dir.display()
                )));
            }
            state.voice = Some(voice.to_string());
        }
        // interior NULs would end the C string early: treat them as spaces
        let c_text = CString::new(text.replace('\0', " ")).expect("NULs were replaced");
        let clauses = clauses(&c_text)?;
        drop(state);

        let mut sentences = Vec::new();
        let mut sentence: Vec<String> = Vec::new();
        for (phonemes, terminator, end_of_sentence) in clauses {
            let mut s = strip_language_flags(&phonemes);
            s.push_str(terminator);
            if matches!(terminator, "," | ":" | ";") {
                s.push(' ');
            }
            sentence.extend(s.nfd().map(|c| c.to_string()));
            if end_of_sentence {
                sentences.push(std::mem::take(&mut sentence));
            }
        }
        if !sentence.is_empty() {
            sentences.push(sentence);
        }
        sentences.retain(|s| !s.is_empty());
        Ok(sentences)
    }
}

fn lock() -> std::sync::MutexGuard<'static, EspeakState> {
    // a panic while holding the lock leaves espeak's globals as they were
    // between calls, so the state is still usable
    ESPEAK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs espeak clause by clause over `text` (the loop of piper's bridge):
/// `(phonemes, terminator, ends a sentence)` per clause. Call with the lock.
fn clauses(text: &CStr) -> Result<Vec<(String, &'static str, bool)>> {
    let mut out = Vec::new();
    let mut ptr: *const c_void = text.as_ptr().cast();
    // SAFETY: the lock is held by the caller; `text` is NUL-terminated and
    // outlives the loop; the decoder reads it in place and hands back a
    // pointer into it (or NULL at the end); the phoneme string is copied
    // before the next call overwrites espeak's static buffer.
    unsafe {
        if p_decoder.is_null() {
            p_decoder = create_text_decoder();
        }
        while !ptr.is_null() {
            let flags = espeak_rs_sys::espeakCHARS_UTF8 as c_int;
            if text_decoder_decode_string_multibyte(p_decoder, ptr, 0, flags) != 0 {
                return Err(Error::Phonemizer(
                    "espeak-ng could not decode the text".into(),
                ));
            }
            let mut terminator: c_int = 0;
            TranslateClauseWithTerminator(
                translator,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                &mut terminator,
            );
            ptr = text_decoder_get_buffer(p_decoder);
            let ipa = phoneme_string(espeak_rs_sys::espeakPHONEMES_IPA as c_int);
            let mnemonics = phoneme_string(0);
            let phonemes =
                with_linking_yod(&ipa, &mnemonics).unwrap_or_else(|| strip_separators(&ipa));
            let t = terminator & 0x000F_FFFF;
            let term = match t {
                CLAUSE_PERIOD => ".",
                CLAUSE_QUESTION => "?",
                CLAUSE_EXCLAMATION => "!",
                CLAUSE_COMMA => ",",
                CLAUSE_COLON => ":",
                CLAUSE_SEMICOLON => ";",
                _ => "",
            };
            out.push((
                phonemes,
                term,
                t & CLAUSE_TYPE_SENTENCE == CLAUSE_TYPE_SENTENCE,
            ));
        }
    }
    Ok(out)
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

    #[test]
    fn language_flags_are_removed() {
        assert_eq!(
            strip_language_flags("həlˈoʊ (fr)bɔ̃ʒˈuʁ(en) wˈɜːld"),
            "həlˈoʊ bɔ̃ʒˈuʁ wˈɜːld"
        );
        assert_eq!(strip_language_flags("a () b ( c"), "a () b ( c");
    }
}
