//! `/v1/live` over a real WebSocket: chat messages spoken in order with
//! their audio, the drop-oldest overflow policy, stream mode on the
//! engine's live text, and a client that never reads.

mod common;

use std::time::Duration;

use common::{config, Server};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(s: &Server, query: &str) -> Socket {
    let url = format!("ws://{}/v1/live{query}", s.addr);
    tokio_tungstenite::connect_async(url)
        .await
        .expect("websocket")
        .0
}

async fn send(ws: &mut Socket, v: Value) {
    ws.send(Message::Text(v.to_string().into())).await.unwrap();
}

/// Everything the server sends until it closes: JSON events, and the
/// audio bytes after each `chunk` event checked against its `samples`.
async fn read_all(ws: &mut Socket) -> (Vec<Value>, usize) {
    let mut events = Vec::new();
    let mut audio = 0;
    let mut expect_audio = 0;
    loop {
        let m = tokio::time::timeout(Duration::from_secs(60), ws.next())
            .await
            .expect("the server went quiet");
        match m {
            Some(Ok(Message::Text(t))) => {
                assert_eq!(expect_audio, 0, "a chunk's audio frame is missing");
                let v: Value = serde_json::from_str(&t).unwrap();
                if v["type"] == "chunk" {
                    expect_audio = v["samples"].as_u64().unwrap() as usize * 2;
                }
                events.push(v);
            }
            Some(Ok(Message::Binary(b))) => {
                assert_eq!(b.len(), expect_audio, "audio frame of the announced size");
                audio += b.len();
                expect_audio = 0;
            }
            Some(Ok(Message::Close(_))) | None => return (events, audio),
            Some(Ok(_)) => {}
            Some(Err(e)) => panic!("{e}"),
        }
    }
}

fn of_type<'a>(events: &'a [Value], t: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == t).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_messages_are_spoken_in_order() {
    let s = Server::start(config("live-chat")).await;
    let mut ws = connect(&s, "?voice=default&sample_rate=16000").await;
    send(
        &mut ws,
        json!({"type": "message", "text": "First message here.", "id": "a"}),
    )
    .await;
    send(
        &mut ws,
        json!({"type": "message", "text": "Second one. With two sentences.", "id": "b"}),
    )
    .await;
    send(
        &mut ws,
        json!({"type": "message", "text": "\u{1F600}", "id": "c"}),
    )
    .await;
    send(&mut ws, json!({"type": "bogus"})).await;
    send(&mut ws, json!({"type": "end"})).await;
    let (events, audio) = read_all(&mut ws).await;
    assert_eq!(events[0]["type"], "ready");
    assert_eq!(events[0]["sample_rate"], 16000);
    let done: Vec<&Value> = of_type(&events, "message_done");
    assert_eq!(
        done.iter().map(|e| e["id"].clone()).collect::<Vec<_>>(),
        [json!("a"), json!("b")]
    );
    let errors = of_type(&events, "error");
    assert!(
        errors.iter().any(|e| e["code"] == "invalid_message"),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e["id"] == "c" && e["code"] == "nothing_to_speak"),
        "{errors:?}"
    );
    let chunks = of_type(&events, "chunk");
    assert!(chunks.iter().filter(|c| c["id"] == "b").count() >= 2);
    assert!(chunks
        .iter()
        .any(|c| !c["words"].as_array().unwrap().is_empty()));
    assert!(audio > 16000 * 2 * 2, "{audio} bytes");
    assert_eq!(events.last().unwrap()["type"], "done");
    s.wait_idle().await;
    assert_eq!(s.metric("ishowtts_live_connections", "").await, 0.0);
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_drops_the_oldest_waiting_message() {
    let mut cfg = config("live-drop");
    cfg.live.max_pending_messages = 2;
    let s = Server::start(cfg).await;
    let mut ws = connect(&s, "").await;
    for i in 0..8 {
        send(&mut ws, json!({"type": "message", "text": format!("Chat message number {i} is here."), "id": i})).await;
    }
    send(&mut ws, json!({"type": "end"})).await;
    let (events, _) = read_all(&mut ws).await;
    let dropped: Vec<i64> = of_type(&events, "dropped")
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    let spoken: Vec<i64> = of_type(&events, "message_done")
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    // every message is either spoken or dropped, once; the newest are kept
    let mut all: Vec<i64> = dropped.iter().chain(&spoken).copied().collect();
    all.sort();
    assert_eq!(
        all,
        (0..8).collect::<Vec<_>>(),
        "dropped {dropped:?}, spoken {spoken:?}"
    );
    assert!(dropped.len() >= 4, "dropped {dropped:?}");
    assert!(spoken.contains(&7) && spoken.contains(&6));
    assert!(
        spoken.windows(2).all(|w| w[0] < w[1]),
        "in order: {spoken:?}"
    );
    let last_drop = of_type(&events, "dropped").last().unwrap()["dropped_total"]
        .as_u64()
        .unwrap();
    assert_eq!(last_drop as usize, dropped.len());
    assert_eq!(
        s.metric("ishowtts_live_dropped_messages_total", "").await as usize,
        dropped.len()
    );
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_mode_speaks_tokens_as_sentences_settle() {
    let s = Server::start(config("live-stream")).await;
    let mut ws = connect(&s, "?mode=stream").await;
    let text = "Tokens arrive a few at a time. Dr. Smith reads them aloud. The end";
    for piece in text.as_bytes().chunks(4) {
        let piece = std::str::from_utf8(piece).unwrap();
        send(&mut ws, json!({"type": "append", "text": piece})).await;
    }
    send(&mut ws, json!({"type": "message", "text": "wrong mode"})).await;
    send(&mut ws, json!({"type": "end"})).await;
    let (events, audio) = read_all(&mut ws).await;
    assert_eq!(events[0]["mode"], "stream");
    let sentences: Vec<(u64, u64)> = of_type(&events, "chunk")
        .iter()
        .filter(|c| c["text_end"].as_u64() > c["text_start"].as_u64())
        .map(|c| {
            (
                c["text_start"].as_u64().unwrap(),
                c["text_end"].as_u64().unwrap(),
            )
        })
        .collect();
    let spoken: Vec<&str> = sentences
        .iter()
        .map(|&(a, b)| &text[a as usize..b as usize])
        .collect();
    // the splitter's sentences (a short tail joins the one before), in
    // order, covering the text
    assert!(spoken.len() >= 2, "{spoken:?}");
    assert_eq!(spoken.join(" "), text);
    assert!(of_type(&events, "error")
        .iter()
        .any(|e| e["code"] == "wrong_mode"));
    assert!(audio > 22050 * 2 * 3);
    assert_eq!(events.last().unwrap()["type"], "done");
    s.wait_idle().await;
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_is_disconnected() {
    let mut cfg = config("live-stuck");
    cfg.live.send_timeout_secs = 1;
    let s = Server::start(cfg).await;
    let mut ws = connect(&s, "").await;
    // 8 messages of 25 sentences: about 30 MB of audio, more than the
    // loopback socket buffers hold
    let long = "This message is long enough to fill the socket buffers with audio. ".repeat(25);
    for i in 0..8 {
        send(&mut ws, json!({"type": "message", "text": long, "id": i})).await;
    }
    // never read; the server gives up on us and cancels the synthesis
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if s.metric("ishowtts_live_connections", "").await == 0.0 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "still connected");
    }
    s.wait_idle().await;
    // others are served
    let r = reqwest::Client::new()
        .post(s.url("/v1/audio/speech"))
        .json(&json!({"input": "Still serving."}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    drop(ws);
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_settings_fail_before_the_upgrade() {
    let s = Server::start(config("live-bad")).await;
    for (query, status) in [
        ("?voice=nobody", 404),
        ("?mode=shout", 400),
        ("?speed=0", 400),
    ] {
        let r = reqwest::Client::new()
            .get(s.url(&format!("/v1/live{query}")))
            .header("connection", "upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status, "{query}");
    }
    s.shutdown().await;
}
