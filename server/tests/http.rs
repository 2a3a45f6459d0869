//! The HTTP API end to end on a loopback port: OpenAI speech (audio, SSE,
//! buffered), models and voices, errors with their codes, the API key, a
//! full queue, clients that go away, slow clients, and shutdown.

mod common;

use std::time::{Duration, Instant};

use base64::Engine as _;
use common::{config, error_of, with_tiny_f5, Server};
use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap()
}

async fn speech(s: &Server, body: Value) -> reqwest::Response {
    client()
        .post(s.url("/v1/audio/speech"))
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// (sample rate, samples) of a 16-bit mono WAV, checking its header.
fn read_wav(bytes: &[u8]) -> (u32, Vec<i16>) {
    assert_eq!(&bytes[0..4], b"RIFF");
    assert_eq!(&bytes[8..16], b"WAVEfmt ");
    assert_eq!(u16::from_le_bytes([bytes[20], bytes[21]]), 1, "PCM");
    assert_eq!(u16::from_le_bytes([bytes[22], bytes[23]]), 1, "mono");
    assert_eq!(u16::from_le_bytes([bytes[34], bytes[35]]), 16, "16-bit");
    assert_eq!(&bytes[36..40], b"data");
    let rate = u32::from_le_bytes(bytes[24..28].try_into().unwrap());
    let samples = bytes[44..]
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    (rate, samples)
}

fn rms(s: &[i16]) -> f64 {
    (s.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / s.len().max(1) as f64).sqrt()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn speech_streams_wav_pcm_and_sse() {
    let s = Server::start(config("speech")).await;
    let text = "Hello from the service. This is the second sentence.";

    // streamed WAV: header with unknown sizes, then speech
    let r = speech(
        &s,
        json!({"model": "tts-1", "voice": "alloy", "input": text}),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "audio/wav");
    let wav = r.bytes().await.unwrap();
    assert_eq!(&wav[4..8], &u32::MAX.to_le_bytes());
    let (rate, samples) = read_wav(&wav);
    assert_eq!(rate, 22050);
    assert!(
        samples.len() > rate as usize * 2,
        "{} samples",
        samples.len()
    );
    assert!(rms(&samples) > 300.0, "speech, not silence");

    // raw PCM at another rate, and the same audio buffered in a WAV with
    // exact sizes (seeded, so the two runs agree)
    let body = json!({"input": text, "response_format": "pcm", "sample_rate": 16000, "seed": 5});
    let r = speech(&s, body.clone()).await;
    assert_eq!(r.headers()["content-type"], "audio/pcm");
    assert_eq!(r.headers()["x-sample-rate"], "16000");
    let pcm = r.bytes().await.unwrap();
    let mut buffered = body.clone();
    buffered["response_format"] = json!("wav");
    buffered["stream"] = json!(false);
    let r = speech(&s, buffered).await;
    assert!(r.headers().get("content-length").is_some());
    let wav = r.bytes().await.unwrap();
    assert_eq!(
        u32::from_le_bytes(wav[40..44].try_into().unwrap()) as usize,
        wav.len() - 44
    );
    assert_eq!(&wav[44..], &pcm[..], "buffered WAV = streamed PCM");

    // MP3, streamed: MPEG frames, about 64 kbit/s
    let r = speech(&s, json!({"input": text, "response_format": "mp3"})).await;
    assert_eq!(r.headers()["content-type"], "audio/mpeg");
    let mp3 = r.bytes().await.unwrap();
    assert!(
        mp3[0] == 0xFF && mp3[1] & 0xE0 == 0xE0,
        "starts with a frame sync"
    );
    let seconds = samples.len() as f64 / 22050.0;
    let kbps = mp3.len() as f64 * 8.0 / 1000.0 / seconds;
    assert!((40.0..90.0).contains(&kbps), "{kbps} kbit/s");

    // SSE: deltas of base64 PCM, then done
    let mut sse = body.clone();
    sse["stream_format"] = json!("sse");
    let r = speech(&s, sse).await;
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let text = r.text().await.unwrap();
    let events: Vec<Value> = text
        .split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    assert!(events.len() >= 3, "{events:?}");
    let (last, deltas) = events.split_last().unwrap();
    assert_eq!(last["type"], "speech.audio.done");
    let mut audio = Vec::new();
    for d in deltas {
        assert_eq!(d["type"], "speech.audio.delta");
        audio.extend(
            base64::engine::general_purpose::STANDARD
                .decode(d["audio"].as_str().unwrap())
                .unwrap(),
        );
    }
    assert_eq!(audio, pcm.to_vec(), "SSE audio = streamed PCM");
    s.wait_idle().await;
    assert!(
        s.metric(
            "ishowtts_server_time_to_first_audio_seconds_count",
            "speech"
        )
        .await
            >= 4.0
    );
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_bytes_leave_before_the_last_sentence_is_made() {
    let s = Server::start(config("first-bytes")).await;
    let text = "The first sentence is short. ".to_owned()
        + &"Then a much longer sentence follows, one that takes the model a while to make. "
            .repeat(6);
    let t = Instant::now();
    let r = speech(&s, json!({"input": text, "response_format": "pcm"})).await;
    let mut body = r.bytes_stream();
    let first = body.next().await.unwrap().unwrap();
    let first_at = t.elapsed();
    assert!(!first.is_empty());
    let mut total = first.len();
    while let Some(b) = body.next().await {
        total += b.unwrap().len();
    }
    let all_at = t.elapsed();
    assert!(total > first.len() * 3);
    assert!(
        first_at * 2 < all_at,
        "first bytes after {first_at:?}, all after {all_at:?}"
    );
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_their_status_and_code() {
    let s = Server::start(config("bad")).await;
    let c = client();
    let post_raw = |body: &'static str| {
        c.post(s.url("/v1/audio/speech"))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let (st, code, _) = error_of(post_raw("{\"input\": \"Hi.\"").await.unwrap()).await;
    assert_eq!((st, code.as_str()), (400, "invalid_json"));
    let (st, code, msg) = error_of(
        post_raw("{\"input\": \"Hi.\", \"speed\": \"fast\"}")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((st, code.as_str()), (400, "invalid_field"), "{msg}");
    assert!(msg.contains("speed"), "{msg}");
    let (st, code, _) = error_of(post_raw("{\"voice\": \"alloy\"}").await.unwrap()).await;
    assert_eq!((st, code.as_str()), (400, "invalid_field"));
    let r = c
        .post(s.url("/v1/audio/speech"))
        .body("{\"input\": \"Hi.\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(r).await.0, 415);

    let cases = [
        (json!({"input": "  "}), 400, "empty_input", ""),
        (
            json!({"input": "a".repeat(1 << 20)}),
            400,
            "input_too_long",
            "4096",
        ),
        (
            json!({"input": "Hi.", "voice": "nobody"}),
            404,
            "voice_not_found",
            "default",
        ),
        (
            json!({"input": "Hi.", "model": "tts-9"}),
            404,
            "model_not_found",
            "piper",
        ),
        (
            json!({"input": "Hi.", "model": "f5"}),
            404,
            "model_not_found",
            "tts-1",
        ),
        (
            json!({"input": "Hi.", "response_format": "opus"}),
            400,
            "unsupported_format",
            "wav, pcm, mp3",
        ),
        (
            json!({"input": "Hi.", "response_format": "mp3", "sample_rate": 20000}),
            400,
            "invalid_parameter",
            "22050",
        ),
        (
            json!({"input": "Hi.", "stream_format": "chunks"}),
            400,
            "invalid_field",
            "sse",
        ),
        (
            json!({"input": "Hi.", "speed": 9.0}),
            400,
            "invalid_field",
            "0.25",
        ),
        (
            json!({"input": "Hi.", "sample_rate": 3}),
            400,
            "invalid_parameter",
            "",
        ),
        (
            json!({"input": "Hi.", "speaker": 7}),
            400,
            "speaker_out_of_range",
            "",
        ),
        (
            json!({"input": "\u{1F600}\u{1F600}"}),
            400,
            "nothing_to_speak",
            "",
        ),
    ];
    for (body, status, code, in_message) in cases {
        let r = speech(&s, body.clone()).await;
        assert_eq!(r.status().as_u16(), status, "{body:.80}");
        let (st, got, msg) = error_of(r).await;
        assert_eq!((st, got.as_str()), (status, code), "{body:.80}: {msg}");
        assert!(
            msg.contains(in_message),
            "{code}: {msg:?} lacks {in_message:?}"
        );
    }
    // a 3 MB body is over the body limit
    let big = json!({"input": "a".repeat(3 << 20)});
    let (st, _, _) = error_of(speech(&s, big).await).await;
    assert_eq!(st, 413);
    let (st, code, _) = error_of(c.get(s.url("/v1/nothing")).send().await.unwrap()).await;
    assert_eq!((st, code.as_str()), (404, "not_found"));

    // and the service still speaks
    let r = speech(&s, json!({"input": "Still here."})).await;
    assert_eq!(r.status(), 200);
    assert!(r.bytes().await.unwrap().len() > 20_000);
    s.wait_idle().await;
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_voices_health_and_metrics() {
    let s = Server::start(config("lists")).await;
    let c = client();
    let models: Value = c
        .get(s.url("/v1/models"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(models["object"], "list");
    let ids: Vec<&str> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"tts-1") && ids.contains(&"piper"), "{ids:?}");
    let voices: Value = c
        .get(s.url("/v1/voices"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let v = &voices["voices"][0];
    assert_eq!(
        (
            v["id"].as_str(),
            v["model"].as_str(),
            v["default"].as_bool()
        ),
        (Some("default"), Some("piper"), Some(true))
    );
    assert_eq!(v["sample_rate"], 22050);

    assert_eq!(
        c.get(s.url("/healthz"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "ok"
    );
    let ready = c.get(s.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(ready["status"], "ready");
    assert!(ready["models_loaded"].as_u64().unwrap() >= 1);

    let page = c
        .get(s.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("<title>ishowtts</title>") && page.contains("/app.js"));
    assert!(c
        .get(s.url("/app.js"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
        .contains("/v1/audio/speech"));

    let metrics = c.get(s.url("/metrics")).send().await.unwrap();
    assert!(metrics.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = metrics.text().await.unwrap();
    for name in [
        "ishowtts_http_requests_total",
        "ishowtts_queue_depth",
        "ishowtts_models_loaded",
        "ishowtts_output_cache_hits_total",
    ] {
        assert!(text.contains(name), "{name} missing from /metrics");
    }
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_key_guards_the_api_only() {
    let mut cfg = config("key");
    cfg.api_key = Some("s3cret".into());
    let s = Server::start(cfg).await;
    let c = client();
    let (st, code, _) = error_of(c.get(s.url("/v1/voices")).send().await.unwrap()).await;
    assert_eq!((st, code.as_str()), (401, "invalid_api_key"));
    let r = c
        .get(s.url("/v1/voices"))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = c
        .get(s.url("/v1/voices"))
        .bearer_auth("s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(c.get(s.url("/healthz")).send().await.unwrap().status(), 200);
    assert!(
        s.metric("ishowtts_server_rejections_total", "unauthorized")
            .await
            >= 2.0
    );
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_queue_is_429_and_a_gone_client_cancels() {
    let mut cfg = config("queue");
    cfg.engine.queue_limit = 1;
    // a minute of synthesis: still running when the client leaves
    cfg.limits.max_input_chars = 100_000;
    let s = Server::start(cfg).await;
    let long = "A sentence that goes on for a while, to keep the engine busy. ".repeat(400);

    // one long request holds the only place; read its first bytes only
    let r = speech(&s, json!({"input": long, "response_format": "pcm"})).await;
    assert_eq!(r.status(), 200);
    let mut body = r.bytes_stream();
    body.next().await.unwrap().unwrap();

    let r = speech(&s, json!({"input": "Another."})).await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "1");
    let (_, code, _) = error_of(r).await;
    assert_eq!(code, "queue_full");
    assert!(
        s.metric("ishowtts_server_rejections_total", "queue_full")
            .await
            >= 1.0
    );

    // the client goes away: its synthesis is cancelled, the place freed
    let cancelled = s.metric("ishowtts_requests_cancelled_total", "").await;
    drop(body);
    s.wait_idle().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while s.metric("ishowtts_requests_cancelled_total", "").await <= cancelled {
        assert!(Instant::now() < deadline, "the request was not cancelled");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let r = speech(&s, json!({"input": "My turn now."})).await;
    assert_eq!(r.status(), 200);
    r.bytes().await.unwrap();
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off_and_others_served() {
    let s = Server::start(config("slow")).await;
    // headers never finished (slow-loris)
    let mut loris = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    loris
        .write_all(b"POST /v1/audio/speech HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // a body that stops halfway
    let mut stalled = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    stalled
        .write_all(b"POST /v1/audio/speech HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"input\":")
        .await
        .unwrap();
    // meanwhile others are served
    let r = speech(&s, json!({"input": "Others are served."})).await;
    assert_eq!(r.status(), 200);
    r.bytes().await.unwrap();
    // both are answered or closed within the read limit (2 s here)
    for conn in [&mut loris, &mut stalled] {
        let mut buf = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), conn.read_to_end(&mut buf)).await;
        assert!(read.is_ok(), "a slow client still holds its connection");
        let head = String::from_utf8_lossy(&buf);
        assert!(buf.is_empty() || head.starts_with("HTTP/1.1 4"), "{head}");
    }
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_a_request_finish() {
    let s = Server::start(config("shutdown")).await;
    let r = speech(&s, json!({"input": "One sentence. Two sentences. Three sentences here.", "response_format": "pcm"})).await;
    let mut body = r.bytes_stream();
    let mut total = body.next().await.unwrap().unwrap().len();
    let url = s.url("/healthz");
    let stopping = tokio::spawn(s.shutdown());
    while let Some(b) = body.next().await {
        total += b.unwrap().len();
    }
    assert!(total > 22050 * 2 * 2, "{total} bytes");
    stopping.await.unwrap();
    assert!(
        reqwest::get(url).await.is_err(),
        "still accepting after shutdown"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloned_voices_upload_persist_and_delete() {
    let cfg = with_tiny_f5(config("voices"));
    let dir = cfg.voices_dir.clone();
    let s = Server::start(cfg.clone()).await;
    let c = client();
    let reference =
        std::fs::read(common::root().join("tests/fixtures/f5_reference/ref.flac")).unwrap();
    let form = |name: &str, audio: Vec<u8>, file: &str| {
        reqwest::multipart::Form::new()
            .text("name", name.to_owned())
            .text("text", "This is how my voice sounds.")
            .part(
                "audio",
                reqwest::multipart::Part::bytes(audio).file_name(file.to_owned()),
            )
    };
    let r = c
        .post(s.url("/v1/voices"))
        .multipart(form("me", reference.clone(), "ref.flac"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let voices: Value = c
        .get(s.url("/v1/voices"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let me = voices["voices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == "me")
        .unwrap()
        .clone();
    assert_eq!(
        (
            me["model"].as_str(),
            me["cloned"].as_bool(),
            me["removable"].as_bool()
        ),
        (Some("f5"), Some(true), Some(true))
    );
    assert!(dir.join("me/voice.json").exists() && dir.join("me/reference.flac").exists());

    // it speaks (tiny random weights: noise, 24 kHz)
    let r = speech(&s, json!({"input": "New words.", "voice": "me", "model": "f5", "nfe_step": 2, "response_format": "pcm"})).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-sample-rate"], "24000");
    assert!(!r.bytes().await.unwrap().is_empty());
    let (st, code, _) =
        error_of(speech(&s, json!({"input": "Hi.", "voice": "me", "model": "piper"})).await).await;
    assert_eq!((st, code.as_str()), (400, "model_voice_mismatch"));

    // bad uploads
    let (st, code, _) = error_of(
        c.post(s.url("/v1/voices"))
            .multipart(form("me", reference.clone(), "ref.flac"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((st, code.as_str()), (409, "voice_exists"));
    let (st, code, _) = error_of(
        c.post(s.url("/v1/voices"))
            .multipart(form("noise", b"RIFF not audio at all".to_vec(), "x.wav"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((st, code.as_str()), (400, "reference_audio"));
    assert!(!dir.join("noise").exists());
    let (st, code, _) = error_of(
        c.post(s.url("/v1/voices"))
            .multipart(form("../up", reference.clone(), "ref.flac"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((st, code.as_str()), (400, "invalid_field"));
    let huge = vec![0u8; 100 << 20];
    let r = c
        .post(s.url("/v1/voices"))
        .multipart(form("huge", huge, "huge.wav"))
        .send()
        .await;
    match r {
        Ok(r) => assert_eq!(r.status(), 413),
        Err(e) => assert!(e.is_request() || e.is_body(), "{e}"), // closed mid-upload
    }
    let (st, code, _) = error_of(c.delete(s.url("/v1/voices/default")).send().await.unwrap()).await;
    assert_eq!((st, code.as_str()), (403, "voice_not_removable"));
    s.shutdown().await;

    // a restart keeps it
    let s = Server::start(cfg).await;
    let voices: Value = c
        .get(s.url("/v1/voices"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(voices["voices"]
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v["id"] == "me"));
    let r = c.delete(s.url("/v1/voices/me")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(!dir.join("me").exists());
    let (st, code, _) = error_of(c.delete(s.url("/v1/voices/me")).send().await.unwrap()).await;
    assert_eq!((st, code.as_str()), (404, "voice_not_found"));
    s.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}
