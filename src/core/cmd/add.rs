//! `add`: create a monitor. The one definition of its input ([`AddRequest`]: WS
//! `data`, chat `key=value` words, CLI flags, and the field list of `/help`), its
//! defaults and limits, its validation and its run.
//!
//! Adding a field: add it to [`AddRequest`] (doc comment = its help; serde and clap
//! attributes = its forms), check it in [`AddRequest::validate`], and carry it into the
//! monitor there. Every front then takes it.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::args;
use super::{Selector, Spec};
use crate::config::Secret;
use crate::core::error::{CoreError, invalid};
use crate::core::service::{Caller, MonitorView, Service, validate_chat_id};
use crate::domain::kinds::{self, DnsSettings, HttpMethod, HttpSettings, Keyword, RecordType, StatusList};
use crate::domain::oncall::OnCall;
use crate::domain::{
    Health, Kind, LossLimit, Monitor, MonitorId, PingSettings, ProbeStats, PushSettings, Target, now_ms,
};
use crate::i18n::{Msg, msg};

/// Help and menu text.
pub const SPEC: Spec = Spec {
    name: "add",
    args: "<host|host:port|URL> [interval=30s fails=3 recovers=2 name=… timeout=2s retries=2 loss=20% window=20 remind=30m parent=<id>]",
    about: "watch a host, host:port, URL or DNS name",
    example: "192.0.2.10 interval=30s",
    modifies: true,
};

/// Smallest probe interval accepted.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);
/// Largest probe interval accepted.
pub const MAX_INTERVAL: Duration = Duration::from_secs(24 * 3600);
/// Smallest probe timeout accepted.
pub const MIN_TIMEOUT: Duration = Duration::from_millis(100);
/// Largest `fails` / `recovers`.
pub const MAX_COUNT: u32 = 100;
/// Most ping retries (tries per probe: one more).
pub const MAX_RETRIES: u8 = 10;
/// Largest loss window, in probes.
pub const MAX_WINDOW: u16 = 1000;
/// Smallest loss window: fewer probes say nothing about a rate.
pub const MIN_WINDOW: u16 = 2;
/// Longest monitor name.
pub const MAX_NAME: usize = 64;
/// Shortest push heartbeat period (short periods are for tests and fast jobs).
pub const MIN_HEARTBEAT: Duration = Duration::from_secs(1);
/// Longest push heartbeat period or grace.
pub const MAX_HEARTBEAT: Duration = Duration::from_secs(90 * 24 * 3600);
/// Longest push signing secret.
pub const MAX_SECRET: usize = 256;
/// Most sites a monitor may name (and the largest `quorum` when it names none).
pub const MAX_SITES: usize = 64;

/// Fields only the operator sets: a chat's monitors belong to that chat and its bot.
pub const OPERATOR_ONLY: &[&str] = &["chat_id", "thread_id", "bot"];

/// Everything `add` accepts; unset fields take the documented defaults. `null` and a
/// missing field are the same; unknown and repeated fields are refused. `Debug` shows
/// neither the push secret nor the bot (it may be a token): both are [`Secret`]s.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, clap::Args)]
#[serde(default, deny_unknown_fields)]
pub struct AddRequest {
    /// host or IP (ping), host:port, [v6]:port or tcp://host:port (tcp), an http(s):// URL
    /// (http), a name to look up (kind dns); a push monitor's name
    #[arg(required_unless_present = "url", default_value = "", hide_default_value = true)]
    #[serde(skip_serializing_if = "String::is_empty")]
    pub target: String,
    /// ping, tcp, push, http or dns (default: from the target)
    #[arg(long, value_parser = args::kind)]
    #[serde(with = "args::opt_kind")]
    pub kind: Option<Kind>,
    /// TCP port (default 443)
    #[arg(long)]
    #[serde(with = "args::opt_num")]
    pub port: Option<u16>,
    /// probe interval, e.g. 30s, 5m (default 5s)
    #[arg(long, value_parser = args::duration)]
    #[serde(with = "args::opt_duration")]
    pub interval: Option<Duration>,
    /// failed probes before DOWN (default 3)
    #[arg(long)]
    #[serde(with = "args::opt_num")]
    pub fails: Option<u32>,
    /// good probes before UP (default 2)
    #[arg(long)]
    #[serde(with = "args::opt_num")]
    pub recovers: Option<u32>,
    /// probe timeout, e.g. 2s (default 2s, never longer than the interval)
    #[arg(long, value_parser = args::duration)]
    #[serde(with = "args::opt_duration")]
    pub timeout: Option<Duration>,
    /// ping: echo requests sent again, within the timeout, when one gets no reply (default 2)
    #[arg(long)]
    #[serde(with = "args::opt_num")]
    pub retries: Option<u8>,
    /// ping: packet loss over the window that makes it DEGRADED, e.g. 20% or off (default 20%)
    #[arg(long, value_parser = args::loss)]
    #[serde(with = "args::opt_loss")]
    pub loss: Option<LossLimit>,
    /// ping: probes the loss is measured over (default 20)
    #[arg(long)]
    #[serde(with = "args::opt_num")]
    pub window: Option<u16>,
    /// display name (default: the target)
    #[arg(long)]
    pub name: Option<String>,
    /// Telegram chat to alert (operator only)
    #[arg(long, allow_negative_numbers = true, value_name = "ID")]
    #[serde(with = "args::opt_num")]
    pub chat_id: Option<i64>,
    /// forum topic of that chat (operator only)
    #[arg(long, value_name = "ID")]
    #[serde(with = "args::opt_num")]
    pub thread_id: Option<i32>,
    /// bot (username or token) that alerts the chat (operator only)
    #[arg(long)]
    pub bot: Option<Secret>,
    /// push: expected heartbeat period, e.g. 5m
    #[arg(long, value_parser = args::duration)]
    #[serde(with = "args::opt_duration")]
    pub heartbeat: Option<Duration>,
    /// push: grace after the heartbeat period, e.g. 1m (default 60s)
    #[arg(long, value_parser = args::duration)]
    #[serde(with = "args::opt_duration")]
    pub grace: Option<Duration>,
    /// push: HMAC secret requests must be signed with
    #[arg(long)]
    pub secret: Option<Secret>,
    /// push: heartbeats must be signed too (default false)
    #[arg(long, value_parser = args::flag, num_args = 0..=1, default_missing_value = "true")]
    #[serde(with = "args::opt_flag")]
    pub sign_heartbeats: Option<bool>,
    /// remind every this long while DOWN, neither acked nor muted (at least 10s)
    #[arg(long, value_parser = args::duration)]
    #[serde(with = "args::opt_duration")]
    pub remind: Option<Duration>,
    /// parent monitor id: while it is DOWN, this one's DOWN is counted in its alert
    #[arg(long, value_parser = args::monitor_id, value_name = "ID")]
    #[serde(with = "args::opt_num")]
    pub parent: Option<u64>,
    /// cluster mode: the sites that probe it, e.g. fra,sin (default: every site)
    #[arg(long, value_parser = args::site, value_delimiter = ',', value_name = "SITE,…")]
    #[serde(with = "args::opt_sites")]
    pub sites: Option<Vec<String>>,
    /// cluster mode: how many of its sites must agree on DOWN or UP (default: a majority)
    #[arg(long)]
    #[serde(with = "args::opt_num")]
    pub quorum: Option<u32>,
    /// http: the URL (another name for the target)
    #[arg(long)]
    pub url: Option<String>,
    /// http: accepted status codes, e.g. 200-299,301 (default 200-299); dns: records the answer must contain
    #[arg(long)]
    #[serde(with = "args::opt_list")]
    pub expect: Option<String>,
    /// http: text the body must contain (!text: must not contain)
    #[arg(long)]
    pub keyword: Option<String>,
    /// http: GET or HEAD (default GET)
    #[arg(long)]
    pub method: Option<String>,
    /// http: slower than this is DEGRADED, e.g. 800ms
    #[arg(long, value_parser = args::duration)]
    #[serde(with = "args::opt_duration")]
    pub degraded: Option<Duration>,
    /// https: DEGRADED this many days before the certificate expires (default 14; 0: only DOWN once expired)
    #[arg(long)]
    #[serde(with = "args::opt_num")]
    pub cert_days: Option<u32>,
    /// https: verify the certificate (default true; expiry is watched either way)
    #[arg(long, value_parser = args::flag, num_args = 0..=1, default_missing_value = "true")]
    #[serde(with = "args::opt_flag")]
    pub tls_verify: Option<bool>,
    /// dns: A, AAAA, MX, TXT or CNAME (default A; chat: type=)
    #[arg(long)]
    pub record_type: Option<String>,
    /// dns: the server to ask, host:port (default: the system resolver)
    // The CLI's own --server names the upbot server, so this flag is --dns-server.
    #[arg(id = "dns_server", long = "dns-server", value_name = "HOST:PORT")]
    pub server: Option<String>,
}

/// Fields only http monitors take.
const HTTP_FIELDS: &[&str] = &["url", "keyword", "method", "degraded", "cert_days", "tls_verify"];
/// Fields only dns monitors take.
const DNS_FIELDS: &[&str] = &["record_type", "server"];

impl AddRequest {
    /// Every field name (the WS `data` keys, the chat keys).
    pub fn fields() -> &'static [&'static str] {
        args::field_names::<Self>()
    }

    /// The `key=value` options a chat may give (every field but the target and the
    /// operator-only ones).
    pub fn chat_keys() -> Vec<&'static str> {
        Self::fields()
            .iter()
            .copied()
            .filter(|f| *f != "target" && !OPERATOR_ONLY.contains(f))
            .collect()
    }

    /// Parses the chat form: `<target> [key=value …]`, `tcp <host> [port] [key=value …]`
    /// or `push <name> [key=value …]` into the same type the WS API reads. A value may
    /// be quoted to hold spaces (`name="db primary"`).
    pub fn parse_chat(text: &str) -> Result<Self, CoreError> {
        let usage = || invalid(msg!("err-usage", cmd = "/add", args = SPEC.args));
        let known = Self::chat_keys();
        let mut map = Map::new();
        let put = |map: &mut Map<String, Value>, k: &str, v: String| {
            if map.insert(k.to_string(), Value::String(v)).is_some() {
                return Err(invalid(msg!("err-given-twice", field = k)));
            }
            Ok(())
        };
        let mut positional = Vec::new();
        for w in split_words(text)? {
            match w.split_once('=') {
                Some((k, v)) if !k.is_empty() && !k.contains(':') && !k.contains('/') => {
                    let k = k.to_ascii_lowercase();
                    // `type=` is the record type of a dns monitor, else the kind.
                    let k = match k.as_str() {
                        "type" if RecordType::parse(v).is_some() => "record_type".to_string(),
                        "type" => "kind".to_string(),
                        _ => k,
                    };
                    if !known.contains(&k.as_str()) {
                        return Err(invalid(msg!(
                            "err-unknown-option",
                            option = format!("{k:?}"),
                            known = known.join(", ")
                        )));
                    }
                    put(&mut map, &k, v.to_string())?;
                }
                _ => positional.push(w),
            }
        }
        let mut pos = positional.into_iter();
        let first = pos.next().ok_or_else(usage)?;
        match Kind::parse(&first) {
            Some(k) if pos.len() > 0 || k == Kind::Push => {
                put(&mut map, "kind", k.as_str().to_string())?;
                let target = pos
                    .next()
                    .ok_or_else(|| invalid(msg!("err-usage-kind", kind = k.as_str())))?;
                put(&mut map, "target", target)?;
                if let Some(p) = pos.next() {
                    match k {
                        Kind::Tcp => put(&mut map, "port", p)?,
                        // `/add dns example.com MX`
                        Kind::Dns => put(&mut map, "record_type", p)?,
                        _ => return Err(invalid(msg!("err-unexpected-argument", word = format!("{p:?}")))),
                    }
                }
            }
            _ => put(&mut map, "target", first)?,
        }
        if let Some(extra) = pos.next() {
            return Err(invalid(msg!("err-unexpected-argument-kv", word = format!("{extra:?}"))));
        }
        args::from_json(Value::Object(map)).map_err(invalid)
    }

    /// The one validation: checks every field against its limits and builds the
    /// monitor with its defaults (no id, owner or push token yet).
    pub fn validate(&self) -> Result<Monitor, CoreError> {
        let text = self.target_text()?;
        if let Some(c) = self.chat_id {
            validate_chat_id(c)?;
        }
        if self.thread_id.is_some_and(|t| t <= 0) {
            return Err(invalid("thread_id must be a forum topic id (a positive number)"));
        }
        if self.port == Some(0) {
            return Err(invalid(msg!("err-port-zero")));
        }
        if let Some(r) = self.remind {
            crate::core::oncall::check_remind(r)?;
        }
        if self.kind == Some(Kind::Push) {
            return self.validate_push();
        }
        if self.heartbeat.is_some() || self.grace.is_some() || self.secret.is_some() || self.sign_heartbeats.is_some() {
            return Err(invalid(msg!("err-push-only")));
        }
        let target = Target::parse(&text, self.kind, self.port).map_err(|e| invalid(target_error(&e)))?;
        if target.kind == Kind::Http && self.port.is_some() {
            return Err(invalid(msg!("err-http-port")));
        }
        self.check_kind_fields(target.kind)?;
        let interval = self.interval.unwrap_or(Monitor::DEFAULT_INTERVAL);
        if !(MIN_INTERVAL..=MAX_INTERVAL).contains(&interval) {
            return Err(invalid(msg!("err-interval-range", got = interval)));
        }
        let timeout = match self.timeout {
            Some(t) if t > interval => return Err(invalid(msg!("err-timeout-longer"))),
            Some(t) if t < MIN_TIMEOUT => return Err(invalid(msg!("err-timeout-min"))),
            Some(t) => t,
            None => Monitor::DEFAULT_TIMEOUT.min(interval),
        };
        let count = |name: &'static str, v: Option<u32>, default: u32| match v {
            None => Ok(default),
            Some(n) if (1..=MAX_COUNT).contains(&n) => Ok(n),
            Some(n) => Err(invalid(msg!("err-count-range", field = name, max = MAX_COUNT, got = n))),
        };
        let name = match &self.name {
            Some(n) => validate_name(n)?,
            None => target.display(),
        };
        let (sites, quorum) = self.validate_sites()?;
        let ping = self.ping_settings(target.kind)?;
        let http = match &target.url {
            Some(url) => Some(Box::new(self.http_settings(url, timeout)?)),
            None => None,
        };
        let dns = match target.kind {
            Kind::Dns => Some(Box::new(self.dns_settings()?)),
            _ => None,
        };
        Ok(Monitor {
            fails: count("fails", self.fails, Monitor::DEFAULT_FAILS)?,
            recovers: count("recovers", self.recovers, Monitor::DEFAULT_RECOVERS)?,
            ping,
            http,
            dns,
            sites,
            quorum,
            ..Monitor::draft(target.kind, target.host, target.port, interval, timeout, name, None)
        })
    }

    /// `sites` (distinct names, sorted) and `quorum` (1 to the number of sites named;
    /// any number up to 64 when every site probes). Whether the sites exist and this
    /// node runs in a cluster is the service's check.
    fn validate_sites(&self) -> Result<(Vec<String>, Option<u32>), CoreError> {
        let mut sites = self.sites.clone().unwrap_or_default();
        sites.sort();
        sites.dedup();
        if self.sites.is_some() && sites.is_empty() {
            return Err(invalid(msg!("err-sites-empty")));
        }
        if sites.len() > MAX_SITES {
            return Err(invalid(msg!("err-sites-many", max = MAX_SITES)));
        }
        let most = if sites.is_empty() { MAX_SITES } else { sites.len() };
        match self.quorum {
            Some(q) if q == 0 || q as usize > most => Err(invalid(msg!("err-quorum-range", most = most, quorum = q))),
            q => Ok((sites, q)),
        }
    }

    /// `retries`, `loss` and `window`: ping monitors only, each within its limits.
    fn ping_settings(&self, kind: Kind) -> Result<Option<PingSettings>, CoreError> {
        if kind != Kind::Ping {
            if self.retries.is_some() || self.loss.is_some() || self.window.is_some() {
                return Err(invalid(msg!("err-ping-only")));
            }
            return Ok(None);
        }
        let d = PingSettings::default();
        let retries = self.retries.unwrap_or(d.retries);
        if retries > MAX_RETRIES {
            return Err(invalid(msg!(
                "err-retries-range",
                max = u32::from(MAX_RETRIES),
                got = u32::from(retries)
            )));
        }
        let loss = self.loss.unwrap_or(d.loss);
        if let LossLimit::Pct(p) = loss {
            if !(1..=100).contains(&p) {
                return Err(invalid(msg!("err-loss-range", got = u32::from(p))));
            }
        }
        let window = self.window.unwrap_or(d.window);
        if !(MIN_WINDOW..=MAX_WINDOW).contains(&window) {
            return Err(invalid(msg!(
                "err-window-range",
                min = MIN_WINDOW,
                max = MAX_WINDOW,
                got = window
            )));
        }
        Ok(Some(PingSettings { retries, loss, window }))
    }

    /// The target as given in `target` or (http) `url`.
    fn target_text(&self) -> Result<String, CoreError> {
        let target = self.target.trim();
        match self.url.as_deref().map(str::trim) {
            Some(u) if !target.is_empty() && u != target => Err(invalid(msg!("err-url-twice"))),
            Some(u) if !u.is_empty() => {
                if !matches!(self.kind, None | Some(Kind::Http)) {
                    return Err(invalid(msg!(
                        "err-field-for-kind",
                        field = "url",
                        kind = Kind::Http.as_str()
                    )));
                }
                Ok(u.to_string())
            }
            _ if target.is_empty() => Err(invalid(msg!("err-target-required"))),
            _ => Ok(target.to_string()),
        }
    }

    /// Refuses settings that the monitor's kind does not take, naming them.
    fn check_kind_fields(&self, kind: Kind) -> Result<(), CoreError> {
        let set = |f: &str| match f {
            "url" => self.url.is_some(),
            "keyword" => self.keyword.is_some(),
            "method" => self.method.is_some(),
            "degraded" => self.degraded.is_some(),
            "cert_days" => self.cert_days.is_some(),
            "tls_verify" => self.tls_verify.is_some(),
            "record_type" => self.record_type.is_some(),
            "server" => self.server.is_some(),
            _ => false,
        };
        let misplaced = |fields: &[&'static str], owner: Kind| {
            (kind != owner)
                .then(|| fields.iter().find(|f| set(f)))
                .flatten()
                .map(|f| invalid(msg!("err-field-for-kind", field = *f, kind = owner.as_str())))
        };
        if let Some(e) = misplaced(HTTP_FIELDS, Kind::Http).or_else(|| misplaced(DNS_FIELDS, Kind::Dns)) {
            return Err(e);
        }
        if self.expect.is_some() && !matches!(kind, Kind::Http | Kind::Dns) {
            return Err(invalid(msg!("err-expect-kind")));
        }
        Ok(())
    }

    /// An http monitor's settings, each checked.
    fn http_settings(&self, url: &str, timeout: Duration) -> Result<HttpSettings, CoreError> {
        let method = match &self.method {
            Some(m) => HttpMethod::parse(m).map_err(invalid)?,
            None => HttpMethod::Get,
        };
        let expect = match &self.expect {
            Some(e) => StatusList::parse(e).map_err(invalid)?,
            None => StatusList::default(),
        };
        let keyword = self
            .keyword
            .as_deref()
            .map(Keyword::parse)
            .transpose()
            .map_err(invalid)?;
        if keyword.is_some() && method == HttpMethod::Head {
            return Err(invalid(msg!("err-keyword-head")));
        }
        if let Some(d) = self.degraded {
            if d.is_zero() || d >= timeout {
                return Err(invalid(msg!("err-degraded-range", timeout = timeout)));
            }
        }
        let cert_days = self.cert_days.unwrap_or(kinds::DEFAULT_CERT_DAYS);
        if cert_days > kinds::MAX_CERT_DAYS {
            return Err(invalid(msg!(
                "err-cert-days-range",
                max = kinds::MAX_CERT_DAYS,
                got = cert_days
            )));
        }
        Ok(HttpSettings {
            url: url.to_string(),
            method,
            expect,
            keyword,
            degraded: self.degraded,
            cert_days,
            tls_verify: self.tls_verify.unwrap_or(true),
        })
    }

    /// A dns monitor's settings, each checked.
    fn dns_settings(&self) -> Result<DnsSettings, CoreError> {
        let record_type = match &self.record_type {
            Some(t) => RecordType::parse(t).ok_or_else(|| invalid(msg!("err-record-type", got = format!("{t:?}"))))?,
            None => RecordType::A,
        };
        let expect = match &self.expect {
            Some(e) => DnsSettings::parse_expect(record_type, e).map_err(invalid)?,
            None => Vec::new(),
        };
        let server = self
            .server
            .as_deref()
            .map(crate::domain::target::parse_server)
            .transpose()
            .map_err(|e| invalid(msg!("err-field", field = "server", error = target_error(&e))))?;
        Ok(DnsSettings {
            record_type,
            expect,
            server,
        })
    }

    /// Push monitors: `target` is their name; `heartbeat` (alias `interval`) and
    /// `grace` set the deadline; probe settings do not apply.
    fn validate_push(&self) -> Result<Monitor, CoreError> {
        if self.port.is_some()
            || self.timeout.is_some()
            || self.fails.is_some()
            || self.recovers.is_some()
            || self.retries.is_some()
            || self.loss.is_some()
            || self.window.is_some()
        {
            return Err(invalid(msg!("err-push-fields")));
        }
        if self.sites.is_some() || self.quorum.is_some() {
            return Err(invalid(msg!("err-push-sites")));
        }
        self.check_kind_fields(Kind::Push)?;
        let host = validate_name(&self.target).map_err(|e| match e.message() {
            Some(m) => invalid(msg!("err-push-name", error = m.clone())),
            None => e,
        })?;
        let name = match &self.name {
            Some(n) => validate_name(n)?,
            None => host.clone(),
        };
        let heartbeat = self.heartbeat.or(self.interval);
        if let Some(h) = heartbeat {
            if !(MIN_HEARTBEAT..=MAX_HEARTBEAT).contains(&h) {
                return Err(invalid(msg!("err-heartbeat-range", got = h)));
            }
        }
        let grace = self.grace.unwrap_or(Monitor::DEFAULT_GRACE);
        if !(Duration::from_secs(1)..=MAX_HEARTBEAT).contains(&grace) {
            return Err(invalid(msg!("err-grace-range", got = grace)));
        }
        let secret = self.secret.as_ref().map(|s| validate_secret(s.expose())).transpose()?;
        let sign_heartbeats = self.sign_heartbeats.unwrap_or(false);
        if sign_heartbeats && secret.is_none() {
            return Err(invalid(msg!("err-sign-needs-secret")));
        }
        let settings = PushSettings {
            token: String::new(),
            heartbeat,
            grace,
            secret,
            sign_heartbeats,
        };
        let interval = heartbeat.unwrap_or(Duration::ZERO);
        Ok(Monitor {
            fails: 1,
            recovers: 1,
            ..Monitor::draft(Kind::Push, host, None, interval, Duration::ZERO, name, Some(settings))
        })
    }
}

/// Runs `add`: validate, own, check the chat's limits, reserve an id, write (flushed),
/// then start it.
pub(crate) async fn run(svc: &Service, caller: &Caller, req: AddRequest) -> Result<MonitorView, CoreError> {
    svc.check_modify(caller)?;
    let mut m = req.validate()?;
    svc.check_sites(&m)?;
    match caller {
        Caller::Chat { chat_id, thread_id, .. } => {
            if let Some(f) = OPERATOR_ONLY.iter().find(|f| match **f {
                "chat_id" => req.chat_id.is_some(),
                "thread_id" => req.thread_id.is_some(),
                _ => req.bot.is_some(),
            }) {
                return Err(invalid(msg!("err-set-by-chat", field = *f)));
            }
            m.chat_id = Some(*chat_id);
            m.thread_id = *thread_id;
            m.chat_added = true;
        }
        Caller::Operator => {
            m.chat_id = req.chat_id;
            m.thread_id = req.thread_id;
        }
    }
    if m.chat_added {
        // What the monitor reaches: its host, or a dns monitor's server.
        if let Some(host) = m.reached_host() {
            svc.check_chat_target(&host).await?;
        }
    }
    let parent = match req.parent {
        None => None,
        Some(pid) => Some(check_parent(svc, caller, &m, pid)?),
    };
    // Last of the checks: it may ask the Bot API.
    m.bot = svc
        .resolve_bot(caller, m.chat_id, req.bot.as_ref().map(|b| b.expose().to_string()))
        .await?;
    if let Some(p) = m.push.as_mut() {
        p.token = svc.fresh_token();
    }
    let m = svc.reserve(caller, m).await?;
    let health = Health::new(now_ms());
    // The on-call settings first: the monitor record is the commit point.
    let oncall = OnCall {
        parent,
        remind: req.remind,
        ..OnCall::default()
    };
    if let Err(e) = svc.put_new_oncall(m.id, oncall) {
        svc.abandon(&m).await;
        return Err(e);
    }
    if let Err(e) = svc.store().put_monitor(&m, &health).await {
        svc.forget_oncall(m.id);
        svc.abandon(&m).await;
        return Err(e.into());
    }
    svc.commit(&m, &health).await;
    tracing::info!(monitor = %m.id, target = %m.target(), chat = ?m.chat_id, "monitor added");
    let mut view = svc.view(&m, Some((health, ProbeStats::default())));
    view.warnings = svc.add_warnings(&m);
    Ok(view)
}

/// The parent `pid` of the monitor `m` being added: it must exist where the caller can
/// see it, alert the same chat, and its own chain must not loop.
fn check_parent(svc: &Service, caller: &Caller, m: &Monitor, pid: u64) -> Result<MonitorId, CoreError> {
    let p = svc
        .resolve(caller, &Selector::Id(MonitorId(pid)))
        .map_err(|_| invalid(msg!("err-parent-unknown", id = pid.to_string())))?;
    if p.chat_id != m.chat_id {
        return Err(invalid(msg!("err-parent-other-chat", id = pid.to_string())));
    }
    // The new monitor has no id yet and no monitor names it: only the chain above the
    // parent can loop.
    crate::domain::oncall::check_parent(MonitorId(0), p.id, |id| svc.oncall(id).parent).map_err(invalid)?;
    Ok(p.id)
}

/// A target that does not parse, as a message of the catalogues.
fn target_error(e: &crate::domain::target::TargetError) -> Msg {
    use crate::domain::target::TargetError as E;
    match e {
        E::Empty => msg!("err-target-empty"),
        E::BadHost(h) => msg!("err-target-host", host = format!("{h:?}")),
        E::BadPort(p) => msg!("err-target-port", port = format!("{p:?}")),
        E::PortOnPing => msg!("err-target-ping-port"),
        E::BadScheme(s) => msg!("err-target-scheme", scheme = format!("{s:?}")),
        E::NotUnicast(h) => msg!("err-target-not-unicast", host = h.as_str()),
        E::Invalid(why) => why.clone(),
    }
}

/// A monitor (or push) name: trimmed, non-empty, short, printable.
fn validate_name(n: &str) -> Result<String, CoreError> {
    let n = n.trim();
    if n.is_empty() {
        return Err(invalid(msg!("err-name-empty")));
    }
    if n.chars().count() > MAX_NAME {
        return Err(invalid(msg!("err-name-long", max = MAX_NAME)));
    }
    if n.chars().any(char::is_control) {
        return Err(invalid(msg!("err-name-control")));
    }
    Ok(n.to_string())
}

/// A push signing secret: printable, no spaces, at most [`MAX_SECRET`] characters;
/// a `whsec_` secret must carry a base64 key (Standard Webhooks).
fn validate_secret(s: &str) -> Result<String, CoreError> {
    use base64::Engine as _;
    if s.is_empty() || s.len() > MAX_SECRET || s.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(invalid(msg!("err-secret-form", max = MAX_SECRET)));
    }
    if let Some(b64) = s.strip_prefix("whsec_") {
        match base64::engine::general_purpose::STANDARD.decode(b64) {
            Ok(k) if !k.is_empty() => {}
            _ => {
                return Err(invalid(msg!("err-secret-whsec")));
            }
        }
    }
    Ok(s.to_string())
}

/// Splits on whitespace, honouring "double" or 'single' quotes (for `name="db primary"`).
pub(crate) fn split_words(s: &str) -> Result<Vec<String>, CoreError> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut in_word = false;
    for c in s.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => cur.push(c),
            None if c == '"' || c == '\'' => {
                quote = Some(c);
                in_word = true;
            }
            None if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            None => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err(invalid(msg!("err-unbalanced-quote")));
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ws(data: Value) -> Result<AddRequest, CoreError> {
        match super::super::Command::from_json("add", Some(data)).unwrap()? {
            super::super::Command::Add(r) => Ok(*r),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ws_fields_in_every_accepted_form() {
        let r = ws(json!({
            "target": "db", "kind": "TCP", "port": "5432", "interval": "30s", "fails": 5,
            "recovers": "1", "timeout": 1.5, "name": "main", "chat_id": "-100", "bot": "b",
            "heartbeat": 60, "grace": "1m", "secret": "s", "thread_id": 3, "sign_heartbeats": "yes"
        }))
        .unwrap();
        assert_eq!(r.target, "db");
        assert_eq!(r.kind, Some(Kind::Tcp));
        assert_eq!(r.port, Some(5432));
        assert_eq!(r.interval, Some(Duration::from_secs(30)));
        assert_eq!((r.fails, r.recovers), (Some(5), Some(1)));
        assert_eq!(r.timeout, Some(Duration::from_millis(1500)));
        assert_eq!(r.name.as_deref(), Some("main"));
        assert_eq!(r.chat_id, Some(-100));
        assert_eq!(r.thread_id, Some(3));
        assert_eq!(r.bot.as_ref().map(Secret::expose), Some("b"));
        assert_eq!(r.heartbeat, Some(Duration::from_secs(60)));
        assert_eq!(r.grace, Some(Duration::from_secs(60)));
        assert_eq!(r.secret.as_ref().map(Secret::expose), Some("s"));
        assert_eq!(r.sign_heartbeats, Some(true));
        // null is the same as absent; durations as numbers and numeric strings
        let r = ws(json!({"target": "x", "port": null, "name": null, "interval": "0.5", "timeout": 2})).unwrap();
        assert_eq!((r.port, r.name), (None, None));
        assert_eq!(r.interval, Some(Duration::from_millis(500)));
        assert_eq!(r.timeout, Some(Duration::from_secs(2)));
        assert_eq!(
            ws(json!({"target": "x", "kind": "icmp"})).unwrap().kind,
            Some(Kind::Ping)
        );
    }

    #[test]
    fn ws_errors_name_the_field() {
        for (data, needle) in [
            (json!({"target": 5}), "target: "),
            (json!({"target": "x", "colour": "red"}), "unknown field `colour`"),
            (
                json!({"target": "x", "interval": "forever"}),
                "interval: invalid duration",
            ),
            (
                json!({"target": "x", "interval": -1}),
                "interval: must be a number of seconds",
            ),
            (json!({"target": "x", "interval": true}), "interval: invalid type"),
            (json!({"target": "x", "port": 70000}), "port: 70000 is out of range"),
            (json!({"target": "x", "port": "http"}), "port: invalid value"),
            (json!({"target": "x", "fails": -1}), "fails: -1 is out of range"),
            (json!({"target": "x", "fails": 1.5}), "fails: invalid type"),
            (json!({"target": "x", "chat_id": "abc"}), "chat_id: invalid value"),
            (json!({"target": "x", "kind": "smtp"}), "kind: unknown kind"),
            (json!({"target": "x", "expect": {"a": 1}}), "expect: "),
            (json!({"target": "x", "sign_heartbeats": "maybe"}), "sign_heartbeats: "),
            (json!("x"), "data must be a JSON object"),
        ] {
            let e = ws(data.clone()).unwrap_err();
            assert_eq!(e.code(), "VALIDATION_ERROR", "{data}");
            assert!(e.to_string().contains(needle), "{data}: {e}");
        }
    }

    #[test]
    fn validation_limits() {
        let v = |data: Value| ws(data).unwrap().validate();
        for (data, needle) in [
            (json!({}), "target is required"),
            (json!({"target": "x", "port": 0}), "port must be"),
            (json!({"target": "x", "thread_id": -1}), "thread_id must be"),
            (json!({"target": "x", "interval": "0.5"}), "interval must be between"),
            (json!({"target": "x", "timeout": "10s"}), "timeout must not be longer"),
            (json!({"target": "x", "fails": 0}), "fails must be between"),
            (json!({"target": "x", "heartbeat": 5}), "for push monitors"),
            (json!({"target": "n", "kind": "push", "fails": 2}), "do not apply"),
            (
                json!({"target": "n", "kind": "push", "sign_heartbeats": true}),
                "needs a secret",
            ),
            (json!({"target": "n", "kind": "push", "secret": "whsec_!!"}), "base64"),
            (json!({"target": "0.0.0.0"}), "not a host address"),
            (json!({"target": "x", "chat_id": 0}), "not a valid Telegram chat id"),
        ] {
            let e = v(data.clone()).unwrap_err();
            assert!(e.to_string().contains(needle), "{data}: {e}");
        }
        let m = v(json!({"target": "db:5432", "interval": 30})).unwrap();
        assert_eq!((m.kind, m.port, m.fails, m.recovers), (Kind::Tcp, Some(5432), 3, 2));
        assert_eq!(
            (m.interval, m.timeout),
            (Duration::from_secs(30), Duration::from_secs(2))
        );
        let m = v(json!({"target": "n", "kind": "push", "heartbeat": "5m", "secret": "s", "sign_heartbeats": true}))
            .unwrap();
        let p = m.push.unwrap();
        assert_eq!(
            (p.heartbeat, p.grace, p.sign_heartbeats),
            (Some(Duration::from_secs(300)), Duration::from_secs(60), true)
        );
    }

    #[test]
    fn ping_settings_forms_defaults_and_limits() {
        let m = ws(json!({"target": "10.0.0.1"})).unwrap().validate().unwrap();
        assert_eq!(m.ping, Some(PingSettings::default()));
        assert_eq!(
            (m.ping.unwrap().retries, m.ping.unwrap().loss, m.ping.unwrap().window),
            (2, LossLimit::Pct(20), 20)
        );
        for (data, want) in [
            (
                json!({"retries": 0, "loss": 35, "window": 100}),
                (0, LossLimit::Pct(35), 100),
            ),
            (
                json!({"retries": "4", "loss": "35%", "window": "5"}),
                (4, LossLimit::Pct(35), 5),
            ),
            (json!({"loss": "off"}), (2, LossLimit::Off, 20)),
            (json!({"loss": "OFF", "retries": null}), (2, LossLimit::Off, 20)),
        ] {
            let mut data = data;
            data["target"] = json!("10.0.0.1");
            let p = ws(data.clone()).unwrap().validate().unwrap().ping.unwrap();
            assert_eq!((p.retries, p.loss, p.window), want, "{data}");
        }
        for (data, needle) in [
            (
                json!({"target": "x", "retries": 11}),
                "retries must be between 0 and 10",
            ),
            (
                json!({"target": "x", "loss": 0}),
                "loss must be a percentage from 1 to 100",
            ),
            (
                json!({"target": "x", "loss": "101%"}),
                "loss must be a percentage from 1 to 100",
            ),
            (json!({"target": "x", "window": 1}), "window must be between 2 and 1000"),
            (
                json!({"target": "x", "window": 1001}),
                "window must be between 2 and 1000",
            ),
            (json!({"target": "x:80", "retries": 1}), "are for ping monitors"),
            (json!({"target": "n", "kind": "push", "window": 5}), "do not apply"),
        ] {
            let e = ws(data.clone()).unwrap().validate().unwrap_err();
            assert!(e.to_string().contains(needle), "{data}: {e}");
        }
        for (data, needle) in [
            (json!({"target": "x", "loss": "lots"}), "loss: "),
            (json!({"target": "x", "loss": true}), "loss: must be a percentage"),
            (json!({"target": "x", "retries": 300}), "retries: 300 is out of range"),
        ] {
            let e = ws(data.clone()).unwrap_err();
            assert!(e.to_string().contains(needle), "{data}: {e}");
        }
        let r = AddRequest::parse_chat("10.0.0.1 retries=3 loss=25% window=40").unwrap();
        assert_eq!(
            (r.retries, r.loss, r.window),
            (Some(3), Some(LossLimit::Pct(25)), Some(40))
        );
        assert_eq!(AddRequest::parse_chat("x loss=off").unwrap().loss, Some(LossLimit::Off));
        // Monitors stored before these settings run with the defaults.
        let mut old = m;
        old.ping = None;
        assert_eq!(old.ping_settings(), Some(PingSettings::default()));
        let tcp = ws(json!({"target": "x:80"})).unwrap().validate().unwrap();
        assert_eq!((tcp.ping, tcp.ping_settings()), (None, None));
    }

    #[test]
    fn chat_forms_read_into_the_same_type() {
        let r = AddRequest::parse_chat("10.0.0.1").unwrap();
        assert_eq!((r.target.as_str(), r.kind), ("10.0.0.1", None));
        let r = AddRequest::parse_chat("db:5432 interval=30s fails=5 recovers=1 name=\"main db\" timeout=1").unwrap();
        assert_eq!(r.target, "db:5432");
        assert_eq!(r.interval, Some(Duration::from_secs(30)));
        assert_eq!((r.fails, r.recovers), (Some(5), Some(1)));
        assert_eq!(r.name.as_deref(), Some("main db"));
        assert_eq!(r.timeout, Some(Duration::from_secs(1)));
        let r = AddRequest::parse_chat("tcp db 5432").unwrap();
        assert_eq!((r.kind, r.target.as_str(), r.port), (Some(Kind::Tcp), "db", Some(5432)));
        let r = AddRequest::parse_chat("push nightly heartbeat=5m grace=1m secret=s sign_heartbeats=true").unwrap();
        assert_eq!((r.kind, r.target.as_str()), (Some(Kind::Push), "nightly"));
        assert_eq!(r.grace, Some(Duration::from_secs(60)));
        assert_eq!(r.sign_heartbeats, Some(true));
        assert_eq!(AddRequest::parse_chat("x TYPE=tcp").unwrap().kind, Some(Kind::Tcp));
        // a host literally named "tcp" is still a ping target
        assert_eq!(AddRequest::parse_chat("tcp").unwrap().kind, None);
    }

    #[test]
    fn http_and_dns_fields_from_every_front() {
        let r = AddRequest::parse_chat(
            "https://example.com/health expect=200-299,301 keyword=\"all good\" method=head degraded=800ms timeout=5s cert_days=7 tls_verify=false",
        )
        .unwrap();
        assert_eq!(r.target, "https://example.com/health");
        assert_eq!(r.expect.as_deref(), Some("200-299,301"));
        assert_eq!(r.keyword.as_deref(), Some("all good"));
        assert_eq!(
            (r.method.as_deref(), r.degraded),
            (Some("head"), Some(Duration::from_millis(800)))
        );
        assert_eq!((r.cert_days, r.tls_verify), (Some(7), Some(false)));
        let r = AddRequest::parse_chat("dns example.com type=MX expect=mail.example.com server=127.0.0.53:53").unwrap();
        assert_eq!((r.kind, r.target.as_str()), (Some(Kind::Dns), "example.com"));
        assert_eq!(r.record_type.as_deref(), Some("MX"));
        assert_eq!(r.server.as_deref(), Some("127.0.0.53:53"));
        assert_eq!(
            AddRequest::parse_chat("dns example.com AAAA")
                .unwrap()
                .record_type
                .as_deref(),
            Some("AAAA")
        );
        // `type=` is still the kind when it names one.
        assert_eq!(AddRequest::parse_chat("x type=tcp").unwrap().record_type, None);
        // WS: expect as a number or a list; url instead of target.
        let r = ws(json!({"url": "http://h/", "expect": [200, "301-302"], "tls_verify": "no"})).unwrap();
        assert_eq!((r.expect.as_deref(), r.tls_verify), (Some("200,301-302"), Some(false)));
        let m = r.validate().unwrap();
        assert_eq!(
            (m.kind, m.host.as_str(), m.target()),
            (Kind::Http, "h", "http://h/".to_string())
        );
        let h = m.http.unwrap();
        assert_eq!(
            (h.expect.to_string(), h.tls_verify, h.cert_days),
            ("200,301-302".into(), false, 14)
        );
        assert_eq!(
            ws(json!({"target": "x", "expect": 204})).unwrap().expect.as_deref(),
            Some("204")
        );
        let m = ws(
            json!({"target": "Example.com", "kind": "dns", "record_type": "a", "expect": "192.0.2.1", "server": "::1"}),
        )
        .unwrap()
        .validate()
        .unwrap();
        let d = m.dns.as_deref().unwrap();
        assert_eq!(
            (d.record_type, d.expect.as_slice(), d.server.as_deref()),
            (RecordType::A, &["192.0.2.1".to_string()][..], Some("[::1]:53"))
        );
        assert_eq!(m.target(), "example.com A @[::1]:53");
        // A ping or tcp monitor carries neither.
        let m = ws(json!({"target": "db:5432"})).unwrap().validate().unwrap();
        assert!(m.http.is_none() && m.dns.is_none());
    }

    #[test]
    fn http_and_dns_validation() {
        let v = |data: Value| ws(data).unwrap().validate();
        for (data, needle) in [
            (
                json!({"target": "db:5432", "keyword": "x"}),
                "keyword is for http monitors",
            ),
            (
                json!({"target": "db", "server": "1.1.1.1"}),
                "server is for dns monitors",
            ),
            (
                json!({"target": "https://x/", "record_type": "A"}),
                "record_type is for dns monitors",
            ),
            (
                json!({"target": "db", "expect": "200"}),
                "expect is for http and dns monitors",
            ),
            (json!({"kind": "push", "url": "https://x/"}), "url is for http monitors"),
            (
                json!({"target": "n", "kind": "push", "keyword": "x"}),
                "keyword is for http monitors",
            ),
            (
                json!({"target": "https://a/", "url": "https://b/"}),
                "give the URL once",
            ),
            (json!({"target": "https://x/", "port": 80}), "port is part of its URL"),
            (
                json!({"target": "https://x/", "expect": "abc"}),
                "expect: \"abc\" is not a status code",
            ),
            (
                json!({"target": "https://x/", "method": "POST"}),
                "method must be GET or HEAD",
            ),
            (
                json!({"target": "https://x/", "method": "HEAD", "keyword": "ok"}),
                "use method=GET",
            ),
            (
                json!({"target": "https://x/", "degraded": "3s"}),
                "below the timeout (2s)",
            ),
            (
                json!({"target": "https://x/", "cert_days": 400}),
                "cert_days must be between 0 and 365",
            ),
            (
                json!({"target": "https://x/", "keyword": ""}),
                "keyword must not be empty",
            ),
            (json!({"target": "ftp://x/"}), "unsupported scheme"),
            (json!({"target": "x", "kind": "http"}), "an http target is a URL"),
            (
                json!({"target": "x", "kind": "dns", "record_type": "SRV"}),
                "record_type must be A, AAAA",
            ),
            (
                json!({"target": "x", "kind": "dns", "expect": "::1"}),
                "not an IPv4 address",
            ),
            (
                json!({"target": "x", "kind": "dns", "server": "x:0"}),
                "server: invalid port",
            ),
            (json!({"target": "192.0.2.1", "kind": "dns"}), "a name to look up"),
        ] {
            let e = v(data.clone()).unwrap_err();
            assert!(e.to_string().contains(needle), "{data}: {e}");
        }
    }

    #[test]
    fn chat_errors() {
        for (s, needle) in [
            ("", "usage: /add"),
            ("   ", "usage: /add"),
            ("x fails=abc", "fails: "),
            ("x colour=red", "unknown option \"colour\"; known: kind, port, interval"),
            ("x chat_id=5", "unknown option \"chat_id\""),
            ("x y", "unexpected argument"),
            ("x name=\"open", "unbalanced quote"),
            ("tcp db notaport", "port: "),
            ("x interval=forever", "interval: "),
            ("x fails=1 fails=2", "fails is given twice"),
            ("tcp db kind=ping", "kind is given twice"),
        ] {
            let e = AddRequest::parse_chat(s).unwrap_err();
            assert!(e.to_string().contains(needle), "{s:?}: {e}");
        }
    }

    #[test]
    fn one_field_list_for_every_front() {
        let fields = AddRequest::fields();
        assert_eq!(fields.first(), Some(&"target"));
        assert!(fields.contains(&"sign_heartbeats"));
        let chat = AddRequest::chat_keys();
        assert!(!chat.contains(&"bot") && !chat.contains(&"target") && chat.contains(&"grace"));
        // The CLI flags come from the same struct.
        let cmd = <AddRequest as clap::Args>::augment_args(clap::Command::new("add"));
        let longs: Vec<String> = cmd
            .get_arguments()
            .filter_map(|a| a.get_long().map(|l| l.replace('-', "_")))
            .collect();
        for f in fields.iter().filter(|f| **f != "target") {
            // `--server` is the CLI's upbot server; the dns server is `--dns-server`.
            let flag = if *f == "server" { "dns_server" } else { f };
            assert!(longs.iter().any(|l| l == flag), "no CLI flag for {f}");
        }
    }

    #[test]
    fn debug_shows_neither_the_secret_nor_the_bot_token() {
        const TOKEN: &str = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";
        const SECRET: &str = "whsec_c2VjcmV0LWtleS1ieXRlcw==";
        // Every front's way in: WS JSON, the CLI's flags, a struct built in code.
        let ws = ws(json!({
            "target": "nightly", "kind": "push", "secret": SECRET, "chat_id": -100, "bot": TOKEN
        }))
        .unwrap();
        let cli = <AddRequest as clap::FromArgMatches>::from_arg_matches(
            &<AddRequest as clap::Args>::augment_args(clap::Command::new("add"))
                .try_get_matches_from([
                    "add",
                    "nightly",
                    "--kind",
                    "push",
                    "--secret",
                    SECRET,
                    "--chat-id",
                    "-100",
                    "--bot",
                    TOKEN,
                ])
                .unwrap(),
        )
        .unwrap();
        assert_eq!(cli, ws, "the CLI reads the same request");
        let built = AddRequest {
            secret: Some(SECRET.into()),
            bot: Some(TOKEN.into()),
            ..AddRequest::default()
        };
        for r in [&ws, &cli, &built] {
            for text in [format!("{r:?}"), format!("{r:#?}")] {
                assert!(!text.contains(SECRET) && !text.contains("c2VjcmV0"), "{text}");
                assert!(!text.contains(TOKEN) && !text.contains("AAHdqTcv"), "{text}");
                assert!(text.contains("[REDACTED]"), "{text}");
            }
        }
        // The values themselves are intact, and go out as plain strings.
        assert_eq!(ws.secret.as_ref().map(Secret::expose), Some(SECRET));
        assert_eq!(ws.bot.as_ref().map(Secret::expose), Some(TOKEN));
        let out = serde_json::to_value(&ws).unwrap();
        assert_eq!(
            (out["secret"].as_str(), out["bot"].as_str()),
            (Some(SECRET), Some(TOKEN))
        );
    }
}
