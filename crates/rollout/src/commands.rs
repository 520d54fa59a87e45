//! The commands that set up and change a store: serve, init, workflows, tokens, the catalogue,
//! services, personal data found in plain text.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::cli::*;
use crate::stores::{at, cli_request, engine_over, open_engine, open_for_writes, Progress};
use crate::{first_start, serve, Failure};

pub(crate) async fn serve(args: ServeArgs) -> Result<(), Failure> {
    let ServeArgs {
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
        auth_config,
    } = args;
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
        auth_config,
    };
    serve::run(&store, options).await
}

pub(crate) async fn init(args: InitArgs) -> Result<(), Failure> {
    let InitArgs { store, profile } = args;
    first_start::init(&store, &profile).await
}

pub(crate) async fn workflow_check(args: WorkflowCheckArgs) -> Result<(), Failure> {
    let WorkflowCheckArgs { files } = args;
    check_workflows(&files)
}

pub(crate) async fn workflow_publish(args: WorkflowPublishArgs) -> Result<(), Failure> {
    let WorkflowPublishArgs { store, file, reason } = args;
    let name = file.display().to_string();
    let bytes = read_limited(&file).map_err(|e| Failure(format!("{name}: {e}")))?;
    let text =
        String::from_utf8(bytes).map_err(|e| Failure(format!("{name}: the file is not UTF-8 text ({e})")))?;
    let engine = open_for_writes(&store, "its publishDefinition mutation").await?;
    engine.publish_bundled().await?;
    match engine.publish_definition(&text, &reason, &cli_request()).await {
        Ok(engine::Published { entry, event }) => {
            let d = &entry.definition;
            match event {
                Some(e) => println!("published {}@{} at position {}", d.id, d.version, e.position),
                None => {
                    println!("{}@{} is published with this text already; nothing appended", d.id, d.version)
                }
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

pub(crate) async fn token_create(args: TokenCreateArgs) -> Result<(), Failure> {
    let TokenCreateArgs { store, name, role, authorities, services, reason } = args;
    let role = engine::TokenRole::from_name(&role).ok_or_else(|| {
        Failure(format!("unknown role `{role}`; roles are {}", engine::TokenRole::NAMES.join(", ")))
    })?;
    let engine =
        open_for_writes(&store, "its issueToken / revokeToken mutations with the admin token").await?;
    let spec = engine::TokenSpec { name, role, authorities, services, person: None, reason };
    let engine::NewToken { issued, secret, .. } = engine.issue_token(spec, &cli_request()).await?;
    eprintln!("token {} ({}) issued; it is shown only now:", issued.token_id, issued.role.name());
    println!("{secret}");
    Ok(())
}

pub(crate) async fn token_revoke(args: TokenRevokeArgs) -> Result<(), Failure> {
    let TokenRevokeArgs { store, id, reason } = args;
    let token_id = uuid::Uuid::try_parse(&id).map_err(|_| Failure(format!("`{id}` is not a token id")))?;
    let engine =
        open_for_writes(&store, "its issueToken / revokeToken mutations with the admin token").await?;
    engine.revoke_token(token_id, &reason, &cli_request()).await?;
    println!("token {token_id} revoked");
    Ok(())
}

pub(crate) async fn catalog_import(args: CatalogImportArgs) -> Result<(), Failure> {
    let CatalogImportArgs { store, dir } = args;
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
                Failure(format!(
                    "the store's profile `{}` is not bundled: name the folder of its files",
                    stored.key
                ))
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
    let report =
        engine.import_catalog(&data, &cli_request(), |done, total| progress.show_of(done, total)).await?;
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

pub(crate) async fn service_start(args: ServiceStartArgs) -> Result<(), Failure> {
    let ServiceStartArgs { store, key } = args;
    let engine = open_engine(&store).await?;
    let summary = engine.start_service(&key, &cli_request()).await?;
    println!(
        "started {} rollouts of `{key}`; {} existed already",
        summary.started.len(),
        summary.existing.len()
    );
    Ok(())
}

pub(crate) async fn migrate_responsibility(
    args: crate::cli::MigrateResponsibilityArgs,
) -> Result<(), Failure> {
    let engine = open_engine(&args.store).await?;
    let report = engine.migrate_reuse(&cli_request()).await?;
    println!(
        "{} Rollouts: Interesse erfasst; {} Verwaltungen als zuständig erfasst; {} waren es schon",
        report.interested, report.responsible, report.unchanged
    );
    Ok(())
}

pub(crate) async fn personal_data_find(args: PersonalDataFindArgs) -> Result<(), Failure> {
    let PersonalDataFindArgs { store } = args;
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

pub(crate) fn check_workflows(files: &[PathBuf]) -> Result<(), Failure> {
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
pub(crate) fn read_limited(path: &Path) -> Result<Vec<u8>, String> {
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

/// The catalogue files of `dir`, named as the store's profile names them (a bundled profile's
/// names; the form-server programme's files are optional: a data folder of an earlier release).
pub(crate) fn read_dataset(
    dir: &Path,
    stored: &catalog::profile::StoredProfile,
) -> Result<catalog::Dataset, Failure> {
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
        statuses: optional(&names.statuses)?,
        responsibilities: optional(&names.responsibilities)?,
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
