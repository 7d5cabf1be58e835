//! The HTTP receiver (`UPBOT_HTTP_ADDR`): push monitors' webhooks and heartbeats,
//! the public status pages ([`page`]), `/healthz` and `/metrics`. Connections are bounded in time and number by
//! [`server`]; the process's descriptor limit is raised at start by [`limits`].
//!
//! A webhook request passes these gates in order, each with its own status:
//! 1. the token names a push monitor (else 404; one SHA-256 and one map probe either
//!    way, see [`crate::push`]);
//! 2. the body fits in [`MAX_BODY`] (else 413);
//! 3. a monitor with a secret needs a valid signature over the raw bytes (else 401;
//!    [`signature`]). On the heartbeat URL only when the monitor was created with
//!    `sign_heartbeats` (the seeds' senders are plain `fetch(url)`s), or when the
//!    request says more than "alive" (Uptime Kuma's `?status=down|degraded`): an
//!    unsigned request can keep a monitor up, never page anyone;
//! 4. a Standard Webhooks id already accepted is refused (401, before it can use the
//!    allowance);
//! 5. the per-monitor rate limit, [`RATE_PER_MINUTE`] with bursts of [`RATE_BURST`]
//!    (else 429 with `Retry-After`). It is checked after the signature, so someone who
//!    knows the URL but not the secret cannot use up a signed monitor's allowance;
//! 6. the body (or the heartbeat's query) parses, with no repeated JSON key (else
//!    400); then the Standard Webhooks id is recorded in the store (once: a copy
//!    racing it gets 401), and the report is applied, persisted and flushed before the
//!    200. A report the store refused un-records its id, so the sender's retry with
//!    the same id is not taken for a replay.

pub mod healthcheck;
pub mod limits;
pub mod page;
pub mod server;
pub mod signature;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::core::{Caller, Command, MonitorView, Reply, Service};
use crate::domain::{Kind, Monitor, MonitorId, State as MonitorState, rfc3339};
use crate::metrics::{Format, MonitorSample};
use crate::push::{Ack, PushError, Signal};
use crate::scheduler::Scheduler;

/// Largest webhook body accepted (bytes).
pub const MAX_BODY: usize = 64 * 1024;
/// Sustained requests per minute one push monitor may make.
pub const RATE_PER_MINUTE: u32 = 60;
/// Requests one push monitor may make in a burst.
pub const RATE_BURST: u32 = 20;
/// A request's body and handler must complete within this (answered 408).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How often idle rate-limiter entries and closed replay windows are dropped.
const RETAIN_EVERY: Duration = Duration::from_secs(60);

struct Shared {
    service: Service,
    scheduler: Scheduler,
    limiter: DefaultKeyedRateLimiter<MonitorId>,
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
/// finish first). `config` gives the connection limits; `scheduler` is asked whether
/// ICMP works (for `/healthz`).
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: &Config,
    service: Service,
    scheduler: Scheduler,
    shutdown: CancellationToken,
    tracker: TaskTracker,
) -> std::io::Result<()> {
    let quota = Quota::per_minute(nonzero(RATE_PER_MINUTE)).allow_burst(nonzero(RATE_BURST));
    let metrics = service.metrics().clone();
    let state = Arc::new(Shared {
        service,
        scheduler,
        limiter: RateLimiter::keyed(quota),
        shutdown: shutdown.clone(),
        started: std::time::Instant::now(),
    });
    {
        let (state, token) = (state.clone(), shutdown.clone());
        tracker.spawn(async move {
            let mut tick = tokio::time::interval(RETAIN_EVERY);
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        state.limiter.retain_recent();
                        let ids = state.service.webhook_ids();
                        let pruned = tokio::task::spawn_blocking(move || ids.prune(now_s())).await;
                        if let Ok(Err(e)) = pruned {
                            tracing::warn!(error = %e, "pruning webhook ids failed");
                        }
                    }
                    () = token.cancelled() => break,
                }
            }
        });
    }
    let limits = server::Limits {
        header_timeout: config.http_header_timeout,
        max_connections: config
            .http_max_connections
            .unwrap_or_else(|| server::Limits::default_cap(limits::fd_limit())),
    };
    tracing::debug!(?limits, "HTTP receiver limits");
    server::serve(listener, router(state), limits, metrics, shutdown).await
}

fn nonzero(n: u32) -> std::num::NonZeroU32 {
    std::num::NonZeroU32::new(n).unwrap_or(std::num::NonZeroU32::MIN)
}

/// Server clock, Unix seconds.
fn now_s() -> u64 {
    crate::domain::now_ms() / 1000
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
    let pages = page::routes(state.service.clone());
    Router::new()
        .merge(hooks)
        .nest_service("/status", pages)
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

/// A request past gates 1–5: its monitor, its body, and the Standard Webhooks id
/// to record (with the end of its window) if it came signed that way.
struct Admitted {
    monitor: Monitor,
    body: Bytes,
    msg_id: Option<(String, u64)>,
}

/// Gates 1–5 of the module doc. `needs_signature` says whether this request must be
/// signed when the monitor has a secret.
fn admit(
    st: &Shared,
    token: Result<Path<String>, axum::extract::rejection::PathRejection>,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    needs_signature: impl Fn(&Monitor) -> bool,
) -> Result<Admitted, Refused> {
    let unknown = || Refused::new(StatusCode::NOT_FOUND, "unknown webhook token");
    let Ok(Path(token)) = token else { return Err(unknown()) };
    let m = st.service.push_lookup(&token).ok_or_else(unknown)?;
    let body = body.map_err(|rej| match rej.status() {
        StatusCode::PAYLOAD_TOO_LARGE => Refused::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("body larger than {} KiB", MAX_BODY / 1024),
        ),
        s => Refused::new(s, format!("could not read the body: {}", rej.body_text())),
    })?;
    let mut msg_id = None;
    let secret = m.push.as_ref().and_then(|p| p.secret.as_deref());
    if let Some(secret) = secret.filter(|_| needs_signature(&m)) {
        let now = i64::try_from(now_s()).unwrap_or(i64::MAX);
        match signature::verify(secret, headers, &body, now) {
            Ok(signature::Verified::Simple) => {}
            Ok(signature::Verified::Standard { id, expires }) => {
                let seen = st.service.webhook_ids().seen(m.id, &id, now_s()).unwrap_or_else(|e| {
                    // Not knowing is not a reason to refuse; the atomic record in
                    // `record_id` still stops a replay.
                    tracing::warn!(monitor = %m.id, error = %e, "reading webhook ids failed");
                    false
                });
                if seen {
                    return Err(replayed(m.id));
                }
                msg_id = Some((id, expires));
            }
            Err(e) => {
                tracing::info!(monitor = %m.id, reason = %e, "webhook signature refused");
                return Err(Refused::new(StatusCode::UNAUTHORIZED, e.to_string()));
            }
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
    Ok(Admitted {
        monitor: m,
        body,
        msg_id,
    })
}

fn replayed(id: MonitorId) -> Refused {
    tracing::info!(monitor = %id, "webhook refused: webhook-id replayed");
    Refused::new(StatusCode::UNAUTHORIZED, signature::SigError::Replayed.to_string())
}

/// Records an admitted request's Standard Webhooks id (once; a copy that raced it
/// past gate 4 is refused here).
fn record_id(st: &Shared, a: &Admitted) -> Result<(), Refused> {
    let Some((id, expires)) = &a.msg_id else { return Ok(()) };
    match st.service.webhook_ids().first_use(a.monitor.id, id, *expires, now_s()) {
        Ok(true) => Ok(()),
        Ok(false) => Err(replayed(a.monitor.id)),
        Err(e) => {
            tracing::error!(monitor = %a.monitor.id, error = %e, "recording a webhook id failed");
            Err(Refused::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error: the report was not saved",
            ))
        }
    }
}

/// Applies an admitted report; un-records its id if it was not saved, and makes the
/// id durable when the report itself wrote nothing (a paused monitor).
async fn apply(st: &Shared, a: &Admitted, signal: Signal, heartbeat: bool) -> Response {
    if let Err(refused) = record_id(st, a) {
        return refused.into_response();
    }
    let ids = st.service.webhook_ids();
    match st.service.push_report(a.monitor.id, signal).await {
        Ok(ack) => {
            if a.msg_id.is_some() && ack.state == MonitorState::Paused {
                if let Err(e) = ids.flush().await {
                    tracing::error!(error = %e, "flushing a webhook id failed");
                }
            }
            ok(&ack, heartbeat)
        }
        Err(e) => {
            if let Some((id, _)) = &a.msg_id {
                if let Err(e) = ids.forget(a.monitor.id, id) {
                    tracing::warn!(monitor = %a.monitor.id, error = %e, "forgetting a webhook id failed");
                }
            }
            report_failed(&e)
        }
    }
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

/// A status word (`up`, `down`, `degraded`, any case) with its message.
fn status_signal(status: &str, message: Option<String>) -> Result<Signal, String> {
    match status.trim().to_ascii_lowercase().as_str() {
        "up" => Ok(Signal::Up),
        "degraded" => Ok(Signal::Degraded(message)),
        "down" => Ok(Signal::Down(message)),
        other => Err(format!("unknown status {other:?}: use up, down or degraded")),
    }
}

fn parse_report(body: &[u8]) -> Result<Signal, String> {
    const SHAPE: &str = r#"expected {"status":"up"|"down"|"degraded","message":"…","metadata":{…}}"#;
    let bad = |e: String| format!("invalid JSON body ({e}); {SHAPE}");
    let text = std::str::from_utf8(body).map_err(|_| bad("not UTF-8".into()))?;
    // The WS front's parser: it refuses a key repeated at any depth, which serde_json
    // alone would let the last one win.
    let value = crate::ws::protocol::parse_json(text).map_err(bad)?;
    let r: Report = serde_json::from_value(value).map_err(|e| bad(e.to_string()))?;
    let _ = r.metadata;
    status_signal(&r.status, r.message)
}

/// Uptime Kuma's push form on the heartbeat URL: `?status=up|down` (and `degraded`),
/// `msg=…`, `ping=<ms>`. `None` without `status`: a plain heartbeat. `status=up` is a
/// heartbeat whatever `msg` says (Kuma sends `msg=OK` with every beat). `ping` is
/// checked and logged only: push monitors keep no response times. Other parameters
/// are ignored, as Kuma does; a repeated one is refused (which one would count?).
fn parse_kuma(query: Option<&str>) -> Result<Option<Signal>, String> {
    let Some(q) = query.filter(|q| !q.is_empty()) else {
        return Ok(None);
    };
    let (mut status, mut msg, mut ping) = (None, None, None);
    for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
        let slot = match k.as_ref() {
            "status" => &mut status,
            "msg" => &mut msg,
            "ping" => &mut ping,
            _ => continue,
        };
        if slot.replace(v.into_owned()).is_some() {
            return Err(format!("query parameter {k:?} given twice"));
        }
    }
    if let Some(p) = ping.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        match p.parse::<f64>() {
            Ok(ms) if ms.is_finite() && ms >= 0.0 => tracing::debug!(ping_ms = ms, "push ping reported"),
            _ => return Err(format!("ping must be a number of milliseconds, got {p:?}")),
        }
    }
    match status {
        None => Ok(None),
        Some(s) => match status_signal(&s, msg.filter(|m| !m.trim().is_empty()))? {
            Signal::Up => Ok(Some(Signal::Heartbeat)),
            other => Ok(Some(other)),
        },
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
    let admitted = match admit(&st, token, &headers, body, |_| true) {
        Ok(a) => a,
        Err(refused) => return refused.into_response(),
    };
    let signal = match parse_report(&admitted.body) {
        Ok(s) => s,
        Err(msg) => return error(StatusCode::BAD_REQUEST, msg),
    };
    apply(&st, &admitted, signal, false).await
}

/// `GET|POST /webhooks/{token}/heartbeat`: "still alive" (the body is ignored), or
/// with Uptime Kuma's `?status=…&msg=…` a status report ([`parse_kuma`]).
async fn heartbeat(
    State(st): State<AppState>,
    token: Result<Path<String>, axum::extract::rejection::PathRejection>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let parsed = parse_kuma(query.as_deref());
    // An unsigned request may say "alive"; saying more needs the signature when the
    // monitor has a secret (and so does a query we cannot read).
    let says_more = !matches!(parsed, Ok(None | Some(Signal::Heartbeat)));
    let needs = |m: &Monitor| says_more || m.push.as_ref().is_some_and(|p| p.sign_heartbeats);
    let admitted = match admit(&st, token, &headers, body, needs) {
        Ok(a) => a,
        Err(refused) => return refused.into_response(),
    };
    let signal = match parsed {
        Ok(s) => s.unwrap_or(Signal::Heartbeat),
        Err(msg) => return error(StatusCode::BAD_REQUEST, msg),
    };
    apply(&st, &admitted, signal, true).await
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

/// Every monitor as the operator sees it (live state from the engines).
async fn all_monitors(service: &Service) -> Vec<MonitorView> {
    match service
        .execute(&Caller::Operator, Command::List { chat_id: None })
        .await
    {
        Ok(Reply::List(v)) => v,
        Ok(_) => Vec::new(),
        Err(e) => {
            tracing::error!(error = %e, "listing monitors failed");
            Vec::new()
        }
    }
}

/// The `/healthz` body, `status` first. `reason` says what is degraded or failing.
#[derive(Serialize)]
struct Health {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    store: &'static str,
    scheduler: &'static str,
    push: &'static str,
    icmp: &'static str,
    monitors: usize,
    uptime_s: u64,
    version: &'static str,
    /// Cluster mode: which node leads, which sites are seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster: Option<crate::core::replica::ClusterHealth>,
}

/// Why ping monitors cannot be probed, if some cannot: each active ping monitor
/// needs its target's family (a name needs either, as the scheduler then picks the
/// family that works).
/// `monitors`: (kind, host, paused) of each.
fn icmp_problem(status: &crate::scheduler::ProbeStatus, monitors: &[(Kind, &str, bool)]) -> Option<String> {
    let (v4, v6) = (status.icmp_v4.as_ref().err(), status.icmp_v6.as_ref().err());
    if v4.is_none() && v6.is_none() {
        return None;
    }
    let stuck = monitors
        .iter()
        .filter(|(kind, _, paused)| *kind == Kind::Ping && !paused)
        .filter(|(_, host, _)| match host.parse::<IpAddr>() {
            Ok(IpAddr::V4(_)) => v4.is_some(),
            Ok(IpAddr::V6(_)) => v6.is_some(),
            Err(_) => v4.is_some() && v6.is_some(),
        })
        .count();
    if stuck == 0 {
        return None;
    }
    let why = v4.or(v6).map(String::as_str).unwrap_or_default();
    let which = match (v4.is_some(), v6.is_some()) {
        (true, true) => "ICMP",
        (true, false) => "ICMPv4",
        _ => "ICMPv6",
    };
    Some(format!(
        "{which} unavailable ({why}): {stuck} ping monitor{s} stay pending; grant CAP_NET_RAW \
         (docker run --cap-add NET_RAW, or AmbientCapabilities=CAP_NET_RAW in systemd)",
        s = if stuck == 1 { "" } else { "s" }
    ))
}

/// `GET /healthz`: 200 when the store answers a read and the engines run ("ok", or
/// "degraded" with a reason when ping monitors cannot be probed: restarting would
/// not help, so it is not a failure); 503 when something fails.
async fn healthz(State(st): State<AppState>) -> Response {
    let service = &st.service;
    let engines = service.engine_health();
    let store_error = engines.store.err();
    let store_ok = store_error.is_none();
    let (push_ok, scheduler_ok) = (engines.push, engines.scheduler);
    let running = !st.shutdown.is_cancelled();
    let healthy = store_ok && push_ok && scheduler_ok && running;
    let probe_status = st.scheduler.status();
    let icmp_ok = probe_status.icmp_v4.is_ok() && probe_status.icmp_v6.is_ok();
    let icmp = if healthy {
        let views = all_monitors(service).await;
        let monitors: Vec<_> = views.iter().map(|v| (v.kind, v.host.as_str(), v.paused)).collect();
        icmp_problem(&probe_status, &monitors)
    } else {
        None
    };
    let word = |ok: bool| if ok { "ok" } else { "failing" };
    let failing: Vec<String> = [("store", store_ok), ("scheduler", scheduler_ok), ("push", push_ok)]
        .iter()
        .filter(|(_, ok)| !ok)
        .map(|(name, _)| match (*name, &store_error) {
            // The store says why (a full disk, since when); it recovers by itself.
            ("store", Some(why)) => format!("store ({why})"),
            (name, _) => name.to_string(),
        })
        .collect();
    let cluster = service.cluster().map(|c| c.health());
    let cut_off = cluster.as_ref().is_some_and(|c| c.nats != "connected");
    let (status, reason) = if !running {
        ("shutting down", None)
    } else if !healthy {
        ("unhealthy", Some(format!("failing: {}", failing.join(", "))))
    } else if cut_off {
        (
            "degraded",
            Some("the cluster is unreachable: probing goes on and verdicts wait for NATS; changes are refused".into()),
        )
    } else if let Some(why) = icmp {
        ("degraded", Some(why))
    } else {
        ("ok", None)
    };
    let body = Health {
        status,
        reason,
        store: word(store_ok),
        scheduler: word(scheduler_ok),
        push: word(push_ok),
        icmp: if icmp_ok { "ok" } else { "unavailable" },
        monitors: service.monitor_count(),
        uptime_s: st.started.elapsed().as_secs(),
        version: env!("CARGO_PKG_VERSION"),
        cluster,
    };
    let code = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, axum::Json(body)).into_response()
}

/// `GET /metrics`: Prometheus scrape, in the text format 0.0.4 unless the scraper's
/// `Accept` asks for OpenMetrics.
async fn metrics(State(st): State<AppState>, headers: HeaderMap) -> Response {
    let format = Format::negotiate(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()));
    let service = st.service.clone();
    let rt = tokio::runtime::Handle::current();
    // Reading every monitor's state can touch the store; keep it off the reactor.
    let text = tokio::task::spawn_blocking(move || {
        let views = rt.block_on(all_monitors(&service));
        let samples: Vec<MonitorSample<'_>> = views
            .iter()
            .map(|v| MonitorSample {
                id: v.id,
                name: &v.name,
                kind: v.kind,
                chat_id: v.chat_id,
                state: v.state,
            })
            .collect();
        service.render_metrics(&samples, format)
    })
    .await;
    match text {
        Ok(t) => ([(header::CONTENT_TYPE, format.content_type())], t).into_response(),
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

    #[test]
    fn duplicate_keys_are_refused() {
        for body in [
            &br#"{"status":"up","status":"down"}"#[..],
            br#"{"status":"down","message":"a","metadata":{"k":1,"k":2}}"#,
        ] {
            let e = parse_report(body).unwrap_err();
            assert!(e.contains("duplicate key"), "{e}");
        }
    }

    #[test]
    fn kuma_push_form() {
        assert_eq!(parse_kuma(None), Ok(None));
        assert_eq!(parse_kuma(Some("")), Ok(None));
        assert_eq!(parse_kuma(Some("rid=7&x=1")), Ok(None));
        // Kuma's default URL: a heartbeat
        assert_eq!(parse_kuma(Some("status=up&msg=OK&ping=")), Ok(Some(Signal::Heartbeat)));
        assert_eq!(
            parse_kuma(Some("status=down&msg=disk%20full&ping=12.5")),
            Ok(Some(Signal::Down(Some("disk full".into()))))
        );
        assert_eq!(parse_kuma(Some("status=DOWN&msg=")), Ok(Some(Signal::Down(None))));
        assert_eq!(
            parse_kuma(Some("status=degraded&msg=slow+queue")),
            Ok(Some(Signal::Degraded(Some("slow queue".into()))))
        );
        for (bad, needle) in [
            ("status=sideways", "unknown status"),
            ("status=up&status=down", "twice"),
            ("status=up&ping=fast", "ping"),
            ("status=up&ping=-3", "ping"),
        ] {
            let e = parse_kuma(Some(bad)).unwrap_err();
            assert!(e.contains(needle), "{bad}: {e}");
        }
    }

    #[test]
    fn icmp_problem_names_the_stuck_monitors() {
        use crate::scheduler::ProbeStatus;
        let view = |kind: Kind, host: &'static str, paused: bool| (kind, host, paused);
        let none = ProbeStatus {
            icmp_v4: Err("no CAP_NET_RAW".into()),
            icmp_v6: Err("no CAP_NET_RAW".into()),
        };
        let v6_only_missing = ProbeStatus {
            icmp_v4: Ok(()),
            icmp_v6: Err("no IPv6".into()),
        };
        let all_ok = ProbeStatus {
            icmp_v4: Ok(()),
            icmp_v6: Ok(()),
        };
        let tcp = view(Kind::Tcp, "127.0.0.1", false);
        let ping4 = view(Kind::Ping, "127.0.0.1", false);
        let ping_name = view(Kind::Ping, "db.lan", false);
        let ping6 = view(Kind::Ping, "::1", false);
        let paused = view(Kind::Ping, "127.0.0.2", true);
        assert_eq!(icmp_problem(&none, &[tcp, paused]), None, "no active ping monitor");
        let why = icmp_problem(&none, &[tcp, ping4, ping_name]).unwrap();
        assert!(
            why.starts_with("ICMP unavailable (no CAP_NET_RAW): 2 ping monitors stay pending"),
            "{why}"
        );
        assert!(why.contains("--cap-add NET_RAW"), "{why}");
        assert_eq!(icmp_problem(&v6_only_missing, &[ping4, ping_name]), None);
        let why = icmp_problem(&v6_only_missing, &[ping6]).unwrap();
        assert!(
            why.starts_with("ICMPv6 unavailable (no IPv6): 1 ping monitor stay"),
            "{why}"
        );
        assert_eq!(icmp_problem(&all_ok, &[ping4, ping6]), None);
    }
}
