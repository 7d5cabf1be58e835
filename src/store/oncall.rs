//! What upbot keeps for the people on call: one [`OnCall`] record per monitor (its
//! parent, reminder period, ack, own mute, last announced state, last reminder) in the
//! tree `oncall`, and one [`ChatSettings`] record per chat (quiet, `/mute all`, the
//! language) in the tree `chat_settings`. Keys are big-endian ids, values JSON
//! with serde defaults, so a field added later reads older records as its default and
//! no schema migration is needed.
//!
//! Writes here are not flushed: the caller (the command core, the reminder clock, a
//! chat's sender) writes a record and any outbox rows it causes, then flushes once
//! before it acknowledges or acts, so a record and its message are durable together.
//! A record is written before the monitor record on `add` (the monitor is the commit
//! point); records left without a monitor are dropped by [`Store::oncall_sweep`].

use crate::domain::MonitorId;
use crate::domain::oncall::{ChatSettings, Notice, OnCall};
use crate::domain::{Health, Monitor, Transition};

use std::sync::Arc;

use super::handle::{Core, TreeRef};
use super::{Alert, SharedKey, Store, StoreError, dec, enc, key};

/// The two trees of on-call data.
#[derive(Clone)]
pub(super) struct OnCallTrees {
    records: TreeRef,
    chats: TreeRef,
}

impl OnCallTrees {
    /// Handles on the trees of `core`'s live database.
    pub(super) fn new(core: &Arc<Core>) -> Self {
        Self {
            records: TreeRef::new(core, "oncall"),
            chats: TreeRef::new(core, "chat_settings"),
        }
    }
}

impl Alert {
    /// An outbox row that is not a state change of `m` (a reminder, the end of a mute,
    /// an ack or mute made through the API): `from → to` as the notice needs it, the
    /// reason and `down_for_ms` from `h`. `None` for a monitor without a chat and bot.
    pub fn notice(m: &Monitor, h: &Health, notice: Notice, from: crate::domain::State, at_ms: u64) -> Option<Self> {
        let t = Transition {
            from,
            to: h.state,
            reason: h.reason.clone(),
            at_ms,
            announce: true,
            down_for_ms: h.down_since_ms.map(|s| at_ms.saturating_sub(s)),
        };
        Self::for_transition(m, &t).map(|a| Self { notice, ..a })
    }
}

impl Store {
    /// Every monitor's on-call record.
    pub fn oncall_records(&self) -> Result<Vec<(MonitorId, OnCall)>, StoreError> {
        let mut out = Vec::new();
        for kv in self.oncall.records.iter() {
            let (k, v) = kv?;
            if let Some(id) = super::id_of(&k) {
                out.push((id, dec(&v)?));
            }
        }
        Ok(out)
    }

    /// Writes a monitor's on-call record (not flushed; an all-default record is removed).
    pub fn put_oncall(&self, id: MonitorId, rec: &OnCall) -> Result<(), StoreError> {
        self.replica_ready()?;
        let (before, value) = if *rec == OnCall::default() {
            (self.oncall.records.remove(key(id))?, None)
        } else {
            let v = enc(rec)?;
            (self.oncall.records.insert(key(id), v.clone())?, Some(v))
        };
        self.replicate_over(SharedKey::OnCall(id), before.map(|b| b.to_vec()), value);
        Ok(())
    }

    /// Forgets a monitor's on-call record (not flushed).
    pub fn remove_oncall(&self, id: MonitorId) -> Result<(), StoreError> {
        self.oncall.records.remove(key(id))?;
        self.replicate(SharedKey::OnCall(id), None);
        Ok(())
    }

    /// Drops records of monitors that no longer exist (a crash between the writes of
    /// an add or a delete); returns how many.
    pub fn oncall_sweep(&self) -> Result<usize, StoreError> {
        let mut removed = 0;
        for k in self.oncall.records.iter().keys() {
            let k = k?;
            if super::id_of(&k).is_some_and(|id| self.monitor(id).ok().flatten().is_none()) {
                self.oncall.records.remove(&k)?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Every chat's settings.
    pub fn chat_settings_all(&self) -> Result<Vec<(i64, ChatSettings)>, StoreError> {
        let mut out = Vec::new();
        for kv in self.oncall.chats.iter() {
            let (k, v) = kv?;
            if let Ok(b) = <[u8; 8]>::try_from(k.as_ref()) {
                out.push((i64::from_be_bytes(b), dec(&v)?));
            }
        }
        Ok(out)
    }

    /// Writes a chat's settings (not flushed; all-default settings are removed).
    pub fn put_chat_settings(&self, chat: i64, s: &ChatSettings) -> Result<(), StoreError> {
        self.replica_ready()?;
        let (before, value) = if *s == ChatSettings::default() {
            (self.oncall.chats.remove(chat.to_be_bytes())?, None)
        } else {
            let v = enc(s)?;
            (self.oncall.chats.insert(chat.to_be_bytes(), v.clone())?, Some(v))
        };
        self.replicate_over(SharedKey::Chat(chat), before.map(|b| b.to_vec()), value);
        Ok(())
    }

    /// Queues outbox rows that are not state changes (not flushed, senders not woken:
    /// flush, then [`Store::outbox_notify`]).
    pub fn queue_notices(&self, rows: &[Alert]) -> Result<(), StoreError> {
        for a in rows {
            self.outbox_push(a)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::oncall::{Ack, Mute};
    use std::time::Duration;

    #[tokio::test]
    async fn records_and_settings_survive_a_reopen_and_defaults_take_no_room() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = Store::open(dir.path()).unwrap();
            let rec = OnCall {
                parent: Some(MonitorId(1)),
                remind: Some(Duration::from_secs(60)),
                ack: Some(Ack {
                    by: "Ann".into(),
                    reason: Some("on it".into()),
                    at_ms: 5,
                    incident_ms: 4,
                }),
                ..OnCall::default()
            };
            s.put_oncall(MonitorId(2), &rec).unwrap();
            s.put_oncall(MonitorId(3), &OnCall::default()).unwrap();
            let settings = ChatSettings {
                quiet: true,
                mute_all: Some(Mute {
                    until_ms: 9,
                    by: "Bo".into(),
                    reason: None,
                    at_ms: 1,
                }),
                lang: Some(crate::i18n::Lang::Ru),
            };
            s.put_chat_settings(-100, &settings).unwrap();
            s.put_chat_settings(-200, &ChatSettings::default()).unwrap();
            s.flush().await.unwrap();
        }
        let s = Store::open(dir.path()).unwrap();
        let recs = s.oncall_records().unwrap();
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].0, MonitorId(2));
        assert_eq!(recs[0].1.ack.as_ref().unwrap().by, "Ann");
        let chats = s.chat_settings_all().unwrap();
        assert_eq!(chats.len(), 1);
        assert_eq!(chats[0].0, -100);
        assert!(chats[0].1.quiet);
        assert_eq!(chats[0].1.lang, Some(crate::i18n::Lang::Ru), "the language survives");
        // no monitor #2 in this store: the sweep drops its record
        assert_eq!(s.oncall_sweep().unwrap(), 1);
        assert!(s.oncall_records().unwrap().is_empty());
    }
}
