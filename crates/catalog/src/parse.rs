//! Reading the reference data files. Every row is validated before anything is imported; each
//! problem names file, line and column.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::limits::{FILE_BYTES_MAX, PROBLEMS_MAX};
use crate::model::{
    check_ars, check_leika, Authority, AuthorityKind, DefinitionRef, Dissolution, Level, Member, Program,
    Service, ASSOCIATION_ARS, LAND_ARS,
};

pub const AUTHORITIES_FILE: &str = "brandenburg_verwaltungstraeger.csv";
pub const MUNICIPALITIES_FILE: &str = "brandenburg_gemeinden.csv";
pub const SERVICES_FILE: &str = "efa_services.csv";
pub const CHANGES_FILE: &str = "brandenburg_gebietsaenderungen_2021_2025.csv";
/// The form server's online application assistants (the second programme).
pub const ASSISTANTS_FILE: &str = "formularserver_assistenten.csv";
/// ZV DIKOM's member administrations.
pub const ASSOCIATION_FILE: &str = "zv_dikom_mitglieder.csv";

/// The product's copy of the data files (`data/`), compiled into the binary, so that an empty
/// store can be initialised without any files at hand.
pub fn bundled_files() -> Files {
    Files {
        authorities: include_bytes!("../../../data/brandenburg_verwaltungstraeger.csv").to_vec(),
        municipalities: include_bytes!("../../../data/brandenburg_gemeinden.csv").to_vec(),
        services: include_bytes!("../../../data/efa_services.csv").to_vec(),
        changes: include_bytes!("../../../data/brandenburg_gebietsaenderungen_2021_2025.csv").to_vec(),
        assistants: include_bytes!("../../../data/formularserver_assistenten.csv").to_vec(),
        association: include_bytes!("../../../data/zv_dikom_mitglieder.csv").to_vec(),
    }
}

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

/// The files' contents. The last two are optional: empty means none (a data folder of an
/// earlier release has no form-server programme).
#[derive(Debug, Default)]
pub struct Files {
    pub authorities: Vec<u8>,
    pub municipalities: Vec<u8>,
    pub services: Vec<u8>,
    pub changes: Vec<u8>,
    pub assistants: Vec<u8>,
    pub association: Vec<u8>,
}

/// Everything the files say, validated.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Dataset {
    /// The current authorities, and the Land.
    pub authorities: Vec<Authority>,
    pub services: Vec<Service>,
    /// Authorities dissolved by territorial changes, with their successors.
    pub dissolutions: Vec<Dissolution>,
}

struct Table<'a> {
    file: &'static str,
    headers: Vec<String>,
    rows: Vec<(u64, csv::StringRecord)>,
    errors: &'a mut Vec<RowError>,
}

impl Table<'_> {
    fn col(&self, name: &str) -> Option<usize> {
        self.headers.iter().position(|h| h == name)
    }

    fn error(&mut self, line: u64, column: Option<usize>, message: impl Into<String>) {
        let column = column.map(|c| (c + 1, self.headers.get(c).cloned().unwrap_or_default()));
        self.errors.push(RowError { file: self.file.into(), line, column, message: message.into() });
    }
}

fn read<'a>(
    file: &'static str,
    bytes: &[u8],
    required: &[&str],
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
    let missing: Vec<&str> = required.iter().copied().filter(|r| !headers.iter().any(|h| h == r)).collect();
    if !missing.is_empty() {
        errors.push(RowError {
            file: file.into(),
            line: 1,
            column: None,
            message: format!("missing columns: {}", missing.join(", ")),
        });
        return None;
    }
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

/// A field of a row, by column name (the column exists: `read` checked the header).
fn field<'r>(t: &Table, row: &'r csv::StringRecord, name: &str) -> (&'r str, Option<usize>) {
    let c = t.col(name);
    (c.and_then(|c| row.get(c)).unwrap_or("").trim(), c)
}

fn number(t: &mut Table, line: u64, row: &csv::StringRecord, name: &str) -> u64 {
    let (v, c) = field(t, row, name);
    match v.parse::<u64>() {
        Ok(n) => n,
        Err(_) => {
            t.error(line, c, format!("`{v}` is not a whole number"));
            0
        }
    }
}

/// Parses and validates all four files.
pub fn parse_dataset(files: &Files) -> Result<Dataset, Vec<RowError>> {
    let mut errors = Vec::new();
    let (mut authorities, expected_members) = read_authorities(&files.authorities, &mut errors);
    read_members(&files.municipalities, &mut authorities, &expected_members, &mut errors);
    let mut services = read_services(SERVICES_FILE, &files.services, Program::Efa, &mut errors);
    if !files.assistants.is_empty() {
        let assistants =
            read_services(ASSISTANTS_FILE, &files.assistants, Program::Formularserver, &mut errors);
        for a in &assistants {
            if services.iter().any(|s| s.key == a.key) {
                errors.push(RowError {
                    file: ASSISTANTS_FILE.into(),
                    line: 0,
                    column: None,
                    message: format!("service key `{}` is an EfA service's too", a.key),
                });
            }
        }
        services.extend(assistants);
    }
    if !files.association.is_empty() {
        read_association(&files.association, &mut authorities, &mut errors);
    }
    let dissolutions = read_changes(&files.changes, &authorities, &mut errors);
    if !errors.is_empty() {
        errors.truncate(PROBLEMS_MAX);
        return Err(errors);
    }
    let mut list: Vec<Authority> = authorities.into_values().collect();
    let population = list.iter().filter(|a| a.landkreis_ars.is_none()).map(|a| a.population).sum();
    list.push(Authority {
        ars: LAND_ARS.into(),
        kind: AuthorityKind::Land,
        name: "Land Brandenburg".into(),
        official_name: "Brandenburg".into(),
        landkreis_ars: None,
        seat: "Potsdam".into(),
        population,
        members: Vec::new(),
        association_member: false,
    });
    if !files.association.is_empty() {
        list.push(Authority {
            ars: ASSOCIATION_ARS.into(),
            kind: AuthorityKind::Zweckverband,
            name: "Zweckverband Digitale Kommunen Brandenburg (DIKOM)".into(),
            official_name: "Zweckverband „Digitale Kommunen Brandenburg“".into(),
            landkreis_ars: None,
            seat: "Cottbus/Chóśebuz".into(),
            population: 0,
            members: Vec::new(),
            association_member: false,
        });
    }
    Ok(Dataset { authorities: list, services, dissolutions })
}

/// Each authority's line and `anzahl_gemeinden`, checked against the municipalities file.
type ExpectedMembers = BTreeMap<String, (u64, u64)>;

fn read_authorities(
    bytes: &[u8],
    errors: &mut Vec<RowError>,
) -> (BTreeMap<String, Authority>, ExpectedMembers) {
    let required = [
        "ars",
        "name",
        "name_gv100ad",
        "typ",
        "landkreis_ars",
        "verwaltungssitz",
        "anzahl_gemeinden",
        "einwohner",
    ];
    let mut out = BTreeMap::new();
    let Some(mut t) = read(AUTHORITIES_FILE, bytes, &required, errors) else {
        return (BTreeMap::new(), BTreeMap::new());
    };
    let rows = std::mem::take(&mut t.rows);
    let mut lines: BTreeMap<String, u64> = BTreeMap::new();
    for (line, row) in &rows {
        let (kind_name, kc) = field(&t, row, "typ");
        let Some(kind) = AuthorityKind::from_name(kind_name)
            .filter(|k| !matches!(k, AuthorityKind::Land | AuthorityKind::Zweckverband))
        else {
            t.error(*line, kc, format!("unknown type `{kind_name}`"));
            continue;
        };
        let (ars, ac) = field(&t, row, "ars");
        if let Err(e) = check_ars(ars, kind) {
            t.error(*line, ac, e);
            continue;
        }
        if let Some(first) = lines.insert(ars.to_owned(), *line) {
            t.error(*line, ac, format!("ARS `{ars}` appears again (first on line {first})"));
            continue;
        }
        let (landkreis, lc) = field(&t, row, "landkreis_ars");
        let needs_landkreis = !matches!(kind, AuthorityKind::Landkreis | AuthorityKind::KreisfreieStadt);
        if needs_landkreis == landkreis.is_empty() {
            let msg = if needs_landkreis {
                "a municipal authority names its Landkreis"
            } else {
                "a Landkreis or kreisfreie Stadt has no Landkreis"
            };
            t.error(*line, lc, msg);
        }
        let population = number(&mut t, *line, row, "einwohner");
        let authority = Authority {
            ars: ars.to_owned(),
            kind,
            name: field(&t, row, "name").0.to_owned(),
            official_name: field(&t, row, "name_gv100ad").0.to_owned(),
            landkreis_ars: (!landkreis.is_empty()).then(|| landkreis.to_owned()),
            seat: field(&t, row, "verwaltungssitz").0.to_owned(),
            population,
            members: Vec::new(),
            association_member: false,
        };
        let expected = number(&mut t, *line, row, "anzahl_gemeinden");
        out.insert(ars.to_owned(), (authority, *line, expected));
    }
    // Landkreis references must name a Landkreis of the file.
    for (authority, line, _) in out.values() {
        if let Some(lk) = &authority.landkreis_ars {
            if out.get(lk).is_none_or(|(a, ..)| a.kind != AuthorityKind::Landkreis) {
                let c = t.col("landkreis_ars");
                t.error(*line, c, format!("`{lk}` is not a Landkreis of this file"));
            }
        }
    }
    let expected = out.iter().map(|(k, (_, line, n))| (k.clone(), (*line, *n))).collect();
    (out.into_iter().map(|(k, (a, ..))| (k, a)).collect(), expected)
}

fn read_members(
    bytes: &[u8],
    authorities: &mut BTreeMap<String, Authority>,
    expected: &ExpectedMembers,
    errors: &mut Vec<RowError>,
) {
    let required = ["ags", "name", "verwaltungstraeger_ars", "einwohner"];
    let Some(mut t) = read(MUNICIPALITIES_FILE, bytes, &required, errors) else { return };
    let rows = std::mem::take(&mut t.rows);
    let mut seen = BTreeSet::new();
    for (line, row) in &rows {
        let (ags, gc) = field(&t, row, "ags");
        if ags.len() != 8 || !ags.bytes().all(|b| b.is_ascii_digit()) {
            t.error(*line, gc, format!("AGS `{ags}` must have 8 digits"));
            continue;
        }
        if !seen.insert(ags.to_owned()) {
            t.error(
                *line,
                gc,
                format!("AGS `{ags}` appears twice: a municipality belongs to exactly one administration"),
            );
            continue;
        }
        let (vt, vc) = field(&t, row, "verwaltungstraeger_ars");
        let population = number(&mut t, *line, row, "einwohner");
        let name = field(&t, row, "name").0.to_owned();
        match authorities.get_mut(vt) {
            Some(a) if a.kind != AuthorityKind::Landkreis => {
                a.members.push(Member { ags: ags.to_owned(), name, population })
            }
            _ => t.error(*line, vc, format!("`{vt}` is not an administration of {AUTHORITIES_FILE}")),
        }
    }
    for (ars, &(line, count)) in expected {
        let Some(a) = authorities.get(ars) else { continue };
        if a.kind != AuthorityKind::Landkreis && a.members.len() as u64 != count {
            errors.push(RowError {
                file: AUTHORITIES_FILE.into(),
                line,
                column: None,
                message: format!("anzahl_gemeinden says {count}, but {} municipalities of {MUNICIPALITIES_FILE} name `{ars}`", a.members.len()),
            });
        }
    }
}

fn read_services(
    file: &'static str,
    bytes: &[u8],
    program: Program,
    errors: &mut Vec<RowError>,
) -> Vec<Service> {
    let efa = ["ozg_id", "efa_umsetzer"];
    let common = [
        "id",
        "anzeigename",
        "themenfeld",
        "leika_schluessel",
        "zustaendige_ebene_bb_annahme",
        "gebuehrenpflichtig_annahme",
    ];
    let required: Vec<&str> =
        common.iter().chain(if program == Program::Efa { &efa[..] } else { &[] }).copied().collect();
    let mut out = Vec::new();
    let Some(mut t) = read(file, bytes, &required, errors) else { return out };
    let rows = std::mem::take(&mut t.rows);
    let mut keys = BTreeSet::new();
    for (line, row) in &rows {
        let (key, kc) = field(&t, row, "id");
        let valid_key = !key.is_empty()
            && key.len() <= 64
            && key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !valid_key {
            t.error(
                *line,
                kc,
                format!("service key `{key}` must be 1 to 64 lowercase letters, digits or `_`"),
            );
            continue;
        }
        if !keys.insert(key.to_owned()) {
            t.error(*line, kc, format!("service key `{key}` appears twice"));
            continue;
        }
        let (leika, lc) = field(&t, row, "leika_schluessel");
        let leika_keys: Vec<String> =
            leika.split(';').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect();
        // An assistant has LeiKa keys where they exist; an EfA service always does.
        if leika_keys.is_empty() && program == Program::Efa {
            t.error(*line, lc, "a service needs a LeiKa key");
        }
        for k in &leika_keys {
            if let Err(e) = check_leika(k) {
                t.error(*line, lc, e);
            }
        }
        let (level, vc) = field(&t, row, "zustaendige_ebene_bb_annahme");
        let Some(responsible_level) = Level::from_name(level) else {
            t.error(*line, vc, format!("unknown level `{level}` (land, landkreis_kfs or gemeinde_amt)"));
            continue;
        };
        let (fee, fc) = field(&t, row, "gebuehrenpflichtig_annahme");
        let fee_based = match fee {
            "ja" => true,
            "nein" => false,
            other => {
                t.error(*line, fc, format!("`{other}` is neither `ja` nor `nein`"));
                false
            }
        };
        let (ozg, oc) = field(&t, row, "ozg_id");
        let ozg_id = if ozg.is_empty() {
            None
        } else {
            match ozg.parse() {
                Ok(n) => Some(n),
                Err(_) => {
                    t.error(*line, oc, format!("`{ozg}` is not an OZG id"));
                    None
                }
            }
        };
        let providing = if t.col("efa_umsetzer").is_some() { field(&t, row, "efa_umsetzer").0 } else { "" };
        // Optional columns: a file without them gives every service the defaults.
        let mut definition_of = |column: &str, default: fn() -> DefinitionRef| {
            let (text, c) = field(&t, row, column);
            if text.is_empty() {
                return default();
            }
            DefinitionRef::parse(text).unwrap_or_else(|e| {
                t.error(*line, c, e);
                default()
            })
        };
        let definition = definition_of("workflow", DefinitionRef::authority_default);
        let land_definition = definition_of("workflow_land", DefinitionRef::land_default);
        out.push(Service {
            key: key.to_owned(),
            name: field(&t, row, "anzeigename").0.to_owned(),
            ozg_id,
            leika_keys,
            subject_area: field(&t, row, "themenfeld").0.to_owned(),
            providing_state: (!providing.is_empty()).then(|| providing.to_owned()),
            responsible_level,
            fee_based,
            program,
            definition,
            land_definition,
        });
    }
    out
}

/// Marks ZV DIKOM's members (`ars` of a known administration, each once).
fn read_association(bytes: &[u8], authorities: &mut BTreeMap<String, Authority>, errors: &mut Vec<RowError>) {
    let Some(mut t) = read(ASSOCIATION_FILE, bytes, &["ars", "name"], errors) else { return };
    let rows = std::mem::take(&mut t.rows);
    let mut seen = BTreeSet::new();
    for (line, row) in &rows {
        let (ars, c) = field(&t, row, "ars");
        match authorities.get_mut(ars) {
            None => t.error(*line, c, format!("there is no administration with ARS `{ars}`")),
            Some(_) if !seen.insert(ars.to_owned()) => {
                t.error(*line, c, format!("ARS `{ars}` appears twice"))
            }
            Some(a) => a.association_member = true,
        }
    }
}

fn read_changes(
    bytes: &[u8],
    authorities: &BTreeMap<String, Authority>,
    errors: &mut Vec<RowError>,
) -> Vec<Dissolution> {
    let required = ["art", "schluessel_alt", "name_alt", "schluessel_neu", "landkreis", "hinweis"];
    let mut out = Vec::new();
    let Some(mut t) = read(CHANGES_FILE, bytes, &required, errors) else { return out };
    let rows = std::mem::take(&mut t.rows);
    for (line, row) in &rows {
        let (art, ac) = field(&t, row, "art");
        if !matches!(
            art,
            "gemeinde_aufgeloest"
                | "gemeindeverband_aufgeloest"
                | "gemeindeverband_neu"
                | "verbandszugehoerigkeit_geaendert"
        ) {
            t.error(*line, ac, format!("unknown kind of change `{art}`"));
            continue;
        }
        if art != "gemeindeverband_aufgeloest" {
            continue;
        }
        let (old, oc) = field(&t, row, "schluessel_alt");
        if old.len() != 9 || !old.bytes().all(|b| b.is_ascii_digit()) {
            t.error(*line, oc, format!("`{old}` is not a 9-digit Gemeindeverband key"));
            continue;
        }
        let ars = format!("{old}000");
        // Members moved away: their new Gemeindeverband is a successor.
        let mut successors = Vec::new();
        let mut members = Vec::new();
        for (_, other) in &rows {
            let (kind, _) = field(&t, other, "art");
            let (from, _) = field(&t, other, "schluessel_alt");
            let (to, _) = field(&t, other, "schluessel_neu");
            if kind == "verbandszugehoerigkeit_geaendert"
                && from.len() == 12
                && from.starts_with(old)
                && to.len() == 12
            {
                let successor = format!("{}000", &to[..9]);
                if !successors.contains(&successor) {
                    successors.push(successor);
                }
                let name = field(&t, other, "name_alt").0;
                let name = name.split(" (").next().unwrap_or(name).to_owned();
                members.push(Member { ags: format!("{}{}", &from[..5], &from[9..]), name, population: 0 });
            }
        }
        for s in &successors {
            if !authorities.contains_key(s) {
                t.error(
                    *line,
                    oc,
                    format!("successor `{s}` of `{ars}` is not an administration of {AUTHORITIES_FILE}"),
                );
            }
        }
        if successors.is_empty() {
            t.error(
                *line,
                oc,
                format!("no successor of `{ars}` is named (verbandszugehoerigkeit_geaendert rows)"),
            );
            continue;
        }
        let (landkreis_name, _) = field(&t, row, "landkreis");
        let landkreis_ars = authorities
            .values()
            .find(|a| a.kind == AuthorityKind::Landkreis && a.name == landkreis_name)
            .map(|a| a.ars.clone());
        let name = field(&t, row, "name_alt").0.to_owned();
        out.push(Dissolution {
            authority: Authority {
                ars,
                kind: AuthorityKind::Amt,
                official_name: name.trim_start_matches("Amt ").to_owned(),
                name,
                landkreis_ars,
                seat: String::new(),
                population: 0,
                members,
                association_member: false,
            },
            successors,
            note: field(&t, row, "hinweis").0.to_owned(),
        });
    }
    out
}
