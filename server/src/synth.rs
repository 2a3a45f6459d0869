//! Engine streams read from async code: a blocking reader thread per
//! stream hands chunks over a small channel. The receiving side owns the
//! request: dropping it (the client went away, the handler was cancelled)
//! cancels the synthesis, so no model time is spent on audio nobody reads.

use ishowtts::engine::{CancelHandle, Chunk, Stream};
use tokio::sync::mpsc;

use crate::metrics::ActiveStream;

/// Chunks of one engine request, in order.
pub struct ChunkReceiver {
    rx: mpsc::Receiver<ishowtts::Result<Chunk>>,
    cancel: CancelHandle,
    _active: ActiveStream,
}

impl ChunkReceiver {
    /// Starts reading `stream` on a blocking thread.
    pub fn spawn(stream: Stream, active: ActiveStream) -> Self {
        let cancel = stream.cancel_handle();
        // Two chunks of slack: the reader stays one sentence ahead of the
        // network without buffering a whole text for a slow client.
        let (tx, rx) = mpsc::channel(2);
        tokio::task::spawn_blocking(move || {
            for chunk in stream {
                if tx.blocking_send(chunk).is_err() {
                    break; // receiver gone: dropping the stream cancels it
                }
            }
        });
        Self {
            rx,
            cancel,
            _active: active,
        }
    }

    /// The next chunk; `None` after the last one (or after an error item).
    pub async fn next(&mut self) -> Option<ishowtts::Result<Chunk>> {
        self.rx.recv().await
    }
}

impl Drop for ChunkReceiver {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}
