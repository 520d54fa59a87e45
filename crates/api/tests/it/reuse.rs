//! Offers, answers, targets and usage through GraphQL: who may do what, the German refusals,
//! and the figures `progress` and `targets` give afterwards.

use std::sync::Arc;

use engine::TokenRole;
use serde_json::{json, Value};
use store::{EventStore, MemoryStore};

use crate::support::{caller, code, execute_with, schema_over, Api};

const POTSDAM: &str = "120540000000";
const COTTBUS: &str = "120520000000";
const FUERSTENWALDE: &str = "120670144144";
const LAND: &str = "120000000000";

fn person(id: &str) -> engine::Invocation {
    engine::Invocation::new(workflow::decide::Principal {
        actor: store::Actor { id: id.into(), name: id.into(), kind: store::ActorKind::Person, person: None },
        roles: vec![],
        admin: true,
    })
}

async fn ok(api: &Api, who: &api::Caller, query: &str, variables: Value) -> Value {
    let r = execute_with(api, who, query, variables).await;
    assert!(r.errors.is_empty(), "{query}: {:?}", r.errors);
    r.data.into_json().expect("json")
}

/// `who` answers the offer of Wohngeld for `ars` with interest.
async fn interested(api: &Api, who: &api::Caller, ars: &str) {
    let input = json!({ "i": { "serviceKey": "wohngeld", "ars": ars, "answer": "INTERESTED" } });
    ok(api, who, ANSWER, input).await;
}

const ANSWER: &str = "mutation($i: AnswerOfferInput!) { answerOffer(input: $i) { answer rolloutStarted } }";
const FIGURES: &str = "{ progress(groupBy: SERVICE, serviceKey: \"wohngeld\") { key rollouts responsible offered interested declined deferred ownSolution noAnswer onboarding inOperation coverage populationCoverage flaechendeckend applications endToEnd } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offer_is_answered_by_its_administration_and_the_figures_follow() {
    let store: Arc<dyn EventStore> = Arc::new(MemoryStore::new());
    let api = schema_over(store.clone()).await;
    let pm = caller(TokenRole::ProjectManager);
    let potsdam = api::Caller { authorities: vec![POTSDAM.into()], ..caller(TokenRole::AuthorityStaff) };
    let cottbus = api::Caller { authorities: vec![COTTBUS.into()], ..caller(TokenRole::AuthorityStaff) };
    let auditor = caller(TokenRole::Auditor);

    // Only a project manager offers.
    // The contact is a registered person of the Land: the offer names its id, never its name.
    let registered = ok(&api, &pm, "mutation { registerPerson(input: { ars: \"120000000000\", name: \"Frau Landesreferentin\", email: \"ozg@land.example\" }) { id } }", json!({})).await;
    let person = registered["registerPerson"]["id"].as_str().expect("id").to_owned();
    let offer = "mutation($i: OfferServiceInput!) { offerService(input: $i) { to from reason } }";
    let unknown = json!({ "i": { "serviceKey": "wohngeld", "from": "2026-01-01", "reason": "Nachnutzung", "contactPersonId": uuid::Uuid::now_v7().to_string() } });
    assert_eq!(code(&execute_with(&api, &pm, offer, unknown).await).as_deref(), Some("NOT_FOUND"));
    let input = json!({ "i": { "serviceKey": "wohngeld", "from": "2026-01-01", "reason": "Nachnutzung", "contactPersonId": person } });
    assert_eq!(code(&execute_with(&api, &potsdam, offer, input.clone()).await).as_deref(), Some("FORBIDDEN"));
    let offered = ok(&api, &pm, offer, input).await;
    assert_eq!(offered["offerService"]["to"], json!([]), "to every responsible administration");

    // Staff answer for their own administration only.
    let interested = json!({ "i": { "serviceKey": "wohngeld", "ars": POTSDAM, "answer": "INTERESTED" } });
    assert_eq!(
        code(&execute_with(&api, &cottbus, ANSWER, interested.clone()).await).as_deref(),
        Some("FORBIDDEN")
    );
    assert_eq!(
        code(&execute_with(&api, &auditor, ANSWER, interested.clone()).await).as_deref(),
        Some("FORBIDDEN")
    );
    let d = ok(&api, &potsdam, ANSWER, interested).await;
    assert_eq!(d["answerOffer"], json!({ "answer": "INTERESTED", "rolloutStarted": true }));
    // A decline needs a category, said in German; then it is recorded and starts nothing.
    let bare = json!({ "i": { "serviceKey": "wohngeld", "ars": COTTBUS, "answer": "DECLINED" } });
    let refused = execute_with(&api, &cottbus, ANSWER, bare).await;
    assert_eq!(code(&refused).as_deref(), Some("BAD_USER_INPUT"));
    assert!(refused.errors[0].message.contains("Kategorie"), "{:?}", refused.errors);
    let declined = json!({ "i": { "serviceKey": "wohngeld", "ars": COTTBUS, "answer": "DECLINED", "category": "NO_CAPACITY", "text": "2027 wieder" } });
    let d = ok(&api, &cottbus, ANSWER, declined).await;
    assert_eq!(d["answerOffer"]["rolloutStarted"], false);
    // Fürstenwalde/Spree is responsible by its exception; the status is a catalogue fact.
    let fw = ok(
        &api,
        &pm,
        "{ authorities(filter: { nameContains: \"Fürstenwalde\" }) { edges { node { ars status } } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        fw["authorities"]["edges"][0]["node"],
        json!({ "ars": FUERSTENWALDE, "status": "mittlere_kreisangehoerige_stadt" })
    );

    let figures = ok(&api, &pm, FIGURES, json!({})).await["progress"][0].clone();
    assert_eq!(figures["responsible"], 19);
    assert_eq!(figures["offered"], 19);
    assert_eq!(figures["interested"], 1);
    assert_eq!(figures["declined"], 1);
    assert_eq!(figures["noAnswer"], 17);
    assert_eq!(figures["onboarding"], 1);
    assert_eq!(figures["rollouts"], 1, "Potsdam's; the Land's central rollout is no administration's");
    assert_eq!(figures["flaechendeckend"], false);

    // Who answered what, as the Land sees it; a staff token sees its own row only.
    let offers =
        "{ offers(serviceKey: \"wohngeld\") { administrations { ars answer category rolloutStatus } } }";
    let all = ok(&api, &pm, offers, json!({})).await;
    assert_eq!(all["offers"]["administrations"].as_array().map(Vec::len), Some(19));
    let own = ok(&api, &cottbus, offers, json!({})).await;
    assert_eq!(
        own["offers"]["administrations"],
        json!([{ "ars": COTTBUS, "answer": "DECLINED", "category": "NO_CAPACITY", "rolloutStatus": null }])
    );
    let mine = ok(
        &api,
        &cottbus,
        "{ myOffers { serviceKey ars answer offer { contact { name email } } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        mine["myOffers"],
        json!([{ "serviceKey": "wohngeld", "ars": COTTBUS, "answer": "DECLINED", "offer": { "contact": { "name": "Frau Landesreferentin", "email": "ozg@land.example" } } }])
    );
    // Erased, the offer still names the person, and every read shows „[gelöscht]“.
    let admin = caller(TokenRole::Admin);
    ok(&api, &admin, "mutation($p: ID!) { erasePerson(input: { personId: $p, reason: \"Antrag nach Art. 17 DSGVO\" }) { id } }", json!({ "p": person })).await;
    let mine = ok(&api, &cottbus, "{ myOffers { offer { contact { name email } } } }", json!({})).await;
    assert_eq!(mine["myOffers"][0]["offer"]["contact"], json!({ "name": "[gelöscht]", "email": null }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn targets_usage_and_end_to_end_show_in_the_figures() {
    let store: Arc<dyn EventStore> = Arc::new(MemoryStore::new());
    let api = schema_over(store.clone()).await;
    let pm = caller(TokenRole::ProjectManager);
    let potsdam = api::Caller { authorities: vec![POTSDAM.into()], ..caller(TokenRole::AuthorityStaff) };
    let bot = api::Caller { services: vec!["wohngeld".into()], ..caller(TokenRole::Automation) };
    interested(&api, &pm, POTSDAM).await;

    let target = "mutation($i: SetTargetInput!) { setTarget(input: $i) }";
    let both = json!({ "i": { "scope": "service:wohngeld", "inOperation": 19, "coverage": 50.0, "by": "2027-12-31", "reason": "Ziel" } });
    assert_eq!(code(&execute_with(&api, &pm, target, both).await).as_deref(), Some("BAD_USER_INPUT"));
    let bad_scope = json!({ "i": { "scope": "dienst:wohngeld", "inOperation": 19, "by": "2027-12-31", "reason": "Ziel" } });
    assert_eq!(code(&execute_with(&api, &pm, target, bad_scope).await).as_deref(), Some("BAD_USER_INPUT"));
    let good = json!({ "i": { "scope": "service:wohngeld", "inOperation": 19, "by": "2027-12-31", "reason": "alle Wohngeldbehörden" } });
    assert_eq!(code(&execute_with(&api, &potsdam, target, good.clone()).await).as_deref(), Some("FORBIDDEN"));
    ok(&api, &pm, target, good).await;
    let targets =
        ok(&api, &pm, "{ targets { scope inOperation by actualInOperation gap } }", json!({})).await;
    assert_eq!(
        targets["targets"],
        json!([{ "scope": "service:wohngeld", "inOperation": 19, "by": "2027-12-31", "actualInOperation": 0, "gap": 19.0 }])
    );

    // Usage: automation for its service, the staff for their own; a bad month is named.
    let usage = "mutation($i: RecordUsageInput!) { recordUsage(input: $i) }";
    let month = |m: &str, n: u64| json!({ "i": { "rolloutId": format!("wohngeld:{POTSDAM}"), "month": m, "count": n, "source": "ZSK" } });
    ok(&api, &bot, usage, month("2026-10", 40)).await;
    ok(&api, &potsdam, usage, month("2026-11", 2)).await;
    let bad = execute_with(&api, &bot, usage, month("11/2026", 3)).await;
    assert!(bad.errors[0].message.contains("„11/2026“ ist kein Monat"), "{:?}", bad.errors);
    ok(&api, &bot, usage, month("2026-11", 55)).await; // the later figure of a month counts
    let e2e = "mutation { setEndToEnd(input: { rolloutId: \"wohngeld:120540000000\", digital: true, reason: \"XTA-Import\" }) }";
    ok(&api, &potsdam, e2e, json!({})).await;
    let r = ok(&api, &pm, "{ rollout(id: \"wohngeld:120540000000\") { usage { month count source } endToEnd responsible populationServed } }", json!({})).await;
    assert_eq!(
        r["rollout"]["usage"],
        json!([{ "month": "2026-10", "count": 40, "source": "ZSK" }, { "month": "2026-11", "count": 55, "source": "ZSK" }])
    );
    assert_eq!(r["rollout"]["endToEnd"], true);
    assert_eq!(r["rollout"]["responsible"], true);
    let figures = ok(&api, &pm, FIGURES, json!({})).await["progress"][0].clone();
    assert_eq!((figures["applications"].clone(), figures["endToEnd"].clone()), (json!(95), json!(1)));
}

/// Advances a rollout step by step (each ready step completed with example evidence, its
/// person fields naming `contact`; each awaiting confirmation confirmed by a second person)
/// until `step` is done.
async fn drive_until(engine: &engine::Engine, service: &str, ars: &str, step: &str, contact: &str) {
    use workflow::decide::Command;
    use workflow::StepStatus;
    let second = person("person:admin-2");
    for _ in 0..200 {
        let r = engine.load(service, ars).await.expect("load").expect("rollout");
        let i = r.definition.step_index(step).expect("the step");
        if r.steps[i].status == StepStatus::Done {
            return;
        }
        let mut progressed = false;
        for (k, state) in r.steps.iter().enumerate() {
            let def = &r.definition.steps[k];
            let (command, who) = match state.status {
                StepStatus::Ready | StepStatus::InProgress => {
                    let mut evidence = def.example_evidence(ars);
                    for f in def.evidence.iter().filter(|f| f.ty == workflow::FieldType::Person) {
                        evidence.insert(f.id.clone(), serde_json::json!(contact));
                    }
                    (
                        Command::CompleteStep { step: def.id.clone(), evidence, comment: None },
                        person("person:admin"),
                    )
                }
                StepStatus::AwaitingConfirmation => {
                    (Command::ConfirmStep { step: def.id.clone(), comment: None }, second.clone())
                }
                _ => continue,
            };
            if engine.execute(service, ars, command, &who).await.is_ok() {
                progressed = true;
                break;
            }
        }
        assert!(progressed, "{service}:{ars} is stuck before {step}");
    }
    panic!("{service}:{ars} did not reach {step}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ende_zu_ende_follows_the_back_office_step_unless_said_otherwise() {
    let store: Arc<dyn EventStore> = Arc::new(MemoryStore::new());
    let api = schema_over(store.clone()).await;
    let engine = &api.engine;
    let pm = caller(TokenRole::ProjectManager);
    interested(&api, &pm, POTSDAM).await;
    let register = |ars: &'static str| {
        let engine = engine.clone();
        async move {
            let details = engine::PersonDetails { name: "Frau Kontakt".into(), ..Default::default() };
            engine
                .register_person(ars, details, &person("person:admin"))
                .await
                .expect("register")
                .id
                .to_string()
        }
    };
    let (land_contact, contact) = (register(LAND).await, register(POTSDAM).await);
    let end_to_end = || ok(&api, &pm, "{ rollout(id: \"wohngeld:120540000000\") { endToEnd } }", json!({}));
    assert_eq!(
        end_to_end().await["rollout"]["endToEnd"],
        Value::Null,
        "not known before the back office is connected"
    );
    let land = engine.load("wohngeld", LAND).await.expect("load").expect("central");
    let last_land_step = land.definition.steps.last().expect("steps").id.clone();
    drive_until(engine, "wohngeld", LAND, &last_land_step, &land_contact).await;
    drive_until(engine, "wohngeld", POTSDAM, app::coverage::BACK_OFFICE_STEP, &contact).await;
    api.settled().await;
    assert_eq!(end_to_end().await["rollout"]["endToEnd"], true, "the back-office step is done");
    let figures = ok(&api, &pm, FIGURES, json!({})).await;
    assert_eq!(figures["progress"][0]["endToEnd"], 1);
    // Said otherwise: the applications are printed and typed again.
    ok(&api, &pm, "mutation { setEndToEnd(input: { rolloutId: \"wohngeld:120540000000\", digital: false, reason: \"Ausdruck\" }) }", json!({})).await;
    assert_eq!(end_to_end().await["rollout"]["endToEnd"], false);
    assert_eq!(ok(&api, &pm, FIGURES, json!({})).await["progress"][0]["endToEnd"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responsibility_changes_and_support_through_graphql_with_their_limits() {
    let store: Arc<dyn EventStore> = Arc::new(MemoryStore::new());
    let api = schema_over(store.clone()).await;
    let pm = caller(TokenRole::ProjectManager);
    let staff = api::Caller { authorities: vec![POTSDAM.into()], ..caller(TokenRole::AuthorityStaff) };
    let change = "mutation($i: ChangeResponsibilityInput!) { changeResponsibility(input: $i) { opened handedOver closed } }";
    let bad_belzig = "120690020020";
    let own = json!({ "i": { "serviceKey": "wohngeld", "ars": bad_belzig, "responsible": true, "source": "Vereinbarung", "validFrom": "2026-01-01", "reason": "eigene Stelle" } });
    assert_eq!(code(&execute_with(&api, &staff, change, own.clone()).await).as_deref(), Some("FORBIDDEN"));
    let no_source = json!({ "i": { "serviceKey": "wohngeld", "ars": bad_belzig, "responsible": true, "validFrom": "2026-01-01", "reason": "x" } });
    assert_eq!(code(&execute_with(&api, &pm, change, no_source).await).as_deref(), Some("BAD_USER_INPUT"));
    ok(&api, &pm, change, own).await;
    interested(&api, &pm, bad_belzig).await;
    let figures = ok(&api, &pm, FIGURES, json!({})).await["progress"][0].clone();
    assert_eq!(figures["responsible"], 20, "19 and Bad Belzig by its new exception");
    // Back to the level rule: its rollout ends, said in the answer.
    let rule =
        json!({ "i": { "serviceKey": "wohngeld", "ars": bad_belzig, "reason": "Vereinbarung beendet" } });
    let d = ok(&api, &pm, change, rule).await;
    assert_eq!(d["changeResponsibility"], json!({ "opened": [], "handedOver": [], "closed": [bad_belzig] }));

    // Support: managers record it; staff may not; a bad date is named.
    let support = "mutation($i: RecordSupportInput!) { recordSupport(input: $i) }";
    let given =
        json!({ "i": { "ars": POTSDAM, "date": "2026-11-05", "topic": "Zertifikate", "by": "KAZ/ZIT-BB" } });
    assert_eq!(code(&execute_with(&api, &staff, support, given.clone()).await).as_deref(), Some("FORBIDDEN"));
    ok(&api, &pm, support, given).await;
    let bad =
        json!({ "i": { "ars": POTSDAM, "date": "5.11.2026", "topic": "Zertifikate", "by": "KAZ/ZIT-BB" } });
    assert!(execute_with(&api, &pm, support, bad).await.errors[0]
        .message
        .contains("„5.11.2026“ ist kein Datum"));

    // The limits: a coverage over 100 % and an implausible month are refused, naming the value.
    let target = "mutation($i: SetTargetInput!) { setTarget(input: $i) }";
    let over = json!({ "i": { "scope": "gesamt", "coverage": 101.0, "by": "2027-12-31", "reason": "x" } });
    assert!(execute_with(&api, &pm, target, over).await.errors[0].message.contains("101"));
    interested(&api, &pm, POTSDAM).await;
    let usage = "mutation($i: RecordUsageInput!) { recordUsage(input: $i) }";
    let huge = json!({ "i": { "rolloutId": "wohngeld:120540000000", "month": "2026-11", "count": 100_000_001u64, "source": "ZSK" } });
    assert!(execute_with(&api, &pm, usage, huge).await.errors[0].message.contains("100000001"));
    let ok_count = json!({ "i": { "rolloutId": "wohngeld:120540000000", "month": "2026-11", "count": 100_000_000u64, "source": "ZSK" } });
    ok(&api, &pm, usage, ok_count).await;
}
