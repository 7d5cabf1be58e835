//! Each monitor's downsampled history on disk (the format and rules are in
//! [`crate::domain::history`]): the tree `history` maps
//! (monitor id, tier, chunk number) to one encoded chunk — an hour of minutes or a day
//! of hours.
//!
//! - **Writes come in batches.** The engines hand over the minutes their recorders
//!   gathered at the periodic statistics save ([`Store::save_history`]); each touched
//!   minute chunk is read, merged and written once. Nothing is written per probe.
//! - **Roll-up.** A minute chunk older than the minute horizon (48 h) is rolled up into
//!   its hour slot and deleted; the hour slot is *set*, not added to, so a crash between
//!   the two writes is repaired by doing it again. Hour chunks older than 90 days go.
//!   A monitor that no save touches (paused for days) is rolled up on read instead.
//! - **Reads** ([`Store::history`]) take minutes from the horizon on and hours before
//!   it, and overlay what the engine holds but has not saved yet.
//! - A damaged chunk is logged and read as empty (and replaced at the next save of
//!   its span): history is a picture of the past, never a reason to refuse to start.

use std::collections::BTreeMap;

use super::{Store, StoreError, key};
use crate::domain::MonitorId;
use crate::domain::history::{
    Bucket, HistoryError, Series, Tier, decode_chunk, encode_chunk, floor, minute_horizon, roll_up,
};

/// The tree's name.
const TREE: &str = "history";

/// `id | tier | chunk`, big-endian, so one monitor's chunks of one tier are a range.
fn chunk_key(id: MonitorId, tier: Tier, chunk: u32) -> [u8; 13] {
    let mut k = [0u8; 13];
    k[..8].copy_from_slice(&key(id));
    k[8] = tier.tag();
    k[9..].copy_from_slice(&chunk.to_be_bytes());
    k
}

fn chunk_of_key(k: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(k.get(9..13)?.try_into().ok()?))
}

/// What one save did (for the log and the tests).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HistorySaved {
    /// Monitors whose minutes were written.
    pub monitors: usize,
    /// Chunks written.
    pub chunks: usize,
    /// Minute chunks rolled up into hours.
    pub rolled: usize,
    /// Chunks deleted for age.
    pub expired: usize,
}

impl HistorySaved {
    /// Counts `other` in too (a save made of several writes).
    pub fn add(&mut self, other: HistorySaved) {
        self.monitors += other.monitors;
        self.chunks += other.chunks;
        self.rolled += other.rolled;
        self.expired += other.expired;
    }
}

impl Store {
    pub(super) fn history_tree(&self) -> Result<sled::Tree, StoreError> {
        // sled keeps opened trees in a map: after the first call this is a lookup.
        Ok(self.db.open_tree(TREE)?)
    }

    /// Merges a batch of recorded minutes (per monitor, from their engines' recorders)
    /// into the stored chunks, then rolls up and expires what `now_ms` puts past the
    /// horizons. Minutes of a monitor that no longer exists are dropped. Runs on the
    /// store's writer thread; durable with the background flush.
    pub async fn save_history(
        &self,
        batch: Vec<(MonitorId, Vec<(u64, Bucket)>)>,
        now_ms: u64,
    ) -> Result<HistorySaved, StoreError> {
        self.on_writer(false, (0, 0), move |s| s.write_history(&batch, now_ms))
            .await
    }

    /// [`Store::save_history`] on the calling thread (the writer's, or a test's).
    pub(super) fn write_history(
        &self,
        batch: &[(MonitorId, Vec<(u64, Bucket)>)],
        now_ms: u64,
    ) -> Result<HistorySaved, StoreError> {
        let tree = self.history_tree()?;
        let mut done = HistorySaved::default();
        for (id, minutes) in batch {
            if minutes.is_empty() || !self.monitors.contains_key(key(*id))? {
                continue;
            }
            let mut by_chunk: BTreeMap<u32, Vec<(u64, Bucket)>> = BTreeMap::new();
            for (t, b) in minutes {
                by_chunk.entry(Tier::Minute.chunk_of(*t)).or_default().push((*t, *b));
            }
            for (chunk, items) in by_chunk {
                let k = chunk_key(*id, Tier::Minute, chunk);
                let mut slots = read_chunk(&tree, &k, Tier::Minute, *id)?;
                let start = Tier::Minute.chunk_start(chunk);
                for (t, b) in items {
                    let i = ((floor(t, Tier::Minute.step_ms()) - start) / Tier::Minute.step_ms()) as usize;
                    if let Some(s) = slots.get_mut(i) {
                        s.merge(&b);
                        s.clamp(Tier::Minute.step_ms());
                    }
                }
                tree.insert(k, encode_chunk(Tier::Minute, &slots))?;
                done.chunks += 1;
            }
            done.monitors += 1;
            let (rolled, expired) = self.history_maintain(&tree, *id, now_ms)?;
            done.rolled += rolled;
            done.expired += expired;
        }
        Ok(done)
    }

    /// Rolls up minute chunks past the horizon and deletes hour chunks past 90 days.
    fn history_maintain(&self, tree: &sled::Tree, id: MonitorId, now_ms: u64) -> Result<(usize, usize), StoreError> {
        let horizon = Tier::Minute.chunk_of(minute_horizon(now_ms));
        let stale: Vec<sled::IVec> = tree
            .range(chunk_key(id, Tier::Minute, 0)..chunk_key(id, Tier::Minute, horizon))
            .keys()
            .collect::<Result<_, _>>()?;
        for k in &stale {
            let Some(chunk) = chunk_of_key(k) else { continue };
            let minutes = read_chunk(tree, k, Tier::Minute, id)?;
            let hour = roll_up(&minutes);
            let at = Tier::Minute.chunk_start(chunk);
            let day = Tier::Hour.chunk_of(at);
            let hk = chunk_key(id, Tier::Hour, day);
            let mut hours = read_chunk(tree, &hk, Tier::Hour, id)?;
            let i = ((at - Tier::Hour.chunk_start(day)) / Tier::Hour.step_ms()) as usize;
            if let Some(slot) = hours.get_mut(i) {
                // Set, not merged: doing it twice (a crash before the delete) is harmless.
                *slot = hour;
            }
            tree.insert(hk, encode_chunk(Tier::Hour, &hours))?;
            tree.remove(k)?;
        }
        let oldest_day = Tier::Hour.chunk_of(now_ms.saturating_sub(Tier::Hour.kept_ms()));
        let old: Vec<sled::IVec> = tree
            .range(chunk_key(id, Tier::Hour, 0)..chunk_key(id, Tier::Hour, oldest_day))
            .keys()
            .collect::<Result<_, _>>()?;
        for k in &old {
            tree.remove(k)?;
        }
        Ok((stale.len(), old.len()))
    }

    /// The history of `id` over `[from_ms, to_ms)` in buckets of `step_ms` (aligned to
    /// UTC multiples of the step), with `unsaved` (what the engine holds) laid over it.
    /// Minutes are read from the minute horizon on, hours before it.
    pub fn history(
        &self,
        id: MonitorId,
        from_ms: u64,
        to_ms: u64,
        step_ms: u64,
        unsaved: &[(u64, Bucket)],
        now_ms: u64,
    ) -> Result<Series, StoreError> {
        let step_ms = step_ms.max(1);
        let start = floor(from_ms, step_ms);
        let n = to_ms.saturating_sub(start).div_ceil(step_ms) as usize;
        let mut s = Series::new(start, step_ms, n);
        let (from_ms, to_ms) = (s.start_ms, s.end_ms());
        if n == 0 {
            return Ok(s);
        }
        let tree = self.history_tree()?;
        let horizon = minute_horizon(now_ms);
        // Hours before the horizon: the hour tier, or minutes not rolled up yet.
        if from_ms < horizon {
            let end = to_ms.min(horizon);
            let mut seen_hours = std::collections::HashSet::new();
            let first = Tier::Hour.chunk_of(from_ms);
            let last = Tier::Hour.chunk_of(end - 1);
            for kv in tree.range(chunk_key(id, Tier::Hour, first)..=chunk_key(id, Tier::Hour, last)) {
                let (k, v) = kv?;
                let Some(chunk) = chunk_of_key(&k) else { continue };
                for (i, b) in decode_or_empty(Tier::Hour, &v, id).iter().enumerate() {
                    let t = Tier::Hour.chunk_start(chunk) + i as u64 * Tier::Hour.step_ms();
                    if !b.is_empty() && t >= from_ms && t < end {
                        s.add(t, b);
                        seen_hours.insert(t);
                    }
                }
            }
            let (first, last) = (Tier::Minute.chunk_of(from_ms), Tier::Minute.chunk_of(end - 1));
            for kv in tree.range(chunk_key(id, Tier::Minute, first)..=chunk_key(id, Tier::Minute, last)) {
                let (k, v) = kv?;
                let Some(chunk) = chunk_of_key(&k) else { continue };
                let hour = Tier::Minute.chunk_start(chunk);
                if !seen_hours.contains(&hour) {
                    add_minutes(&mut s, hour, &decode_or_empty(Tier::Minute, &v, id), from_ms, end);
                }
            }
        }
        // From the horizon on: minutes.
        if to_ms > horizon {
            let begin = from_ms.max(horizon);
            let (first, last) = (Tier::Minute.chunk_of(begin), Tier::Minute.chunk_of(to_ms - 1));
            for kv in tree.range(chunk_key(id, Tier::Minute, first)..=chunk_key(id, Tier::Minute, last)) {
                let (k, v) = kv?;
                let Some(chunk) = chunk_of_key(&k) else { continue };
                let start = Tier::Minute.chunk_start(chunk);
                add_minutes(&mut s, start, &decode_or_empty(Tier::Minute, &v, id), begin, to_ms);
            }
        }
        for (t, b) in unsaved {
            s.add(*t, b);
        }
        Ok(s)
    }

    /// Bytes one monitor's history takes in the tree (keys and values).
    pub fn history_bytes(&self, id: MonitorId) -> Result<u64, StoreError> {
        let tree = self.history_tree()?;
        let mut n = 0u64;
        for kv in tree.scan_prefix(key(id)) {
            let (k, v) = kv?;
            n += (k.len() + v.len()) as u64;
        }
        Ok(n)
    }

    /// Removes every chunk of `id`.
    pub(super) fn delete_history(&self, id: MonitorId) -> Result<(), StoreError> {
        let tree = self.history_tree()?;
        let keys: Vec<sled::IVec> = tree.scan_prefix(key(id)).keys().collect::<Result<_, _>>()?;
        for k in keys {
            tree.remove(k)?;
        }
        Ok(())
    }

    /// Removes the chunks of monitors that do not exist (a crash between a delete's
    /// writes): those whose monitor key `exists` does not know. Returns how many.
    pub(super) fn sweep_history(&self, exists: impl Fn(&[u8]) -> bool) -> Result<usize, StoreError> {
        let tree = self.history_tree()?;
        let mut removed = 0;
        let mut last: Option<([u8; 8], bool)> = None;
        for k in tree.iter().keys() {
            let k = k?;
            let Some(idk) = k.get(..8).and_then(|b| <[u8; 8]>::try_from(b).ok()) else {
                tree.remove(&k)?;
                removed += 1;
                continue;
            };
            let exists = match last {
                Some((prev, e)) if prev == idk => e,
                _ => exists(&idk),
            };
            last = Some((idk, exists));
            if !exists {
                tree.remove(&k)?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

fn add_minutes(s: &mut Series, chunk_start: u64, minutes: &[Bucket], from: u64, to: u64) {
    for (i, b) in minutes.iter().enumerate() {
        let t = chunk_start + i as u64 * Tier::Minute.step_ms();
        if !b.is_empty() && t >= from && t < to {
            s.add(t, b);
        }
    }
}

/// A stored chunk's buckets; empty when missing or damaged (logged).
fn read_chunk(tree: &sled::Tree, k: &[u8], tier: Tier, id: MonitorId) -> Result<Vec<Bucket>, StoreError> {
    Ok(match tree.get(k)? {
        Some(v) => decode_or_empty(tier, &v, id),
        None => vec![Bucket::default(); tier.slots()],
    })
}

fn decode_or_empty(tier: Tier, bytes: &[u8], id: MonitorId) -> Vec<Bucket> {
    decode_chunk(tier, bytes).unwrap_or_else(|e: HistoryError| {
        tracing::warn!(monitor = %id, error = %e, "history chunk unreadable; read as empty");
        vec![Bucket::default(); tier.slots()]
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::history::{DAY_MS, HOUR_MS, MINUTE_MS, Recorder};
    use crate::domain::{Health, Monitor, State};

    const T0: u64 = 1_795_392_000_000; // 2026-11-23T00:00:00Z

    async fn store_with(ids: &[u64]) -> Store {
        let s = Store::temporary().unwrap();
        for &id in ids {
            let m = Monitor::sample(id, crate::domain::Kind::Tcp, "127.0.0.1", Some(9));
            s.put_monitor(&m, &Health::new(0)).await.unwrap();
        }
        s
    }

    fn steady(rtt: u64) -> Bucket {
        let mut b = Bucket::default();
        for _ in 0..12 {
            b.probe(true, Some(rtt));
        }
        b.spend(State::Up, MINUTE_MS);
        b
    }

    #[tokio::test]
    async fn batches_merge_into_chunks_and_read_back() {
        let s = store_with(&[1, 2]).await;
        let id = MonitorId(1);
        let now = T0 + 10 * HOUR_MS;
        let batch = vec![
            (
                id,
                (0..90)
                    .map(|m| (now - 90 * MINUTE_MS + m * MINUTE_MS, steady(1000 + m)))
                    .collect(),
            ),
            (MonitorId(3), vec![(now, steady(1))]), // no such monitor: dropped
        ];
        let saved = s.write_history(&batch, now).unwrap();
        assert_eq!((saved.monitors, saved.chunks), (1, 2), "90 minutes over two hours");
        // The same minute saved again (a restart within it) adds up.
        s.write_history(&[(id, vec![(now - MINUTE_MS, steady(5000))])], now)
            .unwrap();
        let series = s.history(id, now - 2 * HOUR_MS, now, MINUTE_MS, &[], now).unwrap();
        assert_eq!(series.buckets.len(), 120);
        let t = series.totals();
        assert_eq!(t.probes, 91 * 12);
        assert_eq!(t.rtt_max_us, 5000);
        assert_eq!(t.known_ms, 90 * MINUTE_MS, "a minute never lasts longer than a minute");
        assert_eq!(series.buckets[119].probes, 24);
        // The unsaved minutes of the engine are laid over.
        let mut r = Recorder::new(now, State::Up);
        r.probe(now + 5, true, Some(7));
        let with = s
            .history(id, now - HOUR_MS, now + HOUR_MS, HOUR_MS, &r.peek(now + 30_000), now)
            .unwrap();
        assert_eq!(with.buckets[1].probes, 1);
        assert_eq!(with.buckets[1].known_ms, 30_000);
        assert!(
            s.history(MonitorId(2), now - DAY_MS, now, HOUR_MS, &[], now)
                .unwrap()
                .totals()
                .is_empty()
        );
        assert!(s.history_bytes(id).unwrap() > 0);
        assert_eq!(s.history_bytes(MonitorId(2)).unwrap(), 0);
    }

    #[tokio::test]
    async fn minutes_roll_up_into_hours_past_48h_and_hours_expire_after_90_days() {
        let s = store_with(&[1]).await;
        let id = MonitorId(1);
        // Three hours of minutes, 100 days ago and 3 days ago, then a save "now".
        let old = T0 - 100 * DAY_MS;
        let mid = T0 - 3 * DAY_MS;
        let mut minutes = Vec::new();
        for base in [old, mid] {
            for m in 0..180 {
                minutes.push((base + m * MINUTE_MS, steady(2000)));
            }
        }
        // Saved while they were recent.
        s.write_history(&[(id, minutes[..180].to_vec())], old + 3 * HOUR_MS)
            .unwrap();
        // This save also rolls up the minutes of 100 days ago, and drops their hours.
        let a = s
            .save_history(vec![(id, minutes[180..].to_vec())], mid + 3 * HOUR_MS)
            .await
            .unwrap();
        let before = s
            .history(id, mid, mid + 3 * HOUR_MS, HOUR_MS, &[], mid + 3 * HOUR_MS)
            .unwrap();
        // A save now rolls the minutes of 3 days ago into hours.
        let now = T0 + 12 * HOUR_MS;
        let b = s.write_history(&[(id, vec![(now, steady(1))])], now).unwrap();
        assert_eq!((a.rolled, a.expired), (3, 1), "{a:?}");
        assert_eq!((b.rolled, b.expired), (3, 0), "{b:?}");
        let after = s.history(id, mid, mid + 3 * HOUR_MS, HOUR_MS, &[], now).unwrap();
        assert_eq!(after, before, "rolled-up hours read the same");
        assert_eq!(after.totals().probes, 180 * 12);
        let gone = s.history(id, old, old + DAY_MS, HOUR_MS, &[], now).unwrap();
        assert!(gone.totals().is_empty());
        // Only hour chunks remain for 3 days ago: no minute chunks before the horizon.
        let tree = s.history_tree().unwrap();
        let horizon = Tier::Minute.chunk_of(minute_horizon(now));
        let stale = tree
            .range(chunk_key(id, Tier::Minute, 0)..chunk_key(id, Tier::Minute, horizon))
            .count();
        assert_eq!(stale, 0);
        // Rolling up twice (a crash before the delete) does not double-count.
        s.history_maintain(&tree, id, now).unwrap();
        assert_eq!(
            s.history(id, mid, mid + 3 * HOUR_MS, HOUR_MS, &[], now).unwrap(),
            before
        );
    }

    #[tokio::test]
    async fn a_monitor_no_save_touches_is_rolled_up_on_read() {
        let s = store_with(&[1]).await;
        let id = MonitorId(1);
        let then = T0 - 5 * DAY_MS;
        s.write_history(&[(id, vec![(then, steady(3000))])], then).unwrap();
        let now = T0;
        let day = s.history(id, then - HOUR_MS, then + HOUR_MS, DAY_MS, &[], now).unwrap();
        assert_eq!(day.totals().probes, 12, "read from the minute chunk before the horizon");
    }

    #[tokio::test]
    async fn damaged_chunks_read_as_empty_and_deletes_take_history_along() {
        let s = store_with(&[1, 2]).await;
        let now = T0 + HOUR_MS;
        let id = MonitorId(1);
        s.save_history(
            vec![(id, vec![(now, steady(1000))]), (MonitorId(2), vec![(now, steady(9))])],
            now,
        )
        .await
        .unwrap();
        let tree = s.history_tree().unwrap();
        tree.insert(
            chunk_key(id, Tier::Minute, Tier::Minute.chunk_of(now)),
            &[1u8, 0xff][..],
        )
        .unwrap();
        let read = s.history(id, now - HOUR_MS, now + HOUR_MS, HOUR_MS, &[], now).unwrap();
        assert!(read.totals().is_empty());
        // The next save of that span replaces it.
        s.write_history(&[(id, vec![(now, steady(1000))])], now).unwrap();
        let read = s.history(id, now - HOUR_MS, now + HOUR_MS, HOUR_MS, &[], now).unwrap();
        assert_eq!(read.totals().probes, 12);
        s.delete_monitor(id).await.unwrap();
        assert_eq!(s.history_bytes(id).unwrap(), 0);
        assert!(s.history_bytes(MonitorId(2)).unwrap() > 0);
        // A late save for the deleted monitor writes nothing.
        s.write_history(&[(id, vec![(now, steady(1000))])], now).unwrap();
        assert_eq!(s.history_bytes(id).unwrap(), 0);
        // Orphans (a crash between a delete's writes) are swept.
        tree.insert(
            chunk_key(MonitorId(9), Tier::Hour, 1),
            encode_chunk(Tier::Hour, &[steady(1)]),
        )
        .unwrap();
        assert_eq!(s.sweep_orphans().unwrap(), 1);
        assert!(s.history_bytes(MonitorId(2)).unwrap() > 0);
    }
}
