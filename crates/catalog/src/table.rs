//! Reading one CSV data file: its header checked (required columns, known others), its rows
//! kept with their line numbers, and every problem a [`RowError`] naming file, line and column.

use std::fmt;

use crate::limits::{FILE_BYTES_MAX, PROBLEMS_MAX};

/// A problem in a data file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowError {
    pub file: String,
    /// 1-based line; 0 when the problem is the whole file (too large).
    pub line: u64,
    /// 1-based column and its header.
    pub column: Option<(usize, String)>,
    pub message: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.column {
            Some((n, name)) => write!(f, "{}:{}:{} ({name}): {}", self.file, self.line, n, self.message),
            // Line 0: the problem is the whole file.
            None if self.line == 0 => write!(f, "{}: {}", self.file, self.message),
            None => write!(f, "{}:{}: {}", self.file, self.line, self.message),
        }
    }
}

pub(crate) struct Table<'a> {
    pub(crate) file: &'a str,
    pub(crate) headers: Vec<String>,
    pub(crate) rows: Vec<(u64, csv::StringRecord)>,
    pub(crate) errors: &'a mut Vec<RowError>,
}

impl Table<'_> {
    pub(crate) fn col(&self, name: &str) -> Option<usize> {
        self.headers.iter().position(|h| h == name)
    }

    pub(crate) fn error(&mut self, line: u64, column: Option<usize>, message: impl Into<String>) {
        let column = column.map(|c| (c + 1, self.headers.get(c).cloned().unwrap_or_default()));
        self.errors.push(RowError { file: self.file.into(), line, column, message: message.into() });
    }
}

/// What a column other than a required one is.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Column {
    /// Read (and checked) by the code when the file has it.
    Optional,
    /// A source: empty, or an `http(s)://` address.
    Url,
    /// A note for people (free text), shown nowhere and checked for nothing else.
    Note,
}

pub(crate) fn read<'a>(
    file: &'a str,
    bytes: &[u8],
    required: &[&str],
    others: &[(&str, Column)],
    errors: &'a mut Vec<RowError>,
) -> Option<Table<'a>> {
    if bytes.len() > FILE_BYTES_MAX {
        errors.push(RowError {
            file: file.into(),
            line: 0,
            column: None,
            message: format!("the file is larger than {FILE_BYTES_MAX} bytes"),
        });
        return None;
    }
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(bytes);
    let headers: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(|s| s.trim_start_matches('\u{feff}').to_owned()).collect(),
        Err(e) => {
            errors.push(RowError {
                file: file.into(),
                line: 1,
                column: None,
                message: format!("unreadable header: {e}"),
            });
            return None;
        }
    };
    if !header_ok(file, &headers, required, others, errors) {
        return None;
    }
    let urls: Vec<usize> = others
        .iter()
        .filter(|(_, kind)| *kind == Column::Url)
        .filter_map(|(name, _)| headers.iter().position(|h| h == name))
        .collect();
    let mut rows = Vec::new();
    for record in reader.records() {
        match record {
            Ok(r) => {
                let line = r.position().map_or(0, |p| p.line());
                if r.len() != headers.len() {
                    errors.push(RowError {
                        file: file.into(),
                        line,
                        column: None,
                        message: format!("{} fields, the header has {}", r.len(), headers.len()),
                    });
                    continue;
                }
                check_sources(file, &headers, &urls, line, &r, errors);
                rows.push((line, r));
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                let message = match e.kind() {
                    csv::ErrorKind::Utf8 { .. } => "not UTF-8 text".to_string(),
                    _ => e.to_string(),
                };
                errors.push(RowError { file: file.into(), line, column: None, message });
                if errors.len() > PROBLEMS_MAX {
                    break;
                }
            }
        }
    }
    Some(Table { file, headers, rows, errors })
}

/// Whether the header has every required column; every column neither required nor among
/// `others` is refused too (a column nobody reads is a column whose errors nobody sees).
fn header_ok(
    file: &str,
    headers: &[String],
    required: &[&str],
    others: &[(&str, Column)],
    errors: &mut Vec<RowError>,
) -> bool {
    let missing: Vec<&str> = required.iter().copied().filter(|r| !headers.iter().any(|h| h == r)).collect();
    if !missing.is_empty() {
        errors.push(RowError {
            file: file.into(),
            line: 1,
            column: None,
            message: format!("missing columns: {}", missing.join(", ")),
        });
        return false;
    }
    // Every column is read and checked, or refused: a column nobody reads is a column whose
    // errors nobody sees.
    for (i, h) in headers.iter().enumerate() {
        if !required.contains(&h.as_str()) && !others.iter().any(|(name, _)| name == h) {
            let known: Vec<&str> = required.iter().copied().chain(others.iter().map(|(n, _)| *n)).collect();
            errors.push(RowError {
                file: file.into(),
                line: 1,
                column: Some((i + 1, h.clone())),
                message: format!(
                    "unknown column `{h}`: it is neither read nor checked; the columns are {}",
                    known.join(", ")
                ),
            });
        }
    }
    true
}

/// Each source column of a row: addresses separated by `;`, each may be followed by a note.
fn check_sources(
    file: &str,
    headers: &[String],
    urls: &[usize],
    line: u64,
    r: &csv::StringRecord,
    errors: &mut Vec<RowError>,
) {
    for &c in urls {
        let v = r.get(c).unwrap_or("").trim();
        if let Some(bad) = v.split(';').map(str::trim).find(|part| !is_source(part)).filter(|_| !v.is_empty())
        {
            errors.push(RowError {
                file: file.into(),
                line,
                column: Some((c + 1, headers[c].clone())),
                message: format!("`{bad}` is not an http(s) address (sources: addresses separated by `;`, each may be followed by a note in parentheses)"),
            });
        }
    }
}

/// A source: an http(s) address, optionally followed by a note in parentheses.
pub(crate) fn is_source(part: &str) -> bool {
    let (address, note) = part.split_once(char::is_whitespace).unwrap_or((part, ""));
    let note = note.trim();
    (address.starts_with("https://") || address.starts_with("http://"))
        && address.len() > "https://".len()
        && (note.is_empty() || (note.starts_with('(') && note.ends_with(')')))
}

/// A field of a row, by column name (the column exists: `read` checked the header).
pub(crate) fn field<'r>(t: &Table, row: &'r csv::StringRecord, name: &str) -> (&'r str, Option<usize>) {
    let c = t.col(name);
    (c.and_then(|c| row.get(c)).unwrap_or("").trim(), c)
}

pub(crate) fn number(t: &mut Table, line: u64, row: &csv::StringRecord, name: &str) -> u64 {
    let (v, c) = field(t, row, name);
    match v.parse::<u64>() {
        Ok(n) => n,
        Err(_) => {
            t.error(line, c, format!("`{v}` is not a whole number"));
            0
        }
    }
}
