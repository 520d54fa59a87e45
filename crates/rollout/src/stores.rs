//! Opening a command's store and engine, and what the commands share (the command line's
//! actor, a progress counter).

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use store::EventStore;
use store_sled::{SledConfig, SledStore};

use crate::cli::{Location, StoreArgs, DATA_DIR_DEFAULT};
use crate::Failure;

/// The principal of a command run on the machine itself: it has the data directory, so it may
/// do what an admin may.
pub(crate) fn cli_request() -> engine::Invocation {
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    engine::Invocation::new(workflow::decide::Principal {
        actor: store::Actor {
            id: format!("cli:{user}"),
            name: format!("{user} (command line)"),
            kind: store::ActorKind::Person,
            person: None,
        },
        roles: vec![],
        admin: true,
    })
}

/// Opens the engine (creating the store when missing) with the bundled definitions published.
pub(crate) async fn open_engine(args: &StoreArgs) -> Result<engine::Engine, Failure> {
    engine_over(args.open(true).await?).await
}

/// The engine over an opened store, with the bundled definitions published.
pub(crate) async fn engine_over(store: Arc<dyn EventStore>) -> Result<engine::Engine, Failure> {
    let registry = engine::definitions::bundled().map_err(Failure)?;
    let engine = engine::Engine::open(store, Arc::new(registry)).await?;
    engine.publish_bundled().await?;
    Ok(engine)
}

/// Opens the engine of an existing store for a command that writes, naming `instead` (the
/// API's way) when the server holds the store.
pub(crate) async fn open_for_writes(args: &StoreArgs, instead: &str) -> Result<engine::Engine, Failure> {
    let store = match args.open(false).await {
        Err(Failure(m)) if m.contains("in use by another process") => {
            return Err(Failure(format!("{m}; while `rollout serve` runs, use {instead}")))
        }
        other => other?,
    };
    let registry = engine::definitions::bundled().map_err(Failure)?;
    Ok(engine::Engine::open(store, Arc::new(registry)).await?)
}

/// Opens the store of a data directory that must exist already.
pub(crate) fn open_existing(dir: &Path) -> Result<SledStore, Failure> {
    if !dir.join("log").is_dir() {
        return Err(Failure(format!(
            "there is no store in {} (use --data-dir, or create one with `rollout import`)",
            dir.display()
        )));
    }
    Ok(SledStore::open(SledConfig::new(dir))?)
}

pub(crate) fn at(path: &Path, e: std::io::Error) -> Failure {
    Failure(format!("{}: {e}", path.display()))
}

/// A one-line progress counter on stderr, shown only on a terminal.
pub(crate) struct Progress {
    verb: &'static str,
    terminal: bool,
    shown: bool,
}

impl Progress {
    pub(crate) fn new(verb: &'static str) -> Self {
        Progress { verb, terminal: std::io::stderr().is_terminal(), shown: false }
    }

    pub(crate) fn show(&mut self, events: u64) {
        if self.terminal {
            eprint!("\r{} {events} events", self.verb);
            let _ = std::io::stderr().flush();
            self.shown = true;
        }
    }

    /// A bar: `[#########...........] 120/249 imported`.
    pub(crate) fn show_of(&mut self, done: usize, total: usize) {
        if self.terminal {
            const WIDTH: usize = 30;
            let filled = (done * WIDTH).checked_div(total).unwrap_or(WIDTH);
            eprint!("\r[{}{}] {done}/{total} {}", "#".repeat(filled), ".".repeat(WIDTH - filled), self.verb);
            let _ = std::io::stderr().flush();
            self.shown = true;
        }
    }

    pub(crate) fn done(&mut self) {
        if self.shown {
            eprintln!();
            self.shown = false;
        }
    }
}

impl Location<'_> {
    /// With the log in PostgreSQL, a data directory is this process's alone (the embedded store
    /// takes the same lock itself).
    pub(crate) fn lock_local_dir(&self) -> Result<Option<std::fs::File>, Failure> {
        match self {
            Location::Postgres { dir: Some(dir), .. } => Ok(Some(store_sled::lock_data_dir(dir)?)),
            _ => Ok(None),
        }
    }
}

impl StoreArgs {
    pub(crate) fn location(&self) -> Location<'_> {
        match &self.store {
            Some(url) => Location::Postgres { url, dir: self.data_dir.clone() },
            None => {
                Location::Embedded(self.data_dir.clone().unwrap_or_else(|| PathBuf::from(DATA_DIR_DEFAULT)))
            }
        }
    }

    /// Opens the log: PostgreSQL when `--store` names it, else the embedded store in
    /// `--data-dir` (which must exist already unless `create`).
    pub(crate) async fn open(&self, create: bool) -> Result<Arc<dyn EventStore>, Failure> {
        match self.location() {
            Location::Postgres { url, .. } => open_location(url, create).await,
            Location::Embedded(dir) => open_location(&dir.display().to_string(), create).await,
        }
    }
}

/// A store by location: a `postgres://` URL or a data directory.
pub(crate) async fn open_location(location: &str, create: bool) -> Result<Arc<dyn EventStore>, Failure> {
    if location.starts_with("postgres://") || location.starts_with("postgresql://") {
        let store = store_postgres::PgStore::open(store_postgres::PgConfig::new(location)).await?;
        return Ok(Arc::new(store));
    }
    let dir = Path::new(location);
    if !create {
        return Ok(Arc::new(open_existing(dir)?));
    }
    Ok(Arc::new(SledStore::open(SledConfig::new(dir))?))
}
