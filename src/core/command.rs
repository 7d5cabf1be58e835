//! [`Command`]: the one request type every front parses into, plus the shared
//! parsers for the pieces users type (durations, `key=value` options, ids).

use std::time::Duration;

use super::error::{CoreError, invalid};
use crate::domain::{Kind, MonitorId};

/// Which monitor a command is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// By id (`/del 7`).
    Id(MonitorId),
    /// By host or target, when unique among the caller's monitors (`/del db`).
    Host(String),
}

impl Selector {
    /// Parses `7` (or `#7`) as an id, anything else as a host.
    pub fn parse(s: &str) -> Result<Self, CoreError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(invalid("a monitor id is required"));
        }
        let digits = s.strip_prefix('#').unwrap_or(s);
        match digits.parse::<u64>() {
            Ok(n) => Ok(Selector::Id(MonitorId(n))),
            Err(_) if digits.chars().all(|c| c.is_ascii_digit()) => Err(invalid(format!("invalid id {s:?}"))),
            Err(_) => Ok(Selector::Host(s.to_string())),
        }
    }
}

/// Everything `add` accepts; unset fields take the documented defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddRequest {
    /// `host`, `host:port`, `[v6]:port`, `tcp://host:port`; the name for push monitors.
    pub target: String,
    /// Explicit kind (otherwise inferred from `target`).
    pub kind: Option<Kind>,
    /// Explicit port (tcp).
    pub port: Option<u16>,
    /// Probe interval.
    pub interval: Option<Duration>,
    /// Consecutive failures before DOWN.
    pub fails: Option<u32>,
    /// Consecutive successes before UP.
    pub recovers: Option<u32>,
    /// Probe timeout.
    pub timeout: Option<Duration>,
    /// Display name.
    pub name: Option<String>,
    /// Owning chat.
    pub chat_id: Option<i64>,
    /// Forum topic.
    pub thread_id: Option<i32>,
    /// Bot (username or token).
    pub bot: Option<String>,
    /// Push: expected heartbeat period.
    pub heartbeat: Option<Duration>,
    /// Push: grace after the period.
    pub grace: Option<Duration>,
    /// Push: HMAC secret.
    pub secret: Option<String>,
}

/// A request to the command core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Create a monitor.
    Add(Box<AddRequest>),
    /// Remove a monitor.
    Del(Selector),
    /// List monitors (optionally of one chat; chat callers always see only theirs).
    List {
        /// Chat filter for operator callers.
        chat_id: Option<i64>,
    },
    /// Details of one monitor.
    Status(Selector),
    /// Stop probing without deleting.
    Pause(Selector),
    /// Start probing again.
    Resume(Selector),
    /// Give a push monitor a new token (its old webhook URLs stop working).
    Rotate(Selector),
}

/// Parses a duration as users write it: `30` (seconds), `30s`, `1500ms`, `5m`, `1h`, `1m30s`.
pub fn parse_duration(s: &str) -> Result<Duration, CoreError> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<f64>() {
        if (0.0..=1e9).contains(&secs) {
            return Ok(Duration::from_secs_f64(secs));
        }
        return Err(invalid(format!("invalid duration {s:?}")));
    }
    humantime::parse_duration(s).map_err(|_| invalid(format!("invalid duration {s:?}: use e.g. 30, 30s, 5m")))
}

fn parse_count(key: &str, v: &str) -> Result<u32, CoreError> {
    v.trim()
        .parse::<u32>()
        .map_err(|_| invalid(format!("{key} must be a whole number, got {v:?}")))
}

impl AddRequest {
    /// Parses the chat form: `<target> [key=value …]` or `tcp <host> [port] [key=value …]`.
    /// Keys: `interval`, `fails`, `recovers`, `name`, `timeout`, `port`, `kind`,
    /// `heartbeat`, `grace`, `secret`. A `name` value may be quoted to hold spaces.
    pub fn parse_chat(args: &str) -> Result<Self, CoreError> {
        let words = split_words(args)?;
        let mut req = AddRequest::default();
        let mut positional = Vec::new();
        for w in words {
            match w.split_once('=') {
                Some((k, v)) if !k.is_empty() && !k.contains(':') && !k.contains('/') => {
                    req.set_option(&k.to_ascii_lowercase(), v)?
                }
                _ => positional.push(w),
            }
        }
        let mut pos = positional.into_iter();
        let first = pos.next().ok_or_else(|| {
            invalid("usage: /add <host|host:port> [interval=30s fails=3 recovers=2 name=… timeout=2s]")
        })?;
        match Kind::parse(&first) {
            Some(k @ (Kind::Tcp | Kind::Push | Kind::Ping)) if pos.len() > 0 || k == Kind::Push => {
                req.kind = Some(k);
                req.target = pos
                    .next()
                    .ok_or_else(|| invalid(format!("usage: /add {} <host> …", k.as_str())))?;
                if let Some(p) = pos.next() {
                    if k != Kind::Tcp {
                        return Err(invalid(format!("unexpected argument {p:?}")));
                    }
                    req.port = Some(p.parse().map_err(|_| invalid(format!("invalid port {p:?}")))?);
                }
            }
            _ => req.target = first,
        }
        if let Some(extra) = pos.next() {
            return Err(invalid(format!("unexpected argument {extra:?}; options are key=value")));
        }
        Ok(req)
    }

    /// Sets one `key=value` option (chat form and CLI share this).
    pub fn set_option(&mut self, key: &str, v: &str) -> Result<(), CoreError> {
        match key {
            "interval" => self.interval = Some(parse_duration(v)?),
            "timeout" => self.timeout = Some(parse_duration(v)?),
            "heartbeat" => self.heartbeat = Some(parse_duration(v)?),
            "grace" => self.grace = Some(parse_duration(v)?),
            "fails" => self.fails = Some(parse_count(key, v)?),
            "recovers" => self.recovers = Some(parse_count(key, v)?),
            "name" => self.name = Some(v.to_string()),
            "secret" => self.secret = Some(v.to_string()),
            "port" => self.port = Some(v.parse().map_err(|_| invalid(format!("invalid port {v:?}")))?),
            "kind" | "type" => {
                self.kind =
                    Some(Kind::parse(v).ok_or_else(|| invalid(format!("unknown kind {v:?}: use ping, tcp or push")))?)
            }
            other => {
                return Err(invalid(format!(
                    "unknown option {other:?}; known: interval, fails, recovers, name, timeout, port, kind, heartbeat, grace, secret"
                )));
            }
        }
        Ok(())
    }
}

/// Splits on whitespace, honouring "double" or 'single' quotes (for `name="db primary"`).
fn split_words(s: &str) -> Result<Vec<String>, CoreError> {
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
        return Err(invalid("unbalanced quote"));
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        for (s, ms) in [
            ("30", 30_000),
            ("30s", 30_000),
            ("5m", 300_000),
            ("1500ms", 1500),
            ("1m30s", 90_000),
            ("0.5", 500),
        ] {
            assert_eq!(parse_duration(s).unwrap(), Duration::from_millis(ms), "{s}");
        }
        for s in ["", "abc", "-1", "5 parsecs", "NaN", "inf"] {
            assert!(parse_duration(s).is_err(), "{s}");
        }
    }

    #[test]
    fn chat_add_forms() {
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
        let r = AddRequest::parse_chat("push nightly heartbeat=5m grace=1m").unwrap();
        assert_eq!((r.kind, r.target.as_str()), (Some(Kind::Push), "nightly"));
        assert_eq!(r.grace, Some(Duration::from_secs(60)));
        // a host literally named "tcp" is still a ping target
        assert_eq!(AddRequest::parse_chat("tcp").unwrap().kind, None);
    }

    #[test]
    fn chat_add_errors() {
        for s in [
            "",
            "   ",
            "x fails=abc",
            "x colour=red",
            "x y",
            "x name=\"open",
            "tcp db notaport",
            "x interval=forever",
        ] {
            assert!(AddRequest::parse_chat(s).is_err(), "{s:?} should fail");
        }
    }

    #[test]
    fn selectors() {
        assert_eq!(Selector::parse("7").unwrap(), Selector::Id(MonitorId(7)));
        assert_eq!(Selector::parse("#7").unwrap(), Selector::Id(MonitorId(7)));
        assert_eq!(Selector::parse("db.lan").unwrap(), Selector::Host("db.lan".into()));
        assert!(Selector::parse("").is_err());
        assert!(Selector::parse("99999999999999999999999").is_err());
    }
}
