//! A minimal HTTP/1.1 keep-alive client for the load generators (`http` here, and the binary's
//! `growth` bench, which `#[path]`-includes this file): one request, one response read by
//! Content-Length, nothing else in the way of the measurement.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One keep-alive connection; sends a request, reads one response (by Content-Length).
pub struct Client {
    stream: TcpStream,
    buffer: Vec<u8>,
}

impl Client {
    pub async fn connect(address: &str) -> Client {
        let stream = TcpStream::connect(address).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        Client { stream, buffer: Vec::with_capacity(64 * 1024) }
    }

    pub async fn request(&mut self, head: &str, body: &[u8]) -> (u16, Vec<u8>) {
        self.stream.write_all(head.as_bytes()).await.expect("write");
        self.stream.write_all(body).await.expect("write");
        self.buffer.clear();
        let mut chunk = [0u8; 16 * 1024];
        loop {
            let n = self.stream.read(&mut chunk).await.expect("read");
            assert!(n > 0, "connection closed");
            self.buffer.extend_from_slice(&chunk[..n]);
            let Some(end) = self.buffer.windows(4).position(|w| w == b"\r\n\r\n") else { continue };
            let head = String::from_utf8_lossy(&self.buffer[..end]).to_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if self.buffer.len() >= end + 4 + length {
                let status = head.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
                return (status, self.buffer[end + 4..end + 4 + length].to_vec());
            }
        }
    }
}

pub fn post_head(address: &str, token: &str, length: usize) -> String {
    format!("POST /graphql HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n")
}

pub fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// One GraphQL request on `client`; the JSON answer.
pub async fn gql(
    client: &mut Client,
    address: &str,
    token: &str,
    query: &str,
    variables: serde_json::Value,
) -> serde_json::Value {
    let body = serde_json::json!({ "query": query, "variables": variables }).to_string();
    let (_, answer) = client.request(&post_head(address, token, body.len()), body.as_bytes()).await;
    serde_json::from_slice(&answer).expect("JSON")
}
