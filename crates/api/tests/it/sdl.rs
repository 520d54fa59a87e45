//! schema/schema.graphql is the served schema: a test fails when they drift.
//! `UPDATE_SCHEMA=1 cargo test -p api --test it -- sdl::` rewrites the file after a deliberate change.

use async_graphql::Schema;

#[test]
fn the_committed_sdl_is_the_served_schema() {
    let sdl = Schema::build(
        api::schema::Query::default(),
        api::schema::Mutation::default(),
        api::subscriptions::SubscriptionRoot,
    )
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
    let sdl = Schema::build(
        api::schema::Query::default(),
        api::schema::Mutation::default(),
        api::subscriptions::SubscriptionRoot,
    )
    .finish()
    .sdl();
    let missing = undescribed(&sdl);
    assert!(missing.is_empty(), "without description: {missing:#?}");
}

/// The checker finds what it looks for, and is not fooled by description text that looks like
/// a field (a line of a multi-line description with a colon in it).
#[test]
fn the_description_check_finds_undescribed_types_and_fields() {
    let sdl = "\"\"\"\nA thing.\n\"\"\"\ntype Thing {\n\t\"\"\"\n\tIts size, in\n\t`units`: metres.\n\t\"\"\"\n\tsize: Int!\n\tcolour: String\n}\ntype Bare {\n\t\"\"\"\n\tDescribed.\n\t\"\"\"\n\tx: Int!\n}\n";
    assert_eq!(undescribed(sdl), vec!["colour: String".to_owned(), "type Bare {".to_owned()]);
}

/// Type and field definitions of `sdl` that no description precedes.
fn undescribed(sdl: &str) -> Vec<String> {
    let mut missing = Vec::new();
    let mut described = false;
    let mut in_description = false;
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
        // A block description: `"""` alone opens it, the next `"""` closes it; one-line
        // descriptions open and close on the same line.
        if in_description || t.starts_with('"') {
            if t.starts_with("\"\"\"") {
                let one_line = t.len() > 3 && t.ends_with("\"\"\"");
                in_description = !in_description && !one_line;
            }
            described = true;
            continue;
        }
        let is_definition = ["type ", "input ", "enum "].iter().any(|k| t.starts_with(k));
        // Fields (one tab in); arguments (two tabs) and the closing `):` of a field with
        // arguments are not checked.
        let is_field =
            line.starts_with('\t') && !line.starts_with("\t\t") && t.contains(':') && !t.starts_with(')');
        if (is_definition || is_field) && !described {
            missing.push(t.to_owned());
        }
        if !t.is_empty() {
            described = false;
        }
    }
    missing
}
