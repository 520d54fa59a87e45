//! Choosing a Land's profile: a bundled one by key (`brandenburg`), or a profile file
//! (`…/profile.toml`) whose data files are read relative to its directory.

use std::path::Path;

use crate::Failure;

/// The profile `choice` names: a bundled key, or the path of a profile file.
pub fn load(choice: &str) -> Result<catalog::Profile, Failure> {
    if let Some(p) = catalog::Profile::bundled(choice) {
        return Ok(p);
    }
    let path = Path::new(choice);
    if !path.is_file() {
        return Err(Failure(format!(
            "Profil `{choice}`: weder ein mitgeliefertes ({}) noch eine Profildatei",
            catalog::profile::bundled_keys().join(", ")
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|e| Failure(format!("{choice}: {e}")))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut read = |name: &str| read_limited(&dir.join(name));
    catalog::Profile::parse(choice, &text, &mut read).map_err(Failure)
}

/// A data file of at most `catalog::limits::FILE_BYTES_MAX` bytes (a map layer at most 16 MiB).
fn read_limited(path: &Path) -> Result<Vec<u8>, String> {
    const MAP_BYTES_MAX: u64 = 16 << 20;
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let max = if path.extension().is_some_and(|e| e == "geojson") {
        MAP_BYTES_MAX
    } else {
        catalog::limits::FILE_BYTES_MAX as u64
    };
    if meta.len() > max {
        return Err(format!("{}: größer als {max} Bytes", path.display()));
    }
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// The map layers of the store's profile: the bundled profile's, or those of `given` when it
/// is the store's profile; none otherwise (the dashboard's map then stays empty).
pub fn map_layers(
    stored: &catalog::profile::StoredProfile,
    given: Option<&catalog::Profile>,
) -> Vec<(String, Vec<u8>)> {
    match given {
        Some(p) if p.stored.key == stored.key => p.map.clone(),
        _ => catalog::Profile::bundled(&stored.key).map(|p| p.map).unwrap_or_default(),
    }
}
