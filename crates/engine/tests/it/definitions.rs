//! Definitions as events: publishing, the bundled texts of old stores, a service's own
//! definition, moving a service's rollouts, and a second engine (server) on the same log.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use catalog::{DefinitionLevel, DefinitionRef};

use crate::support::LAND_ARS;
use engine::{Engine, EngineError, Invocation};
use serde_json::json;
use store::{EventStore, MemoryStore};
use workflow::registry::PublishError;
use workflow::Definitions;

use super::catalog_and_rollouts::{admin, complete, dataset, engine, head};

const POTSDAM: &str = "120540000000";
const BARNIM: &str = "120600000000";
const ELBE_ELSTER: &str = "120620000000";
/// The texts shipped in `workflows/` (each published once).
const BUNDLED: usize = engine::definitions::BUNDLED.len();
const ONBOARDING: &str = include_str!("../../../../workflows/archive/efa-onboarding.v1.toml");

/// A variant of the onboarding for OSCI/XTA users, as a file of its own: its id, `version`,
/// the first step renamed to `interesse_bekundet` and given a required field `kanal`.
fn variant(version: u32) -> String {
    ONBOARDING
        .replacen("id = \"efa-onboarding\"\nversion = 1", &format!("id = \"efa-onboarding-xta\"\nversion = {version}"), 1)
        .replace("id = \"interesse\"", "id = \"interesse_bekundet\"")
        .replace("depends_on = [\"interesse\"]", "depends_on = [\"interesse_bekundet\"]")
        .replacen(
            "{ id = \"datum\", label = \"Datum\", type = \"date\" },",
            "{ id = \"datum\", label = \"Datum\", type = \"date\" },\n  { id = \"kanal\", label = \"Übermittlungsweg\", type = \"text\" },",
            1,
        )
}

fn reason(text: &str) -> String {
    text.to_owned()
}

async fn ready() -> (Engine, Arc<dyn EventStore>) {
    let (engine, store) = engine().await;
    engine.publish_bundled().await.expect("bundled");
    engine.import_catalog(&dataset(), &admin(), |_, _| {}).await.expect("import");
    (engine, store)
}

#[tokio::test]
async fn a_text_is_published_once_checked_and_never_changed_under_its_version() {
    let (engine, store) = engine().await;
    let published = engine.publish_bundled().await.expect("bundled");
    assert_eq!(published.len(), BUNDLED, "every bundled text, on an empty log");
    assert_eq!(head(&store).await, BUNDLED as u64);
    assert!(engine.publish_bundled().await.expect("again").is_empty());
    assert_eq!(head(&store).await, BUNDLED as u64, "publishing the bundled texts again appends nothing");

    // Invalid: every problem with its position, nothing appended.
    let broken = variant(1).replacen("title = \"Interesse bekundet\"", "titel = \"Interesse bekundet\"", 1);
    let Err(EngineError::Publish(PublishError::Invalid(diags))) =
        engine.publish_definition(&broken, "Test", &admin()).await
    else {
        panic!("an invalid text is refused")
    };
    let rendered: Vec<String> = diags.iter().map(|d| d.render("xta.toml", &broken)).collect();
    assert!(rendered.iter().any(|d| d.starts_with("xta.toml:18:1: unknown key `titel`")), "{rendered:#?}");
    let land = variant(1).replacen(
        "depends_on = [\"interesse_bekundet\"]",
        "depends_on = [\"land:gibt_es_nicht\"]",
        1,
    );
    let Err(EngineError::Publish(PublishError::Invalid(diags))) =
        engine.publish_definition(&land, "Test", &admin()).await
    else {
        panic!("a land: dependency the Land definition lacks is refused")
    };
    assert!(diags[0].message.contains("`efa-land` has no step `gibt_es_nicht`"), "{diags:?}");
    assert_eq!(head(&store).await, BUNDLED as u64, "nothing appended on a problem");
    assert!(matches!(
        engine.publish_definition(&variant(1), "  ", &admin()).await,
        Err(EngineError::Rejected(_))
    ));

    let first = engine.publish_definition(&variant(1), "OSCI/XTA-Nutzer", &admin()).await.expect("publish");
    let event = first.event.expect("appended");
    assert_eq!(
        (event.event_type.as_str(), event.stream_id.as_str()),
        ("DefinitionPublished", "definition-efa-onboarding-xta")
    );
    let publication = first.entry.publication.expect("published");
    assert_eq!(
        (publication.actor.id.as_str(), publication.reason.as_str()),
        ("person:admin", "OSCI/XTA-Nutzer")
    );
    assert_eq!(&*first.entry.source, variant(1));

    let again = engine.publish_definition(&variant(1), "noch einmal", &admin()).await.expect("same text");
    assert!(again.event.is_none(), "the same text again appends nothing");
    assert_eq!(head(&store).await, BUNDLED as u64 + 1);
    let changed = variant(1).replace("Übermittlungsweg", "Übertragungsweg");
    assert!(matches!(
        engine.publish_definition(&changed, "Wortlaut", &admin()).await,
        Err(EngineError::Publish(PublishError::Conflict { version: 1, .. }))
    ));
    engine.publish_definition(&variant(3), "v3", &admin()).await.expect("v3");
    assert!(matches!(
        engine.publish_definition(&variant(2), "v2", &admin()).await,
        Err(EngineError::Publish(PublishError::NotNewer { version: 2, newest: 3, .. }))
    ));
    assert_eq!(head(&store).await, BUNDLED as u64 + 2);
}

#[tokio::test]
async fn a_store_written_before_definitions_were_events_folds_as_before() {
    // Written the way the previous build wrote it: rollouts pinned to the bundled texts, no
    // publication in the log.
    let (old, store) = engine().await;
    old.import_catalog(&dataset(), &admin(), |_, _| {}).await.expect("import");
    old.start_rollout("wohngeld", POTSDAM, None, &admin()).await.expect("start");
    let kontakt = crate::catalog_and_rollouts::contact(&old, POTSDAM).await;
    old.execute(
        "wohngeld",
        POTSDAM,
        complete("interesse", json!({"datum": "2026-01-05", "kontakt": kontakt})),
        &admin(),
    )
    .await
    .expect("complete");
    let before = old.load("wohngeld", POTSDAM).await.expect("load").expect("rollout");
    let before_head = head(&store).await;
    drop(old);

    let registry = Arc::new(engine::definitions::bundled().expect("bundled"));
    let folded =
        projections::fold(&store, &*registry, projections::Cut::Everything, |_| {}).await.expect("fold");
    assert_eq!(folded.position, before_head, "the whole old log folds");
    let new = Engine::open(store.clone(), registry.clone()).await.expect("open");
    let after = new.load("wohngeld", POTSDAM).await.expect("load").expect("rollout");
    assert_eq!(after.steps, before.steps);
    assert_eq!(after.definition.content_hash, before.definition.content_hash);
    let entry = registry.entry("efa-onboarding", 1).expect("pinned definition");
    assert_eq!(&*entry.source, ONBOARDING, "its exact text");
    assert!(entry.publication.is_none(), "not published in this log yet");

    assert_eq!(new.publish_bundled().await.expect("publish").len(), BUNDLED);
    let entry = registry.entry("efa-onboarding", 1).expect("pinned definition");
    assert_eq!(entry.publication.expect("published now").actor.id, "system");
    let refolded = projections::fold(
        &store,
        &engine::definitions::bundled().expect("bundled"),
        projections::Cut::Everything,
        |_| {},
    )
    .await
    .expect("fold");
    assert_eq!(refolded.position, before_head + BUNDLED as u64);
    store::verify_log(&*store, |_| {}).await.expect("the chain holds");
}

#[tokio::test]
async fn a_service_on_its_own_definition_and_its_running_rollouts_moved_in_one_batch() {
    let (engine, store) = ready().await;
    engine.start_rollout("wohngeld", LAND_ARS, None, &admin()).await.expect("land");
    engine.start_rollout("wohngeld", POTSDAM, None, &admin()).await.expect("start");
    engine.start_rollout("wohngeld", BARNIM, None, &admin()).await.expect("start");
    let kontakt = crate::catalog_and_rollouts::contact(&engine, POTSDAM).await;
    engine
        .execute(
            "wohngeld",
            POTSDAM,
            complete("interesse", json!({"datum": "2026-01-05", "kontakt": kontakt})),
            &admin(),
        )
        .await
        .expect("complete");
    engine.publish_definition(&variant(1), "OSCI/XTA", &admin()).await.expect("publish");
    let xta = DefinitionRef::new("efa-onboarding-xta", 1);

    // A Land-level definition for the administrations' level is refused.
    let wrong = engine
        .set_service_definition(
            "wohngeld",
            DefinitionLevel::Authority,
            DefinitionRef::land_default(),
            "falsch",
            &admin(),
        )
        .await;
    assert!(matches!(&wrong, Err(EngineError::Invalid(m)) if m.contains("land definition")), "{wrong:?}");
    let unknown = engine
        .set_service_definition(
            "wohngeld",
            DefinitionLevel::Authority,
            DefinitionRef::new("nope", 1),
            "x",
            &admin(),
        )
        .await;
    assert!(matches!(unknown, Err(EngineError::UnknownDefinition(_))));
    let set = engine
        .set_service_definition(
            "wohngeld",
            DefinitionLevel::Authority,
            xta.clone(),
            "Wohngeld über XTA",
            &admin(),
        )
        .await
        .expect("set");
    assert_eq!(set.event_type, "ServiceDefinitionSet");
    assert_eq!(engine.catalog().services["wohngeld"].service.definition, xta);

    // New rollouts start on it; running ones keep theirs.
    let new = engine.start_rollout("wohngeld", ELBE_ELSTER, None, &admin()).await.expect("start");
    assert_eq!(new.rollout.definition.id, "efa-onboarding-xta");
    let running = engine.load("wohngeld", POTSDAM).await.expect("load").expect("rollout");
    assert_eq!(running.definition.id, "efa-onboarding");

    // Dry run: what would change, nothing appended; the rollout with progress on the renamed
    // step cannot move without a mapping.
    let at = head(&store).await;
    let dry = engine
        .migrate_service("wohngeld", &xta, BTreeMap::new(), true, "Umstellung", &admin())
        .await
        .expect("dry run");
    assert_eq!(head(&store).await, at, "a dry run appends nothing");
    let by_ars: BTreeMap<&str, &engine::RolloutMigration> =
        dry.rollouts.iter().map(|r| (r.ars.as_str(), r)).collect();
    assert_eq!(
        by_ars.keys().copied().collect::<Vec<_>>(),
        [POTSDAM, BARNIM],
        "not the Land's, not the one on the target"
    );
    let potsdam = by_ars[POTSDAM];
    assert!(potsdam.problems.iter().any(|p| p.contains("`interesse` has progress")), "{potsdam:?}");
    let barnim = by_ars[BARNIM];
    assert!(barnim.problems.is_empty(), "{barnim:?}");
    assert_eq!(barnim.added, ["interesse_bekundet"]);
    // The renamed step, and the steps of the service's definition (efa-onboarding@3) that the
    // variant (built on version 1) lacks.
    let mut removed = barnim.removed.clone();
    removed.sort();
    assert_eq!(
        removed,
        [
            "datenschutz_sicherheit",
            "erster_antrag",
            "funktionspostfach",
            "interesse",
            "pflichtangaben",
            "rueckkanal",
            "schulung",
            "xta_anbindung"
        ]
    );
    assert!(barnim.event.is_none());

    // With the mapping, both move, in one batch under one correlation id.
    let mapping: BTreeMap<String, String> =
        [("interesse".to_owned(), "interesse_bekundet".to_owned())].into();
    let batch = Invocation::new(admin().principal);
    let done = engine
        .migrate_service("wohngeld", &xta, mapping, false, "Umstellung auf XTA", &batch)
        .await
        .expect("migrate");
    assert!(done.rollouts.iter().all(|r| r.problems.is_empty() && r.event.is_some()), "{:?}", done.rollouts);
    let potsdam = done.rollouts.iter().find(|r| r.ars == POTSDAM).expect("potsdam");
    assert_eq!(potsdam.kept, ["interesse_bekundet"]);
    assert_eq!(potsdam.to_redo, ["interesse_bekundet"], "the new required field `kanal` is missing");
    for r in &done.rollouts {
        let e = r.event.as_ref().expect("event");
        assert_eq!(e.correlation_id, batch.correlation_id);
        assert_eq!(e.event_type, "DefinitionMigrated");
        assert!(e.data.as_str().contains(r#""toId":"efa-onboarding-xta""#), "{}", e.data.as_str());
        assert!(e.data.as_str().contains(r#""reason":"Umstellung auf XTA""#), "{}", e.data.as_str());
    }
    let moved = engine.load("wohngeld", POTSDAM).await.expect("load").expect("rollout");
    assert_eq!((moved.definition.id.as_str(), moved.definition.version), ("efa-onboarding-xta", 1));
    let i = moved.definition.step_index("interesse_bekundet").expect("step");
    assert_eq!(moved.steps[i].status, workflow::StepStatus::Done, "progress kept");
    // A second run finds nothing left to move.
    let again = engine
        .migrate_service("wohngeld", &xta, BTreeMap::new(), false, "nochmal", &admin())
        .await
        .expect("again");
    assert!(again.rollouts.is_empty());
    // And a rebuild folds the moved rollouts (the read models know the published variant).
    let folded = projections::fold(
        &store,
        &engine::definitions::bundled().expect("bundled"),
        projections::Cut::Everything,
        |_| {},
    )
    .await
    .expect("fold");
    assert_eq!(folded.position, head(&store).await);
}

#[tokio::test]
async fn a_second_server_on_the_same_log_sees_a_publication_and_a_service_change_without_restart() {
    let (first, store) = ready().await;
    let second = Arc::new(
        Engine::open(store.clone(), Arc::new(engine::definitions::bundled().expect("bundled")))
            .await
            .expect("open"),
    );
    let follower = second.follow_log(head(&store).await);
    first.publish_definition(&variant(1), "OSCI/XTA", &admin()).await.expect("publish");
    let xta = DefinitionRef::new("efa-onboarding-xta", 1);
    first
        .set_service_definition("wohngeld", DefinitionLevel::Authority, xta.clone(), "XTA", &admin())
        .await
        .expect("set");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while second.catalog().services["wohngeld"].service.definition != xta {
        assert!(tokio::time::Instant::now() < deadline, "the second engine never saw the change");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(second.registry().get("efa-onboarding-xta", 1).is_some(), "the publication was followed");
    let started = second.start_rollout("wohngeld", POTSDAM, None, &admin()).await.expect("start");
    assert_eq!(started.rollout.definition.id, "efa-onboarding-xta");
    // Its own appends, met again by its follower, change nothing.
    let version = second.catalog().services["wohngeld"].version;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(second.catalog().services["wohngeld"].version, version);
    follower.abort();
}

#[tokio::test]
async fn a_copy_of_the_log_brings_its_definitions() {
    let (engine, store) = ready().await;
    engine.publish_definition(&variant(1), "OSCI/XTA", &admin()).await.expect("publish");
    let copy: Arc<dyn EventStore> = Arc::new(MemoryStore::new());
    let mut from = 1;
    loop {
        let page = store.read_all(from, 500).await.expect("read");
        let Some(last) = page.last() else { break };
        from = last.position + 1;
        for chunk in page.chunks(100) {
            copy.append_recorded(chunk.to_vec()).await.expect("copy");
        }
    }
    let registry = Arc::new(engine::definitions::bundled().expect("bundled"));
    let elsewhere = Engine::open(copy, registry.clone()).await.expect("open");
    let entry = registry.entry("efa-onboarding-xta", 1).expect("the published variant");
    assert_eq!(&*entry.source, variant(1));
    assert_eq!(entry.publication.expect("publication").reason, reason("OSCI/XTA"));
    elsewhere
        .start_rollout("wohngeld", POTSDAM, Some(&DefinitionRef::new("efa-onboarding-xta", 1)), &admin())
        .await
        .expect("start");
}

const XTA_VARIANT: &str = r#"id = "efa-onboarding-xta"
version = 1
extends = "efa-onboarding@1"
title = "Anbindung über OSCI/XTA"

[[phases]]
id = "technik"

[[phases.steps]]
id = "xta_postfach"
title = "XTA-Postfach eingerichtet"
roles = ["authority-staff"]
depends_on = ["transportweg"]
"#;

#[tokio::test]
async fn a_variant_is_published_with_its_base_and_folds_without_the_bundled_texts_changing_it() {
    let (engine, store) = ready().await;
    let missing = XTA_VARIANT.replace("efa-onboarding@1", "efa-onboarding@7");
    let Err(EngineError::Publish(PublishError::Invalid(diags))) =
        engine.publish_definition(&missing, "XTA", &admin()).await
    else {
        panic!("an unknown base is refused")
    };
    assert!(diags[0].message.contains("`efa-onboarding@7`, which is not published"), "{diags:?}");
    let broken = XTA_VARIANT.replace("depends_on = [\"transportweg\"]", "depends_on = [\"gibt_es_nicht\"]");
    let Err(EngineError::Publish(PublishError::Invalid(diags))) =
        engine.publish_definition(&broken, "XTA", &admin()).await
    else {
        panic!("a broken variant is refused")
    };
    let rendered = engine.registry().render(&diags[0], "xta.toml", &broken);
    assert!(rendered.starts_with("xta.toml:13:"), "{rendered}");

    let published = engine.publish_definition(XTA_VARIANT, "XTA", &admin()).await.expect("publish");
    // A variant of the variant is refused: the merge needs its base's full text.
    let nested = XTA_VARIANT
        .replace("id = \"efa-onboarding-xta\"", "id = \"efa-onboarding-xta-2\"")
        .replace("efa-onboarding@1", "efa-onboarding-xta@1");
    let Err(EngineError::Publish(PublishError::Invalid(diags))) =
        engine.publish_definition(&nested, "x", &admin()).await
    else {
        panic!("a variant of a variant is refused")
    };
    assert!(diags[0].message.contains("is a variant itself; extend its base instead"), "{diags:?}");
    let base = published.entry.base.clone().expect("a variant");
    assert_eq!(base.name(), "efa-onboarding@1");
    let event = published.event.expect("event");
    assert!(event.data.as_str().contains(r#""id":"efa-onboarding","version":1}"#), "{}", event.data.as_str());
    assert_eq!(&*published.entry.source, XTA_VARIANT, "the variant's own text is stored");
    let variant = DefinitionRef::new("efa-onboarding-xta", 1);
    let started = engine.start_rollout("wohngeld", POTSDAM, Some(&variant), &admin()).await.expect("start");
    assert!(started.rollout.definition.step_index("xta_postfach").is_some());
    assert!(started.rollout.definition.step_index("dvdv").is_some(), "the base's steps");

    // Another server, and a rebuild, know it from the log alone.
    let registry = Arc::new(engine::definitions::bundled().expect("bundled"));
    let reopened = Engine::open(store.clone(), registry.clone()).await.expect("open");
    let loaded = reopened.load("wohngeld", POTSDAM).await.expect("load").expect("rollout");
    assert_eq!(loaded.definition.steps.len(), started.rollout.definition.steps.len());
    let folded = projections::fold(
        &store,
        &engine::definitions::bundled().expect("bundled"),
        projections::Cut::Everything,
        |_| {},
    )
    .await
    .expect("fold");
    assert_eq!(folded.position, head(&store).await);
}
