#![allow(missing_debug_implementations)] // GraphQL object types; their fields are the documentation.
//! Who is responsible and who wants the service, as the API shows it: offers and answers
//! (`offerService`, `answerOffer`, `offers`), responsibility (`changeResponsibility`), targets
//! (`setTarget`, `targets`), usage (`recordUsage`), Ende-zu-Ende (`setEndToEnd`) and support
//! given (`recordSupport`). Every write is a catalogue event (`catalog::reuse`).

use async_graphql::{Context, Enum, InputObject, Object, SimpleObject};

use crate::state::{coded, engine_error, gate, invocation, remember_head, split_id, state};
use app::Caller;

/// An administration's answer to the offer of a service.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "catalog::AnswerKind")]
pub enum OfferAnswer {
    /// It wants the service: its rollout starts (if it has none).
    Interested,
    /// It does not want it (with a category and a text); never an ended rollout, can be revised.
    Declined,
    /// Later: until a date.
    Deferred,
    /// It runs a solution of its own (which, in `text`).
    OwnSolution,
}

/// Why an administration declined an offer.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "catalog::DeclineCategory")]
pub enum DeclineCategory {
    /// It has a solution of its own.
    OwnSolution,
    /// No demand.
    NoDemand,
    /// No capacity (staff, time).
    NoCapacity,
    /// Costs.
    Costs,
    /// Technical reasons.
    Technical,
    /// Other reasons (say which in `text`).
    Other,
}

/// An offer of a service.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct ServiceOffer {
    /// The administrations offered to (ARS); empty: every responsible administration.
    to: Vec<String>,
    /// From when it can be taken up (`YYYY-MM-DD`).
    from: String,
    /// Conditions (contract, costs, prerequisites).
    conditions: String,
    #[graphql(skip)]
    contact_id: Option<uuid::Uuid>,
    /// Why it was offered.
    reason: String,
    /// When it was offered (RFC 3339).
    at: Option<String>,
}

impl ServiceOffer {
    fn of(o: &catalog::Offer) -> ServiceOffer {
        ServiceOffer {
            to: o.to.clone(),
            from: o.from.clone(),
            conditions: o.conditions.clone(),
            contact_id: o.contact,
            reason: o.reason.clone(),
            at: o.at.map(|t| t.to_string()),
        }
    }
}

#[async_graphql::ComplexObject]
impl ServiceOffer {
    /// Whom to ask: a registered person (`[gelöscht]` once erased), readable by whoever reads
    /// every administration and by the staff of those it was offered to; null when none was
    /// named.
    async fn contact(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<crate::objects::person::Person>> {
        let Some(id) = self.contact_id else { return Ok(None) };
        if !crate::state::caller(ctx)?.may_read_offer_contact(&self.to) {
            return Ok(None);
        }
        match state(ctx).engine.persons().get(id) {
            Some(record) => crate::objects::person::Person::of(ctx, record).await.map(Some),
            None => Ok(None),
        }
    }
}

/// One responsible administration: whether the service was offered to it, its latest answer,
/// how far its rollout is.
#[derive(SimpleObject)]
pub struct OfferRow {
    /// Its ARS.
    ars: String,
    /// Its name.
    name: String,
    /// The service was offered to it.
    offered: bool,
    /// Its latest answer; null: none yet.
    answer: Option<OfferAnswer>,
    /// Why it declined.
    category: Option<DeclineCategory>,
    /// Deferred until (`YYYY-MM-DD`).
    until: Option<String>,
    /// Its words (for OWN_SOLUTION: which solution).
    text: Option<String>,
    /// When it answered (RFC 3339).
    answered_at: Option<String>,
    /// Its rollout's status (`not_started`, `in_progress`, `blocked`, `live`, `cancelled`);
    /// null: no rollout.
    rollout_status: Option<String>,
}

/// A service's offers and every responsible administration's answer.
#[derive(SimpleObject)]
pub struct ServiceOffers {
    /// The service.
    service_key: String,
    /// Its offers, oldest first.
    offers: Vec<ServiceOffer>,
    /// The responsible administrations within the token's scope, by ARS.
    administrations: Vec<OfferRow>,
}

/// A service offered to one of the token's administrations.
#[derive(SimpleObject)]
pub struct MyOffer {
    /// The service.
    service_key: String,
    /// The administration it was offered to.
    ars: String,
    /// The latest offer to it.
    offer: ServiceOffer,
    /// Its latest answer; null: not answered yet.
    answer: Option<OfferAnswer>,
    /// Deferred until (`YYYY-MM-DD`).
    until: Option<String>,
    /// Its words.
    text: Option<String>,
    /// Its rollout's status; null: no rollout.
    rollout_status: Option<String>,
}

/// A target and where things stand.
#[derive(SimpleObject)]
pub struct TargetState {
    /// `service:<key>`, `programme:efa`, `programme:formularserver` or `gesamt`.
    scope: String,
    /// The target: administrations in operation (null when the target is a coverage).
    in_operation: Option<u64>,
    /// The target: coverage in percent (null when the target is a number in operation).
    coverage: Option<f64>,
    /// By when (`YYYY-MM-DD`).
    by: String,
    /// Why this target.
    reason: String,
    /// Responsible administrations in operation now.
    actual_in_operation: u64,
    /// Coverage now, in percent.
    actual_coverage: f64,
    /// What is missing to reach it (administrations, or percentage points); 0 when reached.
    gap: f64,
}

/// An offer of a service to administrations.
#[derive(InputObject)]
pub struct OfferServiceInput {
    /// The service.
    service_key: String,
    /// The administrations (ARS) offered to; empty: every responsible administration.
    #[graphql(default)]
    ars: Vec<String>,
    /// From when (`YYYY-MM-DD`).
    from: String,
    /// Conditions (contract, costs, prerequisites).
    #[graphql(default)]
    conditions: String,
    /// Whom to ask: a registered person's id (`registerPerson`); its values stay encrypted and
    /// erasable, the offer names only the id.
    contact_person_id: Option<async_graphql::ID>,
    /// Why it is offered.
    reason: String,
}

/// An administration's answer to the offer of a service.
#[derive(InputObject)]
pub struct AnswerOfferInput {
    /// The service.
    service_key: String,
    /// The administration that answers.
    ars: String,
    /// Its answer.
    answer: OfferAnswer,
    /// Why it declines (required with DECLINED).
    category: Option<DeclineCategory>,
    /// Until when it defers (`YYYY-MM-DD`; required with DEFERRED).
    until: Option<String>,
    /// Its words (required with OWN_SOLUTION: which solution).
    text: Option<String>,
}

/// A target for a service, a programme or the whole.
#[derive(InputObject)]
pub struct SetTargetInput {
    /// `service:<key>`, `programme:efa`, `programme:formularserver` or `gesamt`.
    scope: String,
    /// Administrations in operation (give this or `coverage`).
    in_operation: Option<u64>,
    /// Coverage in percent, 0 to 100 (give this or `inOperation`).
    coverage: Option<f64>,
    /// By when (`YYYY-MM-DD`).
    by: String,
    /// Why.
    reason: String,
}

/// Applications received online in one month.
#[derive(InputObject)]
pub struct RecordUsageInput {
    /// The rollout (`<serviceKey>:<ars>`).
    rollout_id: String,
    /// The month (`YYYY-MM`); a later figure for the same month replaces the earlier.
    month: String,
    /// Applications received online.
    count: u64,
    /// Where the figure comes from (a statistic, the form server, the administration).
    source: String,
}

/// Whether applications reach the back-office system digitally.
#[derive(InputObject)]
pub struct SetEndToEndInput {
    /// The rollout (`<serviceKey>:<ars>`).
    rollout_id: String,
    /// They reach the back-office system digitally (not printed or typed again).
    digital: bool,
    /// How it is known.
    reason: String,
}

/// Advice or support given to an administration.
#[derive(InputObject)]
pub struct RecordSupportInput {
    /// The administration advised.
    ars: String,
    /// When (`YYYY-MM-DD`).
    date: String,
    /// The topic ("Anbindung FIT-Connect", "Nachnutzungsvereinbarung").
    topic: String,
    /// The office that advised ("KAZ/ZIT-BB", "ZV DIKOM"), not a person's name.
    by: String,
    /// The service it concerned, if one.
    service_key: Option<String>,
}

/// Who is responsible for a service at one administration.
#[derive(InputObject)]
pub struct ChangeResponsibilityInput {
    /// The service.
    service_key: String,
    /// The administration.
    ars: String,
    /// Responsible (true), not responsible (false), or the level rule again (null).
    responsible: Option<bool>,
    /// Administrations whose task it carries by agreement (they are then not responsible), and
    /// municipalities it acts for (their ARS, for the editorial entry).
    #[graphql(default)]
    for_ars: Vec<String>,
    /// The legal basis or source (required unless `responsible` is null).
    source: Option<String>,
    /// Valid from (`YYYY-MM-DD`; required unless `responsible` is null).
    valid_from: Option<String>,
    /// Why it changes.
    reason: String,
}

/// What a change of responsibility did to the rollouts.
#[derive(SimpleObject)]
pub struct ResponsibilityChange {
    /// Administrations whose rollout started (they had declared their interest).
    opened: Vec<String>,
    /// Administrations whose rollout was handed over to the one that now carries the task.
    handed_over: Vec<String>,
    /// Administrations whose rollout ended.
    closed: Vec<String>,
}

/// What an answer did.
#[derive(SimpleObject)]
pub struct AnswerResult {
    /// The answer as recorded.
    answer: OfferAnswer,
    /// A rollout started because of it.
    rollout_started: bool,
}

#[derive(Default, Debug)]
pub struct ReuseQuery;

#[Object]
impl ReuseQuery {
    /// A service's offers, and every responsible administration within the token's scope with
    /// its answer and its rollout's status — the Land sees who has not answered yet.
    async fn offers(&self, ctx: &Context<'_>, service_key: String) -> async_graphql::Result<ServiceOffers> {
        let c = gate(
            ctx,
            |c| c.may_read_service(&service_key),
            || "this token may not read that service".into(),
        )?;
        let s = state(ctx);
        s.projector.read(|m| {
            let entry = m
                .catalog
                .services
                .get(&service_key)
                .ok_or_else(|| coded("NOT_FOUND", format!("es gibt keinen Dienst „{service_key}“")))?;
            let administrations = m
                .catalog
                .responsible(&service_key)
                .into_iter()
                .filter(|a| c.may_read_authority(&a.ars))
                .map(|a| {
                    let answer = m.catalog.authorities.get(&a.ars).and_then(|e| e.answers.get(&service_key));
                    OfferRow {
                        ars: a.ars.clone(),
                        name: a.name.clone(),
                        offered: entry.offers.iter().any(|o| o.is_to(&a.ars)),
                        answer: answer.map(|x| x.answer.into()),
                        category: answer.and_then(|x| x.category).map(Into::into),
                        until: answer.and_then(|x| x.until.clone()),
                        text: answer.map(|x| x.text.clone()).filter(|t| !t.is_empty()),
                        answered_at: answer.and_then(|x| x.at).map(|t| t.to_string()),
                        rollout_status: m
                            .rollout(&format!("{service_key}:{}", a.ars))
                            .map(|r| r.status().name().to_owned()),
                    }
                })
                .collect();
            Ok(ServiceOffers {
                offers: entry.offers.iter().map(ServiceOffer::of).collect(),
                administrations,
                service_key: service_key.clone(),
            })
        })
    }

    /// The offers waiting for the administrations the token works for as staff: every service
    /// offered to one of them (and for which it is responsible), with its latest answer and
    /// its rollout's status — what "Angebote" shows a clerk. Empty for other tokens (they ask
    /// `offers(serviceKey)`).
    async fn my_offers(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<MyOffer>> {
        let c = gate(ctx, Caller::may_read_reference_data, || "signed-in tokens only".into())?;
        let homes: Vec<String> = c.authorities.iter().filter(|a| c.is_staff_of(a)).cloned().collect();
        Ok(state(ctx).projector.read(|m| {
            let mut out = Vec::new();
            for ars in &homes {
                for (key, entry) in &m.catalog.services {
                    let Some(offer) = entry.offers.iter().rev().find(|o| o.is_to(ars)) else {
                        continue;
                    };
                    if !m.catalog.is_responsible(key, ars) || !c.may_read_service(key) {
                        continue;
                    }
                    let answer = m.catalog.authorities.get(ars).and_then(|e| e.answers.get(key));
                    out.push(MyOffer {
                        service_key: key.clone(),
                        ars: ars.clone(),
                        offer: ServiceOffer::of(offer),
                        answer: answer.map(|x| x.answer.into()),
                        until: answer.and_then(|x| x.until.clone()),
                        text: answer.map(|x| x.text.clone()).filter(|t| !t.is_empty()),
                        rollout_status: m
                            .rollout(&format!("{key}:{ars}"))
                            .map(|r| r.status().name().to_owned()),
                    });
                }
            }
            out
        }))
    }

    /// The targets, each with where things stand now and the gap.
    async fn targets(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<TargetState>> {
        gate(ctx, Caller::is_manager, || "targets need a project manager, admin or auditor token".into())?;
        Ok(state(ctx).projector.read(|m| {
            m.catalog
                .targets
                .values()
                .map(|t| {
                    let actual = app::coverage::of_scope(m, &t.scope);
                    let (in_operation, coverage) = match t.measure {
                        catalog::Measure::InOperation(n) => (Some(n), None),
                        catalog::Measure::Coverage(p) => (None, Some(p)),
                    };
                    TargetState {
                        scope: t.scope.clone(),
                        in_operation,
                        coverage,
                        by: t.by.clone(),
                        reason: t.reason.clone(),
                        actual_in_operation: actual.in_operation,
                        actual_coverage: actual.coverage(),
                        gap: app::coverage::against(t, &actual),
                    }
                })
                .collect()
        }))
    }
}

#[derive(Default, Debug)]
pub struct ReuseMutation;

#[Object]
impl ReuseMutation {
    /// Offer a service to administrations (`ServiceOffered`; project managers, admins): to the
    /// named ones (each must be responsible) or, with none named, to every responsible one.
    async fn offer_service(
        &self,
        ctx: &Context<'_>,
        input: OfferServiceInput,
    ) -> async_graphql::Result<ServiceOffer> {
        let c = gate(ctx, Caller::may_steer_reuse, || {
            "offering a service needs a project manager or admin token".into()
        })?;
        let offer = catalog::Offer {
            to: input.ars,
            from: input.from,
            conditions: input.conditions,
            contact: input.contact_person_id.as_ref().map(crate::state::person_id).transpose()?,
            reason: input.reason,
            at: None,
        };
        let s = state(ctx);
        s.engine.offer_service(&input.service_key, offer, &invocation(ctx, c)).await.map_err(engine_error)?;
        remember_head(ctx).await;
        let last = s.engine.read_catalog(|cat| {
            cat.services.get(&input.service_key).and_then(|e| e.offers.last().map(ServiceOffer::of))
        });
        last.ok_or_else(|| coded("INTERNAL", "the offer was recorded but is not in the catalogue"))
    }

    /// Answer the offer of a service for an administration (`OfferAnswered`; its staff, or a
    /// project manager on its behalf). INTERESTED starts its rollout (if it has none); DECLINED
    /// (with a category), DEFERRED (with a date) and OWN_SOLUTION (saying which) end none, and a
    /// later answer replaces an earlier one.
    async fn answer_offer(
        &self,
        ctx: &Context<'_>,
        input: AnswerOfferInput,
    ) -> async_graphql::Result<AnswerResult> {
        let c = gate(
            ctx,
            |c| c.may_answer_for(&input.ars),
            || "only the administration's staff or a project manager may answer for it".into(),
        )?;
        let answer = engine::reuse::AnswerInput {
            answer: input.answer.into(),
            category: input.category.map(Into::into),
            until: input.until,
            text: input.text.unwrap_or_default(),
        };
        let (_, started) = state(ctx)
            .engine
            .answer_offer(&input.service_key, &input.ars, answer, &invocation(ctx, c))
            .await
            .map_err(engine_error)?;
        remember_head(ctx).await;
        Ok(AnswerResult { answer: input.answer, rollout_started: started })
    }

    /// Set the target of a service, a programme or the whole (`TargetSet`; project managers,
    /// admins): N administrations in operation, or a coverage in percent, by a date. A new
    /// target for the same scope replaces the earlier.
    async fn set_target(&self, ctx: &Context<'_>, input: SetTargetInput) -> async_graphql::Result<bool> {
        let c = gate(ctx, Caller::may_steer_reuse, || {
            "setting a target needs a project manager or admin token".into()
        })?;
        let measure = match (input.in_operation, input.coverage) {
            (Some(n), None) => catalog::Measure::InOperation(n),
            (None, Some(p)) => catalog::Measure::Coverage(p),
            _ => return Err(coded("BAD_USER_INPUT", "genau eines von „inOperation“ und „coverage“ angeben")),
        };
        let target = catalog::Target { scope: input.scope, measure, by: input.by, reason: input.reason };
        state(ctx).engine.set_target(target, &invocation(ctx, c)).await.map_err(engine_error)?;
        remember_head(ctx).await;
        Ok(true)
    }

    /// Record the applications a rollout's administration received online in a month
    /// (`UsageRecorded`; its staff, project managers, automation importing statistics).
    async fn record_usage(&self, ctx: &Context<'_>, input: RecordUsageInput) -> async_graphql::Result<bool> {
        let (service, ars) = split_id(&input.rollout_id)?;
        let c = gate(
            ctx,
            |c| c.may_record_usage(ars) && c.may_read_rollout(service, ars),
            || {
                "only the administration's staff, a project manager or automation for it may record its usage"
                    .into()
            },
        )?;
        let usage = catalog::Usage {
            service: service.into(),
            month: input.month,
            count: input.count,
            source: input.source,
        };
        state(ctx).engine.record_usage(ars, usage, &invocation(ctx, c)).await.map_err(engine_error)?;
        remember_head(ctx).await;
        Ok(true)
    }

    /// Record whether a rollout's applications reach the back-office system digitally
    /// (`EndToEndSet`; the administration's staff, project managers).
    async fn set_end_to_end(
        &self,
        ctx: &Context<'_>,
        input: SetEndToEndInput,
    ) -> async_graphql::Result<bool> {
        let (service, ars) = split_id(&input.rollout_id)?;
        let c = gate(
            ctx,
            |c| c.may_answer_for(ars),
            || "only the administration's staff or a project manager may say this".into(),
        )?;
        state(ctx)
            .engine
            .set_end_to_end(service, ars, input.digital, &input.reason, &invocation(ctx, c))
            .await
            .map_err(engine_error)?;
        remember_head(ctx).await;
        Ok(input.digital)
    }

    /// Record advice or support given to an administration (`SupportRecorded`; project managers,
    /// admins, the association's staff for its members).
    async fn record_support(
        &self,
        ctx: &Context<'_>,
        input: RecordSupportInput,
    ) -> async_graphql::Result<bool> {
        let c = gate(
            ctx,
            |c| c.may_record_support(&input.ars),
            || "recording support needs a project manager or the association's token".into(),
        )?;
        let support = catalog::Support {
            date: input.date,
            topic: input.topic,
            by: input.by,
            service: input.service_key,
        };
        state(ctx)
            .engine
            .record_support(&input.ars, support, &invocation(ctx, c))
            .await
            .map_err(engine_error)?;
        remember_head(ctx).await;
        Ok(true)
    }

    /// Change who is responsible for a service at one administration (`ResponsibilityChanged`;
    /// project managers, admins). Rollouts change hands as the territorial change moves them: a
    /// rollout of an administration no longer responsible is handed over to the one that now
    /// carries its task (if that one has none) or ended; an administration newly responsible
    /// that declared its interest gets its rollout.
    async fn change_responsibility(
        &self,
        ctx: &Context<'_>,
        input: ChangeResponsibilityInput,
    ) -> async_graphql::Result<ResponsibilityChange> {
        let c = gate(ctx, Caller::may_steer_reuse, || {
            "changing responsibility needs a project manager or admin token".into()
        })?;
        let exception = match input.responsible {
            None => None,
            Some(responsible) => Some(catalog::Exception {
                responsible,
                for_ars: input.for_ars,
                source: input
                    .source
                    .ok_or_else(|| coded("BAD_USER_INPUT", "„source“ (Rechtsgrundlage oder Quelle) fehlt"))?,
                valid_from: input
                    .valid_from
                    .ok_or_else(|| coded("BAD_USER_INPUT", "„validFrom“ (gültig ab) fehlt"))?,
            }),
        };
        let report = state(ctx)
            .engine
            .change_responsibility(
                &input.service_key,
                &input.ars,
                exception,
                &input.reason,
                &invocation(ctx, c),
            )
            .await
            .map_err(engine_error)?;
        remember_head(ctx).await;
        Ok(ResponsibilityChange {
            opened: report.opened,
            handed_over: report.handed_over.into_iter().map(|(from, _)| from).collect(),
            closed: report.closed,
        })
    }
}
