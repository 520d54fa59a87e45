//! Fault loops of the real binary, run by CI (`.ci/run` sets the variables): the server killed
//! with SIGKILL again and again under the writes of 16 clients, and PostgreSQL restarted under
//! load. After each, every acknowledged change is in the log exactly once and `rollout verify`
//! passes. A test binary of its own: restarting PostgreSQL must not meet other tests using it.

#[path = "../support/mod.rs"]
#[allow(dead_code)]
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use support::{post, rollout, Server};

const COMMENT: &str = "mutation($i: RolloutCommandInput!) { addComment(input: $i) { rollout { version } } }";

/// Rollout ids of wohngeld, started on the server.
fn start_service(server: &Server) -> Vec<String> {
    server.gql(
        Some(&server.admin),
        "mutation { startServiceRollout(serviceKey: \"wohngeld\") { existing } }",
        json!({}),
    );
    server
        .all_pages(&server.admin, "query($a: String) { rollouts(first: 100, after: $a) { edges { node { id } } pageInfo { hasNextPage endCursor } } }", "rollouts")
        .iter()
        .filter_map(|n| n["id"].as_str().map(String::from))
        .collect()
}

/// 16 clients commenting until `stop`; returns the comments acknowledged (no error) and the
/// error codes seen.
fn writers(
    server: &Server,
    ids: &[String],
    tag: &str,
    stop: Arc<AtomicBool>,
) -> Vec<std::thread::JoinHandle<(Vec<String>, Vec<String>)>> {
    (0..16)
        .map(|w| {
            let (address, admin, id, tag, stop) =
                (server.address.clone(), server.admin.clone(), ids[w % ids.len()].clone(), tag.to_owned(), stop.clone());
            std::thread::spawn(move || {
                let mut acked = Vec::new();
                let mut codes = Vec::new();
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let text = format!("{tag}-w{w}-n{n}");
                    n += 1;
                    let body = json!({ "query": COMMENT, "variables": { "i": { "rolloutId": id, "reason": text } } }).to_string();
                    match post(&address, Some(&admin), body.as_bytes()) {
                        Ok((_, answer)) => match serde_json::from_str::<Value>(&answer) {
                            Ok(v) if v["errors"].is_null() && v["data"]["addComment"].is_object() => acked.push(text),
                            Ok(v) => codes.push(v["errors"][0]["extensions"]["code"].as_str().unwrap_or("?").to_owned()),
                            Err(_) => break, // cut off by the kill
                        },
                        Err(_) => break, // the server is gone
                    }
                }
                (acked, codes)
            })
        })
        .collect()
}

/// How often each comment text is in the log, from `rollout export` (the store closed).
fn comments_in_log(store_args: &[String]) -> BTreeMap<String, usize> {
    let mut args = vec!["export".to_owned()];
    args.extend(store_args.iter().cloned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = rollout(&args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut counts = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let e: Value = serde_json::from_str(line).expect("an NDJSON line");
        if e["type"] == "CommentAdded" {
            let data = if e["data"].is_string() {
                serde_json::from_str(e["data"].as_str().unwrap_or("{}")).unwrap_or(Value::Null)
            } else {
                e["data"].clone()
            };
            if let Some(text) = data["text"].as_str() {
                *counts.entry(text.to_owned()).or_default() += 1;
            }
        }
    }
    counts
}

fn verify(store_args: &[String]) {
    let mut args = vec!["verify".to_owned()];
    args.extend(store_args.iter().cloned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = rollout(&args);
    assert!(out.status.success(), "verify: {}", String::from_utf8_lossy(&out.stderr));
}

/// Every acknowledged comment exactly once; an unacknowledged one at most once.
fn check(counts: &BTreeMap<String, usize>, acked: &BTreeSet<String>, round: usize) {
    for text in acked {
        assert_eq!(
            counts.get(text),
            Some(&1),
            "round {round}: acknowledged comment {text} must be in the log once"
        );
    }
    if let Some((text, n)) = counts.iter().find(|(_, n)| **n > 1) {
        panic!("round {round}: {text} is in the log {n} times");
    }
}

/// `ROLLOUT_E2E_CRASH_ROUNDS` SIGKILLs (CI: 50) of `rollout serve` on the embedded store,
/// each at a random moment while 16 clients write.
#[test]
fn sigkills_of_the_server_under_16_writers_lose_no_acknowledged_change() {
    let Some(rounds) = std::env::var("ROLLOUT_E2E_CRASH_ROUNDS").ok().and_then(|r| r.parse::<usize>().ok())
    else {
        println!("skipped: set ROLLOUT_E2E_CRASH_ROUNDS (CI: 50)");
        return;
    };
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("data");
    let store_args = vec!["--data-dir".to_owned(), path.display().to_string()];
    let ids = {
        let server = Server::start_in(path.clone());
        start_service(&server)
    };
    let mut acked: BTreeSet<String> = BTreeSet::new();
    let mut seed: u64 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(7)
        | 1;
    println!("seed {seed}");
    let started = Instant::now();
    for round in 0..rounds {
        let mut server = Server::start_in(path.clone());
        let stop = Arc::new(AtomicBool::new(false));
        let clients = writers(&server, &ids, &format!("r{round}"), stop.clone());
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_millis(100 + seed % 400));
        server.child.kill().expect("SIGKILL");
        server.child.wait().expect("wait");
        stop.store(true, Ordering::Relaxed);
        for c in clients {
            acked.extend(c.join().expect("client").0);
        }
        drop(server);
        check(&comments_in_log(&store_args), &acked, round);
        verify(&store_args);
    }
    println!(
        "{} acknowledged comments checked over {rounds} SIGKILLs in {:?}",
        acked.len(),
        started.elapsed()
    );
    assert!(
        acked.len() > rounds * 16,
        "the clients acknowledged too little to test anything: {}",
        acked.len()
    );
}

/// PostgreSQL stopped and started while 16 clients write through a server on it: meanwhile
/// writes fail with `UNAVAILABLE` and `/readyz` says why; afterwards they succeed again by
/// themselves, and every acknowledged change is in the log exactly once.
#[test]
fn a_postgresql_restart_under_16_writers_loses_nothing_and_writes_resume() {
    let (Ok(url), Some(_)) =
        (std::env::var("ROLLOUT_TEST_DATABASE_URL"), std::env::var_os("ROLLOUT_TEST_PG_RESTART"))
    else {
        println!("skipped: needs ROLLOUT_TEST_DATABASE_URL and ROLLOUT_TEST_PG_RESTART=1");
        return;
    };
    let schema = format!("efa_t_{}", uuid_like());
    let store_url =
        format!("{url}{}options=-csearch_path%3D{schema}", if url.contains('?') { "&" } else { "?" });
    let setup =
        Command::new("psql").args([&url, "-qc", &format!("create schema {schema}")]).status().expect("psql");
    assert!(setup.success());
    let dir = tempfile::tempdir().expect("dir");
    let server = Server::start_on(dir.path(), &store_url);
    let ids = start_service(&server);
    let stop = Arc::new(AtomicBool::new(false));
    let clients = writers(&server, &ids, "pg", stop.clone());
    std::thread::sleep(Duration::from_millis(500));
    let cluster = std::fs::read_dir("/etc/postgresql")
        .expect("a cluster")
        .next()
        .expect("one")
        .expect("entry")
        .file_name();
    let cluster = cluster.to_string_lossy().into_owned();
    let pg = |action: &str| {
        let ok = Command::new("pg_ctlcluster")
            .args(["--skip-systemctl-redirect", &cluster, "main", action])
            .status()
            .expect("pg_ctlcluster");
        assert!(ok.success(), "pg_ctlcluster {action}");
    };
    pg("stop");
    std::thread::sleep(Duration::from_millis(800));
    let readiness = Arc::new(Mutex::new(String::new()));
    {
        let mut s = std::net::TcpStream::connect(&server.address).expect("connect");
        use std::io::{Read, Write};
        write!(s, "GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").expect("send");
        s.read_to_string(&mut readiness.lock().expect("lock")).expect("read");
    }
    pg("start");
    std::thread::sleep(Duration::from_millis(1500));
    stop.store(true, Ordering::Relaxed);
    let mut acked = BTreeSet::new();
    let mut codes = Vec::new();
    for c in clients {
        let (a, e) = c.join().expect("client");
        acked.extend(a);
        codes.extend(e);
    }
    let readiness = readiness.lock().expect("lock").clone();
    assert!(readiness.starts_with("HTTP/1.1 503"), "{readiness}");
    assert!(readiness.contains("PostgreSQL") || readiness.contains("connect"), "{readiness}");
    assert!(codes.iter().all(|c| c == "UNAVAILABLE"), "{codes:?}");
    // Writes resume by themselves.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = server.gql(
            Some(&server.admin),
            COMMENT,
            json!({ "i": { "rolloutId": ids[0], "reason": "pg-after" } }),
        );
        if r["errors"].is_null() {
            acked.insert("pg-after".into());
            break;
        }
        assert!(Instant::now() < deadline, "writes did not resume: {r}");
        std::thread::sleep(Duration::from_millis(200));
    }
    check(&comments_in_log(&server.store_args), &acked, 0);
    verify(&server.store_args);
    assert!(!codes.is_empty(), "the restart was noticed by the writers");
    assert!(acked.len() > 16, "{}", acked.len());
}

fn uuid_like() -> String {
    format!(
        "{:x}",
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
    )
}

/// SIGKILLs of the server while 8 clients register persons and erase every other one: after
/// each, with the store opened as a server opens it, every registered person either has a key
/// or was erased, no erased person has a key, and every acknowledged registration and erasure
/// is in the log.
#[test]
fn sigkills_while_persons_are_registered_and_erased_leave_no_key_astray() {
    let Some(rounds) = std::env::var("ROLLOUT_E2E_CRASH_ROUNDS").ok().and_then(|r| r.parse::<usize>().ok())
    else {
        println!("skipped: set ROLLOUT_E2E_CRASH_ROUNDS (CI: 50; this test runs a fifth of them)");
        return;
    };
    let rounds = (rounds / 5).max(3);
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("data");
    let store_args = vec!["--data-dir".to_owned(), path.display().to_string()];
    drop(Server::start_in(path.clone()));
    let (mut registered, mut erased) = (BTreeSet::new(), BTreeSet::new());
    let mut seed: u64 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(11)
        | 1;
    println!("seed {seed}");
    for round in 0..rounds {
        let mut server = Server::start_in(path.clone());
        let stop = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..8)
            .map(|w| {
                let (address, admin, stop) = (server.address.clone(), server.admin.clone(), stop.clone());
                std::thread::spawn(move || person_writer(&address, &admin, &format!("r{round}w{w}"), &stop))
            })
            .collect();
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_millis(150 + seed % 400));
        server.child.kill().expect("SIGKILL");
        server.child.wait().expect("wait");
        stop.store(true, Ordering::Relaxed);
        for c in clients {
            let (r, e) = c.join().expect("client");
            registered.extend(r);
            erased.extend(e);
        }
        drop(server);
        check_keys(&path, &registered, &erased, round);
        verify(&store_args);
    }
    println!(
        "{} registrations and {} erasures checked over {rounds} SIGKILLs",
        registered.len(),
        erased.len()
    );
    assert!(registered.len() > rounds && !erased.is_empty(), "too little was acknowledged to test anything");
}

/// Registers persons and erases every other one until `stop`; the acknowledged ids of each.
fn person_writer(address: &str, admin: &str, tag: &str, stop: &AtomicBool) -> (Vec<String>, Vec<String>) {
    let (mut registered, mut erased) = (Vec::new(), Vec::new());
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let body = json!({ "query": "mutation($i: RegisterPersonInput!) { registerPerson(input: $i) { id } }",
            "variables": { "i": { "ars": "120540000000", "name": format!("Person {tag}-{n}") } } });
        let Ok((_, answer)) = post(address, Some(admin), body.to_string().as_bytes()) else { break };
        let Ok(v) = serde_json::from_str::<Value>(&answer) else { break };
        let Some(id) = v["data"]["registerPerson"]["id"].as_str().map(String::from) else { continue };
        registered.push(id.clone());
        if n % 2 == 0 {
            let body = json!({ "query": "mutation($i: ErasePersonInput!) { erasePerson(input: $i) { erased } }",
                "variables": { "i": { "personId": id, "reason": "Prüfung" } } });
            let Ok((_, answer)) = post(address, Some(admin), body.to_string().as_bytes()) else { break };
            match serde_json::from_str::<Value>(&answer) {
                Ok(v) if v["data"]["erasePerson"]["erased"] == true => erased.push(id),
                Ok(_) => {}
                Err(_) => break,
            }
        }
    }
    (registered, erased)
}

/// The store opened as `rollout serve` opens it (which finishes an erasure a kill cut short),
/// then the invariants of persons and keys.
fn check_keys(
    path: &std::path::Path,
    registered: &BTreeSet<String>,
    erased: &BTreeSet<String>,
    round: usize,
) {
    // Before any server start: `export --keys` leaves out an erased person's key even when the
    // kill came between the erasure's event and the key store.
    let keys_file = path.with_file_name(format!("keys-{round}.txt"));
    let data_dir = path.display().to_string();
    let keys_arg = keys_file.display().to_string();
    let log_arg = path.with_file_name(format!("log-{round}.ndjson")).display().to_string();
    let out = rollout(&["export", "--data-dir", &data_dir, "--out", &log_arg, "--keys", &keys_arg]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let exported: BTreeSet<String> = std::fs::read_to_string(&keys_file)
        .expect("keys file")
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_whitespace().next().map(String::from))
        .collect();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let store: Arc<dyn store::EventStore> =
            Arc::new(store_sled::SledStore::open(store_sled::SledConfig::new(path)).expect("open"));
        let registry = Arc::new(engine::definitions::bundled().expect("bundled"));
        let engine = engine::Engine::open(store.clone(), registry).await.expect("engine");
        let keys: BTreeSet<String> = store
            .key_store()
            .expect("keys")
            .all()
            .await
            .expect("all keys")
            .into_iter()
            .map(|(id, _)| id.to_string())
            .collect();
        for p in engine.persons().all() {
            let id = p.id.to_string();
            match p.erased {
                Some(_) => {
                    assert!(!keys.contains(&id), "round {round}: erased person {id} still has a key");
                    assert!(!exported.contains(&id), "round {round}: the key of erased {id} was exported");
                }
                None => {
                    assert!(keys.contains(&id), "round {round}: person {id} has no key and was not erased");
                    assert!(exported.contains(&id), "round {round}: the key of {id} was not exported");
                }
            }
        }
        let known: BTreeSet<String> = engine.persons().all().iter().map(|p| p.id.to_string()).collect();
        for id in registered {
            assert!(known.contains(id), "round {round}: acknowledged registration {id} is not in the log");
        }
        for id in erased {
            let p = engine.persons().get(id.parse().expect("uuid")).expect("registered");
            assert!(p.erased.is_some(), "round {round}: acknowledged erasure of {id} is not in the log");
        }
    });
}
