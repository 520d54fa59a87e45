#![allow(missing_debug_implementations)] // GraphQL object types; their fields are the documentation.
//! Persons (contact people, the people behind tokens): their values are read through the
//! engine, which opens them with the person's key; an erased person reads as `[gelöscht]`.

use async_graphql::{Context, Object, ID};
use engine::persons::{ERASED_TEXT, UNAVAILABLE_TEXT};
use engine::{PersonRecord, Personal};

use crate::state::{caller, engine_error, state};

/// What a token sees of an actor that is a person it may not read.
pub const NOT_SHARED_TEXT: &str = "[nicht freigegeben]";

/// A registered person: name, function, administration, e-mail, phone. The values are kept
/// encrypted with a key of the person's own; `erasePerson` destroys it, and from then on every
/// read shows `[gelöscht]` while the history keeps who did what when.
pub struct Person {
    record: PersonRecord,
    values: Personal,
}

impl Person {
    /// The person with `id` as the caller may see it: `None` when there is none or the caller
    /// may not read it.
    pub(crate) async fn visible(ctx: &Context<'_>, id: uuid::Uuid) -> async_graphql::Result<Option<Person>> {
        let c = caller(ctx)?;
        let engine = &state(ctx).engine;
        let Some(record) = engine.persons().get(id) else { return Ok(None) };
        if !c.may_read_person(id, &record.ars) {
            return Ok(None);
        }
        let values = engine.person_details(id).await.map_err(engine_error)?.unwrap_or(Personal::Unavailable);
        Ok(Some(Person { record, values }))
    }

    pub(crate) async fn of(ctx: &Context<'_>, record: PersonRecord) -> async_graphql::Result<Person> {
        let values = state(ctx)
            .engine
            .person_details(record.id)
            .await
            .map_err(engine_error)?
            .unwrap_or(Personal::Unavailable);
        Ok(Person { record, values })
    }

    fn readable(&self) -> Option<&engine::PersonDetails> {
        match &self.values {
            Personal::Readable(d) => Some(d),
            _ => None,
        }
    }
}

/// A registered person. `name` is `[gelöscht]` once erased and `[nicht verfügbar]` when this
/// store has no key for it (a log imported without its keys file); the other values are then
/// null.
#[Object]
impl Person {
    /// The person's id: what `person` evidence fields and tokens refer to.
    async fn id(&self) -> ID {
        ID(self.record.id.to_string())
    }
    /// The ARS of the administration the person works for.
    async fn ars(&self) -> &str {
        &self.record.ars
    }
    /// The name; `[gelöscht]` once erased, `[nicht verfügbar]` without its key.
    async fn name(&self) -> &str {
        match &self.values {
            Personal::Readable(d) => &d.name,
            Personal::Erased => ERASED_TEXT,
            Personal::Unavailable => UNAVAILABLE_TEXT,
        }
    }
    /// The function or role, e.g. "Sachgebietsleitung Bürgerservice".
    async fn function(&self) -> Option<&str> {
        self.readable().and_then(|d| d.function.as_deref())
    }
    /// The e-mail address.
    async fn email(&self) -> Option<&str> {
        self.readable().and_then(|d| d.email.as_deref())
    }
    /// The phone number.
    async fn phone(&self) -> Option<&str> {
        self.readable().and_then(|d| d.phone.as_deref())
    }
    /// Whether the person is erased (`erasePerson`, or the retention policy).
    async fn erased(&self) -> bool {
        self.record.erased.is_some()
    }
    /// When the person was erased (RFC 3339).
    async fn erased_at(&self) -> Option<String> {
        self.record.erased.as_ref().map(|e| e.at.to_string())
    }
    /// Why the person was erased (the data protection officer's request, or the rule).
    async fn erasure_reason(&self) -> Option<&str> {
        self.record.erased.as_ref().map(|e| e.reason.as_str())
    }
    /// The day the person left the administration (`YYYY-MM-DD`): the retention clock starts.
    async fn left_on(&self) -> Option<&str> {
        self.record.left_on.as_deref()
    }
    /// When the person was registered (RFC 3339).
    async fn registered_at(&self) -> String {
        self.record.registered_at.to_string()
    }
    /// The services the person agreed to be named as a network contact for (`giveContactConsent`).
    async fn contact_consents(&self) -> Vec<&str> {
        self.record
            .consents
            .iter()
            .filter(|k| *k != engine::persons::ALL_SERVICES)
            .map(String::as_str)
            .collect()
    }
    /// The person agreed to be named as a network contact for every service.
    async fn contact_consent_all_services(&self) -> bool {
        self.record.consents.contains(engine::persons::ALL_SERVICES)
    }
}

/// An actor: who recorded an event.
pub struct ActorInfo(pub(crate) store::Actor);

impl ActorInfo {
    pub(crate) fn of(a: &store::Actor) -> ActorInfo {
        ActorInfo(a.clone())
    }
}

/// Who recorded an event: a token (`token:<id>`), the system, or an automation. A token that
/// names its person records the person's id, never a name: `name` is then read from the person
/// (`[gelöscht]` once erased; `[nicht freigegeben]` for a token that may not read the person).
#[Object]
impl ActorInfo {
    /// `token:<id>`, `system`, ...
    async fn id(&self) -> &str {
        &self.0.id
    }
    /// Display name.
    async fn name(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        let Some(id) = self.0.person else { return Ok(self.0.name.clone()) };
        Ok(match Person::visible(ctx, id).await? {
            Some(p) => match p.values {
                Personal::Readable(d) => d.name,
                Personal::Erased => ERASED_TEXT.into(),
                Personal::Unavailable => UNAVAILABLE_TEXT.into(),
            },
            None => {
                let engine = &state(ctx).engine;
                match engine.persons().get(id) {
                    Some(p) if p.erased.is_some() => ERASED_TEXT.into(),
                    // Who acted on a rollout the caller reads (the association's staff on a member's
                    // form-server rollout): the name, never the contact details.
                    Some(p) if caller(ctx)?.may_see_actor_of(&p.ars) => {
                        match engine.person_details(id).await.map_err(engine_error)? {
                            Some(Personal::Readable(d)) => d.name,
                            Some(Personal::Erased) => ERASED_TEXT.into(),
                            _ => UNAVAILABLE_TEXT.into(),
                        }
                    }
                    _ => NOT_SHARED_TEXT.into(),
                }
            }
        })
    }
    /// `person`, `automation` or `system`.
    async fn kind(&self) -> &str {
        match self.0.kind {
            store::ActorKind::Person => "person",
            store::ActorKind::Automation => "automation",
            store::ActorKind::System => "system",
        }
    }
    /// The registered person behind the token, when the caller may read it.
    async fn person(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Person>> {
        match self.0.person {
            Some(id) => Person::visible(ctx, id).await,
            None => Ok(None),
        }
    }
}
