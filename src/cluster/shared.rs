//! The shared records (`upbot_shared`): this node's writes and the other nodes'.
//!
//! Out: the store hands every write of a shared record to the [`Replica`], which queues
//! it; one task writes the queue to the bucket in order, each with compare-and-set on
//! the last revision this node knows of the key (a `create` when it knows none), so a
//! write made on a stale copy is refused ([`StoreError::Conflict`]) instead of
//! overwriting another node's. A refused or failed write makes this node read every
//! record again, so its copy is the cluster's again.
//!
//! In: a follower of the bucket hands each record to the core ([`Service::apply_monitor`]
//! and friends); a record older than the revision this node already knows is skipped
//! (so its own write is never undone by an older one still on its way). After each full
//! read, monitors that the cluster does not have are dropped here.
//!
//! At start ([`prepare`]) the local store is brought in line before the core loads it;
//! a cluster that has never been seeded (no id counter yet) is seeded from this store.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::kv;
use tokio::sync::{mpsc, watch};

use super::nats::{self, SHARED, Seen};
use super::{Inner, Verdict, id_after, lock};
use crate::core::CoreError;
use crate::domain::oncall::{ChatSettings, OnCall};
use crate::domain::{Health, Monitor, MonitorId, State, now_ms};
use crate::store::{Alert, ReplicaFuture, SharedKey, Store, StoreError, StoredBot};

/// The id counter's key.
const COUNTER: &str = "counter.next_id";
/// How long a command waits for its writes to reach the cluster.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(10);
/// Failures kept for the writers that wait on them.
const FAILURES_KEPT: usize = 1024;

/// The bucket key of a shared record.
fn key_name(k: &SharedKey) -> String {
    match k {
        SharedKey::Monitor(id) => format!("monitor.{id}"),
        SharedKey::OnCall(id) => format!("oncall.{id}"),
        SharedKey::Chat(c) => format!("chat.{c}"),
        SharedKey::Bot(n) => format!("bot.{n}"),
        SharedKey::Allowed(c) => format!("allowed.{c}"),
    }
}

/// The record as a user names it (for "changed on another node" errors).
fn what(k: &SharedKey) -> String {
    match k {
        SharedKey::Monitor(id) => format!("monitor #{id}"),
        SharedKey::OnCall(id) => format!("the ack, mute or reminder of #{id}"),
        SharedKey::Chat(c) => format!("the settings of chat {c}"),
        SharedKey::Bot(n) => format!("bot @{n}"),
        SharedKey::Allowed(c) => format!("the allow-list entry of chat {c}"),
    }
}

/// Why a queued write did not land.
#[derive(Debug, Clone)]
pub(super) enum Failure {
    Conflict(String),
    Unreachable(String),
}

impl Failure {
    fn error(&self) -> StoreError {
        match self {
            Failure::Conflict(m) => StoreError::Conflict(m.clone()),
            Failure::Unreachable(m) => StoreError::ClusterUnreachable(m.clone()),
        }
    }
}

/// Where the queue is.
#[derive(Debug, Default)]
struct Progress {
    /// Every write up to this one has been tried.
    done: u64,
    /// Writes that failed, by place.
    failed: BTreeMap<u64, Failure>,
    /// `settle(None)` has reported failures up to here.
    checked: u64,
}

enum Job {
    /// (place, key, the value it replaced here, the value)
    Put(u64, SharedKey, Option<Vec<u8>>, Option<Vec<u8>>),
    Alert(u64, Box<Alert>),
}

/// The queue of this node's shared writes, and the revisions it knows.
pub(super) struct Writes {
    node: String,
    next: AtomicU64,
    tx: mpsc::UnboundedSender<Job>,
    rx: Mutex<Option<mpsc::UnboundedReceiver<Job>>>,
    progress: watch::Sender<Progress>,
    /// Key → (last revision known, whether it holds a value).
    revs: Mutex<HashMap<String, (u64, bool)>>,
}

impl Writes {
    pub(super) fn new(node: &str) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Self {
            node: node.to_string(),
            next: AtomicU64::new(0),
            tx,
            rx: Mutex::new(Some(rx)),
            progress: watch::channel(Progress::default()).0,
            revs: Mutex::new(HashMap::new()),
        }
    }

    /// Starts the task that writes the queue.
    pub(super) fn start(&self, inner: &Arc<Inner>) {
        let Some(rx) = lock(&self.rx).take() else { return };
        let inner = inner.clone();
        tokio::spawn(work(inner, rx));
    }

    fn enqueue(&self, job: impl FnOnce(u64) -> Job) -> u64 {
        let seq = self.next.fetch_add(1, Ordering::AcqRel) + 1;
        if self.tx.send(job(seq)).is_err() {
            self.progress.send_modify(|p| {
                p.failed.insert(seq, Failure::Unreachable("upbot is stopping".into()));
            });
        }
        seq
    }

    /// Notes revision `rev` of `key`; false when an equal or newer one is known (the
    /// record is then not to be applied again).
    pub(super) fn saw(&self, key: &str, rev: u64, live: bool) -> bool {
        let mut revs = lock(&self.revs);
        match revs.get(key) {
            Some((known, _)) if *known > rev => false,
            Some((known, l)) if *known == rev && *l == live => false,
            _ => {
                revs.insert(key.to_string(), (rev, live));
                true
            }
        }
    }

    fn known(&self, key: &str) -> Option<(u64, bool)> {
        lock(&self.revs).get(key).copied()
    }

    /// The revision of `key` if this node wrote it after revision `after`.
    fn newer_than(&self, key: &str, after: u64) -> bool {
        self.known(key).is_some_and(|(r, _)| r > after)
    }

    fn queued(&self) -> u64 {
        self.next.load(Ordering::Acquire)
    }
}

/// Writes the queue, in order.
async fn work(inner: Arc<Inner>, mut rx: mpsc::UnboundedReceiver<Job>) {
    while let Some(job) = rx.recv().await {
        let (seq, result) = match job {
            Job::Put(seq, key, before, value) => (seq, put(&inner, &key, before, value).await),
            Job::Alert(seq, alert) => (
                seq,
                publish(&inner, &alert, &format!("n.{}.{seq}", inner.writes.node)).await,
            ),
        };
        if let Err(f) = &result {
            tracing::warn!(failure = ?f, "a shared write did not reach the cluster; reading the cluster's records again");
            inner.resync.notify_one();
        }
        inner.writes.progress.send_modify(|p| {
            p.done = seq;
            if let Err(f) = result {
                p.failed.insert(seq, f);
                while p.failed.len() > FAILURES_KEPT {
                    p.failed.pop_first();
                }
            }
        });
    }
}

/// One write of a shared record, compare-and-set. Records whose fields change
/// independently (on-call records, chat settings) are merged when another node wrote
/// first: an ack typed on one node and the leader's note of what it announced both stay.
async fn put(inner: &Inner, key: &SharedKey, before: Option<Vec<u8>>, value: Option<Vec<u8>>) -> Result<(), Failure> {
    let mergeable = matches!(key, SharedKey::OnCall(_) | SharedKey::Chat(_));
    match put_cas(inner, key, value.clone()).await {
        Err(Failure::Conflict(_)) if mergeable => merge(inner, key, before, value).await,
        other => other,
    }
}

/// Field-wise three-way merge of JSON objects: a field this node changed (`before` →
/// `mine`) takes its value, every other field the cluster's (`theirs`). A missing value
/// is an object with every field at its default; the result is `None` when no field is
/// left.
pub(super) fn merge3(before: Option<&[u8]>, mine: Option<&[u8]>, theirs: Option<&[u8]>) -> Option<Vec<u8>> {
    use serde_json::{Map, Value};
    let obj = |v: Option<&[u8]>| -> Map<String, Value> {
        v.and_then(|b| serde_json::from_slice::<Map<String, Value>>(b).ok())
            .unwrap_or_default()
    };
    let (before, mine, theirs) = (obj(before), obj(mine), obj(theirs));
    let field = |m: &Map<String, Value>, k: &str| m.get(k).cloned().unwrap_or(Value::Null);
    let mut out = Map::new();
    for k in before.keys().chain(mine.keys()).chain(theirs.keys()) {
        if out.contains_key(k) {
            continue;
        }
        let (b, m) = (field(&before, k), field(&mine, k));
        let v = if m != b { m } else { field(&theirs, k) };
        if !v.is_null() {
            out.insert(k.clone(), v);
        }
    }
    (!out.is_empty()).then(|| serde_json::to_vec(&Value::Object(out)).unwrap_or_default())
}

/// After a conflict: merges this node's change into the cluster's record and writes
/// that (again compare-and-set), then takes the merged record here too.
async fn merge(inner: &Inner, key: &SharedKey, before: Option<Vec<u8>>, mine: Option<Vec<u8>>) -> Result<(), Failure> {
    let kv = &inner.nats.shared;
    let name = key_name(key);
    let unreachable = |e: &dyn std::fmt::Display| Failure::Unreachable(e.to_string());
    for _ in 0..5 {
        let entry = kv.entry(&name).await.map_err(|e| unreachable(&e))?;
        let (theirs, rev, live) = match &entry {
            Some(e) if e.operation == kv::Operation::Put => (Some(e.value.to_vec()), e.revision, true),
            Some(e) => (None, e.revision, false),
            None => (None, 0, false),
        };
        let merged = merge3(before.as_deref(), mine.as_deref(), theirs.as_deref());
        let written = if merged == theirs {
            Ok(rev)
        } else {
            match (&merged, live) {
                (Some(v), true) => kv
                    .update(&name, v.clone().into(), rev)
                    .await
                    .map_err(|e| e.kind() == kv::UpdateErrorKind::WrongLastRevision),
                (Some(v), false) => kv
                    .create(&name, v.clone().into())
                    .await
                    .map_err(|e| e.kind() == kv::CreateErrorKind::AlreadyExists),
                (None, true) => kv
                    .delete_expect_revision(&name, Some(rev))
                    .await
                    .map(|()| rev)
                    .map_err(|e| e.to_string().contains("wrong last sequence")),
                (None, false) => Ok(rev),
            }
        };
        match written {
            Ok(r) => {
                inner.writes.saw(&name, r, merged.is_some());
                take_merged(inner, key, merged.as_deref());
                tracing::info!(key = %name, "merged a change with another node's");
                return Ok(());
            }
            Err(true) => continue,
            Err(false) => return Err(Failure::Unreachable(format!("writing {name} failed"))),
        }
    }
    Err(Failure::Conflict(format!(
        "{} keeps changing on other nodes; send the command again",
        what(key)
    )))
}

/// Takes a merged on-call record or chat settings here.
fn take_merged(inner: &Inner, key: &SharedKey, merged: Option<&[u8]>) {
    let Some(svc) = inner.service() else { return };
    let r = match key {
        SharedKey::OnCall(id) => svc.apply_oncall(*id, merged.and_then(|v| serde_json::from_slice(v).ok())),
        SharedKey::Chat(c) => svc.apply_chat_settings(*c, merged.and_then(|v| serde_json::from_slice(v).ok())),
        _ => Ok(()),
    };
    if let Err(e) = r {
        tracing::warn!(error = %e, "a merged record could not be taken here");
    }
}

/// One compare-and-set write.
async fn put_cas(inner: &Inner, key: &SharedKey, value: Option<Vec<u8>>) -> Result<(), Failure> {
    let kv = &inner.nats.shared;
    let name = key_name(key);
    let conflict = || {
        Failure::Conflict(format!(
            "{} was changed on another node at the same moment; look again and send the command again",
            what(key)
        ))
    };
    let unreachable = |e: &dyn std::fmt::Display| Failure::Unreachable(e.to_string());
    let known = inner.writes.known(&name);
    match (value, known) {
        (Some(v), Some((rev, true))) => match kv.update(&name, v.into(), rev).await {
            Ok(r) => {
                inner.writes.saw(&name, r, true);
                Ok(())
            }
            Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => Err(conflict()),
            Err(e) => Err(unreachable(&e)),
        },
        (Some(v), _) => match kv.create(&name, v.into()).await {
            Ok(r) => {
                inner.writes.saw(&name, r, true);
                Ok(())
            }
            Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => Err(conflict()),
            Err(e) => Err(unreachable(&e)),
        },
        (None, Some((rev, true))) => match kv.delete_expect_revision(&name, Some(rev)).await {
            Ok(()) => {
                // The deletion's own revision comes with the follower; until then a
                // new value for the key is a `create`.
                lock(&inner.writes.revs).insert(name, (rev, false));
                Ok(())
            }
            Err(e) if e.to_string().contains("wrong last sequence") => Err(conflict()),
            Err(e) => Err(unreachable(&e)),
        },
        (None, _) => Ok(()),
    }
}

/// Publishes an outbox row to the cluster's outbox, deduplicated by `id`.
pub(super) async fn publish(inner: &Inner, alert: &Alert, id: &str) -> Result<(), Failure> {
    let body = serde_json::to_vec(alert).map_err(|e| Failure::Unreachable(e.to_string()))?;
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", id);
    let ack = inner
        .nats
        .js
        .publish_with_headers(nats::OUTBOX_SUBJECT, headers, body.into())
        .await
        .map_err(|e| Failure::Unreachable(e.to_string()))?;
    ack.await.map_err(|e| Failure::Unreachable(e.to_string()))?;
    Ok(())
}

/// The store's [`crate::store::Replica`]: this node's writes of shared records.
pub(super) struct Replica(pub(super) Arc<Inner>);

impl crate::store::Replica for Replica {
    fn ready(&self) -> Result<(), StoreError> {
        if self.0.nats.connected() {
            Ok(())
        } else {
            Err(StoreError::ClusterUnreachable(
                "this node has lost its connection to NATS".into(),
            ))
        }
    }

    fn put(&self, key: SharedKey, before: Option<Vec<u8>>, value: Option<Vec<u8>>) -> u64 {
        self.0.writes.enqueue(|seq| Job::Put(seq, key, before, value))
    }

    fn alert(&self, alert: &Alert) -> u64 {
        let alert = Box::new(alert.clone());
        self.0.writes.enqueue(|seq| Job::Alert(seq, alert))
    }

    fn settle(&self, upto: Option<u64>) -> ReplicaFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            let writes = &self.0.writes;
            let target = upto.unwrap_or_else(|| writes.queued());
            let mut rx = writes.progress.subscribe();
            // (The guard `wait_for` returns is dropped at once: `send_modify` below
            // needs the lock.)
            let waited = tokio::time::timeout(SETTLE_TIMEOUT, rx.wait_for(|p| p.done >= target))
                .await
                .is_ok_and(|r| r.is_ok());
            if !waited {
                return Err(StoreError::ClusterUnreachable(
                    "the cluster did not confirm the write in time".into(),
                ));
            }
            let mut found = None;
            writes.progress.send_modify(|p| {
                found = match upto {
                    Some(n) => p.failed.get(&n).cloned(),
                    None => p.failed.range(p.checked + 1..=target).next().map(|(_, f)| f.clone()),
                };
                if upto.is_none() {
                    p.checked = p.checked.max(target);
                }
            });
            found.map_or(Ok(()), |f| Err(f.error()))
        })
    }

    fn delivered(&self, rows: Vec<u64>) -> ReplicaFuture<'_, ()> {
        Box::pin(super::leader::delivered(&self.0, rows))
    }
}

/// A new monitor id from the cluster's counter (compare-and-set, retried).
pub(super) async fn next_id(inner: &Inner) -> Result<MonitorId, CoreError> {
    let kv = &inner.nats.shared;
    let unreachable = |e: &dyn std::fmt::Display| {
        tracing::warn!(error = %e, "no id from the cluster's counter");
        CoreError::ClusterUnreachable(crate::i18n::msg!("err-cluster-unreachable"))
    };
    if !inner.nats.connected() {
        return Err(unreachable(&"this node has lost its connection to NATS"));
    }
    for _ in 0..50 {
        let entry = kv.entry(COUNTER).await.map_err(|e| unreachable(&e))?;
        let current = entry
            .as_ref()
            .filter(|e| e.operation == kv::Operation::Put)
            .and_then(|e| std::str::from_utf8(&e.value).ok()?.trim().parse::<u64>().ok());
        let next = current.unwrap_or(0) + 1;
        let written = match (&entry, current) {
            (Some(e), Some(_)) => kv
                .update(COUNTER, next.to_string().into(), e.revision)
                .await
                .map_err(|e| e.kind() == kv::UpdateErrorKind::WrongLastRevision),
            _ => kv
                .create(COUNTER, next.to_string().into())
                .await
                .map_err(|e| e.kind() == kv::CreateErrorKind::AlreadyExists),
        };
        match written {
            Ok(_) => return Ok(MonitorId(next)),
            Err(true) => tokio::time::sleep(Duration::from_millis(rand::random_range(1..20))).await,
            Err(false) => return Err(unreachable(&"writing the id counter failed")),
        }
    }
    Err(unreachable(&"the id counter is too busy"))
}

/// The records of the bucket, decoded.
#[derive(Default)]
struct Records {
    monitors: HashMap<MonitorId, Monitor>,
    oncall: HashMap<MonitorId, OnCall>,
    chats: HashMap<i64, ChatSettings>,
    bots: Vec<StoredBot>,
    allowed: Vec<i64>,
    seeded: bool,
}

fn decode<T: serde::de::DeserializeOwned>(key: &str, v: &[u8]) -> Option<T> {
    match serde_json::from_slice(v) {
        Ok(t) => Some(t),
        Err(e) => {
            tracing::error!(key, error = %e, "a shared record does not decode; ignored");
            None
        }
    }
}

/// Brings `store` in line with the cluster before the core loads it: the cluster's
/// records win, monitors it does not have are dropped; a fresh cluster is seeded from
/// this store.
pub(super) async fn prepare(inner: &Arc<Inner>, store: &Store) -> anyhow::Result<()> {
    let stream = inner
        .nats
        .stream(&format!("KV_{SHARED}"))
        .await
        .map_err(|e| anyhow::anyhow!("reading the cluster's records: {e}"))?;
    let prefix = nats::kv_prefix(SHARED);
    let items = nats::snapshot(&inner.nats, &stream, &format!("{prefix}>"), &prefix)
        .await
        .map_err(|e| anyhow::anyhow!("reading the cluster's records: {e}"))?;
    let mut r = Records::default();
    for it in &items {
        inner.writes.saw(&it.key, it.seq, !it.deleted);
        if it.deleted {
            continue;
        }
        let k = it.key.as_str();
        if k == COUNTER {
            r.seeded = true;
        } else if let Some(id) = id_after(k, "monitor.") {
            r.monitors.extend(decode(k, &it.value).map(|m| (id, m)));
        } else if let Some(id) = id_after(k, "oncall.") {
            r.oncall.extend(decode(k, &it.value).map(|o| (id, o)));
        } else if let Some(c) = k.strip_prefix("chat.").and_then(|c| c.parse().ok()) {
            r.chats.extend(decode(k, &it.value).map(|s| (c, s)));
        } else if k.starts_with("bot.") {
            r.bots.extend(decode(k, &it.value));
        } else if let Some(c) = k.strip_prefix("allowed.").and_then(|c| c.parse().ok()) {
            r.allowed.push(c);
        }
    }
    if !r.seeded {
        return seed(inner, store).await;
    }
    let local = store.local();
    let mine = store.monitors()?;
    let mut dropped = 0;
    for m in &mine {
        if !r.monitors.contains_key(&m.id) {
            local.delete_monitor(m.id).await?;
            dropped += 1;
        }
    }
    let mut changed = 0;
    for m in r.monitors.values() {
        if mine.iter().any(|x| x == m) {
            continue;
        }
        let h = match store.health(m.id)? {
            Some(h) => h,
            None if m.paused => Health::new_paused(now_ms()),
            None => Health::new(now_ms()),
        };
        local.put_monitor(m, &h).await?;
        changed += 1;
    }
    for (id, _) in store.oncall_records()? {
        if !r.oncall.contains_key(&id) {
            local.remove_oncall(id)?;
        }
    }
    for (id, rec) in &r.oncall {
        local.put_oncall(*id, rec)?;
    }
    for (chat, _) in store.chat_settings_all()? {
        if !r.chats.contains_key(&chat) {
            local.put_chat_settings(chat, &ChatSettings::default())?;
        }
    }
    for (chat, s) in &r.chats {
        local.put_chat_settings(*chat, s)?;
    }
    for b in &r.bots {
        local.put_bot(b).await?;
    }
    for c in &r.allowed {
        local.allow_chat(*c).await?;
    }
    store.flush().await?;
    tracing::info!(
        monitors = r.monitors.len(),
        changed,
        dropped,
        "local store brought in line with the cluster"
    );
    Ok(())
}

/// Seeds a fresh cluster with this store's records (and its monitors' states as the
/// first verdicts, so nothing is announced again). The id counter is written last: it
/// marks the cluster as seeded.
async fn seed(inner: &Arc<Inner>, store: &Store) -> anyhow::Result<()> {
    let kv = &inner.nats.shared;
    let fail = |what: &str, e: &dyn std::fmt::Display| anyhow::anyhow!("seeding the cluster ({what}): {e}");
    let monitors = store.monitors()?;
    let put =
        |key: String, v: Vec<u8>| async move { kv.put(&key, v.into()).await.map(drop).map_err(|e| fail(&key, &e)) };
    for m in &monitors {
        put(format!("monitor.{}", m.id), serde_json::to_vec(m)?).await?;
        if let Some(h) = store
            .health(m.id)?
            .filter(|h| !matches!(h.state, State::Pending | State::Paused))
        {
            let v = serde_json::to_vec(&Verdict { health: h, seq: 0 })?;
            inner
                .nats
                .verdicts
                .put(format!("monitor.{}", m.id), v.into())
                .await
                .map_err(|e| fail("verdicts", &e))?;
        }
    }
    for (id, rec) in store.oncall_records()? {
        put(format!("oncall.{id}"), serde_json::to_vec(&rec)?).await?;
    }
    for (chat, s) in store.chat_settings_all()? {
        put(format!("chat.{chat}"), serde_json::to_vec(&s)?).await?;
    }
    for b in store.bots()? {
        put(
            format!("bot.{}", b.username.to_ascii_lowercase()),
            serde_json::to_vec(&b)?,
        )
        .await?;
    }
    for c in store.allowed_chats()? {
        put(format!("allowed.{c}"), Vec::new()).await?;
    }
    let counter = store
        .id_counter()?
        .max(monitors.iter().map(|m| m.id.0).max().unwrap_or(0));
    match kv.create(COUNTER, counter.to_string().into()).await {
        Ok(_) => {}
        Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => {
            tracing::warn!("another node seeded the cluster at the same moment; both stores' records were sent")
        }
        Err(e) => return Err(fail(COUNTER, &e)),
    }
    tracing::info!(monitors = monitors.len(), "seeded a new cluster from this node's store");
    Ok(())
}

/// Follows the bucket for as long as the layer runs, applying every record.
pub(super) fn spawn(inner: &Arc<Inner>) {
    let inner = inner.clone();
    inner.tasks.clone().spawn(async move {
        loop {
            let session = follow(&inner);
            tokio::select! {
                () = inner.stop.cancelled() => return,
                () = inner.resync.notified() => {
                    tracing::info!("reading every shared record again");
                    continue;
                }
                r = session => {
                    if let Err(e) = r {
                        tracing::warn!(error = %e, "following the shared records failed; again shortly");
                    }
                }
            }
            tokio::select! {
                () = inner.stop.cancelled() => return,
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    });
}

/// One session of following the bucket.
async fn follow(inner: &Arc<Inner>) -> Result<(), String> {
    let started = inner.writes.queued();
    let stream = inner.nats.stream(&format!("KV_{SHARED}")).await?;
    let first_seq = stream.cached_info().state.last_sequence;
    let mut f = inner.nats.follow_bucket(SHARED).await?;
    let mut seen: HashSet<MonitorId> = HashSet::new();
    loop {
        match f.next().await? {
            Seen::CaughtUp => {
                sweep(inner, &seen, first_seq).await;
                inner.known().caught_up.shared = true;
                // What failed before this full read is the cluster's again.
                inner.writes.progress.send_modify(|p| {
                    let keep = p.failed.split_off(&(started + 1));
                    p.failed = keep;
                });
            }
            Seen::Item(it) => {
                if let Some(id) = id_after(&it.key, "monitor.") {
                    seen.insert(id);
                }
                if inner.writes.saw(&it.key, it.seq, !it.deleted) {
                    apply(inner, &it).await;
                }
            }
        }
    }
}

/// Applies one record from the cluster.
async fn apply(inner: &Inner, it: &nats::Item) {
    let Some(svc) = inner.service() else { return };
    let k = it.key.as_str();
    let result = if let Some(id) = id_after(k, "monitor.") {
        match (it.deleted, decode::<Monitor>(k, &it.value)) {
            (true, _) => svc.apply_delete(id).await,
            (false, Some(m)) if m.id == id => svc.apply_monitor(m).await,
            _ => Ok(()),
        }
    } else if let Some(id) = id_after(k, "oncall.") {
        let rec = (!it.deleted).then(|| decode(k, &it.value)).flatten();
        svc.apply_oncall(id, rec)
    } else if let Some(c) = k.strip_prefix("chat.").and_then(|c| c.parse().ok()) {
        let s = (!it.deleted).then(|| decode(k, &it.value)).flatten();
        svc.apply_chat_settings(c, s)
    } else if k.starts_with("bot.") && !it.deleted {
        match decode::<StoredBot>(k, &it.value) {
            Some(b) => {
                let stored = svc.store().local().put_bot(&b).await.map_err(Into::into);
                inner.bot_added.notify_one();
                stored
            }
            None => Ok(()),
        }
    } else if let Some(c) = k.strip_prefix("allowed.").and_then(|c| c.parse::<i64>().ok()) {
        if it.deleted {
            Ok(())
        } else {
            svc.store().local().allow_chat(c).await.map_err(Into::into)
        }
    } else {
        Ok(())
    };
    if let Err(e) = result {
        tracing::warn!(key = k, error = %e, "a record from the cluster could not be applied here");
    }
}

/// After a full read: monitors this node holds that the cluster does not (and that this
/// node did not just write) are dropped.
async fn sweep(inner: &Inner, seen: &HashSet<MonitorId>, first_seq: u64) {
    let Some(svc) = inner.service() else { return };
    for id in svc.monitor_ids() {
        if seen.contains(&id) || inner.writes.newer_than(&format!("monitor.{id}"), first_seq) {
            continue;
        }
        tracing::info!(monitor = %id, "monitor not in the cluster; dropped here");
        if let Err(e) = svc.apply_delete(id).await {
            tracing::warn!(monitor = %id, error = %e, "dropping a monitor the cluster does not have failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn j(v: serde_json::Value) -> Vec<u8> {
        serde_json::to_vec(&v).unwrap()
    }

    fn merged(
        b: Option<serde_json::Value>,
        m: Option<serde_json::Value>,
        t: Option<serde_json::Value>,
    ) -> Option<serde_json::Value> {
        merge3(b.map(j).as_deref(), m.map(j).as_deref(), t.map(j).as_deref())
            .map(|v| serde_json::from_slice(&v).unwrap())
    }

    #[test]
    fn a_field_changed_here_wins_the_others_come_from_the_cluster() {
        use serde_json::json;
        // Here: an ack; there (the leader): what it announced.
        let before = json!({"announced": "up"});
        let mine = json!({"announced": "up", "ack": {"by": "Ann"}});
        let theirs = json!({"announced": "down"});
        assert_eq!(
            merged(Some(before), Some(mine), Some(theirs)),
            Some(json!({"announced": "down", "ack": {"by": "Ann"}}))
        );
        // A field cleared here stays cleared; one set there stays set.
        let before = json!({"ack": {"by": "Ann"}, "announced": "down"});
        let mine = json!({"announced": "down"});
        let theirs = json!({"ack": {"by": "Ann"}, "announced": "down", "reminded_ms": 5});
        assert_eq!(
            merged(Some(before), Some(mine), Some(theirs)),
            Some(json!({"announced": "down", "reminded_ms": 5}))
        );
        // Everything cleared on both sides: no record.
        assert_eq!(merged(Some(json!({"ack": 1})), None, None), None);
        // A new record here meets one made there.
        assert_eq!(
            merged(
                None,
                Some(json!({"quiet": true})),
                Some(json!({"mute_all": {"by": "Bo"}}))
            ),
            Some(json!({"quiet": true, "mute_all": {"by": "Bo"}}))
        );
    }
}
