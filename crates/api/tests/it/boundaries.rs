//! The API translates: every write goes through the engine, every read through the read models
//! or the `projections` crate. A file under `crates/api/src` that calls the store's append or
//! read functions fails this test (`head` and `subscribe` may be called).

/// The store functions the API must not call, as they appear in a call.
const FORBIDDEN: &[&str] = &[
    "append",
    "append_recorded",
    "read_stream",
    "stream_version",
    "read_all",
    "read_category",
    "read_categories",
    "read_event",
    "read_event_by_id",
];

/// Calls of forbidden functions in `source`: (line number, function).
fn forbidden_calls(source: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (i, line) in source.lines().enumerate() {
        let code = line.split("//").next().unwrap_or_default();
        for (at, _) in code.match_indices('(') {
            let before = &code[..at];
            let name: String =
                before.chars().rev().take_while(|c| c.is_alphanumeric() || *c == '_').collect::<String>();
            let name: String = name.chars().rev().collect();
            let preceded = before[..before.len() - name.len()].trim_end();
            let is_call_on_something = preceded.ends_with('.') || preceded.ends_with("::");
            if is_call_on_something && FORBIDDEN.contains(&name.as_str()) {
                found.push((i + 1, name));
            }
        }
    }
    found
}

use crate::support::rust_files;

#[test]
fn no_file_of_the_api_calls_the_stores_append_or_read_functions() {
    let mut files = Vec::new();
    rust_files(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut files);
    assert!(files.len() > 10, "the API's sources were found: {files:?}");
    let mut offences = Vec::new();
    for path in files {
        let source = std::fs::read_to_string(&path).expect("read");
        for (line, name) in forbidden_calls(&source) {
            offences.push(format!("{}:{line}: {name}(…)", path.display()));
        }
    }
    assert!(offences.is_empty(), "the API calls the store directly:\n{}", offences.join("\n"));
}

/// The checker finds what it looks for, and passes what is allowed.
#[test]
fn the_checker_finds_store_calls_and_lets_the_rest_pass() {
    let source = "let page = store.read_stream(&id, 1, Direction::Forward, 10).await?;\n\
                  s.engine.store().append(\"x\", ExpectedVersion::Any, events)\n\
                  // a comment may say store.read_all(1, 10)\n\
                  let head = store.head().await?;\n\
                  let sub = store::subscribe(store, 1);\n\
                  let all = store::read_categories(&*store, &[\"token-\"]);\n\
                  let e = EventStore::read_event(&*store, 3);\n\
                  let x = projections::events_at(store, &positions);\n";
    let found: Vec<(usize, String)> = forbidden_calls(source);
    let names: Vec<(usize, &str)> = found.iter().map(|(l, n)| (*l, n.as_str())).collect();
    assert_eq!(names, vec![(1, "read_stream"), (2, "append"), (6, "read_categories"), (7, "read_event")]);
}

/// The crates that get "now" from the store's clock: none of them reads the system time itself
/// (`store::SystemClock` does, and the binary through it), so a test that controls the store's
/// clock controls deadlines, overdue flags and step actions everywhere.
#[test]
fn only_the_stores_system_clock_reads_the_time() {
    let crates = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut offences = Vec::new();
    for name in ["vocab", "workflow", "catalog", "projections", "engine", "api"] {
        let mut files = Vec::new();
        rust_files(&crates.join(name).join("src"), &mut files);
        assert!(!files.is_empty(), "{name} has sources");
        for path in files {
            let source = std::fs::read_to_string(&path).expect("read");
            for (i, line) in source.lines().enumerate() {
                let code = line.split("//").next().unwrap_or_default();
                if code.contains("SystemTime::now") || code.contains("SystemClock") {
                    offences.push(format!("{}:{}: {}", path.display(), i + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        offences.is_empty(),
        "reads the system time instead of the store's clock:\n{}",
        offences.join("\n")
    );
}

/// `lib.rs` names the crate's files in an order where each uses (`crate::…`) only those before
/// it; the order is read from its doc comment.
#[test]
fn the_files_named_in_lib_rs_use_only_those_before_them() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).expect("lib.rs");
    let doc: String = lib.lines().filter_map(|l| l.strip_prefix("//!")).collect::<Vec<_>>().join(" ");
    let listed = doc.split("Files, each using only those before it").nth(1).expect("the order in lib.rs");
    let order: Vec<String> = listed
        .split('`')
        .skip(1)
        .step_by(2)
        .map(|name| name.trim_end_matches('/').to_owned())
        .filter(|name| src.join(format!("{name}.rs")).exists() || src.join(name).is_dir())
        .collect();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let module_of = |path: &std::path::Path| {
        let rel = path.strip_prefix(&src).expect("under src").with_extension("");
        rel.iter().next().map(|p| p.to_string_lossy().to_string()).unwrap_or_default()
    };
    let mut every: Vec<String> = files.iter().map(|p| module_of(p)).filter(|m| m != "lib").collect();
    every.sort();
    every.dedup();
    let mut named = order.clone();
    named.sort();
    assert_eq!(named, every, "lib.rs names every file once");
    let mut offences = Vec::new();
    for path in &files {
        let module = module_of(path);
        let Some(at) = order.iter().position(|m| *m == module) else { continue };
        let text = std::fs::read_to_string(path).expect("read");
        let code: String = text
            .split("#[cfg(test)]")
            .next()
            .unwrap_or_default()
            .lines()
            .map(|l| l.split("//").next().unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n");
        for later in &order[at + 1..] {
            if code.contains(&format!("crate::{later}::")) || code.contains(&format!("crate::{later}::{{")) {
                offences.push(format!("{} uses {later}, named after it", path.display()));
            }
        }
    }
    assert!(offences.is_empty(), "{}", offences.join("\n"));
}
