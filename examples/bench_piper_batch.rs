//! Piper's synthesizer on a batch of sentences (padded to the longest, one
//! call) against the same sentences one call each, on the default voice:
//! whether batching Piper sentences across streams could raise throughput.
//!
//! ```text
//! cargo run --release --example bench_piper_batch
//! ```
//! Prints the best of 3 runs for each batch size (8 chat-style sentences of
//! similar length, so padding wastes little).

use std::time::Instant;

use ishowtts::{PiperVoice, SynthesisParams};
use rand::SeedableRng;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const TEXTS: [&str; 8] = [
    "Welcome to the stream, everyone, thanks for the follow.",
    "That was an amazing play, let us try that again soon.",
    "Remember to stay hydrated, we will take a short break.",
    "Chat is moving fast tonight and I can barely keep up.",
    "The next round starts in two minutes so get ready now.",
    "Someone asked about the settings, I will post them later.",
    "Thank you for the kind words, it really means a lot.",
    "We are almost at the goal, just a little more to go.",
];

fn main() -> anyhow::Result<()> {
    let voice = PiperVoice::load(ishowtts::paths::default_voice()?)?;
    let scales = SynthesisParams::default().scales(&voice.config().inference)?;
    let mut ids = Vec::new();
    for text in TEXTS {
        for phonemes in voice.phonemize(text)? {
            ids.push(voice.phonemes_to_ids(&phonemes));
        }
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let synth = voice.synthesizer();
    synth.infer(&[&ids[0]], &[0], scales, &mut rng)?; // warm-up
    let mut single = None;
    for b in [1usize, 2, 4, 8] {
        let mut best = f64::INFINITY;
        for _ in 0..3 {
            let t = Instant::now();
            for chunk in ids.chunks(b) {
                let refs: Vec<&[i64]> = chunk.iter().map(|v| v.as_slice()).collect();
                synth.infer(&refs, &vec![0; refs.len()], scales, &mut rng)?;
            }
            best = best.min(t.elapsed().as_secs_f64());
        }
        let base = *single.get_or_insert(best);
        println!(
            "batch {b}: {} sentences in {:.1} ms ({:.2}x the time of one call each)",
            ids.len(),
            best * 1e3,
            best / base
        );
    }
    Ok(())
}
