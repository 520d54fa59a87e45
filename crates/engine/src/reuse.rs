//! Who is responsible and who wants the service: a change of responsibility (and the rollouts
//! it opens, closes or hands over), offers and answers (an interest starts the rollout, a
//! decline never ends one), and what the ministry asks — targets, usage, Ende-zu-Ende, support
//! given. Each is a catalogue event (`catalog::reuse`); who may ask is the caller's permission
//! (`app::Caller`), what is accepted is decided here.

use std::collections::BTreeSet;

use catalog::events::{authority_stream, service_stream};
use catalog::reuse::{check_date, check_month};
use catalog::{Answer, AnswerKind, CatalogEvent, Exception, Measure, Offer, Support, Target, Usage};
use store::RecordedEvent;
use workflow::rollout::stream_id;

use crate::{EngineError, Invocation};

/// What a change of responsibility did to the rollouts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResponsibilityReport {
    /// Administrations whose rollout started (they had declared their interest).
    pub opened: Vec<String>,
    /// (from, to): rollouts handed over to the administration that now carries the task.
    pub handed_over: Vec<(String, String)>,
    /// Administrations whose rollout ended (no longer responsible).
    pub closed: Vec<String>,
}

/// An answer to the offer of a service, as asked.
#[derive(Clone, Debug, PartialEq)]
pub struct AnswerInput {
    pub answer: AnswerKind,
    pub category: Option<catalog::DeclineCategory>,
    pub until: Option<String>,
    pub text: String,
}

/// What the migration of an existing store recorded.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MigrationReport {
    /// Rollouts whose administration was recorded as interested.
    pub interested: usize,
    /// Rollouts whose administration was recorded as responsible (not by the level rule).
    pub responsible: usize,
    /// Rollouts that had both already.
    pub unchanged: usize,
}

fn invalid(message: impl Into<String>) -> EngineError {
    EngineError::Refused(message.into())
}

/// A required free text: visible characters, no control characters, not too long.
fn words(value: &str, what: &str) -> Result<String, EngineError> {
    workflow::decide::check_note(value, what).map_err(|_| {
        invalid(format!("{what}: bitte einen Text angeben (sichtbare Zeichen, höchstens 2.000)"))
    })
}

fn optional_words(value: &str, what: &str) -> Result<String, EngineError> {
    if value.trim().is_empty() {
        Ok(String::new())
    } else {
        words(value, what)
    }
}

impl crate::Engine {
    fn catalog_version(&self, stream: &str) -> u64 {
        self.read_catalog(|c| c.stream_version(stream).unwrap_or(0))
    }

    async fn append_to_catalog(
        &self,
        stream: &str,
        event: CatalogEvent,
        req: &Invocation,
    ) -> Result<RecordedEvent, EngineError> {
        if self.catalog_version(stream) == 0 && stream != vocab::names::TARGETS_STREAM {
            return Err(invalid(format!("der Katalog kennt „{stream}“ nicht")));
        }
        self.append_first_or_next(stream, event, req).await
    }

    fn known_service(&self, service: &str) -> Result<(), EngineError> {
        self.read_catalog(|c| c.services.contains_key(service))
            .then_some(())
            .ok_or_else(|| EngineError::UnknownService(service.into()))
    }

    fn check_responsible(&self, service: &str, ars: &str) -> Result<(), EngineError> {
        self.known_service(service)?;
        let (known, responsible, name) = self.read_catalog(|c| {
            let name = c.authorities.get(ars).map(|e| e.authority.name.clone());
            (name.is_some(), c.is_responsible(service, ars), name.unwrap_or_default())
        });
        if !known {
            return Err(EngineError::UnknownAuthority(ars.into()));
        }
        if !responsible {
            return Err(invalid(format!("{name} ({ars}) ist für „{service}“ nicht zuständig")));
        }
        Ok(())
    }

    /// Records who is responsible for `service` at `ars` (`None`: the level rule again), then
    /// opens, hands over or closes the rollouts that change hands.
    pub async fn change_responsibility(
        &self,
        service: &str,
        ars: &str,
        exception: Option<Exception>,
        reason: &str,
        req: &Invocation,
    ) -> Result<ResponsibilityReport, EngineError> {
        self.known_service(service)?;
        let reason = words(reason, "Begründung")?;
        if let Some(x) = &exception {
            check_date(&x.valid_from).map_err(invalid)?;
            words(&x.source, "Rechtsgrundlage oder Quelle")?;
            let unknown =
                self.read_catalog(|c| x.for_ars.iter().find(|f| !c.authorities.contains_key(*f)).cloned());
            if let Some(f) = unknown.filter(|_| x.responsible) {
                return Err(invalid(format!("„{f}“ in „für“ ist keine Verwaltung des Katalogs")));
            }
        }
        if self.read_catalog(|c| !c.authorities.contains_key(ars)) {
            return Err(EngineError::UnknownAuthority(ars.into()));
        }
        let before: BTreeSet<String> =
            self.read_catalog(|c| c.responsible(service).into_iter().map(|a| a.ars.clone()).collect());
        let event = CatalogEvent::ResponsibilityChanged {
            ars: ars.into(),
            exception: exception.clone(),
            reason: reason.clone(),
        };
        let recorded = self.append_to_catalog(&service_stream(service), event, req).await?;
        let after: BTreeSet<String> =
            self.read_catalog(|c| c.responsible(service).into_iter().map(|a| a.ars.clone()).collect());
        let cause = Invocation {
            causation_id: Some(recorded.event_id),
            idempotency_key: None,
            expected_version: None,
            ..req.clone()
        };
        let carrier = exception.filter(|x| x.responsible).map(|_| ars.to_owned());
        let why = format!("Zuständigkeit geändert ({service}, {ars}): {reason}");
        self.move_rollouts(service, &before, &after, carrier.as_deref(), why, &cause).await
    }

    /// The rollouts of `service` after its responsible administrations went from `before` to
    /// `after`: one no longer responsible hands its rollout to `carrier` (when that one has
    /// none) or ends it; one newly responsible that declared its interest gets its rollout.
    async fn move_rollouts(
        &self,
        service: &str,
        before: &BTreeSet<String>,
        after: &BTreeSet<String>,
        carrier: Option<&str>,
        why: String,
        cause: &Invocation,
    ) -> Result<ResponsibilityReport, EngineError> {
        let mut report = ResponsibilityReport::default();
        for gone in before.difference(after) {
            let Some(old) = self.load(service, gone).await? else { continue };
            if old.cancelled.is_some() {
                continue;
            }
            let to = match carrier {
                Some(c) if c != gone && self.store.stream_version(&stream_id(service, c)).await? == 0 => {
                    Some(c.to_owned())
                }
                _ => None,
            };
            self.hand_over(service, &old, to.as_deref(), why.clone(), cause).await?;
            match to {
                Some(to) => report.handed_over.push((gone.clone(), to)),
                None => report.closed.push(gone.clone()),
            }
        }
        for new in after.difference(before) {
            let interested = self.read_catalog(|c| {
                c.authorities
                    .get(new)
                    .and_then(|e| e.answers.get(service))
                    .is_some_and(|a| a.answer == AnswerKind::Interested)
            });
            if interested && self.start_if_absent(service, new, cause).await? {
                report.opened.push(new.clone());
            }
        }
        Ok(report)
    }

    /// Starts the rollout of `service` at `ars` (and the service's central rollout first, if it
    /// has none yet) unless it exists; whether it started. The start is the system's, caused by
    /// `cause`'s event (an interest, a change of responsibility).
    async fn start_if_absent(
        &self,
        service: &str,
        ars: &str,
        cause: &Invocation,
    ) -> Result<bool, EngineError> {
        let req = &Invocation {
            correlation_id: cause.correlation_id,
            causation_id: cause.causation_id,
            ..Invocation::system()
        };
        if self.store.stream_version(&stream_id(service, ars)).await? > 0 {
            return Ok(false);
        }
        let central = self.central_ars(service);
        if !central.is_empty() && self.store.stream_version(&stream_id(service, &central)).await? == 0 {
            self.start_rollout(service, &central, None, req).await?;
        }
        self.start_rollout(service, ars, None, req).await?;
        Ok(true)
    }

    /// A project manager offers `service` to `to` (empty: every responsible administration).
    pub async fn offer_service(
        &self,
        service: &str,
        mut offer: Offer,
        req: &Invocation,
    ) -> Result<RecordedEvent, EngineError> {
        for ars in &offer.to {
            self.check_responsible(service, ars)?;
        }
        check_date(&offer.from).map_err(invalid)?;
        offer.reason = words(&offer.reason, "Begründung")?;
        offer.conditions = optional_words(&offer.conditions, "Bedingungen")?;
        if let Some(person) = offer.contact {
            self.living_person(person)?;
        }
        offer.at = Some(self.now());
        self.append_to_catalog(&service_stream(service), CatalogEvent::ServiceOffered(offer), req).await
    }

    /// An administration answers the offer of `service`; an interest starts its rollout (if
    /// it has none), a decline or deferral never ends one. Returns the answer recorded and
    /// whether a rollout started.
    pub async fn answer_offer(
        &self,
        service: &str,
        ars: &str,
        input: AnswerInput,
        req: &Invocation,
    ) -> Result<(RecordedEvent, bool), EngineError> {
        self.check_responsible(service, ars)?;
        let text = optional_words(&input.text, "Text")?;
        let (category, until) = match input.answer {
            AnswerKind::Declined => {
                let c = input.category.ok_or_else(|| {
                    invalid("eine Ablehnung braucht eine Kategorie (eigene Lösung, kein Bedarf, keine Kapazität, Kosten, technische oder sonstige Gründe)")
                })?;
                (Some(c), None)
            }
            AnswerKind::Deferred => {
                let until = input.until.ok_or_else(|| invalid("„später“ braucht ein Datum (bis wann)"))?;
                check_date(&until).map_err(invalid)?;
                (None, Some(until))
            }
            AnswerKind::OwnSolution if text.is_empty() => {
                return Err(invalid("„eigene Lösung“: bitte nennen, welche"));
            }
            _ => (None, None),
        };
        let answer = Answer {
            service: service.into(),
            answer: input.answer,
            category,
            until,
            text,
            at: Some(self.now()),
        };
        let recorded =
            self.append_to_catalog(&authority_stream(ars), CatalogEvent::OfferAnswered(answer), req).await?;
        let started = if input.answer == AnswerKind::Interested {
            let cause = Invocation {
                causation_id: Some(recorded.event_id),
                idempotency_key: None,
                expected_version: None,
                ..req.clone()
            };
            self.start_if_absent(service, ars, &cause).await?
        } else {
            false
        };
        Ok((recorded, started))
    }

    /// Sets the target of a service (`service:<key>`), a programme (`programme:efa`,
    /// `programme:formularserver`) or the whole (`gesamt`).
    pub async fn set_target(
        &self,
        mut target: Target,
        req: &Invocation,
    ) -> Result<RecordedEvent, EngineError> {
        match target.scope.split_once(':') {
            Some(("service", key)) => self.known_service(key)?,
            Some(("programme", "efa" | "formularserver")) => {}
            None if target.scope == "gesamt" => {}
            _ => {
                return Err(invalid(format!(
                    "Ziel „{}“: erlaubt sind service:<Dienst>, programme:efa, programme:formularserver und gesamt",
                    target.scope
                )))
            }
        }
        match target.measure {
            Measure::InOperation(_) => {}
            Measure::Coverage(p) if (0.0..=100.0).contains(&p) => {}
            Measure::Coverage(p) => return Err(invalid(format!("Abdeckung {p} %: erlaubt sind 0 bis 100"))),
        }
        check_date(&target.by).map_err(invalid)?;
        target.reason = words(&target.reason, "Begründung")?;
        self.append_to_catalog(vocab::names::TARGETS_STREAM, CatalogEvent::TargetSet(target), req).await
    }

    /// Records the applications received online in a month at an administration (the latest
    /// figure for a month counts).
    pub async fn record_usage(
        &self,
        ars: &str,
        mut usage: Usage,
        req: &Invocation,
    ) -> Result<RecordedEvent, EngineError> {
        self.check_responsible(&usage.service, ars)?;
        check_month(&usage.month).map_err(invalid)?;
        if usage.count > 100_000_000 {
            return Err(invalid(format!(
                "{} Anträge in einem Monat: das ist kein plausibler Wert",
                usage.count
            )));
        }
        usage.source = words(&usage.source, "Quelle")?;
        self.append_to_catalog(&authority_stream(ars), CatalogEvent::UsageRecorded(usage), req).await
    }

    /// Records whether an administration's applications reach its back-office system digitally.
    pub async fn set_end_to_end(
        &self,
        service: &str,
        ars: &str,
        digital: bool,
        reason: &str,
        req: &Invocation,
    ) -> Result<RecordedEvent, EngineError> {
        self.check_responsible(service, ars)?;
        let reason = words(reason, "Begründung")?;
        let event = CatalogEvent::EndToEndSet { service: service.into(), digital, reason };
        self.append_to_catalog(&authority_stream(ars), event, req).await
    }

    /// Records advice or support given to an administration.
    pub async fn record_support(
        &self,
        ars: &str,
        mut support: Support,
        req: &Invocation,
    ) -> Result<RecordedEvent, EngineError> {
        if self.read_catalog(|c| !c.authorities.contains_key(ars)) {
            return Err(EngineError::UnknownAuthority(ars.into()));
        }
        if let Some(service) = &support.service {
            self.known_service(service)?;
        }
        check_date(&support.date).map_err(invalid)?;
        support.topic = words(&support.topic, "Thema")?;
        support.by = words(&support.by, "beratende Stelle")?;
        self.append_to_catalog(&authority_stream(ars), CatalogEvent::SupportRecorded(support), req).await
    }

    /// For a store written before responsibility and offers: records for every rollout of an
    /// administration (not a central one) that its administration was responsible (where the
    /// rules now say otherwise) and interested at its start. Repeating it records nothing.
    pub async fn migrate_reuse(&self, req: &Invocation) -> Result<MigrationReport, EngineError> {
        let rollouts: Vec<(String, String)> = {
            let mut out = Vec::new();
            let services: Vec<String> = self.read_catalog(|c| c.services.keys().cloned().collect());
            for service in services {
                let central = self.central_ars(&service);
                let authorities: Vec<String> = self.read_catalog(|c| c.authorities.keys().cloned().collect());
                for ars in authorities.into_iter().filter(|a| *a != central) {
                    if self.store.stream_version(&stream_id(&service, &ars)).await? > 0 {
                        out.push((service.clone(), ars));
                    }
                }
            }
            out
        };
        let mut report = MigrationReport::default();
        for (service, ars) in rollouts {
            let (dissolved, responsible, answered) = self.read_catalog(|c| {
                let e = c.authorities.get(&ars);
                (
                    e.is_none_or(|e| e.dissolved.is_some()),
                    c.is_responsible(&service, &ars),
                    e.is_some_and(|e| e.answers.contains_key(&service)),
                )
            });
            if dissolved {
                continue;
            }
            if responsible && answered {
                report.unchanged += 1;
                continue;
            }
            if !responsible {
                let exception = Exception {
                    responsible: true,
                    for_ars: Vec::new(),
                    source: "Rollout vor der Zuständigkeitsprüfung gestartet (Migration)".into(),
                    valid_from: self.now().to_string()[..10].to_owned(),
                };
                let event = CatalogEvent::ResponsibilityChanged {
                    ars: ars.clone(),
                    exception: Some(exception),
                    reason: "Migration: der Rollout lief schon, die Verwaltung war also zuständig".into(),
                };
                self.append_to_catalog(&service_stream(&service), event, req).await?;
                report.responsible += 1;
            }
            if !answered {
                let answer = Answer {
                    service: service.clone(),
                    answer: AnswerKind::Interested,
                    category: None,
                    until: None,
                    text: "Migration: Rollout vor der Angebotsabfrage gestartet, Interesse angenommen".into(),
                    at: Some(self.now()),
                };
                self.append_to_catalog(&authority_stream(&ars), CatalogEvent::OfferAnswered(answer), req)
                    .await?;
                report.interested += 1;
            }
        }
        Ok(report)
    }

    /// Appends a catalogue event to its stream the one way (`write.rs`: at the stream's exact
    /// version as stored, again after a concurrent append — the event does not depend on what
    /// the stream holds, it was checked against the catalogue), then brings the catalogue up to
    /// the stream: the events before it (another request's, another server's) and it, in order.
    async fn append_first_or_next(
        &self,
        stream: &str,
        event: CatalogEvent,
        req: &Invocation,
    ) -> Result<RecordedEvent, EngineError> {
        let recorded = self
            .decide_on_stream(stream, |_| {
                Ok(vec![crate::new_event(event.stored_type(), event.to_payload(), req)])
            })
            .await?;
        let recorded =
            recorded.into_iter().next().ok_or_else(|| EngineError::Unreadable("no event appended".into()))?;
        self.catch_up_catalog(stream, recorded.version).await?;
        Ok(recorded)
    }

    /// Applies the events of a catalogue `stream` the catalogue lacks, up to `version`.
    async fn catch_up_catalog(&self, stream: &str, version: u64) -> Result<(), EngineError> {
        let known = self.catalog_version(stream);
        if known >= version {
            return Ok(());
        }
        let events = self
            .store
            .read_stream(stream, known + 1, store::Direction::Forward, (version - known) as usize)
            .await?;
        let decoded: Vec<(u64, CatalogEvent)> = events
            .iter()
            .filter_map(|e| {
                CatalogEvent::from_stored(&e.event_type, e.schema_version, e.data.as_str())
                    .map(|d| d.map(|ev| (e.version, ev)))
            })
            .collect::<Result<_, _>>()
            .map_err(EngineError::Unreadable)?;
        let mut catalog = self.catalog.write().unwrap_or_else(|p| p.into_inner());
        for (v, event) in &decoded {
            catalog.apply_at(stream, *v, event);
        }
        Ok(())
    }
}
