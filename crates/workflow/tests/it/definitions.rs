//! Every file in workflows/ is valid, and broken files get the diagnostics in tests/diagnostics/.

use std::path::{Path, PathBuf};

use workflow::definition::{check_land_references, parse};

fn workflows_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../workflows")
}

#[test]
fn every_bundled_definition_is_valid() {
    let mut files: Vec<(String, String)> = Vec::new();
    for entry in std::fs::read_dir(workflows_dir()).expect("workflows/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            files.push((path.display().to_string(), std::fs::read_to_string(&path).expect("read")));
        }
    }
    assert!(files.len() >= 3, "the three definitions are there");
    let mut defs = Vec::new();
    for (name, source) in &files {
        match parse(source.as_bytes()) {
            Ok(d) => defs.push((d, source.as_str())),
            Err(diags) => panic!(
                "{name} is invalid:\n{}",
                diags.iter().map(|d| d.render(name, source)).collect::<Vec<_>>().join("\n")
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
