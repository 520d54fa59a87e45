//! Sign-in with the organisation's account against a real OpenID provider (oidc-provider,
//! `tests/oidc`), walked by an HTTP client that keeps cookies: claims to role and
//! administrations from two issuers, sessions, logout, revocation, a cross-site request, a key
//! rotation, a tampered ID token, a wrong `iss`, a replayed callback, an idle session, and an
//! erased person signing in again.

use serde_json::{json, Value};

use crate::support::agent::{query_param, Agent, Response};
use crate::support::oidc::{self, free_port, Op};
use crate::support::Server;

/// The server's sign-in configuration for issuers `land` (Keycloak-shaped) and `kommunal`
/// (Entra-shaped), written beside the secret into `dir`.
fn auth_config(
    dir: &std::path::Path,
    rp: &str,
    land: u16,
    kommunal: u16,
    idle_seconds: u32,
) -> std::path::PathBuf {
    std::fs::write(dir.join("op-secret"), "efa-geheim\n").expect("secret");
    let text = format!(
        r#"public_url = "{rp}"

[sessions]
idle_seconds = {idle_seconds}

[keys]
refetch_seconds = 1

[[issuers]]
id = "land"
label = "Landesverwaltung"
issuer = "http://127.0.0.1:{land}"
client_id = "efa-rollout"
client_secret_file = "op-secret"
roles_claim = "groups"
administration_group_prefix = "/kommunen/"

[issuers.roles]
"/efa/projektleitung" = "project-manager"
"/efa/kommune" = "authority-staff"

[[issuers]]
id = "kommunal"
label = "Kommunaler Verzeichnisdienst"
issuer = "http://127.0.0.1:{kommunal}"
client_id = "efa-rollout"
client_secret_file = "op-secret"
roles_claim = "roles"
administrations_claim = "ars"

[issuers.roles]
"efa.staff" = "authority-staff"
"#
    );
    let path = dir.join("auth.toml");
    std::fs::write(&path, text).expect("config");
    path
}

/// A server with sign-in on a port chosen before (the providers must know its callback).
struct Setup {
    server: Server,
    rp: String,
    _config_dir: tempfile::TempDir,
}

fn server_for(land: u16, kommunal: u16, rp_port: u16, idle_seconds: u32) -> Setup {
    let rp = format!("http://127.0.0.1:{rp_port}");
    let config_dir = tempfile::tempdir().expect("dir");
    let config = auth_config(config_dir.path(), &rp, land, kommunal, idle_seconds);
    let listen = format!("127.0.0.1:{rp_port}");
    let server = Server::start_with(&["--listen", &listen, "--auth-config", config.to_str().expect("path")]);
    assert_eq!(server.address, listen);
    Setup { server, rp, _config_dir: config_dir }
}

/// Signs `login` in at `issuer` (its id): every response on the way, the last one first.
fn sign_in(agent: &mut Agent, rp: &str, issuer: &str, login: &str) -> Vec<Response> {
    let hops = agent.follow(&format!("{rp}/auth/login?issuer={issuer}"));
    let form = hops.last().expect("hops");
    if hops.iter().any(|r| r.url.contains("/auth/callback")) {
        // Still signed in at the provider (single sign-on): no form.
        return hops;
    }
    assert_eq!(form.status, 200, "the provider's login form: {hops:?}");
    assert!(form.body.contains("name=\"login\""), "{}", form.body);
    let mut all = hops.clone();
    all.extend(agent.post_form(&form.url, &format!("prompt=login&login={login}&password=egal"), &[]));
    all
}

/// The callback's response among the hops.
fn callback(hops: &[Response]) -> &Response {
    hops.iter().find(|r| r.url.contains("/auth/callback")).expect("the callback was reached")
}

/// GraphQL as a browser page of `rp` would send it, with the agent's cookies.
fn gql(agent: &mut Agent, rp: &str, query: &str, variables: Value) -> (u16, Value) {
    let body = json!({ "query": query, "variables": variables }).to_string();
    let r =
        agent.request("POST", &format!("{rp}/graphql"), &[("Origin", rp)], Some(("application/json", &body)));
    (r.status, serde_json::from_str(&r.body).unwrap_or_else(|_| panic!("not JSON: {}", r.body)))
}

/// A graphql-transport-ws socket signed in by the agent's cookies only, its upgrade sent with
/// `Origin: origin`: the first message after `connection_init` (`connection_ack`), or `None`
/// when the server closed it (a socket that does neither fails the test).
fn socket(
    agent: &Agent,
    rp: &str,
    origin: &str,
) -> (tungstenite::WebSocket<std::net::TcpStream>, Option<Value>) {
    use tungstenite::client::IntoClientRequest;
    let address = rp.trim_start_matches("http://");
    let mut request = format!("ws://{address}/graphql").into_client_request().expect("request");
    let headers = request.headers_mut();
    headers.insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse().expect("header"));
    headers.insert("Origin", origin.parse().expect("header"));
    headers.insert("Cookie", agent.cookie_header().parse().expect("header"));
    let stream = std::net::TcpStream::connect(address).expect("connect");
    stream.set_read_timeout(Some(std::time::Duration::from_secs(30))).expect("timeout");
    let (mut ws, _) = tungstenite::client(request, stream).expect("handshake");
    ws.send(tungstenite::Message::Text(
        json!({ "type": "connection_init", "payload": {} }).to_string().into(),
    ))
    .expect("init");
    let first = loop {
        match ws.read() {
            Ok(tungstenite::Message::Text(t)) => break serde_json::from_str(&t).ok(),
            Ok(tungstenite::Message::Close(_)) => break None,
            Ok(_) => continue,
            Err(e) => panic!("the socket neither answered nor was closed: {e}"),
        }
    };
    (ws, first)
}

const ME: &str = "{ me { id role administrations authMethod issuer person { id name email } } }";

#[test]
fn two_issuers_map_claims_sessions_end_and_cross_site_requests_are_refused() {
    if !oidc::available() {
        return;
    }
    let (land_port, kommunal_port, rp_port) = (free_port(), free_port(), free_port());
    let rp = format!("http://127.0.0.1:{rp_port}");
    let land = Op::start(land_port, "k1", &rp, "");
    let _kommunal = Op::start(kommunal_port, "k1", &rp, "");
    let setup = server_for(land_port, kommunal_port, rp_port, 3600);
    let rp = setup.rp.clone();

    // The buttons' list names both issuers.
    let providers = Agent::default().request("GET", &format!("{rp}/auth/providers"), &[], None);
    assert!(
        providers.body.contains("\"Landesverwaltung\"") && providers.body.contains("\"kommunal\""),
        "{}",
        providers.body
    );

    // Keycloak-shaped: groups, the administration as a group under /kommunen/.
    let mut klara = Agent::default();
    let started = std::time::Instant::now();
    let hops = sign_in(&mut klara, &rp, "land", "klara");
    println!(
        "sign-in with redirects (provider on loopback, development login form): {:?}",
        started.elapsed()
    );
    assert_eq!(callback(&hops).status, 303, "{:?}", callback(&hops));
    assert!(klara.cookies.contains_key("__Host-efa-session"), "{:?}", klara.cookies);
    let set_cookie = callback(&hops).headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"));
    let session_cookie =
        set_cookie.map(|(_, v)| v.clone()).find(|v| v.starts_with("__Host-efa-session=")).expect("cookie");
    for attribute in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
        assert!(session_cookie.contains(attribute), "{session_cookie}");
    }
    let (_, me) = gql(&mut klara, &rp, ME, json!({}));
    let me = &me["data"]["me"];
    assert_eq!(me["role"], "authority-staff", "{me}");
    assert_eq!(me["administrations"], json!(["120540000000"]));
    assert_eq!(me["authMethod"], "oidc");
    assert_eq!(me["person"]["name"], "Klara Kommune");
    assert_eq!(me["person"]["email"], "klara.kommune@potsdam.example");
    let klara_id = me["person"]["id"].as_str().expect("id").to_owned();
    assert_eq!(me["id"], format!("person:{klara_id}"), "events name the person, not a session");

    // Entra-shaped, from the second issuer: app roles and an `ars` claim.
    let mut erik = Agent::default();
    sign_in(&mut erik, &rp, "kommunal", "erik");
    let (_, me) = gql(&mut erik, &rp, ME, json!({}));
    assert_eq!(me["data"]["me"]["administrations"], json!(["120520000000"]), "{me}");
    assert_eq!(me["data"]["me"]["issuer"], format!("http://127.0.0.1:{kommunal_port}"));

    // A request from another site's page with Klara's cookie is refused; so is one without a
    // JSON content type (it would need a CORS preflight a foreign page cannot pass).
    let body = json!({ "query": ME }).to_string();
    let foreign = klara.request(
        "POST",
        &format!("{rp}/graphql"),
        &[("Origin", "http://evil.example")],
        Some(("application/json", &body)),
    );
    assert_eq!(foreign.status, 403, "{}", foreign.body);
    assert!(foreign.body.contains("FORBIDDEN"), "{}", foreign.body);
    let form =
        klara.request("POST", &format!("{rp}/graphql"), &[("Origin", &rp)], Some(("text/plain", &body)));
    assert_eq!(form.status, 415);
    let download = klara.request(
        "GET",
        &format!("{rp}/reports/programme.csv"),
        &[("Sec-Fetch-Site", "cross-site")],
        None,
    );
    assert_eq!(download.status, 403, "a download from another site's page");

    // A project manager sees who has which access and Klara's sessions, and revokes one.
    let mut petra = Agent::default();
    sign_in(&mut petra, &rp, "land", "petra");
    let (_, access) = gql(
        &mut petra,
        &rp,
        "{ access { role administrations issuer lastSignIn person { name } sessions { id live } } }",
        json!({}),
    );
    let list = access["data"]["access"].as_array().unwrap_or_else(|| panic!("{access}"));
    assert_eq!(list.len(), 3, "{access}");
    let klara_row = list.iter().find(|a| a["person"]["name"] == "Klara Kommune").expect("Klara");
    assert_eq!(klara_row["role"], "authority-staff");
    assert!(klara_row["lastSignIn"].is_string());
    let session_id = klara_row["sessions"][0]["id"].as_str().expect("session").to_owned();
    // A WebSocket signs in by the cookie from this server's pages only (cross-site WebSocket
    // hijacking), and is closed when its session is revoked.
    let (_, foreign_socket) = socket(&klara, &rp, "http://evil.example");
    assert_eq!(foreign_socket.map(|m| m["type"].clone()), None, "a foreign page's socket is not signed in");
    let (mut live_socket, ack) = socket(&klara, &rp, &rp);
    assert_eq!(ack.map(|m| m["type"].clone()), Some(json!("connection_ack")));
    let revoke = "mutation($id: ID!, $reason: String!) { revokeSession(id: $id, reason: $reason) }";
    let (_, staff_tries) = gql(&mut erik, &rp, revoke, json!({ "id": session_id, "reason": "x" }));
    assert_eq!(staff_tries["errors"][0]["extensions"]["code"], "FORBIDDEN", "{staff_tries}");
    let (_, revoked) = gql(&mut petra, &rp, revoke, json!({ "id": session_id, "reason": "Gerät verloren" }));
    assert_eq!(revoked["data"]["revokeSession"], true, "{revoked}");
    let (_, after) = gql(&mut klara, &rp, ME, json!({}));
    assert_eq!(after["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "revoked at once: {after}");
    live_socket.get_mut().set_read_timeout(Some(std::time::Duration::from_secs(10))).expect("timeout");
    let closed = loop {
        match live_socket.read() {
            Ok(tungstenite::Message::Close(frame)) => {
                break frame.map(|f| (u16::from(f.code), f.reason.to_string()))
            }
            Ok(_) => continue,
            Err(e) => panic!("the revoked session's socket was not closed: {e}"),
        }
    };
    assert_eq!(closed, Some((4403, "Die Sitzung wurde beendet".to_owned())), "its socket is closed at once");

    // Signed in again, then out: the session ends here and at the provider.
    sign_in(&mut klara, &rp, "land", "klara");
    assert_eq!(
        gql(&mut klara, &rp, ME, json!({})).1["data"]["me"]["person"]["id"],
        klara_id.as_str(),
        "the same person"
    );
    let stolen = klara.clone();
    let logout = klara.request(
        "POST",
        &format!("{rp}/auth/logout"),
        &[("Origin", &rp)],
        Some(("application/x-www-form-urlencoded", "")),
    );
    assert_eq!(logout.status, 303);
    let to = logout.header("location").expect("location");
    assert!(to.starts_with(&format!("{}/session/end", land.issuer())), "signs out at the provider too: {to}");
    assert_eq!(query_param(to, "post_logout_redirect_uri").as_deref(), Some(format!("{rp}/").as_str()));
    assert!(!klara.cookies.contains_key("__Host-efa-session"), "the cookie is cleared");
    let mut stolen = stolen;
    assert_eq!(
        gql(&mut stolen, &rp, ME, json!({})).1["errors"][0]["extensions"]["code"],
        "UNAUTHENTICATED",
        "a copy of the ended cookie"
    );
    let foreign_logout = petra.request(
        "POST",
        &format!("{rp}/auth/logout"),
        &[("Origin", "http://evil.example")],
        Some(("application/x-www-form-urlencoded", "")),
    );
    assert_eq!(foreign_logout.status, 403, "another site cannot sign a person out");

    // The audit shows who ended the session: the project manager, with the reason.
    let events = setup.server.gql(Some(&setup.server.admin), "{ events(filter: { types: [\"SessionEnded\"] }, first: 10) { edges { node { type actor { id } data } } } }", json!({}));
    let edges = events["data"]["events"]["edges"].as_array().unwrap_or_else(|| panic!("{events}"));
    assert!(edges.iter().any(|e| e["node"]["data"]["reason"] == "Gerät verloren"), "{events}");
}

#[test]
fn refusals_say_why_in_german_and_nothing_of_them_is_stored() {
    if !oidc::available() {
        return;
    }
    let (land_port, kommunal_port, rp_port) = (free_port(), free_port(), free_port());
    let rp = format!("http://127.0.0.1:{rp_port}");
    let _land = Op::start(land_port, "k1", &rp, "");
    let setup = server_for(land_port, kommunal_port, rp_port, 2);
    let rp = setup.rp.clone();

    // Claims that map to no role: what arrived and what is missing.
    let hops = sign_in(&mut Agent::default(), &rp, "land", "niemand");
    let page = callback(&hops);
    assert_eq!(page.status, 403);
    assert!(page.body.contains("Keiner der Werte des Claims `groups`"), "{}", page.body);
    assert!(page.body.contains("/andere/gruppe"), "what arrived is shown: {}", page.body);
    // An administration the catalogue does not know, named.
    let hops = sign_in(&mut Agent::default(), &rp, "land", "fremd");
    assert_eq!(callback(&hops).status, 403);
    assert!(callback(&hops).body.contains("129999999999"), "{}", callback(&hops).body);

    // A replayed callback (its flow cookie kept), a changed state, no flow cookie at all.
    let mut klara = Agent::default();
    let hops = klara.follow(&format!("{rp}/auth/login?issuer=land"));
    let flow = klara.cookies.get("__Host-efa-signin").cloned().expect("the flow cookie");
    let form = hops.last().expect("the login form").url.clone();
    let done = klara.post_form(&form, "prompt=login&login=klara&password=egal", &[]);
    let first = callback(&done).clone();
    assert_eq!(first.status, 303, "{}", first.body);
    let mut replay = Agent::default();
    replay.cookies.insert("__Host-efa-signin".into(), flow.clone());
    let replayed = replay.request("GET", &first.url, &[], None);
    assert_eq!(replayed.status, 400, "{}", replayed.body);
    assert!(replayed.body.contains("bereits verwendet"), "{}", replayed.body);
    assert!(!replay.cookies.contains_key("__Host-efa-session"));
    let mut changed_state = Agent::default();
    changed_state.cookies.insert("__Host-efa-signin".into(), flow);
    let state = query_param(&first.url, "state").expect("state");
    let changed = changed_state.request("GET", &first.url.replace(&state, &format!("{state}x")), &[], None);
    assert_eq!(changed.status, 400);
    assert!(changed.body.contains("state passt nicht"), "{}", changed.body);
    let without_cookie = Agent::default().request("GET", &first.url, &[], None);
    assert_eq!(without_cookie.status, 400);
    assert!(without_cookie.body.contains("Anmelde-Cookie fehlt"), "{}", without_cookie.body);

    // An idle session ends (idle_seconds = 2 here).
    assert_eq!(gql(&mut klara, &rp, ME, json!({})).1["data"]["me"]["role"], "authority-staff");
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let (_, idle) = gql(&mut klara, &rp, ME, json!({}));
    assert_eq!(idle["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "idle too long: {idle}");

    // The refused logins registered no one; no file of the data directory and no table of the
    // database holds a datum of a login in plain text (names, e-mail addresses, subjects).
    let persons = setup.server.gql(Some(&setup.server.admin), "{ access { person { name } } }", json!({}));
    assert_eq!(persons["data"]["access"].as_array().map(Vec::len), Some(1), "{persons}");
    let needles = crate::persons::needles_of(&[
        "Klara Kommune",
        "klara.kommune@",
        "sub-klara",
        "Nora Niemand",
        "Fritz Fremd",
    ]);
    let store = crate::persons::store_url(&setup.server);
    let mut server = setup.server;
    let pid = server.child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().expect("kill").success());
    assert!(server.child.wait().expect("wait").success(), "the server stopped cleanly");
    let dir = server.dir().to_owned();
    let mut found = Vec::new();
    crate::persons::scan_dir(&dir, &needles, &mut found);
    if let Some(url) = store {
        crate::persons::scan_database(&url, &needles, &mut found);
    }
    assert!(found.is_empty(), "{found:?}");
}

#[test]
fn a_rotated_key_is_fetched_again_a_tampered_token_and_a_wrong_issuer_are_refused() {
    if !oidc::available() {
        return;
    }
    let (land_port, kommunal_port, rp_port) = (free_port(), free_port(), free_port());
    let rp = format!("http://127.0.0.1:{rp_port}");
    let land = Op::start(land_port, "k1", &rp, "");
    let setup = server_for(land_port, kommunal_port, rp_port, 3600);
    let rp = setup.rp.clone();
    let mut klara = Agent::default();
    assert_eq!(callback(&sign_in(&mut klara, &rp, "land", "klara")).status, 303);

    // The provider restarts with a new key (k2): signing in works without restarting the server.
    drop(land);
    let land = Op::start(land_port, "k2", &rp, "");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let mut petra = Agent::default();
    let hops = sign_in(&mut petra, &rp, "land", "petra");
    assert_eq!(callback(&hops).status, 303, "{}", callback(&hops).body);
    assert!(setup.server.log().contains("signing keys fetched again"), "{}", setup.server.log());

    // A tampered ID token (payload changed after signing) is refused and signs no one in. The
    // provider signs with a new key (k3), which is fetched: only the tampering can fail it.
    drop(land);
    let land = Op::start(land_port, "k3", &rp, "signature");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let mut mallory = Agent::default();
    let hops = sign_in(&mut mallory, &rp, "land", "klara");
    assert_eq!(callback(&hops).status, 400, "{}", callback(&hops).body);
    assert!(
        callback(&hops).body.contains("ID-Token des Anmeldedienstes ist ungültig"),
        "{}",
        callback(&hops).body
    );
    assert!(callback(&hops).body.contains("Signature verification failed"), "{}", callback(&hops).body);
    assert_eq!(setup.server.log().matches("signing keys fetched again").count(), 2, "k3 was fetched");
    assert!(!mallory.cookies.contains_key("__Host-efa-session"));

    // An authorization response naming another issuer (mix-up) is refused.
    drop(land);
    let _land = Op::start(land_port, "k3", &rp, "iss");
    let hops = sign_in(&mut mallory, &rp, "land", "klara");
    assert_eq!(callback(&hops).status, 400, "{}", callback(&hops).body);
    assert!(callback(&hops).body.contains("die Antwort kommt von"), "{}", callback(&hops).body);
}

#[test]
fn an_erased_person_signing_in_again_is_a_new_person() {
    if !oidc::available() {
        return;
    }
    let (land_port, kommunal_port, rp_port) = (free_port(), free_port(), free_port());
    let rp = format!("http://127.0.0.1:{rp_port}");
    let _land = Op::start(land_port, "k1", &rp, "");
    let setup = server_for(land_port, kommunal_port, rp_port, 3600);
    let rp = setup.rp.clone();
    let mut klara = Agent::default();
    sign_in(&mut klara, &rp, "land", "klara");
    let first =
        gql(&mut klara, &rp, ME, json!({})).1["data"]["me"]["person"]["id"].as_str().expect("id").to_owned();
    let erase = "mutation($i: ErasePersonInput!) { erasePerson(input: $i) { name } }";
    let erased = setup.server.gql(
        Some(&setup.server.admin),
        erase,
        json!({ "i": { "personId": first, "reason": "Antrag nach Art. 17 DSGVO" } }),
    );
    assert_eq!(erased["data"]["erasePerson"]["name"], "[gelöscht]", "{erased}");
    let (_, after) = gql(&mut klara, &rp, ME, json!({}));
    assert_eq!(
        after["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "the erased person's session ends: {after}"
    );
    let sessions = setup.server.gql(
        Some(&setup.server.admin),
        "query($p: ID!) { sessions(personId: $p) { id } }",
        json!({ "p": first }),
    );
    assert_eq!(
        sessions["data"]["sessions"],
        json!([]),
        "the sessions and their times go with the person: {sessions}"
    );
    sign_in(&mut klara, &rp, "land", "klara");
    let (_, me) = gql(&mut klara, &rp, ME, json!({}));
    let second = me["data"]["me"]["person"]["id"].as_str().expect("id");
    assert_ne!(second, first, "a new person");
    assert_eq!(me["data"]["me"]["person"]["name"], "Klara Kommune");
}

/// In Chromium: "Anmelden mit Landesverwaltung", the provider's own login form, back signed in
/// with name and role in the header, the access page, "Abmelden" (here and at the provider).
#[test]
fn the_dashboard_signs_in_through_the_providers_form_and_out_again() {
    use crate::support::browser::{chromium_available, Browser};
    if !oidc::available() || !chromium_available() {
        return;
    }
    let (land_port, kommunal_port, rp_port) = (free_port(), free_port(), free_port());
    let rp = format!("http://127.0.0.1:{rp_port}");
    let _land = Op::start(land_port, "k1", &rp, "");
    let setup = server_for(land_port, kommunal_port, rp_port, 3600);
    let browser = Browser::launch();
    let mut page = browser.open(&format!("{}/", setup.rp));
    page.wait_for(
        "!!document.querySelector('#providers a[data-issuer=land]')",
        30,
        "document.body.innerText.slice(0, 500)",
    );
    let label = page.eval("document.querySelector('#providers a[data-issuer=land]').textContent");
    assert_eq!(label, json!("Anmelden mit Landesverwaltung"));
    assert_eq!(
        page.eval("document.getElementById('token-signin').open"),
        json!(false),
        "the token form is folded away"
    );
    page.click("#providers a[data-issuer=land]");
    page.wait_for(
        "!!document.querySelector('input[name=login]')",
        30,
        "document.body.innerText.slice(0, 500)",
    );
    page.eval("document.querySelector('input[name=login]').value = 'petra'; document.querySelector('input[name=password]').value = 'egal'; document.querySelector('form').submit()");
    page.wait_for(
        "(document.getElementById('me') || {}).textContent === 'Angemeldet: Petra Projekt (Projektleitung)'",
        30,
        "location.href + ' ' + document.body.innerText.slice(0, 500)",
    );
    // Klara signs in elsewhere; Petra ends her session on "Zugänge".
    let mut klara = Agent::default();
    sign_in(&mut klara, &setup.rp, "land", "klara");
    assert_eq!(gql(&mut klara, &setup.rp, ME, json!({})).1["data"]["me"]["role"], "authority-staff");
    page.eval("location.hash = '#/zugaenge'");
    page.wait_for(
        "!!document.querySelector('#access-list') && document.querySelector('#access-list').textContent.includes('Klara Kommune')",
        30,
        "document.body.innerText.slice(0, 800)",
    );
    let row = page.eval("[...document.querySelectorAll('#access-list tbody tr')].find(r => r.textContent.includes('Petra Projekt')).textContent");
    assert!(
        row.as_str().is_some_and(|r| r.contains("Projektleitung") && r.contains("Sitzung beenden")),
        "{row}"
    );
    page.eval("const r = [...document.querySelectorAll('#access-list tbody tr')].find(r => r.textContent.includes('Klara Kommune')); r.querySelector('input').value = 'Rechner gestohlen'; r.querySelector('button').click()");
    page.wait_for(
        "document.getElementById('access-status').textContent === 'Die Sitzung von Klara Kommune ist beendet.'",
        30,
        "document.getElementById('access-status').textContent",
    );
    let (_, ended) = gql(&mut klara, &setup.rp, ME, json!({}));
    assert_eq!(ended["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "{ended}");
    // Live updates run over the WebSocket the session cookie signed in.
    page.wait_for(
        "document.querySelectorAll('nav a').length > 5",
        10,
        "document.body.innerText.slice(0, 300)",
    );
    page.click("#signout");
    page.wait_for(&format!("location.href.startsWith('http://127.0.0.1:{land_port}/')"), 30, "location.href");
    page.goto(&format!("{}/", setup.rp));
    page.wait_for(
        "!!document.querySelector('#providers a[data-issuer=land]')",
        30,
        "document.body.innerText.slice(0, 500)",
    );
    assert_eq!(page.eval("document.getElementById('whoami').hidden"), json!(true), "signed out");
    // (Not `assert_nothing_left_the_machine`: the provider's development pages ask for a web
    // font; the dashboard's own requests are held to it in `dashboard::`.)
}
