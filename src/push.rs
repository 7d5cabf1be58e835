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
//! - Every report (and heartbeat) is persisted with the time it arrived, flushed before
//!   [`Push::report`] returns, so an acknowledged report survives a crash and the
//!   deadline recomputed after a restart matches what the sender did.
//! - Deadline = last report (or creation, or resume) + heartbeat + grace, on the
//!   server's clock. Deadlines sit in a `BTreeSet<(Instant, id)>` served by one timer
//!   task that sleeps until the earliest and is woken by a `Notify` when an earlier one
//!   appears (mini-redis `db.rs`): no polling. A DOWN monitor has no deadline: it stays
//!   down until it reports again.
//! - Tokens are indexed by their SHA-256, so a lookup compares digests, never a token
//!   prefix an attacker could grow byte by byte.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::domain::history::{Bucket, Recorder};
use crate::domain::{Health, Kind, Monitor, MonitorId, Outcome, State, Transition, now_ms};
use crate::events::{EventBus, StateEvent};
use crate::metrics::Metrics;
use crate::store::{Alert, Store, StoreError};

/// Longest report message kept (characters); the rest is cut with an ellipsis.
pub const MAX_MESSAGE: usize = 500;

/// What a push sender said.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// [`Push::halt`]ed: no deadline, and reports wait until the next upsert.
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
}

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
            }),
        };
        let timer = push.clone();
        let handle = tokio::spawn(async move { timer.run_timer().await });
        *lock(&push.inner.task) = Some(handle);
        push
    }

    /// Stops the timer and waits for it (the app calls this before the final flush).
    pub async fn shutdown(&self) {
        self.inner.stop.cancel();
        let task = lock(&self.inner.task).take();
        if let Some(t) = task {
            if let Err(e) = t.await {
                tracing::error!(error = %e, "push timer task failed");
            }
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
        let now = now_ms();
        let history = match old {
            Some(old) => {
                if let Some(d) = old.deadline {
                    reg.deadlines.remove(&(d.0, id));
                }
                if let Some(p) = &old.monitor.push {
                    reg.tokens.remove(&digest(&p.token));
                }
                let mut h = old.history;
                h.set_state(now, health.state);
                h
            }
            None => Recorder::new(now, health.state),
        };
        reg.tokens.insert(key, id);
        reg.entries.insert(
            id,
            Entry {
                monitor,
                health,
                seen_ms,
                deadline: None,
                halted: false,
                history,
            },
        );
        self.schedule(&mut reg, id);
        self.inner.unhalted.notify_waiters();
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

    /// Holds `id`'s state still until the next [`Push::upsert`] or [`Push::remove`]:
    /// its deadline is dropped and reports wait. Returns the state as of now, so the
    /// command core can derive a new one (pause, chat migration) without racing a report.
    pub fn halt(&self, id: MonitorId) -> Option<Health> {
        let mut reg = lock(&self.inner.reg);
        let e = reg.entries.get_mut(&id)?;
        e.halted = true;
        let health = e.health.clone();
        if let Some((at, _)) = e.deadline.take() {
            reg.deadlines.remove(&(at, id));
        }
        Some(health)
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

    /// Hands over every push monitor's recorded history minutes (the periodic save).
    pub fn take_history(&self, now_ms: u64) -> Vec<(MonitorId, Vec<(u64, Bucket)>)> {
        let mut reg = lock(&self.inner.reg);
        reg.entries
            .iter_mut()
            .filter_map(|(id, e)| {
                let minutes = e.history.take(now_ms);
                (!minutes.is_empty()).then_some((*id, minutes))
            })
            .collect()
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

    /// Applies a heartbeat or status report, persists it (flushed) and publishes any
    /// state change. A paused monitor accepts the report but nothing changes.
    pub async fn report(&self, id: MonitorId, signal: Signal) -> Result<Ack, PushError> {
        loop {
            // Registered before the try, so the upsert that ends a halt is not missed.
            let unhalted = self.inner.unhalted.notified();
            match self.report_unless_halted(id, signal.clone()).await? {
                Some(ack) => return Ok(ack),
                None => unhalted.await,
            }
        }
    }

    /// [`Push::report`], or `None` without doing anything while the monitor is halted.
    async fn report_unless_halted(&self, id: MonitorId, signal: Signal) -> Result<Option<Ack>, PushError> {
        let now = now_ms();
        let ack = {
            let mut reg = lock(&self.inner.reg);
            let e = reg.entries.get_mut(&id).ok_or(PushError::NotFound)?;
            if e.halted {
                return Ok(None);
            }
            if e.monitor.paused || e.health.state == State::Paused {
                return Ok(Some(Ack {
                    id,
                    name: e.monitor.name.clone(),
                    state: State::Paused,
                    last_seen_ms: e.seen_ms,
                }));
            }
            let outcome = match signal {
                Signal::Heartbeat | Signal::Up => Outcome::Up,
                Signal::Degraded(m) => Outcome::Degraded(clean_message(m, "reported degraded")),
                Signal::Down(m) => Outcome::Down(clean_message(m, "reported down")),
            };
            e.seen_ms = Some(now);
            e.history.probe(now, !matches!(outcome, Outcome::Down(_)), None);
            let t = e.health.observe(&outcome, 1, 1, now);
            if let Some(t) = &t {
                e.history.set_state(now, t.to);
            }
            let alert = t.as_ref().and_then(|t| Alert::for_transition(&e.monitor, t));
            // Written under the lock so the store sees reports in the order memory did.
            self.inner.store.record_push(id, &e.health, Some(now), alert.as_ref())?;
            if let Some(t) = &t {
                self.announce(&e.monitor, t);
            }
            let ack = Ack {
                id,
                name: e.monitor.name.clone(),
                state: e.health.state,
                last_seen_ms: Some(now),
            };
            self.schedule(&mut reg, id);
            ack
        };
        self.inner.store.flush().await?;
        Ok(Some(ack))
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
                Some((at, id)) if at <= Instant::now() => self.expire(at, id),
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

    /// A deadline passed: the monitor goes DOWN ("no heartbeat for 6m"). Durable with
    /// the store's background flush, like the scheduler's verdicts.
    fn expire(&self, at: Instant, id: MonitorId) {
        let mut reg = lock(&self.inner.reg);
        reg.deadlines.remove(&(at, id));
        let Some(e) = reg.entries.get_mut(&id) else { return };
        let Some((queued, base_ms)) = e.deadline else { return };
        if queued != at {
            return;
        }
        e.deadline = None;
        let now = now_ms();
        let silent = Duration::from_millis(now.saturating_sub(base_ms));
        let reason = format!("no heartbeat for {}", human(silent));
        let Some(t) = e.health.observe(&Outcome::Down(reason), 1, 1, now) else {
            return;
        };
        e.history.set_state(now, t.to);
        let alert = Alert::for_transition(&e.monitor, &t);
        if let Err(err) = self.inner.store.record_push(id, &e.health, None, alert.as_ref()) {
            tracing::error!(monitor = %id, error = %err, "saving a heartbeat timeout failed");
        }
        self.announce(&e.monitor, &t);
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
        Monitor {
            id: MonitorId(1),
            kind: Kind::Push,
            host: "nightly".into(),
            port: None,
            interval: Duration::ZERO,
            timeout: Duration::ZERO,
            fails: 1,
            recovers: 1,
            name: "nightly".into(),
            chat_id: None,
            thread_id: None,
            bot: None,
            paused: false,
            created_ms: 1_000,
            push: Some(PushSettings {
                token: new_token(),
                heartbeat: heartbeat.map(Duration::from_secs),
                grace: Duration::from_secs(60),
                secret: None,
                sign_heartbeats: false,
            }),
            chat_added: false,
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
}
