//! The command line's words: every command and its arguments (clap), and where a command's
//! store is.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// efa-rollout: the event-sourced rollout of online services (OZG, EfA) to a Land's municipal
/// administrations (one Land's profile is bundled; `rollout init --profile`).
#[derive(Parser, Debug)]
#[command(name = "rollout", version)]
pub(crate) struct Cli {
    /// Log output on stderr: `text` or `json` (one object per line). Level: ROLLOUT_LOG (e.g. `info`).
    #[arg(long, global = true, value_name = "FORMAT", env = "ROLLOUT_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub(crate) log_format: String,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Serve the GraphQL API: POST /graphql, subscriptions on GET /graphql (WebSocket,
    /// graphql-transport-ws), the dashboard at /, /graphiql, /healthz, /readyz, /metrics, the
    /// programme report (/reports/programme.xlsx, .csv, .html), an administration's Steckbrief
    /// (/reports/steckbrief/<ARS>.xlsx, .csv, .html) and every list as XLSX
    /// (/exports/rollouts.xlsx, events.xlsx, tasks.xlsx), with the bearer token. An empty
    /// store is initialised with the bundled workflow definitions and the Land profile's catalogue (--profile),
    /// and an admin token is written to DIR/admin.token (mode 0600); its path is printed, never
    /// the token. With --store and no --data-dir nothing is written locally: the token is printed
    /// once on stdout and the read-model checkpoint is kept in the database.
    Serve(ServeArgs),
    /// Initialise an empty store for a Land: its profile (stored in the log), the bundled
    /// workflow definitions, the profile's catalogue and an admin token (DIR/admin.token, or
    /// printed once without a data directory). `rollout serve` does the same on its first start
    /// with the default profile. A profile is a bundled one by name or a profile file
    /// (`data/brandenburg.profile.toml` shows the format: the Land's and the association's
    /// keys and names, the report's title, the catalogue's files, the administrations' centres
    /// and the map layers, paths relative to the file's directory).
    Init(InitArgs),
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
    Verify(VerifyArgs),
    /// Drop the read models and rebuild them from the log (with a progress bar on a terminal);
    /// the result is written as the checkpoint DIR/readmodel.checkpoint that the server resumes from
    /// (with --store and no --data-dir: into the database, where such servers read it).
    Rebuild(RebuildArgs),
    /// Personal data in the log (the persons' values are encrypted; this finds older plain text).
    #[command(subcommand)]
    PersonalData(PersonalDataCommand),
    /// Copy the whole log from one store to another (a data directory or a postgres:// URL),
    /// e.g. to move to PostgreSQL. The target must be empty; the copy is verified there.
    #[command(subcommand)]
    Store(StoreCommand),
    /// Write the whole log as NDJSON (one event per line, hashes included).
    Export(ExportArgs),
    /// Load an NDJSON export into an empty store. The whole file is checked first; a broken,
    /// reordered or altered file is refused with its line number and nothing is written.
    Import(ImportArgs),
}

#[derive(Subcommand, Debug)]
pub(crate) enum WorkflowCommand {
    /// Validate definition files: every problem is printed as FILE:LINE:COLUMN: message.
    /// Exit code 0 only when every file is valid. `land:` dependencies are checked against a
    /// Land-level definition given in the same call. A variant (`extends = "ID@VERSION"`) is
    /// checked merged with its base (a file of the same call, or a bundled definition); a
    /// problem in the base is printed at the base's line.
    Check(WorkflowCheckArgs),
    /// Publish a definition file into the log (`DefinitionPublished`): checked like `check`
    /// (the `land:` dependencies against the Land definitions the log knows), nothing appended
    /// on a problem. A changed text under a published version is refused (a new wording is a
    /// new version), an older version than the newest is refused, the same text again appends
    /// nothing. While `rollout serve` holds the embedded store, use its publishDefinition
    /// mutation instead.
    Publish(WorkflowPublishArgs),
}

#[derive(Subcommand, Debug)]
pub(crate) enum PersonalDataCommand {
    /// List where the log holds personal data in plain text, as a store written before persons
    /// were records does: contact-like text and e-mail evidence, actors' display names, token
    /// names. One line per place (position, stream, event type, what), never the value; the log
    /// is not changed (README, "Personal data in older stores", says what an operator can do).
    Find(PersonalDataFindArgs),
}

#[derive(Subcommand, Debug)]
pub(crate) enum StoreCommand {
    /// Copy every event, hashes included, to an empty target and verify the chain there. The
    /// keys of persons' data are copied along, before the events.
    ///
    /// With --re-key, a store written before persons were records becomes a new chain without
    /// its plain-text names: contact names in evidence and actors' display names are registered
    /// as persons (encrypted, erasable) and the events name them by id. The source is not
    /// changed; the copy's first event (StoreCopied) records the source's head position and
    /// hash, so the copy is linked to the original. Run `rollout personal-data find` on the
    /// copy for what remains (README, "Personal data in older stores").
    Copy(StoreCopyArgs),
}

#[derive(Subcommand, Debug)]
pub(crate) enum TokenCommand {
    /// Issue a token; it is printed once on stdout and stored only as a hash.
    Create(TokenCreateArgs),
    /// Revoke a token by its id.
    Revoke(TokenRevokeArgs),
}

#[derive(Subcommand, Debug)]
pub(crate) enum CatalogCommand {
    /// Import the reference data files of DIR, or the built-in copy of data/ (brandenburg_verwaltungstraeger.csv,
    /// brandenburg_gemeinden.csv, efa_services.csv, brandenburg_gebietsaenderungen_2021_2025.csv;
    /// the product's copy is data/). Every row is checked first: one bad row imports nothing and
    /// is named with file, line and column. Importing the same files again appends nothing; a
    /// changed row appends one change event; a dissolved administration's rollouts move to its
    /// successor.
    Import(CatalogImportArgs),
}

#[derive(Subcommand, Debug)]
pub(crate) enum ServiceCommand {
    /// Start the rollout of a service for every administration responsible for it (the level
    /// rule and its exceptions), and its central rollout. Existing rollouts are left alone, so
    /// repeating it changes nothing.
    Start(ServiceStartArgs),
    /// For a store written before responsibility and offers (release 33 and earlier): record for
    /// every rollout of an administration (not a central one) that its administration was
    /// responsible — where the level rule and the exceptions now say otherwise — and interested
    /// at its start (`ResponsibilityChanged`, `OfferAnswered`, each with its reason), so the
    /// figures of old stores stay meaningful. Run `rollout catalog import` first (it brings the
    /// statuses and the responsibility file in). Repeating it records nothing.
    MigrateResponsibility(MigrateResponsibilityArgs),
}

#[derive(Args, Debug)]
pub(crate) struct MigrateResponsibilityArgs {
    #[command(flatten)]
    pub(crate) store: StoreArgs,
}

#[derive(Args, Debug)]
pub(crate) struct StoreArgs {
    /// The data directory: the embedded store, and the server's local files (admin token,
    /// read-model checkpoint) [default: ./rollout-data]. With --store it is optional: without it
    /// the read-model checkpoint is kept in the database and the first admin token is printed
    /// once, so servers on one database need no writable local directory.
    #[arg(long, value_name = "DIR", env = "ROLLOUT_DATA_DIR")]
    pub(crate) data_dir: Option<PathBuf>,
    /// Keep the log in PostgreSQL instead (`postgres://user@host:port/database`); several
    /// servers may share it.
    #[arg(long, value_name = "URL", env = "ROLLOUT_STORE")]
    pub(crate) store: Option<String>,
}

/// Where the log and the process's local files are, as the arguments say.
pub(crate) enum Location<'a> {
    /// The embedded store in this data directory (with the local files).
    Embedded(PathBuf),
    /// The log in PostgreSQL; the local files in `dir`, or none (the checkpoint in the database).
    Postgres { url: &'a str, dir: Option<PathBuf> },
}

/// The data directory when none is given (and the log is not in PostgreSQL).
pub(crate) const DATA_DIR_DEFAULT: &str = "./rollout-data";

pub(crate) fn parse_retention(text: &str) -> Result<engine::Retention, String> {
    text.parse()
}

#[derive(Args, Debug)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    /// Address to listen on (port 0: any free port; the address is printed).
    #[arg(long, value_name = "ADDR", env = "ROLLOUT_LISTEN", default_value = "127.0.0.1:8080")]
    pub(crate) listen: std::net::SocketAddr,
    /// On an empty store, also generate a demo history: three EfA services rolled out to
    /// every administration they apply to (one on the federal variant, FIT-Connect and
    /// OSCI/XTA routes), progressed by several people and an automation token, some blocked
    /// and some overdue; and a form-server assistant, the association's model released and set up
    /// for its members.
    #[arg(long, env = "ROLLOUT_DEMO")]
    pub(crate) demo: bool,
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
    pub(crate) sled_cache_mb: u64,
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
    pub(crate) min_free_mb: u64,
    /// Erase every person this long after the day they left their administration
    /// (`recordPersonLeft`): `P2Y`, `P18M` or `P90D`. The policy runs at start and every
    /// hour; each erasure is a `PersonErased` by the system naming the period, like a
    /// manual one. Without it persons are erased only by `erasePerson`.
    #[arg(long, value_name = "PERIOD", env = "ROLLOUT_PERSON_RETENTION", value_parser = parse_retention)]
    pub(crate) person_retention: Option<engine::Retention>,
    /// Connections open at once, WebSockets included; one more is answered 503 with
    /// Retry-After. Lowered to fit the open-file limit (raised to its hard limit at start).
    #[arg(long, value_name = "N", env = "ROLLOUT_CONNECTIONS_MAX", default_value_t = api::limits::CONNECTIONS_MAX)]
    pub(crate) connections_max: usize,
    /// Connections open at once from one IP address (behind a reverse proxy: raise it, or let
    /// the proxy limit per client).
    #[arg(
        long,
        value_name = "N",
        env = "ROLLOUT_CONNECTIONS_PER_PEER_MAX",
        default_value_t = api::limits::CONNECTIONS_PER_PEER_MAX
    )]
    pub(crate) connections_per_peer_max: usize,
    /// New connections per second from one IP address (five seconds' worth at once); more
    /// are answered 503 with Retry-After. 0 (the default): no limit — a reverse proxy in front
    /// is one address; set it where clients connect directly.
    #[arg(long, value_name = "N", env = "ROLLOUT_CONNECTIONS_PER_PEER_PER_SECOND", default_value_t = 0.0)]
    pub(crate) connections_per_peer_per_second: f64,
    /// Writes (mutation fields) per second one token may make, sustained; five seconds'
    /// worth at once. More are refused with LIMIT_EXCEEDED and retryAfterSeconds. Admin
    /// tokens are not limited. 0: no limit.
    #[arg(long, value_name = "N", env = "ROLLOUT_WRITE_RATE_PER_TOKEN", default_value_t = api::rates::WriteLimits::default().per_token_per_second)]
    pub(crate) write_rate_per_token: f64,
    /// Writes one token may make in a day (refilled evenly over 24 hours). 0: no limit.
    #[arg(long, value_name = "N", env = "ROLLOUT_WRITES_PER_TOKEN_PER_DAY", default_value_t = api::rates::WriteLimits::default().per_token_per_day)]
    pub(crate) writes_per_token_per_day: f64,
    /// Writes per second the staff tokens of one administration may make together. 0: no
    /// limit.
    #[arg(long, value_name = "N", env = "ROLLOUT_WRITE_RATE_PER_AUTHORITY", default_value_t = api::rates::WriteLimits::default().per_authority_per_second)]
    pub(crate) write_rate_per_authority: f64,
    /// A bearer token /metrics asks for (Prometheus: `authorization: { credentials: … }`);
    /// without it /metrics is open to whoever reaches the port.
    #[arg(long, value_name = "TOKEN", env = "ROLLOUT_METRICS_TOKEN", hide_env_values = true)]
    pub(crate) metrics_token: Option<String>,
    /// The Land's profile an empty store is initialised with: a bundled one (`brandenburg`,
    /// the default) or a profile file (see `rollout init`). A store initialised with
    /// another profile is refused.
    #[arg(long, value_name = "NAME|FILE", env = "ROLLOUT_PROFILE")]
    pub(crate) profile: Option<String>,
    /// Sign-in with the organisation's account (OpenID Connect): a TOML file naming the
    /// server's public URL (the callback is <public_url>/auth/callback), how long sessions
    /// live (8 h, 1 h idle by default), and each trusted issuer with its client, secret file,
    /// extra root CA and the mapping of its claims to a role and administrations (README,
    /// "Anmeldung"). Checked at start; problems name their line. Bearer tokens keep working.
    #[arg(long, value_name = "FILE", env = "ROLLOUT_AUTH_CONFIG")]
    pub(crate) auth_config: Option<std::path::PathBuf>,
}

#[derive(Args, Debug)]
pub(crate) struct InitArgs {
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    /// The profile: a bundled one (`brandenburg`) or the path of a profile file.
    #[arg(long, value_name = "NAME|FILE", default_value = "brandenburg")]
    pub(crate) profile: String,
}

#[derive(Args, Debug)]
pub(crate) struct VerifyArgs {
    #[command(flatten)]
    pub(crate) store: StoreArgs,
}

#[derive(Args, Debug)]
pub(crate) struct RebuildArgs {
    #[command(flatten)]
    pub(crate) store: StoreArgs,
}

#[derive(Args, Debug)]
pub(crate) struct ExportArgs {
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    /// Write to FILE instead of standard output (written to FILE.partial, then renamed).
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
    /// Also write the keys of the persons not erased to FILE (created new, mode 0600: it
    /// opens their names, e-mail addresses and phone numbers; keep it apart from the
    /// export and destroy it with the backup). Without it the export holds the personal
    /// values only as ciphertext, which an import shows as unavailable.
    #[arg(long, value_name = "FILE")]
    pub(crate) keys: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub(crate) struct ImportArgs {
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    /// The NDJSON file, as `rollout export` writes it.
    pub(crate) file: PathBuf,
    /// The keys file `rollout export --keys` wrote: persons' values become readable.
    #[arg(long, value_name = "FILE")]
    pub(crate) keys: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub(crate) struct WorkflowCheckArgs {
    /// The definition files.
    #[arg(required = true, value_name = "FILE")]
    pub(crate) files: Vec<PathBuf>,
}

#[derive(Args, Debug)]
pub(crate) struct WorkflowPublishArgs {
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    /// The definition file.
    #[arg(value_name = "FILE")]
    pub(crate) file: PathBuf,
    /// Why it is published (kept in the log).
    #[arg(long)]
    pub(crate) reason: String,
}

#[derive(Args, Debug)]
pub(crate) struct PersonalDataFindArgs {
    #[command(flatten)]
    pub(crate) store: StoreArgs,
}

#[derive(Args, Debug)]
pub(crate) struct StoreCopyArgs {
    /// The source: a data directory or a postgres:// URL.
    #[arg(long, value_name = "DIR_OR_URL")]
    pub(crate) from: String,
    /// The target (must be empty): a data directory or a postgres:// URL.
    #[arg(long, value_name = "DIR_OR_URL")]
    pub(crate) to: String,
    /// Move plain-text personal data into persons: a new chain, linked to the source.
    #[arg(long)]
    pub(crate) re_key: bool,
}

#[derive(Args, Debug)]
pub(crate) struct TokenCreateArgs {
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    /// Whose it is.
    #[arg(long)]
    pub(crate) name: String,
    /// admin, project-manager, authority-staff, automation or auditor.
    #[arg(long)]
    pub(crate) role: String,
    /// For authority-staff: an administration (ARS) it may act for; repeatable.
    #[arg(long = "authority", value_name = "ARS")]
    pub(crate) authorities: Vec<String>,
    /// For automation: a service key it may act for; repeatable.
    #[arg(long = "service", value_name = "KEY")]
    pub(crate) services: Vec<String>,
    /// Why it is issued (kept in the audit log).
    #[arg(long, default_value = "issued on the command line")]
    pub(crate) reason: String,
}

#[derive(Args, Debug)]
pub(crate) struct TokenRevokeArgs {
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    /// The token id (as `issueToken` or `token create` reported it).
    pub(crate) id: String,
    /// Why.
    #[arg(long, default_value = "revoked on the command line")]
    pub(crate) reason: String,
}

#[derive(Args, Debug)]
pub(crate) struct CatalogImportArgs {
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    /// The folder with the data files; without it, the copy of data/ built into the binary.
    pub(crate) dir: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub(crate) struct ServiceStartArgs {
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    /// The service key, e.g. `wohngeld`.
    pub(crate) key: String,
}
