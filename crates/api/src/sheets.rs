//! Writing the report's and the lists' tables ([`app::report::Table`]): [`xlsx`] with
//! rust_xlsxwriter in constant-memory mode (rows go to a temporary file as they are written),
//! [`csv`] and [`html`] (a printable A4 page).

use app::report::{Cell, Table, ROLLOUTS_HEADER};

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
pub(crate) fn html(title: &str, tables: &[Table]) -> String {
    let mut out = String::from(
        "<!doctype html>\n<html lang=\"de\"><head><meta charset=\"utf-8\"><title>{title}</title>\n<style>\n\
         @page { size: A4 landscape; margin: 12mm; }\n\
         body { font: 9pt/1.35 system-ui, sans-serif; color: #111; }\n\
         h1 { font-size: 14pt; margin: 0 0 4pt; } h2 { font-size: 11pt; margin: 14pt 0 4pt; break-after: avoid; }\n\
         dl { display: grid; grid-template-columns: max-content 1fr; gap: 1pt 8pt; margin: 0 0 6pt; } dt { font-weight: 600; }\n\
         table { border-collapse: collapse; width: 100%; } th, td { border: 0.5pt solid #999; padding: 1.5pt 3pt; }\n\
         th { background: #e8eef5; text-align: left; } td.n { text-align: right; font-variant-numeric: tabular-nums; }\n\
         thead { display: table-header-group; } tr { break-inside: avoid; } section + section { break-before: page; }\n\
         </style></head><body>\n<h1>{title}</h1>\n",
    )
    .replace("{title}", &escape(title));
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
