/* Plain-C tests of libtts through include/tts.h: the API end to end and
 * every bad input of the brief that C can produce, each followed by a good
 * request on the same engine.
 *
 * Run from the repository root: the default voice is found in ./models
 * (or $ISHOWTTS_VOICE). TTS_TEST_QUICK=1 runs a reduced set that makes
 * only a few model calls (for valgrind, where each one costs seconds). */
#define _DEFAULT_SOURCE /* usleep, mkstemps, mkdtemp */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tts.h"

static int failures = 0;
static int checks = 0;
static int quick = 0;

#define CHECK(cond)                                                              \
  do {                                                                           \
    checks++;                                                                    \
    if (!(cond)) {                                                               \
      failures++;                                                                \
      fprintf(stderr, "%s:%d: CHECK failed: %s (last error: %s)\n", __FILE__,    \
              __LINE__, #cond, tts_last_error());                                \
    }                                                                            \
  } while (0)

/* `expr` returns `want`; an error code also comes with a message. */
#define CHECK_CODE(expr, want)                                                   \
  do {                                                                           \
    int got_ = (expr);                                                           \
    int want_ = (want);                                                          \
    checks++;                                                                    \
    if (got_ != want_) {                                                         \
      failures++;                                                                \
      fprintf(stderr, "%s:%d: %s returned %s, want %s (last error: %s)\n",       \
              __FILE__, __LINE__, #expr, tts_error_code_name(got_),              \
              tts_error_code_name(want_), tts_last_error());                     \
    } else if (want_ > TTS_OK && want_ < TTS_DONE && tts_last_error()[0] == 0) { \
      failures++;                                                                \
      fprintf(stderr, "%s:%d: %s: empty tts_last_error()\n", __FILE__, __LINE__, \
              #expr);                                                            \
    }                                                                            \
  } while (0)

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ------------------------------------------------------------------ */
/* A callback that checks the chunk sequence as it comes. */

typedef struct {
  size_t text_len;
  int stop_after; /* return "stop" after this many chunks; 0: never */
  int chunks;
  size_t samples;
  uint64_t next_offset;
  size_t span_end;  /* end of the previous chunk's text span */
  int order_ok;     /* indices, offsets and spans consistent */
  int last_count;   /* chunks with is_last */
  int last_is_last; /* the latest chunk had is_last */
  uint32_t rate;
  int format;
  double sum; /* of the samples, to compare runs */
  const tts_engine *engine;
  int metrics_inside; /* call tts_engine_metrics from the callback */
  int nested;         /* run a whole request from the callback */
  int nested_code;
} run_info;

static void run_init(run_info *r, const char *text) {
  memset(r, 0, sizeof *r);
  r->order_ok = 1;
  r->text_len = text ? strlen(text) : 0;
  r->nested_code = -1;
}

static int on_chunk(const tts_chunk *c, void *user) {
  run_info *r = (run_info *)user;
  if (c->sentence_index != (uint64_t)r->chunks || c->sample_offset != r->next_offset ||
      c->text_start < r->span_end || c->text_start >= c->text_end ||
      c->text_end > r->text_len || r->last_count > 0 || c->request_id == 0 ||
      (c->sample_count > 0 && c->samples == NULL))
    r->order_ok = 0;
  if (r->chunks > 0 && (c->sample_rate != r->rate || c->format != r->format)) r->order_ok = 0;
  r->rate = c->sample_rate;
  r->format = c->format;
  r->span_end = c->text_end;
  r->last_is_last = c->is_last != 0;
  r->last_count += c->is_last != 0;
  r->chunks++;
  r->samples += c->sample_count;
  r->next_offset += c->sample_count;
  for (size_t i = 0; i < c->sample_count; i++)
    r->sum += c->format == TTS_FORMAT_F32 ? (double)((const float *)c->samples)[i]
                                          : ((const int16_t *)c->samples)[i] / 32768.0;
  if (r->metrics_inside) {
    tts_metrics m;
    memset(&m, 0, sizeof m);
    m.struct_size = sizeof m;
    if (tts_engine_metrics(r->engine, &m) != TTS_OK || m.requests == 0) r->order_ok = 0;
  }
  if (r->nested) {
    r->nested = 0; /* once */
    run_info inner;
    run_init(&inner, "Nested request.");
    r->nested_code = tts_synthesize(r->engine, "Nested request.", NULL, on_chunk, &inner);
    if (inner.chunks != 1 || !inner.order_ok) r->order_ok = 0;
  }
  return r->stop_after && r->chunks >= r->stop_after;
}

/* A well-formed, complete run: in order, exactly one is_last, on the last. */
static int complete(const run_info *r) {
  return r->order_ok && r->chunks > 0 && r->last_count == 1 && r->last_is_last;
}

static run_info run(const tts_engine *e, const char *text, const tts_request_params *p,
                    int *code) {
  run_info r;
  run_init(&r, text);
  r.engine = e;
  *code = tts_synthesize(e, text, p, on_chunk, &r);
  return r;
}

/* The sentence `still_works` speaks. In quick mode (under valgrind, where
 * each model call costs minutes) the other successful requests say it too
 * with default parameters, so they replay it from the cache: the API paths
 * are all exercised with only a few real model calls. */
#define WARM_TEXT "Still working fine."
#define QUICK_TEXT(s) (quick ? WARM_TEXT : (s))

/* The engine still speaks a short sentence correctly. In quick mode it may
 * come from the cache. */
static void still_works_at(const tts_engine *e, int line) {
  tts_request_params p = tts_request_default_params();
  p.use_cache = quick;
  int code;
  run_info r = run(e, WARM_TEXT, &p, &code);
  checks++;
  if (code != TTS_OK || r.chunks != 1 || r.samples < 10000 || !complete(&r)) {
    failures++;
    fprintf(stderr, "%s:%d: the engine no longer works: %s (%s), %d chunks, %zu samples\n",
            __FILE__, line, tts_error_code_name(code), tts_last_error(), r.chunks,
            r.samples);
  }
}
#define still_works(e) still_works_at((e), __LINE__)

/* `expr` fails with `want` and a message, and the engine goes on. */
#define CHECK_FAILS(e, expr, want) \
  do {                             \
    CHECK_CODE(expr, want);        \
    still_works(e);                \
  } while (0)

/* ------------------------------------------------------------------ */

static void test_basics(void) {
  CHECK(strlen(tts_version()) > 0);
  CHECK(tts_abi_version() == TTS_ABI_VERSION);
  CHECK(strcmp(tts_error_code_name(TTS_OK), "TTS_OK") == 0);
  CHECK(strcmp(tts_error_code_name(TTS_ERR_BUSY), "TTS_ERR_BUSY") == 0);
  CHECK(strcmp(tts_error_code_name(TTS_DONE), "TTS_DONE") == 0);
  CHECK(strcmp(tts_error_code_name(12345), "TTS_UNKNOWN_CODE") == 0);

  tts_request_params p = tts_request_default_params();
  CHECK(p.struct_size == sizeof p && p.voice == NULL);
  CHECK(isnan(p.speed) && isnan(p.noise_scale) && isnan(p.noise_w));
  CHECK(!p.has_speaker && !p.has_seed && p.sample_rate == 0);
  CHECK(p.format == TTS_FORMAT_F32 && p.gap == TTS_GAP_NONE && p.use_cache == 1);
  tts_engine_params ep = tts_engine_default_params();
  CHECK(ep.struct_size == sizeof ep && ep.voice_path == NULL && ep.device == TTS_DEVICE_CPU);
  CHECK(ep.queue_limit > 0 && ep.max_text_bytes > 0 && ep.cache_max_entries > 0);
  CHECK(ep.max_batch == 1 && ep.batch_window_ms == 0 && ep.workers == 1);
  CHECK(TTS_SPEAKER_DEFAULT == -1);

  uint8_t header[TTS_WAV_HEADER_SIZE];
  CHECK_CODE(tts_wav_header(16000, TTS_FORMAT_I16, header), TTS_OK);
  CHECK(memcmp(header, "RIFF", 4) == 0 && memcmp(header + 8, "WAVEfmt ", 8) == 0);
  CHECK(memcmp(header + 36, "data", 4) == 0);
  CHECK(header[24] == (16000 & 0xff) && header[25] == (16000 >> 8) && header[34] == 16);
  CHECK_CODE(tts_wav_header(16000, 9, header), TTS_ERR_INVALID_ARGUMENT);
  CHECK_CODE(tts_wav_header(0, TTS_FORMAT_I16, header), TTS_ERR_INVALID_PARAMETER);
  CHECK_CODE(tts_wav_header(16000, TTS_FORMAT_I16, NULL), TTS_ERR_INVALID_ARGUMENT);
  /* A success clears the message. */
  CHECK_CODE(tts_wav_header(16000, TTS_FORMAT_F32, header), TTS_OK);
  CHECK(tts_last_error()[0] == 0 && header[34] == 32);
}

static void test_callback(const tts_engine *e) {
  const char *text = "First sentence here. Then a second one! And a third?";
  tts_request_params p = tts_request_default_params();
  p.has_seed = 1;
  p.seed = 7;
  p.use_cache = 0;
  int code;
  run_info a = run(e, text, &p, &code);
  CHECK_CODE(code, TTS_OK);
  CHECK(a.chunks == 3 && complete(&a) && a.samples > 30000 && a.rate == 22050);
  CHECK(a.format == TTS_FORMAT_F32);

  /* Same seed, no cache: the same audio. */
  run_info b = run(e, text, &p, &code);
  CHECK_CODE(code, TTS_OK);
  CHECK(b.samples == a.samples && fabs(b.sum - a.sum) < 1e-3);

  /* The text as (pointer, length), not NUL-terminated. */
  char buf[64];
  memcpy(buf, "Counted bytes. Trailing garbage", 31);
  run_info n;
  run_init(&n, "Counted bytes.");
  CHECK_CODE(tts_synthesize_n(e, buf, 14, &p, on_chunk, &n), TTS_OK);
  CHECK(n.chunks == 1 && complete(&n));

  /* Stopping from the callback: the rest is cancelled. */
  tts_metrics m0, m1;
  memset(&m0, 0, sizeof m0);
  m0.struct_size = sizeof m0;
  m1 = m0;
  CHECK_CODE(tts_engine_metrics(e, &m0), TTS_OK);
  run_info s;
  run_init(&s, text);
  s.stop_after = 1;
  CHECK_CODE(tts_synthesize(e, text, &p, on_chunk, &s), TTS_STOPPED);
  CHECK(s.chunks == 1 && s.order_ok && s.last_count == 0);
  /* The worker counts the cancel when it sees it: wait a little. */
  for (int i = 0; i < 200; i++) {
    CHECK_CODE(tts_engine_metrics(e, &m1), TTS_OK);
    if (m1.cancelled > m0.cancelled) break;
    usleep(10000);
  }
  CHECK(m1.cancelled == m0.cancelled + 1);

  /* i16 at 16 kHz: resampled inside, same length in time. */
  p.format = TTS_FORMAT_I16;
  p.sample_rate = 16000;
  run_info c = run(e, text, &p, &code);
  CHECK_CODE(code, TTS_OK);
  double want = (double)a.samples * 16000.0 / 22050.0;
  CHECK(c.chunks == 3 && complete(&c) && c.rate == 16000 && c.format == TTS_FORMAT_I16);
  CHECK(fabs((double)c.samples - want) < 0.01 * want);

  /* Calling into the engine from the callback does not deadlock. */
  p = tts_request_default_params();
  run_info r;
  run_init(&r, text);
  r.engine = e;
  r.metrics_inside = 1;
  r.nested = 1;
  CHECK_CODE(tts_synthesize(e, text, &p, on_chunk, &r), TTS_OK);
  CHECK(complete(&r) && r.chunks == 3);
  CHECK_CODE(r.nested_code, TTS_OK);

  /* A second voice name for the same model, then the default moved. */
  const char *voice = getenv("ISHOWTTS_VOICE");
  CHECK_CODE(tts_engine_add_piper_voice(e, "joe", voice ? voice : "models/en_US-joe-medium.onnx",
                                        TTS_SPEAKER_DEFAULT),
             TTS_OK);
  p.voice = "joe";
  run(e, "By name.", &p, &code);
  CHECK_CODE(code, TTS_OK);
  CHECK_CODE(tts_engine_set_default_voice(e, "joe"), TTS_OK);
  CHECK_CODE(tts_engine_set_default_voice(e, "default"), TTS_OK);
  CHECK_CODE(tts_engine_remove_voice(e, "joe"), TTS_OK);
}

typedef struct {
  tts_stream *stream;
  int delay_ms;
  double cancelled_at;
} cancel_arg;

static void *cancel_later(void *arg) {
  cancel_arg *c = (cancel_arg *)arg;
  usleep((useconds_t)c->delay_ms * 1000);
  c->cancelled_at = now_s();
  tts_stream_cancel(c->stream);
  return NULL;
}

static void test_stream(const tts_engine *e) {
  const char *text = "Pull the first sentence. Pull the second sentence.";
  tts_request_params p = tts_request_default_params();
  p.has_seed = 1;
  p.seed = 3;
  p.use_cache = 0;
  int code;
  run_info pushed = run(e, text, &p, &code);
  CHECK_CODE(code, TTS_OK);

  /* To the end: the last chunk (is_last) comes before TTS_DONE. */
  tts_stream *s = NULL;
  CHECK_CODE(tts_stream_start(e, text, &p, &s), TTS_OK);
  const tts_chunk *c = NULL;
  size_t samples = 0;
  double sum = 0;
  int n = 0, last = 0, rc;
  while ((rc = tts_stream_next(s, -1, &c)) == TTS_OK) {
    CHECK(c->sentence_index == (uint64_t)n && c->sample_offset == samples && !last);
    CHECK(c->text_end <= strlen(text));
    for (size_t i = 0; i < c->sample_count; i++) sum += ((const float *)c->samples)[i];
    samples += c->sample_count;
    last = c->is_last;
    n++;
  }
  CHECK_CODE(rc, TTS_DONE);
  CHECK(n == 2 && last && samples == pushed.samples && fabs(sum - pushed.sum) < 1e-3);
  static const tts_chunk untouched;
  c = &untouched;
  CHECK_CODE(tts_stream_next(s, 0, &c), TTS_DONE);
  CHECK(c == &untouched); /* outputs are written only on success */
  tts_stream_free(s);

  /* The (pointer, length) variant. */
  CHECK_CODE(tts_stream_start_n(e, "Short one. Ignored tail", 10, &p, &s), TTS_OK);
  n = 0;
  while ((rc = tts_stream_next(s, -1, &c)) == TTS_OK) n++;
  CHECK_CODE(rc, TTS_DONE);
  CHECK(n == 1);
  tts_stream_free(s);

  /* A timeout, then a cancel from another thread while this one waits. */
  const char *long_text =
      "One sentence to cancel. Another sentence to cancel. A third one here. A "
      "fourth one here. And a fifth one. And a sixth one to finish.";
  CHECK_CODE(tts_stream_start(e, long_text, &p, &s), TTS_OK);
  rc = tts_stream_next(s, 0, &c);
  CHECK(rc == TTS_TIMEOUT || rc == TTS_OK);
  pthread_t t;
  cancel_arg arg = {s, 150, 0};
  CHECK(pthread_create(&t, NULL, cancel_later, &arg) == 0);
  int got = 0;
  while ((rc = tts_stream_next(s, -1, &c)) == TTS_OK) got++;
  double stopped_at = now_s();
  pthread_join(t, NULL);
  CHECK_CODE(rc, TTS_STOPPED);
  CHECK(got < 6);
  /* Honoured between sentences: within about one sentence's model time. */
  CHECK(stopped_at - arg.cancelled_at < 2.0);
  CHECK_CODE(tts_stream_next(s, 0, &c), TTS_STOPPED);
  CHECK_CODE(tts_stream_cancel(s), TTS_OK); /* again: nothing happens */
  tts_stream_free(s);

  /* Freeing an unfinished stream cancels it. */
  CHECK_CODE(tts_stream_start(e, long_text, &p, &s), TTS_OK);
  tts_stream_free(s);
  still_works(e);
}

static void test_wav_and_metrics(const tts_engine *e) {
  char path[] = "/tmp/tts-c-test-XXXXXX.wav";
  int fd = mkstemps(path, 4);
  CHECK(fd >= 0);
  if (fd >= 0) close(fd);
  tts_request_params p = tts_request_default_params();
  /* Quick mode writes the cached warm-up sentence as it is (f32 at the
   * voice's 22050 Hz); the full run resamples a new one to 16 kHz i16. */
  if (!quick) {
    p.format = TTS_FORMAT_I16;
    p.sample_rate = 16000;
  }
  const unsigned rate = quick ? 22050 : 16000, bits = quick ? 32 : 16;
  CHECK_CODE(tts_synthesize_to_wav(e, QUICK_TEXT("Written to a file."), &p, path), TTS_OK);
  struct stat st;
  CHECK(stat(path, &st) == 0 && st.st_size > 44 + (long)(bits / 8 * rate / 2));
  FILE *f = fopen(path, "rb");
  uint8_t h[44];
  CHECK(f && fread(h, 1, 44, f) == 44);
  if (f) fclose(f);
  CHECK(memcmp(h, "RIFF", 4) == 0 && h[24] == (rate & 0xff) && h[25] == (rate >> 8 & 0xff) &&
        h[34] == bits);
  unlink(path);
  CHECK_FAILS(e, tts_synthesize_to_wav(e, "Hi there.", &p, "/nonexistent/dir/x.wav"),
              TTS_ERR_IO);
  CHECK_FAILS(e, tts_synthesize_to_wav(e, "Hi there.", &p, NULL), TTS_ERR_INVALID_ARGUMENT);

  /* A repeated phrase comes from the cache. */
  tts_metrics m;
  memset(&m, 0, sizeof m);
  m.struct_size = sizeof m;
  CHECK_CODE(tts_engine_metrics(e, &m), TTS_OK);
  uint64_t hits = m.cache_hits;
  int code;
  run(e, QUICK_TEXT("Cached phrase."), NULL, &code);
  CHECK_CODE(code, TTS_OK);
  run_info again = run(e, QUICK_TEXT("Cached phrase."), NULL, &code);
  CHECK_CODE(code, TTS_OK);
  CHECK(complete(&again));
  CHECK_CODE(tts_engine_metrics(e, &m), TTS_OK);
  CHECK(m.struct_size == sizeof m && m.cache_hits == hits + (quick ? 2 : 1) && m.cache_entries >= 1);
  CHECK(m.requests >= 3 && m.completed >= 3 && m.model_loads >= 1 && m.models_loaded >= 1);
  CHECK(m.real_time_factor > 0 && m.ttfa_p50 > 0 && m.audio_seconds > 1.0);
  CHECK(m.queue_depth == 0);
}

static void test_bad_input(const tts_engine *e) {
  tts_request_params p = tts_request_default_params();
  tts_request_params bad;
  const tts_chunk *c = NULL;
  tts_stream *s = NULL;
  tts_engine *e2 = NULL;
  int code;
  run_info r;
  run_init(&r, "Hi.");

  /* NULL pointers. */
  CHECK_FAILS(e, tts_synthesize(NULL, "Hi.", &p, on_chunk, &r), TTS_ERR_INVALID_ARGUMENT);
  CHECK_FAILS(e, tts_synthesize(e, NULL, &p, on_chunk, &r), TTS_ERR_INVALID_ARGUMENT);
  CHECK_FAILS(e, tts_synthesize(e, "Hi.", &p, NULL, &r), TTS_ERR_INVALID_ARGUMENT);
  CHECK_FAILS(e, tts_synthesize_n(e, NULL, 3, &p, on_chunk, &r), TTS_ERR_INVALID_ARGUMENT);
  CHECK_FAILS(e, tts_stream_start(e, "Hi.", &p, NULL), TTS_ERR_INVALID_ARGUMENT);
  CHECK_FAILS(e, tts_stream_start(NULL, "Hi.", &p, &s), TTS_ERR_INVALID_ARGUMENT);
  CHECK_FAILS(e, tts_stream_start(e, NULL, &p, &s), TTS_ERR_INVALID_ARGUMENT);
  CHECK(s == NULL);
  CHECK_FAILS(e, tts_stream_next(NULL, 0, &c), TTS_ERR_INVALID_ARGUMENT);
  CHECK_FAILS(e, tts_stream_cancel(NULL), TTS_ERR_INVALID_ARGUMENT);
  CHECK_FAILS(e, tts_engine_new(NULL, &e2), TTS_ERR_INVALID_ARGUMENT);
  tts_engine_params ep = tts_engine_default_params();
  CHECK_FAILS(e, tts_engine_new(&ep, NULL), TTS_ERR_INVALID_ARGUMENT);
  CHECK_FAILS(e, tts_engine_metrics(e, NULL), TTS_ERR_INVALID_ARGUMENT);
  CHECK_FAILS(e, tts_engine_metrics(NULL, NULL), TTS_ERR_INVALID_ARGUMENT);
  CHECK_FAILS(e, tts_engine_add_piper_voice(e, NULL, "x.onnx", TTS_SPEAKER_DEFAULT),
              TTS_ERR_INVALID_ARGUMENT);
  CHECK_FAILS(e, tts_engine_add_piper_voice(e, "x", NULL, TTS_SPEAKER_DEFAULT),
              TTS_ERR_INVALID_ARGUMENT);
  CHECK_FAILS(e, tts_engine_remove_voice(e, NULL), TTS_ERR_INVALID_ARGUMENT);
  CHECK_FAILS(e, tts_engine_set_default_voice(NULL, "default"), TTS_ERR_INVALID_ARGUMENT);
  tts_engine_free(NULL);
  tts_stream_free(NULL);
  CHECK(e2 == NULL);
  /* NULL request params are the defaults. */
  run(e, QUICK_TEXT("Defaults."), NULL, &code);
  CHECK_CODE(code, TTS_OK);
  if (!quick) {
    tts_stream *s2 = NULL;
    CHECK_CODE(tts_stream_start(e, "Defaults.", NULL, &s2), TTS_OK);
    tts_stream_free(s2);
  }

  /* Wrong struct sizes and enum values. */
  bad = p;
  bad.struct_size = 8;
  CHECK_FAILS(e, tts_synthesize(e, "Hi.", &bad, on_chunk, &r), TTS_ERR_INVALID_ARGUMENT);
  bad.struct_size = sizeof bad + 16; /* a newer header than the library */
  CHECK_FAILS(e, tts_synthesize(e, "Hi.", &bad, on_chunk, &r), TTS_ERR_INVALID_ARGUMENT);
  bad.struct_size = 0;
  CHECK_FAILS(e, tts_stream_start(e, "Hi.", &bad, &s), TTS_ERR_INVALID_ARGUMENT);
  bad = p;
  bad.format = 7;
  CHECK_FAILS(e, tts_synthesize(e, "Hi.", &bad, on_chunk, &r), TTS_ERR_INVALID_ARGUMENT);
  bad = p;
  bad.gap = -1;
  CHECK_FAILS(e, tts_synthesize(e, "Hi.", &bad, on_chunk, &r), TTS_ERR_INVALID_ARGUMENT);
  ep = tts_engine_default_params();
  ep.struct_size = sizeof ep + 8;
  CHECK_FAILS(e, tts_engine_new(&ep, &e2), TTS_ERR_INVALID_ARGUMENT);
  ep = tts_engine_default_params();
  ep.device = 42;
  CHECK_FAILS(e, tts_engine_new(&ep, &e2), TTS_ERR_INVALID_ARGUMENT);
  ep = tts_engine_default_params();
  ep.queue_limit = 0;
  CHECK_FAILS(e, tts_engine_new(&ep, &e2), TTS_ERR_INVALID_PARAMETER);
  CHECK(e2 == NULL);
  tts_metrics m;
  memset(&m, 0, sizeof m);
  m.struct_size = 3;
  CHECK_FAILS(e, tts_engine_metrics(e, &m), TTS_ERR_INVALID_ARGUMENT);
  CHECK(m.requests == 0); /* untouched */

  /* Text. */
  CHECK_FAILS(e, tts_synthesize(e, "", &p, on_chunk, &r), TTS_ERR_EMPTY_TEXT);
  CHECK_FAILS(e, tts_synthesize(e, " \t\n\r  ", &p, on_chunk, &r), TTS_ERR_EMPTY_TEXT);
  CHECK_FAILS(e, tts_synthesize(e, "\x01\x02\x1b\x7f", &p, on_chunk, &r), TTS_ERR_EMPTY_TEXT);
  CHECK_FAILS(e, tts_synthesize(e, "\xf0\x9f\x98\x80 \xf0\x9f\x8e\x89", &p, on_chunk, &r),
              TTS_ERR_NOTHING_TO_SPEAK);
  CHECK_FAILS(e, tts_synthesize(e, "?! ... \"\" !", &p, on_chunk, &r), TTS_ERR_NOTHING_TO_SPEAK);
  CHECK_FAILS(e, tts_synthesize(e, "caf\xe9 au lait", &p, on_chunk, &r), TTS_ERR_INVALID_TEXT);
  CHECK_FAILS(e, tts_synthesize(e, "\xc3", &p, on_chunk, &r), TTS_ERR_INVALID_TEXT);
  CHECK_FAILS(e, tts_synthesize_n(e, "Hi\0there.", 9, &p, on_chunk, &r), TTS_ERR_INVALID_TEXT);
  CHECK_FAILS(e, tts_stream_start(e, "\xff\xfe", &p, &s), TTS_ERR_INVALID_TEXT);
  CHECK_FAILS(e, tts_stream_start_n(e, "a\0b", 3, &p, &s), TTS_ERR_INVALID_TEXT);
  CHECK_FAILS(e, tts_synthesize_to_wav(e, "\xff", &p, "/tmp/never.wav"), TTS_ERR_INVALID_TEXT);
  CHECK(s == NULL);
  CHECK_FAILS(e, tts_engine_add_piper_voice(e, "bad\xff", "x.onnx", TTS_SPEAKER_DEFAULT),
              TTS_ERR_INVALID_TEXT);

  /* Control characters and emoji inside real text are dropped, not errors. */
  const char *mixed = "Bell\x07 and escape\x1b here \xf0\x9f\x98\x80.";
  run_info ok;
  run_init(&ok, mixed);
  if (!quick) { /* text handling, not memory: skipped under valgrind */
    CHECK_CODE(tts_synthesize(e, mixed, &p, on_chunk, &ok), TTS_OK);
    CHECK(ok.chunks == 1 && complete(&ok));
  }

  /* Parameters: NaN is "the voice's default", everything else is checked. */
  bad = p;
  bad.speed = NAN;
  bad.noise_scale = NAN;
  bad.noise_w = NAN;
  run(e, QUICK_TEXT("Defaults."), &bad, &code);
  CHECK_CODE(code, TTS_OK);
  const float speeds[] = {-1.0f, 0.0f, 0.01f, 1000.0f, INFINITY, -INFINITY};
  for (size_t i = 0; i < sizeof speeds / sizeof speeds[0]; i++) {
    bad = p;
    bad.speed = speeds[i];
    run(e, "Hi.", &bad, &code);
    CHECK_CODE(code, TTS_ERR_INVALID_PARAMETER);
  }
  still_works(e);
  bad = p;
  bad.noise_scale = -2.0f;
  CHECK_FAILS(e, tts_synthesize(e, "Hi.", &bad, on_chunk, &r), TTS_ERR_INVALID_PARAMETER);
  bad = p;
  bad.noise_w = INFINITY;
  CHECK_FAILS(e, tts_synthesize(e, "Hi.", &bad, on_chunk, &r), TTS_ERR_INVALID_PARAMETER);
  const uint32_t rates[] = {11025, 1, 96000, 4000000000u};
  for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++) {
    bad = p;
    bad.sample_rate = rates[i];
    CHECK_FAILS(e, tts_synthesize(e, "Hi.", &bad, on_chunk, &r), TTS_ERR_INVALID_PARAMETER);
  }
  bad = p;
  bad.gap = TTS_GAP_CROSSFADE;
  bad.gap_ms = 5000;
  CHECK_FAILS(e, tts_synthesize(e, "Hi.", &bad, on_chunk, &r), TTS_ERR_INVALID_PARAMETER);
  bad = p;
  bad.has_speaker = 1;
  bad.speaker = 5;
  CHECK_FAILS(e, tts_synthesize(e, "Hi.", &bad, on_chunk, &r), TTS_ERR_SPEAKER_OUT_OF_RANGE);
  bad.speaker = -3;
  CHECK_FAILS(e, tts_synthesize(e, "Hi.", &bad, on_chunk, &r), TTS_ERR_SPEAKER_OUT_OF_RANGE);
  bad = p;
  bad.voice = "nobody";
  CHECK_FAILS(e, tts_synthesize(e, "Hi.", &bad, on_chunk, &r), TTS_ERR_VOICE_NOT_FOUND);
  CHECK_FAILS(e, tts_stream_start(e, "Hi.", &bad, &s), TTS_ERR_VOICE_NOT_FOUND);
  bad.voice = "\xff\xff";
  CHECK_FAILS(e, tts_synthesize(e, "Hi.", &bad, on_chunk, &r), TTS_ERR_INVALID_TEXT);
  CHECK_FAILS(e, tts_engine_set_default_voice(e, "nobody"), TTS_ERR_VOICE_NOT_FOUND);
  CHECK_FAILS(e, tts_engine_remove_voice(e, "nobody"), TTS_ERR_VOICE_NOT_FOUND);

  /* Voices: a missing model file, a corrupt one, a speaker it lacks. */
  CHECK_FAILS(e,
              tts_engine_add_piper_voice(e, "missing", "/nonexistent/v.onnx",
                                         TTS_SPEAKER_DEFAULT),
              TTS_ERR_VOICE_NOT_FOUND);
  const char *voice = getenv("ISHOWTTS_VOICE");
  const char *model_path = voice ? voice : "models/en_US-joe-medium.onnx";
  CHECK_FAILS(e, tts_engine_add_piper_voice(e, "joe2", model_path, 4),
              TTS_ERR_SPEAKER_OUT_OF_RANGE);
  char dir[] = "/tmp/tts-c-voice-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char model[256], config[256], cmd[700];
  snprintf(model, sizeof model, "%s/bad.onnx", dir);
  snprintf(config, sizeof config, "%s/bad.onnx.json", dir);
  FILE *f = fopen(model, "wb");
  CHECK(f != NULL);
  if (f) {
    for (int i = 0; i < 1000; i++) fputs("this is not an onnx file ", f);
    fclose(f);
  }
  snprintf(cmd, sizeof cmd, "cp '%s.json' '%s'", model_path, config);
  CHECK(system(cmd) == 0);
  CHECK_CODE(tts_engine_add_piper_voice(e, "bad", model, TTS_SPEAKER_DEFAULT), TTS_OK);
  bad = p;
  bad.voice = "bad";
  CHECK_FAILS(e, tts_synthesize(e, "Hi there.", &bad, on_chunk, &r), TTS_ERR_MODEL_FORMAT);
  /* A failed load is retried on the next request, and fails the same way. */
  CHECK_FAILS(e, tts_stream_start(e, "Hi there.", &bad, &s) == TTS_OK
                     ? tts_stream_next(s, -1, &c)
                     : -1,
              TTS_ERR_MODEL_FORMAT);
  tts_stream_free(s);
  s = NULL;
  CHECK_CODE(tts_engine_remove_voice(e, "bad"), TTS_OK);
  /* A config that is not JSON. */
  f = fopen(config, "wb");
  if (f) {
    fputs("{ not json", f);
    fclose(f);
  }
  CHECK_FAILS(e, tts_engine_add_piper_voice(e, "bad", model, TTS_SPEAKER_DEFAULT),
              TTS_ERR_MODEL_FORMAT);
  unlink(model);
  unlink(config);
  rmdir(dir);
  ep = tts_engine_default_params();
  ep.voice_path = "/nonexistent/v.onnx";
  CHECK_FAILS(e, tts_engine_new(&ep, &e2), TTS_ERR_VOICE_NOT_FOUND);
  CHECK(e2 == NULL);

  /* Megabytes of text: a few chunks in bounded time, then stop. */
  if (!quick) {
    size_t n = 2 * 1024 * 1024;
    const char *unit = "This is one of very many sentences. ";
    size_t ul = strlen(unit);
    char *big = malloc(n + 1);
    CHECK(big != NULL);
    if (!big) return;
    for (size_t i = 0; i < n; i++) big[i] = unit[i % ul];
    big[n] = 0;
    run_info g;
    run_init(&g, big);
    g.stop_after = 2;
    double t0 = now_s();
    CHECK_CODE(tts_synthesize(e, big, &p, on_chunk, &g), TTS_STOPPED);
    double took = now_s() - t0;
    CHECK(g.chunks == 2 && g.order_ok);
    CHECK(took < 30.0);
    printf("2 MB text: 2 chunks then stop in %.2f s\n", took);
    still_works(e);
    /* Over a lowered limit: TTS_ERR_TEXT_TOO_LONG, at once. */
    ep = tts_engine_default_params();
    ep.max_text_bytes = 1000;
    CHECK_CODE(tts_engine_new(&ep, &e2), TTS_OK);
    if (e2) {
      CHECK_FAILS(e2, tts_synthesize(e2, big, &p, on_chunk, &g), TTS_ERR_TEXT_TOO_LONG);
      CHECK_FAILS(e2, tts_stream_start(e2, big, &p, &s), TTS_ERR_TEXT_TOO_LONG);
      tts_engine_free(e2);
      e2 = NULL;
    }
    free(big);
  }
}

/* An F5-TTS voice cloned from a recording (the tiny random-weight model of
 * the parity fixtures: not speech, but every stage runs), its sampling
 * settings, and bad references refused with their specific codes. Paths
 * are relative to the repository root, where scripts/test_capi.sh runs. */
#define F5_DIR "tests/fixtures/f5/"
static void test_f5(const tts_engine *e) {
  tts_f5_voice_params v = tts_f5_voice_default_params();
  CHECK(v.struct_size == sizeof v && v.variant == TTS_F5_V1_BASE && v.checkpoint == NULL);
  CHECK_FAILS(e, tts_engine_add_f5_voice(e, "clone", &v), TTS_ERR_INVALID_ARGUMENT);
  v.ref_audio_path = "tests/fixtures/f5_reference/ref.flac";
  v.ref_text = "This is how my voice sounds.";
  v.checkpoint = F5_DIR "tiny_v1/F5TTS_tiny";
  v.config = F5_DIR "tiny_v1/config.json";
  v.vocoder = F5_DIR "vocos_tiny";

  tts_f5_voice_params bad = v;
  bad.ref_audio_path = "/nonexistent/ref.wav";
  CHECK_FAILS(e, tts_engine_add_f5_voice(e, "clone", &bad), TTS_ERR_IO);
  bad = v;
  bad.ref_audio_path = F5_DIR "tiny_v1/config.json"; /* not audio */
  CHECK_FAILS(e, tts_engine_add_f5_voice(e, "clone", &bad), TTS_ERR_REFERENCE_AUDIO);
  bad = v;
  bad.ref_text = "  ";
  CHECK_FAILS(e, tts_engine_add_f5_voice(e, "clone", &bad), TTS_ERR_INVALID_TEXT);
  bad = v;
  bad.checkpoint = F5_DIR "no/such/checkpoint";
  CHECK_FAILS(e, tts_engine_add_f5_voice(e, "clone", &bad), TTS_ERR_VOICE_NOT_FOUND);
  bad = v;
  bad.variant = 7;
  CHECK_FAILS(e, tts_engine_add_f5_voice(e, "clone", &bad), TTS_ERR_INVALID_ARGUMENT);
  bad = v;
  bad.struct_size = 4;
  CHECK_FAILS(e, tts_engine_add_f5_voice(e, "clone", &bad), TTS_ERR_INVALID_ARGUMENT);

  CHECK_CODE(tts_engine_add_f5_voice(e, "clone", &v), TTS_OK);
  tts_request_params p = tts_request_default_params();
  CHECK(p.nfe_step == 0 && isnan(p.cfg_strength) && isnan(p.fix_duration));
  p.voice = "clone";
  p.nfe_step = 4;
  p.has_seed = 1;
  p.seed = 5;
  p.use_cache = 0;
  const char *text = "Hello there, this is the first sentence. 你好，这是第二句话。";
  int code;
  run_info a = run(e, text, &p, &code);
  CHECK_CODE(code, TTS_OK);
  CHECK(complete(&a) && a.chunks == 2 && a.rate == 24000 && a.samples > 24000);
  run_info b = run(e, text, &p, &code); /* same seed, same audio */
  CHECK(code == TTS_OK && b.samples == a.samples && b.sum == a.sum);

  tts_request_params q = p;
  q.nfe_step = 129;
  run(e, "Hi.", &q, &code);
  CHECK_CODE(code, TTS_ERR_INVALID_PARAMETER);
  q = p;
  q.cfg_strength = -1.0f;
  run(e, "Hi.", &q, &code);
  CHECK_CODE(code, TTS_ERR_INVALID_PARAMETER);
  q = p;
  q.fix_duration = INFINITY;
  run(e, "Hi.", &q, &code);
  CHECK_CODE(code, TTS_ERR_INVALID_PARAMETER);
  q = p;
  q.fix_duration = 6.0f;
  run_info fixed = run(e, "A short sentence.", &q, &code);
  CHECK(code == TTS_OK && complete(&fixed));

  /* A caller built against the header before the flow-matching settings
   * (its struct ends at use_cache) still works. */
  q = p;
  q.struct_size = offsetof(tts_request_params, nfe_step);
  q.struct_size = (q.struct_size + 7) / 8 * 8;
  run_info old = run(e, "A short sentence.", &q, &code);
  CHECK_CODE(code, TTS_OK);
  CHECK(complete(&old));
  CHECK_CODE(tts_engine_remove_voice(e, "clone"), TTS_OK);
  still_works(e);
}

/* Word and phoneme timings on the chunks that end a sentence: the words in
 * order, each inside the request's audio; phonemes with viseme ids when
 * asked for; none when word timings are off; an older params struct gets
 * the default (words on). In quick mode only the default request (from
 * the cache) runs, which still walks the word arrays under valgrind. */
typedef struct {
  int words, phonemes, ordered, visemes_ok, strings_ok;
  uint64_t last_end, samples;
  char first[32], last[32];
} timing_info;

static int on_timed_chunk(const tts_chunk *c, void *user) {
  timing_info *t = (timing_info *)user;
  if (c->word_count > 0 && (c->words == NULL || !c->ends_sentence)) t->ordered = 0;
  for (size_t i = 0; i < c->word_count; i++) {
    const tts_word *w = &c->words[i];
    if (w->word == NULL || w->word[0] == 0 || w->estimated) t->strings_ok = 0;
    if (w->start >= w->end || w->start < t->last_end) t->ordered = 0;
    t->last_end = w->end;
    if (t->words == 0) snprintf(t->first, sizeof t->first, "%s", w->word);
    snprintf(t->last, sizeof t->last, "%s", w->word);
    t->words++;
  }
  for (size_t i = 0; i < c->phoneme_count; i++) {
    const tts_phoneme *p = &c->phonemes[i];
    if (p->viseme < TTS_VISEME_SIL || p->viseme > TTS_VISEME_OU || p->start >= p->end ||
        p->phoneme == NULL)
      t->visemes_ok = 0;
    t->phonemes++;
  }
  t->samples += c->sample_count;
  return 0;
}

static timing_info timed_run(const tts_engine *e, const char *text, const tts_request_params *p) {
  timing_info t;
  memset(&t, 0, sizeof t);
  t.ordered = t.visemes_ok = t.strings_ok = 1;
  CHECK_CODE(tts_synthesize(e, text, p, on_timed_chunk, &t), TTS_OK);
  return t;
}

static void test_timings(const tts_engine *e) {
  tts_request_params p = tts_request_default_params();
  CHECK(p.word_timings == 1 && p.phoneme_timings == 0 && p.first_chunk_max_chars == 0);
  timing_info t = timed_run(e, WARM_TEXT, &p);
  CHECK(t.words == 3 && t.ordered && t.strings_ok && t.phonemes == 0);
  CHECK(strcmp(t.first, "Still") == 0 && strcmp(t.last, "fine") == 0);
  CHECK(t.last_end <= t.samples);
  if (quick) return;

  const char *text = "Hello, world! The quick brown fox jumps over the lazy dog.";
  p.phoneme_timings = 1;
  p.use_cache = 0;
  t = timed_run(e, text, &p);
  CHECK(t.words == 11 && t.ordered && t.strings_ok && t.visemes_ok && t.phonemes > 30);
  CHECK(strcmp(t.first, "Hello") == 0 && strcmp(t.last, "dog") == 0);

  p.word_timings = 0;
  p.phoneme_timings = 0;
  t = timed_run(e, text, &p);
  CHECK(t.words == 0 && t.phonemes == 0);

  /* a caller built before the timing settings gets words (the default) */
  tts_request_params old = tts_request_default_params();
  old.use_cache = 0;
  old.struct_size = offsetof(tts_request_params, first_chunk_max_chars);
  old.struct_size = (old.struct_size + 7) / 8 * 8;
  old.word_timings = 0; /* beyond its size: not read */
  t = timed_run(e, text, &old);
  CHECK(t.words == 11);

  /* the short first chunk at a length of the caller's */
  tts_request_params cut = tts_request_default_params();
  cut.first_chunk_max_chars = 60;
  int code;
  run_info r = run(e,
                   "When the first sentence runs on for a long while, its first clause is "
                   "spoken on its own. The rest follows.",
                   &cut, &code);
  CHECK_CODE(code, TTS_OK);
  CHECK(complete(&r) && r.chunks == 3);
  still_works(e);
}

/* ------------------------------------------------------------------ */
/* Live streams: text pushed in pieces while the audio is read. */

/* xorshift64*: the push patterns, reproducible (TTS_TEST_LIVE_SEED). */
static uint64_t rng_state = 0x5eed5eed5eedULL;
static uint64_t rng_next(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 0x2545F4914F6CDD1DULL;
}
static size_t rng_below(size_t n) { return (size_t)(rng_next() % n); }

/* What a stream delivered, checked as it came: offsets contiguous, one
 * is_last on the last chunk, spans in order; the sentence spans kept to
 * compare with another run of the same text. */
#define MAX_SPANS 32
typedef struct {
  int chunks, sentences, order_ok, last_count, last_is_last;
  size_t samples;
  double sum;
  size_t span_end;
  size_t spans[MAX_SPANS][2];
} read_info;

static void read_init(read_info *r) {
  memset(r, 0, sizeof *r);
  r->order_ok = 1;
}

/* Takes one chunk into `r`. */
static void read_chunk(read_info *r, const tts_chunk *c) {
  if (c->sample_offset != r->samples || r->last_count > 0 || c->text_start < r->span_end ||
      c->text_end < c->text_start || (c->sample_count > 0 && c->samples == NULL) ||
      c->format != TTS_FORMAT_F32)
    r->order_ok = 0;
  r->span_end = c->text_end;
  for (size_t i = 0; i < c->sample_count; i++) r->sum += ((const float *)c->samples)[i];
  r->samples += c->sample_count;
  if (c->ends_sentence && c->text_end > c->text_start) {
    if (r->sentences < MAX_SPANS) {
      r->spans[r->sentences][0] = c->text_start;
      r->spans[r->sentences][1] = c->text_end;
    }
    r->sentences++;
  }
  r->last_is_last = c->is_last != 0;
  r->last_count += c->is_last != 0;
  r->chunks++;
}

/* Reads `s` to its end (waiting `timeout_ms` per call); returns the final
 * code (TTS_DONE when all went well). */
static int read_all(tts_stream *s, int timeout_ms, read_info *r) {
  const tts_chunk *c = NULL;
  int rc;
  while ((rc = tts_stream_next(s, timeout_ms, &c)) == TTS_OK || rc == TTS_TIMEOUT)
    if (rc == TTS_OK) read_chunk(r, c);
  return rc;
}

/* Reads what is ready now, without waiting. */
static void read_ready(tts_stream *s, read_info *r) {
  const tts_chunk *c = NULL;
  while (tts_stream_next(s, 0, &c) == TTS_OK) read_chunk(r, c);
}

static int read_complete(const read_info *r) {
  return r->order_ok && r->chunks > 0 && r->last_count == 1 && r->last_is_last;
}

/* The same audio and the same sentences as the one-shot run `want`. */
static int same_reading(const read_info *got, const read_info *want) {
  if (got->samples != want->samples || fabs(got->sum - want->sum) > 1e-3 ||
      got->sentences != want->sentences)
    return 0;
  for (int i = 0; i < got->sentences && i < MAX_SPANS; i++)
    if (got->spans[i][0] != want->spans[i][0] || got->spans[i][1] != want->spans[i][1]) return 0;
  return 1;
}

/* The one-shot reading of `text`, pulled from tts_stream_start. */
static read_info one_shot(const tts_engine *e, const char *text, const tts_request_params *p) {
  read_info r;
  read_init(&r);
  tts_stream *s = NULL;
  CHECK_CODE(tts_stream_start(e, text, p, &s), TTS_OK);
  if (s) CHECK_CODE(read_all(s, -1, &r), TTS_DONE);
  tts_stream_free(s);
  CHECK(read_complete(&r));
  return r;
}

/* Abbreviations, a decimal, an ellipsis, quotes, a dash and multi-byte
 * characters: the places a live splitter can go wrong. */
static const char *const LIVE_TEXT =
    "Dr. Brown paid 3.50 for a caf\xc3\xa9 au lait\xe2\x80\xa6 \"Is that all?\" she asked. "
    "It was 9 a.m. on a cold day \xe2\x80\x94 the shop had just opened. "
    "Na\xc3\xafve plans, it seems, work best! The end.";

/* Property: whatever the push pattern (one byte at a time, so cut inside
 * every multi-byte character; random small or large pieces; all at once),
 * with chunks read between the pushes, a live stream delivers exactly the
 * samples and sentences of a one-shot request of the same text. */
static void test_live_patterns(const tts_engine *e) {
  const char *seed = getenv("TTS_TEST_LIVE_SEED");
  if (seed && seed[0]) rng_state = strtoull(seed, NULL, 0) | 1;
  fprintf(stderr, "  live push patterns, seed 0x%llx (TTS_TEST_LIVE_SEED)\n",
          (unsigned long long)rng_state);
  tts_request_params p = tts_request_default_params();
  p.has_seed = 1;
  p.seed = 9;
  p.use_cache = 0;
  read_info want = one_shot(e, LIVE_TEXT, &p);
  CHECK(want.sentences == 4);
  size_t n = strlen(LIVE_TEXT);
  const size_t max_piece[] = {1, 4, 16, 64, 0 /* all at once */, 9};
  for (size_t k = 0; k < sizeof max_piece / sizeof max_piece[0]; k++) {
    tts_stream *s = NULL;
    CHECK_CODE(tts_stream_open(e, &p, &s), TTS_OK);
    if (!s) return;
    read_info got;
    read_init(&got);
    for (size_t at = 0; at < n;) {
      size_t len = max_piece[k] == 0 ? n : 1 + rng_below(max_piece[k]);
      if (len > n - at) len = n - at;
      CHECK_CODE(tts_stream_push_text(s, LIVE_TEXT + at, len), TTS_OK);
      at += len;
      if (rng_below(4) == 0) read_ready(s, &got);
    }
    CHECK_CODE(tts_stream_finish(s), TTS_OK);
    CHECK_CODE(read_all(s, -1, &got), TTS_DONE);
    checks++;
    if (!read_complete(&got) || !same_reading(&got, &want)) {
      failures++;
      fprintf(stderr,
              "%s:%d: push pattern %zu (pieces up to %zu bytes) differs from the one-shot "
              "request: %zu vs %zu samples, %d vs %d sentences\n",
              __FILE__, __LINE__, k, max_piece[k], got.samples, want.samples, got.sentences,
              want.sentences);
    }
    tts_stream_free(s);
  }
}

typedef struct {
  tts_stream *stream;
  const char *text;
  int pushes_ok;
} pusher_arg;

/* Pushes the text in random pieces with short pauses, as a host's text
 * source would, then finishes it. */
static void *push_slowly(void *arg) {
  pusher_arg *a = (pusher_arg *)arg;
  size_t n = strlen(a->text);
  a->pushes_ok = 1;
  for (size_t at = 0; at < n;) {
    size_t len = 1 + (size_t)(rng_next() % 12);
    if (len > n - at) len = n - at;
    if (tts_stream_push_text(a->stream, a->text + at, len) != TTS_OK) a->pushes_ok = 0;
    at += len;
    usleep(1000);
  }
  if (tts_stream_finish(a->stream) != TTS_OK) a->pushes_ok = 0;
  return NULL;
}

/* One thread pushes while another reads: the same audio as one-shot. */
static void test_live_threads(const tts_engine *e) {
  tts_request_params p = tts_request_default_params();
  p.has_seed = 1;
  p.seed = 9;
  p.use_cache = 0;
  read_info want = one_shot(e, LIVE_TEXT, &p);
  tts_stream *s = NULL;
  CHECK_CODE(tts_stream_open(e, &p, &s), TTS_OK);
  if (!s) return;
  pusher_arg a = {s, LIVE_TEXT, 0};
  pthread_t t;
  CHECK(pthread_create(&t, NULL, push_slowly, &a) == 0);
  read_info got;
  read_init(&got);
  CHECK_CODE(read_all(s, 50, &got), TTS_DONE);
  pthread_join(t, NULL);
  CHECK(a.pushes_ok && read_complete(&got) && same_reading(&got, &want));
  tts_stream_free(s);
}

typedef struct {
  tts_stream *stream;
  int rc;
  read_info r;
} reader_arg;

static void *read_in_thread(void *arg) {
  reader_arg *a = (reader_arg *)arg;
  read_init(&a->r);
  a->rc = read_all(a->stream, -1, &a->r);
  return NULL;
}

/* The basic live contract, in both test sets (under valgrind too): text
 * pushed in 3-byte pieces is spoken, flush on an empty stream and pushes
 * of nothing are no-ops, and a stream freed unfinished and unread leaks
 * nothing. In quick mode the text is the cached sentence. */
static void test_live(const tts_engine *e) {
  const char *text = QUICK_TEXT("Live text comes in pieces. Caf\xc3\xa9 au lait is hot.");
  tts_request_params p = tts_request_default_params();
  p.use_cache = 0;
  p.has_seed = !quick;
  p.seed = 9;
  read_info want;
  read_init(&want);
  if (!quick) want = one_shot(e, text, &p);
  tts_stream *s = NULL;
  CHECK_CODE(tts_stream_open(e, &p, &s), TTS_OK);
  if (!s) return;
  CHECK_CODE(tts_stream_flush(s), TTS_OK); /* nothing held: a no-op */
  size_t n = strlen(text);
  for (size_t at = 0; at < n; at += 3)
    CHECK_CODE(tts_stream_push_text(s, text + at, n - at < 3 ? n - at : 3), TTS_OK);
  CHECK_CODE(tts_stream_push_text(s, NULL, 0), TTS_OK);
  CHECK_CODE(tts_stream_push_text(s, "", 0), TTS_OK);
  CHECK_CODE(tts_stream_finish(s), TTS_OK);
  read_info got;
  read_init(&got);
  CHECK_CODE(read_all(s, -1, &got), TTS_DONE);
  /* unseeded in quick mode (a seeded one-shot would cost another model
   * call under valgrind): one sentence of speech */
  CHECK(read_complete(&got) && (quick ? got.sentences == 1 && got.samples > 10000
                                      : same_reading(&got, &want)));
  const tts_chunk *c = NULL;
  CHECK_CODE(tts_stream_next(s, 0, &c), TTS_DONE); /* stays done */
  tts_stream_free(s);

  /* dropped by the host: neither finished nor read */
  CHECK_CODE(tts_stream_open(e, &p, &s), TTS_OK);
  CHECK_CODE(tts_stream_push_text(s, "Never finished. Or read", 23), TTS_OK);
  tts_stream_free(s);
  still_works(e);
}

/* Every misuse of a live stream gets its code or is a documented no-op,
 * and the engine goes on. */
static void test_live_bad_input(const tts_engine *e) {
  tts_request_params p = tts_request_default_params();
  p.use_cache = 0; /* live requests are not cached: each spoken one is a model call */
  tts_stream *s = NULL;
  read_info r;

  /* Under valgrind (quick) these streams say nothing: a live request is
   * not cached, and each sentence would be a model call of minutes there.
   * The error paths are the same. */
  const char *speech = quick ? "" : WARM_TEXT;

  /* after finish: refused, the audio still ends */
  CHECK_CODE(tts_stream_open(e, &p, &s), TTS_OK);
  CHECK_CODE(tts_stream_push_text(s, speech, strlen(speech)), TTS_OK);
  CHECK_CODE(tts_stream_finish(s), TTS_OK);
  CHECK_CODE(tts_stream_push_text(s, "late", 4), TTS_ERR_INVALID_ARGUMENT);
  CHECK_CODE(tts_stream_flush(s), TTS_ERR_INVALID_ARGUMENT);
  CHECK_CODE(tts_stream_finish(s), TTS_ERR_INVALID_ARGUMENT);
  read_init(&r);
  CHECK_CODE(read_all(s, -1, &r), TTS_DONE);
  CHECK(r.order_ok && r.last_count == 1 && r.sentences == (quick ? 0 : 1));
  tts_stream_free(s);

  /* after cancel: pushes, flush and finish are TTS_ERR_CANCELLED; the
   * reader gets TTS_STOPPED */
  CHECK_CODE(tts_stream_open(e, &p, &s), TTS_OK);
  CHECK_CODE(tts_stream_push_text(s, "Not yet settled", 15), TTS_OK);
  CHECK_CODE(tts_stream_cancel(s), TTS_OK);
  CHECK_CODE(tts_stream_push_text(s, "more", 4), TTS_ERR_CANCELLED);
  CHECK_CODE(tts_stream_flush(s), TTS_ERR_CANCELLED);
  CHECK_CODE(tts_stream_finish(s), TTS_ERR_CANCELLED);
  read_init(&r);
  CHECK_CODE(read_all(s, -1, &r), TTS_STOPPED);
  CHECK(r.samples == 0);
  CHECK_CODE(tts_stream_cancel(s), TTS_OK); /* again: nothing happens */
  tts_stream_free(s);

  /* bytes that are not UTF-8 are refused and nothing of that push is
   * taken; a character cut by one push is completed by the next */
  CHECK_CODE(tts_stream_open(e, &p, &s), TTS_OK);
  CHECK_CODE(tts_stream_push_text(s, "\xff", 1), TTS_ERR_INVALID_TEXT);
  CHECK_CODE(tts_stream_push_text(s, "Still \xc3", 7), TTS_OK);
  CHECK_CODE(tts_stream_push_text(s, "(", 1), TTS_ERR_INVALID_TEXT);
  CHECK_CODE(tts_stream_push_text(s, "\xa9", 1), TTS_OK); /* "é" */
  CHECK_CODE(tts_stream_push_text(s, NULL, 3), TTS_ERR_INVALID_ARGUMENT);
  tts_stream_cancel(s);
  tts_stream_free(s);

  /* a character never completed: finish says so, yet the text ends and
   * what came before is spoken */
  char cut[64];
  snprintf(cut, sizeof cut, "%s \xe2\x80", speech);
  CHECK_CODE(tts_stream_open(e, &p, &s), TTS_OK);
  CHECK_CODE(tts_stream_push_text(s, cut, strlen(cut)), TTS_OK);
  CHECK_CODE(tts_stream_finish(s), TTS_ERR_INVALID_TEXT);
  CHECK_CODE(tts_stream_push_text(s, "x", 1), TTS_ERR_INVALID_ARGUMENT);
  read_init(&r);
  CHECK_CODE(read_all(s, -1, &r), TTS_DONE);
  CHECK(r.order_ok && r.last_count == 1 && r.sentences == (quick ? 0 : 1));
  CHECK(quick || r.samples > 10000);
  tts_stream_free(s);

  /* 10 MB of sentences in one push are taken at once (the splitter is
   * linear) and a cancel then ends the stream without speaking them all;
   * past the engine's max_text_bytes a push is refused whole and the
   * stream takes the next one. */
  /* (not under valgrind: the first sentences start at once, and there
   * each is a model call of minutes) */
  const char *unit = "Hi. Go. Dr. Smith paid 3.5 dollars at the caf\xc3\xa9. ";
  size_t unit_len = strlen(unit);
  size_t big_len = quick ? 0 : (size_t)10 << 20;
  size_t units = big_len / unit_len;
  big_len = units * unit_len;
  char *big = big_len ? malloc(big_len) : NULL;
  CHECK(quick || big != NULL);
  if (big) {
    for (size_t i = 0; i < units; i++) memcpy(big + i * unit_len, unit, unit_len);
    CHECK_CODE(tts_stream_open(e, &p, &s), TTS_OK);
    double t = now_s();
    CHECK_CODE(tts_stream_push_text(s, big, big_len), TTS_OK);
    fprintf(stderr, "  %zu bytes pushed at once in %.2f s\n", big_len, now_s() - t);
    CHECK(now_s() - t < 30);
    CHECK_CODE(tts_stream_cancel(s), TTS_OK);
    read_init(&r);
    CHECK_CODE(read_all(s, -1, &r), TTS_STOPPED);
    CHECK(r.order_ok);
    tts_stream_free(s);
    tts_engine_params ep = tts_engine_default_params();
    ep.max_text_bytes = 1 << 20;
    tts_engine *small = NULL;
    CHECK_CODE(tts_engine_new(&ep, &small), TTS_OK);
    CHECK_CODE(tts_stream_open(small, &p, &s), TTS_OK);
    CHECK_CODE(tts_stream_push_text(s, big, big_len), TTS_ERR_TEXT_TOO_LONG);
    CHECK_CODE(tts_stream_push_text(s, WARM_TEXT, strlen(WARM_TEXT)), TTS_OK);
    CHECK_CODE(tts_stream_finish(s), TTS_OK);
    read_init(&r);
    CHECK_CODE(read_all(s, -1, &r), TTS_DONE);
    CHECK(read_complete(&r) && r.sentences == 1 && r.samples > 10000);
    tts_stream_free(s);
    tts_engine_free(small);
    free(big);
  }

  /* nothing pushed, then finished: one empty last chunk, then done */
  CHECK_CODE(tts_stream_open(e, &p, &s), TTS_OK);
  CHECK_CODE(tts_stream_flush(s), TTS_OK);
  CHECK_CODE(tts_stream_finish(s), TTS_OK);
  read_init(&r);
  CHECK_CODE(read_all(s, -1, &r), TTS_DONE);
  CHECK(r.order_ok && r.samples == 0 && r.sentences == 0 && r.last_count <= 1);
  tts_stream_free(s);

  /* a plain stream takes no text (WARM_TEXT with the defaults: cached) */
  CHECK_CODE(tts_stream_start(e, WARM_TEXT, NULL, &s), TTS_OK);
  CHECK_CODE(tts_stream_push_text(s, "x", 1), TTS_ERR_INVALID_ARGUMENT);
  CHECK_CODE(tts_stream_flush(s), TTS_ERR_INVALID_ARGUMENT);
  CHECK_CODE(tts_stream_finish(s), TTS_ERR_INVALID_ARGUMENT);
  tts_stream_free(s);
  CHECK_CODE(tts_stream_open(e, &p, NULL), TTS_ERR_INVALID_ARGUMENT);
  CHECK_CODE(tts_stream_open(NULL, &p, &s), TTS_ERR_INVALID_ARGUMENT);
  CHECK_CODE(tts_stream_push_text(NULL, "x", 1), TTS_ERR_INVALID_ARGUMENT);
  CHECK_CODE(tts_stream_flush(NULL), TTS_ERR_INVALID_ARGUMENT);
  CHECK_CODE(tts_stream_finish(NULL), TTS_ERR_INVALID_ARGUMENT);

  /* Ending a stream that another thread is reading: cancel (any thread),
   * join the reader, then free (tts.h: a free must not race another call
   * on the same handle). The reader wakes with TTS_STOPPED. */
  CHECK_CODE(tts_stream_open(e, &p, &s), TTS_OK);
  reader_arg ra = {s, -1, {0}};
  pthread_t t;
  CHECK(pthread_create(&t, NULL, read_in_thread, &ra) == 0);
  usleep(20 * 1000);
  CHECK_CODE(tts_stream_push_text(s, "Never settled", 13), TTS_OK);
  CHECK_CODE(tts_stream_cancel(s), TTS_OK);
  pthread_join(t, NULL);
  CHECK_CODE(ra.rc, TTS_STOPPED);
  CHECK(ra.r.order_ok);
  tts_stream_free(s);
  still_works(e);
}

/* Qwen3-TTS (the tiny random-weight Base checkpoint scripts/test_capi.sh
 * writes to $TTS_TEST_QWEN3_DIR: not speech, but every stage runs): audio
 * in several chunks per sentence, `ends_sentence` on the last of each,
 * offsets contiguous, spans shared by a sentence's pieces; bad voices and
 * settings refused with their codes. */
typedef struct {
  int chunks, sentences, in_sentence, last_count, ok, stop_after;
  uint64_t next_offset;
  size_t start, end;
  double sum;
} pieces_info;

static int on_piece(const tts_chunk *c, void *user) {
  pieces_info *r = (pieces_info *)user;
  if (c->sample_offset != r->next_offset || c->sentence_index != (uint64_t)r->sentences ||
      r->last_count > 0 || c->sample_rate != 24000 || c->format != TTS_FORMAT_F32)
    r->ok = 0;
  if (r->in_sentence > 0 && (c->text_start != r->start || c->text_end != r->end)) r->ok = 0;
  if (c->is_last && !c->ends_sentence) r->ok = 0;
  r->start = c->text_start;
  r->end = c->text_end;
  r->chunks++;
  r->in_sentence++;
  r->next_offset += c->sample_count;
  r->last_count += c->is_last != 0;
  for (size_t i = 0; i < c->sample_count; i++) r->sum += ((const float *)c->samples)[i];
  if (c->ends_sentence) {
    r->sentences++;
    r->in_sentence = 0;
  }
  return r->stop_after && r->chunks >= r->stop_after;
}

static pieces_info speak_pieces(const tts_engine *e, const char *text,
                                const tts_request_params *p, int stop_after, int *code) {
  pieces_info r;
  memset(&r, 0, sizeof r);
  r.ok = 1;
  r.stop_after = stop_after;
  *code = tts_synthesize(e, text, p, on_piece, &r);
  return r;
}

static void test_qwen3(const tts_engine *e) {
  const char *dir = getenv("TTS_TEST_QWEN3_DIR");
  CHECK(dir != NULL);
  if (!dir) return;
  tts_qwen3_voice_params v = tts_qwen3_voice_default_params();
  CHECK(v.struct_size == sizeof v && v.checkpoint == NULL && v.speaker == NULL);
  CHECK_FAILS(e, tts_engine_add_qwen3_voice(e, "q", &v), TTS_ERR_INVALID_ARGUMENT);
  v.checkpoint = "/nonexistent/qwen3";
  CHECK_FAILS(e, tts_engine_add_qwen3_voice(e, "q", &v), TTS_ERR_VOICE_NOT_FOUND);
  v.checkpoint = dir;
  CHECK_FAILS(e, tts_engine_add_qwen3_voice(e, "q", &v), TTS_ERR_REFERENCE_AUDIO);
  v.ref_audio_path = "tests/fixtures/f5_reference/ref.flac";
  tts_qwen3_voice_params bad = v;
  bad.language = "klingon";
  CHECK_FAILS(e, tts_engine_add_qwen3_voice(e, "q", &bad), TTS_ERR_INVALID_PARAMETER);
  bad = v;
  bad.speaker = "someone"; /* a Base checkpoint has none */
  CHECK_FAILS(e, tts_engine_add_qwen3_voice(e, "q", &bad), TTS_ERR_INVALID_ARGUMENT);
  bad = v;
  bad.ref_audio_path = "tests/fixtures/f5/tiny_v1/config.json"; /* not audio */
  CHECK_FAILS(e, tts_engine_add_qwen3_voice(e, "q", &bad), TTS_ERR_REFERENCE_AUDIO);
  v.language = "english";
  CHECK_CODE(tts_engine_add_qwen3_voice(e, "q", &v), TTS_OK);

  tts_request_params p = tts_request_default_params();
  CHECK(p.language == NULL && p.top_k == 0 && isnan(p.temperature) && isnan(p.top_p));
  p.voice = "q";
  p.has_seed = 1;
  p.seed = 4;
  p.use_cache = 0;
  const char *text = "Hello there. Good day to you.";
  int code;
  pieces_info a = speak_pieces(e, text, &p, 0, &code);
  CHECK_CODE(code, TTS_OK);
  CHECK(a.ok && a.sentences == 2 && a.chunks > 2 && a.last_count == 1);
  pieces_info b = speak_pieces(e, text, &p, 0, &code); /* same seed, same audio */
  CHECK(code == TTS_OK && b.chunks == a.chunks && b.sum == a.sum);

  tts_request_params q = p;
  q.language = "chinese";
  q.instruct = "Speak slowly.";
  q.temperature = 0.7f;
  q.top_k = 20;
  q.top_p = 0.9f;
  q.repetition_penalty = 1.1f;
  pieces_info zh = speak_pieces(e, "Hi.", &q, 0, &code);
  CHECK(code == TTS_OK && zh.ok && zh.sentences == 1);
  q = p;
  q.temperature = 0.0f;
  speak_pieces(e, "Hi.", &q, 0, &code);
  CHECK_CODE(code, TTS_ERR_INVALID_PARAMETER);
  q = p;
  q.top_k = 200000;
  speak_pieces(e, "Hi.", &q, 0, &code);
  CHECK_CODE(code, TTS_ERR_INVALID_PARAMETER);
  q = p;
  q.language = "klingon";
  speak_pieces(e, "Hi.", &q, 0, &code);
  CHECK_CODE(code, TTS_ERR_INVALID_PARAMETER);

  /* stopped after the first chunk: inside the first sentence */
  pieces_info stopped = speak_pieces(e, text, &p, 1, &code);
  CHECK(code == TTS_STOPPED && stopped.chunks == 1 && stopped.sentences == 0);

  /* A caller built before the autoregressive settings (its struct ends at
   * fix_duration) still works. */
  q = p;
  q.struct_size = offsetof(tts_request_params, language);
  pieces_info old = speak_pieces(e, "Hi.", &q, 0, &code);
  CHECK(code == TTS_OK && old.ok && old.sentences == 1);
  CHECK_CODE(tts_engine_remove_voice(e, "q"), TTS_OK);
  still_works(e);
}

/* The batch and worker settings: checked, and a caller built before them
 * (its struct ends at max_text_bytes, or before workers) gets the
 * defaults. */
static void test_batch_params(void) {
  tts_engine *e = NULL;
  tts_engine_params ep = tts_engine_default_params();
  ep.max_batch = 0;
  CHECK_CODE(tts_engine_new(&ep, &e), TTS_ERR_INVALID_PARAMETER);
  CHECK(e == NULL && strstr(tts_last_error(), "max_batch") != NULL);
  ep.max_batch = 100000;
  CHECK_CODE(tts_engine_new(&ep, &e), TTS_ERR_INVALID_PARAMETER);
  ep.max_batch = 4;
  ep.batch_window_ms = 60000;
  CHECK_CODE(tts_engine_new(&ep, &e), TTS_ERR_INVALID_PARAMETER);
  CHECK(e == NULL);
  ep = tts_engine_default_params();
  ep.workers = 0;
  CHECK_CODE(tts_engine_new(&ep, &e), TTS_ERR_INVALID_PARAMETER);
  CHECK(e == NULL && strstr(tts_last_error(), "workers") != NULL);
  ep.workers = 65;
  CHECK_CODE(tts_engine_new(&ep, &e), TTS_ERR_INVALID_PARAMETER);
  ep.workers = 0; /* a caller built before workers: one worker */
  ep.struct_size = offsetof(tts_engine_params, workers);
  CHECK_CODE(tts_engine_new(&ep, &e), TTS_OK);
  if (e) {
    still_works(e);
    tts_engine_free(e);
    e = NULL;
  }

  ep = tts_engine_default_params();
  ep.max_batch = 0; /* beyond the old layout: not read */
  ep.struct_size = offsetof(tts_engine_params, max_batch);
  CHECK_CODE(tts_engine_new(&ep, &e), TTS_OK);
  if (!e) return;
  tts_metrics m;
  memset(&m, 0, sizeof m);
  m.batch_steps = 12345; /* beyond the old layout: left alone */
  m.struct_size = offsetof(tts_metrics, batch_steps);
  CHECK_CODE(tts_engine_metrics(e, &m), TTS_OK);
  CHECK(m.batch_steps == 12345 && m.struct_size == offsetof(tts_metrics, batch_steps));
  m.struct_size = sizeof m;
  CHECK_CODE(tts_engine_metrics(e, &m), TTS_OK);
  CHECK(m.batch_steps == 0 && m.batch_retries == 0);
  tts_engine_free(e);
}

/* A busy engine says so instead of queueing without bound. */
static void test_busy(void) {
  tts_engine_params ep = tts_engine_default_params();
  ep.queue_limit = 1;
  ep.cache_max_entries = 0;
  tts_engine *e = NULL;
  CHECK_CODE(tts_engine_new(&ep, &e), TTS_OK);
  if (!e) return;
  tts_stream *a = NULL, *b = NULL;
  CHECK_CODE(tts_stream_start(e, "Hold the only slot. Still holding it.", NULL, &a), TTS_OK);
  CHECK_CODE(tts_stream_start(e, "No room.", NULL, &b), TTS_ERR_BUSY);
  CHECK(b == NULL);
  tts_stream_free(a);
  tts_metrics m;
  memset(&m, 0, sizeof m);
  m.struct_size = sizeof m;
  CHECK_CODE(tts_engine_metrics(e, &m), TTS_OK);
  CHECK(m.rejected_busy == 1);
  tts_engine_free(e);
}

/* Streams outliving their engine end with TTS_ERR_ENGINE_CLOSED. */
static void test_engine_freed_under_stream(void) {
  tts_engine_params ep = tts_engine_default_params();
  tts_engine *e = NULL;
  CHECK_CODE(tts_engine_new(&ep, &e), TTS_OK);
  if (!e) return;
  tts_stream *s = NULL;
  CHECK_CODE(tts_stream_start(e, "Orphaned stream. It never finishes.", NULL, &s), TTS_OK);
  tts_engine_free(e);
  const tts_chunk *c;
  int rc;
  while ((rc = tts_stream_next(s, 5000, &c)) == TTS_OK) {
  }
  CHECK(rc == TTS_ERR_ENGINE_CLOSED || rc == TTS_DONE || rc == TTS_STOPPED);
  tts_stream_free(s);
}

static int log_lines = 0;
static int log_bad = 0;
static void on_log(int level, const char *msg, void *user) {
  if (user != &log_lines || level < TTS_LOG_ERROR || level > TTS_LOG_INFO || !msg || !msg[0])
    log_bad++;
  log_lines++;
}

int main(void) {
  const char *q = getenv("TTS_TEST_QUICK");
  quick = q && q[0] == '1';
  double t0 = now_s();
  /* Progress on stderr (unbuffered), so a slow valgrind run shows where. */
#define STAGE(name) fprintf(stderr, "[%6.1f s] %s\n", now_s() - t0, name)
  STAGE("basics");
  test_basics();
  CHECK_CODE(tts_set_log_callback(on_log, &log_lines, 0), TTS_ERR_INVALID_PARAMETER);
  CHECK_CODE(tts_set_log_callback(on_log, &log_lines, TTS_LOG_INFO), TTS_OK);
  CHECK_CODE(tts_set_log_callback(on_log, &log_lines, TTS_LOG_INFO), TTS_OK); /* twice */

  tts_engine_params ep = tts_engine_default_params();
  tts_engine *e = NULL;
  CHECK_CODE(tts_engine_new(&ep, &e), TTS_OK);
  if (!e) {
    fprintf(stderr, "cannot create the engine: %s\n", tts_last_error());
    return 1;
  }
  STAGE("first synthesis (model load)");
  still_works(e);
  CHECK(log_lines > 0 && log_bad == 0); /* the model load is logged at info */

  if (!quick) {
    test_callback(e);
    test_stream(e);
    STAGE("live streams");
    test_live_patterns(e);
    test_live_threads(e);
    test_busy();
    test_batch_params();
    test_engine_freed_under_stream();
    STAGE("F5-TTS voice");
    test_f5(e);
    STAGE("Qwen3-TTS voice");
    test_qwen3(e);
  }
  STAGE("live stream");
  test_live(e);
  test_live_bad_input(e);
  STAGE("timings");
  test_timings(e);
  STAGE("WAV files and metrics");
  test_wav_and_metrics(e);
  STAGE("bad input");
  test_bad_input(e);
  STAGE("engine free");

  CHECK_CODE(tts_set_log_callback(NULL, NULL, 0), TTS_OK);
  int lines = log_lines;
  tts_engine_free(e);
  CHECK(log_lines == lines && log_bad == 0);
  printf("C API: %d checks, %d failures%s, %.1f s\n", checks, failures, quick ? " (quick)" : "",
         now_s() - t0);
  return failures ? 1 : 0;
}
