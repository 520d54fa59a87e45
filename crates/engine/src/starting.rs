//! Starting rollouts: one, or a service's everywhere it applies (its central rollout first),
//! and the Land-level steps a central rollout records in every other rollout of its service.

use std::collections::BTreeSet;

use catalog::{applies, facts, Authority, DefinitionRef, Program};
use store::RecordedEvent;
use workflow::decide::{Command, Rejection};
use workflow::rollout::{stream_id, Rollout};

use crate::{limits, EngineError, Invocation, Outcome, StartSummary};

impl crate::Engine {
    /// Starts the rollout of a service at one administration, on the definition the service
    /// names for its level (`Service.definition`, or `landDefinition` for the Land) unless one
    /// is named.
    pub async fn start_rollout(
        &self,
        service_key: &str,
        ars: &str,
        definition: Option<&DefinitionRef>,
        req: &Invocation,
    ) -> Result<Outcome, EngineError> {
        let (service, authority) = {
            let catalog = self.catalog.read().unwrap_or_else(|p| p.into_inner());
            let service = catalog
                .services
                .get(service_key)
                .ok_or_else(|| EngineError::UnknownService(service_key.into()))?;
            let authority =
                catalog.authorities.get(ars).ok_or_else(|| EngineError::UnknownAuthority(ars.into()))?;
            if authority.dissolved.is_some() {
                return Err(EngineError::Dissolved(ars.into()));
            }
            let central = ars == catalog.central_ars(service.service.program);
            // A project manager may set an assistant up for a municipality outside the association.
            let added = service.service.program == Program::Formularserver
                && req.principal.manages()
                && applies(
                    &service.service,
                    &Authority { association_member: true, ..authority.authority.clone() },
                );
            if !central && !catalog.is_responsible(service_key, ars) && !added {
                return Err(EngineError::NotApplicable { service: service_key.into(), ars: ars.into() });
            }
            (service.service.clone(), authority.authority.clone())
        };
        let central = self.central_ars(service_key);
        let named = match definition {
            Some(d) => d.clone(),
            None if ars == central => service.land_definition.clone(),
            None => service.definition.clone(),
        };
        let definition = self.definition(&named).await?;
        let land_steps_done = if ars == central {
            Vec::new()
        } else {
            self.load(service_key, &central).await?.map(|land| done_steps(&land)).unwrap_or_default()
        };
        let command = Command::Start {
            service_key: service_key.into(),
            ars: ars.into(),
            definition,
            facts: facts(&authority, &service),
            land_steps_done,
        };
        self.execute(service_key, ars, command, req).await
    }

    /// Starts the rollout of a service for every administration responsible for it (and its central
    /// rollout first: the Land's, or the association's model for an assistant); existing rollouts are
    /// left alone, so repeating it changes nothing.
    pub async fn start_service(
        &self,
        service_key: &str,
        req: &Invocation,
    ) -> Result<StartSummary, EngineError> {
        let targets: Vec<String> = {
            let catalog = self.catalog.read().unwrap_or_else(|p| p.into_inner());
            let service = catalog
                .services
                .get(service_key)
                .ok_or_else(|| EngineError::UnknownService(service_key.into()))?;
            let central = catalog.central_ars(service.service.program);
            let mut t: Vec<String> =
                catalog.responsible(service_key).into_iter().map(|a| a.ars.clone()).collect();
            if !t.contains(&central) {
                t.insert(0, central.to_owned());
            }
            t.sort_by_key(|a| *a != central);
            t
        };
        let mut summary = StartSummary::default();
        for ars in targets {
            if self.store.stream_version(&stream_id(service_key, &ars)).await? > 0 {
                summary.existing.push(ars);
                continue;
            }
            match self.start_rollout(service_key, &ars, None, req).await {
                Ok(_) => summary.started.push(ars),
                // Started by someone else meanwhile.
                Err(EngineError::Conflict { .. }) | Err(EngineError::Rejected(Rejection::AlreadyStarted)) => {
                    summary.existing.push(ars)
                }
                Err(e) => return Err(e),
            }
        }
        Ok(summary)
    }
}

impl crate::Engine {
    /// After a change to a service's central rollout (the Land's, or the association's model), records
    /// each of its steps that became done (or was reopened) in every other rollout of the
    /// service, so each history stays complete on its own and the gates (`land:` steps) open.
    pub(crate) async fn propagate_land_steps(
        &self,
        before: Option<&Rollout>,
        after: &Rollout,
        cause: Option<&RecordedEvent>,
        req: &Invocation,
    ) -> Result<(), EngineError> {
        let was: BTreeSet<String> = before.map(done_steps).unwrap_or_default().into_iter().collect();
        let now: BTreeSet<String> = done_steps(after).into_iter().collect();
        let changes: Vec<(String, bool)> = now
            .difference(&was)
            .map(|s| (s.clone(), true))
            .chain(was.difference(&now).map(|s| (s.clone(), false)))
            .collect();
        if changes.is_empty() {
            return Ok(());
        }
        let central = self.central_ars(&after.service_key);
        let targets: Vec<String> = {
            let catalog = self.catalog.read().unwrap_or_else(|p| p.into_inner());
            catalog.active_authorities().map(|a| a.ars.clone()).filter(|a| *a != central).collect()
        };
        let system = Invocation {
            correlation_id: req.correlation_id,
            causation_id: cause.map(|e| e.event_id),
            ..Invocation::system()
        };
        // In bounded batches: a batch's appends share group commits, and other clients' commands
        // join the same groups between batches instead of waiting behind the whole fan-out.
        let one = |ars: String| {
            let (system, changes) = (&system, &changes);
            async move {
                if self.store.stream_version(&stream_id(&after.service_key, &ars)).await? == 0 {
                    return Ok(());
                }
                for (step, done) in changes {
                    let command = Command::RecordLandStep { step: step.clone(), done: *done };
                    match self.execute_one(&after.service_key, &ars, command, system).await {
                        Ok(_) | Err(EngineError::Rejected(_)) => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok::<(), EngineError>(())
            }
        };
        for batch in targets.chunks(limits::FANOUT_BATCH) {
            for result in futures_util::future::join_all(batch.iter().cloned().map(one)).await {
                result?;
            }
        }
        Ok(())
    }
}

impl crate::Engine {
    /// Who owns the central rollout of `service_key`: the Land, or the association for an
    /// assistant.
    pub fn central_ars(&self, service_key: &str) -> String {
        let catalog = self.catalog.read().unwrap_or_else(|p| p.into_inner());
        catalog.central_of(service_key)
    }
}

/// The steps of a rollout that are done (or not required).
fn done_steps(r: &Rollout) -> Vec<String> {
    r.definition
        .steps
        .iter()
        .zip(&r.steps)
        .filter(|(_, s)| s.status.satisfies())
        .map(|(d, _)| d.id.clone())
        .collect()
}
