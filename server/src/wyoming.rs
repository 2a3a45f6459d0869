//! The [Wyoming protocol](https://github.com/rhasspy/wyoming) on its own TCP
//! port, so Home Assistant and other voice assistants can use the engine as
//! their text to speech.
//!
//! An event is one JSON header line `{"type", "data"?, "data_length"?,
//! "payload_length"?, "version"?}`, then `data_length` bytes of JSON merged
//! over `data`, then `payload_length` bytes of payload (PCM audio).
//!
//! - `describe` → `info`: one `tts` program, `ishowtts`, with a voice per
//!   engine voice (languages and speakers read from a Piper voice's config).
//! - `synthesize` (`text`, `voice: {name, language, speaker}`) →
//!   `audio-start`, an `audio-chunk` (16-bit mono PCM) per engine chunk as it
//!   is made, `audio-stop`.
//! - `synthesize-start` (`voice`), `synthesize-chunk` (`text`)…,
//!   `synthesize-stop`: the text goes through the engine's live text stream;
//!   each sentence is spoken once it settles, as its own `audio-start` …
//!   `audio-stop`, and `synthesize-stopped` follows the last. The `synthesize`
//!   event clients also send inside a stream (for servers that do not
//!   stream) is ignored.
//! - `ping` → `pong`; other events are dropped, as the protocol asks.
//!
//! A request that cannot be served (unknown voice or speaker, text the
//! engine refuses) gets an `error` event (`text`, `code`) and the connection
//! goes on. A header that is not JSON, a header line over 64 KiB or data or
//! payload over 4 MiB gets an `error` and the connection is closed (the
//! framing is lost). A client that disconnects cancels its synthesis; one
//! that leaves audio unread for `live.send_timeout_secs` is cut off.

use std::collections::VecDeque;
use std::future::Future;
use std::time::{Duration, Instant};

use futures_util::{Stream as FutStream, StreamExt};
use ishowtts::audio::format::SampleFormat;
use ishowtts::audio::wav::samples_to_le_bytes;
use ishowtts::engine::{Chunk, RequestOptions, SynthesisOptions, TextInput, VoiceInfo};
use ishowtts::text::language::Language;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::error::ApiError;
use crate::synth::ChunkReceiver;
use crate::voices::family;
use crate::AppState;

/// Longest header line taken.
const MAX_HEADER: usize = 64 * 1024;
/// Most bytes of data or of payload one event may carry (TTS clients send
/// text; this only bounds what a bad client makes the server buffer).
const MAX_BODY: usize = 4 * 1024 * 1024;
/// Events held while audio is being sent (answered in order afterwards).
const MAX_HELD: usize = 16;
/// The `wyoming` package version whose protocol this follows; sent in each
/// header as that package's own writer does.
const PROTOCOL_VERSION: &str = "1.10.2";
/// Route label of the metrics.
const ROUTE: &str = "wyoming";

/// Parses `tcp://HOST:PORT` into the `HOST:PORT` to bind.
pub fn parse_uri(uri: &str) -> Result<String, String> {
    let bad = || format!("Wyoming address {uri:?}: expected tcp://HOST:PORT");
    let rest = uri.strip_prefix("tcp://").ok_or_else(bad)?;
    let (host, port) = rest.rsplit_once(':').ok_or_else(bad)?;
    if host.is_empty() || port.parse::<u16>().is_err() {
        return Err(bad());
    }
    Ok(rest.to_owned())
}

/// Serves the Wyoming protocol on `listener`, each connection in its own
/// task, until `shutdown` resolves; then stops accepting, closes idle
/// connections, gives the ones still sending audio
/// `limits.shutdown_grace_secs` to finish and cancels the rest.
pub async fn serve_wyoming(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()>,
) {
    let (stop, stopping) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((socket, _peer)) => {
                    // Audio chunks are written whole: no need to wait for
                    // more bytes to fill a segment.
                    let _ = socket.set_nodelay(true);
                    connections.spawn(connection(socket, state.clone(), stopping.clone()));
                }
                Err(e) => {
                    // out of file descriptors and the like: back off
                    tracing::warn!(error = %e, "Wyoming accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            // Reaps finished connections so the set does not grow.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = &mut shutdown => break,
        }
    }
    drop(listener);
    let _ = stop.send(true);
    let grace = Duration::from_secs(state.config.limits.shutdown_grace_secs);
    let finished = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(grace, finished).await.is_err() {
        tracing::warn!("grace period over: cancelling the Wyoming requests still running");
    }
    // dropping the set aborts what is left, which cancels its synthesis
}

/// One event, as read.
#[derive(Debug)]
struct Event {
    kind: String,
    data: Map<String, Value>,
}

/// The header line.
#[derive(Deserialize)]
struct Header {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    data: Option<Map<String, Value>>,
    #[serde(default)]
    data_length: Option<u64>,
    #[serde(default)]
    payload_length: Option<u64>,
}

/// Why reading stopped.
enum ReadError {
    /// End of stream or a socket error: nothing to answer.
    Gone,
    /// The client broke the framing or a limit: answer, then close.
    Bad(&'static str, String),
}

/// Reads one event; `Ok(None)` at a clean end of stream. Payloads are read
/// and dropped: no client request of text to speech carries one.
async fn read_event<R: AsyncBufRead + Unpin>(r: &mut R) -> Result<Option<Event>, ReadError> {
    let mut line = Vec::new();
    let n = (&mut *r)
        .take(MAX_HEADER as u64 + 1)
        .read_until(b'\n', &mut line)
        .await
        .map_err(|_| ReadError::Gone)?;
    if n == 0 {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') {
        if line.len() > MAX_HEADER {
            return Err(ReadError::Bad(
                "header_too_long",
                format!("event header line over {MAX_HEADER} bytes"),
            ));
        }
        return Err(ReadError::Gone); // cut off mid-line
    }
    let header: Header = serde_json::from_slice(&line).map_err(|e| {
        ReadError::Bad(
            "invalid_event",
            format!("not a Wyoming event header (one JSON object per line): {e}"),
        )
    })?;
    let mut data = header.data.unwrap_or_default();
    let data_length = body_length(header.data_length, "data")?;
    let payload_length = body_length(header.payload_length, "payload")?;
    if data_length > 0 {
        let mut bytes = vec![0; data_length];
        r.read_exact(&mut bytes)
            .await
            .map_err(|_| ReadError::Gone)?;
        let extra: Map<String, Value> = serde_json::from_slice(&bytes).map_err(|e| {
            ReadError::Bad(
                "invalid_event",
                format!("event data is not a JSON object: {e}"),
            )
        })?;
        data.extend(extra);
    }
    if payload_length > 0 {
        tokio::io::copy(
            &mut (&mut *r).take(payload_length as u64),
            &mut tokio::io::sink(),
        )
        .await
        .map_err(|_| ReadError::Gone)?;
    }
    Ok(Some(Event {
        kind: header.kind,
        data,
    }))
}

fn body_length(length: Option<u64>, what: &str) -> Result<usize, ReadError> {
    match length.unwrap_or(0) {
        n if n > MAX_BODY as u64 => Err(ReadError::Bad(
            "event_too_large",
            format!("event {what} of {n} bytes: at most {MAX_BODY}"),
        )),
        n => Ok(n as usize),
    }
}

/// The events of a connection as a stream: polling it in `select!` loses
/// nothing (a half-read event stays inside the stream). Ends after the
/// first error.
fn events<R: AsyncBufRead + Unpin>(
    reader: R,
) -> impl FutStream<Item = Result<Event, ReadError>> + Unpin {
    Box::pin(futures_util::stream::unfold(
        Some(reader),
        |reader| async move {
            let mut r = reader?;
            match read_event(&mut r).await {
                Ok(Some(e)) => Some((Ok(e), Some(r))),
                Ok(None) => None,
                Err(e) => Some((Err(e), None)),
            }
        },
    ))
}

/// The writing side: whole events, each within the send timeout.
struct Wire {
    writer: OwnedWriteHalf,
    timeout: Duration,
}

/// The client is gone, stuck or broke the protocol: end the connection.
struct Closed;

impl Wire {
    async fn send(&mut self, kind: &str, data: Value, payload: &[u8]) -> Result<(), Closed> {
        let mut header = json!({"type": kind, "version": PROTOCOL_VERSION});
        // The data goes after the header line, as the reference writer
        // puts it; readers merge it either way.
        let data = match data {
            Value::Object(m) if !m.is_empty() => serde_json::to_vec(&m).expect("JSON"),
            _ => Vec::new(),
        };
        if !data.is_empty() {
            header["data_length"] = data.len().into();
        }
        if !payload.is_empty() {
            header["payload_length"] = payload.len().into();
        }
        let mut bytes = serde_json::to_vec(&header).expect("JSON");
        bytes.push(b'\n');
        bytes.extend_from_slice(&data);
        bytes.extend_from_slice(payload);
        match tokio::time::timeout(self.timeout, self.writer.write_all(&bytes)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(Closed),
            Err(_) => {
                tracing::info!("Wyoming client does not read its audio: disconnected");
                Err(Closed)
            }
        }
    }

    async fn error(&mut self, code: &str, text: &str) -> Result<(), Closed> {
        self.send("error", json!({"text": text, "code": code}), &[])
            .await
    }
}

/// A synthesis whose audio is being sent.
struct Job {
    chunks: ChunkReceiver,
    /// Streaming: each sentence its own `audio-start` … `audio-stop`;
    /// otherwise one around the whole text.
    per_sentence: bool,
    /// `audio-start` sent, `audio-stop` not yet.
    open: bool,
    rate: u32,
    /// When a `synthesize` arrived, for time to first audio and the
    /// real-time factor (not for streams: their pace is the client's text).
    arrived: Option<Instant>,
    samples: u64,
}

/// Between `synthesize-start` and the end of its audio.
struct Streaming {
    /// `None` once finished, or when the stream could not start (its text
    /// is then dropped, and `synthesize-stop` still gets
    /// `synthesize-stopped`).
    input: Option<TextInput>,
    stopping: bool,
}

/// One client.
struct Conn {
    state: AppState,
    wire: Wire,
    // Declared before `streaming`: on a disconnect the audio side drops
    // first and cancels the request, so dropping the text input does not
    // finish (and speak) the text.
    job: Option<Job>,
    streaming: Option<Streaming>,
    /// Events that came while audio was being sent.
    held: VecDeque<Event>,
}

async fn connection(socket: TcpStream, state: AppState, mut stopping: watch::Receiver<bool>) {
    let (reader, writer) = socket.into_split();
    let timeout = Duration::from_secs(state.config.live.send_timeout_secs);
    let mut incoming = events(BufReader::new(reader));
    let mut conn = Conn {
        state,
        wire: Wire { writer, timeout },
        job: None,
        streaming: None,
        held: VecDeque::new(),
    };
    let mut shutting_down = *stopping.borrow();
    loop {
        if conn.is_idle() {
            if shutting_down {
                return;
            }
            if let Some(event) = conn.held.pop_front() {
                if conn.on_event(event).await.is_err() {
                    return;
                }
                continue;
            }
        }
        let step = tokio::select! {
            event = incoming.next() => match event {
                Some(Ok(event)) => conn.on_event(event).await,
                Some(Err(ReadError::Bad(code, text))) => {
                    let _ = conn.wire.error(code, &text).await;
                    Err(Closed)
                }
                Some(Err(ReadError::Gone)) | None => Err(Closed),
            },
            chunk = next_chunk(&mut conn.job) => conn.on_chunk(chunk).await,
            // Shutdown: finish the audio being sent, then close.
            _ = stopping.changed(), if !shutting_down => {
                shutting_down = true;
                Ok(())
            }
        };
        if step.is_err() {
            return; // dropping the connection cancels its synthesis
        }
    }
}

/// The next chunk of the job; never resolves when there is none.
async fn next_chunk(job: &mut Option<Job>) -> Option<ishowtts::Result<Chunk>> {
    match job {
        Some(j) => j.chunks.next().await,
        None => std::future::pending().await,
    }
}

impl Conn {
    fn is_idle(&self) -> bool {
        self.job.is_none() && self.streaming.is_none()
    }

    async fn on_event(&mut self, event: Event) -> Result<(), Closed> {
        let streaming = self.streaming.is_some();
        match event.kind.as_str() {
            "synthesize-chunk" if streaming => self.stream_text(&event.data).await,
            "synthesize-stop" if streaming => self.stream_stop().await,
            // The whole text again, for servers that do not stream.
            "synthesize" if streaming => Ok(()),
            _ if !self.is_idle() => {
                if self.held.len() >= MAX_HELD {
                    let _ = self
                        .wire
                        .error(
                            "too_many_events",
                            "too many events sent while audio was playing",
                        )
                        .await;
                    return Err(Closed);
                }
                self.held.push_back(event);
                Ok(())
            }
            "describe" => self.wire.send("info", self.info(), &[]).await,
            "ping" => {
                let text = event.data.get("text").cloned().unwrap_or(Value::Null);
                self.wire.send("pong", json!({ "text": text }), &[]).await
            }
            "synthesize" => self.synthesize(&event.data).await,
            "synthesize-start" => self.stream_start(&event.data).await,
            "synthesize-chunk" | "synthesize-stop" => {
                self.wire
                    .error("no_stream", "no synthesize-start before this event")
                    .await
            }
            _ => Ok(()),
        }
    }

    /// The `info` answer.
    fn info(&self) -> Value {
        let mut voices = self.state.engine.voices();
        // The default voice first: clients that pick the first voice get it.
        voices.sort_by_key(|v| !v.is_default);
        let voices: Vec<Value> = voices
            .iter()
            .map(|v| {
                let meta = VoiceMeta::of(v);
                let speakers = (meta.speakers.len() > 1).then(|| {
                    meta.speakers
                        .iter()
                        .map(|(name, _)| json!({ "name": name }))
                        .collect::<Vec<_>>()
                });
                let kind = if v.cloned { "cloned voice" } else { "voice" };
                json!({
                    "name": v.name,
                    "description": format!("{} {kind}", family(v)),
                    "attribution": attribution(family(v)),
                    "installed": true,
                    "version": Value::Null,
                    "languages": meta.languages,
                    "speakers": speakers,
                })
            })
            .collect();
        json!({
            "asr": [], "handle": [], "intent": [], "wake": [], "mic": [], "snd": [],
            "tts": [{
                "name": "ishowtts",
                "description": "ishowtts, an embeddable neural text-to-speech engine",
                "attribution": {"name": "ishowtts", "url": env!("CARGO_PKG_REPOSITORY")},
                "installed": true,
                "version": env!("CARGO_PKG_VERSION"),
                "supports_synthesize_streaming": true,
                "voices": voices,
            }],
        })
    }

    /// The request options of a `voice` field, or why there are none.
    fn options(&self, data: &Map<String, Value>) -> Result<(RequestOptions, u32), ApiError> {
        if let Some(format) = data.get("text_format").and_then(Value::as_str) {
            if format != "text" {
                return Err(ApiError::field(
                    "unsupported_text_format",
                    "text_format",
                    format!("text_format {format:?}: only plain text is spoken"),
                ));
            }
        }
        let empty = Map::new();
        let voice = data
            .get("voice")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let text_of = |key: &str| match voice.get(key) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let voices = self.state.engine.voices();
        let name = match (text_of("name"), text_of("language")) {
            (Some(name), _) => self.state.catalog.resolve(None, Some(&name))?,
            // A language alone: its voice, the default one first; the
            // default voice when none speaks it (as other servers do).
            (None, Some(language)) => {
                let mut matching: Vec<&VoiceInfo> = voices
                    .iter()
                    .filter(|v| VoiceMeta::of(v).speaks(&language))
                    .collect();
                matching.sort_by_key(|v| !v.is_default);
                match matching.first() {
                    Some(v) => v.name.clone(),
                    None => self.state.catalog.resolve(None, None)?,
                }
            }
            (None, None) => self.state.catalog.resolve(None, None)?,
        };
        let info = voices.iter().find(|v| v.name == name);
        let speaker = match text_of("speaker") {
            None => None,
            Some(s) => {
                let meta = info.map(VoiceMeta::of).unwrap_or_default();
                let id = meta
                    .speakers
                    .iter()
                    .find(|(n, _)| *n == s)
                    .map(|(_, id)| *id)
                    .or_else(|| s.parse().ok());
                Some(id.ok_or_else(|| {
                    ApiError::not_found(
                        "speaker_not_found",
                        "speaker",
                        format!("voice {name:?} has no speaker {s:?}"),
                    )
                })?)
            }
        };
        let rate = info.and_then(|v| v.sample_rate).unwrap_or(22050);
        let options = RequestOptions {
            voice: Some(name),
            format: SampleFormat::I16,
            synthesis: SynthesisOptions {
                speaker,
                ..SynthesisOptions::default()
            },
            ..RequestOptions::default()
        };
        Ok((options, rate))
    }

    async fn synthesize(&mut self, data: &Map<String, Value>) -> Result<(), Closed> {
        let arrived = Instant::now();
        let Some(text) = data.get("text").and_then(Value::as_str) else {
            return self
                .wire
                .error("invalid_event", "synthesize needs a text")
                .await;
        };
        let (options, rate) = match self.options(data) {
            Ok(o) => o,
            Err(e) => return self.wire.error(e.code, &e.message).await,
        };
        // Nothing to say is empty audio, not an error: the client still
        // gets the audio-stop it waits for.
        if text.chars().all(|c| c.is_whitespace() || c.is_control()) {
            let format = json!({"rate": rate, "width": 2, "channels": 1});
            self.wire.send("audio-start", format, &[]).await?;
            return self.wire.send("audio-stop", json!({}), &[]).await;
        }
        match self.state.engine.stream(text, &options) {
            Ok(stream) => {
                let chunks = ChunkReceiver::spawn(stream, self.state.metrics.stream_started(ROUTE));
                self.job = Some(Job::new(chunks, false, rate, Some(arrived)));
                Ok(())
            }
            Err(e) => {
                let e = self.state.rejected(e);
                self.wire.error(e.code, &e.message).await
            }
        }
    }

    async fn stream_start(&mut self, data: &Map<String, Value>) -> Result<(), Closed> {
        let opened = self.options(data).and_then(|(options, rate)| {
            let live = self
                .state
                .engine
                .open_stream(&options)
                .map_err(|e| self.state.rejected(e))?;
            Ok((live, rate))
        });
        let input = match opened {
            Ok((live, rate)) => {
                let (input, audio) = live.split();
                let chunks = ChunkReceiver::spawn(audio, self.state.metrics.stream_started(ROUTE));
                self.job = Some(Job::new(chunks, true, rate, None));
                Some(input)
            }
            Err(e) => {
                self.wire.error(e.code, &e.message).await?;
                None
            }
        };
        self.streaming = Some(Streaming {
            input,
            stopping: false,
        });
        Ok(())
    }

    async fn stream_text(&mut self, data: &Map<String, Value>) -> Result<(), Closed> {
        let Some(text) = data.get("text").and_then(Value::as_str) else {
            return self
                .wire
                .error("invalid_event", "synthesize-chunk needs a text")
                .await;
        };
        let pushed = match self.streaming.as_mut().and_then(|s| s.input.as_mut()) {
            Some(input) => input.push_text(text),
            None => Ok(()), // the stream failed: its error was sent
        };
        match pushed {
            Ok(()) => Ok(()),
            Err(e) => {
                let e = ApiError::from(e);
                self.wire.error(e.code, &e.message).await
            }
        }
    }

    async fn stream_stop(&mut self) -> Result<(), Closed> {
        let Some(streaming) = self.streaming.as_mut() else {
            return Ok(());
        };
        streaming.stopping = true;
        let finished = streaming.input.take().map(|mut i| i.finish());
        if let Some(Err(e)) = finished {
            let e = ApiError::from(e);
            self.wire.error(e.code, &e.message).await?;
        }
        if self.job.is_none() {
            return self.stream_stopped().await;
        }
        Ok(()) // synthesize-stopped follows the last audio
    }

    async fn stream_stopped(&mut self) -> Result<(), Closed> {
        self.streaming = None;
        self.wire.send("synthesize-stopped", json!({}), &[]).await
    }

    async fn on_chunk(&mut self, chunk: Option<ishowtts::Result<Chunk>>) -> Result<(), Closed> {
        let Some(job) = self.job.as_mut() else {
            return Ok(());
        };
        match chunk {
            Some(Ok(c)) => {
                job.rate = c.sample_rate;
                let format = json!({
                    "rate": c.sample_rate,
                    "width": 2,
                    "channels": 1,
                    "timestamp": c.sample_offset * 1000 / u64::from(c.sample_rate.max(1)),
                });
                if !c.samples.is_empty() {
                    if !job.open {
                        job.open = true;
                        self.wire.send("audio-start", format.clone(), &[]).await?;
                    }
                    let pcm = samples_to_le_bytes(&c.samples);
                    self.wire.send("audio-chunk", format, &pcm).await?;
                    job.sent(&self.state, c.samples.len());
                }
                if job.per_sentence && job.open && (c.ends_sentence || c.is_last) {
                    job.open = false;
                    self.wire.send("audio-stop", json!({}), &[]).await?;
                }
                Ok(())
            }
            Some(Err(e)) => {
                // The job (and its active-stream count) ends before the
                // client hears that it did.
                let open = self.job.take().is_some_and(|j| j.open);
                if open {
                    self.wire.send("audio-stop", json!({}), &[]).await?;
                }
                if let Some(s) = self.streaming.as_mut() {
                    s.input = None; // the request is over: drop the rest of its text
                }
                let e = ApiError::from(e);
                self.wire.error(e.code, &e.message).await?;
                self.after_job().await
            }
            None => {
                let job = self.job.take().expect("a job");
                job.finished(&self.state);
                let (open, per_sentence, rate) = (job.open, job.per_sentence, job.rate);
                drop(job);
                if !per_sentence && !open {
                    // no audio at all: still a (silent) audio stream
                    let format = json!({"rate": rate, "width": 2, "channels": 1});
                    self.wire.send("audio-start", format, &[]).await?;
                }
                if !per_sentence || open {
                    self.wire.send("audio-stop", json!({}), &[]).await?;
                }
                self.after_job().await
            }
        }
    }

    /// A stream whose text was stopped ends with its audio.
    async fn after_job(&mut self) -> Result<(), Closed> {
        if self.streaming.as_ref().is_some_and(|s| s.stopping) {
            return self.stream_stopped().await;
        }
        Ok(())
    }
}

impl Job {
    fn new(chunks: ChunkReceiver, per_sentence: bool, rate: u32, arrived: Option<Instant>) -> Self {
        Self {
            chunks,
            per_sentence,
            open: false,
            rate,
            arrived,
            samples: 0,
        }
    }

    fn sent(&mut self, state: &AppState, samples: usize) {
        if let (Some(arrived), 0) = (self.arrived, self.samples) {
            state
                .metrics
                .time_to_first_audio
                .with_label_values(&[ROUTE])
                .observe(arrived.elapsed().as_secs_f64());
        }
        self.samples += samples as u64;
    }

    fn finished(&self, state: &AppState) {
        if let (Some(arrived), true) = (self.arrived, self.samples > 0) {
            let audio = self.samples as f64 / f64::from(self.rate);
            state
                .metrics
                .real_time_factor
                .with_label_values(&[ROUTE])
                .observe(arrived.elapsed().as_secs_f64() / audio);
        }
    }
}

/// Who made a model family's voices.
fn attribution(family: &str) -> Value {
    let (name, url) = match family {
        "piper" => ("rhasspy", "https://github.com/rhasspy/piper"),
        "f5" => ("SWivid", "https://github.com/SWivid/F5-TTS"),
        "qwen3" => ("Qwen", "https://github.com/QwenLM/Qwen3-TTS"),
        _ => ("ishowtts", env!("CARGO_PKG_REPOSITORY")),
    };
    json!({"name": name, "url": url})
}

/// What `info` says of a voice beyond the engine's list.
#[derive(Default)]
struct VoiceMeta {
    /// Language codes (`en_US`).
    languages: Vec<String>,
    /// Speakers by name, with their ids.
    speakers: Vec<(String, i64)>,
}

impl VoiceMeta {
    /// A Piper voice's config names its language (`en_US`) and speakers;
    /// otherwise the engine's language family is all there is.
    fn of(v: &VoiceInfo) -> Self {
        let config = v
            .model
            .strip_prefix("piper:")
            .and_then(|path| std::fs::read(format!("{path}.json")).ok())
            .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
            .unwrap_or(Value::Null);
        let languages = match config["language"]["code"].as_str() {
            Some(code) => vec![code.to_owned()],
            None => match v.language {
                Language::English => vec!["en".to_owned()],
                Language::Chinese => vec!["zh".to_owned()],
                Language::Other => Vec::new(),
            },
        };
        let mut speakers: Vec<(String, i64)> = config["speaker_id_map"]
            .as_object()
            .map(|m| {
                m.iter()
                    .filter_map(|(name, id)| Some((name.clone(), id.as_i64()?)))
                    .collect()
            })
            .unwrap_or_default();
        if speakers.is_empty() && v.num_speakers > 1 {
            speakers = (0..v.num_speakers as i64)
                .map(|i| (i.to_string(), i))
                .collect();
        }
        speakers.sort_by_key(|(_, id)| *id);
        Self {
            languages,
            speakers,
        }
    }

    /// `en_US`, `en-us` and `en` all match `en_US`.
    fn speaks(&self, language: &str) -> bool {
        let norm = |s: &str| s.to_ascii_lowercase().replace('-', "_");
        let wanted = norm(language);
        self.languages.iter().any(|l| {
            let l = norm(l);
            l == wanted || l.split('_').next() == Some(wanted.as_str())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris() {
        assert_eq!(
            parse_uri("tcp://127.0.0.1:10200").unwrap(),
            "127.0.0.1:10200"
        );
        assert_eq!(parse_uri("tcp://[::1]:10200").unwrap(), "[::1]:10200");
        for bad in [
            "127.0.0.1:10200",
            "unix:///tmp/s",
            "tcp://host",
            "tcp://:1",
            "tcp://h:x",
        ] {
            assert!(parse_uri(bad).is_err(), "{bad}");
        }
    }
}
