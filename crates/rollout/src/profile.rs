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

/// A data file of at most `catalog::limits::FILE_BYTES_MAX` bytes (catalogue files and map
/// layers alike), or why not.
fn read_limited(path: &Path) -> Result<Vec<u8>, String> {
    let max = catalog::limits::FILE_BYTES_MAX;
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.len() > max as u64 {
        return Err(format!("{}: größer als {max} Bytes", path.display()));
    }
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}
