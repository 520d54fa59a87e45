//! The GraphQL API against the real binary over HTTP: start a rollout, complete steps with
//! evidence, rejections with reasons, scopes, conflicts, idempotency, bad input, SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::{first_after_ack, next_message, post, subscribe, ws_error_code, Server};

fn code(response: &Value) -> String {
    response["errors"][0]["extensions"]["code"].as_str().unwrap_or("").to_owned()
}

const START: &str = "mutation($s: String!, $a: String!) { startRollout(input: { serviceKey: $s, ars: $a }) { rollout { id version status } events { type actor { id kind } } } }";
const COMPLETE: &str = "mutation($i: CompleteStepInput!) { completeStep(input: $i) { rollout { version status steps { id status evidence completedBy { id } } } events { position type } } }";

#[test]
fn a_rollout_is_started_and_advanced_with_evidence_and_refused_with_reasons() {
    let server = Server::start();
    let started = server.gql(Some(&server.admin), START, json!({ "s": "wohngeld", "a": "120540000000" }));
    assert_eq!(started["data"]["startRollout"]["rollout"]["id"], "wohngeld:120540000000", "{started}");
    assert_eq!(started["data"]["startRollout"]["events"][0]["type"], "RolloutStarted");
    let staff = server.issue("authority-staff", &["120540000000"]);
    let me = server.gql(Some(&staff), "{ me { id role authorities } }", json!({}));
    assert_eq!(me["data"]["me"]["role"], "authority-staff");
    let actor = me["data"]["me"]["id"].as_str().expect("id").to_owned();
    let kontakt = server.contact("120540000000");

    let done = server.gql(
        Some(&staff),
        COMPLETE,
        json!({ "i": {
        "rolloutId": "wohngeld:120540000000", "stepId": "interesse",
        "evidence": { "datum": "2026-11-01", "kontakt": kontakt }, "expectedVersion": 1 } }),
    );
    let payload = &done["data"]["completeStep"];
    assert_eq!(payload["rollout"]["version"], 2, "{done}");
    assert_eq!(payload["events"][0]["type"], "StepCompleted");
    assert_eq!(
        payload["rollout"]["steps"][0]["completedBy"]["id"],
        actor.as_str(),
        "the token's principal is the actor"
    );
    assert_eq!(payload["rollout"]["steps"][0]["evidence"]["kontakt"], json!(kontakt));

    let not_ready = server.gql(
        Some(&staff),
        COMPLETE,
        json!({ "i": {
        "rolloutId": "wohngeld:120540000000", "stepId": "avv", "evidence": {} } }),
    );
    assert_eq!(code(&not_ready), "REJECTED");
    let message = not_ready["errors"][0]["message"].as_str().unwrap_or("");
    assert_eq!(message, "step `avv` is not ready: it waits for nutzungsvereinbarung");
    let bad = server.gql(Some(&staff), COMPLETE, json!({ "i": {
        "rolloutId": "wohngeld:120540000000", "stepId": "entscheidung", "evidence": { "beschluss_am": "2026-02-30" } } }));
    assert_eq!(code(&bad), "REJECTED");
    assert!(
        bad["errors"][0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("`beschluss_am` \"2026-02-30\" is not a date"),
        "{bad}"
    );
    let pm = server.issue("project-manager", &[]);
    let role = server.gql(Some(&pm), COMPLETE, json!({ "i": {
        "rolloutId": "wohngeld:120540000000", "stepId": "entscheidung", "evidence": { "beschluss_am": "2026-02-01" } } }));
    assert!(
        role["errors"][0]["message"]
            .as_str()
            .unwrap_or("")
            .starts_with("your role may not complete step `entscheidung`"),
        "{role}"
    );

    // The read model shows the change (read your own writes through the subscription).
    let read = server.gql(
        Some(&staff),
        "{ rollout(id: \"wohngeld:120540000000\") { version steps { id status } } }",
        json!({}),
    );
    for _ in 0..50 {
        if read["data"]["rollout"]["version"] == 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let read = server.gql(
        Some(&staff),
        "{ rollout(id: \"wohngeld:120540000000\") { version steps { id status } } }",
        json!({}),
    );
    assert_eq!(read["data"]["rollout"]["steps"][0]["status"], "done", "{read}");
}

#[test]
fn tokens_are_checked_and_scopes_hide_what_a_token_may_not_see() {
    let server = Server::start();
    server.gql(Some(&server.admin), START, json!({ "s": "wohngeld", "a": "120520000000" }));
    let none = server.gql(None, "{ me { id } }", json!({}));
    assert_eq!(code(&none), "UNAUTHENTICATED");
    let wrong = server.gql(Some("efa_0000_nope"), "{ me { id } }", json!({}));
    assert_eq!(code(&wrong), "UNAUTHENTICATED");
    let potsdam = server.issue("authority-staff", &["120540000000"]);
    // Cottbus's rollout exists, Frankfurt's does not: the answer is the same.
    for id in ["wohngeld:120520000000", "wohngeld:120530000000"] {
        let r =
            server.gql(Some(&potsdam), "query($id: ID!) { rollout(id: $id) { id } }", json!({ "id": id }));
        assert_eq!(code(&r), "FORBIDDEN", "{r}");
        assert!(r["errors"][0]["message"].as_str().unwrap_or("").contains("may not access that rollout"));
    }
    let write = server.gql(Some(&potsdam), COMPLETE, json!({ "i": {
        "rolloutId": "wohngeld:120520000000", "stepId": "interesse", "evidence": { "datum": "2026-01-01", "kontakt": "x" } } }));
    assert_eq!(code(&write), "FORBIDDEN");
    let progress = server.gql(Some(&potsdam), "{ progress(groupBy: SERVICE) { key rollouts } }", json!({}));
    assert_eq!(code(&progress), "FORBIDDEN", "no counts for a staff token");
    let auditor = server.issue("auditor", &[]);
    let read = server.gql(Some(&auditor), "{ rollout(id: \"wohngeld:120520000000\") { id } }", json!({}));
    assert!(read["errors"].is_null(), "{read}");
    let write = server.gql(Some(&auditor), START, json!({ "s": "wohngeld", "a": "120510000000" }));
    assert_eq!(code(&write), "FORBIDDEN");
    let issue = server.gql(
        Some(&auditor),
        "mutation { issueToken(input: { name: \"x\", role: \"admin\", reason: \"Test\" }) { token } }",
        json!({}),
    );
    assert_eq!(code(&issue), "FORBIDDEN");
}

#[test]
fn of_32_clients_at_one_version_exactly_one_succeeds() {
    let server = std::sync::Arc::new(Server::start());
    server.gql(Some(&server.admin), START, json!({ "s": "wohngeld", "a": "120540000000" }));
    let staff = server.issue("authority-staff", &["120540000000"]);
    let contacts: Vec<String> = (0..32).map(|_| server.contact("120540000000")).collect();
    let clients: Vec<_> = (0..32)
        .map(|i| {
            let (server, staff, kontakt) = (server.clone(), staff.clone(), contacts[i].clone());
            std::thread::spawn(move || {
                server.gql(
                    Some(&staff),
                    COMPLETE,
                    json!({ "i": {
                    "rolloutId": "wohngeld:120540000000", "stepId": "interesse", "expectedVersion": 1,
                    "evidence": { "datum": "2026-11-01", "kontakt": kontakt } } }),
                )
            })
        })
        .collect();
    let results: Vec<Value> = clients.into_iter().map(|c| c.join().expect("client")).collect();
    let ok = results.iter().filter(|r| r["errors"].is_null()).count();
    let conflicts = results.iter().filter(|r| code(r) == "CONFLICT").count();
    assert_eq!((ok, conflicts), (1, 31), "{results:?}");
    let conflict = results.iter().find(|r| code(r) == "CONFLICT").expect("a conflict");
    assert_eq!(conflict["errors"][0]["extensions"]["currentVersion"], 2);
}

#[test]
fn the_same_idempotency_key_appends_once() {
    let server = Server::start();
    server.gql(Some(&server.admin), START, json!({ "s": "wohngeld", "a": "120540000000" }));
    let staff = server.issue("authority-staff", &["120540000000"]);
    let input = json!({ "i": { "rolloutId": "wohngeld:120540000000", "stepId": "interesse", "idempotencyKey": "abc-1",
        "evidence": { "datum": "2026-11-01", "kontakt": server.contact("120540000000") } } });
    let first = server.gql(Some(&staff), COMPLETE, input.clone());
    let second = server.gql(Some(&staff), COMPLETE, input);
    assert!(first["errors"].is_null() && second["errors"].is_null(), "{first} {second}");
    assert_eq!(first["data"]["completeStep"]["events"], second["data"]["completeStep"]["events"]);
    assert_eq!(second["data"]["completeStep"]["rollout"]["version"], 2, "appended once");
}

#[test]
fn bad_input_gets_clear_errors_and_the_server_stays_up() {
    let server = Server::start();
    let head_before = server.gql(Some(&server.admin), "{ head { position } }", json!({}))["data"]["head"]
        ["position"]
        .clone();
    let cases: Vec<(&[u8], &str)> = vec![
        (b"{not json", "BAD_USER_INPUT"),
        (b"{\"query\": \"{ me { id \"}", "expected"),
        (b"{\"query\": \"{ me { nosuchfield } }\"}", "nosuchfield"),
        (b"{\"query\": 5}", "BAD_USER_INPUT"),
        (b"\xff\xfe\x00", "BAD_USER_INPUT"),
    ];
    for (body, says) in cases {
        let (status, text) = server.post_raw(Some(&server.admin), body);
        assert!(status == 200 || status == 400, "status {status} for {body:?}");
        assert!(text.contains(says), "{text}");
        assert!(!text.contains("panicked"));
    }
    let deep = format!("{{ {}me {{ id }} {} }}", "__typename ".repeat(0), "");
    let r = server.gql(Some(&server.admin), &deep, json!({}));
    assert!(r["errors"].is_null(), "{r}");
    // Introspection nested past the depth limit.
    let nested = format!(
        "{{ __schema {{ types {} }} }}",
        "{ fields { type { ofType ".repeat(6) + "{ name }" + &" } } }".repeat(6)
    );
    let r = server.gql(Some(&server.admin), &nested, json!({}));
    assert!(r["errors"][0]["message"].as_str().unwrap_or("").contains("zu tief verschachtelt"), "{r}");
    let wrong_type = server.gql(Some(&server.admin), START, json!({ "s": 5, "a": "120540000000" }));
    assert!(!wrong_type["errors"].is_null());
    let huge = vec![b'x'; 1024 * 1024];
    let (status, text) = server.post_raw(Some(&server.admin), &huge);
    assert_eq!(status, 413, "a too large body is refused");
    assert!(text.contains("LIMIT_EXCEEDED"), "{text}");
    // Too complex: many aliases of a costly field.
    let complex = format!(
        "{{ {} }}",
        (0..150)
            .map(|i| format!("a{i}: rollouts(first: 500) {{ edges {{ node {{ id status }} }} }}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let r = server.gql(Some(&server.admin), &complex, json!({}));
    assert!(r["errors"][0]["message"].as_str().unwrap_or("").contains("zu aufwendig"), "{r}");
    assert_eq!(server.get("/healthz"), 200);
    let still = server.gql(Some(&server.admin), "{ me { role } head { position } }", json!({}));
    assert_eq!(still["data"]["me"]["role"], "admin");
    assert_eq!(still["data"]["head"]["position"], head_before, "no bad request appended anything");
}

#[test]
fn sigterm_drains_and_exits_cleanly_and_the_data_stays() {
    let mut server = Server::start();
    server.gql(Some(&server.admin), START, json!({ "s": "wohngeld", "a": "120540000000" }));
    let pid = server.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().expect("kill").success());
    let status = server.child.wait().expect("wait");
    let log = server.log();
    assert!(status.success(), "exit status {status:?}; the server said:\n{log}");
    assert!(server.dir().join("readmodel.checkpoint").exists(), "the read models were checkpointed");
    server.assert_log_verifies();
}

#[test]
fn connections_history_audit_and_time_travel() {
    let server = Server::start();
    let admin = server.admin.clone();
    let started = server.gql(
        Some(&admin),
        "mutation { startServiceRollout(serviceKey: \"wohngeld\") { started existing } }",
        json!({}),
    );
    // The Land's, 18 Landkreise and kreisfreie Städte, Fürstenwalde/Spree (its own Wohngeldstelle).
    assert_eq!(
        started["data"]["startServiceRollout"]["started"].as_array().map(Vec::len),
        Some(20),
        "{started}"
    );
    let staff = server.issue("authority-staff", &["120540000000"]);
    let done = server.gql(Some(&staff), COMPLETE, json!({ "i": {
        "rolloutId": "wohngeld:120540000000", "stepId": "interesse", "evidence": { "datum": "2026-11-01", "kontakt": server.contact("120540000000") } } }));
    let position = done["data"]["completeStep"]["events"][0]["position"].as_u64().expect("position");
    // Wait until the read models have it.
    let mut page = Value::Null;
    for _ in 0..100 {
        page = server.gql(Some(&admin), "{ rollouts(filter: { serviceKey: \"wohngeld\", status: \"in_progress\" }, first: 5) { totalCount edges { cursor node { id status } } pageInfo { hasNextPage endCursor } } }", json!({}));
        if page["data"]["rollouts"]["totalCount"] == 1 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(page["data"]["rollouts"]["edges"][0]["node"]["id"], "wohngeld:120540000000", "{page}");
    // Paging over all 20, 10 at a time, by id.
    let first = server.gql(Some(&admin), "{ rollouts(filter: { serviceKey: \"wohngeld\" }, first: 10) { totalCount edges { cursor } pageInfo { hasNextPage endCursor } } }", json!({}));
    assert_eq!(first["data"]["rollouts"]["totalCount"], 20);
    assert_eq!(first["data"]["rollouts"]["pageInfo"]["hasNextPage"], true);
    let cursor = first["data"]["rollouts"]["pageInfo"]["endCursor"].as_str().expect("cursor").to_owned();
    let second = server.gql(Some(&admin), "query($a: String) { rollouts(filter: { serviceKey: \"wohngeld\" }, first: 10, after: $a) { edges { cursor } pageInfo { hasNextPage } } }", json!({ "a": cursor }));
    assert_eq!(second["data"]["rollouts"]["edges"].as_array().map(Vec::len), Some(10));
    assert_eq!(second["data"]["rollouts"]["pageInfo"]["hasNextPage"], false);
    let too_many = server.gql(Some(&admin), "{ rollouts(first: 100000) { totalCount } }", json!({}));
    assert_eq!(code(&too_many), "LIMIT_EXCEEDED");
    // A staff token sees its own only.
    let own = server.gql(Some(&staff), "{ rollouts { totalCount edges { node { id } } } }", json!({}));
    assert_eq!(own["data"]["rollouts"]["totalCount"], 1, "{own}");
    // History with the change each event made.
    let history = server.gql(Some(&staff), "{ rollout(id: \"wohngeld:120540000000\") { history { event { type actor { kind } } statusAfter stepChanges { stepId from to } } } }", json!({}));
    let entries = history["data"]["rollout"]["history"].as_array().expect("history");
    assert_eq!(entries.len(), 2, "{history}");
    assert_eq!(entries[1]["event"]["type"], "StepCompleted");
    assert_eq!(entries[1]["statusAfter"], "in_progress");
    let changes = entries[1]["stepChanges"].as_array().expect("changes");
    assert!(
        changes.contains(&json!({ "stepId": "interesse", "from": "ready", "to": "done" })),
        "{changes:?}"
    );
    assert!(
        changes.contains(&json!({ "stepId": "entscheidung", "from": "waiting", "to": "ready" })),
        "{changes:?}"
    );
    // The audit log by actor, and a staff token must name its administration.
    let me = server.gql(Some(&staff), "{ me { id } }", json!({}));
    let actor = me["data"]["me"]["id"].as_str().expect("id").to_owned();
    let audit = server.gql(Some(&admin), "query($a: String) { events(filter: { actor: $a }) { edges { node { position type actor { id } } } } }", json!({ "a": actor }));
    assert_eq!(audit["data"]["events"]["edges"][0]["node"]["position"], position, "{audit}");
    let forbidden = server.gql(Some(&staff), "{ events { edges { cursor } } }", json!({}));
    assert_eq!(code(&forbidden), "FORBIDDEN");
    let allowed = server.gql(Some(&staff), "{ events(filter: { ars: \"120540000000\", types: [\"StepCompleted\"] }) { edges { node { type } } } }", json!({}));
    assert_eq!(allowed["data"]["events"]["edges"].as_array().map(Vec::len), Some(1), "{allowed}");
    // Time travel: before the step was completed.
    let before = server.gql(
        Some(&admin),
        "query($p: String) { rollout(id: \"wohngeld:120540000000\", asOf: $p) { version steps { status } } }",
        json!({ "p": (position - 1).to_string() }),
    );
    assert_eq!(before["data"]["rollout"]["version"], 1, "{before}");
    assert_eq!(before["data"]["rollout"]["steps"][0]["status"], "ready");
    let progress = server.gql(
        Some(&admin),
        "query($p: String) { progress(groupBy: SERVICE, asOf: $p) { key byPhaseStatus { status count } } }",
        json!({ "p": (position - 1).to_string() }),
    );
    let wohngeld = progress["data"]["progress"]
        .as_array()
        .expect("groups")
        .iter()
        .find(|g| g["key"] == "wohngeld")
        .expect("wohngeld")
        .clone();
    assert!(
        wohngeld["byPhaseStatus"].as_array().expect("counts").iter().all(|c| c["status"] == "not_started"),
        "{wohngeld}"
    );
    // Catalogue connections and definitions.
    let kreise = server.gql(Some(&admin), "{ authorities(filter: { kind: \"landkreis\" }, first: 20) { totalCount edges { node { ars name rollouts { totalCount } } } } }", json!({}));
    assert_eq!(kreise["data"]["authorities"]["totalCount"], 14);
    assert_eq!(kreise["data"]["authorities"]["edges"][0]["node"]["rollouts"]["totalCount"], 1);
    let amt = server.gql(Some(&admin), "{ authorities(filter: { nameContains: \"oder-welse\" }) { totalCount } services(filter: { responsibleLevel: \"land\" }) { totalCount edges { node { key feeBased } } } definitions { id phases { steps { id } } } }", json!({}));
    assert_eq!(amt["data"]["authorities"]["totalCount"], 0, "a dissolved Amt is not listed");
    assert_eq!(amt["data"]["services"]["totalCount"], 1);
    // Every bundled text: EfA (four versions and three of the federal variant), the Land's, the
    // form server's model and its two versions of the municipal set-up.
    assert_eq!(amt["data"]["definitions"].as_array().map(Vec::len), Some(11));
    // Names as people write them, the register's beside them; a search finds the place.
    let bernau = server.gql(
        Some(&admin),
        "{ authorities(filter: { nameContains: \"bernau\" }) { edges { node { name officialName } } } }",
        json!({}),
    );
    assert_eq!(
        bernau["data"]["authorities"]["edges"],
        json!([{ "node": { "name": "Stadt Bernau bei Berlin", "officialName": "Bernau bei Berlin, Stadt" } }])
    );
}

#[test]
fn a_subscription_from_position_0_sees_every_event_once_in_order_while_writers_run() {
    let server = std::sync::Arc::new(Server::start());
    let admin = server.admin.clone();
    server.gql(
        Some(&admin),
        "mutation { startServiceRollout(serviceKey: \"wohngeld\") { existing } }",
        json!({}),
    );
    let staff =
        server.issue("authority-staff", &["120540000000", "120510000000", "120520000000", "120530000000"]);
    let mut ws =
        subscribe(&server, Some(&admin), "subscription { events(afterPosition: 0) { position type } }");
    let writers: Vec<_> = ["120540000000", "120510000000", "120520000000", "120530000000"]
        .into_iter()
        .map(|ars| {
            let (server, staff) = (server.clone(), staff.clone());
            std::thread::spawn(move || {
                let id = format!("wohngeld:{ars}");
                let kontakt = server.contact(ars);
                server.gql(Some(&staff), COMPLETE, json!({ "i": { "rolloutId": id, "stepId": "interesse", "evidence": { "datum": "2026-11-01", "kontakt": kontakt } } }));
                server.gql(Some(&staff), COMPLETE, json!({ "i": { "rolloutId": id, "stepId": "entscheidung", "evidence": { "beschluss_am": "2026-11-02" } } }));
                for i in 0..5 {
                    server.gql(Some(&staff), "mutation($i: RolloutCommandInput!) { addComment(input: $i) { rollout { version } } }",
                        json!({ "i": { "rolloutId": id, "reason": format!("Notiz {i}") } }));
                }
            })
        })
        .collect();
    for w in writers {
        w.join().expect("writer");
    }
    let head = server.gql(Some(&admin), "{ head { position } }", json!({}))["data"]["head"]["position"]
        .as_u64()
        .expect("head");
    let mut expected = 1;
    while expected <= head {
        let message = next_message(&mut ws).expect("a message");
        match message["type"].as_str() {
            Some("connection_ack") => continue,
            Some("next") => {
                let position = message["payload"]["data"]["events"]["position"].as_u64().expect("position");
                assert_eq!(position, expected, "no gap, no duplicate, in order");
                expected += 1;
            }
            other => panic!("unexpected {other:?}: {message}"),
        }
    }
    assert_eq!(expected, head + 1);

    // Without a token the connection is refused.
    let mut refused = subscribe(&server, None, "subscription { events { position } }");
    let mut acked = false;
    while let Some(m) = next_message(&mut refused) {
        acked |= m["type"] == "connection_ack";
    }
    assert!(!acked, "no connection_ack without a token");
}

#[test]
fn health_readiness_and_metrics() {
    let server = Server::start();
    server.gql(Some(&server.admin), "{ me { id } }", json!({}));
    assert_eq!(server.get("/healthz"), 200);
    assert_eq!(server.get("/readyz"), 200);
    let mut s = TcpStream::connect(&server.address).expect("connect");
    write!(s, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").expect("send");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("read");
    let mut expected = vec![
        "rollout_http_requests_total 1",
        "rollout_http_request_seconds_bucket{le=\"+Inf\"} 1",
        "rollout_read_model_lag_events",
        "rollout_log_position",
    ];
    if server.store_args[0] == "--data-dir" {
        // The embedded store reports its writer's counters.
        expected.push("rollout_store_events_total");
        expected.push("rollout_store_group_commits_total");
    }
    for metric in expected {
        assert!(text.contains(metric), "{metric} missing in:\n{text}");
    }
}

#[test]
fn tokens_from_the_command_line_work_against_the_server_and_revoked_ones_do_not() {
    let tmp = tempfile::tempdir().expect("dir");
    let dir = tmp.path().join("store");
    let rollout =
        |args: &[&str]| Command::new(env!("CARGO_BIN_EXE_rollout")).args(args).output().expect("run");
    let d = dir.to_str().expect("path");
    assert!(rollout(&["catalog", "import", "--data-dir", d]).status.success());
    let out = rollout(&[
        "token",
        "create",
        "--data-dir",
        d,
        "--name",
        "Kreis Barnim",
        "--role",
        "authority-staff",
        "--authority",
        "120600000000",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let secret = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(secret.starts_with("efa_"));
    let id = String::from_utf8_lossy(&out.stderr).split_whitespace().nth(1).expect("id").to_owned();
    let bad = rollout(&["token", "create", "--data-dir", d, "--name", "x", "--role", "mayor"]);
    assert!(String::from_utf8_lossy(&bad.stderr).starts_with("error: unknown role `mayor`"));
    let no_scope = rollout(&["token", "create", "--data-dir", d, "--name", "x", "--role", "authority-staff"]);
    assert!(String::from_utf8_lossy(&no_scope.stderr).contains("names at least one administration"));

    // The server accepts it; while it runs, the command line points to the API.
    let mut child = Command::new(env!("CARGO_BIN_EXE_rollout"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir", d])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let address = loop {
        let line = lines.next().expect("address").expect("line");
        if let Some(a) = line.strip_prefix("listening on http://") {
            break a.to_owned();
        }
    };
    let server = Server {
        child,
        address,
        admin: String::new(),
        _dir: tempfile::tempdir().expect("dir"),
        store_args: vec![],
    };
    let me = server.gql(Some(&secret), "{ me { name role authorities } }", json!({}));
    assert_eq!(me["data"]["me"]["name"], "Kreis Barnim", "{me}");
    let busy = rollout(&["token", "revoke", "--data-dir", d, &id]);
    assert!(
        String::from_utf8_lossy(&busy.stderr).contains("use its issueToken / revokeToken mutations"),
        "{}",
        String::from_utf8_lossy(&busy.stderr)
    );
    let definition = format!("{}/../../workflows/efa-land.toml", env!("CARGO_MANIFEST_DIR"));
    let busy = rollout(&["workflow", "publish", "--data-dir", d, &definition, "--reason", "x"]);
    assert!(
        String::from_utf8_lossy(&busy.stderr).contains("use its publishDefinition mutation"),
        "{}",
        String::from_utf8_lossy(&busy.stderr)
    );
    drop(server);
    let revoked = rollout(&["token", "revoke", "--data-dir", d, &id]);
    assert!(revoked.status.success(), "{}", String::from_utf8_lossy(&revoked.stderr));
    let again = rollout(&["token", "revoke", "--data-dir", d, &id]);
    assert!(String::from_utf8_lossy(&again.stderr).contains("already revoked"));
    // After a restart the revoked token is refused.
    let restarted = Server::start_in(tmp.path().join("store"));
    let refused = restarted.gql(Some(&secret), "{ me { name } }", json!({}));
    assert_eq!(code(&refused), "UNAUTHENTICATED");
    assert!(
        restarted.admin.is_empty(),
        "tokens exist, so no admin token is made (`token create --role admin` is the way back in)"
    );
    drop(restarted);
    let tokens = rollout(&["export", "--data-dir", d]);
    let log = String::from_utf8_lossy(&tokens.stdout);
    assert!(
        log.contains("\"type\":\"TokenIssued\"") && log.contains("\"type\":\"TokenRevoked\""),
        "issuing and revoking are events"
    );
    assert!(!log.contains(secret.rsplit('_').next().expect("secret part")), "the secret is not stored");
}

/// Every role against every kind of operation: allowed (no access error; the domain may still
/// refuse), FORBIDDEN, or UNAUTHENTICATED. `P` Potsdam, `C` Cottbus.
#[test]
fn access_matrix() {
    let server = Server::start();
    let admin = server.admin.clone();
    for ars in ["120540000000", "120520000000"] {
        server.gql(Some(&admin), START, json!({ "s": "wohngeld", "a": ars }));
    }
    let issue = |role: &str, authorities: &[&str], services: &[&str]| -> String {
        let r = server.gql(
            Some(&admin),
            "mutation($i: IssueTokenInput!) { issueToken(input: $i) { token } }",
            json!({ "i": { "name": role, "role": role, "authorities": authorities, "services": services, "reason": "Test" } }),
        );
        r["data"]["issueToken"]["token"].as_str().unwrap_or_else(|| panic!("{r}")).to_owned()
    };
    let roles: Vec<(&str, Option<String>)> = vec![
        ("admin", Some(admin.clone())),
        ("project-manager", Some(issue("project-manager", &[], &[]))),
        ("staff P", Some(issue("authority-staff", &["120540000000"], &[]))),
        ("staff C", Some(issue("authority-staff", &["120520000000"], &[]))),
        ("automation wohngeld", Some(issue("automation", &[], &["wohngeld"]))),
        ("automation kfz", Some(issue("automation", &[], &["kfz_zulassung"]))),
        ("auditor", Some(issue("auditor", &[], &[]))),
        ("no token", None),
    ];
    let ops: Vec<(&str, &str, Value)> = vec![
        ("me", "{ me { id } }", json!({})),
        ("read P", "{ rollout(id: \"wohngeld:120540000000\") { id } }", json!({})),
        ("list", "{ rollouts { totalCount } }", json!({})),
        ("history P", "{ events(filter: { rolloutId: \"wohngeld:120540000000\" }) { edges { cursor } } }", json!({})),
        ("progress", "{ progress(groupBy: LANDKREIS) { key } }", json!({})),
        ("comment P", "mutation { addComment(input: { rolloutId: \"wohngeld:120540000000\", reason: \"x\" }) { rollout { id } } }", json!({})),
        ("comment C", "mutation { addComment(input: { rolloutId: \"wohngeld:120520000000\", reason: \"x\" }) { rollout { id } } }", json!({})),
        ("block P", "mutation { blockRollout(input: { rolloutId: \"wohngeld:120540000000\", reason: \"x\" }) { rollout { id } } }", json!({})),
        ("start service", "mutation { startServiceRollout(serviceKey: \"wohngeld\") { existing } }", json!({})),
        ("issue token", "mutation { issueToken(input: { name: \"x\", role: \"auditor\", reason: \"Test\" }) { id } }", json!({})),
    ];
    // A: allowed, F: FORBIDDEN, U: UNAUTHENTICATED; one letter per op, in order.
    let expected = [
        ("admin", "AAAAAAAAAA"),
        ("project-manager", "AAAAAAAAAF"),
        ("staff P", "AAAAFAFAFF"),
        ("staff C", "AFAFFFAFFF"),
        ("automation wohngeld", "AAAAFAAFFF"),
        ("automation kfz", "AFAFFFFFFF"),
        ("auditor", "AAAAAFFFFF"),
        ("no token", "UUUUUUUUUU"),
    ];
    let mut mismatches = Vec::new();
    for ((role, token), (erole, letters)) in roles.iter().zip(expected) {
        assert_eq!(*role, erole);
        for ((op, query, vars), want) in ops.iter().zip(letters.chars()) {
            let r = server.gql(token.as_deref(), query, vars.clone());
            let got = match code(&r).as_str() {
                "FORBIDDEN" => 'F',
                "UNAUTHENTICATED" => 'U',
                _ => 'A',
            };
            if got != want {
                mismatches.push(format!("{role} / {op}: expected {want}, got {got}: {r}"));
            }
        }
    }
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}

#[test]
fn a_server_killed_under_write_load_keeps_every_acknowledged_change() {
    let mut server = Server::start();
    let admin = server.admin.clone();
    server.gql(
        Some(&admin),
        "mutation { startServiceRollout(serviceKey: \"wohngeld\") { existing } }",
        json!({}),
    );
    let address = server.address.clone();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = ["120540000000", "120510000000", "120520000000", "120530000000", "120600000000", "120610000000"]
        .into_iter()
        .map(|ars| {
            let (address, admin, stop) = (address.clone(), admin.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut acked = Vec::new();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let body = json!({ "query": "mutation($i: RolloutCommandInput!) { addComment(input: $i) { events { position hash } } }",
                        "variables": { "i": { "rolloutId": format!("wohngeld:{ars}"), "reason": "Last" } } }).to_string();
                    let Ok((200, text)) = post(&address, Some(&admin), body.as_bytes()) else { break };
                    let Ok(v) = serde_json::from_str::<Value>(&text) else { break };
                    match v["data"]["addComment"]["events"][0].as_object() {
                        Some(e) => acked.push((e["position"].as_u64().unwrap_or(0), e["hash"].as_str().unwrap_or("").to_owned())),
                        None => break,
                    }
                }
                acked
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1_500));
    server.child.kill().expect("SIGKILL");
    server.child.wait().expect("wait");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let acked: Vec<(u64, String)> = writers.into_iter().flat_map(|w| w.join().expect("writer")).collect();
    assert!(acked.len() > 20, "the load acknowledged too little: {}", acked.len());
    let export = Command::new(env!("CARGO_BIN_EXE_rollout"))
        .arg("export")
        .args(&server.store_args)
        .output()
        .expect("export");
    assert!(export.status.success(), "{}", String::from_utf8_lossy(&export.stderr));
    let stored: std::collections::HashMap<u64, String> = String::from_utf8_lossy(&export.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("line"))
        .map(|v| (v["position"].as_u64().expect("position"), v["hash"].as_str().expect("hash").to_owned()))
        .collect();
    for (position, hash) in &acked {
        assert_eq!(stored.get(position), Some(hash), "acknowledged event {position} is missing or changed");
    }
    server.assert_log_verifies();
}

#[test]
fn the_demo_is_a_living_system_with_months_of_history() {
    let server = Server::start_demo();
    let r = server.gql(Some(&server.admin), "{ progress(groupBy: SERVICE) { key rollouts percentDone } overdue(first: 100) { rolloutId stepId dueAt } blocked(first: 100) { rolloutId } events(first: 1) { edges { node { recordedAt } } } head { position } }", json!({}));
    let d = &r["data"];
    let services: Vec<&str> =
        d["progress"].as_array().expect("groups").iter().filter_map(|g| g["key"].as_str()).collect();
    assert_eq!(
        services,
        vec!["gewerbe_anmeldung", "hundesteuer_anmeldung", "kfz_zulassung", "wohngeld"],
        "{r}"
    );
    assert!(d["progress"]
        .as_array()
        .expect("groups")
        .iter()
        .all(|g| g["percentDone"].as_f64().unwrap_or(0.0) > 5.0));
    assert!(!d["overdue"].as_array().expect("overdue").is_empty(), "some rollouts are overdue");
    // Both programmes, both transport routes, the federal variant; evidence dated by its day.
    let more = server.gql(Some(&server.admin), "{ model: rollout(id: \"hundesteuer_anmeldung:129990000000\") { status } kfz: rollout(id: \"kfz_zulassung:120540000000\") { definition } xta: events(filter: { types: [\"StepApplicabilityChanged\"] }, first: 500) { edges { node { recordedAt data } } } done: events(filter: { types: [\"StepCompleted\"] }, first: 500) { edges { node { recordedAt data } } } }", json!({}));
    assert_eq!(more["data"]["model"]["status"], "live", "ZV DIKOM's model is released: {more}");
    assert_eq!(more["data"]["kfz"]["definition"], "efa-onboarding-bund@3", "a federal service");
    let branches: Vec<String> = more["data"]["xta"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"]["data"]["step"].as_str().unwrap_or("").to_owned())
        .collect();
    assert!(
        branches.iter().any(|s| s == "dvdv") && branches.iter().any(|s| s == "zustellpunkt"),
        "both routes were chosen: {branches:?}"
    );
    for e in more["data"]["done"]["edges"].as_array().expect("edges") {
        let at = e["node"]["recordedAt"].as_str().unwrap_or("");
        for (field, value) in e["node"]["data"]["evidence"].as_object().into_iter().flatten() {
            let v = value.as_str().unwrap_or("");
            let looks_like_date = v.len() == 10 && v.as_bytes()[4] == b'-' && v.as_bytes()[7] == b'-';
            if looks_like_date && !field.contains("gueltig") {
                assert!(v <= &at[..10], "{field} = {v} is after its completion at {at}");
            }
        }
    }
    assert!(!d["blocked"].as_array().expect("blocked").is_empty(), "some rollouts are blocked");
    let first: store::Timestamp =
        d["events"]["edges"][0]["node"]["recordedAt"].as_str().expect("time").parse().expect("rfc3339");
    let age_days =
        (store::Clock::now(&store::SystemClock).unix_micros() - first.unix_micros()) / 86_400_000_000;
    assert!(age_days >= 150, "the history spans months, it begins {age_days} days ago");
    let bot = server.gql(
        Some(&server.admin),
        "{ events(filter: { actor: \"token:demo-bot\" }, first: 1) { edges { node { actor { kind } } } } }",
        json!({}),
    );
    assert_eq!(
        bot["data"]["events"]["edges"][0]["node"]["actor"]["kind"], "automation",
        "an automation token took part"
    );
    // The server's deadline policy records the overdue steps in their histories, by the system
    // (its first round runs at start).
    let query = "{ events(filter: { types: [\"StepOverdue\"] }, first: 5) { edges { node { streamId actor { id kind } } } } }";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let recorded = loop {
        let r = server.gql(Some(&server.admin), query, json!({}));
        let edges = r["data"]["events"]["edges"].as_array().cloned().unwrap_or_default();
        if !edges.is_empty() || std::time::Instant::now() > deadline {
            break edges;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert!(!recorded.is_empty(), "the running server recorded StepOverdue events");
    assert!(recorded
        .iter()
        .all(|e| e["node"]["actor"]["id"] == "system" && e["node"]["actor"]["kind"] == "system"));
    // A rollout and its steps say whether they are overdue, as the overdue list does.
    let late = &d["overdue"][0];
    let r = server.gql(
        Some(&server.admin),
        "query($id: ID!) { rollout(id: $id) { overdue steps { id overdue } } }",
        json!({ "id": late["rolloutId"] }),
    );
    assert_eq!(r["data"]["rollout"]["overdue"], true, "{r}");
    let late_steps: Vec<&Value> = r["data"]["rollout"]["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter(|s| s["overdue"] == true)
        .map(|s| &s["id"])
        .collect();
    assert!(late_steps.contains(&&late["stepId"]), "{late} {r}");
    let listed: std::collections::BTreeSet<String> = d["overdue"]
        .as_array()
        .expect("overdue")
        .iter()
        .filter_map(|o| o["rolloutId"].as_str().map(String::from))
        .collect();
    let all = server.all_pages(&server.admin, "query($a: String) { rollouts(first: 500, after: $a) { edges { node { id overdue } } pageInfo { hasNextPage endCursor } } }", "rollouts");
    let flagged: std::collections::BTreeSet<String> = all
        .iter()
        .filter(|n| n["overdue"] == true)
        .filter_map(|n| n["id"].as_str().map(String::from))
        .collect();
    assert_eq!(flagged, listed, "the same rollouts as the overdue list");
    // Step actions follow the API's rules for automation too: on a step the bot completed, an
    // admin may reopen it, the automation token (which may only start and complete steps) not.
    let bot_token = server.issue("automation", &[]);
    let query = "{ rollouts(filter: { serviceKey: \"wohngeld\" }, first: 500) { edges { node { id steps { id status actions completedBy { id } } } } } }";
    let step_of = |token: &str| {
        let r = server.gql(Some(token), query, json!({}));
        r["data"]["rollouts"]["edges"]
            .as_array()
            .unwrap_or_else(|| panic!("{r}"))
            .iter()
            .flat_map(|e| {
                let id = e["node"]["id"].clone();
                e["node"]["steps"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .map(move |s| (id.clone(), s))
            })
            .find(|(_, s)| s["status"] == "done" && s["completedBy"]["id"] == "token:demo-bot")
            .expect("a step the bot completed")
    };
    let (id, by_admin) = step_of(&server.admin);
    assert!(by_admin["actions"].as_array().is_some_and(|a| a.contains(&json!("reopenStep"))), "{by_admin}");
    let (same, by_bot) = step_of(&bot_token);
    assert_eq!((same, &by_bot["id"]), (id, &by_admin["id"]));
    assert_eq!(by_bot["actions"], json!([]), "{by_bot}");
}

#[test]
fn a_rollouts_changes_arrive_live_and_subscriptions_per_token_are_limited() {
    let server = Server::start();
    server.gql(Some(&server.admin), START, json!({ "s": "wohngeld", "a": "120540000000" }));
    let staff = server.issue("authority-staff", &["120540000000"]);
    let mut ws = subscribe(
        &server,
        Some(&staff),
        "subscription { rolloutChanged(id: \"wohngeld:120540000000\") { type version } }",
    );
    let kontakt = server.contact("120540000000");
    server.gql(Some(&staff), COMPLETE, json!({ "i": { "rolloutId": "wohngeld:120540000000", "stepId": "interesse", "evidence": { "datum": "2026-11-01", "kontakt": kontakt } } }));
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let m = next_message(&mut ws).expect("message");
        if m["type"] == "next" {
            seen.push(m["payload"]["data"]["rolloutChanged"]["type"].as_str().unwrap_or("").to_owned());
        }
    }
    assert_eq!(seen, vec!["RolloutStarted", "StepCompleted"]);
    // Another administration's rollout: refused.
    let mut other = subscribe(
        &server,
        Some(&staff),
        "subscription { rolloutChanged(id: \"wohngeld:120520000000\") { type } }",
    );
    let refused = first_after_ack(&mut other);
    assert_eq!(ws_error_code(&refused), "FORBIDDEN", "{refused}");
    // At most 16 open subscriptions per token: one is open, 15 more fit, the 17th is refused.
    let mut open = Vec::new();
    for _ in 0..15 {
        open.push(subscribe(
            &server,
            Some(&staff),
            "subscription { rolloutChanged(id: \"wohngeld:120540000000\") { type } }",
        ));
    }
    for ws in &mut open {
        let first = first_after_ack(ws);
        assert_eq!(first["type"], "next", "{first}");
        assert!(first["payload"]["errors"].is_null(), "{first}");
    }
    let mut too_many = subscribe(
        &server,
        Some(&staff),
        "subscription { rolloutChanged(id: \"wohngeld:120540000000\") { type } }",
    );
    let m = first_after_ack(&mut too_many);
    assert_eq!(ws_error_code(&m), "LIMIT_EXCEEDED", "{m}");
}

#[test]
fn migration_is_refused_with_reasons_through_the_api() {
    let server = Server::start();
    server.gql(Some(&server.admin), START, json!({ "s": "wohngeld", "a": "120540000000" }));
    let q = "mutation($v: Int!) { migrateRollout(input: { rolloutId: \"wohngeld:120540000000\", definitionVersion: $v }) { rollout { definition } } }";
    // New rollouts of wohngeld start on efa-onboarding@4 (the service's definition).
    let same = server.gql(Some(&server.admin), q, json!({ "v": 4 }));
    assert_eq!(code(&same), "REJECTED");
    assert!(
        same["errors"][0]["message"].as_str().unwrap_or("").contains("version 4 is not newer than 4"),
        "{same}"
    );
    let older = server.gql(Some(&server.admin), q, json!({ "v": 1 }));
    assert!(
        older["errors"][0]["message"].as_str().unwrap_or("").contains("version 1 is not newer than 4"),
        "{older}"
    );
    let unknown = server.gql(Some(&server.admin), q, json!({ "v": 5 }));
    assert_eq!(code(&unknown), "NOT_FOUND");
}

/// What the dashboard needs and every other client gets too: the step actions a token may
/// use, a rollout's step counts, progress over time, the map layers and the dashboard's assets.
#[test]
fn step_actions_progress_over_time_map_layers_and_assets() {
    // A small page cache is enough for a server (the store reads through it).
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().to_owned();
    let server = Server::spawn_with(&path, dir, &["--sled-cache-mb", "16"]);
    let admin = server.admin.clone();
    server.gql(
        Some(&admin),
        "mutation { startServiceRollout(serviceKey: \"wohngeld\") { existing } }",
        json!({}),
    );
    let staff = server.issue("authority-staff", &["120540000000"]);
    let auditor = server.issue("auditor", &[]);
    let query =
        "{ rollout(id: \"wohngeld:120540000000\") { stepsDone stepsApplicable steps { id actions } } }";
    let actions = |token: &str| {
        let r = server.gql(Some(token), query, json!({}));
        let steps = r["data"]["rollout"]["steps"].as_array().unwrap_or_else(|| panic!("{r}")).clone();
        (r["data"]["rollout"]["stepsDone"].clone(), steps)
    };
    let (done, steps) = actions(&staff);
    assert_eq!(done, 0);
    assert_eq!(steps[0]["id"], "interesse");
    assert_eq!(steps[0]["actions"], json!(["startStep", "completeStep"]), "a ready step for its staff");
    assert_eq!(steps[1]["actions"], json!([]), "a waiting step");
    let (_, steps) = actions(&auditor);
    assert!(steps.iter().all(|s| s["actions"] == json!([])), "an auditor may not write");
    // Completing moves the counts and the actions.
    let kontakt = server.contact("120540000000");
    let done = server.gql(Some(&staff), COMPLETE, json!({ "i": {
        "rolloutId": "wohngeld:120540000000", "stepId": "interesse", "evidence": { "datum": "2026-11-01", "kontakt": kontakt } } }));
    assert!(done["errors"].is_null(), "{done}");
    let (done, steps) = actions(&staff);
    assert_eq!(done, 1);
    assert_eq!(steps[0]["actions"], json!(["reopenStep"]));
    // The read model keeps summaries; what a step recorded comes from the rollout's stream.
    let details = server.gql(Some(&admin), "{ rollout(id: \"wohngeld:120540000000\") { version steps { id evidence completedBy { id } completedAt } } }", json!({}));
    let first = &details["data"]["rollout"]["steps"][0];
    assert_eq!(first["evidence"], json!({ "datum": "2026-11-01", "kontakt": kontakt }), "{details}");
    assert!(first["completedBy"]["id"].as_str().is_some_and(|a| a.starts_with("token:")), "{details}");
    assert!(first["completedAt"].is_string(), "{details}");
    let listed = server.gql(
        Some(&admin),
        "{ rollouts(filter: { ars: \"120540000000\" }) { edges { node { steps { evidence } } } } }",
        json!({}),
    );
    assert_eq!(
        listed["data"]["rollouts"]["edges"][0]["node"]["steps"][0]["evidence"]["kontakt"],
        json!(kontakt),
        "{listed}"
    );
    // A refusal of evidence names the fields, for a form to mark them.
    let refused = server.gql(
        Some(&staff),
        COMPLETE,
        json!({ "i": {
        "rolloutId": "wohngeld:120540000000", "stepId": "entscheidung", "evidence": { "beschluss": "" } } }),
    );
    assert_eq!(code(&refused), "REJECTED", "{refused}");
    assert!(
        refused["errors"][0]["extensions"]["fields"].as_array().is_some_and(|f| !f.is_empty()),
        "{refused}"
    );

    // Progress over time: the last point is today's progress; the first, before anything, empty.
    let week_ago = store::Timestamp::from_unix_micros(
        store::Clock::now(&store::SystemClock).unix_micros() - 7 * 86_400_000_000,
    );
    let series = server.gql(
        Some(&admin),
        "query($f: String!) { progressOverTime(groupBy: SERVICE, from: $f, everyDays: 7) { at groups { key rollouts percentDone } } progress(groupBy: SERVICE) { key rollouts percentDone } }",
        json!({ "f": week_ago.to_string() }),
    );
    let points = series["data"]["progressOverTime"].as_array().unwrap_or_else(|| panic!("{series}"));
    assert_eq!(points.len(), 2, "{series}");
    assert_eq!(points[0]["groups"], json!([]), "a week ago nothing had started");
    assert_eq!(points[1]["groups"], series["data"]["progress"], "now");
    for (args, expected) in [
        ("from: \"gestern\"", "BAD_USER_INPUT"),
        ("from: \"2026-01-01T00:00:00Z\", everyDays: 0", "BAD_USER_INPUT"),
        ("from: \"2026-01-01T00:00:00Z\", until: \"2025-01-01T00:00:00Z\"", "BAD_USER_INPUT"),
        ("from: \"1990-01-01T00:00:00Z\", everyDays: 1", "LIMIT_EXCEEDED"),
    ] {
        let r = server.gql(
            Some(&admin),
            &format!("{{ progressOverTime(groupBy: SERVICE, {args}) {{ at }} }}"),
            json!({}),
        );
        assert_eq!(code(&r), expected, "{args}: {r}");
    }
    let r = server.gql(
        Some(&staff),
        "{ progressOverTime(groupBy: SERVICE, from: \"2026-01-01T00:00:00Z\") { at } }",
        json!({}),
    );
    assert_eq!(code(&r), "FORBIDDEN", "over all rollouts only for managers: {r}");

    // Evidence fields say what a form can check before sending.
    let defs = server.gql(
        Some(&staff),
        "{ definitions { phases { steps { evidence { type pattern maxLength } } } } }",
        json!({}),
    );
    let fields: Vec<&Value> = defs["data"]["definitions"]
        .as_array()
        .expect("definitions")
        .iter()
        .flat_map(|d| d["phases"].as_array().into_iter().flatten())
        .flat_map(|p| p["steps"].as_array().into_iter().flatten())
        .flat_map(|s| s["evidence"].as_array().into_iter().flatten())
        .collect();
    let leika = fields.iter().find(|f| f["type"] == "leika").expect("a LeiKa field");
    assert_eq!(leika["pattern"], "99[0-9]{12}");
    let text = fields.iter().find(|f| f["type"] == "text").expect("a text field");
    assert_eq!((&text["pattern"], &text["maxLength"]), (&Value::Null, &json!(10_000)));

    // The map layers and the dashboard's assets are served from the binary.
    for path in [
        "/geo/kreise.geojson",
        "/geo/verwaltungstraeger.geojson",
        "/assets/dashboard/main.js",
        "/assets/dashboard/rollout.js",
        "/assets/dashboard.css",
        "/",
    ] {
        assert_eq!(server.get(path), 200, "{path}");
    }
    for path in
        ["/geo/welt.geojson", "/assets/nope.js", "/assets/dashboard.js", "/assets/dashboard/../dashboard.css"]
    {
        assert_eq!(server.get(path), 404, "{path}");
    }
}
