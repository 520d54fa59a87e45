//! `rollout serve`: wiring of store, engine, read models, tokens and the HTTP server.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// How often the read models' checkpoint is written while serving.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(60);

use store::{EventStore, Timestamp};
use store_sled::{SledConfig, SledStore};

use crate::{Failure, READ_MODEL_FILE};

/// The store's clock: the system clock, shifted into the past while the demo history is made.
#[derive(Debug, Default)]
pub struct ShiftableClock {
    offset_micros: std::sync::atomic::AtomicI64,
}

impl ShiftableClock {
    /// Moves the clock to `days` days before now (0: now again).
    pub fn days_ago(&self, days: f64) {
        self.offset_micros.store(-(days * 86_400_000_000.0) as i64, std::sync::atomic::Ordering::Relaxed);
    }
}

impl store::Clock for ShiftableClock {
    fn now(&self) -> Timestamp {
        let now = store::Clock::now(&store::SystemClock).unix_micros();
        Timestamp::from_unix_micros(now + self.offset_micros.load(std::sync::atomic::Ordering::Relaxed))
    }
}

/// Runs the server; `sled_cache_bytes` sizes the embedded store's index cache.
pub async fn run(
    args: &crate::StoreArgs,
    listen: SocketAddr,
    demo: bool,
    sled_cache_bytes: u64,
) -> Result<(), Failure> {
    let dir = args.data_dir.as_path();
    std::fs::create_dir_all(dir).map_err(|e| Failure(format!("{}: {e}", dir.display())))?;
    let clock = Arc::new(ShiftableClock::default());
    // With the log in PostgreSQL the data directory still holds this server's checkpoint and
    // admin token: one process at a time, as with the embedded store (which takes the lock).
    let _lock = args.store.is_some().then(|| store_sled::lock_data_dir(dir)).transpose()?;
    let (store, stats): (Arc<dyn EventStore>, api::metrics::StoreStats) = match &args.store {
        Some(url) => {
            let mut config = store_postgres::PgConfig::new(url.clone());
            config.clock = clock.clone();
            (Arc::new(store_postgres::PgStore::open(config).await?), Arc::new(|| None))
        }
        None => {
            let mut config = SledConfig::new(dir);
            config.clock = clock.clone();
            config.cache_bytes = sled_cache_bytes;
            let sled = SledStore::open(config)?;
            let stats: api::metrics::StoreStats = {
                let sled = sled.clone();
                Arc::new(move || {
                    let s = sled.writer_stats();
                    Some((s.groups, s.appends, s.events))
                })
            };
            (Arc::new(sled), stats)
        }
    };
    let registry = Arc::new(engine::definitions::bundled().map_err(Failure)?);
    // Tokens, definitions and catalogue changes from here on (by another server on the same
    // database) are followed.
    let opened_at = store.head().await?.position;
    let engine = Arc::new(engine::Engine::open(store.clone(), registry.clone()).await?);
    let follower = engine.follow_log(opened_at);
    initialise(dir, &engine, demo.then_some(&*clock)).await?;
    clock.days_ago(0.0);
    let (projector, start) =
        projections::Projector::start(store.clone(), registry, Some(dir.join(READ_MODEL_FILE)))
            .await
            .map_err(|e| Failure(e.to_string()))?;
    tracing::debug!(?start, "read models ready");
    let schema = api::schema::build(api::ApiState::new(engine.clone(), projector.clone()));
    let router =
        api::server::router(schema, engine.tokens().clone(), projector.clone(), store.clone(), stats);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| Failure(format!("cannot listen on {listen}: {e}")))?;
    let address = listener.local_addr().map_err(|e| Failure(e.to_string()))?;
    // Signal handlers are in place before anyone is told where to connect.
    let shutdown = shutdown_signal().map_err(|e| Failure(format!("cannot install signal handlers: {e}")))?;
    println!("listening on http://{address}");

    let deadlines = engine::spawn_deadline_policy(engine.clone(), projector.clone(), engine::DEADLINE_ROUND);
    let checkpoints = {
        let projector = projector.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
            loop {
                tick.tick().await;
                if let Err(e) = projector.checkpoint() {
                    tracing::error!(error = %e, "writing the read models' checkpoint failed");
                }
            }
        })
    };
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| Failure(format!("the server stopped: {e}")))?;
    deadlines.abort();
    checkpoints.abort();
    // A checkpoint under way (a blocking write the abort does not interrupt) ends first.
    let _ = checkpoints.await;
    follower.abort();
    projector.checkpoint().map_err(|e| Failure(e.to_string()))?;
    println!("stopped");
    Ok(())
}

/// Resolves on SIGTERM or SIGINT; the handlers are installed when this is called.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {},
            _ = int.recv() => {},
        }
    })
}

/// What a first start needs, each part only when missing: the catalogue, an admin token in
/// DIR/admin.token (0600), and (with `--demo`) the demo history.
async fn initialise(
    dir: &Path,
    engine: &engine::Engine,
    demo: Option<&ShiftableClock>,
) -> Result<(), Failure> {
    let empty = engine.catalog().authorities.is_empty();
    if empty {
        // The demo history begins with the definitions and the catalogue, in the past (time
        // never runs backwards along the log).
        if let Some(clock) = demo {
            clock.days_ago(crate::demo::DEMO_DAYS + 1.0);
        }
    }
    // The bundled definitions the log does not have yet (all of them on an empty store).
    engine.publish_bundled().await?;
    if empty {
        let system = engine::Invocation::system();
        let data = catalog::parse_dataset(&catalog::parse::bundled_files()).map_err(|e| {
            Failure(format!(
                "the built-in data is invalid: {}",
                e.first().map(|e| e.to_string()).unwrap_or_default()
            ))
        })?;
        engine.import_catalog(&data, &system, |_, _| {}).await?;
    }
    if engine.tokens().is_empty() {
        let spec = engine::TokenSpec {
            name: "admin (first start)".into(),
            role: engine::TokenRole::Admin,
            authorities: vec![],
            services: vec![],
        };
        let secret = engine.issue_token(spec, &engine::Invocation::system()).await?.secret;
        let path = dir.join("admin.token");
        write_secret(&path, &secret)?;
        println!("admin token written to {}", path.display());
    }
    if let Some(clock) = demo {
        if engine.load("wohngeld", catalog::LAND_ARS).await?.is_none() {
            crate::demo::generate(engine, clock).await?;
        }
    }
    Ok(())
}

fn write_secret(path: &Path, secret: &str) -> Result<(), Failure> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    // A stale file (from a log imported without its tokens) is replaced.
    let _ = std::fs::remove_file(path);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Failure(format!("{}: {e}", path.display())))?;
    file.write_all(secret.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| Failure(format!("{}: {e}", path.display())))
}
