//! The commands on the log as a whole: verify, copy between stores (re-keyed too), rebuild the
//! read models, export and import (with the persons' keys).

use std::io::{BufReader, BufWriter, Write};
use std::path::Path;
use std::sync::Arc;

use store::{ndjson, verify_log, EventStore, VerifyError};

use crate::cli::*;
use crate::stores::{at, open_location, Progress};
use crate::{checkpoint_file, Failure};

pub(crate) async fn verify(args: VerifyArgs) -> Result<(), Failure> {
    let VerifyArgs { store } = args;
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

pub(crate) async fn store_copy(args: StoreCopyArgs) -> Result<(), Failure> {
    let StoreCopyArgs { from, to, re_key } = args;
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
    let report =
        verify_log(&*target, |_| {}).await.map_err(|e| Failure(format!("the copy does not verify: {e}")))?;
    if report.head.hash != head.hash {
        return Err(Failure("the copy's head hash differs from the source's".into()));
    }
    println!(
        "copied {} events and {keys} persons' keys; the chain verifies at the target (head hash {})",
        report.events, report.head.hash
    );
    Ok(())
}

pub(crate) async fn rebuild(args: RebuildArgs) -> Result<(), Failure> {
    let RebuildArgs { store } = args;
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
            let pg = Arc::new(store_postgres::PgStore::open(store_postgres::PgConfig::new(url)).await?);
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
            let bytes = projections::checkpoint::to_bytes(&model).map_err(|e| Failure(e.to_string()))?;
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

pub(crate) async fn export(args: ExportArgs) -> Result<(), Failure> {
    let ExportArgs { store, out, keys } = args;
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
            let file = std::fs::OpenOptions::new().write(true).open(&path).map_err(|e| at(&path, e))?;
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

pub(crate) async fn import(args: ImportArgs) -> Result<(), Failure> {
    let ImportArgs { store, file, keys } = args;
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

/// The key store beside a store's log.
pub(crate) fn store_keys(store: &dyn EventStore) -> Result<Arc<dyn store::KeyStore>, Failure> {
    store.key_store().ok_or_else(|| Failure("this store keeps no keys".into()))
}

/// The keys of the persons `store`'s log registers and has not erased (not a key whose erasure a
/// crash cut short, which the next server start destroys; not one whose registration never
/// reached the log).
pub(crate) async fn keys_not_erased(
    store: &dyn EventStore,
) -> Result<Vec<(uuid::Uuid, store::Key)>, Failure> {
    let persons = engine::PersonRegistry::read(store).await?;
    let keys = store_keys(store)?.all().await?;
    Ok(keys.into_iter().filter(|(id, _)| persons.get(*id).is_some_and(|p| p.erased.is_none())).collect())
}

/// Copies the keys of `from`'s persons not erased to `to`'s key store; returns how many.
pub(crate) async fn copy_keys(from: &dyn EventStore, to: &dyn EventStore) -> Result<usize, Failure> {
    let keys = keys_not_erased(from).await?;
    let count = keys.len();
    store_keys(to)?.insert(keys).await?;
    Ok(count)
}

/// `store copy --re-key` after the keys are copied: the copy, verified, and what it did.
pub(crate) async fn rekeyed_copy(
    source: &dyn EventStore,
    target: &dyn EventStore,
    keys: usize,
) -> Result<(), Failure> {
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
pub(crate) async fn export_keys(store: &dyn EventStore, path: &Path) -> Result<usize, Failure> {
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
pub(crate) fn read_keys(path: &Path) -> Result<Vec<(uuid::Uuid, store::Key)>, Failure> {
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
pub(crate) async fn registered_persons(store: &dyn EventStore) -> Result<usize, Failure> {
    let persons = engine::PersonRegistry::read(store).await?;
    Ok(persons.all().iter().filter(|p| p.erased.is_none()).count())
}
