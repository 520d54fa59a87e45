//! The one-page summary of an administration ("Steckbrief") for a Landrat or a
//! Bürgermeister: its services, where each stands, the decisions that wait for it and its
//! blockages — one table, written as XLSX, CSV or a printable page like the programme report.

use catalog::AnswerKind;
use projections::ReadModel;
use store::Timestamp;
use workflow::Status;

use crate::report::{Cell, Table};

/// The German word for a rollout's status.
fn status_word(s: Status) -> &'static str {
    match s {
        Status::NotStarted => "nicht begonnen",
        Status::InProgress => "in Arbeit",
        Status::Blocked => "blockiert",
        Status::Live => "in Betrieb",
        Status::Cancelled => "beendet",
    }
}

/// The Steckbrief of administration `ars` as the model has it, counted at `now`; `None` when
/// the catalogue does not know it.
// Long: one column after the other, as the page shows them.
pub fn steckbrief(m: &ReadModel, ars: &str, now: Timestamp, source: String) -> Option<Table> {
    let entry = m.catalog.authorities.get(ars)?;
    let a = &entry.authority;
    let mut rows = Vec::new();
    let (mut responsible, mut live, mut blocked, mut open) = (0u64, 0u64, 0u64, 0u64);
    let mut services: Vec<_> = m.catalog.services.values().map(|s| &s.service).collect();
    services.sort_by(|x, y| x.name.cmp(&y.name));
    for s in services {
        let is_responsible = m.catalog.is_responsible(&s.key, ars);
        let rollout = m.rollout(&format!("{}:{ars}", s.key));
        if !is_responsible && rollout.is_none() {
            continue;
        }
        responsible += u64::from(is_responsible);
        let answer = entry.answers.get(&s.key);
        let offered = m.catalog.services[&s.key].offers.iter().any(|o| o.is_to(ars));
        let status = rollout.map(|r| r.status());
        live += u64::from(status == Some(Status::Live));
        blocked += u64::from(status == Some(Status::Blocked));
        let decision = match (answer.map(|x| x.answer), rollout) {
            (None, None) if offered => "Angebot unbeantwortet".to_owned(),
            (Some(AnswerKind::Deferred), None) => {
                format!("zurückgestellt bis {}", answer.and_then(|x| x.until.clone()).unwrap_or_default())
            }
            _ => String::new(),
        };
        open += u64::from(!decision.is_empty());
        let phase = rollout
            .and_then(|r| r.definition.phases.get(r.phase()).map(|p| p.title.clone()))
            .unwrap_or_default();
        let block = rollout
            .filter(|r| r.blocked.is_some())
            .map(|r| r.block.category.clone().unwrap_or_else(|| "ohne Kategorie".into()))
            .unwrap_or_default();
        let answer_text = answer.map_or("keine Antwort", |x| x.answer.german());
        let applications: u64 = entry.applications(&s.key);
        let end_to_end =
            match crate::coverage::end_to_end(entry.end_to_end.get(&s.key).copied(), rollout.map(|r| &**r)) {
                Some(true) => "ja",
                Some(false) => "nein",
                None => "",
            };
        rows.push(vec![
            Cell::from(s.name.clone()),
            Cell::from(if is_responsible { "ja" } else { "nein" }),
            Cell::from(answer_text),
            Cell::from(status.map_or("kein Rollout", status_word)),
            Cell::from(phase),
            Cell::from(if rollout.is_some_and(|r| r.is_overdue(now)) { "ja" } else { "" }),
            Cell::from(block),
            Cell::from(decision),
            Cell::from(applications),
            Cell::from(end_to_end),
        ]);
    }
    let landkreis = a
        .landkreis_ars
        .as_ref()
        .and_then(|lk| m.catalog.authorities.get(lk))
        .map_or(String::new(), |e| e.authority.name.clone());
    let support = match entry.support.last() {
        Some(s) => format!("{} Beratungen, zuletzt {} ({}, {})", entry.support.len(), s.date, s.topic, s.by),
        None => "keine erfasst".to_owned(),
    };
    let preamble = vec![
        ("Steckbrief".to_owned(), a.name.clone()),
        ("ARS".to_owned(), a.ars.clone()),
        ("Landkreis".to_owned(), landkreis),
        ("Einwohner".to_owned(), a.population.to_string()),
        (
            "Stand".to_owned(),
            format!(
                "{responsible} zuständige Dienste, {live} in Betrieb, {blocked} blockiert, {open} offene Entscheidungen"
            ),
        ),
        ("Beratung und Unterstützung".to_owned(), support),
        ("Datenquelle".to_owned(), source),
    ];
    let header = [
        "Dienst",
        "Zuständig",
        "Antwort auf das Angebot",
        "Status",
        "Phase",
        "Überfällig",
        "Blockiert",
        "Offene Entscheidung",
        "Anträge online",
        "Ende-zu-Ende",
    ]
    .map(str::to_owned)
    .to_vec();
    Some(Table { name: "Steckbrief".into(), preamble, header, rows, cut: None })
}
