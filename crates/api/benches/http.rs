//! The API under load, on this machine: 64 concurrent HTTP/1.1 keep-alive clients sending
//! `completeStep` (durable), `rollout(id)` queries and `progress` queries, beside `GET /healthz`
//! as the baseline of the HTTP stack in the same run. Server and load generator share the
//! 2 cores. `cargo bench -p api --bench http`. Results: BENCHMARKS.md.
//!
//! From outside: `BENCH_SERVER=127.0.0.1:8080 BENCH_TOKEN=… cargo bench -p api --bench http`
//! is only the load generator, a process of its own, against a running `rollout serve` on a
//! fresh store: it starts the municipal EfA services through the API, then measures
//! `{ __typename }` (the HTTP and GraphQL baseline), `completeStep` on distinct rollouts and
//! `addComment` round robin. `BENCH_SERVER_PID=<pid>` adds the server's CPU time per request.
//! `BENCH_SERVER=a,b`: several servers on one database, the 64 clients spread over them (the
//! setup goes through the first).

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod support {
    pub mod client;
}

use std::sync::Arc;
use std::time::{Duration, Instant};

use store::EventStore;
use store_sled::{SledConfig, SledStore};
use support::client::{gql, pct, post_head, Client};

const CLIENTS: usize = 64;

/// Runs `per_client` requests on each of 64 clients; `body(client, i)` makes each request.
async fn load(
    address: &str,
    token: &str,
    per_client: usize,
    body: impl Fn(usize, usize) -> Option<String> + Send + Sync + 'static,
    get: Option<&'static str>,
) -> (f64, Duration, Duration, usize, String) {
    let body = Arc::new(body);
    let cpu_before = server_cpu();
    let start = Instant::now();
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (address, token, body) = (address.to_owned(), token.to_owned(), body.clone());
            tokio::spawn(async move {
                // Several servers (`BENCH_SERVER=a,b`): the clients are spread over them.
                let servers: Vec<&str> = address.split(',').collect();
                let mut client = Client::connect(servers[c % servers.len()]).await;
                let mut latencies = Vec::with_capacity(per_client);
                let mut errors = 0;
                for i in 0..per_client {
                    let t = Instant::now();
                    let (status, response) = match get {
                        Some(path) => {
                            client
                                .request(&format!("GET {path} HTTP/1.1\r\nHost: {address}\r\n\r\n"), b"")
                                .await
                        }
                        None => {
                            let Some(b) = body(c, i) else { break };
                            client.request(&post_head(&address, &token, b.len()), b.as_bytes()).await
                        }
                    };
                    latencies.push(t.elapsed());
                    if status != 200 || response.windows(9).any(|w| w == b"\"errors\":") {
                        if errors == 0 {
                            eprintln!(
                                "client {c}, first error: {status} {}",
                                String::from_utf8_lossy(&response)
                            );
                        }
                        errors += 1;
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.expect("client");
        all.extend(l);
        errors += e;
    }
    let rate = all.len() as f64 / start.elapsed().as_secs_f64();
    all.sort();
    // The server's CPU time per request (user + system), when its process id is given.
    let cpu = match (cpu_before, server_cpu()) {
        (Some(a), Some(b)) => format!("  server CPU {:>4.0} µs/request", (b - a) * 1e6 / all.len() as f64),
        _ => String::new(),
    };
    (rate, pct(&all, 0.5), pct(&all, 0.99), errors, cpu)
}

/// The CPU time the server process has used, in seconds, if `BENCH_SERVER_PID` names it
/// (from `/proc/<pid>/stat`, in clock ticks of 10 ms: measure phases of seconds).
fn server_cpu() -> Option<f64> {
    let pid = std::env::var("BENCH_SERVER_PID").ok()?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the command name in parentheses: state is field 3, utime 14, stime 15.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    let hz = rustix::param::clock_ticks_per_second() as f64;
    Some(ticks / hz)
}

/// `completeStep` of `interesse` on distinct rollouts of `ids` (up to 60 per client), printed;
/// `kontakt` is the contact: a registered person's id (efa-onboarding@4) or a text (@3).
async fn complete_steps(address: &str, token: &str, ids: &Arc<Vec<String>>, kontakt: &str, what: &str) {
    let per_client = (ids.len() / CLIENTS).min(60);
    let ids = ids.clone();
    let kontakt = kontakt.to_owned();
    let (rate, p50, p99, errors, cpu) = load(address, token, per_client, move |c, i| {
        let id = &ids[c * per_client + i];
        Some(serde_json::json!({
            "query": "mutation($i: CompleteStepInput!) { completeStep(input: $i) { rollout { version } } }",
            "variables": { "i": { "rolloutId": id, "stepId": "interesse", "evidence": { "datum": "2026-11-01", "kontakt": kontakt } } }
        }).to_string())
    }, None).await;
    println!("completeStep {what:<15}: {rate:>8.0} req/s  p50 {p50:>10.3?}  p99 {p99:>10.3?}  errors {errors}{cpu}");
}

/// Registers a contact person through the API; its id (`None` from a build without persons,
/// measured as a baseline).
async fn register_contact(client: &mut Client, address: &str, token: &str) -> Option<String> {
    let r = gql(
        client,
        address,
        token,
        "mutation { registerPerson(input: { ars: \"120540000000\", name: \"Frau Last\", email: \"last@verwaltung.example\" }) { id } }",
        serde_json::json!({}),
    )
    .await;
    r["data"]["registerPerson"]["id"].as_str().map(String::from)
}

/// Issues a token through the API; its secret.
async fn issue(client: &mut Client, address: &str, token: &str, role: &str, authorities: &[&str]) -> String {
    let r = gql(
        client,
        address,
        token,
        "mutation($i: IssueTokenInput!) { issueToken(input: $i) { token } }",
        serde_json::json!({ "i": { "name": format!("bench {role}"), "role": role, "authorities": authorities, "reason": "Messung" } }),
    )
    .await;
    r["data"]["issueToken"]["token"].as_str().unwrap_or_else(|| panic!("{r}")).to_owned()
}

/// Tasks, the programme report and a list download (issue 21), each beside its baseline in
/// the same run: progress without and with the report's figures; tasks of a staff token, of a
/// project manager for one Landkreis, of an admin over every rollout; the report and the
/// rollouts list as XLSX, one request at a time.
async fn work_for_people(client: &mut Client, address: &str, token: &str) {
    let staff = issue(client, address, token, "authority-staff", &["120600020020"]).await;
    let pm = issue(client, address, token, "project-manager", &[]).await;
    let progress = |fields: &'static str| {
        move |_: usize, _: usize| {
            Some(format!("{{\"query\":\"{{ progress(groupBy: LANDKREIS) {{ {fields} }} }}\"}}"))
        }
    };
    for (label, fields) in [
        ("progress (counts)          ", "key rollouts percentDone byPhaseStatus { phase status count }"),
        (
            "progress (+ report figures)",
            "key rollouts percentDone byPhaseStatus { phase status count } inOperation blocked overdue",
        ),
    ] {
        let (rate, p50, p99, errors, cpu) = load(address, token, 100, progress(fields), None).await;
        println!("{label}: {rate:>8.0} req/s  p50 {p50:>10.3?}  p99 {p99:>10.3?}  errors {errors}{cpu}");
    }
    let tasks = |filter: &'static str| {
        move |_: usize, _: usize| {
            Some(format!("{{\"query\":\"{{ tasks({filter}first: 50) {{ totalCount overdueCount edges {{ node {{ id dueAt readyBecause actions }} }} }} }}\"}}"))
        }
    };
    for (label, who, filter, per) in [
        ("tasks, staff (Bernau bei Berlin)", &staff, "", 100),
        ("tasks, manager, one Landkreis  ", &pm, "filter: { landkreisArs: \\\"120640000000\\\" }, ", 50),
        ("tasks, admin, every rollout    ", &token.to_owned(), "", 5),
    ] {
        let (rate, p50, p99, errors, cpu) = load(address, who, per, tasks(filter), None).await;
        println!("{label}: {rate:>8.0} req/s  p50 {p50:>10.3?}  p99 {p99:>10.3?}  errors {errors}{cpu}");
    }
    for (label, path, n) in [
        ("GET /reports/programme.xlsx (one at a time)", "/reports/programme.xlsx", 5),
        ("GET /reports/programme.xlsx?since=1        ", "/reports/programme.xlsx?since=1", 3),
        ("GET /exports/rollouts.xlsx (every rollout) ", "/exports/rollouts.xlsx", 3),
    ] {
        let mut times = Vec::new();
        let mut bytes = 0;
        for _ in 0..n {
            let t = Instant::now();
            let (status, body) = client
                .request(
                    &format!(
                        "GET {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n\r\n"
                    ),
                    b"",
                )
                .await;
            times.push(t.elapsed());
            assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
            bytes = body.len();
        }
        times.sort();
        println!(
            "{label}: median {:>10.3?}  max {:>10.3?}  {bytes} bytes",
            pct(&times, 0.5),
            pct(&times, 1.0)
        );
    }
}

/// The load generator alone, against the server at `address`.
async fn external(address: String, token: String) {
    let mut client = Client::connect(address.split(',').next().unwrap_or(&address)).await;
    let services = gql(
        &mut client,
        &address,
        &token,
        "{ services(filter: { program: EFA }, first: 200) { edges { node { key responsibleLevel } } } }",
        serde_json::json!({}),
    )
    .await;
    let keys: Vec<String> = services["data"]["services"]["edges"]
        .as_array()
        .expect("services")
        .iter()
        .filter(|e| e["node"]["responsibleLevel"] == "gemeinde_amt")
        .filter_map(|e| e["node"]["key"].as_str().map(String::from))
        .collect();
    let setup = Instant::now();
    // Every other service on the definition before persons (a text contact), for the cost of
    // the person field in the same run.
    for key in keys.iter().step_by(2) {
        let r = gql(
            &mut client,
            &address,
            &token,
            "mutation($s: String!) { setServiceDefinition(input: { serviceKey: $s, definitionId: \"efa-onboarding\", version: 3, level: AUTHORITY, reason: \"Vergleich\" }) { key } }",
            serde_json::json!({ "s": key }),
        )
        .await;
        assert!(r["errors"].is_null(), "{r}");
    }
    let kontakt = register_contact(&mut client, &address, &token).await;
    for key in &keys {
        let r = gql(
            &mut client,
            &address,
            &token,
            "mutation($s: String!) { startServiceRollout(serviceKey: $s) { existing } }",
            serde_json::json!({ "s": key }),
        )
        .await;
        assert!(r["errors"].is_null(), "{r}");
    }
    let (mut ids, mut text_ids) = (Vec::new(), Vec::new());
    let mut after: Option<String> = None;
    loop {
        let page = gql(&mut client, &address, &token, "query($a: String) { rollouts(first: 500, after: $a) { edges { node { id definition steps { id status } } } pageInfo { hasNextPage endCursor } } }", serde_json::json!({ "a": after })).await;
        let conn = &page["data"]["rollouts"];
        for e in conn["edges"].as_array().expect("edges") {
            let ready = e["node"]["steps"]
                .as_array()
                .is_some_and(|s| s.iter().any(|s| s["id"] == "interesse" && s["status"] == "ready"));
            if ready {
                let id = e["node"]["id"].as_str().expect("id").to_owned();
                if e["node"]["definition"] == "efa-onboarding@3" {
                    text_ids.push(id);
                } else {
                    ids.push(id);
                }
            }
        }
        if conn["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = conn["pageInfo"]["endCursor"].as_str().map(String::from);
    }
    println!(
        "{} + {} rollouts ready for `interesse` (person / text contact), set up through the API in {:?}",
        ids.len(),
        text_ids.len(),
        setup.elapsed()
    );
    println!("\n## from a separate process: 64 concurrent clients, HTTP/1.1 keep-alive, over loopback");
    let typename = || Some("{\"query\":\"{ __typename }\"}".to_owned());
    let (rate, p50, p99, errors, cpu) = load(&address, &token, 500, move |_, _| typename(), None).await;
    println!("{{ __typename }} (baseline)  : {rate:>8.0} req/s  p50 {p50:>10.3?}  p99 {p99:>10.3?}  errors {errors}{cpu}");
    let ids = Arc::new(ids);
    complete_steps(&address, &token, &Arc::new(text_ids), "Frau Last", "(text @3)").await;
    let Some(kontakt) = kontakt else {
        println!("(a server without persons: its rollouts are all on @3)");
        return;
    };
    complete_steps(&address, &token, &ids, &kontakt, "(person @4)").await;
    let comment_ids = ids.clone();
    let (rate, p50, p99, errors, cpu) = load(
        &address,
        &token,
        100,
        move |c, i| {
            let id = &comment_ids[(c * 100 + i) % comment_ids.len()];
            Some(serde_json::json!({
            "query": "mutation($i: RolloutCommandInput!) { addComment(input: $i) { rollout { version } } }",
            "variables": { "i": { "rolloutId": id, "reason": format!("Last {c}/{i}") } }
        }).to_string())
        },
        None,
    )
    .await;
    println!("addComment round robin      : {rate:>8.0} req/s  p50 {p50:>10.3?}  p99 {p99:>10.3?}  errors {errors}{cpu}");
    work_for_people(&mut client, &address, &token).await;

    // Long-lived rollouts: `BENCH_LONG_HISTORY` (2,000) comments on each of 64 rollouts, then
    // `reopenStep` / `completeStep` pairs on them beside the same on 64 rollouts with a few events.
    let history: usize =
        std::env::var("BENCH_LONG_HISTORY").ok().and_then(|v| v.parse().ok()).unwrap_or(2000);
    if history == 0 || ids.len() < 2 * CLIENTS {
        return;
    }
    let long = Arc::new(ids[..CLIENTS].to_vec());
    let short = Arc::new(ids[CLIENTS..2 * CLIENTS].to_vec());
    let setup = Instant::now();
    let on = long.clone();
    let (_, _, _, errors, _) = load(
        &address,
        &token,
        history,
        move |c, i| {
            Some(serde_json::json!({
            "query": "mutation($i: RolloutCommandInput!) { addComment(input: $i) { rollout { version } } }",
            "variables": { "i": { "rolloutId": on[c], "reason": format!("Zwischenstand {i}") } }
        }).to_string())
        },
        None,
    )
    .await;
    assert_eq!(errors, 0, "setting up the long rollouts");
    println!(
        "\n{CLIENTS} rollouts with {history} more events each, through the API in {:.1?}",
        setup.elapsed()
    );
    let pairs = |rollouts: Arc<Vec<String>>| {
        let kontakt = kontakt.clone();
        move |c: usize, i: usize| {
            let reopen = i.is_multiple_of(2);
            let (mutation, input) = if reopen {
                ("reopenStep", "StepCommandInput")
            } else {
                ("completeStep", "CompleteStepInput")
            };
            let mut variables = serde_json::json!({ "rolloutId": rollouts[c], "stepId": "interesse" });
            if reopen {
                variables["reason"] = "Korrektur".into();
            } else {
                variables["evidence"] = serde_json::json!({ "datum": "2026-11-01", "kontakt": kontakt });
            }
            Some(serde_json::json!({
                "query": format!("mutation($i: {input}!) {{ {mutation}(input: $i) {{ rollout {{ version }} }} }}"),
                "variables": { "i": variables }
            }).to_string())
        }
    };
    // `BENCH_PAIRS`: requests per client (200), more for a profile of the request path.
    let per_client: usize = std::env::var("BENCH_PAIRS").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
    for (what, rollouts) in [("short (a few events)", short), ("long-lived", long)] {
        let (rate, p50, p99, errors, cpu) = load(&address, &token, per_client, pairs(rollouts), None).await;
        println!("reopenStep/completeStep, {what:<21}: {rate:>8.0} req/s  p50 {p50:>10.3?}  p99 {p99:>10.3?}  errors {errors}{cpu}");
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    if let (Ok(address), Ok(token)) = (std::env::var("BENCH_SERVER"), std::env::var("BENCH_TOKEN")) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(external(address, token));
        return;
    }
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async {
        let dir = tempfile::tempdir().expect("dir");
        let store: Arc<dyn EventStore> = Arc::new(SledStore::open(SledConfig::new(dir.path())).expect("store"));
        let registry = Arc::new(engine::definitions::bundled().expect("bundled"));
        let engine = Arc::new(engine::Engine::open(store.clone(), registry.clone()).await.expect("engine"));
        let admin = engine::Invocation::system();
        let data = catalog::parse_dataset(&catalog::profile::bundled_files()).expect("data");
        engine.import_catalog(&data, &admin, |_, _| {}).await.expect("import");
        // Rollouts for every municipal EfA service (the form server's assistants run another
        // definition), at the administrations each applies to.
        let services: Vec<String> = engine
            .catalog()
            .services
            .values()
            .filter(|s| s.service.responsible_level == catalog::Level::GemeindeAmt)
            .filter(|s| s.service.program == catalog::Program::Efa)
            .map(|s| s.service.key.clone())
            .collect();
        let setup = Instant::now();
        for s in &services {
            engine.start_service(s, &admin).await.expect("start");
        }
        let arss: Vec<String> = engine
            .catalog()
            .active_authorities()
            .filter(|a| a.kind != catalog::AuthorityKind::Land && a.kind != catalog::AuthorityKind::Landkreis)
            .map(|a| a.ars.clone())
            .collect();
        // Only the rollouts that exist (a service applies to some of the administrations).
        let mut rollouts: Vec<String> = Vec::new();
        for s in &services {
            for a in &arss {
                if engine.load(s, a).await.expect("load").is_some() {
                    rollouts.push(format!("{s}:{a}"));
                }
            }
        }
        println!("{} rollouts set up in {:?}", rollouts.len(), setup.elapsed());
        let spec = engine::TokenSpec {
            name: "bench".into(),
            role: engine::TokenRole::Admin,
            authorities: vec![],
            services: vec![],
            person: None,
            reason: "Messung".into(),
        };
        let token = engine.issue_token(spec, &admin).await.expect("token").secret;
        let kontakt = {
            let details = engine::PersonDetails { name: "Frau Last".into(), ..Default::default() };
            engine.register_person("120540000000", details, &admin).await.expect("contact").id.to_string()
        };
        let (projector, _) = projections::Projector::start(store.clone(), registry, None).await.expect("projector");
        let tokens = engine.tokens().clone();
        let state = api::ApiState::new(engine, projector.clone());
        let schema = api::schema::build(state.clone());
        let router = api::server::router(schema, &state, tokens, store.clone(), Arc::new(|| None));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address").to_string();
        tokio::spawn(async move { axum::serve(listener, router).await });

        println!("\n## 64 concurrent clients, HTTP/1.1 keep-alive, server and load generator on 2 cores");
        let (rate, p50, p99, errors, cpu) = load(&address, &token, 300, |_, _| None, Some("/healthz")).await;
        println!("GET /healthz (baseline)     : {rate:>8.0} req/s  p50 {p50:>10.3?}  p99 {p99:>10.3?}  errors {errors}{cpu}");

        let ids = Arc::new(rollouts.clone());
        complete_steps(&address, &token, &ids, &kontakt, "(durable)").await;
        // `BENCH_ONLY=complete`: this far, for a profile of `completeStep`.
        if std::env::var("BENCH_ONLY").as_deref() == Ok("complete") {
            return;
        }

        let query_ids = ids.clone();
        let (rate, p50, p99, errors, cpu) = load(&address, &token, 500, move |c, i| {
            let id = &query_ids[(c * 500 + i) % query_ids.len()];
            Some(format!("{{\"query\":\"{{ rollout(id: \\\"{id}\\\") {{ id version status phase }} }}\"}}"))
        }, None).await;
        println!("rollout(id)                 : {rate:>8.0} req/s  p50 {p50:>10.3?}  p99 {p99:>10.3?}  errors {errors}{cpu}");

        // The rollout page: every step with its evidence and who completed it, read from the
        // rollout's stream (the read model keeps summaries).
        let query_ids = ids.clone();
        let (rate, p50, p99, errors, cpu) = load(&address, &token, 200, move |c, i| {
            let id = &query_ids[(c * 200 + i) % query_ids.len()];
            Some(format!("{{\"query\":\"{{ rollout(id: \\\"{id}\\\") {{ id version steps {{ id status evidence completedBy {{ name }} completedAt }} }} }}\"}}"))
        }, None).await;
        println!("rollout(id) with evidence   : {rate:>8.0} req/s  p50 {p50:>10.3?}  p99 {p99:>10.3?}  errors {errors}{cpu}");

        let (rate, p50, p99, errors, cpu) = load(&address, &token, 100, |_, _| {
            Some("{\"query\":\"{ progress(groupBy: LANDKREIS) { key rollouts percentDone byPhaseStatus { phase status count } } }\"}".to_owned())
        }, None).await;
        println!("progress(groupBy: LANDKREIS): {rate:>8.0} req/s  p50 {p50:>10.3?}  p99 {p99:>10.3?}  errors {errors}{cpu}");
    });
}
