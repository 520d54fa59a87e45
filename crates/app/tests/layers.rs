//! The application layer knows no GraphQL and no HTTP: its normal dependencies (what
//! `cargo tree -p app -e normal` lists) name neither async-graphql, axum, hyper nor tower.

#[test]
fn the_application_layer_depends_on_no_graphql_and_no_http() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = std::process::Command::new(cargo)
        .args(["tree", "-p", "app", "-e", "normal", "--prefix", "none", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo tree");
    assert!(out.status.success(), "cargo tree failed: {}", String::from_utf8_lossy(&out.stderr));
    let tree = String::from_utf8_lossy(&out.stdout);
    assert!(tree.lines().any(|l| l.starts_with("engine ")), "the tree names app's own dependencies:\n{tree}");
    let adapters: Vec<&str> = tree
        .lines()
        .filter(|l| {
            ["async-graphql", "axum", "hyper", "tower"].iter().any(|a| l.starts_with(&format!("{a} ")))
        })
        .collect();
    assert!(adapters.is_empty(), "app depends on an adapter's crate: {adapters:?}");
}
