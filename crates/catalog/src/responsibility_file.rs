//! Reading the exceptions to the services' level rule: the statuses of the Große and Mittlere
//! kreisangehörige Städte and the responsibility file's rows (`data/zustaendigkeiten.csv`),
//! each with its source. The rule that combines them is `responsibility.rs`.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::member_ars;
use crate::model::{Authority, AuthorityKind, Service};
use crate::reuse::{check_date, Exception, Responsibility, TownStatus};
use crate::table::{field, is_source, read, Column, RowError, Table};

/// The statuses (into the administrations) and the responsibility file's exceptions (file
/// name and bytes each; empty: none), checked against the services when `services_read`;
/// problems into `errors`.
pub(crate) fn read_exceptions(
    statuses: (&str, &[u8]),
    responsibilities: (&str, &[u8]),
    services_read: bool,
    authorities: &mut BTreeMap<String, Authority>,
    services: &[Service],
    errors: &mut Vec<RowError>,
) -> Vec<Responsibility> {
    if !statuses.1.is_empty() {
        read_statuses(statuses.0, statuses.1, authorities, errors);
    }
    // With the services' files unreadable the exceptions cannot be checked.
    if responsibilities.1.is_empty() || !services_read {
        return Vec::new();
    }
    read_responsibilities(responsibilities.0, responsibilities.1, authorities, services, errors)
}

/// Reads the statuses file (`ars,name,status,quelle`) into the administrations' `status`.
fn read_statuses(
    file: &str,
    bytes: &[u8],
    authorities: &mut BTreeMap<String, Authority>,
    errors: &mut Vec<RowError>,
) {
    let others = [("hinweis", Column::Note)];
    let Some(mut t) = read(file, bytes, &["ars", "name", "status", "quelle"], &others, errors) else {
        return;
    };
    let rows = std::mem::take(&mut t.rows);
    let mut seen = BTreeSet::new();
    for (line, row) in &rows {
        let (ars, ac) = field(&t, row, "ars");
        let (name, nc) = field(&t, row, "name");
        let (status, sc) = field(&t, row, "status");
        let (source, qc) = field(&t, row, "quelle");
        let Some(status) = TownStatus::from_name(status) else {
            let known: Vec<_> = TownStatus::ALL.iter().map(|s| s.name()).collect();
            t.error(*line, sc, format!("unbekannter Status „{status}“ (bekannt: {})", known.join(", ")));
            continue;
        };
        if !is_source(source) {
            t.error(*line, qc, "jeder Status braucht eine Quelle (eine http(s)-Adresse)");
        }
        match authorities.get_mut(ars) {
            None => t.error(*line, ac, format!("es gibt keine Verwaltung mit dem ARS „{ars}“")),
            Some(_) if !seen.insert(ars.to_owned()) => {
                t.error(*line, ac, format!("ARS „{ars}“ steht zweimal in der Datei"))
            }
            Some(a) if a.name != name => {
                t.error(*line, nc, format!("„{name}“ ist nicht der Name von {ars} („{}“)", a.name))
            }
            Some(a)
                if a.kind != AuthorityKind::AmtsfreieGemeinde
                    && a.kind != AuthorityKind::MitverwaltendeGemeinde =>
            {
                t.error(
                    *line,
                    ac,
                    format!("{} ist keine kreisangehörige Stadt mit eigener Verwaltung", a.name),
                )
            }
            Some(a) => a.status = Some(status),
        }
    }
}

/// The responsibility file's required columns.
const RESPONSIBILITY_COLUMNS: &[&str] =
    &["dienst", "ars", "name", "zustaendig", "fuer", "quelle", "gueltig_ab"];

/// Reads the responsibility file: one exception to a service's level rule per row.
fn read_responsibilities(
    file: &str,
    bytes: &[u8],
    authorities: &BTreeMap<String, Authority>,
    services: &[Service],
    errors: &mut Vec<RowError>,
) -> Vec<Responsibility> {
    let mut out = Vec::new();
    let others = [("hinweis", Column::Note)];
    let Some(mut t) = read(file, bytes, RESPONSIBILITY_COLUMNS, &others, errors) else { return out };
    let rows = std::mem::take(&mut t.rows);
    let mut seen = BTreeSet::new();
    for (line, row) in &rows {
        if let Some(r) = responsibility_row(&mut t, *line, row, authorities, services, &mut seen) {
            out.push(r);
        }
    }
    out
}

/// One row of the responsibility file, checked; `None` when it cannot be read at all.
fn responsibility_row(
    t: &mut Table<'_>,
    line: u64,
    row: &csv::StringRecord,
    authorities: &BTreeMap<String, Authority>,
    services: &[Service],
    seen: &mut BTreeSet<(String, String)>,
) -> Option<Responsibility> {
    let (service, dc) = field(t, row, "dienst");
    let (ars, ac) = field(t, row, "ars");
    let (name, nc) = field(t, row, "name");
    let (responsible, zc) = field(t, row, "zustaendig");
    let (for_ars, fc) = field(t, row, "fuer");
    let (source, qc) = field(t, row, "quelle");
    let (from, gc) = field(t, row, "gueltig_ab");
    if !services.iter().any(|s| s.key == service) {
        t.error(line, dc, format!("es gibt keinen Dienst „{service}“"));
        return None;
    }
    let Some(authority) = authorities.get(ars) else {
        t.error(line, ac, format!("es gibt keine Verwaltung mit dem ARS „{ars}“"));
        return None;
    };
    if authority.name != name {
        t.error(line, nc, format!("„{name}“ ist nicht der Name von {ars} („{}“)", authority.name));
    }
    if !seen.insert((service.to_owned(), ars.to_owned())) {
        t.error(line, ac, format!("{ars} steht für „{service}“ zweimal in der Datei"));
    }
    let responsible = match responsible {
        "ja" => true,
        "nein" => false,
        other => {
            t.error(line, zc, format!("„{other}“: zuständig ist „ja“ oder „nein“"));
            return None;
        }
    };
    let for_ars: Vec<String> =
        for_ars.split([';', ' ']).filter(|s| !s.is_empty()).map(str::to_owned).collect();
    if !responsible && !for_ars.is_empty() {
        t.error(line, fc, "wer nicht zuständig ist, handelt für niemanden: „fuer“ bleibt leer");
    }
    for other in &for_ars {
        if !authorities.contains_key(other) && !is_member_ars(authority, other) {
            t.error(
                line,
                fc,
                format!("„{other}“ ist weder eine Verwaltung noch eine Gemeinde von {}", authority.name),
            );
        }
    }
    if source.is_empty() {
        t.error(line, qc, "jede Ausnahme braucht eine Rechtsgrundlage oder Quelle");
    }
    if let Err(e) = check_date(from) {
        t.error(line, gc, e);
    }
    Some(Responsibility {
        service: service.to_owned(),
        ars: ars.to_owned(),
        exception: Exception { responsible, for_ars, source: source.to_owned(), valid_from: from.to_owned() },
    })
}

fn is_member_ars(authority: &Authority, ars: &str) -> bool {
    authority.members.iter().any(|m| member_ars(authority, m) == ars)
}
