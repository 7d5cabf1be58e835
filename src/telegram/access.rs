//! Who may talk to the bots: the chat allow-list (`UPBOT_ALLOWED_CHATS`, plus chats the
//! operator named through the API, persisted), the refusal a stranger gets at most once
//! an hour, and the group rule that only creators and administrators change monitors.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use teloxide::prelude::*;
use teloxide::types::{ChatMemberKind, Message};

use super::api;
use crate::config::AllowedChats;
use crate::store::{AllowList, StoreError};

/// A chat that is not allowed is told so at most this often, whatever it sends.
pub const REFUSAL_EVERY: Duration = Duration::from_secs(3600);
/// Past this many remembered strangers, the ones told over an hour ago are forgotten.
const REFUSALS_KEPT: usize = 10_000;

/// The allow-list and the memory of which strangers were told, and when.
pub struct Access {
    allowed: AllowedChats,
    implicit: AllowList,
    /// When each refused chat was last told.
    refused: Mutex<HashMap<i64, Instant>>,
}

impl Access {
    /// The allow-list from the config; implicit allows live in the store (`implicit`).
    pub fn new(allowed: AllowedChats, implicit: AllowList) -> Self {
        Self {
            allowed,
            implicit,
            refused: Mutex::new(HashMap::new()),
        }
    }

    /// Whether the bots serve `chat`.
    pub fn is_allowed(&self, chat: i64) -> bool {
        match &self.allowed {
            AllowedChats::Any => true,
            AllowedChats::List(ids) if ids.contains(&chat) => true,
            AllowedChats::List(_) => self.implicit.contains(chat).unwrap_or_else(|e| {
                tracing::error!(chat, error = %e, "allow-list lookup failed; refusing the chat");
                false
            }),
        }
    }

    /// Allows `chat` from now on, durably (the operator named it, or it is the new id
    /// of a migrated group).
    pub async fn allow(&self, chat: i64) -> Result<(), StoreError> {
        if matches!(&self.allowed, AllowedChats::Any) || self.implicit.contains(chat)? {
            return Ok(());
        }
        self.implicit.allow(chat).await
    }

    /// Whether a refused chat is to be told now (at most once per [`REFUSAL_EVERY`];
    /// every other message of it gets nothing, so a stranger cannot make the bot spam).
    pub fn refusal_due(&self, chat: i64) -> bool {
        self.refusal_due_at(chat, Instant::now())
    }

    fn refusal_due_at(&self, chat: i64, now: Instant) -> bool {
        let mut told = self.refused.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if told.len() >= REFUSALS_KEPT {
            told.retain(|_, at| now.duration_since(*at) < REFUSAL_EVERY);
        }
        match told.get(&chat) {
            Some(at) if now.duration_since(*at) < REFUSAL_EVERY => false,
            _ => {
                told.insert(chat, now);
                true
            }
        }
    }
}

/// Whether a member with this status may change monitors.
pub fn is_admin(kind: &ChatMemberKind) -> bool {
    matches!(kind, ChatMemberKind::Owner(_) | ChatMemberKind::Administrator(_))
}

/// Whether the sender of `msg` may change monitors: anyone in a private chat; in
/// groups, creators and administrators, including an admin posting anonymously (the
/// message then comes "from" the group itself).
pub async fn can_modify(bot: &Bot, msg: &Message) -> bool {
    if msg.chat.is_private() {
        return true;
    }
    if msg.sender_chat.as_ref().is_some_and(|c| c.id == msg.chat.id) {
        return true;
    }
    let Some(user) = msg.from.as_ref() else {
        return false;
    };
    user_can_modify(bot, msg.chat.id.0, user.id.0).await
}

/// Whether `user` may change monitors in `chat` (a button press has a user, not a
/// message): anyone in their private chat with the bot; creators and administrators in
/// groups.
pub async fn user_can_modify(bot: &Bot, chat: i64, user: u64) -> bool {
    if chat > 0 {
        return true;
    }
    match api::chat_member(bot, chat, user).await {
        Ok(member) => is_admin(&member.kind),
        Err(e) => {
            tracing::warn!(chat, user, error = %e, "getChatMember failed; treating the sender as a member");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[tokio::test]
    async fn allow_list_and_implicit_allows() {
        let store = Store::temporary().unwrap();
        let a = Access::new(AllowedChats::List(vec![-1001]), store.allow_list());
        assert!(a.is_allowed(-1001));
        assert!(!a.is_allowed(-1002));
        a.allow(-1002).await.unwrap();
        assert!(a.is_allowed(-1002), "implicit allows persist in the store");
        assert!(store.chat_allowed(-1002).unwrap());
        assert!(Access::new(AllowedChats::Any, store.allow_list()).is_allowed(42));
    }

    #[test]
    fn strangers_are_told_once_an_hour() {
        let a = Access::new(AllowedChats::List(vec![]), Store::temporary().unwrap().allow_list());
        let t0 = Instant::now();
        assert!(a.refusal_due_at(5, t0));
        assert!(!a.refusal_due_at(5, t0));
        assert!(!a.refusal_due_at(5, t0 + REFUSAL_EVERY - Duration::from_secs(1)));
        assert!(a.refusal_due_at(6, t0), "each chat has its own hour");
        assert!(a.refusal_due_at(5, t0 + REFUSAL_EVERY), "told again after an hour");
        assert!(!a.refusal_due_at(5, t0 + REFUSAL_EVERY));
    }

    #[test]
    fn admin_statuses() {
        let member: ChatMemberKind = serde_json::from_value(serde_json::json!({"status": "member"})).unwrap();
        assert!(!is_admin(&member));
        let owner: ChatMemberKind =
            serde_json::from_value(serde_json::json!({"status": "creator", "is_anonymous": false})).unwrap();
        assert!(is_admin(&owner));
        let left: ChatMemberKind = serde_json::from_value(serde_json::json!({"status": "left"})).unwrap();
        assert!(!is_admin(&left));
    }
}
