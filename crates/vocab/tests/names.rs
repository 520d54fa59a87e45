//! Stream names are written in one place (`vocab::names`): no other source file of the
//! product spells a stream's name or prefix as a literal (the store's own conformance suite,
//! which knows no domain, names streams of its own).

use std::path::Path;

mod common;

#[test]
fn stream_names_are_spelled_only_in_vocab_names() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let names = [
        "\"rollout-",
        "\"questions-",
        "\"authority-",
        "\"service-",
        "\"token-",
        "\"person-",
        "\"definition-",
        "\"store-copy\"",
        "\"profile\"",
    ];
    let mut files = Vec::new();
    for krate in std::fs::read_dir(&crates).expect("crates") {
        let src = krate.expect("crate").path().join("src");
        if src.is_dir() {
            common::files(&src, "rs", &mut files);
        }
    }
    assert!(files.len() > 50, "the sources were found: {}", files.len());
    let mut offences = Vec::new();
    for path in &files {
        let own = path.ends_with("vocab/src/names.rs") || path.ends_with("store/src/conformance.rs");
        if own {
            continue;
        }
        let text = std::fs::read_to_string(path).expect("read");
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        for (i, line) in code.lines().enumerate() {
            // Words that only begin like a stream: a role's name, a thread's name.
            let line = line
                .split("//")
                .next()
                .unwrap_or_default()
                .replace("\"authority-staff\"", "")
                .replace("\"rollout-folds\"", "");
            if let Some(name) = names.iter().find(|n| line.contains(*n)) {
                offences.push(format!("{}:{}: {name}", path.display(), i + 1));
            }
        }
    }
    assert!(offences.is_empty(), "stream names outside vocab::names:\n{}", offences.join("\n"));
}
