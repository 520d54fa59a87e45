//! The API's limits at their boundaries: the points of `progressOverTime`, and how far the read
//! models may lag behind the log while `/readyz` says ready.

use std::io::{Read, Write};
use std::sync::Arc;

use api::limits::{PROGRESS_POINTS_MAX, READY_LAG_MAX};
use engine::{Engine, TokenRole};
use projections::Projector;
use store::conformance::Relayed;
use store::{EventStore, ExpectedVersion, MemoryStore};

use crate::support::{caller, schema_over};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_over_time_takes_at_most_its_points() {
    let api = schema_over(Arc::new(MemoryStore::new())).await;
    let manager = caller(TokenRole::ProjectManager);
    let days = |points: usize| {
        let until = store::Timestamp::from_unix_micros(
            "2025-01-01T00:00:00Z".parse::<store::Timestamp>().expect("time").unix_micros()
                + (points as i64 - 1) * 86_400_000_000,
        );
        format!(
            "{{ progressOverTime(groupBy: SERVICE, from: \"2025-01-01T00:00:00Z\", until: \"{until}\", everyDays: 1) {{ at }} }}"
        )
    };
    let at_limit = api
        .schema
        .execute(async_graphql::Request::new(days(PROGRESS_POINTS_MAX)).data(manager.clone()))
        .await;
    assert!(at_limit.errors.is_empty(), "{:?}", at_limit.errors);
    let points = at_limit.data.into_json().expect("json")["progressOverTime"].as_array().map(Vec::len);
    assert_eq!(points, Some(PROGRESS_POINTS_MAX));
    let over =
        api.schema.execute(async_graphql::Request::new(days(PROGRESS_POINTS_MAX + 1)).data(manager)).await;
    let code = over.errors.first().and_then(|e| e.extensions.as_ref()?.get("code").cloned());
    assert_eq!(code, Some(async_graphql::Value::from("LIMIT_EXCEEDED")), "{:?}", over.errors);
    assert!(
        over.errors[0].message.contains(&format!("at most {PROGRESS_POINTS_MAX} points")),
        "{}",
        over.errors[0].message
    );
}

/// `GET /readyz` of a server at `address`: (status, body).
fn readyz(address: std::net::SocketAddr) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(address).expect("connect");
    s.write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").expect("send");
    let mut answer = String::new();
    s.read_to_string(&mut answer).expect("read");
    let status = answer.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, answer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_answers_ready_up_to_its_lag_and_names_the_lag_beyond() {
    // The read models never hear of new commits: they stay where they caught up at start.
    let inner: Arc<dyn EventStore> = Arc::new(MemoryStore::new());
    let relayed = Arc::new(Relayed::new(inner, tokio::sync::broadcast::channel(1).0));
    let store: Arc<dyn EventStore> = relayed.clone();
    let registry = Arc::new(engine::definitions::bundled().expect("bundled"));
    let engine = Arc::new(Engine::open(store.clone(), registry.clone()).await.expect("engine"));
    let (projector, _) = Projector::start(store.clone(), registry, None).await.expect("projector");
    let tokens = engine.tokens().clone();
    let state = api::ApiState::new(engine, projector.clone());
    let schema = api::schema::build(state.clone());
    let router = api::server::router(schema, &state, tokens, store.clone(), Arc::new(|| None));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, router).await });
    let ask = move || tokio::task::spawn_blocking(move || readyz(address));
    // The follower's one read of the log (which finds nothing new) comes before the appends;
    // afterwards it waits for notifications that never come.
    for _ in 0..3000 {
        if relayed.reads_while_listened() > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(relayed.reads_while_listened() > 0, "the read models' follower listens");

    let mut appended = 0u64;
    let mut append_up_to = |lag: u64| {
        let store = store.clone();
        let from = appended;
        appended = lag;
        async move {
            let mut n = from;
            while n < lag {
                let batch = (lag - n).min(store::limits::EVENTS_PER_APPEND_MAX as u64);
                let events = (n..n + batch).map(store::conformance::event).collect();
                store.append(&format!("lag-{n}"), ExpectedVersion::NoStream, events).await.expect("append");
                n += batch;
            }
        }
    };
    append_up_to(READY_LAG_MAX - 1).await;
    let (status, body) = ask().await.expect("ask");
    assert_eq!(status, 200, "{body}");
    append_up_to(READY_LAG_MAX).await;
    let (status, body) = ask().await.expect("ask");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains(&format!("read models are {READY_LAG_MAX} events behind")), "{body}");
}
