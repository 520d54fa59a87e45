//! Other clients under the review's amplification attacks (issue 31): `completeStep` p50/p99 of
//! one honest client on its own, then the same while an attacker sends each attack in a loop,
//! side by side in one run. The real server (this build, release) on a fresh embedded store,
//! measured from outside over loopback. Run by hand:
//!
//! ```text
//! cargo bench -p rollout --bench attacks
//! ```
//!
//! The attacks: the four-level `usedBy` cycle; 500 aliased `history(first: 500) { event { data } }`;
//! 300 aliased `rollout(id, asOf:)`; `progress(asOf:)` and `progressOverTime` (folds of the
//! log); a 60 MB `connection_init` on a WebSocket; 300 slow connections sending half a request
//! head. Each attacker request is counted by how the server answered it (refused, served,
//! closed). The attacker connects from 127.0.0.1, the honest client from 127.0.0.2; the server
//! runs with `--connections-per-peer-per-second 100`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// `completeStep`s the honest client sends per phase.
const SAMPLES: usize = 300;

struct Server {
    child: Child,
    address: String,
    admin: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start() -> Server {
    let dir = tempfile::tempdir().expect("dir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_rollout"))
        .args(["serve", "--listen", "127.0.0.1:0", "--connections-per-peer-per-second", "100", "--data-dir"])
        .arg(dir.path())
        .env("ROLLOUT_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the server");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let address = loop {
        let line = lines.next().expect("the address").expect("line");
        if let Some(a) = line.strip_prefix("listening on http://") {
            break a.to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    let admin = std::fs::read_to_string(dir.path().join("admin.token")).expect("admin token");
    Server { child, address, admin, _dir: dir }
}

/// One request on a new connection; (status, body).
fn post(address: &str, token: &str, body: &str) -> std::io::Result<(u16, String)> {
    post_from(None, address, token, body)
}

/// A connection from the loopback address `from` (the honest client is another address than
/// the attacker's), or from any.
fn connect(from: Option<&str>, address: &str) -> std::io::Result<TcpStream> {
    let Some(from) = from else { return TcpStream::connect(address) };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let stream = rt.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.bind(format!("{from}:0").parse().map_err(std::io::Error::other)?)?;
        socket.connect(address.parse().map_err(std::io::Error::other)?).await
    })?;
    let stream = stream.into_std()?;
    stream.set_nonblocking(false)?;
    Ok(stream)
}

fn post_from(from: Option<&str>, address: &str, token: &str, body: &str) -> std::io::Result<(u16, String)> {
    let mut s = connect(from, address)?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    write!(
        s,
        "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer {token}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    let status = out.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    Ok((status, out.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default()))
}

fn gql(address: &str, token: &str, query: &str, variables: Value) -> Value {
    let body = json!({ "query": query, "variables": variables }).to_string();
    let (_, text) = post_from(None, address, token, &body).expect("answer");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// One request on a kept-alive connection; the body of the answer (read by Content-Length).
fn keep_alive(s: &mut TcpStream, token: &str, body: &str) -> String {
    // One write (no small segments for Nagle's algorithm to hold back).
    let request = format!(
        "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer {token}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(request.as_bytes()).expect("send");
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let n = s.read(&mut chunk).expect("read");
        assert!(n > 0, "the server closed the honest client's connection");
        buffer.extend_from_slice(&chunk[..n]);
        let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") else { continue };
        let head = String::from_utf8_lossy(&buffer[..end]).to_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        if buffer.len() >= end + 4 + length {
            return String::from_utf8_lossy(&buffer[end + 4..end + 4 + length]).into_owned();
        }
    }
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

/// The honest client: `completeStep` of `interesse` on the next `SAMPLES` rollouts, on one
/// kept-alive connection from 127.0.0.2 (as a browser or a tool keeps one); (p50, p99, errors).
fn honest(server: &Server, ids: &[String], contact: &str) -> (Duration, Duration, usize) {
    let mut times = Vec::with_capacity(ids.len());
    let mut errors = 0;
    let mut connection = connect(Some("127.0.0.2"), &server.address).expect("connect");
    connection.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
    connection.set_nodelay(true).expect("nodelay");
    for id in ids {
        let body = json!({
            "query": "mutation($i: CompleteStepInput!) { completeStep(input: $i) { rollout { version } } }",
            "variables": { "i": { "rolloutId": id, "stepId": "interesse", "evidence": { "datum": "2026-11-01", "kontakt": contact } } },
        })
        .to_string();
        let started = Instant::now();
        let answer = keep_alive(&mut connection, &server.admin, &body);
        times.push(started.elapsed());
        if !answer.contains("\"version\"") || answer.contains("\"errors\"") {
            errors += 1;
        }
    }
    times.sort();
    (pct(&times, 0.5), pct(&times, 0.99), errors)
}

fn aliases(n: usize, field: &str) -> String {
    format!("{{ {} }}", (0..n).map(|i| format!("a{i}: {field}")).collect::<Vec<_>>().join(" "))
}

/// One attack: sends its request until `stop`; counts how it was answered.
fn attack(
    name: &'static str,
    address: String,
    admin: String,
    stop: Arc<AtomicBool>,
    counts: Arc<[AtomicU64; 3]>,
) {
    let body = |query: String| json!({ "query": query }).to_string();
    while !stop.load(Ordering::Relaxed) {
        let outcome = match name {
            "usedBy cycle" => post(&address, &admin, &body("{ definition(id: \"efa-onboarding\") { usedBy { definition { definition { usedBy { definition { definition { usedBy { definition { definition { usedBy { key } } } } } } } } } } } }".into())),
            "500 × history(500)" => post(&address, &admin, &body(aliases(500, "rollout(id: \"wohngeld:120540000000\") { history(first: 500) { event { data } } }"))),
            "300 × rollout(asOf)" => post(&address, &admin, &body(aliases(300, "rollout(id: \"wohngeld:120540000000\", asOf: \"1\") { status }"))),
            "progress(asOf) + chart" => post(&address, &admin, &body("{ progress(groupBy: AUTHORITY, asOf: \"1\") { key } progressOverTime(groupBy: SERVICE, from: \"2026-01-01T00:00:00Z\") { at } }".into())),
            "60 MB connection_init" => ws_init(&address),
            "300 slow connections" => slowloris(&address, &stop),
            _ => unreachable!(),
        };
        let slot = match outcome {
            Ok((200, text)) if text.contains("LIMIT_EXCEEDED") => 0,
            Ok((200, _)) => 1,
            _ => 2,
        };
        counts[slot].fetch_add(1, Ordering::Relaxed);
    }
}

/// A WebSocket upgrade, then 60 MB of `connection_init` before any token.
fn ws_init(address: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(address)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(s, "GET /graphql HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n")?;
    let mut head = [0u8; 1024];
    let _ = s.read(&mut head)?;
    let len: u64 = 60_000_000;
    let mut frame = vec![0x81u8, 0xFF];
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(&[0, 0, 0, 0]);
    let _ = s.write_all(&frame);
    let chunk = vec![b'0'; 1 << 20];
    for _ in 0..60 {
        if s.write_all(&chunk).is_err() {
            break;
        }
    }
    Ok((0, String::new()))
}

/// 300 connections that send half a request head and wait, until `stop` (or the server closes them).
fn slowloris(address: &str, stop: &AtomicBool) -> std::io::Result<(u16, String)> {
    let mut held = Vec::new();
    for _ in 0..300 {
        if let Ok(mut s) = TcpStream::connect(address) {
            let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n");
            held.push(s);
        }
    }
    let until = Instant::now() + Duration::from_secs(12);
    while Instant::now() < until && !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok((0, String::new()))
}

fn main() {
    let server = start();
    let (address, admin) = (server.address.clone(), server.admin.clone());
    // Every EfA service's rollouts (their definitions begin with `interesse`): enough distinct
    // ones for every phase.
    let services = gql(
        &address,
        &admin,
        "{ services(first: 500, filter: { program: EFA }) { edges { node { key } } } }",
        json!({}),
    );
    let keys: Vec<String> = services["data"]["services"]["edges"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["node"]["key"].as_str().map(String::from))
        .collect();
    for key in keys {
        gql(
            &address,
            &admin,
            "mutation($s: String!) { startServiceRollout(serviceKey: $s) { started } }",
            json!({ "s": key }),
        );
    }
    let r = gql(
        &address,
        &admin,
        "mutation { registerPerson(input: { ars: \"120540000000\", name: \"Frau Messung\" }) { id } }",
        json!({}),
    );
    let contact = r["data"]["registerPerson"]["id"].as_str().expect("a contact").to_owned();
    let mut ids = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let r = gql(&address, &admin, "query($a: String) { rollouts(first: 500, after: $a, filter: { status: \"not_started\" }) { edges { node { id } } pageInfo { hasNextPage endCursor } } }", json!({ "a": after }));
        let page = &r["data"]["rollouts"];
        // The administrations' rollouts (not the Land's central one, which has no `interesse`).
        ids.extend(
            page["edges"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|e| e["node"]["id"].as_str().map(String::from))
                .filter(|id| !id.ends_with(":120000000000")),
        );
        if page["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = page["pageInfo"]["endCursor"].as_str().map(String::from);
    }
    let attacks = [
        "usedBy cycle",
        "500 × history(500)",
        "300 × rollout(asOf)",
        "progress(asOf) + chart",
        "60 MB connection_init",
        "300 slow connections",
    ];
    assert!(ids.len() >= SAMPLES * (attacks.len() + 2), "{} rollouts", ids.len());
    let mut chunks = ids.chunks(SAMPLES);
    let _warm = honest(&server, chunks.next().expect("warm-up"), &contact);
    let (base50, base99, base_errors) = honest(&server, chunks.next().expect("baseline"), &contact);
    println!(
        "completeStep p50/p99 of another client, {SAMPLES} requests each (release build, embedded store)"
    );
    println!(
        "{:<26} {:>10} {:>10} {:>8}   attacker: refused / served / 503 or closed",
        "", "p50", "p99", "p99 ×"
    );
    println!(
        "{:<26} {:>10.2?} {:>10.2?} {:>8}   errors {base_errors}",
        "without attack (baseline)", base50, base99, "1.00"
    );
    for name in attacks {
        let stop = Arc::new(AtomicBool::new(false));
        let counts: Arc<[AtomicU64; 3]> = Arc::new(Default::default());
        let attackers: Vec<_> = (0..2)
            .map(|_| {
                let (address, admin, stop, counts) =
                    (address.clone(), admin.clone(), stop.clone(), counts.clone());
                std::thread::spawn(move || attack(name, address, admin, stop, counts))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(300));
        let (p50, p99, errors) = honest(&server, chunks.next().expect("samples"), &contact);
        stop.store(true, Ordering::Relaxed);
        for a in attackers {
            let _ = a.join();
        }
        let c: Vec<u64> = counts.iter().map(|n| n.load(Ordering::Relaxed)).collect();
        println!(
            "{name:<26} {p50:>10.2?} {p99:>10.2?} {:>8.2}   {} / {} / {}  errors {errors}",
            p99.as_secs_f64() / base99.as_secs_f64(),
            c[0],
            c[1],
            c[2]
        );
    }
    // Still serving after all of it (to another address: the attacker's may be over its rate).
    let body = json!({ "query": "{ me { role } }" }).to_string();
    let (_, text) = post_from(Some("127.0.0.2"), &address, &admin, &body).expect("answer");
    let r: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    assert_eq!(r["data"]["me"]["role"], "admin", "{r}");
}
