//! The durable store: the only module that names sled.
//!
//! Trees: `meta` (schema version, id counter), `monitors` (id → [`Monitor`]),
//! `health` (id → [`Health`], the debounce state), `stats` (id → [`ProbeStats`]),
//! `outbox` (sequence → [`Alert`]: announcements not yet delivered; see [`outbox`] for
//! its index by bot and chat), `bots` (username →
//! [`StoredBot`]: bots added through the API, started again at boot), `chats` (chat id →
//! `()`: chats allowed implicitly because the operator named them), and for push
//! monitors `push_tokens` (token → id) and `push_seen` (id → last heartbeat or report,
//! ms since the epoch, so heartbeat deadlines survive a restart); the on-call trees
//! `oncall` and `chat_settings` are described in [`oncall`].
//! Keys are big-endian ids, values serde_json. Durability rule: sled's `insert` is not
//! durable until a flush, so every method that backs a user-visible acknowledgement is
//! `async` and returns only after [`Store::flush`] has completed. High-volume writes
//! (health streaks, statistics) use the plain methods and ride on the 500 ms background
//! flush and the final flush at shutdown.
//!
//! No sled transactions or batches: in sled 0.34 they take a global write lock, and a
//! transaction waiting for it while a flush holds the read lock and waits for the log
//! flusher (itself queued behind the writer) deadlocks the whole store (seen under
//! 11k concurrent adds). Multi-tree updates are ordered instead so that every prefix
//! a crash can leave is consistent: the `monitors` record is the commit point, and an
//! open sweeps entries left without one.

use std::path::{Path, PathBuf};

use serde::{Serialize, de::DeserializeOwned};

use serde::Deserialize;

use crate::domain::{Health, Kind, Monitor, MonitorId, ProbeStats, Transition};

use std::sync::Arc;

pub mod oncall;
pub mod outbox;

mod replay;

/// Schema version this build writes; older stores are migrated at open.
pub const SCHEMA_VERSION: u32 = 1;

const KEY_SCHEMA: &[u8] = b"schema_version";
const KEY_NEXT_ID: &[u8] = b"next_id";

/// Store failures. Every variant that concerns the data dir names it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another process (usually another upbot) holds the data dir.
    #[error("data dir {dir} is in use by another process (is another upbot running?)")]
    Locked {
        /// The data dir.
        dir: PathBuf,
    },
    /// The data dir could not be read as a sled store.
    #[error("data dir {dir} is corrupt or not an upbot store: {detail} (restore a backup or move it aside)")]
    Corrupt {
        /// The data dir.
        dir: PathBuf,
        /// What sled said.
        detail: String,
    },
    /// The store was written by a newer upbot.
    #[error("data dir {dir} has schema version {found}, newer than this upbot supports ({supported})")]
    NewerSchema {
        /// The data dir.
        dir: PathBuf,
        /// Version found on disk.
        found: u32,
        /// Version this build knows.
        supported: u32,
    },
    /// An I/O or sled failure after open.
    #[error("store error: {0}")]
    Sled(#[from] sled::Error),
    /// A value on disk did not decode.
    #[error("store value does not decode: {0}")]
    Codec(#[from] serde_json::Error),
}

/// An announcement waiting in the outbox: written just before the health change that
/// caused it, removed only after the Bot API accepted it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// The monitor.
    pub monitor_id: MonitorId,
    /// Username of the bot that must send it.
    pub bot: String,
    /// Destination chat.
    pub chat_id: i64,
    /// Forum topic.
    #[serde(default)]
    pub thread_id: Option<i32>,
    /// Monitor name at the time.
    pub name: String,
    /// Monitor target at the time.
    pub target: String,
    /// Monitor kind.
    pub kind: Kind,
    /// What happened.
    pub transition: Transition,
    /// What the row announces (absent in rows of state changes, as before).
    #[serde(default, skip_serializing_if = "crate::domain::oncall::Notice::is_change")]
    pub notice: crate::domain::oncall::Notice,
}

/// A bot added through the API (`add` with `bot` = token), kept so it starts again at
/// boot. `Debug` never shows the token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredBot {
    /// The bot's username (from getMe).
    pub username: String,
    /// Its token.
    pub token: String,
}

impl std::fmt::Debug for StoredBot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredBot")
            .field("username", &self.username)
            .field("token", &"***")
            .finish()
    }
}

impl Alert {
    /// The outbox entry transition `t` of `m` needs: announced changes of monitors owned
    /// by a chat (and so by a bot); `None` for everything else.
    pub fn for_transition(m: &Monitor, t: &Transition) -> Option<Self> {
        if !t.announce {
            return None;
        }
        let chat_id = m.chat_id?;
        let Some(bot) = m.bot.clone() else {
            tracing::warn!(monitor = %m.id, "monitor has a chat but no bot; alert not queued");
            return None;
        };
        Some(Self {
            monitor_id: m.id,
            bot,
            chat_id,
            thread_id: m.thread_id,
            name: m.name.clone(),
            target: m.target(),
            kind: m.kind,
            transition: t.clone(),
            notice: Default::default(),
        })
    }
}

/// Cheap-to-clone handle to the store.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    dir: PathBuf,
    meta: sled::Tree,
    monitors: sled::Tree,
    health: sled::Tree,
    stats: sled::Tree,
    outbox: Arc<outbox::Outbox>,
    push_tokens: sled::Tree,
    push_seen: sled::Tree,
    flusher: std::sync::Arc<GroupFlush>,
    bots: sled::Tree,
    chats: sled::Tree,
    oncall: oncall::OnCallTrees,
}

/// Group commit: one sled flush at a time, and a caller whose writes were already
/// covered by a flush that started after them returns without another. (Concurrent
/// `flush_async` calls in sled 0.34 were seen to hang for good with ~10k callers.)
#[derive(Default)]
struct GroupFlush {
    lock: tokio::sync::Mutex<()>,
    /// Tickets handed out; a caller's writes all happened before it took its ticket.
    requested: std::sync::atomic::AtomicU64,
    /// Every ticket up to this one is durable.
    done: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("dir", &self.dir).finish()
    }
}

fn key(id: MonitorId) -> [u8; 8] {
    id.0.to_be_bytes()
}

fn id_of(k: &[u8]) -> Option<MonitorId> {
    Some(MonitorId(u64::from_be_bytes(k.try_into().ok()?)))
}

fn enc<T: Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    Ok(serde_json::to_vec(v)?)
}

fn dec<T: DeserializeOwned>(b: &[u8]) -> Result<T, StoreError> {
    Ok(serde_json::from_slice(b)?)
}

impl Store {
    /// Opens (creating if needed) the store in `dir`, migrating older schemas.
    /// A dir held by another process, or a corrupt one, is a clear error naming it.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let config = sled::Config::new()
            .path(dir)
            .cache_capacity(16 << 20)
            .flush_every_ms(Some(500));
        Self::from_config(config, dir)
    }

    /// A throw-away store for tests, removed on drop.
    pub fn temporary() -> Result<Self, StoreError> {
        Self::from_config(sled::Config::new().temporary(true), Path::new("<temporary>"))
    }

    fn from_config(config: sled::Config, dir: &Path) -> Result<Self, StoreError> {
        let dir = dir.to_path_buf();
        // sled 0.34 can panic on some corrupt files instead of returning an error.
        let opened = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| config.open()));
        let db = match opened {
            Ok(Ok(db)) => db,
            Ok(Err(sled::Error::Io(e))) if e.to_string().contains("could not acquire lock") => {
                return Err(StoreError::Locked { dir });
            }
            Ok(Err(e)) => {
                return Err(StoreError::Corrupt {
                    dir,
                    detail: e.to_string(),
                });
            }
            Err(_) => {
                return Err(StoreError::Corrupt {
                    dir,
                    detail: "sled panicked while opening".into(),
                });
            }
        };
        let tree = |name: &str| db.open_tree(name);
        let store = Self {
            meta: tree("meta")?,
            monitors: tree("monitors")?,
            health: tree("health")?,
            stats: tree("stats")?,
            outbox: Arc::new(outbox::Outbox::new(db.clone(), tree("outbox")?)?),
            push_tokens: tree("push_tokens")?,
            push_seen: tree("push_seen")?,
            flusher: Default::default(),
            bots: tree("bots")?,
            chats: tree("chats")?,
            oncall: oncall::OnCallTrees::open(&db)?,
            db,
            dir,
        };
        store.migrate()?;
        let swept = store.sweep_orphans()?;
        if swept > 0 {
            tracing::info!(swept, "removed entries left without their monitor by a crash");
        }
        Ok(store)
    }

    fn migrate(&self) -> Result<(), StoreError> {
        let found = match self.meta.get(KEY_SCHEMA)? {
            Some(v) => dec::<u32>(&v)?,
            None => 0,
        };
        if found > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                dir: self.dir.clone(),
                found,
                supported: SCHEMA_VERSION,
            });
        }
        // Version 0 is an empty, new store; future migrations go here in order.
        if found < SCHEMA_VERSION {
            self.meta.insert(KEY_SCHEMA, enc(&SCHEMA_VERSION)?)?;
            self.db.flush()?;
        }
        Ok(())
    }

    /// The data dir this store lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Schema version on disk.
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        Ok(self.meta.get(KEY_SCHEMA)?.map(|v| dec(&v)).transpose()?.unwrap_or(0))
    }

    /// Makes every earlier write durable (survives a process crash).
    pub async fn flush(&self) -> Result<(), StoreError> {
        use std::sync::atomic::Ordering::SeqCst;
        let f = &self.flusher;
        let ticket = f.requested.fetch_add(1, SeqCst) + 1;
        let _one_at_a_time = f.lock.lock().await;
        if f.done.load(SeqCst) >= ticket {
            return Ok(());
        }
        // Everyone who has a ticket by now wrote before this flush starts.
        let covers = f.requested.load(SeqCst);
        let db = self.db.clone();
        match tokio::task::spawn_blocking(move || db.flush()).await {
            Ok(r) => r?,
            Err(e) => return Err(StoreError::Sled(sled::Error::ReportableBug(format!("flush task: {e}")))),
        };
        f.done.fetch_max(covers, SeqCst);
        Ok(())
    }

    /// Allocates the next monitor id (1, 2, 3, …). Durable with the next flush.
    pub fn next_id(&self) -> Result<MonitorId, StoreError> {
        let v = self.meta.update_and_fetch(KEY_NEXT_ID, |old| {
            let n = old
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map_or(0, u64::from_be_bytes);
            Some((n + 1).to_be_bytes().to_vec())
        })?;
        let n = v.and_then(|b| id_of(&b)).map_or(1, |id| id.0);
        Ok(MonitorId(n))
    }

    /// Stores a new or changed monitor with its health, then flushes. The monitor
    /// record is written last: it is the commit point, so a crash before the flush
    /// leaves at most orphan entries, which [`Store::open`] sweeps away. A push
    /// monitor's new token is indexed before the record and the old one dropped after,
    /// so some token always resolves.
    pub async fn put_monitor(&self, m: &Monitor, h: &Health) -> Result<(), StoreError> {
        let k = key(m.id);
        let token = m.push.as_ref().map(|p| p.token.clone());
        self.health.insert(k, enc(h)?)?;
        if let Some(t) = &token {
            self.push_tokens.insert(t.as_bytes(), &k[..])?;
        }
        let old = self.monitors.insert(k, enc(m)?)?;
        if let Some(old_token) = old.as_deref().and_then(push_token_of) {
            if token.as_deref() != Some(old_token.as_str()) {
                self.push_tokens.remove(old_token.as_bytes())?;
            }
        }
        self.flush().await
    }

    /// Stores several changed monitors with their health, then flushes once
    /// (chat-wide changes: a group migration, a bot removed from a chat). Each record is
    /// written as by [`Store::put_monitor`], health before the monitor.
    pub async fn put_monitors(&self, items: &[(Monitor, Health)]) -> Result<(), StoreError> {
        for (m, h) in items {
            self.health.insert(key(m.id), enc(h)?)?;
            self.monitors.insert(key(m.id), enc(m)?)?;
        }
        self.flush().await
    }

    /// Removes a monitor and everything kept about it, then flushes. Removing the
    /// monitor record comes first (the commit point). Returns the removed monitor, or
    /// `None` if there was none.
    pub async fn delete_monitor(&self, id: MonitorId) -> Result<Option<Monitor>, StoreError> {
        let k = key(id);
        let old = self.monitors.remove(k)?;
        if let Some(t) = old.as_deref().and_then(push_token_of) {
            self.push_tokens.remove(t.as_bytes())?;
        }
        self.health.remove(k)?;
        self.stats.remove(k)?;
        self.push_seen.remove(k)?;
        self.flush().await?;
        old.map(|v| dec(&v)).transpose()
    }

    /// Removes entries a crash left without their monitor (see [`Store::put_monitor`]).
    fn sweep_orphans(&self) -> Result<usize, StoreError> {
        let mut removed = 0;
        for tree in [&self.health, &self.stats, &self.push_seen] {
            for k in tree.iter().keys() {
                let k = k?;
                if !self.monitors.contains_key(&k)? {
                    tree.remove(&k)?;
                    removed += 1;
                }
            }
        }
        for kv in self.push_tokens.iter() {
            let (token, id) = kv?;
            let current = match self.monitors.get(&id)? {
                Some(v) => push_token_of(&v),
                None => None,
            };
            if current.as_deref().map(str::as_bytes) != Some(token.as_ref()) {
                self.push_tokens.remove(&token)?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// One monitor.
    pub fn monitor(&self, id: MonitorId) -> Result<Option<Monitor>, StoreError> {
        self.monitors.get(key(id))?.map(|v| dec(&v)).transpose()
    }

    /// Every monitor, by id.
    pub fn monitors(&self) -> Result<Vec<Monitor>, StoreError> {
        self.monitors.iter().values().map(|v| dec(&v?)).collect()
    }

    /// Saves debounce state (durable with the background flush).
    pub fn save_health(&self, id: MonitorId, h: &Health) -> Result<(), StoreError> {
        // Never resurrect a deleted monitor's state.
        if self.monitors.contains_key(key(id))? {
            self.health.insert(key(id), enc(h)?)?;
        }
        Ok(())
    }

    /// Debounce state of one monitor.
    pub fn health(&self, id: MonitorId) -> Result<Option<Health>, StoreError> {
        self.health.get(key(id))?.map(|v| dec(&v)).transpose()
    }

    /// Saves statistics of one monitor (durable with the background flush).
    pub fn save_stats(&self, id: MonitorId, s: &ProbeStats) -> Result<(), StoreError> {
        if self.monitors.contains_key(key(id))? {
            self.stats.insert(key(id), enc(s)?)?;
        }
        Ok(())
    }

    /// Statistics of one monitor.
    pub fn stats(&self, id: MonitorId) -> Result<Option<ProbeStats>, StoreError> {
        self.stats.get(key(id))?.map(|v| dec(&v)).transpose()
    }

    /// Saves a health change and, if it is to be announced, its alert. The alert is
    /// written first: a crash can then duplicate an announcement (the change is seen
    /// again after restart) but never lose one. Durable with the background flush.
    pub fn record_transition(&self, id: MonitorId, h: &Health, alert: Option<&Alert>) -> Result<(), StoreError> {
        self.record_push(id, h, None, alert)
    }

    /// [`Store::record_transition`] for push monitors: also records when the monitor
    /// last reported (`seen_ms`), before the health, so the heartbeat deadline computed
    /// after a restart is never older than the state. Durable with the background
    /// flush; callers that acknowledge the report flush first.
    pub fn record_push(
        &self,
        id: MonitorId,
        h: &Health,
        seen_ms: Option<u64>,
        alert: Option<&Alert>,
    ) -> Result<(), StoreError> {
        let k = key(id);
        // A monitor deleted meanwhile gets neither state nor alert (a delete racing
        // this check leaves an orphan that the next open sweeps).
        if !self.monitors.contains_key(k)? {
            return Ok(());
        }
        if let Some(a) = alert {
            self.outbox_push(a)?;
        }
        if let Some(ms) = seen_ms {
            self.push_seen.insert(k, &ms.to_be_bytes()[..])?;
        }
        self.health.insert(k, enc(h)?)?;
        if alert.is_some() {
            self.outbox_notify();
        }
        Ok(())
    }

    /// When a push monitor last sent a heartbeat or status report, ms since the epoch.
    pub fn push_seen(&self, id: MonitorId) -> Result<Option<u64>, StoreError> {
        Ok(self
            .push_seen
            .get(key(id))?
            .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
            .map(u64::from_be_bytes))
    }

    /// The push monitor a webhook token belongs to (the durable index; the HTTP
    /// receiver answers from memory and this backs it up across restarts).
    pub fn push_token(&self, token: &str) -> Result<Option<MonitorId>, StoreError> {
        Ok(self.push_tokens.get(token.as_bytes())?.and_then(|v| id_of(&v)))
    }

    /// Remembers a bot added through the API (so it starts again at boot), then flushes.
    pub async fn put_bot(&self, bot: &StoredBot) -> Result<(), StoreError> {
        self.bots
            .insert(bot.username.to_ascii_lowercase().as_bytes(), enc(bot)?)?;
        self.flush().await
    }

    /// Every bot added through the API.
    pub fn bots(&self) -> Result<Vec<StoredBot>, StoreError> {
        self.bots.iter().values().map(|v| dec(&v?)).collect()
    }

    /// Allows a chat implicitly (the operator named it), then flushes.
    pub async fn allow_chat(&self, chat_id: i64) -> Result<(), StoreError> {
        self.chats.insert(chat_id.to_be_bytes(), &[])?;
        self.flush().await
    }

    /// Whether a chat was allowed implicitly.
    pub fn chat_allowed(&self, chat_id: i64) -> Result<bool, StoreError> {
        Ok(self.chats.contains_key(chat_id.to_be_bytes())?)
    }

    /// Bytes the store takes on disk.
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(self.db.size_on_disk()?)
    }
}

/// The push token inside an encoded monitor, if it has one (a value that does not
/// decode has no token to unindex).
fn push_token_of(v: &[u8]) -> Option<String> {
    dec::<Monitor>(v).ok()?.push.map(|p| p.token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Kind, State};
    use std::time::Duration;

    fn monitor(id: MonitorId) -> Monitor {
        Monitor {
            id,
            kind: Kind::Ping,
            host: "127.0.0.1".into(),
            port: None,
            interval: Duration::from_secs(5),
            timeout: Duration::from_secs(2),
            fails: 3,
            recovers: 2,
            name: "lo".into(),
            chat_id: None,
            thread_id: None,
            bot: None,
            paused: false,
            created_ms: 1,
            push: None,
            chat_added: false,
        }
    }

    /// The alert the scheduler would queue for transition `t` of monitor `id` in `chat`.
    fn owned_alert(id: MonitorId, chat: i64, t: &Transition) -> Alert {
        let mut m = monitor(id);
        (m.chat_id, m.bot) = (Some(chat), Some("mon_bot".into()));
        Alert::for_transition(&m, t).expect("announced transition of an owned monitor")
    }

    #[tokio::test]
    async fn crud_round_trip() {
        let s = Store::temporary().unwrap();
        assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
        let (a, b) = (s.next_id().unwrap(), s.next_id().unwrap());
        assert_eq!((a, b), (MonitorId(1), MonitorId(2)));
        let mut h = Health::new(5);
        s.put_monitor(&monitor(a), &h).await.unwrap();
        s.put_monitor(&monitor(b), &h).await.unwrap();
        h.state = State::Down;
        s.save_health(a, &h).unwrap();
        assert_eq!(s.health(a).unwrap().unwrap().state, State::Down);
        assert_eq!(s.monitors().unwrap().len(), 2);
        assert_eq!(s.delete_monitor(a).await.unwrap().map(|m| m.id), Some(a));
        assert!(s.delete_monitor(a).await.unwrap().is_none());
        assert!(s.health(a).unwrap().is_none());
        // a late write from a probe must not resurrect the deleted monitor's state
        s.save_health(a, &h).unwrap();
        assert!(s.health(a).unwrap().is_none());
        assert_eq!(s.monitors().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn transitions_write_alert_and_state() {
        let s = Store::temporary().unwrap();
        let id = s.next_id().unwrap();
        let mut h = Health::new(0);
        s.put_monitor(&monitor(id), &h).await.unwrap();
        let t = h
            .observe(&crate::domain::Outcome::Down("timeout".into()), 1, 1, 5)
            .unwrap();
        let alert = owned_alert(id, -100123, &t);
        s.record_transition(id, &h, Some(&alert)).unwrap();
        s.record_transition(id, &h, Some(&alert)).unwrap();
        assert_eq!(s.health(id).unwrap().unwrap().state, State::Down);
        let pending = s.outbox("MON_BOT").unwrap();
        assert_eq!(pending.len(), 2);
        assert!(pending[0].0 < pending[1].0, "oldest first");
        assert!(s.outbox("other").unwrap().is_empty());
        s.outbox_remove(&[pending[0].0]).await.unwrap();
        assert_eq!(s.outbox_len(), 1);
        // a deleted monitor gets neither state nor alert
        s.delete_monitor(id).await.unwrap();
        s.record_transition(id, &h, Some(&alert)).unwrap();
        assert!(s.health(id).unwrap().is_none());
        assert_eq!(s.outbox_len(), 1);
    }

    #[tokio::test]
    async fn push_token_index_follows_monitor_writes() {
        let s = Store::temporary().unwrap();
        let id = s.next_id().unwrap();
        let mut m = monitor(id);
        m.kind = Kind::Push;
        m.push = Some(crate::domain::PushSettings {
            token: "aaaa".into(),
            heartbeat: Some(Duration::from_secs(60)),
            grace: Duration::from_secs(60),
            secret: None,
            sign_heartbeats: false,
        });
        let h = Health::new(0);
        s.put_monitor(&m, &h).await.unwrap();
        assert_eq!(s.push_token("aaaa").unwrap(), Some(id));
        // rotation: the old token stops resolving in the same write
        if let Some(p) = m.push.as_mut() {
            p.token = "bbbb".into();
        }
        s.put_monitor(&m, &h).await.unwrap();
        assert_eq!(s.push_token("aaaa").unwrap(), None);
        assert_eq!(s.push_token("bbbb").unwrap(), Some(id));
        s.record_push(id, &h, Some(1234), None).unwrap();
        assert_eq!(s.push_seen(id).unwrap(), Some(1234));
        // a report without a time keeps the last one
        s.record_push(id, &h, None, None).unwrap();
        assert_eq!(s.push_seen(id).unwrap(), Some(1234));
        s.delete_monitor(id).await.unwrap();
        assert_eq!(s.push_token("bbbb").unwrap(), None);
        assert_eq!(s.push_seen(id).unwrap(), None);
        // a late report for a deleted monitor writes nothing
        s.record_push(id, &h, Some(99), None).unwrap();
        assert_eq!(s.push_seen(id).unwrap(), None);
    }

    #[tokio::test]
    async fn open_sweeps_what_a_crash_left_without_a_monitor() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = Store::open(dir.path()).unwrap();
            let id = s.next_id().unwrap();
            s.put_monitor(&monitor(id), &Health::new(0)).await.unwrap();
            // what a crash between the ordered writes of an add or a delete leaves
            s.health
                .insert(key(MonitorId(99)), enc(&Health::new(0)).unwrap())
                .unwrap();
            s.stats
                .insert(key(MonitorId(99)), enc(&ProbeStats::default()).unwrap())
                .unwrap();
            s.push_tokens.insert(b"deadbeef", &key(MonitorId(99))[..]).unwrap();
            s.push_tokens.insert(b"cafe", &key(id)[..]).unwrap(); // monitor has no such token
            s.flush().await.unwrap();
        }
        let s = Store::open(dir.path()).unwrap();
        assert!(s.health(MonitorId(99)).unwrap().is_none());
        assert!(s.stats(MonitorId(99)).unwrap().is_none());
        assert!(s.push_token("deadbeef").unwrap().is_none());
        assert!(s.push_token("cafe").unwrap().is_none());
        assert_eq!(s.monitors().unwrap().len(), 1);
        assert!(s.health(MonitorId(1)).unwrap().is_some());
    }

    #[tokio::test]
    async fn bots_chats_rechat_and_wakeups() {
        let s = Store::temporary().unwrap();
        let bot = StoredBot {
            username: "Mon_Bot".into(),
            token: "123:secret".into(),
        };
        s.put_bot(&bot).await.unwrap();
        s.put_bot(&bot).await.unwrap();
        assert_eq!(s.bots().unwrap(), vec![bot.clone()]);
        assert!(!format!("{bot:?}").contains("secret"), "Debug hides the token");
        assert!(!s.chat_allowed(-5).unwrap());
        s.allow_chat(-5).await.unwrap();
        assert!(s.chat_allowed(-5).unwrap());

        let id = s.next_id().unwrap();
        let mut m = monitor(id);
        m.chat_id = Some(-5);
        let mut h = Health::new(0);
        s.put_monitors(&[(m.clone(), h.clone())]).await.unwrap();
        assert_eq!(s.monitor(id).unwrap(), Some(m.clone()));
        let mut wake = s.outbox_watch();
        wake.borrow_and_update();
        let t = h.observe(&crate::domain::Outcome::Down("x".into()), 1, 1, 5).unwrap();
        let alert = owned_alert(id, -5, &t);
        s.record_transition(id, &h, Some(&alert)).unwrap();
        assert!(wake.has_changed().unwrap(), "an outbox write wakes senders");
        wake.borrow_and_update();
        s.record_transition(id, &h, None).unwrap();
        assert!(!wake.has_changed().unwrap(), "a silent transition does not");
        assert_eq!(s.outbox_rechat(-5, -1001000000003).await.unwrap(), 1);
        assert_eq!(s.outbox("mon_bot").unwrap()[0].1.chat_id, -1001000000003);
        assert_eq!(s.outbox_rechat(-5, -1001000000003).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn reopen_keeps_data_and_ids() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = Store::open(dir.path()).unwrap();
            let id = s.next_id().unwrap();
            s.put_monitor(&monitor(id), &Health::new(0)).await.unwrap();
        }
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.monitors().unwrap().len(), 1);
        assert_eq!(s.next_id().unwrap(), MonitorId(2));
    }

    #[test]
    fn second_open_is_locked_error_naming_dir() {
        let dir = tempfile::tempdir().unwrap();
        let _s = Store::open(dir.path()).unwrap();
        // sled's lock is per-process via flock on a new fd, so a second open in the same
        // process sees the same lock conflict another process would.
        let err = Store::open(dir.path()).unwrap_err();
        assert!(matches!(err, StoreError::Locked { .. }), "{err}");
        assert!(err.to_string().contains(&dir.path().display().to_string()));
    }

    #[test]
    fn garbage_dir_is_corrupt_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("conf"), b"\xff\xfe garbage").unwrap();
        std::fs::write(dir.path().join("db"), vec![0xAB; 4096]).unwrap();
        let err = Store::open(dir.path()).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains(&dir.path().display().to_string()));
    }
}
