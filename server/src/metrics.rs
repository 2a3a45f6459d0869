//! The service's own Prometheus metrics (per-request time to first audio
//! and real-time factor, active streams, rejections, live drops), exposed
//! at `/metrics` together with the engine's (queue depth, cache hits and
//! misses, models loaded, …).

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

/// Counters, gauges and histograms of the HTTP, WebSocket and Wyoming
/// front ends.
pub struct ServerMetrics {
    registry: Registry,
    /// Requests answered, by route and status.
    pub requests: IntCounterVec,
    /// Request arrival to the first audio byte sent, by route.
    pub time_to_first_audio: HistogramVec,
    /// Wall time over audio time of whole requests, by route.
    pub real_time_factor: HistogramVec,
    /// Synthesis streams running now, by route (HTTP, live, Wyoming).
    pub active_streams: IntGaugeVec,
    /// Requests refused, by reason (`queue_full`, `unauthorized`, …).
    pub rejections: IntCounterVec,
    /// Live chat messages dropped by the overflow policy.
    pub live_dropped: IntCounterVec,
    /// Open WebSocket connections.
    pub live_connections: IntGauge,
}

impl ServerMetrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("ishowtts_http_requests_total", "HTTP requests answered."),
            &["route", "status"],
        )
        .expect("metric");
        let time_to_first_audio = HistogramVec::new(
            HistogramOpts::new(
                "ishowtts_server_time_to_first_audio_seconds",
                "Request arrival to its first audio sent.",
            )
            .buckets(vec![
                0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0,
            ]),
            &["route"],
        )
        .expect("metric");
        let real_time_factor = HistogramVec::new(
            HistogramOpts::new(
                "ishowtts_server_real_time_factor",
                "Request wall time over the seconds of audio it produced.",
            )
            .buckets(vec![
                0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 5.0,
            ]),
            &["route"],
        )
        .expect("metric");
        let active_streams = IntGaugeVec::new(
            Opts::new(
                "ishowtts_server_active_streams",
                "Synthesis streams running now.",
            ),
            &["route"],
        )
        .expect("metric");
        let rejections = IntCounterVec::new(
            Opts::new("ishowtts_server_rejections_total", "Requests refused."),
            &["reason"],
        )
        .expect("metric");
        let live_dropped = IntCounterVec::new(
            Opts::new(
                "ishowtts_live_dropped_messages_total",
                "Live chat messages dropped because the queue was full.",
            ),
            &["policy"],
        )
        .expect("metric");
        let live_connections = IntGauge::new(
            "ishowtts_live_connections",
            "Open live (WebSocket) connections.",
        )
        .expect("metric");
        for c in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(time_to_first_audio.clone()),
            Box::new(real_time_factor.clone()),
            Box::new(active_streams.clone()),
            Box::new(rejections.clone()),
            Box::new(live_dropped.clone()),
            Box::new(live_connections.clone()),
        ] {
            registry.register(c).expect("unique metric names");
        }
        Self {
            registry,
            requests,
            time_to_first_audio,
            real_time_factor,
            active_streams,
            rejections,
            live_dropped,
            live_connections,
        }
    }

    /// The service's metrics in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("text encoding of gathered metrics");
        String::from_utf8(out).expect("the text format is UTF-8")
    }

    /// Counts one stream as running until the guard drops.
    pub fn stream_started(&self, route: &'static str) -> ActiveStream {
        let g = self.active_streams.with_label_values(&[route]);
        g.inc();
        ActiveStream(g)
    }
}

impl Default for ServerMetrics {
    fn default() -> Self {
        Self::new()
    }
}

/// One running stream in `ishowtts_server_active_streams`; dropping it
/// (however the stream ended: done, failed, client gone) counts it out.
pub struct ActiveStream(IntGauge);

impl Drop for ActiveStream {
    fn drop(&mut self) {
        self.0.dec();
    }
}
