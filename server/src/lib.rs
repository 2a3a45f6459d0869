//! `ishowtts serve`: the speech service over the engine.
//!
//! - `POST /v1/audio/speech`: OpenAI-compatible speech, streamed as audio
//!   or Server-Sent Events ([`speech`]);
//! - `GET /v1/models`, `GET|POST /v1/voices`, `DELETE /v1/voices/{id}`
//!   ([`voices`]);
//! - `GET /v1/live`: a WebSocket chat reader on the engine's live text
//!   stream ([`live`]);
//! - `GET /healthz`, `/readyz`, `/metrics` ([`ops`]); the web page at `/`
//!   ([`web`]);
//! - the Wyoming protocol on its own TCP port ([`wyoming`]).
//!
//! Everything here is a thin layer: requests become engine requests, chunks
//! become bytes. The engine owns scheduling, caching and the models.

pub mod config;
pub mod encode;
pub mod error;
pub mod live;
pub mod metrics;
pub mod ops;
pub mod speech;
mod synth;
pub mod voices;
pub mod web;
pub mod wyoming;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use ishowtts::engine::Engine;
use tokio::net::TcpListener;

pub use config::ServeConfig;
use error::ApiError;
use metrics::ServerMetrics;
use voices::Catalog;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The engine: models, scheduler, caches.
    pub engine: Arc<Engine>,
    /// The settings the service started with.
    pub config: Arc<ServeConfig>,
    /// The service's own metrics.
    pub metrics: Arc<ServerMetrics>,
    /// Voices and models.
    pub catalog: Arc<Catalog>,
    /// The default voice spoke once (`/readyz`).
    pub ready: Arc<AtomicBool>,
    /// Shutdown has begun: `/readyz` says so, new work is refused.
    pub shutting_down: Arc<AtomicBool>,
}

impl AppState {
    /// Builds the engine and registers the configured and stored voices.
    pub fn new(config: ServeConfig) -> Result<Self, String> {
        let engine_config = config.engine_config()?;
        let engine = match &config.engine.default_voice {
            Some(path) => {
                let e = Engine::new(engine_config).map_err(|e| e.to_string())?;
                let spec = ishowtts::engine::VoiceSpec::piper(path).map_err(|e| e.to_string())?;
                e.add_voice("default", spec).map_err(|e| e.to_string())?;
                e
            }
            None => Engine::with_default_voice(engine_config).map_err(|e| e.to_string())?,
        };
        let engine = Arc::new(engine);
        let catalog = Arc::new(Catalog::new(engine.clone(), &config)?);
        Ok(Self {
            engine,
            config: Arc::new(config),
            metrics: Arc::new(ServerMetrics::new()),
            catalog,
            ready: Arc::new(AtomicBool::new(false)),
            shutting_down: Arc::new(AtomicBool::new(false)),
        })
    }

    /// An engine refusal as an API error, counted by reason.
    pub fn rejected(&self, e: ishowtts::Error) -> ApiError {
        let err = ApiError::from(e);
        self.metrics.rejections.with_label_values(&[err.code]).inc();
        err
    }
}

/// All routes, with the limits, the API key check and the request log.
pub fn router(state: AppState) -> Router {
    let limits = &state.config.limits;
    let api = Router::new()
        .route("/audio/speech", post(speech::speech))
        .route("/models", get(voices::list_models))
        .route(
            "/voices",
            get(voices::list_voices)
                .post(voices::create_voice)
                .layer(DefaultBodyLimit::max(limits.max_upload_bytes)),
        )
        .route("/voices/{id}", delete(voices::delete_voice))
        .route("/live", get(live::live))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            require_api_key,
        ));
    Router::new()
        .nest("/v1", api)
        .route("/", get(web::index))
        .route("/app.js", get(web::app_js))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            Duration::from_secs(limits.request_read_secs),
        ))
        .layer(middleware::from_fn_with_state(state.clone(), log_request))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such endpoint; see /v1/audio/speech, /v1/models, /v1/voices, /v1/live",
    )
}

/// `Authorization: Bearer <key>` on `/v1/*` when a key is configured.
async fn require_api_key(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if let Some(key) = &state.config.api_key {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        // The browser's WebSocket cannot set headers: `?api_key=` there.
        let in_query = req.uri().query().is_some_and(|q| {
            q.split('&')
                .any(|kv| kv.strip_prefix("api_key=") == Some(key.as_str()))
        });
        if given != Some(key.as_str()) && !in_query {
            state
                .metrics
                .rejections
                .with_label_values(&["unauthorized"])
                .inc();
            return ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_api_key",
                "missing or wrong API key: send Authorization: Bearer <key>",
            )
            .into_response();
        }
    }
    next.run(req).await
}

/// One structured log line and one counter per request.
async fn log_request(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "other".into());
    let response = next.run(req).await;
    let status = response.status().as_u16();
    state
        .metrics
        .requests
        .with_label_values(&[route.as_str(), &status.to_string()])
        .inc();
    tracing::info!(
        target: "ishowtts::http",
        %method,
        path,
        status,
        ms = started.elapsed().as_millis() as u64,
        "request"
    );
    response
}

/// Serves `state` on `listener` until `shutdown` resolves; then stops
/// accepting, gives in-flight requests `limits.shutdown_grace_secs` to
/// finish and cancels the rest.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let limits = state.config.limits.clone();
    let flag = state.shutting_down.clone();
    let app = router(state);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _peer) = match accepted {
                    Ok(c) => c,
                    Err(e) => {
                        // out of file descriptors and the like: back off
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let mut builder = auto::Builder::new(TokioExecutor::new());
                // A client that does not finish its headers in time is
                // dropped (slow-loris).
                builder
                    .http1()
                    .timer(TokioTimer::new())
                    .header_read_timeout(Duration::from_secs(limits.request_read_secs));
                let service = TowerToHyperService::new(app.clone());
                let conn = builder
                    .serve_connection_with_upgrades(TokioIo::new(stream), service)
                    .into_owned();
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                });
            }
            _ = &mut shutdown => break,
        }
    }
    flag.store(true, Ordering::Relaxed);
    drop(listener);
    tracing::info!("shutting down: finishing in-flight requests");
    tokio::select! {
        _ = graceful.shutdown() => tracing::info!("all requests finished"),
        _ = tokio::time::sleep(Duration::from_secs(limits.shutdown_grace_secs)) => {
            tracing::warn!("grace period over: cancelling the requests still running");
        }
    }
    Ok(())
}

/// Binds `config.host:config.port` and serves until SIGINT or SIGTERM.
/// `on_listening` gets the bound address (port 0 picks one).
pub async fn run(config: ServeConfig, on_listening: impl FnOnce(SocketAddr)) -> Result<(), String> {
    let addr = format!("{}:{}", config.host, config.port);
    // A bad Wyoming address fails before the models load.
    let wyoming_addr = config
        .wyoming
        .as_deref()
        .map(wyoming::parse_uri)
        .transpose()?;
    let state = tokio::task::block_in_place(|| AppState::new(config))?;
    let listener = TcpListener::bind(&addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let wyoming_listener = match &wyoming_addr {
        Some(a) => Some(
            TcpListener::bind(a)
                .await
                .map_err(|e| format!("cannot listen on tcp://{a} (Wyoming): {e}"))?,
        ),
        None => None,
    };
    on_listening(listener.local_addr().map_err(|e| e.to_string())?);
    // One signal stops both listeners.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    });
    let until_stop = move || {
        let mut stopped = stopped.clone();
        async move {
            let _ = stopped.wait_for(|s| *s).await;
        }
    };
    let wyoming_task = match wyoming_listener {
        Some(l) => {
            let a = l.local_addr().map_err(|e| e.to_string())?;
            // After the HTTP line, which scripts wait for.
            println!("ishowtts serve: Wyoming on tcp://{a}");
            tracing::info!(addr = %a, "Wyoming listening");
            Some(tokio::spawn(wyoming::serve_wyoming(
                l,
                state.clone(),
                until_stop(),
            )))
        }
        None => None,
    };
    let served = serve(listener, state, until_stop()).await;
    if let Some(task) = wyoming_task {
        let _ = task.await;
    }
    served.map_err(|e| e.to_string())
}

/// SIGINT (Ctrl-C) or SIGTERM (a container stop).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
