//! The durable outbox: announcements waiting for Telegram.
//!
//! Rows live in the store's `outbox` tree, in the format schema 1 has always used: the
//! key is a sled-generated sequence number (big-endian, so iteration is oldest first),
//! the value the [`Alert`] as JSON. What this module adds is an in-memory index by bot
//! and chat, built once when the store opens and kept in step with every write made
//! here, so that
//!
//! - a sender asks for one chat's pending alerts and pays for those only (it used to
//!   decode the whole outbox on every wake-up: a backlog drained in O(n²));
//! - the chats of one bot that have something pending are listed without reading rows;
//! - [`Store::outbox_len`] (`/metrics`) is a counter read, not a scan.
//!
//! Every write to the tree goes through here ([`Store::outbox_push`] is what
//! `record_transition`/`record_push` call, and [`Store::outbox_notify`] wakes the
//! senders once the alert is written), so the index cannot miss a row. The rows are the
//! truth: the index is built from them at open ([`Outbox::reindex`], to be called again
//! whenever the database is opened anew), and a row that vanished under it (a write
//! lost with a failed flush) is dropped from it the first time a sender looks.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::watch;

use super::handle::{DbRef, TreeRef};
use super::{Alert, Store, StoreError, dec, enc};

/// Pending sequence numbers by (bot, chat), and where each sequence is filed.
#[derive(Default, Debug)]
struct Index {
    /// Lower-case bot username → chat → sequences (ordered: oldest first).
    by_chat: HashMap<Arc<str>, BTreeMap<i64, BTreeSet<u64>>>,
    /// Sequence → (bot, chat) it is filed under, to unfile it on removal.
    slots: HashMap<u64, (Arc<str>, i64)>,
}

impl Index {
    fn file(&mut self, seq: u64, bot: &str, chat: i64) {
        let bot = bot.to_ascii_lowercase();
        let key: Arc<str> = match self.by_chat.get_key_value(bot.as_str()) {
            Some((k, _)) => k.clone(),
            None => Arc::from(bot),
        };
        self.by_chat
            .entry(key.clone())
            .or_default()
            .entry(chat)
            .or_default()
            .insert(seq);
        self.slots.insert(seq, (key, chat));
    }

    fn unfile(&mut self, seq: u64) -> Option<(Arc<str>, i64)> {
        let (bot, chat) = self.slots.remove(&seq)?;
        if let Some(chats) = self.by_chat.get_mut(&bot) {
            if let Some(seqs) = chats.get_mut(&chat) {
                seqs.remove(&seq);
                if seqs.is_empty() {
                    chats.remove(&chat);
                }
            }
            if chats.is_empty() {
                self.by_chat.remove(&bot);
            }
        }
        Some((bot, chat))
    }

    fn seqs(&self, bot: &str, chat: i64) -> Vec<u64> {
        self.by_chat
            .get(bot.to_ascii_lowercase().as_str())
            .and_then(|c| c.get(&chat))
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default()
    }
}

/// The two fields of an [`Alert`] the index files it under (decoding only these keeps
/// the index build at open cheap).
#[derive(serde::Deserialize)]
struct Filing {
    bot: String,
    chat_id: i64,
}

/// The outbox's tree, its index and the wake-up signal for senders.
pub(super) struct Outbox {
    /// Handles on the live database (the store may open it anew after a failure).
    db: DbRef,
    /// Not served while the store cannot write (see `handle`).
    rows: TreeRef,
    index: Mutex<Index>,
    /// Bumped whenever alerts enter the outbox or move, so senders wake without polling.
    signal: watch::Sender<u64>,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("len", &self.index().slots.len())
            .finish()
    }
}

impl Outbox {
    /// The outbox over `rows` (the `outbox` tree of `db`), indexed.
    pub(super) fn new(db: DbRef, rows: TreeRef) -> Result<Self, StoreError> {
        let ob = Self {
            db,
            rows,
            index: Mutex::new(Index::default()),
            signal: watch::channel(0).0,
        };
        ob.reindex()?;
        Ok(ob)
    }

    /// Builds the index from the rows (one pass; only `bot` and `chat_id` are decoded).
    /// A row that does not decode cannot be delivered: it is logged and left alone.
    pub(super) fn reindex(&self) -> Result<(), StoreError> {
        let mut index = Index::default();
        for kv in self.rows.iter() {
            let (k, v) = kv?;
            let Ok(seq) = <[u8; 8]>::try_from(k.as_ref()).map(u64::from_be_bytes) else {
                tracing::error!(key = ?k, "outbox row with a malformed key; ignored");
                continue;
            };
            match dec::<Filing>(&v) {
                Ok(f) => index.file(seq, &f.bot, f.chat_id),
                Err(e) => tracing::error!(seq, error = %e, "outbox row does not decode; it cannot be sent"),
            }
        }
        *self.index() = index;
        Ok(())
    }

    fn index(&self) -> MutexGuard<'_, Index> {
        self.index.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn wake(&self) {
        self.signal.send_modify(|n| *n = n.wrapping_add(1));
    }

    fn rows_of(&self, seqs: Vec<u64>) -> Result<Vec<(u64, Alert)>, StoreError> {
        let mut out = Vec::with_capacity(seqs.len());
        for seq in seqs {
            match self.rows.get(seq.to_be_bytes())? {
                Some(v) => out.push((seq, dec(&v)?)),
                // Delivered meanwhile (then already unfiled), or lost with a failed flush.
                None => {
                    self.index().unfile(seq);
                }
            }
        }
        Ok(out)
    }
}

impl Store {
    /// Queues an alert (not flushed: `record_transition` writes it with the health
    /// change that caused it, and both ride on the same flush). Returns its sequence.
    /// Senders are not woken: call [`Store::outbox_notify`] once the alert is written.
    pub fn outbox_push(&self, alert: &Alert) -> Result<u64, StoreError> {
        // Cluster mode: the row goes to the cluster's outbox; the leader sends it.
        if let Some(r) = self.replica() {
            return Ok(r.alert(alert));
        }
        let ob = &self.outbox;
        let seq = ob.db.generate_id()?;
        ob.rows.insert(seq.to_be_bytes(), enc(alert)?)?;
        ob.index().file(seq, &alert.bot, alert.chat_id);
        Ok(seq)
    }

    /// Wakes the senders: alerts were queued.
    pub fn outbox_notify(&self) {
        self.outbox.wake();
    }

    /// Pending alerts of one bot, oldest first, with their sequence numbers.
    pub fn outbox(&self, bot: &str) -> Result<Vec<(u64, Alert)>, StoreError> {
        let mut seqs: Vec<u64> = {
            let ix = self.outbox.index();
            ix.by_chat
                .get(bot.to_ascii_lowercase().as_str())
                .map(|chats| chats.values().flatten().copied().collect())
                .unwrap_or_default()
        };
        seqs.sort_unstable();
        self.outbox.rows_of(seqs)
    }

    /// Chats `bot` has pending alerts for (no row is read).
    pub fn outbox_chats(&self, bot: &str) -> Vec<i64> {
        self.outbox
            .index()
            .by_chat
            .get(bot.to_ascii_lowercase().as_str())
            .map(|chats| chats.keys().copied().collect())
            .unwrap_or_default()
    }

    /// Pending alerts of `bot` for `chat`, oldest first (only these rows are read).
    pub fn outbox_for_chat(&self, bot: &str, chat: i64) -> Result<Vec<(u64, Alert)>, StoreError> {
        let seqs = self.outbox.index().seqs(bot, chat);
        self.outbox.rows_of(seqs)
    }

    /// Number of alerts waiting in the outbox (a counter: no scan).
    pub fn outbox_len(&self) -> usize {
        self.outbox.index().slots.len()
    }

    /// Removes delivered alerts, then flushes, so a restart does not send them again.
    /// Rows copied from the cluster's outbox are removed there first.
    pub async fn outbox_remove(&self, seqs: &[u64]) -> Result<(), StoreError> {
        if let Some(r) = self.replica() {
            let mut cluster = Vec::new();
            for seq in seqs {
                if let Some(v) = self.outbox.rows.get(seq.to_be_bytes())? {
                    cluster.extend(dec::<Alert>(&v)?.cluster_seq);
                }
            }
            if !cluster.is_empty() {
                r.delivered(cluster).await;
            }
        }
        for seq in seqs {
            self.outbox.index().unfile(*seq);
            self.outbox.rows.remove(seq.to_be_bytes())?;
        }
        self.flush().await
    }

    /// Drops every pending alert of `bot` for `chat` (it can no longer post there),
    /// then flushes. Returns how many were dropped.
    pub async fn outbox_drop_chat(&self, bot: &str, chat: i64) -> Result<usize, StoreError> {
        let seqs = self.outbox.index().seqs(bot, chat);
        self.outbox_remove(&seqs).await?;
        Ok(seqs.len())
    }

    /// Moves every pending alert for chat `old` to chat `new` (a group became a
    /// supergroup), then flushes. Returns how many were moved.
    pub async fn outbox_rechat(&self, old: i64, new: i64) -> Result<usize, StoreError> {
        let ob = &self.outbox;
        let seqs: Vec<u64> = {
            let ix = ob.index();
            ix.by_chat
                .values()
                .filter_map(|chats| chats.get(&old))
                .flatten()
                .copied()
                .collect()
        };
        let mut moved = 0;
        for seq in seqs {
            let Some(v) = ob.rows.get(seq.to_be_bytes())? else {
                continue; // delivered meanwhile
            };
            let mut a: Alert = dec(&v)?;
            a.chat_id = new;
            ob.rows.insert(seq.to_be_bytes(), enc(&a)?)?;
            let mut ix = ob.index();
            if ix.unfile(seq).is_some() {
                ix.file(seq, &a.bot, new);
            }
            moved += 1;
        }
        self.flush().await?;
        if moved > 0 {
            ob.wake();
        }
        Ok(moved)
    }

    /// Cluster mode, on the leader: copies a row of the cluster's outbox (its
    /// `cluster_seq` set) into this node's outbox and wakes the senders. Not flushed:
    /// the cluster keeps the row until it is delivered.
    pub fn outbox_ingest(&self, alert: &Alert) -> Result<u64, StoreError> {
        let seq = self.local().outbox_push(alert)?;
        self.outbox.wake();
        Ok(seq)
    }

    /// Every pending row, oldest first (cluster mode: the leader compares them with the
    /// cluster's outbox when it takes over).
    pub fn outbox_rows(&self) -> Result<Vec<(u64, Alert)>, StoreError> {
        let mut seqs: Vec<u64> = self.outbox.index().slots.keys().copied().collect();
        seqs.sort_unstable();
        self.outbox.rows_of(seqs)
    }

    /// Drops rows from this node's outbox only (cluster mode: rows another leader
    /// delivered meanwhile), then flushes.
    pub async fn outbox_forget(&self, seqs: &[u64]) -> Result<(), StoreError> {
        self.local().outbox_remove(seqs).await
    }

    /// A receiver that changes whenever alerts enter the outbox (senders await it
    /// instead of polling; `changed()` never misses a write made after
    /// `borrow_and_update`).
    pub fn outbox_watch(&self) -> watch::Receiver<u64> {
        self.outbox.signal.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Kind, MonitorId, State, Transition};

    fn alert(bot: &str, chat: i64, id: u64) -> Alert {
        Alert {
            monitor_id: MonitorId(id),
            bot: bot.into(),
            chat_id: chat,
            thread_id: None,
            name: format!("m{id}"),
            target: "192.0.2.1".into(),
            kind: Kind::Ping,
            transition: Transition {
                from: State::Up,
                to: State::Down,
                reason: "timeout".into(),
                at_ms: 1,
                announce: true,
                down_for_ms: None,
            },
            notice: Default::default(),
            cluster_seq: None,
        }
    }

    #[tokio::test]
    async fn index_by_bot_and_chat_with_a_counter() {
        let s = Store::temporary().unwrap();
        let a1 = s.outbox_push(&alert("Mon_Bot", -100, 1)).unwrap();
        let b1 = s.outbox_push(&alert("mon_bot", -200, 2)).unwrap();
        let a2 = s.outbox_push(&alert("mon_bot", -100, 3)).unwrap();
        let o1 = s.outbox_push(&alert("other_bot", -100, 4)).unwrap();
        assert_eq!(s.outbox_len(), 4);
        let mut chats = s.outbox_chats("MON_BOT");
        chats.sort_unstable();
        assert_eq!(chats, vec![-200, -100]);
        let keys = |v: Vec<(u64, Alert)>| v.into_iter().map(|(k, _)| k).collect::<Vec<_>>();
        assert_eq!(keys(s.outbox_for_chat("mon_bot", -100).unwrap()), vec![a1, a2]);
        assert_eq!(keys(s.outbox("mon_bot").unwrap()), vec![a1, b1, a2], "oldest first");
        assert_eq!(keys(s.outbox_for_chat("other_bot", -100).unwrap()), vec![o1]);

        s.outbox_remove(&[a1]).await.unwrap();
        assert_eq!(s.outbox_len(), 3);
        assert_eq!(keys(s.outbox_for_chat("mon_bot", -100).unwrap()), vec![a2]);
        // removing twice counts once
        s.outbox_remove(&[a1]).await.unwrap();
        assert_eq!(s.outbox_len(), 3);

        assert_eq!(s.outbox_rechat(-100, -1001000000003).await.unwrap(), 2);
        assert!(s.outbox_for_chat("mon_bot", -100).unwrap().is_empty());
        let moved = s.outbox_for_chat("mon_bot", -1001000000003).unwrap();
        assert_eq!(moved.len(), 1);
        assert_eq!(moved[0].1.chat_id, -1001000000003, "the row is rewritten too");

        assert_eq!(s.outbox_drop_chat("mon_bot", -200).await.unwrap(), 1);
        assert_eq!(s.outbox_chats("mon_bot"), vec![-1001000000003]);
        assert_eq!(s.outbox_len(), 2);
    }

    #[tokio::test]
    async fn a_row_lost_under_the_index_leaves_it() {
        let s = Store::temporary().unwrap();
        let seq = s.outbox_push(&alert("mon_bot", -100, 1)).unwrap();
        // what a write lost with a failed flush looks like once the database is back
        s.outbox.rows.remove(seq.to_be_bytes()).unwrap();
        assert_eq!(s.outbox_len(), 1, "the index does not know yet");
        assert!(s.outbox_for_chat("mon_bot", -100).unwrap().is_empty());
        assert_eq!(s.outbox_len(), 0, "looking dropped it");
        assert!(s.outbox_chats("mon_bot").is_empty());
        // a full rebuild gives the same
        s.outbox_push(&alert("mon_bot", 42, 2)).unwrap();
        s.outbox.reindex().unwrap();
        assert_eq!(s.outbox_chats("mon_bot"), vec![42]);
    }

    #[tokio::test]
    async fn the_index_is_rebuilt_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let kept = {
            let s = Store::open(dir.path()).unwrap();
            let gone = s.outbox_push(&alert("mon_bot", -100, 1)).unwrap();
            let kept = s.outbox_push(&alert("mon_bot", -100, 2)).unwrap();
            s.outbox_push(&alert("mon_bot", 42, 3)).unwrap();
            s.outbox_remove(&[gone]).await.unwrap();
            kept
        };
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.outbox_len(), 2);
        let rows = s.outbox_for_chat("mon_bot", -100).unwrap();
        assert_eq!(rows.iter().map(|(k, _)| *k).collect::<Vec<_>>(), vec![kept]);
        assert_eq!(rows[0].1, alert("mon_bot", -100, 2));
        assert!(
            s.outbox_push(&alert("mon_bot", 42, 4)).unwrap() > kept,
            "sequences keep growing"
        );
    }
}
