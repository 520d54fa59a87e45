//! The programme report for the ministry, and the tables every list downloads as.
//!
//! Every figure of the report is a figure of `progress(asOf, …)`: [`figures`] is the one
//! computation behind both (per service, per Landkreis, per Landkreis of one service; a
//! programme's line is the sum of its services'). [`Table`] is a sheet: title lines (the as-of
//! date, the data source), German column headers, rows of text and numbers; [`xlsx`] writes
//! tables with rust_xlsxwriter in constant-memory mode (rows go to a temporary file as they are
//! written), [`csv`] and [`html`] (a printable A4 page) the same tables.

use std::collections::{BTreeMap, BTreeSet};

use catalog::Program;
use projections::{GroupBy, ReadModel};
use store::Timestamp;

/// The header of the first figure column of the report's tables.
const ROLLOUTS_HEADER: &str = "Verwaltungen (Rollouts)";

/// The counts of one group, as `progress` answers them.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Figures {
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
        }
    }
}

/// Progress of the model grouped `by`, of one programme's and one service's rollouts when
/// given, with overdue counted at `now`; ordered by key.
pub(crate) fn figures(
    m: &ReadModel,
    by: GroupBy,
    program: Option<Program>,
    service: Option<&str>,
    now: Timestamp,
) -> Vec<Figures> {
    let keep = |key: &str| {
        program.is_none_or(|p| m.catalog.program_of(key) == p) && service.is_none_or(|s| s == key)
    };
    let counts =
        if program.is_none() && service.is_none() { m.progress(by) } else { m.progress_where(by, keep) };
    let overdue = m.overdue_by_group(by, now, keep);
    let mut blocked = m.blocked_by_group(by, keep);
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
                key,
            }
        })
        .collect()
}

/// The time `overdue` is counted at for a model cut at `cut`: the cut's time, the time of the
/// last event folded (a cut at a position), or `now` (no cut).
pub(crate) fn counted_at(cut: projections::Cut, m: &ReadModel, now: Timestamp) -> Timestamp {
    match cut {
        projections::Cut::Everything => now,
        projections::Cut::Time(t) => t,
        projections::Cut::Position(_) => m.last_recorded_at().unwrap_or(now),
    }
}

/// A cell of a table.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Cell {
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
pub(crate) struct Table {
    pub name: String,
    pub preamble: Vec<(String, String)>,
    pub header: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
    pub cut: Option<String>,
}

/// The programme report as of `as_of` (compared with `since`): its sheets.
pub(crate) struct Report {
    pub tables: Vec<Table>,
}

/// What the report is made of: the models at both dates, and how to say where it came from.
pub(crate) struct ReportInput<'a> {
    pub now: &'a ReadModel,
    pub now_at: Timestamp,
    pub since: Option<(&'a ReadModel, Timestamp)>,
    /// e.g. "efa-rollout, Ereignisprotokoll bis Position 120 (Hash 3fa…)".
    pub source: String,
    /// Phase id → German title, in the order of the definitions.
    pub phases: Vec<(String, String)>,
}

fn german_date(t: Timestamp) -> String {
    let s = t.to_string();
    match (s.get(0..4), s.get(5..7), s.get(8..10), s.get(11..16)) {
        (Some(y), Some(m), Some(d), Some(hm)) => format!("{d}.{m}.{y}, {hm} Uhr (UTC)"),
        _ => s,
    }
}

/// The programme report: programmes, services, Landkreise, services × Landkreise.
pub(crate) fn programme_report(input: &ReportInput<'_>) -> Report {
    let m = input.now;
    let at = input.now_at;
    let since = input.since;
    let mut preamble = vec![
        ("Stand".to_owned(), german_date(at)),
        (
            "Vergleich mit".to_owned(),
            since.map_or_else(|| "– (kein Vergleichsdatum)".to_owned(), |(_, t)| german_date(t)),
        ),
        ("Datenquelle".to_owned(), input.source.clone()),
    ];
    preamble.insert(0, ("Bericht".to_owned(), "Programmbericht OZG-Rollout Brandenburg".to_owned()));
    let by_service = |model: &ReadModel, t: Timestamp, program: Option<Program>| {
        figures(model, GroupBy::Service, program, None, t)
    };
    let live_then =
        |key: &str, then: &[Figures]| then.iter().find(|f| f.key == key).map_or(0, |f| f.in_operation);
    let services_then = since.map(|(ms, t)| by_service(ms, t, None)).unwrap_or_default();

    // Programmes (and all): the sums of their services.
    let mut programme_rows = Vec::new();
    for (label, program) in [
        ("EfA-Nachnutzung", Some(Program::Efa)),
        ("Formularserver (ZV DIKOM)", Some(Program::Formularserver)),
        ("Gesamt", None),
    ] {
        let mut sum = Figures::empty(label);
        for f in by_service(m, at, program) {
            sum.add(&f);
        }
        let mut then = Figures::empty(label);
        if let Some((ms, t)) = since {
            for f in by_service(ms, t, program) {
                then.add(&f);
            }
        }
        programme_rows.push((vec![Cell::from(label)], sum, since.map(|_| then.in_operation)));
    }
    let phases = phase_columns(input, programme_rows.iter().map(|(_, f, _)| f));
    let mut tables =
        vec![figures_table("Programme", &["Programm"], &preamble, &phases, programme_rows, since.is_some())];

    let service_rows: Vec<(Vec<Cell>, Figures, Option<u64>)> = by_service(m, at, None)
        .into_iter()
        .map(|f| {
            let (name, program) =
                m.catalog.services.get(&f.key).map_or((String::new(), ""), |s| {
                    (s.service.name.clone(), program_label(s.service.program))
                });
            let then = since.map(|_| live_then(&f.key, &services_then));
            (vec![Cell::from(f.key.clone()), Cell::from(name), Cell::from(program)], f, then)
        })
        .collect();
    let phases = phase_columns(input, service_rows.iter().map(|(_, f, _)| f));
    tables.push(figures_table(
        "Dienste",
        &["Dienst", "Name", "Programm"],
        &preamble,
        &phases,
        service_rows,
        since.is_some(),
    ));

    let landkreise_then =
        since.map(|(ms, t)| figures(ms, GroupBy::Landkreis, None, None, t)).unwrap_or_default();
    let name_of =
        |ars: &str| m.catalog.authorities.get(ars).map_or(String::new(), |a| a.authority.name.clone());
    let kreis_rows: Vec<(Vec<Cell>, Figures, Option<u64>)> = figures(m, GroupBy::Landkreis, None, None, at)
        .into_iter()
        .map(|f| {
            let then = since.map(|_| live_then(&f.key, &landkreise_then));
            (vec![Cell::from(f.key.clone()), Cell::from(name_of(&f.key))], f, then)
        })
        .collect();
    let phases = phase_columns(input, kreis_rows.iter().map(|(_, f, _)| f));
    tables.push(figures_table(
        "Landkreise",
        &["ARS", "Landkreis / kreisfreie Stadt"],
        &preamble,
        &phases,
        kreis_rows,
        since.is_some(),
    ));

    let mut cross_rows = Vec::new();
    for key in m.catalog.services.keys() {
        let then =
            since.map(|(ms, t)| figures(ms, GroupBy::Landkreis, None, Some(key), t)).unwrap_or_default();
        for f in figures(m, GroupBy::Landkreis, None, Some(key), at) {
            let live = since.map(|_| live_then(&f.key, &then));
            cross_rows.push((
                vec![Cell::from(key.clone()), Cell::from(f.key.clone()), Cell::from(name_of(&f.key))],
                f,
                live,
            ));
        }
    }
    let phases = phase_columns(input, cross_rows.iter().map(|(_, f, _)| f));
    tables.push(figures_table(
        "Dienste x Landkreise",
        &["Dienst", "ARS", "Landkreis / kreisfreie Stadt"],
        &preamble,
        &phases,
        cross_rows,
        since.is_some(),
    ));
    Report { tables }
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

fn program_label(p: Program) -> &'static str {
    match p {
        Program::Efa => "EfA-Nachnutzung",
        Program::Formularserver => "Formularserver (ZV DIKOM)",
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

/// A table of figures: the leading columns, rollouts, one column per phase, in operation (then
/// and the change when comparing), overdue, blocked, share of steps done.
fn figures_table(
    name: &str,
    leading: &[&str],
    preamble: &[(String, String)],
    phases: &[(String, String)],
    rows: Vec<(Vec<Cell>, Figures, Option<u64>)>,
    compare: bool,
) -> Table {
    let mut header: Vec<String> = leading.iter().map(|s| (*s).to_owned()).collect();
    header.push(ROLLOUTS_HEADER.into());
    header.extend(phases.iter().map(|(_, title)| format!("Phase: {title}")));
    header.push("In Betrieb".into());
    if compare {
        header.push("In Betrieb (Vergleichsdatum)".into());
        header.push("Veränderung In Betrieb".into());
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

/// The tables as an XLSX workbook: one sheet per table, the preamble above a bold header row
/// that stays in view (frozen), figures as numbers. Rows are written in constant-memory mode.
pub(crate) fn xlsx(tables: &[Table]) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    let mut book = XlsxWriter::new();
    for t in tables {
        book.sheet(&t.name, &t.preamble, &t.header)?;
        book.rows(&t.rows)?;
        if let Some(cut) = &t.cut {
            book.note(cut)?;
        }
    }
    book.finish()
}

/// Characters of one spreadsheet cell at most (Excel's limit).
pub(crate) const CELL_CHARS_MAX: usize = 32_767;
/// What a cut cell ends with.
const CUT_MARK: &str = " … [gekürzt]";

/// A text as a spreadsheet cell holds it, so no content can break a download: characters no
/// cell may hold (control, direction, invisible ones, from before they were refused) become
/// `�`, and a text over [`CELL_CHARS_MAX`] is cut with a visible mark.
pub(crate) fn cell_text(s: &str) -> std::borrow::Cow<'_, str> {
    let clean = vocab::text::forbidden_char(s).is_none() && !s.contains('\r');
    if clean && s.chars().count() <= CELL_CHARS_MAX {
        return std::borrow::Cow::Borrowed(s);
    }
    let keep = CELL_CHARS_MAX - CUT_MARK.chars().count();
    let long = s.chars().count() > CELL_CHARS_MAX;
    let mut out = String::with_capacity(s.len().min(CELL_CHARS_MAX * 4));
    for (count, c) in s.chars().enumerate() {
        if long && count == keep {
            out.push_str(CUT_MARK);
            return std::borrow::Cow::Owned(out);
        }
        let c = if vocab::text::forbidden_char(c.encode_utf8(&mut [0; 4])).is_some() || c == '\r' {
            '\u{fffd}'
        } else {
            c
        };
        out.push(c);
    }
    std::borrow::Cow::Owned(out)
}

/// A text for a CSV cell that a spreadsheet opens: [`cell_text`], and a text that a spreadsheet
/// would take as a formula (`=`, `+`, `-`, `@`, tab or carriage return first) gets a `'` before
/// it (OWASP's advice against CSV injection).
pub(crate) fn csv_text(s: &str) -> std::borrow::Cow<'_, str> {
    let text = cell_text(s);
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        std::borrow::Cow::Owned(format!("'{text}"))
    } else {
        text
    }
}

/// An XLSX workbook written sheet by sheet and row by row: each sheet in constant-memory mode
/// (its rows go to a temporary file as they are written, so a long list is never held whole).
pub(crate) struct XlsxWriter {
    workbook: rust_xlsxwriter::Workbook,
    bold: rust_xlsxwriter::Format,
    /// The current sheet's next row.
    row: u32,
}

impl XlsxWriter {
    pub fn new() -> XlsxWriter {
        XlsxWriter {
            workbook: rust_xlsxwriter::Workbook::new(),
            bold: rust_xlsxwriter::Format::new().set_bold(),
            row: 0,
        }
    }

    fn current(&mut self) -> Result<&mut rust_xlsxwriter::Worksheet, rust_xlsxwriter::XlsxError> {
        let last = self.workbook.worksheets_mut().len().saturating_sub(1);
        self.workbook.worksheet_from_index(last)
    }

    /// Starts a sheet: the preamble lines, an empty line, the bold header row (frozen).
    pub fn sheet(
        &mut self,
        name: &str,
        preamble: &[(String, String)],
        header: &[String],
    ) -> Result<(), rust_xlsxwriter::XlsxError> {
        let bold = self.bold.clone();
        let sheet = self.workbook.add_worksheet_with_constant_memory()?;
        sheet.set_name(name)?;
        let mut row = 0u32;
        for (label, value) in preamble {
            sheet.write_string_with_format(row, 0, &*cell_text(label), &bold)?;
            sheet.write_string(row, 1, &*cell_text(value))?;
            row += 1;
        }
        row += 1;
        for (c, h) in header.iter().enumerate() {
            sheet.set_column_width(c as u16, h.chars().count().clamp(10, 40) as f64)?;
            sheet.write_string_with_format(row, c as u16, &*cell_text(h), &bold)?;
        }
        sheet.set_freeze_panes(row + 1, 0)?;
        self.row = row + 1;
        Ok(())
    }

    /// Appends rows to the current sheet.
    pub fn rows(&mut self, rows: &[Vec<Cell>]) -> Result<(), rust_xlsxwriter::XlsxError> {
        let mut row = self.row;
        let sheet = self.current()?;
        for cells in rows {
            for (c, cell) in cells.iter().enumerate() {
                match cell {
                    Cell::Text(s) => sheet.write_string(row, c as u16, &*cell_text(s))?,
                    Cell::Number(n) => sheet.write_number(row, c as u16, *n)?,
                    Cell::Empty => sheet,
                };
            }
            row += 1;
        }
        self.row = row;
        Ok(())
    }

    /// A bold note after the rows (a download that was cut says so here).
    pub fn note(&mut self, text: &str) -> Result<(), rust_xlsxwriter::XlsxError> {
        let (row, bold) = (self.row + 1, self.bold.clone());
        let sheet = self.current()?;
        sheet.write_string_with_format(row, 0, "Hinweis", &bold)?;
        sheet.write_string(row, 1, &*cell_text(text))?;
        self.row = row + 1;
        Ok(())
    }

    pub fn finish(mut self) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
        self.workbook.save_to_buffer()
    }
}

/// The tables as one CSV (`;`, UTF-8 with a byte order mark, as German spreadsheets read it):
/// the preamble as `# ` lines, then one header naming every column of every table, a first
/// column `Sicht` naming the table, and the rows (numbers with a decimal point).
pub(crate) fn csv(tables: &[Table]) -> String {
    let mut out = String::from("\u{feff}");
    if let Some(first) = tables.first() {
        for (label, value) in &first.preamble {
            out.push_str(&format!("# {label}: {value}\n"));
        }
    }
    for t in tables {
        if let Some(cut) = &t.cut {
            out.push_str(&format!("# {}: {cut}\n", t.name));
        }
    }
    // The naming columns of every table first (programme, service, ARS, name), then the figures.
    let mut columns: Vec<String> = Vec::new();
    let mut figures: Vec<String> = Vec::new();
    for t in tables {
        let first_figure = t.header.iter().position(|h| h == ROLLOUTS_HEADER).unwrap_or(t.header.len());
        for (i, h) in t.header.iter().enumerate() {
            let list = if i < first_figure { &mut columns } else { &mut figures };
            if !list.contains(h) {
                list.push(h.clone());
            }
        }
    }
    columns.extend(figures);
    let field = |s: &str| {
        let s = csv_text(s);
        if s.contains([';', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.into_owned()
        }
    };
    out.push_str("Sicht");
    for c in &columns {
        out.push(';');
        out.push_str(&field(c));
    }
    out.push('\n');
    for t in tables {
        for row in &t.rows {
            out.push_str(&field(&t.name));
            for c in &columns {
                out.push(';');
                if let Some(i) = t.header.iter().position(|h| h == c) {
                    match row.get(i) {
                        Some(Cell::Text(s)) => out.push_str(&field(s)),
                        Some(Cell::Number(n)) => out.push_str(&n.to_string()),
                        _ => {}
                    }
                }
            }
            out.push('\n');
        }
    }
    out
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The tables as a printable German A4 page (landscape), one section per table.
pub(crate) fn html(tables: &[Table]) -> String {
    let mut out = String::from(
        "<!doctype html>\n<html lang=\"de\"><head><meta charset=\"utf-8\"><title>Programmbericht OZG-Rollout Brandenburg</title>\n<style>\n\
         @page { size: A4 landscape; margin: 12mm; }\n\
         body { font: 9pt/1.35 system-ui, sans-serif; color: #111; }\n\
         h1 { font-size: 14pt; margin: 0 0 4pt; } h2 { font-size: 11pt; margin: 14pt 0 4pt; break-after: avoid; }\n\
         dl { display: grid; grid-template-columns: max-content 1fr; gap: 1pt 8pt; margin: 0 0 6pt; } dt { font-weight: 600; }\n\
         table { border-collapse: collapse; width: 100%; } th, td { border: 0.5pt solid #999; padding: 1.5pt 3pt; }\n\
         th { background: #e8eef5; text-align: left; } td.n { text-align: right; font-variant-numeric: tabular-nums; }\n\
         thead { display: table-header-group; } tr { break-inside: avoid; } section + section { break-before: page; }\n\
         </style></head><body>\n<h1>Programmbericht OZG-Rollout Brandenburg</h1>\n",
    );
    if let Some(first) = tables.first() {
        out.push_str("<dl>");
        for (label, value) in first.preamble.iter().skip(1) {
            out.push_str(&format!("<dt>{}</dt><dd>{}</dd>", escape(label), escape(value)));
        }
        out.push_str("</dl>\n");
    }
    for t in tables {
        out.push_str(&format!("<section><h2>{}</h2>\n", escape(&t.name)));
        if let Some(cut) = &t.cut {
            out.push_str(&format!("<p><strong>Hinweis:</strong> {}</p>", escape(cut)));
        }
        out.push_str("<table><thead><tr>");
        for h in &t.header {
            out.push_str(&format!("<th scope=\"col\">{}</th>", escape(h)));
        }
        out.push_str("</tr></thead><tbody>\n");
        for row in &t.rows {
            out.push_str("<tr>");
            for cell in row {
                match cell {
                    Cell::Text(s) => out.push_str(&format!("<td>{}</td>", escape(s))),
                    Cell::Number(n) => out.push_str(&format!("<td class=\"n\">{}</td>", german_number(*n))),
                    Cell::Empty => out.push_str("<td></td>"),
                }
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody></table></section>\n");
    }
    out.push_str("</body></html>\n");
    out
}

/// A number in German notation (decimal comma).
fn german_number(n: f64) -> String {
    if n.fract() == 0.0 {
        format!("{n:.0}")
    } else {
        format!("{n:.1}").replace('.', ",")
    }
}

#[cfg(test)]
mod tests {
    use super::{cell_text, csv_text, CELL_CHARS_MAX};

    #[test]
    fn no_content_breaks_a_cell() {
        assert_eq!(cell_text("Bürgerbüro\nZeile 2"), "Bürgerbüro\nZeile 2");
        let long = "ä".repeat(40_000);
        let cut = cell_text(&long);
        assert_eq!(cut.chars().count(), CELL_CHARS_MAX);
        assert!(cut.ends_with("… [gekürzt]"));
        let exact = "x".repeat(CELL_CHARS_MAX);
        assert_eq!(cell_text(&exact), exact);
        let hidden = "\u{1}".repeat(10_000);
        let shown = cell_text(&hidden);
        assert_eq!(shown.chars().count(), 10_000);
        assert!(shown.chars().all(|c| c == '\u{fffd}'));
    }

    #[test]
    fn a_csv_cell_is_never_a_formula() {
        for formula in ["=HYPERLINK(\"http://x\")", "+1", "-2+3", "@SUM(A1)", "\tx"] {
            assert!(csv_text(formula).starts_with('\''), "{formula}");
        }
        assert_eq!(csv_text("Potsdam"), "Potsdam");
    }
}
