//! Sign-in's wiring: the relying party of the configuration with the store's flow key, the
//! sessions in the store's session table, and the hourly purge of sessions whose time is over.

use std::sync::Arc;

use store::EventStore;

use crate::Failure;

/// The sign-in state of a server on `store` with `config`.
pub(crate) async fn state(
    store: &Arc<dyn EventStore>,
    config: signin::AuthConfig,
) -> Result<api::auth::SignInState, Failure> {
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
    Ok(api::auth::SignInState { rp, sessions: app::sessions::Sessions::new(sessions, store.clock(), policy) })
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
