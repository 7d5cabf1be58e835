//! The HTTP receiver's connection handling: every connection is bounded in time and
//! their number is capped, so no client (or 20,000 of them) can exhaust descriptors
//! and starve `/healthz` or the WS API.
//!
//! - **Header / idle timeout** ([`Limits::header_timeout`]): a connection must deliver
//!   a complete request head within this time of opening, or of its previous answer
//!   (hyper's `header_read_timeout` covers both, so it is also the keep-alive idle
//!   timeout). Slowloris sockets are closed when it passes.
//! - **Request timeout**: the body and the handler have [`super::REQUEST_TIMEOUT`]
//!   (a `TimeoutLayer` on the router), answered 408.
//! - **Connection cap** ([`Limits::max_connections`]): past it, a connection is
//!   accepted only to be answered `503` with `Retry-After` and closed (a clear answer
//!   instead of a hang in the accept queue), by at most [`OVERFLOW_SLOTS`] tasks at a
//!   time with a short header timeout; beyond those it is closed at once.
//!
//! Served with hyper's HTTP/1.1 connection builder directly, because `axum::serve`
//! exposes none of these knobs. HTTP/1.1 only: webhook senders, scrapers and health
//! checks all speak it.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Response, StatusCode, header};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::metrics::Metrics;

/// Connections past the cap that are answered 503 at the same time; more are closed
/// without an answer.
pub const OVERFLOW_SLOTS: usize = 64;
/// Header timeout for a connection that is only told 503.
const OVERFLOW_HEADER_TIMEOUT: Duration = Duration::from_secs(2);
/// Wait after a failed `accept` (EMFILE and friends) before the next, so a full
/// descriptor table does not spin the loop.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// The receiver's connection limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Time to deliver a request head after opening or after the previous answer.
    pub header_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
}

impl Limits {
    /// Default header / idle timeout.
    pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
    /// Default (and largest default) connection cap.
    pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

    /// The cap to use when none is configured: [`Limits::DEFAULT_MAX_CONNECTIONS`], or
    /// a quarter of the open-file limit when that is smaller (probes, the store and
    /// the WS API need descriptors too).
    pub fn default_cap(fd_limit: Option<u64>) -> usize {
        let quarter = fd_limit.map_or(u64::MAX, |n| (n / 4).max(16));
        usize::try_from(quarter).map_or(Self::DEFAULT_MAX_CONNECTIONS, |q| q.min(Self::DEFAULT_MAX_CONNECTIONS))
    }
}

/// Serves `router` on `listener` within `limits` until `shutdown` is cancelled, then
/// lets open connections finish their current request (idle ones close at once).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    metrics: Metrics,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let overflow = Arc::new(Semaphore::new(OVERFLOW_SLOTS));
    let conns = TaskTracker::new();
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "HTTP receiver: accept failed");
                    tokio::select! {
                        () = tokio::time::sleep(ACCEPT_BACKOFF) => continue,
                        () = shutdown.cancelled() => break,
                    }
                }
            },
            () = shutdown.cancelled() => break,
        };
        if let Ok(slot) = slots.clone().try_acquire_owned() {
            let (router, metrics, shutdown) = (router.clone(), metrics.clone(), shutdown.clone());
            conns.spawn(async move {
                metrics.http_connected();
                serve_one(stream, router, limits.header_timeout, shutdown).await;
                metrics.http_disconnected();
                drop(slot);
            });
            continue;
        }
        metrics.http_refused();
        match overflow.clone().try_acquire_owned() {
            Ok(permit) => {
                tracing::debug!(%peer, cap = limits.max_connections, "HTTP receiver at its connection cap: 503");
                conns.spawn(refuse(stream, permit));
            }
            Err(_) => {
                tracing::debug!(%peer, "HTTP receiver at its connection cap: closed");
                drop(stream);
            }
        }
    }
    drop(listener);
    conns.close();
    conns.wait().await;
    Ok(())
}

/// One connection: HTTP/1.1 with the header/idle timeout, gracefully ended on shutdown.
async fn serve_one(stream: TcpStream, router: Router, header_timeout: Duration, shutdown: CancellationToken) {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .keep_alive(true);
    let conn = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(router));
    tokio::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        () = shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        // Timeouts, resets and malformed requests: the client's business.
        tracing::debug!(error = %e, "HTTP connection ended");
    }
}

/// A connection over the cap: read its request head (briefly), answer 503, close.
async fn refuse(stream: TcpStream, _permit: OwnedSemaphorePermit) {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(OVERFLOW_HEADER_TIMEOUT)
        .keep_alive(false);
    let svc = hyper::service::service_fn(|_req| async {
        let body = r#"{"error":"too many connections; retry in a moment"}"#;
        let resp = Response::builder()
            .status(StatusCode::SERVICE_UNAVAILABLE)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::RETRY_AFTER, "1")
            .header(header::CONNECTION, "close")
            .body(Body::from(body));
        Ok::<_, Infallible>(resp.unwrap_or_else(|_| Response::new(Body::empty())))
    });
    if let Err(e) = builder.serve_connection(TokioIo::new(stream), svc).await {
        tracing::debug!(error = %e, "refused HTTP connection ended");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_cap_leaves_descriptors_for_the_rest() {
        assert_eq!(Limits::default_cap(None), 1024);
        assert_eq!(Limits::default_cap(Some(1_048_576)), 1024);
        assert_eq!(Limits::default_cap(Some(1024)), 256);
        assert_eq!(Limits::default_cap(Some(20)), 16);
    }
}
