//! Operations endpoints: liveness, readiness, metrics.

use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use ishowtts::engine::RequestOptions;
use serde_json::json;

use crate::AppState;

/// `GET /healthz`: the process answers.
pub async fn healthz() -> &'static str {
    "ok"
}

/// `GET /readyz`: the default voice's model loads and speaks (checked
/// once by a short synthesis, then remembered); 503 while it does not, or
/// once shutdown has begun.
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    if state.shutting_down.load(Ordering::Relaxed) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "shutting_down"})),
        );
    }
    if !state.ready.load(Ordering::Relaxed) {
        let engine = state.engine.clone();
        let probe = tokio::task::spawn_blocking(move || {
            engine.synthesize("Ready.", &RequestOptions::default())
        })
        .await;
        match probe {
            Ok(Ok(_)) => state.ready.store(true, Ordering::Relaxed),
            Ok(Err(e)) => {
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    Json(
                        json!({"status": "not_ready", "code": e.code().name(), "reason": e.to_string()}),
                    ),
                )
            }
            Err(e) => {
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    Json(
                        json!({"status": "not_ready", "code": "internal", "reason": e.to_string()}),
                    ),
                )
            }
        }
    }
    let m = state.engine.metrics();
    (
        StatusCode::OK,
        Json(
            json!({"status": "ready", "models_loaded": m.models_loaded, "queue_depth": m.queue_depth}),
        ),
    )
}

/// `GET /metrics`: the service's metrics and the engine's, in the
/// Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let mut text = state.metrics.render();
    text.push_str(&state.engine.metrics().to_prometheus());
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
}
