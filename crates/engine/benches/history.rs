//! Does a command's cost depend on its rollout's history? On the embedded store (durable), the
//! same commands on rollouts with a few events (the baseline, same run) and on rollouts with
//! `BENCH_HISTORY` events (default 5,000): `addComment`, and a state-dependent pair
//! (`reopenStep`, `completeStep`); serially, and from 64 tasks on 64 rollouts (one each).
//!
//! `cargo bench -p engine --bench history`. Results: BENCHMARKS.md.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::Arc;
use std::time::{Duration, Instant};

use engine::{Engine, Invocation};
use store::{Actor, ActorKind, EventStore};
use store_sled::{SledConfig, SledStore};
use workflow::decide::{Command, Principal};
use workflow::definition::Role;

/// A service of the municipalities (Ämter and amtsfreie Gemeinden), so that there are 128
/// rollouts; it is not fee-based, so the onboarding has no payment step.
const SERVICE: &str = "wohnsitz_anmeldung";

fn staff() -> Invocation {
    Invocation::new(Principal {
        actor: Actor {
            id: "person:bench".into(),
            name: "Bench".into(),
            kind: ActorKind::Person,
            person: None,
        },
        roles: vec![Role::AuthorityStaff, Role::ProjectManager],
        admin: true,
    })
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn comment(text: String) -> Command {
    Command::Comment { text, step: None }
}

/// The definition whose contact is a text field (`efa-onboarding@4` takes a registered
/// person): this bench measures history, not persons.
fn text_contacts() -> catalog::DefinitionRef {
    catalog::DefinitionRef::new("efa-onboarding", 3)
}

fn complete_interesse() -> Command {
    let evidence = [
        ("datum".to_owned(), serde_json::json!("2026-11-01")),
        ("kontakt".to_owned(), serde_json::json!("Frau Beispiel")),
    ]
    .into_iter()
    .collect();
    Command::CompleteStep { step: "interesse".into(), evidence, comment: None }
}

/// `rounds` of `commands(i)` on `ars`, one after the other; the latency of each.
async fn serial(
    engine: &Engine,
    ars: &str,
    rounds: usize,
    command: impl Fn(usize) -> Command,
) -> Vec<Duration> {
    let who = staff();
    let mut out = Vec::with_capacity(rounds);
    for i in 0..rounds {
        let t = Instant::now();
        engine.execute(SERVICE, ars, command(i), &who).await.expect("command");
        out.push(t.elapsed());
    }
    out.sort();
    out
}

fn line(what: &str, long: &[Duration], short: &[Duration]) {
    let (l50, l99, s50, s99) = (pct(long, 0.5), pct(long, 0.99), pct(short, 0.5), pct(short, 0.99));
    println!(
        "{what:<44}: long p50 {l50:>9.3?} p99 {l99:>9.3?} | short p50 {s50:>9.3?} p99 {s99:>9.3?} | ratio p50 {:.2} p99 {:.2}",
        l50.as_secs_f64() / s50.as_secs_f64(),
        l99.as_secs_f64() / s99.as_secs_f64()
    );
}

/// 64 tasks, each on its own rollout of `arss`, `rounds` state-dependent pairs each; the
/// latencies of all and the rate.
async fn concurrent(engine: &Arc<Engine>, arss: &[String], rounds: usize) -> (Vec<Duration>, f64) {
    let started = Instant::now();
    let tasks: Vec<_> = arss
        .iter()
        .map(|ars| {
            let (engine, ars) = (engine.clone(), ars.clone());
            tokio::spawn(async move {
                let who = staff();
                let mut out = Vec::new();
                for _ in 0..rounds {
                    for command in [
                        Command::ReopenStep { step: "interesse".into(), reason: "Nachtrag".into() },
                        complete_interesse(),
                    ] {
                        let t = Instant::now();
                        engine.execute(SERVICE, &ars, command, &who).await.expect("command");
                        out.push(t.elapsed());
                    }
                }
                out
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("task"));
    }
    let rate = all.len() as f64 / started.elapsed().as_secs_f64();
    all.sort();
    (all, rate)
}

fn main() {
    let history: usize = std::env::var("BENCH_HISTORY").ok().and_then(|v| v.parse().ok()).unwrap_or(5_000);
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    runtime.block_on(async {
        let dir = tempfile::tempdir().expect("dir");
        let store: Arc<dyn EventStore> =
            Arc::new(SledStore::open(SledConfig::new(dir.path())).expect("open"));
        let engine = Arc::new(
            Engine::open(store.clone(), Arc::new(engine::definitions::bundled().expect("bundled")))
                .await
                .expect("engine"),
        );
        engine.publish_bundled().await.expect("definitions");
        let data = catalog::parse_dataset(&catalog::profile::bundled_files()).expect("data");
        engine.import_catalog(&data, &Invocation::system(), |_, _| {}).await.expect("catalogue");
        let who = staff();
        // 128 administrations the service applies to: 64 with a long history, 64 with a short.
        let arss: Vec<String> = data
            .authorities
            .iter()
            .filter(|a| {
                matches!(a.kind, catalog::AuthorityKind::Amt | catalog::AuthorityKind::AmtsfreieGemeinde)
            })
            .take(128)
            .map(|a| a.ars.clone())
            .collect();
        let setup = Instant::now();
        for ars in &arss {
            engine.start_rollout(SERVICE, ars, Some(&text_contacts()), &who).await.expect("start");
            engine.execute(SERVICE, ars, complete_interesse(), &who).await.expect("interesse");
        }
        let half = arss.len() / 2;
        let (long, short) = arss.split_at(half);
        // The long ones get `history` comments each, written by concurrent tasks.
        let tasks: Vec<_> = long
            .iter()
            .map(|ars| {
                let (engine, ars) = (engine.clone(), ars.clone());
                tokio::spawn(async move {
                    for i in 0..history {
                        engine
                            .execute(SERVICE, &ars, comment(format!("Vermerk {i}")), &staff())
                            .await
                            .expect("comment");
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("setup task");
        }
        println!(
            "{} rollouts with {history} events and {} with a few, set up in {:?}",
            long.len(),
            short.len(),
            setup.elapsed()
        );
        println!("\n## serial, one command at a time (durable)");
        let rounds = 300;
        let l = serial(&engine, &long[0], rounds, |i| comment(format!("Notiz {i}"))).await;
        let s = serial(&engine, &short[0], rounds, |i| comment(format!("Notiz {i}"))).await;
        line("addComment", &l, &s);
        let pair = |i: usize| {
            if i.is_multiple_of(2) {
                Command::ReopenStep { step: "interesse".into(), reason: "Nachtrag".into() }
            } else {
                complete_interesse()
            }
        };
        let l = serial(&engine, &long[1], rounds, pair).await;
        let s = serial(&engine, &short[1], rounds, pair).await;
        line("reopenStep / completeStep (state-dependent)", &l, &s);
        println!("\n## {} tasks, each on its own rollout (durable, group commit)", long.len());
        // A round of each first: the measured rounds meet warm caches (the operating system's,
        // sled's) on both sides alike.
        concurrent(&engine, long, 2).await;
        concurrent(&engine, short, 2).await;
        let (l, lr) = concurrent(&engine, long, 10).await;
        let (s, sr) = concurrent(&engine, short, 10).await;
        line("reopenStep / completeStep", &l, &s);
        println!("rate: long {lr:.0} commands/s, short {sr:.0} commands/s, ratio {:.2}", lr / sr);
        println!("rollout cache: {:?}", engine.cache_stats());

        // A Land-level step that fans out: every other administration the service applies to
        // gets a rollout too, then the Land's `fit_store_vertrag` is completed and reopened in
        // turn while the 64 short rollouts' clients work; their latency beside a run without.
        let rest: Vec<String> = data
            .authorities
            .iter()
            .filter(|a| catalog::applies(data.services.iter().find(|s| s.key == SERVICE).expect("service"), a))
            .map(|a| a.ars.clone())
            .filter(|a| !arss.contains(a))
            .collect();
        for ars in &rest {
            engine.start_rollout(SERVICE, ars, Some(&text_contacts()), &who).await.expect("start");
        }
        let land: &'static str = engine.catalog().land_ars().expect("the Land").leak();
        engine.start_rollout(SERVICE, land, None, &who).await.expect("land");
        let land_step = |step: &str, evidence: serde_json::Value| Command::CompleteStep {
            step: step.into(),
            evidence: evidence.as_object().cloned().unwrap_or_default().into_iter().collect(),
            comment: None,
        };
        engine
            .execute(SERVICE, land, land_step("interesse_land", serde_json::json!({ "datum": "2026-11-01", "ressort": "MIK" })), &who)
            .await
            .expect("interesse_land");
        engine
            .execute(SERVICE, land, land_step("bedarf_abgestimmt", serde_json::json!({ "protokoll": "Az. 1" })), &who)
            .await
            .expect("bedarf");
        let fanout = arss.len() + rest.len();
        println!("\n## a Land-level step fanning out to {fanout} rollouts, while {} tasks work", short.len());
        let (quiet, quiet_rate) = concurrent(&engine, short, 60).await;
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let toggler = {
            let (engine, stop) = (engine.clone(), stop.clone());
            tokio::spawn(async move {
                let who = staff();
                let second = Invocation::new(Principal {
                    actor: Actor { id: "person:zweite".into(), name: "Zweite".into(), kind: ActorKind::Person, person: None },
                    roles: vec![Role::ProjectManager],
                    admin: false,
                });
                let mut fanouts = Vec::new();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let t = Instant::now();
                    let vertrag = serde_json::json!({ "vertragsart": "fit_store", "vertragsnummer": "FIT-2026-1", "unterzeichnet_am": "2026-11-02" });
                    let evidence = vertrag.as_object().cloned().unwrap_or_default().into_iter().collect();
                    engine.execute(SERVICE, land, Command::CompleteStep { step: "fit_store_vertrag".into(), evidence, comment: None }, &who).await.expect("vertrag");
                    // Four eyes: a second person's confirmation makes it done, and fans it out.
                    engine.execute(SERVICE, land, Command::ConfirmStep { step: "fit_store_vertrag".into(), comment: None }, &second).await.expect("confirm");
                    fanouts.push(t.elapsed());
                    engine.execute(SERVICE, land, Command::ReopenStep { step: "fit_store_vertrag".into(), reason: "Nachtrag".into() }, &who).await.expect("reopen");
                }
                fanouts
            })
        };
        let head_before = store.head().await.expect("head").position;
        let (busy, busy_rate) = concurrent(&engine, short, 60).await;
        let head_after = store.head().await.expect("head").position;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let fanouts = toggler.await.expect("toggler");
        line("reopenStep / completeStep (with / without)", &busy, &quiet);
        println!("rate: with {busy_rate:.0}, without {quiet_rate:.0} commands/s; {} events appended meanwhile", head_after - head_before);
        let mut f = fanouts.clone();
        f.sort();
        if !f.is_empty() {
            println!("fan-outs meanwhile: {} (completing the Land step, each to {fanout} rollouts: p50 {:?}, max {:?})", f.len(), pct(&f, 0.5), f[f.len() - 1]);
        }
    });
}
