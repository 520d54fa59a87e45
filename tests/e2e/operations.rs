//! What operators and standard tools meet: graphql-js and graphql-ws against the server, an
//! over-long body from a client that sends it all at once, `/metrics` through a Prometheus
//! parser, and a full disk under a running server.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};

use store::conformance::Tmpfs;

use crate::support::{required, Server};

const START: &str = "mutation($s: String!, $a: String!) { startRollout(input: { serviceKey: $s, ars: $a }) { rollout { id } } }";
const COMMENT: &str = "mutation($i: RolloutCommandInput!) { addComment(input: $i) { rollout { version } } }";

/// `tests/js` with its packages installed (`npm ci --prefix tests/js`, as CI does); without it
/// the test says it skipped, unless `ROLLOUT_REQUIRE_NODE=1`.
fn node_clients() -> Option<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/js");
    let ready = dir.join("node_modules/graphql-ws").exists()
        && Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success());
    required(ready, "ROLLOUT_REQUIRE_NODE", "node and `npm ci --prefix tests/js`").then_some(dir)
}

#[test]
fn graphql_js_introspects_the_schema_and_graphql_ws_subscribes() {
    let Some(dir) = node_clients() else { return };
    let server = Server::start();
    let out = Command::new("node")
        .arg(dir.join("clients.mjs"))
        .arg(format!("http://{}", server.address))
        .arg(&server.admin)
        .output()
        .expect("node");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let found: Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
    // The exact query graphql-js generates, every option on, and a client schema built from it.
    assert_eq!(found["introspectionErrors"], Value::Null, "{found}");
    assert!(found["types"].as_u64().unwrap_or(0) > 50, "{found}");
    let mutations: Vec<&str> =
        found["mutations"].as_array().expect("mutations").iter().filter_map(Value::as_str).collect();
    assert!(mutations.contains(&"completeStep") && mutations.contains(&"publishDefinition"), "{mutations:?}");
    // A 60-level `__schema` nesting is still refused.
    let deep = found["deepErrors"].as_array().expect("errors");
    assert!(!deep.is_empty(), "{found}");
    // graphql-ws over `graphql-transport-ws`: the feed from the start, in order.
    assert_eq!(found["events"], json!([1, 2, 3]), "{found}");
}

/// Reads one HTTP response from `s` (headers and a body of `content-length`).
fn response(s: &mut TcpStream) -> (u16, String) {
    s.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = s.read(&mut buf).expect("the server answers instead of resetting the connection");
        if n == 0 {
            break;
        }
        data.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&data);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned())
                })
                .and_then(|v| v.parse::<usize>().ok());
            if length.is_some_and(|n| body.len() >= n) {
                break;
            }
        }
    }
    let text = String::from_utf8_lossy(&data).into_owned();
    let status = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, text)
}

#[test]
fn an_over_long_body_gets_its_413_whether_or_not_the_client_waits_for_continue() {
    let server = Server::start();
    // 20 MB sent at once, as Python's urllib does: the answer, not a reset.
    let body = vec![b'x'; 20 * 1024 * 1024];
    let mut s = TcpStream::connect(&server.address).expect("connect");
    write!(
        s,
        "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .expect("headers");
    s.write_all(&body).expect("the whole body is taken");
    let (status, text) = response(&mut s);
    assert_eq!(status, 413, "{text}");
    assert!(text.contains("LIMIT_EXCEEDED") && text.contains("larger than"), "{text}");
    // curl's way: it announces the body and waits for `100 Continue`; it gets the 413 at once.
    let mut s = TcpStream::connect(&server.address).expect("connect");
    write!(
        s,
        "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        body.len()
    )
    .expect("headers");
    let (status, text) = response(&mut s);
    assert_eq!(status, 413, "{text}");
    assert!(!text.contains("100 Continue"), "{text}");
    // The server still serves.
    let ok = server.gql(Some(&server.admin), "{ head { position } }", json!({}));
    assert!(ok["errors"].is_null(), "{ok}");
}

/// Every family an operator expects, read by the Prometheus client library's own parser.
#[test]
fn metrics_parse_with_the_prometheus_parser_and_hold_every_family() {
    let parser_ready = Command::new("python3")
        .args(["-c", "import prometheus_client.parser"])
        .status()
        .is_ok_and(|s| s.success());
    if !required(
        parser_ready,
        "ROLLOUT_REQUIRE_PROMETHEUS_PARSER",
        "python3 -m pip install prometheus-client",
    ) {
        return;
    }
    let server = Server::start();
    server.gql(Some(&server.admin), START, json!({ "s": "wohngeld", "a": "120540000000" }));
    server.gql(
        Some(&server.admin),
        COMMENT,
        json!({ "i": { "rolloutId": "wohngeld:120540000000", "reason": "Notiz" } }),
    );
    server.gql(Some(&server.admin), COMMENT, json!({ "i": { "rolloutId": "wohngeld:nope", "reason": "x" } }));
    // A document kept parsed is still validated against each request's variables.
    let refused = server.gql(Some(&server.admin), COMMENT, json!({ "i": 5 }));
    assert_eq!(refused["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{refused}");
    assert!(refused["data"].is_null(), "{refused}");
    let (_, text) = get(&server, "/metrics");
    let script = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = {}
for family in text_string_to_metric_families(sys.stdin.read()):
    out[family.name] = {"type": family.type, "samples": [[s.name, s.labels, s.value] for s in family.samples]}
print(json.dumps(out))
"#;
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write");
    let out = child.wait_with_output().expect("parse");
    assert!(out.status.success(), "the exposition does not parse:\n{text}");
    let families: Value = serde_json::from_slice(&out.stdout).expect("json");
    let sample = |family: &str, labels: Value| -> f64 {
        families[family]["samples"]
            .as_array()
            .unwrap_or_else(|| panic!("no family {family} in {families}"))
            .iter()
            .find(|s| labels.as_object().is_none_or(|l| l.iter().all(|(k, v)| s[1][k] == *v)))
            .and_then(|s| s[2].as_f64())
            .unwrap_or_else(|| panic!("{family} {labels}: {families}"))
    };
    // The parser strips `_total` from counter families.
    assert_eq!(sample("rollout_mutations", json!({ "name": "addComment" })), 3.0);
    assert_eq!(sample("rollout_mutations", json!({ "name": "startRollout" })), 1.0);
    assert_eq!(
        sample("rollout_graphql_errors", json!({ "code": "REJECTED", "operation": "addComment" })),
        1.0
    );
    assert!(sample("rollout_store_append_seconds", json!({})) >= 0.0);
    assert_eq!(families["rollout_store_append_seconds"]["type"], "histogram");
    assert!(families["rollout_store_append_seconds"]["samples"]
        .as_array()
        .expect("samples")
        .iter()
        .any(|s| s[0] == "rollout_store_append_seconds_count" && s[2].as_f64().unwrap_or(0.0) >= 2.0));
    assert_eq!(sample("rollout_store_writable", json!({})), 1.0);
    assert_eq!(sample("rollout_subscriptions_open", json!({})), 0.0);
    assert_eq!(sample("rollout_read_model_lag_events", json!({})), 0.0);
    assert!(sample("process_resident_memory_bytes", json!({})) > 1e6);
    assert!(sample("process_cpu_seconds", json!({})) > 0.0);
    assert_eq!(sample("rollout_build_info", json!({ "version": env!("CARGO_PKG_VERSION") })), 1.0);
    // The rollout cache: the second comment found the state the first left.
    assert!(sample("rollout_engine_cache_entries", json!({})) >= 1.0);
    assert!(sample("rollout_engine_cache_capacity", json!({})) >= 1.0);
    assert!(sample("rollout_engine_cache_loads", json!({ "outcome": "hit" })) >= 1.0);
    assert_eq!(families["rollout_engine_cache_events_folded"]["type"], "counter");
    // Each document was parsed once: START and COMMENT kept, COMMENT found the two later times.
    assert_eq!(sample("rollout_graphql_documents_cached", json!({})), 2.0);
    assert_eq!(sample("rollout_graphql_document_parses", json!({ "outcome": "hit" })), 2.0, "{text}");
    assert_eq!(sample("rollout_graphql_document_parses", json!({ "outcome": "miss" })), 2.0);
}

fn get(server: &Server, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(&server.address).expect("connect");
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").expect("send");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("read");
    let status = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default())
}

/// `/readyz` asked every 100 ms until it answers `status` (at most 10 s); the last answer.
fn readyz_until(server: &Server, status: u16) -> (u16, String) {
    let mut answer = (0, String::new());
    for _ in 0..100 {
        answer = get(server, "/readyz");
        if answer.0 == status {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    answer
}

/// Fills `path` with zeros until the disk is full.
fn fill_up(path: &Path) {
    let mut f = std::fs::File::create(path).expect("filler");
    let block = vec![0u8; 1 << 20];
    while f.write_all(&block).is_ok() {}
    let _ = f.sync_all();
}

/// The data directory and the server's own log on one small filesystem, filled up under 16
/// writers: writes are refused with `UNAVAILABLE` naming the cause, `/readyz` says 503 and why,
/// `/metrics` shows it, reads work, the process survives its log writes failing, and once space
/// is freed everything works again without a restart; nothing acknowledged is lost.
#[test]
fn a_full_disk_is_reported_reads_go_on_and_writes_resume_once_space_is_freed() {
    if std::env::var_os("ROLLOUT_E2E_POSTGRES").is_some() {
        return; // the log is in PostgreSQL there; this is the embedded store's disk
    }
    let Some(mount) = Tmpfs::mount("160m") else { return };
    let data = mount.path().join("data");
    let logs = tempfile::tempdir_in(mount.path()).expect("log dir");
    let server = Server::spawn_with(&data, logs, &["--min-free-mb", "16"]);
    let admin = server.admin.clone();
    server.gql(
        Some(&admin),
        "mutation { startServiceRollout(serviceKey: \"wohngeld\") { existing } }",
        json!({}),
    );
    let ids: Vec<String> = server
        .all_pages(&admin, "query($a: String) { rollouts(first: 100, after: $a) { edges { node { id } } pageInfo { hasNextPage endCursor } } }", "rollouts")
        .iter()
        .filter_map(|n| n["id"].as_str().map(String::from))
        .collect();
    // Fill the disk completely (the reserve is only the store's); the server writes on.
    fill_up(&mount.path().join("filler"));
    let server = std::sync::Arc::new(server);
    let writers: Vec<_> = (0..16)
        .map(|w| {
            let (server, admin, id) = (server.clone(), admin.clone(), ids[w % ids.len()].clone());
            std::thread::spawn(move || {
                let mut codes = Vec::new();
                for n in 0..10 {
                    let r = server.gql(
                        Some(&admin),
                        COMMENT,
                        json!({ "i": { "rolloutId": id, "reason": format!("Notiz {w}/{n}") } }),
                    );
                    codes.push((
                        r["errors"][0]["extensions"]["code"].as_str().unwrap_or("OK").to_owned(),
                        r["errors"][0]["message"].as_str().unwrap_or("").to_owned(),
                    ));
                }
                codes
            })
        })
        .collect();
    let codes: Vec<(String, String)> = writers.into_iter().flat_map(|w| w.join().expect("writer")).collect();
    assert!(codes.iter().all(|(c, _)| c == "UNAVAILABLE"), "{codes:?}");
    assert!(
        codes[0].1.contains("nearly full") && codes[0].1.contains("Nothing of this change was stored"),
        "{codes:?}"
    );
    let (status, why) = get(&server, "/readyz");
    assert_eq!(status, 503, "{why}");
    assert!(why.contains("the store cannot write") && why.contains("nearly full"), "{why}");
    let (_, metrics) = get(&server, "/metrics");
    assert!(metrics.contains("rollout_store_writable 0"), "{metrics}");
    assert!(
        metrics.contains("rollout_graphql_errors_total{code=\"UNAVAILABLE\",operation=\"addComment\"} 160"),
        "{metrics}"
    );
    // Reads keep working, and the process lives on although its log file cannot grow.
    let read = server.gql(Some(&admin), "{ rollouts(first: 1) { totalCount } }", json!({}));
    assert_eq!(read["data"]["rollouts"]["totalCount"], ids.len(), "{read}");
    let server = std::sync::Arc::try_unwrap(server).unwrap_or_else(|_| panic!("writers hold the server"));
    let mut server = server;
    assert!(server.child.try_wait().expect("wait").is_none(), "the server died on the full disk");

    // Space freed: ready again and writing, without a restart.
    std::fs::remove_file(mount.path().join("filler")).expect("free");
    assert_eq!(readyz_until(&server, 200).0, 200);
    let again =
        server.gql(Some(&admin), COMMENT, json!({ "i": { "rolloutId": ids[0], "reason": "wieder da" } }));
    assert!(again["errors"].is_null(), "{again}");
    assert!(get(&server, "/metrics").1.contains("rollout_store_writable 1"));
    // Exactly the acknowledged comments: none of the refused ones, the one after.
    let history = server.gql(
        Some(&admin),
        "query($id: ID!) { rollout(id: $id) { history(first: 100) { event { type } } } }",
        json!({ "id": ids[0] }),
    );
    let comments = history["data"]["rollout"]["history"]
        .as_array()
        .unwrap_or_else(|| panic!("{history}"))
        .iter()
        .filter(|e| e["event"]["type"] == "CommentAdded")
        .count();
    assert_eq!(comments, 1, "{history}");
    let _ = server.child.kill();
    let _ = server.child.wait();
    server.assert_log_verifies();
}

/// Without a reserve (`--min-free-mb 0`) readiness comes from a real write: on a full disk
/// `/readyz` and `rollout_store_writable` say so (the reserve's check is off) without naming the
/// data directory; once space is freed, both recover and writes go on.
#[test]
fn without_a_reserve_readiness_is_a_real_write_and_hides_the_path() {
    if std::env::var_os("ROLLOUT_E2E_POSTGRES").is_some() {
        return; // the embedded store's disk
    }
    let Some(mount) = Tmpfs::mount("160m") else { return };
    let data = mount.path().join("data");
    let logs = tempfile::tempdir_in(mount.path()).expect("log dir");
    let server = Server::spawn_with(&data, logs, &["--min-free-mb", "0"]);
    let admin = server.admin.clone();
    let r = server.gql(
        Some(&admin),
        "mutation { startServiceRollout(serviceKey: \"wohngeld\") { existing } }",
        json!({}),
    );
    assert!(r["errors"].is_null(), "{r}");
    assert_eq!(get(&server, "/readyz").0, 200);
    // Full: readiness says so before any write has failed (a write could then end the process
    // for its supervisor, when the index cannot grow: exit 75).
    fill_up(&mount.path().join("filler"));
    let root = mount.path().display().to_string();
    let answer = readyz_until(&server, 503);
    assert_eq!(answer.0, 503, "{}", answer.1);
    assert!(!answer.1.contains(&root), "{}", answer.1);
    assert!(get(&server, "/metrics").1.contains("rollout_store_writable 0"));
    std::fs::remove_file(mount.path().join("filler")).expect("free");
    assert_eq!(readyz_until(&server, 200).0, 200);
    let again = server.gql(
        Some(&admin),
        COMMENT,
        json!({ "i": { "rolloutId": "wohngeld:120540000000", "reason": "wieder da" } }),
    );
    assert!(again["errors"].is_null(), "{again}");
}

/// A raw HTTP exchange: (status, lower-cased headers, body).
fn exchange(server: &Server, request: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect(&server.address).expect("connect");
    s.write_all(request.as_bytes()).expect("send");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("read");
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, head.to_ascii_lowercase(), body.to_owned())
}

fn post_with(
    server: &Server,
    accept: Option<&str>,
    content_type: Option<&str>,
    body: &str,
) -> (u16, String, Value) {
    let accept = accept.map(|a| format!("Accept: {a}\r\n")).unwrap_or_default();
    let content_type = content_type.map(|c| format!("Content-Type: {c}\r\n")).unwrap_or_default();
    let (status, head, body) = exchange(
        server,
        &format!(
            "POST /graphql HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n{accept}{content_type}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            server.admin,
            body.len()
        ),
    );
    (status, head, serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// The GraphQL-over-HTTP specification's MUST and SHOULD rules.
#[test]
fn graphql_over_http_media_types_status_codes_and_queries_over_get() {
    let server = Server::start();
    let good = r#"{"query":"{ head { position } }"}"#;
    let invalid = r#"{"query":"{ nope }"}"#;
    let unparsable = r#"{"query":"{ head { "}"#;
    let uncoerced = r#"{"query":"query($n: Int!) { events(first: $n) { edges { node { position } } } }","variables":{"n":"viele"}}"#;
    // application/json when the client accepts it (or says nothing): 200 for every GraphQL answer.
    for accept in [None, Some("application/json"), Some("*/*")] {
        let (status, head, body) = post_with(&server, accept, Some("application/json"), good);
        assert_eq!(status, 200);
        assert!(head.contains("content-type: application/json\r\n"), "{accept:?}: {head}");
        assert!(body["data"]["head"]["position"].is_u64(), "{body}");
        let (status, _, body) = post_with(&server, accept, Some("application/json"), invalid);
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{body}");
    }
    // application/graphql-response+json: 400 and no `data` for documents that do not parse or
    // validate and variables that do not coerce; 200 with data otherwise.
    let newer = Some("application/graphql-response+json, application/json;q=0.9");
    let (status, head, body) = post_with(&server, newer, Some("application/json"), good);
    assert_eq!(status, 200);
    assert!(head.contains("content-type: application/graphql-response+json"), "{head}");
    assert!(body["data"]["head"]["position"].is_u64());
    for refused in [invalid, unparsable, uncoerced] {
        let (status, head, body) = post_with(&server, newer, Some("application/json"), refused);
        assert_eq!(status, 400, "{refused}: {body}");
        assert!(head.contains("content-type: application/graphql-response+json"), "{head}");
        assert!(body.get("data").is_none(), "no data entry: {body}");
        assert!(!body["errors"].as_array().expect("errors").is_empty());
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{body}");
    }
    // A field error is no request error: 200 with data.
    let missing = r#"{"query":"{ rollout(id: \"wohngeld:120540000000\") { id } }"}"#;
    let (status, _, body) = post_with(&server, newer, Some("application/json"), missing);
    assert_eq!(status, 200, "{body}");
    assert!(body.get("data").is_some(), "{body}");
    // A POST without a content type, or with another: a 4xx.
    let (status, _, _) = post_with(&server, None, None, good);
    assert_eq!(status, 415);
    let (status, _, _) = post_with(&server, None, Some("text/plain"), good);
    assert_eq!(status, 415);
    // Queries over GET, variables URL-encoded; mutations never.
    let get = |query: &str| {
        exchange(
            &server,
            &format!("GET /graphql?{query} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n", server.admin),
        )
    };
    let (status, _, body) =
        get("query=query%28%24n%3A%20Int%21%29%20%7B%20events%28first%3A%20%24n%29%20%7B%20edges%20%7B%20node%20%7B%20position%20%7D%20%7D%20%7D%20%7D&variables=%7B%22n%22%3A2%7D");
    assert_eq!(status, 200, "{body}");
    let body: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(body["data"]["events"]["edges"].as_array().map(Vec::len), Some(2), "{body}");
    let (status, head, body) = get("query=mutation%20%7B%20addComment%28input%3A%20%7B%20rolloutId%3A%20%22wohngeld%3A120540000000%22%2C%20reason%3A%20%22x%22%20%7D%29%20%7B%20rollout%20%7B%20id%20%7D%20%7D%20%7D");
    assert_eq!(status, 405, "{body}");
    assert!(head.contains("allow: post"), "{head}");
    let (status, _, _) = get("variables=%7B%7D");
    assert_eq!(status, 400, "GET without a query");
}

/// Sixteen clients commenting on one rollout at once, none naming a version: every call
/// succeeds; naming a version the rollout has passed is `CONFLICT` with the current one.
#[test]
fn sixteen_clients_on_one_rollout_never_conflict_unless_they_name_a_version() {
    let server = std::sync::Arc::new(Server::start());
    server.gql(Some(&server.admin), START, json!({ "s": "wohngeld", "a": "120540000000" }));
    let clients: Vec<_> = (0..16)
        .map(|w| {
            let server = server.clone();
            std::thread::spawn(move || {
                (0..25)
                    .map(|n| {
                        let r = server.gql(
                            Some(&server.admin),
                            COMMENT,
                            json!({ "i": { "rolloutId": "wohngeld:120540000000", "reason": format!("Notiz {w}/{n}") } }),
                        );
                        r["errors"][0]["extensions"]["code"].as_str().unwrap_or("OK").to_owned()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let codes: Vec<String> = clients.into_iter().flat_map(|c| c.join().expect("client")).collect();
    assert_eq!(codes.len(), 400);
    assert!(codes.iter().all(|c| c == "OK"), "{:?}", codes.iter().filter(|c| *c != "OK").collect::<Vec<_>>());
    let stale = server.gql(
        Some(&server.admin),
        "mutation($i: RolloutCommandInput!) { addComment(input: $i) { rollout { version } } }",
        json!({ "i": { "rolloutId": "wohngeld:120540000000", "reason": "alt", "expectedVersion": 1 } }),
    );
    assert_eq!(stale["errors"][0]["extensions"]["code"], "CONFLICT", "{stale}");
    assert_eq!(stale["errors"][0]["extensions"]["currentVersion"], 401, "{stale}");
}

/// The limits at their boundaries: a body announced beyond the 32 MiB that are drained gets its
/// `413` at once and the connection is closed (its rest cannot be the next request); a document
/// nests 12 levels, one that only introspects 20, one level more is refused.
#[test]
fn the_body_and_depth_limits_hold_at_their_boundaries() {
    let server = Server::start();
    let mut s = TcpStream::connect(&server.address).expect("connect");
    write!(
        s,
        "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{{\"query\":",
        32 * 1024 * 1024 + 1
    )
    .expect("headers");
    let (status, text) = response(&mut s);
    assert_eq!(status, 413, "{text}");
    assert!(text.to_ascii_lowercase().contains("connection: close"), "{text}");
    let nested = |depth: usize| format!("{{ {}x{} }}", "a { ".repeat(depth - 1), " }".repeat(depth - 1));
    let too_deep =
        |r: &Value| r["errors"][0]["message"].as_str().unwrap_or("").contains("zu tief verschachtelt");
    // Unknown fields: validation names them, but only once the depth has passed.
    let r = server.gql(Some(&server.admin), &nested(12), json!({}));
    assert!(!too_deep(&r) && !r["errors"].is_null(), "{r}");
    let r = server.gql(Some(&server.admin), &nested(13), json!({}));
    assert!(too_deep(&r), "{r}");
    assert_eq!(r["errors"][0]["extensions"]["code"], "LIMIT_EXCEEDED", "{r}");
    // `__schema`, `types`, `fields`, `type`, then `ofType` n times and `name`: 5 + n levels.
    let introspect = |of_types: usize| {
        format!(
            "{{ __schema {{ types {{ fields {{ type {{ {}name{} }} }} }} }} }}",
            "ofType { ".repeat(of_types),
            " }".repeat(of_types)
        )
    };
    let r = server.gql(Some(&server.admin), &introspect(15), json!({}));
    assert!(r["errors"].is_null(), "20 levels of introspection: {r}");
    let r = server.gql(Some(&server.admin), &introspect(16), json!({}));
    assert!(too_deep(&r), "{r}");
}
