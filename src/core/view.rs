//! What the fronts show: the monitor object ([`MonitorView`], the WS API's "monitor
//! object", the rows of `/list` and `upbot list`), the `status` details and the
//! [`Reply`] of every command. Built from a stored monitor plus its live state; no
//! front builds its own.

use std::time::Duration;

use serde::Serialize;

use crate::domain::{Health, Kind, LossLimit, Monitor, MonitorId, ProbeStats, StatsSummary, rfc3339};

/// A monitor as every front shows it (the WS "monitor object").
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MonitorView {
    /// Id.
    pub id: MonitorId,
    /// `ping`, `tcp`, `push`, `http` or `dns`.
    pub kind: Kind,
    /// `host`, `host:port` or `[v6]:port`; an http monitor's URL; `name TYPE` for dns.
    pub target: String,
    /// Host (or push name).
    pub host: String,
    /// TCP port.
    pub port: Option<u16>,
    /// Probe interval, seconds.
    pub interval: f64,
    /// Probe timeout, seconds.
    pub timeout: f64,
    /// Failures before DOWN.
    pub fails: u32,
    /// Successes before UP.
    pub recovers: u32,
    /// Name.
    pub name: String,
    /// Owning chat.
    pub chat_id: Option<i64>,
    /// Owning bot's username.
    pub bot: Option<String>,
    /// Current state.
    pub state: crate::domain::State,
    /// Since when (RFC 3339).
    pub since: String,
    /// Why it is in this state.
    pub reason: String,
    /// Whether probing is paused.
    pub paused: bool,
    /// Last successful RTT, ms.
    pub last_rtt_ms: Option<f64>,
    /// Last probe error.
    pub last_error: Option<String>,
    /// Creation time (RFC 3339).
    pub created: String,
    /// Ping: echo requests sent again within the timeout when one gets no reply.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retries: Option<u8>,
    /// Ping: packet loss over the window that makes it DEGRADED (`20`, or `"off"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loss: Option<LossLimit>,
    /// Ping: probes in the loss window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<u16>,
    /// Ping: packets lost over the probes now in the window, % (null before any).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window_loss_pct: Option<Option<f64>>,
    /// Ping: probes now in the window (it counts afresh after an outage).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window_probes: Option<usize>,
    /// Push: where the monitored service posts status reports.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
    /// Push: where it sends plain heartbeats (GET or POST).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heartbeat_url: Option<String>,
    /// Push: expected seconds between heartbeats (none: status reports only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heartbeat: Option<f64>,
    /// Push: extra seconds after `heartbeat` before DOWN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grace: Option<f64>,
    /// Push: last heartbeat or status report (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_heartbeat: Option<String>,
    /// Push: whether requests must be signed with the monitor's secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signed: Option<bool>,
    /// Push: whether heartbeats must be signed too (`sign_heartbeats`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sign_heartbeats: Option<bool>,
    /// Who acked its current incident (DOWN or DEGRADED), if anyone.
    pub acked_by: Option<String>,
    /// Why they acked.
    pub ack_reason: Option<String>,
    /// End of the mute holding its alerts, its own or its chat's (RFC 3339).
    pub muted_until: Option<String>,
    /// While this monitor is DOWN, this one's DOWN is counted in its alert.
    pub parent: Option<MonitorId>,
    /// Reminder period while DOWN, seconds.
    pub remind: Option<f64>,
    /// http and dns settings (absent for other kinds).
    #[serde(flatten)]
    pub settings: KindFields,
    /// What the caller should know about the monitor as it was just added (e.g. ICMP
    /// is unavailable on this server, so a ping monitor stays pending).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<crate::i18n::Msg>,
    /// Cluster mode: its sites and what each sees, the quorum, and whether this node
    /// reaches the cluster (absent when upbot runs alone).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<super::replica::ClusterMonitorView>,
}

/// A sample view for unit tests: tcp monitor #7 `db_main` (db.lan:5432), UP; tests
/// change what they look at with struct update syntax.
#[cfg(test)]
impl MonitorView {
    pub(crate) fn sample() -> Self {
        Self {
            id: MonitorId(7),
            kind: Kind::Tcp,
            target: "db.lan:5432".into(),
            host: "db.lan".into(),
            port: Some(5432),
            interval: 30.0,
            timeout: 2.0,
            fails: 3,
            recovers: 2,
            name: "db_main".into(),
            chat_id: Some(-1001234567890),
            bot: Some("mon_bot".into()),
            state: crate::domain::State::Up,
            since: "1970-01-01T00:16:40.000Z".into(),
            reason: String::new(),
            paused: false,
            last_rtt_ms: Some(1.234),
            last_error: None,
            created: "1970-01-01T00:00:00.000Z".into(),
            retries: None,
            loss: None,
            window: None,
            window_loss_pct: None,
            window_probes: None,
            webhook_url: None,
            heartbeat_url: None,
            heartbeat: None,
            grace: None,
            last_heartbeat: None,
            signed: None,
            sign_heartbeats: None,
            acked_by: None,
            ack_reason: None,
            muted_until: None,
            parent: None,
            remind: None,
            settings: Default::default(),
            warnings: Vec::new(),
            cluster: None,
        }
    }
}

/// An http or dns monitor's settings in the monitor object, named as `add` takes them.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct KindFields {
    /// http: the URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// http: `GET` or `HEAD`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<&'static str>,
    /// http: accepted status codes; dns: the records the answer must contain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expect: Option<String>,
    /// http: `text` or `!text`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keyword: Option<String>,
    /// http: seconds above which an answer is DEGRADED.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub degraded: Option<f64>,
    /// https: days before the certificate's expiry from which it is DEGRADED.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert_days: Option<u32>,
    /// https: whether the certificate is verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_verify: Option<bool>,
    /// dns: the record type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_type: Option<&'static str>,
    /// dns: the server asked (absent: the system resolver).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
}

impl KindFields {
    fn of(m: &Monitor) -> Self {
        let mut f = Self::default();
        if let Some(h) = &m.http {
            f.url = Some(h.url.clone());
            f.method = Some(h.method.as_str());
            f.expect = Some(h.expect.to_string());
            f.keyword = h.keyword.as_ref().map(ToString::to_string);
            f.degraded = h.degraded.map(secs);
            f.cert_days = Some(h.cert_days);
            f.tls_verify = Some(h.tls_verify);
        }
        if let Some(d) = &m.dns {
            f.record_type = Some(d.record_type.as_str());
            f.expect = (!d.expect.is_empty()).then(|| d.expect.join(","));
            f.server = d.server.clone();
        }
        f
    }
}

/// `status` reply: the monitor plus 24 h figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusView {
    /// The monitor.
    #[serde(flatten)]
    pub monitor: MonitorView,
    /// Figures over the last 24 h.
    pub stats: StatsSummary,
}

/// What a command returns.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// Monitor created (durable).
    Added(MonitorView),
    /// Monitor removed (durable).
    Deleted(MonitorView),
    /// Monitors visible to the caller.
    List(Vec<MonitorView>),
    /// Details.
    Status(Box<StatusView>),
    /// Paused (durable).
    Paused(MonitorView),
    /// Resumed (durable).
    Resumed(MonitorView),
    /// Push token replaced (durable); the view carries the new URLs.
    Rotated(MonitorView),
    /// A chart and its figures.
    Graph(Box<super::cmd::GraphView>),
    /// The chat's status page (after the change, durable).
    Page(super::cmd::PageView),
    /// The monitors not UP (`list down`).
    ListDown(Vec<MonitorView>),
    /// The incident is acked (durable).
    Acked(MonitorView),
    /// Alerts held (durable).
    Muted(MuteView),
    /// A mute ended (durable; the end-of-mute message is queued).
    Unmuted(UnmuteView),
    /// Reminder period set (durable).
    Reminders(RemindView),
    /// Quiet recoveries on or off (durable).
    Quiet(QuietView),
    /// The chat's language (durable).
    Lang(LangView),
}

/// `mute` reply.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MuteView {
    /// `all`: the whole chat.
    pub all: bool,
    /// The chat.
    pub chat_id: Option<i64>,
    /// When the mute ends (RFC 3339).
    pub muted_until: String,
    /// Who muted.
    pub by: String,
    /// Why.
    pub reason: Option<String>,
    /// The monitors held.
    pub monitors: Vec<MonitorView>,
}

/// `unmute` reply.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnmuteView {
    /// `all`: the whole chat.
    pub all: bool,
    /// The chat.
    pub chat_id: Option<i64>,
    /// How many monitors changed while muted (the chat is told which).
    pub changed: usize,
    /// The monitors no longer held.
    pub monitors: Vec<MonitorView>,
}

/// `remind` reply.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RemindView {
    /// The period, seconds (`null`: off).
    pub remind: Option<f64>,
    /// The monitors.
    pub monitors: Vec<MonitorView>,
}

/// `lang` reply.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LangView {
    /// The chat.
    pub chat_id: i64,
    /// Its language.
    pub lang: crate::i18n::Lang,
    /// Whether this command set it (else it only said which one is set).
    pub changed: bool,
}

/// `quiet` reply.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuietView {
    /// The chat.
    pub chat_id: i64,
    /// UP and recovery messages arrive without sound.
    pub quiet: bool,
}

fn secs(d: Duration) -> f64 {
    d.as_millis() as f64 / 1000.0
}

/// Builds the monitor object of `m` in state `(h, s)`; `public_url` is the base of push
/// URLs, `last_seen_ms` a push monitor's last heartbeat.
pub(crate) fn monitor_view(
    m: &Monitor,
    (h, s): (Health, ProbeStats),
    public_url: &str,
    last_seen_ms: Option<u64>,
    oncall: super::oncall::OnCallView,
) -> MonitorView {
    let push = m.push.as_ref();
    let ping = m.ping_settings();
    let window = ping.map(|_| &s.loss);
    MonitorView {
        id: m.id,
        kind: m.kind,
        target: m.target(),
        host: m.host.clone(),
        port: m.port,
        interval: secs(m.interval),
        timeout: secs(m.timeout),
        fails: m.fails,
        recovers: m.recovers,
        name: m.name.clone(),
        chat_id: m.chat_id,
        bot: m.bot.clone(),
        state: h.state,
        since: rfc3339(h.since_ms),
        reason: h.reason,
        paused: m.paused,
        last_rtt_ms: s.last_rtt_us.map(|us| us as f64 / 1000.0),
        last_error: s.last_error,
        created: rfc3339(m.created_ms),
        retries: ping.map(|p| p.retries),
        loss: ping.map(|p| p.loss),
        window: ping.map(|p| p.window),
        window_loss_pct: window.map(|w| w.loss_pct()),
        window_probes: window.map(|w| w.probes()),
        webhook_url: push.map(|p| format!("{public_url}/webhooks/{}", p.token)),
        heartbeat_url: push.map(|p| format!("{public_url}/webhooks/{}/heartbeat", p.token)),
        heartbeat: push.and_then(|p| p.heartbeat).map(secs),
        grace: push.filter(|p| p.heartbeat.is_some()).map(|p| secs(p.grace)),
        last_heartbeat: last_seen_ms.map(rfc3339),
        signed: push.map(|p| p.secret.is_some()),
        sign_heartbeats: push.map(|p| p.sign_heartbeats),
        acked_by: oncall.acked_by,
        ack_reason: oncall.ack_reason,
        muted_until: oncall.muted_until.map(rfc3339),
        parent: oncall.parent,
        remind: oncall.remind.map(secs),
        settings: KindFields::of(m),
        warnings: Vec::new(),
        cluster: None,
    }
}
