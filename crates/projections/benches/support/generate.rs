//! A realistic log for benchmarks, shared by `read_models` and the binary's `growth` bench
//! (`#[path]`-included there): rollouts of `efa-onboarding` advanced through the domain's own
//! `decide` and `evolve` by a hundred people and a bot, with valid evidence, four-eyes
//! confirmations and comments; catalogue events for the authorities and services they need.

use catalog::CatalogEvent;
use engine::Registry;
use store::{Actor, ActorKind, Json, NewEvent};
use uuid::Uuid;
use workflow::decide::{decide, Command, Context, Principal};
use workflow::definition::Role;
use workflow::rollout::{Meta, Rollout, StepStatus};
use workflow::{Facts, RolloutEvent};

pub fn new_event(e: &RolloutEvent, actor: &Actor) -> NewEvent {
    let (ty, v) = e.stored_type();
    NewEvent::new(ty, v, Json::from_value(&e.to_payload()), actor.clone(), Uuid::now_v7())
}

pub fn catalog_event(e: &CatalogEvent) -> NewEvent {
    let (ty, v) = e.stored_type();
    NewEvent::new(ty, v, Json::from_value(&e.to_payload()), Actor::system(), Uuid::now_v7())
}

/// Valid evidence for every field of a step.
pub fn evidence(step: &workflow::Step) -> workflow::Evidence {
    step.evidence.iter().map(|f| (f.id.clone(), f.ty.example("120540000000"))).collect()
}

/// The events of one rollout with `progress` steps done, by a few people and a bot.
pub fn rollout_events(
    registry: &Registry,
    service: &str,
    ars: &str,
    progress: usize,
    seed: u64,
) -> Vec<(RolloutEvent, Actor)> {
    let def = registry.latest("efa-onboarding").expect("definition");
    let people: Vec<Actor> = (0..100)
        .map(|i| Actor {
            id: format!("person:{i}"),
            name: format!("Person {i}"),
            kind: ActorKind::Person,
            person: None,
        })
        .collect();
    let bot = Actor { id: "token:bot".into(), name: "Bot".into(), kind: ActorKind::Automation, person: None };
    let mut out = Vec::new();
    let mut state: Option<Rollout> = None;
    let now = store::Clock::now(&store::SystemClock);
    let mut run = |state: &mut Option<Rollout>, command: Command, actor: Actor, admin: bool| {
        let principal = Principal {
            actor: actor.clone(),
            roles: vec![Role::AuthorityStaff, Role::ProjectManager],
            admin,
        };
        if let Ok(events) =
            decide(state.as_ref(), &command, &Context { principal, now, facts: workflow::Facts::default() })
        {
            for e in events {
                *state = Rollout::evolve(state.take(), &e, &Meta { at: now, actor: &actor }, registry).ok();
                out.push((e, actor.clone()));
            }
        }
    };
    let admin =
        Actor { id: "person:admin".into(), name: "Admin".into(), kind: ActorKind::Person, person: None };
    let mut facts = Facts::default();
    facts.set("service.fee_based", workflow::condition::Value::Bool(seed.is_multiple_of(3)));
    let start = Command::Start {
        service_key: service.into(),
        ars: ars.into(),
        definition: def.clone(),
        facts,
        land_steps_done: vec![],
    };
    run(&mut state, start, admin.clone(), true);
    for land in ["fit_store_vertrag", "onlinedienst_bereit"] {
        run(&mut state, Command::RecordLandStep { step: land.into(), done: true }, Actor::system(), true);
    }
    let mut done = 0;
    let mut k = seed;
    while done < progress {
        let Some(r) = state.clone() else { break };
        let Some(i) = r.next_open_step() else { break };
        k = k.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let person = people[(k >> 33) as usize % people.len()].clone();
        let step = &def.steps[i];
        if r.steps[i].status == StepStatus::AwaitingConfirmation {
            run(
                &mut state,
                Command::ConfirmStep { step: step.id.clone(), comment: None },
                people[((k >> 40) as usize + 1) % 100].clone(),
                false,
            );
            continue;
        }
        let actor = if step.automatable { bot.clone() } else { person };
        run(
            &mut state,
            Command::CompleteStep {
                step: step.id.clone(),
                evidence: evidence(step),
                comment: Some("erledigt".into()),
            },
            actor.clone(),
            false,
        );
        if k.is_multiple_of(5) {
            run(
                &mut state,
                Command::Comment { text: "Rückfrage geklärt".into(), step: Some(step.id.clone()) },
                actor,
                false,
            );
        }
        done += 1;
    }
    out
}

/// An administration of the catalogue (a Landkreis when `landkreis` is `None`).
pub fn authority(ars: String, name: String, landkreis: Option<String>) -> catalog::Authority {
    let kind = match landkreis {
        None => catalog::AuthorityKind::Landkreis,
        Some(_) => catalog::AuthorityKind::AmtsfreieGemeinde,
    };
    catalog::Authority {
        official_name: name.clone(),
        name,
        ars,
        kind,
        population: if landkreis.is_none() { 150_000 } else { 8_000 },
        landkreis_ars: landkreis,
        seat: String::new(),
        members: vec![],
        association_member: false,
        status: None,
    }
}

/// A municipal EfA service on the bundled definitions.
pub fn service(key: String, fee_based: bool) -> catalog::Service {
    catalog::Service {
        name: key.replace("dienst_", "Dienst "),
        key,
        ozg_id: None,
        leika_keys: vec!["99107023017000".into()],
        subject_area: "Test".into(),
        providing_state: None,
        responsible_level: catalog::Level::GemeindeAmt,
        fee_based,
        program: catalog::Program::Efa,
        definition: catalog::DefinitionRef::authority_default(),
        land_definition: catalog::DefinitionRef::land_default(),
    }
}

/// Appends catalogue registrations, each to its own stream, as the catalogue import does.
pub async fn register(store: &dyn store::EventStore, events: &[CatalogEvent]) {
    for e in events {
        let stream = match e {
            CatalogEvent::AuthorityRegistered(a) => format!("authority-{}", a.ars),
            CatalogEvent::ServiceRegistered(s) => format!("service-{}", s.key),
            other => panic!("only registrations, not {other:?}"),
        };
        store
            .append(&stream, store::ExpectedVersion::NoStream, vec![catalog_event(e)])
            .await
            .expect("append");
    }
}
