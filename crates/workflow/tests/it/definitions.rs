//! Every file in workflows/ is valid, and broken files get the diagnostics in tests/diagnostics/.

use std::path::{Path, PathBuf};

use workflow::definition::check_land_references;

fn workflows_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../workflows")
}

#[test]
fn every_bundled_definition_is_valid() {
    let mut files: Vec<(String, String)> = Vec::new();
    for dir in [workflows_dir(), workflows_dir().join("archive")] {
        for entry in std::fs::read_dir(dir).expect("workflows/") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "toml") {
                files.push((path.display().to_string(), std::fs::read_to_string(&path).expect("read")));
            }
        }
    }
    assert!(files.len() >= 7, "every definition and the archived versions are there");
    // Bases first: a variant (`extends`) is checked merged with its base.
    files.sort_by_key(|(_, source)| workflow::extends::extends_of(source).is_some());
    let names: Vec<(&str, &str)> = files.iter().map(|(n, s)| (n.as_str(), s.as_str())).collect();
    let bases: Vec<(&str, &str)> =
        names.iter().copied().filter(|(_, s)| workflow::extends::extends_of(s).is_none()).collect();
    let registry = workflow::Registry::with_bundled(&bases).expect("the bases are valid");
    let mut defs = Vec::new();
    for (name, source) in &files {
        match registry.resolve(source) {
            Ok((d, _)) => defs.push((d, source.as_str())),
            Err(diags) => panic!(
                "{name} is invalid:\n{}",
                diags.iter().map(|d| registry.render(d, name, source)).collect::<Vec<_>>().join("\n")
            ),
        }
    }
    let refs: Vec<_> = defs.iter().map(|(d, s)| (d, *s)).collect();
    assert_eq!(check_land_references(&refs), vec![]);
    let ids: Vec<&str> = defs.iter().map(|(d, _)| d.id.as_str()).collect();
    for id in ["efa-onboarding", "efa-land", "formularserver-assistent"] {
        assert!(ids.contains(&id), "{id} is bundled");
    }
}
