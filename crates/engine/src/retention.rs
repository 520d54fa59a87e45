//! Retention: persons erased when their period has passed — after leaving their
//! administration (`--person-retention`), and the contacts a definition's `retention` names
//! once the rollouts that name them ended. Each erasure is a `PersonErased` by the system naming
//! the rule, like a manual one.

use std::collections::HashMap;

use uuid::Uuid;
use workflow::evidence::FieldType;

use crate::persons::*;
use crate::{EngineError, Invocation};

impl crate::Engine {
    /// Erases every person that left more than `retention` before the store's clock's today,
    /// as the system with `reason` naming the rule; returns who was erased.
    pub async fn erase_due_persons(&self, retention: Retention) -> Result<Vec<Uuid>, EngineError> {
        let today = self.now().to_string();
        let Some(cutoff) = today.get(..10).and_then(|day| retention.cutoff(day)) else {
            return Ok(Vec::new());
        };
        let due = self.persons.left_on_or_before(&cutoff);
        let reason = format!("Aufbewahrungsfrist {} nach dem Ausscheiden abgelaufen", retention.text);
        for &id in &due {
            match self.erase_person(id, &reason, &Invocation::system()).await {
                Ok(_) | Err(EngineError::PersonErased(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(due)
    }

    /// Erases every person whose rollouts have all ended long enough ago: a person named in the
    /// `person` evidence of rollouts of their administration is due when each of those rollouts
    /// is in operation or cancelled and its definition's `retention` has passed since its last
    /// change, and no active token names the person. Persons named by no rollout, or by one whose
    /// definition gives no retention, are left alone. Returns who was erased.
    ///
    /// Reads every rollout of each administration that has persons (the services of the
    /// catalogue × those administrations, through the rollout cache); contacts named in another
    /// administration's rollouts are not looked for there.
    pub async fn erase_due_contacts(&self) -> Result<Vec<Uuid>, EngineError> {
        let today = self.now().to_string();
        let Some(today) = today.get(..10) else { return Ok(Vec::new()) };
        let mut by_ars: std::collections::BTreeMap<String, Vec<Uuid>> = std::collections::BTreeMap::new();
        for p in self.persons.all().into_iter().filter(|p| p.erased.is_none()) {
            by_ars.entry(p.ars).or_default().push(p.id);
        }
        let services: Vec<String> = self.catalog().services.keys().cloned().collect();
        let mut erased = Vec::new();
        for (ars, persons) in by_ars {
            // Per person: whether every rollout naming it is due, and the periods that applied.
            let mut named: HashMap<Uuid, (bool, Vec<String>)> = HashMap::new();
            for service in &services {
                let Some(r) = self.load(service, &ars).await? else { continue };
                let ended = matches!(r.status(), workflow::Status::Live | workflow::Status::Cancelled);
                let due = match (&r.definition.retention, ended) {
                    (Some(period), true) => period.cutoff(today).is_some_and(|cut| {
                        r.updated_at.to_string().get(..10).is_some_and(|changed| changed <= cut.as_str())
                    }),
                    _ => false,
                };
                for (i, step) in r.definition.steps.iter().enumerate() {
                    let Some(record) = r.record(i) else { continue };
                    for field in step.evidence.iter().filter(|f| f.ty == FieldType::Person) {
                        let Some(id) = record.evidence.get(&field.id).and_then(|v| v.as_str()) else {
                            continue;
                        };
                        let Ok(id) = Uuid::parse_str(id) else { continue };
                        let entry = named.entry(id).or_insert((true, Vec::new()));
                        entry.0 &= due;
                        if let Some(period) = &r.definition.retention {
                            entry.1.push(period.text.clone());
                        }
                    }
                }
            }
            for id in persons {
                let Some((true, periods)) = named.get(&id) else { continue };
                if !self.tokens().active_of_person(id).is_empty() {
                    continue;
                }
                let mut periods = periods.clone();
                periods.sort();
                periods.dedup();
                let reason = format!(
                    "Aufbewahrungsfrist {} nach Abschluss der Anbindungen abgelaufen",
                    periods.join(", ")
                );
                match self.erase_person(id, &reason, &Invocation::system()).await {
                    Ok(_) => erased.push(id),
                    Err(EngineError::PersonErased(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(erased)
    }
}

/// Erases, every `every`, the persons whose retention period has passed: after leaving, when
/// `after_leaving` is given ([`crate::Engine::erase_due_persons`]), and after the rollouts that
/// name them ended, as their definitions say ([`crate::Engine::erase_due_contacts`]). Each
/// erasure is a `PersonErased` by the system naming the rule, like a manual one.
pub fn spawn_retention_policy(
    engine: std::sync::Arc<crate::Engine>,
    after_leaving: Option<Retention>,
    every: std::time::Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            if let Some(retention) = &after_leaving {
                match engine.erase_due_persons(retention.clone()).await {
                    Ok(erased) if !erased.is_empty() => {
                        tracing::info!(persons = erased.len(), retention = %retention.text, "erased persons whose retention period after leaving passed")
                    }
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = %e, "the retention policy failed"),
                }
            }
            match engine.erase_due_contacts().await {
                Ok(erased) if !erased.is_empty() => {
                    tracing::info!(
                        persons = erased.len(),
                        "erased contacts whose rollouts' retention period passed"
                    )
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "the retention policy failed"),
            }
        }
    })
}
