//! Persons from logins: the first login registers, a later one records only a changed access,
//! an erased person's login is forgotten, an unknown administration is refused by name.

use std::sync::Arc;

use engine::logins::{Access, Login};
use engine::{Engine, EngineError, Personal, TokenRole};
use store::{EventStore, MemoryStore};

use crate::catalog_and_rollouts::{admin, dataset};

fn login(subject: &str, role: TokenRole, authorities: &[&str]) -> Login {
    Login {
        issuer: "http://127.0.0.1:9/land".into(),
        issuer_label: "Land".into(),
        subject: subject.into(),
        name: "Erika Muster".into(),
        email: Some("erika@amt.example.de".into()),
        access: Access { role, authorities: authorities.iter().map(|a| a.to_string()).collect() },
    }
}

async fn person_events(store: &dyn EventStore, person: uuid::Uuid) -> Vec<String> {
    let stream = engine::persons::person_stream(person);
    let events = store.read_stream(&stream, 1, store::Direction::Forward, 100).await.expect("read");
    events.into_iter().map(|e| e.event_type).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_registers_once_records_changed_access_and_is_forgotten_with_its_person() {
    let store: Arc<dyn EventStore> = Arc::new(MemoryStore::new());
    let engine = Engine::open(store.clone(), Arc::new(engine::definitions::bundled().expect("bundled")))
        .await
        .expect("open");
    engine.import_catalog(&dataset(), &admin(), |_, _| {}).await.expect("catalogue");
    let potsdam = "120540000000";
    let first = engine.sign_in(&login("sub-1", TokenRole::AuthorityStaff, &[potsdam])).await.expect("first");
    assert!(first.registered && first.access_changed);
    assert_eq!(engine.persons().get(first.person).expect("person").ars, potsdam);
    assert_eq!(
        person_events(&*store, first.person).await,
        ["PersonRegistered", "LoginLinked", "AccessChanged"]
    );
    let Some(Personal::Readable(details)) = engine.person_details(first.person).await.expect("details")
    else {
        panic!("readable")
    };
    assert_eq!(details.email.as_deref(), Some("erika@amt.example.de"));
    // The same login, the same access: nothing is appended.
    let again = engine.sign_in(&login("sub-1", TokenRole::AuthorityStaff, &[potsdam])).await.expect("again");
    assert_eq!((again.person, again.registered, again.access_changed), (first.person, false, false));
    assert_eq!(person_events(&*store, first.person).await.len(), 3);
    // The issuer's mapping changed: one event, by the mapping.
    let changed = engine.sign_in(&login("sub-1", TokenRole::Auditor, &[])).await.expect("changed");
    assert!(changed.access_changed && !changed.registered);
    let stream = engine::persons::person_stream(first.person);
    let event =
        store.read_stream(&stream, 4, store::Direction::Forward, 1).await.expect("read").pop().expect("4th");
    assert_eq!(event.event_type, "AccessChanged");
    assert_eq!(event.actor.id, "idp:http://127.0.0.1:9/land");
    assert_eq!(engine.logins().access_of(first.person).expect("access").access.role, TokenRole::Auditor);
    // Nowhere in the log is the subject or the e-mail in plain text.
    for e in store.read_all(1, 10_000).await.expect("log") {
        let text = serde_json::to_string(&e.data).expect("json");
        assert!(!text.contains("sub-1") && !text.contains("erika@"), "{}: {text}", e.event_type);
    }
    // Erased: the login is forgotten, the same subject is a new person.
    engine.erase_person(first.person, "Antrag auf Löschung", &admin()).await.expect("erase");
    let anew = engine.sign_in(&login("sub-1", TokenRole::AuthorityStaff, &[potsdam])).await.expect("anew");
    assert!(anew.registered);
    assert_ne!(anew.person, first.person);
    // A reopened engine knows the logins from the log.
    let reopened = Engine::open(store.clone(), Arc::new(engine::definitions::bundled().expect("bundled")))
        .await
        .expect("reopen");
    let known =
        reopened.sign_in(&login("sub-1", TokenRole::AuthorityStaff, &[potsdam])).await.expect("known");
    assert_eq!((known.person, known.registered), (anew.person, false));
    // Two first logins of one subject at once register one person.
    let third = login("sub-3", TokenRole::AuthorityStaff, &[potsdam]);
    let (a, b) = tokio::join!(engine.sign_in(&third), engine.sign_in(&third));
    let (a, b) = (a.expect("a"), b.expect("b"));
    assert_eq!(a.person, b.person);
    assert!(a.registered != b.registered, "one registered, the other found it");
    // An administration the catalogue does not know is refused by its key.
    match engine.sign_in(&login("sub-2", TokenRole::AuthorityStaff, &["129999999999"])).await {
        Err(EngineError::UnknownAuthority(ars)) => assert_eq!(ars, "129999999999"),
        other => panic!("refused: {other:?}"),
    }
}
