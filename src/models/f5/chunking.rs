//! How long to generate, how to split long text, how to join the pieces.
//!
//! Ports of upstream `f5_tts/infer/utils_infer.py`: the chunk size of
//! `infer_process`, `chunk_text`, the duration estimate of
//! `infer_batch_process` and its cross-fade between chunks. The numbers
//! are upstream's; lengths of text are counted in UTF-8 bytes, as upstream
//! does (so a Chinese character weighs three Latin letters).

use super::tokenizer::ref_text_for_model;

/// The model's sample rate.
pub const SAMPLE_RATE: u32 = 24_000;

/// Samples per mel frame.
pub const HOP_LENGTH: usize = 256;

/// Reference + generated audio that one chunk should fit in, in seconds
/// (upstream's `22` in `infer_process`).
pub const MAX_TOTAL_SECONDS: f64 = 22.0;

/// Speed used for very short texts (under [`SHORT_TEXT_BYTES`]), whose
/// estimate from the reference's pace would be too short to say them.
pub const SHORT_TEXT_SPEED: f64 = 0.3;

/// Texts shorter than this many bytes are generated at
/// [`SHORT_TEXT_SPEED`].
pub const SHORT_TEXT_BYTES: usize = 10;

/// Upstream's default cross-fade between chunks, in seconds.
pub const CROSS_FADE_SECONDS: f64 = 0.15;

/// Largest chunk of new text, in bytes, for a reference transcript
/// `ref_text` (as [`super::tokenizer::prepare_ref_text`] returns it) spoken
/// in `ref_seconds`: as many bytes as the reference's pace fits in what is
/// left of [`MAX_TOTAL_SECONDS`], times `speed`.
///
/// Upstream: `int(len(ref_text.encode()) / ref_sec * (22 - ref_sec) * speed)`.
/// 0 when the reference takes all the time (then every sentence is its own
/// chunk) or its length is not positive.
pub fn max_chunk_bytes(ref_text: &str, ref_seconds: f64, speed: f64) -> usize {
    if ref_seconds <= 0.0 || !ref_seconds.is_finite() {
        return 0;
    }
    let bytes = ref_text.len() as f64 / ref_seconds * (MAX_TOTAL_SECONDS - ref_seconds) * speed;
    // Python's int() truncates; a negative or NaN value means no room.
    if bytes.is_finite() && bytes > 0.0 {
        bytes as usize
    } else {
        0
    }
}

/// Python's `str.isspace` (and so `\s` in its regular expressions): Unicode
/// whitespace plus the four ASCII information separators.
fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1C}'..='\u{1F}').contains(&c)
}

/// Splits into sentences the way upstream's
/// `re.split(r"(?<=[;:,.!?])\s+|(?<=[；：，。！？])", text)` does: after ASCII
/// punctuation followed by whitespace (the whitespace is dropped), and right
/// after full-width punctuation (nothing dropped).
fn split_sentences(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let after = i + c.len_utf8();
        if matches!(c, ';' | ':' | ',' | '.' | '!' | '?')
            && chars.peek().is_some_and(|&(_, n)| is_py_space(n))
        {
            parts.push(&text[start..after]);
            let mut end = after;
            while let Some(&(j, n)) = chars.peek() {
                if !is_py_space(n) {
                    break;
                }
                end = j + n.len_utf8();
                chars.next();
            }
            start = end;
        } else if matches!(c, '；' | '：' | '，' | '。' | '！' | '？') {
            parts.push(&text[start..after]);
            start = after;
        }
    }
    parts.push(&text[start..]);
    parts
}

/// Python's `str.strip()`.
fn py_strip(s: &str) -> &str {
    s.trim_matches(is_py_space)
}

/// Splits `text` into chunks of at most `max_bytes` UTF-8 bytes where the
/// sentences allow it (upstream `chunk_text`): sentences are gathered while
/// they fit; a sentence longer than the limit is a chunk of its own. A
/// sentence ending in a one-byte character gets a space after it when
/// joined. Empty for text without any sentence.
pub fn chunk_text(text: &str, max_bytes: usize) -> Vec<String> {
    let mut chunks = Vec::new();
    let mut current = String::new();
    for sentence in split_sentences(text) {
        if sentence.is_empty() {
            continue;
        }
        let spaced = sentence.chars().next_back().is_some_and(|c| c.is_ascii());
        if current.len() + sentence.len() > max_bytes && !current.is_empty() {
            chunks.push(py_strip(&current).to_string());
            current.clear();
        }
        // Upstream tests the size before adding (the added space does not
        // count), and an over-long sentence starts a chunk even so.
        current.push_str(sentence);
        if spaced {
            current.push(' ');
        }
    }
    if !current.is_empty() {
        chunks.push(py_strip(&current).to_string());
    }
    chunks
}

/// Total frames (reference + new speech) to generate for `gen_text`, as
/// upstream's `infer_batch_process` computes it: the new text gets the
/// reference's frames per byte, divided by `speed`; text under
/// [`SHORT_TEXT_BYTES`] bytes uses [`SHORT_TEXT_SPEED`] instead, so a word
/// or two still has time to be said.
///
/// `ref_frames` is the reference's sample count at 24 kHz divided by
/// [`HOP_LENGTH`] (rounded down; see
/// [`super::reference::ReferenceAudio::frames`]) and `ref_text` the
/// transcript as the model sees it ([`ref_text_for_model`]). The sampler
/// itself still raises the duration to at least the text length + 1.
pub fn estimate_duration(ref_frames: usize, ref_text: &str, gen_text: &str, speed: f64) -> usize {
    let speed = if gen_text.len() < SHORT_TEXT_BYTES {
        SHORT_TEXT_SPEED
    } else {
        speed
    };
    // Same operations in the same order as upstream, in f64, so the
    // truncation lands on the same frame. An empty transcript (which
    // `prepare_ref_text` rejects) would divide by zero upstream.
    let ref_bytes = ref_text.len().max(1) as f64;
    let extra = ref_frames as f64 / ref_bytes * gen_text.len() as f64 / speed;
    ref_frames
        + if extra.is_finite() && extra > 0.0 {
            extra as usize
        } else {
            0
        }
}

/// One chunk of a request, ready for the model.
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkPlan {
    /// The new text of this chunk.
    pub gen_text: String,
    /// What to tokenize: the transcript as the model sees it, then
    /// `gen_text`.
    pub full_text: String,
    /// Total frames to generate (reference included).
    pub frames: usize,
}

/// Chunks `gen_text` for a reference and gives each chunk its text and
/// duration, as upstream's `infer_process` + `infer_batch_process` do.
///
/// `prepared_ref_text` comes from
/// [`super::tokenizer::prepare_ref_text`]; `ref_samples` is the length of
/// the prepared reference at 24 kHz.
pub fn plan_chunks(
    prepared_ref_text: &str,
    ref_samples: usize,
    gen_text: &str,
    speed: f64,
) -> Vec<ChunkPlan> {
    let ref_seconds = ref_samples as f64 / f64::from(SAMPLE_RATE);
    let max_bytes = max_chunk_bytes(prepared_ref_text, ref_seconds, speed);
    let model_ref = ref_text_for_model(prepared_ref_text);
    let ref_frames = ref_samples / HOP_LENGTH;
    chunk_text(gen_text, max_bytes)
        .into_iter()
        // Upstream would run the model on an empty chunk (text that was
        // only whitespace after a sentence end); there is nothing to say.
        .filter(|chunk| !chunk.is_empty())
        .map(|chunk| ChunkPlan {
            full_text: format!("{model_ref}{chunk}"),
            frames: estimate_duration(ref_frames, &model_ref, &chunk, speed),
            gen_text: chunk,
        })
        .collect()
}

/// Cross-fade length in samples at 24 kHz for a duration in seconds
/// (upstream `int(cross_fade_duration * target_sample_rate)`; 0 or less
/// means plain concatenation).
pub fn cross_fade_samples(seconds: f64) -> usize {
    let n = seconds * f64::from(SAMPLE_RATE);
    if n.is_finite() && n > 0.0 {
        n as usize
    } else {
        0
    }
}

/// Joins chunk waveforms, each overlapping the audio so far by up to
/// `fade` samples with linear fades (upstream's cross-fade: the overlap is
/// shortened to the shorter of the two sides). `fade` = 0 concatenates.
pub fn cross_fade(waves: &[Vec<f32>], fade: usize) -> Vec<f32> {
    let mut joiner = CrossFader::new(fade);
    let mut out = Vec::with_capacity(waves.iter().map(Vec::len).sum());
    for wave in waves {
        out.extend(joiner.push(wave));
    }
    out.extend(joiner.finish());
    out
}

/// The streaming twin of [`cross_fade`]: feed chunk waveforms as they are
/// generated and get back the audio that no later chunk can change (all
/// but the last `fade` samples so far). Output is identical to
/// [`cross_fade`] over the same chunks.
#[derive(Debug, Clone)]
pub struct CrossFader {
    fade: usize,
    /// The end of the audio so far (at most `fade` samples), held back for
    /// the next overlap.
    tail: Vec<f32>,
}

impl CrossFader {
    /// A joiner overlapping chunks by up to `fade` samples.
    pub fn new(fade: usize) -> Self {
        Self {
            fade,
            tail: Vec::with_capacity(fade),
        }
    }

    /// Adds the next chunk; returns the audio now final.
    pub fn push(&mut self, wave: &[f32]) -> Vec<f32> {
        // Upstream: min(fade, len(audio so far), len(next)). The audio so
        // far is at least as long as the tail, and the tail is shorter than
        // `fade` only when that is all there is.
        let overlap = self.fade.min(self.tail.len()).min(wave.len());
        let mut joined = std::mem::take(&mut self.tail);
        if overlap > 0 {
            let start = joined.len() - overlap;
            let (fade_out, fade_in) = (linspace(1.0, 0.0, overlap), linspace(0.0, 1.0, overlap));
            for k in 0..overlap {
                let mixed =
                    f64::from(joined[start + k]) * fade_out[k] + f64::from(wave[k]) * fade_in[k];
                joined[start + k] = mixed as f32;
            }
        }
        joined.extend_from_slice(&wave[overlap..]);
        let keep = joined.len().min(self.fade);
        self.tail = joined.split_off(joined.len() - keep);
        joined
    }

    /// Returns the held-back end; the joiner is then ready for a new
    /// request.
    pub fn finish(&mut self) -> Vec<f32> {
        std::mem::take(&mut self.tail)
    }
}

/// `numpy.linspace(start, stop, n)`: `start + i * step`, the last value set
/// to `stop` exactly.
fn linspace(start: f64, stop: f64, n: usize) -> Vec<f64> {
    if n == 1 {
        return vec![start];
    }
    let step = (stop - start) / (n - 1) as f64;
    let mut v: Vec<f64> = (0..n).map(|i| i as f64 * step + start).collect();
    if let Some(last) = v.last_mut() {
        *last = stop;
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_split_like_the_upstream_regex() {
        assert_eq!(split_sentences("A. B,  C"), ["A.", "B,", "C"]);
        assert_eq!(split_sentences("你好。世界！"), ["你好。", "世界！", ""]);
        // Full-width punctuation keeps the whitespace after it.
        assert_eq!(split_sentences("好。 b"), ["好。", " b"]);
        // ASCII punctuation without whitespace after it does not split.
        assert_eq!(split_sentences("3.14 and a,b"), ["3.14 and a,b"]);
        assert_eq!(split_sentences("end."), ["end."]);
        assert_eq!(split_sentences(""), [""]);
    }

    #[test]
    fn chunks_gather_sentences_up_to_the_limit() {
        let text = "One two. Three four! Five six? Seven.";
        assert_eq!(
            chunk_text(text, 135),
            ["One two. Three four! Five six? Seven."]
        );
        assert_eq!(
            chunk_text(text, 20),
            ["One two. Three four!", "Five six? Seven."]
        );
        assert_eq!(
            chunk_text(text, 0),
            ["One two.", "Three four!", "Five six?", "Seven."]
        );
        assert_eq!(
            chunk_text("你好。世界！再见。", 9),
            ["你好。", "世界！", "再见。"]
        );
        assert_eq!(
            chunk_text("你好。世界！再见。", 18),
            ["你好。世界！", "再见。"]
        );
        assert!(chunk_text("", 100).is_empty());
        // Upstream keeps a whitespace-only chunk (stripped to nothing);
        // `plan_chunks` drops it.
        assert_eq!(chunk_text("   ", 100), [""]);
        assert!(plan_chunks("Hi. ", 24_000, "   ", 1.0).is_empty());
    }

    #[test]
    fn chunk_size_from_the_reference_pace() {
        // 20 bytes in 5 s: 4 bytes/s, 17 s left.
        assert_eq!(max_chunk_bytes("12345678901234567890", 5.0, 1.0), 68);
        assert_eq!(max_chunk_bytes("12345678901234567890", 5.0, 0.5), 34);
        assert_eq!(max_chunk_bytes("x", 23.0, 1.0), 0);
        assert_eq!(max_chunk_bytes("x", 0.0, 1.0), 0);
    }

    #[test]
    fn duration_follows_the_reference_pace() {
        // 100 frames for 20 bytes: 5 frames a byte.
        let r = "12345678901234567890";
        assert_eq!(estimate_duration(100, r, "abcdefghij", 1.0), 150);
        assert_eq!(estimate_duration(100, r, "abcdefghij", 2.0), 125);
        // Under 10 bytes: speed 0.3 whatever was asked.
        assert_eq!(estimate_duration(100, r, "abc", 1.0), 100 + 50);
        assert_eq!(estimate_duration(100, r, "abc", 5.0), 150);
        // Truncation, not rounding.
        assert_eq!(estimate_duration(10, "abc", "abcdefghijk", 1.0), 10 + 36);
    }

    #[test]
    fn plan_uses_both_transcript_forms() {
        let plan = plan_chunks("Hello there. ", 24_000 * 2, "How are you today?", 1.0);
        assert_eq!(plan.len(), 1);
        assert_eq!(plan[0].full_text, "Hello there.  How are you today?");
        // 187 frames for 14 bytes ("Hello there.  "), 18 new bytes.
        assert_eq!(plan[0].frames, 187 + (187.0f64 / 14.0 * 18.0) as usize);
    }

    #[test]
    fn cross_fade_matches_upstream() {
        let a = vec![1.0f32; 10];
        let b = vec![0.0f32; 10];
        let out = cross_fade(&[a.clone(), b.clone()], 5);
        assert_eq!(out.len(), 15);
        assert_eq!(&out[..5], &[1.0; 5]);
        assert_eq!(&out[5..10], &[1.0, 0.75, 0.5, 0.25, 0.0]);
        assert_eq!(&out[10..], &[0.0; 5]);
        // No fade: concatenation.
        assert_eq!(cross_fade(&[a.clone(), b.clone()], 0).len(), 20);
        // The overlap shrinks to the shorter side.
        assert_eq!(cross_fade(&[vec![1.0; 3], b.clone()], 5).len(), 10);
        assert_eq!(cross_fade(&[a.clone(), vec![0.0; 2]], 5).len(), 10);
        // One-sample overlap: linspace(1, 0, 1) = [1], so the old sample wins.
        assert_eq!(cross_fade(&[vec![1.0], vec![0.0, 0.0]], 5), [1.0, 0.0]);
        assert!(cross_fade(&[], 5).is_empty());
    }

    #[test]
    fn streaming_cross_fade_equals_whole() {
        let waves: Vec<Vec<f32>> = [7usize, 1, 0, 30, 4, 12, 2, 50]
            .iter()
            .enumerate()
            .map(|(k, &n)| (0..n).map(|i| (i * 7 + k * 13) as f32 * 0.01).collect())
            .collect();
        for fade in [0, 1, 3, 5, 8, 100] {
            let whole = cross_fade(&waves, fade);
            let mut j = CrossFader::new(fade);
            let mut streamed = Vec::new();
            for w in &waves {
                streamed.extend(j.push(w));
            }
            streamed.extend(j.finish());
            assert_eq!(whole, streamed, "fade {fade}");
            assert_eq!(naive(&waves, fade), whole, "fade {fade}");
        }
    }

    /// Upstream's loop, written out on whole arrays.
    fn naive(waves: &[Vec<f32>], fade: usize) -> Vec<f32> {
        let Some(first) = waves.first() else {
            return Vec::new();
        };
        let mut out = first.clone();
        for next in &waves[1..] {
            let n = fade.min(out.len()).min(next.len());
            if n == 0 {
                out.extend_from_slice(next);
                continue;
            }
            let (fo, fi) = (linspace(1.0, 0.0, n), linspace(0.0, 1.0, n));
            let start = out.len() - n;
            let mut joined = out[..start].to_vec();
            for k in 0..n {
                joined
                    .push((f64::from(out[start + k]) * fo[k] + f64::from(next[k]) * fi[k]) as f32);
            }
            joined.extend_from_slice(&next[n..]);
            out = joined;
        }
        out
    }

    #[test]
    fn cross_fade_length_in_samples() {
        assert_eq!(cross_fade_samples(CROSS_FADE_SECONDS), 3600);
        assert_eq!(cross_fade_samples(0.0), 0);
        assert_eq!(cross_fade_samples(-1.0), 0);
    }
}
