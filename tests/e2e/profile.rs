//! A Land's profile is data: a small test Land (three administrations, no association, written
//! here) initialises a store with `rollout init --profile FILE` and is served with
//! `serve --profile FILE` — its name in the report's title, its key as the central party,
//! nothing of Brandenburg in its answers; a store initialised for one Land refuses another.

use serde_json::{json, Value};

use crate::report::get;
use crate::support::{rollout, Server};

/// Writes the test Land's profile and files into `dir`; returns the profile's path.
fn test_land(dir: &std::path::Path) -> std::path::PathBuf {
    let files = [
        (
            "testland.profile.toml",
            r#"key = "testland"
name = "Testland"

[land]
ars = "990000000000"
name = "Land Testland"
official_name = "Testland"
seat = "Nordhafen"

[report]
title = "Programmbericht OZG-Rollout Testland"

[files]
authorities = "verwaltungen.csv"
municipalities = "gemeinden.csv"
services = "dienste.csv"
changes = "aenderungen.csv"
centres = "zentren.csv"

[map]
attribution = "Grenzen: Testdaten"
kreise = "kreise.geojson"
"#,
        ),
        (
            "verwaltungen.csv",
            "ars,kreisschluessel,gemeindeverband_rs,ags,name,name_gv100ad,typ,landkreis_ars,landkreis_name,verwaltungssitz,anzahl_gemeinden,einwohner\n\
             995010000000,99501,,99501000,Stadt Nordhafen,\"Nordhafen, Stadt\",kreisfreie_stadt,,,Nordhafen,1,50000\n\
             995020000000,99502,,,Landkreis Südheide,Südheide,landkreis,,,Heidedorf,1,30000\n\
             995020001001,99502,995020001,99502001,Heidedorf,Heidedorf,amtsfreie_gemeinde,995020000000,Landkreis Südheide,Heidedorf,1,30000\n",
        ),
        (
            "gemeinden.csv",
            "ags,ars,name,gemeindeart,landkreis_ars,landkreis_name,verwaltungstraeger_ars,verwaltungstraeger_name,verwaltungstraeger_typ,plz_verwaltungssitz,flaeche_ha,einwohner\n\
             99501000,995010000000,\"Nordhafen, Stadt\",kreisfreie_stadt,,,995010000000,Stadt Nordhafen,kreisfreie_stadt,99100,5000,50000\n\
             99502001,995020001001,Heidedorf,gemeinde,995020000000,Landkreis Südheide,995020001001,Heidedorf,amtsfreie_gemeinde,99200,9000,30000\n",
        ),
        (
            "dienste.csv",
            "id,anzeigename,ozg_id,ozg_leistung,themenfeld,leika_schluessel,leika_bezeichnung,leika_typ,leika_urn,themenfeld_federfuehrung,themenfeld_federfuehrung_quelle,efa_onlinedienst,efa_umsetzer,efa_quelle,zustaendige_ebene_bb_annahme,hinweis,gebuehrenpflichtig_annahme,workflow,workflow_land\n\
             wohngeld,Wohngeld beantragen,10092,Wohngeld,Arbeit & Ruhestand,99107023017000,Wohngeld Bewilligung,2/3,urn:de:fim:leika:leistung:99107023017000,,,Online-Wohngeldantrag (EfA),Schleswig-Holstein,,landkreis_kfs,,nein,efa-onboarding@4,efa-land@1\n",
        ),
        ("aenderungen.csv", "art,schluessel_alt,name_alt,schluessel_neu,name_neu,landkreis,hinweis\n"),
        (
            "kreise.geojson",
            r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"ars":"995020000000","name":"Südheide"},"geometry":{"type":"Polygon","coordinates":[[[10.0,53.0],[11.0,53.0],[11.0,54.0],[10.0,53.0]]]}}]}"#,
        ),
        ("zentren.csv", "ars;laenge;breite\n995010000000;10.0;54.0\n995020000000;10.5;53.5\n995020001001;10.5;53.5\n"),
    ];
    for (name, text) in files {
        std::fs::write(dir.join(name), text).expect("write the test Land");
    }
    dir.join("testland.profile.toml")
}

fn s(p: &std::path::Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

#[test]
fn a_second_land_initialises_a_store_and_is_served_with_nothing_of_brandenburg() {
    let land = tempfile::tempdir().expect("dir");
    let profile = test_land(land.path());

    // `rollout init` on a fresh data directory, then again: nothing changes; another Land is refused.
    let store = tempfile::tempdir().expect("dir");
    let init = rollout(&["init", "--data-dir", s(store.path()), "--profile", s(&profile)]);
    let said = String::from_utf8_lossy(&init.stdout).to_string() + &String::from_utf8_lossy(&init.stderr);
    assert_eq!(init.status.code(), Some(0), "{said}");
    assert!(
        said.contains("initialised for Testland (profile `testland`): 4 administrations, 1 services"),
        "{said}"
    );
    assert!(store.path().join("admin.token").exists(), "an admin token is written");
    let again = rollout(&["init", "--data-dir", s(store.path()), "--profile", s(&profile)]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("already initialised for Testland"));
    let other = rollout(&["init", "--data-dir", s(store.path()), "--profile", "brandenburg"]);
    assert_eq!(other.status.code(), Some(1));
    let refused = String::from_utf8_lossy(&other.stderr);
    assert!(refused.contains("mit dem Profil `testland` eingerichtet, nicht `brandenburg`"), "{refused}");

    // Served (on a fresh store: the first start initialises with the profile).
    let server = Server::start_with(&["--profile", s(&profile)]);
    let data = server.gql(
        Some(&server.admin),
        "mutation { startServiceRollout(serviceKey: \"wohngeld\") { started existing } }",
        json!({}),
    );
    let started: Vec<&str> = data["data"]["startServiceRollout"]["started"]
        .as_array()
        .unwrap_or_else(|| panic!("{data}"))
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        started,
        ["wohngeld:990000000000", "wohngeld:995010000000", "wohngeld:995020000000"],
        "the Land's own rollout first"
    );
    let answers = server.gql(
        Some(&server.admin),
        "{ services(first: 10) { edges { node { key centralArs } } } authorities(first: 50) { edges { node { ars name kind } } } rollouts(first: 10) { edges { node { id status } } } }",
        json!({}),
    );
    assert_eq!(answers["data"]["services"]["edges"][0]["node"]["centralArs"], "990000000000", "{answers}");
    let names: Vec<&str> = answers["data"]["authorities"]["edges"]
        .as_array()
        .expect("authorities")
        .iter()
        .filter_map(|e| e["node"]["name"].as_str())
        .collect();
    assert_eq!(names, ["Land Testland", "Stadt Nordhafen", "Landkreis Südheide", "Heidedorf"]);
    let (status, _, report) = get(&server, "/reports/programme.csv", Some(&server.admin));
    assert_eq!(status, 200);
    let report = String::from_utf8_lossy(&report).to_string();
    assert!(report.contains("Programmbericht OZG-Rollout Testland"), "{report}");
    let (_, _, html) = get(&server, "/reports/programme.html", Some(&server.admin));
    let html = String::from_utf8_lossy(&html).to_string();
    assert!(
        html.contains("<h1>Programmbericht OZG-Rollout Testland</h1>"),
        "{}",
        &html[..400.min(html.len())]
    );
    for text in [answers.to_string(), report, html] {
        for brandenburg in ["Brandenburg", "120000000000", "129990000000", "ZV DIKOM"] {
            assert!(!text.contains(brandenburg), "`{brandenburg}` in an answer of the test Land: {text}");
        }
    }
    // Its profile as the dashboard reads it, and the one map layer its file names.
    let profile = server.gql(
        Some(&server.admin),
        "{ profile { key name landArs associationArs associationName reportTitle mapAttribution } }",
        json!({}),
    );
    assert_eq!(
        profile["data"]["profile"],
        json!({ "key": "testland", "name": "Testland", "landArs": "990000000000", "associationArs": null,
                "associationName": null, "reportTitle": "Programmbericht OZG-Rollout Testland",
                "mapAttribution": "Grenzen: Testdaten" }),
        "{profile}"
    );
    let (status, _, layer) = get(&server, "/geo/kreise.geojson", None);
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&layer).contains("Südheide"), "the test Land's own layer");
    assert_eq!(server.get("/geo/verwaltungstraeger.geojson"), 404, "no layer of another Land");
    // Peers measure distances between the profile's centres.
    let peers = server.gql(
        Some(&server.admin),
        "{ peers(serviceKey: \"wohngeld\") { authority { ars } distanceKm } }",
        json!({}),
    );
    assert_eq!(peers["data"]["peers"].as_array().map(Vec::len), Some(2), "{peers}");
}

/// A profile's data file over the catalogue's file limit is refused before anything is read or
/// written, naming the file and the limit.
#[test]
fn a_profile_file_over_the_limit_is_refused_by_name() {
    let land = tempfile::tempdir().expect("dir");
    let profile = test_land(land.path());
    let services = land.path().join("dienste.csv");
    let limit = 16 * 1024 * 1024;
    std::fs::File::options().write(true).open(&services).expect("open").set_len(limit + 1).expect("grow");
    let store = tempfile::tempdir().expect("dir");
    let out = rollout(&["init", "--data-dir", s(store.path()), "--profile", s(&profile)]);
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("dienste.csv: größer als 16777216 Bytes"), "{said}");
    assert!(!store.path().join("admin.token").exists(), "nothing was initialised");
}
