//! Property tests: random command sequences never panic, and the state after every step equals
//! the fold of all events emitted so far; the parsers survive any input.

use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::prelude::*;
use serde_json::json;
use vocab::{Actor, ActorKind, Timestamp};
use workflow::condition::{Condition, Value};
use workflow::decide::{decide, Command, Context, Principal};
use workflow::definition::{parse, Definition, Role};
use workflow::events::RolloutEvent;
use workflow::rollout::{Definitions, Meta, Records, Rollout};
use workflow::Facts;

struct Defs(Vec<Arc<Definition>>);

impl Definitions for Defs {
    fn get(&self, id: &str, version: u32) -> Option<Arc<Definition>> {
        self.0.iter().find(|d| d.id == id && d.version == version).cloned()
    }
}

fn onboarding() -> Arc<Definition> {
    let path = format!("{}/../../workflows/archive/efa-onboarding.v1.toml", env!("CARGO_MANIFEST_DIR"));
    Arc::new(parse(&std::fs::read(path).expect("read")).expect("valid"))
}

fn principal(who: u8) -> Principal {
    let (id, kind, roles, admin) = match who % 5 {
        0 => ("person:staff", ActorKind::Person, vec![Role::AuthorityStaff], false),
        1 => ("person:staff2", ActorKind::Person, vec![Role::AuthorityStaff], false),
        2 => ("person:pm", ActorKind::Person, vec![Role::ProjectManager], false),
        3 => ("token:bot", ActorKind::Automation, vec![], false),
        _ => ("person:admin", ActorKind::Person, vec![], true),
    };
    Principal { actor: Actor { id: id.into(), name: id.into(), kind, person: None }, roles, admin }
}

fn command(def: &Definition, kind: u8, step: usize, variant: u8) -> Command {
    let step_def = &def.steps[step % def.steps.len()];
    let step_id = step_def.id.clone();
    let reason = if variant.is_multiple_of(4) { String::new() } else { "Grund".into() };
    match kind % 14 {
        0 => Command::StartStep { step: step_id },
        1..=3 => {
            // Mostly valid evidence, sometimes broken.
            let mut evidence = BTreeMap::new();
            for (k, f) in step_def.evidence.iter().enumerate() {
                let v = match (variant as usize + k) % 7 {
                    0 => json!(12),
                    _ => match f.ty.name() {
                        "date" => json!("2025-03-31"),
                        "url" => json!("https://example.org/x"),
                        "uuid" => json!("4f6bd8b0-6b5e-4c7a-9d1e-2f0c1a7e3b11"),
                        "leika" => json!("99107023017000"),
                        "ars" => json!("120540000000"),
                        "number" => json!(1.5),
                        "boolean" => json!(false),
                        "enum" => match &f.ty {
                            workflow::FieldType::Enumeration(v) => json!(v[0]),
                            _ => json!(null),
                        },
                        _ => json!("Text"),
                    },
                };
                evidence.insert(f.id.clone(), v);
            }
            Command::CompleteStep { step: step_id, evidence, comment: None }
        }
        4 => Command::ConfirmStep { step: step_id, comment: None },
        5 => Command::ReopenStep { step: step_id, reason },
        6 => Command::MarkNotRequired { step: step_id, reason },
        7 => Command::Block { reason, block: Default::default() },
        8 => Command::Unblock { reason, solution: None, share_name: false },
        9 => Command::Comment { text: reason, step: (variant.is_multiple_of(2)).then_some(step_id) },
        10 => Command::Assign {
            assignee: (variant.is_multiple_of(2)).then(|| "Frau Kaiser".to_string()),
            reason: "Vertretung".into(),
        },
        11 => Command::RecordLandStep {
            step: ["fit_store_vertrag", "onlinedienst_bereit"][variant as usize % 2].into(),
            done: !variant.is_multiple_of(3),
        },
        12 => Command::RecordOverdue { step: step_id },
        _ => {
            if variant.is_multiple_of(9) {
                Command::Cancel { reason }
            } else {
                Command::SetDueDate {
                    step: step_id,
                    due_at: Timestamp::from_unix_micros(1_800_000_000_000_000),
                    reason,
                }
            }
        }
    }
}

fn fold(events: &[(RolloutEvent, Timestamp, Actor)], defs: &Defs) -> Option<Rollout> {
    let mut state = None;
    for (e, at, actor) in events {
        let meta = Meta { at: *at, actor };
        state = Some(Rollout::evolve(state, e, &meta, defs).expect("stored events always fold"));
    }
    state
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn random_commands_never_panic_and_state_is_the_fold_of_events(
        fee_based: bool,
        script in proptest::collection::vec((any::<u8>(), any::<u8>(), 0usize..64, any::<u8>(), 0i64..5), 1..120),
    ) {
        let def = onboarding();
        let defs = Defs(vec![def.clone()]);
        let mut facts = Facts::default();
        facts.set("service.fee_based", Value::Bool(fee_based));
        let mut now = 1_700_000_000_000_000i64;
        let mut log: Vec<(RolloutEvent, Timestamp, Actor)> = Vec::new();
        let mut state: Option<Rollout> = None;
        let start = Command::Start { service_key: "wohngeld".into(), ars: "120640000000".into(), definition: def.clone(), facts: facts.clone(), land_steps_done: vec![] };
        let cx = Context { principal: principal(2), now: Timestamp::from_unix_micros(now), facts: Default::default() };
        for e in decide(None, &start, &cx).expect("start") {
            let meta = Meta { at: cx.now, actor: &cx.principal.actor };
            state = Some(Rollout::evolve(state, &e, &meta, &defs).expect("evolve"));
            log.push((e, cx.now, cx.principal.actor.clone()));
        }
        for (who, kind, step, variant, days) in script {
            now += days * 86_400_000_000;
            let cx = Context { principal: principal(who), now: Timestamp::from_unix_micros(now), facts: Default::default() };
            let command = command(&def, kind, step, variant);
            if let Ok(events) = decide(state.as_ref(), &command, &cx) {
                prop_assert!(!events.is_empty(), "an accepted command records something");
                for e in events {
                    let meta = Meta { at: cx.now, actor: &cx.principal.actor };
                    state = Some(Rollout::evolve(state, &e, &meta, &defs).expect("evolve"));
                    log.push((e, cx.now, cx.principal.actor.clone()));
                }
            }
            let folded = fold(&log, &defs);
            prop_assert_eq!(&folded, &state);
            // A summary evolved without records is the summary of the full state.
            let mut summary: Option<Rollout> = None;
            for (e, at, actor) in &log {
                let meta = Meta { at: *at, actor };
                match summary.as_mut() {
                    None => summary = Some(Rollout::started(e, &meta, &defs).expect("started")),
                    Some(r) => r.apply(e, &meta, &defs, Records::Forget).expect("applies"),
                }
            }
            let mut expected = state.clone();
            if let Some(r) = expected.as_mut() {
                r.forget_records();
            }
            prop_assert_eq!(&summary, &expected);
            prop_assert!(summary.as_ref().is_some_and(|r| !r.has_records()));
            let r = state.as_ref().expect("started");
            prop_assert_eq!(r.version, log.len() as u64);
            // Stored form round trip: what is written is what is read.
            let (e, _, _) = log.last().expect("events");
            let (ty, version) = e.stored_type();
            let back = RolloutEvent::from_stored(ty, version, &e.to_payload().to_string());
            prop_assert_eq!(back.as_ref(), Ok(e));
        }
    }

    #[test]
    fn the_definition_parser_survives_any_input(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = parse(&bytes);
    }

    #[test]
    fn the_definition_parser_survives_mangled_definitions(cut in 0usize..20_000, at in 0usize..20_000, byte: u8) {
        let path = format!("{}/../../workflows/archive/efa-onboarding.v1.toml", env!("CARGO_MANIFEST_DIR"));
        let mut bytes = std::fs::read(path).expect("read");
        let at = at % bytes.len();
        bytes[at] = byte;
        bytes.truncate(cut.max(1).min(bytes.len()));
        let _ = parse(&bytes);
    }

    #[test]
    fn the_condition_parser_survives_any_input(src in "[a-z_. ()\\[\\],\"=!<>0-9-]{0,80}") {
        if let Ok(c) = Condition::parse(&src) {
            let _ = c.eval(&Facts::default());
        }
    }
}

#[test]
fn every_event_kind_round_trips_through_its_stored_form() {
    use workflow::events::*;
    let all = vec![
        RolloutEvent::Started(RolloutStarted {
            service_key: "s".into(),
            ars: "120540000000".into(),
            definition_id: "d".into(),
            definition_version: 1,
            definition_hash: "h".into(),
            not_applicable: vec!["x".into()],
            land_steps_done: vec![],
        }),
        RolloutEvent::StepStarted { step: "a".into() },
        RolloutEvent::StepCompleted(StepCompleted {
            step: "a".into(),
            evidence: BTreeMap::from([("f".into(), json!("v"))]),
            comment: Some("c".into()),
            awaiting_confirmation: true,
        }),
        RolloutEvent::StepConfirmed { step: "a".into(), comment: None },
        RolloutEvent::StepReopened { step: "a".into(), reason: "r".into(), dependents: vec!["b".into()] },
        RolloutEvent::StepMarkedNotRequired { step: "a".into(), reason: "r".into() },
        RolloutEvent::Blocked { reason: "r".into(), block: Default::default() },
        RolloutEvent::Blocked {
            reason: "r".into(),
            block: Blockage {
                category: Some("technik".into()),
                vendor: Some("v".into()),
                step: Some("a".into()),
            },
        },
        RolloutEvent::Unblocked { reason: "r".into(), solution: None },
        RolloutEvent::Unblocked {
            reason: "r".into(),
            solution: Some(Solution {
                text: "s".into(),
                problem: "p".into(),
                block: Blockage { category: Some("personal".into()), vendor: None, step: None },
                share_name: true,
            }),
        },
        RolloutEvent::Escalated {
            reason: "r".into(),
            category: Some("fachverfahren".into()),
            vendor: Some("v".into()),
        },
        RolloutEvent::CommentAdded { text: "t".into(), step: None },
        RolloutEvent::Assigned { assignee: Some("x".into()), reason: "r".into() },
        RolloutEvent::DueDateSet { step: "a".into(), due_at: 5, reason: "r".into() },
        RolloutEvent::DefinitionMigrated(DefinitionMigrated {
            to_id: None,
            from_version: 1,
            to_version: 2,
            to_hash: "h".into(),
            mapping: BTreeMap::new(),
            not_applicable: vec![],
            reason: None,
        }),
        RolloutEvent::DefinitionMigrated(DefinitionMigrated {
            to_id: Some("efa-onboarding-xta".into()),
            from_version: 1,
            to_version: 1,
            to_hash: "h".into(),
            mapping: BTreeMap::new(),
            not_applicable: vec![],
            reason: Some("OSCI/XTA".into()),
        }),
        RolloutEvent::Cancelled { reason: "r".into() },
        RolloutEvent::LandStepChanged { step: "l".into(), done: true },
        RolloutEvent::StepOverdue { step: "a".into(), due_at: 7 },
        RolloutEvent::Transferred { to_ars: Some("120735051000".into()), reason: "r".into() },
        RolloutEvent::TakenOver(TakenOver {
            from_ars: "120735310000".into(),
            reason: "r".into(),
            steps: vec![TakenStep {
                step: "a".into(),
                status: "done".into(),
                evidence: BTreeMap::new(),
                comment: None,
                completed_by: Some(Actor {
                    id: "p".into(),
                    name: "P".into(),
                    kind: ActorKind::Person,
                    person: None,
                }),
                completed_at: Some(3),
            }],
            reopened: vec!["b".into()],
        }),
    ];
    let mut names = std::collections::BTreeSet::new();
    for e in all {
        let (ty, v) = e.stored_type();
        names.insert(ty);
        let payload = e.to_payload();
        assert!(payload.is_object(), "{ty}: the payload is the variant's fields");
        assert_eq!(RolloutEvent::from_stored(ty, v, &payload.to_string()), Ok(e));
    }
    assert_eq!(names.len(), 18, "every kind has its own stored name");
    assert!(RolloutEvent::from_stored("StepCompleted", 2, "{}")
        .expect_err("v2")
        .contains("schema version 2"));
    assert!(RolloutEvent::from_stored("Nope", 1, "{}").is_err());
    let payload = RolloutEvent::DueDateSet { step: "a".into(), due_at: 5, reason: "r".into() }.to_payload();
    assert_eq!(payload, json!({ "step": "a", "dueAt": 5, "reason": "r" }), "fields are camelCase");
}
