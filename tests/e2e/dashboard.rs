//! The dashboard and the explorer in headless Chromium (Debian's `chromium`, driven over the
//! DevTools protocol by `support::browser`) against the real binary with its demo data: every
//! administration in the overview, a click opens a rollout, a step completed there changes the
//! cell in a second open page without a reload, the map, the burn-up, the audit view with its
//! CSV export, a staff token's limited view — and no request leaves the machine.
//!
//! Screenshots go to `target/screenshots/` (or `ROLLOUT_SCREENSHOTS`) for a person to look at.
//! Without chromium the tests say they skipped; `ROLLOUT_REQUIRE_CHROMIUM=1` (set by CI) makes
//! its absence a failure.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpStream;

use serde_json::{json, Value};

use crate::support::browser::{chromium_available, screenshot_dir, Browser, Page};
use crate::support::Server;

/// Every rollout the token sees: id → (ars, service, status, stepsDone).
/// The Land's and ZV DIKOM's keys: their rollouts are the services' central rollouts.
const CENTRAL: [&str; 2] = ["120000000000", "129990000000"];

fn rollouts(server: &Server, token: &str) -> BTreeMap<String, (String, String, String, u64)> {
    let query = "query($a: String) { rollouts(first: 500, after: $a) { edges { node { id ars serviceKey status stepsDone } } pageInfo { hasNextPage endCursor } } }";
    server
        .all_pages(token, query, "rollouts")
        .iter()
        .map(|n| {
            let s = |k: &str| n[k].as_str().unwrap_or_default().to_owned();
            (s("id"), (s("ars"), s("serviceKey"), s("status"), n["stepsDone"].as_u64().unwrap_or(0)))
        })
        .collect()
}

/// Opens the dashboard signed in with `token` and waits for the overview.
fn open_overview(browser: &Browser, server: &Server, token: &str) -> Page {
    let mut page = browser.open_signed_in(&format!("http://{}/#token={token}", server.address));
    // Staff start on their tasks; the overview is a click away.
    page.wait_for(
        "document.getElementById('whoami') && !document.getElementById('whoami').hidden",
        60,
        "document.body.innerText.slice(0, 500)",
    );
    page.eval("location.hash = '#/uebersicht'");
    page.wait_for(
        "document.querySelectorAll('#matrix tr[data-ars]').length > 0",
        60,
        "document.body.innerText.slice(0, 2000)",
    );
    page
}

/// The explorer at /graphiql loads in headless Chromium and runs a query; the page names no
/// other address and requests nothing from anywhere else.
#[test]
fn the_explorer_runs_a_query_in_headless_chromium_without_leaving_the_machine() {
    if !chromium_available() {
        return;
    }
    let server = Server::start();
    let mut s = TcpStream::connect(&server.address).expect("connect");
    write!(s, "GET /graphiql HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").expect("send");
    let mut page = String::new();
    s.read_to_string(&mut page).expect("read");
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(
        !page.contains("http://") && !page.contains("https://") && !page.contains("//cdn"),
        "the page names no other address"
    );
    let query: String = "{ me { role } }".bytes().map(|b| format!("%{b:02X}")).collect();
    let url = format!("http://{}/graphiql#token={}&query={query}", server.address, server.admin);
    let browser = Browser::launch();
    let mut page = browser.open(&url);
    // The link's token is used only once „Verwenden“ is pressed.
    page.wait_for(
        "document.getElementById('link-token-note') !== null",
        30,
        "document.body.innerText.slice(0, 500)",
    );
    page.click("#token-form button[type=submit]");
    // GraphiQL itself (vendored): its run button runs the query with the token.
    page.wait_for(
        "!!document.querySelector('.graphiql-execute-button')",
        30,
        "document.body.innerText.slice(0, 1000)",
    );
    page.click(".graphiql-execute-button");
    page.wait_for(
        "(document.querySelector('.graphiql-response') || {}).textContent.includes('\"admin\"')",
        30,
        "(document.querySelector('.graphiql-response') || document.body).textContent.slice(0, 1000)",
    );
    // Autocompletion from the schema (introspection): typing in the editor offers its fields —
    // once the schema has arrived, which the query's answer may overtake: the documentation
    // explorer shows the root type when it has.
    page.eval("[...document.querySelectorAll('.graphiql-sidebar button')].find(b => (b.getAttribute('aria-label') || '').includes('Documentation')).click()");
    page.wait_for(
        "!!document.querySelector('.graphiql-doc-explorer') && document.querySelector('.graphiql-doc-explorer').textContent.includes('Query')",
        30,
        "(document.querySelector('.graphiql-doc-explorer') || document.body).textContent.slice(0, 500)",
    );
    page.eval(
        "(() => { const cm = document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror; cm.setValue('{ \\n  \\n}'); cm.focus(); cm.setCursor({ line: 1, ch: 2 }); })()",
    );
    page.type_text("hea");
    page.wait_for(
        "!!document.querySelector('.CodeMirror-hints') && document.querySelector('.CodeMirror-hints').textContent.includes('head')",
        30,
        "(document.querySelector('.CodeMirror-hints') || document.body).textContent.slice(0, 500)",
    );
    // A subscription over graphql-transport-ws, the token in connection_init.
    page.eval(
        "(() => { const cm = document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror; cm.setValue('subscription { events(afterPosition: 0) { position type } }'); })()",
    );
    // GraphiQL parses the edited document before it knows that it is a subscription.
    page.settle(800);
    page.click(".graphiql-execute-button");
    page.wait_for(
        "(document.querySelector('.graphiql-response') || {}).textContent.includes('\"position\"')",
        30,
        "(document.querySelector('.graphiql-response') || document.body).textContent.slice(0, 1000)",
    );
    page.screenshot(&screenshot_dir().join("explorer.png"), false);
    browser.assert_nothing_left_the_machine();
}

/// The overview of the demo data shows every administration that has a rollout, grouped by
/// Landkreis; a staff token sees only its administration — in the overview, on the map and in
/// the audit view.
#[test]
fn the_overview_shows_every_administration_and_a_staff_token_only_its_own() {
    if !chromium_available() {
        return;
    }
    let server = Server::start_demo();
    // The central rollouts (the Land's, the association's model) are no administrations'.
    let mut all = rollouts(&server, &server.admin);
    all.retain(|_, (ars, ..)| !CENTRAL.contains(&ars.as_str()));
    let arss: BTreeSet<&String> = all.values().map(|(ars, ..)| ars).collect();
    assert!(arss.len() <= 207, "never more than the Land's 207 administrations: {}", arss.len());
    let browser = Browser::launch();
    let mut page = open_overview(&browser, &server, &server.admin);
    let central = page.eval("document.getElementById('central').innerText");
    assert!(
        central.as_str().is_some_and(|t| t.contains("Zentrale Rollouts") && t.contains("Land Brandenburg")),
        "the central rollouts are named apart: {central}"
    );
    let rows = page.eval("[...document.querySelectorAll('#matrix tr[data-ars]')].map(r => r.dataset.ars)");
    let shown: BTreeSet<String> =
        rows.as_array().expect("rows").iter().filter_map(|v| v.as_str().map(String::from)).collect();
    assert_eq!(shown.len(), arss.len(), "one row per administration with a rollout");
    assert!(shown.iter().all(|a| arss.contains(a)));
    let cells = page.eval("document.querySelectorAll('#matrix button[data-id]').length");
    assert_eq!(cells.as_u64(), Some(all.len() as u64), "one cell per rollout");
    let text =
        page.eval("document.getElementById('matrix').innerText").as_str().unwrap_or_default().to_owned();
    // A municipality of Barnim with a rollout, by its name from the catalogue.
    let member =
        arss.iter().find(|a| a.starts_with("12060") && !a.ends_with("0000000")).expect("one in Barnim");
    let names = server.all_pages(
        &server.admin,
        "query($a: String) { authorities(first: 500, after: $a) { edges { node { ars name } } pageInfo { hasNextPage endCursor } } }",
        "authorities",
    );
    let name = names.iter().find(|n| n["ars"] == member.as_str()).expect("named")["name"]
        .as_str()
        .expect("name")
        .to_owned();
    assert!(
        text.contains("Landkreis Barnim") && text.contains(&name),
        "grouped by Landkreis, with names: {name}"
    );
    // The filters narrow the matrix: one Landkreis.
    page.eval("(() => { const s = document.getElementById('f-kreis'); s.value = '120600000000'; s.dispatchEvent(new Event('change')); })()");
    let barnim = page.eval("[...document.querySelectorAll('#matrix tr[data-ars]')].map(r => r.dataset.ars)");
    let barnim: Vec<&str> = barnim.as_array().expect("rows").iter().filter_map(Value::as_str).collect();
    assert!(!barnim.is_empty() && barnim.len() < shown.len(), "{barnim:?}");
    assert!(barnim.iter().all(|a| a.starts_with("1206")), "only Barnim: {barnim:?}");
    page.screenshot(&screenshot_dir().join("overview.png"), false);

    let staff = server.issue("authority-staff", &["120540000000"]);
    let mut own = open_overview(&browser, &server, &staff);
    let rows = own.eval("[...document.querySelectorAll('#matrix tr[data-ars]')].map(r => r.dataset.ars)");
    assert_eq!(rows, json!(["120540000000"]), "a staff token sees its administration only");
    own.eval("location.hash = '#/karte'");
    own.wait_for(
        "document.querySelectorAll('#map path').length > 100",
        30,
        "document.body.innerText.slice(0, 1000)",
    );
    let with_figures = own.eval("[...document.querySelectorAll('#map path')].filter(p => p.dataset.all !== '0').map(p => p.dataset.ars)");
    assert_eq!(
        with_figures,
        json!(["120540000000"]),
        "the map shows figures for its own administration only"
    );
    own.eval("location.hash = '#/audit'");
    own.wait_for(
        "document.querySelectorAll('#audit-rows tr').length > 0",
        30,
        "document.body.innerText.slice(0, 1000)",
    );
    let subjects =
        own.eval("[...document.querySelectorAll('#audit-rows tr td:nth-child(5)')].map(td => td.innerText)");
    assert!(
        subjects
            .as_array()
            .expect("rows")
            .iter()
            .all(|s| s.as_str().unwrap_or_default().ends_with("120540000000")),
        "the audit view lists its own administration's events only: {subjects}"
    );
    own.settle(200);
    page.settle(200);
    browser.assert_nothing_left_the_machine();
}

/// Clicking a cell opens that rollout; a step completed there (through the form, with its
/// evidence) changes the cell in a second open page without a reload; a refused action says why.
#[test]
fn completing_a_step_on_the_rollout_page_updates_a_second_open_page_live() {
    if !chromium_available() {
        return;
    }
    let server = Server::start_demo();
    // A rollout with a step the admin may complete now.
    let r = server.gql(Some(&server.admin), "{ rollouts(first: 500, filter: { status: \"in_progress\" }) { edges { node { id stepsDone steps { id actions } } } } }", json!({}));
    let (id, step, done) = r["data"]["rollouts"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .find_map(|e| {
            let n = &e["node"];
            let step = n["steps"]
                .as_array()?
                .iter()
                .find(|s| s["actions"].as_array().is_some_and(|a| a.iter().any(|a| a == "completeStep")))?;
            Some((n["id"].as_str()?.to_owned(), step["id"].as_str()?.to_owned(), n["stepsDone"].as_u64()?))
        })
        .expect("a rollout with a step to complete");
    let browser = Browser::launch();
    let mut watcher = open_overview(&browser, &server, &server.admin);
    watcher.eval("window.notReloaded = true");
    let cell = format!("#matrix button[data-id='{id}']");
    assert_eq!(
        watcher.eval(&format!("document.querySelector(\"{cell}\").dataset.done")),
        json!(done.to_string())
    );

    let mut page = open_overview(&browser, &server, &server.admin);
    page.click(&cell);
    page.wait_for(
        &format!("document.getElementById('inhalt').dataset.rollout === '{id}'"),
        30,
        "location.hash",
    );
    page.wait_for("document.querySelectorAll('#steps tr[data-step]').length > 0 && document.querySelectorAll('#history li').length > 0", 30, "document.body.innerText.slice(0, 1000)");
    page.screenshot(&screenshot_dir().join("rollout.png"), true);

    // A refused action says why and changes nothing: reopening needs a reason, and blanks are none.
    let reopen = page.eval("(() => { const b = document.querySelector('#steps button[data-action=reopenStep]'); return b ? b.closest('tr').dataset.step : null; })()");
    if let Some(reopen) = reopen.as_str() {
        let version = page.eval("document.getElementById('inhalt').dataset.version");
        page.click(&format!("#steps tr[data-step='{reopen}'] button[data-action=reopenStep]"));
        page.wait_for("document.getElementById('action-form')", 10, "document.body.innerText.slice(0, 500)");
        page.eval("document.getElementById('reason').value = '   '");
        page.click("#action-form button[type=submit]");
        page.wait_for(
            "document.getElementById('rollout-error').textContent.length > 0",
            10,
            "document.body.innerText.slice(0, 1000)",
        );
        let error = page.eval("document.getElementById('rollout-error').textContent");
        assert!(
            error.as_str().unwrap_or_default().contains("reason"),
            "the refusal names what is missing: {error}"
        );
        assert_eq!(
            page.eval("document.getElementById('inhalt').dataset.version"),
            version,
            "nothing changed"
        );
        page.click("#action-form button.secondary");
    }

    // Complete the step through its form, with valid evidence for each field.
    page.click(&format!("#steps tr[data-step='{step}'] button[data-action=completeStep]"));
    page.wait_for("document.getElementById('action-form')", 10, "document.body.innerText.slice(0, 500)");
    let note = page.eval("document.getElementById('reason-note').textContent");
    assert!(note.as_str().unwrap_or_default().contains("keine personenbezogenen Daten"), "{note}");
    let ars = id.split_once(':').expect("id").1;
    page.eval(&format!(r#"(() => {{
        const values = {{ date: "2026-11-02", url: "https://service.brandenburg.de/", uuid: "4f6bd8b0-6b5e-4c7a-9d1e-2f0c1a7e3b11",
          leika: "99107023017000", ars: "{ars}", document: "AZ 2026/1", number: "3", text: "Frau Test" }};
        for (const e of document.querySelectorAll('#action-form [data-type]')) {{
          if (e.dataset.type === 'boolean') e.checked = true;
          else if (e.tagName !== 'SELECT') e.value = values[e.dataset.type] || 'Test';
        }}
        document.getElementById('reason').value = 'im Browser-Test erledigt';
      }})()"#));
    page.click("#action-form button[type=submit]");
    page.wait_for(
        &format!("document.querySelector(\"#steps tr[data-step='{step}']\").dataset.status !== 'ready' && document.querySelector(\"#steps tr[data-step='{step}']\").dataset.status !== 'in_progress'"),
        30,
        "document.getElementById('rollout-error').textContent + ' | ' + document.body.innerText.slice(0, 800)",
    );
    let history = page.eval("document.getElementById('history').innerText");
    assert!(
        history.as_str().unwrap_or_default().contains("im Browser-Test erledigt"),
        "the history shows the comment: {history}"
    );

    // The other page changes without a reload.
    watcher.wait_for(
        &format!("document.querySelector(\"{cell}\").dataset.done === '{}'", done + 1),
        30,
        &format!("document.querySelector(\"{cell}\").outerHTML"),
    );
    assert_eq!(watcher.eval("window.notReloaded === true"), json!(true), "updated in place, not reloaded");
    // And the API agrees.
    let after = server.gql(
        Some(&server.admin),
        "query($id: ID!) { rollout(id: $id) { stepsDone steps { id status completedBy { name } } } }",
        json!({ "id": id }),
    );
    assert_eq!(after["data"]["rollout"]["stepsDone"], json!(done + 1), "{after}");

    // The demo's erased contact reads "[gelöscht]" where a rollout names it, and a readable
    // contact by name; the page passes the accessibility audit.
    let erased = server.gql(
        Some(&server.admin),
        "{ events(filter: { types: [\"PersonErased\"] }) { edges { node { data } } } }",
        json!({}),
    );
    let gone = erased["data"]["events"]["edges"][0]["node"]["data"]["personId"]
        .as_str()
        .unwrap_or_else(|| panic!("{erased}"))
        .to_owned();
    let ars =
        server.gql(Some(&server.admin), "query($id: ID!) { person(id: $id) { ars } }", json!({ "id": gone }));
    let ars = ars["data"]["person"]["ars"].as_str().unwrap_or_else(|| panic!("{ars}")).to_owned();
    let all = server.gql(Some(&server.admin), "query($a: String!) { rollouts(first: 500, filter: { ars: $a }) { edges { node { id steps { evidence } } } } }", json!({ "a": ars }));
    let naming = all["data"]["rollouts"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .find(|e| e["node"]["steps"].to_string().contains(&gone))
        .and_then(|e| e["node"]["id"].as_str())
        .unwrap_or_else(|| panic!("a rollout names the erased contact {gone}"))
        .to_owned();
    page.eval(&format!("location.hash = '#/rollout/{naming}'"));
    page.wait_for(&format!("document.getElementById('inhalt').dataset.rollout === '{naming}' && document.querySelectorAll('#steps dl.evidence').length > 0"), 30, "document.body.innerText.slice(0, 800)");
    let shown = page.eval("document.getElementById('steps').innerText");
    let shown = shown.as_str().unwrap_or_default();
    assert!(shown.contains("[gelöscht]"), "the erased contact: {shown}");
    assert!(!shown.contains(&gone), "a name, never the id: {shown}");
    assert_eq!(page.accessibility_problems(), Vec::<String>::new());

    // The administration's persons: the erased one as such; an admin erases another there.
    page.eval(&format!("location.hash = '#/verwaltung/{ars}'"));
    page.wait_for(
        "document.querySelectorAll('#persons-table tr[data-person]').length >= 2",
        30,
        "document.body.innerText.slice(0, 800)",
    );
    let erased_row =
        page.eval(&format!("document.querySelector(\"#persons-table tr[data-person='{gone}']\").innerText"));
    assert!(erased_row.as_str().unwrap_or_default().contains("[gelöscht]"), "{erased_row}");
    let other =
        page.eval("document.querySelector(\"#persons-table tr[data-erased='false']\").dataset.person");
    let other = other.as_str().expect("a readable contact").to_owned();
    page.click(&format!("#persons-table tr[data-person='{other}'] button[data-action=erasePerson]"));
    page.wait_for("document.getElementById('person-form')", 10, "document.body.innerText.slice(0, 500)");
    assert_eq!(page.accessibility_problems(), Vec::<String>::new());
    page.eval("document.getElementById('person-reason').value = 'Antrag nach Art. 17 DSGVO (Browser-Test)'");
    page.click("#person-form button[type=submit]");
    page.wait_for(
        &format!(
            "document.querySelector(\"#persons-table tr[data-person='{other}']\").dataset.erased === 'true'"
        ),
        30,
        "document.body.innerText.slice(0, 800)",
    );
    let api = server.gql(
        Some(&server.admin),
        "query($id: ID!) { person(id: $id) { name erased erasureReason } }",
        json!({ "id": other }),
    );
    assert_eq!(
        api["data"]["person"],
        json!({ "name": "[gelöscht]", "erased": true, "erasureReason": "Antrag nach Art. 17 DSGVO (Browser-Test)" }),
        "{api}"
    );
    watcher.settle(200);
    page.settle(200);
    browser.assert_nothing_left_the_machine();
}

/// The map: every administration drawn, coloured by the share of its live rollouts (the same
/// figures the API gives), a click opens the administration; the Landkreis layer; the
/// attribution the licence asks for.
#[test]
fn the_map_shows_each_administrations_live_share_and_opens_it() {
    if !chromium_available() {
        return;
    }
    let server = Server::start_demo();
    let all = rollouts(&server, &server.admin);
    let mut expected: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for (ars, _, status, _) in all.values() {
        if status == "cancelled" {
            continue;
        }
        let e = expected.entry(ars.clone()).or_default();
        e.1 += 1;
        e.0 += u64::from(status == "live");
    }
    let browser = Browser::launch();
    let mut page = open_overview(&browser, &server, &server.admin);
    page.eval("location.hash = '#/karte'");
    page.wait_for(
        "document.querySelectorAll('#map path[data-live]').length === 193",
        30,
        "document.querySelectorAll('#map path').length",
    );
    let drawn = page.eval("Object.fromEntries([...document.querySelectorAll('#map path')].filter(p => p.dataset.all !== '0').map(p => [p.dataset.ars, [Number(p.dataset.live), Number(p.dataset.all)]]))");
    let drawn: BTreeMap<String, (u64, u64)> = serde_json::from_value::<BTreeMap<String, [u64; 2]>>(drawn)
        .expect("figures")
        .into_iter()
        .map(|(k, [l, a])| (k, (l, a)))
        .collect();
    let expected_mapped: BTreeMap<String, (u64, u64)> =
        expected.iter().filter(|(ars, _)| drawn.contains_key(*ars)).map(|(k, v)| (k.clone(), *v)).collect();
    assert_eq!(drawn, expected_mapped, "the map's figures are the API's");
    assert!(drawn.len() >= 150, "most administrations have rollouts in the demo: {}", drawn.len());
    assert!(drawn.values().any(|(l, _)| *l > 0), "some are live");
    let attribution = page.eval("document.querySelector('figcaption.attribution').innerText");
    assert!(attribution.as_str().unwrap_or_default().contains("© GeoBasis-DE / BKG"), "{attribution}");
    page.screenshot(&screenshot_dir().join("map.png"), false);
    // Hover or focus shows name and figures; a click opens the administration's rollouts.
    let target = drawn.keys().next().expect("one").clone();
    page.eval(&format!("document.querySelector(\"#map path[data-ars='{target}']\").focus()"));
    let info = page.eval("document.getElementById('map-info').innerText");
    assert!(info.as_str().unwrap_or_default().contains("Anbindungen in Betrieb"), "{info}");
    page.eval(&format!("document.querySelector(\"#map path[data-ars='{target}']\").dispatchEvent(new MouseEvent('click', {{ bubbles: true }}))"));
    page.wait_for(&format!("location.hash === '#/verwaltung/{target}'"), 10, "location.hash");
    page.wait_for(
        "document.querySelectorAll('#authority-rollouts tbody tr').length > 0",
        10,
        "document.body.innerText.slice(0, 500)",
    );
    let listed = page.eval("document.querySelectorAll('#authority-rollouts tbody tr').length");
    let at_target = all.values().filter(|(ars, ..)| *ars == target).count();
    assert_eq!(listed.as_u64(), Some(at_target as u64));
    // Zoomed out: Landkreise and kreisfreie Städte.
    page.eval("location.hash = '#/karte'");
    page.wait_for("document.querySelectorAll('#map path[data-live]').length === 193", 30, "'map'");
    page.eval("(() => { const s = document.getElementById('m-layer'); s.value = 'kreise'; s.dispatchEvent(new Event('change')); })()");
    page.wait_for(
        "document.querySelectorAll('#map path[data-live]').length === 18",
        30,
        "document.querySelectorAll('#map path').length",
    );
    page.screenshot(&screenshot_dir().join("map-landkreise.png"), false);
    // A Landkreis opens the overview filtered to it.
    page.eval("document.querySelector(\"#map path[data-ars='120600000000']\").dispatchEvent(new MouseEvent('click', { bubbles: true }))");
    page.wait_for("document.querySelectorAll('#matrix tr[data-ars]').length > 0", 10, "location.hash");
    assert_eq!(page.eval("document.getElementById('f-kreis').value"), json!("120600000000"));
    let rows = page.eval(
        "[...document.querySelectorAll('#matrix tr[data-ars]')].every(r => r.dataset.ars.startsWith('1206'))",
    );
    assert_eq!(rows, json!(true), "only Barnim's administrations");
    page.settle(200);
    browser.assert_nothing_left_the_machine();
}

/// The burn-up ends at today's figures; the audit view filters by actor and exports exactly the
/// filtered events as CSV.
#[test]
fn the_burnup_and_the_audit_view_with_its_csv_export() {
    if !chromium_available() {
        return;
    }
    let server = Server::start_demo();
    let browser = Browser::launch();
    let mut page = open_overview(&browser, &server, &server.admin);
    page.eval("location.hash = '#/verlauf'");
    page.wait_for("document.querySelector('#burnup polygon')", 60, "document.body.innerText.slice(0, 800)");
    let weeks = page.eval("document.querySelectorAll('#burnup-table tbody tr').length").as_u64().unwrap_or(0);
    assert!(weeks >= 20, "the demo's months of history: {weeks} points");
    let header =
        page.eval("[...document.querySelectorAll('#burnup-table thead th')].map(t => t.textContent)");
    let live_column = header
        .as_array()
        .expect("header")
        .iter()
        .position(|h| h == "in Betrieb")
        .expect("an in-operation column");
    let last_live = page.eval(&format!(
        "document.querySelector('#burnup-table tbody tr:last-child').children[{live_column}].textContent"
    ));
    let progress = server.gql(
        Some(&server.admin),
        "{ progress(groupBy: SERVICE) { byPhaseStatus { status count } } }",
        json!({}),
    );
    let live: u64 = progress["data"]["progress"]
        .as_array()
        .expect("groups")
        .iter()
        .flat_map(|g| g["byPhaseStatus"].as_array().cloned().unwrap_or_default())
        .filter(|c| c["status"] == "live")
        .map(|c| c["count"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(last_live, json!(live.to_string()), "the chart ends at today's figures");
    let first_live = page.eval(&format!(
        "document.querySelector('#burnup-table tbody tr:first-child').children[{live_column}].textContent"
    ));
    assert_eq!(first_live, json!("0"), "and begins before anything was live");
    page.screenshot(&screenshot_dir().join("burnup.png"), false);

    page.eval("location.hash = '#/audit'");
    page.wait_for(
        "document.querySelectorAll('#audit-rows tr').length > 0",
        30,
        "document.body.innerText.slice(0, 800)",
    );
    page.eval("document.getElementById('a-actor').value = 'token:demo-bot'");
    page.click("#audit-filter button[type=submit]");
    page.wait_for("[...document.querySelectorAll('#audit-rows tr td:nth-child(3)')].every(td => td.innerText.includes('token:demo-bot')) && document.querySelectorAll('#audit-rows tr').length > 0", 30, "document.getElementById('audit-rows').innerText.slice(0, 500)");
    let expected = server
        .all_pages(
            &server.admin,
            "query($a: String) { events(filter: { actor: \"token:demo-bot\" }, first: 500, after: $a) { edges { node { position } } pageInfo { hasNextPage endCursor } } }",
            "events",
        )
        .len();
    let first = page.eval("document.querySelector('#audit-rows tr td:nth-child(6)').innerText");
    assert!(
        first.as_str().is_some_and(|t| t.starts_with("Schritt: ") && t.contains("Nachweise: ")),
        "an event's details in words: {first}"
    );
    page.screenshot(&screenshot_dir().join("audit.png"), false);
    let downloads = tempfile::tempdir().expect("downloads");
    page.allow_downloads(downloads.path());
    page.click("#audit-export");
    page.wait_for(
        "document.getElementById('audit-csv')",
        60,
        "document.getElementById('audit-error').textContent",
    );
    // The export is downloaded as a person's click would download it.
    let file = downloads.path().join("pruefprotokoll.csv");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !file.exists() && std::time::Instant::now() < deadline {
        page.settle(100);
    }
    let csv = std::fs::read_to_string(&file).expect("the CSV was downloaded");
    let csv = csv.trim_start_matches('\u{feff}');
    let lines: Vec<&str> = csv.trim_end().split("\r\n").collect();
    assert!(lines[0].starts_with("position,zeit,akteur_id"), "{}", lines[0]);
    assert_eq!(lines.len() - 1, expected, "every filtered event, not only the loaded page");
    assert!(lines[1..].iter().all(|l| l.contains(",token:demo-bot,")), "only the filtered actor");
    page.settle(200);
    browser.assert_nothing_left_the_machine();
}

/// Every view at 1280 px and on a tablet (768 px): every control named for screen readers, text
/// contrast at WCAG AA, nothing wider than the window; cells and map areas work with the keyboard.
#[test]
fn every_view_is_accessible_at_1280_px_and_on_a_tablet_and_works_with_the_keyboard() {
    if !chromium_available() {
        return;
    }
    let server = Server::start_demo();
    let all = rollouts(&server, &server.admin);
    let (id, (ars, ..)) = all.iter().find(|(id, _)| !id.ends_with(":120000000000")).expect("a rollout");
    let views = [
        ("#/", "#matrix tr[data-ars]"),
        ("#/karte", "#map path[data-live]"),
        ("#/verlauf", "#burnup polygon"),
        ("#/audit", "#audit-rows tr"),
        (&*format!("#/rollout/{id}"), "#steps tr[data-step]"),
        (&*format!("#/verwaltung/{ars}"), "#authority-rollouts tbody tr"),
        ("#/ablaeufe", "#definitions tbody tr"),
        ("#/ablauf/efa-onboarding%401", "#definition-steps tr[data-step]"),
        ("#/aufgaben", "#task-rows tr"),
        ("#/bericht", "#report-view table"),
        ("#/netzwerk?dienst=wohngeld", "#peer-rows tr"),
        ("#/angebote?dienst=wohngeld", "#o-table tbody tr"),
    ];
    let browser = Browser::launch();
    let mut page = open_overview(&browser, &server, &server.admin);
    let mut problems = Vec::new();
    for (width, height) in [(1280, 900), (768, 1024)] {
        page.resize(width, height);
        for (hash, ready) in &views {
            page.eval(&format!("location.hash = '{hash}'"));
            page.wait_for(
                &format!("document.querySelector(\"{ready}\")"),
                60,
                "document.body.innerText.slice(0, 500)",
            );
            problems
                .extend(page.accessibility_problems().into_iter().map(|p| format!("{width} px {hash}: {p}")));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
    // The audit finds what it looks for: an unnamed field, pale text, a page too wide.
    page.eval("(() => { const i = document.createElement('input'); i.id = 'probe-input'; const p = document.createElement('p'); p.id = 'probe-text'; p.textContent = 'blass'; p.style.color = '#bbb'; const w = document.createElement('div'); w.id = 'probe-wide'; w.style.width = '3000px'; w.textContent = 'breit'; document.getElementById('inhalt').append(i, p, w); })()");
    let probe = page.accessibility_problems().join("\n");
    assert!(probe.contains("no accessible name: input#probe-input"), "{probe}");
    assert!(probe.contains("p#probe-text"), "{probe}");
    assert!(probe.contains("wider than the window"), "{probe}");
    page.eval("location.hash = '#/'");
    page.wait_for("document.querySelector('#matrix button[data-id]')", 30, "location.hash");
    page.screenshot(&screenshot_dir().join("overview-tablet.png"), false);

    // The keyboard: a focused cell opens its rollout with Enter; a focused map area its
    // administration.
    page.resize(1280, 900);
    let first = page.eval("(() => { const b = document.querySelector('#matrix button[data-id]'); b.focus(); return b.dataset.id; })()");
    page.press("Enter");
    let first = first.as_str().expect("id").to_owned();
    page.wait_for(
        &format!("document.getElementById('inhalt').dataset.rollout === '{first}'"),
        30,
        "location.hash",
    );
    page.eval("location.hash = '#/karte'");
    page.wait_for("document.querySelector('#map path[data-live][tabindex]')", 30, "location.hash");
    let area = page.eval("(() => { const p = document.querySelector('#map path[tabindex]'); p.focus(); return p.dataset.ars; })()");
    page.press("Enter");
    page.wait_for(
        &format!("location.hash === '#/verwaltung/{}'", area.as_str().expect("ars")),
        10,
        "location.hash",
    );
    page.settle(200);
    browser.assert_nothing_left_the_machine();
}

#[test]
fn the_definition_page_and_the_publish_form_show_the_diagnostics_at_their_lines() {
    if !chromium_available() {
        return;
    }
    let server = Server::start();
    let browser = Browser::launch();
    let mut page = browser.open_signed_in(&format!("http://{}/#token={}", server.address, server.admin));
    page.wait_for(
        "document.getElementById('me').textContent.length > 0",
        60,
        "document.body.innerText.slice(0, 500)",
    );
    page.eval("location.hash = '#/ablaeufe'");
    page.wait_for(
        "document.querySelector('#definitions tr[data-ref=\"efa-onboarding@1\"]')",
        30,
        "document.body.innerText.slice(0, 500)",
    );
    let listed = page
        .eval("[...document.querySelectorAll('#definitions tbody tr')].map((r) => r.dataset.ref).join(' ')");
    assert_eq!(
        listed,
        json!("efa-land@1 efa-onboarding@1 efa-onboarding@2 efa-onboarding@3 efa-onboarding@4 efa-onboarding-bund@1 efa-onboarding-bund@2 efa-onboarding-bund@3 formularserver-assistent@1 formularserver-assistent@2 formularserver-muster@1"),
        "every bundled definition, published at start"
    );

    // An invalid text: the problems beside their lines; nothing published.
    let onboarding = include_str!("../../workflows/archive/efa-onboarding.v1.toml");
    let broken = onboarding.replacen("id = \"efa-onboarding\"", "id = \"efa-onboarding-xta\"", 1).replacen(
        "title = \"Interesse bekundet\"",
        "titel = \"Interesse bekundet\"",
        1,
    );
    page.eval(&format!("document.getElementById('publish-source').value = {}; document.getElementById('publish-reason').value = 'XTA'", serde_json::to_string(&broken).expect("json")));
    page.click("#publish-form button[type=submit]");
    page.wait_for(
        "!document.getElementById('publish-lines').hidden",
        10,
        "document.getElementById('publish-result').textContent",
    );
    let marked = page.eval("[...document.querySelectorAll('#publish-lines li.problem')].map((l) => l.dataset.line + ': ' + l.textContent).join('\\n')");
    let marked = marked.as_str().unwrap_or_default().to_owned();
    assert!(marked.starts_with("16: [[phases.steps]] ← Spalte 1: a step needs `title`"), "{marked}");
    assert!(
        marked.contains("\n18: titel = \"Interesse bekundet\" ← Spalte 1: unknown key `titel`"),
        "{marked}"
    );
    page.screenshot(&screenshot_dir().join("publish-diagnostics.png"), true);
    let problems = page.accessibility_problems();
    assert!(problems.is_empty(), "{problems:#?}");
    let refused =
        server.gql(Some(&server.admin), "{ definition(id: \"efa-onboarding-xta\") { version } }", json!({}));
    assert_eq!(refused["data"]["definition"], Value::Null, "nothing was published");

    // A valid one is published; its page shows the steps, and a second version what changed.
    let xta = onboarding.replacen("id = \"efa-onboarding\"", "id = \"efa-onboarding-xta\"", 1);
    page.eval(&format!(
        "document.getElementById('publish-source').value = {}",
        serde_json::to_string(&xta).expect("json")
    ));
    page.click("#publish-form button[type=submit]");
    page.wait_for(
        "document.getElementById('publish-result').className === 'success'",
        10,
        "document.getElementById('publish-result').textContent",
    );
    let v2 = xta.replacen("version = 1", "version = 2", 1).replacen(
        "title = \"Interesse bekundet\"",
        "title = \"Interesse gemeldet\"",
        1,
    );
    let published = server.gql(
        Some(&server.admin),
        "mutation($s: String!) { publishDefinition(input: { source: $s, reason: \"v2\" }) { published } }",
        json!({ "s": v2 }),
    );
    assert_eq!(published["data"]["publishDefinition"]["published"], true, "{published}");
    page.eval("location.hash = '#/ablauf/efa-onboarding-xta%402'");
    page.wait_for("document.querySelector('#definition-steps tr[data-step=\"interesse\"]') && document.getElementById('changes')", 30, "document.body.innerText.slice(0, 800)");
    let changes = page.eval("document.getElementById('changes').innerText");
    assert_eq!(changes, json!("geändert: interesse (Titel)"));
    let source = page.eval("document.getElementById('definition-source').textContent");
    assert_eq!(source.as_str(), Some(v2.as_str()), "the exact text");
    let problems = page.accessibility_problems();
    assert!(problems.is_empty(), "{problems:#?}");
    page.eval("location.hash = '#/ablauf/efa-onboarding%404'");
    page.wait_for("document.getElementById('used-by') && document.getElementById('used-by').textContent.includes('Wohngeld')", 30, "document.body.innerText.slice(0, 800)");
    page.settle(200);
    browser.assert_nothing_left_the_machine();
}

#[test]
fn the_programme_switch_in_the_overview_the_map_and_the_burnup() {
    if !chromium_available() {
        return;
    }
    let server = Server::start();
    for service in ["wohngeld", "hundesteuer_anmeldung"] {
        let started = server.gql(
            Some(&server.admin),
            &format!("mutation {{ startServiceRollout(serviceKey: \"{service}\") {{ existing }} }}"),
            json!({}),
        );
        assert_eq!(started["data"]["startServiceRollout"]["existing"], 0, "{started}");
    }
    // The model assistant is under way; no EfA rollout is.
    let begun = server.gql(
        Some(&server.admin),
        "mutation($i: CompleteStepInput!) { completeStep(input: $i) { rollout { status } } }",
        json!({ "i": { "rolloutId": "hundesteuer_anmeldung:129990000000", "stepId": "prozess_erhoben",
            "evidence": { "rechtsgrundlage": "Hundesteuersatzung", "fachamt": "Steueramt" } } }),
    );
    assert_eq!(begun["data"]["completeStep"]["rollout"]["status"], "in_progress", "{begun}");
    let browser = Browser::launch();
    let mut page = open_overview(&browser, &server, &server.admin);
    let columns = |page: &mut Page| {
        page.eval("[...document.querySelectorAll('#matrix thead th')].slice(1, -1).map((h) => h.textContent).join(' | ')")
    };
    assert_eq!(
        columns(&mut page),
        json!("Hund zur Hundesteuer anmelden | Wohngeld beantragen"),
        "ordered by key"
    );
    page.eval("(() => { const s = document.getElementById('f-program'); s.value = 'FORMULARSERVER'; s.dispatchEvent(new Event('change')); })()");
    assert_eq!(columns(&mut page), json!("Hund zur Hundesteuer anmelden"));
    let rows = page.eval("document.querySelectorAll('#matrix tr[data-ars]').length");
    assert_eq!(rows, json!(20), "ZV DIKOM's 20 members (its model is named apart, not a row)");
    let central = page.eval("document.getElementById('central').innerText");
    assert!(
        central.as_str().is_some_and(|t| t.contains("DIKOM")),
        "the model is the association's: {central}"
    );
    page.eval("(() => { const s = document.getElementById('f-program'); s.value = 'EFA'; s.dispatchEvent(new Event('change')); })()");
    assert_eq!(columns(&mut page), json!("Wohngeld beantragen"));
    let mut problems = page.accessibility_problems();

    page.eval("location.hash = '#/karte'");
    page.wait_for(
        "document.querySelector('#map path[data-live]') && document.getElementById('m-program')",
        60,
        "document.body.innerText.slice(0, 500)",
    );
    let share = |page: &mut Page, program: &str| {
        page.eval(&format!("(() => {{ const s = document.getElementById('m-program'); s.value = '{program}'; s.dispatchEvent(new Event('change')); const p = document.querySelector('#map path[data-ars=\"120520000000\"]'); return p ? p.getAttribute('aria-label') : null; }})()"))
    };
    let both = share(&mut page, "");
    let assistants = share(&mut page, "FORMULARSERVER");
    assert_ne!(both, assistants, "Cottbus has an EfA and an assistant rollout: {both} / {assistants}");
    problems.extend(page.accessibility_problems());

    page.eval("location.hash = '#/verlauf'");
    page.wait_for(
        "document.querySelector('#burnup polygon') && document.getElementById('b-program')",
        60,
        "document.body.innerText.slice(0, 500)",
    );
    let table = |page: &mut Page, program: &str| {
        page.eval(&format!("(() => {{ const s = document.getElementById('b-program'); s.value = '{program}'; s.dispatchEvent(new Event('change')); return document.getElementById('burnup-table').textContent; }})()"))
    };
    let efa = table(&mut page, "EFA");
    let assistants = table(&mut page, "FORMULARSERVER");
    // Verlauf counts administrations: the association's model (its step done above) is its own
    // work, not an administration's, so its phase is in neither programme's series.
    assert!(
        assistants.as_str().is_some_and(|t| !t.contains("Anforderungen mit dem Fachamt")),
        "the model is no administration: {assistants}"
    );
    assert!(efa.as_str().is_some_and(|t| !t.contains("Anforderungen mit dem Fachamt")), "{efa}");
    let members = server.gql(
        Some(&server.admin),
        "{ progress(groupBy: SERVICE, program: FORMULARSERVER) { key rollouts } }",
        json!({}),
    );
    assert_eq!(
        members["data"]["progress"],
        json!([{ "key": "hundesteuer_anmeldung", "rollouts": 20 }]),
        "{members}"
    );
    problems.extend(page.accessibility_problems());
    assert!(problems.is_empty(), "{problems:#?}");
    page.screenshot(&screenshot_dir().join("burnup-formularserver.png"), false);
    browser.assert_nothing_left_the_machine();
}

/// A staff token starts on its task list: the counts and the rows are those of `tasks`; a
/// question asked on the rollout page reaches the Land's task list, the answer reaches the
/// asker's open page live, unread until the thread is opened; the report view shows the
/// printable report and downloads it.
#[test]
fn staff_start_on_their_tasks_and_a_question_goes_to_the_land_and_back() {
    if !chromium_available() {
        return;
    }
    let server = Server::start_demo();
    let ars = "120540000000";
    let staff = server.issue("authority-staff", &[ars]);
    let pm = server.issue("project-manager", &[]);
    let browser = Browser::launch();
    let mut page = browser.open_signed_in(&format!("http://{}/#token={staff}", server.address));
    page.wait_for(
        "document.querySelectorAll('#task-rows tr').length > 0",
        60,
        "document.body.innerText.slice(0, 1000)",
    );
    assert_eq!(page.eval("location.hash"), json!("#/aufgaben"), "the start page of a staff token");
    let api = server.gql(
        Some(&staff),
        "{ tasks(first: 500) { totalCount overdueCount dueSoonCount edges { node { id } } } }",
        json!({}),
    );
    let t = &api["data"]["tasks"];
    let rows = page.eval("[...document.querySelectorAll('#task-rows tr')].map(r => r.dataset.task)");
    let ids: Vec<Value> =
        t["edges"].as_array().expect("edges").iter().map(|e| e["node"]["id"].clone()).collect();
    assert_eq!(rows, json!(ids));
    assert_eq!(
        page.eval("document.querySelector('#count-overdue strong').textContent"),
        json!(t["overdueCount"].to_string())
    );
    assert_eq!(
        page.eval("document.querySelector('#count-soon strong').textContent"),
        json!(t["dueSoonCount"].to_string())
    );
    assert_eq!(page.accessibility_problems(), Vec::<String>::new());
    page.screenshot(&screenshot_dir().join("aufgaben.png"), false);

    // A question on the wohngeld rollout's step, to the Land.
    let rollout = format!("wohngeld:{ars}");
    page.eval(&format!("location.hash = '#/rollout/{rollout}?schritt=avv'"));
    page.wait_for("document.getElementById('ask-question')", 30, "document.body.innerText.slice(0, 500)");
    page.eval("document.getElementById('q-step').value = 'avv'; document.getElementById('q-to').value = 'LAND'; document.getElementById('q-text').value = 'Gibt es eine Vorlage für die Anlage 2?';");
    page.click("#ask-question button[type=submit]");
    page.wait_for(
        "[...document.querySelectorAll('#question-list details')].some(d => d.textContent.includes('Vorlage für die Anlage 2'))",
        30,
        "document.getElementById('questions').innerText",
    );
    let land = server.gql(Some(&pm), &format!("{{ tasks(filter: {{ ars: \"{ars}\", kind: QUESTION }}) {{ edges {{ node {{ kind question {{ id messages {{ text }} }} }} }} }} }}"), json!({}));
    let question = land["data"]["tasks"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .find(|e| e["node"]["kind"] == "QUESTION")
        .cloned()
        .expect("in the Land's tasks");
    let id = question["node"]["question"]["id"].as_str().expect("id").to_owned();
    // The Land answers; the asker's page shows it live, unread.
    server.gql(
        Some(&pm),
        "mutation($i: AnswerQuestionInput!) { answerQuestion(input: $i) { id } }",
        json!({ "i": { "questionId": id, "text": "Ja, im FIT-Store unter Vorlagen." } }),
    );
    page.wait_for(&format!("(document.querySelector('details[data-question=\"{id}\"]') || {{}}).innerText?.includes('1 ungelesen')"), 30, "document.getElementById('questions').innerText");
    page.eval(&format!("document.querySelector('details[data-question=\"{id}\"] summary').click()"));
    page.wait_for(
        &format!(
            "!document.querySelector('details[data-question=\"{id}\"]').innerText.includes('ungelesen')"
        ),
        30,
        "document.getElementById('questions').innerText",
    );
    let thread = server.gql(
        Some(&staff),
        &format!("{{ question(id: \"{id}\") {{ unread messages {{ text }} }} }}"),
        json!({}),
    );
    assert_eq!(thread["data"]["question"]["unread"], 0, "opening the thread marked it read: {thread}");
    assert_eq!(page.accessibility_problems(), Vec::<String>::new());
    page.screenshot(&screenshot_dir().join("rueckfrage.png"), true);

    // The report view, as the manager.
    let mut report = browser.open_signed_in(&format!("http://{}/#token={pm}", server.address));
    report.wait_for(
        "document.getElementById('whoami') && !document.getElementById('whoami').hidden",
        60,
        "document.body.innerText.slice(0, 500)",
    );
    report.eval("location.hash = '#/bericht'");
    report.wait_for(
        "document.querySelectorAll('#report-view section table').length === 4",
        60,
        "document.getElementById('inhalt').innerText.slice(0, 500)",
    );
    report.click("#report-xlsx");
    report.wait_for(
        "document.querySelector('#report-download a.download')",
        30,
        "document.getElementById('report-download').innerText",
    );
    assert_eq!(report.accessibility_problems(), Vec::<String>::new());
    report.screenshot(&screenshot_dir().join("bericht.png"), false);
    report.settle(200);
    browser.assert_nothing_left_the_machine();
}

/// The network for a staff token: the network page lists the peers `peers` names, with the
/// contacts who agreed to be named and nothing of their rollouts; on a step of its own rollout
/// "Wer hat das schon geschafft?" lists those that completed it, nearest first; both pass the
/// accessibility audit.
#[test]
fn the_network_page_and_who_has_done_a_step_for_a_staff_token() {
    if !chromium_available() {
        return;
    }
    let server = Server::start_demo();
    let ars = "120540000000";
    let staff = server.issue("authority-staff", &[ars]);
    let browser = Browser::launch();
    let mut page = browser.open_signed_in(&format!("http://{}/#token={staff}", server.address));
    page.wait_for(
        "document.getElementById('whoami') && !document.getElementById('whoami').hidden",
        60,
        "document.body.innerText.slice(0, 500)",
    );
    page.eval("location.hash = '#/netzwerk?dienst=wohngeld'");
    page.wait_for(
        "document.querySelectorAll('#peer-rows tr').length > 0",
        60,
        "document.getElementById('inhalt').innerText.slice(0, 500)",
    );
    let api = server.gql(
        Some(&staff),
        "{ peers(serviceKey: \"wohngeld\") { authority { ars } contacts { name } } }",
        json!({}),
    );
    let want: Vec<Value> = api["data"]["peers"]
        .as_array()
        .expect("peers")
        .iter()
        .map(|p| p["authority"]["ars"].clone())
        .collect();
    assert_eq!(
        page.eval("[...document.querySelectorAll('#peer-rows tr')].map(r => r.dataset.ars)"),
        json!(want)
    );
    let named: Vec<String> = api["data"]["peers"]
        .as_array()
        .expect("peers")
        .iter()
        .flat_map(|p| p["contacts"].as_array().cloned().unwrap_or_default())
        .map(|c| c["name"].as_str().expect("name").to_owned())
        .collect();
    assert!(!named.is_empty(), "the demo has consented contacts");
    let text = page.eval("document.getElementById('peers').innerText");
    assert!(named.iter().all(|n| text.as_str().expect("text").contains(n.as_str())), "{text}");
    page.wait_for(
        "document.querySelectorAll('#network-map path').length > 0",
        30,
        "document.getElementById('network-map').outerHTML.slice(0, 300)",
    );
    let coloured = page.eval(&format!(
        "[...document.querySelectorAll('#network-map path')].filter(p => {}.includes(p.dataset.ars)).length",
        json!(want)
    ));
    assert!(
        coloured.as_u64().unwrap_or(0) >= want.len() as u64,
        "every peer has its area on the map: {coloured}"
    );
    assert_eq!(page.accessibility_problems(), Vec::<String>::new());
    page.screenshot(&screenshot_dir().join("netzwerk.png"), false);
    // Live: a contact of another administration agrees to be named; the open page shows it.
    let other = want.iter().filter_map(|a| a.as_str()).find(|a| *a != ars).expect("another peer").to_owned();
    let r = server.gql(
        Some(&server.admin),
        "mutation($i: RegisterPersonInput!) { registerPerson(input: $i) { id } }",
        json!({ "i": { "ars": other, "name": "Lena Liveprobe" } }),
    );
    let id = r["data"]["registerPerson"]["id"].as_str().expect("id").to_owned();
    server.gql(
        Some(&server.admin),
        "mutation($p: ID!) { giveContactConsent(input: { personId: $p, serviceKey: \"wohngeld\", reason: \"schriftlich\" }) { id } }",
        json!({ "p": id }),
    );
    page.wait_for(
        "document.getElementById('peers').innerText.includes('Lena Liveprobe')",
        30,
        "document.getElementById('peers').innerText.slice(0, 300)",
    );

    page.eval(&format!("location.hash = '#/rollout/wohngeld:{ars}'"));
    page.wait_for(
        "document.querySelector('button[data-peers=\"interesse\"]')",
        30,
        "document.body.innerText.slice(0, 500)",
    );
    page.click("button[data-peers=\"interesse\"]");
    page.wait_for("document.getElementById('peers-interesse') && !document.getElementById('peers-interesse').innerText.includes('Wird geladen')", 30, "document.getElementById('steps').innerText.slice(0, 500)");
    let done = server.gql(
        Some(&staff),
        "{ peers(serviceKey: \"wohngeld\", stepId: \"interesse\") { authority { ars } } }",
        json!({}),
    );
    let want: Vec<Value> = done["data"]["peers"]
        .as_array()
        .expect("peers")
        .iter()
        .take(10)
        .map(|p| p["authority"]["ars"].clone())
        .collect();
    assert!(!want.is_empty(), "others completed it in the demo");
    assert_eq!(
        page.eval(
            "[...document.querySelectorAll('#peers-interesse-table tbody tr')].map(r => r.dataset.ars)"
        ),
        json!(want)
    );
    assert_eq!(page.accessibility_problems(), Vec::<String>::new());
    page.screenshot(&screenshot_dir().join("wer-hat-das-geschafft.png"), false);
    page.settle(200);
    browser.assert_nothing_left_the_machine();
}

/// The same figures everywhere for the demo: `progress`, the overview, the network page and
/// "Angebote" agree on who is responsible, onboarding and in operation, and count
/// administrations (never the central rollouts); a clerk accepts an offer on the page and the
/// rollout starts.
#[test]
fn the_figures_agree_across_the_pages_and_a_clerk_accepts_an_offer() {
    if !chromium_available() {
        return;
    }
    let server = Server::start_demo();
    let progress = server.gql(
        Some(&server.admin),
        "{ progress(groupBy: SERVICE) { key rollouts responsible interested declined deferred ownSolution noAnswer onboarding inOperation coverage flaechendeckend } }",
        json!({}),
    );
    let groups = progress["data"]["progress"].as_array().unwrap_or_else(|| panic!("{progress}")).clone();
    let wohngeld = groups.iter().find(|g| g["key"] == "wohngeld").expect("wohngeld").clone();
    let n = |g: &Value, f: &str| g[f].as_u64().unwrap_or_else(|| panic!("{f}: {g}"));
    assert_eq!(n(&wohngeld, "responsible"), 19, "18 Landkreise and kreisfreie Städte, Fürstenwalde/Spree");
    for g in &groups {
        let answers = ["interested", "declined", "deferred", "ownSolution", "noAnswer"]
            .iter()
            .map(|f| n(g, f))
            .sum::<u64>();
        assert_eq!(answers, n(g, "responsible"), "each responsible administration counted once: {g}");
        assert!(n(g, "onboarding") + n(g, "inOperation") <= n(g, "responsible"), "{g}");
        assert!(n(g, "rollouts") <= 207, "administrations, never the central rollouts: {g}");
    }
    assert!(
        groups.iter().any(|g| n(g, "declined") > 0) && groups.iter().any(|g| n(g, "deferred") > 0),
        "the demo declines and defers"
    );

    let browser = Browser::launch();
    let mut page = open_overview(&browser, &server, &server.admin);
    // The overview: one row per administration with a rollout, the wohngeld column's
    // "in Betrieb / gesamt" as progress says.
    page.eval("(() => { const s = document.getElementById('f-service'); s.value = 'wohngeld'; s.dispatchEvent(new Event('change')); })()");
    let foot = page.eval("document.querySelector('#matrix tfoot td.total').innerText");
    assert_eq!(
        foot,
        json!(format!("{}/{}", n(&wohngeld, "inOperation"), n(&wohngeld, "rollouts"))),
        "overview"
    );
    // The network page: the same administrations and the same in operation.
    page.eval("location.hash = '#/netzwerk?dienst=wohngeld'");
    page.wait_for(
        "document.querySelectorAll('#peer-rows tr').length > 0",
        60,
        "document.body.innerText.slice(0, 500)",
    );
    let caption = page.eval("document.getElementById('peers-caption').innerText");
    let expected = format!(
        "{} Verwaltungen, davon {} in Betrieb",
        n(&wohngeld, "rollouts"),
        n(&wohngeld, "inOperation")
    );
    assert!(caption.as_str().is_some_and(|c| c.starts_with(&expected)), "network: {caption} vs {expected}");
    // "Angebote": the Land's figures for the service.
    page.eval("location.hash = '#/angebote?dienst=wohngeld'");
    page.wait_for(
        "document.querySelectorAll('#o-table tbody tr').length > 0",
        60,
        "document.body.innerText.slice(0, 500)",
    );
    for (label, field) in [
        ("Zuständig", "responsible"),
        ("Interesse", "interested"),
        ("Abgelehnt", "declined"),
        ("Keine Antwort", "noAnswer"),
        ("In Betrieb", "inOperation"),
    ] {
        let shown =
            page.eval(&format!("document.querySelector('#o-figures dd[data-figure=\"{label}\"]').innerText"));
        assert_eq!(shown, json!(n(&wohngeld, field).to_string()), "Angebote: {label}");
    }
    let rows = page.eval("document.querySelectorAll('#o-table tbody tr').length");
    assert_eq!(rows.as_u64(), Some(n(&wohngeld, "responsible")), "one row per responsible administration");
    page.screenshot(&screenshot_dir().join("angebote-land.png"), false);

    // A clerk of an administration that has not answered the newest service accepts it.
    let offers = server.gql(
        Some(&server.admin),
        "{ offers(serviceKey: \"kfz_zulassung\") { administrations { ars answer rolloutStatus } } }",
        json!({}),
    );
    let open = offers["data"]["offers"]["administrations"]
        .as_array()
        .expect("administrations")
        .iter()
        .find(|a| a["answer"].is_null() && a["rolloutStatus"].is_null())
        .unwrap_or_else(|| panic!("the demo leaves an offer unanswered: {offers}"))["ars"]
        .as_str()
        .expect("ars")
        .to_owned();
    let staff = server.issue("authority-staff", &[&open]);
    let mut clerk = browser.open_signed_in(&format!("http://{}/#token={staff}", server.address));
    clerk.wait_for(
        "document.getElementById('whoami') && !document.getElementById('whoami').hidden",
        60,
        "document.body.innerText.slice(0, 500)",
    );
    clerk.eval("location.hash = '#/angebote'");
    clerk.wait_for(
        "document.querySelector('#my-offers tr[data-service=\"kfz_zulassung\"] button')",
        60,
        "document.body.innerText.slice(0, 800)",
    );
    clerk.eval("[...document.querySelectorAll('#my-offers tr[data-service=\"kfz_zulassung\"] button')].find(b => b.textContent === 'Angebot annehmen').click()");
    clerk.wait_for(
        "document.getElementById('o-status').innerText.includes('Rollout ist gestartet')",
        30,
        "document.getElementById('o-status').innerText",
    );
    let rollout = server.gql(
        Some(&server.admin),
        &format!("{{ rollout(id: \"kfz_zulassung:{open}\") {{ status }} }}"),
        json!({}),
    );
    assert!(rollout["data"]["rollout"]["status"].is_string(), "the interest started the rollout: {rollout}");
    let answered = server.gql(
        Some(&server.admin),
        "{ offers(serviceKey: \"kfz_zulassung\") { administrations { ars answer } } }",
        json!({}),
    );
    let mine = answered["data"]["offers"]["administrations"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|a| a["ars"] == open.as_str())
        .cloned();
    assert_eq!(mine.map(|a| a["answer"].clone()), Some(json!("INTERESTED")));
    clerk.screenshot(&screenshot_dir().join("angebote-verwaltung.png"), false);
    clerk.settle(200);
    page.settle(200);
    browser.assert_nothing_left_the_machine();
}
