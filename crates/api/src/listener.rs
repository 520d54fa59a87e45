//! The HTTP/1 connection loop: what `axum::serve` does, plus the bounds a public server needs.
//! A connection must send its request head within [`HEADER_READ_TIMEOUT`] (a slow or idle one is
//! closed; between requests of a kept-alive connection the same time applies); at most
//! `connections_max` connections are open at once and at most `per_peer_max` from one address
//! (WebSockets included: a connection counts until its socket is closed), and, when asked for,
//! at most `per_peer_per_second` new ones a second from one address. One over a cap is
//! answered `503` with `Retry-After` and closed at once; an `accept` failing for lack of file
//! descriptors waits a moment instead of spinning.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::limits::{CONNECTION_DRAIN_MAX, HEADER_READ_TIMEOUT};

/// How many connections may be open.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    /// At once, in all.
    pub total_max: usize,
    /// At once, from one peer address.
    pub per_peer_max: usize,
    /// New connections per second from one peer address (five seconds' worth at once); 0: no
    /// limit. Off by default: behind a reverse proxy every client is one address.
    pub per_peer_per_second: f64,
}

/// Serves `router` on `listener` until `shutdown` resolves; then stops accepting, lets each
/// connection finish its request and waits for them at most [`CONNECTION_DRAIN_MAX`].
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    let admissions = Admissions::new(limits);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    // Every connection task holds a sender; the loop waits until all are dropped.
    let (running, mut all_done) = tokio::sync::mpsc::channel::<()>(1);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // EMFILE and the like: the next accept may succeed once connections close.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(admission) = admissions.admit(peer.ip()) else {
            tokio::spawn(refuse(stream));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let mut stopped = stopped.clone();
        let running = running.clone();
        tokio::spawn(async move {
            let io = TokioIo::new(Counted { stream, _admission: admission });
            let service =
                hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                    // A router is always ready (`poll_ready` of `Router` is `Ready`), as `axum::serve` relies on.
                    tower_service::Service::call(&mut router.clone(), request)
                });
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder.timer(TokioTimer::new()).header_read_timeout(HEADER_READ_TIMEOUT);
            let connection = builder.serve_connection(io, service).with_upgrades();
            tokio::pin!(connection);
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "a connection ended with an error");
                    }
                }
                _ = stopped.changed() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
            drop(running);
        });
    }
    drop(running);
    let _ = stop.send(true);
    let _ = tokio::time::timeout(CONNECTION_DRAIN_MAX, all_done.recv()).await;
}

/// Answers a connection over a cap and closes it.
async fn refuse(mut stream: TcpStream) {
    const BODY: &str = "Zu viele Verbindungen; bitte in einigen Sekunden erneut versuchen.\n";
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{BODY}",
        BODY.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(answer.as_bytes())).await;
    let _ = stream.shutdown().await;
}

/// The open connections, in all and per peer address.
struct Admissions {
    total: Arc<Semaphore>,
    per_peer: Arc<Mutex<HashMap<IpAddr, usize>>>,
    per_peer_max: usize,
    /// New connections per address: a token bucket (level, when), with the rate.
    arrivals: Mutex<HashMap<IpAddr, (f64, std::time::Instant)>>,
    per_peer_per_second: f64,
}

/// Addresses whose arrivals are remembered before the idle ones (full buckets) are forgotten.
const ARRIVALS_KEPT: usize = 10_000;

impl Admissions {
    fn new(limits: ConnectionLimits) -> Admissions {
        Admissions {
            total: Arc::new(Semaphore::new(limits.total_max.max(1))),
            per_peer: Arc::default(),
            per_peer_max: limits.per_peer_max.max(1),
            arrivals: Mutex::default(),
            per_peer_per_second: limits.per_peer_per_second.max(0.0),
        }
    }

    /// Whether a new connection from `peer` fits its rate (and takes it).
    fn arrival(&self, peer: IpAddr) -> bool {
        let rate = self.per_peer_per_second;
        if rate == 0.0 {
            return true;
        }
        let capacity = (rate * 5.0).max(1.0);
        let now = std::time::Instant::now();
        let mut map = self.arrivals.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= ARRIVALS_KEPT {
            map.retain(|_, (level, at)| *level + now.duration_since(*at).as_secs_f64() * rate < capacity);
        }
        let (level, at) = map.entry(peer).or_insert((capacity, now));
        let available = (*level + now.duration_since(*at).as_secs_f64() * rate).min(capacity);
        *at = now;
        if available < 1.0 {
            *level = available;
            return false;
        }
        *level = available - 1.0;
        true
    }

    /// A place for a connection from `peer`, if both caps allow one.
    fn admit(&self, peer: IpAddr) -> Option<Admission> {
        if !self.arrival(peer) {
            return None;
        }
        let permit = self.total.clone().try_acquire_owned().ok()?;
        let mut map = self.per_peer.lock().unwrap_or_else(|p| p.into_inner());
        let open = map.entry(peer).or_insert(0);
        if *open >= self.per_peer_max {
            return None;
        }
        *open += 1;
        Some(Admission { _permit: permit, peer, per_peer: self.per_peer.clone() })
    }
}

/// A connection's place; freed when the connection (or the WebSocket it became) is dropped.
struct Admission {
    _permit: OwnedSemaphorePermit,
    peer: IpAddr,
    per_peer: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl Drop for Admission {
    fn drop(&mut self) {
        let mut map = self.per_peer.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(open) = map.get_mut(&self.peer) {
            *open -= 1;
            if *open == 0 {
                map.remove(&self.peer);
            }
        }
    }
}

/// A TCP stream holding its connection's place.
struct Counted {
    stream: TcpStream,
    _admission: Admission,
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}
