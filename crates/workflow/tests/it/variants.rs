//! `extends`: a variant adds, changes and removes steps and fields of its base; every problem
//! is reported in the file that caused it.

use workflow::definition::line_column;
use workflow::extends::{extends_of, parse_variant};

const BASE: &str = include_str!("../../../../workflows/archive/efa-onboarding.v1.toml");
const BASE_REF: &str = "efa-onboarding@1";

const XTA: &str = r#"id = "efa-onboarding-xta"
version = 1
extends = "efa-onboarding@1"
title = "Anbindung über OSCI/XTA"
remove = ["betriebsaenderungen", "interesse.kontakt"]

[[phases]]
id = "technik"

[[phases.steps]]
id = "transportweg"
title = "Transportweg OSCI/XTA festgelegt"

[[phases.steps]]
id = "xta_postfach"
title = "XTA-Postfach eingerichtet"
roles = ["authority-staff"]
depends_on = ["transportweg"]
evidence = [ { id = "postfach", label = "Postfach", type = "text" } ]

[[phases]]
id = "entscheidung"

[[phases.steps]]
id = "entscheidung"
add_evidence = [ { id = "gremium", label = "Gremium", type = "text", required = false } ]

[[phases]]
id = "xta_betrieb"
title = "XTA-Betrieb"

[[phases.steps]]
id = "xta_zertifikat"
title = "XTA-Zertifikat erneuert"
roles = ["authority-staff"]
depends_on = ["xta_postfach"]
"#;

fn fields(d: &workflow::Definition, step: &str) -> Vec<String> {
    let i = d.step_index(step).unwrap_or_else(|| panic!("step {step}"));
    d.steps[i].evidence.iter().map(|f| f.id.clone()).collect()
}

#[test]
fn a_variant_adds_changes_and_removes_steps_and_fields_of_its_base() {
    assert_eq!(extends_of(XTA).map(|(id, v, _)| (id, v)), Some(("efa-onboarding".into(), 1)));
    let base = workflow::parse(BASE.as_bytes()).expect("base");
    let d = parse_variant(XTA, BASE_REF, BASE).unwrap_or_else(|e| panic!("{e:#?}"));
    assert_eq!(
        (d.id.as_str(), d.version, d.title.as_str()),
        ("efa-onboarding-xta", 1, "Anbindung über OSCI/XTA")
    );
    assert_eq!(d.description, base.description, "what the variant does not say comes from the base");
    assert_eq!(d.land_definition.as_deref(), Some("efa-land"));
    assert_eq!(d.content_hash, blake3::hash(XTA.as_bytes()).to_hex().to_string(), "the hash of its own text");
    // Changed in place: the title given, the rest (dependencies, evidence) the base's.
    let t = d.step_index("transportweg").expect("transportweg");
    let bt = base.step_index("transportweg").expect("base transportweg");
    assert_eq!(d.steps[t].title, "Transportweg OSCI/XTA festgelegt");
    assert_eq!(fields(&d, "transportweg"), fields(&base, "transportweg"));
    assert_eq!(d.steps[t].depends_on.len(), base.steps[bt].depends_on.len());
    // Added after the phase's base steps; a new phase after the base's phases.
    let technik: Vec<&str> = d.steps[d.phases[3].steps.clone()].iter().map(|s| s.id.as_str()).collect();
    assert_eq!(technik.last(), Some(&"xta_postfach"), "{technik:?}");
    assert_eq!(d.phases.last().map(|p| p.id.as_str()), Some("xta_betrieb"));
    assert_eq!(d.phases.len(), base.phases.len() + 1);
    // Removed.
    assert!(d.step_index("betriebsaenderungen").is_none());
    assert_eq!(fields(&d, "interesse"), ["datum"]);
    assert_eq!(fields(&d, "entscheidung"), ["beschluss_am", "beschluss", "gremium"]);
    assert_eq!(d.steps.len(), base.steps.len() + 1);
}

#[test]
fn a_problem_of_the_variant_is_at_the_variant_s_line_and_one_surfacing_from_the_base_at_the_base_s() {
    let typo = XTA.replace(
        "roles = [\"authority-staff\"]\ndepends_on = [\"transportweg\"]",
        "rollen = [\"authority-staff\"]\ndepends_on = [\"transportweg\"]",
    );
    let diags = parse_variant(&typo, BASE_REF, BASE).expect_err("a typo");
    let unknown = diags
        .iter()
        .find(|d| d.message.starts_with("unknown key `rollen`"))
        .unwrap_or_else(|| panic!("{diags:#?}"));
    assert_eq!(unknown.origin, None, "in the variant");
    assert_eq!(line_column(&typo, unknown.span.start), (17, 1));

    // Removing a step others of the base depend on: the base's dependencies break, there.
    let removing = XTA
        .replace("remove = [\"betriebsaenderungen\",", "remove = [\"zertifikate\", \"betriebsaenderungen\",");
    let diags = parse_variant(&removing, BASE_REF, BASE).expect_err("a broken dependency");
    let lines: Vec<(Option<&str>, usize)> = diags
        .iter()
        .map(|d| {
            (
                d.origin.as_deref(),
                line_column(if d.origin.is_some() { BASE } else { &removing }, d.span.start).0,
            )
        })
        .collect();
    assert!(diags.iter().all(|d| d.message.contains("zertifikate")), "{diags:#?}");
    assert!(lines.contains(&(Some(BASE_REF), 157)), "zustellpunkt depends on it: {lines:?}");
    assert!(lines.contains(&(Some(BASE_REF), 272)), "zertifikatserneuerung depends on it: {lines:?}");

    // A step cannot be removed and changed at once.
    let both = XTA.replace(
        "remove = [\"betriebsaenderungen\",",
        "remove = [\"transportweg\", \"betriebsaenderungen\",",
    );
    let diags = parse_variant(&both, BASE_REF, BASE).expect_err("removed and replaced");
    assert!(
        diags.iter().any(|d| d.message == "step `transportweg` is both removed and replaced"),
        "{diags:#?}"
    );
    assert_eq!(line_column(&both, diags[0].span.start).0, 11, "at the variant's step");

    // What the variant removes must exist.
    let nothing = XTA.replace("\"interesse.kontakt\"", "\"interesse.telefon\", \"gibt_es_nicht\"");
    let diags = parse_variant(&nothing, BASE_REF, BASE).expect_err("unknown names");
    assert_eq!(diags.len(), 2, "{diags:#?}");
    assert!(diags[0].message.contains("field `telefon` of step `interesse`"), "{diags:#?}");
    assert!(diags[1].message.contains("`gibt_es_nicht`"), "{diags:#?}");
    assert_eq!(line_column(&nothing, diags[1].span.start).0, 5);
}

#[test]
fn an_enum_names_its_values_for_people_one_label_per_value() {
    let onboarding = include_str!("../../../../workflows/efa-onboarding.toml");
    let d = workflow::parse(onboarding.as_bytes()).expect("valid");
    let i = d.step_index("transportweg").expect("step");
    let weg = &d.steps[i].evidence[0];
    assert_eq!((weg.value_label("osci_xta"), weg.value_label("fit_connect")), ("OSCI/XTA", "FIT-Connect"));
    assert_eq!(weg.value_label("unbekannt"), "unbekannt", "an unknown value is shown as it is");
    let short =
        onboarding.replacen(r#"labels = ["FIT-Connect", "OSCI/XTA"]"#, r#"labels = ["FIT-Connect"]"#, 1);
    let diags = workflow::parse(short.as_bytes()).expect_err("one label short");
    assert!(diags.iter().any(|d| d.message.contains("`labels` names 1 values, `values` has 2")), "{diags:?}");
}
