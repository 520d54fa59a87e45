//! One lock per rollout stream: this engine's commands on one rollout take turns (deciding on
//! the state the previous one left), so they never conflict with each other; only another
//! process's appends, met at append time, make a command decide again. Unused locks are
//! forgotten (weak references, swept when the map grows).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

/// The locks, by stream id.
#[derive(Debug, Default)]
pub(crate) struct StreamLocks(Mutex<HashMap<String, Weak<tokio::sync::Mutex<()>>>>);

impl StreamLocks {
    pub(crate) fn of(&self, stream: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(lock) = map.get(stream).and_then(Weak::upgrade) {
            return lock;
        }
        let lock = Arc::new(tokio::sync::Mutex::new(()));
        map.insert(stream.to_owned(), Arc::downgrade(&lock));
        if map.len() > 4 * 1024 {
            map.retain(|_, weak| weak.strong_count() > 0);
        }
        lock
    }
}
