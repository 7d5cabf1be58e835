//! The store's writer thread: the writes that back an acknowledgement or an alert, and
//! every flush, run here; never on an async runtime's threads, nor on tokio's blocking
//! pool, which input can fill (a storm of DNS lookups once froze every acknowledged
//! write behind it).
//!
//! - **Group commit.** Jobs that queue while a flush runs are applied together and
//!   covered by one flush; a job's caller hears back only after that flush.
//! - **Failure.** An I/O error marks the store failed (see [`super::handle`]): queued and
//!   new writes are refused at once, so the engines keep their old state and try again
//!   at their next probe or report. Every [`RECOVER_EVERY`] the writer checks whether
//!   the data dir takes writes again and, if sled itself gave up (it does for good after
//!   one I/O error), opens the database again. Only what was never acknowledged is lost.
//! - **Health.** When idle for [`CHECK_EVERY`], the writer flushes, so a failure of
//!   sled's background flusher shows in `/healthz` without waiting for a user's write.
//! - **Integrity record.** Before a batch that may change the number of monitors, the
//!   range of counts a crash could leave is written beside the data
//!   ([`super::integrity`]); it is narrowed again when idle.
//! - Writes nobody waits for (debounce streaks, statistics) are bounded by
//!   [`MAX_LATER`]: past it they are dropped, never queued without end.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::integrity::{self, Manifest};
use super::{Store, StoreError};

/// How often a failed store tries to recover.
pub const RECOVER_EVERY: Duration = Duration::from_secs(1);
/// How long an idle writer waits before checking the database and the integrity record.
const CHECK_EVERY: Duration = Duration::from_secs(5);
/// Fire-and-forget writes that may wait at once.
const MAX_LATER: usize = 100_000;
/// Most jobs applied before one flush.
const MAX_BATCH: usize = 4096;
/// Bytes a recovery attempt writes to prove the data dir takes writes again.
const SPACE_CHECK: usize = 1 << 20;

/// What a job's closure reports once it ran.
pub(super) type Finish = Box<dyn FnOnce(Result<(), StoreError>) + Send>;
/// A job: runs on the writer with the store, or is refused with the error.
pub(super) type Run = Box<dyn FnOnce(Result<&Store, StoreError>) -> Option<Finish> + Send>;

/// One unit of work for the writer.
pub(super) struct Job {
    /// Its caller waits for a flush that covers it.
    durable: bool,
    /// How far it may move the number of stored monitors (lowest, highest).
    monitors: (i64, i64),
    /// Counted against [`MAX_LATER`].
    later: bool,
    run: Run,
}

enum Msg {
    Job(Job),
    Stop,
}

/// The writer thread; stopped (after a last flush) when the last user handle goes.
pub(super) struct Writer {
    tx: mpsc::Sender<Msg>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    later: Arc<AtomicUsize>,
    /// Background writes dropped because the backlog was full (logged now and then).
    dropped: AtomicUsize,
}

impl Drop for Writer {
    fn drop(&mut self) {
        let _ = self.tx.send(Msg::Stop);
        let thread = self.thread.lock().unwrap_or_else(PoisonError::into_inner).take();
        // A job's closure may hold the last handle and drop it on the writer itself.
        if let Some(t) = thread.filter(|t| t.thread().id() != std::thread::current().id()) {
            if t.join().is_err() {
                tracing::error!("the store writer thread panicked");
            }
        }
    }
}

impl Writer {
    /// Starts the writer thread for `store` (a handle that does not own the writer).
    pub(super) fn start(store: Store, manifest: Option<Manifest>) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel();
        let later = Arc::new(AtomicUsize::new(0));
        let mut state = Thread {
            store,
            rx,
            later: later.clone(),
            manifest,
            durable_max_id: 0,
            next_recovery: Instant::now(),
            last_activity: Instant::now(),
        };
        state.durable_max_id = state.store.core.max_id.load(Ordering::Acquire);
        let thread = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || state.run())?;
        Ok(Self {
            tx,
            thread: Mutex::new(Some(thread)),
            later,
            dropped: AtomicUsize::new(0),
        })
    }

    fn submit(&self, job: Job) -> Result<(), StoreError> {
        self.tx
            .send(Msg::Job(job))
            .map_err(|_| StoreError::Failing("the store writer has stopped".into()))
    }
}

impl Store {
    fn writer(&self) -> Result<&Writer, StoreError> {
        self.writer
            .as_deref()
            .ok_or_else(|| StoreError::Failing("no writer on the writer thread's own handle".into()))
    }

    /// Runs `f` on the writer thread and returns its result; with `durable`, only after a
    /// flush that covers it. `monitors` bounds how far `f` may move the monitor count.
    pub(super) async fn on_writer<R: Send + 'static>(
        &self,
        durable: bool,
        monitors: (i64, i64),
        f: impl FnOnce(&Store) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        let (tx, rx) = oneshot::channel();
        // What the job logs belongs to its caller's span (the monitor, the request).
        let span = tracing::Span::current();
        let run: Run = Box::new(move |store| match store {
            Err(e) => {
                let _ = tx.send(Err(e));
                None
            }
            Ok(s) => {
                let r = span.in_scope(|| f(s));
                Some(Box::new(move |flushed: Result<(), StoreError>| {
                    let _ = tx.send(r.and_then(|v| flushed.map(|()| v)));
                }))
            }
        });
        self.writer()?.submit(Job {
            durable,
            monitors,
            later: false,
            run,
        })?;
        rx.await
            .map_err(|_| StoreError::Failing("the store writer dropped this write (see the log)".into()))?
    }

    /// Queues `f` on the writer thread without waiting (durable with sled's background
    /// flush). Failures are logged under `what`; past [`MAX_LATER`] queued, `f` is
    /// dropped.
    pub(super) fn later(&self, what: &'static str, f: impl FnOnce(&Store) -> Result<(), StoreError> + Send + 'static) {
        let Ok(w) = self.writer() else { return };
        if w.later.fetch_add(1, Ordering::AcqRel) >= MAX_LATER {
            w.later.fetch_sub(1, Ordering::AcqRel);
            if w.dropped.fetch_add(1, Ordering::Relaxed) % 10_000 == 0 {
                tracing::warn!(what, "store writer backlog full; background writes dropped");
            }
            return;
        }
        let span = tracing::Span::current();
        let run: Run = Box::new(move |store| {
            let _entered = span.enter();
            match store.and_then(f) {
                Ok(()) => {}
                // Refusals while failed are expected and already logged once by the store.
                Err(StoreError::Failing(_)) => {}
                Err(e) => tracing::warn!(what, error = %e, "background store write failed"),
            }
            None
        });
        let job = Job {
            durable: false,
            monitors: (0, 0),
            later: true,
            run,
        };
        if w.submit(job).is_err() {
            w.later.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// The writer thread's state.
struct Thread {
    /// A handle without a writer (it must not keep itself alive).
    store: Store,
    rx: mpsc::Receiver<Msg>,
    later: Arc<AtomicUsize>,
    /// The integrity record as last written (`None` for temporary stores).
    manifest: Option<Manifest>,
    /// Highest monitor id known durable.
    durable_max_id: u64,
    next_recovery: Instant,
    last_activity: Instant,
}

impl Thread {
    fn run(mut self) {
        loop {
            let wait = if self.store.core.is_failed() {
                self.next_recovery.saturating_duration_since(Instant::now())
            } else {
                CHECK_EVERY.saturating_sub(self.last_activity.elapsed())
            };
            let mut batch = Vec::new();
            let mut stop = false;
            match self.rx.recv_timeout(wait) {
                Ok(Msg::Job(j)) => batch.push(j),
                Ok(Msg::Stop) | Err(mpsc::RecvTimeoutError::Disconnected) => stop = true,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
            while !stop && batch.len() < MAX_BATCH {
                match self.rx.try_recv() {
                    Ok(Msg::Job(j)) => batch.push(j),
                    Ok(Msg::Stop) | Err(mpsc::TryRecvError::Disconnected) => stop = true,
                    Err(mpsc::TryRecvError::Empty) => break,
                }
            }
            if !batch.is_empty() {
                self.last_activity = Instant::now();
                self.process(batch);
            }
            if stop {
                self.finish();
                return;
            }
            if self.store.core.is_failed() {
                if Instant::now() >= self.next_recovery {
                    self.recover();
                    self.next_recovery = Instant::now() + RECOVER_EVERY;
                }
            } else if self.last_activity.elapsed() >= CHECK_EVERY {
                self.idle_check();
                self.last_activity = Instant::now();
            }
        }
    }

    /// Applies a batch and, if anyone waits for durability, flushes once for all.
    fn process(&mut self, batch: Vec<Job>) {
        let core = self.store.core.clone();
        if !core.is_failed() {
            self.widen_manifest(&batch);
        }
        let mut waiting: Vec<Finish> = Vec::new();
        for job in batch {
            if job.later {
                self.later.fetch_sub(1, Ordering::AcqRel);
            }
            if let Err(e) = core.writable() {
                (job.run)(Err(StoreError::from(e)));
                continue;
            }
            // A panicking job (a bug, or sled on a damaged page) must not take the
            // writer, and with it every later write, down: its caller sees an error.
            let store = &self.store;
            let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || (job.run)(Ok(store))));
            let Ok(finished) = ran else {
                tracing::error!("a store write panicked; its caller gets an error");
                continue;
            };
            if let Some(finish) = finished {
                if job.durable {
                    waiting.push(finish);
                } else {
                    finish(Ok(()));
                }
            }
        }
        if waiting.is_empty() {
            return;
        }
        let flushed = self.store.db.flush().map(drop).map_err(failure_text);
        if flushed.is_ok() {
            self.durable_max_id = core.max_id.load(Ordering::Acquire);
        }
        for finish in waiting {
            finish(flushed.clone().map_err(StoreError::Failing));
        }
    }

    /// Records the monitor counts a crash during `batch` could leave, before any of it
    /// can reach the disk (sled's background flusher may write it early).
    fn widen_manifest(&mut self, batch: &[Job]) {
        let Some(current) = self.manifest else { return };
        let (lo, hi) = batch
            .iter()
            .fold((0i64, 0i64), |(lo, hi), j| (lo + j.monitors.0, hi + j.monitors.1));
        if (lo, hi) == (0, 0) {
            return;
        }
        let count = self.store.core.monitors.load(Ordering::Acquire);
        let want = Manifest::new(count + lo, count + hi, self.durable_max_id);
        if current.covers(&want) {
            return;
        }
        self.write_manifest(want);
    }

    fn write_manifest(&mut self, m: Manifest) {
        match integrity::write(&self.store.core.dir, &m) {
            Ok(()) => self.manifest = Some(m),
            Err(e) => self.store.core.fail(&format!("writing {}: {e}", integrity::FILE)),
        }
    }

    /// When idle: surface failures of sled's background flusher, narrow the record.
    fn idle_check(&mut self) {
        if let Err(e) = self.store.db.flush() {
            tracing::debug!(error = %e, "idle flush failed");
            return;
        }
        self.durable_max_id = self.store.core.max_id.load(Ordering::Acquire);
        if let Some(m) = self.manifest {
            let count = self.store.core.monitors.load(Ordering::Acquire);
            let exact = Manifest::new(count, count, self.durable_max_id);
            if m != exact {
                self.write_manifest(exact);
            }
        }
    }

    /// One recovery attempt: is the data dir writable again, and does sled still work?
    fn recover(&mut self) {
        let core = self.store.core.clone();
        if let Err(why) = self.space_check() {
            core.still_failing(&why);
            return;
        }
        // A transient error (or an injected one) left sled itself working.
        if let Ok(db) = core.current() {
            if db.flush().is_ok() {
                core.recovered();
                self.after_recovery();
                return;
            }
        }
        if !core.persistent {
            core.still_failing("a temporary store cannot be opened again");
            return;
        }
        tracing::info!(dir = %core.dir.display(), "the data dir takes writes again; reopening the store");
        drop(core.take());
        match self.store.reopen() {
            Ok(()) => {
                core.recovered();
                // Alerts written but never made durable are gone with the old database.
                if let Err(e) = self.store.outbox.reindex() {
                    tracing::error!(error = %e, "rebuilding the outbox index after the reopen failed");
                }
                match self.store.sweep_orphans() {
                    Ok(0) => {}
                    Ok(swept) => tracing::info!(swept, "removed entries a failed write left without their monitor"),
                    Err(e) => tracing::warn!(error = %e, "sweeping after the reopen failed"),
                }
                self.durable_max_id = core.max_id.load(Ordering::Acquire);
                self.after_recovery();
            }
            Err(e) => {
                tracing::warn!(error = %e, "reopening the store failed; trying again");
                core.still_failing(&format!("reopening failed: {e}"));
            }
        }
    }

    fn after_recovery(&mut self) {
        // Senders could not read the outbox while the store was failed.
        self.store.outbox_notify();
        if self.manifest.is_some() {
            let count = self.store.core.monitors.load(Ordering::Acquire);
            self.write_manifest(Manifest::new(count, count, self.durable_max_id));
        }
    }

    /// Writes and removes [`SPACE_CHECK`] bytes in the data dir.
    fn space_check(&self) -> Result<(), String> {
        #[cfg(test)]
        if self.store.core.fault.load(Ordering::Acquire) {
            return Err("no space left on device (injected)".into());
        }
        if !self.store.core.persistent {
            return Ok(());
        }
        integrity::space_check(&self.store.core.dir, SPACE_CHECK).map_err(|e| e.to_string())
    }

    /// Last flush before the thread ends, and the exact integrity record.
    fn finish(&mut self) {
        if self.store.core.is_failed() {
            return;
        }
        match self.store.db.flush() {
            Ok(_) => {
                self.idle_check();
                // Not after a write that failed partway: its orphans wait for a sweep.
                if self.store.core.persistent && !self.store.core.sweep_due.load(Ordering::Acquire) {
                    if let Err(e) = integrity::mark_clean(&self.store.core.dir) {
                        // Only costs the next start a sweep.
                        tracing::warn!(error = %e, "cannot leave the clean-stop mark");
                    }
                }
            }
            Err(e) => tracing::error!(error = %e, "final store flush failed"),
        }
    }
}

/// What a failed flush tells the callers that waited for it.
fn failure_text(e: sled::Error) -> String {
    match e {
        sled::Error::Io(io) => super::handle::io_text(&io),
        other => other.to_string(),
    }
}
