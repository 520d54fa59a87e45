//! Headless Chromium (Debian's `chromium`) driven over the Chrome DevTools Protocol on a
//! WebSocket: open pages, run JavaScript in them, wait for conditions, take screenshots, and
//! record every request a page makes so a test can fail when one leaves the machine.
//!
//! Only what the browser tests need: one browser process per test with a fresh profile, pages
//! as separate targets with their own protocol connection, blocking calls with timeouts.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tungstenite::{Message, WebSocket};

/// Whether Debian's chromium is there; without it the browser tests say they skipped
/// (`ROLLOUT_REQUIRE_CHROMIUM=1`, as CI sets it, makes its absence a failure).
pub fn chromium_available() -> bool {
    super::required(
        Command::new("chromium").arg("--version").output().is_ok(),
        "ROLLOUT_REQUIRE_CHROMIUM",
        "Debian's chromium: apt-get install chromium",
    )
}

/// The flags every run uses: headless, a fresh profile, no background traffic of the browser's
/// own, and every host but 127.0.0.1 unresolvable.
const FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
];

/// Where screenshots go: `ROLLOUT_SCREENSHOTS`, else `target/screenshots` of the workspace.
pub fn screenshot_dir() -> PathBuf {
    let dir = std::env::var_os("ROLLOUT_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots"));
    std::fs::create_dir_all(&dir).expect("screenshot directory");
    dir
}

/// A running browser; killed when dropped.
pub struct Browser {
    child: Child,
    port: u16,
    _profile: tempfile::TempDir,
    /// Every URL any page of this browser requested (documents, fetches, WebSockets, images).
    requests: Arc<Mutex<Vec<String>>>,
}

impl Browser {
    pub fn launch() -> Browser {
        let profile = tempfile::tempdir().expect("profile");
        let child = Command::new("chromium")
            .args(FLAGS)
            .arg("--remote-debugging-port=0")
            .arg("--remote-allow-origins=*")
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromium");
        // Chromium writes the port it chose to DevToolsActivePort in the profile.
        let file = profile.path().join("DevToolsActivePort");
        let deadline = Instant::now() + Duration::from_secs(30);
        let port = loop {
            if let Some(port) = std::fs::read_to_string(&file)
                .ok()
                .and_then(|t| t.lines().next().and_then(|l| l.trim().parse::<u16>().ok()))
            {
                break port;
            }
            assert!(Instant::now() < deadline, "chromium did not open its DevTools port");
            std::thread::sleep(Duration::from_millis(50));
        };
        Browser { child, port, _profile: profile, requests: Arc::default() }
    }

    /// A new tab (1280 × 900 unless resized) showing `url`, loaded.
    pub fn open(&self, url: &str) -> Page {
        let target = self.http("PUT", "/json/new?about:blank");
        let ws_url = target["webSocketDebuggerUrl"].as_str().expect("target websocket").to_owned();
        let stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to chromium");
        stream.set_read_timeout(Some(Duration::from_millis(200))).expect("timeout");
        let (ws, _) = tungstenite::client(ws_url.as_str(), stream).expect("DevTools handshake");
        let mut page =
            Page { ws, next_id: 0, requests: self.requests.clone(), console: Vec::new(), loaded: false };
        page.call("Page.enable", json!({}));
        page.call("Network.enable", json!({}));
        page.call("Runtime.enable", json!({}));
        // Behave as the focused window, so focus events fire as they do for a person.
        page.call("Emulation.setFocusEmulationEnabled", json!({ "enabled": true }));
        page.resize(1280, 900);
        page.goto(url);
        page
    }

    /// Every URL requested so far.
    /// Opens the dashboard at `url` (`…/#token=…`) and signs in as a person would: the link
    /// only fills the sign-in field and says whose token it is; a click on „Anmelden“ signs in.
    pub fn open_signed_in(&self, url: &str) -> Page {
        let mut page = self.open(url);
        page.wait_for(
            "document.getElementById('link-token-note') !== null",
            60,
            "document.body.innerText.slice(0, 300)",
        );
        page.click("#signin button[type=submit]");
        page
    }

    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Panics naming every request that went anywhere but 127.0.0.1 (or stayed inside the page).
    pub fn assert_nothing_left_the_machine(&self) {
        let all = self.requests();
        assert!(!all.is_empty(), "requests are recorded");
        let away: Vec<&String> = all
            .iter()
            .filter(|u| {
                !(u.starts_with("http://127.0.0.1:")
                    || u.starts_with("ws://127.0.0.1:")
                    || u.starts_with("data:")
                    || u.starts_with("blob:")
                    || u.as_str() == "about:blank")
            })
            .collect();
        assert!(away.is_empty(), "requests left the machine: {away:?}");
    }

    fn http(&self, method: &str, path: &str) -> Value {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to chromium");
        s.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
        write!(s, "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").expect("send");
        // The DevTools server may keep the connection open: read the head, then Content-Length bytes.
        let mut raw = Vec::new();
        let mut buf = [0u8; 4096];
        let (head_end, length) = loop {
            let n = s.read(&mut buf).expect("read");
            assert!(n > 0, "DevTools closed the connection: {}", String::from_utf8_lossy(&raw));
            raw.extend_from_slice(&buf[..n]);
            if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&raw[..i]).to_ascii_lowercase();
                let length = head
                    .lines()
                    .find_map(|l| {
                        l.strip_prefix("content-length:").and_then(|v| v.trim().parse::<usize>().ok())
                    })
                    .expect("Content-Length");
                break (i + 4, length);
            }
        };
        while raw.len() < head_end + length {
            let n = s.read(&mut buf).expect("read");
            assert!(n > 0, "DevTools closed the connection early");
            raw.extend_from_slice(&buf[..n]);
        }
        let body = &raw[head_end..head_end + length];
        serde_json::from_slice(body)
            .unwrap_or_else(|_| panic!("DevTools answered {}", String::from_utf8_lossy(&raw)))
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One tab and its protocol connection.
pub struct Page {
    ws: WebSocket<TcpStream>,
    next_id: u64,
    requests: Arc<Mutex<Vec<String>>>,
    /// Console errors and uncaught exceptions, for failure messages.
    pub console: Vec<String>,
    loaded: bool,
}

impl Page {
    /// Sends a command and waits for its answer (events that arrive meanwhile are recorded).
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let message = json!({ "id": id, "method": method, "params": params }).to_string();
        self.ws.send(Message::Text(message.into())).expect("send to chromium");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            assert!(Instant::now() < deadline, "chromium did not answer {method}");
            let Some(m) = self.receive() else { continue };
            if m["id"] == id {
                if let Some(e) = m.get("error") {
                    panic!("{method} failed: {e}");
                }
                return m["result"].clone();
            }
        }
    }

    /// Reads one message (None on a read timeout) and records what it tells about the page.
    fn receive(&mut self) -> Option<Value> {
        let m = match self.ws.read() {
            Ok(Message::Text(t)) => serde_json::from_str::<Value>(&t).expect("DevTools JSON"),
            Ok(_) => return None,
            Err(tungstenite::Error::Io(e))
                if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) =>
            {
                return None
            }
            Err(e) => panic!("the DevTools connection failed: {e}"),
        };
        let params = &m["params"];
        match m["method"].as_str() {
            Some("Network.requestWillBeSent") => self.record(params["request"]["url"].as_str()),
            Some("Network.webSocketCreated") => self.record(params["url"].as_str()),
            Some("Page.loadEventFired") => self.loaded = true,
            Some("Runtime.exceptionThrown") => {
                self.console.push(format!("exception: {}", params["exceptionDetails"]))
            }
            Some("Runtime.consoleAPICalled") if params["type"] == "error" => {
                self.console.push(format!("console.error: {}", params["args"]))
            }
            _ => {}
        }
        Some(m)
    }

    fn record(&self, url: Option<&str>) {
        if let Some(url) = url {
            self.requests.lock().unwrap_or_else(|p| p.into_inner()).push(url.to_owned());
        }
    }

    /// Navigates and waits for the load event.
    pub fn goto(&mut self, url: &str) {
        self.loaded = false;
        self.call("Page.navigate", json!({ "url": url }));
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.loaded {
            assert!(Instant::now() < deadline, "{url} did not load");
            self.receive();
        }
    }

    pub fn resize(&mut self, width: u32, height: u32) {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false }),
        );
    }

    /// Evaluates `expression` (awaiting a promise) and returns its value.
    pub fn eval(&mut self, expression: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({ "expression": expression, "awaitPromise": true, "returnByValue": true }),
        );
        if let Some(e) = r.get("exceptionDetails") {
            panic!("`{expression}` threw: {e}");
        }
        r["result"]["value"].clone()
    }

    /// Waits until `condition` (JavaScript) is true; panics after `seconds` naming it and what
    /// `describe` (JavaScript) says about the page then.
    pub fn wait_for(&mut self, condition: &str, seconds: u64, describe: &str) {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        loop {
            if self.eval(&format!("!!({condition})")) == Value::Bool(true) {
                return;
            }
            if Instant::now() > deadline {
                let state = self.eval(describe);
                panic!(
                    "waited {seconds} s for `{condition}`; the page: {state}; console: {:?}",
                    self.console
                );
            }
            // Reading for a while also records the page's requests meanwhile.
            let until = Instant::now() + Duration::from_millis(100);
            while Instant::now() < until {
                self.receive();
            }
        }
    }

    /// Clicks the first element matching `selector` (a real mouse click at its centre, so
    /// it is what a person can click: visible and not covered).
    pub fn click(&mut self, selector: &str) {
        let quoted = serde_json::to_string(selector).expect("selector");
        let at = self.eval(&format!(
            "(() => {{ const e = document.querySelector({quoted}); if (!e) return null; e.scrollIntoView({{block: 'center'}}); const r = e.getBoundingClientRect(); const x = r.x + r.width / 2, y = r.y + r.height / 2; const hit = document.elementFromPoint(x, y); return [x, y, !!hit && (e === hit || e.contains(hit)), hit ? hit.outerHTML.slice(0, 200) : null]; }})()"
        ));
        let (Some(x), Some(y)) = (at[0].as_f64(), at[1].as_f64()) else {
            panic!("nothing to click: {selector}");
        };
        assert_eq!(at[2], Value::Bool(true), "{selector} is covered by {}", at[3]);
        for kind in ["mousePressed", "mouseReleased"] {
            self.call(
                "Input.dispatchMouseEvent",
                json!({ "type": kind, "x": x, "y": y, "button": "left", "clickCount": 1 }),
            );
        }
    }

    /// Accessibility problems of what the page shows now: form controls, buttons, links and
    /// focusable graphics without an accessible name, text whose contrast with its background is
    /// below WCAG AA (4.5:1, or 3:1 for large text), a missing `lang`, content wider than the
    /// window (outside scroll containers). Empty when none.
    pub fn accessibility_problems(&mut self) -> Vec<String> {
        let found = self.eval(ACCESSIBILITY_AUDIT);
        found
            .as_array()
            .map(|a| a.iter().map(|v| v.as_str().unwrap_or_default().to_owned()).collect())
            .unwrap_or_default()
    }

    /// Presses a key (e.g. "Enter", "Tab") as a keyboard would.
    pub fn press(&mut self, key: &str) {
        let (code, text) = match key {
            "Enter" => (13, "\r"),
            "Tab" => (9, ""),
            " " => (32, " "),
            _ => (0, ""),
        };
        for kind in ["keyDown", "keyUp"] {
            let mut event = json!({ "type": kind, "key": key, "code": key, "windowsVirtualKeyCode": code });
            if kind == "keyDown" && !text.is_empty() {
                event["text"] = json!(text);
            }
            self.call("Input.dispatchKeyEvent", event);
        }
    }

    /// Types `text` key by key, as a keyboard would (letters, digits and punctuation).
    pub fn type_text(&mut self, text: &str) {
        for c in text.chars() {
            let key = c.to_string();
            let code = c.to_ascii_uppercase() as u32;
            self.call(
                "Input.dispatchKeyEvent",
                json!({ "type": "keyDown", "key": key, "text": key, "windowsVirtualKeyCode": code }),
            );
            self.call(
                "Input.dispatchKeyEvent",
                json!({ "type": "keyUp", "key": key, "windowsVirtualKeyCode": code }),
            );
        }
    }

    /// Lets downloads of this page go to `dir`.
    pub fn allow_downloads(&mut self, dir: &Path) {
        self.call(
            "Browser.setDownloadBehavior",
            json!({ "behavior": "allow", "downloadPath": dir.display().to_string() }),
        );
    }

    /// Saves a PNG of the page (the whole page when `full`).
    pub fn screenshot(&mut self, path: &Path, full: bool) {
        let shot =
            self.call("Page.captureScreenshot", json!({ "format": "png", "captureBeyondViewport": full }));
        let data = shot["data"].as_str().expect("png data");
        let bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, data).expect("base64");
        std::fs::write(path, bytes).expect("write the screenshot");
    }

    /// Lets pending protocol events be read (so their requests are recorded).
    pub fn settle(&mut self, millis: u64) {
        let until = Instant::now() + Duration::from_millis(millis);
        while Instant::now() < until {
            self.receive();
        }
    }
}

/// The checks of `Page::accessibility_problems`, run in the page.
const ACCESSIBILITY_AUDIT: &str = r#"(() => {
  const problems = [];
  const visible = (e) => { const r = e.getBoundingClientRect(); const s = getComputedStyle(e); return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none'; };
  const describe = (e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className && typeof e.className === 'string' ? '.' + e.className.split(' ').join('.') : '') + ' "' + (e.textContent || '').trim().slice(0, 40) + '"';
  if (!document.documentElement.lang) problems.push('the page has no lang');
  const named = (e) => {
    if ((e.getAttribute('aria-label') || '').trim()) return true;
    const by = e.getAttribute('aria-labelledby');
    if (by && by.split(' ').some((id) => (document.getElementById(id) || {}).textContent)) return true;
    if (e.id && document.querySelector('label[for="' + e.id + '"]')) return true;
    if (e.closest('label')) return true;
    if (['BUTTON', 'A', 'SUMMARY'].includes(e.tagName) && e.textContent.trim()) return true;
    if (e.querySelector && e.querySelector('title') && e.querySelector('title').textContent.trim()) return true;
    return false;
  };
  for (const e of document.querySelectorAll('input:not([type=hidden]), select, textarea, button, a[href], summary, [tabindex]:not([tabindex="-1"]), svg[role]')) {
    if (visible(e) && !named(e)) problems.push('no accessible name: ' + describe(e));
  }
  const rgb = (c) => { const m = c.match(/[\d.]+/g); return m ? m.map(Number) : [0, 0, 0, 0]; };
  const lum = ([r, g, b]) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }; return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const background = (e) => {
    for (let x = e; x; x = x.parentElement) {
      const c = rgb(getComputedStyle(x).backgroundColor);
      if (c.length < 4 || c[3] > 0.9) return c;
      if (getComputedStyle(x).backgroundImage !== 'none') return null;
    }
    return [255, 255, 255];
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const seen = new Set();
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const e = n.parentElement;
    if (!n.textContent.trim() || seen.has(e) || !visible(e) || e.closest('svg')) continue;
    seen.add(e);
    const bg = background(e);
    if (!bg) continue;
    const s = getComputedStyle(e);
    const fg = rgb(s.color);
    const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    const large = parseFloat(s.fontSize) >= 24 || (parseFloat(s.fontSize) >= 18.66 && Number(s.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5) && Number(s.opacity) > 0.9) problems.push('contrast ' + ratio.toFixed(2) + ': ' + describe(e));
  }
  if (document.documentElement.scrollWidth > window.innerWidth + 1) problems.push('the page is wider than the window: ' + document.documentElement.scrollWidth + ' > ' + window.innerWidth);
  return problems;
})()"#;
