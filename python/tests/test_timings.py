"""Word and phoneme timings from Python: `Chunk.words` holds `(word,
start_s, end_s)` for the sentence a chunk ends, `Chunk.phonemes` the
phonemes with viseme ids when asked for, and the keywords switch them."""

from __future__ import annotations

import pytest

import ishowtts

TEXT = "Hello, world! The quick brown fox jumps over the lazy dog."


def test_words_are_timed_in_order_within_the_audio(engine: ishowtts.Engine) -> None:
    chunks = list(engine.stream(TEXT, seed=2, use_cache=False))
    words = [w for c in chunks for w in c.words]
    assert [w[0] for w in words] == [
        "Hello", "world", "The", "quick", "brown", "fox", "jumps", "over", "the",
        "lazy", "dog",
    ]  # fmt: skip
    total = sum(c.duration for c in chunks)
    assert all(0 <= s < e <= total + 1e-6 for _, s, e in words)
    assert all(a[2] <= b[1] for a, b in zip(words, words[1:]))
    assert not any(c.words_estimated for c in chunks)
    assert all(c.phonemes == [] for c in chunks)
    # only the chunk that ends a sentence carries its words
    assert all(c.words == [] for c in chunks if not c.ends_sentence)


def test_phonemes_with_visemes_and_switches(engine: ishowtts.Engine) -> None:
    chunks = list(engine.stream(TEXT, seed=2, phoneme_timings=True, use_cache=False))
    phonemes = [p for c in chunks for p in c.phonemes]
    assert len(phonemes) > 30
    assert all(0 <= v < len(ishowtts.VISEMES) for *_, v in phonemes)
    assert ishowtts.VISEMES[0] == "sil" and ishowtts.VISEMES[1] == "PP"
    assert any(ishowtts.VISEMES[v] == "PP" for *_, v in phonemes)  # "brown"
    off = list(engine.stream(TEXT, seed=2, word_timings=False, use_cache=False))
    assert all(c.words == [] and c.phonemes == [] for c in off)


def test_the_first_sentence_is_cut_at_a_clause(engine: ishowtts.Engine) -> None:
    text = (
        "When the first sentence runs on for a long while, its first clause is "
        "spoken on its own. The rest follows."
    )
    chunks = list(engine.stream(text, first_chunk_max_chars=60, use_cache=False))
    assert chunks[0].text == "When the first sentence runs on for a long while,"
    with pytest.raises(ishowtts.InvalidParameterError, match="first_chunk_max_chars"):
        engine.synthesize(text, first_chunk_max_chars=0)


def test_live_stream_words(engine: ishowtts.Engine) -> None:
    with engine.open_stream(seed=2) as s:
        for word in TEXT.split(" "):
            s.push(word + " ")
        s.finish()
        words = [w[0] for c in s for w in c.words]
    assert words[:2] == ["Hello", "world"] and words[-1] == "dog"
