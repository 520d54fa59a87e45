use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::broadcast::error::RecvError;

use crate::{Committed, EventStore, RecordedEvent, StoreError};

/// Events read from the log per catch-up call.
const CATCH_UP_PAGE: usize = 1_000;

/// Delivers every event from a start position exactly once, in position order: first by reading
/// the log, then from the live notifications.
///
/// The receiver is taken before the first read, so an event committed during catch-up is either
/// in a read or in the receiver; events already seen are dropped by position. When the
/// subscriber falls behind (the channel reports lag, or a batch starts past its position), it
/// reads the log again: a slow subscriber never blocks writers and never loses an event.
pub struct Subscription {
    store: Arc<dyn EventStore>,
    live: tokio::sync::broadcast::Receiver<Committed>,
    next: u64,
    buffer: VecDeque<RecordedEvent>,
    caught_up: bool,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription").field("next", &self.next).field("caught_up", &self.caught_up).finish()
    }
}

impl Subscription {
    pub fn new(store: Arc<dyn EventStore>, from: u64) -> Self {
        let live = store.notifications();
        Subscription { store, live, next: from.max(1), buffer: VecDeque::new(), caught_up: false }
    }

    /// The position of the next event this subscription delivers.
    pub fn next_position(&self) -> u64 {
        self.next
    }

    /// The next event; `None` once the store has shut down.
    pub async fn next(&mut self) -> Result<Option<RecordedEvent>, StoreError> {
        loop {
            if let Some(event) = self.buffer.pop_front() {
                debug_assert_eq!(event.position, self.next, "subscription out of order");
                self.next = event.position + 1;
                return Ok(Some(event));
            }
            if !self.caught_up {
                let page = self.store.read_all(self.next, CATCH_UP_PAGE).await?;
                if page.is_empty() {
                    self.caught_up = true;
                } else {
                    self.buffer.extend(page);
                }
                continue;
            }
            match self.live.recv().await {
                Ok(batch) => match batch.first() {
                    Some(first) if first.position <= self.next => {
                        self.buffer.extend(batch.iter().filter(|e| e.position >= self.next).cloned());
                    }
                    // A gap (or a bare wake-up): the log has what we missed.
                    _ => self.caught_up = false,
                },
                Err(RecvError::Lagged(_)) => self.caught_up = false,
                Err(RecvError::Closed) => return Ok(None),
            }
        }
    }
}
