//! One way to write a stream that is not a rollout's (a rollout's question threads, a person):
//! read the stream, fold it, decide on the folded state with a pure function, append at the
//! exact version the fold reached. A concurrent append (another request, another server on the
//! same database) makes the append a conflict; the command is then decided again on the new
//! state, up to [`crate::limits::COMMAND_ATTEMPTS_MAX`] times, like a rollout's command
//! without an expected version. So no event is ever decided on a stale state.

use store::{Direction, ExpectedVersion, NewEvent, RecordedEvent, StoreError};

use crate::{limits, EngineError};

/// Events of a stream read at most at once (a question stream or a person's stream is small).
const STREAM_PAGE: usize = 10_000;

impl crate::Engine {
    /// Reads `stream` whole, lets `decide` choose the events on it (empty: nothing to append),
    /// and appends them at the version read; returns the events appended.
    pub(crate) async fn decide_on_stream(
        &self,
        stream: &str,
        mut decide: impl FnMut(&[RecordedEvent]) -> Result<Vec<NewEvent>, EngineError>,
    ) -> Result<Vec<RecordedEvent>, EngineError> {
        let mut attempt = 1;
        loop {
            let events = self.read_whole_stream(stream).await?;
            let version = events.last().map_or(0, |e| e.version);
            let new = decide(&events)?;
            if new.is_empty() {
                return Ok(Vec::new());
            }
            let expected =
                if version == 0 { ExpectedVersion::NoStream } else { ExpectedVersion::Exact(version) };
            match self.store.append(stream, expected, new).await {
                Err(StoreError::Conflict { .. }) if attempt < limits::COMMAND_ATTEMPTS_MAX => attempt += 1,
                other => return Ok(other?),
            }
        }
    }

    async fn read_whole_stream(&self, stream: &str) -> Result<Vec<RecordedEvent>, EngineError> {
        let mut all = Vec::new();
        loop {
            let page =
                self.store.read_stream(stream, all.len() as u64 + 1, Direction::Forward, STREAM_PAGE).await?;
            let done = page.len() < STREAM_PAGE;
            all.extend(page);
            if done {
                return Ok(all);
            }
        }
    }
}
