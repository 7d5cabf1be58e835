//! Push monitors' engine: the token index, their live health, and heartbeat deadlines.
//!
//! The probe scheduler never touches push monitors; this engine is their counterpart.
//! The command core hands it every push monitor ([`Push::upsert`] / [`Push::remove`],
//! like the scheduler), the HTTP receiver resolves tokens ([`Push::lookup`]) and feeds
//! it heartbeats and status reports ([`Push::report`]).
//!
//! Rules:
//! - Explicit reports are verdicts, not samples: they go through the debounce machine
//!   with `fails = recovers = 1`, so `down` takes effect at once.
//! - State before storage: every report (and heartbeat) is stored with the time it
//!   arrived and the alert it causes, on the store's writer thread, and is durable
//!   before memory changes and before [`Push::report`] returns; so an acknowledged
//!   report survives a crash and the deadline recomputed after a restart matches what
//!   the sender did. If the write fails, nothing changes and the sender hears of it.
//! - Reports for one monitor are taken one at a time, in arrival order (a per-monitor
//!   gate held across the write); different monitors never wait for each other, and no
//!   lock is held across an `.await`.
//! - Deadline = last report (or creation, or resume) + heartbeat + grace, on the
//!   server's clock. Deadlines sit in a `BTreeSet<(Instant, id)>` served by one timer
//!   task that sleeps until the earliest and is woken by a `Notify` when an earlier one
//!   appears (mini-redis `db.rs`): no polling. A DOWN monitor has no deadline: it stays
//!   down until it reports again. A due deadline is handled in its own task (storing
//!   the DOWN); if that write fails, the deadline is retried every [`EXPIRE_RETRY`].
//! - Tokens are indexed by their SHA-256, so a lookup compares digests, never a token
//!   prefix an attacker could grow byte by byte.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::domain::history::{Bucket, Recorder};
use crate::domain::{Health, Kind, Monitor, MonitorId, Outcome, State, Transition, now_ms};
use crate::events::{EventBus, StateEvent};
use crate::metrics::Metrics;
use crate::store::{Alert, Change, Committed, Store, StoreError};

/// Longest report message kept (characters); the rest is cut with an ellipsis.
pub const MAX_MESSAGE: usize = 500;

/// How soon a heartbeat timeout whose DOWN could not be stored is tried again.
pub const EXPIRE_RETRY: Duration = Duration::from_secs(1);

/// How long a report waits for a halted monitor to be handed back ([`Push::halt`]).
const HALT_WAIT: Duration = Duration::from_secs(5);

/// How long shutdown waits for timeouts being stored.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// What a push sender said.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Signal {
    /// "I am alive" (the heartbeat URL).
    Heartbeat,
    /// `{"status":"up"}`, with an optional message.
    Up,
    /// `{"status":"degraded","message":…}`.
    Degraded(Option<String>),
    /// `{"status":"down","message":…}`.
    Down(Option<String>),
}

/// The answer to an accepted report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    /// The monitor.
    pub id: MonitorId,
    /// Its name.
    pub name: String,
    /// Its state after the report (`Paused` when the report was ignored for that).
    pub state: State,
    /// Last heartbeat or report, ms since the epoch (`None`: never, or paused).
    pub last_seen_ms: Option<u64>,
}

/// Why a report was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// The monitor is gone (deleted, or its token rotated, meanwhile).
    #[error("no such push monitor")]
    NotFound,
    /// The report could not be made durable.
    #[error(transparent)]
    Store(#[from] StoreError),
}

struct Entry {
    monitor: Monitor,
    health: Health,
    /// Last heartbeat or report, ms since the epoch.
    seen_ms: Option<u64>,
    /// The queued deadline, with the time it counts from (for the DOWN reason).
    deadline: Option<(Instant, u64)>,
    /// Changes with every [`Push::upsert`]: a write computed from an older entry is
    /// not applied (nor stored, when the writer gets to it after the change).
    generation: u64,
    /// One report or timeout of this monitor at a time; kept across upserts.
    gate: Arc<tokio::sync::Mutex<()>>,
    /// [`Push::halt`]ed: reports wait for the next upsert, no deadline runs.
    halted: bool,
    /// Its history since the last save: reports count as probes (DOWN reports as
    /// failures), time per state.
    history: Recorder,
}

#[derive(Default)]
struct Registry {
    entries: HashMap<MonitorId, Entry>,
    tokens: HashMap<[u8; 32], MonitorId>,
    deadlines: BTreeSet<(Instant, MonitorId)>,
}

struct Inner {
    store: Store,
    events: EventBus,
    metrics: Metrics,
    reg: Mutex<Registry>,
    /// Wakes the timer task when a deadline earlier than the one it sleeps on appears.
    wake: Notify,
    /// Wakes reports waiting for a halted monitor (upsert and remove end a halt).
    unhalted: Notify,
    stop: CancellationToken,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Source of entry generations.
    generations: std::sync::atomic::AtomicU64,
    /// Heartbeat timeouts being stored.
    expiries: TaskTracker,
    /// Cluster mode: hands every accepted report to the other nodes.
    relay: std::sync::OnceLock<Relay>,
}

/// Where accepted reports go besides this node (cluster mode).
pub type Relay = Box<dyn Fn(MonitorId, &Signal) + Send + Sync>;

/// Handle to the push engine; cheap to clone.
#[derive(Clone)]
pub struct Push {
    inner: Arc<Inner>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The index key of a token.
fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// A new webhook token: 256 bits from the thread-local CSPRNG (ChaCha, seeded from
/// the OS), hex.
pub fn new_token() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// "6m", "1h 5m", "2s": whole seconds, in the one duration format
/// ([`crate::domain::duration::human`]).
pub fn human(d: Duration) -> String {
    crate::domain::duration::human(Duration::from_secs(d.as_secs()))
}

/// Trims a report message to [`MAX_MESSAGE`] characters with no control characters, so
/// it fits an alert line.
fn clean_message(m: Option<String>, default: &str) -> String {
    let m = m.unwrap_or_default();
    let mut out: String = m
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_MESSAGE)
        .collect();
    if m.trim().chars().count() > MAX_MESSAGE {
        out.push('…');
    }
    if out.trim().is_empty() {
        default.to_string()
    } else {
        out
    }
}

impl Push {
    /// Starts the engine and its deadline timer task (call inside a tokio runtime).
    /// Cancelling `shutdown` stops the timer; [`Push::shutdown`] also waits for it.
    pub fn start(store: Store, events: EventBus, metrics: Metrics, shutdown: CancellationToken) -> Self {
        let push = Self {
            inner: Arc::new(Inner {
                store,
                events,
                metrics,
                reg: Mutex::new(Registry::default()),
                wake: Notify::new(),
                unhalted: Notify::new(),
                stop: shutdown,
                task: Mutex::new(None),
                generations: std::sync::atomic::AtomicU64::new(0),
                expiries: TaskTracker::new(),
                relay: std::sync::OnceLock::new(),
            }),
        };
        let timer = push.clone();
        let handle = tokio::spawn(async move { timer.run_timer().await });
        *lock(&push.inner.task) = Some(handle);
        push
    }

    /// Stops the timer and waits for it and for timeouts being stored (the app calls
    /// this before the final flush).
    pub async fn shutdown(&self) {
        self.inner.stop.cancel();
        let task = lock(&self.inner.task).take();
        if let Some(t) = task {
            if let Err(e) = t.await {
                tracing::error!(error = %e, "push timer task failed");
            }
        }
        self.inner.expiries.close();
        if tokio::time::timeout(STOP_GRACE, self.inner.expiries.wait())
            .await
            .is_err()
        {
            tracing::warn!("heartbeat timeouts still being stored after {STOP_GRACE:?}");
        }
    }

    /// Whether the deadline timer is running (for `/healthz`).
    pub fn alive(&self) -> bool {
        lock(&self.inner.task).as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Starts or updates tracking of a push monitor with `health` as its live state
    /// (ignores other kinds). The last-seen time is kept, or loaded from the store the
    /// first time, so a restart computes the same deadline.
    pub fn upsert(&self, monitor: Monitor, health: Health) {
        let Some(settings) = monitor.push.as_ref().filter(|_| monitor.kind == Kind::Push) else {
            self.remove(monitor.id);
            return;
        };
        let id = monitor.id;
        let key = digest(&settings.token);
        let mut reg = lock(&self.inner.reg);
        let old = reg.entries.remove(&id);
        let seen_ms = match &old {
            Some(e) => e.seen_ms,
            None => self.inner.store.push_seen(id).unwrap_or_else(|e| {
                tracing::warn!(monitor = %id, error = %e, "reading the last heartbeat failed");
                None
            }),
        };
        let mut gate = None;
        let now = now_ms();
        let mut history = Recorder::new(now, health.state);
        if let Some(old) = old {
            if let Some(d) = old.deadline {
                reg.deadlines.remove(&(d.0, id));
            }
            if let Some(p) = &old.monitor.push {
                reg.tokens.remove(&digest(&p.token));
            }
            gate = Some(old.gate);
            history = old.history;
            history.set_state(now, health.state);
        }
        reg.tokens.insert(key, id);
        let generation = self.next_generation();
        reg.entries.insert(
            id,
            Entry {
                monitor,
                health,
                seen_ms,
                deadline: None,
                generation,
                gate: gate.unwrap_or_default(),
                halted: false,
                history,
            },
        );
        self.schedule(&mut reg, id);
        drop(reg);
        self.inner.unhalted.notify_waiters();
    }

    /// Stops acting on `id` and returns its live state: until the next
    /// [`Push::upsert`] (or [`Push::remove`]) nothing changes it. A report or timeout
    /// whose write the store has not reached yet is not stored; reports that arrive
    /// meanwhile wait (up to [`HALT_WAIT`]) and then apply to what the upsert set; the
    /// heartbeat deadline is dropped (the upsert computes it again). So a caller may
    /// derive a new state (pause, a chat move) without racing a report.
    pub fn halt(&self, id: MonitorId) -> Option<Health> {
        let generation = self.next_generation();
        let mut reg = lock(&self.inner.reg);
        let e = reg.entries.get_mut(&id)?;
        e.generation = generation;
        e.halted = true;
        let health = e.health.clone();
        if let Some((at, _)) = e.deadline.take() {
            reg.deadlines.remove(&(at, id));
        }
        Some(health)
    }

    fn next_generation(&self) -> u64 {
        self.inner
            .generations
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1
    }

    /// Stops tracking a monitor; its token stops resolving at once.
    pub fn remove(&self, id: MonitorId) {
        let mut reg = lock(&self.inner.reg);
        if let Some(e) = reg.entries.remove(&id) {
            if let Some(d) = e.deadline {
                reg.deadlines.remove(&(d.0, id));
            }
            if let Some(p) = &e.monitor.push {
                reg.tokens.remove(&digest(&p.token));
            }
        }
        drop(reg);
        self.inner.unhalted.notify_waiters();
    }

    /// The monitor a webhook token names, if any. Costs one SHA-256 and one hash-map
    /// probe whether or not the token exists.
    pub fn lookup(&self, token: &str) -> Option<Monitor> {
        let key = digest(token);
        let reg = lock(&self.inner.reg);
        let id = reg.tokens.get(&key)?;
        reg.entries.get(id).map(|e| e.monitor.clone())
    }

    /// Live health of a push monitor.
    pub fn live(&self, id: MonitorId) -> Option<Health> {
        lock(&self.inner.reg).entries.get(&id).map(|e| e.health.clone())
    }

    /// Hands over the history minutes the push monitors `ids` recorded (the periodic
    /// save).
    pub fn take_history(&self, ids: &[MonitorId], now_ms: u64) -> Vec<(MonitorId, Vec<(u64, Bucket)>)> {
        let mut reg = lock(&self.inner.reg);
        ids.iter()
            .filter_map(|id| {
                let minutes = reg.entries.get_mut(id)?.history.take(now_ms);
                (!minutes.is_empty()).then_some((*id, minutes))
            })
            .collect()
    }

    /// Every push monitor, in id order (see [`crate::scheduler::Scheduler::history_ids`]).
    pub fn history_ids(&self) -> Vec<MonitorId> {
        let mut ids: Vec<MonitorId> = lock(&self.inner.reg).entries.keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    /// The history minutes `id` recorded and has not handed over yet.
    pub fn unsaved_history(&self, id: MonitorId, now_ms: u64) -> Vec<(u64, Bucket)> {
        lock(&self.inner.reg)
            .entries
            .get(&id)
            .map(|e| e.history.peek(now_ms))
            .unwrap_or_default()
    }

    /// Last heartbeat or report of a push monitor, ms since the epoch.
    pub fn last_seen(&self, id: MonitorId) -> Option<u64> {
        lock(&self.inner.reg).entries.get(&id).and_then(|e| e.seen_ms)
    }

    /// Applies a heartbeat or status report: stores it durably (with the alert of any
    /// state change), then changes the live state and publishes the change. A paused
    /// monitor accepts the report but nothing changes. On a store error nothing
    /// changes either.
    pub async fn report(&self, id: MonitorId, signal: Signal) -> Result<Ack, PushError> {
        let span = tracing::info_span!("push_report", monitor = %id);
        let relayed = self.inner.relay.get().map(|_| signal.clone());
        let ack = self.report_in_turn(id, signal).instrument(span).await?;
        if let (Some(relay), Some(signal)) = (self.inner.relay.get(), relayed) {
            relay(id, &signal);
        }
        Ok(ack)
    }

    /// Cluster mode: every report this node accepts is handed to `relay` (once, at
    /// start), so every site's push engine hears every report.
    pub fn set_relay(&self, relay: Relay) {
        let _ = self.inner.relay.set(relay);
    }

    /// Cluster mode: a report another node accepted (not relayed again).
    pub async fn report_relayed(&self, id: MonitorId, signal: Signal) -> Result<Ack, PushError> {
        let span = tracing::info_span!("push_relayed", monitor = %id);
        self.report_in_turn(id, signal).instrument(span).await
    }

    async fn report_in_turn(&self, id: MonitorId, signal: Signal) -> Result<Ack, PushError> {
        let gate = lock(&self.inner.reg)
            .entries
            .get(&id)
            .map(|e| e.gate.clone())
            .ok_or(PushError::NotFound)?;
        let _turn = gate.lock().await;
        // Superseded means the monitor was changed (rotated, edited, halted) between
        // reading its state and storing the report: read it again.
        for _ in 0..3 {
            let now = now_ms();
            let step = {
                let reg = lock(&self.inner.reg);
                let e = reg.entries.get(&id).ok_or(PushError::NotFound)?;
                if e.halted {
                    // Registered before the lock is released: no upsert is missed.
                    Err(self.inner.unhalted.notified())
                } else if e.monitor.paused || e.health.state == State::Paused {
                    return Ok(Ack {
                        id,
                        name: e.monitor.name.clone(),
                        state: State::Paused,
                        last_seen_ms: e.seen_ms,
                    });
                } else {
                    let outcome = match &signal {
                        Signal::Heartbeat | Signal::Up => Outcome::Up,
                        Signal::Degraded(m) => Outcome::Degraded(clean_message(m.clone(), "reported degraded")),
                        Signal::Down(m) => Outcome::Down(clean_message(m.clone(), "reported down")),
                    };
                    let mut health = e.health.clone();
                    let t = health.observe(&outcome, 1, 1, now);
                    let alert = t.as_ref().and_then(|t| Alert::for_transition(&e.monitor, t));
                    let change = Change {
                        id,
                        health,
                        seen_ms: Some(now),
                        alert,
                    };
                    Ok((change, t, e.generation, e.monitor.clone()))
                }
            };
            let (change, t, generation, monitor) = match step {
                Ok(s) => s,
                Err(unhalted) => {
                    let _ = tokio::time::timeout(HALT_WAIT, unhalted).await;
                    continue;
                }
            };
            let health = change.health.clone();
            match self.inner.store.commit(change, self.owns(id, generation)).await? {
                Committed::Superseded => continue,
                Committed::Written => {
                    {
                        let mut reg = lock(&self.inner.reg);
                        if let Some(e) = reg.entries.get_mut(&id).filter(|e| e.generation == generation) {
                            e.history.probe(now, !matches!(signal, Signal::Down(_)), None);
                            if let Some(t) = &t {
                                e.history.set_state(now, t.to);
                            }
                            e.health = health.clone();
                            e.seen_ms = Some(now);
                            self.schedule(&mut reg, id);
                        }
                    }
                    if let Some(t) = &t {
                        self.announce(&monitor, t);
                    }
                    return Ok(Ack {
                        id,
                        name: monitor.name,
                        state: health.state,
                        last_seen_ms: Some(now),
                    });
                }
            }
        }
        Err(PushError::Store(StoreError::Failing(
            "the monitor was being changed while the report arrived; send it again".into(),
        )))
    }

    /// A check, for the store's writer, that `id` is still the entry of `generation`.
    fn owns(&self, id: MonitorId, generation: u64) -> impl FnOnce() -> bool + Send + 'static {
        let inner = self.inner.clone();
        move || {
            lock(&inner.reg)
                .entries
                .get(&id)
                .is_some_and(|e| e.generation == generation)
        }
    }

    /// Publishes a transition and counts it.
    fn announce(&self, m: &Monitor, t: &Transition) {
        tracing::info!(monitor = %m.id, from = %t.from, to = %t.to, reason = %t.reason, "push monitor changed state");
        self.inner.metrics.state_change(t.to);
        self.inner.events.state(StateEvent::new(m, t));
    }

    /// Recomputes `id`'s deadline and (re)queues it, waking the timer if it moved
    /// earlier than what the timer sleeps on.
    fn schedule(&self, reg: &mut Registry, id: MonitorId) {
        let Some(e) = reg.entries.get_mut(&id) else { return };
        let old = e.deadline.take();
        let due = if e.halted {
            None
        } else {
            deadline_ms(&e.monitor, &e.health, e.seen_ms)
        };
        let new = due.map(|(due_ms, base_ms)| {
            let left = Duration::from_millis(due_ms.saturating_sub(now_ms()));
            (Instant::now() + left, base_ms)
        });
        e.deadline = new;
        if let Some((at, _)) = old {
            reg.deadlines.remove(&(at, id));
        }
        if let Some((at, _)) = new {
            let earliest = reg.deadlines.first().is_none_or(|(first, _)| at < *first);
            reg.deadlines.insert((at, id));
            if earliest {
                self.inner.wake.notify_one();
            }
        }
    }

    async fn run_timer(&self) {
        loop {
            let next = lock(&self.inner.reg).deadlines.first().copied();
            match next {
                Some((at, id)) if at <= Instant::now() => {
                    lock(&self.inner.reg).deadlines.remove(&(at, id));
                    let this = self.clone();
                    let span = tracing::info_span!("push_timeout", monitor = %id);
                    self.inner
                        .expiries
                        .spawn(async move { this.expire(at, id).await }.instrument(span));
                }
                Some((at, _)) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(at) => {}
                        () = self.inner.wake.notified() => {}
                        () = self.inner.stop.cancelled() => break,
                    }
                }
                None => {
                    tokio::select! {
                        () = self.inner.wake.notified() => {}
                        () = self.inner.stop.cancelled() => break,
                    }
                }
            }
        }
        tracing::debug!("push timer stopped");
    }

    /// A deadline passed: the monitor goes DOWN ("no heartbeat for 6m"), stored with
    /// its alert before memory changes. If the write fails the deadline is queued again
    /// [`EXPIRE_RETRY`] later (a report arriving meanwhile settles it instead).
    async fn expire(&self, at: Instant, id: MonitorId) {
        let Some(gate) = lock(&self.inner.reg).entries.get(&id).map(|e| e.gate.clone()) else {
            return;
        };
        let _turn = gate.lock().await;
        let now = now_ms();
        let (change, t, generation, monitor) = {
            let mut reg = lock(&self.inner.reg);
            let Some(e) = reg.entries.get_mut(&id) else { return };
            let Some((queued, base_ms)) = e.deadline else { return };
            if queued != at {
                return; // a report (or an upsert) moved it meanwhile
            }
            let silent = Duration::from_millis(now.saturating_sub(base_ms));
            let reason = format!("no heartbeat for {}", human(silent));
            let mut health = e.health.clone();
            let Some(t) = health.observe(&Outcome::Down(reason), 1, 1, now) else {
                e.deadline = None;
                return;
            };
            let alert = Alert::for_transition(&e.monitor, &t);
            let change = Change {
                id,
                health,
                seen_ms: None,
                alert,
            };
            (change, t, e.generation, e.monitor.clone())
        };
        let health = change.health.clone();
        match self.inner.store.commit(change, self.owns(id, generation)).await {
            Ok(Committed::Written) => {
                {
                    let mut reg = lock(&self.inner.reg);
                    if let Some(e) = reg.entries.get_mut(&id).filter(|e| e.generation == generation) {
                        e.history.set_state(now, t.to);
                        e.health = health;
                        self.schedule(&mut reg, id);
                    }
                }
                self.announce(&monitor, &t);
            }
            Ok(Committed::Superseded) => {}
            Err(err) => {
                tracing::debug!(error = %err, "heartbeat timeout not stored; trying again");
                let mut reg = lock(&self.inner.reg);
                let Some(e) = reg.entries.get_mut(&id).filter(|e| e.generation == generation) else {
                    return;
                };
                let Some((queued, base_ms)) = e.deadline.filter(|(q, _)| *q == at) else {
                    return;
                };
                let retry = queued.max(Instant::now()) + EXPIRE_RETRY;
                e.deadline = Some((retry, base_ms));
                reg.deadlines.insert((retry, id));
                self.inner.wake.notify_one();
            }
        }
    }
}

/// When `m` is due (ms since the epoch) and the time that counts from, or `None` if it
/// has no deadline: no heartbeat period, paused, or already DOWN.
fn deadline_ms(m: &Monitor, h: &Health, seen_ms: Option<u64>) -> Option<(u64, u64)> {
    let p = m.push.as_ref()?;
    let period = p.heartbeat?;
    if m.paused || matches!(h.state, State::Down | State::Paused) {
        return None;
    }
    let mut base = seen_ms.unwrap_or(m.created_ms);
    if h.state == State::Pending {
        // New or just resumed: count from then, not from a heartbeat before the pause.
        base = base.max(h.since_ms);
    }
    let window = u64::try_from((period + p.grace).as_millis()).unwrap_or(u64::MAX);
    Some((base.saturating_add(window), base))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::PushSettings;

    fn monitor(heartbeat: Option<u64>) -> Monitor {
        let settings = PushSettings {
            token: new_token(),
            heartbeat: heartbeat.map(Duration::from_secs),
            grace: Duration::from_secs(60),
            secret: None,
            sign_heartbeats: false,
        };
        let zero = Duration::ZERO;
        Monitor {
            id: MonitorId(1),
            fails: 1,
            recovers: 1,
            created_ms: 1_000,
            ..Monitor::draft(
                Kind::Push,
                "nightly".into(),
                None,
                zero,
                zero,
                "nightly".into(),
                Some(settings),
            )
        }
    }

    #[test]
    fn deadlines() {
        let m = monitor(Some(300));
        let mut h = Health::new(1_000);
        // never seen: from creation
        assert_eq!(deadline_ms(&m, &h, None), Some((361_000, 1_000)));
        h.state = State::Up;
        assert_eq!(deadline_ms(&m, &h, Some(50_000)), Some((410_000, 50_000)));
        // resumed (pending since 90 s): counts from the resume, not the old heartbeat
        h.state = State::Pending;
        h.since_ms = 90_000;
        assert_eq!(deadline_ms(&m, &h, Some(50_000)), Some((450_000, 90_000)));
        h.state = State::Down;
        assert_eq!(deadline_ms(&m, &h, Some(50_000)), None);
        assert_eq!(deadline_ms(&monitor(None), &Health::new(0), None), None);
    }

    #[test]
    fn tokens_and_messages() {
        let (a, b) = (new_token(), new_token());
        assert_eq!(a.len(), 64);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
        assert_eq!(human(Duration::from_millis(360_400)), "6m");
        assert_eq!(human(Duration::from_secs(3_905)), "1h 5m");
        assert_eq!(clean_message(None, "reported down"), "reported down");
        assert_eq!(clean_message(Some(" disk\nfull ".into()), "x"), "disk full");
        let long = clean_message(Some("a".repeat(2000)), "x");
        assert_eq!(long.chars().count(), MAX_MESSAGE + 1);
    }

    /// A push monitor owned by chat -5, stored, and tracked by a running engine.
    async fn engine_with(heartbeat: Option<u64>, grace: u64) -> (Store, EventBus, Push, Monitor) {
        let store = Store::temporary().unwrap();
        let events = EventBus::new();
        let push = Push::start(store.clone(), events.clone(), Metrics::new(), CancellationToken::new());
        let mut m = monitor(heartbeat);
        (m.chat_id, m.bot, m.created_ms) = (Some(-5), Some("mon_bot".into()), now_ms());
        if let Some(p) = m.push.as_mut() {
            p.grace = Duration::from_secs(grace);
        }
        let h = Health::new(now_ms());
        store.put_monitor(&m, &h).await.unwrap();
        push.upsert(m.clone(), h);
        (store, events, push, m)
    }

    #[tokio::test]
    async fn a_report_that_cannot_be_stored_changes_nothing() {
        let (store, events, push, m) = engine_with(None, 60).await;
        let mut sub = events.subscribe();
        store.inject_write_fault(true);
        let err = push.report(m.id, Signal::Down(Some("disk".into()))).await.unwrap_err();
        assert!(matches!(err, PushError::Store(_)), "{err}");
        assert_eq!(push.live(m.id).unwrap().state, State::Pending);
        assert_eq!(push.last_seen(m.id), None, "not even the heartbeat time");
        assert!(sub.state.try_recv().is_err());

        store.inject_write_fault(false);
        store.await_recovery().await;
        let ack = push.report(m.id, Signal::Down(Some("disk".into()))).await.unwrap();
        assert_eq!(ack.state, State::Down);
        assert_eq!(push.live(m.id).unwrap().state, State::Down);
        assert_eq!(sub.state.try_recv().unwrap().to, State::Down);
        assert_eq!(store.outbox("mon_bot").unwrap().len(), 1);
        assert_eq!(store.push_seen(m.id).unwrap(), ack.last_seen_ms);
        push.shutdown().await;
    }

    #[tokio::test]
    async fn a_heartbeat_timeout_that_cannot_be_stored_is_retried_until_it_is() {
        let (store, events, push, m) = engine_with(Some(1), 0).await;
        let mut sub = events.subscribe();
        store.inject_write_fault(true);
        // The deadline (1 s) passes and its DOWN is refused at least twice.
        let wait = tokio::time::timeout(EXPIRE_RETRY * 3 + Duration::from_secs(1), sub.state.recv()).await;
        assert!(wait.is_err(), "no state change while the store fails: {wait:?}");
        assert_eq!(push.live(m.id).unwrap().state, State::Pending);

        store.inject_write_fault(false);
        let ev = tokio::time::timeout(Duration::from_secs(10), sub.state.recv())
            .await
            .expect("the timeout is stored once the disk works")
            .unwrap();
        assert_eq!((ev.to, ev.announce), (State::Down, true));
        assert!(ev.reason.starts_with("no heartbeat for "), "{}", ev.reason);
        assert_eq!(push.live(m.id).unwrap().state, State::Down);
        let queued = store.outbox("mon_bot").unwrap();
        assert_eq!(queued.len(), 1, "{queued:?}");
        push.shutdown().await;
    }

    #[tokio::test]
    async fn a_halted_monitor_takes_no_report_until_it_is_handed_back() {
        let (store, events, push, m) = engine_with(None, 60).await;
        let mut sub = events.subscribe();
        let h = push.halt(m.id).unwrap();
        assert_eq!(h.state, State::Pending);
        let p2 = push.clone();
        let mut report = tokio::spawn(async move { p2.report(m.id, Signal::Down(None)).await });
        let early = tokio::time::timeout(Duration::from_millis(300), &mut report).await;
        assert!(early.is_err(), "a report waits while the monitor is halted: {early:?}");
        // The caller derives the paused state from what halt returned, stores it and
        // hands the monitor back; the waiting report then meets a paused monitor.
        let mut paused = m.clone();
        paused.paused = true;
        let mut ph = h;
        ph.pause(now_ms());
        store.put_monitor(&paused, &ph).await.unwrap();
        push.upsert(paused, ph);
        let ack = report.await.unwrap().unwrap();
        assert_eq!(ack.state, State::Paused);
        assert!(sub.state.try_recv().is_err(), "nothing announced");
        assert_eq!(store.health(m.id).unwrap().unwrap().state, State::Paused);
        assert_eq!(store.outbox_len(), 0);
        push.shutdown().await;
    }
}
