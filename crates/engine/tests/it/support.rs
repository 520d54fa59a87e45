//! What the engine's tests share.

/// The Land Brandenburg's own key (the bundled profile's).
pub const LAND_ARS: &str = "120000000000";
