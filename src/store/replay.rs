//! Standard Webhooks replay protection that survives a restart: the tree
//! `webhook_seen` maps (monitor id, `webhook-id`) to the Unix second after which the
//! id's timestamp falls out of the 5-minute window, so the receiver refuses it anyway
//! and the entry can go. Ids are written when a request is accepted, before the
//! report's flush, so an acknowledged request's id is as durable as the report.

use sled::CompareAndSwapError;

use super::{Store, StoreError, key};
use crate::domain::MonitorId;

/// The tree's name.
const TREE: &str = "webhook_seen";

fn seen_key(monitor: MonitorId, msg_id: &str) -> Vec<u8> {
    let mut k = key(monitor).to_vec();
    k.extend_from_slice(msg_id.as_bytes());
    k
}

fn expiry(v: &[u8]) -> u64 {
    <[u8; 8]>::try_from(v).map_or(0, u64::from_be_bytes)
}

impl Store {
    fn webhook_seen(&self) -> Result<sled::Tree, StoreError> {
        // sled keeps opened trees in a map: after the first call this is a lookup.
        Ok(self.db.open_tree(TREE)?)
    }

    /// Whether `msg_id` was already accepted for `monitor` and is still in its window
    /// at `now_s` (Unix seconds).
    pub fn webhook_id_seen(&self, monitor: MonitorId, msg_id: &str, now_s: u64) -> Result<bool, StoreError> {
        let got = self.webhook_seen()?.get(seen_key(monitor, msg_id))?;
        Ok(got.is_some_and(|v| expiry(&v) >= now_s))
    }

    /// Records `msg_id` for `monitor` until `expires` (Unix seconds). `false` when it
    /// was already there and still in its window: a replay. Atomic, so two copies of
    /// one request racing each other get one `true`. Durable with the next flush.
    pub fn webhook_id_first_use(
        &self,
        monitor: MonitorId,
        msg_id: &str,
        expires: u64,
        now_s: u64,
    ) -> Result<bool, StoreError> {
        let tree = self.webhook_seen()?;
        let k = seen_key(monitor, msg_id);
        let new = expires.to_be_bytes();
        let mut current: Option<sled::IVec> = None;
        // Bounded: each lost race means another writer changed the entry, and only an
        // expired entry is retried.
        for _ in 0..4 {
            match tree.compare_and_swap(&k, current.as_deref(), Some(&new[..]))? {
                Ok(()) => return Ok(true),
                Err(CompareAndSwapError { current: Some(v), .. }) if expiry(&v) < now_s => {
                    // Expired but not pruned yet: it may be taken again.
                    current = Some(v);
                }
                Err(CompareAndSwapError { current: None, .. }) => current = None,
                Err(CompareAndSwapError { current: Some(_), .. }) => return Ok(false),
            }
        }
        Ok(false)
    }

    /// Drops a recorded id (its request was not applied after all: the sender may
    /// retry with the same id).
    pub fn webhook_id_forget(&self, monitor: MonitorId, msg_id: &str) -> Result<(), StoreError> {
        self.webhook_seen()?.remove(seen_key(monitor, msg_id))?;
        Ok(())
    }

    /// Removes every id whose window closed before `now_s`; returns how many.
    pub fn prune_webhook_ids(&self, now_s: u64) -> Result<usize, StoreError> {
        let tree = self.webhook_seen()?;
        let mut n = 0;
        for item in tree.iter() {
            let (k, v) = item?;
            if expiry(&v) < now_s && tree.compare_and_swap(&k, Some(v), None::<&[u8]>)?.is_ok() {
                n += 1;
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ids_are_used_once_per_monitor_until_their_window_closes() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (MonitorId(1), MonitorId(2));
        {
            let s = Store::open(dir.path()).unwrap();
            assert!(s.webhook_id_first_use(a, "msg_1", 1_300, 1_000).unwrap());
            assert!(!s.webhook_id_first_use(a, "msg_1", 1_300, 1_001).unwrap());
            assert!(s.webhook_id_seen(a, "msg_1", 1_300).unwrap());
            // the same id for another monitor is not a replay
            assert!(s.webhook_id_first_use(b, "msg_1", 1_300, 1_001).unwrap());
            assert!(s.webhook_id_first_use(a, "msg_2", 1_100, 1_001).unwrap());
            s.flush().await.unwrap();
        }
        // reopened (a restart): still refused
        let s = Store::open(dir.path()).unwrap();
        assert!(!s.webhook_id_first_use(a, "msg_1", 1_300, 1_010).unwrap());
        // after its window an id may be taken again (the timestamp check refuses it
        // anyway; this only keeps the tree from growing)
        assert!(!s.webhook_id_seen(a, "msg_2", 1_101).unwrap());
        assert!(s.webhook_id_first_use(a, "msg_2", 1_500, 1_101).unwrap());
        assert_eq!(s.prune_webhook_ids(1_400).unwrap(), 2, "msg_1 of a and b");
        assert!(!s.webhook_id_seen(a, "msg_1", 1_000).unwrap());
        assert!(s.webhook_id_seen(a, "msg_2", 1_400).unwrap());
        s.webhook_id_forget(a, "msg_2").unwrap();
        assert!(s.webhook_id_first_use(a, "msg_2", 1_500, 1_400).unwrap());
    }
}
