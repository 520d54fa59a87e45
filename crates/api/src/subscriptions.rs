#![allow(missing_debug_implementations)] // GraphQL object types; their fields are the documentation.
//! Subscriptions over WebSocket (`graphql-transport-ws`): the event feed automation follows
//! (catch-up from a position, then live, no gap, no duplicate), and one rollout's changes.

use async_graphql::futures_util::stream::{self, Stream};
use async_graphql::{Context, Subscription, ID};

use crate::objects::event::{Event, EventFilter};
use crate::state::{caller, coded, state, take_slot};
use app::Caller;

/// Which events a subscriber gets; the scope rules of the `events` query apply.
fn matches(c: &Caller, f: &EventFilter, stream_id: &str, e: &store::RecordedEvent) -> bool {
    // A rollout's stream or its questions' stream: whoever may read the rollout.
    let (service, ars) = match workflow::rollout::rollout_of_stream(stream_id) {
        Some((s, a)) => (Some(s), Some(a)),
        None => (None, None),
    };
    c.may_see_event(service, ars) && f.accepts(service, ars, e)
}

pub struct SubscriptionRoot;

/// The network of a service changed at a log position (what changed is not said).
#[derive(async_graphql::SimpleObject)]
pub struct NetworkChange {
    /// The service.
    service_key: String,
    /// The event's log position.
    position: u64,
}

/// What can be followed live.
#[Subscription]
impl SubscriptionRoot {
    /// The event feed: every event after `afterPosition` (0: from the start) that matches the
    /// filter, first from the log, then live — no gap, no duplicate, in log order.
    /// Authority-staff and automation tokens get only the events of their scope.
    async fn events(
        &self,
        ctx: &Context<'_>,
        filter: Option<EventFilter>,
        #[graphql(default = 0)] after_position: u64,
    ) -> async_graphql::Result<impl Stream<Item = Event>> {
        let p = caller(ctx)?.clone();
        let s = state(ctx);
        let slot = take_slot(&s.open, p.token_id)?;
        let filter = filter.unwrap_or_default();
        let sub = store::subscribe(s.engine.store().clone(), after_position + 1);
        Ok(stream::unfold((sub, slot, p, filter), |(mut sub, slot, p, filter)| async move {
            loop {
                match sub.next().await {
                    Ok(Some(e)) => {
                        if matches(&p, &filter, &e.stream_id, &e) {
                            return Some((Event(e), (sub, slot, p, filter)));
                        }
                    }
                    Ok(None) => return None,
                    Err(err) => {
                        tracing::error!(error = %err, "a subscription stopped");
                        return None;
                    }
                }
            }
        }))
    }

    /// The OZG network of a service changed: a rollout of it moved (started, a step, blocked,
    /// in operation…) or a consent, person or back-office system changed. Every signed-in token
    /// may follow it; it says only the service and the log position, never what changed — read
    /// `peers` again.
    async fn network_changed(
        &self,
        ctx: &Context<'_>,
        service_key: String,
        #[graphql(default = 0)] after_position: u64,
    ) -> async_graphql::Result<impl Stream<Item = NetworkChange>> {
        let p = crate::state::network_reader(ctx)?.clone();
        let s = state(ctx);
        let slot = take_slot(&s.open, p.token_id)?;
        let sub = store::subscribe(s.engine.store().clone(), after_position + 1);
        Ok(stream::unfold((sub, slot, service_key), |(mut sub, slot, key)| async move {
            loop {
                match sub.next().await {
                    Ok(Some(e)) => {
                        let of_service =
                            workflow::rollout::rollout_of_stream(&e.stream_id).is_some_and(|(service, _)| {
                                service == key && e.stream_id.starts_with(vocab::names::ROLLOUT_STREAM_PREFIX)
                            });
                        let network = e.stream_id.starts_with(vocab::names::PERSON_STREAM_PREFIX)
                            || e.event_type == vocab::names::BACK_OFFICE_SYSTEM_SET;
                        if of_service || network {
                            let change = NetworkChange { service_key: key.clone(), position: e.position };
                            return Some((change, (sub, slot, key)));
                        }
                    }
                    Ok(None) => return None,
                    Err(err) => {
                        tracing::error!(error = %err, "a subscription stopped");
                        return None;
                    }
                }
            }
        }))
    }

    /// The events of one rollout as they happen (`"<serviceKey>:<ars>"`), from `afterPosition`,
    /// and those of its questions (`QuestionAsked`, `QuestionAnswered`, …).
    async fn rollout_changed(
        &self,
        ctx: &Context<'_>,
        id: ID,
        #[graphql(default = 0)] after_position: u64,
    ) -> async_graphql::Result<impl Stream<Item = Event>> {
        let p = caller(ctx)?;
        let (service, ars) = id
            .split_once(':')
            .ok_or_else(|| coded("BAD_USER_INPUT", format!("`{}` is not a rollout id", id.as_str())))?;
        if !p.may_read_rollout(service, ars) {
            return Err(coded("FORBIDDEN", "this token may not access that rollout"));
        }
        let filter = EventFilter::for_rollout(&id);
        self.events(ctx, Some(filter), after_position).await
    }
}
