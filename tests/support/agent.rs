//! A small HTTP/1.1 client that keeps cookies per host (ports ignored, as browsers do) and
//! follows redirects: enough to walk a sign-in through a real OpenID provider and the server.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// The URL it answered.
    pub url: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A client with a cookie jar.
#[derive(Debug, Default, Clone)]
pub struct Agent {
    /// Cookie name → value (one host: 127.0.0.1).
    pub cookies: BTreeMap<String, String>,
}

fn split_url(url: &str) -> (String, String) {
    let rest = url.strip_prefix("http://").expect("an http:// URL");
    match rest.find('/') {
        Some(i) => (rest[..i].to_owned(), rest[i..].to_owned()),
        None => (rest.to_owned(), "/".to_owned()),
    }
}

fn dechunk(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(end) = rest.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(
            String::from_utf8_lossy(&rest[..end]).split(';').next().unwrap_or("0").trim(),
            16,
        )
        .unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = end + 2;
        out.extend_from_slice(&rest[start..(start + size).min(rest.len())]);
        rest = &rest[(start + size + 2).min(rest.len())..];
    }
    out
}

impl Agent {
    /// The cookie header this agent sends.
    pub fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    /// One request, no redirect followed. `headers`: extra ones; `body`: (content type, text).
    pub fn request(
        &mut self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<(&str, &str)>,
    ) -> Response {
        let (host, path) = split_url(url);
        let mut s = TcpStream::connect(&host).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
        if !self.cookies.is_empty() {
            head.push_str(&format!("Cookie: {}\r\n", self.cookie_header()));
        }
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        if let Some((ty, text)) = body {
            head.push_str(&format!("Content-Type: {ty}\r\nContent-Length: {}\r\n", text.len()));
        }
        head.push_str("\r\n");
        s.write_all(head.as_bytes()).expect("write");
        if let Some((_, text)) = body {
            s.write_all(text.as_bytes()).expect("write body");
        }
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).expect("read");
        let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a head");
        let head = String::from_utf8_lossy(&raw[..split]).to_string();
        let mut lines = head.lines();
        let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|c| c.parse().ok()).unwrap_or(0);
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect();
        let chunked = headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked"));
        let body_bytes = if chunked { dechunk(&raw[split + 4..]) } else { raw[split + 4..].to_vec() };
        for (_, v) in headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie")) {
            let first = v.split(';').next().unwrap_or_default();
            let Some((name, value)) = first.split_once('=') else { continue };
            let removed = v.to_ascii_lowercase().contains("max-age=0")
                || v.to_ascii_lowercase().contains("expires=thu, 01 jan 1970");
            if removed || value.is_empty() {
                self.cookies.remove(name.trim());
            } else {
                self.cookies.insert(name.trim().to_owned(), value.trim().to_owned());
            }
        }
        Response {
            status,
            headers,
            body: String::from_utf8_lossy(&body_bytes).to_string(),
            url: url.to_owned(),
        }
    }

    /// GET `url`, following redirects (at most 10); every response on the way.
    pub fn follow(&mut self, url: &str) -> Vec<Response> {
        let first = self.request("GET", url, &[], None);
        self.redirected(first)
    }

    /// POST a form to `url`, following the redirects after it.
    pub fn post_form(&mut self, url: &str, form: &str, headers: &[(&str, &str)]) -> Vec<Response> {
        let first = self.request("POST", url, headers, Some(("application/x-www-form-urlencoded", form)));
        self.redirected(first)
    }

    /// `first` and the responses of the redirects after it (at most 10).
    fn redirected(&mut self, first: Response) -> Vec<Response> {
        let mut hops = vec![first];
        while let Some(location) =
            hops.last().filter(|r| (300..400).contains(&r.status)).and_then(|r| r.header("location"))
        {
            let next = absolute(&hops.last().expect("hop").url, location);
            assert!(hops.len() < 10, "too many redirects: {hops:?}");
            hops.push(self.request("GET", &next, &[], None));
        }
        hops
    }
}

/// `location` made absolute against `base`.
pub fn absolute(base: &str, location: &str) -> String {
    if location.starts_with("http://") || location.starts_with("https://") {
        return location.to_owned();
    }
    let (host, _) = split_url(base);
    format!("http://{host}{location}")
}

/// The value of query parameter `name` of `url`, percent-decoded.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query
        .split('&')
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| percent_decode(v))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("00");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).to_string()
}
