use crate::{ChainVerifier, EventStore, Head, StoreError};

/// Events read per call while verifying.
const VERIFY_PAGE: usize = 5_000;

/// A log that verified.
#[derive(Debug, Clone, Copy)]
pub struct VerifyReport {
    pub events: u64,
    pub head: Head,
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("position {position}: {reason}")]
    Broken { position: u64, reason: String },
    #[error(transparent)]
    Store(StoreError),
}

/// Recomputes the hash chain of the whole log and names the first position whose hash, chain
/// link, position or stream version is wrong.
pub async fn verify_log(
    store: &dyn EventStore,
    progress: impl FnMut(u64),
) -> Result<VerifyReport, VerifyError> {
    let head = verify_until(store, u64::MAX, progress).await?;
    let stored = store.head().await.map_err(VerifyError::Store)?;
    if stored.position != head.position || stored.hash != head.hash {
        return Err(VerifyError::Broken {
            position: head.position + 1,
            reason: format!(
                "the store's head is position {} but the chain ends at position {}",
                stored.position, head.position
            ),
        });
    }
    Ok(VerifyReport { events: head.position, head })
}

/// Recomputes the hash chain from the log's start up to `until` (or its end), while the log may
/// grow: what a serving process checks of the log it was given. Returns the last verified head.
pub async fn verify_until(
    store: &dyn EventStore,
    until: u64,
    mut progress: impl FnMut(u64),
) -> Result<Head, VerifyError> {
    let mut verifier = ChainVerifier::new();
    let mut from = 1;
    while from <= until {
        let page = match store.read_all(from, VERIFY_PAGE).await {
            Ok(page) => page,
            Err(StoreError::Corrupt { position, reason }) => {
                return Err(VerifyError::Broken { position, reason })
            }
            Err(e) => return Err(VerifyError::Store(e)),
        };
        let Some(last) = page.last() else { break };
        from = last.position + 1;
        for event in page.iter().take_while(|e| e.position <= until) {
            verifier
                .check(event)
                .map_err(|reason| VerifyError::Broken { position: verifier.head().position + 1, reason })?;
        }
        progress(verifier.head().position);
    }
    Ok(verifier.head())
}
