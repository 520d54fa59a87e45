//! The form-server programme over HTTP: ZV DIKOM's model assistant, its members' rollouts
//! waiting for the model's release, and the association-staff token's scope.

use serde_json::{json, Value};

use crate::support::{first_after_ack, next_message, subscribe, ws_error_code, Server};

const ZV: &str = "129990000000";
const ANGERMUENDE: &str = "120730008008"; // a founding member
const BEELITZ: &str = "120690017017"; // not a member
const SERVICE: &str = "hundesteuer_anmeldung";

fn code(r: &Value) -> &str {
    r["errors"][0]["extensions"]["code"].as_str().unwrap_or("OK")
}

fn complete(server: &Server, token: &str, rollout: &str, step: &str, evidence: Value) -> Value {
    server.gql(
        Some(token),
        "mutation($i: CompleteStepInput!) { completeStep(input: $i) { rollout { status steps { id status } } } }",
        json!({ "i": { "rolloutId": rollout, "stepId": step, "evidence": evidence } }),
    )
}

fn status_of(r: &Value, step: &str) -> String {
    r["steps"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["id"] == step))
        .map(|s| s["status"].as_str().unwrap_or("").to_owned())
        .unwrap_or_default()
}

fn rollout(server: &Server, token: &str, id: &str) -> Value {
    server.gql(
        Some(token),
        "query($id: ID!) { rollout(id: $id) { id status definition steps { id status } } }",
        json!({ "id": id }),
    )
}

#[test]
fn the_model_assistant_is_released_and_the_members_rollouts_open_and_zv_dikom_acts_only_on_its_own() {
    let server = Server::start();
    let admin = server.admin.clone();
    let issued = server.gql(
        Some(&admin),
        "mutation { issueToken(input: { name: \"ZV DIKOM, Team Formularserver\", role: \"association-staff\", reason: \"Formularserver\" }) { token } }",
        json!({}),
    );
    let zv = issued["data"]["issueToken"]["token"].as_str().unwrap_or_else(|| panic!("{issued}")).to_owned();

    let services = server.gql(Some(&zv), "{ services(filter: { program: FORMULARSERVER }, first: 100) { totalCount edges { node { key program centralArs definition { id version } landDefinition { id version } } } } }", json!({}));
    assert!(services["data"]["services"]["totalCount"].as_u64().unwrap_or(0) >= 12, "{services}");
    let hund = services["data"]["services"]["edges"]
        .as_array()
        .and_then(|e| e.iter().find(|e| e["node"]["key"] == SERVICE))
        .expect("the assistant");
    assert_eq!(hund["node"]["centralArs"], ZV);
    assert_eq!(hund["node"]["landDefinition"], json!({ "id": "formularserver-muster", "version": 1 }));

    // ZV DIKOM starts its assistant: the model rollout first, then one per member.
    let started = server.gql(
        Some(&zv),
        &format!("mutation {{ startServiceRollout(serviceKey: \"{SERVICE}\") {{ started existing }} }}"),
        json!({}),
    );
    let ids: Vec<&str> = started["data"]["startServiceRollout"]["started"]
        .as_array()
        .unwrap_or_else(|| panic!("{started}"))
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(ids.first(), Some(&&*format!("{SERVICE}:{ZV}")), "{started}");
    assert_eq!(ids.len(), 1 + 20, "the model and the 20 members: {ids:?}");
    assert!(ids.contains(&&*format!("{SERVICE}:{ANGERMUENDE}")));
    assert!(!ids.contains(&&*format!("{SERVICE}:{BEELITZ}")), "not a member");

    let member = format!("{SERVICE}:{ANGERMUENDE}");
    let before = rollout(&server, &zv, &member);
    assert_eq!(before["data"]["rollout"]["definition"], "formularserver-assistent@2", "{before}");
    assert_eq!(status_of(&before["data"]["rollout"], "mandant"), "waiting", "waits for the model's release");
    let early = complete(&server, &zv, &member, "mandant", json!({ "mandant": "angermuende" }));
    assert_eq!(code(&early), "REJECTED", "{early}");

    // The model: requirements, build, accessibility, test (four eyes), release.
    let model = format!("{SERVICE}:{ZV}");
    for (step, evidence) in [
        (
            "prozess_erhoben",
            json!({ "rechtsgrundlage": "Hundesteuersatzung der Stadt Angermünde", "fachamt": "Steueramt Angermünde" }),
        ),
        (
            "fim_stammtexte",
            json!({ "leika": "99102013104000", "datenfelder": "FIM-Datenschema S00000001 (Entwurf)" }),
        ),
        ("gebuehren_anlagen", json!({ "vertrauensniveau": "servicekonto_basis" })),
        ("muster_gebaut", json!({ "formular_id": "HST-AN-01", "version": "1.0" })),
        ("barrierefreiheit", json!({ "pruefbericht": "BITV-Prüfbericht 2026/17" })),
        ("muster_getestet", json!({ "getestet_am": "2026-11-20" })),
    ] {
        let r = complete(&server, &zv, &model, step, evidence);
        assert_eq!(code(&r), "OK", "{step}: {r}");
    }
    let confirmed = server.gql(
        Some(&admin),
        "mutation($i: StepCommandInput!) { confirmStep(input: $i) { rollout { status } } }",
        json!({ "i": { "rolloutId": model, "stepId": "muster_getestet" } }),
    );
    assert_eq!(code(&confirmed), "OK", "{confirmed}");
    let still = rollout(&server, &zv, &member);
    assert_eq!(status_of(&still["data"]["rollout"], "mandant"), "waiting", "not released yet");
    let released = complete(
        &server,
        &zv,
        &model,
        "muster_freigegeben",
        json!({ "freigegeben_am": "2026-11-24", "muster_version": "1.0" }),
    );
    assert_eq!(code(&released), "OK", "{released}");
    let after = rollout(&server, &zv, &member);
    assert_eq!(
        status_of(&after["data"]["rollout"], "mandant"),
        "ready",
        "released: the members' set-up may begin"
    );
    let set_up = complete(&server, &zv, &member, "mandant", json!({ "mandant": "angermuende" }));
    assert_eq!(code(&set_up), "OK", "{set_up}");

    // Steps of the municipality are not ZV DIKOM's: the definition says who.
    let not_theirs = complete(&server, &zv, &member, "testantrag", json!({ "eingegangen_am": "2026-11-30" }));
    assert_eq!(code(&not_theirs), "REJECTED", "{not_theirs}");

    // ZV DIKOM is refused on the same member's EfA rollout and on a non-member's assistant.
    let efa = server.gql(Some(&admin), "mutation { startRollout(input: { serviceKey: \"meldebestaetigung\", ars: \"120730008008\" }) { rollout { id } } }", json!({}));
    assert_eq!(code(&efa), "OK", "{efa}");
    let refused = rollout(&server, &zv, "meldebestaetigung:120730008008");
    assert_eq!(code(&refused), "FORBIDDEN", "{refused}");
    let refused = complete(
        &server,
        &zv,
        "meldebestaetigung:120730008008",
        "interesse",
        json!({ "datum": "2026-11-02", "kontakt": "x" }),
    );
    assert_eq!(code(&refused), "FORBIDDEN", "{refused}");
    let outside = server.gql(Some(&zv), &format!("mutation {{ startRollout(input: {{ serviceKey: \"{SERVICE}\", ars: \"{BEELITZ}\" }}) {{ rollout {{ id }} }} }}"), json!({}));
    assert_eq!(code(&outside), "FORBIDDEN", "{outside}");
    // A project manager may set it up for a non-member; ZV DIKOM still may not act on it.
    let added = server.gql(Some(&admin), &format!("mutation {{ startRollout(input: {{ serviceKey: \"{SERVICE}\", ars: \"{BEELITZ}\" }}) {{ rollout {{ id definition }} }} }}"), json!({}));
    assert_eq!(
        added["data"]["startRollout"]["rollout"]["definition"], "formularserver-assistent@2",
        "{added}"
    );
    assert_eq!(code(&rollout(&server, &zv, &format!("{SERVICE}:{BEELITZ}"))), "FORBIDDEN");
    // Its list holds form-server rollouts only; the audit log the same.
    let list = server.gql(
        Some(&zv),
        "{ rollouts(first: 500) { totalCount edges { node { serviceKey ars } } } }",
        json!({}),
    );
    let nodes = list["data"]["rollouts"]["edges"].as_array().expect("edges");
    assert_eq!(nodes.len(), 21, "{list}");
    assert!(nodes.iter().all(|n| n["node"]["serviceKey"] == SERVICE));
    let audit = server.gql(
        Some(&zv),
        "{ events(filter: { ars: \"120730008008\" }, first: 5) { edges { node { type } } } }",
        json!({}),
    );
    assert_eq!(code(&audit), "FORBIDDEN", "an administration alone would show its EfA events: {audit}");
    let audit = server.gql(
        Some(&zv),
        &format!("{{ events(filter: {{ rolloutId: \"{member}\" }}, first: 50) {{ edges {{ node {{ type }} }} }} }}"),
        json!({}),
    );
    assert_eq!(code(&audit), "OK", "{audit}");
    let efa_only = server.gql(
        Some(&admin),
        "{ rollouts(filter: { program: EFA }, first: 500) { totalCount } }",
        json!({}),
    );
    assert_eq!(efa_only["data"]["rollouts"]["totalCount"], 1, "{efa_only}");

    // Subscriptions keep the same scope: the feed from the start carries the model's and the
    // members' form-server events, never the member's EfA rollout nor the non-member's.
    let head = server.gql(Some(&admin), "{ head { position } }", json!({}))["data"]["head"]["position"]
        .as_u64()
        .expect("head");
    let mut ws =
        subscribe(&server, Some(&zv), "subscription { events(afterPosition: 0) { position streamId } }");
    let marker = server.gql(
        Some(&zv),
        "mutation($i: RolloutCommandInput!) { addComment(input: $i) { rollout { version } } }",
        json!({ "i": { "rolloutId": member, "reason": "Muster übernommen" } }),
    );
    assert_eq!(code(&marker), "OK", "{marker}");
    let mut streams = Vec::new();
    loop {
        let m = next_message(&mut ws).expect("a message");
        if m["type"] != "next" {
            continue;
        }
        let e = &m["payload"]["data"]["events"];
        streams.push(e["streamId"].as_str().unwrap_or("").to_owned());
        if e["position"].as_u64().unwrap_or(0) > head {
            break; // the comment written after the subscription began
        }
    }
    assert!(streams.len() > 21, "the model's and members' events: {streams:?}");
    assert!(streams.iter().all(|s| s.starts_with(&format!("rollout-{SERVICE}:"))), "{streams:?}");
    assert!(!streams.contains(&format!("rollout-{SERVICE}:{BEELITZ}")), "not a member's");
    assert_eq!(streams.last(), Some(&format!("rollout-{member}")));
    let mut efa = subscribe(
        &server,
        Some(&zv),
        "subscription { rolloutChanged(id: \"meldebestaetigung:120730008008\") { type } }",
    );
    assert_eq!(ws_error_code(&first_after_ack(&mut efa)), "FORBIDDEN");
}
