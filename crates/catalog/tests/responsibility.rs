//! Who is responsible for a service: the level rule, the statuses of the kreisangehörige
//! Städte and the responsibility file's exceptions, as the bundled data says.

use catalog::{parse_dataset, plan_import, Catalog, Files, TownStatus};

const FUERSTENWALDE: &str = "120670144144";
const ODER_SPREE: &str = "120670000000";

fn files() -> Files {
    catalog::Profile::bundled("brandenburg").expect("bundled").files
}

/// The catalogue the bundled files make (their import applied).
fn catalog() -> Catalog {
    let data = parse_dataset(&files()).unwrap_or_else(|e| panic!("{e:?}"));
    let mut c = Catalog::default();
    for planned in plan_import(&c.clone(), &data) {
        for e in &planned.events {
            c.apply(&planned.stream_id, e);
        }
    }
    c
}

#[test]
fn the_kreisangehoerige_staedte_have_their_status_with_a_source() {
    let c = catalog();
    let status = |ars: &str| c.authorities[ars].authority.status;
    assert_eq!(status(FUERSTENWALDE), Some(TownStatus::MittlereKreisangehoerigeStadt));
    assert_eq!(status("120600052052"), Some(TownStatus::GrosseKreisangehoerigeStadt), "Eberswalde");
    assert_eq!(status("120690020020"), None, "Bad Belzig has no status");
    let with_status = c.authorities.values().filter(|e| e.authority.status.is_some()).count();
    assert_eq!(with_status, 11);
}

#[test]
fn fuerstenwalde_is_responsible_for_wohngeld_and_oder_spree_serves_the_rest() {
    let c = catalog();
    let responsible: Vec<&str> = c.responsible("wohngeld").iter().map(|a| a.ars.as_str()).collect();
    assert_eq!(responsible.len(), 19, "18 Landkreise and kreisfreie Städte and Fürstenwalde/Spree");
    assert!(responsible.contains(&FUERSTENWALDE) && responsible.contains(&ODER_SPREE));
    assert!(!responsible.contains(&"120000000000"), "the Land is no responsible administration");
    // Every inhabitant counted once.
    let served: u64 = responsible.iter().map(|ars| c.population_served("wohngeld", ars)).sum();
    assert_eq!(served, c.authorities["120000000000"].authority.population);
    let fw = c.authorities[FUERSTENWALDE].authority.population;
    let los = c.authorities[ODER_SPREE].authority.population;
    assert_eq!(c.population_served("wohngeld", ODER_SPREE), los - fw);
    // Another Landkreis-level service keeps the level rule.
    assert_eq!(c.responsible("elterngeld").len(), 18);
    assert!(!c.is_responsible("elterngeld", FUERSTENWALDE));
}

#[test]
fn importing_the_same_files_again_plans_no_responsibility_change() {
    let c = catalog();
    let data = parse_dataset(&files()).expect("parses");
    assert!(plan_import(&c, &data).is_empty());
}

#[test]
fn a_bad_row_of_the_responsibility_file_is_named_in_german() {
    let mut f = files();
    f.responsibilities = "dienst,ars,name,zustaendig,fuer,quelle,gueltig_ab\n\
        wohngeld,120670144144,Stadt Fürstenwalde/Spree,vielleicht,,§ 1 WoGZV,2005-01-01\n\
        keinDienst,120670144144,Stadt Fürstenwalde/Spree,ja,,§ 1,2005-01-01\n\
        wohngeld,120690020020,Stadt Bad Belzig,nein,120670144144,,2005-02-30\n"
        .as_bytes()
        .to_vec();
    let errors = parse_dataset(&f).expect_err("refused");
    let text: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    let joined = text.join("\n");
    assert!(joined.contains("zustaendigkeiten.csv:2") && joined.contains("„vielleicht“"), "{joined}");
    assert!(joined.contains(":3") && joined.contains("keinen Dienst „keinDienst“"), "{joined}");
    assert!(joined.contains(":4") && joined.contains("„fuer“ bleibt leer"), "{joined}");
    assert!(joined.contains("Rechtsgrundlage oder Quelle") && joined.contains("„2005-02-30“"), "{joined}");
}
