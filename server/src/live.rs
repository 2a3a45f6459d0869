//! `GET /v1/live`: a WebSocket that reads text aloud as it comes, for a
//! live-stream chat reader or an LLM's tokens.
//!
//! Settings are query parameters: `voice`, `speed`, `sample_rate`, `seed`,
//! `language`, and `mode`:
//!
//! - `mode=chat` (default): each `{"type": "message", "text": …, "id": …}`
//!   is one utterance, spoken in order. At most `live.max_pending_messages`
//!   wait; when another arrives the **oldest waiting message is dropped**
//!   (a chat reader wants to stay current, not read a backlog), the client
//!   gets `{"type": "dropped", "id", "dropped_total"}` and
//!   `ishowtts_live_dropped_messages_total` counts it.
//! - `mode=stream`: `{"type": "append", "text": …}` continues one text (an
//!   LLM's tokens) through the engine's incremental splitter: each sentence
//!   is spoken once its end is certain; `{"type": "flush"}` speaks what is
//!   held now.
//!
//! Both: `{"type": "cancel"}` stops what is being said (and, in chat mode,
//! drops the waiting messages); `{"type": "end"}` finishes: the audio of
//! what was sent plays out, then `{"type": "done"}` and the socket closes.
//!
//! The server sends `{"type": "ready", "sample_rate", "format":
//! "pcm_s16le", "voice"}` first, then per chunk a JSON
//! `{"type": "chunk", "id", "sentence", "text_start", "text_end",
//! "sample_offset", "samples", "words": [[word, start_s, end_s], …]}`
//! followed by one binary frame of its 16-bit little-endian samples;
//! `{"type": "message_done", "id"}` after a chat message's last chunk;
//! `{"type": "error", "code", "message", "id"}` for a message that cannot
//! be spoken (the connection goes on). A client that leaves audio unread
//! for `live.send_timeout_secs` is disconnected and its synthesis cancelled.

use std::collections::VecDeque;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::response::Response;
use ishowtts::audio::format::SampleFormat;
use ishowtts::audio::wav::samples_to_le_bytes;
use ishowtts::engine::{Chunk, RequestOptions, SynthesisOptions, TextInput};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::synth::ChunkReceiver;
use crate::AppState;

/// Query parameters of `/v1/live`.
#[derive(Debug, Deserialize)]
pub struct LiveParams {
    voice: Option<String>,
    model: Option<String>,
    mode: Option<String>,
    speed: Option<f32>,
    sample_rate: Option<u32>,
    seed: Option<u64>,
    language: Option<String>,
}

/// What a client sends.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientMessage {
    Message { text: String, id: Option<Value> },
    Append { text: String },
    Flush,
    Cancel,
    End,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Chat,
    Stream,
}

/// `GET /v1/live`: checks the settings, then upgrades.
pub async fn live(
    State(state): State<AppState>,
    Query(params): Query<LiveParams>,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let mode = match params.mode.as_deref().unwrap_or("chat") {
        "chat" => Mode::Chat,
        "stream" => Mode::Stream,
        m => {
            return Err(ApiError::field(
                "invalid_field",
                "mode",
                format!("mode {m:?}: use chat or stream"),
            ))
        }
    };
    let voice = state
        .catalog
        .resolve(params.model.as_deref(), params.voice.as_deref())?;
    let options = RequestOptions {
        voice: Some(voice.clone()),
        sample_rate: params.sample_rate,
        format: SampleFormat::I16,
        synthesis: SynthesisOptions {
            speed: params.speed,
            seed: params.seed,
            language: params.language,
            ..SynthesisOptions::default()
        },
        ..RequestOptions::default()
    };
    // Settings the engine refuses fail here, as HTTP, not after the upgrade.
    let probe = state
        .engine
        .open_stream(&options)
        .map_err(|e| state.rejected(e))?;
    drop(probe);
    Ok(ws.on_upgrade(move |socket| async move {
        let _conn = ConnectionGauge::new(&state);
        Session::new(state, socket, options, voice, mode)
            .run()
            .await;
    }))
}

struct ConnectionGauge(AppState);

impl ConnectionGauge {
    fn new(state: &AppState) -> Self {
        state.metrics.live_connections.inc();
        Self(state.clone())
    }
}

impl Drop for ConnectionGauge {
    fn drop(&mut self) {
        self.0.metrics.live_connections.dec();
    }
}

/// A chat message waiting or being spoken.
struct Pending {
    id: Value,
    text: String,
}

/// What is being spoken now.
struct Speaking {
    id: Value,
    chunks: ChunkReceiver,
}

/// One connection.
struct Session {
    state: AppState,
    socket: WebSocket,
    options: RequestOptions,
    voice: String,
    mode: Mode,
    queue: VecDeque<Pending>,
    speaking: Option<Speaking>,
    /// Stream mode: the engine's live text input and its audio.
    input: Option<TextInput>,
    next_id: u64,
    ended: bool,
    dropped: u64,
    send_timeout: Duration,
}

/// The socket is gone or stuck: end the session.
struct Closed;

impl Session {
    fn new(
        state: AppState,
        socket: WebSocket,
        options: RequestOptions,
        voice: String,
        mode: Mode,
    ) -> Self {
        let send_timeout = Duration::from_secs(state.config.live.send_timeout_secs);
        Self {
            state,
            socket,
            options,
            voice,
            mode,
            queue: VecDeque::new(),
            speaking: None,
            input: None,
            next_id: 0,
            ended: false,
            dropped: 0,
            send_timeout,
        }
    }

    async fn run(mut self) {
        if self.start().await.is_err() {
            return;
        }
        loop {
            if self.speaking.is_none() {
                if let Some(p) = self.queue.pop_front() {
                    if self.speak(p).await.is_err() {
                        return;
                    }
                    continue;
                }
                if self.ended {
                    let _ = self.send_json(json!({"type": "done"})).await;
                    let _ = self.socket.send(Message::Close(None)).await;
                    return;
                }
            }
            let step = tokio::select! {
                incoming = self.socket.recv() => match incoming {
                    Some(Ok(Message::Text(t))) => self.on_text(t.as_str()).await,
                    Some(Ok(Message::Binary(_))) => self
                        .send_error("invalid_message", "send JSON text messages", None)
                        .await,
                    Some(Ok(_)) => Ok(()), // ping/pong are answered by axum
                    Some(Err(_)) | None => Err(Closed),
                },
                chunk = next_chunk(&mut self.speaking) => self.on_chunk(chunk).await,
            };
            if step.is_err() {
                return; // dropping the session cancels its synthesis
            }
        }
    }

    /// `ready`, and in stream mode the engine's live stream.
    async fn start(&mut self) -> Result<(), Closed> {
        let rate = self
            .state
            .engine
            .voices()
            .iter()
            .find(|v| v.name == self.voice)
            .and_then(|v| v.sample_rate);
        let rate = self.options.sample_rate.or(rate);
        if self.mode == Mode::Stream {
            match self.state.engine.open_stream(&self.options) {
                Ok(live) => {
                    let (input, audio) = live.split();
                    self.input = Some(input);
                    self.speaking = Some(Speaking {
                        id: Value::Null,
                        chunks: ChunkReceiver::spawn(
                            audio,
                            self.state.metrics.stream_started("live"),
                        ),
                    });
                }
                Err(e) => {
                    let e = self.state.rejected(e);
                    let _ = self.send_error(e.code, &e.message, None).await;
                    return Err(Closed);
                }
            }
        }
        self.send_json(json!({
            "type": "ready",
            "voice": self.voice,
            "sample_rate": rate,
            "format": "pcm_s16le",
            "mode": if self.mode == Mode::Chat { "chat" } else { "stream" },
        }))
        .await
    }

    async fn on_text(&mut self, text: &str) -> Result<(), Closed> {
        let message: ClientMessage = match serde_json::from_str(text) {
            Ok(m) => m,
            Err(e) => {
                return self
                    .send_error(
                        "invalid_message",
                        &format!("not a message this socket takes: {e}"),
                        None,
                    )
                    .await
            }
        };
        if self.ended && !matches!(message, ClientMessage::Cancel) {
            return self
                .send_error("ended", "the text was ended: nothing more is taken", None)
                .await;
        }
        match (message, self.mode) {
            (ClientMessage::Message { text, id }, Mode::Chat) => self.enqueue(text, id).await,
            (ClientMessage::Append { text }, Mode::Stream) => {
                let max = self.state.config.live.max_message_chars;
                if text.chars().count() > max {
                    return self
                        .send_error(
                            "input_too_long",
                            &format!("append over {max} characters"),
                            None,
                        )
                        .await;
                }
                let pushed = self.input.as_mut().map(|i| i.push_text(&text));
                self.engine_result(pushed).await
            }
            (ClientMessage::Flush, Mode::Stream) => {
                let r = self.input.as_mut().map(TextInput::flush);
                self.engine_result(r).await
            }
            (ClientMessage::Flush, Mode::Chat) => Ok(()),
            (ClientMessage::Cancel, _) => {
                let dropped = self.queue.len();
                self.queue.clear();
                self.speaking = None; // dropping cancels
                if self.mode == Mode::Stream {
                    // a fresh live stream for what comes next
                    self.input = None;
                    if !self.ended {
                        if let Ok(live) = self.state.engine.open_stream(&self.options) {
                            let (input, audio) = live.split();
                            self.input = Some(input);
                            self.speaking = Some(Speaking {
                                id: Value::Null,
                                chunks: ChunkReceiver::spawn(
                                    audio,
                                    self.state.metrics.stream_started("live"),
                                ),
                            });
                        }
                    }
                }
                self.send_json(json!({"type": "cancelled", "dropped": dropped}))
                    .await
            }
            (ClientMessage::End, _) => {
                self.ended = true;
                if let Some(input) = self.input.as_mut() {
                    let r = input.finish();
                    return self.engine_result(Some(r)).await;
                }
                Ok(())
            }
            (ClientMessage::Message { .. }, Mode::Stream) => {
                self.send_error(
                    "wrong_mode",
                    "this socket is in stream mode: send append",
                    None,
                )
                .await
            }
            (ClientMessage::Append { .. }, Mode::Chat) => {
                self.send_error(
                    "wrong_mode",
                    "this socket is in chat mode: send message",
                    None,
                )
                .await
            }
        }
    }

    async fn engine_result(&mut self, r: Option<ishowtts::Result<()>>) -> Result<(), Closed> {
        match r {
            Some(Err(e)) => {
                let e = crate::error::ApiError::from(e);
                self.send_error(e.code, &e.message, None).await
            }
            _ => Ok(()),
        }
    }

    /// Queues a chat message; a full queue drops its oldest.
    async fn enqueue(&mut self, text: String, id: Option<Value>) -> Result<(), Closed> {
        let id = id.unwrap_or_else(|| {
            self.next_id += 1;
            Value::from(self.next_id)
        });
        let max = self.state.config.live.max_message_chars;
        if text.chars().count() > max {
            return self
                .send_error(
                    "input_too_long",
                    &format!("message over {max} characters"),
                    Some(id),
                )
                .await;
        }
        if self.queue.len() >= self.state.config.live.max_pending_messages.max(1) {
            if let Some(old) = self.queue.pop_front() {
                self.dropped += 1;
                self.state
                    .metrics
                    .live_dropped
                    .with_label_values(&["drop_oldest"])
                    .inc();
                let total = self.dropped;
                self.send_json(json!({"type": "dropped", "id": old.id, "dropped_total": total}))
                    .await?;
            }
        }
        self.queue.push_back(Pending { id, text });
        Ok(())
    }

    /// Starts a chat message as its own engine request.
    async fn speak(&mut self, p: Pending) -> Result<(), Closed> {
        match self.state.engine.stream(&p.text, &self.options) {
            Ok(stream) => {
                self.speaking = Some(Speaking {
                    id: p.id,
                    chunks: ChunkReceiver::spawn(stream, self.state.metrics.stream_started("live")),
                });
                Ok(())
            }
            Err(e) => {
                let e = self.state.rejected(e);
                self.send_error(e.code, &e.message, Some(p.id)).await
            }
        }
    }

    async fn on_chunk(&mut self, chunk: Option<ishowtts::Result<Chunk>>) -> Result<(), Closed> {
        let id = self
            .speaking
            .as_ref()
            .map(|s| s.id.clone())
            .unwrap_or(Value::Null);
        match chunk {
            Some(Ok(c)) => {
                let rate = f64::from(c.sample_rate);
                let words: Vec<Value> = c
                    .words
                    .iter()
                    .map(|w| json!([w.word, w.start as f64 / rate, w.end as f64 / rate]))
                    .collect();
                self.send_json(json!({
                    "type": "chunk",
                    "id": id,
                    "sentence": c.sentence_index,
                    "text_start": c.text_span.start,
                    "text_end": c.text_span.end,
                    "sample_offset": c.sample_offset,
                    "sample_rate": c.sample_rate,
                    "samples": c.samples.len(),
                    "is_last": c.is_last,
                    "words": words,
                }))
                .await?;
                if !c.samples.is_empty() {
                    self.send(Message::Binary(samples_to_le_bytes(&c.samples).into()))
                        .await?;
                }
                Ok(())
            }
            Some(Err(e)) => {
                self.speaking = None;
                let e = ApiError::from(e);
                self.send_error(e.code, &e.message, Some(id)).await
            }
            None => {
                self.speaking = None;
                if self.mode == Mode::Chat {
                    self.send_json(json!({"type": "message_done", "id": id}))
                        .await
                } else {
                    self.input = None;
                    self.ended = true;
                    Ok(())
                }
            }
        }
    }

    async fn send_error(
        &mut self,
        code: &str,
        message: &str,
        id: Option<Value>,
    ) -> Result<(), Closed> {
        self.send_json(json!({"type": "error", "code": code, "message": message, "id": id}))
            .await
    }

    async fn send_json(&mut self, v: Value) -> Result<(), Closed> {
        self.send(Message::Text(v.to_string().into())).await
    }

    /// One frame, or the session ends: a client that does not read within
    /// the send timeout is cut off.
    async fn send(&mut self, m: Message) -> Result<(), Closed> {
        match tokio::time::timeout(self.send_timeout, self.socket.send(m)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(Closed),
            Err(_) => {
                tracing::info!("live client does not read its audio: disconnected");
                Err(Closed)
            }
        }
    }
}

/// The next chunk of what is being spoken; never resolves when nothing is.
async fn next_chunk(speaking: &mut Option<Speaking>) -> Option<ishowtts::Result<Chunk>> {
    match speaking {
        Some(s) => s.chunks.next().await,
        None => std::future::pending().await,
    }
}
