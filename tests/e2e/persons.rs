//! Personal data end to end, on the real binary: a person registered, named in evidence and
//! behind a token; erased — then no read path returns the values, no file of the data
//! directory (and no table of the PostgreSQL database) holds them, and the log verifies.
//! Export and import with and without the keys file; `store copy` takes the keys along.

use std::path::Path;

use serde_json::{json, Value};

use crate::support::{rollout, Server};

const ARS: &str = "120520000000";
const NAME: &str = "Gundula Löschprobe-Zett";
const EMAIL: &str = "gundula.loeschprobe@amt-e2e.example";
const PHONE: &str = "+49 3381 5550199";

fn register(server: &Server, token: &str, name: &str) -> String {
    let r = server.gql(
        Some(token),
        "mutation($i: RegisterPersonInput!) { registerPerson(input: $i) { id name } }",
        json!({ "i": { "ars": ARS, "name": name, "email": EMAIL, "phone": PHONE, "function": "IT-Koordination" } }),
    );
    r["data"]["registerPerson"]["id"].as_str().unwrap_or_else(|| panic!("{r}")).to_owned()
}

fn person(server: &Server, token: &str, id: &str) -> Value {
    let r = server.gql(
        Some(token),
        "query($id: ID!) { person(id: $id) { name email phone erased } }",
        json!({ "id": id }),
    );
    r["data"]["person"].clone()
}

/// Every value of personal data this test wrote, in the forms a file could hold it.
fn needles() -> Vec<Vec<u8>> {
    needles_of(&[NAME, EMAIL, PHONE, "Löschprobe"])
}

/// The bytes of `values` as files and tables may hold them (plain, and JSON-escaped).
pub(crate) fn needles_of(values: &[&str]) -> Vec<Vec<u8>> {
    let mut all = Vec::new();
    for v in values {
        all.push(v.as_bytes().to_vec());
        // JSON with escaped non-ASCII, as some writers produce it.
        all.push(
            serde_json::to_string(v).expect("json").trim_matches('"').replace('ö', "\\u00f6").into_bytes(),
        );
    }
    all
}

pub(crate) fn scan_dir(dir: &Path, needles: &[Vec<u8>], found: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            scan_dir(&path, needles, found);
            continue;
        }
        let bytes = std::fs::read(&path).unwrap_or_default();
        for needle in needles {
            if bytes.windows(needle.len()).any(|w| w == needle.as_slice()) {
                found.push(format!("{} holds {:?}", path.display(), String::from_utf8_lossy(needle)));
            }
        }
    }
}

/// Every row of every table of the database the server's URL selects, as text (bytea as hex).
pub(crate) fn scan_database(url: &str, needles: &[Vec<u8>], found: &mut Vec<String>) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.expect("connect");
        tokio::spawn(connection);
        let tables = client
            .query(
                "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema()",
                &[],
            )
            .await
            .expect("tables");
        assert!(tables.len() >= 5, "the store's tables are there");
        for t in tables {
            let table: String = t.get(0);
            let rows = client.query(&format!("SELECT t::text FROM {table} t"), &[]).await.expect("rows");
            for row in rows {
                let text: String = row.get(0);
                for needle in needles {
                    let hex: String = needle.iter().map(|b| format!("{b:02x}")).collect();
                    if text.as_bytes().windows(needle.len()).any(|w| w == needle.as_slice()) || text.contains(&hex) {
                        found.push(format!("table {table} holds {:?}", String::from_utf8_lossy(needle)));
                    }
                }
            }
        }
    });
}

pub(crate) fn store_url(server: &Server) -> Option<String> {
    (server.store_args[0] == "--store").then(|| server.store_args[1].clone())
}

#[test]
fn an_erased_person_is_gone_from_every_read_every_file_and_every_table() {
    let tmp = tempfile::tempdir().expect("dir");
    let dir = tmp.path().join("data");
    let server = Server::start_in(dir.clone());
    let admin = server.admin.clone();
    let id = register(&server, &admin, NAME);
    let issued = server.gql(
        Some(&admin),
        "mutation($i: IssueTokenInput!) { issueToken(input: $i) { token } }",
        json!({ "i": { "name": "Sachbearbeitung Bürgerservice", "role": "authority-staff", "authorities": [ARS], "personId": id, "reason": "Arbeitsplatz" } }),
    );
    let token =
        issued["data"]["issueToken"]["token"].as_str().unwrap_or_else(|| panic!("{issued}")).to_owned();
    let started = server.gql(
        Some(&admin),
        "mutation($i: StartRolloutInput!) { startRollout(input: $i) { rollout { id } } }",
        json!({ "i": { "serviceKey": "wohngeld", "ars": ARS } }),
    );
    assert!(started["errors"].is_null(), "{started}");
    // A restart between registration and erasure: the key is read back from the key store.
    let store_args = server.store_args.clone();
    let server = restart(server, &dir, &store_args);
    assert_eq!(person(&server, &token, &id)["email"], EMAIL, "the person's own token reads it");
    let completed = server.gql(
        Some(&token),
        "mutation($i: CompleteStepInput!) { completeStep(input: $i) { rollout { version } } }",
        json!({ "i": { "rolloutId": format!("wohngeld:{ARS}"), "stepId": "interesse", "evidence": { "datum": "2026-11-01", "kontakt": id } } }),
    );
    assert!(completed["errors"].is_null(), "{completed}");
    let steps = "query { rollout(id: \"wohngeld:120520000000\") { steps { id evidence completedAt completedBy { id name } } } }";
    // Read by the token that wrote (another token's query may run before the change is folded).
    let before = server.gql(Some(&token), steps, json!({}));
    assert_eq!(before["data"]["rollout"]["steps"][0]["completedBy"]["name"], NAME, "{before}");

    // The data protection officer's request.
    let erased = server.gql(
        Some(&admin),
        "mutation($i: ErasePersonInput!) { erasePerson(input: $i) { name email erased } }",
        json!({ "i": { "personId": id, "reason": "Antrag nach Art. 17 DSGVO vom 01.12.2026" } }),
    );
    assert_eq!(
        erased["data"]["erasePerson"],
        json!({ "name": "[gelöscht]", "email": null, "erased": true }),
        "{erased}"
    );
    let after = server.gql(Some(&admin), steps, json!({}));
    let step = &after["data"]["rollout"]["steps"][0];
    assert_eq!(step["completedBy"]["name"], "[gelöscht]");
    assert_eq!(
        step["completedBy"]["id"], before["data"]["rollout"]["steps"][0]["completedBy"]["id"],
        "which token, still"
    );
    assert_eq!(step["completedAt"], before["data"]["rollout"]["steps"][0]["completedAt"], "when, still");
    assert_eq!(step["evidence"]["kontakt"], json!(id));
    // Every read path: the history, the audit log, the subscription's catch-up.
    let history = server.gql(
        Some(&admin),
        "query { rollout(id: \"wohngeld:120520000000\") { history { event { type actor { name } data } } } }
         events(first: 500) { edges { node { type actor { name } data } } } }",
        json!({}),
    );
    let mut ws = crate::support::subscribe(
        &server,
        Some(&admin),
        "subscription { events(filter: { rolloutId: \"wohngeld:120520000000\" }) { type actor { name } data } }",
    );
    let mut live = String::new();
    while !live.contains("StepCompleted") {
        let m = crate::support::next_message(&mut ws).expect("the rollout's events");
        live.push_str(&m.to_string());
    }
    assert!(live.contains("[gelöscht]"), "the feed names the erased actor so: {live}");
    let reads = format!("{history}{live}{}", person(&server, &admin, &id));
    for needle in needles() {
        let needle = String::from_utf8_lossy(&needle).into_owned();
        assert!(!reads.contains(&needle), "a read returned {needle}");
    }
    assert!(reads.contains("[gelöscht]"));
    // The dashboard reads through the same GraphQL API; the files: after a clean stop the
    // checkpoint is rewritten and sled's index checkpointed.
    let url = store_url(&server);
    drop_gracefully(server);
    let mut found = Vec::new();
    scan_dir(&dir, &needles(), &mut found);
    if let Some(url) = &url {
        scan_database(url, &needles(), &mut found);
    }
    assert!(found.is_empty(), "plaintext left: {found:#?}");
    let verify = rollout(
        &[&["verify"], store_args.iter().map(String::as_str).collect::<Vec<_>>().as_slice()].concat(),
    );
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stderr));
    let export = rollout(
        &[&["export"], store_args.iter().map(String::as_str).collect::<Vec<_>>().as_slice()].concat(),
    );
    assert!(export.status.success());
    let text = String::from_utf8_lossy(&export.stdout);
    assert!(text.contains("PersonErased") && !text.contains(NAME) && !text.contains(EMAIL));
}

/// Stops the server with SIGTERM (it writes its checkpoint) and waits for it.
fn drop_gracefully(mut server: Server) {
    let pid = server.child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().expect("kill").success());
    let status = server.child.wait().expect("wait");
    assert!(status.success(), "the server stopped cleanly: {status}");
}

fn restart(server: Server, dir: &Path, store_args: &[String]) -> Server {
    drop_gracefully(server);
    let extra: Vec<&str> =
        if store_args[0] == "--store" { store_args.iter().map(String::as_str).collect() } else { vec![] };
    let again = Server::spawn_with(dir, tempfile::tempdir().expect("dir"), &extra);
    assert!(!again.admin.is_empty(), "the admin token is kept");
    again
}

/// A store with one readable person and one erased, written by a server that then stops.
fn store_with_persons(dir: &Path) -> (String, String) {
    // The embedded store, also when the other tests run on PostgreSQL: this one exports a
    // data directory.
    run_ok(&["catalog", "import", "--data-dir", dir.to_str().expect("path")]);
    let server = Server::start_in(dir.to_owned());
    let admin = server.admin.clone();
    let kept = register(&server, &admin, NAME);
    let gone = register(&server, &admin, "Hinnerk Gelöscht");
    let erased = server.gql(
        Some(&admin),
        "mutation($i: ErasePersonInput!) { erasePerson(input: $i) { erased } }",
        json!({ "i": { "personId": gone, "reason": "Ausgeschieden" } }),
    );
    assert_eq!(erased["data"]["erasePerson"]["erased"], true, "{erased}");
    drop_gracefully(server);
    (kept, gone)
}

/// An admin token of the store in `dir` (an imported log keeps the source's tokens, whose
/// secrets stayed with the source).
fn admin_token(dir: &Path) -> String {
    let said = run_ok(&[
        "token",
        "create",
        "--data-dir",
        dir.to_str().expect("path"),
        "--name",
        "Prüfung",
        "--role",
        "admin",
    ]);
    said.lines().find(|l| l.starts_with("efa_")).unwrap_or_else(|| panic!("{said}")).trim().to_owned()
}

fn run_ok(args: &[&str]) -> String {
    let out = rollout(args);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[test]
fn exports_carry_ciphertext_and_the_keys_file_opens_it_again() {
    use std::os::unix::fs::PermissionsExt as _;
    let tmp = tempfile::tempdir().expect("dir");
    let source = tmp.path().join("source");
    let (kept, gone) = store_with_persons(&source);
    let source_args = || ["--data-dir", source.to_str().expect("path")];
    let (log, keys) = (tmp.path().join("log.ndjson"), tmp.path().join("keys.txt"));
    let said = run_ok(
        &[
            &["export"],
            &source_args()[..],
            &["--out", log.to_str().expect("path"), "--keys", keys.to_str().expect("path")],
        ]
        .concat(),
    );
    assert!(said.contains("wrote the keys of 1 persons"), "the erased person's key is gone: {said}");
    assert_eq!(std::fs::metadata(&keys).expect("keys").permissions().mode() & 0o777, 0o600);
    let exported = std::fs::read_to_string(&log).expect("log");
    assert!(!exported.contains(NAME) && !exported.contains(EMAIL) && exported.contains("PersonRegistered"));
    assert!(!std::fs::read_to_string(&keys).expect("keys").contains(&gone));

    // Imported without the keys: the values are unavailable, and the import says so.
    let bare = tmp.path().join("bare");
    let said = run_ok(&["import", "--data-dir", bare.to_str().expect("path"), log.to_str().expect("path")]);
    assert!(
        said.contains(
            "names 1 persons not erased; without their keys (--keys) their values read as [nicht verfügbar]"
        ),
        "{said}"
    );
    let admin = admin_token(&bare);
    let server = Server::start_in(bare.clone());
    assert_eq!(
        person(&server, &admin, &kept),
        json!({ "name": "[nicht verfügbar]", "email": null, "phone": null, "erased": false })
    );
    assert_eq!(person(&server, &admin, &gone)["name"], "[gelöscht]");
    drop(server);

    // With the keys: readable again (the erased person stays erased).
    let keyed = tmp.path().join("keyed");
    let said = run_ok(&[
        "import",
        "--data-dir",
        keyed.to_str().expect("path"),
        log.to_str().expect("path"),
        "--keys",
        keys.to_str().expect("path"),
    ]);
    assert!(said.contains("imported the keys of 1 persons"), "{said}");
    let admin = admin_token(&keyed);
    let server = Server::start_in(keyed);
    assert_eq!(person(&server, &admin, &kept)["email"], EMAIL);
    assert_eq!(person(&server, &admin, &gone)["name"], "[gelöscht]");
    drop(server);

    // A keys file with a bad line is refused before anything is written, naming the line.
    std::fs::write(&keys, format!("{kept} nicht-hex\n")).expect("write");
    let out = rollout(&[
        "import",
        "--data-dir",
        tmp.path().join("refused").to_str().expect("path"),
        log.to_str().expect("path"),
        "--keys",
        keys.to_str().expect("path"),
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("keys.txt:1:"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!tmp.path().join("refused").join("log").exists(), "nothing was written");

    // `store copy` to PostgreSQL takes the keys along.
    let Ok(url) = std::env::var("ROLLOUT_TEST_DATABASE_URL") else {
        println!("skipped: the copy to PostgreSQL: ROLLOUT_TEST_DATABASE_URL is not set");
        return;
    };
    let pg = crate::postgres::fresh_schema(&url);
    let said = run_ok(&["store", "copy", "--from", source.to_str().expect("path"), "--to", &pg]);
    assert!(said.contains("and 1 persons' keys"), "{said}");
    let admin = run_ok(&["token", "create", "--store", &pg, "--name", "Prüfung", "--role", "admin"]);
    let admin =
        admin.lines().find(|l| l.starts_with("efa_")).unwrap_or_else(|| panic!("{admin}")).trim().to_owned();
    let server = Server::start_on(&tmp.path().join("pg-local"), &pg);
    assert_eq!(person(&server, &admin, &kept)["email"], EMAIL);
    assert_eq!(person(&server, &admin, &gone)["name"], "[gelöscht]");
}

/// A store written the way earlier builds wrote it: the contact "Herr Otto Altkontakt" as
/// text evidence (efa-onboarding@3) and the actor "Anna Altbestand" by display name.
fn old_store(dir: &Path) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let store: std::sync::Arc<dyn store::EventStore> =
            std::sync::Arc::new(store_sled::SledStore::open(store_sled::SledConfig::new(dir)).expect("open"));
        let registry = std::sync::Arc::new(engine::definitions::bundled().expect("bundled"));
        let engine = engine::Engine::open(store, registry).await.expect("engine");
        let anna = engine::Invocation::new(workflow::decide::Principal {
            actor: store::Actor::named("person:anna", "Anna Altbestand", store::ActorKind::Person),
            roles: vec![workflow::definition::Role::AuthorityStaff],
            admin: true,
        });
        let data = catalog::parse_dataset(&catalog::profile::bundled_files()).expect("data");
        engine.import_catalog(&data, &anna, |_, _| {}).await.expect("catalogue");
        let text_contacts = catalog::DefinitionRef::new("efa-onboarding", 3);
        engine.start_rollout("wohngeld", ARS, Some(&text_contacts), &anna).await.expect("start");
        let evidence = [("datum", json!("2024-03-01")), ("kontakt", json!("Herr Otto Altkontakt"))]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        let command =
            workflow::decide::Command::CompleteStep { step: "interesse".into(), evidence, comment: None };
        engine.execute("wohngeld", ARS, command, &anna).await.expect("complete");
    });
}

/// A store written the way earlier builds wrote it (a contact's name as text evidence, an actor
/// by display name): `rollout personal-data find` names each place, never the value, and
/// changes nothing.
#[test]
fn personal_data_find_lists_older_plain_text_without_printing_it() {
    let tmp = tempfile::tempdir().expect("dir");
    let dir = tmp.path().join("old");
    old_store(&dir);
    let before = rollout(&["export", "--data-dir", dir.to_str().expect("path")]).stdout;
    let out = rollout(&["personal-data", "find", "--data-dir", dir.to_str().expect("path")]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let listed = String::from_utf8_lossy(&out.stdout);
    let line = listed
        .lines()
        .find(|l| l.contains("evidence interesse.kontakt"))
        .unwrap_or_else(|| panic!("the contact is found: {listed}"));
    assert!(line.contains(&format!("rollout-wohngeld:{ARS}\tStepCompleted\t")), "{line}");
    assert!(line.contains("Ansprechperson der Verwaltung, text"), "{line}");
    assert!(listed.contains("the display name of actor person:anna (and in"), "{listed}");
    assert!(
        !listed.contains("Altkontakt") && !listed.contains("Anna Altbestand"),
        "no value is printed: {listed}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("places of personal data in plain text"));
    let after = rollout(&["export", "--data-dir", dir.to_str().expect("path")]).stdout;
    assert_eq!(before, after, "nothing changed");
}

/// `rollout serve --person-retention P2Y` erases, at start, the person who left longer ago,
/// and keeps the one who left yesterday.
#[test]
fn the_servers_retention_policy_erases_who_left_long_enough_ago() {
    let tmp = tempfile::tempdir().expect("dir");
    let dir = tmp.path().join("data");
    let server = Server::start_in(dir.clone());
    let admin = server.admin.clone();
    let store_args = server.store_args.clone();
    let (old, recent) =
        (register(&server, &admin, "Ausgeschieden Früh"), register(&server, &admin, "Ausgeschieden Spät"));
    let yesterday =
        std::process::Command::new("date").args(["-u", "-d", "yesterday", "+%F"]).output().expect("date");
    let yesterday = String::from_utf8_lossy(&yesterday.stdout).trim().to_owned();
    for (id, day) in [(&old, "2020-03-31"), (&recent, yesterday.as_str())] {
        let r = server.gql(
            Some(&admin),
            "mutation($i: RecordPersonLeftInput!) { recordPersonLeft(input: $i) { leftOn } }",
            json!({ "i": { "personId": id, "leftOn": day, "reason": "Wechsel der Dienststelle" } }),
        );
        assert_eq!(r["data"]["recordPersonLeft"]["leftOn"], day, "{r}");
    }
    drop_gracefully(server);
    let mut extra: Vec<&str> =
        if store_args[0] == "--store" { store_args.iter().map(String::as_str).collect() } else { vec![] };
    extra.extend(["--person-retention", "P2Y"]);
    let server = Server::spawn_with(&dir, tempfile::tempdir().expect("dir"), &extra);
    let mut seen = Value::Null;
    for _ in 0..100 {
        seen = person(&server, &admin, &old);
        if seen["erased"] == true {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(seen["name"], "[gelöscht]", "{seen}");
    assert_eq!(person(&server, &admin, &recent)["erased"], false);
    let reason = server.gql(
        Some(&admin),
        "query($id: ID!) { person(id: $id) { erasureReason } }",
        json!({ "id": old }),
    );
    assert!(
        reason["data"]["person"]["erasureReason"].as_str().unwrap_or_default().contains("P2Y"),
        "{reason}"
    );
}

/// `store copy --re-key` of an older store: a new chain that verifies, whose first event names
/// the source's head; the contact and the actor are persons there (readable, then erasable),
/// the token's name is a person too; no file of the copy holds the plain text; the source is
/// unchanged; `personal-data find` on the copy finds neither.
#[test]
fn a_re_keyed_copy_moves_plain_text_into_persons_and_links_to_the_source() {
    let tmp = tempfile::tempdir().expect("dir");
    let (old, copy) = (tmp.path().join("old"), tmp.path().join("copy"));
    old_store(&old);
    let old_arg = old.to_str().expect("path");
    run_ok(&[
        "token",
        "create",
        "--data-dir",
        old_arg,
        "--name",
        "Paula Tokenname",
        "--role",
        "project-manager",
    ]);
    let before = rollout(&["export", "--data-dir", old_arg]).stdout;
    let source_verified = run_ok(&["verify", "--data-dir", old_arg]);
    let source_hash = source_verified.split("head hash ").nth(1).expect("hash").trim().to_owned();
    let source_events = serde_json::Deserializer::from_slice(&before).into_iter::<Value>().count();

    let said =
        run_ok(&["store", "copy", "--from", old_arg, "--to", copy.to_str().expect("path"), "--re-key"]);
    assert!(said.contains("re-keyed: 4 persons registered, 1 evidence values moved"), "{said}");
    assert_eq!(rollout(&["export", "--data-dir", old_arg]).stdout, before, "the source is unchanged");
    let copy_arg = copy.to_str().expect("path");
    assert!(run_ok(&["verify", "--data-dir", copy_arg]).contains("ok: "));

    let exported = rollout(&["export", "--data-dir", copy_arg]).stdout;
    let events: Vec<Value> = serde_json::Deserializer::from_slice(&exported)
        .into_iter::<Value>()
        .map(|v| v.expect("json"))
        .collect();
    assert_eq!(events[0]["type"], "StoreCopied");
    assert_eq!(events[0]["data"]["sourceHeadPosition"], source_events as u64, "{}", events[0]);
    assert_eq!(events[0]["data"]["sourceHeadHash"], source_hash.as_str());
    assert_eq!(
        events.len(),
        source_events + 1 + 4,
        "the source's events, StoreCopied, four registrations (Anna, the command line, Paula, the contact)"
    );

    let found = run_ok(&["personal-data", "find", "--data-dir", copy_arg]);
    assert!(!found.contains("evidence interesse.kontakt"), "{found}");
    assert!(!found.contains("the display name of actor"), "{found}");

    let admin = admin_token(&copy);
    let server = Server::start_in(copy.clone());
    let r = server.gql(
        Some(&admin),
        &format!(
            "{{ rollout(id: \"wohngeld:{ARS}\") {{ steps {{ id evidence completedBy {{ name }} }} }} \
             definition(id: \"efa-onboarding\", version: 3) {{ phases {{ steps {{ id evidence {{ id type }} }} }} }} }}"
        ),
        json!({}),
    );
    let step = r["data"]["rollout"]["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["id"] == "interesse")
        .cloned();
    let step = step.unwrap_or_else(|| panic!("{r}"));
    assert_eq!(step["completedBy"]["name"], "Anna Altbestand", "the actor's name is read from the person");
    let contact = step["evidence"]["kontakt"].as_str().expect("a person id").to_owned();
    assert_eq!(person(&server, &admin, &contact)["name"], "Herr Otto Altkontakt");
    let kontakt_type = r["data"]["definition"]["phases"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|p| p["steps"].as_array().cloned().unwrap_or_default())
        .filter(|s| s["id"] == "interesse")
        .flat_map(|s| s["evidence"].as_array().cloned().unwrap_or_default())
        .find(|f| f["id"] == "kontakt")
        .map(|f| f["type"].clone());
    assert_eq!(kontakt_type, Some(json!("person")), "in the copy the field holds persons: {r}");
    let erased = server.gql(
        Some(&admin),
        "mutation($i: ErasePersonInput!) { erasePerson(input: $i) { name erased } }",
        json!({ "i": { "personId": contact, "reason": "Antrag nach Art. 17 DSGVO" } }),
    );
    assert_eq!(erased["data"]["erasePerson"]["name"], "[gelöscht]", "{erased}");
    drop_gracefully(server);
    assert!(run_ok(&["verify", "--data-dir", copy_arg]).contains("ok: "));

    let mut left = Vec::new();
    for entry in walk(&copy) {
        let bytes = std::fs::read(&entry).unwrap_or_default();
        for needle in ["Herr Otto Altkontakt", "Anna Altbestand", "Paula Tokenname"] {
            if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                left.push(format!("{} holds {needle}", entry.display()));
            }
        }
    }
    assert!(left.is_empty(), "plain text in the copy: {left:#?}");
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            all.extend(walk(&path));
        } else {
            all.push(path);
        }
    }
    all
}
