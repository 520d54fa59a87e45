//! A store's first start: the Land's profile and its catalogue, the bundled definitions, an
//! admin token, and (with `--demo`) the demo history — by `rollout serve` on an empty store and
//! by `rollout init`.

use std::path::Path;

use crate::Failure;

/// A line for whoever started the server. Never `println!`: with stdout on a full disk it would
/// panic; a line that cannot be written is dropped, and the server goes on.
pub(crate) fn say(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_fmt(line).and_then(|()| out.write_all(b"\n")).and_then(|()| out.flush());
}

/// What a first start needs, each part only when missing: the Land's profile (`chosen`, or the
/// default) and its catalogue, an admin token in DIR/admin.token (0600; without a data
/// directory it is printed once on stdout), and (with `--demo`) the demo history. A store
/// initialised with another profile than `chosen` is refused.
pub(crate) async fn initialise(
    dir: Option<&Path>,
    engine: &engine::Engine,
    demo: Option<&crate::demo::ShiftableClock>,
    chosen: Option<&catalog::Profile>,
) -> Result<(), Failure> {
    let empty = engine.catalog().authorities.is_empty();
    if let Some(p) = chosen.filter(|_| !empty) {
        if engine.profile().key != p.stored.key {
            return Err(Failure(format!(
                "Dieser Speicher wurde mit dem Profil `{}` eingerichtet, nicht `{}`.",
                engine.profile().key,
                p.stored.key
            )));
        }
    }
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
        match chosen {
            Some(p) => set_up_land(engine, p).await?,
            None => set_up_land(engine, &crate::profile::load(catalog::profile::DEFAULT)?).await?,
        }
    }
    first_admin_token(dir, engine).await?;
    if let Some(clock) = demo {
        let land = engine.catalog().land_ars().unwrap_or_default();
        if engine.load("wohngeld", &land).await?.is_none() {
            crate::demo::generate(engine, clock).await?;
        }
    }
    Ok(())
}

/// An admin token on a store without tokens: in DIR/admin.token (0600), or printed once.
async fn first_admin_token(dir: Option<&Path>, engine: &engine::Engine) -> Result<(), Failure> {
    if engine.tokens().is_empty() {
        let spec = engine::TokenSpec {
            name: "admin (first start)".into(),
            role: engine::TokenRole::Admin,
            authorities: vec![],
            services: vec![],
            person: None,
            reason: "erster Start des Servers: das Token der Administration".into(),
        };
        let secret = engine.issue_token(spec, &engine::Invocation::system()).await?.secret;
        match dir {
            Some(dir) => {
                let path = dir.join("admin.token");
                write_secret(&path, &secret)?;
                say(format_args!("admin token written to {}", path.display()));
            }
            None => {
                // No local file to keep it in: shown now, once; the log holds only its hash.
                say(format_args!("admin token (first start; shown only now, stored only as a hash):"));
                say(format_args!("{secret}"));
            }
        }
    }
    Ok(())
}

/// An empty store becomes `profile`'s: the profile stored, its catalogue imported.
async fn set_up_land(engine: &engine::Engine, profile: &catalog::Profile) -> Result<(), Failure> {
    let system = engine::Invocation::system();
    let data = catalog::parse_dataset(&profile.files).map_err(|e| {
        Failure(format!(
            "the profile's data is invalid: {}",
            e.first().map(|e| e.to_string()).unwrap_or_default()
        ))
    })?;
    engine.choose_profile(&profile.stored, &system).await?;
    engine.import_catalog(&data, &system, |_, _| {}).await?;
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

/// `rollout init --profile`: initialises an empty store for the Land of `choice` (or checks
/// that a store already initialised is that Land's).
pub async fn init(args: &crate::cli::StoreArgs, choice: &str) -> Result<(), Failure> {
    let profile = crate::profile::load(choice)?;
    let dir = match args.location() {
        crate::cli::Location::Embedded(dir) => Some(dir),
        crate::cli::Location::Postgres { dir, .. } => dir,
    };
    let engine = crate::stores::open_engine(args).await?;
    let was_empty = engine.catalog().authorities.is_empty();
    initialise(dir.as_deref(), &engine, None, Some(&profile)).await?;
    let catalog = engine.catalog();
    if was_empty {
        println!(
            "initialised for {} (profile `{}`): {} administrations, {} services",
            profile.stored.name,
            profile.stored.key,
            catalog.authorities.len(),
            catalog.services.len()
        );
    } else {
        println!(
            "already initialised for {} (profile `{}`); nothing changed",
            profile.stored.name, profile.stored.key
        );
    }
    Ok(())
}
