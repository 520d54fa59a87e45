//! `rollout`: the efa-rollout command line.
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;

use crate::cli::*;

// glibc's malloc triples the cost of reading the log (see BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod cli;
mod commands;
mod demo;
mod demo_reuse;
mod first_start;
mod logs;
mod profile;
mod serve;
mod signin;
mod stores;

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
        Command::Serve(args) => commands::serve(args).await,
        Command::Init(args) => commands::init(args).await,
        Command::Workflow(WorkflowCommand::Check(args)) => commands::workflow_check(args).await,
        Command::Workflow(WorkflowCommand::Publish(args)) => commands::workflow_publish(args).await,
        Command::Token(TokenCommand::Create(args)) => commands::token_create(args).await,
        Command::Token(TokenCommand::Revoke(args)) => commands::token_revoke(args).await,
        Command::Catalog(CatalogCommand::Import(args)) => commands::catalog_import(args).await,
        Command::Service(ServiceCommand::Start(args)) => commands::service_start(args).await,
        Command::Service(ServiceCommand::MigrateResponsibility(args)) => {
            commands::migrate_responsibility(args).await
        }
        Command::PersonalData(PersonalDataCommand::Find(args)) => commands::personal_data_find(args).await,
        Command::Verify(args) => logs::verify(args).await,
        Command::Store(StoreCommand::Copy(args)) => logs::store_copy(args).await,
        Command::Rebuild(args) => logs::rebuild(args).await,
        Command::Export(args) => logs::export(args).await,
        Command::Import(args) => logs::import(args).await,
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
