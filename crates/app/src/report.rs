//! The programme report for the ministry, and the tables every list downloads as.
//!
//! Every figure of the report is a figure of `progress(asOf, …)`: [`figures`] is the one
//! computation behind both (per service, per Landkreis, per Landkreis of one service; a
//! programme's line is the sum of its services'). [`Table`] is a sheet: title lines (the as-of
//! date, the data source), German column headers, rows of text and numbers; the api crate
//! writes tables as XLSX, CSV and a printable page.

use std::collections::{BTreeMap, BTreeSet};

use catalog::Program;
use projections::{GroupBy, ReadModel};
use store::Timestamp;

/// The header of the first figure column of the report's tables.
pub const ROLLOUTS_HEADER: &str = "Verwaltungen (Rollouts)";

/// The counts of one group, as `progress` answers them.
#[derive(Clone, Debug, PartialEq)]
pub struct Figures {
    pub key: String,
    pub rollouts: u64,
    pub steps_done: u64,
    pub steps_total: u64,
    /// (phase id, status) → rollouts.
    pub by_phase_status: BTreeMap<(String, &'static str), u64>,
    /// Rollouts in operation (status `live`).
    pub in_operation: u64,
    pub blocked: u64,
    /// Rollouts with an open step past its due date at the time asked for.
    pub overdue: u64,
    /// Blocked rollouts by blockage category (`""`: none given).
    pub blocked_by_category: BTreeMap<String, u64>,
    /// Responsibility, answers, coverage (`crate::coverage`).
    pub reuse: crate::coverage::Reuse,
}

impl Figures {
    pub fn percent_done(&self) -> f64 {
        if self.steps_total == 0 {
            0.0
        } else {
            100.0 * self.steps_done as f64 / self.steps_total as f64
        }
    }

    /// Rollouts per phase (any status).
    pub fn by_phase(&self) -> BTreeMap<&str, u64> {
        let mut out = BTreeMap::new();
        for ((phase, _), n) in &self.by_phase_status {
            *out.entry(phase.as_str()).or_insert(0) += n;
        }
        out
    }

    fn add(&mut self, other: &Figures) {
        self.rollouts += other.rollouts;
        self.steps_done += other.steps_done;
        self.steps_total += other.steps_total;
        for (k, n) in &other.by_phase_status {
            *self.by_phase_status.entry(k.clone()).or_insert(0) += n;
        }
        self.in_operation += other.in_operation;
        self.blocked += other.blocked;
        self.overdue += other.overdue;
        for (k, n) in &other.blocked_by_category {
            *self.blocked_by_category.entry(k.clone()).or_insert(0) += n;
        }
        self.reuse.add(&other.reuse);
    }

    fn empty(key: &str) -> Figures {
        Figures {
            key: key.to_owned(),
            rollouts: 0,
            steps_done: 0,
            steps_total: 0,
            by_phase_status: BTreeMap::new(),
            in_operation: 0,
            blocked: 0,
            overdue: 0,
            blocked_by_category: BTreeMap::new(),
            reuse: Default::default(),
        }
    }
}

/// Progress of the model grouped `by`, of one programme's and one service's rollouts when
/// given, with overdue counted at `now`; ordered by key.
pub fn figures(
    m: &ReadModel,
    by: GroupBy,
    program: Option<Program>,
    service: Option<&str>,
    now: Timestamp,
) -> Vec<Figures> {
    let keep = |key: &str| {
        program.is_none_or(|p| m.catalog.program_of(key) == p) && service.is_none_or(|s| s == key)
    };
    let mut counts =
        if program.is_none() && service.is_none() { m.progress(by) } else { m.progress_where(by, keep) };
    let overdue = m.overdue_by_group(by, now, keep);
    let mut blocked = m.blocked_by_group(by, keep);
    let mut reuse = crate::coverage::reuse(m, by, keep);
    // A group with an offer or an answer and no rollout yet is a group too.
    for (key, r) in &reuse {
        if r.is_active() {
            counts.entry(key.clone()).or_default();
        }
    }
    counts
        .into_iter()
        .map(|(key, c)| {
            let status =
                |name: &str| c.by_phase_status.iter().filter(|((_, s), _)| *s == name).map(|(_, n)| n).sum();
            Figures {
                overdue: overdue.get(&key).copied().unwrap_or(0),
                blocked_by_category: blocked.remove(&key).unwrap_or_default(),
                in_operation: status("live"),
                blocked: status("blocked"),
                rollouts: c.rollouts,
                steps_done: c.steps_done,
                steps_total: c.steps_total,
                by_phase_status: c.by_phase_status,
                reuse: reuse.remove(&key).unwrap_or_default(),
                key,
            }
        })
        .collect()
}

/// The time `overdue` is counted at for a model cut at `cut`: the cut's time, the time of the
/// last event folded (a cut at a position), or `now` (no cut).
pub fn counted_at(cut: projections::Cut, m: &ReadModel, now: Timestamp) -> Timestamp {
    match cut {
        projections::Cut::Everything => now,
        projections::Cut::Time(t) => t,
        projections::Cut::Position(_) => m.last_recorded_at().unwrap_or(now),
    }
}

/// A cell of a table.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Text(String),
    Number(f64),
    Empty,
}

impl From<&str> for Cell {
    fn from(s: &str) -> Cell {
        Cell::Text(s.to_owned())
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Cell {
        Cell::Text(s)
    }
}

impl From<u64> for Cell {
    fn from(n: u64) -> Cell {
        Cell::Number(n as f64)
    }
}

/// One sheet: a name (at most 31 characters), lines above the header (title, as-of date, data
/// source), the header, the rows; `cut` says how many rows were left out by the row limit.
#[derive(Clone, Debug)]
pub struct Table {
    pub name: String,
    pub preamble: Vec<(String, String)>,
    pub header: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
    pub cut: Option<String>,
}

/// The programme report as of `as_of` (compared with `since`): its sheets.
#[derive(Debug)]
pub struct Report {
    pub tables: Vec<Table>,
}

/// What the report is made of: the models at both dates, and how to say where it came from.
#[allow(missing_debug_implementations)]
pub struct ReportInput<'a> {
    pub now: &'a ReadModel,
    pub now_at: Timestamp,
    pub since: Option<(&'a ReadModel, Timestamp)>,
    /// e.g. "efa-rollout, Ereignisprotokoll bis Position 120 (Hash 3fa…)".
    pub source: String,
    /// Phase id → German title, in the order of the definitions.
    pub phases: Vec<(String, String)>,
    /// The report's title and the association's short name, from the Land's profile.
    pub profile: &'a catalog::profile::StoredProfile,
}

fn german_date(t: Timestamp) -> String {
    let s = t.to_string();
    match (s.get(0..4), s.get(5..7), s.get(8..10), s.get(11..16)) {
        (Some(y), Some(m), Some(d), Some(hm)) => format!("{d}.{m}.{y}, {hm} Uhr (UTC)"),
        _ => s,
    }
}

/// The programme report: programmes, services, Landkreise, services × Landkreise.
pub fn programme_report(input: &ReportInput<'_>) -> Report {
    let since = input.since;
    let preamble = vec![
        ("Bericht".to_owned(), input.profile.report_title.clone()),
        ("Stand".to_owned(), german_date(input.now_at)),
        (
            "Vergleich mit".to_owned(),
            since.map_or_else(|| "– (kein Vergleichsdatum)".to_owned(), |(_, t)| german_date(t)),
        ),
        ("Datenquelle".to_owned(), input.source.clone()),
    ];
    // The sheets, and the target scope of a row's figures (programmes and services have
    // targets).
    type Scope = fn(&str) -> Option<String>;
    let sheets: [(&str, &[&str], Rows, Scope); 4] = [
        ("Programme", &["Programm"], programme_rows(input), |key| Some(key.to_owned())),
        ("Dienste", &["Dienst", "Name", "Programm"], service_rows(input), |key| {
            Some(format!("service:{key}"))
        }),
        ("Landkreise", &["ARS", "Landkreis / kreisfreie Stadt"], kreis_rows(input), |_| None),
        (
            "Dienste x Landkreise",
            &["Dienst", "ARS", "Landkreis / kreisfreie Stadt"],
            cross_rows(input),
            |_| None,
        ),
    ];
    let tables = sheets
        .into_iter()
        .map(|(name, columns, rows, scope)| {
            let phases = phase_columns(input, rows.iter().map(|(_, f, _)| f));
            let targets =
                |f: &Figures| scope(&f.key).and_then(|s| input.now.catalog.targets.get(&s).cloned());
            let targets: Option<&TargetOf<'_>> = if scope("").is_some() { Some(&targets) } else { None };
            figures_table(name, columns, &preamble, &phases, rows, since.is_some(), targets)
        })
        .collect();
    Report { tables }
}

/// A table's rows: the leading cells, the figures, and (with a comparison date) how many were
/// in operation then.
type Rows = Vec<(Vec<Cell>, Figures, Option<u64>)>;

fn by_service(model: &ReadModel, t: Timestamp, program: Option<Program>) -> Vec<Figures> {
    figures(model, GroupBy::Service, program, None, t)
}

/// How many of group `key` were in operation then.
fn live_then(key: &str, then: &[Figures]) -> u64 {
    then.iter().find(|f| f.key == key).map_or(0, |f| f.in_operation)
}

/// Programmes (and all): the sums of their services.
fn programme_rows(input: &ReportInput<'_>) -> Rows {
    let (m, at, since) = (input.now, input.now_at, input.since);
    let mut rows = Vec::new();
    let formularserver = program_label(Program::Formularserver, input.profile);
    for (label, program, scope) in [
        ("EfA-Nachnutzung", Some(Program::Efa), "programme:efa"),
        (formularserver.as_str(), Some(Program::Formularserver), "programme:formularserver"),
        ("Gesamt", None, "gesamt"),
    ] {
        // Keyed by its target scope.
        let mut sum = Figures::empty(scope);
        for f in by_service(m, at, program) {
            sum.add(&f);
        }
        let mut then = Figures::empty(label);
        if let Some((ms, t)) = since {
            for f in by_service(ms, t, program) {
                then.add(&f);
            }
        }
        rows.push((vec![Cell::from(label)], sum, since.map(|_| then.in_operation)));
    }
    rows
}

fn service_rows(input: &ReportInput<'_>) -> Rows {
    let (m, at, since) = (input.now, input.now_at, input.since);
    let services_then = since.map(|(ms, t)| by_service(ms, t, None)).unwrap_or_default();
    by_service(m, at, None)
        .into_iter()
        .map(|f| {
            let (name, program) =
                m.catalog.services.get(&f.key).map_or((String::new(), String::new()), |s| {
                    (s.service.name.clone(), program_label(s.service.program, input.profile))
                });
            let then = since.map(|_| live_then(&f.key, &services_then));
            (vec![Cell::from(f.key.clone()), Cell::from(name), Cell::from(program)], f, then)
        })
        .collect()
}

fn name_of(m: &ReadModel, ars: &str) -> String {
    m.catalog.authorities.get(ars).map_or(String::new(), |a| a.authority.name.clone())
}

fn kreis_rows(input: &ReportInput<'_>) -> Rows {
    let (m, at, since) = (input.now, input.now_at, input.since);
    let landkreise_then =
        since.map(|(ms, t)| figures(ms, GroupBy::Landkreis, None, None, t)).unwrap_or_default();
    figures(m, GroupBy::Landkreis, None, None, at)
        .into_iter()
        .map(|f| {
            let then = since.map(|_| live_then(&f.key, &landkreise_then));
            (vec![Cell::from(f.key.clone()), Cell::from(name_of(m, &f.key))], f, then)
        })
        .collect()
}

fn cross_rows(input: &ReportInput<'_>) -> Rows {
    let (m, at, since) = (input.now, input.now_at, input.since);
    let mut rows = Vec::new();
    for key in m.catalog.services.keys() {
        let then =
            since.map(|(ms, t)| figures(ms, GroupBy::Landkreis, None, Some(key), t)).unwrap_or_default();
        for f in figures(m, GroupBy::Landkreis, None, Some(key), at) {
            let live = since.map(|_| live_then(&f.key, &then));
            rows.push((
                vec![Cell::from(key.clone()), Cell::from(f.key.clone()), Cell::from(name_of(m, &f.key))],
                f,
                live,
            ));
        }
    }
    rows
}

/// A blockage category in German (the stored name; `""`: none given).
fn category_title(stored: &str) -> &str {
    match stored {
        "fachverfahren" => "Fachverfahren/Hersteller",
        "vertrag_recht" => "Vertrag und Recht",
        "technik" => "Technik und Anbindung",
        "personal" => "Personal",
        "finanzierung" => "Finanzierung",
        "land_bund" => "Land/Bund",
        "sonstiges" => "Sonstiges",
        "" => "ohne Angabe",
        other => other,
    }
}

fn program_label(p: Program, profile: &catalog::profile::StoredProfile) -> String {
    match p {
        Program::Efa => "EfA-Nachnutzung".to_owned(),
        Program::Formularserver => format!("Formularserver ({})", profile.association_short_name()),
    }
}

/// The phases that occur in `rows`, in the definitions' order (unknown ones after, by id).
fn phase_columns<'a>(
    input: &ReportInput<'_>,
    rows: impl Iterator<Item = &'a Figures>,
) -> Vec<(String, String)> {
    let present: BTreeSet<String> =
        rows.flat_map(|f| f.by_phase_status.keys().map(|(p, _)| p.clone())).collect();
    let mut out: Vec<(String, String)> =
        input.phases.iter().filter(|(id, _)| present.contains(id)).cloned().collect();
    for id in &present {
        if !out.iter().any(|(known, _)| known == id) {
            out.push((id.clone(), id.clone()));
        }
    }
    out
}

/// A table of figures: the leading columns, rollouts, who is responsible and what they
/// answered, one column per phase, in operation (then and the change when comparing),
/// coverage, overdue, blocked, share of steps done; with `targets` the target and the gap.
// Long: one column after the other, as the sheet shows them.
fn figures_table(
    name: &str,
    leading: &[&str],
    preamble: &[(String, String)],
    phases: &[(String, String)],
    rows: Vec<(Vec<Cell>, Figures, Option<u64>)>,
    compare: bool,
    targets: Option<&TargetOf<'_>>,
) -> Table {
    let mut header: Vec<String> = leading.iter().map(|s| (*s).to_owned()).collect();
    header.push(ROLLOUTS_HEADER.into());
    header.extend(REUSE_HEADERS.iter().map(|h| (*h).to_owned()));
    header.extend(phases.iter().map(|(_, title)| format!("Phase: {title}")));
    header.push("In Betrieb".into());
    if compare {
        header.push("In Betrieb (Vergleichsdatum)".into());
        header.push("Veränderung In Betrieb".into());
    }
    header.extend(COVERAGE_HEADERS.iter().map(|h| (*h).to_owned()));
    if targets.is_some() {
        header.extend(["Ziel".to_owned(), "Ziel bis".to_owned(), "Lücke zum Ziel".to_owned()]);
    }
    header.extend(["Überfällig".to_owned(), "Blockiert".to_owned()]);
    // One column per blockage category that occurs in these rows.
    let categories: BTreeSet<String> =
        rows.iter().flat_map(|(_, f, _)| f.blocked_by_category.keys().cloned()).collect();
    header.extend(categories.iter().map(|c| format!("Blockiert: {}", category_title(c))));
    header.push("Erledigte Schritte (%)".to_owned());
    let rows = rows
        .into_iter()
        .map(|(lead, f, then)| {
            let mut row = lead;
            row.push(f.rollouts.into());
            let r = &f.reuse;
            row.extend(
                [
                    r.responsible,
                    r.offered,
                    r.interested,
                    r.declined,
                    r.deferred,
                    r.own_solution,
                    r.no_answer,
                    r.onboarding,
                ]
                .map(Cell::from),
            );
            let per_phase = f.by_phase();
            row.extend(
                phases.iter().map(|(id, _)| Cell::from(per_phase.get(id.as_str()).copied().unwrap_or(0))),
            );
            row.push(f.in_operation.into());
            if compare {
                let then = then.unwrap_or(0);
                row.push(then.into());
                row.push(Cell::Number(f.in_operation as f64 - then as f64));
            }
            row.push(Cell::Number(r.coverage()));
            row.push(Cell::Number(r.population_coverage()));
            row.push(Cell::from(if r.flaechendeckend() { "ja" } else { "nein" }));
            row.push(r.services_flaechendeckend.into());
            row.push(r.end_to_end.into());
            row.push(r.applications.into());
            if let Some(target_of) = targets {
                match target_of(&f) {
                    Some(t) => {
                        row.push(Cell::from(target_text(&t)));
                        row.push(Cell::from(t.by.clone()));
                        row.push(Cell::Number(crate::coverage::against(&t, r)));
                    }
                    None => row.extend([Cell::Empty, Cell::Empty, Cell::Empty]),
                }
            }
            row.push(f.overdue.into());
            row.push(f.blocked.into());
            row.extend(
                categories.iter().map(|c| Cell::from(f.blocked_by_category.get(c).copied().unwrap_or(0))),
            );
            row.push(Cell::Number((f.percent_done() * 10.0).round() / 10.0));
            row
        })
        .collect();
    Table { name: name.to_owned(), preamble: preamble.to_vec(), header, rows, cut: None }
}

/// The target of a row's figures, if its scope has one.
type TargetOf<'a> = dyn Fn(&Figures) -> Option<catalog::Target> + 'a;

/// The columns of who is responsible and what they answered (`crate::coverage::Reuse`).
pub const REUSE_HEADERS: [&str; 8] = [
    "Zuständig",
    "Angeboten",
    "Interesse",
    "Abgelehnt",
    "Zurückgestellt",
    "Eigene Lösung",
    "Keine Antwort",
    "In Anbindung",
];

/// The columns of coverage and use.
pub const COVERAGE_HEADERS: [&str; 6] = [
    "Abdeckung (%)",
    "Abdeckung Einwohner (%)",
    "Flächendeckend",
    "Dienste flächendeckend",
    "Ende-zu-Ende",
    "Anträge online",
];

/// A target in words: "15 in Betrieb", "80 % Abdeckung".
pub fn target_text(t: &catalog::Target) -> String {
    match t.measure {
        catalog::Measure::InOperation(n) => format!("{n} in Betrieb"),
        catalog::Measure::Coverage(p) => format!("{p} % Abdeckung"),
    }
}
