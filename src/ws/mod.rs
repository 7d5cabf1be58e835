//! The WebSocket control API: an axum router that serves the upgrade on `/` and `/ws`,
//! the handshake policy (Host, Origin, bearer token, connection limit) applied before
//! upgrading, and the spawning of one tracked [`session`] per connection.
//!
//! Handshake policy (why: browsers let any web page open `ws://localhost`, and DNS
//! rebinding lets a page's own host name point at 127.0.0.1):
//! - exactly one `Host` header, naming a loopback name (`localhost`, `127.x.y.z`,
//!   `[::1]`, with or without a port or a trailing dot), the unspecified address (the
//!   old client's documented `--server_address=http://0.0.0.0:8500` sends `Host:
//!   0.0.0.0:8500`, which only reaches this machine) or the exact IP the server is bound
//!   to, else 403;
//! - `Origin`, when present, must be listed in `UPBOT_WS_ORIGINS`, else 403;
//! - with `UPBOT_WS_TOKEN` set, a wrong `Authorization: Bearer` is 401; no header is
//!   accepted, but the session then answers only `ping` and `auth`, and is closed if it
//!   has not authenticated within `UPBOT_WS_AUTH_TIMEOUT`. Failed token attempts are
//!   throttled per peer address ([`AuthGuard`]: past the burst, 429 or
//!   `RATE_LIMIT_EXCEEDED` until the quota refills, even for the right token);
//! - at most `UPBOT_WS_MAX_CONNECTIONS` sessions at once, else 503; unauthenticated
//!   sessions may hold only a quarter of them, so clients without the token cannot take
//!   every slot from those with it.

pub mod legacy;
pub mod protocol;
mod session;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use axum::Router;
use axum::extract::ws::{WebSocketUpgrade, rejection::WebSocketUpgradeRejection};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::config::{Config, Secret};
use crate::core::Service;

/// Hard cap on one WebSocket message (the frame reader refuses more and the connection
/// ends); the application limit of [`protocol::MAX_TEXT`] is checked per message and
/// answered with an error instead.
pub const MAX_WIRE_MESSAGE: usize = 4 << 20;

/// Failed token attempts one peer address may make in a burst before it must wait.
pub const AUTH_FAILURE_BURST: u32 = 5;
/// How fast that allowance refills (attempts per minute).
pub const AUTH_FAILURES_PER_MINUTE: u32 = 5;

/// Everything the upgrade handler needs, shared by all connections.
struct Shared {
    policy: Policy,
    service: Service,
    shutdown: CancellationToken,
    tracker: TaskTracker,
    conns: Arc<Semaphore>,
    /// Slots unauthenticated sessions may hold (a part of `conns`).
    unauthed: Arc<Semaphore>,
    rate: u32,
    idle: Duration,
    auth_timeout: Duration,
    next_session: AtomicU64,
    /// Open sessions (`client_info`'s `client_count`).
    clients: Arc<AtomicUsize>,
    /// When the API started serving (`client_info`'s `uptime_seconds`).
    started: tokio::time::Instant,
    /// Legacy monitors of every connection (the 1,024 cap).
    legacy_total: Arc<AtomicUsize>,
    guard: Arc<AuthGuard>,
}

/// Throttles failed token attempts (bearer header or `auth` message) per peer address
/// with a GCRA quota: a burst of [`AUTH_FAILURE_BURST`] failures, refilled at
/// [`AUTH_FAILURES_PER_MINUTE`]. Past it the address is refused, right token or not,
/// until the quota allows another try: guessing a token becomes hopeless.
pub struct AuthGuard {
    failures: DefaultKeyedRateLimiter<IpAddr>,
    blocked: Mutex<HashMap<IpAddr, tokio::time::Instant>>,
}

impl Default for AuthGuard {
    fn default() -> Self {
        let per_minute = NonZeroU32::new(AUTH_FAILURES_PER_MINUTE).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(AUTH_FAILURE_BURST).unwrap_or(NonZeroU32::MIN);
        Self {
            failures: RateLimiter::keyed(Quota::per_minute(per_minute).allow_burst(burst)),
            blocked: Mutex::new(HashMap::new()),
        }
    }
}

impl AuthGuard {
    /// `Err(wait)` while `ip` must not try a token.
    pub fn check(&self, ip: IpAddr) -> Result<(), Duration> {
        let mut blocked = self.blocked.lock().unwrap_or_else(PoisonError::into_inner);
        let now = tokio::time::Instant::now();
        match blocked.get(&ip) {
            Some(until) if *until > now => Err(*until - now),
            Some(_) => {
                blocked.remove(&ip);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Counts a failed attempt of `ip`; past the quota, blocks it for as long as the
    /// quota needs to allow one more.
    pub fn failed(&self, ip: IpAddr) {
        if let Err(not_until) = self.failures.check_key(&ip) {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            tracing::warn!(peer = %ip, wait = ?wait, "too many failed WS token attempts; refusing this address for a while");
            let mut blocked = self.blocked.lock().unwrap_or_else(PoisonError::into_inner);
            let now = tokio::time::Instant::now();
            blocked.retain(|_, until| *until > now);
            blocked.insert(ip, now + wait.max(Duration::from_secs(1)));
        }
        self.failures.retain_recent();
    }
}

/// Serves the WS API on `listener` until `shutdown` is cancelled. Sessions are tracked
/// by `tracker` (axum does not wait for upgraded sockets) and close with 1001 on shutdown.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: &Config,
    service: Service,
    shutdown: CancellationToken,
    tracker: TaskTracker,
) -> std::io::Result<()> {
    let bound = listener.local_addr()?;
    if config.ws_token.is_none() && !bound.ip().is_loopback() {
        tracing::warn!(addr = %bound, "WS API bound to a non-loopback address without UPBOT_WS_TOKEN");
    }
    let shared = Arc::new(Shared {
        policy: Policy {
            bound_ip: bound.ip(),
            origins: config.ws_origins.clone(),
            token: config.ws_token.clone(),
        },
        service,
        shutdown: shutdown.clone(),
        tracker,
        conns: Arc::new(Semaphore::new(config.ws_max_connections)),
        unauthed: Arc::new(Semaphore::new((config.ws_max_connections / 4).max(1))),
        rate: config.ws_rate,
        idle: config.ws_idle_timeout,
        auth_timeout: config.ws_auth_timeout,
        next_session: AtomicU64::new(1),
        clients: Arc::new(AtomicUsize::new(0)),
        started: tokio::time::Instant::now(),
        legacy_total: Arc::new(AtomicUsize::new(0)),
        guard: Arc::new(AuthGuard::default()),
    });
    let app = Router::new()
        .route("/", get(upgrade))
        .route("/ws", get(upgrade))
        .with_state(shared);
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}

async fn upgrade(
    State(st): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    if st.policy.token.is_some() && headers.contains_key(header::AUTHORIZATION) {
        if let Err(wait) = st.guard.check(peer.ip()) {
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, wait.as_secs().max(1).to_string())],
                "too many failed token attempts from this address; wait and try again\n",
            )
                .into_response();
        }
    }
    let authed = match st.policy.check(&headers) {
        Ok(a) => a,
        Err(rej) => {
            if rej == Rejection::Token {
                st.guard.failed(peer.ip());
            }
            tracing::warn!(
                peer = %peer,
                host = ?headers.get(header::HOST),
                origin = ?headers.get(header::ORIGIN),
                reason = rej.text(),
                "WS handshake refused"
            );
            return rej.into_response();
        }
    };
    let Ok(ws) = ws else {
        return (
            StatusCode::UPGRADE_REQUIRED,
            [(header::UPGRADE, "websocket")],
            "this is upbot's WebSocket API: connect with a WebSocket client (e.g. `upbot list`)\n",
        )
            .into_response();
    };
    if st.shutdown.is_cancelled() {
        return (StatusCode::SERVICE_UNAVAILABLE, "server shutting down\n").into_response();
    }
    // An unauthenticated session takes one of its own slots first, so those can never
    // hold every connection slot.
    let unauth_permit = if authed {
        None
    } else {
        match st.unauthed.clone().try_acquire_owned() {
            Ok(p) => Some(p),
            Err(_) => {
                tracing::warn!(peer = %peer, "WS connection refused: every unauthenticated slot is taken");
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "too many unauthenticated connections; connect with Authorization: Bearer <token>\n",
                )
                    .into_response();
            }
        }
    };
    let Ok(permit) = st.conns.clone().try_acquire_owned() else {
        tracing::warn!(peer = %peer, "WS connection refused: UPBOT_WS_MAX_CONNECTIONS reached");
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "too many connections (UPBOT_WS_MAX_CONNECTIONS)\n",
        )
            .into_response();
    };
    // Taken now, so shutdown waits for a session even while its upgrade is in flight.
    let tracked = st.tracker.token();
    let id = st.next_session.fetch_add(1, Ordering::Relaxed);
    let params = session::Params {
        service: st.service.clone(),
        token: st.policy.token.clone(),
        authed,
        unauth_permit,
        auth_timeout: st.auth_timeout,
        peer: peer.ip(),
        guard: st.guard.clone(),
        rate: st.rate,
        idle: st.idle,
        shutdown: st.shutdown.clone(),
        clients: st.clients.clone(),
        started: st.started,
        legacy_total: st.legacy_total.clone(),
    };
    ws.max_message_size(MAX_WIRE_MESSAGE)
        .max_frame_size(MAX_WIRE_MESSAGE)
        .on_upgrade(move |socket| {
            let span = tracing::info_span!("ws", peer = %peer, session = id);
            async move {
                let _permit = permit;
                let _tracked = tracked;
                let metrics = params.service.metrics().clone();
                let clients = params.clients.clone();
                metrics.ws_connected();
                clients.fetch_add(1, Ordering::Relaxed);
                session::run(socket, params).await;
                clients.fetch_sub(1, Ordering::Relaxed);
                metrics.ws_disconnected();
            }
            .instrument(span)
        })
}

/// Why a handshake was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rejection {
    Host,
    HostTwice,
    Origin,
    Token,
}

impl Rejection {
    fn text(self) -> &'static str {
        match self {
            Rejection::Host => "Host is not a loopback name (DNS rebinding protection)",
            Rejection::HostTwice => "more than one Host header",
            Rejection::Origin => "Origin is not listed in UPBOT_WS_ORIGINS",
            Rejection::Token => "wrong bearer token (UPBOT_WS_TOKEN)",
        }
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let body = format!("{}\n", self.text());
        match self {
            Rejection::Token => {
                (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Bearer")], body).into_response()
            }
            Rejection::Host | Rejection::HostTwice | Rejection::Origin => (StatusCode::FORBIDDEN, body).into_response(),
        }
    }
}

/// The handshake policy.
struct Policy {
    bound_ip: IpAddr,
    origins: Vec<String>,
    token: Option<Secret>,
}

impl Policy {
    /// Checks the upgrade request's headers; `Ok(true)` when a correct bearer token came
    /// with it (or none is configured).
    fn check(&self, headers: &HeaderMap) -> Result<bool, Rejection> {
        // Two Host headers could be read differently by a proxy in front and by us.
        if headers.get_all(header::HOST).iter().nth(1).is_some() {
            return Err(Rejection::HostTwice);
        }
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
        if !host.is_some_and(|h| host_allowed(h, self.bound_ip)) {
            return Err(Rejection::Host);
        }
        if let Some(origin) = headers.get(header::ORIGIN) {
            let ok = origin
                .to_str()
                .is_ok_and(|o| self.origins.iter().any(|allowed| allowed == o));
            if !ok {
                return Err(Rejection::Origin);
            }
        }
        let Some(expected) = &self.token else { return Ok(true) };
        match headers.get(header::AUTHORIZATION) {
            None => Ok(false),
            Some(v) => {
                let given = v.to_str().ok().and_then(|v| {
                    let (scheme, rest) = v.trim().split_once(' ')?;
                    scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
                });
                match given {
                    Some(t) if token_matches(t, expected.expose()) => Ok(true),
                    _ => Err(Rejection::Token),
                }
            }
        }
    }
}

/// Constant-time token comparison (only the length can leak).
pub(crate) fn token_matches(given: &str, expected: &str) -> bool {
    given.as_bytes().ct_eq(expected.as_bytes()).into()
}

/// Whether a `Host` header names this server: a loopback name or address, the
/// unspecified address (`0.0.0.0`, `[::]`: connecting there reaches only this machine),
/// with or without port, trailing dot allowed, or the exact IP it is bound to.
pub fn host_allowed(host: &str, bound: IpAddr) -> bool {
    let host = host.trim();
    let name = if let Some(inner) = host.strip_prefix('[') {
        let Some((addr, rest)) = inner.split_once(']') else {
            return false;
        };
        if !(rest.is_empty() || rest.strip_prefix(':').is_some_and(is_port)) {
            return false;
        }
        addr
    } else {
        match host.split_once(':') {
            Some((name, port)) if is_port(port) => name,
            Some(_) => return false,
            None => host,
        }
    };
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.eq_ignore_ascii_case("localhost") {
        return true;
    }
    match name.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback() || ip.is_unspecified() || ip == bound,
        Err(_) => false,
    }
}

fn is_port(p: &str) -> bool {
    !p.is_empty() && p.len() <= 5 && p.chars().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn hosts() {
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        for ok in [
            "localhost",
            "LOCALHOST:8765",
            "localhost.",
            "localhost.:1",
            "127.0.0.1",
            "127.0.0.1:8765",
            "127.9.8.7:1",
            "[::1]",
            "[::1]:8765",
            "0.0.0.0",
            "0.0.0.0:8500",
            "[::]:8500",
        ] {
            assert!(host_allowed(ok, lo), "{ok}");
        }
        for bad in [
            "",
            "evil.com",
            "localhost.evil.com",
            "evil.com:8765",
            "127.0.0.1.nip.io",
            "10.0.0.1",
            "[::1",
            "[::1]x",
            "::1",
            "localhost:",
            "localhost:abc",
            "[fe80::1]:80",
            "255.255.255.255",
        ] {
            assert!(!host_allowed(bad, lo), "{bad}");
        }
        let lan: IpAddr = "192.168.1.5".parse().unwrap();
        assert!(host_allowed("192.168.1.5:8765", lan));
        assert!(!host_allowed("192.168.1.6:8765", lan));
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn policy() {
        let p = Policy {
            bound_ip: "127.0.0.1".parse().unwrap(),
            origins: vec!["https://ops.example.com".into()],
            token: None,
        };
        assert_eq!(p.check(&headers(&[("host", "127.0.0.1:1")])), Ok(true));
        assert_eq!(p.check(&headers(&[])), Err(Rejection::Host));
        assert_eq!(p.check(&headers(&[("host", "evil.com")])), Err(Rejection::Host));
        let mut twice = headers(&[("host", "localhost")]);
        twice.append("host", HeaderValue::from_static("evil.com"));
        assert_eq!(p.check(&twice), Err(Rejection::HostTwice));
        assert_eq!(
            p.check(&headers(&[("host", "localhost"), ("origin", "https://evil.com")])),
            Err(Rejection::Origin)
        );
        assert_eq!(
            p.check(&headers(&[("host", "localhost"), ("origin", "null")])),
            Err(Rejection::Origin)
        );
        assert_eq!(
            p.check(&headers(&[
                ("host", "localhost"),
                ("origin", "https://ops.example.com")
            ])),
            Ok(true)
        );
        let p = Policy {
            token: Some(
                crate::config::Config::from_lookup(|k| (k == "UPBOT_WS_TOKEN").then(|| "s3cret".into()))
                    .unwrap()
                    .ws_token
                    .unwrap(),
            ),
            ..p
        };
        assert_eq!(p.check(&headers(&[("host", "localhost")])), Ok(false));
        assert_eq!(
            p.check(&headers(&[("host", "localhost"), ("authorization", "Bearer s3cret")])),
            Ok(true)
        );
        assert_eq!(
            p.check(&headers(&[("host", "localhost"), ("authorization", "bearer  s3cret ")])),
            Ok(true)
        );
        for bad in [
            "Bearer nope",
            "Basic s3cret",
            "s3cret",
            "Bearer s3cre",
            "Bearer s3cret2",
        ] {
            assert_eq!(
                p.check(&headers(&[("host", "localhost"), ("authorization", bad)])),
                Err(Rejection::Token),
                "{bad}"
            );
        }
    }

    #[tokio::test]
    async fn failed_token_attempts_are_throttled_per_address() {
        let g = AuthGuard::default();
        let (a, b): (IpAddr, IpAddr) = ("127.0.0.1".parse().unwrap(), "127.0.0.2".parse().unwrap());
        for _ in 0..AUTH_FAILURE_BURST {
            assert!(g.check(a).is_ok());
            g.failed(a);
        }
        assert!(g.check(a).is_ok(), "the burst itself is allowed");
        g.failed(a);
        let wait = g.check(a).unwrap_err();
        assert!(
            wait > Duration::from_secs(1) && wait <= Duration::from_secs(60),
            "{wait:?}"
        );
        assert!(g.check(b).is_ok(), "other addresses are not affected");
    }

    #[test]
    fn tokens() {
        assert!(token_matches("abc", "abc"));
        assert!(!token_matches("abd", "abc"));
        assert!(!token_matches("", "abc"));
    }
}
