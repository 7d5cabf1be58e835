//! Handles to the live sled database, and the store's failure state.
//!
//! sled 0.34 stays failed for good after one I/O error (a full disk included) until the
//! database is opened again, so the store replaces its database while running (the
//! writer thread does, once the disk works again; see [`super::writer`]). Nothing keeps
//! a `sled::Db` or `sled::Tree` for longer than one call: [`TreeRef`] and [`DbRef`] look
//! the live database up on every call (a read lock and an `Arc` clone).
//!
//! They also enforce the failure rules in one place:
//! - while the store is failed, no write reaches sled: it could only be lost at the
//!   reopen, and a caller told "failed" must not see it take effect later;
//! - while the store is failed, trees marked private (the outbox) are not served: an
//!   alert whose delivery cannot be recorded would be sent again and again, and one
//!   that was written but never made durable must not be sent at all.

use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use sled::IVec;

/// An I/O error as a person reads it. sled wraps OS errors in their `Debug` form
/// (`Os { code: 28, kind: StorageFull, message: "No space left on device" }`).
pub(super) fn io_text(e: &io::Error) -> String {
    let s = e.to_string();
    let message = s
        .split_once("message: \"")
        .and_then(|(_, r)| r.split_once('"'))
        .map(|(m, _)| m);
    let code = s
        .split_once("code: ")
        .and_then(|(_, r)| r.split_once(','))
        .map(|(c, _)| c);
    match (message, code) {
        (Some(m), Some(c)) => format!("{m} (os error {c})"),
        _ => s,
    }
}

/// Why and since when the store cannot write.
#[derive(Debug, Clone)]
pub(super) struct Failure {
    /// When writes started failing, ms since the epoch.
    pub(super) since_ms: u64,
    /// What the disk (or sled) said.
    pub(super) reason: String,
}

/// What every handle of one store shares: the live database and the failure state.
pub(super) struct Core {
    /// The data dir (a placeholder for temporary stores).
    pub(super) dir: PathBuf,
    /// The database lives in `dir` and can be opened again (test stores are temporary).
    pub(super) persistent: bool,
    db: RwLock<Option<sled::Db>>,
    /// Fast path of `failure.is_some()`.
    failed: AtomicBool,
    failure: Mutex<Option<Failure>>,
    /// Monitor records in the database (durable or about to be), kept by the writes
    /// that add or remove them; the writer records it beside the data.
    pub(super) monitors: AtomicI64,
    /// Highest monitor id ever stored.
    pub(super) max_id: AtomicU64,
    /// Entries without their monitor may exist: the last run did not stop cleanly, or
    /// a write failed partway through this one (the same as a crash between ordered
    /// writes). [`super::Store::sweep_later`] then has work to do, and the stop leaves
    /// no clean mark.
    pub(super) sweep_due: AtomicBool,
    /// Test switch: every write fails as if the disk were full.
    #[cfg(test)]
    pub(super) fault: AtomicBool,
}

impl Core {
    pub(super) fn new(dir: PathBuf, persistent: bool, db: sled::Db) -> Self {
        Self {
            dir,
            persistent,
            db: RwLock::new(Some(db)),
            failed: AtomicBool::new(false),
            failure: Mutex::new(None),
            monitors: AtomicI64::new(0),
            max_id: AtomicU64::new(0),
            sweep_due: AtomicBool::new(false),
            #[cfg(test)]
            fault: AtomicBool::new(false),
        }
    }

    /// The live database.
    pub(super) fn current(&self) -> sled::Result<sled::Db> {
        let guard = self.db.read().unwrap_or_else(PoisonError::into_inner);
        guard.clone().ok_or_else(|| self.refusal())
    }

    /// Takes the live database out (to open it again); handles fail until [`Core::install`].
    pub(super) fn take(&self) -> Option<sled::Db> {
        self.db.write().unwrap_or_else(PoisonError::into_inner).take()
    }

    /// Makes `db` the live database.
    pub(super) fn install(&self, db: sled::Db) {
        *self.db.write().unwrap_or_else(PoisonError::into_inner) = Some(db);
    }

    /// Whether writes are being refused.
    pub(super) fn is_failed(&self) -> bool {
        self.failed.load(Ordering::Acquire)
    }

    /// `Ok` while writes succeed, else why and since when.
    pub(super) fn health(&self) -> Result<(), Failure> {
        if !self.is_failed() {
            return Ok(());
        }
        match self.failure.lock().unwrap_or_else(PoisonError::into_inner).clone() {
            Some(f) => Err(f),
            None => Ok(()),
        }
    }

    /// Marks the store failed (the first reason is kept until it recovers).
    pub(super) fn fail(&self, reason: &str) {
        let mut f = self.failure.lock().unwrap_or_else(PoisonError::into_inner);
        if f.is_none() {
            tracing::error!(
                dir = %self.dir.display(),
                reason,
                "the store cannot write; writes are refused (state changes wait, acknowledgements fail) until it recovers"
            );
            *f = Some(Failure {
                since_ms: crate::domain::now_ms(),
                reason: reason.to_string(),
            });
        }
        self.failed.store(true, Ordering::Release);
        self.sweep_due.store(true, Ordering::Release);
    }

    /// Updates why the store is still failing (a recovery attempt learned more).
    pub(super) fn still_failing(&self, reason: &str) {
        if let Some(f) = self.failure.lock().unwrap_or_else(PoisonError::into_inner).as_mut() {
            reason.clone_into(&mut f.reason);
        }
    }

    /// Clears the failure: writes are accepted again.
    pub(super) fn recovered(&self) {
        let old = self.failure.lock().unwrap_or_else(PoisonError::into_inner).take();
        self.failed.store(false, Ordering::Release);
        if let Some(f) = old {
            let secs = crate::domain::now_ms().saturating_sub(f.since_ms) / 1000;
            tracing::info!(dir = %self.dir.display(), failed_for_s = secs, "the store writes again");
        }
    }

    /// The error a refused write (or a hidden read) gets.
    pub(super) fn refusal(&self) -> sled::Error {
        let why = match self.health() {
            Err(f) => f.reason,
            Ok(()) => "the database is being reopened".into(),
        };
        sled::Error::Io(io::Error::other(format!(
            "{why} (writes refused until the disk works again)"
        )))
    }

    /// `Ok` when a write may go to sled.
    pub(super) fn writable(&self) -> sled::Result<()> {
        #[cfg(test)]
        if self.fault.load(Ordering::Acquire) {
            self.fail("no space left on device (injected)");
        }
        if self.is_failed() {
            return Err(self.refusal());
        }
        Ok(())
    }

    /// Passes `r` through, marking the store failed on an I/O error.
    pub(super) fn note<T>(&self, r: sled::Result<T>) -> sled::Result<T> {
        if let Err(sled::Error::Io(e)) = &r {
            self.fail(&io_text(e));
        }
        r
    }
}

/// One named tree of the live database.
#[derive(Clone)]
pub(super) struct TreeRef {
    core: Arc<Core>,
    name: &'static str,
    /// Not served while the store is failed (see the module doc).
    private_while_failed: bool,
}

/// Iterator over a [`TreeRef`]: sled's, or the one error that stopped it.
pub(super) enum Iter {
    /// Boxed: sled's iterator is large, and one allocation per scan is nothing.
    Live(Box<sled::Iter>),
    Failed(Option<sled::Error>),
}

impl Iterator for Iter {
    type Item = sled::Result<(IVec, IVec)>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Live(i) => i.next(),
            Iter::Failed(e) => e.take().map(Err),
        }
    }
}

impl DoubleEndedIterator for Iter {
    fn next_back(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Live(i) => i.next_back(),
            Iter::Failed(e) => e.take().map(Err),
        }
    }
}

impl Iter {
    /// Keys only.
    pub(super) fn keys(self) -> impl DoubleEndedIterator<Item = sled::Result<IVec>> {
        self.map(|r| r.map(|(k, _)| k))
    }

    /// Values only.
    pub(super) fn values(self) -> impl DoubleEndedIterator<Item = sled::Result<IVec>> {
        self.map(|r| r.map(|(_, v)| v))
    }
}

impl TreeRef {
    pub(super) fn new(core: &Arc<Core>, name: &'static str) -> Self {
        Self {
            core: core.clone(),
            name,
            private_while_failed: false,
        }
    }

    /// A tree that is not served while the store is failed.
    pub(super) fn private(core: &Arc<Core>, name: &'static str) -> Self {
        Self {
            private_while_failed: true,
            ..Self::new(core, name)
        }
    }

    fn tree(&self) -> sled::Result<sled::Tree> {
        self.core.current()?.open_tree(self.name)
    }

    fn readable(&self) -> sled::Result<sled::Tree> {
        if self.private_while_failed && self.core.is_failed() {
            return Err(self.core.refusal());
        }
        self.tree()
    }

    fn writable(&self) -> sled::Result<sled::Tree> {
        self.core.writable()?;
        self.tree()
    }

    fn iter_of(&self, f: impl FnOnce(sled::Tree) -> sled::Iter) -> Iter {
        match self.readable() {
            Ok(t) => Iter::Live(Box::new(f(t))),
            Err(e) => Iter::Failed(Some(e)),
        }
    }

    pub(super) fn get<K: AsRef<[u8]>>(&self, key: K) -> sled::Result<Option<IVec>> {
        self.readable()?.get(key)
    }

    pub(super) fn contains_key<K: AsRef<[u8]>>(&self, key: K) -> sled::Result<bool> {
        self.readable()?.contains_key(key)
    }

    pub(super) fn iter(&self) -> Iter {
        self.iter_of(|t| t.iter())
    }

    pub(super) fn insert<K: AsRef<[u8]>, V: Into<IVec>>(&self, key: K, value: V) -> sled::Result<Option<IVec>> {
        let t = self.writable()?;
        self.core.note(t.insert(key, value))
    }

    pub(super) fn remove<K: AsRef<[u8]>>(&self, key: K) -> sled::Result<Option<IVec>> {
        let t = self.writable()?;
        self.core.note(t.remove(key))
    }

    pub(super) fn update_and_fetch<K, V, F>(&self, key: K, f: F) -> sled::Result<Option<IVec>>
    where
        K: AsRef<[u8]>,
        F: FnMut(Option<&[u8]>) -> Option<V>,
        V: Into<IVec>,
    {
        let t = self.writable()?;
        self.core.note(t.update_and_fetch(key, f))
    }
}

/// The live database itself (ids, size, the raw flush used at open).
#[derive(Clone)]
pub(super) struct DbRef {
    core: Arc<Core>,
}

impl DbRef {
    pub(super) fn new(core: &Arc<Core>) -> Self {
        Self { core: core.clone() }
    }

    /// A new unique, increasing id (crash-safe: never handed out twice).
    pub(super) fn generate_id(&self) -> sled::Result<u64> {
        self.core.writable()?;
        let db = self.core.current()?;
        self.core.note(db.generate_id())
    }

    /// A tree of the live database, for an operation [`TreeRef`] does not offer. Hold
    /// it for one call only: a reopen waits for every handle of the old database.
    pub(super) fn open_tree(&self, name: &str) -> sled::Result<sled::Tree> {
        self.core.current()?.open_tree(name)
    }

    /// Bytes on disk.
    pub(super) fn size_on_disk(&self) -> sled::Result<u64> {
        self.core.current()?.size_on_disk()
    }

    /// Blocking flush on the calling thread: only at open and on the writer thread.
    pub(super) fn flush(&self) -> sled::Result<usize> {
        self.core.writable()?;
        let db = self.core.current()?;
        self.core.note(db.flush())
    }
}
