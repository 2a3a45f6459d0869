//! Prints the phonemes and ids ishowtts computes for a text.
//! Usage: phonemize "text" [voice.onnx.json]
use ishowtts::models::piper::VoiceConfig;
use ishowtts::phonemize::{phonemes_to_ids, EspeakPhonemizer};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let text = args.get(1).map(String::as_str).unwrap_or("Hello, world!");
    let p = EspeakPhonemizer::new(None)?;
    let map = match args.get(2) {
        Some(cfg) => Some(VoiceConfig::load(cfg.as_ref())?.phoneme_id_map),
        None => None,
    };
    for s in p.phonemize("en-us", text)? {
        println!("{}", s.concat());
        if let Some(map) = &map {
            println!("  {:?}", phonemes_to_ids(&s, map).0);
        }
    }
    Ok(())
}
