//! Sign-in's wiring: the relying party of the configuration with the store's flow key, the
//! sessions in the store's session table, and the hourly purge of sessions whose time is over.

use std::sync::Arc;

use store::EventStore;

use crate::Failure;

/// The configuration of `--auth-config`, read and checked (problems name the file's line).
pub(crate) fn read(path: Option<&std::path::Path>) -> Result<Option<signin::AuthConfig>, Failure> {
    path.map(|p| signin::config::read(p).map_err(|e| Failure(format!("--auth-config {e}")))).transpose()
}

/// The sign-in state of a server on `store` with `config`; none without one.
pub(crate) async fn state(
    store: &Arc<dyn EventStore>,
    config: Option<signin::AuthConfig>,
) -> Result<Option<Arc<api::auth::SignInState>>, Failure> {
    let Some(config) = config else { return Ok(None) };
    let keys =
        store.key_store().ok_or_else(|| Failure("this store keeps no keys: sign-in needs them".into()))?;
    let sessions =
        store.sessions().ok_or_else(|| Failure("this store keeps no sessions: sign-in needs them".into()))?;
    let flow_key = keys.create(signin::FLOW_KEY).await?;
    let policy =
        app::sessions::SessionPolicy { absolute_secs: config.absolute_secs, idle_secs: config.idle_secs };
    let issuers: Vec<String> = config.issuers.iter().map(|i| format!("{} ({})", i.id, i.issuer)).collect();
    let rp =
        signin::RelyingParty::new(config, flow_key).map_err(|e| Failure(format!("--auth-config: {e}")))?;
    tracing::info!(issuers = %issuers.join(", "), "sign-in with identity providers");
    let sessions = app::sessions::Sessions::new(sessions, store.clock(), policy);
    Ok(Some(Arc::new(api::auth::SignInState { rp, sessions })))
}

/// Every hour, deletes the session rows whose time is over (90 days after their end).
pub(crate) fn spawn_purge(signin: Option<Arc<api::auth::SignInState>>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let Some(signin) = signin else { return };
        let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            every.tick().await;
            match signin.sessions.purge().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(sessions = n, "expired sessions deleted"),
                Err(e) => tracing::error!(error = %e, "deleting expired sessions failed"),
            }
        }
    })
}
