//! The catalogue's changes: importing its files (appending only what differs) and a
//! territorial change moving the dissolved administration's rollouts to its successor.

use catalog::events::authority_stream;
use catalog::{CatalogEvent, Dataset, DefinitionRef};
use store::{ExpectedVersion, NewEvent};
use workflow::decide::Command;
use workflow::rollout::stream_id;

use crate::{new_event, DissolutionReport, EngineError, ImportReport, Invocation};

impl crate::Engine {
    /// Brings the catalogue in line with the data files (see `catalog::plan_import`), then
    /// applies newly recorded dissolutions to the rollouts of the dissolved administrations.
    pub async fn import_catalog(
        &self,
        data: &Dataset,
        req: &Invocation,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<ImportReport, EngineError> {
        let plan = catalog::plan_import(&self.catalog(), data);
        let total = plan.len();
        let mut report = ImportReport::default();
        for (i, planned) in plan.into_iter().enumerate() {
            let expected = match planned.expected_version {
                0 => ExpectedVersion::NoStream,
                v => ExpectedVersion::Exact(v),
            };
            let new: Vec<NewEvent> =
                planned.events.iter().map(|e| new_event(e.stored_type(), e.to_payload(), req)).collect();
            let recorded = self.store.append(&planned.stream_id, expected, new).await?;
            {
                let mut catalog = self.catalog.write().unwrap_or_else(|p| p.into_inner());
                for e in &planned.events {
                    catalog.apply(&planned.stream_id, e);
                }
            }
            report.events += planned.events.len();
            for (event, stored) in planned.events.iter().zip(&recorded) {
                if let CatalogEvent::AuthorityDissolved { successors, note } = event {
                    let ars = planned
                        .stream_id
                        .trim_start_matches(vocab::names::AUTHORITY_STREAM_PREFIX)
                        .to_owned();
                    let cause = Invocation {
                        causation_id: Some(stored.event_id),
                        idempotency_key: None,
                        expected_version: None,
                        ..req.clone()
                    };
                    report.dissolutions.push(self.apply_dissolution(&ars, successors, note, &cause).await?);
                }
            }
            progress(i + 1, total);
        }
        Ok(report)
    }

    /// Records a dissolution decided outside the data files, then applies it to the rollouts.
    pub async fn dissolve_authority(
        &self,
        ars: &str,
        successors: Vec<String>,
        note: &str,
        req: &Invocation,
    ) -> Result<DissolutionReport, EngineError> {
        let version = {
            let catalog = self.catalog.read().unwrap_or_else(|p| p.into_inner());
            let entry =
                catalog.authorities.get(ars).ok_or_else(|| EngineError::UnknownAuthority(ars.into()))?;
            if entry.dissolved.is_some() {
                return Err(EngineError::Dissolved(ars.into()));
            }
            for s in &successors {
                if catalog.authorities.get(s).is_none_or(|e| e.dissolved.is_some()) {
                    return Err(EngineError::UnknownAuthority(s.clone()));
                }
            }
            entry.version
        };
        let event =
            CatalogEvent::AuthorityDissolved { successors: successors.clone(), note: note.to_owned() };
        let stream = authority_stream(ars);
        let recorded = self
            .store
            .append(
                &stream,
                ExpectedVersion::Exact(version),
                vec![new_event(event.stored_type(), event.to_payload(), req)],
            )
            .await?;
        self.catalog.write().unwrap_or_else(|p| p.into_inner()).apply(&stream, &event);
        let cause = Invocation {
            causation_id: recorded.first().map(|e| e.event_id),
            idempotency_key: None,
            expected_version: None,
            ..req.clone()
        };
        self.apply_dissolution(ars, &successors, note, &cause).await
    }

    /// Moves the open rollouts of a dissolved administration: with one successor that has no
    /// rollout of the service, the successor's new rollout takes the progress over (except steps
    /// whose evidence names the old ARS); otherwise the old rollout is ended, naming the change.
    async fn apply_dissolution(
        &self,
        ars: &str,
        successors: &[String],
        note: &str,
        req: &Invocation,
    ) -> Result<DissolutionReport, EngineError> {
        let (services, name) = {
            let catalog = self.catalog.read().unwrap_or_else(|p| p.into_inner());
            let name = catalog.authorities.get(ars).map(|e| e.authority.name.clone()).unwrap_or_default();
            (catalog.services.keys().cloned().collect::<Vec<_>>(), name)
        };
        let mut report = DissolutionReport { ars: ars.to_owned(), ..Default::default() };
        for service in services {
            let Some(old) = self.load(&service, ars).await? else { continue };
            if old.cancelled.is_some() {
                continue;
            }
            let reason = format!(
                "Gebietsänderung: {name} ({ars}) aufgelöst, Nachfolger {}. {note}",
                successors.join(", ")
            );
            let successor = match successors {
                [one] if self.store.stream_version(&stream_id(&service, one)).await? == 0 => {
                    Some(one.clone())
                }
                _ => None,
            };
            self.hand_over(&service, &old, successor.as_deref(), reason, req).await?;
            match successor {
                Some(to) => report.moved.push((service.clone(), to)),
                None => report.closed.push(service.clone()),
            }
        }
        Ok(report)
    }

    /// Ends `old` (a rollout that is not cancelled) because its administration no longer
    /// carries the task: with `to` (an administration without a rollout of the service) the new
    /// rollout there takes its progress over (except steps whose evidence names the old ARS);
    /// without, it is ended naming the reason.
    pub(crate) async fn hand_over(
        &self,
        service: &str,
        old: &workflow::rollout::Rollout,
        to: Option<&str>,
        reason: String,
        req: &Invocation,
    ) -> Result<(), EngineError> {
        if let Some(to) = to {
            let same = DefinitionRef::new(old.definition.id.clone(), old.definition.version);
            self.start_rollout(service, to, Some(&same), req).await?;
            let take = Command::TakeOver { from: Box::new(old.clone()), reason: reason.clone() };
            self.execute(service, to, take, req).await?;
        }
        let transfer = Command::Transfer { to_ars: to.map(str::to_owned), reason };
        self.execute(service, &old.ars, transfer, req).await?;
        Ok(())
    }
}
