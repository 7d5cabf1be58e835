//! DNS record probes: one query for one record type (hickory-resolver), to the system
//! resolver configuration or to the monitor's `server`, checked against `expect`.
//!
//! Every probe asks the server: the resolvers keep no answers (cache size 0, TTLs
//! capped at 0) and skip `/etc/hosts`, so a monitor sees what DNS says now. Names are
//! asked as fully qualified (no search domains). NXDOMAIN, SERVFAIL, REFUSED, an empty
//! answer and a timeout each fail with their own reason (English texts that
//! [`crate::i18n::reason`] recognises to translate for a chat). One resolver per server,
//! shared by every monitor that asks it; a chat-added monitor's `server` must pass
//! `UPBOT_CHAT_TARGETS` at every probe (its name is resolved through the probes' cache
//! and the address checked is the address asked).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use hickory_resolver::config::{NameServerConfigGroup, ResolveHosts, ResolverConfig};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::ProtoErrorKind;
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{RData, RecordType as WireType};
use hickory_resolver::{Name, ResolveError, TokioResolver};
use tokio::time::Instant;

use super::dns::Resolver;
use super::{Answer, Checked, FailKind, ProbeFailure};
use crate::domain::kinds::{DnsSettings, RecordType, normalize_record};
use crate::domain::target::split_server;
use crate::domain::{TargetPolicy, duration};

/// How long hickory itself waits for one answer; the probe's own timeout (never longer
/// than the interval) ends the wait first.
const QUERY_TIMEOUT: Duration = Duration::from_secs(60);

/// The dns probe; cheap to clone.
#[derive(Clone)]
pub struct RecordProber {
    inner: Arc<Inner>,
}

struct Inner {
    /// Resolves a `server` given by name.
    names: Resolver,
    policy: Arc<OnceLock<TargetPolicy>>,
    /// The system resolver configuration (read once).
    system: OnceLock<Result<TokioResolver, String>>,
    /// One resolver per server address.
    servers: Mutex<HashMap<SocketAddr, TokioResolver>>,
}

impl std::fmt::Debug for RecordProber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordProber").finish_non_exhaustive()
    }
}

impl RecordProber {
    /// A prober resolving `server` names through `names`; chat-added monitors' servers
    /// obey `policy` (the default policy while it is unset).
    pub fn new(names: Resolver, policy: Arc<OnceLock<TargetPolicy>>) -> Self {
        Self {
            inner: Arc::new(Inner {
                names,
                policy,
                system: OnceLock::new(),
                servers: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Asks for `name`'s records as `s` says, within `timeout`. `chat`: the monitor was
    /// added from a chat.
    pub async fn probe(&self, name: &str, s: &DnsSettings, chat: bool, timeout: Duration) -> Checked {
        let started = Instant::now();
        let (resolver, server) = self.resolver(s, chat).await?;
        let left = timeout.saturating_sub(started.elapsed());
        match tokio::time::timeout(left, query(&resolver, name, s, &server)).await {
            Ok(r) => r.map(|()| Answer::from(started.elapsed())),
            Err(_) => Err(timed_out(timeout, &server)),
        }
    }

    /// The resolver to ask and how to name it in reasons.
    async fn resolver(&self, s: &DnsSettings, chat: bool) -> Result<(TokioResolver, String), ProbeFailure> {
        let Some(server) = &s.server else {
            let system = self.inner.system.get_or_init(|| build(None));
            return system
                .clone()
                .map(|r| (r, "the system resolver".to_string()))
                .map_err(ProbeFailure::other);
        };
        let (host, port) = split_server(server);
        let addrs = self.inner.names.resolve(&host).await?;
        let policy = chat.then(|| self.inner.policy.get().unwrap_or_else(|| TargetPolicy::default_ref()));
        let mut allowed = addrs.iter().copied().filter(|ip| policy.is_none_or(|p| p.allows(*ip)));
        let Some(ip) = allowed.next() else {
            let why = addrs.iter().find_map(|ip| policy.and_then(|p| p.refusal(*ip)));
            return Err(ProbeFailure::other(
                why.unwrap_or_else(|| format!("{host}: no address")),
            ));
        };
        let addr = SocketAddr::new(ip, port);
        let mut servers = self.inner.servers.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(r) = servers.get(&addr) {
            return Ok((r.clone(), server.clone()));
        }
        let r = build(Some(addr)).map_err(ProbeFailure::other)?;
        servers.insert(addr, r.clone());
        Ok((r, server.clone()))
    }
}

/// A resolver that asks `server` (or the system configuration) every time.
fn build(server: Option<SocketAddr>) -> Result<TokioResolver, String> {
    let mut builder = match server {
        None => {
            TokioResolver::builder_tokio().map_err(|e| format!("cannot read the system resolver configuration: {e}"))?
        }
        Some(addr) => {
            let servers = NameServerConfigGroup::from_ips_clear(&[addr.ip()], addr.port(), true);
            TokioResolver::builder_with_config(
                ResolverConfig::from_parts(None, Vec::new(), servers),
                TokioConnectionProvider::default(),
            )
        }
    };
    let o = builder.options_mut();
    o.cache_size = 0;
    o.positive_max_ttl = Some(Duration::ZERO);
    o.negative_max_ttl = Some(Duration::ZERO);
    o.use_hosts_file = ResolveHosts::Never;
    o.timeout = QUERY_TIMEOUT;
    o.attempts = 1;
    Ok(builder.build())
}

async fn query(resolver: &TokioResolver, name: &str, s: &DnsSettings, server: &str) -> Result<(), ProbeFailure> {
    let rt = s.record_type;
    let fqdn =
        Name::from_str(&format!("{name}.")).map_err(|_| ProbeFailure::other(format!("{name} is not a DNS name")))?;
    let wire = match rt {
        RecordType::A => WireType::A,
        RecordType::Aaaa => WireType::AAAA,
        RecordType::Mx => WireType::MX,
        RecordType::Txt => WireType::TXT,
        RecordType::Cname => WireType::CNAME,
    };
    let lookup = resolver
        .lookup(fqdn, wire)
        .await
        .map_err(|e| failure(&e, name, rt, server))?;
    let answer: Vec<String> = lookup
        .record_iter()
        .filter(|r| r.record_type() == wire)
        .filter_map(|r| record_text(rt, r.data()))
        .collect();
    if answer.is_empty() {
        return Err(ProbeFailure::other(format!("no {rt} record for {name} (empty answer)")));
    }
    let missing = s.missing(&answer);
    if !missing.is_empty() {
        return Err(ProbeFailure::other(format!(
            "{name} {rt} is {}, expected {}",
            answer.join(", "),
            missing.join(", ")
        )));
    }
    Ok(())
}

/// One record of the answer as `expect` compares it.
fn record_text(rt: RecordType, data: &RData) -> Option<String> {
    let text = match data {
        RData::A(a) => a.0.to_string(),
        RData::AAAA(a) => a.0.to_string(),
        RData::MX(mx) => format!("{} {}", mx.preference(), mx.exchange()),
        RData::CNAME(c) => c.0.to_string(),
        RData::TXT(t) => t
            .txt_data()
            .iter()
            .map(|p| String::from_utf8_lossy(p))
            .collect::<String>(),
        _ => return None,
    };
    normalize_record(rt, &text).ok()
}

/// A failed lookup, named as DNS people name it.
fn failure(e: &ResolveError, name: &str, rt: RecordType, server: &str) -> ProbeFailure {
    let Some(proto) = e.proto() else {
        return ProbeFailure::other(format!("DNS lookup failed: {e}"));
    };
    match proto.kind() {
        ProtoErrorKind::NoRecordsFound { response_code, .. } => ProbeFailure::other(match *response_code {
            ResponseCode::NXDomain => format!("NXDOMAIN: {name} does not exist"),
            ResponseCode::NoError => format!("no {rt} record for {name} (empty answer)"),
            ResponseCode::ServFail => format!("SERVFAIL from {server}"),
            ResponseCode::Refused => format!("REFUSED by {server}"),
            other => format!("{} ({other}) from {server}", code_name(other)),
        }),
        ProtoErrorKind::Timeout => timed_out(QUERY_TIMEOUT, server),
        ProtoErrorKind::Io(io) => {
            let f = ProbeFailure::from_io(io);
            ProbeFailure::new(f.kind, format!("{f} ({server})"))
        }
        ProtoErrorKind::NoConnections => ProbeFailure::other(format!("no DNS server to ask ({server})")),
        _ => ProbeFailure::other(format!("DNS lookup failed: {proto}")),
    }
}

fn timed_out(after: Duration, server: &str) -> ProbeFailure {
    let ms = Duration::from_millis(u64::try_from(after.as_millis()).unwrap_or(u64::MAX));
    ProbeFailure::new(
        FailKind::Timeout,
        format!("{} waiting for {server}", duration::human(ms)),
    )
}

/// The short upper-case name of a response code (`FORMERR`, `NOTIMP`, …).
fn code_name(c: ResponseCode) -> String {
    format!("{c:?}").to_ascii_uppercase()
}
