//! Process metrics in Prometheus/OpenMetrics text form (`GET /metrics`).
//!
//! One [`Metrics`] handle (cheap clone) owns every counter and histogram, registered
//! once at start. Parts report through its methods: the scheduler calls
//! [`Metrics::probe`], whoever applies a verdict calls [`Metrics::state_change`], the
//! Telegram sender calls [`Metrics::alert_sent`] / [`Metrics::alert_failed`], the WS
//! front [`Metrics::ws_connected`] / [`Metrics::ws_disconnected`], the HTTP receiver
//! [`Metrics::webhook`]. Figures that already live elsewhere (monitors per kind and
//! state, the outbox length) are not counted twice: they are read at scrape time and
//! passed to [`Metrics::render`].

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::domain::{Kind, State};

/// Every kind, for gauges that list all combinations (absent series would read as
/// "no data" rather than 0 in dashboards).
const KINDS: [Kind; 3] = [Kind::Ping, Kind::Tcp, Kind::Push];
/// Every state, for the same reason.
const STATES: [State; 5] = [State::Pending, State::Up, State::Degraded, State::Down, State::Paused];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MonitorLabels {
    kind: &'static str,
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    to: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabels {
    code: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

struct Inner {
    registry: Registry,
    monitors: Family<MonitorLabels, Gauge>,
    /// The two probe series, resolved once: `probe()` runs ~10k times a second.
    probes_ok: Counter,
    probes_fail: Counter,
    probe_duration: Histogram,
    state_changes: Family<StateLabels, Counter>,
    alerts_sent: Counter,
    alerts_failed: Counter,
    alerts_queued: Gauge,
    ws_connections: Gauge,
    webhooks: Family<CodeLabels, Counter>,
    telegram_updates: Family<OutcomeLabels, Counter>,
    /// Scrapes set the scrape-time gauges and then encode; serialising them keeps one
    /// scrape from encoding another's half-written figures.
    scrape: std::sync::Mutex<()>,
}

/// Handle to the process metrics; cheap to clone, safe to call from any thread.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// Registers every metric family (names are prefixed `upbot_`).
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("upbot");
        let monitors = Family::<MonitorLabels, Gauge>::default();
        let probes = Family::<ResultLabels, Counter>::default();
        let probe_duration = Histogram::new(exponential_buckets(0.000_5, 2.0, 15));
        let state_changes = Family::<StateLabels, Counter>::default();
        let (alerts_sent, alerts_failed) = (Counter::default(), Counter::default());
        let (alerts_queued, ws_connections) = (Gauge::default(), Gauge::default());
        let webhooks = Family::<CodeLabels, Counter>::default();
        let telegram_updates = Family::<OutcomeLabels, Counter>::default();
        registry.register("monitors", "Monitors by kind and state", monitors.clone());
        registry.register("probes", "Probes run, by result (ok or fail)", probes.clone());
        registry.register_with_unit(
            "probe_duration",
            "Probe duration (round trip or time to failure)",
            prometheus_client::registry::Unit::Seconds,
            probe_duration.clone(),
        );
        registry.register(
            "state_changes",
            "Monitor state changes, by new state",
            state_changes.clone(),
        );
        registry.register("alerts_sent", "Alerts delivered to Telegram", alerts_sent.clone());
        registry.register(
            "alerts_failed",
            "Alert delivery attempts that failed",
            alerts_failed.clone(),
        );
        registry.register(
            "alerts_queued",
            "Alerts waiting in the durable outbox",
            alerts_queued.clone(),
        );
        registry.register(
            "ws_connections",
            "Open WebSocket API connections",
            ws_connections.clone(),
        );
        registry.register(
            "webhook_requests",
            "Requests to /webhooks, by HTTP status code",
            webhooks.clone(),
        );
        registry.register(
            "telegram_updates",
            "Telegram messages handled, by outcome (command, answered, refused_told, refused_quiet, ignored)",
            telegram_updates.clone(),
        );
        // Series that exist from the start read as 0 instead of "no data" (and a family
        // with no series would not be listed at all).
        let probes_ok = probes.get_or_create(&ResultLabels { result: "ok" }).clone();
        let probes_fail = probes.get_or_create(&ResultLabels { result: "fail" }).clone();
        for to in STATES {
            let _ = state_changes.get_or_create(&StateLabels { to: to.as_str() });
        }
        Self {
            inner: Arc::new(Inner {
                registry,
                monitors,
                probes_ok,
                probes_fail,
                probe_duration,
                state_changes,
                alerts_sent,
                alerts_failed,
                alerts_queued,
                ws_connections,
                webhooks,
                telegram_updates,
                scrape: std::sync::Mutex::new(()),
            }),
        }
    }

    /// One probe finished: `ok` or not, after `duration`.
    pub fn probe(&self, ok: bool, duration: Duration) {
        if ok {
            &self.inner.probes_ok
        } else {
            &self.inner.probes_fail
        }
        .inc();
        self.inner.probe_duration.observe(duration.as_secs_f64());
    }

    /// A monitor changed state (to `to`); call once per transition, announced or not.
    pub fn state_change(&self, to: State) {
        self.inner
            .state_changes
            .get_or_create(&StateLabels { to: to.as_str() })
            .inc();
    }

    /// An alert was accepted by the Bot API.
    pub fn alert_sent(&self) {
        self.inner.alerts_sent.inc();
    }

    /// An alert delivery attempt failed (it stays queued or is dropped; either way, one
    /// failure).
    pub fn alert_failed(&self) {
        self.inner.alerts_failed.inc();
    }

    /// A WebSocket API connection opened.
    pub fn ws_connected(&self) {
        self.inner.ws_connections.inc();
    }

    /// A WebSocket API connection closed (pair with [`Metrics::ws_connected`]).
    pub fn ws_disconnected(&self) {
        self.inner.ws_connections.dec();
    }

    /// A request to `/webhooks/…` was answered with `status`.
    pub fn webhook(&self, status: u16) {
        self.inner.webhooks.get_or_create(&CodeLabels { code: status }).inc();
    }

    /// A Telegram message was handled with this outcome.
    pub fn telegram_update(&self, outcome: &'static str) {
        self.inner
            .telegram_updates
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    /// Renders every metric in the OpenMetrics text format (which Prometheus scrapes),
    /// with the scrape-time figures: monitors per (kind, state) and the outbox length.
    pub fn render(&self, monitors: &[(Kind, State)], alerts_queued: usize) -> String {
        let _g = self
            .inner
            .scrape
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for kind in KINDS {
            for state in STATES {
                let n = monitors.iter().filter(|(k, s)| *k == kind && *s == state).count();
                self.inner
                    .monitors
                    .get_or_create(&MonitorLabels {
                        kind: kind.as_str(),
                        state: state.as_str(),
                    })
                    .set(i64::try_from(n).unwrap_or(i64::MAX));
            }
        }
        self.inner
            .alerts_queued
            .set(i64::try_from(alerts_queued).unwrap_or(i64::MAX));
        let mut out = String::new();
        // Writing into a String cannot fail; an error here would be an encoder bug, and
        // the partial text is still the best answer.
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.inner.registry) {
            tracing::error!(error = %e, "encoding metrics failed");
        }
        out
    }

    /// The content type of [`Metrics::render`]'s output.
    pub const CONTENT_TYPE: &'static str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_family() {
        let m = Metrics::new();
        m.probe(true, Duration::from_millis(3));
        m.probe(false, Duration::from_secs(2));
        m.state_change(State::Down);
        m.alert_sent();
        m.alert_failed();
        m.ws_connected();
        m.ws_connected();
        m.ws_disconnected();
        m.webhook(200);
        m.webhook(200);
        m.webhook(404);
        let text = m.render(&[(Kind::Push, State::Up), (Kind::Ping, State::Down)], 7);
        for line in [
            "upbot_monitors{kind=\"push\",state=\"up\"} 1",
            "upbot_monitors{kind=\"tcp\",state=\"up\"} 0",
            "upbot_probes_total{result=\"ok\"} 1",
            "upbot_state_changes_total{to=\"up\"} 0",
            "upbot_probe_duration_seconds_count 2",
            "upbot_state_changes_total{to=\"down\"} 1",
            "upbot_alerts_sent_total 1",
            "upbot_alerts_failed_total 1",
            "upbot_alerts_queued 7",
            "upbot_ws_connections 1",
            "upbot_webhook_requests_total{code=\"200\"} 2",
            "upbot_webhook_requests_total{code=\"404\"} 1",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
    }
}
