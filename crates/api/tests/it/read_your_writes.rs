//! Read your own writes across requests: a token's next operation sees its own change in the
//! read models even when the log's live notifications are slow (as PostgreSQL's can be).

use std::sync::Arc;
use std::time::Duration;

use engine::TokenRole;
use store::conformance::Relayed;
use store::{EventStore, MemoryStore};

use crate::support::{caller, run, schema_over};

/// The log as it is, but every live notification arrives `delay` late.
fn slow(inner: Arc<dyn EventStore>, delay: Duration) -> Arc<dyn EventStore> {
    let (live, _) = tokio::sync::broadcast::channel(1_024);
    let (queue, mut queued) = tokio::sync::mpsc::unbounded_channel();
    let mut on_time = inner.notifications();
    // One task stamps each batch as it is committed, another hands it on `delay` later.
    tokio::spawn(async move {
        while let Ok(batch) = on_time.recv().await {
            let _ = queue.send((tokio::time::Instant::now() + delay, batch));
        }
    });
    let forward = live.clone();
    tokio::spawn(async move {
        while let Some((due, batch)) = queued.recv().await {
            tokio::time::sleep_until(due).await;
            let _ = forward.send(batch);
        }
    });
    Arc::new(Relayed::new(inner, live))
}

const START: &str =
    "mutation { startRollout(input: { serviceKey: \"wohngeld\", ars: \"120540000000\" }) { rollout { version } } }";
const READ: &str = "{ rollout(id: \"wohngeld:120540000000\") { version stepsDone } \
                    rollouts(filter: { serviceKey: \"wohngeld\" }) { totalCount } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tokens_next_operation_sees_its_own_changes_in_the_read_models() {
    // Late by less than the wait (one second), by far more than a query takes.
    let schema = schema_over(slow(Arc::new(MemoryStore::new()), Duration::from_millis(500))).await.schema;
    let manager = caller(TokenRole::ProjectManager);
    let started = run(&schema, &manager, START).await;
    assert_eq!(started["startRollout"]["rollout"]["version"], 1);
    let seen = run(&schema, &manager, READ).await;
    assert_eq!(seen["rollout"]["version"], 1, "the rollout just started is in the read model: {seen}");
    assert_eq!(seen["rollouts"]["totalCount"], 1);

    // A change whose events are not in its answer (a whole service started) counts too.
    let service =
        run(&schema, &manager, "mutation { startServiceRollout(serviceKey: \"hundesteuer\") { started } }")
            .await;
    let started = service["startServiceRollout"]["started"].as_array().expect("started").len();
    assert!(started > 100, "{service}");
    let seen =
        run(&schema, &manager, "{ rollouts(filter: { serviceKey: \"hundesteuer\" }) { totalCount } }").await;
    assert_eq!(seen["rollouts"]["totalCount"], started as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_model_that_never_catches_up_delays_a_query_only_so_long() {
    // Live notifications never arrive: the read models stall once they have caught up.
    let inner: Arc<dyn EventStore> = Arc::new(MemoryStore::new());
    let stalled = Arc::new(Relayed::new(inner, tokio::sync::broadcast::channel(1).0));
    let schema = schema_over(stalled.clone()).await.schema;
    // The follower's one read of the log comes before the change; then it waits for
    // notifications that never come.
    for _ in 0..3000 {
        if stalled.reads_while_listened() > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(stalled.reads_while_listened() > 0, "the read models' follower listens");
    let manager = caller(TokenRole::ProjectManager);
    assert_eq!(run(&schema, &manager, START).await["startRollout"]["rollout"]["version"], 1);
    // After the wait, the query is answered as the read models stand (without the change).
    // (Bounded generously here only so that a wait without end fails instead of hanging.)
    let seen = tokio::time::timeout(Duration::from_secs(30), run(&schema, &manager, READ))
        .await
        .expect("the query is answered although the read models never catch up");
    assert!(seen["rollout"].is_null(), "{seen}");
    assert_eq!(seen["rollouts"]["totalCount"], 0);
}
