//! The probe scheduler: runs every active monitor's probes on a dedicated "probe
//! engine" thread, debounces the results into verdicts, keeps live statistics and
//! publishes probe results and state changes on the [`EventBus`].
//!
//! Shape and why:
//! - One OS thread with a tokio **current_thread** runtime. Probing is I/O and timer
//!   work; on one thread it costs about 25 % less CPU than on the multi-thread runtime
//!   (probing.md §4), and the fronts' runtime never competes with probe timing.
//! - More such threads only when one is not enough ([`Shape`]): every monitor runs on
//!   the first engine until the planned probe rate passes [`SPLIT_RATE`]; from then on
//!   each runs on the engine its id picks (the running ones are moved once), so that
//!   monitors added together, which tend to fail together, are spread evenly. One
//!   thread is cheaper while it keeps up (a reply wakes its waiter on the same thread,
//!   and on loopback the kernel even queues the reply before `sendto` returns); past
//!   ~90k probes a second it cannot, and surge-ping's one receive task falls behind the
//!   senders until every reply is late. Each engine has its own ICMP sockets and share
//!   of echo identifiers ([`crate::probe::icmp::Share`]), so a reply is read and
//!   handled on the thread that sent its request.
//! - One task per monitor ([`task`]): sleep until the planned instant, probe, record,
//!   plan the next instant exactly one interval later (no drift). Each monitor starts at
//!   a random phase within its interval (P8), so 10k monitors never fire together,
//!   rounded to a grid of a few milliseconds so that an engine wakes for a batch of
//!   about a hundred probes rather than for every millisecond ([`task::BATCH`]); a
//!   slow probe delays only its own monitor, and missed ticks are skipped, never burst.
//! - A registry of live state (health + stats) behind std mutexes that are never held
//!   across an `.await`. Every write of a task happens under its monitor's live lock and
//!   only while the task's generation is current; [`Scheduler::remove`] and
//!   [`Scheduler::upsert`] bump the generation under that lock, so once they return the
//!   old task can write nothing more (no event, no health save).
//! - The probe thread only probes: every store write goes to the store's writer thread
//!   (a state change is awaited there before memory changes, see [`task`]; streaks and
//!   statistics are queued without waiting).
//! - The steady state writes nothing to disk: health is saved only when it matters
//!   across a restart, statistics every [`STATS_EVERY`] and at shutdown.

mod lag;
mod task;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::domain::history::{Bucket, Recorder};
use crate::domain::{Health, Kind, Monitor, MonitorId, ProbeStats, now_ms};
use crate::events::EventBus;
use crate::probe::dns::Resolver;
use crate::probe::icmp::{IcmpClients, Share};
use crate::store::Store;

/// How often the engine saves every monitor's statistics.
pub const STATS_EVERY: Duration = Duration::from_secs(60);

/// How long the engine waits for probe tasks to notice a stop.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Planned probes per second above which the monitors are spread over every engine
/// thread. One engine spends ~10 µs a probe on loopback (the kernel's reply included),
/// so this is ~40 % of a core: well before it saturates (~90k/s), and far above the
/// 10k a second, which cost ~25 % more CPU when spread over two threads.
pub const SPLIT_RATE: f64 = 40_000.0;

/// At most this many engine threads, however many cores there are (a power of two:
/// the engines split the echo identifiers by their low bits).
const MAX_ENGINES: usize = 4;

/// How the probe work is spread over engine threads.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shape {
    /// Engine threads started: 1, 2 or 4.
    pub(crate) engines: usize,
    /// Planned probes per second above which every engine gets monitors.
    pub(crate) split_rate: f64,
}

impl Shape {
    /// One engine per core, rounded down to a power of two, up to [`MAX_ENGINES`],
    /// split at [`SPLIT_RATE`].
    pub(crate) fn for_this_machine() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let engines = cores.clamp(1, MAX_ENGINES);
        Self {
            engines: 1 << engines.ilog2(),
            split_rate: SPLIT_RATE,
        }
    }
}

/// Planned probes per second of one monitor, in millionths (so loads add exactly).
fn rate_micro(interval: Duration) -> u64 {
    let nanos = interval.as_nanos().max(1);
    u64::try_from(1_000_000_000_000_000 / nanos).unwrap_or(u64::MAX)
}

/// What the probe engine could set up at start (logged, shown in README).
#[derive(Debug, Clone)]
pub struct ProbeStatus {
    /// `Ok` or why ICMPv4 is unavailable.
    pub icmp_v4: Result<(), String>,
    /// `Ok` or why ICMPv6 is unavailable.
    pub icmp_v6: Result<(), String>,
}

/// Counters of the probe engine since start or the last [`Scheduler::reset_metrics`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SchedulerMetrics {
    /// Probes that succeeded.
    pub probes_ok: u64,
    /// Probes that failed (any reason, permission failures included).
    pub probes_failed: u64,
    /// Probes whose timeout the engine was too far behind to judge (noticed late, or
    /// while its ICMP reader was behind): not counted toward a verdict, nor in
    /// `probes_ok`/`probes_failed`.
    pub probes_late: u64,
    /// Monitor tasks currently running (not reset).
    pub monitors_running: u64,
    /// Median schedule lag (actual probe start − planned instant).
    pub lag_p50: Duration,
    /// 99th-percentile schedule lag.
    pub lag_p99: Duration,
    /// Largest schedule lag.
    pub lag_max: Duration,
}

#[derive(Default)]
struct Metrics {
    ok: AtomicU64,
    failed: AtomicU64,
    late: AtomicU64,
    /// When the last "engine behind" warning was logged (ms since the epoch).
    late_warned_ms: AtomicU64,
    running: AtomicU64,
    lag: lag::LagHistogram,
}

/// One monitor's live state, shared by its task and the scheduler's readers.
struct Live {
    health: Health,
    stats: ProbeStats,
    /// Bumped whenever the task that may write here changes or the monitor is removed;
    /// a task writes only while this equals the generation it was started with.
    generation: u64,
    /// Statistics changed since they were last saved.
    stats_dirty: bool,
    /// The monitor was removed: nothing may be saved for it any more.
    removed: bool,
    /// Its history since the last save (minutes, time per state).
    history: Recorder,
}

type LiveRef = Arc<Mutex<Live>>;

struct Entry {
    /// Shared with the running task.
    monitor: Arc<Monitor>,
    live: LiveRef,
    /// Aborts the running task; `None` when not probing (paused, push). An abort
    /// rather than a cancellation token per task: the token cost ~120 bytes a monitor
    /// and a lock on every wake-up of every task (its `cancelled()` future was polled
    /// in each of the task's selects), for what an abort does for free.
    task: Option<tokio::task::AbortHandle>,
    /// The engine the task runs on and the load it adds there ([`rate_micro`]).
    charged: Option<(u8, u64)>,
}

/// State shared by the handle, the engine thread and every monitor task.
struct Shared {
    store: Store,
    events: EventBus,
    /// Stops everything (the app's shutdown token, or [`Scheduler::shutdown`]).
    stop: CancellationToken,
    /// The engine runtimes, for spawning from any thread; each runs its own ICMP
    /// sockets' receive tasks, and the first one the chores too.
    engines: Vec<tokio::runtime::Handle>,
    /// Planned probe rate of each engine ([`rate_micro`] units), changed only under the
    /// registry lock.
    loads: Vec<AtomicU64>,
    /// Where the grid of first probes starts ([`task::on_grid`]).
    epoch: tokio::time::Instant,
    /// Planned probes per second above which every engine gets monitors.
    split_micro: u64,
    /// The split rate was passed: monitors run on the engine their id picks. Never
    /// unset (moving tasks back costs more than two half-idle threads).
    spread: AtomicBool,
    tracker: TaskTracker,
    /// Each engine's ICMP sockets, by engine.
    icmp: Vec<IcmpClients>,
    dns: Resolver,
    registry: Mutex<HashMap<MonitorId, Entry>>,
    /// Monitors whose task waits for [`Scheduler::release`] (`None`: not holding).
    /// Taken under the registry lock, after it.
    held: Mutex<Option<Vec<MonitorId>>>,
    /// Statistics read in one pass at start ([`Scheduler::preload_stats`]), taken by
    /// the first upsert of each monitor instead of a store lookup.
    preloaded: Mutex<HashMap<MonitorId, ProbeStats>>,
    metrics: Metrics,
    /// Process-wide Prometheus metrics (probes by result, durations, state changes).
    prom: crate::metrics::Metrics,
    /// The missing-CAP_NET_RAW warning was logged (once per engine, not per probe).
    permission_warned: AtomicBool,
    /// `UPBOT_CHAT_TARGETS`, checked at every probe of a chat-added monitor (shared
    /// with the http and dns probes, which check it on every address they reach).
    chat_targets: Arc<std::sync::OnceLock<crate::domain::TargetPolicy>>,
    /// The http probe's shared client.
    http: crate::probe::http::HttpProber,
    /// The dns probe's resolvers.
    records: crate::probe::records::RecordProber,
    /// Cluster mode: this node's site; monitors that name other sites are not probed.
    site: std::sync::OnceLock<String>,
}

/// Cancels the engine when the last handle goes away, so a forgotten scheduler does
/// not keep probing.
struct Engine {
    stop: CancellationToken,
    /// Every engine thread, the first one first.
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
    /// Fires when the engine thread has finished its work (so shutdown can await it
    /// instead of blocking a thread on `join`).
    done: Mutex<Option<tokio::sync::oneshot::Receiver<()>>>,
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Handle to the scheduler; cheap to clone.
#[derive(Clone)]
pub struct Scheduler {
    shared: Arc<Shared>,
    engine: Arc<Engine>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Scheduler {
    /// Starts the probe engine thread, opening the shared ICMP sockets on it.
    /// Cancelling `shutdown` stops every probe; [`Scheduler::shutdown`] also saves
    /// statistics and waits for the thread.
    pub fn start(
        store: Store,
        events: EventBus,
        prom: crate::metrics::Metrics,
        shutdown: CancellationToken,
    ) -> std::io::Result<Self> {
        Self::start_with(store, events, prom, shutdown, IcmpClients::for_share)
    }

    /// [`Scheduler::start`] with a chosen way to open the ICMP sockets (tests use
    /// [`IcmpClients::unavailable`] to exercise the no-`CAP_NET_RAW` path as root).
    pub(crate) fn start_with(
        store: Store,
        events: EventBus,
        prom: crate::metrics::Metrics,
        shutdown: CancellationToken,
        open_icmp: impl Fn(Share) -> IcmpClients,
    ) -> std::io::Result<Self> {
        Self::start_shaped(store, events, prom, shutdown, open_icmp, Shape::for_this_machine())
    }

    /// [`Scheduler::start_with`] on a chosen number of engine threads.
    pub(crate) fn start_shaped(
        store: Store,
        events: EventBus,
        prom: crate::metrics::Metrics,
        shutdown: CancellationToken,
        open_icmp: impl Fn(Share) -> IcmpClients,
        shape: Shape,
    ) -> std::io::Result<Self> {
        let count = shape.engines.clamp(1, MAX_ENGINES).next_power_of_two();
        let runtimes = (0..count)
            .map(|_| tokio::runtime::Builder::new_current_thread().enable_all().build())
            .collect::<std::io::Result<Vec<_>>>()?;
        // surge-ping spawns each socket's receive task on the current runtime: each
        // engine's on its own.
        let icmp = runtimes
            .iter()
            .enumerate()
            .map(|(i, rt)| {
                let _guard = rt.enter();
                open_icmp(Share {
                    index: i as u16,
                    count: count as u16,
                })
            })
            .collect();
        let dns = Resolver::new();
        let chat_targets = Arc::new(std::sync::OnceLock::new());
        let shared = Arc::new(Shared {
            http: crate::probe::http::HttpProber::new(dns.clone(), chat_targets.clone()),
            records: crate::probe::records::RecordProber::new(dns.clone(), chat_targets.clone()),
            store,
            events,
            stop: shutdown.clone(),
            engines: runtimes.iter().map(|rt| rt.handle().clone()).collect(),
            loads: runtimes.iter().map(|_| AtomicU64::new(0)).collect(),
            epoch: tokio::time::Instant::now(),
            split_micro: (shape.split_rate.max(0.0) * 1e6) as u64,
            spread: AtomicBool::new(false),
            tracker: TaskTracker::new(),
            icmp,
            dns,
            registry: Mutex::new(HashMap::new()),
            held: Mutex::new(None),
            preloaded: Mutex::new(HashMap::new()),
            metrics: Metrics::default(),
            prom,
            permission_warned: AtomicBool::new(false),
            chat_targets,
            site: std::sync::OnceLock::new(),
        });
        let (done_tx, done) = tokio::sync::oneshot::channel();
        let mut threads = Vec::with_capacity(runtimes.len());
        let mut done_tx = Some(done_tx);
        for (i, rt) in runtimes.into_iter().enumerate() {
            let sh = shared.clone();
            let name = if i == 0 {
                "probe-engine".to_string()
            } else {
                format!("probe-engine-{i}")
            };
            let first = i == 0;
            let done_tx = if first { done_tx.take() } else { None };
            let thread = std::thread::Builder::new().name(name).spawn(move || {
                raise_priority();
                if first {
                    rt.block_on(engine_main(sh.clone()));
                } else {
                    rt.block_on(engine_extra(sh.clone()));
                }
                drop(rt);
                if let Some(done_tx) = done_tx {
                    // Queued behind every earlier write, before the app's final flush.
                    save_stats(&sh);
                    tracing::info!("probe engine stopped; statistics queued for saving");
                    let _ = done_tx.send(());
                }
            });
            match thread {
                Ok(t) => threads.push(t),
                Err(e) => {
                    shutdown.cancel();
                    return Err(e);
                }
            }
        }
        Ok(Self {
            shared,
            engine: Arc::new(Engine {
                stop: shutdown,
                threads: Mutex::new(threads),
                done: Mutex::new(Some(done)),
            }),
        })
    }

    /// Whether the probe engine thread is still running (for `/healthz`).
    pub fn is_alive(&self) -> bool {
        !self.shared.stop.is_cancelled() && {
            let threads = lock(&self.engine.threads);
            !threads.is_empty() && threads.iter().all(|t| !t.is_finished())
        }
    }

    /// Sets the policy every probe of a chat-added monitor checks its address against
    /// (once; the default is interface.md's). See [`crate::domain::policy`].
    pub fn set_chat_targets(&self, policy: crate::domain::TargetPolicy) {
        let _ = self.shared.chat_targets.set(policy);
    }

    /// Cluster mode: this node's site (once, before monitors are handed over). A
    /// monitor whose `sites` leave it out is kept but not probed here.
    pub fn set_site(&self, site: &str) {
        let _ = self.shared.site.set(site.to_string());
    }

    /// Makes https monitors trust `roots` too, besides Mozilla's (`UPBOT_EXTRA_CA_FILE`).
    /// Call before monitors are loaded.
    pub fn set_extra_roots(&self, roots: Vec<rustls::pki_types::CertificateDer<'static>>) {
        self.shared.http.set_extra_roots(roots);
    }

    /// What is available.
    pub fn status(&self) -> ProbeStatus {
        ProbeStatus {
            icmp_v4: self.shared.icmp[0].v4_status(),
            icmp_v6: self.shared.icmp[0].v6_status(),
        }
    }

    /// Starts, restarts or (if paused) stops probing `monitor`, with `health` as its live
    /// state. Statistics are kept across restarts (loaded from the store the first time).
    pub fn upsert(&self, monitor: Monitor, health: Health) {
        self.upsert_shared(Arc::new(monitor), health);
    }

    /// [`Scheduler::upsert`] of a monitor the caller keeps too (the service's cache
    /// shares its copy).
    pub fn upsert_shared(&self, monitor: Arc<Monitor>, health: Health) {
        let sh = &self.shared;
        let id = monitor.id;
        let mut reg = lock(&sh.registry);
        let entry = reg.entry(id).or_insert_with(|| {
            let preloaded = lock(&sh.preloaded).remove(&id);
            let stats = preloaded
                .or_else(|| sh.store.stats(id).ok().flatten())
                .unwrap_or_default();
            Entry {
                monitor: monitor.clone(),
                live: Arc::new(Mutex::new(Live {
                    health: health.clone(),
                    stats,
                    generation: 0,
                    stats_dirty: false,
                    removed: false,
                    history: Recorder::new(now_ms(), health.state),
                })),
                task: None,
                charged: None,
            }
        });
        let generation = sh.retire(entry);
        {
            let mut live = lock(&entry.live);
            live.history.set_state(now_ms(), health.state);
            live.health = health;
        }
        entry.monitor = monitor.clone();
        let elsewhere = sh.site.get().is_some_and(|s| !monitor.probed_from(s));
        if monitor.paused || monitor.kind == Kind::Push || sh.stop.is_cancelled() || elsewhere {
            tracing::debug!(monitor = %id, paused = monitor.paused, elsewhere, "not probing");
            return;
        }
        if let Some(held) = lock(&sh.held).as_mut() {
            held.push(id);
            return;
        }
        sh.spawn(entry, generation);
        if sh.should_spread(0) {
            sh.spread(&mut reg);
        }
    }

    /// Holds back the tasks of the monitors upserted from now until [`Scheduler::release`]:
    /// while the app loads every stored monitor at start, probes started at once would
    /// take the CPU the load needs (100k: the app was up after 2.2 s with them).
    pub fn hold(&self) {
        lock(&self.shared.held).get_or_insert_with(Vec::new);
    }

    /// Starts the tasks held back since [`Scheduler::hold`] (each at its random phase,
    /// as always), and upserts start theirs at once again.
    pub fn release(&self) {
        let sh = &self.shared;
        let mut reg = lock(&sh.registry);
        let Some(mut held) = lock(&sh.held).take() else { return };
        // A monitor upserted twice while held is in the list twice.
        held.sort_unstable();
        held.dedup();
        // Spread first if they will pass the split rate: started on one engine and then
        // moved, half of 100k tasks would be spawned twice.
        let adding = held
            .iter()
            .filter_map(|id| reg.get(id))
            .filter(|e| e.task.is_none())
            .map(|e| rate_micro(e.monitor.interval))
            .sum();
        if sh.should_spread(adding) {
            sh.spread(&mut reg);
        }
        for id in held {
            let Some(entry) = reg.get_mut(&id) else { continue };
            if entry.task.is_some() || sh.stop.is_cancelled() {
                continue;
            }
            let generation = lock(&entry.live).generation;
            sh.spawn(entry, generation);
        }
    }

    /// Statistics for the monitors about to be upserted (read at start in one pass);
    /// each is used once, by its monitor's first upsert. Replaces what is left from
    /// an earlier call, so an empty map frees what nobody took.
    pub fn preload_stats(&self, stats: HashMap<MonitorId, ProbeStats>) {
        *lock(&self.shared.preloaded) = stats;
    }

    /// Stops probing at once and forgets the monitor. Once this returns, its task
    /// publishes and saves nothing more.
    pub fn remove(&self, id: MonitorId) {
        let mut reg = lock(&self.shared.registry);
        if let Some(mut e) = reg.remove(&id) {
            self.shared.retire(&mut e);
            lock(&e.live).removed = true;
        }
    }

    /// Stops probing `id` but keeps it, and returns its live state as of now. Nothing
    /// can change that state until the next [`Scheduler::upsert`], so a caller may
    /// derive a new state from it (pause, resume) without racing a probe.
    pub fn halt(&self, id: MonitorId) -> Option<(Health, ProbeStats)> {
        let mut reg = lock(&self.shared.registry);
        let e = reg.get_mut(&id)?;
        self.shared.retire(e);
        let live = lock(&e.live);
        Some((live.health.clone(), live.stats.clone()))
    }

    /// Live health and statistics.
    pub fn live(&self, id: MonitorId) -> Option<(Health, ProbeStats)> {
        let live = lock(&self.shared.registry).get(&id).map(|e| e.live.clone())?;
        let l = lock(&live);
        Some((l.health.clone(), l.stats.clone()))
    }

    /// Every monitor here, in id order: the periodic history save takes theirs a
    /// batch at a time.
    pub fn history_ids(&self) -> Vec<MonitorId> {
        let mut ids: Vec<MonitorId> = lock(&self.shared.registry).keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    /// Hands over the history minutes `ids` recorded (those still here).
    pub fn take_history(&self, ids: &[MonitorId], now_ms: u64) -> Vec<(MonitorId, Vec<(u64, Bucket)>)> {
        let lives: Vec<(MonitorId, LiveRef)> = {
            let reg = lock(&self.shared.registry);
            ids.iter()
                .filter_map(|id| reg.get(id).map(|e| (*id, e.live.clone())))
                .collect()
        };
        lives
            .into_iter()
            .filter_map(|(id, live)| {
                let minutes = lock(&live).history.take(now_ms);
                (!minutes.is_empty()).then_some((id, minutes))
            })
            .collect()
    }

    /// The history minutes `id` recorded and has not handed over yet.
    pub fn unsaved_history(&self, id: MonitorId, now_ms: u64) -> Vec<(u64, Bucket)> {
        let live = lock(&self.shared.registry).get(&id).map(|e| e.live.clone());
        live.map(|l| lock(&l).history.peek(now_ms)).unwrap_or_default()
    }

    /// The monitor as the scheduler last received it.
    pub fn monitor(&self, id: MonitorId) -> Option<Monitor> {
        lock(&self.shared.registry).get(&id).map(|e| Monitor::clone(&e.monitor))
    }

    /// Probe counters and schedule lag (cheap; the benchmark polls it).
    pub fn metrics(&self) -> SchedulerMetrics {
        let m = &self.shared.metrics;
        SchedulerMetrics {
            probes_ok: m.ok.load(Ordering::Relaxed),
            probes_failed: m.failed.load(Ordering::Relaxed),
            probes_late: m.late.load(Ordering::Relaxed),
            monitors_running: m.running.load(Ordering::Relaxed),
            lag_p50: m.lag.quantile(0.50),
            lag_p99: m.lag.quantile(0.99),
            lag_max: m.lag.max(),
        }
    }

    /// Planned probes per second on each engine thread.
    #[cfg(test)]
    fn engine_loads(&self) -> Vec<f64> {
        self.shared
            .loads
            .iter()
            .map(|l| l.load(Ordering::Relaxed) as f64 / 1e6)
            .collect()
    }

    /// How many times the monitor's task was started or stopped (its generation).
    #[cfg(test)]
    fn generation(&self, id: MonitorId) -> Option<u64> {
        let live = lock(&self.shared.registry).get(&id).map(|e| e.live.clone())?;
        Some(lock(&live).generation)
    }

    /// Zeroes the probe counters and the lag histogram (not `monitors_running`).
    pub fn reset_metrics(&self) {
        let m = &self.shared.metrics;
        m.ok.store(0, Ordering::Relaxed);
        m.failed.store(0, Ordering::Relaxed);
        m.late.store(0, Ordering::Relaxed);
        m.lag.reset();
    }
}

impl Scheduler {
    /// Stops every probe, saves statistics, and waits for the engine thread to end.
    pub async fn shutdown(&self) {
        self.shared.stop.cancel();
        let done = lock(&self.engine.done).take();
        if let Some(done) = done {
            // An error means the thread ended without saying so: it panicked.
            if done.await.is_err() {
                tracing::error!("probe engine thread panicked");
            }
        }
        // The first engine waited for every task, so the others are ending too.
        let threads = std::mem::take(&mut *lock(&self.engine.threads));
        for t in threads {
            let _ = t.join();
        }
    }
}

/// The engine thread's main future: periodic chores until stopped, then wait for the
/// monitor tasks to end.
async fn engine_main(sh: Arc<Shared>) {
    let mut chores = tokio::time::interval_at(tokio::time::Instant::now() + STATS_EVERY, STATS_EVERY);
    chores.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            () = sh.stop.cancelled() => break,
            _ = chores.tick() => {
                sh.dns.prune();
                save_stats(&sh);
            }
        }
    }
    // Every task stops at its next await point (a probe in flight is dropped).
    for e in lock(&sh.registry).values_mut() {
        if let Some(t) = e.task.take() {
            t.abort();
        }
    }
    sh.tracker.close();
    if tokio::time::timeout(STOP_GRACE, sh.tracker.wait()).await.is_err() {
        tracing::warn!("some probe tasks did not stop within {STOP_GRACE:?}");
    }
}

/// Nice value of the engine threads when allowed (root, or `CAP_SYS_NICE`).
const ENGINE_NICE: i32 = -5;

/// Puts the calling engine thread ahead of the fronts and the store writer when the
/// CPUs are busy. An engine that falls behind is hard to bring back: surge-ping's
/// receive task reads at most 128 replies per turn of the runtime's queue, and a longer
/// queue gives it fewer turns. At 100k monitors with a fifth of them failing at once,
/// the engines fell behind in 3 runs of 3 at the default priority, 1 of 3 at nice -5.
/// Without the privilege (root or `CAP_SYS_NICE`) this changes nothing.
fn raise_priority() {
    #[cfg(target_os = "linux")]
    #[allow(unsafe_code)]
    {
        // SAFETY: plain syscalls on the calling thread's own id; no memory is passed.
        let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, ENGINE_NICE) };
        if rc != 0 {
            tracing::debug!(
                error = %std::io::Error::last_os_error(),
                "probe engine keeps the default priority (needs CAP_SYS_NICE)"
            );
        }
    }
}

/// Any engine but the first: runs its share of the monitor tasks until they have all
/// stopped (the first engine aborts them), since an aborted task still needs its own
/// runtime to finish.
async fn engine_extra(sh: Arc<Shared>) {
    sh.stop.cancelled().await;
    if tokio::time::timeout(STOP_GRACE, sh.tracker.wait()).await.is_err() {
        tracing::warn!("some probe tasks did not stop within {STOP_GRACE:?}");
    }
}

impl Shared {
    /// Counts a probe whose timeout the engine was too far behind to judge (see
    /// [`task::failure_counts`]), and says so in the log at most once a minute.
    fn late_probe(&self, m: &Monitor) {
        let n = self.metrics.late.fetch_add(1, Ordering::Relaxed) + 1;
        let now = now_ms();
        let last = self.metrics.late_warned_ms.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= 60_000
            && self
                .metrics
                .late_warned_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(
                monitor = %m.id,
                late_probes = n,
                "the probe engine is behind: timeouts it notices more than {:?} late, or while its ICMP reader is behind, are not counted toward verdicts until it catches up",
                task::LATE
            );
        }
    }

    /// The engine `id`'s task runs on.
    fn engine_for(&self, id: MonitorId) -> usize {
        if self.spread.load(Ordering::Relaxed) {
            (id.0 % self.engines.len() as u64) as usize
        } else {
            0
        }
    }

    /// Spawns the entry's task on its engine and charges the engine. Under the
    /// registry lock, so the engine's stop (which aborts every registered task under
    /// that lock once `stop` is set) cannot miss it.
    fn spawn(self: &Arc<Self>, entry: &mut Entry, generation: u64) {
        let monitor = entry.monitor.clone();
        let id = monitor.id;
        let rate = rate_micro(monitor.interval);
        let engine = self.engine_for(id);
        // A debug span: at the default level every live span costs its bytes in the
        // log subscriber (100k tasks: 34 MiB, and ~4 % of a core entering them), so the
        // task's events at info and above name their monitor themselves.
        let span = tracing::debug_span!("probe", monitor = %id);
        let run = task::MonitorTask::new(self.clone(), monitor, entry.live.clone(), generation, engine).run();
        let spawned = if span.is_disabled() {
            // Without the span the task is 40 bytes smaller, which can be a 128-byte
            // step of tokio's cache-line aligned task cells.
            self.engines[engine].spawn(self.tracker.track_future(run))
        } else {
            self.engines[engine].spawn(self.tracker.track_future(run.instrument(span)))
        };
        entry.task = Some(spawned.abort_handle());
        self.loads[engine].fetch_add(rate, Ordering::Relaxed);
        entry.charged = Some((engine as u8, rate));
    }

    /// Whether the planned rate, with `adding` more about to start, passes the split
    /// rate for the first time.
    fn should_spread(&self, adding: u64) -> bool {
        self.engines.len() > 1
            && !self.spread.load(Ordering::Relaxed)
            && self.loads.iter().map(|l| l.load(Ordering::Relaxed)).sum::<u64>() + adding > self.split_micro
    }

    /// From now on monitors run on the engine their id picks; moves the running tasks
    /// that are elsewhere (a move is a restart of the task: its live state stays, a
    /// probe in flight is dropped, the next one starts within an interval).
    fn spread(self: &Arc<Self>, reg: &mut HashMap<MonitorId, Entry>) {
        self.spread.store(true, Ordering::Relaxed);
        let mut moved = 0usize;
        for (id, entry) in reg.iter_mut() {
            let Some((engine, _)) = entry.charged else { continue };
            if usize::from(engine) == self.engine_for(*id) {
                continue;
            }
            let generation = self.retire(entry);
            self.spawn(entry, generation);
            moved += 1;
        }
        tracing::info!(
            engines = self.engines.len(),
            moved,
            "planned probe rate passed {} a second: probing on every engine thread",
            self.split_micro / 1_000_000
        );
    }

    /// Stops the entry's task and takes back its load, and bumps the generation so
    /// that task can write nothing more (it may still be finishing on its engine).
    /// Returns the new generation. Under the registry lock.
    fn retire(&self, e: &mut Entry) -> u64 {
        if let Some(t) = e.task.take() {
            t.abort();
        }
        if let Some((engine, rate)) = e.charged.take() {
            let _ = self.loads[usize::from(engine)]
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |l| Some(l.saturating_sub(rate)));
        }
        let mut live = lock(&e.live);
        live.generation += 1;
        live.generation
    }
}

/// Queues a save of the statistics that changed since the last one. Collecting and
/// encoding 10k records takes long enough to show up as probe lag, so both happen on
/// the store's writer thread.
fn save_stats(sh: &Arc<Shared>) {
    /// Records copied at a time.
    const BATCH: usize = 1024;
    let s = sh.clone();
    let mut lives: Option<std::vec::IntoIter<(MonitorId, LiveRef)>> = None;
    sh.store.save_stats_with(move || {
        let lives = lives.get_or_insert_with(|| {
            let mut all: Vec<(MonitorId, LiveRef)> =
                lock(&s.registry).iter().map(|(id, e)| (*id, e.live.clone())).collect();
            // In key order: consecutive writes then land on the same tree pages. In the
            // registry's hash order each one needed another page than the last, and with
            // more monitors than sled's cache holds, read it from disk (100k: 2.5 s a save).
            all.sort_unstable_by_key(|(id, _)| *id);
            all.into_iter()
        });
        let mut batch = Vec::new();
        for (id, live) in lives.by_ref() {
            let mut l = lock(&live);
            if l.removed || !l.stats_dirty {
                continue;
            }
            l.stats_dirty = false;
            batch.push((id, l.stats.clone()));
            if batch.len() == BATCH {
                break;
            }
        }
        (!batch.is_empty()).then_some(batch)
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{State, now_ms};
    use crate::events::Subscription;
    use crate::probe::icmp::NO_RAW_SOCKET;

    const WAIT: Duration = Duration::from_secs(10);

    fn monitor(id: u64, kind: Kind, host: &str, port: Option<u16>) -> Monitor {
        Monitor {
            interval: Duration::from_millis(50),
            timeout: Duration::from_millis(40),
            fails: 2,
            created_ms: now_ms(),
            ..Monitor::sample(id, kind, host, port)
        }
    }

    async fn add(s: &Scheduler, store: &Store, m: &Monitor) {
        let h = Health::new(now_ms());
        store.put_monitor(m, &h).await.unwrap();
        s.upsert(m.clone(), h);
    }

    /// Waits for the next probe event of `id`.
    async fn next_probe(sub: &mut Subscription, id: MonitorId) -> Arc<crate::events::ProbeEvent> {
        tokio::time::timeout(WAIT, async {
            loop {
                let ev = sub.probe.recv().await.unwrap();
                if ev.monitor_id == id {
                    return ev;
                }
            }
        })
        .await
        .expect("a probe event in time")
    }

    async fn listener() -> (tokio::net::TcpListener, u16) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        (l, port)
    }

    /// A scheduler on `store` and `events`, with its own metrics and stop token.
    fn engine(store: &Store, events: &EventBus) -> Scheduler {
        Scheduler::start(
            store.clone(),
            events.clone(),
            crate::metrics::Metrics::new(),
            CancellationToken::new(),
        )
        .unwrap()
    }

    /// Accepts and drops connections so the backlog never fills.
    fn serve(l: tokio::net::TcpListener) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            while let Ok((c, _)) = l.accept().await {
                drop(c);
            }
        })
    }

    #[tokio::test]
    async fn tcp_up_steady_state_writes_nothing_and_shutdown_saves_stats() {
        let (store, s, mut sub, port, server) = serving().await;
        let m = monitor(1, Kind::Tcp, "127.0.0.1", Some(port));
        add(&s, &store, &m).await;
        let ev = tokio::time::timeout(WAIT, sub.state.recv()).await.unwrap().unwrap();
        assert_eq!((ev.from, ev.to, ev.announce), (State::Pending, State::Up, true));
        assert_eq!(
            (ev.name.as_str(), ev.target.clone()),
            ("m1", format!("127.0.0.1:{port}"))
        );
        while sub.probe.try_recv().is_ok() {}
        for _ in 0..4 {
            assert!(next_probe(&mut sub, m.id).await.ok);
        }
        let (live, stats) = s.live(m.id).unwrap();
        assert_eq!(live.state, State::Up);
        assert!(live.streak >= 6, "{live:?}");
        // The store still holds the health written at the transition.
        let saved = store.health(m.id).unwrap().unwrap();
        assert_eq!((saved.state, saved.streak), (State::Up, 2));
        assert!(stats.summary(now_ms()).probes >= 6);
        let metrics = s.metrics();
        assert_eq!(metrics.monitors_running, 1);
        assert!(metrics.probes_ok >= 6 && metrics.probes_failed == 0, "{metrics:?}");
        assert!(metrics.lag_max >= metrics.lag_p99 && metrics.lag_p99 >= metrics.lag_p50);
        s.reset_metrics();
        assert_eq!(s.metrics().probes_ok, 0);
        assert!(store.stats(m.id).unwrap().is_none(), "stats are not written per probe");
        s.shutdown().await;
        assert_eq!(s.metrics().monitors_running, 0);
        store.flush().await.unwrap();
        let on_disk = store.stats(m.id).unwrap().expect("stats saved at shutdown");
        assert!(on_disk.summary(now_ms()).probes >= 6);
        server.abort();
    }

    /// A scheduler on a fresh store, a subscription to its events, and a local port
    /// with a server accepting on it (abort the handle at the end).
    async fn serving() -> (Store, Scheduler, Subscription, u16, tokio::task::JoinHandle<()>) {
        let store = Store::temporary().unwrap();
        let events = EventBus::new();
        let s = engine(&store, &events);
        let sub = events.subscribe();
        let (l, port) = listener().await;
        (store, s, sub, port, serve(l))
    }

    /// A scheduler on a fresh store, a subscription to its events, and a local port
    /// nothing listens on.
    async fn refusing() -> (Store, Scheduler, Subscription, u16) {
        let store = Store::temporary().unwrap();
        let events = EventBus::new();
        let s = engine(&store, &events);
        let sub = events.subscribe();
        let (l, port) = listener().await;
        drop(l);
        (store, s, sub, port)
    }

    #[tokio::test]
    async fn refused_goes_down_after_fails_with_the_failure_text() {
        let (store, s, mut sub, port) = refusing().await;
        let m = monitor(2, Kind::Tcp, "127.0.0.1", Some(port));
        add(&s, &store, &m).await;
        let ev = tokio::time::timeout(WAIT, sub.state.recv()).await.unwrap().unwrap();
        assert_eq!(
            (ev.from, ev.to, ev.reason.as_str()),
            (State::Pending, State::Down, "connection refused")
        );
        let failed_before = std::iter::from_fn(|| sub.probe.try_recv().ok())
            .filter(|p| p.at_ms <= ev.at_ms)
            .inspect(|p| assert_eq!(p.error.as_deref(), Some("connection refused")))
            .count();
        assert_eq!(failed_before, 2, "DOWN after exactly `fails` failures");
        assert_eq!(
            s.live(m.id).unwrap().1.last_error.as_deref(),
            Some("connection refused")
        );
        s.shutdown().await;
    }

    #[tokio::test]
    async fn remove_and_pause_stop_probing_at_once() {
        let store = Store::temporary().unwrap();
        let events = EventBus::new();
        let s = engine(&store, &events);
        let (l, port) = listener().await;
        let server = serve(l);
        let a = monitor(3, Kind::Tcp, "127.0.0.1", Some(port));
        let b = monitor(4, Kind::Tcp, "localhost", Some(port));
        add(&s, &store, &a).await;
        add(&s, &store, &b).await;
        let mut sub = events.subscribe();
        next_probe(&mut sub, a.id).await;
        next_probe(&mut sub, b.id).await;
        s.remove(a.id);
        let mut paused = b.clone();
        paused.paused = true;
        let mut h = s.live(b.id).unwrap().0;
        h.pause(now_ms());
        s.upsert(paused, h);
        assert!(s.live(a.id).is_none());
        assert_eq!(s.live(b.id).unwrap().0.state, State::Paused);
        // Whatever was queued before is drained; after that nothing more arrives for a
        // window of 10 intervals (a third monitor proves time passes and probes run).
        let c = monitor(5, Kind::Tcp, "127.0.0.1", Some(port));
        add(&s, &store, &c).await;
        while sub.probe.try_recv().is_ok() {}
        for _ in 0..10 {
            next_probe(&mut sub, c.id).await;
        }
        while let Ok(p) = sub.probe.try_recv() {
            assert_eq!(p.monitor_id, c.id);
        }
        assert_eq!(s.metrics().monitors_running, 1);
        s.shutdown().await;
        server.abort();
    }

    #[tokio::test]
    async fn without_raw_sockets_ping_monitors_stay_pending_and_say_why() {
        let store = Store::temporary().unwrap();
        let events = EventBus::new();
        let why = format!("permission denied opening a raw ICMPv4 socket: {NO_RAW_SOCKET}");
        let s = Scheduler::start_with(
            store.clone(),
            events.clone(),
            crate::metrics::Metrics::new(),
            CancellationToken::new(),
            |_| IcmpClients::unavailable(&why),
        )
        .unwrap();
        assert!(s.status().icmp_v4.is_err() && s.status().icmp_v6.is_err());
        let mut sub = events.subscribe();
        let m = monitor(6, Kind::Ping, "127.0.0.1", None);
        add(&s, &store, &m).await;
        for _ in 0..5 {
            let p = next_probe(&mut sub, m.id).await;
            assert_eq!(p.error.as_deref(), Some("permission denied: ICMP needs CAP_NET_RAW"));
        }
        assert!(sub.state.try_recv().is_err(), "no verdict without a probe");
        let (h, stats) = s.live(m.id).unwrap();
        assert_eq!(
            (h.state, h.reason.as_str()),
            (State::Pending, "permission denied: ICMP needs CAP_NET_RAW")
        );
        assert_eq!(
            stats.last_error.as_deref(),
            Some("permission denied: ICMP needs CAP_NET_RAW")
        );
        store.flush().await.unwrap();
        assert_eq!(store.health(m.id).unwrap().unwrap().reason, h.reason);
        s.shutdown().await;
    }

    #[tokio::test]
    async fn history_counts_every_probe_and_the_time_down_until_handed_over() {
        let (store, s, mut sub, port, server) = serving().await;
        let m = monitor(9, Kind::Tcp, "127.0.0.1", Some(port));
        add(&s, &store, &m).await;
        let mut ok = 0;
        while ok < 4 {
            ok += u32::from(next_probe(&mut sub, m.id).await.ok);
        }
        // The target goes away: DOWN after `fails` failures.
        server.abort();
        let _ = server.await;
        let ev = tokio::time::timeout(WAIT, sub.state.recv()).await.unwrap().unwrap();
        assert_eq!(ev.to, State::Up);
        let ev = tokio::time::timeout(WAIT, async {
            loop {
                let ev = sub.state.recv().await.unwrap();
                if ev.to == State::Down {
                    return ev;
                }
            }
        })
        .await
        .expect("DOWN in time");
        assert_eq!(ev.monitor_id, m.id);
        // Halted, so no probe lands between the reads below.
        let (live_h, live_s) = s.halt(m.id).unwrap();
        let now = now_ms();
        let peek = s.unsaved_history(m.id, now);
        assert_eq!(s.history_ids(), vec![m.id]);
        let taken = s.take_history(&[m.id], now);
        assert_eq!(taken, vec![(m.id, peek)], "peek shows what take hands over");
        let mut total = crate::domain::history::Bucket::default();
        taken[0].1.iter().for_each(|(_, b)| total.merge(b));
        let summary = live_s.summary(now);
        assert_eq!(u64::from(total.probes), summary.probes, "every probe, once");
        assert_eq!(total.failures, total.probes - total.rtt_count);
        assert!(total.rtt_count >= 4 && total.failures >= m.fails);
        assert!(total.known_ms > 0 && total.down_ms <= now - live_h.since_ms + 1);
        assert!(s.take_history(&[m.id], now).is_empty(), "taken means gone");
        s.shutdown().await;
    }

    #[tokio::test]
    async fn a_sleeping_monitor_task_is_small() {
        let store = Store::temporary().unwrap();
        let s = engine(&store, &EventBus::new());
        let m = Arc::new(monitor(10, Kind::Ping, "127.0.0.1", None));
        let live = Arc::new(Mutex::new(Live {
            health: Health::new(0),
            stats: ProbeStats::default(),
            generation: 0,
            stats_dirty: false,
            removed: false,
            history: Recorder::new(0, State::Pending),
        }));
        let run = task::MonitorTask::new(s.shared.clone(), m, live, 0, 0).run();
        // Every monitor's sleeping task holds this much: with 100,000 monitors, every
        // 100 bytes here is 10 MB. tokio's task cell is the future plus 112 bytes,
        // rounded up to 128 (x86_64's cell alignment): up to 272 bytes it is 384 (at
        // 280 it was 512, measured; it was 640 when the future held a surge-ping
        // `Pinger` and the last verdict).
        let size = std::mem::size_of_val(&run);
        assert!(size <= 272, "a monitor task's future is {size} bytes");
        s.shutdown().await;
    }

    /// A scheduler with two engines that splits past 30 probes a second.
    fn two_engines() -> (Store, Scheduler, Subscription) {
        let store = Store::temporary().unwrap();
        let events = EventBus::new();
        let shape = Shape {
            engines: 2,
            split_rate: 30.0,
        };
        let s = Scheduler::start_shaped(
            store.clone(),
            events.clone(),
            crate::metrics::Metrics::new(),
            CancellationToken::new(),
            IcmpClients::for_share,
            shape,
        )
        .unwrap();
        let sub = events.subscribe();
        (store, s, sub)
    }

    #[tokio::test]
    async fn past_the_split_rate_monitors_run_on_a_second_engine_with_its_own_icmp_sockets() {
        let ping = crate::probe::icmp::running_as_root();
        if !ping {
            eprintln!("past_the_split_rate…: not root, so TCP monitors only (ICMP needs CAP_NET_RAW)");
        }
        let (store, s, mut sub) = two_engines();
        let (l, port) = listener().await;
        let server = serve(l);
        // 20 probes/s each. Monitor 1 alone fits under 30/s, on engine 0.
        let monitors: Vec<Monitor> = (1..=4)
            .map(|i| match i % 2 {
                1 if ping => monitor(i, Kind::Ping, &format!("127.0.3.{i}"), None),
                _ => monitor(i, Kind::Tcp, "127.0.0.1", Some(port)),
            })
            .collect();
        add(&s, &store, &monitors[0]).await;
        assert_eq!(s.engine_loads(), vec![20.0, 0.0]);
        let ev = tokio::time::timeout(WAIT, sub.state.recv()).await.unwrap().unwrap();
        assert_eq!((ev.monitor_id, ev.to), (monitors[0].id, State::Up));
        // Monitor 2 passes the split: each runs on the engine its id picks from now on,
        // and monitor 1 moves to engine 1.
        for m in &monitors[1..] {
            add(&s, &store, m).await;
        }
        assert_eq!(s.engine_loads(), vec![40.0, 40.0]);
        let mut up = std::collections::HashSet::new();
        while up.len() < 3 {
            let ev = tokio::time::timeout(WAIT, sub.state.recv()).await.unwrap().unwrap();
            assert_eq!((ev.from, ev.to), (State::Pending, State::Up), "{ev:?}");
            assert_ne!(ev.monitor_id, monitors[0].id, "the move kept monitor 1's state");
            up.insert(ev.monitor_id);
        }
        // Monitor 1 keeps probing on engine 1, whose own socket reads its echo replies.
        for _ in 0..3 {
            let p = next_probe(&mut sub, monitors[0].id).await;
            assert_eq!(p.error, None);
        }
        assert_eq!(s.live(monitors[0].id).unwrap().0.state, State::Up);
        s.remove(monitors[1].id);
        assert_eq!(s.engine_loads(), vec![20.0, 40.0]);
        s.halt(monitors[0].id).unwrap();
        assert_eq!(s.engine_loads(), vec![20.0, 20.0]);
        // Back on its engine, even now that the rate is under the split again.
        s.upsert(monitors[0].clone(), Health::new(now_ms()));
        assert_eq!(s.engine_loads(), vec![20.0, 40.0]);
        tokio::time::timeout(WAIT, s.shutdown())
            .await
            .expect("every engine ends");
        assert!(!s.is_alive());
        store.flush().await.unwrap();
        for m in [&monitors[2], &monitors[3]] {
            assert!(
                store
                    .stats(m.id)
                    .unwrap()
                    .is_some_and(|st| st.summary(now_ms()).probes > 0),
                "stats of {} saved",
                m.id
            );
        }
        server.abort();
    }

    #[tokio::test]
    async fn held_monitors_start_probing_only_when_released() {
        let (store, s, mut sub, port, server) = serving().await;
        s.hold();
        let (a, b) = (
            monitor(21, Kind::Tcp, "127.0.0.1", Some(port)),
            monitor(22, Kind::Tcp, "127.0.0.1", Some(port)),
        );
        add(&s, &store, &a).await;
        add(&s, &store, &b).await;
        s.remove(b.id);
        assert_eq!(s.engine_loads()[0], 0.0, "nothing runs while held");
        assert!(sub.probe.try_recv().is_err());
        s.release();
        assert_eq!(s.engine_loads()[0], 20.0, "the held monitor runs, the removed one not");
        assert!(next_probe(&mut sub, a.id).await.ok);
        // Released: upserts start their tasks at once again.
        add(&s, &store, &b).await;
        assert_eq!(s.engine_loads()[0], 40.0);
        s.shutdown().await;
        server.abort();
    }

    #[tokio::test]
    async fn held_monitors_that_pass_the_split_rate_start_on_their_own_engines() {
        let (store, s, mut sub) = two_engines();
        let (l, port) = listener().await;
        let server = serve(l);
        s.hold();
        // 20 probes/s each: 80/s together, past the split of 30/s.
        let monitors: Vec<Monitor> = (1..=4)
            .map(|i| monitor(i, Kind::Tcp, "127.0.0.1", Some(port)))
            .collect();
        for m in &monitors {
            add(&s, &store, m).await;
        }
        let held: Vec<u64> = monitors.iter().map(|m| s.generation(m.id).unwrap()).collect();
        s.release();
        assert_eq!(s.engine_loads(), vec![40.0, 40.0]);
        for m in &monitors {
            // Started once, where its id says: not on engine 0 first and then moved.
            assert_eq!(s.generation(m.id), held.get(m.id.0 as usize - 1).copied(), "{}", m.id);
            assert!(next_probe(&mut sub, m.id).await.ok);
        }
        s.shutdown().await;
        server.abort();
    }

    #[tokio::test]
    async fn cancelling_the_token_stops_the_engine() {
        let token = CancellationToken::new();
        let store = Store::temporary().unwrap();
        let s = Scheduler::start(store, EventBus::new(), crate::metrics::Metrics::new(), token.clone()).unwrap();
        token.cancel();
        tokio::time::timeout(WAIT, s.shutdown()).await.expect("engine ends");
        // Upserts after the stop are accepted and ignored.
        s.upsert(monitor(7, Kind::Tcp, "127.0.0.1", Some(9)), Health::new(0));
        assert_eq!(s.metrics().monitors_running, 0);
    }

    #[tokio::test]
    async fn a_verdict_that_cannot_be_stored_is_held_back_and_stored_once_the_disk_works() {
        let (store, s, mut sub, port) = refusing().await;
        let mut m = monitor(8, Kind::Tcp, "127.0.0.1", Some(port));
        (m.chat_id, m.bot) = (Some(-5), Some("mon_bot".into()));
        add(&s, &store, &m).await;
        store.inject_write_fault(true);
        // Twice `fails` failed probes: the DOWN verdict was reached and refused twice.
        for _ in 0..2 * m.fails {
            assert!(!next_probe(&mut sub, m.id).await.ok);
        }
        assert!(sub.state.try_recv().is_err(), "no state change announced");
        assert_eq!(
            s.live(m.id).unwrap().0.state,
            State::Pending,
            "memory kept the old state"
        );
        assert_eq!(store.health(m.id).unwrap().unwrap().state, State::Pending);

        store.inject_write_fault(false);
        let ev = tokio::time::timeout(WAIT, sub.state.recv()).await.unwrap().unwrap();
        assert_eq!((ev.from, ev.to, ev.announce), (State::Pending, State::Down, true));
        assert_eq!(s.live(m.id).unwrap().0.state, State::Down);
        assert_eq!(store.health(m.id).unwrap().unwrap().state, State::Down);
        // Exactly one alert, however many probes were refused.
        for _ in 0..3 {
            next_probe(&mut sub, m.id).await;
        }
        assert!(sub.state.try_recv().is_err());
        let queued = store.outbox("mon_bot").unwrap();
        assert_eq!(queued.len(), 1, "{queued:?}");
        assert_eq!(queued[0].1.transition.to, State::Down);
        s.shutdown().await;
    }
}
