//! The JSON Schema for editors (schema/workflow-definition.schema.json) names exactly the keys,
//! roles and field types the parser knows.

use std::collections::BTreeSet;

use workflow::definition::{Role, FIELD_KEYS, PHASE_KEYS, STEP_KEYS, TOP_KEYS};
use workflow::FieldType;

fn schema() -> serde_json::Value {
    let path = format!("{}/../../schema/workflow-definition.schema.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).expect("read schema")).expect("schema is JSON")
}

fn keys(object: &serde_json::Value) -> BTreeSet<String> {
    object["properties"].as_object().expect("properties").keys().cloned().collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn strings(v: &serde_json::Value) -> BTreeSet<String> {
    v.as_array().expect("array").iter().map(|s| s.as_str().expect("string").to_owned()).collect()
}

#[test]
fn the_schema_matches_the_parser() {
    let s = schema();
    // A variant's own keys (`extends`, `remove`, a step's `add_evidence`) besides the definition's.
    let top: BTreeSet<String> = set(TOP_KEYS).union(&set(workflow::extends::VARIANT_KEYS)).cloned().collect();
    assert_eq!(keys(&s), top);
    assert_eq!(keys(&s["$defs"]["phase"]), set(PHASE_KEYS));
    let step: BTreeSet<String> = set(STEP_KEYS).union(&set(&["add_evidence"])).cloned().collect();
    assert_eq!(keys(&s["$defs"]["step"]), step);
    assert_eq!(keys(&s["$defs"]["field"]), set(FIELD_KEYS));
    assert_eq!(strings(&s["$defs"]["field"]["properties"]["type"]["enum"]), set(FieldType::NAMES));
    assert_eq!(strings(&s["$defs"]["step"]["properties"]["roles"]["items"]["enum"]), set(Role::NAMES));
}
