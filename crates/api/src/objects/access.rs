#![allow(missing_debug_implementations)] // GraphQL object types; their fields are the documentation.
//! Who has which access, from which sign-in, and their sessions: `sessions(personId)`,
//! `access`, `revokeSession`. Sessions live beside the log (`app::sessions`); their end is an
//! event (`SessionEnded`) every server follows.

use async_graphql::{Context, Object, SimpleObject, ID};

use crate::state::{coded, gate, invocation, state};
use app::Caller;

/// A sign-in session of a person.
#[derive(SimpleObject)]
pub struct SignInSession {
    /// Its id, `<personId>:<sessionId>` (not its secret, which only the browser's cookie
    /// holds): what `revokeSession` takes.
    id: ID,
    /// The issuer the person signed in with.
    issuer: String,
    /// The role it was signed in with.
    role: String,
    /// The administrations (ARS) it was signed in with.
    administrations: Vec<String>,
    /// Signed in (RFC 3339).
    started: String,
    /// Last request, to the minute (RFC 3339).
    last_seen: String,
    /// Ends at the latest (RFC 3339).
    expires: String,
    /// Signed out or revoked (RFC 3339), if it was.
    ended: Option<String>,
    /// Usable now: not ended, not expired, not idle too long.
    live: bool,
}

impl SignInSession {
    fn of(s: &app::sessions::Session, now: store::Timestamp) -> SignInSession {
        SignInSession {
            id: ID(format!("{}:{}", s.person, s.id)),
            issuer: s.issuer.clone(),
            role: s.access.role.name().into(),
            administrations: s.access.authorities.clone(),
            started: s.started.to_string(),
            last_seen: s.last_seen.to_string(),
            expires: s.expires.to_string(),
            ended: s.ended.map(|t| t.to_string()),
            live: s.is_live(now),
        }
    }
}

/// A person's access as the issuer's mapping last gave it.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct PersonAccess {
    #[graphql(skip)]
    person_id: uuid::Uuid,
    /// `project-manager`, `authority-staff`, …
    role: String,
    /// The administrations (ARS) it acts for.
    administrations: Vec<String>,
    /// The issuer whose mapping gave it.
    issuer: String,
    /// Since when (RFC 3339): the event that recorded it.
    since: String,
}

#[async_graphql::ComplexObject]
impl PersonAccess {
    /// The person (null when the caller may not read it).
    async fn person(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<crate::objects::person::Person>> {
        crate::objects::person::Person::visible(ctx, self.person_id).await
    }

    /// The last sign-in (RFC 3339), as long as its session is kept (90 days after its end).
    async fn last_sign_in(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<String>> {
        let sessions = sessions_of(ctx, self.person_id).await?;
        Ok(sessions.first().map(|s| s.started.to_string()))
    }

    /// Its sessions kept, newest first.
    async fn sessions(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<SignInSession>> {
        let now = state(ctx).engine.now();
        Ok(sessions_of(ctx, self.person_id).await?.iter().map(|s| SignInSession::of(s, now)).collect())
    }
}

fn signin<'a>(ctx: &'a Context<'_>) -> async_graphql::Result<&'a crate::state::SignInState> {
    state(ctx).signin.as_deref().ok_or_else(|| {
        coded(
            "NOT_CONFIGURED",
            "Die Anmeldung über einen Anmeldedienst ist auf diesem Server nicht eingerichtet.",
        )
    })
}

async fn sessions_of(
    ctx: &Context<'_>,
    person: uuid::Uuid,
) -> async_graphql::Result<Vec<app::sessions::Session>> {
    signin(ctx)?.sessions.of_person(person).await.map_err(|e| coded("UNAVAILABLE", e.to_string()))
}

#[derive(Default, Debug)]
pub struct AccessQuery;

#[Object]
impl AccessQuery {
    /// The sign-in sessions of a person, newest first (live, ended and expired ones kept 90
    /// days): for project managers and admins, and for the person.
    async fn sessions(&self, ctx: &Context<'_>, person_id: ID) -> async_graphql::Result<Vec<SignInSession>> {
        let person = crate::state::person_id(&person_id)?;
        gate(
            ctx,
            |c| c.may_manage_sessions_of(person),
            || "Nur die Projektleitung und die Person selbst sehen Sitzungen.".into(),
        )?;
        let now = state(ctx).engine.now();
        Ok(sessions_of(ctx, person).await?.iter().map(|s| SignInSession::of(s, now)).collect())
    }

    /// Who signed in with which access, from which issuer (the persons' access as last
    /// recorded), for project managers and admins; ordered by role, then since.
    async fn access(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<PersonAccess>> {
        gate(ctx, Caller::may_oversee_access, || "Nur die Projektleitung sieht die Zugänge.".into())?;
        let mut list = state(ctx).engine.logins().all_access();
        list.sort_by(|(_, a), (_, b)| {
            a.access.role.name().cmp(b.access.role.name()).then(a.since.cmp(&b.since))
        });
        Ok(list
            .into_iter()
            .map(|(person_id, g)| PersonAccess {
                person_id,
                role: g.access.role.name().into(),
                administrations: g.access.authorities,
                issuer: g.issuer,
                since: g.since.to_string(),
            })
            .collect())
    }
}

#[derive(Default, Debug)]
pub struct AccessMutation;

#[Object]
impl AccessMutation {
    /// Ends a sign-in session at once, on every server (`SessionEnded`, with the caller and the
    /// reason): project managers and admins for anyone, a person for their own. `id`: the
    /// session's id from `sessions` or `access`. True when it was live.
    async fn revoke_session(&self, ctx: &Context<'_>, id: ID, reason: String) -> async_graphql::Result<bool> {
        let parsed = id
            .split_once(':')
            .and_then(|(p, s)| Some((uuid::Uuid::try_parse(p).ok()?, uuid::Uuid::try_parse(s).ok()?)));
        let Some((person, session)) = parsed else {
            return Err(coded(
                "BAD_USER_INPUT",
                format!("id: {:?} ist keine Sitzungs-ID (<personId>:<sessionId>)", id.as_str()),
            ));
        };
        let c = gate(
            ctx,
            |c| c.may_manage_sessions_of(person),
            || "Nur die Projektleitung und die Person selbst beenden Sitzungen.".into(),
        )?;
        if !vocab::text::has_visible(&reason) {
            return Err(coded("BAD_USER_INPUT", "reason: Bitte einen Grund angeben."));
        }
        let engine = &state(ctx).engine;
        let req = invocation(ctx, c);
        let ended =
            app::sessions::end_session(engine, &signin(ctx)?.sessions, person, session, reason.trim(), &req)
                .await
                .map_err(|e| coded("UNAVAILABLE", e))?;
        let Some(before) = ended else {
            return Err(coded("NOT_FOUND", format!("Die Person hat keine Sitzung {session}.")));
        };
        let was_live = before.ended.is_none() && before.expires > engine.now();
        Ok(was_live)
    }
}
