//! `serve --demo`: a living system at once — three services rolled out to every administration
//! they apply to, advanced by several people and an automation token; some blocked, some overdue.

use serde_json::json;
use store::{Actor, ActorKind, Timestamp};
use workflow::decide::{Command, Principal};
use workflow::definition::Role;
use workflow::StepStatus;

use crate::Failure;

fn person(id: &str, name: &str, roles: Vec<Role>) -> engine::Invocation {
    engine::Invocation::new(Principal {
        actor: Actor { id: id.into(), name: name.into(), kind: ActorKind::Person },
        roles,
        admin: false,
    })
}

/// Valid demo evidence for a step.
fn evidence(step: &workflow::Step, ars: &str) -> workflow::Evidence {
    step.example_evidence(ars)
}

/// The history spans the last `DEMO_DAYS` days: the store's clock is moved back while it is made.
pub const DEMO_DAYS: f64 = 180.0;

/// The people and the automation token who act in the demo.
struct Cast {
    pm: engine::Invocation,
    pm2: engine::Invocation,
    staff: [engine::Invocation; 3],
    bot: engine::Invocation,
    admin: engine::Invocation,
}

/// One thing that happens at one time: a service is started (and the Land does its part), or an
/// administration takes its turn on a service.
enum Turn {
    Service { k: usize },
    Authority { k: usize, n: usize, ars: String },
}

const SERVICES: [&str; 3] = ["wohngeld", "gewerbe_anmeldung", "kfz_zulassung"];

pub async fn generate(engine: &engine::Engine, clock: &crate::serve::ShiftableClock) -> Result<(), Failure> {
    let cast = Cast {
        pm: person("person:pm-land", "Petra Projekt (Land)", vec![Role::ProjectManager]),
        pm2: person("person:pm-dikom", "Dirk Dikom (ZV DIKOM)", vec![Role::ProjectManager]),
        staff: [
            person("person:staff-1", "Anna Amt", vec![Role::AuthorityStaff]),
            person("person:staff-2", "Bernd Bürgeramt", vec![Role::AuthorityStaff]),
            person("person:staff-3", "Carla Kreis", vec![Role::AuthorityStaff]),
        ],
        bot: engine::Invocation::new(Principal {
            actor: Actor {
                id: "token:demo-bot".into(),
                name: "Anbindungs-Bot".into(),
                kind: ActorKind::Automation,
            },
            roles: vec![],
            admin: false,
        }),
        admin: engine::Invocation::system(),
    };
    let land = catalog::LAND_ARS;
    let arss: Vec<String> =
        engine.catalog().active_authorities().filter(|a| a.ars != land).map(|a| a.ars.clone()).collect();
    // Each service starts a month after the one before; its administrations take their turn over
    // the following months. The store keeps recorded times in log order, so the turns of all
    // services are played in the order of their times.
    let mut turns: Vec<(f64, Turn)> = Vec::new();
    for k in 0..SERVICES.len() {
        let begin = DEMO_DAYS - 30.0 * k as f64;
        turns.push((begin, Turn::Service { k }));
        let span = begin - 7.0;
        for (n, ars) in arss.iter().enumerate() {
            let at = begin - 0.5 - span * n as f64 / arss.len() as f64;
            turns.push((at, Turn::Authority { k, n, ars: ars.clone() }));
        }
    }
    turns.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (days_ago, turn) in turns {
        clock.days_ago(days_ago);
        match turn {
            Turn::Service { k } => start_service(engine, &cast, k).await?,
            Turn::Authority { k, n, ars } => authority_turn(engine, &cast, k, n, &ars).await?,
        }
    }
    clock.days_ago(0.0);
    Ok(())
}

/// Starts a service everywhere; the Land completes its first steps (for the first two services
/// all of them, so administrations can go live).
async fn start_service(engine: &engine::Engine, cast: &Cast, k: usize) -> Result<(), Failure> {
    let service = SERVICES[k];
    let land = catalog::LAND_ARS;
    engine.start_service(service, &cast.admin).await?;
    let land_steps = [
        ("interesse_land", json!({ "datum": "2026-06-01", "ressort": "MIK" })),
        ("bedarf_abgestimmt", json!({ "protokoll": "Protokoll 2026-06" })),
        (
            "fit_store_vertrag",
            json!({ "vertragsart": "fit_store", "vertragsnummer": "FS-2026-7", "unterzeichnet_am": "2026-07-01" }),
        ),
    ];
    for (step, ev) in land_steps {
        let evidence = ev.as_object().cloned().unwrap_or_default().into_iter().collect();
        let command = Command::CompleteStep { step: step.into(), evidence, comment: None };
        engine.execute(service, land, command, &cast.pm).await?;
    }
    let confirm = Command::ConfirmStep { step: "fit_store_vertrag".into(), comment: Some("geprüft".into()) };
    engine.execute(service, land, confirm, &cast.pm2).await?;
    if k < 2 {
        for step in ["finanzierung", "leistungsbeschreibung", "onlinedienst_bereit"] {
            let Some(r) = engine.load(service, land).await? else { break };
            let Some(i) = r.definition.step_index(step) else { continue };
            let command = Command::CompleteStep {
                step: step.into(),
                evidence: evidence(&r.definition.steps[i], land),
                comment: None,
            };
            engine.execute(service, land, command, &cast.pm).await?;
        }
    }
    Ok(())
}

/// The `n`-th administration's turn on service `k`: a number of steps, and for some a block or
/// a due date in the past.
async fn authority_turn(
    engine: &engine::Engine,
    cast: &Cast,
    k: usize,
    n: usize,
    ars: &str,
) -> Result<(), Failure> {
    let service = SERVICES[k];
    let Some(rollout) = engine.load(service, ars).await? else { return Ok(()) };
    // Each administration is somewhere else: 0 to 14 steps; every fifth administration of the
    // first two services has gone live.
    let target = if k < 2 && n.is_multiple_of(5) { usize::MAX } else { (n * 7 + service.len()) % 15 };
    let staff = &cast.staff;
    let mut done = 0;
    while done < target {
        let Some(r) = engine.load(service, ars).await? else { break };
        let Some(i) = r.next_open_step() else { break };
        let step = &r.definition.steps[i];
        let confirming = r.steps[i].status == StepStatus::AwaitingConfirmation;
        let command = if confirming {
            Command::ConfirmStep { step: step.id.clone(), comment: None }
        } else {
            Command::CompleteStep { step: step.id.clone(), evidence: evidence(step, ars), comment: None }
        };
        let actor = if confirming {
            &staff[(n + done + 1) % staff.len()]
        } else if step.automatable {
            &cast.bot
        } else if step.roles.contains(&Role::AuthorityStaff) {
            &staff[(n + done) % staff.len()]
        } else {
            &cast.pm
        };
        if engine.execute(service, ars, command, actor).await.is_err() {
            break;
        }
        done += 1;
    }
    if n % 17 == 3 {
        let block = Command::Block { reason: "Fachverfahren noch nicht ausgeschrieben".into() };
        engine.execute(service, ars, block, &staff[0]).await?;
    } else if n % 13 == 5 {
        let current = engine.load(service, ars).await?.unwrap_or(rollout);
        if let Some((i, _)) = current.steps.iter().enumerate().find(|(_, s)| s.status == StepStatus::Ready) {
            let step = current.definition.steps[i].id.clone();
            // Overdue by the real clock, whatever the demo's clock says while the history is made.
            let now = store::Clock::now(&store::SystemClock);
            let past = Timestamp::from_unix_micros(now.unix_micros() - 14 * 86_400_000_000);
            let due =
                Command::SetDueDate { step, due_at: past, reason: "Frist aus der Projektplanung".into() };
            let _ = engine.execute(service, ars, due, &cast.pm).await;
        }
    }
    Ok(())
}
