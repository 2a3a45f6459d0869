// tts.hpp: a header-only C++17 wrapper over the C API in tts.h (RAII
// handles, exceptions, lambdas). Link as for tts.h.
//
//   tts::Engine engine;                                  // the default voice
//   tts_request_params params = tts::request_params();
//   params.format = TTS_FORMAT_I16;
//   engine.synthesize("Hello there. How are you?", params, [&](const tts_chunk &c) {
//     play(static_cast<const int16_t *>(c.samples), c.sample_count);
//     return true;                                       // false stops
//   });
//   tts::Stream s = engine.stream("Pulled instead.", params);
//   while (const tts_chunk *c = s.next()) { ... }        // valid until the next call
//   for (const tts_word &w : tts::words(*c)) { ... }     // w.word, w.start, w.end
//
// Failures throw tts::Error (code() is the TTS_ERR_* value, what() the
// message). Thread rules are those of tts.h: an Engine may be shared by
// any number of threads; a Stream is read by one thread at a time, and
// cancel() may come from any.
#ifndef TTS_HPP
#define TTS_HPP

#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "tts.h"

namespace tts {

/// A failed call: its TTS_ERR_* code and tts_last_error()'s message.
class Error : public std::runtime_error {
 public:
  Error(int code, const char *message)
      : std::runtime_error(std::string(tts_error_code_name(code)) + ": " + message),
        code_(code) {}
  int code() const noexcept { return code_; }

 private:
  int code_;
};

/// Throws for an error code (1..99); returns TTS_OK and the statuses.
inline int check(int code) {
  if (code > TTS_OK && code < TTS_DONE) throw Error(code, tts_last_error());
  return code;
}

/// Default request parameters (see tts_request_params).
inline tts_request_params request_params() { return tts_request_default_params(); }

/// Default engine parameters (see tts_engine_params).
inline tts_engine_params engine_params() { return tts_engine_default_params(); }

/// A chunk's array (its words or phonemes) for range-for; valid as long
/// as the chunk is.
template <class T>
class Items {
 public:
  Items(const T *items, size_t count) noexcept : b_(items), n_(items ? count : 0) {}
  const T *begin() const noexcept { return b_; }
  const T *end() const noexcept { return b_ + n_; }
  size_t size() const noexcept { return n_; }
  bool empty() const noexcept { return n_ == 0; }
  const T &operator[](size_t i) const noexcept { return b_[i]; }

 private:
  const T *b_;
  size_t n_;
};

/// The words of the sentence a chunk ends (tts_chunk.words):
/// `for (const tts_word &w : tts::words(c))`.
inline Items<tts_word> words(const tts_chunk &c) noexcept { return {c.words, c.word_count}; }

/// Its phonemes with visemes (tts_chunk.phonemes; with
/// params.phoneme_timings).
inline Items<tts_phoneme> phonemes(const tts_chunk &c) noexcept {
  return {c.phonemes, c.phoneme_count};
}

/// A running request (move-only). Freeing it cancels the request.
class Stream {
 public:
  explicit Stream(tts_stream *s) noexcept : s_(s) {}
  Stream(Stream &&o) noexcept : s_(std::exchange(o.s_, nullptr)), stopped_(o.stopped_) {}
  Stream &operator=(Stream &&o) noexcept {
    if (this != &o) {
      tts_stream_free(s_);
      s_ = std::exchange(o.s_, nullptr);
      stopped_ = o.stopped_;
    }
    return *this;
  }
  Stream(const Stream &) = delete;
  Stream &operator=(const Stream &) = delete;
  ~Stream() { tts_stream_free(s_); }

  /// The next chunk, waiting as long as it takes; nullptr once the stream
  /// has ended (all delivered, or cancelled: see stopped()). The chunk and
  /// its samples are valid until the next call on this stream.
  const tts_chunk *next() {
    const tts_chunk *c = nullptr;
    return poll(-1, &c) == TTS_OK ? c : nullptr;
  }

  /// Waits up to timeout_ms (negative: forever) for a chunk: TTS_OK (*out
  /// set), TTS_TIMEOUT, TTS_DONE or TTS_STOPPED; throws on failure.
  int poll(int timeout_ms, const tts_chunk **out) {
    int rc = check(tts_stream_next(s_, timeout_ms, out));
    if (rc == TTS_STOPPED) stopped_ = true;
    return rc;
  }

  /// Cancels the request; safe from any thread while another reads.
  void cancel() const { check(tts_stream_cancel(s_)); }

  /// Whether the stream ended by a cancel.
  bool stopped() const noexcept { return stopped_; }

  tts_stream *raw() const noexcept { return s_; }

 private:
  tts_stream *s_;
  bool stopped_ = false;
};

/// An engine (move-only). Its methods are safe to call from many threads.
class Engine {
 public:
  explicit Engine(const tts_engine_params &params = engine_params()) {
    check(tts_engine_new(&params, &e_));
  }
  Engine(Engine &&o) noexcept : e_(std::exchange(o.e_, nullptr)) {}
  Engine &operator=(Engine &&o) noexcept {
    if (this != &o) {
      tts_engine_free(e_);
      e_ = std::exchange(o.e_, nullptr);
    }
    return *this;
  }
  Engine(const Engine &) = delete;
  Engine &operator=(const Engine &) = delete;
  ~Engine() { tts_engine_free(e_); }

  /// Registers (or replaces) a Piper voice.
  void add_piper_voice(const std::string &name, const std::string &model_path,
                       int64_t speaker = TTS_SPEAKER_DEFAULT) const {
    check(tts_engine_add_piper_voice(e_, name.c_str(), model_path.c_str(), speaker));
  }
  /// Registers (or replaces) a voice cloned by F5-TTS from `params`
  /// (start from tts_f5_voice_default_params(); set ref_audio_path and
  /// ref_text, and the model folders unless they are in the Hugging Face
  /// cache).
  void add_f5_voice(const std::string &name, const tts_f5_voice_params &params) const {
    check(tts_engine_add_f5_voice(e_, name.c_str(), &params));
  }
  // Its audio comes in several chunks per sentence (`ends_sentence` on the
  // last of each).
  void add_qwen3_voice(const std::string &name, const tts_qwen3_voice_params &params) const {
    check(tts_engine_add_qwen3_voice(e_, name.c_str(), &params));
  }
  void remove_voice(const std::string &name) const {
    check(tts_engine_remove_voice(e_, name.c_str()));
  }
  void set_default_voice(const std::string &name) const {
    check(tts_engine_set_default_voice(e_, name.c_str()));
  }

  /// Calls on_chunk(const tts_chunk &) for each sentence, on this thread,
  /// as soon as it is ready; on_chunk returns true to go on, false to
  /// stop. Returns true when every chunk was delivered, false when
  /// on_chunk stopped it. An exception from on_chunk stops the request
  /// and is rethrown here.
  template <class F>
  bool synthesize(std::string_view text, const tts_request_params &params, F &&on_chunk) const {
    static_assert(std::is_invocable_r_v<bool, F &, const tts_chunk &>,
                  "on_chunk must be callable as bool(const tts_chunk &)");
    struct Context {
      std::remove_reference_t<F> *f;
      std::exception_ptr error;
    } ctx{&on_chunk, nullptr};
    auto trampoline = [](const tts_chunk *c, void *user) -> int {
      auto *ctx = static_cast<Context *>(user);
      try {
        return (*ctx->f)(*c) ? 0 : 1;
      } catch (...) {
        ctx->error = std::current_exception();  // never unwind through C
        return 1;
      }
    };
    int rc = tts_synthesize_n(e_, text.data(), text.size(), &params, trampoline, &ctx);
    if (ctx.error) std::rethrow_exception(ctx.error);
    return check(rc) == TTS_OK;
  }

  /// Starts a pull request.
  Stream stream(std::string_view text, const tts_request_params &params = request_params()) const {
    tts_stream *s = nullptr;
    check(tts_stream_start_n(e_, text.data(), text.size(), &params, &s));
    return Stream(s);
  }

  /// Speaks text into a WAV file.
  void synthesize_to_wav(const std::string &text, const std::string &path,
                         const tts_request_params &params = request_params()) const {
    check(tts_synthesize_to_wav(e_, text.c_str(), &params, path.c_str()));
  }

  tts_metrics metrics() const {
    tts_metrics m{};
    m.struct_size = sizeof m;
    check(tts_engine_metrics(e_, &m));
    return m;
  }

  tts_engine *raw() const noexcept { return e_; }

 private:
  tts_engine *e_ = nullptr;
};

}  // namespace tts

#endif  // TTS_HPP
