//! The legacy dialect of the old Python tool, kept byte for byte: a JSON object with a
//! `cmd` key. `{"cmd":"monitor","host":"H","interval":N}` starts a TCP check of H
//! (port 443, or the port in `host:port`) every N seconds whose results stream back as
//! `{"host":"H","tcp":true|false}`. These monitors belong to the connection: never
//! stored, cancelled when it ends. The texts (Portuguese, without some accents) are the
//! old tool's, exactly.
//!
//! Checks go through the probe layer like every other probe: the service's DNS cache
//! (bounded lookups in flight, so a resolver that never answers cannot pile up
//! threads) and the TCP probe of [`crate::probe::tcp`].
//!
//! Our additions, limits that keep one client from turning the server into a scanner
//! or a thread sink: an `interval` that is not a number of seconds between 1 and 86400
//! (a number or a numeric string) gets `{"error":"intervalo invalido"}`; past
//! [`MAX_PER_CONNECTION`] monitors on one connection or [`MAX_TOTAL`] on the server,
//! `{"error":"limite de monitores atingido"}`.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::ws::Message;
use serde::Serialize;
use serde_json::{Map, Value};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// Default interval when `interval` is absent.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
/// Longest TCP check.
pub const MAX_CHECK_TIMEOUT: Duration = Duration::from_secs(2);
/// Port checked when the host names none.
pub const DEFAULT_PORT: u16 = 443;
/// Most legacy monitors one connection may run (protects the server from a runaway client).
pub const MAX_PER_CONNECTION: usize = 256;
/// Most legacy monitors all connections together may run.
pub const MAX_TOTAL: usize = 1024;
/// Shortest interval accepted, seconds.
pub const MIN_INTERVAL_SECS: f64 = 1.0;

/// Reply to `monitor` without a host.
pub const NO_HOST: &str = r#"{"error":"nenhum host fornecido"}"#;
/// Reply to any `cmd` other than `monitor`.
pub const INVALID_COMMAND: &str = r#"{"error":"comando invalido"}"#;
/// Reply to a bad `interval` (our addition).
pub const BAD_INTERVAL: &str = r#"{"error":"intervalo invalido"}"#;
/// Reply when a connection already runs [`MAX_PER_CONNECTION`] monitors, or the server
/// [`MAX_TOTAL`] (our addition).
pub const TOO_MANY: &str = r#"{"error":"limite de monitores atingido"}"#;

/// A parsed legacy message.
#[derive(Debug, Clone, PartialEq)]
pub enum LegacyCommand {
    /// Start monitoring `host` every `interval`.
    Monitor {
        /// As the client wrote it (echoed back verbatim).
        host: String,
        /// Time between checks.
        interval: Duration,
    },
    /// Answer with this fixed text.
    Reply(&'static str),
}

/// Parses a legacy message (an object known to have a `cmd` key).
pub fn parse(obj: &Map<String, Value>) -> LegacyCommand {
    if obj.get("cmd").and_then(Value::as_str) != Some("monitor") {
        return LegacyCommand::Reply(INVALID_COMMAND);
    }
    let host = match obj.get("host") {
        Some(Value::String(h)) if !h.trim().is_empty() => h.clone(),
        _ => return LegacyCommand::Reply(NO_HOST),
    };
    let secs = match obj.get("interval") {
        None | Some(Value::Null) => Some(DEFAULT_INTERVAL.as_secs_f64()),
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
        Some(_) => None,
    };
    match secs {
        Some(s) if (MIN_INTERVAL_SECS..=86_400.0).contains(&s) => LegacyCommand::Monitor {
            host,
            interval: Duration::from_secs_f64(s),
        },
        _ => LegacyCommand::Reply(BAD_INTERVAL),
    }
}

#[derive(Serialize)]
struct Info<'a> {
    info: &'a str,
}

#[derive(Serialize)]
struct ProbeResult<'a> {
    host: &'a str,
    tcp: bool,
}

fn compact(v: &impl Serialize) -> String {
    // Serialising a struct of strings and bools cannot fail; an empty object is a safe stand-in.
    serde_json::to_string(v).unwrap_or_else(|_| "{}".into())
}

/// `{"info":"Iniciando monitoramento de H"}`.
pub fn started(host: &str) -> String {
    compact(&Info {
        info: &format!("Iniciando monitoramento de {host}"),
    })
}

/// `{"info":"H ja está sendo monitorado"}`.
pub fn already(host: &str) -> String {
    compact(&Info {
        info: &format!("{host} ja está sendo monitorado"),
    })
}

/// `{"host":"H","tcp":true|false}`.
pub fn result(host: &str, ok: bool) -> String {
    compact(&ProbeResult { host, tcp: ok })
}

/// Where to connect for `host`: `host:port` and `[v6]:port` name a port, anything
/// else (a name, an IPv4 or bare IPv6 address) means port 443.
pub fn connect_target(host: &str) -> (String, u16) {
    let h = host.trim();
    if let Some(inner) = h.strip_prefix('[') {
        if let Some((addr, rest)) = inner.split_once(']') {
            let port = rest
                .strip_prefix(':')
                .and_then(|p| p.parse().ok())
                .unwrap_or(DEFAULT_PORT);
            return (addr.to_string(), port);
        }
    }
    match h.split_once(':') {
        Some((name, p)) if !p.contains(':') => match p.parse::<u16>() {
            Ok(port) => (name.to_string(), port),
            Err(_) => (h.to_string(), DEFAULT_PORT),
        },
        _ => (h.to_string(), DEFAULT_PORT),
    }
}

/// The legacy monitors of one connection; dropping it cancels them all.
pub struct LegacyMonitors {
    service: crate::core::Service,
    hosts: HashSet<String>,
    tasks: JoinSet<()>,
    /// Legacy monitors of every connection (shared with the others).
    total: Arc<AtomicUsize>,
}

impl Drop for LegacyMonitors {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl LegacyMonitors {
    /// No monitors yet; checks run through `service`'s probe layer, and count in `total`.
    pub fn new(service: crate::core::Service, total: Arc<AtomicUsize>) -> Self {
        Self {
            service,
            hosts: HashSet::new(),
            tasks: JoinSet::new(),
            total,
        }
    }

    /// Handles one legacy message; returns the immediate reply. Started monitors send
    /// their results on `out` (and stop when it closes).
    pub fn handle(&mut self, obj: &Map<String, Value>, out: &mpsc::Sender<Message>) -> String {
        let (host, interval) = match parse(obj) {
            LegacyCommand::Reply(r) => return r.to_string(),
            LegacyCommand::Monitor { host, interval } => (host, interval),
        };
        if self.hosts.contains(&host) {
            return already(&host);
        }
        if self.hosts.len() >= MAX_PER_CONNECTION {
            return TOO_MANY.to_string();
        }
        let reserved = self
            .total
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| (n < MAX_TOTAL).then_some(n + 1));
        if reserved.is_err() {
            return TOO_MANY.to_string();
        }
        self.hosts.insert(host.clone());
        let reply = started(&host);
        let out = out.clone();
        let service = self.service.clone();
        self.tasks.spawn(async move {
            let (addr, port) = connect_target(&host);
            let timeout = interval.min(MAX_CHECK_TIMEOUT);
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                // The first tick fires at once: the first result follows the info line.
                tick.tick().await;
                let ok = service.tcp_check(&addr, port, timeout).await.is_ok();
                tracing::debug!(host = %host, port, ok, "legacy tcp check");
                if out.send(Message::Text(result(&host, ok).into())).await.is_err() {
                    break;
                }
            }
        });
        reply
    }

    /// Number of running monitors.
    pub fn len(&self) -> usize {
        self.hosts.len()
    }

    /// Whether none runs.
    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty()
    }

    /// Cancels every monitor.
    pub fn shutdown(&mut self) {
        self.tasks.abort_all();
        self.total.fetch_sub(self.hosts.len(), Ordering::SeqCst);
        self.hosts.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!(),
        }
    }

    #[test]
    fn texts_are_byte_exact() {
        assert_eq!(started("H"), r#"{"info":"Iniciando monitoramento de H"}"#);
        assert_eq!(already("H"), r#"{"info":"H ja está sendo monitorado"}"#);
        assert_eq!(result("H", true), r#"{"host":"H","tcp":true}"#);
        assert_eq!(result("a\"b", false), r#"{"host":"a\"b","tcp":false}"#);
    }

    #[test]
    fn parse_forms() {
        let m = |v| parse(&obj(v));
        assert_eq!(
            m(json!({"cmd": "monitor", "host": "h"})),
            LegacyCommand::Monitor {
                host: "h".into(),
                interval: DEFAULT_INTERVAL
            }
        );
        assert_eq!(
            m(json!({"cmd": "monitor", "host": "h", "interval": "2"})),
            LegacyCommand::Monitor {
                host: "h".into(),
                interval: Duration::from_secs(2)
            }
        );
        assert_eq!(
            m(json!({"cmd": "monitor", "host": "h", "interval": 1.5})),
            LegacyCommand::Monitor {
                host: "h".into(),
                interval: Duration::from_millis(1500)
            }
        );
        assert_eq!(m(json!({"cmd": "monitor"})), LegacyCommand::Reply(NO_HOST));
        assert_eq!(m(json!({"cmd": "monitor", "host": ""})), LegacyCommand::Reply(NO_HOST));
        assert_eq!(m(json!({"cmd": "monitor", "host": 5})), LegacyCommand::Reply(NO_HOST));
        assert_eq!(m(json!({"cmd": "stop"})), LegacyCommand::Reply(INVALID_COMMAND));
        assert_eq!(m(json!({"cmd": 1})), LegacyCommand::Reply(INVALID_COMMAND));
        for bad in [
            json!(0),
            json!(0.5),
            json!("0.9"),
            json!(-1),
            json!("x"),
            json!(1e9),
            json!([5]),
        ] {
            assert_eq!(
                m(json!({"cmd": "monitor", "host": "h", "interval": bad})),
                LegacyCommand::Reply(BAD_INTERVAL),
                "{bad}"
            );
        }
    }

    #[test]
    fn connect_targets() {
        for (h, want) in [
            ("example.com", ("example.com", 443)),
            ("10.0.0.1:8080", ("10.0.0.1", 8080)),
            ("::1", ("::1", 443)),
            ("[::1]:22", ("::1", 22)),
            ("[::1]", ("::1", 443)),
            ("h:notaport", ("h:notaport", 443)),
        ] {
            let (a, p) = connect_target(h);
            assert_eq!((a.as_str(), p), want, "{h}");
        }
    }
}
