//! The monitor record: what to probe, how often, who owns it. Persisted as-is.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::kinds::{DnsSettings, HttpMethod, HttpSettings, RecordType};
use super::loss::PingSettings;
use super::target::format_target;

/// Short, typable, server-unique monitor id (`/del 7`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MonitorId(pub u64);

impl std::fmt::Display for MonitorId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// How a monitor learns about its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// ICMP echo (IPv4 or IPv6).
    Ping,
    /// TCP connect to host:port.
    Tcp,
    /// Passive: the monitored service calls our webhook / heartbeat URL.
    Push,
    /// HTTP(S) request: status, keyword, response time, certificate expiry.
    Http,
    /// DNS query for one record type, optionally to one server.
    Dns,
}

impl Kind {
    /// The wire name (`ping`, `tcp`, `push`).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Ping => "ping",
            Kind::Tcp => "tcp",
            Kind::Push => "push",
            Kind::Http => "http",
            Kind::Dns => "dns",
        }
    }

    /// Parses a wire name; `icmp` is accepted for `ping`.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ping" | "icmp" => Some(Kind::Ping),
            "tcp" => Some(Kind::Tcp),
            "push" => Some(Kind::Push),
            "http" | "https" => Some(Kind::Http),
            "dns" => Some(Kind::Dns),
            _ => None,
        }
    }
}

/// Settings only push monitors have. `Debug` shows neither the token (whoever has it
/// can keep the monitor alive) nor the secret, so no log line can leak them.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushSettings {
    /// 256-bit hex token that names the webhook URL.
    pub token: String,
    /// Expected time between heartbeats; `None` = status reports only, no deadline.
    #[serde(default, with = "opt_ms")]
    pub heartbeat: Option<Duration>,
    /// Extra wait after `heartbeat` before going DOWN.
    #[serde(with = "ms")]
    pub grace: Duration,
    /// Optional HMAC secret for signed webhook bodies.
    #[serde(default)]
    pub secret: Option<String>,
    /// Heartbeats must be signed too (opt-in; the seeds' senders are plain fetches).
    #[serde(default)]
    pub sign_heartbeats: bool,
}

impl std::fmt::Debug for PushSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Destructured so that a new field cannot be forgotten here.
        let Self {
            token: _,
            heartbeat,
            grace,
            secret,
            sign_heartbeats,
        } = self;
        f.debug_struct("PushSettings")
            .field("token", &"[REDACTED]")
            .field("heartbeat", heartbeat)
            .field("grace", grace)
            .field("secret", &secret.as_ref().map(|_| "[REDACTED]"))
            .field("sign_heartbeats", sign_heartbeats)
            .finish()
    }
}

/// One monitor as stored. Live state (health, statistics) is kept separately.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Monitor {
    /// Server-unique id.
    pub id: MonitorId,
    /// Probe kind.
    pub kind: Kind,
    /// Host name or IP (without brackets); for push monitors, the name.
    pub host: String,
    /// TCP port (tcp monitors only).
    #[serde(default)]
    pub port: Option<u16>,
    /// Time between probes.
    #[serde(with = "ms")]
    pub interval: Duration,
    /// Probe timeout, never longer than `interval`.
    #[serde(with = "ms")]
    pub timeout: Duration,
    /// Consecutive failed probes before DOWN.
    pub fails: u32,
    /// Consecutive good probes before UP.
    pub recovers: u32,
    /// Human name; defaults to the target.
    pub name: String,
    /// Owning Telegram chat, if any.
    #[serde(default)]
    pub chat_id: Option<i64>,
    /// Forum topic the monitor was added in (alerts go there).
    #[serde(default)]
    pub thread_id: Option<i32>,
    /// Username of the bot that owns the monitor (alerts are sent by it).
    #[serde(default)]
    pub bot: Option<String>,
    /// Probing stopped by the user.
    #[serde(default)]
    pub paused: bool,
    /// Creation time, ms since the epoch.
    #[serde(default)]
    pub created_ms: u64,
    /// Push-only settings.
    #[serde(default)]
    pub push: Option<Box<PushSettings>>,
    /// Http-only settings (boxed: other kinds pay one pointer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<Box<HttpSettings>>,
    /// Dns-only settings (boxed like `http`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns: Option<Box<DnsSettings>>,
    /// Ping-only settings (retries, loss window); a ping monitor stored before they
    /// existed has none and runs with the defaults ([`Monitor::ping_settings`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ping: Option<PingSettings>,
    /// Added from a Telegram chat: every probe checks the resolved address against
    /// `UPBOT_CHAT_TARGETS` (the operator's monitors are not limited).
    #[serde(default)]
    pub chat_added: bool,
    /// Cluster mode: the sites that probe it (empty: every site).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sites: Vec<String>,
    /// Cluster mode: how many of its sites must agree on DOWN or UP (`None`: a majority).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quorum: Option<u32>,
}

impl Monitor {
    /// Default probe interval (interface.md).
    pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
    /// Default probe timeout.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
    /// Default consecutive failures before DOWN.
    pub const DEFAULT_FAILS: u32 = 3;
    /// Default consecutive successes before UP.
    pub const DEFAULT_RECOVERS: u32 = 2;
    /// Default heartbeat grace for push monitors.
    pub const DEFAULT_GRACE: Duration = Duration::from_secs(60);

    /// A monitor with everything the request decides; id, owner and token come later.
    pub fn draft(
        kind: Kind,
        host: String,
        port: Option<u16>,
        interval: Duration,
        timeout: Duration,
        name: String,
        push: Option<PushSettings>,
    ) -> Self {
        Monitor {
            id: MonitorId(0),
            kind,
            host,
            port,
            interval,
            timeout,
            fails: Monitor::DEFAULT_FAILS,
            recovers: Monitor::DEFAULT_RECOVERS,
            name,
            chat_id: None,
            thread_id: None,
            bot: None,
            paused: false,
            created_ms: super::now_ms(),
            push: push.map(Box::new),
            chat_added: false,
            sites: Vec::new(),
            quorum: None,
            ping: None,
            http: None,
            dns: None,
        }
    }

    /// The ping settings in force: its own, or the defaults (`None` for other kinds).
    pub fn ping_settings(&self) -> Option<PingSettings> {
        (self.kind == Kind::Ping).then(|| self.ping.unwrap_or_default())
    }

    /// The target as users write it: `host`, `host:port`, `[v6]:port`; an http
    /// monitor's URL; `name TYPE` (and ` @server`) for a dns monitor.
    pub fn target(&self) -> String {
        if let Some(h) = &self.http {
            return h.url.clone();
        }
        if let Some(d) = &self.dns {
            return match &d.server {
                Some(s) => format!("{} {} @{s}", self.host, d.record_type),
                None => format!("{} {}", self.host, d.record_type),
            };
        }
        format_target(&self.host, self.port)
    }

    /// Whether `site` probes it (cluster mode: every site, or those in `sites`).
    pub fn probed_from(&self, site: &str) -> bool {
        self.sites.is_empty() || self.sites.iter().any(|s| s == site)
    }

    /// Whether `other` watches the same thing (dedupe within one chat): kind, host and
    /// port, and for http the URL and method, for dns the type and server.
    pub fn same_target(&self, other: &Monitor) -> bool {
        type Probe<'a> = (Option<(&'a str, HttpMethod)>, Option<(RecordType, Option<&'a str>)>);
        fn probe(m: &Monitor) -> Probe<'_> {
            (
                m.http.as_ref().map(|h| (h.url.as_str(), h.method)),
                m.dns.as_ref().map(|d| (d.record_type, d.server.as_deref())),
            )
        }
        self.kind == other.kind
            && self.host.eq_ignore_ascii_case(&other.host)
            && self.port == other.port
            && probe(self) == probe(other)
    }

    /// A hash of what [`Monitor::same_target`] compares (and the chat), so a dedupe
    /// check can skip the scan when no monitor may match: monitors that are the same
    /// target in the same chat always hash alike (the host is hashed in lower case, as
    /// it is compared ignoring ASCII case).
    pub fn target_hash(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.kind.hash(&mut h);
        for b in self.host.bytes() {
            h.write_u8(b.to_ascii_lowercase());
        }
        self.port.hash(&mut h);
        self.http
            .as_ref()
            .map(|x| (x.url.as_str(), x.method.as_str()))
            .hash(&mut h);
        self.dns
            .as_ref()
            .map(|d| (d.record_type, d.server.as_deref()))
            .hash(&mut h);
        self.chat_id.hash(&mut h);
        h.finish()
    }

    /// The host whose address a chat-added monitor may only reach where
    /// `UPBOT_CHAT_TARGETS` allows: the target itself, a dns monitor's `server` (its
    /// name is only looked up), nothing for push monitors.
    pub fn reached_host(&self) -> Option<String> {
        match self.kind {
            Kind::Push => None,
            Kind::Dns => self
                .dns
                .as_ref()
                .and_then(|d| d.server.as_deref())
                .map(|s| super::target::split_server(s).0),
            _ => Some(self.host.clone()),
        }
    }
}

/// Serde helper: `Duration` as integer milliseconds.
pub(crate) mod ms {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

/// Serde helper: `Option<Duration>` as integer milliseconds.
pub(crate) mod opt_ms {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub(crate) fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&(d.as_millis() as u64)),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<u64>::deserialize(d)?.map(Duration::from_millis))
    }
}

/// A sample monitor for unit tests (every 5 s, timeout 2 s, 3 fails, 2 recovers, named
/// `m<id>`, no chat); tests change what they look at with struct update syntax.
#[cfg(test)]
impl Monitor {
    pub(crate) fn sample(id: u64, kind: Kind, host: &str, port: Option<u16>) -> Self {
        let (interval, timeout) = (Self::DEFAULT_INTERVAL, Self::DEFAULT_TIMEOUT);
        Self {
            id: MonitorId(id),
            created_ms: 1,
            ..Self::draft(kind, host.into(), port, interval, timeout, format!("m{id}"), None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ping(host: &str, chat_id: Option<i64>) -> Monitor {
        Monitor {
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            name: host.into(),
            chat_id,
            created_ms: 0,
            ..Monitor::sample(1, Kind::Ping, host, None)
        }
    }

    #[test]
    fn the_same_target_in_the_same_chat_hashes_alike() {
        let a = ping("Host.Example", Some(5));
        let mut b = ping("host.example", Some(5));
        (b.id, b.name, b.interval) = (MonitorId(2), "other".into(), Duration::from_secs(9));
        assert!(a.same_target(&b));
        assert_eq!(a.target_hash(), b.target_hash(), "case and settings do not matter");
        let other_chat = ping("host.example", Some(6));
        let other_host = ping("host.example2", Some(5));
        let mut other_kind = ping("host.example", Some(5));
        (other_kind.kind, other_kind.port) = (Kind::Tcp, Some(443));
        for o in [other_chat, other_host, other_kind] {
            assert_ne!(a.target_hash(), o.target_hash(), "{o:?}");
        }
    }

    #[test]
    fn debug_never_shows_push_secrets() {
        let m = Monitor {
            id: MonitorId(3),
            kind: Kind::Push,
            host: "nightly".into(),
            port: None,
            interval: Duration::ZERO,
            timeout: Duration::ZERO,
            fails: 1,
            recovers: 1,
            name: "nightly".into(),
            chat_id: Some(42),
            thread_id: None,
            bot: None,
            paused: false,
            created_ms: 0,
            push: Some(Box::new(PushSettings {
                token: "tok3n-0123456789abcdef".into(),
                heartbeat: Some(Duration::from_secs(60)),
                grace: Duration::from_secs(60),
                secret: Some("whsec_c2VjcmV0LWtleS1ieXRlcw==".into()),
                sign_heartbeats: true,
            })),
            chat_added: true,
            sites: Vec::new(),
            quorum: None,
            ping: None,
            http: None,
            dns: None,
        };
        for text in [format!("{m:?}"), format!("{m:#?}")] {
            assert!(!text.contains("tok3n"), "{text}");
            assert!(!text.contains("c2VjcmV0"), "{text}");
            assert!(
                text.contains("[REDACTED]") && text.contains("sign_heartbeats: true"),
                "{text}"
            );
            assert!(text.contains("nightly"), "the rest is still shown: {text}");
        }
        // The wire and disk form is unchanged: the secret and token are still there.
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(json["push"]["token"], "tok3n-0123456789abcdef");
        assert_eq!(json["push"]["secret"], "whsec_c2VjcmV0LWtleS1ieXRlcw==");
        let back: Monitor = serde_json::from_value(json).unwrap();
        assert_eq!(back, m);
        // Records written before sign_heartbeats existed read as unsigned heartbeats.
        let old = r#"{"token":"t","heartbeat":null,"grace":60000,"secret":"s"}"#;
        let p: PushSettings = serde_json::from_str(old).unwrap();
        assert!(!p.sign_heartbeats);
    }
}
