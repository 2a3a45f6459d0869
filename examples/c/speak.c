/* speak: text in, a WAV file out, streamed sentence by sentence through the
 * pull API, with each chunk's metadata on standard error.
 *
 * Build (after scripts/build_capi.sh, which writes tts.pc):
 *   export PKG_CONFIG_PATH=$PWD/target/release
 *   cc -std=c11 -Wall examples/c/speak.c $(pkg-config --cflags --libs tts) -o speak
 *   ./speak "Hello there. How are you?" out.wav [rate]
 * "-" as the file writes the WAV to standard output (e.g. `| aplay`): the
 * header of a stream of unknown length goes out before the first sample. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tts.h"

static void put_le32(FILE *f, long at, uint32_t v) {
  uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
  fseek(f, at, SEEK_SET);
  fwrite(b, 1, sizeof b, f);
}

int main(int argc, char **argv) {
  if (argc < 3 || argc > 4) {
    fprintf(stderr, "usage: %s TEXT OUT.wav|- [SAMPLE_RATE]\n", argv[0]);
    return 2;
  }
  tts_engine_params ep = tts_engine_default_params();
  tts_engine *engine = NULL;
  if (tts_engine_new(&ep, &engine) != TTS_OK) {
    fprintf(stderr, "engine: %s\n", tts_last_error());
    return 1;
  }
  tts_request_params rp = tts_request_default_params();
  rp.format = TTS_FORMAT_I16;
  if (argc == 4) rp.sample_rate = (uint32_t)strtoul(argv[3], NULL, 10);

  tts_stream *stream = NULL;
  int rc = tts_stream_start(engine, argv[1], &rp, &stream);
  if (rc != TTS_OK) {
    fprintf(stderr, "%s: %s\n", tts_error_code_name(rc), tts_last_error());
    tts_engine_free(engine);
    return 1;
  }
  int to_stdout = strcmp(argv[2], "-") == 0;
  FILE *out = to_stdout ? stdout : fopen(argv[2], "wb");
  if (!out) {
    perror(argv[2]);
    tts_stream_free(stream);
    tts_engine_free(engine);
    return 1;
  }

  const tts_chunk *c;
  int first = 1;
  uint64_t data_bytes = 0;
  while ((rc = tts_stream_next(stream, -1, &c)) == TTS_OK) {
    if (first) {
      uint8_t header[TTS_WAV_HEADER_SIZE];
      tts_wav_header(c->sample_rate, c->format, header);
      fwrite(header, 1, sizeof header, out);
      first = 0;
    }
    /* c->samples stays valid until the next tts_stream_next. */
    fwrite(c->samples, sizeof(int16_t), c->sample_count, out);
    data_bytes += c->sample_count * sizeof(int16_t);
    fprintf(stderr,
            "sentence %llu: text bytes [%zu, %zu) \"%.*s\", %zu samples at %u Hz from %llu, "
            "model %.0f ms, first audio after %.0f ms%s%s\n",
            (unsigned long long)c->sentence_index + 1, c->text_start, c->text_end,
            (int)(c->text_end - c->text_start), argv[1] + c->text_start, c->sample_count,
            c->sample_rate, (unsigned long long)c->sample_offset, c->synthesis_s * 1000.0,
            c->since_request_s * 1000.0, c->from_cache ? " (cached)" : "",
            c->is_last ? " (last)" : "");
  }
  int status = rc == TTS_DONE ? 0 : 1;
  if (status) fprintf(stderr, "%s: %s\n", tts_error_code_name(rc), tts_last_error());
  /* A file gets its real sizes in the header; a pipe keeps the streaming one. */
  if (!to_stdout) {
    if (!first && data_bytes <= 0xffffffffu - 36) {
      put_le32(out, 4, (uint32_t)(data_bytes + 36));
      put_le32(out, 40, (uint32_t)data_bytes);
    }
    fclose(out);
  }
  tts_stream_free(stream);
  tts_engine_free(engine);
  return status;
}
