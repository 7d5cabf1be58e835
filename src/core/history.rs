//! The periodic history save: every [`SAVE_EVERY`] the minutes each engine's
//! recorders gathered are handed to the store in batches of [`BATCH`] monitors (one
//! write per touched chunk, never one per probe), and once more at shutdown after the
//! engines stopped.
//! Readers lay what is not saved yet over what is ([`Service::history`]), so a chart
//! is current to the probe. A batch the store refuses loses its minutes (logged), and
//! the rest waits in the recorders for the next save; they never hold more than
//! [`crate::domain::history::MAX_OPEN`] minutes.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::error::CoreError;
use super::service::Service;
use crate::domain::now_ms;
use crate::store::HistorySaved;

/// Monitors whose minutes one write of the save carries.
pub const BATCH: usize = 1024;

/// How often recorded history is written.
pub const SAVE_EVERY: Duration = Duration::from_secs(60);

impl Service {
    /// Writes what every engine recorded since the last save, [`BATCH`] monitors at a
    /// time in id order: consecutive writes land on the same tree pages (see the
    /// statistics save in the scheduler), and only a batch of minutes is out of the
    /// recorders at once (all of 100k monitors' were ~24 MiB). After a failed batch the
    /// rest stays in the recorders for the next save.
    pub async fn save_history(&self) -> Result<HistorySaved, CoreError> {
        let now = now_ms();
        let engines = self.engines();
        let mut saved = HistorySaved::default();
        for engine in [engines.scheduler_engine(), engines.push_engine()] {
            for ids in engine.history_ids().chunks(BATCH) {
                let batch = engine.take_history(ids, now);
                if batch.is_empty() {
                    continue;
                }
                // On the store's writer thread, like every write.
                saved.add(self.store().save_history(batch, now).await?);
            }
        }
        tracing::debug!(?saved, "history saved");
        Ok(saved)
    }

    /// Saves history every [`SAVE_EVERY`] until `stop` is cancelled (the final save is
    /// the app's, after the engines stopped).
    pub async fn run_history_saver(self, stop: CancellationToken) {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + SAVE_EVERY, SAVE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = tick.tick() => {
                    if let Err(e) = self.save_history().await {
                        tracing::warn!(error = %e, "saving history failed; those minutes are lost");
                    }
                }
            }
        }
    }
}
