//! The attacks of the security review (issue 31), each against the real binary: revocation that
//! reaches open sockets, requests and sockets that must not exhaust the server, scopes, write
//! rates, content that must not break downloads, key files, readiness.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::{next_message, Server};

/// Starts Wohngeld's rollouts at every administration it applies to (as the admin).
fn start_wohngeld(server: &Server) {
    let r = server.gql(
        Some(&server.admin),
        "mutation { startServiceRollout(serviceKey: \"wohngeld\") { started } }",
        json!({}),
    );
    assert!(r["errors"].is_null(), "{r}");
}

/// The peak resident memory of a process in KiB (`VmHWM`).
fn peak_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

/// A WebSocket speaking `graphql-transport-ws`, not yet initialised.
fn socket(server: &Server) -> tungstenite::WebSocket<TcpStream> {
    use tungstenite::client::IntoClientRequest;
    let mut request = format!("ws://{}/graphql", server.address).into_client_request().expect("request");
    request.headers_mut().insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse().expect("header"));
    let stream = TcpStream::connect(&server.address).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    let (ws, _) = tungstenite::client(request, stream).expect("handshake");
    ws
}

fn send(ws: &mut tungstenite::WebSocket<TcpStream>, message: Value) -> Result<(), Box<tungstenite::Error>> {
    ws.send(tungstenite::Message::Text(message.to_string().into())).map_err(Box::new)
}

/// The close code the server ends the socket with (`None`: closed without a code, or reset).
fn close_code(ws: &mut tungstenite::WebSocket<TcpStream>) -> Option<u16> {
    loop {
        match ws.read() {
            Ok(tungstenite::Message::Close(frame)) => return frame.map(|f| u16::from(f.code)),
            Ok(_) => {}
            Err(_) => return None,
        }
    }
}

fn init(ws: &mut tungstenite::WebSocket<TcpStream>, token: &str) {
    send(ws, json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } }))
        .expect("init");
    let ack = next_message(ws).expect("ack");
    assert_eq!(ack["type"], "connection_ack", "{ack}");
}

fn issue(server: &Server, role: &str, authorities: &[&str]) -> (String, String) {
    let r = server.gql(
        Some(&server.admin),
        "mutation($i: IssueTokenInput!) { issueToken(input: $i) { id token } }",
        json!({ "i": { "name": format!("{role} Test"), "role": role, "authorities": authorities, "services": ["wohngeld"], "reason": "Test" } }),
    );
    let t = &r["data"]["issueToken"];
    (
        t["id"].as_str().unwrap_or_else(|| panic!("{r}")).to_owned(),
        t["token"].as_str().expect("token").to_owned(),
    )
}

#[test]
fn a_revoked_token_closes_its_open_sockets_and_runs_nothing_more() {
    let server = Server::start();
    let (id, token) = issue(&server, "project-manager", &[]);
    let mut ws = socket(&server);
    init(&mut ws, &token);
    send(&mut ws, json!({ "id": "1", "type": "subscribe", "payload": { "query": "subscription { events { position } }" } }))
        .expect("subscribe");
    // The socket works: a query over it is answered.
    send(&mut ws, json!({ "id": "2", "type": "subscribe", "payload": { "query": "{ me { role } }" } }))
        .expect("query");
    let answered = loop {
        let m = next_message(&mut ws).expect("a message");
        if m["id"] == "2" && m["type"] == "next" {
            break m;
        }
    };
    assert_eq!(answered["payload"]["data"]["me"]["role"], "project-manager", "{answered}");
    let r = server.gql(
        Some(&server.admin),
        "mutation($id: ID!) { revokeToken(id: $id, reason: \"ausgeschieden\") }",
        json!({ "id": id }),
    );
    assert_eq!(r["data"]["revokeToken"], true, "{r}");
    // The server closes the socket with 4403 without being asked anything.
    assert_eq!(close_code(&mut ws), Some(4403));
    // A new socket with the token is refused at connection_init, HTTP too.
    let mut again = socket(&server);
    send(
        &mut again,
        json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } }),
    )
    .expect("init");
    assert!(next_message(&mut again).is_none(), "a revoked token was acknowledged");
    let r = server.gql(Some(&token), "{ me { role } }", json!({}));
    assert_eq!(r["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "{r}");
}

#[test]
fn an_erased_persons_token_loses_its_socket_at_once() {
    let server = Server::start();
    let person = server.contact("120540000000");
    let r = server.gql(
        Some(&server.admin),
        "mutation($i: IssueTokenInput!) { issueToken(input: $i) { token } }",
        json!({ "i": { "name": "Arbeitsplatz 3", "role": "authority-staff", "authorities": ["120540000000"], "personId": person, "reason": "Arbeitsplatz" } }),
    );
    let token = r["data"]["issueToken"]["token"].as_str().unwrap_or_else(|| panic!("{r}")).to_owned();
    let mut ws = socket(&server);
    init(&mut ws, &token);
    let r = server.gql(
        Some(&server.admin),
        "mutation($i: ErasePersonInput!) { erasePerson(input: $i) { id } }",
        json!({ "i": { "personId": person, "reason": "Antrag nach Art. 17 DSGVO" } }),
    );
    assert!(r["errors"].is_null(), "{r}");
    assert_eq!(close_code(&mut ws), Some(4403));
}

#[test]
fn a_socket_is_bounded_before_sign_in_and_after() {
    let server = Server::start();
    let pid = server.child.id();
    let before = peak_kib(pid);
    // 60 MB of `[0,0,…]` as connection_init: refused before it is read whole, never parsed.
    let mut ws = socket(&server);
    let mut huge = String::with_capacity(60_000_000);
    huge.push_str(r#"{"type":"connection_init","payload":{"x":["#);
    while huge.len() < 60_000_000 {
        huge.push_str("0,");
    }
    huge.push_str("0]}}");
    let _ = ws.send(tungstenite::Message::Text(huge.into()));
    assert!(matches!(close_code(&mut ws), Some(1009) | None));
    // A message under the frame limit but over the one before sign-in: 1009 as well.
    let mut ws = socket(&server);
    let padding = "x".repeat(40 * 1024);
    send(&mut ws, json!({ "type": "connection_init", "payload": { "pad": padding } })).expect("send");
    assert_eq!(close_code(&mut ws), Some(1009));
    // Signed in, a message up to the limit is taken; one over it closes the socket.
    let mut ws = socket(&server);
    init(&mut ws, &server.admin);
    let query = format!("{{ me {{ role }} }} # {}", "x".repeat(100 * 1024));
    send(&mut ws, json!({ "id": "1", "type": "subscribe", "payload": { "query": query } })).expect("send");
    let m = next_message(&mut ws).expect("an answer");
    assert_eq!(m["payload"]["data"]["me"]["role"], "admin", "{m}");
    let query = format!("{{ me {{ role }} }} # {}", "x".repeat(300 * 1024));
    let _ = send(&mut ws, json!({ "id": "2", "type": "subscribe", "payload": { "query": query } }));
    assert!(matches!(close_code(&mut ws), Some(1009) | None));
    let grown_mib = peak_kib(pid).saturating_sub(before) / 1024;
    assert!(grown_mib < 64, "the server's peak memory grew by {grown_mib} MiB");
    // It still serves.
    assert_eq!(server.gql(Some(&server.admin), "{ me { role } }", json!({}))["data"]["me"]["role"], "admin");
}

#[test]
fn a_socket_without_connection_init_is_closed_after_ten_seconds() {
    let server = Server::start();
    let mut ws = socket(&server);
    let started = Instant::now();
    assert_eq!(close_code(&mut ws), Some(4408));
    let waited = started.elapsed();
    assert!(waited >= Duration::from_secs(9) && waited < Duration::from_secs(25), "{waited:?}");
}

/// A blocking connection to `address` from the loopback address `from` (another peer than
/// 127.0.0.1 for the server's per-address cap).
fn connect_from(from: &str, address: &str) -> TcpStream {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let stream = rt.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.bind(format!("{from}:0").parse().expect("address")).expect("bind");
        socket.connect(address.parse().expect("address")).await.expect("connect")
    });
    let stream = stream.into_std().expect("std");
    stream.set_nonblocking(false).expect("blocking");
    stream
}

fn healthz_from(from: &str, address: &str) -> String {
    let mut s = connect_from(from, address);
    s.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").expect("send");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

#[test]
fn slow_and_idle_connections_are_capped_per_address_and_closed_after_ten_seconds() {
    let server = Server::start_with(&["--connections-per-peer-max", "50"]);
    // 300 slowloris connections from 127.0.0.1: each sends half a request head and waits.
    let mut slow = Vec::new();
    for _ in 0..300 {
        let mut s = TcpStream::connect(&server.address).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
        let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n");
        slow.push(s);
    }
    // Another address is served at once.
    let started = Instant::now();
    let answer = healthz_from("127.0.0.2", &server.address);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    // 250 of the 300 were refused at once with 503; the 50 admitted are closed by the server
    // after the header timeout, without an answer.
    // The refusals are answered as the server gets to them (a loaded machine takes a moment):
    // every socket is looked at until 250 have their 503 or 5 s have passed, well before the
    // held ones' header timeout.
    for s in &slow {
        s.set_nonblocking(true).expect("nonblocking");
    }
    let mut answers: Vec<Vec<u8>> = vec![Vec::new(); slow.len()];
    let looking = Instant::now();
    let is_refused = |a: &Vec<u8>| a.starts_with(b"HTTP/1.1 503");
    while answers.iter().filter(|a| is_refused(a)).count() < 250 && looking.elapsed() < Duration::from_secs(5)
    {
        for (s, answer) in slow.iter_mut().zip(answers.iter_mut()) {
            let mut chunk = [0u8; 1024];
            if let Ok(n) = s.read(&mut chunk) {
                answer.extend_from_slice(&chunk[..n]);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let refused = answers.iter().filter(|a| is_refused(a)).count();
    let held: Vec<TcpStream> =
        slow.into_iter().zip(answers).filter(|(_, a)| !is_refused(a)).map(|(s, _)| s).collect();
    for s in &held {
        s.set_nonblocking(false).expect("blocking");
    }
    assert_eq!((refused, held.len()), (250, 50));
    let started = Instant::now();
    for mut s in held {
        s.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
        let mut out = Vec::new();
        let r = s.read_to_end(&mut out);
        assert!(r.is_ok() || out.is_empty(), "{r:?}");
    }
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(15), "slow connections stayed open {waited:?}");
    // A request from 127.0.0.1 is served again.
    assert_eq!(server.get("/healthz"), 200);
}

fn refusal(r: &Value) -> (String, String) {
    let e = &r["errors"][0];
    (
        e["extensions"]["code"].as_str().unwrap_or("").to_owned(),
        e["message"].as_str().unwrap_or("").to_owned(),
    )
}

fn aliases(n: usize, field: &str) -> String {
    format!("{{ {} }}", (0..n).map(|i| format!("a{i}: {field}")).collect::<Vec<_>>().join(" "))
}

#[test]
fn amplifying_queries_are_refused_by_their_cost_with_the_limit_named() {
    let server = Server::start();
    let admin = Some(server.admin.as_str());
    // The cycle definition → usedBy → definition, four levels deep: millions of objects.
    let nested = "{ definition(id: \"efa-onboarding\") { usedBy { definition { definition { usedBy { definition { definition { usedBy { definition { definition { usedBy { key } } } } } } } } } } } }";
    let (code, message) = refusal(&server.gql(admin, nested, json!({})));
    assert_eq!(code, "LIMIT_EXCEEDED", "{message}");
    assert!(message.contains("zu aufwendig") && message.contains("200000"), "{message}");
    // One level is an ordinary question.
    let r = server.gql(admin, "{ definition(id: \"efa-onboarding\") { usedBy { key definition { definition { id usedBy { key } } } } } }", json!({}));
    assert!(r["errors"].is_null(), "{r}");
    // 500 aliased histories of 500 events with their data.
    let history =
        aliases(500, "rollout(id: \"wohngeld:120540000000\") { history(first: 500) { event { data } } }");
    let r = server.gql(admin, &history, json!({}));
    assert_eq!(r["errors"][0]["extensions"]["limit"], "ALIASES_MAX", "{r}");
    assert!(refusal(&r).1.contains("500 Aliasse"), "{r}");
    // Under the alias limit, the cost still counts each copy: 150 histories of 500 events.
    let history =
        aliases(150, "rollout(id: \"wohngeld:120540000000\") { history(first: 500) { event { data } } }");
    let r = server.gql(admin, &history, json!({}));
    assert_eq!(r["errors"][0]["extensions"]["limit"], "COMPLEXITY_MAX", "{r}");
    // Time travel: 300 rollouts as of a position are refused, a few are answered.
    let travel = |n| aliases(n, "rollout(id: \"wohngeld:120540000000\", asOf: \"1\") { status }");
    assert_eq!(refusal(&server.gql(admin, &travel(300), json!({}))).0, "LIMIT_EXCEEDED");
    let r = server.gql(admin, &travel(5), json!({}));
    assert!(r["errors"].is_null(), "{r}");
    // Folds of the whole log: one per request and a chart are fine, three are not.
    let fold = "progress(groupBy: AUTHORITY, asOf: \"1\") { key rollouts }";
    assert!(server.gql(admin, &aliases(1, fold), json!({}))["errors"].is_null());
    assert_eq!(refusal(&server.gql(admin, &aliases(3, fold), json!({}))).0, "LIMIT_EXCEEDED");
    let chart = "{ progressOverTime(groupBy: AUTHORITY, from: \"2026-01-01T00:00:00Z\", everyDays: 7) { at groups { key rollouts byPhaseStatus { phase status count } } } }";
    let r = server.gql(admin, chart, json!({}));
    assert!(r["errors"].is_null(), "{r}");
    // A long document over GET (whose operation type would need a parse on the worker): POST it.
    let long = format!("{{ me {{ role }} }} #{}", "x".repeat(9_000));
    let (status, _, _) = crate::report::get(
        &server,
        &format!(
            "/graphql?query={}",
            long.replace(' ', "%20").replace('{', "%7B").replace('}', "%7D").replace('#', "%23")
        ),
        admin,
    );
    assert_eq!(status, 414);
    // Definitions with their text, many times over.
    let sources = aliases(100, "definitions { source }");
    assert_eq!(refusal(&server.gql(admin, &sources, json!({}))).0, "LIMIT_EXCEEDED");
    assert_eq!(server.get("/healthz"), 200);
}

#[test]
fn hidden_characters_are_refused_everywhere_and_no_content_breaks_a_download() {
    let server = Server::start();
    let admin = Some(server.admin.as_str());
    start_wohngeld(&server);
    let comment = "mutation($i: RolloutCommandInput!) { addComment(input: $i) { rollout { version } } }";
    let on = |reason: &str| json!({ "i": { "rolloutId": "wohngeld:120540000000", "reason": reason } });
    // Control, direction and invisible characters: refused, naming the argument and the character.
    for (text, named) in [
        ("\u{1}".repeat(10_000), "U+0001 (Steuerzeichen)"),
        ("Rechnung\u{0}".to_owned(), "U+0000"),
        ("gpj.\u{202e}exe".to_owned(), "U+202E (Richtungssteuerzeichen)"),
        ("\u{200b}".to_owned(), "U+200B"),
    ] {
        let (code, message) = refusal(&server.gql(admin, comment, on(&text)));
        assert_eq!(code, "BAD_USER_INPUT", "{message}");
        assert!(message.contains("$i.reason") && message.contains(named), "{message}");
    }
    // Written into the document instead of a variable: the same.
    let literal = "mutation { addComment(input: { rolloutId: \"wohngeld:120540000000\", reason: \"a\\u0007b\" }) { rollout { version } } }";
    let (code, message) = refusal(&server.gql(admin, literal, json!({})));
    assert_eq!(code, "BAD_USER_INPUT");
    assert!(message.contains("addComment.input.reason"), "{message}");
    // A reason of nothing visible is no reason.
    let (code, _) = refusal(&server.gql(admin, comment, on("\u{200d}")));
    assert_eq!(code, "REJECTED");

    // The worst content still allowed: the longest comments, formulas, and 45 consented
    // persons with every field at its longest on one service.
    for i in 0..10 {
        let long = format!("{i} {}", "Kommentar mit Umlauten äöü ".repeat(160))
            .chars()
            .take(4_000)
            .collect::<String>();
        let r = server.gql(admin, comment, on(&long));
        assert!(r["errors"].is_null(), "{r}");
    }
    let r = server.gql(admin, comment, on("=HYPERLINK(\"http://example.invalid\";\"Klick\")"));
    assert!(r["errors"].is_null(), "{r}");
    let field = |c: char| c.to_string().repeat(200);
    for _ in 0..45 {
        let r = server.gql(
            admin,
            "mutation($i: RegisterPersonInput!) { registerPerson(input: $i) { id } }",
            json!({ "i": { "ars": "120540000000", "name": field('N'), "function": field('F'), "phone": "0".repeat(30) } }),
        );
        let id = r["data"]["registerPerson"]["id"].as_str().unwrap_or_else(|| panic!("{r}")).to_owned();
        let r = server.gql(
            admin,
            "mutation($i: ContactConsentInput!) { giveContactConsent(input: $i) { id } }",
            json!({ "i": { "personId": id, "serviceKey": "wohngeld", "reason": "schriftlich" } }),
        );
        assert!(r["errors"].is_null(), "{r}");
    }
    let block = "mutation($i: RolloutCommandInput!) { blockRollout(input: $i) { rollout { status } } }";
    let long = json!({ "i": { "rolloutId": "wohngeld:120540000000", "reason": "x".repeat(4_000), "category": "TECHNIK", "vendor": "v".repeat(200) } });
    let r = server.gql(admin, block, long);
    assert_eq!(r["data"]["blockRollout"]["rollout"]["status"], "blocked", "{r}");
    for path in [
        "/exports/rollouts.xlsx",
        "/exports/events.xlsx",
        "/exports/events.xlsx?rolloutId=wohngeld:120540000000",
        "/exports/tasks.xlsx",
        "/exports/peers.xlsx?serviceKey=wohngeld",
        "/exports/solutions.xlsx",
        "/reports/programme.xlsx",
        "/reports/programme.csv",
        "/reports/programme.html",
    ] {
        let (status, _, body) = crate::report::get(&server, path, admin);
        assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body[..body.len().min(300)]));
        assert!(body.len() > 100, "{path}");
    }
}

#[test]
fn zv_dikom_staff_reach_their_own_persons_and_never_those_of_members() {
    let server = Server::start();
    let admin = Some(server.admin.as_str());
    let member = "120730008008"; // Stadt Angermünde, a ZV DIKOM member
    let person = server.contact(member);
    let (_, dikom) = issue(&server, "association-staff", &[]);
    let dikom = Some(dikom.as_str());
    let forbidden = |r: &Value| assert_eq!(refusal(r).0, "FORBIDDEN", "{r}");
    // Reading: neither one person nor the member's list.
    let r = server.gql(
        dikom,
        "query($id: ID!) { person(id: $id) { name email phone } }",
        json!({ "id": person }),
    );
    assert!(r["data"]["person"].is_null(), "{r}");
    let r = server.gql(dikom, "query($a: String!) { persons(ars: $a) { id name } }", json!({ "a": member }));
    assert_eq!(r["data"]["persons"], json!([]), "{r}");
    // Writing: no registration, no consent either way, no leaving, no back-office system.
    forbidden(&server.gql(
        dikom,
        "mutation($i: RegisterPersonInput!) { registerPerson(input: $i) { id } }",
        json!({ "i": { "ars": member, "name": "Herr Neu" } }),
    ));
    for m in ["giveContactConsent", "withdrawContactConsent"] {
        forbidden(&server.gql(
            dikom,
            &format!("mutation($i: ContactConsentInput!) {{ {m}(input: $i) {{ id }} }}"),
            json!({ "i": { "personId": person, "reason": "per E-Mail" } }),
        ));
    }
    forbidden(&server.gql(
        dikom,
        "mutation($i: RecordPersonLeftInput!) { recordPersonLeft(input: $i) { id } }",
        json!({ "i": { "personId": person, "leftOn": "2020-01-01", "reason": "ausgeschieden" } }),
    ));
    forbidden(&server.gql(
        dikom,
        "mutation($i: BackOfficeSystemInput!) { setBackOfficeSystem(input: $i) { product } }",
        json!({ "i": { "ars": member, "area": "wohngeld", "product": "X", "vendor": "Y" } }),
    ));
    // The member's person is unchanged (no leaving, no consent).
    let r = server.gql(
        admin,
        "query($id: ID!) { person(id: $id) { leftOn contactConsents } }",
        json!({ "id": person }),
    );
    assert_eq!(r["data"]["person"], json!({ "leftOn": null, "contactConsents": [] }), "{r}");
    // ZV DIKOM's own persons are its staff's to keep.
    let r = server.gql(
        dikom,
        "mutation($i: RegisterPersonInput!) { registerPerson(input: $i) { id name } }",
        json!({ "i": { "ars": "129990000000", "name": "Frau Verband" } }),
    );
    let own = r["data"]["registerPerson"]["id"].as_str().unwrap_or_else(|| panic!("{r}")).to_owned();
    let r = server.gql(dikom, "query($id: ID!) { person(id: $id) { name } }", json!({ "id": own }));
    assert_eq!(r["data"]["person"]["name"], "Frau Verband", "{r}");
}

#[test]
fn a_token_that_writes_too_fast_is_refused_with_a_retry_time_and_others_go_on() {
    let server = Server::start_with(&["--write-rate-per-token", "5"]);
    let admin = Some(server.admin.as_str());
    start_wohngeld(&server);
    let (_, potsdam) = issue(&server, "authority-staff", &["120540000000"]);
    let (_, cottbus) = issue(&server, "authority-staff", &["120520000000"]);
    let comment = |token: &str, ars: &str, i: usize| {
        server.gql(
            Some(token),
            "mutation($i: RolloutCommandInput!) { addComment(input: $i) { rollout { version } } }",
            json!({ "i": { "rolloutId": format!("wohngeld:{ars}"), "reason": format!("Kommentar {i}") } }),
        )
    };
    // Five seconds' worth at once (25), then refusals naming the limit and when to retry.
    let (mut written, mut refused) = (0, Vec::new());
    let started = Instant::now();
    for i in 0..60 {
        let r = comment(&potsdam, "120540000000", i);
        if r["errors"].is_null() {
            written += 1;
        } else {
            refused.push(r);
        }
    }
    // Refilled at 5 a second while the loop ran.
    let most = 25 + (started.elapsed().as_secs_f64() * 5.0).ceil() as usize;
    assert!(written >= 25 && written <= most, "{written} written, at most {most}");
    assert!(!refused.is_empty());
    let first = &refused[0]["errors"][0];
    assert_eq!(first["extensions"]["code"], "LIMIT_EXCEEDED", "{first}");
    assert_eq!(first["extensions"]["limit"], "WRITES_PER_TOKEN_PER_SECOND", "{first}");
    assert!(
        first["extensions"]["retryAfterSeconds"].as_u64().is_some_and(|s| (1..=5).contains(&s)),
        "{first}"
    );
    assert!(first["message"].as_str().unwrap_or("").contains("Zu viele Änderungen"), "{first}");
    // Another administration's token writes on; the limited one again after waiting.
    assert!(comment(&cottbus, "120520000000", 0)["errors"].is_null());
    std::thread::sleep(Duration::from_millis(1200));
    assert!(comment(&potsdam, "120540000000", 99)["errors"].is_null());
    let (status, _, metrics) = crate::report::get(&server, "/metrics", admin);
    assert_eq!(status, 200);
    let metrics = String::from_utf8_lossy(&metrics).to_string();
    let line = metrics
        .lines()
        .find(|l| l.starts_with("rollout_write_refusals_total{limit=\"WRITES_PER_TOKEN_PER_SECOND\"}"))
        .expect("the refusals' metric");
    let counted: u64 = line.rsplit(' ').next().and_then(|n| n.parse().ok()).expect("a count");
    assert_eq!(counted, refused.len() as u64, "{line}");
}

#[test]
fn the_data_directory_and_its_keys_are_the_owners_only() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().expect("dir");
    let dir = tmp.path().join("data");
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let server = Server::start_in(dir.clone());
    server.contact("120540000000");
    let mode = |p: &std::path::Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    if server.store_args[0] == "--data-dir" {
        assert_eq!(mode(&dir.join("keys")), 0o700);
        for entry in std::fs::read_dir(dir.join("keys")).expect("keys") {
            let path = entry.expect("entry").path();
            assert_eq!(mode(&path), 0o600, "{}", path.display());
        }
    }
    assert_eq!(mode(&dir.join("admin.token")), 0o600);
}

#[test]
fn metrics_can_ask_for_a_token_and_every_page_has_a_strict_policy() {
    let server = Server::start_with(&["--metrics-token", "m3trics-geheim"]);
    let (status, headers, _) = crate::report::get(&server, "/metrics", None);
    assert_eq!(status, 401);
    assert_eq!(headers.get("www-authenticate").map(String::as_str), Some("Bearer"));
    assert_eq!(
        crate::report::get(&server, "/metrics", Some(&server.admin)).0,
        401,
        "an API token is not the metrics token"
    );
    let (status, _, body) = crate::report::get(&server, "/metrics", Some("m3trics-geheim"));
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&body).contains("rollout_store_writable"));
    // WebSockets only to the page's own origin; the printable report runs nothing.
    for page in ["/", "/graphiql"] {
        let (_, headers, _) = crate::report::get(&server, page, None);
        let policy = headers.get("content-security-policy").cloned().unwrap_or_default();
        assert!(policy.contains("connect-src 'self';") && !policy.contains("ws:"), "{page}: {policy}");
    }
    let (status, headers, _) = crate::report::get(&server, "/reports/programme.html", Some(&server.admin));
    assert_eq!(status, 200);
    let policy = headers.get("content-security-policy").cloned().unwrap_or_default();
    assert!(policy.starts_with("default-src 'none'") && !policy.contains("script-src"), "{policy}");
}

/// A log of `count` events in segments of 4 KiB (so the first ones are in closed segments).
fn small_segments(dir: &std::path::Path, count: u64) {
    use store::{Actor, ActorKind, EventStore, ExpectedVersion, Json, NewEvent};
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let mut config = store_sled::SledConfig::new(dir);
        config.segment_bytes = 4096;
        let store = store_sled::SledStore::open(config).expect("open");
        let actor =
            Actor { id: "system".into(), name: "System".into(), kind: ActorKind::System, person: None };
        for n in 0..count {
            let data = Json::from_value(&json!({ "n": n, "note": "Zustellpunkt Wohngeld" }));
            let event = NewEvent::new("TestHappened", 1, data, actor.clone(), uuid::Uuid::now_v7());
            store
                .append(&format!("test-{}", n % 4), ExpectedVersion::Any, vec![event])
                .await
                .expect("append");
        }
    });
}

#[test]
fn a_forged_closed_segment_is_found_after_the_start_and_readiness_names_it() {
    if std::env::var_os("ROLLOUT_E2E_POSTGRES").is_some() {
        return; // the embedded store's files
    }
    let tmp = tempfile::tempdir().expect("dir");
    let dir = tmp.path().join("data");
    small_segments(&dir, 200);
    // The first segment is closed: a word changed, the length kept.
    let first = dir.join("segments").join(format!("{:020}.seg", 1));
    let bytes = std::fs::read(&first).expect("segment");
    let at = bytes.windows(9).position(|w| w == b"Wohngeld\"").expect("a note");
    let mut forged = bytes.clone();
    forged[at..at + 8].copy_from_slice(b"Wohnheim");
    std::fs::write(&first, &forged).expect("forge");
    let server = Server::start_in(dir.clone());
    let mut answer = (0, String::new());
    for _ in 0..100 {
        let (status, _, body) = crate::report::get(&server, "/readyz", None);
        answer = (status, String::from_utf8_lossy(&body).to_string());
        if status == 503 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(answer.0, 503, "{}", answer.1);
    assert!(answer.1.contains("does not verify") && answer.1.contains("position"), "{}", answer.1);
    let (_, _, metrics) = crate::report::get(&server, "/metrics", None);
    assert!(String::from_utf8_lossy(&metrics).contains("rollout_log_broken 1"));
    // An untouched log verifies: ready, and the whole chain counted.
    let clean = tmp.path().join("clean");
    small_segments(&clean, 50);
    let server = Server::start_in(clean);
    let mut verified = 0;
    for _ in 0..100 {
        let (_, _, metrics) = crate::report::get(&server, "/metrics", None);
        let text = String::from_utf8_lossy(&metrics).to_string();
        verified = text
            .lines()
            .find_map(|l| l.strip_prefix("rollout_log_verified_position "))
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
        if verified >= 50 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(verified >= 50, "{verified}");
    assert_eq!(crate::report::get(&server, "/readyz", None).0, 200);
}

#[test]
fn the_end_of_another_administrations_blockage_does_not_show_in_peers() {
    let server = Server::start();
    start_wohngeld(&server);
    let (_, potsdam) = issue(&server, "authority-staff", &["120540000000"]);
    let (_, cottbus) = issue(&server, "authority-staff", &["120520000000"]);
    let command = |m: &str, input: Value| {
        let r = server.gql(
            Some(&potsdam),
            &format!("mutation($i: RolloutCommandInput!) {{ {m}(input: $i) {{ rollout {{ status }} }} }}"),
            json!({ "i": input }),
        );
        assert!(r["errors"].is_null(), "{r}");
    };
    let potsdam_as_seen = |token: &str| {
        let r = server.gql(
            Some(token),
            "{ peers(serviceKey: \"wohngeld\") { authority { ars } status } }",
            json!({}),
        );
        r["data"]["peers"]
            .as_array()
            .unwrap_or_else(|| panic!("{r}"))
            .iter()
            .find(|p| p["authority"]["ars"] == "120540000000")
            .map(|p| p["status"].as_str().unwrap_or("").to_owned())
            .expect("Potsdam among the peers")
    };
    let before = potsdam_as_seen(&cottbus);
    command(
        "blockRollout",
        json!({ "rolloutId": "wohngeld:120540000000", "reason": "Zertifikat fehlt", "category": "TECHNIK" }),
    );
    let blocked = potsdam_as_seen(&cottbus);
    assert_eq!(potsdam_as_seen(&server.admin), "blocked", "the Land sees it");
    command(
        "unblockRollout",
        json!({ "rolloutId": "wohngeld:120540000000", "reason": "gelöst", "solution": "Zertifikat über das Landesportal neu beantragt" }),
    );
    let after = potsdam_as_seen(&cottbus);
    assert_eq!(
        (blocked.as_str(), after.as_str()),
        (before.as_str(), before.as_str()),
        "another administration saw the blockage come and go"
    );
}

#[test]
fn every_state_change_names_a_reason_and_dates_stay_within_bounds() {
    let server = Server::start();
    let admin = Some(server.admin.as_str());
    start_wohngeld(&server);
    // Tokens, assignments and consents: without a reason the request is refused; with one the
    // event keeps it.
    let r = server.gql(
        admin,
        "mutation { issueToken(input: { name: \"x\", role: \"auditor\" }) { id } }",
        json!({}),
    );
    assert_eq!(refusal(&r).0, "BAD_USER_INPUT", "{r}");
    let r = server.gql(
        admin,
        "mutation { issueToken(input: { name: \"x\", role: \"auditor\", reason: \"\\u200d\" }) { id } }",
        json!({}),
    );
    assert_eq!(refusal(&r).0, "BAD_USER_INPUT", "{r}");
    issue(&server, "auditor", &[]);
    let assign = "mutation($i: AssignInput!) { assignRollout(input: $i) { events { data } } }";
    let r = server.gql(
        admin,
        assign,
        json!({ "i": { "rolloutId": "wohngeld:120540000000", "assignee": "Team Wohngeld" } }),
    );
    assert_eq!(refusal(&r).0, "BAD_USER_INPUT", "{r}");
    let r = server.gql(admin, assign, json!({ "i": { "rolloutId": "wohngeld:120540000000", "assignee": "Team Wohngeld", "reason": "Zuständigkeit laut Geschäftsverteilung" } }));
    assert_eq!(
        r["data"]["assignRollout"]["events"][0]["data"]["reason"], "Zuständigkeit laut Geschäftsverteilung",
        "{r}"
    );
    let person = server.contact("120540000000");
    let consent = "mutation($i: ContactConsentInput!) { giveContactConsent(input: $i) { id } }";
    let r = server.gql(
        admin,
        consent,
        json!({ "i": { "personId": person, "serviceKey": "wohngeld", "reason": " \u{200d} " } }),
    );
    assert_eq!(refusal(&r).0, "BAD_USER_INPUT", "{r}");
    let r = server.gql(
        admin,
        consent,
        json!({ "i": { "personId": person, "serviceKey": "wohngeld", "reason": "schriftlich am 3.12." } }),
    );
    assert!(r["errors"].is_null(), "{r}");
    let events = server.gql(
        admin,
        "{ events(filter: { types: [\"TokenIssued\", \"ContactConsentGiven\"] }, first: 50) { edges { node { type data } } } }",
        json!({}),
    );
    let reasons: Vec<(String, String)> = events["data"]["events"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{events}"))
        .iter()
        .map(|e| {
            (
                e["node"]["type"].as_str().unwrap_or("").to_owned(),
                e["node"]["data"]["reason"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert!(reasons.iter().all(|(_, r)| !r.is_empty()), "{reasons:?}");
    assert!(
        reasons.contains(&("TokenIssued".into(), "Test".into()))
            && reasons.iter().any(|(t, _)| t == "ContactConsentGiven"),
        "{reasons:?}"
    );
    // A day someone left: not in the future, not decades ago (that would erase at once).
    let left = "mutation($i: RecordPersonLeftInput!) { recordPersonLeft(input: $i) { leftOn } }";
    for day in ["1900-01-01", "2999-12-31"] {
        let r = server.gql(
            admin,
            left,
            json!({ "i": { "personId": person, "leftOn": day, "reason": "Wechsel" } }),
        );
        assert_eq!(refusal(&r).0, "BAD_USER_INPUT", "{day}: {r}");
    }
}

#[test]
fn new_connections_from_one_address_can_be_rate_limited() {
    let server = Server::start_with(&["--connections-per-peer-per-second", "4"]);
    // Five seconds' worth (20) at once, then 503 with Retry-After; another address goes on.
    let mut statuses = Vec::new();
    let started = Instant::now();
    for _ in 0..40 {
        let mut s = TcpStream::connect(&server.address).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").expect("send");
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        statuses.push(out.split(' ').nth(1).and_then(|c| c.parse::<u16>().ok()).unwrap_or(0));
        if out.starts_with("HTTP/1.1 503") {
            assert!(out.contains("Retry-After: 5"), "{out}");
        }
    }
    // Refilled at 4 a second while the loop ran.
    let most = 20 + (started.elapsed().as_secs_f64() * 4.0).ceil() as usize;
    let served = statuses.iter().filter(|s| **s == 200).count();
    assert!(statuses[..20].iter().all(|s| *s == 200), "{statuses:?}");
    assert!(served <= most && served + statuses.iter().filter(|s| **s == 503).count() == 40, "{statuses:?}");
    assert!(healthz_from("127.0.0.2", &server.address).starts_with("HTTP/1.1 200"));
}
