//! The alert side of a bot: watches the durable outbox and hands every chat that has
//! alerts pending to the bot's [`Courier`], which sends them through the one send path
//! (after that chat's replies, as batches, paced).
//!
//! A wake-up costs one look at the outbox's index (the chats this bot has alerts for),
//! never a read of the alerts themselves: each chat's worker reads only its own.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::send::Courier;

/// After a wake-up, wait this long so a burst of transitions lands in one message.
const LINGER: Duration = Duration::from_millis(300);
/// Look at the outbox at least this often (a safety net; wake-ups do the real work).
const SAFETY_POLL: Duration = Duration::from_secs(30);

/// Runs until `stop` is cancelled: every chat with pending alerts gets its worker.
pub(super) async fn watch(courier: Arc<Courier>, stop: CancellationToken) {
    let outbox = courier.shared.outbox.clone();
    let mut wake = outbox.watch();
    let bot = courier.username.clone();
    tracing::info!(bot = %bot, chats = outbox.chats(&bot).len(), "alert sender started");
    loop {
        wake.borrow_and_update();
        for chat in outbox.chats(&bot) {
            courier.kick(chat);
        }
        tokio::select! {
            () = stop.cancelled() => break,
            changed = wake.changed() => {
                if changed.is_err() {
                    break;
                }
                tokio::select! {
                    () = stop.cancelled() => break,
                    () = tokio::time::sleep(LINGER) => {}
                }
            }
            () = tokio::time::sleep(SAFETY_POLL) => {}
        }
    }
    tracing::info!(bot = %bot, "alert sender stopped");
}
