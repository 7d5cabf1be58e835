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

use crate::domain::{Kind, MonitorId, State};

/// Every kind, for gauges that list all combinations (absent series would read as
/// "no data" rather than 0 in dashboards).
const KINDS: [Kind; 5] = [Kind::Ping, Kind::Tcp, Kind::Push, Kind::Http, Kind::Dns];
/// Every state, for the same reason.
const STATES: [State; 5] = [State::Pending, State::Up, State::Degraded, State::Down, State::Paused];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MonitorLabels {
    kind: &'static str,
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MonitorUpLabels {
    id: u64,
    name: String,
    kind: &'static str,
    /// The owning chat id, empty for operator monitors without a chat.
    chat: String,
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
    probes_late: Counter,
    probe_duration: Histogram,
    state_changes: Family<StateLabels, Counter>,
    alerts_sent: Counter,
    alerts_failed: Counter,
    alerts_queued: Gauge,
    ws_connections: Gauge,
    webhooks: Family<CodeLabels, Counter>,
    monitor_up: Family<MonitorUpLabels, Gauge>,
    http_connections: Gauge,
    http_refused: Counter,
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
        let monitor_up = Family::<MonitorUpLabels, Gauge>::default();
        let (http_connections, http_refused) = (Gauge::default(), Counter::default());
        let telegram_updates = Family::<OutcomeLabels, Counter>::default();
        registry.register("monitors", "Monitors by kind and state", monitors.clone());
        registry.register(
            "monitor_up",
            "1 if the monitor is up or degraded, 0 if down; absent while pending or paused",
            monitor_up.clone(),
        );
        registry.register(
            "probes",
            "Probes run, by result (ok, fail, or late: timed out while the probe engine was behind, not counted toward a verdict)",
            probes.clone(),
        );
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
            "http_connections",
            "Open connections to the HTTP receiver",
            http_connections.clone(),
        );
        registry.register(
            "http_connections_refused",
            "Connections to the HTTP receiver refused because it was at its connection cap",
            http_refused.clone(),
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
        let probes_late = probes.get_or_create(&ResultLabels { result: "late" }).clone();
        for to in STATES {
            let _ = state_changes.get_or_create(&StateLabels { to: to.as_str() });
        }
        Self {
            inner: Arc::new(Inner {
                registry,
                monitors,
                probes_ok,
                probes_fail,
                probes_late,
                probe_duration,
                state_changes,
                alerts_sent,
                alerts_failed,
                alerts_queued,
                ws_connections,
                webhooks,
                monitor_up,
                http_connections,
                http_refused,
                telegram_updates,
                scrape: std::sync::Mutex::new(()),
            }),
        }
    }

    /// A probe that timed out while the engine was behind (not counted toward a verdict).
    pub fn probe_late(&self, duration: Duration) {
        self.inner.probes_late.inc();
        self.inner.probe_duration.observe(duration.as_secs_f64());
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

    /// A connection to the HTTP receiver opened (pair with
    /// [`Metrics::http_disconnected`]).
    pub fn http_connected(&self) {
        self.inner.http_connections.inc();
    }

    /// A connection to the HTTP receiver closed.
    pub fn http_disconnected(&self) {
        self.inner.http_connections.dec();
    }

    /// A connection to the HTTP receiver was refused (connection cap).
    pub fn http_refused(&self) {
        self.inner.http_refused.inc();
    }

    /// Renders every metric in `format`, with the scrape-time figures: each monitor
    /// (for the per-kind/state counts and `upbot_monitor_up`) and the outbox length.
    pub fn render(&self, monitors: &[MonitorSample<'_>], alerts_queued: usize, format: Format) -> String {
        self.render_with(monitors, alerts_queued, format, None)
    }

    /// [`Metrics::render`], plus cluster mode's figures when there are some:
    /// `upbot_site_verdicts{site,state}` (how many monitors each site sees in each
    /// state), `upbot_site_reporting{site}` and `upbot_cluster_leader`.
    pub fn render_with(
        &self,
        monitors: &[MonitorSample<'_>],
        alerts_queued: usize,
        format: Format,
        cluster: Option<&ClusterFigures<'_>>,
    ) -> String {
        let _g = self
            .inner
            .scrape
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Rebuilt each scrape: a deleted monitor's series must disappear.
        self.inner.monitor_up.clear();
        for m in monitors {
            let up = match m.state {
                State::Up | State::Degraded => 1,
                State::Down => 0,
                State::Pending | State::Paused => continue,
            };
            self.inner
                .monitor_up
                .get_or_create(&MonitorUpLabels {
                    id: m.id.0,
                    name: m.name.to_string(),
                    kind: m.kind.as_str(),
                    chat: m.chat_id.map(|c| c.to_string()).unwrap_or_default(),
                })
                .set(up);
        }
        for kind in KINDS {
            for state in STATES {
                let n = monitors.iter().filter(|m| m.kind == kind && m.state == state).count();
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
        if let Some(c) = cluster {
            // One `# EOF`, at the very end.
            if let Some(body) = out.strip_suffix("# EOF\n") {
                out = body.to_string();
            }
            out.push_str(&cluster_text(c));
        }
        match format {
            Format::OpenMetrics => out,
            Format::Text004 => to_text_004(&out),
        }
    }
}

/// Cluster mode's figures for one scrape.
#[derive(Debug, Clone, Default)]
pub struct ClusterFigures<'a> {
    /// This node leads.
    pub leading: bool,
    /// Every site known.
    pub sites: Vec<SiteFigures<'a>>,
}

/// One site's figures.
#[derive(Debug, Clone)]
pub struct SiteFigures<'a> {
    /// The site.
    pub site: &'a str,
    /// Its heartbeat is recent.
    pub reporting: bool,
    /// How many monitors it sees in each state.
    pub verdicts: Vec<(&'static str, usize)>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SiteStateLabels {
    site: String,
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SiteLabels {
    site: String,
}

/// The cluster families, encoded (OpenMetrics, ending in `# EOF`).
fn cluster_text(c: &ClusterFigures<'_>) -> String {
    let mut registry = Registry::with_prefix("upbot");
    let verdicts = Family::<SiteStateLabels, Gauge>::default();
    let reporting = Family::<SiteLabels, Gauge>::default();
    let leader = Gauge::<i64>::default();
    registry.register(
        "site_verdicts",
        "Cluster mode: monitors each site sees in each state (its latest verdicts)",
        verdicts.clone(),
    );
    registry.register(
        "site_reporting",
        "Cluster mode: 1 while the site's heartbeat is recent, 0 when it is left out",
        reporting.clone(),
    );
    registry.register(
        "cluster_leader",
        "Cluster mode: 1 if this node leads (sends alerts, polls the bots)",
        leader.clone(),
    );
    leader.set(i64::from(c.leading));
    for s in &c.sites {
        let site = s.site.to_string();
        reporting
            .get_or_create(&SiteLabels { site: site.clone() })
            .set(i64::from(s.reporting));
        for state in STATES {
            let n = s
                .verdicts
                .iter()
                .find(|(st, _)| *st == state.as_str())
                .map_or(0, |(_, n)| *n);
            verdicts
                .get_or_create(&SiteStateLabels {
                    site: site.clone(),
                    state: state.as_str(),
                })
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
    }
    let mut out = String::new();
    if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &registry) {
        tracing::error!(error = %e, "encoding cluster metrics failed");
    }
    out
}

/// One monitor as a scrape sees it.
#[derive(Debug, Clone, Copy)]
pub struct MonitorSample<'a> {
    /// Its id.
    pub id: MonitorId,
    /// Its name.
    pub name: &'a str,
    /// Its kind.
    pub kind: Kind,
    /// Its owning chat.
    pub chat_id: Option<i64>,
    /// Its current state.
    pub state: State,
}

/// An exposition format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4 (the default).
    Text004,
    /// OpenMetrics 1.0 text.
    OpenMetrics,
}

impl Format {
    /// OpenMetrics when the `Accept` header names `application/openmetrics-text`
    /// (with a non-zero q), else the 0.0.4 text format, as Prometheus' own clients do.
    pub fn negotiate(accept: Option<&str>) -> Self {
        let wants_om = accept.is_some_and(|a| {
            a.split(',').any(|part| {
                let mut it = part.split(';').map(str::trim);
                let media = it.next().unwrap_or("");
                let q_zero = it.any(|p| {
                    p.strip_prefix("q=")
                        .and_then(|q| q.parse::<f32>().ok())
                        .is_some_and(|q| q <= 0.0)
                });
                media.eq_ignore_ascii_case("application/openmetrics-text") && !q_zero
            })
        });
        if wants_om { Self::OpenMetrics } else { Self::Text004 }
    }

    /// The `Content-Type` of this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Text004 => "text/plain; version=0.0.4; charset=utf-8",
            Self::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// OpenMetrics text → Prometheus text 0.0.4 (see the module doc): counter families
/// get their `_total` name in `# HELP`/`# TYPE`, `# UNIT` and `# EOF` go.
fn to_text_004(om: &str) -> String {
    let counters: std::collections::HashSet<&str> = om
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(om.len() + 16 * counters.len());
    for line in om.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let meta = ["# HELP ", "# TYPE "]
            .into_iter()
            .find_map(|p| line.strip_prefix(p).map(|rest| (p, rest)));
        if let Some((prefix, rest)) = meta {
            let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
            if counters.contains(name) {
                out.push_str(prefix);
                out.push_str(name);
                out.push_str("_total ");
                out.push_str(tail);
                out.push('\n');
                continue;
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    out
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
        let sample = |id, name, kind, state| MonitorSample {
            id: MonitorId(id),
            name,
            kind,
            chat_id: None,
            state,
        };
        let text = m.render(
            &[
                sample(1, "a", Kind::Push, State::Up),
                sample(2, "b", Kind::Ping, State::Down),
            ],
            7,
            Format::OpenMetrics,
        );
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

    #[test]
    fn text_004_names_counters_with_total_and_monitor_up_follows_state() {
        let m = Metrics::new();
        m.probe(true, Duration::from_millis(3));
        let mon = |id, name, state| MonitorSample {
            id: MonitorId(id),
            name,
            kind: Kind::Tcp,
            chat_id: Some(-10042),
            state,
        };
        let monitors = [
            mon(1, "db", State::Up),
            mon(2, "queue", State::Degraded),
            mon(3, r#"api "v2" \ eu"#, State::Down),
            mon(4, "new", State::Pending),
            mon(5, "held", State::Paused),
        ];
        let text = m.render(&monitors, 0, Format::Text004);
        assert!(!text.contains("# EOF") && !text.contains("# UNIT"), "{text}");
        assert!(text.contains("# HELP upbot_probes_total Probes run"), "{text}");
        assert!(text.contains("# TYPE upbot_probes_total counter\n"), "{text}");
        assert!(text.contains("# TYPE upbot_monitors gauge\n"), "{text}");
        assert!(
            text.contains("# TYPE upbot_probe_duration_seconds histogram\n"),
            "{text}"
        );
        for line in [
            r#"upbot_monitor_up{id="1",name="db",kind="tcp",chat="-10042"} 1"#,
            r#"upbot_monitor_up{id="2",name="queue",kind="tcp",chat="-10042"} 1"#,
            r#"upbot_monitor_up{id="3",name="api \"v2\" \\ eu",kind="tcp",chat="-10042"} 0"#,
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
        assert!(!text.contains(r#"id="4""#) && !text.contains(r#"id="5""#), "{text}");
        // every sample belongs to a family with HELP, and plain samples are typed (the
        // parser leaves a histogram's _sum and _count untyped, which is its own limit)
        let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
        for s in &scrape.samples {
            if scrape.docs.contains_key(&s.metric) {
                assert!(
                    !matches!(s.value, prometheus_parse::Value::Untyped(_)),
                    "{} is untyped",
                    s.metric
                );
                continue;
            }
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suf| s.metric.strip_suffix(suf))
                .unwrap_or(&s.metric);
            assert!(scrape.docs.contains_key(family), "{} has no HELP", s.metric);
        }
        // a deleted monitor's series goes at the next scrape
        let text = m.render(&monitors[..1], 0, Format::Text004);
        assert!(!text.contains(r#"id="2""#), "{text}");
    }

    #[test]
    fn format_follows_the_accept_header() {
        use Format::*;
        for (accept, want) in [
            (None, Text004),
            (Some("*/*"), Text004),
            (Some("text/plain;version=0.0.4;q=0.5,*/*;q=0.1"), Text004),
            (
                Some("application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"),
                OpenMetrics,
            ),
            (Some("application/openmetrics-text; q=0"), Text004),
        ] {
            assert_eq!(Format::negotiate(accept), want, "{accept:?}");
        }
        assert_eq!(Text004.content_type(), "text/plain; version=0.0.4; charset=utf-8");
    }
}
