//! `serve --demo`: a living system at once — three services rolled out to every administration
//! they apply to, advanced by several people and an automation token; some blocked, some overdue.

use serde_json::json;
use store::{Actor, ActorKind, Timestamp};
use workflow::decide::{Command, Principal};
use workflow::definition::Role;
use workflow::StepStatus;

use crate::Failure;

fn person(id: &str, name: &str, roles: Vec<Role>) -> engine::Request {
    engine::Request::new(Principal {
        actor: Actor { id: id.into(), name: name.into(), kind: ActorKind::Person },
        roles,
        admin: false,
    })
}

/// Valid demo evidence for a step.
fn evidence(step: &workflow::Step, ars: &str) -> workflow::Evidence {
    step.evidence.iter().map(|f| (f.id.clone(), f.ty.example(ars))).collect()
}

/// The history spans the last `DEMO_DAYS` days: the store's clock is moved back while it is made.
pub const DEMO_DAYS: f64 = 180.0;

pub async fn generate(engine: &engine::Engine, clock: &crate::serve::ShiftableClock) -> Result<(), Failure> {
    clock.days_ago(DEMO_DAYS);
    let pm = person("person:pm-land", "Petra Projekt (Land)", vec![Role::ProjectManager]);
    let pm2 = person("person:pm-dikom", "Dirk Dikom (ZV DIKOM)", vec![Role::ProjectManager]);
    let staff = [
        person("person:staff-1", "Anna Amt", vec![Role::AuthorityStaff]),
        person("person:staff-2", "Bernd Bürgeramt", vec![Role::AuthorityStaff]),
        person("person:staff-3", "Carla Kreis", vec![Role::AuthorityStaff]),
    ];
    let bot = engine::Request::new(Principal {
        actor: Actor {
            id: "token:demo-bot".into(),
            name: "Anbindungs-Bot".into(),
            kind: ActorKind::Automation,
        },
        roles: vec![],
        admin: false,
    });
    let admin = engine::Request::new(Principal { actor: Actor::system(), roles: vec![], admin: true });
    let land = catalog::LAND_ARS;
    for (k, service) in ["wohngeld", "gewerbe_anmeldung", "kfz_zulassung"].into_iter().enumerate() {
        // Each service starts a few weeks after the one before.
        clock.days_ago(DEMO_DAYS - 30.0 * k as f64);
        engine.start_service(service, &admin).await?;
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
            engine
                .execute(
                    service,
                    land,
                    Command::CompleteStep { step: step.into(), evidence, comment: None },
                    &pm,
                )
                .await?;
        }
        engine
            .execute(
                service,
                land,
                Command::ConfirmStep { step: "fit_store_vertrag".into(), comment: Some("geprüft".into()) },
                &pm2,
            )
            .await?;
        let arss: Vec<String> =
            engine.catalog().active_authorities().filter(|a| a.ars != land).map(|a| a.ars.clone()).collect();
        let span = DEMO_DAYS - 30.0 * k as f64 - 7.0;
        for (n, ars) in arss.iter().enumerate() {
            // Administrations take their turn over the following months.
            clock.days_ago(DEMO_DAYS - 30.0 * k as f64 - span * n as f64 / arss.len() as f64);
            let Some(rollout) = engine.load(service, ars).await? else { continue };
            // Each administration is somewhere else: 0 to 14 steps.
            let target = (n * 7 + service.len()) % 15;
            let mut done = 0;
            while done < target {
                let Some(r) = engine.load(service, ars).await? else { break };
                let Some(i) = r
                    .steps
                    .iter()
                    .position(|s| matches!(s.status, StepStatus::Ready | StepStatus::AwaitingConfirmation))
                else {
                    break;
                };
                let step = &r.definition.steps[i];
                let who = &staff[(n + done) % staff.len()];
                let command = if r.steps[i].status == StepStatus::AwaitingConfirmation {
                    Command::ConfirmStep { step: step.id.clone(), comment: None }
                } else {
                    Command::CompleteStep {
                        step: step.id.clone(),
                        evidence: evidence(step, ars),
                        comment: None,
                    }
                };
                let actor = if r.steps[i].status == StepStatus::AwaitingConfirmation {
                    &staff[(n + done + 1) % staff.len()]
                } else if step.automatable {
                    &bot
                } else if step.roles.contains(&Role::AuthorityStaff) {
                    who
                } else {
                    &pm
                };
                if engine.execute(service, ars, command, actor).await.is_err() {
                    break;
                }
                done += 1;
            }
            if n % 17 == 3 {
                engine
                    .execute(
                        service,
                        ars,
                        Command::Block { reason: "Fachverfahren noch nicht ausgeschrieben".into() },
                        &staff[0],
                    )
                    .await?;
            } else if n % 13 == 5 {
                let current = engine.load(service, ars).await?.unwrap_or(rollout);
                if let Some((i, _)) =
                    current.steps.iter().enumerate().find(|(_, s)| s.status == StepStatus::Ready)
                {
                    let step = current.definition.steps[i].id.clone();
                    let past =
                        Timestamp::from_unix_micros(Timestamp::now().unix_micros() - 14 * 86_400_000_000);
                    let _ = engine
                        .execute(
                            service,
                            ars,
                            Command::SetDueDate {
                                step,
                                due_at: past,
                                reason: "Frist aus der Projektplanung".into(),
                            },
                            &pm,
                        )
                        .await;
                }
            }
        }
    }
    clock.days_ago(0.0);
    Ok(())
}
