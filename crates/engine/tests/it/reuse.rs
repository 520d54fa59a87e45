//! Who is responsible and who wants the service, on a real log: the exception of
//! Fürstenwalde/Spree for Wohngeld, offers and answers, a change of responsibility that hands a
//! rollout over, and the migration of a store written before either.

use catalog::{AnswerKind, DeclineCategory, Exception, Offer};
use engine::reuse::AnswerInput;
use engine::EngineError;

use crate::catalog_and_rollouts::{admin, dataset, engine, staff, LAND_ARS};

const FUERSTENWALDE: &str = "120670144144";
const ODER_SPREE: &str = "120670000000";
const POTSDAM: &str = "120540000000";
const COTTBUS: &str = "120520000000";
const BARNIM: &str = "120600000000";

fn answer(kind: AnswerKind) -> AnswerInput {
    AnswerInput { answer: kind, category: None, until: None, text: String::new() }
}

fn offer(to: &[&str]) -> Offer {
    Offer {
        to: to.iter().map(|s| s.to_string()).collect(),
        from: "2026-01-01".into(),
        conditions: "Nachnutzungsvereinbarung".into(),
        contact: None,
        reason: "Angebot an die Wohngeldbehörden".into(),
        at: None,
    }
}

#[tokio::test]
async fn a_service_starts_where_it_is_responsible_the_exception_included() {
    let (engine, _) = engine().await;
    engine.import_catalog(&dataset(), &admin(), |_, _| {}).await.expect("import");
    let summary = engine.start_service("wohngeld", &admin()).await.expect("start");
    assert_eq!(
        summary.started.len(),
        1 + 19,
        "the Land, 18 Landkreise and kreisfreie Städte, Fürstenwalde/Spree"
    );
    assert!(summary.started.iter().any(|a| a == FUERSTENWALDE));
    assert!(engine.load("wohngeld", ODER_SPREE).await.expect("load").is_some());
    // Not responsible: refused by name.
    let err = engine.start_rollout("wohngeld", "120690020020", None, &admin()).await.expect_err("Bad Belzig");
    assert!(matches!(err, EngineError::NotApplicable { .. }), "{err}");
}

#[tokio::test]
async fn interest_starts_a_rollout_a_decline_starts_none_and_a_revised_decline_does() {
    let (engine, _) = engine().await;
    engine.import_catalog(&dataset(), &admin(), |_, _| {}).await.expect("import");
    engine.offer_service("wohngeld", offer(&[]), &admin()).await.expect("offer to all");
    let (_, started) = engine
        .answer_offer("wohngeld", POTSDAM, answer(AnswerKind::Interested), &staff())
        .await
        .expect("interest");
    assert!(started);
    assert!(engine.load("wohngeld", LAND_ARS).await.expect("load").is_some(), "the central rollout first");
    assert!(engine.load("wohngeld", POTSDAM).await.expect("load").is_some());

    let decline = AnswerInput {
        category: Some(DeclineCategory::NoCapacity),
        text: "2027 wieder".into(),
        ..answer(AnswerKind::Declined)
    };
    let (_, started) = engine.answer_offer("wohngeld", COTTBUS, decline, &staff()).await.expect("decline");
    assert!(!started);
    assert!(
        engine.load("wohngeld", COTTBUS).await.expect("load").is_none(),
        "a decline starts nothing, ends nothing"
    );
    let c = engine.catalog();
    assert_eq!(c.authorities[COTTBUS].answers["wohngeld"].answer, AnswerKind::Declined);

    // Revised: the interest starts it now.
    let (_, started) = engine
        .answer_offer("wohngeld", COTTBUS, answer(AnswerKind::Interested), &staff())
        .await
        .expect("revised");
    assert!(started);
    let cottbus = engine.load("wohngeld", COTTBUS).await.expect("load").expect("started");
    assert!(cottbus.cancelled.is_none());

    // A decline while it runs leaves the rollout as it is.
    let decline = AnswerInput { category: Some(DeclineCategory::Costs), ..answer(AnswerKind::Declined) };
    engine.answer_offer("wohngeld", COTTBUS, decline, &staff()).await.expect("declined again");
    let cottbus = engine.load("wohngeld", COTTBUS).await.expect("load").expect("still there");
    assert!(cottbus.cancelled.is_none(), "never shown as ended");
}

#[tokio::test]
async fn answers_and_offers_that_do_not_fit_are_refused_in_german() {
    let (engine, _) = engine().await;
    engine.import_catalog(&dataset(), &admin(), |_, _| {}).await.expect("import");
    let message = |e: EngineError| e.to_string();
    let no_category = engine.answer_offer("wohngeld", POTSDAM, answer(AnswerKind::Declined), &staff()).await;
    assert!(message(no_category.expect_err("category")).contains("Kategorie"));
    let no_date = engine.answer_offer("wohngeld", POTSDAM, answer(AnswerKind::Deferred), &staff()).await;
    assert!(message(no_date.expect_err("until")).contains("Datum"));
    let bad_date = AnswerInput { until: Some("31.12.2026".into()), ..answer(AnswerKind::Deferred) };
    let bad = engine.answer_offer("wohngeld", POTSDAM, bad_date, &staff()).await;
    assert!(message(bad.expect_err("date")).contains("„31.12.2026“ ist kein Datum"));
    let not_responsible = engine.offer_service("wohngeld", offer(&["120690020020"]), &admin()).await;
    assert!(message(not_responsible.expect_err("Bad Belzig")).contains("nicht zuständig"));
    // Nothing of it was stored.
    assert!(engine.catalog().authorities[POTSDAM].answers.is_empty());
    assert!(engine.catalog().services["wohngeld"].offers.is_empty());
}

#[tokio::test]
async fn a_task_carried_by_agreement_hands_the_rollout_over() {
    let (engine, _) = engine().await;
    engine.import_catalog(&dataset(), &admin(), |_, _| {}).await.expect("import");
    engine.start_service("wohngeld", &admin()).await.expect("start");
    // Eberswalde (a Große kreisangehörige Stadt) takes Wohngeld over from the Landkreis Barnim
    // for itself; then by agreement also carries it for Bernau.
    let eberswalde = "120600052052";
    let x = Exception {
        responsible: true,
        for_ars: vec![],
        source: "Vereinbarung (Test)".into(),
        valid_from: "2026-01-01".into(),
    };
    let report = engine
        .change_responsibility("wohngeld", eberswalde, Some(x), "eigene Wohngeldstelle", &admin())
        .await
        .expect("change");
    assert!(
        report.closed.is_empty() && report.handed_over.is_empty(),
        "Barnim stays responsible for the rest"
    );
    assert!(engine.catalog().is_responsible("wohngeld", BARNIM));
    // A municipality carries the Standesamt's task for its neighbour by agreement: without a
    // rollout of its own it takes the neighbour's over; with one, the neighbour's ends.
    let (panketal, wandlitz, bernau) = ("120600181181", "120600269269", "120600020020");
    for ars in [panketal, bernau] {
        let (_, started) = engine
            .answer_offer("geburtsurkunde", ars, answer(AnswerKind::Interested), &staff())
            .await
            .expect("interest");
        assert!(started);
    }
    let agreement = |of: &str| Exception {
        responsible: true,
        for_ars: vec![of.into()],
        source: "öffentlich-rechtliche Vereinbarung (Test)".into(),
        valid_from: "2026-07-01".into(),
    };
    let report = engine
        .change_responsibility(
            "geburtsurkunde",
            wandlitz,
            Some(agreement(panketal)),
            "Vereinbarung",
            &admin(),
        )
        .await
        .expect("agreement");
    assert_eq!(report.handed_over, vec![(panketal.to_string(), wandlitz.to_string())], "{report:?}");
    assert!(!engine.catalog().is_responsible("geburtsurkunde", panketal));
    assert!(engine
        .load("geburtsurkunde", wandlitz)
        .await
        .expect("load")
        .is_some_and(|r| r.cancelled.is_none()));
    assert!(engine
        .load("geburtsurkunde", panketal)
        .await
        .expect("load")
        .is_some_and(|r| r.cancelled.is_some()));
    let report = engine
        .change_responsibility("geburtsurkunde", wandlitz, Some(agreement(bernau)), "Vereinbarung", &admin())
        .await
        .expect("bernau");
    assert_eq!(report.closed, vec![bernau.to_string()], "Wandlitz has its own now: {report:?}");
    // Responsible again after its rollout ended: the ended rollout stays, nothing opens twice.
    let x = Exception {
        responsible: true,
        for_ars: vec![],
        source: "Test".into(),
        valid_from: "2026-01-01".into(),
    };
    let cottbus_like = "120690020020"; // Bad Belzig: not responsible for Wohngeld by the rule
    engine
        .change_responsibility("wohngeld", cottbus_like, Some(x.clone()), "eigene Stelle", &admin())
        .await
        .expect("own");
    engine
        .answer_offer("wohngeld", cottbus_like, answer(AnswerKind::Interested), &staff())
        .await
        .expect("interest");
    engine
        .change_responsibility("wohngeld", cottbus_like, None, "zurück zur Regel", &admin())
        .await
        .expect("rule");
    let report = engine
        .change_responsibility("wohngeld", cottbus_like, Some(x), "wieder eigene Stelle", &admin())
        .await
        .expect("again");
    assert!(report.opened.is_empty(), "its rollout exists (ended): {report:?}");
}

#[tokio::test]
async fn the_migration_records_interest_for_every_old_rollout_once() {
    let (engine, _) = engine().await;
    engine.import_catalog(&dataset(), &admin(), |_, _| {}).await.expect("import");
    engine.start_service("elterngeld", &admin()).await.expect("start");
    let first = engine.migrate_reuse(&admin()).await.expect("migrate");
    assert_eq!(first.interested, 18, "{first:?}");
    assert_eq!(first.responsible, 0);
    let c = engine.catalog();
    assert_eq!(c.authorities[POTSDAM].answers["elterngeld"].answer, AnswerKind::Interested);
    assert!(
        !c.authorities[LAND_ARS].answers.contains_key("elterngeld"),
        "the central rollout is no administration's"
    );
    let again = engine.migrate_reuse(&admin()).await.expect("again");
    assert_eq!((again.interested, again.responsible, again.unchanged), (0, 0, 18));
}

#[tokio::test]
async fn targets_usage_and_answers_round_trip_through_export_and_import() {
    let (engine, store) = engine().await;
    engine.import_catalog(&dataset(), &admin(), |_, _| {}).await.expect("import");
    engine.offer_service("wohngeld", offer(&[]), &admin()).await.expect("offer");
    engine
        .answer_offer("wohngeld", POTSDAM, answer(AnswerKind::Interested), &staff())
        .await
        .expect("interest");
    let target = catalog::Target {
        scope: "programme:efa".into(),
        measure: catalog::Measure::Coverage(60.0),
        by: "2027-12-31".into(),
        reason: "Kommunalpakt".into(),
    };
    engine.set_target(target.clone(), &admin()).await.expect("target");
    let usage = catalog::Usage {
        service: "wohngeld".into(),
        month: "2026-11".into(),
        count: 42,
        source: "ZSK".into(),
    };
    engine.record_usage(POTSDAM, usage, &admin()).await.expect("usage");
    engine.set_end_to_end("wohngeld", POTSDAM, true, "XTA-Import", &admin()).await.expect("e2e");
    let support = catalog::Support {
        date: "2026-11-05".into(),
        topic: "Zertifikate".into(),
        by: "KAZ/ZIT-BB".into(),
        service: None,
    };
    engine.record_support(POTSDAM, support, &admin()).await.expect("support");

    let mut file = Vec::new();
    store::ndjson::export(&*store, &mut file, |_| {}).await.expect("export");
    let copy: std::sync::Arc<dyn store::EventStore> = std::sync::Arc::new(store::MemoryStore::new());
    store::ndjson::import(&*copy, || Ok(std::io::Cursor::new(file.clone())), |_| {}).await.expect("import");
    let again = engine::Engine::open(copy.clone(), engine.registry().clone()).await.expect("open");
    assert_eq!(again.catalog(), engine.catalog(), "the same catalogue, answers, targets and usage");
    let c = again.catalog();
    assert_eq!(c.targets["programme:efa"], target);
    assert_eq!(c.authorities[POTSDAM].usage["wohngeld"]["2026-11"], (42, "ZSK".to_string()));
    assert!(c.authorities[POTSDAM].end_to_end["wohngeld"]);
    assert_eq!(c.authorities[POTSDAM].support.len(), 1);
    let verified = store::verify_log(&*copy, |_| {}).await.expect("verify");
    assert_eq!(verified.events, store.head().await.expect("head").position);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_of_one_administration_at_the_same_time_are_all_recorded() {
    let (engine, _) = engine().await;
    engine.import_catalog(&dataset(), &admin(), |_, _| {}).await.expect("import");
    let engine = std::sync::Arc::new(engine);
    // Potsdam answers for six services at once (as a clerk clicking quickly, or a script): one
    // stream, `authority-<ARS>`, six appends.
    let services =
        ["wohngeld", "elterngeld", "bafoeg", "baugenehmigung", "unterhaltsvorschuss", "grundsicherung"];
    let tasks: Vec<_> = services
        .iter()
        .map(|s| {
            let (engine, s) = (engine.clone(), s.to_string());
            let decline =
                AnswerInput { category: Some(DeclineCategory::NoDemand), ..answer(AnswerKind::Declined) };
            tokio::spawn(async move { engine.answer_offer(&s, POTSDAM, decline, &staff()).await.map(|_| ()) })
        })
        .collect();
    for t in tasks {
        t.await.expect("task").expect("every answer is recorded, none refused as a conflict");
    }
    let c = engine.catalog();
    assert_eq!(c.authorities[POTSDAM].answers.len(), services.len());
    // The catalogue a fresh engine folds from the log is the same.
    let again = engine::Engine::open(engine.store().clone(), engine.registry().clone()).await.expect("open");
    assert_eq!(again.catalog(), c);
}
