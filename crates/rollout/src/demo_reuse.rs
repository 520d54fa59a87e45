//! The demo's reuse decisions and the ministry's figures: each service is offered to every
//! responsible administration (Fürstenwalde/Spree for Wohngeld by its exception) and most
//! answer with interest — which starts their rollout —, some decline, defer or run their own
//! solution, some of the newest service have not answered; then targets, monthly usage of the
//! administrations in operation, Ende-zu-Ende and the advice the Land gave.

use catalog::{AnswerKind, DeclineCategory, Measure, Offer, Support, Target, Usage};
use engine::reuse::AnswerInput;
use store::Timestamp;

use crate::Failure;

fn date(t: Timestamp) -> String {
    t.to_string().chars().take(10).collect()
}

fn days_later(engine: &engine::Engine, days: i64) -> String {
    date(Timestamp::from_unix_micros(engine.now().unix_micros() + days * 86_400_000_000))
}

/// The project manager offers `service` to every responsible administration and starts its
/// central rollout (the Land's part comes first).
pub(crate) async fn offer(
    engine: &engine::Engine,
    pm: &engine::Invocation,
    service: &str,
) -> Result<(), Failure> {
    let offer = Offer {
        to: Vec::new(),
        from: date(engine.now()),
        conditions:
            "Nachnutzungsvereinbarung über den FIT-Store; Betriebskosten trägt im ersten Jahr das Land".into(),
        contact: None,
        reason: "Der EfA-Dienst ist bereit: nachnutzungsinteressierte Kommunen gesucht".into(),
        at: None,
    };
    engine.offer_service(service, offer, pm).await?;
    let central = engine.central_ars(service);
    engine.start_rollout(service, &central, None, pm).await?;
    Ok(())
}

/// The `n`-th administration answers the offer of `service` (the `k`-th service) when it
/// first takes its turn; whether it has a rollout to work on afterwards.
pub(crate) async fn answer(
    engine: &engine::Engine,
    staff: &engine::Invocation,
    service: &str,
    k: usize,
    ars: &str,
    n: usize,
) -> Result<bool, Failure> {
    let (responsible, answered) = engine.read_catalog(|c| {
        (
            c.is_responsible(service, ars),
            c.authorities.get(ars).is_some_and(|e| e.answers.contains_key(service)),
        )
    });
    if !responsible {
        return Ok(false);
    }
    if !answered {
        let input = |answer| AnswerInput { answer, category: None, until: None, text: String::new() };
        let input = if n % 23 == 5 {
            let category = if k == 0 { DeclineCategory::NoCapacity } else { DeclineCategory::Costs };
            AnswerInput {
                category: Some(category),
                text: "Im Haushalt 2026 nicht vorgesehen; 2027 neu prüfen".into(),
                ..input(AnswerKind::Declined)
            }
        } else if n % 29 == 11 {
            AnswerInput {
                until: Some(days_later(engine, 120)),
                text: "Erst nach dem Wechsel des Fachverfahrens".into(),
                ..input(AnswerKind::Deferred)
            }
        } else if n % 37 == 17 {
            AnswerInput {
                text: "Eigenes Antragsportal der Verwaltung".into(),
                ..input(AnswerKind::OwnSolution)
            }
        } else if k == 2 && n % 11 == 4 {
            return Ok(false); // not answered yet
        } else {
            input(AnswerKind::Interested)
        };
        engine.answer_offer(service, ars, input, staff).await?;
    }
    Ok(engine.load(service, ars).await?.is_some())
}

/// What the ministry asks: targets, usage of the administrations in operation for the last
/// months, Ende-zu-Ende, and advice given by the Land.
pub(crate) async fn ministry(
    engine: &engine::Engine,
    pm: &engine::Invocation,
    bot: &engine::Invocation,
    services: &[&str],
) -> Result<(), Failure> {
    let by = days_later(engine, 365);
    let targets = [
        (
            "service:wohngeld".to_owned(),
            Measure::InOperation(19),
            "Alle Wohngeldbehörden bis Ende des Förderzeitraums",
        ),
        (
            "programme:efa".to_owned(),
            Measure::Coverage(60.0),
            "Kommunalpakt: 60 % der zuständigen Verwaltungen in Betrieb",
        ),
    ];
    for (scope, measure, reason) in targets {
        engine.set_target(Target { scope, measure, by: by.clone(), reason: reason.into() }, pm).await?;
    }
    let now = engine.now().to_string();
    let (year, month): (i32, i32) = (now[..4].parse().unwrap_or(2026), now[5..7].parse().unwrap_or(12));
    let months: Vec<String> = (1..=4)
        .map(|back| {
            let m = (year * 12 + month - 1) - back;
            format!("{}-{:02}", m / 12, m % 12 + 1)
        })
        .collect();
    for service in services {
        let live: Vec<String> = engine
            .read_catalog(|c| c.responsible(service).into_iter().map(|a| a.ars.clone()).collect::<Vec<_>>());
        for (n, ars) in live.iter().enumerate() {
            let Some(r) = engine.load(service, ars).await? else { continue };
            if r.status() != workflow::Status::Live {
                continue;
            }
            for (i, month) in months.iter().enumerate() {
                let count = ((n * 37 + i * 11) % 90 + 5) as u64;
                let usage = Usage {
                    service: (*service).into(),
                    month: month.clone(),
                    count,
                    source: "Statistik des Onlinedienstes (Demo)".into(),
                };
                engine.record_usage(ars, usage, bot).await?;
            }
            let digital = n % 3 != 2;
            let reason = if digital {
                "Import in das Fachverfahren über XTA"
            } else {
                "Anträge werden ausgedruckt und erfasst"
            };
            engine.set_end_to_end(service, ars, digital, reason, pm).await?;
        }
        for ars in live.iter().take(6) {
            let support = Support {
                date: date(engine.now()),
                topic: "Anbindung: Zustellweg und Zertifikate".into(),
                by: "KAZ/ZIT-BB".into(),
                service: Some((*service).into()),
            };
            engine.record_support(ars, support, pm).await?;
        }
    }
    Ok(())
}
