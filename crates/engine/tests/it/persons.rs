//! Persons on a real log: retention erases exactly who is due at the store's clock, a crash
//! between the erasure's event and the key store is finished at the next open.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use engine::{Engine, Invocation, PersonDetails, Personal, Retention};
use store::{EventStore, MemoryStore, Timestamp};

use crate::catalog_and_rollouts::{admin, dataset};

#[derive(Debug, Default)]
struct ManualClock(AtomicI64);

impl ManualClock {
    fn set(&self, day: &str) {
        let t: Timestamp = format!("{day}T12:00:00Z").parse().expect("time");
        self.0.store(t.unix_micros(), Ordering::SeqCst);
    }
}

impl store::Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_unix_micros(self.0.load(Ordering::SeqCst))
    }
}

async fn engine_on(store: Arc<dyn EventStore>) -> Engine {
    Engine::open(store, Arc::new(engine::definitions::bundled().expect("bundled"))).await.expect("open")
}

fn named(name: &str) -> PersonDetails {
    PersonDetails { name: name.into(), ..Default::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_erases_exactly_the_persons_due_at_the_stores_time() {
    let clock = Arc::new(ManualClock::default());
    clock.set("2026-02-01");
    let store: Arc<dyn EventStore> = Arc::new(MemoryStore::with_clock(clock.clone()));
    let engine = engine_on(store.clone()).await;
    engine.import_catalog(&dataset(), &admin(), |_, _| {}).await.expect("catalogue");
    let ars = "120520000000";
    let mut ids = Vec::new();
    for (name, left) in [("Anna", Some("2024-01-31")), ("Bert", Some("2024-02-02")), ("Cora", None)] {
        let p = engine.register_person(ars, named(name), &admin()).await.expect("register");
        if let Some(day) = left {
            engine.record_person_left(p.id, day, "Wechsel der Dienststelle", &admin()).await.expect("left");
        }
        ids.push(p.id);
    }
    let p2y: Retention = "P2Y".parse().expect("P2Y");
    assert_eq!(engine.erase_due_persons(p2y.clone()).await.expect("round"), vec![ids[0]], "only Anna is due");
    let erased = engine.persons().get(ids[0]).expect("Anna");
    let erasure = erased.erased.expect("erased");
    assert_eq!(erasure.by.id, "system");
    assert!(erasure.reason.contains("P2Y"), "{}", erasure.reason);
    assert_eq!(engine.person_details(ids[0]).await.expect("read"), Some(Personal::Erased));
    assert_eq!(engine.person_details(ids[1]).await.expect("read"), Some(Personal::Readable(named("Bert"))));
    assert_eq!(
        engine.erase_due_persons(p2y.clone()).await.expect("again"),
        Vec::<uuid::Uuid>::new(),
        "nothing twice"
    );
    clock.set("2026-02-02");
    assert_eq!(engine.erase_due_persons(p2y.clone()).await.expect("a day later"), vec![ids[1]]);
    clock.set("2040-01-01");
    assert_eq!(
        engine.erase_due_persons(p2y).await.expect("much later"),
        Vec::<uuid::Uuid>::new(),
        "Cora never left"
    );
    assert_eq!(engine.person_details(ids[2]).await.expect("read"), Some(Personal::Readable(named("Cora"))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erasure_whose_key_outlived_a_crash_is_finished_at_the_next_open() {
    let store: Arc<dyn EventStore> = Arc::new(MemoryStore::new());
    let engine = engine_on(store.clone()).await;
    engine.import_catalog(&dataset(), &admin(), |_, _| {}).await.expect("catalogue");
    let p = engine.register_person("120520000000", named("Dora"), &admin()).await.expect("register");
    let keys = store.key_store().expect("keys");
    let spec = engine::TokenSpec {
        name: "Sachbearbeitung".into(),
        role: engine::TokenRole::AuthorityStaff,
        authorities: vec!["120520000000".into()],
        services: vec![],
        person: Some(p.id),
        reason: "Arbeitsplatz".into(),
    };
    let token = engine.issue_token(spec, &admin()).await.expect("token").issued.token_id;
    // As if the process died after `PersonErased` was durable, before the key was destroyed
    // and the person's token revoked.
    let erased = store::NewEvent::new(
        "PersonErased",
        1,
        store::Json::from_value(&serde_json::json!({ "personId": p.id, "reason": "Antrag" })),
        admin().principal.actor.clone(),
        uuid::Uuid::now_v7(),
    );
    store
        .append(&format!("person-{}", p.id), store::ExpectedVersion::Exact(1), vec![erased])
        .await
        .expect("append");
    assert!(keys.get(p.id).await.expect("get").is_some());
    let reopened = engine_on(store.clone()).await;
    assert_eq!(keys.get(p.id).await.expect("get"), None, "the open destroyed it");
    assert_eq!(reopened.tokens().get(token).map(|(_, active)| active), Some(false), "and revoked the token");
    assert_eq!(reopened.person_details(p.id).await.expect("read"), Some(Personal::Erased));
    let again = reopened.erase_person(p.id, "nochmal", &Invocation::system()).await;
    assert!(matches!(again, Err(engine::EngineError::PersonErased(_))), "{again:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contacts_are_erased_when_every_rollout_naming_them_ended_longer_ago_than_its_retention() {
    let clock = Arc::new(ManualClock::default());
    clock.set("2026-01-10");
    let store: Arc<dyn EventStore> = Arc::new(MemoryStore::with_clock(clock.clone()));
    let engine = engine_on(store.clone()).await;
    engine.import_catalog(&dataset(), &admin(), |_, _| {}).await.expect("catalogue");
    let ars = "120520000000";
    let (ended, running, both) = (
        engine.register_person(ars, named("Ende"), &admin()).await.expect("p").id,
        engine.register_person(ars, named("Laufend"), &admin()).await.expect("p").id,
        engine.register_person(ars, named("Beide"), &admin()).await.expect("p").id,
    );
    let complete = |kontakt: uuid::Uuid| workflow::decide::Command::CompleteStep {
        step: "interesse".into(),
        evidence: [
            ("datum".to_owned(), serde_json::json!("2026-01-10")),
            ("kontakt".to_owned(), serde_json::json!(kontakt.to_string())),
        ]
        .into_iter()
        .collect(),
        comment: None,
    };
    // wohngeld names `ended` and is cancelled; elterngeld names `running` and goes on.
    for service in ["wohngeld", "elterngeld"] {
        engine.start_rollout(service, ars, None, &admin()).await.expect("start");
    }
    engine.execute("wohngeld", ars, complete(ended), &admin()).await.expect("complete");
    engine.execute("elterngeld", ars, complete(running), &admin()).await.expect("complete");
    let cancel = workflow::decide::Command::Cancel { reason: "Dienst wird nicht nachgenutzt".into() };
    engine.execute("wohngeld", ars, cancel, &admin()).await.expect("cancel");
    // `both`: named by a third rollout that ended too, and by the running one's reopened step.
    engine.start_rollout("kfz_zulassung", ars, None, &admin()).await.expect("start");
    engine.execute("kfz_zulassung", ars, complete(both), &admin()).await.expect("complete");
    let cancel = workflow::decide::Command::Cancel { reason: "entfällt".into() };
    engine.execute("kfz_zulassung", ars, cancel, &admin()).await.expect("cancel");
    let reopen = workflow::decide::Command::ReopenStep { step: "interesse".into(), reason: "Wechsel".into() };
    engine.execute("elterngeld", ars, reopen, &admin()).await.expect("reopen");
    engine.execute("elterngeld", ars, complete(both), &admin()).await.expect("complete again");

    clock.set("2028-01-09");
    assert_eq!(
        engine.erase_due_contacts().await.expect("round"),
        Vec::<uuid::Uuid>::new(),
        "two years are not over"
    );
    clock.set("2028-01-11");
    assert_eq!(
        engine.erase_due_contacts().await.expect("round"),
        vec![ended],
        "only the contact of ended rollouts"
    );
    let erasure = engine.persons().get(ended).expect("p").erased.expect("erased");
    assert!(erasure.reason.contains("P2Y"), "{}", erasure.reason);
    assert_eq!(erasure.by.id, "system");
    assert_eq!(
        engine.person_details(running).await.expect("read"),
        Some(Personal::Readable(named("Laufend")))
    );
    assert_eq!(
        engine.person_details(both).await.expect("read"),
        Some(Personal::Readable(named("Beide"))),
        "a running rollout still names it"
    );
}
