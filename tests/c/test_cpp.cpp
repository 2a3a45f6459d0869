// The C++ wrapper (bindings/cpp/tts.hpp): RAII handles, exceptions with
// codes, lambdas, streams and cancel from another thread. Run from the
// repository root.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <thread>

#include "tts.hpp"

static int failures = 0;
#define CHECK(cond)                                                               \
  do {                                                                            \
    if (!(cond)) {                                                                \
      failures++;                                                                 \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                             \
  } while (0)

template <class F>
static int code_of(F &&f) {
  try {
    f();
  } catch (const tts::Error &e) {
    CHECK(std::string(e.what()).find("TTS_ERR_") == 0);
    return e.code();
  }
  return TTS_OK;
}

int main() {
  tts::Engine engine;
  tts_request_params p = tts::request_params();
  p.use_cache = 0;

  int chunks = 0;
  size_t pushed = 0;
  bool done = engine.synthesize("One sentence. And another one.", p, [&](const tts_chunk &c) {
    CHECK(c.sample_count > 0 && c.sentence_index == static_cast<uint64_t>(chunks));
    pushed += c.sample_count;
    chunks++;
    return true;
  });
  CHECK(done && chunks == 2);

  // Words and phonemes as ranges.
  std::string said;
  size_t visemes = 0;
  tts_request_params timed = p;
  timed.phoneme_timings = 1;
  engine.synthesize("Hello there, world.", timed, [&](const tts_chunk &c) {
    for (const tts_word &w : tts::words(c)) {
      CHECK(w.start < w.end);
      said += std::string(said.empty() ? "" : " ") + w.word;
    }
    for (const tts_phoneme &ph : tts::phonemes(c)) visemes += ph.viseme <= TTS_VISEME_OU;
    CHECK(tts::phonemes(c).size() == c.phoneme_count);
    return true;
  });
  CHECK(said == "Hello there world" && visemes > 10);

  // Stop from the callback.
  chunks = 0;
  done = engine.synthesize("First part here. Second part there.", p, [&](const tts_chunk &) {
    chunks++;
    return false;
  });
  CHECK(!done && chunks == 1);

  // An exception thrown by the callback comes back out; the engine goes on.
  bool caught = false;
  try {
    engine.synthesize("Throw from here. Not reached.", p,
                      [](const tts_chunk &) -> bool { throw std::runtime_error("host"); });
  } catch (const std::runtime_error &e) {
    caught = std::string(e.what()) == "host";
  }
  CHECK(caught);

  // Errors carry their codes.
  auto ignore = [](const tts_chunk &) { return true; };
  CHECK(code_of([&] { engine.synthesize("   ", p, ignore); }) == TTS_ERR_EMPTY_TEXT);
  CHECK(code_of([&] { engine.synthesize(std::string_view("a\0b", 3), p, ignore); }) ==
        TTS_ERR_INVALID_TEXT);
  tts_request_params bad = p;
  bad.speed = -1.0f;
  CHECK(code_of([&] { engine.stream("Hi.", bad); }) == TTS_ERR_INVALID_PARAMETER);
  CHECK(code_of([&] { engine.set_default_voice("nobody"); }) == TTS_ERR_VOICE_NOT_FOUND);
  tts_engine_params ep = tts::engine_params();
  ep.voice_path = "/nonexistent/voice.onnx";
  CHECK(code_of([&] { tts::Engine missing(ep); }) == TTS_ERR_VOICE_NOT_FOUND);

  // A voice cloned by F5-TTS (tiny random-weight fixtures; paths relative
  // to the repository root, where scripts/test_capi.sh runs).
  tts_f5_voice_params f5 = tts_f5_voice_default_params();
  f5.ref_audio_path = "tests/fixtures/f5_reference/ref.ogg";
  f5.ref_text = "This is how my voice sounds.";
  f5.checkpoint = "tests/fixtures/f5/tiny_v1/F5TTS_tiny";
  f5.config = "tests/fixtures/f5/tiny_v1/config.json";
  f5.vocoder = "tests/fixtures/f5/vocos_tiny";
  engine.add_f5_voice("clone", f5);
  tts_request_params fp = tts::request_params();
  fp.voice = "clone";
  fp.nfe_step = 4;
  size_t cloned = 0;
  engine.synthesize("Words in a cloned voice.", fp, [&](const tts_chunk &c) {
    CHECK(c.sample_rate == 24000);
    cloned += c.sample_count;
    return true;
  });
  CHECK(cloned > 10000);
  f5.ref_text = "";
  CHECK(code_of([&] { engine.add_f5_voice("clone", f5); }) == TTS_ERR_INVALID_TEXT);
  engine.remove_voice("clone");

  // Pull stream: the same audio as the callback run (same seed, no cache).
  p.has_seed = 1;
  p.seed = 11;
  pushed = 0;
  engine.synthesize("Pulled through the wrapper.", p, [&](const tts_chunk &c) {
    pushed += c.sample_count;
    return true;
  });
  size_t pulled = 0;
  tts::Stream s = engine.stream("Pulled through the wrapper.", p);
  while (const tts_chunk *c = s.next()) pulled += c->sample_count;
  CHECK(pulled == pushed && pulled > 10000 && !s.stopped());

  // Cancel from another thread while this one waits.
  tts::Stream long_stream =
      engine.stream("Sentence one to cancel. Sentence two. Sentence three. Sentence four.", p);
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    long_stream.cancel();
  });
  int got = 0;
  while (long_stream.next()) got++;
  canceller.join();
  CHECK(long_stream.stopped() && got < 4);

  // Moves keep one owner.
  tts::Engine moved = std::move(engine);
  CHECK(moved.raw() != nullptr && engine.raw() == nullptr);
  tts_metrics m = moved.metrics();
  CHECK(m.completed >= 3 && m.requests >= 6 && m.cancelled >= 1);
  std::printf("C++ wrapper: %s\n", failures ? "FAILED" : "ok");
  return failures ? 1 : 0;
}
