//! `rollout serve`: wiring of store, engine, read models, tokens and the HTTP server.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// How often the read models' checkpoint is written while serving.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(60);
/// How often the store is asked whether it can write (which lets it recover by itself).
const HEALTH_EVERY: Duration = Duration::from_secs(2);
/// The exit code when the store cannot recover in this process (`EX_TEMPFAIL`): its supervisor
/// restarts it, and the next start indexes the log again from its segments.
pub const EXIT_STORE_FAILED: u8 = 75;

use store::EventStore;
use store_sled::{SledConfig, SledStore};

use crate::cli::Location;
use crate::{checkpoint_file, Failure};
use projections::CheckpointPlace;

/// How often the retention policy looks for persons due for erasure.
const RETENTION_ROUND: std::time::Duration = std::time::Duration::from_secs(3600);

/// What `rollout serve` was asked for.
#[derive(Debug)]
pub struct Options {
    pub listen: SocketAddr,
    pub demo: bool,
    /// The embedded store's index cache.
    pub sled_cache_bytes: u64,
    pub min_free_bytes: u64,
    pub person_retention: Option<engine::Retention>,
    pub connections: api::listener::ConnectionLimits,
    pub writes: api::rates::WriteLimits,
    pub metrics_token: Option<String>,
    /// The Land's profile for an empty store (a bundled key or a profile file); `None`: the
    /// default. A store initialised with another one is refused.
    pub profile: Option<String>,
    /// The sign-in configuration file (`--auth-config`).
    pub auth_config: Option<std::path::PathBuf>,
}

/// Runs the server.
pub async fn run(args: &crate::cli::StoreArgs, options: Options) -> Result<(), Failure> {
    let Options {
        listen,
        demo,
        sled_cache_bytes,
        min_free_bytes,
        person_retention,
        mut connections,
        writes,
        metrics_token,
        profile,
        auth_config,
    } = options;
    let auth_config = crate::signin::read(auth_config.as_deref())?;
    let chosen = profile.as_deref().map(crate::profile::load).transpose()?;
    connections.total_max = fit_to_open_files(connections.total_max);
    // With the log in PostgreSQL a data directory is optional: without one, this server writes
    // nothing locally (the checkpoint is kept in the database).
    let location = args.location();
    let clock = Arc::new(crate::demo::ShiftableClock::default());
    // A data directory given with PostgreSQL still holds this server's checkpoint and admin
    // token: one process at a time, as with the embedded store (which takes the lock).
    let _lock = location.lock_local_dir()?;
    let (store, stats, place, dir) = open_store(location, &clock, sled_cache_bytes, min_free_bytes).await?;
    // Every durable append is timed for `/metrics`.
    let metrics = Arc::new(api::metrics::Metrics::default());
    let store: Arc<dyn EventStore> = Arc::new(Timed { inner: store, appends: metrics.appends.clone() });
    let registry = Arc::new(engine::definitions::bundled().map_err(Failure)?);
    // Tokens, definitions and catalogue changes from here on (by another server on the same
    // database) are followed.
    let opened_at = store.head().await?.position;
    let engine = Arc::new(engine::Engine::open(store.clone(), registry.clone()).await?);
    let follower = engine.follow_log(opened_at);
    crate::first_start::initialise(dir.as_deref(), &engine, demo.then_some(&*clock), chosen.as_ref()).await?;
    clock.days_ago(0.0);
    let (projector, start) = projections::Projector::start(store.clone(), registry, Some(place))
        .await
        .map_err(|e| Failure(e.to_string()))?;
    tracing::debug!(?start, "read models ready");
    let mut state = api_state(&engine, &projector, metrics, writes, metrics_token, chosen.as_ref());
    state.signin = crate::signin::state(&store, auth_config).await?;
    let sessions = crate::signin::spawn_purge(state.signin.clone());
    let schema = api::schema::build(state.clone());
    let router = api::server::router(schema, &state, engine.tokens().clone(), store.clone(), stats);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| Failure(format!("cannot listen on {listen}: {e}")))?;
    let address = listener.local_addr().map_err(|e| Failure(e.to_string()))?;
    // Signal handlers are in place before anyone is told where to connect.
    let shutdown = shutdown_signal().map_err(|e| Failure(format!("cannot install signal handlers: {e}")))?;
    crate::first_start::say(format_args!("listening on http://{address}"));

    let verifier = spawn_verification(store.clone(), state.verification.clone());
    let deadlines = engine::spawn_deadline_policy(engine.clone(), projector.clone(), engine::DEADLINE_ROUND);
    let retention = engine::spawn_retention_policy(engine.clone(), person_retention, RETENTION_ROUND);
    let checkpoints = spawn_checkpoints(projector.clone());
    // The store is asked regularly whether it can write: a store that recovers does so without
    // a request; one that cannot recover in this process ends it for its supervisor.
    let (fatal_tx, fatal_rx) = tokio::sync::oneshot::channel::<String>();
    let health = spawn_health_watch(store.clone(), fatal_tx);
    let fatal = std::sync::Arc::new(std::sync::Mutex::new(None::<String>));
    let stop = stop_on(shutdown, fatal_rx, fatal.clone());
    api::listener::serve(listener, router, connections, stop).await;
    let cause = fatal.lock().unwrap_or_else(|p| p.into_inner()).take();
    end_tasks(cause, [health, retention, verifier, deadlines, follower, sessions], checkpoints).await;
    projector.checkpoint().await.map_err(|e| Failure(e.to_string()))?;
    crate::first_start::say(format_args!("stopped"));
    Ok(())
}

/// The API's shared state: the engine and read models, the metrics, the write rates, the
/// `/metrics` token, and what the Land's profile gives (centres, map layers, the report's title).
fn api_state(
    engine: &Arc<engine::Engine>,
    projector: &Arc<projections::Projector>,
    metrics: Arc<api::metrics::Metrics>,
    writes: api::rates::WriteLimits,
    metrics_token: Option<String>,
    chosen: Option<&catalog::Profile>,
) -> api::ApiState {
    let mut state = api::ApiState::new(engine.clone(), projector.clone());
    state.metrics = metrics;
    state.writes = Arc::new(api::rates::WriteRates::new(writes));
    // A profile read from a file (the store's own) brings its map layers; a bundled one's are
    // the ones `ApiState::new` took.
    if let Some(given) = chosen.filter(|p| p.stored.key == state.profile.key) {
        state.map = Arc::new(api::state::map_layers(given.map.clone()));
    }
    state.metrics_token = metrics_token.filter(|t| !t.trim().is_empty()).map(|t| Arc::from(t.trim()));
    state
}

/// Resolves on `shutdown` or when the store cannot recover (its cause kept in `fatal`).
async fn stop_on(
    shutdown: impl std::future::Future<Output = ()>,
    fatal_rx: tokio::sync::oneshot::Receiver<String>,
    fatal: Arc<std::sync::Mutex<Option<String>>>,
) {
    tokio::select! {
        () = shutdown => {}
        Ok(cause) = fatal_rx => {
            *fatal.lock().unwrap_or_else(|p| p.into_inner()) = Some(cause);
        }
    }
}

/// Ends the background tasks after the listener stopped: the checkpoint under way (a blocking
/// write the abort does not interrupt) first; with the store's unrecoverable `cause`, the process
/// exits for its supervisor instead.
async fn end_tasks(
    cause: Option<String>,
    tasks: [tokio::task::JoinHandle<()>; 6],
    checkpoints: tokio::task::JoinHandle<()>,
) {
    for task in &tasks {
        task.abort();
    }
    checkpoints.abort();
    if let Some(cause) = cause {
        tracing::error!(%cause, "the store cannot recover in this process; exiting for the supervisor to restart it");
        std::process::exit(i32::from(EXIT_STORE_FAILED));
    }
    let _ = checkpoints.await;
}

/// The store of `location` on `clock`, its writer counters for `/metrics`, where the read
/// models' checkpoint is kept, and the local data directory (if any, made private).
async fn open_store(
    location: Location<'_>,
    clock: &Arc<crate::demo::ShiftableClock>,
    sled_cache_bytes: u64,
    min_free_bytes: u64,
) -> Result<
    (Arc<dyn EventStore>, api::metrics::StoreStats, CheckpointPlace, Option<std::path::PathBuf>),
    Failure,
> {
    Ok(match location {
        Location::Postgres { url, dir } => {
            let mut config = store_postgres::PgConfig::new(url);
            config.clock = clock.clone();
            let pg = Arc::new(store_postgres::PgStore::open(config).await?);
            if let Some(dir) = &dir {
                private_dir(dir)?;
            }
            let place = match &dir {
                Some(dir) => CheckpointPlace::File(checkpoint_file(dir)),
                None => CheckpointPlace::Store(pg.clone()),
            };
            (pg, Arc::new(|| None), place, dir)
        }
        Location::Embedded(dir) => {
            {
                use std::os::unix::fs::DirBuilderExt;
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(&dir)
                    .map_err(|e| Failure(format!("{}: {e}", dir.display())))?;
            }
            private_dir(&dir)?;
            let mut config = SledConfig::new(&dir);
            config.clock = clock.clone();
            config.cache_bytes = sled_cache_bytes;
            config.min_free_bytes = min_free_bytes;
            let sled = SledStore::open(config)?;
            let stats: api::metrics::StoreStats = {
                let sled = sled.clone();
                Arc::new(move || {
                    let s = sled.writer_stats();
                    Some((s.groups, s.appends, s.events))
                })
            };
            let place = CheckpointPlace::File(checkpoint_file(&dir));
            (Arc::new(sled), stats, place, Some(dir))
        }
    })
}

/// Writes the read models' checkpoint every [`CHECKPOINT_EVERY`].
fn spawn_checkpoints(projector: Arc<projections::Projector>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
        loop {
            tick.tick().await;
            if let Err(e) = projector.checkpoint().await {
                tracing::error!(error = %e, "writing the read models' checkpoint failed");
            }
        }
    })
}

/// Asks the store every [`HEALTH_EVERY`] whether it can write (which lets it recover); sends
/// the cause on `fatal` when it cannot recover in this process.
fn spawn_health_watch(
    store: Arc<dyn EventStore>,
    fatal_tx: tokio::sync::oneshot::Sender<String>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(HEALTH_EVERY);
        let mut was_writable = true;
        loop {
            tick.tick().await;
            match store.health().await {
                store::Health::Writable => was_writable = true,
                store::Health::Unwritable { cause, fatal: true } => {
                    let _ = fatal_tx.send(cause);
                    return;
                }
                store::Health::Unwritable { cause, fatal: false } => {
                    if was_writable {
                        tracing::warn!(%cause, "the store cannot write; writes are refused until it can");
                    }
                    was_writable = false;
                }
            }
        }
    })
}

/// Recomputes the hash chain of the log as it is now, in the background while serving (a low
/// priority: one page at a time). A break makes `/readyz` 503 naming the position and
/// `rollout_log_broken` 1, and is logged as an error; the server keeps answering (reads are
/// what an operator needs to look into it).
fn spawn_verification(
    store: Arc<dyn EventStore>,
    verification: Arc<api::state::Verification>,
) -> tokio::task::JoinHandle<()> {
    use std::sync::atomic::Ordering;
    tokio::spawn(async move {
        let until = match store.head().await {
            Ok(head) => head.position,
            Err(e) => {
                tracing::warn!(error = %e, "the log's hash chain could not be checked");
                return;
            }
        };
        let started = std::time::Instant::now();
        let progress = |p: u64| verification.verified.store(p, Ordering::Relaxed);
        match store::verify_until(&*store, until, progress).await {
            Ok(head) => {
                tracing::info!(position = head.position, hash = %head.hash, seconds = started.elapsed().as_secs_f64(), "the log's hash chain verifies");
            }
            Err(store::VerifyError::Broken { position, reason }) => {
                let broken = format!("position {position}: {reason}");
                tracing::error!(%broken, "the log's hash chain is broken: what this server serves is not what was written");
                *verification.broken.lock().unwrap_or_else(|p| p.into_inner()) = Some(broken);
            }
            Err(store::VerifyError::Store(e)) => {
                tracing::warn!(error = %e, "the log's hash chain could not be checked");
            }
        }
    })
}

/// Raises the open-file limit to its hard limit and returns `wanted` connections, or fewer
/// when the limit leaves no room for them beside the store's files (a reserve of 256).
fn fit_to_open_files(wanted: usize) -> usize {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut limit = getrlimit(Resource::Nofile);
    if let (Some(current), Some(hard)) = (limit.current, limit.maximum) {
        if current < hard {
            limit.current = Some(hard);
            if let Err(e) = setrlimit(Resource::Nofile, limit) {
                tracing::warn!(error = %e, "the open-file limit could not be raised");
            }
        }
    }
    let open_files = getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX);
    let room = usize::try_from(open_files.saturating_sub(256)).unwrap_or(usize::MAX).max(16);
    if room < wanted {
        tracing::warn!(
            open_files,
            connections = room,
            "the open-file limit allows fewer connections than asked for"
        );
    }
    wanted.min(room)
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

/// The data directory holds the log, the keys and the admin token: its owner's only (0700),
/// made so with a warning when others could read it.
fn private_dir(dir: &Path) -> Result<(), Failure> {
    use std::os::unix::fs::PermissionsExt;
    let mode =
        std::fs::metadata(dir).map_err(|e| Failure(format!("{}: {e}", dir.display())))?.permissions().mode();
    if mode & 0o077 != 0 {
        tracing::warn!(dir = %dir.display(), mode = format!("{:o}", mode & 0o777), "the data directory was open to others; made private (0700)");
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| Failure(format!("{}: {e}", dir.display())))?;
    }
    Ok(())
}

/// The store, with the latency of every append observed (`rollout_store_append_seconds`).
#[derive(Debug)]
struct Timed {
    inner: Arc<dyn EventStore>,
    appends: Arc<api::metrics::Histogram>,
}

#[async_trait::async_trait]
impl EventStore for Timed {
    async fn append(
        &self,
        stream_id: &str,
        expected: store::ExpectedVersion,
        events: Vec<store::NewEvent>,
    ) -> Result<Vec<store::RecordedEvent>, store::StoreError> {
        let started = std::time::Instant::now();
        let appended = self.inner.append(stream_id, expected, events).await;
        if appended.is_ok() {
            self.appends.observe(started.elapsed().as_secs_f64());
        }
        appended
    }

    async fn append_recorded(&self, events: Vec<store::RecordedEvent>) -> Result<(), store::StoreError> {
        self.inner.append_recorded(events).await
    }

    async fn read_stream(
        &self,
        stream_id: &str,
        from: u64,
        direction: store::Direction,
        max: usize,
    ) -> Result<Vec<store::RecordedEvent>, store::StoreError> {
        self.inner.read_stream(stream_id, from, direction, max).await
    }

    async fn stream_version(&self, stream_id: &str) -> Result<u64, store::StoreError> {
        self.inner.stream_version(stream_id).await
    }

    async fn read_all(&self, from: u64, max: usize) -> Result<Vec<store::RecordedEvent>, store::StoreError> {
        self.inner.read_all(from, max).await
    }

    async fn read_category(
        &self,
        prefix: &str,
        after: u64,
        max: usize,
    ) -> Result<Vec<store::RecordedEvent>, store::StoreError> {
        self.inner.read_category(prefix, after, max).await
    }

    async fn read_event(&self, position: u64) -> Result<Option<store::RecordedEvent>, store::StoreError> {
        self.inner.read_event(position).await
    }

    async fn read_event_by_id(
        &self,
        event_id: uuid::Uuid,
    ) -> Result<Option<store::RecordedEvent>, store::StoreError> {
        self.inner.read_event_by_id(event_id).await
    }

    async fn head(&self) -> Result<store::Head, store::StoreError> {
        self.inner.head().await
    }

    fn clock(&self) -> Arc<dyn store::Clock> {
        self.inner.clock()
    }

    fn key_store(&self) -> Option<Arc<dyn store::KeyStore>> {
        self.inner.key_store()
    }

    fn sessions(&self) -> Option<Arc<dyn store::SessionStore>> {
        self.inner.sessions()
    }

    fn notifications(&self) -> tokio::sync::broadcast::Receiver<store::Committed> {
        self.inner.notifications()
    }

    async fn health(&self) -> store::Health {
        self.inner.health().await
    }
}
