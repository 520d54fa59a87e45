//! Reading the reference data files. Every row is validated before anything is imported; each
//! problem names file, line and column.

use std::collections::{BTreeMap, BTreeSet};

use crate::limits::PROBLEMS_MAX;
use crate::model::{
    check_ars, check_leika, Authority, AuthorityKind, DefinitionRef, Dissolution, Level, Member, Program,
    Service,
};

pub use crate::table::RowError;
use crate::table::{field, number, read, Column, Table};

/// The files' contents. The last two are optional: empty means none (a data folder of an
/// earlier release has no form-server programme).
#[derive(Debug, Default)]
pub struct Files {
    /// The files' names (in problems: `file:line:column`).
    pub names: FileNames,
    /// The central parties (the Land, the association), which no file lists.
    pub parties: Parties,
    pub authorities: Vec<u8>,
    pub municipalities: Vec<u8>,
    pub services: Vec<u8>,
    pub changes: Vec<u8>,
    pub assistants: Vec<u8>,
    pub association: Vec<u8>,
    pub statuses: Vec<u8>,
    pub responsibilities: Vec<u8>,
}

/// The names of a Land's data files, as its profile gives them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileNames {
    pub authorities: String,
    pub municipalities: String,
    pub services: String,
    pub changes: String,
    /// The form server's online application assistants (the second programme; optional).
    pub assistants: String,
    /// The association's member administrations (optional).
    pub association: String,
    /// The Große and Mittlere kreisangehörige Städte (optional).
    pub statuses: String,
    /// Exceptions to the services' level rule (optional).
    pub responsibilities: String,
}

/// A central party of the programme: the Land itself, or the association.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Party {
    pub ars: String,
    pub name: String,
    pub official_name: String,
    pub seat: String,
}

/// The Land and, if it has one, the association that owns the form server's model rollouts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Parties {
    pub land: Party,
    pub association: Option<Party>,
}

/// Everything the files say, validated.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Dataset {
    /// The current authorities, and the Land.
    pub authorities: Vec<Authority>,
    pub services: Vec<Service>,
    /// Authorities dissolved by territorial changes, with their successors.
    pub dissolutions: Vec<Dissolution>,
    /// Exceptions to the services' level rule.
    pub responsibilities: Vec<crate::reuse::Responsibility>,
}

/// The keys an authority's row derives from its ARS (Land 2, Regierungsbezirk 1, Kreis 2,
/// Verband 4, Gemeinde 3 digits): `kreisschluessel` its first five digits; `gemeindeverband_rs`
/// its first nine for an Amt, Verbandsgemeinde or municipality of a Verband, empty for a
/// Landkreis or kreisfreie Stadt; `ags` (Kreis and Gemeinde) for a municipality, empty for an
/// Amt, Verbandsgemeinde or Landkreis — a mitverwaltende Gemeinde's names the municipality
/// itself (its key is the Verband's).
fn check_keys_of_authority(
    t: &mut Table,
    line: u64,
    row: &csv::StringRecord,
    ars: &str,
    kind: AuthorityKind,
) {
    let (kreis, c) = field(t, row, "kreisschluessel");
    if c.is_some() && kreis != &ars[..5] {
        t.error(line, c, format!("`{kreis}` is not the Kreis of ARS {ars} (`{}`)", &ars[..5]));
    }
    let (verband, c) = field(t, row, "gemeindeverband_rs");
    let no_verband = matches!(kind, AuthorityKind::Landkreis | AuthorityKind::KreisfreieStadt);
    let want = if no_verband { "" } else { &ars[..9] };
    if c.is_some() && verband != want {
        t.error(line, c, format!("`{verband}` should be `{want}` for ARS {ars} ({})", kind.name()));
    }
    let (ags, c) = field(t, row, "ags");
    if c.is_some() {
        let ok = match kind {
            AuthorityKind::Landkreis | AuthorityKind::Amt | AuthorityKind::Verbandsgemeinde => ags.is_empty(),
            AuthorityKind::MitverwaltendeGemeinde => {
                ags.len() == 8 && ags.starts_with(&ars[..5]) && ags.bytes().all(|b| b.is_ascii_digit())
            }
            _ => ags.len() == 8 && ags[..5] == ars[..5] && ags[5..] == ars[9..],
        };
        if !ok {
            t.error(line, c, format!("`{ags}` is not the AGS of ARS {ars} ({})", kind.name()));
        }
    }
}

/// Parses and validates all four files.
pub fn parse_dataset(files: &Files) -> Result<Dataset, Vec<RowError>> {
    let mut errors = Vec::new();
    let names = &files.names;
    let (mut authorities, expected_members) = read_authorities(names, &files.authorities, &mut errors);
    read_members(names, &files.municipalities, &mut authorities, &expected_members, &mut errors);
    let mut services = read_services(&names.services, &files.services, Program::Efa, &mut errors);
    if !files.assistants.is_empty() {
        let assistants =
            read_services(&names.assistants, &files.assistants, Program::Formularserver, &mut errors);
        for a in &assistants {
            if services.iter().any(|s| s.key == a.key) {
                errors.push(RowError {
                    file: names.assistants.clone(),
                    line: 0,
                    column: None,
                    message: format!("service key `{}` is an EfA service's too", a.key),
                });
            }
        }
        services.extend(assistants);
    }
    if !files.association.is_empty() {
        read_association(&names.association, &files.association, &mut authorities, &mut errors);
    }
    let services_read = !errors.iter().any(|e| e.file == names.services || e.file == names.assistants);
    let responsibilities = crate::responsibility_file::read_exceptions(
        (&names.statuses, &files.statuses),
        (&names.responsibilities, &files.responsibilities),
        services_read,
        &mut authorities,
        &services,
        &mut errors,
    );
    let dissolutions = read_changes(names, &files.changes, &authorities, &mut errors);
    if !errors.is_empty() {
        errors.truncate(PROBLEMS_MAX);
        return Err(errors);
    }
    let mut list: Vec<Authority> = authorities.into_values().collect();
    let population = list.iter().filter(|a| a.landkreis_ars.is_none()).map(|a| a.population).sum();
    let party = |p: &Party, kind: AuthorityKind, population: u64| Authority {
        ars: p.ars.clone(),
        kind,
        name: p.name.clone(),
        official_name: p.official_name.clone(),
        landkreis_ars: None,
        seat: p.seat.clone(),
        population,
        members: Vec::new(),
        association_member: false,
        status: None,
    };
    list.push(party(&files.parties.land, AuthorityKind::Land, population));
    if let Some(association) = files.parties.association.as_ref().filter(|_| !files.association.is_empty()) {
        list.push(party(association, AuthorityKind::Zweckverband, 0));
    }
    Ok(Dataset { authorities: list, services, dissolutions, responsibilities })
}

/// Each authority's line and `anzahl_gemeinden`, checked against the municipalities file.
type ExpectedMembers = BTreeMap<String, (u64, u64)>;

/// The authorities file's required columns, and those derived from the ARS (checked when given).
const AUTHORITY_COLUMNS: &[&str] = &[
    "ars",
    "name",
    "name_gv100ad",
    "typ",
    "landkreis_ars",
    "verwaltungssitz",
    "anzahl_gemeinden",
    "einwohner",
];
const AUTHORITY_DERIVED: &[(&str, Column)] = &[
    ("kreisschluessel", Column::Optional),
    ("gemeindeverband_rs", Column::Optional),
    ("ags", Column::Optional),
    ("landkreis_name", Column::Optional),
];

fn read_authorities(
    names: &FileNames,
    bytes: &[u8],
    errors: &mut Vec<RowError>,
) -> (BTreeMap<String, Authority>, ExpectedMembers) {
    let mut out = BTreeMap::new();
    let Some(mut t) = read(&names.authorities, bytes, AUTHORITY_COLUMNS, AUTHORITY_DERIVED, errors) else {
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
        check_keys_of_authority(&mut t, *line, row, ars, kind);
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
            status: None,
        };
        let expected = number(&mut t, *line, row, "anzahl_gemeinden");
        out.insert(ars.to_owned(), (authority, *line, expected));
    }
    check_landkreis_references(&mut t, &rows, &out);
    let expected = out.iter().map(|(k, (_, line, n))| (k.clone(), (*line, *n))).collect();
    (out.into_iter().map(|(k, (a, ..))| (k, a)).collect(), expected)
}

/// Landkreis references must name a Landkreis of the file, with its name.
fn check_landkreis_references(
    t: &mut Table<'_>,
    rows: &[(u64, csv::StringRecord)],
    out: &BTreeMap<String, (Authority, u64, u64)>,
) {
    let names: BTreeMap<u64, String> =
        rows.iter().map(|(line, row)| (*line, field(t, row, "landkreis_name").0.to_owned())).collect();
    for (authority, line, _) in out.values() {
        if let Some(lk) = &authority.landkreis_ars {
            match out.get(lk) {
                Some((a, ..)) if a.kind == AuthorityKind::Landkreis => {
                    let given = names.get(line).map(String::as_str).unwrap_or("");
                    if t.col("landkreis_name").is_some() && given != a.name {
                        let c = t.col("landkreis_name");
                        t.error(
                            *line,
                            c,
                            format!("`{given}` is not the name of Landkreis {lk} (`{}`)", a.name),
                        );
                    }
                }
                _ => {
                    let c = t.col("landkreis_ars");
                    t.error(*line, c, format!("`{lk}` is not a Landkreis of this file"));
                }
            }
        } else if names.get(line).is_some_and(|n| !n.is_empty()) {
            let c = t.col("landkreis_name");
            t.error(*line, c, "a Landkreis or kreisfreie Stadt has no Landkreis name");
        }
    }
}

fn read_members(
    names: &FileNames,
    bytes: &[u8],
    authorities: &mut BTreeMap<String, Authority>,
    expected: &ExpectedMembers,
    errors: &mut Vec<RowError>,
) {
    let required = ["ags", "name", "verwaltungstraeger_ars", "einwohner"];
    let checked = [
        ("ars", Column::Optional),
        ("gemeindeart", Column::Optional),
        ("landkreis_ars", Column::Optional),
        ("landkreis_name", Column::Optional),
        ("verwaltungstraeger_name", Column::Optional),
        ("verwaltungstraeger_typ", Column::Optional),
        ("plz_verwaltungssitz", Column::Optional),
        ("flaeche_ha", Column::Optional),
    ];
    let Some(mut t) = read(&names.municipalities, bytes, &required, &checked, errors) else { return };
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
                check_municipality(&mut t, *line, row, ags, a);
                a.members.push(Member { ags: ags.to_owned(), name, population })
            }
            _ => t.error(*line, vc, format!("`{vt}` is not an administration of {}", names.authorities)),
        }
    }
    for (ars, &(line, count)) in expected {
        let Some(a) = authorities.get(ars) else { continue };
        if a.kind != AuthorityKind::Landkreis && a.members.len() as u64 != count {
            errors.push(RowError {
                file: names.authorities.clone(),
                line,
                column: None,
                message: format!(
                    "anzahl_gemeinden says {count}, but {} municipalities of {} name `{ars}`",
                    a.members.len(),
                    names.municipalities
                ),
            });
        }
    }
}

/// A municipality's columns against its AGS and its administration: `ars` is the 12-digit key
/// of the AGS within the administration (its Kreis, the administration's Verband, its Gemeinde),
/// `gemeindeart` one of `gemeinde`, `stadt`, `kreisfreie_stadt` (exactly for a kreisfreie
/// Stadt), the Landkreis and the administration's name and type as the authorities file says,
/// `plz_verwaltungssitz` five digits, `flaeche_ha` a whole number.
fn check_municipality(t: &mut Table, line: u64, row: &csv::StringRecord, ags: &str, a: &Authority) {
    let (ars, c) = field(t, row, "ars");
    if c.is_some() {
        let ok = ars.len() == 12
            && ars.bytes().all(|b| b.is_ascii_digit())
            && ars[..5] == ags[..5]
            && ars[9..] == ags[5..]
            && ars[..9] == a.ars[..9];
        if !ok {
            let want = format!("{}{}", &a.ars[..9], &ags[5..]);
            t.error(line, c, format!("`{ars}` is not the ARS of AGS {ags} in {} (`{want}`)", a.ars));
        }
    }
    let (art, c) = field(t, row, "gemeindeart");
    if c.is_some() {
        let kreisfrei = a.kind == AuthorityKind::KreisfreieStadt;
        let ok = match art {
            "kreisfreie_stadt" => kreisfrei,
            "gemeinde" | "stadt" => !kreisfrei,
            _ => false,
        };
        if !ok {
            t.error(
                line,
                c,
                format!(
                    "`{art}` is not the kind of a municipality of a {} (gemeinde, stadt or kreisfreie_stadt)",
                    a.kind.name()
                ),
            );
        }
    }
    let want_lk = a.landkreis_ars.as_deref().unwrap_or("");
    let (lk, c) = field(t, row, "landkreis_ars");
    if c.is_some() && lk != want_lk {
        t.error(line, c, format!("`{lk}` is not the Landkreis of {} (`{want_lk}`)", a.ars));
    }
    let (vt_name, c) = field(t, row, "verwaltungstraeger_name");
    if c.is_some() && vt_name != a.name {
        t.error(line, c, format!("`{vt_name}` is not the name of {} (`{}`)", a.ars, a.name));
    }
    let (vt_kind, c) = field(t, row, "verwaltungstraeger_typ");
    if c.is_some() && vt_kind != a.kind.name() {
        t.error(line, c, format!("`{vt_kind}` is not the type of {} (`{}`)", a.ars, a.kind.name()));
    }
    let (plz, c) = field(t, row, "plz_verwaltungssitz");
    if c.is_some() && !(plz.len() == 5 && plz.bytes().all(|b| b.is_ascii_digit())) {
        t.error(line, c, format!("`{plz}` is not a postcode (5 digits)"));
    }
    if t.col("flaeche_ha").is_some() {
        number(t, line, row, "flaeche_ha");
    }
}

fn read_services(file: &str, bytes: &[u8], program: Program, errors: &mut Vec<RowError>) -> Vec<Service> {
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
    let others = [
        ("ozg_leistung", Column::Note),
        ("leika_bezeichnung", Column::Note),
        ("leika_typ", Column::Note),
        ("leika_urn", Column::Optional),
        ("themenfeld_federfuehrung", Column::Note),
        ("themenfeld_federfuehrung_quelle", Column::Url),
        ("efa_onlinedienst", Column::Note),
        ("efa_umsetzer", Column::Optional),
        ("efa_quelle", Column::Url),
        ("quelle", Column::Url),
        ("hinweis", Column::Note),
        ("workflow", Column::Optional),
        ("workflow_land", Column::Optional),
    ];
    let mut out = Vec::new();
    let Some(mut t) = read(file, bytes, &required, &others, errors) else { return out };
    let rows = std::mem::take(&mut t.rows);
    let mut keys = BTreeSet::new();
    for (line, row) in &rows {
        out.extend(service_row(&mut t, *line, row, program, &mut keys));
    }
    out
}

/// A service's LeiKa keys (`;`-separated), each checked, and its URN against the first.
fn leika_keys(t: &mut Table<'_>, line: u64, row: &csv::StringRecord, program: Program) -> Vec<String> {
    let (leika, lc) = field(t, row, "leika_schluessel");
    let leika_keys: Vec<String> =
        leika.split(';').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect();
    // An assistant has LeiKa keys where they exist; an EfA service always does.
    if leika_keys.is_empty() && program == Program::Efa {
        t.error(line, lc, "a service needs a LeiKa key");
    }
    for k in &leika_keys {
        if let Err(e) = check_leika(k) {
            t.error(line, lc, e);
        }
    }
    let (urn, uc) = field(t, row, "leika_urn");
    if uc.is_some() && !urn.is_empty() {
        let want = leika_keys.first().map(|k| format!("urn:de:fim:leika:leistung:{k}")).unwrap_or_default();
        if urn != want {
            t.error(line, uc, format!("`{urn}` is not the URN of the first LeiKa key (`{want}`)"));
        }
    }
    leika_keys
}

/// Whether a service is fee-based (`ja`/`nein`) and its OZG id (optional).
fn fee_and_ozg(t: &mut Table<'_>, line: u64, row: &csv::StringRecord) -> (bool, Option<u32>) {
    let (fee, fc) = field(t, row, "gebuehrenpflichtig_annahme");
    let fee_based = match fee {
        "ja" => true,
        "nein" => false,
        other => {
            t.error(line, fc, format!("`{other}` is neither `ja` nor `nein`"));
            false
        }
    };
    let (ozg, oc) = field(t, row, "ozg_id");
    let ozg_id = if ozg.is_empty() {
        None
    } else {
        match ozg.parse() {
            Ok(n) => Some(n),
            Err(_) => {
                t.error(line, oc, format!("`{ozg}` is not an OZG id"));
                None
            }
        }
    };
    (fee_based, ozg_id)
}

/// One service of a services file, or `None` (its problems recorded in `t`).
fn service_row(
    t: &mut Table<'_>,
    line: u64,
    row: &csv::StringRecord,
    program: Program,
    keys: &mut BTreeSet<String>,
) -> Option<Service> {
    let (key, kc) = field(t, row, "id");
    let valid_key = !key.is_empty()
        && key.len() <= 64
        && key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !valid_key {
        t.error(line, kc, format!("service key `{key}` must be 1 to 64 lowercase letters, digits or `_`"));
        return None;
    }
    if !keys.insert(key.to_owned()) {
        t.error(line, kc, format!("service key `{key}` appears twice"));
        return None;
    }
    let leika_keys = leika_keys(t, line, row, program);
    let (level, vc) = field(t, row, "zustaendige_ebene_bb_annahme");
    let Some(responsible_level) = Level::from_name(level) else {
        t.error(line, vc, format!("unknown level `{level}` (land, landkreis_kfs or gemeinde_amt)"));
        return None;
    };
    let (fee_based, ozg_id) = fee_and_ozg(t, line, row);
    let providing = if t.col("efa_umsetzer").is_some() { field(t, row, "efa_umsetzer").0 } else { "" };
    // Optional columns: a file without them gives every service the defaults.
    let mut definition_of = |column: &str, default: fn() -> DefinitionRef| {
        let (text, c) = field(t, row, column);
        if text.is_empty() {
            return default();
        }
        DefinitionRef::parse(text).unwrap_or_else(|e| {
            t.error(line, c, e);
            default()
        })
    };
    let definition = definition_of("workflow", DefinitionRef::authority_default);
    let land_definition = definition_of("workflow_land", DefinitionRef::land_default);
    Some(Service {
        key: key.to_owned(),
        name: field(t, row, "anzeigename").0.to_owned(),
        ozg_id,
        leika_keys,
        subject_area: field(t, row, "themenfeld").0.to_owned(),
        providing_state: (!providing.is_empty()).then(|| providing.to_owned()),
        responsible_level,
        fee_based,
        program,
        definition,
        land_definition,
    })
}

/// Marks the association's members (`ars` of a known administration, each once).
fn read_association(
    name: &str,
    bytes: &[u8],
    authorities: &mut BTreeMap<String, Authority>,
    errors: &mut Vec<RowError>,
) {
    let others = [("quelle", Column::Url), ("hinweis", Column::Note)];
    let Some(mut t) = read(name, bytes, &["ars", "name"], &others, errors) else { return };
    let rows = std::mem::take(&mut t.rows);
    let mut seen = BTreeSet::new();
    for (line, row) in &rows {
        let (ars, c) = field(&t, row, "ars");
        let (name, nc) = field(&t, row, "name");
        match authorities.get_mut(ars) {
            None => t.error(*line, c, format!("there is no administration with ARS `{ars}`")),
            Some(_) if !seen.insert(ars.to_owned()) => {
                t.error(*line, c, format!("ARS `{ars}` appears twice"))
            }
            Some(a) if a.name != name => {
                let message = format!("`{name}` is not the name of {ars} (`{}`)", a.name);
                t.error(*line, nc, message)
            }
            Some(a) => a.association_member = true,
        }
    }
}

/// The successors of the dissolved Gemeindeverband `old` (where its members went, by the rows
/// `verbandszugehoerigkeit_geaendert`) and those members.
fn moved_members(t: &Table<'_>, rows: &[(u64, csv::StringRecord)], old: &str) -> (Vec<String>, Vec<Member>) {
    let mut successors = Vec::new();
    let mut members = Vec::new();
    for (_, other) in rows {
        let (kind, _) = field(t, other, "art");
        let (from, _) = field(t, other, "schluessel_alt");
        let (to, _) = field(t, other, "schluessel_neu");
        if kind == "verbandszugehoerigkeit_geaendert"
            && from.len() == 12
            && from.starts_with(old)
            && to.len() == 12
        {
            let successor = format!("{}000", &to[..9]);
            if !successors.contains(&successor) {
                successors.push(successor);
            }
            let name = field(t, other, "name_alt").0;
            let name = name.split(" (").next().unwrap_or(name).to_owned();
            members.push(Member { ags: format!("{}{}", &from[..5], &from[9..]), name, population: 0 });
        }
    }
    (successors, members)
}

/// The kinds of territorial change the changes file records.
const CHANGE_KINDS: &[&str] = &[
    "gemeinde_aufgeloest",
    "gemeindeverband_aufgeloest",
    "gemeindeverband_neu",
    "verbandszugehoerigkeit_geaendert",
];

/// The ARS of the Landkreis named `name`.
fn landkreis_named(authorities: &BTreeMap<String, Authority>, name: &str) -> Option<String> {
    authorities.values().find(|a| a.kind == AuthorityKind::Landkreis && a.name == name).map(|a| a.ars.clone())
}

fn read_changes(
    names: &FileNames,
    bytes: &[u8],
    authorities: &BTreeMap<String, Authority>,
    errors: &mut Vec<RowError>,
) -> Vec<Dissolution> {
    let required = ["art", "schluessel_alt", "name_alt", "schluessel_neu", "landkreis", "hinweis"];
    let others = [("name_neu", Column::Note)];
    let mut out = Vec::new();
    let Some(mut t) = read(&names.changes, bytes, &required, &others, errors) else { return out };
    let rows = std::mem::take(&mut t.rows);
    for (line, row) in &rows {
        let (art, ac) = field(&t, row, "art");
        if !CHANGE_KINDS.contains(&art) {
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
        let (successors, members) = moved_members(&t, &rows, old);
        for s in &successors {
            if !authorities.contains_key(s) {
                t.error(
                    *line,
                    oc,
                    format!("successor `{s}` of `{ars}` is not an administration of {}", names.authorities),
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
        let landkreis_ars = landkreis_named(authorities, field(&t, row, "landkreis").0);
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
                status: None,
            },
            successors,
            note: field(&t, row, "hinweis").0.to_owned(),
        });
    }
    out
}
