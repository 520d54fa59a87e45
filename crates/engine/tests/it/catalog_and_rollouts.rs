//! The engine on a real log: catalogue import, service-wide starts, the Land-level policy and
//! the territorial change of Amt Oder-Welse (dissolved 19.04.2022, successor Schwedt/Oder).

use std::path::PathBuf;
use std::sync::Arc;

use catalog::{parse_dataset, Dataset};

pub(crate) use crate::support::LAND_ARS;
use engine::{Engine, EngineError, Invocation};
use serde_json::json;
use store::{Actor, ActorKind, EventStore, MemoryStore};
use workflow::decide::{Command, Principal, Rejection};
use workflow::definition::Role;
use workflow::{Status, StepStatus};

const ODER_WELSE: &str = "120735310000";
const SCHWEDT: &str = "120735051000";

pub(crate) fn dataset() -> Dataset {
    // The files as the profile data/brandenburg.profile.toml names them, read from data/.
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data");
    let text = std::fs::read_to_string(dir.join("brandenburg.profile.toml")).expect("read the profile");
    let mut read = |name: &str| std::fs::read(dir.join(name)).map_err(|e| e.to_string());
    let files =
        catalog::Profile::parse("brandenburg.toml", &text, &mut read).expect("the profile reads").files;
    parse_dataset(&files).expect("bundled data is valid")
}

pub(crate) fn person(id: &str, roles: Vec<Role>, admin: bool) -> Invocation {
    Invocation::new(Principal {
        actor: Actor { id: id.into(), name: id.into(), kind: ActorKind::Person, person: None },
        roles,
        admin,
    })
}

pub(crate) fn admin() -> Invocation {
    person("person:admin", vec![], true)
}

pub(crate) fn staff() -> Invocation {
    person("person:staff", vec![Role::AuthorityStaff], false)
}

pub(crate) async fn engine() -> (Engine, Arc<dyn EventStore>) {
    let store: Arc<dyn EventStore> = Arc::new(MemoryStore::new());
    let engine = Engine::open(store.clone(), Arc::new(engine::definitions::bundled().expect("bundled")))
        .await
        .expect("open");
    (engine, store)
}

/// A registered contact person of `ars` (the catalogue imported): its id, for `person` fields.
pub(crate) async fn contact(engine: &Engine, ars: &str) -> String {
    let details = engine::PersonDetails { name: "Frau Kontakt".into(), ..Default::default() };
    engine.register_person(ars, details, &admin()).await.expect("register a contact").id.to_string()
}

pub(crate) async fn head(store: &Arc<dyn EventStore>) -> u64 {
    store.head().await.expect("head").position
}

pub(crate) fn complete(step: &str, evidence: serde_json::Value) -> Command {
    let evidence = evidence.as_object().cloned().unwrap_or_default().into_iter().collect();
    Command::CompleteStep { step: step.into(), evidence, comment: None }
}

#[tokio::test]
async fn the_catalogue_imports_once_and_a_change_is_one_event() {
    let (engine, store) = engine().await;
    let data = dataset();
    let report = engine.import_catalog(&data, &admin(), |_, _| {}).await.expect("import");
    // 207 administrations + the Land, ZV DIKOM, 37 EfA services, 13 form-server assistants,
    // 2 dissolved Ämter registered and dissolved, Fürstenwalde/Spree's exception for Wohngeld.
    assert_eq!(report.events, 208 + 1 + 37 + 13 + 4 + 1);
    assert_eq!(head(&store).await, 264);
    let again = engine.import_catalog(&data, &admin(), |_, _| {}).await.expect("import");
    assert_eq!(again.events, 0);
    assert_eq!(head(&store).await, 264, "a second import appends nothing");
    let mut changed = data.clone();
    changed.services.iter_mut().find(|s| s.key == "wohngeld").expect("wohngeld").fee_based = true;
    assert_eq!(engine.import_catalog(&changed, &admin(), |_, _| {}).await.expect("import").events, 1);
    let last = store.read_event(265).await.expect("read").expect("event");
    assert_eq!((last.event_type.as_str(), last.stream_id.as_str()), ("ServiceChanged", "service-wohngeld"));
    assert!(last.data.as_str().contains(r#""changed":["feeBased"]"#), "{}", last.data.as_str());
    // A fresh engine on the same log sees the same catalogue.
    let reopened = Engine::open(store.clone(), engine.registry().clone()).await.expect("open");
    assert_eq!(reopened.catalog(), engine.catalog());
}

#[tokio::test]
async fn a_service_starts_for_every_administration_it_applies_to_once() {
    let (engine, _) = engine().await;
    engine.import_catalog(&dataset(), &admin(), |_, _| {}).await.expect("import");
    let summary = engine.start_service("wohngeld", &admin()).await.expect("start");
    assert_eq!(
        summary.started.len(),
        19 + 1,
        "14 Landkreise, 4 kreisfreie Städte, Fürstenwalde/Spree (its exception) and the Land"
    );
    assert_eq!(summary.started[0], LAND_ARS, "the Land-level rollout first");
    let again = engine.start_service("wohngeld", &admin()).await.expect("start");
    assert_eq!((again.started.len(), again.existing.len()), (0, 20));
    let gemeinde = engine.start_service("gewerbe_anmeldung", &admin()).await.expect("start");
    assert_eq!(gemeinde.started.len(), 193 + 1);
    let potsdam = engine.load("wohngeld", "120540000000").await.expect("load").expect("started");
    assert_eq!(potsdam.definition.id, "efa-onboarding");
    assert_eq!(
        potsdam.step("bezahldienst").expect("step").1.status,
        StepStatus::NotApplicable,
        "Wohngeld is free"
    );
    let land = engine.load("wohngeld", LAND_ARS).await.expect("load").expect("started");
    assert_eq!(land.definition.id, "efa-land");
    assert!(matches!(engine.start_service("nope", &admin()).await, Err(EngineError::UnknownService(_))));
    assert!(matches!(
        engine.start_service("wohngeld", &staff()).await,
        Ok(s) if s.started.is_empty()
    ));
    assert!(matches!(
        engine.start_rollout("bafoeg", "120540000000", None, &staff()).await,
        Err(EngineError::Rejected(Rejection::NotAllowed { .. }))
    ));
}

#[tokio::test]
async fn a_land_step_is_recorded_in_every_rollout_of_the_service() {
    let (engine, store) = engine().await;
    engine.import_catalog(&dataset(), &admin(), |_, _| {}).await.expect("import");
    engine.start_service("wohngeld", &admin()).await.expect("start");
    let pm = person("person:pm", vec![Role::ProjectManager], false);
    let pm2 = person("person:pm2", vec![Role::ProjectManager], false);
    engine
        .execute(
            "wohngeld",
            LAND_ARS,
            complete("interesse_land", json!({ "datum": "2025-01-02", "ressort": "MSGIV" })),
            &pm,
        )
        .await
        .expect("step");
    engine
        .execute("wohngeld", LAND_ARS, complete("bedarf_abgestimmt", json!({ "protokoll": "P-1" })), &pm)
        .await
        .expect("step");
    engine
        .execute("wohngeld", LAND_ARS, complete("fit_store_vertrag", json!({ "vertragsart": "fit_store", "vertragsnummer": "FS-7", "unterzeichnet_am": "2025-03-01" })), &pm)
        .await
        .expect("step");
    let before = head(&store).await;
    // Four eyes: the contract counts once a second project manager confirms it.
    let confirmed = engine
        .execute(
            "wohngeld",
            LAND_ARS,
            Command::ConfirmStep { step: "fit_store_vertrag".into(), comment: None },
            &pm2,
        )
        .await
        .expect("confirm");
    assert_eq!(head(&store).await, before + 1 + 19, "one LandStepChanged in each of the 19 rollouts");
    let potsdam = engine.load("wohngeld", "120540000000").await.expect("load").expect("rollout");
    assert!(potsdam.land_steps_done.contains("fit_store_vertrag"));
    let history = store
        .read_stream("rollout-wohngeld:120540000000", u64::MAX, store::Direction::Backward, 1)
        .await
        .expect("read");
    assert_eq!(history[0].event_type, "LandStepChanged");
    assert_eq!(history[0].actor.kind, ActorKind::System);
    assert_eq!(
        history[0].causation_id,
        Some(confirmed.events[0].event_id),
        "caused by the Land's confirmation"
    );
    assert_eq!(history[0].correlation_id, confirmed.events[0].correlation_id);
    // A rollout started later knows the Land's progress from its start.
    engine.start_rollout("bafoeg", LAND_ARS, None, &admin()).await.expect("land rollout");
    engine
        .execute(
            "bafoeg",
            LAND_ARS,
            complete("interesse_land", json!({ "datum": "2025-01-02", "ressort": "MBJS" })),
            &pm,
        )
        .await
        .expect("step");
    let later = engine.start_rollout("bafoeg", "120540000000", None, &admin()).await.expect("start");
    assert!(later.rollout.land_steps_done.contains("interesse_land"));
    // Only where the service applies: BAföG is a Landkreis matter, not an Amt's.
    assert!(matches!(
        engine.start_rollout("bafoeg", "120605003000", None, &admin()).await,
        Err(EngineError::NotApplicable { .. })
    ));
}

#[tokio::test]
async fn dissolving_amt_oder_welse_moves_its_rollouts_to_schwedt() {
    let (engine, store) = engine().await;
    let full = dataset();
    // The Gebietsstand before 19.04.2022: Amt Oder-Welse exists.
    let oder_welse =
        full.dissolutions.iter().find(|d| d.authority.ars == ODER_WELSE).expect("Oder-Welse").clone();
    let mut before = full.clone();
    before.dissolutions.clear();
    before.authorities.push(oder_welse.authority.clone());
    engine.import_catalog(&before, &admin(), |_, _| {}).await.expect("import");

    // Wohnsitzanmeldung: only Oder-Welse has started; progress includes the ARS assignment.
    let s = "wohnsitz_anmeldung";
    engine.start_rollout(s, ODER_WELSE, None, &admin()).await.expect("start");
    engine
        .execute(
            s,
            ODER_WELSE,
            Command::RecordLandStep { step: "fit_store_vertrag".into(), done: true },
            &admin(),
        )
        .await
        .expect("land");
    let kontakt = contact(&engine, ODER_WELSE).await;
    let steps = [
        ("interesse", json!({ "datum": "2021-09-01", "kontakt": kontakt })),
        ("entscheidung", json!({ "beschluss_am": "2021-10-01" })),
        ("nutzungsvereinbarung", json!({ "unterzeichnet_am": "2021-11-01", "aktenzeichen": "OW-12" })),
        ("organisationseinheit", json!({ "oe_kennung": "OE-OW-1" })),
        ("leistungszuordnung", json!({ "leika": "99115005104000", "ars": ODER_WELSE })),
        ("transportweg", json!({ "weg": "fit_connect" })),
    ];
    for (step, evidence) in steps {
        engine.execute(s, ODER_WELSE, complete(step, evidence), &staff()).await.expect(step);
        if step == "nutzungsvereinbarung" {
            let other = person("person:zweite", vec![Role::AuthorityStaff], false);
            engine
                .execute(s, ODER_WELSE, Command::ConfirmStep { step: step.into(), comment: None }, &other)
                .await
                .expect("confirm");
        }
    }
    // Meldebescheinigung: both have a rollout.
    engine.start_rollout("meldebestaetigung", ODER_WELSE, None, &admin()).await.expect("start");
    engine.start_rollout("meldebestaetigung", SCHWEDT, None, &admin()).await.expect("start");
    let schwedt_before =
        store.stream_version("rollout-meldebestaetigung:120735051000").await.expect("version");
    // An unrelated rollout.
    engine.start_rollout(s, "120735304000", None, &admin()).await.expect("start");
    let unrelated_before =
        store.stream_version("rollout-wohnsitz_anmeldung:120735304000").await.expect("version");

    // The import of the current data records the dissolution and applies it.
    let report = engine.import_catalog(&full, &admin(), |_, _| {}).await.expect("import");
    let r = report.dissolutions.iter().find(|d| d.ars == ODER_WELSE).expect("report");
    assert_eq!(r.moved, vec![(s.to_string(), SCHWEDT.to_string())]);
    assert_eq!(r.closed, vec!["meldebestaetigung".to_string()]);

    let old = engine.load(s, ODER_WELSE).await.expect("load").expect("old");
    assert_eq!(old.status(), Status::Cancelled);
    assert_eq!(old.transferred_to.as_deref(), Some(SCHWEDT));
    let new = engine.load(s, SCHWEDT).await.expect("load").expect("new");
    for step in ["interesse", "entscheidung", "nutzungsvereinbarung", "organisationseinheit", "transportweg"]
    {
        assert_eq!(new.step(step).expect("step").1.status, StepStatus::Done, "{step} carried over");
    }
    assert_eq!(
        new.completed_by(new.step("interesse").expect("step").0).map(|a| a.id.as_str()),
        Some("person:staff")
    );
    assert_eq!(
        new.step("leistungszuordnung").expect("step").1.status,
        StepStatus::Ready,
        "its evidence named the old ARS"
    );

    // The history says why, and which change caused it.
    let dissolved = store
        .read_stream("authority-120735310000", u64::MAX, store::Direction::Backward, 1)
        .await
        .expect("read");
    assert_eq!(dissolved[0].event_type, "AuthorityDissolved");
    let last_old = store
        .read_stream("rollout-wohnsitz_anmeldung:120735310000", u64::MAX, store::Direction::Backward, 1)
        .await
        .expect("read");
    assert_eq!(last_old[0].event_type, "RolloutTransferred");
    assert_eq!(last_old[0].causation_id, Some(dissolved[0].event_id));
    assert!(
        last_old[0].data.as_str().contains("Amt Oder-Welse (120735310000) aufgelöst"),
        "{}",
        last_old[0].data.as_str()
    );
    let taken = store
        .read_stream("rollout-wohnsitz_anmeldung:120735051000", u64::MAX, store::Direction::Backward, 1)
        .await
        .expect("read");
    assert_eq!(taken[0].event_type, "RolloutTakenOver");
    assert!(
        taken[0].data.as_str().contains(r#""reopened":["leistungszuordnung"]"#),
        "{}",
        taken[0].data.as_str()
    );

    // Schwedt's own Meldebescheinigung and every other rollout are untouched.
    assert_eq!(
        store.stream_version("rollout-meldebestaetigung:120735051000").await.expect("v"),
        schwedt_before
    );
    assert_eq!(
        store.stream_version("rollout-wohnsitz_anmeldung:120735304000").await.expect("v"),
        unrelated_before
    );
    assert_eq!(
        engine.load("meldebestaetigung", ODER_WELSE).await.expect("load").expect("old").status(),
        Status::Cancelled
    );
    // Work goes on at the successor; the dissolved administration takes nothing new.
    assert!(matches!(
        engine.start_rollout("bafoeg", ODER_WELSE, None, &admin()).await,
        Err(EngineError::Dissolved(_))
    ));
    assert!(matches!(
        engine.execute(s, ODER_WELSE, complete("avv", json!({})), &staff()).await,
        Err(EngineError::Rejected(Rejection::Cancelled))
    ));
    let again = engine.import_catalog(&full, &admin(), |_, _| {}).await.expect("import");
    assert_eq!(again, engine::ImportReport::default(), "nothing happens twice");
}

#[tokio::test]
async fn a_dissolution_with_several_successors_ends_the_rollouts_naming_them() {
    let (engine, _) = engine().await;
    let mut data = dataset();
    data.dissolutions.clear();
    engine.import_catalog(&data, &admin(), |_, _| {}).await.expect("import");
    let amt = "120605003000";
    engine.start_rollout("hundesteuer", amt, None, &admin()).await.expect("start");
    let bad = engine.dissolve_authority(amt, vec!["999999999999".into()], "Test", &admin()).await;
    assert!(matches!(bad, Err(EngineError::UnknownAuthority(_))), "{bad:?}");
    let report = engine
        .dissolve_authority(
            amt,
            vec!["120605006000".into(), "120600005005".into()],
            "Neugliederung",
            &admin(),
        )
        .await
        .expect("dissolve");
    assert_eq!((report.moved.len(), report.closed.clone()), (0, vec!["hundesteuer".to_string()]));
    let old = engine.load("hundesteuer", amt).await.expect("load").expect("rollout");
    assert_eq!(old.status(), Status::Cancelled);
    assert_eq!(old.transferred_to, None);
    assert!(old
        .cancelled
        .as_deref()
        .is_some_and(|r| r.contains("Nachfolger 120605006000, 120600005005. Neugliederung")));
    assert!(matches!(
        engine.dissolve_authority(amt, vec![], "x", &admin()).await,
        Err(EngineError::Dissolved(_))
    ));
}

#[tokio::test]
async fn an_idempotency_key_applies_a_command_once_and_a_stale_version_conflicts() {
    let (engine, store) = engine().await;
    engine.import_catalog(&dataset(), &admin(), |_, _| {}).await.expect("import");
    let started = engine.start_rollout("wohngeld", "120540000000", None, &admin()).await.expect("start");
    let mut keyed = staff();
    keyed.idempotency_key = Some("schritt-1".into());
    let kontakt = contact(&engine, "120540000000").await;
    let command = complete("interesse", json!({ "datum": "2025-01-01", "kontakt": kontakt }));
    let first = engine.execute("wohngeld", "120540000000", command.clone(), &keyed).await.expect("first");
    let before = head(&store).await;
    let again = engine.execute("wohngeld", "120540000000", command, &keyed).await.expect("repeat");
    assert_eq!(head(&store).await, before, "the repeat appends nothing");
    assert_eq!(again.events, first.events, "and answers with the first events");
    let mut stale = staff();
    stale.expected_version = Some(started.rollout.version);
    let conflict = engine
        .execute("wohngeld", "120540000000", Command::Comment { text: "x".into(), step: None }, &stale)
        .await;
    assert!(matches!(conflict, Err(EngineError::Conflict { expected: 1, actual: 2 })), "{conflict:?}");
}

/// Sixteen writers on one rollout at once: without an expected version every command acts on
/// the state it finds and succeeds; with the version they all read, all but one conflict.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_commands_without_a_version_all_succeed_and_stale_versions_conflict() {
    let (engine, store) = engine().await;
    let engine = std::sync::Arc::new(engine);
    engine.import_catalog(&dataset(), &admin(), |_, _| {}).await.expect("import");
    let started = engine.start_rollout("wohngeld", "120540000000", None, &admin()).await.expect("start");
    let run = |versioned: bool| {
        (0..16)
            .map(|w| {
                let engine = engine.clone();
                tokio::spawn(async move {
                    let mut results = Vec::new();
                    for n in 0..10 {
                        let mut who = staff();
                        if versioned {
                            who.expected_version = Some(2);
                        }
                        let text = format!("Notiz {w}/{n}");
                        results.push(
                            engine
                                .execute(
                                    "wohngeld",
                                    "120540000000",
                                    Command::Comment { text, step: None },
                                    &who,
                                )
                                .await,
                        );
                    }
                    results
                })
            })
            .collect::<Vec<_>>()
    };
    let mut ok = 0;
    for task in run(false) {
        for r in task.await.expect("writer") {
            r.expect("a command without expectedVersion never conflicts");
            ok += 1;
        }
    }
    assert_eq!(ok, 160);
    assert_eq!(
        store.stream_version("rollout-wohngeld:120540000000").await.expect("version"),
        started.rollout.version + 160
    );
    // All of them name version 2, which the rollout has long passed: every one conflicts.
    for task in run(true) {
        for r in task.await.expect("writer") {
            assert!(matches!(r, Err(EngineError::Conflict { expected: 2, .. })), "{r:?}");
        }
    }
}

/// The rollout cache is never wrong, only possibly behind: two engines on one log (two servers
/// on one database), each with its entries. A change through one is seen by the other's next
/// command: a correct `expectedVersion` succeeds, a stale one conflicts; an engine that keeps
/// one entry evicts the other rollout and folds it again when needed.
#[tokio::test]
async fn a_cached_rollout_is_brought_forward_and_never_trusted_beyond_the_log() {
    let store: Arc<dyn EventStore> = Arc::new(MemoryStore::new());
    let registry = || Arc::new(engine::definitions::bundled().expect("bundled"));
    let a = Engine::open_with_cache(store.clone(), registry(), 1).await.expect("a");
    a.import_catalog(&dataset(), &admin(), |_, _| {}).await.expect("import");
    let b = Engine::open_with_cache(store.clone(), registry(), 1).await.expect("b");
    let (p, c) = ("120540000000", "120520000000");
    a.start_rollout("wohngeld", p, None, &admin()).await.expect("start");
    a.execute("wohngeld", p, Command::Comment { text: "a1".into(), step: None }, &staff()).await.expect("a1");
    let hits = a.cache_stats().hits;
    let at = a.load("wohngeld", p).await.expect("load").expect("rollout").version;
    assert_eq!(
        a.cache_stats().hits,
        hits + 1,
        "its own append kept the entry current: {:?}",
        a.cache_stats()
    );
    // B appends twice; A's entry is two behind.
    for t in ["b1", "b2"] {
        b.execute("wohngeld", p, Command::Comment { text: t.into(), step: None }, &staff()).await.expect("b");
    }
    let mut stale = staff();
    stale.expected_version = Some(at);
    let conflict = a.execute("wohngeld", p, Command::Comment { text: "x".into(), step: None }, &stale).await;
    assert!(
        matches!(conflict, Err(EngineError::Conflict { actual, .. }) if actual == at + 2),
        "{conflict:?}"
    );
    let mut current = staff();
    current.expected_version = Some(at + 2);
    let done = a
        .execute("wohngeld", p, Command::Comment { text: "a2".into(), step: None }, &current)
        .await
        .expect("a2");
    assert_eq!(done.rollout.version, at + 3);
    assert!(a.cache_stats().advanced >= 1, "brought forward, not folded again: {:?}", a.cache_stats());
    // The answer equals a fold of the whole stream.
    let folded = projections::load_rollout(&*store, &*registry(), "wohngeld", p)
        .await
        .expect("fold")
        .expect("rollout");
    assert_eq!(format!("{:?}", done.rollout), format!("{folded:?}"));
    // One entry: the second rollout evicts the first; the first is folded again, correctly.
    a.start_rollout("wohngeld", c, None, &admin()).await.expect("start");
    a.execute("wohngeld", c, Command::Comment { text: "c1".into(), step: None }, &staff()).await.expect("c1");
    assert_eq!(a.cache_stats().entries, 1);
    let misses = a.cache_stats().misses;
    let again = a.load("wohngeld", p).await.expect("load").expect("rollout");
    assert_eq!(again.version, at + 3);
    assert_eq!(a.cache_stats().misses, misses + 1, "evicted, folded again");
    // No cache at all: every command folds, with the same answers.
    let none = Engine::open_with_cache(store.clone(), registry(), 0).await.expect("none");
    let r = none.load("wohngeld", p).await.expect("load").expect("rollout");
    assert_eq!(format!("{r:?}"), format!("{again:?}"));
    assert_eq!(none.cache_stats().entries, 0);
}

/// A Land-level step reaches every rollout of its service, across the fan-out's batches
/// (`FANOUT_BATCH`: wohngeld has more rollouts than one batch holds), and its reopening too.
#[tokio::test]
async fn a_land_step_reaches_every_rollout_across_the_fan_out_batches() {
    let (engine, _) = engine().await;
    engine.import_catalog(&dataset(), &admin(), |_, _| {}).await.expect("import");
    engine.start_service("wohngeld", &admin()).await.expect("start");
    let arss: Vec<String> =
        engine.catalog().active_authorities().filter(|a| a.ars != LAND_ARS).map(|a| a.ars.clone()).collect();
    let mut started = Vec::new();
    for ars in &arss {
        if engine.load("wohngeld", ars).await.expect("load").is_some() {
            started.push(ars.clone());
        }
    }
    assert!(started.len() > engine::limits::FANOUT_BATCH, "{} rollouts", started.len());
    let manager = person("person:pm", vec![Role::ProjectManager], false);
    let second = person("person:pm-2", vec![Role::ProjectManager], false);
    for (step, evidence) in [
        ("interesse_land", json!({ "datum": "2026-11-01", "ressort": "MIK" })),
        ("bedarf_abgestimmt", json!({ "protokoll": "Az. 1" })),
        (
            "fit_store_vertrag",
            json!({ "vertragsart": "fit_store", "vertragsnummer": "FIT-1", "unterzeichnet_am": "2026-11-02" }),
        ),
    ] {
        engine.execute("wohngeld", LAND_ARS, complete(step, evidence), &manager).await.expect(step);
    }
    let confirm = Command::ConfirmStep { step: "fit_store_vertrag".into(), comment: None };
    engine.execute("wohngeld", LAND_ARS, confirm, &second).await.expect("confirm");
    for ars in &started {
        let r = engine.load("wohngeld", ars).await.expect("load").expect("rollout");
        assert!(r.land_steps_done.contains("fit_store_vertrag"), "{ars} did not get the Land step");
    }
    let reopen = Command::ReopenStep { step: "fit_store_vertrag".into(), reason: "Nachtrag".into() };
    engine.execute("wohngeld", LAND_ARS, reopen, &manager).await.expect("reopen");
    for ars in &started {
        let r = engine.load("wohngeld", ars).await.expect("load").expect("rollout");
        assert!(!r.land_steps_done.contains("fit_store_vertrag"), "{ars} kept the reopened Land step");
    }
}

/// Stored type names and schema versions are part of the stored format: a rename (which old
/// logs could no longer be read with) must be a deliberate change of `schema/event-types.txt`.
/// `UPDATE_SCHEMA=1 cargo test -p engine` rewrites the file.
#[test]
fn every_stored_event_type_and_version_is_in_the_committed_list() {
    let listed: String =
        engine::stored_event_types().iter().map(|(name, v)| format!("{name} {v}\n")).collect();
    let path = format!("{}/../../schema/event-types.txt", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &listed).expect("write");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(committed, listed, "the stored event types differ from schema/event-types.txt");
    // Every listed type is read by its decoder (a schema version it does not read is refused
    // by version, not as an unknown type).
    for (name, version) in workflow::RolloutEvent::STORED_TYPES {
        let e = workflow::RolloutEvent::from_stored(name, version + 1, "{}").expect_err("a newer version");
        assert!(e.contains("schema version"), "{name}: {e}");
    }
    for (name, version) in catalog::CatalogEvent::STORED_TYPES {
        let e = catalog::CatalogEvent::from_stored(name, version + 1, "{}")
            .expect("a catalogue type")
            .expect_err("v");
        assert!(e.contains("schema version"), "{name}: {e}");
    }
}

fn token_spec(name: &str) -> engine::TokenSpec {
    engine::TokenSpec {
        name: name.into(),
        role: engine::TokenRole::Auditor,
        authorities: vec![],
        services: vec![],
        person: None,
        reason: "Prüfung".into(),
    }
}

/// Tokens are engine commands: their events carry the invocation's actor and correlation id,
/// the registry follows them, a new engine folds them again, and the name has a limit.
#[tokio::test]
async fn tokens_are_issued_and_revoked_as_events_of_the_invocation() {
    use engine::limits::TOKEN_NAME_CHARS_MAX;
    let (engine, store) = engine().await;
    let req = admin();
    let at_limit = "ü".repeat(TOKEN_NAME_CHARS_MAX);
    let new = engine.issue_token(token_spec(&at_limit), &req).await.expect("a name at its limit");
    assert_eq!(new.event.event_type, "TokenIssued");
    assert_eq!(new.event.correlation_id, req.correlation_id, "the invocation's correlation id");
    assert_eq!(new.event.actor, req.principal.actor);
    assert!(!new.event.data.as_str().contains(&new.secret[new.secret.len() - 64..]), "no secret in the log");
    assert_eq!(engine.tokens().authenticate(&new.secret).map(|t| t.name), Some(at_limit.clone()));
    let too_long = engine.issue_token(token_spec(&format!("{at_limit}x")), &req).await;
    assert!(
        matches!(&too_long, Err(EngineError::InvalidToken(m)) if m.contains(&format!("1 to {TOKEN_NAME_CHARS_MAX} characters"))),
        "{too_long:?}"
    );
    let staff_without_scope =
        engine::TokenSpec { role: engine::TokenRole::AuthorityStaff, ..token_spec("x") };
    assert!(matches!(engine.issue_token(staff_without_scope, &req).await, Err(EngineError::InvalidToken(_))));

    let id = new.issued.token_id;
    let revocation = engine.revoke_token(id, "left the project", &req).await.expect("revoke");
    assert_eq!(
        (revocation.event_type.as_str(), revocation.correlation_id),
        ("TokenRevoked", req.correlation_id)
    );
    assert!(engine.tokens().authenticate(&new.secret).is_none(), "a revoked token is refused at once");
    assert!(matches!(engine.revoke_token(id, "again", &req).await, Err(EngineError::TokenAlreadyRevoked(_))));
    let unknown = uuid::Uuid::now_v7();
    assert!(
        matches!(engine.revoke_token(unknown, "?", &req).await, Err(EngineError::UnknownToken(u)) if u == unknown)
    );

    // A second engine on the same log (another server, a restart) knows both facts.
    let reopened =
        Engine::open(store, Arc::new(engine::definitions::bundled().expect("bundled"))).await.expect("open");
    assert_eq!(reopened.tokens().get(id).map(|(_, active)| active), Some(false));
}

/// A command is decided on the cache's entry without asking the store first, so an entry behind
/// the log (another server changed the rollout) must never decide the answer: a command the
/// stale entry would refuse, or one whose expected version is the log's, is decided again on the
/// store's state; one the stale entry would accept is refused by the store's version check and
/// decided again, too.
#[tokio::test]
async fn a_command_refused_on_a_stale_entry_is_decided_on_the_log() {
    let store: Arc<dyn EventStore> = Arc::new(MemoryStore::new());
    let registry = || Arc::new(engine::definitions::bundled().expect("bundled"));
    let a = Engine::open(store.clone(), registry()).await.expect("a");
    a.import_catalog(&dataset(), &admin(), |_, _| {}).await.expect("import");
    let b = Engine::open(store.clone(), registry()).await.expect("b");
    let p = "120540000000";
    let kontakt = contact(&a, p).await;
    let evidence = || json!({ "datum": "2026-11-01", "kontakt": kontakt });
    a.start_rollout("wohngeld", p, None, &admin()).await.expect("start");
    a.execute("wohngeld", p, complete("interesse", evidence()), &staff()).await.expect("complete on a");
    // B reopens the step: A's entry still has it done.
    let reopen = Command::ReopenStep { step: "interesse".into(), reason: "Korrektur".into() };
    b.execute("wohngeld", p, reopen.clone(), &staff()).await.expect("reopen on b");
    // On A's entry completing it again would be refused ("already done"); on the log it is not.
    let again =
        a.execute("wohngeld", p, complete("interesse", evidence()), &staff()).await.expect("again on a");
    let folded = projections::load_rollout(&*store, &*registry(), "wohngeld", p)
        .await
        .expect("fold")
        .expect("rollout");
    assert_eq!(format!("{:?}", again.rollout), format!("{folded:?}"));
    // B's entry is now behind: it has the step reopened. Reopening again would be accepted on
    // it, the store refuses the stale version, and the log's state says the step is done, so
    // the reopening is recorded on top of A's completion.
    let reopened = b.execute("wohngeld", p, reopen, &staff()).await.expect("reopen on b again");
    assert_eq!(reopened.rollout.version, again.rollout.version + 1);
    // The log's version as expected version, with A's entry one behind: accepted.
    let mut current = staff();
    current.expected_version = Some(reopened.rollout.version);
    let done =
        a.execute("wohngeld", p, complete("interesse", evidence()), &current).await.expect("current on a");
    assert_eq!(done.rollout.version, reopened.rollout.version + 1);
    // And a refusal the log confirms is still a refusal.
    let refused = a.execute("wohngeld", p, complete("interesse", evidence()), &staff()).await;
    assert!(matches!(refused, Err(EngineError::Rejected(_))), "{refused:?}");
}
