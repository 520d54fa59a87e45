//! The programme report and the list downloads, on the real binary over HTTP: the XLSX opened
//! with an independent reader (Python's openpyxl) and every figure compared with
//! `progress(asOf, …)`; the CSV read with Python's csv module, likewise; a staff token refused;
//! the printable page rendered by Chromium (A4, a screenshot kept); a list download cut at its
//! limit says so.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;

use serde_json::{json, Value};

use crate::support::browser::{chromium_available, screenshot_dir, Browser};
use crate::support::{required, Server};

/// GET `path` with the bearer `token`: (status, headers in lower case, body).
pub(crate) fn get(
    server: &Server,
    path: &str,
    token: Option<&str>,
) -> (u16, BTreeMap<String, String>, Vec<u8>) {
    let mut s = TcpStream::connect(&server.address).expect("connect");
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n").expect("send");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read");
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a head");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut body = raw[split + 4..].to_vec();
    let status = head.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let headers: BTreeMap<String, String> = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_owned()))
        .collect();
    if headers.get("transfer-encoding").is_some_and(|t| t == "chunked") {
        body = dechunk(&body);
    }
    (status, headers, body)
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n").expect("chunk size");
        let size = usize::from_str_radix(String::from_utf8_lossy(&data[..line_end]).trim(), 16).expect("hex");
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[line_end + 2..line_end + 2 + size]);
        data = &data[line_end + 2 + size + 2..];
    }
}

/// Reads an XLSX with openpyxl: per sheet its freeze pane, its lines and its cells (numbers
/// stay numbers).
const READ_XLSX: &str = r#"
import json, sys, openpyxl
book = openpyxl.load_workbook(sys.argv[1])
out = {}
for ws in book.worksheets:
    out[ws.title] = {"freeze": ws.freeze_panes, "rows": [list(r) for r in ws.iter_rows(values_only=True)]}
print(json.dumps(out, default=str))
"#;

/// Reads the report's CSV with Python's csv module (`;`, UTF-8 with BOM, `#` lines above).
const READ_CSV: &str = r##"
import csv, json, sys
with open(sys.argv[1], encoding="utf-8-sig", newline="") as f:
    lines = [l for l in f if not l.startswith("#")]
print(json.dumps(list(csv.DictReader(lines, delimiter=";"))))
"##;

fn python(script: &str, file: &std::path::Path) -> Value {
    let out = Command::new("python3").arg("-c").arg(script).arg(file).output().expect("python3");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("json")
}

fn openpyxl_here() -> bool {
    required(
        Command::new("python3").args(["-c", "import openpyxl"]).status().is_ok_and(|s| s.success()),
        "ROLLOUT_REQUIRE_OPENPYXL",
        "python3 -m pip install openpyxl",
    )
}

/// `progress` as the API answers it: key → group.
fn progress(server: &Server, args: &str) -> BTreeMap<String, Value> {
    let q = format!("{{ progress({args}) {{ key rollouts percentDone inOperation blocked overdue byPhaseStatus {{ phase status count }} blockedByCategory {{ category count }} responsible offered interested declined deferred ownSolution noAnswer onboarding coverage populationCoverage }} }}");
    let r = server.gql(Some(&server.admin), &q, json!({}));
    r["data"]["progress"]
        .as_array()
        .unwrap_or_else(|| panic!("{r}"))
        .iter()
        .map(|g| (g["key"].as_str().expect("key").to_owned(), g.clone()))
        .collect()
}

/// A sheet's header row and its data rows (the rows after the header).
fn table(sheet: &Value) -> (Vec<String>, Vec<Vec<Value>>) {
    let rows = sheet["rows"].as_array().expect("rows");
    let header_at = rows
        .iter()
        .position(|r| {
            r[0] == "Verwaltungen (Rollouts)"
                || r.get(1) == Some(&json!("Verwaltungen (Rollouts)"))
                || r.as_array().is_some_and(|c| c.contains(&json!("Verwaltungen (Rollouts)")))
        })
        .expect("a header row");
    let header: Vec<String> = rows[header_at]
        .as_array()
        .expect("cells")
        .iter()
        .map(|c| c.as_str().unwrap_or_default().to_owned())
        .collect();
    let data = rows[header_at + 1..]
        .iter()
        .map(|r| r.as_array().expect("cells").clone())
        .filter(|r| r[0] != Value::Null && r[0] != "Hinweis")
        .collect();
    (header, data)
}

fn number(v: &Value) -> f64 {
    v.as_f64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or_else(|| panic!("not a number: {v}"))
}

/// Checks one data row (its cells by header) against a progress group, `then` the group at `since`.
fn check_row(cells: &BTreeMap<String, Value>, group: &Value, then: Option<&Value>, what: &str) {
    let n = |h: &str| number(&cells[h]);
    assert_eq!(n("Verwaltungen (Rollouts)"), number(&group["rollouts"]), "{what}: rollouts");
    assert_eq!(n("In Betrieb"), number(&group["inOperation"]), "{what}: in operation");
    assert_eq!(n("Überfällig"), number(&group["overdue"]), "{what}: overdue");
    assert_eq!(n("Blockiert"), number(&group["blocked"]), "{what}: blocked");
    // Who is responsible and what they answered, and coverage: the same definition.
    for (header, field) in [
        ("Zuständig", "responsible"),
        ("Angeboten", "offered"),
        ("Interesse", "interested"),
        ("Abgelehnt", "declined"),
        ("Zurückgestellt", "deferred"),
        ("Eigene Lösung", "ownSolution"),
        ("Keine Antwort", "noAnswer"),
        ("In Anbindung", "onboarding"),
        ("Abdeckung (%)", "coverage"),
        ("Abdeckung Einwohner (%)", "populationCoverage"),
    ] {
        assert_eq!(n(header), number(&group[field]), "{what}: {header}");
    }
    assert!((n("Erledigte Schritte (%)") - number(&group["percentDone"])).abs() <= 0.05, "{what}: percent");
    let mut phases: BTreeMap<String, f64> = BTreeMap::new();
    for c in group["byPhaseStatus"].as_array().expect("phases") {
        *phases.entry(c["phase"].as_str().expect("phase").to_owned()).or_default() += number(&c["count"]);
    }
    let in_row: f64 = cells.iter().filter(|(h, _)| h.starts_with("Phase: ")).map(|(_, v)| number(v)).sum();
    assert_eq!(in_row, phases.values().sum::<f64>(), "{what}: the phases add up to the rollouts per phase");
    // Blocked by category: the columns hold the group's counts (zero where it has none).
    let mut in_columns: Vec<f64> = cells
        .iter()
        .filter(|(h, _)| h.starts_with("Blockiert: "))
        .map(|(_, v)| number(v))
        .filter(|n| *n > 0.0)
        .collect();
    let mut counts: Vec<f64> = group["blockedByCategory"]
        .as_array()
        .expect("categories")
        .iter()
        .map(|c| number(&c["count"]))
        .collect();
    in_columns.sort_by(f64::total_cmp);
    counts.sort_by(f64::total_cmp);
    assert_eq!(in_columns, counts, "{what}: blocked by category");
    if let Some(then) = then {
        assert_eq!(
            n("In Betrieb (Vergleichsdatum)"),
            number(&then["inOperation"]),
            "{what}: in operation then"
        );
        assert_eq!(
            n("Veränderung In Betrieb"),
            number(&group["inOperation"]) - number(&then["inOperation"]),
            "{what}: change"
        );
    }
}

fn by_header(header: &[String], row: &[Value]) -> BTreeMap<String, Value> {
    header.iter().cloned().zip(row.iter().cloned()).collect()
}

#[test]
fn the_programme_report_holds_the_figures_of_progress_in_xlsx_csv_and_print() {
    if !openpyxl_here() {
        return;
    }
    let server = Server::start_demo();
    let head = server.gql(Some(&server.admin), "{ head { position } }", json!({}))["data"]["head"]
        ["position"]
        .as_u64()
        .expect("head");
    let (as_of, since) = (head, head / 2);
    let tmp = tempfile::tempdir().expect("dir");

    let staff = server.issue("authority-staff", &["120520000000"]);
    let path = format!("/reports/programme.xlsx?asOf={as_of}&since={since}");
    assert_eq!(get(&server, &path, Some(&staff)).0, 403, "a staff token is refused");
    assert_eq!(get(&server, &path, None).0, 401);
    assert_eq!(
        get(&server, "/reports/programme.xlsx?asof=1", Some(&server.admin)).0,
        400,
        "an unknown parameter is named"
    );

    let (status, headers, body) = get(&server, &path, Some(&server.admin));
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!(headers["content-type"].contains("spreadsheetml"), "{headers:?}");
    let file = tmp.path().join("bericht.xlsx");
    std::fs::write(&file, &body).expect("write");
    let book = python(READ_XLSX, &file);
    let names: Vec<&String> = book.as_object().expect("sheets").keys().collect();
    assert_eq!(names.len(), 4, "{names:?}");
    for (name, sheet) in book.as_object().expect("sheets") {
        let rows = sheet["rows"].as_array().expect("rows");
        let line = |label: &str| {
            rows.iter().find(|r| r[0] == label).map(|r| r[1].as_str().unwrap_or_default().to_owned())
        };
        assert!(line("Stand").is_some_and(|s| s.contains("Uhr")), "{name}: the as-of date");
        assert!(
            line("Datenquelle").is_some_and(|s| s.contains(&format!("Position {as_of}"))),
            "{name}: the data source"
        );
        assert!(
            sheet["freeze"].as_str().is_some_and(|f| f.starts_with('A') && f != "A1"),
            "{name}: the header row is frozen: {}",
            sheet["freeze"]
        );
    }

    let now_s = progress(&server, &format!("groupBy: SERVICE, asOf: \"{as_of}\""));
    let then_s = progress(&server, &format!("groupBy: SERVICE, asOf: \"{since}\""));
    let (header, rows) = table(&book["Dienste"]);
    assert_eq!(rows.len(), now_s.len(), "one row per service with rollouts");
    for row in &rows {
        let cells = by_header(&header, row);
        let key = cells["Dienst"].as_str().expect("key");
        check_row(&cells, &now_s[key], then_s.get(key).or(Some(&json!({ "inOperation": 0 }))), key);
    }
    let now_k = progress(&server, &format!("groupBy: LANDKREIS, asOf: \"{as_of}\""));
    let then_k = progress(&server, &format!("groupBy: LANDKREIS, asOf: \"{since}\""));
    let (header, rows) = table(&book["Landkreise"]);
    assert_eq!(rows.len(), now_k.len());
    for row in &rows {
        let cells = by_header(&header, row);
        let key = cells["ARS"].as_str().expect("ars");
        check_row(&cells, &now_k[key], then_k.get(key).or(Some(&json!({ "inOperation": 0 }))), key);
    }
    let (header, rows) = table(&book["Dienste x Landkreise"]);
    let mut checked = 0;
    for service in now_s.keys() {
        let now =
            progress(&server, &format!("groupBy: LANDKREIS, serviceKey: \"{service}\", asOf: \"{as_of}\""));
        let then =
            progress(&server, &format!("groupBy: LANDKREIS, serviceKey: \"{service}\", asOf: \"{since}\""));
        for (kreis, group) in &now {
            let row = rows
                .iter()
                .find(|r| r[0] == service.as_str() && r[1] == kreis.as_str())
                .unwrap_or_else(|| panic!("a row {service} × {kreis}"));
            check_row(
                &by_header(&header, row),
                group,
                then.get(kreis).or(Some(&json!({ "inOperation": 0 }))),
                &format!("{service} × {kreis}"),
            );
            checked += 1;
        }
    }
    assert_eq!(checked, rows.len(), "no other rows");
    // A programme's line: the sum of its services' figures.
    let (header, rows) = table(&book["Programme"]);
    for (label, program) in [("EfA-Nachnutzung", "EFA"), ("Formularserver (ZV DIKOM)", "FORMULARSERVER")] {
        let groups = progress(&server, &format!("groupBy: SERVICE, program: {program}, asOf: \"{as_of}\""));
        let sum = |f: &str| groups.values().map(|g| number(&g[f])).sum::<f64>();
        let row = rows.iter().find(|r| r[0] == label).expect("a programme row");
        let cells = by_header(&header, row);
        for (h, f) in [
            ("Verwaltungen (Rollouts)", "rollouts"),
            ("In Betrieb", "inOperation"),
            ("Überfällig", "overdue"),
            ("Blockiert", "blocked"),
        ] {
            assert_eq!(number(&cells[h]), sum(f), "{label}: {h}");
        }
    }
    assert!(number(&by_header(&header, &rows[0])["Verwaltungen (Rollouts)"]) > 0.0, "the demo has rollouts");

    // The CSV: the same figures.
    let (status, headers, body) = get(&server, &path.replace(".xlsx", ".csv"), Some(&server.admin));
    assert_eq!(status, 200);
    assert!(headers["content-type"].starts_with("text/csv"));
    let file = tmp.path().join("bericht.csv");
    std::fs::write(&file, &body).expect("write");
    let rows = python(READ_CSV, &file);
    let services: Vec<&Value> =
        rows.as_array().expect("rows").iter().filter(|r| r["Sicht"] == "Dienste").collect();
    assert_eq!(services.len(), now_s.len());
    for r in services {
        let cells: BTreeMap<String, Value> = r
            .as_object()
            .expect("row")
            .iter()
            .filter(|(_, v)| *v != "")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let key = cells["Dienst"].as_str().expect("key");
        check_row(
            &cells,
            &now_s[key],
            then_s.get(key).or(Some(&json!({ "inOperation": 0 }))),
            &format!("csv {key}"),
        );
    }

    // The printable page, in Chromium: A4 landscape when printed, and a screenshot.
    if chromium_available() {
        let browser = Browser::launch();
        let mut page = browser.open("about:blank");
        page.call(
            "Network.setExtraHTTPHeaders",
            json!({ "headers": { "Authorization": format!("Bearer {}", server.admin) } }),
        );
        page.goto(&format!("http://{}{}", server.address, path.replace(".xlsx", ".html")));
        page.wait_for(
            "document.querySelectorAll('section table tbody tr').length > 0",
            20,
            "the report's tables",
        );
        let title = page.eval("document.querySelector('h1').textContent");
        assert_eq!(title, json!("Programmbericht OZG-Rollout Brandenburg"));
        page.screenshot(&screenshot_dir().join("programmbericht.png"), true);
        let pdf = page.call("Page.printToPDF", json!({ "preferCSSPageSize": true }));
        let bytes = base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            pdf["data"].as_str().expect("pdf"),
        )
        .expect("base64");
        let text = String::from_utf8_lossy(&bytes);
        // A4 landscape is 841.89 × 595.28 points.
        assert!(
            text.contains("/MediaBox [0 0 841.") || text.contains("/MediaBox [0 0 842"),
            "A4 landscape pages"
        );
        std::fs::write(screenshot_dir().join("programmbericht.pdf"), &bytes).expect("keep the pdf");
    }
}

#[test]
fn every_list_downloads_as_xlsx_with_its_filter_and_says_when_it_is_cut() {
    if !openpyxl_here() {
        return;
    }
    let server = Server::start_demo();
    let tmp = tempfile::tempdir().expect("dir");
    let read = |path: &str, token: &str| {
        let (status, headers, body) = get(&server, path, Some(token));
        assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
        let file = tmp.path().join("liste.xlsx");
        std::fs::write(&file, &body).expect("write");
        (headers, python(READ_XLSX, &file))
    };
    // Rollouts of one service, cut at 5: the first five of the same filter, and a note.
    let (headers, book) = read("/exports/rollouts.xlsx?serviceKey=wohngeld&limit=5", &server.admin);
    assert_eq!(headers.get("x-rows-cut").map(String::as_str), Some("5"));
    let sheet = &book["Rollouts"];
    let rows = sheet["rows"].as_array().expect("rows");
    let header_at = rows.iter().position(|r| r[0] == "Rollout").expect("header");
    let ids: Vec<&str> = rows[header_at + 1..]
        .iter()
        .filter(|r| r[0] != Value::Null && r[0] != "Hinweis")
        .map(|r| r[0].as_str().expect("id"))
        .collect();
    let api = server.gql(
        Some(&server.admin),
        "{ rollouts(filter: { serviceKey: \"wohngeld\" }, first: 5) { totalCount edges { node { id } } } }",
        json!({}),
    );
    let expected: Vec<&str> = api["data"]["rollouts"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"]["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, expected);
    let note = rows.iter().find(|r| r[0] == "Hinweis").expect("a note that it was cut");
    assert!(
        note[1]
            .as_str()
            .expect("text")
            .contains(&format!("von {} Zeilen", api["data"]["rollouts"]["totalCount"])),
        "{note:?}"
    );

    // The limit: 1 to 100,000 rows; beyond it the request is refused, naming it.
    for bad in ["0", "100001", "viele"] {
        let (status, _, body) =
            get(&server, &format!("/exports/rollouts.xlsx?limit={bad}"), Some(&server.admin));
        assert_eq!(status, 400, "limit={bad}");
        assert!(
            String::from_utf8_lossy(&body).contains("`limit` must be 1 to 100000"),
            "{}",
            String::from_utf8_lossy(&body)
        );
    }

    // The audit log for a staff token: only its administration; without one it is refused.
    let ars = "120520000000";
    let staff = server.issue("authority-staff", &[ars]);
    assert_eq!(get(&server, "/exports/events.xlsx", Some(&staff)).0, 403);
    assert_eq!(get(&server, "/exports/events.xlsx?color=red", Some(&staff)).0, 400);
    let (headers, book) = read(&format!("/exports/events.xlsx?ars={ars}"), &staff);
    assert!(!headers.contains_key("x-rows-cut"));
    let rows = book["Protokoll"]["rows"].as_array().expect("rows");
    let header_at = rows.iter().position(|r| r[0] == "Position").expect("header");
    let streams: Vec<&str> = rows[header_at + 1..].iter().map(|r| r[3].as_str().expect("stream")).collect();
    assert!(!streams.is_empty());
    assert!(streams.iter().all(|s| s.ends_with(ars)), "only its administration: {streams:?}");
    assert!(rows[header_at + 1..].iter().all(|r| r[0].is_number()), "positions are numbers");

    // The network views: peers and solutions, as the queries answer them for this token.
    let (_, book) = read("/exports/peers.xlsx?serviceKey=wohngeld", &staff);
    let rows = book["Netzwerk"]["rows"].as_array().expect("rows");
    let header_at = rows.iter().position(|r| r[0] == "ARS").expect("header");
    let got: Vec<&Value> = rows[header_at + 1..].iter().map(|r| &r[0]).collect();
    let api =
        server.gql(Some(&staff), "{ peers(serviceKey: \"wohngeld\") { authority { ars } } }", json!({}));
    let expected: Vec<&Value> =
        api["data"]["peers"].as_array().expect("peers").iter().map(|p| &p["authority"]["ars"]).collect();
    assert!(!expected.is_empty());
    assert_eq!(got, expected);
    let (_, book) = read("/exports/solutions.xlsx?query=Zertifikate", &staff);
    let rows = book["Lösungen"]["rows"].as_array().expect("rows");
    let header_at = rows.iter().position(|r| r[0] == "Gelöst am").expect("header");
    let got: Vec<&Value> = rows[header_at + 1..].iter().map(|r| &r[6]).collect();
    let api = server.gql(
        Some(&staff),
        "{ solutions(query: \"Zertifikate\", first: 500) { nodes { solution } } }",
        json!({}),
    );
    let expected: Vec<&Value> =
        api["data"]["solutions"]["nodes"].as_array().expect("nodes").iter().map(|n| &n["solution"]).collect();
    assert!(!expected.is_empty(), "the demo solved a certificate problem");
    assert_eq!(got, expected);

    // Tasks: the same as the query.
    let (_, book) = read("/exports/tasks.xlsx", &staff);
    let rows = book["Aufgaben"]["rows"].as_array().expect("rows");
    let header_at = rows.iter().position(|r| r[0] == "Art").expect("header");
    let got: Vec<(String, String)> = rows[header_at + 1..]
        .iter()
        .map(|r| (r[1].as_str().expect("r").to_owned(), r[4].as_str().expect("s").to_owned()))
        .collect();
    let api = server.all_pages(&staff, "query($a: String) { page: tasks(first: 500, after: $a) { pageInfo { hasNextPage endCursor } edges { node { rollout { id } step { id } } } } }", "page");
    let expected: Vec<(String, String)> = api
        .iter()
        .map(|n| {
            (
                n["rollout"]["id"].as_str().expect("r").to_owned(),
                n["step"]["id"].as_str().expect("s").to_owned(),
            )
        })
        .collect();
    assert_eq!(got, expected);
}

/// The Steckbrief of an administration (XLSX read with openpyxl): one row per service it is
/// responsible for or has a rollout of, its answers and states as the API has them; its own
/// staff and managers may read it, another administration's staff not. And the report's
/// targets: the gap of the demo's Wohngeld target as `targets` says.
#[test]
fn the_steckbrief_and_the_targets_in_the_report() {
    if !openpyxl_here() {
        return;
    }
    let server = Server::start_demo();
    let tmp = tempfile::tempdir().expect("dir");
    let potsdam = "120540000000";
    let (status, headers, body) =
        get(&server, &format!("/reports/steckbrief/{potsdam}.xlsx"), Some(&server.admin));
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!(headers["content-disposition"].contains("steckbrief-120540000000.xlsx"));
    let file = tmp.path().join("steckbrief.xlsx");
    std::fs::write(&file, &body).expect("write");
    let book = python(READ_XLSX, &file);
    let rows = book["Steckbrief"]["rows"].as_array().expect("rows").clone();
    assert!(rows.iter().any(|r| r[0] == "Steckbrief" && r[1] == "Landeshauptstadt Potsdam"), "{rows:?}");
    let at = rows.iter().position(|r| r[0] == "Dienst").expect("a header row");
    let header: Vec<String> = rows[at]
        .as_array()
        .expect("cells")
        .iter()
        .map(|c| c.as_str().unwrap_or_default().to_owned())
        .collect();
    let data: Vec<BTreeMap<String, Value>> =
        rows[at + 1..].iter().map(|r| by_header(&header, r.as_array().expect("cells"))).collect();
    // Every rollout of Potsdam is a row, with its status in German.
    let api = server.gql(
        Some(&server.admin),
        &format!("{{ rollouts(filter: {{ ars: \"{potsdam}\" }}) {{ edges {{ node {{ serviceKey status }} }} }} services(first: 500) {{ edges {{ node {{ key name }} }} }} }}"),
        json!({}),
    );
    let names: BTreeMap<String, String> = api["data"]["services"]["edges"]
        .as_array()
        .expect("services")
        .iter()
        .map(|e| {
            (
                e["node"]["key"].as_str().expect("key").to_owned(),
                e["node"]["name"].as_str().expect("name").to_owned(),
            )
        })
        .collect();
    let german = |s: &str| match s {
        "not_started" => "nicht begonnen",
        "in_progress" => "in Arbeit",
        "blocked" => "blockiert",
        "live" => "in Betrieb",
        _ => "beendet",
    };
    let rollouts = api["data"]["rollouts"]["edges"].as_array().expect("rollouts");
    assert!(!rollouts.is_empty());
    for r in rollouts {
        let name = &names[r["node"]["serviceKey"].as_str().expect("key")];
        let row = data
            .iter()
            .find(|d| d["Dienst"] == name.as_str())
            .unwrap_or_else(|| panic!("{name} in {data:?}"));
        assert_eq!(row["Status"], json!(german(r["node"]["status"].as_str().expect("status"))), "{name}");
    }
    assert!(
        data.iter().all(|d| d["Zuständig"] == "ja" || d["Status"] != "kein Rollout"),
        "only what concerns it"
    );
    // Its own staff may read it; another administration's staff may not; an unknown key is 404.
    let own = server.issue("authority-staff", &[potsdam]);
    assert_eq!(get(&server, &format!("/reports/steckbrief/{potsdam}.csv"), Some(&own)).0, 200);
    let other = server.issue("authority-staff", &["120520000000"]);
    let (status, _, body) = get(&server, &format!("/reports/steckbrief/{potsdam}.html"), Some(&other));
    assert_eq!(status, 403, "{}", String::from_utf8_lossy(&body));
    assert_eq!(get(&server, "/reports/steckbrief/129999999999.html", Some(&server.admin)).0, 404);

    // The report's services sheet: the target and its gap, as `targets` says.
    let targets = server.gql(Some(&server.admin), "{ targets { scope gap } }", json!({}));
    let gap = targets["data"]["targets"]
        .as_array()
        .expect("targets")
        .iter()
        .find(|t| t["scope"] == "service:wohngeld")
        .expect("the demo's Wohngeld target")["gap"]
        .clone();
    let (status, _, body) = get(&server, "/reports/programme.xlsx", Some(&server.admin));
    assert_eq!(status, 200);
    let file = tmp.path().join("bericht.xlsx");
    std::fs::write(&file, &body).expect("write");
    let book = python(READ_XLSX, &file);
    let (header, rows) = table(&book["Dienste"]);
    let wohngeld = rows.iter().find(|r| r[0] == "wohngeld").expect("wohngeld");
    let cells = by_header(&header, wohngeld);
    assert_eq!(cells["Ziel"], json!("19 in Betrieb"));
    assert_eq!(number(&cells["Lücke zum Ziel"]), number(&gap));
    let (header, rows) = table(&book["Programme"]);
    let efa = by_header(&header, rows.iter().find(|r| r[0] == "EfA-Nachnutzung").expect("EfA"));
    assert_eq!(efa["Ziel"], json!("60 % Abdeckung"));
}
