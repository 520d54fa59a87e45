//! Who is responsible for a service: the level rule (`model::applies`) and its exceptions — the
//! statuses of the Große and Mittlere kreisangehörige Städte and the responsibility file's rows
//! (`data/zustaendigkeiten.csv`), each with its source — and the rule that combines them
//! ([`Catalog::responsible`]).

use std::collections::{BTreeMap, BTreeSet};

use crate::events::Catalog;
use crate::model::{applies, Authority, AuthorityKind, Member, Service};
use crate::parse::RowError;
use crate::reuse::{check_date, Exception, Responsibility, TownStatus};
use crate::table::{field, is_source, read, Column};

/// Reads the statuses file (`ars,name,status,quelle`) into the administrations' `status`.
pub(crate) fn read_statuses(
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
pub(crate) fn read_responsibilities(
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
        let (service, dc) = field(&t, row, "dienst");
        let (ars, ac) = field(&t, row, "ars");
        let (name, nc) = field(&t, row, "name");
        let (responsible, zc) = field(&t, row, "zustaendig");
        let (for_ars, fc) = field(&t, row, "fuer");
        let (source, qc) = field(&t, row, "quelle");
        let (from, gc) = field(&t, row, "gueltig_ab");
        if !services.iter().any(|s| s.key == service) {
            t.error(*line, dc, format!("es gibt keinen Dienst „{service}“"));
            continue;
        }
        let Some(authority) = authorities.get(ars) else {
            t.error(*line, ac, format!("es gibt keine Verwaltung mit dem ARS „{ars}“"));
            continue;
        };
        if authority.name != name {
            t.error(*line, nc, format!("„{name}“ ist nicht der Name von {ars} („{}“)", authority.name));
        }
        if !seen.insert((service.to_owned(), ars.to_owned())) {
            t.error(*line, ac, format!("{ars} steht für „{service}“ zweimal in der Datei"));
        }
        let responsible = match responsible {
            "ja" => true,
            "nein" => false,
            other => {
                t.error(*line, zc, format!("„{other}“: zuständig ist „ja“ oder „nein“"));
                continue;
            }
        };
        let for_ars: Vec<String> =
            for_ars.split([';', ' ']).filter(|s| !s.is_empty()).map(str::to_owned).collect();
        if !responsible && !for_ars.is_empty() {
            t.error(*line, fc, "wer nicht zuständig ist, handelt für niemanden: „fuer“ bleibt leer");
        }
        for other in &for_ars {
            if !authorities.contains_key(other) && !is_member_ars(authority, other) {
                t.error(
                    *line,
                    fc,
                    format!("„{other}“ ist weder eine Verwaltung noch eine Gemeinde von {}", authority.name),
                );
            }
        }
        if source.is_empty() {
            t.error(*line, qc, "jede Ausnahme braucht eine Rechtsgrundlage oder Quelle");
        }
        if let Err(e) = check_date(from) {
            t.error(*line, gc, e);
        }
        out.push(Responsibility {
            service: service.to_owned(),
            ars: ars.to_owned(),
            exception: Exception {
                responsible,
                for_ars,
                source: source.to_owned(),
                valid_from: from.to_owned(),
            },
        });
    }
    out
}

/// The ARS of a member municipality of `authority` (its Verband's nine digits and the
/// municipality's three).
pub fn member_ars(authority: &Authority, member: &Member) -> String {
    format!("{}{}", &authority.ars[..9.min(authority.ars.len())], member.ags.get(5..).unwrap_or(""))
}

fn is_member_ars(authority: &Authority, ars: &str) -> bool {
    authority.members.iter().any(|m| member_ars(authority, m) == ars)
}

impl Catalog {
    /// Whether `ars` is responsible for `service`: its exception if it has one; otherwise the
    /// level rule, unless another administration carries its task by agreement. The central
    /// parties (the Land, the association) are never counted as responsible administrations.
    pub fn is_responsible(&self, service: &str, ars: &str) -> bool {
        let (Some(s), Some(a)) = (self.services.get(service), self.authorities.get(ars)) else {
            return false;
        };
        if a.dissolved.is_some()
            || matches!(a.authority.kind, AuthorityKind::Land | AuthorityKind::Zweckverband)
        {
            return false;
        }
        match s.exceptions.get(ars) {
            Some(x) => x.responsible,
            None => {
                applies(&s.service, &a.authority)
                    && !s.exceptions.values().any(|x| x.responsible && x.for_ars.iter().any(|f| f == ars))
            }
        }
    }

    /// The administrations responsible for `service`, by ARS (ordered).
    pub fn responsible(&self, service: &str) -> Vec<&Authority> {
        self.active_authorities().filter(|a| self.is_responsible(service, &a.ars)).collect()
    }

    /// The population an administration serves for `service`: its own, less the
    /// administrations of its area responsible themselves (a Landkreis without its Mittlere
    /// kreisangehörige Stadt), plus the administrations whose task it carries by agreement.
    /// Summed over the responsible administrations it counts every inhabitant once.
    pub fn population_served(&self, service: &str, ars: &str) -> u64 {
        let Some(a) = self.authorities.get(ars).map(|e| &e.authority) else { return 0 };
        let Some(s) = self.services.get(service) else { return 0 };
        let mut population = a.population;
        if a.kind == AuthorityKind::Landkreis {
            for (other, x) in &s.exceptions {
                let inside = self
                    .authorities
                    .get(other)
                    .is_some_and(|o| o.authority.landkreis_ars.as_deref() == Some(ars));
                if inside && x.responsible {
                    population = population.saturating_sub(self.own_population(other));
                }
            }
        }
        if let Some(x) = s.exceptions.get(ars).filter(|x| x.responsible) {
            for other in &x.for_ars {
                population += self.own_population(other);
            }
        }
        population
    }

    fn own_population(&self, ars: &str) -> u64 {
        self.authorities.get(ars).map_or(0, |e| e.authority.population)
    }

    /// The municipalities an administration acts for in `service` besides its own members
    /// (their ARS), from its exception: what its editorial entry must list.
    pub fn acts_for(&self, service: &str, ars: &str) -> Vec<String> {
        self.services
            .get(service)
            .and_then(|s| s.exceptions.get(ars))
            .map(|x| x.for_ars.clone())
            .unwrap_or_default()
    }
}
