//! Harness of reference-clip decoding (F5-TTS and Qwen3-TTS voice cloning):
//! WAV through hound, MP3, FLAC, Ogg Vorbis and other WAV codecs through
//! symphonia, then the clip made ready for the model (mono, 24 kHz,
//! loudness, length limits).

use ishowtts::models::f5::reference::{decode, ReferenceAudio};

/// Any bytes as an uploaded reference recording.
pub fn reference_audio(data: &[u8]) {
    if let Ok(audio) = decode(data) {
        assert!(audio.sample_rate > 0, "decoded audio at 0 Hz");
        assert!(audio.channels > 0, "decoded audio with no channels");
        assert_eq!(
            audio.samples.len() % audio.channels,
            0,
            "samples not whole frames"
        );
        assert!(
            audio.samples.iter().all(|s| s.is_finite()),
            "NaN or infinite samples"
        );
    }
    if let Ok(clip) = ReferenceAudio::from_bytes(data) {
        assert!(
            clip.samples.iter().all(|s| s.is_finite()),
            "prepared clip has NaN samples"
        );
        assert!(clip.output_gain.is_finite() && clip.output_gain > 0.0);
    }
}
