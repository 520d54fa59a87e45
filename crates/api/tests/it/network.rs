//! The OZG network: a staff token sees another administration's phase and consented contacts
//! through `peers`, never its evidence, comments or unconsented contacts, and `rollout`,
//! `rollouts` and `events` keep their scopes; consent withdrawn or the person erased removes the
//! contact at once. Solutions are found across administrations with German stemming; blockages
//! group by vendor; an escalation lands on every affected rollout's history.

use std::sync::Arc;

use engine::TokenRole;
use serde_json::{json, Value};
use store::{EventStore, MemoryStore};

use crate::support::{caller, code, execute_with, run, schema_over, Api};

const A: &str = "120520000000"; // Cottbus
const B: &str = "120540000000"; // Potsdam

async fn ok(api: &Api, who: &api::Caller, query: &str, variables: Value) -> Value {
    let r = execute_with(api, who, query, variables).await;
    assert!(r.errors.is_empty(), "{query}: {:?}", r.errors);
    r.data.into_json().expect("json")
}

async fn register(api: &Api, who: &api::Caller, ars: &str, name: &str) -> String {
    let d = ok(api, who, "mutation($a: String!, $n: String!) { registerPerson(input: { ars: $a, name: $n, email: \"kontakt@amt.example\" }) { id } }", json!({ "a": ars, "n": name })).await;
    d["registerPerson"]["id"].as_str().expect("id").to_owned()
}

const PEERS: &str = "query($s: String!, $t: String) { peers(serviceKey: $s, stepId: $t) { authority { ars name } phase status inOperation completedAt sameLandkreis distanceKm contacts { id name email } } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_show_phase_and_consented_contacts_and_nothing_else() {
    let store: Arc<dyn EventStore> = Arc::new(MemoryStore::new());
    let api = schema_over(store.clone()).await;
    let admin = caller(TokenRole::Admin);
    let staff_a = api::Caller { authorities: vec![A.into()], ..caller(TokenRole::AuthorityStaff) };
    let staff_b = api::Caller { authorities: vec![B.into()], ..caller(TokenRole::AuthorityStaff) };
    run(&api.schema, &admin, r#"mutation { startServiceRollout(serviceKey: "wohngeld") { existing } }"#)
        .await;
    let berta = register(&api, &staff_b, B, "Berta Beispiel").await;
    let uwe = register(&api, &staff_b, B, "Uwe Ungenannt").await;
    ok(&api, &staff_b, "mutation($e: JSON!) { completeStep(input: { rolloutId: \"wohngeld:120540000000\", stepId: \"interesse\", evidence: $e, comment: \"interner Vermerk 4711\" }) { rollout { version } } }", json!({ "e": { "datum": "2026-10-01", "kontakt": uwe } })).await;

    // Nobody else may give Berta's consent.
    let refused = execute_with(
        &api,
        &staff_a,
        "mutation($p: ID!) { giveContactConsent(input: { personId: $p, serviceKey: \"wohngeld\", reason: \"schriftlich\" }) { id } }",
        json!({ "p": berta }),
    )
    .await;
    assert_eq!(code(&refused).as_deref(), Some("FORBIDDEN"));
    // Subscriptions: A's feed carries nothing of B; the network feed says only that wohngeld's
    // network changed.
    let head = ok(&api, &admin, "{ head { position } }", json!({})).await["head"]["position"].clone();
    let mut a_feed = api.schema.execute_stream(
        async_graphql::Request::new(format!(
            "subscription {{ events(afterPosition: {head}) {{ streamId type }} }}"
        ))
        .data(staff_a.clone()),
    );
    let mut network = api.schema.execute_stream(
        async_graphql::Request::new(format!("subscription {{ networkChanged(serviceKey: \"wohngeld\", afterPosition: {head}) {{ serviceKey position }} }}"))
            .data(staff_a.clone()),
    );
    let given = ok(&api, &staff_b, "mutation($p: ID!) { giveContactConsent(input: { personId: $p, serviceKey: \"wohngeld\", reason: \"schriftlich\" }) { contactConsents contactConsentAllServices } }", json!({ "p": berta })).await;
    let change = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        async_graphql::futures_util::StreamExt::next(&mut network),
    )
    .await
    .expect("a change")
    .expect("open");
    let change = change.data.into_json().expect("json");
    assert_eq!(change["networkChanged"]["serviceKey"], "wohngeld");
    let keys: Vec<&String> = change["networkChanged"].as_object().expect("object").keys().collect();
    assert_eq!(keys, ["position", "serviceKey"], "only the service and the position");
    // A marker A may see: its own step; nothing of B comes before it.
    ok(&api, &staff_a, "mutation { startStep(input: { rolloutId: \"wohngeld:120520000000\", stepId: \"interesse\" }) { rollout { version } } }", json!({})).await;
    loop {
        let next = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            async_graphql::futures_util::StreamExt::next(&mut a_feed),
        )
        .await
        .expect("an event")
        .expect("open");
        let e = next.data.into_json().expect("json");
        let stream = e["events"]["streamId"].as_str().expect("stream").to_owned();
        assert!(!stream.ends_with(B) && !stream.starts_with("person-"), "A's feed holds nothing of B: {e}");
        if stream == format!("rollout-wohngeld:{A}") {
            break;
        }
    }
    assert_eq!(
        given["giveContactConsent"],
        json!({ "contactConsents": ["wohngeld"], "contactConsentAllServices": false })
    );

    // B's next read waits until its changes are folded; A's reads come after it.
    ok(&api, &staff_b, "{ head { position } }", json!({})).await;
    let peers = ok(&api, &staff_a, PEERS, json!({ "s": "wohngeld" })).await["peers"].clone();
    let list = peers.as_array().expect("peers");
    let b = list.iter().find(|p| p["authority"]["ars"] == B).expect("Potsdam is a peer");
    assert_eq!(
        b["contacts"],
        json!([{ "id": berta, "name": "Berta Beispiel", "email": "kontakt@amt.example" }]),
        "only the consented contact"
    );
    assert!(list.iter().all(|p| p["authority"]["ars"] != A), "not itself");
    let text = peers.to_string();
    for secret in ["interner Vermerk", "Uwe Ungenannt", "2026-10-01", &uwe] {
        assert!(!text.contains(secret), "peers show nothing of {secret}: {text}");
    }
    // Nearest first: the same Landkreis, then by distance.
    let keys: Vec<(bool, f64)> = list
        .iter()
        .map(|p| (!p["sameLandkreis"].as_bool().expect("bool"), p["distanceKm"].as_f64().unwrap_or(f64::MAX)))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort_by(|x, y| x.partial_cmp(y).expect("numbers"));
    assert_eq!(keys, sorted);
    assert!(keys.iter().any(|(_, d)| *d < f64::MAX), "distances are known");

    // With a step: those that completed it, with the date.
    let done = ok(&api, &staff_a, PEERS, json!({ "s": "wohngeld", "t": "interesse" })).await;
    let done = done["peers"].as_array().expect("peers").clone();
    assert_eq!(done.len(), 1, "{done:?}");
    assert_eq!(done[0]["authority"]["ars"], B);
    assert!(done[0]["completedAt"].as_str().is_some_and(|t| t.starts_with("20")));

    // The other scopes stay: no rollout, no list entry, no audit log of B.
    assert_eq!(
        code(
            &execute_with(&api, &staff_a, "{ rollout(id: \"wohngeld:120540000000\") { id } }", json!({}))
                .await
        )
        .as_deref(),
        Some("FORBIDDEN")
    );
    let own = ok(&api, &staff_a, "{ rollouts(first: 500) { edges { node { ars } } } }", json!({})).await;
    assert!(own["rollouts"]["edges"].as_array().expect("edges").iter().all(|e| e["node"]["ars"] == A));
    assert_eq!(
        code(
            &execute_with(
                &api,
                &staff_a,
                "{ events(filter: { ars: \"120540000000\" }) { edges { node { type } } } }",
                json!({})
            )
            .await
        )
        .as_deref(),
        Some("FORBIDDEN")
    );

    // Back-office systems: who uses the same one?
    let set = "mutation($i: BackOfficeSystemInput!) { setBackOfficeSystem(input: $i) { area product vendor version } }";
    let mine = json!({ "i": { "ars": B, "area": "Arbeit & Ruhestand", "product": "SoziaPro", "vendor": "Beispiel-Software AG", "version": "7.2" } });
    assert_eq!(
        code(&execute_with(&api, &staff_a, set, mine.clone()).await).as_deref(),
        Some("FORBIDDEN"),
        "not another's"
    );
    let wrong = json!({ "i": { "ars": B, "area": "Gibt es nicht", "product": "SoziaPro", "vendor": "X" } });
    assert_eq!(code(&execute_with(&api, &staff_b, set, wrong).await).as_deref(), Some("REJECTED"));
    let recorded = ok(&api, &staff_b, set, mine).await;
    assert_eq!(
        recorded["setBackOfficeSystem"],
        json!([{ "area": "Arbeit & Ruhestand", "product": "SoziaPro", "vendor": "Beispiel-Software AG", "version": "7.2" }])
    );
    let same = ok(&api, &staff_a, "query($p: String) { peers(serviceKey: \"wohngeld\", product: $p) { authority { ars } backOffice { product vendor } } }", json!({ "p": "soziapro" })).await;
    assert_eq!(
        same["peers"],
        json!([{ "authority": { "ars": B }, "backOffice": { "product": "SoziaPro", "vendor": "Beispiel-Software AG" } }])
    );
    let other = ok(
        &api,
        &staff_a,
        "query($p: String) { peers(serviceKey: \"wohngeld\", product: $p) { authority { ars } } }",
        json!({ "p": "Anderes" }),
    )
    .await;
    assert_eq!(other["peers"], json!([]));

    // Withdrawn: gone at once; consent for all services, then erased: gone.
    ok(&api, &staff_b, "mutation($p: ID!) { withdrawContactConsent(input: { personId: $p, serviceKey: \"wohngeld\", reason: \"widerrufen\" }) { id } }", json!({ "p": berta })).await;
    let contacts = |d: Value| {
        d["peers"]
            .as_array()
            .expect("peers")
            .iter()
            .find(|p| p["authority"]["ars"] == B)
            .map(|p| p["contacts"].clone())
    };
    assert_eq!(contacts(ok(&api, &staff_a, PEERS, json!({ "s": "wohngeld" })).await), Some(json!([])));
    ok(
        &api,
        &staff_b,
        "mutation($p: ID!) { giveContactConsent(input: { personId: $p, reason: \"schriftlich\" }) { id } }",
        json!({ "p": berta }),
    )
    .await;
    assert_eq!(
        contacts(ok(&api, &staff_a, PEERS, json!({ "s": "wohngeld" })).await)
            .map(|c| c.as_array().map(Vec::len)),
        Some(Some(1))
    );
    ok(
        &api,
        &admin,
        "mutation($p: ID!) { erasePerson(input: { personId: $p, reason: \"Antrag\" }) { erased } }",
        json!({ "p": berta }),
    )
    .await;
    assert_eq!(
        contacts(ok(&api, &staff_a, PEERS, json!({ "s": "wohngeld" })).await),
        Some(json!([])),
        "an erased person is never shown"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn solutions_are_found_in_german_and_blockages_group_and_escalate() {
    let store: Arc<dyn EventStore> = Arc::new(MemoryStore::new());
    let api = schema_over(store.clone()).await;
    let admin = caller(TokenRole::Admin);
    let pm = caller(TokenRole::ProjectManager);
    let staff_a = api::Caller { authorities: vec![A.into()], ..caller(TokenRole::AuthorityStaff) };
    let staff_b = api::Caller { authorities: vec![B.into()], ..caller(TokenRole::AuthorityStaff) };
    run(&api.schema, &admin, r#"mutation { startServiceRollout(serviceKey: "wohngeld") { existing } }"#)
        .await;
    let block = "mutation($i: RolloutCommandInput!) { blockRollout(input: $i) { rollout { status } } }";
    let unblock = "mutation($i: RolloutCommandInput!) { unblockRollout(input: $i) { rollout { status } } }";
    // B solves a certificate problem and shares its name; A solved a contract one without.
    ok(&api, &staff_b, block, json!({ "i": { "rolloutId": format!("wohngeld:{B}"), "reason": "Zustellpunkt ohne Zertifikat", "category": "TECHNIK", "stepId": "zertifikate" } })).await;
    ok(&api, &staff_b, unblock, json!({ "i": { "rolloutId": format!("wohngeld:{B}"), "reason": "erledigt", "solution": "Das Zertifikat bei der DOI-Zertifizierungsstelle beantragt, Vorlage des Landes genutzt.", "shareName": true } })).await;
    ok(&api, &staff_a, block, json!({ "i": { "rolloutId": format!("wohngeld:{A}"), "reason": "Vertrag fehlt", "category": "VERTRAG_RECHT" } })).await;
    ok(&api, &staff_a, unblock, json!({ "i": { "rolloutId": format!("wohngeld:{A}"), "reason": "erledigt", "solution": "Nachtrag zum Rechenzentrumsvertrag geschlossen." } })).await;
    let bad = execute_with(
        &api,
        &staff_a,
        block,
        json!({ "i": { "rolloutId": format!("wohngeld:{A}"), "reason": "x", "stepId": "gibt-es-nicht" } }),
    )
    .await;
    assert!(bad.errors.first().is_some_and(|e| e.message.contains("gibt-es-nicht")), "{:?}", bad.errors);

    let search = "query($q: String, $s: String, $t: String) { solutions(query: $q, serviceKey: $s, stepId: $t) { nodes { serviceKey stepId category problem solution authority { ars } } hasNextPage } }";
    let found = ok(&api, &staff_a, search, json!({ "q": "Zertifikate" })).await;
    let nodes = found["solutions"]["nodes"].as_array().expect("nodes").clone();
    assert_eq!(nodes.len(), 1, "{nodes:?}");
    assert_eq!(nodes[0]["category"], "TECHNIK");
    assert_eq!(nodes[0]["stepId"], "zertifikate");
    assert_eq!(nodes[0]["authority"]["ars"], B, "named: its staff agreed");
    let contract = ok(&api, &staff_b, search, json!({ "q": "Verträge" })).await;
    let nodes = contract["solutions"]["nodes"].as_array().expect("nodes").clone();
    assert_eq!(nodes.len(), 1, "{nodes:?}");
    assert_eq!(nodes[0]["authority"], Value::Null, "not named without consent");
    let by_step = ok(&api, &staff_a, search, json!({ "t": "zertifikate", "s": "wohngeld" })).await;
    assert_eq!(by_step["solutions"]["nodes"].as_array().map(Vec::len), Some(1));
    let none = ok(&api, &staff_a, search, json!({ "q": "Zertifikate", "s": "elterngeld" })).await;
    assert_eq!(none["solutions"]["nodes"], json!([]));

    // The index is rebuilt from the log: a second server over the same store finds it too.
    let again = schema_over(store.clone()).await;
    let found = ok(&again, &staff_a, search, json!({ "q": "Zertifikate" })).await;
    assert_eq!(found["solutions"]["nodes"].as_array().map(Vec::len), Some(1), "{found}");

    // One vendor blocks three municipalities.
    let ids: Vec<String> = {
        let d = ok(
            &api,
            &admin,
            "{ rollouts(filter: { serviceKey: \"wohngeld\" }, first: 5) { edges { node { id ars } } } }",
            json!({}),
        )
        .await;
        d["rollouts"]["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .map(|e| e["node"]["id"].as_str().expect("id").to_owned())
            .filter(|id| !id.ends_with(":120000000000"))
            .take(3)
            .collect()
    };
    for id in &ids {
        ok(&api, &admin, block, json!({ "i": { "rolloutId": id, "reason": "Schnittstelle fehlt", "category": "FACHVERFAHREN", "vendor": "Beispiel-Software AG" } })).await;
    }
    assert_eq!(
        code(&execute_with(&api, &staff_a, "{ blockages(groupBy: VENDOR) { key } }", json!({})).await)
            .as_deref(),
        Some("FORBIDDEN")
    );
    // The admin's own read waits until its blocks are folded; the manager's reads come after.
    let seen = ok(&api, &admin, "{ blockages(groupBy: VENDOR) { key count } }", json!({})).await;
    assert_eq!(seen["blockages"][0]["count"], 3, "{seen}");
    let groups =
        ok(&api, &pm, "{ blockages(groupBy: VENDOR) { key count authorities rolloutIds } }", json!({})).await;
    assert_eq!(groups["blockages"][0]["key"], "Beispiel-Software AG");
    assert_eq!(groups["blockages"][0]["count"], 3);
    let by_category = ok(&api, &pm, "{ blockages(groupBy: CATEGORY) { key count } }", json!({})).await;
    assert_eq!(by_category["blockages"], json!([{ "key": "fachverfahren", "count": 3 }]));
    let escalated = ok(&api, &pm, "mutation { escalateBlockages(input: { vendor: \"Beispiel-Software AG\", reason: \"An das MIK: Schnittstelle fehlt landesweit\" }) { rolloutIds } }", json!({})).await;
    let mut got: Vec<String> = escalated["escalateBlockages"]["rolloutIds"]
        .as_array()
        .expect("ids")
        .iter()
        .map(|v| v.as_str().expect("id").to_owned())
        .collect();
    got.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(got, want);
    for id in &ids {
        let h = ok(
            &api,
            &admin,
            &format!("{{ rollout(id: \"{id}\") {{ history {{ event {{ type data }} }} }} }}"),
            json!({}),
        )
        .await;
        let last = h["rollout"]["history"].as_array().expect("history").last().cloned().expect("an event");
        assert_eq!(last["event"]["type"], "BlockageEscalated", "{id}");
        assert_eq!(last["event"]["data"]["reason"], "An das MIK: Schnittstelle fehlt landesweit");
    }
}
