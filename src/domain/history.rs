//! Each monitor's history, downsampled: per-minute buckets for 48 h and per-hour
//! buckets for 90 days. Pure: time is passed in, the store keeps the bytes.
//!
//! - A [`Bucket`] holds what a chart, a status page and an uptime figure need: probe
//!   count, failures, RTT min/max/sum (sum and count for the average), and how long the
//!   monitor had a verdict, was DOWN and was DEGRADED. Buckets merge (a monoid), so a
//!   minute seen twice (a restart within it) adds up, and hours are merged minutes.
//! - A [`Recorder`] lives with a monitor's live state in its engine. It attributes
//!   time to the state in force, counts probes into the current minute, and hands its
//!   minutes to the periodic save ([`Recorder::take`]): history is written in batches,
//!   never once per probe. What it holds is bounded ([`MAX_OPEN`] minutes).
//! - On disk a tier is cut into chunks ([`Tier`]): one hour of minutes, one day of
//!   hours. A save rewrites only the current chunk; when a minute chunk is older than
//!   48 h it is rolled up into its hour and deleted (RRD style), so the hour tier is
//!   written once per hour. [`encode_chunk`] is the compact binary form: a flags byte
//!   per bucket and LEB128 varints, RTT max and sum stored as offsets from the minimum
//!   (an empty minute costs one byte, a steady one about eight).
//! - A [`Series`] is what readers get: dense buckets of one step over a range, with the
//!   figures ([`Series::totals`]) and incidents ([`Series::incidents`]) drawn from it.
//!
//! Uptime is time-based: the share of the time with a verdict (UP, DEGRADED or DOWN)
//! that was not DOWN. Pending and paused time, and time upbot was not running, are
//! gaps: neither up nor down.

use std::collections::VecDeque;

use super::State;

/// One minute, ms.
pub const MINUTE_MS: u64 = 60_000;
/// One hour, ms.
pub const HOUR_MS: u64 = 3_600_000;
/// One day, ms.
pub const DAY_MS: u64 = 86_400_000;
/// How long minute buckets are kept.
pub const MINUTES_KEPT_MS: u64 = 48 * HOUR_MS;
/// How long hour buckets are kept.
pub const HOURS_KEPT_MS: u64 = 90 * DAY_MS;
/// Most minutes a [`Recorder`] holds before the oldest are dropped (a store that cannot
/// take history for three hours loses history, never memory).
pub const MAX_OPEN: usize = 180;

/// What went wrong decoding a stored chunk.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HistoryError {
    /// A chunk written by a newer format.
    #[error("history chunk has format version {0}, this upbot reads version {CHUNK_VERSION}")]
    Version(u8),
    /// Bytes that are not a chunk.
    #[error("history chunk is damaged: {0}")]
    Damaged(&'static str),
}

/// The chunk format this build writes.
pub const CHUNK_VERSION: u8 = 1;

/// One time slot's figures (a minute, an hour, or any merged span).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Bucket {
    /// Probes made (push monitors: reports and heartbeats received).
    pub probes: u32,
    /// Probes that failed (push: DOWN reports).
    pub failures: u32,
    /// Probes that measured a round-trip time.
    pub rtt_count: u32,
    /// Smallest RTT, µs (meaningful when `rtt_count > 0`).
    pub rtt_min_us: u32,
    /// Largest RTT, µs.
    pub rtt_max_us: u32,
    /// Sum of RTTs, µs (average = sum / count).
    pub rtt_sum_us: u64,
    /// Time with a verdict (UP, DEGRADED or DOWN), ms.
    pub known_ms: u64,
    /// Time DOWN, ms.
    pub down_ms: u64,
    /// Time DEGRADED, ms.
    pub degraded_ms: u64,
}

impl Bucket {
    /// Nothing recorded.
    pub fn is_empty(&self) -> bool {
        *self == Bucket::default()
    }

    /// Adds `o` into `self`.
    pub fn merge(&mut self, o: &Bucket) {
        if o.rtt_count > 0 {
            if self.rtt_count == 0 {
                (self.rtt_min_us, self.rtt_max_us) = (o.rtt_min_us, o.rtt_max_us);
            } else {
                self.rtt_min_us = self.rtt_min_us.min(o.rtt_min_us);
                self.rtt_max_us = self.rtt_max_us.max(o.rtt_max_us);
            }
        }
        self.probes = self.probes.saturating_add(o.probes);
        self.failures = self.failures.saturating_add(o.failures);
        self.rtt_count = self.rtt_count.saturating_add(o.rtt_count);
        self.rtt_sum_us = self.rtt_sum_us.saturating_add(o.rtt_sum_us);
        self.known_ms = self.known_ms.saturating_add(o.known_ms);
        self.down_ms = self.down_ms.saturating_add(o.down_ms);
        self.degraded_ms = self.degraded_ms.saturating_add(o.degraded_ms);
    }

    /// Caps the times at a slot of `step_ms` (two recorders that overlapped in time,
    /// e.g. across a restart within a minute, cannot make a minute last longer).
    pub fn clamp(&mut self, step_ms: u64) {
        self.known_ms = self.known_ms.min(step_ms);
        self.down_ms = self.down_ms.min(self.known_ms);
        self.degraded_ms = self.degraded_ms.min(self.known_ms - self.down_ms);
    }

    /// Counts one probe (`rtt_us` when it measured one).
    pub fn probe(&mut self, ok: bool, rtt_us: Option<u64>) {
        self.probes = self.probes.saturating_add(1);
        if !ok {
            self.failures = self.failures.saturating_add(1);
        }
        if let Some(us) = rtt_us {
            let us32 = u32::try_from(us).unwrap_or(u32::MAX);
            self.merge(&Bucket {
                rtt_count: 1,
                rtt_min_us: us32,
                rtt_max_us: us32,
                rtt_sum_us: us,
                ..Bucket::default()
            });
        }
    }

    /// Adds `ms` spent in `state` (only verdicts count; see the module doc).
    pub fn spend(&mut self, state: State, ms: u64) {
        if !counts(state) || ms == 0 {
            return;
        }
        self.known_ms = self.known_ms.saturating_add(ms);
        match state {
            State::Down => self.down_ms = self.down_ms.saturating_add(ms),
            State::Degraded => self.degraded_ms = self.degraded_ms.saturating_add(ms),
            _ => {}
        }
    }

    /// Average RTT, µs.
    pub fn rtt_avg_us(&self) -> Option<f64> {
        (self.rtt_count > 0).then(|| self.rtt_sum_us as f64 / f64::from(self.rtt_count))
    }

    /// Share of the known time that was not DOWN, percent.
    pub fn uptime_pct(&self) -> Option<f64> {
        (self.known_ms > 0).then(|| (self.known_ms.saturating_sub(self.down_ms)) as f64 * 100.0 / self.known_ms as f64)
    }
}

/// Whether time in `state` is a verdict (counts toward uptime).
fn counts(state: State) -> bool {
    matches!(state, State::Up | State::Degraded | State::Down)
}

/// The start of the slot of length `step` containing `ms`.
pub fn floor(ms: u64, step: u64) -> u64 {
    ms - ms % step.max(1)
}

/// A monitor's history being recorded: the state in force and the minutes not yet
/// saved. Lives in memory with the monitor's engine; bounded by [`MAX_OPEN`].
#[derive(Debug, Clone, PartialEq)]
pub struct Recorder {
    /// The state in force since `mark_ms`.
    state: State,
    /// Time up to which the state's time has been attributed.
    mark_ms: u64,
    /// Minutes not yet taken, by start (ms), oldest first.
    open: VecDeque<(u64, Bucket)>,
}

impl Recorder {
    /// Starts recording at `now_ms` with `state` in force. Earlier time (a restart, a
    /// new monitor) is a gap.
    pub fn new(now_ms: u64, state: State) -> Self {
        Self {
            state,
            mark_ms: now_ms,
            open: VecDeque::new(),
        }
    }

    /// The state the recorder attributes time to.
    pub fn state(&self) -> State {
        self.state
    }

    /// Attributes the time up to `now_ms` to the state in force, then switches to `state`.
    pub fn set_state(&mut self, now_ms: u64, state: State) {
        self.advance(now_ms);
        self.state = state;
    }

    /// Counts one probe (or push report) at `now_ms`.
    pub fn probe(&mut self, now_ms: u64, ok: bool, rtt_us: Option<u64>) {
        self.advance(now_ms);
        if let Some(b) = self.minute(floor(now_ms, MINUTE_MS)) {
            b.probe(ok, rtt_us);
        }
    }

    /// Attributes time up to `now_ms` and hands over every minute recorded so far,
    /// oldest first (the periodic save).
    pub fn take(&mut self, now_ms: u64) -> Vec<(u64, Bucket)> {
        self.advance(now_ms);
        self.open.drain(..).filter(|(_, b)| !b.is_empty()).collect()
    }

    /// What [`Recorder::take`] would return, without taking it (readers overlay it on
    /// what is stored).
    pub fn peek(&self, now_ms: u64) -> Vec<(u64, Bucket)> {
        let mut r = self.clone();
        r.take(now_ms)
    }

    /// Minutes held (for tests and the memory bound).
    pub fn open_len(&self) -> usize {
        self.open.len()
    }

    /// Spreads `[mark, now)` over the minutes it covers, in the state in force. A time
    /// before the mark (a clock that went back, or an event stamped before a save took
    /// the minutes) attributes nothing and leaves the mark: time is never counted
    /// twice. A span longer than [`MAX_OPEN`] minutes keeps only its last minutes (the
    /// rest is a gap).
    fn advance(&mut self, now_ms: u64) {
        if now_ms <= self.mark_ms {
            return;
        }
        // The minute holding the last instant of the span, and MAX_OPEN - 1 before it.
        let earliest = floor(now_ms - 1, MINUTE_MS).saturating_sub((MAX_OPEN as u64 - 1) * MINUTE_MS);
        let mut t = self.mark_ms.max(earliest);
        self.mark_ms = now_ms;
        if !counts(self.state) {
            return;
        }
        while t < now_ms {
            let start = floor(t, MINUTE_MS);
            let end = (start + MINUTE_MS).min(now_ms);
            let state = self.state;
            if let Some(b) = self.minute(start) {
                b.spend(state, end - t);
            }
            t = end;
        }
    }

    /// The open bucket of the minute starting at `start`, created in order; `None`
    /// when it would be older than every minute a full recorder holds.
    fn minute(&mut self, start: u64) -> Option<&mut Bucket> {
        let pos = match self.open.iter().rposition(|(s, _)| *s <= start) {
            Some(i) if self.open[i].0 == start => return Some(&mut self.open[i].1),
            Some(i) => i + 1,
            None if self.open.len() >= MAX_OPEN => return None,
            None => 0,
        };
        // Exactly as many slots as minutes open at once (one or two between saves):
        // the default growth to four would cost ~170 bytes a monitor.
        self.open.reserve_exact(1);
        self.open.insert(pos, (start, Bucket::default()));
        let pos = if self.open.len() > MAX_OPEN {
            self.open.pop_front();
            pos - 1
        } else {
            pos
        };
        Some(&mut self.open[pos].1)
    }
}

/// A stored resolution: minutes in chunks of an hour, hours in chunks of a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tier {
    /// 60 one-minute buckets per chunk, kept 48 h.
    Minute,
    /// 24 one-hour buckets per chunk, kept 90 days.
    Hour,
}

impl Tier {
    /// One bucket's span, ms.
    pub fn step_ms(self) -> u64 {
        match self {
            Tier::Minute => MINUTE_MS,
            Tier::Hour => HOUR_MS,
        }
    }

    /// One chunk's span, ms.
    pub fn chunk_ms(self) -> u64 {
        match self {
            Tier::Minute => HOUR_MS,
            Tier::Hour => DAY_MS,
        }
    }

    /// Buckets per chunk.
    pub fn slots(self) -> usize {
        (self.chunk_ms() / self.step_ms()) as usize
    }

    /// How long buckets are kept.
    pub fn kept_ms(self) -> u64 {
        match self {
            Tier::Minute => MINUTES_KEPT_MS,
            Tier::Hour => HOURS_KEPT_MS,
        }
    }

    /// The number of the chunk containing `ms` (hours or days since the epoch).
    pub fn chunk_of(self, ms: u64) -> u32 {
        u32::try_from(ms / self.chunk_ms()).unwrap_or(u32::MAX)
    }

    /// Start of chunk number `n`, ms.
    pub fn chunk_start(self, n: u32) -> u64 {
        u64::from(n) * self.chunk_ms()
    }

    /// The key byte of the tier in the store.
    pub fn tag(self) -> u8 {
        match self {
            Tier::Minute => b'm',
            Tier::Hour => b'h',
        }
    }
}

/// The minute tier's boundary at `now_ms`: hours from here on are read from minutes,
/// earlier ones from the hour tier (minute chunks before it are rolled up).
pub fn minute_horizon(now_ms: u64) -> u64 {
    floor(now_ms, HOUR_MS).saturating_sub(MINUTES_KEPT_MS)
}

/// Rolls a chunk of minutes up into one hour bucket.
pub fn roll_up(minutes: &[Bucket]) -> Bucket {
    let mut b = Bucket::default();
    for m in minutes {
        b.merge(m);
    }
    b
}

// Flags of one encoded bucket; absent fields are zero.
const F_PROBES: u8 = 1;
const F_FAILURES: u8 = 1 << 1;
const F_RTT: u8 = 1 << 2;
/// The RTT count differs from `probes - failures` (written explicitly).
const F_RTT_COUNT: u8 = 1 << 3;
/// The whole slot had a verdict (`known_ms` = step; nothing written).
const F_KNOWN_FULL: u8 = 1 << 4;
const F_KNOWN: u8 = 1 << 5;
const F_DOWN: u8 = 1 << 6;
const F_DEGRADED: u8 = 1 << 7;

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint(b: &mut &[u8]) -> Result<u64, HistoryError> {
    let mut v = 0u64;
    for shift in (0..70).step_by(7) {
        let (&byte, rest) = b.split_first().ok_or(HistoryError::Damaged("truncated"))?;
        *b = rest;
        let bits = u64::from(byte & 0x7f);
        if shift == 63 && bits > 1 {
            return Err(HistoryError::Damaged("number too large"));
        }
        v |= bits << shift;
        if byte & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(HistoryError::Damaged("number too long"))
}

fn get_u32(b: &mut &[u8]) -> Result<u32, HistoryError> {
    u32::try_from(get_varint(b)?).map_err(|_| HistoryError::Damaged("count too large"))
}

fn encode_bucket(out: &mut Vec<u8>, b: &Bucket, step_ms: u64) {
    let implied_rtt = b.probes.saturating_sub(b.failures);
    let mut flags = 0;
    flags |= if b.probes > 0 { F_PROBES } else { 0 };
    flags |= if b.failures > 0 { F_FAILURES } else { 0 };
    flags |= if b.rtt_count > 0 { F_RTT } else { 0 };
    flags |= if b.rtt_count > 0 && b.rtt_count != implied_rtt {
        F_RTT_COUNT
    } else {
        0
    };
    flags |= match b.known_ms {
        0 => 0,
        k if k == step_ms => F_KNOWN_FULL,
        _ => F_KNOWN,
    };
    flags |= if b.down_ms > 0 { F_DOWN } else { 0 };
    flags |= if b.degraded_ms > 0 { F_DEGRADED } else { 0 };
    out.push(flags);
    if flags & F_PROBES != 0 {
        put_varint(out, u64::from(b.probes));
    }
    if flags & F_FAILURES != 0 {
        put_varint(out, u64::from(b.failures));
    }
    if flags & F_RTT_COUNT != 0 {
        put_varint(out, u64::from(b.rtt_count));
    }
    if flags & F_RTT != 0 {
        let min = u64::from(b.rtt_min_us);
        put_varint(out, min);
        put_varint(out, u64::from(b.rtt_max_us.saturating_sub(b.rtt_min_us)));
        put_varint(out, b.rtt_sum_us.saturating_sub(min * u64::from(b.rtt_count)));
    }
    if flags & F_KNOWN != 0 {
        put_varint(out, b.known_ms);
    }
    if flags & F_DOWN != 0 {
        put_varint(out, b.down_ms);
    }
    if flags & F_DEGRADED != 0 {
        put_varint(out, b.degraded_ms);
    }
}

fn decode_bucket(b: &mut &[u8], step_ms: u64) -> Result<Bucket, HistoryError> {
    let (&flags, rest) = b.split_first().ok_or(HistoryError::Damaged("truncated"))?;
    *b = rest;
    let mut o = Bucket::default();
    let field =
        |b: &mut &[u8], bit: u8| -> Result<u64, HistoryError> { if flags & bit != 0 { get_varint(b) } else { Ok(0) } };
    if flags & F_PROBES != 0 {
        o.probes = get_u32(b)?;
    }
    if flags & F_FAILURES != 0 {
        o.failures = get_u32(b)?;
    }
    if flags & F_RTT_COUNT != 0 {
        o.rtt_count = get_u32(b)?;
    } else if flags & F_RTT != 0 {
        o.rtt_count = o.probes.saturating_sub(o.failures);
    }
    if flags & F_RTT != 0 {
        let min = get_u32(b)?;
        let spread = get_u32(b)?;
        let extra = get_varint(b)?;
        o.rtt_min_us = min;
        o.rtt_max_us = min
            .checked_add(spread)
            .ok_or(HistoryError::Damaged("RTT out of range"))?;
        o.rtt_sum_us = (u64::from(min) * u64::from(o.rtt_count))
            .checked_add(extra)
            .ok_or(HistoryError::Damaged("RTT out of range"))?;
    }
    o.known_ms = if flags & F_KNOWN_FULL != 0 {
        step_ms
    } else {
        field(b, F_KNOWN)?
    };
    o.down_ms = field(b, F_DOWN)?;
    o.degraded_ms = field(b, F_DEGRADED)?;
    let consistent = o.failures <= o.probes
        && (flags & F_RTT == 0 || o.rtt_count > 0)
        && o.down_ms.saturating_add(o.degraded_ms) <= o.known_ms
        && o.known_ms <= step_ms;
    if !consistent {
        return Err(HistoryError::Damaged("inconsistent bucket"));
    }
    Ok(o)
}

/// Encodes one chunk of `tier` (at most [`Tier::slots`] buckets; trailing empty ones
/// are not written).
pub fn encode_chunk(tier: Tier, slots: &[Bucket]) -> Vec<u8> {
    let used = slots.iter().rposition(|b| !b.is_empty()).map_or(0, |i| i + 1);
    let used = used.min(tier.slots());
    let mut out = Vec::with_capacity(2 + used * 8);
    out.push(CHUNK_VERSION);
    for b in &slots[..used] {
        encode_bucket(&mut out, b, tier.step_ms());
    }
    out
}

/// Decodes a chunk of `tier` into exactly [`Tier::slots`] buckets.
pub fn decode_chunk(tier: Tier, bytes: &[u8]) -> Result<Vec<Bucket>, HistoryError> {
    let (&version, mut rest) = bytes.split_first().ok_or(HistoryError::Damaged("empty"))?;
    if version != CHUNK_VERSION {
        return Err(HistoryError::Version(version));
    }
    let mut slots = Vec::with_capacity(tier.slots());
    while !rest.is_empty() {
        if slots.len() == tier.slots() {
            return Err(HistoryError::Damaged("too many buckets"));
        }
        slots.push(decode_bucket(&mut rest, tier.step_ms())?);
    }
    slots.resize(tier.slots(), Bucket::default());
    Ok(slots)
}

/// Dense buckets of one step over `[start_ms, start_ms + step_ms × len)`: what charts,
/// pages and figures read.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Start of the first bucket, ms.
    pub start_ms: u64,
    /// Each bucket's span, ms.
    pub step_ms: u64,
    /// The buckets; empty ones are gaps.
    pub buckets: Vec<Bucket>,
}

/// One DOWN period found in a [`Series`] (to the precision of its buckets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Incident {
    /// When it began, ms.
    pub start_ms: u64,
    /// When it ended, ms (or the end of the series if it had not).
    pub end_ms: u64,
    /// Time DOWN within it, ms.
    pub down_ms: u64,
    /// Still DOWN at the end of the series.
    pub ongoing: bool,
}

impl Series {
    /// `n` empty buckets of `step_ms` from `start_ms` (aligned down to the step).
    pub fn new(start_ms: u64, step_ms: u64, n: usize) -> Self {
        let step_ms = step_ms.max(1);
        Self {
            start_ms: floor(start_ms, step_ms),
            step_ms,
            buckets: vec![Bucket::default(); n],
        }
    }

    /// The series ending at the end of `now_ms`'s step and spanning `span_ms`.
    pub fn ending(now_ms: u64, span_ms: u64, step_ms: u64) -> Self {
        let step_ms = step_ms.max(1);
        let end = floor(now_ms, step_ms) + step_ms;
        let n = span_ms.div_ceil(step_ms) as usize;
        Self::new(end.saturating_sub(n as u64 * step_ms), step_ms, n)
    }

    /// End of the last bucket, ms.
    pub fn end_ms(&self) -> u64 {
        self.start_ms + self.step_ms * self.buckets.len() as u64
    }

    /// Start of bucket `i`, ms.
    pub fn at(&self, i: usize) -> u64 {
        self.start_ms + self.step_ms * i as u64
    }

    /// Merges `b` (recorded at `at_ms`) into the bucket covering it; outside the range
    /// it is ignored.
    pub fn add(&mut self, at_ms: u64, b: &Bucket) {
        if at_ms < self.start_ms {
            return;
        }
        let i = ((at_ms - self.start_ms) / self.step_ms) as usize;
        if let Some(slot) = self.buckets.get_mut(i) {
            slot.merge(b);
        }
    }

    /// The same span in coarser buckets of `step_ms` (a multiple of this step).
    pub fn resample(&self, step_ms: u64) -> Series {
        let step_ms = step_ms.max(self.step_ms);
        let start = floor(self.start_ms, step_ms);
        let n = self.end_ms().saturating_sub(start).div_ceil(step_ms) as usize;
        let mut out = Series::new(start, step_ms, n);
        for (i, b) in self.buckets.iter().enumerate() {
            out.add(self.at(i), b);
        }
        out
    }

    /// Everything merged into one bucket.
    pub fn totals(&self) -> Bucket {
        roll_up(&self.buckets)
    }

    /// The DOWN periods: runs of buckets with DOWN time. A run starts at the end of its
    /// first bucket minus that bucket's DOWN time and ends at the start of its last
    /// bucket plus that bucket's DOWN time (exact when one outage spans the run).
    pub fn incidents(&self) -> Vec<Incident> {
        let mut out: Vec<Incident> = Vec::new();
        let mut run: Option<Incident> = None;
        for (i, b) in self.buckets.iter().enumerate() {
            let (start, end) = (self.at(i), self.at(i) + self.step_ms);
            if b.down_ms > 0 {
                let r = run.get_or_insert(Incident {
                    start_ms: end.saturating_sub(b.down_ms).max(start),
                    end_ms: end,
                    down_ms: 0,
                    ongoing: false,
                });
                r.down_ms += b.down_ms;
                r.end_ms = (start + b.down_ms).min(end);
            } else if let Some(r) = run.take() {
                out.push(r);
            }
        }
        if let Some(mut r) = run {
            r.ongoing = true;
            out.push(r);
        }
        out
    }
}

/// UTC calendar parts of a [`super::now_ms`] timestamp: (year, month, day, hour,
/// minute). Howard Hinnant's `civil_from_days`, so charts need no date crate.
pub fn utc(ms: u64) -> (i64, u32, u32, u32, u32) {
    let secs = ms / 1000;
    let days = (secs / 86_400) as i64;
    let sod = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day, (sod / 3600) as u32, (sod % 3600 / 60) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_700_000_000_000 - 1_700_000_000_000 % DAY_MS; // a midnight UTC

    fn up(rtt: u64) -> Bucket {
        let mut b = Bucket::default();
        b.probe(true, Some(rtt));
        b
    }

    #[test]
    fn buckets_merge_as_a_monoid() {
        let mut a = up(1000);
        a.merge(&up(3000));
        a.probe(false, None);
        assert_eq!(
            (
                a.probes,
                a.failures,
                a.rtt_count,
                a.rtt_min_us,
                a.rtt_max_us,
                a.rtt_sum_us
            ),
            (3, 1, 2, 1000, 3000, 4000)
        );
        assert_eq!(a.rtt_avg_us(), Some(2000.0));
        let mut e = Bucket::default();
        e.merge(&a);
        assert_eq!(e, a, "empty is the identity");
        // A bucket without RTT leaves min/max alone.
        let mut f = Bucket::default();
        f.probe(false, None);
        let mut a2 = a;
        a2.merge(&f);
        assert_eq!((a2.rtt_min_us, a2.rtt_max_us, a2.failures), (1000, 3000, 2));
        assert_eq!(Bucket::default().rtt_avg_us(), None);
        assert_eq!(Bucket::default().uptime_pct(), None);
    }

    #[test]
    fn time_in_states_table() {
        // (state, ms) → (known, down, degraded)
        let table = [
            (State::Up, 60_000, (60_000, 0, 0)),
            (State::Down, 1_500, (1_500, 1_500, 0)),
            (State::Degraded, 10, (10, 0, 10)),
            (State::Pending, 60_000, (0, 0, 0)),
            (State::Paused, 60_000, (0, 0, 0)),
        ];
        for (state, ms, want) in table {
            let mut b = Bucket::default();
            b.spend(state, ms);
            assert_eq!((b.known_ms, b.down_ms, b.degraded_ms), want, "{state}");
        }
        let mut b = Bucket::default();
        b.spend(State::Up, 45_000);
        b.spend(State::Down, 15_000);
        assert_eq!(b.uptime_pct(), Some(75.0));
        // Two overlapping records of one minute are capped at the minute.
        let mut twice = b;
        twice.merge(&b);
        twice.clamp(MINUTE_MS);
        assert_eq!((twice.known_ms, twice.down_ms, twice.degraded_ms), (60_000, 30_000, 0));
    }

    #[test]
    fn recorder_spreads_time_over_minutes_and_rolls_over() {
        let mut r = Recorder::new(T0 + 30_000, State::Up);
        r.probe(T0 + 30_000, true, Some(800));
        r.probe(T0 + 35_000, true, Some(1200));
        // DOWN from 0:01:20 to 0:03:10.
        r.set_state(T0 + 80_000, State::Down);
        r.probe(T0 + 80_000, false, None);
        r.set_state(T0 + 190_000, State::Up);
        let got = r.take(T0 + 200_000);
        let want: Vec<(u64, (u64, u64, u32, u32))> = vec![
            (T0, (30_000, 0, 2, 0)),
            (T0 + 60_000, (60_000, 40_000, 1, 1)),
            (T0 + 120_000, (60_000, 60_000, 0, 0)),
            (T0 + 180_000, (20_000, 10_000, 0, 0)),
        ];
        let got_short: Vec<(u64, (u64, u64, u32, u32))> = got
            .iter()
            .map(|(t, b)| (*t, (b.known_ms, b.down_ms, b.probes, b.failures)))
            .collect();
        assert_eq!(got_short, want);
        assert_eq!((got[0].1.rtt_min_us, got[0].1.rtt_max_us), (800, 1200));
        // Taken means gone; the next take starts where this one ended.
        assert_eq!(r.open_len(), 0);
        let next = r.take(T0 + 240_000);
        assert_eq!(
            next,
            vec![(
                T0 + 180_000,
                Bucket {
                    known_ms: 40_000,
                    ..Default::default()
                }
            )]
        );
    }

    #[test]
    fn recorder_gaps_pauses_clock_steps_and_bound() {
        // Pending and paused time is a gap.
        let mut r = Recorder::new(T0, State::Pending);
        r.set_state(T0 + 90_000, State::Paused);
        assert!(r.take(T0 + 200_000).is_empty());
        // A clock that steps back attributes nothing until it is past the mark again
        // (never twice); the probe still counts, in its own minute.
        let mut r = Recorder::new(T0 + 600_000, State::Up);
        r.probe(T0 + 300_000, true, Some(5));
        let got = r.take(T0 + 330_000);
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].0, got[0].1.known_ms, got[0].1.probes), (T0 + 300_000, 0, 1));
        let got = r.take(T0 + 630_000);
        assert_eq!(
            got,
            vec![(
                T0 + 600_000,
                Bucket {
                    known_ms: 30_000,
                    ..Default::default()
                }
            )]
        );
        // A day without a save keeps only the last MAX_OPEN minutes.
        let mut r = Recorder::new(T0, State::Down);
        let got = r.take(T0 + DAY_MS);
        assert_eq!(got.len(), MAX_OPEN);
        assert_eq!(got[0].0, T0 + DAY_MS - MAX_OPEN as u64 * MINUTE_MS);
        assert!(got.iter().all(|(_, b)| b.down_ms == MINUTE_MS));
        // Probes alone are bounded too.
        let mut r = Recorder::new(T0, State::Pending);
        for i in 0..1000 {
            r.probe(T0 + i * MINUTE_MS, true, Some(1));
            assert!(r.open_len() <= MAX_OPEN);
        }
        // A probe older than everything a full recorder holds is dropped, not kept.
        r.probe(T0 - MINUTE_MS, true, Some(1));
        assert_eq!(r.open_len(), MAX_OPEN);
        assert!(r.peek(T0 + 1000 * MINUTE_MS).iter().all(|(t, _)| *t >= T0));
        // peek does not take.
        assert_eq!(r.peek(T0 + 1000 * MINUTE_MS).len(), MAX_OPEN);
        assert_eq!(r.open_len(), MAX_OPEN);
    }

    #[test]
    fn a_late_probe_lands_in_its_own_minute() {
        let mut r = Recorder::new(T0, State::Pending);
        r.probe(T0 + 2 * MINUTE_MS, true, Some(10));
        r.probe(T0 + MINUTE_MS + 5, true, Some(20));
        let got = r.take(T0 + 3 * MINUTE_MS);
        let starts: Vec<u64> = got.iter().map(|(t, _)| *t).collect();
        assert_eq!(starts, vec![T0 + MINUTE_MS, T0 + 2 * MINUTE_MS]);
    }

    #[test]
    fn chunks_round_trip_table() {
        let mut degraded = up(250);
        degraded.spend(State::Degraded, 60_000);
        let mut partial = Bucket::default();
        partial.spend(State::Down, 12_345);
        partial.spend(State::Up, 100);
        partial.probe(false, None);
        let mut push = Bucket::default();
        push.probe(true, None); // a heartbeat: no RTT
        push.spend(State::Up, 60_000);
        let mut huge = up(u64::from(u32::MAX));
        huge.merge(&up(0));
        let cases: Vec<(&str, Tier, Vec<Bucket>)> = vec![
            ("all empty", Tier::Minute, vec![Bucket::default(); 60]),
            (
                "one steady minute",
                Tier::Minute,
                vec![{
                    let mut b = up(900);
                    b.spend(State::Up, 60_000);
                    b
                }],
            ),
            ("gap then data", Tier::Minute, {
                let mut v = vec![Bucket::default(); 60];
                v[59] = degraded;
                v[7] = partial;
                v
            }),
            ("push without RTT", Tier::Minute, vec![push, push]),
            ("extreme RTTs", Tier::Hour, vec![huge]),
            ("full day of hours", Tier::Hour, {
                (0..24)
                    .map(|i| {
                        let mut b = Bucket::default();
                        for k in 0..720 {
                            b.probe(k % 97 != 0, (k % 97 != 0).then_some(1000 + i * 10 + k % 7));
                        }
                        b.spend(State::Up, HOUR_MS - 60_000);
                        b.spend(State::Down, 60_000);
                        b
                    })
                    .collect()
            }),
        ];
        for (name, tier, slots) in cases {
            let bytes = encode_chunk(tier, &slots);
            let back = decode_chunk(tier, &bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(back.len(), tier.slots(), "{name}");
            let mut want = slots.clone();
            want.resize(tier.slots(), Bucket::default());
            assert_eq!(back, want, "{name}");
        }
        // Sizes that the README states: an empty chunk is the version byte alone.
        assert_eq!(encode_chunk(Tier::Minute, &[Bucket::default(); 60]).len(), 1);
    }

    #[test]
    fn damaged_chunks_are_errors_not_panics() {
        let good = encode_chunk(Tier::Minute, &[up(1000), up(2000)]);
        assert_eq!(decode_chunk(Tier::Minute, &[]), Err(HistoryError::Damaged("empty")));
        assert_eq!(decode_chunk(Tier::Minute, &[9]), Err(HistoryError::Version(9)));
        for cut in 1..good.len() {
            // Every prefix either decodes to fewer buckets or is refused; none panics.
            let _ = decode_chunk(Tier::Minute, &good[..cut]);
        }
        assert!(decode_chunk(Tier::Minute, &good[..good.len() - 1]).is_err());
        // 61 buckets in a 60-slot chunk.
        let mut many = vec![CHUNK_VERSION];
        many.extend(std::iter::repeat_n(0u8, 61));
        assert_eq!(
            decode_chunk(Tier::Minute, &many),
            Err(HistoryError::Damaged("too many buckets"))
        );
        // failures > probes
        let bad = vec![CHUNK_VERSION, F_PROBES | F_FAILURES, 1, 2];
        assert!(decode_chunk(Tier::Minute, &bad).is_err());
        // known time longer than the slot
        let mut bad = vec![CHUNK_VERSION, F_KNOWN];
        put_varint(&mut bad, MINUTE_MS + 1);
        assert!(decode_chunk(Tier::Minute, &bad).is_err());
        // a varint that never ends
        let bad = [
            CHUNK_VERSION,
            F_PROBES,
            0xff,
            0xff,
            0xff,
            0xff,
            0xff,
            0xff,
            0xff,
            0xff,
            0xff,
            0xff,
            0x01,
        ];
        assert!(decode_chunk(Tier::Minute, &bad).is_err());
        // arbitrary bytes never panic
        for seed in 0u32..2000 {
            let bytes: Vec<u8> = (0..(seed % 40))
                .map(|i| (seed.wrapping_mul(2_654_435_761).wrapping_add(i * 40_503) >> 7) as u8)
                .collect();
            let mut b = vec![CHUNK_VERSION];
            b.extend(bytes);
            let _ = decode_chunk(Tier::Hour, &b);
        }
    }

    #[test]
    fn varints() {
        for v in [0, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            let mut s = out.as_slice();
            assert_eq!(get_varint(&mut s), Ok(v));
            assert!(s.is_empty());
        }
        let mut s: &[u8] = &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
        assert!(get_varint(&mut s).is_err(), "2^64 overflows");
    }

    #[test]
    fn tiers_and_horizon() {
        assert_eq!((Tier::Minute.slots(), Tier::Hour.slots()), (60, 24));
        let t = T0 + 5 * HOUR_MS + 17 * MINUTE_MS;
        assert_eq!(Tier::Minute.chunk_start(Tier::Minute.chunk_of(t)), T0 + 5 * HOUR_MS);
        assert_eq!(Tier::Hour.chunk_start(Tier::Hour.chunk_of(t)), T0);
        assert_eq!(minute_horizon(t), T0 + 5 * HOUR_MS - 48 * HOUR_MS);
        assert_ne!(Tier::Minute.tag(), Tier::Hour.tag());
    }

    #[test]
    fn series_totals_and_incidents() {
        // 10 five-minute buckets; DOWN from 0:12 to 0:26 (partial, full, partial), and
        // again in the last bucket, still going.
        let mut s = Series::new(T0, 5 * MINUTE_MS, 10);
        let step = 5 * MINUTE_MS;
        for i in 0..10 {
            let mut b = up(1000 + i * 100);
            b.spend(State::Up, step);
            s.add(s.at(i as usize) + 1, &b);
        }
        let down = |ms: u64| Bucket {
            known_ms: 0,
            down_ms: ms,
            ..Default::default()
        };
        // Down time is also known time: record it as spent.
        let mut spend_down = |at: u64, ms: u64| {
            let mut b = down(0);
            b.spend(State::Down, ms);
            s.add(at, &b);
        };
        spend_down(T0 + 2 * step, 3 * MINUTE_MS); // 0:12-0:15
        spend_down(T0 + 3 * step, step); // 0:15-0:20
        spend_down(T0 + 4 * step, MINUTE_MS); // 0:20-0:21
        spend_down(T0 + 9 * step, 2 * MINUTE_MS);
        let inc = s.incidents();
        assert_eq!(inc.len(), 2);
        assert_eq!(
            (inc[0].start_ms, inc[0].end_ms, inc[0].down_ms, inc[0].ongoing),
            (T0 + 12 * MINUTE_MS, T0 + 21 * MINUTE_MS, 9 * MINUTE_MS, false)
        );
        assert_eq!((inc[1].start_ms, inc[1].ongoing), (T0 + 48 * MINUTE_MS, true));
        let t = s.totals();
        assert_eq!(t.probes, 10);
        assert_eq!(t.down_ms, 11 * MINUTE_MS);
        // Outside the range is ignored.
        s.add(T0 - 1, &up(1));
        s.add(s.end_ms(), &up(1));
        assert_eq!(s.totals().probes, 10);
        let coarse = s.resample(25 * MINUTE_MS);
        assert_eq!((coarse.buckets.len(), coarse.step_ms), (2, 25 * MINUTE_MS));
        assert_eq!(coarse.totals(), s.totals(), "nothing lost");
        assert_eq!(coarse.buckets[0].down_ms, 9 * MINUTE_MS);
        let e = Series::ending(T0 + 90 * MINUTE_MS + 5, DAY_MS, HOUR_MS);
        assert_eq!((e.buckets.len(), e.end_ms()), (24, T0 + 2 * HOUR_MS));
    }

    #[test]
    fn utc_calendar() {
        assert_eq!(utc(0), (1970, 1, 1, 0, 0));
        // 2024-02-29T23:59:00Z (a leap day)
        assert_eq!(utc(1_709_251_140_000), (2024, 2, 29, 23, 59));
        // 2026-11-23T12:34:56Z
        assert_eq!(utc(1_795_437_296_000), (2026, 11, 23, 12, 34));
        assert_eq!(utc(T0).3, 0);
    }
}
