//! `POST /v1/audio/speech`: OpenAI's speech endpoint, streamed. The body's
//! first bytes leave as soon as the first sentence is synthesized
//! (`stream_format: "audio"`, a chunked body), or as Server-Sent Events
//! (`stream_format: "sse"`: `speech.audio.delta` with base64 audio, then
//! `speech.audio.done`).

use std::convert::Infallible;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use futures_util::stream::{self, Stream as FutStream, StreamExt};
use ishowtts::audio::format::SampleFormat;
use ishowtts::engine::{Chunk, RequestOptions, SynthesisOptions};
use serde::Deserialize;
use serde_json::json;

use crate::encode::{AudioFormat, Encoder};
use crate::error::ApiError;
use crate::synth::ChunkReceiver;
use crate::AppState;

/// The request body. Unknown fields are ignored (clients send their own);
/// known fields of the wrong type are a 400 naming the field.
#[derive(Debug, Deserialize)]
pub struct SpeechRequest {
    /// `ishowtts`, an OpenAI model name (`tts-1`, `tts-1-hd`,
    /// `gpt-4o-mini-tts`: the voice decides), or a model family
    /// (`piper`, `f5`, `qwen3`) the voice must belong to.
    pub model: Option<String>,
    /// The text (required, at most `limits.max_input_chars`).
    pub input: Option<String>,
    /// A voice name; OpenAI's voice names mean the default voice.
    pub voice: Option<String>,
    /// `wav` (default), `pcm` (16-bit little-endian mono) or `mp3`.
    pub response_format: Option<String>,
    /// Speaking rate, 0.25 to 4.0.
    pub speed: Option<f32>,
    /// `audio` (default) or `sse`.
    pub stream_format: Option<String>,
    /// Style instruction (Qwen3-TTS).
    pub instructions: Option<String>,
    /// Output rate in Hz (default: the voice's).
    pub sample_rate: Option<u32>,
    /// Language of the text (Qwen3-TTS).
    pub language: Option<String>,
    /// Seed of the model's sampling: the same seed, the same audio.
    pub seed: Option<u64>,
    /// Speaker of a multi-speaker Piper voice.
    pub speaker: Option<i64>,
    /// Piper: noise scale.
    pub noise_scale: Option<f32>,
    /// Piper: duration noise.
    pub noise_w: Option<f32>,
    /// F5-TTS: flow steps.
    pub nfe_step: Option<u32>,
    /// F5-TTS: guidance strength.
    pub cfg_strength: Option<f32>,
    /// F5-TTS: sway sampling coefficient.
    pub sway_sampling_coef: Option<f32>,
    /// Qwen3-TTS sampling temperature.
    pub temperature: Option<f32>,
    /// Qwen3-TTS top-k.
    pub top_k: Option<u32>,
    /// Qwen3-TTS top-p.
    pub top_p: Option<f32>,
    /// `false`: one body with exact WAV sizes, sent when all is
    /// synthesized (for clients that cannot read a streamed WAV header).
    pub stream: Option<bool>,
}

/// The JSON body, with axum's rejections turned into our errors.
pub struct SpeechJson(pub SpeechRequest);

impl<S: Send + Sync> FromRequest<S> for SpeechJson {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<SpeechRequest>::from_request(req, state).await {
            Ok(axum::Json(r)) => Ok(Self(r)),
            Err(e) => Err(json_rejection(e)),
        }
    }
}

/// A body that is not the JSON we take, as a stable error.
pub fn json_rejection(e: JsonRejection) -> ApiError {
    match e {
        JsonRejection::JsonDataError(e) => ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_field",
            format!("a field has the wrong type or value: {}", e.body_text()),
        ),
        JsonRejection::JsonSyntaxError(e) => ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            format!("the body is not valid JSON: {}", e.body_text()),
        ),
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_content_type",
            "send the body as JSON with Content-Type: application/json",
        ),
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                "the request body is over the server's limit",
            )
        }
        other => ApiError::new(other.status(), "invalid_body", other.body_text()),
    }
}

/// A checked request: what to say, how, and in what encoding.
struct Plan {
    text: String,
    options: RequestOptions,
    format: AudioFormat,
    sse: bool,
    buffered: bool,
}

fn check_range(name: &'static str, v: Option<f32>, lo: f32, hi: f32) -> Result<(), ApiError> {
    match v {
        Some(x) if !(lo..=hi).contains(&x) => Err(ApiError::field(
            "invalid_field",
            name,
            format!("{name} must be between {lo} and {hi}, not {x}"),
        )),
        _ => Ok(()),
    }
}

fn plan(state: &AppState, r: SpeechRequest) -> Result<Plan, ApiError> {
    let text = r.input.ok_or_else(|| {
        ApiError::field(
            "invalid_field",
            "input",
            "input is required: the text to speak",
        )
    })?;
    if text.trim().is_empty() {
        return Err(ApiError::field(
            "empty_input",
            "input",
            "input is empty: give the text to speak",
        ));
    }
    let max = state.config.limits.max_input_chars;
    let chars = text.chars().count();
    if chars > max {
        return Err(ApiError::field(
            "input_too_long",
            "input",
            format!("input has {chars} characters; the limit is {max}"),
        ));
    }
    let format = AudioFormat::parse(r.response_format.as_deref())?;
    let sse = match r.stream_format.as_deref().unwrap_or("audio") {
        "audio" => false,
        "sse" => true,
        other => {
            return Err(ApiError::field(
                "invalid_field",
                "stream_format",
                format!("stream_format {other:?}: use \"audio\" or \"sse\""),
            ))
        }
    };
    check_range("speed", r.speed, 0.25, 4.0)?;
    let voice = state
        .catalog
        .resolve(r.model.as_deref(), r.voice.as_deref())?;
    Ok(Plan {
        text,
        options: RequestOptions {
            voice: Some(voice),
            sample_rate: r.sample_rate,
            format: SampleFormat::I16,
            synthesis: SynthesisOptions {
                speed: r.speed,
                noise_scale: r.noise_scale,
                noise_w: r.noise_w,
                speaker: r.speaker,
                seed: r.seed,
                nfe_step: r.nfe_step,
                cfg_strength: r.cfg_strength,
                sway_sampling_coef: r.sway_sampling_coef,
                language: r.language,
                instruct: r.instructions,
                temperature: r.temperature,
                top_k: r.top_k,
                top_p: r.top_p,
                ..SynthesisOptions::default()
            },
            ..RequestOptions::default()
        },
        format,
        sse,
        buffered: r.stream == Some(false),
    })
}

/// `POST /v1/audio/speech`.
pub async fn speech(
    State(state): State<AppState>,
    SpeechJson(request): SpeechJson,
) -> Result<Response, ApiError> {
    let arrived = Instant::now();
    let plan = plan(&state, request)?;
    let stream = state
        .engine
        .stream(&plan.text, &plan.options)
        .map_err(|e| state.rejected(e))?;
    let mut chunks = ChunkReceiver::spawn(stream, state.metrics.stream_started("speech"));
    // The first chunk before the status line: an error in the first
    // sentence (a voice that does not load) is still a clean JSON error.
    let first = match chunks.next().await {
        Some(Ok(c)) => c,
        Some(Err(e)) => return Err(e.into()),
        None => {
            return Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the request ended without audio",
            ))
        }
    };
    let rate = first.sample_rate;
    let encoder = Encoder::new(plan.format, rate)?;
    let tracker = Tracker::new(state.clone(), arrived, rate);
    if plan.buffered {
        return buffered(plan.format, encoder, first, chunks, tracker).await;
    }
    let audio = audio_bytes(encoder, first, chunks, tracker);
    let (body, content_type) = if plan.sse {
        (Body::from_stream(sse_events(audio)), "text/event-stream")
    } else {
        (
            Body::from_stream(audio.map(Ok::<_, Infallible>)),
            plan.format.content_type(),
        )
    };
    let mut response = Response::new(body);
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert("x-sample-rate", HeaderValue::from(rate));
    Ok(response)
}

/// Times one request for the metrics: first audio out, and at the end the
/// real-time factor of the whole.
struct Tracker {
    state: AppState,
    arrived: Instant,
    rate: u32,
    samples: u64,
    first_sent: bool,
}

impl Tracker {
    fn new(state: AppState, arrived: Instant, rate: u32) -> Self {
        Self {
            state,
            arrived,
            rate,
            samples: 0,
            first_sent: false,
        }
    }

    fn sent(&mut self, samples: usize) {
        if !self.first_sent {
            self.first_sent = true;
            self.state
                .metrics
                .time_to_first_audio
                .with_label_values(&["speech"])
                .observe(self.arrived.elapsed().as_secs_f64());
        }
        self.samples += samples as u64;
    }

    fn finished(&self) {
        if self.samples > 0 {
            let audio = self.samples as f64 / f64::from(self.rate);
            self.state
                .metrics
                .real_time_factor
                .with_label_values(&["speech"])
                .observe(self.arrived.elapsed().as_secs_f64() / audio);
        }
    }
}

/// The encoded audio as it is made, chunk by chunk (a WAV header first).
/// A failure after the first bytes ends the body early (the status line
/// is gone); it is logged.
fn audio_bytes(
    encoder: Encoder,
    first: Chunk,
    chunks: ChunkReceiver,
    tracker: Tracker,
) -> impl FutStream<Item = Bytes> + Send {
    let body = stream::unfold(
        Some((Some(first), chunks, tracker, encoder)),
        |state| async move {
            let (pending, mut chunks, mut tracker, mut encoder) = state?;
            let chunk = match pending {
                Some(c) => c,
                None => match chunks.next().await {
                    Some(Ok(c)) => c,
                    Some(Err(e)) => {
                        tracing::warn!(error = %e, "speech request failed after its first audio");
                        return None;
                    }
                    None => {
                        tracker.finished();
                        // what the encoder still holds, then the end
                        return Some((Bytes::from(encoder.finish()), None));
                    }
                },
            };
            tracker.sent(chunk.samples.len());
            let bytes = Bytes::from(encoder.push(&chunk.samples));
            Some((bytes, Some((None, chunks, tracker, encoder))))
        },
    );
    body.filter(|b| std::future::ready(!b.is_empty()))
}

/// The audio as Server-Sent Events: one `speech.audio.delta` per piece,
/// then `speech.audio.done`.
fn sse_events(
    audio: impl FutStream<Item = Bytes> + Send,
) -> impl FutStream<Item = Result<Bytes, Infallible>> + Send {
    let b64 = base64::engine::general_purpose::STANDARD;
    let deltas = audio.map(move |bytes| {
        let event = json!({"type": "speech.audio.delta", "audio": b64.encode(&bytes)});
        Ok(Bytes::from(format!("data: {event}\n\n")))
    });
    let done = json!({
        "type": "speech.audio.done",
        "usage": {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0},
    });
    deltas.chain(stream::once(async move {
        Ok(Bytes::from(format!("data: {done}\n\n")))
    }))
}

/// The whole audio in one body, sent when all is made, with exact WAV
/// sizes (`"stream": false`).
async fn buffered(
    format: AudioFormat,
    mut encoder: Encoder,
    first: Chunk,
    mut chunks: ChunkReceiver,
    mut tracker: Tracker,
) -> Result<Response, ApiError> {
    tracker.sent(first.samples.len());
    let mut body = encoder.push(&first.samples);
    while let Some(c) = chunks.next().await {
        let c = c?;
        tracker.sent(c.samples.len());
        body.extend(encoder.push(&c.samples));
    }
    body.extend(encoder.finish());
    tracker.finished();
    if format == AudioFormat::Wav {
        // the streamed header's unknown sizes, now known
        let data = u32::try_from(body.len() - 44).unwrap_or(u32::MAX);
        body[4..8].copy_from_slice(&data.saturating_add(36).to_le_bytes());
        body[40..44].copy_from_slice(&data.to_le_bytes());
    }
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type()),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response())
}
