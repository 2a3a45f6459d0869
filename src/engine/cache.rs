//! The output cache: a finished request's chunks by a hash of everything
//! that shaped them, so a repeated phrase replays without the model.

use std::num::NonZeroUsize;
use std::sync::Arc;

use lru::LruCache;
use sha2::{Digest, Sha256};

use super::config::CacheLimits;
use super::request::{Chunk, RequestOptions};
use super::voice::VoiceEntry;

/// SHA-256 of a request's content.
pub(crate) type CacheKey = [u8; 32];

/// Counters of one cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Lookups that found an entry.
    pub hits: u64,
    /// Lookups that did not.
    pub misses: u64,
    /// Entries dropped to stay within bounds.
    pub evictions: u64,
    /// Entries held now.
    pub entries: usize,
    /// Bytes held now (audio samples).
    pub bytes: usize,
}

/// The key of a request: the normalized sentences (so the same words hit
/// however they were spaced), the voice and its version, every synthesis
/// setting and the output format.
pub(crate) fn output_key(
    sentences: &[String],
    voice: &VoiceEntry,
    options: &RequestOptions,
) -> CacheKey {
    let mut h = Sha256::new();
    for s in sentences {
        h.update((s.len() as u64).to_le_bytes());
        h.update(s.as_bytes());
    }
    h.update([0xff]);
    h.update(voice.name.as_bytes());
    h.update([0]);
    h.update(voice.version.to_le_bytes());
    let s = &options.synthesis;
    // Debug formatting spells out every field, so a new option cannot be
    // forgotten here.
    h.update(format!("{s:?}|{:?}", voice.spec.speaker).as_bytes());
    h.update(
        format!(
            "|{:?}|{:?}|{:?}|{}|{:?}|{}|{}",
            options.sample_rate,
            options.format,
            options.gap,
            options.short_first_chunk,
            options.first_chunk_max_chars,
            options.word_timings,
            options.phoneme_timings
        )
        .as_bytes(),
    );
    h.finalize().into()
}

/// A finished request, as replayed.
#[derive(Debug)]
pub(crate) struct CachedAudio {
    pub chunks: Vec<Chunk>,
    pub bytes: usize,
}

/// An LRU of at most `cap` entries whose memory grows as it fills:
/// `LruCache::new` reserves room for all `cap` entries up front, so a host's
/// "no limit" (`u64::MAX` entries) panicked and a large one aborted on the
/// allocation (found by fuzzing the C ABI's engine parameters).
pub(crate) fn lru_with_cap<K: std::hash::Hash + Eq, V>(cap: NonZeroUsize) -> LruCache<K, V> {
    let mut lru = LruCache::unbounded();
    lru.resize(cap);
    lru
}

/// LRU bounded by entries and bytes.
pub(crate) struct OutputCache {
    limits: CacheLimits,
    lru: Option<LruCache<CacheKey, Arc<CachedAudio>>>,
    stats: CacheStats,
}

impl OutputCache {
    pub fn new(limits: CacheLimits) -> Self {
        let lru = if limits.enabled() {
            NonZeroUsize::new(limits.max_entries).map(lru_with_cap)
        } else {
            None
        };
        Self {
            limits,
            lru,
            stats: CacheStats::default(),
        }
    }

    /// Whether entries can be stored at all.
    pub fn enabled(&self) -> bool {
        self.lru.is_some()
    }

    /// Largest entry worth recording.
    pub fn max_bytes(&self) -> usize {
        self.limits.max_bytes
    }

    pub fn get(&mut self, key: &CacheKey) -> Option<Arc<CachedAudio>> {
        let found = self.lru.as_mut()?.get(key).cloned();
        match found {
            Some(_) => self.stats.hits += 1,
            None => self.stats.misses += 1,
        }
        found
    }

    /// Stores an entry, evicting the least recently used ones to fit.
    /// Entries bigger than the whole cache are not stored.
    pub fn insert(&mut self, key: CacheKey, audio: CachedAudio) {
        let Some(lru) = self.lru.as_mut() else {
            return;
        };
        if audio.bytes > self.limits.max_bytes {
            return;
        }
        if let Some(old) = lru.pop(&key) {
            self.stats.bytes -= old.bytes;
        }
        while self.stats.bytes + audio.bytes > self.limits.max_bytes || lru.len() == lru.cap().get()
        {
            match lru.pop_lru() {
                Some((_, old)) => {
                    self.stats.bytes -= old.bytes;
                    self.stats.evictions += 1;
                }
                None => break,
            }
        }
        self.stats.bytes += audio.bytes;
        lru.put(key, Arc::new(audio));
        self.stats.entries = lru.len();
    }

    pub fn stats(&self) -> CacheStats {
        CacheStats {
            entries: self.lru.as_ref().map_or(0, |l| l.len()),
            ..self.stats
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::format::Samples;
    use crate::engine::request::ChunkTimings;

    fn audio(n: usize) -> CachedAudio {
        let chunk = Chunk {
            request_id: 1,
            sentence_index: 0,
            text_span: 0..1,
            sample_offset: 0,
            sample_rate: 16000,
            is_last: true,
            ends_sentence: true,
            samples: Samples::F32(vec![0.0; n]),
            timings: ChunkTimings::default(),
            words: Vec::new(),
            phonemes: Vec::new(),
        };
        CachedAudio {
            chunks: vec![chunk],
            bytes: n * 4,
        }
    }

    #[test]
    fn bounded_by_entries_and_bytes() {
        let mut c = OutputCache::new(CacheLimits {
            max_entries: 2,
            max_bytes: 100,
        });
        c.insert([1; 32], audio(10));
        c.insert([2; 32], audio(10));
        c.insert([3; 32], audio(10)); // evicts 1 (entries)
        assert!(c.get(&[1; 32]).is_none());
        assert!(c.get(&[2; 32]).is_some());
        c.insert([4; 32], audio(15)); // 80 + 60 > 100: evicts 3 (2 was used)
        assert!(c.get(&[3; 32]).is_none());
        assert!(c.get(&[2; 32]).is_some());
        let s = c.stats();
        assert_eq!((s.entries, s.bytes, s.evictions), (2, 100, 2));
        assert_eq!((s.hits, s.misses), (2, 2));
        c.insert([5; 32], audio(26)); // bigger than the cache: not stored
        assert!(c.get(&[5; 32]).is_none());
    }

    /// "No limit" on entries: nothing reserved up front, the bytes bound
    /// still evicts.
    #[test]
    fn unlimited_entries_allocate_as_they_fill() {
        let mut c = OutputCache::new(CacheLimits {
            max_entries: usize::MAX,
            max_bytes: 100,
        });
        for i in 0..10u8 {
            c.insert([i; 32], audio(10));
        }
        assert_eq!(c.stats().entries, 2);
        assert!(c.get(&[9; 32]).is_some());
    }

    #[test]
    fn zero_disables() {
        for limits in [
            CacheLimits {
                max_entries: 0,
                max_bytes: 100,
            },
            CacheLimits {
                max_entries: 5,
                max_bytes: 0,
            },
        ] {
            let mut c = OutputCache::new(limits);
            c.insert([1; 32], audio(1));
            assert!(!c.enabled());
            assert!(c.get(&[1; 32]).is_none());
            assert_eq!(c.stats().entries, 0);
        }
    }
}
