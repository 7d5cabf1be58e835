//! One monitor's probe loop: timing (phase, no drift, skip missed ticks), the probe
//! itself, and turning its result into statistics, a verdict and events.
//!
//! State before storage: a verdict that changes the state is stored with its alert on
//! the store's writer thread and awaited (other monitors keep probing meanwhile); only
//! once it is durable does the live state change and the event go out. If the write
//! fails, the old state stays and the next probe reaches the same verdict again, so the
//! alert is written as soon as the disk works again, once.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::time::Instant;

use super::{LiveRef, Shared, lock};
use crate::domain::Health;
use crate::domain::state::Streak;
use crate::domain::target::DEFAULT_TCP_PORT;
use crate::domain::{Kind, Monitor, MonitorId, Outcome, PingSettings, State, TargetPolicy, Transition, now_ms};
use crate::events::{ProbeEvent, StateEvent};
use crate::probe::icmp::IcmpPinger;
use crate::probe::{Answer, Checked, FailKind, ProbeFailure, Probed, Tries, choose_addr, tcp};
use crate::store::{Alert, Change, Committed};

/// An engine this far behind is overloaded (schedule lag p99 is ~3 ms even with
/// 100,000 monitors): a timeout it notices this long after it expired does not count.
pub(super) const LATE: Duration = Duration::from_millis(250);

/// Whether a probe's failure counts toward a verdict. A timeout on an engine that was
/// behind does not: noticed late, or while the ICMP socket's reader is behind
/// (`reader_behind`, asked only for a timeout noticed in time: it is a syscall), the
/// reply may well be waiting unread. Counting it is how an overloaded engine would page
/// for targets that answer, and the verdicts' writes and the retries are how it would
/// stay overloaded. Answers and every other failure count (they were observed, however
/// late).
pub(super) fn failure_counts(
    f: &ProbeFailure,
    took: Duration,
    timeout: Duration,
    reader_behind: impl FnOnce() -> bool,
) -> bool {
    f.kind != FailKind::Timeout || (took <= timeout + LATE && !reader_behind())
}

/// A random instant in `[0, interval)`: when a monitor's first probe goes out.
pub(super) fn first_phase(interval: Duration) -> Duration {
    let nanos = u64::try_from(interval.as_nanos()).unwrap_or(u64::MAX);
    if nanos == 0 {
        return Duration::ZERO;
    }
    Duration::from_nanos(rand::random_range(0..nanos))
}

/// The engine wakes once per planned instant that has probes due, and each wake-up
/// (the timer wheel's turn, `epoll_wait`, the context switch) costs about as much as a
/// few probes: with 10,000 monitors spread to the nanosecond that is a wake-up every
/// millisecond. So first probes are put on a grid of a few milliseconds, chosen so that
/// about this many probes of one engine share an instant: the engine wakes 100 times a
/// second, not 1,000, and the last of a batch starts ~1 ms late (~10 µs a probe).
pub(super) const BATCH: u64 = 100;

/// The grid's steps, largest first: each divides the common intervals (whole seconds),
/// and a monitor keeps its step because its interval is a multiple of it.
const GRID_MS: [u32; 5] = [10, 5, 4, 2, 1];

/// The grid (ms) for a monitor of `interval_ms` on an engine whose planned rate is
/// `load` probes a second, in millionths ([`super::rate_micro`]): about [`BATCH`]
/// probes an instant, at most 10 ms, and a divisor of the interval (else the monitor
/// would leave the grid after its first probe).
pub(super) fn grid_ms(load: u64, interval_ms: u32) -> u32 {
    // Probes per ms, in millionths.
    let per_ms = load / 1_000;
    let fit = BATCH.saturating_mul(1_000_000).checked_div(per_ms).unwrap_or(u64::MAX);
    GRID_MS
        .into_iter()
        .find(|&g| u64::from(g) <= fit && interval_ms.is_multiple_of(g))
        .unwrap_or(1)
}

/// `t` rounded up to a multiple of `grid_ms` after `epoch` (`t` itself if earlier).
pub(super) fn on_grid(t: Instant, epoch: Instant, grid_ms: u32) -> Instant {
    let step = u128::from(grid_ms.max(1)) * 1_000_000;
    let Some(since) = t.checked_duration_since(epoch) else {
        return t;
    };
    let up = (step - since.as_nanos() % step) % step;
    t + Duration::from_nanos(u64::try_from(up).unwrap_or(0))
}

/// The planned instant after `planned`: one interval later (no drift). If that is
/// already more than an interval in the past (the engine stalled, or a probe overran),
/// the missed ticks are skipped, keeping the phase: at most one late probe, never a
/// burst of catch-up probes.
pub(super) fn next_tick(planned: Instant, interval: Duration, now: Instant) -> Instant {
    let next = planned + interval;
    if interval.is_zero() || now <= next + interval {
        return next;
    }
    let behind = now.saturating_duration_since(next).as_nanos();
    let skip = behind / interval.as_nanos();
    match u32::try_from(skip).ok().and_then(|s| interval.checked_mul(s)) {
        Some(d) => next + d,
        None => now,
    }
}

/// An http or dns probe: one request, answered unless it timed out (a refusal, an
/// error status, an NXDOMAIN are answers).
fn one_request(c: Checked) -> (Checked, Tries) {
    let answered = match &c {
        Err(f) if f.kind == FailKind::Timeout => None,
        _ => Some(0),
    };
    (c, Tries { sent: 1, answered })
}

/// What a state of the streak is heading for.
fn streak_target(kind: Option<Streak>) -> Option<State> {
    kind.map(|k| match k {
        Streak::Up => State::Up,
        Streak::Degraded => State::Degraded,
        Streak::Down => State::Down,
    })
}

/// One monitor's task state.
pub(super) struct MonitorTask {
    shared: Arc<Shared>,
    monitor: Arc<Monitor>,
    live: LiveRef,
    generation: u64,
    /// The host is an IP literal, held in `addr` (then DNS is never asked).
    literal: bool,
    /// The address probed last; kept until re-resolution drops it.
    addr: Option<IpAddr>,
    pinger: IcmpPinger,
    /// Ping monitors: retries and the loss window's settings.
    ping: Option<PingSettings>,
    /// Every failure of the current failure streak was a timeout ("3 of 3 pings lost").
    only_timeouts: bool,
    /// The engine thread the task runs on (whose ICMP sockets it uses).
    engine: u8,
    /// What every probe reads of the monitor, copied from the record (which never
    /// changes under a task: an edit starts a new one). The task is in cache when it
    /// wakes; the shared record is not, and with 100,000 monitors its reads were ~3 %
    /// of the CPU in cache misses.
    hot: Hot,
}

/// See [`MonitorTask::hot`]. Durations in whole milliseconds (as the store keeps them):
/// two `Duration`s were 16 bytes more, and the task's future just past its tokio cell.
struct Hot {
    /// The probe's timeout: the monitor's, never longer than its interval.
    timeout_ms: u32,
    interval_ms: u32,
    /// `fails` and `recovers`: at most 100 (`MAX_COUNT`).
    fails: u16,
    recovers: u16,
    kind: Kind,
    chat_added: bool,
    /// For the probe events (when anyone subscribes to them).
    id: MonitorId,
    chat_id: Option<i64>,
}

impl Hot {
    fn new(m: &Monitor) -> Self {
        // Never 0 for a non-zero duration; 49 days at most (intervals stop at a day).
        let ms = |d: Duration| {
            u32::try_from(d.as_millis())
                .unwrap_or(u32::MAX)
                .max(u32::from(!d.is_zero()))
        };
        Self {
            timeout_ms: ms(m.timeout.min(m.interval)),
            interval_ms: ms(m.interval),
            fails: u16::try_from(m.fails).unwrap_or(u16::MAX),
            recovers: u16::try_from(m.recovers).unwrap_or(u16::MAX),
            kind: m.kind,
            chat_added: m.chat_added,
            id: m.id,
            chat_id: m.chat_id,
        }
    }

    fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms.into())
    }

    fn interval(&self) -> Duration {
        Duration::from_millis(self.interval_ms.into())
    }
}

impl Drop for MonitorTask {
    fn drop(&mut self) {
        self.shared.metrics.running.fetch_sub(1, Ordering::Relaxed);
    }
}

impl MonitorTask {
    pub(super) fn new(
        shared: Arc<Shared>,
        monitor: Arc<Monitor>,
        live: LiveRef,
        generation: u64,
        engine: usize,
    ) -> Self {
        // Counted from here to the drop, however the task ends (an abort included).
        shared.metrics.running.fetch_add(1, Ordering::Relaxed);
        let literal: Option<IpAddr> = monitor.host.parse().ok();
        let hot = Hot::new(&monitor);
        Self {
            hot,
            literal: literal.is_some(),
            addr: literal,
            ping: monitor.ping_settings(),
            shared,
            monitor,
            live,
            generation,
            pinger: IcmpPinger::new(),
            only_timeouts: true,
            engine: u8::try_from(engine).unwrap_or(0),
        }
    }

    /// The task's loop. Not an `async fn`: one of those keeps its by-value `self` in
    /// the future twice (the argument, and the local it is moved to, rust-lang/rust#62958),
    /// ~190 bytes more in each of 100,000 sleeping tasks; an `async move` block uses
    /// the captured `self` in place (hence the allow: clippy would make it an `async fn`).
    /// For the same reason nothing is kept in a local across the sleep that `self` or
    /// the timer already holds (the interval, the planned instant).
    #[allow(clippy::manual_async_fn)]
    pub(super) fn run(mut self) -> impl std::future::Future<Output = ()> + Send + 'static {
        async move {
            // Stopped by aborting the task (see `Entry::task`): any await below may be the
            // last, and whatever it owned is dropped there.
            // One timer entry for the task's whole life, re-armed each tick; its deadline
            // is the planned instant.
            let grid = grid_ms(
                self.shared.loads[usize::from(self.engine)].load(Ordering::Relaxed),
                self.hot.interval_ms,
            );
            let first = Instant::now() + first_phase(self.hot.interval());
            let sleep = tokio::time::sleep_until(on_grid(first, self.shared.epoch, grid));
            tokio::pin!(sleep);
            loop {
                (&mut sleep).await;
                // The clock is read twice a probe here (the wake-up, the probe's end):
                // at 100,000 probes a second each read is ~0.3 % of the CPU.
                let started = Instant::now();
                self.shared
                    .metrics
                    .lag
                    .record(started.saturating_duration_since(sleep.deadline()));
                // In a block, so that neither the result nor the verdict is kept across
                // the commit's await (a local's space lasts to the end of its scope,
                // moved or not, and would be in every sleeping task).
                let (commit, ended) = {
                    // Boxed: a probe's state (pinger waiter, timers, TCP connect) is
                    // large, and only the few monitors probing right now need it;
                    // unboxed, every sleeping task would carry that space (~1.3 KB each).
                    let result = Box::pin(self.check()).await;
                    let ended = Instant::now();
                    match self.handle(result, ended.saturating_duration_since(started)) {
                        None => return,
                        Some(None) => (None, ended),
                        // Boxed like the probe: only monitors changing state need this.
                        Some(Some((health, t))) => (Some(Box::pin(self.commit(health, t))), ended),
                    }
                };
                let now = match commit {
                    None => ended,
                    // A state change's write may have taken long (a slow disk): ask again.
                    Some(commit) => {
                        if !commit.await {
                            return;
                        }
                        Instant::now()
                    }
                };
                let next = next_tick(sleep.deadline(), self.hot.interval(), now);
                sleep.as_mut().reset(next);
            }
        }
    }

    /// One probe of any kind: http and dns reach their targets themselves (and check
    /// the chat policy on every address they reach); ping and tcp go through
    /// [`MonitorTask::probe`]. With the requests it sent.
    async fn check(&mut self) -> (Checked, Tries) {
        let (timeout, chat, kind) = (self.hot.timeout(), self.hot.chat_added, self.hot.kind);
        // Boxed apart: their futures are large (TLS, hyper, hickory), and this future
        // is what every ping and tcp probe allocates.
        if kind == Kind::Http
            && let Some(h) = &self.monitor.http
        {
            return one_request(Box::pin(self.shared.http.probe(h, chat, timeout)).await);
        }
        if kind == Kind::Dns
            && let Some(d) = &self.monitor.dns
        {
            return one_request(Box::pin(self.shared.records.probe(&self.monitor.host, d, chat, timeout)).await);
        }
        let Probed { result, tries } = self.probe().await;
        (result.map(Answer::from), tries)
    }

    async fn probe(&mut self) -> Probed {
        match self.target().await {
            Ok(addr) => self.send(addr).await,
            Err(f) => Probed::unsent(f),
        }
    }

    /// The address to probe now: resolved, chosen, and allowed.
    async fn target(&mut self) -> Result<IpAddr, ProbeFailure> {
        let resolved;
        let one;
        let candidates: &[IpAddr] = match self.addr.filter(|_| self.literal) {
            Some(ip) => {
                one = [ip];
                &one
            }
            None => {
                resolved = self.shared.dns.resolve(&self.monitor.host).await?;
                &resolved
            }
        };
        let icmp = &self.shared.icmp[usize::from(self.engine)];
        let ping = self.hot.kind == Kind::Ping;
        let Some(addr) = choose_addr(self.addr, candidates, |ip| !ping || icmp.can_probe(ip)) else {
            return Err(ProbeFailure::dns("no addresses"));
        };
        if self.addr != Some(addr) {
            tracing::debug!(%addr, "probing address");
            self.addr = Some(addr);
            self.pinger.retarget();
        }
        if self.hot.chat_added {
            let policy = self
                .shared
                .chat_targets
                .get()
                .unwrap_or_else(|| TargetPolicy::default_ref());
            if let Some(why) = policy.refusal(addr) {
                return Err(ProbeFailure::other(why));
            }
        }
        Ok(addr)
    }

    /// Probes `addr` by the monitor's kind, within its timeout.
    async fn send(&mut self, addr: IpAddr) -> Probed {
        let timeout = self.hot.timeout();
        match self.hot.kind {
            Kind::Ping => {
                let retries = self.ping.unwrap_or_default().retries;
                self.pinger
                    .probe(&self.shared.icmp[usize::from(self.engine)], addr, timeout, retries)
                    .await
            }
            Kind::Tcp => {
                let port = self.monitor.port.unwrap_or(DEFAULT_TCP_PORT);
                tcp::probe(SocketAddr::new(addr, port), timeout).await
            }
            Kind::Push | Kind::Http | Kind::Dns => Probed::unsent(ProbeFailure::other("not probed here")),
        }
    }

    /// Records one result in the live state and publishes its probe event. Returns
    /// `None` when this task has been superseded or removed (then it changed nothing),
    /// else the state change to commit, if the verdict is one.
    fn handle(&mut self, (result, tries): (Checked, Tries), took: Duration) -> Option<Option<(Health, Transition)>> {
        let sh = &*self.shared;
        let m = &self.monitor;
        let hot = &self.hot;
        let now = now_ms();
        let mut live = lock(&self.live);
        if live.generation != self.generation {
            return None;
        }
        if let Err(f) = &result {
            let reader_behind = || {
                let icmp = &sh.icmp[usize::from(self.engine)];
                hot.kind == Kind::Ping && self.addr.is_some_and(|a| icmp.reader_behind(a))
            };
            if !failure_counts(f, took, hot.timeout(), reader_behind) {
                drop(live);
                sh.prom.probe_late(took);
                sh.late_probe(m);
                return Some(None);
            }
        }
        let counter = if result.is_ok() {
            &sh.metrics.ok
        } else {
            &sh.metrics.failed
        };
        counter.fetch_add(1, Ordering::Relaxed);
        sh.prom.probe(result.is_ok(), took);

        let outcome = match &result {
            Ok(answer) => {
                self.only_timeouts = true;
                let us = u64::try_from(answer.rtt.as_micros()).unwrap_or(u64::MAX);
                live.stats.record(now, Some(us), None, tries.sent, tries.packets());
                live.history.probe(now, true, Some(us));
                // A poor answer (slow, a certificate near expiry) is a plain DEGRADED.
                Some(match &answer.degraded {
                    Some(d) => Outcome::Degraded(d.reason.clone()),
                    None => Outcome::Up,
                })
            }
            Err(f) if f.kind == FailKind::Permission => {
                // Not the target's fault: leave the verdict alone and say why.
                let text = f.to_string();
                if !sh.permission_warned.swap(true, Ordering::Relaxed) {
                    tracing::warn!(reason = %text, "probes cannot be sent; affected monitors stay pending");
                }
                if live.health.state == State::Pending && live.health.reason != text {
                    live.health.reason = text.clone();
                    sh.store.save_health(m.id, &live.health);
                }
                live.stats.last_error = Some(text);
                live.stats.last_probe_ms = Some(now);
                None
            }
            Err(f) => {
                if f.kind != FailKind::Timeout {
                    self.only_timeouts = false;
                }
                live.stats
                    .record(now, None, Some(f.to_string()), tries.sent, tries.packets());
                live.history.probe(now, false, None);
                let reason = if hot.kind == Kind::Ping && self.only_timeouts {
                    format!("{n} of {n} pings lost", n = hot.fails.max(1))
                } else {
                    f.to_string()
                };
                Some(Outcome::Down(reason))
            }
        };
        live.stats_dirty = true;

        let mut verdict = None;
        if let Some(outcome) = outcome {
            // The loss step (ping): a lossy but answering monitor's UP becomes DEGRADED.
            let live = &mut *live;
            let outcome = match &self.ping {
                Some(p) => live.stats.loss.step(p, tries.packets(), outcome, live.health.state),
                None => outcome,
            };
            let mut next = live.health.clone();
            // A certificate's 14/3/1-day steps are announced once each.
            let step = result
                .as_ref()
                .ok()
                .and_then(|a| a.degraded.as_ref())
                .and_then(|d| d.step);
            match next.observe_stepped(&outcome, step, hot.fails.into(), hot.recovers.into(), now) {
                // Committed first (the caller awaits it); memory keeps the old state.
                Some(t) => verdict = Some((next, t)),
                None => {
                    // Save only what a restart needs: streaks still counting toward a
                    // different state. An UP monitor that keeps answering writes nothing.
                    let h = &live.health;
                    let counting = streak_target(next.streak_kind) != Some(next.state);
                    let persist = next.streak_kind != h.streak_kind
                        || (counting && next.streak != h.streak)
                        || next.step != h.step;
                    if persist {
                        sh.store.save_health(m.id, &next);
                    }
                    live.health = next;
                }
            }
        }
        drop(live);

        if sh.events.wants_probes() {
            sh.events.probe(ProbeEvent {
                monitor_id: hot.id,
                chat_id: hot.chat_id,
                ok: result.is_ok(),
                rtt_ms: result.as_ref().ok().map(|a| a.rtt.as_secs_f64() * 1000.0),
                error: result.as_ref().err().map(ToString::to_string),
                sent: tries.sent,
                received: tries.received(),
                at_ms: now,
            });
        }
        Some(verdict)
    }

    /// Stores a state change with its alert, then (once durable) applies it to the live
    /// state and publishes it. Returns false when this task no longer owns the state.
    async fn commit(&self, health: Health, t: Transition) -> bool {
        let sh = &*self.shared;
        let m = &self.monitor;
        let change = Change {
            id: m.id,
            health: health.clone(),
            seen_ms: None,
            alert: Alert::for_transition(m, &t),
        };
        let (live, generation) = (self.live.clone(), self.generation);
        let current = move || lock(&live).generation == generation;
        match sh.store.commit(change, current).await {
            Ok(Committed::Written) => {
                let current = {
                    let mut live = lock(&self.live);
                    let current = live.generation == self.generation;
                    if current {
                        live.history.set_state(now_ms(), health.state);
                        live.health = health;
                    }
                    current
                };
                // Durable, so announced whoever owns the state now (a pause that
                // halted probing during the write started from the state before it).
                tracing::info!(monitor = %m.id, from = %t.from, to = %t.to, reason = %t.reason, announce = t.announce, "state changed");
                sh.prom.state_change(t.to);
                sh.events.state(StateEvent::new(m, &t));
                current
            }
            Ok(Committed::Superseded) => false,
            Err(e) => {
                // Logged once per outage by the store; the next probe tries again.
                tracing::debug!(error = %e, to = %t.to, "state change not stored; keeping the old state");
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_on_an_engine_that_was_behind_do_not_count() {
        let timeout = Duration::from_secs(1);
        let lost = ProbeFailure::timed_out(timeout);
        let refused = ProbeFailure::refused();
        let on_time = timeout + Duration::from_millis(3);
        assert!(failure_counts(&lost, on_time, timeout, || false));
        assert!(failure_counts(&lost, timeout + LATE, timeout, || false));
        // On time, but with the ICMP socket's reader behind: its reply may be unread.
        assert!(!failure_counts(&lost, on_time, timeout, || true));
        // Its timeout noticed late: the engine, not the target.
        assert!(!failure_counts(
            &lost,
            timeout + LATE + Duration::from_millis(1),
            timeout,
            || false
        ));
        // Anything the target said counts, however late it was heard.
        assert!(failure_counts(&refused, Duration::from_secs(3), timeout, || true));
    }

    #[test]
    fn phase_is_within_the_interval() {
        let i = Duration::from_secs(1);
        for _ in 0..1000 {
            assert!(first_phase(i) < i);
        }
        assert_eq!(first_phase(Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn the_grid_holds_about_a_batch_and_divides_the_interval() {
        let per_s = |n: u64| n * 1_000_000;
        // 10,000 probes a second on the engine: 10 a ms, so 10 ms holds a batch.
        assert_eq!(grid_ms(per_s(10_000), 1_000), 10);
        // 50,000 a second: 50 a ms, 2 ms.
        assert_eq!(grid_ms(per_s(50_000), 1_000), 2);
        // 100,000 and more: every ms holds a batch already.
        assert_eq!(grid_ms(per_s(100_000), 1_000), 1);
        assert_eq!(grid_ms(per_s(1_000_000), 1_000), 1);
        // An idle engine: the largest step.
        assert_eq!(grid_ms(0, 60_000), 10);
        // A step that does not divide the interval is passed over.
        assert_eq!(grid_ms(0, 1_005), 5);
        assert_eq!(grid_ms(0, 1_001), 1);
        assert_eq!(grid_ms(per_s(25_000), 1_002), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn first_probes_land_on_the_grid_and_stay_there() {
        let epoch = Instant::now();
        let ms = Duration::from_millis;
        assert_eq!(on_grid(epoch, epoch, 10), epoch);
        assert_eq!(on_grid(epoch + ms(1), epoch, 10), epoch + ms(10));
        assert_eq!(on_grid(epoch + ms(10), epoch, 10), epoch + ms(10));
        let t = epoch + ms(12_345) + Duration::from_nanos(1);
        assert_eq!(on_grid(t, epoch, 10), epoch + ms(12_350));
        assert_eq!(on_grid(t, epoch, 1), epoch + ms(12_346));
        // Before the epoch (never in the engine): left as it is.
        assert_eq!(on_grid(epoch, epoch + ms(3), 10), epoch);
        // Two monitors planned apart within a step share the instant, and a 1 s
        // interval keeps them on it.
        let (a, b) = (on_grid(epoch + ms(31), epoch, 10), on_grid(epoch + ms(39), epoch, 10));
        assert_eq!(a, b);
        let s = Duration::from_secs(1);
        let n = next_tick(a, s, a);
        assert_eq!(on_grid(n, epoch, 10), n);
    }

    #[tokio::test(start_paused = true)]
    async fn ticks_do_not_drift_and_missed_ticks_are_skipped() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        // On time, or a bit late: exactly one interval after the plan, whatever `now` is.
        assert_eq!(next_tick(t0, s, t0 + Duration::from_millis(300)), t0 + s);
        assert_eq!(next_tick(t0, s, t0 + Duration::from_millis(1900)), t0 + s);
        // Late by less than an interval: one late probe, no skip.
        assert_eq!(next_tick(t0, s, t0 + Duration::from_millis(2000)), t0 + s);
        // A stall of 5.5 s: skip to the last tick not more than an interval ago.
        let n = next_tick(t0, s, t0 + Duration::from_millis(5500));
        assert_eq!(n, t0 + 5 * s);
        // The phase is kept.
        assert_eq!((n - t0).as_nanos() % s.as_nanos(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_sleep_loop_on_next_tick_keeps_the_schedule() {
        // Simulates a probe of 300 ms each tick, then a 3.2 s stall: planned instants
        // stay on the 1 s grid and no two probes start less than ~interval apart after
        // the stall except the single late one.
        let s = Duration::from_secs(1);
        let t0 = Instant::now();
        let mut planned = t0;
        let mut starts = Vec::new();
        for i in 0..8 {
            tokio::time::sleep_until(planned).await;
            starts.push(Instant::now() - t0);
            let work = if i == 3 {
                Duration::from_millis(3200)
            } else {
                Duration::from_millis(300)
            };
            tokio::time::sleep(work).await;
            planned = next_tick(planned, s, Instant::now());
        }
        let ms: Vec<u128> = starts.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, vec![0, 1000, 2000, 3000, 6200, 7000, 8000, 9000]);
    }

    #[test]
    fn streak_targets() {
        assert_eq!(streak_target(Some(Streak::Up)), Some(State::Up));
        assert_eq!(streak_target(Some(Streak::Down)), Some(State::Down));
        assert_eq!(streak_target(None), None);
    }
}
