//! [`Service`]: the one door of the command core. Runs [`Command`]s (each defined in
//! [`super::cmd`]), owns the write-through cache of monitors (so `list` is a memory
//! read even with tens of thousands of monitors), ownership scoping, the id and dedupe
//! rules, the chat limits, and the durability rule: a mutation is acknowledged only
//! after the store has flushed it.
//!
//! Ids: an `add` reserves its id under the write lock, writes outside it (concurrent
//! adds share one flush), and commits under the lock again. A reserved monitor is not
//! visible to other commands until it is committed, so a `del` racing an `add` finds
//! nothing rather than deleting a monitor whose write is still in flight (which used
//! to leave a ghost that was probed but never listed).

use crate::i18n::{Arg, msg};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use super::cmd::{Command, Selector};
use super::engine::Engines;
use super::error::{CoreError, invalid};
use super::gateway::BotGateway;
use super::pages::Pages;
use super::view::monitor_view;
pub use super::view::{MonitorView, Reply, StatusView};
use crate::domain::{Health, Kind, Monitor, MonitorId, ProbeStats, State, TargetPolicy, Transition, now_ms};
use crate::events::{EventBus, StateEvent};
use crate::metrics::Metrics;
use crate::probe::dns::Resolver;
use crate::push::Push;
use crate::scheduler::Scheduler;
use crate::store::Store;

/// The error when a chat is named but no bot can alert it (kept word for word: the WS
/// contract's "chat_id without any bot").
pub const NO_BOT: &str = "chat_id needs a Telegram bot, and none is running (set UPBOT_TELEGRAM_TOKENS)";

/// Default of `UPBOT_CHAT_MAX_MONITORS`.
pub const DEFAULT_CHAT_MAX_MONITORS: usize = 200;

/// Most DNS lookups the service's resolver runs at once (legacy probes, `/add` checks):
/// input must never be able to fill a thread pool with hung lookups.
pub const MAX_LOOKUPS_IN_FLIGHT: usize = 16;

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

/// What chats may do (`UPBOT_CHAT_TARGETS`, `UPBOT_CHAT_MAX_MONITORS`); the operator is
/// not limited by either.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatSafety {
    /// Addresses chat-added monitors may probe.
    pub targets: TargetPolicy,
    /// Monitors per chat.
    pub max_monitors: usize,
}

impl Default for ChatSafety {
    fn default() -> Self {
        Self {
            targets: TargetPolicy::default(),
            max_monitors: DEFAULT_CHAT_MAX_MONITORS,
        }
    }
}

impl ChatSafety {
    /// The limits a configuration sets.
    pub fn from_config(c: &crate::config::Config) -> Self {
        Self {
            targets: c.chat_targets.clone(),
            max_monitors: c.chat_max_monitors,
        }
    }
}

struct Inner {
    store: Store,
    engines: Engines,
    events: EventBus,
    metrics: Metrics,
    /// Base of webhook URLs shown to users (`UPBOT_PUBLIC_URL`), no trailing slash.
    public_url: String,
    /// Write-through copy of the `monitors` tree (committed monitors only).
    monitors: RwLock<Catalog>,
    /// Monitors whose `add` reserved an id and is writing them (changed only under
    /// `writes`): counted by dedupe and limits, invisible to every other command.
    pending: Mutex<BTreeMap<MonitorId, Monitor>>,
    /// The Telegram front's view of running bots (none registered = no bot).
    gateway: RwLock<Option<Arc<dyn BotGateway>>>,
    /// Chat limits.
    safety: RwLock<ChatSafety>,
    /// DNS cache for `/add` checks and legacy probes, bounded in lookups.
    resolver: RwLock<Resolver>,
    /// Serialises mutations so dedupe checks and writes cannot interleave.
    writes: tokio::sync::Mutex<()>,
    /// Published status pages.
    pages: Pages,
    /// Charts drawn at once (`graph`).
    renders: tokio::sync::Semaphore,
    /// On-call records and chat settings (write-through to the store).
    oncall: super::oncall::Book,
    /// Cluster mode: the cluster layer ([`super::replica`]).
    cluster: std::sync::OnceLock<Arc<dyn super::replica::Cluster>>,
}

/// The committed monitors by id, with what keeps `add`'s checks from scanning all of
/// them: how many monitors share each [`Monitor::target_hash`] (a dedupe scan runs only
/// when that is not zero, so almost never), and how many each chat owns (its limit).
/// Scanning every monitor on each add made 100,000 adds quadratic (263 s).
#[derive(Default)]
pub(crate) struct Catalog {
    /// Shared with the engine that runs each monitor: one copy, not two.
    all: BTreeMap<MonitorId, Arc<Monitor>>,
    targets: std::collections::HashMap<u64, u32>,
    per_chat: std::collections::HashMap<i64, u32>,
}

impl std::ops::Deref for Catalog {
    type Target = BTreeMap<MonitorId, Arc<Monitor>>;

    fn deref(&self) -> &Self::Target {
        &self.all
    }
}

impl Catalog {
    /// Adds or replaces a monitor (as `BTreeMap::insert`).
    pub(crate) fn insert(&mut self, id: MonitorId, m: impl Into<Arc<Monitor>>) -> Option<Arc<Monitor>> {
        let m = m.into();
        self.count(&m, true);
        let old = self.all.insert(id, m);
        if let Some(o) = &old {
            self.count(o, false);
        }
        old
    }

    /// Removes a monitor (as `BTreeMap::remove`).
    pub(crate) fn remove(&mut self, id: &MonitorId) -> Option<Arc<Monitor>> {
        let old = self.all.remove(id);
        if let Some(o) = &old {
            self.count(o, false);
        }
        old
    }

    fn count(&mut self, m: &Monitor, add: bool) {
        fn step<K: std::hash::Hash + Eq>(map: &mut std::collections::HashMap<K, u32>, k: K, add: bool) {
            if add {
                *map.entry(k).or_default() += 1;
            } else if let std::collections::hash_map::Entry::Occupied(mut e) = map.entry(k) {
                *e.get_mut() -= 1;
                if *e.get() == 0 {
                    e.remove();
                }
            }
        }
        step(&mut self.targets, m.target_hash(), add);
        if let Some(c) = m.chat_id {
            step(&mut self.per_chat, c, add);
        }
    }

    /// Whether some monitor may be the same target in the same chat as `m`.
    fn may_hold(&self, m: &Monitor) -> bool {
        self.targets.contains_key(&m.target_hash())
    }

    /// Monitors `chat` owns.
    fn of_chat(&self, chat: i64) -> usize {
        self.per_chat.get(&chat).map_or(0, |n| *n as usize)
    }
}

/// The command core's handle; cheap to clone.
#[derive(Clone)]
pub struct Service {
    inner: Arc<Inner>,
}

fn read<T: Clone>(l: &RwLock<T>) -> T {
    match l.read() {
        Ok(g) => g.clone(),
        Err(p) => p.into_inner().clone(),
    }
}

fn write<T>(l: &RwLock<T>, v: T) {
    match l.write() {
        Ok(mut g) => *g = v,
        Err(p) => *p.into_inner() = v,
    }
}

/// A scoped thread's result; its panic goes on in the caller.
fn joined<T>(h: std::thread::ScopedJoinHandle<'_, T>) -> T {
    h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))
}

impl Service {
    /// Loads every stored monitor and hands it to the engine of its kind.
    /// `public_url` is the base of the webhook URLs shown to users.
    pub fn start(
        store: Store,
        scheduler: Scheduler,
        push: Push,
        events: EventBus,
        metrics: Metrics,
        public_url: &str,
    ) -> Result<Self, CoreError> {
        let engines = Engines { scheduler, push };
        let mut map = Catalog::default();
        // Read in whole passes, not a lookup per monitor (see Store::all_health).
        // The three reads are independent and mostly decoding, so they run side by
        // side (100k monitors: 0.65 s in a row, 0.44-0.53 s on two cores).
        let (healths, stats, monitors) = std::thread::scope(|s| {
            let healths = s.spawn(|| store.all_health());
            let stats = s.spawn(|| store.all_stats());
            let monitors = store.monitors();
            (joined(healths), joined(stats), monitors)
        });
        let mut healths = healths?;
        engines.scheduler.preload_stats(stats?);
        let monitors = monitors?;
        // No probe starts until every monitor is handed over (see Scheduler::hold).
        engines.scheduler.hold();
        for m in monitors {
            let health = match healths.remove(&m.id) {
                Some(h) => h,
                None if m.paused => Health::new_paused(now_ms()),
                None => Health::new(now_ms()),
            };
            let m = Arc::new(m);
            engines.of(m.kind).upsert(m.clone(), health);
            map.insert(m.id, m);
        }
        engines.scheduler.release();
        engines.scheduler.preload_stats(std::collections::HashMap::new());
        tracing::info!(monitors = map.len(), "monitors loaded");
        let pages = Pages::new(store.pages()?);
        let oncall = super::oncall::Book::load(&store)?;
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                engines,
                events,
                metrics,
                public_url: public_url.trim_end_matches('/').to_string(),
                monitors: RwLock::new(map),
                pending: Mutex::new(BTreeMap::new()),
                gateway: RwLock::new(None),
                safety: RwLock::new(ChatSafety::default()),
                resolver: RwLock::new(Resolver::bounded(MAX_LOOKUPS_IN_FLIGHT)),
                writes: tokio::sync::Mutex::new(()),
                pages,
                renders: tokio::sync::Semaphore::new(super::cmd::graph::MAX_RENDERS),
                oncall,
                cluster: std::sync::OnceLock::new(),
            }),
        })
    }

    /// Runs one command for `caller`.
    pub async fn execute(&self, caller: &Caller, cmd: Command) -> Result<Reply, CoreError> {
        cmd.run(self, caller).await
    }

    /// The event bus. A stream by nature: WS sessions subscribe to it, and the
    /// Telegram front publishes chat notices into it (see [`super::door`]).
    pub fn events(&self) -> &EventBus {
        &self.inner.events
    }

    /// The store, for the core and the cluster layer (which replicates it); the fronts
    /// get narrow handles ([`super::door`]).
    pub(crate) fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The process metrics: a sink every part counts into (the scheduler, and each
    /// front for what it serves); the scrape renders it ([`Service::render_metrics`]).
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The push engine, for the core and the cluster layer (which relays reports
    /// between sites); [`Service::push_report`] and [`Service::push_lookup`] are the
    /// fronts' way in.
    pub(crate) fn push(&self) -> &Push {
        &self.inner.engines.push
    }

    /// Whether the probe scheduler is running (for `/healthz`).
    pub fn scheduler_alive(&self) -> bool {
        self.inner.engines.scheduler.is_alive()
    }

    /// Base of the webhook URLs shown to users.
    pub fn public_url(&self) -> &str {
        &self.inner.public_url
    }

    /// Sets the chat limits (`UPBOT_CHAT_TARGETS`, `UPBOT_CHAT_MAX_MONITORS`); the probe
    /// scheduler gets the target policy, which it checks at every probe of a
    /// chat-added monitor.
    pub fn set_chat_safety(&self, safety: ChatSafety) {
        self.inner.engines.scheduler.set_chat_targets(safety.targets.clone());
        write(&self.inner.safety, safety);
    }

    /// The chat limits in force.
    pub fn chat_safety(&self) -> ChatSafety {
        read(&self.inner.safety)
    }

    /// Replaces the DNS cache of `/add` checks and legacy probes (tests inject a
    /// resolver that never answers).
    pub fn set_resolver(&self, resolver: Resolver) {
        write(&self.inner.resolver, resolver);
    }

    /// One TCP check through the probe layer: the bounded DNS cache, then a connect,
    /// retried once if it times out (the legacy dialect's `{"host","tcp"}` results).
    pub async fn tcp_check(&self, host: &str, port: u16, timeout: Duration) -> crate::probe::ProbeResult {
        let resolver = read(&self.inner.resolver);
        let started = tokio::time::Instant::now();
        let addrs = tokio::time::timeout(timeout, resolver.resolve(host))
            .await
            .map_err(|_| crate::probe::ProbeFailure::timeout())??;
        let addr = crate::probe::choose_addr(None, &addrs, |_| true)
            .ok_or_else(|| crate::probe::ProbeFailure::dns("no addresses"))?;
        let left = timeout.saturating_sub(started.elapsed());
        crate::probe::tcp::probe(std::net::SocketAddr::new(addr, port), left)
            .await
            .result
    }

    /// Kind and state of every monitor (for the metrics scrape; a memory read per
    /// monitor where the engines hold live state).
    pub fn monitor_states(&self) -> Vec<(Kind, State)> {
        let all: Vec<Arc<Monitor>> = self.read_monitors(|all| all.values().cloned().collect());
        all.iter()
            .map(|m| {
                let state = self
                    .inner
                    .engines
                    .of(m.kind)
                    .live(m.id)
                    .map(|(h, _)| h)
                    .or_else(|| self.inner.store.health(m.id).ok().flatten())
                    .map(|h| self.shown_health(m.id, h).state)
                    .unwrap_or(if m.paused { State::Paused } else { State::Pending });
                (m.kind, state)
            })
            .collect()
    }

    /// Registers (or with `None` removes) the Telegram front's bot gateway, which
    /// resolves and checks the bot of operator `add`s that name a chat.
    pub fn set_bot_gateway(&self, gateway: Option<Arc<dyn BotGateway>>) {
        write(&self.inner.gateway, gateway);
    }

    /// Number of monitors.
    pub fn monitor_count(&self) -> usize {
        self.read_monitors(BTreeMap::len)
    }

    /// Publishes a state change of `m` (pause, resume, a chat-wide pause) on the event
    /// bus and counts it; the engines publish their own verdicts.
    pub fn publish(&self, m: &Monitor, t: &Transition) {
        self.inner.metrics.state_change(t.to);
        self.inner.events.state(StateEvent::new(m, t));
    }

    /// The address of the status page at `slug`.
    pub fn page_url(&self, slug: &str) -> String {
        format!("{}/status/{slug}", self.inner.public_url)
    }

    // ---- for the commands (`super::cmd`) and chat operations (`super::chat`) ----

    /// The published status pages.
    pub(crate) fn pages(&self) -> &Pages {
        &self.inner.pages
    }

    /// Waits for a turn to draw a chart (at most [`super::cmd::graph::MAX_RENDERS`] at once).
    pub(crate) async fn render_slot(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        self.inner.renders.acquire().await.ok()
    }

    /// The history of `m` over `[from_ms, to_ms)` in steps of `step_ms`: what the store
    /// has, with what its engine recorded but has not saved yet laid over it.
    pub(crate) fn history(
        &self,
        m: &Monitor,
        from_ms: u64,
        to_ms: u64,
        step_ms: u64,
        now_ms: u64,
    ) -> Result<crate::domain::history::Series, CoreError> {
        let unsaved = self.inner.engines.of(m.kind).unsaved_history(m.id, now_ms);
        Ok(self
            .inner
            .store
            .history(m.id, from_ms, to_ms, step_ms, &unsaved, now_ms)?)
    }

    pub(crate) fn engines(&self) -> &Engines {
        &self.inner.engines
    }

    pub(crate) fn book(&self) -> &super::oncall::Book {
        &self.inner.oncall
    }

    pub(crate) fn cluster_slot(&self) -> &std::sync::OnceLock<Arc<dyn super::replica::Cluster>> {
        &self.inner.cluster
    }

    /// Takes the write lock every mutation holds while it checks and changes the cache.
    pub(crate) async fn lock_writes(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.inner.writes.lock().await
    }

    pub(crate) fn read_monitors<T>(&self, f: impl FnOnce(&BTreeMap<MonitorId, Arc<Monitor>>) -> T) -> T {
        self.read_catalog(|c| f(&c.all))
    }

    fn read_catalog<T>(&self, f: impl FnOnce(&Catalog) -> T) -> T {
        match self.inner.monitors.read() {
            Ok(g) => f(&g),
            Err(p) => f(&p.into_inner()),
        }
    }

    pub(crate) fn write_monitors<T>(&self, f: impl FnOnce(&mut Catalog) -> T) -> T {
        match self.inner.monitors.write() {
            Ok(mut g) => f(&mut g),
            Err(p) => f(&mut p.into_inner()),
        }
    }

    /// Whether an `add` on this node reserved `id` and is writing it.
    pub(crate) fn is_reserved(&self, id: MonitorId) -> bool {
        self.pending(|p| p.contains_key(&id))
    }

    fn pending<T>(&self, f: impl FnOnce(&mut BTreeMap<MonitorId, Monitor>) -> T) -> T {
        match self.inner.pending.lock() {
            Ok(mut g) => f(&mut g),
            Err(p) => f(&mut p.into_inner()),
        }
    }

    /// Refuses callers that may not change monitors.
    pub(crate) fn check_modify(&self, caller: &Caller) -> Result<(), CoreError> {
        match caller {
            Caller::Chat { can_modify: false, .. } => Err(CoreError::PermissionDenied(msg!("err-admins-only"))),
            _ => Ok(()),
        }
    }

    /// The committed monitor `sel` names, if `caller` may see it.
    pub(crate) fn resolve(&self, caller: &Caller, sel: &Selector) -> Result<Monitor, CoreError> {
        self.read_monitors(|all| match sel {
            Selector::Id(id) => all
                .get(id)
                .filter(|m| visible_to(caller, m))
                .map(|m| Monitor::clone(m))
                .ok_or_else(|| CoreError::NotFound(msg!("err-no-monitor", id = id.to_string()))),
            Selector::Host(h) => {
                let h = h.trim();
                let found: Vec<&Monitor> = all
                    .values()
                    .map(|m| &**m)
                    .filter(|m| visible_to(caller, m))
                    .filter(|m| m.host.eq_ignore_ascii_case(h) || m.target().eq_ignore_ascii_case(h) || m.name == h)
                    .collect();
                match found.as_slice() {
                    [] => Err(CoreError::NotFound(msg!("err-no-monitor-for", host = format!("{h:?}")))),
                    [m] => Ok((*m).clone()),
                    many => Err(invalid(msg!(
                        "err-several-monitors",
                        host = format!("{h:?}"),
                        ids = many.iter().map(|m| format!("#{}", m.id)).collect::<Vec<_>>().join(", ")
                    ))),
                }
            }
        })
    }

    /// Live state from the monitor's engine, else as stored.
    pub(crate) fn live(&self, m: &Monitor) -> Result<(Health, ProbeStats), CoreError> {
        let (h, s) = match self.inner.engines.of(m.kind).live(m.id) {
            Some(l) => l,
            None => self.stored_state(m)?,
        };
        Ok((self.shown_health(m.id, h), s))
    }

    /// The state as stored (a monitor its engine does not hold).
    pub(crate) fn stored_state(&self, m: &Monitor) -> Result<(Health, ProbeStats), CoreError> {
        let h = self
            .inner
            .store
            .health(m.id)?
            .unwrap_or_else(|| Health::new(m.created_ms));
        let s = self.inner.store.stats(m.id)?.unwrap_or_default();
        Ok((h, s))
    }

    /// Halts `m` in its engine and returns the state it was halted in (as stored when
    /// the engine did not hold it). End with an upsert or remove.
    pub(crate) fn halt(&self, m: &Monitor) -> Result<(Health, ProbeStats), CoreError> {
        match self.inner.engines.of(m.kind).halt(m.id) {
            Some(l) => Ok(l),
            None => self.stored_state(m),
        }
    }

    /// The monitor object of `m` (in `live` state, or as its engine has it now).
    pub(crate) fn view(&self, m: &Monitor, live: Option<(Health, ProbeStats)>) -> MonitorView {
        let live = live.unwrap_or_else(|| {
            self.live(m)
                .unwrap_or_else(|_| (Health::new(m.created_ms), ProbeStats::default()))
        });
        let seen = if m.kind == Kind::Push {
            self.inner.engines.push.last_seen(m.id)
        } else {
            None
        };
        let oncall = self.oncall_view(m, &live.0);
        let mut view = monitor_view(m, live, &self.inner.public_url, seen, oncall);
        view.cluster = self.cluster().map(|c| c.show(m));
        view
    }

    /// The bot that will alert `chat_id` (a chat caller's own; an operator names one).
    pub(crate) async fn resolve_bot(
        &self,
        caller: &Caller,
        chat_id: Option<i64>,
        bot: Option<String>,
    ) -> Result<Option<String>, CoreError> {
        if let Caller::Chat { bot, .. } = caller {
            return Ok(Some(bot.clone()));
        }
        let gateway = read(&self.inner.gateway);
        match (chat_id, bot) {
            (None, None) => Ok(None),
            (None, Some(_)) => Err(invalid("bot needs a chat_id to alert")),
            (Some(c), bot) => match gateway {
                None => Err(invalid(NO_BOT)),
                Some(g) => g.resolve(bot, c).await.map(Some),
            },
        }
    }

    /// A webhook token no monitor has (a collision of 256 random bits will not
    /// happen, but the check costs nothing).
    pub(crate) fn fresh_token(&self) -> String {
        loop {
            let t = crate::push::new_token();
            if self.inner.engines.push.lookup(&t).is_none() {
                return t;
            }
        }
    }

    /// Refuses a chat-added target whose address the chat policy denies: an IP
    /// literal, or a name that resolves to one (a name that does not resolve yet is
    /// let through: every probe checks the address again).
    pub(crate) async fn check_chat_target(&self, host: &str) -> Result<(), CoreError> {
        let policy = read(&self.inner.safety).targets;
        let resolver = read(&self.inner.resolver);
        let addrs = match resolver.resolve(host).await {
            Ok(a) => a,
            Err(e) => {
                tracing::debug!(host, error = %e, "chat target does not resolve yet; probes will check it");
                return Ok(());
            }
        };
        match addrs.iter().find_map(|ip| policy.refusal(*ip)) {
            Some(why) => Err(invalid(msg!("err-target-policy", host = host, why = Arg::Reason(why)))),
            None => Ok(()),
        }
    }

    /// Dedupes `m` against every committed and reserved monitor, applies the chat's
    /// monitor limit, and reserves an id. Until [`Service::commit`] or
    /// [`Service::abandon`], no other command sees it.
    pub(crate) async fn reserve(&self, caller: &Caller, mut m: Monitor) -> Result<Monitor, CoreError> {
        let _w = self.lock_writes().await;
        let same = |o: &Monitor| o.same_target(&m) && o.chat_id == m.chat_id;
        let dup = self
            .read_catalog(|c| {
                c.may_hold(&m)
                    .then(|| c.values().find(|o| same(o)).map(|o| o.id))
                    .flatten()
            })
            .or_else(|| self.pending(|p| p.values().find(|o| same(o)).map(|o| o.id)));
        if let Some(id) = dup {
            return Err(CoreError::AlreadyExists(if m.kind == Kind::Push {
                msg!("err-push-exists", name = m.host.as_str(), id = id.to_string())
            } else {
                msg!("err-already-watched", target = m.target(), id = id.to_string())
            }));
        }
        if let Caller::Chat { chat_id, .. } = caller {
            let max = read(&self.inner.safety).max_monitors;
            let mine = |o: &Monitor| o.chat_id == Some(*chat_id);
            let n =
                self.read_catalog(|c| c.of_chat(*chat_id)) + self.pending(|p| p.values().filter(|o| mine(o)).count());
            if n >= max {
                return Err(invalid(msg!("err-chat-limit", count = n, max = max)));
            }
        }
        m.id = self.new_id().await?;
        self.pending(|p| p.insert(m.id, m.clone()));
        Ok(m)
    }

    /// Makes a reserved monitor visible and starts it (its write is durable).
    pub(crate) async fn commit(&self, m: &Monitor, health: &Health) {
        let _w = self.lock_writes().await;
        self.pending(|p| p.remove(&m.id));
        let m = Arc::new(m.clone());
        self.write_monitors(|all| all.insert(m.id, m.clone()));
        self.inner.engines.of(m.kind).upsert(m, health.clone());
    }

    /// Drops a reservation whose write failed, undoing what may have reached the store
    /// (best effort: the disk may still be failing), so it does not come back at a restart.
    pub(crate) async fn abandon(&self, m: &Monitor) {
        let _w = self.lock_writes().await;
        let _ = self.inner.store.delete_monitor(m.id).await;
        self.pending(|p| p.remove(&m.id));
    }

    /// What the caller should know about a monitor just added: a ping monitor on a
    /// server without ICMP stays pending until upbot may send pings.
    pub(crate) fn add_warnings(&self, m: &Monitor) -> Vec<crate::i18n::Msg> {
        if m.kind != Kind::Ping {
            return self.site_warnings(m);
        }
        let st = self.inner.engines.scheduler.status();
        let why = match m.host.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V4(_)) => st.icmp_v4.err(),
            Ok(std::net::IpAddr::V6(_)) => st.icmp_v6.err(),
            // A name may resolve to either family: warn when neither works.
            Err(_) => st.icmp_v4.err().filter(|_| st.icmp_v6.is_err()),
        };
        why.map(|w| msg!("warn-no-icmp", why = Arg::Reason(w)))
            .into_iter()
            .chain(self.site_warnings(m))
            .collect()
    }
}

/// Whether `caller` may see `m`.
pub(crate) fn visible_to(caller: &Caller, m: &Monitor) -> bool {
    match caller {
        Caller::Operator => true,
        Caller::Chat { chat_id, .. } => m.chat_id == Some(*chat_id),
    }
}

/// Telegram's chat id ranges (users, basic groups, supergroups/channels); anything else
/// is no chat Telegram has, so it is refused at the door rather than queued forever.
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

#[cfg(test)]
mod tests {
    use super::*;

    fn monitor(id: u64, host: &str, chat_id: Option<i64>) -> Monitor {
        Monitor {
            interval: Duration::from_secs(1),
            timeout: Duration::from_millis(900),
            name: host.into(),
            chat_id,
            created_ms: 0,
            ..Monitor::sample(id, crate::domain::Kind::Ping, host, None)
        }
    }

    #[test]
    fn the_catalog_counts_targets_and_chats_through_inserts_replacements_and_removals() {
        let mut c = Catalog::default();
        let a = monitor(1, "10.0.0.1", Some(7));
        c.insert(a.id, a.clone());
        c.insert(MonitorId(2), monitor(2, "10.0.0.2", Some(7)));
        assert!(c.may_hold(&monitor(9, "10.0.0.1", Some(7))));
        assert!(!c.may_hold(&monitor(9, "10.0.0.1", Some(8))), "another chat");
        assert_eq!((c.of_chat(7), c.of_chat(8)), (2, 0));
        // A replacement that moves the monitor to another chat (a group migration).
        let mut moved = a.clone();
        moved.chat_id = Some(8);
        c.insert(a.id, moved.clone());
        assert!(!c.may_hold(&a) && c.may_hold(&moved));
        assert_eq!((c.of_chat(7), c.of_chat(8)), (1, 1));
        c.remove(&a.id);
        c.remove(&MonitorId(2));
        c.remove(&MonitorId(2));
        assert!(c.targets.is_empty() && c.per_chat.is_empty() && c.is_empty());
    }
}
