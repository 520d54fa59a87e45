//! schema/schema.graphql is the served schema: a test fails when they drift.
//! `UPDATE_SCHEMA=1 cargo test -p api --test sdl` rewrites the file after a deliberate change.

use async_graphql::Schema;

#[test]
fn the_committed_sdl_is_the_served_schema() {
    let sdl = Schema::build(api::schema::Query, api::schema::Mutation, api::subscriptions::SubscriptionRoot)
        .finish()
        .sdl();
    let path = format!("{}/../../schema/schema.graphql", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &sdl).expect("write");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == sdl,
        "schema/schema.graphql differs from the served schema (UPDATE_SCHEMA=1 to accept)"
    );
}

#[test]
fn every_type_and_field_has_a_description() {
    let sdl = Schema::build(api::schema::Query, api::schema::Mutation, api::subscriptions::SubscriptionRoot)
        .finish()
        .sdl();
    let mut missing = Vec::new();
    let mut described = false;
    let mut in_schema_block = false;
    for line in sdl.lines() {
        let t = line.trim();
        if t.starts_with("schema {") {
            in_schema_block = true;
        }
        if in_schema_block {
            in_schema_block = t != "}";
            continue;
        }
        if t.starts_with("\"\"\"") || t.starts_with('"') {
            described = true;
            continue;
        }
        let is_definition = ["type ", "input ", "enum ", "scalar "].iter().any(|k| t.starts_with(k))
            && !t.starts_with("scalar ");
        // Fields (one tab in); arguments (two tabs) and the closing `):` of a field with
        // arguments are not checked.
        let is_field =
            line.starts_with('\t') && !line.starts_with("\t\t") && t.contains(':') && !t.starts_with(')');
        if (is_definition || is_field) && !described && !t.starts_with("schema") {
            missing.push(t.to_owned());
        }
        if !t.is_empty() {
            described = false;
        }
    }
    assert!(missing.is_empty(), "without description: {missing:#?}");
}
