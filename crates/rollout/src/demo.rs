//! `serve --demo`: a living system at once — three EfA services offered to every
//! administration responsible for them (most interested, some declining or deferring; see
//! `demo_reuse`) (one on the federal variant, the rest with FIT-Connect or
//! OSCI/XTA), advanced by several people and an automation token, some blocked, some overdue;
//! and a form-server assistant: the association's model, released, and its members' set-up.

use serde_json::json;
use store::{Actor, ActorKind, Timestamp};
use workflow::decide::{Command, Principal};
use workflow::definition::Role;
use workflow::StepStatus;

use crate::Failure;

fn person(id: &str, name: &str, roles: Vec<Role>) -> engine::Invocation {
    engine::Invocation::new(Principal {
        actor: Actor { id: id.into(), name: name.into(), kind: ActorKind::Person, person: None },
        roles,
        admin: false,
    })
}

/// People of the administrations as the demo names them in contact fields.
const CONTACTS: [&str; 8] = [
    "Frau Sabine Krüger",
    "Herr Thomas Lehmann",
    "Frau Jana Wolff",
    "Herr Mirko Schulze",
    "Frau Katrin Neumann",
    "Herr Andreas Richter",
    "Frau Ulrike Hoffmann",
    "Herr Stefan Bauer",
];

/// Demo evidence for a step that looks real to a coordinator: dates of the day it is completed
/// (never after it), a person for a contact, an organisation-unit key, a file reference, the
/// transport route of this administration (`n`: every third uses OSCI/XTA).
fn evidence(step: &workflow::Step, ars: &str, today: Timestamp, n: usize) -> workflow::Evidence {
    let date = today.to_string().chars().take(10).collect::<String>();
    let mut out = step.example_evidence(ars);
    for f in &step.evidence {
        let label = f.label.to_lowercase();
        let value = match &f.ty {
            // A validity runs into the future; everything else happened by today.
            workflow::FieldType::Date if f.id.contains("gueltig") => {
                let year: i32 = date[..4].parse().unwrap_or(2026);
                json!(format!("{}{}", year + 2, &date[4..]))
            }
            workflow::FieldType::Date => json!(date),
            workflow::FieldType::DocumentRef => {
                json!(format!("Az. 022.{}/{}-{:03}", n % 90 + 10, &date[..4], n % 997 + 1))
            }
            workflow::FieldType::Enumeration(values) if f.id == "weg" => {
                let xta = n % 3 == 1 && values.iter().any(|v| v == "osci_xta");
                json!(if xta { "osci_xta" } else { values.first().map(String::as_str).unwrap_or_default() })
            }
            // Archived definitions' contact fields were text; today's are `person` fields
            // (`with_contacts` fills them with registered persons).
            workflow::FieldType::Text if label.contains("ansprechperson") || f.id == "kontakt" => {
                json!(CONTACTS[n % CONTACTS.len()])
            }
            workflow::FieldType::Text if f.id == "oe_kennung" => {
                json!(format!("OE-{}-{:02}", &ars[..9], n % 40 + 1))
            }
            workflow::FieldType::Text if label.contains("seriennummer") => {
                json!(format!("{:016X}", (n as u64 + 1) * 0x9E37_79B9))
            }
            workflow::FieldType::Text if label.contains("mandant") => {
                json!(format!("BB-{}-{}", &ars[2..5], n % 900 + 100))
            }
            // The demo's addresses are under the reserved `.example` domain: no real mailbox or site.
            workflow::FieldType::Email => json!(format!("onlinedienste-{}@verwaltung.example", &ars[5..])),
            workflow::FieldType::Url if step.id != "pvog_sichtbarkeit" => {
                json!(format!("https://verwaltung-{}.example/{}", &ars[5..], f.id))
            }
            workflow::FieldType::Number if f.id == "teilnehmende" => json!(n % 7 + 3),
            workflow::FieldType::Enumeration(values) if f.id == "kanal" => {
                json!(values.get(n % 4 % values.len().max(1)).map(String::as_str).unwrap_or_default())
            }
            workflow::FieldType::Text if f.id == "fachverfahren" => {
                json!(["OK.VERFAHREN", "VOIS", "AKDB OK.FIS", "H&H"][n % 4])
            }
            _ => continue,
        };
        out.insert(f.id.clone(), value);
    }
    out
}

/// `evidence` with each `person` field naming a registered contact of the administration (the
/// demo registers two per administration when first needed, with addresses under `.example`).
async fn with_contacts(
    engine: &engine::Engine,
    cast: &Cast,
    step: &workflow::Step,
    ars: &str,
    n: usize,
) -> Result<workflow::Evidence, Failure> {
    let mut out = evidence(step, ars, engine.now(), n);
    for (i, f) in step.evidence.iter().filter(|f| f.ty == workflow::FieldType::Person).enumerate() {
        let mut contacts = cast.contacts.lock().await;
        if !contacts.contains_key(ars) {
            let mut ids = Vec::new();
            for k in 0..2 {
                let name = CONTACTS[(n + 3 * k) % CONTACTS.len()];
                let plain = name.trim_start_matches("Frau ").trim_start_matches("Herr ");
                let address = plain.to_lowercase().replace(' ', ".").replace('ü', "ue").replace('ö', "oe");
                let details = engine::PersonDetails {
                    name: name.into(),
                    function: Some(["Sachgebietsleitung Bürgerservice", "IT-Koordination"][k].into()),
                    email: Some(format!("{address}@verwaltung-{}.example", &ars[5..])),
                    phone: Some(format!("0331 {:03} {:04}", n % 1000, 1000 + k)),
                };
                ids.push(engine.register_person(ars, details, &cast.admin).await?.id);
            }
            contacts.insert(ars.to_owned(), ids);
        }
        let ids = &contacts[ars];
        out.insert(f.id.clone(), json!(ids[i % ids.len()].to_string()));
    }
    Ok(out)
}

/// The ministry responsible for a service in the Land (demo data: an assumption per service).
fn ministry(service: &str) -> &'static str {
    match service {
        "wohngeld" | "kfz_zulassung" => "MIL",
        "gewerbe_anmeldung" => "MWAE",
        _ => "MIK",
    }
}

/// The history spans the last `DEMO_DAYS` days: the store's clock is moved back while it is made.
pub const DEMO_DAYS: f64 = 180.0;

/// The people and the automation token who act in the demo.
struct Cast {
    pm: engine::Invocation,
    pm2: engine::Invocation,
    /// the association's staff: the form server's model and its set-up for the members.
    zv: engine::Invocation,
    staff: [engine::Invocation; 3],
    bot: engine::Invocation,
    admin: engine::Invocation,
    /// The contact persons registered per administration (ARS → person ids).
    contacts: tokio::sync::Mutex<std::collections::HashMap<String, Vec<uuid::Uuid>>>,
}

/// One thing that happens at one time: a service is started (and the Land does its part), or an
/// administration takes its turn on a service.
enum Turn {
    Service {
        k: usize,
    },
    Authority {
        k: usize,
        n: usize,
        ars: String,
    },
    /// The association starts the assistant and builds the model.
    AssistantModel,
    /// The model is tested and released.
    AssistantRelease,
    /// A member municipality's set-up of the released model.
    Member {
        n: usize,
        ars: String,
    },
}

/// The vendor whose back-office system blocks many of the demo's municipalities (fictitious).
const DEMO_VENDOR: &str = "KommunalSoft GmbH";
/// Its product (fictitious).
const DEMO_PRODUCT: &str = "KS-Sozial";

/// Blockages the demo's municipalities solved: (reason, category, how).
const SOLVED: &[(&str, &str, &str)] = &[
    (
        "Zertifikat für den Zustellpunkt fehlt",
        "technik",
        "Zertifikate über die DOI-Netz-Zertifizierungsstelle beantragt; mit der Vorlage des Landes ging der Antrag in einer Woche durch.",
    ),
    (
        "Vertrag mit dem Rechenzentrum deckt den Dienst nicht ab",
        "vertrag_recht",
        "Nachtrag zum Rechenzentrumsvertrag nach dem Muster des Landkreises abgeschlossen.",
    ),
    (
        "Niemand für die Redaktion benannt",
        "personal",
        "Redaktion an das Bürgerbüro übertragen; Schulung über das Landesportal genutzt.",
    ),
];

/// The form-server assistant of the demo.
const ASSISTANT: &str = "hundesteuer_anmeldung";

const SERVICES: [&str; 3] = ["wohngeld", "gewerbe_anmeldung", "kfz_zulassung"];

pub async fn generate(engine: &engine::Engine, clock: &ShiftableClock) -> Result<(), Failure> {
    let cast = cast(engine);
    let land = engine.catalog().land_ars().unwrap_or_default();
    let land = land.as_str();
    let arss: Vec<String> =
        engine.catalog().active_authorities().filter(|a| a.ars != land).map(|a| a.ars.clone()).collect();
    let members: Vec<String> = engine
        .catalog()
        .active_authorities()
        .filter(|a| a.association_member)
        .map(|a| a.ars.clone())
        .collect();
    let mut turns = turns(&arss, &members);
    turns.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (days_ago, turn) in turns {
        clock.days_ago(days_ago);
        match turn {
            Turn::Service { k } => start_service(engine, &cast, k).await?,
            Turn::Authority { k, n, ars } => authority_turn(engine, &cast, k, n, &ars).await?,
            Turn::AssistantModel => {
                engine.start_service(ASSISTANT, &cast.zv).await?;
                let association = engine.catalog().association_ars().unwrap_or_default();
                advance(engine, &cast, ASSISTANT, &association, 0, 5).await?;
            }
            Turn::AssistantRelease => {
                let association = engine.catalog().association_ars().unwrap_or_default();
                advance(engine, &cast, ASSISTANT, &association, 0, usize::MAX).await?
            }
            Turn::Member { n, ars } => advance(engine, &cast, ASSISTANT, &ars, n, n % 9).await?,
        }
    }
    // A contact who left, and one erased on request: the history keeps what they did, every
    // read shows "[gelöscht]".
    let mut contacts: Vec<Vec<uuid::Uuid>> = cast.contacts.lock().await.values().cloned().collect();
    contacts.sort();
    if let [left, erased, ..] = contacts.as_slice() {
        // The first contact of an administration is the one its `interesse` evidence names.
        engine
            .record_person_left(left[1], &today(engine), "Wechsel in eine andere Verwaltung", &cast.admin)
            .await?;
        engine.erase_person(erased[0], "Antrag der Person auf Löschung (Art. 17 DSGVO)", &cast.admin).await?;
    }
    questions(engine, &cast, &arss, &members, clock).await?;
    network(engine, &cast, &arss, &contacts).await?;
    clock.days_ago(0.0);
    crate::demo_reuse::ministry(engine, &cast.pm, &cast.bot, &SERVICES).await?;
    Ok(())
}

/// The people (and the bot) who act in the demo.
fn cast(engine: &engine::Engine) -> Cast {
    Cast {
        pm: person("person:pm-land", "Petra Projekt (Land)", vec![Role::ProjectManager]),
        pm2: person("person:pm-land-2", "Lars Landmann (Land)", vec![Role::ProjectManager]),
        zv: person(
            "person:zv-dikom",
            &format!("Dana Dikom ({})", engine.profile().association_short_name()),
            vec![Role::AssociationStaff],
        ),
        staff: [
            person("person:staff-1", "Anna Amt", vec![Role::AuthorityStaff]),
            person("person:staff-2", "Bernd Bürgeramt", vec![Role::AuthorityStaff]),
            person("person:staff-3", "Carla Kreis", vec![Role::AuthorityStaff]),
        ],
        bot: engine::Invocation::new(Principal {
            actor: Actor {
                id: "token:demo-bot".into(),
                name: "Anbindungs-Bot".into(),
                kind: ActorKind::Automation,
                person: None,
            },
            roles: vec![],
            admin: false,
        }),
        admin: engine::Invocation::system(),
        contacts: Default::default(),
    }
}

/// Every turn of the demo and how many days ago it is played: each service starts a month
/// after the one before and its administrations (`arss`) take their turn over the following
/// months; the form server's model over two months, then the `members`' set-up.
fn turns(arss: &[String], members: &[String]) -> Vec<(f64, Turn)> {
    // Each service starts a month after the one before; its administrations take their turn over
    // the following months. The store keeps recorded times in log order, so the turns of all
    // services are played in the order of their times.
    let mut turns: Vec<(f64, Turn)> = Vec::new();
    for k in 0..SERVICES.len() {
        let begin = DEMO_DAYS - 30.0 * k as f64;
        turns.push((begin, Turn::Service { k }));
        let span = begin - 7.0;
        for (n, ars) in arss.iter().enumerate() {
            let at = begin - 0.5 - span * n as f64 / arss.len() as f64;
            turns.push((at, Turn::Authority { k, n, ars: ars.clone() }));
        }
    }
    // The form server: the model over two months, then the members' set-up.
    turns.push((75.0, Turn::AssistantModel));
    turns.push((50.0, Turn::AssistantRelease));
    for (n, ars) in members.iter().enumerate() {
        turns.push((
            48.0 - 40.0 * n as f64 / members.len().max(1) as f64,
            Turn::Member { n, ars: ars.clone() },
        ));
    }
    turns
}

/// The network: back-office systems for wohngeld's subject area (most use one of two products,
/// the vendor that blocks many among them; some record none), and contacts who agree to be
/// named (for every service, for wohngeld, or not at all).
async fn network(
    engine: &engine::Engine,
    cast: &Cast,
    arss: &[String],
    contacts: &[Vec<uuid::Uuid>],
) -> Result<(), Failure> {
    // Back-office systems for wohngeld's subject area: most use one of two products (the
    // vendor that blocks many among them), some record none.
    let area = engine.catalog().services.get("wohngeld").map(|s| s.service.subject_area.clone());
    if let Some(area) = area {
        for (i, ars) in arss.iter().enumerate() {
            let system = match i % 4 {
                0 | 1 => Some((DEMO_PRODUCT, DEMO_VENDOR)),
                2 => Some(("SoziaPro", "Beispiel-Software AG")),
                _ => None,
            };
            let Some((product, vendor)) = system else { continue };
            let system = catalog::events::BackOfficeSystem {
                product: product.into(),
                vendor: vendor.into(),
                version: Some("2026.1".into()),
            };
            engine.set_back_office_system(ars, &area, Some(system), &cast.staff[i % 3]).await?;
        }
    }
    // The network: some contacts agree to be named for every service, some for wohngeld, the
    // others not at all.
    for (i, ids) in contacts.iter().enumerate() {
        let Some(&id) = ids.first() else { continue };
        let service = match i % 3 {
            0 => None,
            1 => Some("wohngeld"),
            _ => continue,
        };
        // The erased and the departed are refused: the demo leaves them out.
        let _ = engine
            .set_contact_consent(id, service, true, "schriftlich eingewilligt (Demo)", &cast.admin)
            .await;
    }
    Ok(())
}

/// Questions on steps (Rückfragen): one answered and resolved, one answered and not yet read
/// by the asker, one to the Land still open, one from the Land to an administration, one to
/// The association on a member's assistant.
async fn questions(
    engine: &engine::Engine,
    cast: &Cast,
    arss: &[String],
    members: &[String],
    clock: &ShiftableClock,
) -> Result<(), Failure> {
    use engine::questions::Party;
    let mut started = Vec::new();
    for ars in arss {
        if engine.load("wohngeld", ars).await?.is_some() {
            started.push(ars.clone());
        }
        if started.len() == 4 {
            break;
        }
    }
    let [a, b, c, d] = started.as_slice() else { return Ok(()) };
    answered_and_resolved(engine, cast, a, clock).await?;
    clock.days_ago(5.0);
    let q = engine
        .ask_question(
            "wohngeld",
            b,
            "avv",
            Party::Land,
            "Welche Anlage des AVV beschreibt die technischen und organisatorischen Maßnahmen des Betreibers?",
            &cast.staff[1],
        )
        .await?;
    clock.days_ago(4.0);
    engine
        .answer_question(q.id, "Anlage 2 der Vorlage; die aktuelle Fassung liegt im FIT-Store.", &cast.pm2)
        .await?;
    clock.days_ago(3.0);
    engine
        .ask_question(
            "wohngeld",
            c,
            "nutzungsvereinbarung",
            Party::Land,
            "Bis wann ist der FIT-Store-Vertrag für diesen Dienst abgeschlossen? Unsere Leitung möchte im nächsten Monat unterzeichnen.",
            &cast.staff[2],
        )
        .await?;
    clock.days_ago(2.0);
    engine
        .ask_question(
            "wohngeld",
            d,
            "entscheidung",
            Party::Administration,
            "Bitte den Beschluss oder Vermerk zur Nachnutzung als Dokument nachreichen (Aktenzeichen genügt).",
            &cast.pm,
        )
        .await?;
    if let Some(member) = members.first() {
        member_question(engine, cast, member, clock).await?;
    }
    Ok(())
}

/// A question to the Land, read, answered, read and resolved by the asker.
async fn answered_and_resolved(
    engine: &engine::Engine,
    cast: &Cast,
    a: &str,
    clock: &ShiftableClock,
) -> Result<(), Failure> {
    use engine::questions::Party;
    clock.days_ago(9.0);
    let q = engine
        .ask_question(
            "wohngeld",
            a,
            "nutzungsvereinbarung",
            Party::Land,
            "Gilt die Mustervereinbarung des Landes auch für Ämter, die den Dienst für ihre amtsangehörigen Gemeinden anbieten?",
            &cast.staff[0],
        )
        .await?;
    clock.days_ago(8.0);
    engine.mark_question_read(q.id, &cast.pm).await?;
    engine
        .answer_question(
            q.id,
            "Ja. Das Amt unterzeichnet für seine amtsangehörigen Gemeinden; ein eigener Beschluss der Gemeindevertretungen ist nicht nötig.",
            &cast.pm,
        )
        .await?;
    clock.days_ago(7.0);
    engine.mark_question_read(q.id, &cast.staff[0]).await?;
    engine.set_question_resolved(q.id, true, Some("Beantwortet, danke."), &cast.staff[0]).await?;
    Ok(())
}

/// A member's staff asks the association about its assistant.
async fn member_question(
    engine: &engine::Engine,
    cast: &Cast,
    member: &str,
    clock: &ShiftableClock,
) -> Result<(), Failure> {
    use engine::questions::Party;
    if let Some(r) = engine.load(ASSISTANT, member).await? {
        let step = r.definition.steps[r.next_open_step().unwrap_or(0)].id.clone();
        clock.days_ago(1.0);
        engine
            .ask_question(
                ASSISTANT,
                member,
                &step,
                Party::Association,
                "Kann das Muster ein Feld für die Chipnummer des Hundes bekommen?",
                &cast.staff[0],
            )
            .await?;
    }
    Ok(())
}

fn today(engine: &engine::Engine) -> String {
    engine.now().to_string().chars().take(10).collect()
}

/// Starts a service everywhere; the Land completes its first steps (for the first two services
/// all of them, so administrations can go live).
async fn start_service(engine: &engine::Engine, cast: &Cast, k: usize) -> Result<(), Failure> {
    let service = SERVICES[k];
    let land = engine.catalog().land_ars().unwrap_or_default();
    let land = land.as_str();
    crate::demo_reuse::offer(engine, &cast.pm, service).await?;
    let land_steps = [
        ("interesse_land", json!({ "datum": today(engine), "ressort": ministry(service) })),
        ("bedarf_abgestimmt", json!({ "protokoll": "Protokoll 2026-06" })),
        (
            "fit_store_vertrag",
            json!({ "vertragsart": "fit_store", "vertragsnummer": format!("FS-2026-{}", k + 7), "unterzeichnet_am": today(engine) }),
        ),
    ];
    for (step, ev) in land_steps {
        let evidence = ev.as_object().cloned().unwrap_or_default().into_iter().collect();
        let command = Command::CompleteStep { step: step.into(), evidence, comment: None };
        engine.execute(service, land, command, &cast.pm).await?;
    }
    let confirm = Command::ConfirmStep { step: "fit_store_vertrag".into(), comment: Some("geprüft".into()) };
    engine.execute(service, land, confirm, &cast.pm2).await?;
    if k < 2 {
        for step in ["finanzierung", "leistungsbeschreibung", "onlinedienst_bereit"] {
            let Some(r) = engine.load(service, land).await? else { break };
            let Some(i) = r.definition.step_index(step) else { continue };
            let command = Command::CompleteStep {
                step: step.into(),
                evidence: with_contacts(engine, cast, &r.definition.steps[i], land, k).await?,
                comment: None,
            };
            engine.execute(service, land, command, &cast.pm).await?;
        }
    }
    Ok(())
}

/// Up to `target` steps of the `n`-th administration's rollout of `service`, each by whom
/// the step names (a four-eyes confirmation by another person, automatable steps by the bot).
async fn progress_steps(
    engine: &engine::Engine,
    cast: &Cast,
    service: &str,
    ars: &str,
    n: usize,
    target: usize,
) -> Result<(), Failure> {
    let staff = &cast.staff;
    let mut done = 0;
    while done < target {
        let Some(r) = engine.load(service, ars).await? else { break };
        let Some(i) = r.next_open_step() else { break };
        let step = &r.definition.steps[i];
        let confirming = r.steps[i].status == StepStatus::AwaitingConfirmation;
        let command = if confirming {
            Command::ConfirmStep { step: step.id.clone(), comment: None }
        } else {
            Command::CompleteStep {
                step: step.id.clone(),
                evidence: with_contacts(engine, cast, step, ars, n).await?,
                comment: None,
            }
        };
        let actor = if confirming {
            &staff[(n + done + 1) % staff.len()]
        } else if step.automatable {
            &cast.bot
        } else if step.roles.contains(&Role::AuthorityStaff) {
            &staff[(n + done) % staff.len()]
        } else {
            &cast.pm
        };
        if engine.execute(service, ars, command, actor).await.is_err() {
            break;
        }
        done += 1;
    }
    Ok(())
}

/// The `n`-th administration's turn on service `k`: a number of steps, and for some a block or
/// a due date in the past.
async fn authority_turn(
    engine: &engine::Engine,
    cast: &Cast,
    k: usize,
    n: usize,
    ars: &str,
) -> Result<(), Failure> {
    let service = SERVICES[k];
    if !crate::demo_reuse::answer(engine, &cast.staff[1], service, k, ars, n).await? {
        return Ok(());
    }
    let Some(rollout) = engine.load(service, ars).await? else { return Ok(()) };
    // Each administration is somewhere else: 0 to 14 steps; every fifth administration of the
    // first two services has gone live.
    let target = if k < 2 && n.is_multiple_of(5) { usize::MAX } else { (n * 7 + service.len()) % 15 };
    progress_steps(engine, cast, service, ars, n, target).await?;
    let staff = &cast.staff;
    let open_step = |r: &workflow::Rollout| {
        r.steps
            .iter()
            .position(|s| matches!(s.status, StepStatus::Ready | StepStatus::InProgress))
            .map(|i| r.definition.steps[i].id.clone())
    };
    if n % 17 == 3 {
        // One vendor blocks many municipalities: the managers' blockages by vendor show it.
        let current = engine.load(service, ars).await?;
        let block = workflow::events::Blockage {
            category: Some("fachverfahren".into()),
            vendor: Some(DEMO_VENDOR.into()),
            step: current.as_ref().and_then(open_step),
        };
        let block = Command::Block { reason: "Fachverfahren noch nicht ausgeschrieben".into(), block };
        engine.execute(service, ars, block, &staff[0]).await?;
    } else if n % 19 == 7 {
        // A blockage solved, and how: the network's solutions search finds it.
        let current = engine.load(service, ars).await?;
        let (reason, category, solution) = SOLVED[n % SOLVED.len()];
        let block = workflow::events::Blockage {
            category: Some(category.into()),
            vendor: None,
            step: current.as_ref().and_then(open_step),
        };
        engine.execute(service, ars, Command::Block { reason: reason.into(), block }, &staff[0]).await?;
        let unblock = Command::Unblock {
            reason: "gelöst".into(),
            solution: Some(solution.into()),
            share_name: n.is_multiple_of(2),
        };
        engine.execute(service, ars, unblock, &staff[0]).await?;
    } else if n % 13 == 5 {
        let current = engine.load(service, ars).await?.unwrap_or(rollout);
        if let Some((i, _)) = current.steps.iter().enumerate().find(|(_, s)| s.status == StepStatus::Ready) {
            let step = current.definition.steps[i].id.clone();
            // Overdue by the real clock, whatever the demo's clock says while the history is made.
            let now = store::Clock::now(&store::SystemClock);
            let past = Timestamp::from_unix_micros(now.unix_micros() - 14 * 86_400_000_000);
            let due =
                Command::SetDueDate { step, due_at: past, reason: "Frist aus der Projektplanung".into() };
            let _ = engine.execute(service, ars, due, &cast.pm).await;
        }
    }
    Ok(())
}

/// Up to `steps` of the rollout of `service` at `ars`, in order, each by whom the definition
/// names: the association's steps by its staff, the municipality's by its staff, a four-eyes
/// confirmation by a second person.
async fn advance(
    engine: &engine::Engine,
    cast: &Cast,
    service: &str,
    ars: &str,
    n: usize,
    steps: usize,
) -> Result<(), Failure> {
    for done in 0..steps {
        let Some(r) = engine.load(service, ars).await? else { break };
        let Some(i) = r.next_open_step() else { break };
        let step = &r.definition.steps[i];
        let confirming = r.steps[i].status == StepStatus::AwaitingConfirmation;
        let (command, actor) = if confirming {
            (Command::ConfirmStep { step: step.id.clone(), comment: None }, &cast.pm2)
        } else {
            let actor = if step.roles.contains(&Role::AssociationStaff) {
                &cast.zv
            } else if step.roles.contains(&Role::AuthorityStaff) {
                &cast.staff[(n + done) % cast.staff.len()]
            } else {
                &cast.pm
            };
            let evidence = with_contacts(engine, cast, step, ars, n).await?;
            (Command::CompleteStep { step: step.id.clone(), evidence, comment: None }, actor)
        };
        if engine.execute(service, ars, command, actor).await.is_err() {
            break;
        }
    }
    Ok(())
}

/// The store's clock: the system clock, shifted into the past while the demo history is made.
#[derive(Debug, Default)]
pub struct ShiftableClock {
    offset_micros: std::sync::atomic::AtomicI64,
}

impl ShiftableClock {
    /// Moves the clock to `days` days before now (0: now again).
    pub fn days_ago(&self, days: f64) {
        self.offset_micros.store(-(days * 86_400_000_000.0) as i64, std::sync::atomic::Ordering::Relaxed);
    }
}

impl store::Clock for ShiftableClock {
    fn now(&self) -> store::Timestamp {
        let now = store::Clock::now(&store::SystemClock).unix_micros();
        store::Timestamp::from_unix_micros(
            now + self.offset_micros.load(std::sync::atomic::Ordering::Relaxed),
        )
    }
}
