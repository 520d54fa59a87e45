//! The Land's profile in the log: `ProfileChosen` on the stream `profile`, appended once when a
//! store is initialised (before its catalogue), read at open. A store initialised before
//! profiles were stored has none: it is the default profile's (`catalog::profile::DEFAULT`).

use catalog::profile::StoredProfile;
use store::{EventStore, ExpectedVersion};

use crate::{new_event, EngineError, Invocation};

/// The profile's stream.
pub use vocab::names::PROFILE_STREAM;
/// The profile chosen at `init` (payload: [`StoredProfile`]).
pub const PROFILE_CHOSEN: (&str, u32) = ("ProfileChosen", 1);

/// The profile the log holds, if it holds one.
pub(crate) async fn read(store: &dyn EventStore) -> Result<Option<StoredProfile>, EngineError> {
    let events = store.read_stream(PROFILE_STREAM, 1, store::Direction::Forward, 1).await?;
    match events.first() {
        None => Ok(None),
        Some(e) => {
            e.data.decode::<StoredProfile>().map(Some).map_err(|err| EngineError::Unreadable(err.to_string()))
        }
    }
}

/// The default profile's stored part (a store from before profiles were stored).
pub(crate) fn default_profile() -> StoredProfile {
    catalog::Profile::bundled(catalog::profile::DEFAULT).map(|p| p.stored).unwrap_or_default()
}

impl crate::Engine {
    /// The Land's profile this store was initialised with.
    pub fn profile(&self) -> StoredProfile {
        self.profile.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Records the profile an empty store is initialised with: once, before its catalogue (a
    /// second choice is refused: a store serves one Land's profile).
    pub async fn choose_profile(&self, profile: &StoredProfile, req: &Invocation) -> Result<(), EngineError> {
        if profile.key.trim().is_empty() || profile.land_ars.len() != 12 {
            return Err(EngineError::Invalid(format!("Das Profil `{}` ist unvollständig.", profile.key)));
        }
        let payload = serde_json::to_value(profile).map_err(|e| EngineError::Unreadable(e.to_string()))?;
        let event = new_event(PROFILE_CHOSEN, payload, req);
        match self.store().append(PROFILE_STREAM, ExpectedVersion::NoStream, vec![event]).await {
            Ok(_) => {}
            Err(store::StoreError::Conflict { .. }) => {
                let stored = read(&**self.store()).await?.unwrap_or_default();
                if stored.key != profile.key {
                    return Err(EngineError::Invalid(format!(
                        "Dieser Speicher wurde mit dem Profil `{}` eingerichtet, nicht `{}`.",
                        stored.key, profile.key
                    )));
                }
            }
            Err(e) => return Err(e.into()),
        }
        *self.profile.write().unwrap_or_else(|p| p.into_inner()) = profile.clone();
        Ok(())
    }
}
