//! A house one can live in: no source file over 700 lines and no function over 70 lines,
//! except where a comment at its top says why it must be (`// Long: …`: a table of cases, a
//! generated list); no import circle between the files of a crate (the dashboard's modules
//! included). Read from the sources, like the boundary tests.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const FILE_LINES_MAX: usize = 700;
const FUNCTION_LINES_MAX: usize = 70;

mod common;
use common::files;

fn crates() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every Rust source file of the product (`crates/*/src`) and the dashboard's modules.
fn sources() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for krate in std::fs::read_dir(crates()).expect("crates") {
        files(&krate.expect("crate").path().join("src"), "rs", &mut out);
    }
    files(&crates().join("api/assets/dashboard"), "js", &mut out);
    out.sort();
    out
}

fn relative(path: &Path) -> String {
    path.strip_prefix(crates()).unwrap_or(path).display().to_string()
}

/// A `// Long: why` (or `//! Long:`) among the `lines` (a file's first ten, a function's doc).
fn says_why(lines: &[&str]) -> bool {
    lines.iter().any(|l| {
        let l = l.trim_start().trim_start_matches("//!").trim_start_matches("///").trim_start_matches("//");
        l.trim_start().starts_with("Long:")
    })
}

#[test]
fn no_source_file_is_over_700_lines_without_saying_why() {
    let mut long = Vec::new();
    for path in sources() {
        let text = std::fs::read_to_string(&path).expect("read");
        let lines: Vec<&str> = text.lines().collect();
        if lines.len() > FILE_LINES_MAX && !says_why(&lines[..10.min(lines.len())]) {
            long.push(format!("{} ({} lines)", relative(&path), lines.len()));
        }
    }
    assert!(long.is_empty(), "files over {FILE_LINES_MAX} lines:\n{}", long.join("\n"));
}

/// The functions of a Rust file outside its unit tests: (name, first line, lines).
fn functions(text: &str) -> Vec<(String, usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let tests = lines.iter().position(|l| l.starts_with("#[cfg(test)]")).unwrap_or(lines.len());
    let mut out = Vec::new();
    for (i, line) in lines[..tests].iter().enumerate() {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        let decl = [
            "pub(crate) async fn ",
            "pub async fn ",
            "async fn ",
            "pub(crate) fn ",
            "pub fn ",
            "fn ",
            "pub(crate) const fn ",
            "pub const fn ",
            "const fn ",
        ]
        .iter()
        .find_map(|p| trimmed.strip_prefix(p));
        let Some(rest) = decl else { continue };
        if line.trim_end().ends_with(';') {
            continue;
        }
        let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        let end = lines[i + 1..tests].iter().position(|l| *l == format!("{indent}}}"));
        if let Some(end) = end {
            out.push((name, i, end + 2));
        }
    }
    out
}

#[test]
fn no_function_is_over_70_lines_without_saying_why() {
    let mut long = Vec::new();
    for path in sources().into_iter().filter(|p| p.extension().is_some_and(|e| e == "rs")) {
        let text = std::fs::read_to_string(&path).expect("read");
        let lines: Vec<&str> = text.lines().collect();
        for (name, first, count) in functions(&text) {
            // The comment sits in the function's doc block, right above it.
            let doc: Vec<&str> = lines[..first]
                .iter()
                .rev()
                .take_while(|l| l.trim_start().starts_with("//") || l.trim_start().starts_with("#["))
                .copied()
                .collect();
            if count > FUNCTION_LINES_MAX && !says_why(&doc) {
                long.push(format!("{}:{}: {name} ({count} lines)", relative(&path), first + 1));
            }
        }
    }
    assert!(long.is_empty(), "functions over {FUNCTION_LINES_MAX} lines:\n{}", long.join("\n"));
}

/// A circle in `graph`, if there is one (depth-first search).
fn circle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut c = path[at..].to_vec();
            c.push(node.to_owned());
            return Some(c);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
}

/// The module of a file of `src`: the top-level one (`objects/work.rs` → `objects`: a directory
/// is one module — the GraphQL object types in `objects/` refer to each other as the schema's
/// types do); `lib.rs`, `main.rs` → `` (the crate root, which declares the others).
fn module_of(src: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(src).unwrap_or(path).with_extension("");
    let first = rel.iter().next().map(|p| p.to_string_lossy().to_string()).unwrap_or_default();
    if first == "lib" || first == "main" {
        String::new()
    } else {
        first
    }
}

#[test]
fn no_file_of_a_crate_imports_a_file_that_imports_it_back() {
    let mut circles = Vec::new();
    for krate in std::fs::read_dir(crates()).expect("crates") {
        let src = krate.expect("crate").path().join("src");
        let mut paths = Vec::new();
        files(&src, "rs", &mut paths);
        let mut modules: BTreeMap<String, String> = BTreeMap::new();
        for (module, code) in paths.iter().map(|p| {
            let text = std::fs::read_to_string(p).expect("read");
            // Code only: a link in a comment is no import.
            let code: Vec<&str> = text
                .split("#[cfg(test)]")
                .next()
                .unwrap_or_default()
                .lines()
                .map(|l| l.split("//").next().unwrap_or_default())
                .collect();
            (module_of(&src, p), code.join("\n"))
        }) {
            let all = modules.entry(module).or_default();
            all.push_str(&code);
            all.push('\n');
        }
        let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (module, text) in &modules {
            for (at, _) in text.match_indices("crate::") {
                let path: String = text[at + 7..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                    .collect();
                // The longest module the path names (`objects::work::Task` → `objects::work`).
                let segments: Vec<&str> = path.split("::").collect();
                let target = (1..=segments.len())
                    .rev()
                    .map(|n| segments[..n].join("::"))
                    .find(|m| modules.contains_key(m));
                if let Some(target) = target.filter(|t| t != module && !t.is_empty() && !module.is_empty()) {
                    graph.entry(module.clone()).or_default().insert(target);
                }
            }
        }
        if let Some(c) = circle(&graph) {
            circles.push(format!("{}: {}", relative(&src), c.join(" → ")));
        }
    }
    // The dashboard's modules.
    let mut js = Vec::new();
    files(&crates().join("api/assets/dashboard"), "js", &mut js);
    assert!(js.len() > 10, "the dashboard's modules were found");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for path in &js {
        let text = std::fs::read_to_string(path).expect("read");
        let name = path.file_name().expect("name").to_string_lossy().to_string();
        for line in text.lines().filter(|l| l.starts_with("import ")) {
            if let Some(target) = line.split("\"./").nth(1).and_then(|t| t.split('"').next()) {
                graph.entry(name.clone()).or_default().insert(target.to_owned());
            }
        }
    }
    if let Some(c) = circle(&graph) {
        circles.push(format!("dashboard: {}", c.join(" → ")));
    }
    assert!(circles.is_empty(), "import circles:\n{}", circles.join("\n"));
}
