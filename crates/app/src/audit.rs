//! The audit log as a caller may read it: a page of events a filter selects, answered from the
//! audit index (never a scan of the log), within the caller's scope — staff, the association's
//! staff and automation must name their rollout, administration or service.

use engine::Engine;
use projections::{AuditFilter, Projector};
use store::{RecordedEvent, Timestamp};

use crate::caller::{AuditRefusal, Caller};

/// Which events.
#[derive(Clone, Debug, Default)]
pub struct AuditQuery {
    /// One rollout: (service key, ARS).
    pub rollout: Option<(String, String)>,
    pub service_key: Option<String>,
    pub ars: Option<String>,
    /// An actor's id.
    pub actor: Option<String>,
    /// Only these stored type names (none: every type).
    pub types: Vec<String>,
    pub from: Option<Timestamp>,
    pub until: Option<Timestamp>,
}

/// One page of the audit log.
#[derive(Debug)]
pub struct AuditPage {
    pub events: Vec<RecordedEvent>,
    pub has_next_page: bool,
}

/// Why there is no page.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("{}", .0.message())]
    Refused(AuditRefusal),
    #[error("reading an audit page failed: {0}")]
    Store(String),
}

/// The events `q` selects that `c` may read, in log order, after position `after`, at most
/// `first`.
pub async fn audit_page(
    engine: &Engine,
    projector: &Projector,
    c: &Caller,
    q: AuditQuery,
    after: u64,
    first: usize,
) -> Result<AuditPage, AuditError> {
    let (mut service, mut ars) = (q.service_key, q.ars);
    let stream = q.rollout.map(|(sk, a)| {
        let stream = workflow::rollout::stream_id(&sk, &a);
        service.get_or_insert(sk);
        ars.get_or_insert(a);
        stream
    });
    c.audit_scope(service.as_deref(), ars.as_deref()).map_err(AuditError::Refused)?;
    let filter = AuditFilter {
        actor: q.actor,
        stream,
        service,
        authority: ars,
        types: q.types,
        from: q.from,
        until: q.until,
    };
    let positions = projector.read(|m| m.audit(&filter, after, first + 1));
    let has_next_page = positions.len() > first;
    let events = projections::events_at(&**engine.store(), &positions[..positions.len().min(first)])
        .await
        .map_err(|e| AuditError::Store(e.to_string()))?;
    Ok(AuditPage { events, has_next_page })
}
