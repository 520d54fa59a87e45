//! Definitions through GraphQL: publishing (diagnostics at their lines, CONFLICT, who may),
//! the definition with its exact text, a service's definition, migrateService.

use std::sync::Arc;

use engine::TokenRole;
use serde_json::json;
use store::{EventStore, MemoryStore};

use crate::support::{caller, run, schema_over};

const ONBOARDING: &str = include_str!("../../../../workflows/archive/efa-onboarding.v1.toml");

fn variant() -> String {
    ONBOARDING.replacen("id = \"efa-onboarding\"", "id = \"efa-onboarding-xta\"", 1)
}

async fn errors(
    api: &crate::support::Api,
    p: &api::Caller,
    query: &str,
    vars: serde_json::Value,
) -> Vec<serde_json::Value> {
    let request = async_graphql::Request::new(query)
        .variables(async_graphql::Variables::from_json(vars))
        .data(p.clone());
    let response = api.schema.execute(request).await;
    serde_json::to_value(&response.errors).expect("json").as_array().cloned().unwrap_or_default()
}

const PUBLISH: &str =
    "mutation($s: String!, $r: String!) { publishDefinition(input: { source: $s, reason: $r }) {
    published event { type } definition { id version source publishedBy { id } reason contentHash } } }";

#[tokio::test]
async fn publishing_through_the_api_names_each_problem_at_its_line_and_repeats_nothing() {
    let store: Arc<dyn EventStore> = Arc::new(MemoryStore::new());
    let api = schema_over(store.clone()).await;
    let manager = caller(TokenRole::ProjectManager);
    let at = store.head().await.expect("head").position;

    let broken =
        variant().replacen("roles = [\"authority-staff\", \"project-manager\"]", "roles = [\"chef\"]", 1);
    let errs = errors(&api, &manager, PUBLISH, json!({ "s": broken, "r": "Test" })).await;
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0]["extensions"]["code"], "BAD_USER_INPUT");
    let diagnostics = errs[0]["extensions"]["diagnostics"].as_array().expect("diagnostics");
    assert!(
        diagnostics.iter().any(|d| d["line"] == 19
            && d["column"] == 10
            && d["message"].as_str().is_some_and(|m| m.contains("unknown role `chef`"))),
        "{diagnostics:?}"
    );
    assert_eq!(store.head().await.expect("head").position, at, "nothing appended");

    let staff = caller(TokenRole::AuthorityStaff);
    let errs = errors(&api, &staff, PUBLISH, json!({ "s": variant(), "r": "Test" })).await;
    assert_eq!(errs[0]["extensions"]["code"], "FORBIDDEN", "{errs:?}");

    let q = format!("mutation {{ publishDefinition(input: {{ source: {}, reason: \"OSCI/XTA\" }}) {{ published event {{ type }} definition {{ id version source reason publishedBy {{ id }} }} }} }}", serde_json::to_string(&variant()).expect("json"));
    let data = run(&api.schema, &manager, &q).await;
    let p = &data["publishDefinition"];
    assert_eq!(p["published"], true);
    assert_eq!(p["event"]["type"], "DefinitionPublished");
    assert_eq!(p["definition"]["source"], variant());
    assert_eq!(p["definition"]["reason"], "OSCI/XTA");
    assert_eq!(p["definition"]["publishedBy"]["id"], format!("token:{}", manager.token_id));
    let data = run(&api.schema, &manager, &q).await;
    assert_eq!(data["publishDefinition"]["published"], false, "the same text again appends nothing");
    assert_eq!(data["publishDefinition"]["event"], serde_json::Value::Null);

    let changed = variant().replace("Interesse bekundet", "Interesse gemeldet");
    let errs = errors(&api, &manager, PUBLISH, json!({ "s": changed, "r": "Wortlaut" })).await;
    assert_eq!(errs[0]["extensions"]["code"], "CONFLICT", "{errs:?}");

    // Every version with its text; the service's pinned definition resolves.
    let data = run(
        &api.schema,
        &manager,
        r#"{ definition(id: "efa-onboarding-xta") { version source usedBy { key } }
             services(first: 1) { edges { node { key definition { id version definition { contentHash } } landDefinition { id version } } } } }"#,
    )
    .await;
    assert_eq!(data["definition"]["version"], 1);
    let labels = run(&api.schema, &manager, r#"{ definition(id: "efa-onboarding", version: 2) { phases { steps { id evidence { id values labels } } } } }"#).await;
    let weg = labels["definition"]["phases"]
        .as_array()
        .expect("phases")
        .iter()
        .flat_map(|p| p["steps"].as_array().cloned().unwrap_or_default())
        .find(|s| s["id"] == "transportweg")
        .expect("transportweg");
    assert_eq!(weg["evidence"][0]["labels"], json!(["FIT-Connect", "OSCI/XTA"]));
    assert_eq!(weg["evidence"][0]["values"], json!(["fit_connect", "osci_xta"]));
    assert_eq!(data["definition"]["usedBy"], json!([]));
    let service = &data["services"]["edges"][0]["node"];
    assert_eq!(service["definition"]["id"], "efa-onboarding");
    assert_eq!(service["landDefinition"], json!({ "id": "efa-land", "version": 1 }));
    assert!(service["definition"]["definition"]["contentHash"].as_str().is_some_and(|h| h.len() == 64));
}

#[tokio::test]
async fn a_service_switched_to_a_variant_and_its_rollouts_moved_after_a_dry_run() {
    let store: Arc<dyn EventStore> = Arc::new(MemoryStore::new());
    let api = schema_over(store.clone()).await;
    let manager = caller(TokenRole::ProjectManager);
    run(&api.schema, &manager, r#"mutation { startRollout(input: { serviceKey: "wohngeld", ars: "120540000000" }) { rollout { definition } } }"#).await;
    let q = format!(
        "mutation {{ publishDefinition(input: {{ source: {}, reason: \"XTA\" }}) {{ published }} }}",
        serde_json::to_string(&variant()).expect("json")
    );
    run(&api.schema, &manager, &q).await;
    let data = run(
        &api.schema,
        &manager,
        r#"mutation { setServiceDefinition(input: { serviceKey: "wohngeld", definitionId: "efa-onboarding-xta", version: 1, level: AUTHORITY, reason: "XTA" }) { key definition { id version } } }"#,
    )
    .await;
    assert_eq!(
        data["setServiceDefinition"]["definition"],
        json!({ "id": "efa-onboarding-xta", "version": 1 })
    );
    let data = run(&api.schema, &manager, r#"mutation { startRollout(input: { serviceKey: "wohngeld", ars: "120600000000" }) { rollout { definition definitionDetails { source } } } }"#).await;
    assert_eq!(data["startRollout"]["rollout"]["definition"], "efa-onboarding-xta@1");
    assert_eq!(data["startRollout"]["rollout"]["definitionDetails"]["source"], variant());

    let migrate = |dry: bool| {
        format!(
            r#"mutation {{ migrateService(input: {{ serviceKey: "wohngeld", toDefinitionId: "efa-onboarding-xta", toVersion: 1, dryRun: {dry}, reason: "Umstellung" }}) {{
                dryRun correlationId moved refused rollouts {{ rolloutId moved added removed kept toRedo problems }} }} }}"#
        )
    };
    let at = store.head().await.expect("head").position;
    let data = run(&api.schema, &manager, &migrate(true)).await;
    let m = &data["migrateService"];
    assert_eq!(
        (m["dryRun"].clone(), m["moved"].clone(), m["refused"].clone()),
        (json!(true), json!(0), json!(0))
    );
    assert_eq!(m["rollouts"][0]["rolloutId"], "wohngeld:120540000000", "{m}");
    assert_eq!(m["rollouts"].as_array().map(Vec::len), Some(1), "only the rollout not on the target");
    assert_eq!(store.head().await.expect("head").position, at, "a dry run appends nothing");
    let data = run(&api.schema, &manager, &migrate(false)).await;
    let m = &data["migrateService"];
    assert_eq!(m["moved"], 1, "{m}");
    let data = run(&api.schema, &manager, r#"{ rollout(id: "wohngeld:120540000000") { definition } }"#).await;
    assert_eq!(data["rollout"]["definition"], "efa-onboarding-xta@1");

    // One rollout back to another definition id: migrateRollout with `definitionId`.
    let back = run(
        &api.schema,
        &manager,
        r#"mutation { migrateRollout(input: { rolloutId: "wohngeld:120600000000", definitionId: "efa-onboarding", definitionVersion: 2, reason: "doch FIT-Connect" }) { rollout { definition } events { data } } }"#,
    )
    .await;
    assert_eq!(back["migrateRollout"]["rollout"]["definition"], "efa-onboarding@2");
    assert_eq!(back["migrateRollout"]["events"][0]["data"]["toId"], "efa-onboarding");
    assert_eq!(back["migrateRollout"]["events"][0]["data"]["reason"], "doch FIT-Connect");
    let staff = caller(TokenRole::AuthorityStaff);
    let errs = errors(&api, &staff, &migrate(true), json!({})).await;
    assert_eq!(errs[0]["extensions"]["code"], "FORBIDDEN", "{errs:?}");
}
