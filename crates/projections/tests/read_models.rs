//! Read models: equal to a fold of the log after random workloads, resumed from checkpoints,
//! rebuilt when a checkpoint does not fit, the overdue policy once across restarts, time travel.

use std::sync::Arc;
use std::time::Duration;

use catalog::parse_dataset;
use catalog::profile::bundled_files;

/// The Land Brandenburg's own key (the bundled profile's).
const LAND_ARS: &str = "120000000000";
use engine::{Engine, Invocation, Registry};
use projections::{
    fold, progress_over_time, rollout_as_of, AuditFilter, Cut, GroupBy, Projector, ReadModel, Start,
};
use serde_json::json;
use store::conformance::Relayed;
use store::{Actor, ActorKind, EventStore, MemoryStore, Timestamp};
use workflow::decide::{Command, Principal};
use workflow::definition::Role;

fn req(id: &str, roles: Vec<Role>, admin: bool) -> Invocation {
    Invocation::new(Principal {
        actor: Actor { id: id.into(), name: id.into(), kind: ActorKind::Person, person: None },
        roles,
        admin,
    })
}

fn admin() -> Invocation {
    req("person:admin", vec![], true)
}

fn complete(step: &str, evidence: serde_json::Value) -> Command {
    Command::CompleteStep {
        step: step.into(),
        evidence: evidence.as_object().cloned().unwrap_or_default().into_iter().collect(),
        comment: None,
    }
}

async fn setup() -> (Arc<dyn EventStore>, Arc<Engine>, Arc<Registry>) {
    setup_on(Arc::new(MemoryStore::new())).await
}

/// An engine on `store` with the bundled catalogue imported.
async fn setup_on(store: Arc<dyn EventStore>) -> (Arc<dyn EventStore>, Arc<Engine>, Arc<Registry>) {
    let registry = Arc::new(engine::definitions::bundled().expect("bundled"));
    let engine = Arc::new(Engine::open(store.clone(), registry.clone()).await.expect("engine"));
    engine
        .import_catalog(&parse_dataset(&bundled_files()).expect("data"), &admin(), |_, _| {})
        .await
        .expect("import");
    (store, engine, registry)
}

async fn rebuilt(store: &Arc<dyn EventStore>, registry: &Arc<Registry>) -> ReadModel {
    fold(store, &**registry, Cut::Everything, |_| {}).await.expect("fold")
}

async fn caught_up(p: &Projector, store: &Arc<dyn EventStore>) {
    let head = store.head().await.expect("head").position;
    tokio::time::timeout(Duration::from_secs(10), p.wait_for(head)).await.expect("the projector follows");
}

/// A registered contact person of `ars`: its id, for `person` evidence fields.
async fn contact(engine: &Engine, ars: &str) -> String {
    let details = engine::PersonDetails { name: "Frau Kontakt".into(), ..Default::default() };
    engine.register_person(ars, details, &admin()).await.expect("register").id.to_string()
}

/// A deterministic random workload over a few services and administrations.
async fn workload(engine: &Engine, seed: u64, commands: usize) {
    let mut x = seed | 1;
    let mut next = move |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    for s in ["wohngeld", "kfz_zulassung"] {
        engine.start_service(s, &admin()).await.expect("start");
    }
    let staff = req("person:staff", vec![Role::AuthorityStaff], false);
    let pm = req("person:pm", vec![Role::ProjectManager], false);
    let arss = ["120540000000", "120510000000", "120600000000", "120730000000", LAND_ARS];
    let kontakt = contact(engine, arss[0]).await;
    for _ in 0..commands {
        let service = ["wohngeld", "kfz_zulassung"][next(2) as usize];
        let ars = arss[next(arss.len() as u64) as usize];
        let who = if next(2) == 0 { &staff } else { &pm };
        let command = match next(7) {
            0 => complete("interesse", json!({ "datum": "2025-01-01", "kontakt": kontakt })),
            1 => complete("entscheidung", json!({ "beschluss_am": "2025-01-02" })),
            2 => complete("interesse_land", json!({ "datum": "2025-01-01", "ressort": "MIK" })),
            3 => Command::Block { reason: "wartet".into(), block: Default::default() },
            4 => Command::Unblock { reason: "weiter".into(), solution: None, share_name: false },
            5 => Command::ReopenStep { step: "interesse".into(), reason: "falsch".into() },
            _ => Command::Comment { text: "Notiz".into(), step: None },
        };
        let _ = engine.execute(service, ars, command, who).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_followed_model_equals_a_fold_of_the_log_after_random_workloads() {
    for seed in [1u64, 7, 42, 1234] {
        let (store, engine, registry) = setup().await;
        let (projector, _) = Projector::start(store.clone(), registry.clone(), None).await.expect("start");
        workload(&engine, seed, 150).await;
        caught_up(&projector, &store).await;
        let rebuilt = rebuilt(&store, &registry).await;
        projector.read(|m| assert!(*m == rebuilt, "seed {seed}: incremental and rebuilt differ"));
        // Counted on demand, all services: the incremental counts; one service: its group alone.
        for by in [GroupBy::Service, GroupBy::Landkreis, GroupBy::Authority] {
            assert_eq!(rebuilt.progress_where(by, |_| true), rebuilt.progress(by), "seed {seed}: {by:?}");
        }
        let wohngeld = rebuilt.progress_where(GroupBy::Service, |k| k == "wohngeld");
        assert_eq!(wohngeld.keys().collect::<Vec<_>>(), ["wohngeld"]);
        assert_eq!(wohngeld["wohngeld"], rebuilt.progress(GroupBy::Service)["wohngeld"]);
        assert!(rebuilt.rollout_count() >= 38);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_resumes_from_the_checkpoint_and_a_bad_one_is_rebuilt() {
    let (store, engine, registry) = setup().await;
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("readmodel.checkpoint");
    let (p, start) =
        Projector::start(store.clone(), registry.clone(), Some(path.clone().into())).await.expect("start");
    assert!(matches!(start, Start::Rebuilt(ref why) if why == "no checkpoint"), "{start:?}");
    workload(&engine, 3, 60).await;
    caught_up(&p, &store).await;
    p.checkpoint().await.expect("checkpoint");
    let at = p.position();
    workload(&engine, 5, 30).await;
    let (resumed, start) =
        Projector::start(store.clone(), registry.clone(), Some(path.clone().into())).await.expect("start");
    assert_eq!(start, Start::Resumed(at));
    caught_up(&resumed, &store).await;
    let truth = rebuilt(&store, &registry).await;
    resumed.read(|m| assert!(*m == truth, "resumed model equals the fold"));

    // A checkpoint of another log (same positions, other hashes) is not used.
    let (other_store, other_engine, _) = setup().await;
    workload(&other_engine, 99, 60).await;
    let (other, _) = Projector::start(
        other_store.clone(),
        registry.clone(),
        Some(dir.path().join("other.checkpoint").into()),
    )
    .await
    .expect("start");
    caught_up(&other, &other_store).await;
    other.checkpoint().await.expect("checkpoint");
    std::fs::copy(dir.path().join("other.checkpoint"), &path).expect("copy");
    let (p, start) =
        Projector::start(store.clone(), registry.clone(), Some(path.clone().into())).await.expect("start");
    assert!(
        matches!(start, Start::Rebuilt(ref why) if why.starts_with("the checkpoint does not match the log at position")),
        "{start:?}"
    );
    caught_up(&p, &store).await;
    p.read(|m| assert!(*m == truth));

    // A corrupted file and an older schema (the JSON checkpoints before schema 4) are rebuilt.
    std::fs::write(&path, b"{\"schema\": 1, \"position\": tru").expect("write");
    let (_, start) =
        Projector::start(store.clone(), registry.clone(), Some(path.clone().into())).await.expect("start");
    assert!(
        matches!(start, Start::Rebuilt(ref why) if why.starts_with("the checkpoint is unreadable")),
        "{start:?}"
    );
    for old in [&b"{\"schema\": 0}"[..], b"{\"schema\":3}\n{\"position\":1,\"rollouts\":[]}"] {
        std::fs::write(&path, old).expect("write");
        let (_, start) = Projector::start(store.clone(), registry.clone(), Some(path.clone().into()))
            .await
            .expect("start");
        assert!(matches!(start, Start::Rebuilt(ref why) if why.contains("has schema version")), "{start:?}");
    }
    // A good checkpoint cut short (a full disk, say): the header is fine, the body is not.
    let (p, _) =
        Projector::start(store.clone(), registry.clone(), Some(path.clone().into())).await.expect("start");
    caught_up(&p, &store).await;
    p.checkpoint().await.expect("checkpoint");
    let whole = std::fs::read(&path).expect("read");
    std::fs::write(&path, &whole[..whole.len() * 2 / 3]).expect("write");
    let (rebuilt, start) =
        Projector::start(store.clone(), registry.clone(), Some(path.clone().into())).await.expect("start");
    assert!(
        matches!(start, Start::Rebuilt(ref why) if why.starts_with("the checkpoint is unreadable")),
        "{start:?}"
    );
    caught_up(&rebuilt, &store).await;
    rebuilt.read(|m| assert!(*m == truth, "the rebuilt model is the same"));
    // Anything after the body, and a rollout of a definition this server does not know.
    std::fs::write(&path, [&whole[..], b"{}"].concat()).expect("write");
    let (_, start) =
        Projector::start(store.clone(), registry.clone(), Some(path.clone().into())).await.expect("start");
    assert!(matches!(start, Start::Rebuilt(ref why) if why.contains("appended to")), "{start:?}");
    // One byte altered in the middle of the body (a torn page, a bad sector): the checksum.
    let mut altered = whole.clone();
    let middle = altered.len() / 2;
    altered[middle] ^= 0x20;
    std::fs::write(&path, &altered).expect("write");
    let (_, start) =
        Projector::start(store.clone(), registry.clone(), Some(path.clone().into())).await.expect("start");
    assert!(
        matches!(start, Start::Rebuilt(ref why) if why.contains("does not match its checksum")),
        "{start:?}"
    );
    // Read by a server that does not know the rollouts' definition.
    std::fs::write(&path, &whole).expect("write");
    let unknown = projections::checkpoint::read(&path, &NoDefinitions).map(|_| ()).expect_err("refused");
    assert!(unknown.to_string().contains("which this server does not know"), "{unknown}");
    assert!(projections::checkpoint::read(&path, &*registry).is_ok(), "the file itself is good");
}

/// A server that knows no definition.
struct NoDefinitions;

impl workflow::rollout::Definitions for NoDefinitions {
    fn get(&self, _: &str, _: u32) -> Option<Arc<workflow::Definition>> {
        None
    }
}

/// A clock the test moves.
#[derive(Debug)]
struct ManualClock(std::sync::atomic::AtomicI64);

impl store::Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_unix_micros(self.0.load(std::sync::atomic::Ordering::SeqCst))
    }
}

const DAY_MICROS: i64 = 86_400_000_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overdue_is_recorded_once_across_restarts() {
    // The policy's "now" is the store's clock: the test moves it past the due dates.
    let start = store::Clock::now(&store::SystemClock).unix_micros();
    let clock = Arc::new(ManualClock(std::sync::atomic::AtomicI64::new(start)));
    let (store, engine, registry) = setup_on(Arc::new(MemoryStore::with_clock(clock.clone()))).await;
    engine.start_service("wohngeld", &admin()).await.expect("start");
    let tomorrow = Timestamp::from_unix_micros(start + DAY_MICROS);
    for ars in ["120540000000", "120510000000"] {
        let due = Command::SetDueDate {
            step: "interesse".into(),
            due_at: tomorrow,
            reason: "Frist der Projektleitung".into(),
        };
        engine.execute("wohngeld", ars, due, &admin()).await.expect("due date");
    }
    let (p, _) = Projector::start(store.clone(), registry.clone(), None).await.expect("start");
    caught_up(&p, &store).await;
    assert_eq!(engine.overdue_round(&p).await.expect("policy"), 0, "not due yet by the store's clock");
    clock.0.store(start + 2 * DAY_MICROS, std::sync::atomic::Ordering::SeqCst);
    let due = p.read(|m| m.due_for_overdue_event(engine.now()));
    assert_eq!(due.len(), 2, "{due:?}");
    assert_eq!(engine.overdue_round(&p).await.expect("policy"), 2);
    caught_up(&p, &store).await;
    assert_eq!(engine.overdue_round(&p).await.expect("policy"), 0, "not twice");
    assert_eq!(engine.record_overdue(&due).await.expect("policy"), 0, "not twice, even when asked");
    // After a restart: a new engine and new read models on the same log.
    let engine2 = Engine::open(store.clone(), registry.clone()).await.expect("engine");
    let (p2, _) = Projector::start(store.clone(), registry.clone(), None).await.expect("start");
    caught_up(&p2, &store).await;
    let due = p2.read(|m| m.due_for_overdue_event(engine2.now()));
    assert!(due.is_empty(), "{due:?}");
    assert_eq!(
        engine2
            .record_overdue(&[("wohngeld".into(), "120540000000".into(), "interesse".into())])
            .await
            .expect("policy"),
        0
    );
    let overdue_events = p2.read(|m| m.audit.by_type.get("StepOverdue").map_or(0, |l| l.len()));
    assert_eq!(overdue_events, 2);
    let first = store
        .read_event(p2.read(|m| m.audit.by_type["StepOverdue"].iter().next().expect("one")))
        .await
        .expect("read")
        .expect("event");
    assert_eq!(first.actor.kind, ActorKind::System);
    // The overdue list orders by how long they waited and leaves out finished steps.
    let staff = req("person:staff", vec![Role::AuthorityStaff], false);
    let kontakt = contact(&engine, "120540000000").await;
    engine
        .execute(
            "wohngeld",
            "120540000000",
            complete("interesse", json!({ "datum": "2025-01-01", "kontakt": kontakt })),
            &staff,
        )
        .await
        .expect("done");
    caught_up(&p2, &store).await;
    let listed: Vec<String> =
        p2.read(|m| m.overdue(engine2.now()).map(|(_, id, step)| format!("{id}/{step}")).collect());
    assert_eq!(listed, vec!["wohngeld:120510000000/interesse".to_string()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_travel_matches_a_fold_of_the_log_cut_at_that_point() {
    let (store, engine, registry) = setup().await;
    workload(&engine, 11, 120).await;
    let head = store.head().await.expect("head").position;
    for cut in [head / 3, head / 2, head - 5, head] {
        let folded = fold(&store, &*registry, Cut::Position(cut), |_| {}).await.expect("fold");
        assert_eq!(folded.position, cut);
        for id in ["wohngeld:120540000000", "kfz_zulassung:120730000000", "wohngeld:120000000000"] {
            let (service, ars) = id.split_once(':').expect("id");
            let one =
                rollout_as_of(&*store, &*registry, service, ars, Cut::Position(cut)).await.expect("as of");
            let summary = one.map(|mut r| {
                r.forget_records();
                r
            });
            assert_eq!(summary.as_ref(), folded.rollout(id).map(|v| &**v), "{id} at {cut}");
        }
    }
    // By time: everything up to the recorded time of an event.
    let event = store.read_event(head / 2).await.expect("read").expect("event");
    let by_time = fold(&store, &*registry, Cut::Time(event.recorded_at), |_| {}).await.expect("fold");
    assert!(by_time.position >= head / 2);
    assert!(
        by_time.position == head
            || store.read_event(by_time.position + 1).await.expect("read").expect("next").recorded_at
                > event.recorded_at
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_over_time_matches_a_fold_cut_at_each_point() {
    let (store, engine, registry) = setup().await;
    workload(&engine, 5, 150).await;
    let head = store.head().await.expect("head").position;
    let at = |p: u64| {
        let store = store.clone();
        async move { store.read_event(p).await.expect("read").expect("event").recorded_at }
    };
    let before = Timestamp::from_unix_micros(at(1).await.unix_micros() - 1);
    let after = Timestamp::from_unix_micros(at(head).await.unix_micros() + 1);
    let times = vec![before, at(head / 4).await, at(head / 2).await, at(head * 3 / 4).await, after];
    for by in [GroupBy::Service, GroupBy::Landkreis, GroupBy::Authority] {
        let series = projections::progress_over_time(&store, &*registry, &times, by).await.expect("series");
        assert_eq!(series.len(), times.len());
        assert!(series[0].is_empty(), "nothing before the first event");
        assert!(!series[4].is_empty());
        for (t, point) in times.iter().zip(&series) {
            let folded = fold(&store, &*registry, Cut::Time(*t), |_| {}).await.expect("fold");
            assert_eq!(point, &folded.progress(by), "{by:?} at {t}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_groups_by_landkreis_and_the_audit_index_pages_without_scanning() {
    let (store, engine, registry) = setup().await;
    engine.start_service("hundesteuer", &admin()).await.expect("start");
    let staff = req("person:staff", vec![Role::AuthorityStaff], false);
    // An Amt of Landkreis Barnim (12060) counts under it.
    let kontakt = contact(&engine, "120605003000").await;
    engine
        .execute(
            "hundesteuer",
            "120605003000",
            complete("interesse", json!({ "datum": "2025-01-01", "kontakt": kontakt })),
            &staff,
        )
        .await
        .expect("step");
    engine
        .execute(
            "hundesteuer",
            "120605003000",
            Command::Block { reason: "Personal fehlt".into(), block: Default::default() },
            &staff,
        )
        .await
        .expect("block");
    let (p, _) = Projector::start(store.clone(), registry.clone(), None).await.expect("start");
    caught_up(&p, &store).await;
    p.read(|m| {
        let by_kreis = m.progress(GroupBy::Landkreis);
        let barnim = &by_kreis["120600000000"];
        let amts_in_barnim = m
            .catalog
            .active_authorities()
            .filter(|a| a.landkreis_ars.as_deref() == Some("120600000000"))
            .count() as u64;
        assert_eq!(barnim.rollouts, amts_in_barnim);
        assert_eq!(barnim.by_phase_status.get(&("entscheidung".to_string(), "blocked")), Some(&1));
        assert!(barnim.steps_done == 1 && barnim.percent_done() > 0.0);
        let total: u64 = by_kreis.values().map(|c| c.rollouts).sum();
        assert_eq!(total, 193, "193 administrations; the Land's central rollout is no administration's");
        assert_eq!(m.progress(GroupBy::Service)["hundesteuer"].rollouts, 193);
        assert_eq!(
            m.progress(GroupBy::Authority)["120000000000"].rollouts,
            1,
            "it counts under the Land itself"
        );
        assert_eq!(
            m.blocked().map(|(_, id)| id.to_string()).collect::<Vec<_>>(),
            vec!["hundesteuer:120605003000".to_string()]
        );
        // Audit: one actor's events, paged.
        let filter = AuditFilter { actor: Some("person:staff".into()), ..Default::default() };
        let all = m.audit(&filter, 0, 100);
        assert_eq!(all.len(), 2);
        assert_eq!(m.audit(&filter, all[0], 100), vec![all[1]]);
        let by_type = AuditFilter { types: vec!["RolloutBlocked".into()], ..Default::default() };
        assert_eq!(m.audit(&by_type, 0, 10), vec![all[1]]);
        let for_amt = AuditFilter {
            authority: Some("120605003000".into()),
            types: vec!["StepCompleted".into()],
            ..Default::default()
        };
        assert_eq!(m.audit(&for_amt, 0, 10), vec![all[0]]);
        let future = AuditFilter { from: Some(Timestamp::from_unix_micros(i64::MAX)), ..Default::default() };
        assert!(m.audit(&future, 0, 10).is_empty());
    });
}

/// Checkpoints written at the same time (the periodic one and the one at shutdown) do not
/// trip over each other: each succeeds and the file is a valid checkpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_checkpoints_all_succeed() {
    let (store, engine, registry) = setup().await;
    workload(&engine, 3, 40).await;
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("readmodel.checkpoint");
    let (p, _) =
        Projector::start(store.clone(), registry.clone(), Some(path.clone().into())).await.expect("start");
    caught_up(&p, &store).await;
    let writers: Vec<_> = (0..6)
        .map(|_| {
            let p = p.clone();
            tokio::spawn(async move {
                let mut failures = Vec::new();
                for _ in 0..15 {
                    if let Err(e) = p.checkpoint().await {
                        failures.push(e.to_string());
                    }
                }
                failures
            })
        })
        .collect();
    let mut failures = Vec::new();
    for w in writers {
        failures.extend(w.await.expect("writer"));
    }
    assert!(failures.is_empty(), "{failures:?}");
    let (again, start) =
        Projector::start(store.clone(), registry.clone(), Some(path.into())).await.expect("start");
    assert!(matches!(start, Start::Resumed(_)), "{start:?}");
    p.read(|truth| again.read(|m| assert!(m == truth)));
}

/// The service and administration an event concerns, read off its stream name the slow way.
fn concerns(stream: &str) -> (Option<&str>, Option<&str>) {
    if let Some(id) = stream.strip_prefix("rollout-") {
        let (service, ars) = id.split_once(':').expect("service:ars");
        (Some(service), Some(ars))
    } else if let Some(key) = stream.strip_prefix("service-") {
        (Some(key), None)
    } else {
        (None, stream.strip_prefix("authority-"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_pages_equal_a_scan_of_the_log_for_any_filter() {
    let (store, engine, registry) = setup().await;
    workload(&engine, 99, 200).await;
    let model = rebuilt(&store, &registry).await;
    let log = store.read_all(1, 100_000).await.expect("read");
    assert_eq!(log.len() as u64, model.position);
    let mut x = 12345u64;
    let mut next = move |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    let pick = |options: &[&str], n: u64| (n < options.len() as u64).then(|| options[n as usize].to_string());
    let actors = ["person:staff", "person:pm", "person:admin", "system", "person:nobody"];
    let services = ["wohngeld", "kfz_zulassung", "hundesteuer"];
    let arss = ["120540000000", "120510000000", "120600000000", LAND_ARS];
    let types = ["StepCompleted", "RolloutBlocked", "CommentAdded", "StepReopened", "AuthorityRegistered"];
    let times: Vec<Timestamp> = log.iter().map(|e| e.recorded_at).collect();
    let check = |filter: &AuditFilter, after: u64, limit: usize, round: usize| {
        let expected: Vec<u64> = log
            .iter()
            .filter(|e| e.position > after)
            .filter(|e| filter.actor.as_ref().is_none_or(|a| &e.actor.id == a))
            .filter(|e| filter.stream.as_ref().is_none_or(|s| &e.stream_id == s))
            .filter(|e| filter.service.as_deref().is_none_or(|s| concerns(&e.stream_id).0 == Some(s)))
            .filter(|e| filter.authority.as_deref().is_none_or(|a| concerns(&e.stream_id).1 == Some(a)))
            .filter(|e| filter.types.is_empty() || filter.types.contains(&e.event_type))
            .filter(|e| filter.from.is_none_or(|t| e.recorded_at >= t))
            .filter(|e| filter.until.is_none_or(|t| e.recorded_at <= t))
            .map(|e| e.position)
            .take(limit)
            .collect();
        assert_eq!(model.audit(filter, after, limit), expected, "round {round}: {filter:?} after {after}");
        expected.len()
    };
    // Several types and nothing else: their lists merged (a type named twice counts once).
    let two_types = |a: &str, b: &str| AuditFilter { types: vec![a.into(), b.into()], ..Default::default() };
    assert!(check(&two_types("CommentAdded", "RolloutBlocked"), 0, 1_000, 0) > 10);
    assert!(check(&two_types("CommentAdded", "CommentAdded"), 0, 1_000, 0) > 5);
    check(&two_types("StepCompleted", "AuthorityRegistered"), 50, 30, 0);
    for round in 1..400 {
        let filter = AuditFilter {
            actor: pick(&actors, next(8)),
            stream: (next(6) == 0).then(|| log[next(log.len() as u64) as usize].stream_id.clone()),
            service: pick(&services, next(5)),
            authority: pick(&arss, next(6)),
            types: (0..next(3)).filter_map(|_| pick(&types, next(5))).collect(),
            from: (next(3) == 0).then(|| times[next(times.len() as u64) as usize]),
            until: (next(3) == 0).then(|| times[next(times.len() as u64) as usize]),
        };
        let after = if next(2) == 0 { 0 } else { next(model.position) };
        let limit = 1 + next(60) as usize;
        check(&filter, after, limit, round);
    }
}

/// An administration that moves to another Landkreis takes its rollouts' counts along, and
/// the followed model still equals a fold of the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administration_moving_to_another_landkreis_moves_its_progress() {
    let (store, engine, registry) = setup().await;
    let (projector, _) = Projector::start(store.clone(), registry.clone(), None).await.expect("start");
    engine.start_service("hundesteuer", &admin()).await.expect("start");
    let mut data = parse_dataset(&bundled_files()).expect("data");
    let amt = data.authorities.iter_mut().find(|a| a.ars == "120605003000").expect("an Amt in Barnim");
    assert_eq!(amt.landkreis_ars.as_deref(), Some("120600000000"));
    amt.landkreis_ars = Some("120650000000".into());
    caught_up(&projector, &store).await;
    let before = projector.read(|m| m.progress(GroupBy::Landkreis));
    engine.import_catalog(&data, &admin(), |_, _| {}).await.expect("import");
    caught_up(&projector, &store).await;
    let after = projector.read(|m| m.progress(GroupBy::Landkreis));
    assert_eq!(after["120600000000"].rollouts, before["120600000000"].rollouts - 1);
    assert_eq!(after["120650000000"].rollouts, before["120650000000"].rollouts + 1);
    let rebuilt = rebuilt(&store, &registry).await;
    projector.read(|m| assert!(*m == rebuilt, "incremental and rebuilt differ"));
}

/// Progress history by every grouping, checked against a fold of the log.
async fn each_grouping(
    store: &Arc<dyn EventStore>,
    registry: &Arc<Registry>,
    projector: &Projector,
    times: Vec<Timestamp>,
) -> Vec<Vec<std::collections::BTreeMap<String, projections::Counts>>> {
    let mut answers = Vec::new();
    for by in [GroupBy::Service, GroupBy::Landkreis, GroupBy::Authority] {
        let folded = progress_over_time(store, &**registry, &times, by).await.expect("fold");
        let kept = projector.progress_history(&times, by).await.expect("history");
        assert_eq!(kept, folded, "{by:?}");
        answers.push(kept);
    }
    answers
}

/// `Projector::progress_history` answers like a fold of the log, folds settled points once,
/// and stays right as the log grows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_history_equals_a_fold_and_folds_settled_points_once() {
    let (store, engine, registry) = setup().await;
    let (projector, _) = Projector::start(store.clone(), registry.clone(), None).await.expect("start");
    workload(&engine, 11, 80).await;
    caught_up(&projector, &store).await;
    let log = store.read_all(1, 100_000).await.expect("read");
    let last = log.last().expect("events").recorded_at;
    // Points at events' times, between them, at the last one and an hour after it.
    let mut times: Vec<Timestamp> = log.iter().step_by(log.len() / 8).map(|e| e.recorded_at).collect();
    times.extend([last, Timestamp::from_unix_micros(last.unix_micros() + 3_600_000_000)]);
    times.dedup();
    let by_all = |times: Vec<Timestamp>| each_grouping(&store, &registry, &projector, times);
    let first = by_all(times.clone()).await;
    let folds = projector.history_folds();
    assert_eq!(folds, 3, "one pass per grouping");
    // Asked again: the settled points come from memory, the live ones from the model.
    let again = by_all(times.clone()).await;
    assert_eq!(again, first);
    assert_eq!(projector.history_folds(), folds);
    // The log grows: settled points stay as they were, the rest follow the log.
    workload(&engine, 12, 60).await;
    caught_up(&projector, &store).await;
    by_all(times).await;
    assert!(projector.history_folds() > folds, "the point at the old head is settled now");
}

/// A model that does not reach the log's head in time: the points at or after the last event
/// are folded from the log instead of taken from the stale model.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_history_folds_when_the_model_lags_behind() {
    let (store, engine, registry) = setup().await;
    workload(&engine, 13, 40).await;
    // Live notifications never arrive: the follower stalls once it has caught up.
    let silent = Arc::new(Relayed::new(store.clone(), tokio::sync::broadcast::channel(1).0));
    let (projector, _) = Projector::start(silent.clone(), registry.clone(), None).await.expect("start");
    let stalled_at = projector.position();
    assert_eq!(stalled_at, store.head().await.expect("head").position, "caught up at start");
    // The follower's first read of the log (which finds nothing new) must happen before the
    // workload; afterwards it waits for notifications that never come.
    for _ in 0..3000 {
        if silent.reads_while_listened() > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(silent.reads_while_listened() > 0, "the follower listens and has read the log once");
    workload(&engine, 14, 40).await;
    // A random workload can leave the counts as they were (blocked, then unblocked); a rollout
    // of a new service changes them for certain.
    engine.start_rollout("bafoeg", "120540000000", None, &admin()).await.expect("start");
    let head = store.head().await.expect("head");
    assert!(head.position > stalled_at && projector.position() == stalled_at, "the model lags");
    let later = Timestamp::from_unix_micros(head.recorded_at.unix_micros() + 3_600_000_000);
    let times = [head.recorded_at, later];
    let folded = progress_over_time(&store, &*registry, &times, GroupBy::Service).await.expect("fold");
    let stale = projector.read(|m| m.progress(GroupBy::Service));
    assert_ne!(folded[1], stale, "the workload after the stall changed progress");
    let folds = projector.history_folds();
    let answer = projector.progress_history(&times, GroupBy::Service).await.expect("history");
    assert_eq!(answer, folded);
    assert_eq!(projector.history_folds(), folds + 1, "the live points were folded");
}
