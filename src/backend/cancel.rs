//! Cancelling one request: the flag a model checks between its inner steps.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Cancels one request from any thread. Cheap to clone.
#[derive(Clone)]
pub struct CancelHandle {
    flag: Arc<AtomicBool>,
    wake: Arc<dyn Fn() + Send + Sync>,
}

impl std::fmt::Debug for CancelHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CancelHandle")
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

impl CancelHandle {
    pub(crate) fn new(wake: Arc<dyn Fn() + Send + Sync>) -> Self {
        Self {
            flag: Arc::new(AtomicBool::new(false)),
            wake,
        }
    }

    /// A handle tied to nothing (for tests of backends).
    pub fn detached() -> Self {
        Self::new(Arc::new(|| {}))
    }

    /// Stops the request: no further sentence starts, a model with inner
    /// steps stops at the next one, and the stream ends.
    pub fn cancel(&self) {
        if !self.flag.swap(true, Ordering::SeqCst) {
            (self.wake)();
        }
    }

    /// Whether [`CancelHandle::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }
}

impl CancelHandle {
    pub(crate) fn wake(&self) {
        (self.wake)();
    }
}
