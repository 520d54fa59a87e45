//! The PostgreSQL store end to end: `rollout store copy` between sled and PostgreSQL, and two
//! servers on one database. Runs when ROLLOUT_TEST_DATABASE_URL is set (CI sets it).

use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::{rollout, Server};

fn database() -> Option<String> {
    std::env::var("ROLLOUT_TEST_DATABASE_URL").ok()
}

/// A fresh schema with the store's tables; the URL that selects it.
pub(crate) fn fresh_schema(url: &str) -> String {
    let schema = format!("efa_t_{}", uuid::Uuid::now_v7().simple());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let mut config = store_postgres::PgConfig::new(url);
        config.schema = Some(schema.clone());
        store_postgres::PgStore::open(config).await.expect("create the schema");
    });
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}options=-csearch_path%3D{schema}")
}

#[test]
fn the_log_copies_from_sled_to_postgresql_and_back_unchanged() {
    let Some(url) = database() else {
        println!("skipped: the_log_copies_from_sled_to_postgresql_and_back_unchanged: ROLLOUT_TEST_DATABASE_URL is not set");
        return;
    };
    let tmp = tempfile::tempdir().expect("dir");
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let (a, b) = (a.to_str().expect("path"), b.to_str().expect("path"));
    assert!(rollout(&["catalog", "import", "--data-dir", a]).status.success());
    assert!(rollout(&["service", "start", "--data-dir", a, "wohngeld"]).status.success());
    let pg = fresh_schema(&url);
    let out = rollout(&["store", "copy", "--from", a, "--to", &pg]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // The eleven bundled definitions' publications, the catalogue's 264 events, 20 rollouts'.
    assert!(String::from_utf8_lossy(&out.stdout)
        .starts_with("copied 295 events and 0 persons' keys; the chain verifies at the target"));
    let again = rollout(&["store", "copy", "--from", a, "--to", &pg]);
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("is not empty (it holds 295 events)"),
        "a non-empty target is refused"
    );
    let back = rollout(&["store", "copy", "--from", &pg, "--to", b]);
    assert!(back.status.success(), "{}", String::from_utf8_lossy(&back.stderr));
    let export_a = rollout(&["export", "--data-dir", a]).stdout;
    let export_pg = rollout(&["export", "--store", &pg]).stdout;
    let export_b = rollout(&["export", "--data-dir", b]).stdout;
    assert!(export_a == export_pg && export_a == export_b, "the same bytes in every store");
    assert!(rollout(&["verify", "--store", &pg]).status.success());
}

#[test]
fn two_servers_on_one_database_see_each_others_changes_and_conflicts() {
    let Some(url) = database() else {
        println!("skipped: two_servers_on_one_database_see_each_others_changes_and_conflicts: ROLLOUT_TEST_DATABASE_URL is not set");
        return;
    };
    let store = fresh_schema(&url);
    let tmp = tempfile::tempdir().expect("dir");
    let a = Server::start_on(&tmp.path().join("a"), &store);
    let admin = std::fs::read_to_string(tmp.path().join("a").join("admin.token")).expect("admin token");
    let b = Server::start_on(&tmp.path().join("b"), &store);
    assert!(
        !tmp.path().join("b").join("admin.token").exists(),
        "the second server found the tokens in the shared log"
    );
    // A's data directory (its checkpoint, its admin token) is A's alone: a second server, or a
    // rebuild of the read models, pointed at it is refused with the reason, and A goes on.
    let a_dir = tmp.path().join("a").display().to_string();
    for args in [
        &["serve", "--listen", "127.0.0.1:0", "--data-dir", &a_dir, "--store", &store][..],
        &["rebuild", "--data-dir", &a_dir, "--store", &store][..],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_rollout"))
            .args(args)
            .env_remove("ROLLOUT_STORE")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run");
        let mut waited = 0;
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break status;
            }
            if waited == 200 {
                let _ = child.kill();
                panic!("{args:?} still runs after 20 s: not refused");
            }
            std::thread::sleep(Duration::from_millis(100));
            waited += 1;
        };
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr).expect("read");
        assert!(!status.success(), "{args:?}: {stderr}");
        assert!(stderr.contains("is in use by another process"), "{args:?}: {stderr}");
    }
    let started = a.gql(Some(&admin), "mutation { startRollout(input: { serviceKey: \"wohngeld\", ars: \"120540000000\" }) { rollout { version } } }", json!({}));
    assert_eq!(started["data"]["startRollout"]["rollout"]["version"], 1, "{started}");
    // Server B's read models follow the shared log (LISTEN/NOTIFY wake-ups).
    let mut seen = Value::Null;
    for _ in 0..100 {
        seen = b.gql(Some(&admin), "{ rollout(id: \"wohngeld:120540000000\") { version } }", json!({}));
        if seen["data"]["rollout"]["version"] == 1 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(seen["data"]["rollout"]["version"], 1, "{seen}");
    // B's event feed carries what was written through A.
    {
        use tungstenite::client::IntoClientRequest;
        let mut request = format!("ws://{}/graphql", b.address).into_client_request().expect("request");
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse().expect("header"));
        let stream = TcpStream::connect(&b.address).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
        let (mut ws, _) = tungstenite::client(request, stream).expect("handshake");
        let init =
            json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {admin}") } });
        ws.send(tungstenite::Message::Text(init.to_string().into())).expect("init");
        let subscribe = json!({ "id": "1", "type": "subscribe", "payload": { "query":
            "subscription { events(filter: { rolloutId: \"wohngeld:120540000000\" }) { type } }" } });
        ws.send(tungstenite::Message::Text(subscribe.to_string().into())).expect("subscribe");
        let first = loop {
            let Ok(tungstenite::Message::Text(t)) = ws.read() else { continue };
            let m: Value = serde_json::from_str(&t).expect("json");
            if m["type"] == "next" {
                break m;
            }
        };
        assert_eq!(first["payload"]["data"]["events"]["type"], "RolloutStarted", "{first}");
    }
    // A token issued through B works on A.
    let issued = b.gql(Some(&admin), "mutation { issueToken(input: { name: \"staff\", role: \"authority-staff\", authorities: [\"120540000000\"], reason: \"Test\" }) { token } }", json!({}));
    let staff = issued["data"]["issueToken"]["token"].as_str().expect("token").to_owned();
    // The same step through both servers at the same version: one success, one conflict.
    let complete = "mutation($i: CompleteStepInput!) { completeStep(input: $i) { rollout { version } } }";
    let registered = b.gql(
        Some(&admin),
        "mutation { registerPerson(input: { ars: \"120540000000\", name: \"Frau Schulz\" }) { id } }",
        json!({}),
    );
    let kontakt = registered["data"]["registerPerson"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{registered}"))
        .to_owned();
    let input = json!({ "i": { "rolloutId": "wohngeld:120540000000", "stepId": "interesse", "expectedVersion": 1, "evidence": { "datum": "2026-11-01", "kontakt": kontakt } } });
    let mut me_on_a = Value::Null;
    for _ in 0..100 {
        me_on_a = a.gql(Some(&staff), "{ me { role } }", json!({}));
        if me_on_a["data"]["me"]["role"] == "authority-staff" {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(me_on_a["data"]["me"]["role"], "authority-staff", "{me_on_a}");
    let (ra, rb) = std::thread::scope(|s| {
        let ta = s.spawn(|| a.gql(Some(&staff), complete, input.clone()));
        let tb = s.spawn(|| b.gql(Some(&staff), complete, input.clone()));
        (ta.join().expect("a"), tb.join().expect("b"))
    });
    let codes: Vec<&str> =
        [&ra, &rb].iter().map(|r| r["errors"][0]["extensions"]["code"].as_str().unwrap_or("OK")).collect();
    let mut sorted = codes.clone();
    sorted.sort();
    assert_eq!(sorted, vec!["CONFLICT", "OK"], "{ra} {rb}");

    // A definition published through B, and a service switched to it through B: A starts a
    // rollout on it without a restart.
    let onboarding = include_str!("../../workflows/archive/efa-onboarding.v1.toml");
    let xta = onboarding.replacen("id = \"efa-onboarding\"", "id = \"efa-onboarding-xta\"", 1);
    let published = b.gql(
        Some(&admin),
        "mutation($s: String!) { publishDefinition(input: { source: $s, reason: \"XTA\" }) { published } }",
        json!({ "s": xta }),
    );
    assert_eq!(published["data"]["publishDefinition"]["published"], true, "{published}");
    let set = b.gql(Some(&admin), "mutation { setServiceDefinition(input: { serviceKey: \"wohngeld\", definitionId: \"efa-onboarding-xta\", version: 1, level: AUTHORITY, reason: \"XTA\" }) { key } }", json!({}));
    assert_eq!(set["data"]["setServiceDefinition"]["key"], "wohngeld", "{set}");
    let mut on_a = Value::Null;
    for _ in 0..100 {
        on_a = a.gql(Some(&admin), "{ definition(id: \"efa-onboarding-xta\") { version } services(first: 100) { edges { node { key definition { id } } } } }", json!({}));
        let switched = on_a["data"]["services"]["edges"].as_array().is_some_and(|e| {
            e.iter().any(|e| {
                e["node"]["key"] == "wohngeld" && e["node"]["definition"]["id"] == "efa-onboarding-xta"
            })
        });
        if on_a["data"]["definition"]["version"] == 1 && switched {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(on_a["data"]["definition"]["version"], 1, "{on_a}");
    let started = a.gql(Some(&admin), "mutation { startRollout(input: { serviceKey: \"wohngeld\", ars: \"120600000000\" }) { rollout { definition } } }", json!({}));
    assert_eq!(started["data"]["startRollout"]["rollout"]["definition"], "efa-onboarding-xta@1", "{started}");
}

/// `rollout serve --store URL` without `--data-dir`, in a working directory on a read-only
/// filesystem: the server writes nothing locally. Its first start prints the admin token once;
/// a second server on the same database prints none and serves the same log; a server stopped
/// with SIGTERM leaves its read models' checkpoint in the database and resumes from it; a
/// checkpoint with an altered chunk, or of another schema version, is rebuilt with the reason
/// logged.
#[test]
fn servers_on_postgresql_need_no_local_directory_and_resume_from_the_database() {
    let Some(url) = database() else {
        println!(
            "skipped: servers_on_postgresql_need_no_local_directory: ROLLOUT_TEST_DATABASE_URL is not set"
        );
        return;
    };
    let Some(readonly) = store::conformance::Tmpfs::mount("1m") else { return };
    let remounted = Command::new("mount")
        .args(["-o", "remount,ro"])
        .arg(readonly.path())
        .status()
        .is_ok_and(|s| s.success());
    assert!(remounted, "remount the tmpfs read-only");
    assert!(std::fs::write(readonly.path().join("probe"), b"x").is_err(), "the directory is read-only");
    let store = fresh_schema(&url);
    let (mut a, printed) = serve_without_directory(&store, readonly.path());
    let admin = printed.expect("the first start prints the admin token");
    assert!(admin.starts_with("efa_"), "a token: {admin}");
    a.admin = admin.clone();
    let (b, printed) = serve_without_directory(&store, readonly.path());
    assert_eq!(printed, None, "the second server found the tokens in the shared log");

    let started = a.gql(Some(&admin), "mutation { startRollout(input: { serviceKey: \"wohngeld\", ars: \"120540000000\" }) { rollout { version } } }", json!({}));
    assert_eq!(started["data"]["startRollout"]["rollout"]["version"], 1, "{started}");
    let comment = b.gql(
        Some(&admin),
        "mutation($i: RolloutCommandInput!) { addComment(input: $i) { rollout { version } } }",
        json!({ "i": { "rolloutId": "wohngeld:120540000000", "reason": "über B" } }),
    );
    assert_eq!(comment["data"]["addComment"]["rollout"]["version"], 2, "{comment}");
    let version_on = |server: &Server| {
        let mut seen = Value::Null;
        for _ in 0..100 {
            seen =
                server.gql(Some(&admin), "{ rollout(id: \"wohngeld:120540000000\") { version } }", json!({}));
            if seen["data"]["rollout"]["version"] == 2 {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        seen["data"]["rollout"]["version"].clone()
    };
    assert_eq!(version_on(&a), 2, "A sees what was written through B");

    // Stopped with SIGTERM, A writes its checkpoint to the database ...
    let pid = a.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().expect("kill").success());
    assert!(a.child.wait().expect("wait").success(), "{}", a.log());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let kept = rt.block_on(async {
        let pg =
            store_postgres::PgStore::open(store_postgres::PgConfig::new(store.clone())).await.expect("open");
        store::Blobs::get(&pg, &projections::checkpoint::blob_name()).await.expect("get")
    });
    assert!(kept.is_some_and(|k| !k.is_empty()), "the checkpoint is in the database");
    // `rollout rebuild --store URL` without a data directory writes it there, too.
    let rebuilt = Command::new(env!("CARGO_BIN_EXE_rollout"))
        .args(["rebuild", "--store", &store])
        .current_dir(readonly.path())
        .env_remove("ROLLOUT_DATA_DIR")
        .env_remove("ROLLOUT_STORE")
        .output()
        .expect("rebuild");
    let said = String::from_utf8_lossy(&rebuilt.stdout);
    assert!(rebuilt.status.success(), "{said} {}", String::from_utf8_lossy(&rebuilt.stderr));
    assert!(said.contains("in the database"), "{said}");
    // ... and a new server resumes from it, still without a local directory.
    let (again, printed) = serve_without_directory(&store, readonly.path());
    assert_eq!(printed, None);
    assert_eq!(version_on(&again), 2);
    assert!(again.log().contains("read models resume from their checkpoint"), "{}", again.log());
    assert!(
        std::fs::read_dir(readonly.path()).expect("list").next().is_none(),
        "nothing was written in the working directory"
    );
    drop(again);
    drop(b);

    // A server started now rebuilds, says `why`, and serves the log's state.
    let rebuilds_because = |why: &str| {
        let (server, _) = serve_without_directory(&store, readonly.path());
        assert_eq!(version_on(&server), 2);
        let log = server.log();
        assert!(log.contains("read models are rebuilt from the log") && log.contains(why), "{log}");
    };
    // One byte of a chunk altered in the table (damaged storage).
    let name = projections::checkpoint::blob_name();
    let altered = Command::new("psql")
        .args([&store, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c"])
        .arg(format!(
            "UPDATE efa_blobs SET bytes = set_byte(bytes, length(bytes) / 2, get_byte(bytes, length(bytes) / 2) # 32) \
             WHERE name = '{name}' AND chunk = 0"
        ))
        .status()
        .expect("psql");
    assert!(altered.success(), "alter the checkpoint's chunk");
    rebuilds_because("does not match its checksum");

    // A checkpoint of another schema version under this build's name is refused and rebuilt.
    rt.block_on(async {
        let pg =
            store_postgres::PgStore::open(store_postgres::PgConfig::new(store.clone())).await.expect("open");
        store::Blobs::put(&pg, &name, b"{\"schema\":3}\n{\"position\":1}").await.expect("put");
    });
    rebuilds_because("has schema version 3");
}

/// `rollout serve --store URL` in `cwd`, with no data directory; the server and the admin token
/// if it printed one. Its stderr goes to a file in a directory of the test's own.
fn serve_without_directory(store: &str, cwd: &std::path::Path) -> (Server, Option<String>) {
    use std::io::BufRead;
    let logs = tempfile::tempdir().expect("dir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_rollout"))
        .args(["serve", "--listen", "127.0.0.1:0", "--store", store])
        .current_dir(cwd)
        .env_remove("ROLLOUT_DATA_DIR")
        .env_remove("ROLLOUT_STORE")
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(logs.path().join("server.log")).expect("log file"))
        .spawn()
        .expect("start the server");
    let mut lines = std::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut token = None;
    let address = loop {
        let Some(Ok(line)) = lines.next() else {
            let log = std::fs::read_to_string(logs.path().join("server.log")).unwrap_or_default();
            panic!("the server ended before listening: {log}");
        };
        if line.starts_with("admin token (first start") {
            token = lines.next().and_then(Result::ok);
        }
        if let Some(a) = line.strip_prefix("listening on http://") {
            break a.to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    let server = Server {
        child,
        address,
        admin: String::new(),
        _dir: logs,
        store_args: vec!["--store".into(), store.into()],
    };
    (server, token)
}
