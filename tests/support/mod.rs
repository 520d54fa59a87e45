//! What the end-to-end tests share: a real `rollout serve` process on a fresh store (sled, or
//! PostgreSQL with `ROLLOUT_E2E_POSTGRES=1`), plain HTTP and GraphQL calls, and headless
//! Chromium driven over the DevTools protocol (`browser`).
pub mod agent;
pub mod browser;
pub mod oidc;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

/// Whether a tool a test needs is here (`present`); if not, the test says it skipped — or
/// fails, when CI set `require` (e.g. `ROLLOUT_REQUIRE_NODE=1`). `how` says how to get it.
pub fn required(present: bool, require: &str, how: &str) -> bool {
    if !present {
        assert!(std::env::var_os(require).is_none(), "required ({require}), but missing: {how}");
        println!("skipped: missing ({how})");
    }
    present
}

/// Runs the `rollout` binary with `args`, without the store settings of the environment.
pub fn rollout(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rollout"))
        .args(args)
        .env_remove("ROLLOUT_DATA_DIR")
        .env_remove("ROLLOUT_STORE")
        .output()
        .expect("run rollout")
}

/// POSTs raw bytes to /graphql at `address`; (status, body), or an error when the server is gone.
pub fn post(address: &str, token: Option<&str>, body: &[u8]) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(address)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let head = format!(
        "POST /graphql HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes())?;
    s.write_all(body)?;
    let mut response = String::new();
    s.read_to_string(&mut response)?;
    let status = response.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    Ok((status, body))
}

pub struct Server {
    pub child: Child,
    pub address: String,
    pub admin: String,
    pub _dir: tempfile::TempDir,
    /// `["--store", URL]` when the log is in PostgreSQL, else `["--data-dir", DIR]`: for the
    /// command-line tools that open the same log.
    pub store_args: Vec<String>,
}

/// With `ROLLOUT_E2E_POSTGRES=1` (and `ROLLOUT_TEST_DATABASE_URL`) every server keeps its log in
/// a fresh PostgreSQL schema: CI runs these tests once against sled and once against PostgreSQL.
fn postgres_store() -> Option<String> {
    std::env::var_os("ROLLOUT_E2E_POSTGRES")?;
    let url = std::env::var("ROLLOUT_TEST_DATABASE_URL").ok()?;
    let schema = format!("efa_t_{}", uuid::Uuid::now_v7().simple());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let mut config = store_postgres::PgConfig::new(url.clone());
        config.schema = Some(schema.clone());
        store_postgres::PgStore::open(config).await.expect("create the schema");
    });
    let separator = if url.contains('?') { '&' } else { '?' };
    Some(format!("{url}{separator}options=-csearch_path%3D{schema}"))
}

impl Server {
    pub fn start() -> Server {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().to_owned();
        Server::spawn(&path, dir)
    }

    /// A server on an existing data directory (kept by the caller).
    pub fn start_in(path: std::path::PathBuf) -> Server {
        Server::spawn(&path, tempfile::tempdir().expect("dir"))
    }

    /// A server on a fresh store started with the flags `extra`.
    pub fn start_with(extra: &[&str]) -> Server {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().to_owned();
        Server::spawn_with(&path, dir, extra)
    }

    /// A server started with `--demo`.
    pub fn start_demo() -> Server {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().to_owned();
        Server::spawn_with(&path, dir, &["--demo"])
    }

    pub fn spawn(path: &Path, dir: tempfile::TempDir) -> Server {
        Server::spawn_with(path, dir, &[])
    }

    pub fn spawn_with(path: &Path, dir: tempfile::TempDir, extra: &[&str]) -> Server {
        let explicit = extra.contains(&"--store");
        let pg = if explicit || path.join("log").exists() { None } else { postgres_store() };
        let store_args = match (&pg, extra.iter().position(|a| *a == "--store")) {
            (Some(url), _) => vec!["--store".to_owned(), url.clone()],
            (None, Some(i)) => extra[i..i + 2].iter().map(|a| (*a).to_owned()).collect(),
            (None, None) => vec!["--data-dir".to_owned(), path.display().to_string()],
        };
        // `--listen` among `extra` chooses the port (a test that must know it before the start).
        let listen = if extra.contains(&"--listen") { &[][..] } else { &["--listen", "127.0.0.1:0"][..] };
        let mut child = Command::new(env!("CARGO_BIN_EXE_rollout"))
            .arg("serve")
            .args(listen)
            .arg("--data-dir")
            .arg(path)
            .args(pg.iter().flat_map(|url| ["--store".to_owned(), url.clone()]))
            .args(extra)
            .env_remove("ROLLOUT_DATA_DIR")
            .stdout(Stdio::piped())
            .stderr(
                std::fs::File::create(dir.path().join("server.log"))
                    .map(Stdio::from)
                    .unwrap_or_else(|_| Stdio::null()),
            )
            .spawn()
            .expect("start the server");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let address = loop {
            let line = lines.next().expect("the server prints its address").expect("line");
            if let Some(a) = line.strip_prefix("listening on http://") {
                break a.to_owned();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        let admin = std::fs::read_to_string(path.join("admin.token")).unwrap_or_default();
        Server { child, address, admin, _dir: dir, store_args }
    }

    /// A server on the log at `store` (a PostgreSQL URL), its local files in `path`.
    pub fn start_on(path: &Path, store: &str) -> Server {
        Server::spawn_with(path, tempfile::tempdir().expect("dir"), &["--store", store])
    }

    /// What the server wrote to stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("server.log")).unwrap_or_default()
    }

    /// Every node of a connection: `query` takes `$a: String` as the `after` cursor and asks
    /// for `field { edges { node { … } } pageInfo { hasNextPage endCursor } }`.
    pub fn all_pages(&self, token: &str, query: &str, field: &str) -> Vec<Value> {
        let mut nodes = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let r = self.gql(Some(token), query, json!({ "a": after }));
            let page = &r["data"][field];
            let edges = page["edges"].as_array().unwrap_or_else(|| panic!("{r}"));
            nodes.extend(edges.iter().map(|e| e["node"].clone()));
            if page["pageInfo"]["hasNextPage"] != true {
                return nodes;
            }
            after = page["pageInfo"]["endCursor"].as_str().map(String::from);
        }
    }

    /// Panics unless `rollout verify` passes on the server's log.
    pub fn assert_log_verifies(&self) {
        let verify = Command::new(env!("CARGO_BIN_EXE_rollout"))
            .arg("verify")
            .args(&self.store_args)
            .output()
            .expect("verify");
        assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stderr));
    }

    /// The data directory of a server made by `start`.
    pub fn dir(&self) -> &Path {
        self._dir.path()
    }

    /// POSTs raw bytes to /graphql; returns (status, body).
    pub fn post_raw(&self, token: Option<&str>, body: &[u8]) -> (u16, String) {
        post(&self.address, token, body).expect("a response")
    }

    pub fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let body = json!({ "query": query, "variables": variables }).to_string();
        let (_, text) = self.post_raw(token, body.as_bytes());
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
    }

    pub fn get(&self, path: &str) -> u16 {
        let mut s = TcpStream::connect(&self.address).expect("connect");
        write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").expect("send");
        let mut response = String::new();
        s.read_to_string(&mut response).expect("read");
        response.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0)
    }

    /// Registers a contact person of `ars` (as the admin); its id, for `person` evidence fields.
    pub fn contact(&self, ars: &str) -> String {
        let r = self.gql(
            Some(&self.admin),
            "mutation($i: RegisterPersonInput!) { registerPerson(input: $i) { id } }",
            json!({ "i": { "ars": ars, "name": "Frau Schulz" } }),
        );
        r["data"]["registerPerson"]["id"].as_str().unwrap_or_else(|| panic!("{r}")).to_owned()
    }

    pub fn issue(&self, role: &str, authorities: &[&str]) -> String {
        let r = self.gql(
            Some(&self.admin),
            "mutation($i: IssueTokenInput!) { issueToken(input: $i) { token role } }",
            json!({ "i": { "name": format!("{role} test"), "role": role, "authorities": authorities, "services": ["wohngeld"], "reason": "Test" } }),
        );
        r["data"]["issueToken"]["token"].as_str().unwrap_or_else(|| panic!("{r}")).to_owned()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A graphql-transport-ws client on a blocking WebSocket.
pub fn subscribe(server: &Server, token: Option<&str>, query: &str) -> tungstenite::WebSocket<TcpStream> {
    use tungstenite::client::IntoClientRequest;
    let mut request = format!("ws://{}/graphql", server.address).into_client_request().expect("request");
    request.headers_mut().insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse().expect("header"));
    let stream = TcpStream::connect(&server.address).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    let (mut ws, _) = tungstenite::client(request, stream).expect("handshake");
    let init = match token {
        Some(t) => {
            json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {t}") } })
        }
        None => json!({ "type": "connection_init", "payload": {} }),
    };
    ws.send(tungstenite::Message::Text(init.to_string().into())).expect("init");
    ws.send(tungstenite::Message::Text(
        json!({ "id": "1", "type": "subscribe", "payload": { "query": query } }).to_string().into(),
    ))
    .expect("subscribe");
    ws
}

pub fn next_message(ws: &mut tungstenite::WebSocket<TcpStream>) -> Option<Value> {
    loop {
        match ws.read() {
            Ok(tungstenite::Message::Text(t)) => return serde_json::from_str(&t).ok(),
            Ok(tungstenite::Message::Close(_)) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

/// The first message after `connection_ack`.
pub fn first_after_ack(ws: &mut tungstenite::WebSocket<TcpStream>) -> Value {
    loop {
        let m = next_message(ws).expect("a message");
        if m["type"] != "connection_ack" {
            return m;
        }
    }
}

/// The error code of a subscription's refusal (`error`, or `next` carrying errors).
pub fn ws_error_code(m: &Value) -> String {
    let errors = if m["type"] == "error" { &m["payload"] } else { &m["payload"]["errors"] };
    errors[0]["extensions"]["code"].as_str().unwrap_or("").to_owned()
}
