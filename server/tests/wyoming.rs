//! The Wyoming protocol over loopback with a raw TCP client: `describe`,
//! `synthesize`, streaming synthesis (audio per sentence as the text
//! comes), an unknown voice (an error, the connection goes on), broken
//! framing (an error, that connection closes, the server goes on), a client
//! that leaves mid-synthesis, and shutdown.

mod common;

use std::time::Duration;

use serde_json::{json, Map, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

use common::Server;

/// The Wyoming side of a test server.
impl Server {
    async fn connect(&self) -> Client {
        let (r, w) = TcpStream::connect(self.addr).await.unwrap().into_split();
        Client {
            r: BufReader::new(r),
            w,
        }
    }

    fn active_streams(&self) -> i64 {
        self.state
            .metrics
            .active_streams
            .with_label_values(&["wyoming"])
            .get()
    }
}

/// One event as received.
#[derive(Debug)]
struct Event {
    kind: String,
    data: Value,
    payload: Vec<u8>,
}

/// The tiny Wyoming client: a header line, the data after it (as the
/// `wyoming` package writes it), then the payload.
struct Client {
    r: BufReader<OwnedReadHalf>,
    w: OwnedWriteHalf,
}

impl Client {
    async fn send(&mut self, kind: &str, data: Value) {
        let data = serde_json::to_vec(&data).unwrap();
        let header = json!({"type": kind, "data_length": data.len(), "version": "1.10.2"});
        let mut bytes = serde_json::to_vec(&header).unwrap();
        bytes.push(b'\n');
        bytes.extend_from_slice(&data);
        self.w.write_all(&bytes).await.unwrap();
    }

    /// The next event; `None` when the server closed the connection.
    async fn recv(&mut self) -> Option<Event> {
        tokio::time::timeout(Duration::from_secs(60), self.recv_now())
            .await
            .expect("the server went quiet")
    }

    async fn recv_now(&mut self) -> Option<Event> {
        let mut line = String::new();
        if self.r.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        let header: Value = serde_json::from_str(&line).expect("a JSON header line");
        let mut data = header.get("data").cloned().unwrap_or(json!({}));
        if let Some(n) = header["data_length"].as_u64() {
            let mut bytes = vec![0; n as usize];
            self.r.read_exact(&mut bytes).await.unwrap();
            let extra: Map<String, Value> = serde_json::from_slice(&bytes).unwrap();
            data.as_object_mut().unwrap().extend(extra);
        }
        let mut payload = vec![0; header["payload_length"].as_u64().unwrap_or(0) as usize];
        self.r.read_exact(&mut payload).await.unwrap();
        Some(Event {
            kind: header["type"].as_str().unwrap().to_owned(),
            data,
            payload,
        })
    }

    /// Events up to and including the first of type `last`.
    async fn until(&mut self, last: &str) -> Vec<Event> {
        let mut events = Vec::new();
        loop {
            let e = self.recv().await.expect("connection closed early");
            let done = e.kind == last;
            events.push(e);
            if done {
                return events;
            }
        }
    }
}

/// Checks one `audio-start` … `audio-stop` of 16-bit mono 22050 Hz audio;
/// returns its seconds.
fn audio_seconds(events: &[Event]) -> f64 {
    assert_eq!(events.first().unwrap().kind, "audio-start", "{events:?}");
    assert_eq!(events.last().unwrap().kind, "audio-stop");
    let mut bytes = 0;
    for e in &events[..events.len() - 1] {
        assert_eq!(e.data["rate"], 22050);
        assert_eq!(e.data["width"], 2);
        assert_eq!(e.data["channels"], 1);
        if e.kind == "audio-chunk" {
            assert!(!e.payload.is_empty());
            bytes += e.payload.len();
        }
    }
    let chunks = events.iter().filter(|e| e.kind == "audio-chunk").count();
    assert!(chunks >= 1, "no audio-chunk");
    assert_eq!(chunks, events.len() - 2, "only audio chunks in between");
    assert_eq!(bytes % 2, 0);
    bytes as f64 / 2.0 / 22050.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_synthesize_and_errors() {
    let s = Server::start_wyoming(common::config("wyoming-basic")).await;
    let mut c = s.connect().await;

    c.send("describe", json!({})).await;
    let info = c.recv().await.unwrap();
    assert_eq!(info.kind, "info");
    let tts = &info.data["tts"][0];
    assert_eq!(tts["name"], "ishowtts");
    assert_eq!(tts["installed"], true);
    assert_eq!(tts["supports_synthesize_streaming"], true);
    assert!(tts["attribution"]["url"].is_string());
    let voice = &tts["voices"][0];
    assert_eq!(voice["name"], "default", "{tts}");
    assert_eq!(voice["languages"], json!(["en_US"]));
    assert_eq!(voice["installed"], true);

    c.send("ping", json!({"text": "hi"})).await;
    let pong = c.recv().await.unwrap();
    assert_eq!(
        (pong.kind.as_str(), &pong.data["text"]),
        ("pong", &json!("hi"))
    );

    let text = "Hello from the Wyoming protocol. This is the second sentence.";
    c.send(
        "synthesize",
        json!({"text": text, "voice": {"name": "default"}}),
    )
    .await;
    let secs = audio_seconds(&c.until("audio-stop").await);
    assert!(secs > 1.0, "{secs} s of audio");

    // An unknown voice: an error, and the same connection still works.
    c.send(
        "synthesize",
        json!({"text": "Nobody.", "voice": {"name": "no-such-voice"}}),
    )
    .await;
    let err = c.recv().await.unwrap();
    assert_eq!(err.kind, "error");
    assert_eq!(err.data["code"], "voice_not_found");
    assert!(err.data["text"].as_str().unwrap().contains("no-such-voice"));
    c.send("synthesize", json!({"text": "Still here, and talking."}))
        .await;
    assert!(audio_seconds(&c.until("audio-stop").await) > 0.5);

    // A speaker a single-speaker voice does not have.
    c.send(
        "synthesize",
        json!({"text": "Hi.", "voice": {"name": "default", "speaker": "nobody"}}),
    )
    .await;
    assert_eq!(c.recv().await.unwrap().data["code"], "speaker_not_found");
    // A language picks its voice.
    c.send(
        "synthesize",
        json!({"text": "Chosen by language.", "voice": {"language": "en_US"}}),
    )
    .await;
    assert!(audio_seconds(&c.until("audio-stop").await) > 0.3);

    // A garbage line: an error, then the server closes that connection...
    let mut bad = s.connect().await;
    bad.w.write_all(b"this is not json\n").await.unwrap();
    let err = bad.recv().await.unwrap();
    assert_eq!(
        (err.kind.as_str(), &err.data["code"]),
        ("error", &json!("invalid_event"))
    );
    assert!(bad.recv().await.is_none(), "closed after broken framing");
    // ...as it does a header line past 64 KiB and an oversized payload...
    let mut long = s.connect().await;
    // One byte past the limit, no more: what the server does not read
    // would make its close a reset, which can drop the error event.
    long.w.write_all(&vec![b'{'; 64 * 1024 + 1]).await.unwrap();
    assert_eq!(long.recv().await.unwrap().data["code"], "header_too_long");
    assert!(long.recv().await.is_none());
    let mut big = s.connect().await;
    big.w
        .write_all(b"{\"type\": \"audio-chunk\", \"payload_length\": 100000000}\n")
        .await
        .unwrap();
    assert_eq!(big.recv().await.unwrap().data["code"], "event_too_large");
    assert!(big.recv().await.is_none());
    // ...and serves the others as before.
    let mut again = s.connect().await;
    again.send("describe", json!({})).await;
    assert_eq!(again.recv().await.unwrap().kind, "info");
    c.send("describe", json!({})).await;
    assert_eq!(c.recv().await.unwrap().kind, "info");

    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_synthesis_speaks_each_sentence_as_it_settles() {
    let s = Server::start_wyoming(common::config("wyoming-stream")).await;
    let mut c = s.connect().await;
    c.send("synthesize-start", json!({"voice": {"name": "default"}}))
        .await;
    c.send(
        "synthesize-chunk",
        json!({"text": "The first sentence is "}),
    )
    .await;
    c.send(
        "synthesize-chunk",
        json!({"text": "here, and it is long enough. The sec"}),
    )
    .await;
    c.send(
        "synthesize-chunk",
        json!({"text": "ond sentence follows it, just as long! Is this the th"}),
    )
    .await;
    // The first sentence is spoken before the text is over (the engine
    // holds the last two sentences back until more text shows where they
    // end).
    let first = c.until("audio-stop").await;
    assert!(audio_seconds(&first) > 0.5);
    c.send(
        "synthesize-chunk",
        json!({"text": "ird one? And here is the fourth and last."}),
    )
    .await;
    // The whole text again, as clients send it for servers that do not
    // stream: ignored.
    c.send(
        "synthesize",
        json!({"text": "The first sentence is here, and it is long enough. The second sentence follows it, just as long! Is this the third one? And here is the fourth and last."}),
    )
    .await;
    c.send("synthesize-stop", json!({})).await;
    let rest = c.until("synthesize-stopped").await;
    // Each sentence its own audio-start … audio-stop.
    let mut sentences = vec![audio_seconds(&first)];
    let mut i = 0;
    while rest[i].kind == "audio-start" {
        let end = i + rest[i..]
            .iter()
            .position(|e| e.kind == "audio-stop")
            .unwrap();
        sentences.push(audio_seconds(&rest[i..=end]));
        i = end + 1;
    }
    assert_eq!(i, rest.len() - 1, "only audio before synthesize-stopped");
    assert!(sentences.len() >= 4, "{sentences:?}");
    assert!(sentences.iter().sum::<f64>() > 4.0, "{sentences:?}");

    // The connection serves the next request.
    c.send("synthesize", json!({"text": "After the stream."}))
        .await;
    assert!(audio_seconds(&c.until("audio-stop").await) > 0.3);
    assert_eq!(s.active_streams(), 0);

    // A stream with an unknown voice: an error, its text is dropped, and
    // the stop still gets synthesize-stopped.
    c.send("synthesize-start", json!({"voice": {"name": "nobody"}}))
        .await;
    c.send("synthesize-chunk", json!({"text": "Lost words."}))
        .await;
    c.send("synthesize-stop", json!({})).await;
    let events = c.until("synthesize-stopped").await;
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["error", "synthesize-stopped"]);
    assert_eq!(events[0].data["code"], "voice_not_found");

    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_leaves_cancels_its_synthesis() {
    let s = Server::start_wyoming(common::config("wyoming-leave")).await;
    let mut c = s.connect().await;
    let long = "This sentence is spoken again and again, for a long while. ".repeat(40);
    c.send("synthesize", json!({"text": long})).await;
    assert_eq!(c.recv().await.unwrap().kind, "audio-start");
    assert_eq!(s.active_streams(), 1);
    drop(c);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while s.active_streams() != 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the synthesis went on"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A stream left open: shutdown closes it with the server.
    let mut open = s.connect().await;
    open.send("synthesize-start", json!({})).await;
    open.send("synthesize-chunk", json!({"text": "Half a"}))
        .await;
    let idle = s.connect().await;
    s.shutdown().await;
    assert!(open.recv().await.is_none());
    drop(idle);
}
