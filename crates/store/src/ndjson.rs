//! The exchange format of the log: NDJSON, one event per line, every envelope field and both
//! hashes included. Export → import → export gives identical bytes.

use std::io::{BufRead, Write};

use crate::{ChainVerifier, EventStore, RecordedEvent, StoreError};

/// Events read or written per store call.
const PAGE: usize = 1_000;

#[derive(Debug, thiserror::Error)]
pub enum NdjsonError {
    #[error("line {line}: {reason}")]
    Line { line: u64, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Writes the whole log; returns the number of events.
pub async fn export(
    store: &dyn EventStore,
    out: &mut dyn Write,
    mut progress: impl FnMut(u64),
) -> Result<u64, NdjsonError> {
    let mut from = 1;
    loop {
        let page = store.read_all(from, PAGE).await?;
        let Some(last) = page.last() else { break };
        from = last.position + 1;
        for event in &page {
            serde_json::to_writer(&mut *out, event).map_err(|e| std::io::Error::other(e.to_string()))?;
            out.write_all(b"\n")?;
        }
        progress(from - 1);
    }
    out.flush()?;
    Ok(from - 1)
}

fn parse_line(number: u64, line: &str) -> Result<RecordedEvent, NdjsonError> {
    serde_json::from_str(line)
        .map_err(|e| NdjsonError::Line { line: number, reason: format!("not an event: {e}") })
}

/// Checks a whole file without writing: every line parses and continues the chain.
/// Returns the number of events.
pub fn check(input: impl BufRead) -> Result<u64, NdjsonError> {
    let mut verifier = ChainVerifier::new();
    let mut count = 0;
    for (i, line) in input.lines().enumerate() {
        let number = i as u64 + 1;
        let line = line.map_err(|e| NdjsonError::Line { line: number, reason: e.to_string() })?;
        let event = parse_line(number, &line)?;
        verifier.check(&event).map_err(|reason| NdjsonError::Line { line: number, reason })?;
        count += 1;
    }
    Ok(count)
}

/// Imports a file into an empty store. The file is read twice: first checked whole (nothing is
/// written if any line is bad), then written in pages. `open` opens it afresh each time.
pub async fn import<R: BufRead>(
    store: &dyn EventStore,
    mut open: impl FnMut() -> std::io::Result<R>,
    mut progress: impl FnMut(u64),
) -> Result<u64, NdjsonError> {
    let head = store.head().await?;
    if head.position != 0 {
        return Err(StoreError::NotEmpty { events: head.position }.into());
    }
    let total = check(open()?)?;
    let mut page = Vec::with_capacity(PAGE);
    let mut written = 0;
    for (i, line) in open()?.lines().enumerate() {
        page.push(parse_line(i as u64 + 1, &line?)?);
        if page.len() == PAGE {
            written += page.len() as u64;
            store.append_recorded(std::mem::take(&mut page)).await?;
            progress(written);
        }
    }
    if !page.is_empty() {
        written += page.len() as u64;
        store.append_recorded(page).await?;
        progress(written);
    }
    debug_assert_eq!(written, total);
    Ok(written)
}
