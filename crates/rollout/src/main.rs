//! `rollout`: the efa-rollout command line.

use std::io::{BufReader, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use store::{ndjson, verify_log, EventStore, VerifyError};
use store_sled::{SledConfig, SledStore};

// glibc's malloc triples the cost of reading the log (see BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// efa-rollout: the event-sourced rollout of online services (OZG, EfA) to a Land's municipal
/// administrations (one Land's profile is bundled; `rollout init --profile`).
#[derive(Parser, Debug)]
#[command(name = "rollout", version)]
struct Cli {
    /// Log output on stderr: `text` or `json` (one object per line). Level: ROLLOUT_LOG (e.g. `info`).
    #[arg(long, global = true, value_name = "FORMAT", env = "ROLLOUT_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    log_format: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the GraphQL API: POST /graphql, subscriptions on GET /graphql (WebSocket,
    /// graphql-transport-ws), the dashboard at /, /graphiql, /healthz, /readyz, /metrics, the
    /// programme report (/reports/programme.xlsx, .csv, .html) and every list as XLSX
    /// (/exports/rollouts.xlsx, events.xlsx, tasks.xlsx), with the bearer token. An empty
    /// store is initialised with the bundled workflow definitions and the Land profile's catalogue (--profile),
    /// and an admin token is written to DIR/admin.token (mode 0600); its path is printed, never
    /// the token. With --store and no --data-dir nothing is written locally: the token is printed
    /// once on stdout and the read-model checkpoint is kept in the database.
    Serve {
        #[command(flatten)]
        store: StoreArgs,
        /// Address to listen on (port 0: any free port; the address is printed).
        #[arg(long, value_name = "ADDR", env = "ROLLOUT_LISTEN", default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// On an empty store, also generate a demo history: three EfA services rolled out to
        /// every administration they apply to (one on the federal variant, FIT-Connect and
        /// OSCI/XTA routes), progressed by several people and an automation token, some blocked
        /// and some overdue; and a form-server assistant, the association's model released and set up
        /// for its members.
        #[arg(long, env = "ROLLOUT_DEMO")]
        demo: bool,
        /// MiB of the embedded store's index cache (sled holds only the indexes; events are read
        /// from the segment files through the operating system's file cache). Resident memory
        /// grows with it; rebuilds, audit pages and appends measured the same with 32 and
        /// 256 MiB on a log of a million events.
        #[arg(
            long,
            value_name = "MIB",
            env = "ROLLOUT_SLED_CACHE_MB",
            default_value_t = store_sled::CACHE_BYTES_DEFAULT >> 20
        )]
        sled_cache_mb: u64,
        /// MiB that must stay free on the data directory's filesystem: below it the embedded
        /// store refuses writes (`UNAVAILABLE`, `/readyz` 503 naming the cause) before the disk
        /// is completely full, and takes them again by itself once there is room. 0: only a
        /// failed write stops them.
        #[arg(
            long,
            value_name = "MIB",
            env = "ROLLOUT_MIN_FREE_MB",
            default_value_t = store_sled::MIN_FREE_BYTES_DEFAULT >> 20
        )]
        min_free_mb: u64,
        /// Erase every person this long after the day they left their administration
        /// (`recordPersonLeft`): `P2Y`, `P18M` or `P90D`. The policy runs at start and every
        /// hour; each erasure is a `PersonErased` by the system naming the period, like a
        /// manual one. Without it persons are erased only by `erasePerson`.
        #[arg(long, value_name = "PERIOD", env = "ROLLOUT_PERSON_RETENTION", value_parser = parse_retention)]
        person_retention: Option<engine::Retention>,
        /// Connections open at once, WebSockets included; one more is answered 503 with
        /// Retry-After. Lowered to fit the open-file limit (raised to its hard limit at start).
        #[arg(long, value_name = "N", env = "ROLLOUT_CONNECTIONS_MAX", default_value_t = api::limits::CONNECTIONS_MAX)]
        connections_max: usize,
        /// Connections open at once from one IP address (behind a reverse proxy: raise it, or let
        /// the proxy limit per client).
        #[arg(
            long,
            value_name = "N",
            env = "ROLLOUT_CONNECTIONS_PER_PEER_MAX",
            default_value_t = api::limits::CONNECTIONS_PER_PEER_MAX
        )]
        connections_per_peer_max: usize,
        /// New connections per second from one IP address (five seconds' worth at once); more
        /// are answered 503 with Retry-After. 0 (the default): no limit — a reverse proxy in front
        /// is one address; set it where clients connect directly.
        #[arg(
            long,
            value_name = "N",
            env = "ROLLOUT_CONNECTIONS_PER_PEER_PER_SECOND",
            default_value_t = 0.0
        )]
        connections_per_peer_per_second: f64,
        /// Writes (mutation fields) per second one token may make, sustained; five seconds'
        /// worth at once. More are refused with LIMIT_EXCEEDED and retryAfterSeconds. Admin
        /// tokens are not limited. 0: no limit.
        #[arg(long, value_name = "N", env = "ROLLOUT_WRITE_RATE_PER_TOKEN", default_value_t = api::rates::WriteLimits::default().per_token_per_second)]
        write_rate_per_token: f64,
        /// Writes one token may make in a day (refilled evenly over 24 hours). 0: no limit.
        #[arg(long, value_name = "N", env = "ROLLOUT_WRITES_PER_TOKEN_PER_DAY", default_value_t = api::rates::WriteLimits::default().per_token_per_day)]
        writes_per_token_per_day: f64,
        /// Writes per second the staff tokens of one administration may make together. 0: no
        /// limit.
        #[arg(long, value_name = "N", env = "ROLLOUT_WRITE_RATE_PER_AUTHORITY", default_value_t = api::rates::WriteLimits::default().per_authority_per_second)]
        write_rate_per_authority: f64,
        /// A bearer token /metrics asks for (Prometheus: `authorization: { credentials: … }`);
        /// without it /metrics is open to whoever reaches the port.
        #[arg(long, value_name = "TOKEN", env = "ROLLOUT_METRICS_TOKEN", hide_env_values = true)]
        metrics_token: Option<String>,
        /// The Land's profile an empty store is initialised with: a bundled one (`brandenburg`,
        /// the default) or a profile file (see `rollout init`). A store initialised with
        /// another profile is refused.
        #[arg(long, value_name = "NAME|FILE", env = "ROLLOUT_PROFILE")]
        profile: Option<String>,
    },
    /// Initialise an empty store for a Land: its profile (stored in the log), the bundled
    /// workflow definitions, the profile's catalogue and an admin token (DIR/admin.token, or
    /// printed once without a data directory). `rollout serve` does the same on its first start
    /// with the default profile. A profile is a bundled one by name or a profile file
    /// (`data/brandenburg.profile.toml` shows the format: the Land's and the association's
    /// keys and names, the report's title, the catalogue's files, the administrations' centres
    /// and the map layers, paths relative to the file's directory).
    Init {
        #[command(flatten)]
        store: StoreArgs,
        /// The profile: a bundled one (`brandenburg`) or the path of a profile file.
        #[arg(long, value_name = "NAME|FILE", default_value = "brandenburg")]
        profile: String,
    },
    /// API tokens (while `rollout serve` runs, use the issueToken / revokeToken mutations).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Workflow definitions (the TOML files in workflows/).
    #[command(subcommand)]
    Workflow(WorkflowCommand),
    /// Reference data: administrations and services.
    #[command(subcommand)]
    Catalog(CatalogCommand),
    /// Rollouts of a service.
    #[command(subcommand)]
    Service(ServiceCommand),
    /// Recompute the hash chain of the whole log; name the first bad position and exit non-zero.
    Verify {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Drop the read models and rebuild them from the log (with a progress bar on a terminal);
    /// the result is written as the checkpoint DIR/readmodel.checkpoint that the server resumes from
    /// (with --store and no --data-dir: into the database, where such servers read it).
    Rebuild {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Personal data in the log (the persons' values are encrypted; this finds older plain text).
    #[command(subcommand)]
    PersonalData(PersonalDataCommand),
    /// Copy the whole log from one store to another (a data directory or a postgres:// URL),
    /// e.g. to move to PostgreSQL. The target must be empty; the copy is verified there.
    #[command(subcommand)]
    Store(StoreCommand),
    /// Write the whole log as NDJSON (one event per line, hashes included).
    Export {
        #[command(flatten)]
        store: StoreArgs,
        /// Write to FILE instead of standard output (written to FILE.partial, then renamed).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Also write the keys of the persons not erased to FILE (created new, mode 0600: it
        /// opens their names, e-mail addresses and phone numbers; keep it apart from the
        /// export and destroy it with the backup). Without it the export holds the personal
        /// values only as ciphertext, which an import shows as unavailable.
        #[arg(long, value_name = "FILE")]
        keys: Option<PathBuf>,
    },
    /// Load an NDJSON export into an empty store. The whole file is checked first; a broken,
    /// reordered or altered file is refused with its line number and nothing is written.
    Import {
        #[command(flatten)]
        store: StoreArgs,
        /// The NDJSON file, as `rollout export` writes it.
        file: PathBuf,
        /// The keys file `rollout export --keys` wrote: persons' values become readable.
        #[arg(long, value_name = "FILE")]
        keys: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum WorkflowCommand {
    /// Validate definition files: every problem is printed as FILE:LINE:COLUMN: message.
    /// Exit code 0 only when every file is valid. `land:` dependencies are checked against a
    /// Land-level definition given in the same call. A variant (`extends = "ID@VERSION"`) is
    /// checked merged with its base (a file of the same call, or a bundled definition); a
    /// problem in the base is printed at the base's line.
    Check {
        /// The definition files.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Publish a definition file into the log (`DefinitionPublished`): checked like `check`
    /// (the `land:` dependencies against the Land definitions the log knows), nothing appended
    /// on a problem. A changed text under a published version is refused (a new wording is a
    /// new version), an older version than the newest is refused, the same text again appends
    /// nothing. While `rollout serve` holds the embedded store, use its publishDefinition
    /// mutation instead.
    Publish {
        #[command(flatten)]
        store: StoreArgs,
        /// The definition file.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Why it is published (kept in the log).
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand, Debug)]
enum PersonalDataCommand {
    /// List where the log holds personal data in plain text, as a store written before persons
    /// were records does: contact-like text and e-mail evidence, actors' display names, token
    /// names. One line per place (position, stream, event type, what), never the value; the log
    /// is not changed (README, "Personal data in older stores", says what an operator can do).
    Find {
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Subcommand, Debug)]
enum StoreCommand {
    /// Copy every event, hashes included, to an empty target and verify the chain there. The
    /// keys of persons' data are copied along, before the events.
    ///
    /// With --re-key, a store written before persons were records becomes a new chain without
    /// its plain-text names: contact names in evidence and actors' display names are registered
    /// as persons (encrypted, erasable) and the events name them by id. The source is not
    /// changed; the copy's first event (StoreCopied) records the source's head position and
    /// hash, so the copy is linked to the original. Run `rollout personal-data find` on the
    /// copy for what remains (README, "Personal data in older stores").
    Copy {
        /// The source: a data directory or a postgres:// URL.
        #[arg(long, value_name = "DIR_OR_URL")]
        from: String,
        /// The target (must be empty): a data directory or a postgres:// URL.
        #[arg(long, value_name = "DIR_OR_URL")]
        to: String,
        /// Move plain-text personal data into persons: a new chain, linked to the source.
        #[arg(long)]
        re_key: bool,
    },
}

#[derive(Subcommand, Debug)]
enum TokenCommand {
    /// Issue a token; it is printed once on stdout and stored only as a hash.
    Create {
        #[command(flatten)]
        store: StoreArgs,
        /// Whose it is.
        #[arg(long)]
        name: String,
        /// admin, project-manager, authority-staff, automation or auditor.
        #[arg(long)]
        role: String,
        /// For authority-staff: an administration (ARS) it may act for; repeatable.
        #[arg(long = "authority", value_name = "ARS")]
        authorities: Vec<String>,
        /// For automation: a service key it may act for; repeatable.
        #[arg(long = "service", value_name = "KEY")]
        services: Vec<String>,
        /// Why it is issued (kept in the audit log).
        #[arg(long, default_value = "issued on the command line")]
        reason: String,
    },
    /// Revoke a token by its id.
    Revoke {
        #[command(flatten)]
        store: StoreArgs,
        /// The token id (as `issueToken` or `token create` reported it).
        id: String,
        /// Why.
        #[arg(long, default_value = "revoked on the command line")]
        reason: String,
    },
}

#[derive(Subcommand, Debug)]
enum CatalogCommand {
    /// Import the reference data files of DIR, or the built-in copy of data/ (brandenburg_verwaltungstraeger.csv,
    /// brandenburg_gemeinden.csv, efa_services.csv, brandenburg_gebietsaenderungen_2021_2025.csv;
    /// the product's copy is data/). Every row is checked first: one bad row imports nothing and
    /// is named with file, line and column. Importing the same files again appends nothing; a
    /// changed row appends one change event; a dissolved administration's rollouts move to its
    /// successor.
    Import {
        #[command(flatten)]
        store: StoreArgs,
        /// The folder with the data files; without it, the copy of data/ built into the binary.
        dir: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum ServiceCommand {
    /// Start the rollout of a service for every administration it applies to (by its
    /// responsible level), and its Land-level rollout. Existing rollouts are left alone, so
    /// repeating it changes nothing.
    Start {
        #[command(flatten)]
        store: StoreArgs,
        /// The service key, e.g. `wohngeld`.
        key: String,
    },
}

#[derive(Args, Debug)]
struct StoreArgs {
    /// The data directory: the embedded store, and the server's local files (admin token,
    /// read-model checkpoint) [default: ./rollout-data]. With --store it is optional: without it
    /// the read-model checkpoint is kept in the database and the first admin token is printed
    /// once, so servers on one database need no writable local directory.
    #[arg(long, value_name = "DIR", env = "ROLLOUT_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Keep the log in PostgreSQL instead (`postgres://user@host:port/database`); several
    /// servers may share it.
    #[arg(long, value_name = "URL", env = "ROLLOUT_STORE")]
    store: Option<String>,
}

/// Where the log and the process's local files are, as the arguments say.
enum Location<'a> {
    /// The embedded store in this data directory (with the local files).
    Embedded(PathBuf),
    /// The log in PostgreSQL; the local files in `dir`, or none (the checkpoint in the database).
    Postgres { url: &'a str, dir: Option<PathBuf> },
}

impl Location<'_> {
    /// With the log in PostgreSQL, a data directory is this process's alone (the embedded store
    /// takes the same lock itself).
    fn lock_local_dir(&self) -> Result<Option<std::fs::File>, Failure> {
        match self {
            Location::Postgres { dir: Some(dir), .. } => Ok(Some(store_sled::lock_data_dir(dir)?)),
            _ => Ok(None),
        }
    }
}

impl StoreArgs {
    fn location(&self) -> Location<'_> {
        match &self.store {
            Some(url) => Location::Postgres { url, dir: self.data_dir.clone() },
            None => {
                Location::Embedded(self.data_dir.clone().unwrap_or_else(|| PathBuf::from(DATA_DIR_DEFAULT)))
            }
        }
    }

    /// Opens the log: PostgreSQL when `--store` names it, else the embedded store in
    /// `--data-dir` (which must exist already unless `create`).
    async fn open(&self, create: bool) -> Result<Arc<dyn EventStore>, Failure> {
        match self.location() {
            Location::Postgres { url, .. } => open_location(url, create).await,
            Location::Embedded(dir) => open_location(&dir.display().to_string(), create).await,
        }
    }
}

/// A store by location: a `postgres://` URL or a data directory.
async fn open_location(location: &str, create: bool) -> Result<Arc<dyn EventStore>, Failure> {
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

mod demo;
mod first_start;
mod profile;
mod serve;

/// The read models' checkpoint in the data directory (binary: `projections::checkpoint`).
const READ_MODEL_FILE: &str = "readmodel.checkpoint";

/// The checkpoint's place in `dir`. A JSON checkpoint of earlier builds (`readmodel.json`, an
/// older schema, which this build rebuilds anyway) is removed so it does not lie there for good.
fn checkpoint_file(dir: &Path) -> PathBuf {
    let legacy = dir.join("readmodel.json");
    match std::fs::remove_file(&legacy) {
        Ok(()) => tracing::info!(file = %legacy.display(), "removed the checkpoint of an earlier build"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            tracing::warn!(file = %legacy.display(), error = %e, "cannot remove the checkpoint of an earlier build")
        }
    }
    dir.join(READ_MODEL_FILE)
}

/// The data directory when none is given (and the log is not in PostgreSQL).
const DATA_DIR_DEFAULT: &str = "./rollout-data";

/// A failure to report: one line on stderr, exit code 1.
struct Failure(String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure(e.to_string())
    }
}

fn main() -> ExitCode {
    // Never `eprintln!` here: on a full disk (stderr redirected to a file there) it would panic
    // inside the panic hook, and the process would abort.
    std::panic::set_hook(Box::new(|info| {
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "error: internal error ({info}); please report this");
    }));
    let cli = Cli::parse();
    let default_level = if matches!(cli.command, Command::Serve { .. }) { "info" } else { "warn" };
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("ROLLOUT_LOG").unwrap_or_else(|_| default_level.into());
    // A log line that cannot be written (a full disk) is dropped: the subscriber's own report of
    // that would `eprintln!`, which panics when stderr fails too.
    let logs = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter)
        .log_internal_errors(false);
    if cli.log_format == "json" {
        logs.json().init();
    } else {
        logs.init();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(message)) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> Result<(), Failure> {
    match command {
        Command::Serve {
            store,
            listen,
            demo,
            sled_cache_mb,
            min_free_mb,
            person_retention,
            connections_max,
            connections_per_peer_max,
            connections_per_peer_per_second,
            write_rate_per_token,
            writes_per_token_per_day,
            write_rate_per_authority,
            metrics_token,
            profile,
        } => {
            let options = serve::Options {
                listen,
                demo,
                sled_cache_bytes: sled_cache_mb << 20,
                min_free_bytes: min_free_mb << 20,
                person_retention,
                connections: api::listener::ConnectionLimits {
                    total_max: connections_max,
                    per_peer_max: connections_per_peer_max,
                    per_peer_per_second: connections_per_peer_per_second,
                },
                writes: api::rates::WriteLimits {
                    per_token_per_second: write_rate_per_token,
                    per_token_per_day: writes_per_token_per_day,
                    per_authority_per_second: write_rate_per_authority,
                },
                metrics_token,
                profile,
            };
            serve::run(&store, options).await
        }
        Command::Init { store, profile } => first_start::init(&store, &profile).await,
        Command::Workflow(WorkflowCommand::Check { files }) => check_workflows(&files),
        Command::Workflow(WorkflowCommand::Publish { store, file, reason }) => {
            let name = file.display().to_string();
            let bytes = read_limited(&file).map_err(|e| Failure(format!("{name}: {e}")))?;
            let text = String::from_utf8(bytes)
                .map_err(|e| Failure(format!("{name}: the file is not UTF-8 text ({e})")))?;
            let engine = open_for_writes(&store, "its publishDefinition mutation").await?;
            engine.publish_bundled().await?;
            match engine.publish_definition(&text, &reason, &cli_request()).await {
                Ok(engine::Published { entry, event }) => {
                    let d = &entry.definition;
                    match event {
                        Some(e) => println!("published {}@{} at position {}", d.id, d.version, e.position),
                        None => println!(
                            "{}@{} is published with this text already; nothing appended",
                            d.id, d.version
                        ),
                    }
                    Ok(())
                }
                Err(engine::EngineError::Publish(workflow::registry::PublishError::Invalid(diags))) => {
                    for d in &diags {
                        eprintln!("{}", engine.registry().render(d, &name, &text));
                    }
                    Err(Failure(format!("{} problem(s) in {name}; nothing was published", diags.len())))
                }
                Err(e) => Err(Failure(format!("{name}: {e}"))),
            }
        }
        Command::Token(TokenCommand::Create { store, name, role, authorities, services, reason }) => {
            let role = engine::TokenRole::from_name(&role).ok_or_else(|| {
                Failure(format!("unknown role `{role}`; roles are {}", engine::TokenRole::NAMES.join(", ")))
            })?;
            let engine =
                open_for_writes(&store, "its issueToken / revokeToken mutations with the admin token")
                    .await?;
            let spec = engine::TokenSpec { name, role, authorities, services, person: None, reason };
            let engine::NewToken { issued, secret, .. } = engine.issue_token(spec, &cli_request()).await?;
            eprintln!("token {} ({}) issued; it is shown only now:", issued.token_id, issued.role.name());
            println!("{secret}");
            Ok(())
        }
        Command::Token(TokenCommand::Revoke { store, id, reason }) => {
            let token_id =
                uuid::Uuid::try_parse(&id).map_err(|_| Failure(format!("`{id}` is not a token id")))?;
            let engine =
                open_for_writes(&store, "its issueToken / revokeToken mutations with the admin token")
                    .await?;
            engine.revoke_token(token_id, &reason, &cli_request()).await?;
            println!("token {token_id} revoked");
            Ok(())
        }
        Command::Catalog(CatalogCommand::Import { store, dir }) => {
            // The files are read as the store's profile names them (a store not made yet: the
            // default profile's) before anything is created or written.
            let existing = match store.open(false).await {
                Ok(opened) => Some(engine_over(opened).await?),
                Err(_) => None,
            };
            let stored = match &existing {
                Some(engine) => engine.profile(),
                None => crate::profile::load(catalog::profile::DEFAULT)?.stored,
            };
            let data = match &dir {
                Some(dir) => read_dataset(dir, &stored)?,
                None => {
                    let bundled = catalog::Profile::bundled(&stored.key).ok_or_else(|| {
                        Failure(format!("the store's profile `{}` is not bundled: name the folder of its files", stored.key))
                    })?;
                    catalog::parse_dataset(&bundled.files).map_err(|errors| {
                        Failure(format!(
                            "the built-in data is invalid: {}",
                            errors.first().map(|e| e.to_string()).unwrap_or_default()
                        ))
                    })?
                }
            };
            let engine = match existing {
                Some(engine) => engine,
                None => open_engine(&store).await?,
            };
            let mut progress = Progress::new("imported");
            let report = engine
                .import_catalog(&data, &cli_request(), |done, total| progress.show_of(done, total))
                .await?;
            progress.done();
            println!("imported: {} events", report.events);
            for d in &report.dissolutions {
                println!(
                    "dissolved {}: {} rollouts moved to successors, {} ended",
                    d.ars,
                    d.moved.len(),
                    d.closed.len()
                );
            }
            Ok(())
        }
        Command::Service(ServiceCommand::Start { store, key }) => {
            let engine = open_engine(&store).await?;
            let summary = engine.start_service(&key, &cli_request()).await?;
            println!(
                "started {} rollouts of `{key}`; {} existed already",
                summary.started.len(),
                summary.existing.len()
            );
            Ok(())
        }
        Command::PersonalData(PersonalDataCommand::Find { store }) => {
            let store = store.open(false).await?;
            let registry = engine::definitions::bundled().map_err(Failure)?;
            let head = store.head().await?.position;
            let mut progress = Progress::new("events read");
            let findings = engine::plaintext::find_plaintext(&*store, &registry, |n| {
                progress.show_of(n as usize, head as usize)
            })
            .await?;
            progress.done();
            let mut out = BufWriter::new(std::io::stdout().lock());
            for f in &findings {
                // A closed output (a pager quit) ends the listing, not the process with a panic.
                if writeln!(out, "{}\t{}\t{}\t{}", f.position, f.stream_id, f.event_type, f.what).is_err() {
                    break;
                }
            }
            let _ = out.flush();
            eprintln!(
                "{} places of personal data in plain text (or values that may be) in {head} events",
                findings.len()
            );
            Ok(())
        }
        Command::Verify { store } => {
            let store = store.open(false).await?;
            let mut progress = Progress::new("verified");
            match verify_log(&*store, |n| progress.show(n)).await {
                Ok(report) => {
                    progress.done();
                    println!("ok: {} events, head hash {}", report.events, report.head.hash);
                    Ok(())
                }
                Err(VerifyError::Broken { position, reason }) => {
                    progress.done();
                    Err(Failure(format!("the log is broken at position {position}: {reason}")))
                }
                Err(VerifyError::Store(e)) => Err(e.into()),
            }
        }
        Command::Store(StoreCommand::Copy { from, to, re_key }) => {
            let source = open_location(&from, false).await?;
            let target = open_location(&to, true).await?;
            let existing = target.head().await?.position;
            if existing != 0 {
                return Err(Failure(format!(
                    "the target {to} is not empty (it holds {existing} events); nothing was copied"
                )));
            }
            let keys = copy_keys(&*source, &*target).await?;
            if re_key {
                return rekeyed_copy(&*source, &*target, keys).await;
            }
            let head = source.head().await?;
            let mut progress = Progress::new("events copied");
            let mut next = 1;
            loop {
                let page = source.read_all(next, store::limits::EVENTS_PER_APPEND_MAX).await?;
                let Some(last) = page.last() else { break };
                next = last.position + 1;
                target.append_recorded(page).await?;
                progress.show_of((next - 1) as usize, head.position as usize);
            }
            progress.done();
            let report = verify_log(&*target, |_| {})
                .await
                .map_err(|e| Failure(format!("the copy does not verify: {e}")))?;
            if report.head.hash != head.hash {
                return Err(Failure("the copy's head hash differs from the source's".into()));
            }
            println!(
                "copied {} events and {keys} persons' keys; the chain verifies at the target (head hash {})",
                report.events, report.head.hash
            );
            Ok(())
        }
        Command::Rebuild { store } => {
            // With the log elsewhere a data directory, if given, still holds this process's
            // checkpoint; without one the checkpoint is the database's.
            let location = store.location();
            let _lock = location.lock_local_dir()?;
            let (log, place): (Arc<dyn EventStore>, projections::CheckpointPlace) = match location {
                Location::Embedded(dir) | Location::Postgres { dir: Some(dir), .. } => {
                    let checkpoint = checkpoint_file(&dir);
                    match std::fs::remove_file(&checkpoint) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => return Err(at(&checkpoint, e)),
                    }
                    (store.open(false).await?, projections::CheckpointPlace::File(checkpoint))
                }
                Location::Postgres { url, dir: None } => {
                    let pg =
                        Arc::new(store_postgres::PgStore::open(store_postgres::PgConfig::new(url)).await?);
                    (pg.clone(), projections::CheckpointPlace::Store(pg))
                }
            };
            let head = log.head().await?.position;
            let registry = engine::definitions::bundled().map_err(Failure)?;
            let mut progress = Progress::new("events folded");
            let model = projections::fold(&log, &registry, projections::Cut::Everything, |n| {
                progress.show_of(n as usize, head as usize)
            })
            .await
            .map_err(|e| Failure(e.to_string()))?;
            progress.done();
            let kept_at = match &place {
                projections::CheckpointPlace::File(checkpoint) => {
                    projections::checkpoint::write(&model, checkpoint)
                        .map_err(|e| at(checkpoint, std::io::Error::other(e.to_string())))?;
                    checkpoint.display().to_string()
                }
                projections::CheckpointPlace::Store(blobs) => {
                    let bytes =
                        projections::checkpoint::to_bytes(&model).map_err(|e| Failure(e.to_string()))?;
                    let name = projections::checkpoint::blob_name();
                    blobs.put(&name, &bytes).await?;
                    format!("`{name}` in the database ({} bytes)", bytes.len())
                }
            };
            println!(
                "rebuilt read models: {} events, {} rollouts; checkpoint {kept_at}",
                model.position,
                model.rollout_count(),
            );
            Ok(())
        }
        Command::Export { store, out, keys } => {
            let store = store.open(false).await?;
            if let Some(path) = &keys {
                let written = export_keys(&*store, path).await?;
                eprintln!("wrote the keys of {written} persons to {} (mode 0600)", path.display());
            }
            let mut progress = Progress::new("exported");
            let count = match out {
                None => {
                    let stdout = std::io::stdout();
                    let mut writer = BufWriter::new(stdout.lock());
                    ndjson::export(&*store, &mut writer, |_| {}).await?
                }
                // A device or pipe (`/dev/null`, a FIFO) is written as it is: renaming a partial
                // file over it would replace it.
                Some(path) if std::fs::metadata(&path).is_ok_and(|m| !m.is_file()) => {
                    let file =
                        std::fs::OpenOptions::new().write(true).open(&path).map_err(|e| at(&path, e))?;
                    let mut writer = BufWriter::new(file);
                    let count = ndjson::export(&*store, &mut writer, |n| progress.show(n)).await?;
                    writer.flush().map_err(|e| at(&path, e))?;
                    progress.done();
                    count
                }
                Some(path) => {
                    let partial = path.with_extension("partial");
                    let result = async {
                        let file = std::fs::File::create(&partial).map_err(|e| at(&partial, e))?;
                        let mut writer = BufWriter::new(file);
                        let count = ndjson::export(&*store, &mut writer, |n| progress.show(n)).await?;
                        let file = writer.into_inner().map_err(|e| at(&partial, e.into_error()))?;
                        file.sync_all().map_err(|e| at(&partial, e))?;
                        std::fs::rename(&partial, &path).map_err(|e| at(&path, e))?;
                        Ok::<_, Failure>(count)
                    }
                    .await;
                    if result.is_err() {
                        let _ = std::fs::remove_file(&partial);
                    }
                    progress.done();
                    result?
                }
            };
            // The head's hash: an auditor compares it with an earlier printout (the report and
            // the dashboard show it too).
            let head = store.head().await?;
            eprintln!("exported {count} events; head: position {}, hash {}", head.position, head.hash);
            Ok(())
        }
        Command::Import { store, file, keys } => {
            std::fs::File::open(&file).map_err(|e| at(&file, e))?;
            let keys = keys.map(|path| read_keys(&path)).transpose()?;
            let store = store.open(true).await?;
            let mut progress = Progress::new("imported");
            let open = || std::fs::File::open(&file).map(BufReader::new);
            let count = ndjson::import(&*store, open, |n| progress.show(n)).await.map_err(|e| match e {
                ndjson::NdjsonError::Line { line, reason } => {
                    Failure(format!("{}:{line}: {reason}; nothing was imported", file.display()))
                }
                other => Failure(format!("{}: {other}", file.display())),
            })?;
            progress.done();
            println!("imported {count} events");
            let persons = registered_persons(&*store).await?;
            match keys {
                Some(keys) => {
                    let imported = keys.len();
                    store_keys(&*store)?.insert(keys).await?;
                    println!("imported the keys of {imported} persons");
                }
                None if persons > 0 => println!(
                    "the log names {persons} persons not erased; without their keys (--keys) their values read as {}",
                    engine::persons::UNAVAILABLE_TEXT
                ),
                None => {}
            }
            Ok(())
        }
    }
}

fn parse_retention(text: &str) -> Result<engine::Retention, String> {
    text.parse()
}

/// The key store beside a store's log.
fn store_keys(store: &dyn EventStore) -> Result<Arc<dyn store::KeyStore>, Failure> {
    store.key_store().ok_or_else(|| Failure("this store keeps no keys".into()))
}

/// The keys of the persons `store`'s log registers and has not erased (not a key whose erasure a
/// crash cut short, which the next server start destroys; not one whose registration never
/// reached the log).
async fn keys_not_erased(store: &dyn EventStore) -> Result<Vec<(uuid::Uuid, store::Key)>, Failure> {
    let persons = engine::PersonRegistry::read(store).await?;
    let keys = store_keys(store)?.all().await?;
    Ok(keys.into_iter().filter(|(id, _)| persons.get(*id).is_some_and(|p| p.erased.is_none())).collect())
}

/// Copies the keys of `from`'s persons not erased to `to`'s key store; returns how many.
async fn copy_keys(from: &dyn EventStore, to: &dyn EventStore) -> Result<usize, Failure> {
    let keys = keys_not_erased(from).await?;
    let count = keys.len();
    store_keys(to)?.insert(keys).await?;
    Ok(count)
}

/// `store copy --re-key` after the keys are copied: the copy, verified, and what it did.
async fn rekeyed_copy(source: &dyn EventStore, target: &dyn EventStore, keys: usize) -> Result<(), Failure> {
    let by = store::Actor::named("cli:store-copy", "rollout store copy --re-key", store::ActorKind::System);
    let mut progress = Progress::new("events copied");
    let report =
        engine::rekey::rekeyed_copy(source, target, &by, |n, of| progress.show_of(n as usize, of as usize))
            .await?;
    progress.done();
    let verified =
        verify_log(target, |_| {}).await.map_err(|e| Failure(format!("the copy does not verify: {e}")))?;
    if verified.head != report.head {
        return Err(Failure("the copy's head differs from the one written".into()));
    }
    let source_head = source.head().await?;
    println!(
        "copied {} events and {keys} persons' keys, re-keyed: {} persons registered, {} evidence values moved \
         ({} fields); the copy's chain verifies (head hash {}); its first event records the source's head \
         (position {}, hash {})",
        report.events_copied,
        report.persons_registered,
        report.values_moved,
        report.person_fields.len(),
        verified.head.hash,
        source_head.position,
        source_head.hash
    );
    Ok(())
}

/// Writes the keys of `store` to a new file of mode 0600; returns how many.
async fn export_keys(store: &dyn EventStore, path: &Path) -> Result<usize, Failure> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let keys = keys_not_erased(store).await?;
    let mut file = std::fs::File::options()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| at(path, e))?;
    let mut text = zeroize::Zeroizing::new(String::new());
    text.push_str("# efa-rollout persons' keys: <person id> <key>. Opens personal data: keep apart, destroy with the backup.\n");
    for (id, key) in &keys {
        text.push_str(&store::keys::key_line(*id, key));
        text.push('\n');
    }
    file.write_all(text.as_bytes()).map_err(|e| at(path, e))?;
    file.sync_all().map_err(|e| at(path, e))?;
    Ok(keys.len())
}

/// Reads a keys file of `export_keys`; a bad line is named.
fn read_keys(path: &Path) -> Result<Vec<(uuid::Uuid, store::Key)>, Failure> {
    let text = zeroize::Zeroizing::new(std::fs::read_to_string(path).map_err(|e| at(path, e))?);
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty() && !line.starts_with('#'))
        .map(|(i, line)| {
            store::keys::parse_key_line(line)
                .map_err(|e| Failure(format!("{}:{}: {e}", path.display(), i + 1)))
        })
        .collect()
}

/// Persons registered and not erased in `store`'s log.
async fn registered_persons(store: &dyn EventStore) -> Result<usize, Failure> {
    let persons = engine::PersonRegistry::read(store).await?;
    Ok(persons.all().iter().filter(|p| p.erased.is_none()).count())
}

fn check_workflows(files: &[PathBuf]) -> Result<(), Failure> {
    let mut problems = 0usize;
    let mut texts = Vec::new();
    for path in files {
        let name = path.display().to_string();
        match read_limited(path) {
            Ok(bytes) => texts.push((name, bytes)),
            Err(e) => {
                eprintln!("{name}: {e}");
                problems += 1;
            }
        }
    }
    // A variant's base: a file of this call, or a bundled definition.
    let bases: Vec<(String, String)> = engine::definitions::BUNDLED
        .iter()
        .map(|(name, text)| (name.to_string(), text.to_string()))
        .chain(texts.iter().filter_map(|(name, bytes)| {
            let text = std::str::from_utf8(bytes).ok()?;
            workflow::parse(bytes).ok().map(|_| (name.clone(), text.to_owned()))
        }))
        .collect();
    let mut unique: std::collections::BTreeMap<(String, u32), (&str, &str)> =
        std::collections::BTreeMap::new();
    for (name, text) in &bases {
        if let Ok(d) = workflow::parse(text.as_bytes()) {
            unique.insert((d.id, d.version), (name.as_str(), text.as_str()));
        }
    }
    let registry =
        workflow::Registry::with_bundled(&unique.into_values().collect::<Vec<_>>()).map_err(Failure)?;
    let mut valid = Vec::new();
    for (name, bytes) in texts {
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let parsed = match workflow::extends::extends_of(&text) {
            Some(_) => registry.resolve(&text).map(|(d, _)| d),
            None => workflow::parse(&bytes),
        };
        match parsed {
            Ok(definition) => valid.push((name, definition, text)),
            Err(diagnostics) => {
                problems += diagnostics.len();
                for d in diagnostics {
                    eprintln!("{}", registry.render(&d, &name, &text));
                }
            }
        }
    }
    let refs: Vec<_> = valid.iter().map(|(_, d, text)| (d, text.as_str())).collect();
    for (i, d) in workflow::definition::check_land_references(&refs) {
        problems += 1;
        eprintln!("{}", d.render(&valid[i].0, &valid[i].2));
    }
    if problems > 0 {
        return Err(Failure(format!("{problems} problem(s) in {} file(s)", files.len())));
    }
    for (name, d, _) in &valid {
        println!(
            "ok: {name} ({} version {}, {} phases, {} steps)",
            d.id,
            d.version,
            d.phases.len(),
            d.steps.len()
        );
    }
    Ok(())
}

/// Reads a file, refusing one larger than a definition may be without reading it whole.
fn read_limited(path: &Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let max = workflow::limits::DEFINITION_BYTES_MAX as u64;
    let mut bytes = Vec::new();
    file.take(max + 1).read_to_end(&mut bytes).map_err(|e| e.to_string())?;
    if bytes.len() as u64 > max {
        return Err(format!("the file is larger than {max} bytes; a definition has at most that"));
    }
    Ok(bytes)
}

/// The principal of a command run on the machine itself: it has the data directory, so it may
/// do what an admin may.
fn cli_request() -> engine::Invocation {
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

/// The catalogue files of `dir`, named as the store's profile names them (a bundled profile's
/// names; the form-server programme's files are optional: a data folder of an earlier release).
fn read_dataset(dir: &Path, stored: &catalog::profile::StoredProfile) -> Result<catalog::Dataset, Failure> {
    let bundled = catalog::Profile::bundled(&stored.key).ok_or_else(|| {
        Failure(format!(
            "the store's profile `{}` is not bundled: import its files with `rollout init --profile FILE` on a new store",
            stored.key
        ))
    })?;
    let names = bundled.files.names.clone();
    let read = |name: &str| -> Result<Vec<u8>, Failure> {
        let path = dir.join(name);
        let meta = std::fs::metadata(&path).map_err(|e| at(&path, e))?;
        if meta.len() > catalog::limits::FILE_BYTES_MAX as u64 {
            return Err(Failure(format!(
                "{}: larger than {} bytes",
                path.display(),
                catalog::limits::FILE_BYTES_MAX
            )));
        }
        std::fs::read(&path).map_err(|e| at(&path, e))
    };
    let optional = |name: &str| {
        if !name.is_empty() && dir.join(name).exists() {
            read(name)
        } else {
            Ok(Vec::new())
        }
    };
    let files = catalog::Files {
        authorities: read(&names.authorities)?,
        municipalities: read(&names.municipalities)?,
        services: read(&names.services)?,
        changes: read(&names.changes)?,
        assistants: optional(&names.assistants)?,
        association: optional(&names.association)?,
        parties: bundled.files.parties,
        names,
    };
    catalog::parse_dataset(&files).map_err(|errors| {
        for e in &errors[1..] {
            eprintln!("{}/{e}", dir.display());
        }
        let more = if errors.len() > 1 {
            format!(" (and {} more problems above)", errors.len() - 1)
        } else {
            String::new()
        };
        Failure(format!("{}/{}{more}; nothing was imported", dir.display(), errors[0]))
    })
}

/// Opens the engine (creating the store when missing) with the bundled definitions published.
async fn open_engine(args: &StoreArgs) -> Result<engine::Engine, Failure> {
    engine_over(args.open(true).await?).await
}

/// The engine over an opened store, with the bundled definitions published.
async fn engine_over(store: Arc<dyn EventStore>) -> Result<engine::Engine, Failure> {
    let registry = engine::definitions::bundled().map_err(Failure)?;
    let engine = engine::Engine::open(store, Arc::new(registry)).await?;
    engine.publish_bundled().await?;
    Ok(engine)
}

/// Opens the engine of an existing store for a command that writes, naming `instead` (the
/// API's way) when the server holds the store.
async fn open_for_writes(args: &StoreArgs, instead: &str) -> Result<engine::Engine, Failure> {
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
fn open_existing(dir: &Path) -> Result<SledStore, Failure> {
    if !dir.join("log").is_dir() {
        return Err(Failure(format!(
            "there is no store in {} (use --data-dir, or create one with `rollout import`)",
            dir.display()
        )));
    }
    Ok(SledStore::open(SledConfig::new(dir))?)
}

fn at(path: &Path, e: std::io::Error) -> Failure {
    Failure(format!("{}: {e}", path.display()))
}

/// A one-line progress counter on stderr, shown only on a terminal.
struct Progress {
    verb: &'static str,
    terminal: bool,
    shown: bool,
}

impl Progress {
    fn new(verb: &'static str) -> Self {
        Progress { verb, terminal: std::io::stderr().is_terminal(), shown: false }
    }

    fn show(&mut self, events: u64) {
        if self.terminal {
            eprint!("\r{} {events} events", self.verb);
            let _ = std::io::stderr().flush();
            self.shown = true;
        }
    }

    /// A bar: `[#########...........] 120/249 imported`.
    fn show_of(&mut self, done: usize, total: usize) {
        if self.terminal {
            const WIDTH: usize = 30;
            let filled = (done * WIDTH).checked_div(total).unwrap_or(WIDTH);
            eprint!("\r[{}{}] {done}/{total} {}", "#".repeat(filled), ".".repeat(WIDTH - filled), self.verb);
            let _ = std::io::stderr().flush();
            self.shown = true;
        }
    }

    fn done(&mut self) {
        if self.shown {
            eprintln!();
            self.shown = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_earlier_builds_json_checkpoint_is_removed_and_the_binary_one_named() {
        let dir = tempfile::tempdir().expect("dir");
        let legacy = dir.path().join("readmodel.json");
        std::fs::write(&legacy, b"{\"schema\":3}\n{}").expect("write");
        assert_eq!(checkpoint_file(dir.path()), dir.path().join("readmodel.checkpoint"));
        assert!(!legacy.exists(), "the JSON checkpoint is gone");
        // Without one, nothing happens.
        assert_eq!(checkpoint_file(dir.path()), dir.path().join("readmodel.checkpoint"));
    }
}
