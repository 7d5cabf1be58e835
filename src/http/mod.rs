//! The HTTP receiver (`UPBOT_HTTP_ADDR`): push monitors' webhooks and heartbeats,
//! `/healthz` and `/metrics`.
//!
//! A webhook request passes these gates in order, each with its own status:
//! 1. the token names a push monitor (else 404; one SHA-256 and one map probe either
//!    way, see [`crate::push`]);
//! 2. the body fits in [`MAX_BODY`] (else 413);
//! 3. a monitor with a secret needs a valid signature over the raw bytes (else 401;
//!    [`signature`]). The same rule holds for the heartbeat URL and for GET, whose
//!    body is empty: a signed monitor cannot be kept alive by someone who only
//!    learned its URL;
//! 4. the per-monitor rate limit, [`RATE_PER_MINUTE`] with bursts of [`RATE_BURST`]
//!    (else 429 with `Retry-After`). It is checked after the signature, so someone who
//!    knows the URL but not the secret cannot use up a signed monitor's allowance;
//! 5. the body parses (else 400), and only then the report is applied, persisted and
//!    flushed before the 200.

pub mod signature;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::core::Service;
use crate::domain::{Monitor, MonitorId, rfc3339};
use crate::push::{Ack, PushError, Signal};

/// Largest webhook body accepted (bytes).
pub const MAX_BODY: usize = 64 * 1024;
/// Sustained requests per minute one push monitor may make.
pub const RATE_PER_MINUTE: u32 = 60;
/// Requests one push monitor may make in a burst.
pub const RATE_BURST: u32 = 20;
/// A request (headers and body) must complete within this.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How often idle rate-limiter entries are dropped.
const RETAIN_EVERY: Duration = Duration::from_secs(60);

struct Shared {
    service: Service,
    limiter: DefaultKeyedRateLimiter<MonitorId>,
    replay: signature::ReplayCache,
    shutdown: CancellationToken,
    started: std::time::Instant,
}

type AppState = Arc<Shared>;

/// A JSON error response `{"error": …}`.
fn error(status: StatusCode, msg: impl Into<String>) -> Response {
    Refused::new(status, msg).into_response()
}

/// A refused request: its status, the `{"error": …}` text, and for 429 the wait.
struct Refused {
    status: StatusCode,
    msg: String,
    retry_after: Option<u64>,
}

impl Refused {
    fn new(status: StatusCode, msg: impl Into<String>) -> Self {
        Self {
            status,
            msg: msg.into(),
            retry_after: None,
        }
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let mut resp = (self.status, axum::Json(json!({ "error": self.msg }))).into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

/// Serves the receiver on `listener` until `shutdown` is cancelled (in-flight requests
/// finish first).
pub async fn serve(
    listener: tokio::net::TcpListener,
    service: Service,
    shutdown: CancellationToken,
    tracker: TaskTracker,
) -> std::io::Result<()> {
    let quota = Quota::per_minute(nonzero(RATE_PER_MINUTE)).allow_burst(nonzero(RATE_BURST));
    let state = Arc::new(Shared {
        service,
        limiter: RateLimiter::keyed(quota),
        replay: signature::ReplayCache::new(),
        shutdown: shutdown.clone(),
        started: std::time::Instant::now(),
    });
    {
        let (state, token) = (state.clone(), shutdown.clone());
        tracker.spawn(async move {
            let mut tick = tokio::time::interval(RETAIN_EVERY);
            loop {
                tokio::select! {
                    _ = tick.tick() => state.limiter.retain_recent(),
                    () = token.cancelled() => break,
                }
            }
        });
    }
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}

fn nonzero(n: u32) -> std::num::NonZeroU32 {
    std::num::NonZeroU32::new(n).unwrap_or(std::num::NonZeroU32::MIN)
}

fn router(state: AppState) -> Router {
    let hooks = Router::new()
        .route(
            "/webhooks/{token}",
            post(webhook).fallback(|| async {
                error(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "POST a JSON status report here; plain heartbeats go to …/heartbeat (GET or POST)",
                )
            }),
        )
        .route("/webhooks/{token}/heartbeat", get(heartbeat).post(heartbeat))
        .layer(axum::middleware::from_fn_with_state(state.clone(), count_webhook))
        .layer(DefaultBodyLimit::max(MAX_BODY));
    Router::new()
        .merge(hooks)
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "not found") })
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .with_state(state)
}

/// Counts every webhook answer by status code.
async fn count_webhook(
    State(st): State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let resp = next.run(req).await;
    st.service.metrics().webhook(resp.status().as_u16());
    resp
}

/// Gates 1–4 of the module doc: the monitor, the body, the signature, the rate.
fn admit(
    st: &Shared,
    token: Result<Path<String>, axum::extract::rejection::PathRejection>,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(Monitor, Bytes), Refused> {
    let unknown = || Refused::new(StatusCode::NOT_FOUND, "unknown webhook token");
    let Ok(Path(token)) = token else { return Err(unknown()) };
    let m = st.service.push().lookup(&token).ok_or_else(unknown)?;
    let body = body.map_err(|rej| match rej.status() {
        StatusCode::PAYLOAD_TOO_LARGE => Refused::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("body larger than {} KiB", MAX_BODY / 1024),
        ),
        s => Refused::new(s, format!("could not read the body: {}", rej.body_text())),
    })?;
    if let Some(secret) = m.push.as_ref().and_then(|p| p.secret.as_deref()) {
        let now = i64::try_from(crate::domain::now_ms() / 1000).unwrap_or(i64::MAX);
        if let Err(e) = signature::verify(secret, headers, &body, now, &st.replay, m.id) {
            tracing::info!(monitor = %m.id, reason = %e, "webhook signature refused");
            return Err(Refused::new(StatusCode::UNAUTHORIZED, e.to_string()));
        }
    }
    if let Err(not_until) = st.limiter.check_key(&m.id) {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        let secs = (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1);
        tracing::debug!(monitor = %m.id, "webhook rate limited");
        return Err(Refused {
            status: StatusCode::TOO_MANY_REQUESTS,
            msg: format!(
                "rate limit: at most {RATE_PER_MINUTE} requests per minute (bursts of {RATE_BURST}) per monitor; retry in {secs}s"
            ),
            retry_after: Some(secs),
        });
    }
    Ok((m, body))
}

/// A status report body. Unknown fields are ignored, so senders may add their own.
#[derive(Deserialize)]
struct Report {
    status: String,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    metadata: Option<serde_json::Map<String, Value>>,
}

fn parse_report(body: &[u8]) -> Result<Signal, String> {
    const SHAPE: &str = r#"expected {"status":"up"|"down"|"degraded","message":"…","metadata":{…}}"#;
    let r: Report = serde_json::from_slice(body).map_err(|e| format!("invalid JSON body ({e}); {SHAPE}"))?;
    let _ = r.metadata;
    match r.status.trim().to_ascii_lowercase().as_str() {
        "up" => Ok(Signal::Up),
        "degraded" => Ok(Signal::Degraded(r.message)),
        "down" => Ok(Signal::Down(r.message)),
        other => Err(format!("unknown status {other:?}: use up, down or degraded")),
    }
}

fn report_failed(e: &PushError) -> Response {
    match e {
        PushError::NotFound => error(StatusCode::NOT_FOUND, "unknown webhook token"),
        PushError::Store(e) => {
            tracing::error!(error = %e, "saving a push report failed");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error: the report was not saved",
            )
        }
    }
}

/// `POST /webhooks/{token}`: a status report.
async fn webhook(
    State(st): State<AppState>,
    token: Result<Path<String>, axum::extract::rejection::PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let (m, body) = match admit(&st, token, &headers, body) {
        Ok(x) => x,
        Err(refused) => return refused.into_response(),
    };
    let signal = match parse_report(&body) {
        Ok(s) => s,
        Err(msg) => return error(StatusCode::BAD_REQUEST, msg),
    };
    match st.service.push().report(m.id, signal).await {
        Ok(ack) => ok(&ack, false),
        Err(e) => report_failed(&e),
    }
}

/// `GET|POST /webhooks/{token}/heartbeat`: "still alive"; the body is ignored (but
/// signed, when the monitor has a secret).
async fn heartbeat(
    State(st): State<AppState>,
    token: Result<Path<String>, axum::extract::rejection::PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let (m, _) = match admit(&st, token, &headers, body) {
        Ok(x) => x,
        Err(refused) => return refused.into_response(),
    };
    match st.service.push().report(m.id, Signal::Heartbeat).await {
        Ok(ack) => ok(&ack, true),
        Err(e) => report_failed(&e),
    }
}

/// The 200 body, fields in the documented order.
#[derive(Serialize)]
struct Accepted<'a> {
    success: bool,
    monitor: AcceptedMonitor<'a>,
}

#[derive(Serialize)]
struct AcceptedMonitor<'a> {
    id: MonitorId,
    name: &'a str,
    status: &'static str,
    /// Heartbeat answers only; `null` when a paused monitor was never seen.
    #[serde(rename = "lastHeartbeat", skip_serializing_if = "Option::is_none")]
    last_heartbeat: Option<Option<String>>,
}

fn ok(ack: &Ack, heartbeat: bool) -> Response {
    axum::Json(Accepted {
        success: true,
        monitor: AcceptedMonitor {
            id: ack.id,
            name: &ack.name,
            status: ack.state.as_str(),
            last_heartbeat: heartbeat.then(|| ack.last_seen_ms.map(rfc3339)),
        },
    })
    .into_response()
}

/// The `/healthz` body, `status` first.
#[derive(Serialize)]
struct Health {
    status: &'static str,
    store: &'static str,
    scheduler: &'static str,
    push: &'static str,
    /// Why the store is failing (writes refused until the disk works again).
    #[serde(skip_serializing_if = "Option::is_none")]
    store_error: Option<String>,
    monitors: usize,
    uptime_s: u64,
    version: &'static str,
}

/// `GET /healthz`: 200 when the store answers a read and the engines run.
async fn healthz(State(st): State<AppState>) -> Response {
    let service = &st.service;
    let store_error = service
        .store()
        .write_health()
        .and_then(|()| service.store().schema_version().map(drop).map_err(|e| e.to_string()))
        .err();
    let store_ok = store_error.is_none();
    let push_ok = service.push().alive();
    let scheduler_ok = service.scheduler_alive();
    let running = !st.shutdown.is_cancelled();
    let healthy = store_ok && push_ok && scheduler_ok && running;
    let word = |ok: bool| if ok { "ok" } else { "failing" };
    let body = Health {
        status: if healthy {
            "ok"
        } else if running {
            "unhealthy"
        } else {
            "shutting down"
        },
        store: word(store_ok),
        scheduler: word(scheduler_ok),
        push: word(push_ok),
        store_error,
        monitors: service.monitor_count(),
        uptime_s: st.started.elapsed().as_secs(),
        version: env!("CARGO_PKG_VERSION"),
    };
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}

/// `GET /metrics`: Prometheus scrape.
async fn metrics(State(st): State<AppState>) -> Response {
    let service = st.service.clone();
    // Reading every monitor's state can touch the store; keep it off the reactor.
    let text = tokio::task::spawn_blocking(move || {
        let states = service.monitor_states();
        service.metrics().render(&states, service.store().outbox_len())
    })
    .await;
    match text {
        Ok(t) => ([(header::CONTENT_TYPE, crate::metrics::Metrics::CONTENT_TYPE)], t).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "metrics task failed");
            error(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_parse() {
        assert_eq!(parse_report(br#"{"status":"up"}"#), Ok(Signal::Up));
        assert_eq!(
            parse_report(br#"{"status":"DOWN","message":"disk full","metadata":{"disk":"/"},"extra":1}"#),
            Ok(Signal::Down(Some("disk full".into())))
        );
        assert_eq!(parse_report(br#"{"status":"degraded"}"#), Ok(Signal::Degraded(None)));
        for bad in [
            &b""[..],
            b"{",
            b"[]",
            br#"{"message":"x"}"#,
            br#"{"status":5}"#,
            br#"{"status":"up","metadata":3}"#,
        ] {
            let e = parse_report(bad).unwrap_err();
            assert!(e.contains("invalid JSON body"), "{e}");
        }
        assert!(
            parse_report(br#"{"status":"sideways"}"#)
                .unwrap_err()
                .contains("unknown status")
        );
    }
}
