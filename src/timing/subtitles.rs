//! Word timings as subtitles (WebVTT, SRT) and as a JSON timing file.
//!
//! Cues gather the words of one sentence, at most [`MAX_CUE_WORDS`] words
//! and [`MAX_CUE_SECONDS`] each, so a line stays readable; a cue shows from
//! its first word's start to its last word's end.

use super::{PhonemeTiming, WordTiming};

/// Most words in one cue.
pub const MAX_CUE_WORDS: usize = 8;
/// Longest cue, in seconds.
pub const MAX_CUE_SECONDS: f64 = 4.0;

/// A word with the sentence it belongs to (cues never cross sentences).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentenceWord {
    /// 0-based sentence index in the request.
    pub sentence: usize,
    /// The word and when it is heard.
    pub timing: WordTiming,
}

/// One subtitle: text shown from `start` to `end` seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Cue {
    /// Seconds from the audio's start.
    pub start: f64,
    /// Seconds from the audio's start.
    pub end: f64,
    /// The words, joined by spaces (CJK characters without).
    pub text: String,
}

/// Groups `words` (in order, times at `sample_rate`) into cues.
pub fn cues(words: &[SentenceWord], sample_rate: u32) -> Vec<Cue> {
    let secs = |s: u64| s as f64 / sample_rate.max(1) as f64;
    let mut out: Vec<Cue> = Vec::new();
    let mut current: Option<(usize, usize, Cue)> = None; // sentence, words, cue
    for w in words {
        let (start, end) = (secs(w.timing.start), secs(w.timing.end));
        if let Some((sentence, n, cue)) = current.as_mut() {
            if *sentence == w.sentence && *n < MAX_CUE_WORDS && end - cue.start <= MAX_CUE_SECONDS {
                if needs_space(&cue.text, &w.timing.word) {
                    cue.text.push(' ');
                }
                cue.text.push_str(&w.timing.word);
                cue.end = cue.end.max(end);
                *n += 1;
                continue;
            }
            out.push(current.take().expect("some").2);
        }
        let cue = Cue {
            start,
            end,
            text: w.timing.word.clone(),
        };
        current = Some((w.sentence, 1, cue));
    }
    out.extend(current.map(|c| c.2));
    out
}

/// Words of scripts written without spaces are joined without one.
fn needs_space(before: &str, word: &str) -> bool {
    let cjk = |c: Option<char>| c.is_some_and(crate::text::split::is_cjk);
    !(cjk(before.chars().last()) && cjk(word.chars().next()))
}

/// The cues as a WebVTT file.
pub fn webvtt(cues: &[Cue]) -> String {
    let mut out = String::from("WEBVTT\n");
    for c in cues {
        out.push_str(&format!(
            "\n{} --> {}\n{}\n",
            timestamp(c.start, '.'),
            timestamp(c.end, '.'),
            escape_vtt(&c.text)
        ));
    }
    out
}

/// The cues as an SRT file.
pub fn srt(cues: &[Cue]) -> String {
    let mut out = String::new();
    for (i, c) in cues.iter().enumerate() {
        out.push_str(&format!(
            "{}\n{} --> {}\n{}\n\n",
            i + 1,
            timestamp(c.start, ','),
            timestamp(c.end, ','),
            c.text
        ));
    }
    out
}

/// `HH:MM:SS.mmm` (`,` before the milliseconds in SRT).
fn timestamp(seconds: f64, sep: char) -> String {
    let ms = (seconds.max(0.0) * 1000.0).round() as u64;
    format!(
        "{:02}:{:02}:{:02}{sep}{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

/// WebVTT cue text may not hold `<`, `&` or `-->` as they are.
fn escape_vtt(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Words and phonemes as JSON, times in seconds:
/// `{"sample_rate", "words": [{"word", "start", "end", "estimated",
/// "sentence"}], "phonemes": [{"phoneme", "start", "end", "viseme",
/// "viseme_name"}]}` (`phonemes` only when there are some).
pub fn timings_json(
    words: &[SentenceWord],
    phonemes: &[PhonemeTiming],
    sample_rate: u32,
) -> serde_json::Value {
    let secs = |s: u64| s as f64 / sample_rate.max(1) as f64;
    let words: Vec<serde_json::Value> = words
        .iter()
        .map(|w| {
            serde_json::json!({
                "word": w.timing.word,
                "start": secs(w.timing.start),
                "end": secs(w.timing.end),
                "estimated": w.timing.estimated,
                "sentence": w.sentence,
            })
        })
        .collect();
    let mut out = serde_json::json!({ "sample_rate": sample_rate, "words": words });
    if !phonemes.is_empty() {
        out["phonemes"] = phonemes
            .iter()
            .map(|p| {
                serde_json::json!({
                    "phoneme": p.phoneme,
                    "start": secs(p.start),
                    "end": secs(p.end),
                    "viseme": p.viseme.id(),
                    "viseme_name": p.viseme.name(),
                })
            })
            .collect();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(sentence: usize, w: &str, start: u64, end: u64) -> SentenceWord {
        SentenceWord {
            sentence,
            timing: WordTiming {
                word: w.into(),
                start,
                end,
                estimated: false,
            },
        }
    }

    #[test]
    fn cues_follow_sentences_and_limits() {
        let mut words = vec![word(0, "Hello", 0, 1000), word(0, "world", 1000, 2500)];
        words.extend((0..10).map(|i| word(1, "la", 3000 + i * 500, 3400 + i * 500)));
        let c = cues(&words, 1000);
        assert_eq!(c.len(), 3);
        assert_eq!(c[0].text, "Hello world");
        assert_eq!((c[0].start, c[0].end), (0.0, 2.5));
        assert_eq!(c[1].text.split(' ').count(), MAX_CUE_WORDS);
        assert_eq!(c[2].text, "la la");
        let vtt = webvtt(&c);
        assert!(vtt.starts_with("WEBVTT\n\n00:00:00.000 --> 00:00:02.500\nHello world\n"));
        let srt = srt(&c);
        assert!(srt.starts_with("1\n00:00:00,000 --> 00:00:02,500\nHello world\n\n2\n"));
        assert_eq!(timestamp(3723.4567, '.'), "01:02:03.457");
    }

    #[test]
    fn cjk_words_join_without_spaces_and_vtt_escapes() {
        let c = cues(&[word(0, "你", 0, 10), word(0, "好", 10, 20)], 100);
        assert_eq!(c[0].text, "你好");
        assert_eq!(escape_vtt("a<b> & c"), "a&lt;b&gt; &amp; c");
    }
}
