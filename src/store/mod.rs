//! The durable store: the only module that names sled.
//!
//! Trees: `meta` (schema version, id counter), `monitors` (id → [`Monitor`]),
//! `health` (id → [`Health`], the debounce state), `stats` (id → [`ProbeStats`]),
//! `outbox` (sequence → [`Alert`]: announcements not yet delivered; see [`outbox`] for
//! its index by bot and chat), `bots` (username →
//! [`StoredBot`]: bots added through the API, started again at boot), `chats` (chat id →
//! `()`: chats allowed implicitly because the operator named them), and for push
//! monitors `push_tokens` (token → id) and `push_seen` (id → last heartbeat or report,
//! ms since the epoch, so heartbeat deadlines survive a restart). `history` holds each
//! monitor's downsampled history ([`history`]) and `pages` the published status pages
//! ([`pages`]); the on-call trees `oncall` and `chat_settings` are described in
//! [`oncall`].
//! Keys are big-endian ids, values serde_json.
//!
//! Durability rule: sled's `insert` is not durable until a flush, so every method that
//! backs a user-visible acknowledgement or an alert is `async` and returns only after a
//! flush has covered it. Those writes and every flush run on the store's own writer
//! thread ([`writer`]), never on a runtime's threads or tokio's blocking pool; many
//! concurrent writes share one flush. A state change is stored with its alert before
//! anyone acts on it ([`Store::commit`]): the engines change their memory only once it
//! is durable. High-volume writes (health streaks, statistics) are queued to the same
//! thread without waiting and ride on the 500 ms background flush and the final flush
//! at shutdown.
//!
//! Failure: sled gives up for good after one I/O error (a full disk included). The store
//! then refuses writes at once, reports why in [`Store::health`] (and `/healthz`), and
//! the writer thread opens the database again once the data dir takes writes
//! ([`handle`] has the rules). Opening checks the data against a record kept beside it
//! ([`integrity`]), so a damaged database is refused instead of served partly empty.
//!
//! No sled transactions or batches: in sled 0.34 they take a global write lock, and a
//! transaction waiting for it while a flush holds the read lock and waits for the log
//! flusher (itself queued behind the writer) deadlocks the whole store (seen under
//! 11k concurrent adds). Multi-tree updates are ordered instead so that every prefix
//! a crash can leave is consistent: the `monitors` record is the commit point, and an
//! open after a crash sweeps entries left without one (stale push tokens before it
//! returns, the never-read rest once the app has started, [`Store::sweep_later`]).

mod handle;
mod integrity;
mod replica;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde::Deserialize;
use serde::{Serialize, de::DeserializeOwned};

use self::handle::{Core, DbRef, TreeRef};
use self::integrity::Manifest;
use self::writer::Writer;
use crate::domain::{Health, Kind, Monitor, MonitorId, ProbeStats, Transition};

pub use self::integrity::FILE as INTEGRITY_FILE;
pub use self::replica::{Replica, ReplicaFuture, SharedKey};
pub use self::writer::RECOVER_EVERY;

pub mod oncall;
pub mod outbox;

mod front;
pub use front::{AllowList, Outbox, WebhookIds};

mod history;
mod pages;
mod replay;

pub use history::HistorySaved;
pub use pages::PublishedPage;

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
    /// The data dir could not be read as a sled store, or lost records.
    #[error(
        "data dir {dir} is damaged or not an upbot store: {detail}. upbot will not start on it: \
         restore a backup of the dir, or see README \"Damaged store\""
    )]
    Corrupt {
        /// The data dir.
        dir: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The data dir cannot be written: read-only file system, permission denied, full.
    #[error("data dir {dir} cannot be written: {detail}")]
    Unwritable {
        /// The data dir.
        dir: PathBuf,
        /// What the system said.
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
    /// Writes fail (full disk, I/O error), or are refused until the store recovers.
    #[error("the store cannot write: {0}")]
    Failing(String),
    /// A sled failure other than I/O after open.
    #[error("store error: {0}")]
    Sled(sled::Error),
    /// A value on disk did not decode.
    #[error("store value does not decode: {0}")]
    Codec(#[from] serde_json::Error),
    /// Cluster mode: the cluster cannot take shared writes now (NATS unreachable).
    #[error("the cluster is unreachable: {0}")]
    ClusterUnreachable(String),
    /// Cluster mode: another node changed the same record first (compare-and-set).
    #[error("{0}")]
    Conflict(String),
}

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        match e {
            sled::Error::Io(io) => Self::Failing(handle::io_text(&io)),
            other => Self::Sled(other),
        }
    }
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
    /// Cluster mode: the row's sequence in the cluster's outbox (the leader copied it
    /// from there; delivering it removes it there too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_seq: Option<u64>,
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
            cluster_seq: None,
        })
    }
}

/// A state change to make durable ([`Store::commit`]).
#[derive(Debug, Clone)]
pub struct Change {
    /// The monitor.
    pub id: MonitorId,
    /// Its new debounce state.
    pub health: Health,
    /// Push monitors: when the report arrived, ms since the epoch.
    pub seen_ms: Option<u64>,
    /// The announcement it causes, if the chat is to be told.
    pub alert: Option<Alert>,
}

/// What became of a [`Change`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Committed {
    /// Written and durable.
    Written,
    /// Not written: the caller no longer owned the monitor's state when the writer
    /// reached it (paused, moved or removed meanwhile).
    Superseded,
}

/// Cheap-to-clone handle to the store.
#[derive(Clone)]
pub struct Store {
    db: DbRef,
    dir: PathBuf,
    meta: TreeRef,
    monitors: TreeRef,
    health: TreeRef,
    stats: TreeRef,
    outbox: Arc<outbox::Outbox>,
    push_tokens: TreeRef,
    push_seen: TreeRef,
    bots: TreeRef,
    chats: TreeRef,
    oncall: oncall::OnCallTrees,
    /// Cluster mode: where the shared parts are mirrored (see [`replica`]).
    replica: Arc<std::sync::OnceLock<Arc<dyn Replica>>>,
    /// This handle never calls the replica ([`Store::local`]).
    local: bool,
    /// The live database and the failure state, shared by every handle.
    core: Arc<Core>,
    /// The writer thread; `None` only in the writer's own handle.
    writer: Option<Arc<Writer>>,
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

/// Whether `k` is among the monitor keys `sorted` (a start-up pass's list, in place
/// of a lookup per key in sled).
fn has_key(sorted: &[[u8; 8]], k: &[u8]) -> bool {
    <[u8; 8]>::try_from(k).is_ok_and(|k| sorted.binary_search(&k).is_ok())
}

/// Every record of a tree keyed by monitor id, decoded (keys of another form skipped).
fn all_of<T: DeserializeOwned>(tree: &TreeRef) -> Result<std::collections::HashMap<MonitorId, T>, StoreError> {
    let mut out = std::collections::HashMap::new();
    for kv in tree.iter() {
        let (k, v) = kv?;
        if let Some(id) = id_of(&k) {
            out.insert(id, dec(&v)?);
        }
    }
    Ok(out)
}

fn enc<T: Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    Ok(serde_json::to_vec(v)?)
}

fn dec<T: DeserializeOwned>(b: &[u8]) -> Result<T, StoreError> {
    Ok(serde_json::from_slice(b)?)
}

/// How this build opens sled in `dir` (also when the writer opens it again).
fn sled_config(dir: &Path) -> sled::Config {
    sled::Config::new()
        .path(dir)
        .cache_capacity(16 << 20)
        .flush_every_ms(Some(500))
}

/// Opens sled, turning its errors (and panics: sled 0.34 panics on some damaged files)
/// into errors that name the data dir and say what is wrong.
fn open_sled(config: &sled::Config, dir: &Path) -> Result<sled::Db, StoreError> {
    let dir = dir.to_path_buf();
    let opened = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| config.open()));
    match opened {
        Ok(Ok(db)) => Ok(db),
        Ok(Err(sled::Error::Io(e))) if e.to_string().contains("could not acquire lock") => {
            Err(StoreError::Locked { dir })
        }
        Ok(Err(sled::Error::Io(e))) if is_unwritable(&e) => Err(StoreError::Unwritable {
            dir,
            detail: handle::io_text(&e),
        }),
        Ok(Err(sled::Error::Io(e))) => Err(StoreError::Corrupt {
            dir,
            detail: handle::io_text(&e),
        }),
        Ok(Err(e)) => Err(StoreError::Corrupt {
            dir,
            detail: e.to_string(),
        }),
        Err(_) => Err(StoreError::Corrupt {
            dir,
            detail: "sled panicked while opening it".into(),
        }),
    }
}

/// An I/O error that says the dir cannot be written, not that its content is bad.
fn is_unwritable(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::{PermissionDenied, ReadOnlyFilesystem, StorageFull};
    matches!(e.kind(), PermissionDenied | ReadOnlyFilesystem | StorageFull)
}

impl Store {
    /// Opens (creating if needed, mode 0700) the store in `dir`, migrating older
    /// schemas and checking it against its integrity record. A dir held by another
    /// process, a damaged one or one that cannot be written is a clear error naming it.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        integrity::prepare_dir(dir).map_err(|e| StoreError::Unwritable {
            dir: dir.to_path_buf(),
            detail: e.to_string(),
        })?;
        let db = open_sled(&sled_config(dir), dir)?;
        Self::start(Core::new(dir.to_path_buf(), true, db))
    }

    /// A throw-away store for tests, removed on drop.
    pub fn temporary() -> Result<Self, StoreError> {
        let db = open_sled(&sled::Config::new().temporary(true), Path::new("<temporary>"))?;
        Self::start(Core::new(PathBuf::from("<temporary>"), false, db))
    }

    /// Handles on `core`'s database, without a writer (indexing the outbox).
    fn handles(core: Arc<Core>) -> Result<Self, StoreError> {
        let tree = |name| TreeRef::new(&core, name);
        let outbox = outbox::Outbox::new(DbRef::new(&core), TreeRef::private(&core, "outbox"))?;
        Ok(Self {
            db: DbRef::new(&core),
            dir: core.dir.clone(),
            meta: tree("meta"),
            monitors: tree("monitors"),
            health: tree("health"),
            stats: tree("stats"),
            outbox: Arc::new(outbox),
            push_tokens: tree("push_tokens"),
            push_seen: tree("push_seen"),
            bots: tree("bots"),
            chats: tree("chats"),
            oncall: oncall::OnCallTrees::new(&core),
            replica: Arc::new(std::sync::OnceLock::new()),
            local: false,
            core,
            writer: None,
        })
    }

    /// Checks and migrates the freshly opened database, then starts the writer.
    fn start(core: Core) -> Result<Self, StoreError> {
        let mut store = Self::handles(Arc::new(core))?;
        // Before anything is written: from here on, a crash leaves no mark.
        let clean = store.core.persistent
            && integrity::take_clean_mark(&store.dir).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "cannot remove the clean-stop mark; sweeping as after a crash");
                false
            });
        let due = store.core.current().is_ok_and(|db| db.was_recovered()) && !clean;
        store.core.sweep_due.store(due, Ordering::Release);
        let manifest = store.verify(true)?;
        // Opened (so created) now: creating a tree is a write, and on a full disk a
        // reader's first `/status` would fail. The sweep that used to open it first at
        // start now runs later.
        store.history_tree()?;
        // Before anything is served: a stale token must not reach a monitor. Like every
        // orphan, one exists only after a crash.
        if due {
            let swept = store.sweep_tokens()?;
            if swept > 0 {
                tracing::info!(swept, "removed push tokens left without their monitor by a crash");
            }
        }
        let writer = Writer::start(store.clone(), manifest).map_err(|e| StoreError::Unwritable {
            dir: store.dir.clone(),
            detail: format!("cannot start the store writer thread: {e}"),
        })?;
        store.writer = Some(Arc::new(writer));
        Ok(store)
    }

    /// Opens the database again after sled gave up (on the writer thread, with the old
    /// database already dropped). Sled's lock may outlive the old handles briefly.
    fn reopen(&self) -> Result<(), StoreError> {
        let config = sled_config(&self.dir);
        let mut tries = 0;
        let db = loop {
            match open_sled(&config, &self.dir) {
                Err(StoreError::Locked { .. }) if tries < 40 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                other => break other?,
            }
        };
        self.core.install(db);
        if let Err(e) = self.verify(false).and_then(|_| self.history_tree().map(drop)) {
            drop(self.core.take());
            return Err(e);
        }
        Ok(())
    }

    /// Runs everything that must hold before the store is used: the schema version, a
    /// full read of the monitors and their state (sled panics on some damaged pages, so
    /// under `catch_unwind`), and the integrity record. Returns the record to keep
    /// (`None` for temporary stores). `first` is the open at start (the schema may be
    /// migrated and a missing record created).
    fn verify(&self, first: bool) -> Result<Option<Manifest>, StoreError> {
        let checked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.census()));
        let census = match checked {
            Ok(r) => r?,
            Err(_) => return Err(self.corrupt("sled panicked while reading it")),
        };
        if first {
            self.migrate(census.monitors)?;
        }
        self.core
            .monitors
            .store(i64::try_from(census.monitors).unwrap_or(i64::MAX), Ordering::Release);
        self.core.max_id.store(census.max_id, Ordering::Release);
        if !self.core.persistent {
            return Ok(None);
        }
        let recorded = integrity::read(&self.dir).map_err(|e| self.corrupt(&e))?;
        let next_id = self.peek_next_id()?;
        let exact = Manifest::new(census.monitors_i64(), census.monitors_i64(), census.max_id);
        match recorded {
            Some(m) => {
                if !(m.monitors_min..=m.monitors_max).contains(&census.monitors) {
                    let expected = if m.monitors_min == m.monitors_max {
                        m.monitors_min.to_string()
                    } else {
                        format!("{} to {}", m.monitors_min, m.monitors_max)
                    };
                    return Err(self.corrupt(&format!(
                        "{INTEGRITY_FILE} says it holds {expected} monitors, but {} can be read",
                        census.monitors
                    )));
                }
                if next_id < m.max_id {
                    return Err(self.corrupt(&format!(
                        "its id counter ({next_id}) is below the highest id it ever stored ({})",
                        m.max_id
                    )));
                }
            }
            None if census.monitors > 0 => tracing::info!(
                monitors = census.monitors,
                "no {INTEGRITY_FILE} yet (a store from an older upbot, or one accepted as found); recording what is there"
            ),
            None => {}
        }
        if next_id < census.max_id {
            return Err(self.corrupt(&format!(
                "its id counter ({next_id}) is below monitor #{}",
                census.max_id
            )));
        }
        if census.without_health > 0 {
            tracing::warn!(
                monitors = census.without_health,
                "monitors without a stored state; they start as pending"
            );
        }
        if recorded != Some(exact) {
            integrity::write(&self.dir, &exact).map_err(|e| StoreError::Unwritable {
                dir: self.dir.clone(),
                detail: format!("writing {INTEGRITY_FILE}: {e}"),
            })?;
        }
        Ok(Some(exact))
    }

    fn corrupt(&self, detail: &str) -> StoreError {
        StoreError::Corrupt {
            dir: self.dir.clone(),
            detail: detail.to_string(),
        }
    }

    /// Reads every monitor record and checks each decodes and has its state.
    fn census(&self) -> Result<Census, StoreError> {
        let mut c = Census::default();
        // Keys come in order: a sorted list to find the state records' owners in.
        let mut keys = Vec::new();
        for kv in self.monitors.iter() {
            let (k, v) = kv?;
            let Some(id) = id_of(&k) else {
                return Err(self.corrupt("a monitor key is not an id"));
            };
            // Checked as JSON (and the id read) without building the records: the
            // service decodes them right after, and 10k full decodes cost a restart.
            #[derive(Deserialize)]
            struct Id {
                id: MonitorId,
            }
            let stored = dec::<Id>(&v).map_err(|e| self.corrupt(&format!("monitor #{id} does not decode: {e}")))?;
            if stored.id != id {
                return Err(self.corrupt(&format!("monitor #{id} is stored as #{}", stored.id)));
            }
            keys.push(key(id));
            c.monitors += 1;
            c.max_id = c.max_id.max(id.0);
        }
        // One pass over the states, not a lookup per monitor: with sled's small cache,
        // 100,000 lookups read the same pages from disk again and again. A state
        // without its monitor is an orphan, left to the sweep.
        let mut with_health = 0;
        for kv in self.health.iter() {
            let (k, h) = kv?;
            let Some(id) = id_of(&k).filter(|_| has_key(&keys, &k)) else {
                continue;
            };
            dec::<serde::de::IgnoredAny>(&h)
                .map_err(|e| self.corrupt(&format!("state of #{id} does not decode: {e}")))?;
            with_health += 1;
        }
        c.without_health = c.monitors - with_health;
        Ok(c)
    }

    /// The stored monitors' keys, sorted (sled iterates in key order).
    fn monitor_keys(&self) -> Result<Vec<[u8; 8]>, StoreError> {
        let mut keys = Vec::new();
        for k in self.monitors.iter().keys() {
            if let Ok(k) = <[u8; 8]>::try_from(k?.as_ref()) {
                keys.push(k);
            }
        }
        Ok(keys)
    }

    fn migrate(&self, monitors: u64) -> Result<(), StoreError> {
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
        if found == 0 && monitors > 0 {
            return Err(self.corrupt("its schema version is missing"));
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

    /// `Ok` while the store writes; while writes fail, why and since when (for
    /// `/healthz`). It recovers by itself once the data dir takes writes again.
    pub fn write_health(&self) -> Result<(), String> {
        self.core.health().map_err(|f| {
            format!(
                "writes failing since {}: {} (retrying every {}s)",
                crate::domain::rfc3339(f.since_ms),
                f.reason,
                RECOVER_EVERY.as_secs()
            )
        })
    }

    /// Makes every earlier write durable (survives a process crash). Runs on the
    /// writer thread; concurrent callers share one flush.
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.on_writer(true, (0, 0), |_| Ok(())).await
    }

    /// The id counter's value (the last id handed out; 0 if none).
    fn peek_next_id(&self) -> Result<u64, StoreError> {
        Ok(self
            .meta
            .get(KEY_NEXT_ID)?
            .and_then(|b| <[u8; 8]>::try_from(b.as_ref()).ok())
            .map_or(0, u64::from_be_bytes))
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

    /// Stores a new or changed monitor with its health; returns once durable. The
    /// monitor record is written last: it is the commit point, so a crash before the
    /// flush leaves at most orphan entries, which [`Store::open`] sweeps away. A push
    /// monitor's new token is indexed before the record and the old one dropped after,
    /// so some token always resolves.
    pub async fn put_monitor(&self, m: &Monitor, h: &Health) -> Result<(), StoreError> {
        self.replica_ready()?;
        let (m2, h) = (m.clone(), h.clone());
        self.on_writer(true, (0, 1), move |s| s.write_monitor(&m2, &h)).await?;
        let n = self.replicate(SharedKey::Monitor(m.id), Some(enc(m)?));
        self.replicated_upto(n).await
    }

    fn write_monitor(&self, m: &Monitor, h: &Health) -> Result<(), StoreError> {
        let k = key(m.id);
        let token = m.push.as_ref().map(|p| p.token.clone());
        self.health.insert(k, enc(h)?)?;
        if let Some(t) = &token {
            self.push_tokens.insert(t.as_bytes(), &k[..])?;
        }
        let old = self.monitors.insert(k, enc(m)?)?;
        if old.is_none() {
            self.core.monitors.fetch_add(1, Ordering::AcqRel);
            if self.replicated() {
                // Ids come from the cluster's counter: keep ours above them, so the
                // integrity check at the next open holds.
                self.meta.update_and_fetch(KEY_NEXT_ID, |old| {
                    let n = old
                        .and_then(|b| <[u8; 8]>::try_from(b).ok())
                        .map_or(0, u64::from_be_bytes);
                    Some(n.max(m.id.0).to_be_bytes().to_vec())
                })?;
            }
        }
        self.core.max_id.fetch_max(m.id.0, Ordering::AcqRel);
        if let Some(old_token) = old.as_deref().and_then(push_token_of) {
            if token.as_deref() != Some(old_token.as_str()) {
                self.push_tokens.remove(old_token.as_bytes())?;
            }
        }
        Ok(())
    }

    /// Stores several changed monitors with their health, durably, with one flush
    /// (chat-wide changes: a group migration, a bot removed from a chat). Each record is
    /// written as by [`Store::put_monitor`], health before the monitor.
    pub async fn put_monitors(&self, items: &[(Monitor, Health)]) -> Result<(), StoreError> {
        self.replica_ready()?;
        let shared = items
            .iter()
            .map(|(m, _)| Ok((m.id, enc(m)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let items = items.to_vec();
        let most = i64::try_from(items.len()).unwrap_or(i64::MAX);
        self.on_writer(true, (0, most), move |s| {
            items.iter().try_for_each(|(m, h)| s.write_monitor(m, h))
        })
        .await?;
        let mut last = None;
        for (id, v) in shared {
            last = self.replicate(SharedKey::Monitor(id), Some(v)).or(last);
        }
        self.replicated_upto(last).await
    }

    /// Removes a monitor and everything kept about it, durably. Removing the monitor
    /// record comes first (the commit point). Returns the removed monitor, or `None`
    /// if there was none.
    pub async fn delete_monitor(&self, id: MonitorId) -> Result<Option<Monitor>, StoreError> {
        self.replica_ready()?;
        let old = self.on_writer(true, (-1, 0), move |s| s.remove_monitor(id)).await?;
        let n = self.replicate(SharedKey::Monitor(id), None);
        self.replicated_upto(n).await?;
        old.map(|v| dec(&v)).transpose()
    }

    fn remove_monitor(&self, id: MonitorId) -> Result<Option<sled::IVec>, StoreError> {
        let k = key(id);
        let old = self.monitors.remove(k)?;
        if old.is_some() {
            self.core.monitors.fetch_sub(1, Ordering::AcqRel);
        }
        if let Some(t) = old.as_deref().and_then(push_token_of) {
            self.push_tokens.remove(t.as_bytes())?;
        }
        self.health.remove(k)?;
        self.stats.remove(k)?;
        self.push_seen.remove(k)?;
        self.delete_history(id)?;
        Ok(old)
    }

    /// Queues the sweep of entries a crash left without their monitor (states,
    /// statistics, history), if the last run did crash (see [`integrity::mark_clean`]).
    /// Never read (ids are not reused), they may wait until the app has started:
    /// reading every key of those trees took 0.5 s of a 100k start, and beside the
    /// start-up load, through sled's small cache, more. After a clean stop it is not
    /// done at all: it can find nothing, and the pages it reads stay in memory (100k:
    /// ~20 MiB of the peak).
    pub fn sweep_later(&self) {
        if !self.core.sweep_due.load(Ordering::Acquire) {
            tracing::debug!("the last run stopped cleanly: no orphans to sweep");
            return;
        }
        self.later("sweeping entries without their monitor", |s| {
            // Cleared first: a write that fails from here on sets it again.
            s.core.sweep_due.store(false, Ordering::Release);
            let swept = s
                .sweep_orphans()
                .inspect_err(|_| s.core.sweep_due.store(true, Ordering::Release))?;
            if swept > 0 {
                tracing::info!(swept, "removed entries left without their monitor by a crash");
            }
            Ok(())
        });
    }

    /// Removes entries a crash left without their monitor (see [`Store::put_monitor`]).
    /// On the writer thread (or before it starts): no write may come between reading
    /// the monitor keys and the removals.
    fn sweep_orphans(&self) -> Result<usize, StoreError> {
        // Looked up in a sorted list, not in sled (see `census`).
        let monitors = self.monitor_keys()?;
        let exists = |k: &[u8]| has_key(&monitors, k);
        // Push tokens too, although the open swept them after a crash: a write that
        // failed since (a token rotation cut short) leaves one, and this sweep clears
        // the flag that would have had the next open sweep it. One pass over a tree
        // with an entry per push monitor.
        let mut removed = self.sweep_tokens()?;
        for tree in [&self.health, &self.stats, &self.push_seen] {
            for k in tree.iter().keys() {
                let k = k?;
                if !exists(&k) {
                    tree.remove(&k)?;
                    removed += 1;
                }
            }
        }
        removed += self.sweep_history(exists)?;
        Ok(removed)
    }

    /// Removes push tokens whose monitor is gone or has another token now.
    fn sweep_tokens(&self) -> Result<usize, StoreError> {
        let mut removed = 0;
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

    /// Every stored monitor's health, in one pass over the tree. At start this replaces
    /// a lookup per monitor: with a small cache, 100,000 lookups read the same pages
    /// from disk again and again.
    pub fn all_health(&self) -> Result<std::collections::HashMap<MonitorId, Health>, StoreError> {
        all_of(&self.health)
    }

    /// Every stored monitor's statistics, in one pass (see [`Store::all_health`]).
    pub fn all_stats(&self) -> Result<std::collections::HashMap<MonitorId, ProbeStats>, StoreError> {
        all_of(&self.stats)
    }

    /// Queues a save of debounce state on the writer thread and returns at once
    /// (durable with the background flush; dropped while the store is failing).
    pub fn save_health(&self, id: MonitorId, h: &Health) {
        let h = h.clone();
        self.later("saving health", move |s| s.write_health_of(id, &h));
    }

    fn write_health_of(&self, id: MonitorId, h: &Health) -> Result<(), StoreError> {
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

    /// Queues a save of statistics on the writer thread: `next` runs there and returns
    /// the next batch to save, `None` when done (so gathering and encoding many records
    /// costs the caller's thread nothing, and only a batch of copies exists at a time:
    /// all 100k at once were tens of MiB at every save). Durable with the background flush.
    pub fn save_stats_with(&self, mut next: impl FnMut() -> Option<Vec<(MonitorId, ProbeStats)>> + Send + 'static) {
        self.later("saving statistics", move |s| {
            let mut n = 0;
            while let Some(items) = next() {
                n += items.len();
                for (id, st) in items {
                    s.write_stats(id, &st)?;
                }
            }
            tracing::debug!(saved = n, "statistics saved");
            Ok(())
        });
    }

    fn write_stats(&self, id: MonitorId, s: &ProbeStats) -> Result<(), StoreError> {
        if self.monitors.contains_key(key(id))? {
            self.stats.insert(key(id), enc(s)?)?;
        }
        Ok(())
    }

    /// Statistics of one monitor.
    pub fn stats(&self, id: MonitorId) -> Result<Option<ProbeStats>, StoreError> {
        self.stats.get(key(id))?.map(|v| dec(&v)).transpose()
    }

    /// Stores a state change with its alert, durably, and returns what became of it.
    /// `still_current` runs on the writer thread just before the write: when it says
    /// the caller no longer owns the monitor's state, nothing is written. Callers
    /// change their memory only after `Ok(Committed::Written)`; on an error they keep
    /// the old state and try again later (the store refuses writes until it recovers).
    pub async fn commit(
        &self,
        change: Change,
        still_current: impl FnOnce() -> bool + Send + 'static,
    ) -> Result<Committed, StoreError> {
        let alert = change.alert.is_some();
        let done = self
            .on_writer(true, (0, 0), move |s| {
                if !still_current() {
                    return Ok(Committed::Superseded);
                }
                s.write_transition(change.id, &change.health, change.seen_ms, change.alert.as_ref())?;
                Ok(Committed::Written)
            })
            .await?;
        // Only now: a sender must never read an alert that may still vanish.
        if alert && done == Committed::Written {
            self.outbox_notify();
        }
        Ok(done)
    }

    /// Saves a health change and, if it is to be announced, its alert, on the caller's
    /// thread and without waiting for durability (tests and tools; the engines use
    /// [`Store::commit`]).
    pub fn record_transition(&self, id: MonitorId, h: &Health, alert: Option<&Alert>) -> Result<(), StoreError> {
        self.write_transition(id, h, None, alert)?;
        if alert.is_some() {
            self.outbox_notify();
        }
        Ok(())
    }

    /// The writes of a state change, in crash-safe order. The alert is written first: a
    /// crash can then duplicate an announcement (the change is seen again after
    /// restart) but never lose one. For push monitors the report time (`seen_ms`) is
    /// written before the health, so the heartbeat deadline computed after a restart is
    /// never older than the state.
    fn write_transition(
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
        // In cluster mode a site's own verdicts alert nobody: the leader's quorum does.
        if let (Some(a), false) = (alert, self.replicated()) {
            self.outbox_push(a)?;
        }
        if let Some(ms) = seen_ms {
            self.push_seen.insert(k, &ms.to_be_bytes()[..])?;
        }
        self.health.insert(k, enc(h)?)?;
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

    /// Remembers a bot added through the API (so it starts again at boot), durably.
    pub async fn put_bot(&self, bot: &StoredBot) -> Result<(), StoreError> {
        self.replica_ready()?;
        let key = bot.username.to_ascii_lowercase();
        let value = enc(bot)?;
        let (k, v) = (key.clone(), value.clone());
        self.on_writer(true, (0, 0), move |s| {
            s.bots.insert(k.as_bytes(), v)?;
            Ok(())
        })
        .await?;
        let n = self.replicate(SharedKey::Bot(key), Some(value));
        self.replicated_upto(n).await
    }

    /// Every bot added through the API.
    pub fn bots(&self) -> Result<Vec<StoredBot>, StoreError> {
        self.bots.iter().values().map(|v| dec(&v?)).collect()
    }

    /// Allows a chat implicitly (the operator named it), durably.
    pub async fn allow_chat(&self, chat_id: i64) -> Result<(), StoreError> {
        self.replica_ready()?;
        self.on_writer(true, (0, 0), move |s| {
            s.chats.insert(chat_id.to_be_bytes(), &[])?;
            Ok(())
        })
        .await?;
        let n = self.replicate(SharedKey::Allowed(chat_id), Some(Vec::new()));
        self.replicated_upto(n).await
    }

    /// Every chat allowed implicitly.
    pub fn allowed_chats(&self) -> Result<Vec<i64>, StoreError> {
        let mut out = Vec::new();
        for k in self.chats.iter().keys() {
            if let Ok(b) = <[u8; 8]>::try_from(k?.as_ref()) {
                out.push(i64::from_be_bytes(b));
            }
        }
        Ok(out)
    }

    /// The id counter: the last monitor id handed out (0 if none).
    pub fn id_counter(&self) -> Result<u64, StoreError> {
        self.peek_next_id()
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

/// What a full read of the monitors found.
#[derive(Debug, Default)]
struct Census {
    monitors: u64,
    max_id: u64,
    without_health: u64,
}

impl Census {
    fn monitors_i64(&self) -> i64 {
        i64::try_from(self.monitors).unwrap_or(i64::MAX)
    }
}

/// The push token inside an encoded monitor, if it has one (a value that does not
/// decode has no token to unindex).
fn push_token_of(v: &[u8]) -> Option<String> {
    dec::<Monitor>(v).ok()?.push.map(|p| p.token)
}

#[cfg(test)]
impl Store {
    /// Test switch: every write fails as on a full disk until switched off (then the
    /// store recovers within [`RECOVER_EVERY`]).
    pub(crate) fn inject_write_fault(&self, on: bool) {
        self.core.fault.store(on, Ordering::Release);
    }

    /// Waits (bounded) until the store writes again.
    pub(crate) async fn await_recovery(&self) {
        let deadline = tokio::time::Instant::now() + RECOVER_EVERY * 10;
        while let Err(why) = self.write_health() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the store did not recover: {why}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Kind, State};
    use std::time::Duration;

    fn monitor(id: MonitorId) -> Monitor {
        Monitor {
            name: "lo".into(),
            ..Monitor::sample(id.0, Kind::Ping, "127.0.0.1", None)
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
        s.save_health(a, &h);
        s.flush().await.unwrap();
        assert_eq!(s.health(a).unwrap().unwrap().state, State::Down);
        assert_eq!(s.monitors().unwrap().len(), 2);
        assert_eq!(s.delete_monitor(a).await.unwrap().map(|m| m.id), Some(a));
        assert!(s.delete_monitor(a).await.unwrap().is_none());
        assert!(s.health(a).unwrap().is_none());
        // a late write from a probe must not resurrect the deleted monitor's state
        s.save_health(a, &h);
        s.flush().await.unwrap();
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
        m.push = Some(Box::new(crate::domain::PushSettings {
            token: "aaaa".into(),
            heartbeat: Some(Duration::from_secs(60)),
            grace: Duration::from_secs(60),
            secret: None,
            sign_heartbeats: false,
        }));
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
        let change = |seen_ms| Change {
            id,
            health: h.clone(),
            seen_ms,
            alert: None,
        };
        assert_eq!(s.commit(change(Some(1234)), || true).await.unwrap(), Committed::Written);
        assert_eq!(s.push_seen(id).unwrap(), Some(1234));
        // a report without a time keeps the last one
        s.commit(change(None), || true).await.unwrap();
        assert_eq!(s.push_seen(id).unwrap(), Some(1234));
        s.delete_monitor(id).await.unwrap();
        assert_eq!(s.push_token("bbbb").unwrap(), None);
        assert_eq!(s.push_seen(id).unwrap(), None);
        // a late report for a deleted monitor writes nothing
        s.commit(change(Some(99)), || true).await.unwrap();
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
            assert!(
                !dir.path().join(integrity::CLEAN_FILE).exists(),
                "no mark while running"
            );
        }
        // A clean stop leaves its mark; a crash would not have: take it away.
        std::fs::remove_file(dir.path().join(integrity::CLEAN_FILE)).unwrap();
        let s = Store::open(dir.path()).unwrap();
        // Stale tokens are gone at once; the rest once the app asks.
        assert!(s.push_token("deadbeef").unwrap().is_none());
        assert!(s.health(MonitorId(99)).unwrap().is_some());
        s.sweep_later();
        s.flush().await.unwrap();
        assert!(s.health(MonitorId(99)).unwrap().is_none());
        assert!(s.stats(MonitorId(99)).unwrap().is_none());
        assert!(s.push_token("deadbeef").unwrap().is_none());
        assert!(s.push_token("cafe").unwrap().is_none());
        assert_eq!(s.monitors().unwrap().len(), 1);
        assert!(s.health(MonitorId(1)).unwrap().is_some());
    }

    #[tokio::test]
    async fn only_a_start_after_a_crash_sweeps() {
        let dir = tempfile::tempdir().unwrap();
        let orphan = || Store::open(dir.path()).unwrap();
        {
            let s = orphan();
            assert!(
                !s.core.sweep_due.load(Ordering::Acquire),
                "a new store has nothing to sweep"
            );
            s.health
                .insert(key(MonitorId(99)), enc(&Health::new(0)).unwrap())
                .unwrap();
            s.push_tokens.insert(b"deadbeef", &key(MonitorId(99))[..]).unwrap();
            s.flush().await.unwrap();
        }
        assert!(dir.path().join(integrity::CLEAN_FILE).exists());
        {
            // After a clean stop the sweep is skipped: it could find nothing a crash
            // left (the entry above was planted, not left by one).
            let s = orphan();
            assert!(!dir.path().join(integrity::CLEAN_FILE).exists(), "taken at open");
            assert!(s.push_token("deadbeef").unwrap().is_some(), "no token sweep either");
            s.sweep_later();
            s.flush().await.unwrap();
            assert!(s.health(MonitorId(99)).unwrap().is_some());
        }
        // A killed process leaves no mark.
        std::fs::remove_file(dir.path().join(integrity::CLEAN_FILE)).unwrap();
        {
            let s = orphan();
            assert!(
                s.core.sweep_due.load(Ordering::Acquire),
                "no mark: the last run crashed"
            );
            assert!(s.push_token("deadbeef").unwrap().is_none(), "tokens swept at open");
            s.sweep_later();
            s.flush().await.unwrap();
            assert!(s.health(MonitorId(99)).unwrap().is_none());
            // A write that failed partway leaves what a crash leaves, even if the disk
            // works again before the stop.
            s.health
                .insert(key(MonitorId(98)), enc(&Health::new(0)).unwrap())
                .unwrap();
            s.core.fail("no space left on device (test)");
            s.core.recovered();
        }
        assert!(
            !dir.path().join(integrity::CLEAN_FILE).exists(),
            "no mark after a failed write"
        );
        let s = orphan();
        assert!(s.core.sweep_due.load(Ordering::Acquire), "no mark: a write failed");
        s.sweep_later();
        s.flush().await.unwrap();
        assert!(s.health(MonitorId(98)).unwrap().is_none());
    }

    #[tokio::test]
    async fn a_write_that_fails_before_the_sweep_leaves_nothing_behind_it() {
        let dir = tempfile::tempdir().unwrap();
        {
            Store::open(dir.path()).unwrap();
        }
        let s = Store::open(dir.path()).unwrap();
        assert!(!s.core.sweep_due.load(Ordering::Acquire), "a clean stop before");
        // A token rotation cut short by a full disk: the old token stays, and the
        // monitor's state was written without the monitor.
        s.push_tokens.insert(b"deadbeef", &key(MonitorId(99))[..]).unwrap();
        s.health
            .insert(key(MonitorId(99)), enc(&Health::new(0)).unwrap())
            .unwrap();
        s.core.fail("no space left on device (test)");
        s.core.recovered();
        s.sweep_later();
        s.flush().await.unwrap();
        assert!(s.health(MonitorId(99)).unwrap().is_none());
        assert!(
            s.push_token("deadbeef").unwrap().is_none(),
            "the token is swept as well"
        );
        assert!(!s.core.sweep_due.load(Ordering::Acquire), "nothing left to sweep");
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

    /// Creates a store in `dir` with monitors 1..=n, and closes it.
    async fn stored(dir: &Path, n: usize) {
        let s = Store::open(dir).unwrap();
        for _ in 0..n {
            let id = s.next_id().unwrap();
            s.put_monitor(&monitor(id), &Health::new(0)).await.unwrap();
        }
    }

    #[tokio::test]
    async fn reopen_keeps_data_and_ids() {
        let dir = tempfile::tempdir().unwrap();
        stored(dir.path(), 1).await;
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

    /// A monitor of chat -5 owned by `mon_bot`, and its first DOWN as a [`Change`].
    fn owned_down(id: MonitorId) -> (Monitor, Health, Change) {
        let mut m = monitor(id);
        (m.chat_id, m.bot) = (Some(-5), Some("mon_bot".into()));
        let h0 = Health::new(0);
        let mut h1 = h0.clone();
        let t = h1
            .observe(&crate::domain::Outcome::Down("timeout".into()), 1, 1, 5)
            .unwrap();
        let change = Change {
            id,
            health: h1,
            seen_ms: None,
            alert: Alert::for_transition(&m, &t),
        };
        (m, h0, change)
    }

    #[tokio::test]
    async fn a_failing_store_refuses_writes_hides_the_outbox_and_recovers() {
        let s = Store::temporary().unwrap();
        // Monitor a went DOWN before the disk failed: its alert waits in the outbox.
        let (a, b) = (s.next_id().unwrap(), s.next_id().unwrap());
        let (ma, h0, down_a) = owned_down(a);
        let (mb, _, change) = owned_down(b);
        s.put_monitor(&ma, &h0).await.unwrap();
        s.put_monitor(&mb, &h0).await.unwrap();
        assert_eq!(s.commit(down_a, || true).await.unwrap(), Committed::Written);
        let mut wake = s.outbox_watch();
        wake.borrow_and_update();

        s.inject_write_fault(true);
        let err = s.commit(change.clone(), || true).await.unwrap_err();
        assert!(matches!(err, StoreError::Failing(_)), "{err}");
        let why = s.write_health().unwrap_err();
        assert!(why.contains("no space left on device"), "{why}");
        assert_eq!(s.health(b).unwrap(), Some(h0.clone()), "nothing written");
        assert!(
            s.outbox("mon_bot").is_err(),
            "the outbox is not served while its deliveries cannot be recorded"
        );
        assert!(!wake.has_changed().unwrap(), "no sender woken");
        // Every other write is refused too, acknowledged or not, inline or queued.
        assert!(s.put_monitor(&mb, &change.health).await.is_err());
        assert!(s.next_id().is_err());
        assert!(s.record_transition(b, &change.health, None).is_err());
        s.save_health(b, &change.health);
        assert!(s.flush().await.is_err(), "the queued save was refused before this");

        s.inject_write_fault(false);
        s.await_recovery().await;
        assert!(wake.has_changed().unwrap(), "senders are told to look again");
        assert_eq!(s.health(b).unwrap(), Some(h0), "refused writes never land later");
        let queued = s.outbox("mon_bot").unwrap();
        assert_eq!(queued.iter().map(|(_, q)| q.monitor_id).collect::<Vec<_>>(), vec![a]);
        assert_eq!(s.commit(change.clone(), || true).await.unwrap(), Committed::Written);
        assert_eq!(s.health(b).unwrap(), Some(change.health));
        assert_eq!(s.outbox("mon_bot").unwrap().len(), 2);
    }

    #[tokio::test]
    async fn a_commit_its_caller_no_longer_owns_writes_nothing() {
        let s = Store::temporary().unwrap();
        let id = s.next_id().unwrap();
        let (m, h0, change) = owned_down(id);
        s.put_monitor(&m, &h0).await.unwrap();
        assert_eq!(s.commit(change, || false).await.unwrap(), Committed::Superseded);
        assert_eq!(s.health(id).unwrap(), Some(h0));
        assert_eq!(s.outbox_len(), 0);
    }

    #[test]
    fn acknowledged_writes_never_wait_for_the_blocking_pool() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .max_blocking_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let s = Store::temporary().unwrap();
            // The whole blocking pool is busy (as a storm of DNS lookups made it).
            let (release, held) = std::sync::mpsc::channel::<()>();
            let hog = tokio::task::spawn_blocking(move || held.recv_timeout(Duration::from_secs(60)));
            let id = s.next_id().unwrap();
            tokio::time::timeout(Duration::from_secs(5), s.put_monitor(&monitor(id), &Health::new(0)))
                .await
                .expect("an acknowledged write does not queue behind the blocking pool")
                .unwrap();
            drop(release);
            let _ = hog.await;
        });
    }

    #[tokio::test]
    async fn a_store_that_lost_monitors_is_refused_until_accepted_as_found() {
        let dir = tempfile::tempdir().unwrap();
        stored(dir.path(), 5).await;
        Store::open(dir.path())
            .unwrap()
            .delete_monitor(MonitorId(5))
            .await
            .unwrap();
        // What a damaged `db` does: sled opens it, but records are missing.
        {
            let db = sled::open(dir.path()).unwrap();
            let t = db.open_tree("monitors").unwrap();
            t.remove(key(MonitorId(1))).unwrap();
            t.remove(key(MonitorId(2))).unwrap();
            db.flush().unwrap();
        }
        let err = Store::open(dir.path()).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
        let text = err.to_string();
        assert!(
            text.contains(&dir.path().display().to_string()) && text.contains("but 2 can be read"),
            "{text}"
        );
        // The operator accepts what is left (README "Damaged store").
        std::fs::remove_file(dir.path().join(INTEGRITY_FILE)).unwrap();
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.monitors().unwrap().len(), 2);
        assert_eq!(s.next_id().unwrap(), MonitorId(6), "ids are never reused");
    }

    #[tokio::test]
    async fn an_id_counter_that_went_back_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        stored(dir.path(), 1).await;
        {
            let db = sled::open(dir.path()).unwrap();
            db.open_tree("meta").unwrap().remove(KEY_NEXT_ID).unwrap();
            db.flush().unwrap();
        }
        let err = Store::open(dir.path()).unwrap_err();
        assert!(err.to_string().contains("id counter (0)"), "{err}");
    }
}
