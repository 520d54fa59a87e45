//! Persons as records: who may read them, `person` evidence, tokens that name their person,
//! and erasure — after which no read path shows the values and the log still verifies.

use std::sync::Arc;

use engine::TokenRole;
use serde_json::json;
use store::{EventStore, MemoryStore};

use crate::support::{caller, code, execute, run, schema_over};

const A: &str = "120520000000";
const B: &str = "120540000000";
const NAME: &str = "Erika Mustermann-Löschtest";
const EMAIL: &str = "erika.loeschtest@amt.example.de";
const PHONE: &str = "+49 331 8661234";

/// Every stored event's bytes, as one buffer.
async fn log_bytes(store: &dyn EventStore) -> Vec<u8> {
    let mut all = Vec::new();
    for e in store.read_all(1, 100_000).await.expect("read") {
        all.extend(store::encode(&e));
    }
    all
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_is_read_by_whom_it_may_be_and_erased_from_every_read() {
    let store: Arc<dyn EventStore> = Arc::new(MemoryStore::new());
    let api = schema_over(store.clone()).await;
    let admin = caller(TokenRole::Admin);
    let staff_a = api::Caller { authorities: vec![A.into()], ..caller(TokenRole::AuthorityStaff) };
    let staff_b = api::Caller { authorities: vec![B.into()], ..caller(TokenRole::AuthorityStaff) };
    let auditor = caller(TokenRole::Auditor);
    let bot = api::Caller { services: vec!["wohngeld".into()], ..caller(TokenRole::Automation) };

    // Staff register persons of their own administration only.
    let register = |ars: &str| {
        format!(
            r#"mutation {{ registerPerson(input: {{ ars: "{ars}", name: "{NAME}", function: "Sachgebietsleitung",
               email: "{EMAIL}", phone: "{PHONE}" }}) {{ id name email phone erased }} }}"#
        )
    };
    assert_eq!(code(&execute(&api, &staff_b, &register(A)).await).as_deref(), Some("FORBIDDEN"));
    let bad = execute(&api, &staff_a, &register(A).replace(EMAIL, "kein-postfach")).await;
    assert_eq!(code(&bad).as_deref(), Some("BAD_USER_INPUT"), "{:?}", bad.errors);
    assert!(bad.errors[0].message.contains("email:"), "{}", bad.errors[0].message);
    let registered = run(&api.schema, &staff_a, &register(A)).await;
    let person = registered["registerPerson"]["id"].as_str().expect("id").to_owned();
    assert_eq!(registered["registerPerson"]["name"], NAME);
    assert!(!contains(&log_bytes(&*store).await, NAME), "the log holds no plaintext name");

    // Who may read the person.
    let read = format!(r#"{{ person(id: "{person}") {{ name email phone function }} }}"#);
    for (who, sees) in [(&staff_a, true), (&auditor, true), (&admin, true), (&staff_b, false), (&bot, false)]
    {
        let data = run(&api.schema, who, &read).await;
        assert_eq!(data["person"].is_object(), sees, "{:?} {data}", who.role);
    }
    let own = api::Caller { person: Some(person.parse().expect("uuid")), ..staff_b.clone() };
    assert_eq!(run(&api.schema, &own, &read).await["person"]["email"], EMAIL, "the person's own token");

    // `person` evidence: a rollout on the definition whose contacts are persons.
    let on_v4 = catalog::DefinitionRef::new("efa-onboarding", 4);
    api.engine
        .start_rollout("wohngeld", A, Some(&on_v4), &engine::Invocation::system())
        .await
        .expect("start on version 4");
    let complete = |kontakt: &str| {
        format!(
            r#"mutation {{ completeStep(input: {{ rolloutId: "wohngeld:{A}", stepId: "interesse",
               evidence: {{ datum: "2026-11-01", kontakt: "{kontakt}" }} }}) {{ rollout {{ version }} }} }}"#
        )
    };
    let unknown = execute(&api, &staff_a, &complete(&uuid::Uuid::now_v7().to_string())).await;
    assert_eq!(code(&unknown).as_deref(), Some("NOT_FOUND"), "{:?}", unknown.errors);
    let text = execute(&api, &staff_a, &complete("Frau Beispiel")).await;
    assert_eq!(code(&text).as_deref(), Some("REJECTED"), "a name is not a person: {:?}", text.errors);
    let issued = run(
        &api.schema,
        &admin,
        &format!(r#"mutation {{ issueToken(input: {{ name: "Sachbearbeitung", role: "authority-staff", authorities: ["{A}"], personId: "{person}", reason: "Arbeitsplatz" }}) {{ id }} }}"#),
    )
    .await;
    let token_id: uuid::Uuid = issued["issueToken"]["id"].as_str().expect("token").parse().expect("uuid");
    assert_eq!(
        api.engine.tokens().get(token_id).map(|(t, active)| (t.person, active)),
        Some((Some(person.parse().expect("uuid")), true))
    );
    // The token that names its person completes the step: the event names the person by id.
    let erika = api::Caller { person: Some(person.parse().expect("uuid")), ..staff_a.clone() };
    run(&api.schema, &erika, &complete(&person)).await;
    let history = format!(
        r#"{{ rollout(id: "wohngeld:{A}") {{ steps {{ id evidence completedBy {{ id name person {{ email }} }} }} }} }}"#
    );
    let step = |data: &serde_json::Value| data["rollout"]["steps"][0].clone();
    let before = step(&run(&api.schema, &staff_a, &history).await);
    assert_eq!(before["evidence"]["kontakt"], json!(person));
    assert_eq!(before["completedBy"]["name"], NAME);
    assert_eq!(before["completedBy"]["person"]["email"], EMAIL);
    // A token that may read the rollout but not the person sees neither its name nor its values.
    let unshared = step(&run(&api.schema, &bot, &history).await);
    assert_eq!(unshared["completedBy"]["name"], "[nicht freigegeben]");
    assert_eq!(unshared["completedBy"]["person"], json!(null));
    let completed =
        store.read_stream(&format!("rollout-wohngeld:{A}"), 1, store::Direction::Forward, 10).await;
    let completed =
        completed.expect("stream").into_iter().find(|e| e.event_type == "StepCompleted").expect("event");
    assert_eq!(
        (completed.actor.name.as_str(), completed.actor.person.map(|p| p.to_string())),
        ("", Some(person.clone()))
    );

    // Only an admin erases; then nothing reads the values, and the history still says who.
    let erase = format!(
        r#"mutation {{ erasePerson(input: {{ personId: "{person}", reason: "Antrag nach Art. 17 DSGVO" }}) {{ name email phone erased erasureReason }} }}"#
    );
    assert_eq!(code(&execute(&api, &staff_a, &erase).await).as_deref(), Some("FORBIDDEN"));
    let erased = run(&api.schema, &admin, &erase).await;
    assert_eq!(
        erased["erasePerson"],
        json!({ "name": "[gelöscht]", "email": null, "phone": null, "erased": true, "erasureReason": "Antrag nach Art. 17 DSGVO" })
    );
    assert_eq!(
        api.engine.tokens().get(token_id).map(|(_, active)| active),
        Some(false),
        "the person's token ends with it"
    );
    let keys = store.key_store().expect("keys");
    assert_eq!(keys.get(person.parse().expect("uuid")).await.expect("get"), None, "the key is destroyed");
    let after = step(&run(&api.schema, &staff_a, &history).await);
    assert_eq!(after["completedBy"]["name"], "[gelöscht]");
    assert_eq!(after["completedBy"]["id"], before["completedBy"]["id"], "still: which token");
    assert_eq!(after["completedBy"]["person"]["email"], json!(null));
    let events = run(
        &api.schema,
        &auditor,
        &format!(r#"{{ events(filter: {{ rolloutId: "wohngeld:{A}" }}) {{ edges {{ node {{ type recordedAt actor {{ name }} }} }} }} }}"#),
    )
    .await;
    let names: Vec<_> = events["events"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"]["actor"]["name"].clone())
        .collect();
    assert!(names.contains(&json!("[gelöscht]")), "{names:?}");
    let dump = format!(
        "{}",
        run(&api.schema, &admin, &format!(r#"{{ persons(ars: "{A}") {{ name email phone function }} }}"#))
            .await
    );
    for value in [NAME, EMAIL, PHONE, "Sachgebietsleitung"] {
        assert!(!dump.contains(value), "{value} in {dump}");
    }
    // An erased person is no longer named in new evidence; the log verifies as before.
    let again = execute(&api, &staff_a, &complete(&person)).await;
    assert!(
        again.errors.iter().any(|e| e.message.contains("erased"))
            || code(&again).as_deref() == Some("REJECTED"),
        "{:?}",
        again.errors
    );
    let report = store::verify_log(&*store, |_| {}).await.expect("verify");
    assert!(report.events > 0);
    let bytes = log_bytes(&*store).await;
    for value in [NAME, EMAIL, PHONE] {
        assert!(!contains(&bytes, value), "{value} is in the log");
    }
}
