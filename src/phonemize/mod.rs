//! Text to phoneme ids, the way piper-tts does it (espeak-ng, IPA, clause
//! terminators kept). Placeholder: being written.
