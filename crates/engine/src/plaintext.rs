//! Finding personal data that a store written before persons were records holds in plain text:
//! contact names and addresses in evidence, the display names of actors, token names. The log
//! cannot be rewritten (its hash chain is the proof); the report says where each value is, so
//! an operator can decide — e.g. a re-keyed copy into a new store. Values are never printed.

use std::collections::HashMap;

use store::{EventStore, RecordedEvent};
use workflow::evidence::FieldType;
use workflow::rollout::Definitions;
use workflow::{Registry, RolloutEvent};

use crate::EngineError;

/// One place of plain-text personal data (or of a value that may be one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub position: u64,
    pub stream_id: String,
    pub event_type: String,
    /// What it is, e.g. `evidence interesse.kontakt (Ansprechperson der Verwaltung, text)`.
    pub what: String,
}

/// Words in a field's id or label that say it names a person.
const PERSON_WORDS: &[&str] = &["ansprechperson", "kontakt", "person", "name", "telefon", "e-mail", "email"];

pub(crate) fn names_a_person(field: &workflow::definition::Field) -> bool {
    match field.ty {
        FieldType::Email => true,
        FieldType::Text => {
            let (id, label) = (field.id.to_lowercase(), field.label.to_lowercase());
            PERSON_WORDS.iter().any(|w| id.contains(w) || label.contains(w))
        }
        _ => false,
    }
}

/// Every place of the log, in log order, where personal data may be in plain text: evidence
/// of contact-like text and e-mail fields, the first event of each actor recorded with a
/// display name (and how many more), token names. `registry` learns the log's publications.
pub async fn find_plaintext(
    store: &dyn EventStore,
    registry: &Registry,
    mut progress: impl FnMut(u64),
) -> Result<Vec<Finding>, EngineError> {
    let mut findings = Vec::new();
    let mut definition_of: HashMap<String, (String, u32)> = HashMap::new();
    let mut actors: HashMap<String, (usize, u64)> = HashMap::new();
    let mut from = 1;
    loop {
        let page = store.read_all(from, 1_000).await?;
        let Some(last) = page.last() else { break };
        from = last.position + 1;
        for e in &page {
            crate::definitions::learn(registry, e)?;
            look_at(e, registry, &mut definition_of, &mut actors, &mut findings);
        }
        progress(from - 1);
    }
    for (i, count) in actors.into_values().filter(|(_, n)| *n > 1) {
        let f = &mut findings[i];
        f.what = format!("{} (and in {} more events of this actor)", f.what, count - 1);
    }
    Ok(findings)
}

fn look_at(
    e: &RecordedEvent,
    registry: &Registry,
    definition_of: &mut HashMap<String, (String, u32)>,
    actors: &mut HashMap<String, (usize, u64)>,
    findings: &mut Vec<Finding>,
) {
    let mut found = |what: String| {
        findings.push(Finding {
            position: e.position,
            stream_id: e.stream_id.clone(),
            event_type: e.event_type.clone(),
            what,
        });
        findings.len() - 1
    };
    if e.actor.kind == store::ActorKind::Person && e.actor.person.is_none() && !e.actor.name.is_empty() {
        match actors.get_mut(&e.actor.id) {
            Some((_, n)) => *n += 1,
            None => {
                let at = found(format!("the display name of actor {}", e.actor.id));
                actors.insert(e.actor.id.clone(), (at, 1));
            }
        }
    }
    if e.event_type == crate::tokens::TOKEN_ISSUED.0 {
        found("a token's name (a label: check that it names no person)".into());
        return;
    }
    if !e.stream_id.starts_with(vocab::names::ROLLOUT_STREAM_PREFIX) {
        return;
    }
    let Ok(event) = RolloutEvent::from_stored(&e.event_type, e.schema_version, e.data.as_str()) else {
        return;
    };
    match event {
        RolloutEvent::Started(s) => {
            definition_of.insert(e.stream_id.clone(), (s.definition_id, s.definition_version));
        }
        RolloutEvent::DefinitionMigrated(m) => {
            if let Some((id, version)) = definition_of.get_mut(&e.stream_id) {
                if let Some(to) = m.to_id {
                    *id = to;
                }
                *version = m.to_version;
            }
        }
        RolloutEvent::StepCompleted(done) => {
            let Some((id, version)) = definition_of.get(&e.stream_id) else { return };
            let Some(definition) = registry.get(id, *version) else { return };
            let Some(step) = definition.steps.iter().find(|s| s.id == done.step) else { return };
            for field in step.evidence.iter().filter(|f| names_a_person(f)) {
                if done.evidence.get(&field.id).and_then(|v| v.as_str()).is_some_and(|v| !v.trim().is_empty())
                {
                    found(format!(
                        "evidence {}.{} ({}, {})",
                        step.id,
                        field.id,
                        field.label,
                        field.ty.name()
                    ));
                }
            }
        }
        _ => {}
    }
}
