//! Questions and persons are written the one way rollouts are: decided on the stream as stored
//! and appended at its exact version, decided again after a concurrent append. Two engines on
//! one store (two servers on one database) never append an event decided on a stale state.

use std::sync::Arc;

use engine::{Engine, EngineError, PersonDetails};
use store::{Direction, EventStore, MemoryStore};

use crate::catalog_and_rollouts::{admin, dataset};

async fn engine_on(store: Arc<dyn EventStore>) -> Arc<Engine> {
    Arc::new(
        Engine::open(store, Arc::new(engine::definitions::bundled().expect("bundled"))).await.expect("open"),
    )
}

async fn types_of(store: &dyn EventStore, stream: &str) -> Vec<String> {
    let events = store.read_stream(stream, 1, Direction::Forward, 10_000).await.expect("read");
    events.into_iter().map(|e| e.event_type).collect()
}

/// Both engines resolve the same open thread at once, round after round: exactly one resolution
/// per round is stored, the other is refused as "already resolved" (an engine whose board is
/// behind still decides on the stream as stored).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_engines_resolving_one_thread_store_one_resolution() {
    let store: Arc<dyn EventStore> = Arc::new(MemoryStore::new());
    let a = engine_on(store.clone()).await;
    a.import_catalog(&dataset(), &admin(), |_, _| {}).await.expect("catalogue");
    let ars = "120540000000";
    a.start_rollout("wohngeld", ars, None, &admin()).await.expect("start");
    let q = a
        .ask_question("wohngeld", ars, "avv", engine::questions::Party::Land, "Welche AVV?", &admin())
        .await
        .expect("ask");
    let b = engine_on(store.clone()).await;
    const ROUNDS: usize = 20;
    for round in 0..ROUNDS {
        let (ra, rb) = tokio::join!(
            {
                let a = a.clone();
                async move { a.set_question_resolved(q.id, true, None, &admin()).await }
            },
            {
                let b = b.clone();
                async move { b.set_question_resolved(q.id, true, None, &admin()).await }
            }
        );
        let refused = [&ra, &rb].iter().filter(|r| matches!(r, Err(EngineError::QuestionState(_)))).count();
        assert_eq!(refused, 1, "round {round}: one resolves, the other is refused: {ra:?} / {rb:?}");
        // B's board has not followed A's appends; it reopens on the stream as stored.
        b.set_question_resolved(q.id, false, Some("weiter"), &admin()).await.expect("reopen");
    }
    let types = types_of(&*store, &engine::questions::question_stream("wohngeld", ars)).await;
    let resolved = types.iter().filter(|t| *t == "QuestionResolved").count();
    let reopened = types.iter().filter(|t| *t == "QuestionReopened").count();
    assert_eq!((resolved, reopened), (ROUNDS, ROUNDS), "{types:?}");
}

/// One engine erases a person while the other records a consent: never a consent after the
/// erasure in the person's stream (the consent is refused as "erased" instead).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_consent_is_stored_after_an_erasure_by_another_engine() {
    let store: Arc<dyn EventStore> = Arc::new(MemoryStore::new());
    let a = engine_on(store.clone()).await;
    a.import_catalog(&dataset(), &admin(), |_, _| {}).await.expect("catalogue");
    let mut ids = Vec::new();
    for n in 0..12 {
        let details = PersonDetails { name: format!("Person {n}"), ..Default::default() };
        ids.push(a.register_person("120540000000", details, &admin()).await.expect("register").id);
    }
    let b = engine_on(store.clone()).await;
    for id in ids {
        let (erased, consent) = tokio::join!(
            {
                let a = a.clone();
                async move { a.erase_person(id, "auf Wunsch", &admin()).await }
            },
            {
                let b = b.clone();
                async move { b.set_contact_consent(id, None, true, "schriftlich", &admin()).await }
            }
        );
        erased.expect("the erasure is stored");
        assert!(matches!(consent, Ok(_) | Err(EngineError::PersonErased(_))), "{consent:?}");
        let types = types_of(&*store, &format!("person-{id}")).await;
        assert_eq!(
            types.last().map(String::as_str),
            Some("PersonErased"),
            "nothing after the erasure: {types:?}"
        );
        // Later changes by the engine that did not erase are refused on the stream as stored.
        let late = b.set_contact_consent(id, None, false, "zurückgezogen", &admin()).await;
        assert!(matches!(late, Err(EngineError::PersonErased(_))), "{late:?}");
    }
}
