//! The periodic history save: every [`SAVE_EVERY`] the minutes each engine's
//! recorders gathered are handed to the store in one batch (one write per touched
//! chunk, never one per probe), and once more at shutdown after the engines stopped.
//! Readers lay what is not saved yet over what is ([`Service::history`]), so a chart
//! is current to the probe. A save the store refuses loses those minutes (logged);
//! the recorders never hold more than [`crate::domain::history::MAX_OPEN`] minutes.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::error::CoreError;
use super::service::Service;
use crate::domain::now_ms;
use crate::store::HistorySaved;

/// How often recorded history is written.
pub const SAVE_EVERY: Duration = Duration::from_secs(60);

impl Service {
    /// Writes what every engine recorded since the last save.
    pub async fn save_history(&self) -> Result<HistorySaved, CoreError> {
        let now = now_ms();
        let engines = self.engines();
        let mut batch = engines.scheduler_engine().take_history(now);
        batch.extend(engines.push_engine().take_history(now));
        if batch.is_empty() {
            return Ok(HistorySaved::default());
        }
        // In key order, so consecutive writes land on the same tree pages (see the
        // statistics save in the scheduler).
        batch.sort_unstable_by_key(|(id, _)| *id);
        // On the store's writer thread, like every write.
        let saved = self.store().save_history(batch, now).await?;
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
