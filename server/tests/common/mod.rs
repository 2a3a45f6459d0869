//! A service on a free loopback port, for one test.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use futures_util::future::BoxFuture;
use ishowtts_server::{AppState, ServeConfig};
use std::future::Future;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The settings tests start from: the default voice, a voices folder of
/// the test's own, short timeouts.
pub fn config(name: &str) -> ServeConfig {
    let mut c = ServeConfig {
        port: 0,
        ..ServeConfig::default()
    };
    c.engine.default_voice = Some(
        std::env::var_os("ISHOWTTS_VOICE")
            .map(PathBuf::from)
            .unwrap_or_else(|| root().join("models/en_US-joe-medium.onnx")),
    );
    let dir = std::env::temp_dir().join(format!("ishowtts-serve-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    c.voices_dir = dir;
    c.limits.request_read_secs = 2;
    c.limits.shutdown_grace_secs = 5;
    c
}

/// The tiny random-weight F5-TTS checkpoint of the fixtures as the
/// cloning model (its "speech" is noise, but every stage runs).
pub fn with_tiny_f5(mut c: ServeConfig) -> ServeConfig {
    let f5 = root().join("tests/fixtures/f5");
    c.clone.f5_checkpoint = Some(f5.join("tiny_v1/F5TTS_tiny"));
    c.clone.f5_config = Some(f5.join("tiny_v1/config.json"));
    c.clone.vocoder = Some(f5.join("vocos_tiny"));
    c
}

/// A running service.
pub struct Server {
    pub addr: SocketAddr,
    pub state: AppState,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl Server {
    /// The HTTP service.
    pub async fn start(config: ServeConfig) -> Self {
        Self::start_with(config, |listener, state, stopped| {
            ishowtts_server::serve(listener, state, stopped)
        })
        .await
    }

    /// The Wyoming service.
    pub async fn start_wyoming(config: ServeConfig) -> Self {
        Self::start_with(config, |listener, state, stopped| async move {
            ishowtts_server::wyoming::serve_wyoming(listener, state, stopped).await;
            Ok(())
        })
        .await
    }

    /// `serve(listener, state, stopped)` on a free loopback port, where
    /// `stopped` resolves when the test shuts the server down.
    async fn start_with<F, Fut>(config: ServeConfig, serve: F) -> Self
    where
        F: FnOnce(TcpListener, AppState, BoxFuture<'static, ()>) -> Fut,
        Fut: Future<Output = std::io::Result<()>> + Send + 'static,
    {
        let state = tokio::task::spawn_blocking(move || AppState::new(config))
            .await
            .unwrap()
            .expect("service state");
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let stopped = Box::pin(async {
            let _ = stopped.await;
        });
        let task = tokio::spawn(serve(listener, state.clone(), stopped));
        Self {
            addr,
            state,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Stops accepting and waits for the in-flight requests (bounded).
    pub async fn shutdown(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(20), t)
                .await
                .expect("shutdown within 20 s")
                .unwrap()
                .unwrap();
        }
    }

    /// One metric's value from /metrics (the sum over its label sets that
    /// contain `labels`).
    pub async fn metric(&self, name: &str, labels: &str) -> f64 {
        let text = reqwest::get(self.url("/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .filter(|l| {
                let (key, _) = l.rsplit_once(' ').unwrap_or((l, ""));
                (key == name || key.starts_with(&format!("{name}{{"))) && key.contains(labels)
            })
            .filter_map(|l| l.rsplit_once(' ').and_then(|(_, v)| v.parse::<f64>().ok()))
            .sum()
    }

    /// Waits (bounded) until no synthesis stream is running.
    pub async fn wait_idle(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let active = self.metric("ishowtts_server_active_streams", "").await;
            let queue = self.metric("ishowtts_queue_depth", "").await;
            if active == 0.0 && queue == 0.0 {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "still {active} active streams, queue {queue}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The JSON error of a response: (status, code, message).
pub async fn error_of(r: reqwest::Response) -> (u16, String, String) {
    let status = r.status().as_u16();
    let body: serde_json::Value = r.json().await.expect("a JSON error body");
    (
        status,
        body["error"]["code"].as_str().unwrap_or("").to_owned(),
        body["error"]["message"].as_str().unwrap_or("").to_owned(),
    )
}
