#![allow(missing_debug_implementations)] // GraphQL object types; their fields are the documentation.
//! What can be changed: the mutation root and its inputs. Every mutation parses its input,
//! checks the caller's scope and calls the engine once; the answer is the engine's outcome.

use std::sync::Arc;

use async_graphql::{Context, InputObject, Object, SimpleObject, ID};
use engine::{Outcome, TokenRole, TokenSpec};
use workflow::decide::Command;

use crate::objects::event::Event;
use crate::objects::person::Person;
pub(crate) use crate::objects::rollout::BlockCategory;
use crate::objects::rollout::Rollout;
use crate::state::{caller, check_scope, coded, engine_error, split_id, state, writer};
pub(crate) use crate::state::{invocation, person_id, remember_head};
use app::Caller;

/// What every command on an existing rollout may carry: the version the caller saw, and a key
/// that makes a repeat harmless.
#[derive(InputObject, Default)]
pub struct Guard {
    /// The rollout version you saw; a different one is a `CONFLICT` naming the current one.
    /// Without it the command acts on the current state: a change by someone else meanwhile
    /// never makes it fail with `CONFLICT`.
    expected_version: Option<u64>,
    /// A key of yours: repeating the mutation with it returns the first result and appends nothing.
    idempotency_key: Option<String>,
}

/// The rollout after a change, and the events the change appended.
#[derive(SimpleObject)]
pub struct RolloutPayload {
    /// The rollout after the change.
    rollout: Rollout,
    /// The events appended (for a repeat with the same idempotency key: the first ones).
    events: Vec<Event>,
}

/// The mutation's answer; the caller's next operation sees its events in the read models too.
fn payload(ctx: &Context<'_>, outcome: Outcome) -> RolloutPayload {
    if let (Ok(c), Some(last)) = (caller(ctx), outcome.events.last()) {
        state(ctx).written.record(c.token_id, last.position);
    }
    RolloutPayload {
        rollout: Rollout::new(Arc::new(outcome.rollout)),
        events: outcome.events.into_iter().map(Event).collect(),
    }
}

/// Start one rollout.
#[derive(InputObject)]
pub struct StartRolloutInput {
    /// The service key, e.g. `wohngeld`.
    service_key: String,
    /// The administration's ARS.
    ars: String,
}

/// Complete a step with its evidence.
#[derive(InputObject)]
pub struct CompleteStepInput {
    /// `"<serviceKey>:<ars>"`.
    rollout_id: ID,
    /// Step id of the definition.
    step_id: String,
    /// Evidence: field id → value (an object).
    evidence: async_graphql::Json<serde_json::Value>,
    #[graphql(flatten)]
    guard: Guard,
    /// A comment for the history.
    comment: Option<String>,
}

/// A command on one step.
#[derive(InputObject)]
pub struct StepCommandInput {
    /// `"<serviceKey>:<ars>"`.
    rollout_id: ID,
    /// Step id of the definition.
    step_id: String,
    /// Why: required to reopen a step or mark it not required; a comment when confirming.
    reason: Option<String>,
    #[graphql(flatten)]
    guard: Guard,
}

/// A command on a whole rollout.
#[derive(InputObject)]
pub struct RolloutCommandInput {
    /// `"<serviceKey>:<ars>"`.
    rollout_id: ID,
    /// Why (block, unblock, cancel), or the comment's text (addComment).
    reason: String,
    /// For addComment: the step it is about; for blockRollout: the step the blockage holds up.
    step_id: Option<String>,
    /// For blockRollout: what the blockage is about.
    category: Option<BlockCategory>,
    /// For blockRollout: the vendor of the back-office system or product that blocks it
    /// ("Hersteller X"); managers see blockages grouped by it.
    vendor: Option<String>,
    /// For unblockRollout: how it was solved (a work note, no personal data); the network's
    /// `solutions` search finds it.
    solution: Option<String>,
    /// For unblockRollout with a solution: the network may name this administration beside
    /// it (its staff agree); default no.
    share_name: Option<bool>,
    #[graphql(flatten)]
    guard: Guard,
}

/// Assign a rollout to someone (or nobody).
#[derive(InputObject)]
pub struct AssignInput {
    /// `"<serviceKey>:<ars>"`.
    rollout_id: ID,
    /// Who is responsible; empty or absent: nobody.
    assignee: Option<String>,
    /// Why (kept in the rollout's history).
    reason: String,
    #[graphql(flatten)]
    guard: Guard,
}

/// Set a step's due date by hand.
#[derive(InputObject)]
pub struct SetDueDateInput {
    /// `"<serviceKey>:<ars>"`.
    rollout_id: ID,
    /// Step id of the definition.
    step_id: String,
    /// The due date (RFC 3339, e.g. `2026-12-31T23:59:59Z`).
    due_at: String,
    /// Why.
    reason: String,
    #[graphql(flatten)]
    guard: Guard,
}

/// Move a rollout to a newer version of its workflow definition, or to another definition of
/// the same scope (a service's variant).
#[derive(InputObject)]
pub struct MigrateRolloutInput {
    /// `"<serviceKey>:<ars>"`.
    rollout_id: ID,
    /// The definition to move to; without it, the one the rollout runs.
    definition_id: Option<String>,
    /// The version to move to (newer than the rollout's when the definition is the same).
    definition_version: u32,
    /// Why (kept with the event).
    reason: Option<String>,
    /// Old step id → new step id, for steps that were renamed (steps that keep their id map to
    /// themselves). A step with progress and no counterpart is refused.
    #[graphql(default)]
    step_mapping: Vec<StepMapping>,
    #[graphql(flatten)]
    guard: Guard,
}

/// One renamed step.
#[derive(InputObject)]
pub struct StepMapping {
    /// The step id in the old version.
    pub(crate) from: String,
    /// The step id in the new version.
    pub(crate) to: String,
}

/// What starting a service's rollout everywhere did.
#[derive(SimpleObject)]
pub struct StartServicePayload {
    /// Rollouts started now.
    started: Vec<ID>,
    /// Rollouts that existed already (left alone).
    existing: u64,
}

/// Issue an API token (admin only).
#[derive(InputObject)]
pub struct IssueTokenInput {
    /// A name that says whose it is.
    name: String,
    /// `admin`, `project-manager`, `authority-staff`, `automation` or `auditor`.
    role: String,
    /// For `authority-staff`: the ARS keys it may act for.
    #[graphql(default)]
    authorities: Vec<String>,
    /// For `automation`: the service keys it may act for.
    #[graphql(default)]
    services: Vec<String>,
    /// The registered person the token belongs to (`registerPerson`): its events then name the
    /// person by id and show the person's name, which `erasePerson` erases; the token's own
    /// `name` stays a label (do not put a person's name there).
    person_id: Option<ID>,
    /// Why it is issued (kept in the audit log, e.g. "Zugang für die Anbindung Wohngeld").
    reason: String,
}

/// Register a person (a contact, or the person behind a token).
#[derive(InputObject)]
pub struct RegisterPersonInput {
    /// The ARS of the administration the person works for.
    ars: String,
    /// The person's name (1 to 200 characters).
    name: String,
    /// The function or role, e.g. "Sachgebietsleitung Bürgerservice".
    function: Option<String>,
    /// The person's e-mail address.
    email: Option<String>,
    /// The person's phone number (digits, spaces, `+ - / ( )`).
    phone: Option<String>,
}

/// Record that a person left the administration: the retention period starts.
#[derive(InputObject)]
pub struct RecordPersonLeftInput {
    /// The person's id.
    person_id: ID,
    /// The last day (`YYYY-MM-DD`).
    left_on: String,
    /// Why (kept in the log; put no personal data here).
    reason: String,
}

/// Erase a person (GDPR Art. 17).
#[derive(InputObject)]
pub struct ErasePersonInput {
    /// The person's id.
    person_id: ID,
    /// Why: the request or rule (kept in the log; put no personal data here).
    reason: String,
}

/// A newly issued token. The secret is shown only here.
#[derive(SimpleObject)]
pub struct IssuedToken {
    /// The token id (its actor id is `token:<id>`).
    id: ID,
    /// The bearer secret. Shown once.
    token: String,
    /// Its role.
    role: String,
}

/// The mutations on rollouts, services' rollouts and tokens (part of `Mutation`).
#[derive(Default, Debug)]
pub struct RolloutMutation;

/// Runs one engine command on a rollout for the caller, with its expected version and
/// idempotency key (scoped to the caller, the mutation and the rollout).
async fn run(
    ctx: &Context<'_>,
    mutation: &str,
    rollout_id: &ID,
    guard: Guard,
    command: Command,
) -> async_graphql::Result<RolloutPayload> {
    let c = writer(ctx)?;
    let (service, ars) = split_id(rollout_id)?;
    check_scope(c, service, ars)?;
    // Automation works on steps (the definition says which are automatable) and may comment;
    // it does not block, cancel, assign or set due dates.
    if !c.may_use_mutation(mutation) {
        return Err(coded("FORBIDDEN", format!("an automation token may not use {mutation}")));
    }
    let mut req = invocation(ctx, c);
    req.expected_version = guard.expected_version;
    req.idempotency_key = guard.idempotency_key.map(|k| format!("{mutation}:{}:{k}", rollout_id.as_str()));
    let outcome = state(ctx).engine.execute(service, ars, command, &req).await.map_err(engine_error)?;
    Ok(payload(ctx, outcome))
}

// The rollouts', tokens' and services' rollouts part of the mutation root (`schema::Mutation`
// describes them all).
#[Object]
impl RolloutMutation {
    /// Start the rollout of a service at one administration.
    async fn start_rollout(
        &self,
        ctx: &Context<'_>,
        input: StartRolloutInput,
    ) -> async_graphql::Result<RolloutPayload> {
        let c = writer(ctx)?;
        check_scope(c, &input.service_key, &input.ars)?;
        let s = state(ctx);
        let outcome = s
            .engine
            .start_rollout(&input.service_key, &input.ars, None, &invocation(ctx, c))
            .await
            .map_err(engine_error)?;
        Ok(payload(ctx, outcome))
    }

    /// Complete a step with evidence.
    async fn complete_step(
        &self,
        ctx: &Context<'_>,
        input: CompleteStepInput,
    ) -> async_graphql::Result<RolloutPayload> {
        let serde_json::Value::Object(map) = input.evidence.0 else {
            return Err(coded("BAD_USER_INPUT", "`evidence` must be an object of field id → value"));
        };
        let command = Command::CompleteStep {
            step: input.step_id,
            evidence: map.into_iter().collect(),
            comment: input.comment,
        };
        run(ctx, "completeStep", &input.rollout_id, input.guard, command).await
    }

    /// Start a step (mark it in progress).
    async fn start_step(
        &self,
        ctx: &Context<'_>,
        input: StepCommandInput,
    ) -> async_graphql::Result<RolloutPayload> {
        let command = Command::StartStep { step: input.step_id.clone() };
        run(ctx, "startStep", &input.rollout_id, input.guard, command).await
    }

    /// Confirm a four-eyes step someone else completed (`reason`: an optional comment).
    async fn confirm_step(
        &self,
        ctx: &Context<'_>,
        input: StepCommandInput,
    ) -> async_graphql::Result<RolloutPayload> {
        let command = Command::ConfirmStep { step: input.step_id.clone(), comment: input.reason };
        run(ctx, "confirmStep", &input.rollout_id, input.guard, command).await
    }

    /// Reopen a completed step, with a reason; the steps that depend on it are reopened too.
    async fn reopen_step(
        &self,
        ctx: &Context<'_>,
        input: StepCommandInput,
    ) -> async_graphql::Result<RolloutPayload> {
        let command =
            Command::ReopenStep { step: input.step_id.clone(), reason: input.reason.unwrap_or_default() };
        run(ctx, "reopenStep", &input.rollout_id, input.guard, command).await
    }

    /// Mark a skippable step as not required, with a reason.
    async fn mark_step_not_required(
        &self,
        ctx: &Context<'_>,
        input: StepCommandInput,
    ) -> async_graphql::Result<RolloutPayload> {
        let command = Command::MarkNotRequired {
            step: input.step_id.clone(),
            reason: input.reason.unwrap_or_default(),
        };
        run(ctx, "markStepNotRequired", &input.rollout_id, input.guard, command).await
    }

    /// Block a rollout, with a reason (and a `category`, the `vendor` and the `stepId` it holds
    /// up): no step changes until it is unblocked.
    async fn block_rollout(
        &self,
        ctx: &Context<'_>,
        input: RolloutCommandInput,
    ) -> async_graphql::Result<RolloutPayload> {
        let block = workflow::events::Blockage {
            category: input.category.map(|c| c.stored().to_owned()),
            vendor: input.vendor,
            step: input.step_id,
        };
        let command = Command::Block { reason: input.reason, block };
        run(ctx, "blockRollout", &input.rollout_id, input.guard, command).await
    }

    /// Unblock a rollout, with a reason (and how it was solved: `solution`, which the network's
    /// `solutions` search finds; `shareName`: this administration may be named beside it).
    async fn unblock_rollout(
        &self,
        ctx: &Context<'_>,
        input: RolloutCommandInput,
    ) -> async_graphql::Result<RolloutPayload> {
        let command = Command::Unblock {
            reason: input.reason,
            solution: input.solution,
            share_name: input.share_name.unwrap_or(false),
        };
        run(ctx, "unblockRollout", &input.rollout_id, input.guard, command).await
    }

    /// Add a comment to a rollout's history (`reason` is the text).
    async fn add_comment(
        &self,
        ctx: &Context<'_>,
        input: RolloutCommandInput,
    ) -> async_graphql::Result<RolloutPayload> {
        let command = Command::Comment { text: input.reason, step: input.step_id };
        run(ctx, "addComment", &input.rollout_id, input.guard, command).await
    }

    /// Cancel a rollout, with a reason (project managers and admins).
    async fn cancel_rollout(
        &self,
        ctx: &Context<'_>,
        input: RolloutCommandInput,
    ) -> async_graphql::Result<RolloutPayload> {
        let command = Command::Cancel { reason: input.reason };
        run(ctx, "cancelRollout", &input.rollout_id, input.guard, command).await
    }

    /// Assign a rollout to someone (or nobody), with a reason.
    async fn assign_rollout(
        &self,
        ctx: &Context<'_>,
        input: AssignInput,
    ) -> async_graphql::Result<RolloutPayload> {
        let command = Command::Assign { assignee: input.assignee, reason: input.reason };
        run(ctx, "assignRollout", &input.rollout_id, input.guard, command).await
    }

    /// Set a step's due date by hand (project managers and admins).
    async fn set_due_date(
        &self,
        ctx: &Context<'_>,
        input: SetDueDateInput,
    ) -> async_graphql::Result<RolloutPayload> {
        let due_at: vocab::Timestamp =
            input.due_at.parse().map_err(|e: String| coded("BAD_USER_INPUT", format!("`dueAt`: {e}")))?;
        let command = Command::SetDueDate { step: input.step_id.clone(), due_at, reason: input.reason };
        run(ctx, "setDueDate", &input.rollout_id, input.guard, command).await
    }

    /// Move a rollout to a newer version of its definition, or to another definition of the
    /// same scope, with a validated step mapping (project managers and admins). Recorded as an
    /// event (`DefinitionMigrated`).
    async fn migrate_rollout(
        &self,
        ctx: &Context<'_>,
        input: MigrateRolloutInput,
    ) -> async_graphql::Result<RolloutPayload> {
        let (service, ars) = split_id(&input.rollout_id)?;
        let s = state(ctx);
        // Scope first: a token learns nothing about rollouts outside it.
        check_scope(caller(ctx)?, service, ars)?;
        // From the log, not the read model: the caller's own recent writes count.
        let current =
            s.engine.load(service, ars).await.map_err(engine_error)?.map(|r| r.definition.id.clone());
        let Some(current) = current else {
            return Err(coded("NOT_FOUND", format!("there is no rollout `{}`", input.rollout_id.as_str())));
        };
        let to =
            catalog::DefinitionRef::new(input.definition_id.unwrap_or(current), input.definition_version);
        let definition = s.engine.definition(&to).await.map_err(engine_error)?;
        let facts = s.engine.facts(service, ars);
        let mapping = input.step_mapping.into_iter().map(|m| (m.from, m.to)).collect();
        let command = Command::Migrate { definition, mapping, facts, reason: input.reason };
        run(ctx, "migrateRollout", &input.rollout_id, input.guard, command).await
    }

    /// Start the rollout of a service for every administration it applies to (and its
    /// Land-level rollout); existing rollouts are left alone, so repeating it changes nothing.
    async fn start_service_rollout(
        &self,
        ctx: &Context<'_>,
        service_key: String,
    ) -> async_graphql::Result<StartServicePayload> {
        let c = writer(ctx)?;
        // The association starts its own assistants (its scope holds the form server's services).
        if !c.may_start_service(&service_key) {
            return Err(coded(
                "FORBIDDEN",
                "starting a service's rollout needs a project manager or admin token (or the association's, for a form-server assistant)",
            ));
        }
        let summary =
            state(ctx).engine.start_service(&service_key, &invocation(ctx, c)).await.map_err(engine_error)?;
        remember_head(ctx).await;
        Ok(StartServicePayload {
            started: summary.started.iter().map(|ars| ID(format!("{service_key}:{ars}"))).collect(),
            existing: summary.existing.len() as u64,
        })
    }

    /// Revoke a token (admin only); it is refused from then on.
    async fn revoke_token(&self, ctx: &Context<'_>, id: ID, reason: String) -> async_graphql::Result<bool> {
        let c = admin(ctx, "revoke tokens")?;
        let token_id = uuid::Uuid::try_parse(&id)
            .map_err(|_| coded("BAD_USER_INPUT", format!("`{}` is not a token id", id.as_str())))?;
        let event = state(ctx)
            .engine
            .revoke_token(token_id, &reason, &invocation(ctx, c))
            .await
            .map_err(engine_error)?;
        state(ctx).written.record(c.token_id, event.position);
        Ok(true)
    }

    /// Issue an API token (admin only). The secret is in the answer and nowhere else.
    async fn issue_token(
        &self,
        ctx: &Context<'_>,
        input: IssueTokenInput,
    ) -> async_graphql::Result<IssuedToken> {
        let c = admin(ctx, "issue tokens")?;
        let role = TokenRole::from_name(&input.role).ok_or_else(|| {
            coded(
                "BAD_USER_INPUT",
                format!("unknown role `{}`; roles are {}", input.role, TokenRole::NAMES.join(", ")),
            )
        })?;
        let person = input.person_id.as_ref().map(person_id).transpose()?;
        let spec = TokenSpec {
            name: input.name,
            role,
            authorities: input.authorities,
            services: input.services,
            person,
            reason: input.reason,
        };
        let new = state(ctx).engine.issue_token(spec, &invocation(ctx, c)).await.map_err(engine_error)?;
        state(ctx).written.record(c.token_id, new.event.position);
        Ok(IssuedToken {
            id: ID(new.issued.token_id.to_string()),
            token: new.secret,
            role: new.issued.role.name().into(),
        })
    }
}

#[Object]
impl PersonMutation {
    /// Register a person of an administration (staff for their administrations, project
    /// managers and admins for every one). The values are stored encrypted with a key of the
    /// person's own, so `erasePerson` can erase them from the log without touching its hash chain.
    async fn register_person(
        &self,
        ctx: &Context<'_>,
        input: RegisterPersonInput,
    ) -> async_graphql::Result<Person> {
        let c = writer(ctx)?;
        if !c.may_register_person(&input.ars) {
            return Err(coded("FORBIDDEN", "this token may not register persons of that administration"));
        }
        let details = engine::PersonDetails {
            name: input.name,
            function: input.function,
            email: input.email,
            phone: input.phone,
        };
        let engine = &state(ctx).engine;
        let record =
            engine.register_person(&input.ars, details, &invocation(ctx, c)).await.map_err(engine_error)?;
        remember_head(ctx).await;
        Person::of(ctx, record).await
    }

    /// Record that a person left the administration (staff of the person's administration,
    /// managers): the retention period for the person's data starts on that day.
    async fn record_person_left(
        &self,
        ctx: &Context<'_>,
        input: RecordPersonLeftInput,
    ) -> async_graphql::Result<Person> {
        let c = writer(ctx)?;
        let id = person_id(&input.person_id)?;
        let engine = &state(ctx).engine;
        let known = engine.persons().get(id).filter(|p| c.may_register_person(&p.ars));
        if known.is_none() {
            return Err(coded("FORBIDDEN", "this token may not change that person"));
        }
        let record = engine
            .record_person_left(id, &input.left_on, &input.reason, &invocation(ctx, c))
            .await
            .map_err(engine_error)?;
        remember_head(ctx).await;
        Person::of(ctx, record).await
    }

    /// Erase a person (admin only; the data protection officer's request): the person's key
    /// is destroyed and `PersonErased` names who erased and why. Every read then shows
    /// `[gelöscht]`; the history still shows what was done, by which token, when, and
    /// `rollout verify` passes.
    async fn erase_person(
        &self,
        ctx: &Context<'_>,
        input: ErasePersonInput,
    ) -> async_graphql::Result<Person> {
        let c = admin(ctx, "erase persons")?;
        let id = person_id(&input.person_id)?;
        let engine = &state(ctx).engine;
        let record =
            engine.erase_person(id, &input.reason, &invocation(ctx, c)).await.map_err(engine_error)?;
        remember_head(ctx).await;
        Person::of(ctx, record).await
    }
}

/// The mutations on persons (part of `Mutation`).
#[derive(Default, Debug)]
pub struct PersonMutation;

/// The caller, when it is an admin token.
fn admin<'a>(ctx: &'a Context<'_>, what: &str) -> async_graphql::Result<&'a Caller> {
    crate::state::gate(ctx, Caller::may_administer, || format!("only an admin token may {what}"))
}
