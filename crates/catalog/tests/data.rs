//! The bundled reference data in data/ imports completely and correctly.

use std::collections::BTreeMap;
use std::path::PathBuf;

const AUTHORITIES_FILE: &str = "brandenburg_verwaltungstraeger.csv";
const MUNICIPALITIES_FILE: &str = "brandenburg_gemeinden.csv";
const ASSISTANTS_FILE: &str = "formularserver_assistenten.csv";
const ASSOCIATION_FILE: &str = "zv_dikom_mitglieder.csv";
use catalog::{
    applies, parse_dataset, plan_import, AuthorityKind, Catalog, CatalogEvent, Dataset, Files, Level,
};

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data")
}

/// The files as the profile `data/brandenburg.profile.toml` names them, read from `data/`.
fn files() -> Files {
    let text =
        std::fs::read_to_string(data_dir().join("brandenburg.profile.toml")).expect("read the profile");
    let mut read = |name: &str| std::fs::read(data_dir().join(name)).map_err(|e| format!("{name}: {e}"));
    let profile = catalog::Profile::parse("brandenburg.toml", &text, &mut read).expect("the profile reads");
    assert_eq!(profile.files.names.authorities, AUTHORITIES_FILE);
    profile.files
}

fn dataset() -> Dataset {
    parse_dataset(&files())
        .unwrap_or_else(|e| panic!("{}", e.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n")))
}

/// Column `name` of every row of a data file, read with a plain CSV reader (independently of
/// the code under test).
fn column(file: &str, name: &str) -> Vec<String> {
    let mut reader = csv::Reader::from_path(data_dir().join(file)).expect("open");
    let i = reader.headers().expect("headers").iter().position(|h| h == name).expect("column");
    reader.records().map(|r| r.expect("row")[i].to_string()).collect()
}

fn count_by(values: &[String]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for v in values {
        *out.entry(v.clone()).or_insert(0) += 1;
    }
    out
}

#[test]
fn every_authority_is_imported_with_its_kind() {
    let data = dataset();
    let expected = count_by(&column(AUTHORITIES_FILE, "typ"));
    assert_eq!(expected.get("landkreis"), Some(&14));
    assert_eq!(expected.get("kreisfreie_stadt"), Some(&4));
    let mut got: BTreeMap<String, usize> = BTreeMap::new();
    let special = [AuthorityKind::Land, AuthorityKind::Zweckverband];
    for a in data.authorities.iter().filter(|a| !special.contains(&a.kind)) {
        *got.entry(a.kind.name().to_string()).or_insert(0) += 1;
    }
    assert_eq!(got, expected);
    assert_eq!(data.authorities.iter().filter(|a| a.kind == AuthorityKind::Land).count(), 1, "and the Land");
    let association: Vec<&catalog::Authority> =
        data.authorities.iter().filter(|a| a.kind == AuthorityKind::Zweckverband).collect();
    assert_eq!(association.len(), 1, "and ZV DIKOM");
    assert_eq!(association[0].ars, "129990000000");
}

#[test]
fn every_municipality_belongs_to_exactly_one_administration() {
    let data = dataset();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for a in &data.authorities {
        for m in &a.members {
            *seen.entry(m.ags.clone()).or_insert(0) += 1;
        }
    }
    let all = column(MUNICIPALITIES_FILE, "ags");
    assert_eq!(all.len(), 413);
    for ags in &all {
        assert_eq!(seen.get(ags), Some(&1), "municipality {ags}");
    }
    assert_eq!(seen.len(), all.len());
}

#[test]
fn applicability_follows_the_responsible_level() {
    let data = dataset();
    let kinds = count_by(&column(AUTHORITIES_FILE, "typ"));
    let k = |name: &str| kinds.get(name).copied().unwrap_or(0);
    let expected = |level: Level| match level {
        Level::LandkreisKfs => k("landkreis") + k("kreisfreie_stadt"),
        Level::GemeindeAmt => {
            k("kreisfreie_stadt")
                + k("amt")
                + k("verbandsgemeinde")
                + k("mitverwaltende_gemeinde")
                + k("amtsfreie_gemeinde")
        }
        Level::Land => 1,
    };
    // An assistant applies to ZV DIKOM's members (all of them municipal administrations).
    let members = column(ASSOCIATION_FILE, "ars").len();
    assert_eq!(members, 20);
    let mut levels_seen = std::collections::BTreeSet::new();
    let mut assistants = 0;
    for s in &data.services {
        let n = data.authorities.iter().filter(|a| applies(s, a)).count();
        if s.program == catalog::Program::Formularserver {
            assistants += 1;
            assert_eq!(n, members, "assistant {}", s.key);
            continue;
        }
        assert_eq!(n, expected(s.responsible_level), "service {}", s.key);
        levels_seen.insert(s.responsible_level.name());
    }
    assert_eq!(assistants, column(ASSISTANTS_FILE, "id").len());
    assert!(assistants >= 12);
    assert_eq!(levels_seen.len(), 3, "a service of each level is checked");
    let wohngeld = data.services.iter().find(|s| s.key == "wohngeld").expect("wohngeld");
    assert_eq!(data.authorities.iter().filter(|a| applies(wohngeld, a)).count(), 18);
}

#[test]
fn the_dissolution_of_amt_oder_welse_is_known_with_its_successor() {
    let data = dataset();
    let oder_welse =
        data.dissolutions.iter().find(|d| d.authority.ars == "120735310000").expect("Amt Oder-Welse");
    assert_eq!(oder_welse.authority.name, "Amt Oder-Welse");
    assert_eq!(oder_welse.successors, vec!["120735051000".to_string()], "Schwedt/Oder (Mitverwaltung)");
    assert_eq!(oder_welse.authority.landkreis_ars.as_deref(), Some("120730000000"));
    assert!(oder_welse.authority.members.iter().any(|m| m.name == "Pinnow"));
    let neuhardenberg =
        data.dissolutions.iter().find(|d| d.authority.ars == "120645410000").expect("Amt Neuhardenberg");
    assert_eq!(neuhardenberg.successors.len(), 2);
}

#[test]
fn importing_again_plans_nothing_and_a_changed_row_one_change() {
    let data = dataset();
    let mut catalog = Catalog::default();
    let plan = plan_import(&catalog, &data);
    // 207 administrations and the Land, ZV DIKOM, 37 EfA services, 13 assistants, 2 dissolved
    // Ämter registered and dissolved, the exception of the responsibility file.
    assert_eq!(plan.iter().map(|p| p.events.len()).sum::<usize>(), 208 + 1 + 37 + 13 + 2 * 2 + 1);
    for p in &plan {
        for e in &p.events {
            catalog.apply(&p.stream_id, e);
        }
    }
    assert_eq!(plan_import(&catalog, &data), vec![], "a second import changes nothing");
    let mut changed = data.clone();
    let potsdam = changed.authorities.iter_mut().find(|a| a.ars == "120540000000").expect("Potsdam");
    potsdam.population += 1;
    let plan = plan_import(&catalog, &changed);
    assert_eq!(plan.len(), 1);
    assert_eq!(plan[0].expected_version, 1);
    assert!(
        matches!(&plan[0].events[..], [CatalogEvent::AuthorityChanged { changed, .. }] if changed == &vec!["population".to_string()])
    );
}

#[test]
fn a_bad_row_is_named_and_nothing_is_imported() {
    let mut f = files();
    let text = String::from_utf8(f.authorities.clone()).expect("utf8");
    // Line 5 gets an ARS of 11 digits, the first Amt an unknown type.
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    lines[4] = lines[4].replacen("12", "1", 1);
    let amt = lines.iter().position(|l| l.contains(",amt,")).expect("an Amt");
    lines[amt] = lines[amt].replace(",amt,", ",amtt,");
    f.authorities = (lines.join("\n") + "\n").into_bytes();
    f.services = String::from_utf8(f.services).expect("utf8").replace("99107023017000", "12345").into_bytes();
    let errors = parse_dataset(&f).expect_err("bad rows");
    let text: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert!(
        text.iter().any(|e| e.starts_with("brandenburg_verwaltungstraeger.csv:5:1 (ars): ARS `")),
        "{text:#?}"
    );
    let at = format!("brandenburg_verwaltungstraeger.csv:{}:7 (typ): unknown type `amtt`", amt + 1);
    assert!(text.iter().any(|e| e.starts_with(&at)), "{text:#?}");
    assert!(
        text.iter().any(|e| e.contains("efa_services.csv:2:6 (leika_schluessel): LeiKa key `12345`")),
        "{text:#?}"
    );
}

/// Every column is read and checked, or refused: a key that does not fit its AGS, a name that
/// is not the administration's, a source that is no address, a column nobody reads.
#[test]
fn every_column_is_checked_and_an_unknown_one_is_refused() {
    let mut f = files();
    let replace = |bytes: &[u8], from: &str, to: &str| {
        let text = String::from_utf8(bytes.to_vec()).expect("utf8");
        assert!(text.contains(from), "{from}");
        text.replacen(from, to, 1).into_bytes()
    };
    // Potsdam's municipality row: its ARS with a letter; Bernau's administration misnamed.
    f.municipalities = replace(&f.municipalities, "12054000,120540000000,", "12054000,12054000000X,");
    f.municipalities =
        replace(&f.municipalities, ",120600020020,Stadt Bernau bei Berlin,", ",120600020020,Bernau,");
    f.authorities = replace(&f.authorities, "120600020020,12060,", "120600020020,12061,");
    f.services = replace(&f.services, "https://www.heise.de/", "www.heise.de/");
    f.association = replace(&f.association, "120730008008,Stadt Angermünde,", "120730008008,Angermünde,");
    f.changes = replace(&f.changes, "art,schluessel_alt,", "art,bemerkung,schluessel_alt,");
    let text: Vec<String> =
        parse_dataset(&f).expect_err("bad columns").iter().map(|e| e.to_string()).collect();
    for expected in [
        "brandenburg_gemeinden.csv:4:2 (ars): `12054000000X` is not the ARS of AGS 12054000 in 120540000000 (`120540000000`)",
        "(verwaltungstraeger_name): `Bernau` is not the name of 120600020020 (`Stadt Bernau bei Berlin`)",
        "(kreisschluessel): `12061` is not the Kreis of ARS 120600020020 (`12060`)",
        "efa_services.csv:2:14 (efa_quelle): `www.heise.de/",
        "zv_dikom_mitglieder.csv:2:2 (name): `Angermünde` is not the name of 120730008008 (`Stadt Angermünde`)",
        "brandenburg_gebietsaenderungen_2021_2025.csv:1:2 (bemerkung): unknown column `bemerkung`: it is neither read nor checked",
    ] {
        assert!(text.iter().any(|e| e.contains(expected)), "{expected}\n{text:#?}");
    }
}

#[test]
fn garbage_and_missing_columns_are_clear_errors() {
    let mut f = files();
    f.services = vec![0xff, 0xfe, b'\n', 0x80];
    let errors = parse_dataset(&f).expect_err("garbage");
    assert!(errors[0].to_string().starts_with("efa_services.csv:"), "{errors:?}");
    let mut f = files();
    f.municipalities = b"ags,name\n12051000,x\n".to_vec();
    let errors = parse_dataset(&f).expect_err("columns");
    assert_eq!(
        errors[0].to_string(),
        "brandenburg_gemeinden.csv:1: missing columns: verwaltungstraeger_ars, einwohner"
    );
}

#[test]
fn a_data_file_at_the_size_limit_is_read_and_one_byte_more_is_refused() {
    use catalog::limits::FILE_BYTES_MAX;
    // The services file padded with trailing blank lines (which the CSV reader skips) to exactly
    // the limit, then one byte past it.
    let mut f = files();
    let mut padded = f.services.clone();
    padded.resize(FILE_BYTES_MAX, b'\n');
    f.services = padded.clone();
    let at_limit = parse_dataset(&f).map(|d| d.services.len());
    assert_eq!(at_limit.expect("a file of exactly the limit is read"), dataset().services.len());
    padded.push(b'\n');
    f.services = padded;
    let errors = parse_dataset(&f).expect_err("one byte past the limit");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(
        errors[0].to_string(),
        format!("efa_services.csv: the file is larger than {FILE_BYTES_MAX} bytes")
    );
}

#[test]
fn problems_are_reported_up_to_the_limit() {
    use catalog::limits::PROBLEMS_MAX;
    // `n` rows of one field where the header has twelve: one problem each.
    let problems = |n: usize| {
        let mut f = files();
        f.municipalities.extend("x\n".repeat(n).bytes());
        parse_dataset(&f).expect_err("bad rows")
    };
    let at_limit = problems(PROBLEMS_MAX);
    assert_eq!(at_limit.len(), PROBLEMS_MAX, "up to the limit every problem is reported");
    assert!(at_limit.iter().all(|e| e.to_string().starts_with("brandenburg_gemeinden.csv:")), "{at_limit:?}");
    assert_eq!(problems(PROBLEMS_MAX + 1).len(), PROBLEMS_MAX, "one past it: the limit");
    assert_eq!(problems(PROBLEMS_MAX * 5).len(), PROBLEMS_MAX);
}

#[test]
fn a_member_that_is_no_administration_is_named_and_nothing_is_imported() {
    let mut f = files();
    let mut text = String::from_utf8(f.association.clone()).expect("utf8");
    text.push_str("120999999999,Nirgendwo,,\n120540000000,Potsdam,,\n");
    f.association = text.into_bytes();
    let errors: Vec<String> =
        parse_dataset(&f).expect_err("bad members").iter().map(|e| e.to_string()).collect();
    assert!(
        errors.iter().any(|e| e.starts_with(
            "zv_dikom_mitglieder.csv:22:1 (ars): there is no administration with ARS `120999999999`"
        )),
        "{errors:#?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("zv_dikom_mitglieder.csv:23:1 (ars): ARS `120540000000` appears twice")),
        "{errors:#?}"
    );
    // Without the programme's files (a data folder of an earlier release): no assistants, no ZV DIKOM.
    let mut f = files();
    f.assistants.clear();
    f.association.clear();
    let data = parse_dataset(&f).expect("valid");
    assert!(data.services.iter().all(|s| s.program == catalog::Program::Efa));
    assert!(data.authorities.iter().all(|a| a.kind != AuthorityKind::Zweckverband && !a.association_member));
}

#[test]
fn federal_services_start_on_the_variant_without_a_technical_connection() {
    let data = dataset();
    let on = |key: &str| data.services.iter().find(|s| s.key == key).map(|s| s.definition.to_string());
    for federal in ["elterngeld", "kfz_zulassung", "kfz_stilllegung"] {
        assert_eq!(on(federal).as_deref(), Some("efa-onboarding-bund@3"), "{federal}");
    }
    assert_eq!(on("wohngeld").as_deref(), Some("efa-onboarding@4"));
}
