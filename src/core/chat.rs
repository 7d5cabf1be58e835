//! Operations on a whole chat, asked for by the Telegram front: a group became a
//! supergroup (its monitors move to the new id), or a bot can no longer post in a chat
//! (its monitors there are paused).
//!
//! Both halt every affected monitor in its engine first (probe scheduler or push
//! engine alike), then read its state, write, and hand it back: a verdict cannot land
//! in between and be overwritten or announced twice, and push monitors learn their new
//! chat (or their pause) like probed ones.

use super::error::CoreError;
use super::service::{Service, validate_chat_id};
use crate::domain::{Health, Monitor, MonitorId, now_ms};

impl Service {
    /// Moves every monitor of chat `old` to chat `new`, durably. Returns the monitors
    /// moved. Idempotent.
    pub async fn migrate_chat(&self, old: i64, new: i64) -> Result<Vec<MonitorId>, CoreError> {
        validate_chat_id(new)?;
        let _w = self.lock_writes().await;
        let moving: Vec<Monitor> =
            self.read_monitors(|all| all.values().filter(|m| m.chat_id == Some(old)).cloned().collect());
        let halted = self.halt_all(&moving)?;
        let moved: Vec<(Monitor, Health)> = halted
            .iter()
            .map(|(m, h)| {
                let mut m = m.clone();
                m.chat_id = Some(new);
                (m, h.clone())
            })
            .collect();
        if !moved.is_empty() {
            if let Err(e) = self.store().put_monitors(&moved).await {
                self.hand_back(halted);
                return Err(e.into());
            }
        }
        for (m, _) in &moved {
            self.write_monitors(|all| all.insert(m.id, m.clone()));
        }
        let ids = moved.iter().map(|(m, _)| m.id).collect();
        tracing::info!(old_chat = old, new_chat = new, monitors = moved.len(), "chat migrated");
        self.hand_back(moved);
        Ok(ids)
    }

    /// Pauses every monitor of `bot` in `chat_id`, durably (the bot can no longer post
    /// there: kicked, blocked, chat deleted). Returns every monitor of that bot in that
    /// chat, including ones that were paused already.
    pub async fn pause_chat(&self, bot: &str, chat_id: i64) -> Result<Vec<MonitorId>, CoreError> {
        let _w = self.lock_writes().await;
        let owned: Vec<Monitor> = self.read_monitors(|all| {
            all.values()
                .filter(|m| m.chat_id == Some(chat_id) && m.bot.as_deref().is_some_and(|b| b.eq_ignore_ascii_case(bot)))
                .cloned()
                .collect()
        });
        let ids = owned.iter().map(|m| m.id).collect();
        let running: Vec<Monitor> = owned.into_iter().filter(|m| !m.paused).collect();
        let halted = self.halt_all(&running)?;
        let now = now_ms();
        let mut changed = Vec::new();
        let mut transitions = Vec::new();
        for (m, h) in &halted {
            let (mut m, mut h) = (m.clone(), h.clone());
            transitions.push(h.pause(now));
            m.paused = true;
            changed.push((m, h));
        }
        if !changed.is_empty() {
            if let Err(e) = self.store().put_monitors(&changed).await {
                self.hand_back(halted);
                return Err(e.into());
            }
        }
        for ((m, _), t) in changed.iter().zip(&transitions) {
            self.write_monitors(|all| all.insert(m.id, m.clone()));
            if let Some(t) = t {
                self.publish(m, t);
            }
            tracing::info!(monitor = %m.id, chat = chat_id, bot, "monitor paused: the bot can no longer post in its chat");
        }
        self.hand_back(changed);
        Ok(ids)
    }

    /// Halts each monitor and pairs it with the health it was halted in. On a failure
    /// the ones already halted are handed back before the error is returned.
    fn halt_all(&self, monitors: &[Monitor]) -> Result<Vec<(Monitor, Health)>, CoreError> {
        let mut out = Vec::with_capacity(monitors.len());
        for m in monitors {
            match self.halt(m) {
                Ok((h, _)) => out.push((m.clone(), h)),
                Err(e) => {
                    self.hand_back(out);
                    return Err(e);
                }
            }
        }
        Ok(out)
    }

    /// Gives each monitor back to its engine with its (new or unchanged) state.
    fn hand_back(&self, items: Vec<(Monitor, Health)>) {
        for (m, h) in items {
            self.engines().of(m.kind).upsert(m, h);
        }
    }
}
