#![allow(missing_debug_implementations)] // GraphQL types; their fields are the documentation.
//! The mutations on definitions: publishing a text, giving a service its definition, and
//! moving a service's running rollouts to another one. Merged into the mutation root.

use async_graphql::{Context, Enum, Error, ErrorExtensions, InputObject, Object, SimpleObject, ID};
use catalog::{DefinitionLevel, DefinitionRef};
use engine::EngineError;
use workflow::registry::PublishError;

use crate::mutation::{invocation, StepMapping};
use crate::objects::catalog::Service;
use crate::objects::definition::Definition;
use crate::objects::event::Event;
use crate::state::{coded, engine_error, state};
use app::Caller;

/// Publish a workflow definition (TOML, the format of `workflows/`).
#[derive(InputObject)]
pub struct PublishDefinitionInput {
    /// The whole text of the definition file.
    source: String,
    /// Why it is published (kept in the log).
    reason: String,
}

/// What publishing did.
#[derive(SimpleObject)]
pub struct PublishDefinitionPayload {
    /// The definition as published.
    definition: Definition,
    /// False when exactly this text was published already: nothing was appended.
    published: bool,
    /// The `DefinitionPublished` event appended.
    event: Option<Event>,
}

/// Which of a service's definitions.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(name = "DefinitionLevel")]
pub enum DefinitionLevelInput {
    /// The one its administrations' rollouts start on.
    Authority,
    /// The one its Land-level rollout starts on.
    Land,
}

/// Give a service another definition for its new rollouts.
#[derive(InputObject)]
pub struct SetServiceDefinitionInput {
    /// The service key, e.g. `wohngeld`.
    service_key: String,
    /// The definition's id.
    definition_id: String,
    /// Its version (pinned: new rollouts start on exactly this one).
    version: u32,
    /// For the administrations' rollouts or the Land's.
    level: DefinitionLevelInput,
    /// Why (kept in the log).
    reason: String,
}

/// Move the running rollouts of a service to another definition.
#[derive(InputObject)]
pub struct MigrateServiceInput {
    /// The service key.
    service_key: String,
    /// The definition to move to (the same id, newer, or a variant of the same scope).
    to_definition_id: String,
    /// Its version.
    to_version: u32,
    /// Old step id → new step id, for renamed steps (steps that keep their id map to
    /// themselves); the same for every rollout.
    #[graphql(default)]
    step_mapping: Vec<StepMapping>,
    /// Only say what would change; append nothing.
    #[graphql(default)]
    dry_run: bool,
    /// Why (kept with every rollout's event).
    reason: String,
}

/// What moving one rollout changes (or would change).
#[derive(SimpleObject)]
pub struct RolloutMigrationResult {
    /// `"<serviceKey>:<ars>"`.
    rollout_id: ID,
    /// Moved (false in a dry run, or when it could not move).
    moved: bool,
    /// Steps the new definition adds.
    added: Vec<String>,
    /// Steps of the old definition without a counterpart (they had no progress).
    removed: Vec<String>,
    /// Steps whose progress carries over (their ids in the new definition).
    kept: Vec<String>,
    /// Carried-over steps that are done but lack evidence the new definition requires.
    to_redo: Vec<String>,
    /// Why it cannot move; empty when it can.
    problems: Vec<String>,
}

/// What `migrateService` did or would do.
#[derive(SimpleObject)]
pub struct MigrateServicePayload {
    /// Nothing was appended.
    dry_run: bool,
    /// The correlation id every event of the batch carries (the audit's one batch).
    correlation_id: String,
    /// Rollouts moved (0 in a dry run).
    moved: u32,
    /// Rollouts that cannot move (each names why in `rollouts`).
    refused: u32,
    /// Every rollout of the service that runs a definition of the target's scope and is not on
    /// the target already (cancelled and transferred ones are left alone).
    rollouts: Vec<RolloutMigrationResult>,
}

fn manages<'a>(ctx: &'a Context<'_>, what: &str) -> async_graphql::Result<&'a Caller> {
    crate::state::gate(ctx, Caller::may_manage_programme, || {
        format!("{what} needs a project manager or admin token")
    })
}

/// A publication refused: what is wrong, and for an invalid text every problem at its line
/// and column (`extensions.diagnostics`), so an editor can mark them.
fn publish_error(e: EngineError, source: &str, registry: &workflow::Registry) -> Error {
    match e {
        EngineError::Publish(PublishError::Invalid(diags)) => {
            let list: Vec<serde_json::Value> = diags
                .iter()
                .map(|d| {
                    // A problem surfacing from a variant's base is at the base's line.
                    let base = registry.origin_of(d);
                    let text = base.as_ref().map_or(source, |b| &*b.source);
                    let (line, column) = workflow::definition::line_column(text, d.span.start);
                    serde_json::json!({ "line": line, "column": column, "message": d.message, "base": d.origin })
                })
                .collect();
            let first = diags.first().map(|d| registry.render(d, "definition", source)).unwrap_or_default();
            let message = format!("the definition has {} problem(s), the first: {first}", diags.len());
            Error::new(message).extend_with(move |_, ext| {
                ext.set("code", "BAD_USER_INPUT");
                if let Ok(v) = async_graphql::Value::from_json(serde_json::Value::Array(list.clone())) {
                    ext.set("diagnostics", v);
                }
            })
        }
        EngineError::Publish(p @ PublishError::Conflict { .. }) => coded("CONFLICT", p.to_string()),
        EngineError::Publish(p @ PublishError::NotNewer { .. }) => coded("BAD_USER_INPUT", p.to_string()),
        other => engine_error(other),
    }
}

/// The mutations on definitions (part of `Mutation`).
#[derive(Default, Debug)]
pub struct DefinitionMutation;

#[Object]
impl DefinitionMutation {
    /// Publish a workflow definition (project managers and admins): checked like
    /// `rollout workflow check` (every problem with line and column in
    /// `extensions.diagnostics`, and `base` when it is in the base of a variant that
    /// `extends` one; nothing appended on a problem), then recorded as
    /// `DefinitionPublished`. The same id and version with other content is a `CONFLICT` (a new
    /// wording is a new version), an older version than the newest is `BAD_USER_INPUT`, the
    /// same text again appends nothing and answers `published: false`.
    async fn publish_definition(
        &self,
        ctx: &Context<'_>,
        input: PublishDefinitionInput,
    ) -> async_graphql::Result<PublishDefinitionPayload> {
        let c = manages(ctx, "publishing a definition")?;
        let s = state(ctx);
        let published = s
            .engine
            .publish_definition(&input.source, &input.reason, &invocation(ctx, c))
            .await
            .map_err(|e| publish_error(e, &input.source, s.engine.registry()))?;
        if let Some(e) = &published.event {
            s.written.record(c.token_id, e.position);
        }
        Ok(PublishDefinitionPayload {
            published: published.event.is_some(),
            event: published.event.map(Event),
            definition: Definition::new(published.entry),
        })
    }

    /// Give a service another definition for its new rollouts at the administrations or at
    /// the Land (project managers and admins; a `ServiceDefinitionSet` event). The definition
    /// must be known and of that level's scope. Running rollouts keep theirs until migrated
    /// (`migrateService`).
    async fn set_service_definition(
        &self,
        ctx: &Context<'_>,
        input: SetServiceDefinitionInput,
    ) -> async_graphql::Result<Service> {
        let c = manages(ctx, "changing a service's definition")?;
        let s = state(ctx);
        let level = match input.level {
            DefinitionLevelInput::Authority => DefinitionLevel::Authority,
            DefinitionLevelInput::Land => DefinitionLevel::Land,
        };
        let to = DefinitionRef::new(input.definition_id, input.version);
        let event = s
            .engine
            .set_service_definition(&input.service_key, level, to, &input.reason, &invocation(ctx, c))
            .await
            .map_err(|e| match e {
                EngineError::Invalid(m) => coded("BAD_USER_INPUT", m),
                other => engine_error(other),
            })?;
        s.written.record(c.token_id, event.position);
        let service = s
            .engine
            .catalog()
            .services
            .remove(&input.service_key)
            .map(|e| e.service)
            .ok_or_else(|| coded("NOT_FOUND", format!("there is no service `{}`", input.service_key)))?;
        Ok(Service(service))
    }

    /// Move the running rollouts of a service to another definition (project managers and
    /// admins): the same id in a newer version, or another definition of the same scope. With
    /// `dryRun`, says per rollout what would change and appends nothing; otherwise moves each
    /// rollout (a `DefinitionMigrated` event each, all under one correlation id) and names
    /// every rollout that could not move, and why.
    async fn migrate_service(
        &self,
        ctx: &Context<'_>,
        input: MigrateServiceInput,
    ) -> async_graphql::Result<MigrateServicePayload> {
        let c = manages(ctx, "migrating a service's rollouts")?;
        let s = state(ctx);
        let to = DefinitionRef::new(input.to_definition_id, input.to_version);
        let mapping = input.step_mapping.into_iter().map(|m| (m.from, m.to)).collect();
        let report = s
            .engine
            .migrate_service(
                &input.service_key,
                &to,
                mapping,
                input.dry_run,
                &input.reason,
                &invocation(ctx, c),
            )
            .await
            .map_err(engine_error)?;
        if let Some(last) = report.rollouts.iter().filter_map(|r| r.event.as_ref()).map(|e| e.position).max()
        {
            s.written.record(c.token_id, last);
        }
        let rollouts: Vec<RolloutMigrationResult> = report
            .rollouts
            .into_iter()
            .map(|r| RolloutMigrationResult {
                rollout_id: ID(format!("{}:{}", input.service_key, r.ars)),
                moved: r.event.is_some(),
                added: r.added,
                removed: r.removed,
                kept: r.kept,
                to_redo: r.to_redo,
                problems: r.problems,
            })
            .collect();
        Ok(MigrateServicePayload {
            dry_run: report.dry_run,
            correlation_id: report.correlation_id.to_string(),
            moved: rollouts.iter().filter(|r| r.moved).count() as u32,
            refused: rollouts.iter().filter(|r| !r.problems.is_empty()).count() as u32,
            rollouts,
        })
    }
}
