#![allow(missing_debug_implementations)] // GraphQL object types; their fields are the documentation.
//! Events of the audit log: the `Event` object, who caused it, and `events` pages answered from
//! the audit index.

use async_graphql::{Context, InputObject, Object, ID};
use store::{RecordedEvent, Timestamp};

use crate::connection::{connection, PageInfo};
use crate::state::{coded, internal, position_arg, state, time_arg};
use app::Caller;

/// An event of the audit log.
pub struct Event(pub(crate) RecordedEvent);

/// An event of the log: who changed what, when, and its place in the hash chain.
#[Object]
impl Event {
    /// Global position in the log.
    async fn position(&self) -> u64 {
        self.0.position
    }
    /// The stream it belongs to.
    async fn stream_id(&self) -> &str {
        &self.0.stream_id
    }
    /// Version within its stream.
    async fn version(&self) -> u64 {
        self.0.version
    }
    /// The stored event type, e.g. `StepCompleted`.
    #[graphql(name = "type")]
    async fn event_type(&self) -> &str {
        &self.0.event_type
    }
    /// When it was recorded (RFC 3339).
    async fn recorded_at(&self) -> String {
        self.0.recorded_at.to_string()
    }
    /// Who caused it.
    async fn actor(&self) -> ActorInfo {
        ActorInfo::of(&self.0.actor)
    }
    /// The payload.
    #[graphql(complexity = "crate::limits::EVENT_DATA_COST")]
    async fn data(&self) -> async_graphql::Json<serde_json::Value> {
        async_graphql::Json(self.0.data.to_value().unwrap_or_default())
    }
    /// Ties together the events of one request.
    async fn correlation_id(&self) -> String {
        self.0.correlation_id.to_string()
    }
    /// Its hash in the chain (hex).
    async fn hash(&self) -> String {
        self.0.hash.to_string()
    }
}

pub use crate::objects::person::ActorInfo;

/// Which events of the audit log. Authority-staff tokens must name an administration of
/// theirs (`ars` or `rolloutId`), automation tokens a service of theirs.
#[derive(InputObject, Default)]
pub struct EventFilter {
    /// Only the events of this rollout (`"<serviceKey>:<ars>"`).
    rollout_id: Option<ID>,
    /// Only events by this actor (`token:<id>`, `system`, ...).
    actor: Option<String>,
    /// Only these event types, e.g. `["StepCompleted"]`.
    types: Option<Vec<String>>,
    /// Only events about this service.
    service_key: Option<String>,
    /// Only events about this administration.
    ars: Option<String>,
    /// Recorded at or after this time (RFC 3339).
    from: Option<String>,
    /// Recorded at or before this time (RFC 3339).
    until: Option<String>,
    /// With `rolloutId`: also the events of its questions (`rolloutChanged`).
    #[graphql(skip)]
    with_questions: bool,
}

impl EventFilter {
    /// The events of a rollout and of its questions.
    pub(crate) fn for_rollout(id: &ID) -> EventFilter {
        EventFilter { rollout_id: Some(id.clone()), with_questions: true, ..Default::default() }
    }

    /// Whether a live event matches (service and ARS of its stream, when it is a rollout's).
    pub(crate) fn accepts(&self, service: Option<&str>, ars: Option<&str>, e: &RecordedEvent) -> bool {
        let rollout_ok = self.rollout_id.as_ref().is_none_or(|id| {
            let own = e.stream_id.strip_prefix(vocab::names::ROLLOUT_STREAM_PREFIX) == Some(id.as_str());
            let questions =
                e.stream_id.strip_prefix(workflow::rollout::QUESTION_STREAM_PREFIX) == Some(id.as_str());
            own || (self.with_questions && questions)
        });
        let actor_ok = self.actor.as_ref().is_none_or(|a| &e.actor.id == a);
        let type_ok =
            self.types.as_ref().is_none_or(|t| t.is_empty() || t.iter().any(|t| t == &e.event_type));
        let service_ok = self.service_key.as_ref().is_none_or(|k| service == Some(k.as_str()));
        let ars_ok = self.ars.as_ref().is_none_or(|a| ars == Some(a.as_str()));
        let from_ok =
            self.from.as_ref().and_then(|f| f.parse::<Timestamp>().ok()).is_none_or(|f| e.recorded_at >= f);
        let until_ok =
            self.until.as_ref().and_then(|u| u.parse::<Timestamp>().ok()).is_none_or(|u| e.recorded_at <= u);
        rollout_ok && actor_ok && type_ok && service_ok && ars_ok && from_ok && until_ok
    }
}

connection!(
    EventConnection,
    EventEdge,
    Event,
    "A page of events, in log order.",
    "An event and its cursor (its position).",
    "The event's position.",
    "The event."
);

/// A page of the audit log for `c`: positions from the audit index, then those events.
pub(crate) async fn events_page(
    ctx: &Context<'_>,
    c: &Caller,
    filter: EventFilter,
    first: usize,
    after: Option<String>,
) -> async_graphql::Result<EventConnection> {
    let rollout = match &filter.rollout_id {
        Some(id) => {
            let (sk, a) = id
                .split_once(':')
                .ok_or_else(|| coded("BAD_USER_INPUT", format!("`{}` is not a rollout id", id.as_str())))?;
            Some((sk.to_owned(), a.to_owned()))
        }
        None => None,
    };
    let query = app::audit::AuditQuery {
        rollout,
        service_key: filter.service_key.clone(),
        ars: filter.ars.clone(),
        actor: filter.actor.clone(),
        types: filter.types.clone().unwrap_or_default(),
        from: time_arg(filter.from.as_deref(), "from")?,
        until: time_arg(filter.until.as_deref(), "until")?,
    };
    let after = position_arg(after.as_deref())?.unwrap_or(0);
    let s = state(ctx);
    let page = app::audit::audit_page(&s.engine, &s.projector, c, query, after, first).await.map_err(
        |e| match e {
            app::audit::AuditError::Refused(r) => coded("FORBIDDEN", r.message()),
            app::audit::AuditError::Store(cause) => internal("reading an audit page failed", cause),
        },
    )?;
    let (events, has_next_page) = (page.events, page.has_next_page);
    let edges: Vec<EventEdge> =
        events.into_iter().map(|e| EventEdge { cursor: e.position.to_string(), node: Event(e) }).collect();
    let end_cursor = edges.last().map(|e| e.cursor.clone());
    Ok(EventConnection { edges, page_info: PageInfo { has_next_page, end_cursor } })
}
