//! The leader lease: one key (`leader`) in a bucket whose `max_age` is [`LEASE_TTL`], so
//! an entry nobody renews disappears by itself (per-key TTLs need NATS 2.11; a bucket's
//! `max_age` works on 2.10).
//!
//! - Taking it: `create`, which the server refuses while the key holds a value.
//! - Keeping it: `update` on the revision this node holds, every [`RENEW_EVERY`]; the
//!   server refuses a stale revision, so a node that lost the lease cannot renew it.
//! - Timing: a renewal sent at `t` (and accepted) lets this node act as leader until
//!   `t + LEASE_TTL - LEASE_MARGIN`, measured on its own monotonic clock from before
//!   the request left; the server keeps the entry until at least `t + LEASE_TTL`. So
//!   this node has stopped sending at least [`LEASE_MARGIN`] before another can take
//!   the lease, whatever happens to the network in between.
//! - Giving it up (shutdown, or a delivery that could not be recorded): stop acting as
//!   leader first, then delete the key on its revision, so the next node takes over at
//!   once instead of after the TTL. This task does it, as the only holder of the
//!   revision: a renewal in flight at shutdown cannot leave it deleting a stale one.

use std::sync::Arc;

use async_nats::jetstream::kv;
use tokio::time::Instant;

use super::{Inner, LEASE_MARGIN, LEASE_TTL, Lease, RENEW_EVERY};
use crate::domain::now_ms;

/// Until when acting as leader is safe after a renewal sent at `sent`.
pub(super) fn safe_until(sent: Instant) -> Instant {
    sent + LEASE_TTL.saturating_sub(LEASE_MARGIN)
}

/// Starts the lease task.
pub(super) fn spawn(inner: &Arc<Inner>) {
    let inner = inner.clone();
    inner.tasks.clone().spawn(async move { run(&inner).await });
}

fn value(inner: &Inner, since_ms: u64) -> Vec<u8> {
    let lease = Lease {
        node: inner.node.clone(),
        site: inner.site.clone(),
        since_ms,
    };
    serde_json::to_vec(&lease).unwrap_or_default()
}

async fn run(inner: &Inner) {
    // (revision, safe until, held since)
    let mut held: Option<(u64, Instant, u64)> = None;
    let mut first = true;
    loop {
        // The first try at once: a cluster that starts has a leader in a moment.
        let wait = if std::mem::take(&mut first) {
            std::time::Duration::ZERO
        } else {
            RENEW_EVERY
        };
        tokio::select! {
            () = inner.stop.cancelled() => {
                // Shutdown: this task owns the revision, so no renewal can be in flight.
                if let Some((rev, _, _)) = held.take() {
                    give_up(inner, "this node stops");
                    hand_over(inner, rev).await;
                }
                break;
            }
            () = inner.step_down.notified() => {
                if let Some((rev, _, _)) = held.take() {
                    give_up(inner, "a delivery could not be recorded in the cluster");
                    hand_over(inner, rev).await;
                }
                // Let another node take it before trying again.
                tokio::select! {
                    () = inner.stop.cancelled() => break,
                    () = tokio::time::sleep(LEASE_TTL) => {}
                }
                continue;
            }
            () = tokio::time::sleep(wait) => {}
        }
        let sent = Instant::now();
        match held {
            None => {
                if !inner.nats.connected() {
                    inner.known().leader = None;
                    continue;
                }
                let since = now_ms();
                let created = tokio::time::timeout(
                    RENEW_EVERY * 2,
                    inner.nats.lease.create("leader", value(inner, since).into()),
                )
                .await;
                match created {
                    Ok(Ok(rev)) => {
                        held = Some((rev, safe_until(sent), since));
                        inner.known().leader = Some(Lease {
                            node: inner.node.clone(),
                            site: inner.site.clone(),
                            since_ms: since,
                        });
                        tracing::info!(node = %inner.node, "won the leader lease: this node sends alerts and polls the bots");
                        inner.holding.send_replace(true);
                    }
                    _ => super::sites::read_leader(inner).await,
                }
            }
            Some((rev, until, since)) => {
                let left = until.saturating_duration_since(sent);
                let renewed =
                    tokio::time::timeout(left, inner.nats.lease.update("leader", value(inner, since).into(), rev))
                        .await;
                match renewed {
                    Ok(Ok(r)) => {
                        held = Some((r, safe_until(sent), since));
                    }
                    Ok(Err(e)) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => {
                        held = None;
                        give_up(inner, "another node holds the lease");
                    }
                    Ok(Err(e)) if Instant::now() < until => {
                        tracing::warn!(error = %e, "renewing the leader lease failed; trying again");
                    }
                    _ => {
                        held = None;
                        give_up(inner, "the lease could not be renewed in time");
                    }
                }
            }
        }
    }
}

/// Stops acting as leader (the role task hands over).
fn give_up(inner: &Inner, why: &str) {
    tracing::warn!(node = %inner.node, reason = why, "gave up the leader lease");
    inner.holding.send_replace(false);
}

/// Once this node no longer acts as leader, deletes the lease key (on `rev`, so never
/// a successor's) so another node takes over without waiting for the TTL.
async fn hand_over(inner: &Inner, rev: u64) {
    let mut front = inner.front.subscribe();
    if !matches!(
        tokio::time::timeout(LEASE_TTL, front.wait_for(|running| !*running)).await,
        Ok(Ok(_))
    ) {
        tracing::warn!("the bots did not stop in time; the lease lapses by itself instead");
        return;
    }
    match inner.nats.lease.delete_expect_revision("leader", Some(rev)).await {
        Ok(()) => tracing::info!("leader lease handed over"),
        Err(e) => tracing::warn!(error = %e, "could not hand the lease over; it lapses by itself"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_leader_stops_before_anyone_can_take_over() {
        let sent = Instant::now();
        // The server keeps the entry at least LEASE_TTL after the renewal arrived (which
        // is after `sent`); we stop LEASE_MARGIN before that.
        let stop = safe_until(sent);
        assert_eq!(stop.duration_since(sent), LEASE_TTL - LEASE_MARGIN);
        assert!(LEASE_MARGIN >= Duration::from_secs(2));
        // A dead leader's lease lapses, and the next one renews in time, well within
        // the promised 15 s failover.
        assert!(LEASE_TTL + RENEW_EVERY * 2 < Duration::from_secs(15));
        assert!(
            RENEW_EVERY * 3 < LEASE_TTL - LEASE_MARGIN,
            "several renewals fit before the stop"
        );
    }
}
