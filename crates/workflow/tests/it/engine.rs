//! The decider, given events / when command / then events or rejection, on the real
//! `efa-onboarding` definition and a small one made for the edge cases.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::json;
use vocab::{Actor, ActorKind, Timestamp};
use workflow::condition::Value;
use workflow::decide::{decide, Command, Context, Principal, Rejection};
use workflow::definition::{parse, Definition, Role};
use workflow::events::RolloutEvent;
use workflow::rollout::{Definitions, Meta, Rollout, Status, StepStatus};
use workflow::Facts;

const DAY: i64 = 86_400_000_000;

struct Defs(Vec<Arc<Definition>>);

impl Definitions for Defs {
    fn get(&self, id: &str, version: u32) -> Option<Arc<Definition>> {
        self.0.iter().find(|d| d.id == id && d.version == version).cloned()
    }
}

fn load(name: &str) -> Arc<Definition> {
    let path = format!("{}/../../workflows/{name}.toml", env!("CARGO_MANIFEST_DIR"));
    Arc::new(parse(&std::fs::read(path).expect("read")).expect("valid"))
}

fn small(version: u32, extra: &str) -> Arc<Definition> {
    let src = format!(
        r#"
id = "klein"
version = {version}
title = "Klein"
live_after = "zwei"

[[phases]]
id = "eins"
title = "Eins"

[[phases.steps]]
id = "a"
title = "A"
roles = ["authority-staff"]
deadline = "P10D"
evidence = [{{ id = "datum", label = "Datum", type = "date" }}, {{ id = "notiz", label = "Notiz", type = "text", required = false }}]

[[phases.steps]]
id = "b"
title = "B"
roles = ["authority-staff"]
automatable = true
depends_on = ["a"]

[[phases.steps]]
id = "c"
title = "C"
roles = ["authority-staff"]
skippable = true
four_eyes = true
depends_on = ["b"]

[[phases]]
id = "zwei"
title = "Zwei"

[[phases.steps]]
id = "d"
title = "D"
roles = ["project-manager"]
depends_on = ["c"]
{extra}
"#
    );
    Arc::new(parse(src.as_bytes()).unwrap_or_else(|e| panic!("{e:?}")))
}

fn person(id: &str, role: Role) -> Principal {
    Principal {
        actor: Actor { id: id.into(), name: id.into(), kind: ActorKind::Person, person: None },
        roles: vec![role],
        admin: false,
    }
}

fn staff() -> Principal {
    person("person:staff", Role::AuthorityStaff)
}

fn manager() -> Principal {
    person("person:pm", Role::ProjectManager)
}

fn bot() -> Principal {
    Principal {
        actor: Actor {
            id: "token:bot".into(),
            name: "Bot".into(),
            kind: ActorKind::Automation,
            person: None,
        },
        roles: vec![],
        admin: false,
    }
}

/// A rollout under test: its definitions, its events so far and the folded state.
struct Given {
    defs: Defs,
    state: Option<Rollout>,
    events: Vec<RolloutEvent>,
    now: i64,
}

impl Given {
    fn new(defs: Vec<Arc<Definition>>) -> Self {
        Given { defs: Defs(defs), state: None, events: Vec::new(), now: 1_700_000_000_000_000 }
    }

    fn started(definition: Arc<Definition>, facts: Facts) -> Self {
        let mut g = Given::new(vec![definition.clone()]);
        g.ok(
            manager(),
            Command::Start {
                service_key: "wohngeld".into(),
                ars: "120540000000".into(),
                definition,
                facts,
                land_steps_done: vec![],
            },
        );
        g
    }

    fn when(&self, who: Principal, command: Command) -> Result<Vec<RolloutEvent>, Rejection> {
        decide(
            self.state.as_ref(),
            &command,
            &Context { principal: who, now: Timestamp::from_unix_micros(self.now), facts: Facts::default() },
        )
    }

    /// Decides and applies; panics on a rejection.
    fn ok(&mut self, who: Principal, command: Command) -> Vec<RolloutEvent> {
        let actor = who.actor.clone();
        let events = self.when(who, command.clone()).unwrap_or_else(|r| panic!("{command:?} rejected: {r}"));
        for e in &events {
            let meta = Meta { at: Timestamp::from_unix_micros(self.now), actor: &actor };
            self.state = Some(Rollout::evolve(self.state.take(), e, &meta, &self.defs).expect("evolve"));
            self.events.push(e.clone());
        }
        events
    }

    fn rejected(&self, who: Principal, command: Command) -> Rejection {
        match self.when(who, command.clone()) {
            Err(r) => r,
            Ok(events) => panic!("{command:?} should be rejected, gave {events:?}"),
        }
    }

    fn r(&self) -> &Rollout {
        self.state.as_ref().expect("started")
    }

    fn status(&self, step: &str) -> StepStatus {
        self.r().step(step).expect("step").1.status
    }

    fn advance_days(&mut self, days: i64) {
        self.now += days * DAY;
    }
}

fn complete(step: &str, evidence: serde_json::Value) -> Command {
    let evidence = evidence.as_object().cloned().unwrap_or_default().into_iter().collect();
    Command::CompleteStep { step: step.into(), evidence, comment: None }
}

fn small_rollout() -> Given {
    Given::started(small(1, ""), Facts::default())
}

#[test]
fn starting_pins_the_definition_and_evaluates_conditions() {
    let def = load("archive/efa-onboarding.v1");
    let mut facts = Facts::default();
    facts.set("service.fee_based", Value::Bool(false));
    let g = Given::started(def.clone(), facts);
    let RolloutEvent::Started(s) = &g.events[0] else { panic!("started") };
    assert_eq!((s.definition_id.as_str(), s.definition_version), ("efa-onboarding", 1));
    assert_eq!(s.definition_hash, def.content_hash);
    assert_eq!(s.not_applicable, vec!["bezahldienst".to_string()]);
    assert_eq!(g.status("bezahldienst"), StepStatus::NotApplicable);
    assert_eq!(g.status("interesse"), StepStatus::Ready);
    assert_eq!(g.status("entscheidung"), StepStatus::Waiting);
    assert_eq!(g.r().status(), Status::NotStarted);
    assert_eq!(g.r().id(), "wohngeld:120540000000");

    let mut fee = Facts::default();
    fee.set("service.fee_based", Value::Bool(true));
    let g = Given::started(def, fee);
    assert_eq!(g.status("bezahldienst"), StepStatus::Waiting);
}

#[test]
fn start_twice_and_commands_before_start_are_rejected() {
    let g = small_rollout();
    let start = Command::Start {
        service_key: "x".into(),
        ars: "1".into(),
        definition: small(1, ""),
        facts: Facts::default(),
        land_steps_done: vec![],
    };
    assert_eq!(g.rejected(manager(), start.clone()), Rejection::AlreadyStarted);
    let empty = Given::new(vec![small(1, "")]);
    assert_eq!(empty.rejected(staff(), complete("a", json!({}))), Rejection::NotStarted);
    assert!(
        matches!(empty.rejected(staff(), start), Rejection::NotAllowed { .. }),
        "staff may not start rollouts"
    );
}

#[test]
fn a_step_waits_for_its_dependencies_including_the_land() {
    let mut g = Given::started(load("archive/efa-onboarding.v1"), Facts::default());
    g.ok(staff(), complete("interesse", json!({ "datum": "2025-01-10", "kontakt": "Frau Schulz" })));
    g.ok(staff(), complete("entscheidung", json!({ "beschluss_am": "2025-02-01" })));
    let r = g.rejected(
        staff(),
        complete("nutzungsvereinbarung", json!({ "unterzeichnet_am": "2025-03-01", "aktenzeichen": "AZ 1" })),
    );
    assert_eq!(
        r,
        Rejection::StepNotReady {
            step: "nutzungsvereinbarung".into(),
            missing: vec!["land:fit_store_vertrag".into()]
        }
    );
    assert_eq!(
        r.to_string(),
        "step `nutzungsvereinbarung` is not ready: it waits for land:fit_store_vertrag"
    );
    g.ok(manager(), Command::RecordLandStep { step: "fit_store_vertrag".into(), done: true });
    assert_eq!(g.status("nutzungsvereinbarung"), StepStatus::Ready);
    let missing = g.rejected(staff(), complete("avv", json!({})));
    assert_eq!(
        missing,
        Rejection::StepNotReady { step: "avv".into(), missing: vec!["nutzungsvereinbarung".into()] }
    );
}

#[test]
fn evidence_is_checked_field_by_field() {
    let g = small_rollout();
    let r = g.rejected(staff(), complete("a", json!({ "datum": "2025-02-30", "extra": 1 })));
    let Rejection::EvidenceInvalid { step, problems } = &r else { panic!("{r:?}") };
    assert_eq!(step, "a");
    assert_eq!(problems[0], ("datum".into(), "\"2025-02-30\" is not a date (YYYY-MM-DD)".into()));
    assert!(
        problems[1].0 == "extra" && problems[1].1.contains("is not a field of this step"),
        "{problems:?}"
    );
    let r = g.rejected(staff(), complete("a", json!({ "notiz": "x" })));
    assert!(r.to_string().contains("`datum` (Datum) is required"), "{r}");
    // Optional fields may be left out or null.
    let mut g = small_rollout();
    g.ok(staff(), complete("a", json!({ "datum": "2025-02-28", "notiz": null })));
    let (a, _) = g.r().step("a").expect("a");
    assert_eq!(g.r().evidence(a).len(), 1);
}

#[test]
fn roles_and_automation_decide_who_may_complete_a_step() {
    let mut g = small_rollout();
    let r = g.rejected(manager(), complete("a", json!({ "datum": "2025-01-01" })));
    assert_eq!(
        r,
        Rejection::RoleNotAllowed {
            step: "a".into(),
            allowed: vec![Role::AuthorityStaff],
            automatable: false
        }
    );
    assert_eq!(r.to_string(), "your role may not complete step `a`; it may be completed by: authority-staff");
    assert!(matches!(
        g.rejected(bot(), complete("a", json!({ "datum": "2025-01-01" }))),
        Rejection::RoleNotAllowed { .. }
    ));
    g.ok(staff(), complete("a", json!({ "datum": "2025-01-01" })));
    g.ok(bot(), complete("b", json!({})));
    let (b, _) = g.r().step("b").expect("b");
    assert_eq!(g.r().completed_by(b).map(|a| a.kind), Some(ActorKind::Automation));
    let mut admin = manager();
    admin.admin = true;
    g.ok(admin, Command::StartStep { step: "c".into() });
}

#[test]
fn four_eyes_steps_need_a_second_person() {
    let mut g = small_rollout();
    g.ok(staff(), complete("a", json!({ "datum": "2025-01-01" })));
    g.ok(staff(), complete("b", json!({})));
    let events = g.ok(staff(), complete("c", json!({})));
    assert!(matches!(&events[0], RolloutEvent::StepCompleted(c) if c.awaiting_confirmation));
    assert_eq!(g.status("c"), StepStatus::AwaitingConfirmation);
    assert_eq!(g.status("d"), StepStatus::Waiting, "not done until confirmed");
    assert_eq!(
        g.rejected(staff(), Command::ConfirmStep { step: "c".into(), comment: None }),
        Rejection::SamePersonConfirms { step: "c".into() }
    );
    g.ok(
        person("person:other", Role::AuthorityStaff),
        Command::ConfirmStep { step: "c".into(), comment: Some("geprüft".into()) },
    );
    assert_eq!(g.status("c"), StepStatus::Done);
    assert_eq!(g.status("d"), StepStatus::Ready);
    assert_eq!(
        g.rejected(staff(), Command::ConfirmStep { step: "c".into(), comment: None }),
        Rejection::NotAwaitingConfirmation { step: "c".into() }
    );
    assert_eq!(
        g.rejected(staff(), complete("c", json!({}))),
        Rejection::AlreadyCompleted { step: "c".into() }
    );
}

#[test]
fn reopening_a_step_reopens_what_depends_on_it_and_says_so() {
    let mut g = small_rollout();
    g.ok(staff(), complete("a", json!({ "datum": "2025-01-01" })));
    g.ok(staff(), complete("b", json!({})));
    g.ok(staff(), Command::StartStep { step: "c".into() });
    assert_eq!(
        g.rejected(staff(), Command::ReopenStep { step: "a".into(), reason: " ".into() }),
        Rejection::TextRequired { what: "a reason for reopening".into() }
    );
    let events = g.ok(staff(), Command::ReopenStep { step: "a".into(), reason: "falsches Datum".into() });
    assert_eq!(
        events,
        vec![RolloutEvent::StepReopened {
            step: "a".into(),
            reason: "falsches Datum".into(),
            dependents: vec!["b".into(), "c".into()]
        }]
    );
    assert_eq!(
        (g.status("a"), g.status("b"), g.status("c")),
        (StepStatus::Ready, StepStatus::Waiting, StepStatus::Waiting)
    );
    let (a, _) = g.r().step("a").expect("a");
    assert!(g.r().evidence(a).is_empty());
    assert_eq!(
        g.rejected(staff(), Command::ReopenStep { step: "d".into(), reason: "x".into() }),
        Rejection::RoleNotAllowed {
            step: "d".into(),
            allowed: vec![Role::ProjectManager],
            automatable: false
        }
    );
    assert_eq!(
        g.rejected(staff(), Command::ReopenStep { step: "b".into(), reason: "x".into() }),
        Rejection::NotCompleted { step: "b".into() }
    );
}

#[test]
fn only_skippable_steps_may_be_marked_not_required_with_a_reason() {
    let mut g = small_rollout();
    assert_eq!(
        g.rejected(staff(), Command::MarkNotRequired { step: "a".into(), reason: "x".into() }),
        Rejection::NotSkippable { step: "a".into() }
    );
    g.ok(staff(), complete("a", json!({ "datum": "2025-01-01" })));
    g.ok(staff(), complete("b", json!({})));
    assert!(matches!(
        g.rejected(staff(), Command::MarkNotRequired { step: "c".into(), reason: "".into() }),
        Rejection::TextRequired { .. }
    ));
    g.ok(staff(), Command::MarkNotRequired { step: "c".into(), reason: "kein Bedarf".into() });
    assert_eq!(g.status("d"), StepStatus::Ready);
    assert_eq!(g.r().status(), Status::InProgress);
    g.ok(manager(), complete("d", json!({})));
    assert_eq!(g.r().status(), Status::Live);
    assert_eq!(g.r().phase(), 1);
}

#[test]
fn a_blocked_rollout_takes_no_step_changes_until_unblocked() {
    let mut g = small_rollout();
    assert_eq!(
        g.rejected(staff(), Command::Unblock { reason: "x".into(), solution: None, share_name: false }),
        Rejection::NotBlocked
    );
    g.ok(
        staff(),
        Command::Block { reason: "Fachverfahren nicht verfügbar".into(), block: Default::default() },
    );
    assert_eq!(g.r().status(), Status::Blocked);
    assert_eq!(
        g.rejected(staff(), Command::Block { reason: "x".into(), block: Default::default() }),
        Rejection::AlreadyBlocked
    );
    let r = g.rejected(staff(), complete("a", json!({ "datum": "2025-01-01" })));
    assert_eq!(r.to_string(), "the rollout is blocked (Fachverfahren nicht verfügbar); unblock it first");
    g.ok(staff(), Command::Comment { text: "Ticket 4711".into(), step: Some("a".into()) });
    g.ok(
        staff(),
        Command::Unblock { reason: "Fachverfahren läuft".into(), solution: None, share_name: false },
    );
    g.ok(staff(), complete("a", json!({ "datum": "2025-01-01" })));
}

#[test]
fn a_cancelled_rollout_takes_nothing_more() {
    let mut g = small_rollout();
    assert!(matches!(
        g.rejected(staff(), Command::Cancel { reason: "x".into() }),
        Rejection::NotAllowed { .. }
    ));
    g.ok(manager(), Command::Cancel { reason: "Dienst eingestellt".into() });
    assert_eq!(g.r().status(), Status::Cancelled);
    for c in [
        complete("a", json!({})),
        Command::Comment { text: "x".into(), step: None },
        Command::Cancel { reason: "x".into() },
    ] {
        assert_eq!(g.rejected(manager(), c), Rejection::Cancelled);
    }
}

#[test]
fn assignment_comments_and_unknown_steps() {
    let mut g = small_rollout();
    g.ok(
        manager(),
        Command::Assign { assignee: Some("Petra Projekt".into()), reason: "Zuständig für Wohngeld".into() },
    );
    assert_eq!(g.r().assignee.as_deref(), Some("Petra Projekt"));
    assert!(matches!(
        g.rejected(
            manager(),
            Command::Assign {
                assignee: Some("Petra Projekt".into()),
                reason: "Zuständig für Wohngeld".into()
            }
        ),
        Rejection::NothingToDo { .. }
    ));
    g.ok(manager(), Command::Assign { assignee: None, reason: "Zuständigkeit endet".into() });
    assert_eq!(g.rejected(staff(), complete("zz", json!({}))), Rejection::UnknownStep { step: "zz".into() });
    let at_limit = "ä".repeat(workflow::limits::NOTE_CHARS_MAX);
    g.ok(staff(), Command::Comment { text: at_limit.clone(), step: None });
    assert_eq!(
        g.rejected(staff(), Command::Comment { text: format!("{at_limit}x"), step: None }),
        Rejection::TextTooLong { what: "the comment".into() }
    );
}

#[test]
fn evidence_texts_are_limited_at_their_boundary() {
    use workflow::limits::{DOCUMENT_REF_CHARS_MAX, EVIDENCE_TEXT_CHARS_MAX};
    use workflow::FieldType;
    for (ty, max) in
        [(FieldType::Text, EVIDENCE_TEXT_CHARS_MAX), (FieldType::DocumentRef, DOCUMENT_REF_CHARS_MAX)]
    {
        assert_eq!(ty.max_chars(), Some(max), "{ty:?}");
        assert_eq!(ty.check(&json!("ö".repeat(max))), Ok(()), "{ty:?} at its limit");
        assert!(ty.check(&json!("ö".repeat(max + 1))).is_err(), "{ty:?} past its limit");
    }
}

#[test]
fn deadlines_give_due_dates_and_overdue_is_recorded_once() {
    let mut g = small_rollout();
    let due = g.r().step("a").expect("a").1.due_at().expect("a has a deadline");
    assert_eq!(due.unix_micros(), g.now + 10 * DAY);
    assert!(matches!(
        g.rejected(manager(), Command::RecordOverdue { step: "a".into() }),
        Rejection::NothingToDo { .. }
    ));
    g.advance_days(11);
    let events = g.ok(manager(), Command::RecordOverdue { step: "a".into() });
    assert_eq!(events, vec![RolloutEvent::StepOverdue { step: "a".into(), due_at: due.unix_micros() }]);
    assert!(
        matches!(
            g.rejected(manager(), Command::RecordOverdue { step: "a".into() }),
            Rejection::NothingToDo { .. }
        ),
        "only once"
    );
    // A due date set by hand replaces it.
    let later = Timestamp::from_unix_micros(g.now + 5 * DAY);
    assert!(matches!(
        g.rejected(staff(), Command::SetDueDate { step: "a".into(), due_at: later, reason: "x".into() }),
        Rejection::NotAllowed { .. }
    ));
    g.ok(manager(), Command::SetDueDate { step: "a".into(), due_at: later, reason: "Urlaub".into() });
    assert_eq!(g.r().step("a").expect("a").1.due_at(), Some(later));
}

#[test]
fn migration_maps_progress_and_refuses_to_lose_it() {
    let v1 = small(1, "");
    let v2 = small(2, "\n[[phases.steps]]\nid = \"e\"\ntitle = \"E\"\nroles = [\"project-manager\"]\n");
    let mut g = Given::started(v1.clone(), Facts::default());
    g.defs.0.push(v2.clone());
    g.ok(staff(), complete("a", json!({ "datum": "2025-01-01" })));
    let same = g.rejected(
        manager(),
        Command::Migrate { definition: v1, mapping: BTreeMap::new(), facts: Facts::default(), reason: None },
    );
    assert!(same.to_string().contains("version 1 is not newer than 1"), "{same}");
    let bad = BTreeMap::from([("a".to_string(), "nope".to_string())]);
    let r = g.rejected(
        manager(),
        Command::Migrate { definition: v2.clone(), mapping: bad, facts: Facts::default(), reason: None },
    );
    assert!(r.to_string().contains("`nope`, which version 2 does not have"), "{r}");
    g.ok(
        manager(),
        Command::Migrate {
            definition: v2.clone(),
            mapping: BTreeMap::new(),
            facts: Facts::default(),
            reason: None,
        },
    );
    assert_eq!(g.r().definition.version, 2);
    assert_eq!(g.status("a"), StepStatus::Done);
    assert_eq!(g.status("e"), StepStatus::Ready, "a new step without dependencies is ready at once");
    // Progress on a step that has no counterpart must be mapped.
    let v3src = small(3, "").as_ref().clone();
    let mut v3 = v3src;
    v3.steps[0].id = "a_neu".into();
    let v3 = Arc::new(v3);
    let r = g.rejected(
        manager(),
        Command::Migrate {
            definition: v3.clone(),
            mapping: BTreeMap::new(),
            facts: Facts::default(),
            reason: None,
        },
    );
    assert!(r.to_string().contains("step `a` has progress but no counterpart in version 3"), "{r}");
    g.defs.0.push(v3.clone());
    let mapping = BTreeMap::from([("a".to_string(), "a_neu".to_string())]);
    g.ok(manager(), Command::Migrate { definition: v3, mapping, facts: Facts::default(), reason: None });
    assert_eq!(g.status("a_neu"), StepStatus::Done);
}

#[test]
fn the_whole_onboarding_goes_live() {
    let def = load("archive/efa-onboarding.v1");
    let mut g = Given::started(def, Facts::default());
    g.ok(manager(), Command::RecordLandStep { step: "fit_store_vertrag".into(), done: true });
    g.ok(manager(), Command::RecordLandStep { step: "onlinedienst_bereit".into(), done: true });
    let d = g.r().definition.clone();
    let evidence = |step: &str| -> serde_json::Value {
        let s = &d.steps[d.step_index(step).expect("step")];
        let mut map = serde_json::Map::new();
        for f in &s.evidence {
            let v = match f.ty.name() {
                "date" => json!("2025-06-30"),
                "url" => json!("https://service.brandenburg.de/x"),
                "uuid" => json!("4f6bd8b0-6b5e-4c7a-9d1e-2f0c1a7e3b11"),
                "leika" => json!("99107023017000"),
                "ars" => json!("120540000000"),
                "number" => json!(1),
                "boolean" => json!(true),
                "enum" => match &f.ty {
                    workflow::FieldType::Enumeration(v) => json!(v[0]),
                    _ => unreachable!(),
                },
                _ => json!("x"),
            };
            map.insert(f.id.clone(), v);
        }
        serde_json::Value::Object(map)
    };
    let other = person("person:zweite", Role::AuthorityStaff);
    for _ in 0..40 {
        let r = g.r().clone();
        let Some(i) = (0..r.steps.len())
            .find(|&i| matches!(r.steps[i].status, StepStatus::Ready | StepStatus::AwaitingConfirmation))
        else {
            break;
        };
        let step = r.definition.steps[i].id.clone();
        if r.steps[i].status == StepStatus::AwaitingConfirmation {
            g.ok(other.clone(), Command::ConfirmStep { step, comment: None });
            continue;
        }
        let who =
            if r.definition.steps[i].roles.contains(&Role::AuthorityStaff) { staff() } else { manager() };
        let ev = evidence(&step);
        g.ok(who, complete(&step, ev));
    }
    assert_eq!(g.r().status(), Status::Live);
    assert!(g.r().steps.iter().all(|s| s.status.satisfies()));
}

#[test]
fn step_actions_offer_what_the_role_and_the_state_allow() {
    use workflow::decide::{step_actions, StepAction::*};
    let mut g = small_rollout();
    let actions = |g: &Given, who: Principal, step: &str| {
        step_actions(
            g.r(),
            step,
            &Context { principal: who, now: Timestamp::from_unix_micros(g.now), facts: Facts::default() },
        )
    };
    assert_eq!(actions(&g, staff(), "a"), vec![Start, Complete], "a ready step");
    assert_eq!(actions(&g, staff(), "b"), vec![], "a waiting step");
    assert_eq!(actions(&g, bot(), "a"), vec![], "automation may not complete a non-automatable step");
    assert_eq!(actions(&g, staff(), "nope"), vec![], "an unknown step");
    g.ok(staff(), complete("a", json!({ "datum": "2025-01-01" })));
    assert_eq!(actions(&g, staff(), "a"), vec![Reopen]);
    assert_eq!(actions(&g, bot(), "b"), vec![Start, Complete], "an automatable step");
    g.ok(staff(), complete("b", json!({})));
    assert_eq!(actions(&g, staff(), "c"), vec![Start, Complete, MarkNotRequired], "a skippable step");
    g.ok(staff(), complete("c", json!({})));
    assert_eq!(actions(&g, staff(), "c"), vec![Reopen], "who completed it cannot confirm it");
    assert_eq!(actions(&g, person("person:other", Role::AuthorityStaff), "c"), vec![Confirm, Reopen]);
    g.ok(manager(), Command::Block { reason: "Vertrag fehlt".into(), block: Default::default() });
    assert_eq!(
        actions(&g, person("person:other", Role::AuthorityStaff), "c"),
        vec![Reopen],
        "blocked: no progress, only corrections"
    );
}

/// The transport route as a branch: OSCI/XTA gets the DVDV entry before the XTA connection
/// before the back office; FIT-Connect gets its destination and routing.
const BRANCHES: &str = r#"
id = "verzweigt"
version = 1
title = "Verzweigung nach Transportweg"

[[phases]]
id = "technik"
title = "Technik"

[[phases.steps]]
id = "transportweg"
title = "Transportweg festgelegt"
roles = ["authority-staff"]
evidence = [ { id = "verfahren", label = "Verfahren", type = "enum", values = ["fit_connect", "osci_xta"] } ]

[[phases.steps]]
id = "zustellpunkt"
title = "FIT-Connect-Zustellpunkt angelegt"
roles = ["authority-staff"]
depends_on = ["transportweg"]
condition = 'evidence.transportweg.verfahren == "fit_connect"'
evidence = [ { id = "destination", label = "Destination-ID", type = "text" } ]

[[phases.steps]]
id = "dvdv"
title = "DVDV-Eintrag"
roles = ["authority-staff"]
depends_on = ["transportweg"]
condition = 'evidence.transportweg.verfahren == "osci_xta"'

[[phases.steps]]
id = "xta"
title = "XTA-Anbindung"
roles = ["authority-staff"]
depends_on = ["dvdv"]
condition = 'evidence.transportweg.verfahren == "osci_xta"'

[[phases.steps]]
id = "fachverfahren"
title = "Fachverfahren angebunden"
roles = ["authority-staff"]
depends_on = ["zustellpunkt", "xta"]
"#;

#[test]
fn a_branch_on_recorded_evidence_switches_when_the_evidence_changes() {
    let d = Arc::new(workflow::parse(BRANCHES.as_bytes()).unwrap_or_else(|e| panic!("{e:?}")));
    let mut g = Given::started(d, Facts::default());
    // Undecided: every branch applies (waits) until the route is recorded.
    assert_eq!(g.status("zustellpunkt"), StepStatus::Waiting);
    assert_eq!(g.status("dvdv"), StepStatus::Waiting);
    let events = g.ok(staff(), complete("transportweg", json!({ "verfahren": "osci_xta" })));
    let changed: Vec<(String, bool, String)> = events
        .iter()
        .filter_map(|e| match e {
            RolloutEvent::ApplicabilityChanged { step, applies, because } => {
                Some((step.clone(), *applies, because.clone()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(changed.len(), 1, "{events:?}");
    assert_eq!((changed[0].0.as_str(), changed[0].1), ("zustellpunkt", false));
    assert!(changed[0].2.contains(r#"transportweg.verfahren = "osci_xta""#), "{}", changed[0].2);
    assert_eq!(g.status("zustellpunkt"), StepStatus::NotApplicable);
    // The XTA order: DVDV, then XTA, then the back office.
    assert_eq!(g.status("dvdv"), StepStatus::Ready);
    assert_eq!(g.status("xta"), StepStatus::Waiting);
    assert_eq!(g.status("fachverfahren"), StepStatus::Waiting);
    g.ok(staff(), complete("dvdv", json!({})));
    assert_eq!(g.status("xta"), StepStatus::Ready);
    g.ok(staff(), complete("xta", json!({})));
    assert_eq!(g.status("fachverfahren"), StepStatus::Ready, "not stuck on the FIT-Connect step");

    // The route was wrong: reopening it reopens the branch; FIT-Connect then applies instead.
    let reopened =
        g.ok(staff(), Command::ReopenStep { step: "transportweg".into(), reason: "doch FIT-Connect".into() });
    assert!(
        reopened.iter().any(|e| matches!(e, RolloutEvent::ApplicabilityChanged { step, applies: true, .. } if step == "zustellpunkt")),
        "{reopened:?}"
    );
    let switched = g.ok(staff(), complete("transportweg", json!({ "verfahren": "fit_connect" })));
    let off: Vec<&str> = switched
        .iter()
        .filter_map(|e| match e {
            RolloutEvent::ApplicabilityChanged { step, applies: false, .. } => Some(step.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(off, ["dvdv", "xta"]);
    assert_eq!(g.status("zustellpunkt"), StepStatus::Ready);
    g.ok(staff(), complete("zustellpunkt", json!({ "destination": "d-1" })));
    assert_eq!(g.status("fachverfahren"), StepStatus::Ready);
    g.ok(staff(), complete("fachverfahren", json!({})));
    assert_eq!(g.r().status(), workflow::Status::Live, "into operation on the FIT-Connect branch");
}

#[test]
fn an_evidence_condition_is_type_checked_and_must_wait_for_the_step_it_reads() {
    let typo = BRANCHES.replacen(r#"== "fit_connect"'"#, r#"== "fitconnect"'"#, 1);
    let diags = workflow::parse(typo.as_bytes()).expect_err("an unknown value");
    assert!(
        diags
            .iter()
            .any(|d| d.message.contains("is never \"fitconnect\"; it is one of fit_connect, osci_xta")),
        "{diags:?}"
    );
    let unknown = BRANCHES.replacen(
        "evidence.transportweg.verfahren == \"osci_xta\"",
        "evidence.transportweg.weg == \"osci_xta\"",
        1,
    );
    let diags = workflow::parse(unknown.as_bytes()).expect_err("an unknown field");
    assert!(
        diags.iter().any(|d| d.message.contains("unknown fact `evidence.transportweg.weg`")),
        "{diags:?}"
    );
    let not_waiting = BRANCHES.replacen("depends_on = [\"dvdv\"]\ncondition", "condition", 1);
    let diags = workflow::parse(not_waiting.as_bytes()).expect_err("reads evidence it does not wait for");
    assert!(
        diags.iter().any(|d| d
            .message
            .contains("reads the evidence of `transportweg`, which step `xta` does not wait for")),
        "{diags:?}"
    );
}

/// Completes every ready step in definition order (the first field of `overrides` decides the
/// transport route), confirming four-eyes steps by a second person, until the rollout is live.
/// Returns the order in which the steps were completed.
fn walk_to_live(g: &mut Given, overrides: &[(&str, serde_json::Value)]) -> Vec<String> {
    let d = g.r().definition.clone();
    let mut order = Vec::new();
    for _ in 0..200 {
        if g.r().status() == workflow::Status::Live {
            return order;
        }
        let next = d.steps.iter().enumerate().find(|(i, _)| {
            matches!(g.r().steps[*i].status, StepStatus::Ready | StepStatus::AwaitingConfirmation)
        });
        let Some((i, step)) = next else { panic!("stuck after {order:?}: {:?}", g.r().steps) };
        if g.r().steps[i].status == StepStatus::AwaitingConfirmation {
            let role = if step.roles.contains(&Role::AuthorityStaff) {
                Role::AuthorityStaff
            } else {
                Role::ProjectManager
            };
            g.ok(
                person("person:zweite", role),
                Command::ConfirmStep { step: step.id.clone(), comment: None },
            );
            continue;
        }
        let evidence =
            overrides.iter().find(|(id, _)| *id == step.id).map(|(_, v)| v.clone()).unwrap_or_else(|| {
                serde_json::to_value(step.example_evidence("120540000000")).expect("json")
            });
        let who = if step.roles.contains(&Role::ProjectManager) && !step.roles.contains(&Role::AuthorityStaff)
        {
            manager()
        } else {
            staff()
        };
        g.ok(who, complete(&step.id, evidence));
        order.push(step.id.clone());
    }
    panic!("not live after 200 steps: {order:?}")
}

fn onboarding(fee_based: bool) -> Given {
    let facts = {
        let mut f = Facts::default();
        f.set("service.fee_based", workflow::condition::Value::Bool(fee_based));
        f
    };
    let mut g = Given::started(load("efa-onboarding"), facts);
    for land in ["fit_store_vertrag", "onlinedienst_bereit"] {
        g.ok(manager(), Command::RecordLandStep { step: land.into(), done: true });
    }
    g
}

fn position(order: &[String], step: &str) -> usize {
    order.iter().position(|s| s == step).unwrap_or_else(|| panic!("{step} not in {order:?}"))
}

#[test]
fn the_onboarding_s_transport_route_branches_into_xta_or_fit_connect_and_both_go_live() {
    let mut xta = onboarding(false);
    let order = walk_to_live(&mut xta, &[("transportweg", json!({ "weg": "osci_xta" }))]);
    // The order of the checklists: DVDV entry, XTA connection, back office.
    assert!(position(&order, "dvdv") < position(&order, "xta_anbindung"));
    assert!(position(&order, "xta_anbindung") < position(&order, "fachverfahren"));
    for fit in ["zertifikate", "zustellpunkt", "routing", "zertifikatserneuerung"] {
        assert!(!order.contains(&fit.to_owned()), "{fit} is FIT-Connect's: {order:?}");
        assert_eq!(xta.status(fit), StepStatus::NotApplicable, "{fit}");
    }
    let mut fit = onboarding(true);
    let order = walk_to_live(&mut fit, &[("transportweg", json!({ "weg": "fit_connect" }))]);
    assert!(position(&order, "zertifikate") < position(&order, "zustellpunkt"));
    assert!(position(&order, "zustellpunkt") < position(&order, "routing"));
    assert!(
        position(&order, "bezahldienst") < position(&order, "testantrag"),
        "fee-based: ePayBL before the test"
    );
    for osci in ["dvdv", "xta_anbindung"] {
        assert_eq!(fit.status(osci), StepStatus::NotApplicable, "{osci}");
    }
}

/// Version 3's checklist items sit where their sources put them: the concept before the pages
/// that link its privacy notice, those before the service is switched on; the function mailbox
/// before the FIT-Connect destination that names it; the reply channel before the test; the
/// training before the date of going into operation; the first real application after it.
#[test]
fn the_checklist_items_come_in_the_order_of_their_sources() {
    let mut g = onboarding(false);
    let order = walk_to_live(&mut g, &[("transportweg", json!({ "weg": "fit_connect" }))]);
    let before =
        |a: &str, b: &str| assert!(position(&order, a) < position(&order, b), "{a} before {b}: {order:?}");
    before("avv", "datenschutz_sicherheit");
    before("datenschutz_sicherheit", "pflichtangaben");
    before("pflichtangaben", "freischaltung");
    before("funktionspostfach", "zustellpunkt");
    before("rueckkanal", "testantrag");
    before("testantrag", "schulung");
    before("schulung", "golive_termin");
    assert!(!order.contains(&"erster_antrag".to_owned()), "in operation, not before: {order:?}");
    assert_eq!(g.status("erster_antrag"), StepStatus::Ready, "ready once in operation");
}

#[test]
fn a_federal_service_s_rollout_has_no_technical_connection_of_its_own_and_goes_live() {
    let read = |name: &str| {
        std::fs::read_to_string(format!("{}/../../workflows/{name}", env!("CARGO_MANIFEST_DIR")))
            .expect("read")
    };
    let (base, bund) = (read("efa-onboarding.toml"), read("efa-onboarding-bund.toml"));
    let registry = workflow::Registry::with_bundled(&[
        ("efa-onboarding.toml", &base),
        ("efa-onboarding-bund.toml", &bund),
    ])
    .expect("valid");
    let d = workflow::Definitions::get(&registry, "efa-onboarding-bund", 3).expect("the variant");
    for gone in [
        "rueckkanal",
        "transportweg",
        "zertifikate",
        "zustellpunkt",
        "routing",
        "dvdv",
        "xta_anbindung",
        "fachverfahren",
        "bezahldienst",
    ] {
        assert!(d.step_index(gone).is_none(), "{gone}");
    }
    let mut g = Given::started(d, Facts::default());
    for land in ["fit_store_vertrag", "onlinedienst_bereit"] {
        g.ok(manager(), Command::RecordLandStep { step: land.into(), done: true });
    }
    let order = walk_to_live(&mut g, &[]);
    assert!(position(&order, "bundeszugang") < position(&order, "testantrag"));
}
