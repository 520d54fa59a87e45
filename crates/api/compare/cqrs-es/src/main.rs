//! cqrs-es + postgres-es in-process, as the baseline of issue 18's comparison (BENCHMARKS.md).
//!
//! An aggregate shaped like a rollout (started, steps completed with evidence, reopened,
//! comments), the framework's own event-sourced store on PostgreSQL (`PersistedEventStore` over
//! `PostgresEventRepository`: every command loads the aggregate's events, folds them, decides,
//! and inserts the new events in a transaction), 64 tasks at once:
//!
//! - **fresh**: `CompleteStep` on distinct aggregates that hold one event each (the shape of the
//!   HTTP bench's `completeStep` on distinct rollouts);
//! - **long-lived**: each task alternates `ReopenStep` / `CompleteStep` on its own aggregate of
//!   2,000 events (the shape of the HTTP bench's long-lived part).
//!
//! `COMPARE_DATABASE_URL` (default the machine's `test` database), `COMPARE_TASKS` (64),
//! `COMPARE_POOL` (connections, 64), `COMPARE_HISTORY` (2,000). The tables
//! `compare_cqrs_events` / `compare_cqrs_snapshots` are created and emptied by the program.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cqrs_es::event_sink::EventSink;
use cqrs_es::persist::PersistedEventStore;
use cqrs_es::{Aggregate, CqrsFramework, DomainEvent};
use postgres_es::PostgresEventRepository;
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgPoolOptions;

const EVENTS: &str = "compare_cqrs_events";
const SNAPSHOTS: &str = "compare_cqrs_snapshots";

#[derive(Debug, Default, Serialize, Deserialize)]
struct Rollout {
    started: bool,
    done: BTreeMap<String, BTreeMap<String, String>>,
    comments: u64,
}

#[derive(Debug)]
enum Command {
    Start,
    CompleteStep { step: String, evidence: BTreeMap<String, String> },
    ReopenStep { step: String, reason: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Event {
    Started { actor: String },
    StepCompleted { step: String, evidence: BTreeMap<String, String>, actor: String },
    StepReopened { step: String, reason: String, actor: String },
    Commented { text: String, actor: String },
}

impl DomainEvent for Event {
    fn event_type(&self) -> String {
        match self {
            Event::Started { .. } => "Started",
            Event::StepCompleted { .. } => "StepCompleted",
            Event::StepReopened { .. } => "StepReopened",
            Event::Commented { .. } => "Commented",
        }
        .to_owned()
    }
    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

#[derive(Debug)]
struct Refused(&'static str);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for Refused {}

impl Aggregate for Rollout {
    const TYPE: &'static str = "rollout";
    type Command = Command;
    type Event = Event;
    type Error = Refused;
    type Services = ();

    async fn handle(&mut self, command: Command, _: &(), sink: &EventSink<Self>) -> Result<(), Refused> {
        let actor = "token:compare".to_owned();
        let event = match command {
            Command::Start if self.started => return Err(Refused("already started")),
            Command::Start => Event::Started { actor },
            _ if !self.started => return Err(Refused("not started")),
            Command::CompleteStep { step, .. } if self.done.contains_key(&step) => {
                return Err(Refused("step already done"))
            }
            Command::CompleteStep { step, evidence } => Event::StepCompleted { step, evidence, actor },
            Command::ReopenStep { step, .. } if !self.done.contains_key(&step) => {
                return Err(Refused("step not done"))
            }
            Command::ReopenStep { step, reason } => Event::StepReopened { step, reason, actor },
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Event) {
        match event {
            Event::Started { .. } => self.started = true,
            Event::StepCompleted { step, evidence, .. } => {
                self.done.insert(step, evidence);
            }
            Event::StepReopened { step, .. } => {
                self.done.remove(&step);
            }
            Event::Commented { .. } => self.comments += 1,
        }
    }
}

type Framework = CqrsFramework<Rollout, PersistedEventStore<PostgresEventRepository, Rollout>>;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn evidence() -> BTreeMap<String, String> {
    BTreeMap::from([("datum".to_owned(), "2026-11-01".to_owned()), ("kontakt".to_owned(), "Last".to_owned())])
}

/// Rate, p50 and p99 of the latencies of all tasks over the wall time.
fn report(what: &str, wall: Duration, mut latencies: Vec<Duration>, errors: usize) {
    latencies.sort_unstable();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    println!(
        "{what:<44}: {:>8.0} commands/s  p50 {:>10.3?}  p99 {:>10.3?}  ({} commands, errors {errors})",
        latencies.len() as f64 / wall.as_secs_f64(),
        at(0.50),
        at(0.99),
        latencies.len()
    );
}

/// `tasks` tasks, each running `per_task` commands made by `command(task, i)` on the aggregate
/// `id(task, i)`.
async fn run(
    cqrs: &Arc<Framework>,
    tasks: usize,
    per_task: usize,
    id: impl Fn(usize, usize) -> String + Send + Sync + 'static,
    command: impl Fn(usize, usize) -> Command + Send + Sync + 'static,
) -> (Duration, Vec<Duration>, usize) {
    let (id, command) = (Arc::new(id), Arc::new(command));
    let started = Instant::now();
    let mut handles = Vec::new();
    for t in 0..tasks {
        let (cqrs, id, command) = (cqrs.clone(), id.clone(), command.clone());
        handles.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_task);
            let mut errors = 0;
            for i in 0..per_task {
                let at = Instant::now();
                match cqrs.execute(&id(t, i), command(t, i)).await {
                    Ok(()) => latencies.push(at.elapsed()),
                    Err(e) => {
                        errors += 1;
                        if errors == 1 {
                            eprintln!("task {t}: {e}");
                        }
                    }
                }
            }
            (latencies, errors)
        }));
    }
    let (mut all, mut errors) = (Vec::new(), 0);
    for h in handles {
        let (l, e) = h.await.expect("task");
        all.extend(l);
        errors += e;
    }
    (started.elapsed(), all, errors)
}

#[tokio::main]
async fn main() {
    let url = std::env::var("COMPARE_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let (tasks, pool_size, history) =
        (env("COMPARE_TASKS", 64), env("COMPARE_POOL", 64), env("COMPARE_HISTORY", 2000));
    let pool = PgPoolOptions::new()
        .max_connections(pool_size as u32)
        .connect(&url)
        .await
        .expect("connect to PostgreSQL");
    for sql in [
        format!("DROP TABLE IF EXISTS {EVENTS}, {SNAPSHOTS}"),
        format!(
            "CREATE TABLE {EVENTS} (aggregate_type text NOT NULL, aggregate_id text NOT NULL, \
             sequence bigint CHECK (sequence >= 0) NOT NULL, event_type text NOT NULL, event_version text NOT NULL, \
             payload json NOT NULL, metadata json NOT NULL, PRIMARY KEY (aggregate_type, aggregate_id, sequence))"
        ),
        format!(
            "CREATE TABLE {SNAPSHOTS} (aggregate_type text NOT NULL, aggregate_id text NOT NULL, \
             last_sequence bigint CHECK (last_sequence >= 0) NOT NULL, current_snapshot bigint CHECK (current_snapshot >= 0) NOT NULL, \
             payload json NOT NULL, PRIMARY KEY (aggregate_type, aggregate_id, last_sequence))"
        ),
    ] {
        sqlx::query(&sql).execute(&pool).await.expect("set up the tables");
    }
    let repo = PostgresEventRepository::new(pool.clone()).with_tables(EVENTS, SNAPSHOTS);
    let cqrs: Arc<Framework> =
        Arc::new(CqrsFramework::new(PersistedEventStore::new_event_store(repo), vec![], ()));
    println!("cqrs-es 0.5 + postgres-es 0.5, in-process, {tasks} tasks, {pool_size} connections, {url}");

    // Fresh: aggregates of one event each (started in the setup, not measured).
    let per_task = env("COMPARE_FRESH_PER_TASK", 100);
    let (wall, latencies, errors) =
        run(&cqrs, tasks, per_task, |t, i| format!("fresh-{t}-{i}"), |_, _| Command::Start).await;
    report("setting up: Start on new aggregates", wall, latencies, errors);
    let (wall, latencies, errors) = run(
        &cqrs,
        tasks,
        per_task,
        |t, i| format!("fresh-{t}-{i}"),
        |_, _| Command::CompleteStep { step: "interesse".into(), evidence: evidence() },
    )
    .await;
    report("fresh: CompleteStep on distinct aggregates", wall, latencies, errors);

    // Long-lived: one aggregate per task with `history` events, written in one statement each
    // in the framework's own serialisation (through the framework it takes minutes).
    let started = Instant::now();
    let payload = serde_json::to_string(&Event::Commented {
        text: "Zwischenstand".into(),
        actor: "token:compare".into(),
    })
    .expect("serialise");
    let first = serde_json::to_string(&Event::Started { actor: "token:compare".into() }).expect("serialise");
    for t in 0..tasks {
        let sql = format!(
            "INSERT INTO {EVENTS} SELECT 'rollout', $1, s, CASE WHEN s = 1 THEN 'Started' ELSE 'Commented' END, '1', \
             (CASE WHEN s = 1 THEN $2 ELSE $3 END)::json, '{{}}'::json FROM generate_series(1, $4::bigint) AS s"
        );
        sqlx::query(&sql)
            .bind(format!("long-{t}"))
            .bind(&first)
            .bind(&payload)
            .bind(history as i64)
            .execute(&pool)
            .await
            .expect("write the long histories");
    }
    println!("setting up: {tasks} aggregates of {history} events in {:.1?}", started.elapsed());
    let pairs = env("COMPARE_LONG_PER_TASK", 20);
    let (wall, latencies, errors) = run(
        &cqrs,
        tasks,
        pairs * 2,
        |t, _| format!("long-{t}"),
        |_, i| {
            if i % 2 == 0 {
                Command::CompleteStep { step: "interesse".into(), evidence: evidence() }
            } else {
                Command::ReopenStep { step: "interesse".into(), reason: "Korrektur".into() }
            }
        },
    )
    .await;
    report(&format!("long-lived ({history} events): Complete/Reopen"), wall, latencies, errors);
}
