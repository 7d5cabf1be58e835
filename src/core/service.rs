//! [`Service`]: runs [`Command`]s. Owns validation, ownership scoping, the id and
//! dedupe rules, and the durability rule: a mutation is acknowledged only after the
//! store has flushed it. Keeps a write-through cache of monitors so `list` is a memory
//! read even with tens of thousands of monitors.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::Mutex;

use super::command::{AddRequest, Command, Selector};
use super::error::{CoreError, invalid};
use super::gateway::BotGateway;
use crate::domain::{
    Health, Kind, Monitor, MonitorId, ProbeStats, PushSettings, State, StatsSummary, Target, Transition, now_ms,
    rfc3339,
};
use crate::events::{EventBus, StateEvent};
use crate::metrics::Metrics;
use crate::push::Push;
use crate::scheduler::Scheduler;
use crate::store::Store;

/// The error when a chat is named but no bot can alert it (kept word for word: the WS
/// contract's "chat_id without any bot").
pub const NO_BOT: &str = "chat_id needs a Telegram bot, and none is running (set UPBOT_TELEGRAM_TOKENS)";

/// Smallest probe interval accepted.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);
/// Largest probe interval accepted.
pub const MAX_INTERVAL: Duration = Duration::from_secs(24 * 3600);
/// Smallest probe timeout accepted.
pub const MIN_TIMEOUT: Duration = Duration::from_millis(100);
/// Largest `fails` / `recovers`.
pub const MAX_COUNT: u32 = 100;
/// Longest monitor name.
pub const MAX_NAME: usize = 64;
/// Shortest push heartbeat period (short periods are for tests and fast jobs).
pub const MIN_HEARTBEAT: Duration = Duration::from_secs(1);
/// Longest push heartbeat period or grace.
pub const MAX_HEARTBEAT: Duration = Duration::from_secs(90 * 24 * 3600);
/// Longest push signing secret.
pub const MAX_SECRET: usize = 256;

/// Who is asking; decides what they may see and touch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// The local operator (WS API, CLI): sees every monitor.
    Operator,
    /// A Telegram chat: sees and touches only its own monitors.
    Chat {
        /// The chat.
        chat_id: i64,
        /// Username of the bot the command came through.
        bot: String,
        /// Forum topic the command came from.
        thread_id: Option<i32>,
        /// Whether this user may change monitors (group admins; everyone in private chats).
        can_modify: bool,
    },
}

/// A monitor as every front shows it (the WS "monitor object").
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MonitorView {
    /// Id.
    pub id: MonitorId,
    /// `ping`, `tcp` or `push`.
    pub kind: Kind,
    /// `host`, `host:port` or `[v6]:port`.
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
}

struct Inner {
    store: Store,
    scheduler: Scheduler,
    push: Push,
    events: EventBus,
    metrics: Metrics,
    /// Base of webhook URLs shown to users (`UPBOT_PUBLIC_URL`), no trailing slash.
    public_url: String,
    /// Write-through copy of the `monitors` tree.
    monitors: RwLock<BTreeMap<MonitorId, Monitor>>,
    /// The Telegram front's view of running bots (none registered = no bot).
    gateway: RwLock<Option<Arc<dyn BotGateway>>>,
    /// Serialises mutations so dedupe checks and writes cannot interleave.
    writes: Mutex<()>,
}

/// The command core's handle; cheap to clone.
#[derive(Clone)]
pub struct Service {
    inner: Arc<Inner>,
}

fn secs(d: Duration) -> f64 {
    d.as_millis() as f64 / 1000.0
}

impl Service {
    /// Loads every stored monitor and hands it to the scheduler (push monitors to the
    /// push engine). `public_url` is the base of the webhook URLs shown to users.
    pub fn start(
        store: Store,
        scheduler: Scheduler,
        push: Push,
        events: EventBus,
        metrics: Metrics,
        public_url: &str,
    ) -> Result<Self, CoreError> {
        let mut map = BTreeMap::new();
        for m in store.monitors()? {
            let health = match store.health(m.id)? {
                Some(h) => h,
                None if m.paused => Health::new_paused(now_ms()),
                None => Health::new(now_ms()),
            };
            if m.kind == Kind::Push {
                push.upsert(m.clone(), health);
            } else {
                scheduler.upsert(m.clone(), health);
            }
            map.insert(m.id, m);
        }
        tracing::info!(monitors = map.len(), "monitors loaded");
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                scheduler,
                push,
                events,
                metrics,
                public_url: public_url.trim_end_matches('/').to_string(),
                monitors: RwLock::new(map),
                gateway: RwLock::new(None),
                writes: Mutex::new(()),
            }),
        })
    }

    /// The event bus the scheduler publishes on.
    pub fn events(&self) -> &EventBus {
        &self.inner.events
    }

    /// The store (for fronts that keep their own records, e.g. the Telegram outbox).
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The process metrics (the scheduler, the fronts and the sender report here).
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The push engine (the HTTP receiver resolves tokens and reports through it).
    pub fn push(&self) -> &Push {
        &self.inner.push
    }

    /// Whether the probe scheduler is running (for `/healthz`).
    pub fn scheduler_alive(&self) -> bool {
        self.inner.scheduler.is_alive()
    }

    /// Base of the webhook URLs shown to users.
    pub fn public_url(&self) -> &str {
        &self.inner.public_url
    }

    /// Kind and state of every monitor (for the metrics scrape; a memory read per
    /// monitor where the engines hold live state).
    pub fn monitor_states(&self) -> Vec<(Kind, State)> {
        let all: Vec<Monitor> = self.read_monitors(|all| all.values().cloned().collect());
        all.iter()
            .map(|m| {
                let state = match m.kind {
                    Kind::Push => self.inner.push.live(m.id).map(|h| h.state),
                    _ => self.inner.scheduler.live(m.id).map(|(h, _)| h.state),
                };
                let state = state
                    .or_else(|| self.inner.store.health(m.id).ok().flatten().map(|h| h.state))
                    .unwrap_or(if m.paused { State::Paused } else { State::Pending });
                (m.kind, state)
            })
            .collect()
    }

    /// Registers (or with `None` removes) the Telegram front's bot gateway, which
    /// resolves and checks the bot of operator `add`s that name a chat.
    pub fn set_bot_gateway(&self, gateway: Option<Arc<dyn BotGateway>>) {
        match self.inner.gateway.write() {
            Ok(mut g) => *g = gateway,
            Err(p) => *p.into_inner() = gateway,
        }
    }

    /// Number of monitors.
    pub fn monitor_count(&self) -> usize {
        self.inner.monitors.read().map(|m| m.len()).unwrap_or(0)
    }

    /// Runs one command for `caller`.
    pub async fn execute(&self, caller: &Caller, cmd: Command) -> Result<Reply, CoreError> {
        match cmd {
            Command::Add(req) => self.add(caller, *req).await.map(Reply::Added),
            Command::Del(sel) => self.del(caller, &sel).await.map(Reply::Deleted),
            Command::List { chat_id } => Ok(Reply::List(self.list(caller, chat_id))),
            Command::Status(sel) => self.status(caller, &sel).map(|s| Reply::Status(Box::new(s))),
            Command::Pause(sel) => self.set_paused(caller, &sel, true).await.map(Reply::Paused),
            Command::Resume(sel) => self.set_paused(caller, &sel, false).await.map(Reply::Resumed),
            Command::Rotate(sel) => self.rotate(caller, &sel).await.map(Reply::Rotated),
        }
    }

    async fn resolve_bot(
        &self,
        caller: &Caller,
        chat_id: Option<i64>,
        bot: Option<String>,
    ) -> Result<Option<String>, CoreError> {
        if let Caller::Chat { bot, .. } = caller {
            return Ok(Some(bot.clone()));
        }
        let gateway = match self.inner.gateway.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        };
        match (chat_id, bot) {
            (None, None) => Ok(None),
            (None, Some(_)) => Err(invalid("bot needs a chat_id to alert")),
            (Some(c), bot) => match gateway {
                None => Err(invalid(NO_BOT)),
                Some(g) => g.resolve(bot, c).await.map(Some),
            },
        }
    }

    /// Validates an add request into a monitor (id not yet assigned).
    async fn build(&self, caller: &Caller, req: AddRequest) -> Result<Monitor, CoreError> {
        if req.kind == Some(Kind::Push) {
            return self.build_push(caller, req).await;
        }
        if req.heartbeat.is_some() || req.grace.is_some() || req.secret.is_some() {
            return Err(invalid("heartbeat, grace and secret are for push monitors (kind push)"));
        }
        let target = Target::parse(&req.target, req.kind, req.port).map_err(|e| invalid(e.to_string()))?;
        let interval = req.interval.unwrap_or(Monitor::DEFAULT_INTERVAL);
        if !(MIN_INTERVAL..=MAX_INTERVAL).contains(&interval) {
            return Err(invalid(format!(
                "interval must be between 1s and 24h, got {}",
                humantime::format_duration(interval)
            )));
        }
        let timeout = match req.timeout {
            Some(t) if t > interval => {
                return Err(invalid("timeout must not be longer than the interval"));
            }
            Some(t) if t < MIN_TIMEOUT => return Err(invalid("timeout must be at least 100ms")),
            Some(t) => t,
            None => Monitor::DEFAULT_TIMEOUT.min(interval),
        };
        let count = |name: &str, v: Option<u32>, default: u32| match v {
            None => Ok(default),
            Some(n) if (1..=MAX_COUNT).contains(&n) => Ok(n),
            Some(n) => Err(invalid(format!("{name} must be between 1 and {MAX_COUNT}, got {n}"))),
        };
        let fails = count("fails", req.fails, Monitor::DEFAULT_FAILS)?;
        let recovers = count("recovers", req.recovers, Monitor::DEFAULT_RECOVERS)?;
        let name = match &req.name {
            Some(n) => validate_name(n)?,
            None => target.display(),
        };
        let Owner {
            chat_id,
            thread_id,
            bot,
        } = self.owner(caller, &req).await?;
        Ok(Monitor {
            id: MonitorId(0),
            kind: target.kind,
            host: target.host,
            port: target.port,
            interval,
            timeout,
            fails,
            recovers,
            name,
            chat_id,
            thread_id,
            bot,
            paused: false,
            created_ms: now_ms(),
            push: None,
        })
    }

    /// Who owns a new monitor: the calling chat, or the chat (and bot) an operator named.
    async fn owner(&self, caller: &Caller, req: &AddRequest) -> Result<Owner, CoreError> {
        let (chat_id, thread_id) = match caller {
            Caller::Chat { chat_id, thread_id, .. } => (Some(*chat_id), *thread_id),
            Caller::Operator => (req.chat_id, req.thread_id),
        };
        if let Some(c) = chat_id {
            validate_chat_id(c)?;
        }
        // Last: it may ask the Bot API, so every cheap check has passed first.
        let bot = self.resolve_bot(caller, chat_id, req.bot.clone()).await?;
        Ok(Owner {
            chat_id,
            thread_id,
            bot,
        })
    }

    /// Validates a push monitor: `target` is its name; `heartbeat` (alias `interval`)
    /// and `grace` set the deadline; probe settings do not apply.
    async fn build_push(&self, caller: &Caller, req: AddRequest) -> Result<Monitor, CoreError> {
        if req.port.is_some() || req.timeout.is_some() || req.fails.is_some() || req.recovers.is_some() {
            return Err(invalid(
                "push monitors take heartbeat, grace and secret; port, timeout, fails and recovers do not apply",
            ));
        }
        let host = validate_name(&req.target).map_err(|e| invalid(format!("push monitors need a name: {e}")))?;
        let name = match &req.name {
            Some(n) => validate_name(n)?,
            None => host.clone(),
        };
        let heartbeat = req.heartbeat.or(req.interval);
        if let Some(h) = heartbeat {
            if !(MIN_HEARTBEAT..=MAX_HEARTBEAT).contains(&h) {
                return Err(invalid(format!(
                    "heartbeat must be between 1s and 90 days, got {}",
                    humantime::format_duration(h)
                )));
            }
        }
        let grace = req.grace.unwrap_or(Monitor::DEFAULT_GRACE);
        if !(Duration::from_secs(1)..=MAX_HEARTBEAT).contains(&grace) {
            return Err(invalid(format!(
                "grace must be between 1s and 90 days, got {}",
                humantime::format_duration(grace)
            )));
        }
        let secret = req.secret.as_deref().map(validate_secret).transpose()?;
        let Owner {
            chat_id,
            thread_id,
            bot,
        } = self.owner(caller, &req).await?;
        Ok(Monitor {
            id: MonitorId(0),
            kind: Kind::Push,
            host,
            port: None,
            interval: heartbeat.unwrap_or(Duration::ZERO),
            timeout: Duration::ZERO,
            fails: 1,
            recovers: 1,
            name,
            chat_id,
            thread_id,
            bot,
            paused: false,
            created_ms: now_ms(),
            push: Some(PushSettings {
                token: self.fresh_token(),
                heartbeat,
                grace,
                secret,
                sign_heartbeats: false,
            }),
        })
    }

    /// A token no monitor has (a collision of 256 random bits will not happen, but the
    /// check costs nothing).
    fn fresh_token(&self) -> String {
        loop {
            let t = crate::push::new_token();
            if self.inner.push.lookup(&t).is_none() {
                return t;
            }
        }
    }

    /// Replaces a push monitor's token: the old URLs stop working once this returns.
    async fn rotate(&self, caller: &Caller, sel: &Selector) -> Result<MonitorView, CoreError> {
        check_modify(caller)?;
        let _w = self.inner.writes.lock().await;
        let mut m = self.resolve(caller, sel)?;
        let Some(p) = m.push.as_mut() else {
            return Err(invalid(format!(
                "#{} is not a push monitor; only push monitors have a token",
                m.id
            )));
        };
        p.token = self.fresh_token();
        let (health, stats) = self.live(&m)?;
        self.inner.store.put_monitor(&m, &health).await?;
        self.write_monitors(|all| all.insert(m.id, m.clone()));
        self.engine_upsert(&m, &health);
        tracing::info!(monitor = %m.id, "push token rotated");
        Ok(self.view(&m, Some((health, stats))))
    }

    /// Hands a monitor to the engine that runs its kind.
    fn engine_upsert(&self, m: &Monitor, h: &Health) {
        if m.kind == Kind::Push {
            self.inner.push.upsert(m.clone(), h.clone());
        } else {
            self.inner.scheduler.upsert(m.clone(), h.clone());
        }
    }

    async fn add(&self, caller: &Caller, req: AddRequest) -> Result<MonitorView, CoreError> {
        check_modify(caller)?;
        let mut m = self.build(caller, req).await?;
        {
            // Dedupe and reserve under the lock; the durable write happens outside it so
            // concurrent adds share one flush instead of queueing for one each.
            let _w = self.inner.writes.lock().await;
            let dup = self.read_monitors(|all| {
                all.values()
                    .find(|o| {
                        o.kind == m.kind
                            && o.host.eq_ignore_ascii_case(&m.host)
                            && o.port == m.port
                            && o.chat_id == m.chat_id
                    })
                    .map(|o| o.id)
            });
            if let Some(id) = dup {
                return Err(CoreError::AlreadyExists(if m.kind == Kind::Push {
                    format!("a push monitor named {} already exists as #{id}", m.host)
                } else {
                    format!("{} is already watched as #{id}", m.target())
                }));
            }
            m.id = self.inner.store.next_id()?;
            self.write_monitors(|all| all.insert(m.id, m.clone()));
        }
        let health = Health::new(now_ms());
        if let Err(e) = self.inner.store.put_monitor(&m, &health).await {
            // The client is told it failed, so it must not come back after a restart:
            // undo the unflushed insert (best effort; the disk may still be failing).
            let _ = self.inner.store.delete_monitor(m.id).await;
            self.write_monitors(|all| all.remove(&m.id));
            return Err(e.into());
        }
        self.engine_upsert(&m, &health);
        tracing::info!(monitor = %m.id, target = %m.target(), chat = ?m.chat_id, "monitor added");
        Ok(self.view(&m, Some((health, ProbeStats::default()))))
    }

    async fn del(&self, caller: &Caller, sel: &Selector) -> Result<MonitorView, CoreError> {
        check_modify(caller)?;
        let _w = self.inner.writes.lock().await;
        let m = self.resolve(caller, sel)?;
        let view = self.view(&m, None);
        self.inner.scheduler.remove(m.id);
        self.inner.push.remove(m.id);
        self.inner.store.delete_monitor(m.id).await?;
        self.write_monitors(|all| all.remove(&m.id));
        tracing::info!(monitor = %m.id, "monitor deleted");
        Ok(view)
    }

    async fn set_paused(&self, caller: &Caller, sel: &Selector, pause: bool) -> Result<MonitorView, CoreError> {
        check_modify(caller)?;
        let _w = self.inner.writes.lock().await;
        let mut m = self.resolve(caller, sel)?;
        // Halt probing first, so no probe result can land between reading the state and
        // replacing it (it would be lost, or its verdict announced twice).
        let halted = match m.kind {
            Kind::Push => None,
            _ => self.inner.scheduler.halt(m.id),
        };
        let (mut health, stats) = match halted {
            Some(l) => l,
            None => self.live(&m)?,
        };
        let before = (m.clone(), health.clone());
        let now = now_ms();
        let transition = if pause { health.pause(now) } else { health.resume(now) };
        m.paused = pause;
        let Some(t) = &transition else {
            self.engine_upsert(&before.0, &before.1);
            return Ok(self.view(&m, Some((health, stats))));
        };
        if let Err(e) = self.inner.store.put_monitor(&m, &health).await {
            self.engine_upsert(&before.0, &before.1);
            return Err(e.into());
        }
        self.write_monitors(|all| all.insert(m.id, m.clone()));
        self.engine_upsert(&m, &health);
        self.publish(&m, t);
        tracing::info!(monitor = %m.id, paused = pause, "monitor {}", if pause { "paused" } else { "resumed" });
        Ok(self.view(&m, Some((health, stats))))
    }

    fn list(&self, caller: &Caller, chat_filter: Option<i64>) -> Vec<MonitorView> {
        let visible: Vec<Monitor> = self.read_monitors(|all| {
            all.values()
                .filter(|m| visible_to(caller, m) && chat_filter.is_none_or(|c| m.chat_id == Some(c)))
                .cloned()
                .collect()
        });
        visible.iter().map(|m| self.view(m, None)).collect()
    }

    fn status(&self, caller: &Caller, sel: &Selector) -> Result<StatusView, CoreError> {
        let m = self.resolve(caller, sel)?;
        let (health, stats) = self.live(&m)?;
        let summary = stats.summary(now_ms());
        Ok(StatusView {
            monitor: self.view(&m, Some((health, stats))),
            stats: summary,
        })
    }

    /// Moves every monitor of chat `old` to chat `new` (Telegram upgraded a group to a
    /// supergroup), durably. Returns the monitors moved.
    pub async fn migrate_chat(&self, old: i64, new: i64) -> Result<Vec<MonitorId>, CoreError> {
        validate_chat_id(new)?;
        let _w = self.inner.writes.lock().await;
        let moved: Vec<Monitor> = self.read_monitors(|all| {
            all.values()
                .filter(|m| m.chat_id == Some(old))
                .cloned()
                .map(|mut m| {
                    m.chat_id = Some(new);
                    m
                })
                .collect()
        });
        let items = moved
            .into_iter()
            .map(|m| self.live(&m).map(|(h, _)| (m, h)))
            .collect::<Result<Vec<_>, _>>()?;
        if !items.is_empty() {
            self.inner.store.put_monitors(&items).await?;
        }
        for (m, h) in &items {
            self.write_monitors(|all| all.insert(m.id, m.clone()));
            self.inner.scheduler.upsert(m.clone(), h.clone());
        }
        tracing::info!(old_chat = old, new_chat = new, monitors = items.len(), "chat migrated");
        Ok(items.into_iter().map(|(m, _)| m.id).collect())
    }

    /// Pauses every monitor of `bot` in `chat_id`, durably (the bot can no longer post
    /// there: kicked, blocked, chat deleted). Returns every monitor of that bot in that
    /// chat, including ones that were paused already.
    pub async fn pause_chat(&self, bot: &str, chat_id: i64) -> Result<Vec<MonitorId>, CoreError> {
        let _w = self.inner.writes.lock().await;
        let owned: Vec<Monitor> = self.read_monitors(|all| {
            all.values()
                .filter(|m| m.chat_id == Some(chat_id) && m.bot.as_deref().is_some_and(|b| b.eq_ignore_ascii_case(bot)))
                .cloned()
                .collect()
        });
        let ids = owned.iter().map(|m| m.id).collect();
        let now = now_ms();
        let mut changed = Vec::new();
        for mut m in owned.into_iter().filter(|m| !m.paused) {
            let (mut h, _) = self.live(&m)?;
            let t = h.pause(now);
            m.paused = true;
            changed.push((m, h, t));
        }
        if !changed.is_empty() {
            let items: Vec<(Monitor, Health)> = changed.iter().map(|(m, h, _)| (m.clone(), h.clone())).collect();
            self.inner.store.put_monitors(&items).await?;
        }
        for (m, h, t) in changed {
            self.write_monitors(|all| all.insert(m.id, m.clone()));
            self.inner.scheduler.upsert(m.clone(), h);
            if let Some(t) = t {
                self.publish(&m, &t);
            }
            tracing::info!(monitor = %m.id, chat = chat_id, bot, "monitor paused: the bot can no longer post in its chat");
        }
        Ok(ids)
    }

    /// Publishes a state change of `m` (pause, resume, a chat-wide pause) on the event
    /// bus and counts it; the engines publish their own verdicts.
    pub fn publish(&self, m: &Monitor, t: &Transition) {
        self.inner.metrics.state_change(t.to);
        self.inner.events.state(StateEvent::new(m, t));
    }

    fn read_monitors<T>(&self, f: impl FnOnce(&BTreeMap<MonitorId, Monitor>) -> T) -> T {
        match self.inner.monitors.read() {
            Ok(g) => f(&g),
            Err(p) => f(&p.into_inner()),
        }
    }

    fn write_monitors<T>(&self, f: impl FnOnce(&mut BTreeMap<MonitorId, Monitor>) -> T) -> T {
        match self.inner.monitors.write() {
            Ok(mut g) => f(&mut g),
            Err(p) => f(&mut p.into_inner()),
        }
    }

    fn resolve(&self, caller: &Caller, sel: &Selector) -> Result<Monitor, CoreError> {
        self.read_monitors(|all| match sel {
            Selector::Id(id) => all
                .get(id)
                .filter(|m| visible_to(caller, m))
                .cloned()
                .ok_or_else(|| CoreError::NotFound(format!("no monitor #{id}"))),
            Selector::Host(h) => {
                let h = h.trim();
                let found: Vec<&Monitor> = all
                    .values()
                    .filter(|m| visible_to(caller, m))
                    .filter(|m| m.host.eq_ignore_ascii_case(h) || m.target().eq_ignore_ascii_case(h) || m.name == h)
                    .collect();
                match found.as_slice() {
                    [] => Err(CoreError::NotFound(format!("no monitor for {h:?}"))),
                    [m] => Ok((*m).clone()),
                    many => Err(invalid(format!(
                        "{h:?} matches several monitors ({}); use the id",
                        many.iter().map(|m| format!("#{}", m.id)).collect::<Vec<_>>().join(", ")
                    ))),
                }
            }
        })
    }

    fn live(&self, m: &Monitor) -> Result<(Health, ProbeStats), CoreError> {
        if m.kind == Kind::Push {
            if let Some(h) = self.inner.push.live(m.id) {
                return Ok((h, ProbeStats::default()));
            }
        } else if let Some(l) = self.inner.scheduler.live(m.id) {
            return Ok(l);
        }
        let h = self
            .inner
            .store
            .health(m.id)?
            .unwrap_or_else(|| Health::new(m.created_ms));
        let s = self.inner.store.stats(m.id)?.unwrap_or_default();
        Ok((h, s))
    }

    fn view(&self, m: &Monitor, live: Option<(Health, ProbeStats)>) -> MonitorView {
        let (h, s) = match live {
            Some(l) => l,
            None => self
                .live(m)
                .unwrap_or_else(|_| (Health::new(m.created_ms), ProbeStats::default())),
        };
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
            webhook_url: m
                .push
                .as_ref()
                .map(|p| format!("{}/webhooks/{}", self.inner.public_url, p.token)),
            heartbeat_url: m
                .push
                .as_ref()
                .map(|p| format!("{}/webhooks/{}/heartbeat", self.inner.public_url, p.token)),
            heartbeat: m.push.as_ref().and_then(|p| p.heartbeat).map(secs),
            grace: m.push.as_ref().filter(|p| p.heartbeat.is_some()).map(|p| secs(p.grace)),
            last_heartbeat: self.inner.push.last_seen(m.id).map(rfc3339),
            signed: m.push.as_ref().map(|p| p.secret.is_some()),
        }
    }
}

/// Who a new monitor belongs to.
struct Owner {
    chat_id: Option<i64>,
    thread_id: Option<i32>,
    bot: Option<String>,
}

fn visible_to(caller: &Caller, m: &Monitor) -> bool {
    match caller {
        Caller::Operator => true,
        Caller::Chat { chat_id, .. } => m.chat_id == Some(*chat_id),
    }
}

/// A monitor (or push) name: trimmed, non-empty, short, printable.
fn validate_name(n: &str) -> Result<String, CoreError> {
    let n = n.trim();
    if n.is_empty() {
        return Err(invalid("name must not be empty"));
    }
    if n.chars().count() > MAX_NAME {
        return Err(invalid(format!("name is longer than {MAX_NAME} characters")));
    }
    if n.chars().any(char::is_control) {
        return Err(invalid("name must not contain control characters"));
    }
    Ok(n.to_string())
}

/// A push signing secret: printable, no spaces, at most [`MAX_SECRET`] characters;
/// a `whsec_` secret must carry a base64 key (Standard Webhooks).
fn validate_secret(s: &str) -> Result<String, CoreError> {
    use base64::Engine as _;
    if s.is_empty() || s.len() > MAX_SECRET || s.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(invalid(format!(
            "secret must be 1 to {MAX_SECRET} printable characters without spaces"
        )));
    }
    if let Some(b64) = s.strip_prefix("whsec_") {
        match base64::engine::general_purpose::STANDARD.decode(b64) {
            Ok(k) if !k.is_empty() => {}
            _ => {
                return Err(invalid(
                    "a secret starting with whsec_ must continue with base64 (Standard Webhooks)",
                ));
            }
        }
    }
    Ok(s.to_string())
}

fn check_modify(caller: &Caller) -> Result<(), CoreError> {
    match caller {
        Caller::Chat { can_modify: false, .. } => Err(CoreError::PermissionDenied(
            "only group administrators may change monitors".into(),
        )),
        _ => Ok(()),
    }
}

/// Telegram's chat id ranges (users, basic groups, supergroups/channels); anything else
/// would crash teloxide's throttle worker, so it is refused at the door.
pub fn validate_chat_id(c: i64) -> Result<(), CoreError> {
    let ok = (1..=(1i64 << 40) - 1).contains(&c)
        || (-999_999_999_999..=-1).contains(&c)
        || (-1_997_852_516_352..=-1_000_000_000_001).contains(&c);
    if ok {
        Ok(())
    } else {
        Err(invalid(format!("chat_id {c} is not a valid Telegram chat id")))
    }
}
