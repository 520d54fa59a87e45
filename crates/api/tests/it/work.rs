//! Work for people: a token's tasks are exactly the steps its `Step.actions` allow it to
//! advance (start, complete, confirm), in its scope only; questions on steps with answers,
//! read marks and unread counts, visible to whoever may read the rollout and to no one else
//! (query and subscription).

use std::collections::BTreeSet;
use std::sync::Arc;

use async_graphql::futures_util::StreamExt as _;
use engine::{Invocation, TokenRole};
use serde_json::{json, Value};
use store::{EventStore, MemoryStore};
use workflow::decide::Command;

use crate::support::{caller, code, execute, run, schema_over, Api};

const A: &str = "120520000000";
const B: &str = "120540000000";
const LAND: &str = "120000000000";
const DAHME_SPREEWALD: &str = "120610000000";

/// Completes `step` of a rollout as `who` with the definition's example evidence.
async fn complete(api: &Api, who: &api::Caller, service: &str, ars: &str, step: &str) {
    let r = api.engine.load(service, ars).await.expect("load").expect("started");
    let def = &r.definition.steps[r.definition.step_index(step).expect("step")];
    let command =
        Command::CompleteStep { step: step.into(), evidence: def.example_evidence(ars), comment: None };
    api.engine.execute(service, ars, command, &Invocation::new(who.domain())).await.expect("complete");
    api.settled().await;
}

/// (rollout id, step id) of every STEP task of `who`, walking the pages `page` at a time;
/// also checks the order (due dates ascending, undated last).
async fn tasks_of(api: &Api, who: &api::Caller, filter: &str, page: usize) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut dues: Vec<Option<String>> = Vec::new();
    let mut after = String::new();
    loop {
        let q = format!(
            "{{ tasks(filter: {{ {filter} }}, first: {page}{after}) {{ totalCount pageInfo {{ hasNextPage endCursor }} \
               edges {{ node {{ kind rollout {{ id }} step {{ id }} dueAt overdue readyBecause actions }} }} }} }}"
        );
        let data = run(&api.schema, who, &q).await;
        let t = &data["tasks"];
        for e in t["edges"].as_array().expect("edges") {
            let n = &e["node"];
            if n["kind"] == "STEP" {
                assert!(!n["actions"].as_array().expect("actions").is_empty(), "{n}");
                out.push((
                    n["rollout"]["id"].as_str().expect("id").to_owned(),
                    n["step"]["id"].as_str().expect("id").to_owned(),
                ));
                dues.push(n["dueAt"].as_str().map(str::to_owned));
            }
        }
        if t["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = format!(", after: {}", t["pageInfo"]["endCursor"]);
    }
    let dated: Vec<&String> = dues.iter().map_while(|d| d.as_ref()).collect();
    assert!(dues[dated.len()..].iter().all(Option::is_none), "dated tasks come first: {dues:?}");
    let mut sorted = dated.clone();
    sorted.sort_by_key(|d| d.parse::<store::Timestamp>().expect("time"));
    assert_eq!(dated, sorted, "ordered by due date");
    out
}

/// (rollout id, step id) of every step whose `actions` for `who` hold startStep, completeStep
/// or confirmStep, in the rollouts `filter` selects.
async fn steps_with_actions(api: &Api, who: &api::Caller, filter: &str) -> BTreeSet<(String, String)> {
    let q = format!("{{ rollouts(filter: {{ {filter} }}, first: 500) {{ edges {{ node {{ id steps {{ id actions }} }} }} }} }}");
    let data = run(&api.schema, who, &q).await;
    let mut out = BTreeSet::new();
    for e in data["rollouts"]["edges"].as_array().expect("edges") {
        for s in e["node"]["steps"].as_array().expect("steps") {
            let actions: Vec<&str> =
                s["actions"].as_array().expect("actions").iter().filter_map(Value::as_str).collect();
            if actions.iter().any(|a| ["startStep", "completeStep", "confirmStep"].contains(a)) {
                out.insert((
                    e["node"]["id"].as_str().expect("id").to_owned(),
                    s["id"].as_str().expect("id").to_owned(),
                ));
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tokens_tasks_are_exactly_the_steps_its_actions_let_it_advance() {
    let store: Arc<dyn EventStore> = Arc::new(MemoryStore::new());
    let api = schema_over(store.clone()).await;
    let admin = caller(TokenRole::Admin);
    let pm1 = caller(TokenRole::ProjectManager);
    let pm2 = caller(TokenRole::ProjectManager);
    let staff_a = api::Caller { authorities: vec![A.into()], ..caller(TokenRole::AuthorityStaff) };
    let auditor = caller(TokenRole::Auditor);
    for service in ["wohngeld", "elterngeld", "bafoeg"] {
        run(
            &api.schema,
            &admin,
            &format!(r#"mutation {{ startServiceRollout(serviceKey: "{service}") {{ existing }} }}"#),
        )
        .await;
    }
    // The Land's contract step is completed by one manager: the other confirms it (four eyes).
    for service in ["wohngeld", "bafoeg"] {
        for step in ["interesse_land", "bedarf_abgestimmt", "fit_store_vertrag"] {
            complete(&api, &pm1, service, LAND, step).await;
        }
    }
    // At A the Nutzungsvereinbarung then waits only for the Land's contract (not confirmed).
    let person = run(
        &api.schema,
        &staff_a,
        &format!(r#"mutation {{ registerPerson(input: {{ ars: "{A}", name: "Kontakt" }}) {{ id }} }}"#),
    )
    .await;
    let person = person["registerPerson"]["id"].as_str().expect("id").to_owned();
    for (step, evidence) in [
        ("interesse", json!({ "datum": "2026-01-05", "kontakt": person })),
        ("entscheidung", json!({ "beschluss_am": "2026-02-01" })),
    ] {
        let q = format!(
            r#"mutation($e: JSON!) {{ completeStep(input: {{ rolloutId: "bafoeg:{A}", stepId: "{step}", evidence: $e }}) {{ rollout {{ version }} }} }}"#
        );
        let response = api
            .schema
            .execute(
                async_graphql::Request::new(q)
                    .variables(async_graphql::Variables::from_json(json!({ "e": evidence })))
                    .data(staff_a.clone()),
            )
            .await;
        assert!(response.errors.is_empty(), "{:?}", response.errors);
    }
    // A started step, and due dates: one past, one ahead.
    run(&api.schema, &staff_a, &format!(r#"mutation {{ startStep(input: {{ rolloutId: "wohngeld:{A}", stepId: "interesse" }}) {{ rollout {{ version }} }} }}"#)).await;
    for (rollout, due) in [
        (format!("elterngeld:{A}"), "2020-01-01T00:00:00Z"),
        (format!("wohngeld:{A}"), "2099-01-01T00:00:00Z"),
    ] {
        run(&api.schema, &pm1, &format!(r#"mutation {{ setDueDate(input: {{ rolloutId: "{rollout}", stepId: "interesse", dueAt: "{due}", reason: "Vorgabe" }}) {{ rollout {{ version }} }} }}"#)).await;
    }

    // The managers' next read waits until their changes are folded; the staff's reads come after.
    run(&api.schema, &pm1, "{ head { position } }").await;
    let staff_tasks = tasks_of(&api, &staff_a, "", 3).await;
    let expected = steps_with_actions(&api, &staff_a, "").await;
    assert_eq!(staff_tasks.iter().cloned().collect::<BTreeSet<_>>(), expected);
    assert_eq!(staff_tasks.len(), expected.len(), "no task twice");
    assert!(
        staff_tasks.iter().all(|(r, _)| r.ends_with(A)),
        "nothing of other administrations: {staff_tasks:?}"
    );
    assert_eq!(
        staff_tasks.first(),
        Some(&(format!("elterngeld:{A}"), "interesse".to_owned())),
        "the overdue one first"
    );
    assert!(
        staff_tasks.contains(&(format!("wohngeld:{A}"), "interesse".to_owned())),
        "a started step is a task"
    );

    let counts = run(&api.schema, &staff_a, "{ tasks { overdueCount dueSoonCount waitingForCentralCount edges { node { overdue readyBecause } } } }").await;
    assert_eq!(counts["tasks"]["overdueCount"], 1, "{counts}");
    assert!(
        counts["tasks"]["waitingForCentralCount"].as_u64().expect("count") >= 1,
        "the Nutzungsvereinbarung waits for the Land: {counts}"
    );

    for pm in [&pm1, &pm2] {
        let filter = format!(r#"landkreisArs: "{DAHME_SPREEWALD}""#);
        let got = tasks_of(&api, pm, &filter, 50).await;
        let expected = steps_with_actions(&api, pm, &filter).await;
        assert!(!expected.is_empty());
        assert_eq!(got.iter().cloned().collect::<BTreeSet<_>>(), expected);
        let land = format!(r#"ars: "{LAND}""#);
        let got: BTreeSet<_> = tasks_of(&api, pm, &land, 50).await.into_iter().collect();
        assert_eq!(got, steps_with_actions(&api, pm, &land).await);
        let confirms = got.contains(&("wohngeld:120000000000".to_owned(), "fit_store_vertrag".to_owned()));
        assert_eq!(confirms, pm.token_id == pm2.token_id, "only the other manager confirms");
    }
    let ready = run(&api.schema, &pm2, &format!(r#"{{ tasks(filter: {{ ars: "{LAND}" }}) {{ edges {{ node {{ step {{ id }} readyBecause }} }} }} }}"#)).await;
    let finanzierung = ready["tasks"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .find(|e| e["node"]["step"]["id"] == "finanzierung")
        .cloned();
    assert_eq!(finanzierung.expect("a task")["node"]["readyBecause"], json!(["bedarf_abgestimmt"]));

    let none = run(&api.schema, &auditor, "{ tasks { totalCount } }").await;
    assert_eq!(none["tasks"]["totalCount"], 0, "an auditor advances nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_question_thread_with_answers_read_marks_and_unread_counts_stays_in_scope() {
    let store: Arc<dyn EventStore> = Arc::new(MemoryStore::new());
    let api = schema_over(store.clone()).await;
    let admin = caller(TokenRole::Admin);
    let pm = caller(TokenRole::ProjectManager);
    let staff_a = api::Caller { authorities: vec![A.into()], ..caller(TokenRole::AuthorityStaff) };
    let staff_b = api::Caller { authorities: vec![B.into()], ..caller(TokenRole::AuthorityStaff) };
    run(&api.schema, &admin, r#"mutation { startServiceRollout(serviceKey: "wohngeld") { existing } }"#)
        .await;

    // Staff of B subscribe to every event they may see; A's thread must not reach them.
    let head = run(&api.schema, &admin, "{ head { position } }").await["head"]["position"].clone();
    let mut b_feed = api.schema.execute_stream(
        async_graphql::Request::new(format!(
            "subscription {{ events(afterPosition: {head}) {{ type streamId }} }}"
        ))
        .data(staff_b.clone()),
    );
    let mut a_feed = api.schema.execute_stream(
        async_graphql::Request::new(format!(
            r#"subscription {{ rolloutChanged(id: "wohngeld:{A}", afterPosition: {head}) {{ type }} }}"#
        ))
        .data(staff_a.clone()),
    );

    let asked = run(&api.schema, &staff_a, &format!(
        r#"mutation {{ askQuestion(input: {{ rolloutId: "wohngeld:{A}", stepId: "interesse", to: LAND, text: "Welche Vorlage gilt für die Nutzungsvereinbarung?" }}) {{ id open to unread messages {{ text }} }} }}"#
    )).await;
    let id = asked["askQuestion"]["id"].as_str().expect("id").to_owned();
    assert_eq!(asked["askQuestion"]["unread"], 0, "one's own message is read");
    assert_eq!(asked["askQuestion"]["to"], "LAND");

    // The Land sees it in its tasks, unread.
    let land = run(&api.schema, &pm, "{ tasks(filter: { ars: \"120520000000\" }) { unreadQuestionCount edges { node { kind unreadQuestions question { id } } } } }").await;
    let q_task = land["tasks"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .find(|e| e["node"]["kind"] == "QUESTION")
        .cloned()
        .expect("a question task");
    assert_eq!(q_task["node"]["question"]["id"], id.as_str());
    assert_eq!(q_task["node"]["unreadQuestions"], 1);
    assert_eq!(land["tasks"]["unreadQuestionCount"], 1);
    let only = run(
        &api.schema,
        &pm,
        "{ tasks(filter: { ars: \"120520000000\", kind: QUESTION }) { totalCount edges { node { kind } } } }",
    )
    .await;
    assert_eq!(only["tasks"]["totalCount"], 1, "{only}");

    // Staff of B: nothing of it, also not by id, and may not write to it.
    let hidden =
        run(&api.schema, &staff_b, &format!(r#"{{ question(id: "{id}") {{ id }} questions {{ id }} }}"#))
            .await;
    assert_eq!(hidden, json!({ "question": null, "questions": [] }));
    let refused = execute(
        &api,
        &staff_b,
        &format!(r#"mutation {{ answerQuestion(input: {{ questionId: "{id}", text: "x" }}) {{ id }} }}"#),
    )
    .await;
    assert_eq!(code(&refused).as_deref(), Some("FORBIDDEN"));

    run(
        &api.schema,
        &pm,
        &format!(r#"mutation {{ markQuestionRead(input: {{ questionId: "{id}" }}) {{ unread }} }}"#),
    )
    .await;
    let answered = run(&api.schema, &pm, &format!(
        r#"mutation {{ answerQuestion(input: {{ questionId: "{id}", text: "Die Mustervereinbarung des Landes, Stand 2026." }}) {{ messages {{ text actor {{ id }} }} }} }}"#
    )).await;
    assert_eq!(answered["answerQuestion"]["messages"].as_array().expect("messages").len(), 2);

    // The asker has one unread answer on that step: in the thread and in the task's count.
    let a_view = run(&api.schema, &staff_a, &format!(
        r#"{{ question(id: "{id}") {{ unread readBy {{ actor {{ id }} messages }} }} tasks {{ unreadQuestionCount edges {{ node {{ step {{ id }} unreadQuestions }} }} }} }}"#
    )).await;
    assert_eq!(a_view["question"]["unread"], 1, "{a_view}");
    assert_eq!(a_view["question"]["readBy"], json!([{ "actor": { "id": pm.actor().id }, "messages": 1 }]));
    assert_eq!(a_view["tasks"]["unreadQuestionCount"], 1);
    let on_step = a_view["tasks"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .find(|e| e["node"]["step"]["id"] == "interesse")
        .cloned()
        .expect("task");
    assert_eq!(on_step["node"]["unreadQuestions"], 1);

    let read = run(&api.schema, &staff_a, &format!(r#"mutation {{ markQuestionRead(input: {{ questionId: "{id}" }}) {{ unread readBy {{ messages }} }} }}"#)).await;
    assert_eq!(read["markQuestionRead"]["unread"], 0);
    let resolved = run(&api.schema, &staff_a, &format!(r#"mutation {{ resolveQuestion(input: {{ questionId: "{id}" }}) {{ open resolvedBy {{ id }} }} }}"#)).await;
    assert_eq!(resolved["resolveQuestion"]["open"], false);
    let again = execute(
        &api,
        &staff_a,
        &format!(r#"mutation {{ resolveQuestion(input: {{ questionId: "{id}" }}) {{ open }} }}"#),
    )
    .await;
    assert!(
        again.errors.first().is_some_and(|e| e.message.contains("already resolved")),
        "{:?}",
        again.errors
    );
    let land =
        run(&api.schema, &pm, "{ tasks(filter: { ars: \"120520000000\" }) { edges { node { kind } } } }")
            .await;
    assert!(
        land["tasks"]["edges"].as_array().expect("edges").iter().all(|e| e["node"]["kind"] == "STEP"),
        "a resolved question is no task"
    );

    // Every message and mark is an event of the rollout's question stream.
    let types: Vec<String> = store
        .read_stream(&format!("questions-wohngeld:{A}"), 1, store::Direction::Forward, 100)
        .await
        .expect("stream")
        .into_iter()
        .map(|e| e.event_type)
        .collect();
    assert_eq!(
        types,
        ["QuestionAsked", "QuestionRead", "QuestionAnswered", "QuestionRead", "QuestionResolved"]
    );

    // The rollout's subscriber saw them; B's feed, with everything after, saw none of them.
    let mut seen = Vec::new();
    while seen.len() < 5 {
        let next = tokio::time::timeout(std::time::Duration::from_secs(5), a_feed.next())
            .await
            .expect("an event")
            .expect("open");
        seen.push(
            next.data.into_json().expect("json")["rolloutChanged"]["type"].as_str().expect("type").to_owned(),
        );
    }
    assert_eq!(seen, types);
    // A marker event B may see: a step at B.
    run(&api.schema, &staff_b, &format!(r#"mutation {{ startStep(input: {{ rolloutId: "wohngeld:{B}", stepId: "interesse" }}) {{ rollout {{ version }} }} }}"#)).await;
    loop {
        let next = tokio::time::timeout(std::time::Duration::from_secs(5), b_feed.next())
            .await
            .expect("an event")
            .expect("open");
        let e = next.data.into_json().expect("json");
        let stream = e["events"]["streamId"].as_str().expect("stream").to_owned();
        assert!(!stream.starts_with("questions-"), "B sees no question of A: {e}");
        if stream == format!("rollout-wohngeld:{B}") && e["events"]["type"] == "StepStarted" {
            break;
        }
    }
}
